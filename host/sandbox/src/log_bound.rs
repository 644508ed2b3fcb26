//! The bounds on what a guest puts in the host's log: its `log` calls and
//! the lines it writes to stdout and stderr. Unbounded, a module logging in
//! a loop until its deadline wrote about 100 MB a second to the host's
//! stderr, and retries and poison isolation call it again and again; the
//! disk every tenant shares filled in minutes.
//!
//! Two bounds, both counting lines and bytes (the text of a line; the tags
//! each event carries cost about as much again):
//!
//! - per call: [`LINES_PER_CALL`] lines and [`BYTES_PER_CALL`] bytes; the
//!   rest of the call's output is dropped;
//! - per tenant, over every instance of its stages in one [`Runtime`]: a
//!   token bucket of [`TENANT_BURST_BYTES`] (and [`TENANT_BURST_LINES`])
//!   refilled at [`TENANT_BYTES_PER_SEC`] (and [`TENANT_LINES_PER_SEC`]), so
//!   the new instance every failed call gets, and a tenant's many stages,
//!   do not multiply the per-call bound.
//!
//! What is dropped is counted, summarised in one event per call and kept
//! on the [`Instance`] and the runtime for the stage's status.
//!
//! [`Runtime`]: super::Runtime
//! [`Instance`]: super::Instance

use std::sync::{Arc, Mutex, PoisonError};
use std::time::Instant;

/// Lines of guest output one call may put in the host's log.
pub const LINES_PER_CALL: u32 = 256;
/// Bytes of guest output (the lines' text) one call may put in the log.
pub const BYTES_PER_CALL: u64 = 64 << 10;
/// Lines a tenant may log in a burst.
pub const TENANT_BURST_LINES: u32 = 4_096;
/// Bytes a tenant may log in a burst.
pub const TENANT_BURST_BYTES: u64 = 1 << 20;
/// Lines a tenant may log per second, sustained.
pub const TENANT_LINES_PER_SEC: u32 = 32;
/// Bytes a tenant may log per second, sustained (about 700 MB a day).
pub const TENANT_BYTES_PER_SEC: u64 = 8 << 10;

/// Guest output that did not reach the host's log.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct DroppedLog {
    /// Lines dropped (a stream's bytes past its capture bound are counted
    /// in `bytes` only).
    pub lines: u64,
    /// Bytes dropped.
    pub bytes: u64,
}

impl DroppedLog {
    /// Whether nothing was dropped.
    pub fn is_empty(&self) -> bool {
        self.lines == 0 && self.bytes == 0
    }

    pub(super) fn add(&mut self, other: DroppedLog) {
        self.lines = self.lines.saturating_add(other.lines);
        self.bytes = self.bytes.saturating_add(other.bytes);
    }
}

/// A tenant's allowance: a token bucket shared by every instance of the
/// tenant's stages, and what the tenant had dropped in total.
#[derive(Debug)]
pub(super) struct TenantLog {
    lines: f64,
    bytes: f64,
    refilled: Instant,
    dropped: DroppedLog,
}

/// A tenant's allowance as the runtime and its instances hold it.
pub(super) type SharedTenantLog = Arc<Mutex<TenantLog>>;

impl TenantLog {
    pub(super) fn shared() -> SharedTenantLog {
        Arc::new(Mutex::new(TenantLog {
            lines: f64::from(TENANT_BURST_LINES),
            bytes: TENANT_BURST_BYTES as f64,
            refilled: Instant::now(),
            dropped: DroppedLog::default(),
        }))
    }

    /// Takes one line of `bytes` bytes from the bucket, if it holds them.
    fn take(&mut self, bytes: u64, now: Instant) -> bool {
        let secs = now.saturating_duration_since(self.refilled).as_secs_f64();
        self.refilled = now;
        self.lines = (self.lines + secs * f64::from(TENANT_LINES_PER_SEC))
            .min(f64::from(TENANT_BURST_LINES));
        self.bytes =
            (self.bytes + secs * TENANT_BYTES_PER_SEC as f64).min(TENANT_BURST_BYTES as f64);
        let bytes = bytes as f64;
        if self.lines < 1.0 || self.bytes < bytes {
            return false;
        }
        self.lines -= 1.0;
        self.bytes -= bytes;
        true
    }

    /// What the tenant's guests have dropped since the runtime started.
    pub(super) fn dropped(tenant: &SharedTenantLog) -> DroppedLog {
        tenant
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .dropped
    }
}

