//! What the envelope's `schema` says about the configured columns: the unit
//! of an integer timestamp and the scale of a base64 decimal. Every event of
//! a topic repeats the same schema, so it is parsed once per distinct text
//! and the result reused while the text stays the same.

use serde_json::Value;
use serde_json::value::RawValue;

use crate::config::Column;

/// How to read one column's integers and strings, from the Kafka Connect
/// schema name of its field.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum Semantic {
    /// Nothing special: integer timestamps are microseconds, integer dates
    /// are days, decimal strings are decimal text.
    #[default]
    Plain,
    /// `io.debezium.time.Timestamp`, `org.apache.kafka.connect.data.Timestamp`.
    Millis,
    /// `io.debezium.time.MicroTimestamp`.
    Micros,
    /// `io.debezium.time.NanoTimestamp`.
    Nanos,
    /// `org.apache.kafka.connect.data.Decimal`: base64 bytes at this scale.
    DecimalBytes {
        /// The schema's `parameters.scale`.
        scale: i64,
    },
}

/// The semantics of the configured columns, per envelope schema.
#[derive(Debug)]
pub struct Semantics {
    plain: Vec<Semantic>,
    schema_text: String,
    of_schema: Vec<Semantic>,
}

impl Semantics {
    /// No schema seen yet, for `columns` configured columns.
    pub fn new(columns: usize) -> Semantics {
        Semantics {
            plain: vec![Semantic::Plain; columns],
            schema_text: String::new(),
            of_schema: vec![Semantic::Plain; columns],
        }
    }

    /// One semantic per configured column: all plain without an envelope
    /// schema, else what `schema` names for each column's field.
    pub fn of(&mut self, schema: Option<&RawValue>, columns: &[Column]) -> &[Semantic] {
        let Some(schema) = schema else {
            return &self.plain;
        };
        if self.schema_text != schema.get() {
            self.of_schema = read(schema.get(), columns);
            self.schema_text.clear();
            self.schema_text.push_str(schema.get());
        }
        &self.of_schema
    }
}

/// Reads the Kafka Connect struct schema of the envelope: its `after` (or
/// `before`) field's `fields`, each with `field` (the column) and `name`
/// (the semantic type). Anything unexpected reads as plain.
fn read(text: &str, columns: &[Column]) -> Vec<Semantic> {
    let schema: Value = serde_json::from_str(text).unwrap_or(Value::Null);
    let envelope_fields = schema.get("fields").and_then(Value::as_array);
    let image = envelope_fields.and_then(|fields| {
        ["after", "before"].into_iter().find_map(|name| {
            fields
                .iter()
                .find(|f| f.get("field").and_then(Value::as_str) == Some(name))
        })
    });
    let image_fields = image
        .and_then(|image| image.get("fields"))
        .and_then(Value::as_array);
    columns
        .iter()
        .map(|column| {
            let field = image_fields.and_then(|fields| {
                fields
                    .iter()
                    .find(|f| f.get("field").and_then(Value::as_str) == Some(&column.name))
            });
            field.map_or(Semantic::Plain, semantic)
        })
        .collect()
}

fn semantic(field: &Value) -> Semantic {
    match field.get("name").and_then(Value::as_str) {
        Some("io.debezium.time.Timestamp" | "org.apache.kafka.connect.data.Timestamp") => {
            Semantic::Millis
        }
        Some("io.debezium.time.MicroTimestamp") => Semantic::Micros,
        Some("io.debezium.time.NanoTimestamp") => Semantic::Nanos,
        Some("org.apache.kafka.connect.data.Decimal") => {
            let scale = field.get("parameters").and_then(|p| p.get("scale"));
            let scale = match scale {
                Some(Value::String(s)) => s.parse().ok(),
                Some(other) => other.as_i64(),
                None => None,
            };
            // Kafka Connect always writes the scale; without one, the bytes
            // cannot be read, and a plain reading rejects them.
            scale.map_or(Semantic::Plain, |scale| Semantic::DecimalBytes { scale })
        }
        _ => Semantic::Plain,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::ColumnType;

    fn columns(names: &[&str]) -> Vec<Column> {
        names
            .iter()
            .map(|name| Column {
                name: (*name).to_owned(),
                kind: ColumnType::Timestamp,
                key: false,
            })
            .collect()
    }

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("valid JSON")
    }

    const SCHEMA: &str = r#"{"type":"struct","fields":[
        {"type":"struct","field":"before","fields":[]},
        {"type":"struct","field":"after","fields":[
            {"type":"int64","field":"ms","name":"io.debezium.time.Timestamp"},
            {"type":"int64","field":"us","name":"io.debezium.time.MicroTimestamp"},
            {"type":"int64","field":"ns","name":"io.debezium.time.NanoTimestamp"},
            {"type":"int64","field":"connect","name":"org.apache.kafka.connect.data.Timestamp"},
            {"type":"bytes","field":"price","name":"org.apache.kafka.connect.data.Decimal","parameters":{"scale":"2","connect.decimal.precision":"10"}},
            {"type":"string","field":"zoned","name":"io.debezium.time.ZonedTimestamp"},
            {"type":"int32","field":"n"}
        ]}
    ]}"#;

    #[test]
    fn names_in_the_after_schema_give_units_and_scales() {
        let columns = columns(&["ms", "us", "ns", "connect", "price", "zoned", "n", "absent"]);
        let mut semantics = Semantics::new(columns.len());
        let schema = raw(SCHEMA);
        assert_eq!(
            semantics.of(Some(&schema), &columns),
            [
                Semantic::Millis,
                Semantic::Micros,
                Semantic::Nanos,
                Semantic::Millis,
                Semantic::DecimalBytes { scale: 2 },
                Semantic::Plain,
                Semantic::Plain,
                Semantic::Plain,
            ]
        );
        assert_eq!(semantics.of(None, &columns), [Semantic::Plain; 8]);
    }

    #[test]
    fn a_changed_schema_is_read_again_and_a_strange_one_is_plain() {
        let columns = columns(&["ms"]);
        let mut semantics = Semantics::new(1);
        assert_eq!(
            semantics.of(Some(&raw(SCHEMA)), &columns),
            [Semantic::Millis]
        );
        let other = SCHEMA.replace(
            "io.debezium.time.Timestamp",
            "io.debezium.time.NanoTimestamp",
        );
        assert_eq!(
            semantics.of(Some(&raw(&other)), &columns),
            [Semantic::Nanos]
        );
        for strange in [
            "{}",
            "[]",
            "7",
            r#"{"fields":[{"field":"after","fields":{}}]}"#,
        ] {
            assert_eq!(
                semantics.of(Some(&raw(strange)), &columns),
                [Semantic::Plain],
                "{strange}"
            );
        }
    }
}
