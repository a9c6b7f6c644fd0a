//! Plots (plotters), each written as both `stem.png` and `stem.svg`, atomically.
//!
//! Text is rendered with DejaVu Sans, embedded in the binary (`assets/fonts/DejaVuSans.ttf`,
//! licence in `assets/fonts/LICENSE-DejaVu.txt`) and registered with plotters' `ab_glyph`
//! font table as `sans-serif` on first use.
//!
//! Axis ranges are derived robustly: a single point or equal values get a padded range; log
//! axes snap outward to whole decades (so there are always decade ticks). Points that cannot be
//! drawn — non-finite coordinates, or coordinates ≤ 0 on a log axis — are skipped and counted
//! in [`PlotFiles::skipped`].

use std::ffi::OsString;
use std::fs;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use crate::error::{EvalError, Result};
use crate::io::{atomic_write, commit, temp_path_for};

static FONT_BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../assets/fonts/DejaVuSans.ttf"
));

const FONT: &str = "sans-serif";

/// Registers the embedded font once per process.
fn ensure_font() -> Result<()> {
    static REGISTERED: OnceLock<bool> = OnceLock::new();
    let ok = *REGISTERED.get_or_init(|| {
        plotters::style::register_font(FONT, FontStyle::Normal, FONT_BYTES).is_ok()
    });
    if ok {
        Ok(())
    } else {
        Err(EvalError::Plot {
            path: PathBuf::from("assets/fonts/DejaVuSans.ttf"),
            detail: "embedded font could not be parsed".into(),
        })
    }
}

/// Paths written by a plot function.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlotFiles {
    /// The PNG file (`stem.png`).
    pub png: PathBuf,
    /// The SVG file (`stem.svg`).
    pub svg: PathBuf,
    /// Number of input values not drawn (non-finite, or ≤ 0 on a log axis).
    pub skipped: usize,
}

/// Colour palette (colour-blind-friendly, after Okabe–Ito, plus two extras).
const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(153, 153, 153),
];

fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// Something that can draw itself on any plotters backend.
trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> std::result::Result<(), String>;
}

fn with_ext(stem: &Path, ext: &str) -> PathBuf {
    let mut s: OsString = stem.as_os_str().to_owned();
    s.push(".");
    s.push(ext);
    PathBuf::from(s)
}

fn plot_err(path: &Path, detail: String) -> EvalError {
    EvalError::Plot {
        path: path.to_path_buf(),
        detail,
    }
}

fn de<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Renders `fig` to `stem.png` and `stem.svg` (atomically; the parent directory is created).
fn render(stem: &Path, fig: &impl Figure, skipped: usize) -> Result<PlotFiles> {
    ensure_font()?;
    let png = with_ext(stem, "png");
    let svg = with_ext(stem, "svg");
    if let Some(dir) = png.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|source| EvalError::Io {
            path: dir.to_path_buf(),
            source,
        })?;
    }
    // PNG: the encoder picks the format from the extension, so the temporary name ends in .png.
    let tmp = temp_path_for(&png, ".tmp.png");
    let drawn = (|| {
        let root = BitMapBackend::new(&tmp, fig.size()).into_drawing_area();
        fig.draw(&root)?;
        root.present().map_err(de)
    })();
    if let Err(detail) = drawn {
        let _ = fs::remove_file(&tmp);
        return Err(plot_err(&png, detail));
    }
    commit(&tmp, &png)?;
    let mut text = String::new();
    {
        let root = SVGBackend::with_string(&mut text, fig.size()).into_drawing_area();
        fig.draw(&root).map_err(|d| plot_err(&svg, d))?;
        root.present().map_err(|e| plot_err(&svg, de(e)))?;
    }
    atomic_write(&svg, text.as_bytes())?;
    Ok(PlotFiles { png, svg, skipped })
}

/// Compact tick label: plain decimals for moderate magnitudes, `1e-5` style otherwise.
fn fmt_tick(v: f64) -> String {
    let a = v.abs();
    if a == 0.0 {
        return "0".into();
    }
    if (1e-3..1e5).contains(&a) {
        let decimals = (3 - a.log10().floor() as i32).clamp(0, 6) as usize;
        let s = format!("{v:.decimals$}");
        if s.contains('.') {
            s.trim_end_matches('0').trim_end_matches('.').to_string()
        } else {
            s
        }
    } else {
        let s = format!("{v:.2e}");
        match s.split_once('e') {
            Some((m, e)) => {
                let m = m.trim_end_matches('0').trim_end_matches('.');
                format!("{m}e{e}")
            }
            None => s,
        }
    }
}

