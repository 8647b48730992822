//! The pure core of the dashboard: `update(&mut State, Msg) -> Vec<Effect>`. No I/O, no
//! awaits; the runtime executes the effects and feeds results back as messages.

pub mod actions;
mod confirm;
mod history;
pub mod keymap;
pub mod logpane;
mod outcome;
pub mod rows;

use chrono::{DateTime, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyEventKind};

pub use history::{HISTORY_MINUTES, History};
pub use keymap::{Action, Keymap};
pub use rows::{Column, RowRef, Sort};

use crate::ops::{Access, OpsError, Outcome, Plan, Request};
use crate::provider::{
    Alarm, AlarmState, FunctionInfo, FunctionMetrics, FunctionRef, Inventory, MetricWindow,
    MetricsSnapshot, ProviderError, Scope, WindowStats,
};

/// Smallest terminal the dashboard draws in; below it a "too small" message is shown.
pub const MIN_WIDTH: u16 = 60;
pub const MIN_HEIGHT: u16 = 15;

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionEntry {
    pub info: FunctionInfo,
    pub metrics: Option<FunctionMetrics>,
    /// The worst state of the alarms tied to this function.
    pub alarm: Option<AlarmState>,
    pub history: History,
}

impl FunctionEntry {
    pub fn stats(&self, window: MetricWindow) -> WindowStats {
        self.metrics
            .as_ref()
            .map(|m| m.window(window))
            .unwrap_or_default()
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RegionState {
    pub scope: Scope,
    pub functions: Vec<FunctionEntry>,
    pub alarms: Vec<Alarm>,
    pub account_limit: Option<i64>,
    pub totals: Option<FunctionMetrics>,
    pub inventory_loaded: bool,
    /// Each read's own health: one read failing never hides what another returned, and only
    /// that read answering again clears its failure.
    pub reads: [ReadHealth; 3],
    pub inventory_seq: u64,
    pub metrics_seq: u64,
    pub alarms_seq: u64,
    /// (time, total requests) samples for the per-minute meter.
    pub call_samples: Vec<(DateTime<Utc>, u64)>,
}

/// The reads a region's pollers make.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Read {
    Inventory,
    Metrics,
    Alarms,
}

impl Read {
    pub const ALL: [Read; 3] = [Read::Inventory, Read::Metrics, Read::Alarms];

    fn index(self) -> usize {
        self as usize
    }

    /// (what it reads, the call) for messages.
    fn names(self) -> (&'static str, &'static str) {
        match self {
            Read::Inventory => ("inventory", "ListFunctions"),
            Read::Metrics => ("metrics", "GetMetricData"),
            Read::Alarms => ("alarms", "DescribeAlarms"),
        }
    }
}

/// How one read of a region is doing.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ReadHealth {
    pub last_ok: Option<DateTime<Utc>>,
    /// The last failure (naming the call and the setting that would help), and since when it
    /// has been failing.
    pub error: Option<(String, DateTime<Utc>)>,
    /// Failures in a row.
    pub failures: u32,
}

/// Failures in a row of every read before a region that had answered shows as unreachable.
pub const UNREACHABLE_AFTER: u32 = 3;

/// What the footer and the regions view say about a region.
#[derive(Debug, Clone, PartialEq)]
pub enum RegionHealth {
    Loading,
    Fresh {
        age_secs: u64,
    },
    /// Showing its last good data; the last attempt failed or data is old.
    Stale {
        age_secs: u64,
        error: Option<String>,
    },
    /// Never answered.
    Unreachable {
        error: String,
    },
}

impl RegionState {
    pub fn new(scope: Scope) -> Self {
        RegionState {
            scope,
            functions: Vec::new(),
            alarms: Vec::new(),
            account_limit: None,
            totals: None,
            inventory_loaded: false,
            reads: Default::default(),
            inventory_seq: 0,
            metrics_seq: 0,
            alarms_seq: 0,
            call_samples: Vec::new(),
        }
    }

    /// A read failed: keep the data, remember the error and since when this read fails.
    fn failed(&mut self, e: &ProviderError, at: DateTime<Utc>, read: Read) {
        let (what, call) = read.names();
        let r = &mut self.reads[read.index()];
        let since = r.error.as_ref().map_or(at, |(_, s)| *s);
        r.error = Some((crate::provider::explain(what, call, e), since));
        r.failures += 1;
    }

