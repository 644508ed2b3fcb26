//! One osquery result message, read from its JSON: the fields every row of it
//! shares and where its rows are. Accepts the three shapes osquery's Kafka
//! logger writes (event, batch, snapshot) and says precisely why a message is
//! not one of them.

use serde_json::Number;

use crate::json::{Json, Object};

/// What happened to a row of a query's result.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Action {
    Added,
    Removed,
    Snapshot,
}

impl Action {
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            Action::Added => "added",
            Action::Removed => "removed",
            Action::Snapshot => "snapshot",
        }
    }
}

/// A parsed message, borrowing from its JSON.
#[derive(Debug)]
pub(crate) struct Message<'a> {
    /// `hostIdentifier`, else `hostname`.
    pub(crate) host: &'a str,
    /// `name`.
    pub(crate) query: &'a str,
    /// `unixTime` in microseconds.
    pub(crate) time: i64,
    pub(crate) epoch: i64,
    pub(crate) counter: i64,
    /// `None` when absent or null.
    pub(crate) decorations: Option<&'a Object<'a>>,
    /// The row sets in output order.
    pub(crate) sets: Vec<RowSet<'a>>,
}

/// Rows of one message sharing an action: the scope of the occurrence index
/// in `row_id`.
#[derive(Debug)]
pub(crate) struct RowSet<'a> {
    pub(crate) action: Action,
    pub(crate) rows: &'a [Json<'a>],
    /// Where the rows are, for reject reasons: `columns`, `snapshot`, ...
    pub(crate) path: &'static str,
    /// Whether `path` names an array (so a row is `path[i]`).
    pub(crate) indexed: bool,
}

impl<'a> Message<'a> {
    /// Reads the message out of the Kafka record's JSON value.
    ///
    /// # Errors
    ///
    /// Why the value is not an osquery result message.
    pub(crate) fn parse(json: &'a Json<'a>) -> Result<Message<'a>, String> {
        let fields = match json {
            Json::Object(fields) => fields,
            Json::Array(_) => return Err("value is a JSON array, not an object".into()),
            other => return Err(format!("value is not a JSON object: {other}")),
        };
        let query = required_str(fields, "name")?;
        let host = match present(fields, "hostIdentifier") {
            Some(_) => required_str(fields, "hostIdentifier")?,
            None => match present(fields, "hostname") {
                Some(_) => required_str(fields, "hostname")?,
                None => return Err("missing `hostIdentifier` (and no `hostname`)".into()),
            },
        };
        let time = match present(fields, "unixTime") {
            None => return Err("missing `unixTime`".into()),
            Some(value) => seconds_to_micros(value)
                .ok_or_else(|| format!("`unixTime` is not a unix time in seconds: {value}"))?,
        };
        let decorations = match present(fields, "decorations") {
            None => None,
            Some(Json::Object(decorations)) => Some(decorations),
            Some(other) => return Err(format!("`decorations` is not an object: {other}")),
        };
        Ok(Message {
            host,
            query,
            time,
            epoch: integer_or_zero(fields, "epoch")?,
            counter: integer_or_zero(fields, "counter")?,
            decorations,
            sets: row_sets(fields)?,
        })
    }
}

/// The row sets of the message, by its shape.
fn row_sets<'a>(fields: &'a Object<'a>) -> Result<Vec<RowSet<'a>>, String> {
    let action = match present(fields, "action") {
        None => None,
        Some(Json::String(action)) => Some(match action.as_ref() {
            "added" => Action::Added,
            "removed" => Action::Removed,
            "snapshot" => Action::Snapshot,
            _ => return Err(format!("unknown action `{action}`")),
        }),
        Some(other) => return Err(format!("`action` is not a string: {other}")),
    };
    match action {
        Some(action @ (Action::Added | Action::Removed)) => {
            let columns = present(fields, "columns")
                .ok_or_else(|| format!("action `{}` without `columns`", action.as_str()))?;
            Ok(vec![RowSet {
                action,
                rows: std::slice::from_ref(columns),
                path: "columns",
                indexed: false,
            }])
        }
        Some(Action::Snapshot) => {
            let snapshot = present(fields, "snapshot")
                .ok_or("action `snapshot` without a `snapshot` array")?;
            Ok(vec![snapshot_set(snapshot)?])
        }
        None => {
            if let Some(diff) = present(fields, "diffResults") {
                diff_sets(diff)
            } else if let Some(snapshot) = present(fields, "snapshot") {
                Ok(vec![snapshot_set(snapshot)?])
            } else if present(fields, "columns").is_some() {
                Err("`columns` without an `action`".into())
            } else {
                Err("none of `columns`, `diffResults` or `snapshot`".into())
            }
        }
    }
}

