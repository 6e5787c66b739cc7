//! Transmission parameters (RFC 7252 §4.8) and the times derived from them (§4.8.2).
//!
//! The defaults are the RFC's; every one can be changed, as §4.8.1 allows. The
//! retransmission windows computed here are what both hilt's own endpoint schedules
//! and what a suite judges a peer's retransmissions against, so the two never disagree.

use std::time::Duration;

/// ACK_TIMEOUT, ACK_RANDOM_FACTOR, MAX_RETRANSMIT, NSTART and MAX_LATENCY.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct TransmissionParams {
    /// The base of the first retransmission timeout.
    pub ack_timeout: Duration,
    /// The first timeout is drawn from `[ack_timeout, ack_timeout × ack_random_factor]`;
    /// at least 1.0.
    pub ack_random_factor: f64,
    /// Retransmissions of a Confirmable message before giving up.
    pub max_retransmit: u32,
    /// Outstanding Confirmable messages to one peer at a time (§4.7).
    pub nstart: usize,
    /// The longest a datagram is assumed to take from sender to receiver.
    pub max_latency: Duration,
}

impl Default for TransmissionParams {
    fn default() -> Self {
        TransmissionParams {
            ack_timeout: Duration::from_secs(2),
            ack_random_factor: 1.5,
            max_retransmit: 4,
            nstart: 1,
            max_latency: Duration::from_secs(100),
        }
    }
}

impl TransmissionParams {
    /// PROCESSING_DELAY: the time a node takes to turn a CON into its ACK; the RFC
    /// sets it to ACK_TIMEOUT.
    pub fn processing_delay(&self) -> Duration {
        self.ack_timeout
    }

    fn factor(&self) -> f64 {
        if self.ack_random_factor.is_finite() {
            self.ack_random_factor.max(1.0)
        } else {
            1.0
        }
    }

    /// ACK_TIMEOUT × `times` × ACK_RANDOM_FACTOR.
    fn scaled_max(&self, times: u64) -> Duration {
        let us = self.ack_timeout.as_micros() as f64 * times as f64 * self.factor();
        Duration::from_micros(us.min(u64::MAX as f64) as u64)
    }

    /// MAX_TRANSMIT_SPAN: first transmission to last retransmission (45 s by default).
    pub fn max_transmit_span(&self) -> Duration {
        self.scaled_max(pow2(self.max_retransmit).saturating_sub(1))
    }

    /// MAX_TRANSMIT_WAIT: first transmission to giving up (93 s by default).
    pub fn max_transmit_wait(&self) -> Duration {
        self.scaled_max(pow2(self.max_retransmit.saturating_add(1)).saturating_sub(1))
    }

    /// EXCHANGE_LIFETIME: how long a Message ID of a CON stays in use (247 s).
    pub fn exchange_lifetime(&self) -> Duration {
        self.max_transmit_span()
            .saturating_add(self.max_latency.saturating_mul(2))
            .saturating_add(self.processing_delay())
    }

    /// NON_LIFETIME: how long a Message ID of a NON stays in use (145 s).
    pub fn non_lifetime(&self) -> Duration {
        self.max_transmit_span().saturating_add(self.max_latency)
    }

    /// The range the first retransmission timeout is drawn from.
    pub fn initial_timeout_range(&self) -> (Duration, Duration) {
        (self.ack_timeout, self.scaled_max(1))
    }

    /// The first timeout for a random draw `unit` in `[0, 1]`, in whole microseconds
    /// (the resolution of hilt's time line).
    pub fn initial_timeout(&self, unit: f64) -> Duration {
        let (lo, hi) = self.initial_timeout_range();
        let unit = if unit.is_finite() {
            unit.clamp(0.0, 1.0)
        } else {
            0.0
        };
        let t = lo.saturating_add(hi.saturating_sub(lo).mul_f64(unit));
        Duration::from_micros(t.as_micros().min(u128::from(u64::MAX)) as u64)
    }

    /// The allowed gap between transmission `n - 1` and transmission `n` of one
    /// Confirmable message (`n` = 1 is the first retransmission): the first timeout's
    /// range, doubled `n - 1` times.
    pub fn retransmission_window(&self, n: u32) -> (Duration, Duration) {
        let (lo, hi) = self.initial_timeout_range();
        let k = pow2(n.saturating_sub(1)).min(u64::from(u32::MAX)) as u32;
        (lo.saturating_mul(k), hi.saturating_mul(k))
    }
}

fn pow2(n: u32) -> u64 {
    1u64.checked_shl(n).unwrap_or(u64::MAX)
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn derived_times_match_rfc_7252_section_4_8_2() {
        let p = TransmissionParams::default();
        assert_eq!(p.max_transmit_span(), Duration::from_secs(45));
        assert_eq!(p.max_transmit_wait(), Duration::from_secs(93));
        assert_eq!(p.exchange_lifetime(), Duration::from_secs(247));
        assert_eq!(p.non_lifetime(), Duration::from_secs(145));
        assert_eq!(p.processing_delay(), Duration::from_secs(2));
    }

    #[test]
    fn windows_double() {
        let p = TransmissionParams::default();
        assert_eq!(
            p.retransmission_window(1),
            (Duration::from_secs(2), Duration::from_secs(3))
        );
        assert_eq!(
            p.retransmission_window(4),
            (Duration::from_secs(16), Duration::from_secs(24))
        );
        assert_eq!(p.initial_timeout(0.5), Duration::from_millis(2500));
        assert_eq!(p.initial_timeout(f64::NAN), Duration::from_secs(2));
    }

    #[test]
    fn odd_parameters_do_not_panic() {
        let p = TransmissionParams {
            ack_timeout: Duration::MAX,
            ack_random_factor: f64::INFINITY,
            max_retransmit: u32::MAX,
            nstart: 0,
            max_latency: Duration::MAX,
        };
        let _ = (
            p.exchange_lifetime(),
            p.non_lifetime(),
            p.max_transmit_wait(),
            p.retransmission_window(u32::MAX),
            p.initial_timeout(0.7),
        );
    }
}
