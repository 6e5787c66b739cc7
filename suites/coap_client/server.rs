//! hilt's CoAP server for judging a client: the sans-IO [`Endpoint`] driven over a
//! loopback UDP socket, with every datagram it receives kept with its arrival time.
//!
//! The client under test never reaches this socket directly: the interposer sits in
//! front of it ([`super::bench::Bench`]) and records both legs. What this server
//! receives is therefore what the client sent after the control's faults, which is
//! what a verdict must judge.

use std::net::SocketAddr;

use hilt_core::Instant as CoreInstant;
use hilt_runner::Failure;
use hilt_wire::coap::{Endpoint, EndpointEvent, Exchange, Message, TransmissionParams, Violation};
use tokio::net::UdpSocket;
use tokio::time::{Instant, timeout_at};

/// A datagram as the server received it.
#[derive(Debug, Clone)]
pub struct Arrival {
    pub at: Instant,
    /// The message, or the rule it breaks.
    pub message: Result<Message, Violation>,
}

impl Arrival {
    pub fn msg(&self) -> Option<&Message> {
        self.message.as_ref().ok()
    }
}

#[derive(Debug)]
pub struct Server {
    socket: UdpSocket,
    endpoint: Endpoint,
    origin: Instant,
    /// Every datagram received, in order.
    pub arrivals: Vec<Arrival>,
}

impl Server {
    /// Binds an ephemeral loopback port; `seed` makes the endpoint's Message IDs and
    /// timeouts repeatable per test attempt.
    pub async fn bind(seed: u64) -> Result<Self, Failure> {
        let socket = UdpSocket::bind("127.0.0.1:0")
            .await
            .map_err(|e| Failure::error(format!("cannot bind hilt's CoAP server: {e}")))?;
        // Retransmission windows are judged on arrival times: the kernel's, so that a
        // busy machine's scheduling latency is not charged to the client.
        hilt_net::udp::stamp_arrivals(&socket)
            .map_err(|e| Failure::error(format!("cannot ask for arrival stamps: {e}")))?;
        Ok(Server {
            socket,
            endpoint: Endpoint::new(TransmissionParams::default(), seed),
            origin: Instant::now(),
            arrivals: Vec::new(),
        })
    }

    pub fn addr(&self) -> Result<SocketAddr, Failure> {
        self.socket
            .local_addr()
            .map_err(|e| Failure::error(format!("hilt's CoAP server has no address: {e}")))
    }

    /// The endpoint's clock: microseconds since the server started.
    fn now(&self) -> CoreInstant {
        CoreInstant::from_micros(self.origin.elapsed().as_micros() as u64)
    }

    fn to_tokio(&self, at: CoreInstant) -> Instant {
        self.origin + std::time::Duration::from_micros(at.as_micros())
    }

    async fn flush(&mut self) -> Result<(), Failure> {
        while let Some(tx) = self.endpoint.poll_transmit() {
            self.socket
                .send_to(&tx.bytes, tx.peer)
                .await
                .map_err(|e| Failure::error(format!("cannot send to {}: {e}", tx.peer)))?;
        }
        Ok(())
    }

    /// The next event before `deadline`, retransmitting what is due meanwhile; `None`
    /// when the deadline passes first.
    pub async fn next_event(
        &mut self,
        deadline: Instant,
    ) -> Result<Option<EndpointEvent>, Failure> {
        let mut buf = vec![0u8; hilt_net::udp::MAX_DATAGRAM];
        loop {
            self.flush().await?;
            if let Some(ev) = self.endpoint.poll_event() {
                return Ok(Some(ev));
            }
            let wake = match self.endpoint.poll_timeout() {
                Some(t) => self.to_tokio(t).min(deadline),
                None => deadline,
            };
            match timeout_at(wake, hilt_net::udp::recv_stamped(&self.socket, &mut buf)).await {
                Ok(Ok((n, from, arrived))) => {
                    let at = Instant::from_std(arrived);
                    let bytes = &buf[..n];
                    let now = self.now();
                    self.endpoint.handle_input(now, from, bytes);
                    self.arrivals.push(Arrival {
                        at,
                        message: Message::parse(bytes),
                    });
                }
                // The client's port closed (ICMP): nothing to receive from it now.
                Ok(Err(e)) if e.kind() == std::io::ErrorKind::ConnectionRefused => {}
                Ok(Err(e)) => return Err(Failure::error(format!("cannot receive: {e}"))),
                Err(_) => {
                    let now = self.now();
                    self.endpoint.handle_timeout(now);
                    if Instant::now() >= deadline {
                        self.flush().await?;
                        return Ok(self.endpoint.poll_event());
                    }
                }
            }
        }
    }

    /// Runs until `deadline`, answering requests with `answer`, and returns every
    /// other event.
    pub async fn serve_until(
        &mut self,
        deadline: Instant,
        mut answer: impl FnMut(&mut Server, &Exchange, &Message),
    ) -> Result<Vec<EndpointEvent>, Failure> {
        let mut other = Vec::new();
        while let Some(ev) = self.next_event(deadline).await? {
            match ev {
                EndpointEvent::Request { exchange, request } => {
                    answer(self, &exchange, &request);
                }
                ev => other.push(ev),
            }
        }
        Ok(other)
    }

    /// Answers `exchange` (piggybacked when it can be); returns the Message ID used.
    pub fn respond(&mut self, exchange: &Exchange, response: Message) -> u16 {
        let now = self.now();
        self.endpoint.respond(now, exchange, response)
    }

    /// An Empty ACK: the response will be separate.
    pub fn accept(&mut self, exchange: &Exchange) {
        self.endpoint.accept(exchange);
    }

    /// A new CON or NON message to `peer` (a notification, a stray message).
    pub fn send(&mut self, peer: SocketAddr, message: Message) -> u16 {
        let now = self.now();
        self.endpoint.send(now, peer, message)
    }

    /// Requests the server received (new or repeated), in order.
    pub fn requests(&self) -> impl Iterator<Item = (&Arrival, &Message)> {
        self.arrivals
            .iter()
            .filter_map(|a| Some((a, a.msg()?)))
            .filter(|(_, m)| m.code.is_request())
    }
}
