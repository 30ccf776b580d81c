use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{account, create_body, spawn_app, TestApp};

async fn created(app: &TestApp, reference_id: &str) -> (Value, String) {
    let created = app.create_ok(&account(1), &create_body(reference_id)).await;
    let id = created["id"].as_str().expect("id").to_owned();
    (created, id)
}

#[tokio::test]
async fn update_overwrites_given_fields() {
    let app = spawn_app().await;
    let (created, id) = created(&app, "before").await;
    let body = json!({"tenant_url": "https://new.okta.com", "active": false,
                      "reference_id": "after"});

    let reply = app.update(&account(1), &id, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let result = &reply.body["result"];
    assert_eq!(result["tenant_url"], "https://new.okta.com");
    assert_eq!(result["active"], false);
    assert_eq!(result["reference_id"], "after");
    for field in [
        "id",
        "account_tag",
        "created_at",
        "integration_type",
        "well_known_url",
    ] {
        assert_eq!(result[field], created[field], "{field}");
    }
    let fetched = app.get(&account(1), &id).await;
    assert_eq!(&fetched.body["result"], result);
    let by_new = app.get_by_reference_id(&account(1), "after").await;
    let by_old = app.get_by_reference_id(&account(1), "before").await;
    assert_eq!(by_new.status, StatusCode::OK);
    by_old.assert_error(StatusCode::NOT_FOUND, 1005);
}

#[tokio::test]
async fn update_null_or_absent_keeps_stored_values() {
    let app = spawn_app().await;
    let (_, id) = created(&app, "kept").await;
    app.update(
        &account(1),
        &id,
        &json!({"tenant_url": "https://a.okta.com", "active": false}),
    )
    .await;
    let cases = [
        (
            "null active and reference id",
            json!({"tenant_url": "https://b.okta.com", "active": null, "reference_id": null}),
        ),
        (
            "absent reference id",
            json!({"tenant_url": "https://c.okta.com", "active": null}),
        ),
    ];

    for (label, body) in cases {
        let reply = app.update(&account(1), &id, &body).await;

        assert_eq!(reply.status, StatusCode::OK, "{label}: {}", reply.body);
        assert_eq!(reply.body["result"]["active"], false, "{label}");
        assert_eq!(reply.body["result"]["reference_id"], "kept", "{label}");
        assert_eq!(
            reply.body["result"]["tenant_url"], body["tenant_url"],
            "{label}"
        );
    }
}

#[tokio::test]
async fn update_accepts_current_type_and_ignores_immutable_fields() {
    let app = spawn_app().await;
    let (created, id) = created(&app, "r").await;
    let body = json!({
        "tenant_url": "https://a.okta.com",
        "active": true,
        "integration_type": "OKTA",
        "id": "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e",
        "account_tag": "ffffffffffffffffffffffffffffffff",
        "created_at": "2000-01-01T00:00:00.000000Z",
        "unknown": [1, 2],
    });

    let reply = app.update(&account(1), &id, &body).await;

    assert_eq!(reply.status, StatusCode::OK, "{}", reply.body);
    let result = &reply.body["result"];
    assert_eq!(result["integration_type"], "Okta");
    assert_eq!(result["id"], created["id"]);
    assert_eq!(result["account_tag"], created["account_tag"]);
    assert_eq!(result["created_at"], created["created_at"]);
}

#[tokio::test]
async fn update_rejects_invalid_bodies() {
    let app = spawn_app().await;
    let (created, id) = created(&app, "r").await;
    let cases = [
        (
            "absent active",
            json!({"tenant_url": "https://a.okta.com"}),
            1002,
            "/active",
        ),
        (
            "absent tenant url",
            json!({"active": true}),
            1002,
            "/tenant_url",
        ),
        (
            "null tenant url",
            json!({"tenant_url": null, "active": true}),
            1002,
            "/tenant_url",
        ),
        (
            "plain http",
            json!({"tenant_url": "http://a.okta.com", "active": true}),
            1004,
            "/tenant_url",
        ),
        (
            "active string",
            json!({"tenant_url": "https://a.okta.com", "active": "no"}),
            1003,
            "/active",
        ),
        (
            "reference id number",
            json!({"tenant_url": "https://a.okta.com", "active": true, "reference_id": 5}),
            1003,
            "/reference_id",
        ),
        (
            "empty reference id",
            json!({"tenant_url": "https://a.okta.com", "active": true, "reference_id": ""}),
            1004,
            "/reference_id",
        ),
        (
            "other type",
            json!({"tenant_url": "https://a.okta.com", "active": true,
                "integration_type": "AzureAD"}),
            1004,
            "/integration_type",
        ),
    ];

    for (label, body, code, pointer) in cases {
        let reply = app.update(&account(1), &id, &body).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{label}: {}",
            reply.body
        );
        assert_eq!(reply.error_codes(), [code], "{label}");
        assert_eq!(reply.error_pointers(), [pointer], "{label}");
    }
    let fetched = app.get(&account(1), &id).await;
    assert_eq!(fetched.body["result"], created);
}

