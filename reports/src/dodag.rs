//! The report of a simulated RPL network (`report.html` of `hilt rpl sim`): the metrics
//! as a table, the DODAG drawn where the nodes stand, and curves over time. Built from
//! plain data the caller extracts, so reports know nothing of the simulator.

use std::fmt::Write as _;
use std::path::Path;

use serde::Serialize;

use crate::{ReportError, write_atomically};

const TEMPLATE: &str = include_str!("../templates/dodag.html.tera");

/// A node as drawn.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct DrawnNode {
    pub x: f64,
    pub y: f64,
    pub rank: u16,
    /// Index of its preferred parent in the node list.
    pub parent: Option<usize>,
    pub root: bool,
    pub alive: bool,
}

/// One point of the curves over time.
#[derive(Debug, Clone, Copy, PartialEq, Serialize)]
pub struct TimePoint {
    pub t_s: f64,
    pub joined: usize,
    pub alive: usize,
    /// Cumulative control messages by kind.
    pub dio: u64,
    pub dis: u64,
    pub dao: u64,
    pub dao_ack: u64,
}

/// What the page shows.
#[derive(Debug, Clone)]
pub struct DodagReport<'a> {
    pub title: &'a str,
    pub description: &'a str,
    /// The metrics as their JSON value: every leaf becomes a row.
    pub metrics: &'a serde_json::Value,
    pub nodes: &'a [DrawnNode],
    pub series: &'a [TimePoint],
    /// Extra lines for the header (invocation, speed).
    pub notes: &'a [String],
}

#[derive(Serialize)]
struct Row {
    key: String,
    value: String,
}

fn flatten(prefix: &str, v: &serde_json::Value, out: &mut Vec<Row>) {
    match v {
        serde_json::Value::Object(m) => {
            for (k, v) in m {
                let key = if prefix.is_empty() {
                    k.clone()
                } else {
                    format!("{prefix}.{k}")
                };
                flatten(&key, v, out);
            }
        }
        serde_json::Value::Array(a) if a.iter().all(|x| !x.is_object()) => out.push(Row {
            key: prefix.into(),
            value: a
                .iter()
                .map(|x| x.to_string())
                .collect::<Vec<_>>()
                .join(", "),
        }),
        serde_json::Value::Array(a) => {
            for (i, x) in a.iter().enumerate() {
                flatten(&format!("{prefix}[{i}]"), x, out);
            }
        }
        serde_json::Value::Null => out.push(Row {
            key: prefix.into(),
            value: "–".into(),
        }),
        serde_json::Value::String(s) => out.push(Row {
            key: prefix.into(),
            value: s.clone(),
        }),
        other => out.push(Row {
            key: prefix.into(),
            value: match other.as_f64() {
                Some(f) if other.is_f64() => format!("{f:.3}"),
                _ => other.to_string(),
            },
        }),
    }
}

/// Writes the page to `path`.
pub fn write_html(path: &Path, report: &DodagReport<'_>) -> Result<(), ReportError> {
    write_atomically(path, render(report)?.as_bytes())
}

pub fn render(report: &DodagReport<'_>) -> Result<String, ReportError> {
    let mut rows = Vec::new();
    flatten("", report.metrics, &mut rows);
    let mut ctx = tera::Context::new();
    ctx.insert("title", report.title);
    ctx.insert("description", report.description);
    ctx.insert("notes", report.notes);
    ctx.insert("rows", &rows);
    ctx.insert("dodag_svg", &dodag_svg(report.nodes));
    ctx.insert(
        "joined_svg",
        &chart_svg(
            "nodes with a parent",
            report.series,
            &[("joined", "#2e7d32", &|p: &TimePoint| p.joined as f64)],
        ),
    );
    ctx.insert(
        "messages_svg",
        &chart_svg(
            "control messages sent (cumulative)",
            report.series,
            &[
                ("DIO", "#1565c0", &|p: &TimePoint| p.dio as f64),
                ("DIS", "#ef6c00", &|p: &TimePoint| p.dis as f64),
                ("DAO", "#6a1b9a", &|p: &TimePoint| p.dao as f64),
                ("DAO-ACK", "#00838f", &|p: &TimePoint| p.dao_ack as f64),
            ],
        ),
    );
    // Everything in the template is escaped by tera; the SVGs are ours, built from
    // numbers only, and inserted raw.
    tera::Tera::one_off(TEMPLATE, &ctx, true).map_err(|e| ReportError::Render {
        what: "DODAG report".into(),
        message: format!("{e:?}"),
    })
}

