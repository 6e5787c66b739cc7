//! One-line summaries and complete problem lists for traces, and the [`Framer`] the
//! protocol-agnostic layers (recorder, interposer, reports) use for MQTT.

use std::fmt::Write as _;

use crate::framing::{Decoded, FrameMeta, Framer};

use super::connect::connect_version;
use super::error::{Version, Violation};
use super::header::{FixedHeader, PacketType, frame_len_for};
use super::packet::{Packet, decode_lenient};
use super::reason::ReasonCode;

/// What the dissector makes of one frame.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Dissection {
    /// `PUBLISH`, `CONNACK`…; `RESERVED` for type 0 or 3.1.1's 15, `MALFORMED` when not
    /// even the fixed header reads.
    pub kind: &'static str,
    pub summary: String,
    /// Every rule the frame breaks, in frame order where the rules allow.
    pub problems: Vec<Violation>,
    /// The packet, when the frame could be read to its end despite its problems.
    pub packet: Option<Packet>,
}

/// Decodes one complete frame leniently: all the rules it breaks, and a summary even
/// when it breaks some.
pub fn dissect(frame: &[u8], version: Version) -> Dissection {
    let (packet, problems) = decode_lenient(frame, version);
    let header = match FixedHeader::parse(frame, version) {
        Ok(Decoded::Done(h, _)) => Some(h),
        _ => None,
    };
    let version = match header.and_then(|h| h.packet_type()) {
        Some(PacketType::Connect) => connect_version(frame).unwrap_or(version),
        _ => version,
    };
    let kind = match header.map(|h| h.packet_type()) {
        None => "MALFORMED",
        Some(None) => "RESERVED",
        Some(Some(PacketType::Auth)) if version == Version::V311 => "RESERVED",
        Some(Some(t)) => t.name(),
    };
    let summary = match (&packet, header) {
        (Some(p), Some(h)) => summarize_with_flags(p, version, h.first_byte),
        (Some(p), None) => summarize(p, version),
        (None, _) => format!("{kind} (unreadable) {}B", frame.len()),
    };
    Dissection {
        kind,
        summary,
        problems,
        packet,
    }
}

/// A one-line description of a packet: `PUBLISH qos=1 id=7 retain topic="a/b" 5B`.
pub fn summarize(packet: &Packet, version: Version) -> String {
    let first_byte = match packet {
        Packet::Publish(p) => {
            (PacketType::Publish as u8) << 4
                | p.qos.as_u8() << 1
                | u8::from(p.dup) << 3
                | u8::from(p.retain)
        }
        _ => 0,
    };
    summarize_with_flags(packet, version, first_byte)
}

fn code_part(code: ReasonCode, kind: PacketType, version: Version) -> String {
    let name = code.name_in(kind, version).unwrap_or("unknown");
    format!("code=0x{:02x} ({name})", code.0)
}

fn summarize_with_flags(packet: &Packet, version: Version, first_byte: u8) -> String {
    let kind = packet.packet_type();
    let mut s = String::from(kind.name());
    // Writing to a String cannot fail.
    match packet {
        Packet::Connect(c) => {
            let _ = write!(s, " v{version} client_id={:?}", c.client_id);
            if c.clean_start {
                s.push_str(" clean");
            }
            let _ = write!(s, " keep_alive={}", c.keep_alive);
            if let Some(w) = &c.will {
                let _ = write!(s, " will(qos={} topic={:?}", w.qos.as_u8(), w.topic);
                if w.retain {
                    s.push_str(" retain");
                }
                s.push(')');
            }
            if let Some(u) = &c.username {
                let _ = write!(s, " user={u:?}");
            }
            if c.password.is_some() {
                s.push_str(" password");
            }
        }
        Packet::ConnAck(c) => {
            let _ = write!(s, " {}", code_part(c.code, kind, version));
            if c.session_present {
                s.push_str(" session_present");
            }
        }
        Packet::Publish(p) => {
            // From the wire bits, so a QoS of 3 shows as 3.
            let _ = write!(s, " qos={}", (first_byte >> 1) & 0b11);
            if let Some(id) = p.packet_id {
                let _ = write!(s, " id={id}");
            }
            if p.dup {
                s.push_str(" dup");
            }
            if p.retain {
                s.push_str(" retain");
            }
            let _ = write!(s, " topic={:?}", p.topic);
            if let Some(alias) = p.properties.topic_alias() {
                let _ = write!(s, " alias={alias}");
            }
            let _ = write!(s, " {}B", p.payload.len());
        }
        Packet::PubAck(a) | Packet::PubRec(a) | Packet::PubRel(a) | Packet::PubComp(a) => {
            let _ = write!(s, " id={}", a.packet_id);
            if a.code != ReasonCode::SUCCESS {
                let _ = write!(s, " {}", code_part(a.code, kind, version));
            }
        }
        Packet::Subscribe(sub) => {
            let _ = write!(s, " id={}", sub.packet_id);
            for (i, f) in sub.filters.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                let _ = write!(s, "{sep}{:?} qos={}", f.filter, f.options.qos.as_u8());
            }
        }
        Packet::SubAck(a) => {
            let codes: Vec<String> = a.codes.iter().map(|c| format!("0x{:02x}", c.0)).collect();
            let _ = write!(s, " id={} codes=[{}]", a.packet_id, codes.join(", "));
        }
        Packet::Unsubscribe(u) => {
            let _ = write!(s, " id={}", u.packet_id);
            for (i, f) in u.filters.iter().enumerate() {
                let sep = if i == 0 { " " } else { ", " };
                let _ = write!(s, "{sep}{f:?}");
            }
        }
        Packet::UnsubAck(a) => {
            let _ = write!(s, " id={}", a.packet_id);
            if !a.codes.is_empty() {
                let codes: Vec<String> = a.codes.iter().map(|c| format!("0x{:02x}", c.0)).collect();
                let _ = write!(s, " codes=[{}]", codes.join(", "));
            }
        }
        Packet::PingReq | Packet::PingResp => {}
        Packet::Disconnect(d) => {
            if version == Version::V5 {
                let _ = write!(s, " {}", code_part(d.code, kind, version));
            }
        }
        Packet::Auth(a) => {
            let _ = write!(s, " {}", code_part(a.code, kind, version));
        }
    }
    s
}

