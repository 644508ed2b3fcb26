//! The typed columns: one column of each type the SDK supports, [`ROWS`]
//! rows each, with nulls at various positions and depths. Each becomes a
//! fixture of its own, and all of them together the wide fixtures.

use std::sync::Arc;

use deltalake::arrow::array::{
    Array, ArrayRef, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array, Int8Array,
    Int16Array, Int32Array, Int64Array, Int64Builder, LargeBinaryArray, LargeListBuilder,
    LargeStringArray, ListArray, MapBuilder, NullArray, StringArray, StringBuilder, StructArray,
    TimestampMicrosecondArray, TimestampMillisecondArray, TimestampNanosecondArray,
    TimestampSecondArray, UInt8Array, UInt16Array, UInt32Array, UInt64Array,
};
use deltalake::arrow::buffer::{NullBuffer, OffsetBuffer};
use deltalake::arrow::datatypes::{DataType, Field, Fields, Float64Type, Int32Type};

use super::fixtures::{column, item};

/// Rows of each column of [`typed_columns`].
const ROWS: usize = 6;

/// One column of each supported type, [`ROWS`] rows each, with nulls at
/// various positions and depths.
pub(super) fn typed_columns() -> Vec<(Field, ArrayRef)> {
    [
        signed_columns(),
        unsigned_columns(),
        float_and_bool_columns(),
        string_and_binary_columns(),
        date_and_timestamp_columns(),
        zoned_timestamp_columns(),
        nested_columns(),
    ]
    .into_iter()
    .flatten()
    .collect()
}

/// `int8` to `int64`, the last not nullable.
fn signed_columns() -> Vec<(Field, ArrayRef)> {
    vec![
        column(
            "int8",
            Int8Array::from(vec![
                Some(i8::MIN),
                Some(-1),
                None,
                Some(0),
                Some(i8::MAX),
                Some(42),
            ]),
            true,
        ),
        column(
            "int16",
            Int16Array::from(vec![
                Some(i16::MIN),
                None,
                Some(-1),
                Some(0),
                Some(i16::MAX),
                None,
            ]),
            true,
        ),
        column(
            "int32",
            Int32Array::from(vec![
                None,
                Some(i32::MIN),
                Some(-1),
                Some(0),
                Some(i32::MAX),
                Some(7),
            ]),
            true,
        ),
        column(
            "int64",
            Int64Array::from(vec![i64::MIN, -1, 0, 1, i64::MAX, 1 << 53]),
            false,
        ),
    ]
}

/// `uint8` to `uint64`.
fn unsigned_columns() -> Vec<(Field, ArrayRef)> {
    vec![
        column(
            "uint8",
            UInt8Array::from(vec![Some(0), None, Some(u8::MAX), Some(1), Some(2), None]),
            true,
        ),
        column(
            "uint16",
            UInt16Array::from(vec![
                Some(0),
                Some(u16::MAX),
                None,
                Some(1),
                Some(2),
                Some(3),
            ]),
            true,
        ),
        column(
            "uint32",
            UInt32Array::from(vec![
                Some(u32::MAX),
                Some(0),
                Some(1),
                None,
                Some(2),
                Some(3),
            ]),
            true,
        ),
        column(
            "uint64",
            UInt64Array::from(vec![
                Some(u64::MAX),
                Some(0),
                Some(1 << 63),
                Some(1),
                None,
                Some(2),
            ]),
            true,
        ),
    ]
}

/// `float32` and `float64` (NaN, infinities, -0.0) and `bool`.
fn float_and_bool_columns() -> Vec<(Field, ArrayRef)> {
    vec![
        column(
            "float32",
            Float32Array::from(vec![
                Some(1.5),
                Some(f32::NAN),
                Some(f32::INFINITY),
                Some(f32::NEG_INFINITY),
                None,
                Some(0.1),
            ]),
            true,
        ),
        column(
            "float64",
            Float64Array::from(vec![
                Some(0.1),
                Some(f64::NAN),
                None,
                Some(f64::NEG_INFINITY),
                Some(-0.0),
                Some(1e300),
            ]),
            true,
        ),
        column(
            "bool",
            BooleanArray::from(vec![
                Some(true),
                Some(false),
                None,
                Some(true),
                Some(true),
                None,
            ]),
            true,
        ),
    ]
}

