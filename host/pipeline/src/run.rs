//! Running a pipeline: the ingest loop and the stages, either until
//! everything available is processed ([`RunMode::Once`], the triggered mode)
//! or until stopped ([`RunMode::Continuous`]). A stage that fails is retried
//! with backoff while the others keep going; what each stage is doing is kept
//! in the [`StatusBoard`].
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

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use tokio::{runtime::Handle, sync::Semaphore};

use ingot_core::ErrorClass;
use ingot_sandbox::Runtime;

use crate::{
    Error, Result,
    config::PipelineConfig,
    ingest::{Assigned, Ingest, IngestReport},
    lease::{self, Standing},
    stage::{StageRunner, StepOutcome},
    status::{self, StatusBoard},
};

/// How often a stop is passed on to the pipeline's module calls.
const STOP_POLL: Duration = Duration::from_millis(50);
/// How long the stage loop sleeps when no stage had work.
const IDLE_WAIT: Duration = Duration::from_millis(200);
/// The longest backoff of a failing stage or ingest loop.
const MAX_BACKOFF: Duration = Duration::from_secs(30);

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
    status: StatusBoard,
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
            status: StatusBoard::new(&config, &stages),
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
        self.status.start().await;
        let relay = tokio::spawn(relay_stop(Arc::clone(&stop), Arc::clone(&self.interrupt)));
        let result = self.run_mode(brokers, mode, stop).await;
        relay.abort();
        if let Err(e) = &result {
            self.status.stopped_by(e);
        }
        self.status.save(true, true).await;
        result
    }

    async fn run_mode(
        &mut self,
        brokers: String,
        mode: RunMode,
        stop: Arc<AtomicBool>,
    ) -> Result<RunReport> {
        let mut report = RunReport {
            stages: self
                .stages
                .iter()
                .map(|s| StageReport {
                    stage: s.id().stage.clone(),
                    ..Default::default()
                })
                .collect(),
            ..Default::default()
        };
        match mode {
            RunMode::Once => {
                let ingest = Ingest::new(
                    Arc::clone(&self.config),
                    brokers,
                    Handle::current(),
                    Arc::clone(&stop),
                    true,
                );
                report.ingest = blocking(move || ingest.run()).await?;
                self.run_stages_once(&mut report, &stop).await;
            }
            RunMode::Continuous => {
                let assigned = Assigned::default();
                let ingest = tokio::spawn(supervise_ingest(
                    Arc::clone(&self.config),
                    brokers,
                    Arc::clone(&stop),
                    Arc::clone(&assigned),
                ));
                // Each stage steps on the one host holding its lease.
                let keeper = lease::Keeper::start(&self.config, &status::host_name());
                for (i, stage) in self.stages.iter_mut().enumerate() {
                    stage.set_fence(keeper.fence(i));
                }
                self.run_stages(&mut report, &stop, &keeper, &assigned)
                    .await;
                keeper.release().await;
                report.ingest = ingest
                    .await
                    .map_err(|e| Error::Internal(format!("ingest task: {e}")))??;
            }
        }
        Ok(report)
    }

    /// The `--once` stage loop: each stage in order, until its input holds
    /// nothing new; a stage that fails gives up for the run.
    async fn run_stages_once(&mut self, report: &mut RunReport, stop: &AtomicBool) {
        let status = &mut self.status;
        for (i, (stage, totals)) in self.stages.iter_mut().zip(&mut report.stages).enumerate() {
            while !stop.load(Ordering::SeqCst) {
                let outcome = stage.step().await;
                if stopped_mid_step(stage, &outcome, stop) {
                    break;
                }
                status.record(i, stage, &outcome);
                status.save(false, false).await;
                match outcome {
                    Ok(StepOutcome::Idle) => break,
                    Ok(step) => {
                        add(totals, &step);
                        if let Some(failure) = stage.take_failure() {
                            report.errors.push(failure);
                        }
                    }
                    Err(e) if e.is_conflict() => {
                        tracing::info!(parent: stage.span(), error = %e, "another writer committed first, redoing");
                        tokio::time::sleep(IDLE_WAIT).await;
                    }
                    Err(e) => {
                        tracing::error!(parent: stage.span(), error = %e, "stage gave up");
                        status.give_up(i, &e);
                        report.errors.push(e);
                        break;
                    }
                }
            }
        }
    }

    /// The continuous stage loop: every stage steps when it has work; a
    /// failing stage backs off on its own without holding up the others.
    async fn run_stages(
        &mut self,
        report: &mut RunReport,
        stop: &AtomicBool,
        keeper: &lease::Keeper,
        assigned: &Assigned,
    ) {
        let mut retry_at: Vec<Option<(Instant, Duration)>> = vec![None; self.stages.len()];
        while !stop.load(Ordering::SeqCst) {
            let mut progressed = false;
            self.status.set_partitions(
                assigned
                    .lock()
                    .unwrap_or_else(std::sync::PoisonError::into_inner)
                    .clone(),
            );
            for (i, stage) in self.stages.iter_mut().enumerate() {
                let standing = keeper.standing(i);
                let owner = matches!(standing, Standing::Owner { .. });
                self.status.set_standing(i, standing);
                if !owner
                    || retry_at[i].is_some_and(|(at, _)| Instant::now() < at)
                    || stop.load(Ordering::SeqCst)
                {
                    continue;
                }
                let outcome = stage.step().await;
                if stopped_mid_step(stage, &outcome, stop) {
                    continue;
                }
                self.status.record(i, stage, &outcome);
                match outcome {
                    Ok(StepOutcome::Idle) => retry_at[i] = None,
                    Ok(step) => {
                        add(&mut report.stages[i], &step);
                        retry_at[i] = None;
                        progressed = true;
                    }
                    Err(e) if e.is_conflict() => {
                        tracing::info!(parent: stage.span(), error = %e, "another writer committed first, redoing");
                    }
                    Err(e) if e.is_not_owner() => {
                        tracing::info!(parent: stage.span(), error = %e, "another host runs this stage now");
                    }
                    Err(e) => {
                        let wait = retry_at[i]
                            .map_or(Duration::from_secs(1), |(_, w)| (w * 2).min(MAX_BACKOFF));
                        tracing::error!(parent: stage.span(), error = %e, class = ?e.class(), retry_in = ?wait, "stage failed");
                        retry_at[i] = Some((Instant::now() + wait, wait));
                    }
                }
            }
            self.status.save(false, false).await;
            if !progressed {
                tokio::time::sleep(IDLE_WAIT).await;
            }
        }
    }
}

