//! Atomic file writes: write to a temporary name in the destination directory, flush to disk,
//! then rename over the destination, so readers never see a half-written file.

use std::fs::{self, File};
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{EvalError, Result};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// A temporary path next to `dest`, unique within this process, ending in `suffix`
/// (e.g. `.tmp`, or `.tmp.png` where a writer picks its format from the extension).
pub(crate) fn temp_path_for(dest: &Path, suffix: &str) -> PathBuf {
    let name = dest
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let n = COUNTER.fetch_add(1, Ordering::Relaxed);
    let tmp_name = format!(".{name}.{}.{n}{suffix}", std::process::id());
    match dest.parent() {
        Some(dir) if !dir.as_os_str().is_empty() => dir.join(tmp_name),
        _ => PathBuf::from(tmp_name),
    }
}

fn io_err(path: &Path, source: std::io::Error) -> EvalError {
    EvalError::Io {
        path: path.to_path_buf(),
        source,
    }
}

/// Renames `tmp` onto `dest`, removing `tmp` if that fails.
pub(crate) fn commit(tmp: &Path, dest: &Path) -> Result<()> {
    fs::rename(tmp, dest).map_err(|e| {
        let _ = fs::remove_file(tmp);
        io_err(dest, e)
    })
}

/// Writes `bytes` to `path` atomically (temporary file in the same directory, `fsync`, rename).
/// Missing parent directories are created. On error the temporary file is removed.
pub fn atomic_write(path: &Path, bytes: &[u8]) -> Result<()> {
    if let Some(dir) = path.parent().filter(|d| !d.as_os_str().is_empty()) {
        fs::create_dir_all(dir).map_err(|e| io_err(dir, e))?;
    }
    let tmp = temp_path_for(path, ".tmp");
    let written = (|| -> std::io::Result<()> {
        let mut f = File::create(&tmp)?;
        f.write_all(bytes)?;
        f.sync_all()
    })();
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(io_err(path, e));
    }
    commit(&tmp, path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_and_replaces_without_leftovers() {
        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("out.txt");
        atomic_write(&p, b"first").unwrap();
        atomic_write(&p, b"second").unwrap();
        assert_eq!(fs::read(&p).unwrap(), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .unwrap()
            .map(|e| e.unwrap().file_name())
            .collect();
        assert_eq!(names, vec![std::ffi::OsString::from("out.txt")]);
        atomic_write(&dir.path().join("new/out.txt"), b"x").unwrap();
        assert_eq!(fs::read(dir.path().join("new/out.txt")).unwrap(), b"x");
        // A directory where the file should go cannot be replaced.
        assert!(atomic_write(dir.path(), b"x").is_err());
    }
}
