//! HTTP tests: each starts the real daemon on a random loopback port over a new SQLite file.

mod helpers;
mod lifecycle;
mod openapi;
