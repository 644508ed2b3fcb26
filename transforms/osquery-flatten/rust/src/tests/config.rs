//! Typed columns: conversions, aliases, the map of what is left, and the
//! configurations `init` refuses.

use super::*;

/// An `added` event of query `q` with these columns.
fn event(query: &str, columns: &str) -> String {
    format!(
        r#"{{"name":"{query}","hostIdentifier":"h","unixTime":1,"columns":{columns},"action":"added"}}"#
    )
}

#[test]
fn every_type_converts_and_empty_strings_are_null() {
    let config = [(
        "query.q",
        "s:string, i:int64, f:float64, b:bool, t:timestamp",
    )];
    let batch = accept(
        &config,
        &[
            &event(
                "q",
                r#"{"s":"x","i":"-42","f":"2.5","b":"1","t":"1412123850"}"#,
            ),
            &event("q", r#"{"s":7,"i":42,"f":3,"b":"false","t":1412123850}"#),
            &event("q", r#"{"s":"","i":"","f":"","b":"","t":""}"#),
            &event("q", r#"{"b":true,"extra":"kept"}"#),
            &event("q", r#"{"s":null,"i":null,"b":0,"t":"1.5"}"#),
        ],
    );
    let s = |v: &str| Some(v.to_owned());
    assert_eq!(strings(&batch, "s"), [s("x"), s("7"), s(""), None, None]);
    assert_eq!(ints(&batch, "i"), [Some(-42), Some(42), None, None, None]);
    assert_eq!(
        floats(&batch, "f"),
        [Some(2.5), Some(3.0), None, None, None]
    );
    assert_eq!(
        bools(&batch, "b"),
        [Some(true), Some(false), None, Some(true), Some(false)]
    );
    assert_eq!(
        micros(&batch, "t"),
        [
            at(1_412_123_850),
            at(1_412_123_850),
            None,
            None,
            Some(1_500_000)
        ]
    );
    assert_eq!(
        maps(&batch, "columns"),
        [None, None, None, entries(&[("extra", "kept")]), None]
    );
}

#[test]
fn aliases_rename_and_one_source_may_feed_two_columns() {
    let config = [(
        "query.q",
        "pid:int64, pid:string:pid_text, time:timestamp:started",
    )];
    let batch = accept(
        &config,
        &[&event("q", r#"{"pid":"12","time":"60","rest":"x"}"#)],
    );
    assert_eq!(ints(&batch, "pid"), [Some(12)]);
    assert_eq!(strings(&batch, "pid_text"), [Some("12".to_owned())]);
    assert_eq!(micros(&batch, "started"), [at(60)]);
    assert_eq!(maps(&batch, "columns"), [entries(&[("rest", "x")])]);
}

#[test]
fn unconfigured_queries_keep_everything_in_the_map() {
    let config = [("query.q", "a:int64")];
    let batch = accept(
        &config,
        &[
            &event("q", r#"{"a":"1","b":"2"}"#),
            &event("other", r#"{"a":"1","b":"2"}"#),
        ],
    );
    assert_eq!(ints(&batch, "a"), [Some(1), None]);
    assert_eq!(
        maps(&batch, "columns"),
        [entries(&[("b", "2")]), entries(&[("a", "1"), ("b", "2")])]
    );
}

#[test]
fn queries_sharing_a_column_fill_it_in_config_order() {
    let config = [
        ("query.zeta", "x:string, shared:int64"),
        ("query.alpha", "shared:int64, y:bool"),
    ];
    let batch = accept(
        &config,
        &[
            &event("zeta", r#"{"x":"z","shared":"1"}"#),
            &event("alpha", r#"{"shared":"2","y":"true"}"#),
        ],
    );
    let schema = batch.schema();
    let typed: Vec<&str> = schema.fields()[9..12]
        .iter()
        .map(|f| f.name().as_str())
        .collect();
    assert_eq!(typed, ["shared", "y", "x"]);
    assert_eq!(ints(&batch, "shared"), [Some(1), Some(2)]);
    assert_eq!(bools(&batch, "y"), [None, Some(true)]);
    assert_eq!(strings(&batch, "x"), [Some("z".to_owned()), None]);
}

#[test]
fn values_that_do_not_convert_reject_the_message() {
    let config = [(
        "query.pack_host_processes",
        "pid:int64, load:float64, on:bool, seen:timestamp",
    )];
    let q = "pack_host_processes";
    let cases = [
        (
            event(q, r#"{"pid":"abc"}"#),
            r#"query pack_host_processes: column pid: "abc" is not an int64"#,
        ),
        (
            event(q, r#"{"pid":1.5}"#),
            "query pack_host_processes: column pid: 1.5 is not an int64",
        ),
        (
            event(q, r#"{"pid":true}"#),
            "query pack_host_processes: column pid: true is not an int64",
        ),
        (
            event(q, r#"{"load":"high"}"#),
            r#"query pack_host_processes: column load: "high" is not a float64"#,
        ),
        (
            event(q, r#"{"on":"yes"}"#),
            r#"query pack_host_processes: column on: "yes" is not a bool"#,
        ),
        (
            event(q, r#"{"seen":"Tuesday"}"#),
            r#"query pack_host_processes: column seen: "Tuesday" is not a timestamp (unix seconds)"#,
        ),
    ];
    let values: Vec<&str> = cases.iter().map(|(v, _)| v.as_str()).collect();
    let output = run(&config, &inserts(&values));
    assert_eq!(output.batch.num_rows(), 0);
    let reasons: Vec<&str> = output.rejected.iter().map(|r| r.reason.as_str()).collect();
    assert_eq!(reasons, cases.map(|(_, reason)| reason));
}

#[test]
fn one_bad_row_rejects_the_whole_snapshot_and_nothing_else() {
    let config = [("query.q", "n:int64")];
    let bad = r#"{"name":"q","hostIdentifier":"h","unixTime":1,"action":"snapshot","snapshot":[{"n":"1"},{"n":"x"}]}"#;
    let good = event("q", r#"{"n":"5"}"#);
    let output = run(&config, &inserts(&[&good, bad, &good]));
    assert_eq!(ints(&output.batch, "n"), [Some(5), Some(5)]);
    assert_eq!(ints(&output.batch, "offset"), [Some(100), Some(102)]);
    assert_eq!(
        output.rejected,
        [Rejected {
            row: 1,
            reason: r#"query q: column n: "x" is not an int64"#.into()
        }]
    );
}

/// The message `init` fails with.
fn init_error(config: &[(&str, &str)]) -> String {
    match Harness::<OsqueryFlatten>::new(config.iter().copied()) {
        Err(Error::InvalidConfig(message)) => message,
        Err(other) => panic!("expected an invalid config, got {other:?}"),
        Ok(_) => panic!("{config:?} must be refused"),
    }
}

#[test]
fn bad_configurations_are_refused_naming_the_key() {
    let cases: [(&[(&str, &str)], &str); 10] = [
        (
            &[("query.q", "pid:integer")],
            "key `query.q`: column `pid` has unknown type `integer` \
             (expected one of string, int64, float64, bool, timestamp)",
        ),
        (
            &[("query.q", "pid")],
            "key `query.q`: entry `pid` is not `column:type` or `column:type:alias`",
        ),
        (
            &[("query.q", "a:int64,,b:bool")],
            "key `query.q`: entry `` is not `column:type` or `column:type:alias`",
        ),
        (
            &[("query.q", "a:int64:x:y")],
            "key `query.q`: entry `a:int64:x:y` is not `column:type` or `column:type:alias`",
        ),
        (
            &[("query.q", "a: :x")],
            "key `query.q`: entry `a: :x` is not `column:type` or `column:type:alias`",
        ),
        (
            &[("query.q", "time:timestamp")],
            "key `query.q`: column `time` collides with the common field `time`; \
             give it an alias (`time:timestamp:q_time`)",
        ),
        (
            &[("query.q", "a:int64, b:string:a")],
            "key `query.q`: writes column `a` twice; give one an alias",
        ),
        (
            &[("query.a", "pid:int64"), ("query.b", "pid:string")],
            "key `query.b`: column `pid` is string here but int64 in `query.a`; \
             queries a and b must agree, or one must use an alias",
        ),
        (
            &[("queries.q", "a:int64")],
            "unknown key `queries.q` (keys are `query.<query name>`)",
        ),
        (&[("query.", "a:int64")], "key `query.`: names no query"),
    ];
    for (config, expected) in cases {
        assert_eq!(init_error(config), expected, "{config:?}");
    }
}

#[test]
fn every_common_field_needs_an_alias() {
    for field in crate::config::COMMON_FIELDS {
        let entry = format!("{field}:string");
        let message = init_error(&[("query.q", &entry)]);
        assert!(
            message.contains(&format!("collides with the common field `{field}`")),
            "{message}"
        );
    }
    let aliased = [("query.q", "time:timestamp:q_time, offset:int64:q_offset")];
    let batch = accept(&aliased, &[&event("q", r#"{"time":"2","offset":"3"}"#)]);
    assert_eq!(micros(&batch, "q_time"), [at(2)]);
    assert_eq!(ints(&batch, "q_offset"), [Some(3)]);
}

#[test]
fn an_unquoted_dotted_toml_key_gets_a_hint() {
    let message = init_error(&[("query", r#"{ q = "a:int64" }"#)]);
    assert_eq!(
        message,
        "unknown key `query` (keys are `query.<query name>`); quote dotted keys in \
         the pipeline file (`\"query.<name>\" = \"...\"`)"
    );
}
