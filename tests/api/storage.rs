use std::path::{Path, PathBuf};
use std::process::Command;

use reqwest::StatusCode;
use serde_json::json;
use sqlx::{Connection, Row, SqliteConnection};
use ztrisk::config::Settings;

use crate::helpers::{account, create_body, spawn_app, start_in};

/// Finds the sqlx-cli binary that `scripts/test` installs, or `None` outside CI if missing.
fn sqlx_cli() -> Option<PathBuf> {
    let path = std::env::var_os("ZTRISK_SQLX_CLI")
        .map(PathBuf::from)
        .unwrap_or_else(|| Path::new(env!("CARGO_MANIFEST_DIR")).join(".tools/bin/sqlx"));
    if path.exists() {
        return Some(path);
    }
    assert!(
        std::env::var_os("CI").is_none(),
        "sqlx-cli not found at {}; run ./scripts/test, which installs it",
        path.display()
    );
    eprintln!(
        "skipped: sqlx-cli not found at {}; ./scripts/test installs it",
        path.display()
    );
    None
}

/// Creates the database at `path` and applies `migrations/` with sqlx-cli.
fn run_sqlx_cli(sqlx: &Path, path: &Path) {
    let url = format!("sqlite://{}", path.display());
    let migrations = Path::new(env!("CARGO_MANIFEST_DIR")).join("migrations");
    let steps: [&[&std::ffi::OsStr]; 2] = [
        &["database".as_ref(), "create".as_ref()],
        &[
            "migrate".as_ref(),
            "run".as_ref(),
            "--source".as_ref(),
            migrations.as_ref(),
        ],
    ];
    for step in steps {
        let output = Command::new(sqlx)
            .args(step)
            .args(["--database-url", &url])
            .output()
            .expect("sqlx-cli runs");
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert!(output.status.success(), "sqlx {step:?} failed: {stderr}");
    }
}

async fn connect(path: &Path) -> SqliteConnection {
    SqliteConnection::connect(&format!("sqlite://{}", path.display()))
        .await
        .expect("database opens")
}

/// The schema objects and migration records that both migration tools must agree on.
async fn schema_and_migrations(path: &Path) -> (Vec<String>, Vec<String>) {
    let mut connection = connect(path).await;
    let schema = sqlx::query(
        "SELECT type || ' ' || name || ': ' || COALESCE(sql, '') FROM sqlite_schema
         WHERE name NOT LIKE 'sqlite_%' ORDER BY type, name",
    )
    .fetch_all(&mut connection)
    .await
    .expect("schema read");
    let migrations = sqlx::query(
        "SELECT version || ' ' || description || ' ' || success || ' ' || hex(checksum)
         FROM _sqlx_migrations ORDER BY version",
    )
    .fetch_all(&mut connection)
    .await
    .expect("migrations read");
    let texts = |rows: Vec<sqlx::sqlite::SqliteRow>| {
        rows.iter()
            .map(|row| row.get::<String, _>(0))
            .collect::<Vec<_>>()
    };
    (texts(schema), texts(migrations))
}

fn settings_for(path: &Path) -> Settings {
    let mut settings = Settings::defaults();
    settings.database.url = format!("sqlite://{}", path.display());
    settings
}

#[tokio::test]
async fn sqlx_cli_migrations_match_daemon() {
    let Some(sqlx) = sqlx_cli() else { return };
    let folder = tempfile::tempdir().expect("temporary folder");
    let by_cli = folder.path().join("cli.db");
    let by_daemon = folder.path().join("daemon.db");

    run_sqlx_cli(&sqlx, &by_cli);
    ztrisk::store::migrate(&settings_for(&by_daemon))
        .await
        .expect("ztrisk migrate succeeds");

    let cli = schema_and_migrations(&by_cli).await;
    let daemon = schema_and_migrations(&by_daemon).await;

    assert!(!cli.1.is_empty(), "sqlx-cli recorded no migrations");
    assert_eq!(cli.0, daemon.0, "schemas differ");
    assert_eq!(cli.1, daemon.1, "migration records differ");
}

