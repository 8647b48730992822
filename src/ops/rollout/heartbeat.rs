//! Who still drives a rollout: the heartbeat written beside its loop, and the request to stop
//! a process's rollouts where they are (a signal).

use super::drive::TICK;
use super::{Owner, Rollout, RolloutStore};

/// Set when this process was asked to stop (ctrl-c, SIGTERM, a closed terminal): a rollout it
/// drives stops at its next safe point (never between a write and its record, never in the
/// middle of a rollback) and is saved as interrupted, for a resume or an abort.
static INTERRUPTED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The plans directories whose rollouts this process was asked to stop (a dashboard quitting
/// stops its own: two dashboards in one process, as in tests, never stop each other's).
static INTERRUPTED_IN: std::sync::Mutex<Vec<std::path::PathBuf>> =
    std::sync::Mutex::new(Vec::new());

/// Asks every rollout this process drives to stop where it is (see [`INTERRUPTED`]).
pub fn interrupt() {
    INTERRUPTED.store(true, std::sync::atomic::Ordering::SeqCst);
}

/// Asks the rollouts this process drives out of `store` to stop where they are.
pub fn interrupt_in(store: &RolloutStore) {
    if let Ok(mut dirs) = INTERRUPTED_IN.lock() {
        dirs.push(store.dir().to_path_buf());
    }
}

pub(super) fn interrupted(store: &RolloutStore) -> bool {
    INTERRUPTED.load(std::sync::atomic::Ordering::SeqCst)
        || INTERRUPTED_IN
            .lock()
            .is_ok_and(|dirs| dirs.iter().any(|d| d == store.dir()))
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
