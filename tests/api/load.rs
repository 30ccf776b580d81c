//! Contention: hundreds of concurrent clients mixing all six operations, then a check that the
//! final state is exactly what the acknowledged responses imply.
//!
//! Each client owns its integrations (its own reference id prefix, in an account shared with
//! a few other clients), so it tracks their exact state after every acknowledged request. All
//! clients also fight over a small shared set: PUTs of the same integrations, and creates of
//! the same reference ids. For those, the check is linearizability: a later read may show
//! only a value some PUT sent, and the final value must come from a PUT that was not yet
//! answered when the last PUT of that integration was sent.
//!
//! `ZTRISK_LOAD_SECS` (default 20) sets how long the clients run and `ZTRISK_LOAD_CLIENTS`
//! (default 200) how many there are; `ZTRISK_LOAD_SECS=60` gives the full minute.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::helpers::{account, read, spawn_app_with, Reply, TestApp};

const ACCOUNTS: u32 = 20;
const SHARED_INTEGRATIONS: usize = 8;
const CONTESTED_REFERENCE_IDS: u64 = 64;

fn env_or(name: &str, default: u64) -> u64 {
    std::env::var(name)
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(default)
}

/// A small, seedable generator, so each client's mix of operations is reproducible.
struct XorShift(u64);

impl XorShift {
    fn below(&mut self, n: u64) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0 % n
    }
}

/// One acknowledged PUT of a shared integration.
#[derive(Clone)]
struct SharedPut {
    body: Value,
    sent: Instant,
    acknowledged: Instant,
}

#[derive(Default)]
struct Shared {
    /// Every tenant URL sent for each shared integration, acknowledged or not.
    sent_urls: Vec<HashSet<String>>,
    acknowledged: Vec<Vec<SharedPut>>,
    /// Ids that won each contested reference id.
    contested_winners: BTreeMap<String, Vec<String>>,
}

struct Run {
    app: TestApp,
    shared_account: String,
    shared_ids: Vec<String>,
    shared: Mutex<Shared>,
    deadline: Instant,
}

/// Counts and faults of one client.
#[derive(Default)]
struct Tally {
    requests: u64,
    faults: Vec<String>,
    /// This client's integrations as last acknowledged, by id.
    owned: HashMap<String, Value>,
    deleted: Vec<String>,
}

impl Tally {
    fn fault(&mut self, message: String) {
        if self.faults.len() < 20 {
            self.faults.push(message);
        }
    }

    /// Records a fault unless `reply` has one of `expected` statuses; 5xx and the database
    /// unavailable code are always faults.
    fn expect(&mut self, operation: &str, reply: &Reply, expected: &[StatusCode]) -> bool {
        self.requests += 1;
        let codes = reply.error_codes();
        if reply.status.is_server_error() || codes.contains(&1010) {
            self.fault(format!("{operation}: {} {}", reply.status, reply.body));
            return false;
        }
        if !expected.contains(&reply.status) {
            self.fault(format!(
                "{operation}: unexpected {} {}",
                reply.status, reply.body
            ));
            return false;
        }
        true
    }
}

async fn send(request: reqwest::RequestBuilder) -> Result<Reply, String> {
    match request.timeout(Duration::from_secs(30)).send().await {
        Ok(response) => Ok(read(response).await),
        Err(error) => Err(format!("transport error: {error}")),
    }
}

