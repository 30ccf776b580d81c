//! The database on a small tmpfs that fills up: writes get 503 "database storage is full",
//! reads keep working, nothing acknowledged is lost, and writes resume once space is freed,
//! without a restart.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Row, SqliteConnection};

use crate::daemon::{account, inspect, stored_fields, Daemon, Options};

/// Size of the file system the database lives on.
const MOUNT_SIZE: &str = "8m";
/// Most creates sent while waiting for the file system to fill.
const MAX_CREATES: usize = 2_000;

/// A tmpfs mounted for one test, unmounted when dropped, even if the test fails.
struct Mount {
    path: PathBuf,
}

impl Mount {
    /// Mounts a tmpfs of `MOUNT_SIZE` at `path`, or explains why it could not.
    fn tmpfs(path: &Path) -> Result<Mount, String> {
        let output = Command::new("mount")
            .args(["-t", "tmpfs", "-o"])
            .arg(format!("size={MOUNT_SIZE},mode=0700"))
            .arg("ztrisk-test")
            .arg(path)
            .output()
            .map_err(|error| format!("cannot run mount: {error}"))?;
        if !output.status.success() {
            return Err(String::from_utf8_lossy(&output.stderr).trim().to_owned());
        }
        Ok(Mount {
            path: path.to_path_buf(),
        })
    }
}

impl Drop for Mount {
    fn drop(&mut self) {
        // Lazy, so a daemon that is still exiting cannot keep the mount busy.
        let _ = Command::new("umount").arg("-l").arg(&self.path).status();
    }
}

/// Writes zeros to `path` until the file system has no space left. Returns the bytes written.
fn fill(path: &Path) -> u64 {
    let mut file = std::fs::File::create(path).expect("filler file");
    let chunk = vec![0u8; 64 * 1024];
    let mut written = 0u64;
    // 8 MiB in 64 KiB chunks is 128 chunks; the bound only stops a runaway loop.
    for _ in 0..10_000 {
        match file.write(&chunk) {
            Ok(0) => break,
            Ok(n) => written += n as u64,
            Err(error) => {
                assert_eq!(error.raw_os_error(), Some(libc::ENOSPC), "filler: {error}");
                break;
            }
        }
    }
    let _ = file.sync_all();
    written
}

/// Returns a create body whose tenant URL is near the 2,048-byte limit, so rows fill pages
/// quickly.
fn large_body(n: usize) -> Value {
    json!({
        "integration_type": "Okta",
        "tenant_url": format!("https://example.okta.com/{}", "a".repeat(2000)),
        "reference_id": format!("row-{n}"),
    })
}

#[tokio::test]
async fn full_disk_rejects_writes_then_recovers() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let mount = match Mount::tmpfs(folder.path()) {
        Ok(mount) => mount,
        Err(reason) => {
            // Written to the stderr handle, not with eprintln!, which the test harness
            // captures and shows only for failed tests.
            let message = format!(
                "SKIPPED full_disk_rejects_writes_then_recovers: cannot mount a tmpfs \
                 ({reason}); run the tests as root to include it\n"
            );
            let _ = std::io::stderr().write_all(message.as_bytes());
            return;
        }
    };
    let database = mount.path.join("ztrisk.db");
    let filler = mount.path.join("filler");
    let daemon = Daemon::start(&database, &Options::default());
    let account = account(4);
    let mut acknowledged = Vec::new();
    for n in 0..5 {
        let created = daemon.create(&account, &large_body(n)).await;
        assert_eq!(created.status, StatusCode::OK, "{}", created.body);
        acknowledged.push(created.body["result"].clone());
    }

    let filled = fill(&filler);
    let mut full = None;
    for n in 5..MAX_CREATES {
        let reply = daemon.create(&account, &large_body(n)).await;
        match reply.status {
            StatusCode::OK => acknowledged.push(reply.body["result"].clone()),
            StatusCode::SERVICE_UNAVAILABLE => {
                full = Some(reply);
                break;
            }
            status => panic!("create {n} answered {status}: {}", reply.body),
        }
    }
    let full = full.expect("a create failed once the file system was full");
    let retried = daemon.create(&account, &large_body(MAX_CREATES)).await;
    let listed_while_full = daemon.list(&account).await;
    let not_ready = daemon.get("/readyz").await;
    std::fs::remove_file(&filler).expect("filler removed");
    let accepted = daemon.create(&account, &large_body(MAX_CREATES + 1)).await;
    let ready = daemon.get("/readyz").await;

    assert!(filled > 0, "the filler wrote nothing");
    full.assert_unavailable("database storage is full", "first failed create");
    retried.assert_unavailable("database storage is full", "create while full");
    assert_eq!(
        listed_while_full.status,
        StatusCode::OK,
        "{}",
        listed_while_full.body
    );
    assert_eq!(listed_while_full.body["result"], json!(acknowledged));
    not_ready.assert_unavailable("database storage is full", "readyz while full");
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    acknowledged.push(accepted.body["result"].clone());
    assert_eq!(
        daemon
            .unavailable_log_lines("database storage is full")
            .await
            .len(),
        1,
        "error log lines for database storage is full (rate-limited to one per 10 s)"
    );
    assert_eq!(
        daemon.log_lines("writes are committing again").await.len(),
        1,
        "recovery log lines"
    );

    daemon.stop();
    let checkpoint = checkpoint_and_truncate(&database).await;
    let file = inspect(&database, true).await;
    assert_eq!(
        checkpoint,
        (0, 0, 0),
        "wal_checkpoint(TRUNCATE) busy, log, checkpointed"
    );
    assert_eq!(file.integrity, "ok");
    let stored: Vec<_> = acknowledged.iter().map(stored_fields).collect();
    let mut rows: Vec<_> = file.rows.into_values().collect();
    rows.sort_by_key(|row| row["created_at"].as_str().unwrap_or_default().to_owned());
    assert_eq!(
        rows, stored,
        "the file holds exactly the acknowledged creates"
    );
    drop(mount);
}

/// Runs `PRAGMA wal_checkpoint(TRUNCATE)` and returns its (busy, log, checkpointed) row.
async fn checkpoint_and_truncate(database: &Path) -> (i64, i64, i64) {
    let options = SqliteConnectOptions::new()
        .filename(database)
        .create_if_missing(false);
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .expect("test opens the database");
    let row = sqlx::query("PRAGMA wal_checkpoint(TRUNCATE)")
        .fetch_one(&mut connection)
        .await
        .expect("checkpoint runs");
    let result = (row.get(0), row.get(1), row.get(2));
    connection.close().await.expect("test closes the database");
    result
}
