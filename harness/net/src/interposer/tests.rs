//! The interposer end to end over loopback, with a 1-byte-length test framer.
//!
//! Every test drives both ends itself: the client connects through the interposer and
//! the "server" is the accepted upstream socket, so each side's view is checked
//! directly. Absence ("nothing arrived") is shown by order (a later marker frame comes
//! first) or by the live log confirming the interposer swallowed the frame, never by
//! waiting a while.

use std::future::Future;
use std::io::ErrorKind;
use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, Instant};

use hilt_core::Direction;
use hilt_wire::{Decoded, FrameMeta, Framer};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::sync::broadcast;

use super::*;
use crate::Recorder;

const LIMIT: Duration = Duration::from_secs(10);

async fn bounded<T>(f: impl Future<Output = T>) -> T {
    tokio::time::timeout(LIMIT, f)
        .await
        .expect("test exceeded its deadline")
}

/// `[len][kind][body...]`, `len` counting kind and body; a length of 0xff is invalid.
#[derive(Default)]
struct LenFramer {
    observed: Option<Arc<AtomicUsize>>,
}

impl Framer for LenFramer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        match buf.first() {
            None => Ok(Decoded::NeedMore(1)),
            Some(0xff) => Err("length 0xff is reserved".into()),
            Some(&n) => {
                let len = 1 + n as usize;
                Ok(if buf.len() >= len {
                    Decoded::Done(len, len)
                } else {
                    Decoded::NeedMore(len - buf.len())
                })
            }
        }
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        let kind = match frame.get(1) {
            Some(b'P') => "PUB",
            Some(b'A') => "ACK",
            Some(_) => "DATA",
            None => "EMPTY",
        };
        FrameMeta {
            kind,
            summary: String::from_utf8_lossy(frame.get(2..).unwrap_or_default()).into_owned(),
            problems: Vec::new(),
        }
    }

    fn observe_peer(&mut self, _frame: &[u8]) {
        if let Some(c) = &self.observed {
            c.fetch_add(1, Ordering::Relaxed);
        }
    }
}

fn framers() -> FramerFactory {
    Arc::new(|| Box::new(LenFramer::default()))
}

/// A frame of the test protocol.
fn f(kind: u8, body: &str) -> Vec<u8> {
    let mut v = vec![(1 + body.len()) as u8, kind];
    v.extend_from_slice(body.as_bytes());
    v
}

fn lo() -> SocketAddr {
    SocketAddr::from(([127, 0, 0, 1], 0))
}

struct Rig {
    h: Handle,
    client: TcpStream,
    server: TcpStream,
    rec: Recorder,
    log: broadcast::Receiver<LogEvent>,
}

async fn rig_with(rules: Vec<Rule>, framers: FramerFactory) -> Rig {
    let up = TcpListener::bind(lo()).await.unwrap();
    let rec = Recorder::new();
    let h = Interposer::start(
        lo(),
        up.local_addr().unwrap(),
        framers,
        rules,
        Some(rec.clone()),
        Some(1883),
    )
    .await
    .unwrap();
    let log = h.log();
    let client = TcpStream::connect(h.local_addr()).await.unwrap();
    let (server, _) = up.accept().await.unwrap();
    Rig {
        h,
        client,
        server,
        rec,
        log,
    }
}

async fn rig(rules: Vec<Rule>) -> Rig {
    rig_with(rules, framers()).await
}

async fn read_frame(s: &mut TcpStream) -> Vec<u8> {
    let len = s
        .read_u8()
        .await
        .expect("a frame, not the end of the stream");
    let mut v = vec![len; 1 + len as usize];
    s.read_exact(&mut v[1..]).await.unwrap();
    v
}

async fn read_frames(s: &mut TcpStream, n: usize) -> Vec<Vec<u8>> {
    let mut out = Vec::new();
    for _ in 0..n {
        out.push(read_frame(s).await);
    }
    out
}

