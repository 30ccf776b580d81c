//! HTTP tests: each starts the real daemon on a random loopback port over a new SQLite file.

mod auth;
mod create;
mod delete;
mod get;
mod helpers;
mod lifecycle;
mod list;
mod openapi;
mod process;
mod reference_id;
mod routing;
mod secrets;
mod storage;
mod tenant_url;
mod token_cli;
mod update;
