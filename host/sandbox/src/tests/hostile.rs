//! The hostile module: every way a guest can misbehave, and the host
//! surviving each of them.

use std::time::{Duration, Instant};

use super::*;

#[test]
fn ok_echoes_rows_and_stays_usable() {
    let mut inst = hostile_instance("ok", &Limits::default()).expect("instance");
    inst.set_processing_time(1_700_000_000_000_000);
    for _ in 0..3 {
        let out = inst.process(&small_batch()).expect("process");
        assert_eq!(out.batch, small_batch());
        assert!(out.rejected.is_empty());
    }
    assert_eq!(inst.module().digest(), hostile().digest());
    assert_eq!(inst.module().digest().len(), 64);
}

#[test]
fn panic_is_a_trap_with_the_panic_message() {
    let (err, mut inst) = process_error("panic", &Limits::default());
    println!("panic: {err}");
    let RuntimeError::Trap { message, .. } = &err else {
        panic!("expected a trap, got {err}")
    };
    assert!(
        message.contains("hostile module panicked on purpose"),
        "{message}"
    );
    assert_site(&err, "panic");
    assert_eq!(err.class(), ingot_core::ErrorClass::User);
    let again = inst.process(&small_batch()).expect_err("poisoned");
    assert!(matches!(again, RuntimeError::Poisoned { .. }), "{again}");
    assert!(inst.is_poisoned());
    assert_host_survives();
}

#[test]
fn guest_stdio_works_inside_an_async_context() {
    // The pipeline may instantiate from async code; a guest writing to
    // stderr there (here: a panic message) must not need a tokio runtime.
    let rt = tokio::runtime::Builder::new_current_thread()
        .build()
        .expect("tokio runtime");
    let err = rt.block_on(async {
        let mut inst = hostile_instance("panic", &Limits::default()).expect("instance");
        inst.process(&small_batch()).expect_err("panics")
    });
    assert!(
        err.to_string()
            .contains("hostile module panicked on purpose"),
        "{err}"
    );
}

#[test]
fn guest_logs_and_stderr_reach_the_stage_log_with_its_identity() {
    let logs = capture_logs(|| {
        let mut inst = hostile_instance("panic", &Limits::default()).expect("instance");
        let _trap = inst.process(&small_batch()).expect_err("panics");
    });
    let module = short_digest(hostile().digest()).to_owned();
    let init_line = logs
        .lines()
        .find(|l| l.contains("hostile module will Panic"))
        .expect(&logs);
    for field in [
        "tenant=\"acme\"",
        "pipeline=\"logs\"",
        "stage=\"panic\"",
        "source=\"guest\"",
    ] {
        assert!(init_line.contains(field), "{field} missing in {init_line}");
    }
    assert!(init_line.contains(&module), "{init_line}");
    assert!(init_line.contains("INFO"), "{init_line}");
    let stderr_line = logs
        .lines()
        .find(|l| l.contains("panicked on purpose"))
        .expect(&logs);
    assert!(stderr_line.contains("source=\"stderr\""), "{stderr_line}");
    assert!(stderr_line.contains("WARN"), "{stderr_line}");
}

#[test]
fn runtime_types_cross_threads() {
    fn send_sync<T: Send + Sync>() {}
    fn send<T: Send>() {}
    send_sync::<Runtime>();
    send_sync::<Module>();
    send::<Instance>();
    send_sync::<RuntimeError>();
}

#[test]
fn endless_loop_times_out_within_twice_the_limit() {
    let limits = Limits {
        call_timeout: Duration::from_millis(500),
        ..Limits::default()
    };
    let mut inst = hostile_instance("loop", &limits).expect("instance");
    let started = Instant::now();
    let err = inst
        .process(&small_batch())
        .expect_err("loop must time out");
    let took = started.elapsed();
    println!("loop timed out after {took:?} (limit 500 ms)");
    assert!(
        matches!(err, RuntimeError::Timeout { limit, .. } if limit == limits.call_timeout),
        "{err}"
    );
    assert!(
        took >= Duration::from_millis(500),
        "timed out early: {took:?}"
    );
    assert!(
        took < Duration::from_millis(1000),
        "timed out late: {took:?}"
    );
    assert_site(&err, "loop");
    assert_host_survives();
}

#[test]
fn allocation_past_the_cap_is_out_of_memory() {
    let limits = Limits {
        memory_bytes: 64 << 20,
        ..Limits::default()
    };
    let (err, _) = process_error("alloc", &limits);
    assert!(
        matches!(err, RuntimeError::OutOfMemory { limit, .. } if limit == 64 << 20),
        "{err}"
    );
    assert_site(&err, "alloc");
    assert_host_survives();
}

