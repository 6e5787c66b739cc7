//! Applying rules to one direction of one conversation, frame by frame.
//!
//! Transport-neutral on purpose: it takes a frame and answers with the byte strings to
//! send (each with its delay and segment cuts) and whether the direction or the whole
//! conversation must stop. The TCP relay turns that into writes and socket calls; a
//! datagram relay can turn it into datagrams.

use std::fmt;
use std::time::Duration;

use hilt_core::Direction;
use hilt_wire::FrameMeta;

use super::rule::{Action, CloseKind, Rule};

/// The rules in force, with a generation number so per-connection counters can tell
/// when they were replaced.
#[derive(Debug, Default)]
pub(crate) struct RuleSet {
    pub(crate) generation: u64,
    pub(crate) rules: Vec<Rule>,
}

/// Bytes to send, in order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct Emit {
    pub(crate) bytes: Vec<u8>,
    /// How long after the frame was read these bytes may leave.
    pub(crate) delay: Duration,
    /// Offsets at which to cut the bytes into separate segments.
    pub(crate) split: Vec<usize>,
}

impl Emit {
    fn plain(bytes: Vec<u8>, delay: Duration) -> Self {
        Emit {
            bytes,
            delay,
            split: Vec::new(),
        }
    }
}

/// What must happen after this frame's bytes are sent.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Halt {
    /// This direction forwards nothing more.
    Stall,
    /// The conversation is cut.
    Close(CloseKind),
}

/// What a rule actually did to a frame, for the live log.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Taken {
    Dropped,
    Delayed(Duration),
    Duplicated,
    Corrupted {
        offset: usize,
    },
    Patched {
        offset: usize,
    },
    Rewritten,
    Split(Vec<usize>),
    /// Held back by `Reorder`.
    Held,
    /// This many held frames went out right after this one.
    Released(usize),
    /// This frame stalled the direction.
    Stalled,
    /// Vanished because the direction was already stalled or black-holed.
    Swallowed,
    InjectedBefore(usize),
    InjectedAfter(usize),
    Closed(CloseKind),
    /// An action that could not apply (say, an offset past the end of the frame).
    Skipped(String),
}

impl fmt::Display for Taken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Taken::Dropped => f.write_str("dropped"),
            Taken::Delayed(d) => write!(f, "delayed {d:?}"),
            Taken::Duplicated => f.write_str("duplicated"),
            Taken::Corrupted { offset } => write!(f, "corrupted at {offset}"),
            Taken::Patched { offset } => write!(f, "patched at {offset}"),
            Taken::Rewritten => f.write_str("rewritten"),
            Taken::Split(at) => write!(f, "split at {at:?}"),
            Taken::Held => f.write_str("held back"),
            Taken::Released(n) => write!(f, "released {n} held"),
            Taken::Stalled => f.write_str("stalled direction"),
            Taken::Swallowed => f.write_str("swallowed"),
            Taken::InjectedBefore(n) => write!(f, "injected {n} bytes before"),
            Taken::InjectedAfter(n) => write!(f, "injected {n} bytes after"),
            Taken::Closed(CloseKind::Fin) => f.write_str("closed (fin)"),
            Taken::Closed(CloseKind::Rst) => f.write_str("closed (rst)"),
            Taken::Closed(CloseKind::BlackHole) => f.write_str("black hole"),
            Taken::Skipped(why) => write!(f, "skipped: {why}"),
        }
    }
}

/// The engine's answer for one frame.
#[derive(Debug, Default)]
pub(crate) struct Outcome {
    pub(crate) emits: Vec<Emit>,
    pub(crate) halt: Option<Halt>,
    pub(crate) taken: Vec<Taken>,
}

impl Outcome {
    /// Whether the frame itself (not only injected bytes) goes out, now or later.
    pub(crate) fn forwarded(&self) -> bool {
        !self.taken.iter().any(|t| {
            matches!(
                t,
                Taken::Dropped | Taken::Stalled | Taken::Swallowed | Taken::Closed(_)
            )
        })
    }

    pub(crate) fn mutated(&self) -> bool {
        self.taken.iter().any(|t| {
            matches!(
                t,
                Taken::Corrupted { .. } | Taken::Patched { .. } | Taken::Rewritten
            )
        })
    }
}