/// Axis range over `values`: padded linear range, or decade-snapped log range over the
/// positive values. `None` if nothing is plottable.
fn axis_range(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
    let (mut lo, mut hi) = (f64::INFINITY, f64::NEG_INFINITY);
    for v in values.filter(|v| v.is_finite() && (!log || *v > 0.0)) {
        lo = lo.min(v);
        hi = hi.max(v);
    }
    if lo > hi {
        return None;
    }
    if log {
        let mut l = 10f64.powi(lo.log10().floor() as i32);
        let mut h = 10f64.powi(hi.log10().ceil() as i32);
        if l > lo {
            l /= 10.0;
        }
        if h < hi {
            h *= 10.0;
        }
        if h <= l * 1.000_001 {
            l /= 10.0;
            h *= 10.0;
        }
        // Nudge outward so plotters' tick search (which takes ceil(log10(start)) in floating
        // point) still finds the lowest decade.
        Some((l * (1.0 - 1e-9), h * (1.0 + 1e-9)))
    } else if hi - lo <= f64::EPSILON * hi.abs().max(lo.abs()).max(1e-300) {
        let pad = (lo.abs() * 0.1).max(0.5);
        Some((lo - pad, hi + pad))
    } else {
        let pad = 0.05 * (hi - lo);
        Some((lo - pad, hi + pad))
    }
}

fn plottable(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

#[derive(Clone, Copy, PartialEq)]
enum Kind {
    Lines,
    Markers,
}

/// A line or scatter plot with one entry per series.
struct XyFigure<'a> {
    title: &'a str,
    x_label: &'a str,
    y_label: &'a str,
    series: Vec<(String, Vec<(f64, f64)>)>,
    log_x: bool,
    log_y: bool,
    kind: Kind,
}

