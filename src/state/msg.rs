//! What reaches the dashboard's model (keys, poller snapshots, results of effects) and what it
//! asks the runtime to do.

use chrono::{DateTime, Utc};
use crossterm::event::KeyEvent;

use crate::ops::{OpsError, Outcome, Plan, Request};
use crate::provider::{Alarm, FunctionRef, Inventory, MetricsSnapshot, ProviderError};

#[derive(Debug)]
pub enum Msg {
    Key(KeyEvent),
    /// Text pasted (bracketed paste): goes into the open input, never acts as keys.
    Paste(String),
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
        /// CloudWatch metrics requested so far.
        metrics: u64,
    },
    /// The ops layer prepared a requested action (or refused it).
    Planned {
        region: usize,
        request: Box<Request>,
        result: Result<Plan, OpsError>,
    },
    /// The ops layer previewed a batch (or there was nothing to ask it, with why).
    BatchPrepared(Result<crate::ops::batch::Batch, String>),
    /// One target of a running batch (by its id) answered.
    BatchLanded {
        batch: String,
        landed: crate::ops::batch::Landed,
    },
    /// The ops layer checked a rollout (or refused it): ask before starting it.
    RolloutPrepared {
        region: usize,
        result: Result<crate::ops::rollout::Rollout, OpsError>,
    },
    /// The ops layer previewed resuming or aborting a rollout from its alias read now.
    RolloutPreviewed {
        region: usize,
        rollout: Box<crate::ops::rollout::Rollout>,
        abort: bool,
        /// The preview, and the alias as it read it (an abort writes only over that).
        result: Result<(String, crate::ops::rollout::Routing), OpsError>,
    },
    /// A backup moved on or finished.
    Backup(super::actions::BackupEvent),
    /// Log events for the log pane.
    LogLines {
        region: usize,
        function: String,
        end_ms: i64,
        result: Result<Vec<crate::loglines::LogLine>, ProviderError>,
    },
    /// Following the log pane's function moved on: events, or a change of how it follows.
    LogTail {
        region: usize,
        function: String,
        update: crate::provider::FollowUpdate,
    },
    /// What the inventory left for on demand (aliases, provisioned concurrency), for the
    /// detail view.
    Extras {
        region: usize,
        function: String,
        result: Result<crate::provider::FunctionExtras, ProviderError>,
    },
    /// The triggers of a function, for the detail view.
    Triggers {
        region: usize,
        function: String,
        result: Result<crate::provider::Triggers, ProviderError>,
    },
    /// The rollouts saved as unfinished that another process (or none) runs, read again.
    SavedRollouts(Vec<(usize, crate::ops::rollout::Rollout, String)>),
    /// A traffic plan moved on, stopped, or was found interrupted.
    RolloutUpdate {
        region: usize,
        rollout: Box<crate::ops::rollout::Rollout>,
        event: String,
        running: bool,
    },
    /// A service's records and health checks were read.
    Service {
        index: usize,
        result: Result<crate::ops::service::ServiceView, String>,
    },
    /// A confirmed action ran (or a rollout's start, resume or abort was refused).
    Executed {
        region: usize,
        result: Result<Outcome, OpsError>,
    },
    /// A confirmed change ([`Effect::Execute`]) ran: one fewer being written.
    Written {
        region: usize,
        result: Result<Outcome, OpsError>,
    },
    /// The answer to the `ticket`th preview asked (counted alike by the model and the runtime,
    /// which runs every effect in the order asked): one asked since makes it stale.
    Preview {
        ticket: u64,
        msg: Box<Msg>,
    },
}

impl Effect {
    /// Whether this reads a target to preview a change (its answer is a `Msg::Preview`).
    pub fn is_preview(&self) -> bool {
        matches!(
            self,
            Effect::Prepare { .. }
                | Effect::PrepareBatch { .. }
                | Effect::PrepareTriggerBatch { .. }
                | Effect::PrepareRollout { .. }
                | Effect::PreviewRollout { .. }
                | Effect::Undo { .. }
        )
    }
}

#[derive(Debug, Clone, PartialEq)]
pub enum Effect {
    /// Re-read inventory and alarms in every region now (after an action changed something).
    RefreshInventory,
    /// `r`: re-read everything now, metrics included.
    RefreshAll,
    /// Validate and preview a request through the ops layer.
    Prepare {
        region: usize,
        request: Box<Request>,
    },
    /// Execute a confirmed plan through the ops layer.
    Execute { region: usize, plan: Box<Plan> },
    /// Preview the same kind of change on several targets through the ops layer.
    PrepareBatch {
        targets: Vec<crate::ops::batch::Target>,
    },
    /// Execute a confirmed batch, its targets side by side, each result reported as it lands.
    ExecuteBatch {
        batch: Box<crate::ops::batch::Batch>,
    },
    /// Read the triggers of these functions and preview pausing them (or resuming them, when
    /// none is enabled) as one batch.
    PrepareTriggerBatch { functions: Vec<(usize, String)> },
    /// Preview undoing the last action recorded in the audit log (a batch as a whole);
    /// `anywhere`: the scopes were not chosen on purpose (the last action anywhere is meant).
    /// `services`: the configured services, whose profile now governs a service change's
    /// undo.
    Undo {
        anywhere: bool,
        services: Vec<crate::config::ServiceSettings>,
        /// Only these records (a finished batch's, whose popup offered to undo it).
        only: Option<Vec<String>>,
    },
    /// Check a rollout through the ops layer and preview it (nothing is written).
    PrepareRollout {
        region: usize,
        spec: Box<crate::ops::rollout::RolloutSpec>,
    },
    /// Save a confirmed rollout and drive it in the background.
    StartRollout {
        region: usize,
        rollout: Box<crate::ops::rollout::Rollout>,
    },
    /// Read the alias of a rollout to resume or abort, and preview that (nothing is written).
    PreviewRollout {
        region: usize,
        rollout: Box<crate::ops::rollout::Rollout>,
        abort: bool,
    },
    ResumeRollout {
        region: usize,
        function: String,
        alias: String,
    },
    AbortRollout {
        region: usize,
        function: String,
        alias: String,
        /// The alias as the confirmed preview showed it.
        previewed: Option<crate::ops::rollout::Routing>,
    },
    /// Read log events of the log pane's function.
    ReadLogs {
        region: usize,
        function: String,
        start_ms: i64,
        end_ms: i64,
    },
    /// Follow the log pane's function from `since_ms`: Live Tail, or polling where it is not
    /// served; events arrive as `Msg::LogTail`.
    TailLogs {
        region: usize,
        function: String,
        since_ms: i64,
    },
    /// Stop following (the pane closed, or paused).
    StopTail { region: usize, function: String },
    /// Read the triggers of the function the detail view shows.
    Triggers { region: usize, function: String },
    /// Read a service's records and health checks in the scope that owns its zone.
    ReadService {
        region: usize,
        index: usize,
        service: Box<crate::config::ServiceSettings>,
    },
    /// Read what the inventory left for on demand of the function the detail view shows.
    Extras {
        region: usize,
        function: String,
        want: crate::provider::NotRead,
    },
    /// Back up functions, per region, to the configured location in one background run.
    Backup {
        targets: Vec<(usize, Vec<String>)>,
        to: crate::backup::S3Uri,
        storage_class: String,
    },
    /// The functions whose metrics a region's poller should fetch from now on.
    Want {
        region: usize,
        functions: Vec<FunctionRef>,
    },
}
