//! Issue 6: tenants on one host. A hostile tenant's modules (each way a
//! module can misbehave) are contained with a clear error while another
//! tenant's pipeline finishes, exact and on time; a tenant's token acts on
//! its own pipelines only; a pipeline cannot reach into another tenant's
//! namespace.

use std::path::{Path, PathBuf};
use std::process::Output;
use std::time::Duration;

use ingot::tenancy::token_sha256;
use ingot_pipeline::status::{PipelineStatus, State};
use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{
        self, Broker, Lake,
        http::{Metrics, server_address, wait_ready},
        modules, run_ingot, run_ingot_ok,
    },
    lake,
    medallion::{assert_tenant_tables, log_pipeline},
};

pub const TOKEN_A: &str = "a-secret-token-of-tenant-a";
pub const TOKEN_B: &str = "b-secret-token-of-tenant-b";

/// A component that imports an interface the sandbox does not offer.
const IMPORTS_HTTP: &str = r#"(component (import "wasi:http/outgoing-handler@0.2.0" (instance)))"#;

/// A `[[tenants]]` block.
pub fn tenant(name: &str, token: &str, pipelines: &[&Path], limits: &str) -> String {
    let files: Vec<String> = pipelines
        .iter()
        .map(|p| format!("{:?}", p.display().to_string()))
        .collect();
    format!(
        "[[tenants]]\nname = \"{name}\"\npipelines = [{}]\ntoken-sha256 = \"{}\"\nlimits = {{ {limits} }}\n",
        files.join(", "),
        token_sha256(token)
    )
}

/// Writes `text` to `<lake dir>/<file>`.
pub fn write(lake: &Lake, file: &str, text: &str) -> PathBuf {
    let path = lake.dir().join(file);
    std::fs::write(&path, text).unwrap_or_else(|e| panic!("write {}: {e}", path.display()));
    path
}

/// A host file over `lake` holding `tenants`.
pub fn host_file(lake: &Lake, tenants: &[String]) -> PathBuf {
    write(
        lake,
        "host.toml",
        &format!(
            "[lake]\nroot = {:?}\n[runtime]\nmax-instances = 64\n[server]\nlisten = \"127.0.0.1:0\"\n{}",
            lake.root().display().to_string(),
            tenants.concat()
        ),
    )
}

/// Tenant a's log pipeline (log-parse, level-counts).
pub fn pipeline_a(lake: &Lake, broker: &str) -> PathBuf {
    let text = log_pipeline(broker, lake, "").replacen(
        "name = \"logs\"",
        "name = \"logs\"\ntenant = \"a\"",
        1,
    );
    write(lake, "a-logs.toml", &text)
}

/// The hostile stages of tenant b, all reading its bronze: (stage,
/// behaviour, more config, more stage keys). `wrong_schema` echoes bronze
/// into a table whose write mode needs columns bronze lacks.
const HOSTILE: [(&str, &str, &str, &str); 6] = [
    ("loop", "loop", "", ""),
    ("panic", "panic", "", ""),
    ("alloc", "alloc", "", ""),
    ("stack", "stack", "", ""),
    ("huge_output", "huge-output", ", bytes = \"8388608\"", ""),
    (
        "wrong_schema",
        "ok",
        "",
        "mode = \"accumulate\"\nkeys = [\"level\"]\nmeasures = [\"count\"]\n",
    ),
];

fn pipeline_b(lake: &Lake, broker: &str) -> [PathBuf; 2] {
    let hostile = modules().hostile.display().to_string();
    let mut text = format!(
        "name = \"hostile\"\ntenant = \"b\"\n[kafka]\nbrokers = \"{broker}\"\ntopics = [\"noise\"]\n[lake]\nroot = {:?}\n",
        lake.root().display().to_string()
    );
    for (stage, behaviour, config, keys) in HOSTILE {
        text.push_str(&format!(
            "[[stages]]\nname = \"{stage}\"\ninput = \"bronze\"\nmodule = {hostile:?}\n{keys}config = {{ behaviour = \"{behaviour}\"{config} }}\nlimits = {{ max-attempts = 2 }}\n"
        ));
    }
    let http = lake.dir().join("http.wasm");
    std::fs::write(
        &http,
        wat::parse_str(IMPORTS_HTTP).expect("the WAT component parses"),
    )
    .expect("write http.wasm");
    let imports = format!(
        "name = \"imports\"\ntenant = \"b\"\n[kafka]\nbrokers = \"{broker}\"\ntopics = [\"noise\"]\n[lake]\nroot = {:?}\n[[stages]]\nname = \"http\"\nmodule = {:?}\n",
        lake.root().display().to_string(),
        http.display().to_string()
    );
    [
        write(lake, "b-hostile.toml", &text),
        write(lake, "b-imports.toml", &imports),
    ]
}

