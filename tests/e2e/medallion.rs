//! Tests 1 and 2 of the core: N records through bronze, silver, quarantine
//! and gold with `--once`; then M more, incrementally, nothing reprocessed.
//! On a local lake and on an S3 one.

use std::collections::BTreeMap;
use std::path::Path;
use std::time::{Duration, Instant};

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Broker, Lake, S3Server, modules, run_ingot_ok},
    lake,
};

/// The log pipeline of `examples/logs.toml`, pointed at `broker` and `lake`.
pub fn log_pipeline(broker: &str, lake: &Lake, extra_stage: &str) -> String {
    let m = modules();
    format!(
        r#"
name = "logs"
[kafka]
brokers = "{broker}"
topics = ["logs"]
[ingest]
max-records = 2000
max-latency-ms = 200
{lake}[[stages]]
name = "silver"
module = "{log_parse}"
batch-rows = 1000
input-columns = ["topic", "partition", "offset", "value"]
[[stages]]
name = "gold"
module = "{level_counts}"
input-columns = ["level", "latency_ms"]
mode = "accumulate"
keys = ["level"]
measures = ["count", "latency_ms_sum"]
{extra_stage}
"#,
        lake = lake.toml(),
        log_parse = m.log_parse.display(),
        level_counts = m.level_counts.display(),
    )
}

pub fn uri(lake: &Lake, table: &str) -> String {
    tenant_uri(lake, "default", table)
}

/// Table `table` of tenant `tenant`'s `logs` pipeline.
pub fn tenant_uri(lake: &Lake, tenant: &str, table: &str) -> String {
    format!("{}/{tenant}/logs/{table}", lake.root_uri())
}

/// `toml` (a [`log_pipeline`]) with the host reading every partition
/// itself rather than sharing them in a consumer group.
pub fn reading_every_partition(toml: &str) -> String {
    toml.replace(
        "topics = [\"logs\"]",
        "topics = [\"logs\"]\nassignment = \"all\"",
    )
}