impl XyFigure<'_> {
    /// Drops unplottable points; returns how many were dropped.
    fn clean(&mut self) -> usize {
        let (lx, ly) = (self.log_x, self.log_y);
        let mut skipped = 0;
        for (_, pts) in &mut self.series {
            let before = pts.len();
            pts.retain(|&(x, y)| plottable(x, lx) && plottable(y, ly));
            skipped += before - pts.len();
        }
        skipped
    }

    fn ranges(&self) -> ((f64, f64), (f64, f64)) {
        let all = || self.series.iter().flat_map(|(_, p)| p.iter());
        let default = |log: bool| if log { (0.1, 10.0) } else { (0.0, 1.0) };
        let xr = axis_range(all().map(|p| p.0), self.log_x).unwrap_or(default(self.log_x));
        let yr = axis_range(all().map(|p| p.1), self.log_y).unwrap_or(default(self.log_y));
        (xr, yr)
    }

    /// The legend corner covering the fewest data points (corner boxes of 40 % × 35 % of the
    /// plot in axis coordinates), preferring upper right, upper left, lower right, lower left.
    fn legend_corner(&self, xr: (f64, f64), yr: (f64, f64)) -> SeriesLabelPosition {
        let norm = |v: f64, (lo, hi): (f64, f64), log: bool| {
            if log {
                (v.ln() - lo.ln()) / (hi.ln() - lo.ln())
            } else {
                (v - lo) / (hi - lo)
            }
        };
        let pts: Vec<(f64, f64)> = self
            .series
            .iter()
            .flat_map(|(_, p)| p.iter())
            .map(|&(x, y)| (norm(x, xr, self.log_x), norm(y, yr, self.log_y)))
            .collect();
        let corners = [
            (SeriesLabelPosition::UpperRight, true, true),
            (SeriesLabelPosition::UpperLeft, false, true),
            (SeriesLabelPosition::LowerRight, true, false),
            (SeriesLabelPosition::LowerLeft, false, false),
        ];
        let count = |right: bool, upper: bool| {
            pts.iter()
                .filter(|(x, y)| (if right { *x >= 0.6 } else { *x <= 0.4 }) && (if upper { *y >= 0.65 } else { *y <= 0.35 }))
                .count()
        };
        let mut best = (usize::MAX, SeriesLabelPosition::UpperRight);
        for (pos, right, upper) in corners {
            let c = count(right, upper);
            if c < best.0 {
                best = (c, pos);
            }
        }
        best.1
    }

    fn draw_on<DB, XS, YS>(&self, root: &DrawingArea<DB, Shift>, xs: XS, ys: YS) -> std::result::Result<(), String>
    where
        DB: DrawingBackend,
        XS: AsRangedCoord<Value = f64>,
        YS: AsRangedCoord<Value = f64>,
        XS::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
        YS::CoordDescType: Ranged<ValueType = f64> + ValueFormatter<f64>,
    {
        let (x_range, y_range) = self.ranges();
        root.fill(&WHITE).map_err(de)?;
        let mut chart = ChartBuilder::on(root)
            .caption(self.title, (FONT, 22))
            .margin(12)
            .x_label_area_size(48)
            .y_label_area_size(72)
            .build_cartesian_2d(xs, ys)
            .map_err(de)?;
        chart
            .configure_mesh()
            .x_desc(self.x_label)
            .y_desc(self.y_label)
            .label_style((FONT, 14))
            .axis_desc_style((FONT, 16))
            .x_label_formatter(&|v: &f64| fmt_tick(*v))
            .y_label_formatter(&|v: &f64| fmt_tick(*v))
            .draw()
            .map_err(de)?;
        for (i, (name, pts)) in self.series.iter().enumerate() {
            let c = color(i);
            let style = c.stroke_width(2);
            match self.kind {
                Kind::Lines => {
                    chart
                        .draw_series(LineSeries::new(pts.iter().copied(), style))
                        .map_err(de)?
                        .label(name.as_str())
                        .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], style));
                }
                Kind::Markers => {
                    let filled = c.filled();
                    let it = pts.iter().copied();
                    let ann = match (i / COLORS.len() + i) % 4 {
                        0 => chart
                            .draw_series(it.map(move |p| Circle::new(p, 5, filled)))
                            .map_err(de)?
                            .legend(move |(x, y)| Circle::new((x + 10, y), 5, filled)),
                        1 => chart
                            .draw_series(it.map(move |p| TriangleMarker::new(p, 6, filled)))
                            .map_err(de)?
                            .legend(move |(x, y)| TriangleMarker::new((x + 10, y), 6, filled)),
                        2 => chart
                            .draw_series(it.map(move |p| Cross::new(p, 5, style)))
                            .map_err(de)?
                            .legend(move |(x, y)| Cross::new((x + 10, y), 5, style)),
                        _ => chart
                            .draw_series(
                                it.map(move |p| EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], filled)),
                            )
                            .map_err(de)?
                            .legend(move |(x, y)| Rectangle::new([(x + 6, y - 4), (x + 14, y + 4)], filled)),
                    };
                    ann.label(name.as_str());
                }
            }
        }
        if !self.series.is_empty() {
            chart
                .configure_series_labels()
                .position(self.legend_corner(x_range, y_range))
                .label_font((FONT, 14))
                .background_style(WHITE.mix(0.85))
                .border_style(BLACK)
                .draw()
                .map_err(de)?;
        }
        Ok(())
    }
}

impl Figure for XyFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 600)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        let ((x0, x1), (y0, y1)) = self.ranges();
        let (xr, yr): (Range<f64>, Range<f64>) = (x0..x1, y0..y1);
        match (self.log_x, self.log_y) {
            (false, false) => self.draw_on(root, xr, yr),
            (true, false) => self.draw_on(root, xr.log_scale(), yr),
            (false, true) => self.draw_on(root, xr, yr.log_scale()),
            (true, true) => self.draw_on(root, xr.log_scale(), yr.log_scale()),
        }
    }
}

/// Line plot of several series (e.g. relative distance to the oracle vs step, `log_y = true`).
/// Writes `stem.png` and `stem.svg`.
pub fn plot_curves(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    series: &[(String, Vec<(f64, f64)>)],
    log_x: bool,
    log_y: bool,
) -> Result<PlotFiles> {
    let mut fig = XyFigure {
        title,
        x_label,
        y_label,
        series: series.to_vec(),
        log_x,
        log_y,
        kind: Kind::Lines,
    };
    let skipped = fig.clean();
    render(stem, &fig, skipped)
}

/// Scatter plot, one marker shape and colour per series with a legend (e.g. KLoM vs cost,
/// `log_x = true`, as the paper's Figure 2). `points` are `(series, x, y)`; series appear in
/// order of first occurrence. Writes `stem.png` and `stem.svg`.
pub fn plot_scatter(
    stem: &Path,
    title: &str,
    x_label: &str,
    y_label: &str,
    points: &[(String, f64, f64)],
    log_x: bool,
    log_y: bool,
) -> Result<PlotFiles> {
    let mut series: Vec<(String, Vec<(f64, f64)>)> = Vec::new();
    for (name, x, y) in points {
        match series.iter_mut().find(|(n, _)| n == name) {
            Some((_, pts)) => pts.push((*x, *y)),
            None => series.push((name.clone(), vec![(*x, *y)])),
        }
    }
    let mut fig = XyFigure {
        title,
        x_label,
        y_label,
        series,
        log_x,
        log_y,
        kind: Kind::Markers,
    };
    let skipped = fig.clean();
    render(stem, &fig, skipped)
}

