//! The console suite: a device's shell on its console line, as hilt's device contract
//! (targets/firmware/README.md) describes it. The boot banner, the `version` and `help`
//! commands, the error lines for an unknown command and an over-long line, and `reset`
//! rebooting the device with a fresh banner (and the device joining hilt's DODAG again).
//!
//! The target is a device on a rig (a target file with `launch.rig`) that declares
//! `console.shell` (and `console.reset` for the reset test); its file's `device.speaks`
//! names `console`. Lines starting `log ` are the device's asynchronous events and are
//! not answers. Console tests run alone on the device (exclusive): answers of two
//! commands at once could not be told apart, and a reset takes the device away.
//!
//! Each test's negative control mutates the console line stream as hilt reads it (the
//! line the test judges is rewritten, or dropped), as a device breaking the contract
//! would print it; the test must then fail. The packets that crossed the device's link
//! during a test are its trace.

use std::sync::Arc;
use std::time::Duration;

use hilt_core::SpecRef;
use hilt_net::serial::Console;
use hilt_runner::{Control, Ctx, Failure, Outcome, Suite, TestCase, Transport, UnderTest};
use hilt_wire::framing::{Decoded, FrameMeta, Framer};

pub const SUITE: &str = "console";

/// The device contract's console rules, by hilt's id.
const CONTRACT: &str = "hilt-device-console";

const fn rule(id: &'static str) -> SpecRef {
    SpecRef::new(CONTRACT, id)
}

/// How long a command's answer may take: the shell answers within a main-loop turn,
/// the rest is the 115200-baud line and a loaded host.
const ANSWER: Duration = Duration::from_secs(3);
/// From `reset` to the fresh banner and `ready` (QEMU: ~0.1 s; the rig files give
/// boards 5 s to boot).
const REBOOT: Duration = Duration::from_secs(5);

const BANNER: &str = r"^hilt-fw \S+ board=\S+ id=\d+$";

/// What a negative control does to each console line the test reads: `None` drops it.
type Mutation = fn(&str) -> Option<String>;

/// Console lines as the test sees them: the device's, or (in a control run) mutated.
struct Lines {
    console: Console,
    mutation: Option<Mutation>,
    seen: Vec<String>,
}

impl Lines {
    async fn open(ctx: &Ctx, mutation: Mutation) -> Result<(Self, Vec<String>), Failure> {
        let (console, transcript) = ctx.rig_console().await?;
        let mutation = ctx.is_control_run().then_some(mutation);
        let transcript = match mutation {
            Some(m) => transcript.iter().filter_map(|l| m(l)).collect(),
            None => transcript,
        };
        Ok((
            Lines {
                console,
                mutation,
                seen: Vec::new(),
            },
            transcript,
        ))
    }

    fn send(&self, command: &str) -> Result<(), Failure> {
        self.console
            .send_line(command)
            .map_err(|e| Failure::error(format!("cannot write to the console: {e}")))
    }

    /// The next line that is not an asynchronous `log` event, or `None` at `wait`.
    async fn answer(&mut self, wait: Duration) -> Result<Option<String>, Failure> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            let line = self
                .console
                .next_line(left)
                .await
                .map_err(|e| Failure::error(format!("the console closed: {e}")))?;
            let Some(line) = line else {
                return Ok(None);
            };
            let line = match self.mutation {
                Some(m) => match m(&line) {
                    Some(l) => l,
                    None => continue,
                },
                None => line,
            };
            self.seen.push(line.clone());
            if !line.starts_with("log ") {
                return Ok(Some(line));
            }
        }
    }

    /// Waits for a line matching `re`, keeping every line seen.
    async fn until(
        &mut self,
        re: &regex::Regex,
        wait: Duration,
    ) -> Result<Option<String>, Failure> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            let left = deadline.saturating_duration_since(tokio::time::Instant::now());
            match self.answer(left).await? {
                Some(l) if re.is_match(&l) => return Ok(Some(l)),
                Some(_) => {}
                None => return Ok(None),
            }
        }
    }

    fn seen(&self) -> String {
        if self.seen.is_empty() {
            "nothing".into()
        } else {
            format!("{:?}", self.seen)
        }
    }
}

fn regex(s: &str) -> regex::Regex {
    regex::Regex::new(s).expect("a literal pattern")
}

/// Runs `body` with the link's packets of its time as the test's trace.
async fn traced<F, Fut>(ctx: Ctx, body: F) -> Outcome
where
    F: FnOnce(Ctx) -> Fut,
    Fut: std::future::Future<Output = Outcome>,
{
    let since = wall_us();
    let outcome = body(ctx.clone()).await;
    ctx.record_rig_link(since).await;
    outcome
}

