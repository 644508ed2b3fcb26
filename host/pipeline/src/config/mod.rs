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

use ingot_core::{BRONZE, Layout};
pub use ingot_kafka::{OnDataLoss, StartFrom};

mod file;
mod maintenance;
mod mode;
#[cfg(test)]
mod tests;
mod validate;

use file::parse_error;
pub use file::{ConfigError, base_dir, check_name, parse_toml, read_file};
pub use maintenance::MaintenanceConfig;
use mode::write_mode;

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
    /// How the hosts running this pipeline share its stages.
    #[serde(default)]
    pub fleet: FleetConfig,
    /// How its tables are kept compact and their history bounded.
    #[serde(default)]
    pub maintenance: MaintenanceConfig,
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
    /// What ingest does with a partition whose offsets no longer follow on
    /// from bronze's (a recreated topic, another cluster, records deleted by
    /// retention): stop (`fail`), or start it over (`reset`).
    #[serde(default)]
    pub on_data_loss: OnDataLoss,
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
    /// Milliseconds a record may wait before its commit (continuous mode).
    pub max_latency_ms: u64,
}

impl Default for IngestConfig {
    fn default() -> Self {
        Self {
            max_records: 200_000,
            max_bytes: 64 << 20,
            max_latency_ms: 250,
        }
    }
}

impl IngestConfig {
    /// `max_latency_ms` as a duration.
    pub fn max_latency(&self) -> Duration {
        Duration::from_millis(self.max_latency_ms)
    }
}

/// Several hosts on one pipeline: each stage is run by the one host holding
/// its lease in the lake (see `ingot_pipeline::lease`).
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct FleetConfig {
    /// Seconds a stage's owner may go without renewing its lease before
    /// another host takes the stage over. The owner renews every quarter
    /// of it.
    pub stage_lease_seconds: f64,
}

impl Default for FleetConfig {
    fn default() -> Self {
        Self {
            stage_lease_seconds: 10.0,
        }
    }
}

impl FleetConfig {
    /// The lease as a duration.
    pub fn stage_lease(&self) -> Duration {
        Duration::from_secs_f64(self.stage_lease_seconds)
    }
}

/// What a table of a pipeline is to it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum TableRole {
    /// Ingest's output.
    Bronze,
    /// The output of stage `i`.
    Output(usize),
    /// The quarantine of stage `i`.
    Quarantine(usize),
    /// The tombstones of stage `i`.
    Tombstones(usize),
}

/// The lake.
#[derive(Debug, Clone, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields)]
pub struct LakeConfig {
    /// A local directory (relative to the pipeline file), a `file://` URL,
    /// or an object store's (`s3://bucket/prefix`, `gs://`, `abfss://`, ...).
    pub root: String,
    /// Passed to the object store as given (`endpoint`, `region`,
    /// `allow_http`, ...: the keys of delta-rs's and object_store's storage
    /// options). Credentials come from the store's standard chains
    /// (environment, profile files, instance metadata), not from here.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub options: BTreeMap<String, String>,
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
    /// Instances of the module that may run the slices of one chunk at once.
    #[serde(default = "default_instances")]
    pub instances: usize,
    /// The input columns the module reads (the change columns always
    /// come too); `None`: every column. The quarantine keeps whole rows.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub input_columns: Option<Vec<String>>,
    /// Input versions per output commit at most.
    #[serde(default = "default_max_versions")]
    pub max_versions_per_commit: i64,
    /// Input data per output commit at most, in MiB of the input's data
    /// files (as its log records their sizes); a commit takes at least one
    /// input version, whatever its size.
    #[serde(default = "default_max_mib")]
    pub max_mib_per_commit: u64,
    /// A `dedupe` stage keeps the hashes of its output's keys in memory
    /// (20-40 bytes a key) while the output stores at most this many
    /// rows, so a step's cost does not grow with the table; 0 turns it off.
    #[serde(default = "default_key_index_max_rows")]
    pub key_index_max_rows: u64,
    /// Sandbox limits of the module.
    #[serde(default)]
    pub limits: LimitsConfig,
    /// Handed to the module's `init`, as strings.
    #[serde(default, skip_serializing_if = "BTreeMap::is_empty")]
    pub config: BTreeMap<String, toml::Value>,
}

impl StageConfig {
    /// Whether the stage keeps a tombstones table: an upsert with a
    /// sequence and a delete column.
    pub fn keeps_tombstones(&self) -> bool {
        matches!(
            &self.mode,
            WriteMode::Upsert {
                sequence: Some(_),
                delete_column: Some(_),
                ..
            }
        )
    }

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
/// One instance per core, at most 4.
fn default_instances() -> usize {
    std::thread::available_parallelism().map_or(1, |n| n.get().min(4))
}
fn default_max_versions() -> i64 {
    100
}
fn default_max_mib() -> u64 {
    64
}

fn default_key_index_max_rows() -> u64 {
    10_000_000
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

    /// The input table of stage `i`: its `input`, else the previous stage, else bronze.
    pub fn stage_input(&self, i: usize) -> &str {
        match (&self.stages[i].input, i) {
            (Some(input), _) => input,
            (None, 0) => BRONZE,
            (None, _) => &self.stages[i - 1].name,
        }
    }

    /// Every table of the pipeline, by name and role: bronze, then each
    /// stage's output, quarantine and (upserts with deletes) tombstones.
    pub fn tables(&self) -> Vec<(String, TableRole)> {
        let mut tables = vec![(BRONZE.to_owned(), TableRole::Bronze)];
        for (i, stage) in self.stages.iter().enumerate() {
            let [quarantine, tombstones] = Layout::side_tables(&stage.name);
            tables.push((stage.name.clone(), TableRole::Output(i)));
            tables.push((quarantine, TableRole::Quarantine(i)));
            if stage.keeps_tombstones() {
                tables.push((tombstones, TableRole::Tombstones(i)));
            }
        }
        tables
    }

    /// The names of [`PipelineConfig::tables`].
    pub fn table_names(&self) -> Vec<String> {
        self.tables().into_iter().map(|(name, _)| name).collect()
    }

    /// The role of table `name`, if it is one of the pipeline's.
    pub fn table_role(&self, name: &str) -> Option<TableRole> {
        self.tables()
            .into_iter()
            .find_map(|(n, role)| (n == name).then_some(role))
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

impl LakeConfig {
    /// Resolves a relative local root against `base` (URLs are kept).
    pub fn resolve(&mut self, base: &Path) {
        if !self.root.contains("://") && Path::new(&self.root).is_relative() {
            self.root = base.join(&self.root).to_string_lossy().into_owned();
        }
    }
}