/// Number of histogram bins.
const HIST_BINS: usize = 40;

/// Small multiples: one histogram panel per split, sharing the x range.
struct HistFigure<'a> {
    panels: Vec<(&'a str, Vec<f64>)>,
    lo: f64,
    hi: f64,
}

impl Figure for HistFigure<'_> {
    fn size(&self) -> (u32, u32) {
        (900, 260 * self.panels.len().max(1) as u32)
    }

    fn draw<DB: DrawingBackend>(&self, root: &DrawingArea<DB, Shift>) -> std::result::Result<(), String> {
        root.fill(&WHITE).map_err(de)?;
        let areas = root.split_evenly((self.panels.len().max(1), 1));
        let width = (self.hi - self.lo) / HIST_BINS as f64;
        for (i, ((name, values), area)) in self.panels.iter().zip(areas.iter()).enumerate() {
            let mut shares = [0.0f64; HIST_BINS];
            for &v in values {
                let k = (((v - self.lo) / width) as usize).min(HIST_BINS - 1);
                shares[k] += 1.0;
            }
            let n = values.len().max(1) as f64;
            shares.iter_mut().for_each(|s| *s /= n);
            let top = shares.iter().cloned().fold(0.0, f64::max).max(1e-3) * 1.1;
            let caption = if values.is_empty() {
                format!("{name}: no points")
            } else {
                let mut sorted = values.clone();
                sorted.sort_by(|a, b| a.total_cmp(b));
                let h = (sorted.len() - 1) as f64 * 0.95;
                let (l, t) = (h.floor() as usize, h - h.floor());
                let p95 = sorted[l] + t * (sorted[(l + 1).min(sorted.len() - 1)] - sorted[l]);
                let mean = sorted.iter().sum::<f64>() / n;
                format!("{name}: n = {}, P95 = {p95:.3}, mean = {mean:.3}", values.len())
            };
            let mut chart = ChartBuilder::on(area)
                .caption(caption, (FONT, 18))
                .margin(10)
                .x_label_area_size(40)
                .y_label_area_size(64)
                .build_cartesian_2d(self.lo..self.hi, 0.0..top)
                .map_err(de)?;
            chart
                .configure_mesh()
                .x_desc("per-point KLoM")
                .y_desc("share of points")
                .label_style((FONT, 13))
                .axis_desc_style((FONT, 14))
                .x_label_formatter(&|v: &f64| fmt_tick(*v))
                .y_label_formatter(&|v: &f64| fmt_tick(*v))
                .draw()
                .map_err(de)?;
            let fill = color(i).mix(0.75).filled();
            chart
                .draw_series(shares.iter().enumerate().filter(|(_, s)| **s > 0.0).map(|(k, &s)| {
                    let x0 = self.lo + k as f64 * width;
                    Rectangle::new([(x0, 0.0), (x0 + width, s)], fill)
                }))
                .map_err(de)?;
        }
        Ok(())
    }
}

/// Per-point KLoM histograms, one panel per split (small multiples sharing the x axis; the
/// y axis is the share of that split's points per bin, 40 bins). Each panel's caption gives n,
/// P95 and mean. Writes `stem.png` and `stem.svg`.
pub fn plot_klom_histograms(stem: &Path, per_split: &[(&str, &[f32])]) -> Result<PlotFiles> {
    if per_split.is_empty() {
        return Err(EvalError::Empty("no splits to plot".into()));
    }
    let mut skipped = 0;
    let panels: Vec<(&str, Vec<f64>)> = per_split
        .iter()
        .map(|(name, vals)| {
            let v: Vec<f64> = vals.iter().filter(|v| v.is_finite()).map(|&v| f64::from(v)).collect();
            skipped += vals.len() - v.len();
            (*name, v)
        })
        .collect();
    let all = || panels.iter().flat_map(|(_, v)| v.iter().copied());
    let lo = all().fold(0.0f64, f64::min);
    let mut hi = all().fold(f64::NEG_INFINITY, f64::max);
    if !(hi > lo) {
        hi = lo + 1.0;
    }
    let fig = HistFigure { panels, lo, hi };
    render(stem, &fig, skipped)
}

