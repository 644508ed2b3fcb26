//! One stage's task: it steps while its input has work, waits on its
//! input's commits when it has none ([`crate::wake`]), and backs off on its
//! own when it fails, so a slow or failing stage never holds the others.

use std::{
    sync::{
        Arc,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use tokio::sync::Mutex;

use crate::{
    Error, Result,
    lease::{Keeper, Standing},
    stage::{StageRunner, StepOutcome},
    status::StatusBoard,
    wake::Wakeups,
};

use super::StageReport;

/// How long a stage waits after a conflict (`--once`) and between looks at
/// its lease while another host holds it.
pub(super) const IDLE_WAIT: Duration = Duration::from_millis(200);
/// The longest backoff of a failing stage or ingest loop.
pub(super) const MAX_BACKOFF: Duration = Duration::from_secs(30);

/// What the stage tasks of one run share.
pub(super) struct Shared {
    pub board: Arc<Mutex<StatusBoard>>,
    pub wakeups: Arc<Wakeups>,
    pub stop: Arc<AtomicBool>,
    /// The fleet's leases (continuous mode); `None` in `--once`, which
    /// holds none and finishes a stage once its input is done.
    pub keeper: Option<Arc<Keeper>>,
}

impl Shared {
    fn once(&self) -> bool {
        self.keeper.is_none()
    }

    pub(super) fn stopping(&self) -> bool {
        self.stop.load(Ordering::SeqCst)
    }
}

/// What a stage's task hands back when it ends.
pub(super) struct Ended {
    pub stage: StageRunner,
    pub report: StageReport,
    /// Errors of a `--once` stage that gave up or failed on every call.
    pub errors: Vec<Error>,
}

/// Runs stage `i` until the run stops or (`--once`) its input is done and
/// read to its end, or it gives up.
pub(super) async fn run(i: usize, mut stage: StageRunner, shared: Arc<Shared>) -> Ended {
    let mut report = StageReport {
        stage: stage.id().stage.clone(),
        ..Default::default()
    };
    let mut errors = Vec::new();
    let mut input = shared.wakeups.input_of(i);
    let mut backoff = None;
    while !shared.stopping() {
        if !owns(&shared, i) {
            input.pause(IDLE_WAIT).await;
            continue;
        }
        let input_done = input.finished();
        let started = std::time::Instant::now();
        let outcome = stage.step().await;
        if stopped_mid_step(&stage, &outcome, &shared.stop) {
            break;
        }
        let lag = match stage.progress() {
            (done, Some(latest)) => Some(latest - done.unwrap_or(-1)),
            (_, None) => None,
        };
        crate::metrics::stage_step(stage.id(), started.elapsed(), &outcome, lag);
        let mut board = shared.board.lock().await;
        board.record(i, &stage, &outcome);
        drop(board);
        let next = match outcome {
            Ok(step) => {
                backoff = None;
                after_step(i, &mut stage, &step, &shared, &mut report, &mut errors)
            }
            Err(e) => {
                let span = stage.span().clone();
                after_error(i, &span, e, &shared, &mut backoff, &mut errors).await
            }
        };
        match next {
            Next::Step => input.found_work(),
            Next::Wait if shared.once() && input_done => break,
            Next::Wait => input.wait().await,
            Next::Pause(wait) => input.pause(wait).await,
            Next::GiveUp => break,
        }
    }
    shared.wakeups.stage_finished(i);
    Ended {
        stage,
        report,
        errors,
    }
}

/// What a stage's task does after a step.
enum Next {
    /// Step again at once.
    Step,
    /// Wait for the input's next commit (or, `--once`, end if it is done).
    Wait,
    /// Wait this long (a backoff), then step.
    Pause(Duration),
    /// End the task (`--once`).
    GiveUp,
}

/// Whether this host may step stage `i` now: always in `--once`; in the
/// continuous mode, while it holds the stage's lease.
fn owns(shared: &Shared, i: usize) -> bool {
    let Some(keeper) = &shared.keeper else {
        return true;
    };
    matches!(keeper.standing(i), Standing::Owner { .. })
}

fn after_step(
    i: usize,
    stage: &mut StageRunner,
    step: &StepOutcome,
    shared: &Shared,
    report: &mut StageReport,
    errors: &mut Vec<Error>,
) -> Next {
    let StepOutcome::Committed { .. } = step else {
        return Next::Wait;
    };
    super::add(report, step);
    shared.wakeups.stage_committed(i);
    if shared.once()
        && let Some(failure) = stage.take_failure()
    {
        errors.push(failure);
    }
    Next::Step
}

async fn after_error(
    i: usize,
    span: &tracing::Span,
    e: Error,
    shared: &Shared,
    backoff: &mut Option<Duration>,
    errors: &mut Vec<Error>,
) -> Next {
    if e.is_conflict() {
        tracing::info!(parent: span, error = %e, "another writer committed first, redoing");
        return if shared.once() {
            Next::Pause(IDLE_WAIT)
        } else {
            Next::Step
        };
    }
    if e.is_not_owner() {
        tracing::info!(parent: span, error = %e, "another host runs this stage now");
        return Next::Step;
    }
    if shared.once() {
        tracing::error!(parent: span, error = %e, "stage gave up");
        shared.board.lock().await.give_up(i, &e);
        errors.push(e);
        return Next::GiveUp;
    }
    let wait = backoff.map_or(Duration::from_secs(1), |w| (w * 2).min(MAX_BACKOFF));
    tracing::error!(parent: span, error = %e, class = ?e.class(), retry_in = ?wait, "stage failed");
    *backoff = Some(wait);
    Next::Pause(wait)
}

/// Whether `outcome` is a step that failed because the run is stopping (its
/// module call was interrupted): not the stage's failure, nothing of its
/// range was committed, the next start redoes it.
fn stopped_mid_step(stage: &StageRunner, outcome: &Result<StepOutcome>, stop: &AtomicBool) -> bool {
    let stopped = outcome.is_err() && stop.load(Ordering::SeqCst);
    if stopped {
        tracing::info!(parent: stage.span(), "stopped mid-step; its range is left for the next start");
    }
    stopped
}
