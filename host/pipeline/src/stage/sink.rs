//! Where a stage commits: its quarantine, tombstones and output tables,
//! written in the order and with the txns a [`Plan`] says.
//!
//! Each commit is decided on the snapshot it is made against: a table
//! another host created or advanced since the step read its progress makes
//! the commit fail with a conflict, and the step redoes from the new
//! progress (delta-rs's own conflict check only covers commits made after
//! that snapshot).

use ingot_core::arrow::{array::RecordBatch, datatypes::SchemaRef};
use ingot_delta::{Appender, Table, TableError, Tombstones, WriteMode};

use super::execute::OutputCheck;
use super::progress::{Expect, Observed, Plan, Progress};
use crate::{Error, Result, lease::Fence, quarantine};

/// The tables a stage writes.
pub struct Sinks {
    output_uri: String,
    quarantine_uri: String,
    mode: WriteMode,
    tombstones: Option<Tombstones>,
    output: Option<Table>,
    quarantine: Option<Table>,
    /// Checked before a step's commits when the stage runs in a fleet.
    fence: Option<Fence>,
    /// The most stored rows a dedupe output's key index holds (0: none).
    key_index_limit: u64,
}

/// The output of a step, gathered chunk by chunk: an append to an existing
/// output table streams the rows to its files as they come (the step holds
/// only the files' `add` actions until the commit); the other write modes,
/// and the step that creates the table, hold the batches (a MERGE needs
/// them all, reduced per key).
#[derive(Debug)]
pub enum Outputs {
    /// The batches, in input order.
    Held(Vec<RecordBatch>),
    /// Rows written to the output's files, not committed yet.
    Appending {
        /// The files written (boxed: a writer is large beside a Vec).
        appender: Box<Appender>,
        /// Output batches pushed (empty ones included).
        batches: usize,
    },
}

impl Outputs {
    /// Adds a chunk's output batches.
    ///
    /// # Errors
    /// A batch the table refuses, or a store failure writing it.
    pub async fn push(&mut self, outputs: Vec<RecordBatch>) -> Result<()> {
        match self {
            Outputs::Held(held) => held.extend(outputs),
            Outputs::Appending { appender, batches } => {
                for batch in &outputs {
                    appender.write(batch).await?;
                }
                *batches += outputs.len();
            }
        }
        Ok(())
    }

    /// Whether any output batch was produced (even an empty one).
    pub fn is_empty(&self) -> bool {
        match self {
            Outputs::Held(held) => held.is_empty(),
            Outputs::Appending { batches, .. } => *batches == 0,
        }
    }

    /// The output rows.
    pub fn rows(&self) -> usize {
        match self {
            Outputs::Held(held) => held.iter().map(RecordBatch::num_rows).sum(),
            Outputs::Appending { appender, .. } => appender.rows(),
        }
    }
}

/// What the commits of a step wrote.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Written {
    /// Output rows written.
    pub rows_out: usize,
    /// The version of the last commit: the output's, or the quarantine's
    /// when the quarantine commit settled the range alone.
    pub version: i64,
}

impl Sinks {
    /// The sinks of a stage writing `output_uri` in `mode`, its rejects to
    /// `quarantine_uri` and, when given, its tombstones to `tombstones_uri`.
    pub fn new(
        output_uri: String,
        quarantine_uri: String,
        mode: WriteMode,
        tombstones_uri: Option<String>,
    ) -> Self {
        Sinks {
            output_uri,
            quarantine_uri,
            mode,
            tombstones: tombstones_uri.map(Tombstones::new),
            output: None,
            quarantine: None,
            fence: None,
            key_index_limit: 0,
        }
    }

    /// Makes dedupe steps keep an index of the output's keys while it
    /// stores at most `rows` rows (0: every dedupe is a MERGE).
    pub fn set_key_index_limit(&mut self, rows: u64) {
        self.key_index_limit = rows;
    }

    /// Makes every step check `fence` before its first commit: a host that
    /// lost the stage's lease commits nothing.
    pub fn set_fence(&mut self, fence: Fence) {
        self.fence = Some(fence);
    }

    /// The output table's write mode.
    pub fn mode(&self) -> &WriteMode {
        &self.mode
    }

    /// The quarantine table's location.
    pub fn quarantine_uri(&self) -> &str {
        &self.quarantine_uri
    }

