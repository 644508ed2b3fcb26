//! Lakes on an object store (the harness's moto S3 server): the store's
//! conditional write, which Delta commits on S3 rest on, and two hosts
//! racing for the same table versions.
//!
//! The medallion, crash and hot-swap tests run on S3 too (their `_on_s3`
//! variants); this file holds what only an object store has.

use std::collections::BTreeMap;
use std::ffi::OsStr;
use std::time::Duration;

use ingot_sample::logs::{self, LogLine};

use crate::harness::{self, Broker, Lake, S3Server, s3::StoredVersion};
use crate::lake;
use crate::medallion::{assert_tables, log_pipeline, reading_every_partition, uri};

/// What a host logs when another writer took the version it was about to
/// commit: delta-rs, finding the table moved past the snapshot it read
/// (it then checks the winner's commit, and rebases on it or gives up), and
/// ingot, retrying a commit delta-rs gave up (bronze's ingest, a stage).
const LOST_RACES: [&str; 3] = [
    "table updated during transaction",
    "bronze commit conflicted, reloading",
    "another writer committed first, redoing",
];

/// The server the other S3 tests stand on: it starts with its bucket,
/// refuses a second `If-None-Match: *` put of a key with 412 as S3 does
/// (keeping the first), and, keeping versions, shows an unconditional
/// overwrite as a second version of the key.
#[test]
fn s3_server_refuses_a_second_conditional_put_and_shows_overwrites() {
    let s3 = S3Server::start();
    let root = s3.fresh_root();
    assert!(root.starts_with("s3://lake/"), "{root}");
    assert_ne!(root, s3.fresh_root(), "each lake gets its own prefix");
    s3.keep_versions();

    let key = "smoke/_delta_log/00000000000000000000.json";
    let create = [("If-None-Match", "*")];
    let first = s3.put(key, "first", &create);
    assert_eq!(first.status, 200, "{first:?}\n{}", s3.log());
    let second = s3.put(key, "second", &create);
    assert_eq!(second.status, 412, "{second:?}\n{}", s3.log());
    assert!(second.body.contains("PreconditionFailed"), "{second:?}");
    let stored = s3.get(key);
    assert_eq!((stored.status, stored.body.as_str()), (200, "first"));
    let once = StoredVersion {
        key: key.to_owned(),
        deleted: false,
    };
    assert_eq!(s3.versions("smoke/"), vec![once.clone()]);

    let overwrite = s3.put(key, "third", &[]);
    assert_eq!(overwrite.status, 200, "{overwrite:?}");
    assert_eq!(s3.versions("smoke/"), vec![once.clone(), once]);
}

