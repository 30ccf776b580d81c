use std::collections::{BTreeMap, BTreeSet};

use reqwest::{Method, StatusCode};
use serde_json::Value;
use ztrisk::api::ENDPOINTS;

use crate::helpers::{account, spawn_app, spawn_app_with, TestApp};

/// The operations of Cloudflare's published document for these paths, with the statuses this
/// daemon documents for each.
const OPERATIONS: [(&str, &str, &str, &[u16]); 8] = [
    (
        "post",
        "/accounts/{account_id}/zt_risk_scoring/integrations",
        "dlp-zt-risk-score-integration-create",
        &[200, 400, 401, 403, 408, 409, 413, 415, 429, 500, 503],
    ),
    (
        "get",
        "/accounts/{account_id}/zt_risk_scoring/integrations",
        "dlp-zt-risk-score-integration-list",
        &[200, 400, 401, 403, 429, 500, 503],
    ),
    (
        "get",
        "/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}",
        "dlp-zt-risk-score-integration-get",
        &[200, 400, 401, 403, 404, 429, 500, 503],
    ),
    (
        "get",
        "/accounts/{account_id}/zt_risk_scoring/integrations/reference_id/{reference_id}",
        "dlp-zt-risk-score-integration-get-by-reference-id",
        &[200, 400, 401, 403, 404, 429, 500, 503],
    ),
    (
        "put",
        "/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}",
        "dlp-zt-risk-score-integration-update",
        &[200, 400, 401, 403, 404, 408, 409, 413, 415, 429, 500, 503],
    ),
    (
        "delete",
        "/accounts/{account_id}/zt_risk_scoring/integrations/{integration_id}",
        "dlp-zt-risk-score-integration-delete",
        &[200, 400, 401, 403, 404, 429, 500, 503],
    ),
    (
        "get",
        "/user/tokens/verify",
        "user-api-tokens-verify-token",
        &[200, 400, 401, 429, 500, 503],
    ),
    (
        "get",
        "/accounts/{account_id}/tokens/verify",
        "account-api-tokens-verify-token",
        &[200, 400, 401, 403, 429, 500, 503],
    ),
];

const PROBED_METHODS: [Method; 5] = [
    Method::GET,
    Method::POST,
    Method::PUT,
    Method::PATCH,
    Method::DELETE,
];

async fn fetch_document(app: &TestApp) -> Value {
    let response = app
        .client
        .get(format!("{}/openapi.json", app.address))
        .send()
        .await
        .expect("request sent");
    assert_eq!(response.status(), StatusCode::OK);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert_eq!(content_type, "application/json");
    response.json().await.expect("document is JSON")
}

/// `(path, method)` for every operation of the document.
fn documented_routes(document: &Value) -> BTreeSet<(String, String)> {
    let paths = document["paths"].as_object().expect("paths is an object");
    paths
        .iter()
        .flat_map(|(path, item)| {
            let methods = item.as_object().expect("path item is an object");
            methods
                .keys()
                .map(move |method| (path.clone(), method.clone()))
        })
        .collect()
}

/// Fills the parameters of `pattern` with valid values.
fn sample_path(pattern: &str) -> String {
    pattern
        .replace("{account_id}", &account(1))
        .replace("{integration_id}", "2b6c1a62-5d6b-4d7e-9b1e-0c6f1f0a2d4e")
        .replace("{reference_id}", "okta-prod")
}

#[tokio::test]
async fn document_lists_every_registered_route() {
    let app = spawn_app().await;
    let registered: BTreeSet<(String, String)> = ENDPOINTS
        .iter()
        .flat_map(|endpoint| {
            endpoint
                .allow
                .split(", ")
                .map(|method| (endpoint.path.to_owned(), method.to_ascii_lowercase()))
        })
        .collect();

    let document = fetch_document(&app).await;

    assert_eq!(document["openapi"], "3.1.0");
    assert_eq!(documented_routes(&document), registered);
}

#[tokio::test]
async fn endpoints_allow_exactly_listed_methods() {
    let app = spawn_app().await;

    for endpoint in &ENDPOINTS {
        let url = format!(
            "{}{}{}",
            app.address,
            app.settings.server.base_path,
            sample_path(endpoint.path)
        );
        let allowed: BTreeSet<&str> = endpoint.allow.split(", ").collect();
        for method in PROBED_METHODS {
            let response = app
                .client
                .request(method.clone(), &url)
                .header("content-type", "application/json")
                .body("{}")
                .send()
                .await
                .expect("request sent");

            let label = format!("{method} {}", endpoint.path);
            if allowed.contains(method.as_str()) {
                assert_ne!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{label}");
            } else {
                assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED, "{label}");
                assert_eq!(response.headers()["allow"], endpoint.allow, "{label}");
            }
        }
    }
}

#[tokio::test]
async fn operations_carry_cloudflare_ids_and_statuses() {
    let app = spawn_app().await;

    let document = fetch_document(&app).await;

    for (method, path, operation_id, statuses) in OPERATIONS {
        let operation = &document["paths"][path][method];
        let label = format!("{method} {path}");
        assert_eq!(operation["operationId"], operation_id, "{label}");
        let documented: BTreeSet<u16> = operation["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{label}: no responses"))
            .keys()
            .map(|status| status.parse().expect("status is a number"))
            .collect();
        assert_eq!(documented, statuses.iter().copied().collect(), "{label}");
        let no_parameters = Vec::new();
        let parameters = operation["parameters"].as_array().unwrap_or(&no_parameters);
        let names: BTreeSet<&str> = parameters
            .iter()
            .map(|parameter| parameter["name"].as_str().expect("name"))
            .collect();
        let expected: BTreeSet<&str> = path
            .split('/')
            .filter_map(|segment| segment.strip_prefix('{')?.strip_suffix('}'))
            .collect();
        assert_eq!(names, expected, "{label}");
    }
}