    fn answered(&mut self, at: DateTime<Utc>, read: Read) {
        self.reads[read.index()] = ReadHealth {
            last_ok: Some(at),
            error: None,
            failures: 0,
        };
    }

    /// When data last arrived, from any read.
    pub fn last_ok(&self) -> Option<DateTime<Utc>> {
        self.reads.iter().filter_map(|r| r.last_ok).max()
    }

    /// The names of the reads failing now: "inventory", "metrics", "alarms".
    pub fn failing_reads(&self) -> Vec<&'static str> {
        Read::ALL
            .into_iter()
            .filter(|r| self.reads[r.index()].error.is_some())
            .map(|r| r.names().0)
            .collect()
    }

    /// The reads failing now, each naming its call and the setting that would help.
    pub fn failing(&self) -> Vec<&str> {
        self.reads
            .iter()
            .filter_map(|r| r.error.as_ref().map(|(e, _)| e.as_str()))
            .collect()
    }

    /// Fresh while every read answers; stale (with what failed) while some read fails or the
    /// data is old; unreachable when nothing ever answered, or every read has failed
    /// [`UNREACHABLE_AFTER`] times in a row.
    pub fn health(&self, now: DateTime<Utc>, stale_after_secs: u64) -> RegionHealth {
        let age = self
            .last_ok()
            .map(|t| (now - t).num_seconds().max(0) as u64);
        let failing = self.failing();
        let error = (!failing.is_empty()).then(|| failing.join("; "));
        let all_down = self.reads.iter().all(|r| r.failures >= UNREACHABLE_AFTER);
        match (age, error) {
            (None, None) => RegionHealth::Loading,
            (None, Some(error)) => RegionHealth::Unreachable { error },
            (Some(_), Some(error)) if all_down => RegionHealth::Unreachable { error },
            (Some(age_secs), Some(error)) => RegionHealth::Stale {
                age_secs,
                error: Some(error),
            },
            (Some(age_secs), None) if age_secs > stale_after_secs => RegionHealth::Stale {
                age_secs,
                error: None,
            },
            (Some(age_secs), None) => RegionHealth::Fresh { age_secs },
        }
    }

    /// Requests in the last minute (or since the first sample, scaled to a minute).
    pub fn calls_per_minute(&self) -> Option<f64> {
        let (t0, n0) = self.call_samples.first()?;
        let (t1, n1) = self.call_samples.last()?;
        let secs = (*t1 - *t0).num_seconds();
        (secs >= 5).then(|| (n1 - n0) as f64 * 60.0 / secs as f64)
    }

    pub fn totals_stats(&self, window: MetricWindow) -> WindowStats {
        if let Some(t) = &self.totals {
            return t.window(window);
        }
        let mut total = WindowStats::default();
        for f in &self.functions {
            let s = f.stats(window);
            total.invocations += s.invocations;
            total.errors += s.errors;
            total.throttles += s.throttles;
        }
        total.error_rate = (total.invocations > 0.0).then(|| total.errors / total.invocations);
        total
    }

    pub fn firing_alarms(&self) -> usize {
        self.alarms
            .iter()
            .filter(|a| a.state == AlarmState::Alarm)
            .count()
    }

    pub fn function(&self, name: &str) -> Option<&FunctionEntry> {
        self.functions.iter().find(|f| f.info.name == name)
    }
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub enum View {
    Fleet,
    Regions,
    Load,
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
}

#[derive(Debug, Clone, PartialEq)]
pub enum Popup {
    Help,
    /// A message (an unknown command, an action's result), closed by esc or enter.
    Notice(String),
    /// A plan waiting for confirmation.
    Confirm(actions::Pending),
    /// An action under way.
    Working(String),
}

