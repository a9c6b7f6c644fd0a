//! Covariance (Gram) coordinate descent for one target at a time: the Gram matrix
//! ([`Problem`]), the active-set state ([`Cd`]) with its passes, sweeps and KKT checks, the
//! AVX-512/AVX2 dispatch, and the mixed-precision axpy/dot kernels.

use nalgebra::DMatrix;

use crate::linalg::{axpy, par_gemm};

/// Gram diagonals below this are treated as constant columns (coefficient fixed at 0).
pub(super) const DIAG_EPS: f64 = 1e-12;

/// Storage type of the Gram matrix (f32 halves its cache footprint; gradients stay f64).
type Gv = f32;

/// Widening to f64 for the mixed-precision kernels.
trait Widen: Copy {
    fn w(self) -> f64;
}

impl Widen for f32 {
    #[inline(always)]
    fn w(self) -> f64 {
        self as f64
    }
}

impl Widen for f64 {
    #[inline(always)]
    fn w(self) -> f64 {
        self
    }
}

/// `y += a · x`, `x` widened to f64.
#[inline(always)]
fn axpy_w<T: Widen>(y: &mut [f64], a: f64, x: &[T]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi.w();
    }
}

/// `y += a · x` in f32.
#[inline(always)]
fn axpy_f32(y: &mut [f32], a: f32, x: &[f32]) {
    for (yi, &xi) in y.iter_mut().zip(x) {
        *yi += a * xi;
    }
}

/// `Σ a_i b_i`, `a` widened to f64, eight accumulators.
#[inline(always)]
fn dot_w<T: Widen>(a: &[T], b: &[f64]) -> f64 {
    let n = a.len().min(b.len());
    let (a, b) = (&a[..n], &b[..n]);
    let mut acc = [0.0f64; 8];
    let ca = a.chunks_exact(8);
    let cb = b.chunks_exact(8);
    let (ra, rb) = (ca.remainder(), cb.remainder());
    for (x, y) in ca.zip(cb) {
        for k in 0..8 {
            acc[k] += x[k].w() * y[k];
        }
    }
    let mut s = (acc[0] + acc[4]) + (acc[1] + acc[5]) + (acc[2] + acc[6]) + (acc[3] + acc[7]);
    for (x, y) in ra.iter().zip(rb) {
        s += x.w() * y;
    }
    s
}

pub(super) struct Problem {
    n: usize,
    /// Row-major `n × n` (symmetric).
    g: Vec<Gv>,
    pub(super) diag: Vec<f64>,
}

impl Problem {
    pub(super) fn new(x: &DMatrix<f64>) -> Self {
        let (m, n) = x.shape();
        let xt = x.transpose();
        let g = par_gemm(xt.as_view(), x.as_view()) * (1.0 / m as f64);
        let diag = (0..n).map(|j| g[(j, j)]).collect();
        Self {
            n,
            g: g.as_slice().iter().map(|&v| v as Gv).collect(),
            diag,
        }
    }

    /// `G[i, j]`.
    pub(super) fn gram(&self, i: usize, j: usize) -> f64 {
        self.g[i * self.n + j] as f64
    }

    #[inline(always)]
    fn row(&self, j: usize) -> &[Gv] {
        &self.g[j * self.n..(j + 1) * self.n]
    }
}

const NONE: u32 = u32::MAX;

/// Per-thread coordinate descent state for one target at a time.
///
/// The active set is held in positions `0..k` with a compact copy of its Gram block. Positions
/// `nz..k` always have β = 0 (positions `< nz` may be zero too): passes over the non-zero
/// coefficients touch only the `nz × nz` block, and the gradient of positions `nz..k` is then
/// stale until the next full pass recomputes it.
pub(super) struct Cd {
    pub(super) active: Vec<usize>,
    pos: Vec<u32>,
    nz: usize,
    cap: usize,
    /// `cap × cap` row-major compact Gram of the active set.
    gaa: Vec<Gv>,
    beta: Vec<f64>,
    snap: Vec<f64>,
    /// Gradient `c − G β` on the active set (positions `nz..k` stale when `q_stale`).
    q_a: Vec<f64>,
    q_stale: bool,
    /// Gradient on all points, current as of the last `sync`.
    /// (f32: it only decides which points are admitted, whose gradient is then recomputed
    /// exactly; its accumulated rounding stays orders of magnitude below λ.)
    q_full: Vec<f32>,
    /// Held-out predictions (centred), current as of the last `sync`.
    pub(super) pred: Vec<f64>,
    rowbuf: Vec<Gv>,
    /// Points waiting to join the active set.
    pub(super) pending: Vec<usize>,
    pub(super) sweeps_exhausted: bool,
    /// Coordinate updates visited, for the report.
    pub(super) work: u64,
}

