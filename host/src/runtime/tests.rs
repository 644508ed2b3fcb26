//! Tests of the runtime against real guest components: the hostile test
//! module (every way a guest can misbehave), the example transforms, and
//! files that are not components. The guests are built once per test run
//! with cargo for `wasm32-wasip2`; a test fails (never skips) if they
//! cannot be built.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant};

use crate::table::arrow::array::{
    Array, BinaryArray, Int32Array, Int64Array, ListArray, StringArray, StructArray,
    TimestampMicrosecondArray,
};
use crate::table::arrow::buffer::OffsetBuffer;
use crate::table::arrow::datatypes::{DataType, Field, Fields, Schema, TimeUnit};

use super::*;

/// The workspace root (the host crate's parent).
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .parent()
        .expect("invariant: host/ has a parent")
}

/// Builds the guest components once and returns the directory holding them.
fn guest_dir() -> &'static Path {
    static BUILT: OnceLock<Result<PathBuf, String>> = OnceLock::new();
    let built = BUILT.get_or_init(|| {
        let target = workspace().join("target/guests");
        let cargo = std::env::var("CARGO").unwrap_or_else(|_| "cargo".to_owned());
        let status = Command::new(&cargo)
            .current_dir(workspace())
            .env("CARGO_TARGET_DIR", &target)
            .args(["build", "--profile", "guest", "--target", "wasm32-wasip2"])
            .args(["-p", "hostile", "-p", "log-parse", "-p", "level-counts"])
            .status()
            .map_err(|e| format!("cannot run `{cargo}` to build the guest modules: {e}"))?;
        if !status.success() {
            return Err(format!(
                "building the guest modules failed ({status}); see the output above"
            ));
        }
        Ok(target.join("wasm32-wasip2/guest"))
    });
    match built {
        Ok(dir) => dir,
        Err(e) => panic!("{e}"),
    }
}

fn guest(name: &str) -> PathBuf {
    let path = guest_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest module {} was not built",
        path.display()
    );
    path
}

/// One runtime (no disk cache) shared by the tests, as in the host process.
fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(None).expect("runtime"))
}

fn hostile() -> Arc<Module> {
    static MODULE: OnceLock<Arc<Module>> = OnceLock::new();
    MODULE
        .get_or_init(|| runtime().load(&guest("hostile")).expect("load hostile"))
        .clone()
}

fn stage(name: &str) -> StageId {
    StageId::new("acme", "logs", name)
}

fn behaviour(b: &str) -> Vec<(String, String)> {
    vec![("behaviour".to_owned(), b.to_owned())]
}

fn hostile_instance(b: &str, limits: &Limits) -> Result<Instance, RuntimeError> {
    Instance::new(runtime(), hostile(), stage(b), limits, &behaviour(b))
}

fn small_batch() -> RecordBatch {
    let schema = Arc::new(Schema::new(vec![
        Field::new("id", DataType::Int64, false),
        Field::new("name", DataType::Utf8, true),
    ]));
    RecordBatch::try_new(
        schema,
        vec![
            Arc::new(Int64Array::from(vec![1, 2, 3])),
            Arc::new(StringArray::from(vec![Some("a"), None, Some("c")])),
        ],
    )
    .expect("valid batch")
}

/// The host survives a misbehaving guest: a fresh `ok` instance of the same
/// module on the same runtime still echoes rows.
fn assert_host_survives() {
    let mut ok = hostile_instance("ok", &Limits::default()).expect("fresh ok instance");
    let out = ok
        .process(&small_batch())
        .expect("ok process after a failure");
    assert_eq!(out.batch, small_batch());
}

/// Instantiates `behaviour`, processes one batch and returns the error.
fn process_error(b: &str, limits: &Limits) -> (RuntimeError, Instance) {
    let mut inst = hostile_instance(b, limits).expect("init succeeds for this behaviour");
    let err = inst.process(&small_batch()).expect_err("process must fail");
    (err, inst)
}

fn assert_site(err: &RuntimeError, b: &str) {
    let site = err.site().expect("error names its site");
    assert_eq!(site.module, hostile().digest());
    assert_eq!(site.stage.as_deref(), Some(&stage(b)));
    assert!(err.to_string().contains(&format!("acme/logs/{b}")), "{err}");
    assert!(
        err.to_string().contains(short_digest(hostile().digest())),
        "{err}"
    );
}

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
    assert_eq!(err.class(), crate::ErrorClass::User);
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
fn a_text_file_is_not_wasm() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("notes.wasm");
    std::fs::write(&path, "just some text\n").expect("write");
    let err = runtime().load(&path).expect_err("text is not a component");
    assert!(
        matches!(
            err,
            RuntimeError::NotAComponent {
                kind: NotComponentKind::NotWasm,
                ..
            }
        ),
        "{err}"
    );
    assert!(err.to_string().contains("is not wasm"), "{err}");
    assert!(err.to_string().contains("notes.wasm"), "{err}");
}

