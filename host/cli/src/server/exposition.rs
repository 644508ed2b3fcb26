//! The Prometheus recorder every pipeline of the process reports to, and
//! its text exposition for `/metrics`.

use std::{sync::OnceLock, time::Duration};

use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};

use crate::{Error, Result};

/// Bucket bounds of the `_seconds` histograms: 1 ms to 2 min, for module
/// calls (milliseconds) as well as commits on an object store (seconds).
const SECONDS_BUCKETS: &[f64] = &[
    0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0,
];
/// How often the recorder drains its histograms' pending samples.
const UPKEEP: Duration = Duration::from_secs(5);

static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();

/// Installs the process's Prometheus recorder (once; later calls return
/// the same handle) and starts its upkeep. Call before the pipelines
/// start: what they record before it is lost.
///
/// # Errors
///
/// [`Error::Internal`] when another recorder is installed already.
pub fn install() -> Result<PrometheusHandle> {
    if let Some(handle) = HANDLE.get() {
        return Ok(handle.clone());
    }
    let handle = PrometheusBuilder::new()
        .set_buckets_for_metric(Matcher::Suffix("_seconds".into()), SECONDS_BUCKETS)
        .map_err(|e| Error::Internal(format!("metrics buckets: {e}")))?
        .install_recorder()
        .map_err(|e| Error::Internal(format!("installing the metrics recorder: {e}")))?;
    ingot_pipeline::metrics::describe();
    let upkeep = handle.clone();
    tokio::spawn(async move {
        loop {
            tokio::time::sleep(UPKEEP).await;
            upkeep.run_upkeep();
        }
    });
    Ok(HANDLE.get_or_init(|| handle).clone())
}
