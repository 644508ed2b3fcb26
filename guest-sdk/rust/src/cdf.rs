//! Reading input batches: the Change Data Feed columns and typed column
//! lookups with errors that name the column.

use std::any::type_name;

use arrow_array::cast::AsArray;
use arrow_array::{Array, RecordBatch};
use arrow_schema::DataType;

use crate::Error;

/// The CDF column holding each row's [`ChangeType`] (utf8).
pub const CHANGE_TYPE: &str = "_change_type";
/// The CDF column holding the input table version of each row (int64).
pub const COMMIT_VERSION: &str = "_commit_version";
/// The CDF column holding the commit time of each row (timestamp, µs, UTC).
pub const COMMIT_TIMESTAMP: &str = "_commit_timestamp";
/// The three Change Data Feed columns every input batch carries.
pub const CDF_COLUMNS: [&str; 3] = [CHANGE_TYPE, COMMIT_VERSION, COMMIT_TIMESTAMP];

/// Whether `name` is one of the [`CDF_COLUMNS`].
pub fn is_cdf_column(name: &str) -> bool {
    CDF_COLUMNS.contains(&name)
}

/// What happened to an input row, from its [`CHANGE_TYPE`] column.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ChangeType {
    /// A new row.
    Insert,
    /// A row's content before an update.
    UpdatePreimage,
    /// A row's content after an update.
    UpdatePostimage,
    /// A removed row.
    Delete,
}

impl ChangeType {
    /// The change type of every row of `batch`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] when the [`CHANGE_TYPE`] column is missing, is
    /// not a string column, or holds a null or unknown value.
    pub fn column(batch: &RecordBatch) -> Result<Vec<ChangeType>, Error> {
        column_strings(batch, CHANGE_TYPE)?
            .into_iter()
            .enumerate()
            .map(|(row, value)| {
                let value = value.ok_or_else(|| {
                    Error::InvalidInput(format!("column `{CHANGE_TYPE}` is null at row {row}"))
                })?;
                ChangeType::parse(value).ok_or_else(|| {
                    Error::InvalidInput(format!(
                        "column `{CHANGE_TYPE}` has unknown change type `{value}` at row {row}"
                    ))
                })
            })
            .collect()
    }

    /// Parses the CDF spelling (`insert`, `update_preimage`,
    /// `update_postimage`, `delete`).
    pub fn parse(value: &str) -> Option<ChangeType> {
        match value {
            "insert" => Some(ChangeType::Insert),
            "update_preimage" => Some(ChangeType::UpdatePreimage),
            "update_postimage" => Some(ChangeType::UpdatePostimage),
            "delete" => Some(ChangeType::Delete),
            _ => None,
        }
    }

    /// The CDF spelling of this change type.
    pub fn as_str(self) -> &'static str {
        match self {
            ChangeType::Insert => "insert",
            ChangeType::UpdatePreimage => "update_preimage",
            ChangeType::UpdatePostimage => "update_postimage",
            ChangeType::Delete => "delete",
        }
    }

    /// +1 for a row that appears (insert, update postimage), -1 for one that
    /// goes away (delete, update preimage): the sign of an incremental
    /// aggregate's delta.
    pub fn sign(self) -> i64 {
        match self {
            ChangeType::Insert | ChangeType::UpdatePostimage => 1,
            ChangeType::UpdatePreimage | ChangeType::Delete => -1,
        }
    }
}

/// The column `name` of `batch` as the concrete array type `A`
/// (`StringArray`, `Int64Array`, `TimestampMicrosecondArray`, ...).
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the column when it is missing, or naming
/// the type found when it is not an `A`.
pub fn column<'a, A: Array + 'static>(batch: &'a RecordBatch, name: &str) -> Result<&'a A, Error> {
    let array = find(batch, name)?;
    array.as_any().downcast_ref::<A>().ok_or_else(|| {
        Error::InvalidInput(format!(
            "column `{name}` has type {}, expected {}",
            array.data_type(),
            short_type_name::<A>()
        ))
    })
}

/// The values of the string column `name` (utf8, large utf8 or utf8 view),
/// `None` where null.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the column when it is missing or not a
/// string column.
pub fn column_strings<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<Vec<Option<&'a str>>, Error> {
    let array = find(batch, name)?;
    Ok(match array.data_type() {
        DataType::Utf8 => array.as_string::<i32>().iter().collect(),
        DataType::LargeUtf8 => array.as_string::<i64>().iter().collect(),
        DataType::Utf8View => array.as_string_view().iter().collect(),
        other => return Err(wrong_type(name, other, "a string type")),
    })
}

/// The values of the byte column `name` (binary, large binary, binary view,
/// or any string type), `None` where null.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the column when it is missing or not a
/// binary or string column.
pub fn column_bytes<'a>(
    batch: &'a RecordBatch,
    name: &str,
) -> Result<Vec<Option<&'a [u8]>>, Error> {
    let array = find(batch, name)?;
    Ok(match array.data_type() {
        DataType::Binary => array.as_binary::<i32>().iter().collect(),
        DataType::LargeBinary => array.as_binary::<i64>().iter().collect(),
        DataType::BinaryView => array.as_binary_view().iter().collect(),
        DataType::Utf8 | DataType::LargeUtf8 | DataType::Utf8View => column_strings(batch, name)?
            .into_iter()
            .map(|value| value.map(str::as_bytes))
            .collect(),
        other => return Err(wrong_type(name, other, "a binary or string type")),
    })
}

