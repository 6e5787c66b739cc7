//! A device's serial line — a real UART or QEMU's pty, opened by the same code — split
//! into its console (lines of text) and its SLIP frames (IPv6 packets).
//!
//! The port is read by a thread of its own (the serialport crate is blocking), which
//! runs the line through [`SlipDemux`]: console lines go to every [`Console`] subscribed,
//! frames to the one taker of [`DeviceLine::take_frames`]. Writes (console commands,
//! SLIP frames) go through one lock, so a frame is never interleaved with a command.
//! When the port goes away (a board unplugged, QEMU gone), consoles see
//! [`ConsoleError::Closed`] and the frame channel ends: an infrastructure error, not a
//! test verdict.

use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use hilt_wire::slip::{SlipDemux, SlipEvent, SlipStats, encode};
use serialport::{SerialPort, TTYPort};
use tokio::sync::{broadcast, mpsc};

/// How long a read waits before the thread checks whether it should stop.
const READ_POLL: Duration = Duration::from_millis(50);
/// Console lines buffered for a subscriber that reads slowly.
const LINE_BACKLOG: usize = 4096;
/// Frames buffered for the bridge.
const FRAME_BACKLOG: usize = 1024;

#[derive(Debug, thiserror::Error)]
pub enum SerialError {
    #[error("failed to open serial port {path}: {reason}")]
    Open { path: String, reason: String },
    #[error("failed to write to serial port {path}: {source}")]
    Write { path: String, source: io::Error },
}

/// What a console reader sees.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ConsoleLine {
    /// A line of text, without its line ending.
    Text(String),
    /// The port closed or failed: nothing more will come.
    Closed(String),
}

/// Counters of the line, as seen from hilt's side.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LineStats {
    pub slip: SlipStats,
    pub frames_out: u64,
}

#[derive(Debug)]
struct Shared {
    path: String,
    writer: Mutex<TTYPort>,
    lines: broadcast::Sender<ConsoleLine>,
    stats: Mutex<LineStats>,
    stop: AtomicBool,
    /// Every console line seen, for the rig's log.
    transcript: Mutex<Vec<String>>,
}

/// An open serial line with its reader thread. Dropping it stops the thread.
#[derive(Debug)]
pub struct DeviceLine {
    shared: Arc<Shared>,
    frames: Option<mpsc::Receiver<Vec<u8>>>,
}

impl DeviceLine {
    /// Opens `path` at `baud` (a pty ignores the rate) and starts reading.
    pub fn open(path: &str, baud: u32) -> Result<Self, SerialError> {
        let port = serialport::new(path, baud)
            .timeout(READ_POLL)
            .open_native()
            .map_err(|e| SerialError::Open {
                path: path.to_owned(),
                reason: e.to_string(),
            })?;
        Self::from_port(path, port)
    }

    /// Starts reading an already open port (one end of a pty pair in tests).
    pub fn from_port(path: &str, mut port: TTYPort) -> Result<Self, SerialError> {
        let open_err = |e: serialport::Error| SerialError::Open {
            path: path.to_owned(),
            reason: e.to_string(),
        };
        port.set_timeout(READ_POLL).map_err(open_err)?;
        let reader = port.try_clone_native().map_err(open_err)?;
        let (lines, _) = broadcast::channel(LINE_BACKLOG);
        let (frames_tx, frames_rx) = mpsc::channel(FRAME_BACKLOG);
        let shared = Arc::new(Shared {
            path: path.to_owned(),
            writer: Mutex::new(port),
            lines,
            stats: Mutex::default(),
            stop: AtomicBool::new(false),
            transcript: Mutex::default(),
        });
        let thread_shared = Arc::clone(&shared);
        std::thread::Builder::new()
            .name(format!("serial {path}"))
            .spawn(move || read_loop(reader, &thread_shared, &frames_tx))
            .map_err(|e| SerialError::Open {
                path: path.to_owned(),
                reason: format!("cannot start the reader thread: {e}"),
            })?;
        Ok(DeviceLine {
            shared,
            frames: Some(frames_rx),
        })
    }

    pub fn path(&self) -> &str {
        &self.shared.path
    }

    /// A new reader of console lines, seeing lines from now on.
    pub fn console(&self) -> Console {
        Console {
            rx: self.shared.lines.subscribe(),
            writer: self.writer(),
        }
    }

    /// A handle that writes to the line.
    pub fn writer(&self) -> LineWriter {
        LineWriter {
            shared: Arc::clone(&self.shared),
        }
    }

