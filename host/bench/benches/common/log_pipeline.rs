//! The log pipeline the data-path benchmarks run, as pipeline-file text:
//! silver (`log_parse.wasm`, append) and gold (`level_counts.wasm`,
//! accumulating counts and latency sums per level), on one topic.

use std::path::Path;

use anyhow::Result;

use super::common::guest_module;

/// A log pipeline's settings; [`LogPipeline::toml`] writes the file.
pub struct LogPipeline<'a> {
    /// The pipeline's name.
    pub name: &'a str,
    /// Bootstrap servers.
    pub brokers: &'a str,
    /// The topic.
    pub topic: &'a str,
    /// The `[lake]` table (and its options): [`local_lake`] for a folder.
    pub lake: &'a str,
    /// Lines under `[ingest]`.
    pub ingest: &'a str,
    /// Lines added to both stages (`max-mib-per-commit = 16`, ...).
    pub stage_keys: &'a str,
}

impl LogPipeline<'_> {
    /// The pipeline file's text.
    ///
    /// # Errors
    /// When the guest components have not been built.
    pub fn toml(&self) -> Result<String> {
        Ok(format!(
            r#"name = {name}

[kafka]
brokers = {brokers}
topics = [{topic}]

[ingest]
{ingest}

{lake}
[[stages]]
name = "silver"
module = {log_parse}
mode = "append"
{keys}
[[stages]]
name = "gold"
module = {level_counts}
mode = "accumulate"
keys = ["level"]
measures = ["count", "latency_ms_sum"]
{keys}"#,
            name = quote(self.name),
            brokers = quote(self.brokers),
            topic = quote(self.topic),
            ingest = self.ingest,
            lake = self.lake,
            keys = self.stage_keys,
            log_parse = quote(&guest_module("log_parse")?.to_string_lossy()),
            level_counts = quote(&guest_module("level_counts")?.to_string_lossy()),
        ))
    }
}

/// `s` as a TOML string.
pub fn quote(s: &str) -> String {
    toml::Value::String(s.to_owned()).to_string()
}

/// The `[lake]` table of a lake in the folder `root`.
pub fn local_lake(root: &Path) -> String {
    format!("[lake]\nroot = {}\n", quote(&root.to_string_lossy()))
}