#[test]
fn a_core_module_is_not_a_component() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("core.wasm");
    std::fs::write(&path, b"\0asm\x01\0\0\0").expect("write");
    let err = runtime()
        .load(&path)
        .expect_err("core module is not a component");
    assert!(
        err.to_string()
            .contains("is a core wasm module, not a component"),
        "{err}"
    );
    assert_eq!(err.class(), crate::ErrorClass::User);
}

/// The component-model preamble: `\0asm`, version 0x0d, layer 1.
const COMPONENT_PREAMBLE: &[u8] = b"\0asm\x0d\0\x01\0";

#[test]
fn an_empty_component_lacks_the_transform_export() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("empty.wasm");
    std::fs::write(&path, COMPONENT_PREAMBLE).expect("write");
    let err = runtime().load(&path).expect_err("no export");
    assert!(matches!(err, RuntimeError::WrongWorld { .. }), "{err}");
    assert!(err.to_string().contains(TRANSFORM_EXPORT), "{err}");
}

#[test]
fn a_component_importing_the_filesystem_is_refused_naming_the_import() {
    // A component importing an (empty) instance named
    // `wasi:filesystem/types@0.2.0`: a type section with one empty instance
    // type, then an import section with one import of that type.
    let name = b"wasi:filesystem/types@0.2.0";
    let mut bytes = COMPONENT_PREAMBLE.to_vec();
    bytes.extend_from_slice(&[0x07, 0x03, 0x01, 0x42, 0x00]);
    let import_len = u8::try_from(name.len() + 5).expect("short");
    bytes.extend_from_slice(&[
        0x0a,
        import_len,
        0x01,
        0x00,
        u8::try_from(name.len()).expect("short"),
    ]);
    bytes.extend_from_slice(name);
    bytes.extend_from_slice(&[0x05, 0x00]);
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("fs.wasm");
    std::fs::write(&path, &bytes).expect("write");
    let err = runtime()
        .load(&path)
        .expect_err("filesystem import refused");
    assert!(matches!(err, RuntimeError::WrongWorld { .. }), "{err}");
    assert!(
        err.to_string().contains("wasi:filesystem/types@0.2.0"),
        "{err}"
    );
}

#[test]
fn a_malformed_component_does_not_compile() {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = dir.path().join("broken.wasm");
    let mut bytes = COMPONENT_PREAMBLE.to_vec();
    bytes.extend_from_slice(&[0xff, 0x04, 1, 2, 3, 4]);
    std::fs::write(&path, &bytes).expect("write");
    let err = runtime().load(&path).expect_err("malformed");
    assert!(matches!(err, RuntimeError::Compile { .. }), "{err}");
}

#[test]
fn disk_cache_loads_without_compiling() {
    let dir = tempfile::tempdir().expect("tempdir");
    let module = guest("log_parse");
    let first = Runtime::new(Some(dir.path().to_owned())).expect("runtime");
    let started = Instant::now();
    let compiled = first.load(&module).expect("compile");
    let compile_time = started.elapsed();
    assert_eq!(compiled.origin(), LoadOrigin::Compiled);
    assert_eq!(
        first.load(&module).expect("again").origin(),
        LoadOrigin::MemoryCache
    );
    let artifacts = std::fs::read_dir(dir.path()).expect("cache dir").count();
    assert_eq!(artifacts, 1, "one artifact in the cache");

    let second = Runtime::new(Some(dir.path().to_owned())).expect("runtime");
    let started = Instant::now();
    let cached = second.load(&module).expect("load from cache");
    let cached_time = started.elapsed();
    println!("log_parse: compile {compile_time:?}, load from disk cache {cached_time:?}");
    assert_eq!(cached.origin(), LoadOrigin::DiskCache);
    assert_eq!(cached.digest(), compiled.digest());
    assert!(
        cached_time < compile_time,
        "cached {cached_time:?} vs compile {compile_time:?}"
    );

    // The cached module runs.
    let mut inst = Instance::new(&second, cached, stage("silver"), &Limits::default(), &[])
        .expect("instance from cached module");
    let out = inst
        .process(&bronze_batch(&[
            r#"{"ts":"2026-11-21T10:00:01Z","level":"info","msg":"hi"}"#,
        ]))
        .expect("process with cached module");
    assert_eq!(out.batch.num_rows(), 1);
}

#[test]
fn a_module_from_another_runtime_is_refused() {
    let other = Runtime::new(None).expect("runtime");
    let err = Instance::new(
        &other,
        hostile(),
        stage("x"),
        &Limits::default(),
        &behaviour("ok"),
    )
    .expect_err("cross-runtime");
    assert!(matches!(err, RuntimeError::Internal { .. }), "{err}");
}

fn micros(n: i64) -> TimestampMicrosecondArray {
    TimestampMicrosecondArray::from(vec![n; 1]).with_timezone("UTC")
}

