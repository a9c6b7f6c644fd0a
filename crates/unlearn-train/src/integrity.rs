//! Integrity of run directories: every artifact of a finished zoo recorded in its manifest with
//! its sha256 and size, their verification (`unlearn verify`), and an exclusive lock that keeps
//! two processes from writing one directory.
//!
//! The lock is the file `DIR/.lock`, holding the pid (and host) of its owner, with an advisory
//! `flock` on it for as long as the owner runs. The kernel drops the `flock` when the owner dies,
//! however it dies, so a lock file left behind by a killed run is recognised as stale without
//! guessing from pids (which the system reuses) and taken over with a warning, and two processes
//! that find the same stale file cannot both take it over.

use crate::TrainError;
use crate::manifest::Manifest;
use serde::{Deserialize, Serialize};
use sha2::{Digest, Sha256};
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// Size and content hash of one artifact, as recorded in the manifest.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct FileRecord {
    /// sha256 of the content, lowercase hex.
    pub sha256: String,
    /// Size in bytes.
    pub bytes: u64,
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

/// Removes the temporary files that killed writers left in `dir`, `dir/models` and
/// `dir/logits`; returns how many. Only safe while holding the directory's lock.
pub fn remove_temp_files(dir: &Path) -> Result<usize, TrainError> {
    let mut removed = 0;
    for sub in [dir.to_path_buf(), dir.join("models"), dir.join("logits")] {
        for path in temp_files_in(&sub) {
            fs::remove_file(&path).map_err(TrainError::io(&path))?;
            removed += 1;
        }
    }
    Ok(removed)
}

fn temp_files_in(dir: &Path) -> Vec<PathBuf> {
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

// ---------------------------------------------------------------------------------------------
// Verification

/// One thing wrong with a run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A recorded file is gone.
    Missing { file: String },
    /// A recorded file has another size (cut short or grown).
    Resized {
        file: String,
        recorded: u64,
        found: u64,
    },
    /// A recorded file has its size but another content.
    Altered {
        file: String,
        recorded: String,
        found: String,
    },
    /// A recorded file cannot be read.
    Unreadable { file: String, what: String },
    /// An artifact the zoo needs has no record in the manifest.
    Unrecorded { file: String },
    /// A temporary file, stray file or stale lock: the trace of an interrupted write.
    Leftover { file: String, what: String },
    /// The zoo was never finished.
    Unfinished { done: usize, models: usize },
    /// The zoo is finished but its manifest records no files (written by an older unlearn).
    NoRecords,
    /// A live process holds the directory's lock: it is being written right now.
    InUse { pid: u32 },
}

impl Finding {
    /// Short name of the kind of finding, for summaries.
    pub fn kind(&self) -> &'static str {
        match self {
            Finding::Missing { .. } => "missing",
            Finding::Resized {
                recorded, found, ..
            } if found < recorded => "truncated",
            Finding::Resized { .. } => "resized",
            Finding::Altered { .. } => "altered",
            Finding::Unreadable { .. } => "unreadable",
            Finding::Unrecorded { .. } => "unrecorded",
            Finding::Leftover { .. } => "leftover",
            Finding::Unfinished { .. } => "unfinished",
            Finding::NoRecords => "no records",
            Finding::InUse { .. } => "in use",
        }
    }
}

impl fmt::Display for Finding {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let short = |h: &str| h[..12.min(h.len())].to_string();
        match self {
            Finding::Missing { file } => write!(f, "{file}: missing"),
            Finding::Resized {
                file,
                recorded,
                found,
            } => write!(
                f,
                "{file}: {} ({found} bytes, recorded {recorded})",
                self.kind()
            ),
            Finding::Altered {
                file,
                recorded,
                found,
            } => write!(
                f,
                "{file}: altered (sha256 {}…, recorded {}…)",
                short(found),
                short(recorded)
            ),
            Finding::Unreadable { file, what } => write!(f, "{file}: unreadable ({what})"),
            Finding::Unrecorded { file } => {
                write!(f, "{file}: not recorded in the manifest")
            }
            Finding::Leftover { file, what } => write!(f, "{file}: leftover {what}"),
            Finding::Unfinished { done, models } => write!(
                f,
                "unfinished ({done} of {models} models done); re-run the command that wrote it"
            ),
            Finding::NoRecords => write!(
                f,
                "no file records in manifest.json (written by an older unlearn); re-run the command that wrote it to record them"
            ),
            Finding::InUse { pid } => write!(f, "being written by process {pid} (lock file)"),
        }
    }
}

