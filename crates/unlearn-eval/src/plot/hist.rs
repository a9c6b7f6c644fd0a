//! Per-point KLoM histograms, one panel per split ([`plot_klom_histograms`]).

use std::path::Path;

use plotters::coord::Shift;
use plotters::prelude::*;

use super::{FONT, Figure, PlotFiles, color, de, fmt_tick, render};
use crate::error::{EvalError, Result};

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

    fn draw<DB: DrawingBackend>(
        &self,
        root: &DrawingArea<DB, Shift>,
    ) -> std::result::Result<(), String> {
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
                format!(
                    "{name}: n = {}, P95 = {p95:.3}, mean = {mean:.3}",
                    values.len()
                )
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
                .draw_series(
                    shares
                        .iter()
                        .enumerate()
                        .filter(|(_, s)| **s > 0.0)
                        .map(|(k, &s)| {
                            let x0 = self.lo + k as f64 * width;
                            Rectangle::new([(x0, 0.0), (x0 + width, s)], fill)
                        }),
                )
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
            let v: Vec<f64> = vals
                .iter()
                .filter(|v| v.is_finite())
                .map(|&v| f64::from(v))
                .collect();
            skipped += vals.len() - v.len();
            (*name, v)
        })
        .collect();
    let all = || panels.iter().flat_map(|(_, v)| v.iter().copied());
    let lo = all().fold(0.0f64, f64::min);
    let mut hi = all().fold(f64::NEG_INFINITY, f64::max);
    if hi <= lo {
        hi = lo + 1.0;
    }
    let fig = HistFigure { panels, lo, hi };
    render(stem, &fig, skipped)
}

#[cfg(test)]
mod tests {
    use super::super::tests::check_files;
    use super::*;
    use std::fs;

    #[test]
    fn histograms_write_png_and_svg() {
        let dir = tempfile::tempdir().unwrap();
        let forget: Vec<f32> = (0..100).map(|i| (i as f32 * 0.37) % 11.5).collect();
        let retain: Vec<f32> = (0..500).map(|i| (i % 7) as f32 * 0.05).collect();
        let val = vec![0.0f32; 10];
        let f = plot_klom_histograms(
            &dir.path().join("hist"),
            &[
                ("forget", &forget),
                ("retain", &retain),
                ("validation", &val),
                ("empty", &[]),
            ],
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
