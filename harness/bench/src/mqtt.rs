//! MQTT for the engine ([`Mqtt`]): CONNECT/CONNACK and SUBSCRIBE/SUBACK with hilt's
//! codec, each bounded by a deadline; PUBLISH encoded once per connection
//! ([`PublishTemplate`]) and decoded in place ([`PublishView`]).

use std::net::SocketAddr;
use std::ops::Range;
use std::time::Duration;

use hilt_wire::Decoded;
use hilt_wire::mqtt::{
    Ack, Connect, Packet, PacketType, PublishView, QoS, Subscribe, Subscription, Version, decode,
};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::header::Header;
use crate::protocol::{AckReader, Conn, OpenedPublisher, Protocol, Receiver};
use crate::publish::PublishTemplate;
use crate::workload::{Topology, Workload};

const HANDSHAKE_TIMEOUT: Duration = Duration::from_secs(10);

/// A connected client: its socket and what the server allows.
#[derive(Debug)]
pub struct Opened {
    pub stream: TcpStream,
    /// Receive Maximum from CONNACK (5.0): at most this many QoS 1 PUBLISHes unacknowledged.
    pub receive_maximum: Option<u16>,
}

async fn read_packet(
    stream: &mut TcpStream,
    buf: &mut Vec<u8>,
    version: Version,
) -> Result<Packet, String> {
    loop {
        match decode(buf, version) {
            Ok(Decoded::Done(p, len)) => {
                buf.drain(..len);
                return Ok(p);
            }
            Ok(Decoded::NeedMore(_)) => {}
            Err(v) => return Err(format!("malformed reply: {v}")),
        }
        let mut chunk = [0u8; 4096];
        let n = stream
            .read(&mut chunk)
            .await
            .map_err(|e| format!("read: {e}"))?;
        if n == 0 {
            return Err("the server closed the connection".into());
        }
        buf.extend_from_slice(&chunk[..n]);
    }
}

