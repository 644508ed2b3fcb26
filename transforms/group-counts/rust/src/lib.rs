//! `group-counts`: a generic gold stage that keeps per-group row counts (and
//! sums) of any table up to date incrementally.
//!
//! It reads the upstream table's Change Data Feed and emits, for each group
//! of the `group-by` columns seen in the batch, how much the batch changes
//! that group's row count and sums. The stage's output runs in `accumulate`
//! mode keyed by the `group-by` columns: the host adds these signed deltas to
//! the gold table, so gold stays right when upstream rows are updated or
//! deleted, without rescanning upstream.
//!
//! An `insert` or `update_postimage` row counts +1 and adds its `sum`
//! columns; a `delete` or `update_preimage` row counts -1 and subtracts them
//! (an update that moves a row between groups moves its count). A null sum
//! value adds 0. Null group values form a group of their own. Groups whose
//! count and sums all net to zero are left out; the others come out in the
//! order of their first row in the batch.
//!
//! # Output
//!
//! The `group-by` columns with their input types (values copied from each
//! group's first row), the count column (Int64), then `<column>_sum` for
//! each `sum` column: Int64 for integer inputs, Float64 for floating-point
//! ones. Floats are summed in row order, so a float sum that should net to
//! zero may keep a rounding residue; group values are compared by their
//! bits (`0.0` and `-0.0` are two groups).
//!
//! # Config
//!
//! | key | | |
//! |---|---|---|
//! | `group-by` | required | comma-separated columns to group by |
//! | `count-column` | default `count` | name of the count column |
//! | `sum` | optional | comma-separated numeric columns to sum |
//!
//! # Pipeline
//!
//! Voters per city and party, from a silver `voters` table:
//!
//! ```toml
//! [[stages]]
//! name = "voters_by_city"
//! input = "voters"
//! module = "../target/guests/wasm32-wasip2/guest/group_counts.wasm"
//! mode = "accumulate"
//! keys = ["city", "party"]        # the group-by columns
//! measures = ["voters"]           # the count column, then any `<column>_sum`
//!
//! [stages.config]
//! group-by = "city, party"
//! count-column = "voters"
//! ```

mod key;

use std::collections::HashMap;
use std::sync::Arc;

use arrow_select::take::take;
use ingot_guest::arrow_array::cast::AsArray;
use ingot_guest::arrow_array::types::{
    ArrowPrimitiveType, Float16Type, Float32Type, Float64Type, Int8Type, Int16Type, Int32Type,
    Int64Type, UInt8Type, UInt16Type, UInt32Type, UInt64Type,
};
use ingot_guest::arrow_array::{
    Array, ArrayRef, Float64Array, Int64Array, RecordBatch, UInt32Array,
};
use ingot_guest::arrow_schema::{DataType, Field, Schema};
use ingot_guest::{ChangeType, Config, Error, Output, Transform};

use key::KeyColumn;

/// The configuration keys the stage understands.
const KEYS: [&str; 3] = ["group-by", "count-column", "sum"];

/// Turns upstream changes into signed per-group deltas.
pub struct GroupCounts {
    group_by: Vec<String>,
    count_column: String,
    sums: Vec<String>,
}

/// One `sum` column: its values as the type its sum is kept in (null as
/// 0), and the sum of each group so far.
enum Measure {
    Int { values: Vec<i128>, sums: Vec<i128> },
    Float { values: Vec<f64>, sums: Vec<f64> },
}

impl Transform for GroupCounts {
    fn init(config: &Config) -> Result<Self, Error> {
        if let Some((key, _)) = config.iter().find(|(key, _)| !KEYS.contains(key)) {
            return Err(Error::InvalidConfig(format!(
                "unknown key `{key}` (known: {})",
                KEYS.join(", ")
            )));
        }
        let group_by = names(config, "group-by")?;
        let count_column = config.get("count-column").unwrap_or("count").trim();
        if count_column.is_empty() {
            return Err(Error::InvalidConfig("key `count-column` is empty".into()));
        }
        let sums = if config.get("sum").is_some() {
            names(config, "sum")?
        } else {
            Vec::new()
        };
        let mut outputs: Vec<String> = group_by.clone();
        outputs.push(count_column.to_owned());
        outputs.extend(sums.iter().map(|s| format!("{s}_sum")));
        for (i, name) in outputs.iter().enumerate() {
            if outputs[..i].contains(name) {
                return Err(Error::InvalidConfig(format!(
                    "output column `{name}` would appear twice (group-by {}, count `{count_column}`, sums of {})",
                    group_by.join(", "),
                    if sums.is_empty() {
                        "none".into()
                    } else {
                        sums.join(", ")
                    }
                )));
            }
        }
        Ok(Self {
            group_by,
            count_column: count_column.to_owned(),
            sums,
        })
    }

