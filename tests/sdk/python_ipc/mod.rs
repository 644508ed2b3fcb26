//! The Python SDK's Arrow IPC codec (`guest-sdk/python/ingot/ipc.py`)
//! against arrow-rs, both ways.
//!
//! Rust builds fixtures with arrow-rs (every supported type with nulls at
//! various depths, a wide table, empty and multi-message streams, large
//! strings, metadata, a bronze-like table) and writes each as an IPC stream.
//! `guest-sdk/python/tests/roundtrip.py` decodes each with
//! `ingot.ipc.decode`, renders the batch as canonical JSON and re-encodes it
//! with `ingot.ipc.encode`; it also writes batches built from literal Python
//! values with the JSON it expects of them. Then:
//!
//! - [`python_reads_arrow_rs_streams`]: Python's JSON equals the same
//!   rendering computed here from the arrow-rs batch;
//! - [`arrow_rs_reads_python_re_encoding`]: arrow-rs reads Python's re-encoding
//!   back to a batch equal to the original (schema, nullability, metadata,
//!   data);
//! - [`arrow_rs_reads_python_batches`]: arrow-rs reads the batches built in
//!   Python to the JSON Python expected.
//!
//! [`python_unit_tests`] runs the SDK's pure-Python codec tests.
//!
//! Python 3.11+ must be on the PATH as `python3` (or named by
//! `INGOT_PYTHON`); without it these tests fail rather than skip. Set
//! `INGOT_KEEP_SDK_FIXTURES` to keep the temp dirs of streams and renderings.

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Output;
use std::sync::Arc;

use deltalake::arrow::array::{
    Array, ArrayRef, AsArray, BinaryArray, BooleanArray, Date32Array, Float32Array, Float64Array,
    Int8Array, Int16Array, Int32Array, Int64Array, Int64Builder, LargeBinaryArray,
    LargeListBuilder, LargeStringArray, ListArray, MapBuilder, NullArray, RecordBatch,
    RecordBatchOptions, StringArray, StringBuilder, StructArray, TimestampMicrosecondArray,
    TimestampMillisecondArray, TimestampNanosecondArray, TimestampSecondArray, UInt8Array,
    UInt16Array, UInt32Array, UInt64Array,
};
use deltalake::arrow::buffer::{NullBuffer, OffsetBuffer};
use deltalake::arrow::compute::concat_batches;
use deltalake::arrow::datatypes::{
    DataType, Date32Type, Field, FieldRef, Fields, Float32Type, Float64Type, Int8Type, Int16Type,
    Int32Type, Int64Type, Schema, SchemaRef, TimeUnit, TimestampMicrosecondType,
    TimestampMillisecondType, TimestampNanosecondType, TimestampSecondType, UInt8Type, UInt16Type,
    UInt32Type, UInt64Type,
};
use deltalake::arrow::ipc::reader::StreamReader;
use deltalake::arrow::ipc::writer::StreamWriter;
use serde_json::{Map, Value, json};
use tempfile::TempDir;

use crate::{driver_output, run_python};

/// Rows of each column of [`typed_columns`].
const ROWS: usize = 6;

/// A stream arrow-rs writes for Python to read.
struct Fixture {
    name: String,
    schema: SchemaRef,
    batches: Vec<RecordBatch>,
}

impl Fixture {
    fn new(name: &str, batches: Vec<RecordBatch>) -> Self {
        let schema = batches.first().expect("a fixture has a batch").schema();
        Fixture {
            name: name.to_string(),
            schema,
            batches,
        }
    }

    /// All the rows, as the one batch `ingot.ipc.decode` returns.
    fn concatenated(&self) -> RecordBatch {
        concat_batches(&self.schema, &self.batches).expect("concatenate the fixture's batches")
    }
}

/// The fixtures, written to a temp dir, and the driver run over them.
struct Run {
    dir: TempDir,
    fixtures: Vec<Fixture>,
    driver: Output,
}

impl Run {
    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// What the driver reported for a fixture that left no output.
    fn failure(&self, stem: &str, missing: &str) -> String {
        match std::fs::read_to_string(self.path(&format!("{stem}.error"))) {
            Ok(traceback) => format!("{stem}: Python failed:\n{traceback}"),
            Err(_) => format!(
                "{stem}: the driver wrote no {missing} and no .error\n{}",
                driver_output(&self.driver)
            ),
        }
    }
}

