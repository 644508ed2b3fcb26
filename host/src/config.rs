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

use serde::Deserialize;

use crate::ErrorClass;

/// The name of the table the ingest loop writes.
pub const BRONZE: &str = "bronze";

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
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
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

/// Where a partition without recorded progress starts.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum StartFrom {
    /// The oldest record the broker still has.
    #[default]
    Earliest,
    /// Only records produced after the pipeline starts.
    Latest,
}

/// Batching of the ingest loop: a bronze commit happens when any limit is reached.
#[derive(Debug, Clone, Deserialize)]
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
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LakeConfig {
    /// A local directory (relative to the pipeline file) or a URL.
    pub root: String,
}

/// How a stage writes its output table.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ModeName {
    /// Rows are inserted.
    #[default]
    Append,
    /// Latest row per key (`keys`, optional `sequence`, optional `delete-column`).
    Upsert,
    /// Measures added into the row of their key (`keys`, `measures`,
    /// optional `reset-column`).
    Accumulate,
    /// Rows whose key is not in the table yet are appended (`keys`).
    Dedupe,
}

/// One stage.
#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct StageConfig {
    /// The stage's name, also the name of its output table.
    pub name: String,
    /// The table it reads: `bronze` or an earlier stage's name. Defaults to
    /// the previous stage's output (bronze for the first stage).
    #[serde(default)]
    pub input: Option<String>,
    /// Path of the Wasm component (relative to the pipeline file).
    pub module: PathBuf,
    /// Write mode of the output table.
    #[serde(default)]
    pub mode: ModeName,
    /// Key columns (upsert, accumulate).
    #[serde(default)]
    pub keys: Vec<String>,
    /// Measure columns (accumulate).
    #[serde(default)]
    pub measures: Vec<String>,
    /// Sequence column (upsert): a key's row is replaced only by a higher one.
    #[serde(default)]
    pub sequence: Option<String>,
    /// Boolean column marking deletes (upsert); not stored.
    #[serde(default)]
    pub delete_column: Option<String>,
    /// Boolean column marking rows whose measures replace the stored ones
    /// instead of adding to them (accumulate); not stored.
    #[serde(default)]
    pub reset_column: Option<String>,
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
    #[serde(default)]
    pub config: BTreeMap<String, toml::Value>,
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
#[derive(Debug, Clone, Deserialize)]
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
        let mut config: PipelineConfig = parse_toml(text, path)?;
        config.path = path.to_owned();
        let base = base_dir(path);
        for stage in &mut config.stages {
            if stage.module.is_relative() {
                stage.module = base.join(&stage.module);
            }
        }
        config.lake.resolve(base);
        config.validate()?;
        Ok(config)
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
        let needs_keys = s.mode != ModeName::Append;
        if needs_keys && s.keys.is_empty() {
            return Err(self.invalid(
                field("keys"),
                "is required by upsert, accumulate and dedupe modes",
            ));
        }
        if !needs_keys && !s.keys.is_empty() {
            return Err(self.invalid(
                field("keys"),
                "is only used by upsert, accumulate and dedupe modes",
            ));
        }
        if (s.mode == ModeName::Accumulate) == s.measures.is_empty() {
            return Err(self.invalid(
                field("measures"),
                "is required by, and only used by, accumulate mode",
            ));
        }
        if s.mode != ModeName::Upsert && (s.sequence.is_some() || s.delete_column.is_some()) {
            return Err(self.invalid(
                field("mode"),
                "sequence and delete-column are only used by upsert mode",
            ));
        }
        if s.mode != ModeName::Accumulate && s.reset_column.is_some() {
            return Err(self.invalid(field("reset-column"), "is only used by accumulate mode"));
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
            .unwrap_or_else(|| format!("ingot-{}-{}", self.tenant, self.name))
    }

    /// The location of table `name` of this pipeline: `<root>/<tenant>/<pipeline>/<name>`.
    pub fn table_uri(&self, name: &str) -> String {
        format!(
            "{}/{}/{}/{}",
            self.lake.root.trim_end_matches('/'),
            self.tenant,
            self.name,
            name
        )
    }
}

/// The text of configuration file `path`.
pub(crate) fn read_file(path: &Path) -> Result<String, ConfigError> {
    std::fs::read_to_string(path).map_err(|source| ConfigError::Read {
        path: path.to_owned(),
        source,
    })
}

/// Parses TOML read from `path` into `T`; the error names the file, and the
/// parser's line, column and key, on one line.
pub(crate) fn parse_toml<T: serde::de::DeserializeOwned>(
    text: &str,
    path: &Path,
) -> Result<T, ConfigError> {
    toml::from_str(text).map_err(|e| ConfigError::Parse {
        path: path.to_owned(),
        message: e.to_string().trim_end().replace('\n', " "),
    })
}

/// The folder relative paths in file `path` are resolved against.
pub(crate) fn base_dir(path: &Path) -> &Path {
    path.parent().unwrap_or(Path::new("."))
}

impl LakeConfig {
    /// Resolves a relative local root against `base` (URLs are kept).
    pub(crate) fn resolve(&mut self, base: &Path) {
        if !self.root.contains("://") && Path::new(&self.root).is_relative() {
            self.root = base.join(&self.root).to_string_lossy().into_owned();
        }
    }
}

/// Names become path segments and txn app ids: keep them plain.
pub(crate) fn check_name(name: &str) -> Result<(), String> {
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
        assert_eq!(c.stages[1].reset_column.as_deref(), Some("reset"));
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