/// Two hosts run the same pipeline `--once` at the same time on one S3
/// lake, each reading every partition of the same records: they race for
/// each version of each table, one wins, the other rebases on the winner
/// or reloads and retries. Every table then equals the answer computed
/// from the records, and no commit file was written twice.
#[test]
fn two_hosts_racing_for_each_version_on_s3_lose_and_duplicate_nothing() {
    let broker = Broker::start();
    broker.create_topic("logs", 3);
    let s3 = S3Server::start();
    s3.keep_versions();
    let lake = Lake::on_s3(&s3);
    // Small bronze commits: many versions to race for.
    let toml = reading_every_partition(&log_pipeline(&broker.bootstrap(), &lake, ""))
        .replace("max-records = 2000", "max-records = 250");
    let pipeline = lake.write_pipeline(&toml);
    let lines = logs::generate(6_000, 8);
    // A record per batch: the host starting second resumes where the
    // first one's commits got to, and Tansu 0.6 loses records after a
    // fetch from inside a batch (`harness::produce_unbatched`).
    harness::produce_unbatched(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );

    let once: [&OsStr; 3] = ["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()];
    let mut hosts = [lake.spawn_ingot(once), lake.spawn_ingot(once)];
    for host in &mut hosts {
        let status = host.wait_exit(Duration::from_secs(240));
        assert!(status.success(), "ingot {status}:\n{}", host.tail());
    }

    assert_tables(&lake, &lines);
    for table in ["bronze", "silver", "silver_quarantine", "gold"] {
        assert_each_commit_written_once(&s3, &uri(&lake, table));
    }
    // They did race. Mostly delta-rs sees the version taken when it lists
    // the log just before its put; a put that loses in between is refused
    // by the store (412), which is rarer: counted, not required.
    let lost: usize = hosts
        .iter()
        .map(|h| {
            LOST_RACES
                .iter()
                .map(|r| h.log().matches(r).count())
                .sum::<usize>()
        })
        .sum();
    assert!(
        lost > 0,
        "no host lost a race for a version:\n{}\n---\n{}",
        hosts[0].tail(),
        hosts[1].tail()
    );
    let refused = s3
        .log()
        .lines()
        .filter(|l| l.contains("/_delta_log/") && l.contains("\" 412 "))
        .count();
    eprintln!("{lost} races lost, {refused} commit puts refused by the store");
}

/// Asserts the Delta log of the table at `uri` on `s3` holds one commit
/// file per version from 0 to the table's latest, each stored once and
/// none deleted.
fn assert_each_commit_written_once(s3: &S3Server, uri: &str) {
    let prefix = format!("{}/_delta_log/", S3Server::key_of(uri));
    let mut commits: BTreeMap<i64, Vec<bool>> = BTreeMap::new();
    for stored in s3.versions(&prefix) {
        let name = &stored.key[prefix.len()..];
        if let Some(version) = name
            .strip_suffix(".json")
            .filter(|v| v.len() == 20)
            .and_then(|v| v.parse().ok())
        {
            commits.entry(version).or_default().push(stored.deleted);
        }
    }
    let latest = lake::open(uri).version();
    assert_eq!(
        commits.keys().copied().collect::<Vec<_>>(),
        (0..=latest).collect::<Vec<_>>(),
        "{uri}: a commit file for each version 0..={latest}"
    );
    let twice: Vec<_> = commits
        .iter()
        .filter(|(_, stored)| *stored != &[false])
        .collect();
    assert!(
        twice.is_empty(),
        "{uri}: commit files stored more than once or deleted (version: deleted per stored version): {twice:?}"
    );
}

/// `ingot run --once` on `toml` (a pipeline on `lake`), which must fail
/// within `within`; returns its stderr.
fn run_refused(lake: &Lake, toml: &str, within: Duration) -> String {
    let pipeline = lake.write_pipeline(toml);
    let started = std::time::Instant::now();
    let out = lake.run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    let took = started.elapsed();
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(!out.status.success(), "ingot ran:\n{stderr}");
    assert!(took < within, "refused only after {took:?}:\n{stderr}");
    stderr
}

/// A store that ignores `If-None-Match` would let two writers commit one
/// table version: a run refuses it before its first commit, naming the
/// lake and the option that declares a single-writer store.
#[test]
fn a_store_that_ignores_conditional_puts_is_refused_before_any_commit() {
    let s3 = S3Server::start_ignoring_conditional_puts();
    let create = [("If-None-Match", "*")];
    for body in ["first", "second"] {
        let put = s3.put("probe/key", body, &create);
        assert_eq!(
            put.status, 200,
            "this server ignores the precondition: {put:?}"
        );
    }
    assert_eq!(s3.get("probe/key").body, "second");

    let lake = Lake::on_s3(&s3);
    // No broker is needed: the store is checked first.
    let stderr = run_refused(
        &lake,
        &log_pipeline("127.0.0.1:9", &lake, ""),
        Duration::from_secs(60),
    );
    assert!(stderr.contains("ignores If-None-Match"), "{stderr}");
    assert!(stderr.contains(&lake.root_uri()), "{stderr}");
    assert!(stderr.contains("aws_s3_allow_unsafe_rename"), "{stderr}");
    assert!(
        !lake::exists(&uri(&lake, "bronze")),
        "nothing was committed"
    );
}

/// A lake in a bucket that does not exist stops the run at once with an
/// error naming the lake, not after minutes of retries.
#[test]
fn a_lake_in_a_missing_bucket_stops_the_run_naming_it() {
    let s3 = S3Server::start();
    let lake = Lake::on_s3(&s3);
    let missing = "s3://no-such-bucket/lake";
    let toml = log_pipeline("127.0.0.1:9", &lake, "").replace(&lake.root_uri(), missing);
    let stderr = run_refused(&lake, &toml, Duration::from_secs(30));
    assert!(stderr.contains(missing), "{stderr}");
    assert!(stderr.contains("bucket"), "{stderr}");
}
