//! The pipeline file: a TOML document naming the Kafka source, the lake and
//! the stages. Parsed with serde (kebab-case keys, unknown keys refused) and
//! validated once by [`PipelineConfig::load`], so every later step can trust
//! it. Every error names the file and the field at fault.
//!
//! ```toml
//! name = "logs"
//!
//! [kafka]
//! brokers = "embedded"          # or "host:port,host:port"
//! topics = ["logs"]
//!
//! [lake]
//! root = "./lake"               # tables live at <root>/<tenant>/<pipeline>/<table>
//!
//! [[stages]]
//! name = "silver"               # also the name of the output table
//! module = "log_parse.wasm"     # relative to this file
//!
//! [[stages]]
//! name = "gold"
//! module = "level_counts.wasm"
//! mode = "accumulate"
//! keys = ["level"]
//! measures = ["count", "latency_ms_sum"]
//! ```

use std::{
    collections::BTreeMap,
    path::{Path, PathBuf},
    time::Duration,
};

use ingot_delta::WriteMode;
use serde::{Deserialize, Serialize};

use ingot_core::{BRONZE, ErrorClass, Layout};
pub use ingot_kafka::StartFrom;

/// An error in the pipeline file or the command line.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    /// The file could not be read.
    #[error("cannot read pipeline file {}: {source}", path.display())]
    Read {
        /// The pipeline file.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// The file is not valid TOML or does not match the expected shape.
    #[error("invalid pipeline file {}: {message}", path.display())]
    Parse {
        /// The pipeline file.
        path: PathBuf,
        /// The parser's message, with line, column and key.
        message: String,
    },
    /// A field has a value the pipeline cannot run with.
    #[error("invalid pipeline file {}: `{field}` {message}", path.display())]
    Invalid {
        /// The pipeline file.
        path: PathBuf,
        /// The field at fault, as a dotted path (`stages[1].keys`).
        field: String,
        /// What is wrong with it.
        message: String,
    },
}

impl ConfigError {
    /// An [`ConfigError::Invalid`] of file `path`.
    pub fn invalid(path: &Path, field: impl Into<String>, message: impl Into<String>) -> Self {
        ConfigError::Invalid {
            path: path.to_owned(),
            field: field.into(),
            message: message.into(),
        }
    }

    /// Configuration errors are always the user's to fix.
    pub fn class(&self) -> ErrorClass {
        ErrorClass::User
    }
}

/// A whole pipeline file.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct PipelineConfig {
    /// The pipeline's name: part of table paths, txn app ids and lineage.
    pub name: String,
    /// The tenant owning the pipeline.
    #[serde(default = "default_tenant")]
    pub tenant: String,
    /// Where records come from.
    pub kafka: KafkaConfig,
    /// How records are grouped into bronze commits.
    #[serde(default)]
    pub ingest: IngestConfig,
    /// Where tables live.
    pub lake: LakeConfig,
    /// The stages, in order; each reads the table named by its `input`.
    #[serde(default)]
    pub stages: Vec<StageConfig>,
    /// The file this configuration was read from (set by [`PipelineConfig::load`]).
    #[serde(skip)]
    pub path: PathBuf,
}

/// The Kafka source.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct KafkaConfig {
    /// `host:port[,host:port...]`, or `embedded` for librdkafka's in-process mock cluster.
    pub brokers: String,
    /// Topics to ingest.
    pub topics: Vec<String>,
    /// Consumer group; defaults to `ingot-<tenant>-<pipeline>`.
    #[serde(default)]
    pub group_id: Option<String>,
    /// Where a partition with no progress in bronze starts.
    #[serde(default)]
    pub start_from: StartFrom,
    /// How partitions are shared between hosts.
    #[serde(default)]
    pub assignment: Assignment,
    /// Partitions per topic created in the embedded broker.
    #[serde(default = "default_embedded_partitions")]
    pub embedded_partitions: i32,
    /// Extra librdkafka properties, passed through verbatim.
    #[serde(default)]
    pub properties: BTreeMap<String, String>,
}

impl KafkaConfig {
    /// Whether the pipeline uses the in-process mock cluster.
    pub fn is_embedded(&self) -> bool {
        self.brokers == "embedded"
    }
}

/// How a host gets its partitions.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum Assignment {
    /// Join the consumer group: partitions are spread over the hosts of a
    /// pipeline and move on a rebalance.
    #[default]
    Group,
    /// Read every partition of the topics: one host per pipeline, no group
    /// to join, so a restart resumes at once. (`--once` always does this.)
    All,
}