/// `utf8`, `large_utf8`, `binary` and `large_binary`.
fn string_and_binary_columns() -> Vec<(Field, ArrayRef)> {
    vec![
        column(
            "utf8",
            StringArray::from(vec![
                Some(""),
                Some("héllo wörld"),
                None,
                Some("日本語 🦀"),
                Some("quote \" back \\ nl \n"),
                Some("plain"),
            ]),
            true,
        ),
        column(
            "large_utf8",
            LargeStringArray::from(vec![
                Some("ascii"),
                None,
                Some("ünïcödé"),
                Some(""),
                None,
                Some("z"),
            ]),
            true,
        ),
        column(
            "binary",
            BinaryArray::from_opt_vec(vec![
                Some(b""),
                Some(b"\x00\xff\x10"),
                None,
                Some(b"abc"),
                Some(b"\x80"),
                None,
            ]),
            true,
        ),
        column(
            "large_binary",
            LargeBinaryArray::from_opt_vec(vec![
                None,
                Some(b""),
                Some(b"\xde\xad\xbe\xef"),
                Some(b"z"),
                None,
                Some(b"\x00"),
            ]),
            true,
        ),
    ]
}

/// `date32` and timestamps without a time zone.
fn date_and_timestamp_columns() -> Vec<(Field, ArrayRef)> {
    vec![
        column(
            "date32",
            Date32Array::from(vec![
                Some(-719_162),
                Some(-1),
                Some(0),
                None,
                Some(19_000),
                Some(2_932_896),
            ]),
            true,
        ),
        column(
            "ts_s",
            TimestampSecondArray::from(vec![
                Some(-1),
                Some(0),
                None,
                Some(1_700_000_000),
                Some(-(1 << 40)),
                Some(1),
            ]),
            true,
        ),
        column(
            "ts_ms",
            TimestampMillisecondArray::from(vec![
                Some(i64::MIN),
                Some(i64::MAX),
                None,
                Some(0),
                Some(-1),
                Some(1),
            ]),
            true,
        ),
    ]
}

/// Timestamps with a time zone: UTC, a named zone and an offset.
fn zoned_timestamp_columns() -> Vec<(Field, ArrayRef)> {
    vec![
        column(
            "ts_us_utc",
            TimestampMicrosecondArray::from(vec![
                Some(1_700_000_000_000_000),
                Some(-1_000_000),
                None,
                Some(0),
                Some(5),
                None,
            ])
            .with_timezone("UTC"),
            true,
        ),
        column(
            "ts_ns_new_york",
            TimestampNanosecondArray::from(vec![
                Some(-1),
                None,
                Some(1_700_000_000_123_456_789),
                Some(0),
                Some(1 << 62),
                Some(-86_400_000_000_000),
            ])
            .with_timezone("America/New_York"),
            true,
        ),
        column(
            "ts_ms_offset",
            TimestampMillisecondArray::from(vec![
                Some(-86_400_000),
                None,
                Some(0),
                Some(1),
                None,
                Some(2),
            ])
            .with_timezone("+05:30"),
            true,
        ),
    ]
}

/// Lists, structs, a map and a null column; last, a struct that is not
/// nullable.
fn nested_columns() -> Vec<(Field, ArrayRef)> {
    let mut columns = vec![
        column(
            "list_int32",
            ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                Some(vec![Some(1), None, Some(3)]),
                None,
                Some(vec![]),
                Some(vec![None]),
                Some(vec![Some(i32::MAX), Some(i32::MIN)]),
                None,
            ]),
            true,
        ),
        column(
            "list_not_null_items",
            ListArray::new(
                item(DataType::Int64, false),
                OffsetBuffer::new(vec![0, 2, 2, 3, 3, 5, 6].into()),
                Arc::new(Int64Array::from(vec![1, 2, 3, i64::MIN, i64::MAX, 0])),
                Some(NullBuffer::from(vec![true, true, true, false, true, true])),
            ),
            true,
        ),
        column("large_list_utf8", large_list_utf8(), true),
        column("struct", struct_column(), true),
        column("deep", deep_column(), true),
        column("map", map_column(), true),
        column("null", NullArray::new(ROWS), true),
    ];
    // A struct that is not nullable, whose children are.
    let point = StructArray::new(
        Fields::from(vec![
            Field::new("x", DataType::Float64, false),
            Field::new("y", DataType::Float64, true),
        ]),
        vec![
            Arc::new(Float64Array::from(vec![0.0, 1.0, -1.0, 2.5, 1e-300, 3.0])),
            Arc::new(Float64Array::from(vec![
                Some(0.0),
                None,
                Some(-1.0),
                None,
                Some(f64::MAX),
                Some(f64::MIN_POSITIVE),
            ])),
        ],
        None,
    );
    columns.push(column("point_not_null", point, false));
    columns
}

