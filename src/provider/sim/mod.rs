//! A seeded, deterministic simulated fleet with live-looking metrics: the data behind
//! `--demo` and the UI tests. Never evidence that the AWS path works.

mod blob;
mod dns;
mod fleet;
mod function;
mod function_writes;
mod region_actions;

pub use dns::demo_services;

use std::collections::BTreeMap;
use std::f64::consts::TAU;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Timelike, Utc};

pub use fleet::{DEMO_REGIONS, ERROR_SPIKE, Scenario, SimFunction, THROTTLING, demo_fleet, name};
use fleet::{key_of, unit};

use super::{
    Alarm, AlarmState, AliasInfo, FunctionExtras, FunctionMetrics, Inventory, InvokeOutcome,
    InvokeRequest, InvokeTarget, MINUTES, MetricWindow, MetricsRequest, MetricsSnapshot,
    Percentiles, ProviderError, RegionActions, RegionSource, Scope, Series, VersionInvocations,
};

/// The concurrency limit of the simulated account in every region (as a new AWS account has).
const ACCOUNT_LIMIT: i64 = 1_000;

/// Seconds in one round of the demo's scenarios.
pub const CYCLE_SECS: i64 = 360;
/// Phases of the cycle (seconds) during which each scenario is active.
pub const ERROR_SPIKE_PHASE: (i64, i64) = (60, 200);
pub const THROTTLING_PHASE: (i64, i64) = (120, 300);
pub const OUTAGE_PHASE: (i64, i64) = (180, 270);
/// The region that drops out and comes back.
pub const OUTAGE_REGION: &str = "us-west-2";

/// The simulation's time: the real clock for the demo, a settable one for tests.
#[derive(Debug, Clone)]
pub struct SimClock {
    origin: DateTime<Utc>,
    fixed: Option<Arc<Mutex<DateTime<Utc>>>>,
}

impl SimClock {
    pub fn live() -> Self {
        SimClock {
            origin: Utc::now(),
            fixed: None,
        }
    }

    /// A clock that stands still at `at` until [`SimClock::set`]; scenarios start at `at`.
    pub fn fixed(at: DateTime<Utc>) -> Self {
        SimClock {
            origin: at,
            fixed: Some(Arc::new(Mutex::new(at))),
        }
    }

    pub fn set(&self, at: DateTime<Utc>) {
        if let Some(fixed) = &self.fixed
            && let Ok(mut t) = fixed.lock()
        {
            *t = at;
        }
    }

    pub fn now(&self) -> DateTime<Utc> {
        match &self.fixed {
            Some(fixed) => fixed.lock().map(|t| *t).unwrap_or(self.origin),
            None => Utc::now(),
        }
    }

    /// Where `t` falls in the scenario cycle, or `None` before the simulation started.
    fn phase(&self, t: DateTime<Utc>) -> Option<i64> {
        let elapsed = (t - self.origin).num_seconds();
        (elapsed >= 0).then_some(elapsed % CYCLE_SECS)
    }

    fn active(&self, t: DateTime<Utc>, (from, to): (i64, i64)) -> bool {
        self.phase(t).is_some_and(|p| p >= from && p < to)
    }

    pub fn is_live(&self) -> bool {
        self.fixed.is_none()
    }
}

/// One simulated region.
#[derive(Debug, Clone)]
pub struct SimRegion {
    scope: Scope,
    seed: u64,
    clock: SimClock,
    /// Shared with every clone, so actions taken through one handle show in all of them.
    functions: Arc<RwLock<Vec<SimFunction>>>,
    /// Whether this region plays the outage scenario.
    flaky: bool,
    calls: Arc<std::sync::atomic::AtomicU64>,
    /// Metrics the simulated GetMetricData was asked for (as CloudWatch would bill them).
    metrics_requested: Arc<std::sync::atomic::AtomicU64>,
    /// Route 53 (global): one for every region's handle.
    dns: Arc<RwLock<dns::SimZones>>,
    /// The demo's buckets (backups go there): one store for every region's handle.
    buckets: Arc<Mutex<blob::SimBuckets>>,
    /// The account's concurrency limit here: AWS's default, raised (as a quota request would)
    /// where the seeded reservations leave less than half of it unreserved.
    account_limit: i64,
}

