//! The checks a module passes before it is deployed to a stage, in order:
//!
//! 1. it is a Wasm component of the `ingot:transform/stage@0.1.0` world
//!    (exports present, imports only what the sandbox offers);
//! 2. `init` succeeds with the stage's configuration;
//! 3. a dry run over the stage's most recent input (up to `batch-rows` change
//!    rows of its input table's last versions) succeeds;
//! 4. the rows it returns fit the stage's output table and write mode (the
//!    table's columns and types, and the mode's key, measure, sequence,
//!    delete or reset columns).
//!
//! The first check that fails is reported, with its name and cause
//! ([`RegistryError::Refused`]); nothing is stored or recorded.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use super::{Check, RegistryError};
use ingot_core::StageId;
use ingot_core::arrow::array::RecordBatch;
use ingot_core::arrow::compute::concat_batches;
use ingot_core::clock::now_micros;
use ingot_delta::Table;
use ingot_pipeline::config::PipelineConfig;
use ingot_pipeline::stage::{
    execute::{Executor, OutputCheck as _},
    execute_settings,
    sink::TableCheck,
};
use ingot_sandbox::{Module, Runtime};

/// The stage a module is validated for, and the module file.
#[derive(Debug, Clone, Copy)]
pub struct Target<'a> {
    /// The pipeline.
    pub config: &'a PipelineConfig,
    /// The stage's index in it.
    pub index: usize,
    /// The module file.
    pub module: &'a Path,
}

/// What the dry run did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct DryRun {
    /// The input versions it read, `None` when the input table has none yet.
    pub input_versions: Option<(i64, i64)>,
    /// Change rows it fed the module.
    pub rows_in: usize,
    /// Rows the module returned.
    pub rows_out: usize,
    /// Rows the module rejected.
    pub rejected: usize,
    /// Whether the output table existed to check the rows against.
    pub output_checked: bool,
}

/// A module that passed every check.
#[derive(Debug)]
pub struct Validated {
    /// The loaded module.
    pub module: Arc<Module>,
    /// The configuration it was initialised with.
    pub config: BTreeMap<String, String>,
    /// The dry run.
    pub dry_run: DryRun,
}

/// Input versions a dry run looks back over at most.
const DRY_RUN_VERSIONS: i64 = 10;

/// Runs the four checks on `target` with the stage's configuration plus
/// `overrides` (later keys win).
///
/// # Errors
/// [`RegistryError::Refused`] naming the check that failed; table errors
/// when the input cannot be read.
pub async fn validate(
    target: &Target<'_>,
    overrides: &[(String, String)],
    runtime: &Arc<Runtime>,
) -> Result<Validated, RegistryError> {
    let config = target.config;
    let stage = &config.stages[target.index];
    let module = runtime.load(target.module).map_err(|e| {
        RegistryError::refused(target, Check::Component, e.to_string(), Some(Box::new(e)))
    })?;
    let mut init: BTreeMap<String, String> = stage.init_config().into_iter().collect();
    init.extend(overrides.iter().cloned());
    let id = StageId {
        tenant: config.tenant.clone(),
        pipeline: config.name.clone(),
        stage: stage.name.clone(),
    };
    let pairs: Vec<(String, String)> = init.clone().into_iter().collect();
    let mut executor = Executor::new(
        id,
        Arc::clone(runtime),
        Arc::clone(&module),
        pairs,
        execute_settings(stage),
    )
    .map_err(|e| RegistryError::refused(target, Check::Init, e.to_string(), Some(Box::new(e))))?;

    let (input, versions) = recent_input(target, stage.batch_rows).await?;
    let rows_in = input.num_rows();
    let (outputs, rejects) = executor
        .call(Arc::new(vec![input]), now_micros(), &mut ())
        .await
        .map_err(|e| {
            RegistryError::refused(target, Check::DryRun, e.to_string(), Some(Box::new(e)))
        })?;

    let mode = &stage.mode;
    let output_uri = config.table_uri(&stage.name);
    let output = Table::open(&output_uri).await?;
    TableCheck::new(output.as_ref(), &output_uri, mode)
        .check(&outputs)
        .map_err(|e| {
            RegistryError::refused(target, Check::Output, e.to_string(), Some(Box::new(e)))
        })?;
    Ok(Validated {
        module,
        config: init,
        dry_run: DryRun {
            input_versions: versions,
            rows_in,
            rows_out: outputs.iter().map(RecordBatch::num_rows).sum(),
            rejected: rejects.len(),
            output_checked: output.is_some(),
        },
    })
}

/// Up to `rows` change rows of the input's last versions (the most recent
/// rows), and the versions read; an empty batch of bronze's change schema
/// when the input is a bronze table that does not exist yet (the module
/// still reports its output schema).
async fn recent_input(
    target: &Target<'_>,
    rows: usize,
) -> Result<(RecordBatch, Option<(i64, i64)>), RegistryError> {
    let config = target.config;
    let input_name = config.stage_input(target.index);
    let Some(input) = Table::open(&config.table_uri(input_name)).await? else {
        if input_name != ingot_core::BRONZE {
            return Err(RegistryError::refused(
                target,
                Check::DryRun,
                format!(
                    "the stage's input table `{input_name}` does not exist yet: \
                     run the pipeline once before deploying to this stage"
                ),
                None,
            ));
        }
        let schema = ingot_delta::change_schema(&ingot_kafka::bronze::schema());
        return Ok((RecordBatch::new_empty(schema), None));
    };
    let latest = input.version();
    let from = (latest - DRY_RUN_VERSIONS + 1).max(0);
    let batches = input.changes(from, latest).await?;
    let all = concat_batches(&input.change_schema(), &batches)
        .map_err(|e| RegistryError::Internal(format!("dry run input: {e}")))?;
    let skip = all.num_rows().saturating_sub(rows);
    Ok((all.slice(skip, all.num_rows() - skip), Some((from, latest))))
}
