//! Marks and batches in the dashboard. `space` marks a row, `*` every row the filter shows,
//! `esc` clears them; an action key with marks acts on every marked function, and in an
//! action's confirmation `tab` widens it to every region where the function exists. Either way
//! the ops layer's batch previews each target (skipping, with why, what cannot take it), one
//! confirmation covers them, and the results land one by one in the batch popup.

use super::confirm::{Pending, Proposal};
use super::{Action, Effect, Popup, State};
use crate::ops::batch::{Batch, Landed, Target};
use crate::ops::{Kind, OpsError, Request};
use crate::provider::AliasInfo;

/// A batch running or done: its preview and each result as it landed.
#[derive(Debug, Clone, PartialEq)]
pub struct BatchRun {
    pub batch: Batch,
    pub landed: Vec<Landed>,
    /// The marks it was asked for (none for an undo): a trigger's change names its rule, not
    /// the function, so these say which marks a trigger batch acted on.
    pub marked: Vec<(usize, String)>,
    /// The first row shown of a list longer than the screen (↑ ↓ PgUp PgDn move it).
    pub scroll: usize,
}

impl BatchRun {
    /// Whether a mark stays after this batch: its function's change failed or was not sent.
    /// A trigger's change names its rule: a failed one keeps the marks of the functions it
    /// invokes (its targets, what it connects), or every mark of its region when those were
    /// not read (their retry previews again; what is done already is skipped). `same`: whether
    /// two regions reach the same functions (a marked row of one profile acted on through the
    /// strictest of its account there, `State::same_account`).
    pub fn keeps(&self, mark: &(usize, String), same: &dyn Fn(usize, usize) -> bool) -> bool {
        self.landed
            .iter()
            .filter(|(_, result)| result.is_err())
            .filter_map(|(i, _)| {
                let item = self.batch.items.get(*i)?;
                Some((item.source(), item.plan()?))
            })
            .any(|(region, plan)| {
                if !same(region, mark.0) {
                    return false;
                }
                if matches!(plan.change, crate::ops::Change::Trigger { .. }) {
                    let states = [&plan.before, &plan.after];
                    return crate::ops::trigger_plan::invokes(states, &mark.1).unwrap_or(true);
                }
                let target = plan.target.as_str();
                target.split_once(':').map_or(target, |(f, _)| f) == mark.1
            })
    }

    /// Whether a mark goes after this batch: the batch had a target on it (its function in its
    /// region; for a trigger, which names its rule, a mark the batch was asked for in its
    /// region) and did not keep it. Marks the batch never touched (an undo of something else,
    /// a rule's included) stay.
    pub fn clears(&self, mark: &(usize, String), same: &dyn Fn(usize, usize) -> bool) -> bool {
        // One row's action widened with `tab` was not asked of the marks: it leaves them, also
        // on the function it acted on (an undo clears those it took back).
        if self.keeps(mark, same) || (self.batch.action != "undo" && !self.marked.contains(mark)) {
            return false;
        }
        self.batch.items.iter().any(|item| {
            let target = match item {
                crate::ops::batch::Item::Ready { plan, .. } => plan.target.as_str(),
                crate::ops::batch::Item::Skipped { target, .. } => target.as_str(),
            };
            let trigger = target.starts_with("rule/") || target.starts_with("mapping/");
            same(item.source(), mark.0)
                && match trigger {
                    true => self.marked.contains(mark),
                    false => target.split_once(':').map_or(target, |(f, _)| f) == mark.1,
                }
        })
    }

    /// Every target that was sent has answered.
    pub fn done(&self) -> bool {
        self.landed.len()
            >= self
                .batch
                .items
                .iter()
                .filter(|i| i.plan().is_some())
                .count()
    }
}

/// A batch no marked row's scope may take: refused once, before any value is asked or any
/// target read (as the CLI refuses before connecting), instead of once per target.
pub(super) fn refused_everywhere(
    state: &State,
    marked: &[(usize, String)],
    kind: Kind,
) -> Option<String> {
    let mut scopes: Vec<&crate::provider::Scope> = marked
        .iter()
        .filter_map(|(r, _)| state.regions.get(*r).map(|reg| &reg.scope))
        .collect();
    scopes.dedup();
    // One mode for all (scopes of different modes are each named in the batch's list).
    let tier = scopes.first()?.access.tier;
    if scopes.iter().any(|s| s.access.tier != tier) {
        return None;
    }
    let places = match scopes.as_slice() {
        [one] => one.to_string(),
        many => many
            .iter()
            .map(ToString::to_string)
            .collect::<Vec<_>>()
            .join(", "),
    };
    let what = format!(
        "{} of {} in {places}",
        kind.title(),
        crate::format::items(marked.len() as u64, "marked function", "marked functions")
    );
    crate::ops::authorize(tier, kind.needs(), &what)
        .err()
        .map(|e| e.to_string())
}

