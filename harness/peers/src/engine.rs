//! Does a Docker-compatible engine answer? Checked before choosing the container
//! backend, so that `Auto` can fall through with a clear reason instead of a
//! connection error deep inside testcontainers.

use std::path::PathBuf;
use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};

/// Where the engine is expected, in the order testcontainers looks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum EngineAddr {
    Unix(PathBuf),
    Tcp(String),
}

impl std::fmt::Display for EngineAddr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            EngineAddr::Unix(p) => write!(f, "unix://{}", p.display()),
            EngineAddr::Tcp(a) => write!(f, "tcp://{a}"),
        }
    }
}

/// The engine address from `DOCKER_HOST`, else the first socket that exists among the
/// usual places, else the default socket.
pub(crate) fn engine_addr(
    docker_host: Option<&str>,
    home: Option<&str>,
    xdg_runtime: Option<&str>,
    exists: impl Fn(&PathBuf) -> bool,
) -> Result<EngineAddr, String> {
    if let Some(h) = docker_host.filter(|h| !h.is_empty()) {
        if let Some(p) = h.strip_prefix("unix://") {
            return Ok(EngineAddr::Unix(PathBuf::from(p)));
        }
        if let Some(a) = h.strip_prefix("tcp://") {
            return Ok(EngineAddr::Tcp(a.trim_end_matches('/').to_owned()));
        }
        return Err(format!(
            "DOCKER_HOST `{h}` is neither unix:// nor tcp:// (TLS engines are not supported)"
        ));
    }
    let default = PathBuf::from("/var/run/docker.sock");
    let mut candidates = vec![default.clone()];
    if let Some(x) = xdg_runtime {
        candidates.push(PathBuf::from(x).join(".docker/run/docker.sock"));
    }
    if let Some(h) = home {
        candidates.push(PathBuf::from(h).join(".docker/run/docker.sock"));
        candidates.push(PathBuf::from(h).join(".docker/desktop/docker.sock"));
    }
    Ok(EngineAddr::Unix(
        candidates.into_iter().find(&exists).unwrap_or(default),
    ))
}

/// Pings the engine (`GET /_ping`, answered `OK`) within a second.
pub(crate) async fn engine_answers() -> Result<(), String> {
    let env = |k| std::env::var(k).ok();
    let addr = engine_addr(
        env("DOCKER_HOST").as_deref(),
        env("HOME").as_deref(),
        env("XDG_RUNTIME_DIR").as_deref(),
        |p| p.exists(),
    )?;
    match tokio::time::timeout(Duration::from_secs(1), ping(&addr)).await {
        Ok(Ok(())) => Ok(()),
        Ok(Err(e)) => Err(format!("no container engine answered at {addr}: {e}")),
        Err(_) => Err(format!(
            "the container engine at {addr} did not answer within 1 s"
        )),
    }
}

async fn ping(addr: &EngineAddr) -> std::io::Result<()> {
    const REQUEST: &[u8] = b"GET /_ping HTTP/1.0\r\nHost: docker\r\n\r\n";
    let mut reply = Vec::new();
    match addr {
        EngineAddr::Unix(p) => {
            let mut s = tokio::net::UnixStream::connect(p).await?;
            s.write_all(REQUEST).await?;
            s.read_to_end(&mut reply).await?;
        }
        EngineAddr::Tcp(a) => {
            let mut s = tokio::net::TcpStream::connect(a.as_str()).await?;
            s.write_all(REQUEST).await?;
            s.read_to_end(&mut reply).await?;
        }
    }
    let text = String::from_utf8_lossy(&reply);
    if text.starts_with("HTTP/1.") && text.contains(" 200 ") {
        Ok(())
    } else {
        let first = text.lines().next().unwrap_or("(empty reply)");
        Err(std::io::Error::other(format!(
            "unexpected answer `{first}`"
        )))
    }
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn docker_host_wins() {
        let a = engine_addr(Some("tcp://10.0.0.2:2375/"), None, None, |_| true).unwrap();
        assert_eq!(a, EngineAddr::Tcp("10.0.0.2:2375".into()));
        let a = engine_addr(Some("unix:///tmp/d.sock"), None, None, |_| false).unwrap();
        assert_eq!(a, EngineAddr::Unix("/tmp/d.sock".into()));
        assert!(engine_addr(Some("ssh://x"), None, None, |_| true).is_err());
    }

    #[test]
    fn rootless_socket_is_found() {
        let a = engine_addr(None, Some("/home/u"), Some("/run/user/1000"), |p| {
            p.starts_with("/home/u/.docker/desktop")
        })
        .unwrap();
        assert_eq!(
            a,
            EngineAddr::Unix("/home/u/.docker/desktop/docker.sock".into())
        );
        let a = engine_addr(None, None, None, |_| false).unwrap();
        assert_eq!(a, EngineAddr::Unix("/var/run/docker.sock".into()));
    }

    #[tokio::test]
    async fn absent_engine_is_a_clear_error() {
        let dir = tempfile::tempdir().unwrap();
        let addr = EngineAddr::Unix(dir.path().join("none.sock"));
        let e = ping(&addr).await.unwrap_err();
        assert_eq!(e.kind(), std::io::ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn a_fake_engine_answers() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("d.sock");
        let l = tokio::net::UnixListener::bind(&path).unwrap();
        tokio::spawn(async move {
            let (mut s, _) = l.accept().await.unwrap();
            let mut buf = [0u8; 256];
            let _ = s.read(&mut buf).await;
            s.write_all(b"HTTP/1.0 200 OK\r\nContent-Length: 2\r\n\r\nOK")
                .await
                .unwrap();
        });
        ping(&EngineAddr::Unix(path)).await.unwrap();
    }
}
