//! Line charts as standalone SVG files, drawn by plotters: the demo's kept-set sizes, the text
//! matching's rejection curves and the evaluation's curves.

use std::ops::Range;

use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;
pub use plotters::style::RGBColor;

const SIZE: (u32, u32) = (800, 440);

/// Curve colours, in the order the charts hand them out.
pub const PALETTE: [RGBColor; 5] = [
    RGBColor(0x44, 0x44, 0x44),
    RGBColor(0xd6, 0x27, 0x28),
    RGBColor(0x1f, 0x77, 0xb4),
    RGBColor(0x2c, 0xa0, 0x2c),
    RGBColor(0x94, 0x67, 0xbd),
];

/// One axis: its label, linear or base-10 logarithmic, its range (default: the data's), and
/// whether its values are shares printed as percentages.
#[derive(Clone)]
pub struct Axis<'a> {
    pub label: &'a str,
    pub log: bool,
    pub range: Option<Range<f64>>,
    pub percent: bool,
}

impl<'a> Axis<'a> {
    pub fn linear(label: &'a str) -> Self {
        Self {
            label,
            log: false,
            range: None,
            percent: false,
        }
    }

    pub fn log(label: &'a str) -> Self {
        Self {
            log: true,
            ..Self::linear(label)
        }
    }

    pub fn range(self, range: Range<f64>) -> Self {
        Self {
            range: Some(range),
            ..self
        }
    }

    pub fn percent(self) -> Self {
        Self {
            percent: true,
            ..self
        }
    }

    /// The label of the tick at `v`.
    fn tick(&self, v: f64) -> String {
        if self.percent {
            trim(100.0 * v) + "%"
        } else if self.log {
            format!("{v:.0e}")
        } else {
            trim(v)
        }
    }

    /// The range drawn: the given one, else the data's (non-positive values left out of a
    /// log axis), widened when it is a single value.
    fn span(&self, values: impl Iterator<Item = f64>) -> Range<f64> {
        if let Some(range) = &self.range {
            return range.clone();
        }
        let (lo, hi) = values
            .filter(|v| v.is_finite() && (!self.log || *v > 0.0))
            .fold((f64::INFINITY, f64::NEG_INFINITY), |(a, b), v| {
                (a.min(v), b.max(v))
            });
        match (lo.is_finite(), lo < hi) {
            (true, true) => lo..hi,
            (true, false) if self.log => lo / 10.0..lo * 10.0,
            (true, false) => lo - 0.5..lo + 0.5,
            (false, _) if self.log => 0.1..1.0,
            (false, _) => 0.0..1.0,
        }
    }
}

/// A number without trailing zeros: `5`, `0.25`, `1e-3` as `0.001`.
fn trim(v: f64) -> String {
    let text = format!("{v:.6}");
    let text = text.trim_end_matches('0').trim_end_matches('.');
    if text == "-0" {
        "0".into()
    } else {
        text.into()
    }
}

/// One curve: its legend entry, colour, dash, `(x, y)` points, and whether each point gets a
/// marker (for a parameter grid, not a dense trace).
pub struct Series<'a> {
    pub name: &'a str,
    pub colour: RGBColor,
    pub dashed: bool,
    pub markers: bool,
    pub points: &'a [(f64, f64)],
}

