//! The transform through the native harness: every accepted shape of line
//! and every reason to reject one.

use super::*;
use ingot_guest::arrow_array::{Array, BinaryArray};
use ingot_guest::testing::{Harness, bronze, bronze_utf8, with_cdf};
use ingot_guest::{Level, Rejected};

const PROCESSING_TIME: i64 = 1_800_000_000_000_000;
const LINE: &str = r#"{"ts":"2026-11-21T10:00:01.123Z","level":"INFO","service":"svc-3","host":"host-17","latency_ms":42,"msg":"request 7 handled"}"#;

/// The Kafka topic of every bronze row; bronze row `i` has offset `100 + i`.
const TOPIC: &str = "logs";

fn inserts(values: &[&str]) -> RecordBatch {
    let rows: Vec<_> = values
        .iter()
        .map(|v| (ChangeType::Insert, Some(v.as_bytes())))
        .collect();
    bronze(TOPIC, &rows)
}

fn run(input: &RecordBatch) -> Output {
    let mut harness = Harness::<LogParse>::new(Vec::<(String, String)>::new())
        .expect("init succeeds")
        .with_processing_time(PROCESSING_TIME);
    let output = harness.process(input).expect("process succeeds");
    assert!(harness.logs().iter().all(|(level, _)| *level < Level::Warn));
    output
}

fn strings(batch: &RecordBatch, name: &str) -> Vec<Option<String>> {
    let array = column::<StringArray>(batch, name).expect("string column");
    array.iter().map(|v| v.map(str::to_owned)).collect()
}

/// The reason each rejected line gives.
fn reasons(values: &[&str]) -> Vec<String> {
    let output = run(&inserts(values));
    assert_eq!(output.batch.num_rows(), 0, "every line must be rejected");
    output.rejected.into_iter().map(|r| r.reason).collect()
}

#[test]
fn a_full_line_becomes_one_typed_row_with_lineage() {
    let output = run(&inserts(&[LINE]));
    let batch = &output.batch;
    assert_eq!(batch.schema(), silver_schema());
    assert!(output.rejected.is_empty());
    let ts = column::<TimestampMicrosecondArray>(batch, "ts").expect("ts");
    assert_eq!(ts.values(), &[1_795_255_201_123_000]);
    assert_eq!(strings(batch, "level"), [Some("INFO".into())]);
    assert_eq!(strings(batch, "service"), [Some("svc-3".into())]);
    assert_eq!(strings(batch, "host"), [Some("host-17".into())]);
    assert_eq!(
        column::<Int64Array>(batch, "latency_ms")
            .expect("latency")
            .values(),
        &[42]
    );
    assert_eq!(
        strings(batch, "message"),
        [Some("request 7 handled".into())]
    );
    assert_eq!(strings(batch, "topic"), [Some("logs".into())]);
    assert_eq!(
        column::<Int32Array>(batch, "partition")
            .expect("partition")
            .values(),
        &[3]
    );
    assert_eq!(
        column::<Int64Array>(batch, "offset")
            .expect("offset")
            .values(),
        &[100]
    );
    let processed =
        column::<TimestampMicrosecondArray>(batch, "processed_at").expect("processed_at");
    assert_eq!(processed.values(), &[PROCESSING_TIME]);
}

