//! Heart-beating: negotiation from the CONNECT and CONNECTED headers, the broker's own
//! heart-beats judged on deadlines from the negotiated interval, and its handling of a
//! client that beats, or goes quiet.

use std::time::Duration;

use hilt_runner::{Ctx, Failure, Outcome, TestCase};
use hilt_wire::stomp::{Command, HeartBeat, negotiate};
use tokio::time::Instant;

use super::controls::{self, Control};
use super::session::{Next, Session, connect_frame};
use super::{queue, send, st, tc};

/// Slack for scheduling on a loaded machine, on top of a negotiated interval.
fn margin(n: Duration) -> Duration {
    n / 2 + Duration::from_millis(150)
}

/// Logs in asking for `hb` (None: no header); returns the session, what the broker
/// answered and the negotiated intervals.
async fn connect_beating(
    ctx: &Ctx,
    hb: Option<HeartBeat>,
) -> Result<(Session, HeartBeat, Instant), Failure> {
    let mut connect = connect_frame();
    if let Some(hb) = hb {
        connect = connect.header("heart-beat", hb.value());
    }
    let (s, connected) = Session::connect_with(ctx, connect).await?;
    let at = Instant::now();
    let server = Session::heart_beat_of(&connected)?;
    Ok((s, server, at))
}

/// The broker sends nothing but frame padding for `quiet`: no heart-beat.
async fn no_heart_beats(ctx: Ctx, hb: Option<HeartBeat>, rule: hilt_core::SpecRef) -> Outcome {
    let (mut s, _, _) = connect_beating(&ctx, hb).await?;
    let quiet = s.response_timeout();
    let until = Instant::now() + quiet;
    // Halfway, a frame with a receipt: traffic during which heart-beats would show.
    let probe_at = Instant::now() + quiet / 2;
    let mut probed = false;
    loop {
        if !probed && Instant::now() >= probe_at {
            probed = true;
            s.send(&send(&queue(&ctx, "hbprobe"), "probe").header("receipt", "hb-probe"))
                .await?;
        }
        let left = if probed {
            until.saturating_duration_since(Instant::now())
        } else {
            probe_at.saturating_duration_since(Instant::now())
        };
        match s.next(left).await? {
            Next::HeartBeat => {
                return Err(Failure::fail(
                    rule,
                    format!(
                        "heart-beat {}: the client wants none, yet the broker sent an EOL",
                        hb.map(|h| h.value()).unwrap_or_else(|| "absent".into())
                    ),
                ));
            }
            Next::Silent if Instant::now() >= until => break,
            Next::Silent => {}
            Next::Closed => return Err(Failure::error("the broker closed the connection")),
            Next::Frame(_) => {}
        }
    }
    s.disconnect().await;
    Ok(())
}

/// The control for the "no heart-beats" tests: an EOL reaches the client just before
/// the RECEIPT of the probe, as if the broker had sent a heart-beat.
fn stray_heart_beat() -> Control {
    Control::new("the broker sends a heart-beat nobody asked for", || {
        use hilt_net::interposer::{Action, Dir, Match, Rule};
        vec![Rule::new(
            Dir::ToClient,
            Match::kind("RECEIPT"),
            Action::InjectBefore(b"\n".to_vec()),
        )]
    })
}

/// Client heart-beats every half interval for three intervals, then a SEND with a
/// receipt: the broker kept the connection and accepts EOLs (LF or CR LF) between frames.
async fn client_beats(ctx: Ctx, eol: &'static [u8]) -> Outcome {
    let (mut s, server, _) = connect_beating(&ctx, Some(HeartBeat::new(400, 0))).await?;
    let n = negotiate(HeartBeat::new(400, 0), server)
        .client_to_server
        .unwrap_or(Duration::from_millis(400));
    let end = Instant::now() + n * 3;
    while Instant::now() < end {
        s.send_raw(eol).await?;
        match s.next(n / 2).await? {
            Next::Closed => {
                return Err(Failure::fail(
                    st!("heart-beating-7"),
                    format!(
                        "the broker closed the connection although the client beat every {:?}",
                        n / 2
                    ),
                ));
            }
            Next::Frame(f) if f.command == Command::Error => {
                return Err(Failure::fail(
                    st!("heart-beating-7"),
                    format!(
                        "the broker sent {} while the client beat",
                        hilt_wire::stomp::summarize(&f)
                    ),
                ));
            }
            _ => {}
        }
    }
    let q = queue(&ctx, "hb");
    s.with_receipt(send(&q, "after heart-beats"), "hb-1")
        .await?;
    s.disconnect().await;
    Ok(())
}