/// Display settings fixed at start. What each scope may do travels with its scope.
#[derive(Debug, Clone, Default)]
pub struct Display {
    pub demo: bool,
    pub metrics_secs: u64,
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
    pub popup: Option<Popup>,
    pub window: MetricWindow,
    pub rows: Vec<RowRef>,
    pub now: DateTime<Utc>,
    pub size: (u16, u16),
    pub keymap: Keymap,
    pub display: Display,
    pub quit: bool,
    /// Traffic plans running or interrupted.
    pub plans: Vec<actions::PlanView>,
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
    /// The qualifier the payload editor invokes (tab cycles through aliases and versions).
    pub invoke_qualifier: Option<String>,
    /// What the metrics pollers were last asked for, per region, to send only changes.
    wanted: Vec<Vec<String>>,
}

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    Resize(u16, u16),
    Tick(DateTime<Utc>),
    Inventory {
        region: usize,
        seq: u64,
        at: DateTime<Utc>,
        result: Result<Inventory, ProviderError>,
    },
    Metrics {
        region: usize,
        seq: u64,
        at: DateTime<Utc>,
        result: Result<MetricsSnapshot, ProviderError>,
    },
    Alarms {
        region: usize,
        seq: u64,
        at: DateTime<Utc>,
        result: Result<Vec<Alarm>, ProviderError>,
    },
    Calls {
        region: usize,
        total: u64,
    },
    /// The ops layer prepared a requested action (or refused it).
    Planned {
        region: usize,
        result: Result<Plan, OpsError>,
    },
    /// The ops layer checked a rollout (or refused it): ask before starting it.
    RolloutPrepared {
        region: usize,
        result: Result<crate::ops::rollout::Rollout, OpsError>,
    },
    /// A backup moved on or finished.
    Backup(actions::BackupEvent),
    /// Log events for the log pane.
    LogLines {
        region: usize,
        function: String,
        end_ms: i64,
        result: Result<Vec<crate::logs::LogLine>, ProviderError>,
    },
    /// The triggers of a function, for the detail view.
    Triggers {
        region: usize,
        function: String,
        result: Result<crate::provider::Triggers, ProviderError>,
    },
    /// A traffic plan moved on, stopped, or was found interrupted.
    PlanUpdate {
        region: usize,
        rollout: Box<crate::ops::rollout::Rollout>,
        event: String,
        running: bool,
    },
    /// A confirmed action ran.
    Executed {
        region: usize,
        result: Result<Outcome, OpsError>,
    },
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Re-read inventory and alarms in every region now.
    RefreshInventory,
    /// Validate and preview a request through the ops layer.
    Prepare {
        region: usize,
        request: Box<Request>,
    },
    /// Execute a confirmed plan through the ops layer.
    Execute { region: usize, plan: Box<Plan> },
    /// Check a rollout through the ops layer and preview it (nothing is written).
    PrepareRollout {
        region: usize,
        spec: Box<crate::ops::rollout::PlanSpec>,
    },
    /// Save a confirmed rollout and drive it in the background.
    StartPlan {
        region: usize,
        rollout: Box<crate::ops::rollout::Rollout>,
    },
    ResumePlan {
        region: usize,
        function: String,
        alias: String,
    },
    AbortPlan {
        region: usize,
        function: String,
        alias: String,
    },
    /// Read log events of the log pane's function.
    ReadLogs {
        region: usize,
        function: String,
        start_ms: i64,
        end_ms: i64,
    },
    /// Read the triggers of the function the detail view shows.
    Triggers { region: usize, function: String },
    /// Back up functions of a region to the configured location, in the background.
    Backup {
        region: usize,
        functions: Vec<String>,
        to: crate::backup::S3Uri,
        storage_class: String,
    },
    /// The functions whose metrics a region's poller should fetch from now on.
    Want {
        region: usize,
        functions: Vec<FunctionRef>,
    },
}

