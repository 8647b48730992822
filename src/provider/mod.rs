//! What lops needs from a cloud, and the fleet model both providers fill in.
//!
//! `aws` talks to the real AWS SDK clients; `sim` is the seeded simulated fleet behind `--demo`.

pub mod aws;
pub mod blob;
pub mod dns;
pub mod function;
pub mod limiter;
pub mod sim;

mod error;
mod metrics;
mod model;
mod window;

pub use error::*;
pub use metrics::*;
pub use model::*;
pub use window::{MINUTES, MetricWindow, TimeWindow};

use std::future::Future;

/// Where a set of clients points: one AWS profile in one region, with what the session
/// allows there.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub struct Scope {
    pub profile: String,
    pub region: String,
    #[serde(skip)]
    pub access: crate::config::Access,
}

impl Scope {
    pub fn new(
        profile: impl Into<String>,
        region: impl Into<String>,
        access: crate::config::Access,
    ) -> Self {
        Scope {
            profile: profile.into(),
            region: region.into(),
            access,
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        if self.profile == "default" {
            write!(f, "{}", self.region)
        } else {
            write!(f, "{}/{}", self.profile, self.region)
        }
    }
}

/// What CloudWatch charges per metric requested with GetMetricData (USD; $0.01 per 1,000 in
/// most regions).
pub const METRIC_PRICE_USD: f64 = 0.01 / 1000.0;

/// The estimated bill of `metrics` metrics requested, in USD.
pub fn metrics_cost_usd(metrics: u64) -> f64 {
    // Divided by the metrics a dollar buys (a whole number): the nearest double to the price
    // itself, not `0.0006000000000000001` in a JSON document.
    metrics as f64 / (1.0 / METRIC_PRICE_USD).round()
}

/// What the metrics poller asks for: the functions to fetch numbers for, and the window end.
#[derive(Debug, Clone)]
pub struct MetricsRequest {
    pub functions: Vec<FunctionRef>,
    pub window: TimeWindow,
    /// Also fetch the region's account-level totals (every function, shown or not).
    pub region_totals: bool,
    /// Minutes per data point: 1 for charts, 5 when only the 5/15/60-minute figures are wanted
    /// (five times fewer points for CloudWatch to read; the bill counts metrics, not points).
    pub period_minutes: u32,
    /// The one summary window wanted, when only one is shown (`lops status`'s table): each
    /// number it shows is asked as one point over that window (the longest duration, not a
    /// column, is not asked), an alias's versions as one point over the 15 minutes its split
    /// is judged on, only the p99 of that window, and the request
    /// spans that window (at least 15 minutes) instead of the hour — the same metrics or
    /// fewer, and far fewer points for CloudWatch to read. Only that window's figures (and the
    /// 15-minute split) are then right.
    pub only: Option<MetricWindow>,
    /// With `only`: every figure of that window (its p50 and longest duration too), as a
    /// JSON document of that one window gives them; the table's read leaves both out.
    pub every_figure: bool,
}

/// A function (and its weighted aliases) whose metrics are wanted.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRef {
    pub name: String,
    /// (alias, versions watched through it) for load distribution per version: those it
    /// routes to and those it likely routed to a moment ago ([`AliasInfo::watched_versions`]).
    pub aliases: Vec<(String, Vec<String>)>,
    /// Ask its duration percentiles too (a batch of their own, asked less often).
    pub percentiles: bool,
}

impl FunctionRef {
    pub fn from_info(f: &FunctionInfo) -> Self {
        FunctionRef {
            name: f.name.clone(),
            aliases: f
                .aliases
                .iter()
                .map(|a| (a.name.clone(), a.watched_versions(&f.versions)))
                .collect(),
            percentiles: true,
        }
    }
}

