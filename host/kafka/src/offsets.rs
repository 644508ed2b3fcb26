//! Whether a partition's offsets on the broker still follow on from what
//! bronze holds of it.
//!
//! Bronze records, per partition, the last offset it wrote (its `txn`). A
//! partition resumes at that offset + 1, and every record at or below it is
//! dropped as already written. That is right only while the broker's
//! partition is the one bronze read. Two things break it, and neither shows
//! up as an error from librdkafka:
//!
//! - **backwards**: the partition's high watermark is below bronze's next
//!   offset. The topic was deleted and recreated, or this is another
//!   cluster (a restarted embedded broker is a new, empty one). Its offsets
//!   start again at 0, so without this check every record up to bronze's
//!   offset would be dropped as "already in bronze".
//! - **gap**: the partition's low watermark (its log start) is above bronze's
//!   next offset. Retention deleted records before ingest read them.
//!
//! [`check`] is the decision, pure; [`DataLoss`] is what a person is told.
//! What happens next is the pipeline's `on-data-loss` ([`OnDataLoss`]).
//!
//! A recreated topic that already holds more records than bronze's offset
//! looks like the old one from its watermarks alone. Kafka's topic id would
//! tell them apart, but rdkafka 0.39 exposes it nowhere outside unsafe FFI
//! (its metadata has no topic id and it does not wrap DescribeTopics), so
//! ingot does not read it.

use std::fmt;

use serde::{Deserialize, Serialize};

/// What ingest does with a partition whose offsets no longer follow on from
/// bronze's (Spark's `failOnDataLoss`, spelt as a choice).
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case")]
pub enum OnDataLoss {
    /// Stop the ingest with [`crate::SourceError::DataLoss`]; nothing is written.
    #[default]
    Fail,
    /// Start the partition over at the broker's earliest offset, recording
    /// the reset in bronze (a commit of its own) so lineage shows it.
    Reset,
}

/// How a partition's offsets on the broker compare with bronze's progress.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum OffsetCheck {
    /// Bronze's next offset is within the broker's offsets, or bronze holds
    /// nothing of the partition (it starts at `start-from`).
    Continues,
    /// The high watermark is below bronze's next offset.
    Backwards,
    /// The low watermark is above bronze's next offset.
    Gap,
}

/// Compares bronze's last offset of a partition (`None`: bronze holds none)
/// with the broker's `low` and `high` watermarks.
pub fn check(last: Option<i64>, low: i64, high: i64) -> OffsetCheck {
    let Some(last) = last else {
        return OffsetCheck::Continues;
    };
    let next = last + 1;
    if high < next {
        OffsetCheck::Backwards
    } else if low > next {
        OffsetCheck::Gap
    } else {
        OffsetCheck::Continues
    }
}

/// A partition whose offsets do not follow on from bronze's.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DataLoss {
    /// The topic.
    pub topic: String,
    /// The partition.
    pub partition: i32,
    /// [`OffsetCheck::Backwards`] or [`OffsetCheck::Gap`].
    pub kind: OffsetCheck,
    /// The last offset bronze holds of the partition.
    pub bronze_last: i64,
    /// The broker's low watermark: the earliest offset it still has.
    pub low: i64,
    /// The broker's high watermark: the offset of its next record.
    pub high: i64,
}

impl DataLoss {
    /// The loss [`check`] finds, if any.
    pub fn find(
        topic: &str,
        partition: i32,
        last: Option<i64>,
        low: i64,
        high: i64,
    ) -> Option<Self> {
        let kind = check(last, low, high);
        Some(DataLoss {
            topic: topic.to_owned(),
            partition,
            kind: (kind != OffsetCheck::Continues).then_some(kind)?,
            bronze_last: last?,
            low,
            high,
        })
    }

    /// Where a reset starts the partition: the earliest offset the broker has.
    pub fn restart_at(&self) -> i64 {
        self.low
    }
}

impl fmt::Display for DataLoss {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let DataLoss {
            topic,
            partition,
            bronze_last,
            low,
            high,
            ..
        } = self;
        let next = bronze_last + 1;
        match self.kind {
            OffsetCheck::Backwards => write!(
                f,
                "partition {topic}/{partition} went backwards: bronze holds offsets up to \
                 {bronze_last} but the broker's offsets are {low}..{high} (low..high watermark), \
                 so the topic was deleted and recreated or this is another cluster; records \
                 below offset {next} would be dropped as already in bronze"
            ),
            _ => write!(
                f,
                "records of partition {topic}/{partition} were deleted before ingest read \
                 them: bronze's next offset is {next} but the broker's offsets are \
                 {low}..{high} (low..high watermark), so offsets {next}..{} are gone \
                 (retention)",
                low - 1
            ),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_partition_bronze_has_not_seen_continues_whatever_the_broker_has() {
        assert_eq!(check(None, 0, 0), OffsetCheck::Continues);
        assert_eq!(check(None, 500, 900), OffsetCheck::Continues);
    }

    #[test]
    fn bronze_next_offset_within_the_watermarks_continues() {
        // Caught up, behind, at the log start, and an empty partition whose
        // records were all read and then deleted.
        assert_eq!(check(Some(99), 0, 100), OffsetCheck::Continues);
        assert_eq!(check(Some(49), 0, 100), OffsetCheck::Continues);
        assert_eq!(check(Some(49), 50, 100), OffsetCheck::Continues);
        assert_eq!(check(Some(99), 100, 100), OffsetCheck::Continues);
        // Right after a reset to a new partition: progress = low - 1.
        assert_eq!(check(Some(-1), 0, 0), OffsetCheck::Continues);
        assert_eq!(check(Some(-1), 0, 300), OffsetCheck::Continues);
    }

    #[test]
    fn a_high_watermark_below_bronze_next_offset_went_backwards() {
        assert_eq!(check(Some(1999), 0, 1000), OffsetCheck::Backwards);
        assert_eq!(check(Some(1999), 0, 0), OffsetCheck::Backwards);
        assert_eq!(check(Some(100), 0, 100), OffsetCheck::Backwards);
        // Backwards wins over a gap: both watermarks are past nothing bronze read.
        assert_eq!(check(Some(1999), 1500, 1500), OffsetCheck::Backwards);
    }

    #[test]
    fn a_low_watermark_above_bronze_next_offset_is_a_gap() {
        assert_eq!(check(Some(49), 51, 100), OffsetCheck::Gap);
        assert_eq!(check(Some(-1), 10, 10), OffsetCheck::Gap);
    }

    #[test]
    fn the_message_names_the_partition_and_every_offset() {
        let loss = DataLoss::find("logs", 2, Some(1999), 0, 300).expect("backwards");
        let text = loss.to_string();
        for part in ["logs/2", "went backwards", "1999", "0..300"] {
            assert!(text.contains(part), "{part} in {text}");
        }
        let gap = DataLoss::find("logs", 0, Some(49), 80, 100).expect("gap");
        assert_eq!(gap.kind, OffsetCheck::Gap);
        assert_eq!(gap.restart_at(), 80);
        assert!(gap.to_string().contains("offsets 50..79 are gone"), "{gap}");
        assert_eq!(DataLoss::find("logs", 0, Some(49), 0, 100), None);
        assert_eq!(DataLoss::find("logs", 0, None, 80, 100), None);
    }
}