impl State {
    pub fn new(scopes: Vec<Scope>, keymap: Keymap, display: Display, now: DateTime<Utc>) -> Self {
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
            popup: None,
            window: MetricWindow::M5,
            rows: Vec::new(),
            now,
            size: (80, 24),
            keymap,
            display,
            quit: false,
            plans: Vec::new(),
            backup: None,
            trigger_pane: None,
            log_pane: None,
            backup_target: None,
            guards: crate::config::Guards::default(),
            invoke_qualifier: None,
            chosen: false,
            wanted: vec![Vec::new(); n],
        }
    }

    /// Rows of the fleet table that fit: the screen less header, footer, borders and titles.
    pub fn table_rows(&self) -> usize {
        usize::from(self.size.1).saturating_sub(6).max(1)
    }

    pub fn too_small(&self) -> bool {
        self.size.0 < MIN_WIDTH || self.size.1 < MIN_HEIGHT
    }

    pub fn stale_after_secs(&self) -> u64 {
        (self.display.metrics_secs * 3).max(30)
    }

    /// A log read when the log pane is open, following, and due.
    fn log_effects(&mut self) -> Vec<Effect> {
        let View::Logs { region, function } = &self.view else {
            self.log_pane = None;
            return Vec::new();
        };
        let now = self.now;
        let pane = match self.log_pane.as_mut() {
            Some(p) if p.region == *region && p.function == *function => p,
            _ => self
                .log_pane
                .insert(logpane::LogPane::new(*region, function.clone(), now)),
        };
        pane.due(now)
            .map(|(start_ms, end_ms)| Effect::ReadLogs {
                region: *region,
                function: function.clone(),
                start_ms,
                end_ms,
            })
            .into_iter()
            .collect()
    }

    /// A triggers read when the detail view shows a function whose triggers are not loaded.
    fn trigger_effects(&mut self) -> Vec<Effect> {
        let View::Detail { region, function } = &self.view else {
            self.trigger_pane = None;
            return Vec::new();
        };
        let stale = self
            .trigger_pane
            .as_ref()
            .is_none_or(|p| p.region != *region || p.function != *function || p.reload);
        if !stale {
            return Vec::new();
        }
        let keep = self
            .trigger_pane
            .as_ref()
            .filter(|p| p.region == *region && p.function == *function);
        self.trigger_pane = Some(actions::TriggerPane {
            region: *region,
            function: function.clone(),
            result: keep.and_then(|p| p.result.clone()),
            selected: keep.map_or(0, |p| p.selected),
            reload: false,
        });
        vec![Effect::Triggers {
            region: *region,
            function: function.clone(),
        }]
    }

    /// What the selected row's scope may do: it decides which keys are offered and which badge
    /// the header shows. With no row, the narrowest access of any scope.
    pub fn access(&self) -> Access {
        if let Some((r, _)) = self.focus() {
            return self.regions[r].scope.access;
        }
        self.regions
            .iter()
            .map(|r| r.scope.access)
            .min_by_key(|a| a.tier)
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

    fn rebuild_rows(&mut self) {
        // The highlight follows its function (scope and name) when rows move under it, so a
        // key never acts on a function the user did not choose.
        let keep = (self.chosen || self.selected > 0)
            .then(|| {
                self.selected_row()
                    .map(|(r, f)| (r.scope.clone(), f.info.name.clone()))
            })
            .flatten();
        self.rows = rows::build(&self.regions, &self.filter, self.sort, self.window);
        if let Some((scope, name)) = keep
            && let Some(i) = self.rows.iter().position(|(r, f)| {
                self.regions[*r].scope == scope && self.regions[*r].functions[*f].info.name == name
            })
        {
            self.selected = i;
        }
        self.clamp();
    }

    fn clamp(&mut self) {
        let n = self.rows.len();
        self.selected = self.selected.min(n.saturating_sub(1));
        let height = self.table_rows();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(n.saturating_sub(height));
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
            let names: Vec<String> = functions.iter().map(|f| f.name.clone()).collect();
            if self.wanted.get(r) != Some(&names) {
                if let Some(w) = self.wanted.get_mut(r) {
                    *w = names;
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
                on_key(state, key, &mut effects);
            }
        }
        Msg::Resize(w, h) => {
            state.size = (w, h);
            state.clamp();
        }
        Msg::Tick(now) => state.now = now,
        Msg::Inventory {
            region,
            seq,
            at,
            result,
        } => on_inventory(state, region, seq, at, result),
        Msg::Metrics {
            region,
            seq,
            at,
            result,
        } => on_metrics(state, region, seq, at, result),
        Msg::Alarms {
            region,
            seq,
            at,
            result,
        } => on_alarms(state, region, seq, at, result),
        Msg::Planned { region, result } => actions::planned(state, region, result),
        Msg::RolloutPrepared { region, result } => actions::rollout_prepared(state, region, result),
        Msg::PlanUpdate {
            region,
            rollout,
            event,
            running,
        } => actions::plan_update(state, region, *rollout, event, running),
        Msg::Executed { region, result } => actions::executed(state, region, result, &mut effects),
        Msg::Backup(event) => actions::backup_update(state, event),
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
        Msg::Triggers {
            region,
            function,
            result,
        } => {
            if let Some(pane) = state.trigger_pane.as_mut()
                && pane.region == region
                && pane.function == function
            {
                let keep = pane.selected;
                pane.result = Some(result.map(|t| t.triggers).map_err(|e| e.to_string()));
                let n = pane.triggers().len();
                pane.selected = keep.min(n.saturating_sub(1));
            }
        }
        Msg::Calls { region, total } => {
            let now = state.now;
            if let Some(r) = state.regions.get_mut(region) {
                r.call_samples.push((now, total));
                r.call_samples
                    .retain(|(t, _)| (now - *t).num_seconds() <= 60);
            }
        }
    }
    effects.extend(state.want_effects());
    effects.extend(state.trigger_effects());
    effects.extend(state.log_effects());
    effects
}

