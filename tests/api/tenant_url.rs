//! Host names in tenant URLs. schemathesis found the first case: a host ending in `*`, which
//! the URL parser accepts, was stored.

use reqwest::StatusCode;
use serde_json::json;

use crate::helpers::{account, spawn_app};

/// Tenant URLs whose host is neither a DNS host name nor an IP address.
const MALFORMED_HOSTS: [(&str, &str); 8] = [
    ("asterisk", "https://pz33aaz8.oby1c.dev*"),
    ("underscore", "https://exa_mple.okta.com"),
    ("leading hyphen", "https://-example.okta.com"),
    ("trailing hyphen", "https://example-.okta.com"),
    ("empty label", "https://example..okta.com"),
    ("trailing dot", "https://example.okta.com."),
    ("digit-first top-level label", "https://example.1com"),
    (
        "label of 64 characters",
        "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
    ),
];

#[tokio::test]
async fn create_rejects_malformed_host_names() {
    let app = spawn_app().await;
    let account = account(1);

    for (label, tenant_url) in MALFORMED_HOSTS {
        let body = json!({"integration_type": "Okta", "tenant_url": tenant_url});

        let reply = app.create(&account, &body).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{label}: {}",
            reply.body
        );
        assert_eq!(reply.error_codes(), vec![1004], "{label}");
        assert_eq!(reply.error_pointers(), vec!["/tenant_url"], "{label}");
    }
    let listed = app.list(&account).await;
    assert_eq!(listed.body["result"], json!([]));
}

#[tokio::test]
async fn update_rejects_malformed_host_names() {
    let app = spawn_app().await;
    let account = account(2);
    let created = app
        .create_ok(
            &account,
            &json!({"integration_type": "Okta", "tenant_url": "https://example.okta.com"}),
        )
        .await;
    let id = created["id"].as_str().expect("id");

    for (label, tenant_url) in MALFORMED_HOSTS {
        let body = json!({"tenant_url": tenant_url, "active": true});

        let reply = app.update(&account, id, &body).await;

        assert_eq!(
            reply.status,
            StatusCode::BAD_REQUEST,
            "{label}: {}",
            reply.body
        );
        assert_eq!(reply.error_pointers(), vec!["/tenant_url"], "{label}");
    }
    let fetched = app.get(&account, id).await;
    assert_eq!(
        fetched.body["result"]["tenant_url"],
        "https://example.okta.com"
    );
}

#[tokio::test]
async fn create_accepts_host_names_and_addresses() {
    let app = spawn_app().await;
    let account = account(3);
    let cases = [
        ("digit-first label", "https://1password.okta.com"),
        ("hyphen inside label", "https://my-company.okta.com"),
        ("uppercase", "https://Example.Okta.com"),
        ("punycode", "https://xn--bcher-kva.example"),
        (
            "label of 63 characters",
            "https://aaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaaa.com",
        ),
        ("IPv4", "https://192.0.2.10"),
        ("IPv6", "https://[2001:db8::1]:8443"),
    ];

    for (label, tenant_url) in cases {
        let body = json!({"integration_type": "Okta", "tenant_url": tenant_url});

        let reply = app.create(&account, &body).await;

        assert_eq!(reply.status, StatusCode::OK, "{label}: {}", reply.body);
        assert_eq!(reply.body["result"]["tenant_url"], tenant_url, "{label}");
    }
}
