//! Schema checks: whether a table may be reused for a schema, and bringing a
//! batch (or a query result) to the exact Arrow types of the table.

use std::sync::Arc;

use deltalake::arrow::array::{ArrayRef, RecordBatch};
use deltalake::arrow::compute::{CastOptions, cast_with_options};
use deltalake::arrow::datatypes::{DataType, Field, Schema, SchemaRef};
use deltalake::kernel::StructType;
use deltalake::kernel::engine::arrow_conversion::TryIntoKernel as _;

use super::TableError;

/// The Delta schema an Arrow schema is stored as.
///
/// # Errors
/// [`TableError::SchemaMismatch`] when a field has no Delta representation.
pub(crate) fn to_delta(table: &str, schema: &SchemaRef) -> Result<StructType, TableError> {
    let normalized = deltalake::kernel::normalize_for_delta(schema);
    normalized
        .try_into_kernel()
        .map_err(|e| TableError::SchemaMismatch {
            table: table.to_string(),
            details: format!("the schema cannot be stored in a delta table: {e}"),
        })
}

/// Differences that make an existing table unfit for `wanted`: fields must
/// match by name and type; the table may be nullable where `wanted` is not.
/// Returns an empty list when the table fits.
pub(crate) fn incompatibilities(existing: &StructType, wanted: &StructType) -> Vec<String> {
    let mut problems = Vec::new();
    for field in wanted.fields() {
        match existing.field(field.name()) {
            None => problems.push(format!("field {} is not in the table", field.name())),
            Some(have) if have.data_type() != field.data_type() => problems.push(format!(
                "field {} is {} in the table but {} in the schema",
                field.name(),
                have.data_type(),
                field.data_type()
            )),
            Some(have) if !have.is_nullable() && field.is_nullable() => problems.push(format!(
                "field {} is not nullable in the table but nullable in the schema",
                field.name()
            )),
            Some(_) => {}
        }
    }
    for field in existing.fields() {
        if wanted.field(field.name()).is_none() {
            problems.push(format!(
                "field {} of the table is not in the schema",
                field.name()
            ));
        }
    }
    problems
}

/// `batch` with exactly the fields of `target` (by name, in its order), each
/// cast to the target type.
///
/// # Errors
/// [`TableError::MissingColumn`] for a target field absent from the batch,
/// [`TableError::SchemaMismatch`] for batch columns the target does not have,
/// [`TableError::InvalidBatch`] when a cast fails or a non-nullable column
/// holds nulls.
pub(crate) fn conform(
    table: &str,
    batch: &RecordBatch,
    target: &SchemaRef,
) -> Result<RecordBatch, TableError> {
    let source = batch.schema();
    let extra: Vec<&str> = source
        .fields()
        .iter()
        .map(|f| f.name().as_str())
        .filter(|name| target.field_with_name(name).is_err())
        .collect();
    if !extra.is_empty() {
        return Err(TableError::SchemaMismatch {
            table: table.to_string(),
            details: format!("batch columns not in the table: {}", extra.join(", ")),
        });
    }
    let strict = CastOptions {
        safe: false,
        ..Default::default()
    };
    let mut columns = Vec::with_capacity(target.fields().len());
    for field in target.fields() {
        let index = source
            .index_of(field.name())
            .map_err(|_| TableError::MissingColumn {
                table: table.to_string(),
                column: field.name().clone(),
            })?;
        let column = batch.column(index);
        if column.data_type() == field.data_type() {
            columns.push(column.clone());
        } else {
            let cast = cast_with_options(column, field.data_type(), &strict).map_err(|e| {
                TableError::InvalidBatch {
                    table: table.to_string(),
                    reason: format!("column {}: {e}", field.name()),
                }
            })?;
            columns.push(cast);
        }
    }
    RecordBatch::try_new(target.clone(), columns).map_err(|e| TableError::InvalidBatch {
        table: table.to_string(),
        reason: e.to_string(),
    })
}

