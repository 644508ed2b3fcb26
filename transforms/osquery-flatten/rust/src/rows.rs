//! From a message's row sets to output rows: every value checked, each row's
//! stable `row_id` computed, the configured columns converted to their
//! types. Nothing is written to the output until the whole message passes,
//! so a rejected message leaves no partial rows.

use std::collections::HashMap;
use std::fmt::Write as _;
use std::hash::{BuildHasherDefault, Hasher};

use crate::config::{ColumnType, QueryPlan};
use crate::json::{Json, Object};
use crate::message::{Action, Message, seconds_to_micros, str_seconds_to_micros};

/// A configured column's value, converted.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Cell<'a> {
    Null,
    /// A string borrowed from the message.
    Str(&'a str),
    /// A number kept as text in a string column.
    Text(String),
    /// An int64, or a timestamp in microseconds.
    Int(i64),
    Float(f64),
    Bool(bool),
}

/// One output row of a message.
#[derive(Debug)]
pub(crate) struct Row<'a> {
    pub(crate) action: Action,
    pub(crate) row_id: i64,
    /// The osquery row; `None` for the marker of an empty snapshot.
    pub(crate) columns: Option<&'a Object<'a>>,
}

/// The output rows of one message.
#[derive(Debug)]
pub(crate) struct Rows<'a> {
    pub(crate) rows: Vec<Row<'a>>,
    /// The configured columns of every row, row after row (`rows.len()`
    /// times the query plan's column count; empty without a plan).
    pub(crate) cells: Vec<Cell<'a>>,
    /// The snapshot's length, for a snapshot message.
    pub(crate) snapshot_rows: Option<i64>,
}

/// Checks and converts the rows of `message`, configured by `plan` (`None`
/// for a query without configuration). `scratch` is a reusable buffer.
///
/// # Errors
///
/// Why the message is rejected: a row that is not an object, a value that
/// is an object or an array, a configured value that does not convert.
pub(crate) fn resolve<'a>(
    message: &Message<'a>,
    plan: Option<&QueryPlan>,
    scratch: &mut String,
) -> Result<Rows<'a>, String> {
    let typed = plan.map_or(0, |p| p.columns.len());
    let count: usize = message.sets.iter().map(|set| set.rows.len()).sum();
    let snapshot_rows = match message.sets.as_slice() {
        [set] if set.action == Action::Snapshot => Some(count as i64),
        _ => None,
    };
    let mut rows = Vec::with_capacity(count.max(1));
    let mut cells = Vec::with_capacity(count.max(1) * typed);
    if snapshot_rows == Some(0) {
        // An empty snapshot still says something: the result is now empty.
        rows.push(Row {
            action: Action::Snapshot,
            row_id: 0,
            columns: None,
        });
        cells.resize(typed, Cell::Null);
    }
    let mut occurrences = Occurrences::default();
    for set in &message.sets {
        occurrences.clear();
        for (index, row) in set.rows.iter().enumerate() {
            let Json::Object(columns) = row else {
                let at = if set.indexed {
                    format!("{}[{index}]", set.path)
                } else {
                    set.path.to_owned()
                };
                return Err(format!("`{at}` is not an object: {row}"));
            };
            let content = content_hash(columns, scratch)
                .map_err(|(column, kind)| not_scalar(message.query, column, kind))?;
            let row_id = if set.rows.len() == 1 {
                content.with_occurrence(0)
            } else {
                let seen = occurrences.entry(content.0).or_insert(0);
                *seen += 1;
                content.with_occurrence(*seen - 1)
            };
            if let Some(plan) = plan {
                convert_row(message.query, plan, columns, &mut cells)?;
            }
            rows.push(Row {
                action: set.action,
                row_id,
                columns: Some(columns),
            });
        }
    }
    Ok(Rows {
        rows,
        cells,
        snapshot_rows,
    })
}

/// Appends the configured columns of one row to `cells`.
fn convert_row<'a>(
    query: &str,
    plan: &QueryPlan,
    columns: &'a Object<'a>,
    cells: &mut Vec<Cell<'a>>,
) -> Result<(), String> {
    for column in &plan.columns {
        let value = columns.get(&column.source);
        let cell = convert(value, column.ty).ok_or_else(|| {
            let shown = value.map_or_else(String::new, Json::to_string);
            format!(
                "query {query}: column {}: {shown} is not {}",
                column.source,
                column.ty.with_article()
            )
        })?;
        cells.push(cell);
    }
    Ok(())
}