/// Batching of the ingest loop: a bronze commit happens when any limit is reached.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct IngestConfig {
    /// Records per commit at most.
    pub max_records: usize,
    /// Bytes (keys + values) per commit at most.
    pub max_bytes: usize,
    /// Milliseconds a record may wait before its commit.
    pub max_latency_ms: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_records: 200_000,
            max_bytes: 64 << 20,
            max_latency_ms: 1_000,
        }
    }
}

impl IngestConfig {
    /// `max_latency_ms` as a duration.
    pub fn max_latency(&self) -> Duration {
        Duration::from_millis(self.max_latency_ms)
    }
}

/// The lake.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LakeConfig {
    /// A local directory (relative to the pipeline file) or a URL.
    pub root: String,
}

/// One stage.
///
/// Its write mode is flattened into it: `mode` and the keys of that mode
/// sit beside the stage's own keys, and every key the stage does not know
/// goes to the mode, which refuses the ones it does not take. So a
/// misspelt key, or a key of another mode, is refused with its name.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub struct StageConfig {
    /// The stage's name, also the name of its output table.
    pub name: String,
    /// The table it reads: `bronze` or an earlier stage's name. Defaults to
    /// the previous stage's output (bronze for the first stage).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input: Option<String>,
    /// Path of the Wasm component (relative to the pipeline file).
    pub module: PathBuf,
    /// How the output table is written (`mode`, default `append`, and its keys).
    #[serde(flatten, deserialize_with = "write_mode")]
    pub mode: WriteMode,
    /// Rows per call into the module.
    #[serde(default = "default_batch_rows")]
    pub batch_rows: usize,
    /// Input versions per output commit at most.
    #[serde(default = "default_max_versions")]
    pub max_versions_per_commit: i64,
    /// Sandbox limits of the module.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Handed to the module's `init`, as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, toml::Value>,
}

/// The keys each write mode takes besides `mode`, for messages.
fn mode_keys(mode: &str) -> &'static str {
    match mode {
        "upsert" => "keys, sequence, delete-column",
        "accumulate" => "keys, measures, reset-column",
        "dedupe" => "keys",
        _ => "no other key",
    }
}

/// Deserializes a stage's write mode from the keys the stage itself does
/// not take: `mode` defaults to `append`, which takes no other key.
fn write_mode<'de, D: serde::Deserializer<'de>>(deserializer: D) -> Result<WriteMode, D::Error> {
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
            "unknown field `{key}` (mode `append` takes {})",
            mode_keys(&mode)
        )));
    }
    WriteMode::deserialize(toml::Value::Table(table)).map_err(|e| {
        let message = e.to_string();
        let message = message.trim_end();
        match message.split_once(", expected") {
            Some((unknown, _)) if unknown.starts_with("unknown field") => D::Error::custom(
                format!("{unknown} (mode `{mode}` takes {})", mode_keys(&mode)),
            ),
            _ if message.starts_with("missing field") => {
                D::Error::custom(format!("{message} (required by mode `{mode}`)"))
            }
            _ => D::Error::custom(message),
        }
    })
}

impl StageConfig {
    /// The stage config as the string pairs `init` receives (strings as they
    /// are, other TOML values in their TOML spelling).
    pub fn init_config(&self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| {
                let v = match v {
                    toml::Value::String(s) => s.clone(),
                    other => other.to_string(),
                };
                (k.clone(), v)
            })
            .collect()
    }
}

/// Sandbox limits of one stage's module.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct LimitsConfig {
    /// Linear memory per instance, in MiB.
    pub memory_mib: u64,
    /// CPU time per call, in milliseconds.
    pub call_timeout_ms: u64,
    /// Output bytes per call, in MiB.
    pub max_output_mib: u64,
    /// Attempts at a failing batch before its rows are isolated and the
    /// ones the module fails on are quarantined.
    pub max_attempts: u32,
}

impl Default for LimitsConfig {
    fn default() -> Self {
        Self {
            memory_mib: 512,
            call_timeout_ms: 10_000,
            max_output_mib: 256,
            max_attempts: 3,
        }
    }
}

fn default_tenant() -> String {
    "default".into()
}
fn default_embedded_partitions() -> i32 {
    3
}
fn default_batch_rows() -> usize {
    8_192
}
fn default_max_versions() -> i64 {
    100
}

