//! A row image's fields as typed values of the configured columns.
//!
//! [`read_image`] walks the image object once and keeps, per configured
//! column, the borrowed JSON text of its field; fields that are not
//! configured are skipped without being parsed into values. [`convert`] then
//! turns one field into the column's [`Scalar`].

use std::borrow::Cow;
use std::fmt;

use ingot_guest::time;
use serde::de::{DeserializeSeed, IgnoredAny, MapAccess, Visitor};
use serde_json::value::RawValue;

use crate::config::{Column, ColumnType};
use crate::decimal;
use crate::event::string;
use crate::schema::Semantic;

/// One converted field, the variant its column's builder takes.
#[derive(Debug, Clone, PartialEq)]
pub enum Scalar<'a> {
    /// Null or absent.
    Null,
    /// `string`, `json`.
    Text(Cow<'a, str>),
    /// `int32`.
    Int32(i32),
    /// `int64`.
    Int64(i64),
    /// `float64`.
    Float64(f64),
    /// `bool`.
    Bool(bool),
    /// `date`: days since the epoch.
    Date(i32),
    /// `timestamp`: microseconds since the epoch.
    Timestamp(i64),
    /// `decimal(p,s)`: the unscaled value.
    Decimal(i128),
}

/// Fills `slots[i]` with the JSON text of the field of `image` named like
/// `columns[i]`, `None` where the image has no such field.
///
/// # Errors
///
/// The parser's message, should `image` not be an object (the caller
/// checked that it is).
pub fn read_image<'a>(
    image: &'a RawValue,
    columns: &[Column],
    slots: &mut [Option<&'a RawValue>],
) -> Result<(), serde_json::Error> {
    slots.fill(None);
    let mut deserializer = serde_json::Deserializer::from_str(image.get());
    serde::Deserializer::deserialize_map(&mut deserializer, ImageVisitor { columns, slots })
}

struct ImageVisitor<'s, 'a> {
    columns: &'s [Column],
    slots: &'s mut [Option<&'a RawValue>],
}

impl<'de: 'a, 'a> Visitor<'de> for ImageVisitor<'_, 'a> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a row image object")
    }

    fn visit_map<M: MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        // Debezium writes fields in table order, and `columns` usually
        // follows it: look from the last match on.
        let mut next = 0;
        while let Some(found) = map.next_key_seed(ColumnSeed {
            columns: self.columns,
            next: &mut next,
        })? {
            match found {
                Some(i) => self.slots[i] = Some(map.next_value::<&'a RawValue>()?),
                None => {
                    map.next_value::<IgnoredAny>()?;
                }
            }
        }
        Ok(())
    }
}

/// A field name as the index of its configured column.
struct ColumnSeed<'s> {
    columns: &'s [Column],
    next: &'s mut usize,
}

impl<'de> DeserializeSeed<'de> for ColumnSeed<'_> {
    type Value = Option<usize>;

    fn deserialize<D: serde::Deserializer<'de>>(
        self,
        deserializer: D,
    ) -> Result<Option<usize>, D::Error> {
        deserializer.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for ColumnSeed<'_> {
    type Value = Option<usize>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: serde::de::Error>(self, name: &str) -> Result<Option<usize>, E> {
        let n = self.columns.len();
        let found = (0..n)
            .map(|i| (*self.next + i) % n)
            .find(|&i| self.columns[i].name == name);
        if let Some(i) = found {
            *self.next = i + 1;
        }
        Ok(found)
    }
}

/// `raw` as a value of a column of type `kind` whose field has `semantic`.
///
/// # Errors
///
/// `None` when the JSON type does not fit, or a detail saying why the value
/// does not (an out-of-range day, too many decimal digits).
pub fn convert<'a>(
    raw: &'a RawValue,
    kind: ColumnType,
    semantic: Semantic,
) -> Result<Scalar<'a>, Option<String>> {
    let text = raw.get();
    let Some(&first) = text.as_bytes().first() else {
        return Err(None);
    };
    if text == "null" {
        return Ok(Scalar::Null);
    }
    let number = first == b'-' || first.is_ascii_digit();
    Ok(match kind {
        ColumnType::String | ColumnType::Json => convert_text(raw, kind, first)?,
        ColumnType::Int32 if number => Scalar::Int32(text.parse().map_err(|_| None)?),
        ColumnType::Int64 if number => Scalar::Int64(text.parse().map_err(|_| None)?),
        ColumnType::Float64 if number => Scalar::Float64(finite(text.parse().map_err(|_| None)?)?),
        // Strings: `decimal.handling.mode=string`, and NaN/Infinity.
        ColumnType::Float64 if first == b'"' => {
            Scalar::Float64(quoted(raw)?.parse().map_err(|_| None)?)
        }
        ColumnType::Bool => match text {
            "true" | "1" => Scalar::Bool(true),
            "false" | "0" => Scalar::Bool(false),
            _ => return Err(None),
        },
        ColumnType::Date if number || first == b'"' => {
            Scalar::Date(convert_date(raw, semantic, number)?)
        }
        ColumnType::Timestamp if number || first == b'"' => {
            Scalar::Timestamp(convert_timestamp(raw, semantic, number)?)
        }
        ColumnType::Decimal { precision, scale } => {
            Scalar::Decimal(convert_decimal(raw, semantic, precision, scale).map_err(Some)?)
        }
        ColumnType::Int32
        | ColumnType::Int64
        | ColumnType::Float64
        | ColumnType::Date
        | ColumnType::Timestamp => {
            return Err(None);
        }
    })
}