fn snapshot_set<'a>(snapshot: &'a Json<'a>) -> Result<RowSet<'a>, String> {
    match snapshot {
        Json::Array(rows) => Ok(RowSet {
            action: Action::Snapshot,
            rows,
            path: "snapshot",
            indexed: true,
        }),
        other => Err(format!("`snapshot` is not an array: {other}")),
    }
}

/// Batch format: `removed` first, then `added`; a missing side is empty.
fn diff_sets<'a>(diff: &'a Json<'a>) -> Result<Vec<RowSet<'a>>, String> {
    let Json::Object(diff) = diff else {
        return Err(format!("`diffResults` is not an object: {diff}"));
    };
    let side = |name: &'static str, path: &'static str, action: Action| match present(diff, name) {
        None => Ok(RowSet {
            action,
            rows: &[],
            path,
            indexed: true,
        }),
        Some(Json::Array(rows)) => Ok(RowSet {
            action,
            rows,
            path,
            indexed: true,
        }),
        Some(other) => Err(format!("`{path}` is not an array: {other}")),
    };
    Ok(vec![
        side("removed", "diffResults.removed", Action::Removed)?,
        side("added", "diffResults.added", Action::Added)?,
    ])
}

/// The field `name` unless absent or null.
fn present<'a>(fields: &'a Object<'a>, name: &str) -> Option<&'a Json<'a>> {
    fields.get(name).filter(|v| !v.is_null())
}

fn required_str<'a>(fields: &'a Object<'a>, name: &str) -> Result<&'a str, String> {
    match present(fields, name) {
        None => Err(format!("missing `{name}`")),
        Some(Json::String(s)) => Ok(s),
        Some(other) => Err(format!("`{name}` is not a string: {other}")),
    }
}

/// `epoch` or `counter`: an integer or an integer string, 0 when absent.
fn integer_or_zero(fields: &Object<'_>, name: &str) -> Result<i64, String> {
    let Some(value) = present(fields, name) else {
        return Ok(0);
    };
    let integer = match value {
        Json::Number(n) => n.as_i64(),
        Json::String(s) => s.parse().ok(),
        _ => None,
    };
    integer.ok_or_else(|| format!("`{name}` is not an integer: {value}"))
}

/// Unix seconds (a number or a numeric string) as microseconds; `None` when
/// not numeric or out of range.
pub(crate) fn seconds_to_micros(value: &Json<'_>) -> Option<i64> {
    match value {
        Json::Number(n) => number_seconds_to_micros(n),
        Json::String(s) => str_seconds_to_micros(s),
        _ => None,
    }
}

fn number_seconds_to_micros(n: &Number) -> Option<i64> {
    match n.as_i64() {
        Some(seconds) => seconds.checked_mul(1_000_000),
        None => float_seconds_to_micros(n.as_f64()?),
    }
}

pub(crate) fn str_seconds_to_micros(s: &str) -> Option<i64> {
    match s.parse::<i64>() {
        Ok(seconds) => seconds.checked_mul(1_000_000),
        Err(_) => float_seconds_to_micros(s.parse().ok()?),
    }
}

fn float_seconds_to_micros(seconds: f64) -> Option<i64> {
    let micros = (seconds * 1e6).round();
    // The range check makes the cast exact; 2^63 itself is out of range.
    (micros.is_finite() && micros >= -(2f64.powi(63)) && micros < 2f64.powi(63))
        .then_some(micros as i64)
}