/// Writes `series` to `path` as a standalone SVG, with a dotted horizontal guide at each of
/// `guides` (y values).
pub fn chart(
    path: &str,
    title: &str,
    x: &Axis,
    y: &Axis,
    guides: &[f64],
    series: &[Series],
) -> Result<(), String> {
    let on_axes = |(px, py): &(f64, f64)| {
        px.is_finite() && py.is_finite() && (!x.log || *px > 0.0) && (!y.log || *py > 0.0)
    };
    let visible: Vec<Vec<(f64, f64)>> = series
        .iter()
        .map(|s| s.points.iter().copied().filter(on_axes).collect())
        .collect();
    let all = || visible.iter().flatten();
    let x_range = x.span(all().map(|p| p.0));
    let y_range = y.span(all().map(|p| p.1).chain(guides.iter().copied()));
    let draw = Draw {
        path,
        title,
        x,
        y,
        guides,
        series,
        visible: &visible,
    };
    let ends = x_range.clone();
    let drawn = match (x.log, y.log) {
        (false, false) => draw.with(x_range, y_range, ends),
        (true, false) => draw.with(x_range.log_scale(), y_range, ends),
        (false, true) => draw.with(x_range, y_range.log_scale(), ends),
        (true, true) => draw.with(x_range.log_scale(), y_range.log_scale(), ends),
    };
    drawn.map_err(|e| format!("{path}: {e}"))
}

/// What [`chart`] draws, handed to the one drawing routine whatever the axes' scales.
struct Draw<'a> {
    path: &'a str,
    title: &'a str,
    x: &'a Axis<'a>,
    y: &'a Axis<'a>,
    guides: &'a [f64],
    series: &'a [Series<'a>],
    visible: &'a [Vec<(f64, f64)>],
}

type DrawResult = Result<(), Box<dyn std::error::Error>>;

impl Draw<'_> {
    /// Draws on axes `x_spec` and `y_spec`; the guides run across `x_ends`.
    fn with<X, Y>(&self, x_spec: X, y_spec: Y, x_ends: Range<f64>) -> DrawResult
    where
        X: AsRangedCoord<Value = f64>,
        Y: AsRangedCoord<Value = f64>,
        X::CoordDescType: ValueFormatter<f64>,
        Y::CoordDescType: ValueFormatter<f64>,
    {
        let root = SVGBackend::new(self.path, SIZE).into_drawing_area();
        root.fill(&WHITE)?;
        let mut chart = ChartBuilder::on(&root)
            .caption(self.title, ("sans-serif", 15))
            .margin(12)
            .x_label_area_size(44)
            .y_label_area_size(64)
            .build_cartesian_2d(x_spec, y_spec)?;
        let (x_tick, y_tick) = (|v: &f64| self.x.tick(*v), |v: &f64| self.y.tick(*v));
        chart
            .configure_mesh()
            .x_desc(self.x.label)
            .y_desc(self.y.label)
            .x_labels(8)
            .y_labels(8)
            .x_label_formatter(&x_tick)
            .y_label_formatter(&y_tick)
            .light_line_style(RGBColor(0xee, 0xee, 0xee))
            .label_style(("sans-serif", 12))
            .axis_desc_style(("sans-serif", 13))
            .draw()?;
        let guide = ShapeStyle::from(RGBColor(0x88, 0x88, 0x88)).stroke_width(1);
        for &g in self.guides {
            let ends = [(x_ends.start, g), (x_ends.end, g)];
            chart.draw_series(DashedLineSeries::new(ends, 2, 4, guide))?;
        }
        for (s, points) in self.series.iter().zip(self.visible) {
            let style = ShapeStyle::from(s.colour).stroke_width(2);
            let line = if s.dashed {
                chart.draw_series(DashedLineSeries::new(points.iter().copied(), 8, 4, style))?
            } else {
                chart.draw_series(LineSeries::new(points.iter().copied(), style))?
            };
            let dashed = s.dashed;
            line.label(s.name).legend(move |(lx, ly)| {
                let length = if dashed { 10 } else { 20 };
                PathElement::new(vec![(lx, ly), (lx + length, ly)], style)
            });
            if s.markers {
                let dots = points.iter().map(|&p| Circle::new(p, 3, s.colour.filled()));
                chart.draw_series(dots)?;
            }
        }
        chart
            .configure_series_labels()
            .position(SeriesLabelPosition::UpperLeft)
            .background_style(WHITE.mix(0.85))
            .border_style(RGBColor(0xcc, 0xcc, 0xcc))
            .label_font(("sans-serif", 12))
            .draw()?;
        root.present()?;
        Ok(())
    }
}