/// The demo fleet's regions, seeded.
pub fn demo_regions(seed: u64, clock: &SimClock, access: crate::config::Access) -> Vec<SimRegion> {
    let zones = Arc::new(RwLock::new(dns::demo_zones()));
    let buckets = Arc::new(Mutex::new(blob::SimBuckets::default()));
    demo_fleet(seed)
        .into_iter()
        .map(|(region, functions)| SimRegion {
            account_limit: account_limit(&functions),
            flaky: region == OUTAGE_REGION,
            scope: Scope::new("default", region, access),
            seed,
            clock: clock.clone(),
            functions: Arc::new(RwLock::new(functions)),
            calls: Arc::default(),
            metrics_requested: Arc::default(),
            dns: zones.clone(),
            buckets: buckets.clone(),
        })
        .collect()
}

/// [`ACCOUNT_LIMIT`], or the next thousand that leaves at least 500 unreserved.
fn account_limit(functions: &[SimFunction]) -> i64 {
    let reserved: i64 = functions
        .iter()
        .filter_map(|f| f.info.reserved_concurrency)
        .map(i64::from)
        .sum();
    ACCOUNT_LIMIT.max((reserved + 500 + 999) / 1_000 * 1_000)
}

/// Share of the daily peak at `t`, for a region whose busiest hour is `peak_hour` UTC.
fn daily_shape(t: DateTime<Utc>, peak_hour: f64) -> f64 {
    let hour = f64::from(t.hour()) + f64::from(t.minute()) / 60.0;
    0.35 + 0.65 * (0.5 + 0.5 * (TAU * (hour - peak_hour) / 24.0).cos())
}

impl SimRegion {
    /// The same region of the same account seen through another profile (its functions shared):
    /// for tests of what a session's other profiles decide.
    #[cfg(test)]
    pub(crate) fn under_profile(&self, profile: &str, access: crate::config::Access) -> SimRegion {
        SimRegion {
            scope: Scope::new(profile, self.scope.region.clone(), access),
            ..self.clone()
        }
    }

    /// What the account leaves unreserved here: its limit less every reservation.
    pub(super) fn unreserved(&self) -> i64 {
        let reserved: i64 = self
            .read()
            .iter()
            .filter_map(|f| f.info.reserved_concurrency)
            .map(i64::from)
            .sum();
        self.account_limit - reserved
    }

    /// A copy of the functions as they are now.
    pub fn functions(&self) -> Vec<SimFunction> {
        self.read().clone()
    }

