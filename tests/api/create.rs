use chrono::DateTime;
use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{account, create_body, spawn_app, spawn_app_with};

#[tokio::test]
async fn create_returns_integration_object() {
    let app = spawn_app().await;
    let account = account(1);

    let reply = app.create(&account, &create_body("okta-prod")).await;

    assert_eq!(reply.status, StatusCode::OK, "body: {}", reply.body);
    assert_eq!(reply.body["success"], true);
    assert_eq!(reply.body["errors"], json!([]));
    assert_eq!(reply.body["messages"], json!([]));
    let result = &reply.body["result"];
    let id = result["id"].as_str().expect("id is a string");
    let parsed = uuid::Uuid::try_parse(id).expect("id is a UUID");
    assert_eq!(parsed.get_version_num(), 4);
    assert_eq!(id, parsed.hyphenated().to_string());
    assert_eq!(result["account_tag"], account);
    assert_eq!(result["active"], true);
    assert_eq!(result["integration_type"], "Okta");
    assert_eq!(result["reference_id"], "okta-prod");
    assert_eq!(result["tenant_url"], "https://example.okta.com");
    assert_eq!(
        result["well_known_url"],
        format!("https://ztrisk.test/.well-known/sse-configuration/{id}")
    );
    let object = result.as_object().expect("result is an object");
    assert_eq!(object.len(), 8, "unexpected fields: {result}");
}

#[tokio::test]
async fn create_writes_created_at_in_fixed_utc_format() {
    let app = spawn_app().await;

    let result = app.create_ok(&account(1), &create_body("r")).await;

    let created_at = result["created_at"]
        .as_str()
        .expect("created_at is a string");
    let parsed = DateTime::parse_from_rfc3339(created_at).expect("created_at is RFC 3339");
    assert_eq!(parsed.offset().local_minus_utc(), 0);
    // 2026-12-04T14:21:02.118755Z: seconds with six fractional digits, then Z.
    assert_eq!(created_at.len(), 27, "{created_at}");
    assert!(created_at.ends_with('Z'), "{created_at}");
}

#[tokio::test]
async fn create_without_reference_id_generates_uuid() {
    let app = spawn_app().await;
    let account = account(1);
    let bodies = [
        (
            "absent",
            json!({"integration_type": "Okta", "tenant_url": "https://a.okta.com"}),
        ),
        (
            "null",
            json!({"integration_type": "Okta", "tenant_url": "https://b.okta.com",
                   "reference_id": null}),
        ),
    ];

    for (label, body) in bodies {
        let result = app.create_ok(&account, &body).await;

        let reference_id = result["reference_id"].as_str().expect("reference_id");
        let parsed = uuid::Uuid::try_parse(reference_id)
            .unwrap_or_else(|e| panic!("{label}: {reference_id} is not a UUID: {e}"));
        assert_eq!(parsed.get_version_num(), 4, "{label}");
        assert_ne!(reference_id, result["id"], "{label}");
    }
}

#[tokio::test]
async fn create_accepts_type_in_any_case() {
    let app = spawn_app().await;

    for (n, spelling) in ["okta", "OKTA", "oKtA"].into_iter().enumerate() {
        let body = json!({"integration_type": spelling, "tenant_url": "https://a.okta.com",
                          "reference_id": format!("r{n}")});

        let result = app.create_ok(&account(1), &body).await;

        assert_eq!(result["integration_type"], "Okta", "{spelling}");
    }
}

#[tokio::test]
async fn create_takes_active_and_ignores_unknown_fields() {
    let app = spawn_app().await;
    let body = json!({
        "integration_type": "Okta",
        "tenant_url": "https://a.okta.com",
        "reference_id": "inactive",
        "active": false,
        "id": "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e",
        "account_tag": "ffffffffffffffffffffffffffffffff",
        "created_at": "2000-01-01T00:00:00Z",
        "colour": "blue",
    });

    let result = app.create_ok(&account(1), &body).await;

    assert_eq!(result["active"], false);
    assert_ne!(result["id"], "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e");
    assert_eq!(result["account_tag"], account(1));
    assert_ne!(result["created_at"], "2000-01-01T00:00:00Z");
    assert!(result.get("colour").is_none());
}

#[tokio::test]
async fn create_reports_every_invalid_field() {
    let app = spawn_app().await;
    let body = json!({
        "integration_type": 7,
        "tenant_url": "http://example.okta.com",
        "reference_id": "",
        "active": "yes",
    });

    let reply = app.create(&account(1), &body).await;

    reply.assert_error(StatusCode::BAD_REQUEST, 1003);
    assert_eq!(reply.error_codes(), [1003, 1004, 1004, 1003]);
    assert_eq!(
        reply.error_pointers(),
        [
            "/integration_type",
            "/tenant_url",
            "/reference_id",
            "/active"
        ]
    );
    assert_eq!(reply.headers["x-should-retry"], "false");
    assert_eq!(app.list(&account(1)).await.body["result"], json!([]));
}

