//! One change of a record set at a time on this machine: two lops (two engineers on one
//! bastion) draining two regions of one service at once would each read the record set, each
//! pass the guard on what it read, and both write — leaving no healthy region taking traffic,
//! which neither alone would have done. Route 53 has no conditional write to refuse the second;
//! a lock held from the read just before the write until Route 53 has taken the change makes
//! the second read what the first wrote, and its compare refuses it.

use std::fs::{File, OpenOptions, TryLockError};
use std::time::{Duration, Instant};

use crate::config::ServiceSettings;
use crate::ops::OpsError;

/// How long a change waits for another lops's change of the same record set.
const WAIT: Duration = Duration::from_secs(30);

/// Held while it lives (an OS file lock: a killed lops lets go of it with its last breath).
pub(super) struct RecordSetLock {
    _held: Option<File>,
}

/// Takes the lock of `settings`'s record set, waiting while another lops holds it. Without a
/// state directory (no HOME) there is no audit log either, and the change is refused there.
pub(super) async fn hold(settings: &ServiceSettings) -> Result<RecordSetLock, OpsError> {
    let Some(dir) = crate::config::state_dir() else {
        return Ok(RecordSetLock { _held: None });
    };
    let name: String = format!(
        "route53-{}-{}-{}",
        settings.zone_id(),
        settings.record.trim_end_matches('.'),
        settings.kind
    )
    .chars()
    .map(
        |c| match c.is_ascii_alphanumeric() || c == '-' || c == '.' {
            true => c.to_ascii_lowercase(),
            false => '_',
        },
    )
    .collect();
    let path = dir.join("locks").join(format!("{name}.lock"));
    let service = settings.name.clone();
    let taken = tokio::task::spawn_blocking(move || {
        let cannot = |e: std::io::Error| {
            OpsError::Invalid(format!(
                "cannot take the lock {} that keeps two lops from changing service {service} at \
                 once: {e}",
                path.display()
            ))
        };
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(cannot)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        let deadline = Instant::now() + WAIT;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => {
                    return Err(OpsError::Refused(format!(
                        "another lops on this machine has been changing service {service} for \
                         {} s: nothing changed; run again once it is done",
                        WAIT.as_secs()
                    )));
                }
                Err(TryLockError::Error(e)) => return Err(cannot(e)),
            }
        }
    })
    .await
    .map_err(|e| OpsError::Invalid(format!("the lock of a service change failed: {e}")))??;
    Ok(RecordSetLock { _held: Some(taken) })
}
