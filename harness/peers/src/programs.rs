//! Finding the programs a target runs, and saying which package ships them when absent.

use std::path::{Path, PathBuf};

/// Where Debian puts daemons; not on a normal user's PATH, but hilt should still find
/// `mosquitto` there.
const SBIN: &[&str] = &["/usr/local/sbin", "/usr/sbin", "/sbin"];

/// Resolves `program` (a path, or a name looked up on PATH and then in the sbin folders).
pub(crate) fn find(program: &str) -> Option<PathBuf> {
    if program.contains('/') {
        let p = Path::new(program);
        return is_executable(p).then(|| p.to_owned());
    }
    let path = std::env::var_os("PATH").unwrap_or_default();
    std::env::split_paths(&path)
        .chain(SBIN.iter().map(PathBuf::from))
        .map(|d| d.join(program))
        .find(|p| is_executable(p))
}

fn is_executable(p: &Path) -> bool {
    use std::os::unix::fs::PermissionsExt;
    p.metadata()
        .map(|m| m.is_file() && m.permissions().mode() & 0o111 != 0)
        .unwrap_or(false)
}

/// The Debian package that ships `program` (by file name), for the peers hilt knows.
pub(crate) fn debian_package(program: &str) -> Option<&'static str> {
    let name = Path::new(program).file_name()?.to_str()?;
    Some(match name {
        "mosquitto" => "mosquitto",
        "mosquitto_pub" | "mosquitto_sub" | "mosquitto_rr" => "mosquitto-clients",
        n if n.starts_with("rabbitmq") => "rabbitmq-server",
        "epmd" | "erl" | "erlexec" => "erlang-base",
        "activemq" => "activemq",
        n if n.starts_with("coap-") => "libcoap3-bin",
        "qemu-system-arm" => "qemu-system-arm",
        _ => return None,
    })
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn finds_sh_and_not_nonsense() {
        assert!(find("sh").is_some());
        assert!(find("/bin/sh").is_some());
        assert!(find("hilt-no-such-program").is_none());
        assert!(find("/nonexistent/x").is_none());
    }

    #[test]
    fn package_hints() {
        assert_eq!(
            debian_package("/usr/lib/rabbitmq/bin/rabbitmq-server"),
            Some("rabbitmq-server")
        );
        assert_eq!(debian_package("mosquitto"), Some("mosquitto"));
        assert_eq!(debian_package("epmd"), Some("erlang-base"));
        assert_eq!(debian_package("frobnicate"), None);
    }
}
