//! Actions from the dashboard: a key builds a request, the runtime prepares it through the ops
//! layer, the confirm popup holds the proposal with the preview and the confirmation the ops
//! layer decided, and only a confirmation turns it into an effect. Which keys are offered
//! mirrors the selected scope's tier; the ops layer enforces it.

use super::alias_choice::{alias_label, focus_alias, no_alias};
use super::{Action, Effect, Input, Popup, State};

pub use super::confirm::{
    Pending, Proposal, RolloutAct, confirm_key, planned, quit, rollout_prepared,
};
pub use super::outcome::{
    BackupEvent, BackupView, RolloutView, TriggerPane, backup_update, executed, rollout_update,
};
use crate::ops::{Kind, Request, authorize};
use crate::provider::{AliasInfo, InvokeRequest};

/// The dashboard's action keys and what kind of action each is (the ops layer's table says
/// what tier that needs).
pub const ACTION_KEYS: [(Action, Kind); 16] = [
    (Action::Undo, Kind::Undo),
    (Action::Invoke, Kind::Invoke),
    (Action::Shift, Kind::TrafficSet),
    (Action::Promote, Kind::TrafficPromote),
    (Action::Rollback, Kind::TrafficRollback),
    (Action::Kill, Kind::Kill),
    (Action::Revive, Kind::Revive),
    (Action::Rollout, Kind::RolloutStart),
    (Action::AbortRollout, Kind::RolloutAbort),
    (Action::ResumeRollout, Kind::RolloutResume),
    (Action::Pin, Kind::TrafficPin),
    (Action::Concurrency, Kind::Concurrency),
    (Action::Backup, Kind::Backup),
    (Action::Trigger, Kind::Trigger),
    (Action::Drain, Kind::ServiceDrain),
    (Action::RestoreRegion, Kind::ServiceRestore),
];

pub fn kind_of(action: Action) -> Option<Kind> {
    ACTION_KEYS
        .iter()
        .find(|(a, _)| *a == action)
        .map(|(_, k)| *k)
}

/// Whether the selected scope's tier lets this key act (hidden from hints and help otherwise).
pub fn allowed(state: &State, action: Action) -> bool {
    // In the services view the levers act in the scope that owns the selected service's zone.
    let access = match super::services::access(state, action) {
        Some(access) => access,
        None => state.access(),
    };
    let kind = match (&state.view, action) {
        (super::View::Services, Action::Shift) => Some(Kind::ServiceWeights),
        _ => kind_of(action),
    };
    kind.is_none_or(|k| access.tier.allows(k.needs()))
}

/// A rollout running on this alias (here or in another lops) moves it: said when the key is
/// pressed, with its way out, rather than after a value is typed (the ops layer refuses the
/// change either way).
fn rollout_holds(state: &mut State, region: usize, function: &str, alias: &str) -> bool {
    let running = state.rollouts.iter().find(|v| {
        v.region == region
            && v.rollout.function == function
            && v.rollout.alias == alias
            && (v.running || v.rollout.standing() == crate::ops::rollout::Standing::Running)
    });
    let Some(v) = running else {
        return false;
    };
    state.popup = Some(Popup::Notice(format!(
        "{} is moved by its rollout ({}): it changes nothing else while that runs — A aborts it",
        v.rollout.target(),
        v.rollout.progress()
    )));
    true
}

/// The version a shift moves traffic to: the alias's extra version if it has one, else the
/// newest published version above its main one (the rollout rule).
fn second_version(alias: &AliasInfo, versions: &[String]) -> Result<String, String> {
    crate::ops::rollout::next_version(alias, versions)
}

