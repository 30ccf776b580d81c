//! Slow and idle clients must not hold the daemon: header and body timeouts, keep-alive
//! limits and the connection cap, checked over raw loopback TCP.

use std::time::Duration;

use reqwest::StatusCode;
use tokio::io::AsyncWriteExt;
use tokio::time::{sleep, Instant};

use crate::helpers::{account, spawn_app_with, TestApp};
use crate::raw::{connect, read_response, wait_for_close};

const HEADER_TIMEOUT: Duration = Duration::from_millis(1000);
const BODY_TIMEOUT: Duration = Duration::from_millis(1000);
/// Slack for scheduling on a loaded machine.
const SLACK: Duration = Duration::from_millis(1500);
/// How early actix-web's timers for the first request head and for idle keep-alive may fire.
/// It sets them from a clock that it refreshes every 500 ms.
const ACTIX_CLOCK_STEP: Duration = Duration::from_millis(500);

async fn spawn_with_short_timeouts() -> TestApp {
    spawn_app_with(|settings| {
        settings.limits.header_read_timeout_ms = HEADER_TIMEOUT.as_millis() as u64;
        settings.limits.body_read_timeout_ms = BODY_TIMEOUT.as_millis() as u64;
    })
    .await
}

/// Sends `bytes` one at a time, `gap` apart, until the peer stops taking them or `limit`
/// passes. Returns whether every byte was sent.
async fn trickle(stream: &mut tokio::net::TcpStream, bytes: &[u8], gap: Duration) -> bool {
    for byte in bytes {
        if stream.write_all(&[*byte]).await.is_err() {
            return false;
        }
        sleep(gap).await;
    }
    true
}

async fn healthz_is_served(app: &TestApp) -> bool {
    let response = app
        .client
        .get(format!("{}/healthz", app.address))
        .timeout(Duration::from_secs(2))
        .send()
        .await;
    response.is_ok_and(|response| response.status() == StatusCode::OK)
}

#[tokio::test]
async fn slowloris_headers_are_cut_off() {
    let app = spawn_with_short_timeouts().await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: slow\r\n\r\n";
    let mut stream = connect(&app.address).await;
    let started = Instant::now();

    // 60 bytes, 100 ms apart, would take 6 s, far past the timeout.
    let slow_client = async {
        let sent_all = trickle(&mut stream, request, Duration::from_millis(100)).await;
        let closed = wait_for_close(&mut stream, SLACK).await;
        (sent_all, closed)
    };
    let (served_meanwhile, (sent_all, closed)) = tokio::join!(healthz_is_served(&app), slow_client);
    let elapsed = started.elapsed();

    assert!(served_meanwhile, "another client was not served");
    assert!(
        !sent_all || closed.is_some(),
        "connection still open after every byte"
    );
    assert!(
        elapsed < HEADER_TIMEOUT + SLACK + Duration::from_secs(6),
        "took {elapsed:?}"
    );
}

#[tokio::test]
async fn slow_header_answers_408_and_closes() {
    let app = spawn_with_short_timeouts().await;
    let mut stream = connect(&app.address).await;
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 1")
        .await
        .unwrap();
    let started = Instant::now();

    let response = read_response(&mut stream, HEADER_TIMEOUT + SLACK).await;
    let closed = wait_for_close(&mut stream, SLACK).await;

    let response = response.expect("a 408 before the close");
    assert_eq!(response.status, 408);
    assert!(closed.is_some(), "connection left open");
    let elapsed = started.elapsed();
    assert!(
        elapsed >= HEADER_TIMEOUT - ACTIX_CLOCK_STEP - Duration::from_millis(100),
        "answered after {elapsed:?}"
    );
}

#[tokio::test]
async fn kept_alive_slow_header_is_cut_off() {
    let app = spawn_with_short_timeouts().await;
    let mut stream = connect(&app.address).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let first = read_response(&mut stream, SLACK)
        .await
        .expect("first response");

    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHo")
        .await
        .unwrap();
    let closed = wait_for_close(&mut stream, HEADER_TIMEOUT + SLACK * 2).await;

    assert_eq!(first.status, 200);
    assert!(closed.is_some(), "second request held the connection open");
}

