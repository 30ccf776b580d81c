//! The `ztrisk token` commands, run as the built binary against the database of a daemon
//! that is serving at the same time.

use std::path::Path;
use std::process::{Command, Output};

use reqwest::StatusCode;

use crate::helpers::{account, spawn_app, TestApp};

const BINARY: &str = env!("CARGO_BIN_EXE_ztrisk");

/// Runs `ztrisk token {args}` against the app's database, from a folder without settings.
/// Runs `ztrisk token ARGS` on the test daemon's database, on a blocking thread. The
/// daemon's writer task shares this test's runtime, so blocking it would stall any
/// transaction the writer has open, holding SQLite's write lock until the command gives up.
async fn token_command(app: &TestApp, args: &[&str]) -> Output {
    let database = app.database_path();
    let folder = app.folder.path().to_owned();
    let args: Vec<String> = args.iter().map(|arg| arg.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        token_command_on(&database, &folder, &args)
    })
    .await
    .expect("command thread joins")
}

fn token_command_on(database: &Path, folder: &Path, args: &[&str]) -> Output {
    Command::new(BINARY)
        .current_dir(folder)
        .env_remove("ZTRISK_CONFIG")
        .env(
            "ZTRISK__DATABASE__URL",
            format!("sqlite://{}", database.display()),
        )
        .arg("token")
        .args(args)
        .output()
        .expect("ztrisk runs")
}

fn stdout(output: &Output) -> String {
    String::from_utf8_lossy(&output.stdout).into_owned()
}

fn stderr(output: &Output) -> String {
    String::from_utf8_lossy(&output.stderr).into_owned()
}

/// Returns the id in the "created API token {id} ..." line of `token create`.
fn created_id(output: &Output) -> String {
    let text = stderr(output);
    let rest = text
        .split("created API token ")
        .nth(1)
        .unwrap_or_else(|| panic!("no created line: {text}"));
    rest.split_whitespace().next().expect("id").to_owned()
}

#[tokio::test]
async fn create_prints_secret_only_on_stdout() {
    let app = spawn_app().await;
    let account = account(1);

    let output = token_command(
        &app,
        &[
            "create",
            "--name",
            "ci-reader",
            "--account",
            &account,
            "--read-only",
            "--expires-in",
            "30d",
        ],
    )
    .await;

    assert!(output.status.success(), "{}", stderr(&output));
    let secret = stdout(&output);
    let secret = secret.trim_end();
    assert_eq!(secret.lines().count(), 1, "stdout: {secret}");
    assert!(secret.starts_with("ztk_"), "stdout: {secret}");
    assert_eq!(secret.len(), 47);
    let described = stderr(&output);
    assert!(described.contains("read access to"), "{described}");
    assert!(described.contains(&account), "{described}");
    assert!(described.contains("shown only this once"), "{described}");
    assert!(!described.contains(secret), "stderr shows the secret");
}

#[tokio::test]
async fn list_shows_tokens_without_secrets() {
    let app = spawn_app().await;
    let created = token_command(&app, &["create", "--name", "deploy", "--all-accounts"]).await;
    let id = created_id(&created);
    let secret = stdout(&created).trim_end().to_owned();

    let listed = token_command(&app, &["list"]).await;

    assert!(listed.status.success(), "{}", stderr(&listed));
    let table = stdout(&listed);
    let header = table.lines().next().unwrap_or_default();
    assert!(header.starts_with("ID"), "{table}");
    let row = table
        .lines()
        .find(|line| line.starts_with(&id))
        .unwrap_or_else(|| panic!("no row for {id}: {table}"));
    for expected in ["deploy", "edit", "active", "all accounts"] {
        assert!(row.contains(expected), "{expected} missing: {row}");
    }
    assert!(table.contains(&app.token_id), "{table}");
    assert!(!table.contains(&secret), "list shows a secret");
    assert!(!table.contains(&app.token), "list shows a secret");
}

