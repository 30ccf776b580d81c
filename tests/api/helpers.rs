//! Starting the daemon for a test and calling its routes over real HTTP.

#![allow(dead_code)]

use std::path::PathBuf;

use actix_web::dev::ServerHandle;
use reqwest::{Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use ztrisk::config::{LogFormat, Settings};
use ztrisk::startup::Application;

/// A running daemon and a client for it. Dropping it leaves the server running until the test
/// ends; call `stop` to shut it down and keep the database folder.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    pub settings: Settings,
    pub client: reqwest::Client,
    pub folder: TempDir,
    handle: ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
}

/// A parsed response: status, headers and the JSON envelope.
pub struct Reply {
    pub status: StatusCode,
    pub headers: reqwest::header::HeaderMap,
    pub body: Value,
}

/// Starts the daemon with test settings over a new database.
pub async fn spawn_app() -> TestApp {
    spawn_app_with(|_| {}).await
}

/// Starts the daemon over a new database, after `change` adjusts the test settings.
pub async fn spawn_app_with(change: impl FnOnce(&mut Settings)) -> TestApp {
    let folder = tempfile::tempdir().expect("temporary folder");
    start_in(folder, change, |_| {}).await
}

/// Starts the daemon over the database in `folder`, which may hold data from an earlier run.
pub async fn start_in(
    folder: TempDir,
    change: impl FnOnce(&mut Settings),
    extra_services: impl Fn(&mut actix_web::web::ServiceConfig) + Clone + Send + 'static,
) -> TestApp {
    let mut settings = test_settings(&folder.path().join("ztrisk.db"));
    change(&mut settings);
    settings.validate().expect("test settings are valid");

    let application = Application::build_with(settings.clone(), extra_services)
        .await
        .expect("daemon starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let handle = application.handle();
    let server = tokio::spawn(application.run_until_stopped());
    TestApp {
        address,
        settings,
        client: reqwest::Client::new(),
        folder,
        handle,
        server,
    }
}

fn test_settings(database: &std::path::Path) -> Settings {
    let mut settings = Settings::defaults();
    settings.server.port = 0;
    settings.server.workers = 2;
    settings.server.shutdown_timeout_secs = 5;
    settings.server.public_url = "https://ztrisk.test".into();
    settings.database.url = format!("sqlite://{}", database.display());
    settings.log.format = LogFormat::Text;
    settings
}

/// A distinct, valid account tag for each `n`.
pub fn account(n: u32) -> String {
    format!("{n:032x}")
}

/// A create body with an https tenant URL and the given reference id.
pub fn create_body(reference_id: &str) -> Value {
    json!({
        "integration_type": "Okta",
        "tenant_url": "https://example.okta.com",
        "reference_id": reference_id,
    })
}

impl TestApp {
    pub fn database_path(&self) -> PathBuf {
        self.folder.path().join("ztrisk.db")
    }

    /// `{address}{base_path}/accounts/{account}/zt_risk_scoring/integrations`.
    pub fn integrations_url(&self, account: &str) -> String {
        format!(
            "{}{}/accounts/{account}/zt_risk_scoring/integrations",
            self.address, self.settings.server.base_path
        )
    }

    pub async fn create(&self, account: &str, body: &Value) -> Reply {
        let request = self.client.post(self.integrations_url(account)).json(body);
        read(request.send().await.expect("request sent")).await
    }

    pub async fn list(&self, account: &str) -> Reply {
        let request = self.client.get(self.integrations_url(account));
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, account: &str, id: &str) -> Reply {
        let url = format!("{}/{id}", self.integrations_url(account));
        read(self.client.get(url).send().await.expect("request sent")).await
    }

    /// Gets by reference id; `encoded` is put in the path as given, already percent-encoded.
    pub async fn get_by_reference_id(&self, account: &str, encoded: &str) -> Reply {
        let url = format!("{}/reference_id/{encoded}", self.integrations_url(account));
        read(self.client.get(url).send().await.expect("request sent")).await
    }

    pub async fn update(&self, account: &str, id: &str, body: &Value) -> Reply {
        let url = format!("{}/{id}", self.integrations_url(account));
        read(
            self.client
                .put(url)
                .json(body)
                .send()
                .await
                .expect("request sent"),
        )
        .await
    }

    pub async fn delete(&self, account: &str, id: &str) -> Reply {
        let url = format!("{}/{id}", self.integrations_url(account));
        read(self.client.delete(url).send().await.expect("request sent")).await
    }

    /// Sends `request`, built from `self.client`, and reads the envelope.
    pub async fn send(&self, request: reqwest::RequestBuilder) -> Reply {
        read(request.send().await.expect("request sent")).await
    }

    /// `{address}{path}`, for routes outside the integrations helpers.
    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    /// Creates an integration and returns its `result`, failing the test unless it is a 200.
    pub async fn create_ok(&self, account: &str, body: &Value) -> Value {
        let reply = self.create(account, body).await;
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "create failed: {}",
            reply.body
        );
        reply.body["result"].clone()
    }

    /// Stops the server gracefully and returns the database folder for a restart.
    pub async fn stop(self) -> TempDir {
        self.handle.stop(true).await;
        self.server
            .await
            .expect("server task joins")
            .expect("server stops cleanly");
        self.folder
    }
}

/// Reads a response as a JSON envelope, failing the test if it is not one.
pub async fn read(response: Response) -> Reply {
    let status = response.status();
    let headers = response.headers().clone();
    let text = response.text().await.expect("response body");
    let body: Value = serde_json::from_str(&text)
        .unwrap_or_else(|e| panic!("{status}: body is not JSON ({e}): {text:?}"));
    let content_type = headers
        .get("content-type")
        .and_then(|value| value.to_str().ok());
    assert_eq!(content_type, Some("application/json"), "{status}: {text}");
    assert!(
        body["success"].is_boolean(),
        "{status}: no success field: {text}"
    );
    assert!(
        body["errors"].is_array(),
        "{status}: no errors array: {text}"
    );
    assert!(
        body["messages"].is_array(),
        "{status}: no messages array: {text}"
    );
    Reply {
        status,
        headers,
        body,
    }
}

impl Reply {
    /// Asserts a failure envelope with `status` whose first error has `code`.
    pub fn assert_error(&self, status: StatusCode, code: u64) {
        assert_eq!(self.status, status, "body: {}", self.body);
        assert_eq!(self.body["success"], false, "body: {}", self.body);
        assert!(self.body["result"].is_null(), "body: {}", self.body);
        assert_eq!(self.body["errors"][0]["code"], code, "body: {}", self.body);
    }

    /// The codes of every error entry.
    pub fn error_codes(&self) -> Vec<u64> {
        let errors = self.body["errors"].as_array().cloned().unwrap_or_default();
        errors.iter().filter_map(|e| e["code"].as_u64()).collect()
    }

    /// The `source.pointer` of every error entry that has one.
    pub fn error_pointers(&self) -> Vec<String> {
        let errors = self.body["errors"].as_array().cloned().unwrap_or_default();
        errors
            .iter()
            .filter_map(|e| e["source"]["pointer"].as_str().map(str::to_owned))
            .collect()
    }
}
