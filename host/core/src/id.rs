//! Who a stage is.

use std::fmt;

/// Who a stage (and the module instance running for it) belongs to: in
/// every error and log line.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct StageId {
    /// Tenant owning the pipeline.
    pub tenant: String,
    /// Pipeline name.
    pub pipeline: String,
    /// Stage name within the pipeline.
    pub stage: String,
}

impl StageId {
    /// A stage id from its three parts.
    pub fn new(
        tenant: impl Into<String>,
        pipeline: impl Into<String>,
        stage: impl Into<String>,
    ) -> Self {
        StageId {
            tenant: tenant.into(),
            pipeline: pipeline.into(),
            stage: stage.into(),
        }
    }
}

impl fmt::Display for StageId {
    /// `tenant/pipeline/stage`.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}/{}", self.tenant, self.pipeline, self.stage)
    }
}

/// The short form of a module digest used in messages: its first 12 hex digits.
pub fn short_digest(digest: &str) -> &str {
    digest.get(..12).unwrap_or(digest)
}
