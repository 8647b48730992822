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
    if let Ok(Reversible::Alias {
        function, alias, ..
    }) = Reversible::of(record)
    {
        super::plan::held_by_rollout(source, audit, &function, &alias).await?;
    }
    let result = reverse(source, plan, record).await;
    // An outcome unknown found as it was before: it never landed. Recorded so (under its id),
    // the next undo goes on to the action before it instead of stopping here for good — once
    // the request can no longer be on its way (a late answer may still land it).
    let age = chrono::DateTime::parse_from_rfc3339(&record.time)
        .map(|t| (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds())
        .unwrap_or(i64::MAX);
    // Read once: as it was before the change (only asked of an unknown outcome in conflict).
    let not_there = matches!(result, Err(OpsError::Conflict(_)))
        && super::audit::outcome_unknown(&record.result)
        && as_before(source, record).await;
    // A guard, not a failure (exit 4): nothing is wrong, it is too soon to tell.
    if not_there && age < IN_FLIGHT_SECS {
        return Err(OpsError::Refused(format!(
            "the {} of {} got no answer {age} s ago and may still land: look again in a minute \
             (undo then knows whether it did)",
            record.action, record.target
        )));
    }
    if not_there && let Some(log) = audit {
        let settled = Record {
            result: format!(
                "{}found as it was before at {}",
                super::audit::NOT_LANDED,
                chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
            ),
            after: record.before.clone(),
            ..record.clone()
        };
        if log.append(&settled).is_ok() {
            return Err(OpsError::Conflict(format!(
                "the {} of {} at {} never landed ({} is as it was before it): recorded so; run \
                 undo again for the action before it",
                record.action, record.target, record.time, record.target
            )));
        }
    }
    match result {
        // An action with no result on record: its change is not there to take back.
        Err(OpsError::Conflict(e)) if super::audit::outcome_unknown(&record.result) => {
            Err(OpsError::Conflict(format!(
                "{e}. The {} of {} at {} has no result on record (its lops stopped while it \
                 ran, or no answer came): if it never landed, there is nothing of it to undo — \
                 set {} as you want it by hand",
                record.action, record.target, record.time, record.target
            )))
        }
        other => other,
    }
}

/// How long after a write that got no answer it may still land (a request on its way, a
/// retry): undo judges it only after this.
const IN_FLIGHT_SECS: i64 = 60;

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
                return Err(OpsError::Conflict(format!(
                    "{} changed since {} (now {}, recorded {}): undo refused, nothing changed",
                    record.target,
                    record.time,
                    describe(&alias_state(&current)),
                    describe(&record.after)
                )));
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
                )));
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
                return Err(OpsError::Conflict(format!(
                    "{} changed since {} (now {}): undo refused, nothing changed",
                    record.target,
                    record.time,
                    if now { "enabled" } else { "disabled" }
                )));
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
                return Err(OpsError::Conflict(format!(
                    "service {} changed since {} ({}; now {}): undo refused, nothing changed",
                    settings.name,
                    record.time,
                    differs.join(", "),
                    super::describe::describe(&current.state())
                )));
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
    Ok(p)
}

/// The start of the batch id on every record a rollout writes.
pub const ROLLOUT_BATCH: &str = "rollout:";

/// The last change a rollout made, when the last undoable change is one (its target).
fn rollout_step(records: &[Record]) -> Option<(&Record, &str)> {
    let step = last_reversible(records)?;
    let target = step.batch.as_deref()?.strip_prefix(ROLLOUT_BATCH)?;
    Some((step, target))
}

/// Whether undo finds something but refuses it (a rollout's step) rather than nothing.
pub fn undo_refused(records: &[Record]) -> bool {
    rollout_step(records).is_some()
}

