//! Writing files so that a failure never leaves a partial or lost file.

use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

use serde::de::DeserializeOwned;
use serde::Serialize;

use crate::error::Error;

/// Saves `value` as JSON at `path`, atomically; an error names the file.
pub(super) fn save_json<T: Serialize>(path: &Path, value: &T) -> Result<(), Error> {
    write_json_atomic(path, value).map_err(|e| Error::File {
        path: path.display().to_string(),
        reason: e.to_string(),
    })
}

/// Reads `path` as the JSON of a `what` (for the error, which names the file).
pub(super) fn load_json<T: DeserializeOwned>(path: &Path, what: &str) -> Result<T, Error> {
    let file_err = |reason: String| Error::File {
        path: path.display().to_string(),
        reason,
    };
    let text = fs::read_to_string(path).map_err(|e| file_err(e.to_string()))?;
    serde_json::from_str(&text).map_err(|e| file_err(format!("not {what}: {e}")))
}

pub(super) fn write_json_atomic<T: Serialize>(path: &Path, value: &T) -> std::io::Result<()> {
    write_atomic(path, |w| {
        serde_json::to_writer(w, value).map_err(std::io::Error::other)
    })
}

/// Writes through a temporary file in the same folder, then renames it into place.
pub(super) fn write_atomic(
    path: &Path,
    write: impl FnOnce(&mut BufWriter<fs::File>) -> std::io::Result<()>,
) -> std::io::Result<()> {
    let tmp = temp_path(path);
    let result = (|| {
        // create_new: never follow a link planted at the temporary name.
        let file = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&tmp)?;
        let mut w = BufWriter::new(file);
        write(&mut w)?;
        w.flush()?;
        w.get_ref().sync_all()?;
        drop(w);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

/// A name for a temporary file beside `path`, unique within this process and across
/// processes (process id and a counter), so concurrent writers never share one.
fn temp_path(path: &Path) -> PathBuf {
    static NEXT: AtomicU64 = AtomicU64::new(0);
    let n = NEXT.fetch_add(1, Ordering::Relaxed);
    let mut name = path.file_name().unwrap_or_default().to_os_string();
    name.push(format!(".tmp-{}-{n}", std::process::id()));
    path.with_file_name(name)
}
