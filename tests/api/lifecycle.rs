use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{account, create_body, spawn_app, start_in};

#[tokio::test]
async fn integration_full_lifecycle() {
    let app = spawn_app().await;
    let account = account(1);

    let created = app.create_ok(&account, &create_body("okta-prod")).await;
    let id = created["id"].as_str().expect("id is a string").to_owned();
    let fetched = app.get(&account, &id).await;
    let by_reference = app.get_by_reference_id(&account, "okta-prod").await;
    let updated = app
        .update(
            &account,
            &id,
            &json!({"tenant_url": "https://other.okta.com", "active": false}),
        )
        .await;
    let listed = app.list(&account).await;
    let deleted = app.delete(&account, &id).await;
    let after_delete = app.get(&account, &id).await;

    assert_eq!(created["reference_id"], "okta-prod");
    assert_eq!(created["integration_type"], "Okta");
    assert_eq!(created["active"], true);
    assert_eq!(
        created["well_known_url"],
        format!("https://ztrisk.test/.well-known/sse-configuration/{id}")
    );
    assert_eq!(fetched.status, StatusCode::OK);
    assert_eq!(fetched.body["result"], created);
    assert_eq!(by_reference.body["result"], created);
    assert_eq!(updated.status, StatusCode::OK);
    assert_eq!(
        updated.body["result"]["tenant_url"],
        "https://other.okta.com"
    );
    assert_eq!(updated.body["result"]["active"], false);
    assert_eq!(updated.body["result"]["reference_id"], "okta-prod");
    assert_eq!(updated.body["result"]["created_at"], created["created_at"]);
    assert_eq!(listed.body["result"], json!([updated.body["result"]]));
    assert_eq!(deleted.status, StatusCode::OK);
    assert_eq!(deleted.body["result"], json!({}));
    after_delete.assert_error(StatusCode::NOT_FOUND, 1005);
}

#[tokio::test]
async fn data_survives_restart() {
    let app = spawn_app().await;
    let account = account(2);
    let created = app.create_ok(&account, &create_body("kept")).await;

    let folder = app.stop().await;
    let restarted = start_in(folder, |_| {}, |_| {}).await;
    let listed = restarted.list(&account).await;

    assert_eq!(listed.status, StatusCode::OK);
    assert_eq!(listed.body["result"], json!([created]));
}