    /// The frames the device sends; only the first caller gets them.
    pub fn take_frames(&mut self) -> Option<mpsc::Receiver<Vec<u8>>> {
        self.frames.take()
    }

    pub fn stats(&self) -> LineStats {
        *lock(&self.shared.stats)
    }

    /// Every console line seen so far.
    pub fn transcript(&self) -> Vec<String> {
        lock(&self.shared.transcript).clone()
    }
}

impl Drop for DeviceLine {
    fn drop(&mut self) {
        self.shared.stop.store(true, Ordering::Relaxed);
    }
}

/// Writes console text and SLIP frames to the line; cheap to clone.
#[derive(Debug, Clone)]
pub struct LineWriter {
    shared: Arc<Shared>,
}

impl LineWriter {
    /// Writes bytes as they are (console input).
    pub fn write_raw(&self, bytes: &[u8]) -> Result<(), SerialError> {
        let mut port = lock(&self.shared.writer);
        port.write_all(bytes)
            .and_then(|()| port.flush())
            .map_err(|source| SerialError::Write {
                path: self.shared.path.clone(),
                source,
            })
    }

    /// Writes one command line, ended by "\r" as a terminal would.
    pub fn send_line(&self, command: &str) -> Result<(), SerialError> {
        let mut bytes = command.as_bytes().to_vec();
        bytes.push(b'\r');
        self.write_raw(&bytes)
    }

    /// Writes one packet as a SLIP frame.
    pub fn send_frame(&self, packet: &[u8]) -> Result<(), SerialError> {
        self.write_raw(&encode(packet))?;
        lock(&self.shared.stats).frames_out += 1;
        Ok(())
    }
}

#[derive(Debug, thiserror::Error, PartialEq, Eq)]
pub enum ConsoleError {
    #[error("no line matching `{pattern}` within {waited:?}")]
    Timeout { pattern: String, waited: Duration },
    #[error("the console closed: {0}")]
    Closed(String),
}

/// A reader of the device's console lines, with expect-style waits.
#[derive(Debug)]
pub struct Console {
    rx: broadcast::Receiver<ConsoleLine>,
    writer: LineWriter,
}

impl Console {
    pub fn writer(&self) -> &LineWriter {
        &self.writer
    }

    pub fn send_line(&self, command: &str) -> Result<(), SerialError> {
        self.writer.send_line(command)
    }

    /// The next line, or `None` after `timeout`.
    pub async fn next_line(&mut self, timeout: Duration) -> Result<Option<String>, ConsoleError> {
        match tokio::time::timeout(timeout, self.recv()).await {
            Ok(r) => r.map(Some),
            Err(_) => Ok(None),
        }
    }

    /// Waits for a line matching `pattern`, returning it; lines before it are skipped.
    pub async fn expect(
        &mut self,
        pattern: &regex::Regex,
        timeout: Duration,
    ) -> Result<String, ConsoleError> {
        let wait = async {
            loop {
                let line = self.recv().await?;
                if pattern.is_match(&line) {
                    return Ok(line);
                }
            }
        };
        tokio::time::timeout(timeout, wait)
            .await
            .unwrap_or_else(|_| {
                Err(ConsoleError::Timeout {
                    pattern: pattern.as_str().to_owned(),
                    waited: timeout,
                })
            })
    }

    async fn recv(&mut self) -> Result<String, ConsoleError> {
        loop {
            match self.rx.recv().await {
                Ok(ConsoleLine::Text(l)) => return Ok(l),
                Ok(ConsoleLine::Closed(why)) => return Err(ConsoleError::Closed(why)),
                // A slow reader lost lines; the ones after still count.
                Err(broadcast::error::RecvError::Lagged(_)) => continue,
                Err(broadcast::error::RecvError::Closed) => {
                    return Err(ConsoleError::Closed("the line was dropped".into()));
                }
            }
        }
    }
}

fn lock<T>(m: &Mutex<T>) -> std::sync::MutexGuard<'_, T> {
    m.lock().unwrap_or_else(|p| p.into_inner())
}

/// Splits console bytes into lines ending in "\n" (a "\r" before it dropped).
#[derive(Debug, Default)]
struct LineAssembler {
    partial: Vec<u8>,
}