/// Writes every fixture and runs `roundtrip.py` over them.
fn run() -> Run {
    let mut dir = tempfile::tempdir().expect("temp dir");
    if std::env::var_os("INGOT_KEEP_SDK_FIXTURES").is_some() {
        dir.disable_cleanup(true);
        eprintln!("the fixtures stay in {}", dir.path().display());
    }
    let fixtures = fixtures();
    for f in &fixtures {
        let path = dir.path().join(format!("{}.arrows", f.name));
        let file = File::create(&path).expect("create the fixture file");
        let mut writer = StreamWriter::try_new(file, &f.schema).expect("stream writer");
        for batch in &f.batches {
            writer.write(batch).expect("write a fixture batch");
        }
        writer.finish().expect("finish the fixture stream");
    }
    let dir_arg = dir.path().to_str().expect("a UTF-8 temp dir path");
    let driver = run_python(&["guest-sdk/python/tests/roundtrip.py", dir_arg]);
    Run {
        dir,
        fixtures,
        driver,
    }
}

fn read_stream(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = StreamReader::try_new(BufReader::new(file), None)
        .map_err(|e| format!("arrow-rs cannot read the stream's schema: {e}"))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("arrow-rs cannot read a record batch: {e}"))?;
    Ok((schema, batches))
}

fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

fn report(what: &str, total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} of {total} fixtures failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// (a) Python reads what arrow-rs wrote: its rendering of each decoded
/// batch equals the rendering of the arrow-rs batch.
#[test]
fn python_reads_arrow_rs_streams() {
    let run = run();
    let mut failures = Vec::new();
    for f in &run.fixtures {
        let got = match read_json(&run.path(&format!("{}.json", f.name))) {
            Ok(v) => v,
            Err(_) => {
                failures.push(run.failure(&f.name, ".json"));
                continue;
            }
        };
        let want = render_batch(&f.concatenated());
        if let Some(diff) = first_difference(&want, &got, "$") {
            failures.push(format!(
                "{}: Python's decoding differs from arrow-rs's batch at {diff}",
                f.name
            ));
        }
    }
    report(
        "Python decoding streams arrow-rs wrote",
        run.fixtures.len(),
        &failures,
    );
}

/// (b) arrow-rs reads what Python wrote back: the same schema (names,
/// types, nullability, metadata) and the same data.
#[test]
fn arrow_rs_reads_python_re_encoding() {
    let run = run();
    let mut failures = Vec::new();
    for f in &run.fixtures {
        let path = run.path(&format!("{}.out.arrows", f.name));
        if !path.exists() {
            failures.push(run.failure(&f.name, ".out.arrows"));
            continue;
        }
        let (schema, batches) = match read_stream(&path) {
            Ok(read) => read,
            Err(e) => {
                failures.push(format!("{}: Python's encoding: {e}", f.name));
                continue;
            }
        };
        if schema != f.schema {
            failures.push(format!(
                "{}: Python's encoding has another schema\n  want {}\n  got  {}",
                f.name,
                schema_summary(&f.schema),
                schema_summary(&schema)
            ));
            continue;
        }
        if batches.len() != 1 {
            failures.push(format!(
                "{}: Python's encoding has {} record batches, expected 1",
                f.name,
                batches.len()
            ));
            continue;
        }
        let want = f.concatenated();
        let got = &batches[0];
        if got != &want {
            let diff = first_difference(&render_batch(&want), &render_batch(got), "$")
                .unwrap_or_else(|| "(no difference in the JSON rendering)".to_string());
            failures.push(format!(
                "{}: arrow-rs reads Python's encoding as another batch: {diff}",
                f.name
            ));
        }
    }
    report(
        "arrow-rs reading Python's re-encoding",
        run.fixtures.len(),
        &failures,
    );
}

/// (c) arrow-rs reads the batches Python built from literal values to the
/// rendering Python expected.
#[test]
fn arrow_rs_reads_python_batches() {
    let run = run();
    let mut stems = BTreeSet::new();
    for entry in std::fs::read_dir(run.dir.path()).expect("read the temp dir") {
        let name = entry.expect("a dir entry").file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_prefix("py_") {
            for suffix in [".json", ".arrows", ".error"] {
                if let Some(stem) = stem.strip_suffix(suffix) {
                    stems.insert(format!("py_{stem}"));
                }
            }
        }
    }
    assert!(
        stems.len() >= 5,
        "the driver wrote only {stems:?} of its Python-built batches\n{}",
        driver_output(&run.driver)
    );
    let mut failures = Vec::new();
    for stem in &stems {
        let (want, (_schema, batches)) = match (
            read_json(&run.path(&format!("{stem}.json"))),
            read_stream(&run.path(&format!("{stem}.arrows"))),
        ) {
            (Ok(want), Ok(read)) => (want, read),
            (Err(_), _) => {
                failures.push(run.failure(stem, ".json"));
                continue;
            }
            (_, Err(e)) => {
                failures.push(format!("{stem}: {e}"));
                continue;
            }
        };
        if batches.len() != 1 {
            failures.push(format!(
                "{stem}: {} record batches, expected 1",
                batches.len()
            ));
            continue;
        }
        let got = render_batch(&batches[0]);
        if let Some(diff) = first_difference(&want, &got, "$") {
            failures.push(format!(
                "{stem}: arrow-rs reads another batch than Python built, at {diff}"
            ));
        }
    }
    report("arrow-rs reading Python's batches", stems.len(), &failures);
    assert!(
        run.driver.status.success(),
        "{}",
        driver_output(&run.driver)
    );
}

