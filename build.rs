//! Rebuilds the crate when a file in `migrations/` is added, changed or removed, because
//! `sqlx::migrate!` embeds those files at compile time and Cargo does not watch them.

fn main() {
    println!("cargo:rerun-if-changed=migrations");
}
