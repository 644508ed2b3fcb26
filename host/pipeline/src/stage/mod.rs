//! One stage: input CDF -> Wasm module -> output table, exactly once.
//!
//! A [`StageRunner::step`] is a loop over small parts:
//!
//! 1. follow the registry: switch to a newly deployed module between two
//!    steps ([`crate::swap`]);
//! 2. read the progress and choose the range ([`progress`]: the whole
//!    exactly-once protocol, its txn ids and crash points);
//! 3. cut the range to the stage's input budget, stream the input's Change
//!    Data Feed over it in chunks ([`input`]) and run the module over each,
//!    with retries and poison-row isolation ([`execute`]);
//! 4. commit the rejects, tombstones and output ([`sink`]): where a stage
//!    commits.
//!
//! `ingot reprocess` ([`StageRunner::reprocess`]) reuses the same parts with
//! its own txn. A step in which no call succeeded leaves the stage
//! *failing*, with the last error ([`StageRunner::failure`]).

pub mod execute;
pub mod input;
mod isolation;
pub mod progress;
mod range_run;
mod redo;
mod reprocess;
pub mod sink;

use std::{path::PathBuf, sync::Arc, time::Duration};

use ingot_core::{
    ErrorClass, Layout, StageId, arrow::datatypes::SchemaRef, clock::now_micros, short_digest,
};
use ingot_delta::{Attempt, Table};
use ingot_sandbox::{Limits, Runtime};
use tokio::sync::Semaphore;
use tracing::Instrument as _;

use crate::{
    Error, ProgressError, Result,
    config::{ConfigError, PipelineConfig, StageConfig},
    deployments::Registry,
    quarantine::RowSet,
    swap::ModuleWatch,
};
use execute::{ExecuteSettings, Executor};
use input::{Changes, InputBudget};
use progress::{NothingToCommit, Observed, Produced, Progress, Range};
use range_run::{Ran, RangeRun};
use redo::FirstAttempt;
use sink::Sinks;

pub use execute::ISOLATION_FAILURES;
pub use reprocess::Reprocessed;

/// What one step did.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum StepOutcome {
    /// The input holds nothing new (or does not exist yet).
    Idle,
    /// One output commit.
    Committed {
        /// First input version consumed.
        from: i64,
        /// Last input version consumed (the new txn version).
        to: i64,
        /// Input change rows read.
        rows_in: usize,
        /// Output rows written.
        rows_out: usize,
        /// Input rows quarantined.
        rejected: usize,
        /// The output table's new version (the quarantine's when the step
        /// wrote only there).
        version: i64,
        /// Whether every call into the module failed (the rows went to the
        /// quarantine); [`StageRunner::failure`] holds the last error.
        failing: bool,
    },
}

/// Runs one stage of a pipeline.
pub struct StageRunner {
    id: StageId,
    layout: Layout,
    span: tracing::Span,
    input_uri: String,
    input: Option<Table>,
    progress: Progress,
    budget: InputBudget,
    executor: Executor,
    sinks: Sinks,
    watch: ModuleWatch,
    /// The stage's module file in the pipeline file (a pinned redo may need
    /// it back after a deploy replaced it).
    module_file: PathBuf,
    failure: Option<Error>,
    /// The pipeline file and the stage's index in it (for errors naming
    /// its settings).
    config_path: PathBuf,
    index: usize,
    /// The input version this stage was last found caught up at: while the
    /// input stays there, a step is idle without reading the output and
    /// quarantine tables (most stages of a busy host are idle most of the
    /// time).
    caught_up_at: Option<i64>,
}

/// The sandbox limits of a stage's module.
pub fn limits_of(stage: &StageConfig) -> Limits {
    let l = &stage.limits;
    Limits {
        memory_bytes: l.memory_mib << 20,
        call_timeout: Duration::from_millis(l.call_timeout_ms),
        max_output_bytes: l.max_output_mib << 20,
    }
}

/// How a stage's module is run.
pub fn execute_settings(stage: &StageConfig) -> ExecuteSettings {
    ExecuteSettings {
        limits: limits_of(stage),
        batch_rows: stage.batch_rows,
        instances: stage.instances,
        input_columns: stage.input_columns.as_deref().map(Arc::from),
        max_attempts: stage.limits.max_attempts,
    }
}