/// A query result with view types (`Utf8View`, `BinaryView`) turned into
/// their classic forms, so readers see the same types as [`super::Table::schema`].
///
/// # Errors
/// An Arrow cast failure (not expected for these types).
pub(crate) fn without_views(
    batch: RecordBatch,
) -> Result<RecordBatch, deltalake::arrow::error::ArrowError> {
    let schema = batch.schema();
    if !schema.fields().iter().any(|f| has_view(f.data_type())) {
        return Ok(batch);
    }
    let fields: Vec<Field> = schema
        .fields()
        .iter()
        .map(|f| f.as_ref().clone().with_data_type(unview(f.data_type())))
        .collect();
    let columns: Vec<ArrayRef> = batch
        .columns()
        .iter()
        .zip(&fields)
        .map(|(c, f)| {
            if c.data_type() == f.data_type() {
                Ok(c.clone())
            } else {
                deltalake::arrow::compute::cast(c, f.data_type())
            }
        })
        .collect::<Result<_, _>>()?;
    RecordBatch::try_new(
        Arc::new(Schema::new_with_metadata(fields, schema.metadata().clone())),
        columns,
    )
}

fn has_view(data_type: &DataType) -> bool {
    unview(data_type) != *data_type
}

/// The classic type for a view type, recursing into lists and structs.
fn unview(data_type: &DataType) -> DataType {
    match data_type {
        DataType::Utf8View => DataType::Utf8,
        DataType::BinaryView => DataType::Binary,
        DataType::List(item) => DataType::List(Arc::new(
            item.as_ref()
                .clone()
                .with_data_type(unview(item.data_type())),
        )),
        DataType::LargeList(item) => DataType::LargeList(Arc::new(
            item.as_ref()
                .clone()
                .with_data_type(unview(item.data_type())),
        )),
        DataType::Struct(fields) => DataType::Struct(
            fields
                .iter()
                .map(|f| f.as_ref().clone().with_data_type(unview(f.data_type())))
                .collect(),
        ),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use deltalake::arrow::array::{Int32Array, StringViewArray};

    fn schema(fields: Vec<Field>) -> SchemaRef {
        Arc::new(Schema::new(fields))
    }

    #[test]
    fn compatibility_names_the_fields() {
        let table = to_delta(
            "t",
            &schema(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("name", DataType::Utf8, true),
            ]),
        )
        .expect("delta schema");
        let same_but_stricter = to_delta(
            "t",
            &schema(vec![
                Field::new("id", DataType::Int64, false),
                Field::new("name", DataType::Utf8View, false),
            ]),
        )
        .expect("delta schema");
        assert!(incompatibilities(&table, &same_but_stricter).is_empty());
        let different = to_delta(
            "t",
            &schema(vec![
                Field::new("id", DataType::Utf8, false),
                Field::new("extra", DataType::Int32, true),
            ]),
        )
        .expect("delta schema");
        let problems = incompatibilities(&table, &different).join("; ");
        assert!(problems.contains("field id is"), "{problems}");
        assert!(
            problems.contains("field extra is not in the table"),
            "{problems}"
        );
        assert!(problems.contains("field name of the table"), "{problems}");
    }

    #[test]
    fn conform_casts_reorders_and_reports() {
        let target = schema(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]);
        let batch = RecordBatch::try_new(
            schema(vec![
                Field::new("name", DataType::Utf8View, true),
                Field::new("id", DataType::Int32, true),
            ]),
            vec![
                Arc::new(StringViewArray::from(vec!["a", "b"])),
                Arc::new(Int32Array::from(vec![1, 2])),
            ],
        )
        .expect("batch");
        let out = conform("t", &batch, &target).expect("conform");
        assert_eq!(out.schema(), target);

        let missing = RecordBatch::try_new(
            schema(vec![Field::new("id", DataType::Int32, true)]),
            vec![Arc::new(Int32Array::from(vec![1]))],
        )
        .expect("batch");
        assert!(matches!(
            conform("t", &missing, &target),
            Err(TableError::MissingColumn { column, .. }) if column == "name"
        ));

        let nulls = RecordBatch::try_new(
            schema(vec![
                Field::new("id", DataType::Int32, true),
                Field::new("name", DataType::Utf8, true),
            ]),
            vec![
                Arc::new(Int32Array::from(vec![None, Some(1)])),
                Arc::new(deltalake::arrow::array::StringArray::from(vec!["a", "b"])),
            ],
        )
        .expect("batch");
        assert!(matches!(
            conform("t", &nulls, &target),
            Err(TableError::InvalidBatch { .. })
        ));
    }

    #[test]
    fn views_become_classic_types() {
        let batch = RecordBatch::try_new(
            schema(vec![Field::new("s", DataType::Utf8View, true)]),
            vec![Arc::new(StringViewArray::from(vec!["x"]))],
        )
        .expect("batch");
        let out = without_views(batch).expect("cast");
        assert_eq!(out.schema().field(0).data_type(), &DataType::Utf8);
    }
}
