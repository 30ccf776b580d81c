//! Running the built `ztrisk` binary as a child process, so a test can kill it with SIGKILL
//! and read its log, and inspecting its database file from the test process.

#![allow(dead_code)]

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::Value;
use sqlx::sqlite::SqliteConnectOptions;
use sqlx::{Connection, Row, SqliteConnection};

pub const BINARY: &str = env!("CARGO_BIN_EXE_ztrisk");

/// Maximum time a daemon may take to start and log its address.
const START_TIMEOUT: Duration = Duration::from_secs(30);

/// How to start a daemon.
#[derive(Clone, Default)]
pub struct Options {
    /// Extra `ZTRISK__…` variables.
    pub env: Vec<(String, String)>,
    /// Run the daemon under this user and group id (needs root).
    pub user: Option<u32>,
}

/// A running daemon. Dropping it kills the process.
pub struct Daemon {
    child: Child,
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    /// Secret of the edit token the daemon created on its first start over the database.
    pub token: String,
    /// A client that sends `token` on every request.
    pub client: reqwest::Client,
    logs: Arc<Mutex<Vec<String>>>,
}

impl Daemon {
    /// Starts `ztrisk serve` on `database` and waits until it logs its address.
    pub fn start(database: &Path, options: &Options) -> Daemon {
        let folder = database.parent().expect("database has a folder");
        let binary = match options.user {
            Some(user) => binary_for_user(folder, user),
            None => PathBuf::from(BINARY),
        };
        let mut command = Command::new(binary);
        command
            .arg("serve")
            .current_dir(folder)
            .env_remove("ZTRISK_CONFIG")
            .env("ZTRISK__SERVER__PORT", "0")
            .env("ZTRISK__SERVER__WORKERS", "2")
            .env("ZTRISK__SERVER__PUBLIC_URL", "https://ztrisk.test")
            .env("ZTRISK__DATABASE__URL", database_url(database))
            .env("ZTRISK__LOG__FORMAT", "json")
            .env("ZTRISK__LOG__LEVEL", "info")
            // These tests measure what survives a crash, not the rate limit. Its default of
            // 1,200 requests per token would reject writers that outrun it within one run with
            // 429, so it stays on the request path but is never reached.
            .env("ZTRISK__RATE_LIMIT__REQUESTS", "1000000000")
            .env("ZTRISK__RATE_LIMIT__PERIOD_SECS", "1")
            .envs(options.env.iter().cloned())
            .stdin(Stdio::null())
            .stdout(Stdio::null())
            .stderr(Stdio::piped());
        if let Some(user) = options.user {
            use std::os::unix::process::CommandExt;
            command.uid(user).gid(user);
        }
        let mut child = command.spawn().expect("ztrisk starts");

        let logs = Arc::new(Mutex::new(Vec::new()));
        let (address_sender, address) = std::sync::mpsc::channel();
        let stderr = child.stderr.take().expect("stderr is piped");
        let collected = Arc::clone(&logs);
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines() {
                let Ok(line) = line else { break };
                if let Some(address) = started_address(&line) {
                    let _ = address_sender.send(address);
                }
                collected.lock().unwrap().push(line);
            }
        });
        let address = match address.recv_timeout(START_TIMEOUT) {
            Ok(address) => address,
            Err(_) => {
                let _ = child.kill();
                let _ = child.wait();
                panic!("ztrisk did not start: {:?}", logs.lock().unwrap());
            }
        };
        let token_file = database.with_extension("token");
        let token = std::fs::read_to_string(&token_file)
            .unwrap_or_else(|e| panic!("{}: {e}", token_file.display()))
            .trim()
            .to_owned();
        Daemon {
            child,
            address: format!("http://{address}"),
            client: client_with_token(&token),
            token,
            logs,
        }
    }

    /// Kills the daemon with SIGKILL and waits for it to exit.
    pub fn kill(mut self) {
        self.child.kill().expect("SIGKILL sent");
        self.child.wait().expect("ztrisk exits");
    }

    /// Stops the daemon with SIGTERM and asserts that it exits 0 within 20 seconds.
    pub fn stop(mut self) {
        let pid = self.child.id() as libc::pid_t;
        // SAFETY: `pid` is our own child, which has not been waited for yet.
        assert_eq!(unsafe { libc::kill(pid, libc::SIGTERM) }, 0, "SIGTERM sent");
        let deadline = Instant::now() + Duration::from_secs(20);
        loop {
            if let Some(status) = self.child.try_wait().expect("wait for ztrisk") {
                assert!(status.success(), "ztrisk exited with {status}");
                return;
            }
            assert!(Instant::now() < deadline, "ztrisk ignored SIGTERM");
            std::thread::sleep(Duration::from_millis(20));
        }
    }

    /// Asserts that the process is still running.
    pub fn assert_running(&mut self) {
        let status = self.child.try_wait().expect("wait for ztrisk");
        assert!(status.is_none(), "ztrisk exited: {status:?}");
    }

    /// Returns the lines logged so far that contain `text`. The daemon writes its log in order
    /// from a log thread, so this first sends a request with a new request id and waits for
    /// its line, by which time every line logged before that request is in.
    pub async fn log_lines(&self, text: &str) -> Vec<String> {
        let marker = uuid::Uuid::new_v4().to_string();
        self.client
            .get(format!("{}/healthz", self.address))
            .header("x-request-id", &marker)
            .send()
            .await
            .expect("request sent");
        let deadline = Instant::now() + Duration::from_secs(10);
        loop {
            let logs = self.logs.lock().unwrap().clone();
            if logs.iter().any(|line| line.contains(&marker)) {
                return logs.into_iter().filter(|l| l.contains(text)).collect();
            }
            assert!(
                Instant::now() < deadline,
                "no log line for request {marker}"
            );
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    }

    /// Returns the rate-limited error lines logged for requests that failed for `reason`.
    pub async fn unavailable_log_lines(&self, reason: &str) -> Vec<String> {
        let lines = self
            .log_lines("request failed because the database is unavailable")
            .await;
        lines.into_iter().filter(|l| l.contains(reason)).collect()
    }

    /// `{address}/client/v4/accounts/{account}/zt_risk_scoring/integrations`.
    pub fn integrations_url(&self, account: &str) -> String {
        format!(
            "{}/client/v4/accounts/{account}/zt_risk_scoring/integrations",
            self.address
        )
    }

    pub async fn create(&self, account: &str, body: &Value) -> Reply {
        let request = self.client.post(self.integrations_url(account)).json(body);
        Reply::read(request.send().await.expect("request sent")).await
    }

    pub async fn list(&self, account: &str) -> Reply {
        let request = self.client.get(self.integrations_url(account));
        Reply::read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, path: &str) -> Reply {
        let request = self.client.get(format!("{}{path}", self.address));
        Reply::read(request.send().await.expect("request sent")).await
    }
}

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Returns a path from which `user` can run the binary: the built one if every folder above it
/// lets others in, else a copy in `folder` (the build folder may be private to root).
fn binary_for_user(folder: &Path, user: u32) -> PathBuf {
    use std::os::unix::fs::PermissionsExt;
    let others_may_run = |path: &Path| {
        std::fs::metadata(path).is_ok_and(|metadata| metadata.permissions().mode() & 0o001 != 0)
    };
    let built = Path::new(BINARY);
    if built.ancestors().all(others_may_run) {
        return built.to_path_buf();
    }
    let copy = folder.join("ztrisk");
    if !copy.exists() {
        std::fs::copy(built, &copy).expect("binary copied");
        std::os::unix::fs::chown(&copy, Some(user), Some(user)).expect("chown binary");
    }
    copy
}

