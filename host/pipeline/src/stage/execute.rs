//! Running a stage's module over a range of changes: the one execution path
//! of a step, of `ingot reprocess` and of the deploy dry run.
//!
//! A step runs its range chunk by chunk ([`Executor::run`] per chunk). A
//! call hands a chunk to the module in slices of `batch-rows`, on blocking
//! threads: the slices are shared out in order among up to `instances`
//! instances of the module, which run at once (each holding a permit of
//! the tenant's gate, when it has one free), and their outputs are put
//! back in input order, so the result is the one a single instance gives. A chunk the
//! module keeps failing on (a trap, a timeout, running out of memory, an
//! oversized output, or output the table refuses) is retried
//! `max-attempts` times with backoff, then isolated: the chunk is cut in
//! slices and halved down to single rows, and the rows the module fails on
//! become rejects with the error as their reason, so the stage moves on.
//! Isolation spends at most [`ISOLATION_FAILURES`] failing calls and
//! [`ISOLATION_DEADLINES`] call deadlines of time per range, whatever its
//! number of chunks ([`Isolation`]); past either, the rest of the failing
//! rows are rejected untried, without retries. A failed
//! call drops its instance (a trap may have poisoned it); the next call
//! builds a new one.

use std::{collections::VecDeque, sync::Arc, time::Duration};

use ingot_core::{
    StageId,
    arrow::{array::RecordBatch, datatypes::Schema},
    short_digest,
};
use ingot_delta::{CHANGE_TYPE_COLUMN, COMMIT_TIMESTAMP_COLUMN, COMMIT_VERSION_COLUMN};
use ingot_sandbox::{Instance, Limits, Module, Runtime, RuntimeError};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};

use ingot_core::ErrorClass;

use crate::{Error, Result, quarantine::Reject};

pub use super::isolation::{ISOLATION_DEADLINES, ISOLATION_FAILURES, Isolation};

/// What running the module over a chunk produced.
#[derive(Default)]
pub struct Processed {
    /// The output batches, in input order.
    pub outputs: Vec<RecordBatch>,
    /// Rows the module rejected, and rows it failed on.
    pub rejects: Vec<Reject>,
    /// The last error, when no call succeeded.
    pub failure: Option<Error>,
}

/// How the module of a stage is run.
#[derive(Debug, Clone)]
pub struct ExecuteSettings {
    /// Sandbox limits of every instance.
    pub limits: Limits,
    /// Rows per call into the module.
    pub batch_rows: usize,
    /// Attempts at a failing range before isolation.
    pub max_attempts: u32,
    /// Instances of the module that may run one call's slices at once.
    pub instances: usize,
    /// The input columns the module is given, with the change columns
    /// (`None`: all of them); rejects still carry whole rows.
    pub input_columns: Option<Arc<[String]>>,
}

impl ExecuteSettings {
    /// The first of the input columns the stage names that `schema` does
    /// not have.
    pub fn missing_input_column(&self, schema: &Schema) -> Option<&str> {
        let columns = self.input_columns.as_deref()?;
        columns
            .iter()
            .find(|c| schema.index_of(c).is_err())
            .map(String::as_str)
    }

    /// The indices of the columns of `schema` the module is given, in
    /// input order; `None` when it gets them all.
    fn projection(&self, schema: &Schema) -> Option<Vec<usize>> {
        let columns = self.input_columns.as_deref()?;
        Some(
            schema
                .fields()
                .iter()
                .enumerate()
                .filter(|(_, f)| is_change_column(f.name()) || columns.contains(f.name()))
                .map(|(i, _)| i)
                .collect(),
        )
    }
}

/// Whether `name` is one of the Change Data Feed columns every input has.
fn is_change_column(name: &str) -> bool {
    [
        CHANGE_TYPE_COLUMN,
        COMMIT_VERSION_COLUMN,
        COMMIT_TIMESTAMP_COLUMN,
    ]
    .contains(&name)
}

/// A check of a call's output (that the output table would accept it); a
/// failing check fails the call like a trap would.
pub trait OutputCheck {
    /// Checks `outputs` of one call.
    ///
    /// # Errors
    /// Why the table would refuse them.
    fn check(&mut self, outputs: &[RecordBatch]) -> Result<()>;
}

/// No check: every output is accepted.
impl OutputCheck for () {
    fn check(&mut self, _outputs: &[RecordBatch]) -> Result<()> {
        Ok(())
    }
}

/// The module of one stage and the instance it runs in.
pub struct Executor {
    id: StageId,
    runtime: Arc<Runtime>,
    module: Arc<Module>,
    init_config: Vec<(String, String)>,
    settings: ExecuteSettings,
    gate: Option<Arc<Semaphore>>,
    /// Instances ready for the next call (none after a failed call).
    instances: Vec<Instance>,
}

