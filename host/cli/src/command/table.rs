//! `ingot show` and `ingot lineage`: reading a pipeline's tables.

use std::{io::Write, path::Path};

use ingot_core::{arrow::util::pretty::pretty_format_batches, short_digest as short};
use ingot_delta::Table;
use ingot_pipeline::config::{ConfigError, PipelineConfig};

use super::ShowArgs;
use crate::{Error, Result};

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
pub(super) async fn lineage(file: &Path, table: &str, version: Option<i64>) -> Result<i32> {
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

pub(super) async fn show(args: &ShowArgs) -> Result<i32> {
    let t = open_table(&args.file, &args.table).await?;
    let sql = args
        .sql
        .clone()
        .unwrap_or_else(|| format!("SELECT * FROM t LIMIT {}", args.limit));
    print_batches(&t.query(&sql).await?)?;
    Ok(0)
}

pub(super) fn print_batches(batches: &[ingot_core::arrow::array::RecordBatch]) -> Result<()> {
    let text = pretty_format_batches(batches)
        .map_err(|e| Error::Internal(format!("formatting a table: {e}")))?;
    let mut out = std::io::stdout().lock();
    writeln!(out, "{text}").map_err(|e| Error::Internal(format!("writing to stdout: {e}")))
}