#[tokio::test]
async fn create_rejects_missing_required_fields() {
    let app = spawn_app().await;
    let cases = [
        ("absent", json!({})),
        (
            "null",
            json!({"integration_type": null, "tenant_url": null}),
        ),
    ];

    for (label, body) in cases {
        let reply = app.create(&account(1), &body).await;

        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{label}");
        assert_eq!(reply.error_codes(), [1002, 1002], "{label}");
        assert_eq!(
            reply.error_pointers(),
            ["/integration_type", "/tenant_url"],
            "{label}"
        );
    }
}

#[tokio::test]
async fn create_rejects_invalid_values() {
    let app = spawn_app().await;
    let long_reference_id = "r".repeat(256);
    let cases = [
        (
            "unsupported type",
            json!({"integration_type": "AzureAD"}),
            "/integration_type",
        ),
        (
            "plain http",
            json!({"tenant_url": "http://a.okta.com"}),
            "/tenant_url",
        ),
        (
            "javascript",
            json!({"tenant_url": "javascript:alert(1)"}),
            "/tenant_url",
        ),
        (
            "credentials",
            json!({"tenant_url": "https://u:p@a.okta.com"}),
            "/tenant_url",
        ),
        (
            "query",
            json!({"tenant_url": "https://a.okta.com/?x=1"}),
            "/tenant_url",
        ),
        (
            "fragment",
            json!({"tenant_url": "https://a.okta.com/#x"}),
            "/tenant_url",
        ),
        ("no host", json!({"tenant_url": "https://"}), "/tenant_url"),
        (
            "long reference id",
            json!({"reference_id": long_reference_id}),
            "/reference_id",
        ),
        (
            "control character",
            json!({"reference_id": "a\u{1}b"}),
            "/reference_id",
        ),
        (
            "empty reference id",
            json!({"reference_id": ""}),
            "/reference_id",
        ),
    ];

    for (label, change, pointer) in cases {
        let mut body = create_body("valid");
        for (key, value) in change.as_object().expect("object") {
            body[key] = value.clone();
        }

        let reply = app.create(&account(1), &body).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{label}: {}",
            reply.body
        );
        assert_eq!(reply.error_codes(), [1004], "{label}");
        assert_eq!(reply.error_pointers(), [pointer], "{label}");
    }
    assert_eq!(app.list(&account(1)).await.body["result"], json!([]));
}

#[tokio::test]
async fn create_accepts_http_when_configured() {
    let app = spawn_app_with(|s| s.integrations.allow_http_tenant_url = true).await;
    let body = json!({"integration_type": "Okta", "tenant_url": "http://127.0.0.1:9000"});

    let result = app.create_ok(&account(1), &body).await;

    assert_eq!(result["tenant_url"], "http://127.0.0.1:9000");
}

#[tokio::test]
async fn create_rejects_malformed_account_id() {
    let app = spawn_app().await;

    for account in [
        "xyz",
        "0123456789abcdef0123456789abcdeg",
        "0123456789abcdef",
    ] {
        let reply = app.create(account, &create_body("r")).await;

        reply.assert_error(StatusCode::BAD_REQUEST, 7003);
        let message = reply.body["errors"][0]["message"]
            .as_str()
            .unwrap_or_default();
        assert!(message.contains("32 hexadecimal characters"), "{message}");
    }
}

#[tokio::test]
async fn duplicate_reference_id_is_conflict() {
    let app = spawn_app().await;
    let first = app.create_ok(&account(1), &create_body("taken")).await;

    let reply = app.create(&account(1), &create_body("taken")).await;

    reply.assert_error(StatusCode::CONFLICT, 1006);
    assert_eq!(reply.headers["x-should-retry"], "false");
    assert_eq!(reply.error_pointers(), ["/reference_id"]);
    assert_eq!(app.list(&account(1)).await.body["result"], json!([first]));
}

#[tokio::test]
async fn same_reference_id_in_two_accounts_is_allowed() {
    let app = spawn_app().await;

    let first = app.create(&account(1), &create_body("shared")).await;
    let second = app.create(&account(2), &create_body("shared")).await;

    assert_eq!(first.status, StatusCode::OK);
    assert_eq!(second.status, StatusCode::OK);
}

