//! `osquery-flatten`: the silver stage of the osquery pipeline.
//!
//! # Reads
//!
//! The bronze table's Change Data Feed: each inserted row is one Kafka
//! record of osquery's Kafka logger, whose `value` is one result message in
//! any of its three formats:
//!
//! - **event** (the default): one row change per message, `columns` holding
//!   the row and `action` `added` or `removed`;
//! - **batch**: `diffResults` with `removed` and `added` arrays, no `action`;
//! - **snapshot**: `action` `snapshot` and the whole result in `snapshot`.
//!
//! ```json
//! {"name":"pack_host_processes","hostIdentifier":"web-01.prod","unixTime":1795428000,"epoch":0,"counter":0,"numerics":false,"decorations":{"username":"ops"},"columns":{"name":"nginx","pid":"1042"},"action":"added"}
//! ```
//!
//! Column values are strings, or JSON numbers when osquery runs with
//! `numerics`; old builds write `unixTime`, `epoch` and `counter` as strings
//! and `hostname` instead of `hostIdentifier`. All of these are accepted.
//! Bronze is append-only, so change types other than `insert` are skipped.
//!
//! # Writes
//!
//! One row per (message, row change); a batch message gives its `removed`
//! rows first, then its `added` rows. Columns, in order:
//!
//! | column | type | |
//! |---|---|---|
//! | `host` | utf8 | `hostIdentifier`, else `hostname` |
//! | `query` | utf8 | the query's `name` |
//! | `action` | utf8 | `added`, `removed` or `snapshot` |
//! | `time` | timestamp µs UTC | `unixTime` |
//! | `epoch`, `counter` | int64 | 0 when absent |
//! | `row_id` | int64 | stable id of the row within its message, see below |
//! | `snapshot_rows` | int64, nullable | a snapshot's length; null for added/removed |
//! | `decorations` | map utf8 → utf8, nullable | null when absent or empty |
//! | *typed columns* | as configured, nullable | see Configuration |
//! | `columns` | map utf8 → utf8, nullable | the row's columns not configured for its query; null when none remain |
//! | `topic`, `partition`, `offset` | utf8, int32, int64 | Kafka lineage |
//!
//! Map values are strings: a JSON number is kept as its JSON text, a bool as
//! `true`/`false`, a JSON null as a null value. Of duplicate keys in a JSON
//! object the last wins, as in serde_json.
//!
//! An **empty snapshot** (`"snapshot": []`) yields one marker row: action
//! `snapshot`, `snapshot_rows` 0, `row_id` 0, typed columns and `columns`
//! null (decorations as in the message). Without it a query whose result
//! became empty would vanish from silver instead of reading as empty, and
//! `osquery-counts` could not reset its count to zero.
//!
//! **`row_id`** is FNV-1a 64 over the row's canonical content (its columns
//! sorted by name, each rendered `name=value` with the value as its string,
//! a number as its JSON text, a null as `name` alone, and preceded by its
//! byte length as 8 little-endian bytes), continued with the row's occurrence index among
//! identical rows of the same message and action (8 little-endian bytes), its
//! bits read as an i64. Two identical rows of one snapshot get distinct ids;
//! the same message replayed gets the same ids, so the dedupe key below
//! drops replays.
//!
//! A message that cannot be read is rejected to the quarantine as a whole
//! (none of its rows are written), with the precise reason: a null value,
//! not JSON or not an object, no `name`, no host, a missing or non-numeric
//! `unixTime`, a non-integer `epoch`/`counter`, an unknown `action`, none of
//! `columns`/`diffResults`/`snapshot`, a payload of the wrong JSON type, a
//! row that is not an object, a value that is an object or an array,
//! `decorations` not an object, or a configured value that does not convert
//! (`query pack_host_processes: column pid: "abc" is not an int64`).
//!
//! # Configuration
//!
//! Optional. Each key `query.<query name>` lists the columns of that query
//! to lift out of the `columns` map into typed output columns:
//! `column:type` or `column:type:alias`, comma-separated. Types: `string`,
//! `int64` (integers and integer strings), `float64` (numbers and numeric
//! strings), `bool` (`true`/`false`, `"true"`/`"false"`, `"1"`/`"0"`, 1/0),
//! `timestamp` (unix seconds, number or string, fractions kept to the
//! microsecond). An empty string is null for every type but `string`; a
//! missing or null column is null. A configured column leaves the `columns`
//! map even when it is null. The typed columns
//! appear in the order first configured (queries by name, then as written);
//! several queries may share a column if they agree on its type. A column
//! named like one of the common fields above needs an alias. `init` refuses
//! unknown keys, bad entries, unknown types, such collisions and type
//! conflicts, naming the key.
//!
//! # Pipeline
//!
//! Silver is written in `dedupe` mode keyed by the fields that identify one
//! row change of one message, so a replayed Kafka record adds nothing. In
//! TOML the dotted config keys must be quoted:
//!
//! ```toml
//! [[stages]]
//! name = "silver"
//! module = "../target/guests/wasm32-wasip2/guest/osquery_flatten.wasm"
//! mode = "dedupe"
//! keys = ["host", "query", "time", "epoch", "counter", "action", "row_id"]
//!
//! [stages.config]
//! "query.pack_host_processes" = "name:string, path:string, pid:int64, uid:int64, resident_size:int64"
//! "query.pack_listening_ports" = "pid:int64, port:int64, protocol:int64, address:string"
//! ```

