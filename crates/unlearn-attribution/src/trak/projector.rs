//! Random projections of gradients: `φ = Pᵀ g / √p` with `P` a `p × k` matrix of random ±1
//! (Rademacher) or N(0, 1) (Gaussian) entries drawn from a seed (docs/algorithms.md §7).
//!
//! Entry `(r, j)` of `P` depends only on the seed and its position: column `j` is ChaCha8 stream
//! `j` of the seed, row `r` its `r`-th bit (Rademacher) or its `r`-th pair of 32-bit words
//! (Gaussian, Box–Muller). So any block of `P` can be generated on its own, in any order, on any
//! thread, and the projection of a gradient never depends on how the work was split.
//!
//! Memory: when `p · k` is at most the cache limit ([`DEFAULT_CACHE_ENTRIES`]) `P` is generated
//! once and kept; otherwise it is never held whole: each call regenerates it in blocks of
//! [`CHUNK_ROWS`] rows × one column block per task and multiplies block by block. The extra cost
//! is about one random bit per entry per call against `rows` multiply-adds, so pass batches of a
//! few hundred gradients.
//!
//! With the `1/√p` of the spec, inner products are preserved up to the constant `k/p`:
//! `E[φ_g · φ_h] = (k/p) g · h`. TRAK's scores do not depend on that constant.

use std::f64::consts::PI;

