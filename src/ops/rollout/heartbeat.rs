//! Who still drives a rollout: the heartbeat written beside its loop, and the request to stop
//! a process's rollouts where they are (a signal).

use super::drive::TICK;
use super::{Owner, Rollout, RolloutStore};

/// Set when this process was asked to stop (ctrl-c, SIGTERM, a closed terminal): a rollout it
/// drives stops at its next safe point (never between a write and its record, never in the
/// middle of a rollback) and is saved as interrupted, for a resume or an abort.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Asks every rollout this process drives to stop where it is (see [`INTERRUPTED`]).
pub fn interrupt() {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

pub(super) fn interrupted() -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
}

/// Writes the heartbeat every second beside the driving loop, also while it waits on AWS, until
/// the run ends (dropped) or the rollout stops running here (finished, interrupted, taken over).
pub(super) struct Heartbeat(tokio::task::JoinHandle<()>);

impl Heartbeat {
    pub(super) fn start(store: &RolloutStore, r: &Rollout) -> Heartbeat {
        let (store, key, owner) = (store.clone(), r.clone(), Owner::me());
        Heartbeat(tokio::spawn(async move {
            // Stopped by an interrupt too, but only once the rollout saves itself interrupted
            // (no heartbeat, so `beat` declines): a rollback under way keeps beating.
            loop {
                tokio::time::sleep(TICK).await;
                let (store, key, owner) = (store.clone(), key.clone(), owner.clone());
                let beating = tokio::task::spawn_blocking(move || store.beat(&key, &owner))
                    .await
                    .unwrap_or(false);
                if !beating {
                    return;
                }
            }
        }))
    }
}

impl Drop for Heartbeat {
    fn drop(&mut self) {
        self.0.abort();
    }
}
