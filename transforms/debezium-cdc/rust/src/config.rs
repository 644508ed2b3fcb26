//! The stage configuration, parsed and checked once at `init`: the output
//! columns with their types and key flags, the optional table filter, and
//! the output schema.

use std::fmt;
use std::sync::Arc;

use ingot_guest::arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};
use ingot_guest::{Config, Error};

/// The operation of the change, `c`, `r`, `u` or `d`.
pub const OP: &str = "_op";
/// The source commit time (`source.ts_ms`).
pub const SOURCE_TS: &str = "_source_ts";
/// The source position: the upsert's sequence column.
pub const SEQ: &str = "_seq";
/// True for a delete marker: the upsert's delete column.
pub const DELETED: &str = "_deleted";

const METADATA: [&str; 4] = [OP, SOURCE_TS, SEQ, DELETED];
const KEYS: [&str; 3] = ["key", "columns", "table"];
const TYPES: &str = "string, int32, int64, float64, bool, date, timestamp, decimal(p,s) or json";

/// The Arrow type an output column holds and what it accepts.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ColumnType {
    /// Utf8: a JSON string; numbers and booleans as their JSON text.
    String,
    /// Int32: a JSON integer in range.
    Int32,
    /// Int64: a JSON integer in range.
    Int64,
    /// Float64: a JSON number or a string holding one (`"NaN"` too).
    Float64,
    /// Boolean: `true`/`false`, or the integers 0 and 1 (MySQL `TINYINT(1)`).
    Bool,
    /// Date32: days since the epoch, or `YYYY-MM-DD`.
    Date,
    /// Timestamp(µs, UTC): an integer in the unit the envelope's schema
    /// names (µs without one), or an RFC 3339 string with an offset.
    Timestamp,
    /// Decimal128(p, s): a decimal string or JSON number, exactly.
    Decimal {
        /// Total digits, 1 to 38.
        precision: u8,
        /// Digits after the point, 0 to `precision`.
        scale: i8,
    },
    /// Utf8: any JSON value as JSON text; a string is kept as it is, since
    /// Debezium sends JSON columns as strings holding JSON.
    Json,
}

impl ColumnType {
    fn parse(text: &str) -> Option<ColumnType> {
        let lower = text.trim().to_ascii_lowercase();
        Some(match lower.as_str() {
            "string" => ColumnType::String,
            "int32" => ColumnType::Int32,
            "int64" => ColumnType::Int64,
            "float64" => ColumnType::Float64,
            "bool" => ColumnType::Bool,
            "date" => ColumnType::Date,
            "timestamp" => ColumnType::Timestamp,
            "json" => ColumnType::Json,
            other => {
                let inner = other.strip_prefix("decimal(")?.strip_suffix(')')?;
                let (precision, scale) = inner.split_once(',')?;
                let precision: u8 = precision.trim().parse().ok()?;
                let scale: i8 = scale.trim().parse().ok()?;
                if !(1..=38).contains(&precision) || scale < 0 || scale as u8 > precision {
                    return None;
                }
                ColumnType::Decimal { precision, scale }
            }
        })
    }

    /// The Arrow type of the output column.
    pub fn data_type(self) -> DataType {
        match self {
            ColumnType::String | ColumnType::Json => DataType::Utf8,
            ColumnType::Int32 => DataType::Int32,
            ColumnType::Int64 => DataType::Int64,
            ColumnType::Float64 => DataType::Float64,
            ColumnType::Bool => DataType::Boolean,
            ColumnType::Date => DataType::Date32,
            ColumnType::Timestamp => utc(),
            ColumnType::Decimal { precision, scale } => DataType::Decimal128(precision, scale),
        }
    }
}

/// How a reject reason names a type: "is not {self}".
impl fmt::Display for ColumnType {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            ColumnType::String => f.write_str("a string"),
            ColumnType::Int32 => f.write_str("an int32"),
            ColumnType::Int64 => f.write_str("an int64"),
            ColumnType::Float64 => f.write_str("a float64"),
            ColumnType::Bool => f.write_str("a bool"),
            ColumnType::Date => f.write_str("a date"),
            ColumnType::Timestamp => f.write_str("a timestamp"),
            ColumnType::Decimal { precision, scale } => write!(f, "a decimal({precision},{scale})"),
            ColumnType::Json => f.write_str("JSON"),
        }
    }
}

/// One configured output column.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Column {
    /// The field name in the row images, and of the output column.
    pub name: String,
    /// What it holds.
    pub kind: ColumnType,
    /// Part of the primary key: must not be null.
    pub key: bool,
}

/// `table`: the one table whose events the stage accepts.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TableFilter {
    /// The PostgreSQL schema or the MySQL database.
    pub namespace: String,
    /// The table name.
    pub table: String,
}

impl fmt::Display for TableFilter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}.{}", self.namespace, self.table)
    }
}

/// The checked stage configuration.
#[derive(Debug, Clone)]
pub struct CdcConfig {
    /// The output columns, in output order.
    pub columns: Vec<Column>,
    /// The table filter, if any.
    pub table: Option<TableFilter>,
    /// The output schema: the columns, then the metadata columns.
    pub schema: SchemaRef,
}