/// Waits for the first log entry `pred` accepts.
async fn wait_log(log: &mut broadcast::Receiver<LogEvent>, pred: impl Fn(&LogEvent) -> bool) {
    loop {
        match log.recv().await {
            Ok(ev) if pred(&ev) => return,
            Ok(_) => {}
            Err(e) => panic!("log ended: {e}"),
        }
    }
}

fn swallowed(dir: Direction) -> impl Fn(&LogEvent) -> bool {
    move |ev| matches!(ev, LogEvent::Frame { dir: d, taken, .. } if *d == dir && taken.contains(&Taken::Swallowed))
}

fn assert_nothing_readable(s: &TcpStream) {
    let mut b = [0; 16];
    match s.try_read(&mut b) {
        Err(e) if e.kind() == ErrorKind::WouldBlock => {}
        other => panic!("expected nothing to read, got {other:?}"),
    }
}

fn to_server(m: Match, a: Action) -> Rule {
    Rule::new(Dir::ToServer, m, a)
}

fn to_client(m: Match, a: Action) -> Rule {
    Rule::new(Dir::ToClient, m, a)
}

fn leg_bytes(rec: &Recorder, leg: Option<u32>, dir: Direction) -> Vec<Vec<u8>> {
    let leg = leg.expect("recorded");
    rec.chunks()
        .into_iter()
        .filter(|c| c.conn == leg && c.dir == dir)
        .map(|c| c.bytes)
        .collect()
}

#[tokio::test]
async fn relays_both_ways_records_both_legs_and_propagates_fin() {
    bounded(async {
        let observed = Arc::new(AtomicUsize::new(0));
        let o = observed.clone();
        let factory: FramerFactory = Arc::new(move || {
            Box::new(LenFramer {
                observed: Some(o.clone()),
            })
        });
        let mut r = rig_with(
            vec![to_client(
                Match::kind("ACK"),
                Action::Patch {
                    offset: 2,
                    bytes: b"K".to_vec(),
                },
            )],
            factory,
        )
        .await;

        r.client.write_all(&f(b'P', "hi")).await.unwrap();
        assert_eq!(read_frame(&mut r.server).await, f(b'P', "hi"));
        r.server.write_all(&f(b'A', "ok")).await.unwrap();
        assert_eq!(read_frame(&mut r.client).await, f(b'A', "Kk"));

        // FIN from the client reaches the server; the other way still works.
        r.client.shutdown().await.unwrap();
        let mut b = [0; 8];
        assert_eq!(r.server.read(&mut b).await.unwrap(), 0);
        r.server.write_all(&f(b'D', "late")).await.unwrap();
        assert_eq!(read_frame(&mut r.client).await, f(b'D', "late"));
        r.server.shutdown().await.unwrap();
        assert_eq!(r.client.read(&mut b).await.unwrap(), 0);

        let legs = r.h.connections();
        assert_eq!(legs.len(), 1);
        let l = legs[0];
        assert_eq!(r.rec.conns().len(), 2);
        assert_eq!(
            leg_bytes(&r.rec, l.client_leg, Direction::Sent),
            [f(b'P', "hi")]
        );
        assert_eq!(
            leg_bytes(&r.rec, l.upstream_leg, Direction::Sent),
            [f(b'P', "hi")]
        );
        // The server's original and the client's patched copy are both kept.
        assert_eq!(
            leg_bytes(&r.rec, l.upstream_leg, Direction::Received),
            [f(b'A', "ok"), f(b'D', "late")]
        );
        assert_eq!(
            leg_bytes(&r.rec, l.client_leg, Direction::Received),
            [f(b'A', "Kk"), f(b'D', "late")]
        );
        let conns = r.rec.conns();
        let up = conns[l.upstream_leg.unwrap() as usize];
        assert_eq!(up.peer, r.server.local_addr().unwrap());
        assert_eq!(up.well_known_port, Some(1883));
        assert!(up.closed_by_peer_us.is_some(), "the server closed its side");
        assert!(
            conns[l.client_leg.unwrap() as usize]
                .closed_by_peer_us
                .is_some()
        );

        let s = r.h.stats();
        assert_eq!(s.connections, 1);
        assert_eq!((s.to_server.frames, s.to_server.mutated), (1, 0));
        assert_eq!((s.to_client.frames, s.to_client.mutated), (2, 1));
        // Each framer saw the other direction's frames.
        assert_eq!(observed.load(Ordering::Relaxed), 3);
    })
    .await;
}

