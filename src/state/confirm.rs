//! Confirmation in the dashboard: the proposal a key set up, the preview and the confirmation
//! the ops layer decided for it, and the keys that answer. Nothing runs before a yes (or the
//! typed name).

use crossterm::event::{KeyCode, KeyEvent};

use super::outcome::BackupView;
pub use super::quit::quit;
use super::{Effect, Popup, State};
use crate::ops::rollout::Rollout;
use crate::ops::{Confirmation, OpsError, Plan};

/// What a confirmation would set going.
#[derive(Debug, Clone, PartialEq)]
pub enum Proposal {
    /// An ops plan (invoke, traffic, concurrency, kill, revive, trigger).
    Change(Box<Plan>),
    /// Start, resume or abort a rollout.
    Rollout(Box<Rollout>, RolloutAct),
    /// The same change on several targets: marks, or a function in every region.
    Batch(Box<crate::ops::batch::Batch>),
    /// Back up functions (per region) to the configured location, in one run.
    Backup {
        targets: Vec<(usize, Vec<String>)>,
        to: crate::backup::S3Uri,
        storage_class: String,
    },
    /// Quit while rollouts run (they stop with lops).
    Quit,
}

#[derive(Debug, Clone, PartialEq)]
pub enum RolloutAct {
    Start,
    Resume,
    /// With the alias as its preview showed it.
    Abort(Option<crate::ops::rollout::Routing>),
}

/// A confirmation waiting for the user: what it will do (lines, target first), how it must be
/// confirmed, and what has been typed so far.
#[derive(Debug, Clone, PartialEq)]
pub struct Pending {
    pub region: usize,
    pub proposal: Proposal,
    pub lines: Vec<String>,
    pub confirmation: Confirmation,
    pub typed: String,
    /// Shown in danger style (and it made the confirmation a typed one).
    pub warning: Option<String>,
    /// The scope is a production profile.
    pub production: bool,
    /// The request a change was planned from: `tab` widens it to every region.
    pub request: Option<Box<crate::ops::Request>>,
    /// The first line below the headline shown (↑/↓, PgUp/PgDn move it).
    pub scroll: usize,
    /// Which lines below the headline have been on screen: a confirmation acts only once every
    /// target was shown.
    pub seen: Vec<bool>,
    /// Enter was pressed on a name that is not the one asked for (said until the next key).
    pub mismatch: bool,
    /// Confirmed before every target was shown: held, and said (until the next key).
    pub early: bool,
}

/// Rows and columns a confirmation's lines below its headline have on a screen of `size`
/// (the popup's frame, headline, prompt and hints take the rest).
pub fn body_room((width, height): (u16, u16)) -> (usize, usize) {
    (
        usize::from(height.saturating_sub(9)).max(2),
        usize::from(width.saturating_sub(6)).max(1),
    )
}

impl Pending {
    /// A paste into the typed name: its text, control characters left out; what the last
    /// enter found wrong no longer stands, and is replaced (a name pasted after a refused one
    /// is the answer, not more of it).
    pub(super) fn type_in(&mut self, text: &str) {
        if self.mismatch {
            self.typed.clear();
        }
        self.typed.extend(text.chars().filter(|c| !c.is_control()));
        self.mismatch = false;
    }

