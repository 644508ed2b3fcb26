//! What a guest may cost the host beyond its own store: the lines it puts
//! in the host's log, and how long a stop waits for it.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};
use std::time::{Duration, Instant};

use super::*;
use crate::log_bound::{BYTES_PER_CALL, LINES_PER_CALL, TENANT_BURST_BYTES};

/// A flooding call's deadline: long enough for millions of log lines.
const FLOOD_TIMEOUT: Duration = Duration::from_millis(500);

/// What one flooding call may put in the host's log: the per-call bound of
/// guest text, each line's tags and the summary.
const CALL_LOG_BOUND: usize = 256 << 10;

fn flood_limits(call_timeout: Duration) -> Limits {
    Limits {
        call_timeout,
        ..Limits::default()
    }
}

/// A flooding instance of its own tenant (the tenant's allowance is fresh).
fn flood_instance(rt: &Runtime, tenant: &str, timeout: Duration) -> Instance {
    let id = StageId::new(tenant, "logs", "flood");
    Instance::new(
        rt,
        hostile(),
        id,
        &flood_limits(timeout),
        &behaviour("flood"),
    )
    .expect("flood instance")
}

/// The bytes of the flood lines' text in `logs` (without the tags after it).
fn guest_text_bytes(logs: &str) -> usize {
    logs.lines()
        .filter_map(|l| l.split_once("flood ").map(|(_, text)| text))
        .map(|text| 6 + text.split_once(" tenant=").map_or(text, |(t, _)| t).len())
        .sum()
}

/// A module logging 1,000-byte lines through `log`, stdout and stderr until
/// its deadline puts at most a per-call bound into the host's log, says
/// once what it dropped, and the instance counts it.
#[test]
fn a_flooding_call_puts_a_bounded_log_in_the_host() {
    let mut dropped = DroppedLog::default();
    let logs = capture_logs(|| {
        let mut inst = flood_instance(runtime(), "flood-call", FLOOD_TIMEOUT);
        let err = inst
            .process(&small_batch())
            .expect_err("floods to its deadline");
        assert!(matches!(err, RuntimeError::Timeout { .. }), "{err}");
        dropped = inst.dropped_log();
    });
    println!(
        "one flooding call of {FLOOD_TIMEOUT:?} logged {} bytes; dropped {dropped:?}",
        logs.len()
    );
    assert!(logs.len() < CALL_LOG_BOUND, "{} bytes of log", logs.len());
    let guest_lines = logs.lines().filter(|l| l.contains("flood ")).count();
    assert!(
        guest_lines > 0 && guest_lines <= LINES_PER_CALL as usize,
        "{guest_lines}"
    );
    let guest_bytes = guest_text_bytes(&logs);
    assert!(guest_bytes as u64 <= BYTES_PER_CALL, "{guest_bytes}");
    let summaries: Vec<&str> = logs
        .lines()
        .filter(|l| l.contains("guest output past its bounds dropped"))
        .collect();
    assert_eq!(summaries.len(), 1, "one summary per call:\n{summaries:?}");
    assert!(summaries[0].contains("per call"), "{}", summaries[0]);
    assert!(
        dropped.lines > 1_000 && dropped.bytes > 1 << 20,
        "{dropped:?}"
    );
    assert_eq!(runtime().dropped_log("flood-call"), dropped);
}

/// Every failed call gets a new instance (as poison isolation does): the
/// tenant's allowance bounds them all together.
#[test]
fn a_tenant_allowance_bounds_many_flooding_instances() {
    const CALLS: usize = 24;
    let logs = capture_logs(|| {
        for _ in 0..CALLS {
            let mut inst = flood_instance(runtime(), "flood-tenant", Duration::from_millis(50));
            let _timeout = inst.process(&small_batch()).expect_err("floods");
        }
    });
    let guest_bytes = guest_text_bytes(&logs);
    println!(
        "{CALLS} flooding calls logged {} bytes, {guest_bytes} of guest text",
        logs.len()
    );
    // The burst plus what refills (8 KiB a second) while the test runs;
    // without it, 24 calls would put 24 x 64 KiB in the log.
    assert!(
        (guest_bytes as u64) < TENANT_BURST_BYTES + (64 << 10),
        "{guest_bytes}"
    );
    assert!(logs.contains("the tenant's log allowance"), "says why");
    let dropped = runtime().dropped_log("flood-tenant");
    assert!(dropped.lines > 0, "{dropped:?}");
}

/// A stop interrupts a call in flight within an epoch tick or two, as a
/// distinct, non-user error, and refuses later calls and instances of that
/// runtime view; other views of the engine are untouched.
#[test]
fn a_stop_interrupts_a_call_in_flight() {
    let stop = Arc::new(AtomicBool::new(false));
    let rt = runtime().stopped_by(Arc::clone(&stop));
    let limits = flood_limits(Duration::from_secs(30));
    let mut inst = Instance::new(&rt, hostile(), stage("loop"), &limits, &behaviour("loop"))
        .expect("instance");
    let stopper = {
        let stop = Arc::clone(&stop);
        std::thread::spawn(move || {
            std::thread::sleep(Duration::from_millis(300));
            stop.store(true, Ordering::SeqCst);
            Instant::now()
        })
    };
    let err = inst.process(&small_batch()).expect_err("interrupted");
    let latency = stopper.join().expect("stopper").elapsed();
    println!("a spinning call ended {latency:?} after the stop");
    assert!(matches!(err, RuntimeError::Interrupted { .. }), "{err}");
    assert_eq!(err.class(), ingot_core::ErrorClass::External);
    assert_site(&err, "loop");
    assert!(latency < Duration::from_secs(1), "{latency:?}");
    let refused = Instance::new(&rt, hostile(), stage("ok"), &limits, &behaviour("ok"))
        .expect_err("a stopped runtime starts nothing");
    assert!(
        matches!(refused, RuntimeError::Interrupted { .. }),
        "{refused}"
    );
    assert_host_survives();
}

/// Without a stop, the deadline still ends a call, as a timeout.
#[test]
fn a_runtime_view_that_is_not_stopped_keeps_the_deadline() {
    let rt = runtime().stopped_by(Arc::new(AtomicBool::new(false)));
    let limits = flood_limits(Duration::from_millis(200));
    let mut inst = Instance::new(&rt, hostile(), stage("loop"), &limits, &behaviour("loop"))
        .expect("instance");
    let err = inst.process(&small_batch()).expect_err("times out");
    assert!(matches!(err, RuntimeError::Timeout { .. }), "{err}");
}
