//! One change of a record set at a time on this machine: two lops (two engineers on one
//! bastion) draining two regions of one service at once would each read the record set, each
//! pass the guard on what it read, and both write — leaving no healthy region taking traffic,
//! which neither alone would have done. Route 53 has no conditional write to refuse the second;
//! a lock held from the read just before the write until Route 53 has taken the change makes
//! the second read what the first wrote, and its compare refuses it.

use std::time::Duration;

use crate::config::ServiceSettings;
use crate::ops::OpsError;
use crate::ops::lock::{FileLock, LockError};

/// How long a change waits for another lops's change of the same record set.
const WAIT: Duration = Duration::from_secs(30);

/// Held while it lives.
pub(super) type RecordSetLock = FileLock;

/// Takes the lock of `settings`'s record set, waiting while another lops holds it.
pub(super) async fn hold(settings: &ServiceSettings) -> Result<RecordSetLock, OpsError> {
    let name = format!(
        "route53-{}-{}-{}",
        settings.zone_id(),
        settings.record_key(),
        settings.kind.to_ascii_uppercase()
    );
    let service = &settings.name;
    crate::ops::lock::hold(&name, WAIT)
        .await
        .map_err(|e| match e {
            LockError::Busy(wait) => OpsError::Refused(format!(
                "another lops on this machine has been changing service {service} for {} s: \
                 nothing changed; run again once it is done",
                wait.as_secs()
            )),
            LockError::Io(path, e) => OpsError::Invalid(format!(
                "cannot take the lock {} that keeps two lops from changing service {service} at \
                 once: {e}",
                path.display()
            )),
        })
}
