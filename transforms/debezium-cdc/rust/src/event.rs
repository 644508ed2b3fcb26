//! One Kafka value as a Debezium change event: the envelope, tombstones,
//! `op`, `source` (position, time, table) and which row image to read.
//!
//! Fields are borrowed as [`RawValue`]s: the parser only checks and slices
//! what the stage does not read (the envelope's `schema`, `transaction`,
//! most of `source`), and a reject reason can quote the value as it came.

use std::borrow::Cow;
use std::fmt;

use serde::{Deserialize, Deserializer};
use serde_json::value::RawValue;

use crate::config::TableFilter;

/// An event's operation, once skipped and refused ones are out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Op {
    /// `c`: an insert.
    Create,
    /// `r`: a snapshot read.
    Read,
    /// `u`: an update.
    Update,
    /// `d`: a delete.
    Delete,
}

impl Op {
    /// The Debezium spelling, which `_op` holds.
    pub fn as_str(self) -> &'static str {
        match self {
            Op::Create => "c",
            Op::Read => "r",
            Op::Update => "u",
            Op::Delete => "d",
        }
    }

    /// The row image the output row is made of.
    pub fn image(self) -> &'static str {
        match self {
            Op::Delete => "before",
            Op::Create | Op::Read | Op::Update => "after",
        }
    }
}

/// Where the event is in the source's log.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Position {
    /// PostgreSQL: `source.lsn`.
    Lsn(u64),
    /// MySQL: the binlog file's index (`mysql-bin.000003` -> 3),
    /// `source.pos` and `source.row`.
    Binlog {
        /// The number after the file name's last `.`.
        file: u32,
        /// The byte position in the file.
        pos: u64,
        /// The row within the binlog event.
        row: u32,
    },
}

/// The `_seq` text: fixed-width lowercase hex, so byte order is log order.
impl fmt::Display for Position {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match *self {
            Position::Lsn(lsn) => write!(f, "{lsn:016x}"),
            Position::Binlog { file, pos, row } => write!(f, "{file:08x}{pos:016x}{row:08x}"),
        }
    }
}

/// An event's metadata columns.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Meta {
    /// `_op`.
    pub op: Op,
    /// `_source_ts`, microseconds.
    pub source_ts: Option<i64>,
    /// `_seq`.
    pub position: Position,
}

/// An event that makes an output row: its metadata and the row image to
/// read the columns from.
#[derive(Debug)]
pub struct Change<'a> {
    /// The metadata columns.
    pub meta: Meta,
    /// `after` (c, r, u) or `before` (d), an object.
    pub image: &'a RawValue,
    /// The envelope's schema, if the event came in one.
    pub schema: Option<&'a RawValue>,
}

/// What a Kafka value amounts to.
#[derive(Debug)]
pub enum Decoded<'a> {
    /// An output row.
    Change(Change<'a>),
    /// Nothing: a null payload (tombstone) or a logical message (`op` m).
    Skip,
}

/// A present field is `Some(None)` when null; absent is `None`.
type Field<'a> = Option<Option<&'a RawValue>>;

/// A Kafka value's top level: either the `schema`/`payload` envelope or
/// the event itself. Other fields (`ts_ms`, `transaction`, ...) are skipped.
#[derive(Deserialize)]
struct Message<'a> {
    #[serde(borrow, default, deserialize_with = "present")]
    schema: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    payload: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    op: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    before: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    after: Field<'a>,
    #[serde(borrow, default, deserialize_with = "present")]
    source: Field<'a>,
}

/// The `source` block: the fields the stage reads, null as absent.
#[derive(Deserialize)]
struct Source<'a> {
    #[serde(borrow, default)]
    ts_ms: Option<&'a RawValue>,
    #[serde(borrow, default)]
    lsn: Option<&'a RawValue>,
    #[serde(borrow, default)]
    file: Option<&'a RawValue>,
    #[serde(borrow, default)]
    pos: Option<&'a RawValue>,
    #[serde(borrow, default)]
    row: Option<&'a RawValue>,
    #[serde(borrow, default)]
    db: Option<&'a RawValue>,
    #[serde(borrow, default)]
    schema: Option<&'a RawValue>,
    #[serde(borrow, default)]
    table: Option<&'a RawValue>,
}

fn present<'de: 'a, 'a, D: Deserializer<'de>>(deserializer: D) -> Result<Field<'a>, D::Error> {
    Option::<&'a RawValue>::deserialize(deserializer).map(Some)
}

