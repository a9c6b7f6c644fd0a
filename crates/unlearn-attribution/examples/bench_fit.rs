//! Times every estimator on a synthetic datamodel problem of the project's size.
//!
//! ```text
//! cargo run --release -p unlearn-attribution --example bench_fit -- \
//!     [models=500] [points=1437] [targets=17970] [density=0.05] [noise=1.0] \
//!     [estimators=mean,ridge,lasso] [lasso tol=1e-4] [lasso refit: true|false|both]
//! ```
//! Outputs are `y = b + X β* + ε`, β* with a share `density` of non-zeros drawn N(0, 0.3²), ε
//! N(0, noise²); 50 extra models are drawn for the LDS.

use std::time::Instant;

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use rand_distr::{Distribution, Normal};
use unlearn_attribution::{DiffOfMeans, Estimator, LassoParams, Masks, Outputs, RidgeParams, lds};

struct Data {
    masks: Vec<u8>,
    outputs: Vec<f32>,
}

fn draw(
    models: usize,
    n: usize,
    t: usize,
    sparse: &[Vec<(usize, f32)>],
    icpt: &[f32],
    noise: f32,
    rng: &mut ChaCha8Rng,
) -> Data {
    let normal = Normal::new(0.0f32, 1.0).unwrap();
    let mut masks = Vec::with_capacity(models * n);
    let mut outputs = Vec::with_capacity(models * t);
    for _ in 0..models {
        let row: Vec<u8> = (0..n).map(|_| rng.random::<bool>() as u8).collect();
        let mut y: Vec<f32> = icpt
            .iter()
            .map(|&b| b + noise * normal.sample(rng))
            .collect();
        for (i, &x) in row.iter().enumerate() {
            if x == 1 {
                for &(tt, v) in &sparse[i] {
                    y[tt] += v;
                }
            }
        }
        masks.extend_from_slice(&row);
        outputs.extend_from_slice(&y);
    }
    Data { masks, outputs }
}

/// Process CPU time (user + system) in seconds, from /proc (Linux; `NaN` elsewhere). Under
/// contention from other processes, CPU time / threads is the wall time an idle machine gives.
fn cpu_seconds() -> f64 {
    let Ok(stat) = std::fs::read_to_string("/proc/self/stat") else {
        return f64::NAN;
    };
    // fields after the parenthesised command name; utime and stime are fields 14 and 15
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<&str> = rest.split_whitespace().collect();
    let ticks = |i: usize| {
        f.get(i)
            .and_then(|v| v.parse::<f64>().ok())
            .unwrap_or(f64::NAN)
    };
    (ticks(11) + ticks(12)) / 100.0
}

/// Runs `f`, returning its result, wall seconds and CPU seconds.
fn timed<R>(f: impl FnOnce() -> R) -> (R, f64, f64) {
    let (w, c) = (Instant::now(), cpu_seconds());
    let r = f();
    (r, w.elapsed().as_secs_f64(), cpu_seconds() - c)
}

