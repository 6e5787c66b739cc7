//! Making sure no target outlives hilt.
//!
//! Three layers, because each covers a death the others miss:
//! - every child gets PR_SET_PDEATHSIG (see `spawn`), which the kernel honours even when
//!   hilt is killed with SIGKILL, and a watchdog per group (see `process`) for the
//!   programs that lose that signal when they drop privileges;
//! - a process-wide registry of the process groups hilt started, which
//!   [`kill_all_launched`] empties; [`install_cleanup_handlers`] calls it on signals
//!   and on a panic of the main thread (grandchildren such as Erlang's helper
//!   processes do not inherit the death signal, a group kill reaches them);
//! - `Drop` of a `Running` kills its groups.

use std::collections::BTreeSet;
use std::sync::{Mutex, Once, PoisonError};

use nix::sys::signal::{Signal, killpg};
use nix::unistd::Pid;

static LIVE: Mutex<BTreeSet<i32>> = Mutex::new(BTreeSet::new());

pub(crate) fn register(pgid: i32) {
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .insert(pgid);
}

pub(crate) fn unregister(pgid: i32) {
    LIVE.lock()
        .unwrap_or_else(PoisonError::into_inner)
        .remove(&pgid);
}

/// Kills (SIGKILL) every process group hilt launched and has not stopped yet.
/// Returns how many groups were signalled. Safe to call more than once.
pub fn kill_all_launched() -> usize {
    // try_lock: this runs from a panic hook, possibly on a thread that panicked while
    // holding the lock; a missed cleanup beats a deadlock, and PDEATHSIG still applies.
    let groups: Vec<i32> = match LIVE.try_lock() {
        Ok(mut g) => std::mem::take(&mut *g).into_iter().collect(),
        Err(std::sync::TryLockError::Poisoned(p)) => {
            std::mem::take(&mut *p.into_inner()).into_iter().collect()
        }
        Err(std::sync::TryLockError::WouldBlock) => return 0,
    };
    for &g in &groups {
        // SIGKILL ends stopped (paused) processes too; ESRCH means already gone.
        let _ = killpg(Pid::from_raw(g), Signal::SIGKILL);
    }
    groups.len()
}

/// How long after a first Ctrl-C the application gets to wind down on its own.
const WIND_DOWN: std::time::Duration = std::time::Duration::from_secs(30);

/// Installs the handlers a binary needs so that targets die with it:
/// - SIGTERM or SIGHUP: every launched group is killed and the process exits with
///   128 + the signal number;
/// - SIGINT (Ctrl-C): the first is left to the application to wind down (stop its
///   targets, write partial results); a second one, or 30 s without
///   the process exiting, kills every launched group and exits with 130;
/// - a panic on the main thread kills them too (panics on other threads are usually
///   caught, e.g. by tokio, and must not take down other tests' targets).
///
/// Idempotent; does not need a tokio runtime.
pub fn install_cleanup_handlers() {
    static ONCE: Once = Once::new();
    ONCE.call_once(|| {
        let previous = std::panic::take_hook();
        std::panic::set_hook(Box::new(move |info| {
            previous(info);
            if std::thread::current().name() == Some("main") {
                kill_all_launched();
            }
        }));
        let spawned = std::thread::Builder::new()
            .name("hilt-peers-signals".into())
            .spawn(watch_signals);
        if let Err(e) = spawned {
            tracing::warn!("no signal watcher, targets rely on their watchdogs alone: {e}");
        }
    });
}

fn watch_signals() {
    use tokio::signal::unix::{SignalKind, signal};
    let rt = match tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            tracing::warn!("no signal watcher runtime: {e}");
            return;
        }
    };
    rt.block_on(async {
        let (Ok(mut int), Ok(mut term), Ok(mut hup)) = (
            signal(SignalKind::interrupt()),
            signal(SignalKind::terminate()),
            signal(SignalKind::hangup()),
        ) else {
            tracing::warn!("cannot watch signals; targets rely on their watchdogs alone");
            return;
        };
        let signo = tokio::select! {
            _ = int.recv() => {
                tokio::select! {
                    _ = int.recv() => {}
                    () = tokio::time::sleep(WIND_DOWN) => {
                        tracing::warn!("still running {} s after Ctrl-C", WIND_DOWN.as_secs());
                    }
                }
                libc_signo(Signal::SIGINT)
            }
            _ = term.recv() => libc_signo(Signal::SIGTERM),
            _ = hup.recv() => libc_signo(Signal::SIGHUP),
        };
        let n = kill_all_launched();
        tracing::info!("signal {signo}: killed {n} target process group(s)");
        std::process::exit(128 + signo);
    });
}

fn libc_signo(s: Signal) -> i32 {
    s as i32
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn kill_all_empties_the_registry() {
        // A group id that cannot exist (pid_max is far below it): killpg fails with
        // ESRCH, which must be ignored.
        register(i32::MAX - 7);
        assert!(kill_all_launched() >= 1);
        assert!(!LIVE.lock().unwrap().contains(&(i32::MAX - 7)));
    }
}
