//! Stage ownership in a fleet: each stage of a pipeline is run by one host
//! at a time, the host holding the stage's lease in the lake.
//!
//! A lease is a folder of objects, one per owner epoch:
//! `<lake>/<tenant>/_registry/leases/<pipeline>/<stage>/<epoch>.json`.
//! Taking a stage is creating the next epoch's object with a create-only
//! put (`If-None-Match: *` on S3, the same conditional write Delta commits
//! rely on, checked when a run starts): of two hosts racing for an epoch
//! exactly one wins. The owner rewrites its object every quarter of the
//! lease with a higher `beat`; another host takes the stage over when it
//! has seen the same beat for a whole lease (measured on its own clock, so
//! no two hosts' clocks are compared), or at once when the owner released
//! it on a clean stop.
//!
//! Fencing. A host that was paused (SIGSTOP, a long GC of the VM, a network
//! partition) may still believe it owns a stage after its successor took
//! it. Before each commit a step checks that no newer epoch exists (one
//! HEAD request, [`Fence::check`]); in the window between that check and
//! the commit, Delta itself is the fence: every commit of a stage carries
//! its progress `txn`, and the conflict checker refuses a commit whose
//! `txn` a concurrent winner updated, so the stale owner's step fails with
//! a conflict and is never applied.
//!
//! Why the lake and not a Kafka consumer group: the lake is the one thing
//! every host of a pipeline already shares and already requires to honour
//! conditional writes; a group would need an internal topic (and the ACLs
//! to create it) on the user's cluster, ties failover to that cluster's
//! session timeouts, and gives no fence a Delta commit can be checked
//! against.

use std::path::Path;
use std::sync::{
    Arc, Mutex, PoisonError,
    atomic::{AtomicBool, AtomicU64, Ordering},
};
use std::time::{Duration, Instant};

use serde::{Deserialize, Serialize};

use ingot_core::clock::now_micros;
use ingot_delta::objects;

use crate::{Error, Result, config::PipelineConfig};

/// How often the keeper checks whether it should stop.
const STOP_POLL: Duration = Duration::from_millis(50);

/// Where a host stands with one stage.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case", tag = "role")]
pub enum Standing {
    /// Not known yet (the lease has not been read), or the store could not
    /// be reached for a whole lease: the stage does not step here.
    Unknown,
    /// This host owns the stage, as epoch `epoch`.
    Owner {
        /// The owner epoch.
        epoch: u64,
    },
    /// Another host owns it.
    Standby {
        /// The owner's host name.
        owner: String,
        /// Its epoch.
        epoch: u64,
    },
}

/// The content of one epoch's object.
#[derive(Debug, Clone, Serialize, Deserialize)]
struct LeaseDoc {
    /// Unique per process: `<host>/<pid>/<start µs>`.
    owner: String,
    /// The owner's host name.
    host: String,
    /// The owner's process id on that host.
    #[serde(default)]
    pid: u32,
    /// When the epoch was taken, µs since the epoch (for people).
    acquired_at: i64,
    /// When it was last renewed, µs since the epoch (for people: takers
    /// only compare `beat`s on their own clock).
    renewed_at: i64,
    /// Incremented by each renewal.
    beat: u64,
    /// Set by a clean stop: the stage may be taken at once.
    released: bool,
}

/// The check a stage's step makes before each commit.
#[derive(Debug, Clone)]
pub struct Fence {
    dir: String,
    stage: String,
    /// The epoch held, 0 when none.
    epoch: Arc<AtomicU64>,
}

impl Fence {
    /// Succeeds while this host holds the stage's lease and no newer epoch
    /// exists.
    ///
    /// # Errors
    /// [`Error::NotOwner`] when another host has taken the stage; a table
    /// error when the store cannot be asked.
    pub async fn check(&self) -> Result<()> {
        let epoch = self.epoch.load(Ordering::SeqCst);
        if epoch == 0 {
            return Err(self.not_owner("this host does not hold its lease"));
        }
        if objects::exists(&epoch_uri(&self.dir, epoch + 1)).await? {
            let _ = self
                .epoch
                .compare_exchange(epoch, 0, Ordering::SeqCst, Ordering::SeqCst);
            return Err(self.not_owner(&format!("another host took epoch {}", epoch + 1)));
        }
        Ok(())
    }

    fn not_owner(&self, reason: &str) -> Error {
        Error::NotOwner {
            stage: self.stage.clone(),
            lease: self.dir.clone(),
            reason: reason.to_owned(),
        }
    }
}

/// This process as a lease owner.
#[derive(Debug, Clone)]
struct Me {
    token: String,
    host: String,
}

impl Me {
    fn new(host: &str) -> Self {
        Me {
            token: format!("{host}/{}/{}", std::process::id(), now_micros()),
            host: host.to_owned(),
        }
    }

