//! A fleet: several `ingot run` hosts of one pipeline on one S3 lake, fed
//! by `ingot broker` (librdkafka's mock cluster as a process, which
//! rebalances a consumer group when a member dies; Tansu 0.6 does not).
//!
//! The consumer group spreads the partitions; each stage runs on the host
//! holding its lease (`ingot_pipeline::lease`). Hosts die (SIGKILL), leave
//! (SIGTERM), join and pause (SIGSTOP) under a running producer, and at the
//! end every table equals the answer computed from the produced records.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{
    Arc,
    atomic::{AtomicBool, Ordering},
};
use std::thread;
use std::time::{Duration, Instant};

use ingot_pipeline::status::PipelineStatus;
use ingot_sample::logs::{self, LogLine};

use crate::harness::{self, IngotProcess, Lake, S3Server};
use crate::lake;
use crate::medallion::{assert_tables, log_pipeline, uri};

/// The stages' lease in these tests: a dead owner's stage moves after it.
const LEASE_SECONDS: f64 = 2.0;
/// Partitions of the topic.
const PARTITIONS: i32 = 4;
/// The consumer group's session: a dead host's partitions move after it.
const SESSION_MS: u32 = 6_000;
/// The longest a dead host's stage or partition may take to commit again
/// on another host: the session (or lease), a rebalance, the next commit.
const FAILOVER_BOUND: Duration = Duration::from_secs(30);

/// `ingot broker` in the background.
struct MockBroker {
    _process: IngotProcess,
    bootstrap: String,
}

impl MockBroker {
    fn start(dir: &Path) -> Self {
        let file = dir.join("broker.address");
        let topic = format!("logs:{PARTITIONS}");
        let mut process = harness::spawn_ingot([
            "broker".as_ref(),
            "--topic".as_ref(),
            topic.as_ref(),
            "--address-file".as_ref(),
            file.as_os_str(),
        ]);
        process.wait_for_log("bootstrap: ", Duration::from_secs(30));
        let bootstrap = std::fs::read_to_string(&file)
            .unwrap_or_else(|e| panic!("read {}: {e}", file.display()))
            .trim()
            .to_owned();
        assert!(!bootstrap.is_empty(), "{}", process.tail());
        MockBroker {
            _process: process,
            bootstrap,
        }
    }
}

/// The log pipeline on `broker` and `lake`, in a consumer group, with the
/// short lease and session of these tests.
fn fleet_pipeline(lake: &Lake, broker: &MockBroker) -> PathBuf {
    let toml = format!(
        "{}\n[fleet]\nstage-lease-seconds = {LEASE_SECONDS}\n\n[kafka.properties]\n\
         \"session.timeout.ms\" = \"{SESSION_MS}\"\n\"heartbeat.interval.ms\" = \"1000\"\n",
        log_pipeline(&broker.bootstrap, lake, "")
    );
    lake.write_pipeline(&toml)
}

/// A producer on its own thread: slices of 200 of `lines`, 300 ms apart,
/// until stopped or out of lines.
struct Producer {
    stop: Arc<AtomicBool>,
    thread: thread::JoinHandle<usize>,
}

impl Producer {
    fn start(bootstrap: &str, lines: &[LogLine]) -> Self {
        let bootstrap = bootstrap.to_owned();
        let lines = lines.to_vec();
        let stop = Arc::new(AtomicBool::new(false));
        let stopped = Arc::clone(&stop);
        let thread = thread::spawn(move || {
            let mut sent = 0;
            for slice in lines.chunks(200) {
                if stopped.load(Ordering::SeqCst) {
                    break;
                }
                sent += harness::produce(&bootstrap, "logs", slice.iter().map(LogLine::to_kafka));
                thread::sleep(Duration::from_millis(300));
            }
            sent
        });
        Producer { stop, thread }
    }

    /// Stops it; how many of the lines it produced (a prefix).
    fn stop(self) -> usize {
        self.stop.store(true, Ordering::SeqCst);
        self.thread.join().expect("producer")
    }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .expect("tokio runtime")
}

/// The latest epoch of `stage`'s lease and the host holding it.
fn owner(lake: &Lake, stage: &str) -> Option<(u64, String)> {
    let dir = format!("{}/default/_registry/leases/logs/{stage}", lake.root_uri());
    runtime().block_on(async {
        let names = ingot_delta::objects::list(&dir).await.expect("list leases");
        let name = names.iter().max()?;
        let epoch = name.strip_suffix(".json")?.parse().ok()?;
        let bytes = ingot_delta::objects::read(&format!("{dir}/{name}"))
            .await
            .expect("read lease")?;
        let doc: serde_json::Value = serde_json::from_slice(&bytes).expect("lease json");
        Some((epoch, doc["host"].as_str()?.to_owned()))
    })
}

/// Host `host`'s status document of the pipeline.
fn status_of(lake: &Lake, host: &str) -> Option<PipelineStatus> {
    let uri = format!(
        "{}/default/_registry/status/logs/{host}.json",
        lake.root_uri()
    );
    let bytes = runtime()
        .block_on(ingot_delta::objects::read(&uri))
        .expect("read status")?;
    Some(serde_json::from_slice(&bytes).expect("status json"))
}

