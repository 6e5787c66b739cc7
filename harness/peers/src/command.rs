//! Running a device's command: a client program under test, started once per stimulus
//! against the address hilt gives it, its output and exit status captured, killed if
//! it is still running at its deadline.
//!
//! Nothing here knows a protocol: the command comes from a target's `device` section
//! and its placeholders from the test ([`start_command`]), besides the machine-wide
//! `{root}` and `{venv}`.

use std::collections::BTreeMap;
use std::io::Read;
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use hilt_core::target::DeviceCommand;
use nix::sys::signal::Signal;
use tokio::time::Instant;

use crate::cleanup;
use crate::error::LaunchErrorKind as Kind;
use crate::placeholder::{Unfilled, fill_with, place};
use crate::process::{find_program, signal_group};
use crate::spawn;

/// How often a running command is checked for having exited.
const POLL: Duration = Duration::from_millis(5);
/// How long a killed command's group may take to disappear.
const KILL_WAIT: Duration = Duration::from_secs(2);

/// A command that was started; [`CommandRun::finish`] waits for it.
#[derive(Debug)]
pub struct CommandRun {
    child: Child,
    pgid: i32,
    line: String,
    started: Instant,
    stdout: std::thread::JoinHandle<Vec<u8>>,
    stderr: std::thread::JoinHandle<Vec<u8>>,
}

/// How a command ended, and what it printed.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct CommandOutcome {
    /// The command line as run, placeholders filled (for messages and reports).
    pub command: String,
    /// Its exit code, when it exited by itself.
    pub exit_code: Option<i32>,
    /// The signal that ended it, when one did.
    pub signal: Option<i32>,
    /// It was still running at its deadline and hilt killed it.
    pub killed_at_deadline: bool,
    pub stdout: String,
    pub stderr: String,
    pub ran_for: Duration,
}

impl CommandOutcome {
    /// Exited by itself with status 0.
    pub fn succeeded(&self) -> bool {
        self.exit_code == Some(0)
    }

    /// One line: how it ended.
    pub fn status(&self) -> String {
        match (self.killed_at_deadline, self.exit_code, self.signal) {
            (true, _, _) => format!(
                "still running after {:.1} s, killed",
                self.ran_for.as_secs_f64()
            ),
            (_, Some(c), _) => format!("exited with {c} after {:.1} s", self.ran_for.as_secs_f64()),
            (_, _, Some(s)) => format!("ended by signal {s}"),
            _ => "ended".to_owned(),
        }
    }
}

/// Fills `cmd`'s placeholders from `values` (a name absent from it is an error) and
/// starts it in its own process group, stdin closed, stdout and stderr captured.
pub async fn start_command(
    cmd: &DeviceCommand,
    values: &BTreeMap<String, String>,
) -> Result<CommandRun, Kind> {
    let fill = |text: &str, at: String| {
        fill_with(text, |word| match values.get(word) {
            Some(v) => Ok(v.clone()),
            None => place(word).unwrap_or_else(|| {
                Err(Unfilled {
                    placeholder: word.to_owned(),
                    reason: format!(
                        "not a parameter of this stimulus (given: {}; also known: {{root}} {{venv}})",
                        values.keys().cloned().collect::<Vec<_>>().join(", ")
                    ),
                })
            }),
        })
        .map_err(|u| Kind::BadPlaceholder {
            placeholder: u.placeholder,
            location: at,
            reason: u.reason,
        })
    };
    let args = cmd
        .args
        .iter()
        .enumerate()
        .map(|(i, a)| fill(a, format!("args[{i}]")))
        .collect::<Result<Vec<_>, _>>()?;
    let env = cmd
        .env
        .iter()
        .map(|(k, v)| Ok((k.clone(), fill(v, format!("env.{k}"))?)))
        .collect::<Result<BTreeMap<_, _>, Kind>>()?;
    let program = find_program(&cmd.program)?;
    let line = std::iter::once(cmd.program.as_str())
        .chain(args.iter().map(String::as_str))
        .collect::<Vec<_>>()
        .join(" ");
    let mut command = Command::new(&program);
    command
        .args(&args)
        .envs(&env)
        .stdin(Stdio::null())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped());
    let mut child = spawn::spawn(command)
        .await
        .map_err(|e| Kind::io(format!("start `{line}`"), e))?;
    let pgid = i32::try_from(child.id()).unwrap_or(i32::MAX);
    cleanup::register(pgid);
    let drain = |pipe: Option<Box<dyn Read + Send>>| {
        std::thread::spawn(move || {
            let mut out = Vec::new();
            if let Some(mut p) = pipe {
                let _ = p.read_to_end(&mut out);
            }
            out
        })
    };
    let stdout = drain(
        child
            .stdout
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    let stderr = drain(
        child
            .stderr
            .take()
            .map(|p| Box::new(p) as Box<dyn Read + Send>),
    );
    Ok(CommandRun {
        child,
        pgid,
        line,
        started: Instant::now(),
        stdout,
        stderr,
    })
}

