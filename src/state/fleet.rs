//! The fleet as the dashboard holds it: each region's functions, alarms and totals, and the
//! health of each of its reads.

use chrono::{DateTime, Utc};

use crate::provider::{
    Alarm, AlarmState, FunctionInfo, FunctionMetrics, MetricWindow, ProviderError, Scope,
    WindowStats,
};

use super::History;
use crate::provider::InventoryProgress;

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionEntry {
    pub info: FunctionInfo,
    pub metrics: Option<FunctionMetrics>,
    /// What a read that missed its numbers brought of it while none were ever read (its
    /// aliases' split): shown where a split is, never as numbers. Gone once numbers land.
    pub partly: Option<FunctionMetrics>,
    /// When its numbers last landed: read since its region's metrics began failing in part,
    /// they are current (its row is not in doubt, the others' are).
    pub numbers_at: Option<DateTime<Utc>>,
    /// When a metrics read last came back without its numbers (not in an answer that left
    /// numbers out, or a read that failed): numbers read before it are not vouched for.
    pub numbers_missed_at: Option<DateTime<Utc>>,
    /// The worst state of the alarms tied to this function.
    pub alarm: Option<AlarmState>,
    pub history: History,
}

impl FunctionEntry {
    /// Where its aliases' split is read from: its numbers' read, or a read that brought only
    /// the split.
    pub fn split_read(&self) -> Option<&FunctionMetrics> {
        self.metrics.as_ref().or(self.partly.as_ref())
    }

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
    /// The last GetAccountSettings failed: why (the limit is then not read, never "unknown").
    pub account_limit_error: Option<String>,
    /// The last metrics read answered in part: what it left out (an alias's split, the
    /// percentiles), said in the regions view; its rows are not in doubt for it.
    pub metrics_partial: Option<String>,
    pub totals: Option<FunctionMetrics>,
    pub inventory_loaded: bool,
    /// While an inventory read is filling in: how far it has come, and the functions listed.
    pub inventory_progress: Option<(InventoryProgress, usize)>,
    /// Each read's own health: one read failing never hides what another returned, and only
    /// that read answering again clears its failure.
    pub reads: [ReadHealth; 3],
    pub inventory_seq: u64,
    pub metrics_seq: u64,
    pub alarms_seq: u64,
    /// (time, total requests) samples for the per-minute meter.
    pub call_samples: Vec<(DateTime<Utc>, u64)>,
    /// (time, CloudWatch metrics requested so far) over the last [`METRIC_SAMPLE_SECS`].
    pub metric_samples: Vec<(DateTime<Utc>, u64)>,
}

