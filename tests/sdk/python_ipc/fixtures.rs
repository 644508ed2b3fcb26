//! The fixtures arrow-rs writes for Python to read: each typed column on
//! its own, the wide table of all of them (whole, sliced, empty), bronze-like
//! tables in one or several batches, large strings, metadata at every
//! level, a table without nullable fields, and one without columns.

use std::ops::Range;
use std::sync::Arc;

use deltalake::arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Float64Array, Int32Array, Int64Array,
    LargeStringArray, ListArray, RecordBatch, RecordBatchOptions, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use deltalake::arrow::buffer::{NullBuffer, OffsetBuffer};
use deltalake::arrow::compute::concat_batches;
use deltalake::arrow::datatypes::{DataType, Field, FieldRef, Fields, Schema, SchemaRef, TimeUnit};

use super::columns::typed_columns;

/// A stream arrow-rs writes for Python to read.
pub(super) struct Fixture {
    /// The stem of its files (`<name>.arrows`, `<name>.json`, ...).
    pub(super) name: String,
    /// The schema of its stream.
    pub(super) schema: SchemaRef,
    /// Its record batches, one IPC message each.
    pub(super) batches: Vec<RecordBatch>,
}

impl Fixture {
    /// A fixture of `batches`, with the first batch's schema.
    fn new(name: &str, batches: Vec<RecordBatch>) -> Self {
        let schema = batches.first().expect("a fixture has a batch").schema();
        Fixture {
            name: name.to_string(),
            schema,
            batches,
        }
    }

    /// All the rows, as the one batch `ingot.ipc.decode` returns.
    pub(super) fn concatenated(&self) -> RecordBatch {
        concat_batches(&self.schema, &self.batches).expect("concatenate the fixture's batches")
    }
}

/// Every fixture: each typed column alone, then the whole tables.
pub(super) fn fixtures() -> Vec<Fixture> {
    let mut fixtures = Vec::new();
    let columns = typed_columns();
    for (field, array) in &columns {
        fixtures.push(Fixture::new(
            &format!("type_{}", field.name()),
            vec![batch(vec![(field.clone(), array.clone())], &[])],
        ));
    }
    let wide = batch(columns, &[("ingot.table", "wide")]);
    fixtures.push(Fixture::new(
        "wide_empty",
        vec![RecordBatch::new_empty(wide.schema())],
    ));
    fixtures.push(Fixture::new("wide_sliced", vec![wide.slice(1, 4)]));
    fixtures.push(Fixture::new("wide", vec![wide]));
    fixtures.push(Fixture::new("bronze", vec![bronze(0, 1000)]));
    fixtures.push(Fixture::new(
        "bronze_several_batches",
        vec![
            bronze(0, 3),
            bronze(3, 3),
            bronze(3, 700),
            bronze(700, 1000),
        ],
    ));
    fixtures.push(Fixture::new("bronze_empty", vec![bronze(0, 0)]));
    fixtures.push(Fixture::new("large_strings", vec![large_strings()]));
    fixtures.push(Fixture::new("metadata", vec![metadata()]));
    fixtures.push(Fixture::new("not_nullable", vec![not_nullable()]));
    let no_columns = RecordBatch::try_new_with_options(
        Arc::new(Schema::empty()),
        vec![],
        &RecordBatchOptions::new().with_row_count(Some(3)),
    )
    .expect("a batch without columns");
    fixtures.push(Fixture::new("no_columns", vec![no_columns]));
    fixtures
}

/// A list's (or map's) `item` field.
pub(super) fn item(data_type: DataType, nullable: bool) -> FieldRef {
    Arc::new(Field::new("item", data_type, nullable))
}

/// A column `name` of `array`, its field nullable or not.
pub(super) fn column(name: &str, array: impl Array + 'static, nullable: bool) -> (Field, ArrayRef) {
    let array: ArrayRef = Arc::new(array);
    (Field::new(name, array.data_type().clone(), nullable), array)
}

/// A batch of `columns`, with `metadata` on its schema.
fn batch(columns: Vec<(Field, ArrayRef)>, metadata: &[(&str, &str)]) -> RecordBatch {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let metadata = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    RecordBatch::try_new(schema, arrays).expect("a valid fixture batch")
}

/// The schema of a bronze table read through the Change Data Feed.
fn bronze_schema() -> SchemaRef {
    let utc = || DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("timestamp", utc(), true),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("headers", DataType::List(item(header_type(), true)), true),
        Field::new("_change_type", DataType::Utf8, true),
        Field::new("_commit_version", DataType::Int64, true),
        Field::new("_commit_timestamp", utc(), true),
    ]))
}

/// A Kafka header: its key and value.
fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ])
}

/// The struct of [`header_fields`].
fn header_type() -> DataType {
    DataType::Struct(header_fields())
}

/// Bronze rows `start..end`: the shape ingest writes (Kafka coordinates,
/// key, value, headers) plus the Change Data Feed columns.
fn bronze(start: usize, end: usize) -> RecordBatch {
    let rows = start..end;
    let headers = bronze_headers(rows.clone());
    let int64 = |f: fn(usize) -> i64| Int64Array::from(rows.clone().map(f).collect::<Vec<_>>());
    let columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.clone()
                .map(|i| if i % 5 == 0 { "événements" } else { "logs" }),
        )),
        Arc::new(Int32Array::from_iter_values(
            rows.clone().map(|i| (i % 3) as i32),
        )),
        Arc::new(int64(|i| 1_000_000 + i as i64)),
        Arc::new(
            TimestampMicrosecondArray::from(
                rows.clone()
                    .map(|i| (i % 11 != 0).then_some(1_700_000_000_000_000 + i as i64 * 1000))
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
        Arc::new(BinaryArray::from_iter(rows.clone().map(|i| {
            (i % 4 != 0).then(|| format!("k{}", i % 17).into_bytes())
        }))),
        Arc::new(BinaryArray::from_iter_values(rows.clone().map(|i| {
            format!("{{\"n\":{i},\"msg\":\"line {i} of the log\"}}")
        }))),
        Arc::new(headers),
        Arc::new(StringArray::from_iter_values(
            rows.clone().map(|_| "insert"),
        )),
        Arc::new(int64(|i| (i / 100) as i64)),
        Arc::new(
            TimestampMicrosecondArray::from(
                rows.clone()
                    .map(|i| 1_700_000_100_000_000 + (i / 100) as i64)
                    .collect::<Vec<_>>(),
            )
            .with_timezone("UTC"),
        ),
    ];
    RecordBatch::try_new(bronze_schema(), columns).expect("a valid bronze batch")
}

