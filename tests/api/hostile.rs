//! Hostile input: every malformed body, path and framing gets a 4xx in the envelope, and
//! nothing is stored. Requests go over raw TCP so that the bytes on the wire are exactly the
//! case's, with no normalisation by an HTTP client.

use std::time::Duration;

use serde_json::{json, Value};
use sqlx::Connection;

use crate::helpers::{account, create_body, spawn_app, TestApp};
use crate::raw::{exchange, RawResponse};

const LIMIT: Duration = Duration::from_secs(10);

/// How the body of a case is framed on the wire.
#[derive(Clone, Copy)]
enum Framing {
    ContentLength,
    /// `Transfer-Encoding: chunked`, in chunks of this many bytes, with no `Content-Length`.
    Chunked(usize),
    /// Chunked framing whose first chunk size line is not hexadecimal.
    BrokenChunks,
}

struct BodyCase {
    label: &'static str,
    content_type: Option<&'static str>,
    body: Vec<u8>,
    framing: Framing,
    status: u16,
    /// The code of the first error entry.
    code: u64,
}

fn case(label: &'static str, body: impl Into<Vec<u8>>, status: u16, code: u64) -> BodyCase {
    BodyCase {
        label,
        content_type: Some("application/json"),
        body: body.into(),
        framing: Framing::ContentLength,
        status,
        code,
    }
}

/// Builds a JSON object with every field a create or an update needs, then `extra` merged
/// over it.
fn valid_with(extra: Value) -> Vec<u8> {
    let mut body = json!({
        "integration_type": "Okta",
        "tenant_url": "https://example.okta.com",
        "reference_id": "hostile",
        "active": true,
    });
    for (key, value) in extra.as_object().expect("an object") {
        body[key] = value.clone();
    }
    serde_json::to_vec(&body).unwrap()
}

fn without(field: &str) -> Vec<u8> {
    let mut body: Value = serde_json::from_slice(&valid_with(json!({}))).unwrap();
    body.as_object_mut().unwrap().remove(field);
    serde_json::to_vec(&body).unwrap()
}

