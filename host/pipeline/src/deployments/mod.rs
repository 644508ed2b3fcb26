//! Which module each stage runs, as recorded in the lake, so that every host
//! of a fleet, and a host after a restart, sees the same answer.
//!
//! Per tenant, under the lake root (paths from [`ingot_core::Layout`]):
//! - `<root>/<tenant>/_registry/modules/<sha256>.wasm`: every deployed
//!   module, stored by digest (written once, atomically: a temp file renamed);
//! - `<root>/<tenant>/_registry/deployments`: a Delta table, one row per
//!   deploy or rollback (pipeline, stage, digest, the stage config the module
//!   runs with, who and when), append-only. A stage's current module is its
//!   latest row, in commit order.
//!
//! The `ingot-registry` crate validates a module and records it here
//! (`ingot deploy`, `ingot rollback`); a running stage reads it between
//! commits ([`crate::swap`]) and switches at the next batch boundary.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use sha2::{Digest as _, Sha256};

use ingot_core::{ErrorClass, Layout};

use crate::config::PipelineConfig;
use ingot_core::arrow::array::{
    Array, ArrayRef, AsArray, RecordBatch, StringArray, TimestampMicrosecondArray,
};
use ingot_core::arrow::datatypes::{DataType, Field, Schema, SchemaRef, TimeUnit};
use ingot_delta::{Commit, Lineage, Table, TableError, WriteMode, objects};

/// What a deployment row records.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum Action {
    /// `ingot deploy`.
    Deploy,
    /// `ingot rollback`: an earlier module deployed again.
    Rollback,
}

impl Action {
    fn as_str(self) -> &'static str {
        match self {
            Action::Deploy => "deploy",
            Action::Rollback => "rollback",
        }
    }

    fn parse(text: &str) -> Option<Action> {
        match text {
            "deploy" => Some(Action::Deploy),
            "rollback" => Some(Action::Rollback),
            _ => None,
        }
    }
}

/// One deploy or rollback of a stage's module.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Deployment {
    /// Pipeline name.
    pub pipeline: String,
    /// Stage name.
    pub stage: String,
    /// sha256 of the module (lowercase hex).
    pub digest: String,
    /// The stage configuration the module is initialised with.
    pub config: BTreeMap<String, String>,
    /// Deploy or rollback.
    pub action: Action,
    /// When it was recorded, µs since the epoch (UTC).
    pub deployed_at: i64,
    /// Who recorded it (`user@host`).
    pub deployed_by: String,
    /// Free text given at deploy time.
    pub note: Option<String>,
    /// The version of the deployments table that recorded it (`None` before
    /// it is recorded).
    pub version: Option<i64>,
}

impl Deployment {
    /// The configuration as the pairs `init` receives.
    pub fn init_config(&self) -> Vec<(String, String)> {
        self.config
            .iter()
            .map(|(k, v)| (k.clone(), v.clone()))
            .collect()
    }
}

/// The digest modules are stored and named by: sha256, lowercase hex.
pub fn digest_of(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Whether `uri` is on an object store.
fn is_remote(uri: &str) -> bool {
    uri.split_once("://")
        .is_some_and(|(scheme, _)| ingot_delta::OBJECT_STORE_SCHEMES.contains(&scheme))
}

/// Where modules of lakes on object stores are fetched to:
/// `$XDG_CACHE_HOME/ingot/lake-modules` (or `~/.cache/...`, else the
/// system's temp dir). Each copy is checked against its sha256 before use.
fn fetched_modules_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("ingot/lake-modules")
}

/// A tenant's registry.
#[derive(Debug)]
pub struct Registry {
    /// The lake folder the modules are stored in.
    modules_dir: String,
    /// Where modules are read from locally: the lake folder itself for a
    /// local lake, a local cache of fetched copies for an object store.
    local_dir: PathBuf,
    deployments_uri: String,
    table: Option<Table>,
    /// Every deployment read so far, in commit order.
    known: Vec<Deployment>,
    /// The deployments table version `known` reflects.
    read_up_to: i64,
}

