//! A small hand-written SVG line chart with a logarithmic x axis and a
//! logarithmic or linear y axis: enough for the two benchmark charts, and no
//! dependency.

use std::fmt::Write as _;

/// One line of the chart.
pub struct Series {
    /// Legend text.
    pub name: String,
    /// Stroke colour.
    pub color: &'static str,
    /// Dashed (for baselines).
    pub dashed: bool,
    /// Points (x, y); non-positive or non-finite values are skipped.
    pub points: Vec<(f64, f64)>,
}

/// A chart with a log-scaled x axis.
pub struct Chart {
    /// Title on top.
    pub title: String,
    /// Under the title, smaller.
    pub subtitle: String,
    /// The x axis label.
    pub x_label: String,
    /// The y axis label.
    pub y_label: String,
    /// How to print an x tick value.
    pub x_tick: fn(f64) -> String,
    /// Base of the x axis ticks (10, or 4 for byte sizes).
    pub x_tick_base: f64,
    /// A linear y axis from 0 (else logarithmic, whole decades): lines
    /// that differ by tens of percent stay apart.
    pub linear_y: bool,
    /// The lines; a series without points is a legend entry only.
    pub series: Vec<Series>,
}

/// A round tick step for a linear axis from 0 to `max`: 1, 2 or 5 times a
/// power of ten, giving 4 to 10 ticks.
fn linear_step(max: f64) -> f64 {
    let raw = max / 6.0;
    let p = 10f64.powf(raw.log10().floor());
    [1.0, 2.0, 5.0, 10.0]
        .iter()
        .map(|m| m * p)
        .find(|&step| max / step <= 10.0)
        .unwrap_or(10.0 * p)
}

const W: f64 = 980.0;
const H: f64 = 540.0;
const LEFT: f64 = 80.0;
const RIGHT: f64 = 330.0;
const TOP: f64 = 70.0;
const BOTTOM: f64 = 60.0;

