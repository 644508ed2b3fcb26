//! The admin API of `ingot serve`: a tenant's token acts on its own
//! pipelines only, every refusal gets its status and never echoes the
//! token, uploads are bounded and validated before they are stored, and a
//! deploy through `ingot deploy --server` switches a running pipeline as a
//! deploy on the lake does.

use std::{path::Path, time::Duration};

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{
        self, Broker, IngotProcess, Lake,
        http::{Body, Metrics, api, post_declaring, server_address},
        modules, run_ingot,
    },
    hot_swap::{another_build, digest},
    lake,
    medallion::tenant_uri,
    tenants::{A_LIMITS, TOKEN_A, TOKEN_B, host_file, pipeline_a, tenant},
};

/// A host serving tenant a's log pipeline and tenant b (an idle pipeline
/// of its own), its server on a free port; uploads of at most 3 MiB.
fn serve_a_and_b(lake: &Lake, broker: &Broker) -> (IngotProcess, String, std::path::PathBuf) {
    let a = pipeline_a(lake, &broker.bootstrap());
    let b = crate::tenants::write(
        lake,
        "b-logs.toml",
        &std::fs::read_to_string(&a)
            .expect("a's pipeline")
            .replacen("tenant = \"a\"", "tenant = \"b\"", 1)
            .replacen("topics = [\"logs\"]", "topics = [\"noise\"]", 1),
    );
    let host = host_file(
        lake,
        &[
            tenant("a", TOKEN_A, &[&a], A_LIMITS),
            tenant("b", TOKEN_B, &[&b], A_LIMITS),
        ],
    );
    let text = std::fs::read_to_string(&host).expect("the host file");
    std::fs::write(
        &host,
        text.replacen("[server]\n", "[server]\nmax-module-mib = 3\n", 1),
    )
    .expect("write the host file");
    let mut serving = harness::spawn_ingot(["serve".as_ref(), host.as_os_str()]);
    let address = server_address(&mut serving);
    serving.wait_for_log("pipeline started", Duration::from_secs(60));
    (serving, address, a)
}

const A_LOGS: &str = "/api/v1/tenants/a/pipelines/logs";

const JSON: Body<'static> = Some(("application/json", b"{}"));

#[test]
fn a_tenants_token_reaches_only_its_own_pipelines_and_every_refusal_has_its_status() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    broker.create_topic("noise", 1);
    let lake = Lake::new();
    let (mut serving, address, _) = serve_a_and_b(&lake, &broker);
    refusals_of_a_route(&address);
    refusals_of_tokens_and_tenants(&address);
    refusals_of_content(&address);
    queries_only(&address);
    let (status, text) = api(
        &address,
        &format!("{A_LOGS}/deployments"),
        Some(TOKEN_A),
        None,
    );
    assert_eq!(
        (status, text.as_str()),
        (200, "[]"),
        "nothing refused was recorded"
    );
    let metrics = Metrics::scrape(&address);
    let refused = metrics.sum("ingot_admin_requests_total", &[("outcome", "refused")]);
    assert_eq!(refused, 2 * 8 + 4, "every refusal counted");
    let exit = serving.terminate(Duration::from_secs(30));
    assert!(exit.success(), "{exit}:\n{}", serving.tail());
}

