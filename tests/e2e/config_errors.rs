//! Test 6 of the core: bad pipeline files and modules that are not
//! components fail with a clear error, a non-zero exit code, and nothing
//! written to the lake.

use crate::{
    harness::{Lake, modules, run_ingot},
    medallion::log_pipeline,
};

/// Runs `--once` on `toml` and returns stderr, asserting failure and an empty lake.
fn refused(lake: &Lake, toml: &str) -> String {
    let pipeline = lake.write_pipeline(toml);
    let out = run_ingot(["run".as_ref(), pipeline.as_os_str(), "--once".as_ref()]);
    let stderr = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(
        !out.status.success(),
        "a bad pipeline must fail; stderr:\n{stderr}"
    );
    let written: Vec<_> = std::fs::read_dir(lake.root()).expect("lake root").collect();
    assert!(
        written.is_empty(),
        "nothing may be written, found {written:?}"
    );
    stderr
}

// No broker is needed: everything is refused before connecting. The address
// is one nothing listens on, so a test that wrongly got that far fails.
const NOWHERE: &str = "127.0.0.1:1";

#[test]
fn unknown_keys_bad_values_and_missing_fields_name_file_and_field() {
    let lake = Lake::new();
    let good = log_pipeline(NOWHERE, &lake, "");
    let cases = [
        (
            good.replace("[ingest]", "[ingest]\nmax-recrods = 5"),
            "max-recrods",
        ),
        (
            good.replace("mode = \"accumulate\"", "mode = \"sideways\""),
            "sideways",
        ),
        (good.replace("keys = [\"level\"]", ""), "stages[1].keys"),
        (
            good.replace("topics = [\"logs\"]", "topics = []"),
            "kafka.topics",
        ),
        (good.replace("name = \"logs\"", ""), "name"),
    ];
    for (toml, field) in cases {
        let stderr = refused(&lake, &toml);
        assert!(stderr.contains("pipeline.toml"), "names the file: {stderr}");
        assert!(stderr.contains(field), "names `{field}`: {stderr}");
    }
}

#[test]
fn a_module_that_is_not_a_component_is_refused() {
    let lake = Lake::new();
    let good = log_pipeline(NOWHERE, &lake, "");
    let log_parse = modules().log_parse.display().to_string();

    let text = lake.dir().join("notes.wasm");
    std::fs::write(&text, "this is not wasm").expect("write");
    let core = lake.dir().join("core.wasm");
    std::fs::write(&core, b"\0asm\x01\0\0\0").expect("write");
    let missing = lake.dir().join("missing.wasm");

    let stderr = refused(
        &lake,
        &good.replace(&log_parse, &text.display().to_string()),
    );
    assert!(
        stderr.contains("notes.wasm") && stderr.contains("not"),
        "{stderr}"
    );
    let stderr = refused(
        &lake,
        &good.replace(&log_parse, &core.display().to_string()),
    );
    assert!(
        stderr.contains("core.wasm") && stderr.contains("core"),
        "{stderr}"
    );
    let stderr = refused(
        &lake,
        &good.replace(&log_parse, &missing.display().to_string()),
    );
    assert!(
        stderr.contains("missing.wasm") && stderr.contains("stages[0].module"),
        "{stderr}"
    );
}
