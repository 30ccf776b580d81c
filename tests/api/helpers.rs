//! Starting the daemon for a test and calling its routes over real HTTP.

#![allow(dead_code)]

use std::path::PathBuf;

use actix_web::dev::ServerHandle;
use reqwest::header::{HeaderMap, HeaderName, HeaderValue, AUTHORIZATION};
use reqwest::{Method, Response, StatusCode};
use serde_json::{json, Value};
use tempfile::TempDir;
use tokio::task::JoinHandle;
use ztrisk::config::{LogFormat, Settings};
use ztrisk::domain::{AccountScope, Permission};
use ztrisk::startup::Application;

/// A running daemon and a client for it. Dropping it leaves the server running until the test
/// ends; call `stop` to shut it down and keep the database folder.
pub struct TestApp {
    /// `http://127.0.0.1:{port}`.
    pub address: String,
    pub settings: Settings,
    /// Sends `Authorization: Bearer {token}` on every request unless the request sets its own
    /// `Authorization` header. `as_anonymous`, `with_token` and `with_headers` send others.
    pub client: reqwest::Client,
    /// Secret of an edit token for all accounts, created before the daemon started.
    pub token: String,
    /// Id of that token.
    pub token_id: String,
    pub folder: TempDir,
    handle: ServerHandle,
    server: JoinHandle<std::io::Result<()>>,
}

/// Sends requests to a `TestApp` with chosen authentication headers instead of its token.
pub struct Caller<'a> {
    app: &'a TestApp,
    client: reqwest::Client,
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

    let token =
        ztrisk::auth::issue_token(&settings, "test", Permission::Edit, AccountScope::All, None)
            .await
            .expect("test token created");
    let application = Application::build_with(settings.clone(), extra_services)
        .await
        .expect("daemon starts");
    let address = format!("http://127.0.0.1:{}", application.port());
    let handle = application.handle();
    let server = tokio::spawn(application.run_until_stopped());
    let mut headers = HeaderMap::new();
    headers.insert(AUTHORIZATION, bearer(token.secret.expose()));
    let client = reqwest::Client::builder()
        .default_headers(headers)
        .build()
        .expect("HTTP client");
    TestApp {
        address,
        settings,
        client,
        token: token.secret.expose().to_owned(),
        token_id: token.id.to_string(),
        folder,
        handle,
        server,
    }
}

