//! Which alias the dashboard's traffic keys (`t` `P` `B` `L` `C` `A` `U`) act on, per function
//! name: the one `a` chose, else the first that points at a published version (an alias on
//! `$LATEST` has no version to shift to), else the first. The CLI names its alias; this is the
//! dashboard's way to name one.

use super::{Effect, Popup, State};
use crate::provider::AliasInfo;

/// The alias the traffic keys act on among `aliases` (one region's copy of `name`): `Ok(None)`
/// when it has none (or they are not read yet), `Err` when `a` chose one this copy lacks —
/// never another alias in its place.
pub fn chosen<'a>(
    state: &State,
    aliases: &'a [AliasInfo],
    name: &str,
) -> Result<Option<&'a AliasInfo>, String> {
    if aliases.is_empty() {
        return Ok(None);
    }
    match state.alias_choice.get(name) {
        Some(choice) => match aliases.iter().find(|a| a.name == *choice) {
            Some(alias) => Ok(Some(alias)),
            None => Err(format!(
                "has no alias '{choice}' here (the one {} chose): {} picks one of its own",
                state.keymap.first_key(super::Action::Alias),
                state.keymap.first_key(super::Action::Alias)
            )),
        },
        None => Ok(aliases
            .iter()
            .find(|a| a.function_version != "$LATEST")
            .or(aliases.first())),
    }
}

/// `a`: the focused function's next alias becomes the one its traffic keys act on, said with
/// the others it has.
pub fn next(state: &mut State, effects: &mut Vec<Effect>) {
    let Some((_, f)) = state.focus() else {
        return;
    };
    let name = f.info.name.clone();
    let names: Vec<String> = f.info.aliases.iter().map(|a| a.name.clone()).collect();
    if names.is_empty() {
        let why = no_alias(state, " to choose", effects);
        state.popup = Some(Popup::Notice(why));
        return;
    }
    let now = chosen(state, &f.info.aliases, &name)
        .ok()
        .flatten()
        .map(|a| a.name.clone());
    let at = match now.and_then(|n| names.iter().position(|a| *a == n)) {
        Some(i) => (i + 1) % names.len(),
        None => 0,
    };
    state.alias_choice.insert(name.clone(), names[at].clone());
    let keys: Vec<String> = [
        super::Action::Shift,
        super::Action::Promote,
        super::Action::Rollback,
        super::Action::Pin,
        super::Action::Rollout,
        super::Action::AbortRollout,
        super::Action::ResumeRollout,
    ]
    .iter()
    .map(|a| state.keymap.first_key(*a))
    .collect();
    state.popup = Some(Popup::Notice(format!(
        "{} now act on {name}:{} ({} of {}: {}), in every region and in marks",
        keys.join(" "),
        names[at],
        at + 1,
        names.len(),
        names.join(", ")
    )));
}

/// The alias the focused function's traffic keys act on, with its published versions.
pub(super) fn focus_alias(state: &State) -> Option<(usize, String, AliasInfo, Vec<String>)> {
    let (region, f) = state.focus()?;
    let alias = chosen(state, &f.info.aliases, &f.info.name).ok()??;
    Some((
        region,
        f.info.name.clone(),
        alias.clone(),
        f.info.versions.clone(),
    ))
}

/// Why the focused function offers no alias: it has none, or its aliases are not read yet (then
/// they are read now, so the same key works a moment later).
pub(super) fn no_alias(state: &State, what: &str, effects: &mut Vec<Effect>) -> String {
    let Some((region, f)) = state.focus() else {
        return String::new();
    };
    let name = f.info.name.clone();
    if let Err(why) = chosen(state, &f.info.aliases, &name) {
        format!("{name} {why}")
    } else if let Some(why) = f.info.unpublished() {
        format!("{name} has {why}")
    } else if f.info.not_read.aliases || f.info.not_read.details {
        effects.push(Effect::Extras {
            region,
            function: name.clone(),
            want: f.info.extras_wanted(true),
        });
        format!(
            "{name}'s aliases are not read yet: reading them now, press the key again in a moment"
        )
    } else {
        format!("{name} has no alias{what}")
    }
}

/// "orders-api:live @ us-east-1 v1 90% / v2 10%": the target and its weights now, for prompts.
pub(super) fn alias_label(
    state: &State,
    region: usize,
    function: &str,
    alias: &AliasInfo,
) -> String {
    let scope = state
        .regions
        .get(region)
        .map(|r| r.scope.to_string())
        .unwrap_or_default();
    format!(
        "{function}:{} @ {scope} {}",
        alias.name,
        crate::ops::plan::describe_routing(
            &alias.function_version,
            alias.additional_weights.first()
        )
    )
}