impl Executor {
    /// An executor of `module` for stage `id`, with an instance created and
    /// initialised with `init_config` now, so a failing `init` is reported
    /// before anything runs.
    ///
    /// # Errors
    /// [`RuntimeError`] when the instance cannot be created or `init` fails.
    pub fn new(
        id: StageId,
        runtime: Arc<Runtime>,
        module: Arc<Module>,
        init_config: Vec<(String, String)>,
        settings: ExecuteSettings,
    ) -> Result<Self, RuntimeError> {
        let instance = Instance::new(
            &runtime,
            Arc::clone(&module),
            id.clone(),
            &settings.limits,
            &init_config,
        )?;
        Ok(Executor {
            id,
            runtime,
            module,
            init_config,
            settings,
            gate: None,
            instances: vec![instance],
        })
    }

    /// Another executor with the same runtime, settings and gate, running
    /// `module` initialised with `init_config`: the one a pinned redo runs.
    ///
    /// # Errors
    /// [`RuntimeError`] when the instance cannot be created or `init` fails.
    pub fn fork(
        &self,
        module: Arc<Module>,
        init_config: Vec<(String, String)>,
    ) -> Result<Executor, RuntimeError> {
        let mut fork = Executor::new(
            self.id.clone(),
            Arc::clone(&self.runtime),
            module,
            init_config,
            self.settings.clone(),
        )?;
        fork.gate.clone_from(&self.gate);
        Ok(fork)
    }

    /// Makes every call hold a permit of `gate` (its tenant's), so a
    /// tenant's modules occupy at most that many threads.
    pub fn set_gate(&mut self, gate: Arc<Semaphore>) {
        self.gate = Some(gate);
    }

    /// The runtime the module runs in.
    pub fn runtime(&self) -> &Arc<Runtime> {
        &self.runtime
    }

    /// The module that runs now.
    pub fn module(&self) -> &Arc<Module> {
        &self.module
    }

    /// How it runs the module.
    pub fn settings(&self) -> &ExecuteSettings {
        &self.settings
    }

    /// The configuration its instances are initialised with.
    pub fn init_config(&self) -> &[(String, String)] {
        &self.init_config
    }

    /// Switches to `module` initialised with `init_config`; the current
    /// module stays if the new one cannot be instantiated.
    ///
    /// # Errors
    /// [`RuntimeError`] when the instance cannot be created or `init` fails.
    pub fn switch(
        &mut self,
        module: Arc<Module>,
        init_config: Vec<(String, String)>,
    ) -> Result<(), RuntimeError> {
        let instance = Instance::new(
            &self.runtime,
            Arc::clone(&module),
            self.id.clone(),
            &self.settings.limits,
            &init_config,
        )?;
        self.module = module;
        self.init_config = init_config;
        self.instances = vec![instance];
        Ok(())
    }

    /// Runs the module over a chunk of `changes` at `processing_time`, with
    /// retries and isolation within the range's budget `isolation` (see the
    /// module docs); `check` vets each call's output.
    ///
    /// # Errors
    /// Only errors that are not the module's (internal ones); the module's
    /// failures end in [`Processed::rejects`].
    pub async fn run(
        &mut self,
        changes: Vec<RecordBatch>,
        processing_time: i64,
        check: &mut (dyn OutputCheck + Send),
        isolation: &mut Isolation,
    ) -> Result<Processed> {
        let changes = Arc::new(changes);
        let mut attempt = 0;
        let last = loop {
            attempt += 1;
            match self
                .call(Arc::clone(&changes), processing_time, check)
                .await
            {
                Ok((outputs, rejects)) => {
                    return Ok(Processed {
                        outputs,
                        rejects,
                        failure: None,
                    });
                }
                Err(e) if e.class() != ErrorClass::User => return Err(e),
                Err(e) if attempt < self.settings.max_attempts && isolation.untried().is_none() => {
                    crate::metrics::chunk_retry(&self.id);
                    let backoff = Duration::from_millis(200 << attempt.min(6));
                    tracing::warn!(
                        module = %short_digest(self.module.digest()), attempt, error = %e, ?backoff,
                        "batch failed, retrying"
                    );
                    tokio::time::sleep(backoff).await;
                }
                Err(e) => break e,
            }
        };
        tracing::warn!(
            module = %short_digest(self.module.digest()), attempts = attempt, error = %last,
            "batch failed every attempt; isolating the rows the module fails on"
        );
        crate::metrics::isolated(&self.id, changes.iter().map(RecordBatch::num_rows).sum());
        self.isolate(&changes, processing_time, last, check, isolation)
            .await
    }