impl LineAssembler {
    fn push(&mut self, bytes: &[u8], mut line: impl FnMut(String)) {
        for &b in bytes {
            if b == b'\n' {
                let mut l = std::mem::take(&mut self.partial);
                if l.last() == Some(&b'\r') {
                    l.pop();
                }
                line(String::from_utf8_lossy(&l).into_owned());
            } else {
                self.partial.push(b);
            }
        }
    }
}

fn read_loop(mut port: TTYPort, shared: &Shared, frames: &mpsc::Sender<Vec<u8>>) {
    let mut demux = SlipDemux::default();
    let mut lines = LineAssembler::default();
    let mut buf = [0u8; 2048];
    let closed = loop {
        if shared.stop.load(Ordering::Relaxed) {
            break "hilt closed the line".to_owned();
        }
        match port.read(&mut buf) {
            Ok(0) => break "end of file".to_owned(),
            Ok(n) => demux.handle_input(&buf[..n]),
            Err(e) if e.kind() == io::ErrorKind::TimedOut => continue,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => continue,
            Err(e) => break e.to_string(),
        }
        while let Some(event) = demux.poll_event() {
            match event {
                SlipEvent::Text(t) => lines.push(&t, |l| {
                    tracing::debug!(port = %shared.path, "console: {l}");
                    lock(&shared.transcript).push(l.clone());
                    let _ = shared.lines.send(ConsoleLine::Text(l));
                }),
                SlipEvent::Frame(f) => {
                    // A full channel means the bridge stalled; dropping is what a
                    // real link would do.
                    let _ = frames.try_send(f);
                }
                SlipEvent::Dropped(why) => {
                    tracing::warn!(port = %shared.path, "SLIP frame dropped: {why}");
                }
            }
        }
        lock(&shared.stats).slip = demux.stats();
    };
    let _ = shared.lines.send(ConsoleLine::Closed(closed));
}

#[cfg(test)]
mod test {
    use super::*;

    fn pair() -> (TTYPort, DeviceLine) {
        let (master, slave) = TTYPort::pair().expect("a pty pair");
        let name = slave.name().unwrap_or_default();
        (master, DeviceLine::from_port(&name, slave).unwrap())
    }

    #[tokio::test]
    async fn console_lines_and_frames_are_split() {
        let (mut device, mut line) = pair();
        let mut console = line.console();
        let mut frames = line.take_frames().unwrap();
        let mut bytes = b"hilt-fw 0.1 board=lm3s6965evb id=1\r\n".to_vec();
        bytes.extend(encode(&[0x60, 0xC0, 0xDB]));
        bytes.extend(b"ready\r\n");
        device.write_all(&bytes).unwrap();
        let banner = regex::Regex::new(r"^hilt-fw \S+ board=").unwrap();
        let got = console
            .expect(&banner, Duration::from_secs(5))
            .await
            .unwrap();
        assert!(got.ends_with("id=1"), "{got}");
        assert_eq!(
            console.next_line(Duration::from_secs(5)).await.unwrap(),
            Some("ready".into())
        );
        let f = tokio::time::timeout(Duration::from_secs(5), frames.recv())
            .await
            .unwrap();
        assert_eq!(f, Some(vec![0x60, 0xC0, 0xDB]));
        assert_eq!(line.transcript().len(), 2);
    }

    #[tokio::test]
    async fn writes_reach_the_device_framed() {
        let (mut device, line) = pair();
        line.writer().send_line("version").unwrap();
        line.writer().send_frame(&[0x60, 0xC0]).unwrap();
        let mut got: Vec<u8> = Vec::new();
        let mut buf = [0u8; 64];
        device.set_timeout(Duration::from_secs(2)).unwrap();
        while got.len() < 13 {
            let n = device.read(&mut buf).unwrap();
            got.extend(&buf[..n]);
        }
        assert_eq!(got, b"version\r\xC0\x60\xDB\xDC\xC0".to_vec());
        assert_eq!(line.stats().frames_out, 1);
    }

    #[tokio::test]
    async fn expect_times_out_and_a_vanished_port_closes_the_console() {
        let (device, line) = pair();
        let mut console = line.console();
        let never = regex::Regex::new("never").unwrap();
        let e = console
            .expect(&never, Duration::from_millis(100))
            .await
            .unwrap_err();
        assert!(matches!(e, ConsoleError::Timeout { .. }), "{e}");
        drop(device);
        let e = console
            .expect(&never, Duration::from_secs(5))
            .await
            .unwrap_err();
        assert!(matches!(e, ConsoleError::Closed(_)), "{e}");
    }
}