impl CommandRun {
    /// The command line as run.
    pub fn command(&self) -> &str {
        &self.line
    }

    /// Whether it is still running.
    pub fn is_running(&mut self) -> bool {
        matches!(self.child.try_wait(), Ok(None))
    }

    /// Waits until it exits or `deadline` passes; then kills its process group.
    pub async fn finish(mut self, deadline: Instant) -> CommandOutcome {
        let mut status = None;
        loop {
            if let Ok(Some(s)) = self.child.try_wait() {
                status = Some(s);
                break;
            }
            if Instant::now() >= deadline {
                break;
            }
            tokio::time::sleep(POLL.min(deadline.saturating_duration_since(Instant::now()))).await;
        }
        let ran_for = self.started.elapsed();
        let killed_at_deadline = status.is_none();
        // Children it left behind go too, whether it exited or not.
        let _ = signal_group(self.pgid, Signal::SIGKILL);
        if status.is_none() {
            let until = Instant::now() + KILL_WAIT;
            while Instant::now() < until {
                if let Ok(Some(s)) = self.child.try_wait() {
                    status = Some(s);
                    break;
                }
                tokio::time::sleep(POLL).await;
            }
        }
        cleanup::unregister(self.pgid);
        let text = |h: std::thread::JoinHandle<Vec<u8>>| {
            String::from_utf8_lossy(&h.join().unwrap_or_default()).into_owned()
        };
        use std::os::unix::process::ExitStatusExt;
        CommandOutcome {
            command: self.line,
            exit_code: if killed_at_deadline {
                None
            } else {
                status.and_then(|s| s.code())
            },
            signal: status.and_then(|s| s.signal()),
            killed_at_deadline,
            stdout: text(self.stdout),
            stderr: text(self.stderr),
            ran_for,
        }
    }
}

#[cfg(test)]
mod test {
    use super::*;

    fn sh(script: &str) -> DeviceCommand {
        DeviceCommand {
            program: "sh".into(),
            args: vec!["-c".into(), script.into()],
            env: BTreeMap::new(),
        }
    }

    fn values(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs
            .iter()
            .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
            .collect()
    }

    #[tokio::test]
    async fn captures_output_and_exit_status() {
        let run = start_command(
            &sh("echo out {host}:{port}; echo err >&2; exit 3"),
            &values(&[("host", "127.0.0.1"), ("port", "5683")]),
        )
        .await
        .unwrap();
        assert_eq!(
            run.command(),
            "sh -c echo out 127.0.0.1:5683; echo err >&2; exit 3"
        );
        let o = run.finish(Instant::now() + Duration::from_secs(10)).await;
        assert_eq!(o.stdout, "out 127.0.0.1:5683\n");
        assert_eq!(o.stderr, "err\n");
        assert_eq!((o.exit_code, o.killed_at_deadline), (Some(3), false));
        assert!(!o.succeeded());
        assert!(o.status().starts_with("exited with 3"), "{}", o.status());
    }

    #[tokio::test]
    async fn killed_at_the_deadline_with_its_children() {
        let run = start_command(&sh("sleep 30 & echo started; sleep 30"), &values(&[]))
            .await
            .unwrap();
        let o = run
            .finish(Instant::now() + Duration::from_millis(300))
            .await;
        assert!(o.killed_at_deadline);
        assert_eq!(o.exit_code, None);
        assert_eq!(o.signal, Some(9));
        assert_eq!(o.stdout, "started\n", "output before the kill is kept");
        assert!(o.ran_for < Duration::from_secs(5));
    }

    #[tokio::test]
    async fn unknown_placeholders_and_programs_are_errors() {
        let e = start_command(&sh("echo {path}"), &values(&[("host", "h")]))
            .await
            .unwrap_err();
        assert!(e.to_string().contains("{path}"), "{e}");
        assert!(e.to_string().contains("host"), "{e}");
        let missing = DeviceCommand {
            program: "hilt-no-such-client".into(),
            args: vec![],
            env: BTreeMap::new(),
        };
        let e = start_command(&missing, &values(&[])).await.unwrap_err();
        assert!(matches!(e, Kind::ProgramNotFound { .. }), "{e}");
    }
}
