//! Building the server: open the database, bind the listener and run the App.

use std::net::{SocketAddr, TcpListener, ToSocketAddrs};
use std::sync::Arc;
use std::time::Duration;

use actix_http::error::DispatchError;
use actix_http::{HttpService, Protocol};
use actix_service::{fn_service, map_config, IntoServiceFactory, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server, ServerHandle};
use actix_web::http::KeepAlive;
use actix_web::{web, App};
use anyhow::Context;
use futures_util::future::BoxFuture;
use socket2::{Domain, Socket, Type};
use tokio::net::TcpStream;
use tokio::signal::unix::{signal, SignalKind};

use crate::api::{self, AppState, RateLimiter};
use crate::auth::{self, LastUsedRecorder, TokenAuthority};
use crate::config::{LimitSettings, Settings};
use crate::domain::TenantUrlPolicy;
use crate::head_timeout::HeadTimeout;
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
        let listener = bind_listener(&address, settings.limits.backlog)
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
            body_read_timeout: Duration::from_millis(settings.limits.body_read_timeout_ms),
            tokens,
        });
        let rate_limiter = web::Data::new(RateLimiter::new(&settings.rate_limit));
        let base_path = settings.server.base_path.clone();
        let limits = settings.limits.clone();
        let local_address = listener.local_addr()?;
        let workers = match settings.server.workers {
            0 => std::thread::available_parallelism().map_or(1, |n| n.get()),
            n => n,
        };
        // actix-server counts connections per worker, so each worker takes an equal share of
        // the cap, rounded up.
        let builder = actix_server::Server::build()
            .workers(workers)
            .max_concurrent_connections(limits.max_connections.div_ceil(workers))
            .shutdown_timeout(settings.server.shutdown_timeout_secs);
        let builder = match stop_signal {
            Some(signal) => builder.shutdown_signal(signal),
            None => builder.disable_signals(),
        };
        let shutdown = builder.graceful_shutdown_signal();
        let server = builder
            .listen("ztrisk", listener, move || {
                let extra_services = extra_services.clone();
                let base_path = base_path.clone();
                let app = App::new()
                    .app_data(state.clone())
                    .app_data(rate_limiter.clone())
                    .wrap(RequestTelemetry)
                    .configure(extra_services)
                    .configure(|config| api::configure(config, &base_path))
                    .default_service(web::to(api::route_not_found))
                    .into_factory()
                    .map_err(|error| error.error_response());
                let shutdown = shutdown.clone();
                let http = HttpService::build()
                    .keep_alive(keep_alive(&limits))
                    .client_request_timeout(Duration::from_millis(limits.header_read_timeout_ms))
                    .client_disconnect_timeout(Duration::from_millis(
                        limits.client_disconnect_timeout_ms,
                    ))
                    .local_addr(local_address)
                    .graceful_shutdown_signal(move || {
                        let shutdown = shutdown.clone();
                        async move { shutdown.notified().await }
                    })
                    .finish(map_config(app, |_| AppConfig::default()));
                let head_timeout = Duration::from_millis(limits.header_read_timeout_ms);
                fn_service(move |stream: TcpStream| async move {
                    let peer = stream.peer_addr().ok();
                    let stream = HeadTimeout::new(stream, head_timeout);
                    Ok::<_, DispatchError>((stream, Protocol::Http1, peer))
                })
                .and_then(http)
            })?
            .run();

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

fn keep_alive(limits: &LimitSettings) -> KeepAlive {
    match limits.keep_alive_secs {
        0 => KeepAlive::Disabled,
        secs => KeepAlive::Timeout(Duration::from_secs(secs)),
    }
}

/// Binds a TCP listener on the first address `address` resolves to that accepts it, with a
/// listen queue of `backlog` connections. `SO_REUSEADDR` lets a restarted daemon bind while
/// connections of the last run linger in `TIME_WAIT`.
fn bind_listener(address: &str, backlog: u32) -> std::io::Result<TcpListener> {
    let mut last_error = None;
    for candidate in address.to_socket_addrs()? {
        match bind_one(candidate, backlog) {
            Ok(listener) => return Ok(listener),
            Err(error) => last_error = Some(error),
        }
    }
    Err(last_error.unwrap_or_else(|| {
        std::io::Error::new(
            std::io::ErrorKind::InvalidInput,
            "the address resolves to nothing",
        )
    }))
}

fn bind_one(address: SocketAddr, backlog: u32) -> std::io::Result<TcpListener> {
    let socket = Socket::new(
        Domain::for_address(address),
        Type::STREAM,
        Some(socket2::Protocol::TCP),
    )?;
    socket.set_reuse_address(true)?;
    socket.bind(&address.into())?;
    socket.listen(i32::try_from(backlog).unwrap_or(i32::MAX))?;
    Ok(socket.into())
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
    let database_file = database.path();
    TokenAuthority::open(database_file, workers.min(MAX_TOKEN_READERS), recorder)
        .with_context(|| format!("failed to read API tokens from {}", database_file.display()))
}
