//! The SVG plots of `docs/benchmarks/`, drawn by the benches from the
//! figures they just measured: grouped bars (throughput by phase) and lines
//! (cost against batch size, latency distributions).
//!
//! The SVG keeps text as text, so no font is needed to draw; the viewer
//! renders it in its sans-serif font. Colours are the Okabe-Ito palette,
//! which readers with a colour-vision deficiency can still tell apart.

use std::path::Path;

use anyhow::{Context, Result, anyhow, ensure};
use plotters::coord::Shift;
use plotters::coord::ranged1d::ValueFormatter;
use plotters::prelude::*;
use plotters::style::text_anchor::{HPos, Pos, VPos};

/// Width and height of every plot, in pixels.
const SIZE: (u32, u32) = (960, 560);
/// The font family of all text.
const FONT: &str = "sans-serif";
/// How much higher than the tallest bar the value axis goes at least, so
/// its value label fits.
const LABEL_ROOM: f64 = 1.6;

/// Series colours, in order (Okabe-Ito).
const PALETTE: [RGBColor; 6] = [
    RGBColor(0, 114, 178),
    RGBColor(230, 159, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(86, 180, 233),
    RGBColor(213, 94, 0),
];

/// The colour of series `i`.
fn color(i: usize) -> RGBColor {
    PALETTE[i % PALETTE.len()]
}

/// One series of bars: a value per group, `None` where it has none.
pub struct BarSeries {
    /// Its name in the legend.
    pub label: String,
    /// One value per group of [`Bars::groups`].
    pub values: Vec<Option<f64>>,
}

/// A grouped bar chart on a logarithmic value axis.
pub struct Bars<'a> {
    /// The title above the plot.
    pub title: &'a str,
    /// What the value axis shows, with its unit.
    pub y_desc: &'a str,
    /// The groups along the horizontal axis.
    pub groups: &'a [&'a str],
    /// The bars of each group, one per series.
    pub series: Vec<BarSeries>,
    /// A reference level drawn as a dashed line across all groups.
    pub reference: Option<(String, f64)>,
}

/// One line: its name in the legend and its points (x, y).
pub struct Line {
    /// Its name in the legend.
    pub label: String,
    /// Its points, in the order they are joined.
    pub points: Vec<(f64, f64)>,
}

/// A line chart.
pub struct Lines<'a> {
    /// The title above the plot.
    pub title: &'a str,
    /// What the horizontal axis shows, with its unit.
    pub x_desc: &'a str,
    /// What the vertical axis shows, with its unit.
    pub y_desc: &'a str,
    /// The lines.
    pub series: Vec<Line>,
    /// Whether each point gets a marker (few points) or not (a curve).
    pub markers: bool,
    /// Where the legend goes: a corner the lines leave empty.
    pub legend: SeriesLabelPosition,
}

/// What drawing into an SVG file can fail with.
type Drawn = Result<(), DrawingAreaErrorKind<std::io::Error>>;

/// The SVG drawing area of the file `path`, white.
fn canvas(
    path: &Path,
) -> Result<DrawingArea<SVGBackend<'_>, Shift>, DrawingAreaErrorKind<std::io::Error>> {
    let root = SVGBackend::new(path, SIZE).into_drawing_area();
    root.fill(&WHITE)?;
    Ok(root)
}

/// Draws `bars` into the SVG file `path`.
///
/// # Errors
///
/// When there is no positive value to draw, or the file cannot be written.
pub fn bars(path: &Path, bars: &Bars<'_>) -> Result<()> {
    let values = bars
        .series
        .iter()
        .flat_map(|s| s.values.iter().flatten().copied())
        .chain(bars.reference.iter().map(|r| r.1));
    let bounds =
        log_bounds(values, LABEL_ROOM).ok_or_else(|| anyhow!("{}: nothing to plot", bars.title))?;
    draw_bar_chart(path, bars, bounds).with_context(|| format!("draw {}", path.display()))
}

