//! Errors of the table layer, each carrying the table (its URL) and, where it
//! matters, the version, and classified so the pipeline knows whether to
//! retry, quarantine or stop.

use deltalake::DeltaTableError;
use deltalake::datafusion::error::DataFusionError;
use deltalake::kernel::transaction::TransactionError;

use ingot_core::ErrorClass;

/// A failure of a Delta table operation.
#[derive(Debug, thiserror::Error)]
pub enum TableError {
    /// The URI names a storage scheme this build has no object store for.
    #[error(
        "table {table}: scheme {scheme}:// is not supported by this build (use a local path, a file:// url, or s3://, gs://, abfss://, az://)"
    )]
    UnsupportedScheme {
        /// The URI as given.
        table: String,
        /// The scheme, e.g. `s3`.
        scheme: String,
    },
    /// The URI is not a usable location (not UTF-8, cannot be made absolute, ...).
    #[error("table {table}: invalid location: {reason}")]
    InvalidLocation {
        /// The URI as given.
        table: String,
        /// What is wrong with it.
        reason: String,
    },
    /// Reading, writing or listing a plain object of the lake failed.
    #[error("lake object {uri}: {source}")]
    Object {
        /// The object's (or folder's) location.
        uri: String,
        /// The store's error.
        #[source]
        source: Box<deltalake::ObjectStoreError>,
    },
    /// The lake's object store refused the first write of a run for a reason
    /// retrying will not change: no such bucket, access denied, bad
    /// credentials.
    #[error(
        "lake {root}: the object store refused a write ({source}); check that the bucket (or container) exists, the endpoint and region in [lake.options], and the credentials in the environment"
    )]
    LakeRefused {
        /// The lake root.
        root: String,
        /// The store's error.
        #[source]
        source: Box<deltalake::ObjectStoreError>,
    },
    /// The lake's object store accepted a second create-only put of one key:
    /// concurrent commits to one table would both succeed.
    #[error(
        "lake {root}: the object store ignores If-None-Match (a second create-only put of one key succeeded), so two writers could both commit one table version; use a store that honours conditional writes (AWS S3, MinIO, R2, Ceph), or, with a single writer per table only, set aws_s3_allow_unsafe_rename = \"true\" in [lake.options]"
    )]
    UnsafeStore {
        /// The lake root.
        root: String,
    },
    /// Loading an existing table failed.
    #[error("cannot open table {table}: {source}")]
    Open {
        /// Table URL.
        table: String,
        /// The cause.
        #[source]
        source: Box<DeltaTableError>,
    },
    /// Creating a table failed.
    #[error("cannot create table {table}: {source}")]
    Create {
        /// Table URL.
        table: String,
        /// The cause.
        #[source]
        source: Box<DeltaTableError>,
    },
    /// Reading the table (log, snapshot, change data feed) failed.
    #[error("cannot read table {table} at version {version}: {source}")]
    Read {
        /// Table URL.
        table: String,
        /// The version being read (or the snapshot version the read started from).
        version: i64,
        /// The cause.
        #[source]
        source: Box<DeltaTableError>,
    },
    /// Writing or committing failed (other than a commit conflict).
    #[error("cannot write table {table} on top of version {version}: {source}")]
    Write {
        /// Table URL.
        table: String,
        /// The snapshot version the write was based on.
        version: i64,
        /// The cause.
        #[source]
        source: Box<DeltaTableError>,
    },
    /// A SQL query over the table failed.
    #[error("query over table {table} at version {version} failed: {source}")]
    Query {
        /// Table URL.
        table: String,
        /// The snapshot version queried.
        version: i64,
        /// The cause.
        #[source]
        source: Box<DataFusionError>,
    },
    /// A read-only query refused: not a query, or SQL that does not parse,
    /// plan or run (DataFusion's message).
    #[error("query refused: {reason}")]
    SqlRefused {
        /// Why.
        reason: String,
    },
    /// A read-only query still running at its time limit, stopped.
    #[error("query stopped at its time limit of {seconds} s")]
    SqlTimeout {
        /// The limit.
        seconds: f64,
    },
    /// The schema of the table and the schema given (or the batch) disagree.
    #[error("table {table}: schema mismatch: {details}")]
    SchemaMismatch {
        /// Table URL.
        table: String,
        /// The fields that differ and how.
        details: String,
    },
    /// A column the write mode needs (key, measure, sequence, delete flag or a
    /// table column) is not in the batch.
    #[error("table {table}: column {column} is missing from the batch")]
    MissingColumn {
        /// Table URL.
        table: String,
        /// The missing column.
        column: String,
    },
    /// The rows cannot be written as asked (a column of the wrong type,
    /// nulls in a non-nullable column, a measure overflowing, ...).
    #[error("table {table}: invalid batch: {reason}")]
    InvalidBatch {
        /// Table URL.
        table: String,
        /// What is wrong.
        reason: String,
    },
    /// Another writer committed first and its commit conflicts with ours (for
    /// example it carries a `txn` for the same application id). Nothing was
    /// committed: refresh the table and redo the work.
    #[error(
        "table {table}: commit on top of version {version} conflicts with a concurrent commit; refresh and retry"
    )]
    Conflict {
        /// Table URL.
        table: String,
        /// The snapshot version the losing write was based on.
        version: i64,
    },
    /// A version asked for (to restore, to read the state at) is not there
    /// to use: not older than the current one, no longer in the log, or its
    /// files were vacuumed.
    #[error("table {table}: version {version} cannot be used: {reason}")]
    VersionUnavailable {
        /// Table URL.
        table: String,
        /// The version asked for.
        version: i64,
        /// Why not.
        reason: String,
    },
    /// The ingot lineage in a commit cannot be decoded.
    #[error("table {table}: lineage of version {version} is unreadable: {source}")]
    Lineage {
        /// Table URL.
        table: String,
        /// The commit version.
        version: i64,
        /// The cause.
        #[source]
        source: serde_json::Error,
    },
    /// An invariant of this module broke.
    #[error("table {table}: internal error: {reason}")]
    Internal {
        /// Table URL.
        table: String,
        /// What broke.
        reason: String,
    },
}