/// What [`verify_zoo`] found in one zoo.
#[derive(Debug, Clone)]
pub struct ZooCheck {
    /// The zoo directory.
    pub dir: PathBuf,
    /// Models of the zoo.
    pub models: usize,
    /// Recorded files checked.
    pub files: usize,
    /// Their total size.
    pub bytes: u64,
    /// Everything wrong; empty when the zoo is intact.
    pub findings: Vec<Finding>,
}

/// Re-hashes every recorded artifact of the zoo in `dir` and looks for leftovers of interrupted
/// writes. Fails only when the manifest itself cannot be read.
pub fn verify_zoo(dir: &Path) -> Result<ZooCheck, TrainError> {
    let manifest = Manifest::load(dir)?;
    let models = manifest.seeds.len();
    let mut check = ZooCheck {
        dir: dir.to_path_buf(),
        models,
        files: 0,
        bytes: 0,
        findings: Vec::new(),
    };
    if let Some(finding) = lock_finding(dir) {
        check.findings.push(finding);
    }
    if !manifest.complete {
        let done = (0..models)
            .filter(|&i| crate::zoo::model_done(dir, i))
            .count();
        check.findings.push(Finding::Unfinished { done, models });
    } else if manifest.files.is_empty() {
        check.findings.push(Finding::NoRecords);
    } else {
        for rel in zoo_artifacts(models) {
            if !manifest.files.contains_key(&rel) {
                check.findings.push(Finding::Unrecorded { file: rel });
            }
        }
        for (rel, record) in &manifest.files {
            check.files += 1;
            check.bytes += record.bytes;
            let path = dir.join(rel);
            match hash_file(&path) {
                Err(e) if e.kind() == io::ErrorKind::NotFound => {
                    check.findings.push(Finding::Missing { file: rel.clone() })
                }
                Err(e) => check.findings.push(Finding::Unreadable {
                    file: rel.clone(),
                    what: e.to_string(),
                }),
                Ok(found) if found.bytes != record.bytes => check.findings.push(Finding::Resized {
                    file: rel.clone(),
                    recorded: record.bytes,
                    found: found.bytes,
                }),
                Ok(found) if found.sha256 != record.sha256 => {
                    check.findings.push(Finding::Altered {
                        file: rel.clone(),
                        recorded: record.sha256.clone(),
                        found: found.sha256,
                    })
                }
                Ok(_) => {}
            }
        }
    }
    // Leftovers: temporary files anywhere in the zoo's own folders, and stray per-model files.
    let expected: BTreeSet<String> = zoo_artifacts(models).into_iter().collect();
    for (sub, prefix) in [
        (dir.to_path_buf(), ""),
        (dir.join("models"), "models/"),
        (dir.join("logits"), "logits/"),
    ] {
        for path in temp_files_in(&sub) {
            let name = path.file_name().unwrap_or_default().to_string_lossy();
            check.findings.push(Finding::Leftover {
                file: format!("{prefix}{name}"),
                what: "temporary file of an interrupted write".into(),
            });
        }
        if prefix.is_empty() {
            continue;
        }
        let Ok(entries) = fs::read_dir(&sub) else {
            continue;
        };
        let mut strays: Vec<String> = entries
            .flatten()
            .filter_map(|e| e.file_name().to_str().map(|n| format!("{prefix}{n}")))
            .filter(|rel| !expected.contains(rel) && !is_temp_name(&rel[prefix.len()..]))
            .collect();
        strays.sort();
        for file in strays {
            check.findings.push(Finding::Leftover {
                file,
                what: "file that belongs to no model of the zoo".into(),
            });
        }
    }
    Ok(check)
}

