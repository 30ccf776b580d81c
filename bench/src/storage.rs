//! Storage ceilings: each store operation run back to back on one task, in process and without
//! HTTP, through the daemon's own `IntegrationStore` opened with the daemon's settings. Each
//! write is therefore its own durable transaction, the floor that group commit improves on.

use std::fs;
use std::future::Future;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use anyhow::Context;
use serde_json::{json, Map, Value};
use ztrisk::domain::{
    AccountTag, IntegrationId, IntegrationType, IntegrationUpdate, NewIntegration, ReferenceId,
    TenantUrl, TenantUrlPolicy,
};
use ztrisk::store::IntegrationStore;

#[derive(clap::Args)]
pub struct StorageArgs {
    /// Database file seeded by `ztrisk-bench seed`.
    #[arg(long)]
    database: PathBuf,
    /// Folder of the request path files written by the seed.
    #[arg(long)]
    paths: PathBuf,
    /// Paths of integrations to delete, none of which any other case uses.
    #[arg(long)]
    delete_paths: PathBuf,
    /// Seconds each operation runs.
    #[arg(long)]
    seconds: f64,
}

pub fn run(args: StorageArgs) -> anyhow::Result<()> {
    let settings = crate::daemon_settings(&args.database)?;
    let duration = Duration::from_secs_f64(args.seconds);
    let read = |name: &str| read_paths(&args.paths.join(name));
    let gets = read("get.txt")?;
    let references = read("reference.txt")?;
    let updates = read("update.txt")?;
    let creates = read("create.txt")?;
    let deletes = read_paths(&args.delete_paths)?;
    let lists: Vec<(u32, Vec<(AccountTag, String)>)> = [10, 100, 1000]
        .into_iter()
        .filter_map(|size| {
            let paths = read_paths(&args.paths.join(format!("list_{size}.txt"))).ok()?;
            Some((size, paths))
        })
        .collect();

    actix_web::rt::System::new().block_on(async move {
        let database = ztrisk::store::open(&settings).await?;
        let store = &database.integrations;
        let (gets, references, updates, deletes) = (&gets, &references, &updates, &deletes);
        let mut figures = Map::new();

        let figure = time_operations(duration, gets.len(), |i| async move {
            let (account, id) = &gets[pick(i, gets.len())];
            let id = IntegrationId::parse(id).expect("seeded id");
            Ok(store.find_by_id(account, &id).await?.is_some())
        });
        figures.insert("get_by_id".into(), figure.await);
        let figure = time_operations(duration, references.len(), |i| async move {
            let (account, reference_id) = &references[pick(i, references.len())];
            let reference_id = ReferenceId::parse(reference_id).expect("seeded reference id");
            Ok(store
                .find_by_reference_id(account, &reference_id)
                .await?
                .is_some())
        });
        figures.insert("get_by_reference_id".into(), figure.await);
        for (size, paths) in &lists {
            let (account, _) = &paths[0];
            let figure = time_operations(duration, 1, |_| async move {
                let listed = store.list_for_account(account).await?;
                Ok(listed.len() == *size as usize)
            });
            figures.insert(format!("list_{size}"), figure.await);
        }
        figures.insert("create".into(), create(store, &creates, duration).await);
        let figure = time_operations(duration, updates.len(), |i| async move {
            let (account, id) = &updates[pick(i, updates.len())];
            let id = IntegrationId::parse(id).expect("seeded id");
            Ok(store.replace(account, &id, update_body()).await?.is_some())
        });
        figures.insert("update".into(), figure.await);
        let figure = time_operations(duration, deletes.len(), |i| async move {
            let (account, id) = &deletes[i];
            let id = IntegrationId::parse(id).expect("seeded id");
            store.delete(account, &id).await
        });
        figures.insert("delete".into(), figure.await);

        database.close().await;
        println!("{}", Value::Object(figures));
        anyhow::Ok(())
    })
}

async fn create(
    store: &IntegrationStore,
    creates: &[(AccountTag, String)],
    duration: Duration,
) -> Value {
    time_operations(duration, usize::MAX, |i| async move {
        let (account, _) = &creates[pick(i, creates.len())];
        let new = NewIntegration {
            integration_type: IntegrationType::Okta,
            tenant_url: TenantUrl::parse("https://bench.okta.com", TenantUrlPolicy::HttpsOnly)
                .expect("valid tenant URL"),
            reference_id: None,
            active: true,
        };
        store.insert(new.into_integration(account.clone())).await?;
        Ok(true)
    })
    .await
}

fn update_body() -> IntegrationUpdate {
    IntegrationUpdate {
        tenant_url: TenantUrl::parse("https://bench-updated.okta.com", TenantUrlPolicy::HttpsOnly)
            .expect("valid tenant URL"),
        active: Some(true),
        reference_id: None,
    }
}

/// Runs `operation(0)`, `operation(1)`, … one after another until `duration` has passed or
/// `limit` operations have run. An operation returns whether it found or changed what it was
/// expected to; any other outcome counts as an error.
async fn time_operations<F, Fut>(duration: Duration, limit: usize, mut operation: F) -> Value
where
    F: FnMut(usize) -> Fut,
    Fut: Future<Output = Result<bool, ztrisk::store::StoreError>>,
{
    let mut latencies_us: Vec<u64> = Vec::new();
    let mut errors = 0u64;
    let started = Instant::now();
    while started.elapsed() < duration && latencies_us.len() < limit {
        let before = Instant::now();
        let outcome = operation(latencies_us.len()).await;
        latencies_us.push(before.elapsed().as_micros() as u64);
        if !matches!(outcome, Ok(true)) {
            errors += 1;
        }
    }
    let seconds = started.elapsed().as_secs_f64();

    let operations = latencies_us.len();
    latencies_us.sort_unstable();
    let percentile = |p: f64| -> u64 {
        let rank = ((p / 100.0) * operations as f64).ceil() as usize;
        latencies_us
            .get(rank.saturating_sub(1))
            .copied()
            .unwrap_or(0)
    };
    json!({
        "operations": operations,
        "seconds": seconds,
        "ops_per_second": operations as f64 / seconds,
        "p50_us": percentile(50.0),
        "p99_us": percentile(99.0),
        "p99_9_us": percentile(99.9),
        "errors": errors,
        "exhausted": operations == limit,
    })
}

/// A spread of indexes over `0..len` without a random number generator: stepping by a large
/// prime visits the items in an order unrelated to how they were seeded.
fn pick(i: usize, len: usize) -> usize {
    (i.wrapping_mul(7_919_993)) % len
}

/// Reads a path file into (account tag, last path segment) pairs.
fn read_paths(file: &Path) -> anyhow::Result<Vec<(AccountTag, String)>> {
    let text = fs::read_to_string(file).with_context(|| format!("failed to read {file:?}"))?;
    let mut paths = Vec::new();
    for line in text.lines().filter(|line| !line.is_empty()) {
        let account = line
            .split("/accounts/")
            .nth(1)
            .and_then(|rest| rest.split('/').next())
            .with_context(|| format!("no account in path {line:?}"))?;
        let account = AccountTag::parse(account).map_err(|e| anyhow::anyhow!(e.message))?;
        let last = line.rsplit('/').next().unwrap_or_default().to_owned();
        paths.push((account, last));
    }
    anyhow::ensure!(!paths.is_empty(), "{file:?} contains no paths");
    Ok(paths)
}