async fn run_client(run: Arc<Run>, index: u64) -> Tally {
    let mut tally = Tally::default();
    let mut random = XorShift(0x9e37_79b9_7f4a_7c15 ^ (index + 1).wrapping_mul(0x2545_f491));
    let account = account(1 + (index as u32 % ACCOUNTS));
    let app = &run.app;
    let mut counter = 0u64;
    while Instant::now() < run.deadline {
        counter += 1;
        let owned_ids: Vec<String> = tally.owned.keys().cloned().collect();
        let pick = |random: &mut XorShift| -> Option<String> {
            (!owned_ids.is_empty())
                .then(|| owned_ids[random.below(owned_ids.len() as u64) as usize].clone())
        };
        let outcome = match random.below(20) {
            0..=3 => create_owned(app, &account, index, counter, &mut random, &mut tally).await,
            4..=6 => match pick(&mut random) {
                Some(id) => get_owned(app, &account, &id, &mut tally).await,
                None => Ok(()),
            },
            7..=8 => match pick(&mut random) {
                Some(id) => get_owned_by_reference(app, &account, &id, &mut tally).await,
                None => Ok(()),
            },
            9..=11 => match pick(&mut random) {
                Some(id) => {
                    update_owned(app, &account, &id, index, counter, &mut random, &mut tally).await
                }
                None => Ok(()),
            },
            12 => match pick(&mut random) {
                Some(id) => delete_owned(app, &account, &id, &mut tally).await,
                None => Ok(()),
            },
            13 => get_deleted(app, &account, &mut random, &mut tally).await,
            14 => list_owned(app, &account, &mut tally).await,
            15..=16 => put_shared(&run, index, counter, &mut random, &mut tally).await,
            17..=18 => get_shared(&run, &mut random, &mut tally).await,
            _ => create_contested(&run, &mut random, &mut tally).await,
        };
        if let Err(message) = outcome {
            tally.fault(message);
        }
    }
    tally
}

async fn create_owned(
    app: &TestApp,
    account: &str,
    index: u64,
    counter: u64,
    random: &mut XorShift,
    tally: &mut Tally,
) -> Result<(), String> {
    let reference_id = format!("c{index}-{counter}");
    let body = json!({
        "integration_type": "okta",
        "tenant_url": format!("https://c{index}-{counter}.okta.com"),
        "reference_id": reference_id,
        "active": random.below(2) == 0,
    });
    let request = app.client.post(app.integrations_url(account)).json(&body);
    let reply = send(request).await?;
    if tally.expect("create", &reply, &[StatusCode::OK]) {
        let result = reply.body["result"].clone();
        let matches = result["reference_id"] == body["reference_id"]
            && result["tenant_url"] == body["tenant_url"]
            && result["active"] == body["active"];
        if !matches {
            tally.fault(format!("create: {result} does not match {body}"));
        }
        let id = result["id"].as_str().unwrap_or_default().to_owned();
        tally.owned.insert(id, result);
    }
    Ok(())
}

async fn get_owned(
    app: &TestApp,
    account: &str,
    id: &str,
    tally: &mut Tally,
) -> Result<(), String> {
    let url = format!("{}/{id}", app.integrations_url(account));
    let reply = send(app.client.get(url)).await?;
    if tally.expect("get", &reply, &[StatusCode::OK]) && reply.body["result"] != tally.owned[id] {
        let expected = &tally.owned[id];
        tally.fault(format!("get: {} is not {expected}", reply.body["result"]));
    }
    Ok(())
}

async fn get_owned_by_reference(
    app: &TestApp,
    account: &str,
    id: &str,
    tally: &mut Tally,
) -> Result<(), String> {
    let reference_id = tally.owned[id]["reference_id"].as_str().unwrap_or_default();
    let url = format!(
        "{}/reference_id/{reference_id}",
        app.integrations_url(account)
    );
    let reply = send(app.client.get(url)).await?;
    if tally.expect("get by reference id", &reply, &[StatusCode::OK])
        && reply.body["result"] != tally.owned[id]
    {
        let expected = &tally.owned[id];
        tally.fault(format!(
            "get by reference id: {} is not {expected}",
            reply.body["result"]
        ));
    }
    Ok(())
}