/// The kinds of change a batch can carry (marks or "everywhere").
pub fn batchable(kind: Kind) -> bool {
    matches!(
        kind,
        Kind::TrafficSet
            | Kind::TrafficPromote
            | Kind::TrafficRollback
            | Kind::TrafficPin
            | Kind::Concurrency
            | Kind::Kill
            | Kind::Revive
            | Kind::Trigger
            | Kind::Backup
    )
}

/// The kinds of change `tab` in a confirmation widens to every region with the function: the
/// batchable ones, and an invoke (its payload is already typed, as the CLI's `--regions`).
pub fn widenable(kind: Kind) -> bool {
    batchable(kind) || kind == Kind::Invoke
}

/// The marked functions that are still in the fleet, as (region, name), in region order.
pub fn marked(state: &State) -> Vec<(usize, String)> {
    state
        .marks
        .iter()
        .filter(|(r, name)| {
            state
                .regions
                .get(*r)
                .and_then(|reg| reg.function(name))
                .is_some()
        })
        .cloned()
        .collect()
}

pub fn is_marked(state: &State, region: usize, name: &str) -> bool {
    state.marks.contains(&(region, name.to_string()))
}

/// `space`: marks or unmarks the selected row, and moves to the next one.
pub fn toggle(state: &mut State) {
    let Some((region, f)) = state.focus() else {
        return;
    };
    let key = (region, f.info.name.clone());
    if !state.marks.remove(&key) {
        state.marks.insert(key);
    }
    if matches!(state.view, super::View::Fleet | super::View::Load) {
        super::keys::move_by(state, 1);
    }
}

/// `*`: marks every row the filter shows (or unmarks them all when they all are marked).
pub fn mark_all(state: &mut State) {
    let shown: Vec<(usize, String)> = state
        .rows
        .iter()
        .filter_map(|(r, f)| {
            let name = state.regions.get(*r)?.functions.get(*f)?.info.name.clone();
            Some((*r, name))
        })
        .collect();
    if shown.iter().all(|k| state.marks.contains(k)) {
        for k in &shown {
            state.marks.remove(k);
        }
    } else {
        state.marks.extend(shown);
    }
}

/// What the action asks of each marked function, given the value typed for it (a weight or a
/// concurrency) when it needs one.
#[derive(Debug, Clone, Copy, PartialEq)]
pub enum Given {
    Nothing,
    Weight(f64),
    Concurrency(Option<i32>),
}

/// An alias as this copy's last read has it, with the function's published versions.
type AliasRead = (AliasInfo, Vec<String>);

/// The alias a function's traffic keys act on (`a` chooses it), with its state and the
/// function's versions when this copy's last read has it, or why there is none. An alias the
/// last read here lacks is still named — the one `a` chose, else the one the function's other
/// copies offer — and the ops layer reads it fresh: one created since is found, one missing is
/// skipped in the core's words (as the CLI says it), never decided from a read minutes old.
fn first_alias(
    state: &State,
    region: usize,
    name: &str,
) -> Result<(String, Option<AliasRead>), String> {
    let f = state
        .regions
        .get(region)
        .and_then(|r| r.function(name))
        .ok_or_else(|| format!("{name} is gone from this region"))?;
    if let Some(why) = f.info.unpublished() {
        return Err(format!("it has {why}"));
    }
    if let Ok(Some(a)) = super::alias_choice::chosen(state, &f.info.aliases, name) {
        return Ok((a.name.clone(), Some((a.clone(), f.info.versions.clone()))));
    }
    let named = state.alias_choice.get(name).cloned().or_else(|| {
        state
            .regions
            .iter()
            .filter_map(|r| r.function(name))
            .find_map(|g| {
                super::alias_choice::chosen(state, &g.info.aliases, name)
                    .ok()
                    .flatten()
                    .map(|a| a.name.clone())
            })
    });
    match named {
        Some(alias) => Ok((alias, None)),
        None if f.info.not_read.aliases || f.info.not_read.details => {
            Err("its aliases are not read yet (open it, or wait a moment)".into())
        }
        None => Err("it has no alias".into()),
    }
}