impl Registry {
    /// The registry of `config`'s tenant.
    ///
    /// # Errors
    /// None yet: the lake is first reached by the reads and writes.
    pub fn for_pipeline(config: &PipelineConfig) -> Result<Registry, DeploymentsError> {
        let layout = config.layout();
        let modules_dir = layout.modules_dir();
        let local_dir = match modules_dir.strip_prefix("file://") {
            _ if is_remote(&modules_dir) => fetched_modules_dir(),
            Some(path) => PathBuf::from(path),
            None => PathBuf::from(&modules_dir),
        };
        Ok(Registry {
            modules_dir,
            local_dir,
            deployments_uri: layout.deployments_uri(),
            table: None,
            known: Vec::new(),
            read_up_to: -1,
        })
    }

    /// Where the module with `digest` is read from locally (after
    /// [`Registry::fetch`] for a lake on an object store).
    pub fn module_path(&self, digest: &str) -> PathBuf {
        self.local_dir.join(Layout::module_file(digest))
    }

    /// Stores `bytes` by their sha256 (content-addressed: storing them again
    /// changes nothing); returns the digest.
    ///
    /// # Errors
    /// [`DeploymentsError::Table`] naming the object when the store fails.
    pub async fn store(&self, bytes: &[u8]) -> Result<String, DeploymentsError> {
        let digest = digest_of(bytes);
        if !self.module_path(&digest).is_file() || is_remote(&self.modules_dir) {
            objects::write(&self.module_uri(&digest), bytes.to_vec()).await?;
        }
        Ok(digest)
    }

    /// The local file of module `digest`, fetched from the lake first when
    /// the lake is on an object store (and its local copy is missing or
    /// does not hash to `digest`).
    ///
    /// # Errors
    /// [`DeploymentsError::ModuleMissing`] when the lake does not hold it,
    /// [`DeploymentsError::Io`] when the local copy cannot be written.
    pub async fn fetch(&self, digest: &str) -> Result<PathBuf, DeploymentsError> {
        let path = self.module_path(digest);
        let verified = std::fs::read(&path).is_ok_and(|bytes| digest_of(&bytes) == digest);
        if verified || !is_remote(&self.modules_dir) {
            return Ok(path);
        }
        let uri = self.module_uri(digest);
        let bytes = objects::read(&uri)
            .await?
            .filter(|bytes| digest_of(bytes) == digest)
            .ok_or_else(|| DeploymentsError::ModuleMissing { uri: uri.clone() })?;
        let io = |path: &Path| {
            let path = path.to_owned();
            move |source| DeploymentsError::Io { path, source }
        };
        std::fs::create_dir_all(&self.local_dir).map_err(io(&self.local_dir))?;
        let temp = self
            .local_dir
            .join(format!(".{digest}.{}.tmp", std::process::id()));
        std::fs::write(&temp, bytes).map_err(io(&temp))?;
        std::fs::rename(&temp, &path).map_err(io(&path))?;
        Ok(path)
    }

    fn module_uri(&self, digest: &str) -> String {
        format!("{}/{}", self.modules_dir, Layout::module_file(digest))
    }

    /// Appends `deployment` to the deployments table; returns the version
    /// that recorded it.
    ///
    /// # Errors
    /// [`DeploymentsError::Table`] when the table cannot be written.
    pub async fn record(&mut self, deployment: &Deployment) -> Result<i64, DeploymentsError> {
        if self.table.is_none() {
            self.table = Some(Table::open_or_create(&self.deployments_uri, schema()).await?);
        }
        let table = self.table.as_mut().expect("invariant: opened above");
        let commit = Commit {
            txns: Vec::new(),
            lineage: Lineage {
                ingot_version: ingot_core::VERSION.into(),
                pipeline: deployment.pipeline.clone(),
                stage: format!("{} ({})", deployment.stage, deployment.action.as_str()),
                module: Some(deployment.digest.clone()),
                input_table: None,
                input_versions: None,
                attempt: None,
            },
        };
        let version = table
            .write(vec![to_batch(deployment)?], &WriteMode::Append, &commit)
            .await?;
        ingot_core::fault::point("registry-commit");
        Ok(version)
    }