/// The partitions host `host`'s status says its ingest holds (none
/// before it wrote one).
fn partitions_of(lake: &Lake, host: &str) -> BTreeSet<i32> {
    status_of(lake, host)
        .map(|s| s.partitions)
        .unwrap_or_default()
        .iter()
        .map(|p| {
            p.rsplit('/')
                .next()
                .and_then(|n| n.parse().ok())
                .unwrap_or_else(|| panic!("{p} is not topic/partition"))
        })
        .collect()
}

/// Polls `done` every 200 ms until it holds; panics with `what` after
/// `timeout`. Returns how long it took.
fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let start = Instant::now();
    while !done() {
        assert!(start.elapsed() < timeout, "{what}: not within {timeout:?}");
        thread::sleep(Duration::from_millis(200));
    }
    start.elapsed()
}

/// Rows of `table`, 0 before it exists.
fn rows(lake: &Lake, table: &str) -> i64 {
    let uri = uri(lake, table);
    if lake::exists(&uri) {
        lake::count(&uri)
    } else {
        0
    }
}

/// The highest bronze offset of each partition in `partitions`.
fn bronze_offsets(lake: &Lake, partitions: &BTreeSet<i32>) -> Vec<i64> {
    partitions
        .iter()
        .map(|p| {
            lake::i64s(
                &uri(lake, "bronze"),
                &format!("SELECT CAST(coalesce(max(\"offset\"), -1) AS BIGINT) FROM t WHERE \"partition\" = {p}"),
            )[0]
        })
        .collect()
}

/// Waits until every record is through bronze, silver (and its quarantine)
/// and gold.
fn wait_drained(lake: &Lake, lines: &[LogLine], hosts: &[&IngotProcess]) {
    let good = lines.iter().filter(|l| l.is_well_formed()).count() as i64;
    let n = lines.len() as i64;
    let gold_total = || {
        let uri = uri(lake, "gold");
        if !lake::exists(&uri) {
            return 0;
        }
        lake::i64s(
            &uri,
            "SELECT CAST(coalesce(sum(count), 0) AS BIGINT) FROM t",
        )[0]
    };
    let start = Instant::now();
    while !(rows(lake, "bronze") == n
        && rows(lake, "silver") + rows(lake, "silver_quarantine") == n
        && gold_total() == good)
    {
        assert!(
            start.elapsed() < Duration::from_secs(180),
            "the fleet did not drain: bronze {}, silver {}, quarantine {}, gold {} of {n}\n{}",
            rows(lake, "bronze"),
            rows(lake, "silver"),
            rows(lake, "silver_quarantine"),
            gold_total(),
            hosts
                .iter()
                .map(|h| h.tail())
                .collect::<Vec<_>>()
                .join("\n---\n")
        );
        thread::sleep(Duration::from_millis(500));
    }
}

/// Waits until the group has given every host in `names` partitions and
/// the hosts hold every partition between them.
fn wait_spread(lake: &Lake, names: &[String]) {
    wait_until(
        "the group spreads the partitions over the hosts",
        Duration::from_secs(60),
        || {
            let held: Vec<BTreeSet<i32>> = names.iter().map(|n| partitions_of(lake, n)).collect();
            held.iter().all(|p| !p.is_empty())
                && held.iter().flatten().collect::<BTreeSet<_>>().len() == PARTITIONS as usize
        },
    );
}

/// SIGKILLs the host owning silver (removing it from `hosts`), then waits
/// until silver commits on a live host and each partition the dead host
/// held gets a bronze commit again, each within [`FAILOVER_BOUND`]; prints
/// how long each took.
fn kill_the_owner_of_silver(lake: &Lake, hosts: &mut Vec<(String, IngotProcess)>) {
    let (epoch, dead) = owner(lake, "silver").expect("an owner");
    let held = partitions_of(lake, &dead);
    let before = bronze_offsets(lake, &held);
    let silver_version = lake::open(&uri(lake, "silver")).version();
    let at = hosts.iter().position(|(n, _)| *n == dead).expect("a host");
    let (_, mut killed) = hosts.remove(at);
    killed.kill();

    let killed_at = Instant::now();
    let lease_moved = wait_until(
        "silver's lease moves to a live host",
        FAILOVER_BOUND,
        || owner(lake, "silver").is_some_and(|(e, h)| e > epoch && h != dead),
    );
    wait_until("silver commits on its new host", FAILOVER_BOUND, || {
        lake::open(&uri(lake, "silver")).version() > silver_version
    });
    let stage_failover = killed_at.elapsed();
    wait_until(
        "the dead host's partitions commit again",
        FAILOVER_BOUND,
        || {
            bronze_offsets(lake, &held)
                .iter()
                .zip(&before)
                .all(|(now, then)| now > then)
        },
    );
    eprintln!(
        "failover after SIGKILL of {dead} (partitions {held:?}): lease moved after \
         {lease_moved:?}, silver committed after {stage_failover:?}, the partitions after \
         {:?}",
        killed_at.elapsed()
    );
}

