//! The command line (clap derive): the commands, their arguments, and which
//! function of this module's files runs each.
//!
//! - [`run`]: `run` and `serve`, the long-running commands;
//! - [`admin`]: `status`, `deploy`, `rollback`, `reprocess`, `deployments`;
//! - [`table`]: `show` and `lineage`;
//! - [`maintain`]: `history`, `optimize`, `vacuum`, `restore`, `checkpoint`;
//! - [`demo`]: `demo` and `produce`.

mod admin;
mod demo;
mod maintain;
mod progress;
mod remote;
mod run;
mod table;

use std::{
    net::SocketAddr,
    path::{Path, PathBuf},
};

use clap::{Args, Parser, Subcommand, ValueEnum};
use ingot_pipeline::config::PipelineConfig;
use ingot_sample::{Record, debezium::DebeziumSample, logs::LogSample, osquery::OsquerySample};

use crate::{
    Error, Result,
    tenancy::{self, Action, HostConfig, TenantError},
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
    /// How log lines are written to stderr: text for people, json (one
    /// object a line, with the tenant, pipeline and stage) for log shippers.
    #[arg(long, global = true, value_enum, env = "INGOT_LOG_FORMAT", default_value_t = LogFormat::Text)]
    pub log_format: LogFormat,
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
        /// Serve /metrics, /healthz and /readyz on this address (off unless given).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// Run every tenant's pipelines of a host file in one process.
    Serve {
        /// The host file (TOML): the lake, the tenants, their pipelines and limits.
        file: PathBuf,
        /// Process everything available, then exit.
        #[arg(long)]
        once: bool,
        /// Serve /metrics, /healthz and /readyz on this address (default:
        /// [server] listen of the host file, 127.0.0.1:9410).
        #[arg(long, value_name = "ADDR")]
        listen: Option<SocketAddr>,
    },
    /// What each stage of a pipeline (or of every pipeline of a tenant) is doing, per host.
    Status(StatusArgs),
    /// Start the embedded broker, produce sample logs, run the log pipeline, print the gold table.
    Demo(DemoArgs),
    /// Send sample records to a topic.
    Produce(ProduceArgs),
    /// Run librdkafka's mock cluster (the embedded broker) as a process that
    /// other hosts and any Kafka client connect to; prints its address.
    Broker(BrokerArgs),
    /// Validate a module for a stage and deploy it; running hosts switch to
    /// it between two commits.
    Deploy(DeployArgs),
    /// Deploy again a module a stage ran before: the previous one, or --to DIGEST.
    Rollback(RollbackArgs),
    /// Send the rows a stage quarantined since its last reprocess through its
    /// current module again (after deploying a fix).
    Reprocess(ReprocessArgs),
    /// List the deployments of a pipeline's stages, oldest first.
    Deployments(DeploymentsArgs),
    /// Which module produced each version of a table (from the commits' lineage).
    Lineage(LineageArgs),
    /// Print a table of a pipeline (bronze, a stage, or <stage>_quarantine).
    Show(ShowArgs),
    /// The versions of a table: time, operation, the writer's lineage, rows and files.
    History(HistoryArgs),
    /// Compact a table's small files (bin-packing, or Z-order with --zorder);
    /// readers of its change feed see no change.
    Optimize(OptimizeArgs),
    /// Delete the files of a table no recent version references; never those
    /// a stage reading it still needs.
    Vacuum(VacuumArgs),
    /// Restore a stage's output to an earlier version; the stage resumes
    /// from the input it had read then.
    Restore(RestoreArgs),
    /// Write a checkpoint of a table now.
    Checkpoint(CheckpointArgs),
}

