//! Every column type: what it accepts, nulls, and what it refuses.

use super::*;

/// The output cells of column `v` (declared `kind`) for each JSON `values`
/// of field `v`, after the key `k`; and the reasons of rejected values.
fn convert(kind: &str, values: &[&str]) -> (Vec<String>, Vec<String>) {
    convert_in(kind, values, None)
}

/// [`convert`] with the events in an envelope whose schema names `v`'s
/// Kafka Connect type `name` (with `parameters`, if any).
fn convert_in(kind: &str, values: &[&str], schema: Option<&str>) -> (Vec<String>, Vec<String>) {
    let columns = format!("k:int64, v:{kind}");
    let config = [("key", "k"), ("columns", columns.as_str())];
    let events: Vec<String> = values
        .iter()
        .enumerate()
        .map(|(i, value)| {
            let event = pg_event(
                "c",
                "null",
                &format!(r#"{{"k":{i},"v":{value}}}"#),
                i as u64,
            );
            match schema {
                Some(field) => envelope(&event, field),
                None => event,
            }
        })
        .collect();
    let output = run(&config, &inserts(&events));
    let cells = table(&output.batch)
        .iter()
        .map(|row| {
            let cells: Vec<&str> = row.split('|').collect();
            format!("{}:{}", cells[0], cells[1])
        })
        .collect();
    (
        cells,
        output
            .rejected
            .into_iter()
            .map(|r| format!("{}:{}", r.row, r.reason))
            .collect(),
    )
}

/// `event` in a Kafka Connect envelope whose `after` struct has field `v`
/// with the schema `field` (`"name":...` and so on).
fn envelope(event: &str, field: &str) -> String {
    format!(
        r#"{{"schema":{{"type":"struct","fields":[{{"type":"struct","optional":true,"field":"before","fields":[]}},{{"type":"struct","optional":true,"field":"after","fields":[{{"type":"int64","field":"k"}},{{"field":"v",{field}}}]}}],"name":"registry.public.voters.Envelope"}},"payload":{event}}}"#
    )
}

fn strings(values: &[&str]) -> Vec<String> {
    values.iter().map(|v| (*v).to_owned()).collect()
}

#[test]
fn string_columns_take_strings_and_scalars_as_text() {
    let (cells, rejects) = convert(
        "string",
        &[
            r#""Leeds""#,
            r#""a\"b\u00e9""#,
            "12.50",
            "true",
            "null",
            r#""""#,
            "[1]",
        ],
    );
    assert_eq!(
        cells,
        strings(&["0:Leeds", "1:a\"bé", "2:12.50", "3:true", "4:∅", "5:"])
    );
    assert_eq!(
        rejects,
        ["6:`after.v` is not a string: [1] (declare the column `json` to keep nested values)"]
    );
}

#[test]
fn integer_columns_take_integers_in_range() {
    let (cells, rejects) = convert(
        "int32",
        &[
            "7",
            "-2147483648",
            "2147483647",
            "null",
            "2147483648",
            "1.0",
            r#""7""#,
            "true",
        ],
    );
    assert_eq!(
        cells,
        strings(&["0:7", "1:-2147483648", "2:2147483647", "3:∅"])
    );
    assert_eq!(
        rejects,
        [
            "4:`after.v` is not an int32: 2147483648",
            "5:`after.v` is not an int32: 1.0",
            r#"6:`after.v` is not an int32: "7""#,
            "7:`after.v` is not an int32: true",
        ]
    );
    let (cells, rejects) = convert(
        "int64",
        &[
            "9223372036854775807",
            "-1",
            "null",
            "9223372036854775808",
            "1e3",
        ],
    );
    assert_eq!(cells, strings(&["0:9223372036854775807", "1:-1", "2:∅"]));
    assert_eq!(
        rejects,
        [
            "3:`after.v` is not an int64: 9223372036854775808",
            "4:`after.v` is not an int64: 1e3",
        ]
    );
}

#[test]
fn float_columns_take_numbers_and_numeric_strings() {
    let (cells, rejects) = convert(
        "float64",
        &[
            "1.5",
            "-2",
            "1e3",
            r#""3.25""#,
            "null",
            r#""NaN""#,
            "1e400",
            r#""abc""#,
            "false",
        ],
    );
    assert_eq!(
        cells,
        strings(&["0:1.5", "1:-2", "2:1000", "3:3.25", "4:∅", "5:NaN"])
    );
    assert_eq!(
        rejects,
        [
            "6:`after.v` is not a float64: 1e400 (out of range)",
            r#"7:`after.v` is not a float64: "abc""#,
            "8:`after.v` is not a float64: false",
        ]
    );
}

#[test]
fn bool_columns_take_booleans_and_zero_or_one() {
    let (cells, rejects) = convert(
        "bool",
        &["true", "false", "1", "0", "null", "2", r#""true""#],
    );
    assert_eq!(
        cells,
        strings(&["0:true", "1:false", "2:true", "3:false", "4:∅"])
    );
    assert_eq!(
        rejects,
        [
            "5:`after.v` is not a bool: 2",
            r#"6:`after.v` is not a bool: "true""#
        ]
    );
}

#[test]
fn date_columns_take_days_and_iso_dates() {
    let (cells, rejects) = convert(
        "date",
        &[
            "20778",
            r#""2026-11-21""#,
            "-1",
            "null",
            r#""2026-02-30""#,
            "1.5",
            "2147483648",
            r#""2026-11-21T00:00:00Z""#,
        ],
    );
    assert_eq!(cells, strings(&["0:20778", "1:20778", "2:-1", "3:∅"]));
    assert_eq!(
        rejects,
        [
            r#"4:`after.v` is not a date: "2026-02-30" (day 30 is out of range)"#,
            "5:`after.v` is not a date: 1.5",
            "6:`after.v` is not a date: 2147483648 (out of range)",
            r#"7:`after.v` is not a date: "2026-11-21T00:00:00Z" (unexpected `T00:00:00Z` after the date)"#,
        ]
    );
    // A MySQL DATETIME (milliseconds) declared as a date is truncated to its day.
    let (cells, _) = convert_in(
        "date",
        &["1795255201123", "-1"],
        Some(r#""type":"int64","name":"io.debezium.time.Timestamp""#),
    );
    assert_eq!(cells, strings(&["0:20778", "1:-1"]));
}

#[test]
fn timestamp_strings_need_an_offset() {
    let (cells, rejects) = convert(
        "timestamp",
        &[
            r#""2026-11-21T10:00:01.123456Z""#,
            r#""2026-11-21T12:00:01.123456+02:00""#,
            "null",
            r#""2026-11-21T10:00:01""#,
            "true",
        ],
    );
    assert_eq!(
        cells,
        strings(&["0:1795255201123456", "1:1795255201123456", "2:∅"])
    );
    assert_eq!(
        rejects,
        [
            r#"3:`after.v` is not a timestamp: "2026-11-21T10:00:01" (expected `Z` or an offset at byte 19)"#,
            "4:`after.v` is not a timestamp: true",
        ]
    );
}

#[test]
fn timestamp_integers_are_microseconds_unless_the_schema_names_a_unit() {
    // 2026-11-21T10:00:01.123456Z in each unit.
    let (cells, rejects) = convert("timestamp", &["1795255201123456", "-1"]);
    assert_eq!(cells, strings(&["0:1795255201123456", "1:-1"]));
    assert!(rejects.is_empty());
    let units = [
        (
            "io.debezium.time.Timestamp",
            "1795255201123",
            "1795255201123000",
        ),
        (
            "org.apache.kafka.connect.data.Timestamp",
            "1795255201123",
            "1795255201123000",
        ),
        (
            "io.debezium.time.MicroTimestamp",
            "1795255201123456",
            "1795255201123456",
        ),
        (
            "io.debezium.time.NanoTimestamp",
            "1795255201123456789",
            "1795255201123456",
        ),
        (
            "io.debezium.time.ZonedTimestamp",
            r#""2026-11-21T10:00:01.123456Z""#,
            "1795255201123456",
        ),
    ];
    for (name, value, micros) in units {
        let schema = format!(r#""type":"int64","optional":true,"name":"{name}","version":1"#);
        let (cells, rejects) = convert_in("timestamp", &[value], Some(&schema));
        assert_eq!(cells, [format!("0:{micros}")], "{name}");
        assert!(rejects.is_empty(), "{name}: {rejects:?}");
    }
    // Nanoseconds before the epoch round down; milliseconds that overflow are refused.
    let nanos = r#""type":"int64","name":"io.debezium.time.NanoTimestamp""#;
    assert_eq!(convert_in("timestamp", &["-1"], Some(nanos)).0, ["0:-1"]);
    let millis = r#""type":"int64","name":"io.debezium.time.Timestamp""#;
    assert_eq!(
        convert_in("timestamp", &["9223372036854775807"], Some(millis)).1,
        ["0:`after.v` is not a timestamp: 9223372036854775807 (out of range)"]
    );
}

#[test]
fn decimal_columns_are_exact() {
    let (cells, rejects) = convert(
        "decimal(10,2)",
        &[
            r#""12.50""#,
            "12.5",
            "-0.01",
            r#"{"scale":2,"value":"AdQ="}"#,
            "null",
            r#"{"scale":3,"value":"AdQ="}"#,
            r#""1.005""#,
            "123456789",
            r#""AdQ=""#,
            "true",
        ],
    );
    assert_eq!(
        cells,
        strings(&["0:12.50", "1:12.50", "2:-0.01", "3:4.68", "4:∅"])
    );
    assert_eq!(
        rejects,
        [
            r#"5:`after.v` is not a decimal(10,2): {"scale":3,"value":"AdQ="} (more than 2 digits after the point)"#,
            r#"6:`after.v` is not a decimal(10,2): "1.005" (more than 2 digits after the point)"#,
            "7:`after.v` is not a decimal(10,2): 123456789 (more than 8 digits before the point)",
            r#"8:`after.v` is not a decimal(10,2): "AdQ=" (not a decimal number; with decimal.handling.mode=precise Debezium sends base64 whose scale only the schema envelope carries: use decimal.handling.mode=string or double, or the envelope)"#,
            "9:`after.v` is not a decimal(10,2): true (not a decimal number)",
        ]
    );
    // `precise` bytes, with the scale from the envelope: 0x01D4 = 468 at scale 2.
    let schema = r#""type":"bytes","name":"org.apache.kafka.connect.data.Decimal","version":1,"parameters":{"scale":"2","connect.decimal.precision":"10"}"#;
    let (cells, rejects) = convert_in(
        "decimal(10,2)",
        &[r#""AdQ=""#, r#""/iw=""#, "null"],
        Some(schema),
    );
    assert_eq!(cells, strings(&["0:4.68", "1:-4.68", "2:∅"]));
    assert!(rejects.is_empty(), "{rejects:?}");
}

#[test]
fn json_columns_keep_json_text_and_strings_as_they_are() {
    let (cells, rejects) = convert(
        "json",
        &[
            r#"{"a":[1,2]}"#,
            r#""{\"a\":1}""#,
            "5",
            "null",
            "[true]",
            r#""plain""#,
        ],
    );
    assert_eq!(
        cells,
        strings(&[
            r#"0:{"a":[1,2]}"#,
            r#"1:{"a":1}"#,
            "2:5",
            "3:∅",
            "4:[true]",
            "5:plain"
        ])
    );
    assert!(rejects.is_empty());
}

#[test]
fn fields_missing_from_the_image_are_null_and_unknown_fields_are_ignored() {
    let config = [
        ("key", "id"),
        ("columns", "id:int64, name:string, score:float64"),
    ];
    let event = pg_event(
        "c",
        "null",
        r#"{"extra":{"nested":[1,{"x":2}]},"id":4,"unknown":"x"}"#,
        9,
    );
    let output = run(&config, &inserts(&[event]));
    assert_eq!(
        table(&output.batch),
        ["4|∅|∅|c|1795428000000000|0000000000000009|false"]
    );
}
