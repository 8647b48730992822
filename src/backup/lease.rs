//! Backups and prune side by side on one store: a backup run may reuse a blob that nothing
//! references yet, which a prune running at the same time would delete. Both write before they
//! look (S3 lists what was written before the list, strongly consistent since 2020), so they
//! cannot both go ahead:
//!
//! - a backup run writes a lease (`leases/ID.json`) before it checks any blob, then looks for a
//!   prune lock; while one is held it waits (up to a minute) and otherwise gives up, changing
//!   nothing; it removes its lease when its manifests are written;
//! - a prune writes its lock (`leases/prune-ID.lock`) before it deletes blobs or data, then looks
//!   for leases; while any is held it deletes no blob or data this time (manifests only), and it
//!   reads every manifest written since its preview and keeps what they reference.
//!
//! A lease or lock older than [`STALE`] belongs to a killed process and is ignored.

use std::time::Duration;

use super::BackupError;
use super::manifest::layout;
use super::store::{Listed, Store};

/// Older leases and locks are from killed processes.
pub const STALE: chrono::TimeDelta = chrono::TimeDelta::hours(6);

/// How long a backup waits for a prune that is deleting blobs.
const PRUNE_WAIT: Duration = Duration::from_secs(60);

fn fresh(o: &Listed) -> bool {
    o.last_modified
        .is_none_or(|t| chrono::Utc::now() - t < STALE)
}

fn note() -> Vec<u8> {
    serde_json::json!({
        "host": crate::process::host_name(),
        "pid": std::process::id(),
        "time": chrono::Utc::now().to_rfc3339(),
    })
    .to_string()
    .into_bytes()
}

/// The leases and the prune lock held now.
async fn held(store: &Store) -> Result<(Vec<Listed>, bool), BackupError> {
    let all = store.list("leases/").await?;
    let is_lock = |o: &Listed| o.rel.starts_with(layout::PRUNE_LOCK_PREFIX);
    let prune = all.iter().any(|o| is_lock(o) && fresh(o));
    let leases = all
        .into_iter()
        .filter(|o| !is_lock(o) && fresh(o))
        .collect();
    Ok((leases, prune))
}

/// How many backups hold a lease on the store now (a preview's note: blobs wait for them).
/// A lease whose lops of this machine is gone (killed, or a dashboard quit mid-backup) is not
/// counted (it held prune back until another backup cleared it).
pub async fn running(store: &Store) -> Result<usize, BackupError> {
    let leases = held(store).await?.0;
    Ok(leases.len() - gone(store, &leases).await.len())
}

/// A backup run's lease: taken before any blob is checked, released when the run ends.
pub struct Lease {
    rel: String,
}

impl Lease {
    pub async fn take(store: &Store, what: &str) -> Result<Lease, BackupError> {
        let id = format!(
            "{}-{}",
            layout::stamp(chrono::Utc::now()),
            std::process::id()
        );
        let lease = Lease {
            rel: layout::lease(&id),
        };
        store.put_small(&lease.rel, note()).await?;
        let deadline = tokio::time::Instant::now() + PRUNE_WAIT;
        let mut first = true;
        loop {
            let prune = match held(store).await {
                Ok((leases, prune)) => {
                    // The first look also clears what killed lops of this machine left.
                    if std::mem::take(&mut first) {
                        clear_gone(store, &lease.rel, leases).await;
                    }
                    prune
                }
                Err(e) => {
                    lease.release(store).await;
                    return Err(e);
                }
            };
            if !prune {
                return Ok(lease);
            }
            if tokio::time::Instant::now() >= deadline {
                lease.release(store).await;
                return Err(BackupError::Refused(format!(
                    "a prune has been deleting blobs in {} for over a minute: the {what} was \
                     not started; run it again when the prune is done",
                    store.root
                )));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    /// Removes the lease (a lease left by a failure expires after six hours).
    pub async fn release(self, store: &Store) {
        if let Err(e) = store.delete(std::slice::from_ref(&self.rel)).await {
            tracing::warn!(error = %e, lease = %self.rel, "cannot remove a backup lease");
        }
    }
}

/// The leases among `leases` a killed (or quit) lops of this machine left: its process is
/// gone. Another machine's, or one that does not say whose, are not (they stay until stale).
async fn gone(store: &Store, leases: &[Listed]) -> Vec<String> {
    let mut out = Vec::new();
    for lease in leases {
        let Ok(bytes) = store.get(&store.root.child(&lease.rel)).await else {
            continue;
        };
        let note: serde_json::Value = serde_json::from_slice(&bytes).unwrap_or_default();
        let (Some(host), Some(pid)) = (
            note.get("host").and_then(|h| h.as_str()),
            note.get("pid").and_then(|p| p.as_u64()),
        ) else {
            continue;
        };
        if crate::process::gone_here(host, pid as u32) {
            out.push(lease.rel.clone());
        }
    }
    out
}

/// Removes the leases a killed lops of this machine left (its process is gone): they would
/// hold prune back for hours.
async fn clear_gone(store: &Store, own: &str, leases: Vec<Listed>) {
    let others: Vec<Listed> = leases.into_iter().filter(|l| l.rel != own).collect();
    for rel in gone(store, &others).await {
        tracing::info!(lease = %rel, "removing the lease a killed lops left");
        if let Err(e) = store.delete(std::slice::from_ref(&rel)).await {
            tracing::warn!(error = %e, lease = %rel, "cannot remove a stale lease");
        }
    }
}

/// A prune's lock, held while it deletes blobs and data. Each prune has its own (two prunes
/// at once must not release each other's).
pub struct PruneLock {
    rel: String,
}

impl PruneLock {
    /// Takes the lock; with it, how many backups hold leases (no blob may go while any does).
    pub async fn take(store: &Store) -> Result<(PruneLock, usize), BackupError> {
        let lock = PruneLock {
            rel: format!(
                "{}{}-{}.lock",
                layout::PRUNE_LOCK_PREFIX,
                layout::stamp(chrono::Utc::now()),
                std::process::id()
            ),
        };
        store.put_small(&lock.rel, note()).await?;
        match held(store).await {
            // What a gone lops of this machine left holds nothing back: cleared.
            Ok((leases, _)) => {
                let count = leases.len();
                clear_gone(store, &lock.rel, leases).await;
                Ok((lock, running(store).await.unwrap_or(count)))
            }
            Err(e) => {
                lock.release(store).await;
                Err(e)
            }
        }
    }

    pub async fn release(self, store: &Store) {
        if let Err(e) = store.delete(std::slice::from_ref(&self.rel)).await {
            tracing::warn!(error = %e, lock = %self.rel, "cannot remove a prune lock");
        }
    }
}
