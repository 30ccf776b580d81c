//! Where token secrets go: the first start's token file, and nowhere else. These tests run
//! the built binary with its log written to a file, so they see every line it logs.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use ztrisk::domain::TokenHash;

use crate::helpers::{account, create_body};

const BINARY: &str = env!("CARGO_BIN_EXE_ztrisk");

/// A `ztrisk serve` process over `folder/ztrisk.db`, logging to `folder/ztrisk.log`. Dropping
/// it kills the process if it still runs.
struct Daemon {
    child: Child,
    log: PathBuf,
    base: String,
}

impl Daemon {
    /// Starts the daemon and waits up to ten seconds for its start line.
    fn start(folder: &Path, log_level: &str) -> Self {
        let log = folder.join("ztrisk.log");
        let log_file = fs::File::create(&log).expect("log file");
        let child = ztrisk(folder)
            .env("ZTRISK__LOG__LEVEL", log_level)
            .stdout(Stdio::null())
            .stderr(log_file)
            .spawn()
            .expect("daemon starts");
        let mut daemon = Self {
            child,
            log,
            base: String::new(),
        };
        let deadline = Instant::now() + Duration::from_secs(10);
        let port = loop {
            if let Some(port) = daemon.log_text().lines().find_map(port_of_start_line) {
                break port;
            }
            if let Some(status) = daemon.child.try_wait().expect("child status") {
                panic!("daemon exited with {status}: {}", daemon.log_text());
            }
            assert!(
                Instant::now() < deadline,
                "no start line: {}",
                daemon.log_text()
            );
            std::thread::sleep(Duration::from_millis(20));
        };
        daemon.base = format!("http://127.0.0.1:{port}/client/v4");
        daemon
    }

    fn log_text(&self) -> String {
        fs::read_to_string(&self.log).unwrap_or_default()
    }

    /// Sends SIGTERM, waits up to twenty seconds for a clean exit and returns the whole log.
    /// The daemon writes log lines from a log thread, so a line may reach the file after the
    /// response that caused it. Every line is in the file once the daemon has exited.
    fn stop(mut self) -> String {
        let signalled = Command::new("kill")
            .args(["-TERM", &self.child.id().to_string()])
            .status()
            .expect("kill runs");
        assert!(signalled.success(), "kill -TERM failed");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("child status") {
                assert!(
                    status.success(),
                    "exit status {status}: {}",
                    self.log_text()
                );
                return self.log_text();
            }
            assert!(
                Instant::now() < deadline,
                "daemon did not stop after SIGTERM"
            );
            std::thread::sleep(Duration::from_millis(20));
        }
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        if let Ok(None) = self.child.try_wait() {
            let _ = self.child.kill();
            let _ = self.child.wait();
        }
    }
}

/// Builds a `ztrisk` command over `folder/ztrisk.db` on a free port, run from `folder`.
fn ztrisk(folder: &Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(folder)
        .env_remove("ZTRISK_CONFIG")
        .env("ZTRISK__SERVER__PORT", "0")
        .env("ZTRISK__SERVER__WORKERS", "2")
        .env(
            "ZTRISK__DATABASE__URL",
            format!("sqlite://{}", folder.join("ztrisk.db").display()),
        );
    command
}

/// Returns the port in the `address=127.0.0.1:PORT` field of the `ztrisk started` line.
fn port_of_start_line(line: &str) -> Option<u16> {
    if !line.contains("ztrisk started") {
        return None;
    }
    line.split_whitespace()
        .find_map(|field| field.strip_prefix("address=127.0.0.1:"))
        .and_then(|port| port.parse().ok())
}

fn read_token_file(folder: &Path) -> String {
    let text = fs::read_to_string(folder.join("ztrisk.token")).expect("token file");
    text.trim_end().to_owned()
}

async fn get(client: &reqwest::Client, url: &str, secret: &str) -> (StatusCode, Value) {
    let response = client
        .get(url)
        .bearer_auth(secret)
        .send()
        .await
        .expect("request sent");
    let status = response.status();
    (status, response.json().await.expect("JSON body"))
}

/// Reads the database file and its WAL and shared-memory files, as far as they exist.
fn database_bytes(folder: &Path) -> Vec<(String, Vec<u8>)> {
    ["ztrisk.db", "ztrisk.db-wal", "ztrisk.db-shm"]
        .iter()
        .filter_map(|name| {
            let bytes = fs::read(folder.join(name)).ok()?;
            Some((name.to_string(), bytes))
        })
        .collect()
}

fn contains(haystack: &[u8], needle: &[u8]) -> bool {
    haystack
        .windows(needle.len())
        .any(|window| window == needle)
}

