//! Log output, and the middleware that gives every request a span, a request id and a JSON
//! 500 if its handler panics.

use std::future::{ready, Ready};
use std::io::{IsTerminal, Write};
use std::panic::AssertUnwindSafe;
use std::rc::Rc;
use std::time::Instant;

use actix_web::body::{BoxBody, MessageBody};
use actix_web::dev::{forward_ready, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::HttpMessage;
use futures_util::future::LocalBoxFuture;
use futures_util::FutureExt;
use tracing::field::Empty;
use tracing::Instrument;
use tracing_appender::non_blocking::{NonBlockingBuilder, WorkerGuard};
use tracing_subscriber::EnvFilter;

use crate::api::ApiError;
use crate::config::{LogFormat, LogSettings};

pub const REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");

/// Longest client-supplied request id that is kept; longer ones are replaced.
const MAX_REQUEST_ID_LEN: usize = 128;

/// Bytes of log lines gathered before the log thread writes them to stderr in one call.
const LOG_BUFFER_BYTES: usize = 64 * 1024;

/// Maximum number of log lines queued for the log thread. A line is a few hundred bytes, so a
/// full queue takes about a megabyte.
const LOG_QUEUE_LINES: usize = 4096;

/// Installs the global subscriber, writing to stderr, and a panic hook that logs through it.
/// Does nothing if a subscriber is already installed, as in tests that start many servers.
///
/// Lines are formatted on the thread that logs them and written by a log thread, which
/// writes the lines waiting for it, up to `LOG_BUFFER_BYTES`, in one `write` call. A busy daemon then makes one
/// system call per batch of lines instead of one per line. A thread that logs while the
/// queue is full waits, so no line is dropped. Lines still queued when the process is killed
/// are lost; dropping the returned guard writes out the queue, so hold it until exit.
pub fn init(settings: &LogSettings) -> Option<WorkerGuard> {
    if tracing::dispatcher::has_been_set() {
        return None;
    }
    let filter = EnvFilter::try_new(&settings.level).unwrap_or_else(|_| EnvFilter::new("info"));
    let output = LogOutput {
        pending: Vec::with_capacity(LOG_BUFFER_BYTES),
    };
    let (writer, guard) = NonBlockingBuilder::default()
        .lossy(false)
        .buffered_lines_limit(LOG_QUEUE_LINES)
        .thread_name("ztrisk-log")
        .finish(output);
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(writer)
        .with_ansi(std::io::stderr().is_terminal())
        .log_internal_errors(false);
    let installed = match settings.format {
        LogFormat::Text => builder.try_init().is_ok(),
        LogFormat::Json => builder.json().flatten_event(true).try_init().is_ok(),
    };
    if !installed {
        return None;
    }
    std::panic::set_hook(Box::new(|info| {
        tracing::error!(panic = %info, "handler panicked");
    }));
    Some(guard)
}

/// The log thread's output. Lines gather in `pending` until the log thread flushes, which it
/// does whenever its queue is empty. A failed write is dropped rather than reported, because
/// the log thread would report it on stderr, which panics once stderr is closed.
struct LogOutput {
    pending: Vec<u8>,
}

impl Write for LogOutput {
    fn write(&mut self, bytes: &[u8]) -> std::io::Result<usize> {
        if self.pending.len() + bytes.len() > LOG_BUFFER_BYTES {
            self.flush()?;
        }
        self.pending.extend_from_slice(bytes);
        Ok(bytes.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        let _ = std::io::stderr().write_all(&self.pending);
        self.pending.clear();
        Ok(())
    }
}

/// Marks a request that a middleware responded to before routing, such as one rejected for
/// its API token. Its `route` is logged empty. For an unrouted request actix finds the route by
/// matching the path against every registered pattern, which costs more than the rest of a
/// rejected request.
#[derive(Debug, Clone, Copy)]
pub struct RespondedBeforeRouting;

/// Middleware that wraps each request in a `request` span with its id, method, route, status
/// and latency, returns the id in `x-request-id`, and turns a handler panic into a 500.
pub struct RequestTelemetry;

impl<S, B> Transform<S, ServiceRequest> for RequestTelemetry
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Transform = RequestTelemetryService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestTelemetryService {
            service: Rc::new(service),
        }))
    }
}

pub struct RequestTelemetryService<S> {
    service: Rc<S>,
}

impl<S, B> Service<ServiceRequest> for RequestTelemetryService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    type Response = ServiceResponse<BoxBody>;
    type Error = actix_web::Error;
    type Future = LocalBoxFuture<'static, Result<Self::Response, Self::Error>>;

    forward_ready!(service);

    fn call(&self, request: ServiceRequest) -> Self::Future {
        let started = Instant::now();
        let request_id = request_id(&request);
        let span = tracing::info_span!(
            "request",
            request_id = %request_id.to_str().unwrap_or_default(),
            method = %request.method(),
            route = Empty,
            status = Empty,
            latency_us = Empty,
        );
        let response = span.in_scope(|| self.service.call(request));

        let handled = async move {
            let span = tracing::Span::current();
            let outcome = AssertUnwindSafe(response).catch_unwind().await;
            let mut response = match outcome {
                Ok(Ok(response)) => response.map_into_boxed_body(),
                Ok(Err(error)) => {
                    span.record("status", error.as_response_error().status_code().as_u16());
                    tracing::info!("request failed before a response");
                    return Err(error);
                }
                Err(_) => {
                    // The request was moved into the panicked service, so the error goes back
                    // to actix, which renders it with ApiError's JSON response.
                    span.record("status", 500);
                    span.record("latency_us", started.elapsed().as_micros() as u64);
                    tracing::info!("request completed");
                    let error = ApiError::Internal("a request handler panicked".into());
                    return Err(error.into());
                }
            };
            response.headers_mut().insert(REQUEST_ID, request_id);

            let status = response.status().as_u16();
            let request = response.request();
            let route = if request.extensions().contains::<RespondedBeforeRouting>() {
                String::new()
            } else {
                request.match_pattern().unwrap_or_default()
            };
            span.record("route", route.as_str());
            span.record("status", status);
            span.record("latency_us", started.elapsed().as_micros() as u64);
            tracing::info!("request completed");
            Ok(response)
        };
        Box::pin(handled.instrument(span))
    }
}

/// The client's `x-request-id` if it is short printable ASCII, else a new UUIDv4.
fn request_id(request: &ServiceRequest) -> HeaderValue {
    let supplied = request.headers().get(&REQUEST_ID).filter(|value| {
        let bytes = value.as_bytes();
        !bytes.is_empty()
            && bytes.len() <= MAX_REQUEST_ID_LEN
            && bytes.iter().all(|b| b.is_ascii_graphic())
    });
    match supplied {
        Some(value) => value.clone(),
        None => HeaderValue::from_str(&uuid::Uuid::new_v4().to_string())
            .expect("a UUID is a valid header value"),
    }
}