impl Cd {
    pub(super) fn new(n: usize, h: usize) -> Self {
        Self {
            active: Vec::new(),
            pos: vec![NONE; n],
            nz: 0,
            cap: 0,
            gaa: Vec::new(),
            beta: Vec::new(),
            snap: Vec::new(),
            q_a: Vec::new(),
            q_stale: false,
            q_full: vec![0.0; n],
            pred: vec![0.0; h],
            rowbuf: vec![0.0; n],
            pending: Vec::new(),
            sweeps_exhausted: false,
            work: 0,
        }
    }

    pub(super) fn reset(&mut self, c: &[f64]) {
        for &j in &self.active {
            self.pos[j] = NONE;
        }
        self.active.clear();
        self.nz = 0;
        self.beta.clear();
        self.snap.clear();
        self.q_a.clear();
        self.q_stale = false;
        for (q, &v) in self.q_full.iter_mut().zip(c) {
            *q = v as f32;
        }
        self.pred.iter_mut().for_each(|p| *p = 0.0);
        self.sweeps_exhausted = false;
    }

    /// Makes room for `k` active points in the compact Gram.
    fn reserve(&mut self, k: usize, n: usize) {
        if k <= self.cap {
            return;
        }
        let mut new_cap = self.cap.max(32);
        while new_cap < k {
            new_cap *= 2;
        }
        let new_cap = new_cap.min(n).max(k);
        let mut g = vec![0.0; new_cap * new_cap];
        let old = self.active.len();
        for r in 0..old {
            g[r * new_cap..r * new_cap + old]
                .copy_from_slice(&self.gaa[r * self.cap..r * self.cap + old]);
        }
        self.gaa = g;
        self.cap = new_cap;
    }

    /// Adds the points `self.pending` to the active set, at the end (β = 0, outside the
    /// prefix). The new rows are gathered from `G` once each; the new columns of the old rows
    /// are then written row by row (contiguous within each row).
    #[inline(always)]
    pub(super) fn add_pending(&mut self, p: &Problem, c: &[f64]) {
        let s = self.pending.len();
        if s == 0 {
            return;
        }
        let k = self.active.len();
        let total = k + s;
        self.reserve(total, p.n);
        let cap = self.cap;
        for (i, &j) in self.pending.iter().enumerate() {
            debug_assert_eq!(self.pos[j], NONE);
            self.active.push(j);
            self.pos[j] = (k + i) as u32;
        }
        for r in k..total {
            // stream the row once, then gather from L1
            self.rowbuf.copy_from_slice(p.row(self.active[r]));
            let row = &mut self.gaa[r * cap..r * cap + total];
            for (g, &a) in row.iter_mut().zip(&self.active) {
                *g = self.rowbuf[a];
            }
        }
        for l in 0..k {
            for r in k..total {
                self.gaa[l * cap + r] = self.gaa[r * cap + l];
            }
        }
        let nz = self.nz;
        for r in k..total {
            let q = c[self.active[r]] - dot_w(&self.gaa[r * cap..r * cap + nz], &self.beta[..nz]);
            self.beta.push(0.0);
            self.snap.push(0.0);
            self.q_a.push(q);
        }
        self.pending.clear();
    }

    /// Sets β on the whole active set (warm start) and recomputes every gradient.
    pub(super) fn set_beta(&mut self, values: &[f64], c: &[f64]) {
        let (k, cap) = (self.active.len(), self.cap);
        self.beta[..k].copy_from_slice(&values[..k]);
        self.nz = k;
        for r in 0..k {
            self.q_a[r] =
                c[self.active[r]] - dot_w(&self.gaa[r * cap..r * cap + k], &self.beta[..k]);
        }
        self.q_stale = false;
    }