#[tokio::test]
async fn create_links_name_existing_operations() {
    let app = spawn_app().await;

    let document = fetch_document(&app).await;

    let create = &document["paths"]["/accounts/{account_id}/zt_risk_scoring/integrations"];
    let links = create["post"]["responses"]["200"]["links"]
        .as_object()
        .expect("links");
    let operation_ids: BTreeSet<&str> = OPERATIONS.iter().map(|operation| operation.2).collect();
    assert_eq!(links.len(), 3);
    for (name, link) in links {
        let target = link["operationId"].as_str().unwrap_or_default();
        assert!(operation_ids.contains(target), "{name}: {link}");
        assert!(link.get("operation_id").is_none(), "{name}: {link}");
    }
}

#[tokio::test]
async fn integration_schema_matches_cloudflare_fields() {
    let app = spawn_app().await;

    let document = fetch_document(&app).await;

    let schema = &document["components"]["schemas"]["Integration"];
    let required: BTreeSet<&str> = schema["required"]
        .as_array()
        .expect("required")
        .iter()
        .map(|name| name.as_str().expect("name"))
        .collect();
    let expected = BTreeSet::from([
        "account_tag",
        "active",
        "created_at",
        "id",
        "integration_type",
        "reference_id",
        "tenant_url",
        "well_known_url",
    ]);
    assert_eq!(required, expected);
    let properties = &schema["properties"];
    assert_eq!(properties["created_at"]["format"], "date-time");
    assert_eq!(properties["id"]["format"], "uuid");
    assert_eq!(properties["active"]["type"], "boolean");
    let integration_type = &document["components"]["schemas"]["IntegrationType"];
    assert_eq!(integration_type["enum"], serde_json::json!(["Okta"]));
    let create = &document["components"]["schemas"]["CreateIntegrationBody"];
    assert_eq!(
        create["required"],
        serde_json::json!(["integration_type", "tenant_url"])
    );
    let update = &document["components"]["schemas"]["UpdateIntegrationBody"];
    assert_eq!(
        update["required"],
        serde_json::json!(["active", "tenant_url"])
    );
}

#[tokio::test]
async fn document_requires_bearer_token() {
    let app = spawn_app().await;

    let document = fetch_document(&app).await;

    let scheme = &document["components"]["securitySchemes"]["api_token"];
    assert_eq!(scheme["type"], "http");
    assert_eq!(scheme["scheme"], "bearer");
    assert_eq!(document["security"], serde_json::json!([{"api_token": []}]));
}

#[tokio::test]
async fn server_entry_follows_base_path() {
    let cases = [("default", "/client/v4", "/client/v4"), ("empty", "", "/")];
    for (label, base_path, expected) in cases {
        let app = spawn_app_with(|settings| settings.server.base_path = base_path.into()).await;

        let document = fetch_document(&app).await;

        let servers = document["servers"].as_array().expect("servers");
        assert_eq!(servers.len(), 1, "{label}");
        assert_eq!(servers[0]["url"], expected, "{label}");
    }
}

#[tokio::test]
async fn docs_page_loads_only_local_assets() {
    let app = spawn_app().await;

    let response = app
        .client
        .get(format!("{}/docs", app.address))
        .send()
        .await
        .expect("request sent");
    let headers = response.headers().clone();
    let html = response.text().await.expect("page body");

    assert_eq!(headers["content-type"], "text/html; charset=utf-8");
    let policy = headers["content-security-policy"].to_str().unwrap();
    assert!(policy.starts_with("default-src 'self'"), "{policy}");
    let assets: Vec<&str> = html
        .split(['"', '\''])
        .filter(|part| part.starts_with("/docs/"))
        .collect();
    let kinds: BTreeMap<&str, &str> = BTreeMap::from([
        ("js", "text/javascript; charset=utf-8"),
        ("css", "text/css; charset=utf-8"),
    ]);
    assert_eq!(assets.len(), 3, "{html}");
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    for asset in assets {
        let response = app
            .client
            .get(format!("{}{asset}", app.address))
            .send()
            .await
            .expect("request sent");
        let extension = asset.rsplit('.').next().unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert_eq!(
            response.headers()["content-type"],
            kinds[extension],
            "{asset}"
        );
        assert_eq!(
            response.headers()["cache-control"],
            "public, max-age=31536000, immutable",
            "{asset}"
        );
        assert!(!response.bytes().await.expect("body").is_empty(), "{asset}");
    }
}

#[tokio::test]
async fn failure_headers_match_documented_schema() {
    let app = spawn_app().await;
    let document = fetch_document(&app).await;

    let reply = app.get(&account(1), "not-a-uuid").await;

    let responses = &document["components"]["responses"];
    let should_retry = &responses["BadRequest"]["headers"]["x-should-retry"]["schema"];
    assert_eq!(should_retry["type"], "string");
    assert_eq!(should_retry["enum"], serde_json::json!(["false"]));
    let retry_after = &responses["Unavailable"]["headers"]["retry-after"]["schema"];
    assert_eq!(retry_after["type"], "integer");
    assert_eq!(reply.status, StatusCode::BAD_REQUEST);
    assert_eq!(reply.headers["x-should-retry"], "false");
}
