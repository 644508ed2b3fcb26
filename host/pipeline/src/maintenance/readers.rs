//! Who reads a table's Change Data Feed, and how far each got: what a log
//! cleanup or a vacuum of the table must leave alone.
//!
//! A stage reads its input's versions after its progress (the larger of
//! its output's `stage/<p>/<s>` txn and its quarantine's `settled` txn); a
//! reprocess reads its stage's quarantine after the output's
//! `reprocess/<p>/<s>` txn. Reading version `v` reads the files `v` added,
//! and the files `v` removed; a later commit can only remove those files
//! (a compaction, a restore) at or after `v`'s commit time. So a file a
//! reader still needs was removed no earlier than the commit time of the
//! oldest version the reader has not read, and a vacuum whose retention
//! reaches back past that time keeps it.

use ingot_core::clock::now_micros;
use ingot_delta::Table;

use crate::{
    Result,
    config::{PipelineConfig, TableRole},
};

/// One reader of a table and where it stands.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reader {
    /// Who reads: `stage gold`, `reprocess of silver`.
    pub name: String,
    /// The oldest version of the table it has not read yet (`None`: it is
    /// caught up with the version the table was at).
    pub next: Option<i64>,
    /// Whether it has never committed: it may read every version from 0.
    pub unstarted: bool,
}

/// What the readers of a table still need of it, as of its loaded version.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Needs {
    /// Every reader.
    pub readers: Vec<Reader>,
    /// The oldest version some reader has not read, and that reader.
    pub oldest: Option<(i64, String)>,
    /// The commit time (µs) of that version.
    pub oldest_since: Option<i64>,
}

impl Needs {
    /// The readers that never committed.
    pub fn unstarted(&self) -> Vec<&str> {
        self.readers
            .iter()
            .filter(|r| r.unstarted)
            .map(|r| r.name.as_str())
            .collect()
    }

    /// How far back (µs before now) a vacuum must keep removed files for
    /// the readers: zero when every reader is caught up.
    pub fn lag_micros(&self) -> i64 {
        self.oldest_since
            .map_or(0, |since| now_micros().saturating_sub(since).max(0))
    }

    /// The first version a log cleanup must keep: the oldest unread one,
    /// else the table's version.
    pub fn keep_from(&self, version: i64) -> i64 {
        self.oldest.as_ref().map_or(version, |(v, _)| *v)
    }
}

/// The readers of table `name` of `config` (loaded at `table`'s version)
/// and the oldest version they still need.
///
/// # Errors
/// A reader's tables cannot be opened or read.
pub async fn needs(config: &PipelineConfig, name: &str, table: &Table) -> Result<Needs> {
    let layout = config.layout();
    let mut readers = Vec::new();
    for (i, stage) in config.stages.iter().enumerate() {
        if config.stage_input(i) != name {
            continue;
        }
        let output = Table::open(&layout.table_uri(&stage.name)).await?;
        let quarantine = Table::open(&layout.quarantine_uri(&stage.name)).await?;
        let done = output
            .as_ref()
            .and_then(|t| t.txn_version(&layout.stage_txn(&stage.name)));
        let settled = quarantine
            .as_ref()
            .and_then(|t| t.txn_version(&layout.settled_txn(&stage.name)));
        readers.push(reader(
            format!("stage {}", stage.name),
            done.max(settled),
            table,
        ));
    }
    if let Some(TableRole::Quarantine(i)) = config.table_role(name) {
        let stage = &config.stages[i].name;
        let output = Table::open(&layout.table_uri(stage)).await?;
        let replayed = output
            .as_ref()
            .and_then(|t| t.txn_version(&layout.reprocess_txn(stage)));
        readers.push(reader(format!("reprocess of {stage}"), replayed, table));
    }
    let oldest = readers
        .iter()
        .filter_map(|r| Some((r.next?, r.name.clone())))
        .min();
    let oldest_since = match &oldest {
        Some((v, _)) => table.commit_timestamp(*v).await?,
        None => None,
    };
    Ok(Needs {
        readers,
        oldest,
        oldest_since,
    })
}

/// A reader whose progress is `processed` (`None`: it never committed).
fn reader(name: String, processed: Option<i64>, table: &Table) -> Reader {
    let next = processed.map_or(0, |p| p + 1);
    Reader {
        name,
        next: (next <= table.version()).then_some(next),
        unstarted: processed.is_none(),
    }
}
