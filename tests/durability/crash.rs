//! SIGKILL at random moments under a full-speed write load: every acknowledged write must
//! survive, and nothing else may appear except a complete in-flight write.

use std::collections::{BTreeMap, HashMap};
use std::time::{Duration, Instant};

use reqwest::StatusCode;
use serde_json::{json, Value};

use crate::daemon::{account, client_with_token, inspect, stored_fields, Daemon, Options};

/// Kill-and-restart cycles; `ZTRISK_CRASH_CYCLES` overrides it.
const DEFAULT_CYCLES: u32 = 25;
/// Client tasks writing at once.
const WRITERS: usize = 6;
/// Accounts the writers share.
const ACCOUNTS: u32 = 3;
/// Maximum number of live integrations per writer. Creates outnumber deletes, so without a cap
/// a long run fills an account to the daemon's limit of 1,000 and creates fail. Two writers
/// share an account, so the cap keeps each account at 400 or fewer.
const MAX_LIVE_PER_WRITER: usize = 200;
/// Bounds, in milliseconds, of the random time the load runs before SIGKILL. The range spans
/// several of the writer's background checkpoints, which run every 100 ms, so some kills land
/// during a checkpoint.
const KILL_AFTER_MS: std::ops::Range<u64> = 30..1100;

/// A write that was sent and had no response when the daemon died. It may or may not have been
/// committed, but if it was, it was committed whole.
#[derive(Debug, Clone)]
enum InFlight {
    Create {
        account: String,
        body: Value,
    },
    Update {
        account: String,
        id: String,
        body: Value,
        expected: Value,
    },
    Delete {
        account: String,
        id: String,
    },
}

/// One client task's view of the integrations it wrote.
struct Writer {
    index: usize,
    account: String,
    /// Writes sent so far, used to make reference ids and tenant URLs unique.
    counter: u64,
    /// The last acknowledged state of each integration this writer created: the view the
    /// daemon returned, or `None` once a delete was acknowledged.
    acknowledged: BTreeMap<String, Option<Value>>,
    /// Writes acknowledged with 200 so far.
    acknowledged_writes: u64,
    in_flight: Option<InFlight>,
    /// Responses that no correct daemon sends, such as 404 for an acknowledged integration.
    faults: Vec<String>,
    rng: fastrand::Rng,
}

impl Writer {
    fn live_ids(&self) -> Vec<String> {
        let live = self.acknowledged.iter().filter(|(_, view)| view.is_some());
        live.map(|(id, _)| id.clone()).collect()
    }

    /// Picks the next write: a create when the writer has few integrations, else a create,
    /// update or delete at random, with no create once the writer has `MAX_LIVE_PER_WRITER`.
    fn next_write(&mut self) -> InFlight {
        self.counter += 1;
        let tag = format!("w{}-{}", self.index, self.counter);
        let live = self.live_ids();
        let roll = self.rng.u32(0..100);
        if live.len() < 3 || (roll < 40 && live.len() < MAX_LIVE_PER_WRITER) {
            let body = json!({
                "integration_type": "Okta",
                "tenant_url": format!("https://{tag}-c.okta.com"),
                "reference_id": tag,
                "active": self.rng.bool(),
            });
            return InFlight::Create {
                account: self.account.clone(),
                body,
            };
        }
        let id = live[self.rng.usize(0..live.len())].clone();
        if roll < 75 {
            let mut expected = self.acknowledged[&id].clone().expect("live id has a view");
            expected["tenant_url"] = json!(format!("https://{tag}-u.okta.com"));
            expected["active"] = json!(self.rng.bool());
            let mut body = json!({
                "tenant_url": expected["tenant_url"],
                "active": expected["active"],
            });
            // A third of the updates change the reference id, a third keep it by sending
            // null as Terraform does, and a third leave it out.
            match self.rng.u32(0..3) {
                0 => {
                    expected["reference_id"] = json!(tag);
                    body["reference_id"] = json!(tag);
                }
                1 => body["reference_id"] = Value::Null,
                _ => {}
            }
            return InFlight::Update {
                account: self.account.clone(),
                id,
                body,
                expected,
            };
        }
        InFlight::Delete {
            account: self.account.clone(),
            id,
        }
    }

