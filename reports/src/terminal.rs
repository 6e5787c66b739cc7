//! The terminal reporter: a live progress line, failures as they happen, a summary.

use std::io::IsTerminal;
use std::sync::Mutex;
use std::time::Duration;

use hilt_core::event::Counts;
use hilt_core::{Event, RunResults, Verdict};
use indicatif::{ProgressBar, ProgressDrawTarget, ProgressStyle};
use owo_colors::OwoColorize;

#[derive(Debug)]
pub struct Terminal {
    bar: ProgressBar,
    color: bool,
    counts: Mutex<Counts>,
}

impl Terminal {
    /// `color` is honoured only when stderr is a terminal (and NO_COLOR is unset).
    pub fn new(color: bool) -> Self {
        let tty = std::io::stderr().is_terminal();
        let bar = if tty {
            ProgressBar::with_draw_target(Some(0), ProgressDrawTarget::stderr())
        } else {
            ProgressBar::hidden()
        };
        bar.set_style(
            ProgressStyle::with_template(
                "{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}",
            )
            .unwrap_or_else(|_| ProgressStyle::default_bar()),
        );
        bar.enable_steady_tick(Duration::from_millis(120));
        Terminal {
            bar,
            color: color && tty && std::env::var_os("NO_COLOR").is_none(),
            counts: Mutex::new(Counts::default()),
        }
    }

    fn paint(&self, v: Verdict) -> String {
        let s = v.as_str().to_uppercase();
        if !self.color {
            return s;
        }
        match v {
            Verdict::Pass => s.green().to_string(),
            Verdict::Fail => s.red().bold().to_string(),
            Verdict::Error => s.magenta().bold().to_string(),
            Verdict::Xfail | Verdict::Flaky | Verdict::Inconclusive => s.yellow().to_string(),
            Verdict::Skip => s.dimmed().to_string(),
        }
    }

    fn line(&self, text: String) {
        if self.bar.is_hidden() {
            eprintln!("{text}");
        } else {
            self.bar.println(text);
        }
    }

    pub fn on_event(&self, event: &Event) {
        match event {
            Event::RunStarted { planned, .. } => self.bar.set_length(u64::from(*planned)),
            Event::TargetStarting { target, .. } => self.line(format!("     START {target}")),
            // A device has no endpoint and no start-up: its commands run per test.
            Event::TargetReady { info, .. } if info.endpoints.is_empty() => self.line(format!(
                "     READY {} {} (a device: started by each test)",
                info.name,
                info.version.as_deref().unwrap_or(""),
            )),
            Event::TargetReady { info, .. } => self.line(format!(
                "     READY {} {} in {} ms at {}",
                info.name,
                info.version.as_deref().unwrap_or(""),
                info.ready_ms.unwrap_or(0),
                info.endpoints
                    .values()
                    .cloned()
                    .collect::<Vec<_>>()
                    .join(", ")
            )),
            Event::TargetFailed { target, error, .. } => self.line(format!(
                "{:>10} {target}: {error}",
                self.paint(Verdict::Error)
            )),
            Event::TestFinished { result } => {
                self.bar.inc(1);
                let mut c = self.counts.lock().unwrap_or_else(|p| p.into_inner());
                c.add(result.verdict);
                self.bar.set_message(format!(
                    "{} pass, {} fail, {} error, {} skip",
                    c.pass + c.flaky + c.xfail,
                    c.fail,
                    c.error,
                    c.skip
                ));
                if matches!(
                    result.verdict,
                    Verdict::Fail | Verdict::Error | Verdict::Flaky
                ) {
                    let rule = result
                        .rule
                        .as_ref()
                        .map(|r| format!(" [{}]", r.id))
                        .unwrap_or_default();
                    self.line(format!(
                        "{:>10} {} @ {}{rule}: {}",
                        self.paint(result.verdict),
                        result.test,
                        result.target,
                        result.message.as_deref().unwrap_or("")
                    ));
                }
            }
            Event::TargetStopped { info, .. } => self.line(format!(
                "      STOP {} (cpu {} ms, peak rss {} KiB)",
                info.name,
                info.cpu_ms.unwrap_or(0),
                info.peak_rss_kib.unwrap_or(0)
            )),
            Event::TestStarted { .. } | Event::RunFinished { .. } => {}
        }
    }

    /// Clears the progress line and prints the per-target summary.
    pub fn finish(&self, results: &RunResults, run_dir: &std::path::Path) {
        self.bar.finish_and_clear();
        let mut out = String::new();
        out.push_str("\nSummary\n");
        for t in &results.targets {
            let mut c = Counts::default();
            for r in results.results.iter().filter(|r| r.target == t.name) {
                c.add(r.verdict);
            }
            let parts: Vec<String> = Verdict::ALL
                .iter()
                .filter(|v| c.get(**v) > 0)
                .map(|v| format!("{} {}", c.get(*v), self.paint(*v)))
                .collect();
            out.push_str(&format!("  {:<12} {}\n", t.name, parts.join("  ")));
        }
        for doc in &results.coverage {
            out.push_str(&format!(
                "  coverage {:<12} {}/{} statements\n",
                doc.doc,
                doc.covered(),
                doc.statements.len()
            ));
        }
        let took = Duration::from_micros(results.finished.0.saturating_sub(results.started.0));
        out.push_str(&format!(
            "  {} results in {:.1} s{}\n  run folder: {}\n",
            results.results.len(),
            took.as_secs_f64(),
            if results.interrupted {
                " (INTERRUPTED: partial results)"
            } else {
                ""
            },
            run_dir.display()
        ));
        eprint!("{out}");
    }
}