// --- the canonical JSON rendering (as roundtrip.py's) -----------------------

fn field_repr(f: &Field) -> String {
    let not_null = if f.is_nullable() { "" } else { " not null" };
    format!("{}: {}{not_null}", f.name(), type_repr(f.data_type()))
}

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

fn children(dt: &DataType) -> Vec<FieldRef> {
    match dt {
        DataType::List(item) | DataType::LargeList(item) | DataType::Map(item, _) => {
            vec![item.clone()]
        }
        DataType::Struct(fields) => fields.iter().cloned().collect(),
        _ => Vec::new(),
    }
}

fn render_metadata(metadata: &std::collections::HashMap<String, String>) -> Value {
    Value::Object(
        metadata
            .iter()
            .map(|(k, v)| (k.clone(), Value::String(v.clone())))
            .collect(),
    )
}

fn render_field(f: &Field) -> Value {
    json!({
        "name": f.name(),
        "type": type_repr(f.data_type()),
        "nullable": f.is_nullable(),
        "metadata": render_metadata(f.metadata()),
        "children": children(f.data_type()).iter().map(|c| render_field(c)).collect::<Vec<_>>(),
    })
}

fn render_batch(batch: &RecordBatch) -> Value {
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

fn render_float(v: f64) -> Value {
    if v.is_nan() {
        "NaN".into()
    } else if v.is_infinite() {
        if v > 0.0 { "inf" } else { "-inf" }.into()
    } else {
        Value::from(v)
    }
}

fn render_all(array: &dyn Array) -> Value {
    Value::Array((0..array.len()).map(|i| render_value(array, i)).collect())
}

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

fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        format!(
            "{}... ({} chars)",
            s.chars().take(200).collect::<String>(),
            s.len()
        )
    } else {
        s
    }
}

/// Where `got` first differs from `want`, as a JSON path and both values.
fn first_difference(want: &Value, got: &Value, path: &str) -> Option<String> {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                let here = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => first_difference(x, y, &here),
                    (Some(x), None) => Some(format!("{here}: missing, expected {}", short(x))),
                    (None, Some(y)) => Some(format!("{here}: unexpected {}", short(y))),
                    (None, None) => None,
                }
            })
        }
        (Value::Array(a), Value::Array(b)) => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]")))
            .or_else(|| {
                (a.len() != b.len())
                    .then(|| format!("{path}: {} elements, expected {}", b.len(), a.len()))
            }),
        _ if want == got => None,
        _ => Some(format!(
            "{path}: expected {} but got {}",
            short(want),
            short(got)
        )),
    }
}

fn schema_summary(schema: &Schema) -> String {
    let fields: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut s = field_repr(f);
            if !f.metadata().is_empty() {
                s.push_str(&format!(" {:?}", f.metadata()));
            }
            s
        })
        .collect();
    format!("[{}] metadata {:?}", fields.join(", "), schema.metadata())
}

// --- fixtures -------------------------------------------------------------

fn item(data_type: DataType, nullable: bool) -> FieldRef {
    Arc::new(Field::new("item", data_type, nullable))
}

fn column(name: &str, array: impl Array + 'static, nullable: bool) -> (Field, ArrayRef) {
    let array: ArrayRef = Arc::new(array);
    (Field::new(name, array.data_type().clone(), nullable), array)
}

fn batch(columns: Vec<(Field, ArrayRef)>, metadata: &[(&str, &str)]) -> RecordBatch {
    let (fields, arrays): (Vec<Field>, Vec<ArrayRef>) = columns.into_iter().unzip();
    let metadata = metadata
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
    let schema = Arc::new(Schema::new_with_metadata(fields, metadata));
    RecordBatch::try_new(schema, arrays).expect("a valid fixture batch")
}

/// One column of each supported type, [`ROWS`] rows each, with nulls at
/// various positions and depths.
fn typed_columns() -> Vec<(Field, ArrayRef)> {
    let mut columns = vec![
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

fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ])
}

fn header_type() -> DataType {
    DataType::Struct(header_fields())
}

/// Bronze rows `start..end`: the shape ingest writes (Kafka coordinates,
/// key, value, headers) plus the Change Data Feed columns.
fn bronze(start: usize, end: usize) -> RecordBatch {
    let rows = start..end;
    let mut header_keys = Vec::new();
    let mut header_values: Vec<Option<Vec<u8>>> = Vec::new();
    let mut offsets = vec![0i32];
    let mut header_valid = Vec::new();
    for i in rows.clone() {
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
    let headers = ListArray::new(
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
    );
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

fn fixtures() -> Vec<Fixture> {
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