/// The cases every body-taking route (create and update) must reject.
fn body_cases(body_limit: usize) -> Vec<BodyCase> {
    let oversized = {
        let padding = "a".repeat(body_limit);
        valid_with(json!({ "padding": padding }))
    };
    let nested = format!(
        "{{\"tenant_url\": {}\"x\"{}}}",
        "[".repeat(10_000),
        "]".repeat(10_000)
    );
    let nested_objects = format!("{}1{}", "{\"a\":".repeat(5_000), "}".repeat(5_000));
    let long_reference_id = "r".repeat(10_000);
    let mut invalid_utf8 = br#"{"integration_type": "Okta", "tenant_url": "https://example.okta.com", "reference_id": "a"#.to_vec();
    invalid_utf8.extend_from_slice(b"\xff\xfe\"}");
    let mut overlong_utf8 = br#"{"integration_type": "Okta", "tenant_url": "https://example.okta.com", "reference_id": "a"#.to_vec();
    overlong_utf8.extend_from_slice(b"\xc0\xaf\"}");
    let raw_nul =
        b"{\"integration_type\": \"Okta\", \"tenant_url\": \"https://example.okta.com\", \"reference_id\": \"a\0b\"}"
            .to_vec();

    let mut cases = vec![
        case("over the limit with Content-Length", oversized.clone(), 413, 1008),
        BodyCase {
            framing: Framing::Chunked(8192),
            ..case("over the limit, chunked", oversized, 413, 1008)
        },
        case("deeply nested arrays", nested, 400, 6007),
        case("deeply nested objects", nested_objects, 400, 6007),
        case("invalid UTF-8 in a string", invalid_utf8, 400, 6007),
        case("overlong UTF-8 encoding", overlong_utf8, 400, 6007),
        case("raw NUL byte in a string", raw_nul, 400, 6007),
        case(
            "escaped NUL in reference_id",
            valid_with(json!({"reference_id": "a\u{0}b"})),
            400,
            1004,
        ),
        case(
            "bell character in reference_id",
            valid_with(json!({"reference_id": "a\u{7}b"})),
            400,
            1004,
        ),
        case(
            "newline in reference_id",
            valid_with(json!({"reference_id": "a\nb"})),
            400,
            1004,
        ),
        case(
            "C1 control in reference_id",
            valid_with(json!({"reference_id": "a\u{9b}b"})),
            400,
            1004,
        ),
        case(
            "escaped NUL in tenant_url",
            valid_with(json!({"tenant_url": "https://example.okta.com/\u{0}"})),
            400,
            1004,
        ),
        case(
            "carriage return in tenant_url",
            valid_with(json!({"tenant_url": "https://example.okta.com\r\nX-Injected: 1"})),
            400,
            1004,
        ),
        case(
            "10,000-character reference_id",
            valid_with(json!({ "reference_id": long_reference_id })),
            400,
            1004,
        ),
        case(
            "duplicate key",
            br#"{"tenant_url": "https://a.okta.com", "tenant_url": "https://b.okta.com", "integration_type": "Okta", "active": true}"#.to_vec(),
            400,
            6007,
        ),
        case(
            "number for tenant_url",
            valid_with(json!({"tenant_url": 5})),
            400,
            1003,
        ),
        case(
            "array for tenant_url",
            valid_with(json!({"tenant_url": ["https://example.okta.com"]})),
            400,
            1003,
        ),
        case(
            "object for tenant_url",
            valid_with(json!({"tenant_url": {"url": "https://example.okta.com"}})),
            400,
            1003,
        ),
        case(
            "number for reference_id",
            valid_with(json!({"reference_id": 12345})),
            400,
            1003,
        ),
        case(
            "array for reference_id",
            valid_with(json!({"reference_id": ["a"]})),
            400,
            1003,
        ),
        case(
            "string for active",
            valid_with(json!({"active": "true"})),
            400,
            1003,
        ),
        case(
            "null tenant_url",
            valid_with(json!({"tenant_url": null})),
            400,
            1002,
        ),
        case("missing tenant_url", without("tenant_url"), 400, 1002),
        case(
            "javascript: tenant_url",
            valid_with(json!({"tenant_url": "javascript:alert(1)"})),
            400,
            1004,
        ),
        case(
            "javascript: with slashes",
            valid_with(json!({"tenant_url": "javascript://example.com/%0aalert(1)"})),
            400,
            1004,
        ),
        case(
            "file: tenant_url",
            valid_with(json!({"tenant_url": "file:///etc/passwd"})),
            400,
            1004,
        ),
        case(
            "data: tenant_url",
            valid_with(json!({"tenant_url": "data:text/html,<script>alert(1)</script>"})),
            400,
            1004,
        ),
        case(
            "credentials in tenant_url",
            valid_with(json!({"tenant_url": "https://admin:secret@example.okta.com"})),
            400,
            1004,
        ),
        case(
            "user name in tenant_url",
            valid_with(json!({"tenant_url": "https://admin@example.okta.com"})),
            400,
            1004,
        ),
        case(
            "non-ASCII host",
            valid_with(json!({"tenant_url": "https://exämple.okta.com"})),
            400,
            1004,
        ),
        case(
            "full-width dot in host",
            valid_with(json!({"tenant_url": "https://example\u{ff0e}okta.com"})),
            400,
            1004,
        ),
        case(
            "missing host",
            valid_with(json!({"tenant_url": "https://"})),
            400,
            1004,
        ),
        case(
            "missing host with port",
            valid_with(json!({"tenant_url": "https://:443/"})),
            400,
            1004,
        ),
        case(
            "host-relative tenant_url",
            valid_with(json!({"tenant_url": "//example.okta.com"})),
            400,
            1004,
        ),
        case("empty body", Vec::new(), 400, 6007),
        case("whitespace body", b"  \r\n ".to_vec(), 400, 6007),
        case("JSON array body", b"[]".to_vec(), 400, 1001),
        case("JSON string body", br#""text""#.to_vec(), 400, 1001),
        case("JSON null body", b"null".to_vec(), 400, 1001),
        case("trailing garbage", [valid_with(json!({})), b"x".to_vec()].concat(), 400, 6007),
        BodyCase {
            content_type: None,
            ..case("missing content type", valid_with(json!({})), 415, 1009)
        },
        BodyCase {
            content_type: Some("text/plain"),
            ..case("text/plain", valid_with(json!({})), 415, 1009)
        },
        BodyCase {
            content_type: Some("application/x-www-form-urlencoded"),
            ..case("form content type", b"tenant_url=https://a.okta.com".to_vec(), 415, 1009)
        },
        BodyCase {
            content_type: Some("application/json; charset=latin1"),
            ..case("latin1 charset", valid_with(json!({})), 415, 1009)
        },
        BodyCase {
            framing: Framing::BrokenChunks,
            ..case("broken chunk framing", valid_with(json!({})), 400, 6007)
        },
    ];
    cases.push(case(
        "create fields without any value",
        br#"{"integration_type": null, "tenant_url": null, "active": null}"#.to_vec(),
        400,
        1002,
    ));
    cases
}

/// Builds an HTTP/1.1 request with the app's token and `body` framed as the case specifies.
fn request(app: &TestApp, method: &str, path: &str, body_case: &BodyCase) -> Vec<u8> {
    let mut head = format!(
        "{method} {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n\
         Authorization: Bearer {}\r\n",
        app.token
    );
    if let Some(content_type) = body_case.content_type {
        head.push_str(&format!("Content-Type: {content_type}\r\n"));
    }
    let body = &body_case.body;
    let framed = match body_case.framing {
        Framing::ContentLength => {
            head.push_str(&format!("Content-Length: {}\r\n", body.len()));
            body.clone()
        }
        Framing::Chunked(size) => {
            head.push_str("Transfer-Encoding: chunked\r\n");
            let mut framed = Vec::new();
            for chunk in body.chunks(size) {
                framed.extend_from_slice(format!("{:x}\r\n", chunk.len()).as_bytes());
                framed.extend_from_slice(chunk);
                framed.extend_from_slice(b"\r\n");
            }
            framed.extend_from_slice(b"0\r\n\r\n");
            framed
        }
        Framing::BrokenChunks => {
            head.push_str("Transfer-Encoding: chunked\r\n");
            [b"zz\r\n".as_slice(), body, b"\r\n0\r\n\r\n"].concat()
        }
    };
    [head.as_bytes(), b"\r\n", &framed].concat()
}

fn api_path(app: &TestApp, rest: &str) -> String {
    format!("{}/accounts/{rest}", app.settings.server.base_path)
}

/// Asserts a failure envelope with `status` and first error `code`.
fn assert_rejected(label: &str, response: &RawResponse, status: u16, code: u64) {
    let content_type = response.header("content-type");
    let text = String::from_utf8_lossy(&response.body);
    assert_eq!(response.status, status, "{label}: {text}");
    assert_eq!(content_type, Some("application/json"), "{label}: {text:?}");
    let body = response.json();
    assert_eq!(body["success"], false, "{label}: {body}");
    assert!(body["result"].is_null(), "{label}: {body}");
    assert_eq!(body["messages"], json!([]), "{label}: {body}");
    assert_eq!(body["errors"][0]["code"], code, "{label}: {body}");
    let message = body["errors"][0]["message"].as_str().unwrap_or_default();
    assert!(!message.is_empty(), "{label}: no message");
}

async fn stored_rows(app: &TestApp) -> Vec<(String, String, String, bool)> {
    let url = format!("sqlite://{}?mode=ro", app.database_path().display());
    let mut connection = sqlx::SqliteConnection::connect(&url).await.unwrap();
    let rows: Vec<(String, String, String, bool)> =
        sqlx::query_as("SELECT id, reference_id, tenant_url, active FROM integrations ORDER BY id")
            .fetch_all(&mut connection)
            .await
            .unwrap();
    connection.close().await.unwrap();
    rows
}

#[tokio::test]
async fn create_rejects_hostile_bodies() {
    let app = spawn_app().await;
    let path = api_path(
        &app,
        &format!("{}/zt_risk_scoring/integrations", account(1)),
    );

    for body_case in body_cases(app.settings.server.body_limit) {
        let response = exchange(
            &app.address,
            &request(&app, "POST", &path, &body_case),
            LIMIT,
        )
        .await;

        assert_rejected(body_case.label, &response, body_case.status, body_case.code);
    }
    let rows = stored_rows(&app).await;
    let listed = app.list(&account(1)).await;

    assert_eq!(rows, vec![], "rows were stored");
    assert_eq!(listed.body["result"], json!([]));
}

#[tokio::test]
async fn update_rejects_hostile_bodies() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("original")).await;
    let id = created["id"].as_str().unwrap();
    let path = api_path(
        &app,
        &format!("{}/zt_risk_scoring/integrations/{id}", account(1)),
    );
    let before = stored_rows(&app).await;

    let mut cases = body_cases(app.settings.server.body_limit);
    cases.push(case("missing active", without("active"), 400, 1002));
    cases.push(case(
        "other integration_type",
        valid_with(json!({"integration_type": "AzureAD"})),
        400,
        1004,
    ));
    for body_case in cases {
        let response = exchange(
            &app.address,
            &request(&app, "PUT", &path, &body_case),
            LIMIT,
        )
        .await;

        assert_rejected(body_case.label, &response, body_case.status, body_case.code);
    }
    let fetched = app.get(&account(1), id).await;

    assert_eq!(stored_rows(&app).await, before, "the row was changed");
    assert_eq!(fetched.body["result"], created);
}

