//! `ztrisk backup` while the daemon serves writes, and a restore that follows the README:
//! stop the daemon, replace the database file with the backup, start it again.

use std::path::Path;
use std::process::{Command, Output};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::daemon::{
    account, database_url, inspect, side_files, stored_fields, Daemon, Options, BINARY,
};

/// Client tasks creating integrations while the backup runs.
const WRITERS: usize = 3;

/// Integration limit of the test account: the maximum the daemon allows. The writers
/// create until the backup has finished, so on a fast machine the default of 1,000 would
/// reject their creates with 400.
const ACCOUNT_LIMIT: usize = 100_000;

/// Runs `ztrisk backup` on `database` with `arguments`, off the async runtime.
async fn run_backup(database: &Path, arguments: &[&str]) -> Output {
    let url = database_url(database);
    let arguments: Vec<String> = arguments.iter().map(|a| a.to_string()).collect();
    tokio::task::spawn_blocking(move || {
        Command::new(BINARY)
            .arg("backup")
            .args(arguments)
            .env_remove("ZTRISK_CONFIG")
            .env("ZTRISK__DATABASE__URL", url)
            .output()
            .expect("ztrisk backup runs")
    })
    .await
    .expect("backup task")
}

/// Creates integrations until `stop` is set, pushing each acknowledged one to `acknowledged`.
async fn create_until(
    client: reqwest::Client,
    url: String,
    writer: usize,
    stop: Arc<AtomicBool>,
    acknowledged: Arc<Mutex<Vec<Value>>>,
) {
    // The bound only stops a runaway loop, since `stop` ends it within a second or two. It
    // keeps the writers together under the account's limit.
    for n in 0..ACCOUNT_LIMIT / WRITERS {
        if stop.load(Ordering::Relaxed) {
            return;
        }
        let body = json!({
            "integration_type": "Okta",
            "tenant_url": format!("https://w{writer}-{n}.okta.com"),
            "reference_id": format!("w{writer}-{n}"),
        });
        let response = client.post(&url).json(&body).send().await.expect("sent");
        assert_eq!(response.status(), StatusCode::OK, "create w{writer}-{n}");
        let reply: Value = response.json().await.expect("JSON reply");
        acknowledged.lock().unwrap().push(reply["result"].clone());
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_under_writes_restores_exactly() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let database = folder.path().join("ztrisk.db");
    let target = folder.path().join("backup.db");
    let options = Options {
        env: vec![(
            "ZTRISK__INTEGRATIONS__MAX_PER_ACCOUNT".into(),
            ACCOUNT_LIMIT.to_string(),
        )],
        ..Options::default()
    };
    let daemon = Daemon::start(&database, &options);
    // Private, unlike SQLite's default of 0644, so the test can check that the backup copies the mode.
    use std::os::unix::fs::PermissionsExt;
    let private = std::fs::Permissions::from_mode(0o600);
    std::fs::set_permissions(&database, private).expect("chmod database");
    let account = account(6);
    let stop = Arc::new(AtomicBool::new(false));
    let acknowledged = Arc::new(Mutex::new(Vec::new()));
    let writers: Vec<_> = (0..WRITERS)
        .map(|writer| {
            tokio::spawn(create_until(
                daemon.client.clone(),
                daemon.integrations_url(&account),
                writer,
                Arc::clone(&stop),
                Arc::clone(&acknowledged),
            ))
        })
        .collect();
    tokio::time::sleep(Duration::from_millis(300)).await;

    let before_backup = acknowledged.lock().unwrap().clone();
    let backed_up = run_backup(&database, &[target.to_str().expect("UTF-8 path")]).await;
    tokio::time::sleep(Duration::from_millis(100)).await;
    stop.store(true, Ordering::Relaxed);
    for writer in writers {
        writer.await.expect("writer task");
    }
    let all: Vec<Value> = acknowledged.lock().unwrap().clone();
    let copy = inspect(&target, true).await;

    assert!(backed_up.status.success(), "backup failed: {backed_up:?}");
    let stdout = String::from_utf8_lossy(&backed_up.stdout);
    assert!(stdout.contains("backed up"), "stdout: {stdout}");
    assert_eq!(copy.integrity, "ok");
    assert!(
        copy.unique_index_present,
        "unique index missing from the copy"
    );
    assert!(
        copy.duplicates.is_empty(),
        "duplicates {:?}",
        copy.duplicates
    );
    for view in &before_backup {
        let id = view["id"].as_str().expect("id");
        assert_eq!(
            copy.rows.get(id),
            Some(&stored_fields(view)),
            "integration {id}, acknowledged before the backup began, is not in it as answered"
        );
    }
    for (id, row) in &copy.rows {
        let answered = all.iter().find(|view| view["id"] == json!(id));
        assert_eq!(
            answered.map(stored_fields).as_ref(),
            Some(row),
            "backup row {id} is not an acknowledged write"
        );
    }
    assert!(
        all.len() > before_backup.len(),
        "writes did not continue during the backup"
    );
    let mode = |path: &Path| {
        std::fs::metadata(path)
            .expect("metadata")
            .permissions()
            .mode()
            & 0o777
    };
    let backup_mode = mode(&target);
    assert_eq!(backup_mode, 0o600, "backup permissions are {backup_mode:o}");
    let partials: Vec<_> = std::fs::read_dir(folder.path())
        .expect("folder listing")
        .filter_map(|entry| entry.ok())
        .filter(|entry| entry.file_name().to_string_lossy().contains(".partial"))
        .collect();
    assert!(partials.is_empty(), "temporary files left: {partials:?}");

    // A second backup to the same path fails and leaves the first in place.
    let first_bytes = std::fs::read(&target).expect("backup file");
    let rejected = run_backup(&database, &[target.to_str().expect("UTF-8 path")]).await;
    let stderr = String::from_utf8_lossy(&rejected.stderr);
    assert!(!rejected.status.success(), "backup overwrote {target:?}");
    assert!(stderr.contains("already exists"), "stderr: {stderr}");
    assert!(stderr.contains("--force"), "stderr: {stderr}");
    assert_eq!(std::fs::read(&target).expect("backup file"), first_bytes);
    let restored_from = folder.path().join("restore-me.db");
    std::fs::copy(&target, &restored_from).expect("copy of the first backup");
    let forced = run_backup(&database, &["--force", target.to_str().expect("UTF-8")]).await;
    assert!(forced.status.success(), "backup --force failed: {forced:?}");
    let forced_copy = inspect(&target, true).await;
    assert_eq!(forced_copy.rows.len(), all.len(), "--force copy is current");

    // Restore by the README's steps: stop, remove the WAL files, copy the backup in, start.
    daemon.stop();
    for side_file in side_files(&database) {
        let _ = std::fs::remove_file(side_file);
    }
    std::fs::copy(&restored_from, &database).expect("backup copied into place");
    let restarted = Daemon::start(&database, &options);
    let listed = restarted.list(&account).await;
    restarted.stop();
    let live = inspect(&database, true).await;

    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    let served: Vec<Value> = listed.body["result"]
        .as_array()
        .expect("list result")
        .iter()
        .map(stored_fields)
        .collect();
    let mut expected: Vec<Value> = copy.rows.values().cloned().collect();
    expected.sort_by_key(|row| {
        let created_at = row["created_at"].as_str().unwrap_or_default();
        (
            created_at.to_owned(),
            row["id"].as_str().unwrap_or_default().to_owned(),
        )
    });
    assert_eq!(
        served, expected,
        "the restored daemon serves exactly the backup"
    );
    assert_eq!(live.integrity, "ok");
}

#[tokio::test]
async fn backup_rejects_missing_database() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let database = folder.path().join("absent.db");
    let target = folder.path().join("backup.db");

    let output = run_backup(&database, &[target.to_str().expect("UTF-8 path")]).await;

    let stderr = String::from_utf8_lossy(&output.stderr);
    assert!(
        !output.status.success(),
        "backup of a missing database succeeded"
    );
    assert!(stderr.contains("does not exist"), "stderr: {stderr}");
    assert!(!target.exists(), "a backup file was written");
    assert!(!database.exists(), "the backup created the database");
}