/// One region's read side. Both providers implement it; pollers and `lops status` use it.
pub trait RegionSource: Send + Sync + 'static {
    fn scope(&self) -> &Scope;
    /// The region's functions, whole.
    fn inventory(&self) -> impl Future<Output = Result<Inventory, ProviderError>> + Send {
        async move { self.inventory_with(&|_| {}).await }
    }
    /// The same read, sending a snapshot (with [`Inventory::progress`] set) as each page of
    /// functions lands and as their details fill in.
    fn inventory_with(
        &self,
        progress: &(dyn Fn(Inventory) + Send + Sync),
    ) -> impl Future<Output = Result<Inventory, ProviderError>> + Send;
    /// What the inventory leaves to be read on demand (aliases of functions without a
    /// published version, provisioned concurrency): the parts `want` names, no more.
    fn extras(
        &self,
        function: &str,
        want: NotRead,
    ) -> impl Future<Output = Result<FunctionExtras, ProviderError>> + Send;
    /// CloudWatch metrics requested so far (GetMetricData bills each one).
    fn metrics_requested(&self) -> u64 {
        0
    }
    fn metrics(
        &self,
        request: &MetricsRequest,
    ) -> impl Future<Output = Result<MetricsSnapshot, ProviderError>> + Send;
    fn alarms(&self) -> impl Future<Output = Result<Vec<Alarm>, ProviderError>> + Send;
    /// Requests sent to this region so far, retries included.
    fn calls(&self) -> u64;
    /// How many functions one metrics read should carry, so that a screen of them lands
    /// batch by batch when the endpoint has shown it needs smaller requests.
    fn metrics_group(&self) -> usize {
        usize::MAX
    }
}

/// What an invoke sends.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeRequest {
    pub function: String,
    pub qualifier: Option<String>,
    pub payload: Vec<u8>,
    /// Fire and forget (InvocationType Event) instead of waiting for the result.
    pub asynchronous: bool,
    /// How long to wait for the answer: set by the preview from the function's own timeout (a
    /// function may run for up to 15 minutes; the answer is not late before then).
    pub wait_secs: Option<u32>,
}

/// What an invoke would reach, as read for its preview.
#[derive(Debug, Clone, PartialEq)]
pub struct InvokeTarget {
    /// The version the qualifier resolves to ($LATEST without one).
    pub version: String,
    pub state: Option<String>,
    pub timeout_secs: Option<i32>,
}

/// What an invoke returned.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct InvokeOutcome {
    pub status: i32,
    /// Set when the function itself failed (`Unhandled`, `Handled`).
    pub function_error: Option<String>,
    pub executed_version: Option<String>,
    pub payload: Vec<u8>,
    /// The last 4 KB of the execution log, decoded.
    pub log_tail: Option<String>,
}

/// What starts a function: an EventBridge rule or an event source mapping.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum TriggerKind {
    Rule,
    Mapping,
}

impl TriggerKind {
    pub fn as_str(self) -> &'static str {
        match self {
            TriggerKind::Rule => "rule",
            TriggerKind::Mapping => "mapping",
        }
    }
}

/// One trigger of a function.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Trigger {
    pub kind: TriggerKind,
    /// The rule's name or the mapping's UUID.
    pub id: String,
    /// A rule's schedule or event pattern; a mapping's source ARN.
    pub source: String,
    /// As AWS says it: ENABLED / DISABLED for rules, Enabled / Disabled / Enabling / … for mappings.
    pub state: String,
    pub enabled: bool,
    /// Batch size and last processing result of a mapping; the event bus of a rule.
    pub detail: String,
}

impl Trigger {
    /// Whether it is enabled, where that is known: a mapping being created or updated is
    /// neither yet (it may not be paused until it settles).
    pub fn known_enabled(&self) -> Option<bool> {
        match self.state.as_str() {
            "Creating" | "Updating" => None,
            _ => Some(self.enabled),
        }
    }
}

/// Everything that can invoke a function.
#[derive(Debug, Clone, PartialEq, Default, serde::Serialize)]
pub struct Triggers {
    pub function: String,
    pub triggers: Vec<Trigger>,
    pub url: Option<String>,
    pub url_auth: Option<String>,
    /// Principals the resource policy lets invoke it (with the source ARN condition, if any).
    pub principals: Vec<String>,
    /// What could not be read, and why.
    pub notes: Vec<String>,
}

