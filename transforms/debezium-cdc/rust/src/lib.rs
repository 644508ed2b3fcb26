//! `debezium-cdc`: the silver stage for Debezium change events from
//! PostgreSQL and MySQL, turning a table's change stream into a typed copy
//! of the table.
//!
//! # Reads
//!
//! The bronze table's Change Data Feed: each `insert` row is one Kafka
//! record whose `value` is one Debezium JSON change event, with or without
//! the `schema`/`payload` envelope of Kafka Connect's JSON converter (other
//! change types are skipped: bronze is append-only).
//!
//! | event | output |
//! |---|---|
//! | `op` `c`, `r` (snapshot), `u` | the `after` image |
//! | `op` `d` | a delete marker made of the `before` image (with `REPLICA IDENTITY DEFAULT` only its key is set; the other columns are null) |
//! | null Kafka value (the tombstone after a delete), null `payload` | nothing |
//! | `op` `m` (PostgreSQL logical decoding message) | nothing |
//! | `op` `t` (truncate) | rejected: a truncate cannot be applied row by row to an upsert table; empty the output table and re-snapshot the source table |
//!
//! A primary-key change arrives as a delete of the old key and a create of
//! the new one, and comes out as exactly that.
//!
//! # Writes
//!
//! The configured columns (nullable, in `columns` order), then:
//!
//! | column | type | |
//! |---|---|---|
//! | `_op` | Utf8 | `c`, `r`, `u` or `d` |
//! | `_source_ts` | Timestamp(µs, UTC), nullable | `source.ts_ms`: when the change was made in the database |
//! | `_seq` | Utf8 | the source position, whose byte order is the source's order |
//! | `_deleted` | Boolean | true for `d` |
//!
//! `_seq` is `source.lsn` as 16 lowercase hex digits for PostgreSQL, and for
//! MySQL the binlog file index (`mysql-bin.000003` -> 3) as 8 hex digits,
//! `source.pos` as 16 and `source.row` (default 0) as 8. Two things make it
//! order a row's events correctly, and both hold for these connectors:
//!
//! - all events of one output table use the same form (one connector per
//!   table): a 16-digit LSN and a 32-digit binlog position do not compare;
//! - snapshot events (`r`) carry the position the stream resumes from (the
//!   replication slot's LSN, the binlog position read when the snapshot
//!   began), so they sort before the streamed changes that follow them;
//!   incremental snapshot reads carry the stream's position when their
//!   chunk was read, which orders them among the streamed changes the same
//!   way. Should a streamed change of a row ever carry exactly its snapshot
//!   read's position, the two would tie, and the upsert keeps the row it
//!   has on a tie (only a higher sequence replaces).
//!
//! Events without either position (other connectors) are rejected.
//!
//! The output table is an upsert on the primary key with `_seq` as the
//! sequence and `_deleted` as the delete column: updates replace, deletes
//! remove, and an event older than the row's latest (out of order, or
//! redelivered) changes nothing.
//!
//! # Config
//!
//! | key | | |
//! |---|---|---|
//! | `columns` | required | comma-separated `name:type`, the output columns in order |
//! | `key` | required | comma-separated primary-key columns, each one of `columns` |
//! | `table` | optional | `schema.table` (PostgreSQL) or `database.table` (MySQL): events of any other table are rejected, naming both (a misrouted topic) |
//!
//! Any other key is an error. Types, and what each accepts (null is null in
//! every type; a field missing from the image is null too, except in a key
//! column):
//!
//! | type | Arrow | accepts |
//! |---|---|---|
//! | `string` | Utf8 | strings; numbers and booleans as their JSON text |
//! | `int32`, `int64` | Int32, Int64 | integers in range |
//! | `float64` | Float64 | numbers; strings holding one (`decimal.handling.mode=string`, `"NaN"`) |
//! | `bool` | Boolean | `true`, `false`, 0 and 1 (MySQL `TINYINT(1)`) |
//! | `date` | Date32 | days since the epoch (`io.debezium.time.Date`), `"YYYY-MM-DD"` |
//! | `timestamp` | Timestamp(µs, UTC) | RFC 3339 strings with an offset (`io.debezium.time.ZonedTimestamp`); integers in the unit the envelope's schema names (`io.debezium.time.Timestamp` ms, `MicroTimestamp` µs, `NanoTimestamp` ns), µs without an envelope (`MicroTimestamp` is what PostgreSQL sends for `timestamp`) |
//! | `decimal(p,s)` | Decimal128(p, s) | decimal strings and numbers (`decimal.handling.mode=string` or `double`), exactly; base64 (`precise`) when the envelope's schema gives the scale, and `{"scale","value"}` objects (`VariableScaleDecimal`) |
//! | `json` | Utf8 | any value as its JSON text; a string as it is (Debezium sends `json`/`jsonb` columns as strings holding JSON) |
//!
//! Fields of the image that are not configured are ignored.
//!
//! An upsert replaces whole rows, so an `after` image must be whole: with
//! PostgreSQL's `REPLICA IDENTITY DEFAULT`, an update that leaves a TOASTed
//! value (a large text or JSON) unchanged sends Debezium's placeholder
//! (`__debezium_unavailable_value`) instead, and that is what the row gets.
//! Use `REPLICA IDENTITY FULL` for tables with such columns.
//!
//! # Rejects
//!
//! Each with a reason naming the field or column: a value that is not
//! UTF-8 or not JSON, not an object; a missing, null or unknown `op`; `c`,
//! `r` or `u` without an object `after`, `d` without an object `before`; a
//! key column null or missing; a value that does not convert to its column
//! type (with the value); `source` missing or not an object; no source
//! position; an event of another table than `table`; a truncate.
//!
//! # Pipeline
//!
//! ```toml
//! [[stages]]
//! name = "voters"                 # reads bronze: one topic, one table
//! module = "../target/guests/wasm32-wasip2/guest/debezium_cdc.wasm"
//! mode = "upsert"
//! keys = ["id"]                   # the `key` columns
//! sequence = "_seq"
//! delete-column = "_deleted"
//!
//! [stages.config]
//! table = "public.voters"
//! key = "id"
//! columns = "id:int64, name:string, city:string, party:string, registered:timestamp"
//! ```

