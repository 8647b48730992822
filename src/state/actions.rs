//! Actions from the dashboard: a key builds a request, the runtime prepares it through the ops
//! layer, the confirm popup holds the plan (its text derived from the plan), and only a
//! confirmation turns it into an execute effect. The UI mirrors the tier; the ops layer enforces it.

use crossterm::event::{KeyCode, KeyEvent};

use super::{Action, Effect, Input, Popup, State};

use crate::ops::{OpsError, Outcome, Plan, Request, Tier, authorize};
use crate::provider::InvokeRequest;

/// The dashboard's action keys and the tier each needs.
pub const ACTION_KEYS: [(Action, Tier); 13] = [
    (Action::Invoke, Tier::Invoke),
    (Action::Shift, Tier::Change),
    (Action::Promote, Tier::Change),
    (Action::Rollback, Tier::Change),
    (Action::Kill, Tier::Change),
    (Action::Revive, Tier::Change),
    (Action::Canary, Tier::Change),
    (Action::AbortPlan, Tier::Change),
    (Action::ResumePlan, Tier::Change),
    (Action::Pin, Tier::Change),
    (Action::Concurrency, Tier::Change),
    // A backup only adds objects to the backup bucket: the read tier may take one.
    (Action::Backup, Tier::Read),
    (Action::Trigger, Tier::Change),
];

pub fn needed_tier(action: Action) -> Option<Tier> {
    ACTION_KEYS
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, t)| *t)
}

/// Whether the session's tier lets this key act (hidden from hints otherwise).
pub fn allowed(state: &State, action: Action) -> bool {
    needed_tier(action).is_none_or(|t| state.display.tier.allows(t))
}

/// A confirmation waiting for the user: the plan, and what has been typed when the target's
/// name must be typed.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub region: usize,
    pub plan: Box<Plan>,
    pub typed: Option<String>,
    /// Shown in danger style; it also makes the confirmation a typed one.
    pub warning: Option<String>,
}

fn focus_alias(state: &State) -> Option<(usize, String, crate::provider::AliasInfo, Vec<String>)> {
    let (region, f) = state.focus()?;
    let alias = f.info.aliases.first()?.clone();
    Some((region, f.info.name.clone(), alias, f.info.versions.clone()))
}

/// The version a shift or plan moves traffic to: the alias's extra version if it has one, else
/// the newest published version that is not its main one.
fn second_version(alias: &crate::provider::AliasInfo, versions: &[String]) -> Option<String> {
    alias
        .additional_weights
        .first()
        .map(|(v, _)| v.clone())
        .or_else(|| {
            versions
                .iter()
                .rev()
                .find(|v| **v != alias.function_version)
                .cloned()
        })
}

