//! How the cost of fitting datamodels grows with the training points N and the subset models M
//! (issue 34): each estimator fitted on synthetic subset masks and outputs of the real shapes
//! (α = 0.5, a block of targets), its wall and CPU time and its peak memory measured, a growth
//! law `time ∝ N^a · M^b` fitted by least squares on the logarithms, and the fit of CIFAR-10's
//! datamodels extrapolated from it.
//!
//! ```text
//! cargo run --release -p unlearn-bench --example fit_cost -- \
//!     [targets=10] [max_seconds=60] [estimators=datamodels-mean,datamodels-ridge,datamodels-lasso]
//!     [block=N,M] [plot=STEM]
//! ```
//! An estimator `NAME:SOLVER` (e.g. `datamodels-lasso:residual`) sets the lasso's coordinate
//! descent (`auto`, the default, leaves the Gram matrix for the Gram-free `residual` one once
//! its matrices pass 8 GiB). `block=N,M` fits one block of `targets` targets with each
//! estimator at N points and M models and prints its time and peak memory against the 8 GiB a
//! CIFAR-10-scale block must fit in (e.g. `targets=1000 block=50000,10000
//! estimators=datamodels-lasso`). `plot=STEM` draws the sweep's CPU time and peak memory
//! against N·M (`STEM-time.png/.svg`, `STEM-memory.png/.svg`).
//! Sizes run from small to large; an estimator stops growing once a fit took more than
//! `max_seconds`, or once its predicted memory passes 12 GiB. Each fit runs in a process of its
//! own (this example again, with `one=ESTIMATOR,N,M`), so its peak memory (the process's
//! high-water mark: the synthetic data, then the fit) owes nothing to an earlier fit.

use rand::{Rng, SeedableRng};
use rand_chacha::ChaCha8Rng;
use std::time::Instant;
use unlearn_attribution::{EstimatorRegistry, FitOptions, Masks, Outputs};

/// (N, M) in the order they are tried.
const SIZES: [(usize, usize); 12] = [
    (2_000, 1_000),
    (5_000, 1_000),
    (2_000, 2_000),
    (10_000, 1_000),
    (5_000, 2_000),
    (2_000, 5_000),
    (20_000, 1_000),
    (10_000, 2_000),
    (5_000, 5_000),
    (50_000, 1_000),
    (20_000, 5_000),
    (10_000, 10_000),
];

/// Masks `m × n` at α = 0.5 and outputs `y = b + X β* + ε` with β* non-zero on 1 % of the points
/// per target (N(0, 0.3²)) and ε ~ N(0, 1)-ish (uniform, same variance).
fn draw(m: usize, n: usize, t: usize, seed: u64) -> (Vec<u8>, Vec<f32>) {
    let mut rng = ChaCha8Rng::seed_from_u64(seed);
    let support: Vec<Vec<(usize, f32)>> = (0..t)
        .map(|_| {
            (0..n / 100)
                .map(|_| (rng.random_range(0..n), rng.random_range(-0.5f32..0.5)))
                .collect()
        })
        .collect();
    let mut masks = vec![0u8; m * n];
    for chunk in masks.chunks_mut(64) {
        let bits: u64 = rng.random();
        for (k, x) in chunk.iter_mut().enumerate() {
            *x = ((bits >> k) & 1) as u8;
        }
    }
    let mut outputs = Vec::with_capacity(m * t);
    for row in masks.chunks(n) {
        for s in &support {
            let signal: f32 = s.iter().map(|&(i, v)| v * f32::from(row[i])).sum();
            outputs.push(1.0 + signal + rng.random_range(-1.7f32..1.7));
        }
    }
    (masks, outputs)
}

/// Process CPU seconds (user + system), from /proc.
fn cpu_seconds() -> f64 {
    let stat = std::fs::read_to_string("/proc/self/stat").unwrap_or_default();
    let rest = stat.rsplit_once(')').map(|(_, r)| r).unwrap_or("");
    let f: Vec<f64> = rest
        .split_whitespace()
        .map(|v| v.parse().unwrap_or(f64::NAN))
        .collect();
    (f.get(11).copied().unwrap_or(f64::NAN) + f.get(12).copied().unwrap_or(f64::NAN)) / 100.0
}

/// The process's peak resident memory in GiB since the last reset.
fn peak_gib() -> f64 {
    let status = std::fs::read_to_string("/proc/self/status").unwrap_or_default();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse::<f64>().ok())
        .map_or(f64::NAN, |kb| kb / (1024.0 * 1024.0))
}

