//! One stage: input CDF -> Wasm module -> output table, exactly once.
//!
//! A stage's progress is the `txn` (app id `stage/<pipeline>/<stage>`) on its
//! **output** table: the last input version fully processed. One
//! [`StageRunner::step`] reads the input's Change Data Feed from the version
//! after that (at most `max-versions-per-commit` versions), runs the module over it in
//! batches of `batch-rows`, and commits the output rows and the new txn in one
//! Delta commit, with lineage in the commit info. Rejected rows go first to
//! the quarantine table, in a commit carrying the same txn: after a crash
//! between the two commits, the replay recomputes exactly the same range
//! (the quarantine's txn pins it) and skips the quarantine write.
//!
//! A range the module keeps failing on (a trap, a timeout, running out of
//! memory, an oversized output, or output the table refuses) is retried
//! `max-attempts` times with backoff, then isolated: the range is cut in
//! slices and halved down to single rows, and the rows the module fails on
//! go to the quarantine with the error as their reason, so the stage moves
//! on. Isolation spends at most [`ISOLATION_FAILURES`] failing calls per
//! range; past that, the rest of the failing rows are quarantined untried.
//! A step in which no call succeeded leaves the stage *failing*, with the
//! last error ([`StageRunner::failure`]).

use std::{collections::VecDeque, sync::Arc, time::Duration};

use tokio::sync::Semaphore;

use crate::{
    Error, ErrorClass, Result,
    config::{ModeName, PipelineConfig, StageConfig},
    pipeline::{ingest::now_micros, quarantine, swap::ModuleWatch},
    registry::Registry,
    runtime::{Instance, Limits, Module, Runtime, RuntimeError, StageId},
    table::{
        Commit, Lineage, Table, TableError, Tombstones, Txn, WriteMode,
        arrow::{
            array::{Array, AsArray, RecordBatch},
            compute::concat_batches,
            datatypes::{Int64Type, SchemaRef},
        },
    },
};

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

/// Failing calls isolation may spend on one range before it quarantines
/// the rest of the failing rows untried: bounds a step's time when the
/// module fails on everything (32 deadlines at most), while leaving room to
/// narrow down a few poison rows (about ten failing calls each in a range
/// of a thousand rows).
pub const ISOLATION_FAILURES: u32 = 32;

/// What [`StageRunner::reprocess`] did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Reprocessed {
    /// The quarantine versions whose entries were sent through the module.
    pub quarantine_versions: Option<(i64, i64)>,
    /// Quarantine entries read.
    pub entries: usize,
    /// Entries whose input row was found and sent through the module.
    pub replayed: usize,
    /// Entries whose input row is no longer in the input table.
    pub missing: usize,
    /// Output rows written.
    pub rows_out: usize,
    /// Rows the module still rejects or fails on: quarantined again.
    pub still_quarantined: usize,
}

/// What running the module over a range produced.
#[derive(Default)]
struct Processed {
    outputs: Vec<RecordBatch>,
    rejects: Vec<quarantine::Reject>,
    /// The last error, when no call succeeded.
    failure: Option<Error>,
}