#[tokio::test]
async fn chunked_body_without_length_is_read() {
    let app = spawn_app().await;
    let path = api_path(
        &app,
        &format!("{}/zt_risk_scoring/integrations", account(1)),
    );
    let body_case = BodyCase {
        framing: Framing::Chunked(7),
        ..case("chunked", valid_with(json!({})), 200, 0)
    };

    let response = exchange(
        &app.address,
        &request(&app, "POST", &path, &body_case),
        LIMIT,
    )
    .await;

    assert_eq!(response.status, 200, "{}", response.json());
    assert_eq!(response.json()["result"]["reference_id"], "hostile");
    assert_eq!(stored_rows(&app).await.len(), 1);
}

#[tokio::test]
async fn hostile_path_segments_are_rejected() {
    let app = spawn_app().await;
    let created = app.create_ok(&account(1), &create_body("kept")).await;
    let id = created["id"].as_str().unwrap().to_owned();
    let tag = account(1);
    let long = "a".repeat(10_000);
    let before = stored_rows(&app).await;
    // Each segment takes the place of the account id or the integration id in every route.
    let bad_segments = [
        ("10,000 characters", long.as_str()),
        ("encoded slash", "a%2Fb"),
        ("encoded slash alone", "%2F"),
        ("dot-dot", ".."),
        ("encoded dot-dot", "%2e%2e"),
        ("encoded NUL", "%00"),
        ("NUL inside", "0123456789abcdef%000123456789abcde"),
        ("invalid UTF-8", "%ff%fe"),
        ("SQL metacharacters", "'%20OR%201=1--"),
    ];

    for (label, segment) in bad_segments {
        let routes = [
            ("GET", format!("{segment}/zt_risk_scoring/integrations")),
            ("POST", format!("{segment}/zt_risk_scoring/integrations")),
            (
                "GET",
                format!("{segment}/zt_risk_scoring/integrations/{id}"),
            ),
            (
                "PUT",
                format!("{segment}/zt_risk_scoring/integrations/{id}"),
            ),
            (
                "DELETE",
                format!("{segment}/zt_risk_scoring/integrations/{id}"),
            ),
            (
                "GET",
                format!("{segment}/zt_risk_scoring/integrations/reference_id/kept"),
            ),
            (
                "GET",
                format!("{tag}/zt_risk_scoring/integrations/{segment}"),
            ),
            (
                "PUT",
                format!("{tag}/zt_risk_scoring/integrations/{segment}"),
            ),
            (
                "DELETE",
                format!("{tag}/zt_risk_scoring/integrations/{segment}"),
            ),
        ];
        for (method, rest) in routes {
            let body_case = case(label, valid_with(json!({})), 400, 7003);
            let path = api_path(&app, &rest);

            let response = exchange(
                &app.address,
                &request(&app, method, &path, &body_case),
                LIMIT,
            )
            .await;

            let label = format!("{label}: {method} {rest:.80}");
            assert_rejected(&label, &response, 400, 7003);
        }
    }

    assert_eq!(stored_rows(&app).await, before, "rows were changed");
}

