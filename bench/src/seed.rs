//! Seeding: a fresh database created by ztrisk's own migrations, filled with bulk inserts, and
//! the files of request paths that the load generator and the storage loops read.
//!
//! Rows are written with multi-row `INSERT` statements in large transactions on a connection
//! without a journal and with `synchronous = OFF`, which is safe here because a seed
//! interrupted by a crash is simply run again. The database is switched back to WAL mode at
//! the end, as the daemon leaves it.

use std::fs::{self, File};
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};
use std::time::Instant;

use anyhow::Context;
use chrono::{DateTime, Duration, Utc};
use serde_json::json;
use sqlx::sqlite::{SqliteConnectOptions, SqliteJournalMode, SqliteSynchronous};
use sqlx::{ConnectOptions, Connection, Executor, SqliteConnection};
use uuid::Uuid;

/// Rows per `INSERT` statement: 5 parameters each, well below SQLite's limit of 32,766.
const ROWS_PER_STATEMENT: usize = 500;
/// Rows per transaction.
const ROWS_PER_TRANSACTION: usize = 100_000;
/// Page cache of the seeding connection, in KiB, so the indexes stay in memory while they grow.
const SEED_CACHE_KIB: u32 = 256 * 1024;
/// Maximum integrations per account, the daemon's default cap, kept in the delete pool too.
const ACCOUNT_CAP: u64 = 1000;

#[derive(clap::Args)]
pub struct SeedArgs {
    /// Database file to create; an existing file and its WAL are deleted first.
    #[arg(long)]
    database: PathBuf,
    /// Folder for the request path files.
    #[arg(long)]
    paths: PathBuf,
    /// Integrations in the database, list accounts included, delete pool excluded.
    #[arg(long)]
    integrations: u64,
    /// Accounts holding those integrations, list accounts included.
    #[arg(long)]
    accounts: u64,
    /// Sizes of the accounts seeded for the list cases, one account per size.
    #[arg(long, value_delimiter = ',', num_args = 0..)]
    list_sizes: Vec<u64>,
    /// Extra integrations, in accounts of their own, for the delete cases to remove.
    #[arg(long, default_value_t = 0)]
    delete_pool: u64,
    /// Integrations whose paths go into get.txt and reference.txt, and as many into update.txt.
    #[arg(long, default_value_t = 100_000)]
    sample: u64,
    /// API base path of the daemon, prefixed to every written path.
    #[arg(long, default_value = "/client/v4")]
    base_path: String,
}

/// One seeded row, with the text of every column as stored.
struct SeedRow {
    id: String,
    account_tag: String,
    reference_id: String,
    tenant_url: String,
    created_at: String,
}

