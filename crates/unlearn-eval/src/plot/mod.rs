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
use std::path::{Path, PathBuf};
use std::sync::OnceLock;

use plotters::coord::Shift;
use plotters::prelude::*;

use crate::error::{EvalError, Result};
use crate::io::{atomic_write, commit, temp_path_for};

mod hist;
mod xy;

pub use hist::plot_klom_histograms;
pub use xy::{plot_curves, plot_scatter};

static FONT_BYTES: &[u8] = include_bytes!(concat!(
    env!("CARGO_MANIFEST_DIR"),
    "/../../assets/fonts/DejaVuSans.ttf"
));

pub(crate) const FONT: &str = "sans-serif";

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
pub(crate) const COLORS: [RGBColor; 8] = [
    RGBColor(0, 114, 178),
    RGBColor(213, 94, 0),
    RGBColor(0, 158, 115),
    RGBColor(204, 121, 167),
    RGBColor(230, 159, 0),
    RGBColor(86, 180, 233),
    RGBColor(0, 0, 0),
    RGBColor(153, 153, 153),
];

pub(crate) fn color(i: usize) -> RGBColor {
    COLORS[i % COLORS.len()]
}

/// Something that can draw itself on any plotters backend.
pub(crate) trait Figure {
    fn size(&self) -> (u32, u32);
    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String>;
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

pub(crate) fn de<E: std::error::Error + Send + Sync>(e: DrawingAreaErrorKind<E>) -> String {
    e.to_string()
}

/// Renders `fig` to `stem.png` and `stem.svg` (atomically; the parent directory is created).
pub(crate) fn render(stem: &Path, fig: &impl Figure, skipped: usize) -> Result<PlotFiles> {
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
pub(crate) fn fmt_tick(v: f64) -> String {
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
pub(crate) fn axis_range(values: impl Iterator<Item = f64>, log: bool) -> Option<(f64, f64)> {
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
        // At most 30 decades: plotters' tick search slows to a crawl over hundreds of decades
        // (e.g. a curve floored at f64::MIN_POSITIVE); lower values are clipped.
        l = l.max(h / 1e30);
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

pub(crate) fn plottable(v: f64, log: bool) -> bool {
    v.is_finite() && (!log || v > 0.0)
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    pub(crate) const PNG_MAGIC: [u8; 8] = [0x89, b'P', b'N', b'G', 0x0D, 0x0A, 0x1A, 0x0A];

    pub(crate) fn check_files(f: &PlotFiles) {
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
        assert!(near(
            axis_range([0.02, 5.0, -1.0, 0.0].into_iter(), true),
            0.01,
            10.0
        ));
        assert_eq!(axis_range([-1.0, 0.0].into_iter(), true), None);
        assert_eq!(axis_range([2.0].into_iter(), false), Some((1.5, 2.5)));
        assert_eq!(
            axis_range([0.0, 10.0].into_iter(), false),
            Some((-0.5, 10.5))
        );
    }
}
