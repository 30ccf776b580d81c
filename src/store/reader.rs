//! Synchronous reads of integrations, run through rusqlite on the calling thread.
//!
//! sqlx runs each SQLite connection on a thread of its own, so every query costs a hand-off to
//! that thread and back, and every row of a list one more. With the daemon on one core that
//! hand-off took longer than the query. The reads are indexed lookups, and in WAL mode a reader
//! does not wait for the writer, so they run on the HTTP worker's own thread instead.

use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use rusqlite::{Connection, OpenFlags, OptionalExtension, Row};

use super::integrations::StoredColumns;
use super::StoreError;
use crate::domain::{AccountTag, Integration, IntegrationId, ReferenceId};

/// Maximum time a read waits for a SQLite lock. It blocks an HTTP worker thread, so it is kept
/// short. In WAL mode a reader waits only while another connection resets or recovers the WAL.
const READ_BUSY_TIMEOUT: Duration = Duration::from_millis(250);

/// Page cache of each read connection, in KiB. Each page it misses is read from the operating
/// system's page cache with one `pread`. At 1,000,000 integrations, random lookups by
/// reference id made 2.4 such reads per lookup with 1 MiB and 1.2 with 8 MiB (the benchmark's
/// database, on 2 vCPUs). A connection fills its cache only as it reads.
const READ_CACHE_KIB: u32 = 8192;

/// The columns every read selects, in the order `stored_columns` reads them.
macro_rules! select_columns {
    () => {
        "SELECT id, account_tag, reference_id, integration_type, tenant_url, active, created_at \
         FROM integrations "
    };
}
const FIND_BY_ID: &str = concat!(select_columns!(), "WHERE id = ?1 AND account_tag = ?2");
const FIND_BY_REFERENCE_ID: &str = concat!(
    select_columns!(),
    "WHERE account_tag = ?1 AND reference_id = ?2"
);
const LIST_FOR_ACCOUNT: &str = concat!(
    select_columns!(),
    "WHERE account_tag = ?1 ORDER BY created_at, id"
);

/// Read-only connections, each opened on its first use. A read takes a free one, so with one
/// HTTP worker thread only one is ever opened.
pub(crate) struct Readers {
    path: PathBuf,
    connections: Box<[Mutex<Option<Connection>>]>,
    next: AtomicUsize,
}

impl Readers {
    /// Prepares `count` connections (at least one) to the database file at `path`.
    pub(crate) fn new(path: PathBuf, count: usize) -> Self {
        Self {
            path,
            connections: (0..count.max(1)).map(|_| Mutex::new(None)).collect(),
            next: AtomicUsize::new(0),
        }
    }

    pub(crate) fn find_by_id(
        &self,
        account_tag: &AccountTag,
        id: &IntegrationId,
    ) -> Result<Option<Integration>, StoreError> {
        let columns = self.read(|connection| {
            let mut statement = connection.prepare_cached(FIND_BY_ID)?;
            let id = id.to_string();
            let parameters = (id.as_str(), account_tag.as_str());
            statement.query_row(parameters, stored_columns).optional()
        })?;
        columns.map(StoredColumns::into_integration).transpose()
    }

    pub(crate) fn find_by_reference_id(
        &self,
        account_tag: &AccountTag,
        reference_id: &ReferenceId,
    ) -> Result<Option<Integration>, StoreError> {
        let columns = self.read(|connection| {
            let mut statement = connection.prepare_cached(FIND_BY_REFERENCE_ID)?;
            let parameters = (account_tag.as_str(), reference_id.as_str());
            statement.query_row(parameters, stored_columns).optional()
        })?;
        columns.map(StoredColumns::into_integration).transpose()
    }

    pub(crate) fn list_for_account(
        &self,
        account_tag: &AccountTag,
    ) -> Result<Vec<Integration>, StoreError> {
        let rows = self.read(|connection| {
            let mut statement = connection.prepare_cached(LIST_FOR_ACCOUNT)?;
            let rows = statement.query_map([account_tag.as_str()], stored_columns)?;
            rows.collect::<Result<Vec<_>, _>>()
        })?;
        rows.into_iter()
            .map(StoredColumns::into_integration)
            .collect()
    }

    /// Runs `read` on a free connection, opening it first if needed. A connection whose read
    /// failed is closed, so the next read opens a new one, which finds a replaced database file.
    fn read<T>(
        &self,
        read: impl FnOnce(&Connection) -> rusqlite::Result<T>,
    ) -> Result<T, StoreError> {
        let mut slot = self.free_connection();
        if slot.is_none() {
            *slot = Some(open(&self.path).map_err(read_failed)?);
        }
        let connection = slot.as_ref().expect("the connection was opened above");
        read(connection).map_err(|error| {
            *slot = None;
            read_failed(error)
        })
    }

    /// Locks a free connection if there is one, else waits for the next one in turn.
    fn free_connection(&self) -> MutexGuard<'_, Option<Connection>> {
        for connection in self.connections.iter() {
            if let Ok(guard) = connection.try_lock() {
                return guard;
            }
        }
        let index = self.next.fetch_add(1, Ordering::Relaxed) % self.connections.len();
        self.connections[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }
}

fn open(path: &Path) -> rusqlite::Result<Connection> {
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(path, flags)?;
    connection.busy_timeout(READ_BUSY_TIMEOUT)?;
    connection.pragma_update(None, "cache_size", format!("-{READ_CACHE_KIB}"))?;
    Ok(connection)
}

fn stored_columns(row: &Row<'_>) -> rusqlite::Result<StoredColumns> {
    Ok(StoredColumns {
        id: row.get(0)?,
        account_tag: row.get(1)?,
        reference_id: row.get(2)?,
        integration_type: row.get(3)?,
        tenant_url: row.get(4)?,
        active: row.get(5)?,
        created_at: row.get(6)?,
    })
}

fn read_failed(error: rusqlite::Error) -> StoreError {
    StoreError::ReadFailed(Arc::new(error))
}