#[tokio::test]
async fn update_reports_every_invalid_field() {
    let app = spawn_app().await;
    let (_, id) = created(&app, "r").await;
    let body = json!({"tenant_url": 1, "reference_id": ""});

    let reply = app.update(&account(1), &id, &body).await;

    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.error_codes(), [1003, 1002, 1004]);
    assert_eq!(
        reply.error_pointers(),
        ["/tenant_url", "/active", "/reference_id"]
    );
}

#[tokio::test]
async fn update_to_taken_reference_id_is_conflict() {
    let app = spawn_app().await;
    let (_, first) = created(&app, "first").await;
    let (second_created, second) = created(&app, "second").await;
    let body = json!({"tenant_url": "https://a.okta.com", "active": true,
                      "reference_id": "first"});

    let reply = app.update(&account(1), &second, &body).await;
    let own = app
        .update(
            &account(1),
            &first,
            &json!({"tenant_url": "https://a.okta.com", "active": true, "reference_id": "first"}),
        )
        .await;

    reply.assert_error(StatusCode::CONFLICT, 1006);
    assert_eq!(reply.headers["x-should-retry"], "false");
    let fetched = app.get(&account(1), &second).await;
    assert_eq!(fetched.body["result"], second_created);
    assert_eq!(own.status, StatusCode::OK, "{}", own.body);
}

#[tokio::test]
async fn update_unknown_or_foreign_id_is_not_found() {
    let app = spawn_app().await;
    let (_, id) = created(&app, "r").await;
    let body = json!({"tenant_url": "https://a.okta.com", "active": true});

    let unknown = app
        .update(&account(1), "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e", &body)
        .await;
    let foreign = app.update(&account(2), &id, &body).await;
    let malformed = app.update(&account(1), "nope", &body).await;

    unknown.assert_error(StatusCode::NOT_FOUND, 1005);
    foreign.assert_error(StatusCode::NOT_FOUND, 1005);
    malformed.assert_error(StatusCode::BAD_REQUEST, 7003);
    let fetched = app.get(&account(1), &id).await;
    assert_eq!(
        fetched.body["result"]["tenant_url"],
        "https://example.okta.com"
    );
}

#[tokio::test]
async fn concurrent_updates_store_one_answer() {
    let app = spawn_app().await;
    let (_, id) = created(&app, "r").await;
    let account = account(1);

    for round in 0..10 {
        let bodies: Vec<Value> = (0..8)
            .map(|n| {
                json!({"tenant_url": format!("https://t{round}-{n}.okta.com"),
                            "active": n % 2 == 0})
            })
            .collect();
        let replies =
            futures_util::future::join_all(bodies.iter().map(|b| app.update(&account, &id, b)))
                .await;
        let fetched = app.get(&account, &id).await;

        for reply in &replies {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "round {round}: {}",
                reply.body
            );
        }
        let answered: Vec<&Value> = replies.iter().map(|r| &r.body["result"]).collect();
        assert!(
            answered.contains(&&fetched.body["result"]),
            "round {round}: stored {} is none of the answered results",
            fetched.body["result"]
        );
    }
}