/// Starts an action on the focused function.
pub fn start(state: &mut State, action: Action, effects: &mut Vec<Effect>) {
    let Some(tier) = needed_tier(action) else {
        return;
    };
    if let Err(e) = authorize(state.display.tier, tier, action_name(action)) {
        state.popup = Some(Popup::Notice(e.to_string()));
        return;
    }
    let Some((region, function)) = state.focus().map(|(r, f)| (r, f.info.name.clone())) else {
        state.popup = Some(Popup::Notice("select a function first".into()));
        return;
    };
    let request = match action {
        Action::Invoke => {
            state.input = Some(Input::Payload("{}".into()));
            return;
        }
        Action::Shift => {
            let Some((_, _, alias, versions)) = focus_alias(state) else {
                state.popup = Some(Popup::Notice(format!("{function} has no alias to shift")));
                return;
            };
            if second_version(&alias, &versions).is_none() {
                state.popup = Some(Popup::Notice(format!(
                    "{function} has no second published version"
                )));
                return;
            }
            let current = alias
                .additional_weights
                .first()
                .map(|(_, w)| *w)
                .unwrap_or(0.0);
            state.input = Some(Input::Weight(format!("{current}")));
            return;
        }
        Action::Promote | Action::Rollback => {
            let Some((_, _, alias, _)) = focus_alias(state) else {
                state.popup = Some(Popup::Notice(format!("{function} has no alias")));
                return;
            };
            if action == Action::Promote {
                Request::Promote {
                    function,
                    alias: alias.name,
                }
            } else {
                Request::Rollback {
                    function,
                    alias: alias.name,
                }
            }
        }
        Action::Pin => {
            let Some((_, _, alias, _)) = focus_alias(state) else {
                state.popup = Some(Popup::Notice(format!("{function} has no alias")));
                return;
            };
            Request::Pin {
                function,
                alias: alias.name,
            }
        }
        Action::Concurrency => {
            let current = state
                .focus()
                .and_then(|(_, f)| f.info.reserved_concurrency)
                .map_or("none".to_string(), |n| n.to_string());
            state.input = Some(Input::Concurrency(current));
            return;
        }
        Action::Kill => Request::Kill { function },
        Action::Trigger => {
            let Some(pane) = state.trigger_pane.as_ref() else {
                state.popup = Some(Popup::Notice(
                    "open a function (enter) to see and pause its triggers".into(),
                ));
                return;
            };
            let Some(t) = pane.triggers().get(pane.selected).cloned() else {
                state.popup = Some(Popup::Notice(format!(
                    "{function} has no rule or mapping to pause"
                )));
                return;
            };
            Request::SetTrigger {
                kind: t.kind,
                id: t.id,
                enabled: !t.enabled,
            }
        }
        Action::Backup => {
            if state.backup.is_some() {
                state.popup = Some(Popup::Notice("a backup is running".into()));
                return;
            }
            let Some((to, storage_class)) = state.backup_target.clone() else {
                state.popup = Some(Popup::Notice(
                    "no backup location: set to = \"s3://BUCKET/PREFIX\" under [backup] in the config file".into(),
                ));
                return;
            };
            state.backup = Some(BackupView {
                label: format!("{function} starting"),
                done: 0,
                total: 1,
            });
            effects.push(Effect::Backup {
                region,
                functions: vec![function],
                to,
                storage_class,
            });
            return;
        }
        Action::Revive => Request::Revive { function },
        Action::Canary => {
            if focus_alias(state).is_none() {
                state.popup = Some(Popup::Notice(format!("{function} has no alias to move")));
                return;
            }
            state.input = Some(Input::Preset("Canary10Percent5Minutes".into()));
            return;
        }
        Action::AbortPlan | Action::ResumePlan => {
            let found = state
                .plans
                .iter()
                .find(|p| p.region == region && p.rollout.function == function)
                .or_else(|| state.plans.first())
                .map(|p| {
                    (
                        p.region,
                        p.rollout.function.clone(),
                        p.rollout.alias.clone(),
                        p.running,
                    )
                });
            match found {
                None => state.popup = Some(Popup::Notice("no traffic plan here".into())),
                Some((_, _, _, true)) if action == Action::ResumePlan => {
                    state.popup = Some(Popup::Notice("that plan is running".into()))
                }
                Some((region, function, alias, _)) => {
                    effects.push(if action == Action::AbortPlan {
                        Effect::AbortPlan {
                            region,
                            function,
                            alias,
                        }
                    } else {
                        Effect::ResumePlan {
                            region,
                            function,
                            alias,
                        }
                    })
                }
            }
            return;
        }
        _ => return,
    };
    effects.push(Effect::Prepare {
        region,
        request: Box::new(request),
    });
}

fn action_name(action: Action) -> &'static str {
    match action {
        Action::Invoke => "invoke",
        Action::Shift => "traffic set",
        Action::Promote => "traffic promote",
        Action::Rollback => "traffic rollback",
        Action::Kill => "kill",
        Action::Revive => "revive",
        Action::Canary => "traffic plan",
        Action::AbortPlan => "traffic abort",
        Action::ResumePlan => "traffic resume",
        Action::Pin => "pin",
        Action::Concurrency => "concurrency set",
        Action::Backup => "backup",
        Action::Trigger => "trigger",
        _ => "action",
    }
}

