//! `hilt proxy`: the interposer run by hand, for TCP or UDP, printing a live decoded log.

use std::fmt;
use std::future::Future;
use std::io;
use std::net::SocketAddr;

use tokio::sync::broadcast::error::RecvError;

use super::event::LogEvent;
use super::rule::Rule;
use super::stats::Stats;
use super::tcp::{FramerFactory, Interposer};
use super::udp::UdpInterposer;
use crate::Transport;

/// One line of the proxy's output.
#[derive(Debug, Clone)]
#[non_exhaustive]
pub enum ProxyLogLine {
    Listening {
        local: SocketAddr,
        upstream: SocketAddr,
        rules: usize,
    },
    Event(LogEvent),
    Stopped(Stats),
}

impl fmt::Display for ProxyLogLine {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ProxyLogLine::Listening {
                local,
                upstream,
                rules,
            } => write!(
                f,
                "listening on {local}, relaying to {upstream} ({rules} fault rules)"
            ),
            ProxyLogLine::Event(e) => e.fmt(f),
            ProxyLogLine::Stopped(s) => write!(
                f,
                "stopped after {} connections; to server: {} frames, {} dropped, {} mutated; \
                 to client: {} frames, {} dropped, {} mutated",
                s.connections,
                s.to_server.frames,
                s.to_server.dropped,
                s.to_server.mutated,
                s.to_client.frames,
                s.to_client.dropped,
                s.to_client.mutated
            ),
        }
    }
}

/// Relays `listen` → `upstream` over `transport` (TCP connections, or UDP datagrams
/// per client address) with `rules` until Ctrl-C, handing every log line to `log`, and
/// returns the final counts.
pub async fn run_proxy(
    transport: Transport,
    listen: SocketAddr,
    upstream: SocketAddr,
    framers: FramerFactory,
    rules: Vec<Rule>,
    log: impl FnMut(ProxyLogLine),
) -> io::Result<Stats> {
    let ctrl_c = async {
        if tokio::signal::ctrl_c().await.is_err() {
            // No way to hear Ctrl-C: run until the process is killed.
            std::future::pending::<()>().await;
        }
    };
    run_proxy_until(transport, listen, upstream, framers, rules, log, ctrl_c).await
}

/// [`run_proxy`] with the stop condition given, for tests and embedding.
pub async fn run_proxy_until(
    transport: Transport,
    listen: SocketAddr,
    upstream: SocketAddr,
    framers: FramerFactory,
    rules: Vec<Rule>,
    mut log: impl FnMut(ProxyLogLine),
    until: impl Future<Output = ()>,
) -> io::Result<Stats> {
    let n = rules.len();
    let handle = match transport {
        Transport::Tcp => Interposer::start(listen, upstream, framers, rules, None, None).await?,
        Transport::Udp => {
            UdpInterposer::start(listen, upstream, framers, rules, None, None).await?
        }
        Transport::Ipv6Link => {
            return Err(io::Error::other(
                "the interposer relays TCP and UDP, not IPv6 links",
            ));
        }
    };
    let mut rx = handle.log();
    log(ProxyLogLine::Listening {
        local: handle.local_addr(),
        upstream,
        rules: n,
    });
    tokio::pin!(until);
    loop {
        tokio::select! {
            () = &mut until => break,
            ev = rx.recv() => match ev {
                Ok(ev) => log(ProxyLogLine::Event(ev)),
                Err(RecvError::Lagged(n)) => log(ProxyLogLine::Event(LogEvent::Lagged(n))),
                Err(RecvError::Closed) => break,
            },
        }
    }
    // Entries already queued are still worth printing.
    while let Ok(ev) = rx.try_recv() {
        log(ProxyLogLine::Event(ev));
    }
    handle.stop();
    let stats = handle.stats();
    log(ProxyLogLine::Stopped(stats));
    Ok(stats)
}
