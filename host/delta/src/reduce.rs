//! Pure Arrow reductions that make a batch fit for a MERGE: one row per key.
//!
//! Keys are compared with Arrow's row format, so several key columns of any
//! type work and a null key equals a null key (null-safe equality, like SQL's
//! `IS NOT DISTINCT FROM`).

use std::collections::HashMap;
use std::sync::Arc;

use deltalake::arrow::array::{
    Array, ArrayRef, AsArray, BooleanArray, Decimal128Array, Float64Array, Int64Array, RecordBatch,
    UInt32Array,
};
use deltalake::arrow::compute::{
    CastOptions, SortOptions, cast, cast_with_options, take_record_batch,
};
use deltalake::arrow::datatypes::{DataType, Decimal128Type, Float64Type, Int64Type};
use deltalake::arrow::error::ArrowError;
use deltalake::arrow::row::{RowConverter, SortField};

/// Rows grouped by key, groups in order of first appearance.
struct Groups {
    /// Group index of every input row.
    of_row: Vec<usize>,
    /// Number of groups.
    len: usize,
}

fn group_rows(keys: &[ArrayRef]) -> Result<Groups, ArrowError> {
    let converter = RowConverter::new(
        keys.iter()
            .map(|k| SortField::new(k.data_type().clone()))
            .collect(),
    )?;
    let rows = converter.convert_columns(keys)?;
    let mut index = HashMap::with_capacity(rows.num_rows());
    let of_row = rows
        .iter()
        .map(|row| {
            let next = index.len();
            *index.entry(row).or_insert(next)
        })
        .collect();
    Ok(Groups {
        of_row,
        len: index.len(),
    })
}

/// The batch reduced to the latest row of every key, by the upsert's order of
/// a key's versions: the highest `sequence`, a null sequence below every
/// non-null one (two nulls tie), a tie going to the later row; without a
/// sequence column the last row of a key wins. The MERGE and the tombstone
/// screen apply the same order across commits
/// ([`super::write::not_older`]). Surviving rows keep their relative order.
///
/// # Errors
/// A key or sequence column of a type Arrow cannot order.
pub(crate) fn latest_per_key(
    batch: &RecordBatch,
    keys: &[usize],
    sequence: Option<usize>,
) -> Result<RecordBatch, ArrowError> {
    let key_columns: Vec<ArrayRef> = keys.iter().map(|&i| batch.column(i).clone()).collect();
    let groups = group_rows(&key_columns)?;
    let seq_rows = match sequence {
        Some(i) => {
            let column = batch.column(i).clone();
            // Ascending, nulls first: a null sequence is the lowest.
            let order = SortOptions {
                descending: false,
                nulls_first: true,
            };
            let converter = RowConverter::new(vec![SortField::new_with_options(
                column.data_type().clone(),
                order,
            )])?;
            Some(converter.convert_columns(&[column])?)
        }
        None => None,
    };
    let mut winner: Vec<Option<usize>> = vec![None; groups.len];
    for (row, &group) in groups.of_row.iter().enumerate() {
        let replace = match (winner[group], &seq_rows) {
            (None, _) | (Some(_), None) => true,
            (Some(current), Some(seq)) => seq.row(row) >= seq.row(current),
        };
        if replace {
            winner[group] = Some(row);
        }
    }
    let mut indices: Vec<u32> = winner
        .into_iter()
        .flatten()
        .map(|row| u32::try_from(row).expect("invariant: batch rows fit in u32"))
        .collect();
    indices.sort_unstable();
    take_record_batch(batch, &UInt32Array::from(indices))
}

/// The batch reduced to the first row of every key, in input order.
///
/// # Errors
/// A key column of a type Arrow cannot order.
pub(crate) fn first_per_key(
    batch: &RecordBatch,
    keys: &[usize],
) -> Result<RecordBatch, ArrowError> {
    let key_columns: Vec<ArrayRef> = keys.iter().map(|&i| batch.column(i).clone()).collect();
    let groups = group_rows(&key_columns)?;
    let mut seen = vec![false; groups.len];
    let mut first = Vec::with_capacity(groups.len);
    for (row, &group) in groups.of_row.iter().enumerate() {
        if !std::mem::replace(&mut seen[group], true) {
            first.push(u32::try_from(row).expect("invariant: batch rows fit in u32"));
        }
    }
    take_record_batch(batch, &UInt32Array::from(first))
}