/// Enter in the payload or weight input: validate, then ask the runtime to prepare.
pub fn submit(state: &mut State, input: Input, effects: &mut Vec<Effect>) {
    let Some((region, function)) = state.focus().map(|(r, f)| (r, f.info.name.clone())) else {
        return;
    };
    let request = match input {
        Input::Payload(text) => {
            if let Err(e) = serde_json::from_str::<serde_json::Value>(&text) {
                state.input_error = Some(format!("not valid JSON: {e}"));
                state.input = Some(Input::Payload(text));
                return;
            }
            Request::Invoke(InvokeRequest {
                function,
                qualifier: None,
                payload: text.into_bytes(),
                asynchronous: false,
            })
        }
        Input::Weight(text) => {
            let Some((_, _, alias, versions)) = focus_alias(state) else {
                return;
            };
            let version = second_version(&alias, &versions).unwrap_or_default();
            let weight = match text.trim().parse::<f64>() {
                Ok(w) => w,
                Err(_) => {
                    state.input_error =
                        Some(format!("'{text}' is not a number: give 0 ≤ weight < 1"));
                    state.input = Some(Input::Weight(text));
                    return;
                }
            };
            let request = Request::SetWeight {
                function,
                alias: alias.name,
                version,
                weight,
            };
            if let Err(e) = request.validate() {
                state.input_error = Some(e.to_string());
                state.input = Some(Input::Weight(text));
                return;
            }
            request
        }
        Input::Concurrency(text) => {
            let value = match text.trim() {
                "none" | "" => None,
                n => match n.parse::<i32>() {
                    Ok(v) => Some(v),
                    Err(_) => {
                        state.input_error =
                            Some(format!("'{n}' is not a number: give 0 or more, or none"));
                        state.input = Some(Input::Concurrency(text));
                        return;
                    }
                },
            };
            let request = Request::SetConcurrency { function, value };
            if let Err(e) = request.validate() {
                state.input_error = Some(e.to_string());
                state.input = Some(Input::Concurrency(text));
                return;
            }
            request
        }
        Input::Preset(text) => {
            let Some((_, _, alias, versions)) = focus_alias(state) else {
                return;
            };
            let Some(steps) = crate::ops::rollout::preset(text.trim()) else {
                state.input_error = Some(format!(
                    "unknown preset: try {}",
                    crate::ops::rollout::PRESETS[0]
                ));
                state.input = Some(Input::Preset(text));
                return;
            };
            let to = second_version(&alias, &versions);
            let Some(to) = to else {
                state.input_error = Some("no second published version to move to".into());
                state.input = Some(Input::Preset(text));
                return;
            };
            let alarms = state.regions[region]
                .alarms
                .iter()
                .filter(|a| a.function.as_deref() == Some(function.as_str()))
                .map(|a| a.name.clone())
                .collect();
            let guard = crate::ops::rollout::Guard {
                max_error_rate: Some(0.05),
                alarms,
                interval_secs: 10,
            };
            let spec = crate::ops::rollout::PlanSpec {
                function,
                alias: alias.name,
                to,
                steps,
                guard,
            };
            state.input_error = None;
            effects.push(Effect::StartPlan {
                region,
                spec: Box::new(spec),
            });
            return;
        }
        other => {
            state.input = Some(other);
            return;
        }
    };
    state.input_error = None;
    effects.push(Effect::Prepare {
        region,
        request: Box::new(request),
    });
}

/// The ops layer built a plan (or refused): show it for confirmation.
pub fn planned(
    state: &mut State,
    region: usize,
    result: Result<Plan, OpsError>,
    warning: Option<String>,
) {
    state.popup = Some(match result {
        Err(e) => Popup::Notice(e.to_string()),
        Ok(plan) if plan.change == crate::ops::Change::Nothing => Popup::Notice(plan.preview()),
        Ok(plan) => {
            let typed = (plan.destructive || state.display.production || warning.is_some())
                .then(String::new);
            Popup::Confirm(Pending {
                region,
                plan: Box::new(plan),
                typed,
                warning,
            })
        }
    });
}

/// Keys while a confirmation is open: only an explicit yes runs the action.
pub fn confirm_key(
    state: &mut State,
    mut pending: Pending,
    key: KeyEvent,
    effects: &mut Vec<Effect>,
) {
    match (&mut pending.typed, key.code) {
        (_, KeyCode::Esc) => state.popup = None,
        (None, KeyCode::Char('n' | 'N')) => state.popup = None,
        (None, KeyCode::Enter | KeyCode::Char('y' | 'Y')) => {
            state.popup = Some(Popup::Working(pending.plan.preview()));
            effects.push(Effect::Execute {
                region: pending.region,
                plan: pending.plan,
            });
        }
        (Some(typed), KeyCode::Enter) => {
            if *typed == pending.plan.target {
                state.popup = Some(Popup::Working(pending.plan.preview()));
                effects.push(Effect::Execute {
                    region: pending.region,
                    plan: pending.plan,
                });
            } else {
                state.popup = Some(Popup::Confirm(pending));
            }
        }
        (Some(typed), KeyCode::Backspace) => {
            typed.pop();
            state.popup = Some(Popup::Confirm(pending));
        }
        (Some(typed), KeyCode::Char(c)) => {
            typed.push(c);
            state.popup = Some(Popup::Confirm(pending));
        }
        _ => state.popup = Some(Popup::Confirm(pending)),
    }
}