/// A bronze-shaped batch as the stage reads it from the CDF: one Kafka
/// record per JSON value, all inserts of commit version 1.
fn bronze_batch(values: &[&str]) -> RecordBatch {
    let n = values.len();
    let ts = DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into()));
    let header_fields = Fields::from(vec![
        Field::new("key", DataType::Utf8, false),
        Field::new("value", DataType::Binary, true),
    ]);
    let header_item = Arc::new(Field::new(
        "item",
        DataType::Struct(header_fields.clone()),
        true,
    ));
    let schema = Arc::new(Schema::new(vec![
        Field::new("topic", DataType::Utf8, false),
        Field::new("partition", DataType::Int32, false),
        Field::new("offset", DataType::Int64, false),
        Field::new("timestamp", ts.clone(), true),
        Field::new("key", DataType::Binary, true),
        Field::new("value", DataType::Binary, true),
        Field::new("headers", DataType::List(header_item.clone()), true),
        Field::new("ingest_time", ts.clone(), false),
        Field::new("_change_type", DataType::Utf8, false),
        Field::new("_commit_version", DataType::Int64, false),
        Field::new("_commit_timestamp", ts, false),
    ]));
    let empty_headers = StructArray::new(
        header_fields,
        vec![
            Arc::new(StringArray::from(Vec::<&str>::new())),
            Arc::new(BinaryArray::from(Vec::<Option<&[u8]>>::new())),
        ],
        None,
    );
    let repeat_ts = |v: i64| -> Arc<dyn Array> {
        let one = micros(v);
        Arc::new(TimestampMicrosecondArray::from(vec![one.value(0); n]).with_timezone("UTC"))
    };
    let offsets: Vec<i64> = (0..n).map(|i| i64::try_from(i).expect("small")).collect();
    let columns: Vec<Arc<dyn Array>> = vec![
        Arc::new(StringArray::from(vec!["app-logs"; n])),
        Arc::new(Int32Array::from(vec![0; n])),
        Arc::new(Int64Array::from(offsets)),
        repeat_ts(1_700_000_000_000_000),
        Arc::new(BinaryArray::from(vec![None::<&[u8]>; n])),
        Arc::new(BinaryArray::from(
            values
                .iter()
                .map(|v| Some(v.as_bytes()))
                .collect::<Vec<_>>(),
        )),
        Arc::new(ListArray::new(
            header_item,
            OffsetBuffer::new_zeroed(n),
            Arc::new(empty_headers),
            None,
        )),
        repeat_ts(1_700_000_000_500_000),
        Arc::new(StringArray::from(vec!["insert"; n])),
        Arc::new(Int64Array::from(vec![1; n])),
        repeat_ts(1_700_000_001_000_000),
    ];
    RecordBatch::try_new(schema, columns).expect("valid bronze batch")
}

#[test]
fn log_parse_end_to_end() {
    let module = runtime().load(&guest("log_parse")).expect("load log_parse");
    let mut inst = Instance::new(runtime(), module, stage("silver"), &Limits::default(), &[])
        .expect("instance");
    let processing_time = 1_700_000_002_000_000;
    inst.set_processing_time(processing_time);
    let input = bronze_batch(&[
        r#"{"ts":"2026-11-21T10:00:01.123Z","level":"INFO","service":"api","msg":"started"}"#,
        "this is not json",
        r#"{"ts":"2026-11-21T10:00:02Z","level":"error","service":"db","latency_ms":42,"msg":"boom"}"#,
    ]);
    let out = inst.process(&input).expect("process");
    let batch = &out.batch;
    assert_eq!(batch.num_rows(), 2, "two good rows");
    assert_eq!(out.rejected.len(), 1, "one reject: {:?}", out.rejected);
    assert_eq!(out.rejected[0].row, 1);
    assert!(
        out.rejected[0].reason.contains("JSON"),
        "{:?}",
        out.rejected
    );
    let strings = |name: &str| -> Vec<Option<String>> {
        let col = batch.column_by_name(name).expect("column");
        let col = col.as_any().downcast_ref::<StringArray>().expect("utf8");
        col.iter().map(|v| v.map(str::to_owned)).collect()
    };
    assert_eq!(
        strings("level"),
        [Some("INFO".to_owned()), Some("ERROR".to_owned())]
    );
    assert_eq!(
        strings("message"),
        [Some("started".to_owned()), Some("boom".to_owned())]
    );
    let offsets = batch.column_by_name("offset").expect("offset");
    let offsets = offsets
        .as_any()
        .downcast_ref::<Int64Array>()
        .expect("int64");
    assert_eq!(offsets.values(), &[0, 2], "lineage of the kept rows");
    let processed = batch.column_by_name("processed_at").expect("processed_at");
    let processed = processed
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("ts");
    assert_eq!(processed.values(), &[processing_time, processing_time]);
    let ts = batch.column_by_name("ts").expect("ts");
    let ts = ts
        .as_any()
        .downcast_ref::<TimestampMicrosecondArray>()
        .expect("ts");
    assert_eq!(
        ts.value(0),
        1_795_255_201_123_000,
        "2026-11-21T10:00:01.123Z"
    );
}
