//! Verification of run directories (`unlearn verify`): what is wrong with one zoo
//! ([`verify_zoo`]) or with every zoo below a directory ([`verify_tree`]).

use super::lock::{LOCK_FILE, LockState, lock_state};
use super::records::{FileRecord, hash_file, is_temp_name, temp_files_in, zoo_artifacts};
use crate::TrainError;
use crate::manifest::Manifest;
use std::collections::{BTreeMap, BTreeSet};
use std::fmt;
use std::fs;
use std::io;
use std::path::{Path, PathBuf};

/// One thing wrong with a run directory.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Finding {
    /// A recorded file is gone.
    Missing {
        /// The file, relative to the zoo or run directory.
        file: String,
    },
    /// A recorded file has another size (cut short or grown).
    Resized {
        /// The file, relative to the zoo or run directory.
        file: String,
        /// What the manifest records.
        recorded: u64,
        /// What was found.
        found: u64,
    },
    /// A recorded file has its size but another content.
    Altered {
        /// The file, relative to the zoo or run directory.
        file: String,
        /// What the manifest records.
        recorded: String,
        /// What was found.
        found: String,
    },
    /// A recorded file cannot be read.
    Unreadable {
        /// The file, relative to the zoo or run directory.
        file: String,
        /// What is wrong, in words.
        what: String,
    },
    /// An artifact the zoo needs has no record in the manifest.
    Unrecorded {
        /// The file, relative to the zoo or run directory.
        file: String,
    },
    /// A temporary file, stray file or stale lock: the trace of an interrupted write.
    Leftover {
        /// The file, relative to the zoo or run directory.
        file: String,
        /// What is wrong, in words.
        what: String,
    },
    /// The zoo was never finished.
    Unfinished {
        /// Models finished.
        done: usize,
        /// Number of models.
        models: usize,
    },
    /// The zoo is finished but its manifest records no files (written by an older unlearn).
    NoRecords,
    /// A live process holds the directory's lock: it is being written right now.
    InUse {
        /// Process id of the holder.
        pid: u32,
    },
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
                "no file records in its manifest (written by an older unlearn); re-run the command that wrote it to record them"
            ),
            Finding::InUse { pid } => write!(f, "being written by process {pid} (lock file)"),
        }
    }
}

/// What [`verify_zoo`] (or [`verify_attribution`]) found in one directory.
#[derive(Debug, Clone)]
pub struct ZooCheck {
    /// The directory.
    pub dir: PathBuf,
    /// `zoo` or `attribution`.
    pub kind: &'static str,
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
        kind: "zoo",
        models,
        files: 0,
        bytes: 0,
        findings: Vec::new(),
    };
    check.findings.extend(lock_finding(dir));
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
        check_records(dir, &manifest.files, &mut check);
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

/// Re-hashes the files `files` records in `dir`, adding what differs to `check`.
fn check_records(dir: &Path, files: &BTreeMap<String, FileRecord>, check: &mut ZooCheck) {
    for (rel, record) in files {
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
            Ok(found) if found.sha256 != record.sha256 => check.findings.push(Finding::Altered {
                file: rel.clone(),
                recorded: record.sha256.clone(),
                found: found.sha256,
            }),
            Ok(_) => {}
        }
    }
}

/// Name of the record file of an attribution directory (`unlearn attribute`, `unlearn merge`,
/// the bench's datamodels).
pub const ATTRIBUTION_FILE: &str = "attribution.json";

/// Name of the record file of a bench report (report.md, report.csv, plots).
pub const REPORT_FILE: &str = "report.json";

/// Re-hashes the files recorded under `files` in `dir/attribution.json` and looks for leftovers
/// of interrupted writes. Fails only when attribution.json cannot be read.
pub fn verify_attribution(dir: &Path) -> Result<ZooCheck, TrainError> {
    verify_recorded(dir, ATTRIBUTION_FILE, "attribution")
}