/// Runs one stage of a pipeline.
pub struct StageRunner {
    id: StageId,
    app_id: String,
    input_uri: String,
    output_uri: String,
    quarantine_uri: String,
    mode: WriteMode,
    tombstones: Option<Tombstones>,
    watch: ModuleWatch,
    module: Arc<Module>,
    runtime: Arc<Runtime>,
    limits: Limits,
    init_config: Vec<(String, String)>,
    batch_rows: usize,
    max_versions: i64,
    max_attempts: u32,
    gate: Option<Arc<Semaphore>>,
    failure: Option<Error>,
    /// Before the output table exists: the schema of this step's first
    /// output, which the step's later outputs must match.
    step_schema: Option<SchemaRef>,
    /// The input version this stage was last found caught up at: while the
    /// input stays there, a step is idle without reading the output and
    /// quarantine tables (most stages of a busy host are idle most of the
    /// time).
    caught_up_at: Option<i64>,
    instance: Option<Instance>,
    input: Option<Table>,
    output: Option<Table>,
    quarantine: Option<Table>,
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

/// How a stage writes its output table.
pub fn write_mode_of(stage: &StageConfig) -> WriteMode {
    match stage.mode {
        ModeName::Append => WriteMode::Append,
        ModeName::Upsert => WriteMode::Upsert {
            keys: stage.keys.clone(),
            sequence: stage.sequence.clone(),
            delete_column: stage.delete_column.clone(),
        },
        ModeName::Accumulate => WriteMode::Accumulate {
            keys: stage.keys.clone(),
            measures: stage.measures.clone(),
            reset_column: stage.reset_column.clone(),
        },
        ModeName::Dedupe => WriteMode::Dedupe {
            keys: stage.keys.clone(),
        },
    }
}

/// The table holding the tombstones of upsert stage `stage`.
pub fn tombstones_table_name(stage: &str) -> String {
    format!("{stage}_tombstones")
}

/// The txn app id, on a stage's output and quarantine tables, of the last
/// quarantine version reprocessed.
pub fn reprocess_app_id(pipeline: &str, stage: &str) -> String {
    format!("reprocess/{pipeline}/{stage}")
}

/// The txn app id of a stage's progress on its output table.
pub fn stage_app_id(pipeline: &str, stage: &str) -> String {
    format!("stage/{pipeline}/{stage}")
}

impl StageRunner {
    /// Loads stage `index` of `config`: the module is compiled (or taken from
    /// the cache) and an instance is created and initialised, so a bad module
    /// or config fails here, before anything is written.
    ///
    /// # Errors
    ///
    /// [`RuntimeError`] naming the module and stage.
    pub fn new(config: &PipelineConfig, index: usize, runtime: Arc<Runtime>) -> Result<Self> {
        let stage = &config.stages[index];
        let id = StageId {
            tenant: config.tenant.clone(),
            pipeline: config.name.clone(),
            stage: stage.name.clone(),
        };
        let module = runtime.load(&stage.module)?;
        let limits = limits_of(stage);
        let init_config = stage.init_config();
        let instance = Instance::new(
            &runtime,
            Arc::clone(&module),
            id.clone(),
            &limits,
            &init_config,
        )?;
        let mode = write_mode_of(stage);
        // An upsert that can order (sequence) and delete keeps tombstones.
        let tombstones = matches!(
            &mode,
            WriteMode::Upsert {
                sequence: Some(_),
                delete_column: Some(_),
                ..
            }
        )
        .then(|| Tombstones::new(config.table_uri(&tombstones_table_name(&stage.name))));
        Ok(Self {
            app_id: stage_app_id(&config.name, &stage.name),
            input_uri: config.table_uri(config.stage_input(index)),
            output_uri: config.table_uri(&stage.name),
            quarantine_uri: config.table_uri(&quarantine::table_name(&stage.name)),
            id,
            mode,
            tombstones,
            watch: ModuleWatch::new(Registry::for_pipeline(config)?, &config.name, &stage.name),
            module,
            runtime,
            limits,
            init_config,
            batch_rows: stage.batch_rows,
            max_versions: stage.max_versions_per_commit,
            max_attempts: stage.limits.max_attempts,
            gate: None,
            failure: None,
            step_schema: None,
            caught_up_at: None,
            instance: Some(instance),
            input: None,
            output: None,
            quarantine: None,
        })
    }

    /// The stage's identity.
    pub fn id(&self) -> &StageId {
        &self.id
    }

    /// Makes every call into the module hold a permit of `gate` (its
    /// tenant's), so a tenant's modules occupy at most that many threads.
    pub fn set_gate(&mut self, gate: Arc<Semaphore>) {
        self.gate = Some(gate);
    }

    /// The module that runs now.
    pub fn module(&self) -> &Module {
        &self.module
    }

    /// The last error of the module if the last step failed on every call
    /// (its rows are in the quarantine); None once a call succeeds again.
    pub fn failure(&self) -> Option<&Error> {
        self.failure.as_ref()
    }

    /// Takes the failure [`StageRunner::failure`] holds, wrapped with the
    /// stage's identity.
    pub fn take_failure(&mut self) -> Option<Error> {
        self.failure.take().map(|source| Error::Stage {
            pipeline: self.id.pipeline.clone(),
            stage: self.id.stage.clone(),
            source: Box::new(source),
        })
    }

