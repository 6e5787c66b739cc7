//! Opening benchmark connections with hilt's MQTT codec: CONNECT/CONNACK and
//! SUBSCRIBE/SUBACK, each bounded by a deadline. The message flow itself is in
//! [`crate::engine`].

use std::net::SocketAddr;
use std::time::Duration;

use hilt_wire::Decoded;
use hilt_wire::mqtt::{Connect, Packet, QoS, Subscribe, Subscription, Version, decode};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

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
