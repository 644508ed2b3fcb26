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
    /// A request that cannot be acted on as made (an admin API request's
    /// parameters).
    #[error("{0}")]
    Request(String),
    /// A request to a server's admin API failed (`--server`).
    #[error("{url}: {}{message}", status.map(|s| format!("{s}: ")).unwrap_or_default())]
    Remote {
        /// The request's URL.
        url: String,
        /// The HTTP status, when the server answered.
        status: Option<u16>,
        /// The server's message, or why it could not be reached.
        message: String,
        /// The class the server gave (external when unreachable).
        class: ErrorClass,
    },
    /// The server's address cannot be listened on.
    #[error("cannot listen on {address}: {source} (set another with --listen or [server] listen)")]
    Listen {
        /// The address.
        address: std::net::SocketAddr,
        /// Why.
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
            // An address in use or not this machine's is the configuration's.
            Error::Listen { .. } | Error::Request(_) => ErrorClass::User,
            Error::Remote { class, .. } => *class,
            Error::Internal(_) => ErrorClass::Internal,
        }
    }
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