#[cfg(test)]
mod tests {
    use super::*;

    const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

    fn check_files(f: &PlotFiles) {
        let png = fs::read(&f.png).unwrap();
        assert!(png.len() > 1000 && png[..8] == PNG_MAGIC);
        let svg = fs::read_to_string(&f.svg).unwrap();
        assert!(svg.contains("<svg") && svg.contains("</svg>"));
        // Text is rendered through the registered font: the SVG carries <text> elements.
        assert!(svg.contains("<text"));
    }

    #[test]
    fn tick_labels_and_ranges() {
        assert_eq!(fmt_tick(0.0), "0");
        assert_eq!(fmt_tick(1.0), "1");
        assert_eq!(fmt_tick(0.25), "0.25");
        assert_eq!(fmt_tick(1e-5), "1e-5");
        assert_eq!(fmt_tick(2.5e6), "2.5e6");
        let near = |r: Option<(f64, f64)>, lo: f64, hi: f64| {
            let (a, b) = r.unwrap();
            (a / lo - 1.0).abs() < 1e-8 && (b / hi - 1.0).abs() < 1e-8 && a < lo && b > hi
        };
        assert!(near(axis_range([3.0].into_iter(), true), 1.0, 10.0));
        assert!(near(axis_range([10.0, 10.0].into_iter(), true), 1.0, 100.0));
        assert!(near(axis_range([0.02, 5.0, -1.0, 0.0].into_iter(), true), 0.01, 10.0));
        assert_eq!(axis_range([-1.0, 0.0].into_iter(), true), None);
        assert_eq!(axis_range([2.0].into_iter(), false), Some((1.5, 2.5)));
        assert_eq!(axis_range([0.0, 10.0].into_iter(), false), Some((-0.5, 10.5)));
    }

    #[test]
    fn curves_and_scatter_write_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let series = vec![
            ("OM".to_string(), (0..50).map(|t| (t as f64, 0.8f64.powi(t))).collect()),
            ("GD".to_string(), (0..50).map(|t| (t as f64, 1.0 - 0.001 * t as f64)).collect()),
            ("zero".to_string(), vec![(0.0, 0.0)]),
        ];
        let f = plot_curves(&dir.path().join("sub/curves"), "Convex", "step", "rel. distance", &series, false, true)
            .unwrap();
        check_files(&f);
        assert_eq!(f.skipped, 1);
        assert_eq!(f.png, dir.path().join("sub/curves.png"));
        let pts = vec![
            ("OM".to_string(), 0.05, 0.3),
            ("GA".to_string(), 0.1, 4.0),
            ("OM".to_string(), 0.2, 0.2),
            ("Retrain".to_string(), 1.0, 0.25),
            ("a".to_string(), 0.3, 1.0),
            ("b".to_string(), 0.4, 1.0),
        ];
        let f = plot_scatter(&dir.path().join("scatter"), "KLoM vs cost", "cost", "P95 KLoM", &pts, true, false)
            .unwrap();
        check_files(&f);
        assert_eq!(f.skipped, 0);
        // Degenerate inputs do not panic: one point on log-log axes; nothing plottable.
        let one = vec![("x".to_string(), 1.0, 1.0)];
        check_files(&plot_scatter(&dir.path().join("one"), "t", "x", "y", &one, true, true).unwrap());
        let none = vec![("x".to_string(), -1.0, f64::NAN)];
        let f = plot_scatter(&dir.path().join("none"), "t", "x", "y", &none, true, true).unwrap();
        assert_eq!(f.skipped, 1);
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| e.as_ref().unwrap().file_name().to_string_lossy().starts_with('.'))
            .count();
        assert_eq!(leftovers, 0);
    }

    #[test]
    fn histograms_write_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let forget: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37) % 11.5).collect();
        let retain: Vec<f32> = (0..500).map(|i| (i % 7) as f32 * 0.05).collect();
        let val = vec![0.0f32; 10];
        let f = plot_klom_histograms(
            &dir.path().join("hist"),
            &[("forget", &forget), ("retain", &retain), ("validation", &val), ("empty", &[])],
        )
        .unwrap();
        check_files(&f);
        let svg = fs::read_to_string(&f.svg).unwrap();
        assert!(svg.contains("forget: n = 100"));
        let f = plot_klom_histograms(&dir.path().join("zeros"), &[("validation", &val)]).unwrap();
        check_files(&f);
        assert!(plot_klom_histograms(&dir.path().join("x"), &[]).is_err());
    }
}