    /// Input versions: the last one processed and the latest seen.
    pub fn progress(&self) -> (Option<i64>, Option<i64>) {
        let done = self
            .output
            .as_ref()
            .and_then(|t| t.txn_version(&self.app_id));
        let settled = self
            .quarantine
            .as_ref()
            .and_then(|t| t.txn_version(&settled_app_id(&self.app_id)));
        (done.max(settled), self.input.as_ref().map(Table::version))
    }

    /// Processes the next range of input versions, if any, in one output
    /// commit. Rows the module rejects or keeps failing on go to the
    /// quarantine first; see the module docs.
    ///
    /// # Errors
    ///
    /// Table errors (a conflict, storage), internal errors, and a module
    /// failing on a range with nothing to quarantine; in each case nothing
    /// of the range was committed to the output.
    pub async fn step(&mut self) -> Result<StepOutcome> {
        self.step_inner().await.map_err(|source| Error::Stage {
            pipeline: self.id.pipeline.clone(),
            stage: self.id.stage.clone(),
            source: Box::new(source),
        })
    }

    async fn step_inner(&mut self) -> Result<StepOutcome> {
        self.follow_registry().await?;
        let Some(latest) = refresh_or_open(&mut self.input, &self.input_uri)
            .await?
            .map(|t| t.version())
        else {
            return Ok(StepOutcome::Idle);
        };
        if self.caught_up_at == Some(latest) {
            return Ok(StepOutcome::Idle);
        }
        let done = refresh_or_open(&mut self.output, &self.output_uri)
            .await?
            .and_then(|t| t.txn_version(&self.app_id));
        let quarantine = refresh_or_open(&mut self.quarantine, &self.quarantine_uri).await?;
        let quarantined = quarantine.and_then(|t| t.txn_version(&self.app_id));
        // Ranges that produced no output while the output table did not
        // exist yet are settled by the quarantine commit alone.
        let settled = quarantine.and_then(|t| t.txn_version(&settled_app_id(&self.app_id)));
        let from = done.max(settled).map_or(0, |d| d + 1);
        if from > latest {
            self.caught_up_at = Some(latest);
            return Ok(StepOutcome::Idle);
        }
        let to = match quarantined {
            // A crash left the rejects of [from, q] committed but not the
            // output: redo exactly that range.
            Some(q) if q >= from => q,
            _ => latest.min(from + self.max_versions - 1),
        };
        let input = self.input.as_ref().expect("invariant: input opened above");
        let changes = input.changes(from, to).await?;
        let changes = if changes.is_empty() {
            vec![empty_changes(input)]
        } else {
            changes
        };
        let rows_in = changes.iter().map(RecordBatch::num_rows).sum();
        let Processed {
            outputs,
            rejects,
            failure,
        } = self.process(changes).await?;
        let failing = failure.is_some();
        if let Some(e) = &failure {
            tracing::error!(
                tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
                module = %short(self.module.digest()), from, to, quarantined = rejects.len(), error = %e,
                "the module failed on every call of this range; its rows are quarantined"
            );
        }
        // No output and no output table: the quarantine commit is the whole
        // step, and records the progress itself.
        let settles = outputs.is_empty() && self.output.is_none();
        if settles && rejects.is_empty() {
            return Err(failure.unwrap_or_else(|| {
                Error::Internal("a step produced neither output nor quarantined rows".into())
            }));
        }
        self.failure = failure;
        let commit = self.commit(&self.app_id, &self.input_uri, (from, to));
        // Each write is decided on the snapshot it commits against: a table
        // another host created or advanced since this step read its progress
        // makes the step redo from the new progress (delta-rs's conflict
        // check only covers commits made after that snapshot).
        let write_rejects = !rejects.is_empty() && quarantined.is_none_or(|q| q < to);
        if write_rejects || settles {
            let table = open_or_create(
                &mut self.quarantine,
                &self.quarantine_uri,
                quarantine::schema(),
            )
            .await?;
            expect_progress(table, &self.app_id, quarantined)?;
            let mut commit = commit.clone();
            if settles {
                commit.txns.push(Txn {
                    app_id: settled_app_id(&self.app_id),
                    version: to,
                });
            }
            let rows = if write_rejects {
                vec![quarantine::batch(&rejects)?]
            } else {
                Vec::new()
            };
            let version = table.write(rows, &WriteMode::Append, &commit).await?;
            if settles {
                return Ok(StepOutcome::Committed {
                    from,
                    to,
                    rows_in,
                    rows_out: 0,
                    rejected: rejects.len(),
                    version,
                    failing,
                });
            }
        }
        let schema = match (outputs.first(), &self.output) {
            (Some(b), _) => self.mode.table_schema(&b.schema()),
            (None, Some(table)) => table.schema(),
            (None, None) => {
                return Err(Error::Internal(
                    "a range without output was not settled in the quarantine".into(),
                ));
            }
        };
        let outputs = match (&mut self.tombstones, &self.mode) {
            (
                Some(tombstones),
                WriteMode::Upsert {
                    keys,
                    sequence: Some(sequence),
                    delete_column: Some(delete),
                },
            ) => {
                tombstones
                    .apply(outputs, keys, sequence, delete, &commit)
                    .await?
            }
            _ => outputs,
        };
        let rows_out = outputs.iter().map(RecordBatch::num_rows).sum();
        let table = open_or_create(&mut self.output, &self.output_uri, schema).await?;
        expect_progress(table, &self.app_id, done)?;
        let version = table.write(outputs, &self.mode, &commit).await?;
        tracing::info!(
            tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
            module = %short(self.module.digest()), from, to, rows_in, rows_out, rejected = rejects.len(), version,
            "stage commit"
        );
        Ok(StepOutcome::Committed {
            from,
            to,
            rows_in,
            rows_out,
            rejected: rejects.len(),
            version,
            failing,
        })
    }

