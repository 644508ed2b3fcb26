//! What one `process` call returns: output rows and rejected input rows.

use arrow_array::RecordBatch;

/// One input row the transform refuses; the host writes it, with `reason`,
/// to the stage's quarantine table.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rejected {
    /// Zero-based index of the row in the input batch.
    pub row: u32,
    /// Why the row was refused, for the person reading the quarantine.
    pub reason: String,
}

/// The result of [`Transform::process`](crate::Transform::process).
#[derive(Debug, Clone, PartialEq)]
pub struct Output {
    /// The output rows; the schema must be the same on every call.
    pub batch: RecordBatch,
    /// Input rows refused, each with its reason.
    pub rejected: Vec<Rejected>,
}

impl Output {
    /// Output rows with no rejects.
    pub fn new(batch: RecordBatch) -> Self {
        Self {
            batch,
            rejected: Vec::new(),
        }
    }

    /// Adds a rejected input row (its index in the input batch) and why.
    ///
    /// An index past the end of the input batch makes the call fail with
    /// [`Error::Failed`](crate::Error::Failed) at the boundary.
    #[must_use]
    pub fn reject(mut self, row: usize, reason: impl Into<String>) -> Self {
        self.push_reject(row, reason);
        self
    }

    /// Adds a rejected input row in place; see [`Output::reject`].
    pub fn push_reject(&mut self, row: usize, reason: impl Into<String>) {
        // An index beyond u32 is out of range for any batch the boundary
        // accepts, so saturating keeps it out of range and it is reported.
        let row = u32::try_from(row).unwrap_or(u32::MAX);
        self.rejected.push(Rejected {
            row,
            reason: reason.into(),
        });
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use arrow_schema::Schema;
    use std::sync::Arc;

    #[test]
    fn rejects_accumulate_in_order() {
        let batch = RecordBatch::new_empty(Arc::new(Schema::empty()));
        let mut output = Output::new(batch)
            .reject(3, "bad")
            .reject(1, String::from("worse"));
        output.push_reject(usize::MAX, "far");
        assert_eq!(
            output.rejected,
            vec![
                Rejected {
                    row: 3,
                    reason: "bad".into()
                },
                Rejected {
                    row: 1,
                    reason: "worse".into()
                },
                Rejected {
                    row: u32::MAX,
                    reason: "far".into()
                },
            ]
        );
    }
}