impl CdcConfig {
    /// Parses and checks the stage's `config` table.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidConfig`] naming the key and what is wrong with it.
    pub fn parse(config: &Config) -> Result<CdcConfig, Error> {
        if let Some((key, _)) = config.iter().find(|(key, _)| !KEYS.contains(key)) {
            return invalid(format!("unknown key `{key}` (known: {})", KEYS.join(", ")));
        }
        let mut columns = parse_columns(config.require("columns")?)?;
        let mut keys = Vec::new();
        for name in config.require("key")?.split(',').map(str::trim) {
            if name.is_empty() {
                return invalid("key `key` has an empty column name");
            }
            if keys.contains(&name) {
                return invalid(format!("key `key` names column `{name}` twice"));
            }
            let Some(column) = columns.iter_mut().find(|c| c.name == name) else {
                return invalid(format!("key column `{name}` is not in `columns`"));
            };
            column.key = true;
            keys.push(name);
        }
        let table = config.get("table").map(parse_table).transpose()?;
        let schema = schema(&columns);
        Ok(CdcConfig {
            columns,
            table,
            schema,
        })
    }
}

/// `id:int64, name:string, price:decimal(10,2)`: commas inside parentheses
/// belong to the type.
fn parse_columns(text: &str) -> Result<Vec<Column>, Error> {
    let mut columns: Vec<Column> = Vec::new();
    for entry in split_top_level(text) {
        let entry = entry.trim();
        let Some((name, kind)) = entry.rsplit_once(':') else {
            return invalid(format!("key `columns`: `{entry}` is not `name:type`"));
        };
        let name = name.trim();
        if name.is_empty() {
            return invalid(format!("key `columns`: `{entry}` has no column name"));
        }
        let Some(kind) = ColumnType::parse(kind) else {
            return invalid(format!(
                "key `columns`: column `{name}` has unknown type `{}` (expected {TYPES})",
                kind.trim()
            ));
        };
        if METADATA.contains(&name) {
            return invalid(format!(
                "key `columns`: column `{name}` is reserved for the metadata the stage adds ({})",
                METADATA.join(", ")
            ));
        }
        if columns.iter().any(|c| c.name == name) {
            return invalid(format!("key `columns` names column `{name}` twice"));
        }
        columns.push(Column {
            name: name.to_owned(),
            kind,
            key: false,
        });
    }
    Ok(columns)
}

fn split_top_level(text: &str) -> Vec<&str> {
    let mut parts = Vec::new();
    let (mut depth, mut start) = (0_i32, 0);
    for (i, c) in text.char_indices() {
        match c {
            '(' => depth += 1,
            ')' => depth -= 1,
            ',' if depth == 0 => {
                parts.push(&text[start..i]);
                start = i + 1;
            }
            _ => {}
        }
    }
    parts.push(&text[start..]);
    parts
}

fn parse_table(text: &str) -> Result<TableFilter, Error> {
    match text.trim().split_once('.') {
        Some((namespace, table)) if !namespace.is_empty() && !table.is_empty() => Ok(TableFilter {
            namespace: namespace.to_owned(),
            table: table.to_owned(),
        }),
        _ => invalid(format!(
            "key `table` = `{text}` is not `schema.table` (PostgreSQL) or `database.table` (MySQL)"
        )),
    }
}

fn schema(columns: &[Column]) -> SchemaRef {
    let mut fields: Vec<Field> = columns
        .iter()
        .map(|c| Field::new(&c.name, c.kind.data_type(), true))
        .collect();
    fields.extend([
        Field::new(OP, DataType::Utf8, false),
        Field::new(SOURCE_TS, utc(), true),
        Field::new(SEQ, DataType::Utf8, false),
        Field::new(DELETED, DataType::Boolean, false),
    ]);
    Arc::new(Schema::new(fields))
}

fn utc() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn invalid<T>(message: impl Into<String>) -> Result<T, Error> {
    Err(Error::InvalidConfig(message.into()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn types_parse_in_any_case_and_decimals_keep_their_commas() {
        let columns = parse_columns(
            " id:int64, Price : DECIMAL(10, 2),at:timestamp,d:date,ok:bool,n:int32,x:float64,s:string,j:json",
        )
        .expect("valid columns");
        let kinds: Vec<_> = columns.iter().map(|c| (c.name.as_str(), c.kind)).collect();
        assert_eq!(
            kinds,
            [
                ("id", ColumnType::Int64),
                (
                    "Price",
                    ColumnType::Decimal {
                        precision: 10,
                        scale: 2
                    }
                ),
                ("at", ColumnType::Timestamp),
                ("d", ColumnType::Date),
                ("ok", ColumnType::Bool),
                ("n", ColumnType::Int32),
                ("x", ColumnType::Float64),
                ("s", ColumnType::String),
                ("j", ColumnType::Json),
            ]
        );
    }

    #[test]
    fn decimal_bounds_are_checked() {
        for bad in [
            "decimal(0,0)",
            "decimal(39,0)",
            "decimal(5,6)",
            "decimal(5,-1)",
            "decimal(5)",
            "decimal",
        ] {
            assert_eq!(ColumnType::parse(bad), None, "{bad}");
        }
        assert_eq!(
            ColumnType::parse("decimal(38,38)"),
            Some(ColumnType::Decimal {
                precision: 38,
                scale: 38
            })
        );
    }
}
