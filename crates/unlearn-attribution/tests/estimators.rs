//! The datamodel estimators (difference of means, ridge, lasso, relaxed lasso) against hand
//! examples, naive solves, planted linear truths and the lasso's optimality conditions.

mod common;

use common::{assert_close_rel, max_abs_err, more_models, rel_l2_err, synth};
use nalgebra::DMatrix;
use unlearn_attribution::{
    AttributionError, Datamodel, DiffOfMeans, Estimator, LassoParams, Masks, Outputs, RidgeParams,
    lds, lds_from_predictions, spearman, split_models,
};

fn views<'a>(s: &'a common::Synth) -> (Masks<'a>, Outputs<'a>) {
    (
        Masks::new(&s.masks, s.models, s.points).unwrap(),
        Outputs::new(&s.outputs, s.models, s.targets).unwrap(),
    )
}

// ---------------------------------------------------------------- difference of means

#[test]
fn diff_of_means_hand_example() {
    // 4 models × 3 points, 2 targets.
    let masks = [1, 0, 1, 0, 1, 1, 1, 1, 0, 0, 0, 1];
    let outputs = [1.0, 0.0, 2.0, 5.0, 4.0, 1.0, 8.0, 3.0];
    let m = Masks::new(&masks, 4, 3).unwrap();
    let o = Outputs::new(&outputs, 4, 2).unwrap();
    let dm = DiffOfMeans.fit(&m, &o).unwrap();
    // point 0: in {0,2}, out {1,3}; point 1: in {1,2}, out {0,3}; point 2: in {0,1,3}, out {2}.
    let want = [-2.5, -3.5, -1.5, 1.5, -1.0 / 3.0, 5.0 / 3.0];
    for (g, w) in dm.beta().iter().zip(want) {
        assert!((*g as f64 - w).abs() < 1e-6, "{:?} vs {want:?}", dm.beta());
    }
    // intercept = ȳ − Σ μ_i β_i, ȳ = (3.75, 2.25), μ = (0.5, 0.5, 0.75).
    let icpt = dm.intercept();
    assert!(
        (icpt[0] - 6.0).abs() < 1e-6 && (icpt[1] - 2.0).abs() < 1e-6,
        "{icpt:?}"
    );
    let rows = DiffOfMeans.fit_rows_sum(&m, &o, &[0, 2]).unwrap();
    assert!((rows[0] as f64 + 2.5 + 1.0 / 3.0).abs() < 1e-6);
    assert!((rows[1] as f64 + 3.5 - 5.0 / 3.0).abs() < 1e-6);
}

#[test]
fn diff_of_means_recovers_linear_truth() {
    let s = synth(4000, 60, 3, 0.1, 0.1, 1);
    let (m, o) = views(&s);
    let dm = DiffOfMeans.fit(&m, &o).unwrap();
    // β̂_i − β*_i is a difference of two means whose per-model variance is at most Var(y_t)
    // (the other points' effects act as noise), so its sd is ≤ sqrt(Var(y_t)(1/c_i + 1/(M−c_i))).
    // Allow 5 sd per entry (180 entries; a miss is a ~1e-4 event overall).
    let t = s.targets;
    for tt in 0..t {
        let ys: Vec<f64> = (0..s.models)
            .map(|k| s.outputs[k * t + tt] as f64)
            .collect();
        let mean = ys.iter().sum::<f64>() / ys.len() as f64;
        let var = ys.iter().map(|y| (y - mean).powi(2)).sum::<f64>() / ys.len() as f64;
        for i in 0..s.points {
            let c = (0..s.models)
                .filter(|&k| s.masks[k * s.points + i] == 1)
                .count() as f64;
            let sd = (var * (1.0 / c + 1.0 / (s.models as f64 - c))).sqrt();
            let err = (dm.beta()[i * t + tt] as f64 - s.beta[i * t + tt]).abs();
            assert!(err <= 5.0 * sd, "point {i} target {tt}: err {err}, sd {sd}");
        }
    }
    let forget = [3usize, 17, 42, 59];
    let rows = DiffOfMeans.fit_rows_sum(&m, &o, &forget).unwrap();
    assert_close_rel(&rows, &dm.rows_sum(&forget).unwrap(), 1e-4);
}

// ---------------------------------------------------------------- ridge

