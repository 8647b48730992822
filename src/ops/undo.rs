//! Undo: an audited action back to its recorded "before", refused when the target changed
//! since.

use serde_json::{Value, json};

use super::OpsError;
use super::audit::Record;
use super::plan::{
    Change, Plan, alias_state, describe, not_found, reserve_plan, route_plan, trigger_plan,
    trigger_state,
};
use crate::provider::{RegionActions, TriggerKind};

/// The audit actions `undo` can revert.
pub const UNDOABLE: [&str; 10] = [
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
];

pub(super) async fn undo_plan<S: RegionActions>(
    source: &S,
    plan: impl Fn(String, Value, Value, Change, bool) -> Plan,
    record: &Record,
) -> Result<Plan, OpsError> {
    let mut p = match record.action.as_str() {
        "traffic.set" | "traffic.promote" | "traffic.rollback" | "traffic.pin"
        | "traffic.restore" => {
            let (function, alias) = record.target.split_once(':').ok_or_else(|| {
                OpsError::Invalid(format!("audit record {} names no alias", record.id))
            })?;
            let current = source
                .alias(function, alias)
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
            let main = record
                .before
                .get("function_version")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let extra = record
                .before
                .get("weights")
                .and_then(Value::as_object)
                .and_then(|m| {
                    m.iter()
                        .next()
                        .map(|(v, w)| (v.clone(), w.as_f64().unwrap_or(0.0)))
                });
            route_plan(plan, function, alias, current, main, extra)?
        }
        "concurrency.set" | "kill" | "revive" => {
            let function = record.target.as_str();
            let current = source
                .reserved_concurrency(function)
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
            let value = record
                .before
                .get("reserved")
                .and_then(Value::as_i64)
                .map(|n| n as i32);
            // Putting back a reservation of 0 stops the function: as destructive as a kill.
            reserve_plan(source, plan, function, value, value == Some(0)).await?
        }
        "trigger.enable" | "trigger.disable" => {
            let kind = match record.before.get("kind").and_then(Value::as_str) {
                Some("rule") => TriggerKind::Rule,
                Some("mapping") => TriggerKind::Mapping,
                _ => {
                    return Err(OpsError::Invalid(format!(
                        "audit record {} names no trigger kind",
                        record.id
                    )));
                }
            };
            let id = record
                .before
                .get("id")
                .and_then(Value::as_str)
                .unwrap_or_default()
                .to_string();
            let was = record
                .before
                .get("enabled")
                .and_then(Value::as_bool)
                .unwrap_or(true);
            let now = source
                .trigger_enabled(kind, &id)
                .await
                .map_err(|e| not_found(e, record.target.clone()))?;
            if trigger_state(kind, &id, now) != record.after {
                return Err(OpsError::Conflict(format!(
                    "{} changed since {} (now {}): undo refused, nothing changed",
                    record.target,
                    record.time,
                    if now { "enabled" } else { "disabled" }
                )));
            }
            trigger_plan(source, plan, kind, &id, was).await?
        }
        other => {
            return Err(OpsError::Invalid(format!(
                "{other} cannot be undone: undo reverts {}",
                UNDOABLE.join(", ")
            )));
        }
    };
    p.undoes = Some(record.id.clone());
    Ok(p)
}