/// One target of an action on the marks.
fn target_of(state: &State, action: Action, given: Given, region: usize, name: &str) -> Target {
    let function = name.to_string();
    let skip = |why: String| Target::Skip(region, function.clone(), OpsError::Invalid(why));
    let request = match (action, given) {
        (Action::Kill, _) => Request::Kill { function },
        (Action::Revive, _) => Request::Revive { function },
        (Action::Concurrency, Given::Concurrency(value)) => {
            Request::SetConcurrency { function, value }
        }
        (Action::Promote | Action::Rollback | Action::Pin | Action::Shift, _) => {
            let (alias_name, read) = match first_alias(state, region, name) {
                Ok(found) => found,
                Err(why) => return skip(why),
            };
            match (action, given) {
                (Action::Promote, _) => Request::Promote {
                    function,
                    alias: alias_name,
                },
                (Action::Rollback, _) => Request::Rollback {
                    function,
                    alias: alias_name,
                },
                (Action::Pin, _) => Request::Pin {
                    function,
                    alias: alias_name,
                },
                // The version to shift to is the next of what this copy's alias runs: not
                // known without it in the last read (another region's may differ).
                (_, Given::Weight(_)) if read.is_none() => {
                    return Target::Skip(
                        region,
                        format!("{name}:{alias_name}"),
                        OpsError::Invalid(format!(
                            "alias {alias_name} was not there at the last read of this region: \
                             {} reads it again",
                            state.keymap.first_key(Action::Refresh)
                        )),
                    );
                }
                (_, Given::Weight(weight)) => {
                    let Some((alias, versions)) = read else {
                        return skip("nothing given".into());
                    };
                    match crate::ops::rollout::next_version(&alias, &versions) {
                        Ok(version) => Request::SetWeight {
                            function,
                            alias: alias_name,
                            version,
                            weight,
                        },
                        Err(why) => {
                            return Target::Skip(
                                region,
                                format!("{name}:{alias_name}"),
                                OpsError::Invalid(why),
                            );
                        }
                    }
                }
                _ => return skip("nothing given".into()),
            }
        }
        _ => return skip(format!("{} does not run on marks", action.name())),
    };
    Target::Ask(region, request)
}

/// An action key with marks: every marked function becomes a target of one batch.
pub fn start_marked(state: &mut State, action: Action, given: Given, effects: &mut Vec<Effect>) {
    let marked = marked(state);
    state.batch_of_marks = true;
    if marked.is_empty() {
        state.marks.clear();
        state.popup = Some(Popup::Notice(
            "the marked functions are gone from the fleet: marks cleared".into(),
        ));
        return;
    }
    if action == Action::Trigger {
        state.popup = Some(Popup::Working(format!(
            "reading the triggers of {} marked function(s)…",
            marked.len()
        )));
        effects.push(Effect::PrepareTriggerBatch { functions: marked });
        return;
    }
    let targets = marked
        .iter()
        .map(|(r, name)| target_of(state, action, given, *r, name))
        .collect();
    state.popup = Some(Popup::Working(format!(
        "previewing {} on {} marked function(s)…",
        action.name(),
        marked.len()
    )));
    effects.push(Effect::PrepareBatch { targets });
}

/// `tab` in an action's confirmation: the same request in every region where the function
/// exists.
pub fn everywhere(state: &mut State, pending: Pending, effects: &mut Vec<Effect>) {
    // One row's action widened: the marks are not what it acts on, and stay.
    state.batch_of_marks = false;
    let Some(request) = pending.request.clone() else {
        state.popup = Some(Popup::Confirm(pending));
        return;
    };
    let Some(function) = request.function().map(str::to_string) else {
        state.popup = Some(Popup::Confirm(pending));
        return;
    };
    // Asked of the core in every region with the function, even where the last read had no
    // such alias: it reads the alias fresh (one created since is found; one missing is skipped
    // in its words, as the CLI says it). A region whose functions were not read whole (never
    // answered, failing, still loading) is asked too: left out, "every region" would be a
    // claim the preview could not make.
    let targets: Vec<Target> = everywhere_scopes(state, &function)
        .into_iter()
        .map(|i| Target::Ask(i, (*request).clone()))
        .collect();
    state.popup = Some(Popup::Working(format!(
        "previewing {} in every region where {function} exists…",
        request.kind().title()
    )));
    effects.push(Effect::PrepareBatch { targets });
}

/// The regions `tab` asks for `function`: those with it, and those whose functions were not
/// read whole (see [`everywhere`]).
pub fn everywhere_scopes(state: &State, function: &str) -> Vec<usize> {
    (state.regions.iter().enumerate())
        .filter(|(_, region)| region.function(function).is_some() || !region.functions_known())
        .map(|(i, _)| i)
        .collect()
}

