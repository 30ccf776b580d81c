//! Tests of the `ztrisk` binary itself: configuration errors, signals and exit codes.

use std::io::{BufRead, BufReader, Read, Write};
use std::net::TcpStream;
use std::process::{Child, ChildStderr, Command, Stdio};
use std::time::{Duration, Instant};

const BINARY: &str = env!("CARGO_BIN_EXE_ztrisk");

/// Builds a `ztrisk` command over a database in `folder`, on a free port, with text logs.
fn ztrisk(folder: &std::path::Path) -> Command {
    let mut command = Command::new(BINARY);
    command
        .current_dir(folder)
        .env_remove("ZTRISK_CONFIG")
        .env("ZTRISK__SERVER__PORT", "0")
        .env("ZTRISK__LOG__LEVEL", "info")
        .env(
            "ZTRISK__DATABASE__URL",
            format!("sqlite://{}", folder.join("ztrisk.db").display()),
        );
    command
}

/// Waits for the `ztrisk started` line on stderr. Returns the lines read so far and the
/// reader of the rest. Dropping that reader closes the daemon's stderr.
fn wait_until_started(child: &mut Child) -> (Vec<String>, BufReader<ChildStderr>) {
    let mut stderr = BufReader::new(child.stderr.take().expect("stderr is piped"));
    let mut lines = Vec::new();
    loop {
        let mut line = String::new();
        let read = stderr.read_line(&mut line).expect("log line");
        assert!(read > 0, "daemon exited before starting: {lines:#?}");
        let started = line.contains("ztrisk started");
        lines.push(line.trim_end().to_owned());
        if started {
            return (lines, stderr);
        }
    }
}

#[test]
fn invalid_setting_stops_start_naming_key() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let cases = [
        (
            "ZTRISK__LOG__FORMAT",
            "xml",
            "log.format",
            "\"text\" or \"json\"",
        ),
        (
            "ZTRISK__DATABASE__SYNCHRONOUS",
            "off",
            "database.synchronous",
            "\"full\" or \"normal\"",
        ),
        ("ZTRISK__SERVER__PORT", "eighty", "server.port", "integer"),
        (
            "ZTRISK__SERVER__BODY_LIMIT",
            "0",
            "server.body_limit",
            "between 1 and",
        ),
        (
            "ZTRISK__DATABASE__POOL_SIZE",
            "1000",
            "database.pool_size",
            "between 1 and 64",
        ),
    ];

    for (variable, value, key, accepted) in cases {
        let output = ztrisk(folder.path())
            .env(variable, value)
            .output()
            .expect("ztrisk runs");

        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{variable}: {stderr}");
        assert!(stderr.contains(key), "{variable}: {stderr}");
        assert!(stderr.contains(accepted), "{variable}: {stderr}");
    }
    assert!(
        !folder.path().join("ztrisk.db").exists(),
        "database created anyway"
    );
}

#[test]
fn config_file_layers_over_defaults() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let file = folder.path().join("bad.toml");
    std::fs::write(&file, "[integrations]\nmax_per_account = 0\n").expect("config written");

    let by_flag = ztrisk(folder.path())
        .arg("--config")
        .arg(&file)
        .output()
        .expect("ztrisk runs");
    let by_variable = ztrisk(folder.path())
        .env("ZTRISK_CONFIG", &file)
        .output()
        .expect("ztrisk runs");
    let missing = ztrisk(folder.path())
        .args(["--config", "missing.toml"])
        .output()
        .expect("ztrisk runs");

    for (label, output, expected) in [
        ("flag", by_flag, "integrations.max_per_account"),
        ("variable", by_variable, "integrations.max_per_account"),
        ("missing file", missing, "missing.toml"),
    ] {
        let stderr = String::from_utf8_lossy(&output.stderr);
        assert_eq!(output.status.code(), Some(2), "{label}: {stderr}");
        assert!(stderr.contains(expected), "{label}: {stderr}");
    }
}

/// Sends SIGTERM to `child` and waits up to 20 seconds for it to exit.
fn terminate(child: &mut Child) -> std::process::ExitStatus {
    signal(child, "-TERM");
    wait_for_exit(child)
}

fn signal(child: &Child, name: &str) {
    let signalled = Command::new("kill")
        .args([name, &child.id().to_string()])
        .status()
        .expect("kill runs");
    assert!(signalled.success(), "kill {name} failed");
}