#[tokio::test]
async fn created_token_works_at_once() {
    let app = spawn_app().await;
    let account = account(1);
    let created = token_command(
        &app,
        &[
            "create",
            "--name",
            "reader",
            "--account",
            &account,
            "--read-only",
        ],
    )
    .await;
    let secret = stdout(&created).trim_end().to_owned();

    let own = app.with_token(&secret).list(&account).await;
    let other = app
        .with_token(&secret)
        .list(&crate::helpers::account(2))
        .await;

    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
    other.assert_error(StatusCode::FORBIDDEN, 9109);
}

#[tokio::test]
async fn revoke_applies_on_next_request() {
    let app = spawn_app().await;
    let account = account(1);
    let created = token_command(&app, &["create", "--name", "ci", "--all-accounts"]).await;
    let id = created_id(&created);
    let secret = stdout(&created).trim_end().to_owned();
    let before = app.with_token(&secret).list(&account).await;

    let revoked = token_command(&app, &["revoke", &id]).await;
    let after = app.with_token(&secret).list(&account).await;
    let listed = token_command(&app, &["list"]).await;

    assert_eq!(before.status, StatusCode::OK, "{}", before.body);
    assert!(revoked.status.success(), "{}", stderr(&revoked));
    assert!(stderr(&revoked).contains(&format!("revoked API token {id}")));
    after.assert_error(StatusCode::UNAUTHORIZED, 10000);
    let table = stdout(&listed);
    let row = table.lines().find(|line| line.starts_with(&id));
    assert!(row.is_some_and(|row| row.contains("revoked")), "{table}");
    let others = app.list(&account).await;
    assert_eq!(others.status, StatusCode::OK, "other tokens keep working");
}

#[tokio::test]
async fn revoke_twice_reports_earlier_revocation() {
    let app = spawn_app().await;
    let created = token_command(&app, &["create", "--name", "ci", "--all-accounts"]).await;
    let id = created_id(&created);
    token_command(&app, &["revoke", &id]).await;

    let again = token_command(&app, &["revoke", &id]).await;

    assert!(again.status.success(), "{}", stderr(&again));
    assert!(
        stderr(&again).contains("already revoked"),
        "{}",
        stderr(&again)
    );
}

#[tokio::test]
async fn revoke_rejects_unknown_and_malformed_ids() {
    let app = spawn_app().await;
    let unknown = "0".repeat(32);

    let missing = token_command(&app, &["revoke", &unknown]).await;
    let malformed = token_command(&app, &["revoke", "not-an-id"]).await;

    assert_eq!(missing.status.code(), Some(1), "{}", stderr(&missing));
    assert!(
        stderr(&missing).contains("no API token has id"),
        "{}",
        stderr(&missing)
    );
    assert_eq!(malformed.status.code(), Some(1), "{}", stderr(&malformed));
    assert!(
        stderr(&malformed).contains("invalid token id"),
        "{}",
        stderr(&malformed)
    );
}

#[test]
fn create_rejects_invalid_arguments() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let database = folder.path().join("ztrisk.db");
    let cases: [(&str, &[&str], &str); 6] = [
        ("no scope", &["--name", "x"], "--account"),
        (
            "both scopes",
            &[
                "--name",
                "x",
                "--all-accounts",
                "--account",
                &"a".repeat(32),
            ],
            "cannot be used with",
        ),
        (
            "bad account",
            &["--name", "x", "--account", "xyz"],
            "32 hexadecimal",
        ),
        (
            "bad duration",
            &["--name", "x", "--all-accounts", "--expires-in", "2w"],
            "90m, 12h or 30d",
        ),
        (
            "zero duration",
            &["--name", "x", "--all-accounts", "--expires-in", "0d"],
            "from 1s",
        ),
        ("blank name", &["--name", " ", "--all-accounts"], "--name"),
    ];

    for (label, args, expected) in cases {
        let mut all_args = vec!["create"];
        all_args.extend_from_slice(args);

        let output = token_command_on(&database, folder.path(), &all_args);

        assert!(!output.status.success(), "{label} succeeded");
        assert!(
            stdout(&output).is_empty(),
            "{label}: printed {}",
            stdout(&output)
        );
        let message = stderr(&output);
        assert!(message.contains(expected), "{label}: {message}");
    }
}