    /// Cuts the chunk into slices and halves the failing ones down to
    /// single rows; rows the module fails on alone are rejected with the
    /// error, and so is every failing slice once the range's
    /// [`ISOLATION_FAILURES`] failing calls are spent, and every slice not
    /// yet tried once its [`ISOLATION_DEADLINES`] call deadlines of time are.
    async fn isolate(
        &mut self,
        changes: &[RecordBatch],
        processing_time: i64,
        mut last: Error,
        check: &mut (dyn OutputCheck + Send),
        isolation: &mut Isolation,
    ) -> Result<Processed> {
        let mut work: VecDeque<RecordBatch> = changes
            .iter()
            .flat_map(|b| slices(b, self.settings.batch_rows))
            .collect();
        isolation.start();
        let mut done = Processed::default();
        let mut succeeded = false;
        while let Some(slice) = work.pop_front() {
            let rows = slice.num_rows();
            if let Some(why) = isolation.untried() {
                let reason = format!("not tried: {why}; last error: {last}");
                reject_all(&mut done.rejects, &slice, &reason);
                continue;
            }
            let called = self
                .call(Arc::new(vec![slice.clone()]), processing_time, check)
                .await;
            match called {
                Ok((outputs, rejects)) => {
                    succeeded = true;
                    done.outputs.extend(outputs);
                    done.rejects.extend(rejects);
                }
                Err(e) if e.class() != ErrorClass::User => return Err(e),
                Err(e) => {
                    isolation.failures -= 1;
                    if rows <= 1 || isolation.failures == 0 {
                        let reason = if rows <= 1 {
                            format!("the module fails on this row: {e}")
                        } else {
                            format!("the module fails on this slice of {rows} rows: {e}")
                        };
                        reject_all(&mut done.rejects, &slice, &reason);
                    } else {
                        let half = rows / 2;
                        work.push_front(slice.slice(half, rows - half));
                        work.push_front(slice.slice(0, half));
                    }
                    last = e;
                }
            }
        }
        if !succeeded {
            done.failure = Some(last);
        }
        Ok(done)
    }

    /// One call into the module over `changes` (in slices of `batch-rows`),
    /// holding a permit of the tenant's gate, then `check` of its output.
    /// No retry, no isolation: the deploy dry run calls this directly.
    ///
    /// # Errors
    /// The module's failure ([`Error::Runtime`]), a refused output, or an
    /// internal error.
    pub async fn call(
        &mut self,
        changes: Arc<Vec<RecordBatch>>,
        processing_time: i64,
        check: &mut (dyn OutputCheck + Send),
    ) -> Result<(Vec<RecordBatch>, Vec<Reject>)> {
        let slices: Vec<Slice> = changes
            .iter()
            .flat_map(|b| slices(b, self.settings.batch_rows))
            .map(|whole| Slice::of(whole, &self.settings))
            .collect::<Result<_>>()?;
        let wanted = self.settings.instances.clamp(1, slices.len().max(1));
        let permits = permits(self.gate.clone(), wanted).await?;
        let lanes = permits.len().max(1).min(slices.len().max(1));
        let instances = self.instances_for(lanes)?;
        let groups = share_out(slices, instances.len());
        let calls: Vec<_> = instances
            .into_iter()
            .zip(groups)
            .map(|(mut instance, group)| {
                let id = self.id.clone();
                tokio::task::spawn_blocking(move || {
                    let result = run_module(&mut instance, &group, processing_time, &id);
                    (instance, result)
                })
            })
            .collect();
        let (mut outputs, mut rejects, mut failed) = (Vec::new(), Vec::new(), None);
        let (mut ready, mut memory) = (Vec::new(), 0);
        for call in calls {
            let (instance, result) = call
                .await
                .map_err(|e| Error::Internal(format!("stage worker panicked: {e}")))?;
            memory = memory.max(instance.memory_bytes());
            match result {
                Ok((o, r)) => {
                    outputs.extend(o);
                    rejects.extend(r);
                    ready.push(instance);
                }
                // The first failure in input order is the call's; a failed
                // call drops every instance it ran (a trap may have
                // poisoned one).
                Err(e) => failed = failed.or(Some(e)),
            }
        }
        drop(permits);
        crate::metrics::module_memory(&self.id, memory);
        if let Some(e) = failed {
            return Err(e.into());
        }
        self.instances.extend(ready);
        check.check(&outputs)?;
        Ok((outputs, rejects))
    }