fn wait_for_exit(child: &mut Child) -> std::process::ExitStatus {
    let deadline = Instant::now() + Duration::from_secs(20);
    loop {
        if let Some(status) = child.try_wait().expect("child status") {
            return status;
        }
        assert!(
            Instant::now() < deadline,
            "daemon did not stop after SIGTERM"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// Returns the port in the `address=127.0.0.1:PORT` field of the start line.
fn port_of(start_line: &str) -> u16 {
    let address = start_line
        .split_whitespace()
        .find_map(|field| field.strip_prefix("address=127.0.0.1:"))
        .unwrap_or_else(|| panic!("no address in {start_line:?}"));
    address.parse().expect("port is a number")
}

/// Sends `GET /healthz` over a plain loopback connection and returns the status code.
fn healthz_status(port: u16) -> u16 {
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("daemon accepts");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\r\n")
        .expect("request sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let status = response.split_whitespace().nth(1).unwrap_or_default();
    status
        .parse()
        .unwrap_or_else(|_| panic!("no status in {response:?}"))
}

#[test]
fn sigterm_stops_daemon_cleanly() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let mut child = ztrisk(folder.path())
        .arg("serve")
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts");

    let (started, rest) = wait_until_started(&mut child);
    let status = terminate(&mut child);
    let stopped: Vec<String> = rest.lines().map_while(Result::ok).collect();

    assert!(status.success(), "exit status {status}");
    let start_line = started.last().expect("start line");
    assert!(start_line.contains("version="), "{start_line}");
    assert!(start_line.contains("address=127.0.0.1:"), "{start_line}");
    assert!(start_line.contains("database="), "{start_line}");
    assert!(
        !start_line.contains('\u{1b}'),
        "colour codes in a log file: {start_line:?}"
    );
    assert!(
        stopped.iter().any(|l| l.contains("ztrisk stopped")),
        "{stopped:#?}"
    );
    assert!(folder.path().join("ztrisk.db").exists());
}

#[test]
fn closed_stderr_does_not_crash_daemon() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let mut child = ztrisk(folder.path())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts");
    let (started, rest) = wait_until_started(&mut child);
    let port = port_of(started.last().expect("start line"));

    drop(rest);
    let reply = healthz_status(port);
    let status = terminate(&mut child);

    assert_eq!(reply, 200);
    assert!(status.success(), "exit status {status}");
}

#[test]
fn sigint_lets_inflight_request_finish() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let mut child = ztrisk(folder.path())
        .stderr(Stdio::piped())
        .spawn()
        .expect("daemon starts");
    let (started, _rest) = wait_until_started(&mut child);
    let port = port_of(started.last().expect("start line"));
    let body = r#"{"integration_type": "Okta", "tenant_url": "https://a.okta.com"}"#;
    let (head, tail) = body.split_at(20);
    let token = std::fs::read_to_string(folder.path().join("ztrisk.token")).expect("token file");
    let mut stream = TcpStream::connect(("127.0.0.1", port)).expect("daemon accepts");
    let request = format!(
        "POST /client/v4/accounts/{:032x}/zt_risk_scoring/integrations HTTP/1.1\r\n\
         Host: 127.0.0.1\r\nContent-Type: application/json\r\nContent-Length: {}\r\n\
         Authorization: Bearer {}\r\nConnection: close\r\nExpect: 100-continue\r\n\r\n{head}",
        1,
        body.len(),
        token.trim_end()
    );
    stream
        .write_all(request.as_bytes())
        .expect("request head sent");
    // The daemon sends 100 Continue once it has parsed the request head, so the request is
    // in flight when the signal arrives, however slow the machine.
    stream
        .set_read_timeout(Some(Duration::from_secs(10)))
        .expect("read timeout set");
    let interim = read_head(&mut stream);

    signal(&child, "-INT");
    std::thread::sleep(Duration::from_millis(300));
    stream
        .write_all(tail.as_bytes())
        .expect("request body sent");
    let mut response = String::new();
    stream.read_to_string(&mut response).expect("response read");
    let status = wait_for_exit(&mut child);

    assert!(interim.starts_with("HTTP/1.1 100"), "{interim}");
    assert!(response.starts_with("HTTP/1.1 200"), "{response}");
    assert!(status.success(), "exit status {status}");
}

/// Reads one response head, up to and including its blank line, and nothing after it.
fn read_head(stream: &mut TcpStream) -> String {
    let mut head = Vec::new();
    let mut byte = [0u8; 1];
    while !head.ends_with(b"\r\n\r\n") {
        stream.read_exact(&mut byte).expect("response head read");
        head.push(byte[0]);
    }
    String::from_utf8_lossy(&head).into_owned()
}

#[test]
fn migrate_command_creates_schema() {
    let folder = tempfile::tempdir().expect("temporary folder");

    let first = ztrisk(folder.path())
        .arg("migrate")
        .output()
        .expect("ztrisk runs");
    let second = ztrisk(folder.path())
        .arg("migrate")
        .output()
        .expect("ztrisk runs");

    assert!(
        first.status.success(),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert!(
        second.status.success(),
        "{}",
        String::from_utf8_lossy(&second.stderr)
    );
    let all = format!("applied={}", ztrisk::store::MIGRATOR.iter().count());
    assert!(String::from_utf8_lossy(&first.stderr).contains(&all));
    assert!(String::from_utf8_lossy(&second.stderr).contains("applied=0"));
}

#[test]
fn version_and_help_print() {
    let version = Command::new(BINARY)
        .arg("--version")
        .output()
        .expect("ztrisk runs");
    let help = Command::new(BINARY)
        .arg("--help")
        .output()
        .expect("ztrisk runs");

    assert!(version.status.success());
    assert_eq!(
        String::from_utf8_lossy(&version.stdout).trim(),
        format!("ztrisk {}", env!("CARGO_PKG_VERSION"))
    );
    let help = String::from_utf8_lossy(&help.stdout);
    for command in ["serve", "migrate"] {
        assert!(help.contains(command), "{help}");
    }
}