/// Reads one Kafka value. `Err` is the reason to reject it.
pub fn decode<'a>(bytes: &'a [u8], table: Option<&TableFilter>) -> Result<Decoded<'a>, String> {
    let text = std::str::from_utf8(bytes).map_err(|e| format!("value is not UTF-8: {e}"))?;
    let message: Message = object(text, "value")?;
    let (event, schema) = match (message.schema, message.payload) {
        (Some(schema), Some(payload)) => {
            let Some(payload) = payload else {
                return Ok(Decoded::Skip);
            };
            (object::<Message>(payload.get(), "`payload`")?, schema)
        }
        _ => (message, None),
    };

    let op = match kind(required(event.op, "op")?)? {
        Kind::Row(op) => Some(op),
        Kind::Truncate => None,
        Kind::Message => return Ok(Decoded::Skip),
    };
    let source: Source = object(required(event.source, "source")?.get(), "`source`")?;
    if let Some(filter) = table {
        check_table(&source, filter)?;
    }
    let Some(op) = op else {
        return Err(truncate_reason(&source));
    };
    let meta = Meta {
        op,
        position: position(&source)?,
        source_ts: source_ts(&source)?,
    };
    Ok(Decoded::Change(Change {
        meta,
        image: image(op, &event)?,
        schema,
    }))
}

/// What an `op` asks for.
enum Kind {
    /// `c`, `r`, `u`, `d`: a row.
    Row(Op),
    /// `t`: a truncate.
    Truncate,
    /// `m`: a logical decoding message.
    Message,
}

fn kind(op: &RawValue) -> Result<Kind, String> {
    Ok(match string(op).as_deref() {
        Some("c") => Kind::Row(Op::Create),
        Some("r") => Kind::Row(Op::Read),
        Some("u") => Kind::Row(Op::Update),
        Some("d") => Kind::Row(Op::Delete),
        Some("t") => Kind::Truncate,
        Some("m") => Kind::Message,
        _ => {
            return Err(format!(
                "unknown `op` {} (expected \"c\", \"r\", \"u\", \"d\", \"t\" or \"m\")",
                snippet(op)
            ));
        }
    })
}

/// `source.ts_ms` in microseconds.
fn source_ts(source: &Source) -> Result<Option<i64>, String> {
    let Some(raw) = source.ts_ms else {
        return Ok(None);
    };
    raw.get()
        .parse::<i64>()
        .ok()
        .and_then(|ms| ms.checked_mul(1000))
        .map(Some)
        .ok_or_else(|| {
            format!(
                "`source.ts_ms` is not an integer millisecond time: {}",
                snippet(raw)
            )
        })
}

/// The row image `op` is made of: `after`, or `before` for a delete.
fn image<'a>(op: Op, event: &Message<'a>) -> Result<&'a RawValue, String> {
    let image = match op {
        Op::Delete => event.before,
        Op::Create | Op::Read | Op::Update => event.after,
    };
    match image {
        Some(Some(image)) if image.get().starts_with('{') => Ok(image),
        found => {
            let found = match found {
                None => "none".into(),
                Some(None) => "null".into(),
                Some(Some(raw)) => snippet(raw),
            };
            Err(format!(
                "op \"{}\" needs an object `{}`, found {found}",
                op.as_str(),
                op.image()
            ))
        }
    }
}

/// `text` as the struct `T`, if it is a JSON object; `what` names it in the
/// reason otherwise.
fn object<'a, T: Deserialize<'a>>(text: &'a str, what: &str) -> Result<T, String> {
    if !text.trim_start().starts_with('{') {
        return Err(match serde_json::from_str::<&RawValue>(text) {
            Ok(raw) => format!("{what} is not a JSON object: {}", snippet(raw)),
            Err(e) => format!("value is not valid JSON: {e}"),
        });
    }
    serde_json::from_str(text).map_err(|e| match e.classify() {
        serde_json::error::Category::Data => format!("{what} is not a Debezium event: {e}"),
        _ => format!("value is not valid JSON: {e}"),
    })
}

fn required<'a>(field: Field<'a>, name: &str) -> Result<&'a RawValue, String> {
    match field {
        Some(Some(raw)) => Ok(raw),
        Some(None) => Err(format!("`{name}` is null")),
        None => Err(format!("missing `{name}`")),
    }
}

