//! The medallion's figures: one row per phase of each reader, the ratios
//! between them, and the three outputs made from the rows: the markdown
//! table, the JSON results and the throughput plot.

use anyhow::Result;
use serde_json::{Value, json};

use crate::common::{Table, decimal, thousands};
use crate::plot::{BarSeries, Bars, bars};
use crate::results::{num, plots_dir};

/// Who ran a phase.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Who {
    /// ingot's producer filling the topic.
    Producer,
    /// The raw rdkafka consumer, the ingest ceiling.
    Raw,
    /// ingot's loops called in process (`Ingest`, `StageRunner`).
    InProcess,
    /// The release binary, `ingot run --once`.
    Binary,
    /// The Python peer.
    Peer,
}

impl Who {
    /// Its name in the JSON and the plot's legend.
    fn name(self) -> &'static str {
        match self {
            Who::Producer => "producer",
            Who::Raw => "raw consumer",
            Who::InProcess => "ingot in process",
            Who::Binary => "ingot run --once (binary)",
            Who::Peer => "python peer",
        }
    }
}

/// The phases the ratios and the plot compare.
pub const PHASES: [&str; 4] = ["ingest", "silver", "gold", "end to end"];

/// One line of the result table.
pub struct Row {
    /// Who ran it.
    pub who: Who,
    /// `produce`, `consume`, or one of [`PHASES`].
    pub phase: &'static str,
    /// Its label in the table.
    pub label: String,
    /// Records it handled.
    pub records: u64,
    /// Its wall-clock seconds.
    pub seconds: f64,
    /// Bytes (keys + values) it read, when that means something.
    pub bytes: Option<f64>,
    /// Its output commits, when known.
    pub commits: Option<u64>,
}

impl Row {
    /// Records per second.
    pub fn rate(&self) -> f64 {
        self.records as f64 / self.seconds
    }

    fn cells(&self, ratio: String) -> Vec<String> {
        vec![
            self.label.clone(),
            thousands(self.records as f64),
            decimal(self.seconds),
            thousands(self.rate()),
            self.bytes
                .map_or_else(|| "—".into(), |b| decimal(b / self.seconds / 1e6)),
            decimal(self.seconds * 1e6 / self.records as f64),
            ratio,
        ]
    }

    fn json(&self) -> Value {
        json!({
            "who": self.who.name(),
            "phase": self.phase,
            "label": self.label,
            "records": self.records,
            "seconds": num(self.seconds, 4),
            "records_per_s": num(self.rate(), 1),
            "mb_per_s": self.bytes.map(|b| num(b / self.seconds / 1e6, 2)),
            "us_per_record": num(self.seconds * 1e6 / self.records as f64, 3),
            "commits": self.commits,
        })
    }
}

/// Every row of one run, in table order.
pub struct Report {
    /// The rows.
    pub rows: Vec<Row>,
    /// Why the peer's rows are missing or short, if they are.
    pub peer_note: Option<String>,
}

impl Report {
    fn find(&self, who: Who, phase: &str) -> Option<&Row> {
        self.rows.iter().find(|r| r.who == who && r.phase == phase)
    }

    /// The ratio cell of `row`: against the raw consumer for ingest, and
    /// against the peer's same phase for ingot's rows.
    fn ratio(&self, row: &Row) -> String {
        let vs = |other: Option<&Row>, what: &str| {
            other.map(|o| format!("{}× {what}", decimal(row.rate() / o.rate())))
        };
        let parts: Vec<String> = match row.who {
            Who::Raw => return "1.00 (baseline)".into(),
            Who::InProcess | Who::Binary => [
                (row.phase == "ingest")
                    .then(|| vs(self.find(Who::Raw, "consume"), "raw"))
                    .flatten(),
                vs(self.find(Who::Peer, row.phase), "peer"),
            ]
            .into_iter()
            .flatten()
            .collect(),
            Who::Producer | Who::Peer => Vec::new(),
        };
        if parts.is_empty() {
            "—".into()
        } else {
            parts.join("; ")
        }
    }

    /// Prints the markdown table and its notes.
    pub fn print(&self, records: usize, bytes: f64) {
        let mut table = Table::new(&[
            "stage",
            "records",
            "seconds",
            "records/s",
            "MB/s",
            "µs/record",
            "ratio",
        ]);
        for row in &self.rows {
            table.row(row.cells(self.ratio(row)));
        }
        println!("{}\n", table.render());
        println!(
            "MB = 10^6 bytes of Kafka keys + values ({} bytes per record on average).",
            decimal(bytes / records as f64)
        );
        println!(
            "ratio: records/s of the row ÷ records/s of the named reference (raw consumer, or the peer's same phase)."
        );
        println!(
            "binary: phases from the commit timestamps of bronze, silver and gold relative to the process start; end to end is the process's wall time."
        );
        if let Some(note) = &self.peer_note {
            println!("\nnote: {note}");
        }
    }

    /// The rows as JSON.
    pub fn json(&self, records: usize, bytes: f64) -> Value {
        json!({
            "records": records,
            "bytes": bytes,
            "rows": self.rows.iter().map(Row::json).collect::<Vec<_>>(),
            "peer_note": self.peer_note,
        })
    }

    /// Draws `medallion-throughput.svg`: records/s by phase for ingot in
    /// process, the binary and the peer, with the raw consumer as a line.
    ///
    /// # Errors
    ///
    /// When the plot cannot be written.
    pub fn plot(&self, records: usize) -> Result<()> {
        let series = [Who::InProcess, Who::Binary, Who::Peer]
            .into_iter()
            .map(|who| BarSeries {
                label: who.name().into(),
                values: PHASES
                    .iter()
                    .map(|p| self.find(who, p).map(Row::rate))
                    .collect(),
            })
            .collect();
        let title = format!(
            "Medallion throughput by phase, {} records of ~300 bytes",
            thousands(records as f64)
        );
        let path = plots_dir()?.join("medallion-throughput.svg");
        bars(
            &path,
            &Bars {
                title: &title,
                y_desc: "records per second (log scale)",
                groups: &PHASES,
                series,
                reference: self
                    .find(Who::Raw, "consume")
                    .map(|r| ("raw consumer (ingest ceiling)".into(), r.rate())),
            },
        )?;
        println!("plot: {}", path.display());
        Ok(())
    }
}
