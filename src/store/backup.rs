//! `ztrisk backup`: a consistent copy of the database, taken while the daemon serves, and
//! put in place atomically.

use std::fs::File;
use std::path::{Path, PathBuf};
use std::str::FromStr;
use std::time::Duration;

use anyhow::{bail, Context};
use sqlx::sqlite::{SqliteConnectOptions, SqliteConnection};
use sqlx::{Connection, Row};

use crate::config::Settings;

/// The outcome of a finished backup: its path, size and number of integrations.
#[derive(Debug)]
pub struct BackupSummary {
    pub path: PathBuf,
    pub bytes: u64,
    pub integrations: i64,
}

/// Writes a copy of the database named in `settings` to `target`.
///
/// `VACUUM INTO` copies one read transaction's snapshot, so the copy is consistent while the
/// daemon keeps writing, and it contains every write committed before the backup started. The
/// copy is written to a temporary file in the target's folder, checked with
/// `PRAGMA integrity_check`, flushed to disk, and only then moved to `target`. The folder is
/// flushed after the move. Fails if `target` exists, unless `replace` is set.
pub async fn backup(
    settings: &Settings,
    target: &Path,
    replace: bool,
) -> anyhow::Result<BackupSummary> {
    let source = settings
        .database_path()
        .context("database.url names no file")?;
    if !source.is_file() {
        bail!(
            "database file {} does not exist; check database.url",
            source.display()
        );
    }
    if !replace && target.symlink_metadata().is_ok() {
        bail!(
            "{} already exists; choose another path or pass --force to replace it",
            target.display()
        );
    }
    let name = target
        .file_name()
        .with_context(|| format!("{} does not name a file", target.display()))?;
    let folder = match target.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    let partial = PartialFile(folder.join(format!(
        ".{}.{}.partial",
        name.to_string_lossy(),
        std::process::id()
    )));
    let _ = std::fs::remove_file(&partial.0);

    copy_database(settings, &partial.0).await?;
    // The copy contains everything the database does, API token hashes included, so it gets the
    // database file's permissions instead of the umask's.
    let permissions = std::fs::metadata(&source)?.permissions();
    std::fs::set_permissions(&partial.0, permissions)
        .with_context(|| format!("failed to set the permissions of {}", partial.0.display()))?;
    let integrations = check_copy(&partial.0).await?;
    let file = File::open(&partial.0)
        .with_context(|| format!("failed to open {}", partial.0.display()))?;
    file.sync_all()
        .with_context(|| format!("failed to flush {} to disk", partial.0.display()))?;
    let bytes = file.metadata()?.len();
    drop(file);

    move_into_place(&partial.0, target, replace)?;
    File::open(folder)
        .and_then(|folder| folder.sync_all())
        .with_context(|| format!("failed to flush folder {} to disk", folder.display()))?;
    Ok(BackupSummary {
        path: target.to_path_buf(),
        bytes,
        integrations,
    })
}

/// Runs `VACUUM INTO` from a read-only connection to the live database.
async fn copy_database(settings: &Settings, partial: &Path) -> anyhow::Result<()> {
    let database = &settings.database;
    let options = SqliteConnectOptions::from_str(&database.url)
        .with_context(|| format!("invalid database.url {}", database.url))?
        .read_only(true)
        .create_if_missing(false)
        .busy_timeout(Duration::from_millis(database.busy_timeout_ms));
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("failed to open database {}", database.url))?;
    let partial_text = partial
        .to_str()
        .with_context(|| format!("{} is not valid UTF-8", partial.display()))?;
    let copied = sqlx::query("VACUUM INTO ?1")
        .bind(partial_text)
        .execute(&mut connection)
        .await
        .with_context(|| format!("failed to copy the database to {}", partial.display()));
    let _ = connection.close().await;
    copied.map(|_| ())
}

/// Checks the copy's integrity and returns how many integrations it holds.
async fn check_copy(partial: &Path) -> anyhow::Result<i64> {
    let options = SqliteConnectOptions::new()
        .filename(partial)
        .read_only(true)
        .create_if_missing(false);
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .with_context(|| format!("failed to open the copy {}", partial.display()))?;
    let verdict: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await?
        .try_get(0)?;
    if verdict != "ok" {
        bail!("the copy failed its integrity check: {verdict}");
    }
    let integrations: i64 = sqlx::query("SELECT COUNT(*) FROM integrations")
        .fetch_one(&mut connection)
        .await?
        .try_get(0)?;
    connection.close().await?;
    Ok(integrations)
}

/// Moves the finished copy to `target`. Without `replace`, a hard link puts it in place only
/// if `target` does not exist, even when another process creates `target` meanwhile.
fn move_into_place(partial: &Path, target: &Path, replace: bool) -> anyhow::Result<()> {
    if replace {
        return std::fs::rename(partial, target)
            .with_context(|| format!("failed to move the copy to {}", target.display()));
    }
    match std::fs::hard_link(partial, target) {
        Ok(()) => {
            std::fs::remove_file(partial)?;
            Ok(())
        }
        Err(error) if error.kind() == std::io::ErrorKind::AlreadyExists => bail!(
            "{} already exists; choose another path or pass --force to replace it",
            target.display()
        ),
        Err(error) => {
            Err(error).with_context(|| format!("failed to move the copy to {}", target.display()))
        }
    }
}

/// A temporary file that is removed when dropped, unless it was moved away.
struct PartialFile(PathBuf);

impl Drop for PartialFile {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.0);
    }
}
