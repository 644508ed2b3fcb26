//! The output batch, built row by row with Arrow builders.

use std::fmt::Write;
use std::sync::Arc;

use ingot_guest::Error;
use ingot_guest::arrow_array::builder::{
    BooleanBuilder, Date32Builder, Decimal128Builder, Float64Builder, Int32Builder, Int64Builder,
    StringBuilder, TimestampMicrosecondBuilder,
};
use ingot_guest::arrow_array::{ArrayRef, RecordBatch};
use ingot_guest::arrow_schema::SchemaRef;

use crate::config::{Column, ColumnType};
use crate::event::{Meta, Op};
use crate::value::Scalar;

/// One configured column's builder.
enum ColumnBuilder {
    Text(StringBuilder),
    Int32(Int32Builder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Date(Date32Builder),
    Timestamp(TimestampMicrosecondBuilder),
    Decimal(Decimal128Builder),
}

/// The rows of one `process` call.
pub struct RowsBuilder {
    columns: Vec<ColumnBuilder>,
    op: StringBuilder,
    source_ts: TimestampMicrosecondBuilder,
    seq: StringBuilder,
    deleted: BooleanBuilder,
}

impl RowsBuilder {
    /// Empty builders for `columns`, sized for `rows` rows.
    ///
    /// # Errors
    ///
    /// An Arrow error for a decimal type Arrow refuses (the config checked
    /// the bounds, so none).
    pub fn new(columns: &[Column], rows: usize) -> Result<RowsBuilder, Error> {
        let columns = columns
            .iter()
            .map(|column| {
                Ok(match column.kind {
                    ColumnType::String | ColumnType::Json => {
                        ColumnBuilder::Text(StringBuilder::with_capacity(rows, rows * 16))
                    }
                    ColumnType::Int32 => ColumnBuilder::Int32(Int32Builder::with_capacity(rows)),
                    ColumnType::Int64 => ColumnBuilder::Int64(Int64Builder::with_capacity(rows)),
                    ColumnType::Float64 => {
                        ColumnBuilder::Float64(Float64Builder::with_capacity(rows))
                    }
                    ColumnType::Bool => ColumnBuilder::Bool(BooleanBuilder::with_capacity(rows)),
                    ColumnType::Date => ColumnBuilder::Date(Date32Builder::with_capacity(rows)),
                    ColumnType::Timestamp => ColumnBuilder::Timestamp(
                        TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
                    ),
                    ColumnType::Decimal { precision, scale } => ColumnBuilder::Decimal(
                        Decimal128Builder::with_capacity(rows)
                            .with_precision_and_scale(precision, scale)?,
                    ),
                })
            })
            .collect::<Result<_, Error>>()?;
        Ok(RowsBuilder {
            columns,
            op: StringBuilder::with_capacity(rows, rows),
            source_ts: TimestampMicrosecondBuilder::with_capacity(rows).with_timezone("UTC"),
            seq: StringBuilder::with_capacity(rows, rows * 32),
            deleted: BooleanBuilder::with_capacity(rows),
        })
    }

    /// Appends one row: `values` (one per configured column, each the
    /// variant of its column's type) and the event's metadata.
    pub fn append(&mut self, values: &[Scalar], meta: &Meta) {
        for (builder, value) in self.columns.iter_mut().zip(values) {
            builder.append(value);
        }
        self.op.append_value(meta.op.as_str());
        self.source_ts.append_option(meta.source_ts);
        write!(self.seq, "{}", meta.position).expect("invariant: writing to a builder cannot fail");
        self.seq.append_value("");
        self.deleted.append_value(meta.op == Op::Delete);
    }

    /// The batch of the rows appended, with `schema`.
    ///
    /// # Errors
    ///
    /// An Arrow error if the columns do not fit `schema` (they are made
    /// from the same configuration, so none).
    pub fn finish(self, schema: SchemaRef) -> Result<RecordBatch, Error> {
        let mut columns: Vec<ArrayRef> = self
            .columns
            .into_iter()
            .map(ColumnBuilder::finish)
            .collect();
        let (mut op, mut source_ts, mut seq, mut deleted) =
            (self.op, self.source_ts, self.seq, self.deleted);
        columns.push(Arc::new(op.finish()));
        columns.push(Arc::new(source_ts.finish()));
        columns.push(Arc::new(seq.finish()));
        columns.push(Arc::new(deleted.finish()));
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

impl ColumnBuilder {
    fn append(&mut self, value: &Scalar) {
        match (self, value) {
            (ColumnBuilder::Text(b), Scalar::Text(v)) => b.append_value(v),
            (ColumnBuilder::Int32(b), Scalar::Int32(v)) => b.append_value(*v),
            (ColumnBuilder::Int64(b), Scalar::Int64(v)) => b.append_value(*v),
            (ColumnBuilder::Float64(b), Scalar::Float64(v)) => b.append_value(*v),
            (ColumnBuilder::Bool(b), Scalar::Bool(v)) => b.append_value(*v),
            (ColumnBuilder::Date(b), Scalar::Date(v)) => b.append_value(*v),
            (ColumnBuilder::Timestamp(b), Scalar::Timestamp(v)) => b.append_value(*v),
            (ColumnBuilder::Decimal(b), Scalar::Decimal(v)) => b.append_value(*v),
            (builder, Scalar::Null) => builder.append_null(),
            (_, value) => unreachable!(
                "invariant: `convert` makes the variant of the column type, not {value:?}"
            ),
        }
    }

    fn append_null(&mut self) {
        match self {
            ColumnBuilder::Text(b) => b.append_null(),
            ColumnBuilder::Int32(b) => b.append_null(),
            ColumnBuilder::Int64(b) => b.append_null(),
            ColumnBuilder::Float64(b) => b.append_null(),
            ColumnBuilder::Bool(b) => b.append_null(),
            ColumnBuilder::Date(b) => b.append_null(),
            ColumnBuilder::Timestamp(b) => b.append_null(),
            ColumnBuilder::Decimal(b) => b.append_null(),
        }
    }

    fn finish(self) -> ArrayRef {
        match self {
            ColumnBuilder::Text(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Int32(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Int64(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Float64(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Bool(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Date(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Timestamp(mut b) => Arc::new(b.finish()),
            ColumnBuilder::Decimal(mut b) => Arc::new(b.finish()),
        }
    }
}
