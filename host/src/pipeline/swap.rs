//! Where a running stage switches modules: between two commits.
//!
//! Before each step a stage asks the registry (at most once per
//! [`POLL_INTERVAL`]) which module it should run. When the answer names
//! another digest, the stage loads that module from the registry (compiled
//! once per digest, then cached on disk), initialises an instance with the
//! deployment's configuration, and only then replaces its module: every
//! commit is produced by exactly one module, the one its lineage names. A
//! module that fails to load or initialise is logged and skipped, and the
//! stage keeps running the module it had.
//!
//! The first poll happens before the stage's first step, so a host started
//! after a deploy runs the deployed module from its first commit on.

use std::time::{Duration, Instant};

use crate::Result;
use crate::registry::{Deployment, Registry};

/// How often a running stage asks the registry for its module at most.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A stage's view of its registry entry.
#[derive(Debug)]
pub struct ModuleWatch {
    registry: Registry,
    pipeline: String,
    stage: String,
    polled_at: Option<Instant>,
    /// The deployment table version whose module failed to load, so it is
    /// not retried on every step.
    refused: Option<i64>,
}

impl ModuleWatch {
    /// Watches `stage` of `pipeline` in `registry`.
    pub fn new(registry: Registry, pipeline: &str, stage: &str) -> Self {
        Self {
            registry,
            pipeline: pipeline.to_owned(),
            stage: stage.to_owned(),
            polled_at: None,
            refused: None,
        }
    }

    /// Whether the registry has been read at least once.
    pub fn has_polled(&self) -> bool {
        self.polled_at.is_some()
    }

    /// The deployment to switch to, if the registry names a module other
    /// than `running` (and it was not refused already); `None` between
    /// polls.
    ///
    /// # Errors
    /// Registry read errors.
    pub async fn poll(&mut self, running: &str) -> Result<Option<Deployment>> {
        if self
            .polled_at
            .is_some_and(|at| at.elapsed() < POLL_INTERVAL)
        {
            return Ok(None);
        }
        let current = self.registry.current(&self.pipeline, &self.stage).await?;
        self.polled_at = Some(Instant::now());
        Ok(current.filter(|d| d.digest != running && d.version != self.refused))
    }

    /// Where the registry keeps the module of `deployment`.
    pub fn module_path(&self, deployment: &Deployment) -> std::path::PathBuf {
        self.registry.module_path(&deployment.digest)
    }

    /// Remembers that `deployment` could not be switched to.
    pub fn refuse(&mut self, deployment: &Deployment) {
        self.refused = deployment.version;
    }
}
