//! Crash-safe file writes: a crash leaves either the old file or the new one, never a
//! torn mix. Checkpoints, configs, logs and exported networks all go through here.

use std::ffi::OsString;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `path` via a fresh temporary file in the same directory (a rename is only
/// atomic within one file system), fsynced before the rename; the directory is fsynced after
/// it so the rename itself survives a crash.
pub fn write(path: &Path, bytes: &[u8]) -> io::Result<()> {
    let dir = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    let name = path
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, "the path names no file"))?;
    let (temp_path, temp) = create_temp(dir, name)?;
    let result = fill_and_rename(temp, &temp_path, path, bytes);
    if result.is_err() {
        // Best effort: the original error is the one worth reporting.
        let _ = fs::remove_file(&temp_path);
    }
    result?;
    sync_dir(dir)
}

/// Creates `.<name>.<pid>.<n>.tmp` in `dir`, never reusing an existing file.
fn create_temp(dir: &Path, name: &std::ffi::OsStr) -> io::Result<(PathBuf, File)> {
    let mut last_error = None;
    for _ in 0..100 {
        let mut temp_name = OsString::from(".");
        temp_name.push(name);
        let n = TEMP_COUNTER.fetch_add(1, Ordering::Relaxed);
        temp_name.push(format!(".{}.{n}.tmp", std::process::id()));
        let temp_path = dir.join(temp_name);
        match OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&temp_path)
        {
            Ok(file) => return Ok((temp_path, file)),
            Err(e) if e.kind() == io::ErrorKind::AlreadyExists => last_error = Some(e),
            Err(e) => return Err(e),
        }
    }
    Err(last_error.unwrap_or_else(|| io::Error::other("could not create a temporary file")))
}

fn fill_and_rename(mut temp: File, temp_path: &Path, path: &Path, bytes: &[u8]) -> io::Result<()> {
    temp.write_all(bytes)?;
    temp.sync_all()?;
    drop(temp);
    fs::rename(temp_path, path)
}

#[cfg(unix)]
fn sync_dir(dir: &Path) -> io::Result<()> {
    File::open(dir)?.sync_all()
}

#[cfg(not(unix))]
fn sync_dir(_dir: &Path) -> io::Result<()> {
    Ok(())
}
