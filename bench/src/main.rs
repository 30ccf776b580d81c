//! Tools for `scripts/bench`: seeding a benchmark database, the HTTP ceiling server and the
//! in-process storage loops. Each subcommand prints its figures as one JSON object on stdout.

mod ceiling;
mod seed;
mod storage;

use std::path::Path;
use std::process::ExitCode;

use clap::{Parser, Subcommand};

/// Benchmark tools for ztrisk; `scripts/bench` runs them.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Subcommand)]
enum Command {
    /// Create a database through ztrisk's migrations and fill it with integrations, then write
    /// the request path files the load generator reads.
    Seed(seed::SeedArgs),
    /// Serve a constant integration envelope at paths shaped like the API's, as the ceiling of
    /// what actix-web reaches on this machine.
    HttpCeiling(ceiling::CeilingArgs),
    /// Run each store operation back to back, in process and without HTTP, through the
    /// daemon's own store with its settings.
    Storage(storage::StorageArgs),
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let outcome = match cli.command {
        Command::Seed(args) => seed::run(args),
        Command::HttpCeiling(args) => ceiling::run(args),
        Command::Storage(args) => storage::run(args),
    };
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            eprintln!("ztrisk-bench: {error:#}");
            ExitCode::FAILURE
        }
    }
}

/// Settings of the daemon over `database`: the embedded defaults and `ZTRISK__…` variables,
/// as `ztrisk serve` reads them, with the database URL replaced.
fn daemon_settings(database: &Path) -> anyhow::Result<ztrisk::config::Settings> {
    let mut settings = ztrisk::config::Settings::load(None)?;
    settings.database.url = format!("sqlite://{}", database.display());
    settings.validate()?;
    Ok(settings)
}
