//! What `/readyz` answers: whether every pipeline this process runs is
//! assigned its partitions and caught up within the bounds of
//! [`ReadyBounds`], from the pipelines' live status boards.

use std::sync::{Arc, RwLock};

use serde::Serialize;
use tokio::sync::Mutex;

use ingot_pipeline::{
    lease::Standing,
    status::{PipelineStatus, StatusBoard},
};

/// How far behind a ready pipeline may be.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ReadyBounds {
    /// Records behind the ends of the partitions this host holds.
    pub lag_records: u64,
    /// Input versions a stage this host runs has not consumed.
    pub lag_versions: u64,
}

impl Default for ReadyBounds {
    fn default() -> Self {
        Self {
            lag_records: 10_000,
            lag_versions: 10,
        }
    }
}

/// The pipelines a process runs, as the server sees them: registered as
/// each one starts (or fails to).
#[derive(Debug, Clone, Default)]
pub struct Live(Arc<RwLock<Vec<LivePipeline>>>);

/// One pipeline of a [`Live`] set.
#[derive(Debug, Clone)]
pub struct LivePipeline {
    /// Its tenant.
    pub tenant: String,
    /// Its name (or its file, when the file could not be loaded).
    pub pipeline: String,
    /// Its running status, or why it could not start.
    pub state: Result<Arc<Mutex<StatusBoard>>, String>,
}

impl Live {
    /// Adds a pipeline that runs, with its status board.
    pub fn running(&self, tenant: &str, pipeline: &str, board: Arc<Mutex<StatusBoard>>) {
        self.push(tenant, pipeline, Ok(board));
    }

    /// Adds a pipeline that could not start, with why.
    pub fn refused(&self, tenant: &str, pipeline: &str, error: &dyn std::fmt::Display) {
        self.push(tenant, pipeline, Err(error.to_string()));
    }

    fn push(&self, tenant: &str, pipeline: &str, state: Result<Arc<Mutex<StatusBoard>>, String>) {
        self.0
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .push(LivePipeline {
                tenant: tenant.to_owned(),
                pipeline: pipeline.to_owned(),
                state,
            });
    }

    /// Every pipeline's current status (or why it could not start).
    pub async fn statuses(&self) -> Vec<(String, String, Result<PipelineStatus, String>)> {
        let pipelines = self
            .0
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let mut out = Vec::with_capacity(pipelines.len());
        for p in pipelines {
            let state = match p.state {
                Ok(board) => Ok(board.lock().await.current().clone()),
                Err(e) => Err(e),
            };
            out.push((p.tenant, p.pipeline, state));
        }
        out
    }
}

/// The answer of `/readyz`.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct Readiness {
    /// Whether every pipeline is ready.
    pub ready: bool,
    /// Each pipeline, with what keeps it from being ready.
    pub pipelines: Vec<PipelineReadiness>,
}

/// One pipeline's readiness.
#[derive(Debug, Clone, Serialize, PartialEq, Eq)]
pub struct PipelineReadiness {
    /// Its tenant.
    pub tenant: String,
    /// Its name.
    pub pipeline: String,
    /// Records behind the ends of its partitions on this host, when known.
    pub lag_records: Option<u64>,
    /// What keeps it from being ready (empty: ready).
    pub waiting_for: Vec<String>,
}

/// The readiness of `statuses` (as [`Live::statuses`] returns them) under
/// `bounds`. A process with no pipeline is not ready: it has nothing to do.
pub fn readiness(
    statuses: &[(String, String, Result<PipelineStatus, String>)],
    bounds: ReadyBounds,
) -> Readiness {
    let pipelines: Vec<PipelineReadiness> = statuses
        .iter()
        .map(|(tenant, pipeline, state)| PipelineReadiness {
            tenant: tenant.clone(),
            pipeline: pipeline.clone(),
            lag_records: state.as_ref().ok().and_then(|s| s.lag),
            waiting_for: match state {
                Ok(status) => waiting_for(status, bounds),
                Err(e) => vec![format!("it could not start: {e}")],
            },
        })
        .collect();
    Readiness {
        ready: !pipelines.is_empty() && pipelines.iter().all(|p| p.waiting_for.is_empty()),
        pipelines,
    }
}

/// What keeps `status`'s pipeline from being ready.
fn waiting_for(status: &PipelineStatus, bounds: ReadyBounds) -> Vec<String> {
    let mut waiting = Vec::new();
    if let Some(e) = &status.error {
        waiting.push(format!("it stopped: {e}"));
    } else if status.stopped {
        waiting.push("it stopped".to_owned());
    }
    if !status.joined {
        waiting.push("its share of the partitions from the consumer group".to_owned());
    } else {
        match status.lag {
            None if !status.partitions.is_empty() => {
                waiting.push("the ends of its partitions (librdkafka's statistics)".to_owned());
            }
            Some(lag) if lag > bounds.lag_records => waiting.push(format!(
                "ingest: {lag} records behind (ready at {} or fewer)",
                bounds.lag_records
            )),
            _ => {}
        }
    }
    for stage in &status.stages {
        if matches!(
            stage.lease,
            Some(Standing::Standby { .. } | Standing::Unknown)
        ) {
            continue;
        }
        let behind = match (stage.input_done, stage.input_latest) {
            (done, Some(latest)) => latest
                .saturating_sub(done.unwrap_or(-1))
                .max(0)
                .unsigned_abs(),
            (_, None) => 0,
        };
        if behind > bounds.lag_versions {
            waiting.push(format!(
                "stage {}: {behind} input versions behind (ready at {} or fewer)",
                stage.stage, bounds.lag_versions
            ));
        }
    }
    waiting
}

#[cfg(test)]
mod tests;
