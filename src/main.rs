use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use ztrisk::auth::{self, TokenCommand};
use ztrisk::config::Settings;
use ztrisk::startup::Application;
use ztrisk::{store, telemetry};

/// Serve Cloudflare's Zero Trust risk scoring integrations API from a SQLite database.
#[derive(Parser)]
#[command(version, about)]
struct Cli {
    /// Settings file layered over the defaults and config/local.toml.
    #[arg(long, global = true, env = "ZTRISK_CONFIG", value_name = "FILE")]
    config: Option<PathBuf>,

    #[command(subcommand)]
    command: Option<Command>,
}

#[derive(Subcommand)]
enum Command {
    /// Run the HTTP daemon (the default).
    Serve,
    /// Apply pending database migrations and exit.
    Migrate,
    /// Write a consistent copy of the database to PATH, also while the daemon runs.
    Backup {
        /// File to write; its folder must exist.
        path: PathBuf,
        /// Replace PATH if it already exists.
        #[arg(long)]
        force: bool,
    },
    /// Create, list and revoke API tokens, also while the daemon runs.
    Token {
        #[command(subcommand)]
        command: TokenCommand,
    },
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    let settings = match Settings::load(cli.config.as_deref()) {
        Ok(settings) => settings,
        Err(error) => {
            eprintln!("ztrisk: {error}");
            return ExitCode::from(2);
        }
    };
    let log_writer = telemetry::init(&settings.log);

    let outcome = actix_web::rt::System::new().block_on(async move {
        match cli.command.unwrap_or(Command::Serve) {
            Command::Serve => serve(settings).await,
            Command::Migrate => migrate(settings).await,
            Command::Backup { path, force } => backup(settings, &path, force).await,
            Command::Token { command } => auth::run_token_command(command, &settings).await,
        }
    });
    match outcome {
        Ok(()) => ExitCode::SUCCESS,
        Err(error) => {
            tracing::error!(error = format!("{error:#}"), "ztrisk stopped on an error");
            // Writes out the log line above before the message below.
            drop(log_writer);
            eprintln!("ztrisk: {error:#}");
            ExitCode::FAILURE
        }
    }
}

async fn serve(settings: Settings) -> anyhow::Result<()> {
    let database = settings.database.url.clone();
    let application = Application::build(settings.clone()).await?;
    tracing::info!(
        version = env!("CARGO_PKG_VERSION"),
        address = %format!("{}:{}", settings.server.host, application.port()),
        database = %database,
        base_path = %settings.server.base_path,
        "ztrisk started"
    );
    application.run_until_stopped().await?;
    tracing::info!("ztrisk stopped");
    Ok(())
}

async fn migrate(settings: Settings) -> anyhow::Result<()> {
    let applied = store::migrate(&settings).await?;
    tracing::info!(
        database = %settings.database.url,
        applied = applied.len(),
        "database migrations are up to date"
    );
    Ok(())
}

async fn backup(settings: Settings, path: &std::path::Path, force: bool) -> anyhow::Result<()> {
    let summary = store::backup(&settings, path, force).await?;
    tracing::info!(
        database = %settings.database.url,
        path = %summary.path.display(),
        bytes = summary.bytes,
        integrations = summary.integrations,
        "database backed up"
    );
    println!(
        "backed up {} integrations ({} bytes) to {}",
        summary.integrations,
        summary.bytes,
        summary.path.display()
    );
    Ok(())
}