#[tokio::test]
async fn drop_by_kind() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::kind("PUB"), Action::Drop)]).await;
        r.client
            .write_all(&[f(b'P', "1"), f(b'D', "2")].concat())
            .await
            .unwrap();
        assert_eq!(read_frame(&mut r.server).await, f(b'D', "2"));
        assert_eq!(r.h.stats().to_server.dropped, 1);
    })
    .await;
}

#[tokio::test]
async fn nth_count_and_after() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::Any, Action::Drop).nth(2)]).await;
        for i in 1..=4 {
            r.client.write_all(&f(b'D', &i.to_string())).await.unwrap();
        }
        assert_eq!(
            read_frames(&mut r.server, 3).await,
            [f(b'D', "1"), f(b'D', "3"), f(b'D', "4")]
        );

        let mut r = rig(vec![
            to_server(Match::kind("PUB"), Action::Drop)
                .after(1)
                .count(2),
        ])
        .await;
        for i in 1..=4 {
            r.client.write_all(&f(b'P', &i.to_string())).await.unwrap();
        }
        r.client.write_all(&f(b'D', "5")).await.unwrap();
        assert_eq!(
            read_frames(&mut r.server, 3).await,
            [f(b'P', "1"), f(b'P', "4"), f(b'D', "5")]
        );
    })
    .await;
}

#[tokio::test]
async fn delay_holds_the_frame_and_those_behind_it() {
    bounded(async {
        const D: Duration = Duration::from_millis(300);
        let mut r = rig(vec![to_client(Match::kind("ACK"), Action::Delay(D))]).await;
        let t0 = Instant::now();
        r.server.write_all(&f(b'A', "slow")).await.unwrap();
        r.server.write_all(&f(b'D', "behind")).await.unwrap();
        assert_eq!(read_frame(&mut r.client).await, f(b'A', "slow"));
        assert!(t0.elapsed() >= D, "arrived after {:?}", t0.elapsed());
        assert_eq!(read_frame(&mut r.client).await, f(b'D', "behind"));
        // The other direction is not held up.
        let t1 = Instant::now();
        r.client.write_all(&f(b'D', "up")).await.unwrap();
        assert_eq!(read_frame(&mut r.server).await, f(b'D', "up"));
        assert!(t1.elapsed() < D);
        assert_eq!(r.h.stats().to_client.delayed, 1);
    })
    .await;
}

#[tokio::test]
async fn duplicate_corrupt_patch_rewrite() {
    bounded(async {
        let mut r = rig(vec![
            to_server(Match::kind("PUB"), Action::Duplicate),
            to_server(
                Match::kind("DATA"),
                Action::Corrupt {
                    offset: 2,
                    xor: 0x20,
                },
            ),
            to_server(
                Match::kind("ACK"),
                Action::Patch {
                    offset: 3,
                    bytes: b"XY".to_vec(),
                },
            ),
            to_client(
                Match::Any,
                Action::rewrite(|fr| {
                    let mut v = fr.to_vec();
                    v.extend_from_slice(b"!!");
                    v[0] += 2;
                    v
                }),
            ),
        ])
        .await;
        r.client.write_all(&f(b'P', "x")).await.unwrap();
        r.client.write_all(&f(b'D', "abc")).await.unwrap();
        r.client.write_all(&f(b'A', "abc")).await.unwrap();
        assert_eq!(
            read_frames(&mut r.server, 4).await,
            [f(b'P', "x"), f(b'P', "x"), f(b'D', "Abc"), f(b'A', "aXY"),]
        );
        r.server.write_all(&f(b'D', "hey")).await.unwrap();
        assert_eq!(read_frame(&mut r.client).await, f(b'D', "hey!!"));
        let s = r.h.stats();
        assert_eq!((s.to_server.duplicated, s.to_server.mutated), (1, 2));
        assert_eq!(s.to_client.mutated, 1);
    })
    .await;
}

