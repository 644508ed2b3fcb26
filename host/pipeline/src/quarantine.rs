//! A stage's quarantine table: the input rows its module refused, each with
//! the reason and where it came from, so nothing is lost on bad input and a
//! person can fix and replay it.

use std::{collections::HashMap, sync::Arc};

use ingot_core::arrow::{
    array::{ArrayRef, AsArray, BooleanArray, Int64Array, RecordBatch, StringArray},
    compute::{filter_record_batch, kernels::boolean::not},
    datatypes::{DataType, Field, Int64Type, Schema, SchemaRef},
    json::LineDelimitedWriter,
};

use crate::{Error, Result};

/// The schema of every quarantine table.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("source_version", DataType::Int64, true),
        Field::new("change_type", DataType::Utf8, true),
        Field::new("reason", DataType::Utf8, false),
        Field::new("row", DataType::Utf8, false),
    ]))
}

/// One refused input row.
#[derive(Debug, Clone)]
pub struct Reject {
    source_version: Option<i64>,
    change_type: Option<String>,
    reason: String,
    row: String,
}

impl Reject {
    /// Captures row `row` of `batch` (as a JSON object) with `reason`. A row
    /// index out of range is recorded as such rather than dropped.
    pub fn new(batch: &RecordBatch, row: usize, reason: String) -> Self {
        if row >= batch.num_rows() {
            return Self {
                source_version: None,
                change_type: None,
                reason: format!(
                    "{reason} (module rejected row {row} of a {}-row batch)",
                    batch.num_rows()
                ),
                row: String::new(),
            };
        }
        let version = batch
            .column_by_name("_commit_version")
            .and_then(|c| c.as_primitive_opt::<Int64Type>().map(|a| a.value(row)));
        let change_type = batch
            .column_by_name("_change_type")
            .and_then(|c| c.as_string_opt::<i32>().map(|a| a.value(row).to_owned()));
        Self {
            source_version: version,
            change_type,
            reason,
            row: row_json(&batch.slice(row, 1)),
        }
    }
}

/// Renders one row as JSON; byte columns (Kafka keys and values) are shown
/// as text where they are UTF-8, which is what a person wants to read.
fn row_json(row: &RecordBatch) -> String {
    let mut fields = Vec::new();
    let mut columns: Vec<ArrayRef> = Vec::new();
    for (field, column) in row.schema().fields().iter().zip(row.columns()) {
        if let Some(bytes) = column.as_binary_opt::<i32>() {
            let text: StringArray = bytes
                .iter()
                .map(|v| v.map(String::from_utf8_lossy))
                .collect();
            fields.push(Field::new(field.name(), DataType::Utf8, true));
            columns.push(Arc::new(text));
        } else {
            fields.push(field.as_ref().clone());
            columns.push(Arc::clone(column));
        }
    }
    let row = match RecordBatch::try_new(Arc::new(Schema::new(fields)), columns) {
        Ok(row) => row,
        Err(e) => return format!("{{\"unrenderable\":\"{e}\"}}"),
    };
    let mut out = Vec::new();
    let mut writer = LineDelimitedWriter::new(&mut out);
    let written = writer.write(&row).and_then(|()| writer.finish());
    match written {
        Ok(()) => String::from_utf8_lossy(&out).trim_end().to_owned(),
        Err(e) => format!("{{\"unrenderable\":\"{e}\"}}"),
    }
}

/// The rows of `batches` whose rendering (as in the quarantine's `row`
/// column) is one of `wanted`, each wanted rendering matched once; returns
/// them and the renderings not found.
///
/// # Errors
/// Never in practice: the masks are built to the batches' lengths.
pub fn select_rows(
    batches: &[RecordBatch],
    wanted: Vec<String>,
) -> Result<(Vec<RecordBatch>, Vec<String>)> {
    let mut set = RowSet::new(wanted);
    let masks = set.masks(batches);
    let found = filter(batches, &masks, false)?;
    Ok((found, set.into_left()))
}

/// `batches` without the rows whose rendering is one of `quarantined`
/// (each rendering removes one row): the input of a redo whose first
/// attempt quarantined those rows. Returns the rows left and how many were
/// removed.
///
/// # Errors
/// Never in practice: the masks are built to the batches' lengths.
pub fn without_rows(
    batches: Vec<RecordBatch>,
    quarantined: Vec<String>,
) -> Result<(Vec<RecordBatch>, usize)> {
    RowSet::new(quarantined).remove_from(&batches)
}

/// A multiset of row renderings (the quarantine's `row` column), matched
/// against input rows batch after batch: each rendering matches one row,
/// the first one met. A redo that streams its range removes the rows its
/// first attempt quarantined chunk by chunk with one set.
#[derive(Debug, Default)]
pub struct RowSet {
    left: HashMap<String, usize>,
}

impl RowSet {
    /// The set of `rows`.
    pub fn new(rows: Vec<String>) -> Self {
        let mut left: HashMap<String, usize> = HashMap::new();
        for row in rows {
            *left.entry(row).or_default() += 1;
        }
        RowSet { left }
    }

