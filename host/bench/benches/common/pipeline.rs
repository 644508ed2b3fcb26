//! Running ingot's own loops to completion and timing them, for the
//! benchmarks that measure the data path (medallion, workloads).

use std::sync::{Arc, atomic::AtomicBool};
use std::time::Instant;

use anyhow::{Context, Result};
use ingot_pipeline::config::PipelineConfig;
use ingot_pipeline::ingest::{Ingest, IngestReport};
use ingot_pipeline::stage::{StageRunner, StepOutcome};
use ingot_sandbox::Runtime;

/// The ingest loop with `--once` semantics (every partition to its end);
/// returns its report and the seconds it took.
pub fn run_ingest(
    tokio: &tokio::runtime::Runtime,
    config: &Arc<PipelineConfig>,
    bootstrap: &str,
) -> Result<(IngestReport, f64)> {
    let ingest = Ingest::new(
        Arc::clone(config),
        bootstrap.to_owned(),
        tokio.handle().clone(),
        Arc::new(AtomicBool::new(false)),
        true,
    );
    let started = Instant::now();
    let report = ingest.run()?;
    Ok((report, started.elapsed().as_secs_f64()))
}

/// Totals of one stage run to completion.
pub struct StageTotals {
    pub rows_in: u64,
    pub rows_out: u64,
    pub commits: u64,
    pub seconds: f64,
}

/// Steps stage `index` until it is idle; the module is loaded (compiled)
/// before the clock starts.
pub fn run_stage(
    tokio: &tokio::runtime::Runtime,
    config: &PipelineConfig,
    index: usize,
    runtime: &Arc<Runtime>,
) -> Result<StageTotals> {
    let mut runner = StageRunner::new(config, index, Arc::clone(runtime))?;
    let mut totals = StageTotals {
        rows_in: 0,
        rows_out: 0,
        commits: 0,
        seconds: 0.0,
    };
    let started = Instant::now();
    tokio
        .block_on(async {
            loop {
                match runner.step().await? {
                    StepOutcome::Idle => return Ok::<_, anyhow::Error>(()),
                    StepOutcome::Committed {
                        rows_in, rows_out, ..
                    } => {
                        totals.rows_in += rows_in as u64;
                        totals.rows_out += rows_out as u64;
                        totals.commits += 1;
                    }
                }
            }
        })
        .with_context(|| format!("stage {}", config.stages[index].name))?;
    totals.seconds = started.elapsed().as_secs_f64();
    Ok(totals)
}

/// `n commits`, or `1 commit`.
pub fn commits(n: u64) -> String {
    if n == 1 {
        "1 commit".into()
    } else {
        format!("{n} commits")
    }
}
