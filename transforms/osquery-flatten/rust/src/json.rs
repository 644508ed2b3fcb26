//! A JSON value borrowing from the Kafka record it was parsed from.
//!
//! `serde_json::Value` allocates a `String` for every key and string value
//! and a tree node per object entry; parsing that was most of this stage's
//! time. [`Json`] borrows strings from the input (copying only those with
//! escapes) and stores an object as one vector, so an event message costs a
//! handful of allocations. Nested objects (rows, decorations) are sorted by
//! key once: lookups are binary searches and a row's columns are already in
//! the canonical order its `row_id` needs. The top-level object (the
//! message, a dozen fields read once each) keeps its input order and is
//! searched linearly, which measured faster than sorting it. In both, the
//! last of duplicate keys wins, as in serde_json. Parsing is serde_json's,
//! so what is valid JSON, and the error messages, are unchanged.

use std::borrow::Cow;
use std::fmt;

use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Visitor};
use serde_json::{Number, Value};

/// A parsed JSON value.
#[derive(Debug, Clone, PartialEq)]
pub(crate) enum Json<'a> {
    Null,
    Bool(bool),
    Number(Number),
    String(Cow<'a, str>),
    Array(Vec<Json<'a>>),
    Object(Object<'a>),
}

/// A JSON object. Nested ones are sorted by key with each key once (the
/// last one wins); the top-level one keeps input order and any duplicates
/// (lookups find the last).
#[derive(Debug, Clone, PartialEq)]
pub(crate) struct Object<'a> {
    entries: Vec<(Cow<'a, str>, Json<'a>)>,
    sorted: bool,
}

/// Parses one JSON document (its top-level object, if it is one, unsorted).
///
/// # Errors
///
/// serde_json's error: invalid JSON, invalid UTF-8 in a string, trailing
/// characters.
pub(crate) fn parse(bytes: &[u8]) -> Result<Json<'_>, serde_json::Error> {
    let mut deserializer = serde_json::Deserializer::from_slice(bytes);
    let json = deserializer.deserialize_any(JsonVisitor { sort: false })?;
    deserializer.end()?;
    Ok(json)
}

impl<'a> Json<'a> {
    pub(crate) fn is_null(&self) -> bool {
        matches!(self, Json::Null)
    }
}

impl<'a> Object<'a> {
    /// The value of `key`.
    pub(crate) fn get(&self, key: &str) -> Option<&Json<'a>> {
        if self.sorted {
            self.entries
                .binary_search_by(|(k, _)| k.as_ref().cmp(key))
                .ok()
                .map(|i| &self.entries[i].1)
        } else {
            self.entries
                .iter()
                .rev()
                .find(|(k, _)| k == key)
                .map(|(_, v)| v)
        }
    }

    /// The entries, sorted by key in a nested object.
    pub(crate) fn iter(&self) -> impl Iterator<Item = (&str, &Json<'a>)> {
        self.entries.iter().map(|(k, v)| (k.as_ref(), v))
    }

    fn from_entries(mut entries: Vec<(Cow<'a, str>, Json<'a>)>, sort: bool) -> Self {
        if sort && !entries.is_sorted_by(|a, b| a.0 < b.0) {
            // Reversed first so that the stable sort puts the last of equal
            // keys first, and `dedup_by` keeps it.
            entries.reverse();
            entries.sort_by(|a, b| a.0.cmp(&b.0));
            entries.dedup_by(|later, kept| later.0 == kept.0);
        }
        Object {
            entries,
            sorted: sort,
        }
    }
}

/// JSON text, as serde_json writes it (for reject reasons).
impl fmt::Display for Json<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Json::Number(n) => write!(f, "{n}"),
            other => write!(f, "{}", Value::from(other)),
        }
    }
}

impl From<&Json<'_>> for Value {
    fn from(json: &Json<'_>) -> Value {
        match json {
            Json::Null => Value::Null,
            Json::Bool(b) => Value::Bool(*b),
            Json::Number(n) => Value::Number(n.clone()),
            Json::String(s) => Value::String(s.as_ref().to_owned()),
            Json::Array(items) => Value::Array(items.iter().map(Value::from).collect()),
            Json::Object(object) => Value::Object(
                object
                    .iter()
                    .map(|(k, v)| (k.to_owned(), Value::from(v)))
                    .collect(),
            ),
        }
    }
}