impl PipelineConfig {
    /// Reads, parses and validates a pipeline file; relative paths in it
    /// (modules, a local lake root) are resolved against the file's folder.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming the file and, for invalid values, the field.
    pub fn load(path: &Path) -> Result<Self, ConfigError> {
        Self::parse(&read_file(path)?, path)
    }

    /// Parses and validates pipeline text as if read from `path`.
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming `path` and the field at fault.
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        Self::read(text, path)?.validated()
    }

    /// Parses pipeline text as if read from `path` and resolves its
    /// relative paths, without validating it: for a caller that adjusts the
    /// configuration (the demo points it at its broker, lake and modules)
    /// before [`PipelineConfig::validated`].
    ///
    /// # Errors
    ///
    /// [`ConfigError`] naming `path`, and for a stage's missing or unknown
    /// key, the key (`stages[1].keys`).
    pub fn read(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let mut config: PipelineConfig =
            toml::from_str(text).map_err(|e| parse_error(text, path, &e))?;
        config.path = path.to_owned();
        let base = base_dir(path);
        for stage in &mut config.stages {
            if stage.module.is_relative() {
                stage.module = base.join(&stage.module);
            }
        }
        config.lake.resolve(base);
        Ok(config)
    }

    /// This configuration, once every field is checked.
    ///
    /// # Errors
    ///
    /// [`ConfigError::Invalid`] naming the file and the field at fault.
    pub fn validated(self) -> Result<Self, ConfigError> {
        self.validate()?;
        Ok(self)
    }

    fn invalid(&self, field: impl Into<String>, message: impl Into<String>) -> ConfigError {
        ConfigError::invalid(&self.path, field, message)
    }

    fn validate(&self) -> Result<(), ConfigError> {
        check_name(&self.name).map_err(|m| self.invalid("name", m))?;
        check_name(&self.tenant).map_err(|m| self.invalid("tenant", m))?;
        if self.kafka.topics.is_empty() {
            return Err(self.invalid("kafka.topics", "must name at least one topic"));
        }
        if self.kafka.brokers.trim().is_empty() {
            return Err(self.invalid("kafka.brokers", "must be `host:port[,...]` or `embedded`"));
        }
        if !(1..=1000).contains(&self.kafka.embedded_partitions) {
            return Err(self.invalid("kafka.embedded-partitions", "must be between 1 and 1000"));
        }
        if self.ingest.max_records == 0 || self.ingest.max_bytes == 0 {
            return Err(self.invalid("ingest", "max-records and max-bytes must be positive"));
        }
        let mut tables = vec![BRONZE.to_owned()];
        for (i, stage) in self.stages.iter().enumerate() {
            self.validate_stage(i, stage, &tables)?;
            tables.push(stage.name.clone());
        }
        Ok(())
    }

    fn validate_stage(
        &self,
        i: usize,
        s: &StageConfig,
        known: &[String],
    ) -> Result<(), ConfigError> {
        let field = |f: &str| format!("stages[{i}].{f}");
        check_name(&s.name).map_err(|m| self.invalid(field("name"), m))?;
        if known.contains(&s.name) {
            return Err(self.invalid(
                field("name"),
                format!("`{}` is already a table of this pipeline", s.name),
            ));
        }
        if let Some(input) = &s.input
            && !known.contains(input)
        {
            return Err(self.invalid(
                field("input"),
                format!(
                    "`{input}` is not bronze or an earlier stage (known: {})",
                    known.join(", ")
                ),
            ));
        }
        if !s.module.is_file() {
            return Err(self.invalid(
                field("module"),
                format!("{} does not exist", s.module.display()),
            ));
        }
        match &s.mode {
            WriteMode::Append => {}
            WriteMode::Upsert { keys, .. } | WriteMode::Dedupe { keys } if keys.is_empty() => {
                return Err(self.invalid(field("keys"), "must name at least one column"));
            }
            WriteMode::Accumulate { keys, measures, .. } => {
                if keys.is_empty() {
                    return Err(self.invalid(field("keys"), "must name at least one column"));
                }
                if measures.is_empty() {
                    return Err(self.invalid(field("measures"), "must name at least one column"));
                }
            }
            WriteMode::Upsert { .. } | WriteMode::Dedupe { .. } => {}
        }
        if s.batch_rows == 0 || s.max_versions_per_commit <= 0 {
            return Err(self.invalid(
                field("batch-rows"),
                "batch-rows and max-versions-per-commit must be positive",
            ));
        }
        let l = &s.limits;
        if l.memory_mib == 0
            || l.call_timeout_ms == 0
            || l.max_output_mib == 0
            || l.max_attempts == 0
        {
            return Err(self.invalid(field("limits"), "every limit must be positive"));
        }
        Ok(())
    }

    /// The input table of stage `i`: its `input`, else the previous stage, else bronze.
    pub fn stage_input(&self, i: usize) -> &str {
        match (&self.stages[i].input, i) {
            (Some(input), _) => input,
            (None, 0) => BRONZE,
            (None, _) => &self.stages[i - 1].name,
        }
    }

    /// The consumer group id.
    pub fn group_id(&self) -> String {
        self.kafka
            .group_id
            .clone()
            .unwrap_or_else(|| self.layout().default_group_id())
    }

    /// Where this pipeline's tables, registry and status live, and its txn ids.
    pub fn layout(&self) -> Layout {
        Layout::new(&self.lake.root, &self.tenant, &self.name)
    }

    /// The location of table `name` of this pipeline: `<root>/<tenant>/<pipeline>/<name>`.
    pub fn table_uri(&self, name: &str) -> String {
        self.layout().table_uri(name)
    }
}

