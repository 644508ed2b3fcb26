//! The Python SDK's Arrow IPC codec (`guest-sdk/python/ingot/ipc.py`)
//! against arrow-rs, both ways.
//!
//! Rust builds fixtures with arrow-rs (every supported type with nulls at
//! various depths, a wide table, empty and multi-message streams, large
//! strings, metadata, a bronze-like table) and writes each as an IPC stream.
//! `guest-sdk/python/tests/roundtrip.py` decodes each with
//! `ingot.ipc.decode`, renders the batch as canonical JSON and re-encodes it
//! with `ingot.ipc.encode`; it also writes batches built from literal Python
//! values with the JSON it expects of them. Then:
//!
//! - [`python_reads_arrow_rs_streams`]: Python's JSON equals the same
//!   rendering computed here from the arrow-rs batch;
//! - [`arrow_rs_reads_python_re_encoding`]: arrow-rs reads Python's re-encoding
//!   back to a batch equal to the original (schema, nullability, metadata,
//!   data);
//! - [`arrow_rs_reads_python_batches`]: arrow-rs reads the batches built in
//!   Python to the JSON Python expected.
//!
//! The SDK's pure-Python codec tests run in [`crate::units`].
//!
//! Python 3.11+ must be on the PATH as `python3` (or named by
//! `INGOT_PYTHON`); without it these tests fail rather than skip. Set
//! `INGOT_KEEP_SDK_FIXTURES` to keep the temp dirs of streams and renderings.
//!
//! Here: the driver run and the three comparisons. [`fixtures`] and
//! [`columns`] build the arrow-rs side, [`render`] renders a batch as
//! `roundtrip.py` does, and [`compare`] says where two renderings differ.

mod columns;
mod compare;
mod fixtures;
mod render;

use std::collections::BTreeSet;
use std::fs::File;
use std::io::BufReader;
use std::path::{Path, PathBuf};
use std::process::Output;

use deltalake::arrow::array::RecordBatch;
use deltalake::arrow::datatypes::SchemaRef;
use deltalake::arrow::ipc::reader::StreamReader;
use deltalake::arrow::ipc::writer::StreamWriter;
use serde_json::Value;
use tempfile::TempDir;

use crate::{driver_output, run_python};
use compare::{first_difference, schema_summary};
use fixtures::{Fixture, fixtures};
use render::render_batch;

/// The fixtures, written to a temp dir, and the driver run over them.
struct Run {
    dir: TempDir,
    fixtures: Vec<Fixture>,
    driver: Output,
}

impl Run {
    /// `file` in the fixtures' temp dir.
    fn path(&self, file: &str) -> PathBuf {
        self.dir.path().join(file)
    }

    /// What the driver reported for a fixture that left no output.
    fn failure(&self, stem: &str, missing: &str) -> String {
        match std::fs::read_to_string(self.path(&format!("{stem}.error"))) {
            Ok(traceback) => format!("{stem}: Python failed:\n{traceback}"),
            Err(_) => format!(
                "{stem}: the driver wrote no {missing} and no .error\n{}",
                driver_output(&self.driver)
            ),
        }
    }
}

/// Writes every fixture and runs `roundtrip.py` over them.
fn run() -> Run {
    let mut dir = tempfile::tempdir().expect("temp dir");
    if std::env::var_os("INGOT_KEEP_SDK_FIXTURES").is_some() {
        dir.disable_cleanup(true);
        eprintln!("the fixtures stay in {}", dir.path().display());
    }
    let fixtures = fixtures();
    for f in &fixtures {
        let path = dir.path().join(format!("{}.arrows", f.name));
        let file = File::create(&path).expect("create the fixture file");
        let mut writer = StreamWriter::try_new(file, &f.schema).expect("stream writer");
        for batch in &f.batches {
            writer.write(batch).expect("write a fixture batch");
        }
        writer.finish().expect("finish the fixture stream");
    }
    let dir_arg = dir.path().to_str().expect("a UTF-8 temp dir path");
    let driver = run_python(&["guest-sdk/python/tests/roundtrip.py", dir_arg]);
    Run {
        dir,
        fixtures,
        driver,
    }
}

/// The schema and batches of the IPC stream at `path`, or why arrow-rs
/// cannot read it.
fn read_stream(path: &Path) -> Result<(SchemaRef, Vec<RecordBatch>), String> {
    let file = File::open(path).map_err(|e| format!("cannot open {}: {e}", path.display()))?;
    let reader = StreamReader::try_new(BufReader::new(file), None)
        .map_err(|e| format!("arrow-rs cannot read the stream's schema: {e}"))?;
    let schema = reader.schema();
    let batches = reader
        .collect::<Result<Vec<_>, _>>()
        .map_err(|e| format!("arrow-rs cannot read a record batch: {e}"))?;
    Ok((schema, batches))
}

