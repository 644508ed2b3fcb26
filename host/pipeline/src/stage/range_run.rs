//! One range run through a module, chunk by chunk, with one isolation
//! budget and one output check for the whole range.

use ingot_core::arrow::array::RecordBatch;

use super::execute::{Executor, Isolation};
use super::input::Changes;
use super::sink::{Outputs, Sinks};
use crate::{
    Error, Result,
    quarantine::{Reject, RowSet},
};

/// What a step's run over its range produced.
pub(super) struct Ran {
    /// The output, gathered chunk by chunk.
    pub outputs: Outputs,
    /// Rows the module rejected, and rows it failed on.
    pub rejects: Vec<Reject>,
    /// The last error, when no call succeeded.
    pub failure: Option<Error>,
    /// Input change rows read.
    pub rows_in: usize,
}

/// One range run through a module, chunk by chunk, with one isolation
/// budget and one output check for the whole range.
pub(super) struct RangeRun<'a> {
    pub executor: &'a mut Executor,
    pub sinks: &'a Sinks,
    pub processing_time: i64,
    /// The input rows a first attempt quarantined: left out of the redo.
    pub quarantined: &'a mut RowSet,
}

impl RangeRun<'_> {
    /// Runs every chunk of `changes`; returns what they produced and how
    /// many input rows were left out as already quarantined.
    pub(super) async fn run(&mut self, changes: &mut Changes) -> Result<(Ran, usize)> {
        let mut ran = Ran {
            outputs: self.sinks.outputs()?,
            rejects: Vec::new(),
            failure: None,
            rows_in: 0,
        };
        let mut check = self.sinks.output_check();
        let mut isolation = Isolation::new(self.executor.settings());
        let (mut skipped, mut succeeded) = (0, false);
        while let Some(chunk) = changes.next_chunk().await? {
            ran.rows_in += chunk.iter().map(RecordBatch::num_rows).sum::<usize>();
            let (chunk, removed) = self.quarantined.remove_from(&chunk)?;
            skipped += removed;
            let processed = self
                .executor
                .run(chunk, self.processing_time, &mut check, &mut isolation)
                .await?;
            ran.outputs.push(processed.outputs).await?;
            ran.rejects.extend(processed.rejects);
            match processed.failure {
                None => succeeded = true,
                Some(e) => ran.failure = Some(e),
            }
        }
        if succeeded {
            ran.failure = None;
        }
        Ok((ran, skipped))
    }
}