    /// Sends the quarantine entries added since the last reprocess through
    /// the stage's current module (the registry's, as a running host would
    /// use): each entry's input row is found again in the input table's
    /// Change Data Feed at its `source_version`, the rows are processed like
    /// a step (rejects and failing rows are quarantined again, as new
    /// entries), and the output is written in one commit.
    ///
    /// Exactly once, with the stage's own protocol: the quarantine commit
    /// (rows refused again) carries txn `reprocess/<pipeline>/<stage>` =
    /// the last quarantine version read, and the output commit carries the
    /// same txn; after a crash between them, the next reprocess redoes that
    /// range and skips the quarantine write. The quarantine is a log: an
    /// entry stays in it after its row is recovered, and the lineage of the
    /// output commit names the quarantine versions replayed.
    ///
    /// # Errors
    ///
    /// [`Error::Internal`] naming the stage if its output table does not
    /// exist yet or it keeps tombstones (an upsert with deletes, which a
    /// replay of old events would have to screen: not supported yet); table
    /// errors.
    pub async fn reprocess(&mut self) -> Result<Reprocessed> {
        self.follow_registry().await?;
        let app_id = reprocess_app_id(&self.id.pipeline, &self.id.stage);
        if self.tombstones.is_some() {
            return Err(Error::Internal(format!(
                "stage {}: reprocessing an upsert stage with deletes is not supported yet",
                self.id
            )));
        }
        let Some(done) = refresh_or_open(&mut self.output, &self.output_uri)
            .await?
            .map(|t| t.txn_version(&app_id))
        else {
            return Err(Error::Internal(format!(
                "stage {} has no output table yet: run it before reprocessing its quarantine",
                self.id
            )));
        };
        let Some(quarantine) = refresh_or_open(&mut self.quarantine, &self.quarantine_uri).await?
        else {
            return Ok(Reprocessed::default());
        };
        let pinned = quarantine.txn_version(&app_id);
        let from = done.map_or(0, |d| d + 1);
        let to = match pinned {
            Some(p) if p >= from => p,
            _ => quarantine.version(),
        };
        if from > to {
            return Ok(Reprocessed::default());
        }
        let entries = quarantine.changes(from, to).await?;
        let mut wanted: std::collections::BTreeMap<i64, Vec<String>> = Default::default();
        let mut report = Reprocessed {
            quarantine_versions: Some((from, to)),
            ..Default::default()
        };
        for batch in &entries {
            let (Some(versions), Some(rows)) = (
                batch
                    .column_by_name("source_version")
                    .and_then(|c| c.as_primitive_opt::<Int64Type>()),
                batch
                    .column_by_name("row")
                    .and_then(|c| c.as_string_opt::<i32>()),
            ) else {
                continue;
            };
            for i in 0..batch.num_rows() {
                report.entries += 1;
                if versions.is_null(i) || rows.is_null(i) {
                    report.missing += 1;
                    continue;
                }
                wanted
                    .entry(versions.value(i))
                    .or_default()
                    .push(rows.value(i).to_owned());
            }
        }
        let Some(input) = refresh_or_open(&mut self.input, &self.input_uri).await? else {
            return Ok(report);
        };
        let schema = input.change_schema();
        let mut rows = Vec::new();
        for (version, json) in wanted {
            let (found, missing) =
                quarantine::select_rows(&input.changes(version, version).await?, json);
            report.missing += missing.len();
            rows.extend(found);
        }
        report.replayed = rows.len();
        let replay = concat_batches(&schema, &rows)
            .map_err(|e| Error::Internal(format!("joining the rows to reprocess: {e}")))?;
        let Processed {
            outputs, rejects, ..
        } = self.process(vec![replay]).await?;
        report.still_quarantined = rejects.len();
        report.rows_out = outputs.iter().map(RecordBatch::num_rows).sum();
        let commit = self.commit(&app_id, &self.quarantine_uri, (from, to));
        if !rejects.is_empty() && pinned.is_none_or(|p| p < to) {
            let table = self.quarantine.as_mut().expect("invariant: opened above");
            expect_progress(table, &app_id, pinned)?;
            table
                .write(
                    vec![quarantine::batch(&rejects)?],
                    &WriteMode::Append,
                    &commit,
                )
                .await?;
        }
        let table = self.output.as_mut().expect("invariant: opened above");
        expect_progress(table, &app_id, done)?;
        table.write(outputs, &self.mode, &commit).await?;
        tracing::info!(
            tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
            module = %short(self.module.digest()), from, to, ?report, "quarantine reprocessed"
        );
        Ok(report)
    }

