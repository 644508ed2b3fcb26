//! Message shapes and the fields every row shares: times, host, decorations,
//! row ids, the empty-snapshot marker, change types.

use super::*;

/// A snapshot of `pack_users` with these rows.
fn snapshot(rows: &str) -> String {
    format!(
        r#"{{"name":"pack_users","hostIdentifier":"h1","unixTime":1795428900,"epoch":7,"counter":4,"action":"snapshot","snapshot":{rows}}}"#
    )
}

#[test]
fn an_empty_snapshot_yields_one_marker_row() {
    let config = [("query.pack_users", "uid:int64")];
    let batch = accept(
        &config,
        &[&snapshot("[]").replace(r#""h1","#, r#""h1","decorations":{"dc":"eu"},"#)],
    );
    assert_eq!(batch.num_rows(), 1);
    assert_eq!(texts(&batch, "action"), ["snapshot"]);
    assert_eq!(texts(&batch, "host"), ["h1"]);
    assert_eq!(micros(&batch, "time"), [at(1_795_428_900)]);
    assert_eq!(ints(&batch, "epoch"), [Some(7)]);
    assert_eq!(ints(&batch, "counter"), [Some(4)]);
    assert_eq!(ints(&batch, "snapshot_rows"), [Some(0)]);
    assert_eq!(ints(&batch, "row_id"), [Some(0)]);
    assert_eq!(ints(&batch, "uid"), [None]);
    assert_eq!(maps(&batch, "columns"), [None]);
    assert_eq!(maps(&batch, "decorations"), [entries(&[("dc", "eu")])]);
}

#[test]
fn identical_rows_get_distinct_ids_and_replays_the_same_ids() {
    let message = snapshot(r#"[{"a":"1"},{"a":"2"},{"a":"1"},{"a":"1"}]"#);
    // The same Kafka record twice (a replay), in one batch and in two.
    let batch = accept(&[], &[&message, &message]);
    let ids = ints(&batch, "row_id");
    let once = [
        row_id(&[("a", "1")], 0),
        row_id(&[("a", "2")], 0),
        row_id(&[("a", "1")], 1),
        row_id(&[("a", "1")], 2),
    ]
    .map(Some);
    assert_eq!(ids[..4], once);
    assert_eq!(ids[4..], once);
    let distinct: std::collections::BTreeSet<_> = once.iter().collect();
    assert_eq!(distinct.len(), 4);
    assert_eq!(ints(&accept(&[], &[&message]), "row_id"), once);
}

#[test]
fn occurrences_count_per_action_in_a_batch_message() {
    let message = r#"{"name":"q","hostIdentifier":"h","unixTime":1,"diffResults":{"added":[{"a":"1"},{"a":"1"}],"removed":[{"a":"1"}]}}"#;
    let batch = accept(&[], &[message]);
    assert_eq!(texts(&batch, "action"), ["removed", "added", "added"]);
    let one = [("a", "1")];
    assert_eq!(
        ints(&batch, "row_id"),
        [row_id(&one, 0), row_id(&one, 0), row_id(&one, 1)].map(Some)
    );
}

#[test]
fn a_batch_message_may_lack_a_side_or_be_empty() {
    let base = r#"{"name":"q","hostIdentifier":"h","unixTime":1,"diffResults":"#;
    let batch = accept(
        &[],
        &[
            &format!(r#"{base}{{"added":[{{"a":"1"}}]}}}}"#),
            &format!(r#"{base}{{"removed":[{{"a":"2"}}],"added":null}}}}"#),
            &format!(r#"{base}{{"removed":[],"added":[]}}}}"#),
        ],
    );
    assert_eq!(texts(&batch, "action"), ["added", "removed"]);
    assert_eq!(ints(&batch, "offset"), [Some(100), Some(101)]);
}

#[test]
fn numbers_and_strings_are_accepted_for_times_epoch_and_counter() {
    let line = |fields: &str| {
        format!(
            r#"{{"name":"q","hostIdentifier":"h",{fields},"columns":{{"a":"1"}},"action":"added"}}"#
        )
    };
    let batch = accept(
        &[],
        &[
            &line(r#""unixTime":1795428000,"epoch":3,"counter":9"#),
            &line(r#""unixTime":"1795428000","epoch":"3","counter":"9""#),
            // Missing (or null) epoch and counter are 0.
            &line(r#""unixTime":"1795428000","epoch":null"#),
            &line(r#""unixTime":1795428000.25"#),
        ],
    );
    assert_eq!(
        micros(&batch, "time"),
        [
            at(1_795_428_000),
            at(1_795_428_000),
            at(1_795_428_000),
            Some(1_795_428_000_250_000)
        ]
    );
    assert_eq!(ints(&batch, "epoch"), [Some(3), Some(3), Some(0), Some(0)]);
    assert_eq!(
        ints(&batch, "counter"),
        [Some(9), Some(9), Some(0), Some(0)]
    );
}

#[test]
fn host_is_host_identifier_else_hostname() {
    let line = |hosts: &str| {
        format!(r#"{{"name":"q",{hosts}"unixTime":1,"columns":{{}},"action":"added"}}"#)
    };
    let batch = accept(
        &[],
        &[
            &line(r#""hostIdentifier":"id","hostname":"name","#),
            &line(r#""hostname":"name","#),
            &line(r#""hostIdentifier":null,"hostname":"name","#),
        ],
    );
    assert_eq!(texts(&batch, "host"), ["id", "name", "name"]);
}

#[test]
fn decorations_and_columns_render_values_as_strings() {
    let batch = accept(
        &[],
        &[
            r#"{"name":"q","hostIdentifier":"h","unixTime":1,"decorations":{"n":5,"f":1.5,"b":true,"z":null,"s":"x"},"columns":{"n":5,"f":0.5,"b":false,"z":null},"action":"added"}"#,
            r#"{"name":"q","hostIdentifier":"h","unixTime":1,"decorations":{},"columns":{},"action":"removed"}"#,
        ],
    );
    let pair = |k: &str, v: Option<&str>| (k.to_owned(), v.map(str::to_owned));
    assert_eq!(
        maps(&batch, "decorations"),
        [
            Some(vec![
                pair("b", Some("true")),
                pair("f", Some("1.5")),
                pair("n", Some("5")),
                pair("s", Some("x")),
                pair("z", None),
            ]),
            None
        ]
    );
    assert_eq!(
        maps(&batch, "columns"),
        [
            Some(vec![
                pair("b", Some("false")),
                pair("f", Some("0.5")),
                pair("n", Some("5")),
                pair("z", None),
            ]),
            None
        ]
    );
}

#[test]
fn only_inserts_are_flattened_and_rejects_index_the_input() {
    let good =
        r#"{"name":"q","hostIdentifier":"h","unixTime":1,"columns":{"a":"1"},"action":"added"}"#;
    let output = run(
        &[],
        &bronze(
            TOPIC,
            &[
                (ChangeType::Delete, Some(b"garbage")),
                (ChangeType::Insert, Some(good.as_bytes())),
                (ChangeType::UpdatePreimage, Some(good.as_bytes())),
                (ChangeType::UpdatePostimage, Some(good.as_bytes())),
                (ChangeType::Insert, Some(b"garbage")),
            ],
        ),
    );
    assert_eq!(ints(&output.batch, "offset"), [Some(101)]);
    assert_eq!(
        output.rejected.iter().map(|r| r.row).collect::<Vec<_>>(),
        [4]
    );
}

#[test]
fn an_empty_batch_gives_an_empty_silver_batch() {
    let output = run(&[("query.q", "a:int64")], &bronze(TOPIC, &[]));
    assert_eq!(output.batch.num_rows(), 0);
    assert!(output.rejected.is_empty());
}

#[test]
fn a_string_value_column_is_accepted() {
    let line =
        r#"{"name":"q","hostIdentifier":"h","unixTime":1,"columns":{"a":"1"},"action":"added"}"#;
    let batch = bronze_utf8(TOPIC, &[(ChangeType::Insert, Some(line.as_bytes()))]);
    assert_eq!(run(&[], &batch).batch.num_rows(), 1);
}

#[test]
fn a_batch_without_kafka_columns_is_invalid_input() {
    let values = Arc::new(BinaryArray::from(vec![Some(&b"{}"[..])])) as ArrayRef;
    let batch = with_cdf(
        &RecordBatch::try_from_iter([("value", values)]).expect("valid batch"),
        &[ChangeType::Insert],
    );
    assert_eq!(
        harness(&[]).process(&batch).map(|_| ()),
        Err(Error::InvalidInput("missing column `topic`".into()))
    );
}