#[tokio::test]
async fn split_arrives_in_several_reads() {
    bounded(async {
        let mut r = rig(vec![to_server(
            Match::Any,
            Action::Split { at: vec![1, 3] },
        )])
        .await;
        let frame = f(b'P', "abcd");
        r.client.write_all(&frame).await.unwrap();
        let mut got = Vec::new();
        let mut reads = 0;
        while got.len() < frame.len() {
            let mut b = [0; 64];
            let n = r.server.read(&mut b).await.unwrap();
            assert_ne!(n, 0);
            got.extend_from_slice(&b[..n]);
            reads += 1;
        }
        assert_eq!(got, frame);
        assert!(reads >= 2, "one read: the split did not show");
        let l = r.h.connections()[0];
        assert_eq!(
            leg_bytes(&r.rec, l.upstream_leg, Direction::Sent),
            [&frame[..1], &frame[1..3], &frame[3..]]
        );
    })
    .await;
}

#[tokio::test]
async fn reorder_sends_after_the_next() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::Any, Action::Reorder).nth(1)]).await;
        for i in 1..=3 {
            r.client.write_all(&f(b'D', &i.to_string())).await.unwrap();
        }
        assert_eq!(
            read_frames(&mut r.server, 3).await,
            [f(b'D', "2"), f(b'D', "1"), f(b'D', "3")]
        );
    })
    .await;
}

#[tokio::test]
async fn reorder_held_frame_is_flushed_before_fin() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::Any, Action::Reorder)]).await;
        r.client.write_all(&f(b'D', "1")).await.unwrap();
        r.client.shutdown().await.unwrap();
        assert_eq!(read_frame(&mut r.server).await, f(b'D', "1"));
        assert_eq!(r.server.read(&mut [0; 4]).await.unwrap(), 0);
    })
    .await;
}

#[tokio::test]
async fn stall_swallows_one_direction_only() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::kind("PUB"), Action::Stall)]).await;
        r.client
            .write_all(&[f(b'D', "1"), f(b'P', "2"), f(b'D', "3")].concat())
            .await
            .unwrap();
        assert_eq!(read_frame(&mut r.server).await, f(b'D', "1"));
        wait_log(&mut r.log, swallowed(Direction::Sent)).await;
        assert_nothing_readable(&r.server);
        r.server.write_all(&f(b'A', "still")).await.unwrap();
        assert_eq!(read_frame(&mut r.client).await, f(b'A', "still"));
        // A stalled direction passes nothing, not even its end.
        r.client.shutdown().await.unwrap();
        wait_log(
            &mut r.log,
            |e| matches!(e, LogEvent::Closed { how, .. } if how.contains("client")),
        )
        .await;
        assert_nothing_readable(&r.server);
        assert_eq!(r.h.stats().to_server.dropped, 2);
    })
    .await;
}

#[tokio::test]
async fn inject_before_and_after() {
    bounded(async {
        let mut r = rig(vec![
            to_server(Match::kind("PUB"), Action::InjectBefore(f(b'D', "before"))),
            to_server(Match::kind("PUB"), Action::InjectAfter(f(b'D', "after"))),
        ])
        .await;
        r.client.write_all(&f(b'P', "x")).await.unwrap();
        assert_eq!(
            read_frames(&mut r.server, 3).await,
            [f(b'D', "before"), f(b'P', "x"), f(b'D', "after")]
        );
    })
    .await;
}

#[tokio::test]
async fn close_fin_reaches_both_peers() {
    bounded(async {
        let mut r = rig(vec![to_client(
            Match::kind("ACK"),
            Action::Close(CloseKind::Fin),
        )])
        .await;
        r.server
            .write_all(&[f(b'D', "1"), f(b'A', "2")].concat())
            .await
            .unwrap();
        assert_eq!(read_frame(&mut r.client).await, f(b'D', "1"));
        let mut b = [0; 8];
        assert_eq!(r.client.read(&mut b).await.unwrap(), 0, "client sees FIN");
        assert_eq!(r.server.read(&mut b).await.unwrap(), 0, "server sees FIN");
        let l = r.h.connections()[0];
        let conns = r.rec.conns();
        assert!(
            conns[l.client_leg.unwrap() as usize]
                .closed_by_peer_us
                .is_some()
        );
        assert!(
            conns[l.upstream_leg.unwrap() as usize]
                .closed_by_peer_us
                .is_none()
        );
    })
    .await;
}