    /// A commit recording progress `to` under txn `app_id`, with the
    /// lineage of the current module over `input`'s versions `from..=to`.
    fn commit(&self, app_id: &str, input: &str, (from, to): (i64, i64)) -> Commit {
        Commit {
            txns: vec![Txn {
                app_id: app_id.to_owned(),
                version: to,
            }],
            lineage: Lineage {
                ingot_version: crate::VERSION.into(),
                pipeline: self.id.pipeline.clone(),
                stage: self.id.stage.clone(),
                module: Some(self.module.digest().to_owned()),
                input_table: Some(input.to_owned()),
                input_versions: Some((from, to)),
            },
        }
    }

    /// Switches to the module the registry names for this stage, if it
    /// names another one and it loads and initialises; otherwise keeps the
    /// module it has. A registry that cannot be read fails the step only
    /// before the first poll (a restarted host must not run a module it was
    /// told to replace).
    async fn follow_registry(&mut self) -> Result<()> {
        let first = !self.watch.has_polled();
        let deployment = match self
            .watch
            .poll(self.module.digest(), &self.init_config)
            .await
        {
            Ok(Some(d)) => d,
            Ok(None) => return Ok(()),
            Err(e) if first => return Err(e),
            Err(e) => {
                tracing::warn!(
                    tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
                    error = %e, "cannot read the module registry; keeping the current module"
                );
                return Ok(());
            }
        };
        let path = self.watch.module_path(&deployment);
        let config = deployment.init_config();
        let loaded = self.runtime.load(&path).and_then(|module| {
            let instance = Instance::new(
                &self.runtime,
                Arc::clone(&module),
                self.id.clone(),
                &self.limits,
                &config,
            )?;
            Ok((module, instance))
        });
        match loaded {
            Ok((module, instance)) => {
                tracing::info!(
                    tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
                    from = %short(self.module.digest()), to = %short(module.digest()),
                    deployment = ?deployment.version, action = ?deployment.action,
                    "module switched"
                );
                self.module = module;
                self.instance = Some(instance);
                self.init_config = config;
            }
            Err(e) => {
                tracing::error!(
                    tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
                    module = %short(&deployment.digest), deployment = ?deployment.version, error = %e,
                    "cannot switch to the deployed module; keeping the current one"
                );
                self.watch.refuse(&deployment);
            }
        }
        Ok(())
    }

