use std::sync::Arc;
use std::time::Duration;

use ingot_core::arrow::{
    array::{ArrayRef, Int64Array, RecordBatch},
    datatypes::{DataType, Field, Schema, SchemaRef},
};
use ingot_delta::{Commit, Txn, WriteMode};

use super::*;

fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![Field::new("k", DataType::Int64, false)]))
}

fn commit(app_id: &str, version: i64) -> Commit {
    Commit {
        txns: vec![Txn {
            app_id: app_id.into(),
            version,
        }],
        lineage: ingot_delta::Lineage {
            ingot_version: ingot_core::VERSION.into(),
            pipeline: "p".into(),
            stage: "silver".into(),
            module: None,
            input_table: None,
            input_versions: None,
            attempt: None,
        },
    }
}

/// A pipeline `p` in `dir` (silver reads bronze, gold reads silver) with
/// `maintenance` as its `[maintenance]` table.
fn config_in(dir: &std::path::Path, maintenance: &str) -> PipelineConfig {
    let text = format!(
        r#"
        name = "p"
        [kafka]
        brokers = "embedded"
        topics = ["t"]
        [lake]
        root = "lake"
        [[stages]]
        name = "silver"
        module = "m.wasm"
        [[stages]]
        name = "gold"
        module = "m.wasm"
        [maintenance]
        {maintenance}
    "#
    );
    std::fs::write(dir.join("m.wasm"), b"not read").expect("module");
    PipelineConfig::parse(&text, &dir.join("p.toml")).expect("config")
}

/// Table `name` of `config` with `versions` one-row appends after its
/// create, each recording txn `app_id`.
async fn table_with(config: &PipelineConfig, name: &str, versions: i64, app_id: &str) -> Table {
    let mut table = Table::open_or_create(&config.table_uri(name), schema())
        .await
        .expect("create");
    for v in 0..versions {
        let batch = RecordBatch::try_new(
            schema(),
            vec![Arc::new(Int64Array::from(vec![v])) as ArrayRef],
        )
        .expect("batch");
        table
            .write(vec![batch], &WriteMode::Append, &commit(app_id, v))
            .await
            .expect("append");
    }
    table
}

#[tokio::test]
async fn a_vacuum_keeps_what_the_stages_reading_a_table_have_not_read() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_in(dir.path(), "");
    let bronze = table_with(&config, "bronze", 5, "p/t/0").await;
    let week = Duration::from_secs(7 * 24 * 3600);

    let unread = needs(&config, "bronze", &bronze).await.expect("needs");
    assert_eq!(unread.unstarted(), vec!["stage silver"]);
    let err = vacuum_retention("bronze", week, &unread, false).expect_err("silver never ran");
    assert!(
        err.to_string().contains("stage silver never committed"),
        "{err}"
    );
    assert_eq!(
        vacuum_retention("bronze", Duration::ZERO, &unread, true).expect("forced"),
        Duration::ZERO
    );

    // Silver has read up to version 2: version 3 is the oldest it needs.
    let silver_txn = config.layout().stage_txn("silver");
    let mut silver = table_with(&config, "silver", 1, "other").await;
    let batch = RecordBatch::try_new(
        schema(),
        vec![Arc::new(Int64Array::from(vec![9])) as ArrayRef],
    )
    .expect("batch");
    silver
        .write(
            vec![batch.clone()],
            &WriteMode::Append,
            &commit(&silver_txn, 2),
        )
        .await
        .expect("silver's progress");
    let behind = needs(&config, "bronze", &bronze).await.expect("needs");
    assert_eq!(behind.oldest, Some((3, "stage silver".to_owned())));
    assert!(behind.lag_micros() >= 0);
    assert_eq!(behind.keep_from(bronze.version()), 3);
    let err = vacuum_retention("bronze", Duration::ZERO, &behind, false).expect_err("too short");
    let text = err.to_string();
    assert!(
        text.contains("stage silver has not read version 3"),
        "{text}"
    );
    assert_eq!(err.class(), ErrorClass::User);
    assert_eq!(
        vacuum_retention("bronze", week, &behind, false).expect("long enough"),
        week
    );

    // Caught up: nothing unread, any retention goes.
    silver
        .write(
            vec![batch],
            &WriteMode::Append,
            &commit(&silver_txn, bronze.version()),
        )
        .await
        .expect("silver's progress");
    let caught_up = needs(&config, "bronze", &bronze).await.expect("needs");
    assert_eq!(caught_up.oldest, None);
    assert_eq!(
        vacuum_retention("bronze", Duration::ZERO, &caught_up, false).expect("ok"),
        Duration::ZERO
    );

    // A quarantine's reader is its stage's reprocess.
    let quarantine = table_with(&config, "silver_quarantine", 1, "x").await;
    let q = needs(&config, "silver_quarantine", &quarantine)
        .await
        .expect("needs");
    assert_eq!(q.unstarted(), vec!["reprocess of silver"]);
}

#[tokio::test]
async fn a_pass_compacts_checkpoints_cleans_and_vacuums_when_due() {
    let dir = tempfile::tempdir().expect("tempdir");
    let settings = "compact-min-files = 3\ncheckpoint-interval = 4\nlog-retention-hours = 0\n\
                    vacuum-retention-hours = 0\nvacuum-interval-hours = 0";
    let config = config_in(dir.path(), settings);
    table_with(&config, "bronze", 6, "p/t/0").await;
    // Silver is caught up with bronze (created and compacted: version 7).
    let silver_txn = config.layout().stage_txn("silver");
    let mut silver = Table::open_or_create(&config.table_uri("silver"), schema())
        .await
        .expect("create");
    silver
        .write(Vec::new(), &WriteMode::Append, &commit(&silver_txn, 7))
        .await
        .expect("progress");

    let mut maintainer = Maintainer::new(config.clone());
    let reports: Vec<TableMaintenance> = maintainer
        .pass()
        .await
        .into_iter()
        .collect::<Result<_>>()
        .expect("a pass");
    let bronze = reports
        .iter()
        .find(|r| r.table == "bronze")
        .expect("bronze");
    assert_eq!(bronze.compacted, Some((6, 1)), "{bronze:?}");
    assert_eq!(bronze.checkpoint, Some(7));
    assert_eq!((bronze.files, bronze.small_files), (1, 1));
    let first = bronze.vacuumed.expect("a vacuum ran");
    let silver_report = reports
        .iter()
        .find(|r| r.table == "silver")
        .expect("silver");
    assert_eq!(
        silver_report.compacted, None,
        "one file: nothing to compact"
    );
    assert!(
        reports.iter().all(|r| r.table != "gold"),
        "tables that do not exist are left alone"
    );

    // The compaction's removed files go once past the (zero) retention.
    tokio::time::sleep(Duration::from_millis(20)).await;
    let again = maintainer.pass().await;
    let bronze = again
        .into_iter()
        .filter_map(Result::ok)
        .find(|r| r.table == "bronze")
        .expect("bronze");
    let gone = first + bronze.vacuumed.unwrap_or(0);
    assert_eq!(gone, 6, "the six compacted files: {bronze:?}");
    let table = Table::open(&config.table_uri("bronze"))
        .await
        .expect("open")
        .expect("bronze");
    assert_eq!(
        table
            .scan()
            .await
            .expect("scan")
            .iter()
            .map(RecordBatch::num_rows)
            .sum::<usize>(),
        6
    );
}
