//! Feeds arbitrary bytes to the parsers that turn a request into domain values: the JSON body
//! into a create or an update, and path segments into account tags, integration ids and
//! percent-decoded reference ids. The checks are in ../checks.rs.

#![no_main]

#[path = "../checks.rs"]
mod checks;

libfuzzer_sys::fuzz_target!(|data: &[u8]| checks::check_input(data));
