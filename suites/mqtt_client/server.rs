//! hilt's side of an MQTT connection with a client under test: it accepts the client's
//! connections (through the interposer), reads and decodes every packet it sends with
//! its arrival time, and writes whatever the test says, valid or not.
//!
//! This is the scripted broker: a test decides every packet the client gets, so a
//! broker that withholds an acknowledgement, advertises small limits, sends a malformed
//! packet or drops the connection is a few lines of the test, with the same result on
//! every run. What arrives here is what the client sent after the control's faults:
//! what a verdict must judge.

use std::net::SocketAddr;

use hilt_runner::Failure;
use hilt_wire::Decoded;
use hilt_wire::mqtt::{Packet, Version, Violation, connect_version, decode, frame_len};
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::{TcpListener, TcpStream};
use tokio::time::{Instant, timeout_at};

/// Something the client did, as hilt saw it.
#[derive(Debug, Clone)]
pub enum Got {
    Packet {
        at: Instant,
        packet: Packet,
        /// The frame's length in bytes.
        len: usize,
    },
    /// A frame that breaks a rule; the rest of the stream is not read.
    Malformed {
        at: Instant,
        violation: Violation,
        bytes: Vec<u8>,
    },
    /// The client closed the connection (or reset it).
    Closed { at: Instant, reset: bool },
}

impl Got {
    pub fn at(&self) -> Instant {
        match self {
            Got::Packet { at, .. } | Got::Malformed { at, .. } | Got::Closed { at, .. } => *at,
        }
    }

    pub fn packet(&self) -> Option<&Packet> {
        match self {
            Got::Packet { packet, .. } => Some(packet),
            _ => None,
        }
    }

    /// One line for failure messages.
    pub fn describe(&self) -> String {
        match self {
            Got::Packet { packet, .. } => format!("{:?}", packet.packet_type()),
            Got::Malformed {
                violation, bytes, ..
            } => format!(
                "a malformed frame ({violation}): {}",
                crate::hex_excerpt(bytes)
            ),
            Got::Closed { reset: true, .. } => "a reset".into(),
            Got::Closed { reset: false, .. } => "a close (FIN)".into(),
        }
    }
}

/// The listening side; the interposer connects to it for each client connection.
#[derive(Debug)]
pub struct Listener {
    listener: TcpListener,
    /// The version packets are decoded as until a CONNECT says otherwise.
    version: Version,
}

impl Listener {
    pub async fn bind(version: Version) -> Result<Self, Failure> {
        let listener = TcpListener::bind("127.0.0.1:0")
            .await
            .map_err(|e| Failure::error(format!("cannot bind hilt's MQTT server: {e}")))?;
        Ok(Listener { listener, version })
    }

    pub fn addr(&self) -> Result<SocketAddr, Failure> {
        self.listener
            .local_addr()
            .map_err(|e| Failure::error(format!("hilt's MQTT server has no address: {e}")))
    }

    /// The next connection, or `None` when `deadline` passes first.
    pub async fn accept(&self, deadline: Instant) -> Result<Option<Conn>, Failure> {
        match timeout_at(deadline, self.listener.accept()).await {
            Err(_) => Ok(None),
            Ok(Err(e)) => Err(Failure::error(format!("cannot accept: {e}"))),
            Ok(Ok((stream, _))) => {
                let _ = stream.set_nodelay(true);
                Ok(Some(Conn {
                    stream: Some(stream),
                    buf: Vec::new(),
                    version: self.version,
                    ended: false,
                    log: Vec::new(),
                }))
            }
        }
    }
}

/// One connection from the client.
#[derive(Debug)]
pub struct Conn {
    /// `None` once hilt reset the connection.
    stream: Option<TcpStream>,
    buf: Vec<u8>,
    version: Version,
    /// Closed, or unreadable after a malformed frame: nothing more will come.
    ended: bool,
    /// Everything the client did on this connection, in order.
    pub log: Vec<Got>,
}