/// What the lock file of `dir` says about it, if anything is wrong.
fn lock_finding(dir: &Path) -> Option<Finding> {
    let path = dir.join(LOCK_FILE);
    let text = fs::read_to_string(&path).ok()?;
    let owner = LockOwner::parse(&text);
    match owner.pid {
        Some(pid) if owner.is_local() && process_running(pid) => Some(Finding::InUse { pid }),
        _ => Some(Finding::Leftover {
            file: LOCK_FILE.into(),
            what: format!("lock of {}, which is no longer running", owner.describe()),
        }),
    }
}

/// What [`verify_tree`] found: every zoo under a directory, and temporary files outside them.
#[derive(Debug, Clone)]
pub struct TreeCheck {
    /// The zoos, in path order.
    pub zoos: Vec<ZooCheck>,
    /// Temporary files outside any zoo's own folders, relative to the root.
    pub leftovers: Vec<Finding>,
}

impl TreeCheck {
    /// Every finding, each with the directory it concerns.
    pub fn findings(&self) -> impl Iterator<Item = (Option<&Path>, &Finding)> {
        self.zoos
            .iter()
            .flat_map(|z| z.findings.iter().map(move |f| (Some(z.dir.as_path()), f)))
            .chain(self.leftovers.iter().map(|f| (None, f)))
    }

    /// True when nothing is wrong.
    pub fn intact(&self) -> bool {
        self.findings().next().is_none()
    }
}

/// Verifies the zoo in `root`, or every zoo (directory with a `manifest.json`) below it, as in a
/// bench run directory. Fails only when `root` is no directory or holds no zoo.
pub fn verify_tree(root: &Path) -> Result<TreeCheck, TrainError> {
    if !root.is_dir() {
        return Err(TrainError::Zoo {
            path: root.to_path_buf(),
            what: if root.exists() {
                "not a directory; give a zoo or run directory".into()
            } else {
                "no such directory".into()
            },
        });
    }
    let mut dirs = Vec::new();
    walk(root, &mut dirs).map_err(TrainError::io(root))?;
    dirs.sort();
    let zoo_dirs: Vec<&PathBuf> = dirs
        .iter()
        .filter(|d| d.join("manifest.json").is_file())
        .collect();
    if zoo_dirs.is_empty() {
        return Err(TrainError::Zoo {
            path: root.to_path_buf(),
            what: "no zoo found (no manifest.json in it or below it); give a directory written by `unlearn train`, `unlearn forget` or `unlearn bench`".into(),
        });
    }
    // A zoo whose manifest cannot be read is one more finding, not the end of the check.
    let zoos = zoo_dirs
        .iter()
        .map(|d| {
            verify_zoo(d).unwrap_or_else(|e| ZooCheck {
                dir: d.to_path_buf(),
                models: 0,
                files: 0,
                bytes: 0,
                findings: vec![Finding::Unreadable {
                    file: "manifest.json".into(),
                    what: match e {
                        TrainError::Zoo { what, .. } => what,
                        other => other.to_string(),
                    },
                }],
            })
        })
        .collect();
    // Folders a zoo check already covered.
    let covered: BTreeSet<PathBuf> = zoo_dirs
        .iter()
        .flat_map(|d| [d.to_path_buf(), d.join("models"), d.join("logits")])
        .collect();
    let mut leftovers = Vec::new();
    for dir in dirs.iter().filter(|d| !covered.contains(*d)) {
        for path in temp_files_in(dir) {
            let rel = path.strip_prefix(root).unwrap_or(&path);
            leftovers.push(Finding::Leftover {
                file: rel.display().to_string(),
                what: "temporary file of an interrupted write".into(),
            });
        }
    }
    Ok(TreeCheck { zoos, leftovers })
}

