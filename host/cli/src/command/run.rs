//! `ingot run` and `ingot serve`: the long-running commands, their stop
//! signal and their reports.

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use ingot_kafka::embedded::EmbeddedBroker;
use ingot_pipeline::{Pipeline, RunMode, RunReport, config::PipelineConfig};
use ingot_sandbox::Runtime;

use super::progress::Progress;
use crate::{
    Result,
    server::{Live, ReadyBounds, Server, api::Api},
    tenancy::{self, HostConfig, serve::PipelineRun},
};

pub(super) async fn run(
    file: &Path,
    once: bool,
    cache_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
) -> Result<i32> {
    let config = PipelineConfig::load(file)?;
    let live = Live::default();
    // Before the pipeline: its metrics are recorded from its first step.
    let _server = match listen {
        Some(address) => {
            Some(Server::start(address, ReadyBounds::default(), live.clone(), None).await?)
        }
        None => None,
    };
    let runtime = Arc::new(Runtime::new(cache_dir)?);
    let pipeline = Pipeline::prepare(config, runtime)?;
    live.running(
        &pipeline.config().tenant,
        &pipeline.config().name,
        pipeline.board(),
    );
    let embedded = start_embedded(pipeline.config())?;
    let brokers = embedded.as_ref().map_or_else(
        || pipeline.config().kafka.brokers.clone(),
        |b| b.bootstrap().to_owned(),
    );
    let mode = if once {
        RunMode::Once
    } else {
        RunMode::Continuous
    };
    // A backlog's progress, for `--once` (a continuous run has `ingot
    // status` and its metrics).
    let progress = once.then(|| Progress::show(pipeline.board()));
    let report = pipeline.run(brokers, mode, stop_on_ctrl_c()).await;
    if let Some(progress) = progress {
        progress.finish().await;
    }
    let report = report?;
    print_report(&report);
    Ok(if report.errors.is_empty() { 0 } else { 1 })
}

pub(super) async fn serve(
    file: &Path,
    once: bool,
    cache_dir: Option<PathBuf>,
    listen: Option<SocketAddr>,
) -> Result<i32> {
    let host = HostConfig::load(file)?;
    let live = Live::default();
    let _server = if host.server.enabled || listen.is_some() {
        let address = listen.unwrap_or(host.server.listen);
        let api = Arc::new(Api::new(&host, cache_dir.clone())?);
        Some(Server::start(address, host.server.bounds(), live.clone(), Some(api)).await?)
    } else {
        None
    };
    let mode = if once {
        RunMode::Once
    } else {
        RunMode::Continuous
    };
    println!(
        "serving {} from {}",
        counted(host.tenants.len() as u64, "tenant"),
        file.display()
    );
    let runs = tenancy::serve::serve(&host, cache_dir, mode, stop_on_ctrl_c(), &live).await?;
    let mut failed = false;
    for PipelineRun {
        tenant,
        pipeline,
        result,
    } in &runs
    {
        println!("\n== tenant {tenant}, pipeline {pipeline}");
        match result {
            Ok(report) => {
                print_report(report);
                failed |= !report.errors.is_empty();
            }
            Err(e) => {
                eprintln!("error: tenant {tenant}, pipeline {pipeline}: {e}");
                failed = true;
            }
        }
    }
    Ok(i32::from(failed))
}

/// `ingot broker`: the mock cluster until Ctrl-C or SIGTERM.
pub(super) async fn broker(args: &super::BrokerArgs) -> Result<i32> {
    let topics: Vec<(String, i32)> = args
        .topics
        .iter()
        .map(|(t, n)| (t.clone(), if *n == 0 { args.partitions } else { *n }))
        .collect();
    let broker = EmbeddedBroker::start_topics(&topics)?;
    let address = broker.bootstrap().to_owned();
    if let Some(file) = &args.address_file {
        std::fs::write(file, format!("{address}\n")).map_err(|source| crate::Error::Io {
            path: file.clone(),
            source,
        })?;
    }
    println!("bootstrap: {address}");
    println!(
        "topics: {}",
        args.topics
            .iter()
            .map(|(t, _)| t.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    );
    println!(
        "(librdkafka's mock cluster: data in memory, 5 MiB / 100,000 messages kept per partition; Ctrl-C stops it)"
    );
    let stop = stop_on_ctrl_c();
    while !stop.load(Ordering::SeqCst) {
        tokio::time::sleep(std::time::Duration::from_millis(100)).await;
    }
    drop(broker);
    Ok(0)
}

/// Sets the returned flag on Ctrl-C or SIGTERM: the run stops after its
/// current commit. A second signal aborts at once.
pub(super) fn stop_on_ctrl_c() -> Arc<AtomicBool> {
    let stop = Arc::new(AtomicBool::new(false));
    let flag = Arc::clone(&stop);
    tokio::spawn(async move {
        let Ok(mut term) =
            tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate())
        else {
            return;
        };
        let signalled = async {
            tokio::select! {
                r = tokio::signal::ctrl_c() => r.is_ok(),
                r = term.recv() => r.is_some(),
            }
        };
        if signalled.await {
            tracing::info!("stopping after the current commit (signal again to abort)");
            flag.store(true, Ordering::SeqCst);
            tokio::select! {
                _ = tokio::signal::ctrl_c() => {}
                _ = term.recv() => {}
            }
            std::process::exit(130);
        }
    });
    stop
}

fn start_embedded(config: &PipelineConfig) -> Result<Option<EmbeddedBroker>> {
    if !config.kafka.is_embedded() {
        return Ok(None);
    }
    let broker = EmbeddedBroker::start(&config.kafka.topics, config.kafka.embedded_partitions)?;
    println!(
        "embedded kafka broker at {} (topics: {}; in memory, demo scale: each partition keeps only its newest 100,000 records)",
        broker.bootstrap(),
        config.kafka.topics.join(", ")
    );
    Ok(Some(broker))
}

pub(super) fn print_report(report: &RunReport) {
    let i = &report.ingest;
    println!(
        "ingest: {} in {}",
        counted(i.records, "record"),
        counted(i.commits, "bronze commit")
    );
    for s in &report.stages {
        println!(
            "stage {}: {} in, {} out, {} quarantined, {}",
            s.stage,
            counted(s.rows_in, "change"),
            counted(s.rows_out, "row"),
            s.rejected,
            counted(s.commits, "commit")
        );
    }
    for e in &report.errors {
        eprintln!("error: {e}");
    }
}

/// `1 commit`, `2 commits`.
pub(super) fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}
