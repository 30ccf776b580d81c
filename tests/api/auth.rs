//! API token checks on every route: each way a request can lack a valid token is rejected
//! with Cloudflare's status and code, and leaves the database as it was.

use chrono::{Duration, Utc};
use reqwest::{Method, StatusCode};
use serde_json::{json, Value};
use ztrisk::domain::{AccountScope, AccountTag, Permission, TokenSecret};

use crate::helpers::{account, create_body, spawn_app, start_in, Caller, Reply, TestApp};

/// An app with one integration in `account` and a token for each way of being rejected.
struct Fixture {
    app: TestApp,
    account: String,
    integration_id: String,
    /// A read token for `account`.
    read: String,
    /// An edit token for another account only.
    other_account: String,
    revoked: String,
    expired: String,
}

async fn fixture() -> Fixture {
    let app = spawn_app().await;
    let account = account(1);
    let created = app.create_ok(&account, &create_body("okta-prod")).await;
    let integration_id = created["id"].as_str().expect("id").to_owned();
    let (_, read) = app
        .issue_token(Permission::Read, scope_of(&account), None)
        .await;
    let (_, other_account) = app
        .issue_token(
            Permission::Edit,
            scope_of(&crate::helpers::account(2)),
            None,
        )
        .await;
    let (revoked_id, revoked) = app
        .issue_token(Permission::Edit, AccountScope::All, None)
        .await;
    app.revoke_token(&revoked_id).await;
    let expired_at = Utc::now() - Duration::minutes(1);
    let (_, expired) = app
        .issue_token(Permission::Edit, AccountScope::All, Some(expired_at))
        .await;
    Fixture {
        app,
        account,
        integration_id,
        read,
        other_account,
        revoked,
        expired,
    }
}

fn scope_of(account: &str) -> AccountScope {
    let tag = AccountTag::parse(account).expect("valid account tag");
    AccountScope::accounts(vec![tag]).expect("one account")
}

/// One of the six integration routes, with a body that would succeed with a valid token.
struct Route {
    label: &'static str,
    method: Method,
    path: String,
    body: Option<Value>,
}

impl Route {
    fn is_write(&self) -> bool {
        self.method != Method::GET
    }

    async fn send(&self, caller: &Caller<'_>) -> Reply {
        caller
            .call(self.method.clone(), &self.path, self.body.as_ref())
            .await
    }
}

fn routes(account: &str, id: &str) -> Vec<Route> {
    let base = format!("/accounts/{account}/zt_risk_scoring/integrations");
    vec![
        Route {
            label: "list",
            method: Method::GET,
            path: base.clone(),
            body: None,
        },
        Route {
            label: "create",
            method: Method::POST,
            path: base.clone(),
            body: Some(create_body("okta-new")),
        },
        Route {
            label: "get",
            method: Method::GET,
            path: format!("{base}/{id}"),
            body: None,
        },
        Route {
            label: "get by reference id",
            method: Method::GET,
            path: format!("{base}/reference_id/okta-prod"),
            body: None,
        },
        Route {
            label: "update",
            method: Method::PUT,
            path: format!("{base}/{id}"),
            body: Some(json!({"tenant_url": "https://changed.okta.com", "active": false})),
        },
        Route {
            label: "delete",
            method: Method::DELETE,
            path: format!("{base}/{id}"),
            body: None,
        },
    ]
}

/// Asserts a rejection with `status` and `code` that reveals nothing about the integration.
fn assert_rejected(reply: &Reply, status: StatusCode, code: u64, label: &str, fixture: &Fixture) {
    let body = reply.body.to_string();
    assert_eq!(reply.status, status, "{label}: {body}");
    assert_eq!(reply.body["success"], false, "{label}: {body}");
    assert!(reply.body["result"].is_null(), "{label}: {body}");
    assert_eq!(reply.body["errors"][0]["code"], code, "{label}: {body}");
    assert_eq!(
        reply.headers.get("x-should-retry").map(|v| v.as_bytes()),
        Some(&b"false"[..]),
        "{label}: x-should-retry"
    );
    assert!(
        !body.contains(&fixture.integration_id),
        "{label}: leaks the id: {body}"
    );
    assert!(
        !body.contains("okta.com"),
        "{label}: leaks the tenant: {body}"
    );
}