impl StageRunner {
    /// Loads stage `index` of `config`: the module is compiled (or taken from
    /// the cache) and an instance is created and initialised, so a bad module
    /// or config fails here, before anything is written.
    ///
    /// # Errors
    ///
    /// [`ingot_sandbox::RuntimeError`] naming the module and stage.
    pub fn new(config: &PipelineConfig, index: usize, runtime: Arc<Runtime>) -> Result<Self> {
        let stage = &config.stages[index];
        let layout = config.layout();
        let id = StageId::new(&config.tenant, &config.name, &stage.name);
        let module = runtime.load(&stage.module)?;
        let executor = Executor::new(
            id.clone(),
            runtime,
            module,
            stage.init_config(),
            execute_settings(stage),
        )?;
        let mode = stage.mode.clone();
        // An upsert that can order (sequence) and delete keeps tombstones.
        let tombstones = stage
            .keeps_tombstones()
            .then(|| layout.tombstones_uri(&stage.name));
        let input_uri = layout.table_uri(config.stage_input(index));
        let mut sinks = Sinks::new(
            layout.table_uri(&stage.name),
            layout.quarantine_uri(&stage.name),
            mode,
            tombstones,
        );
        sinks.set_key_index_limit(stage.key_index_max_rows);
        Ok(Self {
            span: tracing::info_span!("stage", tenant = %id.tenant, pipeline = %id.pipeline, stage = %id.stage),
            progress: Progress::stage(
                &layout,
                &stage.name,
                input_uri.clone(),
                stage.max_versions_per_commit,
            ),
            budget: InputBudget::new(stage.max_mib_per_commit << 20),
            sinks,
            watch: ModuleWatch::new(Registry::for_pipeline(config)?, &config.name, &stage.name),
            module_file: PathBuf::from(&stage.module),
            input_uri,
            input: None,
            layout,
            id,
            executor,
            failure: None,
            config_path: config.path.clone(),
            index,
            caught_up_at: None,
        })
    }

    /// The stage's identity.
    pub fn id(&self) -> &StageId {
        &self.id
    }

    /// The span every event of this stage is logged in: it carries the
    /// tenant, the pipeline and the stage.
    pub fn span(&self) -> &tracing::Span {
        &self.span
    }

    /// Makes every call into the module hold a permit of `gate` (its
    /// tenant's), so a tenant's modules occupy at most that many threads.
    pub fn set_gate(&mut self, gate: Arc<Semaphore>) {
        self.executor.set_gate(gate);
    }

    /// Makes each step check `fence` before it commits (a stage run by
    /// one host of a fleet at a time, see [`crate::lease`]).
    pub fn set_fence(&mut self, fence: crate::lease::Fence) {
        self.sinks.set_fence(fence);
    }

    /// The module that runs now.
    pub fn module(&self) -> &ingot_sandbox::Module {
        self.executor.module()
    }

    /// The last error of the module if the last step failed on every call
    /// (its rows are in the quarantine); None once a call succeeds again.
    pub fn failure(&self) -> Option<&Error> {
        self.failure.as_ref()
    }

    /// Takes the failure [`StageRunner::failure`] holds, wrapped with the
    /// stage's identity.
    pub fn take_failure(&mut self) -> Option<Error> {
        self.failure.take().map(|source| self.wrap(source))
    }

    /// Input versions: the last one processed and the latest seen.
    pub fn progress(&self) -> (Option<i64>, Option<i64>) {
        (
            self.sinks.observed(&self.progress).processed(),
            self.input.as_ref().map(Table::version),
        )
    }

    /// Processes the next range of input versions, if any, in one output
    /// commit. Rows the module rejects or keeps failing on go to the
    /// quarantine first; see [`progress`].
    ///
    /// # Errors
    ///
    /// Table errors (a conflict, storage), internal errors, and a module
    /// failing on a range with nothing to quarantine; in each case nothing
    /// of the range was committed to the output.
    pub async fn step(&mut self) -> Result<StepOutcome> {
        let span = self.span.clone();
        let result = self.step_inner().instrument(span).await;
        result.map_err(|source| self.wrap(source))
    }

    fn wrap(&self, source: Error) -> Error {
        Error::Stage {
            pipeline: self.id.pipeline.clone(),
            stage: self.id.stage.clone(),
            source: Box::new(source),
        }
    }

