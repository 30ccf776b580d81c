use actix_web::{web, HttpResponse};
use reqwest::{Method, StatusCode};
use sqlx::{Connection, Executor, SqliteConnection};

use crate::helpers::{account, create_body, spawn_app, spawn_app_with, start_in};

const ID: &str = "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e";

#[tokio::test]
async fn unknown_route_is_json_404() {
    let app = spawn_app().await;
    let paths = [
        "/nope".to_owned(),
        "/client/v4".to_owned(),
        "/client/v4/accounts".to_owned(),
        format!("/client/v4/accounts/{}/zt_risk_scoring", account(1)),
        format!(
            "/client/v4/accounts/{}/zt_risk_scoring/integrations/",
            account(1)
        ),
        format!(
            "/client/v4/accounts/{}/zt_risk_scoring/integrations/{ID}/x",
            account(1)
        ),
        format!(
            "/client/v4/accounts/{}/zt_risk_scoring/integrations/reference_id/",
            account(1)
        ),
    ];

    for path in paths {
        let reply = app.send(app.client.get(app.url(&path))).await;

        reply.assert_error(StatusCode::NOT_FOUND, 7000);
        assert_eq!(reply.headers["x-should-retry"], "false", "{path}");
    }
}

#[tokio::test]
async fn wrong_method_is_json_405_with_allow() {
    let app = spawn_app().await;
    let base = app.integrations_url(&account(1));
    let cases = [
        (Method::PUT, base.clone(), "GET, POST"),
        (Method::DELETE, base.clone(), "GET, POST"),
        (Method::PATCH, base.clone(), "GET, POST"),
        (Method::POST, format!("{base}/{ID}"), "GET, PUT, DELETE"),
        (Method::PATCH, format!("{base}/{ID}"), "GET, PUT, DELETE"),
        (Method::DELETE, format!("{base}/reference_id/r"), "GET"),
        (Method::POST, app.url("/healthz"), "GET"),
        (Method::DELETE, app.url("/readyz"), "GET"),
    ];

    for (method, url, allow) in cases {
        let reply = app.send(app.client.request(method.clone(), &url)).await;

        reply.assert_error(StatusCode::METHOD_NOT_ALLOWED, 7001);
        assert_eq!(reply.headers["allow"], allow, "{method} {url}");
    }
}

#[tokio::test]
async fn health_routes_answer() {
    let app = spawn_app().await;

    let health = app.send(app.client.get(app.url("/healthz"))).await;
    let ready = app.send(app.client.get(app.url("/readyz"))).await;

    assert_eq!(health.status, StatusCode::OK);
    assert_eq!(health.body["result"]["status"], "ok");
    assert_eq!(ready.status, StatusCode::OK);
    assert_eq!(ready.body["result"]["status"], "ready");
}

#[tokio::test]
async fn base_path_is_configurable() {
    let app = spawn_app_with(|s| s.server.base_path = "/api".into()).await;

    let moved = app.create(&account(1), &create_body("r")).await;
    let old = app
        .send(app.client.get(app.url(&format!(
            "/client/v4/accounts/{}/zt_risk_scoring/integrations",
            account(1)
        ))))
        .await;

    assert!(app.integrations_url(&account(1)).contains("/api/accounts/"));
    assert_eq!(moved.status, StatusCode::OK);
    old.assert_error(StatusCode::NOT_FOUND, 7000);
}

#[tokio::test]
async fn request_id_is_returned() {
    let app = spawn_app().await;
    let url = app.integrations_url(&account(1));

    let generated = app.send(app.client.get(&url)).await;
    let supplied = app
        .send(app.client.get(&url).header("x-request-id", "trace-123"))
        .await;
    let failed = app.send(app.client.get(app.url("/nope"))).await;

    let id = generated.headers["x-request-id"].to_str().expect("ASCII");
    assert!(uuid::Uuid::try_parse(id).is_ok(), "{id}");
    assert_eq!(supplied.headers["x-request-id"], "trace-123");
    assert!(failed.headers.contains_key("x-request-id"));
}

#[tokio::test]
async fn sdk_headers_are_tolerated() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("r")).await;
    let url = format!(
        "{}/{}",
        app.integrations_url(&account(1)),
        created["id"].as_str().unwrap()
    );
    let with_headers = |request: reqwest::RequestBuilder| {
        request
            .header("content-type", "application/json")
            .header("api-version", "2024-01-01")
            .header("x-stainless-lang", "python")
            .header("x-stainless-retry-count", "0")
            .header("accept", "application/json")
    };

    let listed = app
        .send(with_headers(
            app.client.get(app.integrations_url(&account(1))),
        ))
        .await;
    let fetched = app.send(with_headers(app.client.get(&url))).await;
    let deleted = app.send(with_headers(app.client.delete(&url))).await;

    assert_eq!(listed.status, StatusCode::OK, "{}", listed.body);
    assert_eq!(fetched.status, StatusCode::OK, "{}", fetched.body);
    assert_eq!(deleted.status, StatusCode::OK, "{}", deleted.body);
}

#[tokio::test]
async fn handler_panic_is_json_500() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let app = start_in(
        folder,
        |_| {},
        |config: &mut web::ServiceConfig| {
            config.route("/panic", web::get().to(panicking_handler));
        },
    )
    .await;

    let reply = app.send(app.client.get(app.url("/panic"))).await;
    let after = app.list(&account(1)).await;

    reply.assert_error(StatusCode::INTERNAL_SERVER_ERROR, 1011);
    assert_eq!(after.status, StatusCode::OK);
}

#[tokio::test]
async fn locked_database_is_503() {
    let app = spawn_app_with(|s| s.database.busy_timeout_ms = 200).await;
    let created = app.create_ok(&account(1), &create_body("r")).await;
    let url = format!("sqlite://{}", app.database_path().display());
    let mut locker = SqliteConnection::connect(&url)
        .await
        .expect("second connection");
    locker.execute("BEGIN IMMEDIATE").await.expect("lock taken");

    let write = app.create(&account(1), &create_body("blocked")).await;
    let read = app.list(&account(1)).await;
    locker.execute("ROLLBACK").await.expect("lock released");
    let retried = app.create(&account(1), &create_body("blocked")).await;

    write.assert_error(StatusCode::SERVICE_UNAVAILABLE, 1010);
    assert!(write.headers.contains_key("retry-after"));
    let message = write.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(
        !message.to_ascii_lowercase().contains("sqlite"),
        "{message}"
    );
    assert!(!message.contains(".db"), "{message}");
    assert_eq!(read.status, StatusCode::OK);
    assert_eq!(read.body["result"].as_array().map(Vec::len), Some(1));
    assert_eq!(read.body["result"][0], created);
    assert_eq!(retried.status, StatusCode::OK, "{}", retried.body);
}

async fn panicking_handler() -> HttpResponse {
    panic!("handler panic in a test")
}