/// [`verify_attribution`] for the record file `record` of a directory of kind `kind`.
fn verify_recorded(dir: &Path, record: &str, kind: &'static str) -> Result<ZooCheck, TrainError> {
    let path = dir.join(record);
    let unreadable = |what: String| TrainError::Zoo {
        path: path.clone(),
        what,
    };
    let text = fs::read_to_string(&path).map_err(|e| unreadable(e.to_string()))?;
    let info: serde_json::Value =
        serde_json::from_str(&text).map_err(|e| unreadable(format!("corrupt: {e}")))?;
    let mut check = ZooCheck {
        dir: dir.to_path_buf(),
        kind,
        models: info["models"].as_u64().unwrap_or(0) as usize,
        files: 0,
        bytes: 0,
        findings: Vec::new(),
    };
    check.findings.extend(lock_finding(dir));
    match serde_json::from_value::<BTreeMap<String, FileRecord>>(info["files"].clone()) {
        Ok(files) if !files.is_empty() => check_records(dir, &files, &mut check),
        _ => check.findings.push(Finding::NoRecords),
    }
    for path in temp_files_in(dir) {
        let name = path.file_name().unwrap_or_default().to_string_lossy();
        check.findings.push(Finding::Leftover {
            file: name.into_owned(),
            what: "temporary file of an interrupted write".into(),
        });
    }
    Ok(check)
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
    let attribution_dirs: Vec<&PathBuf> = dirs
        .iter()
        .filter(|d| !d.join("manifest.json").is_file() && d.join(ATTRIBUTION_FILE).is_file())
        .collect();
    let report_dirs: Vec<&PathBuf> = dirs
        .iter()
        .filter(|d| d.join(REPORT_FILE).is_file())
        .collect();
    if zoo_dirs.is_empty() && attribution_dirs.is_empty() {
        return Err(TrainError::Zoo {
            path: root.to_path_buf(),
            what: "no zoo or attribution found (no manifest.json or attribution.json in it or below it); give a directory written by `unlearn train`, `forget`, `attribute` or `bench`".into(),
        });
    }
    // A zoo whose manifest cannot be read is one more finding, not the end of the check.
    let zoos = zoo_dirs
        .iter()
        .map(|d| {
            verify_zoo(d).unwrap_or_else(|e| ZooCheck {
                dir: d.to_path_buf(),
                kind: "zoo",
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
        .chain(
            attribution_dirs
                .iter()
                .map(|d| (d, ATTRIBUTION_FILE, "attribution"))
                .chain(report_dirs.iter().map(|d| (d, REPORT_FILE, "report")))
                .map(|(d, record, kind)| {
                    verify_recorded(d, record, kind).unwrap_or_else(|e| ZooCheck {
                        dir: d.to_path_buf(),
                        kind,
                        models: 0,
                        files: 0,
                        bytes: 0,
                        findings: vec![Finding::Unreadable {
                            file: record.into(),
                            what: e.to_string(),
                        }],
                    })
                }),
        )
        .collect::<Vec<_>>();
    let zoos = {
        let mut all = zoos;
        all.sort_by(|a, b| a.dir.cmp(&b.dir));
        all
    };
    // Folders a check already covered.
    let covered: BTreeSet<PathBuf> = zoo_dirs
        .iter()
        .flat_map(|d| [d.to_path_buf(), d.join("models"), d.join("logits")])
        .chain(
            attribution_dirs
                .iter()
                .chain(&report_dirs)
                .map(|d| d.to_path_buf()),
        )
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

/// What the lock file of `dir` says, as a finding: a live process holding it, or a leftover.
fn lock_finding(dir: &Path) -> Option<Finding> {
    Some(match lock_state(dir)? {
        LockState::Held { pid } => Finding::InUse { pid },
        LockState::Stale { owner } => Finding::Leftover {
            file: LOCK_FILE.into(),
            what: format!("lock of {owner}, which is no longer running"),
        },
    })
}