#[test]
fn levels_are_upper_cased_and_warning_is_warn() {
    let line = |level: &str| format!(r#"{{"ts":"2026-11-21T10:00:00Z","level":"{level}"}}"#);
    let given = [
        "trace", "Debug", "INFO", "warn", "WARNING", "error", "fatal",
    ];
    let lines: Vec<String> = given.iter().map(|l| line(l)).collect();
    let output = run(&inserts(
        &lines.iter().map(String::as_str).collect::<Vec<_>>(),
    ));
    let levels = strings(&output.batch, "level");
    let expected = ["TRACE", "DEBUG", "INFO", "WARN", "WARN", "ERROR", "FATAL"];
    assert_eq!(levels, expected.map(|l| Some(l.to_owned())));
}

#[test]
fn optional_fields_may_be_missing_or_null_and_message_is_an_alias() {
    let output = run(&inserts(&[
        r#"{"ts":"2026-11-21T10:00:00Z","level":"INFO"}"#,
        r#"{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":null,"service":null,"message":"from message"}"#,
        r#"{"ts":"2026-11-21T10:00:00Z","level":"INFO","msg":"from msg","message":"ignored","host":17}"#,
    ]));
    let batch = &output.batch;
    assert_eq!(strings(batch, "service"), [None, None, None]);
    assert_eq!(strings(batch, "host"), [None, None, Some("17".into())]);
    let latency = column::<Int64Array>(batch, "latency_ms").expect("latency");
    assert_eq!(latency.null_count(), 3);
    let messages = strings(batch, "message");
    assert_eq!(
        messages,
        [None, Some("from message".into()), Some("from msg".into())]
    );
}

#[test]
fn unparseable_values_are_rejected_with_the_reason() {
    let cases = [
        (
            "not json",
            "value is not valid JSON: expected ident at line 1 column 2",
        ),
        ("[1,2]", "value is a JSON array, not an object"),
        ("42", "value is not a JSON object: 42"),
        (r#"{"ts":"2026-11-21T10:00:00Z"}"#, "missing field `level`"),
        (
            r#"{"ts":"2026-11-21T10:00:00Z","level":null}"#,
            "missing field `level`",
        ),
        (
            r#"{"ts":"2026-11-21T10:00:00Z","level":3}"#,
            "`level` is not a string: 3",
        ),
        (
            r#"{"ts":"2026-11-21T10:00:00Z","level":"LOUD"}"#,
            "unknown level `LOUD`",
        ),
        (r#"{"level":"INFO"}"#, "missing field `ts`"),
        (
            r#"{"ts":"21/11/2026","level":"INFO"}"#,
            "`ts` is not an RFC 3339 timestamp: expected a 4-digit year at byte 0",
        ),
        (
            r#"{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":4.5}"#,
            "`latency_ms` is not an integer: 4.5",
        ),
        (
            r#"{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":"42"}"#,
            "`latency_ms` is not an integer: \"42\"",
        ),
    ];
    let (values, expected): (Vec<&str>, Vec<&str>) = cases.into_iter().unzip();
    assert_eq!(reasons(&values), expected);
}

#[test]
fn null_and_non_utf8_values_are_rejected() {
    let output = run(&bronze(
        TOPIC,
        &[
            (ChangeType::Insert, None),
            (ChangeType::Insert, Some(&[b'{', 0xff, b'}'])),
            (ChangeType::Insert, Some(LINE.as_bytes())),
        ],
    ));
    assert_eq!(output.batch.num_rows(), 1);
    assert_eq!(
        column::<Int64Array>(&output.batch, "offset")
            .expect("offset")
            .values(),
        &[102]
    );
    assert_eq!(
        output.rejected,
        vec![
            Rejected {
                row: 0,
                reason: "value is null".into()
            },
            Rejected {
                row: 1,
                reason: "value is not UTF-8: invalid utf-8 sequence of 1 bytes from index 1".into()
            },
        ]
    );
}

#[test]
fn only_inserts_are_parsed_and_reject_rows_index_the_input() {
    let output = run(&bronze(
        TOPIC,
        &[
            (ChangeType::Delete, Some(b"garbage")),
            (ChangeType::Insert, Some(LINE.as_bytes())),
            (ChangeType::UpdatePreimage, Some(LINE.as_bytes())),
            (ChangeType::Insert, Some(b"garbage")),
        ],
    ));
    assert_eq!(
        column::<Int64Array>(&output.batch, "offset")
            .expect("offset")
            .values(),
        &[101]
    );
    assert_eq!(
        output.rejected.iter().map(|r| r.row).collect::<Vec<_>>(),
        [3]
    );
}

#[test]
fn an_empty_batch_gives_an_empty_silver_batch() {
    let output = run(&bronze(TOPIC, &[]));
    assert_eq!(output.batch.num_rows(), 0);
    assert_eq!(output.batch.schema(), silver_schema());
}

#[test]
fn a_string_value_column_is_accepted() {
    let batch = bronze_utf8(TOPIC, &[(ChangeType::Insert, Some(LINE.as_bytes()))]);
    assert_eq!(run(&batch).batch.num_rows(), 1);
}

#[test]
fn a_batch_without_kafka_columns_is_invalid_input() {
    let values = Arc::new(BinaryArray::from(vec![Some(LINE.as_bytes())])) as ArrayRef;
    let batch = with_cdf(
        &RecordBatch::try_from_iter([("value", values)]).expect("valid batch"),
        &[ChangeType::Insert],
    );
    let mut harness = Harness::<LogParse>::new(Vec::<(String, String)>::new()).expect("init");
    assert_eq!(
        harness.process(&batch).map(|_| ()),
        Err(Error::InvalidInput("missing column `topic`".into()))
    );
}

#[test]
fn the_typed_path_reads_a_line_as_the_value_path_does() {
    let lines = [
        LINE,
        r#"{"ts":"2026-11-21T10:00:00+02:00","level":"warning","msg":"tab\there \u00e9","extra":[1,{"a":null}]}"#,
        r#"{"level":"debug","ts":"2026-11-21T10:00:00Z","latency_ms":null,"message":"m","host":null}"#,
        r#"{"ts":"2026-11-21T10:00:00Z","level":"INFO","latency_ms":-7}"#,
    ];
    for line in lines {
        let typed = parse(Some(line.as_bytes())).expect("typed path");
        assert_eq!(typed, parse_value(line).expect("value path"), "{line}");
    }
    let escaped = parse(Some(lines[1].as_bytes())).expect("escaped");
    assert_eq!(escaped.message.as_deref(), Some("tab\there é"));
    assert!(matches!(
        parse(Some(LINE.as_bytes())).map(|l| l.host),
        Ok(Some(Cow::Borrowed(_)))
    ));
}
