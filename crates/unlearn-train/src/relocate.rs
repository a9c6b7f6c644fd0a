//! Relocatable run directories. Every input path a manifest records (a dataset file, a forget
//! set, subset masks, the originals an unlearned zoo came from) is written relative to the
//! directory that holds the manifest, and read back resolved against it. A run directory moved
//! together with its inputs, or reached from another working directory, therefore still
//! resumes, evaluates and verifies. The manifest also keeps where each path pointed when it was
//! written ([`crate::manifest::Manifest::locations`]), the fallback for a run directory moved without its inputs.
//! Paths never enter a configuration hash (content hashes do), so the same run typed with
//! another spelling of its paths resumes instead of counting as a new configuration.

use serde_json::Value;
use std::collections::BTreeMap;
use std::path::{Component, Path, PathBuf};

/// Keys whose string values are paths, in an `unlearning` record or an attribution record.
const PATH_KEYS: [&str; 2] = ["path", "zoo"];

/// `path` (absolute, or relative to the working directory) as seen from `dir`; absolute where
/// the two share no root (another drive).
pub fn relative_to(path: &Path, dir: &Path) -> PathBuf {
    let (path, dir) = (absolute(path), absolute(dir));
    let (p, d): (Vec<_>, Vec<_>) = (path.components().collect(), dir.components().collect());
    let common = p.iter().zip(&d).take_while(|(a, b)| a == b).count();
    if common == 0 {
        return path;
    }
    let mut rel: PathBuf = d[common..].iter().map(|_| Component::ParentDir).collect();
    rel.extend(&p[common..]);
    if rel.as_os_str().is_empty() {
        rel.push(".");
    }
    rel
}

/// The absolute form of `path`: symbolic links resolved where it exists, else `.` and `..`
/// folded lexically.
pub fn absolute(path: &Path) -> PathBuf {
    if let Ok(real) = path.canonicalize() {
        return real;
    }
    let joined = std::path::absolute(path).unwrap_or_else(|_| path.to_path_buf());
    let mut out = PathBuf::new();
    for part in joined.components() {
        match part {
            Component::CurDir => {}
            Component::ParentDir => {
                out.pop();
            }
            other => out.push(other),
        }
    }
    out
}

/// The parts of a recorded input that are files: both halves of `FEATURES.npy,LABELS.npy`, one
/// path otherwise; none for a built-in dataset name or a label such as `(in memory)` that names
/// no existing file.
fn file_parts(spec: &str) -> Option<Vec<&str>> {
    if unlearn_data::is_named_dataset(spec) {
        return None;
    }
    let parts: Vec<&str> = spec.split(',').map(str::trim).collect();
    parts
        .iter()
        .all(|p| !p.is_empty() && Path::new(p).exists())
        .then_some(parts)
}

/// Rewrites `spec` relative to `dir`, noting each part's absolute location.
pub(crate) fn store(spec: &mut String, dir: &Path, locations: &mut BTreeMap<String, String>) {
    let Some(parts) = file_parts(spec) else {
        return;
    };
    let stored: Vec<String> = parts
        .iter()
        .map(|p| {
            let rel = relative_to(Path::new(p), dir).display().to_string();
            locations.insert(rel.clone(), absolute(Path::new(p)).display().to_string());
            rel
        })
        .collect();
    *spec = stored.join(",");
}

/// Resolves a stored `spec` against `dir`: relative to it where that exists, else the recorded
/// location, else as typed from the working directory (manifests written before paths were
/// stored relative). A stored path found nowhere resolves relative to `dir`, so that the error
/// names where it was looked for; a label that was never a path stays as it is.
pub(crate) fn resolve(spec: &mut String, dir: &Path, locations: &BTreeMap<String, String>) {
    if unlearn_data::is_named_dataset(spec) {
        return;
    }
    let resolved: Vec<String> = spec
        .split(',')
        .map(str::trim)
        .map(|part| {
            let as_typed = Path::new(part);
            if as_typed.is_absolute() {
                return part.to_string();
            }
            let near = dir.join(as_typed);
            let found = [Some(near.clone()), locations.get(part).map(PathBuf::from)]
                .into_iter()
                .flatten()
                .chain(as_typed.exists().then(|| as_typed.to_path_buf()))
                .find(|p| p.exists());
            match found {
                Some(path) => path.display().to_string(),
                None if locations.contains_key(part) => near.display().to_string(),
                None => part.to_string(),
            }
        })
        .collect();
    *spec = resolved.join(",");
}