    async fn step_inner(&mut self) -> Result<StepOutcome> {
        self.follow_registry().await?;
        let Some((range, observed)) = self.next_range().await? else {
            return Ok(StepOutcome::Idle);
        };
        let input = self
            .input
            .as_ref()
            .expect("invariant: opened by next_range");
        let range = self.budget.fit(input, range).await?;
        let batch_rows = self.executor.settings().batch_rows;
        let (range, changes) =
            input::open_range(input, &self.id, range, observed, batch_rows).await?;
        let txn = self.progress.txn().to_owned();
        let (ran, digest, attempt) = self.execute(range, changes, &txn, false).await?;
        let Ran {
            outputs,
            rejects,
            failure,
            rows_in,
        } = ran;
        if let Some(e) = &failure {
            tracing::error!(
                module = %short_digest(&digest), from = range.from, to = range.to,
                quarantined = rejects.len(), error = %e,
                "the module failed on every call of this range; its rows are quarantined"
            );
        }
        let produced = Produced {
            has_output: !outputs.is_empty(),
            has_rejects: !rejects.is_empty(),
            output_exists: self.sinks.output().is_some(),
        };
        let plan = match self
            .progress
            .plan(range, observed, produced, &digest, &attempt)
        {
            Ok(plan) => plan,
            Err(NothingToCommit) => {
                return Err(failure.unwrap_or_else(|| {
                    Error::Internal("a step produced neither output nor quarantined rows".into())
                }));
            }
        };
        let failing = failure.is_some();
        self.failure = failure;
        let committing = std::time::Instant::now();
        let written = self.sinks.commit(plan, outputs, &rejects).await?;
        crate::metrics::stage_commit(&self.id, committing.elapsed());
        if let Some(quarantine) = self.sinks.quarantine().filter(|_| !rejects.is_empty()) {
            crate::metrics::quarantine_rows(&self.id, quarantine.file_stats(0).rows);
        }
        tracing::info!(
            module = %short_digest(&digest), from = range.from, to = range.to, rows_in,
            rows_out = written.rows_out, rejected = rejects.len(), version = written.version,
            "stage commit"
        );
        Ok(StepOutcome::Committed {
            from: range.from,
            to: range.to,
            rows_in,
            rows_out: written.rows_out,
            rejected: rejects.len(),
            version: written.version,
            failing,
        })
    }

    /// Runs the module over `changes`, chunk by chunk: a first attempt with
    /// the current module at the range's processing time; a pinned redo as
    /// its first attempt ran ([`redo`]). Returns what it produced, the
    /// digest of the module that ran and how it ran.
    ///
    /// `txn` is the progress txn of the protocol (the stage's or
    /// reprocess's); the processing time of a first attempt is the commit
    /// time of version `range.to` of the range's input: the stage's input,
    /// or the quarantine when `reprocessing`.
    async fn execute(
        &mut self,
        range: Range,
        mut changes: Changes,
        txn: &str,
        reprocessing: bool,
    ) -> Result<(Ran, String, Attempt)> {
        self.check_input_columns(changes.schema())?;
        let first = match (range.pinned, self.sinks.quarantine()) {
            (true, Some(q)) => redo::first_attempt(q, txn, range).await?,
            _ => FirstAttempt::default(),
        };
        let clock = if reprocessing {
            self.sinks.quarantine()
        } else {
            self.input.as_ref()
        };
        let processing_time = match (&first.attempt, clock) {
            (Some(a), _) => a.processing_time,
            (None, Some(table)) => processing_time(table, range.to).await?,
            (None, None) => now_micros(),
        };
        // A store that fails now fails the step (retried); a module the lake
        // does not hold is looked for in the stage's module file.
        let fetched = match first.module.as_deref() {
            Some(digest) if digest != self.executor.module().digest() => {
                match self.watch.fetch(digest).await {
                    Ok(path) => Some(path),
                    Err(e) if e.class() == ErrorClass::External => return Err(e),
                    Err(_) => None,
                }
            }
            _ => None,
        };
        let mut pinned = self.pinned_executor(range, &first, fetched)?;
        let mut quarantined = RowSet::new(first.quarantined);
        let executor = pinned.as_mut().unwrap_or(&mut self.executor);
        let mut run = RangeRun {
            executor,
            sinks: &self.sinks,
            processing_time,
            quarantined: &mut quarantined,
        };
        let (ran, skipped) = run.run(&mut changes).await?;
        if skipped > 0 {
            tracing::info!(
                from = range.from,
                to = range.to,
                already_quarantined = skipped,
                "redid a range whose first attempt committed its rejects"
            );
        }
        let attempt = Attempt {
            config_digest: config_digest(run.executor.init_config()),
            processing_time,
            config: Some(run.executor.init_config().to_vec()),
        };
        Ok((ran, run.executor.module().digest().to_owned(), attempt))
    }

    /// Fails the step, before any call, when the stage's `input-columns`
    /// names a column its input does not have.
    fn check_input_columns(&self, schema: &SchemaRef) -> Result<()> {
        let Some(column) = self.executor.settings().missing_input_column(schema) else {
            return Ok(());
        };
        Err(ConfigError::invalid(
            &self.config_path,
            format!("stages[{}].input-columns", self.index),
            format!(
                "names `{column}`, which the input {} does not have",
                self.input_uri
            ),
        )
        .into())
    }