/// Returns an HTTP client that sends `Authorization: Bearer {token}` on every request and
/// gives up on a request after 10 seconds.
pub fn client_with_token(token: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    let value = format!("Bearer {token}")
        .parse()
        .expect("valid header value");
    headers.insert(reqwest::header::AUTHORIZATION, value);
    reqwest::Client::builder()
        .default_headers(headers)
        .timeout(Duration::from_secs(10))
        .build()
        .expect("HTTP client")
}

/// Returns the `address` field of the JSON "ztrisk started" log line.
fn started_address(line: &str) -> Option<String> {
    let event: Value = serde_json::from_str(line).ok()?;
    if event["message"] != "ztrisk started" {
        return None;
    }
    event["address"].as_str().map(str::to_owned)
}

pub fn database_url(database: &Path) -> String {
    format!("sqlite://{}", database.display())
}

/// A response: status, headers and the parsed JSON body.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

impl Reply {
    pub async fn read(response: reqwest::Response) -> Reply {
        let status = response.status();
        let headers = response.headers().clone();
        let text = response.text().await.expect("response body");
        let body = serde_json::from_str(&text)
            .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
        Reply {
            status,
            headers,
            body,
        }
    }

    /// Returns the message of the first error entry, or "".
    pub fn error_message(&self) -> &str {
        self.body["errors"][0]["message"].as_str().unwrap_or("")
    }

