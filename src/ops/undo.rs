//! Undo: an audited action back to its recorded "before", refused when the target changed
//! since.

use serde_json::{Value, json};

use super::OpsError;
use super::audit::Record;
use super::describe::routing_of;
use super::plan::{
    Change, Plan, alias_state, describe, not_found, reserve_plan, route_plan, trigger_plan,
};
use crate::provider::{RegionActions, TriggerKind};

/// The audit actions `undo` can revert.
pub const UNDOABLE: [&str; 13] = [
    "traffic.set",
    "traffic.promote",
    "traffic.rollback",
    "traffic.pin",
    "traffic.restore",
    "concurrency.set",
    "kill",
    "revive",
    "trigger.enable",
    "trigger.disable",
    "service.drain",
    "service.restore",
    "service.weights",
];

/// What an audit record says can be put back, read once from it: the record's action names
/// which, its `before` holds the state to return to.
#[derive(Debug, Clone, PartialEq)]
enum Reversible {
    /// An alias back to `main` with `extra` on top.
    Alias {
        function: String,
        alias: String,
        main: String,
        extra: Option<(String, f64)>,
    },
    /// Reserved concurrency back to `value` (`None`: no reservation).
    Reserved {
        function: String,
        value: Option<i32>,
    },
    /// A trigger back to enabled or disabled.
    Trigger {
        kind: TriggerKind,
        id: String,
        enabled: bool,
    },
    /// A service's members back to their recorded weights.
    Service {
        settings: Box<crate::config::ServiceSettings>,
        members: Vec<(String, super::service::Routing)>,
    },
}

impl Reversible {
    fn of(record: &Record) -> Result<Self, OpsError> {
        let invalid =
            |what: &str| OpsError::Invalid(format!("audit record {} names no {what}", record.id));
        match record.action.as_str() {
            "traffic.set" | "traffic.promote" | "traffic.rollback" | "traffic.pin"
            | "traffic.restore" => {
                let (function, alias) = record
                    .target
                    .split_once(':')
                    .ok_or_else(|| invalid("alias"))?;
                let (main, extra) = routing_of(&record.before).ok_or_else(|| invalid("routing"))?;
                Ok(Reversible::Alias {
                    function: function.to_string(),
                    alias: alias.to_string(),
                    main,
                    extra,
                })
            }
            "concurrency.set" | "kill" | "revive" => Ok(Reversible::Reserved {
                function: record.target.clone(),
                value: record
                    .before
                    .get("reserved")
                    .and_then(Value::as_i64)
                    .map(|n| n as i32),
            }),
            "trigger.enable" | "trigger.disable" => {
                let kind = match record.before.get("kind").and_then(Value::as_str) {
                    Some("rule") => TriggerKind::Rule,
                    Some("mapping") => TriggerKind::Mapping,
                    _ => return Err(invalid("trigger kind")),
                };
                Ok(Reversible::Trigger {
                    kind,
                    id: record
                        .before
                        .get("id")
                        .and_then(Value::as_str)
                        .unwrap_or_default()
                        .to_string(),
                    enabled: record
                        .before
                        .get("enabled")
                        .and_then(Value::as_bool)
                        .unwrap_or(true),
                })
            }
            "service.drain" | "service.restore" | "service.weights" => Ok(Reversible::Service {
                settings: Box::new(
                    super::service::settings_of(&record.before)
                        .ok_or_else(|| invalid("service"))?,
                ),
                // Only what this change wrote: members it did not touch are not put back, nor
                // those another change wrote at the same time (in its read-back). Records
                // written before lops kept the list: the members that differ.
                members: {
                    let written = super::service::written(&record.after);
                    let after = super::service::member_routing(&record.after);
                    super::service::member_routing(&record.before)
                        .into_iter()
                        .filter(|m| match &written {
                            Some(ids) => ids.contains(&m.0.as_str()),
                            None => !after.contains(m),
                        })
                        .collect()
                },
            }),
            other => Err(OpsError::Invalid(format!(
                "{other} cannot be undone: undo reverts {}",
                UNDOABLE.join(", ")
            ))),
        }
    }
}