#[tokio::test]
async fn close_rst_resets_both_peers() {
    bounded(async {
        let mut r = rig(vec![
            to_server(Match::Any, Action::Close(CloseKind::Rst)).after(1),
        ])
        .await;
        r.client.write_all(&f(b'D', "ok")).await.unwrap();
        assert_eq!(read_frame(&mut r.server).await, f(b'D', "ok"));
        r.client.write_all(&f(b'P', "boom")).await.unwrap();
        let mut b = [0; 8];
        let e = r
            .client
            .read(&mut b)
            .await
            .expect_err("client sees a reset");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        let e = r
            .server
            .read(&mut b)
            .await
            .expect_err("server sees a reset");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    })
    .await;
}

#[tokio::test]
async fn black_hole_keeps_sockets_open_and_silent() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::kind("PUB"), Action::Close(CloseKind::BlackHole))]).await;
        r.client.write_all(&f(b'P', "in")).await.unwrap();
        wait_log(&mut r.log, |e| {
            matches!(e, LogEvent::Frame { taken, .. } if taken.contains(&Taken::Closed(CloseKind::BlackHole)))
        })
        .await;
        r.server.write_all(&f(b'A', "lost")).await.unwrap();
        wait_log(&mut r.log, swallowed(Direction::Received)).await;
        r.client.write_all(&f(b'D', "lost too")).await.unwrap();
        wait_log(&mut r.log, swallowed(Direction::Sent)).await;
        assert_nothing_readable(&r.client);
        assert_nothing_readable(&r.server);
        // Not even the client's close gets through.
        r.client.shutdown().await.unwrap();
        wait_log(&mut r.log, |e| matches!(e, LogEvent::Closed { how, .. } if how.contains("client"))).await;
        assert_nothing_readable(&r.server);
    })
    .await;
}

#[tokio::test]
async fn reset_from_the_server_becomes_a_reset_to_the_client() {
    bounded(async {
        let mut r = rig(vec![]).await;
        r.client.write_all(&f(b'D', "x")).await.unwrap();
        assert_eq!(read_frame(&mut r.server).await, f(b'D', "x"));
        r.server.set_zero_linger().unwrap();
        drop(r.server);
        let e = r.client.read(&mut [0; 8]).await.expect_err("a reset");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
        let l = r.h.connections()[0];
        assert!(
            r.rec.conns()[l.upstream_leg.unwrap() as usize]
                .closed_by_peer_us
                .is_some()
        );
    })
    .await;
}

#[tokio::test]
async fn reset_from_the_client_becomes_a_reset_to_the_server() {
    bounded(async {
        let mut r = rig(vec![]).await;
        r.client.set_zero_linger().unwrap();
        drop(r.client);
        let e = r.server.read(&mut [0; 8]).await.expect_err("a reset");
        assert_eq!(e.kind(), ErrorKind::ConnectionReset);
    })
    .await;
}

#[tokio::test]
async fn unframeable_bytes_go_through_opaque_and_untouched() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::Any, Action::Drop)]).await;
        let junk = [0xff, 1, 2, 3];
        r.client.write_all(&junk).await.unwrap();
        let mut got = [0; 4];
        r.server.read_exact(&mut got).await.unwrap();
        assert_eq!(got, junk);
        // The direction stays opaque: rules no longer apply, even to good frames.
        r.client.write_all(&f(b'P', "x")).await.unwrap();
        let mut got = [0; 3];
        r.server.read_exact(&mut got).await.unwrap();
        assert_eq!(got.to_vec(), f(b'P', "x"));
        wait_log(
            &mut r.log,
            |e| matches!(e, LogEvent::Opaque { reason, .. } if reason.contains("0xff")),
        )
        .await;
        assert_eq!(r.h.stats().to_server.opaque_chunks, 2);
    })
    .await;
}

