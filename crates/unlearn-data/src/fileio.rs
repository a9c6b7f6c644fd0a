//! Small file helpers shared by every writer and loader: atomic writes,
//! whole-file reads with transparent gunzip, and file hashing.

use std::fs::{self, File};
use std::io::{self, BufReader, BufWriter, Read, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest, Sha256};

use crate::error::{DataError, Result};

/// A temporary file next to `path`, named `.NAME.tmp-XXXXXX` (what interrupted-run cleanup
/// looks for), created empty; it is removed when dropped unless [`persist`]ed. Missing parent
/// directories are created.
pub fn temp_path_next_to(path: &Path) -> Result<tempfile::TempPath> {
    let file_name = path
        .file_name()
        .ok_or_else(|| DataError::invalid(format!("{}: not a file path", path.display())))?;
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_path_buf(),
        _ => PathBuf::from("."),
    };
    fs::create_dir_all(&dir).map_err(|e| DataError::io(&dir, "cannot create directory", e))?;
    let prefix = format!(".{}.tmp-", file_name.to_string_lossy());
    let mut builder = tempfile::Builder::new();
    builder.prefix(&prefix);
    // tempfile creates owner-only files (0600), and the rename keeps that mode: ask for 0666 so
    // that the umask decides, as for any file a program writes (0644 under umask 0022, so
    // others on shared cluster storage can read the results).
    #[cfg(unix)]
    builder.permissions(std::os::unix::fs::PermissionsExt::from_mode(0o666));
    builder
        .tempfile_in(&dir)
        .map(tempfile::NamedTempFile::into_temp_path)
        .map_err(|e| DataError::io(&dir, "cannot create a temporary file", e))
}

/// Makes the finished temporary file `tmp` the file `path`, durably: its contents are synced,
/// it is renamed over `path`, then the directory is synced so that the rename itself survives a
/// power loss (otherwise a renamed but empty file could be taken for a finished one).
pub fn persist(tmp: tempfile::TempPath, path: &Path) -> Result<()> {
    File::open(&tmp)
        .and_then(|f| f.sync_all())
        .map_err(|e| DataError::io(path, "cannot sync", e))?;
    tmp.persist(path)
        .map_err(|e| DataError::io(path, "cannot rename into place", e.error))?;
    sync_dir(path)
}

/// Syncs the directory holding `path` (a no-op where directories cannot be opened).
fn sync_dir(path: &Path) -> Result<()> {
    let dir = match path.parent() {
        Some(p) if !p.as_os_str().is_empty() => p,
        _ => Path::new("."),
    };
    #[cfg(unix)]
    File::open(dir)
        .and_then(|d| d.sync_all())
        .map_err(|e| DataError::io(dir, "cannot sync directory", e))?;
    #[cfg(not(unix))]
    let _ = dir;
    Ok(())
}

/// Writes `path` atomically and durably: `write` fills a temporary file in the same directory
/// ([`temp_path_next_to`]), which then replaces `path` through [`persist`]. Readers see either
/// the old file or the complete new one, never a half-written one.
///
/// On any error the temporary file is removed and `path` is left untouched.
pub fn atomic_write<F>(path: impl AsRef<Path>, write: F) -> Result<()>
where
    F: FnOnce(&mut dyn Write) -> io::Result<()>,
{
    let path = path.as_ref();
    let tmp = temp_path_next_to(path)?;
    let written = (|| -> io::Result<()> {
        let mut writer = BufWriter::new(File::create(&tmp)?);
        write(&mut writer)?;
        writer.into_inner().map_err(|e| e.into_error())?;
        Ok(())
    })();
    written.map_err(|e| DataError::io(path, "cannot write", e))?;
    persist(tmp, path)
}

/// [`atomic_write`] of a byte slice.
pub fn atomic_write_bytes(path: impl AsRef<Path>, bytes: &[u8]) -> Result<()> {
    atomic_write(path, |w| w.write_all(bytes))
}

/// SHA-256 of a file's bytes, as lowercase hex.
pub fn sha256_file(path: impl AsRef<Path>) -> Result<String> {
    let path = path.as_ref();
    let file = File::open(path).map_err(|e| DataError::io(path, "cannot open", e))?;
    let mut reader = BufReader::new(file);
    let mut hasher = Sha256::new();
    let mut buf = vec![0u8; 1 << 16];
    loop {
        let n = reader
            .read(&mut buf)
            .map_err(|e| DataError::io(path, "cannot read", e))?;
        if n == 0 {
            break;
        }
        hasher.update(&buf[..n]);
    }
    Ok(hex::encode(hasher.finalize()))
}

/// Reads a whole file, gunzipping it when its name ends in `.gz` or its first
/// two bytes are the gzip magic (downloaded files are often renamed).
pub fn read_maybe_gz(path: impl AsRef<Path>) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let raw = fs::read(path).map_err(|e| DataError::io(path, "cannot read", e))?;
    let named_gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if named_gz || raw.starts_with(&[0x1f, 0x8b]) {
        let mut out = Vec::new();
        flate2::read::MultiGzDecoder::new(&raw[..])
            .read_to_end(&mut out)
            .map_err(|e| {
                DataError::format(
                    path,
                    format!("cannot gunzip ({e}); the file is corrupt or not gzip data"),
                )
            })?;
        Ok(out)
    } else {
        Ok(raw)
    }
}

/// Copies `from` to `to` atomically: the copy appears whole under its name, or not at all.
pub fn atomic_copy(from: impl AsRef<Path>, to: impl AsRef<Path>) -> Result<()> {
    let from = from.as_ref();
    let mut source = File::open(from).map_err(|e| DataError::io(from, "cannot read", e))?;
    atomic_write(to, |w| io::copy(&mut source, w).map(|_| ()))
}

/// Bytes past what a header declares that are still read, so trailing garbage is reported with
/// its exact size when small.
const TRAILING_SLACK: usize = 1 << 16;

/// [`read_maybe_gz`] for a format whose first `header_len` bytes declare how many data bytes
/// follow (`data_len`, `None` when the header is unusable): decompression stops after the
/// declared size (plus a little, to detect trailing bytes), so a corrupt or hostile `.gz` cannot
/// expand beyond what its header claims.
pub fn read_maybe_gz_bounded(
    path: impl AsRef<Path>,
    header_len: usize,
    data_len: impl Fn(&[u8]) -> Option<usize>,
) -> Result<Vec<u8>> {
    let path = path.as_ref();
    let raw = fs::read(path).map_err(|e| DataError::io(path, "cannot read", e))?;
    let named_gz = path
        .extension()
        .is_some_and(|e| e.eq_ignore_ascii_case("gz"));
    if !named_gz && !raw.starts_with(&[0x1f, 0x8b]) {
        return Ok(raw);
    }
    let corrupt = |e: std::io::Error| {
        DataError::format(
            path,
            format!("cannot gunzip ({e}); the file is corrupt or not gzip data"),
        )
    };
    let mut decoder = flate2::read::MultiGzDecoder::new(&raw[..]);
    let mut out = Vec::new();
    (&mut decoder)
        .take(header_len as u64)
        .read_to_end(&mut out)
        .map_err(corrupt)?;
    let rest = data_len(&out).map_or(0, |n| n.saturating_add(TRAILING_SLACK));
    (&mut decoder)
        .take(rest as u64)
        .read_to_end(&mut out)
        .map_err(corrupt)?;
    Ok(out)
}
