//! A trigger's pause or resume previewed: its state now against the state asked, what a rule
//! invokes besides (pausing it pauses them too), what a mapping connects.

use serde_json::{Value, json};

use super::OpsError;
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