/// How far back the CloudWatch cost meter looks (metrics are fetched about once a minute, so a
/// shorter span would swing with each fetch).
pub const METRIC_SAMPLE_SECS: i64 = 15 * 60;

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
    /// The account its functions' ARNs name (one account per scope); `None` before any is
    /// listed.
    pub fn account(&self) -> Option<&str> {
        self.functions
            .iter()
            .find_map(|f| crate::ops::payload::account_of(&f.info.arn))
    }

    pub fn new(scope: Scope) -> Self {
        RegionState {
            scope,
            functions: Vec::new(),
            alarms: Vec::new(),
            account_limit: None,
            account_limit_error: None,
            metrics_partial: None,
            totals: None,
            inventory_loaded: false,
            inventory_progress: None,
            reads: Default::default(),
            inventory_seq: 0,
            metrics_seq: 0,
            alarms_seq: 0,
            call_samples: Vec::new(),
            metric_samples: Vec::new(),
        }
    }

    /// A read failed: keep the data, remember the error and since when this read fails.
    pub(super) fn failed(&mut self, e: &ProviderError, at: DateTime<Utc>, read: Read) {
        let (what, call) = read.names();
        let r = &mut self.reads[read.index()];
        let since = r.error.as_ref().map_or(at, |(_, s)| *s);
        r.error = Some((crate::provider::explain(what, call, e), since));
        r.failures += 1;
    }

    /// A read that failed as a whole, though a part of it answered (an alias's split without
    /// any numbers): said as failing, its age not made young by that part.
    pub(super) fn failed_because(&mut self, at: DateTime<Utc>, read: Read, why: String) {
        let r = &mut self.reads[read.index()];
        let since = r.error.as_ref().map_or(at, |(_, s)| *s);
        r.error = Some((why, since));
        r.failures += 1;
    }

    /// A read answered in part: what it returned is shown, and `why` the rest is missing.
    pub(super) fn partly_answered(&mut self, at: DateTime<Utc>, read: Read, why: String) {
        let r = &mut self.reads[read.index()];
        let since = r.error.as_ref().map_or(at, |(_, s)| *s);
        r.last_ok = Some(at);
        r.error = Some((why, since));
        r.failures = 0;
    }

    /// A metrics read that left some functions' numbers unread: the rows stay in doubt and
    /// the age stays that of the last read that had every number (numbers kept from then are
    /// that old; the ones that answered do not make them look young). The first read counts
    /// from itself.
    pub(super) fn numbers_partly_read(&mut self, at: DateTime<Utc>, why: String) {
        let r = &mut self.reads[Read::Metrics.index()];
        let since = r.error.as_ref().map_or(at, |(_, s)| *s);
        r.last_ok = r.last_ok.or(Some(at));
        r.error = Some((why, since));
        r.failures = 0;
    }

    /// "412/1,000 read" or "250 listed" while an inventory read fills in.
    pub fn progress_label(&self) -> Option<String> {
        let (p, listed) = self.inventory_progress?;
        Some(if p.listed {
            format!("{}/{listed} read", p.read)
        } else {
            format!("{listed} listed")
        })
    }

    pub(super) fn answered(&mut self, at: DateTime<Utc>, read: Read) {
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

    /// Whether the reads failing now have all never answered: their numbers are not old,
    /// they were never there (said as "not read", not as stale data of some age).
    pub fn failing_never_read(&self) -> bool {
        let failing: Vec<&ReadHealth> = self.reads.iter().filter(|r| r.error.is_some()).collect();
        !failing.is_empty() && failing.iter().all(|r| r.last_ok.is_none())
    }

    /// Whether this region's rows are marked as not to be trusted whole (`▲`): its data is
    /// old or partly failing — a read that failed counts while the inventory is still being
    /// read too.
    pub fn rows_in_doubt(&self, health: &RegionHealth) -> bool {
        !matches!(health, RegionHealth::Fresh { .. } | RegionHealth::Loading)
            || !self.failing_reads().is_empty()
    }

    /// Whether `f`'s numbers were read since the region's metrics read began failing (in part:
    /// other functions' numbers not read) while every other read answers: they are current.
    pub fn numbers_current(&self, f: &FunctionEntry) -> bool {
        let others_answer = (Read::ALL.into_iter())
            .filter(|r| r.index() != Read::Metrics.index())
            .all(|r| self.reads[r.index()].error.is_none());
        match (&self.reads[Read::Metrics.index()].error, f.numbers_at) {
            (Some((_, since)), Some(at)) => {
                others_answer && at >= *since && f.numbers_missed_at.is_none_or(|m| at > m)
            }
            _ => false,
        }
    }

    /// The reads failing now, each naming its call and the setting that would help.
    pub fn failing(&self) -> Vec<&str> {
        self.reads
            .iter()
            .filter_map(|r| r.error.as_ref().map(|(e, _)| e.as_str()))
            .collect()
    }

    /// Loading until the inventory has answered (alarms answering alone do not make a region
    /// fresh); then fresh while every read answers; stale (with what failed) while some read
    /// fails or the data is old; unreachable when the inventory never answered and failed, or
    /// every read has failed [`UNREACHABLE_AFTER`] times in a row.
    pub fn health(&self, now: DateTime<Utc>, stale_after_secs: u64) -> RegionHealth {
        let inventory = &self.reads[Read::Inventory.index()];
        if inventory.last_ok.is_none() {
            // Unreachable only while nothing about it answered: alarms that answer while the
            // inventory fails make it stale (as `lops status` says, partial), not unreachable.
            let others = self.last_ok();
            return match (&inventory.error, others) {
                // Its age: how long the inventory has been failing (the alarms answering do
                // not make the missing functions look young).
                (Some((_, since)), Some(_)) => RegionHealth::Stale {
                    age_secs: (now - *since).num_seconds().max(0) as u64,
                    error: Some(self.failing().join("; ")),
                },
                (Some(_), None) => RegionHealth::Unreachable {
                    error: self.failing().join("; "),
                },
                (None, _) => RegionHealth::Loading,
            };
        }
        // While reads fail, the age is that of the oldest data they left (a read that still
        // answers does not make failing numbers look young); one that never answered is as old
        // as its failing.
        let failing_since = self
            .reads
            .iter()
            .filter_map(|r| {
                r.error
                    .as_ref()
                    .map(|(_, since)| r.last_ok.unwrap_or(*since))
            })
            .min();
        let age = failing_since
            .or_else(|| self.last_ok())
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

    /// CloudWatch metrics requested per hour, at the pace of the last minutes (after one
    /// minute of samples).
    pub fn metrics_per_hour(&self) -> Option<f64> {
        let (t0, n0) = self.metric_samples.first()?;
        let (t1, n1) = self.metric_samples.last()?;
        let secs = (*t1 - *t0).num_seconds();
        (secs >= 60).then(|| n1.saturating_sub(*n0) as f64 * 3600.0 / secs as f64)
    }

    pub fn totals_stats(&self, window: MetricWindow) -> WindowStats {
        if let Some(t) = &self.totals {
            return t.window(window);
        }
        WindowStats::sum(self.functions.iter().map(|f| f.stats(window)))
    }

    /// Whether `read`'s last attempt failed.
    pub fn read_failing(&self, read: Read) -> bool {
        self.reads[read.index()].error.is_some()
    }

    /// Why `read`'s last attempt failed (its call and the setting that would help), if it did.
    pub fn read_error(&self, read: Read) -> Option<&str> {
        self.reads[read.index()]
            .error
            .as_ref()
            .map(|(e, _)| e.as_str())
    }

    /// Whether `read` has ever answered here: before it has, its numbers are unknown (`–`),
    /// never 0.
    pub fn ever_read(&self, read: Read) -> bool {
        self.reads[read.index()].last_ok.is_some()
    }

    /// The region's totals, `None` while its metrics have never been read.
    pub fn known_totals(&self, window: MetricWindow) -> Option<WindowStats> {
        self.ever_read(Read::Metrics)
            .then(|| self.totals_stats(window))
    }

    /// Firing alarms, `None` while its alarms have never been read.
    pub fn known_firing_alarms(&self) -> Option<usize> {
        self.ever_read(Read::Alarms).then(|| self.firing_alarms())
    }

    pub fn firing_alarms(&self) -> usize {
        self.alarms
            .iter()
            .filter(|a| a.state == AlarmState::Alarm)
            .count()
    }

    /// Whether its functions were read whole: the inventory answered, is not failing now and
    /// is not filling in. Until then a function missing here may well be there.
    pub fn functions_known(&self) -> bool {
        let inventory = &self.reads[Read::Inventory.index()];
        inventory.last_ok.is_some()
            && inventory.error.is_none()
            && self.inventory_progress.is_none()
    }

    pub fn function(&self, name: &str) -> Option<&FunctionEntry> {
        self.functions.iter().find(|f| f.info.name == name)
    }
}