impl TableError {
    /// Who has to act on this error: conflicts and storage I/O are
    /// [`ErrorClass::External`] (retry), bad schemas, locations and rows are
    /// [`ErrorClass::User`], anything else delta-rs reports is
    /// [`ErrorClass::Internal`].
    pub fn class(&self) -> ErrorClass {
        match self {
            TableError::Conflict { .. } | TableError::Object { .. } => ErrorClass::External,
            TableError::UnsupportedScheme { .. }
            | TableError::UnsafeStore { .. }
            | TableError::LakeRefused { .. }
            | TableError::InvalidLocation { .. }
            | TableError::SchemaMismatch { .. }
            | TableError::MissingColumn { .. }
            | TableError::InvalidBatch { .. }
            | TableError::VersionUnavailable { .. }
            | TableError::SqlRefused { .. }
            | TableError::SqlTimeout { .. } => ErrorClass::User,
            TableError::Lineage { .. } | TableError::Internal { .. } => ErrorClass::Internal,
            TableError::Query { source, .. } => {
                if chain_has_io(source) {
                    ErrorClass::External
                } else {
                    ErrorClass::User
                }
            }
            TableError::Open { source, .. }
            | TableError::Create { source, .. }
            | TableError::Read { source, .. }
            | TableError::Write { source, .. } => classify_delta(source),
        }
    }

    /// Whether this is a commit conflict (refresh the table and redo the work).
    pub fn is_conflict(&self) -> bool {
        matches!(self, TableError::Conflict { .. })
    }
}

/// Classifies a delta-rs error by what caused it.
fn classify_delta(error: &DeltaTableError) -> ErrorClass {
    match error {
        DeltaTableError::ObjectStore { .. }
        | DeltaTableError::Io { .. }
        | DeltaTableError::VersionAlreadyExists(_)
        | DeltaTableError::Transaction {
            source:
                TransactionError::CommitConflict(_)
                | TransactionError::MaxCommitAttempts(_)
                | TransactionError::ObjectStore { .. }
                | TransactionError::LogStoreError { .. },
        } => ErrorClass::External,
        DeltaTableError::SchemaMismatch { .. }
        | DeltaTableError::InvalidData { .. }
        | DeltaTableError::NotATable(_)
        | DeltaTableError::InvalidTableLocation(_)
        | DeltaTableError::ChangeDataNotEnabled { .. }
        | DeltaTableError::ChangeDataNotRecorded { .. }
        | DeltaTableError::ChangeDataInvalidVersionRange { .. } => ErrorClass::User,
        other if chain_has_io(other) => ErrorClass::External,
        _ => ErrorClass::Internal,
    }
}

/// Whether an object-store or I/O error is anywhere in the cause chain.
fn chain_has_io(error: &(dyn std::error::Error + 'static)) -> bool {
    let mut current = Some(error);
    while let Some(e) = current {
        if e.is::<deltalake::ObjectStoreError>() || e.is::<std::io::Error>() {
            return true;
        }
        current = e.source();
    }
    false
}

/// Whether a delta-rs error is a lost optimistic-concurrency race.
pub(crate) fn is_conflict(error: &DeltaTableError) -> bool {
    matches!(
        error,
        DeltaTableError::VersionAlreadyExists(_)
            | DeltaTableError::Transaction {
                source: TransactionError::CommitConflict(_)
                    | TransactionError::MaxCommitAttempts(_)
            }
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn classes_follow_the_cause() {
        let table = "file:///t".to_string();
        let conflict = TableError::Conflict {
            table: table.clone(),
            version: 3,
        };
        assert_eq!(conflict.class(), ErrorClass::External);
        assert!(conflict.is_conflict());
        let missing = TableError::MissingColumn {
            table: table.clone(),
            column: "id".into(),
        };
        assert_eq!(missing.class(), ErrorClass::User);
        let refused = TableError::LakeRefused {
            root: "s3://no-such-bucket/lake".into(),
            source: Box::new(deltalake::ObjectStoreError::NotFound {
                path: "probe".into(),
                source: "The specified bucket does not exist".into(),
            }),
        };
        assert_eq!(
            refused.class(),
            ErrorClass::User,
            "a person fixes the lake's settings"
        );
        assert!(
            refused.to_string().contains("s3://no-such-bucket/lake"),
            "{refused}"
        );
        let io = TableError::Write {
            table: table.clone(),
            version: 1,
            source: Box::new(DeltaTableError::ObjectStore {
                source: deltalake::ObjectStoreError::NotFound {
                    path: "x".into(),
                    source: "gone".into(),
                },
            }),
        };
        assert_eq!(io.class(), ErrorClass::External);
        let generic = TableError::Write {
            table,
            version: 1,
            source: Box::new(DeltaTableError::Generic("boom".into())),
        };
        assert_eq!(generic.class(), ErrorClass::Internal);
    }

    #[test]
    fn messages_name_table_and_version() {
        let e = TableError::Conflict {
            table: "file:///lake/silver".into(),
            version: 7,
        };
        let text = e.to_string();
        assert!(text.contains("file:///lake/silver"), "{text}");
        assert!(text.contains('7'), "{text}");
    }
}
