//! Crash points for fault-injection tests: [`point`] aborts the process
//! when the environment variable `INGOT_FAULT` names it, so a test can kill
//! the host exactly between two commits and check what a restart does.
//!
//! `INGOT_FAULT` is a comma-separated list of `name` (abort at the first
//! time the point is reached) or `name#n` (at the n-th time). Only debug
//! builds read it: in a release build [`point`] does nothing, whatever the
//! environment holds.
//!
//! The points (see `docs/exactly-once.md`, fault injection): `bronze-commit`,
//! `quarantine-commit`, `tombstones-commit`, `output-commit`,
//! `registry-commit`, `status-save` (each right after the write), and
//! `module-call` (after the first slice of a call into a module).

use std::collections::HashMap;
use std::sync::{Mutex, OnceLock};

/// The variable that names the crash points.
pub const ENV: &str = "INGOT_FAULT";

/// Aborts the process if `INGOT_FAULT` names this point (and this is the
/// n-th time it is reached, for `name#n`). Does nothing in release builds.
pub fn point(name: &str) {
    if cfg!(debug_assertions) && should_crash(name) {
        eprintln!("ingot: fault injected at {name}: aborting");
        std::process::abort();
    }
}

fn should_crash(name: &str) -> bool {
    static SPEC: OnceLock<Vec<(String, u64)>> = OnceLock::new();
    static HITS: OnceLock<Mutex<HashMap<String, u64>>> = OnceLock::new();
    let spec = SPEC.get_or_init(|| std::env::var(ENV).map(|s| parse(&s)).unwrap_or_default());
    let Some(&(_, at)) = spec.iter().find(|(n, _)| n == name) else {
        return false;
    };
    let mut hits = HITS
        .get_or_init(Mutex::default)
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    let hit = hits.entry(name.to_owned()).or_default();
    *hit += 1;
    *hit == at
}

/// `name` or `name#n` items, comma-separated; a bad count means 1.
fn parse(spec: &str) -> Vec<(String, u64)> {
    spec.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| match item.split_once('#') {
            Some((name, n)) => (name.to_owned(), n.parse().unwrap_or(1).max(1)),
            None => (item.to_owned(), 1),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::parse;

    #[test]
    fn the_spec_names_points_and_the_hit_to_crash_at() {
        assert_eq!(
            parse("output-commit#3, bronze-commit,,x#0"),
            [
                ("output-commit".to_owned(), 3),
                ("bronze-commit".to_owned(), 1),
                ("x".to_owned(), 1)
            ]
        );
    }
}
