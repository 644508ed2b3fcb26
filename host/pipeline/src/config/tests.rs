//! Parsing and validating pipeline files: paths resolved, errors naming
//! the file and the field.

use super::*;

fn write(dir: &Path, text: &str) -> PathBuf {
    std::fs::write(dir.join("m.wasm"), b"not checked here").expect("write module");
    let path = dir.join("p.toml");
    std::fs::write(&path, text).expect("write pipeline");
    path
}

const GOOD: &str = r#"
        name = "logs"
        [kafka]
        brokers = "embedded"
        topics = ["logs"]
        [lake]
        root = "lake"
        [[stages]]
        name = "silver"
        module = "m.wasm"
        [[stages]]
        name = "gold"
        module = "m.wasm"
        mode = "accumulate"
        keys = ["level"]
        measures = ["count"]
        config = { answer = 42, who = "me" }
    "#;

#[test]
fn a_good_file_loads_with_paths_resolved() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = PipelineConfig::load(&write(dir.path(), GOOD)).expect("valid");
    assert_eq!(c.stage_input(0), "bronze");
    assert_eq!(c.stage_input(1), "silver");
    assert_eq!(c.stages[0].module, dir.path().join("m.wasm"));
    assert_eq!(
        c.table_uri("gold"),
        format!("{}/lake/default/logs/gold", dir.path().display())
    );
    assert_eq!(
        c.stages[1].init_config(),
        vec![("answer".into(), "42".into()), ("who".into(), "me".into())]
    );
}

fn error_of(text: &str) -> String {
    let dir = tempfile::tempdir().expect("tempdir");
    let path = write(dir.path(), text);
    let err = PipelineConfig::load(&path)
        .expect_err("must be refused")
        .to_string();
    assert!(err.contains("p.toml"), "error names the file: {err}");
    err
}

#[test]
fn errors_name_the_field() {
    assert!(
        error_of(&GOOD.replace("topics = [\"logs\"]", "topics = []")).contains("`kafka.topics`")
    );
    assert!(error_of(&GOOD.replace("keys = [\"level\"]", "")).contains("`stages[1].keys`"));
    assert!(
        error_of(&GOOD.replace("name = \"gold\"", "name = \"silver\""))
            .contains("`stages[1].name`")
    );
    assert!(error_of(&GOOD.replace("name = \"logs\"", "name = \"a/b\"")).contains("`name`"));
    let missing = error_of(&GOOD.replace(
        "module = \"m.wasm\"\n        mode",
        "module = \"nope.wasm\"\n        mode",
    ));
    assert!(
        missing.contains("`stages[1].module`") && missing.contains("nope.wasm"),
        "{missing}"
    );
}

#[test]
fn unknown_keys_and_bad_types_are_refused_with_their_location() {
    let unknown = error_of(&GOOD.replace("[lake]", "[lake]\nrooot = 1"));
    assert!(unknown.contains("rooot"), "{unknown}");
    let typed = error_of(&GOOD.replace("mode = \"accumulate\"", "mode = \"sideways\""));
    assert!(typed.contains("sideways"), "{typed}");
    assert!(error_of("name = ").contains("p.toml"));
}

#[test]
fn dedupe_needs_keys_and_reset_column_belongs_to_accumulate() {
    let dir = tempfile::tempdir().expect("tempdir");
    let reset = GOOD.replace(
        "measures = [\"count\"]",
        "measures = [\"count\"]\n        reset-column = \"reset\"",
    );
    let c = PipelineConfig::load(&write(dir.path(), &reset)).expect("valid");
    assert!(
        matches!(&c.stages[1].mode, WriteMode::Accumulate { reset_column: Some(r), .. } if r == "reset"),
        "{:?}",
        c.stages[1].mode
    );
    let dedupe = GOOD.replace(
        "mode = \"accumulate\"\n        keys = [\"level\"]\n        measures = [\"count\"]",
        "mode = \"dedupe\"",
    );
    assert_ne!(dedupe, GOOD, "the replacement matched");
    assert!(error_of(&dedupe).contains("`stages[1].keys`"));
    let misplaced = GOOD.replace(
        "name = \"silver\"",
        "name = \"silver\"\n        reset-column = \"r\"",
    );
    assert!(error_of(&misplaced).contains("`stages[0].reset-column`"));
}

#[test]
fn a_key_of_another_mode_is_refused_naming_the_modes_keys_and_the_stage_line() {
    let misplaced = GOOD.replace(
        "measures = [\"count\"]",
        "measures = [\"count\"]\n        sequence = \"ts\"",
    );
    let err = error_of(&misplaced);
    assert!(err.contains("`stages[1].sequence`"), "{err}");
    assert!(err.contains("`keys`, `measures`, `reset-column`"), "{err}");
    assert!(err.contains("in the stage at line 11"), "{err}");
}

#[test]
fn a_mode_round_trips_through_toml() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = PipelineConfig::load(&write(dir.path(), GOOD)).expect("valid");
    let text = toml::to_string(&c).expect("serializes");
    let again = PipelineConfig::parse(&text, &dir.path().join("p.toml")).expect("parses");
    assert_eq!(again.stages[1].mode, c.stages[1].mode);
    assert_eq!(again.stages[0].mode, WriteMode::Append);
}

#[test]
fn on_data_loss_fails_by_default_and_owns_auto_offset_reset() {
    let dir = tempfile::tempdir().expect("tempdir");
    let c = PipelineConfig::load(&write(dir.path(), GOOD)).expect("valid");
    assert_eq!(c.kafka.on_data_loss, OnDataLoss::Fail);
    let reset = GOOD.replace(
        "topics = [\"logs\"]",
        "topics = [\"logs\"]\n        on-data-loss = \"reset\"",
    );
    let c = PipelineConfig::load(&write(dir.path(), &reset)).expect("valid");
    assert_eq!(c.kafka.on_data_loss, OnDataLoss::Reset);
    let skip = error_of(&reset.replace("\"reset\"", "\"skip\""));
    assert!(skip.contains("skip"), "{skip}");
    let property = error_of(&GOOD.replace(
        "[lake]",
        "[kafka.properties]\n        \"auto.offset.reset\" = \"earliest\"\n        [lake]",
    ));
    assert!(
        property.contains("`kafka.properties.auto.offset.reset`")
            && property.contains("on-data-loss"),
        "{property}"
    );
}