pub(super) async fn undo_plan<S: RegionActions>(
    source: &S,
    plan: impl Fn(String, Value, Value, Change, bool) -> Plan,
    record: &Record,
    audit: Option<&super::audit::AuditLog>,
) -> Result<Plan, OpsError> {
    // A live rollout's alias is its own: refused as such (with its abort), before the alias is
    // compared with the record — the rollout's steps are what changed it since.
    let mut whole = None;
    if let Ok(Reversible::Alias {
        function, alias, ..
    }) = Reversible::of(record)
    {
        super::plan::held_by_rollout(source, audit, &function, &alias).await?;
        if is_whole_rollout(record) {
            unfinished_rollout(source, audit, &function, &alias)?;
            whole = saved_start(source, audit, &function, &alias, record);
        }
    }
    // A finished rollout goes back to where its saved file says it started (the records alone
    // cannot tell one run from an earlier one changed outside lops, or resumed).
    let record = whole.as_ref().unwrap_or(record);
    // A guard, not a failure (exit 4): nothing is wrong, it is too soon to tell.
    if let Some(age) = in_flight(record).filter(|_| !is_whole_rollout(record)) {
        return Err(OpsError::Refused(format!(
            "the {} of {} got no answer {age} s ago and may still land (a retry of it too, \
             over an undo): look again in a minute (undo then knows whether it did)",
            record.action, record.target
        )));
    }
    let result = reverse(source, plan, record).await;
    // An outcome unknown found as it was before: it never landed. Recorded so (under its id),
    // the next undo goes on to the action before it instead of stopping here for good (it is
    // judged only once the request can no longer be on its way: above).
    // Read once: as it was before the change (only asked of an unknown outcome in conflict).
    // (A finished rollout taken back whole is not one record: its steps are not settled so.)
    let not_there = matches!(result, Err(OpsError::Conflict(_)))
        && !is_whole_rollout(record)
        && super::audit::outcome_unknown(&record.result)
        && as_before(source, record).await;
    // A dry run records nothing: it says what a real undo would find and do.
    if not_there && audit.is_some_and(super::audit::AuditLog::is_dry) {
        return Err(OpsError::Conflict(
            format!(
                "the {} of {} at {} never landed ({} is as it was before it): a real undo \
                 records so, and the next one goes on to the action before it",
                record.action, record.target, record.time, record.target
            )
            .into(),
        ));
    }
    if not_there && let Some(log) = audit {
        let settled = Record {
            result: format!(
                "{}found as it was before at {}",
                super::audit::NOT_LANDED,
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            after: record.before.clone(),
            // What it was to make, beside the state it left (as every change that did not land).
            asked: Some(record.after.clone()),
            ..record.clone()
        };
        if log.append(&settled).is_ok() {
            return Err(OpsError::Conflict(
                format!(
                    "the {} of {} at {} never landed ({} is as it was before it): recorded so; run \
                 undo again for the action before it",
                    record.action, record.target, record.time, record.target
                )
                .into(),
            ));
        }
    }
    match result {
        // An action with no result on record: its change is not there to take back.
        Err(OpsError::Conflict(e)) if super::audit::outcome_unknown(&record.result) => {
            Err(OpsError::Conflict(
                format!(
                    "{e}. The {} of {} at {} has no result on record (its lops stopped while it \
                 ran, or no answer came): if it never landed, there is nothing of it to undo — \
                 set {} as you want it by hand",
                    record.action, record.target, record.time, record.target
                )
                .into(),
            ))
        }
        other => other,
    }
}

/// How long after a write that got no answer it may still land (a request on its way, a
/// retry): undo judges it only after this.
const IN_FLIGHT_SECS: i64 = 60;

/// Seconds since the record's change began, or was given up on: a time that cannot be read, or one further in the
/// future than a clock's drift (an edit, a clock set back), counts as long ago; a few seconds
/// ahead, as now.
fn record_age(record: &Record) -> i64 {
    // A write given up on with no answer: from then (it may have waited long for one).
    let from = record.ended.as_deref().unwrap_or(&record.time);
    chrono::DateTime::parse_from_rfc3339(from)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .map_or(i64::MAX, |age| match age < -IN_FLIGHT_SECS {
            true => i64::MAX,
            false => age.max(0),
        })
}

/// The record's age when its change got no answer within the last minute: it may still land,
/// and a retry of one found landed may land again over what takes it back (the SDK sends a
/// write again when no answer comes; an earlier try may be held on its way while the later
/// ones are answered). `None` once nothing of it can be on its way, or for a change answered.
pub(crate) fn in_flight(record: &Record) -> Option<i64> {
    let age = record_age(record);
    (super::audit::outcome_unknown(&record.result) && age < IN_FLIGHT_SECS).then_some(age)
}

/// Whether the record's target is now as the record found it before its change (read again;
/// `false` when it cannot be read).
async fn as_before<S: RegionActions>(source: &S, record: &Record) -> bool {
    let Ok(what) = Reversible::of(record) else {
        return false;
    };
    match what {
        Reversible::Alias {
            function, alias, ..
        } => source
            .alias(&function, &alias)
            .await
            .is_ok_and(|a| alias_state(&a) == record.before),
        Reversible::Reserved { function, .. } => source
            .reserved_concurrency(&function)
            .await
            .is_ok_and(|n| json!({"reserved": n}) == record.before),
        Reversible::Trigger { kind, id, .. } => source
            .trigger_enabled(kind, &id)
            .await
            .is_ok_and(|now| record.before.get("enabled").and_then(Value::as_bool) == Some(now)),
        Reversible::Service { settings, .. } => super::service::read(source, &settings)
            .await
            .is_ok_and(|now| super::service::same_members(&now.state(), &record.before)),
    }
}

async fn reverse<S: RegionActions>(
    source: &S,
    plan: impl Fn(String, Value, Value, Change, bool) -> Plan,
    record: &Record,
) -> Result<Plan, OpsError> {
    let mut p = match Reversible::of(record)? {
        Reversible::Alias {
            function,
            alias,
            main,
            extra,
        } => {
            let current = source
                .alias(&function, &alias)
                .await
                .map_err(|e| not_found(e, format!("alias {}", record.target)))?;
            if alias_state(&current) != record.after {
                return Err(OpsError::Conflict(
                    format!(
                        "{} changed since {} (now {}, recorded {}): undo refused, nothing changed",
                        record.target,
                        record.time,
                        describe(&alias_state(&current)),
                        describe(&record.after)
                    )
                    .into(),
                ));
            }
            super::plan::check_routable(source, &function, &current, &main, extra.as_ref()).await?;
            route_plan(plan, &function, &alias, current, main, extra)?
        }
        Reversible::Reserved { function, value } => {
            let current = source
                .reserved_concurrency(&function)
                .await
                .map_err(|e| not_found(e, format!("function {function}")))?;
            if json!({"reserved": current}) != record.after {
                return Err(OpsError::Conflict(format!(
                    "{function} changed since {} (now {}, recorded {}): undo refused, nothing changed",
                    record.time,
                    describe(&json!({"reserved": current})),
                    describe(&record.after)
                ).into()));
            }
            // Putting back a reservation of 0 stops the function: as destructive as a kill.
            reserve_plan(source, plan, &function, value, value == Some(0)).await?
        }
        Reversible::Trigger { kind, id, enabled } => {
            let now = source
                .trigger_enabled(kind, &id)
                .await
                .map_err(|e| not_found(e, record.target.clone()))?;
            // Its enabled state is what undo compares (the record also names the rule's targets).
            let recorded = record.after.get("enabled").and_then(Value::as_bool);
            if recorded != Some(now) {
                return Err(OpsError::Conflict(
                    format!(
                        "{} changed since {} (now {}): undo refused, nothing changed",
                        record.target,
                        record.time,
                        if now { "enabled" } else { "disabled" }
                    )
                    .into(),
                ));
            }
            trigger_plan(source, plan, kind, &id, enabled).await?
        }
        Reversible::Service { settings, members } => {
            let current = super::service::read(source, &settings).await?;
            // The members this change wrote, as it left them (another machine's change of
            // other members since, or in its read-back, is theirs to undo).
            let written = super::service::written(&record.after);
            let unchanged = match &written {
                Some(ids) => super::service::same_written(&current.state(), &record.after, ids),
                None => super::service::same_members(&current.state(), &record.after),
            };
            if !unchanged {
                let differs = super::service::member_differences(
                    &record.after,
                    &current.state(),
                    written.as_deref(),
                );
                return Err(OpsError::Conflict(
                    format!(
                        "service {} changed since {} ({}; now {}): undo refused, nothing changed",
                        settings.name,
                        record.time,
                        differs.join(", "),
                        super::describe::describe(&current.state())
                    )
                    .into(),
                ));
            }
            let gives_back = record.action == super::Kind::ServiceDrain.name();
            let change = super::service::ServiceChange::Members(members, gives_back);
            let planned = super::service::plan(source, &settings, &change, false, None).await?;
            let change = if planned.records.is_empty() {
                Change::Nothing
            } else {
                Change::Dns {
                    service: settings,
                    expected: planned.expected,
                    records: planned.records,
                    gives_back: planned.gives_back,
                }
            };
            plan(planned.target, planned.before, planned.after, change, false)
        }
    };
    p.undoes = Some(record.id.clone());
    // A finished rollout undone whole says so (its target alone reads as one step).
    if let Some(whole) = record
        .reason
        .as_deref()
        .filter(|_| is_whole_rollout(record))
    {
        p.note = Some(format!("{whole}: back to where it started"));
    }
    Ok(p)
}

#[path = "undo_whole.rs"]
mod whole;
use whole::{
    WHOLE_ROLLOUT, ended_run, ends_rollout, is_whole_rollout, saved_start, unfinished_rollout,
};

/// The start of the batch id on every record a rollout writes.
pub const ROLLOUT_BATCH: &str = "rollout:";

#[path = "undo_choice.rs"]
mod choice;
pub use choice::{
    BATCH_MARK, NotUndone, Reach, choose, choose_in, elsewhere, in_scope, not_here, not_that_batch,
    nothing_here, nothing_to_undo, partial_batch, reachable_from, reached_anywhere, scopes_of,
    targets_for, undo_refused,
};

/// Whether `r` is a change undo could take back: made (or maybe made: no answer came), not
/// itself an undo, of a kind undo knows, and not undone already — an undo of it worked, or may
/// have (taken as undone, as said then); a failed undo leaves it to undo again.
fn reversible(records: &[Record]) -> impl Fn(&&Record) -> bool + '_ {
    let mut undone: Vec<&str> = records
        .iter()
        .filter(|r| r.result == "ok" || super::audit::outcome_unknown(&r.result))
        .filter_map(|r| r.undoes.as_deref())
        .collect();
    // A finished rollout is undone whole (see `rollout_run`): the steps of its run with it.
    let runs: Vec<&str> = undone
        .iter()
        .filter_map(|id| records.iter().position(|r| r.id == *id))
        .flat_map(|at| rollout_run(records, at).unwrap_or_default())
        .map(|i| records[i].id.as_str())
        .collect();
    undone.extend(runs);
    // A rollout its abort or its guard's rollback ended (answered): the alias is back where it
    // started, nothing of that run is left to undo — passed over with its steps, so that undo
    // reaches the change before it (it refused, naming the rollout, for good).
    let ended: Vec<&str> = (0..records.len())
        .filter(|at| ends_rollout(&records[*at]) && records[*at].result == "ok")
        .flat_map(|at| ended_run(records, at))
        .map(|i| records[i].id.as_str())
        .collect();
    undone.extend(ended);
    move |r: &&Record| {
        (r.result == "ok" || super::audit::outcome_unknown(&r.result))
            && r.undoes.is_none()
            && UNDOABLE.contains(&r.action.as_str())
            && !undone.contains(&r.id.as_str())
    }
}

