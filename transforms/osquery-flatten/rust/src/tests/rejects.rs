//! Every malformed message, each with its reason.

use super::*;

/// The reason each message is rejected; none may yield a row.
fn reasons(values: &[&str]) -> Vec<String> {
    let output = run(&[], &inserts(values));
    assert_eq!(output.batch.num_rows(), 0, "every message must be rejected");
    assert_eq!(
        output
            .rejected
            .iter()
            .map(|r| r.row as usize)
            .collect::<Vec<_>>(),
        (0..values.len()).collect::<Vec<_>>()
    );
    output.rejected.into_iter().map(|r| r.reason).collect()
}

/// A message with the required header and `rest` (which starts with a
/// comma).
fn with_header(rest: &str) -> String {
    format!(r#"{{"name":"q","hostIdentifier":"h","unixTime":1{rest}}}"#)
}

#[test]
fn values_that_are_not_json_objects() {
    let cases = [
        (
            "not json",
            "value is not valid JSON: expected ident at line 1 column 2",
        ),
        (
            "{\"name\":",
            "value is not valid JSON: EOF while parsing a value at line 1 column 8",
        ),
        ("[1,2]", "value is a JSON array, not an object"),
        ("42", "value is not a JSON object: 42"),
        ("\"text\"", "value is not a JSON object: \"text\""),
    ];
    let (values, expected): (Vec<&str>, Vec<&str>) = cases.into_iter().unzip();
    assert_eq!(reasons(&values), expected);
}

#[test]
fn a_null_value_is_rejected() {
    let output = run(&[], &bronze(TOPIC, &[(ChangeType::Insert, None)]));
    assert_eq!(
        output.rejected,
        [Rejected {
            row: 0,
            reason: "value is null".into()
        }]
    );
}

#[test]
fn missing_or_bad_header_fields() {
    let columns = r#""columns":{"a":"1"},"action":"added""#;
    let cases = [
        (
            format!(r#"{{"hostIdentifier":"h","unixTime":1,{columns}}}"#),
            "missing `name`",
        ),
        (
            format!(r#"{{"name":3,"hostIdentifier":"h","unixTime":1,{columns}}}"#),
            "`name` is not a string: 3",
        ),
        (
            format!(r#"{{"name":"q","unixTime":1,{columns}}}"#),
            "missing `hostIdentifier` (and no `hostname`)",
        ),
        (
            format!(r#"{{"name":"q","hostIdentifier":["h"],"unixTime":1,{columns}}}"#),
            r#"`hostIdentifier` is not a string: ["h"]"#,
        ),
        (
            format!(r#"{{"name":"q","hostname":1,"unixTime":1,{columns}}}"#),
            "`hostname` is not a string: 1",
        ),
        (
            format!(r#"{{"name":"q","hostIdentifier":"h",{columns}}}"#),
            "missing `unixTime`",
        ),
        (
            format!(r#"{{"name":"q","hostIdentifier":"h","unixTime":"soon",{columns}}}"#),
            r#"`unixTime` is not a unix time in seconds: "soon""#,
        ),
        (
            format!(r#"{{"name":"q","hostIdentifier":"h","unixTime":true,{columns}}}"#),
            "`unixTime` is not a unix time in seconds: true",
        ),
        (
            format!(r#"{{"name":"q","hostIdentifier":"h","unixTime":1e300,{columns}}}"#),
            "`unixTime` is not a unix time in seconds: 1e+300",
        ),
        (
            with_header(&format!(r#","epoch":"x",{columns}"#)),
            r#"`epoch` is not an integer: "x""#,
        ),
        (
            with_header(&format!(r#","counter":1.5,{columns}"#)),
            "`counter` is not an integer: 1.5",
        ),
        (
            with_header(&format!(r#","decorations":"ops",{columns}"#)),
            r#"`decorations` is not an object: "ops""#,
        ),
    ];
    let values: Vec<&str> = cases.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(reasons(&values), cases.map(|(_, reason)| reason));
}

#[test]
fn bad_actions_and_payloads() {
    let cases = [
        (
            with_header(r#","columns":{"a":"1"},"action":"changed""#),
            "unknown action `changed`",
        ),
        (
            with_header(r#","columns":{"a":"1"},"action":1"#),
            "`action` is not a string: 1",
        ),
        (
            with_header(""),
            "none of `columns`, `diffResults` or `snapshot`",
        ),
        (
            with_header(r#","columns":{"a":"1"}"#),
            "`columns` without an `action`",
        ),
        (
            with_header(r#","action":"removed""#),
            "action `removed` without `columns`",
        ),
        (
            with_header(r#","action":"snapshot""#),
            "action `snapshot` without a `snapshot` array",
        ),
        (
            with_header(r#","columns":["a"],"action":"added""#),
            r#"`columns` is not an object: ["a"]"#,
        ),
        (
            with_header(r#","diffResults":[]"#),
            "`diffResults` is not an object: []",
        ),
        (
            with_header(r#","diffResults":{"added":{"a":"1"},"removed":[]}"#),
            r#"`diffResults.added` is not an array: {"a":"1"}"#,
        ),
        (
            with_header(r#","diffResults":{"added":[],"removed":"none"}"#),
            r#"`diffResults.removed` is not an array: "none""#,
        ),
        (
            with_header(r#","action":"snapshot","snapshot":{"a":"1"}"#),
            r#"`snapshot` is not an array: {"a":"1"}"#,
        ),
    ];
    let values: Vec<&str> = cases.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(reasons(&values), cases.map(|(_, reason)| reason));
}

#[test]
fn bad_rows_and_values() {
    let cases = [
        (
            with_header(r#","action":"snapshot","snapshot":[{"a":"1"},"b"]"#),
            r#"`snapshot[1]` is not an object: "b""#,
        ),
        (
            with_header(r#","diffResults":{"added":[],"removed":[{"a":"1"},{"a":"2"},7]}"#),
            "`diffResults.removed[2]` is not an object: 7",
        ),
        (
            with_header(r#","diffResults":{"added":[null],"removed":[]}"#),
            "`diffResults.added[0]` is not an object: null",
        ),
        (
            with_header(r#","columns":{"a":{"b":"1"}},"action":"added""#),
            r#"query q: column a: {"b":"1"} is an object, not a string or number"#,
        ),
        (
            with_header(r#","action":"snapshot","snapshot":[{"a":"1","z":[1,2]}]"#),
            "query q: column z: [1,2] is an array, not a string or number",
        ),
    ];
    let values: Vec<&str> = cases.iter().map(|(v, _)| v.as_str()).collect();
    assert_eq!(reasons(&values), cases.map(|(_, reason)| reason));
}

#[test]
fn non_utf8_values_are_not_json() {
    let output = run(
        &[],
        &bronze(TOPIC, &[(ChangeType::Insert, Some(&[b'"', 0xff, b'"']))]),
    );
    assert_eq!(output.batch.num_rows(), 0);
    assert_eq!(
        output.rejected,
        [Rejected {
            row: 0,
            reason: "value is not valid JSON: invalid unicode code point at line 1 column 2".into()
        }]
    );
}
