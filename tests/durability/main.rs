//! Durability tests: each runs the built `ztrisk` binary as a child process over a SQLite
//! file in a temporary folder, and breaks the process or the file under it.

mod backup;
mod crash;
mod daemon;
mod disk_full;
mod file_faults;