fn not_scalar(query: &str, column: &str, value: &Json<'_>) -> String {
    let kind = if matches!(value, Json::Array(_)) {
        "an array"
    } else {
        "an object"
    };
    format!("query {query}: column {column}: {value} is {kind}, not a string or number")
}

/// The hash of a row's canonical content: its columns sorted by name, each
/// rendered `name=value` (a number as its JSON text, a bool as
/// `true`/`false`, a null as just `name`) and fed to FNV-1a 64 after its
/// byte length (8 bytes, little endian), so no two rows share an encoding.
///
/// # Errors
///
/// The column and value that is an object or an array.
fn content_hash<'m>(
    columns: &'m Object<'m>,
    scratch: &mut String,
) -> Result<Fnv, (&'m str, &'m Json<'m>)> {
    let mut hash = Fnv::new();
    // Rows are nested objects, which iterate sorted by key: the canonical
    // order.
    for (name, value) in columns.iter() {
        hash_entry(&mut hash, name, value, scratch)?;
    }
    Ok(hash)
}

fn hash_entry<'m>(
    hash: &mut Fnv,
    name: &'m str,
    value: &'m Json<'m>,
    scratch: &mut String,
) -> Result<(), (&'m str, &'m Json<'m>)> {
    let text = match value {
        Json::Null => None,
        Json::String(s) => Some(s.as_ref()),
        Json::Bool(b) => Some(if *b { "true" } else { "false" }),
        Json::Number(n) => {
            scratch.clear();
            write!(scratch, "{n}").expect("invariant: writing to a String cannot fail");
            Some(scratch.as_str())
        }
        Json::Array(_) | Json::Object(_) => return Err((name, value)),
    };
    let len = name.len() + text.map_or(0, |t| 1 + t.len());
    hash.write(&(len as u64).to_le_bytes());
    hash.write(name.as_bytes());
    if let Some(text) = text {
        hash.write(b"=");
        hash.write(text.as_bytes());
    }
    Ok(())
}

/// A configured column's value converted to `ty`; `None` when it does not
/// convert. Missing, null, and (except for strings) empty values are null.
pub(crate) fn convert<'a>(value: Option<&'a Json<'a>>, ty: ColumnType) -> Option<Cell<'a>> {
    let Some(value) = value else {
        return Some(Cell::Null);
    };
    match (ty, value) {
        (_, Json::Null) => Some(Cell::Null),
        (ColumnType::String, Json::String(s)) => Some(Cell::Str(s)),
        (ColumnType::String, Json::Number(n)) => Some(Cell::Text(n.to_string())),
        (ColumnType::String, Json::Bool(b)) => Some(Cell::Str(if *b { "true" } else { "false" })),
        (_, Json::String(s)) if s.is_empty() => Some(Cell::Null),
        (ColumnType::Int64, Json::Number(n)) => n.as_i64().map(Cell::Int),
        (ColumnType::Int64, Json::String(s)) => s.parse().ok().map(Cell::Int),
        (ColumnType::Float64, Json::Number(n)) => n.as_f64().map(Cell::Float),
        (ColumnType::Float64, Json::String(s)) => s.parse().ok().map(Cell::Float),
        (ColumnType::Bool, Json::Bool(b)) => Some(Cell::Bool(*b)),
        (ColumnType::Bool, Json::String(s)) => match s.as_ref() {
            "true" | "1" => Some(Cell::Bool(true)),
            "false" | "0" => Some(Cell::Bool(false)),
            _ => None,
        },
        (ColumnType::Bool, Json::Number(n)) => match n.as_i64() {
            Some(1) => Some(Cell::Bool(true)),
            Some(0) => Some(Cell::Bool(false)),
            _ => None,
        },
        (ColumnType::Timestamp, Json::String(s)) => str_seconds_to_micros(s).map(Cell::Int),
        (ColumnType::Timestamp, number @ Json::Number(_)) => {
            seconds_to_micros(number).map(Cell::Int)
        }
        _ => None,
    }
}

/// FNV-1a, 64 bits.
#[derive(Debug, Clone, Copy)]
struct Fnv(u64);

impl Fnv {
    const OFFSET_BASIS: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;

