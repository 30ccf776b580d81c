//! Checks on the database file itself, which SQLite does not make in WAL mode: that the files
//! at the configured path are still the ones the daemon opened, and that they can be written.

use std::ffi::CString;
use std::os::unix::ffi::OsStrExt;
use std::os::unix::fs::MetadataExt;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::{StoreError, UnavailableReason};

/// The database file the daemon opened, and its `-wal` and `-shm` files if they existed then.
#[derive(Debug, Clone)]
pub(crate) struct DatabaseFile {
    database: FileIdentity,
    side_files: Vec<FileIdentity>,
}

/// A file identified by device and inode number.
#[derive(Debug, Clone)]
struct FileIdentity {
    path: PathBuf,
    device: u64,
    inode: u64,
}

impl FileIdentity {
    fn of(path: PathBuf) -> std::io::Result<Self> {
        let metadata = std::fs::metadata(&path)?;
        Ok(Self {
            path,
            device: metadata.dev(),
            inode: metadata.ino(),
        })
    }

    /// Fails with `FileMissing` unless the file at the path is still this one.
    fn check_unchanged(&self) -> Result<(), StoreError> {
        let metadata = match std::fs::metadata(&self.path) {
            Ok(metadata) => metadata,
            Err(error) => return Err(file_error(UnavailableReason::of_io(&error), error)),
        };
        if metadata.dev() == self.device && metadata.ino() == self.inode {
            return Ok(());
        }
        let error = std::io::Error::other(format!(
            "{} is no longer the file the daemon opened (inode {} became {})",
            self.path.display(),
            self.inode,
            metadata.ino()
        ));
        Err(file_error(UnavailableReason::FileMissing, error))
    }
}

impl DatabaseFile {
    /// Records the identity of the database file at `path` and of its `-wal` and `-shm`
    /// files. Call it once the database is open in WAL mode, so that the side files exist.
    pub(crate) fn identify(path: &Path) -> std::io::Result<Self> {
        let database = FileIdentity::of(path.to_path_buf())?;
        let side_files = ["-wal", "-shm"]
            .iter()
            .filter_map(|suffix| {
                let mut side_path = path.as_os_str().to_owned();
                side_path.push(suffix);
                FileIdentity::of(PathBuf::from(side_path)).ok()
            })
            .collect();
        Ok(Self {
            database,
            side_files,
        })
    }

    /// Returns the path of the database file.
    pub(crate) fn path(&self) -> &Path {
        &self.database.path
    }

    /// Fails with `FileMissing` unless the database file and its side files at their paths
    /// are still the ones opened, and with `ReadOnly` unless this process may write the
    /// database file. Costs three `stat` calls and an `access` call.
    ///
    /// An open SQLite connection keeps working on a deleted or replaced file, so without this
    /// check writes would be acknowledged into a file that the next start no longer opens.
    /// SQLite keeps the `-wal` file while any connection is open, and the daemon keeps its
    /// writer connection open for its whole run, so a changed `-wal` file means it was deleted. A
    /// file made read-only stays writable through the open descriptors, but the next start
    /// could not write it, so it is reported while it is still only a warning sign.
    pub(crate) fn check(&self) -> Result<(), StoreError> {
        self.check_unchanged()?;
        let path = &self.database.path;
        writable(path).map_err(|error| file_error(UnavailableReason::of_io(&error), error))
    }

    /// Fails with `FileMissing` unless the database file and its side files at their paths
    /// are still the ones opened. Costs three `stat` calls.
    pub(crate) fn check_unchanged(&self) -> Result<(), StoreError> {
        self.database.check_unchanged()?;
        for side_file in &self.side_files {
            side_file.check_unchanged()?;
        }
        Ok(())
    }

    /// Bytes available to this process on the database's file system, or `None` if they
    /// cannot be read.
    pub(crate) fn available_bytes(&self) -> Option<u64> {
        let folder = self
            .database
            .path
            .parent()
            .filter(|p| !p.as_os_str().is_empty());
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
