//! Turning a test's recorded chunks into the frames reports show.

use std::collections::HashMap;

use hilt_core::{Direction, TraceFrame};
use hilt_net::Recorder;
use hilt_wire::{Decoded, Framer, FramerFactory};

struct Side {
    framer: Box<dyn Framer>,
    buf: Vec<u8>,
    /// Once the framer cannot delimit frames any more, the rest is shown as opaque.
    lost: bool,
}

/// Splits every direction of every recorded connection into frames, in time order.
pub fn dissect(recorder: &Recorder, framers: &FramerFactory) -> Vec<TraceFrame> {
    let mut sides: HashMap<(u32, bool), Side> = HashMap::new();
    let mut out = Vec::new();
    for chunk in recorder.chunks() {
        let key = (chunk.conn, chunk.dir == Direction::Sent);
        let side = sides.entry(key).or_insert_with(|| Side {
            framer: framers(),
            buf: Vec::new(),
            lost: false,
        });
        side.buf.extend_from_slice(&chunk.bytes);
        let mut complete = Vec::new();
        loop {
            if side.buf.is_empty() {
                break;
            }
            if side.lost {
                complete.push(opaque(chunk.t_us, chunk.conn, chunk.dir, &side.buf, None));
                side.buf.clear();
                break;
            }
            match side.framer.frame_len(&side.buf) {
                Ok(Decoded::Done(n, _)) if n > 0 && n <= side.buf.len() => {
                    let frame: Vec<u8> = side.buf.drain(..n).collect();
                    let meta = side.framer.describe(&frame);
                    complete.push((
                        frame.clone(),
                        TraceFrame {
                            t_us: chunk.t_us,
                            conn: chunk.conn,
                            dir: chunk.dir,
                            summary: meta.summary,
                            problems: meta.problems,
                            hex: hex(&frame),
                        },
                    ));
                }
                Ok(Decoded::Done(..)) => {
                    side.lost = true;
                }
                Ok(Decoded::NeedMore(_)) => break,
                Err(why) => {
                    side.lost = true;
                    complete.push(opaque(
                        chunk.t_us,
                        chunk.conn,
                        chunk.dir,
                        &side.buf,
                        Some(why),
                    ));
                    side.buf.clear();
                    break;
                }
            }
        }
        // The other direction's framer must see these frames even if that direction
        // has sent nothing yet: MQTT's CONNECT sets how the broker's replies parse.
        let other = (chunk.conn, chunk.dir != Direction::Sent);
        let peer = sides.entry(other).or_insert_with(|| Side {
            framer: framers(),
            buf: Vec::new(),
            lost: false,
        });
        for (bytes, frame) in complete {
            peer.framer.observe_peer(&bytes);
            out.push(frame);
        }
    }
    // Bytes left over never formed a whole frame: the stream ended inside one.
    let mut rest: Vec<_> = sides
        .into_iter()
        .filter(|(_, s)| !s.buf.is_empty())
        .collect();
    rest.sort_by_key(|(k, _)| *k);
    let end = recorder.now_us();
    for ((conn, sent), side) in rest {
        let dir = if sent {
            Direction::Sent
        } else {
            Direction::Received
        };
        let mut f = opaque(end, conn, dir, &side.buf, None).1;
        f.summary = format!(
            "incomplete frame: {} bytes before the stream ended",
            side.buf.len()
        );
        out.push(f);
    }
    out
}

fn opaque(
    t_us: u64,
    conn: u32,
    dir: Direction,
    bytes: &[u8],
    why: Option<String>,
) -> (Vec<u8>, TraceFrame) {
    (
        bytes.to_vec(),
        TraceFrame {
            t_us,
            conn,
            dir,
            summary: format!("{} undelimited bytes", bytes.len()),
            problems: why.into_iter().collect(),
            hex: hex(bytes),
        },
    )
}

fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes
        .iter()
        .fold(String::with_capacity(bytes.len() * 2), |mut s, b| {
            let _ = write!(s, "{b:02x}");
            s
        })
}
