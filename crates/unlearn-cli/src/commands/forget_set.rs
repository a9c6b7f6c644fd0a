//! `unlearn forget-set`: draw a forget set.

use crate::common::{DataArgs, output_file};
use anyhow::Result;
use clap::Args;
use std::path::PathBuf;
use unlearn_data::ForgetSet;

/// Draw a forget set of training-split indices: k random points, or k points from given
/// classes. Saved as `.npy` (int64) or, for any other extension, one index per line.
#[derive(Args, Debug)]
pub struct ForgetSetArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of points to forget.
    #[arg(long, default_value_t = 10)]
    pub size: usize,
    /// Draw only from these classes, e.g. `3` or `3,5`.
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<u32>>,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file.
    #[arg(long, default_value = "runs/forget.txt")]
    pub out: PathBuf,
}

pub fn run(args: ForgetSetArgs) -> Result<()> {
    let (prepared, _) = args.data.load()?;
    let n = prepared.train.len();
    let forget = match &args.classes {
        Some(classes) => {
            ForgetSet::class_restricted(&prepared.train.labels, classes, args.size, args.seed)?
        }
        None => ForgetSet::random(n, args.size, args.seed)?,
    };
    output_file(&args.out)?;
    forget.save(&args.out)?;
    println!(
        "forget set of {} of {n} training points → {}",
        forget.indices.len(),
        args.out.display()
    );
    Ok(())
}
