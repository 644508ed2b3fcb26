use super::*;

const TTL: Duration = Duration::from_millis(300);

fn lease(dir: &std::path::Path, host: &str) -> StageLease {
    let dir = dir.join("leases/logs/silver");
    StageLease::new(
        dir.to_str().expect("utf-8").to_owned(),
        "silver",
        TTL,
        Me::new(host),
    )
}

fn standby(owner: &str, epoch: u64) -> Standing {
    Standing::Standby {
        owner: owner.into(),
        epoch,
    }
}

#[tokio::test]
async fn the_first_host_takes_a_free_stage_and_the_others_stand_by_while_it_renews() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = lease(dir.path(), "a");
    let mut b = lease(dir.path(), "b");
    assert_eq!(a.poll().await.expect("poll"), Standing::Owner { epoch: 1 });
    a.fence.check().await.expect("the owner passes its fence");
    for _ in 0..6 {
        assert_eq!(b.poll().await.expect("poll"), standby("a", 1));
        assert_eq!(a.poll().await.expect("renew"), Standing::Owner { epoch: 1 });
        tokio::time::sleep(TTL / 3).await;
    }
    // Two lease periods passed: the owner's renewals kept the stage.
    assert!(b.fence.check().await.is_err(), "a standby's fence fails");
}

#[tokio::test]
async fn a_silent_owner_loses_the_stage_after_one_lease_and_its_fence_fails() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = lease(dir.path(), "a");
    let mut b = lease(dir.path(), "b");
    assert_eq!(a.poll().await.expect("poll"), Standing::Owner { epoch: 1 });
    assert_eq!(b.poll().await.expect("poll"), standby("a", 1));
    // `a` is paused: it neither renews nor polls.
    tokio::time::sleep(TTL / 2).await;
    assert_eq!(
        b.poll().await.expect("poll"),
        standby("a", 1),
        "half a lease is not enough"
    );
    tokio::time::sleep(TTL).await;
    assert_eq!(b.poll().await.expect("poll"), Standing::Owner { epoch: 2 });
    // `a` wakes up still believing it owns the stage: its fence refuses the
    // commit, and its next poll sees the successor.
    let refused = a.fence.check().await.expect_err("fenced");
    assert!(refused.is_not_owner(), "{refused}");
    assert!(refused.to_string().contains("epoch 2"), "{refused}");
    assert_eq!(a.poll().await.expect("poll"), standby("b", 2));
    b.fence.check().await.expect("the successor passes");
}

#[tokio::test]
async fn a_released_stage_is_taken_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut a = lease(dir.path(), "a");
    let mut b = lease(dir.path(), "b");
    assert_eq!(a.poll().await.expect("poll"), Standing::Owner { epoch: 1 });
    assert_eq!(b.poll().await.expect("poll"), standby("a", 1));
    a.release().await.expect("release");
    assert!(
        a.fence.check().await.is_err(),
        "released: no longer fenced in"
    );
    assert_eq!(b.poll().await.expect("poll"), Standing::Owner { epoch: 2 });
}

#[tokio::test]
async fn of_hosts_racing_for_one_epoch_exactly_one_wins() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hosts: Vec<StageLease> = (0..4)
        .map(|i| lease(dir.path(), &format!("h{i}")))
        .collect();
    let standings =
        futures::future::join_all(hosts.iter_mut().map(|h| async { h.take(1).await })).await;
    let owners = standings
        .into_iter()
        .map(|s| s.expect("take"))
        .filter(|s| matches!(s, Standing::Owner { .. }))
        .count();
    assert_eq!(owners, 1);
}

#[tokio::test]
async fn old_epochs_are_cleaned_up_as_the_stage_moves() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut hosts = [lease(dir.path(), "a"), lease(dir.path(), "b")];
    hosts[0].poll().await.expect("poll");
    for round in 0..4 {
        let (from, to) = if round % 2 == 0 { (0, 1) } else { (1, 0) };
        hosts[to].poll().await.expect("poll");
        hosts[from].release().await.expect("release");
        assert!(matches!(
            hosts[to].poll().await.expect("poll"),
            Standing::Owner { .. }
        ));
    }
    let kept = objects::list(&hosts[0].dir).await.expect("list");
    assert_eq!(kept, ["000000000004.json", "000000000005.json"]);
}

#[tokio::test]
async fn a_host_restarted_after_a_crash_takes_its_stage_back_at_once() {
    let dir = tempfile::tempdir().expect("tempdir");
    let mut before = lease(dir.path(), "x");
    assert_eq!(
        before.poll().await.expect("poll"),
        Standing::Owner { epoch: 1 }
    );
    // The process that held it is gone: a pid that has exited.
    let mut gone = std::process::Command::new("true").spawn().expect("spawn");
    let pid = gone.id();
    gone.wait().expect("wait");
    let uri = epoch_uri(&before.dir, 1);
    let mut doc: LeaseDoc =
        serde_json::from_slice(&objects::read(&uri).await.expect("read").expect("there"))
            .expect("json");
    doc.pid = pid;
    objects::write(&uri, to_json(&doc)).await.expect("write");

    let mut after = lease(dir.path(), "x");
    assert_eq!(
        after.poll().await.expect("poll"),
        Standing::Owner { epoch: 2 }
    );
    // Another host does not take a live-looking owner's stage early.
    let mut other = lease(dir.path(), "y");
    assert_eq!(other.poll().await.expect("poll"), standby("x", 2));
}
