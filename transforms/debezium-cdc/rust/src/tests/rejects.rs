//! Every reason to reject an event, word for word.

use super::*;

/// A PostgreSQL `source` block at LSN 7.
const SOURCE: &str =
    r#"{"ts_ms":1795428000000,"db":"registry","schema":"public","table":"voters","lsn":7}"#;

fn event(op: &str, fields: &str) -> String {
    format!(r#"{{"op":{op},"source":{SOURCE}{fields}}}"#)
}

fn with_source(source: &str) -> String {
    format!(r#"{{"op":"c","after":{{"id":1}},"source":{source}}}"#)
}

#[test]
fn values_that_are_not_json_objects() {
    let cases = [
        (
            "not json",
            "value is not valid JSON: expected ident at line 1 column 2",
        ),
        (
            "{\"op\":",
            "value is not valid JSON: EOF while parsing a value at line 1 column 6",
        ),
        (
            r#"{"op":"c"} trailing"#,
            "value is not valid JSON: trailing characters at line 1 column 12",
        ),
        ("[1,2]", "value is not a JSON object: [1,2]"),
        ("42", "value is not a JSON object: 42"),
        ("\"text\"", "value is not a JSON object: \"text\""),
        (
            r#"{"schema":{},"payload":[1]}"#,
            "`payload` is not a JSON object: [1]",
        ),
        (
            r#"{"op":"c","op":"u"}"#,
            "value is not a Debezium event: duplicate field `op` at line 1 column 14",
        ),
    ];
    let (values, expected): (Vec<&str>, Vec<&str>) = cases.into_iter().unzip();
    assert_eq!(reasons(&VOTERS, &values), expected);
}

#[test]
fn a_value_that_is_not_utf8() {
    let output = run(
        &VOTERS,
        &bronze(TOPIC, &[(ChangeType::Insert, Some(&[b'{', 0xff, b'}']))]),
    );
    assert_eq!(
        output.rejected,
        [Rejected {
            row: 0,
            reason: "value is not UTF-8: invalid utf-8 sequence of 1 bytes from index 1".into()
        }]
    );
}

#[test]
fn missing_null_and_unknown_ops() {
    let cases = [
        (
            format!(r#"{{"after":{{"id":1}},"source":{SOURCE}}}"#),
            "missing `op`",
        ),
        (event("null", r#","after":{"id":1}"#), "`op` is null"),
        (
            event(r#""x""#, r#","after":{"id":1}"#),
            r#"unknown `op` "x" (expected "c", "r", "u", "d", "t" or "m")"#,
        ),
        (
            event("1", ""),
            r#"unknown `op` 1 (expected "c", "r", "u", "d", "t" or "m")"#,
        ),
        // A payload without a schema is not an envelope: the event has no op.
        (
            format!(
                r#"{{"payload":{}}}"#,
                event(r#""c""#, r#","after":{"id":1}"#)
            ),
            "missing `op`",
        ),
    ];
    let (values, expected): (Vec<String>, Vec<&str>) = cases.into_iter().unzip();
    assert_eq!(reasons(&VOTERS, &values), expected);
}

#[test]
fn row_images_that_are_not_objects() {
    let cases = [
        (
            event(r#""c""#, ""),
            r#"op "c" needs an object `after`, found none"#,
        ),
        (
            event(r#""c""#, r#","after":null"#),
            r#"op "c" needs an object `after`, found null"#,
        ),
        (
            event(r#""r""#, r#","after":[1]"#),
            r#"op "r" needs an object `after`, found [1]"#,
        ),
        (
            event(r#""u""#, r#","before":{"id":1},"after":"x""#),
            r#"op "u" needs an object `after`, found "x""#,
        ),
        (
            event(r#""d""#, r#","after":{"id":1}"#),
            r#"op "d" needs an object `before`, found none"#,
        ),
        (
            event(r#""d""#, r#","before":null,"after":null"#),
            r#"op "d" needs an object `before`, found null"#,
        ),
    ];
    let (values, expected): (Vec<String>, Vec<&str>) = cases.into_iter().unzip();
    assert_eq!(reasons(&VOTERS, &values), expected);
}

#[test]
fn key_columns_that_are_null_or_missing() {
    let config = [
        ("key", "tenant, id"),
        ("columns", "tenant:string, id:int64, name:string"),
    ];
    let cases = [
        (
            event(r#""c""#, r#","after":{"tenant":"t","name":"x"}"#),
            "key column `id` is missing from `after`",
        ),
        (
            event(r#""u""#, r#","after":{"tenant":null,"id":1}"#),
            "key column `tenant` is null in `after`",
        ),
        (
            event(r#""d""#, r#","before":{"tenant":"t","id":null}"#),
            "key column `id` is null in `before`",
        ),
    ];
    let (values, expected): (Vec<String>, Vec<&str>) = cases.into_iter().unzip();
    assert_eq!(reasons(&config, &values), expected);
    // A null non-key column is fine.
    let output = run(
        &config,
        &inserts(&[event(
            r#""c""#,
            r#","after":{"tenant":"t","id":1,"name":null}"#,
        )]),
    );
    assert_eq!(
        table(&output.batch),
        ["t|1|∅|c|1795428000000000|0000000000000007|false"]
    );
}

#[test]
fn sources_that_are_missing_or_have_no_position() {
    let cases = [
        (
            r#"{"op":"c","after":{"id":1}}"#.to_owned(),
            "missing `source`",
        ),
        (with_source("null"), "`source` is null"),
        (
            with_source(r#""postgres""#),
            r#"`source` is not a JSON object: "postgres""#,
        ),
        (
            with_source(r#"{"ts_ms":1,"table":"voters"}"#),
            "no source position: `source` has neither `lsn` (PostgreSQL) nor `file` and `pos` (MySQL)",
        ),
        (
            with_source(r#"{"file":"mysql-bin.000003"}"#),
            "no source position: `source` has neither `lsn` (PostgreSQL) nor `file` and `pos` (MySQL)",
        ),
        (
            with_source(r#"{"lsn":"24023119"}"#),
            r#"`source.lsn` is not a non-negative integer: "24023119""#,
        ),
        (
            with_source(r#"{"lsn":-1}"#),
            "`source.lsn` is not a non-negative integer: -1",
        ),
        (
            with_source(r#"{"file":"mysql-bin","pos":4}"#),
            r#"`source.file` "mysql-bin" does not end in a numeric binlog index"#,
        ),
        (
            with_source(r#"{"file":"mysql-bin.","pos":4}"#),
            r#"`source.file` "mysql-bin." does not end in a numeric binlog index"#,
        ),
        (
            with_source(r#"{"file":3,"pos":4}"#),
            "`source.file` is not a string: 3",
        ),
        (
            with_source(r#"{"file":"mysql-bin.000003","pos":4.5}"#),
            "`source.pos` is not a non-negative integer: 4.5",
        ),
        (
            with_source(r#"{"file":"mysql-bin.000003","pos":4,"row":-1}"#),
            "`source.row` is not a non-negative integer: -1",
        ),
        (
            with_source(r#"{"file":"mysql-bin.000003","pos":4,"row":4294967296}"#),
            "`source.row` is out of range: 4294967296",
        ),
        (
            with_source(r#"{"lsn":1,"ts_ms":"yesterday"}"#),
            r#"`source.ts_ms` is not an integer millisecond time: "yesterday""#,
        ),
    ];
    let (values, expected): (Vec<String>, Vec<&str>) = cases.into_iter().unzip();
    assert_eq!(reasons(&VOTERS, &values), expected);
}

#[test]
fn values_that_do_not_convert_name_the_column_and_the_value() {
    let long = "x".repeat(100);
    let cases = [
        (event(r#""c""#, r#","after":{"id":"one"}"#), r#"`after.id` is not an int64: "one""#.to_owned()),
        (
            event(r#""d""#, r#","before":{"id":1.5}"#),
            "`before.id` is not an int64: 1.5".to_owned(),
        ),
        (
            event(r#""c""#, r#","after":{"id":1,"city":{"name":"Leeds"}}"#),
            r#"`after.city` is not a string: {"name":"Leeds"} (declare the column `json` to keep nested values)"#
                .to_owned(),
        ),
        (
            event(r#""c""#, &format!(r#","after":{{"id":"{long}"}}"#)),
            format!("`after.id` is not an int64: \"{}…", "x".repeat(79)),
        ),
    ];
    let (values, expected): (Vec<String>, Vec<String>) = cases.into_iter().unzip();
    assert_eq!(reasons(&VOTERS, &values), expected);
}

#[test]
fn a_truncate_says_what_to_do() {
    let truncate = r#"{"op":"t","before":null,"after":null,"source":{"db":"inventory","table":"customers","file":"mysql-bin.000003","pos":4}}"#;
    let anonymous = r#"{"op":"t","source":{"lsn":4}}"#;
    assert_eq!(
        reasons(&VOTERS, &[truncate, anonymous]),
        [
            "truncate (op \"t\") of `inventory.customers` cannot be applied row by row to an upsert table: \
             empty the output table and re-snapshot the source table (a Debezium ad-hoc snapshot signal) to rebuild it",
            "truncate (op \"t\") cannot be applied row by row to an upsert table: \
             empty the output table and re-snapshot the source table (a Debezium ad-hoc snapshot signal) to rebuild it",
        ]
    );
}

#[test]
fn a_rejected_event_leaves_no_partial_row() {
    // The first column converts, the second does not: the row must not be
    // half-appended, so the next event's row lines up.
    let config = [("key", "id"), ("columns", "id:int64, n:int32")];
    let output = run(
        &config,
        &inserts(&[
            event(r#""c""#, r#","after":{"id":1,"n":"bad"}"#),
            event(r#""c""#, r#","after":{"id":2,"n":5}"#),
        ]),
    );
    assert_eq!(
        table(&output.batch),
        ["2|5|c|1795428000000000|0000000000000007|false"]
    );
    assert_eq!(
        output.rejected,
        [Rejected {
            row: 0,
            reason: r#"`after.n` is not an int32: "bad""#.into()
        }]
    );
}
