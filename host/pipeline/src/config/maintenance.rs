//! `[maintenance]`: how `run` and `serve` keep a pipeline's tables healthy
//! without a person (see `ingot_pipeline::maintenance`).

use std::{collections::BTreeMap, time::Duration};

use serde::{Deserialize, Serialize};

use super::{ConfigError, PipelineConfig};

/// Automatic table maintenance: compaction, checkpoints, expired-log
/// cleanup and vacuum of every table of the pipeline.
#[derive(Debug, Clone, PartialEq, Deserialize, Serialize)]
#[serde(rename_all = "kebab-case", deny_unknown_fields, default)]
pub struct MaintenanceConfig {
    /// Whether `run` and `serve` maintain the tables (one host of a fleet:
    /// the one holding the pipeline's maintenance lease), and `run --once`
    /// once, between its ingest and its stages.
    pub enabled: bool,
    /// How often the maintaining host looks at the tables.
    pub interval_seconds: f64,
    /// A table is compacted once it has this many small files.
    pub compact_min_files: u64,
    /// Files under this size are small.
    pub small_file_mib: u64,
    /// The size compaction packs files up to.
    pub target_file_mib: u64,
    /// Columns to Z-order a table by when it is compacted, by table name
    /// (`silver = ["host", "time"]`); other tables are bin-packed.
    pub zorder: BTreeMap<String, Vec<String>>,
    /// A checkpoint is written once a table is this many versions past
    /// its last one.
    pub checkpoint_interval: i64,
    /// JSON commits older than this are removed once a checkpoint covers
    /// them, unless a stage reading the table has not read them yet.
    pub log_retention_hours: f64,
    /// Files no version newer than this references are deleted, unless a
    /// stage reading the table may still need them.
    pub vacuum_retention_hours: f64,
    /// How often a table is vacuumed (a vacuum lists all its files).
    pub vacuum_interval_hours: f64,
}

impl Default for MaintenanceConfig {
    fn default() -> Self {
        Self {
            enabled: true,
            interval_seconds: 60.0,
            compact_min_files: 64,
            small_file_mib: 16,
            target_file_mib: 128,
            zorder: BTreeMap::new(),
            checkpoint_interval: 100,
            log_retention_hours: 30.0 * 24.0,
            vacuum_retention_hours: 7.0 * 24.0,
            vacuum_interval_hours: 24.0,
        }
    }
}

impl MaintenanceConfig {
    /// `interval_seconds` as a duration.
    pub fn interval(&self) -> Duration {
        Duration::from_secs_f64(self.interval_seconds)
    }

    /// `log_retention_hours` as a duration.
    pub fn log_retention(&self) -> Duration {
        hours(self.log_retention_hours)
    }

    /// `vacuum_retention_hours` as a duration.
    pub fn vacuum_retention(&self) -> Duration {
        hours(self.vacuum_retention_hours)
    }

    /// `vacuum_interval_hours` as a duration.
    pub fn vacuum_interval(&self) -> Duration {
        hours(self.vacuum_interval_hours)
    }

    /// `small_file_mib` in bytes.
    pub fn small_file_bytes(&self) -> u64 {
        self.small_file_mib.saturating_mul(1 << 20)
    }

    /// `target_file_mib` in bytes.
    pub fn target_file_bytes(&self) -> u64 {
        self.target_file_mib.saturating_mul(1 << 20)
    }
}

fn hours(h: f64) -> Duration {
    Duration::from_secs_f64(h * 3600.0)
}

impl PipelineConfig {
    /// The checks of `[maintenance]`.
    pub(super) fn validate_maintenance(&self) -> Result<(), ConfigError> {
        let m = &self.maintenance;
        let field = |f: &str| format!("maintenance.{f}");
        if !(0.1..=86_400.0).contains(&m.interval_seconds) {
            return Err(self.invalid(field("interval-seconds"), "must be between 0.1 and 86400"));
        }
        if m.compact_min_files < 2 {
            return Err(self.invalid(field("compact-min-files"), "must be at least 2"));
        }
        if m.small_file_mib == 0 || m.target_file_mib < m.small_file_mib {
            return Err(self.invalid(
                field("target-file-mib"),
                "must be at least small-file-mib, which must be positive",
            ));
        }
        if m.checkpoint_interval < 1 {
            return Err(self.invalid(field("checkpoint-interval"), "must be at least 1"));
        }
        for (name, value) in [
            ("log-retention-hours", m.log_retention_hours),
            ("vacuum-retention-hours", m.vacuum_retention_hours),
            ("vacuum-interval-hours", m.vacuum_interval_hours),
        ] {
            if !(value.is_finite() && value >= 0.0) {
                return Err(self.invalid(field(name), "must be a number of hours, 0 or more"));
            }
        }
        for (table, columns) in &m.zorder {
            if !self.table_names().iter().any(|t| t == table) {
                return Err(self.invalid(
                    format!("maintenance.zorder.{table}"),
                    format!(
                        "names no table of this pipeline (its tables: {})",
                        self.table_names().join(", ")
                    ),
                ));
            }
            if columns.is_empty() {
                return Err(self.invalid(format!("maintenance.zorder.{table}"), "names no column"));
            }
        }
        Ok(())
    }
}