    pub(super) fn new(
        state: &State,
        region: usize,
        proposal: Proposal,
        lines: Vec<String>,
    ) -> Self {
        let scope = state.regions.get(region).map(|r| r.scope.clone());
        let mut production = scope.as_ref().is_some_and(|s| s.access.production);
        let (confirmation, warning) = match (&proposal, &scope) {
            // The plan's own scope (a service's home may be no fleet region).
            (Proposal::Change(plan), _) => {
                production = plan.scope.access.production;
                (plan.confirmation(), plan.warning.clone())
            }
            (Proposal::Batch(batch), _) => {
                production = batch.production();
                (batch.confirmation(), batch.warning())
            }
            // Production through another profile of its account too: said as a change's is.
            (Proposal::Rollout(r, _), Some(scope)) => {
                production |= r.production_elsewhere;
                (r.confirmation(scope), None)
            }
            (Proposal::Backup { targets, .. }, _) => {
                let scopes: Vec<_> = targets
                    .iter()
                    .filter_map(|(r, fns)| Some((state.regions.get(*r)?.scope.clone(), fns)))
                    .collect();
                production = scopes.iter().any(|(s, _)| s.access.production);
                let names: Vec<String> = scopes
                    .iter()
                    .flat_map(|(_, fns)| fns.iter().cloned())
                    .collect();
                (
                    crate::ops::backup::backup_confirmation(
                        &names,
                        false,
                        scopes.iter().map(|(s, _)| s),
                    ),
                    None,
                )
            }
            _ => (Confirmation::Yes, None),
        };
        Pending {
            region,
            proposal,
            lines,
            confirmation,
            typed: String::new(),
            warning,
            production,
            request: None,
            scroll: 0,
            seen: Vec::new(),
            mismatch: false,
            early: false,
        }
        .shown_at(state.size)
    }

    /// The lines below the headline on a screen of `size`: (first shown, one past the last),
    /// and whether some are above or below it.
    pub fn window(&self, size: (u16, u16)) -> (usize, usize) {
        let (room, width) = body_room(size);
        let body = self.lines.get(1..).unwrap_or_default();
        let rows = |l: &String| l.chars().count().max(1).div_ceil(width);
        if body.iter().map(rows).sum::<usize>() <= room {
            return (0, body.len());
        }
        // Two rows say what is above and below.
        let room = room.saturating_sub(2).max(1);
        let start = self.scroll.min(body.len().saturating_sub(1));
        let (mut end, mut used) = (start, 0);
        while end < body.len() && (end == start || used + rows(&body[end]) <= room) {
            used += rows(&body[end]);
            end += 1;
        }
        (start, end)
    }

    /// Notes what a screen of `size` shows now (nothing, on a screen too small to draw it).
    pub(super) fn shown_at(mut self, size: (u16, u16)) -> Self {
        let body = self.lines.len().saturating_sub(1);
        self.seen.resize(body, false);
        if size.0 < super::MIN_WIDTH || size.1 < super::MIN_HEIGHT {
            return self;
        }
        let (start, end) = self.window(size);
        for s in &mut self.seen[start..end] {
            *s = true;
        }
        self
    }

    /// Lines below the headline not yet shown.
    pub fn unseen(&self) -> usize {
        let body = self.lines.len().saturating_sub(1);
        body - self.seen.iter().filter(|s| **s).count().min(body)
    }

    /// Shows the last lines: the first line from which they all fit (not the last line alone).
    fn at_end(mut self, size: (u16, u16)) -> Self {
        let body = self.lines.len().saturating_sub(1);
        let last = body.saturating_sub(1);
        let mut scroll = last;
        while scroll > 0 {
            self.scroll = scroll - 1;
            if self.window(size).1 < body {
                break;
            }
            scroll -= 1;
        }
        self.scroll = scroll;
        self.shown_at(size)
    }

    /// Moves the lines shown by `delta` lines.
    fn scrolled(mut self, delta: i64, size: (u16, u16)) -> Self {
        let last = self.lines.len().saturating_sub(2);
        self.scroll = (self.scroll as i64 + delta).clamp(0, last as i64) as usize;
        self.shown_at(size)
    }
}

