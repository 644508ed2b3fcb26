//! The crate's error type: one enum per concern, aggregated here, each
//! classified so callers know whether to quarantine, retry or stop.

use crate::{
    config::ConfigError, registry::RegistryError, runtime::RuntimeError, source::SourceError,
    table::TableError, tenancy::TenantError,
};

/// Who has to act on an error, which decides what the host does with it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ErrorClass {
    /// Bad configuration, a bad module or a bad row: report it with the
    /// identifiers of the thing at fault; retrying the same input will not help.
    User,
    /// The broker or the object store failed or timed out: back off and retry.
    External,
    /// A bug in ingot or a broken invariant: fail fast.
    Internal,
}

/// Any error of the ingot host.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file or the command line.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// Kafka.
    #[error(transparent)]
    Source(#[from] SourceError),
    /// Delta tables.
    #[error(transparent)]
    Table(#[from] TableError),
    /// Wasm modules.
    #[error(transparent)]
    Runtime(#[from] RuntimeError),
    /// The module registry: deploy, rollback, deployments.
    #[error(transparent)]
    Registry(#[from] RegistryError),
    /// A refused administrative request.
    #[error(transparent)]
    Tenant(#[from] TenantError),
    /// A stage failed; wraps the cause with the stage's identity.
    #[error("stage {pipeline}/{stage} failed: {source}")]
    Stage {
        /// Pipeline name.
        pipeline: String,
        /// Stage name.
        stage: String,
        /// What went wrong.
        #[source]
        source: Box<Error>,
    },
    /// A broken invariant inside ingot.
    #[error("internal error: {0}")]
    Internal(String),
}

impl Error {
    /// Whether this is a Delta commit conflict: another writer got there
    /// first, and redoing the work from the new table state is the answer.
    pub fn is_conflict(&self) -> bool {
        match self {
            Error::Table(TableError::Conflict { .. }) => true,
            Error::Stage { source, .. } => source.is_conflict(),
            _ => false,
        }
    }

    /// Who has to act on this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config(_) => ErrorClass::User,
            Error::Source(e) => e.class(),
            Error::Table(e) => e.class(),
            Error::Runtime(e) => e.class(),
            Error::Registry(e) => e.class(),
            Error::Tenant(e) => e.class(),
            Error::Stage { source, .. } => source.class(),
            Error::Internal(_) => ErrorClass::Internal,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