#[tokio::test]
async fn rules_can_be_replaced_while_running() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::Any, Action::Drop)]).await;
        r.client.write_all(&f(b'D', "1")).await.unwrap();
        wait_log(
            &mut r.log,
            |e| matches!(e, LogEvent::Frame { taken, .. } if taken.contains(&Taken::Dropped)),
        )
        .await;
        r.h.set_rules(parse_fault_script("to-server * patch 2 0x41").unwrap());
        r.client.write_all(&f(b'D', "2")).await.unwrap();
        assert_eq!(read_frame(&mut r.server).await, f(b'D', "A"));
    })
    .await;
}

#[tokio::test]
async fn the_log_names_frames_and_actions() {
    bounded(async {
        let mut r = rig(vec![to_server(Match::kind("pub"), Action::Duplicate)]).await;
        r.client.write_all(&f(b'P', "topic")).await.unwrap();
        let mut line = None;
        while line.is_none() {
            if let ev @ LogEvent::Frame { .. } = r.log.recv().await.unwrap() {
                line = Some(ev.to_string());
            }
        }
        let line = line.unwrap();
        assert!(
            line.contains("#0 C->S PUB topic (7 B) [duplicated]"),
            "{line}"
        );
    })
    .await;
}

#[tokio::test]
async fn stop_ends_relays_and_listener() {
    bounded(async {
        let mut r = rig(vec![]).await;
        let addr = r.h.local_addr();
        r.h.stop();
        let mut b = [0; 4];
        // Torn down: end of stream (or a reset if bytes were pending).
        assert!(matches!(r.client.read(&mut b).await, Ok(0) | Err(_)));
        assert!(TcpStream::connect(addr).await.is_err());
    })
    .await;
}

#[tokio::test]
async fn unreachable_upstream_resets_the_client() {
    bounded(async {
        // A port that was free a moment ago: nothing listens there.
        let closed = TcpListener::bind(lo()).await.unwrap().local_addr().unwrap();
        let h = Interposer::start(lo(), closed, framers(), vec![], None, None)
            .await
            .unwrap();
        let mut c = TcpStream::connect(h.local_addr()).await.unwrap();
        assert!(matches!(c.read(&mut [0; 4]).await, Ok(0) | Err(_)));
    })
    .await;
}

#[tokio::test]
async fn run_proxy_logs_until_told_to_stop() {
    bounded(async {
        // An echo server upstream.
        let up = TcpListener::bind(lo()).await.unwrap();
        let upstream = up.local_addr().unwrap();
        tokio::spawn(async move {
            let (mut s, _) = up.accept().await.unwrap();
            let (mut rd, mut wr) = s.split();
            let _ = tokio::io::copy(&mut rd, &mut wr).await;
        });
        let (addr_tx, addr_rx) = tokio::sync::oneshot::channel();
        let (stop_tx, stop_rx) = tokio::sync::oneshot::channel::<()>();
        let lines = Arc::new(std::sync::Mutex::new(Vec::new()));
        let l2 = lines.clone();
        let mut addr_tx = Some(addr_tx);
        let rules = parse_fault_script("to-client * corrupt 2 0x20").unwrap();
        let proxy = tokio::spawn(run_proxy_until(
            crate::Transport::Tcp,
            lo(),
            upstream,
            framers(),
            rules,
            move |line| {
                if let ProxyLogLine::Listening { local, .. } = &line
                    && let Some(tx) = addr_tx.take()
                {
                    let _ = tx.send(*local);
                }
                l2.lock().unwrap().push(line.to_string());
            },
            async {
                let _ = stop_rx.await;
            },
        ));
        let mut c = TcpStream::connect(addr_rx.await.unwrap()).await.unwrap();
        c.write_all(&f(b'D', "echo")).await.unwrap();
        assert_eq!(read_frame(&mut c).await, f(b'D', "Echo"));
        stop_tx.send(()).unwrap();
        let stats = proxy.await.unwrap().unwrap();
        assert_eq!((stats.to_server.frames, stats.to_client.mutated), (1, 1));
        let lines = lines.lock().unwrap();
        assert!(lines[0].starts_with("listening on 127.0.0.1:"), "{lines:?}");
        assert!(
            lines
                .iter()
                .any(|l| l.contains("S->C DATA echo (6 B) [corrupted at 2]")),
            "{lines:?}"
        );
        assert!(
            lines
                .last()
                .unwrap()
                .starts_with("stopped after 1 connections"),
            "{lines:?}"
        );
    })
    .await;
}

