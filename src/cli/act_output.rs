//! What an action prints: its outcome as text, or as JSON (`--json`).

use std::io::Write;

use serde_json::json;

use crate::ops::batch;
use crate::ops::{Change, Outcome, Plan};

pub(super) fn item_json(item: &batch::Item, outcome: Option<&Outcome>) -> serde_json::Value {
    match item {
        batch::Item::Ready { plan, .. } => plan_json(plan, outcome),
        batch::Item::Skipped {
            scope,
            target,
            error,
            ..
        } => json!({
            "region": scope.region,
            "profile": scope.profile,
            "target": target,
            "skipped": error.to_string(),
        }),
    }
}

pub(super) fn plan_json(plan: &Plan, outcome: Option<&Outcome>) -> serde_json::Value {
    let mut doc = json!({
        "region": plan.scope.region,
        "profile": plan.scope.profile,
        "action": plan.action,
        "target": plan.target,
        "before": plan.before,
        "after": outcome.map(|o| o.after.clone()).unwrap_or_else(|| plan.after.clone()),
        // An invoke whose function failed is no change that worked (as the summary counts).
        "changed": plan.change != Change::Nothing && !outcome.is_some_and(Outcome::function_failed),
    });
    if let Some((inv, report)) = outcome.and_then(|o| o.invoke.as_ref()) {
        // The text as a string where it is no JSON, or holds a number a double cannot hold.
        let body: serde_json::Value = serde_json::from_slice(&inv.payload)
            .ok()
            .filter(|v| crate::ops::payload::numbers_kept(&inv.payload, v))
            .unwrap_or_else(|| json!(String::from_utf8_lossy(&inv.payload)));
        doc["invoke"] = json!({
            "status": inv.status,
            "function_error": inv.function_error,
            "executed_version": inv.executed_version,
            "response": body,
            "log_tail": inv.log_tail,
            "report": report,
        });
    }
    if let Some(r) = outcome.and_then(|o| o.record.as_ref()) {
        doc["audit_id"] = json!(r.id);
    }
    // What the preview said beside before → after (a finished rollout undone whole, what could
    // not be checked): on stderr only, a script missed it.
    if let Some(note) = &plan.note {
        doc["note"] = json!(note);
    }
    doc
}

pub(super) fn print_outcome(plan: &Plan, outcome: &Outcome, several: bool) {
    let mut out = super::stdout();
    // Several regions' answers: each says whose it is.
    if several && outcome.invoke.is_some() {
        let _ = writeln!(out, "── {} {}", plan.target, plan.place());
    }
    let Some((inv, report)) = &outcome.invoke else {
        // A Route 53 change is the service's, not the home region its call went through.
        let place = plan.place();
        let (what, now) = match plan.change == crate::ops::Change::Nothing {
            true => ("already", ", nothing changed"),
            false => ("done, now", ""),
        };
        let _ = writeln!(
            out,
            "{} {} {place}: {what} {}{now}",
            // As the command is typed (`traffic set`); the audit's column keeps the dotted name.
            plan.action.replace('.', " "),
            plan.target,
            crate::ops::plan::describe_state(&outcome.after)
        );
        return;
    };
    for (label, value) in crate::ops::invoke_summary(inv, report.as_ref()) {
        let _ = writeln!(out, "{label:<11} {value}");
    }
    // Pretty where that keeps every number as the function wrote it, else as it came.
    let body = serde_json::from_slice::<serde_json::Value>(&inv.payload)
        .ok()
        .filter(|v| crate::ops::payload::numbers_kept(&inv.payload, v))
        .and_then(|v| serde_json::to_string_pretty(&v).ok())
        .unwrap_or_else(|| String::from_utf8_lossy(&inv.payload).into_owned());
    // What the function wrote reaches the terminal as text, never as a command.
    let _ = writeln!(out, "response\n{}", crate::format::printable(&body, true));
    // A tail of blank lines is not announced with nothing under it (as the dashboard).
    if let Some(log) = inv.log_tail.as_ref().filter(|l| !l.trim().is_empty()) {
        let _ = writeln!(out, "log tail\n{}", crate::format::printable(log, true));
    }
}