/// `Bearer {secret}` as an `Authorization` header value.
pub fn bearer(secret: &str) -> HeaderValue {
    HeaderValue::from_str(&format!("Bearer {secret}")).expect("valid header value")
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
        self.as_default().create(account, body).await
    }

    pub async fn list(&self, account: &str) -> Reply {
        self.as_default().list(account).await
    }

    pub async fn get(&self, account: &str, id: &str) -> Reply {
        self.as_default().get(account, id).await
    }

    /// Gets by reference id; `encoded` is put in the path as given, already percent-encoded.
    pub async fn get_by_reference_id(&self, account: &str, encoded: &str) -> Reply {
        self.as_default()
            .get_by_reference_id(account, encoded)
            .await
    }

    pub async fn update(&self, account: &str, id: &str, body: &Value) -> Reply {
        self.as_default().update(account, id, body).await
    }

    pub async fn delete(&self, account: &str, id: &str) -> Reply {
        self.as_default().delete(account, id).await
    }

    /// Sends a request to `{address}{base_path}{path}` with the app's token.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        self.as_default().call(method, path, body).await
    }

    /// Creates a token in the app's database, as `ztrisk token create` does, and returns its
    /// id and secret.
    pub async fn issue_token(
        &self,
        permission: Permission,
        scope: AccountScope,
        expires_at: Option<chrono::DateTime<chrono::Utc>>,
    ) -> (String, String) {
        let issued =
            ztrisk::auth::issue_token(&self.settings, "test", permission, scope, expires_at)
                .await
                .expect("token created");
        (issued.id.to_string(), issued.secret.expose().to_owned())
    }

    /// Revokes a token in the app's database, as `ztrisk token revoke` does.
    pub async fn revoke_token(&self, id: &str) {
        let id = ztrisk::domain::TokenId::parse(id).expect("valid token id");
        let outcome = ztrisk::auth::revoke(&self.settings, &id)
            .await
            .expect("token revoked");
        assert_eq!(outcome, ztrisk::store::RevokeOutcome::Revoked);
    }

    /// Reads every integration row as text, to compare the database before and after a
    /// request.
    pub async fn integration_rows(&self) -> Vec<String> {
        use sqlx::Connection;
        let url = format!("sqlite://{}?mode=ro", self.database_path().display());
        let mut connection = sqlx::SqliteConnection::connect(&url)
            .await
            .expect("database opens");
        let rows: Vec<(String, String, String, String, i64, String)> = sqlx::query_as(
            "SELECT id, account_tag, reference_id, tenant_url, active, created_at
             FROM integrations ORDER BY id",
        )
        .fetch_all(&mut connection)
        .await
        .expect("integrations read");
        connection.close().await.expect("connection closes");
        rows.into_iter().map(|row| format!("{row:?}")).collect()
    }

    /// Returns a caller that sends the app's token, as the methods of `TestApp` do.
    pub fn as_default(&self) -> Caller<'_> {
        Caller {
            app: self,
            client: self.client.clone(),
        }
    }

    /// Returns a caller that sends no authentication headers.
    pub fn as_anonymous(&self) -> Caller<'_> {
        self.with_headers(&[])
    }

    /// Returns a caller that sends `Authorization: Bearer {secret}`.
    pub fn with_token(&self, secret: &str) -> Caller<'_> {
        self.with_headers(&[("authorization", &format!("Bearer {secret}"))])
    }

    /// Returns a caller that sends exactly `headers`, and no token unless they contain one.
    pub fn with_headers(&self, headers: &[(&str, &str)]) -> Caller<'_> {
        let mut map = HeaderMap::new();
        for (name, value) in headers {
            let name = HeaderName::from_bytes(name.as_bytes()).expect("valid header name");
            map.append(
                name,
                HeaderValue::from_str(value).expect("valid header value"),
            );
        }
        let client = reqwest::Client::builder()
            .default_headers(map)
            .build()
            .expect("HTTP client");
        Caller { app: self, client }
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

impl Caller<'_> {
    pub async fn create(&self, account: &str, body: &Value) -> Reply {
        let request = self
            .client
            .post(self.app.integrations_url(account))
            .json(body);
        read(request.send().await.expect("request sent")).await
    }

    pub async fn list(&self, account: &str) -> Reply {
        let request = self.client.get(self.app.integrations_url(account));
        read(request.send().await.expect("request sent")).await
    }

    pub async fn get(&self, account: &str, id: &str) -> Reply {
        let url = format!("{}/{id}", self.app.integrations_url(account));
        read(self.client.get(url).send().await.expect("request sent")).await
    }

    /// Gets by reference id; `encoded` is put in the path as given, already percent-encoded.
    pub async fn get_by_reference_id(&self, account: &str, encoded: &str) -> Reply {
        let url = format!(
            "{}/reference_id/{encoded}",
            self.app.integrations_url(account)
        );
        read(self.client.get(url).send().await.expect("request sent")).await
    }

    pub async fn update(&self, account: &str, id: &str, body: &Value) -> Reply {
        let url = format!("{}/{id}", self.app.integrations_url(account));
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
        let url = format!("{}/{id}", self.app.integrations_url(account));
        read(self.client.delete(url).send().await.expect("request sent")).await
    }

    /// Sends a request to `{address}{base_path}{path}`, with `body` as JSON if given.
    pub async fn call(&self, method: Method, path: &str, body: Option<&Value>) -> Reply {
        let url = format!(
            "{}{}{path}",
            self.app.address, self.app.settings.server.base_path
        );
        let mut request = self.client.request(method, url);
        if let Some(body) = body {
            request = request.json(body);
        }
        read(request.send().await.expect("request sent")).await
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