#[tokio::test]
async fn stalled_body_answers_408_and_closes() {
    let app = spawn_with_short_timeouts().await;
    let path = format!(
        "{}/accounts/{}/zt_risk_scoring/integrations",
        app.settings.server.base_path,
        account(1)
    );
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nContent-Length: 100\r\n\r\n{{\"integration_type\"",
        app.token
    );
    let mut stream = connect(&app.address).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();

    let served_meanwhile = healthz_is_served(&app).await;
    let response = read_response(&mut stream, BODY_TIMEOUT + SLACK).await;
    let elapsed = started.elapsed();
    let closed = wait_for_close(&mut stream, SLACK).await;
    let listed = app.list(&account(1)).await;

    let response = response.expect("a response before the close");
    assert!(served_meanwhile, "another client was not served");
    assert_eq!(response.status, 408);
    assert_eq!(response.json()["success"], false);
    assert_eq!(response.json()["errors"][0]["code"], 1012);
    assert!(
        elapsed >= BODY_TIMEOUT - Duration::from_millis(100),
        "{elapsed:?}"
    );
    assert!(closed.is_some(), "connection left open");
    assert_eq!(listed.body["result"], serde_json::json!([]));
}

#[tokio::test]
async fn trickled_body_is_cut_at_deadline() {
    let app = spawn_with_short_timeouts().await;
    let path = format!(
        "{}/accounts/{}/zt_risk_scoring/integrations",
        app.settings.server.base_path,
        account(1)
    );
    let body = br#"{"integration_type": "Okta", "tenant_url": "https://example.okta.com"}"#;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nContent-Length: {}\r\n\r\n",
        app.token,
        body.len()
    );
    let mut stream = connect(&app.address).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let started = Instant::now();

    // A byte every 100 ms keeps any per-read timeout from firing; only a deadline for the
    // whole body stops it. The 71 bytes would take 7 s.
    for byte in body.iter() {
        if started.elapsed() > BODY_TIMEOUT + SLACK || stream.write_all(&[*byte]).await.is_err() {
            break;
        }
        sleep(Duration::from_millis(100)).await;
    }
    let response = read_response(&mut stream, SLACK).await;
    let listed = app.list(&account(1)).await;

    let response = response.expect("a response before the close");
    assert_eq!(response.status, 408);
    assert_eq!(listed.body["result"], serde_json::json!([]));
}

#[tokio::test]
async fn idle_keep_alive_connection_is_closed() {
    let app = spawn_app_with(|settings| settings.limits.keep_alive_secs = 1).await;
    let mut stream = connect(&app.address).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    stream.write_all(request).await.unwrap();
    let response = read_response(&mut stream, SLACK).await.expect("a response");

    let closed = wait_for_close(&mut stream, Duration::from_secs(1) + SLACK).await;

    assert_eq!(response.status, 200);
    let closed = closed.expect("idle connection left open");
    assert!(
        closed >= Duration::from_secs(1) - ACTIX_CLOCK_STEP - Duration::from_millis(100),
        "closed after {closed:?}"
    );
}

#[tokio::test]
async fn disabled_keep_alive_closes_after_response() {
    let app = spawn_app_with(|settings| settings.limits.keep_alive_secs = 0).await;
    let mut stream = connect(&app.address).await;
    let request = b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n";
    stream.write_all(request).await.unwrap();

    let response = read_response(&mut stream, SLACK).await.expect("a response");
    let closed = wait_for_close(&mut stream, Duration::from_millis(500)).await;

    assert_eq!(response.status, 200);
    assert!(closed.is_some(), "connection kept alive");
}

#[tokio::test]
async fn connection_cap_holds() {
    let app = spawn_app_with(|settings| {
        settings.server.workers = 2;
        settings.limits.max_connections = 4;
        settings.limits.header_read_timeout_ms = 20_000;
    })
    .await;
    let mut held_connections = Vec::new();
    for _ in 0..4 {
        let mut stream = connect(&app.address).await;
        stream
            .write_all(b"GET /healthz HTTP/1.1\r\n")
            .await
            .unwrap();
        held_connections.push(stream);
    }
    // Lets both workers register the connections before the next one arrives.
    sleep(Duration::from_millis(300)).await;

    let served_at_cap = healthz_is_served(&app).await;
    drop(held_connections.pop());
    let served_below_cap = healthz_is_served(&app).await;

    assert!(!served_at_cap, "a fifth connection was served");
    assert!(served_below_cap, "not served after a connection closed");
}

#[tokio::test]
async fn body_after_100_continue_is_not_head() {
    let app = spawn_app_with(|settings| {
        // Above ACTIX_CLOCK_STEP, so actix-web's own head timer cannot fire before the head
        // has arrived.
        settings.limits.header_read_timeout_ms = 700;
        settings.limits.body_read_timeout_ms = 5_000;
    })
    .await;
    let path = format!(
        "{}/accounts/{}/zt_risk_scoring/integrations",
        app.settings.server.base_path,
        account(1)
    );
    let body = br#"{"integration_type": "Okta", "tenant_url": "https://example.okta.com"}"#;
    let head = format!(
        "POST {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nContent-Type: application/json\r\n\
         Authorization: Bearer {}\r\nExpect: 100-continue\r\nContent-Length: {}\r\n\r\n",
        app.token,
        body.len()
    );
    let mut stream = connect(&app.address).await;
    stream.write_all(head.as_bytes()).await.unwrap();
    let interim = read_response(&mut stream, SLACK)
        .await
        .expect("100 Continue");

    // The rest of the body comes after twice the header timeout, but well within the body
    // timeout, so only a head deadline wrongly applied to the body would cut it.
    stream.write_all(&body[..10]).await.unwrap();
    sleep(Duration::from_millis(1500)).await;
    stream.write_all(&body[10..]).await.unwrap();
    let created = read_response(&mut stream, SLACK).await.expect("a response");
    stream
        .write_all(b"GET /healthz HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n")
        .await
        .unwrap();
    let next = read_response(&mut stream, SLACK).await;

    assert_eq!(interim.status, 100);
    assert_eq!(created.status, 200, "{:?}", created.json());
    assert_eq!(next.map(|response| response.status), Some(200));
}