    fn process(&mut self, input: &RecordBatch) -> Result<Output, Error> {
        let changes = ChangeType::column(input)?;
        let group_arrays = self
            .group_by
            .iter()
            .map(|name| find(input, name))
            .collect::<Result<Vec<_>, _>>()?;
        let keys = self
            .group_by
            .iter()
            .zip(&group_arrays)
            .map(|(name, array)| KeyColumn::new(name, array))
            .collect::<Result<Vec<_>, _>>()?;
        let mut measures = self
            .sums
            .iter()
            .map(|name| Measure::new(name, find(input, name)?))
            .collect::<Result<Vec<_>, _>>()?;

        let mut groups = Groups::default();
        let mut encoded = Vec::new();
        for (row, change) in changes.iter().enumerate() {
            encoded.clear();
            for key in &keys {
                key.encode(row, &mut encoded);
            }
            let group = groups.of(&encoded, row, &mut measures);
            let sign = change.sign();
            groups.counts[group] += sign;
            for measure in &mut measures {
                measure.add(group, sign, row);
            }
        }
        let kept: Vec<usize> = (0..groups.counts.len())
            .filter(|&g| groups.counts[g] != 0 || measures.iter().any(|m| !m.is_zero(g)))
            .collect();
        Ok(Output::new(self.batch(
            input,
            &group_arrays,
            &groups,
            &measures,
            &kept,
        )?))
    }
}

/// The groups of one batch, numbered in order of first appearance.
#[derive(Default)]
struct Groups {
    /// Group number by encoded key.
    index: HashMap<Vec<u8>, usize>,
    /// Per group: its first row in the batch, its count.
    first_rows: Vec<u32>,
    counts: Vec<i64>,
}

impl Groups {
    /// The number of the group with key `encoded`, a new group starting at
    /// `row` if there is none yet.
    fn of(&mut self, encoded: &[u8], row: usize, measures: &mut [Measure]) -> usize {
        if let Some(&group) = self.index.get(encoded) {
            return group;
        }
        let group = self.first_rows.len();
        self.index.insert(encoded.to_vec(), group);
        self.first_rows
            .push(u32::try_from(row).expect("invariant: batches hold < 2^32 rows"));
        self.counts.push(0);
        measures.iter_mut().for_each(Measure::push_group);
        group
    }
}

impl GroupCounts {
    /// The output rows of the `kept` groups: group values copied from each
    /// group's first row in their input type, the count, the sums.
    fn batch(
        &self,
        input: &RecordBatch,
        group_arrays: &[&ArrayRef],
        groups: &Groups,
        measures: &[Measure],
        kept: &[usize],
    ) -> Result<RecordBatch, Error> {
        let take_rows = UInt32Array::from_iter_values(kept.iter().map(|&g| groups.first_rows[g]));
        let mut fields = Vec::with_capacity(self.group_by.len() + 1 + self.sums.len());
        let mut columns: Vec<ArrayRef> = Vec::with_capacity(fields.capacity());
        for (name, array) in self.group_by.iter().zip(group_arrays) {
            let nullable = input.schema().field_with_name(name)?.is_nullable();
            fields.push(Field::new(name, array.data_type().clone(), nullable));
            columns.push(take(array.as_ref(), &take_rows, None)?);
        }
        fields.push(Field::new(&self.count_column, DataType::Int64, false));
        columns.push(Arc::new(Int64Array::from_iter_values(
            kept.iter().map(|&g| groups.counts[g]),
        )));
        for (name, measure) in self.sums.iter().zip(measures) {
            let (data_type, column) = measure.column(name, kept)?;
            fields.push(Field::new(format!("{name}_sum"), data_type, false));
            columns.push(column);
        }
        Ok(RecordBatch::try_new(
            Arc::new(Schema::new(fields)),
            columns,
        )?)
    }
}