#[tokio::test]
async fn concurrent_creates_one_wins() {
    let app = spawn_app().await;
    let account = account(1);

    for round in 0..20 {
        let body = create_body(&format!("race-{round}"));
        let (a, b) = tokio::join!(app.create(&account, &body), app.create(&account, &body));

        let mut statuses = [a.status.as_u16(), b.status.as_u16()];
        statuses.sort_unstable();
        assert_eq!(
            statuses,
            [200, 409],
            "round {round}: {} / {}",
            a.body,
            b.body
        );
    }
    let listed = app.list(&account).await;
    assert_eq!(listed.body["result"].as_array().map(Vec::len), Some(20));
}

#[tokio::test]
async fn create_past_account_cap_is_rejected() {
    let app = spawn_app_with(|s| s.integrations.max_per_account = 2).await;
    app.create_ok(&account(1), &create_body("one")).await;
    app.create_ok(&account(1), &create_body("two")).await;

    let reply = app.create(&account(1), &create_body("three")).await;
    let other_account = app.create(&account(2), &create_body("three")).await;

    reply.assert_error(StatusCode::BAD_REQUEST, 1007);
    let message = reply.body["errors"][0]["message"]
        .as_str()
        .unwrap_or_default();
    assert!(message.contains("maximum of 2"), "{message}");
    assert_eq!(other_account.status, StatusCode::OK);
    let listed = app.list(&account(1)).await;
    assert_eq!(listed.body["result"].as_array().map(Vec::len), Some(2));
}

#[tokio::test]
async fn concurrent_creates_respect_account_cap() {
    let app = spawn_app_with(|s| s.integrations.max_per_account = 5).await;
    let account = account(1);

    let requests = (0..20).map(|n| {
        let body = create_body(&format!("r{n}"));
        let app = &app;
        let account = &account;
        async move { app.create(account, &body).await }
    });
    let replies = futures_util::future::join_all(requests).await;

    let created = replies
        .iter()
        .filter(|r| r.status == StatusCode::OK)
        .count();
    let capped = replies.iter().filter(|r| r.error_codes() == [1007]).count();
    assert_eq!(created, 5);
    assert_eq!(capped, 15);
    let listed = app.list(&account).await;
    assert_eq!(listed.body["result"].as_array().map(Vec::len), Some(5));
}

#[tokio::test]
async fn create_rejects_body_over_limit() {
    let app = spawn_app_with(|s| s.server.body_limit = 1024).await;
    let mut body = create_body("big");
    body["padding"] = json!("x".repeat(2000));

    let reply = app.create(&account(1), &body).await;

    reply.assert_error(StatusCode::PAYLOAD_TOO_LARGE, 1008);
    assert_eq!(app.list(&account(1)).await.body["result"], json!([]));
}

#[tokio::test]
async fn create_rejects_non_json_content_type() {
    let app = spawn_app().await;
    let url = app.integrations_url(&account(1));
    let body = create_body("r").to_string();
    let cases = [
        ("text/plain", Some("text/plain")),
        ("form", Some("application/x-www-form-urlencoded")),
        ("latin-1 JSON", Some("application/json; charset=iso-8859-1")),
        ("missing", None),
    ];

    for (label, content_type) in cases {
        let mut request = app.client.post(&url).body(body.clone());
        if let Some(content_type) = content_type {
            request = request.header("content-type", content_type);
        }

        let reply = app.send(request).await;

        assert_eq!(reply.status, StatusCode::UNSUPPORTED_MEDIA_TYPE, "{label}");
        assert_eq!(reply.error_codes(), [1009], "{label}");
    }
    assert_eq!(app.list(&account(1)).await.body["result"], json!([]));
}

#[tokio::test]
async fn create_rejects_malformed_json() {
    let app = spawn_app().await;
    let url = app.integrations_url(&account(1));
    let cases = [
        ("empty", "", 6007),
        ("truncated", r#"{"integration_type": "#, 6007),
        ("trailing comma", r#"{"a": 1,}"#, 6007),
        (
            "duplicate key",
            r#"{"reference_id": "a", "reference_id": "b"}"#,
            6007,
        ),
        ("array", "[]", 1001),
        ("string", r#""text""#, 1001),
        ("number", "12", 1001),
    ];

    for (label, body, code) in cases {
        let request = app
            .client
            .post(&url)
            .header("content-type", "application/json")
            .body(body);

        let reply = app.send(request).await;

        assert_eq!(reply.status, StatusCode::BAD_REQUEST, "{label}");
        assert_eq!(reply.error_codes(), [code], "{label}");
    }
}