/// The batch reduced to one row per key: every measure summed (nulls count
/// as 0), every other column taken from the key's last row.
///
/// With a `reset` column (boolean), a row where it is true restarts its
/// key's sums at its own values, and the key's reduced row is marked reset
/// (true) so the MERGE replaces the stored measures instead of adding.
///
/// # Errors
/// A measure that is not an integer, float or decimal column, or a sum that
/// overflows the measure's type.
pub(crate) fn sum_per_key(
    batch: &RecordBatch,
    keys: &[usize],
    measures: &[usize],
    reset: Option<usize>,
) -> Result<RecordBatch, ArrowError> {
    let key_columns: Vec<ArrayRef> = keys.iter().map(|&i| batch.column(i).clone()).collect();
    let groups = group_rows(&key_columns)?;
    let mut last = vec![0_u32; groups.len];
    for (row, &group) in groups.of_row.iter().enumerate() {
        last[group] = u32::try_from(row).expect("invariant: batch rows fit in u32");
    }
    let resets: Option<Vec<bool>> = reset.map(|i| {
        let flags = batch.column(i).as_boolean();
        (0..batch.num_rows())
            .map(|row| flags.is_valid(row) && flags.value(row))
            .collect()
    });
    let reduced = take_record_batch(batch, &UInt32Array::from(last))?;
    let mut columns = reduced.columns().to_vec();
    for &m in measures {
        columns[m] = sum_column(batch.column(m), &groups, resets.as_deref())?;
    }
    if let (Some(i), Some(resets)) = (reset, &resets) {
        let mut any = vec![false; groups.len];
        for (row, &group) in groups.of_row.iter().enumerate() {
            any[group] |= resets[row];
        }
        columns[i] = Arc::new(BooleanArray::from(any));
    }
    RecordBatch::try_new(reduced.schema(), columns)
}