async fn update_owned(
    app: &TestApp,
    account: &str,
    id: &str,
    index: u64,
    counter: u64,
    random: &mut XorShift,
    tally: &mut Tally,
) -> Result<(), String> {
    let mut expected = tally.owned[id].clone();
    let tenant_url = format!("https://u{index}-{counter}.okta.com");
    let active = match random.below(3) {
        0 => Value::Null,
        n => Value::Bool(n == 1),
    };
    let reference_id = match random.below(2) {
        0 => Value::Null,
        _ => Value::String(format!("c{index}-{counter}")),
    };
    let body = json!({"tenant_url": tenant_url, "active": active, "reference_id": reference_id});
    expected["tenant_url"] = json!(tenant_url);
    if !active.is_null() {
        expected["active"] = active;
    }
    if !reference_id.is_null() {
        expected["reference_id"] = reference_id;
    }
    let url = format!("{}/{id}", app.integrations_url(account));
    let reply = send(app.client.put(url).json(&body)).await?;
    if tally.expect("update", &reply, &[StatusCode::OK]) {
        if reply.body["result"] != expected {
            tally.fault(format!(
                "update: {} is not {expected}",
                reply.body["result"]
            ));
        }
        tally.owned.insert(id.to_owned(), expected);
    }
    Ok(())
}

async fn delete_owned(
    app: &TestApp,
    account: &str,
    id: &str,
    tally: &mut Tally,
) -> Result<(), String> {
    let url = format!("{}/{id}", app.integrations_url(account));
    let reply = send(app.client.delete(url)).await?;
    if tally.expect("delete", &reply, &[StatusCode::OK]) {
        tally.owned.remove(id);
        tally.deleted.push(id.to_owned());
    }
    Ok(())
}

async fn get_deleted(
    app: &TestApp,
    account: &str,
    random: &mut XorShift,
    tally: &mut Tally,
) -> Result<(), String> {
    if tally.deleted.is_empty() {
        return Ok(());
    }
    let id = tally.deleted[random.below(tally.deleted.len() as u64) as usize].clone();
    let url = format!("{}/{id}", app.integrations_url(account));
    let reply = send(app.client.get(url)).await?;
    tally.expect("get deleted", &reply, &[StatusCode::NOT_FOUND]);
    Ok(())
}

async fn list_owned(app: &TestApp, account: &str, tally: &mut Tally) -> Result<(), String> {
    let reply = send(app.client.get(app.integrations_url(account))).await?;
    if !tally.expect("list", &reply, &[StatusCode::OK]) {
        return Ok(());
    }
    let listed: HashMap<String, Value> = reply.body["result"]
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .map(|item| (item["id"].as_str().unwrap_or_default().to_owned(), item))
        .collect();
    let mut problems = Vec::new();
    for (id, expected) in &tally.owned {
        if listed.get(id) != Some(expected) {
            problems.push(format!(
                "list: {id} is {:?}, not {expected}",
                listed.get(id)
            ));
        }
    }
    for id in &tally.deleted {
        if listed.contains_key(id) {
            problems.push(format!("list: deleted {id} is listed"));
        }
    }
    for problem in problems {
        tally.fault(problem);
    }
    Ok(())
}

async fn put_shared(
    run: &Run,
    index: u64,
    counter: u64,
    random: &mut XorShift,
    tally: &mut Tally,
) -> Result<(), String> {
    let slot = random.below(SHARED_INTEGRATIONS as u64) as usize;
    let tenant_url = format!("https://s{slot}-c{index}-{counter}.okta.com");
    let body = json!({"tenant_url": tenant_url, "active": random.below(2) == 0});
    run.shared.lock().unwrap().sent_urls[slot].insert(tenant_url.clone());
    let url = format!(
        "{}/{}",
        run.app.integrations_url(&run.shared_account),
        run.shared_ids[slot]
    );

    let sent = Instant::now();
    let reply = send(run.app.client.put(url).json(&body)).await?;
    let acknowledged = Instant::now();

    if tally.expect("shared update", &reply, &[StatusCode::OK]) {
        let result = reply.body["result"].clone();
        if result["tenant_url"] != tenant_url || result["active"] != body["active"] {
            tally.fault(format!("shared update: {result} does not match {body}"));
        }
        let put = SharedPut {
            body: result,
            sent,
            acknowledged,
        };
        run.shared.lock().unwrap().acknowledged[slot].push(put);
    }
    Ok(())
}

