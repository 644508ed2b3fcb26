//! The container image: `scripts/build-image.sh` builds it from the binary
//! under test on `scratch` (no base image from a registry), and `ingot
//! --version` and `ingot broker --help` run inside it, as its unprivileged
//! user, with nothing but what the image holds.
//!
//! The commands run under buildah's chroot isolation: this machine's OCI
//! runtime cannot start containers (`podman run` fails with "crun:
//! setrlimit `RLIMIT_NOFILE`: Operation not permitted"), but the image and
//! its root file system are the ones podman or Kubernetes would run.

use std::process::{Command, Output};

use crate::harness::{ingot::INGOT, workspace_root};

fn run(program: &str, args: &[&str]) -> Output {
    let out = Command::new(program)
        .args(args)
        .output()
        .unwrap_or_else(|e| panic!("run {program} (./dev test installs buildah): {e}"));
    assert!(
        out.status.success(),
        "{program} {args:?}: {}\n{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

fn stdout(out: &Output) -> String {
    String::from_utf8_lossy(&out.stdout).trim().to_owned()
}

#[test]
fn the_image_holds_everything_ingot_needs_to_run() {
    let tag = format!("localhost/ingot-test:{}", std::process::id());
    let debug = tempfile::tempdir().expect("a dir for the debug info");
    let script = workspace_root().join("scripts/build-image.sh");
    let built = Command::new(&script)
        .args([INGOT, &tag])
        .env("INGOT_DEBUG_DIR", debug.path())
        .output()
        .expect("run build-image.sh");
    assert!(
        built.status.success(),
        "build-image.sh: {}",
        String::from_utf8_lossy(&built.stderr)
    );
    assert_eq!(stdout(&built), tag, "the script prints the tag last");
    let container = stdout(&run("buildah", &["from", &tag]));
    let inside = |args: &[&str]| {
        let mut all = vec!["run", "--isolation", "chroot", &container, "--"];
        all.extend_from_slice(args);
        run("buildah", &all)
    };
    let version = stdout(&inside(&["/usr/local/bin/ingot", "--version"]));
    assert_eq!(version, format!("ingot {}", env!("CARGO_PKG_VERSION")));
    let help = stdout(&inside(&["/usr/local/bin/ingot", "broker", "--help"]));
    assert!(help.contains("--topic"), "{help}");
    let config = stdout(&run(
        "buildah",
        &[
            "inspect",
            "--format",
            "{{.OCIv1.Config.User}} {{.OCIv1.Config.Entrypoint}}",
            &tag,
        ],
    ));
    assert_eq!(config, "65532:65532 [/usr/local/bin/ingot]");
    // The debug info was split off, not shipped.
    let split = debug.path().join("ingot.debug");
    assert!(
        split.metadata().is_ok_and(|m| m.len() > 0),
        "{}",
        split.display()
    );
    run("buildah", &["rm", &container]);
    run("buildah", &["rmi", &tag]);
}
