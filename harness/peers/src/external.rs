//! The external backend: a target that already runs somewhere; hilt only reaches it.

use std::collections::BTreeMap;
use std::net::SocketAddr;
use std::time::Duration;

use crate::error::LaunchErrorKind as Kind;

#[derive(Debug)]
pub(crate) struct ExternalTarget {
    pub ports: BTreeMap<String, SocketAddr>,
}

/// Schemes served over UDP: a TCP connect says nothing about them.
const UDP_SCHEMES: &[&str] = &["coap", "coap+udp", "udp"];

/// Splits `scheme://host:port/...` (scheme optional) into scheme, host and port.
pub(crate) fn parse_url(url: &str) -> Result<(Option<String>, String, u16), String> {
    let (scheme, rest) = match url.split_once("://") {
        Some((s, r)) => (Some(s.to_ascii_lowercase()), r),
        None => (None, url),
    };
    let authority = rest.split(['/', '?', '#']).next().unwrap_or("");
    let authority = authority.rsplit('@').next().unwrap_or(authority);
    let (host, port) = if let Some(v6) = authority.strip_prefix('[') {
        let (h, after) = v6.split_once(']').ok_or("unclosed `[` in the host")?;
        (h.to_owned(), after.strip_prefix(':'))
    } else {
        match authority.rsplit_once(':') {
            Some((h, p)) => (h.to_owned(), Some(p)),
            None => (authority.to_owned(), None),
        }
    };
    if host.is_empty() {
        return Err("no host".into());
    }
    let port = match port {
        Some(p) => p.parse().map_err(|_| format!("bad port `{p}`"))?,
        None => {
            default_port(scheme.as_deref()).ok_or("no port, and the scheme has no default port")?
        }
    };
    Ok((scheme, host, port))
}

fn default_port(scheme: Option<&str>) -> Option<u16> {
    Some(match scheme? {
        "mqtt" | "tcp" => 1883,
        "mqtts" | "ssl" => 8883,
        "amqp" => 5672,
        "amqps" => 5671,
        "stomp" => 61613,
        "coap" => 5683,
        _ => return None,
    })
}

/// Resolves every URL and checks that the TCP ones accept a connection.
pub(crate) async fn connect(urls: &BTreeMap<String, String>) -> Result<ExternalTarget, Kind> {
    let mut ports = BTreeMap::new();
    for (name, url) in urls {
        let bad = |reason: String| Kind::BadExternalUrl {
            port: name.clone(),
            url: url.clone(),
            reason,
        };
        let (scheme, host, port) = parse_url(url).map_err(bad)?;
        let addr = tokio::net::lookup_host((host.as_str(), port))
            .await
            .map_err(|e| bad(format!("cannot resolve `{host}`: {e}")))?
            .next()
            .ok_or_else(|| bad(format!("`{host}` resolves to no address")))?;
        let udp = scheme.as_deref().is_some_and(|s| UDP_SCHEMES.contains(&s));
        if !udp {
            let unreachable = |reason: String| Kind::Unreachable {
                port: name.clone(),
                addr: addr.to_string(),
                reason,
            };
            match tokio::time::timeout(Duration::from_secs(5), tokio::net::TcpStream::connect(addr))
                .await
            {
                Ok(Ok(_)) => {}
                Ok(Err(e)) => return Err(unreachable(e.to_string())),
                Err(_) => return Err(unreachable("no answer within 5 s".into())),
            }
        }
        ports.insert(name.clone(), addr);
    }
    Ok(ExternalTarget { ports })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn urls() {
        assert_eq!(
            parse_url("mqtt://127.0.0.1:1883").unwrap(),
            (Some("mqtt".into()), "127.0.0.1".into(), 1883)
        );
        assert_eq!(
            parse_url("amqp://guest:guest@localhost/vh").unwrap().2,
            5672
        );
        assert_eq!(parse_url("[::1]:9").unwrap(), (None, "::1".into(), 9));
        assert!(parse_url("mqtt://").is_err());
        assert!(parse_url("host").is_err());
        assert!(parse_url("mqtt://h:99999").is_err());
    }

    #[tokio::test]
    async fn reachability() {
        let l = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let port = l.local_addr().unwrap().port();
        let urls = [("mqtt".to_owned(), format!("mqtt://127.0.0.1:{port}"))].into();
        let t = connect(&urls).await.unwrap();
        assert_eq!(t.ports["mqtt"].port(), port);
        drop(l);
        let e = connect(&urls).await.unwrap_err();
        assert!(matches!(e, Kind::Unreachable { .. }), "{e}");
    }
}
