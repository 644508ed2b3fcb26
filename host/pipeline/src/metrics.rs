//! What a pipeline reports to metrics: every metric's name, labels and
//! meaning in one place (the reference: docs/operations.md, metrics).
//!
//! Recorded through the `metrics` facade: without a recorder installed
//! (the binary installs the Prometheus one when its server is on) every
//! call is a no-op. Labels are bounded: tenant, pipeline, stage, table
//! role, topic and partition, a fixed cause or class; never a key, an
//! offset or a module digest.

use std::time::Duration;

use ingot_core::{ErrorClass, StageId};
use ingot_sandbox::RuntimeError;
use metrics::{
    Unit, counter, describe_counter, describe_gauge, describe_histogram, gauge, histogram,
};

use crate::Result;
use crate::config::PipelineConfig;
use crate::stage::StepOutcome;

/// Records written to bronze, per partition.
pub const INGEST_RECORDS: &str = "ingot_ingest_records_total";
/// Bytes of record values written to bronze, per partition.
pub const INGEST_BYTES: &str = "ingot_ingest_bytes_total";
/// Records read that bronze held already (dropped), per pipeline.
pub const INGEST_DUPLICATES: &str = "ingot_ingest_duplicates_total";
/// Records behind the partition's end (its high watermark as last fetched).
pub const CONSUMER_LAG: &str = "ingot_consumer_lag_records";
/// Commits made, per table role (`bronze`, `stage`).
pub const COMMITS: &str = "ingot_commits_total";
/// Time a commit took, from its hand-over to its new version.
pub const COMMIT_SECONDS: &str = "ingot_commit_seconds";
/// Commits redone after losing a race (a conflict), per table role.
pub const RETRIES: &str = "ingot_retries_total";
/// Input change rows a stage read.
pub const STAGE_ROWS_IN: &str = "ingot_stage_rows_in_total";
/// Rows a stage wrote to its output.
pub const STAGE_ROWS_OUT: &str = "ingot_stage_rows_out_total";
/// Input rows a stage sent to its quarantine.
pub const STAGE_ROWS_REJECTED: &str = "ingot_stage_rows_rejected_total";
/// Rows a stage's quarantine table holds (as its files' statistics count
/// them), after the stage's last commit that added to it.
pub const QUARANTINE_ROWS: &str = "ingot_stage_quarantine_rows";
/// Input versions a stage has not consumed yet.
pub const STAGE_INPUT_LAG: &str = "ingot_stage_input_lag_versions";
/// Time of a stage's step (read, calls, commits).
pub const STEP_SECONDS: &str = "ingot_stage_step_seconds";
/// Failed steps, per error class (`user`, `external`, `internal`).
pub const STEP_ERRORS: &str = "ingot_stage_step_errors_total";
/// Time of one call into a module (one slice of `batch-rows` rows).
pub const CALL_SECONDS: &str = "ingot_module_call_seconds";
/// Failed module calls, per cause (`trap`, `timeout`, `out_of_memory`, ...).
pub const CALL_FAILURES: &str = "ingot_module_call_failures_total";
/// Calls over a failing chunk redone after a backoff.
pub const CALL_RETRIES: &str = "ingot_module_call_retries_total";
/// Input rows of chunks that failed every attempt and were isolated (cut
/// down to the rows the module fails on).
pub const ROWS_ISOLATED: &str = "ingot_stage_rows_isolated_total";
/// The largest linear memory of the instances of a stage's last call.
pub const MODULE_MEMORY: &str = "ingot_module_memory_bytes";
/// Lines a stage's module logged past the log bounds (dropped, summarised).
pub const LOG_DROPPED: &str = "ingot_module_log_lines_dropped_total";
/// Module swaps a stage made (a deploy or a rollback taking effect).
pub const SWAPS: &str = "ingot_module_swaps_total";
/// Maintenance passes, per outcome (`ok`, `failed`: a table's maintenance failed).
pub const MAINTENANCE_PASSES: &str = "ingot_maintenance_passes_total";