fn on_inventory(
    state: &mut State,
    region: usize,
    seq: u64,
    at: DateTime<Utc>,
    result: Result<Inventory, ProviderError>,
) {
    let Some(r) = state.regions.get_mut(region) else {
        return;
    };
    if seq <= r.inventory_seq {
        return;
    }
    r.inventory_seq = seq;
    match result {
        Err(e) => r.failed(&e, at, Read::Inventory),
        Ok(inventory) => {
            let mut old: std::collections::HashMap<String, FunctionEntry> = r
                .functions
                .drain(..)
                .map(|f| (f.info.name.clone(), f))
                .collect();
            r.functions = inventory
                .functions
                .into_iter()
                .map(|info| {
                    let previous = old.remove(&info.name);
                    let alarm = worst_alarm(&r.alarms, &info.name);
                    FunctionEntry {
                        metrics: previous.as_ref().and_then(|p| p.metrics.clone()),
                        history: previous.map(|p| p.history).unwrap_or_default(),
                        info,
                        alarm,
                    }
                })
                .collect();
            r.account_limit = inventory.account_concurrency_limit;
            r.inventory_loaded = true;
            r.answered(at, Read::Inventory);
        }
    }
    state.rebuild_rows();
}

fn on_alarms(
    state: &mut State,
    region: usize,
    seq: u64,
    at: DateTime<Utc>,
    result: Result<Vec<Alarm>, ProviderError>,
) {
    let Some(r) = state.regions.get_mut(region) else {
        return;
    };
    if seq <= r.alarms_seq {
        return;
    }
    r.alarms_seq = seq;
    match result {
        Err(e) => r.failed(&e, at, Read::Alarms),
        Ok(alarms) => {
            for f in &mut r.functions {
                f.alarm = worst_alarm(&alarms, &f.info.name);
            }
            r.alarms = alarms;
            r.answered(at, Read::Alarms);
        }
    }
    state.rebuild_rows();
}

fn worst_alarm(alarms: &[Alarm], function: &str) -> Option<AlarmState> {
    alarms
        .iter()
        .filter(|a| a.function.as_deref() == Some(function))
        .map(|a| a.state)
        .min()
}

fn on_metrics(
    state: &mut State,
    region: usize,
    seq: u64,
    at: DateTime<Utc>,
    result: Result<MetricsSnapshot, ProviderError>,
) {
    let Some(r) = state.regions.get_mut(region) else {
        return;
    };
    if seq <= r.metrics_seq {
        return;
    }
    r.metrics_seq = seq;
    match result {
        Err(e) => r.failed(&e, at, Read::Metrics),
        Ok(snapshot) => {
            for f in &mut r.functions {
                if let Some(m) = snapshot.functions.get(&f.info.name) {
                    if let Some(end) = snapshot.window_end {
                        f.history.merge(&m.invocations, end);
                    }
                    f.metrics = Some(m.clone());
                }
            }
            if snapshot.region_totals.is_some() {
                r.totals = snapshot.region_totals;
            }
            r.answered(at, Read::Metrics);
        }
    }
    state.rebuild_rows();
}

