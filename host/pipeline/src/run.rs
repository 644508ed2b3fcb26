//! Running a pipeline: the ingest loop and the stages, either until
//! everything available is processed ([`RunMode::Once`], the triggered mode)
//! or until stopped ([`RunMode::Continuous`]).
//!
//! In the continuous mode ingest, each stage and the table maintenance
//! ([`maintain_task`]) run at once, each on a task of its own
//! ([`stage_task`]): a stage starts on its input's commit the
//! moment it lands ([`crate::wake`]), so a record moves from Kafka to the
//! last table in a pipeline of commits, and a stage that is slow or failing
//! (retried with backoff) never holds the others. `--once` runs ingest to
//! the end, a maintenance pass, then each stage in order until it has read
//! its input to the end: one thing at a time, in an order that does not
//! depend on timing (each of them still uses every core: ingest encodes on
//! a thread of its own, a stage runs several module instances). What each stage is doing is
//! kept in the [`StatusBoard`].
//!
//! In the continuous mode several hosts may run one pipeline: the consumer
//! group spreads the partitions, and each stage steps only on the host
//! holding its lease ([`lease`]). A `--once` run takes no lease: it is
//! meant to run alone, and would still be safe beside others (every commit
//! is checked against the stage's `txn`).
//!
//! A stop (the flag `ingot run` sets on SIGTERM or Ctrl-C) does not wait for
//! a module: the pipeline's modules run on a view of the runtime that ends
//! every call in flight once the flag is set, so the step fails without
//! committing and its range is left for the next start.

mod maintain_task;
mod stage_task;

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::{
    runtime::Handle,
    sync::{Mutex, Semaphore},
    task::{JoinError, JoinHandle},
};

use ingot_core::ErrorClass;
use ingot_sandbox::Runtime;

use crate::{
    Error, Result,
    config::PipelineConfig,
    ingest::{Assigned, Ingest, IngestReport},
    lease,
    maintenance::Maintainer,
    stage::{StageRunner, StepOutcome},
    status::{self, StatusBoard},
    wake::{Polling, Wakeups},
};
use stage_task::{Ended, MAX_BACKOFF, Shared};

/// How often a stop is passed on to the pipeline's module calls.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How often the status task refreshes the partitions and leases it shows.
const STATUS_REFRESH: Duration = Duration::from_millis(500);

/// Whether to stop when caught up.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RunMode {
    /// Ingest everything available, run every stage to the end, return.
    Once,
    /// Keep going until the stop flag is set.
    Continuous,
}

/// Totals of one stage over a run.
#[derive(Debug, Clone, Default)]
pub struct StageReport {
    /// The stage.
    pub stage: String,
    /// Output commits.
    pub commits: u64,
    /// Input change rows processed.
    pub rows_in: u64,
    /// Output rows written.
    pub rows_out: u64,
    /// Input rows quarantined.
    pub rejected: u64,
}

/// What a run did.
#[derive(Debug, Default)]
pub struct RunReport {
    /// The ingest loop.
    pub ingest: IngestReport,
    /// Each stage, in order.
    pub stages: Vec<StageReport>,
    /// Errors of stages that gave up or failed on every call of a step
    /// (`--once`).
    pub errors: Vec<Error>,
}

/// A validated pipeline whose modules are loaded and initialised.
pub struct Pipeline {
    config: Arc<PipelineConfig>,
    stages: Vec<StageRunner>,
    status: Arc<Mutex<StatusBoard>>,
    /// The stop flag of the runtime view the stages' modules run on.
    interrupt: Arc<AtomicBool>,
}

impl Pipeline {
    /// Loads and initialises every stage's module: a missing file, a
    /// non-component or a failing `init` is reported here, before anything
    /// is written.
    ///
    /// # Errors
    ///
    /// The first stage that cannot be prepared.
    pub fn prepare(config: PipelineConfig, runtime: Arc<Runtime>) -> Result<Self> {
        let interrupt = Arc::new(AtomicBool::new(false));
        let runtime = Arc::new(runtime.stopped_by(Arc::clone(&interrupt)));
        let stages = (0..config.stages.len())
            .map(|i| StageRunner::new(&config, i, Arc::clone(&runtime)))
            .collect::<Result<Vec<_>>>()?;
        Ok(Self {
            status: Arc::new(Mutex::new(StatusBoard::new(&config, &stages))),
            config: Arc::new(config),
            stages,
            interrupt,
        })
    }

    /// Makes every module call of the pipeline's stages hold a permit of
    /// `gate`: a tenant shares one gate across its pipelines, so its modules
    /// occupy at most that many threads however slow they are.
    pub fn with_gate(mut self, gate: &Arc<Semaphore>) -> Self {
        for stage in &mut self.stages {
            stage.set_gate(Arc::clone(gate));
        }
        self
    }

    /// The configuration.
    pub fn config(&self) -> &PipelineConfig {
        &self.config
    }