/// Describes every metric to the installed recorder (units and help text
/// in the exposition). Call once, after installing it.
pub fn describe() {
    describe_counter!(INGEST_RECORDS, Unit::Count, "Records written to bronze.");
    describe_counter!(
        INGEST_BYTES,
        Unit::Bytes,
        "Bytes of record values written to bronze."
    );
    describe_counter!(
        INGEST_DUPLICATES,
        Unit::Count,
        "Records read that bronze already held."
    );
    describe_gauge!(
        CONSUMER_LAG,
        Unit::Count,
        "Records behind the partition's end."
    );
    describe_counter!(COMMITS, Unit::Count, "Commits made, per table role.");
    describe_histogram!(COMMIT_SECONDS, Unit::Seconds, "Time of a commit.");
    describe_counter!(RETRIES, Unit::Count, "Commits redone after a conflict.");
    describe_counter!(
        STAGE_ROWS_IN,
        Unit::Count,
        "Input change rows a stage read."
    );
    describe_counter!(
        STAGE_ROWS_OUT,
        Unit::Count,
        "Rows a stage wrote to its output."
    );
    describe_counter!(
        STAGE_ROWS_REJECTED,
        Unit::Count,
        "Input rows sent to the quarantine."
    );
    describe_gauge!(
        QUARANTINE_ROWS,
        Unit::Count,
        "Rows in a stage's quarantine table."
    );
    describe_gauge!(
        STAGE_INPUT_LAG,
        Unit::Count,
        "Input versions a stage has not consumed."
    );
    describe_histogram!(STEP_SECONDS, Unit::Seconds, "Time of a stage's step.");
    describe_counter!(STEP_ERRORS, Unit::Count, "Failed steps, per error class.");
    describe_histogram!(
        CALL_SECONDS,
        Unit::Seconds,
        "Time of one call into a module."
    );
    describe_counter!(
        CALL_FAILURES,
        Unit::Count,
        "Failed module calls, per cause."
    );
    describe_counter!(
        CALL_RETRIES,
        Unit::Count,
        "Calls over a failing chunk redone."
    );
    describe_counter!(
        ROWS_ISOLATED,
        Unit::Count,
        "Input rows of chunks that were isolated."
    );
    describe_gauge!(
        MODULE_MEMORY,
        Unit::Bytes,
        "Largest instance memory of the last call."
    );
    describe_counter!(
        LOG_DROPPED,
        Unit::Count,
        "Guest log lines dropped by the log bounds."
    );
    describe_counter!(SWAPS, Unit::Count, "Module swaps that took effect.");
    describe_counter!(
        MAINTENANCE_PASSES,
        Unit::Count,
        "Maintenance passes, per outcome."
    );
}

/// The labels of a pipeline's metrics.
#[derive(Debug, Clone)]
pub struct PipelineLabels {
    tenant: String,
    pipeline: String,
}

impl PipelineLabels {
    /// The labels of `config`'s pipeline.
    pub fn of(config: &PipelineConfig) -> Self {
        PipelineLabels {
            tenant: config.tenant.clone(),
            pipeline: config.name.clone(),
        }
    }