    /// Whether `doc` was written by an earlier process of this host that
    /// is gone (a restart after a crash): its stages are taken back at once
    /// instead of after a lease. Host names are unique in a fleet, so the
    /// process table is this host's. (Were a name reused on two machines,
    /// the other owner would only lose the stage: its fence then fails.)
    fn outlived(&self, doc: &LeaseDoc) -> bool {
        doc.host == self.host
            && doc.pid != 0
            && doc.pid != std::process::id()
            && !Path::new(&format!("/proc/{}", doc.pid)).exists()
            && Path::new("/proc/self").exists()
    }
}

/// One stage's lease as this host sees it.
#[derive(Debug)]
struct StageLease {
    dir: String,
    ttl: Duration,
    me: Me,
    view: View,
    fence: Fence,
}

#[derive(Debug)]
enum View {
    Unknown,
    Held {
        epoch: u64,
        doc: LeaseDoc,
        renewed: Instant,
    },
    Other {
        epoch: u64,
        beat: u64,
        seen: Instant,
    },
}

impl StageLease {
    fn new(dir: String, stage: &str, ttl: Duration, me: Me) -> Self {
        StageLease {
            fence: Fence {
                dir: dir.clone(),
                stage: stage.to_owned(),
                epoch: Arc::new(AtomicU64::new(0)),
            },
            dir,
            ttl,
            me,
            view: View::Unknown,
        }
    }

    /// Reads the lease and acts: renews it when held and due, takes it when
    /// free, released or silent for a whole lease.
    async fn poll(&mut self) -> Result<Standing> {
        let latest = self.latest().await?;
        if let View::Held { epoch, .. } = self.view
            && latest == Some(epoch)
        {
            return self.renew().await;
        }
        let Some(epoch) = latest else {
            return self.take(1).await;
        };
        let Some(doc) = self.read(epoch).await? else {
            // Deleted under us (an old epoch cleaned up): read again next time.
            self.view = View::Unknown;
            return Ok(Standing::Unknown);
        };
        let silent = match &self.view {
            View::Other {
                epoch: e,
                beat,
                seen,
                ..
            } => *e == epoch && *beat == doc.beat && seen.elapsed() >= self.ttl,
            _ => false,
        };
        if doc.released || silent || self.me.outlived(&doc) {
            return self.take(epoch + 1).await;
        }
        let unchanged = matches!(&self.view, View::Other { epoch: e, beat, .. } if *e == epoch && *beat == doc.beat);
        if !unchanged {
            self.lose();
            self.view = View::Other {
                epoch,
                beat: doc.beat,
                seen: Instant::now(),
            };
        }
        Ok(Standing::Standby {
            owner: doc.host,
            epoch,
        })
    }

    /// Renews the held epoch if a quarter of the lease has passed.
    async fn renew(&mut self) -> Result<Standing> {
        let View::Held {
            epoch,
            doc,
            renewed,
        } = &mut self.view
        else {
            return Err(Error::Internal("renewing a lease not held".into()));
        };
        let epoch = *epoch;
        if renewed.elapsed() >= self.ttl / 4 {
            let mut next = doc.clone();
            next.beat += 1;
            next.renewed_at = now_micros();
            objects::write(&epoch_uri(&self.dir, epoch), to_json(&next)).await?;
            *doc = next;
            *renewed = Instant::now();
        }
        self.fence.epoch.store(epoch, Ordering::SeqCst);
        Ok(Standing::Owner { epoch })
    }

    /// Tries to create epoch `epoch`.
    async fn take(&mut self, epoch: u64) -> Result<Standing> {
        let now = now_micros();
        let doc = LeaseDoc {
            owner: self.me.token.clone(),
            host: self.me.host.clone(),
            pid: std::process::id(),
            acquired_at: now,
            renewed_at: now,
            beat: 0,
            released: false,
        };
        if !objects::create(&epoch_uri(&self.dir, epoch), to_json(&doc)).await? {
            // Another host won this epoch: see who next time.
            self.lose();
            self.view = View::Unknown;
            return Ok(Standing::Unknown);
        }
        tracing::info!(lease = %self.dir, epoch, "took the stage's lease");
        self.view = View::Held {
            epoch,
            doc,
            renewed: Instant::now(),
        };
        self.fence.epoch.store(epoch, Ordering::SeqCst);
        // Epochs before the previous one are history no one reads.
        if epoch > 2 {
            let _ = objects::delete(&epoch_uri(&self.dir, epoch - 2)).await;
        }
        Ok(Standing::Owner { epoch })
    }

    /// Gives the stage up on a clean stop, so another host takes it at once.
    async fn release(&mut self) -> Result<()> {
        let View::Held { epoch, doc, .. } = &self.view else {
            return Ok(());
        };
        let epoch = *epoch;
        let mut last = doc.clone();
        last.released = true;
        last.renewed_at = now_micros();
        self.lose();
        self.view = View::Unknown;
        // Only while no one has taken a newer epoch (a later one wins anyway).
        if self.latest().await? == Some(epoch) {
            objects::write(&epoch_uri(&self.dir, epoch), to_json(&last)).await?;
        }
        Ok(())
    }

    /// Forgets a held epoch: the fence stops passing.
    fn lose(&mut self) {
        if let View::Held { epoch, .. } = self.view {
            tracing::info!(lease = %self.dir, epoch, "lost the stage's lease");
            self.fence.epoch.store(0, Ordering::SeqCst);
        }
    }

