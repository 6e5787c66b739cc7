//! The generator's own costs and timing precision, from the kernel.

use std::time::Duration;

/// CPU time (user + system) this process has used so far: every thread of hilt, the
/// load generator's and the subscribers' alike.
#[expect(unsafe_code, reason = "getrusage has no safe wrapper in std")]
pub fn process_cpu() -> Duration {
    // SAFETY: getrusage writes only into the zeroed struct we pass; RUSAGE_SELF is valid.
    let mut ru: libc::rusage = unsafe { std::mem::zeroed() };
    let rc = unsafe { libc::getrusage(libc::RUSAGE_SELF, &mut ru) };
    if rc != 0 {
        return Duration::ZERO;
    }
    let tv = |t: libc::timeval| {
        Duration::from_secs(t.tv_sec.max(0) as u64) + Duration::from_micros(t.tv_usec.max(0) as u64)
    };
    tv(ru.ru_utime) + tv(ru.ru_stime)
}

/// Asks the kernel to wake this thread's sleeps within 1 µs of the deadline instead of
/// the default 50 µs slack, which would otherwise show up as send delay.
#[expect(unsafe_code, reason = "prctl has no safe wrapper in std")]
pub fn tighten_timer_slack() {
    // SAFETY: PR_SET_TIMERSLACK takes a plain integer and affects only this thread.
    unsafe {
        libc::prctl(libc::PR_SET_TIMERSLACK, 1 as libc::c_ulong, 0, 0, 0);
    }
}

/// Cores this process may run on.
pub fn cores() -> u32 {
    std::thread::available_parallelism()
        .map(|n| n.get() as u32)
        .unwrap_or(1)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn cpu_time_moves_forward_with_work() {
        let before = process_cpu();
        let mut x = 0u64;
        let start = std::time::Instant::now();
        while start.elapsed() < Duration::from_millis(30) {
            x = x.wrapping_mul(31).wrapping_add(7);
        }
        std::hint::black_box(x);
        assert!(process_cpu() > before);
        assert!(cores() >= 1);
    }
}
