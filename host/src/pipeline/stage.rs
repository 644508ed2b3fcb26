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

use std::{sync::Arc, time::Duration};

use crate::{
    Error, Result,
    config::{ModeName, PipelineConfig, StageConfig},
    pipeline::{ingest::now_micros, quarantine, swap::ModuleWatch},
    registry::Registry,
    runtime::{Instance, Limits, Module, Runtime, RuntimeError, StageId},
    table::{
        Commit, Lineage, Table, TableError, Tombstones, Txn, WriteMode, arrow::array::RecordBatch,
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
        /// The output table's new version.
        version: i64,
    },
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

    /// Processes the next range of input versions, if any, in one output commit.
    ///
    /// # Errors
    ///
    /// Table errors, and module errors that persisted over `max-attempts`
    /// attempts; either way nothing of the range was committed to the output.
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
        let done = refresh_or_open(&mut self.output, &self.output_uri)
            .await?
            .and_then(|t| t.txn_version(&self.app_id));
        let quarantined = refresh_or_open(&mut self.quarantine, &self.quarantine_uri)
            .await?
            .and_then(|t| t.txn_version(&self.app_id));
        let from = done.map_or(0, |d| d + 1);
        if from > latest {
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
        let (outputs, rejects) = self.process(changes).await?;
        let lineage = Lineage {
            ingot_version: crate::VERSION.into(),
            pipeline: self.id.pipeline.clone(),
            stage: self.id.stage.clone(),
            module: Some(self.module.digest().to_owned()),
            input_table: Some(self.input_uri.clone()),
            input_versions: Some((from, to)),
        };
        let commit = Commit {
            txns: vec![Txn {
                app_id: self.app_id.clone(),
                version: to,
            }],
            lineage,
        };
        // Each write is decided on the snapshot it commits against: a table
        // another host created or advanced since this step read its progress
        // makes the step redo from the new progress (delta-rs's conflict
        // check only covers commits made after that snapshot).
        if !rejects.is_empty() && quarantined.is_none_or(|q| q < to) {
            let table = open_or_create(
                &mut self.quarantine,
                &self.quarantine_uri,
                quarantine::schema(),
            )
            .await?;
            expect_progress(table, &self.app_id, quarantined)?;
            table
                .write(
                    vec![quarantine::batch(&rejects)?],
                    &WriteMode::Append,
                    &commit,
                )
                .await?;
        }
        let schema = outputs
            .first()
            .map(|b| self.mode.table_schema(&b.schema()))
            .expect("invariant: at least one batch processed");
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
        })
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

    /// Runs the module over the changes, retrying a failing range with backoff
    /// on a fresh instance.
    async fn process(
        &mut self,
        changes: Vec<RecordBatch>,
    ) -> Result<(Vec<RecordBatch>, Vec<quarantine::Reject>)> {
        let changes = Arc::new(changes);
        let processing_time = now_micros();
        let mut attempt = 0;
        loop {
            attempt += 1;
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
            let (changes, batch_rows) = (Arc::clone(&changes), self.batch_rows);
            let (instance, result) = tokio::task::spawn_blocking(move || {
                let mut instance = instance;
                let result = run_module(&mut instance, &changes, batch_rows, processing_time);
                (instance, result)
            })
            .await
            .map_err(|e| Error::Internal(format!("stage worker panicked: {e}")))?;
            match result {
                Ok(done) => {
                    self.instance = Some(instance);
                    return Ok(done);
                }
                // The instance may be poisoned (trap): the next attempt builds a new one.
                Err(e) if attempt < self.max_attempts => {
                    let backoff = Duration::from_millis(200 << attempt.min(6));
                    tracing::warn!(
                        tenant = %self.id.tenant, pipeline = %self.id.pipeline, stage = %self.id.stage,
                        module = %short(self.module.digest()), attempt, error = %e, ?backoff,
                        "batch failed, retrying"
                    );
                    tokio::time::sleep(backoff).await;
                }
                Err(e) => return Err(e.into()),
            }
        }
    }
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
    for batch in changes {
        let mut offset = 0;
        loop {
            let len = batch_rows.min(batch.num_rows() - offset);
            let slice = batch.slice(offset, len);
            let processed = instance.process(&slice)?;
            for r in processed.rejected {
                rejects.push(quarantine::Reject::new(&slice, r.row as usize, r.reason));
            }
            outputs.push(processed.batch);
            offset += len;
            if offset >= batch.num_rows() {
                break;
            }
        }
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