pub fn nothing_to_undo(records: &[Record]) -> String {
    // The last change was a rollout's (a step, its rollback or its abort).
    if let Some((step, target)) = rollout_step(records) {
        // `orders:live`: the abort names the alias, its function, and where the rollout runs.
        let abort = match target.split_once(':') {
            Some((function, alias)) => format!(
                "`lops traffic abort {alias} --fn {function} --profile {} --regions {}`",
                step.profile, step.region
            ),
            None => "`lops traffic abort`".to_string(),
        };
        return format!(
            "the last change was made by the rollout of {target} ({} at {}): undo would take it \
             back one step only. {abort} returns an unfinished rollout to where it started; a \
             finished one goes back with `lops pin` (to the alias's last known good version, \
             `L` in the dashboard) or `lops traffic set`",
            step.action, step.time
        );
    }
    let mut text = "nothing to undo: no reversible action is recorded".to_string();
    let safety = records
        .iter()
        .rev()
        // A restore refused before its first change (not sent) replaced nothing.
        .filter(|r| {
            !r.result.starts_with(super::audit::CONFLICT) && !r.result.starts_with("refused")
        })
        .find(|r| r.action.starts_with("restore"))
        .and_then(|r| {
            let uri = r.before.get("safety_snapshot")?.as_str()?.to_string();
            let overwritten = r.after.get("data_overwritten").and_then(|n| n.as_u64());
            Some((uri, overwritten.unwrap_or(0)))
        });
    if let Some((uri, overwritten)) = safety {
        // The safety snapshot holds the function, never the data a copy wrote over.
        let data = match overwritten {
            0 => String::new(),
            n => format!(
                "; the {n} S3 object(s) it wrote over are not in it: without bucket versioning \
                 they cannot be put back"
            ),
        };
        text.push_str(&format!(
            " (a restore is not undone by undo: `lops restore {uri}` puts back the function \
             the last restore replaced{data})"
        ));
    }
    text
}

/// What undo says when the profiles and regions chosen (`chosen`: their records) hold nothing
/// to undo: why, and where the last change of the whole log is when it lies beyond them —
/// with the command that undoes it there, or why undo does not (a rollout's step).
pub fn nothing_here(
    all: &[Record],
    chosen: &[Record],
    profiles: &[String],
    regions: Option<&[String]>,
) -> String {
    let within = format!(
        "profile {}{}",
        profiles.join(","),
        regions
            .map(|r| format!(" in {}", r.join(",")))
            .unwrap_or_default()
    );
    match elsewhere(all, chosen) {
        Some(there) => format!("{} under {within}; {there}", nothing_to_undo(chosen)),
        // Nothing was done under them at all: what the log's last change is.
        None if chosen.is_empty() && rollout_step(all).is_some() => format!(
            "nothing to undo: nothing was done under {within}; elsewhere, {}",
            nothing_to_undo(all)
        ),
        None if chosen.is_empty() => nothing_to_undo(all),
        None => nothing_to_undo(chosen),
    }
}

/// Why an undo in the scopes chosen takes nothing back: what to say, and whether it is a
/// refusal (there is something to undo, not here or not so: exit 4) or nothing at all.
#[derive(Debug, Clone, PartialEq)]
pub struct NotUndone {
    pub message: String,
    pub refused: bool,
}

/// What an undo takes back in `profiles` (and `regions`, when named): the one decision both
/// faces show. `anywhere`: the scopes were not narrowed on purpose, so the last action of the
/// whole log is what undo means — one made beyond them is named, never passed over for an
/// older one here. A batch reaching beyond them is refused whole.
pub fn choose(
    all: &[Record],
    profiles: &[String],
    regions: Option<&[String]>,
    anywhere: bool,
) -> Result<Vec<Record>, NotUndone> {
    let chosen = in_scope(all, profiles, regions);
    let there = elsewhere(all, &chosen);
    if anywhere && let Some(there) = &there {
        return Err(NotUndone {
            message: not_here(profiles, regions, there),
            refused: true,
        });
    }
    let targets = undo_targets(&chosen);
    if let Some(why) = partial_batch(all, &targets) {
        return Err(NotUndone {
            message: why,
            refused: true,
        });
    }
    if targets.is_empty() {
        return Err(NotUndone {
            message: nothing_here(all, &chosen, profiles, regions),
            // Something to undo elsewhere, or a rollout's step: refused, not bad input.
            refused: undo_refused(&chosen) || there.is_some(),
        });
    }
    Ok(targets)
}

/// The records an undo may take back: those made under the profiles the session reads (the
/// core resolves them: `--profile`, the config's `profiles`, `AWS_PROFILE`, `default`), and in
/// the regions named, when regions were named. An undo never acts in a scope nobody chose.
pub fn in_scope(
    records: &[Record],
    profiles: &[String],
    regions: Option<&[String]>,
) -> Vec<Record> {
    records
        .iter()
        .filter(|r| profiles.iter().any(|p| p.trim() == r.profile))
        .filter(|r| regions.is_none_or(|g| g.iter().any(|g| g.trim() == r.region)))
        .cloned()
        .collect()
}

/// The profiles and the regions `records` were made in, each sorted, once, comma-joined (as
/// `--profile` and `--regions` take them).
pub fn scopes_of(records: &[Record]) -> (String, String) {
    let names = |of: fn(&Record) -> &str| {
        let mut names: Vec<&str> = records.iter().map(of).collect();
        names.sort();
        names.dedup();
        names.join(",")
    };
    (names(|r| &r.profile), names(|r| &r.region))
}