    fn read(&self) -> std::sync::RwLockReadGuard<'_, Vec<SimFunction>> {
        self.functions.read().unwrap_or_else(|p| p.into_inner())
    }

    fn write(&self) -> std::sync::RwLockWriteGuard<'_, Vec<SimFunction>> {
        self.functions.write().unwrap_or_else(|p| p.into_inner())
    }

    fn peak_hour(&self) -> f64 {
        match self.scope.region.as_str() {
            "us-east-1" => 17.0,
            "eu-west-1" => 12.0,
            "ap-southeast-2" => 3.0,
            _ => 20.0,
        }
    }

    fn down(&self) -> bool {
        self.flaky && self.clock.active(self.clock.now(), OUTAGE_PHASE)
    }

    /// A real-looking answer time, and the outage: the region stops answering.
    async fn answer(&self, call: u64) -> Result<(), ProviderError> {
        self.calls
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        if !self.clock.is_live() {
            return if self.down() {
                Err(ProviderError::Timeout(2.0))
            } else {
                Ok(())
            };
        }
        let jitter = unit(self.seed, call ^ self.clock.now().timestamp() as u64);
        tokio::time::sleep(Duration::from_millis(40 + (jitter * 160.0) as u64)).await;
        if self.down() {
            tokio::time::sleep(Duration::from_secs(2)).await;
            return Err(ProviderError::Timeout(2.0));
        }
        Ok(())
    }

    /// Noise in 0.9..1.1 that changes every 10 seconds, so the demo moves every refresh.
    fn noise(&self, f: &SimFunction, t: DateTime<Utc>, salt: u64) -> f64 {
        let step = (t.timestamp() / 10) as u64;
        0.9 + 0.2
            * unit(
                self.seed,
                key_of(&f.info.name) ^ step.wrapping_mul(31) ^ salt,
            )
    }

    fn sample(&self, f: &SimFunction, t: DateTime<Utc>) -> Sample {
        let mut demand = f.peak_rate * daily_shape(t, self.peak_hour()) * self.noise(f, t, 1);
        let mut error_rate = f.error_rate * self.noise(f, t, 2);
        let mut duration = f.duration_ms * self.noise(f, t, 3);
        if f.scenario == Some(Scenario::ErrorSpike) && self.clock.active(t, ERROR_SPIKE_PHASE) {
            error_rate = 0.22 * self.noise(f, t, 4);
            duration *= 2.5;
        }
        if f.scenario == Some(Scenario::Throttling) && self.clock.active(t, THROTTLING_PHASE) {
            demand *= 3.0;
        }
        // Little's law: concurrency = arrivals per second × seconds each.
        let wanted_concurrency = demand / 60.0 * duration / 1_000.0;
        let cap = f
            .info
            .reserved_concurrency
            .map(f64::from)
            .unwrap_or(1_000.0);
        let (invocations, throttles, concurrency) = if wanted_concurrency > cap {
            let served = demand * cap / wanted_concurrency;
            (served, demand - served, cap)
        } else {
            (demand, 0.0, wanted_concurrency)
        };
        Sample {
            invocations: invocations.round(),
            errors: (invocations * error_rate).round(),
            throttles: throttles.round(),
            duration_avg: duration,
            duration_max: duration * (2.0 + self.noise(f, t, 5)),
            concurrency: concurrency.ceil(),
        }
    }

    fn metrics_for(&self, f: &SimFunction, now: DateTime<Utc>) -> FunctionMetrics {
        let mut m = FunctionMetrics::default();
        for i in 0..MINUTES {
            let t = now - TimeDelta::minutes((MINUTES - i) as i64);
            let s = self.sample(f, t);
            m.invocations.set(i, s.invocations);
            m.errors.set(i, s.errors);
            m.throttles.set(i, s.throttles);
            m.duration_avg.set(i, s.duration_avg);
            m.duration_max.set(i, s.duration_max);
            m.concurrency_max.set(i, s.concurrency);
        }
        for w in MetricWindow::ALL {
            let stats = m.window(w);
            m.percentiles.insert(
                w,
                Percentiles {
                    p50: stats.duration_avg_ms.map(|d| d * 0.8),
                    p99: stats.duration_max_ms.map(|d| d * 0.9),
                },
            );
        }
        for alias in &f.info.aliases {
            for (version, weight) in alias.configured_weights() {
                let share = if version == alias.function_version {
                    weight - f.drift
                } else {
                    weight + f.drift
                };
                m.alias_versions.push(VersionInvocations {
                    alias: alias.name.clone(),
                    version,
                    invocations: Series::from_values(
                        m.invocations.iter().map(|v| v.map(|n| (n * share).round())),
                    ),
                });
            }
        }
        m
    }
}

impl SimRegion {
    /// What AWS publishes without a FunctionName dimension: the sum over every function.
    fn totals(&self, now: DateTime<Utc>) -> FunctionMetrics {
        let mut total = FunctionMetrics::default();
        for f in self.read().iter() {
            for i in 0..MINUTES {
                let s = self.sample(f, now - TimeDelta::minutes((MINUTES - i) as i64));
                let add = |series: &mut Series, v: f64| {
                    series.set(i, series.get(i).unwrap_or(0.0) + v);
                };
                add(&mut total.invocations, s.invocations);
                add(&mut total.errors, s.errors);
                add(&mut total.throttles, s.throttles);
                add(&mut total.concurrency_max, s.concurrency);
            }
        }
        total
    }
}