/// Whether a rollout's record wrote its plan's last step (`rollout step 3/3 (…)`): the rollout
/// finished there.
fn finished_step(r: &Record) -> bool {
    r.reason
        .as_deref()
        .and_then(|why| why.strip_prefix("rollout step "))
        .and_then(|rest| rest.split_whitespace().next())
        .and_then(|n| n.split_once('/'))
        .is_some_and(|(at, of)| at == of)
}

/// The records of the rollout run that wrote `records[at]`, from it back to its first step on
/// record, as indices, newest first: records of the same rollout batch in the same scope whose
/// step numbers fall (`3/3`, `2/3`, … — a step that found the alias as it asked writes no
/// record). The run begins after what came before it: its `step 1/…`, a change of the alias
/// made otherwise (a `traffic set`), an abort or a rollback, a step of another run (a number
/// that does not fall, another count). `None` when `records[at]` is no rollout step.
fn rollout_run(records: &[Record], at: usize) -> Option<Vec<usize>> {
    let last = records.get(at)?;
    let batch = last
        .batch
        .as_deref()
        .filter(|b| b.starts_with(ROLLOUT_BATCH))?;
    let (mut k, n) = step_of(last)?;
    let mut run = vec![at];
    for i in (0..at).rev() {
        let r = &records[i];
        if r.profile != last.profile || r.region != last.region || r.target != last.target {
            continue;
        }
        // Only the alias's changes that worked (or may have) bound it: a refused one changed
        // nothing.
        if !(r.result == "ok" || super::audit::outcome_unknown(&r.result)) {
            continue;
        }
        match (r.batch.as_deref() == Some(batch), step_of(r)) {
            (true, Some((before, of))) if of == n && before < k => {
                run.push(i);
                k = before;
            }
            _ => break,
        }
        if k == 1 {
            break;
        }
    }
    Some(run)
}

