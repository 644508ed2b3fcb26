//! Where everything of a pipeline lives in the lake, and what ingot calls
//! its Delta `txn` application ids: the one place that spells them.
//!
//! ```text
//! <root>/<tenant>/<pipeline>/bronze                    ingest's output
//! <root>/<tenant>/<pipeline>/<stage>                   a stage's output
//! <root>/<tenant>/<pipeline>/<stage>_quarantine        rows the stage rejected
//! <root>/<tenant>/<pipeline>/<stage>_tombstones        an upsert stage's deleted keys
//! <root>/<tenant>/_registry/modules/<sha256>.wasm      deployed modules
//! <root>/<tenant>/_registry/deployments                the deployments table
//! <root>/<tenant>/_registry/status/<pipeline>/<host>.json   what `ingot status` reads
//! ```
//!
//! Txn application ids (each a Delta `txn` action's `appId`; its `version`
//! is the progress it records):
//!
//! | app id | on table | version |
//! |---|---|---|
//! | `<pipeline>/<topic>/<partition>` | bronze | last Kafka offset written |
//! | `stage/<pipeline>/<stage>` | the stage's output and quarantine | last input version whose output (rejects) are committed |
//! | `stage/<pipeline>/<stage>/settled` | the stage's quarantine | last input version settled without output |
//! | `reprocess/<pipeline>/<stage>` | the stage's output and quarantine | last quarantine version reprocessed |

/// The name of the table the ingest loop writes.
pub const BRONZE: &str = "bronze";

/// The directory under a tenant's folder that holds its registry.
const REGISTRY_DIR: &str = "_registry";

/// The table holding the rows stage `stage` rejected.
pub fn quarantine_table(stage: &str) -> String {
    format!("{stage}_quarantine")
}

/// The table holding the tombstones of upsert stage `stage`.
pub fn tombstones_table(stage: &str) -> String {
    format!("{stage}_tombstones")
}

/// The lake layout of one pipeline of one tenant.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Layout {
    root: String,
    tenant: String,
    pipeline: String,
}

impl Layout {
    /// The layout of `pipeline` of `tenant` under lake `root` (a local path
    /// or a URL; a trailing `/` is ignored).
    pub fn new(
        root: impl Into<String>,
        tenant: impl Into<String>,
        pipeline: impl Into<String>,
    ) -> Self {
        let root: String = root.into();
        Layout {
            root: root.trim_end_matches('/').to_owned(),
            tenant: tenant.into(),
            pipeline: pipeline.into(),
        }
    }

    /// The lake root, without a trailing `/`.
    pub fn root(&self) -> &str {
        &self.root
    }

    /// The tenant.
    pub fn tenant(&self) -> &str {
        &self.tenant
    }

    /// The pipeline.
    pub fn pipeline(&self) -> &str {
        &self.pipeline
    }

    /// Table `name` of this pipeline: `<root>/<tenant>/<pipeline>/<name>`.
    pub fn table_uri(&self, name: &str) -> String {
        format!("{}/{}/{}/{}", self.root, self.tenant, self.pipeline, name)
    }

    /// The bronze table.
    pub fn bronze_uri(&self) -> String {
        self.table_uri(BRONZE)
    }

    /// Stage `stage`'s quarantine table.
    pub fn quarantine_uri(&self, stage: &str) -> String {
        self.table_uri(&quarantine_table(stage))
    }

    /// Stage `stage`'s tombstones table.
    pub fn tombstones_uri(&self, stage: &str) -> String {
        self.table_uri(&tombstones_table(stage))
    }

    /// Every table a stage writes besides its output, by name: its
    /// quarantine and its tombstones.
    pub fn side_tables(stage: &str) -> [String; 2] {
        [quarantine_table(stage), tombstones_table(stage)]
    }

    /// `<root>/<tenant>/_registry`: the tenant's modules, deployments and
    /// status documents.
    pub fn registry_dir(&self) -> String {
        format!("{}/{}/{REGISTRY_DIR}", self.root, self.tenant)
    }

    /// Where deployed modules are stored by digest.
    pub fn modules_dir(&self) -> String {
        format!("{}/modules", self.registry_dir())
    }

    /// The file of the module with sha256 `digest` in the modules dir.
    pub fn module_file(digest: &str) -> String {
        format!("{digest}.wasm")
    }

    /// The tenant's deployments table.
    pub fn deployments_uri(&self) -> String {
        format!("{}/deployments", self.registry_dir())
    }

    /// Where this pipeline's hosts write their status documents.
    pub fn status_dir(&self) -> String {
        format!("{}/status/{}", self.registry_dir(), self.pipeline)
    }

    /// Where the leases of this pipeline's stages live: one folder per
    /// stage, one object per owner epoch.
    pub fn leases_dir(&self, stage: &str) -> String {
        format!("{}/leases/{}/{stage}", self.registry_dir(), self.pipeline)
    }

    /// The lease of this pipeline's table maintenance: the one host of a
    /// fleet holding it maintains the tables (beside the stages' leases; a
    /// `.` is in no stage name).
    pub fn maintenance_lease_dir(&self) -> String {
        format!(
            "{}/leases/{}/.maintenance",
            self.registry_dir(),
            self.pipeline
        )
    }

    /// The default Kafka consumer group: `ingot-<tenant>-<pipeline>`.
    pub fn default_group_id(&self) -> String {
        format!("ingot-{}-{}", self.tenant, self.pipeline)
    }

    /// The txn app id, on bronze, of a Kafka partition's last offset.
    pub fn partition_txn(&self, topic: &str, partition: i32) -> String {
        format!("{}/{topic}/{partition}", self.pipeline)
    }

    /// The txn app id of a stage's progress (on its output and quarantine
    /// tables): the last input version whose output (rejects) are committed.
    pub fn stage_txn(&self, stage: &str) -> String {
        format!("stage/{}/{stage}", self.pipeline)
    }

    /// The txn app id, on a stage's quarantine, of the last input version
    /// settled by a quarantine commit alone (a range with no output while
    /// the output table did not exist yet).
    pub fn settled_txn(&self, stage: &str) -> String {
        format!("{}/settled", self.stage_txn(stage))
    }

    /// The txn app id, on a stage's output and quarantine tables, of the
    /// last quarantine version reprocessed.
    pub fn reprocess_txn(&self, stage: &str) -> String {
        format!("reprocess/{}/{stage}", self.pipeline)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_path_and_txn_id_has_its_documented_spelling() {
        let l = Layout::new("/lake/", "acme", "logs");
        assert_eq!(l.bronze_uri(), "/lake/acme/logs/bronze");
        assert_eq!(l.table_uri("gold"), "/lake/acme/logs/gold");
        assert_eq!(
            l.quarantine_uri("silver"),
            "/lake/acme/logs/silver_quarantine"
        );
        assert_eq!(
            l.tombstones_uri("silver"),
            "/lake/acme/logs/silver_tombstones"
        );
        assert_eq!(l.registry_dir(), "/lake/acme/_registry");
        assert_eq!(l.modules_dir(), "/lake/acme/_registry/modules");
        assert_eq!(l.deployments_uri(), "/lake/acme/_registry/deployments");
        assert_eq!(l.status_dir(), "/lake/acme/_registry/status/logs");
        assert_eq!(l.default_group_id(), "ingot-acme-logs");
        assert_eq!(l.partition_txn("t", 3), "logs/t/3");
        assert_eq!(l.stage_txn("silver"), "stage/logs/silver");
        assert_eq!(l.settled_txn("silver"), "stage/logs/silver/settled");
        assert_eq!(l.reprocess_txn("silver"), "reprocess/logs/silver");
    }
}