/// Each of a's routes: no token is 401, b's token 403, neither echoed.
fn refusals_of_a_route(address: &str) {
    // Refused before the body is read (a client sending a whole module
    // meets a closed connection: curl reports the status, ureq the pipe).
    let wasm = Some(("application/wasm", &b"\0asm"[..]));
    let routes: [(&str, Body<'_>); 8] = [
        ("/status", None),
        ("/deployments", None),
        ("/stages/silver/deploy", wasm),
        ("/stages/silver/rollback", JSON),
        ("/stages/silver/reprocess", JSON),
        ("/tables/silver/history", None),
        ("/tables/silver/optimize", JSON),
        ("/tables/bronze/checkpoint", JSON),
    ];
    for (route, body) in routes {
        let path = format!("{A_LOGS}{route}");
        let (status, text) = api(address, &path, None, body);
        assert_eq!(status, 401, "{route} without a token: {text}");
        let (status, text) = api(address, &path, Some(TOKEN_B), body);
        assert_eq!(status, 403, "{route} with b's token: {text}");
        assert!(!text.contains(TOKEN_B), "the token is never echoed: {text}");
    }
}

/// A wrong token, a tenant the host lacks (refused alike), b's pipeline
/// with a's token, a pipeline a lacks; and a's own token on its list.
fn refusals_of_tokens_and_tenants(address: &str) {
    let cases = [
        (
            "/api/v1/tenants/a/pipelines",
            "not-a-token",
            403,
            "a wrong token",
        ),
        (
            "/api/v1/tenants/zed/pipelines",
            TOKEN_A,
            403,
            "a tenant the host does not have",
        ),
        (
            "/api/v1/tenants/b/pipelines/logs/status",
            TOKEN_A,
            403,
            "a's token on b's pipeline",
        ),
        (
            "/api/v1/tenants/a/pipelines/nope/status",
            TOKEN_A,
            404,
            "a pipeline a does not have",
        ),
        ("/api/v1/tenants/a/pipelines", TOKEN_A, 200, "a's own list"),
    ];
    for (path, token, expected, what) in cases {
        let (status, text) = api(address, path, Some(token), None);
        assert_eq!(status, expected, "{what}: {text}");
    }
    let (_, text) = api(address, "/api/v1/tenants/a/pipelines", Some(TOKEN_A), None);
    let listed: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(listed[0]["pipeline"], "logs", "{listed}");
    assert_eq!(
        listed.as_array().map(Vec::len),
        Some(1),
        "only a's: {listed}"
    );
}

/// Malformed requests, a module that is no component, an upload past
/// `max-module-mib`.
fn refusals_of_content(address: &str) {
    let bad_json = Some(("application/json", &b"{not json"[..]));
    let not_wasm = Some(("application/wasm", &b"not a component"[..]));
    let cases = [
        (
            "/tables/silver/vacuum",
            bad_json,
            400,
            "a body that is not JSON",
        ),
        (
            "/stages/silver/rollback",
            bad_json,
            400,
            "a rollback body that is not JSON",
        ),
        ("/tables/silver/shrink", JSON, 404, "no such operation"),
        (
            "/stages/silver/deploy",
            not_wasm,
            422,
            "a module that is no component",
        ),
    ];
    for (route, body, expected, what) in cases {
        let (status, text) = api(address, &format!("{A_LOGS}{route}"), Some(TOKEN_A), body);
        assert_eq!(status, expected, "{what}: {text}");
    }
    let deploy = format!("{A_LOGS}/stages/silver/deploy");
    let status = post_declaring(address, &deploy, TOKEN_A, 4 << 20);
    assert_eq!(status, 413, "4 MiB past max-module-mib = 3");
}

/// The SQL box: a's tables only, queries only.
fn queries_only(address: &str) {
    let sql = |q: &str, token: &str| {
        let body = serde_json::json!({ "sql": q }).to_string();
        let json = Some(("application/json", body.as_bytes()));
        api(address, "/api/v1/tenants/a/sql", Some(token), json)
    };
    let (status, text) = sql("SELECT count(*) AS n FROM logs.bronze", TOKEN_A);
    assert_eq!(status, 200, "{text}");
    let answer: serde_json::Value = serde_json::from_str(&text).expect("JSON");
    assert_eq!(answer["columns"], serde_json::json!(["n"]), "{answer}");
    let tables = answer["tables"].to_string();
    assert!(
        tables.contains("logs.bronze") && !tables.contains("noise"),
        "{tables}"
    );
    for statement in [
        "DROP TABLE logs.bronze",
        "INSERT INTO logs.bronze SELECT * FROM logs.bronze",
    ] {
        let (status, text) = sql(statement, TOKEN_A);
        assert_eq!(status, 422, "{statement}: {text}");
    }
    assert_eq!(sql("SELECT 1", TOKEN_B).0, 403, "b's token on a's SQL");
}

/// The module digest of each silver commit of tenant a, in version order.
fn silver_modules(lake: &Lake) -> Vec<String> {
    let silver = tenant_uri(lake, "a", "silver");
    if !lake::exists(&silver) {
        return Vec::new();
    }
    (1..=lake::open(&silver).version())
        .filter_map(|v| lake::lineage_opt(&silver, v).and_then(|l| l.module))
        .collect()
}

fn wait_for(what: &str, serving: &IngotProcess, mut done: impl FnMut() -> bool) {
    let deadline = std::time::Instant::now() + Duration::from_secs(90);
    while !done() {
        assert!(
            std::time::Instant::now() < deadline,
            "{what} within 90 s:\n{}",
            serving.tail()
        );
        std::thread::sleep(Duration::from_millis(300));
    }
}

fn ingot_ok(args: &[&str]) -> String {
    let out = run_ingot(args);
    assert!(
        out.status.success(),
        "ingot {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

#[test]
fn a_deploy_through_the_server_switches_the_running_pipeline() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    broker.create_topic("noise", 1);
    let lake = Lake::new();
    let (mut serving, address, pipeline) = serve_a_and_b(&lake, &broker);
    let server = format!("http://{address}");
    let produce = |n: usize, seed: u64| {
        let lines = logs::generate(n, seed);
        harness::produce(
            &broker.bootstrap(),
            "logs",
            lines.iter().map(LogLine::to_kafka),
        );
    };
    produce(500, 1);
    let v1 = digest(&modules().log_parse);
    wait_for("silver's first commit", &serving, || {
        silver_modules(&lake).contains(&v1)
    });
    let v2 = deploy_through(&server, &lake, &mut serving);
    produce(500, 2);
    wait_for("a silver commit by the deployed module", &serving, || {
        silver_modules(&lake).last() == Some(&v2)
    });
    status_through(&server, &pipeline, &v2, &serving);
    table_commands_through(&server, &lake, &v2);
    let exit = serving.terminate(Duration::from_secs(30));
    assert!(exit.success(), "{exit}:\n{}", serving.tail());
    check_silver_once(&lake, 1000);
}

/// The flags of a command through the server with a's token, on a's
/// pipeline named as TENANT/PIPELINE.
fn through<'a>(server: &'a str, command: &'a str) -> Vec<&'a str> {
    vec![
        command,
        "--server",
        server,
        "--token",
        TOKEN_A,
        "--pipeline",
        "a/logs",
    ]
}

/// Deploys a rebuild of log_parse to silver with the token and the server
/// alone (no host file, no lake), waits for the switch; its digest.
fn deploy_through(server: &str, lake: &Lake, serving: &mut IngotProcess) -> String {
    let v2_file = another_build(&modules().log_parse, lake.dir(), "api");
    let v2 = digest(&v2_file);
    let file = v2_file.display().to_string();
    let mut args = through(server, "deploy");
    args.extend(["--stage", "silver", &file, "--note", "through the api"]);
    let deployed = ingot_ok(&args);
    assert!(deployed.contains(&v2), "{deployed}");
    // Hosts switch between two commits: records from then on meet v2.
    serving.wait_for_log("module switched", Duration::from_secs(30));
    let history = ingot_ok(&through(server, "deployments"));
    assert!(history.contains("through the api"), "{history}");
    v2
}

/// `status` through the server shows v2 once the host saves its status
/// again (every 2 s), the pipeline named by its file; b's token is refused.
fn status_through(server: &str, pipeline: &Path, v2: &str, serving: &IngotProcess) {
    let file = pipeline.display().to_string();
    let args = [
        "status",
        "--server",
        server,
        "--token",
        TOKEN_A,
        "--pipeline",
        &file,
    ];
    wait_for("the status showing v2", serving, || {
        let status = ingot_ok(&args);
        status.contains("tenant a, pipeline logs") && status.contains(&v2[..12])
    });
    let refused = run_ingot([
        "status", "--server", server, "--token", TOKEN_B, "--tenant", "a",
    ]);
    let stderr = String::from_utf8_lossy(&refused.stderr);
    assert!(
        !refused.status.success() && stderr.contains("403"),
        "b's token on a: {stderr}"
    );
}

/// `history`, `optimize` and `checkpoint` through the server, against
/// silver as deltalake reads it.
fn table_commands_through(server: &str, lake: &Lake, v2: &str) {
    let silver = tenant_uri(lake, "a", "silver");
    let mut args = through(server, "history");
    args.extend(["silver", "--json"]);
    let versions: Vec<serde_json::Value> =
        serde_json::from_str(&ingot_ok(&args)).expect("history as JSON");
    let last = versions.last().expect("silver has versions");
    assert_eq!(last["lineage"]["module"], v2, "{last}");
    assert_eq!(last["version"], lake::open(&silver).version(), "{last}");
    let mut args = through(server, "optimize");
    args.push("silver");
    let optimized = ingot_ok(&args);
    assert!(optimized.starts_with("silver: "), "{optimized}");
    let mut args = through(server, "checkpoint");
    args.push("silver");
    let checkpoint = ingot_ok(&args);
    let version = lake::open(&silver).version();
    assert_eq!(
        checkpoint.trim(),
        format!("silver: checkpoint at version {version}")
    );
}

/// Each record once in a's silver, across the swap (read by deltalake).
fn check_silver_once(lake: &Lake, records: usize) {
    let silver = tenant_uri(lake, "a", "silver");
    let quarantine = tenant_uri(lake, "a", "silver_quarantine");
    assert_eq!(
        lake::count(&silver) + lake::count(&quarantine),
        records as i64,
        "every record in silver or its quarantine, once"
    );
}
