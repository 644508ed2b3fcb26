use ingot_core::arrow::{array::AsArray, datatypes::Int64Type};
use ingot_kafka::bronze::bare_record;

use super::commit::{drop_already_written, written_progress};
use super::*;

#[test]
fn a_partition_whose_offset_does_not_advance_is_a_repeat() {
    let mut buffer = Buffer::default();
    let read = [
        ("t", 0, 200),
        ("t", 0, 201),
        ("t", 1, 5),
        ("t", 0, 200),
        ("t", 0, 201),
    ];
    let repeats: Vec<bool> = read
        .iter()
        .map(|&(t, p, o)| {
            let repeat = buffer.repeated(t, p, o);
            if !repeat {
                buffer.builder.push(&bare_record(t, p, o), 0);
            }
            repeat
        })
        .collect();
    assert_eq!(repeats, [false, false, false, true, true]);
    assert!(!buffer.repeated("u", 0, 1), "another topic's partition 0");
    assert!(!buffer.repeated("t", 0, 202));
    buffer.finish();
    assert!(
        !buffer.repeated("t", 0, 202),
        "a commit starts over: bronze's txns filter what it already holds"
    );
}

#[test]
fn rows_at_or_below_a_partitions_txn_are_dropped() {
    let mut b = BronzeBuilder::new();
    for (p, o) in [(0, 10), (0, 11), (0, 12), (1, 3), (1, 4)] {
        b.push(&bare_record("t", p, o), 0);
    }
    let (batch, _) = b.finish();
    let progress = HashMap::from([(("t".into(), 0), 11), (("t".into(), 1), 2)]);
    let kept = drop_already_written(&batch, &progress);
    assert_eq!(
        kept.column(2).as_primitive::<Int64Type>().values(),
        &[12, 3, 4]
    );
    assert_eq!(drop_already_written(&batch, &HashMap::new()).num_rows(), 5);
    // A partition reset since it was read counts as holding everything.
    let reset = HashMap::from([(("t".into(), 0), i64::MAX)]);
    let kept = drop_already_written(&batch, &reset);
    assert_eq!(kept.column(2).as_primitive::<Int64Type>().values(), &[3, 4]);
}

/// A bronze table under a temp dir holding `t/0` up to offset 1999.
async fn bronze_at_1999(dir: &std::path::Path) -> (Table, Layout) {
    let layout = Layout::new(dir.to_string_lossy(), "default", "p");
    let mut table = Table::open_or_create(&layout.bronze_uri(), bronze::schema())
        .await
        .expect("bronze");
    let commit = Commit {
        txns: vec![Txn {
            app_id: layout.partition_txn("t", 0),
            version: 1999,
        }],
        lineage: ingest_lineage("p", "ingest", "kafka:t".into()),
    };
    table
        .write(Vec::new(), &WriteMode::Append, &commit)
        .await
        .expect("progress commit");
    (table, layout)
}

#[test]
fn a_reset_moves_the_txn_back_once_and_fences_what_was_read_before_it() {
    let dir = tempfile::tempdir().expect("tempdir");
    let rt = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("runtime");
    rt.block_on(async {
        let (mut table, layout) = bronze_at_1999(dir.path()).await;
        let loss = DataLoss::find("t", 0, Some(1999), 0, 300).expect("backwards");
        assert_eq!(
            reset(&mut table, &layout, &loss).await.expect("reset"),
            (Some(-1), 1)
        );
        let version = table.version();
        let lineage = table
            .lineage(version)
            .await
            .expect("read")
            .expect("lineage");
        assert_eq!(lineage.stage, "ingest (reset)");
        assert_eq!(lineage.input_table.as_deref(), Some("kafka:t/0"));
        // A second host that found the same loss sees the reset: no second one.
        assert_eq!(
            reset(&mut table, &layout, &loss).await.expect("reset"),
            (Some(-1), 1)
        );
        assert_eq!(table.version(), version);
        // Records read under no reset are dropped; under this one, kept.
        let id: PartitionId = ("t".into(), 0);
        let before = HashMap::from([(id.clone(), 0)]);
        let after = HashMap::from([(id.clone(), 1)]);
        let progress =
            |positioned| written_progress(&table, &layout, [&id].into_iter(), positioned);
        assert_eq!(progress(&before)[&id], i64::MAX);
        assert_eq!(progress(&after)[&id], -1);
    });
}
