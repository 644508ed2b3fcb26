//! `ingot serve host.toml`: every tenant's pipelines in one process, on one
//! pooled Wasm runtime.
//!
//! Each pipeline runs as its own task (ingest loop plus stage loop), so a
//! tenant's slow or failing stage never waits on another's. Every module
//! call of a tenant holds a permit of that tenant's gate (its
//! `concurrent-stages` limit), and calls run on blocking threads, so a
//! module spinning until its deadline occupies at most its own tenant's
//! permits: the other tenants keep their share of the cores.

use std::{
    path::PathBuf,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::Semaphore;

use ingot_kafka::embedded::EmbeddedBroker;
use ingot_pipeline::{Pipeline, RunMode, RunReport, config::PipelineConfig, status::StatusBoard};
use ingot_sandbox::Runtime;

use crate::{Error, Result, server::Live};

use super::HostConfig;

/// How one hosted pipeline's run ended.
#[derive(Debug)]
pub struct PipelineRun {
    /// Its tenant.
    pub tenant: String,
    /// Its name (or its file, when the file could not be loaded).
    pub pipeline: String,
    /// The run's report, or why it could not start or had to stop.
    pub result: Result<RunReport>,
}

/// Runs every tenant's pipelines until `stop` (or, with [`RunMode::Once`],
/// until each has processed what is available), registering each in `live`
/// as it starts; returns each one's result in host-file order.
///
/// # Errors
///
/// Only when the runtime cannot be created; a pipeline that cannot start
/// is reported in its [`PipelineRun`] and the others run.
pub async fn serve(
    host: &HostConfig,
    cache_dir: Option<PathBuf>,
    mode: RunMode,
    stop: Arc<AtomicBool>,
    live: &Live,
) -> Result<Vec<PipelineRun>> {
    let runtime = Arc::new(Runtime::pooled(cache_dir, host.runtime.max_instances)?);
    let gates: Vec<Arc<Semaphore>> = host
        .tenants
        .iter()
        .map(|t| Arc::new(Semaphore::new(t.limits.concurrent_stages)))
        .collect();
    let mut runs = Vec::new();
    let mut tasks = Vec::new();
    // Each pipeline stops on its own flag (a pipeline whose ingest fails for
    // good stops itself, not its neighbours); `stop` is relayed to all.
    let mut flags = Vec::new();
    // Prepared one at a time: the first pipeline compiles a module, the
    // others find it in the runtime's cache.
    for hosted in host.pipelines() {
        let tenant = host.tenants[hosted.tenant].name.clone();
        let config = match hosted.config {
            Ok(config) => config,
            Err(e) => {
                tracing::error!(%tenant, file = %hosted.path.display(), error = %e, "pipeline refused");
                live.refused(&tenant, &hosted.path.display().to_string(), &e);
                runs.push(PipelineRun {
                    tenant,
                    pipeline: hosted.path.display().to_string(),
                    result: Err(e.into()),
                });
                continue;
            }
        };
        let pipeline = config.name.clone();
        match prepare(config, &runtime).await {
            Ok(prepared) => {
                tracing::info!(%tenant, %pipeline, "pipeline started");
                live.running(&tenant, &pipeline, prepared.0.board());
                let (stop, task) = start(prepared, Arc::clone(&gates[hosted.tenant]), mode);
                flags.push(stop);
                tasks.push((runs.len(), task));
                runs.push(PipelineRun {
                    tenant,
                    pipeline,
                    result: Ok(RunReport::default()),
                });
            }
            Err(e) => {
                tracing::error!(%tenant, %pipeline, error = %e, "pipeline cannot start");
                live.refused(&tenant, &pipeline, &e);
                runs.push(PipelineRun {
                    tenant,
                    pipeline,
                    result: Err(e),
                });
            }
        }
    }
    let relay = tokio::spawn(relay_stop(stop, flags));
    for (index, task) in tasks {
        runs[index].result = task
            .await
            .map_err(|e| Error::Internal(format!("pipeline task: {e}")))
            .and_then(|r| r.map_err(Error::from));
    }
    relay.abort();
    Ok(runs)
}

/// Runs a prepared pipeline in its own task, its module calls under
/// `gate`; returns the flag that stops it and the task.
fn start(
    (pipeline, broker): (Pipeline, Option<EmbeddedBroker>),
    gate: Arc<Semaphore>,
    mode: RunMode,
) -> (
    Arc<AtomicBool>,
    tokio::task::JoinHandle<ingot_pipeline::Result<RunReport>>,
) {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    let task = tokio::spawn(async move {
        let brokers = broker.as_ref().map_or_else(
            || pipeline.config().kafka.brokers.clone(),
            |b| b.bootstrap().to_owned(),
        );
        pipeline.with_gate(&gate).run(brokers, mode, flag).await
    });
    (stop, task)
}

/// Sets every pipeline's flag once `stop` is set.
async fn relay_stop(stop: Arc<AtomicBool>, flags: Vec<Arc<AtomicBool>>) {
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    for flag in flags {
        flag.store(true, Ordering::SeqCst);
    }
}

/// Loads and initialises a pipeline's modules, and starts its embedded
/// broker if it has one. A failure is saved as the pipeline's status.
async fn prepare(
    config: PipelineConfig,
    runtime: &Arc<Runtime>,
) -> Result<(Pipeline, Option<EmbeddedBroker>)> {
    let runtime = Arc::clone(runtime);
    let saved = config.clone();
    let prepared = tokio::task::spawn_blocking(move || {
        let pipeline = Pipeline::prepare(config, runtime)?;
        let kafka = &pipeline.config().kafka;
        let broker = if kafka.is_embedded() {
            Some(EmbeddedBroker::start(
                &kafka.topics,
                kafka.embedded_partitions,
            )?)
        } else {
            None
        };
        Ok::<_, ingot_pipeline::Error>((pipeline, broker))
    })
    .await
    .map_err(|e| Error::Internal(format!("preparing a pipeline: {e}")))?;
    if let Err(e) = &prepared {
        StatusBoard::not_started(&saved, e).save(true, true).await;
    }
    Ok(prepared?)
}