    /// `lanes` instances for a call: the ready ones, and new ones as
    /// needed. A new instance beyond the first that cannot be made (a full
    /// pool) leaves the call with fewer.
    fn instances_for(&mut self, lanes: usize) -> Result<Vec<Instance>, RuntimeError> {
        let mut instances: Vec<Instance> = self
            .instances
            .drain(..lanes.min(self.instances.len()))
            .collect();
        while instances.len() < lanes {
            match Instance::new(
                &self.runtime,
                Arc::clone(&self.module),
                self.id.clone(),
                &self.settings.limits,
                &self.init_config,
            ) {
                Ok(instance) => instances.push(instance),
                Err(e) if instances.is_empty() => return Err(e),
                Err(e) => {
                    tracing::debug!(error = %e, lanes = instances.len(), "cannot make another instance; running the call on fewer");
                    break;
                }
            }
        }
        Ok(instances)
    }
}

/// Permits of the tenant's `gate` for a call that could use `wanted`
/// instances: one, waited for, and as many more as are free. Without a
/// gate, one per instance.
async fn permits(
    gate: Option<Arc<Semaphore>>,
    wanted: usize,
) -> Result<Vec<Option<OwnedSemaphorePermit>>> {
    let Some(gate) = gate else {
        return Ok((0..wanted).map(|_| None).collect());
    };
    let first = Arc::clone(&gate)
        .acquire_owned()
        .await
        .map_err(|e| Error::Internal(format!("tenant gate closed: {e}")))?;
    let more = (1..wanted).map_while(|_| Arc::clone(&gate).try_acquire_owned().ok());
    Ok(std::iter::once(first).chain(more).map(Some).collect())
}

/// `slices` cut into `lanes` runs of consecutive slices, as even in rows as
/// whole slices allow, in order.
fn share_out(slices: Vec<Slice>, lanes: usize) -> Vec<Vec<Slice>> {
    let total: usize = slices.iter().map(Slice::num_rows).sum();
    let per_lane = total.div_ceil(lanes.max(1)).max(1);
    let mut groups: Vec<Vec<Slice>> = vec![Vec::new()];
    let mut rows = 0;
    for slice in slices {
        if rows >= per_lane && groups.len() < lanes {
            groups.push(Vec::new());
            rows = 0;
        }
        rows += slice.num_rows();
        groups
            .last_mut()
            .expect("invariant: one group at least")
            .push(slice);
    }
    groups
}

/// A slice of a chunk: the whole rows (what a reject keeps) and the columns
/// the module is given.
struct Slice {
    whole: RecordBatch,
    given: RecordBatch,
}

impl Slice {
    fn of(whole: RecordBatch, settings: &ExecuteSettings) -> Result<Self> {
        let given = match settings.projection(&whole.schema()) {
            Some(columns) => whole
                .project(&columns)
                .map_err(|e| Error::Internal(format!("cannot project the input columns: {e}")))?,
            None => whole.clone(),
        };
        Ok(Slice { whole, given })
    }

    fn num_rows(&self) -> usize {
        self.whole.num_rows()
    }
}

/// `batch` cut into slices of at most `rows` rows (one empty slice for an
/// empty batch, so the module still sees it).
fn slices(batch: &RecordBatch, rows: usize) -> Vec<RecordBatch> {
    if batch.num_rows() == 0 {
        return vec![batch.clone()];
    }
    (0..batch.num_rows())
        .step_by(rows.max(1))
        .map(|offset| batch.slice(offset, rows.min(batch.num_rows() - offset)))
        .collect()
}

/// Rejects every row of `slice` with `reason`.
fn reject_all(rejects: &mut Vec<Reject>, slice: &RecordBatch, reason: &str) {
    rejects.extend((0..slice.num_rows()).map(|row| Reject::new(slice, row, reason.to_owned())));
}

/// Calls the module on each of `slices`, in order.
fn run_module(
    instance: &mut Instance,
    slices: &[Slice],
    processing_time: i64,
    id: &StageId,
) -> Result<(Vec<RecordBatch>, Vec<Reject>), RuntimeError> {
    instance.set_processing_time(processing_time);
    let mut outputs = Vec::new();
    let mut rejects = Vec::new();
    for slice in slices {
        let (started, dropped) = (std::time::Instant::now(), instance.dropped_log().lines);
        let processed = instance.process(&slice.given);
        crate::metrics::module_call(
            id,
            started.elapsed(),
            processed.as_ref().err(),
            instance.dropped_log().lines - dropped,
        );
        let processed = processed?;
        for r in processed.rejected {
            rejects.push(Reject::new(&slice.whole, r.row as usize, r.reason));
        }
        outputs.push(processed.batch);
        ingot_core::fault::point("module-call");
    }
    Ok((outputs, rejects))
}

#[cfg(test)]
mod tests;