/// Sends every route with `caller` and asserts each is rejected, and the database unchanged.
async fn assert_every_route_rejected(
    fixture: &Fixture,
    caller: Caller<'_>,
    status: StatusCode,
    code: u64,
) {
    let before = fixture.app.integration_rows().await;

    for route in routes(&fixture.account, &fixture.integration_id) {
        let reply = route.send(&caller).await;
        assert_rejected(&reply, status, code, route.label, fixture);
    }

    assert_eq!(fixture.app.integration_rows().await, before);
}

#[tokio::test]
async fn no_header_rejected_on_every_route() {
    let fixture = fixture().await;

    let caller = fixture.app.as_anonymous();

    assert_every_route_rejected(&fixture, caller, StatusCode::BAD_REQUEST, 9106).await;
}

#[tokio::test]
async fn malformed_header_rejected_on_every_route() {
    let fixture = fixture().await;
    let secret = fixture.app.token.clone();
    let values = [
        ("basic scheme", format!("Basic {secret}")),
        ("no scheme", secret.clone()),
        ("scheme only", "Bearer".to_owned()),
        ("short token", "Bearer abc123".to_owned()),
        ("invalid character", format!("Bearer {secret}=")),
    ];

    for (label, value) in values {
        let caller = fixture.app.with_headers(&[("authorization", &value)]);
        let before = fixture.app.integration_rows().await;
        for route in routes(&fixture.account, &fixture.integration_id) {
            let reply = route.send(&caller).await;

            let case = format!("{label}, {}", route.label);
            assert_rejected(&reply, StatusCode::BAD_REQUEST, 6003, &case, &fixture);
            let chain = &reply.body["errors"][0]["error_chain"];
            assert_eq!(chain[0]["code"], 6111, "{case}: {}", reply.body);
            let message = chain[0]["message"].as_str().unwrap_or_default();
            assert!(message.contains("Bearer"), "{case}: {message}");
            assert!(!reply.body.to_string().contains(&secret), "{case}: echoes");
        }
        assert_eq!(fixture.app.integration_rows().await, before, "{label}");
    }
}

#[tokio::test]
async fn unknown_token_rejected_on_every_route() {
    let fixture = fixture().await;
    let unknown = TokenSecret::generate();

    let caller = fixture.app.with_token(unknown.expose());

    assert_every_route_rejected(&fixture, caller, StatusCode::UNAUTHORIZED, 10000).await;
}

#[tokio::test]
async fn revoked_token_rejected_on_every_route() {
    let fixture = fixture().await;

    let caller = fixture.app.with_token(&fixture.revoked);

    assert_every_route_rejected(&fixture, caller, StatusCode::UNAUTHORIZED, 10000).await;
}

#[tokio::test]
async fn expired_token_rejected_on_every_route() {
    let fixture = fixture().await;

    let caller = fixture.app.with_token(&fixture.expired);

    assert_every_route_rejected(&fixture, caller, StatusCode::UNAUTHORIZED, 10000).await;
}

#[tokio::test]
async fn other_account_token_rejected_on_every_route() {
    let fixture = fixture().await;

    let caller = fixture.app.with_token(&fixture.other_account);

    assert_every_route_rejected(&fixture, caller, StatusCode::FORBIDDEN, 9109).await;
}

#[tokio::test]
async fn read_token_rejected_on_write_routes() {
    let fixture = fixture().await;
    let caller = fixture.app.with_token(&fixture.read);
    let before = fixture.app.integration_rows().await;

    let mut writes = 0;
    for route in routes(&fixture.account, &fixture.integration_id) {
        let reply = route.send(&caller).await;
        if route.is_write() {
            writes += 1;
            assert_rejected(&reply, StatusCode::FORBIDDEN, 10000, route.label, &fixture);
            let message = reply.body["errors"][0]["message"]
                .as_str()
                .unwrap_or_default();
            assert!(message.contains("read-only"), "{}: {message}", route.label);
        } else {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "{}: {}",
                route.label,
                reply.body
            );
        }
    }

    assert_eq!(writes, 3);
    assert_eq!(fixture.app.integration_rows().await, before);
}

#[tokio::test]
async fn unauthorized_response_asks_for_bearer() {
    let fixture = fixture().await;

    let reply = fixture
        .app
        .with_token(&fixture.revoked)
        .list(&fixture.account)
        .await;

    let challenge = reply.headers.get("www-authenticate").map(|v| v.as_bytes());
    assert_eq!(challenge, Some(&b"Bearer"[..]));
}

