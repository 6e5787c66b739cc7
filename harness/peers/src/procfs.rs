//! Reading processes from /proc: group membership, CPU time and resident memory.

use std::collections::BTreeMap;
use std::fs;
use std::sync::OnceLock;

/// One process as /proc/<pid>/stat shows it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Stat {
    pub pid: u32,
    pub state: char,
    pub pgrp: i32,
    /// utime + stime, in clock ticks.
    pub cpu_ticks: u64,
    /// Start time in clock ticks since boot: with the pid, identifies a process.
    pub start: u64,
}

/// Parses the text of /proc/<pid>/stat. The command name may contain spaces and
/// parentheses, so fields are counted from its last `)`.
pub(crate) fn parse_stat(pid: u32, text: &str) -> Option<Stat> {
    let rest = &text[text.rfind(')')? + 1..];
    let f: Vec<&str> = rest.split_whitespace().collect();
    // f[0] is field 3 (state) of proc(5); field n is f[n - 3].
    Some(Stat {
        pid,
        state: f.first()?.chars().next()?,
        pgrp: f.get(2)?.parse().ok()?,
        cpu_ticks: f.get(11)?.parse::<u64>().ok()? + f.get(12)?.parse::<u64>().ok()?,
        start: f.get(19)?.parse().ok()?,
    })
}

/// The VmRSS line of /proc/<pid>/status, in KiB (absent for zombies and kernel threads).
pub(crate) fn parse_rss_kib(status: &str) -> Option<u64> {
    let line = status.lines().find(|l| l.starts_with("VmRSS:"))?;
    line.split_whitespace().nth(1)?.parse().ok()
}

/// Every process (zombies included) whose process group is one of `groups`.
pub(crate) fn members(groups: &[i32]) -> Vec<Stat> {
    let Ok(dir) = fs::read_dir("/proc") else {
        return Vec::new();
    };
    dir.filter_map(|e| {
        let pid: u32 = e.ok()?.file_name().to_str()?.parse().ok()?;
        let text = fs::read_to_string(format!("/proc/{pid}/stat")).ok()?;
        parse_stat(pid, &text).filter(|s| groups.contains(&s.pgrp))
    })
    .collect()
}

/// Pids of the live (non-zombie) processes in process group `pgid`.
///
/// A zombie is dead: it only waits for a parent to reap it, which hilt cannot force for
/// grandchildren in a container whose init does not reap.
pub fn group_members(pgid: i32) -> Vec<u32> {
    members(&[pgid])
        .into_iter()
        .filter(|s| s.state != 'Z')
        .map(|s| s.pid)
        .collect()
}

pub(crate) fn rss_kib(pid: u32) -> Option<u64> {
    parse_rss_kib(&fs::read_to_string(format!("/proc/{pid}/status")).ok()?)
}

pub(crate) fn ticks_per_second() -> u64 {
    static TICKS: OnceLock<u64> = OnceLock::new();
    *TICKS.get_or_init(|| {
        nix::unistd::sysconf(nix::unistd::SysconfVar::CLK_TCK)
            .ok()
            .flatten()
            .and_then(|t| u64::try_from(t).ok())
            .filter(|t| *t > 0)
            .unwrap_or(100)
    })
}

/// CPU and memory use of a set of process groups, accumulated over samples.
#[derive(Debug, Default, Clone)]
pub(crate) struct Usage {
    /// Last CPU ticks seen per (pid, start): processes that exit keep their share.
    cpu: BTreeMap<(u32, u64), u64>,
    pub peak_rss_kib: u64,
}

impl Usage {
    pub fn sample(&mut self, groups: &[i32]) {
        let mut rss = 0;
        for s in members(groups) {
            if s.state == 'Z' {
                continue;
            }
            self.cpu.insert((s.pid, s.start), s.cpu_ticks);
            rss += rss_kib(s.pid).unwrap_or(0);
        }
        self.peak_rss_kib = self.peak_rss_kib.max(rss);
    }

    pub fn cpu_ms(&self) -> u64 {
        self.cpu.values().sum::<u64>() * 1000 / ticks_per_second()
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn stat_with_awkward_command_name() {
        let text = "4242 (beam.smp) x) S 1 4240 4240 0 -1 4194560 1234 0 0 0 \
                    150 25 0 0 20 0 30 0 987654 1000000 5000 18446744073709551615";
        let s = parse_stat(4242, text).unwrap();
        assert_eq!(s.state, 'S');
        assert_eq!(s.pgrp, 4240);
        assert_eq!(s.cpu_ticks, 175);
        assert_eq!(s.start, 987654);
    }

    #[test]
    fn truncated_stat_is_none() {
        assert_eq!(parse_stat(1, "1 (init) S 0"), None);
        assert_eq!(parse_stat(1, "garbage"), None);
    }

    #[test]
    fn rss_from_status() {
        let st = "Name:\tmosquitto\nVmPeak:\t 9000 kB\nVmRSS:\t    6512 kB\n";
        assert_eq!(parse_rss_kib(st), Some(6512));
        assert_eq!(parse_rss_kib("Name: x\n"), None);
    }

    #[test]
    fn own_group_is_visible() {
        let me = std::process::id();
        let stat = fs::read_to_string(format!("/proc/{me}/stat")).unwrap();
        let s = parse_stat(me, &stat).unwrap();
        assert!(group_members(s.pgrp).contains(&me));
        let mut u = Usage::default();
        u.sample(&[s.pgrp]);
        assert!(u.peak_rss_kib > 0);
    }
}
