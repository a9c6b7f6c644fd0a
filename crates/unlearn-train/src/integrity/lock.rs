//! The exclusive lock of a run directory ([`DirLock`], the file [`LOCK_FILE`] with an advisory
//! `flock`), and what a lock file left behind says to a verification.

use crate::TrainError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::path::{Path, PathBuf};

/// Name of the lock file inside a run directory.
pub const LOCK_FILE: &str = ".lock";

/// Exclusive hold on a run directory; dropping it removes the lock file.
#[derive(Debug)]
pub struct DirLock {
    /// Set when the lock was taken over from an interrupted run: what to tell the user.
    pub taken_over: Option<String>,
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
                    if let Some(pid) = owner.pid
                        && pid != std::process::id()
                        && owner.is_local()
                        && process_running(pid)
                    {
                        return Err(held(dir, &owner));
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
            let mut taken_over = None;
            if owner.pid.is_some() {
                let state = match owner.pid {
                    Some(pid) if owner.is_local() && process_running(pid) => {
                        "which no longer holds it"
                    }
                    _ => "which is no longer running",
                };
                taken_over = Some(format!(
                    "{}: taking over the lock of {} {state} (an interrupted run)",
                    dir.display(),
                    owner.describe()
                ));
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
            return Ok(Self {
                taken_over,
                path,
                _file: file,
            });
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
    TrainError::LockHeld {
        dir: dir.to_path_buf(),
        holder: owner.describe(),
        lock_file: LOCK_FILE,
    }
}

impl Drop for DirLock {
    fn drop(&mut self) {
        // Removed while the flock is still held, so nobody locks a file that is going away
        // without noticing (see the same-file check in `acquire`).
        let _ = fs::remove_file(&self.path);
    }
}

/// A lock file left in a directory.
#[derive(Debug, PartialEq)]
pub(super) enum LockState {
    /// Held by a process of this machine that still runs.
    Held {
        /// That process.
        pid: u32,
    },
    /// Left by a process that no longer runs (or of another machine).
    Stale {
        /// Whose it was, in words.
        owner: String,
    },
}

/// What the lock file of `dir` says, if there is one.
pub(super) fn lock_state(dir: &Path) -> Option<LockState> {
    let text = fs::read_to_string(dir.join(LOCK_FILE)).ok()?;
    let owner = LockOwner::parse(&text);
    Some(match owner.pid {
        Some(pid) if owner.is_local() && process_running(pid) => LockState::Held { pid },
        _ => LockState::Stale {
            owner: owner.describe(),
        },
    })
}

#[cfg(test)]
mod tests {
    use super::*;

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
        assert_eq!(
            lock_state(dir.path()),
            Some(LockState::Held {
                pid: std::process::id()
            })
        );
        drop(lock);
        fs::write(dir.path().join(LOCK_FILE), format!("{dead}\n")).unwrap();
        assert!(matches!(
            lock_state(dir.path()),
            Some(LockState::Stale { .. })
        ));
    }
}