mod builder;
mod config;
mod json;
mod message;
mod rows;

use std::sync::Arc;

use ingot_guest::arrow_array::{Int32Array, Int64Array, RecordBatch, StringArray};
use ingot_guest::arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use ingot_guest::{ChangeType, Config, Error, Output, Transform, column, column_bytes};

use builder::{Lineage, SilverBuilder, map_field_names};
use config::Plan;
use message::Message;

/// Flattens osquery result messages into one silver row per row change.
pub struct OsqueryFlatten {
    plan: Plan,
    schema: SchemaRef,
    /// Reused across messages to render numbers.
    scratch: String,
}

impl Transform for OsqueryFlatten {
    fn init(config: &Config) -> Result<Self, Error> {
        let plan = Plan::from_config(config)?;
        let schema = silver_schema(&plan);
        Ok(Self {
            plan,
            schema,
            scratch: String::new(),
        })
    }

    fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
        let changes = ChangeType::column(input)?;
        let values = column_bytes(input, "value")?;
        let topic = column::<StringArray>(input, "topic")?;
        let partition = column::<Int32Array>(input, "partition")?;
        let offset = column::<Int64Array>(input, "offset")?;
        let mut builder = SilverBuilder::new(&self.plan, values.len());
        let mut rejected = Vec::new();
        for (row, value) in values.into_iter().enumerate() {
            if changes[row] != ChangeType::Insert {
                continue;
            }
            let lineage = Lineage {
                topic: topic.value(row),
                partition: partition.value(row),
                offset: offset.value(row),
            };
            if let Err(reason) = self.flatten(value, lineage, &mut builder) {
                rejected.push((row, reason));
            }
        }
        let mut output = Output::new(builder.finish(self.schema.clone())?);
        for (row, reason) in rejected {
            output.push_reject(row, reason);
        }
        Ok(output)
    }
}

impl OsqueryFlatten {
    /// Appends the rows of one Kafka value, or returns why it is rejected.
    fn flatten(
        &mut self,
        value: Option<&[u8]>,
        lineage: Lineage<'_>,
        builder: &mut SilverBuilder,
    ) -> Result<(), String> {
        let bytes = value.ok_or("value is null")?;
        let json = json::parse(bytes).map_err(|e| format!("value is not valid JSON: {e}"))?;
        let message = Message::parse(&json)?;
        let plan = self.plan.query(message.query);
        let rows = rows::resolve(&message, plan, &mut self.scratch)?;
        builder.append(&message, &rows, plan, lineage);
        Ok(())
    }
}

/// The silver table of `plan`: common fields, typed columns, the remaining
/// columns as a map, Kafka lineage.
fn silver_schema(plan: &Plan) -> SchemaRef {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let names = map_field_names();
    let strings = DataType::Map(
        Arc::new(Field::new(
            names.entry,
            DataType::Struct(
                vec![
                    Field::new(names.key, DataType::Utf8, false),
                    Field::new(names.value, DataType::Utf8, true),
                ]
                .into(),
            ),
            false,
        )),
        false,
    );
    let mut fields = vec![
        Field::new("host", DataType::Utf8, false),
        Field::new("query", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("time", utc, false),
        Field::new("epoch", DataType::Int64, false),
        Field::new("counter", DataType::Int64, false),
        Field::new("row_id", DataType::Int64, false),
        Field::new("snapshot_rows", DataType::Int64, true),
        Field::new("decorations", strings.clone(), true),
    ];
    fields.extend(
        plan.typed
            .iter()
            .map(|c| Field::new(&c.name, c.ty.data_type(), true)),
    );
    fields.extend([
        Field::new("columns", strings, true),
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
    ]);
    Arc::new(Schema::new(fields))
}

ingot_guest::export!(OsqueryFlatten);

#[cfg(test)]
mod tests;
