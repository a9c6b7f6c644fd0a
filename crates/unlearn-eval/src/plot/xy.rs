//! Line and scatter plots ([`plot_curves`], [`plot_scatter`]), linear or log axes.

use std::ops::Range;
use std::path::Path;

use plotters::coord::Shift;
use plotters::coord::ranged1d::{AsRangedCoord, ValueFormatter};
use plotters::prelude::*;

use super::{COLORS, FONT, Figure, PlotFiles, axis_range, color, de, fmt_tick, plottable, render};
use crate::error::Result;

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
                .filter(|(x, y)| {
                    (if right { *x >= 0.6 } else { *x <= 0.4 })
                        && (if upper { *y >= 0.65 } else { *y <= 0.35 })
                })
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

    fn draw_on<DB, XS, YS>(
        &self,
        root: &DrawingArea<DB, Shift>,
        xs: XS,
        ys: YS,
    ) -> std::result::Result<(), String>
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
                            .draw_series(it.map(move |p| {
                                EmptyElement::at(p) + Rectangle::new([(-4, -4), (4, 4)], filled)
                            }))
                            .map_err(de)?
                            .legend(move |(x, y)| {
                                Rectangle::new([(x + 6, y - 4), (x + 14, y + 4)], filled)
                            }),
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

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
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

#[cfg(test)]
mod tests {
    use super::super::tests::check_files;
    use super::*;
    use std::fs;

    #[test]
    fn curves_and_scatter_write_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let series = vec![
            (
                "OM".to_string(),
                (0..50).map(|t| (t as f64, 0.8f64.powi(t))).collect(),
            ),
            (
                "GD".to_string(),
                (0..50)
                    .map(|t| (t as f64, 1.0 - 0.001 * t as f64))
                    .collect(),
            ),
            ("zero".to_string(), vec![(0.0, 0.0)]),
        ];
        let f = plot_curves(
            &dir.path().join("sub/curves"),
            "Convex",
            "step",
            "rel. distance",
            &series,
            false,
            true,
        )
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
        let f = plot_scatter(
            &dir.path().join("scatter"),
            "KLoM vs cost",
            "cost",
            "P95 KLoM",
            &pts,
            true,
            false,
        )
        .unwrap();
        check_files(&f);
        assert_eq!(f.skipped, 0);
        // Degenerate inputs do not panic: one point on log-log axes; nothing plottable.
        let one = vec![("x".to_string(), 1.0, 1.0)];
        check_files(
            &plot_scatter(&dir.path().join("one"), "t", "x", "y", &one, true, true).unwrap(),
        );
        let none = vec![("x".to_string(), -1.0, f64::NAN)];
        let f = plot_scatter(&dir.path().join("none"), "t", "x", "y", &none, true, true).unwrap();
        assert_eq!(f.skipped, 1);
        let leftovers = fs::read_dir(dir.path())
            .unwrap()
            .filter(|e| {
                e.as_ref()
                    .unwrap()
                    .file_name()
                    .to_string_lossy()
                    .starts_with('.')
            })
            .count();
        assert_eq!(leftovers, 0);
    }
}