/// The pipeline and table of a table command, and whose token to check.
#[derive(Debug, Args)]
pub struct TableArgs {
    /// The pipeline file.
    #[arg(long)]
    pub pipeline: PathBuf,
    /// The table: bronze, a stage's output, <stage>_quarantine or <stage>_tombstones.
    pub table: String,
    /// Whose token to check.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// The arguments of `ingot history`.
#[derive(Debug, Args)]
pub struct HistoryArgs {
    /// The table.
    #[command(flatten)]
    pub table: TableArgs,
    /// Only the newest this many versions.
    #[arg(long)]
    pub limit: Option<u64>,
    /// Print JSON.
    #[arg(long)]
    pub json: bool,
}

/// The arguments of `ingot optimize`.
#[derive(Debug, Args)]
pub struct OptimizeArgs {
    /// The table.
    #[command(flatten)]
    pub table: TableArgs,
    /// Pack files up to this size (default: [maintenance] target-file-mib, 128).
    #[arg(long)]
    pub target_mib: Option<u64>,
    /// Z-order by these columns (comma-separated; default: [maintenance.zorder] of the table).
    #[arg(long, value_delimiter = ',')]
    pub zorder: Vec<String>,
}

/// The arguments of `ingot vacuum`.
#[derive(Debug, Args)]
pub struct VacuumArgs {
    /// The table.
    #[command(flatten)]
    pub table: TableArgs,
    /// Keep files removed less than this long ago, e.g. `7d`, `36h`
    /// (default: [maintenance] vacuum-retention-hours, 7 days).
    #[arg(long)]
    pub retention: Option<humantime::Duration>,
    /// List the files it would delete, delete none.
    #[arg(long)]
    pub dry_run: bool,
    /// Use the retention even if a stage reading the table needs longer.
    #[arg(long)]
    pub force: bool,
}

/// The arguments of `ingot restore`.
#[derive(Debug, Args)]
#[command(group = clap::ArgGroup::new("target").required(true).args(["version", "timestamp"]))]
pub struct RestoreArgs {
    /// The table (a stage's output).
    #[command(flatten)]
    pub table: TableArgs,
    /// The version to restore.
    #[arg(long)]
    pub version: Option<i64>,
    /// Restore the newest version committed at or before this time (RFC 3339,
    /// e.g. 2026-12-01T09:30:00Z).
    #[arg(long)]
    pub timestamp: Option<chrono::DateTime<chrono::Utc>>,
}

/// The arguments of `ingot checkpoint`.
#[derive(Debug, Args)]
pub struct CheckpointArgs {
    /// The table.
    #[command(flatten)]
    pub table: TableArgs,
}

/// The arguments of `ingot status`.
#[derive(Debug, Args)]
pub struct StatusArgs {
    /// The pipeline file.
    #[arg(long, required_unless_present = "tenant")]
    pub pipeline: Option<PathBuf>,
    /// Every pipeline of this tenant (needs --host or --server).
    #[arg(long, conflicts_with = "pipeline")]
    pub tenant: Option<String>,
    /// Print the status documents as JSON.
    #[arg(long)]
    pub json: bool,
    /// Whose token to check.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// The arguments of `ingot demo`.
#[derive(Debug, Args)]
pub struct DemoArgs {
    /// Folder holding log_parse.wasm and level_counts.wasm.
    #[arg(
        long,
        env = "INGOT_MODULES",
        default_value = "target/guests/wasm32-wasip2/guest"
    )]
    pub modules: PathBuf,
    /// Records to produce.
    #[arg(long, default_value_t = 20_000)]
    pub records: u64,
    /// Lake folder (default: a new temporary folder, kept and printed).
    #[arg(long)]
    pub lake: Option<PathBuf>,
}

