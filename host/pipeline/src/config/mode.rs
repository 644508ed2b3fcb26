//! A stage's write mode in the pipeline file: `mode` and the keys of that
//! mode, beside the stage's own keys.

use ingot_delta::WriteMode;
use serde::Deserialize as _;

/// Deserializes a stage's write mode from the keys the stage itself does
/// not take: `mode` defaults to `append`, which takes no other key.
pub(super) fn write_mode<'de, D: serde::Deserializer<'de>>(
    deserializer: D,
) -> Result<WriteMode, D::Error> {
    use serde::de::Error as _;
    let mut table = toml::Table::deserialize(deserializer)?;
    let mode = match table.get("mode") {
        None => "append".to_owned(),
        Some(toml::Value::String(m)) => m.clone(),
        Some(other) => {
            return Err(D::Error::custom(format!(
                "`mode` must be a string, not {}",
                other.type_str()
            )));
        }
    };
    table.insert("mode".into(), toml::Value::String(mode.clone()));
    if mode == "append"
        && let Some(key) = table.keys().find(|k| *k != "mode")
    {
        return Err(D::Error::custom(format!(
            "unknown field `{key}` (mode `append` takes no other key)"
        )));
    }
    WriteMode::deserialize(toml::Value::Table(table)).map_err(|e| {
        let message = e.to_string();
        let message = message.trim_end();
        // serde names the keys the mode takes: "unknown field `x`, expected
        // one of `keys`, `sequence`" (or "expected `keys`").
        match message.split_once(", expected") {
            Some((unknown, takes)) if unknown.starts_with("unknown field") => {
                let takes = takes.trim_start().trim_start_matches("one of ");
                D::Error::custom(format!("{unknown} (mode `{mode}` takes {takes})"))
            }
            _ if message.starts_with("missing field") => {
                D::Error::custom(format!("{message} (required by mode `{mode}`)"))
            }
            _ => D::Error::custom(message),
        }
    })
}
