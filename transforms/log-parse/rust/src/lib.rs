//! `log-parse`: the silver stage of the application-log pipeline.
//!
//! Each bronze row is one Kafka record whose `value` is a JSON log line:
//!
//! ```json
//! {"ts":"2026-11-21T10:00:01.123Z","level":"INFO","service":"svc-3","host":"host-17","latency_ms":42,"msg":"request 7 handled"}
//! ```
//!
//! Every inserted bronze row becomes one typed silver row (`ts`, `level`,
//! `service`, `host`, `latency_ms`, `message`), keeps its Kafka lineage
//! (`topic`, `partition`, `offset`) and is stamped with `processed_at`, the
//! host's processing time. A line that cannot be parsed is rejected to the
//! stage's quarantine with the reason. Bronze is append-only, so other change
//! types are skipped. The stage takes no configuration.
//!
//! A line is deserialised straight into its fields, borrowing the text from
//! the batch (several times faster than building a `serde_json::Value`
//! map); only a line of another shape is read again as a `Value`, to
//! accept any JSON in a text field and to say what is wrong.

use std::{borrow::Cow, sync::Arc};

use ingot_guest::arrow_array::{
    ArrayRef, Int32Array, Int64Array, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use ingot_guest::arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use ingot_guest::{ChangeType, Config, Error, Output, Transform, column, column_bytes};

use serde::Deserialize;
use serde_json::{Map, Value};

/// Levels a line may carry (any case); `WARNING` is read as `WARN`.
const LEVELS: [&str; 6] = ["TRACE", "DEBUG", "INFO", "WARN", "ERROR", "FATAL"];

/// Parses bronze Kafka records into typed log rows.
pub struct LogParse {
    schema: SchemaRef,
}

/// One parsed log line; its text borrows from the input batch where the
/// JSON holds no escapes.
#[derive(Debug, PartialEq)]
struct LogLine<'a> {
    ts: i64,
    level: &'static str,
    service: Option<Cow<'a, str>>,
    host: Option<Cow<'a, str>>,
    latency_ms: Option<i64>,
    message: Option<Cow<'a, str>>,
}

/// The fields of a line as the common case has them: every text field a
/// string (or null, or missing), `latency_ms` an integer. Deserialised
/// straight from the JSON text, with no map and no copies of unescaped
/// strings; a line of any other shape is read again as a JSON value
/// ([`Fields::from_value`]), which accepts more and names what is wrong.
#[derive(Deserialize)]
struct Fields<'a> {
    #[serde(borrow)]
    ts: Option<Text<'a>>,
    #[serde(borrow)]
    level: Option<Text<'a>>,
    #[serde(borrow)]
    service: Option<Text<'a>>,
    #[serde(borrow)]
    host: Option<Text<'a>>,
    latency_ms: Option<i64>,
    #[serde(borrow)]
    msg: Option<Text<'a>>,
    #[serde(borrow)]
    message: Option<Text<'a>>,
}

/// A JSON string, borrowed from the line unless it holds escapes (serde
/// borrows a `Cow` only as a field of its own, not inside an `Option`).
#[derive(Deserialize)]
struct Text<'a>(#[serde(borrow)] Cow<'a, str>);

impl Transform for LogParse {
    fn init(_config: &Config) -> Result<Self, Error> {
        Ok(Self {
            schema: silver_schema(),
        })
    }

    fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
        let changes = ChangeType::column(input)?;
        let values = column_bytes(input, "value")?;
        let (mut parsed, mut rejected) = (Vec::new(), Vec::new());
        for (row, value) in values.into_iter().enumerate() {
            if changes[row] != ChangeType::Insert {
                continue;
            }
            match parse(value) {
                Ok(line) => parsed.push((row, line)),
                Err(reason) => rejected.push((row, reason)),
            }
        }
        let mut output = Output::new(self.silver_batch(input, &parsed)?);
        for (row, reason) in rejected {
            output.push_reject(row, reason);
        }
        Ok(output)
    }
}

