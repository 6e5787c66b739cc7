//! Seeded pseudo-random input for the no-panic tests: one generator and one byte-level
//! mutator, so each test keeps only its protocol's seed frames, repairs and checks.
//! Deterministic: a failure repeats from the test's seed.

#![allow(
    dead_code,
    reason = "each test binary includes this file and uses only part of it"
)]

/// xorshift64*: deterministic, no crate needed.
pub struct Rng(u64);

impl Rng {
    /// A generator from `seed`, which must not be zero (xorshift stays at zero).
    pub fn new(seed: u64) -> Self {
        assert_ne!(seed, 0, "xorshift never leaves a zero state");
        Self(seed)
    }

    pub fn next(&mut self) -> u64 {
        self.0 ^= self.0 >> 12;
        self.0 ^= self.0 << 25;
        self.0 ^= self.0 >> 27;
        self.0.wrapping_mul(0x2545_f491_4f6c_dd1d)
    }

    /// A number in `0..n`; `n` must not be zero.
    pub fn below(&mut self, n: usize) -> usize {
        (self.next() % n as u64) as usize
    }

    pub fn byte(&mut self) -> u8 {
        self.next() as u8
    }

    /// `len` random bytes.
    pub fn bytes(&mut self, len: usize) -> Vec<u8> {
        (0..len).map(|_| self.byte()).collect()
    }
}

/// Byte values at the edges of length fields and of signed and unsigned ranges: a
/// replaced byte takes one of these (or the caller's own markers) as often as a random
/// one, because edges are where parsers break.
pub const EDGES: &[u8] = &[0x00, 0x01, 0x7f, 0x80, 0xfe, 0xff];

/// Damages `bytes` with one to four edits: a byte replaced (by a random value or one of
/// `edges`), a bit flipped, a byte inserted, a byte removed, or the tail cut off.
pub fn mutate(rng: &mut Rng, bytes: &mut Vec<u8>, edges: &[u8]) {
    for _ in 0..1 + rng.below(4) {
        let at = rng.below(bytes.len() + 1);
        match rng.below(5) {
            2 => bytes.insert(at, rng.byte()),
            _ if at == bytes.len() => bytes.push(rng.byte()),
            0 => {
                bytes[at] = if edges.is_empty() || rng.below(2) == 0 {
                    rng.byte()
                } else {
                    edges[rng.below(edges.len())]
                }
            }
            1 => bytes[at] ^= 1 << rng.below(8),
            3 => {
                bytes.remove(at);
            }
            _ => bytes.truncate(at),
        }
    }
}

/// Runs `check` on each seed and on `rounds` mutants of it (see [`mutate`]); `repair`
/// sees each mutant first, to put back what would stop the damage at the door (a
/// length field, say), so it reaches the parsers behind.
pub fn check_mutants(
    rng: &mut Rng,
    seeds: &[Vec<u8>],
    rounds: usize,
    edges: &[u8],
    mut repair: impl FnMut(&mut Rng, &mut [u8]),
    mut check: impl FnMut(&[u8]),
) {
    for seed in seeds {
        check(seed);
        for _ in 0..rounds {
            let mut bytes = seed.clone();
            mutate(rng, &mut bytes, edges);
            repair(rng, &mut bytes);
            check(&bytes);
        }
    }
}

/// For `repair`: leaves the mutant as it is.
pub fn as_is(_: &mut Rng, _: &mut [u8]) {}
