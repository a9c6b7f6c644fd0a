//! The lasso's two coordinate descents (the Gram matrix, and the Gram-free residual solver for
//! many training points) walk the same path and must land on the same solution: the lasso's
//! optimum is unique for these designs, so they agree to within the solver tolerance.

mod common;

use common::synth;
use unlearn_attribution::{Estimator, LassoParams, LassoSolver, Masks, Outputs, RELAXED_GRID};

fn both(params: LassoParams, s: &common::Synth) -> [(Vec<f32>, Vec<f32>, Vec<f64>); 2] {
    let (m, o) = (
        Masks::new(&s.masks, s.models, s.points).unwrap(),
        Outputs::new(&s.outputs, s.models, s.targets).unwrap(),
    );
    [LassoSolver::Gram, LassoSolver::Residual].map(|solver| {
        let lasso = params.clone().solver(solver).check().unwrap();
        let sparse = lasso.fit_sparse(&m, &o).unwrap();
        let dense = lasso.fit(&m, &o).unwrap();
        // The sparse fit is the dense fit without its zeros.
        assert_eq!(sparse.to_dense().unwrap(), dense, "{solver:?}");
        (
            dense.beta().to_vec(),
            dense.intercept().to_vec(),
            dense.lambdas().to_vec(),
        )
    })
}

fn max_diff(a: &[f32], b: &[f32]) -> f64 {
    a.iter()
        .zip(b)
        .map(|(&x, &y)| (x as f64 - y as f64).abs())
        .fold(0.0, f64::max)
}

fn assert_agree(params: LassoParams, s: &common::Synth, what: &str) {
    let [(bg, ig, lg), (br, ir, lr)] = both(params, s);
    // The same λ for every target: the held-out errors along both paths rank λ alike.
    let same = lg
        .iter()
        .zip(&lr)
        .filter(|(a, b)| ((*a - *b) / *a).abs() < 1e-9)
        .count();
    assert_eq!(same, lg.len(), "{what}: chosen λ differ");
    let scale = bg.iter().fold(0.0f32, |a, &b| a.max(b.abs()));
    let (eb, ei) = (max_diff(&br, &bg), max_diff(&ir, &ig));
    eprintln!("{what}: max |Δβ| {eb:.2e} (largest |β| {scale:.2}), max |Δintercept| {ei:.2e}");
    assert!(eb < 1e-4 * scale as f64, "{what}: β differ by {eb}");
    assert!(
        ei < 1e-4 * scale as f64,
        "{what}: intercepts differ by {ei}"
    );
    let nonzero = |b: &[f32]| b.iter().filter(|&&v| v != 0.0).count();
    assert!(
        nonzero(&bg) > 0 && nonzero(&bg) < bg.len(),
        "{what}: a sparse β was expected"
    );
}

#[test]
fn residual_and_gram_solvers_agree_plain_relaxed_and_without_refit() {
    // 400 models over 60 points, 7 targets with a few planted effects and noise.
    let s = synth(400, 60, 7, 0.1, 0.2, 11);
    let tight = LassoParams::default().tol(1e-9).max_sweeps(100_000);
    assert_agree(tight.clone(), &s, "lasso");
    assert_agree(tight.clone().relax(&RELAXED_GRID), &s, "relaxed lasso");
    assert_agree(
        tight.refit(false).early_stop(None),
        &s,
        "no refit, whole path",
    );
}

#[test]
fn auto_picks_the_residual_solver_when_the_gram_matrix_exceeds_the_memory_setting() {
    let params = LassoParams::default();
    assert_eq!(params.solver_for(1_000, 5_000), LassoSolver::Gram);
    // 50 000 points: a 10 GB Gram matrix (twice, with the refit) against the default 8 GiB.
    assert_eq!(params.solver_for(10_000, 50_000), LassoSolver::Residual);
    assert_eq!(
        params.clone().memory_gib(0.01).solver_for(1_000, 5_000),
        LassoSolver::Residual
    );
    assert!(params.memory_gib(0.0).check().is_err());
}
