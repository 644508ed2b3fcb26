//! The pipeline's table maintenance on a task of its own: a pass over its
//! tables every `[maintenance] interval-seconds`, while this host holds the
//! pipeline's maintenance lease (one host of a fleet maintains); a `--once`
//! run makes one pass between its ingest and its stages. Nothing waits for
//! it.

use std::{sync::Arc, time::Duration};

use crate::metrics::{self, PipelineLabels};
use crate::{config::PipelineConfig, maintenance::Maintainer, status::MaintenanceStatus};

use super::stage_task::Shared;

/// How often the task checks whether the run stops while it waits.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Maintains `config`'s tables until the run stops.
pub(super) async fn run(config: Arc<PipelineConfig>, shared: Arc<Shared>) {
    let mut maintainer = Maintainer::new((*config).clone());
    let interval = config.maintenance.interval();
    loop {
        let started = tokio::time::Instant::now();
        while started.elapsed() < interval {
            if shared.stopping() {
                return;
            }
            tokio::time::sleep(STOP_POLL.min(interval)).await;
        }
        if shared.keeper.as_ref().is_some_and(|k| k.maintains()) {
            pass(&mut maintainer, &shared).await;
        }
    }
}

/// One pass, recorded on the status board.
pub(super) async fn pass(maintainer: &mut Maintainer, shared: &Shared) {
    let status = MaintenanceStatus::of(maintainer.pass().await);
    metrics::maintenance_pass(
        &PipelineLabels::of(maintainer.config()),
        !status.errors.is_empty(),
    );
    shared.board.lock().await.set_maintenance(status);
}
