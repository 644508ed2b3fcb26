//! Loading: files that are not components, components of the wrong world,
//! and the disk cache.

use std::time::Instant;

use super::log_parse::bronze_batch;
use super::*;

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
    assert_eq!(err.class(), ingot_core::ErrorClass::User);
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
fn a_component_importing_http_is_refused_naming_the_import() {
    // A component importing an (empty) instance named
    // `wasi:http/outgoing-handler@0.2.0`: a type section with one empty instance
    // type, then an import section with one import of that type.
    let name = b"wasi:http/outgoing-handler@0.2.0";
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
    let path = dir.path().join("http.wasm");
    std::fs::write(&path, &bytes).expect("write");
    let err = runtime().load(&path).expect_err("http import refused");
    assert!(matches!(err, RuntimeError::WrongWorld { .. }), "{err}");
    assert!(
        err.to_string().contains("wasi:http/outgoing-handler@0.2.0"),
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

#[test]
fn a_pooled_runtime_runs_instances_and_reports_a_full_pool_as_the_hosts() {
    let pooled = Runtime::pooled(None, 2).expect("pooled runtime");
    let module = pooled.load(&guest("hostile")).expect("load");
    let new = |name: &str| {
        Instance::new(
            &pooled,
            Arc::clone(&module),
            stage(name),
            &Limits::default(),
            &behaviour("ok"),
        )
    };
    let mut first = new("first").expect("a slot");
    let _second = new("second").expect("a slot");
    let err = new("third").expect_err("the pool holds two");
    assert!(matches!(err, RuntimeError::Capacity { .. }), "{err}");
    assert_eq!(
        err.class(),
        ingot_core::ErrorClass::External,
        "not the module's fault"
    );
    assert!(
        err.to_string().contains("runtime.max-instances")
            && err.to_string().contains("acme/logs/third"),
        "{err}"
    );
    let out = first
        .process(&small_batch())
        .expect("a pooled instance works");
    assert_eq!(out.batch, small_batch());
    drop(first);
    new("fourth").expect("a freed slot is reused");
}