/// Every directory at or below `dir`, not following symbolic links.
fn walk(dir: &Path, out: &mut Vec<PathBuf>) -> io::Result<()> {
    out.push(dir.to_path_buf());
    for entry in fs::read_dir(dir)? {
        let entry = entry?;
        if entry.file_type()?.is_dir() {
            walk(&entry.path(), out)?;
        }
    }
    Ok(())
}

// ---------------------------------------------------------------------------------------------
// Lock

/// Exclusive hold on a run directory; dropping it removes the lock file.
#[derive(Debug)]
pub struct DirLock {
    path: PathBuf,
    // Keeps the flock: closing the file releases it.
    _file: File,
}

/// Who wrote a lock file.
struct LockOwner {
    pid: Option<u32>,
    host: Option<String>,
}

impl LockOwner {
    fn parse(text: &str) -> Self {
        let mut lines = text.lines();
        let pid = lines.next().and_then(|l| l.trim().parse().ok());
        let host = lines
            .next()
            .map(|l| l.trim().to_string())
            .filter(|h| !h.is_empty());
        Self { pid, host }
    }

    fn is_local(&self) -> bool {
        self.host.is_none() || self.host == hostname()
    }

    fn describe(&self) -> String {
        let pid = match self.pid {
            Some(pid) => format!("process {pid}"),
            None => "another process".into(),
        };
        match &self.host {
            Some(host) if !self.is_local() => format!("{pid} on host {host}"),
            _ => pid,
        }
    }
}

fn hostname() -> Option<String> {
    fs::read_to_string("/proc/sys/kernel/hostname")
        .ok()
        .map(|h| h.trim().to_string())
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
}

/// True when process `pid` exists (Linux: `/proc/PID`). Elsewhere nothing can be told and the
/// process is assumed alive.
pub fn process_running(pid: u32) -> bool {
    if cfg!(target_os = "linux") {
        Path::new("/proc").join(pid.to_string()).exists()
    } else {
        true
    }
}