    /// Whether the stage keeps tombstones.
    pub fn keeps_tombstones(&self) -> bool {
        self.tombstones.is_some()
    }

    /// The output table, if it exists (as of the last [`Sinks::observe`]).
    pub fn output(&self) -> Option<&Table> {
        self.output.as_ref()
    }

    /// The quarantine table, if it exists (as of the last [`Sinks::observe`]).
    pub fn quarantine(&self) -> Option<&Table> {
        self.quarantine.as_ref()
    }

    /// Refreshes the output and quarantine tables and reads `progress`'s
    /// txn versions from them.
    ///
    /// # Errors
    /// Table errors.
    pub async fn observe(&mut self, progress: &Progress) -> Result<Observed> {
        refresh_or_open(&mut self.output, &self.output_uri).await?;
        refresh_or_open(&mut self.quarantine, &self.quarantine_uri).await?;
        Ok(self.observed(progress))
    }

    /// `progress`'s txn versions as the loaded snapshots hold them.
    pub fn observed(&self, progress: &Progress) -> Observed {
        let txn = |table: &Option<Table>, app_id: &str| {
            table.as_ref().and_then(|t| t.txn_version(app_id))
        };
        Observed {
            done: txn(&self.output, progress.txn()),
            quarantined: txn(&self.quarantine, progress.txn()),
            settled: progress
                .settled_txn()
                .and_then(|settled| txn(&self.quarantine, settled)),
        }
    }

    /// Where a step gathers its output ([`Outputs`]).
    ///
    /// # Errors
    /// A writer of the output table cannot be set up.
    pub fn outputs(&self) -> Result<Outputs> {
        match (&self.mode, &self.output) {
            (WriteMode::Append, Some(table)) => Ok(Outputs::Appending {
                appender: Box::new(table.appender()?),
                batches: 0,
            }),
            _ => Ok(Outputs::Held(Vec::new())),
        }
    }

    /// A check of a step's outputs against the output table (or, before it
    /// exists, against the write mode's columns and the step's first output).
    pub fn output_check(&self) -> TableCheck<'_> {
        TableCheck {
            table: self.output.as_ref(),
            uri: &self.output_uri,
            mode: &self.mode,
            first: None,
        }
    }

    /// Makes the commits of `plan`: the quarantine's (with `rejects`), the
    /// tombstones' and the output's (with `outputs`).
    ///
    /// # Errors
    /// [`TableError::Conflict`] when a table no longer holds the progress the
    /// plan expects; other table errors. A commit not made leaves the
    /// protocol's state as a crash at that point would. [`Error::NotOwner`]
    /// when the fence shows another host owns the stage.
    pub async fn commit(
        &mut self,
        plan: Plan,
        outputs: Outputs,
        rejects: &[quarantine::Reject],
    ) -> Result<Written> {
        if let Some(fence) = &self.fence {
            fence.check().await?;
        }
        if let Some(q) = &plan.quarantine {
            let table = open_or_create(
                &mut self.quarantine,
                &self.quarantine_uri,
                quarantine::schema(),
            )
            .await?;
            expect(table, &q.expect)?;
            let rows = if q.with_rejects {
                vec![quarantine::batch(rejects)?]
            } else {
                Vec::new()
            };
            let version = table.write(rows, &WriteMode::Append, &q.commit).await?;
            ingot_core::fault::point("quarantine-commit");
            if q.settles {
                return Ok(Written {
                    rows_out: 0,
                    version,
                });
            }
        }
        let Some(out) = plan.output else {
            return Err(Error::Internal(
                "a plan without an output commit did not settle its range".into(),
            ));
        };
        let outputs = match outputs {
            Outputs::Held(batches) => batches,
            Outputs::Appending { appender, .. } => {
                let rows_out = appender.rows();
                let table = self.output.as_mut().ok_or_else(|| {
                    Error::Internal("an appending step's output table is not open".into())
                })?;
                expect(table, &out.expect)?;
                let version = table.commit_append(*appender, &out.commit).await?;
                ingot_core::fault::point("output-commit");
                return Ok(Written { rows_out, version });
            }
        };
        let schema = self.output_schema(&outputs)?;
        let outputs = self.apply_tombstones(outputs, &out.commit).await?;
        let rows_out = outputs.iter().map(RecordBatch::num_rows).sum();
        let table = open_or_create(&mut self.output, &self.output_uri, schema).await?;
        expect(table, &out.expect)?;
        table.set_key_index_limit(self.key_index_limit);
        let version = table.write(outputs, &self.mode, &out.commit).await?;
        ingot_core::fault::point("output-commit");
        Ok(Written { rows_out, version })
    }

    /// `outputs` without the rows older than their key's tombstone, after
    /// the range's deletes are committed to the tombstones (upsert stages
    /// with a sequence and a delete column; other stages keep them all).
    async fn apply_tombstones(
        &mut self,
        outputs: Vec<RecordBatch>,
        commit: &ingot_delta::Commit,
    ) -> Result<Vec<RecordBatch>> {
        let (
            Some(tombstones),
            WriteMode::Upsert {
                keys,
                sequence: Some(sequence),
                delete_column: Some(delete),
            },
        ) = (&mut self.tombstones, &self.mode)
        else {
            return Ok(outputs);
        };
        let kept = tombstones
            .apply(outputs, keys, sequence, delete, commit)
            .await?;
        ingot_core::fault::point("tombstones-commit");
        Ok(kept)
    }

    /// The schema the output table is created with, or has.
    fn output_schema(&self, outputs: &[RecordBatch]) -> Result<SchemaRef> {
        match (outputs.first(), &self.output) {
            (Some(b), _) => Ok(self.mode.table_schema(&b.schema())),
            (None, Some(table)) => Ok(table.schema()),
            (None, None) => Err(Error::Internal(
                "a range without output was not settled in the quarantine".into(),
            )),
        }
    }
}

