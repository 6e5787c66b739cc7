//! `hilt list tests | suites | targets`.

use crate::args::{ListArgs, ListWhat};
use crate::exit::ExitCode;
use crate::locate;

pub fn list(args: ListArgs) -> anyhow::Result<ExitCode> {
    let registry = hilt_suites::registry();
    match args.what {
        ListWhat::Tests => {
            let rows: Vec<_> = registry
                .all()
                .filter(|(s, _)| args.suite.as_deref().is_none_or(|n| n == s.name))
                .filter(|(s, _)| args.protocol.as_deref().is_none_or(|p| p == s.protocol))
                .collect();
            if args.json {
                let v: Vec<_> = rows
                    .iter()
                    .map(|(s, c)| {
                        serde_json::json!({
                            "id": c.id.as_str(),
                            "suite": s.name,
                            "title": c.title,
                            "covers": c.covers.iter().map(|r| format!("{}:{}", r.doc, r.id)).collect::<Vec<_>>(),
                            "needs": c.needs,
                            "tags": c.tags,
                            "has_control": c.control.is_some(),
                        })
                    })
                    .collect();
                println!("{}", serde_json::to_string_pretty(&v)?);
            } else {
                for (_, c) in &rows {
                    let covers: Vec<&str> = c.covers.iter().map(|r| r.id).collect();
                    println!("{:<60} {:<28} {}", c.id.as_str(), covers.join(","), c.title);
                }
                eprintln!("{} tests", rows.len());
            }
        }
        ListWhat::Suites => {
            for s in &registry.suites {
                println!(
                    "{:<12} {:>5} tests  protocol {}{}",
                    s.name,
                    s.cases.len(),
                    s.protocol,
                    match s.under_test {
                        hilt_runner::UnderTest::Server => "",
                        hilt_runner::UnderTest::Client => " (client under test)",
                    }
                );
            }
        }
        ListWhat::Targets => {
            for (path, t) in locate::all_targets()? {
                let mut serves: Vec<String> = t
                    .serves
                    .iter()
                    .map(|(p, s)| format!("{p} {}", s.versions.join("/")))
                    .collect();
                if let Some(d) = &t.device {
                    serves.extend(
                        d.speaks
                            .iter()
                            .map(|(p, v)| format!("{p} client {}", v.join("/"))),
                    );
                }
                println!(
                    "{:<16} {:<40} {}",
                    t.name,
                    serves.join(", "),
                    path.display()
                );
            }
        }
    }
    Ok(ExitCode::Ok)
}
