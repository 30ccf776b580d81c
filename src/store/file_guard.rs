//! Checks on the database file itself, which SQLite does not make in WAL mode: that the file
//! at the configured path is still the one the daemon opened, and that it can be written.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{StoreError, UnavailableReason};

/// The database file the daemon opened, identified by device and inode number.
#[derive(Debug, Clone)]
pub(crate) struct DatabaseFile {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl DatabaseFile {
    /// Records the identity of the file now at `path`; call it right after opening the
    /// database.
    pub(crate) fn identify(path: &Path) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(path)?;
        Ok(Self {
            path: path.to_path_buf(),
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    /// Fails with `FileMissing` unless the file at the path is still the one opened, and with
    /// `ReadOnly` unless this process may write it. Costs a `stat` and an `access` call.
    ///
    /// An open SQLite connection keeps working on a deleted or replaced file, so without this
    /// check writes would be acknowledged into a file that the next start no longer opens. A
    /// file made read-only stays writable through the open descriptors, but the next start
    /// could not write it, so it is reported while it is still only a warning sign.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) => return Err(file_error(UnavailableReason::of_io(&error), error)),
        };
        if metadata.dev() != self.device || metadata.ino() != self.inode {
            let error = std::io::Error::other(format!(
                "{} is no longer the file the daemon opened (inode {} became {})",
                self.path.display(),
                self.inode,
                metadata.ino()
            ));
            return Err(file_error(UnavailableReason::FileMissing, error));
        }
        writable(&self.path).map_err(|error| file_error(UnavailableReason::of_io(&error), error))
    }

    /// Bytes available to this process on the database's file system, or `None` if they
    /// cannot be read.
    pub(crate) fn available_bytes(&self) -> Option<u64> {
        let folder = self.path.parent().filter(|p| !p.as_os_str().is_empty());
        let path = c_path(folder.unwrap_or(Path::new(".")))?;
        // SAFETY: `path` is a NUL-terminated string and `stats` a writable statvfs.
        let mut stats: libc::statvfs = unsafe { std::mem::zeroed() };
        let status = unsafe { libc::statvfs(path.as_ptr(), &mut stats) };
        if status != 0 {
            return None;
        }
        Some(stats.f_bavail as u64 * stats.f_frsize as u64)
    }
}

/// Asks the kernel whether this process may write `path`, without opening it. Opening and
/// closing the database file here would release the POSIX locks SQLite holds on it.
fn writable(path: &Path) -> std::io::Result<()> {
    let path = c_path(path).ok_or_else(|| std::io::Error::other("path contains a NUL byte"))?;
    // SAFETY: `path` is a NUL-terminated string.
    if unsafe { libc::access(path.as_ptr(), libc::W_OK) } == 0 {
        Ok(())
    } else {
        Err(std::io::Error::last_os_error())
    }
}

fn c_path(path: &Path) -> Option<CString> {
    CString::new(path.as_os_str().as_bytes()).ok()
}

fn file_error(reason: UnavailableReason, error: std::io::Error) -> StoreError {
    StoreError::Unavailable {
        reason,
        cause: Arc::new(error),
    }
}
