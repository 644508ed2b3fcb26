//! The administrative commands: `status`, `deploy`, `rollback`,
//! `reprocess` and `deployments`, and how their results are printed.

use std::{path::PathBuf, sync::Arc};

use ingot_core::short_digest as short;
use ingot_pipeline::{
    lease::Standing,
    stage::{Reprocessed, StageRunner},
    status::{self, PipelineStatus},
};
use ingot_registry::{self as registry, Registry};
use ingot_sandbox::Runtime;

use super::{DeployArgs, DeploymentsArgs, ReprocessArgs, RollbackArgs, StatusArgs, remote::Remote};
use crate::{
    Error, Result,
    server::api::pipelines::{PipelineEntry, RollbackRequest},
    tenancy::Action,
};

/// `ingot status`: the status documents of one pipeline, or of every
/// pipeline of a tenant, as a table or as JSON.
pub(super) async fn status(args: &StatusArgs) -> Result<i32> {
    let (names, all) = match &args.admin.server {
        Some(server) => remote_status(args, server).await?,
        None => local_status(args).await?,
    };
    if args.json {
        let text = serde_json::to_string_pretty(&all)
            .map_err(|e| Error::Internal(format!("status as JSON: {e}")))?;
        println!("{text}");
    } else {
        print_status(&names, &all);
    }
    Ok(0)
}

/// The pipelines asked about, as (tenant, name), and their statuses.
type Statuses = (Vec<(String, String)>, Vec<PipelineStatus>);

async fn local_status(args: &StatusArgs) -> Result<Statuses> {
    let admin = &args.admin;
    let pipelines = match (&args.pipeline, &args.tenant) {
        (_, Some(tenant)) => admin.tenant_pipelines(tenant, Action::Status)?,
        (Some(file), None) => vec![admin.pipeline(file, Action::Status)?],
        (None, None) => Vec::new(),
    };
    let mut all = Vec::new();
    for p in &pipelines {
        all.extend(status::read(p).await?);
    }
    let names = pipelines.into_iter().map(|p| (p.tenant, p.name)).collect();
    Ok((names, all))
}

async fn remote_status(args: &StatusArgs, server: &str) -> Result<Statuses> {
    let token = args.admin.token.as_deref();
    match (&args.pipeline, &args.tenant) {
        (_, Some(tenant)) => {
            let remote = Remote::new(server, token, tenant.clone(), String::new());
            let entries: Vec<PipelineEntry> = remote.get_tenant("/pipelines").await?;
            let names = entries
                .iter()
                .map(|e| (tenant.clone(), e.pipeline.clone()))
                .collect();
            Ok((names, entries.into_iter().flat_map(|e| e.hosts).collect()))
        }
        (Some(file), None) => {
            let remote = Remote::for_pipeline(server, token, file)?;
            let all = remote.get("/status", &[]).await?;
            Ok((vec![(remote.tenant, remote.pipeline)], all))
        }
        (None, None) => Ok((Vec::new(), Vec::new())),
    }
}

/// `ingot deploy`: validate, store, record.
pub(super) async fn deploy(args: DeployArgs, cache_dir: Option<PathBuf>) -> Result<i32> {
    if let Some(remote) = args.admin.remote(&args.pipeline)? {
        let bytes = std::fs::read(&args.module).map_err(|source| Error::Io {
            path: args.module.clone(),
            source,
        })?;
        let mut query: Vec<(&str, String)> =
            args.note.iter().map(|n| ("note", n.clone())).collect();
        query.extend(
            args.config
                .iter()
                .map(|(k, v)| ("config", format!("{k}={v}"))),
        );
        let path = format!("/stages/{}/deploy", args.stage);
        print_deployed(&remote.post_module(&path, bytes, &query).await?);
        return Ok(0);
    }
    let pipeline = args.admin.pipeline(&args.pipeline, Action::Deploy)?;
    let runtime = Arc::new(Runtime::new(cache_dir)?);
    let deployed = registry::deploy(
        &pipeline,
        &args.stage,
        &args.module,
        &args.config,
        args.note,
        &runtime,
    )
    .await?;
    print_deployed(&deployed);
    Ok(0)
}

/// `ingot rollback`: deploy again a module the stage ran before.
pub(super) async fn rollback(args: &RollbackArgs, cache_dir: Option<PathBuf>) -> Result<i32> {
    if let Some(remote) = args.admin.remote(&args.pipeline)? {
        let request = RollbackRequest {
            to: args.to.clone(),
        };
        let path = format!("/stages/{}/rollback", args.stage);
        print_deployed(&remote.post_json(&path, &request).await?);
        return Ok(0);
    }
    let pipeline = args.admin.pipeline(&args.pipeline, Action::Rollback)?;
    let runtime = Arc::new(Runtime::new(cache_dir)?);
    let deployed = registry::rollback(&pipeline, &args.stage, args.to.as_deref(), &runtime).await?;
    print_deployed(&deployed);
    Ok(0)
}

