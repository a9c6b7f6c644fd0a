//! An attribution directory's record, attribution.json: the inputs of the run, its results and
//! the sha256 of every output. It is written last, so a directory without it holds no finished
//! result; `attribute`, `merge` and the bench share these steps.

use crate::error::{BenchError, Result};
use std::path::Path;
use unlearn_train::integrity::{self, DirLock};

/// The record's file name.
pub const RECORD: &str = "attribution.json";

/// Keys of attribution.json that are results, not inputs.
pub const RESULT_KEYS: [&str; 4] = ["lds", "lds_points", "fit_seconds", "files"];

/// The inputs of a record: everything but the results and the paths (a moved run directory
/// still holds the same result).
pub fn inputs(info: &serde_json::Value) -> serde_json::Value {
    let mut v = unlearn_train::relocate::without_paths(info);
    if let Some(m) = v.as_object_mut() {
        for key in RESULT_KEYS {
            m.remove(key);
        }
    }
    v
}

/// The record in `out` when a run with the inputs of `info` wrote it and its output `file` is
/// there (the results may differ: only the inputs are compared).
pub fn finished(out: &Path, info: &serde_json::Value, file: &str) -> Option<serde_json::Value> {
    let text = std::fs::read_to_string(out.join(RECORD)).ok()?;
    let found: serde_json::Value = serde_json::from_str(&text).ok()?;
    (inputs(&found) == inputs(info) && out.join(file).is_file()).then_some(found)
}

/// The outputs a datamodel record lists: Σ_F β rows for a forget set, else β and its intercept.
pub fn outputs(for_forget_set: bool) -> &'static [&'static str] {
    if for_forget_set {
        &["forget_rows.npy"]
    } else {
        &["beta.npy", "intercept.npy"]
    }
}

/// Creates and locks `out`, and clears temporary files a killed run left there.
pub fn open(out: &Path) -> Result<DirLock> {
    std::fs::create_dir_all(out).map_err(BenchError::io(out))?;
    let lock = DirLock::acquire(out)?;
    integrity::remove_temp_files(out)?;
    Ok(lock)
}

/// Removes the record before outputs are rewritten, so an interrupted rewrite is not finished.
pub fn unmark(out: &Path) -> Result<()> {
    let marker = out.join(RECORD);
    if marker.exists() {
        std::fs::remove_file(&marker).map_err(BenchError::io(&marker))?;
    }
    Ok(())
}

/// Records the sha256 and size of `outputs` in `info` and writes it as the record, last.
pub fn write(out: &Path, info: &mut serde_json::Value, outputs: &[&str]) -> Result<()> {
    info["files"] = integrity::record_named(out, outputs)?;
    unlearn_data::atomic_write_bytes(
        out.join(RECORD),
        serde_json::to_string_pretty(info)?.as_bytes(),
    )?;
    Ok(())
}