/// Which bound dropped a call's output first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Cut {
    /// The per-call bound of lines or bytes.
    Call,
    /// The tenant's allowance.
    Tenant,
    /// A stream's capture bound (bytes past it never became lines).
    Capture,
}

/// One call's allowance, and what the call dropped.
#[derive(Debug)]
pub(super) struct CallLog {
    tenant: SharedTenantLog,
    lines: u32,
    bytes: u64,
    dropped: DroppedLog,
    cut: Option<Cut>,
}

impl CallLog {
    pub(super) fn new(tenant: SharedTenantLog) -> Self {
        CallLog {
            tenant,
            lines: 0,
            bytes: 0,
            dropped: DroppedLog::default(),
            cut: None,
        }
    }

    /// Whether a line of `bytes` bytes may go to the log: counts it against
    /// the call's and the tenant's bounds if so, as dropped if not.
    pub(super) fn admit(&mut self, bytes: usize) -> bool {
        let bytes = u64::try_from(bytes).unwrap_or(u64::MAX);
        let verdict =
            if self.lines >= LINES_PER_CALL || self.bytes.saturating_add(bytes) > BYTES_PER_CALL {
                Err(Cut::Call)
            } else if !self
                .tenant
                .lock()
                .unwrap_or_else(PoisonError::into_inner)
                .take(bytes, Instant::now())
            {
                Err(Cut::Tenant)
            } else {
                Ok(())
            };
        match verdict {
            Ok(()) => {
                self.lines += 1;
                self.bytes += bytes;
                true
            }
            Err(cut) => {
                self.dropped.add(DroppedLog { lines: 1, bytes });
                self.cut.get_or_insert(cut);
                false
            }
        }
    }

    /// Counts `bytes` a stream dropped past its capture bound.
    pub(super) fn dropped_uncaptured(&mut self, bytes: u64) {
        if bytes > 0 {
            self.dropped.add(DroppedLog { lines: 0, bytes });
            self.cut.get_or_insert(Cut::Capture);
        }
    }

    /// Ends the call: what it dropped and the bound that cut it first; the
    /// next call starts with a fresh per-call allowance.
    pub(super) fn finish(&mut self) -> (DroppedLog, Option<Cut>) {
        let dropped = std::mem::take(&mut self.dropped);
        if !dropped.is_empty() {
            let mut tenant = self.tenant.lock().unwrap_or_else(PoisonError::into_inner);
            tenant.dropped.add(dropped);
        }
        self.lines = 0;
        self.bytes = 0;
        (dropped, self.cut.take())
    }
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use super::*;

    #[test]
    fn a_call_keeps_its_bound_and_counts_the_rest() {
        let mut call = CallLog::new(TenantLog::shared());
        let admitted = (0..1_000).filter(|_| call.admit(1_000)).count();
        assert_eq!(admitted, 65, "64 KiB of 1,000-byte lines");
        let short = (0..1_000).filter(|_| call.admit(1)).count();
        assert_eq!(short as u32, LINES_PER_CALL - 65);
        call.dropped_uncaptured(10);
        let (dropped, cut) = call.finish();
        assert_eq!(dropped.bytes, 935 * 1_000 + (1_000 - short as u64) + 10);
        assert_eq!(dropped.lines, 935 + 1_000 - short as u64);
        assert_eq!(cut, Some(Cut::Call));
        assert!(call.admit(1_000), "the next call starts afresh");
        assert_eq!(TenantLog::dropped(&call.tenant), dropped);
    }

    #[test]
    fn a_tenant_bucket_bounds_many_calls_and_refills() {
        let tenant = TenantLog::shared();
        let mut admitted = 0_u64;
        for _ in 0..100 {
            let mut call = CallLog::new(Arc::clone(&tenant));
            admitted += (0..100).filter(|_| call.admit(1_000)).count() as u64;
            call.finish();
        }
        // The burst, and what the bucket refilled while the test ran.
        let burst = TENANT_BURST_BYTES / 1_000;
        assert!((burst..=burst + 1).contains(&admitted), "{admitted}");
        let mut bucket = tenant.lock().expect("bucket");
        let later = bucket.refilled + Duration::from_secs(1);
        assert!(bucket.take(8_000, later), "a second refills 8 KiB");
        assert!(!bucket.take(1_000, later), "and no more");
    }
}
