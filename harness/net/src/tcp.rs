//! A TCP connection whose every read and write is recorded.

use std::io;
use std::net::SocketAddr;

use hilt_core::Direction;
use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

use crate::record::Recorder;

#[derive(Debug)]
pub struct RecordedTcp {
    stream: TcpStream,
    recorder: Recorder,
    conn: u32,
    peer: SocketAddr,
}

impl RecordedTcp {
    /// Connects to `peer` and registers the connection with `recorder`.
    pub async fn connect(
        peer: SocketAddr,
        recorder: &Recorder,
        well_known_port: Option<u16>,
    ) -> io::Result<Self> {
        let stream = TcpStream::connect(peer).await?;
        // Conformance tests send frames one at a time and time replies: no batching.
        stream.set_nodelay(true)?;
        let local = stream.local_addr()?;
        let conn = recorder.open(local, peer, well_known_port);
        Ok(RecordedTcp {
            stream,
            recorder: recorder.clone(),
            conn,
            peer,
        })
    }

    pub fn conn_id(&self) -> u32 {
        self.conn
    }

    pub fn peer(&self) -> SocketAddr {
        self.peer
    }

    pub async fn send(&mut self, bytes: &[u8]) -> io::Result<()> {
        self.recorder.record(self.conn, Direction::Sent, bytes);
        self.stream.write_all(bytes).await
    }

    /// Reads what is available into `buf`; `Ok(0)` is the peer's end of stream.
    pub async fn recv(&mut self, buf: &mut Vec<u8>) -> io::Result<usize> {
        let start = buf.len();
        buf.reserve(4096);
        let n = match self.stream.read_buf(buf).await {
            Ok(n) => n,
            Err(e) => {
                self.recorder.closed_by_peer(self.conn);
                return Err(e);
            }
        };
        if n == 0 {
            self.recorder.closed_by_peer(self.conn);
        } else {
            self.recorder
                .record(self.conn, Direction::Received, &buf[start..start + n]);
        }
        Ok(n)
    }

    /// Closes our sending side (FIN) while still able to read.
    pub async fn shutdown_write(&mut self) -> io::Result<()> {
        self.stream.shutdown().await
    }
}
