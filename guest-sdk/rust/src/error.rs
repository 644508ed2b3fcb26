//! The error a transform returns for a whole call, mirroring the WIT
//! `error` variant.

use arrow_schema::ArrowError;

/// Why a whole `init` or `process` call failed.
///
/// The host retries a failed batch with backoff and reports the message with
/// the tenant, pipeline, stage and module. Refuse a single bad row with
/// [`Output::reject`](crate::Output::reject) instead.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum Error {
    /// The stage configuration is unusable (a missing or malformed key).
    #[error("invalid config: {0}")]
    InvalidConfig(String),
    /// The input batch is not what the transform expects (a missing column,
    /// a wrong type): a pipeline wiring problem, not a bad row.
    #[error("invalid input: {0}")]
    InvalidInput(String),
    /// Anything else.
    #[error("{0}")]
    Failed(String),
}

/// Arrow errors inside a transform (building the output batch, say) are
/// failures of the transform itself.
impl From<ArrowError> for Error {
    fn from(error: ArrowError) -> Self {
        Self::Failed(format!("arrow: {error}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn display_names_the_kind() {
        assert_eq!(
            Error::InvalidConfig("missing key `x`".into()).to_string(),
            "invalid config: missing key `x`"
        );
        assert_eq!(
            Error::InvalidInput("no column".into()).to_string(),
            "invalid input: no column"
        );
        assert_eq!(Error::Failed("boom".into()).to_string(), "boom");
    }

    #[test]
    fn arrow_errors_are_failures() {
        let error = Error::from(ArrowError::ComputeError("overflow".into()));
        assert!(matches!(&error, Error::Failed(message) if message.contains("overflow")));
    }
}