fn on_key(state: &mut State, key: KeyEvent, effects: &mut Vec<Effect>) {
    if let Some(input) = state.input.take() {
        on_input_key(state, input, key, effects);
        return;
    }
    if let Some(Popup::Confirm(pending)) = state.popup.take() {
        actions::confirm_key(state, pending, key, effects);
        return;
    }
    if let Some(Popup::Working(text)) = &state.popup {
        // The action is running; only its result closes this.
        let _ = text;
        return;
    }
    match &state.popup {
        // A notice closes on esc or enter only, and the key does nothing else.
        Some(Popup::Notice(_)) => {
            if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                state.popup = None;
            }
            return;
        }
        // Help closes on any key, which does nothing else either.
        Some(_) => {
            state.popup = None;
            return;
        }
        None => {}
    }
    let Some(action) = state.keymap.action(&key) else {
        return;
    };
    let page = state.table_rows();
    match action {
        Action::Quit => actions::quit(state),
        Action::Help => state.popup = Some(Popup::Help),
        Action::Back => go_back(state),
        Action::Filter => {
            let current = match &state.log_pane {
                Some(pane) if matches!(state.view, View::Logs { .. }) => pane.filter.clone(),
                _ => state.filter.clone(),
            };
            state.input = Some(Input::Filter(current));
        }
        Action::Palette => state.input = Some(Input::Palette(String::new())),
        Action::Up => move_by(state, -1),
        Action::Down => move_by(state, 1),
        Action::PageUp => move_by(state, -(page as i64)),
        Action::PageDown => move_by(state, page as i64),
        Action::Top => move_by(state, i64::MIN / 2),
        Action::Bottom => move_by(state, i64::MAX / 2),
        Action::Open => open_detail(state),
        Action::Refresh => effects.push(Effect::RefreshInventory),
        Action::SortNext => {
            state.chosen = true;
            let column = state.sort.column.next();
            state.sort = Sort {
                column,
                descending: column.natural_descending(),
            };
            state.rebuild_rows();
        }
        Action::SortReverse => {
            state.chosen = true;
            state.sort.descending = !state.sort.descending;
            state.rebuild_rows();
        }
        Action::Window => {
            state.chosen = true;
            state.window = match state.window {
                MetricWindow::M5 => MetricWindow::M15,
                MetricWindow::M15 => MetricWindow::M60,
                MetricWindow::M60 => MetricWindow::M5,
            };
            state.rebuild_rows();
        }
        Action::Invoke
        | Action::Shift
        | Action::Promote
        | Action::Rollback
        | Action::Kill
        | Action::Revive
        | Action::Canary
        | Action::AbortPlan
        | Action::ResumePlan
        | Action::Pin
        | Action::Concurrency
        | Action::Trigger
        | Action::Backup => actions::start(state, action, effects),
        Action::Logs => {
            if let Some((region, f)) = state.focus() {
                let view = View::Logs {
                    region,
                    function: f.info.name.clone(),
                };
                switch_view(state, view);
            }
        }
        Action::Pause => {
            if let Some(pane) = state.log_pane.as_mut() {
                pane.paused = !pane.paused;
            }
        }
        Action::Fleet => switch_view(state, View::Fleet),
        Action::Regions => switch_view(state, View::Regions),
        Action::Load => switch_view(state, View::Load),
    }
}