/// Limits of the hostile tenant: small, and one module call at a time.
const B_LIMITS: &str =
    "memory-mib = 64, call-timeout-ms = 500, max-output-mib = 4, concurrent-stages = 1";
pub const A_LIMITS: &str = "concurrent-stages = 1";

fn serve_once(host: &Path) -> Output {
    run_ingot(["serve".as_ref(), host.as_os_str(), "--once".as_ref()])
}

/// Every host's status of tenant `tenant`'s pipelines, through `ingot status`.
fn status(host: &Path, tenant: &str, token: &str) -> Vec<PipelineStatus> {
    let host = host.display().to_string();
    let out = run_ingot_ok([
        "status",
        "--host",
        host.as_str(),
        "--tenant",
        tenant,
        "--token",
        token,
        "--json",
    ]);
    serde_json::from_slice(&out.stdout).expect("status is JSON")
}

/// When `pipeline` ran (µs since the epoch, start and end), from its own
/// status; it must have finished.
fn run_span(statuses: &[PipelineStatus], pipeline: &str) -> (i64, i64) {
    let s = statuses
        .iter()
        .find(|s| s.pipeline == pipeline)
        .unwrap_or_else(|| panic!("no status of {pipeline}: {statuses:?}"));
    assert!(s.stopped, "{pipeline} finished");
    (s.started_at, s.updated_at)
}

fn span_time((start, end): (i64, i64)) -> Duration {
    Duration::from_micros((end - start) as u64)
}

