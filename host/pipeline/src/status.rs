//! What each stage of a running pipeline is doing, kept with the lake so
//! `ingot status` works for a fleet of hosts and needs no server.
//!
//! Each host writes one JSON document per pipeline it runs, at
//! `<lake>/<tenant>/_registry/status/<pipeline>/<host>.json`: rewritten
//! (atomically: a rename, or one PUT on an object store) at most every [`SAVE_INTERVAL`] while the
//! pipeline runs, and when its run ends. A reader sees every host's view
//! and how old each is.

use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use ingot_core::clock::now_micros;
use ingot_delta::objects;

use crate::{
    Error, Result,
    config::PipelineConfig,
    deployments::{self, DeploymentsError},
    ingest::IngestView,
    lease::Standing,
    maintenance::TableMaintenance,
    stage::{StageRunner, StepOutcome},
};

/// How often a running pipeline rewrites its status at most.
pub const SAVE_INTERVAL: Duration = Duration::from_secs(2);

/// One host's view of one pipeline.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct PipelineStatus {
    /// The tenant.
    pub tenant: String,
    /// The pipeline.
    pub pipeline: String,
    /// The host that wrote this (its hostname).
    pub host: String,
    /// The writing process.
    pub pid: u32,
    /// When this host started the pipeline, in µs since the epoch (UTC).
    pub started_at: i64,
    /// When this was written, in µs since the epoch (UTC).
    pub updated_at: i64,
    /// Whether the run had ended when this was written.
    pub stopped: bool,
    /// Why the pipeline could not start, or stopped, if it did.
    pub error: Option<String>,
    /// Whether this host's ingest has its share of the partitions from the
    /// consumer group (perhaps none of them).
    #[serde(default)]
    pub joined: bool,
    /// The Kafka partitions this host's ingest holds (`topic/partition`).
    #[serde(default)]
    pub partitions: Vec<String>,
    /// Records behind the ends of those partitions (as librdkafka last
    /// reported them), when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub lag: Option<u64>,
    /// Records this host's ingest has written to bronze in this run.
    #[serde(default)]
    pub ingested: u64,
    /// Its stages, in order.
    pub stages: Vec<StageStatus>,
    /// The last maintenance pass over its tables, when this host made one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub maintenance: Option<MaintenanceStatus>,
}

/// What the last maintenance pass of a host did.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct MaintenanceStatus {
    /// When it ended, in µs since the epoch.
    pub at: i64,
    /// Each table it looked at.
    pub tables: Vec<TableMaintenance>,
    /// Tables it failed on, with why.
    pub errors: Vec<String>,
}

impl MaintenanceStatus {
    /// The status of a pass that returned `reports`.
    pub fn of(reports: Vec<Result<TableMaintenance>>) -> Self {
        let (mut tables, mut errors) = (Vec::new(), Vec::new());
        for report in reports {
            match report {
                Ok(t) => tables.push(t),
                Err(e) => errors.push(e.to_string()),
            }
        }
        Self {
            at: now_micros(),
            tables,
            errors,
        }
    }
}

/// What a stage is doing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum State {
    /// Its last step succeeded (or it has not stepped yet).
    Healthy,
    /// Its last step failed with a storage or internal error; it retries
    /// with backoff.
    Retrying,
    /// The module failed on every call of its last step: the rows went to
    /// the quarantine and `last_error` says why.
    Failed,
}

impl std::fmt::Display for State {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // `pad`, so tables can align it.
        f.pad(match self {
            State::Healthy => "healthy",
            State::Retrying => "retrying",
            State::Failed => "failed",
        })
    }
}

/// One stage's status.
#[derive(Debug, Clone, Serialize, Deserialize)]
pub struct StageStatus {
    /// The stage.
    pub stage: String,
    /// What it is doing.
    pub state: State,
    /// The sha256 of the module it runs.
    pub module: String,
    /// The last input version processed.
    pub input_done: Option<i64>,
    /// The latest input version seen.
    pub input_latest: Option<i64>,
    /// When it last committed, in µs since the epoch.
    pub last_commit_at: Option<i64>,
    /// Commits in this run.
    pub commits: u64,
    /// Input rows in this run.
    pub rows_in: u64,
    /// Output rows in this run.
    pub rows_out: u64,
    /// Rows quarantined in this run.
    pub quarantined: u64,
    /// The last error, while `state` is not healthy.
    pub last_error: Option<String>,
    /// Whether this host runs the stage or another host of the fleet
    /// does (`None` for a `--once` run, which holds no lease).
    #[serde(default)]
    pub lease: Option<Standing>,
}

