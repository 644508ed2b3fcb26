//! Group keys: the values of the group-by columns of one row, encoded as
//! bytes that are equal exactly when the values are.
//!
//! Each column adds a tag byte (0 for null, 1 for a value), then the value:
//! fixed-width types their little-endian bytes, variable-width types a
//! length and the bytes. Floats are compared by their bits, so `0.0` and
//! `-0.0` are different groups.

use arrow_buffer::Buffer;
use ingot_guest::Error;
use ingot_guest::arrow_array::cast::AsArray;
use ingot_guest::arrow_array::{Array, ArrayRef};
use ingot_guest::arrow_schema::DataType;

/// How to read one group-by column's values as bytes.
pub(crate) enum KeyColumn<'a> {
    /// Every fixed-width primitive: integers, floats, dates, times,
    /// timestamps, durations, intervals, decimals.
    Fixed {
        array: &'a dyn Array,
        values: Buffer,
        width: usize,
    },
    /// Utf8, Binary, their large and view forms, fixed-size binary.
    Bytes {
        array: &'a dyn Array,
        value: fn(&dyn Array, usize) -> &[u8],
    },
    Boolean(&'a dyn Array),
    /// A dictionary keys by its values, so equal values with different
    /// dictionary keys are one group.
    Dictionary {
        array: &'a dyn Array,
        keys: Vec<usize>,
        values: Box<KeyColumn<'a>>,
    },
}

impl<'a> KeyColumn<'a> {
    /// The reader for `array`, the column `name`.
    ///
    /// # Errors
    ///
    /// [`Error::InvalidInput`] naming the column when its type cannot be
    /// grouped (lists, structs, maps, unions).
    pub(crate) fn new(name: &str, array: &'a ArrayRef) -> Result<Self, Error> {
        Self::of(name, array.as_ref())
    }

    fn of(name: &str, array: &'a dyn Array) -> Result<Self, Error> {
        let data_type = array.data_type();
        if let Some(width) = data_type.primitive_width() {
            let data = array.to_data();
            let values =
                data.buffers()[0].slice_with_length(data.offset() * width, data.len() * width);
            return Ok(KeyColumn::Fixed {
                array,
                values,
                width,
            });
        }
        let value: fn(&dyn Array, usize) -> &[u8] = match data_type {
            DataType::Boolean => return Ok(KeyColumn::Boolean(array)),
            DataType::Utf8 => |a, i| a.as_string::<i32>().value(i).as_bytes(),
            DataType::LargeUtf8 => |a, i| a.as_string::<i64>().value(i).as_bytes(),
            DataType::Utf8View => |a, i| a.as_string_view().value(i).as_bytes(),
            DataType::Binary => |a, i| a.as_binary::<i32>().value(i),
            DataType::LargeBinary => |a, i| a.as_binary::<i64>().value(i),
            DataType::BinaryView => |a, i| a.as_binary_view().value(i),
            DataType::FixedSizeBinary(_) => |a, i| a.as_fixed_size_binary().value(i),
            DataType::Dictionary(_, _) => {
                let dictionary = array.as_any_dictionary();
                return Ok(KeyColumn::Dictionary {
                    array,
                    keys: dictionary.normalized_keys(),
                    values: Box::new(Self::of(name, dictionary.values().as_ref())?),
                });
            }
            other => {
                return Err(Error::InvalidInput(format!(
                    "column `{name}` has type {other}, which cannot be grouped by"
                )));
            }
        };
        Ok(KeyColumn::Bytes { array, value })
    }

    /// Appends the encoding of row `row` to `out`.
    pub(crate) fn encode(&self, row: usize, out: &mut Vec<u8>) {
        let array = match self {
            KeyColumn::Fixed { array, .. }
            | KeyColumn::Bytes { array, .. }
            | KeyColumn::Boolean(array)
            | KeyColumn::Dictionary { array, .. } => *array,
        };
        if array.is_null(row) {
            out.push(0);
            return;
        }
        match self {
            KeyColumn::Fixed { values, width, .. } => {
                out.push(1);
                out.extend_from_slice(&values[row * width..(row + 1) * width]);
            }
            KeyColumn::Bytes { value, .. } => {
                let bytes = value(array, row);
                out.push(1);
                out.extend_from_slice(&(bytes.len() as u64).to_le_bytes());
                out.extend_from_slice(bytes);
            }
            KeyColumn::Boolean(_) => {
                out.extend_from_slice(&[1, u8::from(array.as_boolean().value(row))])
            }
            KeyColumn::Dictionary { keys, values, .. } => values.encode(keys[row], out),
        }
    }
}