    /// Recomputes the stale gradients of positions `nz..k`.
    #[inline(always)]
    fn refresh_stale(&mut self, c: &[f64]) {
        if !self.q_stale {
            return;
        }
        let (k, cap, nz) = (self.active.len(), self.cap, self.nz);
        for r in nz..k {
            self.q_a[r] =
                c[self.active[r]] - dot_w(&self.gaa[r * cap..r * cap + nz], &self.beta[..nz]);
        }
        self.q_stale = false;
    }

    /// Swaps active positions `a` and `b` (rows and columns of the compact Gram too). The rows
    /// are swapped as contiguous blocks; the columns are then rewritten from those rows by
    /// symmetry (stores only, no strided loads).
    #[inline(always)]
    fn swap(&mut self, a: usize, b: usize) {
        if a == b {
            return;
        }
        let (k, cap) = (self.active.len(), self.cap);
        self.active.swap(a, b);
        self.pos[self.active[a]] = a as u32;
        self.pos[self.active[b]] = b as u32;
        self.beta.swap(a, b);
        self.snap.swap(a, b);
        self.q_a.swap(a, b);
        let (lo, hi) = (a.min(b), a.max(b));
        let (head, tail) = self.gaa.split_at_mut(hi * cap);
        let row_lo = &mut head[lo * cap..lo * cap + k];
        let row_hi = &mut tail[..k];
        row_lo.swap_with_slice(row_hi);
        row_lo.swap(lo, hi);
        row_hi.swap(lo, hi);
        for l in 0..k {
            if l != lo && l != hi {
                let (vlo, vhi) = (self.gaa[lo * cap + l], self.gaa[hi * cap + l]);
                self.gaa[l * cap + lo] = vlo;
                self.gaa[l * cap + hi] = vhi;
            }
        }
    }

    /// Moves the non-zero coefficients to the front; sets `nz` to their count.
    #[inline(always)]
    fn reorder(&mut self) {
        let (mut lo, mut hi) = (0, self.active.len());
        loop {
            while lo < hi && self.beta[lo] != 0.0 {
                lo += 1;
            }
            while lo < hi && self.beta[hi - 1] == 0.0 {
                hi -= 1;
            }
            if lo >= hi {
                break;
            }
            self.swap(lo, hi - 1);
        }
        self.nz = lo;
    }

    /// Brings `q_full` and `pred` up to date with the coefficients changed since the last sync.
    #[inline(always)]
    pub(super) fn sync(&mut self, p: &Problem, x_ho: Option<&DMatrix<f64>>) {
        for r in 0..self.active.len() {
            let d = self.beta[r] - self.snap[r];
            if d != 0.0 {
                let j = self.active[r];
                axpy_f32(&mut self.q_full, -d as f32, p.row(j));
                if let Some(x) = x_ho {
                    axpy(&mut self.pred, d, x.column(j).as_slice());
                }
                self.snap[r] = self.beta[r];
            }
        }
    }

    /// One coordinate-descent pass: over every active position (`full`, gradients kept current
    /// everywhere) or over the prefix `0..nz` only; returns the largest move, scaled by
    /// `sqrt(G_jj)`.
    #[inline(always)]
    fn pass(&mut self, lambda: f64, full: bool, c: &[f64]) -> f64 {
        if full {
            self.refresh_stale(c);
        }
        let k = self.active.len();
        let end = if full { k } else { self.nz };
        let cap = self.cap;
        let mut max_d = 0.0f64;
        for r in 0..end {
            self.work += 1;
            let gjj = self.gaa[r * cap + r].w();
            if gjj <= DIAG_EPS {
                continue;
            }
            let b = self.beta[r];
            let z = self.q_a[r] + gjj * b;
            let nb = soft(z, lambda) / gjj;
            let d = nb - b;
            if d != 0.0 {
                self.beta[r] = nb;
                axpy_w(&mut self.q_a[..end], -d, &self.gaa[r * cap..r * cap + end]);
                max_d = max_d.max(d.abs() * gjj.sqrt());
            }
        }
        if full {
            self.reorder();
        } else if max_d > 0.0 && self.nz < k {
            self.q_stale = true;
        }
        max_d
    }