/// Said when the last reversible action of the whole log is not among those of the scopes
/// chosen: where it is, and how to undo it there.
pub fn elsewhere(all: &[Record], chosen: &[Record]) -> Option<String> {
    let batch = undo_targets(all);
    let last = batch.last()?;
    // Part of its batch is here: [`partial_batch`] says why it is undone whole.
    if batch.iter().any(|b| chosen.iter().any(|r| r.id == b.id)) {
        return None;
    }
    // Every scope of its batch: the command undoes all of it, as one.
    let (profiles, regions) = scopes_of(&batch);
    Some(format!(
        "the last reversible action is {} {} in {profiles}/{regions} at {}: undo it with `lops \
         undo --profile {profiles} --regions {regions}`",
        last.action, last.target, last.time
    ))
}

/// The refusal when the last reversible action lies (wholly or in part) outside the profiles
/// and regions chosen: `there` is what [`elsewhere`] said.
pub fn not_here(profiles: &[String], regions: Option<&[String]>, there: &str) -> String {
    let plural = |n: usize, one: &'static str, many: &'static str| match n {
        1 => one,
        _ => many,
    };
    format!(
        "the last reversible action was not made within {} {}{}: {there}",
        plural(profiles.len(), "profile", "profiles"),
        profiles.join(","),
        regions
            .map(|r| format!(
                " and {} {}",
                plural(r.len(), "region", "regions"),
                r.join(",")
            ))
            .unwrap_or_default()
    )
}

/// Said when `targets` (what the chosen scopes would undo) are only part of their batch: the
/// rest was made under other profiles or regions, and a batch is undone whole or not at all.
pub fn partial_batch(all: &[Record], targets: &[Record]) -> Option<String> {
    let batch = targets.first()?.batch.clone()?;
    // The batch's records, and the undos that may have taken some back.
    let related: Vec<Record> = all
        .iter()
        .filter(|r| r.batch.as_deref() == Some(batch.as_str()) || r.undoes.is_some())
        .cloned()
        .collect();
    let whole = undo_targets(&related);
    if whole.len() <= targets.len() {
        return None;
    }
    let (profiles, regions) = scopes_of(&whole);
    // The command names the batch's scopes; if something was done there after it, that comes
    // first (said, so the command is not taken for this batch's undo).
    let split = |names: String| names.split(',').map(str::to_string).collect::<Vec<_>>();
    let there = in_scope(all, &split(profiles.clone()), Some(&split(regions.clone())));
    let first = undo_targets(&there);
    let later = if first.iter().any(|r| r.id == whole[0].id) {
        String::new()
    } else {
        format!(
            " (after {} {}, done there since, which that command undoes first)",
            first.first().map_or("", |r| r.action.as_str()),
            first.first().map_or("", |r| r.target.as_str())
        )
    };
    Some(format!(
        "the last reversible action, {} {}, was one batch over {profiles}/{regions}: a batch is \
         undone whole — `lops undo --profile {profiles} --regions {regions}`{later}",
        whole[0].action, whole[0].target
    ))
}

/// What `undo` reverts: the last reversible action that worked (or whose outcome is unknown: it
/// started and its lops stopped; undo finds whether it landed) and is not undone yet, and, when
/// it was one target of a batch, every other such target of that batch.
/// Whether `r` is a change undo could take back: made (or maybe made: no answer came), not
/// itself an undo, of a kind undo knows, and not undone already — an undo of it worked, or may
/// have (taken as undone, as said then); a failed undo leaves it to undo again.
fn reversible(records: &[Record]) -> impl Fn(&&Record) -> bool + '_ {
    let undone: Vec<&str> = records
        .iter()
        .filter(|r| r.result == "ok" || super::audit::outcome_unknown(&r.result))
        .filter_map(|r| r.undoes.as_deref())
        .collect();
    move |r: &&Record| {
        (r.result == "ok" || super::audit::outcome_unknown(&r.result))
            && r.undoes.is_none()
            && UNDOABLE.contains(&r.action.as_str())
            && !undone.contains(&r.id.as_str())
    }
}

/// The last change undo could take back, if any (a rollout's step included).
fn last_reversible(records: &[Record]) -> Option<&Record> {
    records.iter().rev().find(reversible(records))
}

pub fn undo_targets(records: &[Record]) -> Vec<Record> {
    let reversible = reversible(records);
    let Some(last) = last_reversible(records) else {
        return Vec::new();
    };
    // A rollout's step: undone alone it would leave the alias half-way (see nothing_to_undo).
    if last
        .batch
        .as_deref()
        .is_some_and(|b| b.starts_with(ROLLOUT_BATCH))
    {
        return Vec::new();
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