    /// The executor a pinned redo runs when its first attempt ran another
    /// module or configuration than the current ones; `None` when they are
    /// the same (or the first attempt recorded neither).
    fn pinned_executor(
        &self,
        range: Range,
        first: &FirstAttempt,
        fetched: Option<PathBuf>,
    ) -> Result<Option<Executor>> {
        let current = self.executor.module();
        let config = first.attempt.as_ref().and_then(|a| a.config.as_deref());
        let module = first.module.as_deref().filter(|m| *m != current.digest());
        let config = config.filter(|c| *c != self.executor.init_config());
        if module.is_none() && config.is_none() {
            return Ok(None);
        }
        let module = match module {
            Some(digest) => self.find_module(digest, fetched).ok_or_else(|| {
                ProgressError::PinnedModuleMissing {
                    stage: self.id.to_string(),
                    from: range.from,
                    to: range.to,
                    module: digest.to_owned(),
                }
            })?,
            None => Arc::clone(current),
        };
        let config = config.map_or_else(|| self.executor.init_config().to_vec(), <[_]>::to_vec);
        tracing::info!(
            module = %short_digest(module.digest()), from = range.from, to = range.to,
            "redoing the range with the module and configuration of its first attempt"
        );
        Ok(Some(self.executor.fork(module, config)?))
    }

    /// Module `digest` from the registry (`fetched`, its local copy) or the
    /// stage's module file.
    fn find_module(
        &self,
        digest: &str,
        fetched: Option<PathBuf>,
    ) -> Option<Arc<ingot_sandbox::Module>> {
        fetched
            .into_iter()
            .chain([self.module_file.clone()])
            .filter(|path| path.exists())
            .filter_map(|path| self.executor.runtime().load(&path).ok())
            .find(|module| module.digest() == digest)
    }

    /// The range the next step processes and the progress it was chosen
    /// from; `None` when the input does not exist yet or holds nothing new.
    async fn next_range(&mut self) -> Result<Option<(Range, Observed)>> {
        let Some(latest) = sink::refresh_or_open(&mut self.input, &self.input_uri)
            .await?
            .map(Table::version)
        else {
            return Ok(None);
        };
        if self.caught_up_at == Some(latest) {
            return Ok(None);
        }
        let observed = self.sinks.observe(&self.progress).await?;
        let range = self.progress.next_range(observed, latest);
        if range.is_none() {
            self.caught_up_at = Some(latest);
        }
        Ok(range.map(|range| (range, observed)))
    }

    /// Switches to the module the registry names for this stage, if it
    /// names another one and it loads and initialises; otherwise keeps the
    /// module it has. A registry that cannot be read fails the step only
    /// before the first poll (a restarted host must not run a module it was
    /// told to replace).
    async fn follow_registry(&mut self) -> Result<()> {
        let first = !self.watch.has_polled();
        let current = self.executor.module().digest().to_owned();
        let deployment = match self.watch.poll(&current, self.executor.init_config()).await {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(()),
            Err(e) if first => return Err(e),
            Err(e) => {
                tracing::warn!(error = %e, "cannot read the module registry; keeping the current module");
                return Ok(());
            }
        };
        let switched = match self.watch.fetch(&deployment.digest).await {
            Ok(path) => self
                .executor
                .runtime()
                .load(&path)
                .and_then(|module| self.executor.switch(module, deployment.init_config()))
                .map_err(Error::from),
            Err(e) if first => return Err(e),
            Err(e) if e.class() == ErrorClass::External => {
                tracing::warn!(module = %short_digest(&deployment.digest), error = %e, "cannot fetch the deployed module; keeping the current one until the next poll");
                return Ok(());
            }
            Err(e) => Err(e),
        };
        match switched {
            Ok(()) => {
                crate::metrics::swap(&self.id);
                tracing::info!(
                    from = %short_digest(&current), to = %short_digest(&deployment.digest),
                    deployment = ?deployment.version, action = ?deployment.action,
                    "module switched"
                );
            }
            Err(e) => {
                tracing::error!(
                    module = %short_digest(&deployment.digest), deployment = ?deployment.version,
                    error = %e, "cannot switch to the deployed module; keeping the current one"
                );
                self.watch.refuse(&deployment);
            }
        }
        Ok(())
    }
}

/// The processing time the module gets for a range ending at input version
/// `to`: that version's commit timestamp, so every attempt of the range sees
/// the same value (the clock only when the log records none).
pub(super) async fn processing_time(input: &Table, to: i64) -> Result<i64> {
    if let Some(at) = input.commit_timestamp(to).await? {
        return Ok(at);
    }
    tracing::warn!(input = %input.uri(), version = to, "no commit timestamp; using the clock");
    Ok(now_micros())
}

/// The digest of a module's configuration: sha256 of its pairs as JSON.
fn config_digest(config: &[(String, String)]) -> String {
    let json = serde_json::to_vec(config).expect("invariant: string pairs serialize");
    crate::deployments::digest_of(&json)
}
