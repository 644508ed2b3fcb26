//! Hot swap: deploying and rolling back a stage's module on a running host,
//! while records keep arriving; validation refusals; a restart after a
//! deploy. On a local lake and on an S3 one (the registry lives there too).

use std::path::{Path, PathBuf};
use std::process::Output;
use std::thread;
use std::time::{Duration, Instant};

use ingot_sample::logs::{self, LogLine};
use sha2::{Digest as _, Sha256};

use crate::harness::{self, Broker, Lake, S3Server, modules};
use crate::lake;
use crate::medallion::{assert_tables, log_pipeline, run_once_on, uri};

/// The sha256 of a file, lowercase hex.
pub fn digest(path: &Path) -> String {
    hex::encode(Sha256::digest(
        std::fs::read(path).unwrap_or_else(|e| panic!("read {}: {e}", path.display())),
    ))
}

/// `module` with a custom section appended: the same code under another
/// digest, as a rebuilt "v2" of a transform would be.
pub fn another_build(module: &Path, dir: &Path, tag: &str) -> PathBuf {
    let mut bytes = std::fs::read(module).expect("read the module");
    let name = b"ingot-test-build";
    let mut body = vec![u8::try_from(name.len()).expect("short name")];
    body.extend_from_slice(name);
    body.extend_from_slice(tag.as_bytes());
    bytes.push(0); // custom section id
    let mut size = body.len();
    loop {
        let byte = u8::try_from(size & 0x7f).expect("seven bits");
        size >>= 7;
        if size == 0 {
            bytes.push(byte);
            break;
        }
        bytes.push(byte | 0x80);
    }
    bytes.extend_from_slice(&body);
    let path = dir.join(format!("log_parse-{tag}.wasm"));
    std::fs::write(&path, bytes).expect("write the rebuilt module");
    path
}