    /// Every deployment of `pipeline` (of `stage` only, if given), oldest
    /// first, as of the table's latest version.
    ///
    /// # Errors
    /// [`DeploymentsError::Table`] when the table cannot be read,
    /// [`DeploymentsError::Corrupt`] for a row ingot cannot decode.
    pub async fn history(
        &mut self,
        pipeline: &str,
        stage: Option<&str>,
    ) -> Result<Vec<Deployment>, DeploymentsError> {
        self.refresh().await?;
        Ok(self
            .known
            .iter()
            .filter(|d| d.pipeline == pipeline && stage.is_none_or(|s| d.stage == s))
            .cloned()
            .collect())
    }

    /// The stage's current deployment (its latest), if it has any.
    ///
    /// # Errors
    /// As [`Registry::history`].
    pub async fn current(
        &mut self,
        pipeline: &str,
        stage: &str,
    ) -> Result<Option<Deployment>, DeploymentsError> {
        Ok(self.history(pipeline, Some(stage)).await?.pop())
    }

    /// Reads the deployments committed since the last read.
    async fn refresh(&mut self) -> Result<(), DeploymentsError> {
        match &mut self.table {
            Some(table) => table.refresh().await?,
            None => self.table = Table::open(&self.deployments_uri).await?,
        }
        let Some(table) = &self.table else {
            return Ok(());
        };
        let latest = table.version();
        if latest <= self.read_up_to {
            return Ok(());
        }
        for batch in table.changes(self.read_up_to + 1, latest).await? {
            self.known
                .extend(from_batch(&self.deployments_uri, &batch)?);
        }
        self.read_up_to = latest;
        Ok(())
    }
}

/// The deployments table.
fn schema() -> SchemaRef {
    let utc = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    Arc::new(Schema::new(vec![
        Field::new("pipeline", DataType::Utf8, false),
        Field::new("stage", DataType::Utf8, false),
        Field::new("digest", DataType::Utf8, false),
        Field::new("config", DataType::Utf8, false),
        Field::new("action", DataType::Utf8, false),
        Field::new("deployed_at", utc, false),
        Field::new("deployed_by", DataType::Utf8, false),
        Field::new("note", DataType::Utf8, true),
    ]))
}

fn to_batch(d: &Deployment) -> Result<RecordBatch, DeploymentsError> {
    let config = serde_json::to_string(&d.config)
        .map_err(|e| DeploymentsError::Internal(format!("deployment config as JSON: {e}")))?;
    let text = |s: &str| Arc::new(StringArray::from(vec![s])) as ArrayRef;
    let columns: Vec<ArrayRef> = vec![
        text(&d.pipeline),
        text(&d.stage),
        text(&d.digest),
        text(&config),
        text(d.action.as_str()),
        Arc::new(TimestampMicrosecondArray::from(vec![d.deployed_at]).with_timezone("UTC")),
        text(&d.deployed_by),
        Arc::new(StringArray::from(vec![d.note.clone()])),
    ];
    RecordBatch::try_new(schema(), columns)
        .map_err(|e| DeploymentsError::Internal(format!("deployment row: {e}")))
}

