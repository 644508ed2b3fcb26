//! The error of a command: whatever layer it came from, with its class, so
//! `main` can say whether retrying may help or the error is a bug to report.

use std::path::PathBuf;

use ingot_core::{ErrorClass, io_class};
use ingot_delta::TableError;
use ingot_kafka::SourceError;
use ingot_pipeline::{config::ConfigError, deployments::DeploymentsError};
use ingot_registry::RegistryError;
use ingot_sandbox::RuntimeError;

use crate::tenancy::TenantError;

/// Any error of an `ingot` command.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// Running a pipeline, or one of the layers below it.
    #[error(transparent)]
    Pipeline(#[from] ingot_pipeline::Error),
    /// The module registry: deploy, rollback, validation.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A refused administrative request.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// A file the command reads or writes.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// A broken invariant inside ingot: a bug.
    #[error("internal error: {0}")]
    Internal(String),
}

/// The errors of the layers below convert through the pipeline's error,
/// which keeps each one's class.
macro_rules! through_pipeline {
    ($($t:ty),*) => {$(
        impl From<$t> for Error {
            fn from(e: $t) -> Self {
                Error::Pipeline(e.into())
            }
        }
    )*};
}
through_pipeline!(
    ConfigError,
    SourceError,
    TableError,
    RuntimeError,
    DeploymentsError
);

impl Error {
    /// Who has to act on this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Pipeline(e) => e.class(),
            Error::Registry(e) => e.class(),
            Error::Tenant(e) => e.class(),
            Error::Io { source, .. } => io_class(source),
            Error::Internal(_) => ErrorClass::Internal,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
