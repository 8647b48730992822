//! A finished rollout taken back whole by undo: the record that stands for its run, where
//! its saved file says it started, and the refusal while it has not finished; and a rollout
//! its abort or rollback ended, which undo passes over.

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

/// Whether `r` is a rollout's end by its abort or its guard's rollback.
pub(in crate::ops) fn ends_rollout(r: &Record) -> bool {
    r.batch
        .as_deref()
        .is_some_and(|b| b.starts_with(super::ROLLOUT_BATCH))
        && r.reason.as_deref().is_some_and(|why| {
            why.starts_with("rollout aborted") || why.starts_with("rollout rolled back")
        })
}

/// The records of the rollout run `records[at]` (its abort or rollback) ended, as indices: it,
/// earlier tries of it (a rollback written again after one got no answer), and the steps of the
/// run it took back — the run whose last step was the alias's change before it, and only when
/// that run began where the end put the alias back (the records of every rollout of one alias
/// share a batch: an earlier, finished rollout is not this end's to pass over).
pub(super) fn ended_run(records: &[Record], at: usize) -> Vec<usize> {
    let end = &records[at];
    let mut run = vec![at];
    let of_alias = |r: &Record| {
        r.profile == end.profile
            && r.region == end.region
            && r.target == end.target
            && (r.result == "ok" || crate::ops::audit::outcome_unknown(&r.result))
    };
    let mut from = at;
    let before = loop {
        let Some(i) = (0..from).rev().find(|i| of_alias(&records[*i])) else {
            break None;
        };
        if records[i].batch == end.batch && ends_rollout(&records[i]) {
            run.push(i);
            from = i;
            continue;
        }
        break Some(i);
    };
    if let Some(i) = before.filter(|i| records[*i].batch == end.batch) {
        let steps = super::rollout_run(records, i).unwrap_or_default();
        let began = steps.last().map(|first| &records[*first].before);
        if began.is_some_and(|b| same_routing(b, &end.after)) {
            run.extend(steps);
        }
    }
    run
}

/// Whether two recorded alias states route alike (main version and weights; no weights is none).
fn same_routing(a: &Value, b: &Value) -> bool {
    let weights = |v: &Value| {
        v.get("weights")
            .cloned()
            .filter(|w| !w.is_null())
            .unwrap_or_else(|| Value::Object(Default::default()))
    };
    a.get("function_version") == b.get("function_version") && weights(a) == weights(b)
}