    /// The highest epoch in the lease folder.
    async fn latest(&self) -> Result<Option<u64>> {
        Ok(objects::list(&self.dir)
            .await?
            .iter()
            .filter_map(|name| name.strip_suffix(".json")?.parse::<u64>().ok())
            .max())
    }

    async fn read(&self, epoch: u64) -> Result<Option<LeaseDoc>> {
        let uri = epoch_uri(&self.dir, epoch);
        let Some(bytes) = objects::read(&uri).await? else {
            return Ok(None);
        };
        serde_json::from_slice(&bytes)
            .map(Some)
            .map_err(|e| Error::Internal(format!("lease {uri} is not a lease document: {e}")))
    }
}

/// The leases of one pipeline's stages on this host, kept by a background
/// task while the pipeline runs.
pub struct Keeper {
    standings: Arc<Mutex<Vec<Standing>>>,
    fences: Vec<Fence>,
    done: Arc<AtomicBool>,
    task: tokio::task::JoinHandle<()>,
}

impl Keeper {
    /// Starts keeping the leases of `config`'s stages for the host named
    /// `host`.
    pub fn start(config: &PipelineConfig, host: &str) -> Self {
        let ttl = config.fleet.stage_lease();
        let me = Me::new(host);
        let layout = config.layout();
        let mut leases: Vec<StageLease> = config
            .stages
            .iter()
            .map(|stage| {
                let dir = layout.leases_dir(&stage.name);
                StageLease::new(dir, &stage.name, ttl, me.clone())
            })
            .collect();
        // Last: the lease of the pipeline's table maintenance.
        leases.push(StageLease::new(
            layout.maintenance_lease_dir(),
            "maintenance",
            ttl,
            me.clone(),
        ));
        let fences = leases.iter().map(|l| l.fence.clone()).collect();
        let standings = Arc::new(Mutex::new(vec![Standing::Unknown; leases.len()]));
        let done = Arc::new(AtomicBool::new(false));
        let task = tokio::spawn(keep(leases, Arc::clone(&standings), Arc::clone(&done), ttl));
        Self {
            standings,
            fences,
            done,
            task,
        }
    }

    /// The fence of stage `i`.
    pub fn fence(&self, i: usize) -> Fence {
        self.fences[i].clone()
    }

    /// Where this host stands with stage `i` now.
    pub fn standing(&self, i: usize) -> Standing {
        self.standings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)[i]
            .clone()
    }

    /// Whether this host holds the pipeline's maintenance lease now.
    pub fn maintains(&self) -> bool {
        let standings = self
            .standings
            .lock()
            .unwrap_or_else(PoisonError::into_inner);
        matches!(standings.last(), Some(Standing::Owner { .. }))
    }

    /// Releases every lease held and stops the task.
    pub async fn release(self) {
        self.done.store(true, Ordering::SeqCst);
        let _ = self.task.await;
    }
}

/// The keeper's loop: polls every lease a quarter of a lease apart (an
/// eighth, while a lease is unknown, so a free stage is taken quickly).
async fn keep(
    mut leases: Vec<StageLease>,
    standings: Arc<Mutex<Vec<Standing>>>,
    done: Arc<AtomicBool>,
    ttl: Duration,
) {
    let mut last_ok = vec![Instant::now(); leases.len()];
    while !done.load(Ordering::SeqCst) {
        for (i, lease) in leases.iter_mut().enumerate() {
            let standing = match lease.poll().await {
                Ok(standing) => {
                    last_ok[i] = Instant::now();
                    standing
                }
                Err(e) if last_ok[i].elapsed() >= ttl => {
                    // Silent for a whole lease: others may have taken it.
                    tracing::warn!(lease = %lease.dir, error = %e, "cannot reach the stage's lease; pausing the stage");
                    lease.lose();
                    lease.view = View::Unknown;
                    Standing::Unknown
                }
                Err(e) => {
                    tracing::warn!(lease = %lease.dir, error = %e, "cannot reach the stage's lease");
                    continue;
                }
            };
            standings.lock().unwrap_or_else(PoisonError::into_inner)[i] = standing;
        }
        let idle = standings
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .contains(&Standing::Unknown);
        let wait = if idle { ttl / 8 } else { ttl / 4 };
        let until = Instant::now() + wait;
        while Instant::now() < until && !done.load(Ordering::SeqCst) {
            tokio::time::sleep(STOP_POLL.min(wait)).await;
        }
    }
    for lease in &mut leases {
        if let Err(e) = lease.release().await {
            tracing::warn!(lease = %lease.dir, error = %e, "cannot release the stage's lease");
        }
    }
}

fn epoch_uri(dir: &str, epoch: u64) -> String {
    format!("{dir}/{epoch:012}.json")
}

fn to_json(doc: &LeaseDoc) -> Vec<u8> {
    serde_json::to_vec_pretty(doc).expect("invariant: a lease document serializes to json")
}

#[cfg(test)]
#[path = "lease/tests.rs"]
mod tests;
