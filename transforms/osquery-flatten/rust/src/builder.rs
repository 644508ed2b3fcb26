//! The silver batch under construction: one Arrow builder per output column,
//! appended to message by message.

use std::fmt::Write as _;
use std::sync::Arc;

use ingot_guest::Error;
use ingot_guest::arrow_array::builder::{
    BooleanBuilder, Float64Builder, Int32Builder, Int64Builder, MapBuilder, MapFieldNames,
    StringBuilder, TimestampMicrosecondBuilder,
};
use ingot_guest::arrow_array::{ArrayRef, RecordBatch};
use ingot_guest::arrow_schema::SchemaRef;

use crate::config::{ColumnType, Plan, QueryPlan};
use crate::json::{Json, Object};
use crate::message::Message;
use crate::rows::{Cell, Rows};

/// The names Delta Lake gives a map's parts; the output uses them so the
/// table's schema reads back as written.
pub(crate) fn map_field_names() -> MapFieldNames {
    MapFieldNames {
        entry: "key_value".into(),
        key: "key".into(),
        value: "value".into(),
    }
}

/// The Kafka record an output row comes from.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Lineage<'a> {
    pub(crate) topic: &'a str,
    pub(crate) partition: i32,
    pub(crate) offset: i64,
}

type StringMapBuilder = MapBuilder<StringBuilder, StringBuilder>;

/// Builders for every output column, in schema order.
pub(crate) struct SilverBuilder {
    host: StringBuilder,
    query: StringBuilder,
    action: StringBuilder,
    time: TimestampMicrosecondBuilder,
    epoch: Int64Builder,
    counter: Int64Builder,
    row_id: Int64Builder,
    snapshot_rows: Int64Builder,
    decorations: StringMapBuilder,
    typed: Vec<TypedBuilder>,
    columns: StringMapBuilder,
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    /// Renders numbers without allocating per value.
    scratch: String,
}

/// The builder of one configured column.
enum TypedBuilder {
    String(StringBuilder),
    Int64(Int64Builder),
    Float64(Float64Builder),
    Bool(BooleanBuilder),
    Timestamp(TimestampMicrosecondBuilder),
}

impl TypedBuilder {
    fn new(ty: ColumnType, capacity: usize) -> Self {
        match ty {
            ColumnType::String => TypedBuilder::String(StringBuilder::with_capacity(capacity, 0)),
            ColumnType::Int64 => TypedBuilder::Int64(Int64Builder::with_capacity(capacity)),
            ColumnType::Float64 => TypedBuilder::Float64(Float64Builder::with_capacity(capacity)),
            ColumnType::Bool => TypedBuilder::Bool(BooleanBuilder::with_capacity(capacity)),
            ColumnType::Timestamp => TypedBuilder::Timestamp(utc_builder(capacity)),
        }
    }

    /// Appends `cell`, which the plan converted to this column's type.
    fn append(&mut self, cell: &Cell<'_>) {
        match (self, cell) {
            (TypedBuilder::String(b), Cell::Str(s)) => b.append_value(s),
            (TypedBuilder::String(b), Cell::Text(s)) => b.append_value(s),
            (TypedBuilder::Int64(b), Cell::Int(v)) => b.append_value(*v),
            (TypedBuilder::Timestamp(b), Cell::Int(v)) => b.append_value(*v),
            (TypedBuilder::Float64(b), Cell::Float(v)) => b.append_value(*v),
            (TypedBuilder::Bool(b), Cell::Bool(v)) => b.append_value(*v),
            (builder, _) => builder.append_null(),
        }
    }

    fn append_null(&mut self) {
        match self {
            TypedBuilder::String(b) => b.append_null(),
            TypedBuilder::Int64(b) => b.append_null(),
            TypedBuilder::Float64(b) => b.append_null(),
            TypedBuilder::Bool(b) => b.append_null(),
            TypedBuilder::Timestamp(b) => b.append_null(),
        }
    }

    fn finish(&mut self) -> ArrayRef {
        match self {
            TypedBuilder::String(b) => Arc::new(b.finish()),
            TypedBuilder::Int64(b) => Arc::new(b.finish()),
            TypedBuilder::Float64(b) => Arc::new(b.finish()),
            TypedBuilder::Bool(b) => Arc::new(b.finish()),
            TypedBuilder::Timestamp(b) => Arc::new(b.finish()),
        }
    }
}

fn utc_builder(capacity: usize) -> TimestampMicrosecondBuilder {
    TimestampMicrosecondBuilder::with_capacity(capacity).with_timezone("UTC")
}

