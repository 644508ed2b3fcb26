//! Where a Kafka record becomes a bronze row.
//!
//! Bronze keeps everything Kafka gave: topic, partition, offset, timestamp,
//! key, value and headers (in order, duplicates kept), plus the time ingot
//! read the record. Keys and values stay bytes: parsing is a stage's job, so a
//! record no stage understands is still kept, never lost.

use std::{collections::BTreeMap, sync::Arc};

use rdkafka::message::{Headers, Message};

use crate::partitions::PerPartition;

use ingot_core::arrow::{
    array::{
        ArrayRef, BinaryBuilder, Int32Builder, Int64Builder, ListBuilder, RecordBatch,
        StringBuilder, StructBuilder, TimestampMicrosecondBuilder,
    },
    datatypes::{DataType, Field, Fields, Schema, SchemaRef, TimeUnit},
};

/// Name of the element field of list columns (the spelling Delta uses).
const LIST_ITEM: &str = "element";

fn timestamp_type() -> DataType {
    DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()))
}

fn header_fields() -> Fields {
    Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ])
}

fn header_item() -> Field {
    Field::new(LIST_ITEM, DataType::Struct(header_fields()), true)
}

/// The schema of every bronze table.
pub fn schema() -> SchemaRef {
    Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("timestamp", timestamp_type(), true),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("headers", DataType::List(Arc::new(header_item())), true),
        Field::new("ingest_time", timestamp_type(), false),
    ]))
}

/// The bronze columns whose values seldom repeat (written without a
/// dictionary), and those of opaque bytes among them (without statistics
/// either): see `ingot_delta::ColumnEncoding`.
pub fn column_kinds() -> (Vec<String>, Vec<String>) {
    let unique = ["offset", "timestamp", "ingest_time"];
    let opaque = ["key", "value"];
    (
        unique.map(String::from).to_vec(),
        opaque.map(String::from).to_vec(),
    )
}

/// Accumulates records into the columns of one bronze batch, and tracks the
/// last offset per partition for the commit's `txn` actions.
pub struct BronzeBuilder {
    topic: StringBuilder,
    partition: Int32Builder,
    offset: Int64Builder,
    timestamp: TimestampMicrosecondBuilder,
    key: BinaryBuilder,
    value: BinaryBuilder,
    headers: ListBuilder<StructBuilder>,
    ingest_time: TimestampMicrosecondBuilder,
    rows: usize,
    bytes: usize,
    last_offsets: PerPartition<i64>,
}

impl Default for BronzeBuilder {
    fn default() -> Self {
        Self::new()
    }
}

impl BronzeBuilder {
    /// An empty batch.
    pub fn new() -> Self {
        let header = StructBuilder::from_fields(header_fields(), 0);
        Self {
            topic: StringBuilder::new(),
            partition: Int32Builder::new(),
            offset: Int64Builder::new(),
            timestamp: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            key: BinaryBuilder::new(),
            value: BinaryBuilder::new(),
            headers: ListBuilder::new(header).with_field(Arc::new(header_item())),
            ingest_time: TimestampMicrosecondBuilder::new().with_timezone("UTC"),
            rows: 0,
            bytes: 0,
            last_offsets: PerPartition::default(),
        }
    }

    /// Rows held.
    pub fn len(&self) -> usize {
        self.rows
    }

    /// Whether no row is held.
    pub fn is_empty(&self) -> bool {
        self.rows == 0
    }

    /// Key and value bytes held.
    pub fn bytes(&self) -> usize {
        self.bytes
    }

    /// The highest offset held of `topic`/`partition`.
    pub fn last_offset(&self, topic: &str, partition: i32) -> Option<i64> {
        self.last_offsets.get(topic, partition).copied()
    }

    /// Appends one record, read at `ingest_time_us` (µs since the epoch).
    pub fn push<M: Message>(&mut self, message: &M, ingest_time_us: i64) {
        let (topic, partition, offset) = (message.topic(), message.partition(), message.offset());
        let (key, value) = (message.key(), message.payload());
        self.topic.append_value(topic);
        self.partition.append_value(partition);
        self.offset.append_value(offset);
        self.timestamp
            .append_option(message.timestamp().to_millis().map(|ms| ms * 1_000));
        self.key.append_option(key);
        self.value.append_option(value);
        self.push_headers(message);
        self.ingest_time.append_value(ingest_time_us);
        self.rows += 1;
        self.bytes += key.map_or(0, <[u8]>::len) + value.map_or(0, <[u8]>::len);
        let last = self
            .last_offsets
            .get_or_insert_with(topic, partition, || offset);
        *last = (*last).max(offset);
    }

