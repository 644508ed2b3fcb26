//! A stage's progress and its exactly-once protocol, in one place: which
//! txn ids exist, which input range a step takes, what each of its commits
//! carries, and what a redo after a crash does. Pure decisions over the txn
//! versions the step read; the reads and writes are the caller's.
//!
//! A step of a stage reads three txn versions (see [`ingot_core::Layout`]):
//!
//! | txn | on | means |
//! |---|---|---|
//! | `stage/<p>/<s>` | output | the output of every input version up to it is committed |
//! | `stage/<p>/<s>` | quarantine | the rejects of every input version up to it are committed |
//! | `stage/<p>/<s>/settled` | quarantine | every input version up to it was settled without output |
//!
//! and then commits, in this order:
//!
//! 1. **quarantine** (when the range has rejects, or when the output table
//!    does not exist yet): the rejected rows, txn `stage/<p>/<s>` = the
//!    range's end, the [`Attempt`] (module digest, its configuration and the
//!    processing time), plus the `settled` txn when this commit settles the
//!    range alone (no output and no output table). Creating the output table
//!    always goes through this commit, so two hosts that both see no output
//!    table contend on the quarantine's txn: one wins, the other redoes;
//! 2. **tombstones** (upsert stages with a sequence and a delete column): the
//!    range's deletes, an idempotent upsert by key that carries no txn;
//! 3. **output**: the rows, txn `stage/<p>/<s>` = the range's end.
//!
//! Each commit also carries the lineage (ingot version, stage, module
//! digest, input table and range) and is made only if the table still holds
//! the txn version the step read ([`Expect`]): a table another host advanced
//! in between makes the step fail with a conflict and redo from the new
//! progress.
//!
//! Crash points, and what the next step does:
//!
//! - before the quarantine commit: nothing of the range was written; the
//!   range is read and processed again from scratch;
//! - after the quarantine commit, before the output: the quarantine's txn is
//!   ahead of the output's, which *pins* the range ([`Range::pinned`]): the
//!   redo takes exactly that range again, runs the module, configuration and
//!   processing time the quarantine commit recorded, leaves out the input
//!   rows already quarantined, and commits any new reject to the quarantine
//!   (same txn) before the output, so a row ends in exactly one of the two
//!   tables whatever the redo's module does ([`super::redo`]);
//! - after the tombstones commit: as above; re-applying a range's deletes is
//!   harmless (an upsert by key and sequence), and only rows strictly older
//!   than a tombstone are dropped, so the redo still writes the range's own
//!   deletes;
//! - after the output commit: the range is done; the next step starts after it;
//! - a conflict (another writer advanced a table first): nothing of this
//!   step's commit was written; the next step re-reads the txns and redoes
//!   from there.
//!
//! `ingot reprocess` runs the same protocol with other txn ids
//! (`reprocess/<p>/<s>` on the output and the quarantine) over the
//! quarantine's own versions ([`Progress::reprocess`]).

use ingot_core::Layout;
use ingot_delta::{Attempt, Commit, Lineage, Txn};

/// The txn versions a step read from the stage's tables before planning
/// (each `None` when the table or the txn does not exist).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Observed {
    /// The progress txn on the output table.
    pub done: Option<i64>,
    /// The progress txn on the quarantine table.
    pub quarantined: Option<i64>,
    /// The settled txn on the quarantine table.
    pub settled: Option<i64>,
}

impl Observed {
    /// The last input version fully processed: its output committed, or
    /// settled by the quarantine alone.
    pub fn processed(&self) -> Option<i64> {
        self.done.max(self.settled)
    }
}

/// The input versions one step processes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Range {
    /// First input version.
    pub from: i64,
    /// Last input version: the version every commit of the step records.
    pub to: i64,
    /// Whether a first attempt of this range committed to the quarantine
    /// but not the output: the redo must reproduce that attempt.
    pub pinned: bool,
}

/// What running the module over a range produced, as far as the protocol
/// is concerned.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Produced {
    /// Whether any output batch was produced (even an empty one).
    pub has_output: bool,
    /// Whether any row was rejected or quarantined.
    pub has_rejects: bool,
    /// Whether the output table exists.
    pub output_exists: bool,
}

/// The txn version a table must still hold for a commit to be made.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Expect {
    /// The txn app id.
    pub app_id: String,
    /// The version read before processing (`None`: no such txn yet).
    pub version: Option<i64>,
}

/// The quarantine commit of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct QuarantineCommit {
    /// Txns and lineage.
    pub commit: Commit,
    /// Whether the step's rejects are written (false when the commit only
    /// records the attempt, or settles the range).
    pub with_rejects: bool,
    /// Whether this commit is the whole step (no output commit follows).
    pub settles: bool,
    /// What the quarantine must still hold.
    pub expect: Expect,
}

/// The output commit of a step.
#[derive(Debug, Clone, PartialEq)]
pub struct OutputCommit {
    /// Txns and lineage.
    pub commit: Commit,
    /// What the output table must still hold.
    pub expect: Expect,
}