    /// Runs the module over the changes. A failing range is retried with
    /// backoff on a fresh instance, then isolated (see the module docs).
    ///
    /// # Errors
    ///
    /// Only errors that are not the module's (internal ones); the module's
    /// failures end in the quarantine.
    async fn process(&mut self, changes: Vec<RecordBatch>) -> Result<Processed> {
        let changes = Arc::new(changes);
        let processing_time = now_micros();
        self.step_schema = None;
        let mut attempt = 0;
        let last = loop {
            attempt += 1;
            match self.call(Arc::clone(&changes), processing_time).await {
                Ok((outputs, rejects)) => {
                    return Ok(Processed {
                        outputs,
                        rejects,
                        failure: None,
                    });
                }
                Err(e) if e.class() != ErrorClass::User => return Err(e),
                Err(e) if attempt < self.max_attempts => {
                    let backoff = Duration::from_millis(200 << attempt.min(6));
                    tracing::warn!(
                        tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
                        module = %short(self.module.digest()), attempt, error = %e, ?backoff,
                        "batch failed, retrying"
                    );
                    tokio::time::sleep(backoff).await;
                }
                Err(e) => break e,
            }
        };
        tracing::warn!(
            tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
            module = %short(self.module.digest()), attempts = attempt, error = %last,
            "batch failed every attempt; isolating the rows the module fails on"
        );
        self.isolate(&changes, processing_time, last).await
    }