/// [`bars`] once the value axis runs from `lo` to `hi`.
fn draw_bar_chart(path: &Path, bars: &Bars<'_>, (lo, hi): (f64, f64)) -> Drawn {
    let root = canvas(path)?;
    let groups = bars.groups.len() as f64;
    let mut chart = ChartBuilder::on(&root)
        .caption(bars.title, (FONT, 22))
        .margin(16)
        .x_label_area_size(40)
        .y_label_area_size(80)
        .build_cartesian_2d(-0.5..groups - 0.5, (lo..hi).log_scale())?;
    chart
        .configure_mesh()
        .disable_x_mesh()
        .x_labels(0)
        .y_desc(bars.y_desc)
        .y_label_formatter(&|v| si(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    draw_bars(&mut chart, bars, lo)?;
    if let Some((label, level)) = &bars.reference {
        let style = BLACK.stroke_width(2);
        let ends = [(-0.5, *level), (groups - 0.5, *level)];
        chart
            .draw_series(DashedLineSeries::new(ends, 8, 6, style))?
            .label(label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    }
    let below = TextStyle::from((FONT, 16).into_font()).pos(Pos::new(HPos::Center, VPos::Top));
    for (i, group) in bars.groups.iter().enumerate() {
        let (x, y) = chart.backend_coord(&(i as f64, lo));
        root.draw(&Text::new(*group, (x, y + 8), below.clone()))?;
    }
    legend(&mut chart, SeriesLabelPosition::UpperLeft)?;
    root.present()
}

/// The bars themselves, each labelled with its value, and their legend.
fn draw_bars<'a, 'b: 'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    bars: &Bars<'_>,
    floor: f64,
) -> Drawn
where
    X: Ranged<ValueType = f64>,
    Y: Ranged<ValueType = f64>,
{
    let width = 0.8 / bars.series.len().max(1) as f64;
    let above = TextStyle::from((FONT, 12).into_font()).pos(Pos::new(HPos::Center, VPos::Bottom));
    for (s, series) in bars.series.iter().enumerate() {
        let fill = color(s).filled();
        let placed: Vec<(f64, f64)> = series
            .values
            .iter()
            .enumerate()
            .filter_map(|(g, v)| v.map(|v| (g as f64 - 0.4 + width * s as f64, v)))
            .collect();
        chart
            .draw_series(placed.iter().map(|&(x, v)| {
                Rectangle::new([(x + width * 0.05, floor), (x + width * 0.95, v)], fill)
            }))?
            .label(&series.label)
            .legend(move |(x, y)| Rectangle::new([(x, y - 6), (x + 16, y + 6)], fill));
        chart.draw_series(
            placed
                .iter()
                .map(|&(x, v)| Text::new(si(v), (x + width / 2.0, v), above.clone())),
        )?;
    }
    Ok(())
}

/// Draws `lines` into the SVG file `path`, both axes logarithmic.
///
/// # Errors
///
/// When there is no positive point, or the file cannot be written.
pub fn lines_log_log(path: &Path, lines: &Lines<'_>) -> Result<()> {
    let points = || lines.series.iter().flat_map(|l| l.points.iter().copied());
    let none = || anyhow!("{}: nothing to plot", lines.title);
    let x = log_bounds(points().map(|p| p.0), 1.0).ok_or_else(none)?;
    let y = log_bounds(points().map(|p| p.1), 1.0).ok_or_else(none)?;
    let draw = || -> Drawn {
        let root = canvas(path)?;
        let mut chart = chart_builder(&root, lines.title)
            .build_cartesian_2d((x.0..x.1).log_scale(), (y.0..y.1).log_scale())?;
        draw_lines(&mut chart, lines)?;
        root.present()
    };
    draw().with_context(|| format!("draw {}", path.display()))
}

/// Draws `lines` into the SVG file `path`, both axes linear, from 0 to a
/// little past the largest value.
///
/// # Errors
///
/// When there is no point, or the file cannot be written.
pub fn lines_linear(path: &Path, lines: &Lines<'_>) -> Result<()> {
    let points = || lines.series.iter().flat_map(|l| l.points.iter().copied());
    let top = |values: &mut dyn Iterator<Item = f64>| {
        values.filter(|v| v.is_finite()).fold(0.0, f64::max)
    };
    let x1 = top(&mut points().map(|p| p.0));
    let y1 = top(&mut points().map(|p| p.1));
    ensure!(x1 > 0.0 && y1 > 0.0, "{}: nothing to plot", lines.title);
    let draw = || -> Drawn {
        let root = canvas(path)?;
        let mut chart =
            chart_builder(&root, lines.title).build_cartesian_2d(0.0..x1 * 1.05, 0.0..y1 * 1.05)?;
        draw_lines(&mut chart, lines)?;
        root.present()
    };
    draw().with_context(|| format!("draw {}", path.display()))
}

/// A chart builder with the title and margins every line chart uses.
fn chart_builder<'a, 'b>(
    root: &'a DrawingArea<SVGBackend<'b>, Shift>,
    title: &str,
) -> ChartBuilder<'a, 'b, SVGBackend<'b>> {
    let mut builder = ChartBuilder::on(root);
    builder
        .caption(title, (FONT, 22))
        .margin(16)
        .x_label_area_size(56)
        .y_label_area_size(80);
    builder
}

/// The mesh, the lines and their legend.
fn draw_lines<'a, 'b: 'a, X, Y>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    lines: &Lines<'_>,
) -> Drawn
where
    X: Ranged<ValueType = f64> + ValueFormatter<f64>,
    Y: Ranged<ValueType = f64> + ValueFormatter<f64>,
{
    chart
        .configure_mesh()
        .x_desc(lines.x_desc)
        .y_desc(lines.y_desc)
        .x_label_formatter(&|v| si(*v))
        .y_label_formatter(&|v| si(*v))
        .label_style((FONT, 14))
        .axis_desc_style((FONT, 16))
        .draw()?;
    for (i, line) in lines.series.iter().enumerate() {
        let style = color(i).stroke_width(2);
        let marker = if lines.markers { 4 } else { 0 };
        chart
            .draw_series(LineSeries::new(line.points.iter().copied(), style).point_size(marker))?
            .label(&line.label)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 24, y)], style));
    }
    legend(chart, lines.legend.clone())
}