/// `ingot run --once` on `pipeline` of `lake`, which must succeed.
pub fn run_once_on(lake: &Lake, pipeline: &Path) {
    lake.run_ingot_ok(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
}

/// `ingot run --once` on `pipeline` of a local lake, which must succeed.
pub fn run_once(pipeline: &Path) {
    run_ingot_ok(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
}

/// Asserts bronze, silver, quarantine and gold against `lines`, computed
/// without ingot.
pub fn assert_tables(lake: &Lake, lines: &[LogLine]) {
    assert_tenant_tables(lake, "default", lines);
}

/// [`assert_tables`] for tenant `tenant`'s log pipeline.
pub fn assert_tenant_tables(lake: &Lake, tenant: &str, lines: &[LogLine]) {
    let uri = |table: &str| tenant_uri(lake, tenant, table);
    let n = lines.len() as i64;
    let bronze = uri("bronze");
    assert_eq!(lake::count(&bronze), n, "bronze rows");
    let distinct = lake::i64s(
        &bronze,
        "SELECT CAST(count(*) AS BIGINT) FROM (SELECT DISTINCT topic, \"partition\", \"offset\" FROM t)",
    );
    assert_eq!(
        distinct,
        vec![n],
        "bronze (topic, partition, offset) unique"
    );

    let good: Vec<&LogLine> = lines.iter().filter(|l| l.is_well_formed()).collect();
    let silver = uri("silver");
    assert_eq!(
        lake::count(&silver),
        good.len() as i64,
        "silver rows = well-formed records"
    );
    let distinct = lake::i64s(
        &silver,
        "SELECT CAST(count(DISTINCT message) AS BIGINT) FROM t",
    );
    assert_eq!(
        distinct,
        vec![good.len() as i64],
        "each well-formed record once in silver"
    );

    let bad = lines.len() - good.len();
    assert!(bad > 0, "the generator produced malformed records");
    let quarantine = uri("silver_quarantine");
    assert_eq!(
        lake::count(&quarantine),
        bad as i64,
        "quarantine rows = malformed records"
    );
    let unexplained = lake::i64s(
        &quarantine,
        "SELECT CAST(count(*) AS BIGINT) FROM t WHERE reason = ''",
    );
    assert_eq!(unexplained, vec![0], "every quarantined row has a reason");
    // Silver's module is given four of bronze's columns; the quarantine
    // keeps the whole row.
    let whole = lake::i64s(
        &quarantine,
        r#"SELECT CAST(count(*) AS BIGINT) FROM t WHERE "row" LIKE '%"ingest_time":%' AND "row" LIKE '%"key":%'"#,
    );
    assert_eq!(whole, vec![bad as i64], "quarantined rows are whole rows");

    let expected: BTreeMap<String, (i64, i64)> = logs::level_totals(lines)
        .into_iter()
        .map(|(level, t)| (level.to_owned(), (t.n, t.latency_sum)))
        .collect();
    let gold: BTreeMap<String, (i64, i64)> =
        lake::string_i64_i64(&uri("gold"), "SELECT level, count, latency_ms_sum FROM t")
            .into_iter()
            .map(|(l, n, s)| (l, (n, s)))
            .collect();
    assert_eq!(
        gold, expected,
        "gold = counts and latency sums per level of what was produced"
    );
}

/// Waits (up to 2 minutes) until gold holds the totals of `lines`.
pub fn wait_for_gold(lake_dir: &Lake, lines: &[LogLine], host: &harness::IngotProcess) {
    wait_for_gold_of(lake_dir, "default", lines, host);
}

/// [`wait_for_gold`] for tenant `tenant`'s log pipeline.
pub fn wait_for_gold_of(
    lake_dir: &Lake,
    tenant: &str,
    lines: &[LogLine],
    host: &harness::IngotProcess,
) {
    let expected: BTreeMap<String, (i64, i64)> = logs::level_totals(lines)
        .into_iter()
        .map(|(level, t)| (level.to_owned(), (t.n, t.latency_sum)))
        .collect();
    let gold = tenant_uri(lake_dir, tenant, "gold");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let now: BTreeMap<String, (i64, i64)> = if lake::exists(&gold) {
            lake::string_i64_i64(&gold, "SELECT level, count, latency_ms_sum FROM t")
                .into_iter()
                .map(|(l, n, s)| (l, (n, s)))
                .collect()
        } else {
            BTreeMap::new()
        };
        if now == expected {
            return;
        }
        assert!(
            Instant::now() < deadline,
            "gold never reached the expected totals:\n{}",
            host.tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
}

/// A stage whose `input-columns` names a column its input lacks fails
/// before calling its module, naming the setting and the column, and
/// commits nothing.
#[test]
fn input_columns_naming_a_missing_column_fail_the_stage() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake_dir = Lake::new();
    let toml = log_pipeline(&broker.bootstrap(), &lake_dir, "").replace(
        r#"input-columns = ["level", "latency_ms"]"#,
        r#"input-columns = ["level", "latency"]"#,
    );
    let pipeline = lake_dir.write_pipeline(&toml);
    let lines = logs::generate(200, 3);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let out = lake_dir.run_ingot(["run", "--once", &pipeline.display().to_string()]);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(
        stderr.contains("stages[1].input-columns") && stderr.contains("names `latency`"),
        "{stderr}"
    );
    assert!(
        !lake::exists(&uri(&lake_dir, "gold")),
        "gold committed nothing"
    );
}

#[test]
fn once_then_incremental_without_reprocessing() {
    once_then_incremental(&Lake::new());
}

#[test]
fn once_then_incremental_without_reprocessing_on_s3() {
    let s3 = S3Server::start();
    once_then_incremental(&Lake::on_s3(&s3));
}

fn once_then_incremental(lake_dir: &Lake) {
    let broker = Broker::start();
    broker.create_topic("logs", 3);
    let pipeline = lake_dir.write_pipeline(&log_pipeline(&broker.bootstrap(), lake_dir, ""));
    let first = logs::generate(5_000, 1);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        first.iter().map(LogLine::to_kafka),
    );
    run_once_on(lake_dir, &pipeline);
    assert_tables(lake_dir, &first);

    let (bronze, silver, gold) = (
        uri(lake_dir, "bronze"),
        uri(lake_dir, "silver"),
        uri(lake_dir, "gold"),
    );
    let silver_done = lake::stage_progress(&silver, "logs", "silver").expect("silver progress txn");
    assert_eq!(
        silver_done,
        lake::open(&bronze).version(),
        "silver consumed bronze to its latest version"
    );

    // A run with nothing new commits nothing anywhere.
    let versions =
        |l: &Lake| ["bronze", "silver", "gold"].map(|t| lake::open(&uri(l, t)).version());
    let before = versions(lake_dir);
    run_once_on(lake_dir, &pipeline);
    assert_eq!(versions(lake_dir), before, "an idle run commits nothing");

    // M more records: everything counted once, progress advanced.
    let mut all = first;
    let more: Vec<LogLine> = logs::generate(8_000, 1).split_off(5_000);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        more.iter().map(LogLine::to_kafka),
    );
    all.extend(more);
    run_once_on(lake_dir, &pipeline);
    assert_tables(lake_dir, &all);
    let silver_now = lake::stage_progress(&silver, "logs", "silver").expect("silver progress txn");
    assert!(
        silver_now > silver_done,
        "silver progress advanced: {silver_done} -> {silver_now}"
    );
    assert_eq!(silver_now, lake::open(&bronze).version());
    let gold_now = lake::stage_progress(&gold, "logs", "gold").expect("gold progress txn");
    assert_eq!(
        gold_now,
        lake::open(&silver).version(),
        "gold consumed silver to its latest version"
    );

    // Lineage: the last silver commit names the module by its sha256 and
    // the bronze versions it consumed, ending at its progress txn.
    let lineage = lake::lineage(&silver, lake::open(&silver).version());
    let digest = {
        use sha2::Digest;
        hex::encode(sha2::Sha256::digest(
            std::fs::read(&modules().log_parse).expect("read module"),
        ))
    };
    assert_eq!(lineage.module.as_deref(), Some(digest.as_str()));
    assert_eq!(
        (lineage.pipeline.as_str(), lineage.stage.as_str()),
        ("logs", "silver")
    );
    assert_eq!(lineage.input_versions.map(|(_, to)| to), Some(silver_now));
    assert_eq!(lineage.ingot_version, env!("CARGO_PKG_VERSION"));
    assert_eq!(lake::lineage(&bronze, 1).stage, "ingest");
}