    fn pairs(&self) -> [(&'static str, String); 2] {
        [
            ("tenant", self.tenant.clone()),
            ("pipeline", self.pipeline.clone()),
        ]
    }

    fn with(&self, more: &[(&'static str, String)]) -> Vec<(&'static str, String)> {
        let mut labels = self.pairs().to_vec();
        labels.extend_from_slice(more);
        labels
    }
}

fn stage_labels(id: &StageId) -> Vec<(&'static str, String)> {
    vec![
        ("tenant", id.tenant.clone()),
        ("pipeline", id.pipeline.clone()),
        ("stage", id.stage.clone()),
    ]
}

fn class_name(class: ErrorClass) -> &'static str {
    match class {
        ErrorClass::User => "user",
        ErrorClass::External => "external",
        ErrorClass::Internal => "internal",
    }
}

/// One partition's share of a bronze commit.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PartitionWrite {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// Records written.
    pub records: u64,
    /// Bytes of their values.
    pub bytes: u64,
}

/// A bronze commit that wrote `written` (none: the batch was in bronze
/// already), after `conflicts` lost races, in `took`.
pub fn bronze_commit(
    labels: &PipelineLabels,
    written: &[PartitionWrite],
    duplicates: u64,
    conflicts: u32,
    took: Duration,
) {
    for w in written {
        let partition = labels.with(&[
            ("topic", w.topic.clone()),
            ("partition", w.partition.to_string()),
        ]);
        counter!(INGEST_RECORDS, &partition).increment(w.records);
        counter!(INGEST_BYTES, &partition).increment(w.bytes);
    }
    if duplicates > 0 {
        counter!(INGEST_DUPLICATES, &labels.pairs()).increment(duplicates);
    }
    let bronze = labels.with(&[("table", "bronze".to_string())]);
    if conflicts > 0 {
        counter!(RETRIES, &bronze).increment(u64::from(conflicts));
    }
    if !written.is_empty() {
        counter!(COMMITS, &bronze).increment(1);
        histogram!(COMMIT_SECONDS, &bronze).record(took.as_secs_f64());
    }
}

/// How far behind its end partition `topic/partition` is.
pub fn consumer_lag(labels: &PipelineLabels, topic: &str, partition: i32, records: i64) {
    let partition = labels.with(&[
        ("topic", topic.to_string()),
        ("partition", partition.to_string()),
    ]);
    gauge!(CONSUMER_LAG, &partition).set(records.max(0) as f64);
}

/// One step of stage `id`, which took `took`; `lag` is the input versions
/// it has not consumed after it.
pub fn stage_step(id: &StageId, took: Duration, outcome: &Result<StepOutcome>, lag: Option<i64>) {
    let labels = stage_labels(id);
    histogram!(STEP_SECONDS, &labels).record(took.as_secs_f64());
    if let Some(lag) = lag {
        gauge!(STAGE_INPUT_LAG, &labels).set(lag.max(0) as f64);
    }
    match outcome {
        Ok(StepOutcome::Idle) => {}
        Ok(StepOutcome::Committed {
            rows_in,
            rows_out,
            rejected,
            ..
        }) => {
            counter!(STAGE_ROWS_IN, &labels).increment(*rows_in as u64);
            counter!(STAGE_ROWS_OUT, &labels).increment(*rows_out as u64);
            counter!(STAGE_ROWS_REJECTED, &labels).increment(*rejected as u64);
        }
        Err(e) if e.is_conflict() => {
            let mut stage = labels;
            stage.push(("table", "stage".to_string()));
            counter!(RETRIES, &stage).increment(1);
        }
        Err(e) if e.is_not_owner() => {}
        Err(e) => {
            let mut failed = labels;
            failed.push(("class", class_name(e.class()).to_string()));
            counter!(STEP_ERRORS, &failed).increment(1);
        }
    }
}

/// A commit of stage `id` (its rejects, tombstones and output), which took
/// `took` from the hand-over of its output to the new version.
pub fn stage_commit(id: &StageId, took: Duration) {
    let mut stage = stage_labels(id);
    stage.push(("table", "stage".to_string()));
    counter!(COMMITS, &stage).increment(1);
    histogram!(COMMIT_SECONDS, &stage).record(took.as_secs_f64());
}

/// Stage `id`'s quarantine holds `rows` rows.
pub fn quarantine_rows(id: &StageId, rows: u64) {
    gauge!(QUARANTINE_ROWS, &stage_labels(id)).set(rows as f64);
}

/// One call into stage `id`'s module, which took `took`; the log bounds
/// dropped `log_dropped` of the lines it wrote.
pub fn module_call(id: &StageId, took: Duration, failure: Option<&RuntimeError>, log_dropped: u64) {
    let labels = stage_labels(id);
    histogram!(CALL_SECONDS, &labels).record(took.as_secs_f64());
    if log_dropped > 0 {
        counter!(LOG_DROPPED, &labels).increment(log_dropped);
    }
    if let Some(e) = failure {
        let mut failed = labels;
        failed.push(("cause", e.cause().to_string()));
        counter!(CALL_FAILURES, &failed).increment(1);
    }
}

/// Stage `id` calls its module over a failing chunk again.
pub fn chunk_retry(id: &StageId) {
    counter!(CALL_RETRIES, &stage_labels(id)).increment(1);
}

/// Stage `id` isolates the failing rows of a chunk of `rows` rows.
pub fn isolated(id: &StageId, rows: usize) {
    counter!(ROWS_ISOLATED, &stage_labels(id)).increment(rows as u64);
}

/// The instances of stage `id`'s last call grew to at most `bytes`.
pub fn module_memory(id: &StageId, bytes: usize) {
    gauge!(MODULE_MEMORY, &stage_labels(id)).set(bytes as f64);
}

/// Stage `id` swapped its module.
pub fn swap(id: &StageId) {
    counter!(SWAPS, &stage_labels(id)).increment(1);
}

/// A maintenance pass of the pipeline, `failed` when a table's failed.
pub fn maintenance_pass(labels: &PipelineLabels, failed: bool) {
    let outcome = if failed { "failed" } else { "ok" };
    counter!(
        MAINTENANCE_PASSES,
        &labels.with(&[("outcome", outcome.to_string())])
    )
    .increment(1);
}