/// MQTT's [`Framer`]: splits a stream, names and summarises frames, lists their problems.
///
/// Until it sees a CONNECT (in either direction, through [`Framer::observe_peer`]) it
/// reads frames as 3.1.1, whose layouts are the more forgiving guess mid-stream.
#[derive(Debug, Clone)]
pub struct MqttFramer {
    version: Version,
}

impl Default for MqttFramer {
    fn default() -> Self {
        MqttFramer {
            version: Version::V311,
        }
    }
}

impl MqttFramer {
    pub fn new() -> Self {
        Self::default()
    }

    /// A framer that already knows the version (a connection whose CONNECT it missed).
    pub fn with_version(version: Version) -> Self {
        MqttFramer { version }
    }

    pub fn version(&self) -> Version {
        self.version
    }

    fn learn(&mut self, frame: &[u8]) {
        if let Some(v) = connect_version(frame) {
            self.version = v;
        }
    }
}

impl Framer for MqttFramer {
    fn frame_len(&mut self, buf: &[u8]) -> Result<Decoded<usize>, String> {
        frame_len_for(buf, self.version).map_err(|v| v.to_string())
    }

    fn describe(&mut self, frame: &[u8]) -> FrameMeta {
        self.learn(frame);
        let d = dissect(frame, self.version);
        FrameMeta {
            kind: d.kind,
            summary: d.summary,
            problems: d.problems.iter().map(ToString::to_string).collect(),
        }
    }

    fn observe_peer(&mut self, frame: &[u8]) {
        self.learn(frame);
    }
}

#[cfg(test)]
mod test {
    use super::super::header::QoS;
    use super::super::publish::Publish;
    use super::*;

    #[test]
    fn publish_summary() {
        let p = Packet::Publish(Publish {
            qos: QoS::AtLeastOnce,
            retain: true,
            topic: "a/b".into(),
            packet_id: Some(7),
            payload: b"hello".to_vec(),
            ..Publish::default()
        });
        assert_eq!(
            summarize(&p, Version::V5),
            "PUBLISH qos=1 id=7 retain topic=\"a/b\" 5B"
        );
    }

    #[test]
    fn framer_learns_version_from_connect_either_way() {
        let mut f = MqttFramer::new();
        assert_eq!(f.version(), Version::V311);
        let connect = [0x10, 13, 0, 4, b'M', b'Q', b'T', b'T', 5, 2, 0, 60, 0, 0, 0];
        f.observe_peer(&connect);
        assert_eq!(f.version(), Version::V5);
        let connack_v5 = [0x20, 3, 0, 0, 0];
        assert_eq!(f.frame_len(&connack_v5), Ok(Decoded::Done(5, 5)));
        let meta = f.describe(&connack_v5);
        assert_eq!(meta.kind, "CONNACK");
        assert_eq!(meta.summary, "CONNACK code=0x00 (Success)");
        assert!(meta.problems.is_empty());
        let mut g = MqttFramer::new();
        let m = g.describe(&connect);
        assert_eq!(m.summary, "CONNECT v5.0 client_id=\"\" clean keep_alive=60");
        assert_eq!(g.version(), Version::V5);
    }

    #[test]
    fn problems_are_all_listed() {
        let mut f = MqttFramer::with_version(Version::V311);
        // reserved flags + QoS-3 subscription + empty filter
        let frame = [0x83, 9, 0, 1, 0, 1, b'a', 3, 0, 0, 0];
        let meta = f.describe(&frame);
        assert_eq!(meta.kind, "SUBSCRIBE");
        assert_eq!(
            meta.problems,
            [
                "[MQTT-3.8.1-1] SUBSCRIBE fixed header flags are 0b0011, not 0b0010 at offset 0",
                "[MQTT-3-8.3-4] subscription maximum QoS is 3 at offset 7",
                "[MQTT-4.7.3-1] topic filter is empty at offset 10",
            ]
        );
    }

    #[test]
    fn unreadable_frames_still_get_a_line() {
        let d = dissect(&[0x30, 5, 0, 9, b'a', b'b', b'c'], Version::V311);
        assert_eq!(d.kind, "PUBLISH");
        assert_eq!(d.summary, "PUBLISH (unreadable) 7B");
        assert_eq!(d.problems[0].rule.id, "§2.2.3");
        let d = dissect(&[0x00, 0], Version::V5);
        assert_eq!(d.kind, "RESERVED");
        let d = dissect(&[0x30, 0xff, 0xff, 0xff, 0xff], Version::V5);
        assert_eq!(d.kind, "MALFORMED");
    }
}
