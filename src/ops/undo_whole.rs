//! A finished rollout taken back whole by undo: the record that stands for its run, where
//! its saved file says it started, and the refusal while it has not finished.

use serde_json::{Value, json};

use crate::ops::OpsError;
use crate::ops::audit::Record;
use crate::provider::RegionActions;

/// How the record undo makes of a finished rollout's run begins its reason.
pub(super) const WHOLE_ROLLOUT: &str = "the rollout of ";

/// Whether `record` is the one undo makes of a finished rollout's run (see `undo_targets`).
pub(super) fn is_whole_rollout(record: &Record) -> bool {
    record.batch.is_none()
        && record
            .reason
            .as_deref()
            .is_some_and(|r| r.starts_with(WHOLE_ROLLOUT))
}

/// `record` (a finished rollout taken back whole) going back to the weights its saved rollout
/// started from: that rollout finished, at the routing `record` left. `None` when no such file
/// is here (another machine ran it): the records' own start then.
pub(super) fn saved_start<S: RegionActions>(
    source: &S,
    audit: Option<&crate::ops::audit::AuditLog>,
    function: &str,
    alias: &str,
    record: &Record,
) -> Option<Record> {
    let store = audit.and_then(crate::ops::rollout::RolloutStore::beside)?;
    let r = store
        .load(source.scope(), function, alias)
        .filter(|r| r.status == crate::ops::rollout::Status::Done)?;
    let (main, extra) = crate::ops::describe::routing_of(&record.after)?;
    if main != r.to || extra.is_some() {
        return None;
    }
    let start = r.start_routing();
    let weights: serde_json::Map<String, Value> = start
        .extra
        .iter()
        .map(|(v, w)| (v.clone(), json!(w)))
        .collect();
    Some(Record {
        before: json!({"function_version": start.main, "weights": weights}),
        ..record.clone()
    })
}

/// Refuses to take a rollout back whole unless it finished: its last step written, it may
/// still have halted in its last hold (its guard's rollback failed, its function killed) —
/// then it is its abort's (`A`), which knows where it started and says so.
pub(super) fn unfinished_rollout<S: RegionActions>(
    source: &S,
    audit: Option<&crate::ops::audit::AuditLog>,
    function: &str,
    alias: &str,
) -> Result<(), OpsError> {
    let Some(store) = audit.and_then(crate::ops::rollout::RolloutStore::beside) else {
        return Ok(());
    };
    match store.load(source.scope(), function, alias) {
        Some(r) if r.unfinished() => Err(OpsError::Refused(format!(
            "the rollout of {function}:{alias} wrote its last step but has not finished ({}): \
             undo would take a halted rollout back under it. Aborting it (`A` in the dashboard, \
             `lops traffic abort {alias} --fn {function} --profile {} --regions {}`) returns the \
             weights it started from",
            r.standing().as_str(),
            r.profile,
            r.region
        ))),
        _ => Ok(()),
    }
}