/// Independent ridge: standardise with the all-model mean and σ = sqrt(μ(1−μ)), solve the primal
/// normal equations by LU.
fn naive_ridge(s: &common::Synth, lambda: f64) -> (Vec<f64>, Vec<f64>) {
    let (mm, n, t) = (s.models, s.points, s.targets);
    let mu: Vec<f64> = (0..n)
        .map(|i| (0..mm).map(|k| s.masks[k * n + i] as f64).sum::<f64>() / mm as f64)
        .collect();
    let sd: Vec<f64> = mu.iter().map(|u| (u * (1.0 - u)).sqrt()).collect();
    let x = DMatrix::from_fn(mm, n, |k, i| (s.masks[k * n + i] as f64 - mu[i]) / sd[i]);
    let ybar: Vec<f64> = (0..t)
        .map(|tt| (0..mm).map(|k| s.outputs[k * t + tt] as f64).sum::<f64>() / mm as f64)
        .collect();
    let y = DMatrix::from_fn(mm, t, |k, tt| s.outputs[k * t + tt] as f64 - ybar[tt]);
    let a = x.transpose() * &x / mm as f64 + DMatrix::identity(n, n) * lambda;
    let b = x.transpose() * y / mm as f64;
    let beta_std = a.lu().solve(&b).unwrap();
    let mut beta = vec![0.0; n * t];
    let mut icpt = ybar.clone();
    for i in 0..n {
        for tt in 0..t {
            let v = beta_std[(i, tt)] / sd[i];
            beta[i * t + tt] = v;
            icpt[tt] -= mu[i] * v;
        }
    }
    (beta, icpt)
}

#[test]
fn ridge_fixed_lambda_matches_naive_solve_primal_and_dual() {
    // (models, points): primal (M ≥ n) and dual (M < n) code paths.
    for (mm, n) in [(300, 40), (60, 150)] {
        let s = synth(mm, n, 5, 0.1, 0.5, 7);
        let (m, o) = views(&s);
        let lambda = 0.3;
        let ridge = RidgeParams::default().lambda(lambda).check().unwrap();
        let dm = ridge.fit(&m, &o).unwrap();
        let (beta, icpt) = naive_ridge(&s, lambda);
        let scale = beta.iter().fold(0.0f64, |a, b| a.max(b.abs()));
        assert!(
            max_abs_err(dm.beta(), &beta) <= 1e-4 * scale,
            "M={mm} n={n}"
        );
        assert!(max_abs_err(dm.intercept(), &icpt) <= 1e-4 * (1.0 + scale));
        assert_eq!(dm.lambdas(), &[lambda]);
    }
}

#[test]
fn ridge_recovers_linear_truth_and_rows_only_matches() {
    let s = synth(2000, 80, 4, 0.05, 0.1, 2);
    let (m, o) = views(&s);
    let ridge = RidgeParams::default().seed(5).check().unwrap();
    let prep = ridge.prepare(&m, &o).unwrap();
    let dm = prep.to_datamodel();
    // Low noise must select a small λ (the grid starts at 1e-3; 0.01 is its fourth value).
    let lambda = prep.lambda().unwrap();
    assert!(lambda <= 0.011, "λ {lambda}");
    // Near-OLS: per-coefficient sd ≈ σ/sqrt(M·0.25) = 0.1/sqrt(500) ≈ 0.0045, so the max over
    // 320 entries is ≈ 3.5 sd ≈ 0.016. Shrinkage bias ≤ λ/(e_min + λ)·max|β*| ≤ 0.025, with
    // e_min ≈ (1 − sqrt(n/M))² ≈ 0.64 the smallest eigenvalue of the mask correlation matrix.
    // Tolerance 0.05 (≤ 0.041 expected).
    let err = max_abs_err(dm.beta(), &s.beta);
    eprintln!("ridge: max abs err {err}, λ {lambda}");
    assert!(err < 0.05, "max abs err {err}, λ {lambda}");
    assert!(max_abs_err(dm.intercept(), &s.intercept) < 0.1);
    let sel = prep.selection().unwrap();
    assert_eq!(sel.lambdas[sel.chosen], lambda);
    assert_eq!(sel.held_out_mse.len(), sel.lambdas.len());
    for forget in [vec![0usize], vec![5, 9, 70, 79], (0..40).collect()] {
        let rows = ridge.fit_rows_sum(&m, &o, &forget).unwrap();
        assert_close_rel(&rows, &dm.rows_sum(&forget).unwrap(), 1e-4);
        assert_close_rel(&prep.rows_sum(&forget).unwrap(), &rows, 1e-6);
    }
}