fn map_builder(capacity: usize) -> StringMapBuilder {
    MapBuilder::with_capacity(
        Some(map_field_names()),
        StringBuilder::new(),
        StringBuilder::new(),
        capacity,
    )
}

impl SilverBuilder {
    /// Empty builders for the columns of `plan`, sized for `capacity` rows.
    pub(crate) fn new(plan: &Plan, capacity: usize) -> Self {
        let strings = || StringBuilder::with_capacity(capacity, capacity * 16);
        Self {
            host: strings(),
            query: strings(),
            action: strings(),
            time: utc_builder(capacity),
            epoch: Int64Builder::with_capacity(capacity),
            counter: Int64Builder::with_capacity(capacity),
            row_id: Int64Builder::with_capacity(capacity),
            snapshot_rows: Int64Builder::with_capacity(capacity),
            decorations: map_builder(capacity),
            typed: plan
                .typed
                .iter()
                .map(|c| TypedBuilder::new(c.ty, capacity))
                .collect(),
            columns: map_builder(capacity),
            topic: strings(),
            partition: Int32Builder::with_capacity(capacity),
            offset: Int64Builder::with_capacity(capacity),
            scratch: String::new(),
        }
    }

    /// Appends the resolved rows of `message`.
    pub(crate) fn append(
        &mut self,
        message: &Message<'_>,
        rows: &Rows<'_>,
        plan: Option<&QueryPlan>,
        lineage: Lineage<'_>,
    ) {
        let width = plan.map_or(0, |p| p.columns.len());
        for (index, row) in rows.rows.iter().enumerate() {
            self.host.append_value(message.host);
            self.query.append_value(message.query);
            self.action.append_value(row.action.as_str());
            self.time.append_value(message.time);
            self.epoch.append_value(message.epoch);
            self.counter.append_value(message.counter);
            self.row_id.append_value(row.row_id);
            self.snapshot_rows.append_option(rows.snapshot_rows);
            append_map(
                &mut self.decorations,
                &mut self.scratch,
                message.decorations,
                |_| true,
            );
            match (plan, row.columns) {
                (Some(plan), Some(_)) => {
                    let cells = &rows.cells[index * width..(index + 1) * width];
                    for (builder, source) in self.typed.iter_mut().zip(&plan.by_output) {
                        match source {
                            Some(k) => builder.append(&cells[*k]),
                            None => builder.append_null(),
                        }
                    }
                }
                _ => self.typed.iter_mut().for_each(TypedBuilder::append_null),
            }
            append_map(&mut self.columns, &mut self.scratch, row.columns, |name| {
                plan.is_none_or(|p| !p.is_typed(name))
            });
            self.topic.append_value(lineage.topic);
            self.partition.append_value(lineage.partition);
            self.offset.append_value(lineage.offset);
        }
    }

    /// The batch of every appended row, with `schema`.
    pub(crate) fn finish(mut self, schema: SchemaRef) -> Result<RecordBatch, Error> {
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(self.host.finish()),
            Arc::new(self.query.finish()),
            Arc::new(self.action.finish()),
            Arc::new(self.time.finish()),
            Arc::new(self.epoch.finish()),
            Arc::new(self.counter.finish()),
            Arc::new(self.row_id.finish()),
            Arc::new(self.snapshot_rows.finish()),
            Arc::new(self.decorations.finish()),
        ];
        columns.extend(self.typed.iter_mut().map(TypedBuilder::finish));
        columns.extend([
            Arc::new(self.columns.finish()) as ArrayRef,
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
        ]);
        Ok(RecordBatch::try_new(schema, columns)?)
    }
}

/// Appends the entries of `fields` that `keep` accepts as one map, values as
/// strings (numbers as their JSON text); a null map when `fields` is `None`
/// or no entry is kept.
fn append_map(
    builder: &mut StringMapBuilder,
    scratch: &mut String,
    fields: Option<&Object<'_>>,
    keep: impl Fn(&str) -> bool,
) {
    let mut kept = 0;
    for (name, value) in fields.into_iter().flat_map(Object::iter) {
        if !keep(name) {
            continue;
        }
        kept += 1;
        let (keys, values) = builder.entries();
        keys.append_value(name);
        match value {
            Json::Null => values.append_null(),
            Json::String(s) => values.append_value(s),
            Json::Bool(b) => values.append_value(if *b { "true" } else { "false" }),
            // Numbers, and (in decorations only; rows reject them) nested
            // values, as their JSON text.
            other => {
                scratch.clear();
                write!(scratch, "{other}").expect("invariant: writing to a String cannot fail");
                values.append_value(&scratch);
            }
        }
    }
    builder
        .append(kept > 0)
        .expect("invariant: every key was appended with its value");
}