    /// Sends writes until one gets no response, which happens once the daemon is
    /// killed, or until `deadline`.
    async fn run(mut self, daemon_url: String, token: String, deadline: Instant) -> Writer {
        let client = client_with_token(&token);
        while Instant::now() < deadline {
            let write = self.next_write();
            self.in_flight = Some(write.clone());
            let (status, body) = match send(&client, &daemon_url, &write).await {
                Ok(response) => response,
                Err(error) => {
                    // A refused connection carried nothing, so only a write that was sent
                    // stays in flight.
                    if error.is_connect() {
                        self.in_flight = None;
                    }
                    return self;
                }
            };
            self.in_flight = None;
            self.acknowledge(write, status, body);
        }
        self
    }

    fn acknowledge(&mut self, write: InFlight, status: StatusCode, body: Value) {
        if status != StatusCode::OK {
            self.faults
                .push(format!("{write:?} answered {status}: {body}"));
            return;
        }
        self.acknowledged_writes += 1;
        let result = body["result"].clone();
        match write {
            InFlight::Create { .. } => {
                let id = result["id"].as_str().expect("created id").to_owned();
                self.acknowledged.insert(id, Some(result));
            }
            InFlight::Update { id, expected, .. } => {
                if result != expected {
                    self.faults.push(format!(
                        "update of {id} answered {result}, expected {expected}"
                    ));
                }
                self.acknowledged.insert(id, Some(result));
            }
            InFlight::Delete { id, .. } => {
                self.acknowledged.insert(id, None);
            }
        }
    }

    /// Checks the rows of this writer's account against what was acknowledged, and settles
    /// the in-flight write by what the restarted daemon holds. Removes the rows it accounts
    /// for from `rows`.
    fn reconcile(&mut self, rows: &mut HashMap<String, Value>, cycle: u32) {
        if let Some(write) = self.in_flight.take() {
            self.settle(write, rows, cycle);
        }
        for (id, acknowledged) in &self.acknowledged {
            let found = rows.remove(id);
            assert_eq!(
                &found, acknowledged,
                "cycle {cycle}: writer {} integration {id} differs from its last \
                 acknowledged state",
                self.index
            );
        }
    }

    /// Records the outcome of a write that was in flight at the kill: either nothing of it
    /// is stored, or all of it is.
    fn settle(&mut self, write: InFlight, rows: &HashMap<String, Value>, cycle: u32) {
        match write {
            InFlight::Create { account, body } => {
                let created = rows.values().find(|row| {
                    row["account_tag"] == json!(account)
                        && row["reference_id"] == body["reference_id"]
                });
                if let Some(row) = created {
                    let id = row["id"].as_str().expect("row id").to_owned();
                    for field in ["tenant_url", "active", "reference_id"] {
                        assert_eq!(
                            row[field], body[field],
                            "cycle {cycle}: in-flight create stored {field} half-done: {row}"
                        );
                    }
                    assert_eq!(row["integration_type"], "Okta", "cycle {cycle}: {row}");
                    self.acknowledged.insert(id, Some(row.clone()));
                }
            }
            InFlight::Update { id, expected, .. } => {
                let found = rows.get(&id).cloned();
                let before = self.acknowledged[&id].clone();
                assert!(
                    found == before || found.as_ref() == Some(&expected),
                    "cycle {cycle}: in-flight update of {id} is half-done: stored {found:?}, \
                     before {before:?}, sent {expected}"
                );
                self.acknowledged.insert(id, found);
            }
            InFlight::Delete { id, .. } => {
                let found = rows.get(&id).cloned();
                let before = self.acknowledged[&id].clone();
                assert!(
                    found.is_none() || found == before,
                    "cycle {cycle}: in-flight delete of {id} left {found:?}, before {before:?}"
                );
                self.acknowledged.insert(id, found);
            }
        }
    }
}