fn wall_us() -> u64 {
    std::time::SystemTime::now()
        .duration_since(std::time::UNIX_EPOCH)
        .map(|d| u64::try_from(d.as_micros()).unwrap_or(u64::MAX))
        .unwrap_or(0)
}

fn case<F, Fut>(
    id: &str,
    title: &str,
    covers: &[SpecRef],
    needs: &[&'static str],
    control: (&str, Mutation),
    body: F,
) -> TestCase
where
    F: Fn(Ctx, Mutation) -> Fut + Send + Sync + Copy + 'static,
    Fut: std::future::Future<Output = Outcome> + Send + 'static,
{
    let mutation = control.1;
    TestCase::new(SUITE, format!("console.{id}"), title, move |ctx| {
        traced(ctx, move |ctx| body(ctx, mutation))
    })
    .covers(covers)
    .needs(needs)
    .exclusive()
    // The reset test's bound: the reboot, then the rig's join (30 s for QEMU's).
    .timeout(REBOOT + Duration::from_secs(40))
    .control(Control::new(control.0, Vec::new))
}

pub fn suite() -> Suite {
    let cases = vec![
        case(
            "banner.boot",
            "the first console line after boot is the banner `hilt-fw <version> board=<board> id=<n>`, followed by `ready`",
            &[rule("banner"), rule("ready")],
            &["console.shell"],
            ("the banner lacks its board= field", |l| {
                Some(regex(r" board=\S+").replace(l, "").into_owned())
            }),
            |ctx, m| async move {
                let (_lines, transcript) = Lines::open(&ctx, m).await?;
                let first: Vec<&String> = transcript
                    .iter()
                    .filter(|l| !l.starts_with("log "))
                    .take(2)
                    .collect();
                let banner = first.first().map(|s| s.as_str()).unwrap_or("");
                ctx.ensure(regex(BANNER).is_match(banner), rule("banner"), || {
                    format!("the first console line is {banner:?}, not `hilt-fw <version> board=<board> id=<n>`")
                })?;
                let next = first.get(1).map(|s| s.as_str());
                ctx.ensure(next == Some("ready"), rule("ready"), || {
                    format!("the line after the banner is {next:?}, not `ready`")
                })?;
                ctx.note(format!("banner: {banner}"));
                Ok(())
            },
        ),
        case(
            "shell.version",
            "`version` is answered with the boot banner again",
            &[rule("version")],
            &["console.shell"],
            ("the version answer carries another version", |l| {
                Some(match l.strip_prefix("hilt-fw ") {
                    Some(rest) => format!(
                        "hilt-fw 9.9.9-mutated {}",
                        rest.split_once(' ').map_or("", |r| r.1)
                    ),
                    None => l.to_owned(),
                })
            }),
            |ctx, m| async move {
                let (transcript_banner, mut lines) = {
                    // The boot banner as the device printed it (never mutated: the
                    // control mutates only the answer).
                    let (_, t) = ctx.rig_console().await?;
                    let b = t.into_iter().find(|l| regex(BANNER).is_match(l));
                    (b, Lines::open(&ctx, m).await?.0)
                };
                let banner = transcript_banner
                    .ok_or_else(|| Failure::error("the device printed no banner at boot"))?;
                lines.send("version")?;
                let answer = lines.answer(ANSWER).await?;
                ctx.ensure(
                    answer.as_deref() == Some(banner.as_str()),
                    rule("version"),
                    || {
                        format!(
                            "`version` was answered {}, not the boot banner {banner:?}",
                            lines.seen()
                        )
                    },
                )?;
                Ok(())
            },
        ),
        case(
            "shell.help",
            "`help` lists the commands, among them version and reset",
            &[rule("help")],
            &["console.shell"],
            ("the help line omits reset", |l| {
                Some(l.replace(" reset", ""))
            }),
            |ctx, m| async move {
                let (mut lines, _) = Lines::open(&ctx, m).await?;
                lines.send("help")?;
                let answer = lines.answer(ANSWER).await?.unwrap_or_default();
                let words: Vec<&str> = answer
                    .strip_prefix("commands: ")
                    .unwrap_or_default()
                    .split_whitespace()
                    .collect();
                let missing: Vec<&str> = ["help", "version", "reset"]
                    .into_iter()
                    .filter(|c| !words.contains(c))
                    .collect();
                ctx.ensure(missing.is_empty(), rule("help"), || {
                    format!(
                        "`help` was answered {}: `commands: …` lacks {missing:?}",
                        lines.seen()
                    )
                })
            },
        ),
        case(
            "shell.unknown-command",
            "an unknown command is answered `error unknown command`, and the shell goes on answering",
            &[rule("unknown-command")],
            &["console.shell"],
            ("the error line is replaced by `ok`", |l| {
                Some(if l.starts_with("error ") {
                    "ok".into()
                } else {
                    l.to_owned()
                })
            }),
            |ctx, m| async move {
                let (mut lines, _) = Lines::open(&ctx, m).await?;
                lines.send("frobnicate 42")?;
                let answer = lines.answer(ANSWER).await?;
                ctx.ensure(
                    answer.as_deref() == Some("error unknown command"),
                    rule("unknown-command"),
                    || {
                        format!(
                            "`frobnicate 42` was answered {}, not `error unknown command`",
                            lines.seen()
                        )
                    },
                )?;
                lines.send("version")?;
                let after = lines.answer(ANSWER).await?;
                ctx.ensure(
                    after.as_deref().is_some_and(|l| regex(BANNER).is_match(l)),
                    rule("unknown-command"),
                    || {
                        format!(
                            "after the unknown command, `version` was answered {}",
                            lines.seen()
                        )
                    },
                )
            },
        ),
        case(
            "shell.line-too-long",
            "a command line over 64 bytes is answered `error line too long`",
            &[rule("line-too-long")],
            &["console.shell"],
            ("the error line is dropped", |l| {
                (!l.starts_with("error ")).then(|| l.to_owned())
            }),
            |ctx, m| async move {
                let (mut lines, _) = Lines::open(&ctx, m).await?;
                lines.send(&"x".repeat(100))?;
                let answer = lines.answer(ANSWER).await?;
                ctx.ensure(
                    answer.as_deref() == Some("error line too long"),
                    rule("line-too-long"),
                    || {
                        format!(
                            "a 100-byte line was answered {}, not `error line too long`",
                            lines.seen()
                        )
                    },
                )
            },
        ),
        case(
            "shell.reset",
            "`reset` is answered `resetting`, the device boots again (a fresh banner, then `ready`) and joins hilt's DODAG again",
            &[rule("reset")],
            &["console.shell", "console.reset"],
            ("the device prints no banner after the reset", |l| {
                (!regex(BANNER).is_match(l)).then(|| l.to_owned())
            }),
            |ctx, m| async move {
                let joined_before = ctx.rig_joined_at().await;
                let (mut lines, _) = Lines::open(&ctx, m).await?;
                lines.send("reset")?;
                let answer = lines.answer(ANSWER).await?;
                ctx.ensure(
                    answer.as_deref() == Some("resetting"),
                    rule("reset"),
                    || format!("`reset` was answered {}, not `resetting`", lines.seen()),
                )?;
                let t = std::time::Instant::now();
                let banner = lines.until(&regex(BANNER), REBOOT).await?;
                ctx.ensure(banner.is_some(), rule("reset"), || {
                    format!(
                        "no fresh banner within {REBOOT:?} of `resetting`; the console printed {}",
                        lines.seen()
                    )
                })?;
                let ready = lines.answer(REBOOT).await?;
                ctx.ensure(ready.as_deref() == Some("ready"), rule("ready"), || {
                    format!(
                        "after the fresh banner the console printed {}, not `ready`",
                        lines.seen()
                    )
                })?;
                ctx.note(format!(
                    "rebooted in {:.0} ms",
                    t.elapsed().as_secs_f64() * 1000.0
                ));
                // The device must come back for the tests after this one.
                if let Some(before) = joined_before {
                    match ctx.rig_rejoined(before).await? {
                        Some(at) => ctx.note(format!(
                            "joined the DODAG again {:.2} s after the link came up",
                            at.as_secs_f64()
                        )),
                        None => {
                            return Err(Failure::fail(
                                rule("reset"),
                                "the device did not join hilt's DODAG again after its reset",
                            ));
                        }
                    }
                }
                Ok(())
            },
        ),
    ];
    Suite {
        name: SUITE,
        protocol: "console",
        under_test: UnderTest::Client,
        well_known_port: None,
        transport: Transport::Ipv6Link,
        framer: Arc::new(|| Box::new(Ipv6Framer)),
        cases,
    }
}

/// Each recorded chunk is one IPv6 datagram of the device's link.
struct Ipv6Framer;

impl Framer for Ipv6Framer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        if buf.is_empty() {
            Ok(Decoded::NeedMore(1))
        } else {
            Ok(Decoded::Done(buf.len(), buf.len()))
        }
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        let next = frame.get(6).copied().unwrap_or(0);
        let (kind, summary) = match (next, frame.get(40).copied()) {
            (58, Some(155)) => ("RPL", "ICMPv6 RPL control message".to_owned()),
            (58, Some(t)) => ("ICMPv6", format!("ICMPv6 type {t}")),
            (17, _) => ("UDP", "UDP datagram".to_owned()),
            (0, _) => ("IPv6", "IPv6 with Hop-by-Hop options".to_owned()),
            (n, _) => ("IPv6", format!("IPv6, next header {n}")),
        };
        FrameMeta {
            kind,
            summary,
            problems: Vec::new(),
        }
    }
}