/// The arguments of `ingot produce`.
#[derive(Debug, Args)]
pub struct ProduceArgs {
    /// Bootstrap servers.
    #[arg(long)]
    pub brokers: String,
    /// Topic (must exist).
    #[arg(long)]
    pub topic: String,
    /// Kind of records.
    #[arg(long, value_enum, default_value_t = SampleKind::Logs)]
    pub sample: SampleKind,
    /// How many.
    #[arg(long, default_value_t = 10_000)]
    pub count: u64,
    /// At most this many per second.
    #[arg(long)]
    pub rate: Option<u32>,
    /// Seed of the generator.
    #[arg(long, default_value_t = 7)]
    pub seed: u64,
    /// Malformed records per thousand (logs and osquery).
    #[arg(long, default_value_t = 30)]
    pub malformed_per_mille: u32,
}

/// The arguments of `ingot broker`.
#[derive(Debug, Args)]
pub struct BrokerArgs {
    /// A topic to create, as NAME or NAME:PARTITIONS (repeatable).
    #[arg(long = "topic", required = true, value_parser = parse_topic)]
    pub topics: Vec<(String, i32)>,
    /// Partitions of a topic given without a count.
    #[arg(long, default_value_t = 3, value_parser = clap::value_parser!(i32).range(1..=1000))]
    pub partitions: i32,
    /// Also write the bootstrap address to this file (for scripts).
    #[arg(long)]
    pub address_file: Option<PathBuf>,
}