pub fn run(args: SeedArgs) -> anyhow::Result<()> {
    let list_total: u64 = args.list_sizes.iter().sum();
    let list_accounts = args.list_sizes.len() as u64;
    anyhow::ensure!(
        args.integrations >= list_total && args.accounts > list_accounts,
        "--integrations must cover the list accounts and --accounts must leave regular ones"
    );
    let regular_accounts = args.accounts - list_accounts;
    let regular_rows = args.integrations - list_total;
    anyhow::ensure!(
        regular_rows.div_ceil(regular_accounts) <= ACCOUNT_CAP,
        "more than {ACCOUNT_CAP} integrations per account; raise --accounts"
    );
    remove_database(&args.database)?;
    fs::create_dir_all(&args.paths)
        .with_context(|| format!("failed to create {}", args.paths.display()))?;
    let settings = crate::daemon_settings(&args.database)?;

    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()?;
    let started = Instant::now();
    runtime.block_on(async {
        ztrisk::store::migrate(&settings).await?;
        let mut connection = bulk_connection(&args.database).await?;
        let mut seeder = Seeder::new(&args)?;

        for (size_index, size) in args.list_sizes.iter().enumerate() {
            let account = format!("2{:031x}", size_index);
            let path = args.paths.join(format!("list_{size}.txt"));
            fs::write(&path, format!("{}\n", seeder.collection_path(&account)))?;
            for _ in 0..*size {
                seeder.push(&mut connection, &account).await?;
            }
        }
        let step = (regular_rows / args.sample.max(1)).max(1);
        for row in 0..regular_rows {
            let account = regular_account(row % regular_accounts);
            let seeded = seeder.push(&mut connection, &account).await?;
            if row % step == 0 {
                seeder.write_get(&seeded)?;
            }
            if row % step == step / 2 {
                seeder.write_update(&seeded)?;
            }
        }
        for row in 0..args.delete_pool {
            let account = format!("3{:031x}", row / ACCOUNT_CAP);
            let seeded = seeder.push(&mut connection, &account).await?;
            seeder.write_delete(&seeded)?;
        }
        seeder.finish(&mut connection).await?;
        for account in 0..regular_accounts {
            seeder.write_create(&regular_account(account))?;
        }
        seeder.flush_files()?;

        connection.execute("PRAGMA journal_mode = WAL").await?;
        connection.close().await?;
        anyhow::Ok(())
    })?;

    let figures = json!({
        "database": args.database,
        "integrations": args.integrations,
        "accounts": args.accounts,
        "list_sizes": args.list_sizes,
        "delete_pool": args.delete_pool,
        "seconds": started.elapsed().as_secs_f64(),
        "database_bytes": fs::metadata(&args.database)?.len(),
    });
    println!("{figures}");
    Ok(())
}

fn regular_account(index: u64) -> String {
    format!("1{index:031x}")
}

fn remove_database(database: &Path) -> anyhow::Result<()> {
    for suffix in ["", "-wal", "-shm"] {
        let mut name = database.as_os_str().to_owned();
        name.push(suffix);
        match fs::remove_file(&name) {
            Ok(()) => {}
            Err(error) if error.kind() == std::io::ErrorKind::NotFound => {}
            Err(error) => return Err(error).context(format!("failed to remove {name:?}")),
        }
    }
    Ok(())
}

async fn bulk_connection(database: &Path) -> anyhow::Result<SqliteConnection> {
    let connection = SqliteConnectOptions::new()
        .filename(database)
        .journal_mode(SqliteJournalMode::Off)
        .synchronous(SqliteSynchronous::Off)
        .pragma("cache_size", format!("-{SEED_CACHE_KIB}"))
        .connect()
        .await
        .with_context(|| format!("failed to open {}", database.display()))?;
    Ok(connection)
}

/// The identifiers of a seeded row that the path files name.
struct Seeded {
    account_tag: String,
    id: String,
    reference_id: String,
}

/// Buffers rows into multi-row inserts and writes the path files.
struct Seeder {
    base_path: String,
    pending: Vec<SeedRow>,
    rows_in_transaction: usize,
    next_created_at: DateTime<Utc>,
    rows: u64,
    get_paths: BufWriter<File>,
    reference_paths: BufWriter<File>,
    update_paths: BufWriter<File>,
    delete_paths: BufWriter<File>,
    create_paths: BufWriter<File>,
}

impl Seeder {
    fn new(args: &SeedArgs) -> anyhow::Result<Self> {
        let file = |name: &str| -> anyhow::Result<BufWriter<File>> {
            let path = args.paths.join(name);
            let file = File::create(&path).with_context(|| format!("failed to create {path:?}"))?;
            Ok(BufWriter::new(file))
        };
        let start = DateTime::parse_from_rfc3339("2026-01-01T00:00:00Z")?.with_timezone(&Utc);
        Ok(Self {
            base_path: args.base_path.clone(),
            pending: Vec::with_capacity(ROWS_PER_STATEMENT),
            rows_in_transaction: 0,
            next_created_at: start,
            rows: 0,
            get_paths: file("get.txt")?,
            reference_paths: file("reference.txt")?,
            update_paths: file("update.txt")?,
            delete_paths: file("delete.txt")?,
            create_paths: file("create.txt")?,
        })
    }

    fn collection_path(&self, account: &str) -> String {
        format!(
            "{}/accounts/{account}/zt_risk_scoring/integrations",
            self.base_path
        )
    }