/// The colour of a Rank between the lowest and highest drawn: green near the root,
/// through yellow, to red far from it.
fn rank_colour(rank: u16, lo: u16, hi: u16) -> String {
    let f = if hi > lo {
        f64::from(rank - lo) / f64::from(hi - lo)
    } else {
        0.0
    };
    let hue = 120.0 * (1.0 - f);
    format!("hsl({hue:.0},70%,42%)")
}

/// The DODAG where the nodes stand: parent edges, nodes coloured by Rank, the root a
/// larger ringed square, dead or detached nodes hollow grey.
pub fn dodag_svg(nodes: &[DrawnNode]) -> String {
    let w = 900.0;
    let (mut x0, mut y0, mut x1, mut y1) = (f64::MAX, f64::MAX, f64::MIN, f64::MIN);
    for n in nodes {
        x0 = x0.min(n.x);
        y0 = y0.min(n.y);
        x1 = x1.max(n.x);
        y1 = y1.max(n.y);
    }
    if nodes.is_empty() {
        return String::new();
    }
    let margin = 16.0;
    let span_x = (x1 - x0).max(1.0);
    let span_y = (y1 - y0).max(1.0);
    let scale = (w - 2.0 * margin) / span_x;
    let h = (span_y * scale + 2.0 * margin).clamp(60.0, 1400.0);
    let scale = scale.min((h - 2.0 * margin) / span_y);
    let px = |x: f64| margin + (x - x0) * scale;
    let py = |y: f64| margin + (y - y0) * scale;
    let r = (scale * 0.18).clamp(1.5, 7.0);
    let joined = |n: &DrawnNode| n.alive && (n.root || n.parent.is_some());
    let ranks = nodes.iter().filter(|n| joined(n)).map(|n| n.rank);
    let lo = ranks.clone().min().unwrap_or(0);
    let hi = ranks.max().unwrap_or(0);
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h:.0}" width="{w}" height="{h:.0}">"#
    );
    s.push_str(r##"<g stroke="#90a4ae" stroke-width="1">"##);
    for n in nodes.iter().filter(|n| n.alive) {
        if let Some(p) = n.parent.and_then(|p| nodes.get(p)) {
            let _ = write!(
                s,
                r#"<line x1="{:.1}" y1="{:.1}" x2="{:.1}" y2="{:.1}"/>"#,
                px(n.x),
                py(n.y),
                px(p.x),
                py(p.y)
            );
        }
    }
    s.push_str("</g>");
    for (i, n) in nodes.iter().enumerate() {
        let (cx, cy) = (px(n.x), py(n.y));
        let title = format!(
            "node {i}, rank {}{}",
            n.rank,
            if n.alive { "" } else { " (dead)" }
        );
        if n.root {
            let rr = r * 2.0;
            let _ = write!(
                s,
                r##"<rect x="{:.1}" y="{:.1}" width="{:.1}" height="{:.1}" fill="{}" stroke="#000" stroke-width="2"><title>root: {title}</title></rect>"##,
                cx - rr,
                cy - rr,
                2.0 * rr,
                2.0 * rr,
                if n.alive { "#1b5e20" } else { "#fff" }
            );
        } else if joined(n) {
            let _ = write!(
                s,
                r#"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}" fill="{}"><title>{title}</title></circle>"#,
                rank_colour(n.rank, lo, hi)
            );
        } else {
            let _ = write!(
                s,
                r##"<circle cx="{cx:.1}" cy="{cy:.1}" r="{r:.1}" fill="#fff" stroke="#9e9e9e"><title>{title} (no parent)</title></circle>"##
            );
        }
    }
    s.push_str("</svg>");
    s
}