/// The text of configuration file `path`.
pub fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses TOML read from `path` into `T`; the error names the file, and the
/// parser's line, column and key, on one line.
pub fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string().trim_end().replace('\n', " "),
    })
}

/// A parse error of pipeline file `path`: a stage's missing or unknown key
/// is named by its path (`stages[1].keys`) and line; anything else keeps
/// the parser's message, with line, column and key (the parser knows the
/// line of a key, but not the index of the stage it is in).
fn parse_error(text: &str, path: &Path, e: &toml::de::Error) -> ConfigError {
    let message = e.message().trim_end();
    let key = [
        ("missing field `", "is missing"),
        ("unknown field `", "is not a key of this stage"),
    ]
    .iter()
    .find_map(|(prefix, verb)| Some((message.strip_prefix(prefix)?.split_once('`')?, *verb)))
    // Only the stage's own keys, which [`write_mode`] names with the mode
    // (not those of a sub-table such as `[stages.limits]`).
    .filter(|((_, rest), _)| rest.contains("mode `"));
    let stage = e.span().and_then(|span| {
        let line = text.get(..span.start)?.lines().count().max(1);
        Some((stage_index_at(text, span.start)?, line))
    });
    match (key, stage) {
        (Some(((key, rest), verb)), Some((index, line))) => ConfigError::invalid(
            path,
            format!("stages[{index}].{key}"),
            format!("{verb}{rest} (line {line})"),
        ),
        _ => ConfigError::Parse {
            path: path.to_owned(),
            message: e.to_string().trim_end().replace('\n', " "),
        },
    }
}

/// The index of the `[[stages]]` table that byte `offset` of `text` is in
/// (its header, its keys or one of its sub-tables), if any.
fn stage_index_at(text: &str, offset: usize) -> Option<usize> {
    let mut stages = 0;
    let mut inside = false;
    let mut start = 0;
    for line in text.split_inclusive('\n') {
        if start > offset {
            break;
        }
        start += line.len();
        let header = line.split('#').next().unwrap_or_default().trim();
        if let Some(name) = header.strip_prefix("[[").and_then(|h| h.strip_suffix("]]")) {
            inside = name.trim() == "stages";
            stages += usize::from(inside);
        } else if let Some(name) = header.strip_prefix('[').and_then(|h| h.strip_suffix(']')) {
            inside = name.trim().starts_with("stages.");
        }
    }
    (inside && stages > 0).then(|| stages - 1)
}

/// The folder relative paths in file `path` are resolved against.
pub fn base_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

impl LakeConfig {
    /// Resolves a relative local root against `base` (URLs are kept).
    pub fn resolve(&mut self, base: &Path) {
        if !self.root.contains("://") && Path::new(&self.root).is_relative() {
            self.root = base.join(&self.root).to_string_lossy().into_owned();
        }
    }
}