/// The headers of bronze rows `rows`: none on every 7th row (a null
/// list), else `i % 3` of them, the second one's value null.
fn bronze_headers(rows: Range<usize>) -> ListArray {
    let mut header_keys = Vec::new();
    let mut header_values: Vec<Option<Vec<u8>>> = Vec::new();
    let mut offsets = vec![0i32];
    let mut header_valid = Vec::new();
    for i in rows {
        let valid = i % 7 != 0;
        if valid {
            for j in 0..i % 3 {
                header_keys.push(format!("h{j}"));
                header_values.push((j != 1).then(|| vec![(i % 256) as u8, j as u8]));
            }
        }
        header_valid.push(valid);
        offsets.push(i32::try_from(header_keys.len()).expect("few headers"));
    }
    ListArray::new(
        item(header_type(), true),
        OffsetBuffer::new(offsets.into()),
        Arc::new(StructArray::new(
            header_fields(),
            vec![
                Arc::new(StringArray::from(header_keys)),
                Arc::new(BinaryArray::from_iter(header_values)),
            ],
            None,
        )),
        Some(NullBuffer::from(header_valid)),
    )
}

/// A 1 MiB string and 10,000 short ones (some non-ASCII, some null), as
/// utf8, large_utf8 and binary.
fn large_strings() -> RecordBatch {
    // 1 MiB: 3/4 of it in 3-byte characters, the rest ASCII.
    let big = "€".repeat(1 << 18) + &"a".repeat(1 << 18);
    let mut strings = vec![Some(big)];
    strings.extend((0..10_000).map(|i| {
        (i % 97 != 0).then(|| {
            if i % 3 == 0 {
                format!("välue-{i}")
            } else {
                format!("value-{i}")
            }
        })
    }));
    let refs: Vec<Option<&str>> = strings.iter().map(|s| s.as_deref()).collect();
    batch(
        vec![
            column("s", StringArray::from(refs.clone()), true),
            column("ls", LargeStringArray::from(refs.clone()), true),
            column(
                "b",
                BinaryArray::from_iter(refs.iter().map(|s| s.map(str::as_bytes))),
                true,
            ),
        ],
        &[],
    )
}

/// Metadata on the schema, on a top-level field and on nested fields.
fn metadata() -> RecordBatch {
    let meta = |pairs: &[(&str, &str)]| {
        pairs
            .iter()
            .map(|(k, v)| (k.to_string(), v.to_string()))
            .collect()
    };
    let tag =
        Arc::new(Field::new("item", DataType::Utf8, true).with_metadata(meta(&[("ünï", "cödé")])));
    let inner = Field::new("a", DataType::Int32, false).with_metadata(meta(&[("x", "y")]));
    let fields = vec![
        Field::new("id", DataType::Int64, false)
            .with_metadata(meta(&[("comment", "primary key"), ("empty", "")])),
        Field::new("tags", DataType::List(tag.clone()), true),
        Field::new(
            "s",
            DataType::Struct(Fields::from(vec![inner.clone()])),
            true,
        )
        .with_metadata(meta(&[("s", "t")])),
    ];
    let schema = Arc::new(Schema::new_with_metadata(
        fields,
        meta(&[("ingot.table", "metadata"), ("empty", "")]),
    ));
    let tags = ListArray::new(
        tag,
        OffsetBuffer::new(vec![0, 1, 1, 1].into()),
        Arc::new(StringArray::from(vec!["a"])),
        Some(NullBuffer::from(vec![true, false, true])),
    );
    let s = StructArray::try_new(
        Fields::from(vec![inner]),
        vec![Arc::new(Int32Array::from(vec![1, 0, -1]))],
        Some(NullBuffer::from(vec![true, false, true])),
    )
    .expect("a valid struct");
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(tags),
            Arc::new(s),
        ],
    )
    .expect("a valid metadata batch")
}

/// Every column and list level not nullable.
fn not_nullable() -> RecordBatch {
    let point = StructArray::new(
        Fields::from(vec![
            Field::new("x", DataType::Float64, false),
            Field::new("y", DataType::Float64, false),
        ]),
        vec![
            Arc::new(Float64Array::from(vec![1.0, 2.0])),
            Arc::new(Float64Array::from(vec![-1.0, 0.5])),
        ],
        None,
    );
    batch(
        vec![
            column("id", Int64Array::from(vec![1, 2]), false),
            column("name", StringArray::from(vec!["a", "b"]), false),
            column(
                "tags",
                ListArray::new(
                    item(DataType::Utf8, false),
                    OffsetBuffer::new(vec![0, 2, 2].into()),
                    Arc::new(StringArray::from(vec!["x", "y"])),
                    None,
                ),
                false,
            ),
            column("point", point, false),
            column("flag", BooleanArray::from(vec![true, false]), false),
        ],
        &[],
    )
}