/// A label, the headers to send, and the codes expected in `error_chain`.
type HeaderCase = (
    &'static str,
    &'static [(&'static str, &'static str)],
    &'static [u64],
);

#[tokio::test]
async fn global_api_key_headers_rejected() {
    let fixture = fixture().await;
    let cases: [HeaderCase; 3] = [
        (
            "email and key",
            &[("x-auth-email", "a@example.com"), ("x-auth-key", "k")],
            &[6102, 6103],
        ),
        ("key only", &[("x-auth-key", "0123456789abcdef")], &[6103]),
        (
            "key beside token",
            &[("x-auth-key", "k"), ("authorization", "Bearer x")],
            &[6103],
        ),
    ];

    for (label, headers, chain_codes) in cases {
        let reply = fixture
            .app
            .with_headers(headers)
            .list(&fixture.account)
            .await;

        assert_rejected(&reply, StatusCode::BAD_REQUEST, 6003, label, &fixture);
        let chain = reply.body["errors"][0]["error_chain"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let codes: Vec<u64> = chain.iter().filter_map(|e| e["code"].as_u64()).collect();
        assert_eq!(codes, chain_codes, "{label}");
        let message = chain[0]["message"].as_str().unwrap_or_default();
        assert!(message.contains("API tokens only"), "{label}: {message}");
    }
}

#[tokio::test]
async fn other_account_reveals_no_existence() {
    let fixture = fixture().await;
    let caller = fixture.app.with_token(&fixture.other_account);
    let missing_id = uuid::Uuid::new_v4().to_string();
    let empty_account = account(3);

    let existing = caller.get(&fixture.account, &fixture.integration_id).await;
    let missing = caller.get(&fixture.account, &missing_id).await;
    let existing_list = caller.list(&fixture.account).await;
    let empty_list = caller.list(&empty_account).await;

    assert_eq!(existing.status, StatusCode::FORBIDDEN);
    assert_eq!(existing.status, missing.status);
    assert_eq!(existing.body, missing.body);
    assert_eq!(existing_list.status, empty_list.status);
    assert_eq!(existing_list.body, empty_list.body);
}

#[tokio::test]
async fn malformed_account_checks_token_first() {
    let fixture = fixture().await;
    let path = "/accounts/not-an-account/zt_risk_scoring/integrations";
    let scoped = fixture.app.with_token(&fixture.read);

    let anonymous = fixture
        .app
        .as_anonymous()
        .call(Method::GET, path, None)
        .await;
    let unknown = fixture
        .app
        .with_token(TokenSecret::generate().expose())
        .call(Method::GET, path, None)
        .await;
    let all_accounts = fixture.app.call(Method::GET, path, None).await;
    let scoped = scoped.call(Method::GET, path, None).await;

    anonymous.assert_error(StatusCode::BAD_REQUEST, 9106);
    unknown.assert_error(StatusCode::UNAUTHORIZED, 10000);
    all_accounts.assert_error(StatusCode::BAD_REQUEST, 7003);
    scoped.assert_error(StatusCode::BAD_REQUEST, 7003);
}

#[tokio::test]
async fn encoded_account_cannot_escape_scope() {
    let fixture = fixture().await;
    let other = account(2);
    fixture.app.create_ok(&other, &create_body("other")).await;
    let caller = fixture.app.with_token(&fixture.read);
    // Percent-encodes every character of the other account's tag, and then its upper case.
    let encoded: String = other.bytes().map(|b| format!("%{b:02X}")).collect();
    let cases = [
        ("percent-encoded", encoded),
        ("uppercase", other.to_ascii_uppercase()),
    ];

    for (label, tag) in cases {
        let path = format!("/accounts/{tag}/zt_risk_scoring/integrations");

        let reply = caller.call(Method::GET, &path, None).await;

        let shown = format!("{label}: {}", reply.body);
        assert_eq!(reply.status, StatusCode::FORBIDDEN, "{shown}");
        assert_eq!(reply.body["errors"][0]["code"], 9109, "{shown}");
    }
}

#[tokio::test]
async fn scoped_token_accepts_uppercase_account() {
    let fixture = fixture().await;
    let caller = fixture.app.with_token(&fixture.read);

    let reply = caller.list(&fixture.account.to_ascii_uppercase()).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["result"].as_array().map(Vec::len), Some(1));
}

