//! Records of a zoo's artifacts (sha256 and size), hashing, the models whose artifacts no longer
//! match their records, and the temporary files of interrupted writes.

use crate::TrainError;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fs::{self, File};
use std::io::{self, Read};
use std::path::{Path, PathBuf};

/// Size and content hash of one artifact, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// sha256 of the content, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
}

/// Records (sha256 and size) of the files `names` in `dir`, as JSON for a directory's record
/// file (attribution.json's `files`).
pub fn record_named(dir: &Path, names: &[&str]) -> Result<serde_json::Value, TrainError> {
    let mut files = BTreeMap::new();
    for name in names {
        let path = dir.join(name);
        files.insert(
            name.to_string(),
            hash_file(&path).map_err(TrainError::io(&path))?,
        );
    }
    Ok(serde_json::to_value(files).expect("records serialise"))
}

/// True for the temporary names of atomic writes (`.NAME.tmp-PID` and `.NAME.tmp-PID-N`): such a
/// file is never part of a finished run; one that outlives its writer is a leftover of a crash.
pub fn is_temp_name(name: &str) -> bool {
    name.starts_with('.') && name.contains(".tmp-")
}

/// Paths (relative to the zoo directory, `/`-separated) of every artifact of a zoo of `models`
/// models: labels, assembled logits, and each model's checkpoint and logits.
pub fn zoo_artifacts(models: usize) -> Vec<String> {
    let mut files = vec!["labels.npy".to_string(), "logits.npy".to_string()];
    for i in 0..models {
        files.push(format!("models/{i:05}.bpk"));
        files.push(format!("logits/{i:05}.npy"));
    }
    files
}

/// sha256 and size of a file, read once.
pub fn hash_file(path: &Path) -> io::Result<FileRecord> {
    let mut file = File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    let mut bytes = 0u64;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
        bytes += n as u64;
    }
    Ok(FileRecord {
        sha256: hex::encode(hasher.finalize()),
        bytes,
    })
}

/// Records every artifact of the zoo in `dir` (see [`zoo_artifacts`]).
pub fn record_files(dir: &Path, models: usize) -> Result<BTreeMap<String, FileRecord>, TrainError> {
    zoo_artifacts(models)
        .into_iter()
        .map(|rel| {
            let path = dir.join(&rel);
            let record = hash_file(&path).map_err(TrainError::io(&path))?;
            Ok((rel, record))
        })
        .collect()
}

/// Indices of the models whose recorded checkpoint or logits are missing or differ from their
/// record: a re-run must retrain them instead of trusting their presence.
pub fn damaged_models(dir: &Path, files: &BTreeMap<String, FileRecord>) -> Vec<usize> {
    let mut damaged = BTreeSet::new();
    for (rel, record) in files {
        let Some(index) = model_index(rel) else {
            continue;
        };
        match hash_file(&dir.join(rel)) {
            Ok(found) if &found == record => {}
            _ => {
                damaged.insert(index);
            }
        }
    }
    damaged.into_iter().collect()
}

/// Model index of `models/NNNNN.bpk` or `logits/NNNNN.npy`.
fn model_index(rel: &str) -> Option<usize> {
    let name = rel
        .strip_prefix("models/")
        .and_then(|n| n.strip_suffix(".bpk"))
        .or_else(|| {
            rel.strip_prefix("logits/")
                .and_then(|n| n.strip_suffix(".npy"))
        })?;
    (name.len() >= 5 && name.bytes().all(|b| b.is_ascii_digit()))
        .then(|| name.parse().ok())
        .flatten()
}

/// Removes the temporary files that killed writers left in `dir`, `dir/models`, `dir/logits`
/// and `dir/examples` (an unlearned zoo's per-model costs); returns how many. Only safe while holding the directory's lock.
pub fn remove_temp_files(dir: &Path) -> Result<usize, TrainError> {
    let mut removed = 0;
    for sub in [
        dir.to_path_buf(),
        dir.join("models"),
        dir.join("logits"),
        dir.join("examples"),
    ] {
        for path in temp_files_in(&sub) {
            fs::remove_file(&path).map_err(TrainError::io(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

pub(super) fn temp_files_in(dir: &Path) -> Vec<PathBuf> {
    let Ok(entries) = fs::read_dir(dir) else {
        return Vec::new();
    };
    let mut found: Vec<PathBuf> = entries
        .flatten()
        .filter(|e| e.file_type().is_ok_and(|t| t.is_file()))
        .filter(|e| e.file_name().to_str().is_some_and(is_temp_name))
        .map(|e| e.path())
        .collect();
    found.sort();
    found
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, rel: &str, bytes: &[u8]) {
        let path = dir.join(rel);
        fs::create_dir_all(path.parent().unwrap()).unwrap();
        fs::write(path, bytes).unwrap();
    }

    #[test]
    fn temp_names_are_recognised() {
        assert!(is_temp_name(".00003.bpk.tmp-123"));
        assert!(is_temp_name(".logits.npy.tmp-123-4"));
        assert!(!is_temp_name("00003.bpk"));
        assert!(!is_temp_name(".lock"));
        assert!(!is_temp_name("x.tmp-1"));
    }

    #[test]
    fn model_index_of_artifact_paths() {
        assert_eq!(model_index("models/00012.bpk"), Some(12));
        assert_eq!(model_index("logits/00012.npy"), Some(12));
        assert_eq!(model_index("logits.npy"), None);
        assert_eq!(model_index("labels.npy"), None);
        assert_eq!(model_index("models/12.npy"), None);
    }

    #[test]
    fn damaged_models_are_found_by_hash_and_size() {
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        for rel in zoo_artifacts(3) {
            write(d, &rel, rel.as_bytes());
        }
        let records = record_files(d, 3).unwrap();
        assert_eq!(records.len(), 8);
        assert_eq!(records["labels.npy"].bytes, 10);
        assert!(damaged_models(d, &records).is_empty());
        // Same size, other content; a missing file; a truncated file.
        write(d, "logits/00000.npy", b"logits/00000.npX");
        fs::remove_file(d.join("models/00002.bpk")).unwrap();
        assert_eq!(damaged_models(d, &records), vec![0, 2]);
        write(d, "models/00001.bpk", b"x");
        assert_eq!(damaged_models(d, &records), vec![0, 1, 2]);
    }

    #[test]
    fn temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "models/.00001.bpk.tmp-77", b"half");
        write(dir.path(), ".logits.npy.tmp-77-0", b"half");
        write(dir.path(), "examples/.00003.txt.tmp-77", b"12");
        write(dir.path(), "models/00000.bpk", b"whole");
        assert_eq!(remove_temp_files(dir.path()).unwrap(), 3);
        assert!(dir.path().join("models/00000.bpk").is_file());
        assert_eq!(remove_temp_files(dir.path()).unwrap(), 0);
    }
}
