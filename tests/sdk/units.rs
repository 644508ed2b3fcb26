//! The SDKs' and the ported transforms' own unit tests, run by their
//! language's test runner, so `./dev test` fails when they fail.

use crate::{driver_output, run_python_in};

/// `python3 -m unittest` over `test_*.py` in `dir`, which must pass and run
/// at least `min_tests` tests.
fn unittest(dir: &str, min_tests: usize) {
    let output = run_python_in(dir, &["-m", "unittest", "discover", "-s", ".", "-p", "test_*.py"]);
    let report = driver_output(&output);
    assert!(output.status.success(), "the Python tests in {dir} failed\n{report}");
    let ran = String::from_utf8_lossy(&output.stderr)
        .lines()
        .find_map(|l| l.strip_prefix("Ran ")?.split(' ').next()?.parse::<usize>().ok())
        .unwrap_or_else(|| panic!("no `Ran N tests` line from {dir}\n{report}"));
    assert!(ran >= min_tests, "{dir}: ran {ran} tests, expected at least {min_tests}\n{report}");
}

#[test]
fn python_sdk_unit_tests() {
    unittest("sdk/python/tests", 50);
}

#[test]
fn python_log_parse_unit_tests() {
    unittest("transforms/python/log-parse", 9);
}

#[test]
fn python_level_counts_unit_tests() {
    unittest("transforms/python/level-counts", 6);
}