/// The commits of one step, in the order they are made.
#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// First, if any.
    pub quarantine: Option<QuarantineCommit>,
    /// Then, unless the quarantine commit settled the range.
    pub output: Option<OutputCommit>,
}

/// A range that produced nothing to commit: no output, no rejects, and no
/// output table to hold an empty commit. Only a module that failed every
/// call and whose rows could not be quarantined gets here.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct NothingToCommit;

/// The progress protocol of one stage (or of its reprocessing).
#[derive(Debug, Clone)]
pub struct Progress {
    txn: String,
    settled_txn: Option<String>,
    pipeline: String,
    stage: String,
    input_uri: String,
    max_versions: i64,
}

impl Progress {
    /// The protocol of stage `stage` reading `input_uri`, at most
    /// `max_versions` input versions per step.
    pub fn stage(layout: &Layout, stage: &str, input_uri: String, max_versions: i64) -> Self {
        Progress {
            txn: layout.stage_txn(stage),
            settled_txn: Some(layout.settled_txn(stage)),
            pipeline: layout.pipeline().to_owned(),
            stage: stage.to_owned(),
            input_uri,
            max_versions: max_versions.max(1),
        }
    }

    /// The protocol of `ingot reprocess` for stage `stage`: its input is the
    /// stage's quarantine (`quarantine_uri`), every new version in one step,
    /// and nothing is settled without output (the output table exists).
    pub fn reprocess(layout: &Layout, stage: &str, quarantine_uri: String) -> Self {
        Progress {
            txn: layout.reprocess_txn(stage),
            settled_txn: None,
            pipeline: layout.pipeline().to_owned(),
            stage: stage.to_owned(),
            input_uri: quarantine_uri,
            max_versions: i64::MAX,
        }
    }

    /// The txn app id this protocol records progress under.
    pub fn txn(&self) -> &str {
        &self.txn
    }

    /// The settled txn app id, if this protocol settles ranges without output.
    pub fn settled_txn(&self) -> Option<&str> {
        self.settled_txn.as_deref()
    }

    /// The range the next step processes, given what was read and the
    /// input's latest version; `None` when the stage is caught up.
    pub fn next_range(&self, observed: Observed, latest: i64) -> Option<Range> {
        let from = observed.processed().map_or(0, |d| d + 1);
        if from > latest {
            return None;
        }
        Some(match observed.quarantined {
            // A crash left the rejects of [from, q] committed but not the
            // output: redo exactly that range.
            Some(q) if q >= from => Range {
                from,
                to: q,
                pinned: true,
            },
            _ => Range {
                from,
                to: latest.min(from.saturating_add(self.max_versions - 1)),
                pinned: false,
            },
        })
    }

    /// The commits of a step over `range` that produced `produced`, with
    /// the lineage of module `digest` run as `attempt` (its configuration
    /// is recorded in the quarantine commit only).
    ///
    /// # Errors
    /// [`NothingToCommit`] when a first attempt has neither output nor
    /// rejects and the output table does not exist: there is nothing to
    /// record the progress in. (A pinned redo whose rows were all
    /// quarantined by the first attempt settles the range.)
    pub fn plan(
        &self,
        range: Range,
        observed: Observed,
        produced: Produced,
        digest: &str,
        attempt: &Attempt,
    ) -> Result<Plan, NothingToCommit> {
        let settles = !produced.has_output && !produced.output_exists;
        if settles && !produced.has_rejects && !range.pinned {
            return Err(NothingToCommit);
        }
        let recorded = Attempt {
            config: None,
            ..attempt.clone()
        };
        let commit = self.commit(range, digest, Some(recorded));
        let with_rejects = produced.has_rejects;
        let quarantine = (with_rejects || !produced.output_exists).then(|| {
            let mut commit = self.commit(range, digest, Some(attempt.clone()));
            if settles && let Some(settled) = &self.settled_txn {
                commit.txns.push(Txn {
                    app_id: settled.clone(),
                    version: range.to,
                });
            }
            QuarantineCommit {
                commit,
                with_rejects,
                settles,
                expect: Expect {
                    app_id: self.txn.clone(),
                    version: observed.quarantined,
                },
            }
        });
        let output = (!settles).then(|| OutputCommit {
            commit,
            expect: Expect {
                app_id: self.txn.clone(),
                version: observed.done,
            },
        });
        Ok(Plan { quarantine, output })
    }

    /// A commit recording progress `range.to` under this protocol's txn,
    /// with the lineage of module `digest` run as `attempt` over the range.
    pub fn commit(&self, range: Range, digest: &str, attempt: Option<Attempt>) -> Commit {
        Commit {
            txns: vec![Txn {
                app_id: self.txn.clone(),
                version: range.to,
            }],
            lineage: Lineage {
                ingot_version: ingot_core::VERSION.into(),
                pipeline: self.pipeline.clone(),
                stage: self.stage.clone(),
                module: Some(digest.to_owned()),
                input_table: Some(self.input_uri.clone()),
                input_versions: Some((range.from, range.to)),
                attempt,
            },
        }
    }
}

#[cfg(test)]
mod tests;