/// Deployments from a change batch of the deployments table (inserts only:
/// the table is append-only).
fn from_batch(uri: &str, batch: &RecordBatch) -> Result<Vec<Deployment>, DeploymentsError> {
    let corrupt = |what: &str| DeploymentsError::Corrupt {
        table: uri.to_owned(),
        reason: what.to_owned(),
    };
    let strings = |name: &str| {
        batch
            .column_by_name(name)
            .and_then(|c| c.as_string_opt::<i32>())
            .ok_or_else(|| corrupt(&format!("column {name} is missing or not a string")))
    };
    let (pipeline, stage, digest, config, action, by, note, change) = (
        strings("pipeline")?,
        strings("stage")?,
        strings("digest")?,
        strings("config")?,
        strings("action")?,
        strings("deployed_by")?,
        strings("note")?,
        strings(ingot_delta::CHANGE_TYPE_COLUMN)?,
    );
    let at = batch
        .column_by_name("deployed_at")
        .and_then(|c| {
            c.as_primitive_opt::<ingot_core::arrow::datatypes::TimestampMicrosecondType>()
        })
        .ok_or_else(|| corrupt("column deployed_at is missing or not a timestamp"))?;
    let version = batch
        .column_by_name(ingot_delta::COMMIT_VERSION_COLUMN)
        .and_then(|c| c.as_primitive_opt::<ingot_core::arrow::datatypes::Int64Type>())
        .ok_or_else(|| corrupt("the change feed has no commit version"))?;
    let mut out = Vec::with_capacity(batch.num_rows());
    for row in 0..batch.num_rows() {
        if change.value(row) != "insert" {
            continue;
        }
        let config: BTreeMap<String, String> = serde_json::from_str(config.value(row))
            .map_err(|e| corrupt(&format!("config of row {row}: {e}")))?;
        let action = Action::parse(action.value(row))
            .ok_or_else(|| corrupt(&format!("unknown action {:?}", action.value(row))))?;
        out.push(Deployment {
            pipeline: pipeline.value(row).to_owned(),
            stage: stage.value(row).to_owned(),
            digest: digest.value(row).to_owned(),
            config,
            action,
            deployed_at: at.value(row),
            deployed_by: by.value(row).to_owned(),
            note: note.is_valid(row).then(|| note.value(row).to_owned()),
            version: Some(version.value(row)),
        });
    }
    out.sort_by_key(|d| d.version);
    Ok(out)
}

/// `user@host` of this process, for the deployments table.
pub fn whoami() -> String {
    let user = std::env::var("USER")
        .or_else(|_| std::env::var("LOGNAME"))
        .unwrap_or_else(|_| "unknown".into());
    format!("{user}@{}", hostname())
}

/// This machine's hostname.
pub fn hostname() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .map(|h| h.trim().to_owned())
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(|| "unknown-host".into())
}

/// A failure reading or writing the record of deployments.
#[derive(Debug, thiserror::Error)]
pub enum DeploymentsError {
    /// A module file could not be read or stored.
    #[error("registry file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The deployments table.
    #[error(transparent)]
    Table(#[from] TableError),
    /// A row of the deployments table ingot cannot decode.
    #[error("deployments table {table} holds a row ingot cannot read: {reason}")]
    Corrupt {
        /// The table.
        table: String,
        /// What is wrong.
        reason: String,
    },
    /// The registry names a module the lake does not hold (or holds with
    /// other bytes).
    #[error("module {uri} is not in the lake (or does not hash to its name)")]
    ModuleMissing {
        /// The module's location in the lake.
        uri: String,
    },
    /// A broken invariant: a bug.
    #[error("internal registry error: {0}")]
    Internal(String),
}

impl DeploymentsError {
    /// Who has to act.
    pub fn class(&self) -> ErrorClass {
        match self {
            DeploymentsError::Io { source, .. } => ingot_core::io_class(source),
            DeploymentsError::Table(e) => e.class(),
            DeploymentsError::Corrupt { .. } | DeploymentsError::Internal(_) => {
                ErrorClass::Internal
            }
            DeploymentsError::ModuleMissing { .. } => ErrorClass::User,
        }
    }
}

#[cfg(test)]
mod tests;
