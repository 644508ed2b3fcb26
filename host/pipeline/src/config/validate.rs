//! The checks a parsed pipeline file passes before anything runs: names,
//! limits, inputs, modules and the keys of each write mode.

use ingot_core::BRONZE;
use ingot_delta::WriteMode;

use super::{ConfigError, PipelineConfig, StageConfig, check_name};

impl PipelineConfig {
    pub(super) fn invalid(
        &self,
        field: impl Into<String>,
        message: impl Into<String>,
    ) -> ConfigError {
        ConfigError::invalid(&self.path, field, message)
    }

    pub(super) fn validate(&self) -> Result<(), ConfigError> {
        check_name(&self.name).map_err(|m| self.invalid("name", m))?;
        check_name(&self.tenant).map_err(|m| self.invalid("tenant", m))?;
        if self.kafka.topics.is_empty() {
            return Err(self.invalid("kafka.topics", "must name at least one topic"));
        }
        if self.kafka.brokers.trim().is_empty() {
            return Err(self.invalid("kafka.brokers", "must be `host:port[,...]` or `embedded`"));
        }
        if self.kafka.properties.contains_key("auto.offset.reset") {
            return Err(self.invalid(
                "kafka.properties.auto.offset.reset",
                "is ingot's to set (`error`, so a position the broker no longer has is \
                 detected); choose what happens then with `on-data-loss` under [kafka]",
            ));
        }
        if !(1..=1000).contains(&self.kafka.embedded_partitions) {
            return Err(self.invalid("kafka.embedded-partitions", "must be between 1 and 1000"));
        }
        if self.ingest.max_records == 0 || self.ingest.max_bytes == 0 {
            return Err(self.invalid("ingest", "max-records and max-bytes must be positive"));
        }
        if !(0.5..=3600.0).contains(&self.fleet.stage_lease_seconds) {
            return Err(self.invalid("fleet.stage-lease-seconds", "must be between 0.5 and 3600"));
        }
        // Every table and object under the root opens with its options.
        ingot_delta::register_lake(&self.lake.root, &self.lake.options)
            .map_err(|e| self.invalid("lake.root", e.to_string()))?;
        let mut tables = vec![BRONZE.to_owned()];
        for (i, stage) in self.stages.iter().enumerate() {
            self.validate_stage(i, stage, &tables)?;
            tables.push(stage.name.clone());
        }
        self.validate_maintenance()
    }

    fn validate_stage(
        &self,
        i: usize,
        s: &StageConfig,
        known: &[String],
    ) -> Result<(), ConfigError> {
        let field = |f: &str| format!("stages[{i}].{f}");
        check_name(&s.name).map_err(|m| self.invalid(field("name"), m))?;
        if known.contains(&s.name) {
            return Err(self.invalid(
                field("name"),
                format!("`{}` is already a table of this pipeline", s.name),
            ));
        }
        if let Some(input) = &s.input
            && !known.contains(input)
        {
            return Err(self.invalid(
                field("input"),
                format!(
                    "`{input}` is not bronze or an earlier stage (known: {})",
                    known.join(", ")
                ),
            ));
        }
        if !s.module.is_file() {
            return Err(self.invalid(
                field("module"),
                format!("{} does not exist", s.module.display()),
            ));
        }
        match &s.mode {
            WriteMode::Append => {}
            WriteMode::Upsert { keys, .. } | WriteMode::Dedupe { keys } if keys.is_empty() => {
                return Err(self.invalid(field("keys"), "must name at least one column"));
            }
            WriteMode::Accumulate { keys, measures, .. } => {
                if keys.is_empty() {
                    return Err(self.invalid(field("keys"), "must name at least one column"));
                }
                if measures.is_empty() {
                    return Err(self.invalid(field("measures"), "must name at least one column"));
                }
            }
            WriteMode::Upsert { .. } | WriteMode::Dedupe { .. } => {}
        }
        if s.input_columns.as_ref().is_some_and(Vec::is_empty) {
            return Err(self.invalid(
                field("input-columns"),
                "must name at least one column (leave it out to read every column)",
            ));
        }
        let sizes = [
            ("batch-rows", s.batch_rows == 0),
            ("instances", s.instances == 0),
            ("max-versions-per-commit", s.max_versions_per_commit <= 0),
            ("max-mib-per-commit", s.max_mib_per_commit == 0),
        ];
        if let Some((key, _)) = sizes.into_iter().find(|(_, bad)| *bad) {
            return Err(self.invalid(field(key), "must be positive"));
        }
        let l = &s.limits;
        if l.memory_mib == 0
            || l.call_timeout_ms == 0
            || l.max_output_mib == 0
            || l.max_attempts == 0
        {
            return Err(self.invalid(field("limits"), "every limit must be positive"));
        }
        Ok(())
    }
}
