//! The command line (clap derive) and what each command does.

use std::{
    io::Write,
    path::{Path, PathBuf},
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
};

use clap::{Args, Parser, Subcommand, ValueEnum};

use crate::{
    Error, Result,
    config::{ConfigError, PipelineConfig},
    pipeline::{
        Pipeline, RunMode, RunReport,
        stage::{StageRunner, short},
        status::{self, PipelineStatus},
    },
    registry::{self, Registry},
    runtime::Runtime,
    sample::{Record, debezium::DebeziumSample, logs::LogSample, osquery::OsquerySample},
    source::{embedded::EmbeddedBroker, producer},
    table::{Table, arrow::util::pretty::pretty_format_batches},
    tenancy::{self, Action, HostConfig, TenantError, serve::PipelineRun},
};

/// ingot: Kafka -> Delta bronze -> Wasm silver and gold, exactly once.
#[derive(Debug, Parser)]
#[command(name = "ingot", version, about, long_about = None)]
pub struct Cli {
    /// What to do.
    #[command(subcommand)]
    pub command: Command,
    /// Where compiled modules are cached (default: ~/.cache/ingot/modules).
    #[arg(long, global = true, env = "INGOT_CACHE_DIR")]
    pub cache_dir: Option<PathBuf>,
}

/// The commands.
#[derive(Debug, Subcommand)]
pub enum Command {
    /// Run a pipeline: continuously, or with --once until everything available is processed.
    Run {
        /// The pipeline file (TOML).
        file: PathBuf,
        /// Process everything available, then exit (the triggered mode).
        #[arg(long)]
        once: bool,
    },
    /// Run every tenant's pipelines of a host file in one process.
    Serve {
        /// The host file (TOML): the lake, the tenants, their pipelines and limits.
        file: PathBuf,
        /// Process everything available, then exit.
        #[arg(long)]
        once: bool,
    },
    /// What each stage of a pipeline (or of every pipeline of a tenant) is doing, per host.
    Status {
        /// The pipeline file.
        #[arg(long, required_unless_present = "tenant")]
        pipeline: Option<PathBuf>,
        /// Every pipeline of this tenant of the host file (needs --host).
        #[arg(long, requires = "host", conflicts_with = "pipeline")]
        tenant: Option<String>,
        /// Print the status documents as JSON.
        #[arg(long)]
        json: bool,
        /// Whose token to check.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Start the embedded broker, produce sample logs, run the log pipeline, print the gold table.
    Demo {
        /// Folder holding log_parse.wasm and level_counts.wasm.
        #[arg(
            long,
            env = "INGOT_MODULES",
            default_value = "target/guests/wasm32-wasip2/guest"
        )]
        modules: PathBuf,
        /// Records to produce.
        #[arg(long, default_value_t = 20_000)]
        records: u64,
        /// Lake folder (default: a new temporary folder, kept and printed).
        #[arg(long)]
        lake: Option<PathBuf>,
    },
    /// Send sample records to a topic.
    Produce {
        /// Bootstrap servers.
        #[arg(long)]
        brokers: String,
        /// Topic (must exist).
        #[arg(long)]
        topic: String,
        /// Kind of records.
        #[arg(long, value_enum, default_value_t = SampleKind::Logs)]
        sample: SampleKind,
        /// How many.
        #[arg(long, default_value_t = 10_000)]
        count: u64,
        /// At most this many per second.
        #[arg(long)]
        rate: Option<u32>,
        /// Seed of the generator.
        #[arg(long, default_value_t = 7)]
        seed: u64,
        /// Malformed records per thousand (logs and osquery).
        #[arg(long, default_value_t = 30)]
        malformed_per_mille: u32,
    },
    /// Validate a module for a stage and deploy it; running hosts switch to
    /// it between two commits.
    Deploy {
        /// The pipeline file.
        #[arg(long)]
        pipeline: PathBuf,
        /// The stage.
        #[arg(long)]
        stage: String,
        /// The module (a Wasm component of the ingot:transform/stage world).
        module: PathBuf,
        /// Stage config entries for this module, over the pipeline file's (KEY=VALUE).
        #[arg(long = "config", value_parser = parse_key_value)]
        config: Vec<(String, String)>,
        /// A note recorded with the deployment.
        #[arg(long)]
        note: Option<String>,
        /// Whose token to check.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Deploy again a module a stage ran before: the previous one, or --to DIGEST.
    Rollback {
        /// The pipeline file.
        #[arg(long)]
        pipeline: PathBuf,
        /// The stage.
        #[arg(long)]
        stage: String,
        /// A digest (or its first hex digits) the stage ran before.
        #[arg(long)]
        to: Option<String>,
        /// Whose token to check.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Send the rows a stage quarantined since its last reprocess through its
    /// current module again (after deploying a fix).
    Reprocess {
        /// The pipeline file.
        #[arg(long)]
        pipeline: PathBuf,
        /// The stage.
        #[arg(long)]
        stage: String,
        /// Whose token to check.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// List the deployments of a pipeline's stages, oldest first.
    Deployments {
        /// The pipeline file.
        #[arg(long)]
        pipeline: PathBuf,
        /// Only this stage.
        #[arg(long)]
        stage: Option<String>,
        /// Whose token to check.
        #[command(flatten)]
        admin: AdminArgs,
    },
    /// Which module produced each version of a table (from the commits' lineage).
    Lineage {
        /// The pipeline file.
        #[arg(long)]
        pipeline: PathBuf,
        /// The table (a stage's, or bronze).
        table: String,
        /// Only this version.
        #[arg(long)]
        version: Option<i64>,
    },
    /// Print a table of a pipeline (bronze, a stage, or <stage>_quarantine).
    Show {
        /// The pipeline file.
        file: PathBuf,
        /// The table.
        table: String,
        /// A query over the table, which is named `t`.
        #[arg(long)]
        sql: Option<String>,
        /// Rows to print at most.
        #[arg(long, default_value_t = 50)]
        limit: usize,
    },
}

/// The host file and token of an administrative command. With a host file,
/// the pipeline must be one of its tenants' and the token that tenant's;
/// without one, the command acts on the pipeline file directly (a
/// single-tenant setup, where access to the lake is the control).
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The host file whose tenants own the pipelines.
    #[arg(long = "host", env = "INGOT_HOST")]
    pub host: Option<PathBuf>,
    /// The tenant's admin token (prefer INGOT_TOKEN: arguments show in `ps`).
    #[arg(long, env = "INGOT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl AdminArgs {
    /// Loads pipeline file `path` for `action`: with a host file, only
    /// once the token is checked to be the owning tenant's, and with the
    /// tenant's checks and limits applied.
    fn pipeline(&self, path: &Path, action: Action) -> Result<PipelineConfig> {
        let Some(host) = &self.host else {
            return Ok(PipelineConfig::load(path)?);
        };
        let host = HostConfig::load(host)?;
        let tenant = tenancy::authorize_pipeline(&host, path, self.token.as_deref(), action)?;
        Ok(host.admit(tenant, PipelineConfig::load(path)?)?)
    }

    /// Every pipeline of tenant `name`, once the token is checked to be its.
    fn tenant_pipelines(&self, name: &str, action: Action) -> Result<Vec<PipelineConfig>> {
        let host_file = self.host.as_deref().ok_or_else(|| {
            Error::Internal("--tenant without --host (clap should have refused it)".into())
        })?;
        let host = HostConfig::load(host_file)?;
        let tenant = host
            .tenant(name)
            .ok_or_else(|| TenantError::UnknownTenant {
                tenant: name.to_owned(),
                host: host_file.to_owned(),
            })?;
        tenancy::authorize(
            tenant,
            self.token.as_deref(),
            action,
            &format!("tenant {name}"),
        )?;
        tenant
            .pipelines
            .iter()
            .map(|p| Ok(host.admit(tenant, PipelineConfig::load(p)?)?))
            .collect()
    }
}

/// Sample generators.
#[derive(Debug, Clone, Copy, ValueEnum)]
pub enum SampleKind {
    /// JSON application log lines.
    Logs,
    /// osquery result logs of a fleet (event, batch and snapshot formats), keyed by host.
    Osquery,
    /// Debezium Postgres change events of `public.voters`, with tombstones, keyed by id.
    Debezium,
}

impl SampleKind {
    /// The first `count` records of this kind's stream for `seed`.
    fn records(
        self,
        count: u64,
        seed: u64,
        malformed_per_mille: u32,
    ) -> Box<dyn Iterator<Item = Record> + Send> {
        let count = usize::try_from(count).unwrap_or(usize::MAX);
        match self {
            Self::Logs => Box::new(LogSample::new(seed, malformed_per_mille).take(count)),
            Self::Osquery => Box::new(OsquerySample::new(seed, malformed_per_mille).take(count)),
            // A short stream gets a smaller initial snapshot, so it still
            // holds changes.
            Self::Debezium => Box::new(
                DebeziumSample::new(seed)
                    .snapshot_rows((count / 2).min(200))
                    .take(count),
            ),
        }
    }
}

impl Cli {
    /// Runs the command; returns the process exit code.
    ///
    /// # Errors
    ///
    /// Whatever the command failed with.
    pub async fn execute(self) -> Result<i32> {
        let cache_dir = self.cache_dir.or_else(default_cache_dir);
        match self.command {
            Command::Run { file, once } => run(&file, once, cache_dir).await,
            Command::Serve { file, once } => serve(&file, once, cache_dir).await,
            Command::Status {
                pipeline,
                tenant,
                json,
                admin,
            } => {
                let pipelines = match (&pipeline, &tenant) {
                    (_, Some(tenant)) => admin.tenant_pipelines(tenant, Action::Status)?,
                    (Some(file), None) => vec![admin.pipeline(file, Action::Status)?],
                    (None, None) => Vec::new(),
                };
                let mut all = Vec::new();
                for p in &pipelines {
                    all.extend(status::read(p)?);
                }
                if json {
                    let text = serde_json::to_string_pretty(&all)
                        .map_err(|e| Error::Internal(format!("status as JSON: {e}")))?;
                    println!("{text}");
                } else {
                    print_status(&pipelines, &all);
                }
                Ok(0)
            }
            Command::Demo {
                modules,
                records,
                lake,
            } => demo(&modules, records, lake, cache_dir).await,
            Command::Produce {
                brokers,
                topic,
                sample,
                count,
                rate,
                seed,
                malformed_per_mille,
            } => {
                let records = sample.records(count, seed, malformed_per_mille);
                let sent = tokio::task::spawn_blocking(move || {
                    producer::produce(&brokers, &topic, records, rate)
                })
                .await
                .map_err(|e| Error::Internal(e.to_string()))??;
                println!("produced {sent} records");
                Ok(0)
            }
            Command::Show {
                file,
                table,
                sql,
                limit,
            } => show(&file, &table, sql.as_deref(), limit).await,
            Command::Deploy {
                pipeline,
                stage,
                module,
                config,
                note,
                admin,
            } => {
                let pipeline = admin.pipeline(&pipeline, Action::Deploy)?;
                let runtime = Arc::new(Runtime::new(cache_dir)?);
                let deployed =
                    registry::deploy(&pipeline, &stage, &module, &config, note, &runtime).await?;
                print_deployed(&deployed);
                Ok(0)
            }
            Command::Rollback {
                pipeline,
                stage,
                to,
                admin,
            } => {
                let pipeline = admin.pipeline(&pipeline, Action::Rollback)?;
                let runtime = Arc::new(Runtime::new(cache_dir)?);
                let deployed =
                    registry::rollback(&pipeline, &stage, to.as_deref(), &runtime).await?;
                print_deployed(&deployed);
                Ok(0)
            }
            Command::Reprocess {
                pipeline,
                stage,
                admin,
            } => {
                let pipeline = admin.pipeline(&pipeline, Action::Reprocess)?;
                let index = registry::deploy::stage_index(&pipeline, &stage)?;
                let runtime = Arc::new(Runtime::new(cache_dir)?);
                let mut runner = StageRunner::new(&pipeline, index, runtime)?;
                let r = runner.reprocess().await?;
                match r.quarantine_versions {
                    None => println!(
                        "{}/{stage}: nothing quarantined since the last reprocess",
                        pipeline.name
                    ),
                    Some((from, to)) => println!(
                        "{}/{stage}: quarantine versions {from}..={to}: {} entries, {} replayed ({} no longer in the input), {} rows out, {} quarantined again",
                        pipeline.name,
                        r.entries,
                        r.replayed,
                        r.missing,
                        r.rows_out,
                        r.still_quarantined
                    ),
                }
                Ok(0)
            }
            Command::Deployments {
                pipeline,
                stage,
                admin,
            } => {
                let pipeline = admin.pipeline(&pipeline, Action::Deployments)?;
                if let Some(stage) = &stage {
                    registry::deploy::stage_index(&pipeline, stage)?;
                }
                let mut registry = Registry::for_pipeline(&pipeline)?;
                let history = registry.history(&pipeline.name, stage.as_deref()).await?;
                print_deployments(&history);
                Ok(0)
            }
            Command::Lineage {
                pipeline,
                table,
                version,
            } => lineage(&pipeline, &table, version).await,
        }
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ingot/modules"))
}

/// Sets the returned flag on Ctrl-C or SIGTERM: the run stops after its
/// current commit. A second signal aborts at once.
fn stop_on_ctrl_c() -> Arc<AtomicBool> {
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

async fn run(file: &Path, once: bool, cache_dir: Option<PathBuf>) -> Result<i32> {
    let config = PipelineConfig::load(file)?;
    let runtime = Arc::new(Runtime::new(cache_dir)?);
    let pipeline = Pipeline::prepare(config, runtime)?;
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
    let report = pipeline.run(brokers, mode, stop_on_ctrl_c()).await?;
    print_report(&report);
    Ok(if report.errors.is_empty() { 0 } else { 1 })
}

async fn serve(file: &Path, once: bool, cache_dir: Option<PathBuf>) -> Result<i32> {
    let host = HostConfig::load(file)?;
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
    let runs = tenancy::serve::serve(&host, cache_dir, mode, stop_on_ctrl_c()).await?;
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

fn print_status(pipelines: &[PipelineConfig], all: &[PipelineStatus]) {
    let now = crate::pipeline::ingest::now_micros();
    for p in pipelines {
        let mine: Vec<_> = all
            .iter()
            .filter(|s| s.tenant == p.tenant && s.pipeline == p.name)
            .collect();
        if mine.is_empty() {
            println!(
                "tenant {}, pipeline {}: no host has reported yet",
                p.tenant, p.name
            );
        }
        for s in mine {
            let age = (now - s.updated_at).max(0) as f64 / 1e6;
            println!(
                "tenant {}, pipeline {}: host {} (pid {}), {}, updated {age:.0} s ago",
                s.tenant,
                s.pipeline,
                s.host,
                s.pid,
                if s.stopped { "stopped" } else { "running" }
            );
            if let Some(e) = &s.error {
                println!("  stopped by: {e}");
            }
            println!(
                "  {:<16} {:<9} {:<13} {:>13} {:>8} {:>10} {:>10} {:>11}  last error",
                "stage",
                "state",
                "module",
                "input done",
                "commits",
                "rows in",
                "rows out",
                "quarantined"
            );
            for st in &s.stages {
                let progress = match (st.input_done, st.input_latest) {
                    (Some(d), Some(l)) => format!("{d}/{l}"),
                    (None, Some(l)) => format!("-/{l}"),
                    _ => "-".to_owned(),
                };
                println!(
                    "  {:<16} {:<9} {:<13} {:>13} {:>8} {:>10} {:>10} {:>11}  {}",
                    st.stage,
                    st.state,
                    short(&st.module),
                    progress,
                    st.commits,
                    st.rows_in,
                    st.rows_out,
                    st.quarantined,
                    st.last_error.as_deref().unwrap_or("-")
                );
            }
        }
    }
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

fn print_report(report: &RunReport) {
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
fn counted(n: u64, noun: &str) -> String {
    if n == 1 {
        format!("1 {noun}")
    } else {
        format!("{n} {noun}s")
    }
}

/// `KEY=VALUE` of `--config`.
fn parse_key_value(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}

fn print_deployed(d: &registry::Deployed) {
    let dep = &d.deployment;
    let run = &d.dry_run;
    let input = run.input_versions.map_or_else(
        || "no input yet".to_owned(),
        |(a, b)| format!("input versions {a}..={b}"),
    );
    println!(
        "{} {}/{}: module {} (was {}), deployment {}",
        match dep.action {
            registry::Action::Deploy => "deployed to",
            registry::Action::Rollback => "rolled back",
        },
        dep.pipeline,
        dep.stage,
        dep.digest,
        d.previous
            .as_deref()
            .unwrap_or("the pipeline file's module"),
        dep.version.unwrap_or(-1),
    );
    println!(
        "checks passed: component, init, dry run ({input}: {} rows in, {} out, {} rejected), output {}",
        run.rows_in,
        run.rows_out,
        run.rejected,
        if run.output_checked {
            "fits the table"
        } else {
            "has the mode's columns (no table yet)"
        }
    );
    println!("running hosts switch at their next commit boundary (within a second when idle)");
}

fn print_deployments(history: &[registry::Deployment]) {
    if history.is_empty() {
        println!("no deployments: every stage runs its pipeline file's module");
        return;
    }
    println!(
        "version  stage                 action    module        deployed at (UTC)            by"
    );
    for d in history {
        let at = chrono::DateTime::from_timestamp_micros(d.deployed_at).map_or_else(
            || d.deployed_at.to_string(),
            |t| t.format("%Y-%m-%d %H:%M:%S%.3f").to_string(),
        );
        println!(
            "{:<8} {:<21} {:<9} {:<13} {:<28} {}{}",
            d.version.unwrap_or(-1),
            d.stage,
            match d.action {
                registry::Action::Deploy => "deploy",
                registry::Action::Rollback => "rollback",
            },
            short(&d.digest),
            at,
            d.deployed_by,
            d.note
                .as_deref()
                .map(|n| format!("  ({n})"))
                .unwrap_or_default(),
        );
    }
}

/// Table `table` of the pipeline in `file`, which must exist.
async fn open_table(file: &Path, table: &str) -> Result<Table> {
    let config = PipelineConfig::load(file)?;
    let uri = config.table_uri(table);
    Table::open(&uri).await?.ok_or_else(|| {
        ConfigError::invalid(
            file,
            "table",
            format!("`{table}` has no Delta table at {uri} yet"),
        )
        .into()
    })
}

/// Prints the lineage of one version of a table, or of all of them.
async fn lineage(file: &Path, table: &str, version: Option<i64>) -> Result<i32> {
    let t = open_table(file, table).await?;
    let versions = match version {
        Some(v) => v..=v,
        None => 0..=t.version(),
    };
    println!("version  module        input versions  stage      ingot");
    for v in versions {
        let Some(l) = t.lineage(v).await? else {
            println!("{v:<8} (no ingot lineage: a table create or a commit by another writer)");
            continue;
        };
        let input = l
            .input_versions
            .map_or_else(|| "-".to_owned(), |(a, b)| format!("{a}..={b}"));
        println!(
            "{v:<8} {:<13} {:<15} {:<10} {}",
            l.module.as_deref().map_or("-", short),
            input,
            l.stage,
            l.ingot_version
        );
    }
    Ok(0)
}

async fn show(file: &Path, table: &str, sql: Option<&str>, limit: usize) -> Result<i32> {
    let t = open_table(file, table).await?;
    let sql = sql.map_or_else(|| format!("SELECT * FROM t LIMIT {limit}"), str::to_owned);
    print_batches(&t.query(&sql).await?)?;
    Ok(0)
}

fn print_batches(batches: &[crate::table::arrow::array::RecordBatch]) -> Result<()> {
    let text = pretty_format_batches(batches)
        .map_err(|e| Error::Internal(format!("formatting a table: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| Error::Internal(format!("writing to stdout: {e}")))
}

/// The demo pipeline: the one in `examples/logs.toml`, pointed at the
/// embedded broker, a demo lake and the built modules.
async fn demo(
    modules: &Path,
    records: u64,
    lake: Option<PathBuf>,
    cache_dir: Option<PathBuf>,
) -> Result<i32> {
    let lake = match lake {
        Some(l) => l,
        None => std::env::temp_dir().join(format!("ingot-demo-{}", std::process::id())),
    };
    let lake =
        std::path::absolute(&lake).map_err(|e| Error::Internal(format!("lake path: {e}")))?;
    std::fs::create_dir_all(&lake)
        .map_err(|e| Error::Internal(format!("creating {}: {e}", lake.display())))?;
    let modules =
        std::path::absolute(modules).map_err(|e| Error::Internal(format!("modules path: {e}")))?;
    for m in ["log_parse.wasm", "level_counts.wasm"] {
        if !modules.join(m).is_file() {
            eprintln!(
                "{} is missing: build the transforms first (./dev build-transforms) or pass --modules",
                modules.join(m).display()
            );
            return Ok(2);
        }
    }
    let broker = EmbeddedBroker::start(&["logs".to_owned()], 3)?;
    println!("embedded kafka broker at {}", broker.bootstrap());
    let pipeline_file = lake.join("pipeline.toml");
    let text = include_str!("../../examples/logs.toml")
        .replace(
            "brokers = \"embedded\"",
            &format!("brokers = {:?}", broker.bootstrap()),
        )
        .replace(
            "root = \"../lake\"",
            &format!("root = {:?}", lake.display().to_string()),
        )
        .replace(
            "../target/guests/wasm32-wasip2/guest",
            &modules.display().to_string(),
        );
    std::fs::write(&pipeline_file, text)
        .map_err(|e| Error::Internal(format!("writing {}: {e}", pipeline_file.display())))?;
    let brokers = broker.bootstrap().to_owned();
    let sent = tokio::task::spawn_blocking(move || {
        producer::produce(
            &brokers,
            "logs",
            LogSample::new(7, 30).take(records as usize),
            None,
        )
    })
    .await
    .map_err(|e| Error::Internal(e.to_string()))??;
    println!("produced {sent} sample log records to topic `logs`");
    let config = PipelineConfig::load(&pipeline_file)?;
    let pipeline = Pipeline::prepare(config.clone(), Arc::new(Runtime::new(cache_dir)?))?;
    let report = pipeline
        .run(
            broker.bootstrap().to_owned(),
            RunMode::Once,
            stop_on_ctrl_c(),
        )
        .await?;
    print_report(&report);
    if let Some(gold) = Table::open(&config.table_uri("gold")).await? {
        println!("\ngold ({}, version {}):", gold.uri(), gold.version());
        print_batches(
            &gold
                .query("SELECT level, count, latency_ms_sum FROM t ORDER BY level")
                .await?,
        )?;
    }
    if let Some(q) = Table::open(&config.table_uri("silver_quarantine")).await? {
        println!("\nsome quarantined records ({}):", q.uri());
        print_batches(&q.query("SELECT reason, count(*) AS records FROM t GROUP BY reason ORDER BY records DESC LIMIT 5").await?)?;
    }
    println!(
        "\npipeline file: {}\ninspect a table: ingot show {} silver\neach stage's state: ingot status --pipeline {}",
        pipeline_file.display(),
        pipeline_file.display(),
        pipeline_file.display()
    );
    Ok(if report.errors.is_empty() { 0 } else { 1 })
}
