//! Starting child processes so that they die with hilt.
//!
//! PR_SET_PDEATHSIG fires when the *thread* that forked the child exits, not the
//! process. Children forked from a tokio worker or a blocking-pool thread would be
//! killed when that thread retires (the blocking pool retires idle threads after
//! seconds). So every child is forked from one dedicated thread that lives as long as
//! the process.

use std::io;
use std::os::unix::process::CommandExt;
use std::process::{Child, Command};
use std::sync::mpsc;
use std::sync::{Mutex, OnceLock, PoisonError};

use tokio::sync::oneshot;

type Job = Box<dyn FnOnce() + Send>;

fn spawner() -> io::Result<mpsc::Sender<Job>> {
    static SPAWNER: OnceLock<Mutex<mpsc::Sender<Job>>> = OnceLock::new();
    if let Some(s) = SPAWNER.get() {
        return Ok(s.lock().unwrap_or_else(PoisonError::into_inner).clone());
    }
    let (tx, rx) = mpsc::channel::<Job>();
    std::thread::Builder::new()
        .name("hilt-peers-spawner".into())
        .spawn(move || {
            for job in rx {
                job();
            }
        })?;
    // Two racing first calls each start a thread; the loser's thread ends as soon as
    // its sender (dropped here) goes away, before it ever forks anything.
    let s = SPAWNER.get_or_init(|| Mutex::new(tx));
    Ok(s.lock().unwrap_or_else(PoisonError::into_inner).clone())
}

/// Spawns `cmd` in its own process group, with SIGKILL as its parent-death signal.
pub(crate) async fn spawn(mut cmd: Command) -> io::Result<Child> {
    cmd.process_group(0);
    set_death_signal(&mut cmd);
    let (tx, rx) = oneshot::channel();
    spawner()?
        .send(Box::new(move || {
            let _ = tx.send(cmd.spawn());
        }))
        .map_err(|_| io::Error::other("the spawner thread is gone"))?;
    rx.await
        .map_err(|_| io::Error::other("the spawner thread dropped a request"))?
}

#[expect(
    unsafe_code,
    reason = "pre_exec is unsafe; the hook only makes two async-signal-safe syscalls \
              (prctl, getppid) and allocates nothing"
)]
fn set_death_signal(cmd: &mut Command) {
    use nix::sys::prctl;
    use nix::sys::signal::Signal;
    let parent = std::process::id();
    // SAFETY: runs between fork and exec in the child; prctl and getppid are
    // async-signal-safe and the closure neither allocates nor takes locks.
    unsafe {
        cmd.pre_exec(move || {
            prctl::set_pdeathsig(Signal::SIGKILL).map_err(io::Error::from)?;
            // hilt may have died between fork and prctl; the signal would never come.
            if nix::unistd::getppid().as_raw() as u32 != parent {
                return Err(io::Error::from_raw_os_error(nix::libc::ESRCH));
            }
            Ok(())
        });
    }
}