/// Where a `mosquitto` binary is, if anywhere (it lives in sbin, often off PATH).
fn find_mosquitto() -> Option<std::path::PathBuf> {
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(["/usr/sbin".into(), "/usr/local/sbin".into()])
        .map(|d| d.join("mosquitto"))
        .find(|p| p.is_file())
}

/// A negative control as the suites use it: a real broker whose CONNACK is made to
/// refuse the client (return code 5), while the recording keeps the broker's original.
#[tokio::test]
async fn mosquitto_connack_patched() {
    let Some(bin) = find_mosquitto() else {
        eprintln!("skipped: no mosquitto binary on PATH or in /usr/sbin");
        return;
    };
    let dir = tempfile::tempdir().unwrap();
    // Free a port for the broker; the tiny window before mosquitto binds it is accepted.
    let port = std::net::TcpListener::bind(lo())
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let conf = dir.path().join("mosquitto.conf");
    std::fs::write(
        &conf,
        format!("listener {port} 127.0.0.1\nallow_anonymous true\n"),
    )
    .unwrap();
    let mut broker = tokio::process::Command::new(&bin)
        .arg("-c")
        .arg(&conf)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .kill_on_drop(true)
        .spawn()
        .expect("start mosquitto");
    let upstream = SocketAddr::from(([127, 0, 0, 1], port));

    bounded(async {
        // Ready when it accepts a connection.
        loop {
            if TcpStream::connect(upstream).await.is_ok() {
                break;
            }
            if let Ok(Some(status)) = broker.try_wait() {
                panic!("mosquitto exited early: {status}");
            }
            tokio::time::sleep(Duration::from_millis(20)).await;
        }

        let rec = Recorder::new();
        let rules = parse_fault_script("to-client CONNACK patch 3 0x05").unwrap();
        let mqtt: FramerFactory = Arc::new(|| Box::new(hilt_wire::mqtt::MqttFramer::new()));
        let h = Interposer::start(lo(), upstream, mqtt, rules, Some(rec.clone()), Some(1883))
            .await
            .unwrap();
        let mut log = h.log();
        let mut c = TcpStream::connect(h.local_addr()).await.unwrap();
        // CONNECT, MQTT 3.1.1, clean session, keep-alive 60 s, empty client id.
        let connect = [0x10, 12, 0, 4, b'M', b'Q', b'T', b'T', 4, 2, 0, 60, 0, 0];
        c.write_all(&connect).await.unwrap();
        let mut connack = [0; 4];
        c.read_exact(&mut connack).await.unwrap();
        assert_eq!(connack, [0x20, 2, 0, 5], "return code patched to 5");

        wait_log(&mut log, |e| {
            matches!(e, LogEvent::Frame { dir: Direction::Received, meta, taken, .. }
                if meta.kind == "CONNACK" && taken.contains(&Taken::Patched { offset: 3 }))
        })
        .await;
        let l = h.connections()[0];
        assert_eq!(
            leg_bytes(&rec, l.upstream_leg, Direction::Received),
            [vec![0x20, 2, 0, 0]]
        );
        assert_eq!(
            leg_bytes(&rec, l.client_leg, Direction::Received),
            [vec![0x20, 2, 0, 5]]
        );
        assert_eq!(
            leg_bytes(&rec, l.upstream_leg, Direction::Sent),
            [connect.to_vec()]
        );
    })
    .await;
    let _ = broker.kill().await;
}