    /// Whether every rendering has matched a row (or there were none).
    pub fn is_empty(&self) -> bool {
        self.left.is_empty()
    }

    /// `batches` without the rows matching a rendering still in the set
    /// (which they consume), and how many were removed.
    ///
    /// # Errors
    /// Never in practice: the masks are built to the batches' lengths.
    pub fn remove_from(&mut self, batches: &[RecordBatch]) -> Result<(Vec<RecordBatch>, usize)> {
        if self.is_empty() {
            return Ok((batches.to_vec(), 0));
        }
        let masks = self.masks(batches);
        let removed = masks.iter().map(BooleanArray::true_count).sum();
        Ok((filter(batches, &masks, true)?, removed))
    }

    /// For each batch, which of its rows match a rendering of the set,
    /// consuming the renderings matched.
    fn masks(&mut self, batches: &[RecordBatch]) -> Vec<BooleanArray> {
        let left = &mut self.left;
        batches
            .iter()
            .map(|batch| {
                (0..batch.num_rows())
                    .map(|i| {
                        if left.is_empty() {
                            return false;
                        }
                        let json = row_json(&batch.slice(i, 1));
                        let Some(n) = left.get_mut(&json) else {
                            return false;
                        };
                        *n -= 1;
                        if *n == 0 {
                            left.remove(&json);
                        }
                        true
                    })
                    .collect::<BooleanArray>()
            })
            .collect()
    }

    /// The renderings that matched no row.
    fn into_left(self) -> Vec<String> {
        self.left
            .into_iter()
            .flat_map(|(json, n)| std::iter::repeat_n(json, n))
            .collect()
    }
}

/// The rows of each batch its mask selects (or, `inverted`, leaves out).
fn filter(
    batches: &[RecordBatch],
    masks: &[BooleanArray],
    inverted: bool,
) -> Result<Vec<RecordBatch>> {
    batches
        .iter()
        .zip(masks)
        .map(|(batch, mask)| {
            let mask = if inverted {
                not(mask)
            } else {
                Ok(mask.clone())
            };
            mask.and_then(|mask| filter_record_batch(batch, &mask))
                .map_err(|e| Error::Internal(format!("selecting quarantined rows: {e}")))
        })
        .collect()
}

/// The quarantine rows as one batch.
///
/// # Errors
///
/// Never in practice: the columns are built to the schema.
pub fn batch(rejects: &[Reject]) -> Result<RecordBatch> {
    let columns: Vec<ArrayRef> = vec![
        Arc::new(
            rejects
                .iter()
                .map(|r| r.source_version)
                .collect::<Int64Array>(),
        ),
        Arc::new(
            rejects
                .iter()
                .map(|r| r.change_type.as_deref())
                .collect::<StringArray>(),
        ),
        Arc::new(
            rejects
                .iter()
                .map(|r| Some(r.reason.as_str()))
                .collect::<StringArray>(),
        ),
        Arc::new(
            rejects
                .iter()
                .map(|r| Some(r.row.as_str()))
                .collect::<StringArray>(),
        ),
    ];
    RecordBatch::try_new(schema(), columns)
        .map_err(|e| Error::Internal(format!("quarantine batch: {e}")))
}

#[cfg(test)]
mod tests {
    use ingot_core::arrow::array::Array as _;

    use super::*;

    fn batch(values: &[&str]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("value", DataType::Utf8, true),
            Field::new("_commit_version", DataType::Int64, false),
        ]));
        let versions = Int64Array::from(vec![3; values.len()]);
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(StringArray::from(values.to_vec())),
                Arc::new(versions),
            ],
        )
        .expect("batch")
    }

    fn rendering(value: &str) -> String {
        Reject::new(&batch(&[value]), 0, String::new()).row
    }

    fn values(batches: &[RecordBatch]) -> Vec<String> {
        batches
            .iter()
            .flat_map(|b| {
                let c = b.column(0).as_string::<i32>().clone();
                (0..c.len()).map(move |i| c.value(i).to_owned())
            })
            .collect()
    }

    #[test]
    fn a_redo_leaves_out_each_quarantined_row_once() {
        let input = vec![batch(&["a", "b", "a"]), batch(&["c", "b"])];
        // "a" was quarantined once (one of its two copies), "b" once, and
        // "z" is not in the input (counted as not removed).
        let quarantined = vec![rendering("a"), rendering("b"), rendering("z")];
        let (left, removed) = without_rows(input, quarantined).expect("filter");
        assert_eq!(removed, 2);
        assert_eq!(values(&left), ["a", "c", "b"]);
    }

    #[test]
    fn reprocess_selects_the_named_rows_and_reports_the_missing() {
        let input = vec![batch(&["a", "b"]), batch(&["c"])];
        let (found, missing) =
            select_rows(&input, vec![rendering("c"), rendering("x")]).expect("select");
        assert_eq!(values(&found), ["c"]);
        assert_eq!(missing, [rendering("x")]);
    }
}
