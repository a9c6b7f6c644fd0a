//! `unlearn forget-set`: draw a forget set.

use crate::common::{DataArgs, output_file};
use anyhow::{Context, Result, bail};
use clap::{Args, ValueEnum};
use std::path::PathBuf;
use unlearn_data::{Ends, ForgetSet};

/// Draw a forget set of training-split indices: random, from given classes, or structured (the
/// end of a principal component of the datamodel matrix, or an example's nearest neighbours).
/// Saved as `.npy` (int64) or, for any other extension, one index per line.
#[derive(Args, Debug)]
pub struct ForgetSetArgs {
    #[command(flatten)]
    pub data: DataArgs,
    /// Number of points to forget.
    #[arg(long, default_value_t = 10)]
    pub size: usize,
    /// How to choose them (default: random, or class when --classes is given).
    #[arg(long, value_enum)]
    pub kind: Option<Kind>,
    /// class: draw only from these classes, e.g. `3` or `3,5`.
    #[arg(long, value_delimiter = ',')]
    pub classes: Option<Vec<u32>>,
    /// pca: attribution directory holding the full datamodels (β, from
    /// `unlearn attribute` on a subset zoo).
    #[arg(long)]
    pub attribution: Option<PathBuf>,
    /// pca: principal component (1 = first).
    #[arg(long, default_value_t = 1)]
    pub component: usize,
    /// pca: take the top of the component, or its top and bottom halves.
    #[arg(long, value_enum, default_value_t = EndsArg::Top)]
    pub ends: EndsArg,
    /// neighbours: the example whose nearest neighbours (input space) are forgotten; default one
    /// drawn with --seed.
    #[arg(long)]
    pub anchor: Option<usize>,
    /// Seed of the draw.
    #[arg(long, default_value_t = 0)]
    pub seed: u64,
    /// Output file.
    #[arg(long, default_value = "runs/forget.txt")]
    pub out: PathBuf,
}

/// How the points are chosen.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum Kind {
    /// Uniformly at random.
    Random,
    /// Uniformly among the points of --classes.
    Class,
    /// The end(s) of a principal component of the train × train datamodel matrix.
    Pca,
    /// The nearest neighbours of one example in input space.
    Neighbours,
}

/// Which end(s) of a component.
#[derive(ValueEnum, Clone, Copy, Debug)]
pub enum EndsArg {
    /// The highest coordinates.
    Top,
    /// The highest half and the lowest half.
    Both,
}

pub fn run(args: ForgetSetArgs) -> Result<()> {
    let (prepared, _) = args.data.load()?;
    let train = &prepared.train;
    let n = train.len();
    let kind = args.kind.unwrap_or(if args.classes.is_some() {
        Kind::Class
    } else {
        Kind::Random
    });
    if args.classes.is_some() && kind != Kind::Class {
        bail!("--classes applies to --kind class only; drop it or use --kind class");
    }
    if args.attribution.is_some() && kind != Kind::Pca {
        bail!("--attribution applies to --kind pca only; drop it or use --kind pca");
    }
    if args.anchor.is_some() && kind != Kind::Neighbours {
        bail!("--anchor applies to --kind neighbours only; drop it or use --kind neighbours");
    }
    let (forget, what) = match kind {
        Kind::Random => (
            ForgetSet::random(n, args.size, args.seed)?,
            "random".to_string(),
        ),
        Kind::Class => {
            let classes = args
                .classes
                .as_ref()
                .context("--kind class needs --classes, e.g. --classes 3")?;
            (
                ForgetSet::class_restricted(&train.labels, classes, args.size, args.seed)?,
                format!("from classes {classes:?}"),
            )
        }
        Kind::Pca => {
            let dir = args.attribution.as_ref().context(
                "--kind pca needs --attribution DIR (from `unlearn attribute --method datamodels-lasso`)",
            )?;
            let stored = unlearn_bench::beta_store::StoredBeta::open(dir)
                .context("--kind pca needs the full datamodels: run `unlearn attribute` without --forget-set into that directory")?;
            let [rows, points, classes] = stored.shape();
            let beta = stored.dense()?;
            if rows != n {
                bail!(
                    "{}: datamodels for {rows} training points, but the dataset's training split has {n}; \
                     pass the --dataset/--val-fraction/--split-seed the subset zoo was trained with",
                    dir.display()
                );
            }
            let matrix =
                unlearn_attribution::margin_effects(&beta, n, points, classes, &train.labels)?;
            let scores = unlearn_attribution::principal_coordinates(&matrix, args.component)?;
            let ends = match args.ends {
                EndsArg::Top => Ends::Top,
                EndsArg::Both => Ends::Both,
            };
            (
                ForgetSet::by_score(&scores, args.size, ends)?,
                format!("{:?} of principal component {}", args.ends, args.component).to_lowercase(),
            )
        }
        Kind::Neighbours => {
            let anchor = match args.anchor {
                Some(a) => a,
                None => ForgetSet::random(n, 1, args.seed)?.indices[0],
            };
            (
                ForgetSet::nearest_neighbours(&train.features, train.dim, anchor, args.size)?,
                format!("nearest neighbours of point {anchor}"),
            )
        }
    };
    output_file(&args.out)?;
    forget.save(&args.out)?;
    println!(
        "forget set of {} of {n} training points ({what}) → {}",
        forget.indices.len(),
        args.out.display()
    );
    Ok(())
}
