use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{account, create_body, spawn_app};

#[tokio::test]
async fn list_of_new_account_is_empty() {
    let app = spawn_app().await;

    let reply = app.list(&account(1)).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["result"], json!([]));
}

#[tokio::test]
async fn list_orders_by_created_at_then_id() {
    let app = spawn_app().await;
    let account = account(1);
    for n in 0..12 {
        app.create_ok(&account, &create_body(&format!("r{n}")))
            .await;
    }

    let reply = app.list(&account).await;

    let listed = reply.body["result"].as_array().expect("array").clone();
    assert_eq!(listed.len(), 12);
    let keys: Vec<(String, String)> = listed
        .iter()
        .map(|i| (i["created_at"].to_string(), i["id"].to_string()))
        .collect();
    let mut sorted = keys.clone();
    sorted.sort();
    assert_eq!(keys, sorted);
}

#[tokio::test]
async fn list_shows_only_own_account() {
    let app = spawn_app().await;
    let mine = app.create_ok(&account(1), &create_body("mine")).await;
    app.create_ok(&account(2), &create_body("theirs")).await;

    let reply = app.list(&account(1)).await;

    assert_eq!(reply.body["result"], json!([mine]));
}

#[tokio::test]
async fn list_matches_account_tag_in_any_case() {
    let app = spawn_app().await;
    let lower = "abcdef0123456789abcdef0123456789";
    let created = app.create_ok(lower, &create_body("r")).await;

    let reply = app.list(&lower.to_ascii_uppercase()).await;

    assert_eq!(reply.body["result"], json!([created]));
    assert_eq!(created["account_tag"], lower);
}

#[tokio::test]
async fn list_rejects_malformed_account_id() {
    let app = spawn_app().await;

    let reply = app.list("not-an-account").await;

    reply.assert_error(StatusCode::BAD_REQUEST, 7003);
    assert_eq!(reply.headers["x-should-retry"], "false");
}