/// A rollout's step record's number and its plan's count (`rollout step 2/3 (…)`).
fn step_of(r: &Record) -> Option<(u32, u32)> {
    let (k, n) = r
        .reason
        .as_deref()?
        .strip_prefix("rollout step ")?
        .split_whitespace()
        .next()?
        .split_once('/')?;
    Some((k.parse().ok()?, n.parse().ok()?))
}

/// The last change undo could take back, if any (a rollout's step included).
fn last_reversible(records: &[Record]) -> Option<&Record> {
    records.iter().rev().find(reversible(records))
}

/// What `undo` reverts: the last reversible action that worked (or whose outcome is unknown: it
/// started and its lops stopped; undo finds whether it landed) and is not undone yet, and, when
/// it was one target of a batch, every other such target of that batch.
pub fn undo_targets(records: &[Record]) -> Vec<Record> {
    let reversible = reversible(records);
    let Some(last) = last_reversible(records) else {
        return Vec::new();
    };
    // A rollout's step: undone alone it would leave the alias half-way (see nothing_to_undo).
    // The last step of a finished rollout takes the whole run back: the alias returns to where
    // the rollout started, compared with where it ended.
    if last
        .batch
        .as_deref()
        .is_some_and(|b| b.starts_with(ROLLOUT_BATCH))
    {
        let at = records.iter().rposition(|r| r.id == last.id);
        let first = at
            .filter(|_| finished_step(last))
            .and_then(|at| rollout_run(records, at))
            .and_then(|run| run.last().map(|i| &records[*i]));
        // Its state before the run: the first step's `before` (a step 1 that wrote nothing
        // found the alias as the next one's `before` says).
        return match first {
            Some(first) => vec![Record {
                before: first.before.clone(),
                batch: None,
                reason: Some(format!("{WHOLE_ROLLOUT}{}, whole", last.target)),
                ..last.clone()
            }],
            None => Vec::new(),
        };
    }
    match &last.batch {
        None => vec![last.clone()],
        Some(batch) => records
            .iter()
            .filter(reversible)
            .filter(|r| r.batch.as_deref() == Some(batch))
            .cloned()
            .collect(),
    }
}

#[cfg(test)]
#[path = "undo_tests.rs"]
mod tests;
