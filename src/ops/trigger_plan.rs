//! A trigger's pause or resume previewed: its state now against the state asked, what a rule
//! invokes besides (pausing it pauses them too), what a mapping connects.

use serde_json::{Value, json};

use super::OpsError;
use super::Request;
use super::batch::Target;
use super::plan::{Change, Plan, not_found};
use crate::provider::{ProviderError, RegionActions, TriggerKind};

pub(crate) fn trigger_state(kind: TriggerKind, id: &str, enabled: bool) -> Value {
    json!({"kind": kind.as_str(), "id": id, "enabled": enabled})
}

pub(crate) async fn trigger_plan<S: RegionActions>(
    source: &S,
    plan: impl Fn(String, Value, Value, Change, bool) -> Plan,
    kind: TriggerKind,
    id: &str,
    enabled: bool,
) -> Result<Plan, OpsError> {
    if id.trim().is_empty() {
        return Err(OpsError::Invalid(format!(
            "no {} named: give --rule NAME or --mapping UUID",
            kind.as_str()
        )));
    }
    // A trigger lops may not touch now (a mapping still settling, a rule state it could not
    // put back) is a refusal, as a guard's: exit 4, not a failure.
    let current = source
        .trigger_enabled(kind, id)
        .await
        .map_err(|e| match e {
            ProviderError::Invalid(why) => OpsError::Refused(why),
            other => not_found(other, format!("{} {id}", kind.as_str())),
        })?;
    let change = if current == enabled {
        Change::Nothing
    } else {
        Change::Trigger {
            kind,
            id: id.to_string(),
            enabled,
            expected: current,
        }
    };
    // A rule invokes every target it has: pausing it for one function pauses the others too,
    // which the preview says (in the state after, so the audit record says it as well).
    let mut after = trigger_state(kind, id, enabled);
    // A mapping's preview names what it connects, not only its UUID.
    if kind == TriggerKind::Mapping
        && change != Change::Nothing
        && let Some((function, source_arn)) = source.mapping_ends(id).await
    {
        let from = source_arn.rsplit([':', '/']).next().unwrap_or_default();
        after["connects"] = json!(format!("{from} → {function}"));
    }
    if kind == TriggerKind::Rule && change != Change::Nothing {
        let read = source.rule_targets(id).await;
        if let Ok(targets) = &read {
            // Compared again right before the write: a target added since is a change too.
            let mut sorted = targets.clone();
            sorted.sort();
            after["targets"] = json!(sorted);
        }
        match read {
            Ok(targets) if targets.len() > 1 || targets.iter().any(|t| !t.contains(":lambda:")) => {
                let names: Vec<String> = targets
                    .iter()
                    .map(|t| match t.split_once(":function:") {
                        Some((_, f)) => f.to_string(),
                        None => t.clone(),
                    })
                    .collect();
                after["invokes"] = json!(names);
            }
            Ok(_) => {}
            Err(e) => after["invokes_unread"] = json!(e.to_string()),
        }
    }
    Ok(plan(
        format!("{}/{id}", kind.as_str()),
        trigger_state(kind, id, current),
        after,
        change,
        false,
    ))
}

/// The rules and mappings of these functions as targets of one pause (or resume): read where
/// each function is, every trigger not yet as asked becomes a target. `enabled: None` pauses
/// when any of them is enabled and resumes them all when none is. A scope whose tier does not
/// allow it is skipped without reading anything there; a function whose triggers cannot be read
/// is skipped with why.
pub async fn trigger_targets<S: RegionActions>(
    sources: &[&S],
    functions: &[(usize, String)],
    enabled: Option<bool>,
) -> Vec<Target> {
    let reads = functions.iter().map(|(i, function)| async move {
        let Some(source) = sources.get(*i) else {
            return Err(Target::Skip(
                *i,
                function.clone(),
                OpsError::Invalid("no such region".into()),
            ));
        };
        let scope = source.scope();
        if let Err(e) = super::authorize(
            scope.access.tier,
            super::Kind::Trigger.needs(),
            &format!("trigger in {scope}"),
        ) {
            return Err(Target::Skip(*i, function.clone(), e));
        }
        match source.triggers(function).await {
            Ok(t) => Ok((*i, function.clone(), t.triggers)),
            Err(e) => Err(Target::Skip(*i, function.clone(), OpsError::Provider(e))),
        }
    });
    let read = futures::future::join_all(reads).await;
    let enabled = enabled.unwrap_or_else(|| {
        !read
            .iter()
            .filter_map(|r| r.as_ref().ok())
            .any(|(_, _, ts)| ts.iter().any(|t| t.enabled))
    });
    let mut targets = Vec::new();
    let mut taken = std::collections::HashSet::new();
    for r in read {
        match r {
            Ok((i, function, triggers)) => {
                let to_change = triggers.iter().any(|t| t.enabled != enabled);
                if !to_change {
                    // Marked and left out: said, as every skipped target is.
                    targets.push(Target::Skip(
                        i,
                        function,
                        OpsError::Invalid(format!(
                            "nothing to {} — no {} rule or mapping",
                            if enabled { "resume" } else { "pause" },
                            if enabled { "paused" } else { "enabled" }
                        )),
                    ));
                    continue;
                }
                targets.extend(
                    triggers
                        .into_iter()
                        .filter(|t| t.enabled != enabled)
                        // A rule shared by two marked functions is one target.
                        .filter(|t| taken.insert((i, t.kind.as_str(), t.id.clone())))
                        .map(|t| {
                            Target::Ask(
                                i,
                                Request::SetTrigger {
                                    kind: t.kind,
                                    id: t.id,
                                    enabled,
                                },
                            )
                        }),
                );
            }
            Err(skip) => targets.push(skip),
        }
    }
    targets
}

/// Whether a trigger whose states (a preview's, a record's) are `states` invokes function `f`:
/// a rule's targets, what a mapping connects, or the functions it was found invoking. `None`
/// when none of them says (its ends were not read).
pub fn invokes<'a>(states: impl IntoIterator<Item = &'a Value>, f: &str) -> Option<bool> {
    let mut known = false;
    for v in states {
        let texts = |key| {
            v.get(key)
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter_map(Value::as_str)
        };
        known |= ["targets", "invokes", "connects"]
            .iter()
            .any(|k| v.get(*k).is_some());
        let arn = |t: &str| {
            t.ends_with(&format!(":function:{f}")) || t.contains(&format!(":function:{f}:"))
        };
        if texts("targets").any(arn)
            || texts("invokes").any(|t| t == f)
            || v.get("connects")
                .and_then(Value::as_str)
                // `queue → f`, or `queue → f:live` for a mapping to an alias.
                .is_some_and(|c| c.ends_with(&format!("→ {f}")) || c.contains(&format!("→ {f}:")))
        {
            return Some(true);
        }
    }
    known.then_some(false)
}

/// What a trigger connects (a mapping's ends, a rule's targets) is not in the state read back
/// after its write: kept from the preview in `after`, so its record still says which functions
/// it invokes.
pub(super) fn keep_ends(after: &mut Value, planned: &Value) {
    if let Some(after) = after.as_object_mut() {
        for key in ["connects", "targets"] {
            if let Some(v) = planned.get(key).filter(|_| !after.contains_key(key)) {
                after.insert(key.to_string(), v.clone());
            }
        }
    }
}
