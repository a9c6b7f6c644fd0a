//! `unlearn history`: the deletion requests behind a zoo, and the chain glue `forget` uses.

use anyhow::{Context as _, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use unlearn_data::ForgetSet;
use unlearn_methods::{Chain, LineageStep};
use unlearn_train::Zoo;

/// The chain of deletion requests behind an unlearned zoo: each step's method, request size,
/// points forgotten so far and cost, back to the trained originals.
#[derive(Args, Debug)]
pub struct HistoryArgs {
    /// The zoo (from `forget`).
    pub zoo: PathBuf,
    /// Print the lineage as JSON instead of a table.
    #[arg(long)]
    pub json: bool,
    /// The trained originals' attribution (its full β): the verdict then also checks how far
    /// each step's models landed from the datamodels' prediction.
    #[arg(long)]
    pub attribution: Option<PathBuf>,
    /// Also write every point forgotten so far as an index file (for `train --forget-set`, to
    /// retrain oracles of the whole chain, and `eval --forget-set`).
    #[arg(long, value_name = "FILE")]
    pub write_forgotten: Option<PathBuf>,
}

pub fn run(args: HistoryArgs) -> Result<()> {
    let zoo = Zoo::load(&args.zoo).context("loading the zoo")?;
    let Some(chain) = Chain::of(&zoo)? else {
        bail!(
            "{} holds {} models, not unlearned ones: it has no deletion history",
            args.zoo.display(),
            zoo.manifest.kind
        );
    };
    if let Some(path) = &args.write_forgotten {
        let forgotten =
            ForgetSet::from_indices(chain.forgotten.clone(), zoo.manifest.dataset.n_train)?;
        forgotten.save(path)?;
        eprintln!("{} forgotten points → {}", forgotten.len(), path.display());
    }
    if args.json {
        let json = serde_json::json!({
            "root": { "path": chain.root.dir.display().to_string(), "config_hash": chain.root.manifest.config_hash },
            "steps": chain.steps,
            "forgotten": chain.forgotten,
        });
        println!("{}", serde_json::to_string_pretty(&json)?);
        return Ok(());
    }
    println!(
        "originals: {} ({} models, configuration {})",
        shown(&chain.root.dir),
        chain.root.models,
        chain.root.manifest.config_hash
    );
    println!(
        "{:>4}  {:<14} {:>4} {:>10} {:>8}  {:<40} zoo",
        "step", "method", "|F|", "forgotten", "cost", "verdict (docs/algorithms.md §14)"
    );
    let verdicts = verdicts(&chain, args.attribution.as_deref())?;
    for ((i, step), verdict) in chain.steps.iter().enumerate().zip(verdicts) {
        println!(
            "{:>4}  {:<14} {:>4} {:>10} {:>8}  {:<40} {}",
            i + 1,
            step.method,
            step.size,
            step.forgotten,
            step.cost.map_or("–".into(), |c| format!("{c:.4}")),
            verdict,
            shown(Path::new(&step.zoo))
        );
    }
    Ok(())
}

/// A zoo's path as recorded (relative to the next zoo in the chain), folded to where it is.
pub fn shown(path: &Path) -> String {
    unlearn_train::relocate::absolute(path)
        .display()
        .to_string()
}

/// What a request on `originals` forgets: the request alone, or (when `originals` are
/// themselves unlearned) every point forgotten so far with it, and the chain behind them.
pub fn chained_request(
    originals: &Zoo,
    forget_path: &Path,
    n_train: usize,
) -> Result<(ForgetSet, Option<Chain>)> {
    let request = ForgetSet::load(forget_path, n_train)?;
    match Chain::of(originals).context("following the chain of --originals")? {
        Some(chain) => Ok((chain.union(&request, n_train)?, Some(chain))),
        None => Ok((request, None)),
    }
}

/// OM's targets after a chain: oracles retrained without exactly the points forgotten so far.
pub fn oracles_exclude(oracles: &Zoo, union: &ForgetSet, steps: &[LineageStep]) -> Result<()> {
    let excluded = match &oracles.manifest.forget_set {
        Some(f) => {
            ForgetSet::load(&f.path, oracles.manifest.dataset.n_train)
                .with_context(|| format!("reading the forget set of {}", oracles.dir.display()))?
                .indices
        }
        None => Vec::new(),
    };
    if excluded != union.indices {
        bail!(
            "{} exclude {} points, but after {} earlier requests OM needs oracles retrained without all {} points forgotten so far (`unlearn history --json` lists them)",
            oracles.dir.display(),
            excluded.len(),
            steps.len(),
            union.len()
        );
    }
    Ok(())
}

/// The zoos an unlearned zoo's chain passed through (the trained originals first, then every
/// step before the zoo itself), each with what is wrong with it: damaged files, or another
/// configuration than the chain recorded. Empty for a zoo that is no chain's head.
pub fn chain_findings(dir: &Path) -> Result<Vec<(PathBuf, Vec<String>)>> {
    // Only a zoo made by a chained request records the zoos before it.
    let Ok(head) = Zoo::load(dir) else {
        return Ok(Vec::new());
    };
    if unlearn_methods::ChainRecord::of(&head).is_ok_and(|r| r.is_none()) {
        return Ok(Vec::new());
    }
    let chain = match Chain::of(&head) {
        Ok(Some(chain)) => chain,
        Ok(None) => return Ok(Vec::new()),
        Err(e) => return Ok(vec![(dir.to_path_buf(), vec![e.to_string()])]),
    };
    let recorded = std::iter::once((
        chain.root.dir.clone(),
        chain.root.manifest.config_hash.clone(),
    ))
    .chain(
        chain.steps[..chain.steps.len() - 1]
            .iter()
            .map(|s| (PathBuf::from(&s.zoo), s.config_hash.clone())),
    );
    let mut out = Vec::new();
    for (zoo_dir, hash) in recorded {
        let mut findings: Vec<String> = match unlearn_train::integrity::verify_tree(&zoo_dir) {
            Ok(check) => check
                .zoos
                .iter()
                .flat_map(|z| z.findings.iter().map(|f| f.to_string()))
                .collect(),
            Err(e) => vec![e.to_string()],
        };
        match Zoo::load(&zoo_dir) {
            Ok(z) if z.manifest.config_hash != hash => findings.push(format!(
                "configuration {} where the chain recorded {hash}",
                z.manifest.config_hash
            )),
            Ok(_) => {}
            Err(e) => findings.push(e.to_string()),
        }
        out.push((zoo_dir, findings));
    }
    Ok(out)
}

/// The rule's verdict after each step (cost so far, validation accuracy against the trained
/// originals, and with `attribution` the miss from the datamodels' prediction on the union).
fn verdicts(chain: &Chain, attribution: Option<&Path>) -> Result<Vec<String>> {
    let root = &chain.root;
    let n_train = root.manifest.dataset.n_train;
    let beta = attribution
        .map(|dir| unlearn_bench::datamodels::stored_beta(dir, root.points, root.classes))
        .transpose()?;
    let (mut union, mut cost, mut out) = (Vec::new(), 0.0, Vec::new());
    for step in &chain.steps {
        let zoo = Zoo::load(Path::new(&step.zoo))?;
        union.extend(ForgetSet::load(&step.forget_set.path, n_train)?.indices);
        union.sort_unstable();
        cost += step.cost.unwrap_or(0.0);
        let predicted = match &beta {
            Some(stored) => Some(unlearn_methods::methods::direct::predicted_logits(
                &root.logits,
                &stored.rows_sum(&union)?,
                1.0,
            )),
            None => None,
        };
        let points = unlearn_eval::EvalPoints {
            labels: &root.labels,
            n_train,
            forget: &union,
        };
        let audit = unlearn_eval::audit(
            unlearn_bench::logits_view(root),
            unlearn_bench::logits_view(&zoo),
            predicted.as_deref(),
            &points,
        )?;
        out.push(
            unlearn_eval::ChainRule::default()
                .judge(&audit, cost)
                .line(),
        );
    }
    Ok(out)
}

/// Before a request for a datamodel method: a warning when the request's points hold each other
/// up (their datamodel rows coupled beyond the rule's threshold), which the datamodels
/// under-predict. Needs the full β; `None` without it or when the request is not coupled.
pub fn coupling_warning(attribution: &Path, forget_path: &Path, zoo: &Zoo) -> Option<String> {
    coupling_line(attribution, forget_path, zoo).ok().flatten()
}

fn coupling_line(attribution: &Path, forget_path: &Path, zoo: &Zoo) -> Result<Option<String>> {
    if !unlearn_bench::beta_store::StoredBeta::exists(attribution) {
        return Ok(None);
    }
    let (_, beta) = unlearn_bench::datamodels::read_beta(attribution, zoo.points, zoo.classes)?;
    let request = ForgetSet::load(forget_path, zoo.manifest.dataset.n_train)?;
    let coupling = unlearn_eval::coupling(
        &beta,
        zoo.points,
        zoo.classes,
        &zoo.labels,
        &request.indices,
    );
    let rule = unlearn_eval::ChainRule::default();
    Ok(rule.coupled(coupling).then(|| {
        format!(
            "warning: the request's points hold each other up (datamodel coupling {coupling:.2} > {}): datamodels under-predict removing such a group (docs/algorithms.md §14); prefer OM with a few oracles, or retraining",
            rule.max_coupling
        )
    }))
}