/// Connects, sends CONNECT (clean start, no keep-alive: the load itself shows liveness)
/// and waits for a successful CONNACK.
pub async fn connect(
    addr: SocketAddr,
    version: Version,
    client_id: &str,
) -> Result<Opened, String> {
    let fut = async {
        let mut stream = TcpStream::connect(addr)
            .await
            .map_err(|e| format!("connect to {addr}: {e}"))?;
        // Latency benchmarks must not measure Nagle's algorithm.
        stream.set_nodelay(true).map_err(|e| e.to_string())?;
        let connect = Packet::Connect(Connect {
            clean_start: true,
            keep_alive: 0,
            client_id: client_id.into(),
            ..Connect::default()
        });
        stream
            .write_all(&connect.to_bytes(version))
            .await
            .map_err(|e| format!("write CONNECT: {e}"))?;
        let mut buf = Vec::new();
        match read_packet(&mut stream, &mut buf, version).await? {
            // 3.1.1 refuses with return codes 1–5, 5.0 with 0x80 and up: only 0 accepts.
            Packet::ConnAck(ack) if ack.code.0 == 0 => Ok(Opened {
                stream,
                receive_maximum: ack.properties.receive_maximum(),
            }),
            Packet::ConnAck(ack) => Err(format!("CONNACK refused the connection: {:?}", ack.code)),
            other => Err(format!("expected CONNACK, got {:?}", other.packet_type())),
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| {
            Err(format!(
                "no CONNACK from {addr} within {HANDSHAKE_TIMEOUT:?}"
            ))
        })
}

/// Subscribes to `filters` in one SUBSCRIBE and waits for a SUBACK granting them all.
pub async fn subscribe(
    stream: &mut TcpStream,
    version: Version,
    filters: &[String],
    qos: QoS,
) -> Result<(), String> {
    let fut = async {
        let sub = Packet::Subscribe(Subscribe {
            packet_id: 1,
            filters: filters.iter().map(|f| Subscription::new(f, qos)).collect(),
            ..Subscribe::default()
        });
        stream
            .write_all(&sub.to_bytes(version))
            .await
            .map_err(|e| format!("write SUBSCRIBE: {e}"))?;
        let mut buf = Vec::new();
        match read_packet(stream, &mut buf, version).await? {
            Packet::SubAck(ack) => match ack.codes.iter().position(|c| c.is_error()) {
                _ if ack.codes.len() != filters.len() => Err(format!(
                    "SUBACK has {} codes for {} filters",
                    ack.codes.len(),
                    filters.len()
                )),
                None => Ok(()),
                Some(i) => Err(format!("SUBACK refused {}: {:?}", filters[i], ack.codes[i])),
            },
            other => Err(format!("expected SUBACK, got {:?}", other.packet_type())),
        }
    };
    tokio::time::timeout(HANDSHAKE_TIMEOUT, fut)
        .await
        .unwrap_or_else(|_| Err(format!("no SUBACK within {HANDSHAKE_TIMEOUT:?}")))
}

/// MQTT as the engine drives it: each publisher has a topic of its own; subscribers
/// subscribe to what the topology makes them hear, at the workload's QoS.
#[derive(Debug, Clone)]
pub struct Mqtt {
    version: Version,
    qos: QoS,
    topology: Topology,
    run: u32,
}

impl Mqtt {
    pub fn new(workload: &Workload, run: u32) -> Mqtt {
        Mqtt {
            version: workload.mqtt_version(),
            qos: workload.mqtt_qos(),
            topology: workload.topology,
            run,
        }
    }

    fn publish_topic(&self, p: u32) -> String {
        format!("hilt/bench/{:08x}/{p}", self.run)
    }

    fn reply_topic(&self, p: u32) -> String {
        format!("hilt/bench/{:08x}/reply/{p}", self.run)
    }

    /// What subscriber `s` subscribes to.
    fn filters(&self, s: u32) -> Vec<String> {
        let every = format!("hilt/bench/{:08x}/+", self.run);
        match self.topology {
            Topology::P2p { .. } => vec![self.publish_topic(s)],
            Topology::FanOut { publishers, .. } => {
                (0..publishers).map(|p| self.publish_topic(p)).collect()
            }
            Topology::FanIn { .. } => vec![every],
            Topology::Shared { .. } => vec![format!("$share/hilt-{:08x}/{every}", self.run)],
            Topology::RequestResponse { .. } => vec![self.reply_topic(s)],
        }
    }

    fn client_id(&self, role: char, n: u32) -> String {
        format!("hb-{:08x}-{role}{n}", self.run)
    }

    fn receiver(&self) -> MqttReceiver {
        MqttReceiver {
            version: self.version,
        }
    }
}

impl Protocol for Mqtt {
    type Template = PublishTemplate;
    type Receiver = MqttReceiver;
    type Acks = MqttAcks;

    fn acked(&self) -> bool {
        self.qos != QoS::AtMostOnce
    }

    async fn open_subscriber(
        &self,
        addr: SocketAddr,
        s: u32,
    ) -> Result<(Conn, MqttReceiver), String> {
        let mut o = connect(addr, self.version, &self.client_id('s', s)).await?;
        subscribe(&mut o.stream, self.version, &self.filters(s), self.qos).await?;
        Ok((o.stream.into(), self.receiver()))
    }

    async fn open_responder(
        &self,
        addr: SocketAddr,
        r: u32,
    ) -> Result<(Conn, MqttReceiver), String> {
        let mut o = connect(addr, self.version, &self.client_id('r', r)).await?;
        subscribe(
            &mut o.stream,
            self.version,
            &[self.publish_topic(r)],
            self.qos,
        )
        .await?;
        Ok((o.stream.into(), self.receiver()))
    }

    async fn open_publisher(
        &self,
        addr: SocketAddr,
        p: u32,
    ) -> Result<OpenedPublisher<MqttAcks>, String> {
        let o = connect(addr, self.version, &self.client_id('p', p)).await?;
        Ok(OpenedPublisher {
            stream: o.stream.into(),
            in_flight: o.receive_maximum.map(u64::from),
            acks: MqttAcks {
                version: self.version,
            },
        })
    }

    fn template(&self, p: u32, header: Header, payload_bytes: usize) -> PublishTemplate {
        PublishTemplate::new(
            self.version,
            self.qos,
            &self.publish_topic(p),
            header,
            payload_bytes,
        )
    }

    fn echo_template(&self, r: u32, header: Header, payload_bytes: usize) -> PublishTemplate {
        PublishTemplate::new(
            self.version,
            self.qos,
            &self.reply_topic(r),
            header,
            payload_bytes,
        )
    }

    fn goodbye(&self) -> Vec<u8> {
        Packet::Disconnect(Default::default()).to_bytes(self.version)
    }
}

/// A subscriber's view of MQTT: PUBLISH decoded in place and acknowledged at its QoS;
/// QoS 2's PUBREL answered, and a responder's own PUBLISHes carried through PUBREC.
#[derive(Debug)]
pub struct MqttReceiver {
    version: Version,
}

impl Receiver for MqttReceiver {
    fn read(
        &mut self,
        buf: &[u8],
        out: &mut Vec<u8>,
    ) -> Result<Decoded<Option<Range<usize>>>, String> {
        match PublishView::parse(buf, self.version) {
            Ok(Decoded::Done(Some(view), len)) => {
                match (view.qos(), view.packet_id()) {
                    (QoS::AtLeastOnce, Some(id)) => {
                        Packet::PubAck(Ack::new(id)).emit(self.version, out);
                    }
                    (QoS::ExactlyOnce, Some(id)) => {
                        Packet::PubRec(Ack::new(id)).emit(self.version, out);
                    }
                    _ => {}
                }
                let payload = view.payload();
                let at = payload.as_ptr() as usize - buf.as_ptr() as usize;
                Ok(Decoded::Done(Some(at..at + payload.len()), len))
            }
            Ok(Decoded::Done(None, len)) => {
                let frame = &buf[..len];
                if len >= 4 {
                    let id = u16::from_be_bytes([frame[2], frame[3]]);
                    let kind = frame[0] >> 4;
                    if kind == PacketType::PubRel as u8 {
                        Packet::PubComp(Ack::new(id)).emit(self.version, out);
                    } else if kind == PacketType::PubRec as u8 {
                        Packet::PubRel(Ack::new(id)).emit(self.version, out);
                    }
                }
                Ok(Decoded::Done(None, len))
            }
            Ok(Decoded::NeedMore(n)) => Ok(Decoded::NeedMore(n)),
            Err(v) => Err(format!("malformed PUBLISH from the target: {v}")),
        }
    }
}

/// A publisher's view of MQTT: PUBACK and PUBCOMP acknowledge, PUBREC is answered with
/// PUBREL. Acknowledgements are tiny and fixed: read from the fixed header and the
/// packet identifier without building packets.
#[derive(Debug)]
pub struct MqttAcks {
    version: Version,
}

impl AckReader for MqttAcks {
    fn read(
        &mut self,
        buf: &[u8],
        replies: &mut Vec<u8>,
        acked: &mut dyn FnMut(u64),
    ) -> Result<Decoded<()>, String> {
        let len = match hilt_wire::mqtt::frame_len_for(buf, self.version) {
            Ok(Decoded::Done(len, _)) => len,
            Ok(Decoded::NeedMore(n)) => return Ok(Decoded::NeedMore(n)),
            Err(v) => return Err(format!("malformed packet from the target: {v}")),
        };
        let frame = &buf[..len];
        if frame.len() >= 4 {
            let id = u16::from_be_bytes([frame[2], frame[3]]);
            let kind = frame[0] >> 4;
            if kind == PacketType::PubRec as u8 {
                Packet::PubRel(Ack::new(id)).emit(self.version, replies);
            } else if kind == PacketType::PubAck as u8 || kind == PacketType::PubComp as u8 {
                acked(u64::from(id));
            }
        }
        Ok(Decoded::Done((), len))
    }
}