#[tokio::test]
async fn unknown_route_requires_token() {
    let app = spawn_app().await;

    let anonymous = app.as_anonymous().call(Method::GET, "/zones", None).await;
    let authenticated = app.call(Method::GET, "/zones", None).await;

    anonymous.assert_error(StatusCode::BAD_REQUEST, 9106);
    authenticated.assert_error(StatusCode::NOT_FOUND, 7000);
}

#[tokio::test]
async fn health_routes_need_no_token() {
    let app = spawn_app().await;
    let client = reqwest::Client::new();

    for path in ["/healthz", "/readyz"] {
        let response = client
            .get(format!("{}{path}", app.address))
            .send()
            .await
            .expect("request sent");

        assert_eq!(response.status(), StatusCode::OK, "{path}");
    }
}

#[tokio::test]
async fn user_verify_returns_token_status() {
    let app = spawn_app().await;

    let reply = app.call(Method::GET, "/user/tokens/verify", None).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["success"], true);
    assert_eq!(
        reply.body["result"],
        json!({"id": app.token_id, "status": "active"})
    );
    assert_eq!(
        reply.body["messages"],
        json!([{"code": 10000, "message": "This API Token is valid and active", "type": null}])
    );
    assert_eq!(reply.body["errors"], json!([]));
}

#[tokio::test]
async fn account_verify_shows_expiry() {
    let fixture = fixture().await;
    let expires_at = Utc::now() + Duration::days(30);
    let (id, secret) = fixture
        .app
        .issue_token(
            Permission::Read,
            scope_of(&fixture.account),
            Some(expires_at),
        )
        .await;
    let caller = fixture.app.with_token(&secret);
    let own = format!("/accounts/{}/tokens/verify", fixture.account);
    let other = format!("/accounts/{}/tokens/verify", account(2));

    let verified = caller.call(Method::GET, &own, None).await;
    let other_account = caller.call(Method::GET, &other, None).await;

    assert_eq!(verified.status, StatusCode::OK, "{}", verified.body);
    assert_eq!(verified.body["result"]["id"], id);
    assert_eq!(verified.body["result"]["status"], "active");
    assert_eq!(
        verified.body["result"]["expires_on"],
        ztrisk::store::format_timestamp(&expires_at)
    );
    other_account.assert_error(StatusCode::FORBIDDEN, 9109);
}

#[tokio::test]
async fn verify_rejects_invalid_tokens() {
    let fixture = fixture().await;
    let cases = [
        ("revoked", fixture.revoked.clone()),
        ("expired", fixture.expired.clone()),
        ("unknown", TokenSecret::generate().expose().to_owned()),
    ];

    for (label, secret) in cases {
        let reply = fixture
            .app
            .with_token(&secret)
            .call(Method::GET, "/user/tokens/verify", None)
            .await;

        assert_rejected(&reply, StatusCode::UNAUTHORIZED, 10000, label, &fixture);
    }
}

/// Issues a token, as `ztrisk token create` does, and lists `account` with it before and
/// right after revoking it.
async fn list_around_revoke(app: &TestApp, account: &str) -> (Reply, Reply) {
    let (id, secret) = app
        .issue_token(Permission::Edit, AccountScope::All, None)
        .await;
    let before_revoke = app.with_token(&secret).list(account).await;
    app.revoke_token(&id).await;
    let after_revoke = app.with_token(&secret).list(account).await;
    (before_revoke, after_revoke)
}

#[tokio::test]
async fn token_changes_apply_on_next_request() {
    let app = spawn_app().await;
    let account = account(1);

    // Each round checks a new token and a revocation on the very next request, so a check
    // that kept reading an old copy of the tokens fails in some round.
    for round in 0..20 {
        let (before_revoke, after_revoke) = list_around_revoke(&app, &account).await;

        assert_eq!(before_revoke.status, StatusCode::OK, "round {round}");
        assert_eq!(
            after_revoke.status,
            StatusCode::UNAUTHORIZED,
            "round {round}"
        );
        assert_eq!(
            after_revoke.body["errors"][0]["code"], 10000,
            "round {round}"
        );
    }
}

