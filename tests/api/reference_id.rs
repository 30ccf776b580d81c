use reqwest::StatusCode;

use crate::helpers::{account, create_body, spawn_app};

#[tokio::test]
async fn get_by_reference_id_returns_integration() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("okta-prod")).await;

    let reply = app.get_by_reference_id(&account(1), "okta-prod").await;

    assert_eq!(reply.status, StatusCode::OK);
    assert_eq!(reply.body["result"], created);
}

#[tokio::test]
async fn get_by_reference_id_decodes_once() {
    let app = spawn_app().await;
    let cases = [
        ("slash", "team/prod", "team%2Fprod"),
        ("space", "okta prod", "okta%20prod"),
        ("plus stays plus", "a+b", "a+b"),
        ("non-ASCII", "équipe-東京", "%C3%A9quipe-%E6%9D%B1%E4%BA%AC"),
        ("percent sign", "100%", "100%25"),
        ("encoded escape", "a%2Fb", "a%252Fb"),
        ("dot segments", "../x", "..%2Fx"),
        ("question mark", "why?", "why%3F"),
        (
            "SQL",
            "'; DROP TABLE integrations; --",
            "%27%3B%20DROP%20TABLE%20integrations%3B%20--",
        ),
    ];
    for (_, reference_id, _) in cases {
        app.create_ok(&account(1), &create_body(reference_id)).await;
    }

    for (label, reference_id, encoded) in cases {
        let reply = app.get_by_reference_id(&account(1), encoded).await;

        assert_eq!(reply.status, StatusCode::OK, "{label}: {}", reply.body);
        assert_eq!(
            reply.body["result"]["reference_id"], reference_id,
            "{label}"
        );
    }
}

#[tokio::test]
async fn get_by_longest_reference_id() {
    let app = spawn_app().await;
    let reference_id = "東".repeat(255);
    app.create_ok(&account(1), &create_body(&reference_id))
        .await;
    let encoded: String = reference_id.bytes().map(|b| format!("%{b:02X}")).collect();

    let reply = app.get_by_reference_id(&account(1), &encoded).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    assert_eq!(reply.body["result"]["reference_id"], reference_id);
}

#[tokio::test]
async fn get_by_unknown_reference_id_is_not_found() {
    let app = spawn_app().await;
    app.create_ok(&account(1), &create_body("known")).await;

    let unknown = app.get_by_reference_id(&account(1), "unknown").await;
    let other_account = app.get_by_reference_id(&account(2), "known").await;

    unknown.assert_error(StatusCode::NOT_FOUND, 1005);
    other_account.assert_error(StatusCode::NOT_FOUND, 1005);
}

#[tokio::test]
async fn get_by_reference_id_rejects_invalid_ids() {
    let app = spawn_app().await;
    let too_long = "r".repeat(256);
    let cases = [
        ("NUL", "a%00b"),
        ("newline", "a%0Ab"),
        ("invalid UTF-8", "%FF%FE"),
        ("too long", too_long.as_str()),
    ];

    for (label, encoded) in cases {
        let reply = app.get_by_reference_id(&account(1), encoded).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{label}: {}",
            reply.body
        );
        assert_eq!(reply.error_codes(), [7003], "{label}");
    }
}
