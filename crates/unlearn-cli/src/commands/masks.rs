//! `unlearn masks`: random training subsets for datamodels, uniform or with points left out in
//! groups.

use crate::common::{DataArgs, output_file};
use anyhow::{Result, bail};
use clap::Args;
use std::path::PathBuf;
use unlearn_data::{GroupedRemoval, SubsetFraction, SubsetMasks};

/// Draw M random subsets of the training split, each of fraction α, and save them as an M × n
/// u8 `.npy` matrix (row m: which training points model m sees).
#[derive(Args, Debug)]
pub struct MasksArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of subsets (models).
    #[arg(long, default_value_t = 500)]
    pub models: usize,
    /// Fraction of the training split in each subset; several (comma-separated) are taken in
    /// turn by the subsets, e.g. `0.5,0.9`.
    #[arg(long, default_value = "0.5", value_delimiter = ',')]
    pub alpha: Vec<f64>,
    /// Leave points out in groups of this many (with --neighbourhoods and/or --classes);
    /// 0: every point left out on its own, uniformly.
    #[arg(long, default_value_t = 0)]
    pub group_size: usize,
    /// Share of the left-out points taken as groups of nearest neighbours (input space).
    #[arg(long, default_value_t = 0.0)]
    pub neighbourhoods: f64,
    /// Share of the left-out points taken as groups of points of one class.
    #[arg(long, default_value_t = 0.0)]
    pub classes: f64,
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
    if let Some(a) = args.alpha.iter().find(|a| !(**a > 0.0 && **a < 1.0)) {
        bail!("--alpha must be strictly between 0 and 1 (got {a})");
    }
    let alpha = match args.alpha[..] {
        [one] => SubsetFraction::One(one),
        _ => SubsetFraction::Cycle(args.alpha.clone()),
    };
    let grouped = args.neighbourhoods > 0.0 || args.classes > 0.0;
    if grouped != (args.group_size > 0) {
        bail!("--group-size and a share (--neighbourhoods, --classes) go together");
    }
    let (prepared, _) = args.data.load()?;
    let removal = grouped.then_some(GroupedRemoval {
        group_size: args.group_size,
        neighbourhoods: args.neighbourhoods,
        classes: args.classes,
    });
    let masks = SubsetMasks::draw(
        args.models,
        &prepared.train,
        &alpha,
        removal.as_ref(),
        args.seed,
    )?;
    output_file(&args.out)?;
    masks.save_npy(&args.out)?;
    println!(
        "{} masks over {} training points (α = {}) → {}",
        masks.rows,
        masks.n,
        alpha,
        args.out.display()
    );
    Ok(())
}
