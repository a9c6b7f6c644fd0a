//! `unlearn linear`: the convex experiment (docs/algorithms.md §12).

use crate::common::{BackendArgs, output_file};
use anyhow::Context as _;
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use unlearn_methods::convex::{ConvexParams, METHODS, run as run_convex};

/// Ridge regression with more dimensions than points: from the full-data solution, run GD on the
/// retain loss, GD+GA, Oracle Matching on forget ∪ retain, and OM on the retain set only, all with
/// the same step size, and print how close each gets to the retrained (oracle) solution.
#[derive(Args, Debug)]
pub struct LinearArgs {
    #[command(flatten)]
    pub backend: BackendArgs,
    /// Points.
    #[arg(long, default_value_t = 100)]
    pub n: usize,
    /// Dimensions.
    #[arg(long, default_value_t = 400)]
    pub dim: usize,
    /// Points to forget (drawn at random).
    #[arg(long, default_value_t = 5)]
    pub forget: usize,
    /// Ridge penalty λ.
    #[arg(long, default_value_t = 1e-2)]
    pub lambda: f64,
    /// Gradient steps per method.
    #[arg(long, default_value_t = 200)]
    pub steps: usize,
    /// Weight c of the ascent term of GD+GA (L_R − c·L_F).
    #[arg(long, default_value_t = 0.01)]
    pub ascent_weight: f64,
    /// Standard deviation of the label noise.
    #[arg(long, default_value_t = 0.1)]
    pub noise: f64,
    /// Seed of the data and the forget set.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Directory for curves.csv and curves.png / curves.svg.
    #[arg(long, default_value = "runs/linear")]
    pub out: PathBuf,
}

pub fn run(args: LinearArgs) -> Result<()> {
    let params = ConvexParams {
        n: args.n,
        dim: args.dim,
        forget: args.forget,
        lambda: args.lambda,
        steps: args.steps,
        ascent_weight: args.ascent_weight,
        noise: args.noise,
        seed: args.seed,
    };
    let device = args.backend.backend.device()?;
    // The parameters are the flags of the same names.
    params
        .validate()
        .context("check --n, --dim, --forget, --lambda, --ascent-weight and --noise")?;
    let result = run_convex(&params, &device)?;
    println!(
        "ridge regression: n = {}, d = {}, forget {}, λ = {}, step size {:.4} (1 / largest curvature)",
        params.n, params.dim, params.forget, params.lambda, result.step_size
    );
    println!("relative distance to the oracle ‖θ_t − θ_oracle‖ / ‖θ_full − θ_oracle‖:");
    let mut marks: Vec<usize> = [0, 1, 10, 50, 100, params.steps]
        .into_iter()
        .filter(|&s| s <= params.steps)
        .collect();
    marks.dedup();
    print!("{:<18}", "step");
    for s in &marks {
        print!("{s:>11}");
    }
    println!();
    for (name, curve) in METHODS.iter().zip(&result.curves) {
        print!("{name:<18}");
        for &s in &marks {
            print!("{:>11.3e}", curve[s]);
        }
        println!();
    }

    let csv_path = args.out.join("curves.csv");
    output_file(&csv_path)?;
    let mut csv = csv::Writer::from_writer(Vec::new());
    csv.write_record(std::iter::once("step").chain(METHODS))?;
    for step in 0..=params.steps {
        let values = result
            .curves
            .iter()
            .map(|curve| format!("{:e}", curve[step]));
        csv.write_record(std::iter::once(step.to_string()).chain(values))?;
    }
    let bytes = csv
        .into_inner()
        .map_err(|e| anyhow::anyhow!("curves.csv: {}", e.error()))?;
    unlearn_data::atomic_write_bytes(&csv_path, &bytes)?;
    // Log scale cannot show zeros: floor the curves at 1e-12 (below f32 precision) for the
    // plot only; diverged (non-finite) values are left out.
    let series: Vec<(String, Vec<(f64, f64)>)> = METHODS
        .iter()
        .zip(&result.curves)
        .map(|(name, curve)| {
            let points = curve
                .iter()
                .enumerate()
                .map(|(s, &v)| {
                    (
                        s as f64,
                        if v.is_finite() {
                            v.max(1e-12)
                        } else {
                            f64::NAN
                        },
                    )
                })
                .collect();
            (name.to_string(), points)
        })
        .collect();
    let files = unlearn_eval::plot_curves(
        &args.out.join("curves"),
        "Unlearning ridge regression: distance to the oracle",
        "gradient steps",
        "‖θ − θ_oracle‖ / ‖θ_full − θ_oracle‖",
        &series,
        false,
        true,
    )?;
    println!(
        "wrote {}, {} and {}",
        csv_path.display(),
        files.png.display(),
        files.svg.display()
    );
    Ok(())
}