#[tokio::test]
async fn hostile_reference_id_paths_are_rejected() {
    let app = spawn_app().await;
    app.create_ok(&account(1), &create_body("kept")).await;
    let long = "r".repeat(10_000);
    let long_encoded = "%41".repeat(256);
    let cases = [
        ("10,000 characters", long.as_str(), 400, 7003),
        ("256 encoded characters", long_encoded.as_str(), 400, 7003),
        ("encoded NUL", "kept%00", 400, 7003),
        ("encoded newline", "kept%0A", 400, 7003),
        ("encoded DEL", "kept%7F", 400, 7003),
        ("invalid UTF-8", "kept%ff", 400, 7003),
        ("truncated UTF-8", "kept%C3", 400, 7003),
        ("dot-dot", "..", 404, 1005),
        ("encoded dot-dot and slash", "%2e%2e%2Fkept", 404, 1005),
        ("encoded slash", "%2Fkept", 404, 1005),
        ("double encoded", "kep%2574", 404, 1005),
        ("SQL metacharacters", "kept'%20OR%20'1'='1", 404, 1005),
        ("SQL wildcard", "%25", 404, 1005),
    ];

    for (label, encoded, status, code) in cases {
        let path = api_path(
            &app,
            &format!(
                "{}/zt_risk_scoring/integrations/reference_id/{encoded}",
                account(1)
            ),
        );
        let body_case = BodyCase {
            content_type: None,
            ..case(label, Vec::new(), status, code)
        };

        let response = exchange(
            &app.address,
            &request(&app, "GET", &path, &body_case),
            LIMIT,
        )
        .await;

        assert_rejected(label, &response, status, code);
    }
}