/// The ops layer built a plan (or refused): show it for confirmation.
pub fn planned(
    state: &mut State,
    region: usize,
    request: Box<crate::ops::Request>,
    result: Result<Plan, OpsError>,
) {
    let widens = super::batch::widenable(request.kind())
        && request
            .function()
            .is_some_and(|f| super::batch::everywhere_scopes(state, f).len() > 1);
    let scope = state
        .regions
        .get(region)
        .map(|r| r.scope.to_string())
        .unwrap_or_default();
    state.popup = Some(match result {
        // An AWS error says nothing of what was being read: the action and its target first.
        Err(OpsError::Provider(e)) => Popup::Notice(crate::ops::batch::unreadable(
            &request.kind().title(),
            // A service's change has no function: its name (it said "the target").
            &request.target(),
            &scope,
            &e,
        )),
        Err(e) => Popup::Notice(e.to_string()),
        // Nothing to do here: said, and where the function is elsewhere, tab still widens it.
        Ok(plan) if plan.change == crate::ops::Change::Nothing && !widens => {
            Popup::Notice(plan.preview())
        }
        Ok(plan) => {
            // Nothing to do here (offered for tab): no danger to warn of here.
            let danger = danger(plan.action).filter(|_| plan.change != crate::ops::Change::Nothing);
            let lines = vec![plan.preview()];
            let mut pending = Pending::new(state, region, Proposal::Change(Box::new(plan)), lines);
            // Offered where there is somewhere else to do it.
            if widens {
                pending.request = Some(request);
            }
            if pending.warning.is_none() {
                pending.warning = danger.map(str::to_string);
            }
            Popup::Confirm(pending)
        }
    });
}

/// What to say in danger style about an action before confirming it.
pub(super) fn danger(action: &str) -> Option<&'static str> {
    (action == "kill").then_some("this stops the function taking traffic")
}

/// The ops layer checked a rollout (or refused): show its preview for confirmation.
pub fn rollout_prepared(state: &mut State, region: usize, result: Result<Rollout, OpsError>) {
    let scope = state
        .regions
        .get(region)
        .map(|r| r.scope.to_string())
        .unwrap_or_default();
    state.popup = Some(match result {
        // An AWS error says nothing of what was being read: what was being started first.
        Err(e @ OpsError::Provider(_)) => Popup::Notice(format!(
            "rollout in {scope}: cannot read its alias for the preview: {e}"
        )),
        Err(e) => Popup::Notice(e.to_string()),
        Ok(r) => {
            let mut lines: Vec<String> = r.preview().lines().map(str::to_string).collect();
            lines.push("the rollout runs only while lops runs: quitting stops it".into());
            Popup::Confirm(Pending::new(
                state,
                region,
                Proposal::Rollout(Box::new(r), RolloutAct::Start),
                lines,
            ))
        }
    });
}

/// Resume or abort, previewed from the alias as read now: asks first, like every change.
pub fn rollout_previewed(
    state: &mut State,
    region: usize,
    rollout: Rollout,
    abort: bool,
    result: Result<(String, crate::ops::rollout::Routing), OpsError>,
) {
    state.popup = Some(match result {
        Err(e @ OpsError::Provider(_)) => Popup::Notice(format!(
            "{} the rollout of {}: cannot read its alias for the preview: {e}",
            if abort { "abort" } else { "resume" },
            rollout.target()
        )),
        Err(e) => Popup::Notice(e.to_string()),
        Ok((text, now)) => {
            let act = if abort {
                RolloutAct::Abort(Some(now))
            } else {
                RolloutAct::Resume
            };
            // The preview says the function's firing alarms the guard does not watch, as read
            // right then (ops), as the CLI shows it.
            let lines: Vec<String> = text.lines().map(str::to_string).collect();
            let proposal = Proposal::Rollout(Box::new(rollout), act);
            Popup::Confirm(Pending::new(state, region, proposal, lines))
        }
    });
}

/// Whether `tab` widens this confirmation: a change the function has elsewhere too, or a backup
/// of one function this dashboard shows in more than one region.
pub fn widens(state: &State, pending: &Pending) -> bool {
    pending.request.is_some() || backup_everywhere(state, pending).is_some_and(|a| a.len() > 1)
}

/// A backup of one function, as every region this dashboard shows it in.
fn backup_everywhere(state: &State, pending: &Pending) -> Option<Vec<(usize, String)>> {
    let Proposal::Backup { targets, .. } = &pending.proposal else {
        return None;
    };
    let [(_, names)] = targets.as_slice() else {
        return None;
    };
    let [name] = names.as_slice() else {
        return None;
    };
    Some(
        (state.regions.iter().enumerate())
            .filter(|(_, r)| r.function(name).is_some())
            .map(|(i, _)| (i, name.clone()))
            .collect(),
    )
}