    /// Adds a row for `account` and returns its id and reference id. Rows are created one
    /// microsecond apart, so each account's list order is its insertion order.
    async fn push(
        &mut self,
        connection: &mut SqliteConnection,
        account: &str,
    ) -> anyhow::Result<Seeded> {
        let row = SeedRow {
            id: Uuid::new_v4().hyphenated().to_string(),
            account_tag: account.to_owned(),
            reference_id: Uuid::new_v4().hyphenated().to_string(),
            tenant_url: format!("https://tenant-{:05}.okta.com", self.rows % 100_000),
            created_at: ztrisk::store::format_timestamp(&self.next_created_at),
        };
        self.next_created_at += Duration::microseconds(1);
        self.rows += 1;
        let seeded = Seeded {
            account_tag: row.account_tag.clone(),
            id: row.id.clone(),
            reference_id: row.reference_id.clone(),
        };
        self.pending.push(row);
        if self.pending.len() == ROWS_PER_STATEMENT {
            self.insert_pending(connection).await?;
        }
        Ok(seeded)
    }

    async fn insert_pending(&mut self, connection: &mut SqliteConnection) -> anyhow::Result<()> {
        if self.pending.is_empty() {
            return Ok(());
        }
        if self.rows_in_transaction == 0 {
            connection.execute("BEGIN").await?;
        }
        let values = vec!["(?, ?, ?, 'Okta', ?, 1, ?)"; self.pending.len()].join(", ");
        let sql = format!(
            "INSERT INTO integrations
                 (id, account_tag, reference_id, integration_type, tenant_url, active, created_at)
             VALUES {values}"
        );
        let mut query = sqlx::query(&sql);
        for row in &self.pending {
            query = query
                .bind(&row.id)
                .bind(&row.account_tag)
                .bind(&row.reference_id)
                .bind(&row.tenant_url)
                .bind(&row.created_at);
        }
        query.execute(&mut *connection).await?;
        self.rows_in_transaction += self.pending.len();
        self.pending.clear();
        if self.rows_in_transaction >= ROWS_PER_TRANSACTION {
            connection.execute("COMMIT").await?;
            self.rows_in_transaction = 0;
        }
        Ok(())
    }

    async fn finish(&mut self, connection: &mut SqliteConnection) -> anyhow::Result<()> {
        self.insert_pending(connection).await?;
        if self.rows_in_transaction > 0 {
            connection.execute("COMMIT").await?;
            self.rows_in_transaction = 0;
        }
        Ok(())
    }

    fn item_path(&self, seeded: &Seeded) -> String {
        format!(
            "{}/{}",
            self.collection_path(&seeded.account_tag),
            seeded.id
        )
    }

    fn write_get(&mut self, seeded: &Seeded) -> anyhow::Result<()> {
        let path = self.item_path(seeded);
        writeln!(self.get_paths, "{path}")?;
        let collection = self.collection_path(&seeded.account_tag);
        let reference_id = &seeded.reference_id;
        writeln!(
            self.reference_paths,
            "{collection}/reference_id/{reference_id}"
        )?;
        Ok(())
    }

    fn write_update(&mut self, seeded: &Seeded) -> anyhow::Result<()> {
        let path = self.item_path(seeded);
        writeln!(self.update_paths, "{path}")?;
        Ok(())
    }

    fn write_delete(&mut self, seeded: &Seeded) -> anyhow::Result<()> {
        let path = self.item_path(seeded);
        writeln!(self.delete_paths, "{path}")?;
        Ok(())
    }

    fn write_create(&mut self, account: &str) -> anyhow::Result<()> {
        let path = self.collection_path(account);
        writeln!(self.create_paths, "{path}")?;
        Ok(())
    }

    fn flush_files(&mut self) -> anyhow::Result<()> {
        for file in [
            &mut self.get_paths,
            &mut self.reference_paths,
            &mut self.update_paths,
            &mut self.delete_paths,
            &mut self.create_paths,
        ] {
            file.flush()?;
        }
        Ok(())
    }
}
