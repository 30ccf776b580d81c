use reqwest::StatusCode;

use crate::helpers::{account, create_body, spawn_app};

const UNKNOWN_ID: &str = "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e";

#[tokio::test]
async fn get_returns_created_integration() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("r")).await;
    let id = created["id"].as_str().expect("id");

    let reply = app.get(&account(1), id).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["result"], created);
}

#[tokio::test]
async fn get_accepts_uppercase_id() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("r")).await;
    let id = created["id"].as_str().expect("id").to_ascii_uppercase();

    let reply = app.get(&account(1), &id).await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["result"], created);
}

#[tokio::test]
async fn get_unknown_id_is_not_found() {
    let app = spawn_app().await;

    let reply = app.get(&account(1), UNKNOWN_ID).await;

    reply.assert_error(StatusCode::NOT_FOUND, 1005);
    assert_eq!(reply.headers["x-should-retry"], "false");
}

#[tokio::test]
async fn get_from_other_account_is_not_found() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("r")).await;

    let reply = app
        .get(&account(2), created["id"].as_str().expect("id"))
        .await;

    reply.assert_error(StatusCode::NOT_FOUND, 1005);
}

#[tokio::test]
async fn get_rejects_malformed_ids() {
    let app = spawn_app().await;
    let cases = [
        ("not a uuid", account(1), "not-a-uuid".to_owned()),
        ("simple uuid", account(1), UNKNOWN_ID.replace('-', "")),
        ("braced uuid", account(1), format!("{{{UNKNOWN_ID}}}")),
        ("bad account", "123".to_owned(), UNKNOWN_ID.to_owned()),
    ];

    for (label, account, id) in cases {
        let reply = app.get(&account, &id).await;

        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{label}");
        assert_eq!(reply.error_codes(), [7003], "{label}");
    }
}