/// A plan moved on (or stopped): keep the latest of each, drop finished ones after showing them.
pub fn plan_update(
    state: &mut State,
    region: usize,
    rollout: crate::ops::rollout::Rollout,
    event: String,
    running: bool,
) {
    state.plans.retain(|p| {
        !(p.region == region
            && p.rollout.function == rollout.function
            && p.rollout.alias == rollout.alias)
    });
    let finished = rollout.status != crate::ops::rollout::Status::Running;
    if finished {
        state.popup = Some(Popup::Notice(format!("plan {}: {event}", rollout.target())));
    } else {
        state.plans.push(PlanView {
            region,
            rollout,
            event,
            running,
        });
    }
}

/// The detail view's triggers.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerPane {
    pub region: usize,
    pub function: String,
    /// `None` while loading.
    pub result: Option<Result<Vec<crate::provider::Trigger>, String>>,
    pub selected: usize,
    /// Read again (after a trigger action).
    pub reload: bool,
}

impl TriggerPane {
    pub fn triggers(&self) -> &[crate::provider::Trigger] {
        match &self.result {
            Some(Ok(t)) => t,
            _ => &[],
        }
    }
}

/// A backup running in the background, for the progress gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupView {
    pub label: String,
    pub done: u64,
    pub total: u64,
}

/// A backup moved on or finished.
pub fn backup_update(state: &mut State, event: BackupEvent) {
    match event {
        BackupEvent::Progress { done, total, label } => {
            state.backup = Some(BackupView { label, done, total });
        }
        BackupEvent::Done(result) => {
            state.backup = None;
            state.popup = Some(Popup::Notice(match result {
                Ok(lines) => format!("backup done\n{}", lines.join("\n")),
                Err(e) => format!("backup failed: {e}"),
            }));
        }
    }
}

/// What the runtime reports about a backup.
#[derive(Debug, Clone, PartialEq)]
pub enum BackupEvent {
    Progress {
        done: u64,
        total: u64,
        label: String,
    },
    /// The snapshot URIs (or what went wrong).
    Done(Result<Vec<String>, String>),
}

/// A traffic plan the dashboard shows: running here, or interrupted (found saved at start).
#[derive(Debug, Clone, PartialEq)]
pub struct PlanView {
    pub region: usize,
    pub rollout: crate::ops::rollout::Rollout,
    pub event: String,
    pub running: bool,
}

/// The action ran (or failed): say what happened, and re-read the inventory.
pub fn executed(state: &mut State, result: Result<Outcome, OpsError>, effects: &mut Vec<Effect>) {
    let text = match result {
        Err(e) => format!("failed: {e}"),
        Ok(outcome) => match &outcome.invoke {
            Some((inv, report)) => {
                let body = String::from_utf8_lossy(&inv.payload);
                let mut lines = vec![
                    format!(
                        "status {}  error {}",
                        inv.status,
                        inv.function_error.as_deref().unwrap_or("none")
                    ),
                    format!("version {}", inv.executed_version.as_deref().unwrap_or("–")),
                ];
                if let Some(r) = report {
                    lines.push(format!(
                        "{} ms (billed {}), memory {}/{} MB{}",
                        r.duration_ms.unwrap_or(0.0),
                        r.billed_ms.unwrap_or(0.0),
                        r.max_memory_used_mb.unwrap_or(0.0),
                        r.memory_size_mb.unwrap_or(0.0),
                        if r.cold_start() { ", cold start" } else { "" }
                    ));
                }
                lines.push(format!(
                    "response {}",
                    body.chars().take(200).collect::<String>()
                ));
                lines.join("\n")
            }
            None => format!(
                "done: now {}",
                crate::ops::plan::describe_state(&outcome.after)
            ),
        },
    };
    state.popup = Some(Popup::Notice(text));
    effects.push(Effect::RefreshInventory);
    // A trigger may have changed: the detail view reads them again.
    if let Some(pane) = state.trigger_pane.as_mut() {
        pane.reload = true;
    }
}
