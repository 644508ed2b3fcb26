//! The pipeline's error type: the errors of the layers below, each keeping
//! its class, plus the identity of the stage that failed.

use std::path::PathBuf;

use ingot_core::{ErrorClass, io_class};
use ingot_delta::TableError;
use ingot_kafka::SourceError;
use ingot_sandbox::RuntimeError;

use crate::{config::ConfigError, deployments::DeploymentsError};

/// Any error of running a pipeline.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The pipeline file.
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
    /// The record of deployed modules.
    #[error(transparent)]
    Deployments(#[from] DeploymentsError),
    /// A file or folder ingot reads or writes besides the tables.
    #[error("{}: {source}", path.display())]
    Io {
        /// The path.
        path: PathBuf,
        /// The I/O error.
        source: std::io::Error,
    },
    /// Something this build of ingot does not do yet.
    #[error("not supported yet: {what}")]
    Unsupported {
        /// What was asked for, with the identifiers of the thing at fault.
        what: String,
    },
    /// A table maintenance operation refused or impossible as asked.
    #[error(transparent)]
    Maintenance(crate::maintenance::MaintenanceError),
    /// A stage cannot go on without a person's decision.
    #[error(transparent)]
    Progress(#[from] ProgressError),
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
    /// Another host of the fleet owns the stage (see [`crate::lease`]): this
    /// host's step did not commit, and the owner carries the range.
    #[error("stage {stage} is not this host's to run ({reason}; lease {lease})")]
    NotOwner {
        /// The stage.
        stage: String,
        /// The stage's lease folder.
        lease: String,
        /// What showed it.
        reason: String,
    },
    /// A broken invariant inside ingot: a bug.
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

    /// Whether the step stopped because another host owns its stage: not
    /// a failure of the stage, nothing to retry here.
    pub fn is_not_owner(&self) -> bool {
        match self {
            Error::NotOwner { .. } => true,
            Error::Stage { source, .. } => source.is_not_owner(),
            _ => false,
        }
    }

    /// Who has to act on this error.
    pub fn class(&self) -> ErrorClass {
        match self {
            Error::Config(_) | Error::Unsupported { .. } | Error::Progress(_) => ErrorClass::User,
            Error::Source(e) => e.class(),
            Error::Table(e) => e.class(),
            Error::Runtime(e) => e.class(),
            Error::Deployments(e) => e.class(),
            Error::Maintenance(e) => e.class(),
            Error::Io { source, .. } => io_class(source),
            Error::Stage { source, .. } => source.class(),
            // The fleet works as designed: another host acts.
            Error::NotOwner { .. } => ErrorClass::External,
            Error::Internal(_) => ErrorClass::Internal,
        }
    }
}

/// Why a stage stopped before reading a range: going on would lose or
/// duplicate rows, so it waits for a person. Nothing of the range was
/// written.
#[derive(Debug, thiserror::Error)]
pub enum ProgressError {
    /// A redo must run the module its first attempt ran, and it is gone.
    #[error(
        "input versions {from}..={to} of stage {stage} were first run with module {module} \
         (recorded in the quarantine commit of that attempt), which is neither in the \
         registry nor the stage's module file: deploy that module again (`ingot deploy`) \
         so the stage can finish the range as it started it, then deploy the new one"
    )]
    PinnedModuleMissing {
        /// The stage.
        stage: String,
        /// First input version of the range.
        from: i64,
        /// Last input version of the range.
        to: i64,
        /// sha256 hex of the module.
        module: String,
    },
    /// The input's log no longer holds versions the stage has not read.
    #[error(
        "stage {stage} needs versions {from}..={to} of its input {table}, but the input's log \
         now starts at version {oldest} (a log cleanup or vacuum removed the older ones; \
         the stage fell behind the retention): re-derive the stage from a snapshot of the input \
         by removing its output, quarantine and tombstones tables (a stage without progress \
         starts from the input's current snapshot), or restore the input's history"
    )]
    HistoryGone {
        /// The stage.
        stage: String,
        /// The input table.
        table: String,
        /// First version needed.
        from: i64,
        /// Last version needed.
        to: i64,
        /// The oldest version the input's log still holds.
        oldest: i64,
    },
}

/// The crate's result type.
pub type Result<T, E = Error> = std::result::Result<T, E>;