#[test]
fn ridge_rows_only_matches_full_fit_in_dual_regime() {
    let s = synth(120, 300, 6, 0.05, 0.3, 3);
    let (m, o) = views(&s);
    let ridge = RidgeParams::default().check().unwrap();
    let dm = ridge.fit(&m, &o).unwrap();
    let forget: Vec<usize> = (0..300).step_by(7).collect();
    let rows = ridge.fit_rows_sum(&m, &o, &forget).unwrap();
    assert_close_rel(&rows, &dm.rows_sum(&forget).unwrap(), 1e-4);
}

#[test]
fn ridge_picks_more_regularisation_under_more_noise() {
    let lambda_at = |noise| {
        let s = synth(400, 60, 8, 0.05, noise, 4);
        let (m, o) = views(&s);
        let ridge = RidgeParams::default().check().unwrap();
        ridge.prepare(&m, &o).unwrap().lambda().unwrap()
    };
    let (low, high) = (lambda_at(0.01), lambda_at(3.0));
    assert!(
        high > 10.0 * low,
        "λ(noise 3) = {high}, λ(noise 0.01) = {low}"
    );
}

// ---------------------------------------------------------------- lasso

#[test]
fn lasso_recovers_sparse_truth() {
    let s = synth(1500, 100, 5, 0.05, 0.1, 5);
    let (m, o) = views(&s);
    let lasso = LassoParams::default().check().unwrap();
    let (dm, report) = lasso.fit_with_report(&m, &o).unwrap();
    // Noise alone gives sd ≈ 0.1/sqrt(1500·0.25) ≈ 0.005 per coefficient; the ℓ1 shrinkage is at
    // most λ/σ_i = 2λ in original units, and λ ≥ 0.01·λ_max with λ_max ≈ 0.5·max|β*| ≤ 0.75, so
    // the bias is ≤ 0.015 at the end of the path (more if a larger λ is chosen). Tolerance 0.1
    // on the max abs error, 0.05 on the relative L2 error.
    let err = max_abs_err(dm.beta(), &s.beta);
    let rel = rel_l2_err(dm.beta(), &s.beta);
    eprintln!("lasso: max abs err {err}, rel L2 err {rel}, {report:?}");
    assert!(err < 0.1 && rel < 0.05, "max {err}, rel {rel}, {report:?}");
    assert_eq!(report.not_converged, 0);
    // Every true non-zero is found, with the right sign.
    for (k, &b) in s.beta.iter().enumerate() {
        if b != 0.0 {
            assert!(dm.beta()[k] as f64 * b > 0.0, "entry {k}");
        }
    }
    let forget = [1usize, 2, 50];
    let rows = lasso.fit_rows_sum(&m, &o, &forget).unwrap();
    assert_close_rel(&rows, &dm.rows_sum(&forget).unwrap(), 1e-6);
}

