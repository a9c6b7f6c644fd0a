//! `unlearn verify`: re-hash a zoo's artifacts against its manifest.

use anyhow::{Result, bail};
use clap::Args;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use unlearn_train::integrity::verify_tree;

/// Check a zoo (from `unlearn train` or `unlearn forget`), an attribution directory (`unlearn
/// attribute`), or every one below a directory (an `unlearn bench` run): re-hash every artifact
/// against the sizes and sha256 recorded in its manifest, and report each missing, truncated or altered file, unfinished zoos, and leftovers
/// of interrupted writes (temporary files, stale locks). Exits 0 only when all is intact.
#[derive(Args, Debug)]
pub struct VerifyArgs {
    /// Zoo directory or run directory.
    pub dir: PathBuf,
}

pub fn run(args: VerifyArgs) -> Result<()> {
    let root = &args.dir;
    let check = verify_tree(root)?;
    let name = |dir: &Path| -> String {
        match dir.strip_prefix(root) {
            Ok(rel) if rel.as_os_str().is_empty() => root.display().to_string(),
            Ok(rel) => root.join(rel).display().to_string(),
            Err(_) => dir.display().to_string(),
        }
    };
    let mut kinds: BTreeMap<&str, usize> = BTreeMap::new();
    let mut damaged_zoos = 0;
    for zoo in &check.zoos {
        if zoo.findings.is_empty() {
            let what = match zoo.kind {
                "zoo" => format!("{} models", zoo.models),
                kind => kind.to_string(),
            };
            println!(
                "ok      {}: {what}, {} files, {:.1} MB",
                name(&zoo.dir),
                zoo.files,
                zoo.bytes as f64 / 1e6
            );
            continue;
        }
        damaged_zoos += 1;
        for finding in &zoo.findings {
            *kinds.entry(finding.kind()).or_default() += 1;
            println!("FAILED  {}: {finding}", name(&zoo.dir));
        }
    }
    // An unlearned zoo made by a chain of requests: every zoo the chain passed through too.
    let chained = super::history::chain_findings(root)?;
    let chain_zoos = chained.len();
    for (dir, findings) in chained {
        if findings.is_empty() {
            println!(
                "ok      {}: earlier in the chain",
                super::history::shown(&dir)
            );
        }
        if !findings.is_empty() {
            damaged_zoos += 1;
        }
        for finding in findings {
            *kinds.entry("chain").or_default() += 1;
            println!(
                "FAILED  {} (earlier in the chain): {finding}",
                dir.display()
            );
        }
    }
    for finding in &check.leftovers {
        *kinds.entry(finding.kind()).or_default() += 1;
        println!("FAILED  {}: {finding}", root.display());
    }
    let zoos = check.zoos.len() + chain_zoos;
    let counted = |kind: &str| {
        let n = check.zoos.iter().filter(|z| z.kind == kind).count();
        (n > 0).then(|| format!("{n} {kind}{}", if n == 1 { "" } else { "s" }))
    };
    if kinds.is_empty() {
        let files: usize = check.zoos.iter().map(|z| z.files).sum();
        let parts: Vec<String> = ["zoo", "attribution", "report"]
            .into_iter()
            .filter_map(counted)
            .collect();
        println!(
            "{}: intact ({}, {files} files)",
            root.display(),
            parts.join(", ")
        );
        return Ok(());
    }
    let problems: usize = kinds.values().sum();
    let list: Vec<String> = kinds.iter().map(|(k, n)| format!("{n} {k}")).collect();
    bail!(
        "{}: {problems} problem{} in {damaged_zoos} of {zoos} director{} ({}); re-run the command that wrote it to redo damaged models and clear leftovers",
        root.display(),
        if problems == 1 { "" } else { "s" },
        if zoos == 1 { "y" } else { "ies" },
        list.join(", ")
    )
}
