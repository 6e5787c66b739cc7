//! Asking a target's program for its version.

use std::process::Stdio;
use std::time::Duration;

use hilt_core::target::VersionProbe;
use regex::Regex;

/// Runs the probe and returns the first capture of its regex over stdout then stderr.
/// Any failure is logged and gives `None`: an unknown version is no reason to fail a run.
pub(crate) async fn probe(p: &VersionProbe) -> Option<String> {
    let re = match Regex::new(&p.regex) {
        Ok(re) => re,
        Err(e) => {
            tracing::warn!("version regex `{}` is invalid: {e}", p.regex);
            return None;
        }
    };
    let Ok(program) = crate::process::find_program(&p.program) else {
        tracing::warn!("version probe `{}` not found", p.program);
        return None;
    };
    let args: Result<Vec<String>, _> = p
        .args
        .iter()
        .map(|a| crate::placeholder::fill_places(a))
        .collect();
    let Ok(args) = args else {
        tracing::warn!(
            "version probe `{}`: an argument names an unknown place",
            p.program
        );
        return None;
    };
    let run = tokio::process::Command::new(program)
        .args(&args)
        .stdin(Stdio::null())
        .kill_on_drop(true)
        .output();
    // Erlang-based CLIs take a second or two to boot; a hung probe must not hang a launch.
    let out = match tokio::time::timeout(Duration::from_secs(20), run).await {
        Ok(Ok(out)) => out,
        Ok(Err(e)) => {
            tracing::warn!("version probe `{}` failed: {e}", p.program);
            return None;
        }
        Err(_) => {
            tracing::warn!("version probe `{}` took over 20 s", p.program);
            return None;
        }
    };
    let text = format!(
        "{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    extract(&re, &text)
}

pub(crate) fn extract(re: &Regex, text: &str) -> Option<String> {
    text.lines()
        .find_map(|l| re.captures(l)?.get(1).map(|m| m.as_str().to_owned()))
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn first_matching_line_wins() {
        let re = Regex::new(r"mosquitto version (\S+)").unwrap();
        let text = "junk\nmosquitto version 2.0.11\n\nmosquitto version 9\n";
        assert_eq!(extract(&re, text).as_deref(), Some("2.0.11"));
        assert_eq!(extract(&re, "nothing"), None);
    }

    #[tokio::test]
    async fn probe_runs_a_program() {
        let p = VersionProbe {
            program: "sh".into(),
            args: vec!["-c".into(), "echo 'tool v1.2.3' >&2; exit 3".into()],
            regex: r"v(\d+\.\d+\.\d+)".into(),
        };
        assert_eq!(probe(&p).await.as_deref(), Some("1.2.3"));
    }
}
