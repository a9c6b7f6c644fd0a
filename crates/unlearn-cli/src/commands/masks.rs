//! `unlearn masks`: random training subsets for datamodels.

use crate::common::{DataArgs, output_file};
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use unlearn_data::SubsetMasks;

/// Draw M random subsets of the training split, each of fraction α, and save them as an M × n
/// u8 `.npy` matrix (row m: which training points model m sees).
#[derive(Args, Debug)]
pub struct MasksArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of subsets (models).
    #[arg(long, default_value_t = 500)]
    pub models: usize,
    /// Fraction of the training split in each subset.
    #[arg(long, default_value_t = 0.5)]
    pub alpha: f64,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file.
    #[arg(long, default_value = "runs/masks.npy")]
    pub out: PathBuf,
}

pub fn run(args: MasksArgs) -> Result<()> {
    if args.models == 0 {
        bail!("--models must be ≥ 1");
    }
    if !(args.alpha > 0.0 && args.alpha < 1.0) {
        bail!(
            "--alpha must be strictly between 0 and 1 (got {})",
            args.alpha
        );
    }
    let (prepared, _) = args.data.load()?;
    let masks = SubsetMasks::random(args.models, prepared.train.len(), args.alpha, args.seed)?;
    output_file(&args.out)?;
    masks.save_npy(&args.out)?;
    println!(
        "{} masks over {} training points (α = {}) → {}",
        masks.rows,
        masks.n,
        args.alpha,
        args.out.display()
    );
    Ok(())
}
