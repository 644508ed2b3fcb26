//! The deployment files of `deploy/` (the image is `image.rs`'s): the
//! Kubernetes manifests and the Compose file pass their schemas, offline
//! (kubernetes-validate `--strict`, with the Kubernetes API's schemas
//! bundled; check-jsonschema with the Compose specification's), and the
//! host and pipeline files they carry load with ingot's own checks, the
//! modules where the deployment mounts them (`/modules`) taken from this
//! build.

use std::{
    path::{Path, PathBuf},
    process::Command,
    sync::OnceLock,
};

use ingot::tenancy::HostConfig;

use crate::harness::{modules, workspace_root};

/// The validators' bin directory: `INGOT_VALIDATORS`, else what
/// `scripts/install-validators.sh` installs (or finds) prints last.
fn validators() -> &'static Path {
    static BIN: OnceLock<PathBuf> = OnceLock::new();
    BIN.get_or_init(|| {
        if let Ok(dir) = std::env::var("INGOT_VALIDATORS") {
            return PathBuf::from(dir);
        }
        let out = Command::new("bash")
            .arg(workspace_root().join("scripts/install-validators.sh"))
            .output()
            .expect("run install-validators.sh");
        assert!(
            out.status.success(),
            "install-validators.sh: {}",
            String::from_utf8_lossy(&out.stderr)
        );
        let text = String::from_utf8_lossy(&out.stdout);
        PathBuf::from(text.lines().last().expect("a bin directory").trim())
    })
}

fn validate(tool: &str, args: &[&str]) {
    let out = Command::new(validators().join(tool))
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {tool}: {e}"));
    assert!(
        out.status.success(),
        "{tool} {args:?} refused the file:\n{}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
}

/// Loads host file `host` and every pipeline it lists, written into a
/// fresh dir as `host.toml` and `pipelines` (relative path, text), the
/// deployment's `/modules/` replaced by this build's modules.
fn load_host(host: &str, pipelines: &[(&str, String)]) -> HostConfig {
    let dir = tempfile::tempdir().expect("tempdir");
    let guests = format!("{}/", modules().dir.display());
    for (path, text) in pipelines {
        let file = dir.path().join(path);
        std::fs::create_dir_all(file.parent().expect("a parent")).expect("mkdir");
        std::fs::write(&file, text.replace("/modules/", &guests)).expect("write a pipeline");
    }
    let file = dir.path().join("host.toml");
    std::fs::write(&file, host).expect("write the host file");
    let loaded = HostConfig::load(&file).unwrap_or_else(|e| panic!("the host file: {e}"));
    let hosted = loaded.pipelines();
    assert_eq!(hosted.len(), pipelines.len());
    for p in hosted {
        if let Err(e) = p.config {
            panic!("{}: {e}", p.path.display());
        }
    }
    loaded
}

#[test]
fn the_kubernetes_manifests_validate_and_carry_files_ingot_loads() {
    let manifest = workspace_root().join("deploy/kubernetes/ingot.yaml");
    let manifest = manifest.to_str().expect("a utf-8 path");
    validate("kubernetes-validate", &["--strict", manifest]);
    // The host file (a Secret) and the pipeline (a ConfigMap), as YAML
    // parses them.
    let script = "import json, sys, yaml\n\
        docs = {d['metadata']['name']: d for d in yaml.safe_load_all(open(sys.argv[1]))}\n\
        print(json.dumps([docs['ingot-host']['stringData']['host.toml'], docs['ingot-pipelines']['data']['logs.toml']]))";
    let out = Command::new(validators().join("python"))
        .args(["-c", script, manifest])
        .output()
        .expect("run the validators' python");
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    let [host, logs]: [String; 2] = serde_json::from_slice(&out.stdout).expect("two files");
    let loaded = load_host(&host, &[("pipelines/logs.toml", logs)]);
    assert_eq!(
        loaded.server.listen.to_string(),
        "0.0.0.0:9410",
        "probes reach it"
    );
}

#[test]
fn the_compose_file_validates_and_its_host_file_loads() {
    let dir = workspace_root().join("deploy/compose");
    let compose = dir.join("compose.yaml");
    let compose = compose.to_str().expect("a utf-8 path");
    validate(
        "check-jsonschema",
        &["--builtin-schema", "vendor.compose-spec", compose],
    );
    let read = |name: &str| std::fs::read_to_string(dir.join(name)).expect("a compose file");
    let loaded = load_host(&read("host.toml"), &[("demo/logs.toml", read("logs.toml"))]);
    assert_eq!(loaded.tenants[0].name, "demo");
}
