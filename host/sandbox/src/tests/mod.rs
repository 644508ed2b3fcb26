//! Tests of the runtime against real guest components: the hostile test
//! module (every way a guest can misbehave), the example transforms, and
//! files that are not components. The guests are built once per test run
//! with cargo for `wasm32-wasip2`; a test fails (never skips) if they
//! cannot be built.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::sync::{Arc, OnceLock};

use ingot_core::arrow::array::{Int64Array, StringArray};
use ingot_core::arrow::datatypes::{DataType, Field, Schema};

use super::*;
use ingot_core::{StageId, short_digest};

mod bounds;
mod hostile;
mod load;
mod log_parse;

/// The workspace root (two levels above this crate, `host/<crate>`).
fn workspace() -> &'static Path {
    Path::new(env!("CARGO_MANIFEST_DIR"))
        .ancestors()
        .nth(2)
        .expect("invariant: the crate lives at host/<crate> in the workspace")
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

pub(super) fn guest(name: &str) -> PathBuf {
    let path = guest_dir().join(format!("{name}.wasm"));
    assert!(
        path.is_file(),
        "guest module {} was not built",
        path.display()
    );
    path
}

/// One runtime (no disk cache) shared by the tests, as in the host process.
pub(super) fn runtime() -> &'static Runtime {
    static RT: OnceLock<Runtime> = OnceLock::new();
    RT.get_or_init(|| Runtime::new(None).expect("runtime"))
}

pub(super) fn hostile() -> Arc<Module> {
    static MODULE: OnceLock<Arc<Module>> = OnceLock::new();
    MODULE
        .get_or_init(|| runtime().load(&guest("hostile")).expect("load hostile"))
        .clone()
}

pub(super) fn stage(name: &str) -> StageId {
    StageId::new("acme", "logs", name)
}

pub(super) fn behaviour(b: &str) -> Vec<(String, String)> {
    vec![("behaviour".to_owned(), b.to_owned())]
}

pub(super) fn hostile_instance(b: &str, limits: &Limits) -> Result<Instance, RuntimeError> {
    Instance::new(runtime(), hostile(), stage(b), limits, &behaviour(b))
}

pub(super) fn small_batch() -> RecordBatch {
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
pub(super) fn assert_host_survives() {
    let mut ok = hostile_instance("ok", &Limits::default()).expect("fresh ok instance");
    let out = ok
        .process(&small_batch())
        .expect("ok process after a failure");
    assert_eq!(out.batch, small_batch());
}

/// Instantiates `behaviour`, processes one batch and returns the error.
pub(super) fn process_error(b: &str, limits: &Limits) -> (RuntimeError, Instance) {
    let mut inst = hostile_instance(b, limits).expect("init succeeds for this behaviour");
    let err = inst.process(&small_batch()).expect_err("process must fail");
    (err, inst)
}

pub(super) fn assert_site(err: &RuntimeError, b: &str) {
    let site = err.site().expect("error names its site");
    assert_eq!(site.module, hostile().digest());
    assert_eq!(site.stage.as_deref(), Some(&stage(b)));
    assert!(err.to_string().contains(&format!("acme/logs/{b}")), "{err}");
    assert!(
        err.to_string().contains(short_digest(hostile().digest())),
        "{err}"
    );
}

/// A `tracing` writer into a shared buffer.
#[derive(Clone, Default)]
struct LogBuffer(Arc<std::sync::Mutex<Vec<u8>>>);

impl std::io::Write for LogBuffer {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        self.0.lock().expect("log buffer").extend_from_slice(buf);
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

/// Runs `f` with every `tracing` event on this thread down to `debug`
/// formatted (as the host's log would be, without colours) into a buffer;
/// returns the text. (wasmtime traces every import call at `trace`.)
pub(super) fn capture_logs(f: impl FnOnce()) -> String {
    let buffer = LogBuffer::default();
    let writer = buffer.clone();
    let subscriber = tracing_subscriber::fmt()
        .with_writer(move || writer.clone())
        .with_ansi(false)
        .with_max_level(tracing::Level::DEBUG)
        .finish();
    tracing::subscriber::with_default(subscriber, f);
    let bytes = buffer.0.lock().expect("log buffer").clone();
    String::from_utf8(bytes).expect("the log is utf-8")
}
