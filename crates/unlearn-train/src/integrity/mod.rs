//! Integrity of run directories: every artifact of a finished zoo recorded in its manifest with
//! its sha256 and size, their verification (`unlearn verify`), and an exclusive lock that keeps
//! two processes from writing one directory.
//!
//! The lock is the file `DIR/.lock`, holding the pid (and host) of its owner, with an advisory
//! `flock` on it for as long as the owner runs. The kernel drops the `flock` when the owner dies,
//! however it dies, so a lock file left behind by a killed run is recognised as stale without
//! guessing from pids (which the system reuses) and taken over with a warning, and two processes
//! that find the same stale file cannot both take it over.

mod lock;
mod records;
mod verify;

pub use lock::{DirLock, LOCK_FILE, process_running};
pub use records::{
    FileRecord, damaged_models, hash_file, is_temp_name, record_files, record_named,
    remove_temp_files, zoo_artifacts,
};
pub use verify::{
    ATTRIBUTION_FILE, Finding, REPORT_FILE, TreeCheck, ZooCheck, verify_attribution, verify_tree,
    verify_zoo,
};