impl LogParse {
    /// The silver rows of the parsed lines, with the Kafka lineage of the
    /// input row each came from.
    fn silver_batch(
        &self,
        input: &RecordBatch,
        parsed: &[(usize, LogLine<'_>)],
    ) -> Result<RecordBatch, Error> {
        let topic = column::<StringArray>(input, "topic")?;
        let partition = column::<Int32Array>(input, "partition")?;
        let offset = column::<Int64Array>(input, "offset")?;
        let rows = || parsed.iter().map(|(row, _)| *row);
        let lines = || parsed.iter().map(|(_, line)| line);
        let text = |field: for<'l> fn(&'l LogLine<'l>) -> Option<&'l str>| -> ArrayRef {
            Arc::new(lines().map(field).collect::<StringArray>())
        };
        let utc = |micros: Vec<i64>| TimestampMicrosecondArray::from(micros).with_timezone("UTC");
        let columns: Vec<ArrayRef> = vec![
            Arc::new(utc(lines().map(|l| l.ts).collect())),
            Arc::new(StringArray::from_iter_values(lines().map(|l| l.level))),
            text(|l| l.service.as_deref()),
            text(|l| l.host.as_deref()),
            Arc::new(lines().map(|l| l.latency_ms).collect::<Int64Array>()),
            text(|l| l.message.as_deref()),
            Arc::new(StringArray::from_iter_values(
                rows().map(|r| topic.value(r)),
            )),
            Arc::new(Int32Array::from_iter_values(
                rows().map(|r| partition.value(r)),
            )),
            Arc::new(Int64Array::from_iter_values(
                rows().map(|r| offset.value(r)),
            )),
            Arc::new(utc(vec![ingot_guest::processing_time(); parsed.len()])),
        ];
        Ok(RecordBatch::try_new(self.schema.clone(), columns)?)
    }
}

/// Parses one Kafka value into a log line, or says why it cannot.
fn parse(value: Option<&[u8]>) -> Result<LogLine<'_>, String> {
    let bytes = value.ok_or("value is null")?;
    let text = std::str::from_utf8(bytes).map_err(|e| format!("value is not UTF-8: {e}"))?;
    match serde_json::from_str::<Fields<'_>>(text) {
        Ok(fields) => fields.line(),
        Err(_) => parse_value(text),
    }
}

impl<'a> Fields<'a> {
    /// The line these fields make: a known level, an RFC 3339 `ts`.
    fn line(self) -> Result<LogLine<'a>, String> {
        let text = |field: Option<Text<'a>>| field.map(|t| t.0);
        let level = level(&self.level.ok_or("missing field `level`")?.0)?;
        let ts = timestamp(&self.ts.ok_or("missing field `ts`")?.0)?;
        Ok(LogLine {
            ts,
            level,
            service: text(self.service),
            host: text(self.host),
            latency_ms: self.latency_ms,
            message: text(self.msg.or(self.message)),
        })
    }
}

/// A line that is not of the common shape, read as a JSON value: a text
/// field may hold any JSON (kept as its JSON text), and a line that is no
/// object, or a field of the wrong type, is refused with the reason.
fn parse_value(text: &str) -> Result<LogLine<'static>, String> {
    let json = serde_json::from_str(text).map_err(|e| format!("value is not valid JSON: {e}"))?;
    let fields = match json {
        Value::Object(fields) => fields,
        Value::Array(_) => return Err("value is a JSON array, not an object".into()),
        other => return Err(format!("value is not a JSON object: {other}")),
    };
    let level = level(required_str(&fields, "level")?)?;
    let ts = timestamp(required_str(&fields, "ts")?)?;
    let latency_ms = match fields.get("latency_ms") {
        None | Some(Value::Null) => None,
        Some(v) => Some(
            v.as_i64()
                .ok_or(format!("`latency_ms` is not an integer: {v}"))?,
        ),
    };
    Ok(LogLine {
        ts,
        level,
        service: optional_text(&fields, "service"),
        host: optional_text(&fields, "host"),
        latency_ms,
        message: optional_text(&fields, "msg").or_else(|| optional_text(&fields, "message")),
    })
}

/// A level in any case, `WARNING` read as `WARN`.
fn level(level: &str) -> Result<&'static str, String> {
    if level.eq_ignore_ascii_case("WARNING") {
        return Ok("WARN");
    }
    LEVELS
        .into_iter()
        .find(|l| l.eq_ignore_ascii_case(level))
        .ok_or_else(|| format!("unknown level `{level}`"))
}

/// The `ts` field as µs since the epoch.
fn timestamp(ts: &str) -> Result<i64, String> {
    ingot_guest::time::parse_rfc3339(ts)
        .map_err(|e| format!("`ts` is not an RFC 3339 timestamp: {e}"))
}

/// A field the line cannot do without, as a string.
fn required_str<'a>(fields: &'a Map<String, Value>, name: &str) -> Result<&'a str, String> {
    match fields.get(name) {
        None | Some(Value::Null) => Err(format!("missing field `{name}`")),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("`{name}` is not a string: {other}")),
    }
}

/// An optional text field; a number or other JSON value is kept as its JSON text.
fn optional_text(fields: &Map<String, Value>, name: &str) -> Option<Cow<'static, str>> {
    match fields.get(name)? {
        Value::Null => None,
        Value::String(s) => Some(Cow::Owned(s.clone())),
        other => Some(Cow::Owned(other.to_string())),
    }
}

/// The silver table: the parsed line, its Kafka lineage, the processing time.
fn silver_schema() -> SchemaRef {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("ts", utc.clone(), false),
        Field::new("level", DataType::Utf8, false),
        Field::new("service", DataType::Utf8, true),
        Field::new("host", DataType::Utf8, true),
        Field::new("latency_ms", DataType::Int64, true),
        Field::new("message", DataType::Utf8, true),
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("processed_at", utc, false),
    ]))
}

ingot_guest::export!(LogParse);

#[cfg(test)]
mod tests;
