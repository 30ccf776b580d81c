//! A database file made read-only, locked by another process, moved or deleted while the
//! daemon runs. Writes get 503 with the reason, reads keep working, and `/readyz` reports it.
//! The log has one line per reason, and writes resume once the cause is fixed, where the open
//! file allows it.

use std::os::unix::fs::PermissionsExt;
use std::path::Path;
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};
use sqlx::{Connection, Executor, SqliteConnection};

use crate::daemon::{account, database_url, folder_for, inspect, is_root, Daemon, Options, Reply};

/// The `nobody` user, under which a test running as root starts the daemon, because root may
/// write a file whatever its permission bits are.
const NOBODY: u32 = 65534;

fn create_body(reference_id: &str) -> Value {
    json!({
        "integration_type": "Okta",
        "tenant_url": "https://example.okta.com",
        "reference_id": reference_id,
    })
}

fn set_mode(path: &Path, mode: u32) {
    std::fs::set_permissions(path, std::fs::Permissions::from_mode(mode)).expect("chmod");
}

#[tokio::test]
async fn read_only_file_rejects_writes_until_fixed() {
    let user = is_root().then_some(NOBODY);
    let folder = folder_for(user);
    let database = folder.path().join("ztrisk.db");
    let options = Options {
        user,
        ..Options::default()
    };
    let daemon = Daemon::start(&database, &options);
    let account = account(1);
    let kept = daemon.create(&account, &create_body("kept")).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);

    set_mode(&database, 0o444);
    let rejected = daemon.create(&account, &create_body("rejected")).await;
    let listed = daemon.list(&account).await;
    let not_ready = daemon.get("/readyz").await;
    set_mode(&database, 0o644);
    let accepted = daemon.create(&account, &create_body("accepted")).await;
    let ready = daemon.get("/readyz").await;

    rejected.assert_unavailable("database is read-only", "create");
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["result"], json!([kept.body["result"]]));
    not_ready.assert_unavailable("database is read-only", "readyz");
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(
        daemon
            .unavailable_log_lines("database file is read-only")
            .await
            .len(),
        1,
        "error log lines for database file is read-only (rate-limited to one per 10 s)"
    );
    assert_eq!(
        daemon.log_lines("writes are committing again").await.len(),
        1,
        "recovery log lines"
    );
    daemon.stop();
    let file = inspect(&database, true).await;
    let references: Vec<_> = file
        .rows
        .values()
        .map(|r| r["reference_id"].clone())
        .collect();
    assert_eq!(references.len(), 2, "{references:?}");
    assert!(!references.contains(&json!("rejected")), "{references:?}");
}

#[tokio::test]
async fn locked_database_rejects_writes_until_released() {
    let folder = folder_for(None);
    let database = folder.path().join("ztrisk.db");
    let options = Options {
        env: vec![("ZTRISK__DATABASE__BUSY_TIMEOUT_MS".into(), "300".into())],
        ..Options::default()
    };
    let daemon = Daemon::start(&database, &options);
    let account = account(2);
    let kept = daemon.create(&account, &create_body("kept")).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);
    let mut holder = SqliteConnection::connect(&database_url(&database))
        .await
        .expect("test opens the database");

    holder.execute("BEGIN EXCLUSIVE").await.expect("lock taken");
    let started = Instant::now();
    let rejected = daemon.create(&account, &create_body("rejected")).await;
    let waited = started.elapsed();
    let listed = daemon.list(&account).await;
    let not_ready = daemon.get("/readyz").await;
    holder.execute("ROLLBACK").await.expect("lock released");
    holder.close().await.expect("test closes the database");
    let accepted = daemon.create(&account, &create_body("accepted")).await;
    let ready = daemon.get("/readyz").await;

    rejected.assert_unavailable("database is locked by another process", "create");
    assert!(waited < Duration::from_secs(3), "create waited {waited:?}");
    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(listed.body["result"], json!([kept.body["result"]]));
    not_ready.assert_unavailable("database is locked by another process", "readyz");
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    assert_eq!(
        daemon
            .unavailable_log_lines("database is locked")
            .await
            .len(),
        1,
        "error log lines for database is locked (rate-limited to one per 10 s)"
    );
    daemon.stop();
}

