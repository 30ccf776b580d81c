//! Why the database cannot serve a request: classifying SQLite and file system failures by
//! their result code, and logging each kind of failure at a bounded rate.

use std::fmt;
use std::sync::Mutex;
use std::time::{Duration, Instant};

/// The kind of condition that keeps the database from serving requests. Each kind has its own
/// message for clients and its own log stream.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum UnavailableReason {
    /// The file system has no space left (`SQLITE_FULL`, `ENOSPC`).
    StorageFull,
    /// The database file cannot be written (`SQLITE_READONLY`, `EROFS`, file permissions).
    ReadOnly,
    /// Another process holds the database lock past the busy timeout (`SQLITE_BUSY`,
    /// `SQLITE_LOCKED`).
    Locked,
    /// The database file was deleted, or replaced by another file, while the daemon had it
    /// open. Writes would go to the old file and be lost when the daemon restarts.
    FileMissing,
    /// Any other failure: I/O errors, corruption, a stopped writer.
    Other,
}

const REASONS: [UnavailableReason; 5] = [
    UnavailableReason::StorageFull,
    UnavailableReason::ReadOnly,
    UnavailableReason::Locked,
    UnavailableReason::FileMissing,
    UnavailableReason::Other,
];

// Primary SQLite result codes, as defined in sqlite3.h (and libsqlite3-sys). An extended code
// carries its primary code in the low 8 bits.
const SQLITE_BUSY: i32 = 5;
const SQLITE_LOCKED: i32 = 6;
const SQLITE_READONLY: i32 = 8;
const SQLITE_FULL: i32 = 13;

// Linux errno values that SQLite passes through as I/O errors.
const ENOSPC: i32 = 28;
const EROFS: i32 = 30;

impl UnavailableReason {
    /// Classifies a failed database call by the SQLite result code or the OS error number,
    /// never by message text.
    pub fn of(error: &sqlx::Error) -> Self {
        match error {
            sqlx::Error::Database(database_error) => {
                let code = database_error
                    .code()
                    .and_then(|code| code.parse::<i32>().ok());
                code.map_or(Self::Other, Self::of_code)
            }
            sqlx::Error::Io(io_error) => Self::of_io(io_error),
            _ => Self::Other,
        }
    }

    /// Classifies a failed rusqlite call by the SQLite result code, as `of` does for sqlx.
    pub fn of_rusqlite(error: &rusqlite::Error) -> Self {
        match error {
            rusqlite::Error::SqliteFailure(failure, _) => Self::of_code(failure.extended_code),
            _ => Self::Other,
        }
    }

    fn of_code(code: i32) -> Self {
        match code & 0xff {
            SQLITE_FULL => Self::StorageFull,
            SQLITE_READONLY => Self::ReadOnly,
            SQLITE_BUSY | SQLITE_LOCKED => Self::Locked,
            _ => Self::Other,
        }
    }

    /// Classifies a failed file system call by its OS error number.
    pub fn of_io(error: &std::io::Error) -> Self {
        match error.raw_os_error() {
            Some(ENOSPC) => Self::StorageFull,
            Some(EROFS) => Self::ReadOnly,
            _ if error.kind() == std::io::ErrorKind::PermissionDenied => Self::ReadOnly,
            _ if error.kind() == std::io::ErrorKind::NotFound => Self::FileMissing,
            _ => Self::Other,
        }
    }

    fn index(self) -> usize {
        REASONS
            .iter()
            .position(|reason| *reason == self)
            .expect("every reason is listed")
    }
}

impl fmt::Display for UnavailableReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            Self::StorageFull => "database storage is full",
            Self::ReadOnly => "database file is read-only",
            Self::Locked => "database is locked by another process",
            Self::FileMissing => "database file was deleted or replaced while the daemon ran",
            Self::Other => "database unavailable",
        })
    }
}

/// Shortest time between two log lines for the same reason.
const LOG_INTERVAL: Duration = Duration::from_secs(10);

/// When each reason was last logged and how many failures were not logged since.
static LOGGED: Mutex<[(Option<Instant>, u64); 5]> = Mutex::new([(None, 0); 5]);

/// Logs a failure at `error` level, at most once per `LOG_INTERVAL` for each reason. The line
/// that ends a quiet interval counts the failures that were not logged during it.
pub fn log_unavailable(reason: UnavailableReason, causes: &str) {
    let suppressed = {
        let mut logged = LOGGED
            .lock()
            .unwrap_or_else(|poisoned| poisoned.into_inner());
        let (last, suppressed) = &mut logged[reason.index()];
        let now = Instant::now();
        if last.is_some_and(|last| now.duration_since(last) < LOG_INTERVAL) {
            *suppressed += 1;
            return;
        }
        *last = Some(now);
        std::mem::take(suppressed)
    };
    tracing::error!(
        reason = %reason,
        causes = %causes,
        not_logged_since_last = suppressed,
        "request failed because the database is unavailable"
    );
}

#[cfg(test)]
mod tests {
    use sqlx::sqlite::SqliteConnectOptions;
    use sqlx::{Connection, Executor, SqliteConnection};

    use super::*;

    async fn connect(path: &std::path::Path, read_only: bool) -> SqliteConnection {
        let options = SqliteConnectOptions::new()
            .filename(path)
            .create_if_missing(true)
            .read_only(read_only)
            .busy_timeout(Duration::ZERO);
        SqliteConnection::connect_with(&options)
            .await
            .expect("connects")
    }

    #[tokio::test]
    async fn sqlite_errors_classify_by_code() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("classify.db");
        let mut writer = connect(&path, false).await;
        writer
            .execute("PRAGMA journal_mode = WAL; CREATE TABLE t (x)")
            .await
            .expect("schema");
        let mut reader = connect(&path, true).await;
        let mut other = connect(&path, false).await;

        let read_only = reader.execute("INSERT INTO t VALUES (1)").await;
        writer.execute("BEGIN IMMEDIATE").await.expect("lock taken");
        let locked = other.execute("BEGIN IMMEDIATE").await;
        let syntax = other.execute("SELEC 1").await;

        let reason = |outcome: Result<_, sqlx::Error>| UnavailableReason::of(&outcome.unwrap_err());
        assert_eq!(reason(read_only), UnavailableReason::ReadOnly);
        assert_eq!(reason(locked), UnavailableReason::Locked);
        assert_eq!(reason(syntax), UnavailableReason::Other);
    }

    #[test]
    fn io_errors_classify_by_errno() {
        let cases = [
            (ENOSPC, UnavailableReason::StorageFull),
            (EROFS, UnavailableReason::ReadOnly),
            (13, UnavailableReason::ReadOnly),
            (2, UnavailableReason::FileMissing),
            (5, UnavailableReason::Other),
        ];
        for (errno, expected) in cases {
            let error = std::io::Error::from_raw_os_error(errno);

            let reason = UnavailableReason::of_io(&error);

            assert_eq!(reason, expected, "errno {errno}");
        }
    }
}