fn deploy(lake: &Lake, pipeline: &Path, stage: &str, module: &Path, config: &[&str]) -> Output {
    let mut args: Vec<&std::ffi::OsStr> = vec![
        "deploy".as_ref(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
        "--stage".as_ref(),
        stage.as_ref(),
        module.as_os_str(),
    ];
    for entry in config {
        args.extend::<[&std::ffi::OsStr; 2]>(["--config".as_ref(), entry.as_ref()]);
    }
    lake.run_ingot(&args)
}

/// The module digest of every silver commit that has one, in version order.
fn silver_modules(lake_dir: &Lake) -> Vec<(i64, String)> {
    let silver = uri(lake_dir, "silver");
    let latest = lake::open(&silver).version();
    (1..=latest)
        .filter_map(|v| {
            lake::lineage_opt(&silver, v)
                .and_then(|l| l.module)
                .map(|m| (v, m))
        })
        .collect()
}

/// The distinct modules of `commits`, in the order they took over.
fn runs(commits: &[(i64, String)]) -> Vec<String> {
    let mut out: Vec<String> = Vec::new();
    for (_, module) in commits {
        if out.last() != Some(module) {
            out.push(module.clone());
        }
    }
    out
}

fn wait_until(what: &str, timeout: Duration, mut done: impl FnMut() -> bool) {
    let deadline = Instant::now() + timeout;
    while !done() {
        assert!(Instant::now() < deadline, "{what}: not after {timeout:?}");
        thread::sleep(Duration::from_millis(200));
    }
}

#[test]
fn deploy_then_rollback_under_load_each_record_once_each_commit_one_module() {
    deploy_then_rollback_under_load(&Lake::new());
}

#[test]
fn deploy_then_rollback_under_load_each_record_once_each_commit_one_module_on_s3() {
    let s3 = S3Server::start();
    deploy_then_rollback_under_load(&Lake::on_s3(&s3));
}

fn deploy_then_rollback_under_load(lake_dir: &Lake) {
    let broker = Broker::start();
    broker.create_topic("logs", 3);
    let pipeline = lake_dir.write_pipeline(&log_pipeline(&broker.bootstrap(), lake_dir, ""));
    let v1 = modules().log_parse.clone();
    let v2 = another_build(&v1, lake_dir.dir(), "v2");
    let (d1, d2) = (digest(&v1), digest(&v2));
    assert_ne!(d1, d2);

    let lines = logs::generate(8_000, 21);
    let mut host = lake_dir.spawn_ingot(["run".as_ref(), pipeline.as_os_str()]);
    // A producer runs for the whole test: 40 chunks of 200 records.
    let bootstrap = broker.bootstrap();
    let chunks: Vec<Vec<LogLine>> = lines.chunks(200).map(<[LogLine]>::to_vec).collect();
    let producer = thread::spawn(move || {
        for chunk in chunks {
            harness::produce(&bootstrap, "logs", chunk.iter().map(LogLine::to_kafka));
            thread::sleep(Duration::from_millis(150));
        }
    });

    // A silver commit (the stage's span names the stage, the event its module).
    host.wait_for_log(
        "stage=silver}: ingot_pipeline::stage: stage commit",
        Duration::from_secs(60),
    );
    lake_dir.run_ingot_ok([
        "deploy".as_ref(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
        "--stage".as_ref(),
        "silver".as_ref(),
        v2.as_os_str(),
    ]);
    host.wait_for_log(
        &format!("stage commit module={}", &d2[..12]),
        Duration::from_secs(60),
    );
    let rolled = lake_dir.run_ingot_ok([
        "rollback".as_ref(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
        "--stage".as_ref(),
        "silver".as_ref(),
    ]);
    assert!(
        String::from_utf8_lossy(&rolled.stdout).contains(&d1),
        "the rollback goes back to the pipeline file's module"
    );
    producer.join().expect("the producer finished");

    let good = lines.iter().filter(|l| l.is_well_formed()).count() as i64;
    let silver = uri(lake_dir, "silver");
    wait_until(
        "silver holds every well-formed record",
        Duration::from_secs(120),
        || lake::count(&silver) >= good,
    );
    wait_until(
        "the last silver commits are v1's again",
        Duration::from_secs(60),
        || runs(&silver_modules(lake_dir)).len() >= 3,
    );
    // Let gold catch up with silver, then stop.
    wait_until("gold caught up", Duration::from_secs(60), || {
        lake::stage_progress(&uri(lake_dir, "gold"), "logs", "gold")
            == Some(lake::open(&silver).version())
    });
    assert!(host.terminate(Duration::from_secs(30)).success());

    assert_tables(lake_dir, &lines);
    let commits = silver_modules(lake_dir);
    assert_eq!(
        runs(&commits),
        vec![d1.clone(), d2.clone(), d1.clone()],
        "silver's lineage shows v1, the switch to v2 and the rollback to v1: {commits:?}"
    );
    let listed = lake_dir.run_ingot_ok([
        "deployments".as_ref(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
    ]);
    let listed = String::from_utf8_lossy(&listed.stdout);
    assert!(
        listed.contains("deploy") && listed.contains("rollback") && listed.contains(&d2[..12]),
        "{listed}"
    );
}

/// A component of another world: it exports `example:other/api`, not the
/// transform interface.
const OTHER_WORLD: &str = r#"(component
  (core module $m (func (export "answer") (result i32) i32.const 42))
  (core instance $i (instantiate $m))
  (func $answer (result u32) (canon lift (core func $i "answer")))
  (instance $api (export "answer" (func $answer)))
  (export "example:other/api@1.0.0" (instance $api))
)"#;

#[test]
fn invalid_modules_are_refused_with_the_failed_check_and_change_nothing() {
    invalid_modules_are_refused(&Lake::new());
}

#[test]
fn invalid_modules_are_refused_with_the_failed_check_and_change_nothing_on_s3() {
    let s3 = S3Server::start();
    invalid_modules_are_refused(&Lake::on_s3(&s3));
}

fn invalid_modules_are_refused(lake_dir: &Lake) {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let pipeline = lake_dir.write_pipeline(&log_pipeline(&broker.bootstrap(), lake_dir, ""));
    let first = logs::generate(1_000, 3);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        first.iter().map(LogLine::to_kafka),
    );
    run_once_on(lake_dir, &pipeline);

    let garbage = lake_dir.dir().join("garbage.wasm");
    std::fs::write(&garbage, b"this is not wasm").expect("write");
    let other_world = lake_dir.dir().join("other-world.wasm");
    std::fs::write(
        &other_world,
        wat::parse_str(OTHER_WORLD).expect("the WAT component parses"),
    )
    .expect("write");
    let hostile = &modules().hostile;
    let cases: [(&str, &Path, &[&str], &str); 5] = [
        (
            "not a component",
            &garbage,
            &[],
            "check failed: is a component",
        ),
        (
            "another world",
            &other_world,
            &[],
            "check failed: is a component",
        ),
        (
            "init fails",
            hostile,
            &["behaviour=init-error"],
            "check failed: init succeeds",
        ),
        (
            "dry run traps",
            hostile,
            &["behaviour=panic"],
            "check failed: a dry run over recent input succeeds",
        ),
        (
            "rows the table rejects",
            hostile,
            &["behaviour=ok"],
            "check failed: the dry run's rows fit the output table",
        ),
    ];
    for (case, module, config, expected) in cases {
        let out = deploy(lake_dir, &pipeline, "silver", module, config);
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case}: {stderr}");
        assert!(stderr.contains(expected), "{case}: {stderr}");
    }
    let listed = lake_dir.run_ingot_ok([
        "deployments".as_ref(),
        "--pipeline".as_ref(),
        pipeline.as_os_str(),
    ]);
    assert!(
        String::from_utf8_lossy(&listed.stdout).contains("no deployments"),
        "nothing was recorded"
    );

    // The stage still runs the pipeline file's module.
    let more = logs::generate(1_500, 3).split_off(1_000);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        more.iter().map(LogLine::to_kafka),
    );
    run_once_on(lake_dir, &pipeline);
    let d1 = digest(&modules().log_parse);
    assert!(
        silver_modules(lake_dir).iter().all(|(_, m)| *m == d1),
        "every silver commit is the file's module's"
    );
}

