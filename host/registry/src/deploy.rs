//! `ingot deploy` and `ingot rollback`: validate a module against its stage,
//! store it by digest, record the deployment. A running host picks the new
//! module up between two commits.

use std::path::{Path, PathBuf};
use std::sync::Arc;

use super::validate::{DryRun, Target, validate};
use super::{Action, Deployment, Registry, RegistryError, whoami};
use ingot_core::clock::now_micros;
use ingot_pipeline::config::PipelineConfig;
use ingot_pipeline::deployments::digest_of;
use ingot_sandbox::Runtime;

/// A module a rollback may go back to: digest, file, config entries.
type Candidate = (String, PathBuf, Vec<(String, String)>);

/// A recorded deploy or rollback.
#[derive(Debug, serde::Serialize, serde::Deserialize)]
pub struct Deployed {
    /// The row recorded.
    pub deployment: Deployment,
    /// The digest the stage ran before (`None`: its pipeline file's module).
    pub previous: Option<String>,
    /// What validation's dry run did.
    pub dry_run: DryRun,
}

/// Validates `module` for `stage` of `config` (with the stage config plus
/// `overrides`), stores it and records the deployment.
///
/// # Errors
/// [`RegistryError::UnknownStage`], [`RegistryError::Refused`] naming the
/// failed check (nothing is recorded), and storage errors.
pub async fn deploy(
    config: &PipelineConfig,
    stage: &str,
    module: &Path,
    overrides: &[(String, String)],
    note: Option<String>,
    runtime: &Arc<Runtime>,
) -> Result<Deployed, RegistryError> {
    let index = stage_index(config, stage)?;
    let validated = validate(
        &Target {
            config,
            index,
            module,
        },
        overrides,
        runtime,
    )
    .await?;
    let mut registry = Registry::for_pipeline(config)?;
    let bytes = std::fs::read(module).map_err(|source| RegistryError::Io {
        path: module.to_owned(),
        source,
    })?;
    let digest = registry.store(&bytes).await?;
    if digest != validated.module.digest() {
        return Err(RegistryError::Changed {
            path: module.to_owned(),
        });
    }
    let previous = registry
        .current(&config.name, stage)
        .await?
        .map(|d| d.digest);
    let mut deployment = Deployment {
        pipeline: config.name.clone(),
        stage: stage.to_owned(),
        digest,
        config: validated.config,
        action: Action::Deploy,
        deployed_at: now_micros(),
        deployed_by: whoami(),
        note,
        version: None,
    };
    deployment.version = Some(registry.record(&deployment).await?);
    Ok(Deployed {
        deployment,
        previous,
        dry_run: validated.dry_run,
    })
}

/// Deploys an earlier module of `stage` again, after validating it: the one
/// whose digest starts with `to`, else the latest module the stage ran
/// before its current one (its pipeline file's module being the first).
///
/// # Errors
/// [`RegistryError::NoRollback`] when there is no such module, otherwise as
/// [`deploy`].
pub async fn rollback(
    config: &PipelineConfig,
    stage: &str,
    to: Option<&str>,
    runtime: &Arc<Runtime>,
) -> Result<Deployed, RegistryError> {
    let index = stage_index(config, stage)?;
    let mut registry = Registry::for_pipeline(config)?;
    let history = registry.history(&config.name, Some(stage)).await?;
    let no_rollback = |reason: String| RegistryError::NoRollback {
        pipeline: config.name.clone(),
        stage: stage.to_owned(),
        reason,
    };
    let Some(current) = history.last() else {
        return Err(no_rollback(
            "nothing was ever deployed to it: it runs its pipeline file's module".into(),
        ));
    };
    let candidates = candidates(&config.stages[index].module, &registry, &history);
    let chosen = match to {
        Some(prefix) => candidates
            .into_iter()
            .find(|(digest, _, _)| digest.starts_with(prefix))
            .ok_or_else(|| no_rollback(format!("no module {prefix}… ever ran in this stage")))?,
        None => candidates
            .into_iter()
            .find(|(digest, _, _)| *digest != current.digest)
            .ok_or_else(|| no_rollback("it never ran another module".into()))?,
    };
    let (digest, path, overrides) = chosen;
    // The pipeline file's module is stored like a deploy's; an earlier
    // deployment's is in the registry already (fetched, on an object store).
    let from_file = path == config.stages[index].module;
    let path = if from_file {
        path
    } else {
        registry.fetch(&digest).await?
    };
    let validated = validate(
        &Target {
            config,
            index,
            module: &path,
        },
        &overrides,
        runtime,
    )
    .await?;
    if from_file {
        let bytes = std::fs::read(&path).map_err(|source| RegistryError::Io {
            path: path.clone(),
            source,
        })?;
        registry.store(&bytes).await?;
    }
    let mut deployment = Deployment {
        pipeline: config.name.clone(),
        stage: stage.to_owned(),
        digest,
        config: validated.config,
        action: Action::Rollback,
        deployed_at: now_micros(),
        deployed_by: whoami(),
        note: None,
        version: None,
    };
    deployment.version = Some(registry.record(&deployment).await?);
    Ok(Deployed {
        deployment,
        previous: Some(current.digest.clone()),
        dry_run: validated.dry_run,
    })
}

/// The modules a rollback may go back to, newest first: the stage's
/// earlier deployments, then its pipeline file's module (`file`).
fn candidates(file: &Path, registry: &Registry, history: &[Deployment]) -> Vec<Candidate> {
    let mut candidates: Vec<Candidate> = history
        .iter()
        .rev()
        .map(|d| {
            (
                d.digest.clone(),
                registry.module_path(&d.digest),
                d.init_config(),
            )
        })
        .collect();
    if let Ok(bytes) = std::fs::read(file) {
        candidates.push((digest_of(&bytes), file.to_owned(), Vec::new()));
    }
    candidates
}

/// The index of `stage` in `config`.
///
/// # Errors
/// [`RegistryError::UnknownStage`] listing the stages.
pub fn stage_index(config: &PipelineConfig, stage: &str) -> Result<usize, RegistryError> {
    config
        .stages
        .iter()
        .position(|s| s.name == stage)
        .ok_or_else(|| RegistryError::UnknownStage {
            pipeline: config.name.clone(),
            stage: stage.to_owned(),
            known: config
                .stages
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", "),
        })
}
