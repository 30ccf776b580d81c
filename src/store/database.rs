use std::path::Path;
use std::str::FromStr;
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Connection;

use super::file_guard::DatabaseFile;
use super::reader::Readers;
use super::writer::{Writer, WriterContext};
use super::{IntegrationStore, StoreError, TokenStore, UnavailableReason};
use crate::config::{DatabaseSettings, Settings, Synchronous};

/// The schema migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// WAL pages after which the writer checkpoints inside a commit. The background checkpoint
/// normally keeps the WAL far below this; it is only a bound if that task falls behind.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// Maximum time a readiness check waits for the writer, which may be busy with queued writes.
const READY_PROBE_TIMEOUT: Duration = Duration::from_secs(2);

/// Free bytes on the database's file system below which a database that last failed to write
/// for lack of space is still reported full. An estimate: a few hundred small writes.
const MIN_AVAILABLE_BYTES: u64 = 1024 * 1024;

/// An open database: the read pool and the writer task, ready to serve.
pub struct Database {
    pub integrations: IntegrationStore,
    pub tokens: TokenStore,
    readers: SqlitePool,
    writer: Writer,
    file: DatabaseFile,
}

impl Database {
    /// Returns the database file's path with symbolic links resolved, as SQLite opened it.
    pub fn path(&self) -> &Path {
        self.file.path()
    }

    /// Checks, for readiness probes, what a write needs. The file at the configured path must
    /// still be the one opened and be writable, a read query must succeed, and the writer
    /// must start a transaction within `READY_PROBE_TIMEOUT`. If the last write failed for
    /// lack of space, that space must have been freed since.
    pub async fn check_ready(&self) -> Result<(), StoreError> {
        self.file.check()?;
        sqlx::query("SELECT 1").execute(&self.readers).await?;
        match tokio::time::timeout(READY_PROBE_TIMEOUT, self.writer.probe()).await {
            Ok(outcome) => outcome?,
            Err(_) => {
                return Err(StoreError::Unavailable {
                    reason: UnavailableReason::Other,
                    cause: Arc::new(std::io::Error::other(format!(
                        "the writer did not respond to a readiness probe within {} s",
                        READY_PROBE_TIMEOUT.as_secs()
                    ))),
                })
            }
        }
        let full = self.writer.health().failing_reason() == Some(UnavailableReason::StorageFull);
        let available = self.file.available_bytes();
        if full && available.is_some_and(|bytes| bytes < MIN_AVAILABLE_BYTES) {
            return Err(StoreError::Unavailable {
                reason: UnavailableReason::StorageFull,
                cause: Arc::new(std::io::Error::other(format!(
                    "the last write failed for lack of space and only {} bytes are free",
                    available.unwrap_or_default()
                ))),
            });
        }
        Ok(())
    }

    /// Closes the read pool. The writer closes its connection when the last store handle is
    /// dropped.
    pub async fn close(&self) {
        self.readers.close().await;
    }
}

/// Opens the database named in `settings`, creating the file and its folder if needed,
/// applies or checks migrations, and starts the writer.
pub async fn open(settings: &Settings) -> anyhow::Result<Database> {
    let database = &settings.database;
    let options = connect_options(settings)?;

    // NOTE: SQLite opens a file it may not write read-only without an error, and the
    // connection stays read-only after the file becomes writable, so writes then fail with
    // 503 until the daemon restarts.
    let mut writer_connection = SqliteConnection::connect_with(&writer_options(&options, database))
        .await
        .with_context(|| format!("failed to open database {}", database.url))?;
    if database.migrate_on_start {
        run_migrations(&mut writer_connection).await?;
    } else {
        check_migrations(&mut writer_connection).await?;
    }

    let readers = SqlitePoolOptions::new()
        .max_connections(database.pool_size)
        .min_connections(1)
        .test_before_acquire(false)
        .acquire_timeout(Duration::from_secs(10))
        .connect_with(options.clone().read_only(true))
        .await
        .with_context(|| format!("failed to open read connections to {}", database.url))?;
    let path = settings
        .database_path()
        .context("database.url names no file")?;
    // SQLite follows symbolic links and keeps the `-wal` and `-shm` files beside the target,
    // so the file checks and the readers use the resolved path too.
    let path = std::fs::canonicalize(&path)
        .with_context(|| format!("failed to resolve the path {}", path.display()))?;
    let file = DatabaseFile::identify(&path)
        .with_context(|| format!("failed to read the status of {}", path.display()))?;
    let context = WriterContext {
        options,
        file: file.clone(),
        busy_timeout_ms: database.busy_timeout_ms,
    };
    let writer = Writer::start(writer_connection, context);
    let max_per_account = settings.integrations.max_per_account;
    Ok(Database {
        integrations: IntegrationStore::new(
            Arc::new(Readers::new(path, database.pool_size as usize)),
            writer.clone(),
            file.clone(),
            max_per_account,
        ),
        tokens: TokenStore::new(readers.clone(), writer.clone()),
        readers,
        writer,
        file,
    })
}