#[tokio::test]
async fn sql_metacharacters_are_stored_verbatim() {
    let app = spawn_app().await;
    let account = account(1);
    let values = [
        "'; DROP TABLE integrations; --",
        "\" OR \"\"=\"",
        "%_\\",
        "Robert'); DELETE FROM integrations WHERE ('1'='1",
        "1; SELECT * FROM sqlite_master",
    ];

    for value in values {
        let created = app.create_ok(&account, &create_body(value)).await;
        let encoded =
            percent_encoding::utf8_percent_encode(value, percent_encoding::NON_ALPHANUMERIC)
                .to_string();
        let fetched = app.get_by_reference_id(&account, &encoded).await;

        assert_eq!(created["reference_id"], value);
        assert_eq!(fetched.status, reqwest::StatusCode::OK, "{value}");
        assert_eq!(fetched.body["result"], created, "{value}");
    }
    let tenant = "https://example.okta.com/a'--;%22";
    let with_url = app
        .create_ok(
            &account,
            &json!({"integration_type": "Okta", "tenant_url": tenant, "reference_id": "url"}),
        )
        .await;
    let listed = app.list(&account).await;
    let rows = stored_rows(&app).await;

    assert_eq!(with_url["tenant_url"], tenant);
    assert_eq!(
        listed.body["result"].as_array().unwrap().len(),
        values.len() + 1
    );
    assert_eq!(rows.len(), values.len() + 1);
    for value in values {
        assert!(
            rows.iter().any(|row| row.1 == value),
            "{value} not stored as sent"
        );
    }
}

/// A request whose head the HTTP parser rejects never reaches the application, so actix-web
/// returns a bare 400 without the envelope and closes the connection.
#[tokio::test]
async fn malformed_http_head_is_rejected() {
    let app = spawn_app().await;
    let path = api_path(
        &app,
        &format!("{}/zt_risk_scoring/integrations", account(1)),
    );
    let body = valid_with(json!({}));
    let heads = [
        (
            "control byte in a header",
            "Content-Type: application/json\u{1}\r\n",
        ),
        (
            "NUL in a header",
            "Content-Type: application/json\r\nX-A: a\0b\r\n",
        ),
        (
            "header without a colon",
            "Content-Type: application/json\r\nbroken\r\n",
        ),
        (
            "two lengths",
            "Content-Type: application/json\r\nContent-Length: 1\r\n",
        ),
        (
            "length and chunked",
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n",
        ),
        (
            "length past 64 bits",
            "Content-Type: application/json\r\nContent-Length: 99999999999999999999999\r\n",
        ),
    ];

    for (label, headers) in heads {
        let request = format!(
            "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer {}\r\n\
             {headers}Content-Length: {}\r\n\r\n",
            app.token,
            body.len()
        );
        let request = [request.as_bytes(), &body].concat();

        let response = exchange(&app.address, &request, LIMIT).await;

        assert_eq!(response.status, 400, "{label}");
    }
    assert_eq!(stored_rows(&app).await, vec![], "rows were stored");
}
