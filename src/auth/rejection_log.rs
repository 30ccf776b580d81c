//! A rate-limited log of rejected API requests, so that a client retrying with a bad token,
//! or a scan, cannot flood the log.

use std::net::SocketAddr;
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use crate::domain::TokenId;

/// Most lines logged per interval.
const MAX_LINES_PER_INTERVAL: u32 = 10;
const INTERVAL: Duration = Duration::from_secs(10);

pub struct RejectionLog {
    window: Mutex<Window>,
}

struct Window {
    started: Instant,
    logged: u32,
    suppressed: u64,
}

impl RejectionLog {
    pub fn new() -> Self {
        Self {
            window: Mutex::new(Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            }),
        }
    }

    /// Logs one rejection at `warn` unless this interval already logged its maximum. The
    /// first rejection after an interval that left some out also logs how many.
    pub fn log(
        &self,
        reason: &'static str,
        token_id: Option<&TokenId>,
        client: Option<SocketAddr>,
    ) {
        let mut window = self.window.lock().unwrap_or_else(PoisonError::into_inner);
        if window.started.elapsed() >= INTERVAL {
            if window.suppressed > 0 {
                tracing::warn!(
                    suppressed = window.suppressed,
                    interval_secs = INTERVAL.as_secs(),
                    "left out log lines of rejected API requests"
                );
            }
            *window = Window {
                started: Instant::now(),
                logged: 0,
                suppressed: 0,
            };
        }
        if window.logged >= MAX_LINES_PER_INTERVAL {
            window.suppressed += 1;
            return;
        }
        window.logged += 1;
        drop(window);

        let token_id = token_id.map(TokenId::as_str);
        let client = client.map(|address| tracing::field::display(address.ip()));
        tracing::warn!(reason, token_id, client, "rejected an API request");
    }
}

impl Default for RejectionLog {
    fn default() -> Self {
        Self::new()
    }
}