type Series<'a> = (&'a str, &'a str, &'a dyn Fn(&TimePoint) -> f64);

/// A line chart of `series` over time.
pub fn chart_svg(title: &str, points: &[TimePoint], series: &[Series<'_>]) -> String {
    let (w, h) = (900.0, 260.0);
    let (left, right, top, bottom) = (70.0, 120.0, 24.0, 36.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let t_max = points.last().map_or(1.0, |p| p.t_s).max(1e-9);
    let y_max = series
        .iter()
        .flat_map(|(_, _, f)| points.iter().map(f))
        .fold(0.0f64, f64::max)
        .max(1.0);
    let x = |t: f64| left + t / t_max * pw;
    let y = |v: f64| top + ph - v / y_max * ph;
    let mut s = String::new();
    let _ = write!(
        s,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="system-ui, sans-serif" font-size="11">"#
    );
    let _ = write!(
        s,
        r#"<text x="{left}" y="14" font-weight="600">{}</text>"#,
        title.replace('<', "&lt;")
    );
    let _ = write!(
        s,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#b0bec5"/>"##
    );
    for k in 0..=4 {
        let v = y_max * f64::from(k) / 4.0;
        let _ = write!(
            s,
            r##"<text x="{:.0}" y="{:.1}" text-anchor="end">{v:.0}</text><text x="{:.1}" y="{:.0}" text-anchor="middle">{:.0} s</text>"##,
            left - 6.0,
            y(v) + 4.0,
            x(t_max * f64::from(k) / 4.0),
            top + ph + 16.0,
            t_max * f64::from(k) / 4.0
        );
    }
    for (i, (name, colour, f)) in series.iter().enumerate() {
        let pts: Vec<String> = points
            .iter()
            .map(|p| format!("{:.1},{:.1}", x(p.t_s), y(f(p))))
            .collect();
        let _ = write!(
            s,
            r#"<polyline fill="none" stroke="{colour}" stroke-width="1.8" points="{}"/>"#,
            pts.join(" ")
        );
        let ly = top + 14.0 * i as f64 + 8.0;
        let _ = write!(
            s,
            r#"<line x1="{:.0}" y1="{ly:.0}" x2="{:.0}" y2="{ly:.0}" stroke="{colour}" stroke-width="2"/><text x="{:.0}" y="{:.0}">{name}</text>"#,
            left + pw + 10.0,
            left + pw + 28.0,
            left + pw + 32.0,
            ly + 4.0
        );
    }
    s.push_str("</svg>");
    s
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn draws_nodes_edges_and_the_root_and_escapes_text() {
        let nodes = [
            DrawnNode {
                x: 0.0,
                y: 0.0,
                rank: 256,
                parent: None,
                root: true,
                alive: true,
            },
            DrawnNode {
                x: 10.0,
                y: 0.0,
                rank: 1024,
                parent: Some(0),
                root: false,
                alive: true,
            },
            DrawnNode {
                x: 20.0,
                y: 0.0,
                rank: 0xffff,
                parent: None,
                root: false,
                alive: true,
            },
        ];
        let series = [TimePoint {
            t_s: 1.0,
            joined: 1,
            alive: 2,
            dio: 3,
            dis: 1,
            dao: 1,
            dao_ack: 1,
        }];
        let metrics =
            serde_json::json!({"scenario": "<script>", "convergence": {"all_joined_s": 0.5}});
        let html = render(&DodagReport {
            title: "t",
            description: "d",
            metrics: &metrics,
            nodes: &nodes,
            series: &series,
            notes: &[],
        })
        .unwrap();
        assert!(html.contains("<title>root: node 0, rank 256</title>"));
        assert_eq!(
            dodag_svg(&nodes).matches("<line x1").count(),
            1,
            "one parent edge"
        );
        assert!(html.contains("(no parent)"));
        assert!(html.contains("convergence.all_joined_s"));
        assert!(!html.contains("<script>"));
        assert!(html.contains("&lt;script&gt;"));
    }
}