/// Applies `f` to every path-valued string of an `unlearning` record.
pub(crate) fn each_path(value: &mut Value, f: &mut dyn FnMut(&mut String)) {
    match value {
        Value::Object(map) => {
            for (key, v) in map.iter_mut() {
                match v {
                    Value::String(s) if PATH_KEYS.contains(&key.as_str()) => f(s),
                    _ => each_path(v, f),
                }
            }
        }
        Value::Array(items) => items.iter_mut().for_each(|v| each_path(v, f)),
        _ => {}
    }
}

/// A copy of a record without its paths: what identifies a configuration wherever it lies.
pub fn without_paths(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .filter(|(k, v)| !(PATH_KEYS.contains(&k.as_str()) && v.is_string()))
                .map(|(k, v)| (k.clone(), without_paths(v)))
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(without_paths).collect()),
        other => other.clone(),
    }
}

/// The dataset name as the configuration hash sees it: a file dataset is identified by its
/// content hash alone, wherever it lies.
pub(crate) fn dataset_identity(name: &str) -> &str {
    if name.trim() != "test" && file_parts(name).is_some() {
        "file"
    } else {
        name
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn relative_paths_climb_to_the_common_ancestor() {
        let cases = [
            ("/a/b/data.csv", "/a/runs/zoo", "../../b/data.csv"),
            ("/a/runs/zoo/masks.npy", "/a/runs/zoo", "masks.npy"),
            ("/a/runs", "/a/runs", "."),
            ("/a/x/../b/./d.csv", "/a/c", "../b/d.csv"),
        ];
        for (path, dir, want) in cases {
            assert_eq!(
                relative_to(Path::new(path), Path::new(dir)),
                PathBuf::from(want),
                "{path} from {dir}"
            );
        }
    }

    #[test]
    fn stored_paths_resolve_after_the_directory_moves_with_its_inputs() {
        let root = tempfile::tempdir().unwrap();
        let (old, new) = (root.path().join("old"), root.path().join("new"));
        std::fs::create_dir_all(old.join("runs/zoo")).unwrap();
        std::fs::write(old.join("data.csv"), "x,label\n1,0\n").unwrap();
        let mut spec = old.join("data.csv").display().to_string();
        let mut locations = BTreeMap::new();
        store(&mut spec, &old.join("runs/zoo"), &mut locations);
        assert_eq!(spec, Path::new("../../data.csv").display().to_string());
        std::fs::rename(&old, &new).unwrap();
        let mut back = spec.clone();
        resolve(&mut back, &new.join("runs/zoo"), &locations);
        assert_eq!(absolute(Path::new(&back)), absolute(&new.join("data.csv")));
    }

    #[test]
    fn a_directory_moved_without_its_inputs_falls_back_to_the_recorded_location() {
        let root = tempfile::tempdir().unwrap();
        std::fs::create_dir_all(root.path().join("runs/zoo")).unwrap();
        std::fs::create_dir_all(root.path().join("elsewhere/deeper")).unwrap();
        std::fs::write(root.path().join("a.npy"), b"x").unwrap();
        std::fs::write(root.path().join("b.npy"), b"y").unwrap();
        let pair = |a: &str, b: &str| format!("{a},{b}");
        let mut spec = pair(
            &root.path().join("a.npy").display().to_string(),
            &root.path().join("b.npy").display().to_string(),
        );
        let mut locations = BTreeMap::new();
        store(&mut spec, &root.path().join("runs/zoo"), &mut locations);
        assert_eq!(spec, pair("../../a.npy", "../../b.npy"));
        resolve(&mut spec, &root.path().join("elsewhere/deeper"), &locations);
        let parts: Vec<PathBuf> = spec.split(',').map(|p| absolute(Path::new(p))).collect();
        assert_eq!(
            parts,
            [
                absolute(&root.path().join("a.npy")),
                absolute(&root.path().join("b.npy"))
            ]
        );
    }

    #[test]
    fn names_and_labels_that_are_no_files_stay_as_they_are() {
        let mut locations = BTreeMap::new();
        for name in ["digits", "fashion-mnist", "(in memory)", "own data"] {
            let mut spec = name.to_string();
            store(&mut spec, Path::new("/tmp"), &mut locations);
            resolve(&mut spec, Path::new("/elsewhere"), &locations);
            assert_eq!(spec, name);
            assert_eq!(dataset_identity(name), name);
        }
        assert!(locations.is_empty());
    }

    #[test]
    fn paths_leave_the_hashed_record_and_nothing_else_does() {
        let record = serde_json::json!({
            "method": "dmm",
            "originals": { "path": "/x/zoo", "config_hash": "abc" },
            "inputs": { "attribution": { "path": "../attr", "sha256": "d" }, "paths": [1] },
        });
        let want = serde_json::json!({
            "method": "dmm",
            "originals": { "config_hash": "abc" },
            "inputs": { "attribution": { "sha256": "d" }, "paths": [1] },
        });
        assert_eq!(without_paths(&record), want);
    }
}
