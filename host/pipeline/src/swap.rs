//! Where a running stage switches modules: between two commits.
//!
//! Before each step a stage asks the registry (at most once per
//! [`POLL_INTERVAL`]) which module it should run. When the answer names
//! another digest, the stage loads that module from the registry (compiled
//! once per digest, then cached on disk), initialises an instance with the
//! deployment's configuration, and only then replaces its module: every
//! commit is produced by exactly one module, the one its lineage names. A
//! module that fails to load or initialise is logged and skipped, and the
//! stage keeps running the module it had.
//!
//! The first poll happens before the stage's first step, so a host started
//! after a deploy runs the deployed module from its first commit on.

use std::time::{Duration, Instant};

use crate::Result;
use crate::deployments::{Deployment, Registry};

/// How often a running stage asks the registry for its module at most.
pub const POLL_INTERVAL: Duration = Duration::from_secs(1);

/// A stage's view of its registry entry.
#[derive(Debug)]
pub struct ModuleWatch {
    registry: Registry,
    pipeline: String,
    stage: String,
    polled_at: Option<Instant>,
    interval: Duration,
    /// The deployment table version whose module failed to load, so it is
    /// not retried on every step.
    refused: Option<i64>,
}

impl ModuleWatch {
    /// Watches `stage` of `pipeline` in `registry`.
    pub fn new(registry: Registry, pipeline: &str, stage: &str) -> Self {
        Self {
            registry,
            pipeline: pipeline.to_owned(),
            stage: stage.to_owned(),
            polled_at: None,
            interval: POLL_INTERVAL,
            refused: None,
        }
    }

    /// The same watch, polling at most once per `interval`.
    pub fn with_interval(mut self, interval: Duration) -> Self {
        self.interval = interval;
        self
    }

    /// Whether the registry has been read at least once.
    pub fn has_polled(&self) -> bool {
        self.polled_at.is_some()
    }

    /// The deployment to switch to, if the registry names another module
    /// than `digest` or another configuration than `config` (a redeploy of
    /// the same module with new settings), and it was not refused already;
    /// `None` between polls.
    ///
    /// # Errors
    /// Registry read errors.
    pub async fn poll(
        &mut self,
        digest: &str,
        config: &[(String, String)],
    ) -> Result<Option<Deployment>> {
        if self
            .polled_at
            .is_some_and(|at| at.elapsed() < self.interval)
        {
            return Ok(None);
        }
        let current = self.registry.current(&self.pipeline, &self.stage).await?;
        self.polled_at = Some(Instant::now());
        Ok(current.filter(|d| {
            (d.digest != digest || d.init_config() != config) && d.version != self.refused
        }))
    }

    /// The local file of the registry's module of sha256 `digest`
    /// (fetched from a lake on an object store first).
    ///
    /// # Errors
    /// The lake does not hold it, or it cannot be copied locally.
    pub async fn fetch(&self, digest: &str) -> Result<std::path::PathBuf> {
        Ok(self.registry.fetch(digest).await?)
    }

    /// Remembers that `deployment` could not be switched to.
    pub fn refuse(&mut self, deployment: &Deployment) {
        self.refused = deployment.version;
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use super::*;
    use crate::config::PipelineConfig;
    use crate::deployments::{Action, whoami};

    fn config_for(dir: &std::path::Path) -> PipelineConfig {
        std::fs::write(dir.join("m.wasm"), b"placeholder").expect("write module");
        let text = format!(
            "name = \"p\"\n[kafka]\nbrokers = \"embedded\"\ntopics = [\"t\"]\n\
             [lake]\nroot = \"{}\"\n[[stages]]\nname = \"s\"\nmodule = \"m.wasm\"\n",
            dir.join("lake").display()
        );
        PipelineConfig::parse(&text, &dir.join("p.toml")).expect("pipeline")
    }

    fn deployment(digest: &str, config: &[(&str, &str)]) -> Deployment {
        Deployment {
            pipeline: "p".into(),
            stage: "s".into(),
            digest: digest.into(),
            config: config
                .iter()
                .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
                .collect::<BTreeMap<_, _>>(),
            action: Action::Deploy,
            deployed_at: 0,
            deployed_by: whoami(),
            note: None,
            version: None,
        }
    }

    #[tokio::test]
    async fn a_stage_switches_on_a_new_module_or_config_but_not_to_a_refused_one() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config_for(dir.path());
        let mut writer = Registry::for_pipeline(&config).expect("registry");
        let mut watch =
            ModuleWatch::new(Registry::for_pipeline(&config).expect("registry"), "p", "s")
                .with_interval(Duration::ZERO);
        let running: Vec<(String, String)> = vec![("k".into(), "1".into())];
        assert!(!watch.has_polled());
        assert_eq!(watch.poll("aaa", &running).await.expect("poll"), None);
        assert!(watch.has_polled());

        writer
            .record(&deployment("aaa", &[("k", "1")]))
            .await
            .expect("record");
        assert_eq!(
            watch.poll("aaa", &running).await.expect("poll"),
            None,
            "the module and config it runs"
        );
        writer
            .record(&deployment("aaa", &[("k", "2")]))
            .await
            .expect("record");
        let same_module = watch
            .poll("aaa", &running)
            .await
            .expect("poll")
            .expect("switch");
        assert_eq!(same_module.config.get("k").map(String::as_str), Some("2"));

        writer
            .record(&deployment("bbb", &[("k", "1")]))
            .await
            .expect("record");
        let other = watch
            .poll("aaa", &running)
            .await
            .expect("poll")
            .expect("switch");
        assert_eq!(other.digest, "bbb");
        watch.refuse(&other);
        assert_eq!(
            watch.poll("aaa", &running).await.expect("poll"),
            None,
            "a refused deployment is not retried"
        );
        writer
            .record(&deployment("ccc", &[]))
            .await
            .expect("record");
        assert_eq!(
            watch
                .poll("aaa", &running)
                .await
                .expect("poll")
                .map(|d| d.digest),
            Some("ccc".to_owned()),
            "a later deployment is tried"
        );
    }

    #[tokio::test]
    async fn polls_are_spaced_by_the_interval() {
        let dir = tempfile::tempdir().expect("tempdir");
        let config = config_for(dir.path());
        let mut writer = Registry::for_pipeline(&config).expect("registry");
        let mut watch =
            ModuleWatch::new(Registry::for_pipeline(&config).expect("registry"), "p", "s");
        assert_eq!(watch.poll("aaa", &[]).await.expect("poll"), None);
        writer
            .record(&deployment("bbb", &[]))
            .await
            .expect("record");
        assert_eq!(
            watch.poll("aaa", &[]).await.expect("poll"),
            None,
            "within the interval the registry is not read"
        );
    }
}