fn signal(process: &IngotProcess, signal: &str) {
    let pid = process.child.id().to_string();
    let sent = Command::new("kill").args([signal, &pid]).status();
    assert!(sent.is_ok_and(|s| s.success()), "kill {signal} {pid}");
}

/// Three hosts under a running producer: the owner of silver is killed,
/// another host leaves cleanly, a new one joins. The dead host's stages
/// and partitions commit again on live hosts within [`FAILOVER_BOUND`],
/// and every table ends equal to the answer computed from the records.
#[test]
fn a_fleet_on_s3_survives_a_death_a_departure_and_a_join_losing_nothing() {
    let s3 = S3Server::start();
    let lake = Lake::on_s3(&s3);
    let broker = MockBroker::start(lake.dir());
    let pipeline = fleet_pipeline(&lake, &broker);
    let lines = logs::generate(40_000, 21);
    let run = ["run".as_ref(), pipeline.as_os_str()];
    let mut hosts: Vec<(String, IngotProcess)> = (0..3)
        .map(|i| {
            let name = format!("h{i}");
            let process = lake.spawn_host(&name, run);
            (name, process)
        })
        .collect();
    let producer = Producer::start(&broker.bootstrap, &lines);

    wait_until(
        "silver and gold have owners",
        Duration::from_secs(60),
        || owner(&lake, "silver").is_some() && owner(&lake, "gold").is_some(),
    );
    wait_until("silver commits", Duration::from_secs(60), || {
        rows(&lake, "silver") > 0
    });
    let names: Vec<String> = hosts.iter().map(|(n, _)| n.clone()).collect();
    wait_spread(&lake, &names);
    kill_the_owner_of_silver(&lake, &mut hosts);

    let (leaving, mut process) = hosts.remove(0);
    let status = process.terminate(Duration::from_secs(30));
    assert!(status.success(), "{leaving} {status}:\n{}", process.tail());
    hosts.push(("h3".into(), lake.spawn_host("h3", run)));

    // Let the new host join and take partitions before the end.
    thread::sleep(Duration::from_secs(3));
    let lines = &lines[..producer.stop()];
    let live: Vec<&IngotProcess> = hosts.iter().map(|(_, p)| p).collect();
    wait_drained(&lake, lines, &live);
    // Each live host's status says which partitions it holds and where
    // each stage runs.
    let status = lake.run_ingot_ok([
        "status".as_ref(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
    ]);
    let status = String::from_utf8_lossy(&status.stdout);
    for needle in ["partitions: logs/", "here (#", " on h"] {
        assert!(status.contains(needle), "no {needle:?} in:\n{status}");
    }
    for (name, mut process) in hosts {
        let status = process.terminate(Duration::from_secs(30));
        assert!(status.success(), "{name} {status}:\n{}", process.tail());
    }
    assert_tables(&lake, lines);
}

/// The owner of silver is paused (SIGSTOP) past its lease: the other host
/// takes silver over and commits; the paused one, resumed (SIGCONT), sees
/// it lost the lease and commits nothing over its successor.
#[test]
fn a_paused_owner_on_s3_does_not_commit_over_its_successor() {
    let s3 = S3Server::start();
    let lake = Lake::on_s3(&s3);
    let broker = MockBroker::start(lake.dir());
    let pipeline = fleet_pipeline(&lake, &broker);
    let lines = logs::generate(40_000, 22);
    let run = ["run".as_ref(), pipeline.as_os_str()];
    let mut hosts = [lake.spawn_host("a", run), lake.spawn_host("b", run)];
    let producer = Producer::start(&broker.bootstrap, &lines);

    wait_until("silver commits", Duration::from_secs(60), || {
        rows(&lake, "silver") > 0
    });
    let (epoch, paused) = owner(&lake, "silver").expect("an owner");
    let (index, other) = if paused == "a" { (0, "b") } else { (1, "a") };
    signal(&hosts[index], "-STOP");
    let version = lake::open(&uri(&lake, "silver")).version();
    wait_until(
        "the other host takes silver and commits",
        FAILOVER_BOUND,
        || {
            owner(&lake, "silver").is_some_and(|(e, h)| e > epoch && h == other)
                && lake::open(&uri(&lake, "silver")).version() > version + 1
        },
    );
    signal(&hosts[index], "-CONT");
    thread::sleep(Duration::from_secs(2));

    let lines = &lines[..producer.stop()];
    wait_drained(&lake, lines, &[&hosts[0], &hosts[1]]);
    for host in &mut hosts {
        let status = host.terminate(Duration::from_secs(30));
        assert!(status.success(), "{status}:\n{}", host.tail());
    }
    assert_tables(&lake, lines);
    let log = hosts[index].log();
    assert!(
        log.contains("lost the stage's lease"),
        "the resumed host saw its successor:\n{}",
        hosts[index].tail()
    );
}