#[tokio::test]
async fn revoke_applies_after_unchanged_requests() {
    let app = spawn_app().await;
    let account = account(1);
    let (id, secret) = app
        .issue_token(Permission::Edit, AccountScope::All, None)
        .await;
    let caller = app.with_token(&secret);

    // The first request reads the token counter. The later ones find the database unchanged
    // and skip that read, and the revocation below must still apply on the next request.
    let mut replies = Vec::new();
    for _ in 0..3 {
        replies.push(caller.list(&account).await);
    }
    replies.push(caller.create(&account, &create_body("between")).await);
    for _ in 0..3 {
        replies.push(caller.list(&account).await);
    }
    let connection = rusqlite::Connection::open(app.database_path()).expect("database opens");
    let revoked = connection
        .execute(
            "UPDATE api_tokens SET revoked_at = '2026-01-01T00:00:00.000000Z' WHERE id = ?1",
            [&id],
        )
        .expect("token revoked");
    let after_revoke = caller.list(&account).await;

    for (index, reply) in replies.iter().enumerate() {
        assert_eq!(
            reply.status,
            StatusCode::OK,
            "request {index}: {}",
            reply.body
        );
    }
    assert_eq!(revoked, 1);
    after_revoke.assert_error(StatusCode::UNAUTHORIZED, 10000);
}

#[tokio::test]
async fn integration_writes_keep_tokens_valid() {
    let app = spawn_app().await;
    let account = account(1);
    let (_, read) = app
        .issue_token(Permission::Read, scope_of(&account), None)
        .await;

    app.create_ok(&account, &create_body("first")).await;
    let listed = app.with_token(&read).list(&account).await;
    app.create_ok(&account, &create_body("second")).await;
    let listed_again = app.with_token(&read).list(&account).await;

    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed_again.status, StatusCode::OK);
    assert_eq!(
        listed_again.body["result"].as_array().map(Vec::len),
        Some(2)
    );
}

#[tokio::test]
async fn use_records_last_used_time() {
    let app = spawn_app().await;
    let started = Utc::now() - Duration::seconds(1);

    let reply = app.list(&account(1)).await;

    assert_eq!(reply.status, StatusCode::OK);
    let last_used = wait_for_last_used(&app).await;
    let last_used = chrono::DateTime::parse_from_rfc3339(&last_used).expect("RFC 3339 time");
    assert!(last_used >= started, "{last_used} is before {started}");
}

/// Polls the app token's `last_used_at` for up to five seconds.
async fn wait_for_last_used(app: &TestApp) -> String {
    use sqlx::Connection;
    let url = format!("sqlite://{}?mode=ro", app.database_path().display());
    let mut connection = sqlx::SqliteConnection::connect(&url)
        .await
        .expect("database opens");
    for _ in 0..100 {
        let last_used: Option<String> =
            sqlx::query_scalar("SELECT last_used_at FROM api_tokens WHERE id = ?1")
                .bind(&app.token_id)
                .fetch_one(&mut connection)
                .await
                .expect("token row");
        if let Some(last_used) = last_used {
            return last_used;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    panic!("last_used_at was not written within 5 seconds");
}

#[tokio::test]
async fn encoded_database_url_uses_one_file() {
    // sqlx reads `%20` in database.url as a space. The token check and the readers must open
    // that same file, or a revocation by `ztrisk token` never reaches the daemon.
    let folder = tempfile::tempdir().expect("temporary folder");
    std::fs::create_dir(folder.path().join("my data")).expect("folder created");
    let app = start_in(
        folder,
        |settings| {
            let url = settings
                .database
                .url
                .replace("ztrisk.db", "my%20data/ztrisk.db");
            settings.database.url = url;
        },
        |_| {},
    )
    .await;
    let account = account(1);

    let created = app.create(&account, &create_body("spaced")).await;
    let id = created.body["result"]["id"].as_str().unwrap_or_default();
    let fetched = app.get(&account, id).await;
    let (before_revoke, after_revoke) = list_around_revoke(&app, &account).await;
    let folder = app.stop().await;

    assert_eq!(created.status, StatusCode::OK, "{}", created.body);
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    assert_eq!(
        before_revoke.status,
        StatusCode::OK,
        "{}",
        before_revoke.body
    );
    assert_eq!(after_revoke.status, StatusCode::UNAUTHORIZED);
    assert!(folder.path().join("my data/ztrisk.db").is_file());
    assert!(!folder.path().join("my%20data").exists());
}
