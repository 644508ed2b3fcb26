//! Arrow IPC *stream* encoding of the batches that cross the boundary: one
//! schema message, then record batch messages, then the end-of-stream marker.
//!
//! Arrow comes from `ingot_core::arrow` (deltalake's re-export), so host and
//! table code share one arrow version.

use ingot_core::arrow::buffer::Buffer;
use ingot_core::arrow::compute::concat_batches;
use ingot_core::arrow::error::ArrowError;
use ingot_core::arrow::ipc::reader::StreamDecoder;
use ingot_core::arrow::ipc::writer::StreamWriter;

pub use ingot_core::arrow::record_batch::RecordBatch;

/// Encodes `batch` as an Arrow IPC stream.
///
/// # Errors
///
/// Arrow's error if the batch cannot be encoded (an unsupported type).
pub(super) fn encode(batch: &RecordBatch) -> Result<Vec<u8>, ArrowError> {
    let mut out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    let mut writer = StreamWriter::try_new(&mut out, &batch.schema())?;
    writer.write(batch)?;
    writer.finish()?;
    drop(writer);
    Ok(out)
}

/// Decodes an Arrow IPC stream into one batch: the concatenation of its
/// record batches, or an empty batch of its schema when it has none. The
/// arrays point into `bytes` (no copy) wherever their buffers are aligned;
/// every array is validated (offsets, UTF-8), as output of a guest must be.
///
/// # Errors
///
/// Arrow's error if the bytes are not a valid stream.
pub(super) fn decode(bytes: Vec<u8>) -> Result<RecordBatch, ArrowError> {
    let mut buffer = Buffer::from_vec(bytes);
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer)? {
            batches.push(batch);
        }
    }
    decoder.finish()?;
    let schema = decoder
        .schema()
        .ok_or_else(|| ArrowError::IpcError("the stream holds no schema".into()))?;
    match batches.len() {
        0 => Ok(RecordBatch::new_empty(schema)),
        1 => Ok(batches.into_iter().next().expect("invariant: one batch")),
        _ => concat_batches(&schema, &batches),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use ingot_core::arrow::array::{Int64Array, StringArray};
    use ingot_core::arrow::datatypes::{DataType, Field, Schema};

    use super::*;

    fn batch(ids: &[i64]) -> RecordBatch {
        let schema = Arc::new(Schema::new(vec![
            Field::new("id", DataType::Int64, false),
            Field::new("name", DataType::Utf8, true),
        ]));
        let names: Vec<Option<String>> = ids.iter().map(|i| Some(format!("n{i}"))).collect();
        RecordBatch::try_new(
            schema,
            vec![
                Arc::new(Int64Array::from(ids.to_vec())),
                Arc::new(StringArray::from(names)),
            ],
        )
        .expect("valid batch")
    }

    #[test]
    fn round_trip() {
        let input = batch(&[1, 2, 3]);
        let decoded = decode(encode(&input).expect("encode")).expect("decode");
        assert_eq!(decoded, input);
    }

    #[test]
    fn several_batches_are_concatenated_and_none_is_empty() {
        let (a, b) = (batch(&[1]), batch(&[2, 3]));
        let mut bytes = Vec::new();
        let mut writer = StreamWriter::try_new(&mut bytes, &a.schema()).expect("writer");
        writer.write(&a).expect("write");
        writer.write(&b).expect("write");
        writer.finish().expect("finish");
        drop(writer);
        assert_eq!(decode(bytes).expect("decode"), batch(&[1, 2, 3]));

        let mut schema_only = Vec::new();
        StreamWriter::try_new(&mut schema_only, &a.schema())
            .expect("writer")
            .finish()
            .expect("finish");
        let empty = decode(schema_only).expect("decode");
        assert_eq!(empty.num_rows(), 0);
        assert_eq!(empty.schema(), a.schema());
    }

    #[test]
    fn garbage_is_an_error() {
        assert!(decode(b"definitely not arrow".to_vec()).is_err());
        assert!(decode(Vec::new()).is_err(), "no schema");
    }
}