/// The output check of one step (see [`Sinks::output_check`]).
pub struct TableCheck<'a> {
    table: Option<&'a Table>,
    uri: &'a str,
    mode: &'a WriteMode,
    /// Before the table exists: the schema of this step's first output,
    /// which the step's later outputs must match.
    first: Option<SchemaRef>,
}

impl TableCheck<'_> {
    /// A check against `table` (or, when it does not exist, against the
    /// columns `mode` needs) of the table at `uri`.
    pub fn new<'a>(table: Option<&'a Table>, uri: &'a str, mode: &'a WriteMode) -> TableCheck<'a> {
        TableCheck {
            table,
            uri,
            mode,
            first: None,
        }
    }
}

impl OutputCheck for TableCheck<'_> {
    fn check(&mut self, outputs: &[RecordBatch]) -> Result<()> {
        if let Some(table) = self.table {
            for batch in outputs {
                table.check(batch, self.mode)?;
            }
            return Ok(());
        }
        let first = self
            .first
            .clone()
            .or_else(|| outputs.first().map(RecordBatch::schema));
        for batch in outputs {
            self.mode.check_columns(self.uri, batch)?;
            if let Some(first) = &first
                && batch.schema().fields() != first.fields()
            {
                return Err(TableError::SchemaMismatch {
                    table: self.uri.to_owned(),
                    details: format!(
                        "the module's outputs in one step have different schemas: {first:?}, then {:?}",
                        batch.schema()
                    ),
                }
                .into());
            }
        }
        if self.first.is_none() {
            self.first = first;
        }
        Ok(())
    }
}

/// Fails with a conflict unless `table`'s snapshot still holds the progress
/// the plan started from.
fn expect(table: &Table, expect: &Expect) -> Result<()> {
    if table.txn_version(&expect.app_id) == expect.version {
        return Ok(());
    }
    Err(TableError::Conflict {
        table: table.uri().to_owned(),
        version: table.version(),
    }
    .into())
}

/// Refreshes the table if open, else tries to open it; None if it does not exist yet.
pub(super) async fn refresh_or_open<'a>(
    slot: &'a mut Option<Table>,
    uri: &str,
) -> Result<Option<&'a Table>> {
    match slot {
        Some(table) => table.refresh().await?,
        None => *slot = Table::open(uri).await?,
    }
    Ok(slot.as_ref())
}

async fn open_or_create<'a>(
    slot: &'a mut Option<Table>,
    uri: &str,
    schema: SchemaRef,
) -> Result<&'a mut Table> {
    if slot.is_none() {
        *slot = Some(Table::open_or_create(uri, schema).await?);
    }
    Ok(slot.as_mut().expect("invariant: set above"))
}
