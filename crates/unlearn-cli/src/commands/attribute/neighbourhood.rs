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
    datamodels::check_recorded(&args.attribution).context("--attribution")?;
    let beta_file = args.attribution.join("beta.npy");
    if !beta_file.is_file() {
        bail!(
            "{} holds no β (only Σ_F β rows?); compute every row with `unlearn attribute` without --forget-set",
            args.attribution.display()
        );
    }
    let (shape, beta) = unlearn_data::read_npy_f32(&beta_file)?;
    if shape != [n, zoo.points, zoo.classes] {
        bail!(
            "{}: β of shape {shape:?} does not fit the zoo's data ([{n}, {}, {}]); pass datamodels of the same data",
            beta_file.display(),
            zoo.points,
            zoo.classes
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