/// Keys while a confirmation is open: only an explicit yes (or the typed name) acts.
pub fn confirm_key(state: &mut State, pending: Pending, key: KeyEvent, effects: &mut Vec<Effect>) {
    let typed = matches!(pending.confirmation, Confirmation::Typed(_));
    // Alt with a key is what a terminal sends for esc then that key typed fast: a cancel,
    // never the key (a quick esc then y must not confirm).
    if key.modifiers.contains(crossterm::event::KeyModifiers::ALT) {
        state.popup = None;
        return;
    }
    // The keys that answer a confirmation answer it whatever else they are bound to.
    let answers = matches!(
        key.code,
        KeyCode::Char('y' | 'Y' | 'n' | 'N') | KeyCode::Esc | KeyCode::Enter
    );
    // Tab (or the action key again, where no name is typed) widens a change to every region.
    let again = !typed
        && !answers
        && pending.request.as_ref().is_some_and(|r| {
            state
                .keymap
                .action(&key)
                .and_then(super::actions::kind_of)
                .is_some_and(|k| k == r.kind())
        });
    if pending.request.is_some() && (key.code == KeyCode::Tab || again) {
        super::batch::everywhere(state, pending, effects);
        return;
    }
    // A backup of one function widens alike: to every region this dashboard shows it in.
    if !answers
        && (key.code == KeyCode::Tab
            || (!typed && state.keymap.action(&key) == Some(super::keymap::Action::Backup)))
        && let Some(all) = backup_everywhere(state, &pending).filter(|all| all.len() > 1)
    {
        super::actions::propose_backup(state, all);
        return;
    }
    // Every target is shown before any is acted on: ↑/↓ and PgUp/PgDn move through them (a
    // page: the lines shown now, so none is skipped).
    let (start, end) = pending.window(state.size);
    let page = (end - start).max(1) as i64;
    let moved = match key.code {
        KeyCode::Up => Some(-1),
        KeyCode::Down => Some(1),
        KeyCode::PageUp => Some(-page),
        KeyCode::PageDown => Some(page),
        // The first and the last lines (those between stay to be seen before confirming).
        KeyCode::Home => Some(-(pending.lines.len() as i64)),
        _ => None,
    };
    let pending = match moved {
        Some(delta) => {
            let mut pending = pending.scrolled(delta, state.size);
            pending.early = false;
            state.popup = Some(Popup::Confirm(pending));
            return;
        }
        None if key.code == KeyCode::End => {
            let mut pending = pending.at_end(state.size);
            pending.early = false;
            state.popup = Some(Popup::Confirm(pending));
            return;
        }
        None => pending.shown_at(state.size),
    };
    let mut pending = pending;
    pending.early = false;
    // Control keys are never typed into the name: ctrl-c quits (asking first while something
    // runs), ctrl-u clears the name, ctrl-w drops its last word; the others do nothing.
    if key
        .modifiers
        .contains(crossterm::event::KeyModifiers::CONTROL)
    {
        match key.code {
            KeyCode::Char('c') => {
                state.popup = None;
                quit(state);
                return;
            }
            KeyCode::Char('u') => {
                pending.typed.clear();
                pending.mismatch = false;
            }
            KeyCode::Char('w') => {
                let kept = pending.typed.trim_end().rfind(' ').map_or(0, |i| i + 1);
                pending.typed.truncate(kept);
                pending.mismatch = false;
            }
            _ => {}
        }
        state.popup = Some(Popup::Confirm(pending));
        return;
    }
    if pending.confirmation == Confirmation::None {
        // Nothing to confirm here (already as asked): only closes.
        if matches!(
            key.code,
            KeyCode::Esc | KeyCode::Enter | KeyCode::Char('y' | 'Y' | 'n' | 'N')
        ) {
            state.popup = None;
        } else {
            state.popup = Some(Popup::Confirm(pending));
        }
        return;
    }
    let confirmed = match (typed, key.code) {
        (_, KeyCode::Esc) | (false, KeyCode::Char('n' | 'N')) => {
            state.popup = None;
            return;
        }
        // `y` only: enter (a pasted newline, a key pressed out of habit) never confirms.
        (false, KeyCode::Char('y' | 'Y')) => true,
        (true, KeyCode::Enter) => {
            let same = pending.confirmation.accepts_name(&pending.typed);
            pending.mismatch = !same;
            same
        }
        (true, KeyCode::Backspace) => {
            pending.typed.pop();
            pending.mismatch = false;
            false
        }
        (true, KeyCode::Char(c)) => {
            pending.typed.push(c);
            pending.mismatch = false;
            false
        }
        _ => false,
    };
    if !confirmed {
        state.popup = Some(Popup::Confirm(pending));
        return;
    }
    if pending.unseen() > 0 {
        // Not yet: the popup says how many more there are to see, and that the key waits.
        pending.early = true;
        state.popup = Some(Popup::Confirm(pending));
        return;
    }
    let region = pending.region;
    let text = pending.lines.first().cloned().unwrap_or_default();
    state.popup = Some(Popup::Working(text));
    match pending.proposal {
        Proposal::Change(plan) => {
            state.writing += 1;
            effects.push(Effect::Execute { region, plan })
        }
        Proposal::Batch(_) if state.batch_run.as_ref().is_some_and(|r| !r.done()) => {
            state.popup = Some(Popup::Notice(
                "a batch is still running: wait for it to finish, then act again".into(),
            ));
        }
        Proposal::Batch(batch) => {
            state.popup = Some(Popup::Batch);
            // What it was asked for: the marks (an undo acts on its records, and one row's
            // action widened with `tab` on that function, not on them).
            let marked = match batch.action.as_str() {
                "undo" => Vec::new(),
                _ if !state.batch_of_marks => Vec::new(),
                _ => state.marks.iter().cloned().collect(),
            };
            state.batch_run = Some(super::batch::BatchRun {
                batch: (*batch).clone(),
                landed: Vec::new(),
                marked,
                scroll: 0,
            });
            effects.push(Effect::ExecuteBatch { batch });
        }
        Proposal::Rollout(rollout, RolloutAct::Start) => {
            effects.push(Effect::StartRollout { region, rollout })
        }
        Proposal::Rollout(r, act @ (RolloutAct::Resume | RolloutAct::Abort(_))) => {
            // Its end is this dashboard's to report now, not "ended in another lops".
            for v in state.rollouts.iter_mut().filter(|v| {
                v.region == region && v.rollout.function == r.function && v.rollout.alias == r.alias
            }) {
                v.acted_here = true;
            }
            let (function, alias) = (r.function.clone(), r.alias.clone());
            effects.push(match act {
                RolloutAct::Resume => Effect::ResumeRollout {
                    region,
                    function,
                    alias,
                },
                RolloutAct::Abort(previewed) => Effect::AbortRollout {
                    region,
                    function,
                    alias,
                    previewed,
                },
                RolloutAct::Start => return,
            });
        }
        Proposal::Backup {
            targets,
            to,
            storage_class,
        } => {
            state.popup = None;
            // Marks acted on are done with, as after any batch (those not backed up come back
            // when it ends).
            let of_marks = !state.marks.is_empty();
            state.marks.clear();
            let names: Vec<&str> = targets
                .iter()
                .flat_map(|(_, fns)| fns.iter().map(String::as_str))
                .collect();
            state.backup = Some(BackupView {
                label: format!("{} starting", names.join(", ")),
                done: 0,
                total: names.len().max(1) as u64,
                of_marks,
            });
            effects.push(Effect::Backup {
                targets,
                to,
                storage_class,
            });
        }
        Proposal::Quit => {
            state.popup = None;
            state.quit = true;
        }
    }
}