fn same_file(file: &File, path: &Path) -> bool {
    #[cfg(unix)]
    {
        use std::os::unix::fs::MetadataExt;
        match (file.metadata(), fs::metadata(path)) {
            (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
            _ => false,
        }
    }
    #[cfg(not(unix))]
    {
        let _ = file;
        path.exists()
    }
}

impl DirLock {
    /// Takes the lock of `dir` (created if need be), or fails with a one-line error naming the
    /// directory and the process that holds it. A lock file whose owner is gone is taken over
    /// with a warning on stderr.
    pub fn acquire(dir: &Path) -> Result<Self, TrainError> {
        fs::create_dir_all(dir).map_err(TrainError::io(dir))?;
        let path = dir.join(LOCK_FILE);
        // A few rounds: the owner may remove the file between our open and our flock.
        for _ in 0..20 {
            let mut file = OpenOptions::new()
                .read(true)
                .write(true)
                .create(true)
                .truncate(false)
                .open(&path)
                .map_err(TrainError::io(&path))?;
            let mut text = String::new();
            match file.try_lock() {
                Ok(()) => {}
                Err(fs::TryLockError::WouldBlock) => {
                    let _ = file.read_to_string(&mut text);
                    return Err(held(dir, &LockOwner::parse(&text)));
                }
                Err(fs::TryLockError::Error(e)) if e.kind() == io::ErrorKind::Unsupported => {
                    // No advisory locks on this file system: trust the pid in the file.
                    let _ = file.read_to_string(&mut text);
                    let owner = LockOwner::parse(&text);
                    if let Some(pid) = owner.pid {
                        if pid != std::process::id() && owner.is_local() && process_running(pid) {
                            return Err(held(dir, &owner));
                        }
                    }
                }
                Err(fs::TryLockError::Error(e)) => return Err(TrainError::io(&path)(e)),
            }
            if !same_file(&file, &path) {
                continue;
            }
            text.clear();
            let _ = file.read_to_string(&mut text);
            let owner = LockOwner::parse(&text);
            if owner.pid.is_some() {
                let state = match owner.pid {
                    Some(pid) if owner.is_local() && process_running(pid) => {
                        "which no longer holds it"
                    }
                    _ => "which is no longer running",
                };
                eprintln!(
                    "warning: {}: taking over the lock of {} {state} (an interrupted run)",
                    dir.display(),
                    owner.describe()
                );
            }
            let me = format!(
                "{}\n{}\n",
                std::process::id(),
                hostname().unwrap_or_default()
            );
            let written = file
                .set_len(0)
                .and_then(|_| file.seek(SeekFrom::Start(0)))
                .and_then(|_| file.write_all(me.as_bytes()))
                .and_then(|_| file.flush());
            written.map_err(TrainError::io(&path))?;
            return Ok(Self { path, _file: file });
        }
        Err(TrainError::Zoo {
            path: dir.to_path_buf(),
            what: "cannot take the lock: its file keeps changing; is another process starting on this directory?".into(),
        })
    }

    /// The lock file.
    pub fn path(&self) -> &Path {
        &self.path
    }
}

fn held(dir: &Path, owner: &LockOwner) -> TrainError {
    TrainError::Zoo {
        path: dir.to_path_buf(),
        what: format!(
            "in use by {} (lock file {LOCK_FILE}); wait for it to finish or stop it, or choose another --out",
            owner.describe()
        ),
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while the flock is still held, so nobody locks a file that is going away
        // without noticing (see the same-file check in `acquire`).
        let _ = fs::remove_file(&self.path);
    }
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
    fn second_lock_on_a_directory_is_refused_and_released_on_drop() {
        let dir = tempfile::tempdir().unwrap();
        let first = DirLock::acquire(dir.path()).unwrap();
        let text = fs::read_to_string(first.path()).unwrap();
        assert_eq!(
            text.lines().next(),
            Some(std::process::id().to_string().as_str())
        );
        let err = DirLock::acquire(dir.path()).unwrap_err().to_string();
        assert!(
            err.contains(&format!("process {}", std::process::id())),
            "{err}"
        );
        assert!(err.contains(&dir.path().display().to_string()), "{err}");
        assert!(!err.contains('\n'));
        drop(first);
        assert!(!dir.path().join(LOCK_FILE).exists());
        let again = DirLock::acquire(dir.path()).unwrap();
        drop(again);
    }

    #[test]
    fn stale_lock_of_a_dead_process_is_taken_over() {
        let dir = tempfile::tempdir().unwrap();
        let mut child = std::process::Command::new("true").spawn().unwrap();
        let dead = child.id();
        child.wait().unwrap();
        fs::write(dir.path().join(LOCK_FILE), format!("{dead}\n")).unwrap();
        let lock = DirLock::acquire(dir.path()).unwrap();
        let text = fs::read_to_string(lock.path()).unwrap();
        assert_eq!(text.lines().next().unwrap(), std::process::id().to_string());
        // The stale lock shows in a verification as a leftover, a live one as in use.
        assert!(matches!(
            lock_finding(dir.path()),
            Some(Finding::InUse { pid }) if pid == std::process::id()
        ));
        drop(lock);
        fs::write(dir.path().join(LOCK_FILE), format!("{dead}\n")).unwrap();
        assert!(matches!(
            lock_finding(dir.path()),
            Some(Finding::Leftover { .. })
        ));
    }

    #[test]
    fn temp_files_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        write(dir.path(), "models/.00001.bpk.tmp-77", b"half");
        write(dir.path(), ".logits.npy.tmp-77-0", b"half");
        write(dir.path(), "models/00000.bpk", b"whole");
        assert_eq!(remove_temp_files(dir.path()).unwrap(), 2);
        assert!(dir.path().join("models/00000.bpk").is_file());
        assert_eq!(remove_temp_files(dir.path()).unwrap(), 0);
    }
}