/// Per-group sums of one measure column, in the column's own type; a row
/// flagged in `resets` restarts its group's sum.
fn sum_column(
    values: &ArrayRef,
    groups: &Groups,
    resets: Option<&[bool]>,
) -> Result<ArrayRef, ArrowError> {
    let restarts = |row: usize| resets.is_some_and(|r| r[row]);
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let data_type = values.data_type().clone();
    let summed: ArrayRef = match &data_type {
        DataType::Int8
        | DataType::Int16
        | DataType::Int32
        | DataType::Int64
        | DataType::UInt8
        | DataType::UInt16
        | DataType::UInt32 => {
            let wide = cast(values, &DataType::Int64)?;
            let mut sums = vec![0_i64; groups.len];
            for (row, v) in wide.as_primitive::<Int64Type>().iter().enumerate() {
                let slot = &mut sums[groups.of_row[row]];
                if restarts(row) {
                    *slot = 0;
                }
                *slot = slot.checked_add(v.unwrap_or(0)).ok_or_else(|| {
                    ArrowError::ComputeError(format!("sum overflows {data_type}"))
                })?;
            }
            Arc::new(Int64Array::from(sums))
        }
        DataType::Float16 | DataType::Float32 | DataType::Float64 => {
            let wide = cast(values, &DataType::Float64)?;
            let mut sums = vec![0_f64; groups.len];
            for (row, v) in wide.as_primitive::<Float64Type>().iter().enumerate() {
                let slot = &mut sums[groups.of_row[row]];
                if restarts(row) {
                    *slot = 0.0;
                }
                *slot += v.unwrap_or(0.0);
            }
            Arc::new(Float64Array::from(sums))
        }
        DataType::Decimal128(precision, scale) => {
            let mut sums = vec![0_i128; groups.len];
            for (row, v) in values.as_primitive::<Decimal128Type>().iter().enumerate() {
                let slot = &mut sums[groups.of_row[row]];
                if restarts(row) {
                    *slot = 0;
                }
                *slot = slot.checked_add(v.unwrap_or(0)).ok_or_else(|| {
                    ArrowError::ComputeError(format!("sum overflows {data_type}"))
                })?;
            }
            let array = Decimal128Array::from(sums).with_precision_and_scale(*precision, *scale)?;
            array.validate_decimal_precision(*precision)?;
            Arc::new(array)
        }
        other => {
            return Err(ArrowError::InvalidArgumentError(format!(
                "measure of type {other} cannot be summed (use an integer, float or decimal column)"
            )));
        }
    };
    cast_with_options(&summed, &data_type, &strict)
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::{BooleanArray, Int32Array, StringArray};
    use deltalake::arrow::datatypes::{Field, Schema};

    fn batch(columns: Vec<(&str, ArrayRef)>) -> RecordBatch {
        let fields: Vec<Field> = columns
            .iter()
            .map(|(n, a)| Field::new(*n, a.data_type().clone(), true))
            .collect();
        RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns.into_iter().map(|(_, a)| a).collect(),
        )
        .expect("test batch")
    }

    fn strings(b: &RecordBatch, i: usize) -> Vec<Option<String>> {
        b.column(i)
            .as_string::<i32>()
            .iter()
            .map(|v| v.map(str::to_string))
            .collect()
    }

    #[test]
    fn latest_row_by_sequence_ties_to_last() {
        let b = batch(vec![
            (
                "k",
                Arc::new(StringArray::from(vec!["a", "b", "a", "a", "b"])),
            ),
            (
                "seq",
                Arc::new(Int32Array::from(vec![
                    Some(2),
                    Some(1),
                    Some(5),
                    Some(5),
                    None,
                ])),
            ),
            (
                "v",
                Arc::new(StringArray::from(vec!["a2", "b1", "a5", "a5bis", "bnull"])),
            ),
        ]);
        let out = latest_per_key(&b, &[0], Some(1)).expect("reduce");
        assert_eq!(out.num_rows(), 2);
        // b keeps seq 1 (null is lowest); a keeps the later of the two seq-5 rows.
        assert_eq!(
            strings(&out, 2),
            vec![Some("b1".to_string()), Some("a5bis".to_string())]
        );
    }

    #[test]
    fn latest_row_without_sequence_is_last_and_null_keys_group() {
        let b = batch(vec![
            (
                "k1",
                Arc::new(StringArray::from(vec![None, Some("x"), None, Some("x")])),
            ),
            ("k2", Arc::new(Int32Array::from(vec![1, 1, 1, 2]))),
            (
                "del",
                Arc::new(BooleanArray::from(vec![false, false, true, false])),
            ),
        ]);
        let out = latest_per_key(&b, &[0, 1], None).expect("reduce");
        assert_eq!(out.num_rows(), 3);
        assert_eq!(
            strings(&out, 0),
            vec![Some("x".to_string()), None, Some("x".to_string())]
        );
        let del = out.column(2).as_boolean();
        assert!(del.value(1), "the null key's last row (a delete) wins");
    }

    #[test]
    fn sums_measures_with_nulls_as_zero() {
        let b = batch(vec![
            (
                "city",
                Arc::new(StringArray::from(vec!["x", "y", "x", "x"])),
            ),
            (
                "n",
                Arc::new(Int32Array::from(vec![Some(1), Some(4), None, Some(-3)])),
            ),
            (
                "label",
                Arc::new(StringArray::from(vec!["x1", "y1", "x2", "x3"])),
            ),
        ]);
        let out = sum_per_key(&b, &[0], &[1], None).expect("sum");
        assert_eq!(out.num_rows(), 2);
        assert_eq!(out.column(1).data_type(), &DataType::Int32);
        let n = out
            .column(1)
            .as_primitive::<deltalake::arrow::datatypes::Int32Type>();
        assert_eq!(n.values().to_vec(), vec![-2, 4]);
        assert_eq!(
            strings(&out, 2),
            vec![Some("x3".to_string()), Some("y1".to_string())]
        );
    }

    #[test]
    fn overflow_and_bad_measure_types_fail() {
        let b = batch(vec![
            ("k", Arc::new(Int32Array::from(vec![1, 1]))),
            ("n", Arc::new(Int32Array::from(vec![i32::MAX, 1]))),
            ("s", Arc::new(StringArray::from(vec!["a", "b"]))),
        ]);
        assert!(sum_per_key(&b, &[0], &[1], None).is_err(), "i32 overflow");
        assert!(sum_per_key(&b, &[0], &[2], None).is_err(), "string measure");
    }

    #[test]
    fn a_reset_row_restarts_its_key_and_marks_it() {
        let b = batch(vec![
            (
                "k",
                Arc::new(StringArray::from(vec!["a", "a", "b", "a", "b"])),
            ),
            ("n", Arc::new(Int64Array::from(vec![5, 3, 1, 2, 1]))),
            (
                "reset",
                Arc::new(BooleanArray::from(vec![
                    Some(false),
                    Some(true),
                    None,
                    Some(false),
                    Some(false),
                ])),
            ),
        ]);
        let out = sum_per_key(&b, &[0], &[1], Some(2)).expect("sum");
        let n = out.column(1).as_primitive::<Int64Type>();
        // a: 5 is dropped by the reset to 3, then +2; b: 1 + 1, no reset.
        assert_eq!(n.values().to_vec(), vec![5, 2]);
        let reset = out.column(2).as_boolean();
        assert_eq!(
            (reset.value(0), reset.value(1)),
            (true, false),
            "a is marked reset, b is not"
        );
    }

    #[test]
    fn first_row_per_key_wins_in_input_order() {
        let b = batch(vec![
            ("k", Arc::new(Int32Array::from(vec![2, 1, 2, 3, 1]))),
            (
                "v",
                Arc::new(StringArray::from(vec!["2a", "1a", "2b", "3a", "1b"])),
            ),
        ]);
        let out = first_per_key(&b, &[0]).expect("first");
        assert_eq!(
            strings(&out, 1),
            vec![
                Some("2a".to_string()),
                Some("1a".to_string()),
                Some("3a".to_string())
            ]
        );
    }
}
