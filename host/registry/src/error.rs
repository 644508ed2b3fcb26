//! Errors of the registry and of deploy validation.

use std::path::PathBuf;

use super::validate;
use ingot_core::ErrorClass;
use ingot_delta::TableError;
use ingot_pipeline::deployments::DeploymentsError;

/// Which validation check a module failed.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Check {
    /// The file is a Wasm component of the `ingot:transform/stage` world.
    Component,
    /// `init` succeeds with the stage's configuration.
    Init,
    /// A dry run over recent input succeeds.
    DryRun,
    /// The dry run's rows fit the stage's output table and write mode.
    Output,
}

impl std::fmt::Display for Check {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Check::Component => "is a component of the ingot:transform/stage@0.1.0 world",
            Check::Init => "init succeeds with the stage config",
            Check::DryRun => "a dry run over recent input succeeds",
            Check::Output => "the dry run's rows fit the output table",
        })
    }
}

/// A registry or deploy failure.
#[derive(Debug, thiserror::Error)]
pub enum RegistryError {
    /// A module file given to deploy could not be read.
    #[error("module file {}: {source}", path.display())]
    Io {
        /// The file.
        path: PathBuf,
        /// The cause.
        source: std::io::Error,
    },
    /// The module file was rewritten while it was being deployed: what was
    /// validated is not what would be stored.
    #[error("module file {} changed while it was being deployed: deploy it again", path.display())]
    Changed {
        /// The file.
        path: PathBuf,
    },
    /// The record of deployments (module store, deployments table).
    #[error(transparent)]
    Deployments(#[from] DeploymentsError),
    /// A table the validation reads.
    #[error(transparent)]
    Table(#[from] TableError),
    /// The pipeline has no stage of that name.
    #[error("pipeline {pipeline} has no stage {stage} (stages: {known})")]
    UnknownStage {
        /// Pipeline name.
        pipeline: String,
        /// The name asked for.
        stage: String,
        /// The stages it has, comma-separated.
        known: String,
    },
    /// A module failed a validation check; nothing was deployed.
    #[error("refused to deploy {module} to {pipeline}/{stage}: check failed: {check}: {reason}")]
    Refused {
        /// Pipeline name.
        pipeline: String,
        /// Stage name.
        stage: String,
        /// The module file (or digest).
        module: String,
        /// The check that failed.
        check: Check,
        /// Why.
        reason: String,
        /// The runtime or table error behind it, if any.
        #[source]
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    },
    /// A rollback with nothing to go back to.
    #[error("nothing to roll back to for {pipeline}/{stage}: {reason}")]
    NoRollback {
        /// Pipeline name.
        pipeline: String,
        /// Stage name.
        stage: String,
        /// Why.
        reason: String,
    },
    /// A broken invariant.
    #[error("internal registry error: {0}")]
    Internal(String),
}

impl RegistryError {
    /// Who has to act.
    pub fn class(&self) -> ErrorClass {
        match self {
            RegistryError::Io { source, .. } => ingot_core::io_class(source),
            RegistryError::Deployments(e) => e.class(),
            RegistryError::Table(e) => e.class(),
            RegistryError::Internal(_) => ErrorClass::Internal,
            RegistryError::Changed { .. }
            | RegistryError::UnknownStage { .. }
            | RegistryError::Refused { .. }
            | RegistryError::NoRollback { .. } => ErrorClass::User,
        }
    }

    /// A refusal of `check`, with the runtime error behind it.
    pub(crate) fn refused(
        target: &validate::Target<'_>,
        check: Check,
        reason: impl Into<String>,
        source: Option<Box<dyn std::error::Error + Send + Sync>>,
    ) -> RegistryError {
        RegistryError::Refused {
            pipeline: target.config.name.clone(),
            stage: target.config.stages[target.index].name.clone(),
            module: target.module.display().to_string(),
            check,
            reason: reason.into(),
            source,
        }
    }
}