fn find<'a>(batch: &'a RecordBatch, name: &str) -> Result<&'a dyn Array, Error> {
    batch
        .column_by_name(name)
        .map(|array| array.as_ref())
        .ok_or_else(|| Error::InvalidInput(format!("missing column `{name}`")))
}

fn wrong_type(name: &str, found: &DataType, expected: &str) -> Error {
    Error::InvalidInput(format!(
        "column `{name}` has type {found}, expected {expected}"
    ))
}

/// `arrow_array::array::PrimitiveArray<arrow_array::types::Int64Type>` ->
/// `PrimitiveArray<Int64Type>`.
fn short_type_name<A>() -> String {
    fn last_segment(path: &str) -> &str {
        path.rsplit("::").next().unwrap_or(path)
    }
    let mut short = String::new();
    let mut path = String::new();
    for c in type_name::<A>().chars() {
        if c.is_alphanumeric() || c == '_' || c == ':' {
            path.push(c);
        } else {
            short.push_str(last_segment(&path));
            path.clear();
            short.push(c);
        }
    }
    short.push_str(last_segment(&path));
    short
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, BinaryArray, Int64Array, LargeBinaryArray, StringArray};
    use std::sync::Arc;

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        RecordBatch::try_from_iter(columns).expect("valid batch")
    }

    fn change_types(values: Vec<Option<&str>>) -> RecordBatch {
        batch(vec![(CHANGE_TYPE, Arc::new(StringArray::from(values)))])
    }

    #[test]
    fn change_types_parse_every_spelling() {
        let all = ["insert", "update_preimage", "update_postimage", "delete"];
        let parsed = ChangeType::column(&change_types(all.iter().map(|s| Some(*s)).collect()))
            .expect("valid change types");
        assert_eq!(
            parsed,
            vec![
                ChangeType::Insert,
                ChangeType::UpdatePreimage,
                ChangeType::UpdatePostimage,
                ChangeType::Delete
            ]
        );
        assert_eq!(parsed.iter().map(|c| c.as_str()).collect::<Vec<_>>(), all);
        assert_eq!(
            parsed.iter().map(|c| c.sign()).collect::<Vec<_>>(),
            [1, -1, 1, -1]
        );
    }

    #[test]
    fn bad_change_types_are_invalid_input() {
        let unknown = ChangeType::column(&change_types(vec![Some("insert"), Some("merge")]));
        assert_eq!(
            unknown,
            Err(Error::InvalidInput(
                "column `_change_type` has unknown change type `merge` at row 1".into()
            ))
        );
        let null = ChangeType::column(&change_types(vec![None]));
        assert_eq!(
            null,
            Err(Error::InvalidInput(
                "column `_change_type` is null at row 0".into()
            ))
        );
        let missing = ChangeType::column(&batch(vec![("x", Arc::new(Int64Array::from(vec![1])))]));
        assert_eq!(
            missing,
            Err(Error::InvalidInput("missing column `_change_type`".into()))
        );
    }

    #[test]
    fn column_names_the_type_found_and_expected() {
        let input = batch(vec![("id", Arc::new(Int64Array::from(vec![1, 2])))]);
        assert_eq!(
            column::<Int64Array>(&input, "id").expect("int64").values(),
            &[1, 2]
        );
        assert_eq!(
            column::<StringArray>(&input, "id").map(|_| ()),
            Err(Error::InvalidInput(
                "column `id` has type Int64, expected GenericByteArray<GenericStringType<i32>>"
                    .into()
            ))
        );
        assert_eq!(
            column::<Int64Array>(&input, "nope").map(|_| ()),
            Err(Error::InvalidInput("missing column `nope`".into()))
        );
    }

    #[test]
    fn bytes_accept_binary_and_string_columns() {
        let input = batch(vec![
            (
                "b",
                Arc::new(BinaryArray::from(vec![Some(&b"x"[..]), None])),
            ),
            (
                "l",
                Arc::new(LargeBinaryArray::from(vec![Some(&b"y"[..]), None])),
            ),
            ("s", Arc::new(StringArray::from(vec![Some("z"), None]))),
            ("i", Arc::new(Int64Array::from(vec![1, 2]))),
        ]);
        assert_eq!(column_bytes(&input, "b"), Ok(vec![Some(&b"x"[..]), None]));
        assert_eq!(column_bytes(&input, "l"), Ok(vec![Some(&b"y"[..]), None]));
        assert_eq!(column_bytes(&input, "s"), Ok(vec![Some(&b"z"[..]), None]));
        assert_eq!(
            column_bytes(&input, "i"),
            Err(Error::InvalidInput(
                "column `i` has type Int64, expected a binary or string type".into()
            ))
        );
        assert_eq!(
            column_strings(&input, "b"),
            Err(Error::InvalidInput(
                "column `b` has type Binary, expected a string type".into()
            ))
        );
    }

    #[test]
    fn cdf_column_names() {
        assert!(is_cdf_column("_commit_version"));
        assert!(!is_cdf_column("value"));
    }
}