#[test]
fn a_hostile_tenant_is_contained_while_another_tenants_pipeline_finishes() {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    broker.create_topic("noise", 1);
    let lines = logs::generate(40_000, 21);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    let noise = logs::generate(400, 5);
    harness::produce(
        &broker.bootstrap(),
        "noise",
        noise.iter().map(LogLine::to_kafka),
    );

    // Tenant a alone: its time is the reference.
    let solo = Lake::new();
    let a = pipeline_a(&solo, &broker.bootstrap());
    let host = host_file(&solo, &[tenant("a", TOKEN_A, &[&a], A_LIMITS)]);
    let out = serve_once(&host);
    assert!(
        out.status.success(),
        "tenant a alone: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert_tenant_tables(&solo, "a", &lines);
    let solo_time = span_time(run_span(&status(&host, "a", TOKEN_A), "logs"));

    // Tenant a beside tenant b's hostile modules, on a new lake. b comes
    // first in the host file, so its pipelines start first and its looping
    // module (its first stage) spins while a's pipeline runs.
    let both = Lake::new();
    let a = pipeline_a(&both, &broker.bootstrap());
    let [hostile, imports] = pipeline_b(&both, &broker.bootstrap());
    let host = host_file(
        &both,
        &[
            tenant("b", TOKEN_B, &[&hostile, &imports], B_LIMITS),
            tenant("a", TOKEN_A, &[&a], A_LIMITS),
        ],
    );
    let out = serve_once(&host);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(
        out.status.code(),
        Some(1),
        "tenant b's failures make the run exit 1, the host did not crash:\n{}",
        harness::tail_text(&stderr, 60)
    );
    // Tenant a: exact, and within a bound of its solo time.
    assert_tenant_tables(&both, "a", &lines);
    let a_span = run_span(&status(&host, "a", TOKEN_A), "logs");
    let b_span = run_span(&status(&host, "b", TOKEN_B), "hostile");
    assert!(
        b_span.0 < a_span.0 && a_span.1 < b_span.1,
        "tenant a ran while b's hostile modules did: a {a_span:?}, b {b_span:?}"
    );
    let shared_time = span_time(a_span);
    // Fair share on 2 cores: a's pipeline gets at least one of them while
    // b's module spins on the other; plus two of b's call deadlines of
    // scheduling slack.
    let bound = solo_time * 2 + Duration::from_secs(1);
    eprintln!(
        "tenant a: {solo_time:?} alone, {shared_time:?} beside the hostile tenant (bound {bound:?})"
    );
    assert!(
        shared_time <= bound,
        "tenant a took {shared_time:?} beside tenant b, {solo_time:?} alone"
    );

    // Tenant b: every hostile stage is contained, with an error that says what happened.
    let b = status(&host, "b", TOKEN_B);
    let imports_status = b
        .iter()
        .find(|s| s.pipeline == "imports")
        .expect("imports status");
    let why = imports_status.error.as_deref().unwrap_or_default();
    assert!(
        why.contains("wasi:http/outgoing-handler") && why.contains("does not provide"),
        "the import is named: {why}"
    );
    let hostile_status = b
        .iter()
        .find(|s| s.pipeline == "hostile")
        .expect("hostile status");
    let expect: [(&str, &[&str]); 6] = [
        ("panic", &["trapped", "panicked on purpose"]),
        ("loop", &["500 ms", "deadline"]),
        ("alloc", &["memory limit of 67108864 bytes"]),
        ("stack", &["stack overflow"]),
        ("huge_output", &["exceeds the limit of 4194304 bytes"]),
        ("wrong_schema", &["column level is missing"]),
    ];
    for (stage, words) in expect {
        let s = hostile_status
            .stages
            .iter()
            .find(|s| s.stage == stage)
            .unwrap_or_else(|| panic!("no status of stage {stage}"));
        let error = s.last_error.as_deref().unwrap_or_default().to_lowercase();
        assert_eq!(s.state, State::Failed, "{stage}: {error}");
        for w in words {
            assert!(error.contains(w), "{stage}'s error says {w:?}: {error}");
        }
        assert!(
            error.contains("b/hostile/") || error.contains(&format!("hostile/{stage}")),
            "{stage}'s error names the stage: {error}"
        );
        let quarantine = format!("{}/b/hostile/{stage}_quarantine", both.root().display());
        assert_eq!(
            lake::count(&quarantine),
            noise.len() as i64,
            "{stage}: every row it failed on is quarantined"
        );
    }
    // Nothing of tenant b is under tenant a's namespace, and the reverse.
    assert!(!both.root().join("a/hostile").exists());
    assert!(!both.root().join("b/logs").exists());
}

/// A host of two tenants with a pipeline each, no broker needed.
fn two_tenants(lake: &Lake) -> (PathBuf, PathBuf, PathBuf) {
    let module = modules().log_parse.display().to_string();
    let pipeline = |tenant: &str| {
        write(
            lake,
            &format!("{tenant}.toml"),
            &format!(
                "name = \"logs\"\ntenant = \"{tenant}\"\n[kafka]\nbrokers = \"127.0.0.1:9\"\ntopics = [\"logs\"]\n[lake]\nroot = {:?}\n[[stages]]\nname = \"silver\"\nmodule = {module:?}\n",
                lake.root().display().to_string()
            ),
        )
    };
    let (a, b) = (pipeline("a"), pipeline("b"));
    let host = host_file(
        lake,
        &[
            tenant("a", TOKEN_A, &[&a], A_LIMITS),
            tenant("b", TOKEN_B, &[&b], A_LIMITS),
        ],
    );
    (host, a, b)
}

fn refused(out: &Output, what: &str, expected: &str) {
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert!(!out.status.success(), "{what} must be refused:\n{stderr}");
    assert!(
        stderr.contains(expected),
        "{what}: says {expected:?}:\n{stderr}"
    );
    assert!(
        stderr.contains("admin request refused"),
        "{what}: the refusal is logged:\n{stderr}"
    );
    assert!(
        !stderr.contains(TOKEN_A) && !stderr.contains(TOKEN_B),
        "{what}: no token in the log"
    );
}

#[test]
fn a_tenants_token_acts_on_its_own_pipelines_only() {
    let lake = Lake::new();
    let (host, a, b) = two_tenants(&lake);
    let (host, a, b) = (
        host.display().to_string(),
        a.display().to_string(),
        b.display().to_string(),
    );
    let module = modules().log_parse.display().to_string();
    let (host, a, b, module) = (host.as_str(), a.as_str(), b.as_str(), module.as_str());
    let deploy = |pipeline: &str, token: &str| {
        let stage = ["--stage", "silver", module, "--token", token];
        run_ingot(
            [
                ["deploy", "--host", host, "--pipeline", pipeline].as_slice(),
                &stage,
            ]
            .concat(),
        )
    };
    let on_b = |command: &[&str], token: &[&str]| {
        let mut args = command.to_vec();
        args.extend(["--host", host]);
        if command[0] != "status" {
            args.extend(["--pipeline", b]);
        }
        if matches!(command[0], "rollback" | "reprocess") {
            args.extend(["--stage", "silver"]);
        }
        args.extend_from_slice(token);
        run_ingot(args)
    };

    refused(
        &deploy(b, TOKEN_A),
        "a's token deploying to b",
        "tenant `b`",
    );
    assert!(
        !lake.root().join("b/_registry/deployments").exists(),
        "nothing was deployed to b"
    );
    let cases: [(&[&str], &[&str], &str, &str); 6] = [
        (
            &["rollback"],
            &["--token", TOKEN_A],
            "a's token rolling back b",
            "tenant `b`",
        ),
        (
            &["reprocess"],
            &["--token", TOKEN_A],
            "a's token reprocessing b",
            "tenant `b`",
        ),
        (
            &["status", "--tenant", "b"],
            &["--token", TOKEN_A],
            "a's token reading b's status",
            "tenant `b`",
        ),
        (
            &["status", "--pipeline", b],
            &["--token", TOKEN_A],
            "a's token reading b's pipeline status",
            "tenant `b`",
        ),
        (&["deployments"], &[], "no token", "needs its admin token"),
        (
            &["deployments"],
            &["--token", "a-guess"],
            "a wrong token",
            "tenant `b`",
        ),
    ];
    for (command, token, what, says) in cases {
        refused(&on_b(command, token), what, says);
    }
    let stray = write(
        &lake,
        "stray.toml",
        &std::fs::read_to_string(a).expect("read a"),
    );
    refused(
        &deploy(&stray.display().to_string(), TOKEN_A),
        "a pipeline no tenant lists",
        "is not a pipeline of any tenant",
    );

    // The owner's token works.
    let out = deploy(a, TOKEN_A);
    assert!(
        out.status.success(),
        "a deploys to a: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(lake.root().join("a/_registry/deployments").exists());
    let out = run_ingot_ok([
        "status", "--host", host, "--tenant", "a", "--token", TOKEN_A,
    ]);
    assert!(String::from_utf8_lossy(&out.stdout).contains("no host has reported yet"));
}

#[test]
fn a_pipeline_reaching_into_another_tenants_namespace_is_refused() {
    let lake = Lake::new();
    let module = modules().log_parse.display().to_string();
    let pipeline = |file: &str, tenant: &str, root: &Path| {
        write(
            &lake,
            file,
            &format!(
                "name = \"logs\"\ntenant = \"{tenant}\"\n[kafka]\nbrokers = \"127.0.0.1:9\"\ntopics = [\"logs\"]\n[lake]\nroot = {:?}\n[[stages]]\nname = \"silver\"\nmodule = {module:?}\n",
                root.display().to_string()
            ),
        )
    };
    let claims_b = pipeline("claims-b.toml", "b", &lake.root());
    let into_b = pipeline("into-b.toml", "a", &lake.root().join("b"));
    let host = host_file(
        &lake,
        &[
            tenant("a", TOKEN_A, &[&claims_b, &into_b], A_LIMITS),
            tenant("b", TOKEN_B, &[], A_LIMITS),
        ],
    );
    let out = serve_once(&host);
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("claims-b.toml") && stderr.contains("`tenant` is `b`"),
        "names the file and the field:\n{stderr}"
    );
    assert!(
        stderr.contains("into-b.toml") && stderr.contains("`lake.root`"),
        "names the file and the field:\n{stderr}"
    );
    assert!(!lake.root().join("b").exists(), "nothing was written for b");
    assert!(
        !lake.root().join("a/logs").exists(),
        "nothing was written for a"
    );
}

#[test]
fn serve_runs_tenants_until_stopped_and_status_shows_each_stage_live() {
    let broker = Broker::start();
    broker.create_topic("logs", 2);
    broker.create_topic("noise", 1);
    let lake = Lake::new();
    let a = pipeline_a(&lake, &broker.bootstrap());
    let panicking = write(
        &lake,
        "b-panic.toml",
        &format!(
            "name = \"hostile\"\ntenant = \"b\"\n[kafka]\nbrokers = \"{}\"\ntopics = [\"noise\"]\n[lake]\nroot = {:?}\n[[stages]]\nname = \"panic\"\nmodule = {:?}\nconfig = {{ behaviour = \"panic\" }}\nlimits = {{ max-attempts = 2 }}\n",
            broker.bootstrap(),
            lake.root().display().to_string(),
            modules().hostile.display().to_string()
        ),
    );
    let host = host_file(
        &lake,
        &[
            tenant("a", TOKEN_A, &[&a], A_LIMITS),
            tenant("b", TOKEN_B, &[&panicking], B_LIMITS),
        ],
    );
    let mut serving = harness::spawn_ingot(["serve".as_ref(), host.as_os_str()]);
    serving.wait_for_log("pipeline started", Duration::from_secs(60));
    let lines = logs::generate(3_000, 9);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    harness::produce(
        &broker.bootstrap(),
        "noise",
        logs::generate(100, 3).iter().map(LogLine::to_kafka),
    );
    // Both tenants run: a catches up, b's stage fails and is marked so.
    let caught_up = |s: &[PipelineStatus], pipeline: &str, last: &str| {
        s.iter().any(|p| {
            p.pipeline == pipeline
                && !p.stopped
                && p.stages.iter().any(|st| {
                    st.stage == last && st.input_done.is_some() && st.input_done == st.input_latest
                })
        })
    };
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    loop {
        let (sa, sb) = (status(&host, "a", TOKEN_A), status(&host, "b", TOKEN_B));
        let b_failed = sb.iter().any(|p| {
            p.stages.iter().any(|st| {
                st.state == State::Failed
                    && st
                        .last_error
                        .as_deref()
                        .is_some_and(|e| e.contains("panicked on purpose"))
            })
        });
        let gold = format!("{}/a/logs/gold", lake.root().display());
        let a_done = caught_up(&sa, "logs", "gold")
            && lake::exists(&gold)
            && lake::i64s(&gold, "SELECT CAST(sum(count) AS BIGINT) FROM t")
                == vec![lines.iter().filter(|l| l.is_well_formed()).count() as i64];
        if a_done && b_failed {
            let a_stages = &sa[0].stages;
            assert!(
                a_stages
                    .iter()
                    .all(|st| st.state == State::Healthy && st.last_error.is_none()),
                "tenant a is healthy: {a_stages:?}"
            );
            break;
        }
        assert!(
            std::time::Instant::now() < deadline,
            "tenant a caught up ({a_done}) and b's failure shown ({b_failed}) within 90 s:\n{sa:?}\n{sb:?}\n{}",
            serving.tail()
        );
        std::thread::sleep(Duration::from_millis(500));
    }
    let text = run_ingot([
        "status",
        "--host",
        &host.display().to_string(),
        "--tenant",
        "b",
        "--token",
        TOKEN_B,
    ]);
    let table = String::from_utf8_lossy(&text.stdout);
    assert!(
        table.contains("tenant b, pipeline hostile")
            && table.contains("failed")
            && table.contains("panicked on purpose"),
        "the status table shows b's failed stage:\n{table}"
    );
    // One server for the host; each tenant's series under its own label.
    let metrics = Metrics::scrape(&server_address(&mut serving));
    let a_silver = [("tenant", "a"), ("stage", "silver")];
    assert_eq!(
        metrics.sum("ingot_stage_rows_in_total", &a_silver),
        lines.len() as u64,
        "tenant a's silver read every record"
    );
    let b_panic = [("tenant", "b"), ("stage", "panic"), ("cause", "trap")];
    assert!(
        metrics.sum("ingot_module_call_failures_total", &b_panic) > 0,
        "tenant b's module traps, counted under b"
    );
    assert_eq!(
        metrics.sum("ingot_module_call_failures_total", &[("tenant", "a")]),
        0,
        "none of it under a"
    );
    // a caught up, b failing on every row but caught up (to its quarantine).
    wait_ready(&server_address(&mut serving), Duration::from_secs(20));
    let exit = serving.terminate(Duration::from_secs(30));
    assert!(
        exit.success(),
        "serve stops cleanly on SIGTERM: {exit}\n{}",
        serving.tail()
    );
    let after = status(&host, "a", TOKEN_A);
    assert!(
        after.iter().all(|p| p.stopped),
        "the last save says stopped"
    );
}
