use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{account, create_body, spawn_app};

#[tokio::test]
async fn delete_removes_integration() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("gone")).await;
    let id = created["id"].as_str().expect("id");

    let reply = app.delete(&account(1), id).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["result"], json!({}));
    app.get(&account(1), id)
        .await
        .assert_error(StatusCode::NOT_FOUND, 1005);
    assert_eq!(app.list(&account(1)).await.body["result"], json!([]));
}

#[tokio::test]
async fn delete_frees_reference_id() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("reused")).await;

    app.delete(&account(1), created["id"].as_str().expect("id"))
        .await;
    let again = app.create(&account(1), &create_body("reused")).await;

    assert_eq!(again.status, StatusCode::OK, "{}", again.body);
}

#[tokio::test]
async fn second_delete_is_not_found() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("r")).await;
    let id = created["id"].as_str().expect("id");
    app.delete(&account(1), id).await;

    let reply = app.delete(&account(1), id).await;

    reply.assert_error(StatusCode::NOT_FOUND, 1005);
    assert_eq!(reply.headers["x-should-retry"], "false");
}

#[tokio::test]
async fn delete_from_other_account_is_not_found() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("r")).await;
    let id = created["id"].as_str().expect("id");

    let reply = app.delete(&account(2), id).await;

    reply.assert_error(StatusCode::NOT_FOUND, 1005);
    assert_eq!(app.get(&account(1), id).await.body["result"], created);
}

#[tokio::test]
async fn delete_rejects_malformed_id() {
    let app = spawn_app().await;

    let reply = app.delete(&account(1), "1234").await;

    reply.assert_error(StatusCode::BAD_REQUEST, 7003);
}