/// Names become path segments and txn app ids: keep them plain.
pub fn check_name(name: &str) -> Result<(), String> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !name.starts_with('-');
    if ok {
        Ok(())
    } else {
        Err(format!(
            "`{name}` must be 1-64 characters of a-z, A-Z, 0-9, `-` and `_`"
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn write(dir: &Path, text: &str) -> PathBuf {
        std::fs::write(dir.join("m.wasm"), b"not checked here").expect("write module");
        let path = dir.join("p.toml");
        std::fs::write(&path, text).expect("write pipeline");
        path
    }

    const GOOD: &str = r#"
        name = "logs"
        [kafka]
        brokers = "embedded"
        topics = ["logs"]
        [lake]
        root = "lake"
        [[stages]]
        name = "silver"
        module = "m.wasm"
        [[stages]]
        name = "gold"
        module = "m.wasm"
        mode = "accumulate"
        keys = ["level"]
        measures = ["count"]
        config = { answer = 42, who = "me" }
    "#;

    #[test]
    fn a_good_file_loads_with_paths_resolved() {
        let dir = tempfile::tempdir().expect("tempdir");
        let c = PipelineConfig::load(&write(dir.path(), GOOD)).expect("valid");
        assert_eq!(c.stage_input(0), "bronze");
        assert_eq!(c.stage_input(1), "silver");
        assert_eq!(c.stages[0].module, dir.path().join("m.wasm"));
        assert_eq!(
            c.table_uri("gold"),
            format!("{}/lake/default/logs/gold", dir.path().display())
        );
        assert_eq!(
            c.stages[1].init_config(),
            vec![("answer".into(), "42".into()), ("who".into(), "me".into())]
        );
    }

    fn error_of(text: &str) -> String {
        let dir = tempfile::tempdir().expect("tempdir");
        let path = write(dir.path(), text);
        let err = PipelineConfig::load(&path)
            .expect_err("must be refused")
            .to_string();
        assert!(err.contains("p.toml"), "error names the file: {err}");
        err
    }

    #[test]
    fn errors_name_the_field() {
        assert!(
            error_of(&GOOD.replace("topics = [\"logs\"]", "topics = []"))
                .contains("`kafka.topics`")
        );
        assert!(error_of(&GOOD.replace("keys = [\"level\"]", "")).contains("`stages[1].keys`"));
        assert!(
            error_of(&GOOD.replace("name = \"gold\"", "name = \"silver\""))
                .contains("`stages[1].name`")
        );
        assert!(error_of(&GOOD.replace("name = \"logs\"", "name = \"a/b\"")).contains("`name`"));
        let missing = error_of(&GOOD.replace(
            "module = \"m.wasm\"\n        mode",
            "module = \"nope.wasm\"\n        mode",
        ));
        assert!(
            missing.contains("`stages[1].module`") && missing.contains("nope.wasm"),
            "{missing}"
        );
    }

    #[test]
    fn unknown_keys_and_bad_types_are_refused_with_their_location() {
        let unknown = error_of(&GOOD.replace("[lake]", "[lake]\nrooot = 1"));
        assert!(unknown.contains("rooot"), "{unknown}");
        let typed = error_of(&GOOD.replace("mode = \"accumulate\"", "mode = \"sideways\""));
        assert!(typed.contains("sideways"), "{typed}");
        assert!(error_of("name = ").contains("p.toml"));
    }

    #[test]
    fn dedupe_needs_keys_and_reset_column_belongs_to_accumulate() {
        let dir = tempfile::tempdir().expect("tempdir");
        let reset = GOOD.replace(
            "measures = [\"count\"]",
            "measures = [\"count\"]\n        reset-column = \"reset\"",
        );
        let c = PipelineConfig::load(&write(dir.path(), &reset)).expect("valid");
        assert!(
            matches!(&c.stages[1].mode, WriteMode::Accumulate { reset_column: Some(r), .. } if r == "reset"),
            "{:?}",
            c.stages[1].mode
        );
        let dedupe = GOOD.replace(
            "mode = \"accumulate\"\n        keys = [\"level\"]\n        measures = [\"count\"]",
            "mode = \"dedupe\"",
        );
        assert_ne!(dedupe, GOOD, "the replacement matched");
        assert!(error_of(&dedupe).contains("`stages[1].keys`"));
        let misplaced = GOOD.replace(
            "name = \"silver\"",
            "name = \"silver\"\n        reset-column = \"r\"",
        );
        assert!(error_of(&misplaced).contains("`stages[0].reset-column`"));
    }
}
