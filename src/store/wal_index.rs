//! A test of whether any connection, in any process, committed to the database since an
//! earlier moment, made without starting a SQLite transaction.
//!
//! In WAL mode SQLite keeps the WAL-index header at the start of the `<database>-shm` file,
//! and every commit rewrites it with a larger change counter (`iChange`), a new frame count
//! and new checksums. Two reads of the header that return the same bytes therefore enclose no
//! commit. The layout is SQLite's documented shared-memory format
//! (<https://www.sqlite.org/walformat.html>), which every SQLite version that opens the same
//! database has to share: two copies of a 48-byte header, the second written first.
//!
//! Reading the header is one `pread` of 96 bytes, where a transaction takes two `fcntl` locks
//! on the `-shm` file and runs a statement.

use std::fs::File;
use std::mem::ManuallyDrop;
use std::os::unix::fs::FileExt;
use std::path::Path;

/// Size of one copy of the WAL-index header (`WalIndexHdr` in SQLite's source).
const HEADER_LEN: usize = 48;

/// Offset of `isInit`, which is 1 once a connection has written the header.
const IS_INIT_OFFSET: usize = 12;

/// The WAL-index header as last written by a commit.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WalIndexHeader([u8; HEADER_LEN]);

/// Reads the WAL-index header of one database.
pub struct WalIndex {
    /// The `-shm` file, open for the life of the process (see `WalIndex::open`).
    file: Option<ManuallyDrop<File>>,
}

impl WalIndex {
    /// Opens the `-shm` file of the database at `database`. Call it once the database is open
    /// in WAL mode, so that the file exists; without it every header read returns `None`.
    ///
    /// The file is never closed, not even on drop. Closing any descriptor of a file releases
    /// every POSIX lock that the process holds on it, SQLite's included. Without SQLite's
    /// locks, the next process that opens the database truncates the `-shm` file, and this
    /// process, which has it mapped, dies of SIGBUS.
    pub fn open(database: &Path) -> Self {
        let mut path = database.as_os_str().to_owned();
        path.push("-shm");
        Self {
            file: File::open(path).ok().map(ManuallyDrop::new),
        }
    }

    /// Returns the header, or `None` when it cannot be trusted: the `-shm` file cannot be
    /// read, no connection has written the header yet, or a commit is writing it now (the
    /// two copies differ). A caller treats `None` as "the database may have changed".
    pub fn header(&self) -> Option<WalIndexHeader> {
        let file = self.file.as_ref()?;
        let mut bytes = [0u8; 2 * HEADER_LEN];
        file.read_exact_at(&mut bytes, 0).ok()?;
        let (first, second) = bytes.split_at(HEADER_LEN);
        if first != second || first[IS_INIT_OFFSET] != 1 {
            return None;
        }
        Some(WalIndexHeader(first.try_into().ok()?))
    }
}

#[cfg(test)]
mod tests {
    use std::path::PathBuf;

    use rusqlite::Connection;

    use super::*;

    fn database(folder: &Path) -> (PathBuf, Connection) {
        let path = folder.join("test.db");
        let connection = Connection::open(&path).expect("database opens");
        connection
            .pragma_update(None, "journal_mode", "wal")
            .expect("WAL mode");
        connection
            .execute("CREATE TABLE counter (value INTEGER NOT NULL)", [])
            .expect("table created");
        (path, connection)
    }

    #[test]
    fn header_is_stable_without_commits() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let (path, connection) = database(folder.path());
        let index = WalIndex::open(&path);

        let first = index.header();
        let read: i64 = connection
            .query_row("SELECT count(*) FROM counter", [], |row| row.get(0))
            .expect("read");
        let second = index.header();

        assert!(first.is_some());
        assert_eq!(read, 0);
        assert_eq!(first, second);
    }

    #[test]
    fn header_changes_on_every_commit() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let (path, _connection) = database(folder.path());
        let index = WalIndex::open(&path);
        let other = Connection::open(&path).expect("second connection opens");

        let mut headers = vec![index.header()];
        for value in 0..5 {
            other
                .execute("INSERT INTO counter (value) VALUES (?1)", [value])
                .expect("insert");
            headers.push(index.header());
        }
        other
            .pragma_update(None, "wal_checkpoint", "TRUNCATE")
            .expect("checkpoint");
        other
            .execute("INSERT INTO counter (value) VALUES (5)", [])
            .expect("insert after checkpoint");
        headers.push(index.header());

        assert!(headers.iter().all(Option::is_some), "{headers:?}");
        for (index, header) in headers.iter().enumerate() {
            let repeats = headers.iter().filter(|other| *other == header).count();
            assert_eq!(repeats, 1, "header {index} repeats an earlier one");
        }
    }

    #[test]
    fn header_is_none_without_shared_memory_file() {
        let folder = tempfile::tempdir().expect("temporary folder");

        let header = WalIndex::open(&folder.path().join("missing.db")).header();

        assert_eq!(header, None);
    }

    #[test]
    fn header_is_none_while_copies_differ() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let path = folder.path().join("torn.db");
        let mut bytes = vec![0u8; 2 * HEADER_LEN];
        bytes[IS_INIT_OFFSET] = 1;
        bytes[HEADER_LEN + IS_INIT_OFFSET] = 1;
        bytes[HEADER_LEN + 8] = 7;
        std::fs::write(folder.path().join("torn.db-shm"), &bytes).expect("file written");

        let header = WalIndex::open(&path).header();

        assert_eq!(header, None);
    }

    /// Returns the lock type that another process would find on byte `offset` of `path`:
    /// `F_UNLCK` when no process holds a lock there. The probe uses an open file description
    /// lock, which detects this process's POSIX locks, and leaks its descriptor, because closing
    /// it would release them.
    fn lock_on(path: &Path, offset: i64) -> i32 {
        use std::os::fd::IntoRawFd;

        let file = File::open(path).expect("file opens");
        let fd = file.into_raw_fd();
        // SAFETY: `flock` is plain data, for which all zeros is a valid value.
        let mut lock: libc::flock = unsafe { std::mem::zeroed() };
        lock.l_type = libc::F_WRLCK as libc::c_short;
        lock.l_whence = libc::SEEK_SET as libc::c_short;
        lock.l_start = offset;
        lock.l_len = 1;
        // SAFETY: `fd` is open and `lock` is a valid `flock` that outlives the call.
        let result = unsafe { libc::fcntl(fd, libc::F_OFD_GETLK, &mut lock) };
        assert_eq!(result, 0, "{}", std::io::Error::last_os_error());
        i32::from(lock.l_type)
    }

    #[test]
    fn drop_keeps_sqlite_locks() {
        // SQLite's unix VFS holds a shared lock on byte 128 of the `-shm` file while any
        // connection of the process uses it, and takes it exclusively only when it is alone.
        const DEAD_MAN_SWITCH: i64 = 128;
        let folder = tempfile::tempdir().expect("temporary folder");
        let (path, _connection) = database(folder.path());
        let shared_memory = folder.path().join("test.db-shm");

        let before = lock_on(&shared_memory, DEAD_MAN_SWITCH);
        {
            let _index = WalIndex::open(&path);
        }
        let after = lock_on(&shared_memory, DEAD_MAN_SWITCH);

        assert_eq!(before, libc::F_RDLCK);
        assert_eq!(
            after,
            libc::F_RDLCK,
            "dropping the index released SQLite's lock"
        );
    }
}
