//! Heart-beat negotiation: the `heart-beat` header of CONNECT and CONNECTED, and the
//! intervals both sides then owe each other.

use std::time::Duration;

/// A `heart-beat:<x>,<y>` header: what its sender can send, and what it wants to get,
/// in milliseconds (0: none).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct HeartBeat {
    pub can_send_ms: u32,
    pub wants_ms: u32,
}

impl HeartBeat {
    /// What a missing header means: `0,0`.
    pub const NONE: HeartBeat = HeartBeat {
        can_send_ms: 0,
        wants_ms: 0,
    };

    pub const fn new(can_send_ms: u32, wants_ms: u32) -> Self {
        HeartBeat {
            can_send_ms,
            wants_ms,
        }
    }

    /// Two decimal integers separated by a comma, nothing else (no spaces, no signs).
    pub fn parse(value: &str) -> Option<Self> {
        let (x, y) = value.split_once(',')?;
        let num = |s: &str| {
            if s.is_empty() || !s.bytes().all(|b| b.is_ascii_digit()) {
                None
            } else {
                s.parse::<u32>().ok()
            }
        };
        Some(HeartBeat::new(num(x)?, num(y)?))
    }

    /// The header value, `x,y`.
    pub fn value(&self) -> String {
        format!("{},{}", self.can_send_ms, self.wants_ms)
    }
}

/// The heart-beats of a session, per direction; `None` where there are none.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Negotiated {
    pub client_to_server: Option<Duration>,
    pub server_to_client: Option<Duration>,
}

/// What CONNECT's `client` and CONNECTED's `server` headers agree on: heart-beats from
/// the client every MAX(cx, sy) ms unless either is 0, and the other way MAX(sx, cy).
pub fn negotiate(client: HeartBeat, server: HeartBeat) -> Negotiated {
    let one = |send: u32, want: u32| {
        (send != 0 && want != 0).then(|| Duration::from_millis(u64::from(send.max(want))))
    };
    Negotiated {
        client_to_server: one(client.can_send_ms, server.wants_ms),
        server_to_client: one(server.can_send_ms, client.wants_ms),
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn parse_and_negotiate() {
        assert_eq!(HeartBeat::parse("0,1000"), Some(HeartBeat::new(0, 1000)));
        for bad in ["", "1", "1,", ",1", "1, 2", "-1,0", "1,2,3", "a,b"] {
            assert_eq!(HeartBeat::parse(bad), None, "{bad:?}");
        }
        let n = negotiate(HeartBeat::new(500, 2000), HeartBeat::new(1000, 800));
        assert_eq!(n.client_to_server, Some(Duration::from_millis(800)));
        assert_eq!(n.server_to_client, Some(Duration::from_millis(2000)));
        let n = negotiate(HeartBeat::new(0, 2000), HeartBeat::NONE);
        assert_eq!(n.client_to_server, None);
        assert_eq!(n.server_to_client, None);
    }
}