fn escape(s: &str) -> String {
    s.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// Formats a value compactly for a y tick.
pub fn tick_number(v: f64) -> String {
    if v >= 1000.0 {
        format!("{}k", v / 1000.0)
    } else if v >= 1.0 {
        format!("{v}")
    } else {
        let s = format!("{v:.4}");
        s.trim_end_matches('0').to_string()
    }
}

/// Formats a byte count for an x tick.
pub fn tick_bytes(v: f64) -> String {
    let v = v.round() as u64;
    if v >= 1 << 30 && v.is_multiple_of(1 << 30) {
        format!("{}G", v >> 30)
    } else if v >= 1 << 20 && v.is_multiple_of(1 << 20) {
        format!("{}M", v >> 20)
    } else if v >= 1 << 10 && v.is_multiple_of(1 << 10) {
        format!("{}K", v >> 10)
    } else {
        format!("{v}")
    }
}

impl Chart {
    /// The SVG document.
    pub fn render(&self) -> String {
        let pts = || {
            self.series
                .iter()
                .flat_map(|s| s.points.iter().copied())
                .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
        };
        let (mut x0, mut x1, mut y0, mut y1) = (f64::MAX, f64::MIN, f64::MAX, f64::MIN);
        for (x, y) in pts() {
            x0 = x0.min(x);
            x1 = x1.max(x);
            y0 = y0.min(y);
            y1 = y1.max(y);
        }
        if x0 > x1 {
            (x0, x1, y0, y1) = (1.0, 10.0, 1.0, 10.0);
        }
        // Whole decades on a log y axis, round steps from 0 on a linear
        // one; the exact data range on x (a little padding).
        let (ly0, ly1) = (
            y0.log10().floor(),
            y1.log10().ceil().max(y0.log10().floor() + 1.0),
        );
        let step = linear_step(y1);
        let ytop = (y1 / step).ceil().max(1.0) * step;
        let (lx0, lx1) = (x0.log10(), x1.log10().max(x0.log10() + 1.0));
        let pad = (lx1 - lx0) * 0.03;
        let (lx0, lx1) = (lx0 - pad, lx1 + pad);
        let pw = W - LEFT - RIGHT;
        let ph = H - TOP - BOTTOM;
        let linear = self.linear_y;
        let sx = |x: f64| LEFT + (x.log10() - lx0) / (lx1 - lx0) * pw;
        let sy = |y: f64| {
            if linear {
                TOP + ph - y / ytop * ph
            } else {
                TOP + ph - (y.log10() - ly0) / (ly1 - ly0) * ph
            }
        };

        let mut s = String::new();
        let _ = writeln!(
            s,
            r#"<svg xmlns="http://www.w3.org/2000/svg" width="{W}" height="{H}" viewBox="0 0 {W} {H}" font-family="DejaVu Sans, Helvetica, Arial, sans-serif" font-size="13">"#
        );
        let _ = writeln!(s, r#"<rect width="100%" height="100%" fill="white"/>"#);
        let _ = writeln!(
            s,
            r#"<text x="{}" y="28" font-size="17" font-weight="bold" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            escape(&self.title)
        );
        let _ = writeln!(
            s,
            r##"<text x="{}" y="48" font-size="12" fill="#555" text-anchor="middle">{}</text>"##,
            LEFT + pw / 2.0,
            escape(&self.subtitle)
        );
        // Grid and y ticks: linear, every `step`; log, 1, 2, 5 per decade,
        // labels on 1 (and 2, 5 when few decades).
        let mut yticks: Vec<(f64, bool, bool)> = Vec::new();
        if linear {
            let mut k = 0.0;
            while k * step <= ytop + step * 1e-9 {
                yticks.push((k * step, true, true));
                k += 1.0;
            }
        } else {
            let decades = (ly1 - ly0) as i32;
            for d in ly0 as i32..=ly1 as i32 {
                for m in [1.0, 2.0, 5.0] {
                    let v = m * 10f64.powi(d);
                    let lv = v.log10();
                    if lv < ly0 - 1e-9 || lv > ly1 + 1e-9 {
                        continue;
                    }
                    yticks.push((v, m == 1.0, m == 1.0 || decades <= 2));
                }
            }
        }
        for (v, major, label) in yticks {
            let y = sy(v);
            let _ = writeln!(
                s,
                r##"<line x1="{LEFT}" x2="{}" y1="{y:.1}" y2="{y:.1}" stroke="{}" stroke-width="1"/>"##,
                LEFT + pw,
                if major { "#ccc" } else { "#eee" }
            );
            if label {
                let text = if linear {
                    let t = format!("{v:.3}");
                    t.trim_end_matches('0').trim_end_matches('.').to_string()
                } else {
                    tick_number(v)
                };
                let _ = writeln!(
                    s,
                    r#"<text x="{}" y="{:.1}" text-anchor="end">{}</text>"#,
                    LEFT - 6.0,
                    y + 4.0,
                    text
                );
            }
        }
        // x ticks at powers of the tick base.
        let base = self.x_tick_base;
        let mut v = base.powf((x0.log10() / base.log10()).floor());
        while v <= x1 * 1.0001 {
            if v >= x0 * 0.9999 {
                let x = sx(v);
                let _ = writeln!(
                    s,
                    r##"<line x1="{x:.1}" x2="{x:.1}" y1="{TOP}" y2="{}" stroke="#eee" stroke-width="1"/>"##,
                    TOP + ph
                );
                let _ = writeln!(
                    s,
                    r#"<text x="{x:.1}" y="{}" text-anchor="middle">{}</text>"#,
                    TOP + ph + 18.0,
                    (self.x_tick)(v)
                );
            }
            v *= base;
        }
        let _ = writeln!(
            s,
            r##"<rect x="{LEFT}" y="{TOP}" width="{pw}" height="{ph}" fill="none" stroke="#333"/>"##
        );
        let _ = writeln!(
            s,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            LEFT + pw / 2.0,
            H - 18.0,
            escape(&self.x_label)
        );
        let _ = writeln!(
            s,
            r#"<text transform="translate(22 {}) rotate(-90)" text-anchor="middle">{}</text>"#,
            TOP + ph / 2.0,
            escape(&self.y_label)
        );
        // Lines, markers, legend.
        for (i, ser) in self.series.iter().enumerate() {
            let p: Vec<(f64, f64)> = ser
                .points
                .iter()
                .copied()
                .filter(|(x, y)| x.is_finite() && y.is_finite() && *x > 0.0 && *y > 0.0)
                .map(|(x, y)| (sx(x), sy(y)))
                .collect();
            let dash = if ser.dashed {
                r#" stroke-dasharray="7 4""#
            } else {
                ""
            };
            let path: Vec<String> = p.iter().map(|(x, y)| format!("{x:.1},{y:.1}")).collect();
            if !path.is_empty() {
                let _ = writeln!(
                    s,
                    r#"<polyline points="{}" fill="none" stroke="{}" stroke-width="2"{dash}/>"#,
                    path.join(" "),
                    ser.color
                );
            }
            if !ser.dashed {
                for (x, y) in &p {
                    let _ = writeln!(
                        s,
                        r#"<circle cx="{x:.1}" cy="{y:.1}" r="3" fill="{}"/>"#,
                        ser.color
                    );
                }
            }
            let ly = TOP + 10.0 + i as f64 * 22.0;
            let lx = LEFT + pw + 16.0;
            let _ = writeln!(
                s,
                r#"<line x1="{lx}" x2="{}" y1="{ly}" y2="{ly}" stroke="{}" stroke-width="2"{dash}/>"#,
                lx + 26.0,
                ser.color
            );
            let _ = writeln!(
                s,
                r#"<text x="{}" y="{}">{}</text>"#,
                lx + 32.0,
                ly + 4.0,
                escape(&ser.name)
            );
        }
        s.push_str("</svg>\n");
        s
    }
}
