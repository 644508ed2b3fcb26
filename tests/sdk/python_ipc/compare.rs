//! Where two canonical renderings differ, and a schema summary, for the
//! failure messages.

use std::collections::BTreeSet;

use deltalake::arrow::datatypes::Schema;
use serde_json::Value;

use super::render::field_repr;

/// `v` as JSON, cut after 200 characters.
fn short(v: &Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 200 {
        format!(
            "{}... ({} chars)",
            s.chars().take(200).collect::<String>(),
            s.len()
        )
    } else {
        s
    }
}

/// Where `got` first differs from `want`, as a JSON path and both values.
pub(super) fn first_difference(want: &Value, got: &Value, path: &str) -> Option<String> {
    match (want, got) {
        (Value::Object(a), Value::Object(b)) => {
            let keys: BTreeSet<&String> = a.keys().chain(b.keys()).collect();
            keys.into_iter().find_map(|k| {
                let here = format!("{path}.{k}");
                match (a.get(k), b.get(k)) {
                    (Some(x), Some(y)) => first_difference(x, y, &here),
                    (Some(x), None) => Some(format!("{here}: missing, expected {}", short(x))),
                    (None, Some(y)) => Some(format!("{here}: unexpected {}", short(y))),
                    (None, None) => None,
                }
            })
        }
        (Value::Array(a), Value::Array(b)) => a
            .iter()
            .zip(b)
            .enumerate()
            .find_map(|(i, (x, y))| first_difference(x, y, &format!("{path}[{i}]")))
            .or_else(|| {
                (a.len() != b.len())
                    .then(|| format!("{path}: {} elements, expected {}", b.len(), a.len()))
            }),
        _ if want == got => None,
        _ => Some(format!(
            "{path}: expected {} but got {}",
            short(want),
            short(got)
        )),
    }
}

/// The fields (with their metadata) and metadata of `schema`, on one line.
pub(super) fn schema_summary(schema: &Schema) -> String {
    let fields: Vec<String> = schema
        .fields()
        .iter()
        .map(|f| {
            let mut s = field_repr(f);
            if !f.metadata().is_empty() {
                s.push_str(&format!(" {:?}", f.metadata()));
            }
            s
        })
        .collect();
    format!("[{}] metadata {:?}", fields.join(", "), schema.metadata())
}