/// The arguments of `ingot deploy`.
#[derive(Debug, Args)]
pub struct DeployArgs {
    /// The pipeline file.
    #[arg(long)]
    pub pipeline: PathBuf,
    /// The stage.
    #[arg(long)]
    pub stage: String,
    /// The module (a Wasm component of the ingot:transform/stage world).
    pub module: PathBuf,
    /// Stage config entries for this module, over the pipeline file's (KEY=VALUE).
    #[arg(long = "config", value_parser = parse_key_value)]
    pub config: Vec<(String, String)>,
    /// A note recorded with the deployment.
    #[arg(long)]
    pub note: Option<String>,
    /// Whose token to check.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// The arguments of `ingot rollback`.
#[derive(Debug, Args)]
pub struct RollbackArgs {
    /// The pipeline file.
    #[arg(long)]
    pub pipeline: PathBuf,
    /// The stage.
    #[arg(long)]
    pub stage: String,
    /// A digest (or its first hex digits) the stage ran before.
    #[arg(long)]
    pub to: Option<String>,
    /// Whose token to check.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// The arguments of `ingot reprocess`.
#[derive(Debug, Args)]
pub struct ReprocessArgs {
    /// The pipeline file.
    #[arg(long)]
    pub pipeline: PathBuf,
    /// The stage.
    #[arg(long)]
    pub stage: String,
    /// Whose token to check.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// The arguments of `ingot deployments`.
#[derive(Debug, Args)]
pub struct DeploymentsArgs {
    /// The pipeline file.
    #[arg(long)]
    pub pipeline: PathBuf,
    /// Only this stage.
    #[arg(long)]
    pub stage: Option<String>,
    /// Whose token to check.
    #[command(flatten)]
    pub admin: AdminArgs,
}

/// The arguments of `ingot lineage`.
#[derive(Debug, Args)]
pub struct LineageArgs {
    /// The pipeline file.
    #[arg(long)]
    pub pipeline: PathBuf,
    /// The table (a stage's, or bronze).
    pub table: String,
    /// Only this version.
    #[arg(long)]
    pub version: Option<i64>,
}

/// The arguments of `ingot show`.
#[derive(Debug, Args)]
pub struct ShowArgs {
    /// The pipeline file.
    pub file: PathBuf,
    /// The table.
    pub table: String,
    /// A query over the table, which is named `t`.
    #[arg(long)]
    pub sql: Option<String>,
    /// Rows to print at most.
    #[arg(long, default_value_t = 50)]
    pub limit: usize,
}

/// The host file and token of an administrative command. With a host file,
/// the pipeline must be one of its tenants' and the token that tenant's;
/// without one, the command acts on the pipeline file directly (a
/// single-tenant setup, where access to the lake is the control).
#[derive(Debug, Args)]
pub struct AdminArgs {
    /// The host file whose tenants own the pipelines.
    #[arg(long = "host", env = "INGOT_HOST", conflicts_with = "server")]
    pub host: Option<PathBuf>,
    /// Act through this `ingot serve`'s admin API (e.g. http://host:9410)
    /// instead of on the lake: needs only the tenant's token. --pipeline is
    /// then a pipeline file or TENANT/PIPELINE.
    #[arg(long, env = "INGOT_SERVER")]
    pub server: Option<String>,
    /// The tenant's admin token (prefer INGOT_TOKEN: arguments show in `ps`).
    #[arg(long, env = "INGOT_TOKEN", hide_env_values = true)]
    pub token: Option<String>,
}

impl AdminArgs {
    /// The client of `--server` for `pipeline`, when given.
    fn remote(&self, pipeline: &Path) -> Result<Option<remote::Remote>> {
        self.server
            .as_deref()
            .map(|server| remote::Remote::for_pipeline(server, self.token.as_deref(), pipeline))
            .transpose()
    }

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
        let host_file = self
            .host
            .as_deref()
            .ok_or_else(|| Error::Request("--tenant needs --host or --server".into()))?;
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

/// The format of the log.
#[derive(Debug, Clone, Copy, PartialEq, Eq, ValueEnum)]
pub enum LogFormat {
    /// Human-readable lines (coloured on a terminal).
    Text,
    /// One JSON object per line: time, level, target, fields, and the
    /// spans' fields (tenant, pipeline, stage).
    Json,
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
            Command::Run { file, once, listen } => run::run(&file, once, cache_dir, listen).await,
            Command::Serve { file, once, listen } => {
                run::serve(&file, once, cache_dir, listen).await
            }
            Command::Status(args) => admin::status(&args).await,
            Command::Demo(args) => demo::demo(args, cache_dir).await,
            Command::Produce(args) => demo::produce(args).await,
            Command::Broker(args) => run::broker(&args).await,
            Command::Show(args) => table::show(&args).await,
            Command::Deploy(args) => admin::deploy(args, cache_dir).await,
            Command::Rollback(args) => admin::rollback(&args, cache_dir).await,
            Command::Reprocess(args) => admin::reprocess(&args, cache_dir).await,
            Command::Deployments(args) => admin::deployments(&args).await,
            Command::Lineage(args) => {
                table::lineage(&args.pipeline, &args.table, args.version).await
            }
            Command::History(args) => maintain::history(&args).await,
            Command::Optimize(args) => maintain::optimize(&args).await,
            Command::Vacuum(args) => maintain::vacuum(&args).await,
            Command::Restore(args) => maintain::restore(&args).await,
            Command::Checkpoint(args) => maintain::checkpoint(&args).await,
        }
    }
}

fn default_cache_dir() -> Option<PathBuf> {
    std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache/ingot/modules"))
}

/// `NAME[:PARTITIONS]` of `ingot broker --topic`; 0 partitions stands for
/// "the default".
fn parse_topic(text: &str) -> std::result::Result<(String, i32), String> {
    let (name, partitions) = match text.split_once(':') {
        Some((name, n)) => {
            let n: i32 = n
                .parse()
                .ok()
                .filter(|n| (1..=1000).contains(n))
                .ok_or_else(|| format!("`{n}` is not a partition count between 1 and 1000"))?;
            (name, n)
        }
        None => (text, 0),
    };
    if name.is_empty() {
        return Err(format!("`{text}` names no topic"));
    }
    Ok((name.to_owned(), partitions))
}

/// `KEY=VALUE` of `--config`.
fn parse_key_value(text: &str) -> std::result::Result<(String, String), String> {
    text.split_once('=')
        .map(|(k, v)| (k.trim().to_owned(), v.to_owned()))
        .filter(|(k, _)| !k.is_empty())
        .ok_or_else(|| format!("`{text}` is not KEY=VALUE"))
}