/// Applies pending migrations to the database named in `settings`, creating it if needed.
/// Returns the versions applied.
pub async fn migrate(settings: &Settings) -> anyhow::Result<Vec<i64>> {
    let options = connect_options(settings)?;
    let mut connection =
        SqliteConnection::connect_with(&writer_options(&options, &settings.database))
            .await
            .with_context(|| format!("failed to open database {}", settings.database.url))?;
    let before = applied_versions(&mut connection).await?;
    run_migrations(&mut connection).await?;
    let after = applied_versions(&mut connection).await?;
    connection.close().await?;
    Ok(after.into_iter().filter(|v| !before.contains(v)).collect())
}

/// Opens one connection to the database named in `settings`, for a command that runs beside
/// the daemon, and applies or checks migrations as `serve` does. Its writes wait up to
/// `database.busy_timeout_ms` for the daemon's writer.
pub async fn open_connection(settings: &Settings) -> anyhow::Result<SqliteConnection> {
    let options = connect_options(settings)?;
    let database = &settings.database;
    let mut connection = SqliteConnection::connect_with(&writer_options(&options, database))
        .await
        .with_context(|| format!("failed to open database {}", database.url))?;
    if database.migrate_on_start {
        run_migrations(&mut connection).await?;
    } else {
        check_migrations(&mut connection).await?;
    }
    Ok(connection)
}

fn connect_options(settings: &Settings) -> anyhow::Result<SqliteConnectOptions> {
    let database = &settings.database;
    if let Some(folder) = settings.database_path().as_deref().and_then(Path::parent) {
        if !folder.as_os_str().is_empty() {
            std::fs::create_dir_all(folder)
                .with_context(|| format!("failed to create folder {}", folder.display()))?;
        }
    }
    let options = SqliteConnectOptions::from_str(&database.url)
        .with_context(|| format!("invalid database.url {}", database.url))?
        .create_if_missing(true)
        .foreign_keys(true)
        .busy_timeout(Duration::from_millis(database.busy_timeout_ms))
        .statement_cache_capacity(32);
    Ok(options)
}

fn writer_options(
    base: &SqliteConnectOptions,
    database: &DatabaseSettings,
) -> SqliteConnectOptions {
    let synchronous = match database.synchronous {
        Synchronous::Full => SqliteSynchronous::Full,
        Synchronous::Normal => SqliteSynchronous::Normal,
    };
    base.clone()
        .journal_mode(SqliteJournalMode::Wal)
        .synchronous(synchronous)
        .pragma("wal_autocheckpoint", WAL_AUTOCHECKPOINT_PAGES.to_string())
}

async fn run_migrations(connection: &mut SqliteConnection) -> anyhow::Result<()> {
    MIGRATOR
        .run(&mut *connection)
        .await
        .map_err(|error| match error {
            sqlx::migrate::MigrateError::VersionMissing(version) => anyhow::anyhow!(
                "the database has migration {version}, which this ztrisk does not know; \
             it was written by a newer version, so upgrade ztrisk to use it"
            ),
            other => anyhow::Error::new(other).context("failed to apply database migrations"),
        })
}

/// Fails unless the database has exactly the migrations this build knows.
async fn check_migrations(connection: &mut SqliteConnection) -> anyhow::Result<()> {
    let applied = applied_versions(connection).await?;
    if let Some(unknown) = applied
        .iter()
        .find(|v| MIGRATOR.iter().all(|m| m.version != **v))
    {
        anyhow::bail!(
            "the database has migration {unknown}, which this ztrisk does not know; \
             it was written by a newer version, so upgrade ztrisk to use it"
        );
    }
    let pending = MIGRATOR
        .iter()
        .filter(|m| !applied.contains(&m.version))
        .count();
    if pending > 0 {
        anyhow::bail!(
            "the database needs {pending} migration(s) and database.migrate_on_start is false; \
             run `ztrisk migrate` first"
        );
    }
    Ok(())
}

async fn applied_versions(connection: &mut SqliteConnection) -> anyhow::Result<Vec<i64>> {
    connection
        .ensure_migrations_table()
        .await
        .context("failed to create the migrations table")?;
    let applied = connection
        .list_applied_migrations()
        .await
        .context("failed to read applied migrations")?;
    Ok(applied.into_iter().map(|m| m.version).collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn writer_connection_uses_wal_and_full_sync() {
        let folder = tempfile::tempdir().expect("temporary folder");
        let mut settings = Settings::defaults();
        let path = folder.path().join("ztrisk.db");
        settings.database.url = format!("sqlite://{}", path.display());
        let options = connect_options(&settings).expect("connect options");

        let writer = writer_options(&options, &settings.database);
        let mut connection = SqliteConnection::connect_with(&writer)
            .await
            .expect("writer connects");
        let synchronous: i64 = sqlx::query_scalar("PRAGMA synchronous")
            .fetch_one(&mut connection)
            .await
            .expect("synchronous is read");
        let journal_mode: String = sqlx::query_scalar("PRAGMA journal_mode")
            .fetch_one(&mut connection)
            .await
            .expect("journal_mode is read");

        // SQLite reports synchronous as a number: 0 OFF, 1 NORMAL, 2 FULL, 3 EXTRA.
        assert_eq!(synchronous, 2, "PRAGMA synchronous");
        assert_eq!(journal_mode, "wal", "PRAGMA journal_mode");
    }
}