impl Measure {
    /// The `sum` column `name`, no group yet.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the column when it is not numeric.
    fn new(name: &str, array: &ArrayRef) -> Result<Measure, Error> {
        fn ints<T: ArrowPrimitiveType>(array: &ArrayRef) -> Measure
        where
            T::Native: Into<i128>,
        {
            let array = array.as_primitive::<T>();
            let values = array.iter().map(|v| v.map_or(0, Into::into)).collect();
            Measure::Int {
                values,
                sums: Vec::new(),
            }
        }
        fn floats<T: ArrowPrimitiveType>(array: &ArrayRef) -> Measure
        where
            T::Native: Into<f64>,
        {
            let array = array.as_primitive::<T>();
            let values = array.iter().map(|v| v.map_or(0.0, Into::into)).collect();
            Measure::Float {
                values,
                sums: Vec::new(),
            }
        }
        Ok(match array.data_type() {
            DataType::Int8 => ints::<Int8Type>(array),
            DataType::Int16 => ints::<Int16Type>(array),
            DataType::Int32 => ints::<Int32Type>(array),
            DataType::Int64 => ints::<Int64Type>(array),
            DataType::UInt8 => ints::<UInt8Type>(array),
            DataType::UInt16 => ints::<UInt16Type>(array),
            DataType::UInt32 => ints::<UInt32Type>(array),
            DataType::UInt64 => ints::<UInt64Type>(array),
            DataType::Float16 => floats::<Float16Type>(array),
            DataType::Float32 => floats::<Float32Type>(array),
            DataType::Float64 => floats::<Float64Type>(array),
            other => {
                return Err(Error::InvalidInput(format!(
                    "column `{name}` has type {other}, expected an integer or floating-point type to sum"
                )));
            }
        })
    }

    fn push_group(&mut self) {
        match self {
            Measure::Int { sums, .. } => sums.push(0),
            Measure::Float { sums, .. } => sums.push(0.0),
        }
    }

    /// Adds `sign` times the value of row `row` to group `group`.
    fn add(&mut self, group: usize, sign: i64, row: usize) {
        match self {
            // i128 cannot overflow: fewer than 2^32 rows of |value| < 2^64.
            Measure::Int { values, sums } => sums[group] += i128::from(sign) * values[row],
            Measure::Float { values, sums } => sums[group] += sign as f64 * values[row],
        }
    }

    fn is_zero(&self, group: usize) -> bool {
        match self {
            Measure::Int { sums, .. } => sums[group] == 0,
            Measure::Float { sums, .. } => sums[group] == 0.0,
        }
    }

    /// The sums of the `kept` groups as an output column.
    fn column(&self, name: &str, kept: &[usize]) -> Result<(DataType, ArrayRef), Error> {
        Ok(match self {
            Measure::Int { sums, .. } => {
                let sums = kept
                    .iter()
                    .map(|&g| {
                        i64::try_from(sums[g]).map_err(|_| {
                            Error::Failed(format!(
                                "the sum of `{name}` over one group of the batch, {}, overflows int64",
                                sums[g]
                            ))
                        })
                    })
                    .collect::<Result<Vec<_>, _>>()?;
                (DataType::Int64, Arc::new(Int64Array::from(sums)))
            }
            Measure::Float { sums, .. } => (
                DataType::Float64,
                Arc::new(Float64Array::from_iter_values(
                    kept.iter().map(|&g| sums[g]),
                )),
            ),
        })
    }
}

/// The column `name` of `input`.
fn find<'a>(input: &'a RecordBatch, name: &str) -> Result<&'a ArrayRef, Error> {
    input
        .column_by_name(name)
        .ok_or_else(|| Error::InvalidInput(format!("missing column `{name}`")))
}

/// The comma-separated column names of the config key `key`.
fn names(config: &Config, key: &str) -> Result<Vec<String>, Error> {
    let mut names: Vec<String> = Vec::new();
    for name in config.require(key)?.split(',').map(str::trim) {
        if name.is_empty() {
            return Err(Error::InvalidConfig(format!(
                "key `{key}` has an empty column name"
            )));
        }
        if names.iter().any(|n| n == name) {
            return Err(Error::InvalidConfig(format!(
                "key `{key}` names column `{name}` twice"
            )));
        }
        names.push(name.to_owned());
    }
    Ok(names)
}

ingot_guest::export!(GroupCounts);

#[cfg(test)]
mod tests;