#[cfg(unix)]
#[tokio::test]
async fn first_start_writes_owner_only_token_file() {
    use std::os::unix::fs::PermissionsExt;
    let folder = tempfile::tempdir().expect("temporary folder");
    let client = reqwest::Client::new();

    let daemon = Daemon::start(folder.path(), "info");
    let secret = read_token_file(folder.path());
    let (status, body) = get(
        &client,
        &format!("{}/user/tokens/verify", daemon.base),
        &secret,
    )
    .await;
    let log = daemon.stop();

    let metadata = fs::metadata(folder.path().join("ztrisk.token")).expect("token file");
    assert_eq!(metadata.permissions().mode() & 0o777, 0o600);
    assert_eq!(status, StatusCode::OK, "{body}");
    assert_eq!(body["result"]["status"], "active");
    assert!(log.contains("created the first API token"), "{log}");
    assert!(
        log.contains("ztrisk.token"),
        "the log names no token file: {log}"
    );
    assert!(!log.contains(&secret), "the log shows the secret");
}

#[tokio::test]
async fn restart_keeps_first_token() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let client = reqwest::Client::new();
    let _ = Daemon::start(folder.path(), "info").stop();
    let first = read_token_file(folder.path());

    let daemon = Daemon::start(folder.path(), "info");
    let (status, _) = get(
        &client,
        &format!("{}/user/tokens/verify", daemon.base),
        &first,
    )
    .await;
    let log = daemon.stop();

    assert_eq!(read_token_file(folder.path()), first);
    assert_eq!(status, StatusCode::OK);
    assert!(!log.contains("created the first API token"), "{log}");
}

#[test]
fn existing_token_prevents_first_token() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let created = ztrisk(folder.path())
        .args(["token", "create", "--name", "ops", "--all-accounts"])
        .output()
        .expect("ztrisk runs");
    assert!(
        created.status.success(),
        "{}",
        String::from_utf8_lossy(&created.stderr)
    );

    let daemon = Daemon::start(folder.path(), "info");
    let log = daemon.stop();

    assert!(!folder.path().join("ztrisk.token").exists());
    assert!(!log.contains("created the first API token"), "{log}");
}

#[tokio::test]
async fn secrets_absent_from_database_and_logs() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let client = reqwest::Client::new();
    let account = account(1);
    let daemon = Daemon::start(folder.path(), "trace");
    let first = read_token_file(folder.path());
    let created = ztrisk(folder.path())
        .args([
            "token",
            "create",
            "--name",
            "reader",
            "--account",
            &account,
            "--read-only",
        ])
        .output()
        .expect("ztrisk runs");
    let second = String::from_utf8_lossy(&created.stdout)
        .trim_end()
        .to_owned();
    let integrations = format!(
        "{}/accounts/{account}/zt_risk_scoring/integrations",
        daemon.base
    );

    let create = client
        .post(&integrations)
        .bearer_auth(&first)
        .json(&create_body("okta-prod"))
        .send()
        .await
        .expect("request sent");
    let (listed, _) = get(&client, &integrations, &second).await;
    let write_with_reader = client
        .post(&integrations)
        .bearer_auth(&second)
        .json(&create_body("other"))
        .send()
        .await
        .expect("request sent");
    let (wrong, _) = get(&client, &integrations, &format!("{first}x")).await;
    let while_running = database_bytes(folder.path());
    let log = daemon.stop();
    let after_stop = database_bytes(folder.path());

    assert_eq!(create.status(), StatusCode::OK);
    assert_eq!(listed, StatusCode::OK);
    assert_eq!(write_with_reader.status(), StatusCode::FORBIDDEN);
    assert_eq!(wrong, StatusCode::UNAUTHORIZED);
    for secret in [&first, &second] {
        assert!(!log.contains(secret.as_str()), "the log shows a secret");
        for (name, bytes) in while_running.iter().chain(&after_stop) {
            assert!(!contains(bytes, secret.as_bytes()), "{name} holds a secret");
        }
    }
    // The scan reads the files the tokens live in: their hashes are there.
    let hash = TokenHash::of(&first);
    let all_bytes: Vec<u8> = after_stop
        .into_iter()
        .flat_map(|(_, bytes)| bytes)
        .collect();
    assert!(
        contains(&all_bytes, hash.as_bytes()),
        "no token hash in the database"
    );
    assert!(log.contains("rejected an API request"), "{log}");
}

#[tokio::test]
async fn rejection_log_is_rate_limited() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let client = reqwest::Client::new();
    let daemon = Daemon::start(folder.path(), "info");
    let url = format!("{}/user/tokens/verify", daemon.base);
    let unknown = ztrisk::domain::TokenSecret::generate();

    for _ in 0..30 {
        let (status, _) = get(&client, &url, unknown.expose()).await;
        assert_eq!(status, StatusCode::UNAUTHORIZED);
    }
    let log = daemon.stop();

    let rejections: Vec<&str> = log
        .lines()
        .filter(|line| line.contains("rejected an API request"))
        .collect();
    assert_eq!(rejections.len(), 10, "{log}");
    assert!(
        rejections[0].contains("reason=\"unknown token\""),
        "{}",
        rejections[0]
    );
    assert!(
        rejections[0].contains("client=127.0.0.1"),
        "{}",
        rejections[0]
    );
}
