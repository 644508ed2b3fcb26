//! Progress of `ingot run --once` over a backlog, from the pipeline's live
//! status board: on a terminal, a bar for ingest (records written, records
//! left) and one per stage (input versions, rows, rows/s), redrawn four
//! times a second (indicatif); elsewhere, one plain line every
//! [`PLAIN_EVERY`] on stderr, for a log.

use std::{
    io::IsTerminal,
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::{Duration, Instant},
};

use indicatif::{MultiProgress, ProgressBar, ProgressDrawTarget, ProgressStyle};
use tokio::{sync::Mutex, task::JoinHandle};

use ingot_pipeline::status::{PipelineStatus, StatusBoard};

/// How often a plain progress line is written when stderr is no terminal.
pub const PLAIN_EVERY: Duration = Duration::from_secs(10);
/// How often the bars are redrawn.
const REDRAW: Duration = Duration::from_millis(250);

/// A running progress display; [`Progress::finish`] takes it down.
pub(super) struct Progress {
    done: Arc<AtomicBool>,
    task: JoinHandle<()>,
}

impl Progress {
    /// Shows the progress of the pipeline whose board is `board`.
    pub fn show(board: Arc<Mutex<StatusBoard>>) -> Self {
        let done = Arc::new(AtomicBool::new(false));
        let task = if std::io::stderr().is_terminal() {
            tokio::spawn(bars(board, Arc::clone(&done)))
        } else {
            tokio::spawn(plain(board))
        };
        Self { done, task }
    }

    /// Stops the display, clearing the bars (the run's report follows).
    pub async fn finish(self) {
        self.done.store(true, Ordering::SeqCst);
        if std::io::stderr().is_terminal() {
            let _ = self.task.await;
        } else {
            self.task.abort();
        }
    }
}

/// What two snapshots a period apart say about throughput.
struct Rates {
    at: Instant,
    ingested: u64,
    rows_in: Vec<u64>,
}

impl Rates {
    fn of(status: &PipelineStatus) -> Self {
        Self {
            at: Instant::now(),
            ingested: status.ingested,
            rows_in: status.stages.iter().map(|s| s.rows_in).collect(),
        }
    }

    /// Records a second since `self` of ingest, then of each stage.
    fn since(&self, now: &PipelineStatus) -> (f64, Vec<f64>) {
        let secs = self.at.elapsed().as_secs_f64().max(1e-3);
        let per = |then: u64, now: u64| now.saturating_sub(then) as f64 / secs;
        let stages = now
            .stages
            .iter()
            .zip(&self.rows_in)
            .map(|(s, then)| per(*then, s.rows_in))
            .collect();
        (per(self.ingested, now.ingested), stages)
    }
}

/// One plain progress line of `status`, with the rates since `then`.
pub fn plain_line(status: &PipelineStatus, rates: (f64, Vec<f64>)) -> String {
    let (ingest_rate, stage_rates) = rates;
    let behind = status
        .lag
        .map_or_else(String::new, |lag| format!(", {lag} behind"));
    let mut line = format!(
        "progress: ingest {} records ({ingest_rate:.0}/s{behind})",
        status.ingested
    );
    for (s, rate) in status.stages.iter().zip(stage_rates) {
        let versions = match (s.input_done, s.input_latest) {
            (Some(done), Some(latest)) => format!("{}/{} versions", done + 1, latest + 1),
            (None, Some(latest)) => format!("0/{} versions", latest + 1),
            _ => "waiting".to_owned(),
        };
        line.push_str(&format!(
            "; {} {versions}, {} rows in ({rate:.0}/s)",
            s.stage, s.rows_in
        ));
    }
    line
}

async fn snapshot(board: &Mutex<StatusBoard>) -> PipelineStatus {
    board.lock().await.current().clone()
}

async fn plain(board: Arc<Mutex<StatusBoard>>) {
    let mut then = Rates::of(&snapshot(&board).await);
    loop {
        tokio::time::sleep(PLAIN_EVERY).await;
        let now = snapshot(&board).await;
        eprintln!("{}", plain_line(&now, then.since(&now)));
        then = Rates::of(&now);
    }
}

async fn bars(board: Arc<Mutex<StatusBoard>>, done: Arc<AtomicBool>) {
    let multi = MultiProgress::with_draw_target(ProgressDrawTarget::stderr());
    let style = ProgressStyle::with_template("{prefix:>10} [{bar:30}] {pos}/{len} {msg}")
        .unwrap_or_else(|_| ProgressStyle::default_bar())
        .progress_chars("=> ");
    let first = snapshot(&board).await;
    let bar = |name: &str| {
        let b = multi.add(ProgressBar::new(0).with_style(style.clone()));
        b.set_prefix(name.to_owned());
        b
    };
    let ingest = bar("ingest");
    let stages: Vec<ProgressBar> = first.stages.iter().map(|s| bar(&s.stage)).collect();
    let mut then = Rates::of(&first);
    while !done.load(Ordering::SeqCst) {
        tokio::time::sleep(REDRAW).await;
        let now = snapshot(&board).await;
        if then.at.elapsed() >= Duration::from_secs(1) {
            let (ingest_rate, stage_rates) = then.since(&now);
            ingest.set_message(format!("records, {ingest_rate:.0}/s"));
            for (b, rate) in stages.iter().zip(stage_rates) {
                b.set_message(format!("input versions, {rate:.0} rows/s"));
            }
            then = Rates::of(&now);
        }
        ingest.set_length(now.ingested + now.lag.unwrap_or(0));
        ingest.set_position(now.ingested);
        for (b, s) in stages.iter().zip(&now.stages) {
            b.set_length(s.input_latest.map_or(0, |v| v + 1).unsigned_abs());
            b.set_position(s.input_done.map_or(0, |v| v + 1).unsigned_abs());
        }
    }
    if let Err(e) = multi.clear() {
        tracing::debug!(error = %e, "clearing the progress bars");
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_plain_line_gives_each_part_its_count_and_rate() {
        let status: PipelineStatus = serde_json::from_value(serde_json::json!({
            "tenant": "default", "pipeline": "logs", "host": "h", "pid": 1,
            "started_at": 0, "updated_at": 0, "stopped": false, "error": null,
            "joined": true, "partitions": ["logs/0"], "lag": 500, "ingested": 1500,
            "stages": [
                {"stage": "silver", "state": "healthy", "module": "m", "input_done": 2,
                 "input_latest": 4, "last_commit_at": null, "commits": 3, "rows_in": 900,
                 "rows_out": 880, "quarantined": 20, "last_error": null},
                {"stage": "gold", "state": "healthy", "module": "m", "input_done": null,
                 "input_latest": null, "last_commit_at": null, "commits": 0, "rows_in": 0,
                 "rows_out": 0, "quarantined": 0, "last_error": null},
            ],
        }))
        .expect("a status");
        assert_eq!(
            plain_line(&status, (150.0, vec![90.4, 0.0])),
            "progress: ingest 1500 records (150/s, 500 behind); silver 3/5 versions, \
             900 rows in (90/s); gold waiting, 0 rows in (0/s)"
        );
    }
}