pub fn tests() -> Vec<TestCase> {
    let mut t = Vec::new();
    t.push(
        tc(
            "heartbeat",
            "broker-beats-at-negotiated-interval",
            "With heart-beat:0,500 the broker sends data at least every MAX(sx,500) ms",
            |ctx: Ctx| async move {
                let asked = HeartBeat::new(0, 500);
                let (mut s, server, connected_at) = connect_beating(&ctx, Some(asked)).await?;
                let Some(n) = negotiate(asked, server).server_to_client else {
                    return Err(Failure::skip(format!(
                        "the broker cannot send heart-beats (CONNECTED heart-beat:{})",
                        server.value()
                    )));
                };
                let limit = n + margin(n);
                let watch = n * 4;
                let until = connected_at + watch;
                let mut last = connected_at;
                loop {
                    let left = until.saturating_duration_since(Instant::now());
                    let next = s.next(left.min(limit)).await?;
                    let now = Instant::now();
                    let gap = now - last;
                    match next {
                        Next::Closed => {
                            return Err(Failure::error("the broker closed the connection"));
                        }
                        Next::Silent if now < until || gap > limit => {
                            return Err(Failure::fail(
                                st!("heart-beating-4"),
                                format!(
                                    "negotiated heart-beats every {n:?} (CONNECTED heart-beat:{}), yet nothing arrived for {gap:?}",
                                    server.value()
                                ),
                            ));
                        }
                        Next::Silent => break,
                        _ => last = now,
                    }
                }
                if s.heart_beats.is_empty() {
                    return Err(Failure::fail(
                        st!("heart-beating-5"),
                        format!("no EOL heart-beat arrived in {watch:?}"),
                    ));
                }
                s.disconnect().await;
                Ok(())
            },
        )
        .covers(&[st!("heart-beating-3"), st!("heart-beating-4"), st!("heart-beating-5")])
        .control(controls::no_heart_beats_to_client(
            "the broker's heart-beats never arrive",
        )),
    );
    t.push(
        tc(
            "heartbeat",
            "none-when-client-wants-none",
            "With heart-beat:0,0 the broker sends no heart-beats",
            |ctx| no_heart_beats(ctx, Some(HeartBeat::NONE), st!("heart-beating-3")),
        )
        .covers(&[st!("heart-beating-3")])
        .control(stray_heart_beat()),
    );
    t.push(
        tc(
            "heartbeat",
            "missing-header-means-none",
            "Without a heart-beat header (0,0) the broker sends no heart-beats",
            |ctx| no_heart_beats(ctx, None, st!("heart-beating-2")),
        )
        .covers(&[st!("heart-beating-2")])
        .control(stray_heart_beat()),
    );
    for (name, eol, title) in [
        (
            "client-beats-keep-connection",
            &b"\n"[..],
            "A client beating (LF) every half interval keeps its connection, and its frames are served",
        ),
        (
            "client-crlf-beats-accepted",
            &b"\r\n"[..],
            "CR LF heart-beats are accepted like LF ones",
        ),
    ] {
        t.push(
            tc("heartbeat", name, title, move |ctx| client_beats(ctx, eol))
                .covers(&[st!("heart-beating-7"), st!("bnf-1"), st!("bnf-6")])
                .control(controls::black_hole_from_client_heart_beat(
                    "the broker stops answering once the client beats",
                ))
                .timeout(Duration::from_secs(15)),
        );
    }
    t.push(
        tc(
            "heartbeat",
            "silent-client-disconnected",
            "A client that promised heart-beats and goes quiet is disconnected, not before the interval",
            |ctx: Ctx| async move {
                let asked = HeartBeat::new(1000, 0);
                let (mut s, server, _) = connect_beating(&ctx, Some(asked)).await?;
                let Some(n) = negotiate(asked, server).client_to_server else {
                    return Err(Failure::skip(format!(
                        "the broker wants no heart-beats (CONNECTED heart-beat:{})",
                        server.value()
                    )));
                };
                // One heart-beat, then silence.
                s.send_raw(b"\n").await?;
                let quiet_from = Instant::now();
                let deadline = n * 3 + s.response_timeout();
                loop {
                    let left = (quiet_from + deadline).saturating_duration_since(Instant::now());
                    match s.next(left).await? {
                        Next::Closed => break,
                        Next::Silent => {
                            return Err(Failure::fail(
                                st!("heart-beating-6"),
                                format!(
                                    "the client promised heart-beats every {n:?} and went quiet; the broker kept the connection for {deadline:?}"
                                ),
                            ));
                        }
                        // An ERROR before the close is allowed.
                        _ => {}
                    }
                }
                let after = quiet_from.elapsed();
                if after < n {
                    return Err(Failure::fail(
                        st!("heart-beating-7"),
                        format!("the broker closed the connection {after:?} after the last heart-beat, within the {n:?} interval"),
                    ));
                }
                Ok(())
            },
        )
        .covers(&[st!("heart-beating-6"), st!("heart-beating-7")])
        .control(controls::black_hole_from_client_heart_beat(
            "the broker never notices the client went quiet",
        ))
        .timeout(Duration::from_secs(20)),
    );
    t
}