/// Least squares of `ln t = c + a ln N + b ln M`: (a, b, c).
fn growth_law(points: &[(usize, usize, f64)]) -> Option<(f64, f64, f64)> {
    if points.len() < 3 {
        return None;
    }
    let rows: Vec<[f64; 3]> = points
        .iter()
        .map(|&(n, m, _)| [1.0, (n as f64).ln(), (m as f64).ln()])
        .collect();
    let y: Vec<f64> = points.iter().map(|p| p.2.max(1e-6).ln()).collect();
    let mut ata = [[0.0; 3]; 3];
    let mut aty = [0.0; 3];
    for (r, &v) in rows.iter().zip(&y) {
        for i in 0..3 {
            aty[i] += r[i] * v;
            for j in 0..3 {
                ata[i][j] += r[i] * r[j];
            }
        }
    }
    let a = nalgebra::Matrix3::from_fn(|i, j| ata[i][j]);
    let sol = a.lu().solve(&nalgebra::Vector3::from(aty))?;
    Some((sol[1], sol[2], sol[0]))
}

fn main() {
    let mut targets = 10usize;
    let mut max_seconds = 60.0f64;
    let mut one: Option<String> = None;
    let mut block: Option<(usize, usize)> = None;
    let mut plot: Option<std::path::PathBuf> = None;
    let mut names = vec![
        "datamodels-mean".to_string(),
        "datamodels-ridge".to_string(),
        "datamodels-lasso".to_string(),
    ];
    for arg in std::env::args().skip(1) {
        match arg.split_once('=') {
            Some(("targets", v)) => targets = v.parse().expect("targets=N"),
            Some(("max_seconds", v)) => max_seconds = v.parse().expect("max_seconds=S"),
            Some(("estimators", v)) => names = v.split(',').map(str::to_string).collect(),
            Some(("one", v)) => one = Some(v.to_string()),
            Some(("plot", v)) => plot = Some(v.into()),
            Some(("block", v)) => {
                let (n, m) = v.split_once(',').expect("block=N,M");
                block = Some((n.parse().expect("N"), m.parse().expect("M")));
            }
            _ => {
                panic!("unknown argument {arg}: targets=, max_seconds=, estimators=, block=, plot=")
            }
        }
    }
    let registry = EstimatorRegistry::builtin();
    if let Some(spec) = one {
        // One fit: prints `wall,cpu,peak`.
        let parts: Vec<&str> = spec.split(',').collect();
        let [name, n, m] = parts[..] else {
            panic!("one=ESTIMATOR,N,M");
        };
        let (n, m): (usize, usize) = (n.parse().expect("N"), m.parse().expect("M"));
        let (name, solver) = name.split_once(':').unwrap_or((name, ""));
        let mut overrides = serde_json::Map::new();
        if !solver.is_empty() {
            overrides.insert("solver".into(), solver.into());
        }
        let estimator = registry
            .build(name, &overrides, FitOptions::default())
            .unwrap_or_else(|e| panic!("{name}: {e}"));
        let (masks, outputs) = draw(m, n, targets, (n * 31 + m) as u64);
        let (wall, cpu) = (Instant::now(), cpu_seconds());
        estimator
            .fit(
                &Masks::new(&masks, m, n).expect("masks"),
                &Outputs::new(&outputs, m, targets).expect("outputs"),
            )
            .unwrap_or_else(|e| panic!("{name} at N={n}, M={m}: {e}"));
        println!(
            "{},{},{}",
            wall.elapsed().as_secs_f64(),
            cpu_seconds() - cpu,
            peak_gib()
        );
        return;
    }
    let fit_one = |name: &str, n: usize, m: usize| -> Result<[f64; 3], String> {
        let mut child = std::process::Command::new(std::env::current_exe().expect("own path"));
        child
            .arg(format!("one={name},{n},{m}"))
            .arg(format!("targets={targets}"));
        let out = child.output().expect("running one fit");
        let line = String::from_utf8_lossy(&out.stdout).trim().to_string();
        let fields: Vec<f64> = line
            .split(',')
            .map(|v| v.parse().unwrap_or(f64::NAN))
            .collect();
        match (&fields[..], out.status.success()) {
            (&[wall, cpu, peak], true) => Ok([wall, cpu, peak]),
            _ => Err(out.status.to_string()),
        }
    };
    let threads = rayon::current_num_threads();
    if let Some((n, m)) = block {
        for name in &names {
            match fit_one(name, n, m) {
                Ok([wall, cpu, peak]) => println!(
                    "{name}: one block of {targets} targets at N = {n}, M = {m}: {wall:.1} s wall, {cpu:.1} CPU s on {threads} threads, peak memory {peak:.2} GiB ({} the 8 GiB a CIFAR-10-scale block must fit in)",
                    if peak <= 8.0 { "within" } else { "over" }
                ),
                Err(status) => println!("{name}: one block at N = {n}, M = {m} failed ({status})"),
            }
        }
        return;
    }
    println!("| estimator | N | M | targets | wall s | CPU s | peak GiB |");
    println!("|---|---:|---:|---:|---:|---:|---:|");
    let mut laws = Vec::new();
    // (estimator, N·M, CPU s, peak GiB) of every fit, for the plots.
    let mut measured: Vec<(String, f64, f64, f64)> = Vec::new();
    for name in &names {
        let mut points: Vec<(usize, usize, f64)> = Vec::new();
        let mut peaks: Vec<(usize, usize, f64)> = Vec::new();
        for &(n, m) in &SIZES {
            // Ridge forms an N × N (or M × M) system in f64.
            let dense = 8.0 * (n.min(m) as f64).powi(2) + 5.0 * (n * m) as f64;
            // The lasso's Gram solver forms an N × N f32 Gram matrix and an f64 design, twice.
            let gram = 2.0 * (4.0 * (n as f64).powi(2) + 16.0 * (n * m) as f64);
            let gram_solver = name.contains("lasso") && !name.ends_with(":residual");
            if dense / (1u64 << 30) as f64 > 12.0
                || (gram_solver && gram / (1u64 << 30) as f64 > 12.0)
            {
                continue;
            }
            if let Some((a, b, c)) = growth_law(&points)
                && (c + a * (n as f64).ln() + b * (m as f64).ln()).exp() > 4.0 * max_seconds
            {
                continue;
            }
            let Ok([wall, cpu, peak]) = fit_one(name, n, m) else {
                // Killed (by the machine's memory, most often): this estimator grows no further.
                println!("| {name} | {n} | {m} | {targets} | failed | | |");
                break;
            };
            println!("| {name} | {n} | {m} | {targets} | {wall:.2} | {cpu:.2} | {peak:.2} |");
            points.push((n, m, cpu));
            peaks.push((n, m, peak));
            measured.push((name.clone(), (n * m) as f64, cpu, peak));
            if wall > max_seconds {
                break;
            }
        }
        laws.push((name.clone(), growth_law(&points), peaks));
    }
    if let Some(stem) = &plot {
        let series = |pick: fn(&(String, f64, f64, f64)) -> f64| -> Vec<(String, f64, f64)> {
            measured
                .iter()
                .map(|r| (r.0.clone(), r.1, pick(r)))
                .collect()
        };
        let with = |suffix: &str| {
            let mut s = stem.clone().into_os_string();
            s.push(suffix);
            std::path::PathBuf::from(s)
        };
        let x = "N · M (training points × subset models)";
        let title = format!("Datamodel fits, a block of {targets} targets");
        unlearn_eval::plot_scatter(
            &with("-time"),
            &title,
            x,
            "CPU seconds",
            &series(|r| r.2),
            true,
            true,
        )
        .expect("writing the time plot");
        unlearn_eval::plot_scatter(
            &with("-memory"),
            &title,
            x,
            "peak memory (GiB)",
            &series(|r| r.3),
            true,
            true,
        )
        .expect("writing the memory plot");
    }
    println!(
        "\nGrowth laws (CPU seconds per block of {targets} targets ≈ e^c · N^a · M^b), {threads} threads:"
    );
    for (name, law, peaks) in &laws {
        let Some((a, b, c)) = law else {
            println!("- {name}: too few sizes to fit");
            continue;
        };
        println!(
            "- {name}: a = {a:.2} (N), b = {b:.2} (M), e^c = {:.3e}",
            c.exp()
        );
        if let Some((p, q, _)) = growth_law(peaks) {
            println!("  peak memory ∝ N^{p:.2} · M^{q:.2}");
        }
        // CIFAR-10: 50 000 training points, 60 000 points × 10 classes of targets.
        for m in [10_000usize, 40_000] {
            let per_block = (c + a * 50_000f64.ln() + b * (m as f64).ln()).exp();
            let blocks = 600_000.0 / targets as f64;
            let core_hours = per_block * blocks / 3600.0;
            // A task of 16 cores for 24 h gives 384 core-hours.
            let tasks = (core_hours / 384.0).ceil();
            // Peak memory by its own law (the lasso's grows about as N²).
            let mem = growth_law(peaks).map_or(f64::NAN, |(p, q, k)| {
                (k + p * 50_000f64.ln() + q * (m as f64).ln()).exp()
            });
            println!(
                "  CIFAR-10 at M = {m}: {core_hours:.0} core-hours; ≈ {mem:.1} GiB per task; {tasks} task(s) of 16 cores finish it in a day"
            );
        }
    }
}