async fn get_shared(run: &Run, random: &mut XorShift, tally: &mut Tally) -> Result<(), String> {
    let slot = random.below(SHARED_INTEGRATIONS as u64) as usize;
    let url = format!(
        "{}/{}",
        run.app.integrations_url(&run.shared_account),
        run.shared_ids[slot]
    );
    let reply = send(run.app.client.get(url)).await?;
    if tally.expect("shared get", &reply, &[StatusCode::OK]) {
        let tenant_url = reply.body["result"]["tenant_url"]
            .as_str()
            .unwrap_or_default();
        let was_sent = run.shared.lock().unwrap().sent_urls[slot].contains(tenant_url);
        if !was_sent {
            tally.fault(format!("shared get: {tenant_url} was never sent"));
        }
    }
    Ok(())
}

async fn create_contested(
    run: &Run,
    random: &mut XorShift,
    tally: &mut Tally,
) -> Result<(), String> {
    let reference_id = format!("contested-{}", random.below(CONTESTED_REFERENCE_IDS));
    let body = json!({
        "integration_type": "Okta",
        "tenant_url": "https://contested.okta.com",
        "reference_id": reference_id,
    });
    let request = run
        .app
        .client
        .post(run.app.integrations_url(&run.shared_account))
        .json(&body);
    let reply = send(request).await?;
    let expected = [StatusCode::OK, StatusCode::CONFLICT];
    if tally.expect("contested create", &reply, &expected) && reply.status == StatusCode::OK {
        let id = reply.body["result"]["id"]
            .as_str()
            .unwrap_or_default()
            .to_owned();
        let mut shared = run.shared.lock().unwrap();
        shared
            .contested_winners
            .entry(reference_id)
            .or_default()
            .push(id);
    }
    Ok(())
}