#[test]
fn a_restarted_host_runs_the_deployed_module() {
    a_restarted_host_runs_the_deployed(&Lake::new());
}

#[test]
fn a_restarted_host_runs_the_deployed_module_on_s3() {
    let s3 = S3Server::start();
    a_restarted_host_runs_the_deployed(&Lake::on_s3(&s3));
}

fn a_restarted_host_runs_the_deployed(lake_dir: &Lake) {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    let pipeline = lake_dir.write_pipeline(&log_pipeline(&broker.bootstrap(), lake_dir, ""));
    let v2 = another_build(&modules().log_parse, lake_dir.dir(), "v2");
    let lines = logs::generate(2_000, 5);
    let (first, second) = lines.split_at(1_000);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        first.iter().map(LogLine::to_kafka),
    );
    run_once_on(lake_dir, &pipeline);
    let before = lake::open(&uri(lake_dir, "silver")).version();

    let out = deploy(lake_dir, &pipeline, "silver", &v2, &[]);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    harness::produce(
        &broker.bootstrap(),
        "logs",
        second.iter().map(LogLine::to_kafka),
    );
    run_once_on(lake_dir, &pipeline);

    let d2 = digest(&v2);
    let after: Vec<(i64, String)> = silver_modules(lake_dir)
        .into_iter()
        .filter(|(v, _)| *v > before)
        .collect();
    assert!(!after.is_empty(), "the second run committed to silver");
    assert!(
        after.iter().all(|(_, m)| *m == d2),
        "after the restart every silver commit is the deployed module's: {after:?}"
    );
    assert_tables(lake_dir, &lines);
}