/// The status a pipeline run keeps and saves.
#[derive(Debug)]
pub struct StatusBoard {
    /// Where the document is saved.
    uri: String,
    status: PipelineStatus,
    saved: Option<Instant>,
}

impl StatusBoard {
    /// A board for `config`'s stages.
    pub fn new(config: &PipelineConfig, stages: &[StageRunner]) -> Self {
        Self {
            uri: status_uri(config, &host_name()),
            status: PipelineStatus {
                tenant: config.tenant.clone(),
                pipeline: config.name.clone(),
                host: host_name(),
                pid: std::process::id(),
                started_at: now_micros(),
                updated_at: now_micros(),
                stopped: false,
                error: None,
                joined: false,
                partitions: Vec::new(),
                lag: None,
                ingested: 0,
                stages: stages
                    .iter()
                    .map(|s| StageStatus {
                        stage: s.id().stage.clone(),
                        state: State::Healthy,
                        module: s.module().digest().to_owned(),
                        input_done: None,
                        input_latest: None,
                        last_commit_at: None,
                        commits: 0,
                        rows_in: 0,
                        rows_out: 0,
                        quarantined: 0,
                        last_error: None,
                        lease: None,
                    })
                    .collect(),
                maintenance: None,
            },
            saved: None,
        }
    }

    /// A board for a pipeline that could not start, holding why.
    pub fn not_started(config: &PipelineConfig, error: &Error) -> Self {
        let mut board = Self::new(config, &[]);
        board.stopped_by(error);
        board
    }

    /// Records the error that stopped (or kept from starting) the pipeline.
    pub fn stopped_by(&mut self, error: &Error) {
        self.status.error = Some(error.to_string());
    }

    /// Marks the start of a run.
    pub async fn start(&mut self) {
        self.status.started_at = now_micros();
        self.save(true, false).await;
    }

    /// Records the outcome of stage `i`'s step.
    pub fn record(&mut self, i: usize, stage: &StageRunner, outcome: &Result<StepOutcome>) {
        let Some(s) = self.status.stages.get_mut(i) else {
            return;
        };
        s.module = stage.module().digest().to_owned();
        (s.input_done, s.input_latest) = stage.progress();
        match outcome {
            // Caught up: a failed stage stays failed until a call succeeds.
            Ok(StepOutcome::Idle) if s.state == State::Failed => {}
            Ok(StepOutcome::Idle) => {
                s.state = State::Healthy;
                s.last_error = None;
            }
            Ok(StepOutcome::Committed {
                rows_in,
                rows_out,
                rejected,
                failing,
                ..
            }) => {
                s.commits += 1;
                s.rows_in += *rows_in as u64;
                s.rows_out += *rows_out as u64;
                s.quarantined += *rejected as u64;
                s.last_commit_at = Some(now_micros());
                (s.state, s.last_error) = match (*failing, stage.failure()) {
                    (true, Some(e)) => (State::Failed, Some(e.to_string())),
                    _ => (State::Healthy, None),
                };
            }
            Err(e) if e.is_conflict() || e.is_not_owner() => {}
            Err(e) => {
                s.state = State::Retrying;
                s.last_error = Some(e.to_string());
            }
        }
    }

    /// The number of stages shown.
    pub fn stages(&self) -> usize {
        self.status.stages.len()
    }

    /// Records where this host stands with stage `i` in the fleet.
    pub fn set_standing(&mut self, i: usize, standing: Standing) {
        if let Some(s) = self.status.stages.get_mut(i) {
            s.lease = Some(standing);
        }
    }

    /// Records what this host's last maintenance pass did.
    pub fn set_maintenance(&mut self, maintenance: MaintenanceStatus) {
        self.status.maintenance = Some(maintenance);
    }

    /// Records what this host's ingest holds.
    pub fn set_ingest(&mut self, view: IngestView) {
        self.status.joined = view.joined;
        self.status.partitions = view.partitions;
        self.status.lag = view.lag;
        self.status.ingested = view.records;
    }

    /// The status as it stands (for a server answering from memory).
    pub fn current(&self) -> &PipelineStatus {
        &self.status
    }

    /// Marks stage `i` failed with `error` (a run that gave up on it).
    pub fn give_up(&mut self, i: usize, error: &Error) {
        if let Some(s) = self.status.stages.get_mut(i) {
            s.state = State::Failed;
            s.last_error = Some(error.to_string());
        }
    }

