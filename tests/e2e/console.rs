//! The web console in a real browser: headless Chromium loads the page of
//! a running `ingot serve` with a tenant's token, and the rendered DOM
//! shows the pipeline's stages, a recent commit's module digest and the
//! answer of a SQL query (checked against the table as deltalake reads
//! it). A screenshot is kept in `target/test-artifacts/console.png`.

use std::{
    path::PathBuf,
    process::{Command, Stdio},
    time::Duration,
};

use ingot_sample::logs::{self, LogLine};

use crate::{
    harness::{self, Broker, Lake, http::server_address, modules, workspace_root},
    hot_swap::digest,
    lake,
    medallion::{tenant_uri, wait_for_gold_of},
    tenants::{A_LIMITS, TOKEN_A, host_file, pipeline_a, tenant},
};

/// The Chromium the tests drive: `INGOT_CHROMIUM`, else `chromium` on the
/// path (`./dev test` installs Debian's).
fn chromium() -> String {
    let bin = std::env::var("INGOT_CHROMIUM").unwrap_or_else(|_| "chromium".to_owned());
    let found = Command::new(&bin)
        .arg("--version")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .status()
        .is_ok_and(|s| s.success());
    assert!(
        found,
        "no Chromium at `{bin}`: install Debian's chromium (./dev test does) or set INGOT_CHROMIUM"
    );
    bin
}

/// Chromium, headless, on `url` with `args`, given `budget` of virtual
/// time for the page's scripts and requests; its stdout.
fn headless(url: &str, args: &[String], budget: Duration) -> String {
    let profile = tempfile::tempdir().expect("a profile dir");
    let out = Command::new(chromium())
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-dev-shm-usage",
            "--hide-scrollbars",
            &format!("--user-data-dir={}", profile.path().display()),
            &format!("--virtual-time-budget={}", budget.as_millis()),
        ])
        .args(args)
        .arg(url)
        .stdin(Stdio::null())
        .output()
        .expect("run chromium");
    assert!(
        out.status.success(),
        "chromium failed: {}",
        String::from_utf8_lossy(&out.stderr)
    );
    String::from_utf8_lossy(&out.stdout).into_owned()
}

fn artifacts() -> PathBuf {
    let dir = workspace_root().join("target/test-artifacts");
    std::fs::create_dir_all(&dir).expect("the artifacts dir");
    dir
}

#[test]
fn the_console_shows_stages_commits_and_a_query_answer_in_a_browser() {
    let broker = Broker::start();
    broker.create_topic("logs", 1);
    let lake = Lake::new();
    let a = pipeline_a(&lake, &broker.bootstrap());
    let host = host_file(&lake, &[tenant("a", TOKEN_A, &[&a], A_LIMITS)]);
    let mut serving = harness::spawn_ingot(["serve".as_ref(), host.as_os_str()]);
    let address = server_address(&mut serving);
    let lines = logs::generate(600, 3);
    harness::produce(
        &broker.bootstrap(),
        "logs",
        lines.iter().map(LogLine::to_kafka),
    );
    wait_for_gold_of(&lake, "a", &lines, &serving);

    let sql = "SELECT level, count FROM logs.gold ORDER BY level";
    let url = format!(
        "http://{address}/console#tenant=a&token={TOKEN_A}&sql={}",
        sql.replace(' ', "%20").replace(',', "%2C")
    );
    let dom = headless(&url, &["--dump-dom".to_owned()], Duration::from_secs(10));
    for stage in ["<td>silver</td>", "<td>gold</td>"] {
        assert!(
            dom.contains(stage),
            "the stages table shows {stage}:\n{dom}"
        );
    }
    let module = &digest(&modules().log_parse)[..12];
    assert!(
        dom.contains(&format!("<code class=\"commit-module\">{module}</code>")),
        "a recent commit names silver's module {module}:\n{dom}"
    );
    assert!(
        dom.contains("Quarantine") && dom.contains("logs.silver_quarantine"),
        "{dom}"
    );
    // The answer, against gold as the test's own reader sees it.
    let gold = lake::string_i64_i64(
        &tenant_uri(&lake, "a", "gold"),
        "SELECT level, count, latency_ms_sum FROM t ORDER BY level",
    );
    let answer = dom
        .split("<div id=\"result\">")
        .nth(1)
        .expect("the result area");
    for (level, count, _) in &gold {
        assert!(
            answer.contains(&format!("<td>{level}</td><td>{count}</td>")),
            "the query's answer holds {level} = {count}:\n{answer}"
        );
    }
    assert!(answer.contains(&format!("{} rows", gold.len())), "{answer}");

    let shot = artifacts().join("console.png");
    headless(
        &url,
        &[
            format!("--screenshot={}", shot.display()),
            "--window-size=1280,1600".to_owned(),
        ],
        Duration::from_secs(10),
    );
    let png = std::fs::read(&shot).expect("the screenshot");
    assert!(
        png.starts_with(b"\x89PNG") && png.len() > 10_000,
        "a screenshot of the page"
    );
    let exit = serving.terminate(Duration::from_secs(30));
    assert!(exit.success(), "{exit}:\n{}", serving.tail());
}
