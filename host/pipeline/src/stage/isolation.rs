//! The budget of a range's isolation: how many failing calls and how much
//! time cutting failing chunks down to the rows the module fails on may
//! spend ([`super::execute`] does the cutting).

use std::time::Duration;

use super::execute::ExecuteSettings;

/// Failing calls isolation may spend on one range before it quarantines
/// the rest of the failing rows untried: bounds a step's time when the
/// module fails on everything (32 deadlines at most), while leaving room to
/// narrow down a few poison rows (about ten failing calls each in a range
/// of a thousand rows).
pub const ISOLATION_FAILURES: u32 = 32;

/// Call deadlines isolation may spend on one range, counted in wall time
/// (successful calls and waits for the tenant's gate included): past
/// `ISOLATION_DEADLINES x call-timeout` it starts no more calls and
/// quarantines the rest untried. Bounds the isolation of a range the
/// module times out on everywhere at 13 deadlines (2 min 10 s at the
/// default 10 s; the call budget alone allowed 32, over 5 minutes; a stop
/// interrupts either at once), while leaving room to narrow
/// a row that times out down in a slice of 2,048 rows (12 failing calls).
/// Wall time is not deterministic: a redo may isolate a range differently.
pub const ISOLATION_DEADLINES: u32 = 12;

/// What isolation may still spend on one range, shared by its chunks (see
/// the module docs).
#[derive(Debug, Clone)]
pub struct Isolation {
    /// Failing calls left.
    pub(super) failures: u32,
    time: Duration,
    /// Set when the range's isolation starts.
    deadline: Option<std::time::Instant>,
}

impl Isolation {
    /// The budget of one range run with `settings`.
    pub fn new(settings: &ExecuteSettings) -> Self {
        Isolation {
            failures: ISOLATION_FAILURES,
            time: settings.limits.call_timeout * ISOLATION_DEADLINES,
            deadline: None,
        }
    }

    /// Starts the clock of the range's isolation, if not yet started.
    pub(super) fn start(&mut self) {
        self.deadline
            .get_or_insert_with(|| std::time::Instant::now() + self.time);
    }

    /// Why isolation starts no more calls, if it does not: the failing-call
    /// budget or the time of [`ISOLATION_DEADLINES`] deadlines is spent.
    pub(super) fn untried(&self) -> Option<String> {
        if self.failures == 0 {
            Some(format!(
                "the module failed {ISOLATION_FAILURES} times isolating this range"
            ))
        } else if self
            .deadline
            .is_some_and(|deadline| std::time::Instant::now() >= deadline)
        {
            Some(format!(
                "isolating this range took longer than {:?}",
                self.time
            ))
        } else {
            None
        }
    }
}
