//! Arrow IPC stream bytes to and from one [`RecordBatch`]: the encoding of
//! both directions of the component boundary.

use arrow_array::RecordBatch;
use arrow_buffer::Buffer;
use arrow_ipc::reader::StreamDecoder;
use arrow_ipc::writer::StreamWriter;
use arrow_select::concat::concat_batches;

use crate::Error;

/// Decodes an IPC stream into one batch: several record batches are
/// concatenated, a schema-only stream is an empty batch. The arrays point
/// into `bytes` (no copy) wherever their buffers are aligned.
///
/// # Errors
///
/// [`Error::InvalidInput`] when the bytes are not an IPC stream or the batch
/// has more rows than a `u32` row index can name.
pub(crate) fn decode(bytes: Vec<u8>) -> Result<RecordBatch, Error> {
    let invalid = |error| Error::InvalidInput(format!("not an Arrow IPC stream: {error}"));
    let mut buffer = Buffer::from_vec(bytes);
    let mut decoder = StreamDecoder::new();
    let mut batches = Vec::new();
    while !buffer.is_empty() {
        if let Some(batch) = decoder.decode(&mut buffer).map_err(invalid)? {
            batches.push(batch);
        }
    }
    decoder.finish().map_err(invalid)?;
    let schema = decoder
        .schema()
        .ok_or_else(|| Error::InvalidInput("not an Arrow IPC stream: no schema".into()))?;
    let batch = match batches.len() {
        0 => RecordBatch::new_empty(schema),
        1 => batches.remove(0),
        _ => concat_batches(&schema, &batches).map_err(invalid)?,
    };
    if u32::try_from(batch.num_rows()).is_err() {
        return Err(Error::InvalidInput(format!(
            "batch of {} rows is too large, at most {} fit",
            batch.num_rows(),
            u32::MAX
        )));
    }
    Ok(batch)
}

/// Encodes a batch as an IPC stream; an empty batch is a schema-only stream.
///
/// # Errors
///
/// [`Error::Failed`] when Arrow cannot encode the batch.
pub(crate) fn encode(batch: &RecordBatch) -> Result<Vec<u8>, Error> {
    let failed = |error| Error::Failed(format!("cannot encode the batch as Arrow IPC: {error}"));
    let out = Vec::with_capacity(batch.get_array_memory_size() + 1024);
    let mut writer = StreamWriter::try_new(out, &batch.schema()).map_err(failed)?;
    if batch.num_rows() > 0 {
        writer.write(batch).map_err(failed)?;
    }
    writer.finish().map_err(failed)?;
    writer.into_inner().map_err(failed)
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_array::{ArrayRef, Int64Array, StringArray};
    use std::sync::Arc;

    fn batch(ids: &[i64]) -> RecordBatch {
        let names: StringArray = ids.iter().map(|id| Some(format!("n{id}"))).collect();
        RecordBatch::try_from_iter([
            ("id", Arc::new(Int64Array::from(ids.to_vec())) as ArrayRef),
            ("name", Arc::new(names) as ArrayRef),
        ])
        .expect("valid batch")
    }

    #[test]
    fn round_trip() {
        let input = batch(&[1, 2, 3]);
        assert_eq!(
            decode(encode(&input).expect("encode")).expect("decode"),
            input
        );
    }

    #[test]
    fn empty_batch_is_a_schema_only_stream() {
        let empty = batch(&[]);
        let decoded = decode(encode(&empty).expect("encode")).expect("decode");
        assert_eq!(decoded.num_rows(), 0);
        assert_eq!(decoded.schema(), empty.schema());
    }

    #[test]
    fn several_batches_are_concatenated() {
        let (first, second) = (batch(&[1, 2]), batch(&[3]));
        let mut writer = StreamWriter::try_new(Vec::new(), &first.schema()).expect("writer");
        writer.write(&first).expect("write");
        writer.write(&second).expect("write");
        writer.finish().expect("finish");
        let bytes = writer.into_inner().expect("bytes");
        assert_eq!(decode(bytes).expect("decode"), batch(&[1, 2, 3]));
    }

    #[test]
    fn garbage_is_invalid_input() {
        // A continuation marker and a length, then bytes that are no message.
        for bytes in [&b""[..], b"ab", b"\xff\xff\xff\xff\x08\x00\x00\x00garbage!"] {
            let Err(Error::InvalidInput(message)) = decode(bytes.to_vec()) else {
                panic!("{bytes:?} must not decode");
            };
            assert!(
                message.starts_with("not an Arrow IPC stream: "),
                "{message}"
            );
        }
    }
}