#[test]
fn relaxed_lasso_undoes_the_shrinkage_of_large_effects() {
    // A path that stops at λ = 0.3·λ_max forces the lasso to shrink every effect by ~λ/σ_i
    // (about 0.3 here against effects of 0.5–1.5). Least squares on the support it selects is
    // unbiased, and with little noise the held-out models must prefer it: the relaxed lasso
    // recovers the effects' size.
    let s = synth(600, 60, 6, 0.1, 0.05, 7);
    let (m, o) = views(&s);
    let params = LassoParams::default().lambda_min_ratio(0.3);
    let plain = params.clone().check().unwrap().fit(&m, &o).unwrap();
    let relaxed = params
        .clone()
        .relax(&unlearn_attribution::RELAXED_GRID)
        .check()
        .unwrap();
    let (dm, report) = relaxed.fit_with_report(&m, &o).unwrap();
    // Over the true effects the lasso kept (the ones it dropped are 0 in both fits).
    let size = |b: &[f32]| {
        let ratios: Vec<f64> = s
            .beta
            .iter()
            .zip(b)
            .zip(plain.beta())
            .filter(|&((t, _), kept)| *t != 0.0 && *kept != 0.0)
            .map(|((t, e), _)| *e as f64 / t)
            .collect();
        ratios.iter().sum::<f64>() / ratios.len() as f64
    };
    let (shrunk, unshrunk) = (size(plain.beta()), size(dm.beta()));
    let (err_plain, err_relaxed) = (
        rel_l2_err(plain.beta(), &s.beta),
        rel_l2_err(dm.beta(), &s.beta),
    );
    eprintln!(
        "mean β̂/β*: lasso {shrunk:.3}, relaxed {unshrunk:.3}; rel L2 {err_plain:.3} vs {err_relaxed:.3}; mean φ {:.2}",
        report.mean_relax
    );
    assert!(
        shrunk < 0.85,
        "the lasso did not shrink ({shrunk}): the test is void"
    );
    assert!((unshrunk - 1.0).abs() < 0.05, "relaxed {unshrunk}");
    assert!(report.mean_relax < 0.5, "φ {}", report.mean_relax);
    assert!(
        err_relaxed < 0.9 * err_plain,
        "{err_relaxed} vs {err_plain}"
    );
    // A grid of [1] is the plain lasso, bit for bit; weights outside [0, 1] are refused.
    let same = params
        .clone()
        .relax(&[1.0])
        .check()
        .unwrap()
        .fit(&m, &o)
        .unwrap();
    assert_eq!(same.beta(), plain.beta());
    assert!(params.clone().relax(&[1.5]).check().is_err());
    assert!(params.relax(&[]).check().is_err());
}

#[test]
fn lasso_solution_satisfies_kkt_at_chosen_lambda() {
    // Few models per point, so many coefficients are active and the solver works hard.
    let s = synth(150, 60, 4, 0.2, 0.5, 6);
    let (m, o) = views(&s);
    for refit in [true, false] {
        let lasso = LassoParams::default()
            .tol(1e-9)
            .early_stop(None)
            .refit(refit)
            .check()
            .unwrap();
        let dm = lasso.fit(&m, &o).unwrap();
        // The models the lasso was fitted on.
        let rows: Vec<usize> = if refit {
            (0..s.models).collect()
        } else {
            split_models(s.models, 0.1, 0).unwrap().fit
        };
        let (n, t, mm) = (s.points, s.targets, rows.len() as f64);
        let all_mu: Vec<f64> = (0..n)
            .map(|i| {
                (0..s.models)
                    .map(|k| s.masks[k * n + i] as f64)
                    .sum::<f64>()
                    / s.models as f64
            })
            .collect();
        let sd: Vec<f64> = all_mu.iter().map(|u| (u * (1.0 - u)).sqrt()).collect();
        let mu: Vec<f64> = (0..n)
            .map(|i| rows.iter().map(|&k| s.masks[k * n + i] as f64).sum::<f64>() / mm)
            .collect();
        for tt in 0..t {
            let lambda = dm.lambdas()[tt];
            let ybar = rows
                .iter()
                .map(|&k| s.outputs[k * t + tt] as f64)
                .sum::<f64>()
                / mm;
            // residual of the centred problem in standardised units
            let resid: Vec<f64> = rows
                .iter()
                .map(|&k| {
                    let fit: f64 = (0..n)
                        .map(|i| (s.masks[k * n + i] as f64 - mu[i]) * dm.beta()[i * t + tt] as f64)
                        .sum();
                    s.outputs[k * t + tt] as f64 - ybar - fit
                })
                .collect();
            for i in 0..n {
                let g: f64 = rows
                    .iter()
                    .zip(&resid)
                    .map(|(&k, r)| (s.masks[k * n + i] as f64 - mu[i]) / sd[i] * r)
                    .sum::<f64>()
                    / mm;
                let b = dm.beta()[i * t + tt];
                let slack = 1e-4 * lambda + 1e-5;
                if b == 0.0 {
                    assert!(
                        g.abs() <= lambda + slack,
                        "t{tt} i{i}: |g| {g} > λ {lambda}"
                    );
                } else {
                    let want = lambda * (b as f64).signum();
                    assert!((g - want).abs() <= slack, "t{tt} i{i}: g {g} vs {want}");
                }
            }
            // the intercept is the fitted part's: ȳ − Σ μ_i β_i
            let icpt = ybar
                - (0..n)
                    .map(|i| mu[i] * dm.beta()[i * t + tt] as f64)
                    .sum::<f64>();
            assert!((dm.intercept()[tt] as f64 - icpt).abs() < 1e-4);
        }
    }
}

