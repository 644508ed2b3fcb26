//! Unit tests of the progress protocol: one per crash point and case.
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