fn large_list_utf8() -> ArrayRef {
    let mut builder = LargeListBuilder::new(StringBuilder::new());
    for row in [
        Some(vec![Some("a"), None, Some("ü")]),
        None,
        Some(vec![]),
        Some(vec![Some("")]),
        Some(vec![None, None]),
        Some(vec![Some("last")]),
    ] {
        match row {
            Some(items) => {
                for s in items {
                    builder.values().append_option(s);
                }
                builder.append(true);
            }
            None => builder.append(false),
        }
    }
    Arc::new(builder.finish())
}

/// A nullable struct (one null row) with a nullable child holding nulls, a
/// child that is not nullable (null only under the null row), and a list.
fn struct_column() -> StructArray {
    let fields = Fields::from(vec![
        Field::new("a", DataType::Int32, true),
        Field::new("b", DataType::Utf8, false),
        Field::new("c", DataType::List(item(DataType::Float64, true)), true),
    ]);
    let a = Int32Array::from(vec![Some(1), None, Some(3), Some(4), None, Some(6)]);
    let b = StringArray::from(vec![
        Some("x"),
        Some("y"),
        None,
        Some(""),
        Some("ü"),
        Some("z"),
    ]);
    let c = ListArray::from_iter_primitive::<Float64Type, _, _>(vec![
        Some(vec![Some(1.0)]),
        None,
        None,
        Some(vec![]),
        Some(vec![None, Some(f64::NAN)]),
        Some(vec![Some(-0.5)]),
    ]);
    StructArray::try_new(
        fields,
        vec![Arc::new(a), Arc::new(b), Arc::new(c)],
        Some(NullBuffer::from(vec![true, true, false, true, true, true])),
    )
    .expect("a valid struct fixture")
}

/// `list<item: struct<k: utf8 not null, v: list<item: int32>>>`.
fn deep_column() -> ListArray {
    let inner = StructArray::try_new(
        Fields::from(vec![
            Field::new("k", DataType::Utf8, false),
            Field::new("v", DataType::List(item(DataType::Int32, true)), true),
        ]),
        vec![
            Arc::new(StringArray::from(vec!["a", "b", "c", "", "e"])),
            Arc::new(ListArray::from_iter_primitive::<Int32Type, _, _>(vec![
                Some(vec![Some(1), Some(2)]),
                None,
                Some(vec![]),
                Some(vec![None]),
                Some(vec![Some(5)]),
            ])),
        ],
        Some(NullBuffer::from(vec![true, true, false, true, true])),
    )
    .expect("a valid inner struct");
    let data_type = inner.data_type().clone();
    ListArray::new(
        item(data_type, true),
        OffsetBuffer::new(vec![0, 2, 2, 3, 3, 5, 5].into()),
        Arc::new(inner),
        Some(NullBuffer::from(vec![true, false, true, true, true, true])),
    )
}

/// A row of [`map_column`]: its entries, or None for a null map.
type MapRow = Option<&'static [(&'static str, Option<i64>)]>;

/// `map<utf8, int64>`, as arrow-rs's MapBuilder names it (entries: keys,
/// values).
fn map_column() -> ArrayRef {
    let mut builder = MapBuilder::new(None, StringBuilder::new(), Int64Builder::new());
    let rows: [MapRow; ROWS] = [
        Some(&[("a", Some(1)), ("b", None)]),
        None,
        Some(&[]),
        Some(&[("é", Some(i64::MIN))]),
        Some(&[("x", Some(0)), ("y", Some(1)), ("z", None)]),
        None,
    ];
    for row in rows {
        match row {
            Some(entries) => {
                for (k, v) in entries {
                    builder.keys().append_value(k);
                    builder.values().append_option(*v);
                }
                builder.append(true).expect("append a map row");
            }
            None => builder.append(false).expect("append a null map row"),
        }
    }
    Arc::new(builder.finish())
}