use rand::{RngCore, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rayon::prelude::*;
use serde::{Deserialize, Serialize};

use crate::error::{AttributionError, Result};
use nalgebra::{DMatrixView, DMatrixViewMut};

/// Distribution of the entries of `P`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize, Default)]
#[serde(rename_all = "snake_case")]
pub enum ProjectionKind {
    /// ±1 with equal probability.
    #[default]
    Rademacher,
    /// Standard normal.
    Gaussian,
}

impl std::str::FromStr for ProjectionKind {
    type Err = AttributionError;
    fn from_str(s: &str) -> Result<Self> {
        match s.to_ascii_lowercase().as_str() {
            "rademacher" | "sign" | "pm1" => Ok(Self::Rademacher),
            "gaussian" | "normal" => Ok(Self::Gaussian),
            _ => Err(AttributionError::InvalidParam {
                name: "projection",
                reason: format!("'{s}': choose rademacher or gaussian"),
            }),
        }
    }
}

/// Maps row-major `rows × p` gradients to row-major `rows × k` features.
pub trait Projector: Send + Sync {
    /// `p`, the gradient width.
    fn input_dim(&self) -> usize;
    /// `k`, the feature width.
    fn output_dim(&self) -> usize;
    /// Projects `rows` gradients (row-major `rows × p`) to row-major `rows × k`.
    fn project(&self, grads: &[f32], rows: usize) -> Result<Vec<f32>>;
    /// Whether the projection is held in memory rather than regenerated per call (reported in
    /// TRAK's per-model record); false unless a projector says so.
    fn is_cached(&self) -> bool {
        false
    }
}

/// Makes the projector of one model, `p` gradient entries to `k` features from the model's
/// projection `seed`: TRAK needs one per model, since `p` is the model's parameter count. Pass
/// one to [`crate::Trak::with_projector`] to swap the projection (TRAK's projector seam).
pub trait MakeProjector: Send + Sync {
    /// The projector for one model.
    fn make(&self, p: usize, k: usize, seed: u64) -> Result<Box<dyn Projector>>;
}

/// The default: a [`RandomProjector`] of one kind.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct RandomProjections(pub ProjectionKind);

impl MakeProjector for RandomProjections {
    fn make(&self, p: usize, k: usize, seed: u64) -> Result<Box<dyn Projector>> {
        Ok(Box::new(RandomProjector::new(p, k, seed, self.0)?))
    }
}

/// Rows of `P` generated at once when it is not cached (a multiple of 64).
pub const CHUNK_ROWS: usize = 4096;

/// `P` is cached when it has at most this many entries (256 MiB of f32).
pub const DEFAULT_CACHE_ENTRIES: usize = 1 << 26;

/// A seeded random projection (see the module docs).
#[derive(Debug, Clone)]
pub struct RandomProjector {
    p: usize,
    k: usize,
    seed: u64,
    kind: ProjectionKind,
    /// `Pᵀ / √p`, column-major `k × p`, when cached.
    cache: Option<Vec<f32>>,
}

impl RandomProjector {
    /// A projector from `p` to `k` dimensions, caching `P` when it is small enough.
    pub fn new(p: usize, k: usize, seed: u64, kind: ProjectionKind) -> Result<Self> {
        Self::with_cache_limit(p, k, seed, kind, DEFAULT_CACHE_ENTRIES)
    }

    /// [`new`](Self::new) with an explicit cache limit in entries (0 never caches).
    pub fn with_cache_limit(
        p: usize,
        k: usize,
        seed: u64,
        kind: ProjectionKind,
        max_entries: usize,
    ) -> Result<Self> {
        if p == 0 || k == 0 {
            return Err(AttributionError::InvalidParam {
                name: "projection",
                reason: format!("dimensions must be ≥ 1 (p = {p}, k = {k})"),
            });
        }
        let mut me = Self {
            p,
            k,
            seed,
            kind,
            cache: None,
        };
        if p.checked_mul(k).is_some_and(|e| e <= max_entries) {
            // Pᵀ, column-major k × p: the k entries of row r of P are contiguous.
            let mut cache = vec![0.0f32; p * k];
            cache
                .par_chunks_mut(CHUNK_ROWS * k)
                .enumerate()
                .for_each(|(ci, chunk)| {
                    let len = chunk.len() / k;
                    let mut column = vec![0.0f32; len];
                    for j in 0..k {
                        me.fill_column(j, ci * CHUNK_ROWS, &mut column);
                        for (r, &v) in column.iter().enumerate() {
                            chunk[r * k + j] = v;
                        }
                    }
                });
            me.cache = Some(cache);
        }
        Ok(me)
    }

    /// The seed.
    pub fn seed(&self) -> u64 {
        self.seed
    }

    /// Rows `r0..r0 + out.len()` of column `j` of `P / √p`; `r0` must be a multiple of 64.
    fn fill_column(&self, j: usize, r0: usize, out: &mut [f32]) {
        debug_assert_eq!(r0 % 64, 0);
        let scale = 1.0 / (self.p as f64).sqrt();
        let mut rng = ChaCha8Rng::seed_from_u64(self.seed);
        rng.set_stream(j as u64);
        match self.kind {
            ProjectionKind::Rademacher => {
                rng.set_word_pos((r0 / 32) as u128);
                let (pos, neg) = (scale as f32, -scale as f32);
                for chunk in out.chunks_mut(32) {
                    let bits = rng.next_u32();
                    for (b, v) in chunk.iter_mut().enumerate() {
                        *v = if (bits >> b) & 1 == 1 { pos } else { neg };
                    }
                }
            }
            ProjectionKind::Gaussian => {
                rng.set_word_pos((2 * r0) as u128);
                for v in out.iter_mut() {
                    let u1 = (rng.next_u32() as f64 + 1.0) / 4_294_967_296.0;
                    let u2 = rng.next_u32() as f64 / 4_294_967_296.0;
                    *v = ((-2.0 * u1.ln()).sqrt() * (2.0 * PI * u2).cos() * scale) as f32;
                }
            }
        }
    }

    /// Entry `(r, j)` of `P` (unscaled: ±1 or N(0, 1)), for tests.
    pub fn entry(&self, r: usize, j: usize) -> f32 {
        let r0 = r / 64 * 64;
        let mut col = vec![0.0f32; r - r0 + 1];
        self.fill_column(j, r0, &mut col);
        col[r - r0] * (self.p as f32).sqrt()
    }

    /// Columns `j0..j0 + cols` of the projection of `rows` gradients: row-major `rows × cols`.
    ///
    /// Computed transposed, `outᵀ = P[:, j0..]ᵀ Gᵀ`, so that every view has unit row stride.
    fn project_columns(&self, grads: &[f32], rows: usize, j0: usize, cols: usize) -> Vec<f32> {
        let (p, k) = (self.p, self.k);
        let mut out = vec![0.0f32; rows * cols];
        let mut o = DMatrixViewMut::from_slice(&mut out, cols, rows);
        match &self.cache {
            Some(cache) => {
                let pt = DMatrixView::from_slice_with_strides(&cache[j0..], cols, p, 1, k);
                let gt = DMatrixView::from_slice_with_strides(grads, p, rows, 1, p);
                o.gemm(1.0, &pt, &gt, 0.0);
            }
            None => {
                let mut block = vec![0.0f32; cols * CHUNK_ROWS];
                let mut column = vec![0.0f32; CHUNK_ROWS];
                for r0 in (0..p).step_by(CHUNK_ROWS) {
                    let len = CHUNK_ROWS.min(p - r0);
                    for c in 0..cols {
                        self.fill_column(j0 + c, r0, &mut column[..len]);
                        for (r, &v) in column[..len].iter().enumerate() {
                            block[r * cols + c] = v;
                        }
                    }
                    let pt = DMatrixView::from_slice(&block[..cols * len], cols, len);
                    let gt = DMatrixView::from_slice_with_strides(&grads[r0..], len, rows, 1, p);
                    o.gemm(1.0, &pt, &gt, 1.0);
                }
            }
        }
        out
    }
}

impl Projector for RandomProjector {
    fn input_dim(&self) -> usize {
        self.p
    }

    fn is_cached(&self) -> bool {
        self.cache.is_some()
    }

    fn output_dim(&self) -> usize {
        self.k
    }

    fn project(&self, grads: &[f32], rows: usize) -> Result<Vec<f32>> {
        let (p, k) = (self.p, self.k);
        if grads.len() != rows * p {
            return Err(AttributionError::BufferLength {
                what: "gradients",
                len: grads.len(),
                rows,
                cols: p,
            });
        }
        if rows == 0 {
            return Ok(Vec::new());
        }
        let threads = rayon::current_num_threads().max(1);
        let width = k.div_ceil(2 * threads).clamp(16, 256).min(k);
        let blocks: Vec<(usize, Vec<f32>)> = (0..k.div_ceil(width))
            .into_par_iter()
            .map(|b| {
                let j0 = b * width;
                let cols = width.min(k - j0);
                (j0, self.project_columns(grads, rows, j0, cols))
            })
            .collect();
        let mut out = vec![0.0f32; rows * k];
        for (j0, block) in blocks {
            let cols = block.len() / rows;
            for r in 0..rows {
                out[r * k + j0..r * k + j0 + cols]
                    .copy_from_slice(&block[r * cols..(r + 1) * cols]);
            }
        }
        Ok(out)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cached_and_streamed_projections_agree() {
        let (p, k, rows) = (5000, 40, 7);
        let g: Vec<f32> = (0..rows * p)
            .map(|i| ((i * 31 % 97) as f32) / 97.0 - 0.5)
            .collect();
        for kind in [ProjectionKind::Rademacher, ProjectionKind::Gaussian] {
            let cached = RandomProjector::new(p, k, 3, kind).unwrap();
            let streamed = RandomProjector::with_cache_limit(p, k, 3, kind, 0).unwrap();
            assert!(cached.is_cached() && !streamed.is_cached());
            let a = cached.project(&g, rows).unwrap();
            let b = streamed.project(&g, rows).unwrap();
            for (x, y) in a.iter().zip(&b) {
                assert!((x - y).abs() < 1e-4 * (1.0 + x.abs()), "{x} vs {y}");
            }
            // Against the definition, entry by entry.
            for (r, j) in [(0, 0), (3, 17), (6, 39)] {
                let want: f64 = (0..p)
                    .map(|i| g[r * p + i] as f64 * cached.entry(i, j) as f64)
                    .sum::<f64>()
                    / (p as f64).sqrt();
                assert!(
                    (a[r * k + j] as f64 - want).abs() < 1e-3,
                    "{} vs {want}",
                    a[r * k + j]
                );
            }
        }
        let r = RandomProjector::new(p, k, 3, ProjectionKind::Rademacher).unwrap();
        assert!((0..200).all(|i| (r.entry(i, 5).abs() - 1.0).abs() < 1e-5));
    }
}