/// Starts an action on the focused function.
pub fn start(state: &mut State, action: Action, effects: &mut Vec<Effect>) {
    let Some(kind) = kind_of(action) else {
        return;
    };
    if action == Action::Undo {
        super::batch::undo(state, None, effects);
        return;
    }
    if !state.marks.is_empty() && super::batch::batchable(kind) {
        // The value they all have now, when they share one (as one row's input opens with
        // its own); else the usual start.
        let marked = super::batch::marked(state);
        if let Some(refusal) = super::batch::refused_everywhere(state, &marked, kind) {
            state.popup = Some(Popup::Notice(refusal));
            return;
        }
        let shared = |value: &dyn Fn(&crate::provider::FunctionInfo) -> String| {
            let values: Vec<String> = marked
                .iter()
                .filter_map(|(r, name)| state.regions.get(*r)?.function(name))
                .map(|f| value(&f.info))
                .collect();
            values
                .first()
                .filter(|v| values.iter().all(|w| w == *v))
                .cloned()
        };
        match action {
            Action::Shift => {
                let weight = shared(&|i| {
                    i.aliases
                        .first()
                        .and_then(|a| a.additional_weights.first())
                        .map_or("0".to_string(), |(_, w)| format!("{w}"))
                });
                state.input = Some(Input::Weight(weight.unwrap_or_default()));
            }
            Action::Concurrency => {
                let current = shared(&|i| {
                    i.reserved_concurrency
                        .map_or("none".to_string(), |n| n.to_string())
                });
                state.input = Some(Input::Concurrency(current.unwrap_or_default()));
            }
            Action::Backup => propose_backup(state, super::batch::marked(state)),
            _ => super::batch::start_marked(state, action, super::batch::Given::Nothing, effects),
        }
        return;
    }
    let Some((region, function)) = state.focus().map(|(r, f)| (r, f.info.name.clone())) else {
        state.popup = Some(Popup::Notice("select a function first".into()));
        return;
    };
    let scope = state.regions[region].scope.clone();
    if let Err(e) = authorize(
        scope.access.tier,
        kind.needs(),
        &format!("{} in {scope}", kind.title()),
    ) {
        state.popup = Some(Popup::Notice(e.to_string()));
        return;
    }
    if let Some(why) = state.refused_elsewhere(region, kind.needs(), &kind.title()) {
        state.popup = Some(Popup::Notice(why));
        return;
    }
    let request = match action {
        Action::Invoke => {
            state.invoke_qualifier = None;
            state.input = Some(Input::Payload("{}".into()));
            return;
        }
        Action::Shift => {
            let Some((_, _, alias, versions)) = focus_alias(state) else {
                state.popup = Some(Popup::Notice(no_alias(state, " to shift", effects)));
                return;
            };
            if let Err(e) = second_version(&alias, &versions) {
                state.popup = Some(Popup::Notice(format!("{function}:{}: {e}", alias.name)));
                return;
            }
            if rollout_holds(state, region, &function, &alias.name) {
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
        Action::Promote | Action::Rollback | Action::Pin => {
            let Some((_, _, alias, _)) = focus_alias(state) else {
                state.popup = Some(Popup::Notice(no_alias(state, "", effects)));
                return;
            };
            if rollout_holds(state, region, &function, &alias.name) {
                return;
            }
            let alias = alias.name;
            match action {
                Action::Promote => Request::Promote { function, alias },
                Action::Rollback => Request::Rollback { function, alias },
                _ => Request::Pin { function, alias },
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
        Action::Revive => Request::Revive { function },
        Action::Trigger => {
            let Some(pane) = state.trigger_pane.as_ref() else {
                state.popup = Some(Popup::Notice(format!(
                    "open a function ({}) to see and pause its triggers",
                    state.keymap.first_key(Action::Open)
                )));
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
            propose_backup(state, vec![(region, function)]);
            return;
        }
        Action::Rollout => {
            let Some((_, _, alias, versions)) = focus_alias(state) else {
                state.popup = Some(Popup::Notice(no_alias(state, " to move", effects)));
                return;
            };
            if let Err(e) = second_version(&alias, &versions) {
                state.popup = Some(Popup::Notice(format!("{function}:{}: {e}", alias.name)));
                return;
            }
            state.input = Some(Input::Preset("Canary10Percent5Minutes".into()));
            return;
        }
        Action::AbortRollout | Action::ResumeRollout => {
            super::rollouts::propose(state, region, &function, action, effects);
            return;
        }
        _ => return,
    };
    effects.push(Effect::Prepare {
        region,
        request: Box::new(request),
    });
}

/// `b`: one backup run over the functions given (the selected one, or the marked ones), asked
/// once with every function and scope listed.
pub(super) fn propose_backup(state: &mut State, functions: Vec<(usize, String)>) {
    if state.backup.is_some() {
        state.popup = Some(Popup::Notice("a backup is running".into()));
        return;
    }
    let Some((to, storage_class)) = state.backup_target.clone() else {
        state.popup = Some(Popup::Notice(
            "no backup location: set to = \"s3://BUCKET/PREFIX\" under [backup] in the config file"
                .into(),
        ));
        return;
    };
    let mut targets: Vec<(usize, Vec<String>)> = Vec::new();
    for (region, name) in functions {
        match targets.iter_mut().find(|(r, _)| *r == region) {
            Some((_, names)) => names.push(name),
            None => targets.push((region, vec![name])),
        }
    }
    let Some(first) = targets.first().map(|(r, _)| *r) else {
        return;
    };
    let mut lines: Vec<String> = targets
        .iter()
        .filter_map(|(r, names)| {
            let scope = &state.regions.get(*r)?.scope;
            Some(crate::ops::backup::backup_line(
                &names.join(", "),
                scope,
                &to,
                &storage_class,
            ))
        })
        .collect();
    lines.extend(crate::ops::backup::thaw_note(&storage_class));
    if state.display.demo {
        lines.push("demo: nothing is written".into());
    }
    let proposal = Proposal::Backup {
        targets,
        to,
        storage_class,
    };
    state.popup = Some(Popup::Confirm(Pending::new(state, first, proposal, lines)));
}

/// The prompt of an input, naming its target and what it holds now.
pub fn input_prompt(state: &State, input: &Input) -> String {
    if matches!(input, Input::ServiceWeight(_)) {
        return super::services::weight_prompt(state);
    }
    let marked = super::batch::marked(state).len();
    if marked > 0 {
        match input {
            Input::Weight(_) => {
                return format!(
                    " {marked} marked · weight of each alias's second version (0.1 or 10%): "
                );
            }
            Input::Concurrency(_) => {
                return format!(" {marked} marked · reserved concurrency (or none): ");
            }
            _ => {}
        }
    }
    let focus = state.focus().map(|(r, f)| (r, f.info.name.clone()));
    let scope = focus
        .as_ref()
        .and_then(|(r, _)| state.regions.get(*r))
        .map(|r| r.scope.to_string())
        .unwrap_or_default();
    let name = focus.map(|(_, n)| n).unwrap_or_default();
    match input {
        Input::Weight(_) | Input::Preset(_) => {
            let Some((region, function, alias, versions)) = focus_alias(state) else {
                return String::new();
            };
            let label = alias_label(state, region, &function, &alias);
            let next = second_version(&alias, &versions).unwrap_or_default();
            if matches!(input, Input::Weight(_)) {
                format!(" {label} · weight of v{next} (0.1 or 10%): ")
            } else {
                // A rollout acts on one alias: marks are not rolled out, and said so.
                let marks = match marked {
                    0 => String::new(),
                    n => format!(" (this row only, not the {n} marked)"),
                };
                format!(" {label} → v{next}{marks} · preset: ")
            }
        }
        Input::Concurrency(_) => {
            let now = state
                .focus()
                .and_then(|(_, f)| f.info.reserved_concurrency)
                .map_or("none".to_string(), |n| n.to_string());
            format!(" {name} @ {scope} reserved {now} · new (or none): ")
        }
        Input::Payload(_) => {
            let target = match &state.invoke_qualifier {
                Some(q) => format!("{name}:{q}"),
                None => name,
            };
            // Invoke acts on one function: marks are not invoked, and said so.
            let marks = match marked {
                0 => String::new(),
                n => format!(" (this row only, not the {n} marked)"),
            };
            format!(" invoke {target} @ {scope}{marks} · payload (JSON): ")
        }
        Input::Filter(_) | Input::Palette(_) | Input::ServiceWeight(_) => String::new(),
    }
}

/// The value typed for an action on the marks, or `None` (with the input kept and the error
/// said) when it is not one.
fn marked_value(state: &mut State, input: &Input) -> Option<(Action, super::batch::Given)> {
    use super::batch::Given;
    let parsed = match input {
        Input::Weight(text) => {
            crate::ops::request::parse_weight(text).map(|w| (Action::Shift, Given::Weight(w)))
        }
        Input::Concurrency(text) => crate::ops::request::parse_concurrency(text)
            .map(|v| (Action::Concurrency, Given::Concurrency(v))),
        _ => return None,
    };
    match parsed {
        Ok(given) => Some(given),
        Err(e) => {
            state.input_error = Some(e.to_string());
            state.input = Some(input.clone());
            None
        }
    }
}

/// Tab in the payload editor: the next qualifier to invoke (none, each alias, each version).
pub fn next_qualifier(state: &mut State) {
    let Some((_, f)) = state.focus() else { return };
    let mut choices: Vec<Option<String>> = vec![None];
    choices.extend(f.info.aliases.iter().map(|a| Some(a.name.clone())));
    choices.extend(f.info.versions.iter().map(|v| Some(v.clone())));
    let at = choices
        .iter()
        .position(|c| *c == state.invoke_qualifier)
        .unwrap_or(0);
    state.invoke_qualifier = choices[(at + 1) % choices.len()].clone();
}

/// Enter in the payload or weight input: validate, then ask the runtime to prepare.
pub fn submit(state: &mut State, input: Input, effects: &mut Vec<Effect>) {
    if let Input::ServiceWeight(text) = input {
        super::services::submit_weight(state, text, effects);
        return;
    }
    if !state.marks.is_empty()
        && let Some((action, given)) = marked_value(state, &input)
    {
        state.input_error = None;
        super::batch::start_marked(state, action, given, effects);
        return;
    }
    if state.input.is_some() {
        return;
    }
    let Some((region, function)) = state.focus().map(|(r, f)| (r, f.info.name.clone())) else {
        return;
    };
    let request = match input {
        Input::Payload(text) => {
            if let Err(e) = crate::ops::payload::check_json(&text, "the payload", "") {
                state.input_error = Some(e);
                state.input = Some(Input::Payload(text));
                return;
            }
            let request = Request::Invoke(InvokeRequest {
                function,
                qualifier: state.invoke_qualifier.clone(),
                payload: text.clone().into_bytes(),
                asynchronous: false,
                wait_secs: None,
            });
            // Refused as the ops layer refuses it (too large): the payload stays to be mended.
            if let Err(e) = request.validate() {
                state.input_error = Some(e.to_string());
                state.input = Some(Input::Payload(text));
                return;
            }
            request
        }
        Input::Weight(text) => {
            let Some((_, _, alias, versions)) = focus_alias(state) else {
                return;
            };
            let version = second_version(&alias, &versions).unwrap_or_default();
            let weight = match crate::ops::request::parse_weight(&text) {
                Ok(w) => w,
                Err(e) => {
                    state.input_error = Some(e.to_string());
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
            let value = match crate::ops::request::parse_concurrency(&text) {
                Ok(v) => v,
                Err(e) => {
                    state.input_error = Some(e.to_string());
                    state.input = Some(Input::Concurrency(text));
                    return;
                }
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
                    crate::ops::rollout::PRESETS.join(", ")
                ));
                state.input = Some(Input::Preset(text));
                return;
            };
            let to = match second_version(&alias, &versions) {
                Ok(v) => v,
                Err(e) => {
                    state.input_error = Some(e);
                    state.input = Some(Input::Preset(text));
                    return;
                }
            };
            // The ops layer adds the function's own alarms, read as it starts (as for the CLI).
            let guard = crate::ops::rollout::Guard::from_config(&state.guards, Vec::new());
            let spec = crate::ops::rollout::RolloutSpec {
                function,
                alias: alias.name,
                to,
                steps,
                guard,
                function_alarms: state.guards.function_alarms,
            };
            state.input_error = None;
            effects.push(Effect::PrepareRollout {
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
