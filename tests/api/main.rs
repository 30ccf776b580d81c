//! HTTP tests: each starts the real daemon on a random loopback port over a new SQLite file.

mod helpers;
mod hostile;
mod lifecycle;
mod rate_limit;
mod raw;
mod slow_clients;