struct Sample {
    invocations: f64,
    errors: f64,
    throttles: f64,
    duration_avg: f64,
    duration_max: f64,
    concurrency: f64,
}

impl RegionSource for SimRegion {
    fn scope(&self) -> &Scope {
        &self.scope
    }

    /// As the AWS inventory reads it: provisioned concurrency, and aliases of functions
    /// without a published version, are left for [`RegionSource::extras`].
    async fn inventory_with(
        &self,
        _progress: &(dyn Fn(Inventory) + Send + Sync),
    ) -> Result<Inventory, ProviderError> {
        self.answer(1).await?;
        Ok(Inventory {
            functions: self
                .read()
                .iter()
                .map(|f| {
                    let mut info = f.info.clone();
                    info.provisioned.clear();
                    info.not_read.provisioned = true;
                    if info.versions.is_empty() {
                        info.aliases.clear();
                        info.not_read.aliases = true;
                    }
                    info
                })
                .collect(),
            account_concurrency_limit: Some(self.account_limit),
            ..Default::default()
        })
    }

    async fn extras(
        &self,
        function: &str,
        want: crate::provider::NotRead,
    ) -> Result<FunctionExtras, ProviderError> {
        self.answer(1).await?;
        self.with_function(function, |f| {
            Ok(FunctionExtras {
                aliases: want.aliases.then(|| f.info.aliases.clone()),
                provisioned: want.provisioned.then(|| f.info.provisioned.clone()),
            })
        })
    }

    fn metrics_requested(&self) -> u64 {
        self.metrics_requested
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn metrics(&self, request: &MetricsRequest) -> Result<MetricsSnapshot, ProviderError> {
        self.answer(2).await?;
        // As CloudWatch would count them: six per function, six more for the region's totals.
        let asked = 6 * (request.functions.len() + usize::from(request.region_totals));
        self.metrics_requested
            .fetch_add(asked as u64, std::sync::atomic::Ordering::Relaxed);
        let now = self.clock.now();
        let functions = {
            let all = self.read();
            let by_name: BTreeMap<&str, &SimFunction> =
                all.iter().map(|f| (f.info.name.as_str(), f)).collect();
            request
                .functions
                .iter()
                .filter_map(|r| by_name.get(r.name.as_str()))
                .map(|f| (f.info.name.clone(), self.metrics_for(f, now)))
                .collect()
        };
        let region_totals = request.region_totals.then(|| self.totals(now));
        Ok(MetricsSnapshot {
            window_end: Some(request.window.end),
            functions,
            percentiles_supported: true,
            region_totals,
            incomplete: None,
            numbers_missing: false,
            partly_read: BTreeMap::new(),
        })
    }

    async fn alarms(&self) -> Result<Vec<Alarm>, ProviderError> {
        self.answer(3).await?;
        let now = self.clock.now();
        let mut alarms = Vec::new();
        for f in self.read().iter() {
            let (metric, phase) = match f.scenario {
                Some(Scenario::ErrorSpike) => ("Errors", ERROR_SPIKE_PHASE),
                Some(Scenario::Throttling) => ("Throttles", THROTTLING_PHASE),
                None => continue,
            };
            let firing = self.clock.active(now, phase);
            alarms.push(Alarm {
                name: format!("{}-{}", f.info.name, metric.to_lowercase()),
                state: if firing {
                    AlarmState::Alarm
                } else {
                    AlarmState::Ok
                },
                reason: Some(if firing {
                    format!("Threshold Crossed: {metric} above threshold for 1 datapoint")
                } else {
                    format!("{metric} back under threshold")
                }),
                metric: Some(metric.into()),
                function: Some(f.info.name.clone()),
            });
        }
        alarms.sort_by(|a, b| a.name.cmp(&b.name));
        Ok(alarms)
    }

    fn calls(&self) -> u64 {
        self.calls.load(std::sync::atomic::Ordering::Relaxed)
    }
}

#[cfg(test)]
mod tests;