async fn send(
    client: &reqwest::Client,
    daemon_url: &str,
    write: &InFlight,
) -> Result<(StatusCode, Value), reqwest::Error> {
    let base = |account: &str| {
        format!("{daemon_url}/client/v4/accounts/{account}/zt_risk_scoring/integrations")
    };
    let request = match write {
        InFlight::Create { account, body } => client.post(base(account)).json(body),
        InFlight::Update {
            account, id, body, ..
        } => client.put(format!("{}/{id}", base(account))).json(body),
        InFlight::Delete { account, id } => client.delete(format!("{}/{id}", base(account))),
    };
    let response = request.send().await?;
    let status = response.status();
    let body = response.json::<Value>().await?;
    Ok((status, body))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn acknowledged_writes_survive_sigkill() {
    let folder = tempfile::tempdir().expect("temporary folder");
    let database = folder.path().join("ztrisk.db");
    let cycles = std::env::var("ZTRISK_CRASH_CYCLES")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or(DEFAULT_CYCLES);
    let seed = std::env::var("ZTRISK_CRASH_SEED")
        .ok()
        .and_then(|value| value.parse().ok())
        .unwrap_or_else(|| fastrand::u64(..));
    eprintln!("crash test: {cycles} cycles, seed {seed} (set ZTRISK_CRASH_SEED to repeat)");
    let mut rng = fastrand::Rng::with_seed(seed);
    let mut writers: Vec<Writer> = (0..WRITERS)
        .map(|index| Writer {
            index,
            account: account(index as u32 % ACCOUNTS + 1),
            counter: 0,
            acknowledged: BTreeMap::new(),
            acknowledged_writes: 0,
            in_flight: None,
            faults: Vec::new(),
            rng: fastrand::Rng::with_seed(seed.wrapping_add(index as u64 + 1)),
        })
        .collect();
    let started = Instant::now();
    let mut kills_during_writes = 0;

    for cycle in 0..cycles {
        let daemon = Daemon::start(&database, &Options::default());
        verify(&daemon, &database, &mut writers, cycle).await;
        let deadline = Instant::now() + Duration::from_secs(20);
        let tasks: Vec<_> = writers
            .drain(..)
            .map(|writer| {
                let run = writer.run(daemon.address.clone(), daemon.token.clone(), deadline);
                tokio::spawn(run)
            })
            .collect();

        tokio::time::sleep(Duration::from_millis(rng.u64(KILL_AFTER_MS))).await;
        daemon.kill();
        for task in tasks {
            writers.push(task.await.expect("writer task"));
        }

        if writers.iter().any(|writer| writer.in_flight.is_some()) {
            kills_during_writes += 1;
        }
        for writer in &writers {
            assert!(
                writer.faults.is_empty(),
                "cycle {cycle}: writer {} got wrong answers: {:?}",
                writer.index,
                writer.faults
            );
        }
    }
    let daemon = Daemon::start(&database, &Options::default());
    verify(&daemon, &database, &mut writers, cycles).await;
    daemon.stop();
    let acknowledged_writes: u64 = writers.iter().map(|w| w.acknowledged_writes).sum();

    eprintln!(
        "crash test: {acknowledged_writes} acknowledged writes, {kills_during_writes} of \
         {cycles} kills with writes in flight, {:.1} s",
        started.elapsed().as_secs_f64()
    );
    assert!(
        acknowledged_writes >= u64::from(cycles) * 10,
        "too few writes were acknowledged ({acknowledged_writes}) to test anything"
    );
    assert!(
        kills_during_writes * 2 >= cycles,
        "only {kills_during_writes} of {cycles} kills hit a write in flight"
    );
}

/// Checks the restarted daemon and its file against every writer's acknowledged writes.
async fn verify(daemon: &Daemon, database: &std::path::Path, writers: &mut [Writer], cycle: u32) {
    let mut rows = HashMap::new();
    for n in 1..=ACCOUNTS {
        let listed = daemon.list(&account(n)).await;
        assert_eq!(
            listed.status,
            StatusCode::OK,
            "cycle {cycle}: {}",
            listed.body
        );
        for row in listed.body["result"].as_array().expect("list result") {
            let id = row["id"].as_str().expect("row id").to_owned();
            rows.insert(id, row.clone());
        }
    }
    let file = inspect(database, true).await;

    assert_eq!(file.integrity, "ok", "cycle {cycle}: integrity_check");
    assert!(
        file.unique_index_present,
        "cycle {cycle}: unique index missing"
    );
    assert!(
        file.duplicates.is_empty(),
        "cycle {cycle}: duplicate reference ids {:?}",
        file.duplicates
    );
    assert_eq!(
        file.rows.len(),
        rows.len(),
        "cycle {cycle}: file and API row counts"
    );
    for (id, row) in &rows {
        assert_eq!(
            file.rows.get(id),
            Some(&stored_fields(row)),
            "cycle {cycle}: file row {id} differs from the API's"
        );
    }
    for writer in writers.iter_mut() {
        writer.reconcile(&mut rows, cycle);
    }
    assert!(
        rows.is_empty(),
        "cycle {cycle}: rows that no acknowledged or in-flight write explains: {rows:?}"
    );
}
