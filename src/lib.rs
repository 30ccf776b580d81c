//! ztrisk: a self-hosted daemon serving Cloudflare's Zero Trust risk scoring integrations API
//! over SQLite.

pub mod api;
pub mod auth;
pub mod config;
pub mod domain;
pub mod head_timeout;
pub mod startup;
pub mod store;
pub mod telemetry;
