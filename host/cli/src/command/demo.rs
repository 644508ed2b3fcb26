//! `ingot demo` and `ingot produce`.

use std::{
    path::{Path, PathBuf},
    sync::Arc,
};

use ingot_delta::Table;
use ingot_kafka::{embedded::EmbeddedBroker, producer};
use ingot_pipeline::{Pipeline, RunMode, config::PipelineConfig};
use ingot_sample::logs::LogSample;
use ingot_sandbox::Runtime;

use super::{
    DemoArgs, ProduceArgs,
    run::{print_report, stop_on_ctrl_c},
    table::print_batches,
};
use crate::{Error, Result};

/// `ingot produce`: `records` to `topic` at `brokers`, at most `rate` a second.
pub(super) async fn produce(args: ProduceArgs) -> Result<i32> {
    let records = args
        .sample
        .records(args.count, args.seed, args.malformed_per_mille);
    let (brokers, topic, rate) = (args.brokers, args.topic, args.rate);
    let sent =
        tokio::task::spawn_blocking(move || producer::produce(&brokers, &topic, records, rate))
            .await
            .map_err(|e| Error::Internal(format!("producer thread: {e}")))??;
    println!("produced {sent} records");
    Ok(0)
}

/// The pipeline the demo runs: `examples/logs.toml`.
const DEMO_PIPELINE: &str = include_str!("../../../../examples/logs.toml");

/// `ingot demo`: the pipeline of `examples/logs.toml`, pointed at an
/// embedded broker, a demo lake and the modules in `modules`, fed sample
/// log records, run `--once`; prints the gold table.
pub(super) async fn demo(args: DemoArgs, cache_dir: Option<PathBuf>) -> Result<i32> {
    let DemoArgs {
        modules,
        records,
        lake,
    } = args;
    let lake = lake
        .unwrap_or_else(|| std::env::temp_dir().join(format!("ingot-demo-{}", std::process::id())));
    let lake = absolute(&lake)?;
    std::fs::create_dir_all(&lake).map_err(|source| Error::Io {
        path: lake.clone(),
        source,
    })?;
    let modules = absolute(&modules)?;
    let broker = EmbeddedBroker::start(&["logs".to_owned()], 3)?;
    println!("embedded kafka broker at {}", broker.bootstrap());
    let pipeline_file = lake.join("pipeline.toml");
    let Some(config) = demo_config(&pipeline_file, &lake, &modules, broker.bootstrap())? else {
        return Ok(2);
    };
    write_pipeline_file(&config, &pipeline_file)?;
    let brokers = broker.bootstrap().to_owned();
    let sent = tokio::task::spawn_blocking(move || {
        producer::produce(
            &brokers,
            "logs",
            LogSample::new(7, 30).take(usize::try_from(records).unwrap_or(usize::MAX)),
            None,
        )
    })
    .await
    .map_err(|e| Error::Internal(format!("producer thread: {e}")))??;
    println!("produced {sent} sample log records to topic `logs`");
    let pipeline = Pipeline::prepare(config.clone(), Arc::new(Runtime::new(cache_dir)?))?;
    let report = pipeline
        .run(
            broker.bootstrap().to_owned(),
            RunMode::Once,
            stop_on_ctrl_c(),
        )
        .await?;
    print_report(&report);
    print_demo_tables(&config).await?;
    println!(
        "\npipeline file: {}\ninspect a table: ingot show {} silver\neach stage's state: ingot status --pipeline {}",
        pipeline_file.display(),
        pipeline_file.display(),
        pipeline_file.display()
    );
    Ok(i32::from(!report.errors.is_empty()))
}

/// The pipeline of `examples/logs.toml` as the demo runs it, to be written
/// at `pipeline_file`: its broker, lake and modules replaced; `None` (with
/// the reason printed) when a module is not built.
fn demo_config(
    pipeline_file: &Path,
    lake: &Path,
    modules: &Path,
    brokers: &str,
) -> Result<Option<PipelineConfig>> {
    let mut config = PipelineConfig::read(DEMO_PIPELINE, pipeline_file)?;
    config.kafka.brokers = brokers.to_owned();
    config.lake.root = lake.display().to_string();
    for stage in &mut config.stages {
        let file = stage
            .module
            .file_name()
            .map(PathBuf::from)
            .unwrap_or_default();
        stage.module = modules.join(file);
        if !stage.module.is_file() {
            eprintln!(
                "{} is missing: build the transforms first (./dev build-transforms) or pass --modules",
                stage.module.display()
            );
            return Ok(None);
        }
    }
    Ok(Some(config.validated()?))
}

/// The gold table and the reasons of the quarantined records.
async fn print_demo_tables(config: &PipelineConfig) -> Result<()> {
    let layout = config.layout();
    if let Some(gold) = Table::open(&layout.table_uri("gold")).await? {
        println!("\ngold ({}, version {}):", gold.uri(), gold.version());
        print_batches(
            &gold
                .query("SELECT level, count, latency_ms_sum FROM t ORDER BY level")
                .await?,
        )?;
    }
    if let Some(q) = Table::open(&layout.quarantine_uri("silver")).await? {
        println!("\nsome quarantined records ({}):", q.uri());
        print_batches(
            &q.query(
                "SELECT reason, count(*) AS records FROM t GROUP BY reason ORDER BY records DESC LIMIT 5",
            )
            .await?,
        )?;
    }
    Ok(())
}

/// Writes `config` to `path`, so the commands the demo suggests can read it.
fn write_pipeline_file(config: &PipelineConfig, path: &Path) -> Result<()> {
    let text = toml::to_string_pretty(config)
        .map_err(|e| Error::Internal(format!("the demo pipeline as TOML: {e}")))?;
    std::fs::write(path, text).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}

fn absolute(path: &Path) -> Result<PathBuf> {
    std::path::absolute(path).map_err(|source| Error::Io {
        path: path.to_owned(),
        source,
    })
}