fn main() {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let get = |k: usize, d: &str| args.get(k).cloned().unwrap_or_else(|| d.to_string());
    let models: usize = get(0, "500").parse().unwrap();
    let n: usize = get(1, "1437").parse().unwrap();
    let t: usize = get(2, "17970").parse().unwrap();
    let density: f64 = get(3, "0.05").parse().unwrap();
    let noise: f32 = get(4, "1.0").parse().unwrap();
    let which = get(5, "mean,ridge,lasso");
    let tol: f64 = get(6, "1e-4").parse().unwrap();
    let refits: Vec<bool> = match get(7, "both").as_str() {
        "true" => vec![true],
        "false" => vec![false],
        _ => vec![false, true],
    };
    println!(
        "models {models}, points {n}, targets {t}, density {density}, noise {noise}, threads {}",
        rayon::current_num_threads()
    );

    let mut rng = ChaCha8Rng::seed_from_u64(0);
    let beta_dist = Normal::new(0.0f32, 0.3).unwrap();
    let sparse: Vec<Vec<(usize, f32)>> = (0..n)
        .map(|_| {
            let mut row = Vec::new();
            for tt in 0..t {
                if rng.random::<f64>() < density {
                    row.push((tt, beta_dist.sample(&mut rng)));
                }
            }
            row
        })
        .collect();
    let icpt: Vec<f32> = (0..t).map(|_| rng.random_range(-2.0..2.0)).collect();
    let t0 = Instant::now();
    let train = draw(models, n, t, &sparse, &icpt, noise, &mut rng);
    let eval = draw(50, n, t, &sparse, &icpt, noise, &mut rng);
    println!("data drawn in {:.1}s", t0.elapsed().as_secs_f64());
    let masks = Masks::new(&train.masks, models, n).unwrap();
    let outputs = Outputs::new(&train.outputs, models, t).unwrap();
    let emasks = Masks::new(&eval.masks, 50, n).unwrap();
    let eoutputs = Outputs::new(&eval.outputs, 50, t).unwrap();
    let forget: Vec<usize> = (0..n).step_by(14).collect();

    let rel_err = |beta: &[f32]| {
        let mut num = 0.0f64;
        let mut den = 0.0f64;
        let mut dense = vec![0.0f32; t];
        for (i, row) in sparse.iter().enumerate() {
            dense.iter_mut().for_each(|v| *v = 0.0);
            for &(tt, v) in row {
                dense[tt] = v;
            }
            for (a, b) in beta[i * t..(i + 1) * t].iter().zip(&dense) {
                num += ((a - b) as f64).powi(2);
                den += (*b as f64).powi(2);
            }
        }
        (num / den).sqrt()
    };

    if which.contains("mean") {
        let (_rows, t_rows, c_rows) =
            timed(|| DiffOfMeans.fit_rows_sum(&masks, &outputs, &forget).unwrap());
        let (dm, t_fit, c_fit) = timed(|| DiffOfMeans.fit(&masks, &outputs).unwrap());
        let score = lds(&dm, &emasks, &eoutputs).unwrap();
        println!(
            "mean : full fit {t_fit:.2}s (cpu {c_fit:.2}s), rows-only ({} rows) {t_rows:.2}s (cpu {c_rows:.2}s); LDS {:.3}, rel L2 err {:.3}",
            forget.len(),
            score.mean,
            rel_err(dm.beta()),
        );
    }
    if which.contains("ridge") {
        let ridge = RidgeParams::default().check().unwrap();
        let (prep, t_prep, c_prep) = timed(|| ridge.prepare(&masks, &outputs).unwrap());
        let (_rows, t_rows, _) = timed(|| prep.rows_sum(&forget).unwrap());
        let (dm, t_full, c_full) = timed(|| prep.to_datamodel());
        let score = lds(&dm, &emasks, &eoutputs).unwrap();
        println!(
            "ridge: select λ + solve {t_prep:.2}s (cpu {c_prep:.2}s; λ = {:.3e}), then rows-only {t_rows:.3}s or full β {t_full:.2}s (cpu {c_full:.2}s); LDS {:.3}, rel L2 err {:.3}",
            prep.lambda().unwrap(),
            score.mean,
            rel_err(dm.beta())
        );
    }
    if which.contains("lasso") {
        for &refit in &refits {
            let lasso = LassoParams::default()
                .refit(refit)
                .tol(tol)
                .check()
                .unwrap();
            let ((dm, report), t_fit, c_fit) =
                timed(|| lasso.fit_with_report(&masks, &outputs).unwrap());
            let score = lds(&dm, &emasks, &eoutputs).unwrap();
            println!(
                "lasso (refit {refit}): fit {t_fit:.2}s (cpu {c_fit:.2}s); LDS {:.3}, rel L2 err {:.3}; {report:?}",
                score.mean,
                rel_err(dm.beta())
            );
        }
    }
}