/// The legend, at `at`, over a white box.
fn legend<'a, 'b: 'a, X: Ranged, Y: Ranged>(
    chart: &mut ChartContext<'a, SVGBackend<'b>, Cartesian2d<X, Y>>,
    at: SeriesLabelPosition,
) -> Drawn {
    chart
        .configure_series_labels()
        .position(at)
        .background_style(WHITE.mix(0.9))
        .border_style(BLACK)
        .label_font((FONT, 14))
        .draw()
}

/// Bounds of a logarithmic axis holding every positive finite value of
/// `values`: the decade at or below the smallest, and the decade at or
/// above the largest times `room` (room for a label on top); `None` when
/// there is no such value.
fn log_bounds(values: impl Iterator<Item = f64>, room: f64) -> Option<(f64, f64)> {
    let (lo, hi) = values
        .filter(|v| v.is_finite() && *v > 0.0)
        .fold(None, |acc: Option<(f64, f64)>, v| {
            Some(acc.map_or((v, v), |(lo, hi)| (lo.min(v), hi.max(v))))
        })?;
    let lo = 10f64.powf(lo.log10().floor());
    let hi = 10f64.powf((hi * room).log10().ceil()).max(lo * 10.0);
    Some((lo, hi))
}

/// `x` in SI form for an axis or a bar: `250`, `1.5k`, `2M`, `0.5`,
/// `0.025`.
fn si(x: f64) -> String {
    let (scaled, suffix) = match x.abs() {
        a if a >= 1e9 => (x / 1e9, "G"),
        a if a >= 1e6 => (x / 1e6, "M"),
        a if a >= 1e3 => (x / 1e3, "k"),
        _ => (x, ""),
    };
    let digits = match scaled.abs() {
        a if a >= 100.0 || scaled == scaled.round() => 0,
        a if a >= 10.0 => 1,
        a if a >= 1.0 => 2,
        _ => 3,
    };
    let text = format!("{scaled:.digits$}");
    let text = if text.contains('.') {
        text.trim_end_matches('0').trim_end_matches('.').to_owned()
    } else {
        text
    };
    format!("{text}{suffix}")
}
