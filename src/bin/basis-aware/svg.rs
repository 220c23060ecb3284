//! Line charts as standalone SVG files, written by hand: the demo's plot, the text matching's
//! rejection curves and the evaluation's curves do not justify a plotting dependency.

use std::fmt::Write as _;

const WIDTH: f64 = 800.0;
const HEIGHT: f64 = 420.0;
const MARGIN: f64 = 60.0;

/// Writes `series` (name, colour, y values against 0, 1, 2, ...) to `path`.
#[cfg(feature = "candle")]
pub fn line_chart(
    path: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(&str, &str, &[f64])],
) -> std::io::Result<()> {
    let points = series.iter().map(|s| s.2.len()).max().unwrap_or(0).max(2);
    let y_max = series
        .iter()
        .flat_map(|s| s.2.iter().copied())
        .fold(1.0, f64::max)
        * 1.1;
    let (plot_w, plot_h) = (WIDTH - 2.0 * MARGIN, HEIGHT - 2.0 * MARGIN);
    let x = |i: usize| MARGIN + plot_w * i as f64 / (points - 1) as f64;
    let y = |v: f64| HEIGHT - MARGIN - plot_h * v / y_max;
    // Axes, with five ticks on each.
    let mut svg = frame(title, x_label, y_label);
    for t in 0..=5 {
        let v = y_max * t as f64 / 5.0;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{v:.0}</text><path d="M{MARGIN},{} h{plot_w}" stroke="#ddd"/>"##,
            MARGIN - 6.0,
            y(v) + 4.0,
            y(v)
        );
        let i = (points - 1) * t / 5;
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{i}</text>"#,
            x(i),
            HEIGHT - MARGIN + 18.0
        );
    }
    for (k, (name, colour, values)) in series.iter().enumerate() {
        let path: Vec<String> = values
            .iter()
            .enumerate()
            .map(|(i, &v)| format!("{:.1},{:.1}", x(i), y(v)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        legend(&mut svg, MARGIN + 16.0 * k as f64, colour, "", name);
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg)
}

/// The opening of a chart: the SVG element, a white background, the title, the axes and their
/// labels. The caller adds ticks, curves and legend, then `</svg>`.
fn frame(title: &str, x_label: &str, y_label: &str) -> String {
    let mut svg = String::new();
    let _ = writeln!(
        svg,
        r#"<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{HEIGHT}" font-family="sans-serif" font-size="12">"#
    );
    let _ = writeln!(svg, r#"<rect width="100%" height="100%" fill="white"/>"#);
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="24" text-anchor="middle" font-size="13">{}</text>"#,
        WIDTH / 2.0,
        escape(title)
    );
    let _ = writeln!(
        svg,
        r#"<path d="M{MARGIN},{MARGIN} V{} H{}" stroke="black" fill="none"/>"#,
        HEIGHT - MARGIN,
        WIDTH - MARGIN
    );
    let _ = writeln!(
        svg,
        r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
        WIDTH / 2.0,
        HEIGHT - 16.0,
        escape(x_label)
    );
    let _ = writeln!(
        svg,
        r#"<text x="16" y="{}" text-anchor="middle" transform="rotate(-90 16 {})">{}</text>"#,
        HEIGHT / 2.0,
        HEIGHT / 2.0,
        escape(y_label)
    );
    svg
}

/// One legend entry at height `ly`: a short line in the curve's colour and dash, then its name.
fn legend(svg: &mut String, ly: f64, colour: &str, dash: &str, name: &str) {
    let _ = writeln!(
        svg,
        r#"<path d="M{},{ly} h20" stroke="{colour}" stroke-width="2"{dash}/><text x="{}" y="{}">{}</text>"#,
        MARGIN + 10.0,
        MARGIN + 36.0,
        ly + 4.0,
        escape(name)
    );
}

fn escape(text: &str) -> String {
    text.replace('&', "&amp;")
        .replace('<', "&lt;")
        .replace('>', "&gt;")
}

/// One line of [`rate_chart`].
#[cfg(feature = "candle")]
pub struct Curve {
    pub name: String,
    pub colour: &'static str,
    pub dashed: bool,
    pub points: Vec<(f64, f64)>,
}

/// Writes rising step curves with `x` on a logarithmic axis from `x_min` to 1 and `y` a share
/// from 0 to 1, with a dotted guide at each of `guides`.
#[cfg(feature = "candle")]
pub fn rate_chart(
    path: &str,
    title: &str,
    x_label: &str,
    y_label: &str,
    x_min: f64,
    guides: &[f64],
    series: &[Curve],
) -> std::io::Result<()> {
    let (plot_w, plot_h) = (WIDTH - 2.0 * MARGIN, HEIGHT - 2.0 * MARGIN);
    let decades = -x_min.log10();
    let x = |v: f64| MARGIN + plot_w * (v.max(x_min).log10() / decades + 1.0);
    let y = |v: f64| HEIGHT - MARGIN - plot_h * v;
    let mut svg = frame(title, x_label, y_label);
    for t in 0..=5 {
        let v = t as f64 / 5.0;
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{:.0}%</text><path d="M{MARGIN},{} h{plot_w}" stroke="#ddd"/>"##,
            MARGIN - 6.0,
            y(v) + 4.0,
            v * 100.0,
            y(v)
        );
    }
    for d in 0..=decades.round() as i32 {
        let v = 10f64.powi(-d);
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="middle">1e-{d}</text><path d="M{},{MARGIN} v{plot_h}" stroke="#eee"/>"##,
            x(v),
            HEIGHT - MARGIN + 18.0,
            x(v)
        );
    }
    for &guide in guides {
        let _ = writeln!(
            svg,
            r##"<path d="M{MARGIN},{} h{plot_w}" stroke="#888" stroke-dasharray="2 3"/>"##,
            y(guide)
        );
    }
    for (k, curve) in series.iter().enumerate() {
        let Curve {
            name,
            colour,
            dashed,
            points,
        } = curve;
        let dash = if *dashed {
            r#" stroke-dasharray="6 3""#
        } else {
            ""
        };
        let path: Vec<String> = points
            .iter()
            .map(|&(px, py)| format!("{:.1},{:.1}", x(px), y(py)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="1.6"{dash}/>"#,
            path.join(" ")
        );
        legend(&mut svg, MARGIN + 8.0 + 16.0 * k as f64, colour, dash, name);
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg)
}