async fn spawn_for_load() -> TestApp {
    spawn_app_with(|settings| {
        settings.rate_limit.requests = 1_000_000_000;
        settings.integrations.max_per_account = 100_000;
        settings.limits.max_connections = 2_000;
        // The load here is contention, not slow clients. On a machine busy with the rest of
        // the suite, a worker can take seconds to read a new connection's first request
        // head, and the default timeout would then respond with 408.
        settings.limits.header_read_timeout_ms = 60_000;
        settings.limits.body_read_timeout_ms = 60_000;
    })
    .await
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_load_keeps_acknowledged_state() {
    let seconds = env_or("ZTRISK_LOAD_SECS", 20);
    let clients = env_or("ZTRISK_LOAD_CLIENTS", 200);
    let app = spawn_for_load().await;
    let shared_account = account(999);
    let mut shared_ids = Vec::new();
    let mut initial = Shared::default();
    for slot in 0..SHARED_INTEGRATIONS {
        let tenant_url = format!("https://shared-{slot}.okta.com");
        let body = json!({"integration_type": "Okta", "tenant_url": tenant_url});
        let created = app.create_ok(&shared_account, &body).await;
        shared_ids.push(created["id"].as_str().unwrap().to_owned());
        initial.sent_urls.push(HashSet::from([tenant_url]));
        initial.acknowledged.push(Vec::new());
    }
    let run = Arc::new(Run {
        app,
        shared_account,
        shared_ids,
        shared: Mutex::new(initial),
        deadline: Instant::now() + Duration::from_secs(seconds),
    });

    let started = Instant::now();
    let tasks: Vec<_> = (0..clients)
        .map(|index| tokio::spawn(run_client(Arc::clone(&run), index)))
        .collect();
    let mut tallies = Vec::new();
    for task in tasks {
        tallies.push(task.await.expect("client task finished"));
    }
    let elapsed = started.elapsed();

    let requests: u64 = tallies.iter().map(|tally| tally.requests).sum();
    let faults: Vec<&String> = tallies.iter().flat_map(|tally| &tally.faults).collect();
    eprintln!(
        "{clients} clients sent {requests} requests in {elapsed:.1?} ({:.0}/s)",
        requests as f64 / elapsed.as_secs_f64()
    );
    assert!(
        faults.is_empty(),
        "{} faults, first: {:#?}",
        faults.len(),
        &faults[..faults.len().min(10)]
    );
    assert!(
        requests >= clients * 5,
        "only {requests} requests were made"
    );
    check_owned_accounts(&run.app, &tallies).await;
    check_shared_integrations(&run).await;
    check_contested_reference_ids(&run).await;
}

/// Checks that every account lists exactly the integrations its clients last acknowledged, in order.
async fn check_owned_accounts(app: &TestApp, tallies: &[Tally]) {
    for number in 1..=ACCOUNTS {
        let account = account(number);
        let mut expected: HashMap<String, Value> = HashMap::new();
        for (index, tally) in tallies.iter().enumerate() {
            if 1 + (index as u32 % ACCOUNTS) == number {
                expected.extend(tally.owned.clone());
            }
        }

        let listed = app.list(&account).await;

        let items = listed.body["result"]
            .as_array()
            .cloned()
            .unwrap_or_default();
        let listed_map: HashMap<String, Value> = items
            .iter()
            .map(|item| (item["id"].as_str().unwrap().to_owned(), item.clone()))
            .collect();
        assert_eq!(listed.status, StatusCode::OK, "account {number}");
        assert_eq!(items.len(), expected.len(), "account {number}: row count");
        assert_eq!(listed_map, expected, "account {number}: rows");
        let order: Vec<(String, String)> = items
            .iter()
            .map(|item| (item["created_at"].to_string(), item["id"].to_string()))
            .collect();
        let mut sorted = order.clone();
        sorted.sort();
        assert_eq!(order, sorted, "account {number}: list order");
    }
}

/// Checks that each shared integration ends as one acknowledged PUT left it, and that this
/// PUT was still in flight when the last PUT of that integration was sent.
async fn check_shared_integrations(run: &Run) {
    let acknowledged = run.shared.lock().unwrap().acknowledged.clone();
    for (slot, puts) in acknowledged.iter().enumerate() {
        let fetched = run
            .app
            .get(&run.shared_account, &run.shared_ids[slot])
            .await;
        let result = &fetched.body["result"];

        assert_eq!(fetched.status, StatusCode::OK, "shared {slot}");
        if puts.is_empty() {
            continue;
        }
        let last_sent = puts.iter().map(|put| put.sent).max().unwrap();
        let candidates: Vec<&SharedPut> = puts
            .iter()
            .filter(|put| put.acknowledged >= last_sent)
            .collect();
        let matching = puts.iter().find(|put| put.body == *result);
        let matching = matching.unwrap_or_else(|| {
            panic!("shared {slot}: final {result} is no acknowledged PUT's result")
        });
        assert!(
            candidates.iter().any(|put| put.body == matching.body),
            "shared {slot}: final state came from a PUT answered before a later one was sent"
        );
    }
}

/// Checks that each contested reference id was won by exactly one create, and that row is stored.
async fn check_contested_reference_ids(run: &Run) {
    let winners = run.shared.lock().unwrap().contested_winners.clone();
    let listed = run.app.list(&run.shared_account).await;
    let items = listed.body["result"]
        .as_array()
        .cloned()
        .unwrap_or_default();

    assert!(!winners.is_empty(), "no contested create succeeded");
    for (reference_id, ids) in &winners {
        let rows: Vec<&Value> = items
            .iter()
            .filter(|item| item["reference_id"] == reference_id.as_str())
            .collect();
        assert_eq!(
            ids.len(),
            1,
            "{reference_id} was created {} times",
            ids.len()
        );
        assert_eq!(rows.len(), 1, "{reference_id} has {} rows", rows.len());
        assert_eq!(rows[0]["id"], ids[0].as_str(), "{reference_id}: stored id");
    }
    let contested_rows = items
        .iter()
        .filter(|item| {
            item["reference_id"]
                .as_str()
                .is_some_and(|r| r.starts_with("contested-"))
        })
        .count();
    assert_eq!(
        contested_rows,
        winners.len(),
        "contested rows without an acknowledged create"
    );
}

/// Rounds of concurrent PUTs of one integration: after each round, a GET returns the whole
/// result of one PUT of that round, and of one still unanswered when the round's last PUT was
/// sent. Half the PUTs send `null` for `active` and `reference_id`, so their results also
/// show which PUT was committed just before them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_puts_last_acknowledged_wins() {
    let app = Arc::new(spawn_for_load().await);
    let account = account(1);
    let created = app
        .create_ok(&account, &json!({"integration_type": "Okta", "tenant_url": "https://a.okta.com", "reference_id": "round-0"}))
        .await;
    let id = created["id"].as_str().unwrap().to_owned();
    let url = format!("{}/{id}", app.integrations_url(&account));
    let mut previous = created;

    for round in 1..=30 {
        let puts: Vec<_> = (0..16)
            .map(|n| {
                let app = Arc::clone(&app);
                let url = url.clone();
                tokio::spawn(async move {
                    let body = if n % 2 == 0 {
                        json!({
                            "tenant_url": format!("https://r{round}-p{n}.okta.com"),
                            "active": n % 4 == 0,
                            "reference_id": format!("round-{round}-{n}"),
                        })
                    } else {
                        json!({
                            "tenant_url": format!("https://r{round}-p{n}.okta.com"),
                            "active": null,
                            "reference_id": null,
                        })
                    };
                    let sent = Instant::now();
                    let reply = read(app.client.put(url).json(&body).send().await.unwrap()).await;
                    (body, reply, sent, Instant::now())
                })
            })
            .collect();
        let mut results = Vec::new();
        for put in puts {
            results.push(put.await.unwrap());
        }

        let fetched = app.get(&account, &id).await;

        let final_state = &fetched.body["result"];
        let round_urls: Vec<String> = (0..16)
            .map(|n| format!("https://r{round}-p{n}.okta.com"))
            .collect();
        let round_references: Vec<String> = (0..16)
            .step_by(2)
            .map(|n| format!("round-{round}-{n}"))
            .collect();
        let last_sent = results.iter().map(|(_, _, sent, _)| *sent).max().unwrap();
        for (body, reply, _, _) in &results {
            assert_eq!(
                reply.status,
                StatusCode::OK,
                "round {round}: {}",
                reply.body
            );
            let result = &reply.body["result"];
            assert_eq!(result["tenant_url"], body["tenant_url"], "round {round}");
            let reference_id = result["reference_id"].as_str().unwrap().to_owned();
            let from_this_round = round_references.contains(&reference_id);
            let from_before = reference_id == previous["reference_id"].as_str().unwrap();
            assert!(
                from_this_round || from_before,
                "round {round}: kept reference id {reference_id} came from no earlier PUT"
            );
        }
        let winner = results
            .iter()
            .find(|(_, reply, _, _)| reply.body["result"] == *final_state)
            .unwrap_or_else(|| panic!("round {round}: {final_state} is no PUT's result"));
        assert!(
            round_urls
                .iter()
                .any(|url| final_state["tenant_url"] == url.as_str()),
            "round {round}: final state is from an earlier round"
        );
        assert!(
            winner.3 >= last_sent,
            "round {round}: winner was answered before the round's last PUT was sent"
        );
        previous = final_state.clone();
    }
}