    /// Asserts a 503 with code 1010 and `Retry-After` whose message starts with `message`.
    pub fn assert_unavailable(&self, message: &str, label: &str) {
        assert_eq!(
            self.status,
            StatusCode::SERVICE_UNAVAILABLE,
            "{label}: {}",
            self.body
        );
        assert_eq!(self.body["success"], false, "{label}: {}", self.body);
        assert_eq!(
            self.body["errors"][0]["code"], 1010,
            "{label}: {}",
            self.body
        );
        assert!(
            self.error_message().starts_with(message),
            "{label}: expected {message:?}: {}",
            self.body
        );
        assert!(
            self.headers.contains_key("retry-after"),
            "{label}: no Retry-After"
        );
    }
}

/// What the test process reads directly from a database file.
pub struct FileReport {
    pub integrity: String,
    /// (account_tag, reference_id) pairs held by more than one row.
    pub duplicates: Vec<(String, String)>,
    pub unique_index_present: bool,
    /// Every row, as the API would return it except `well_known_url`, keyed by id.
    pub rows: std::collections::BTreeMap<String, Value>,
}

/// Opens `database` from the test process (read-only unless `read_only` is false) and reads
/// its integrity, the unique index and every row.
pub async fn inspect(database: &Path, read_only: bool) -> FileReport {
    let options = SqliteConnectOptions::new()
        .filename(database)
        .read_only(read_only)
        .create_if_missing(false)
        .busy_timeout(Duration::from_secs(5));
    let mut connection = SqliteConnection::connect_with(&options)
        .await
        .expect("test opens the database");
    let integrity: String = sqlx::query("PRAGMA integrity_check")
        .fetch_one(&mut connection)
        .await
        .expect("integrity_check runs")
        .get(0);

    let duplicates = sqlx::query(
        "SELECT account_tag, reference_id FROM integrations
         GROUP BY account_tag, reference_id HAVING COUNT(*) > 1",
    )
    .fetch_all(&mut connection)
    .await
    .expect("duplicate query runs")
    .iter()
    .map(|row| (row.get(0), row.get(1)))
    .collect();
    let unique_index_present: bool = sqlx::query(
        "SELECT COUNT(*) = 1 FROM sqlite_master WHERE type = 'index'
         AND name = 'integrations_account_reference_id'
         AND sql LIKE 'CREATE UNIQUE INDEX%'",
    )
    .fetch_one(&mut connection)
    .await
    .expect("index query runs")
    .get(0);

    let rows = sqlx::query(
        "SELECT id, account_tag, reference_id, integration_type, tenant_url, active, created_at
         FROM integrations",
    )
    .fetch_all(&mut connection)
    .await
    .expect("rows are read")
    .iter()
    .map(|row| {
        let id: String = row.get("id");
        let view = serde_json::json!({
            "account_tag": row.get::<String, _>("account_tag"),
            "active": row.get::<bool, _>("active"),
            "created_at": row.get::<String, _>("created_at"),
            "id": id,
            "integration_type": row.get::<String, _>("integration_type"),
            "reference_id": row.get::<String, _>("reference_id"),
            "tenant_url": row.get::<String, _>("tenant_url"),
        });
        (id, view)
    })
    .collect();

    connection.close().await.expect("test closes the database");
    FileReport {
        integrity,
        duplicates,
        unique_index_present,
        rows,
    }
}

/// Drops `well_known_url`, which is derived and not stored, so API views compare with rows.
pub fn stored_fields(view: &Value) -> Value {
    let mut view = view.clone();
    if let Some(object) = view.as_object_mut() {
        object.remove("well_known_url");
    }
    view
}

/// Returns a distinct, valid account tag for each `n`.
pub fn account(n: u32) -> String {
    format!("{n:032x}")
}

/// True when the test runs as root, so it may mount file systems and change users.
pub fn is_root() -> bool {
    // SAFETY: geteuid has no preconditions.
    unsafe { libc::geteuid() == 0 }
}

/// Creates a temporary folder. When `user` is given, the folder is handed to that user so a
/// daemon running as it can create its database there.
pub fn folder_for(user: Option<u32>) -> tempfile::TempDir {
    let folder = tempfile::tempdir().expect("temporary folder");
    if let Some(user) = user {
        std::os::unix::fs::chown(folder.path(), Some(user), Some(user)).expect("chown folder");
    }
    folder
}

/// Returns the paths of SQLite's write-ahead log and shared-memory files for `database`.
pub fn side_files(database: &Path) -> [PathBuf; 2] {
    let name = database.as_os_str().to_string_lossy();
    [
        PathBuf::from(format!("{name}-wal")),
        PathBuf::from(format!("{name}-shm")),
    ]
}