/// Rule state for one direction of one conversation.
#[derive(Debug)]
pub(crate) struct DirEngine {
    way: Direction,
    generation: u64,
    /// Per rule: how many frames it has picked, and how many times it acted.
    matches: Vec<u32>,
    applied: Vec<u32>,
    /// Frames held back by `Reorder`, in the order they will be released.
    held: Vec<Emit>,
    stalled: bool,
}

impl DirEngine {
    pub(crate) fn new(way: Direction) -> Self {
        DirEngine {
            way,
            generation: u64::MAX,
            matches: Vec::new(),
            applied: Vec::new(),
            held: Vec::new(),
            stalled: false,
        }
    }

    pub(crate) fn is_stalled(&self) -> bool {
        self.stalled
    }

    /// Marks the direction as stalled from outside (a black hole).
    pub(crate) fn stall(&mut self) {
        self.stalled = true;
        self.held.clear();
    }

    /// Held frames that must still go out because the stream ends in an orderly way.
    pub(crate) fn flush_held(&mut self) -> Vec<Emit> {
        std::mem::take(&mut self.held)
    }

    /// Rules run in order. Every rule whose direction and matcher accept the frame
    /// counts a match; the selected ones act in turn on the frame as earlier rules left
    /// it. `Drop`, `Stall` and `Close` end the acting (later rules still count).
    pub(crate) fn on_frame(&mut self, rules: &RuleSet, frame: &[u8], meta: &FrameMeta) -> Outcome {
        if self.stalled {
            return Outcome {
                taken: vec![Taken::Swallowed],
                ..Outcome::default()
            };
        }
        if self.generation != rules.generation {
            // New rules, new numbering: `nth=2` means the second match under these rules.
            self.generation = rules.generation;
            self.matches = vec![0; rules.rules.len()];
            self.applied = vec![0; rules.rules.len()];
        }

        let mut cur = frame.to_vec();
        let mut copies = 1usize;
        let mut delay = Duration::ZERO;
        let mut split = Vec::new();
        let mut before = Vec::new();
        let mut after = Vec::new();
        let mut hold = false;
        let mut dropped = false;
        let mut halt = None;
        let mut taken = Vec::new();

        for (i, rule) in rules.rules.iter().enumerate() {
            if !rule.dir.covers(self.way) || !rule.matcher.matches(frame, meta) {
                continue;
            }
            self.matches[i] = self.matches[i].saturating_add(1);
            if dropped || halt.is_some() || !rule.selects(self.matches[i], self.applied[i]) {
                continue;
            }
            self.applied[i] = self.applied[i].saturating_add(1);
            match &rule.action {
                Action::Drop => {
                    dropped = true;
                    taken.push(Taken::Dropped);
                }
                Action::Delay(d) => {
                    delay = delay.saturating_add(*d);
                    taken.push(Taken::Delayed(*d));
                }
                Action::Duplicate => {
                    copies += 1;
                    taken.push(Taken::Duplicated);
                }
                Action::Corrupt { offset, xor } => match cur.get_mut(*offset) {
                    Some(b) => {
                        *b ^= xor;
                        taken.push(Taken::Corrupted { offset: *offset });
                    }
                    None => taken.push(Taken::Skipped(format!(
                        "corrupt at {offset} is past the end of a {}-byte frame",
                        cur.len()
                    ))),
                },
                Action::Patch { offset, bytes } => {
                    if *offset > cur.len() {
                        taken.push(Taken::Skipped(format!(
                            "patch at {offset} is past the end of a {}-byte frame",
                            cur.len()
                        )));
                    } else {
                        let end = offset.saturating_add(bytes.len());
                        if end > cur.len() {
                            cur.resize(end, 0);
                        }
                        cur[*offset..end].copy_from_slice(bytes);
                        taken.push(Taken::Patched { offset: *offset });
                    }
                }
                Action::Rewrite(f) => {
                    // A panicking closure leaves the frame as it was: the relay goes on.
                    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| f(&cur))) {
                        Ok(new) => {
                            cur = new;
                            taken.push(Taken::Rewritten);
                        }
                        Err(_) => taken.push(Taken::Skipped("rewrite panicked".into())),
                    }
                }
                Action::Split { at } => {
                    split.extend_from_slice(at);
                    taken.push(Taken::Split(at.clone()));
                }
                Action::Reorder => {
                    hold = true;
                    taken.push(Taken::Held);
                }
                Action::Stall => {
                    halt = Some(Halt::Stall);
                    taken.push(Taken::Stalled);
                }
                Action::InjectBefore(b) => {
                    before.push(b.clone());
                    taken.push(Taken::InjectedBefore(b.len()));
                }
                Action::InjectAfter(b) => {
                    after.push(b.clone());
                    taken.push(Taken::InjectedAfter(b.len()));
                }
                Action::Close(kind) => {
                    halt = Some(Halt::Close(*kind));
                    taken.push(Taken::Closed(*kind));
                }
            }
        }

        // Injected bytes share the frame's delay so they stay next to it in time.
        let mut group: Vec<Emit> = before.into_iter().map(|b| Emit::plain(b, delay)).collect();
        if !dropped && halt.is_none() {
            for _ in 0..copies {
                group.push(Emit {
                    bytes: cur.clone(),
                    delay,
                    split: split.clone(),
                });
            }
            group.extend(after.into_iter().map(|b| Emit::plain(b, delay)));
        }

        let mut emits = Vec::new();
        match halt {
            Some(Halt::Close(CloseKind::Rst | CloseKind::BlackHole)) => {
                // Nothing held will ever be delivered on a dead or silent connection.
                self.held.clear();
                emits = group;
            }
            Some(Halt::Stall) => {
                self.stalled = true;
                emits = group;
                emits.append(&mut self.held);
            }
            Some(Halt::Close(CloseKind::Fin)) | None if !hold => {
                emits = group;
                if !self.held.is_empty() {
                    taken.push(Taken::Released(self.held.len()));
                    emits.append(&mut self.held);
                }
            }
            _ => {
                // Held frames queue behind this one, so a chain of reorders keeps
                // "each after the next".
                group.append(&mut self.held);
                self.held = group;
            }
        }
        Outcome { emits, halt, taken }
    }
}

