//! HTTP tests: each starts the real daemon on a random loopback port over a new SQLite file.

mod auth;
mod create;
mod delete;
mod fuzz_regressions;
mod get;
mod helpers;
mod hostile;
mod lifecycle;
mod list;
mod load;
mod openapi;
mod process;
mod rate_limit;
mod raw;
mod reference_id;
mod routing;
mod secrets;
mod slow_clients;
mod storage;
mod tenant_url;
mod token_cli;
mod update;