    fn push_headers<M: Message>(&mut self, message: &M) {
        let Some(headers) = message.headers() else {
            self.headers.append(true);
            return;
        };
        let entries = self.headers.values();
        for header in headers.iter() {
            entries
                .field_builder::<StringBuilder>(0)
                .expect("invariant: header field 0 is the utf8 key")
                .append_value(header.key);
            entries
                .field_builder::<BinaryBuilder>(1)
                .expect("invariant: header field 1 is the binary value")
                .append_option(header.value);
            entries.append(true);
        }
        self.headers.append(true);
    }

    /// Takes the rows held as one batch (the builder is left empty) along
    /// with the last offset per partition.
    pub fn finish(&mut self) -> (RecordBatch, BTreeMap<(String, i32), i64>) {
        let columns: Vec<ArrayRef> = vec![
            Arc::new(self.topic.finish()),
            Arc::new(self.partition.finish()),
            Arc::new(self.offset.finish()),
            Arc::new(self.timestamp.finish()),
            Arc::new(self.key.finish()),
            Arc::new(self.value.finish()),
            Arc::new(self.headers.finish()),
            Arc::new(self.ingest_time.finish()),
        ];
        self.rows = 0;
        self.bytes = 0;
        let batch = RecordBatch::try_new(schema(), columns)
            .expect("invariant: bronze builders match the bronze schema");
        (batch, self.last_offsets.take())
    }

    /// Drops the rows held (after a rebalance took their partitions away).
    pub fn clear(&mut self) {
        drop(self.finish());
    }
}

/// A record with no key, value, timestamp or headers at `topic`/`partition`/
/// `offset`: what tests of the layers above push into a [`BronzeBuilder`]
/// without naming rdkafka.
pub fn bare_record(topic: &str, partition: i32, offset: i64) -> impl Message {
    rdkafka::message::OwnedMessage::new(
        None,
        None,
        topic.to_owned(),
        rdkafka::Timestamp::NotAvailable,
        partition,
        offset,
        None,
    )
}

#[cfg(test)]
mod tests {
    use rdkafka::{
        Timestamp,
        message::{Header, OwnedHeaders, OwnedMessage},
    };

    use super::*;
    use ingot_core::arrow::array::{Array, AsArray};
    use ingot_core::arrow::datatypes::{Int32Type, Int64Type};

    /// The guest SDK's test helper keeps its own copy of this schema (a
    /// guest cannot depend on the host): it must not drift.
    #[test]
    fn the_sdk_test_helper_builds_this_schema() {
        let batch = ingot_guest::testing::bronze("t", &[]);
        let sdk: Vec<_> = batch
            .schema()
            .fields()
            .iter()
            .filter(|f| !ingot_guest::is_cdf_column(f.name()))
            .cloned()
            .collect();
        let host: Vec<_> = schema().fields().iter().cloned().collect();
        assert_eq!(sdk, host);
    }

    fn message(
        partition: i32,
        offset: i64,
        value: Option<&[u8]>,
        headers: Option<OwnedHeaders>,
    ) -> OwnedMessage {
        OwnedMessage::new(
            value.map(<[u8]>::to_vec),
            Some(b"k".to_vec()),
            "logs".into(),
            Timestamp::CreateTime(1_700_000_000_123),
            partition,
            offset,
            headers,
        )
    }

    #[test]
    fn records_keep_everything_kafka_gave() {
        let mut b = BronzeBuilder::new();
        let headers = OwnedHeaders::new()
            .insert(Header {
                key: "trace",
                value: Some(b"abc".as_slice()),
            })
            .insert(Header {
                key: "trace",
                value: None::<&[u8]>,
            });
        b.push(&message(2, 41, Some(b"{}"), Some(headers)), 7);
        b.push(&message(2, 42, None, None), 8);
        b.push(&message(0, 5, Some(b"x"), None), 9);
        assert_eq!((b.len(), b.bytes()), (3, 6));
        let (batch, last) = b.finish();
        assert!(b.is_empty());
        assert_eq!(batch.schema(), schema());
        assert_eq!(
            last,
            BTreeMap::from([(("logs".into(), 0), 5), (("logs".into(), 2), 42)])
        );
        assert_eq!(
            batch.column(1).as_primitive::<Int32Type>().values(),
            &[2, 2, 0]
        );
        assert_eq!(
            batch.column(2).as_primitive::<Int64Type>().values(),
            &[41, 42, 5]
        );
        let ts = batch
            .column(3)
            .as_primitive::<ingot_core::arrow::datatypes::TimestampMicrosecondType>();
        assert_eq!(ts.value(0), 1_700_000_000_123_000);
        let value = batch.column(5).as_binary::<i32>();
        assert_eq!((value.value(0), value.is_null(1)), (b"{}".as_slice(), true));
        let headers = batch.column(6).as_list::<i32>();
        assert_eq!(headers.value_length(0), 2, "duplicate header keys are kept");
        assert_eq!(headers.value_length(1), 0);
        let first = headers.value(0);
        let first = first.as_struct();
        assert_eq!(first.column(0).as_string::<i32>().value(1), "trace");
        assert!(first.column(1).is_null(1));
    }
}