    /// The live status of the pipeline (what `ingot status` reads from the
    /// lake, as this host has it now): for a server answering from memory.
    pub fn board(&self) -> Arc<Mutex<StatusBoard>> {
        Arc::clone(&self.status)
    }

    /// Runs the pipeline against `brokers` (already resolved: not `embedded`).
    ///
    /// # Errors
    ///
    /// Ingest errors that are not retryable; stage errors are in the report.
    pub async fn run(
        mut self,
        brokers: String,
        mode: RunMode,
        stop: Arc<AtomicBool>,
    ) -> Result<RunReport> {
        // Before the first commit: a store that ignores If-None-Match would
        // let two writers of one table both win.
        ingot_delta::objects::check_conditional_put(self.config.layout().root()).await?;
        self.status.lock().await.start().await;
        let wakeups = Arc::new(Wakeups::new(&self.config, Polling::default()));
        let relay = tokio::spawn(relay_stop(
            Arc::clone(&stop),
            Arc::clone(&self.interrupt),
            Arc::clone(&wakeups),
        ));
        let result = self.run_mode(brokers, mode, stop, wakeups).await;
        relay.abort();
        let mut status = self.status.lock().await;
        if let Err(e) = &result {
            status.stopped_by(e);
        }
        status.save(true, true).await;
        result
    }

    async fn run_mode(
        &mut self,
        brokers: String,
        mode: RunMode,
        stop: Arc<AtomicBool>,
        wakeups: Arc<Wakeups>,
    ) -> Result<RunReport> {
        let assigned = Assigned::default();
        let ingest = self.spawn_ingest(brokers, mode, &stop, &wakeups, &assigned);
        // In the continuous mode each stage steps on the one host holding
        // its lease; `--once` holds none.
        let keeper = (mode == RunMode::Continuous)
            .then(|| Arc::new(lease::Keeper::start(&self.config, &status::host_name())));
        if let Some(keeper) = &keeper {
            for (i, stage) in self.stages.iter_mut().enumerate() {
                stage.set_fence(keeper.fence(i));
            }
        }
        let shared = Arc::new(Shared {
            board: Arc::clone(&self.status),
            wakeups,
            stop: Arc::clone(&stop),
            keeper,
        });
        let refresh = tokio::spawn(refresh_status(Arc::clone(&shared), assigned));
        let maintain =
            (mode == RunMode::Continuous && self.config.maintenance.enabled).then(|| {
                tokio::spawn(maintain_task::run(
                    Arc::clone(&self.config),
                    Arc::clone(&shared),
                ))
            });
        let stages = std::mem::take(&mut self.stages);
        let (ingest, ended) = match mode {
            RunMode::Once => in_order(&self.config, ingest, stages, &shared).await,
            RunMode::Continuous => side_by_side(ingest, stages, &shared).await,
        };
        let (mut report, panicked) = self.take_back(ended);
        refresh.abort();
        let _cancelled = refresh.await;
        if let Some(maintain) = maintain {
            // Cut short, a pass leaves each of its commits whole or absent
            // (and perhaps files no commit names, which a vacuum removes).
            maintain.abort();
            let _cancelled = maintain.await;
        }
        let keeper = Arc::into_inner(shared).and_then(|s| s.keeper);
        if let Some(keeper) = keeper.and_then(Arc::into_inner) {
            keeper.release().await;
        }
        report.ingest = ingest.map_err(|e| Error::Internal(format!("ingest task: {e}")))??;
        panicked.map_or(Ok(report), Err)
    }

    /// Takes the stages back from their ended tasks, with their totals and
    /// errors; the last panic of a stage task, if one panicked.
    fn take_back(&mut self, ended: Vec<Result<Ended, JoinError>>) -> (RunReport, Option<Error>) {
        let mut report = RunReport::default();
        let mut panicked = None;
        for task in ended {
            match task {
                Ok(ended) => {
                    self.stages.push(ended.stage);
                    report.stages.push(ended.report);
                    report.errors.extend(ended.errors);
                }
                Err(e) => panicked = Some(Error::Internal(format!("stage task: {e}"))),
            }
        }
        (report, panicked)
    }

    /// Starts the ingest loop: in `--once` until every partition is read to
    /// its end (then bronze is announced finished), in the continuous mode
    /// until stopped, restarted after external failures.
    fn spawn_ingest(
        &self,
        brokers: String,
        mode: RunMode,
        stop: &Arc<AtomicBool>,
        wakeups: &Arc<Wakeups>,
        assigned: &Assigned,
    ) -> JoinHandle<Result<IngestReport>> {
        let announce = Arc::clone(wakeups);
        let ingest = Ingest::new(
            Arc::clone(&self.config),
            brokers,
            Handle::current(),
            Arc::clone(stop),
            mode == RunMode::Once,
        )
        .notifying(Arc::new(move |_| announce.bronze_committed()))
        .reporting_to(Arc::clone(assigned));
        let (stop, wakeups) = (Arc::clone(stop), Arc::clone(wakeups));
        tokio::spawn(async move {
            let result = match mode {
                RunMode::Once => blocking(move || ingest.run()).await,
                RunMode::Continuous => supervise_ingest(ingest, &stop).await,
            };
            if result.is_err() {
                // Nothing can flow without ingest: stop the stages too.
                stop.store(true, Ordering::SeqCst);
                wakeups.stop();
            }
            wakeups.bronze_finished();
            result
        })
    }
}