    /// Coordinate descent over the active set at `lambda` until no coefficient moves by more
    /// than `tol_abs` (scaled by `sqrt(G_jj)`) or `max_sweeps` passes: a full pass, then passes
    /// over the non-zero prefix until it settles, repeated until a full pass is quiet.
    #[inline(always)]
    fn sweep(&mut self, lambda: f64, tol_abs: f64, max_sweeps: usize, c: &[f64]) {
        let mut passes = 0;
        while passes < max_sweeps {
            passes += 1;
            if self.pass(lambda, true, c) <= tol_abs {
                return;
            }
            while passes < max_sweeps {
                passes += 1;
                if self.pass(lambda, false, c) <= tol_abs {
                    break;
                }
            }
        }
        self.refresh_stale(c);
        self.sweeps_exhausted = true;
    }

    /// Solves at `lambda`, warm-started from the current β (the solution at the previous λ).
    /// Dispatches to a copy compiled for the widest SIMD the CPU has.
    pub(super) fn solve(
        &mut self,
        lambda: f64,
        p: &Problem,
        c: &[f64],
        x_ho: Option<&DMatrix<f64>>,
        tol_abs: f64,
        max_sweeps: usize,
    ) {
        #[cfg(target_arch = "x86_64")]
        {
            if std::arch::is_x86_feature_detected!("avx512f") {
                // SAFETY: the CPU supports the features this copy was compiled for.
                return unsafe { self.solve_avx512(lambda, p, c, x_ho, tol_abs, max_sweeps) };
            }
            if std::arch::is_x86_feature_detected!("avx2") {
                // SAFETY: as above.
                return unsafe { self.solve_avx2(lambda, p, c, x_ho, tol_abs, max_sweeps) };
            }
        }
        self.solve_impl(lambda, p, c, x_ho, tol_abs, max_sweeps)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx512f")]
    unsafe fn solve_avx512(
        &mut self,
        lambda: f64,
        p: &Problem,
        c: &[f64],
        x_ho: Option<&DMatrix<f64>>,
        tol_abs: f64,
        max_sweeps: usize,
    ) {
        self.solve_impl(lambda, p, c, x_ho, tol_abs, max_sweeps)
    }

    #[cfg(target_arch = "x86_64")]
    #[target_feature(enable = "avx2")]
    unsafe fn solve_avx2(
        &mut self,
        lambda: f64,
        p: &Problem,
        c: &[f64],
        x_ho: Option<&DMatrix<f64>>,
        tol_abs: f64,
        max_sweeps: usize,
    ) {
        self.solve_impl(lambda, p, c, x_ho, tol_abs, max_sweeps)
    }

    /// Working-set loop: coordinate descent on the active set, then a KKT check over all
    /// points; every violator (`|q_j| > λ`) joins the active set, until there is none.
    #[inline(always)]
    fn solve_impl(
        &mut self,
        lambda: f64,
        p: &Problem,
        c: &[f64],
        x_ho: Option<&DMatrix<f64>>,
        tol_abs: f64,
        max_sweeps: usize,
    ) {
        // (Admitting the points that already violate the KKT conditions at this λ before the
        // first sweep was measured slower: it grows the active set by a third.)
        let kkt = lambda * (1.0 + 1e-9);
        loop {
            self.sweep(lambda, tol_abs, max_sweeps, c);
            self.sync(p, x_ho);
            if self.admit_violators(kkt, p, c) == 0 {
                return;
            }
        }
    }

    /// Adds every point outside the active set with `|q_j| > threshold`; returns how many.
    #[inline(always)]
    fn admit_violators(&mut self, threshold: f64, p: &Problem, c: &[f64]) -> usize {
        self.pending.clear();
        for j in 0..p.n {
            if self.pos[j] == NONE
                && p.diag[j] > DIAG_EPS
                && self.q_full[j].abs() as f64 > threshold
            {
                self.pending.push(j);
            }
        }
        let s = self.pending.len();
        self.add_pending(p, c);
        s
    }

    pub(super) fn nonzeros(&self) -> Vec<(u32, f64)> {
        self.active
            .iter()
            .zip(&self.beta)
            .filter(|&(_, &b)| b != 0.0)
            .map(|(&j, &b)| (j as u32, b))
            .collect()
    }
}

/// Soft thresholding: `sign(z) · max(|z| − l, 0)`.
#[inline(always)]
pub(super) fn soft(z: f64, l: f64) -> f64 {
    if z > l {
        z - l
    } else if z < -l {
        z + l
    } else {
        0.0
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn problem(m: usize, n: usize) -> (Problem, Vec<f64>) {
        // deterministic pseudo-random ±1 design
        let mut state = 12345u64;
        let x = DMatrix::from_fn(m, n, |_, _| {
            state = state
                .wrapping_mul(6364136223846793005)
                .wrapping_add(1442695040888963407);
            if (state >> 33) & 1 == 1 { 1.0 } else { -1.0 }
        });
        let c: Vec<f64> = (0..n)
            .map(|j| ((j * 37 % 11) as f64 - 5.0) / 10.0)
            .collect();
        (Problem::new(&x), c)
    }

    fn check_layout(cd: &Cd, p: &Problem, c: &[f64]) {
        let k = cd.active.len();
        for r in 0..k {
            assert_eq!(cd.pos[cd.active[r]] as usize, r);
            for l in 0..k {
                assert_eq!(
                    cd.gaa[r * cd.cap + l],
                    p.row(cd.active[r])[cd.active[l]],
                    "gaa[{r}][{l}]"
                );
            }
            // the active gradient is exact (β is zero outside the active set)
            let mut q = c[cd.active[r]];
            for l in 0..k {
                q -= p.row(cd.active[r])[cd.active[l]] as f64 * cd.beta[l];
            }
            assert!((q - cd.q_a[r]).abs() < 1e-9, "q[{r}] {} vs {q}", cd.q_a[r]);
        }
        for r in cd.nz..k {
            assert_eq!(cd.beta[r], 0.0, "position {r} ≥ nz must be zero");
        }
    }

    #[test]
    fn batched_adds_swaps_and_reorder_keep_the_compact_gram_consistent() {
        let (p, c) = problem(40, 30);
        let mut cd = Cd::new(p.n, 0);
        cd.reset(&c);
        cd.pending.extend([3, 17, 5, 29, 0]);
        cd.add_pending(&p, &c);
        check_layout(&cd, &p, &c);
        cd.set_beta(&[0.5, 0.0, -0.25, 0.0, 1.0], &c);
        cd.reorder();
        assert_eq!(cd.nz, 3);
        check_layout(&cd, &p, &c);
        // more points, enough to force the compact Gram to grow
        cd.pending.extend((6..16).chain(18..29));
        cd.add_pending(&p, &c);
        check_layout(&cd, &p, &c);
        cd.swap(1, 20);
        cd.swap(0, 1);
        cd.swap(7, 7);
        // swapping moved non-zeros past `nz`; reorder restores the invariant
        cd.reorder();
        check_layout(&cd, &p, &c);
    }

    #[test]
    fn simd_and_portable_solvers_agree() {
        let (p, c) = problem(25, 60);
        let lambda = 0.05;
        let run = |portable: bool| {
            let mut cd = Cd::new(p.n, 0);
            cd.reset(&c);
            if portable {
                cd.solve_impl(lambda, &p, &c, None, 1e-12, 10_000);
            } else {
                cd.solve(lambda, &p, &c, None, 1e-12, 10_000);
            }
            let mut b = vec![0.0; p.n];
            for (r, &j) in cd.active.iter().enumerate() {
                b[j] = cd.beta[r];
            }
            b
        };
        let (a, b) = (run(true), run(false));
        assert!(a.iter().any(|&v| v != 0.0));
        for (x, y) in a.iter().zip(&b) {
            assert!((x - y).abs() < 1e-9, "{x} vs {y}");
        }
    }
}
