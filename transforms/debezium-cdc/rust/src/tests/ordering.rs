//! `_seq` orders a row's events as the source did, across the snapshot and
//! stream boundary, so the upsert survives reordered and repeated delivery.

use std::collections::BTreeMap;

use super::*;

/// The output of `events` delivered in the order `order` (indexes into
/// `events`): per row, (`_seq`, index of the event, `id`, `_op`).
fn delivered(
    config: &[(&str, &str)],
    events: &[String],
    order: &[usize],
) -> Vec<(String, usize, String, String)> {
    let values: Vec<&str> = order.iter().map(|&i| events[i].as_str()).collect();
    let output = run(config, &inserts(&values));
    assert!(output.rejected.is_empty(), "{:?}", output.rejected);
    let rows = table(&output.batch);
    rows.iter()
        .map(|row| {
            let cells: Vec<&str> = row.split('|').collect();
            let step: usize = cells[1].parse().expect("step");
            (
                cells[4].to_owned(),
                step,
                cells[0].to_owned(),
                cells[2].to_owned(),
            )
        })
        .collect()
}

/// Asserts that sorting by `_seq` (ties by delivery-independent step) gives
/// the events' source order, and that one row's events never tie.
fn assert_sorts_into_source_order(config: &[(&str, &str)], events: &[String]) {
    let n = events.len();
    let orders: Vec<Vec<usize>> = vec![
        (0..n).collect(),
        (0..n).rev().collect(),
        (0..n).map(|i| (i * 5 + 3) % n).collect(),
    ];
    for order in orders {
        let mut rows = delivered(config, events, &order);
        rows.sort();
        let steps: Vec<usize> = rows.iter().map(|(_, step, _, _)| *step).collect();
        assert_eq!(steps, (0..n).collect::<Vec<_>>(), "delivered in {order:?}");
        for pair in rows.windows(2) {
            if pair[0].2 == pair[1].2 {
                assert!(
                    pair[0].0 < pair[1].0,
                    "one row's events must not tie: {pair:?}"
                );
            }
        }
        let ops: String = rows.iter().map(|(_, _, _, op)| op.as_str()).collect();
        assert!(
            ops.starts_with("rr") && !ops[2..].contains('r'),
            "snapshot first: {ops}"
        );
    }
}

#[test]
fn postgres_lsns_sort_snapshot_then_stream() {
    let config = [("key", "id"), ("columns", "id:int64, step:int64")];
    let image = |id: u64, step: usize| format!(r#"{{"id":{id},"step":{step}}}"#);
    // The snapshot rows carry the slot's consistent point; the stream
    // follows it, across the 2^32 boundary where decimal text would misorder.
    let events = [
        ("r", 1, 0x1000),
        ("r", 2, 0x1000),
        ("u", 1, 0x1008),
        ("u", 2, 0xffff_fff0),
        ("d", 1, 0x1_0000_0000),
        ("c", 1, 0x1_0000_0010),
    ];
    let events: Vec<String> = events
        .iter()
        .enumerate()
        .map(|(step, (op, id, lsn))| match *op {
            "d" => pg_event(op, &image(*id, step), "null", *lsn),
            _ => pg_event(op, "null", &image(*id, step), *lsn),
        })
        .collect();
    assert_sorts_into_source_order(&config, &events);
}

#[test]
fn mysql_binlog_positions_sort_snapshot_then_stream_across_files() {
    let config = [("key", "id"), ("columns", "id:int64, step:int64")];
    let event = |step: usize, op: &str, id: u64, file: &str, pos: u64, row: u32| {
        let image = format!(r#"{{"id":{id},"step":{step}}}"#);
        let (before, after) = if op == "d" {
            (image.as_str(), "null")
        } else {
            ("null", image.as_str())
        };
        format!(
            r#"{{"schema":{{"type":"struct"}},"payload":{{"before":{before},"after":{after},"source":{{"connector":"mysql","ts_ms":1795428000000,"snapshot":"{snapshot}","db":"inventory","table":"customers","file":"{file}","pos":{pos},"row":{row}}},"op":"{op}"}}}}"#,
            snapshot = op == "r"
        )
    };
    let events = vec![
        event(0, "r", 1, "mysql-bin.000003", 484, 0),
        event(1, "r", 2, "mysql-bin.000003", 484, 0),
        event(2, "c", 3, "mysql-bin.000003", 805, 0),
        event(3, "u", 1, "mysql-bin.000003", 805, 1),
        event(4, "u", 2, "mysql-bin.000003", 4096, 0),
        // Rotation: a later file starts again at a small position.
        event(5, "d", 3, "mysql-bin.000004", 4, 0),
        event(6, "u", 1, "mysql-bin.000009", 120, 0),
        event(7, "c", 3, "mysql-bin.000010", 4, 0),
    ];
    assert_sorts_into_source_order(&config, &events);
}

/// The host's upsert with tombstones: a key's row is replaced only by a
/// higher `_seq`; a delete keeps its `_seq` so an older event cannot bring
/// the row back.
fn upsert(state: &mut BTreeMap<String, (String, bool, String)>, batch: &RecordBatch) {
    for row in table(batch) {
        let cells: Vec<&str> = row.split('|').collect();
        let (id, seq, deleted) = (cells[0], cells[6], cells[7] == "true");
        let newer = state.get(id).is_none_or(|(old, _, _)| seq > old.as_str());
        if newer {
            state.insert(
                id.to_owned(),
                (seq.to_owned(), deleted, cells[1..4].join("|")),
            );
        }
    }
}

#[test]
fn the_postgres_sample_upserts_to_the_same_table_in_any_delivery_order() {
    let lines: Vec<&str> = include_str!("../../tests/fixtures/debezium-postgres.jsonl")
        .lines()
        .take(9) // the truncate is rejected, whatever the order
        .collect();
    let n = lines.len();
    let deliveries: Vec<Vec<usize>> = vec![
        (0..n).collect(),
        (0..n).rev().collect(),
        (0..n).map(|i| (i * 4 + 1) % n).collect::<Vec<_>>(),
        // Redelivered: everything twice, the second time from the start.
        (0..n).chain(0..n).collect(),
    ];
    for delivery in deliveries {
        let mut state = BTreeMap::new();
        // One event per batch, as separate stage steps would see them.
        for &i in &delivery {
            upsert(&mut state, &run(&VOTERS, &inserts(&[lines[i]])).batch);
        }
        let live: Vec<String> = state
            .iter()
            .filter(|(_, (_, deleted, _))| !deleted)
            .map(|(id, (_, _, row))| format!("{id}|{row}"))
            .collect();
        assert_eq!(
            live,
            ["1|Ada Lovelace|Leeds|green", "30|Grace Hopper|London|red"],
            "delivered in {delivery:?}"
        );
    }
}