/// The ops layer previewed a batch: ask once for all of it (or say why there is nothing to do).
pub fn prepared(state: &mut State, result: Result<Batch, String>) {
    let batch = match result {
        Ok(b) => b,
        Err(why) => {
            state.popup = Some(Popup::Notice(why));
            return;
        }
    };
    let mut lines = batch.lines();
    // Marks a filter hides are acted on too: said, so that none is a surprise.
    let hidden = marked(state)
        .iter()
        .filter(|(r, name)| {
            !state.rows.iter().any(|(rr, f)| {
                rr == r
                    && state.regions[*rr]
                        .functions
                        .get(*f)
                        .is_some_and(|f| f.info.name == *name)
            })
        })
        .count();
    if hidden > 0 && !state.filter.is_empty() {
        lines.insert(
            1.min(lines.len()),
            format!(
                "{hidden} of the marked functions are hidden by the filter '{}', and are \
                 targets too",
                state.filter
            ),
        );
    }
    if batch.changes().next().is_none() {
        state.popup = Some(Popup::Notice(lines.join("\n")));
        return;
    }
    let region = batch.items.first().map(|i| i.source()).unwrap_or(0);
    let danger = super::confirm::danger(&batch.action);
    let mut pending = Pending::new(state, region, Proposal::Batch(Box::new(batch)), lines);
    if pending.warning.is_none() {
        pending.warning = danger.map(str::to_string);
    }
    state.popup = Some(Popup::Confirm(pending));
}

/// One target of a running batch answered; when the last one has, the fleet is re-read and the
/// marks it acted on are cleared.
pub fn landed(state: &mut State, batch: &str, landed: Landed, effects: &mut Vec<Effect>) {
    let Some(run) = state.batch_run.as_mut().filter(|r| r.batch.id == batch) else {
        return;
    };
    if let (Ok(outcome), Some(plan)) = (
        &landed.1,
        run.batch.items.get(landed.0).and_then(|i| i.plan()),
    ) && let (Some((function, alias)), Some((main, extra))) = (
        plan.target.split_once(':'),
        crate::ops::routing_of(&outcome.after),
    ) && matches!(plan.change, crate::ops::Change::Route { .. })
    {
        let region = run.batch.items[landed.0].source();
        let (function, alias) = (function.to_string(), alias.to_string());
        run.landed.push(landed);
        super::outcome::set_alias(state, region, &function, &alias, main, extra);
    } else {
        run.landed.push(landed);
    }
    if let Some(run) = state.batch_run.as_ref().filter(|r| r.done()) {
        // Marks acted on are done with; those whose change is not known to have landed stay
        // marked, so the same key retries them (previewed again, as the state is now).
        let same = |a: usize, b: usize| state.same_account(a, b);
        let cleared: Vec<(usize, String)> = (state.marks.iter())
            .filter(|m| run.clears(m, &same))
            .cloned()
            .collect();
        state.marks.retain(|m| !cleared.contains(m));
        effects.push(Effect::RefreshInventory);
        // A batch or an undo in the services view: the weights it wrote show at once.
        if state.view == super::View::Services {
            super::services::read(state, effects);
        }
        // A trigger a batch (or an undo) paused or resumed: the detail view reads them again.
        if let Some(pane) = state.trigger_pane.as_mut() {
            pane.reload = true;
        }
        // Hidden while it ran: what it did shows now, unless something else is open.
        if state.popup.is_none() && state.input.is_none() {
            state.popup = Some(Popup::Batch);
        }
    }
}

/// `u`: undo the last action (a batch as a whole), previewed and confirmed like any batch.
/// `only`: the records of the batch a finished batch's popup offers to undo — those, or
/// nothing.
pub fn undo(state: &mut State, only: Option<Vec<String>>, effects: &mut Vec<Effect>) {
    if state.batch_run.as_ref().is_some_and(|r| !r.done()) {
        state.popup = Some(Popup::Notice(
            "a batch is still running: undo it once every target answered".into(),
        ));
        return;
    }
    state.popup = Some(Popup::Working("reading the audit log…".into()));
    effects.push(Effect::Undo {
        anywhere: !state.display.narrowed,
        services: state.services.services.clone(),
        only,
    });
}

/// A batch's list pages with ↑ ↓ PgUp PgDn, running or done (the drawing stops at its last
/// page). Whether `key` moved it.
pub(super) fn scrolled(state: &mut State, key: &crossterm::event::KeyEvent) -> bool {
    use crossterm::event::KeyCode;
    // Half the rows the list has (an entry may wrap to two): a page never skips one unseen.
    let rows = usize::from(state.size.1.saturating_sub(10)).max(1);
    let page = (rows / 2).max(1);
    let (Some(Popup::Batch), Some(run)) = (&state.popup, state.batch_run.as_mut()) else {
        return false;
    };
    // No further than where the last page starts at one row an entry (the drawing stops
    // there): Up then moves at once.
    let most = run.batch.items.len().saturating_sub(rows);
    run.scroll = match key.code {
        KeyCode::Down => (run.scroll + 1).min(most),
        KeyCode::PageDown => (run.scroll + page).min(most),
        KeyCode::Up => run.scroll.saturating_sub(1),
        KeyCode::PageUp => run.scroll.saturating_sub(page),
        _ => return false,
    };
    true
}