impl Triggers {
    /// What could not be read, said once (a read failing for the function and each alias
    /// alike says one thing).
    pub fn note(&mut self, why: String) {
        if !self.notes.contains(&why) {
            self.notes.push(why);
        }
    }
}

/// The write side, used only through the ops layer. Both providers implement it.
pub trait RegionActions: RegionSource {
    /// Who lops acts as here (the caller ARN), for the audit log.
    fn caller(&self) -> impl Future<Output = Result<String, ProviderError>> + Send;
    fn alias(
        &self,
        function: &str,
        alias: &str,
    ) -> impl Future<Output = Result<AliasInfo, ProviderError>> + Send;
    fn aliases(
        &self,
        function: &str,
    ) -> impl Future<Output = Result<Vec<AliasInfo>, ProviderError>> + Send;
    fn published_versions(
        &self,
        function: &str,
    ) -> impl Future<Output = Result<Vec<String>, ProviderError>> + Send;
    /// Points the alias at `main` with `extra` (version, weight) on top; `revision` guards
    /// against a concurrent edit.
    fn route_alias(
        &self,
        function: &str,
        alias: &str,
        main: &str,
        extra: Option<(String, f64)>,
        revision: Option<String>,
    ) -> impl Future<Output = Result<AliasInfo, ProviderError>> + Send;
    fn reserved_concurrency(
        &self,
        function: &str,
    ) -> impl Future<Output = Result<Option<i32>, ProviderError>> + Send;
    /// What the account leaves unreserved for the functions without a reservation (`None`:
    /// not known here — an emulator, a refused read).
    fn unreserved_concurrency(&self) -> impl Future<Output = Option<i64>> + Send {
        async { None }
    }
    /// `None` removes the reservation (the function shares the account's pool again).
    fn set_reserved_concurrency(
        &self,
        function: &str,
        value: Option<i32>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// The function (at `qualifier`) an invoke would run: `NotFound` when there is none.
    fn invoke_target(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> impl Future<Output = Result<InvokeTarget, ProviderError>> + Send;
    fn invoke(
        &self,
        request: &InvokeRequest,
    ) -> impl Future<Output = Result<InvokeOutcome, ProviderError>> + Send;
    /// Rules, mappings, URL and policy principals of a function.
    fn triggers(
        &self,
        function: &str,
    ) -> impl Future<Output = Result<Triggers, ProviderError>> + Send;
    /// Whether a rule or mapping is enabled now (a mapping that is enabling counts as enabled).
    fn trigger_enabled(
        &self,
        kind: TriggerKind,
        id: &str,
    ) -> impl Future<Output = Result<bool, ProviderError>> + Send;
    fn set_trigger_enabled(
        &self,
        kind: TriggerKind,
        id: &str,
        enabled: bool,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// What an event source mapping connects: (the function, or its alias, it invokes; its
    /// source's ARN). For a preview that names more than a UUID; `None` where not read.
    fn mapping_ends(&self, _id: &str) -> impl Future<Output = Option<(String, String)>> + Send {
        async { None }
    }
    /// What an EventBridge rule invokes (target ARNs): pausing it pauses them all.
    fn rule_targets(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<String>, ProviderError>> + Send;

    /// The members of the record set `name`/`kind` in hosted zone `zone` (Route 53 is global:
    /// any region's handle reaches it with its profile's credentials).
    fn dns_records(
        &self,
        zone: &str,
        name: &str,
        kind: &str,
    ) -> impl Future<Output = Result<Vec<dns::DnsRecord>, ProviderError>> + Send {
        let _ = (zone, name, kind);
        async {
            Err(ProviderError::Unsupported(
                "Route 53 is not served here".into(),
            ))
        }
    }
    /// Writes these records (each replacing the member with its set identifier) in one atomic
    /// change batch; returns the change's id.
    fn change_dns(
        &self,
        zone: &str,
        records: &[dns::DnsRecord],
    ) -> impl Future<Output = Result<String, ProviderError>> + Send {
        let _ = (zone, records);
        async {
            Err(ProviderError::Unsupported(
                "Route 53 is not served here".into(),
            ))
        }
    }
    /// Whether a change has reached every Route 53 name server (INSYNC).
    fn dns_change_synced(
        &self,
        change: &str,
    ) -> impl Future<Output = Result<bool, ProviderError>> + Send {
        let _ = change;
        async {
            Err(ProviderError::Unsupported(
                "Route 53 is not served here".into(),
            ))
        }
    }
    fn health_check(
        &self,
        id: &str,
    ) -> impl Future<Output = Result<dns::Health, ProviderError>> + Send {
        let _ = id;
        async {
            Err(ProviderError::Unsupported(
                "Route 53 is not served here".into(),
            ))
        }
    }
}

/// Log events of a function, for the dashboard's log pane (and `lops logs` on AWS).
/// What a Live Tail session hands over while it runs.
#[derive(Debug, Clone, PartialEq)]
pub enum TailEvent {
    /// The session is open: every event written from now on will be sent.
    Started,
    /// Events as the session sent them, labelled with their function.
    Lines(Vec<crate::loglines::LogLine>),
    /// The session samples: more events match than it streams.
    Sampled,
}

/// What following logs hands over (`runtime::tail`), to the CLI and the log pane alike.
#[derive(Debug, Clone, PartialEq)]
pub enum FollowUpdate {
    /// Events, from a session or a read (the same event may come twice: keep them in a
    /// [`crate::loglines::Seen`], which tells real twins from copies by how they were read).
    Lines(Vec<crate::loglines::LogLine>, crate::loglines::Source),
    /// A Live Tail session is open for these functions.
    Live(Vec<String>),
    /// A session could not be opened, or broke: it is being opened again (why).
    Reconnecting(String),
    /// The session samples: not every event is streamed.
    Sampled,
    /// Live Tail is not available for these functions here: they are polled from now on.
    Polling { functions: Vec<String>, why: String },
    /// A read or a session failed; it is tried again.
    Failed(String),
    /// These functions have no log group here (not invoked yet, or deleted): they are looked
    /// for again every minute and followed once their group appears.
    NoLogGroup(Vec<String>),
    /// These functions' reads answered: what was owed them is read (their group is there).
    Read(Vec<String>),
}

pub trait LogSource: Send + Sync + 'static {
    /// Events between `start_ms` and `end_ms` (Unix milliseconds), matching `filter`.
    fn log_events(
        &self,
        function: &str,
        start_ms: i64,
        end_ms: i64,
        filter: Option<&str>,
    ) -> impl Future<Output = Result<Vec<crate::loglines::LogLine>, ProviderError>> + Send;

    /// One Live Tail session over these functions' log groups (at most 10), sending events to
    /// `tx` as they are written, until the session ends (`Ok`) or fails. `AccessDenied` and
    /// `Unsupported` mean Live Tail is not available here: follow by polling instead.
    fn tail(
        &self,
        functions: &[String],
        filter: Option<&str>,
        tx: &tokio::sync::mpsc::Sender<TailEvent>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send {
        let _ = (functions, filter, tx);
        async {
            Err(ProviderError::Unsupported(
                "Live Tail is not served here".into(),
            ))
        }
    }
}

/// What a traffic plan's guard reads between steps.
pub trait GuardSignals: RegionSource {
    /// (invocations, errors) of one alias version over the last `minutes` minutes, the
    /// current minute included.
    fn version_errors(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        minutes: u32,
    ) -> impl Future<Output = Result<(f64, f64), ProviderError>> + Send;
    /// The state of each named alarm (missing alarms are left out).
    fn alarm_states(
        &self,
        names: &[String],
    ) -> impl Future<Output = Result<Vec<(String, AlarmState)>, ProviderError>> + Send;
}

#[cfg(test)]
mod tests;