    /// Cuts the range into slices and halves the failing ones down to
    /// single rows; rows the module fails on alone are quarantined with the
    /// error, and so is every failing slice once [`ISOLATION_FAILURES`]
    /// failing calls are spent.
    async fn isolate(
        &mut self,
        changes: &[RecordBatch],
        processing_time: i64,
        mut last: Error,
    ) -> Result<Processed> {
        let mut work: VecDeque<RecordBatch> = changes
            .iter()
            .flat_map(|b| slices(b, self.batch_rows))
            .collect();
        let mut budget = ISOLATION_FAILURES;
        let mut done = Processed::default();
        let mut succeeded = false;
        while let Some(slice) = work.pop_front() {
            let rows = slice.num_rows();
            if budget == 0 {
                let reason = format!(
                    "not tried: the module failed {ISOLATION_FAILURES} times isolating this range; last error: {last}"
                );
                quarantine_all(&mut done.rejects, &slice, &reason);
                continue;
            }
            match self
                .call(Arc::new(vec![slice.clone()]), processing_time)
                .await
            {
                Ok((outputs, rejects)) => {
                    succeeded = true;
                    done.outputs.extend(outputs);
                    done.rejects.extend(rejects);
                }
                Err(e) if e.class() != ErrorClass::User => return Err(e),
                Err(e) => {
                    budget -= 1;
                    if rows <= 1 || budget == 0 {
                        let reason = if rows <= 1 {
                            format!("the module fails on this row: {e}")
                        } else {
                            format!("the module fails on this slice of {rows} rows: {e}")
                        };
                        quarantine_all(&mut done.rejects, &slice, &reason);
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

    /// One call into the module over `changes` (in slices of `batch_rows`),
    /// holding a permit of the tenant's gate, then the check that the
    /// output fits the table. A failed call drops its instance (a trap may
    /// have poisoned it); the next call builds a new one.
    async fn call(
        &mut self,
        changes: Arc<Vec<RecordBatch>>,
        processing_time: i64,
    ) -> Result<(Vec<RecordBatch>, Vec<quarantine::Reject>)> {
        let instance = match self.instance.take() {
            Some(i) => i,
            None => Instance::new(
                &self.runtime,
                Arc::clone(&self.module),
                self.id.clone(),
                &self.limits,
                &self.init_config,
            )?,
        };
        let permit = match &self.gate {
            Some(gate) => Some(
                Arc::clone(gate)
                    .acquire_owned()
                    .await
                    .map_err(|e| Error::Internal(format!("tenant gate closed: {e}")))?,
            ),
            None => None,
        };
        let batch_rows = self.batch_rows;
        let (instance, result) = tokio::task::spawn_blocking(move || {
            let mut instance = instance;
            let result = run_module(&mut instance, &changes, batch_rows, processing_time);
            (instance, result)
        })
        .await
        .map_err(|e| Error::Internal(format!("stage worker panicked: {e}")))?;
        drop(permit);
        let (outputs, rejects) = result?;
        self.instance = Some(instance);
        self.check_outputs(&outputs)?;
        if self.output.is_none() && self.step_schema.is_none() {
            self.step_schema = outputs.first().map(RecordBatch::schema);
        }
        Ok((outputs, rejects))
    }

    /// Checks that the module's output would be accepted by the output
    /// table (or, before it exists, that it holds the write mode's columns
    /// and agrees with the step's first output).
    fn check_outputs(&self, outputs: &[RecordBatch]) -> Result<()> {
        match &self.output {
            Some(table) => {
                for batch in outputs {
                    table.check(batch, &self.mode)?;
                }
            }
            None => {
                let first = self
                    .step_schema
                    .clone()
                    .or_else(|| outputs.first().map(RecordBatch::schema));
                for batch in outputs {
                    self.mode.check_columns(&self.output_uri, batch)?;
                    if let Some(first) = &first
                        && batch.schema().fields() != first.fields()
                    {
                        return Err(TableError::SchemaMismatch {
                            table: self.output_uri.clone(),
                            details: format!(
                                "the module's outputs in one step have different schemas: {first:?}, then {:?}",
                                batch.schema()
                            ),
                        }
                        .into());
                    }
                }
            }
        }
        Ok(())
    }
}

/// The txn app id, on the quarantine table, of ranges settled without output.
fn settled_app_id(app_id: &str) -> String {
    format!("{app_id}/settled")
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

/// Quarantines every row of `slice` with `reason`.
fn quarantine_all(rejects: &mut Vec<quarantine::Reject>, slice: &RecordBatch, reason: &str) {
    rejects.extend(
        (0..slice.num_rows()).map(|row| quarantine::Reject::new(slice, row, reason.to_owned())),
    );
}

/// Calls the module on `changes` in slices of `batch_rows`.
fn run_module(
    instance: &mut Instance,
    changes: &[RecordBatch],
    batch_rows: usize,
    processing_time: i64,
) -> Result<(Vec<RecordBatch>, Vec<quarantine::Reject>), RuntimeError> {
    instance.set_processing_time(processing_time);
    let mut outputs = Vec::new();
    let mut rejects = Vec::new();
    for slice in changes.iter().flat_map(|b| slices(b, batch_rows)) {
        let processed = instance.process(&slice)?;
        for r in processed.rejected {
            rejects.push(quarantine::Reject::new(&slice, r.row as usize, r.reason));
        }
        outputs.push(processed.batch);
    }
    Ok((outputs, rejects))
}

/// Fails with a conflict unless `table`'s snapshot still holds the progress
/// this step started from.
fn expect_progress(table: &Table, app_id: &str, seen: Option<i64>) -> Result<()> {
    if table.txn_version(app_id) == seen {
        return Ok(());
    }
    Err(TableError::Conflict {
        table: table.uri().to_owned(),
        version: table.version(),
    }
    .into())
}

/// A zero-row batch of the input's CDF schema, so the module still reports
/// its output schema when a range holds no changes.
fn empty_changes(input: &Table) -> RecordBatch {
    RecordBatch::new_empty(input.change_schema())
}

/// Refreshes the table if open, else tries to open it; None if it does not exist yet.
async fn refresh_or_open<'a>(slot: &'a mut Option<Table>, uri: &str) -> Result<Option<&'a Table>> {
    match slot {
        Some(table) => table.refresh().await?,
        None => *slot = Table::open(uri).await?,
    }
    Ok(slot.as_ref())
}

async fn open_or_create<'a>(
    slot: &'a mut Option<Table>,
    uri: &str,
    schema: crate::table::arrow::datatypes::SchemaRef,
) -> Result<&'a mut Table> {
    if slot.is_none() {
        *slot = Some(Table::open_or_create(uri, schema).await?);
    }
    Ok(slot.as_mut().expect("invariant: set above"))
}

/// The first 12 hex digits of a digest, for logs.
pub fn short(digest: &str) -> &str {
    &digest[..digest.len().min(12)]
}