/// One curve of [`xy_chart`]: name, colour and `(x, y)` points.
#[cfg(feature = "eval")]
pub type Series<'a> = (&'a str, &'a str, &'a [(f64, f64)]);

/// Writes `series` (name, colour, `(x, y)` points) to `path` as a standalone SVG, each axis
/// linear or logarithmic (base 10; non-positive values are left out of a log axis).
#[cfg(feature = "eval")]
pub fn xy_chart(
    path: &str,
    title: &str,
    (x_label, log_x): (&str, bool),
    (y_label, log_y): (&str, bool),
    series: &[Series<'_>],
) -> std::io::Result<()> {
    let map = |v: f64, log: bool| if log { v.log10() } else { v };
    let points: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| {
            s.2.iter()
                .filter(|(x, y)| (!log_x || *x > 0.0) && (!log_y || *y > 0.0))
                .map(|&(x, y)| (map(x, log_x), map(y, log_y)))
                .filter(|(x, y)| x.is_finite() && y.is_finite())
                .collect()
        })
        .collect();
    let range = |pick: fn(&(f64, f64)) -> f64| {
        let (lo, hi) = points
            .iter()
            .flatten()
            .map(pick)
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        if lo < hi {
            (lo, hi)
        } else if lo.is_finite() {
            (lo - 0.5, lo + 0.5)
        } else {
            (0.0, 1.0)
        }
    };
    let ((x0, x1), (y0, y1)) = (range(|p| p.0), range(|p| p.1));
    let (plot_w, plot_h) = (WIDTH - 2.0 * MARGIN, HEIGHT - 2.0 * MARGIN);
    let px = |v: f64| MARGIN + plot_w * (v - x0) / (x1 - x0);
    let py = |v: f64| HEIGHT - MARGIN - plot_h * (v - y0) / (y1 - y0);
    let label = |v: f64, log: bool| {
        if log {
            format!("{:.0e}", 10f64.powf(v))
        } else {
            format!("{v:.3}")
        }
    };
    let mut svg = frame(title, x_label, y_label);
    for t in 0..=5 {
        let (vx, vy) = (
            x0 + (x1 - x0) * t as f64 / 5.0,
            y0 + (y1 - y0) * t as f64 / 5.0,
        );
        let _ = writeln!(
            svg,
            r##"<text x="{}" y="{}" text-anchor="end">{}</text><path d="M{MARGIN},{} h{plot_w}" stroke="#ddd"/>"##,
            MARGIN - 6.0,
            py(vy) + 4.0,
            label(vy, log_y),
            py(vy)
        );
        let _ = writeln!(
            svg,
            r#"<text x="{}" y="{}" text-anchor="middle">{}</text>"#,
            px(vx),
            HEIGHT - MARGIN + 18.0,
            label(vx, log_x)
        );
    }
    for (k, ((name, colour, _), pts)) in series.iter().zip(&points).enumerate() {
        let path: Vec<String> = pts
            .iter()
            .map(|&(x, y)| format!("{:.1},{:.1}", px(x), py(y)))
            .collect();
        let _ = writeln!(
            svg,
            r#"<polyline points="{}" fill="none" stroke="{colour}" stroke-width="2"/>"#,
            path.join(" ")
        );
        // Markers only where the points are a parameter grid, not a dense trace.
        let markers = if pts.len() <= 50 { pts.as_slice() } else { &[] };
        for &(x, y) in markers {
            let _ = writeln!(
                svg,
                r#"<circle cx="{:.1}" cy="{:.1}" r="3" fill="{colour}"/>"#,
                px(x),
                py(y)
            );
        }
        legend(&mut svg, MARGIN + 16.0 * k as f64, colour, "", name);
    }
    svg.push_str("</svg>\n");
    std::fs::write(path, svg)
}
