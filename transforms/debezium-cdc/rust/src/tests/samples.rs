//! The real-format sample files, line by line, and the event shapes around
//! them: envelopes, tombstones, snapshots, key changes, the table filter.

use super::*;

const POSTGRES: &str = include_str!("../../tests/fixtures/debezium-postgres.jsonl");
const MYSQL: &str = include_str!("../../tests/fixtures/debezium-mysql-wrapped.jsonl");

fn lines(text: &str) -> Vec<&str> {
    text.lines().collect()
}

/// The PostgreSQL sample's rows, in file order: `id|name|city|party|_op|
/// _source_ts|_seq|_deleted`.
const POSTGRES_ROWS: [&str; 7] = [
    "1|Ada Lovelace|London|green|r|1795428000000000|00000000016e904f|false",
    "2|Alan Turing|Manchester|blue|r|1795428000000000|00000000016e9050|false",
    "3|Grace Hopper|London|red|c|1795428060000000|00000000016e9058|false",
    "1|Ada Lovelace|Leeds|green|u|1795428120000000|00000000016e90a0|false",
    "2|∅|∅|∅|d|1795428180000000|00000000016e9104|true",
    "3|∅|∅|∅|d|1795428240000000|00000000016e9168|true",
    "30|Grace Hopper|London|red|c|1795428240000000|00000000016e9169|false",
];

const TRUNCATE: &str = "truncate (op \"t\") of `public.audit_log` cannot be applied row by row to an upsert table: \
    empty the output table and re-snapshot the source table (a Debezium ad-hoc snapshot signal) to rebuild it";

#[test]
fn every_line_of_the_postgres_sample() {
    let lines = lines(POSTGRES);
    assert_eq!(lines.len(), 10);
    let output = run(&VOTERS, &inserts(&lines));
    assert_eq!(table(&output.batch), POSTGRES_ROWS);
    // Lines 6 and 8 are tombstones: nothing, no reject. Line 10 truncates.
    assert_eq!(
        output.rejected,
        [Rejected {
            row: 9,
            reason: TRUNCATE.into()
        }]
    );
}

#[test]
fn every_line_of_the_mysql_sample() {
    let lines = lines(MYSQL);
    assert_eq!(lines.len(), 2);
    let config = [
        ("key", "id"),
        ("columns", "id:int32,name:string,city:string"),
    ];
    let output = run(&config, &inserts(&lines));
    assert_eq!(
        table(&output.batch),
        [
            "1004|Anne Kretchmar|Oslo|c|1795428000000000|0000000300000000000001e400000000|false",
            "1004|Anne Marie Kretchmar|Bergen|u|1795428060000000|00000003000000000000032500000000|false",
        ]
    );
    assert!(output.rejected.is_empty());
}

#[test]
fn the_output_schema_is_the_columns_then_the_metadata() {
    let output = run(&VOTERS, &inserts::<&str>(&[]));
    let schema = output.batch.schema();
    let fields: Vec<_> = schema
        .fields()
        .iter()
        .map(|f| {
            (
                f.name().as_str(),
                f.data_type().to_string(),
                f.is_nullable(),
            )
        })
        .collect();
    let utc = r#"Timestamp(µs, "UTC")"#.to_owned();
    assert_eq!(
        fields,
        [
            ("id", "Int64".into(), true),
            ("name", "Utf8".into(), true),
            ("city", "Utf8".into(), true),
            ("party", "Utf8".into(), true),
            ("_op", "Utf8".into(), false),
            ("_source_ts", utc, true),
            ("_seq", "Utf8".into(), false),
            ("_deleted", "Boolean".into(), false),
        ]
    );
}