    fn new() -> Self {
        Fnv(Self::OFFSET_BASIS)
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 ^= u64::from(*byte);
            self.0 = self.0.wrapping_mul(Self::PRIME);
        }
    }

    /// The row id: the content hash continued with the occurrence index
    /// (8 bytes, little endian), its bits read as an i64.
    fn with_occurrence(mut self, occurrence: u64) -> i64 {
        self.write(&occurrence.to_le_bytes());
        i64::from_ne_bytes(self.0.to_ne_bytes())
    }
}

/// How often each content hash was seen in a row set.
type Occurrences = HashMap<u64, u64, BuildHasherDefault<Prehashed>>;

/// A hasher for keys that are already hashes.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, n: u64) {
        self.0 = n;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fnv1a_matches_the_reference_vectors() {
        // From the FNV reference test suite.
        let hash = |bytes: &[u8]| {
            let mut fnv = Fnv::new();
            fnv.write(bytes);
            fnv.0
        };
        assert_eq!(hash(b""), 0xcbf2_9ce4_8422_2325);
        assert_eq!(hash(b"a"), 0xaf63_dc4c_8601_ec8c);
        assert_eq!(hash(b"foobar"), 0x8594_4171_f739_67e8);
    }

    #[test]
    fn content_ignores_key_order_and_number_spelling_matters() {
        let mut scratch = String::new();
        let mut id = |json: &str| {
            // Rows are nested in their message, and nested objects are sorted.
            let message = format!(r#"{{"row":{json}}}"#);
            let Ok(Json::Object(message)) = crate::json::parse(message.as_bytes()) else {
                panic!("{json} is not JSON");
            };
            let Some(Json::Object(row)) = message.get("row") else {
                panic!("{json} is not an object");
            };
            content_hash(row, &mut scratch)
                .expect("scalar row")
                .with_occurrence(0)
        };
        let a = id(r#"{"pid":"1","name":"x"}"#);
        assert_eq!(a, id(r#"{"name":"x","pid":"1"}"#));
        // A number and a string with the same text render the same.
        assert_eq!(a, id(r#"{"name":"x","pid":1}"#));
        assert_ne!(a, id(r#"{"name":"x","pid":"2"}"#));
        // Length prefixes keep entry boundaries apart.
        assert_ne!(id(r#"{"a":"1b=2"}"#), id(r#"{"a":"1","b":"2"}"#));
        assert_ne!(id(r#"{"a":null}"#), id(r#"{"a":""}"#));
    }

    #[test]
    fn conversions() {
        let v = |json: &'static str| crate::json::parse(json.as_bytes()).expect("valid value");
        let cases = [
            (ColumnType::Int64, r#""42""#, Some(Cell::Int(42))),
            (ColumnType::Int64, "-7", Some(Cell::Int(-7))),
            (ColumnType::Int64, r#""""#, Some(Cell::Null)),
            (ColumnType::Int64, "4.5", None),
            (ColumnType::Int64, "18446744073709551615", None),
            (ColumnType::Int64, "true", None),
            (ColumnType::Float64, r#""0.25""#, Some(Cell::Float(0.25))),
            (ColumnType::Float64, "3", Some(Cell::Float(3.0))),
            (ColumnType::Float64, r#""x""#, None),
            (ColumnType::Bool, r#""1""#, Some(Cell::Bool(true))),
            (ColumnType::Bool, r#""false""#, Some(Cell::Bool(false))),
            (ColumnType::Bool, "0", Some(Cell::Bool(false))),
            (ColumnType::Bool, "true", Some(Cell::Bool(true))),
            (ColumnType::Bool, r#""yes""#, None),
            (ColumnType::Bool, "2", None),
            (
                ColumnType::Timestamp,
                "1412123850",
                Some(Cell::Int(1_412_123_850_000_000)),
            ),
            (
                ColumnType::Timestamp,
                r#""1.5""#,
                Some(Cell::Int(1_500_000)),
            ),
            (ColumnType::Timestamp, r#""soon""#, None),
            (ColumnType::Timestamp, "1e300", None),
            (ColumnType::String, r#""""#, Some(Cell::Str(""))),
            (ColumnType::String, "5432", Some(Cell::Text("5432".into()))),
            (ColumnType::String, "null", Some(Cell::Null)),
        ];
        for (ty, json, expected) in cases {
            let value = v(json);
            assert_eq!(convert(Some(&value), ty), expected, "{json} as {ty:?}");
        }
        assert_eq!(convert(None, ColumnType::Int64), Some(Cell::Null));
    }
}