// ---------------------------------------------------------------- Spearman and LDS

#[test]
fn spearman_hand_examples() {
    let r = spearman(&[1.0, 2.0, 3.0, 4.0, 5.0], &[5.0, 6.0, 7.0, 8.0, 7.0]).unwrap();
    // ranks of b: [1, 2, 3.5, 5, 3.5]; ρ = 8 / sqrt(10 · 9.5)
    assert!((r - 8.0 / 95f64.sqrt()).abs() < 1e-12, "{r}");
    assert!((spearman(&[1.0, 2.0, 3.0, 4.0], &[1.0, 4.0, 9.0, 16.0]).unwrap() - 1.0).abs() < 1e-12);
    assert!((spearman(&[1.0, 2.0, 3.0], &[3.0, 2.0, -7.0]).unwrap() + 1.0).abs() < 1e-12);
    // ties on both sides: ranks [1.5, 1.5, 3] and [1, 2.5, 2.5]; ρ = 0.5
    let r = spearman(&[2.0, 2.0, 5.0], &[0.0, 1.0, 1.0]).unwrap();
    assert!((r - 0.5).abs() < 1e-12, "{r}");
    assert_eq!(
        unlearn_attribution::average_ranks(&[10.0, 20.0, 20.0, 30.0]),
        vec![1.0, 2.5, 2.5, 4.0]
    );
    assert!(
        spearman(&[1.0, 1.0, 1.0], &[1.0, 2.0, 3.0])
            .unwrap()
            .is_nan()
    );
    assert!(matches!(
        spearman(&[1.0], &[1.0, 2.0]),
        Err(AttributionError::DimensionMismatch { .. })
    ));
}

#[test]
fn lds_near_one_for_fitted_and_true_models_and_near_zero_when_shuffled() {
    let s = synth(1000, 50, 6, 0.2, 0.3, 8);
    let eval = more_models(&s, 200, 9);
    let (m, o) = views(&s);
    let (em, eo) = views(&eval);
    // Signal variance ≈ 10 · E[β²] · 0.25 ≈ 2.7 against noise 0.09: correlation ≈ 0.98.
    let dm = RidgeParams::default().check().unwrap().fit(&m, &o).unwrap();
    let score = lds(&dm, &em, &eo).unwrap();
    eprintln!("LDS of the ridge fit: {}", score.mean);
    assert!(score.mean > 0.9, "{}", score.mean);
    assert_eq!(score.per_target.len(), 6);
    assert_eq!(score.undefined, 0);
    let truth = Datamodel::new(
        s.points,
        s.targets,
        s.beta.iter().map(|&v| v as f32).collect(),
        s.intercept.iter().map(|&v| v as f32).collect(),
    )
    .unwrap();
    assert!(lds(&truth, &em, &eo).unwrap().mean > 0.9);

    // Predictions of one model against the outputs of another: per-target sd ≈ 1/sqrt(199).
    let pred = dm.predict(&em).unwrap();
    let t = s.targets;
    let mut shuffled = vec![0.0f32; pred.len()];
    for k in 0..200 {
        let src = (k * 37 + 11) % 200; // a fixed permutation (37 is coprime with 200)
        shuffled[k * t..(k + 1) * t].copy_from_slice(&pred[src * t..(src + 1) * t]);
    }
    let sp = Outputs::new(&shuffled, 200, t).unwrap();
    let score = lds_from_predictions(&sp, &eo).unwrap();
    eprintln!("LDS of shuffled predictions: {}", score.mean);
    assert!(score.mean.abs() < 0.1, "{}", score.mean);
}

// ---------------------------------------------------------------- errors and splits

#[test]
fn split_is_deterministic_and_disjoint() {
    let a = split_models(50, 0.2, 3).unwrap();
    assert_eq!(a, split_models(50, 0.2, 3).unwrap());
    assert_ne!(a, split_models(50, 0.2, 4).unwrap());
    assert_eq!(a.held_out.len(), 10);
    let mut all: Vec<usize> = a.fit.iter().chain(&a.held_out).copied().collect();
    all.sort_unstable();
    assert_eq!(all, (0..50).collect::<Vec<_>>());
}

