//! The redo of a pinned range (see [`super::progress`]): a first attempt
//! committed the range's rejects to the quarantine, then failed before its
//! output commit. The redo must end with every input row of the range in
//! exactly one of the two tables, whatever happened in between (a deploy, a
//! config change, a module that isolates differently this time), so it
//! reproduces the first attempt rather than trusting a re-run to match:
//!
//! - the module, configuration and processing time are those the quarantine
//!   commit recorded ([`ingot_delta::Attempt`]);
//! - the input rows the first attempt quarantined are left out of the redo
//!   (they are in the quarantine already);
//! - any row the redo rejects anew is committed to the quarantine, under
//!   the same txn, before the output.

use std::collections::BTreeSet;

use ingot_core::arrow::array::{Array, AsArray, RecordBatch};
use ingot_delta::{Attempt, CHANGE_TYPE_COLUMN, COMMIT_VERSION_COLUMN, Table};

use super::progress::Range;
use crate::Result;

/// What the first attempt of a pinned range recorded.
#[derive(Debug, Clone, Default)]
pub struct FirstAttempt {
    /// The module it ran (sha256 hex), when recorded.
    pub module: Option<String>,
    /// How it ran it, when recorded (commits of ingot before 0.2 have none).
    pub attempt: Option<Attempt>,
    /// The renderings of the input rows it quarantined (the quarantine's
    /// `row` column).
    pub quarantined: Vec<String>,
}

/// Reads what the commits of `quarantine` that recorded txn `txn` at
/// `range.to` hold: the first attempt's lineage and its quarantined rows.
///
/// # Errors
/// Table errors reading the log or the quarantine's change feed.
pub async fn first_attempt(quarantine: &Table, txn: &str, range: Range) -> Result<FirstAttempt> {
    let commits = quarantine.txn_commits(txn, range.to).await?;
    let mut first = FirstAttempt::default();
    // Newest first: the oldest commit is the first attempt's; later ones
    // (a redo's new rejects) recorded the same attempt.
    if let Some(lineage) = commits.iter().rev().find_map(|(_, c)| c.lineage.as_ref()) {
        first.module.clone_from(&lineage.module);
        first.attempt.clone_from(&lineage.attempt);
    }
    let versions: BTreeSet<i64> = commits.iter().map(|(v, _)| *v).collect();
    let (Some(&oldest), Some(&newest)) = (versions.first(), versions.last()) else {
        return Ok(first);
    };
    for batch in quarantine.changes(oldest, newest).await? {
        first.quarantined.extend(inserted_rows(&batch, &versions));
    }
    Ok(first)
}

/// The `row` values of the rows of a quarantine change batch inserted by
/// one of `versions`.
fn inserted_rows(batch: &RecordBatch, versions: &BTreeSet<i64>) -> Vec<String> {
    let columns = (
        batch
            .column_by_name(COMMIT_VERSION_COLUMN)
            .and_then(|c| c.as_primitive_opt::<ingot_core::arrow::datatypes::Int64Type>()),
        batch
            .column_by_name(CHANGE_TYPE_COLUMN)
            .and_then(|c| c.as_string_opt::<i32>()),
        batch
            .column_by_name("row")
            .and_then(|c| c.as_string_opt::<i32>()),
    );
    let (Some(version), Some(change), Some(row)) = columns else {
        return Vec::new();
    };
    (0..batch.num_rows())
        .filter(|&i| {
            !row.is_null(i) && versions.contains(&version.value(i)) && change.value(i) == "insert"
        })
        .map(|i| row.value(i).to_owned())
        .collect()
}