/// The ingest loop's task.
type IngestTask = JoinHandle<Result<IngestReport>>;
/// How the ingest task and the stage tasks ended.
type Joined = (
    Result<Result<IngestReport>, JoinError>,
    Vec<Result<Ended, JoinError>>,
);

/// `--once`: ingest to its end, a maintenance pass, then each stage in
/// order. Maintenance between ingest and the stages: each stage then reads
/// its input's compaction (no change) in this run, so a run ends with every
/// stage caught up. (A free function: a future holding the pipeline, whose
/// stages' modules are not `Sync`, across an await could not be spawned.)
async fn in_order(
    config: &Arc<PipelineConfig>,
    ingest: IngestTask,
    stages: Vec<StageRunner>,
    shared: &Arc<Shared>,
) -> Joined {
    let ingest = ingest.await;
    if config.maintenance.enabled && !shared.stopping() {
        let mut maintainer = Maintainer::new((**config).clone());
        maintain_task::pass(&mut maintainer, shared).await;
    }
    let mut ended = Vec::new();
    for (i, stage) in stages.into_iter().enumerate() {
        let task = tokio::spawn(stage_task::run(i, stage, Arc::clone(shared)));
        ended.push(task.await);
    }
    (ingest, ended)
}

/// The continuous mode: every stage on a task of its own beside ingest,
/// until the run stops (or the ingest task panics, which stops them).
async fn side_by_side(
    ingest: IngestTask,
    stages: Vec<StageRunner>,
    shared: &Arc<Shared>,
) -> Joined {
    let tasks: Vec<JoinHandle<Ended>> = stages
        .into_iter()
        .enumerate()
        .map(|(i, stage)| tokio::spawn(stage_task::run(i, stage, Arc::clone(shared))))
        .collect();
    let ingest = ingest.await;
    if ingest.is_err() {
        shared.stop.store(true, Ordering::SeqCst);
        shared.wakeups.stop();
    }
    (ingest, futures::future::join_all(tasks).await)
}

/// Keeps the status board's partitions and leases current and saves it
/// (at most every [`status::SAVE_INTERVAL`]), until aborted.
async fn refresh_status(shared: Arc<Shared>, assigned: Assigned) {
    loop {
        let view = assigned
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .clone();
        let document = {
            let mut board = shared.board.lock().await;
            board.set_ingest(view);
            if let Some(keeper) = &shared.keeper {
                for i in 0..board.stages() {
                    board.set_standing(i, keeper.standing(i));
                }
            }
            board.document(false, false)
        };
        // Written without holding the board: a slow store never holds up
        // the stages recording their steps.
        if let Some(document) = document {
            document.write().await;
        }
        tokio::time::sleep(STATUS_REFRESH).await;
    }
}

/// Sets `interrupt` (ending the pipeline's module calls) and wakes every
/// waiting stage once `stop` is set.
async fn relay_stop(stop: Arc<AtomicBool>, interrupt: Arc<AtomicBool>, wakeups: Arc<Wakeups>) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(STOP_POLL).await;
    }
    interrupt.store(true, Ordering::SeqCst);
    wakeups.stop();
}

/// Runs the ingest loop until stopped, restarting it with backoff after
/// external (broker, storage) failures.
async fn supervise_ingest(ingest: Ingest, stop: &AtomicBool) -> Result<IngestReport> {
    let mut total = IngestReport::default();
    let mut wait = Duration::from_secs(1);
    loop {
        let attempt = ingest.clone();
        match blocking(move || attempt.run()).await {
            Ok(r) => {
                total.records += r.records;
                total.commits += r.commits;
                total.duplicates_dropped += r.duplicates_dropped;
                return Ok(total);
            }
            Err(e) if e.class() == ErrorClass::External && !stop.load(Ordering::SeqCst) => {
                tracing::error!(error = %e, retry_in = ?wait, "ingest failed, restarting");
                tokio::time::sleep(wait).await;
                wait = (wait * 2).min(MAX_BACKOFF);
            }
            Err(e) => return Err(e),
        }
    }
}

fn add(totals: &mut StageReport, step: &StepOutcome) {
    if let StepOutcome::Committed {
        rows_in,
        rows_out,
        rejected,
        ..
    } = step
    {
        totals.commits += 1;
        totals.rows_in += *rows_in as u64;
        totals.rows_out += *rows_out as u64;
        totals.rejected += *rejected as u64;
    }
}

async fn blocking<T: Send + 'static>(f: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(f)
        .await
        .map_err(|e| Error::Internal(format!("worker thread panicked: {e}")))?
}
