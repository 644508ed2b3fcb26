use std::time::Duration;

use super::*;

fn config() -> PipelineConfig {
    let text = r#"
        name = "p"
        [kafka]
        brokers = "embedded"
        topics = ["t"]
        [lake]
        root = "lake"
        [[stages]]
        name = "silver"
        module = "m.wasm"
        [[stages]]
        name = "gold"
        module = "m.wasm"
    "#;
    let dir = tempfile::tempdir().expect("tempdir");
    std::fs::write(dir.path().join("m.wasm"), b"not read").expect("module");
    PipelineConfig::parse(text, &dir.path().join("p.toml")).expect("config")
}

/// Short intervals, so the tests run in real time.
const POLLING: Polling = Polling {
    quiet: Duration::from_millis(300),
    busy: Duration::from_millis(30),
    remote_window: Duration::from_millis(600),
};
const AT_ONCE: Duration = Duration::from_millis(20);

/// Whether `wait` returns within `within`.
async fn wakes(watch: &mut InputWatch, within: Duration) -> bool {
    tokio::time::timeout(within, watch.wait()).await.is_ok()
}

#[tokio::test]
async fn a_stage_wakes_on_its_inputs_commit_and_on_nothing_else() {
    let wakeups = Wakeups::new(&config(), POLLING);
    let mut silver = wakeups.input_of(0);
    let mut gold = wakeups.input_of(1);
    wakeups.bronze_committed();
    assert!(wakes(&mut silver, AT_ONCE).await);
    assert!(!wakes(&mut gold, AT_ONCE).await);
    wakeups.stage_committed(0);
    assert!(wakes(&mut gold, AT_ONCE).await);
    assert!(!silver.finished());
    wakeups.bronze_finished();
    assert!(silver.finished() && !gold.finished());
}

#[tokio::test]
async fn an_idle_stage_polls_slowly_until_another_host_writes_its_input() {
    let wakeups = Wakeups::new(&config(), POLLING);
    let mut silver = wakeups.input_of(0);
    assert!(!wakes(&mut silver, POLLING.busy * 2).await);
    silver.wait().await;
    // Woken by the poll, the step found work: someone else writes bronze.
    silver.found_work();
    assert!(wakes(&mut silver, POLLING.busy * 2).await);
    wakeups.bronze_committed();
    silver.wait().await;
    silver.found_work();
    assert!(
        wakes(&mut silver, POLLING.busy * 2).await,
        "still polling busily"
    );
    tokio::time::sleep(POLLING.remote_window).await;
    assert!(
        !wakes(&mut silver, POLLING.busy * 2).await,
        "the window has passed"
    );
}

#[tokio::test]
async fn a_stop_wakes_every_waiting_stage_at_once() {
    let wakeups = Wakeups::new(&config(), POLLING);
    let mut silver = wakeups.input_of(0);
    let mut gold = wakeups.input_of(1);
    wakeups.stop();
    assert!(wakes(&mut silver, AT_ONCE).await);
    let paused = tokio::time::timeout(AT_ONCE, gold.pause(Duration::from_secs(60)));
    assert!(paused.await.is_ok());
}