#[tokio::test]
async fn moved_or_deleted_file_rejects_writes() {
    let folder = folder_for(None);
    let database = folder.path().join("ztrisk.db");
    let moved = folder.path().join("ztrisk.db.moved");
    let mut daemon = Daemon::start(&database, &Options::default());
    let account = account(3);
    let kept = daemon.create(&account, &create_body("kept")).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);

    std::fs::rename(&database, &moved).expect("database moved");
    let rejected_while_moved = daemon.create(&account, &create_body("moved")).await;
    let not_ready_while_moved = daemon.get("/readyz").await;
    std::fs::rename(&moved, &database).expect("database moved back");
    let accepted = daemon.create(&account, &create_body("accepted")).await;
    let ready = daemon.get("/readyz").await;
    std::fs::copy(&database, &moved).expect("database copied");
    std::fs::rename(&moved, &database).expect("database replaced by its copy");
    let rejected_after_replace = daemon.create(&account, &create_body("replaced")).await;
    std::fs::remove_file(&database).expect("database deleted");
    let rejected_after_delete = daemon.create(&account, &create_body("deleted")).await;
    let not_ready_after_delete = daemon.get("/readyz").await;
    let listed = daemon.list(&account).await;
    let health = daemon.get("/healthz").await;

    let missing = "database file is missing or was replaced";
    rejected_while_moved.assert_unavailable(missing, "create while moved");
    not_ready_while_moved.assert_unavailable(missing, "readyz while moved");
    assert_eq!(accepted.status, StatusCode::OK, "{}", accepted.body);
    assert_eq!(ready.status, StatusCode::OK, "{}", ready.body);
    rejected_after_replace.assert_unavailable(missing, "create after replace");
    rejected_after_delete.assert_unavailable(missing, "create after delete");
    not_ready_after_delete.assert_unavailable(missing, "readyz after delete");
    // SQLite may still read the deleted file through its open descriptor, or fail with an I/O
    // error, depending on which connection serves the read.
    if listed.status == StatusCode::OK {
        let expected = json!([kept.body["result"], accepted.body["result"]]);
        assert_eq!(listed.body["result"], expected, "list after delete");
    } else {
        listed.assert_unavailable(missing, "list after delete");
    }
    assert_eq!(health.status, StatusCode::OK, "{}", health.body);
    daemon.assert_running();
    assert_eq!(
        daemon
            .unavailable_log_lines("deleted or replaced")
            .await
            .len(),
        1,
        "error log lines for deleted or replaced (rate-limited to one per 10 s)"
    );
    daemon.stop();
}

#[tokio::test]
async fn writer_recovers_after_failed_transaction() {
    let folder = folder_for(None);
    let database = folder.path().join("ztrisk.db");
    let daemon = Daemon::start(&database, &Options::default());
    let account = account(5);
    let id = "00000000-0000-4000-8000-000000000001";
    let mut connection = SqliteConnection::connect(&database_url(&database))
        .await
        .expect("test opens the database");
    // A created_at that does not parse makes the update's RETURNING row undecodable, which
    // fails the writer's transaction after SQLite has applied the statement.
    sqlx::query(
        "INSERT INTO integrations
             (id, account_tag, reference_id, integration_type, tenant_url, active, created_at)
         VALUES (?1, ?2, 'broken', 'Okta', 'https://example.okta.com', 1, 'not a time')",
    )
    .bind(id)
    .bind(&account)
    .execute(&mut connection)
    .await
    .expect("row inserted");
    connection.close().await.expect("test closes the database");

    let url = format!("{}/{id}", daemon.integrations_url(&account));
    let body = json!({"tenant_url": "https://changed.okta.com", "active": false});
    let update = daemon.client.put(url).json(&body).send().await;
    let update = crate::daemon::Reply::read(update.expect("request sent")).await;
    let created = daemon.create(&account, &create_body("after")).await;

    assert!(update.status.is_server_error(), "update: {}", update.body);
    assert_eq!(
        created.status,
        StatusCode::OK,
        "create after: {}",
        created.body
    );
    daemon.stop();
    let file = inspect(&database, true).await;
    assert_eq!(file.rows[id]["tenant_url"], "https://example.okta.com");
    assert_eq!(file.rows.len(), 2);
}

/// Creates an integration in `account`, deletes the WAL file at `wal`, and returns the
/// response to a second create.
async fn create_after_wal_delete(daemon: &Daemon, wal: &Path, account: &str) -> Reply {
    let kept = daemon.create(account, &create_body("kept")).await;
    assert_eq!(kept.status, StatusCode::OK, "{}", kept.body);

    std::fs::remove_file(wal).expect("WAL file deleted");
    daemon.create(account, &create_body("rejected")).await
}

#[tokio::test]
async fn deleted_wal_file_rejects_writes() {
    let folder = folder_for(None);
    let database = folder.path().join("ztrisk.db");
    let daemon = Daemon::start(&database, &Options::default());
    let [wal, _] = crate::daemon::side_files(&database);

    let rejected = create_after_wal_delete(&daemon, &wal, &account(7)).await;
    let not_ready = daemon.get("/readyz").await;

    let missing = "database file is missing or was replaced";
    rejected.assert_unavailable(missing, "create after WAL delete");
    not_ready.assert_unavailable(missing, "readyz after WAL delete");
    daemon.stop();
}

#[tokio::test]
async fn symlinked_database_is_checked_at_target() {
    let folder = folder_for(None);
    let target = folder.path().join("real").join("ztrisk.db");
    std::fs::create_dir(target.parent().expect("folder")).expect("folder created");
    let link = folder.path().join("ztrisk.db");
    std::os::unix::fs::symlink(&target, &link).expect("symbolic link created");
    let daemon = Daemon::start(&link, &Options::default());
    // SQLite keeps the side files beside the link's target, not beside the link.
    let [wal, _] = crate::daemon::side_files(&target);

    let rejected = create_after_wal_delete(&daemon, &wal, &account(8)).await;

    rejected.assert_unavailable(
        "database file is missing or was replaced",
        "create after WAL delete",
    );
    daemon.stop();
}
