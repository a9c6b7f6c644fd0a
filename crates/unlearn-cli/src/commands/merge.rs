//! `unlearn merge`: join the shards of a `--shard I/N` run (zoos from train/forget, or
//! attribution directories) into what one unsharded run would have written.

use crate::common::progress_bar;
use anyhow::{Context as _, Result, bail};
use clap::Args;
use std::path::{Path, PathBuf};
use unlearn_bench::beta_store::{self, BetaFormat, INTERCEPT_FILE};
use unlearn_bench::record;
use unlearn_train::merge::merge_zoos;
use unlearn_train::shard::{ShardInfo, check_cover};

/// Join the shard directories of one `--shard I/N` run (every shard, in any order) into one
/// zoo or attribution directory. Refuses shards of different runs, overlaps and gaps.
#[derive(Args, Debug)]
pub struct MergeArgs {
    /// The shard directories (from `train`, `forget` or `attribute` with --shard).
    #[arg(required = true, value_name = "SHARD_DIR")]
    pub shards: Vec<PathBuf>,
    /// Output directory of the merged zoo or attribution.
    #[arg(long)]
    pub out: PathBuf,
}

pub fn run(args: MergeArgs) -> Result<()> {
    let zoos = args
        .shards
        .iter()
        .filter(|d| d.join("manifest.json").is_file())
        .count();
    let attributions = args
        .shards
        .iter()
        .filter(|d| d.join("attribution.json").is_file())
        .count();
    if zoos == args.shards.len() {
        let bar = progress_bar(0, "merge");
        let zoo = merge_zoos(&args.shards, &args.out, &bar)?;
        bar.finish_and_clear();
        println!(
            "merged {} shards: {} models × {} points × {} classes (config {}) → {}",
            args.shards.len(),
            zoo.models,
            zoo.points,
            zoo.classes,
            zoo.manifest.config_hash,
            args.out.display()
        );
        Ok(())
    } else if attributions == args.shards.len() {
        merge_attributions(&args.shards, &args.out)
    } else {
        let odd = args
            .shards
            .iter()
            .find(|d| !d.join("manifest.json").is_file() && !d.join("attribution.json").is_file())
            .unwrap_or(&args.shards[0]);
        bail!(
            "{} is neither a finished zoo shard (manifest.json) nor a finished attribution shard (attribution.json), or the shards mix both",
            odd.display()
        )
    }
}

/// Reads `dir/attribution.json`.
fn read_info(dir: &Path) -> Result<serde_json::Value> {
    let path = dir.join("attribution.json");
    let text =
        std::fs::read_to_string(&path).with_context(|| format!("reading {}", path.display()))?;
    serde_json::from_str(&text)
        .with_context(|| format!("{}: corrupt attribution.json", path.display()))
}

/// Concatenates attribution shards along the evaluated points.
fn merge_attributions(shards: &[PathBuf], out: &Path) -> Result<()> {
    let names: Vec<String> = shards.iter().map(|d| d.display().to_string()).collect();
    let mut infos = Vec::new();
    let mut places: Vec<ShardInfo> = Vec::new();
    let out_real = std::fs::canonicalize(out).ok();
    for dir in shards {
        if out_real.is_some() && std::fs::canonicalize(dir).ok() == out_real {
            bail!(
                "cannot merge: --out {} is one of the shards; merge into a new directory",
                out.display()
            );
        }
        // Outputs must match their records: a shard damaged after it finished is refused.
        let check = unlearn_train::integrity::verify_attribution(dir)?;
        if let Some(finding) = check.findings.first() {
            bail!(
                "cannot merge: {} is not ready ({finding}); re-run its command, then merge again",
                dir.display()
            );
        }
        let mut info = read_info(dir)?;
        let Some(shard) = info.as_object_mut().and_then(|m| m.remove("shard")) else {
            bail!(
                "{} is a whole attribution, not a shard (written without --shard)",
                dir.display()
            );
        };
        places.push(
            serde_json::from_value(shard)
                .with_context(|| format!("{}: bad shard record", dir.display()))?,
        );
        infos.push(info);
    }
    // Same inputs everywhere: everything but the results.
    let inputs = record::inputs;
    for (info, name) in infos.iter().zip(&names) {
        if inputs(info) != inputs(&infos[0]) {
            let key = info
                .as_object()
                .into_iter()
                .flatten()
                .find(|(k, v)| infos[0].get(k.as_str()) != Some(v))
                .map_or("a setting".to_string(), |(k, _)| format!("'{k}'"));
            bail!(
                "cannot merge: {name} and {} differ in {key}: shards of different runs",
                names[0]
            );
        }
    }
    let order = check_cover(&places, &names).map_err(|e| anyhow::anyhow!("cannot merge: {e}"))?;
    let first = &infos[0];
    let (points, classes) = (
        places[0].total,
        first["classes"].as_u64().unwrap_or(0) as usize,
    );

    let sparse = first.get("beta_format").and_then(|v| v.as_str()) == Some("sparse");
    let _lock = record::open(out)?;
    record::unmark(out)?;
    let mut merged = first.clone();
    // LDS is a mean over the points where it is defined: weight each shard by its count.
    let lds_points = |k: usize| infos[k]["lds_points"].as_u64().unwrap_or(0) as f64;
    let defined: f64 = (0..infos.len()).map(lds_points).sum();
    let weighted_lds: f64 = (0..infos.len())
        .filter(|&k| lds_points(k) > 0.0)
        .map(|k| infos[k]["lds"].as_f64().unwrap_or(f64::NAN) * lds_points(k))
        .sum();
    let seconds: f64 = infos.iter().filter_map(|i| i["fit_seconds"].as_f64()).sum();
    merged["fit_seconds"] = seconds.into();
    if first.get("forget_set").is_some() {
        let mut rows = Vec::with_capacity(points * classes);
        for &k in &order {
            rows.extend(read_part(
                &shards[k].join("forget_rows.npy"),
                &[places[k].len, classes],
            )?);
        }
        unlearn_data::write_npy_f32(out.join("forget_rows.npy"), &[points, classes], &rows)?;
    } else {
        let mut intercept = Vec::with_capacity(points * classes);
        for &k in &order {
            let part = read_part(&shards[k].join(INTERCEPT_FILE), &[places[k].len, classes])?;
            intercept.extend(part);
        }
        let in_order: Vec<(&Path, usize)> = order
            .iter()
            .map(|&k| (shards[k].as_path(), places[k].len))
            .collect();
        beta_store::join_shards(&in_order, classes, sparse, out)?;
        unlearn_data::write_npy_f32(out.join(INTERCEPT_FILE), &[points, classes], &intercept)?;
        merged["lds"] = if defined > 0.0 {
            (weighted_lds / defined).into()
        } else {
            serde_json::Value::Null
        };
        merged["lds_points"] = (defined as u64).into();
    }
    let files = match first.get("forget_set") {
        Some(_) => record::outputs(true),
        None => BetaFormat::outputs(sparse),
    };
    record::write(out, &mut merged, files)?;
    println!(
        "merged {} attribution shards: {points} points × {classes} classes{} → {}",
        shards.len(),
        merged["lds"]
            .as_f64()
            .map_or(String::new(), |l| format!(", LDS {l:.4}")),
        out.display()
    );
    Ok(())
}

/// Reads a shard's f32 array and checks its shape.
fn read_part(path: &Path, shape: &[usize]) -> Result<Vec<f32>> {
    let (found, values) = unlearn_data::read_npy_f32(path)?;
    if found != shape {
        bail!(
            "{}: shape {found:?}, expected {shape:?} for its shard",
            path.display()
        );
    }
    Ok(values)
}
