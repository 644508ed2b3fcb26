//! Waking a stage when its input changes, instead of polling it.
//!
//! Every table of a pipeline that this host writes (bronze by the ingest
//! loop, each stage's output by its stage) announces its commits on a
//! [`Wakeups`] channel; a stage with nothing to do waits on its input's
//! channel ([`InputWatch::wait`]), so it starts on a new input version the
//! moment it lands and costs nothing while its input is quiet.
//!
//! A commit made by another host announces nothing here: an idle stage
//! also looks at its input every [`Polling::quiet`] (1 s), and once it has
//! found work that way (another host writes its input) it looks every
//! [`Polling::busy`] (200 ms) for the next [`Polling::remote_window`]
//! (a minute).

use std::{
    collections::HashMap,
    time::{Duration, Instant},
};

use ingot_core::BRONZE;
use tokio::sync::watch;

use crate::config::PipelineConfig;

/// How often an idle stage looks at its input without being woken.
#[derive(Debug, Clone, Copy)]
pub struct Polling {
    /// While only this host is known to write the input.
    pub quiet: Duration,
    /// While another host writes it.
    pub busy: Duration,
    /// How long a stage polls at `busy` after finding work another host
    /// committed.
    pub remote_window: Duration,
}

impl Default for Polling {
    fn default() -> Self {
        Self {
            quiet: Duration::from_secs(1),
            busy: Duration::from_millis(200),
            remote_window: Duration::from_secs(60),
        }
    }
}

/// What a table's channel carries.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Announced {
    /// Commits announced so far.
    pub commits: u64,
    /// Whether its writer on this host is done for the run (a `--once`
    /// run's ingest or stage that finished): no more commits will come.
    pub finished: bool,
}

/// The channels of one pipeline's tables, and its stop (see the module
/// docs).
#[derive(Debug)]
pub struct Wakeups {
    tables: HashMap<String, watch::Sender<Announced>>,
    stop: watch::Sender<bool>,
    /// Each stage's input table, by stage index.
    inputs: Vec<String>,
    /// Each stage's output table, by stage index.
    outputs: Vec<String>,
    polling: Polling,
}

impl Wakeups {
    /// The channels of `config`'s bronze and stage outputs.
    pub fn new(config: &PipelineConfig, polling: Polling) -> Self {
        let outputs: Vec<String> = config.stages.iter().map(|s| s.name.clone()).collect();
        let inputs = (0..outputs.len())
            .map(|i| config.stage_input(i).to_owned())
            .collect();
        let tables = std::iter::once(BRONZE.to_owned())
            .chain(outputs.iter().cloned())
            .map(|name| (name, watch::Sender::new(Announced::default())))
            .collect();
        Self {
            tables,
            stop: watch::Sender::new(false),
            inputs,
            outputs,
            polling,
        }
    }

    /// Announces a commit to bronze.
    pub fn bronze_committed(&self) {
        self.announce(BRONZE, |a| a.commits += 1);
    }

    /// Announces that bronze's writer on this host is done for the run.
    pub fn bronze_finished(&self) {
        self.announce(BRONZE, |a| a.finished = true);
    }

    /// Announces a commit of stage `i`'s output.
    pub fn stage_committed(&self, i: usize) {
        self.announce(&self.outputs[i], |a| a.commits += 1);
    }

    /// Announces that stage `i` is done for the run.
    pub fn stage_finished(&self, i: usize) {
        self.announce(&self.outputs[i], |a| a.finished = true);
    }

    /// Wakes every waiting stage for good: the run is stopping.
    pub fn stop(&self) {
        self.stop.send_replace(true);
    }

    fn announce(&self, table: &str, change: impl FnOnce(&mut Announced)) {
        if let Some(sender) = self.tables.get(table) {
            sender.send_modify(change);
        }
    }

    /// What stage `i` waits on.
    pub fn input_of(&self, i: usize) -> InputWatch {
        InputWatch {
            input: self.tables[&self.inputs[i]].subscribe(),
            stop: self.stop.subscribe(),
            polling: self.polling,
            woken_by_poll: false,
            remote_until: None,
        }
    }
}

/// One stage's view of its input's channel (see the module docs).
#[derive(Debug)]
pub struct InputWatch {
    input: watch::Receiver<Announced>,
    stop: watch::Receiver<bool>,
    polling: Polling,
    /// Whether the last wait ended by its poll interval.
    woken_by_poll: bool,
    /// Until when another host is taken to write the input.
    remote_until: Option<Instant>,
}

impl InputWatch {
    /// Whether the input's writer on this host is done for the run. Read it
    /// before a step: a step that then finds nothing new has seen the last
    /// version.
    pub fn finished(&self) -> bool {
        self.input.borrow().finished
    }

    /// Waits until the input announces a commit, the poll interval passes,
    /// or the run stops.
    pub async fn wait(&mut self) {
        let poll = if self.remote_until.is_some_and(|t| Instant::now() < t) {
            self.polling.busy
        } else {
            self.polling.quiet
        };
        self.woken_by_poll = false;
        tokio::select! {
            changed = self.input.changed() => {
                if changed.is_err() {
                    // No writer left to announce: poll.
                    tokio::time::sleep(poll).await;
                }
            }
            () = stopped(&mut self.stop) => {}
            () = tokio::time::sleep(poll) => self.woken_by_poll = true,
        }
    }

    /// Waits `duration`, or less if the run stops.
    pub async fn pause(&mut self, duration: Duration) {
        tokio::select! {
            () = stopped(&mut self.stop) => {}
            () = tokio::time::sleep(duration) => {}
        }
    }

    /// Notes that the step after the last wait found work: if no
    /// announcement woke it, another host writes the input.
    pub fn found_work(&mut self) {
        if self.woken_by_poll {
            self.remote_until = Some(Instant::now() + self.polling.remote_window);
        }
        self.woken_by_poll = false;
    }
}

/// Returns once the run stops (or its stop can no longer be set).
async fn stopped(stop: &mut watch::Receiver<bool>) {
    // The guard `wait_for` returns is not `Send`: drop it here.
    let _ = stop.wait_for(|stop| *stop).await;
}

#[cfg(test)]
mod tests;
