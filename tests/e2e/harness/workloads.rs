//! The seed workloads as a user runs them: the pipeline files of
//! `examples/`, fed by `ingot produce --sample …`.

use std::path::PathBuf;
use std::time::Duration;

use super::{Consumed, Lake, consume, modules, run_ingot, workspace_root};

/// Where the example pipelines expect the built transforms.
const EXAMPLE_MODULES: &str = "../target/guests/wasm32-wasip2/guest/";

/// `examples/<name>.toml` pointed at `broker` and `lake` (and at the
/// transforms this test process built), written into the lake's dir.
///
/// Bronze commits hold at most 97 records and every stage commit one input
/// version, so a test's few thousand records span dozens of commits per
/// table, and what happens across commits (late events, replays, resets) is
/// exercised, not just what happens inside one batch.
pub fn example_pipeline(name: &str, broker: &str, lake: &Lake) -> PathBuf {
    let path = workspace_root()
        .join("examples")
        .join(format!("{name}.toml"));
    let text =
        std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("read {}: {e}", path.display()));
    let replaced = replace_once(
        &text,
        "brokers = \"embedded\"",
        &format!("brokers = \"{broker}\""),
    );
    let replaced = replace_once(
        &replaced,
        "root = \"../lake\"",
        &format!("root = \"{}\"", lake.root().display()),
    );
    let replaced = replace_once(&replaced, "max-records = 100000", "max-records = 97");
    let replaced = replaced.replace(
        "\n[[stages]]\n",
        "\n[[stages]]\nmax-versions-per-commit = 1\n",
    );
    let modules_dir = format!("{}/", modules().dir.display());
    lake.write_pipeline(&replaced.replace(EXAMPLE_MODULES, &modules_dir))
}

fn replace_once(text: &str, from: &str, to: &str) -> String {
    assert_eq!(
        text.matches(from).count(),
        1,
        "the example pipeline has exactly one `{from}`"
    );
    text.replacen(from, to, 1)
}

/// `ingot produce --sample <sample> --count <count> --seed <seed>` into
/// `topic`, which held `already` records; then every record of the topic
/// read back (what the pipeline will see, and what a test computes its
/// expectations from).
pub fn produce_sample(
    broker: &str,
    topic: &str,
    sample: &str,
    (count, seed): (usize, u64),
    already: usize,
) -> Vec<Consumed> {
    let out = run_ingot([
        "produce",
        "--brokers",
        broker,
        "--topic",
        topic,
        "--sample",
        sample,
        "--count",
        &count.to_string(),
        "--seed",
        &seed.to_string(),
    ]);
    assert!(
        out.status.success(),
        "ingot produce failed: {}\n{}",
        out.status,
        String::from_utf8_lossy(&out.stderr)
    );
    consume(broker, topic, already + count, Duration::from_secs(60))
}
