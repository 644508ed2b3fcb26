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
mod tests {
    use super::*;

    const DIGEST: &str = "abc123";

    fn progress() -> Progress {
        Progress::stage(
            &Layout::new("/lake", "t", "logs"),
            "silver",
            "/lake/t/logs/bronze".into(),
            10,
        )
    }

    fn produced(has_output: bool, has_rejects: bool, output_exists: bool) -> Produced {
        Produced {
            has_output,
            has_rejects,
            output_exists,
        }
    }

    fn attempt() -> Attempt {
        Attempt {
            config_digest: "cfg".into(),
            processing_time: 1_700_000_000_000_000,
            config: Some(vec![("field".into(), "message".into())]),
        }
    }

    fn txns(commit: &Commit) -> Vec<(&str, i64)> {
        commit
            .txns
            .iter()
            .map(|t| (t.app_id.as_str(), t.version))
            .collect()
    }

    #[test]
    fn a_fresh_stage_takes_at_most_max_versions_from_version_zero() {
        let p = progress();
        let range = p.next_range(Observed::default(), 25).expect("work");
        assert_eq!((range.from, range.to, range.pinned), (0, 9, false));
        assert_eq!(p.next_range(Observed::default(), 3).map(|r| r.to), Some(3));
    }

    #[test]
    fn a_caught_up_stage_has_no_range() {
        let observed = Observed {
            done: Some(7),
            ..Observed::default()
        };
        assert_eq!(progress().next_range(observed, 7), None);
        let settled = Observed {
            done: Some(3),
            settled: Some(7),
            ..Observed::default()
        };
        assert_eq!(progress().next_range(settled, 7), None);
    }

