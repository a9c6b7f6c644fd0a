//! `unlearn eval --published ROOT`: KLoM against the oracles' margins that the public CIFAR-10
//! unlearning benchmark publishes (layout in `unlearn_eval::MarginTree`), on a CPU.

use anyhow::{Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use unlearn_eval::{Direction, KlomVariant, MarginSource, MarginTree, score_published};

/// Published margins instead of zoos.
#[derive(Args, Debug)]
pub struct PublishedArgs {
    /// Root of a published margin tree (holds margins/ and forget_sets/); scores margins
    /// instead of zoos (--unlearned, --oracles and --forget-set are then not used).
    #[arg(long)]
    pub published: Option<PathBuf>,
    /// Forget set K of the tree.
    #[arg(long, default_value_t = 0)]
    pub forget_id: usize,
    /// Models per side: unlearned 0..N against oracles 0..N.
    #[arg(long, default_value_t = 100)]
    pub models: usize,
    /// Which margins are scored: `pretrain` (the originals: doing nothing) or the name of a
    /// directory beside `oracle` holding a method's margins in the oracle layout.
    #[arg(long, default_value = "pretrain")]
    pub unlearned_margins: String,
    /// Another tree holding --unlearned-margins (default: the --published tree).
    #[arg(long)]
    pub unlearned_root: Option<PathBuf>,
    /// Also score oracles N..2N against 0..N: the retrain noise floor.
    #[arg(long)]
    pub floor: bool,
    /// KLoM rules: `spec` (docs/algorithms.md §2) or `benchmark` (the benchmark's own eval,
    /// to reproduce its published numbers).
    #[arg(long, default_value = "spec", value_parser = ["spec", "benchmark"])]
    pub klom_variant: String,
    /// Dataset and architecture directory names and the epoch in the file names.
    #[arg(long, default_value = "cifar10")]
    pub tree_dataset: String,
    #[arg(long, default_value = "resnet9")]
    pub tree_arch: String,
    #[arg(long, default_value_t = 23)]
    pub tree_epoch: u32,
}

fn tree(root: &Path, args: &PublishedArgs) -> MarginTree {
    MarginTree {
        root: root.to_path_buf(),
        data: args.tree_dataset.clone(),
        arch: args.tree_arch.clone(),
        epoch: args.tree_epoch,
    }
}

pub fn run(args: &PublishedArgs, direction: Direction, out: &Path) -> Result<()> {
    let Some(root) = &args.published else {
        bail!("--published ROOT is required");
    };
    if args.models == 0 {
        bail!("--models must be ≥ 1");
    }
    let oracles = tree(root, args);
    let unlearned = tree(args.unlearned_root.as_deref().unwrap_or(root), args);
    let source = match args.unlearned_margins.as_str() {
        "pretrain" => MarginSource::Pretrain,
        name => MarginSource::PerForgetSet(name.to_string()),
    };
    let variant = match args.klom_variant.as_str() {
        "benchmark" => KlomVariant::Benchmark,
        _ => KlomVariant::Spec,
    };
    let n = args.models;
    let mut rows = vec![(
        args.unlearned_margins.clone(),
        score_published(
            &oracles,
            (&unlearned, &source, 0..n),
            0..n,
            args.forget_id,
            direction,
            variant,
        )?,
    )];
    if args.floor {
        let oracle = MarginSource::PerForgetSet("oracle".into());
        let floor = score_published(
            &oracles,
            (&oracles, &oracle, n..2 * n),
            0..n,
            args.forget_id,
            direction,
            variant,
        )?;
        rows.push(("retrain (floor)".into(), floor));
    }
    println!(
        "forget set {} of {}, {n} models per side, KLoM rules: {} (P95 / P99 / mean)",
        args.forget_id,
        root.display(),
        args.klom_variant
    );
    println!(
        "{:<18} {:>26} {:>26} {:>26}",
        "margins", "forget", "retain", "validation"
    );
    for (name, score) in &rows {
        let cells: Vec<String> = score
            .splits
            .iter()
            .map(|(_, s)| format!("{:.4} / {:.4} / {:.4}", s.p95, s.p99, s.mean))
            .collect();
        println!(
            "{name:<18} {:>26} {:>26} {:>26}",
            cells[0], cells[1], cells[2]
        );
    }
    std::fs::create_dir_all(out)?;
    let json = serde_json::json!({
        "published": root.display().to_string(), "forget_id": args.forget_id, "models": n,
        "klom_variant": args.klom_variant, "rows": rows.iter().map(|(name, s)| serde_json::json!({"margins": name, "score": s})).collect::<Vec<_>>(),
    });
    unlearn_data::atomic_write_bytes(
        out.join("eval.json"),
        serde_json::to_string_pretty(&json)?.as_bytes(),
    )?;
    println!("wrote {}", out.join("eval.json").display());
    Ok(())
}
