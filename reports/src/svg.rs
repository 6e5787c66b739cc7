//! Inline SVG line charts for the bench report: numbers in, markup out, labels escaped.

use std::fmt::Write as _;

/// One line of a chart.
#[derive(Debug, Clone)]
pub struct Series {
    pub label: String,
    pub colour: &'static str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// How an axis is drawn.
#[derive(Debug, Clone, Copy)]
pub struct Axis<'a> {
    pub title: &'a str,
    /// Decades (values ≤ 0 are left out) instead of a linear scale from 0.
    pub log: bool,
    pub format: fn(f64) -> String,
}

pub const COLOURS: [&str; 8] = [
    "#1565c0", "#c62828", "#2e7d32", "#ef6c00", "#6a1b9a", "#00838f", "#4e342e", "#ad1457",
];

pub fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
        .replace('"', "&quot;")
}

/// Where values land on an axis: (lowest, highest) in the axis's own units (log10 for a
/// log axis) and the ticks to draw.
struct Scale {
    lo: f64,
    hi: f64,
    log: bool,
    ticks: Vec<f64>,
}

impl Scale {
    fn new(values: impl Iterator<Item = f64>, log: bool) -> Option<Scale> {
        let vs: Vec<f64> = values
            .filter(|v| v.is_finite() && (!log || *v > 0.0))
            .collect();
        if vs.is_empty() {
            return None;
        }
        let (min, max) = vs
            .iter()
            .fold((f64::MAX, f64::MIN), |(a, b), v| (a.min(*v), b.max(*v)));
        if log {
            let lo = min.log10().floor();
            let hi = max.log10().ceil().max(lo + 1.0);
            let ticks = (lo as i32..=hi as i32).map(|e| 10f64.powi(e)).collect();
            Some(Scale { lo, hi, log, ticks })
        } else {
            let hi = if max > 0.0 { max * 1.05 } else { 1.0 };
            let step = nice_step(hi / 5.0);
            let ticks = (0..=((hi / step) as u32))
                .map(|i| f64::from(i) * step)
                .collect();
            Some(Scale {
                lo: 0.0,
                hi,
                log,
                ticks,
            })
        }
    }

    /// 0 at the low end, 1 at the high end.
    fn unit(&self, v: f64) -> f64 {
        let v = if self.log { v.max(1e-12).log10() } else { v };
        (v - self.lo) / (self.hi - self.lo)
    }
}

/// 1, 2 or 5 times a power of ten, at least `raw`.
fn nice_step(raw: f64) -> f64 {
    if raw <= 0.0 {
        return 1.0;
    }
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .into_iter()
        .map(|m| m * p)
        .find(|s| *s >= raw)
        .unwrap_or(10.0 * p)
}

/// A line chart with dots at the points, a legend at the right.
pub fn line_chart(series: &[Series], x: Axis<'_>, y: Axis<'_>) -> String {
    let (w, h) = (900.0, 360.0);
    let (left, right, top, bottom) = (80.0, 230.0, 16.0, 46.0);
    let (pw, ph) = (w - left - right, h - top - bottom);
    let mut svg = String::new();
    let _ = write!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 {w} {h}" width="{w}" height="{h}" font-family="system-ui, sans-serif" font-size="11">"#
    );
    let all = || series.iter().flat_map(|s| s.points.iter());
    let (Some(xs), Some(ys)) = (
        Scale::new(all().map(|p| p.0), x.log),
        Scale::new(all().map(|p| p.1), y.log),
    ) else {
        svg.push_str(r#"<text x="20" y="40">nothing recorded</text></svg>"#);
        return svg;
    };
    let px = |v: f64| left + xs.unit(v) * pw;
    let py = |v: f64| top + ph - ys.unit(v) * ph;
    let _ = write!(
        svg,
        r##"<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="#fff" stroke="#b0bec5"/>"##
    );
    for t in &xs.ticks {
        let xp = px(*t);
        let _ = write!(
            svg,
            r##"<line x1="{xp:.1}" y1="{top}" x2="{xp:.1}" y2="{}" stroke="#eceff1"/><text x="{xp:.1}" y="{}" text-anchor="middle">{}</text>"##,
            top + ph,
            top + ph + 15.0,
            (x.format)(*t)
        );
    }
    for t in &ys.ticks {
        let yp = py(*t);
        let _ = write!(
            svg,
            r##"<line x1="{left}" y1="{yp:.1}" x2="{}" y2="{yp:.1}" stroke="#eceff1"/><text x="{}" y="{:.1}" text-anchor="end">{}</text>"##,
            left + pw,
            left - 6.0,
            yp + 4.0,
            (y.format)(*t)
        );
    }
    let _ = write!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text><text x="14" y="{}" text-anchor="middle" transform="rotate(-90 14 {})">{}</text>"#,
        left + pw / 2.0,
        h - 8.0,
        escape(x.title),
        top + ph / 2.0,
        top + ph / 2.0,
        escape(y.title)
    );
    for (i, s) in series.iter().enumerate() {
        let pts: Vec<(f64, f64)> = s
            .points
            .iter()
            .filter(|(a, b)| (!x.log || *a > 0.0) && (!y.log || *b > 0.0))
            .map(|(a, b)| (px(*a), py(*b)))
            .collect();
        let dash = if s.dashed { "5,4" } else { "" };
        let line: Vec<String> = pts.iter().map(|(a, b)| format!("{a:.1},{b:.1}")).collect();
        let _ = write!(
            svg,
            r#"<polyline fill="none" stroke="{}" stroke-width="1.8" stroke-dasharray="{dash}" points="{}"/>"#,
            s.colour,
            line.join(" ")
        );
        for (a, b) in &pts {
            let _ = write!(
                svg,
                r#"<circle cx="{a:.1}" cy="{b:.1}" r="2.5" fill="{}"/>"#,
                s.colour
            );
        }
        let ly = top + 10.0 + i as f64 * 18.0;
        let lx = left + pw + 12.0;
        let _ = write!(
            svg,
            r#"<line x1="{lx}" y1="{ly}" x2="{}" y2="{ly}" stroke="{}" stroke-width="2" stroke-dasharray="{dash}"/><text x="{}" y="{}">{}</text>"#,
            lx + 22.0,
            s.colour,
            lx + 28.0,
            ly + 4.0,
            escape(&s.label)
        );
    }
    svg.push_str("</svg>");
    svg
}

#[cfg(test)]
mod test {
    use super::*;

    #[test]
    fn charts_escape_labels_and_skip_what_a_log_axis_cannot_show() {
        let s = Series {
            label: "<b>".into(),
            colour: COLOURS[0],
            dashed: false,
            points: vec![(1.0, 10.0), (2.0, 0.0), (3.0, 1000.0)],
        };
        let axis = |log| Axis {
            title: "t",
            log,
            format: |v| format!("{v}"),
        };
        let svg = line_chart(&[s], axis(false), axis(true));
        assert!(svg.contains("&lt;b&gt;") && !svg.contains("<b>"));
        assert_eq!(svg.matches("<circle").count(), 2, "the 0 is off a log axis");
        assert!(line_chart(&[], axis(false), axis(false)).contains("nothing recorded"));
        assert_eq!(nice_step(0.7), 1.0);
        assert_eq!(nice_step(130.0), 200.0);
    }
}