    #[test]
    fn a_normal_step_commits_rejects_then_output_with_one_txn_each() {
        let p = progress();
        let observed = Observed {
            done: Some(4),
            quarantined: Some(2),
            settled: None,
        };
        let range = p.next_range(observed, 30).expect("work");
        assert_eq!((range.from, range.to), (5, 14));
        let plan = p
            .plan(
                range,
                observed,
                produced(true, true, true),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        let q = plan.quarantine.expect("rejects are quarantined");
        assert!(q.with_rejects && !q.settles);
        assert_eq!(txns(&q.commit), [("stage/logs/silver", 14)]);
        assert_eq!(
            q.expect.version,
            Some(2),
            "the quarantine must still be at 2"
        );
        let out = plan.output.expect("output commit");
        assert_eq!(txns(&out.commit), [("stage/logs/silver", 14)]);
        assert_eq!(out.expect.version, Some(4), "the output must still be at 4");
        assert_eq!(out.commit.lineage.input_versions, Some((5, 14)));
        assert_eq!(out.commit.lineage.module.as_deref(), Some(DIGEST));
        assert_eq!(
            out.commit.lineage.input_table.as_deref(),
            Some("/lake/t/logs/bronze")
        );
    }

    #[test]
    fn without_rejects_only_the_output_is_committed() {
        let p = progress();
        let observed = Observed {
            done: Some(2),
            ..Observed::default()
        };
        let range = p.next_range(observed, 5).expect("work");
        let plan = p
            .plan(
                range,
                observed,
                produced(true, false, true),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        assert_eq!(plan.quarantine, None);
        assert_eq!(plan.output.expect("output").expect.version, Some(2));
    }

    #[test]
    fn creating_the_output_table_goes_through_a_quarantine_commit() {
        // Two hosts that both see no output table contend on the
        // quarantine's txn, so only one of them creates the output or
        // settles the range.
        let p = progress();
        let range = p.next_range(Observed::default(), 0).expect("work");
        let plan = p
            .plan(
                range,
                Observed::default(),
                produced(true, false, false),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        let q = plan.quarantine.expect("a quarantine commit first");
        assert!(!q.with_rejects && !q.settles);
        assert_eq!(q.expect.version, None);
        assert_eq!(txns(&q.commit), [("stage/logs/silver", 0)]);
        assert_eq!(plan.output.expect("output").expect.version, None);
    }

    #[test]
    fn the_quarantine_commit_records_the_attempt_and_the_output_its_digests() {
        let p = progress();
        let range = p.next_range(Observed::default(), 4).expect("work");
        let plan = p
            .plan(
                range,
                Observed::default(),
                produced(true, true, true),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        let q = plan.quarantine.expect("rejects");
        assert_eq!(q.commit.lineage.attempt, Some(attempt()));
        let out = plan.output.expect("output").commit.lineage.attempt;
        let out = out.expect("the output records the attempt");
        assert_eq!(
            (out.config_digest.as_str(), out.processing_time, out.config),
            ("cfg", attempt().processing_time, None)
        );
    }

    #[test]
    fn crash_after_the_quarantine_commit_pins_the_redo_which_commits_only_new_rejects() {
        let p = progress();
        // The first attempt committed [5, 14]'s rejects, then crashed.
        let observed = Observed {
            done: Some(4),
            quarantined: Some(14),
            settled: None,
        };
        // More input arrived meanwhile: the redo still takes exactly [5, 14].
        let range = p.next_range(observed, 40).expect("work");
        assert_eq!((range.from, range.to, range.pinned), (5, 14, true));
        // The rows already quarantined are not sent again; a redo with no
        // new reject commits only the output.
        let plan = p
            .plan(
                range,
                observed,
                produced(true, false, true),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        assert_eq!(plan.quarantine, None, "nothing is written twice");
        let out = plan.output.expect("the output is committed");
        assert_eq!(txns(&out.commit), [("stage/logs/silver", 14)]);
        assert_eq!(out.expect.version, Some(4));
        // A new reject (the module behaves otherwise this time) goes to the
        // quarantine first, under the same txn, before the output.
        let plan = p
            .plan(
                range,
                observed,
                produced(true, true, true),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        let q = plan.quarantine.expect("the new rejects");
        assert!(q.with_rejects && !q.settles);
        assert_eq!(txns(&q.commit), [("stage/logs/silver", 14)]);
        assert_eq!(q.expect.version, Some(14));
        assert!(plan.output.is_some());
    }

    #[test]
    fn crash_after_the_tombstones_commit_redoes_the_range_as_after_the_quarantine() {
        // Tombstones carry no txn: the txns read are those of a crash after
        // the quarantine commit (or before it, when the range had no
        // rejects), and the redo re-applies the deletes, which is harmless.
        let p = progress();
        let no_rejects = Observed {
            done: Some(4),
            quarantined: Some(2),
            settled: None,
        };
        let range = p.next_range(no_rejects, 8).expect("work");
        assert_eq!((range.from, range.to, range.pinned), (5, 8, false));
        let plan = p
            .plan(
                range,
                no_rejects,
                produced(true, false, true),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        assert_eq!(plan.quarantine, None);
        assert_eq!(plan.output.expect("output").expect.version, Some(4));
    }

    #[test]
    fn crash_after_the_output_commit_moves_on_to_the_next_range() {
        let p = progress();
        let observed = Observed {
            done: Some(14),
            quarantined: Some(14),
            settled: None,
        };
        let range = p.next_range(observed, 40).expect("work");
        assert_eq!((range.from, range.to, range.pinned), (15, 24, false));
    }

    #[test]
    fn a_conflict_is_a_changed_expectation_and_the_redo_starts_from_the_winner() {
        let p = progress();
        let before = Observed {
            done: Some(4),
            ..Observed::default()
        };
        let range = p.next_range(before, 9).expect("work");
        let plan = p
            .plan(
                range,
                before,
                produced(true, false, true),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        // The step expects the output at 4; another host committed [5, 9].
        assert_eq!(plan.output.expect("output").expect.version, Some(4));
        let after = Observed {
            done: Some(9),
            ..Observed::default()
        };
        assert_eq!(p.next_range(after, 9), None, "nothing is done twice");
    }

    #[test]
    fn a_range_without_output_before_the_output_table_exists_is_settled_in_the_quarantine() {
        let p = progress();
        let range = p.next_range(Observed::default(), 3).expect("work");
        let plan = p
            .plan(
                range,
                Observed::default(),
                produced(false, true, false),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        assert_eq!(plan.output, None, "no output commit");
        let q = plan.quarantine.expect("the quarantine commit is the step");
        assert!(q.settles && q.with_rejects);
        assert_eq!(
            txns(&q.commit),
            [("stage/logs/silver", 3), ("stage/logs/silver/settled", 3)]
        );
        // The next step starts after the settled range.
        let observed = Observed {
            done: None,
            quarantined: Some(3),
            settled: Some(3),
        };
        assert_eq!(p.next_range(observed, 3), None);
    }

    #[test]
    fn a_settling_redo_whose_rows_were_all_quarantined_settles_without_writing_them_again() {
        let p = progress();
        let observed = Observed {
            done: None,
            quarantined: Some(3),
            settled: None,
        };
        let range = p.next_range(observed, 5).expect("work");
        assert_eq!((range.from, range.to, range.pinned), (0, 3, true));
        let plan = p
            .plan(
                range,
                observed,
                produced(false, false, false),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        let q = plan.quarantine.expect("settles");
        assert!(q.settles && !q.with_rejects);
        assert_eq!(q.expect.version, Some(3));
        assert_eq!(
            txns(&q.commit),
            [("stage/logs/silver", 3), ("stage/logs/silver/settled", 3)]
        );
    }

    #[test]
    fn nothing_to_commit_is_refused() {
        let p = progress();
        let range = p.next_range(Observed::default(), 0).expect("work");
        assert_eq!(
            p.plan(
                range,
                Observed::default(),
                produced(false, false, false),
                DIGEST,
                &attempt()
            ),
            Err(NothingToCommit)
        );
    }

    #[test]
    fn reprocessing_uses_its_own_txn_reads_every_new_quarantine_version_and_never_settles() {
        let layout = Layout::new("/lake", "t", "logs");
        let p = Progress::reprocess(&layout, "silver", layout.quarantine_uri("silver"));
        assert_eq!(p.txn(), "reprocess/logs/silver");
        assert_eq!(p.settled_txn(), None);
        let range = p.next_range(Observed::default(), 500).expect("work");
        assert_eq!((range.from, range.to), (0, 500));
        let plan = p
            .plan(
                range,
                Observed::default(),
                produced(false, true, true),
                DIGEST,
                &attempt(),
            )
            .expect("plan");
        let q = plan.quarantine.expect("rows refused again");
        assert_eq!(txns(&q.commit), [("reprocess/logs/silver", 500)]);
        assert_eq!(
            plan.output
                .expect("output")
                .commit
                .lineage
                .input_table
                .as_deref(),
            Some("/lake/t/logs/silver_quarantine")
        );
    }
}