#[cfg(test)]
mod test {
    use super::*;
    use crate::interposer::rule::{Dir, Match};

    fn meta(kind: &'static str) -> FrameMeta {
        FrameMeta {
            kind,
            summary: String::new(),
            problems: Vec::new(),
        }
    }

    fn set(rules: Vec<Rule>) -> RuleSet {
        RuleSet {
            generation: 1,
            rules,
        }
    }

    /// Feeds frames `[i]` for i in 1..=n and returns what went out, flattened.
    fn run(eng: &mut DirEngine, rules: &RuleSet, n: u8) -> Vec<Vec<u8>> {
        (1..=n)
            .flat_map(|i| eng.on_frame(rules, &[i], &meta("X")).emits)
            .map(|e| e.bytes)
            .collect()
    }

    #[test]
    fn nth_count_after() {
        let rules = set(vec![
            Rule::new(Dir::ToServer, Match::Any, Action::Drop).nth(2),
        ]);
        let mut e = DirEngine::new(Direction::Sent);
        assert_eq!(run(&mut e, &rules, 4), [[1], [3], [4]]);

        let rules = set(vec![
            Rule::new(Dir::ToServer, Match::Any, Action::Drop).count(2),
        ]);
        let mut e = DirEngine::new(Direction::Sent);
        assert_eq!(run(&mut e, &rules, 4), [[3], [4]]);

        let rules = set(vec![
            Rule::new(Dir::ToServer, Match::Any, Action::Drop)
                .after(1)
                .count(2),
        ]);
        let mut e = DirEngine::new(Direction::Sent);
        assert_eq!(run(&mut e, &rules, 5), [[1], [4], [5]]);
    }

    #[test]
    fn direction_filter_and_per_direction_counts() {
        let rules = set(vec![Rule::new(Dir::ToClient, Match::Any, Action::Drop)]);
        let mut e = DirEngine::new(Direction::Sent);
        assert_eq!(run(&mut e, &rules, 2), [[1], [2]]);

        let rules = set(vec![Rule::new(Dir::Both, Match::Any, Action::Drop).nth(1)]);
        let mut s = DirEngine::new(Direction::Sent);
        let mut r = DirEngine::new(Direction::Received);
        assert_eq!(run(&mut s, &rules, 2), [[2]]);
        assert_eq!(run(&mut r, &rules, 2), [[2]]);
    }