/// The JSON document at `path`.
fn read_json(path: &Path) -> Result<Value, String> {
    let text = std::fs::read_to_string(path).map_err(|e| format!("{e}"))?;
    serde_json::from_str(&text).map_err(|e| format!("{} is not JSON: {e}", path.display()))
}

/// Fails the test with every failure when there is one.
fn report(what: &str, total: usize, failures: &[String]) {
    assert!(
        failures.is_empty(),
        "{what}: {} of {total} fixtures failed:\n\n{}",
        failures.len(),
        failures.join("\n\n")
    );
}

/// (a) Python reads what arrow-rs wrote: its rendering of each decoded
/// batch equals the rendering of the arrow-rs batch.
#[test]
fn python_reads_arrow_rs_streams() {
    let run = run();
    let mut failures = Vec::new();
    for f in &run.fixtures {
        let got = match read_json(&run.path(&format!("{}.json", f.name))) {
            Ok(v) => v,
            Err(_) => {
                failures.push(run.failure(&f.name, ".json"));
                continue;
            }
        };
        let want = render_batch(&f.concatenated());
        if let Some(diff) = first_difference(&want, &got, "$") {
            failures.push(format!(
                "{}: Python's decoding differs from arrow-rs's batch at {diff}",
                f.name
            ));
        }
    }
    report(
        "Python decoding streams arrow-rs wrote",
        run.fixtures.len(),
        &failures,
    );
}

/// (b) arrow-rs reads what Python wrote back: the same schema (names,
/// types, nullability, metadata) and the same data.
#[test]
fn arrow_rs_reads_python_re_encoding() {
    let run = run();
    let mut failures = Vec::new();
    for f in &run.fixtures {
        let path = run.path(&format!("{}.out.arrows", f.name));
        if !path.exists() {
            failures.push(run.failure(&f.name, ".out.arrows"));
            continue;
        }
        let (schema, batches) = match read_stream(&path) {
            Ok(read) => read,
            Err(e) => {
                failures.push(format!("{}: Python's encoding: {e}", f.name));
                continue;
            }
        };
        if schema != f.schema {
            failures.push(format!(
                "{}: Python's encoding has another schema\n  want {}\n  got  {}",
                f.name,
                schema_summary(&f.schema),
                schema_summary(&schema)
            ));
            continue;
        }
        if batches.len() != 1 {
            failures.push(format!(
                "{}: Python's encoding has {} record batches, expected 1",
                f.name,
                batches.len()
            ));
            continue;
        }
        let want = f.concatenated();
        let got = &batches[0];
        if got != &want {
            let diff = first_difference(&render_batch(&want), &render_batch(got), "$")
                .unwrap_or_else(|| "(no difference in the JSON rendering)".to_string());
            failures.push(format!(
                "{}: arrow-rs reads Python's encoding as another batch: {diff}",
                f.name
            ));
        }
    }
    report(
        "arrow-rs reading Python's re-encoding",
        run.fixtures.len(),
        &failures,
    );
}

/// (c) arrow-rs reads the batches Python built from literal values to the
/// rendering Python expected.
#[test]
fn arrow_rs_reads_python_batches() {
    let run = run();
    let mut stems = BTreeSet::new();
    for entry in std::fs::read_dir(run.dir.path()).expect("read the temp dir") {
        let name = entry.expect("a dir entry").file_name();
        let name = name.to_string_lossy();
        if let Some(stem) = name.strip_prefix("py_") {
            for suffix in [".json", ".arrows", ".error"] {
                if let Some(stem) = stem.strip_suffix(suffix) {
                    stems.insert(format!("py_{stem}"));
                }
            }
        }
    }
    assert!(
        stems.len() >= 5,
        "the driver wrote only {stems:?} of its Python-built batches\n{}",
        driver_output(&run.driver)
    );
    let mut failures = Vec::new();
    for stem in &stems {
        let (want, (_schema, batches)) = match (
            read_json(&run.path(&format!("{stem}.json"))),
            read_stream(&run.path(&format!("{stem}.arrows"))),
        ) {
            (Ok(want), Ok(read)) => (want, read),
            (Err(_), _) => {
                failures.push(run.failure(stem, ".json"));
                continue;
            }
            (_, Err(e)) => {
                failures.push(format!("{stem}: {e}"));
                continue;
            }
        };
        if batches.len() != 1 {
            failures.push(format!(
                "{stem}: {} record batches, expected 1",
                batches.len()
            ));
            continue;
        }
        let got = render_batch(&batches[0]);
        if let Some(diff) = first_difference(&want, &got, "$") {
            failures.push(format!(
                "{stem}: arrow-rs reads another batch than Python built, at {diff}"
            ));
        }
    }
    report("arrow-rs reading Python's batches", stems.len(), &failures);
    assert!(
        run.driver.status.success(),
        "{}",
        driver_output(&run.driver)
    );
}