impl Conn {
    pub fn version(&self) -> Version {
        self.version
    }

    /// The next thing the client does, or `None` when `deadline` passes first (or the
    /// connection already ended).
    pub async fn next(&mut self, deadline: Instant) -> Result<Option<Got>, Failure> {
        loop {
            if let Some(got) = self.take_frame() {
                self.log.push(got.clone());
                return Ok(Some(got));
            }
            let Some(stream) = self.stream.as_mut().filter(|_| !self.ended) else {
                return Ok(None);
            };
            let mut chunk = [0u8; 16 * 1024];
            let got = match timeout_at(deadline, stream.read(&mut chunk)).await {
                Err(_) => return Ok(None),
                Ok(Ok(0)) => Some(Got::Closed {
                    at: Instant::now(),
                    reset: false,
                }),
                Ok(Ok(n)) => {
                    self.buf.extend_from_slice(&chunk[..n]);
                    None
                }
                Ok(Err(e)) => Some(Got::Closed {
                    at: Instant::now(),
                    reset: matches!(
                        e.kind(),
                        std::io::ErrorKind::ConnectionReset | std::io::ErrorKind::ConnectionAborted
                    ),
                }),
            };
            if let Some(closed) = got {
                self.ended = true;
                self.log.push(closed.clone());
                return Ok(Some(closed));
            }
        }
    }

    /// A whole frame from the buffer, decoded, if one is there.
    fn take_frame(&mut self) -> Option<Got> {
        if self.ended || self.buf.is_empty() {
            return None;
        }
        let at = Instant::now();
        let len = match frame_len(&self.buf) {
            Ok(Decoded::Done(len, _)) => len,
            Ok(Decoded::NeedMore(_)) => return None,
            Err(violation) => {
                self.ended = true;
                return Some(Got::Malformed {
                    at,
                    violation,
                    bytes: std::mem::take(&mut self.buf),
                });
            }
        };
        let frame: Vec<u8> = self.buf.drain(..len).collect();
        if let Some(v) = connect_version(&frame) {
            self.version = v;
        }
        match decode(&frame, self.version) {
            Ok(Decoded::Done(packet, len)) => Some(Got::Packet { at, packet, len }),
            Ok(Decoded::NeedMore(_)) => unreachable_frame(at, frame, self.version),
            Err(violation) => {
                self.ended = true;
                Some(Got::Malformed {
                    at,
                    violation,
                    bytes: frame,
                })
            }
        }
    }

    pub async fn send(&mut self, packet: &Packet) -> Result<(), Failure> {
        let bytes = packet.to_bytes(self.version);
        self.send_raw(&bytes).await
    }

    /// Writes `bytes` as they are: for malformed and unexpected packets.
    pub async fn send_raw(&mut self, bytes: &[u8]) -> Result<(), Failure> {
        // A client that already closed makes the write fail; what it did is in the log.
        if let Some(s) = self.stream.as_mut() {
            let _ = s.write_all(bytes).await;
        }
        Ok(())
    }

    /// Closes hilt's side the orderly way (FIN); what the client still sends can be read.
    pub async fn close(&mut self) {
        if let Some(s) = self.stream.as_mut() {
            let _ = s.shutdown().await;
        }
    }

    /// Closes the connection abortively: the client sees a reset.
    pub fn reset(&mut self) {
        if let Some(s) = self.stream.take() {
            let _ = s.set_zero_linger();
        }
        self.ended = true;
    }
}

/// `frame_len` said the frame is whole, so decoding cannot ask for more; if it ever
/// did, the frame is judged malformed rather than waited on.
fn unreachable_frame(at: Instant, frame: Vec<u8>, version: Version) -> Option<Got> {
    let violation = Violation {
        rule: hilt_wire::mqtt::Rule::RemainingLength.spec_ref(version),
        offset: frame.len(),
        detail: "the packet ends before its fields do".into(),
    };
    Some(Got::Malformed {
        at,
        violation,
        bytes: frame,
    })
}