    #[test]
    fn drop_ends_acting_but_later_rules_still_count() {
        let rules = set(vec![
            Rule::new(Dir::Both, Match::Any, Action::Drop).nth(1),
            Rule::new(Dir::Both, Match::Any, Action::Duplicate).nth(2),
        ]);
        let mut e = DirEngine::new(Direction::Sent);
        assert_eq!(run(&mut e, &rules, 3), [[2], [2], [3]]);
    }

    #[test]
    fn reorder_chains() {
        let rules = set(vec![
            Rule::new(Dir::Both, Match::Any, Action::Reorder).count(2),
        ]);
        let mut e = DirEngine::new(Direction::Sent);
        // 1 waits for 2, which waits for 3: 3, 2, 1.
        assert_eq!(run(&mut e, &rules, 4), [[3], [2], [1], [4]]);
        assert!(e.flush_held().is_empty());
    }

    #[test]
    fn out_of_range_offsets_do_not_panic() {
        let rules = set(vec![
            Rule::new(Dir::Both, Match::Any, Action::Corrupt { offset: 9, xor: 1 }),
            Rule::new(
                Dir::Both,
                Match::Any,
                Action::Patch {
                    offset: usize::MAX,
                    bytes: vec![1, 2],
                },
            ),
            Rule::new(
                Dir::Both,
                Match::Any,
                Action::Patch {
                    offset: 1,
                    bytes: vec![7, 8],
                },
            ),
        ]);
        let mut e = DirEngine::new(Direction::Sent);
        let out = e.on_frame(&rules, &[1], &meta("X"));
        assert_eq!(out.emits[0].bytes, [1, 7, 8]);
        assert_eq!(
            out.taken
                .iter()
                .filter(|t| matches!(t, Taken::Skipped(_)))
                .count(),
            2
        );
    }

    #[test]
    fn panicking_closures_are_contained() {
        let rules = set(vec![
            Rule::new(Dir::Both, Match::pred(|_| panic!("pred")), Action::Drop),
            Rule::new(
                Dir::Both,
                Match::Any,
                Action::rewrite(|_| panic!("rewrite")),
            ),
        ]);
        let mut e = DirEngine::new(Direction::Sent);
        let out = e.on_frame(&rules, &[5], &meta("X"));
        assert_eq!(out.emits[0].bytes, [5]);
    }

    #[test]
    fn stall_swallows_the_rest() {
        let rules = set(vec![Rule::new(Dir::Both, Match::kind("b"), Action::Stall)]);
        let mut e = DirEngine::new(Direction::Sent);
        assert_eq!(e.on_frame(&rules, &[1], &meta("A")).emits.len(), 1);
        assert!(e.on_frame(&rules, &[2], &meta("B")).emits.is_empty());
        let out = e.on_frame(&rules, &[3], &meta("A"));
        assert!(out.emits.is_empty());
        assert_eq!(out.taken, [Taken::Swallowed]);
    }

    #[test]
    fn kinds_and_conjunctions() {
        let m = Match::kind("publish")
            .and(Match::pred(|f| f.len() > 1))
            .or(Match::kind("PINGREQ"));
        assert!(m.matches(&[1, 2], &meta("PUBLISH")));
        assert!(!m.matches(&[1], &meta("PUBLISH")));
        assert!(m.matches(&[1], &meta("PINGREQ")));
        assert!(Match::kind("A").not().matches(&[1], &meta("B")));
    }

    #[test]
    fn new_rules_restart_numbering() {
        let mut rules = set(vec![Rule::new(Dir::Both, Match::Any, Action::Drop).nth(2)]);
        let mut e = DirEngine::new(Direction::Sent);
        assert_eq!(run(&mut e, &rules, 2), [[1]]);
        rules.generation += 1;
        assert_eq!(run(&mut e, &rules, 2), [[1]]);
    }
}
