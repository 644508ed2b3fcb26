//! The SDKs' and the ported transforms' own unit tests, run by their
//! language's test runner, so `./dev test` fails when they fail.

use std::process::Command;

use crate::{driver_output, repo_root, run_python_in};

/// `python3 -m unittest` over `test_*.py` in `dir`, which must pass and run
/// at least `min_tests` tests.
fn unittest(dir: &str, min_tests: usize) {
    let output = run_python_in(
        dir,
        &["-m", "unittest", "discover", "-s", ".", "-p", "test_*.py"],
    );
    let report = driver_output(&output);
    assert!(
        output.status.success(),
        "the Python tests in {dir} failed\n{report}"
    );
    let ran = String::from_utf8_lossy(&output.stderr)
        .lines()
        .find_map(|l| {
            l.strip_prefix("Ran ")?
                .split(' ')
                .next()?
                .parse::<usize>()
                .ok()
        })
        .unwrap_or_else(|| panic!("no `Ran N tests` line from {dir}\n{report}"));
    assert!(
        ran >= min_tests,
        "{dir}: ran {ran} tests, expected at least {min_tests}\n{report}"
    );
}

#[test]
fn python_sdk_unit_tests() {
    unittest("guest-sdk/python/tests", 50);
}

#[test]
fn python_log_parse_unit_tests() {
    unittest("transforms/log-parse/python", 9);
}

#[test]
fn python_level_counts_unit_tests() {
    unittest("transforms/level-counts/python", 7);
}

/// `node --test guest-sdk/js transforms`: the JavaScript SDK (including a
/// real component run in StarlingMonkey through jco) and the ports (every
/// `transforms/<name>/js`, and the type check of the TypeScript ones), which
/// must pass and run at least 50 tests.
#[test]
fn javascript_sdk_and_port_unit_tests() {
    let root = repo_root();
    assert!(
        root.join("guest-sdk/js/node_modules").exists(),
        "guest-sdk/js/node_modules is missing: `./dev build-ports` (or `npm ci` in guest-sdk/js) installs it"
    );
    let output = Command::new("node")
        .args(["--test", "guest-sdk/js", "transforms"])
        .current_dir(&root)
        .output()
        .unwrap_or_else(|e| panic!("cannot start `node` ({e}): Node.js 18+ is required"));
    let report = driver_output(&output);
    assert!(
        output.status.success(),
        "the JavaScript tests failed\n{report}"
    );
    let passed = String::from_utf8_lossy(&output.stdout)
        .lines()
        .find_map(|l| l.strip_prefix("# pass ")?.trim().parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no `# pass N` line from node --test\n{report}"));
    assert!(
        passed >= 50,
        "node --test passed {passed} tests, expected at least 50\n{report}"
    );
}