    /// Writes the status if [`SAVE_INTERVAL`] has passed since the last
    /// write, or at once with `now`. A failed write is logged: status is
    /// for people, and must never stop the data.
    pub async fn save(&mut self, now: bool, stopped: bool) {
        if let Some(document) = self.document(now, stopped) {
            document.write().await;
        }
    }

    /// The document to save, as [`StatusBoard::save`] would write it now
    /// (`None` when it is not due): for a caller that writes it after
    /// letting the board go.
    pub fn document(&mut self, now: bool, stopped: bool) -> Option<StatusDocument> {
        if !now && self.saved.is_some_and(|t| t.elapsed() < SAVE_INTERVAL) {
            return None;
        }
        self.saved = Some(Instant::now());
        self.status.updated_at = now_micros();
        self.status.stopped = stopped;
        let text = serde_json::to_vec_pretty(&self.status)
            .expect("invariant: the status is plain data and serializes to json");
        Some(StatusDocument {
            uri: self.uri.clone(),
            pipeline: self.status.pipeline.clone(),
            text,
        })
    }
}

/// A pipeline's status, serialized, for [`StatusDocument::write`].
#[derive(Debug)]
pub struct StatusDocument {
    uri: String,
    pipeline: String,
    text: Vec<u8>,
}

impl StatusDocument {
    /// Writes the document; a failure is logged: status is for people, and
    /// must never stop the data.
    pub async fn write(self) {
        if let Err(e) = objects::write(&self.uri, self.text).await {
            tracing::warn!(pipeline = %self.pipeline, file = %self.uri, error = %e, "cannot save stage status");
        }
        ingot_core::fault::point("status-save");
    }
}

/// Every host's status of `config`'s pipeline, newest first.
///
/// # Errors
///
/// [`DeploymentsError`] for a document that cannot be read or decoded.
pub async fn read(config: &PipelineConfig) -> Result<Vec<PipelineStatus>, DeploymentsError> {
    let dir = config.layout().status_dir();
    let mut out = Vec::new();
    for name in objects::list(&dir).await? {
        if !name.ends_with(".json") {
            continue;
        }
        let uri = format!("{dir}/{name}");
        let Some(bytes) = objects::read(&uri).await? else {
            continue;
        };
        let status = serde_json::from_slice(&bytes).map_err(|e| DeploymentsError::Corrupt {
            table: uri.clone(),
            reason: e.to_string(),
        })?;
        out.push(status);
    }
    out.sort_by_key(|s: &PipelineStatus| std::cmp::Reverse(s.updated_at));
    Ok(out)
}

/// Where the status document of `config`'s pipeline on `host` lives.
fn status_uri(config: &PipelineConfig, host: &str) -> String {
    format!("{}/{host}.json", config.layout().status_dir())
}

/// This host's name in the fleet: the machine's hostname, or
/// `INGOT_HOST_ID` (for several hosts on one machine).
pub fn host_name() -> String {
    std::env::var("INGOT_HOST_ID")
        .ok()
        .filter(|h| !h.is_empty())
        .unwrap_or_else(deployments::hostname)
        .replace('/', "_")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn a_saved_status_is_read_back_and_says_when_the_run_stopped() {
        let dir = tempfile::tempdir().expect("tempdir");
        let text = "name = \"logs\"\ntenant = \"acme\"\n[kafka]\nbrokers = \"embedded\"\ntopics = [\"logs\"]\n[lake]\nroot = \"lake\"\n";
        let config = PipelineConfig::parse(text, &dir.path().join("p.toml")).expect("valid");
        assert!(read(&config).await.expect("no status yet").is_empty());
        let mut board = StatusBoard::new(&config, &[]);
        board.start().await;
        let running = read(&config).await.expect("read");
        assert_eq!(running.len(), 1);
        assert_eq!(
            (running[0].tenant.as_str(), running[0].pipeline.as_str()),
            ("acme", "logs")
        );
        assert!(!running[0].stopped);
        assert!(
            dir.path().join("lake/acme/_registry/status/logs").is_dir(),
            "kept with the tenant's registry"
        );
        board.stopped_by(&Error::Internal("the broker went away".into()));
        board.save(true, true).await;
        let stopped = &read(&config).await.expect("read")[0];
        assert!(stopped.stopped && stopped.updated_at >= stopped.started_at);
        assert_eq!(
            stopped.error.as_deref(),
            Some("internal error: the broker went away")
        );
    }
}
