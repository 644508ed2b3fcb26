//! The registry's storage: modules by digest, deployments in commit order.

use std::collections::BTreeMap;

use super::*;

fn config_for(lake: &std::path::Path) -> PipelineConfig {
    let dir = lake.parent().expect("temp dir");
    let module = dir.join("m.wasm");
    std::fs::write(&module, b"placeholder").expect("write module");
    let text = format!(
        r#"
name = "p"
[kafka]
brokers = "embedded"
topics = ["t"]
[lake]
root = "{}"
[[stages]]
name = "silver"
module = "m.wasm"
"#,
        lake.display()
    );
    PipelineConfig::parse(&text, &dir.join("p.toml")).expect("valid pipeline")
}

fn deployment(stage: &str, digest: &str, at: i64, note: Option<&str>) -> Deployment {
    Deployment {
        pipeline: "p".into(),
        stage: stage.into(),
        digest: digest.into(),
        config: BTreeMap::from([("k".to_string(), "v=1".to_string())]),
        action: Action::Deploy,
        deployed_at: at,
        deployed_by: whoami(),
        note: note.map(str::to_owned),
        version: None,
    }
}

#[tokio::test]
async fn modules_are_stored_once_by_digest() {
    let dir = tempfile::tempdir().expect("tempdir");
    let registry = Registry::for_pipeline(&config_for(&dir.path().join("lake"))).expect("registry");
    let digest = registry.store(b"module bytes").await.expect("store");
    assert_eq!(digest, hex::encode(Sha256::digest(b"module bytes")));
    let path = registry
        .fetch(&digest)
        .await
        .expect("a local lake holds it");
    assert_eq!(path, registry.module_path(&digest));
    assert!(path.starts_with(dir.path().join("lake").join("default").join("_registry")));
    assert_eq!(std::fs::read(&path).expect("read"), b"module bytes");
    let again = registry.store(b"module bytes").await.expect("store again");
    assert_eq!(again, digest);
    let leftovers = std::fs::read_dir(&registry.local_dir)
        .expect("list")
        .filter(|e| {
            e.as_ref()
                .is_ok_and(|e| e.file_name().to_string_lossy().ends_with(".tmp"))
        })
        .count();
    assert_eq!(leftovers, 0, "no temp file is left behind");
}

#[tokio::test]
async fn history_and_current_follow_commit_order() {
    let dir = tempfile::tempdir().expect("tempdir");
    let config = config_for(&dir.path().join("lake"));
    let mut registry = Registry::for_pipeline(&config).expect("registry");
    assert_eq!(registry.current("p", "silver").await.expect("read"), None);
    // deployed_at goes backwards on purpose: commit order decides.
    let v1 = registry
        .record(&deployment("silver", "aaa", 30, Some("first")))
        .await
        .expect("record");
    registry
        .record(&deployment("gold", "ggg", 20, None))
        .await
        .expect("record");
    let mut rollback = deployment("silver", "bbb", 10, None);
    rollback.action = Action::Rollback;
    let v3 = registry.record(&rollback).await.expect("record");
    assert!(v3 > v1);

    // A second handle (another host) sees the same.
    let mut other = Registry::for_pipeline(&config).expect("registry");
    let current = other
        .current("p", "silver")
        .await
        .expect("read")
        .expect("deployed");
    assert_eq!(current.digest, "bbb");
    assert_eq!(current.action, Action::Rollback);
    assert_eq!(current.version, Some(v3));
    assert_eq!(current.config.get("k").map(String::as_str), Some("v=1"));
    let silver = other.history("p", Some("silver")).await.expect("history");
    assert_eq!(
        silver.iter().map(|d| d.digest.as_str()).collect::<Vec<_>>(),
        ["aaa", "bbb"]
    );
    assert_eq!(silver[0].note.as_deref(), Some("first"));
    assert_eq!(silver[1].note, None);
    assert_eq!(other.history("p", None).await.expect("all").len(), 3);
    assert!(other.history("q", None).await.expect("none").is_empty());

    // New rows reach a handle that already read.
    registry
        .record(&deployment("silver", "ccc", 40, None))
        .await
        .expect("record");
    let latest = other
        .current("p", "silver")
        .await
        .expect("read")
        .expect("some");
    assert_eq!(latest.digest, "ccc");
}