impl<'de> Deserialize<'de> for Json<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_any(JsonVisitor { sort: true })
    }
}

struct JsonVisitor {
    sort: bool,
}

impl<'de> Visitor<'de> for JsonVisitor {
    type Value = Json<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_unit<E>(self) -> Result<Json<'de>, E> {
        Ok(Json::Null)
    }

    fn visit_bool<E>(self, b: bool) -> Result<Json<'de>, E> {
        Ok(Json::Bool(b))
    }

    fn visit_i64<E>(self, n: i64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_u64<E>(self, n: u64) -> Result<Json<'de>, E> {
        Ok(Json::Number(n.into()))
    }

    fn visit_f64<E: de::Error>(self, n: f64) -> Result<Json<'de>, E> {
        Number::from_f64(n)
            .map(Json::Number)
            .ok_or_else(|| E::custom("number is not finite"))
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Json<'de>, E> {
        Ok(Json::String(Cow::Owned(s)))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Json<'de>, A::Error> {
        let mut items = Vec::with_capacity(seq.size_hint().unwrap_or(0));
        while let Some(item) = seq.next_element()? {
            items.push(item);
        }
        Ok(Json::Array(items))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Json<'de>, A::Error> {
        let mut entries = Vec::with_capacity(map.size_hint().unwrap_or(8));
        while let Some((Key(key), value)) = map.next_entry()? {
            entries.push((key, value));
        }
        Ok(Json::Object(Object::from_entries(entries, self.sort)))
    }
}

/// An object key, borrowed when it has no escapes.
struct Key<'a>(Cow<'a, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        deserializer.deserialize_str(KeyVisitor)
    }
}

struct KeyVisitor;

impl<'de> Visitor<'de> for KeyVisitor {
    type Value = Key<'de>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("an object key")
    }

    fn visit_borrowed_str<E>(self, s: &'de str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Borrowed(s)))
    }

    fn visit_str<E>(self, s: &str) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s.to_owned())))
    }

    fn visit_string<E>(self, s: String) -> Result<Key<'de>, E> {
        Ok(Key(Cow::Owned(s)))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn nested_objects_are_sorted_and_the_last_duplicate_wins() {
        let json = parse(br#"{"b":1,"a":{"y":[true,null],"x":"s","y":0},"b":2,"c\n":"e\"sc"}"#)
            .expect("valid JSON");
        let Json::Object(top) = &json else {
            panic!("an object");
        };
        let keys: Vec<&str> = top.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["b", "a", "b", "c\n"]);
        assert_eq!(top.get("b"), Some(&Json::Number(2.into())));
        assert_eq!(top.get("c\n"), Some(&Json::String("e\"sc".into())));
        assert_eq!(top.get("d"), None);
        let Some(Json::Object(nested)) = top.get("a") else {
            panic!("a nested object");
        };
        let keys: Vec<&str> = nested.iter().map(|(k, _)| k).collect();
        assert_eq!(keys, ["x", "y"]);
        assert_eq!(nested.get("y"), Some(&Json::Number(0.into())));
        assert_eq!(nested.get("x"), Some(&Json::String("s".into())));
        assert_eq!(
            json.to_string(),
            r#"{"a":{"x":"s","y":0},"b":2,"c\n":"e\"sc"}"#
        );
    }

    #[test]
    fn strings_without_escapes_are_borrowed() {
        let json = parse(br#"["plain","esc\\aped"]"#).expect("valid JSON");
        let Json::Array(items) = json else {
            panic!("an array");
        };
        assert!(matches!(items[0], Json::String(Cow::Borrowed("plain"))));
        assert!(matches!(&items[1], Json::String(Cow::Owned(s)) if s == "esc\\aped"));
    }

    #[test]
    fn numbers_keep_serde_json_spelling() {
        let json = parse(b"[-1, 18446744073709551615, 1.50, 1e300]").expect("valid JSON");
        assert_eq!(json.to_string(), "[-1,18446744073709551615,1.5,1e+300]");
    }

    #[test]
    fn invalid_json_keeps_serde_json_errors() {
        let error = |bytes: &[u8]| parse(bytes).expect_err("invalid").to_string();
        assert_eq!(error(b"not json"), "expected ident at line 1 column 2");
        assert_eq!(error(b"{} x"), "trailing characters at line 1 column 4");
    }
}
