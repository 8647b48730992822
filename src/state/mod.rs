//! The pure core of the dashboard: `update(&mut State, Msg) -> Vec<Effect>`. No I/O, no
//! awaits; the runtime executes the effects and feeds results back as messages.

pub mod actions;
pub mod alias_choice;
pub mod batch;
mod confirm;
pub use confirm::widens;
mod fleet;
mod help;
mod history;
mod ingest;
pub mod keymap;
mod keys;
pub mod logpane;
mod msg;
mod outcome;
mod pane_reads;
mod quit;
pub mod rollouts;
pub mod rows;
pub mod services;
mod views;

use chrono::{DateTime, Utc};
use crossterm::event::KeyEventKind;

pub use fleet::{FunctionEntry, Read, ReadHealth, RegionHealth, RegionState, UNREACHABLE_AFTER};
pub use help::{help_entries, help_last_start, help_layout, help_widths};
pub use history::{HISTORY_MINUTES, History};
pub use keymap::{Action, Keymap};
pub use keys::COMMANDS;
pub use msg::{Effect, Msg};
pub use outcome::{DETAIL_RETRY_SECS, NOT_DRIVEN};
pub use rows::{Column, RowRef, Sort};

use crate::ops::Access;
use crate::provider::{AlarmState, FunctionRef, MetricWindow, Scope};

/// Smallest terminal the dashboard draws in; below it a "too small" message is shown.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Fleet,
    Regions,
    Load,
    /// Services behind Route 53: weight, health and real load per region.
    Services,
    /// One function: its region index and name.
    Detail {
        region: usize,
        function: String,
    },
    /// The log pane of one function.
    Logs {
        region: usize,
        function: String,
    },
}