/// The JSON string `raw`, unescaped; `None` when it is not a string.
pub fn string(raw: &RawValue) -> Option<Cow<'_, str>> {
    let text = raw.get();
    let inner = text.strip_prefix('"')?.strip_suffix('"')?;
    if inner.contains('\\') {
        serde_json::from_str::<String>(text).ok().map(Cow::Owned)
    } else {
        Some(Cow::Borrowed(inner))
    }
}

/// `raw` for a reject reason: its JSON text, cut after 80 characters.
pub fn snippet(raw: &RawValue) -> String {
    const MAX: usize = 80;
    let text = raw.get();
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}…", &text[..cut]),
        None => text.to_owned(),
    }
}

/// A `source` name field (`db`, `schema`, `table`), if it is a string.
fn name(field: Option<&RawValue>) -> Option<Cow<'_, str>> {
    field.and_then(string)
}

fn check_table(source: &Source, filter: &TableFilter) -> Result<(), String> {
    let Some(table) = name(source.table) else {
        return Err(format!(
            "`source.table` is missing, so the event cannot be checked against the configured table `{filter}`"
        ));
    };
    let (schema, db) = (name(source.schema), name(source.db));
    let matches =
        |namespace: &Option<Cow<str>>| namespace.as_deref() == Some(filter.namespace.as_str());
    if table == filter.table && (matches(&schema) || matches(&db)) {
        return Ok(());
    }
    let namespace = schema.or(db).unwrap_or(Cow::Borrowed("?"));
    Err(format!(
        "event is for table `{namespace}.{table}`, not the configured table `{filter}` (is the topic routed to the right stage?)"
    ))
}

fn position(source: &Source) -> Result<Position, String> {
    let unsigned = |raw: &RawValue, name: &str| {
        raw.get().parse::<u64>().map_err(|_| {
            format!(
                "`source.{name}` is not a non-negative integer: {}",
                snippet(raw)
            )
        })
    };
    if let Some(lsn) = source.lsn {
        return Ok(Position::Lsn(unsigned(lsn, "lsn")?));
    }
    let (Some(file), Some(pos)) = (source.file, source.pos) else {
        return Err(
            "no source position: `source` has neither `lsn` (PostgreSQL) nor `file` and `pos` (MySQL)".into(),
        );
    };
    let name =
        string(file).ok_or_else(|| format!("`source.file` is not a string: {}", snippet(file)))?;
    let index = name
        .rsplit_once('.')
        .map(|(_, index)| index)
        .filter(|index| !index.is_empty() && index.bytes().all(|b| b.is_ascii_digit()))
        .and_then(|index| index.parse::<u32>().ok())
        .ok_or_else(|| {
            format!("`source.file` \"{name}\" does not end in a numeric binlog index")
        })?;
    let row = match source.row {
        Some(row) => u32::try_from(unsigned(row, "row")?)
            .map_err(|_| format!("`source.row` is out of range: {}", snippet(row)))?,
        None => 0,
    };
    Ok(Position::Binlog {
        file: index,
        pos: unsigned(pos, "pos")?,
        row,
    })
}

fn truncate_reason(source: &Source) -> String {
    let table = match name(source.table) {
        Some(table) => {
            let namespace = name(source.schema)
                .or(name(source.db))
                .unwrap_or(Cow::Borrowed("?"));
            format!(" of `{namespace}.{table}`")
        }
        None => String::new(),
    };
    format!(
        "truncate (op \"t\"){table} cannot be applied row by row to an upsert table: empty the output table \
         and re-snapshot the source table (a Debezium ad-hoc snapshot signal) to rebuild it"
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn positions_print_as_fixed_width_hex() {
        assert_eq!(Position::Lsn(24_023_119).to_string(), "00000000016e904f");
        assert_eq!(Position::Lsn(u64::MAX).to_string(), "ffffffffffffffff");
        let binlog = Position::Binlog {
            file: 3,
            pos: 484,
            row: 2,
        };
        assert_eq!(binlog.to_string(), "0000000300000000000001e400000002");
    }

    #[test]
    fn strings_are_unescaped_only_when_needed() {
        let raw = |text: &str| RawValue::from_string(text.to_owned()).expect("valid JSON");
        assert_eq!(string(&raw(r#""plain""#)), Some(Cow::Borrowed("plain")));
        assert_eq!(string(&raw(r#""a\"b\u00e9""#)).as_deref(), Some("a\"bé"));
        assert_eq!(string(&raw("42")), None);
        let long = raw(&format!("\"{}\"", "é".repeat(100)));
        assert_eq!(snippet(&long), format!("\"{}…", "é".repeat(79)));
    }
}
