//! Building the server: open the database, bind the listener and run the App.

use std::net::TcpListener;
use std::sync::Arc;
use std::time::Duration;

use actix_web::dev::{Server, ServerHandle};
use actix_web::{web, App, HttpServer};
use anyhow::Context;
use futures_util::future::BoxFuture;
use tokio::signal::unix::{signal, SignalKind};

use crate::api::{self, AppState};
use crate::auth::{self, LastUsedRecorder, TokenAuthority};
use crate::config::Settings;
use crate::domain::TenantUrlPolicy;
use crate::store::{self, Database};
use crate::telemetry::RequestTelemetry;

/// A bound, ready-to-run daemon.
pub struct Application {
    server: Server,
    port: u16,
    database: Arc<Database>,
}

/// Maximum number of synchronous connections for token checks. Each check uses one for a
/// few microseconds, so a few serve many HTTP workers.
const MAX_TOKEN_READERS: usize = 8;

impl Application {
    /// Opens the database, applies migrations if configured, creates the first API token if
    /// the database has none, binds the listener, and stops gracefully on SIGTERM or SIGINT.
    pub async fn build(settings: Settings) -> anyhow::Result<Self> {
        let signal = stop_signal().context("failed to install the SIGTERM and SIGINT handlers")?;
        Self::build_inner(settings, |_| {}, Some(signal)).await
    }

    /// Like `build`, with extra services registered before the API and no signal handling,
    /// for tests. Such a server stops only through its handle.
    pub async fn build_with<F>(settings: Settings, extra_services: F) -> anyhow::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        Self::build_inner(settings, extra_services, None).await
    }

    async fn build_inner<F>(
        settings: Settings,
        extra_services: F,
        stop_signal: Option<BoxFuture<'static, ()>>,
    ) -> anyhow::Result<Self>
    where
        F: Fn(&mut web::ServiceConfig) + Clone + Send + 'static,
    {
        let database = Arc::new(store::open(&settings).await?);
        let tokens = Arc::new(open_tokens(&settings, &database).await?);
        let address = format!("{}:{}", settings.server.host, settings.server.port);
        let listener = TcpListener::bind(&address)
            .with_context(|| format!("failed to listen on {address}"))?;
        let port = listener.local_addr()?.port();

        let state = web::Data::new(AppState {
            store: database.integrations.clone(),
            database: Arc::clone(&database),
            public_url: settings.public_url().to_owned(),
            tenant_url_policy: if settings.integrations.allow_http_tenant_url {
                TenantUrlPolicy::AllowHttp
            } else {
                TenantUrlPolicy::HttpsOnly
            },
            body_limit: settings.server.body_limit,
            tokens,
        });
        let base_path = settings.server.base_path.clone();
        let mut server = HttpServer::new(move || {
            let extra_services = extra_services.clone();
            let base_path = base_path.clone();
            App::new()
                .app_data(state.clone())
                .wrap(RequestTelemetry)
                .configure(extra_services)
                .configure(|config| api::configure(config, &base_path))
                .default_service(web::to(api::route_not_found))
        })
        .shutdown_timeout(settings.server.shutdown_timeout_secs)
        .client_request_timeout(Duration::from_secs(5));
        if settings.server.workers > 0 {
            server = server.workers(settings.server.workers);
        }
        server = match stop_signal {
            Some(signal) => server.shutdown_signal(signal),
            None => server.disable_signals(),
        };
        let server = server.listen(listener)?.run();

        Ok(Self {
            server,
            port,
            database,
        })
    }

    /// The port the listener is bound to, which differs from the setting when that is 0.
    pub fn port(&self) -> u16 {
        self.port
    }

    /// A handle that stops the server, as SIGTERM does.
    pub fn handle(&self) -> ServerHandle {
        self.server.handle()
    }

    /// Serves until the server is stopped by a signal or a handle, then closes the database.
    pub async fn run_until_stopped(self) -> std::io::Result<()> {
        let outcome = self.server.await;
        self.database.close().await;
        outcome
    }
}

/// Resolves on the first SIGTERM or SIGINT, both of which stop the server gracefully. The
/// handlers are installed by this call rather than on first poll, so a signal that arrives
/// right after the start line is logged is not lost.
fn stop_signal() -> std::io::Result<BoxFuture<'static, ()>> {
    let mut terminate = signal(SignalKind::terminate())?;
    let mut interrupt = signal(SignalKind::interrupt())?;
    Ok(Box::pin(async move {
        let name = tokio::select! {
            _ = terminate.recv() => "SIGTERM",
            _ = interrupt.recv() => "SIGINT",
        };
        tracing::info!(signal = name, "stopping; in-flight requests may finish");
    }))
}

/// Creates the first token if the database has none, then opens the token check with one
/// reader connection per HTTP worker, up to `MAX_TOKEN_READERS`.
async fn open_tokens(settings: &Settings, database: &Database) -> anyhow::Result<TokenAuthority> {
    let path = settings
        .database_path()
        .context("database.url names no database file")?;
    auth::create_first_token(&database.tokens, &auth::token_file_path(&path)).await?;

    let workers = match settings.server.workers {
        0 => std::thread::available_parallelism().map_or(1, usize::from),
        workers => workers,
    };
    let recorder = LastUsedRecorder::start(database.tokens.clone());
    TokenAuthority::open(&path, workers.min(MAX_TOKEN_READERS), recorder)
        .with_context(|| format!("failed to read API tokens from {}", path.display()))
}
