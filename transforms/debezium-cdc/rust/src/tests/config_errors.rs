//! Configurations the stage refuses at init, each naming the key.

use super::*;

fn init_error(config: &[(&str, &str)]) -> Error {
    match Harness::<DebeziumCdc>::new(config.iter().copied()) {
        Ok(_) => panic!("init must fail for {config:?}"),
        Err(error) => error,
    }
}

#[test]
fn bad_configurations_are_refused_with_the_reason() {
    let columns = ("columns", "id:int64, name:string");
    let types = "string, int32, int64, float64, bool, date, timestamp, decimal(p,s) or json";
    let cases: Vec<(Vec<(&str, &str)>, String)> = vec![
        (vec![("key", "id")], "missing key `columns`".into()),
        (vec![columns], "missing key `key`".into()),
        (
            vec![("key", "id"), columns, ("tabel", "public.voters")],
            "unknown key `tabel` (known: key, columns, table)".into(),
        ),
        (vec![("key", "email"), columns], "key column `email` is not in `columns`".into()),
        (vec![("key", "id,"), columns], "key `key` has an empty column name".into()),
        (vec![("key", "id, id"), columns], "key `key` names column `id` twice".into()),
        (
            vec![("key", "id"), ("columns", "id:int64, age:integer")],
            format!("key `columns`: column `age` has unknown type `integer` (expected {types})"),
        ),
        (
            vec![("key", "id"), ("columns", "id:int64, price:decimal(40,2)")],
            format!("key `columns`: column `price` has unknown type `decimal(40,2)` (expected {types})"),
        ),
        (
            vec![("key", "id"), ("columns", "id:int64, name")],
            "key `columns`: `name` is not `name:type`".into(),
        ),
        (
            vec![("key", "id"), ("columns", "id:int64,,name:string")],
            "key `columns`: `` is not `name:type`".into(),
        ),
        (
            vec![("key", "id"), ("columns", ":int64")],
            "key `columns`: `:int64` has no column name".into(),
        ),
        (
            vec![("key", "id"), ("columns", "id:int64, _seq:string")],
            "key `columns`: column `_seq` is reserved for the metadata the stage adds (_op, _source_ts, _seq, _deleted)"
                .into(),
        ),
        (
            vec![("key", "id"), ("columns", "id:int64, id:string")],
            "key `columns` names column `id` twice".into(),
        ),
        (
            vec![("key", "id"), columns, ("table", "voters")],
            "key `table` = `voters` is not `schema.table` (PostgreSQL) or `database.table` (MySQL)".into(),
        ),
        (
            vec![("key", "id"), columns, ("table", ".voters")],
            "key `table` = `.voters` is not `schema.table` (PostgreSQL) or `database.table` (MySQL)".into(),
        ),
    ];
    for (config, message) in cases {
        assert_eq!(
            init_error(&config),
            Error::InvalidConfig(message),
            "{config:?}"
        );
    }
}

#[test]
fn a_composite_key_and_every_type_are_accepted() {
    let config = [
        ("key", " tenant , id "),
        (
            "columns",
            "tenant:string, id:int64, n:int32, x:float64, ok:bool, day:date, at:timestamp, price:decimal(12, 3), doc:json",
        ),
        ("table", "public.accounts"),
    ];
    let output = run(&config, &inserts::<&str>(&[]));
    let schema = output.batch.schema();
    let types: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| f.data_type().to_string())
        .collect();
    assert_eq!(
        types,
        [
            "Utf8",
            "Int64",
            "Int32",
            "Float64",
            "Boolean",
            "Date32",
            r#"Timestamp(µs, "UTC")"#,
            "Decimal128(12, 3)",
            "Utf8",
            "Utf8",
            r#"Timestamp(µs, "UTC")"#,
            "Utf8",
            "Boolean",
        ]
    );
}
