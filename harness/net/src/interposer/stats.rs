//! Counters a test or `hilt proxy` reads to see what the interposer did.

use std::sync::atomic::{AtomicU64, Ordering::Relaxed};

use hilt_core::Direction;

/// Counts for one direction, over all connections since the interposer started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DirStats {
    /// Frames delimited by the framer.
    pub frames: u64,
    /// Bytes read from the source side, frames and opaque chunks alike.
    pub bytes: u64,
    /// Frames not forwarded (dropped, stalled, swallowed, or the frame that closed).
    pub dropped: u64,
    /// Frames whose bytes were changed (corrupt, patch, rewrite).
    pub mutated: u64,
    pub duplicated: u64,
    pub delayed: u64,
    pub reordered: u64,
    pub injected: u64,
    /// Chunks forwarded without framing because the framer gave up.
    pub opaque_chunks: u64,
}

/// Both directions, plus connections.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Stats {
    pub connections: u64,
    pub to_server: DirStats,
    pub to_client: DirStats,
}

#[derive(Debug, Default)]
pub(crate) struct DirCells {
    pub(crate) frames: AtomicU64,
    pub(crate) bytes: AtomicU64,
    pub(crate) dropped: AtomicU64,
    pub(crate) mutated: AtomicU64,
    pub(crate) duplicated: AtomicU64,
    pub(crate) delayed: AtomicU64,
    pub(crate) reordered: AtomicU64,
    pub(crate) injected: AtomicU64,
    pub(crate) opaque_chunks: AtomicU64,
}

impl DirCells {
    fn snapshot(&self) -> DirStats {
        DirStats {
            frames: self.frames.load(Relaxed),
            bytes: self.bytes.load(Relaxed),
            dropped: self.dropped.load(Relaxed),
            mutated: self.mutated.load(Relaxed),
            duplicated: self.duplicated.load(Relaxed),
            delayed: self.delayed.load(Relaxed),
            reordered: self.reordered.load(Relaxed),
            injected: self.injected.load(Relaxed),
            opaque_chunks: self.opaque_chunks.load(Relaxed),
        }
    }
}

#[derive(Debug, Default)]
pub(crate) struct StatsCells {
    pub(crate) connections: AtomicU64,
    to_server: DirCells,
    to_client: DirCells,
}

impl StatsCells {
    pub(crate) fn dir(&self, way: Direction) -> &DirCells {
        match way {
            Direction::Sent => &self.to_server,
            Direction::Received => &self.to_client,
        }
    }

    pub(crate) fn snapshot(&self) -> Stats {
        Stats {
            connections: self.connections.load(Relaxed),
            to_server: self.to_server.snapshot(),
            to_client: self.to_client.snapshot(),
        }
    }
}

pub(crate) fn bump(cell: &AtomicU64, by: u64) {
    cell.fetch_add(by, Relaxed);
}