mod config;
mod decimal;
mod event;
mod rows;
mod schema;
mod value;

use ingot_guest::arrow_array::RecordBatch;
use ingot_guest::{ChangeType, Config, Error, Output, Transform, column_bytes};
use serde_json::value::RawValue;

use config::CdcConfig;
use event::{Decoded, Meta, snippet};
use rows::RowsBuilder;
use schema::Semantics;
use value::{Scalar, convert, read_image};

/// Turns Debezium change events into typed upsert rows.
pub struct DebeziumCdc {
    config: CdcConfig,
    semantics: Semantics,
}

impl Transform for DebeziumCdc {
    fn init(config: &Config) -> Result<Self, Error> {
        let config = CdcConfig::parse(config)?;
        Ok(Self {
            semantics: Semantics::new(config.columns.len()),
            config,
        })
    }

    fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
        let changes = ChangeType::column(input)?;
        let values = column_bytes(input, "value")?;
        let mut rows = RowsBuilder::new(&self.config.columns, values.len())?;
        let mut rejected = Vec::new();
        let mut slots = vec![None; self.config.columns.len()];
        let mut scalars = Vec::with_capacity(self.config.columns.len());
        for (row, (change, value)) in changes.into_iter().zip(&values).enumerate() {
            // A null value is the Kafka tombstone that follows a delete.
            let (ChangeType::Insert, Some(bytes)) = (change, value) else {
                continue;
            };
            match self.read(bytes, &mut slots, &mut scalars) {
                Ok(Some(meta)) => rows.append(&scalars, &meta),
                Ok(None) => {}
                Err(reason) => rejected.push((row, reason)),
            }
        }
        let mut output = Output::new(rows.finish(self.config.schema.clone())?);
        for (row, reason) in rejected {
            output.push_reject(row, reason);
        }
        Ok(output)
    }
}

impl DebeziumCdc {
    /// Reads one event into `scalars` (one per configured column) and
    /// returns its metadata, `None` for an event that makes no row, or the
    /// reason to reject it.
    fn read<'a>(
        &mut self,
        bytes: &'a [u8],
        slots: &mut [Option<&'a RawValue>],
        scalars: &mut Vec<Scalar<'a>>,
    ) -> Result<Option<Meta>, String> {
        let Decoded::Change(change) = event::decode(bytes, self.config.table.as_ref())? else {
            return Ok(None);
        };
        let image = change.meta.op.image();
        read_image(change.image, &self.config.columns, slots)
            .map_err(|e| format!("`{image}` is not a valid object: {e}"))?;
        let semantics = self.semantics.of(change.schema, &self.config.columns);
        scalars.clear();
        for ((column, slot), semantic) in
            self.config.columns.iter().zip(slots.iter()).zip(semantics)
        {
            let value = match slot {
                None => Scalar::Null,
                Some(raw) => convert(raw, column.kind, *semantic).map_err(|detail| {
                    let detail = detail.map(|d| format!(" ({d})")).unwrap_or_default();
                    format!(
                        "`{image}.{}` is not {}: {}{detail}",
                        column.name,
                        column.kind,
                        snippet(raw)
                    )
                })?,
            };
            if column.key && value == Scalar::Null {
                let how = if slot.is_some() {
                    "null in"
                } else {
                    "missing from"
                };
                return Err(format!("key column `{}` is {how} `{image}`", column.name));
            }
            scalars.push(value);
        }
        Ok(Some(change.meta))
    }
}

ingot_guest::export!(DebeziumCdc);

#[cfg(test)]
mod tests;