fn on_input_key(state: &mut State, input: Input, key: KeyEvent, effects: &mut Vec<Effect>) {
    if matches!(
        input,
        Input::Payload(_) | Input::Weight(_) | Input::Preset(_) | Input::Concurrency(_)
    ) {
        match key.code {
            KeyCode::Esc => state.input_error = None,
            KeyCode::Enter => actions::submit(state, input, effects),
            KeyCode::Tab if matches!(input, Input::Payload(_)) => {
                actions::next_qualifier(state);
                state.input = Some(input);
            }
            KeyCode::Backspace => {
                let mut input = input;
                if let Input::Payload(t)
                | Input::Weight(t)
                | Input::Preset(t)
                | Input::Concurrency(t) = &mut input
                {
                    t.pop();
                }
                state.input = Some(input);
            }
            KeyCode::Char(c) => {
                let mut input = input;
                if let Input::Payload(t)
                | Input::Weight(t)
                | Input::Preset(t)
                | Input::Concurrency(t) = &mut input
                {
                    t.push(c);
                }
                state.input = Some(input);
            }
            _ => state.input = Some(input),
        }
        return;
    }
    match (input, key.code) {
        (Input::Filter(_), KeyCode::Esc) => set_filter(state, String::new()),
        (Input::Palette(_), KeyCode::Esc) => {}
        (Input::Filter(_), KeyCode::Enter) => {}
        (Input::Palette(text), KeyCode::Enter) => run_command(state, text.trim()),
        (Input::Filter(mut text), KeyCode::Backspace) => {
            text.pop();
            set_filter(state, text.clone());
            state.input = Some(Input::Filter(text));
        }
        (Input::Palette(mut text), KeyCode::Backspace) => {
            text.pop();
            state.input = Some(Input::Palette(text));
        }
        (Input::Filter(mut text), KeyCode::Char(c)) => {
            text.push(c);
            set_filter(state, text.clone());
            state.input = Some(Input::Filter(text));
        }
        (Input::Palette(mut text), KeyCode::Char(c)) => {
            text.push(c);
            state.input = Some(Input::Palette(text));
        }
        (input, _) => state.input = Some(input),
    }
}

/// The palette's commands: a view name, `help`, `quit`, or any unique prefix of them.
pub const COMMANDS: [&str; 6] = ["fleet", "regions", "load", "detail", "help", "quit"];

fn run_command(state: &mut State, text: &str) {
    let text = text.to_lowercase();
    let found: Vec<&str> = COMMANDS
        .iter()
        .copied()
        .filter(|c| c.starts_with(&text))
        .collect();
    match (text.is_empty(), found.as_slice()) {
        (true, _) => {}
        (false, [command]) => match *command {
            "fleet" => switch_view(state, View::Fleet),
            "regions" => switch_view(state, View::Regions),
            "load" => switch_view(state, View::Load),
            "detail" => open_detail(state),
            "help" => state.popup = Some(Popup::Help),
            _ => actions::quit(state),
        },
        _ => {
            state.popup = Some(Popup::Notice(format!(
                "unknown command '{text}': try {}",
                COMMANDS.join(", ")
            )))
        }
    }
}

/// The filter being typed: the log pane's lines in the logs view, the fleet's rows elsewhere.
fn set_filter(state: &mut State, text: String) {
    if matches!(state.view, View::Logs { .. })
        && let Some(pane) = state.log_pane.as_mut()
    {
        pane.filter = text;
        return;
    }
    state.filter = text;
    state.selected = 0;
    state.rebuild_rows();
}

fn switch_view(state: &mut State, view: View) {
    if state.view != view {
        let previous = std::mem::replace(&mut state.view, view);
        state.back.push(previous);
        state.back.truncate(16);
    }
}

fn go_back(state: &mut State) {
    if let Some(previous) = state.back.pop() {
        state.view = previous;
    } else if !state.filter.is_empty() {
        state.filter.clear();
        state.rebuild_rows();
    }
}

fn open_detail(state: &mut State) {
    if let Some((region, f)) = state.focus() {
        let view = View::Detail {
            region,
            function: f.info.name.clone(),
        };
        switch_view(state, view);
    }
}

fn move_by(state: &mut State, delta: i64) {
    match state.view {
        View::Fleet | View::Load => {
            state.chosen = true;
            let n = state.rows.len() as i64;
            state.selected = (state.selected as i64 + delta).clamp(0, (n - 1).max(0)) as usize;
            state.clamp();
        }
        View::Detail { .. } => {
            if let Some(pane) = state.trigger_pane.as_mut() {
                let n = pane.triggers().len() as i64;
                pane.selected = (pane.selected as i64 + delta).clamp(0, (n - 1).max(0)) as usize;
            }
        }
        View::Logs { .. } => {
            if let Some(pane) = state.log_pane.as_mut() {
                pane.scroll(delta);
            }
        }
        View::Regions => {}
    }
}

#[cfg(test)]
mod tests;