#[tokio::test]
async fn daemon_serves_sqlx_cli_database() {
    let Some(sqlx) = sqlx_cli() else { return };
    let folder = tempfile::tempdir().expect("temporary folder");
    run_sqlx_cli(&sqlx, &folder.path().join("ztrisk.db"));

    let app = start_in(folder, |s| s.database.migrate_on_start = false, |_| {}).await;
    let created = app.create(&account(1), &create_body("r")).await;

    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
}

#[tokio::test]
async fn migrate_twice_applies_nothing_new() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let settings = settings_for(&folder.path().join("ztrisk.db"));

    let first = ztrisk::store::migrate(&settings)
        .await
        .expect("first migrate");
    let second = ztrisk::store::migrate(&settings)
        .await
        .expect("second migrate");

    assert_eq!(first.len(), ztrisk::store::MIGRATOR.iter().count());
    assert!(second.is_empty(), "{second:?}");
}

#[tokio::test]
async fn newer_database_is_refused() {
    let app = spawn_app().await;
    let folder = app.stop().await;
    let path = folder.path().join("ztrisk.db");
    let mut connection = connect(&path).await;
    sqlx::query(
        "INSERT INTO _sqlx_migrations (version, description, success, checksum, execution_time)
         VALUES (99991231000000, 'from the future', TRUE, x'00', 0)",
    )
    .execute(&mut connection)
    .await
    .expect("future migration recorded");
    connection.close().await.expect("closed");

    for migrate_on_start in [true, false] {
        let mut settings = settings_for(&path);
        settings.server.port = 0;
        settings.database.migrate_on_start = migrate_on_start;

        let outcome = ztrisk::startup::Application::build(settings).await;

        let error = format!("{:#}", outcome.err().expect("start is refused"));
        assert!(error.contains("99991231000000"), "{error}");
        assert!(error.contains("newer"), "{error}");
    }
}

#[tokio::test]
async fn pending_migrations_refused_without_migrate_on_start() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let mut settings = settings_for(&folder.path().join("ztrisk.db"));
    settings.server.port = 0;
    settings.database.migrate_on_start = false;

    let outcome = ztrisk::startup::Application::build(settings).await;

    let error = format!("{:#}", outcome.err().expect("start is refused"));
    assert!(error.contains("ztrisk migrate"), "{error}");
}

#[tokio::test]
async fn database_uses_wal_journal() {
    let app = spawn_app().await;
    app.create_ok(&account(1), &create_body("r")).await;
    let mut connection = connect(&app.database_path()).await;

    let journal: String = sqlx::query_scalar("PRAGMA journal_mode")
        .fetch_one(&mut connection)
        .await
        .expect("journal mode read");
    let integrity: String = sqlx::query_scalar("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .expect("integrity check runs");

    assert_eq!(journal, "wal");
    assert_eq!(integrity, "ok");
}

#[tokio::test]
async fn every_write_survives_restart() {
    let app = spawn_app().await;
    let kept = app.create_ok(&account(1), &create_body("kept")).await;
    let changed = app.create_ok(&account(1), &create_body("changed")).await;
    let removed = app.create_ok(&account(2), &create_body("removed")).await;
    let changed_id = changed["id"].as_str().expect("id");
    let update = json!({"tenant_url": "https://new.okta.com", "active": false});
    let updated = app.update(&account(1), changed_id, &update).await.body["result"].clone();
    app.delete(&account(2), removed["id"].as_str().expect("id"))
        .await;

    let folder = app.stop().await;
    let restarted = start_in(folder, |_| {}, |_| {}).await;

    assert_eq!(
        restarted.list(&account(1)).await.body["result"],
        json!([kept, updated])
    );
    assert_eq!(restarted.list(&account(2)).await.body["result"], json!([]));
}
