//! The canonical JSON rendering of a record batch, the same as
//! `guest-sdk/python/tests/roundtrip.py`'s, so the two sides compare as JSON:
//! the schema (types as strings, nullability, metadata, children) and every
//! value (floats' NaN and infinities as strings, binaries as hex).

use deltalake::arrow::array::{Array, AsArray, RecordBatch};
use deltalake::arrow::datatypes::{
    DataType, Date32Type, Field, FieldRef, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, TimeUnit, TimestampMicrosecondType, TimestampMillisecondType,
    TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use serde_json::{Map, Value, json};

/// `name: type`, with ` not null` when the field is not nullable.
pub(super) fn field_repr(f: &Field) -> String {
    let not_null = if f.is_nullable() { "" } else { " not null" };
    format!("{}: {}{not_null}", f.name(), type_repr(f.data_type()))
}

/// A type as `roundtrip.py` names it (`int64`, `timestamp[us, tz=UTC]`,
/// `list<item: utf8>`).
fn type_repr(dt: &DataType) -> String {
    match dt {
        DataType::Null => "null".into(),
        DataType::Boolean => "bool".into(),
        DataType::Int8 => "int8".into(),
        DataType::Int16 => "int16".into(),
        DataType::Int32 => "int32".into(),
        DataType::Int64 => "int64".into(),
        DataType::UInt8 => "uint8".into(),
        DataType::UInt16 => "uint16".into(),
        DataType::UInt32 => "uint32".into(),
        DataType::UInt64 => "uint64".into(),
        DataType::Float32 => "float32".into(),
        DataType::Float64 => "float64".into(),
        DataType::Utf8 => "utf8".into(),
        DataType::LargeUtf8 => "large_utf8".into(),
        DataType::Binary => "binary".into(),
        DataType::LargeBinary => "large_binary".into(),
        DataType::Date32 => "date32".into(),
        DataType::Timestamp(unit, tz) => {
            let unit = match unit {
                TimeUnit::Second => "s",
                TimeUnit::Millisecond => "ms",
                TimeUnit::Microsecond => "us",
                TimeUnit::Nanosecond => "ns",
            };
            match tz {
                None => format!("timestamp[{unit}]"),
                Some(tz) => format!("timestamp[{unit}, tz={tz}]"),
            }
        }
        DataType::List(item) => format!("list<{}>", field_repr(item)),
        DataType::LargeList(item) => format!("large_list<{}>", field_repr(item)),
        DataType::Struct(fields) => format!(
            "struct<{}>",
            fields
                .iter()
                .map(|f| field_repr(f))
                .collect::<Vec<_>>()
                .join(", ")
        ),
        DataType::Map(entries, sorted) => {
            let sorted = if *sorted { ", keys_sorted" } else { "" };
            format!("map<{}{sorted}>", field_repr(entries))
        }
        other => panic!("no fixture has a {other} column"),
    }
}

/// The child fields of a nested type.
fn children(dt: &DataType) -> Vec<FieldRef> {
    match dt {
        DataType::List(item) | DataType::LargeList(item) | DataType::Map(item, _) => {
            vec![item.clone()]
        }
        DataType::Struct(fields) => fields.iter().cloned().collect(),
        _ => Vec::new(),
    }
}

/// Metadata as a JSON object.
fn render_metadata(metadata: &std::collections::HashMap<String, String>) -> Value {
    Value::Object(
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

/// A field: name, type, nullability, metadata and children.
fn render_field(f: &Field) -> Value {
    json!({
        "name": f.name(),
        "type": type_repr(f.data_type()),
        "nullable": f.is_nullable(),
        "metadata": render_metadata(f.metadata()),
        "children": children(f.data_type()).iter().map(|c| render_field(c)).collect::<Vec<_>>(),
    })
}

/// A batch: its schema, row count and columns of values.
pub(super) fn render_batch(batch: &RecordBatch) -> Value {
    let schema = batch.schema();
    json!({
        "schema": {
            "fields": schema.fields().iter().map(|f| render_field(f)).collect::<Vec<_>>(),
            "metadata": render_metadata(schema.metadata()),
        },
        "num_rows": batch.num_rows(),
        "columns": batch
            .columns()
            .iter()
            .map(|c| (0..c.len()).map(|i| render_value(c.as_ref(), i)).collect::<Vec<_>>())
            .collect::<Vec<_>>(),
    })
}

/// A float, with NaN and the infinities as strings.
fn render_float(v: f64) -> Value {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        Value::from(v)
    }
}

/// Every value of `array`.
fn render_all(array: &dyn Array) -> Value {
    Value::Array((0..array.len()).map(|i| render_value(array, i)).collect())
}

/// Value `i` of `array`.
fn render_value(array: &dyn Array, i: usize) -> Value {
    if matches!(array.data_type(), DataType::Null) || array.is_null(i) {
        return Value::Null;
    }
    match array.data_type() {
        DataType::Boolean => array.as_boolean().value(i).into(),
        DataType::Int8 => array.as_primitive::<Int8Type>().value(i).into(),
        DataType::Int16 => array.as_primitive::<Int16Type>().value(i).into(),
        DataType::Int32 => array.as_primitive::<Int32Type>().value(i).into(),
        DataType::Int64 => array.as_primitive::<Int64Type>().value(i).into(),
        DataType::UInt8 => array.as_primitive::<UInt8Type>().value(i).into(),
        DataType::UInt16 => array.as_primitive::<UInt16Type>().value(i).into(),
        DataType::UInt32 => array.as_primitive::<UInt32Type>().value(i).into(),
        DataType::UInt64 => array.as_primitive::<UInt64Type>().value(i).into(),
        DataType::Float32 => render_float(f64::from(array.as_primitive::<Float32Type>().value(i))),
        DataType::Float64 => render_float(array.as_primitive::<Float64Type>().value(i)),
        DataType::Utf8 => array.as_string::<i32>().value(i).into(),
        DataType::LargeUtf8 => array.as_string::<i64>().value(i).into(),
        DataType::Binary => hex::encode(array.as_binary::<i32>().value(i)).into(),
        DataType::LargeBinary => hex::encode(array.as_binary::<i64>().value(i)).into(),
        DataType::Date32 => array.as_primitive::<Date32Type>().value(i).into(),
        DataType::Timestamp(unit, _) => match unit {
            TimeUnit::Second => array.as_primitive::<TimestampSecondType>().value(i),
            TimeUnit::Millisecond => array.as_primitive::<TimestampMillisecondType>().value(i),
            TimeUnit::Microsecond => array.as_primitive::<TimestampMicrosecondType>().value(i),
            TimeUnit::Nanosecond => array.as_primitive::<TimestampNanosecondType>().value(i),
        }
        .into(),
        DataType::List(_) => render_all(array.as_list::<i32>().value(i).as_ref()),
        DataType::LargeList(_) => render_all(array.as_list::<i64>().value(i).as_ref()),
        DataType::Struct(fields) => {
            let s = array.as_struct();
            let mut object = Map::new();
            for (k, f) in fields.iter().enumerate() {
                object.insert(f.name().clone(), render_value(s.column(k).as_ref(), i));
            }
            Value::Object(object)
        }
        DataType::Map(_, _) => {
            let entries = array.as_map().value(i);
            let (keys, values) = (entries.column(0), entries.column(1));
            Value::Array(
                (0..entries.len())
                    .map(|j| {
                        json!([
                            render_value(keys.as_ref(), j),
                            render_value(values.as_ref(), j)
                        ])
                    })
                    .collect(),
            )
        }
        other => panic!("no fixture has a {other} column"),
    }
}