#[test]
fn deep_recursion_is_a_stack_overflow_trap() {
    let (err, _) = process_error("stack", &Limits::default());
    println!("stack: {err}");
    let RuntimeError::Trap { message, .. } = &err else {
        panic!("expected a trap, got {err}")
    };
    assert!(message.contains("stack overflow"), "{message}");
    assert_host_survives();
}

#[test]
fn huge_output_is_refused() {
    let limits = Limits {
        max_output_bytes: 1 << 20,
        ..Limits::default()
    };
    let mut config = behaviour("huge-output");
    config.push(("bytes".to_owned(), (4 << 20).to_string()));
    let mut inst = Instance::new(runtime(), hostile(), stage("huge-output"), &limits, &config)
        .expect("instance");
    let err = inst.process(&small_batch()).expect_err("output too large");
    assert!(
        matches!(err, RuntimeError::OutputTooLarge { bytes, limit, .. } if bytes > limit && limit == 1 << 20),
        "{err}"
    );
    assert_host_survives();
}

#[test]
fn guest_failure_is_a_guest_error_and_does_not_poison() {
    let (err, mut inst) = process_error("fail", &Limits::default());
    assert!(
        matches!(
            err,
            RuntimeError::Guest {
                error: GuestError::Failed(_),
                ..
            }
        ),
        "{err}"
    );
    assert_site(&err, "fail");
    let again = inst.process(&small_batch()).expect_err("fails again");
    assert!(
        matches!(again, RuntimeError::Guest { .. }),
        "not poisoned: {again}"
    );
    assert_host_survives();
}

#[test]
fn a_schema_change_between_calls_is_bad_output() {
    let mut inst = hostile_instance("bad-schema", &Limits::default()).expect("instance");
    let first = inst
        .process(&small_batch())
        .expect("the first output sets the schema");
    assert_eq!(first.batch.schema().field(0).name(), "call_1");
    let err = inst.process(&small_batch()).expect_err("schema changed");
    assert!(matches!(err, RuntimeError::BadOutput { .. }), "{err}");
    assert!(err.to_string().contains("call_2"), "{err}");
    assert_host_survives();
}

#[test]
fn init_error_is_an_init_error_naming_stage_and_module() {
    let err = hostile_instance("init-error", &Limits::default()).expect_err("init must fail");
    assert!(matches!(err, RuntimeError::Init { .. }), "{err}");
    assert_site(&err, "init-error");
    assert_host_survives();
}

#[test]
fn files_sockets_and_clocks_are_denied_or_virtual_without_trapping() {
    let mut inst = hostile_instance("escape", &Limits::default()).expect("instance");
    let processing_time = 1_700_000_000_123_456;
    inst.set_processing_time(processing_time);
    let started = Instant::now();
    let out = inst
        .process(&small_batch())
        .expect("every probe returns, none traps");
    assert!(
        started.elapsed() < Duration::from_secs(5),
        "a 10 s sleep is virtual: the call took {:?}",
        started.elapsed()
    );
    let column = |name: &str| {
        out.batch
            .column_by_name(name)
            .and_then(|c| c.as_any().downcast_ref::<StringArray>())
            .unwrap_or_else(|| panic!("column {name}"))
            .iter()
            .map(|v| v.unwrap_or_default().to_owned())
            .collect::<Vec<_>>()
    };
    let outcomes: std::collections::BTreeMap<_, _> =
        column("probe").into_iter().zip(column("outcome")).collect();
    println!("{outcomes:#?}");
    for probe in ["read-dir /", "read /etc/passwd", "create file"] {
        // No preopened directory: every path is outside the (empty) filesystem.
        assert!(
            outcomes[probe].starts_with("error: "),
            "{probe}: {}",
            outcomes[probe]
        );
    }
    for probe in ["tcp connect", "udp bind"] {
        let outcome = &outcomes[probe];
        assert!(
            outcome.starts_with("error: ") && outcome.to_lowercase().contains("denied"),
            "{probe}: {outcome}"
        );
    }
    // wasi-libc reports the host's `access-denied` for a lookup as EAI_FAIL.
    assert!(
        outcomes["name lookup"].starts_with("error: "),
        "name lookup: {}",
        outcomes["name lookup"]
    );
    assert_eq!(outcomes["wall clock"], format!("micros: {processing_time}"));
    assert_eq!(outcomes["sleep 10 s"], "monotonic elapsed: 10s");
}