/// `ingot reprocess`: the stage's quarantine since the last reprocess,
/// through its current module.
pub(super) async fn reprocess(args: &ReprocessArgs, cache_dir: Option<PathBuf>) -> Result<i32> {
    let stage = &args.stage;
    let (name, r): (String, Reprocessed) = match args.admin.remote(&args.pipeline)? {
        Some(remote) => {
            let path = format!("/stages/{stage}/reprocess");
            let r = remote.post_json(&path, &serde_json::json!({})).await?;
            (remote.pipeline, r)
        }
        None => {
            let pipeline = args.admin.pipeline(&args.pipeline, Action::Reprocess)?;
            let index = registry::deploy::stage_index(&pipeline, stage)?;
            let runtime = Arc::new(Runtime::new(cache_dir)?);
            let mut runner = StageRunner::new(&pipeline, index, runtime)?;
            (pipeline.name, runner.reprocess().await?)
        }
    };
    match r.quarantine_versions {
        None => println!("{name}/{stage}: nothing quarantined since the last reprocess"),
        Some((from, to)) => println!(
            "{name}/{stage}: quarantine versions {from}..={to}: {} entries, {} replayed ({} no longer in the input), {} rows out, {} quarantined again",
            r.entries, r.replayed, r.missing, r.rows_out, r.still_quarantined
        ),
    }
    Ok(0)
}

/// `ingot deployments`: the history of a pipeline's (or a stage's) modules.
pub(super) async fn deployments(args: &DeploymentsArgs) -> Result<i32> {
    if let Some(remote) = args.admin.remote(&args.pipeline)? {
        let query: Vec<(&str, String)> = args.stage.iter().map(|s| ("stage", s.clone())).collect();
        let history: Vec<registry::Deployment> = remote.get("/deployments", &query).await?;
        print_deployments(&history);
        return Ok(0);
    }
    let pipeline = args.admin.pipeline(&args.pipeline, Action::Deployments)?;
    let stage = args.stage.as_deref();
    if let Some(stage) = stage {
        registry::deploy::stage_index(&pipeline, stage)?;
    }
    let mut registry = Registry::for_pipeline(&pipeline)?;
    let history = registry.history(&pipeline.name, stage).await?;
    print_deployments(&history);
    Ok(0)
}

fn print_status(pipelines: &[(String, String)], all: &[PipelineStatus]) {
    let now = ingot_core::clock::now_micros();
    for (tenant, name) in pipelines {
        let mine: Vec<_> = all
            .iter()
            .filter(|s| &s.tenant == tenant && &s.pipeline == name)
            .collect();
        if mine.is_empty() {
            println!("tenant {tenant}, pipeline {name}: no host has reported yet");
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
            if !s.partitions.is_empty() {
                let behind = s
                    .lag
                    .map(|lag| format!(" ({} behind)", super::run::counted(lag, "record")))
                    .unwrap_or_default();
                println!("  partitions: {}{behind}", s.partitions.join(", "));
            }
            println!(
                "  {:<16} {:<14} {:<9} {:<13} {:>13} {:>8} {:>10} {:>10} {:>11}  last error",
                "stage",
                "runs",
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
                    "  {:<16} {:<14} {:<9} {:<13} {:>13} {:>8} {:>10} {:>10} {:>11}  {}",
                    st.stage,
                    runs(st.lease.as_ref()),
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
            if let Some(m) = &s.maintenance {
                print_maintenance(m, now);
            }
        }
    }
}

/// The last maintenance pass of a host: one line, then one per table it
/// changed or skipped work on.
fn print_maintenance(m: &status::MaintenanceStatus, now: i64) {
    let age = (now - m.at).max(0) as f64 / 1e6;
    println!(
        "  maintenance: last pass {age:.0} s ago, {} tables, {} failed",
        m.tables.len(),
        m.errors.len()
    );
    for t in &m.tables {
        let mut did = Vec::new();
        if let Some((removed, added)) = t.compacted {
            did.push(format!("compacted {removed} files into {added}"));
        }
        if let Some(v) = t.checkpoint {
            did.push(format!("checkpoint at {v}"));
        }
        if t.log_files_removed > 0 {
            did.push(format!("{} log files cleaned", t.log_files_removed));
        }
        if let Some(n) = t.vacuumed.filter(|n| *n > 0) {
            did.push(format!("{n} files vacuumed"));
        }
        did.extend(t.skipped.iter().cloned());
        if !did.is_empty() {
            println!(
                "    {:<24} v{:<8} {} files ({} small): {}",
                t.table,
                t.version,
                t.files,
                t.small_files,
                did.join("; ")
            );
        }
    }
    for e in &m.errors {
        println!("    failed: {e}");
    }
}

/// Where a stage runs, as a host's status saw it: `here` (it holds the
/// lease, with its epoch), `on <host>`, or `-` (a `--once` run, no lease).
fn runs(lease: Option<&Standing>) -> String {
    match lease {
        None => "-".to_owned(),
        Some(Standing::Owner { epoch }) => format!("here (#{epoch})"),
        Some(Standing::Standby { owner, .. }) => format!("on {owner}"),
        Some(Standing::Unknown) => "unknown".to_owned(),
    }
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
