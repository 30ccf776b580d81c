//! Replays the fuzz target's seed inputs and every input it ever crashed on through the same
//! checks, so a fixed crash stays fixed without running the fuzzer.

use std::path::Path;

#[path = "../../fuzz/checks.rs"]
mod checks;

/// Folders of saved inputs, relative to the repository root. A crash found by
/// `scripts/fuzz` is copied from fuzz/artifacts/ into regressions/ once it is fixed.
const FOLDERS: [&str; 2] = [
    "fuzz/seeds/request_parsing",
    "fuzz/regressions/request_parsing",
];

#[test]
fn saved_fuzz_inputs_pass_checks() {
    let root = Path::new(env!("CARGO_MANIFEST_DIR"));
    let mut replayed = 0;

    for folder in FOLDERS {
        let Ok(entries) = std::fs::read_dir(root.join(folder)) else {
            continue;
        };
        for entry in entries {
            let path = entry.expect("folder entry").path();
            let input = std::fs::read(&path).expect("saved input");

            let outcome = std::panic::catch_unwind(|| checks::check_input(&input));

            assert!(outcome.is_ok(), "{} fails the fuzz checks", path.display());
            replayed += 1;
        }
    }

    assert!(replayed >= 10, "only {replayed} saved inputs found");
}
