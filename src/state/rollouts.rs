//! The rollouts a row reaches, and `A` / `U` on them.

use super::actions::RolloutView;
use super::alias_choice::focus_alias;
use super::{Action, Effect, Popup, State};

/// Resume or abort asks first, like every change: the ops layer reads the alias and says what
/// it goes to (`Msg::RolloutPreviewed`), as the CLI says it.
pub(super) fn propose(
    state: &mut State,
    region: usize,
    function: &str,
    action: Action,
    effects: &mut Vec<Effect>,
) {
    let (of_function, found) = focus_rollouts(state, region, function);
    let found = found.cloned();
    if found.is_none() && of_function.len() > 1 {
        let aliases: Vec<&str> = of_function
            .iter()
            .map(|p| p.rollout.alias.as_str())
            .collect();
        state.popup = Some(Popup::Notice(format!(
            "{function} has rollouts on {}: {} picks the alias to act on",
            aliases.join(", "),
            state.keymap.first_key(Action::Alias)
        )));
        return;
    }
    let Some(view) = found else {
        state.popup = Some(Popup::Notice(format!(
            "no rollout of {function} here: select the function whose rollout to act on (one \
             run under a profile this dashboard does not read is acted on there: `lops traffic \
             plans` lists them)"
        )));
        return;
    };
    let abort = action == Action::AbortRollout;
    if !abort && view.running {
        state.popup = Some(Popup::Notice(format!(
            "the rollout of {} is running",
            view.rollout.target()
        )));
        return;
    }
    effects.push(Effect::PreviewRollout {
        region: view.region,
        rollout: Box::new(view.rollout),
        abort,
    });
}

/// The rollout `A` and `U` act on from the selected row: its function's, the chosen alias's
/// when it has several (shown on the rollout line, so the line and the key agree).
pub fn rollout_of_focus(state: &State) -> Option<&RolloutView> {
    let (region, function) = state.focus().map(|(r, f)| (r, f.info.name.clone()))?;
    focus_rollouts(state, region, &function).1
}

/// The rollouts of `function` as the row in `regions[region]` reaches it — under its own
/// profile or another of its account there (a rollout starts through the strictest of them) —
/// and the one `A` and `U` act on: the only one, or the chosen alias's among several.
fn focus_rollouts<'a>(
    state: &'a State,
    region: usize,
    function: &str,
) -> (Vec<&'a RolloutView>, Option<&'a RolloutView>) {
    let of_function: Vec<&RolloutView> = (state.rollouts.iter())
        .filter(|p| state.same_account(region, p.region) && p.rollout.function == function)
        .collect();
    // Several aliases of it under rollouts: the one its traffic keys act on (`a` picks it).
    let chosen = focus_alias(state).map(|(_, _, alias, _)| alias.name);
    let found = match of_function[..] {
        [one] => Some(one),
        _ => (of_function.iter().copied()).find(|p| Some(&p.rollout.alias) == chosen.as_ref()),
    };
    (of_function, found)
}