#[test]
fn an_event_reads_the_same_with_and_without_the_envelope() {
    let bare = lines(POSTGRES)[3];
    let wrapped = format!(r#"{{"schema":{{"type":"struct","optional":false}},"payload":{bare}}}"#);
    let output = run(&VOTERS, &inserts(&[bare, wrapped.as_str()]));
    assert_eq!(table(&output.batch), [POSTGRES_ROWS[3], POSTGRES_ROWS[3]]);

    // And the MySQL events without theirs.
    let unwrapped: Vec<String> = lines(MYSQL)
        .iter()
        .map(|line| {
            let value: serde_json::Value = serde_json::from_str(line).expect("JSON");
            value["payload"].to_string()
        })
        .collect();
    let config = [
        ("key", "id"),
        ("columns", "id:int32,name:string,city:string"),
    ];
    let wrapped = run(&config, &inserts(&lines(MYSQL)));
    let bare = run(&config, &inserts(&unwrapped));
    assert_eq!(table(&bare.batch), table(&wrapped.batch));
    assert_eq!(bare.batch.num_rows(), 2);
}

#[test]
fn tombstones_make_nothing_and_are_not_rejected() {
    let output = run(
        &VOTERS,
        &inserts(&[
            "",
            r#"{"schema":{"type":"struct"},"payload":null}"#,
            r#"{"schema":null,"payload":null}"#,
            "",
        ]),
    );
    assert_eq!(output.batch.num_rows(), 0);
    assert!(output.rejected.is_empty());
}

#[test]
fn snapshot_flags_as_strings_or_booleans_are_all_read() {
    let event = |snapshot: &str, id: u64| {
        format!(
            r#"{{"before":null,"after":{{"id":{id}}},"source":{{"ts_ms":1,"snapshot":{snapshot},"db":"registry","schema":"public","table":"voters","lsn":{id}}},"op":"r"}}"#
        )
    };
    let snapshots = [
        r#""true""#,
        r#""first""#,
        r#""last""#,
        r#""incremental""#,
        r#""false""#,
        "true",
        "false",
        "null",
    ];
    let events: Vec<String> = snapshots
        .iter()
        .zip(1..)
        .map(|(s, id)| event(s, id))
        .collect();
    let output = run(&VOTERS, &inserts(&events));
    assert!(output.rejected.is_empty());
    let ids: Vec<String> = table(&output.batch)
        .iter()
        .map(|row| row.split('|').next().unwrap_or_default().to_owned())
        .collect();
    assert_eq!(ids, ["1", "2", "3", "4", "5", "6", "7", "8"]);
}

#[test]
fn a_primary_key_change_is_a_delete_of_the_old_key_and_a_create_of_the_new() {
    // Lines 7 to 9: delete id 3, its tombstone, create id 30.
    let output = run(&VOTERS, &inserts(&lines(POSTGRES)[6..9]));
    assert_eq!(table(&output.batch), [POSTGRES_ROWS[5], POSTGRES_ROWS[6]]);
}

#[test]
fn logical_decoding_messages_are_skipped() {
    let message = r#"{"op":"m","ts_ms":1,"source":{"connector":"postgresql","lsn":99,"table":"","db":"registry"},"message":{"prefix":"audit","content":"aGk="}}"#;
    let output = run(&VOTERS, &inserts(&[message]));
    assert_eq!(output.batch.num_rows(), 0);
    assert!(output.rejected.is_empty());
}

#[test]
fn the_table_filter_accepts_its_table_and_names_both_on_another() {
    let postgres = lines(POSTGRES);
    for table_name in ["public.voters", "registry.voters"] {
        let config = [VOTERS[0], VOTERS[1], ("table", table_name)];
        let output = run(&config, &inserts(&postgres));
        assert_eq!(table(&output.batch), POSTGRES_ROWS, "{table_name}");
        // The truncate is of another table: it is misrouted before it is a truncate.
        assert_eq!(
            output.rejected,
            [Rejected {
                row: 9,
                reason: format!(
                    "event is for table `public.audit_log`, not the configured table `{table_name}` \
                     (is the topic routed to the right stage?)"
                )
            }]
        );
    }

    let config = [
        ("key", "id"),
        ("columns", "id:int32,name:string,city:string"),
        ("table", "inventory.customers"),
    ];
    assert_eq!(run(&config, &inserts(&lines(MYSQL))).batch.num_rows(), 2);
    let config = [config[0], config[1], ("table", "inventory.orders")];
    let reason = "event is for table `inventory.customers`, not the configured table `inventory.orders` \
                  (is the topic routed to the right stage?)";
    assert_eq!(reasons(&config, &lines(MYSQL)), [reason, reason]);

    let no_table = r#"{"op":"c","after":{"id":1},"source":{"db":"registry","lsn":1}}"#;
    let config = [VOTERS[0], VOTERS[1], ("table", "public.voters")];
    assert_eq!(
        reasons(&config, &[no_table]),
        [
            "`source.table` is missing, so the event cannot be checked against the configured table `public.voters`"
        ]
    );
}

#[test]
fn only_inserted_bronze_rows_are_read_and_rejects_index_the_input() {
    let event = lines(POSTGRES)[2];
    let output = run(
        &VOTERS,
        &bronze(
            TOPIC,
            &[
                (ChangeType::Delete, Some(b"garbage")),
                (ChangeType::UpdatePreimage, Some(event.as_bytes())),
                (ChangeType::UpdatePostimage, Some(b"garbage")),
                (ChangeType::Insert, Some(event.as_bytes())),
                (ChangeType::Insert, Some(b"garbage")),
                (ChangeType::Delete, None),
            ],
        ),
    );
    assert_eq!(table(&output.batch), [POSTGRES_ROWS[2]]);
    assert_eq!(
        output.rejected,
        [Rejected {
            row: 4,
            reason: "value is not valid JSON: expected value at line 1 column 1".into()
        }]
    );
}

#[test]
fn a_string_value_column_is_read_too() {
    let line = lines(POSTGRES)[0];
    let batch = bronze_utf8(TOPIC, &[(ChangeType::Insert, Some(line.as_bytes()))]);
    assert_eq!(table(&run(&VOTERS, &batch).batch), [POSTGRES_ROWS[0]]);
}

#[test]
fn a_batch_without_a_value_column_is_invalid_input() {
    let topics = Arc::new(StringArray::from(vec!["cdc"])) as ArrayRef;
    let batch = with_cdf(
        &RecordBatch::try_from_iter([("topic", topics)]).expect("valid batch"),
        &[ChangeType::Insert],
    );
    assert_eq!(
        harness(&VOTERS).process(&batch).map(|_| ()),
        Err(Error::InvalidInput("missing column `value`".into()))
    );
}