/// The string `raw` holds, `None` (the JSON type does not fit) when it
/// holds none.
fn quoted(raw: &RawValue) -> Result<Cow<'_, str>, Option<String>> {
    string(raw).ok_or(None)
}

/// A `string` or `json` column's text: a JSON string's contents, any other
/// value's JSON text (`json` only for objects and arrays). `first` is the
/// first byte of `raw`.
fn convert_text(raw: &RawValue, kind: ColumnType, first: u8) -> Result<Scalar<'_>, Option<String>> {
    Ok(match first {
        b'"' => Scalar::Text(quoted(raw)?),
        b'{' | b'[' if kind == ColumnType::String => {
            return Err(Some(
                "declare the column `json` to keep nested values".into(),
            ));
        }
        _ => Scalar::Text(Cow::Borrowed(raw.get())),
    })
}

/// A `date` column's days since the epoch: from an integer in the unit
/// `semantic` names when `number`, else from an ISO date string.
fn convert_date(raw: &RawValue, semantic: Semantic, number: bool) -> Result<i32, Option<String>> {
    if !number {
        return time::parse_date(&quoted(raw)?).map_err(|e| Some(e.to_string()));
    }
    let integer: i64 = raw.get().parse().map_err(|_| None)?;
    let days = match semantic {
        Semantic::Millis => integer.div_euclid(86_400_000),
        Semantic::Micros => integer.div_euclid(86_400_000_000),
        Semantic::Nanos => integer.div_euclid(86_400_000_000_000),
        Semantic::Plain | Semantic::DecimalBytes { .. } => integer,
    };
    i32::try_from(days).map_err(|_| Some("out of range".to_owned()))
}

/// A `timestamp` column's microseconds since the epoch: from an integer in
/// the unit `semantic` names when `number`, else from an RFC 3339 string.
fn convert_timestamp(
    raw: &RawValue,
    semantic: Semantic,
    number: bool,
) -> Result<i64, Option<String>> {
    if !number {
        return time::parse_rfc3339(&quoted(raw)?).map_err(|e| Some(e.to_string()));
    }
    let integer: i64 = raw.get().parse().map_err(|_| None)?;
    let micros = match semantic {
        Semantic::Millis => integer.checked_mul(1000),
        Semantic::Nanos => Some(integer.div_euclid(1000)),
        Semantic::Micros | Semantic::Plain | Semantic::DecimalBytes { .. } => Some(integer),
    };
    micros.ok_or_else(|| Some("out of range".to_owned()))
}

fn finite(value: f64) -> Result<f64, Option<String>> {
    if value.is_finite() {
        Ok(value)
    } else {
        Err(Some("out of range".into()))
    }
}

fn convert_decimal(
    raw: &RawValue,
    semantic: Semantic,
    precision: u8,
    scale: i8,
) -> Result<i128, String> {
    let text = raw.get();
    if text.starts_with('{') {
        // io.debezium.data.VariableScaleDecimal: {"scale": 2, "value": "<base64>"}.
        #[derive(serde::Deserialize)]
        struct VariableScale {
            scale: i64,
            value: String,
        }
        let variable: VariableScale = serde_json::from_str(text)
            .map_err(|_| "not a decimal: expected {\"scale\":…,\"value\":\"<base64>\"}")?;
        return decimal::from_base64(&variable.value, variable.scale, precision, scale);
    }
    if text.starts_with('"') {
        let value = string(raw).ok_or("not a decimal string")?;
        return match semantic {
            Semantic::DecimalBytes { scale: value_scale } => decimal::from_base64(&value, value_scale, precision, scale),
            _ => decimal::parse(&value, precision, scale).map_err(|reason| {
                if reason == "not a decimal number" {
                    format!(
                        "{reason}; with decimal.handling.mode=precise Debezium sends base64 whose scale only the schema \
                         envelope carries: use decimal.handling.mode=string or double, or the envelope"
                    )
                } else {
                    reason
                }
            }),
        };
    }
    decimal::parse(text, precision, scale)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn raw(text: &str) -> Box<RawValue> {
        RawValue::from_string(text.to_owned()).expect("valid JSON")
    }

    fn column(name: &str) -> Column {
        Column {
            name: name.to_owned(),
            kind: ColumnType::String,
            key: false,
        }
    }

    #[test]
    fn an_image_fills_the_slots_of_configured_columns_in_any_order() {
        let columns = [column("id"), column("name"), column("city")];
        let image = raw(r#"{"city":"Leeds","extra":{"deep":[1,2]},"id":7,"name":null,"id":8}"#);
        let mut slots = vec![None; 3];
        read_image(&image, &columns, &mut slots).expect("an object");
        let texts: Vec<_> = slots.iter().map(|s| s.map(RawValue::get)).collect();
        // A repeated field: the last one wins, as in a JSON object.
        assert_eq!(texts, [Some("8"), Some("null"), Some(r#""Leeds""#)]);

        let other = raw(r#"{"name":"x"}"#);
        read_image(&other, &columns, &mut slots).expect("an object");
        assert_eq!(
            slots.iter().map(Option::is_some).collect::<Vec<_>>(),
            [false, true, false]
        );
    }
}
