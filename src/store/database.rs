use std::path::Path;
use std::str::FromStr;
use std::time::Duration;

use anyhow::Context;
use sqlx::migrate::{Migrate, Migrator};
use sqlx::sqlite::{
    SqliteConnectOptions, SqliteConnection, SqliteJournalMode, SqlitePool, SqlitePoolOptions,
    SqliteSynchronous,
};
use sqlx::Connection;

use super::writer::Writer;
use super::{IntegrationStore, TokenStore};
use crate::config::{DatabaseSettings, Settings, Synchronous};

/// The schema migrations in `migrations/`, compiled into the binary.
pub static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// WAL pages after which the writer checkpoints inside a commit. The background checkpoint
/// normally keeps the WAL far below this; it is only a bound if that task falls behind.
const WAL_AUTOCHECKPOINT_PAGES: u32 = 16_384;

/// An open database: the read pool and the writer task, ready to serve.
pub struct Database {
    pub integrations: IntegrationStore,
    pub tokens: TokenStore,
    readers: SqlitePool,
}

impl Database {
    /// Checks that the database answers a query, for readiness probes.
    pub async fn ping(&self) -> Result<(), sqlx::Error> {
        sqlx::query("SELECT 1")
            .execute(&self.readers)
            .await
            .map(|_| ())
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
    let writer = Writer::start(writer_connection, options);
    let max_per_account = settings.integrations.max_per_account;
    Ok(Database {
        integrations: IntegrationStore::new(readers.clone(), writer.clone(), max_per_account),
        tokens: TokenStore::new(readers.clone(), writer),
        readers,
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
