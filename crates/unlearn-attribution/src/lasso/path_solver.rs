//! The two coordinate descents behind one interface, so that a target's path (its λ values,
//! the held-out choice, the relaxed blends) is walked by the same code whichever solver runs.

use nalgebra::DMatrix;

use super::relax::{least_squares_on, predict};
use super::residual::{Columns, Residual};
use super::solver::{Cd, Problem};

/// What walking one target's path needs from a coordinate descent solver.
pub(super) trait PathSolver {
    /// `X_jᵀ X_j / M'` per point (columns below `DIAG_EPS` stay at 0).
    fn diag(&self) -> &[f64];
    /// β = 0 for the target.
    fn reset(&mut self);
    /// Solves at `lambda`, warm-started from the current β.
    fn solve(&mut self, lambda: f64, tol_abs: f64, max_sweeps: usize);
    /// Held-out predictions (centred) of the current β.
    fn held_pred(&self) -> &[f64];
    /// The current non-zero coefficients, by point.
    fn nonzeros(&self) -> Vec<(u32, f64)>;
    /// Least squares on `support` and its held-out predictions; `None` when singular.
    fn least_squares(&self, support: &[u32]) -> Option<(Vec<f64>, Vec<f64>)>;
    /// (some λ ran out of sweeps, active set size, coordinate visits).
    fn counters(&self) -> (bool, usize, u64);
}

/// The Gram solver on one target (gradient at β = 0: `c`).
pub(super) struct GramPath<'a> {
    pub(super) cd: &'a mut Cd,
    pub(super) p: &'a Problem,
    pub(super) c: &'a [f64],
    pub(super) xh: &'a DMatrix<f64>,
}

impl PathSolver for GramPath<'_> {
    fn diag(&self) -> &[f64] {
        &self.p.diag
    }
    fn reset(&mut self) {
        self.cd.reset(self.c);
        self.cd.work = 0;
    }
    fn solve(&mut self, lambda: f64, tol_abs: f64, max_sweeps: usize) {
        self.cd
            .solve(lambda, self.p, self.c, Some(self.xh), tol_abs, max_sweeps);
    }
    fn held_pred(&self) -> &[f64] {
        &self.cd.pred
    }
    fn nonzeros(&self) -> Vec<(u32, f64)> {
        self.cd.nonzeros()
    }
    fn least_squares(&self, support: &[u32]) -> Option<(Vec<f64>, Vec<f64>)> {
        let ls = least_squares_on(|a, b| self.p.gram(a, b), self.c, support)?;
        let pred = predict(self.xh, support, &ls);
        Some((ls, pred))
    }
    fn counters(&self) -> (bool, usize, u64) {
        (self.cd.sweeps_exhausted, self.cd.active.len(), self.cd.work)
    }
}

/// The Gram-free solver on one target `y` (gradient at β = 0: `c`).
pub(super) struct ResidualPath<'a> {
    pub(super) state: &'a mut Residual,
    pub(super) x: &'a Columns,
    pub(super) held: &'a Columns,
    pub(super) y: &'a [f64],
    pub(super) c: &'a [f64],
    pub(super) pred: Vec<f64>,
}

impl PathSolver for ResidualPath<'_> {
    fn diag(&self) -> &[f64] {
        &self.x.diag
    }
    fn reset(&mut self) {
        self.state.start(self.x, self.y, &[]);
        self.pred = vec![0.0; self.held.rows()];
    }
    fn solve(&mut self, lambda: f64, tol_abs: f64, max_sweeps: usize) {
        self.state.solve(self.x, lambda, tol_abs, max_sweeps);
        self.pred = self.held.predict(&self.state.nonzeros());
    }
    fn held_pred(&self) -> &[f64] {
        &self.pred
    }
    fn nonzeros(&self) -> Vec<(u32, f64)> {
        self.state.nonzeros()
    }
    fn least_squares(&self, support: &[u32]) -> Option<(Vec<f64>, Vec<f64>)> {
        let ls = least_squares_on(|a, b| self.x.gram(a, b), self.c, support)?;
        let coef: Vec<(u32, f64)> = support.iter().copied().zip(ls.iter().copied()).collect();
        let pred = self.held.predict(&coef);
        Some((ls, pred))
    }
    fn counters(&self) -> (bool, usize, u64) {
        (
            self.state.sweeps_exhausted,
            self.state.active.len(),
            self.state.work,
        )
    }
}