/// Whether `outcome` is a step that failed because the run is stopping (its
/// module call was interrupted): not the stage's failure, nothing of its
/// range was committed, the next start redoes it.
fn stopped_mid_step(stage: &StageRunner, outcome: &Result<StepOutcome>, stop: &AtomicBool) -> bool {
    let stopped = outcome.is_err() && stop.load(Ordering::SeqCst);
    if stopped {
        tracing::info!(parent: stage.span(), "stopped mid-step; its range is left for the next start");
    }
    stopped
}

/// Sets `interrupt` (ending the pipeline's module calls) once `stop` is set.
async fn relay_stop(stop: Arc<AtomicBool>, interrupt: Arc<AtomicBool>) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(STOP_POLL).await;
    }
    interrupt.store(true, Ordering::SeqCst);
}

/// Runs the ingest loop until stopped, restarting it with backoff after
/// external (broker, storage) failures.
async fn supervise_ingest(
    config: Arc<PipelineConfig>,
    brokers: String,
    stop: Arc<AtomicBool>,
    assigned: Assigned,
) -> Result<IngestReport> {
    let mut total = IngestReport::default();
    let mut wait = Duration::from_secs(1);
    loop {
        let ingest = Ingest::new(
            Arc::clone(&config),
            brokers.clone(),
            Handle::current(),
            Arc::clone(&stop),
            false,
        )
        .reporting_to(Arc::clone(&assigned));
        match blocking(move || ingest.run()).await {
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
            Err(e) => {
                // Nothing can flow without ingest: stop the stages too.
                stop.store(true, Ordering::SeqCst);
                return Err(e);
            }
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
