//! `unlearn attribute neighbourhood`: the neighbourhood term on top of fitted datamodels
//! (docs/algorithms.md §6), for `unlearn forget --neighbourhood`.

use super::*;
use crate::common::DataArgs;
use clap::Args;
use unlearn_bench::neighbourhood::FittedTerm;

/// Options of `attribute neighbourhood`.
#[derive(Args, Debug, Clone)]
pub struct NeighbourhoodArgs {
    /// Finished datamodels with every row of β (`unlearn attribute --method datamodels-…`,
    /// without --forget-set).
    #[arg(long)]
    pub attribution: PathBuf,
    /// Subset models whose left-out points come partly as whole neighbourhoods (`unlearn masks
    /// --group-size 20 --neighbourhoods 0.33`, then `unlearn train --subsets`); on uniform
    /// subsets a neighbourhood is never left out and the term learns nothing.
    #[arg(long)]
    pub zoo: PathBuf,
    /// Nearest training points (input space) per point whose absence the term measures.
    #[arg(long, default_value_t = 20)]
    pub neighbours: usize,
    /// Output directory (coefficients.npy, attribution.json).
    #[arg(long, default_value = "runs/neighbourhood")]
    pub out: PathBuf,
}

pub fn run_neighbourhood(args: &NeighbourhoodArgs) -> Result<()> {
    let sz = SubsetZoo::load(&args.zoo).context("loading --zoo")?;
    let (zoo, n) = (&sz.zoo, sz.masks.n);
    let (rows, beta) = datamodels::read_beta(&args.attribution, zoo.points, zoo.classes)
        .context("--attribution")?;
    if rows != n {
        bail!(
            "--attribution: β has {rows} training rows, the zoo {n}; pass datamodels of the same data"
        );
    }
    let data = DataArgs::of_zoo(zoo)?;
    let started = Instant::now();
    FittedTerm::fit_or_load(&args.out, args.neighbours, &beta, &sz, &data)?;
    println!(
        "neighbourhood term ({} nearest points, {} subset models) in {:.1} s → {}",
        args.neighbours,
        zoo.models,
        started.elapsed().as_secs_f64(),
        args.out.display()
    );
    Ok(())
}