impl View {
    pub fn title(&self) -> &'static str {
        match self {
            View::Fleet => "fleet",
            View::Regions => "regions",
            View::Load => "load",
            View::Services => "services",
            View::Detail { .. } => "detail",
            View::Logs { .. } => "logs",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Input {
    Filter(String),
    Palette(String),
    /// The JSON event for an invoke.
    Payload(String),
    /// The new version's share for a traffic shift.
    Weight(String),
    /// A traffic plan's preset.
    Preset(String),
    /// Reserved concurrency: a number, or "none".
    Concurrency(String),
    /// The Route 53 weight of the services view's selected region.
    ServiceWeight(String),
}

#[derive(Debug, Clone, PartialEq)]
// One popup at a time, held in the state: its size does not matter, boxing would only add
// indirection to every confirmation.
#[allow(clippy::large_enum_variant)]
pub enum Popup {
    Help,
    /// A message (an unknown command, an action's result), closed by esc or enter.
    Notice(String),
    /// A plan waiting for confirmation.
    Confirm(actions::Pending),
    /// An action under way.
    Working(String),
    /// A batch running or done (`State::batch_run`): each target's result as it lands.
    Batch,
}

/// How the screen is set up, fixed at start (demo, metrics period). What each scope may do
/// travels with its scope.
#[derive(Debug, Clone, Default)]
pub struct ScreenOptions {
    pub demo: bool,
    pub metrics_secs: u64,
    /// Started with `--profile` or `--regions`: chosen on purpose (undo stays within them).
    pub narrowed: bool,
}

#[derive(Debug, Clone)]
pub struct State {
    pub regions: Vec<RegionState>,
    pub view: View,
    pub back: Vec<View>,
    pub selected: usize,
    pub offset: usize,
    pub sort: Sort,
    pub filter: String,
    pub input: Option<Input>,
    /// Why the last submitted input was not accepted.
    pub input_error: Option<String>,
    /// Whether a key was typed into the open value input (before that, typing replaces the
    /// value it opened with).
    pub input_touched: bool,
    /// The first help line shown (help pages on a small screen).
    pub help_scroll: usize,
    pub popup: Option<Popup>,
    pub window: MetricWindow,
    pub rows: Vec<RowRef>,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub keymap: Keymap,
    pub display: ScreenOptions,
    pub quit: bool,
    /// Traffic plans running or interrupted.
    pub rollouts: Vec<actions::RolloutView>,
    /// A backup running in the background.
    pub backup: Option<actions::BackupView>,
    /// The log pane (while the logs view is open).
    pub log_pane: Option<logpane::LogPane>,
    /// The detail view's triggers (read when the view opens, and after a trigger action).
    pub trigger_pane: Option<actions::TriggerPane>,
    /// `[backup]` in the config file: where the backup key writes, and the storage class.
    pub backup_target: Option<(crate::backup::S3Uri, String)>,
    /// `[guards]` in the config file: what a rollout started here watches.
    pub guards: crate::config::Guards,
    /// The user chose the highlighted row (moved to it or sorted): it then follows its function.
    /// Until then the highlight stays on the top row, the unhealthiest one.
    pub chosen: bool,
    /// The chosen function (scope, name) while a filter hides it: the highlight goes back to
    /// it when it shows again, unless the user moved the highlight meanwhile.
    pub hidden_choice: Option<(crate::provider::Scope, String)>,
    /// The qualifier the payload editor invokes (tab cycles through aliases and versions).
    pub invoke_qualifier: Option<String>,
    /// What happened elsewhere while a popup was open: said once it closes, never dropped.
    pub notices: Vec<String>,
    /// The alias `a` chose per function name: the one its traffic keys act on.
    pub alias_choice: std::collections::BTreeMap<String, String>,
    /// Marked functions, by region and name: an action key acts on all of them as one batch.
    pub marks: std::collections::BTreeSet<(usize, String)>,
    /// Whether the batch being previewed was asked of the marks (not widened from one row with
    /// `tab`): only such a batch clears the marks it acted on.
    pub batch_of_marks: bool,
    /// The batch running or last run, for its popup.
    pub batch_run: Option<batch::BatchRun>,
    /// Changes confirmed and sent, their result not back yet: quitting asks first.
    pub writing: usize,
    /// What to say once the terminal is back (a backup that ended while quitting was asked).
    pub exit_notes: Vec<String>,
    /// The services view: `[[service]]` entries and their last reads.
    pub services: services::ServicePane,
    /// What the metrics pollers were last asked for, per region, to send only changes.
    wanted: Vec<Vec<FunctionRef>>,
    /// Previews asked so far: only the answer to the last is shown (`Msg::Preview`).
    previews: u64,
}

impl State {
    pub fn new(
        scopes: Vec<Scope>,
        keymap: Keymap,
        display: ScreenOptions,
        now: DateTime<Utc>,
    ) -> Self {
        let n = scopes.len();
        State {
            regions: scopes.into_iter().map(RegionState::new).collect(),
            view: View::Fleet,
            back: Vec::new(),
            selected: 0,
            offset: 0,
            sort: Sort::default(),
            filter: String::new(),
            input: None,
            input_error: None,
            input_touched: false,
            help_scroll: 0,
            popup: None,
            window: MetricWindow::M5,
            rows: Vec::new(),
            now,
            size: (80, 24),
            keymap,
            display,
            quit: false,
            rollouts: Vec::new(),
            backup: None,
            trigger_pane: None,
            log_pane: None,
            backup_target: None,
            guards: crate::config::Guards::default(),
            invoke_qualifier: None,
            chosen: false,
            hidden_choice: None,
            notices: Vec::new(),
            alias_choice: Default::default(),
            marks: Default::default(),
            batch_of_marks: false,
            previews: 0,
            batch_run: None,
            writing: 0,
            exit_notes: Vec::new(),
            services: Default::default(),
            wanted: vec![Vec::new(); n],
        }
    }

    /// Rows of the fleet table that fit: the screen less header, footer, borders and titles.
    pub fn table_rows(&self) -> usize {
        // The rollout or backup line above the footer takes a row when it shows.
        let plans = usize::from(!self.rollouts.is_empty() || self.backup.is_some());
        usize::from(self.size.1).saturating_sub(6 + plans).max(1)
    }

    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_WIDTH || self.size.1 < MIN_HEIGHT
    }

    pub fn stale_after_secs(&self) -> u64 {
        (self.display.metrics_secs * 3).max(30)
    }

    /// What the selected row's scope may do: it decides which keys are offered and which badge
    /// the header shows. With no row, the narrowest access of any scope.
    /// What `regions[r]` may do, as the ops layer decides it: the session's other profiles in
    /// that region on the same account (their functions' ARNs name it) reach the same
    /// functions, so the strictest tier of them holds, and production if any is.
    fn same_account_access(&self, r: usize) -> Access {
        let here = &self.regions[r];
        // One whose functions were never listed (its inventory fails) may be of this account:
        // its rules hold here too, as the ops layer keeps them for an account STS did not say
        // (the hints offered keys the ops layer then refused).
        let unknown = |o: &RegionState| {
            o.scope.region == here.scope.region && !o.inventory_loaded && o.account().is_none()
        };
        (0..self.regions.len())
            .filter(|o| self.same_account(r, *o) || unknown(&self.regions[*o]))
            .map(|o| &self.regions[o])
            .fold(here.scope.access, |a, o| Access {
                tier: a.tier.min(o.scope.access.tier),
                production: a.production || o.scope.access.production,
            })
    }

    /// The refusal that a stricter profile of the same account on screen gives an action
    /// needing `needs` on `regions[r]`'s function (the ops layer refuses it at the preview; an
    /// action that opens an input first is refused before it, as one without is).
    pub(super) fn refused_elsewhere(
        &self,
        r: usize,
        needs: crate::config::Tier,
        title: &str,
    ) -> Option<String> {
        (0..self.regions.len())
            .filter(|o| *o != r && self.same_account(r, *o))
            .find_map(|o| {
                let other = &self.regions[o].scope;
                let what = format!("{title} in {other}");
                crate::ops::authorize(other.access.tier, needs, &what)
                    .err()
                    .map(|e| {
                        format!(
                            "the same function is refused under another profile ({e}): not \
                             changed through this one"
                        )
                    })
            })
    }

    /// Whether `regions[a]` and `regions[b]` reach the same functions: one scope, or two
    /// profiles in one region of one account (their functions' ARNs name it).
    pub fn same_account(&self, a: usize, b: usize) -> bool {
        let (Some(x), Some(y)) = (self.regions.get(a), self.regions.get(b)) else {
            return false;
        };
        a == b
            || (x.scope.region == y.scope.region
                && x.account().is_some_and(|n| y.account() == Some(n)))
    }

    pub fn access(&self) -> Access {
        // The services view acts in the selected service's home scope: its badges are those.
        if self.view == View::Services
            && let Some(access) = services::home_access(self)
        {
            return access;
        }
        // The regions view selects no function: the least any scope on screen may do (MIXED
        // says that others may do more).
        if let Some((r, _)) = self.focus().filter(|_| self.view != View::Regions) {
            return self.same_account_access(r);
        }
        // Production where any scope is: the strictest protection on screen shows too.
        let production = self.regions.iter().any(|r| r.scope.access.production);
        self.regions
            .iter()
            .map(|r| r.scope.access)
            .min_by_key(|a| a.tier)
            .map(|a| Access { production, ..a })
            .unwrap_or_default()
    }

    /// Whether the scopes on screen differ in what they may do.
    pub fn mixed_access(&self) -> bool {
        self.regions
            .windows(2)
            .any(|w| w[0].scope.access != w[1].scope.access)
    }

    pub fn selected_row(&self) -> Option<(&RegionState, &FunctionEntry)> {
        let (r, f) = *self.rows.get(self.selected)?;
        let region = self.regions.get(r)?;
        Some((region, region.functions.get(f)?))
    }

    /// The function the load and detail views are about.
    pub fn focus(&self) -> Option<(usize, &FunctionEntry)> {
        match &self.view {
            View::Detail { region, function } => {
                Some((*region, self.regions.get(*region)?.function(function)?))
            }
            _ => {
                let (r, f) = *self.rows.get(self.selected)?;
                Some((r, self.regions.get(r)?.functions.get(f)?))
            }
        }
    }

    /// Visible rows plus alarmed functions plus the focused function in every region.
    fn wanted_now(&self) -> Vec<Vec<FunctionRef>> {
        let mut wanted: Vec<Vec<FunctionRef>> = vec![Vec::new(); self.regions.len()];
        let mut add = |r: usize, f: &FunctionEntry| {
            if !wanted[r].iter().any(|x| x.name == f.info.name) {
                wanted[r].push(FunctionRef::from_info(&f.info));
            }
        };
        if self.view == View::Fleet {
            let end = (self.offset + self.table_rows()).min(self.rows.len());
            for (r, f) in &self.rows[self.offset.min(end)..end] {
                add(*r, &self.regions[*r].functions[*f]);
            }
        }
        if let Some((_, focus)) = self.focus() {
            let name = focus.info.name.clone();
            for (r, region) in self.regions.iter().enumerate() {
                if let Some(f) = region.function(&name) {
                    add(r, f);
                }
            }
        }
        for (r, region) in self.regions.iter().enumerate() {
            for f in &region.functions {
                if f.alarm == Some(AlarmState::Alarm) {
                    add(r, f);
                }
            }
        }
        for list in &mut wanted {
            list.sort_by(|a, b| a.name.cmp(&b.name));
        }
        wanted
    }

    fn want_effects(&mut self) -> Vec<Effect> {
        let now = self.wanted_now();
        let mut effects = Vec::new();
        for (r, functions) in now.into_iter().enumerate() {
            // Names and aliases: an alias that lands later (the inventory filling in, an
            // on-demand read) needs its versions' numbers too.
            if self.wanted.get(r) != Some(&functions) {
                if let Some(w) = self.wanted.get_mut(r) {
                    *w = functions.clone();
                }
                effects.push(Effect::Want {
                    region: r,
                    functions,
                });
            }
        }
        effects
    }
}

/// The one place state changes.
pub fn update(state: &mut State, msg: Msg) -> Vec<Effect> {
    let mut effects = Vec::new();
    match msg {
        Msg::Key(key) => {
            if key.kind != KeyEventKind::Release {
                keys::on_key(state, key, &mut effects);
            }
            // While a preview is read, keys wait on a popup that takes none but esc: typed
            // ahead (a name meant for the confirmation, a `q` in it), they must not act on the
            // screen underneath.
            if effects.iter().any(Effect::is_preview) && state.popup.is_none() {
                state.popup = Some(Popup::Working(
                    "reading the target for the preview… (esc hides this)".into(),
                ));
            }
        }
        Msg::Paste(text) => keys::on_paste(state, &text),
        Msg::Resize(w, h) => {
            state.size = (w, h);
            state.clamp();
            // A larger screen shows more of an open confirmation: those lines count as seen.
            if matches!(state.popup, Some(Popup::Confirm(_)))
                && let Some(Popup::Confirm(pending)) = state.popup.take()
            {
                state.popup = Some(Popup::Confirm(pending.shown_at(state.size)));
            }
        }
        Msg::Tick(now) => state.now = now,
        Msg::Inventory {
            region,
            seq,
            at,
            result,
        } => ingest::on_inventory(state, region, seq, at, result),
        Msg::Metrics {
            region,
            seq,
            at,
            result,
        } => ingest::on_metrics(state, region, seq, at, result),
        Msg::Alarms {
            region,
            seq,
            at,
            result,
        } => ingest::on_alarms(state, region, seq, at, result),
        Msg::Planned {
            region,
            request,
            result,
        } => {
            // A trigger found already as asked (or not readable) was changed by someone
            // else: the detail view reads them again rather than keep showing what it was.
            let settled = match &result {
                Ok(plan) => plan.change == crate::ops::Change::Nothing,
                Err(_) => true,
            };
            if settled
                && matches!(*request, crate::ops::Request::SetTrigger { .. })
                && let Some(pane) = state.trigger_pane.as_mut()
            {
                pane.reload = true;
            }
            actions::planned(state, region, request, result)
        }
        Msg::BatchPrepared(result) => batch::prepared(state, result),
        Msg::BatchLanded { batch, landed } => batch::landed(state, &batch, landed, &mut effects),
        Msg::RolloutPrepared { region, result } => actions::rollout_prepared(state, region, result),
        Msg::RolloutPreviewed {
            region,
            rollout,
            abort,
            result,
        } => confirm::rollout_previewed(state, region, *rollout, abort, result),
        Msg::SavedRollouts(saved) => {
            outcome::saved_rollouts(state, saved, &mut effects);
            state.clamp();
        }
        Msg::RolloutUpdate {
            region,
            rollout,
            event,
            running,
        } => {
            actions::rollout_update(state, region, *rollout, event, running);
            // Its line above the footer takes a table row: the selection stays in view.
            state.clamp();
        }
        Msg::Written { region, result } => {
            state.writing = state.writing.saturating_sub(1);
            return update(state, Msg::Executed { region, result });
        }
        Msg::Executed { region, result } => {
            actions::executed(state, region, result, &mut effects);
            // What a lever changed there shows at once.
            if state.view == View::Services {
                services::read(state, &mut effects);
            }
        }
        Msg::Backup(event) => actions::backup_update(state, event),
        Msg::LogTail {
            region,
            function,
            update,
        } => {
            if let Some(pane) = state.log_pane.as_mut()
                && pane.region == region
                && pane.function == function
            {
                pane.tailed(update, state.now);
            }
        }
        Msg::LogLines {
            region,
            function,
            end_ms,
            result,
        } => {
            if let Some(pane) = state.log_pane.as_mut()
                && pane.region == region
                && pane.function == function
            {
                pane.received(result, end_ms, state.now);
            }
        }
        Msg::Extras {
            region,
            function,
            result,
        } => ingest::on_extras(state, region, function, result),
        Msg::Triggers {
            region,
            function,
            result,
        } => ingest::on_triggers(state, region, &function, result),
        Msg::Service { index, result } => services::landed(state, index, result),
        Msg::Calls {
            region,
            total,
            metrics,
        } => ingest::on_calls(state, region, total, metrics),
        // Only the last preview asked is shown (a `y` is meant for it), never over a confirmation.
        // A notice open then (something another lops did, a result) is not lost under it: it
        // waits in the queue and shows once the confirmation closes. (Waits are `Working`.)
        Msg::Preview { ticket, msg } => {
            if ticket == state.previews && !matches!(state.popup, Some(Popup::Confirm(_))) {
                if let Some(Popup::Notice(text)) = state.popup.take() {
                    state.notices.insert(0, text);
                }
                return update(state, *msg);
            }
        }
    }
    if state.popup.is_none() && !state.notices.is_empty() {
        state.popup = Some(Popup::Notice(
            state.notices.drain(..).collect::<Vec<_>>().join("\n"),
        ));
    }
    state.previews += effects.iter().filter(|e| e.is_preview()).count() as u64;
    effects.extend(state.want_effects());
    services::due(state, &mut effects);
    effects.extend(state.trigger_effects());
    effects.extend(state.log_effects());
    effects
}

#[cfg(test)]
mod tests;