#[test]
fn errors_are_reported_not_panicked() {
    let s = synth(40, 10, 2, 0.2, 0.1, 10);
    let m = Masks::new(&s.masks, 40, 10).unwrap();
    // model-count mismatch between masks and outputs
    let o39 = Outputs::new(&s.outputs[..39 * 2], 39, 2).unwrap();
    let ridge = RidgeParams::default().check().unwrap();
    let lasso = LassoParams::default().check().unwrap();
    for e in [
        DiffOfMeans.fit(&m, &o39).err(),
        ridge.fit(&m, &o39).err(),
        lasso.fit(&m, &o39).err(),
    ] {
        assert!(
            matches!(e, Some(AttributionError::DimensionMismatch { .. })),
            "{e:?}"
        );
    }
    // buffer length
    assert!(matches!(
        Masks::new(&s.masks, 41, 10),
        Err(AttributionError::BufferLength { .. })
    ));
    // non-0/1 mask value
    let mut bad = s.masks.clone();
    bad[23] = 2;
    assert_eq!(
        Masks::new(&bad, 40, 10).unwrap_err(),
        AttributionError::InvalidMaskValue {
            model: 2,
            point: 3,
            value: 2
        }
    );
    // non-finite output
    let mut nan = s.outputs.clone();
    nan[5] = f32::NAN;
    assert!(matches!(
        Outputs::new(&nan, 40, 2),
        Err(AttributionError::NonFiniteOutput {
            model: 2,
            target: 1
        })
    ));
    // empty held-out set: 40 models × 0.01 rounds to 0
    assert!(matches!(
        split_models(40, 0.01, 0),
        Err(AttributionError::EmptyHeldOut { .. })
    ));
    let o = Outputs::new(&s.outputs, 40, 2).unwrap();
    let tiny = RidgeParams::default()
        .held_out_fraction(0.01)
        .check()
        .unwrap();
    assert!(matches!(
        tiny.fit(&m, &o),
        Err(AttributionError::EmptyHeldOut { .. })
    ));
    let tiny = LassoParams::default()
        .held_out_fraction(0.01)
        .check()
        .unwrap();
    assert!(matches!(
        tiny.fit(&m, &o),
        Err(AttributionError::EmptyHeldOut { .. })
    ));
    // LDS with no held-out models
    let dm = DiffOfMeans.fit(&m, &o).unwrap();
    let em = Masks::new(&[], 0, 10).unwrap();
    let eo = Outputs::new(&[], 0, 2).unwrap();
    assert!(matches!(
        lds(&dm, &em, &eo),
        Err(AttributionError::TooFewModels { got: 0, .. })
    ));
    // rows: out of range, duplicate
    assert!(matches!(
        DiffOfMeans.fit_rows_sum(&m, &o, &[10]),
        Err(AttributionError::RowOutOfRange {
            row: 10,
            points: 10
        })
    ));
    assert!(matches!(
        ridge.fit_rows_sum(&m, &o, &[1, 1]),
        Err(AttributionError::DuplicateRow { row: 1 })
    ));
    // a point in every subset
    let mut always = s.masks.clone();
    for k in 0..40 {
        always[k * 10 + 4] = 1;
    }
    let ma = Masks::new(&always, 40, 10).unwrap();
    assert!(matches!(
        DiffOfMeans.fit(&ma, &o),
        Err(AttributionError::DegeneratePoint {
            point: 4,
            count: 40,
            models: 40
        })
    ));
    // invalid parameters
    assert!(RidgeParams::default().lambdas(vec![]).check().is_err());
    assert!(RidgeParams::default().lambda(-1.0).check().is_err());
    assert!(LassoParams::default().n_lambdas(1).check().is_err());
    assert!(
        LassoParams::default()
            .lambda_min_ratio(1.5)
            .check()
            .is_err()
    );
    // datamodel/masks point mismatch in LDS
    let m9 = Masks::new(&s.masks[..40 * 9], 40, 9).unwrap();
    assert!(matches!(
        lds(&dm, &m9, &o),
        Err(AttributionError::DimensionMismatch { .. })
    ));
}
