//! The per-token rate limit: 429 in the envelope with Retry-After, one bucket per token.

use std::net::{IpAddr, Ipv4Addr};
use std::time::Duration;

use reqwest::StatusCode;
use ztrisk::domain::{AccountScope, Permission};

use crate::helpers::{account, bearer, read, spawn_app_with, Reply, TestApp};

async fn spawn_with_limit(requests: u64, period_secs: u64) -> TestApp {
    spawn_app_with(|settings| {
        settings.rate_limit.requests = requests;
        settings.rate_limit.period_secs = period_secs;
    })
    .await
}

/// Builds a client that sends `secret` and connects from `source`, an address of the
/// loopback network.
fn client_from(source: Ipv4Addr, secret: &str) -> reqwest::Client {
    let mut headers = reqwest::header::HeaderMap::new();
    headers.insert(reqwest::header::AUTHORIZATION, bearer(secret));
    reqwest::Client::builder()
        .local_address(IpAddr::V4(source))
        .default_headers(headers)
        .build()
        .expect("client builds")
}

async fn new_token(app: &TestApp) -> String {
    let (_, secret) = app
        .issue_token(Permission::Edit, AccountScope::All, None)
        .await;
    secret
}

async fn hammer(app: &TestApp, client: &reqwest::Client, count: usize) -> Vec<StatusCode> {
    let mut statuses = Vec::new();
    for _ in 0..count {
        statuses.push(list_from(app, client).await.status);
    }
    statuses
}

fn count_limited(statuses: &[StatusCode]) -> usize {
    statuses
        .iter()
        .filter(|status| **status == StatusCode::TOO_MANY_REQUESTS)
        .count()
}

async fn list_from(app: &TestApp, client: &reqwest::Client) -> Reply {
    let response = client.get(app.integrations_url(&account(1))).send().await;
    read(response.expect("request sent")).await
}

#[tokio::test]
async fn excess_requests_get_429_with_retry_after() {
    let app = spawn_with_limit(3, 60).await;

    let mut replies = Vec::new();
    for _ in 0..4 {
        replies.push(app.list(&account(1)).await);
    }

    let limited = replies.pop().unwrap();
    for reply in &replies {
        assert_eq!(reply.status, StatusCode::OK);
    }
    limited.assert_error(StatusCode::TOO_MANY_REQUESTS, 971);
    let message = limited.body["errors"][0]["message"].as_str().unwrap();
    assert!(message.contains("3 requests per 60 seconds"), "{message}");
    let retry_after = limited.headers.get("retry-after").expect("Retry-After");
    let retry_after: u64 = retry_after.to_str().unwrap().parse().unwrap();
    assert!(
        (1..=20).contains(&retry_after),
        "Retry-After: {retry_after}"
    );
    assert!(limited.headers.get("x-should-retry").is_none());
}

#[tokio::test]
async fn waiting_retry_after_lets_client_in() {
    // One request is regained every 3 seconds, so the third request is limited unless the
    // three take longer than that, even on a loaded machine.
    let app = spawn_with_limit(2, 6).await;
    app.list(&account(1)).await;
    app.list(&account(1)).await;
    let limited = app.list(&account(1)).await;
    assert_eq!(
        limited.status,
        StatusCode::TOO_MANY_REQUESTS,
        "{}",
        limited.body
    );
    let retry_after: u64 = limited.headers["retry-after"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();

    tokio::time::sleep(Duration::from_secs(retry_after)).await;
    let after_wait = app.list(&account(1)).await;

    assert_eq!(after_wait.status, StatusCode::OK, "{}", after_wait.body);
}

#[tokio::test]
async fn hammering_token_does_not_starve_another() {
    let app = spawn_with_limit(5, 60).await;
    let loopback = Ipv4Addr::new(127, 0, 0, 1);
    let noisy = client_from(loopback, &new_token(&app).await);
    let quiet = client_from(loopback, &new_token(&app).await);

    let noisy_statuses = hammer(&app, &noisy, 50).await;
    let quiet_statuses = hammer(&app, &quiet, 5).await;
    let noisy_health = noisy
        .get(format!("{}/healthz", app.address))
        .send()
        .await
        .unwrap();

    assert_eq!(
        count_limited(&noisy_statuses),
        45,
        "noisy: {noisy_statuses:?}"
    );
    assert_eq!(
        count_limited(&quiet_statuses),
        0,
        "quiet: {quiet_statuses:?}"
    );
    assert_eq!(noisy_health.status(), StatusCode::OK, "probes are limited");
}

#[tokio::test]
async fn token_limit_follows_token_across_addresses() {
    let app = spawn_with_limit(5, 60).await;
    let secret = new_token(&app).await;
    let first = client_from(Ipv4Addr::new(127, 0, 0, 1), &secret);
    let second = client_from(Ipv4Addr::new(127, 0, 0, 2), &secret);

    let from_first = hammer(&app, &first, 5).await;
    let from_second = hammer(&app, &second, 5).await;

    assert_eq!(
        count_limited(&from_first),
        0,
        "first address: {from_first:?}"
    );
    assert_eq!(
        count_limited(&from_second),
        5,
        "second address: {from_second:?}"
    );
}

#[tokio::test]
async fn disabled_limit_lets_everything_through() {
    let app = spawn_app_with(|settings| {
        settings.rate_limit.enabled = false;
        settings.rate_limit.requests = 1;
    })
    .await;

    let mut statuses = Vec::new();
    for _ in 0..10 {
        statuses.push(app.list(&account(1)).await.status);
    }

    assert!(
        statuses.iter().all(|status| *status == StatusCode::OK),
        "{statuses:?}"
    );
}
