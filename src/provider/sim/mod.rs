//! A seeded, deterministic simulated fleet with live-looking metrics: the data behind
//! `--demo` and the UI tests. Never evidence that the AWS path works.

mod fleet;

use std::collections::BTreeMap;
use std::f64::consts::TAU;
use std::sync::{Arc, Mutex, RwLock};
use std::time::Duration;

use chrono::{DateTime, TimeDelta, Timelike, Utc};

pub use fleet::{DEMO_REGIONS, ERROR_SPIKE, Scenario, SimFunction, THROTTLING, demo_fleet, name};
use fleet::{key_of, unit};

use super::{
    Alarm, AlarmState, AliasInfo, FunctionExtras, FunctionMetrics, Inventory, InvokeOutcome,
    InvokeRequest, MINUTES, MetricWindow, MetricsRequest, MetricsSnapshot, Percentiles,
    ProviderError, RegionActions, RegionSource, Scope, Series, VersionInvocations,
};

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
}

/// The demo fleet's regions, seeded.
pub fn demo_regions(seed: u64, clock: &SimClock, access: crate::config::Access) -> Vec<SimRegion> {
    demo_fleet(seed)
        .into_iter()
        .map(|(region, functions)| SimRegion {
            flaky: region == OUTAGE_REGION,
            scope: Scope::new("default", region, access),
            seed,
            clock: clock.clone(),
            functions: Arc::new(RwLock::new(functions)),
            calls: Arc::default(),
        })
        .collect()
}

/// Share of the daily peak at `t`, for a region whose busiest hour is `peak_hour` UTC.
fn daily_shape(t: DateTime<Utc>, peak_hour: f64) -> f64 {
    let hour = f64::from(t.hour()) + f64::from(t.minute()) / 60.0;
    0.35 + 0.65 * (0.5 + 0.5 * (TAU * (hour - peak_hour) / 24.0).cos())
}

impl SimRegion {
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
            account_concurrency_limit: Some(1_000),
            ..Default::default()
        })
    }

    async fn extras(&self, function: &str) -> Result<FunctionExtras, ProviderError> {
        self.answer(1).await?;
        self.with_function(function, |f| {
            Ok(FunctionExtras {
                aliases: f.info.aliases.clone(),
                provisioned: f.info.provisioned.clone(),
            })
        })
    }

    async fn metrics(&self, request: &MetricsRequest) -> Result<MetricsSnapshot, ProviderError> {
        self.answer(2).await?;
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

impl SimRegion {
    fn with_function<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut SimFunction) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut all = self.write();
        let function = all
            .iter_mut()
            .find(|x| x.info.name == name)
            .ok_or_else(|| ProviderError::NotFound(format!("Function not found: {name}")))?;
        f(function)
    }
}

fn find_alias<'a>(f: &'a mut SimFunction, alias: &str) -> Result<&'a mut AliasInfo, ProviderError> {
    let name = f.info.name.clone();
    f.info
        .aliases
        .iter_mut()
        .find(|a| a.name == alias)
        .ok_or_else(|| ProviderError::NotFound(format!("Alias not found: {name}:{alias}")))
}

impl crate::provider::LogSource for SimRegion {
    /// One invocation every 15 s per function: START, a line of its own, END and REPORT, a
    /// cold start now and then, and failures while the error spike plays.
    async fn log_events(
        &self,
        function: &str,
        start_ms: i64,
        end_ms: i64,
        filter: Option<&str>,
    ) -> Result<Vec<crate::logs::LogLine>, ProviderError> {
        self.answer(14).await?;
        let (spiking, memory, duration) = self.with_function(function, |f| {
            Ok((
                f.scenario == Some(Scenario::ErrorSpike),
                f.info.memory_mb.unwrap_or(128),
                f.duration_ms,
            ))
        })?;
        const EVERY_MS: i64 = 15_000;
        let first = start_ms.div_euclid(EVERY_MS) + 1;
        let last = end_ms.div_euclid(EVERY_MS);
        let mut out = Vec::new();
        // At most the last 200 invocations of a long range.
        for n in first.max(last - 200)..=last {
            let at = n * EVERY_MS;
            let Some(time) = chrono::DateTime::from_timestamp_millis(at) else {
                continue;
            };
            let u = unit(
                self.seed ^ crate::provider::sim::fleet::key_of(function),
                n as u64,
            );
            let cold = u < 0.08;
            let failed = spiking && self.clock.active(time, ERROR_SPIKE_PHASE) && u > 0.6;
            let request = format!(
                "{:08x}-{:04x}-4{:03x}-8000-{:012x}",
                n as u32,
                (n >> 8) as u16,
                n % 4096,
                crate::provider::sim::fleet::key_of(function) & 0xffff_ffff_ffff
            );
            let stream = format!("2026/11/25/[$LATEST]{:08x}", (n / 40) as u32);
            let took = duration * (0.6 + u * 0.8);
            let mut messages = vec![format!("START RequestId: {request} Version: $LATEST")];
            if failed {
                messages.push(format!(
                    "[ERROR] Runtime.HandlerError: upstream returned 503\tRequestId: {request}"
                ));
            } else {
                messages.push(format!("processed request {request}"));
            }
            messages.push(format!("END RequestId: {request}"));
            messages.push(format!(
                "REPORT RequestId: {request}\tDuration: {took:.2} ms\tBilled Duration: {} ms\tMemory Size: {memory} MB\tMax Memory Used: {} MB{}",
                took.ceil() as i64,
                (f64::from(memory) * (0.3 + u * 0.4)) as i64,
                if cold { format!("\tInit Duration: {:.2} ms", 180.0 + u * 300.0) } else { String::new() }
            ));
            for (k, message) in messages.into_iter().enumerate() {
                if filter.is_some_and(|p| !message.contains(p)) {
                    continue;
                }
                let mut line = crate::logs::LogLine {
                    time: time
                        + chrono::TimeDelta::milliseconds(k as i64 * (took as i64 / 3).max(1)),
                    region: self.scope.region.clone(),
                    function: function.to_string(),
                    stream: stream.clone(),
                    message,
                    event_id: format!("{n}-{k}"),
                    report: None,
                    failure: None,
                };
                crate::logs::annotate(&mut line);
                out.push(line);
            }
        }
        Ok(out)
    }
}

impl SimRegion {
    fn find_trigger<T>(
        &self,
        kind: crate::provider::TriggerKind,
        id: &str,
        f: impl FnOnce(&mut crate::provider::Trigger) -> T,
    ) -> Result<T, ProviderError> {
        let mut all = self.write();
        all.iter_mut()
            .flat_map(|x| x.triggers.iter_mut())
            .find(|t| t.kind == kind && t.id == id)
            .map(f)
            .ok_or_else(|| ProviderError::NotFound(format!("{} {id} not found", kind.as_str())))
    }
}

impl RegionActions for SimRegion {
    async fn triggers(&self, function: &str) -> Result<crate::provider::Triggers, ProviderError> {
        self.answer(11).await?;
        self.with_function(function, |f| {
            Ok(crate::provider::Triggers {
                function: function.to_string(),
                triggers: f.triggers.clone(),
                url: None,
                url_auth: None,
                principals: f
                    .triggers
                    .iter()
                    .filter(|t| t.kind == crate::provider::TriggerKind::Rule)
                    .map(|t| {
                        format!(
                            "events.amazonaws.com (from arn:aws:events:{}:000000000000:rule/{})",
                            self.scope.region, t.id
                        )
                    })
                    .collect(),
                notes: Vec::new(),
            })
        })
    }

    async fn trigger_enabled(
        &self,
        kind: crate::provider::TriggerKind,
        id: &str,
    ) -> Result<bool, ProviderError> {
        self.answer(12).await?;
        self.find_trigger(kind, id, |t| t.enabled)
    }

    async fn set_trigger_enabled(
        &self,
        kind: crate::provider::TriggerKind,
        id: &str,
        enabled: bool,
    ) -> Result<(), ProviderError> {
        self.answer(13).await?;
        self.find_trigger(kind, id, |t| {
            t.enabled = enabled;
            t.state = match (kind, enabled) {
                (crate::provider::TriggerKind::Rule, true) => "ENABLED",
                (crate::provider::TriggerKind::Rule, false) => "DISABLED",
                (_, true) => "Enabled",
                (_, false) => "Disabled",
            }
            .into();
        })
    }

    async fn caller(&self) -> Result<String, ProviderError> {
        Ok("arn:aws:iam::000000000000:user/demo".into())
    }

    async fn alias(&self, function: &str, alias: &str) -> Result<AliasInfo, ProviderError> {
        self.answer(4).await?;
        self.with_function(function, |f| find_alias(f, alias).map(|a| a.clone()))
    }

    async fn aliases(&self, function: &str) -> Result<Vec<AliasInfo>, ProviderError> {
        self.answer(5).await?;
        self.with_function(function, |f| Ok(f.info.aliases.clone()))
    }

    async fn published_versions(&self, function: &str) -> Result<Vec<String>, ProviderError> {
        self.answer(6).await?;
        self.with_function(function, |f| Ok(f.info.versions.clone()))
    }

    async fn route_alias(
        &self,
        function: &str,
        alias: &str,
        main: &str,
        extra: Option<(String, f64)>,
        revision: Option<String>,
    ) -> Result<AliasInfo, ProviderError> {
        self.answer(7).await?;
        let seed = self.seed;
        self.with_function(function, |f| {
            let a = find_alias(f, alias)?;
            if revision.is_some() && a.revision_id != revision {
                return Err(ProviderError::Service(
                    "PreconditionFailedException: the alias changed since it was read".into(),
                ));
            }
            a.function_version = main.to_string();
            a.additional_weights = extra.into_iter().collect();
            let next = fleet::hash(
                seed,
                fleet::key_of(a.revision_id.as_deref().unwrap_or_default()),
            );
            a.revision_id = Some(format!("{:08x}", next as u32));
            Ok(a.clone())
        })
    }

    async fn reserved_concurrency(&self, function: &str) -> Result<Option<i32>, ProviderError> {
        self.answer(8).await?;
        self.with_function(function, |f| Ok(f.info.reserved_concurrency))
    }

    async fn set_reserved_concurrency(
        &self,
        function: &str,
        value: Option<i32>,
    ) -> Result<(), ProviderError> {
        self.answer(9).await?;
        self.with_function(function, |f| {
            f.info.reserved_concurrency = value;
            Ok(())
        })
    }

    async fn invoke(&self, request: &InvokeRequest) -> Result<InvokeOutcome, ProviderError> {
        self.answer(10).await?;
        let now = self.clock.now();
        let (duration, memory, spiking, version) = self.with_function(&request.function, |f| {
            if f.info.reserved_concurrency == Some(0) {
                return Err(ProviderError::Throttled(
                    "TooManyRequestsException: Rate Exceeded (reserved concurrency is 0)".into(),
                ));
            }
            let version = match &request.qualifier {
                Some(q) if q.chars().all(|c| c.is_ascii_digit()) => q.clone(),
                Some(q) => f
                    .info
                    .aliases
                    .iter()
                    .find(|a| a.name == *q)
                    .map(|a| a.function_version.clone())
                    .unwrap_or_else(|| "$LATEST".into()),
                None => "$LATEST".into(),
            };
            let spiking = f.scenario == Some(Scenario::ErrorSpike)
                && self.clock.active(now, ERROR_SPIKE_PHASE);
            Ok((
                f.duration_ms,
                f.info.memory_mb.unwrap_or(128),
                spiking,
                version,
            ))
        })?;
        let cold = unit(self.seed, now.timestamp() as u64) < 0.2;
        let request_id = format!(
            "{:08x}-sim",
            fleet::hash(self.seed, now.timestamp_millis() as u64) as u32
        );
        let mut log = format!("START RequestId: {request_id} Version: {version}\n");
        let (payload, function_error) = if spiking {
            log.push_str("ERROR Invoke Error {\"errorType\":\"DownstreamTimeout\"}\n");
            (
                br#"{"errorMessage":"downstream timed out","errorType":"DownstreamTimeout"}"#
                    .to_vec(),
                Some("Unhandled".to_string()),
            )
        } else {
            (request.payload.clone(), None)
        };
        log.push_str(&format!(
            "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration:.2} ms\tBilled Duration: {:.0} ms\tMemory Size: {memory} MB\tMax Memory Used: {} MB\t{}\n",
            duration.ceil(),
            memory / 2,
            if cold { "Init Duration: 312.40 ms\t" } else { "" }
        ));
        Ok(InvokeOutcome {
            status: if request.asynchronous { 202 } else { 200 },
            function_error,
            executed_version: Some(version),
            payload: if request.asynchronous {
                Vec::new()
            } else {
                payload
            },
            log_tail: Some(log),
        })
    }
}

impl crate::provider::GuardSignals for SimRegion {
    async fn version_errors(
        &self,
        function: &str,
        _alias: &str,
        _version: &str,
        minutes: u32,
    ) -> Result<(f64, f64), ProviderError> {
        self.answer(11).await?;
        let now = self.clock.now();
        let f = self
            .read()
            .iter()
            .find(|f| f.info.name == function)
            .cloned()
            .ok_or_else(|| ProviderError::NotFound(format!("Function not found: {function}")))?;
        let mut totals = (0.0, 0.0);
        for m in 0..minutes.max(1) {
            let s = self.sample(&f, now - TimeDelta::minutes(i64::from(m)));
            totals.0 += s.invocations;
            totals.1 += s.errors;
        }
        Ok(totals)
    }

    async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, AlarmState)>, ProviderError> {
        let alarms = self.alarms().await?;
        Ok(alarms
            .into_iter()
            .filter(|a| names.contains(&a.name))
            .map(|a| (a.name, a.state))
            .collect())
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::provider::{FunctionRef, TimeWindow};
    use chrono::TimeZone;

    fn start() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
            .single()
            .unwrap_or_default()
    }

    fn region(clock: &SimClock, name: &str) -> SimRegion {
        demo_regions(7, clock, crate::config::Access::default())
            .into_iter()
            .find(|r| r.scope.region == name)
            .unwrap_or_else(|| demo_regions(7, clock, crate::config::Access::default()).remove(0))
    }

    async fn stats(r: &SimRegion, function: &str) -> crate::provider::WindowStats {
        let req = MetricsRequest {
            functions: vec![FunctionRef {
                name: function.into(),
                aliases: vec![],
                percentiles: true,
            }],
            window: TimeWindow::ending_at(r.clock.now()),
            region_totals: false,
            period_minutes: 1,
        };
        let snap = r.metrics(&req).await.unwrap_or_default();
        snap.functions
            .get(function)
            .map(|m| m.window(MetricWindow::M5))
            .unwrap_or_default()
    }

    #[tokio::test]
    async fn error_spike_raises_errors_and_an_alarm_then_recovers() {
        let clock = SimClock::fixed(start());
        let r = region(&clock, ERROR_SPIKE.0);
        let f = name(ERROR_SPIKE.1);
        let calm = stats(&r, &f).await;
        clock.set(start() + TimeDelta::seconds(190));
        let spiking = stats(&r, &f).await;
        // Two of the last five minutes are inside the spike.
        assert!(spiking.error_rate > Some(0.05), "{spiking:?}");
        assert!(calm.error_rate < Some(0.04), "{calm:?}");
        let alarms = r.alarms().await.unwrap_or_default();
        assert!(
            alarms
                .iter()
                .any(|a| a.state == AlarmState::Alarm && a.function.as_deref() == Some(f.as_str()))
        );
        clock.set(start() + TimeDelta::seconds(CYCLE_SECS - 1));
        let alarms = r.alarms().await.unwrap_or_default();
        assert!(alarms.iter().all(|a| a.state == AlarmState::Ok));
    }

    #[tokio::test]
    async fn throttling_caps_concurrency_at_the_reserved_limit() {
        let clock = SimClock::fixed(start());
        clock.set(start() + TimeDelta::seconds(290));
        let r = region(&clock, THROTTLING.0);
        let s = stats(&r, &name(THROTTLING.1)).await;
        assert!(s.throttles > 0.0, "{s:?}");
        assert_eq!(s.concurrency_max, Some(100.0));
    }

    #[tokio::test]
    async fn outage_region_drops_out_and_comes_back() {
        let clock = SimClock::fixed(start());
        clock.set(start() + TimeDelta::seconds(200));
        let r = region(&clock, OUTAGE_REGION);
        assert!(matches!(
            r.inventory().await,
            Err(ProviderError::Timeout(_))
        ));
        clock.set(start() + TimeDelta::seconds(300));
        assert_eq!(
            r.inventory().await.map(|i| i.functions.len()).ok(),
            Some(36)
        );
    }

    #[tokio::test]
    async fn ops_shift_traffic_and_kill_in_the_simulation() {
        use crate::ops::{Request, Tier, execute, prepare};
        let clock = SimClock::fixed(start());
        let r = region(&clock, "us-east-1");
        let f = r
            .functions()
            .into_iter()
            .find(|f| {
                f.info.versions.len() >= 2
                    && f.info
                        .aliases
                        .iter()
                        .any(|a| a.additional_weights.is_empty())
            })
            .unwrap();
        let alias = f.info.aliases[0].clone();
        let other = f
            .info
            .versions
            .iter()
            .find(|v| **v != alias.function_version)
            .unwrap()
            .clone();
        let request = Request::SetWeight {
            function: f.info.name.clone(),
            alias: alias.name.clone(),
            version: other.clone(),
            weight: 0.3,
        };
        let plan = prepare(&r, request, None).await.unwrap();
        execute(&r, &plan, None).await.unwrap();
        let now = r.alias(&f.info.name, &alias.name).await.unwrap();
        assert_eq!(now.additional_weights, vec![(other, 0.3)]);
        assert_ne!(now.revision_id, alias.revision_id);

        let kill = prepare(
            &r,
            Request::Kill {
                function: f.info.name.clone(),
            },
            None,
        )
        .await
        .unwrap();
        execute(&r, &kill, None).await.unwrap();
        let invoke = InvokeRequest {
            function: f.info.name.clone(),
            qualifier: None,
            payload: b"{}".to_vec(),
            asynchronous: false,
        };
        assert!(matches!(
            r.invoke(&invoke).await,
            Err(ProviderError::Throttled(_))
        ));
        let mut read_only = r.clone();
        read_only.scope.access = crate::config::Access::new(Tier::Read, false);
        let refused = prepare(
            &read_only,
            Request::Kill {
                function: f.info.name.clone(),
            },
            None,
        )
        .await;
        assert!(refused.is_err());
    }

    #[tokio::test]
    async fn sim_invoke_echoes_and_reports() {
        let clock = SimClock::fixed(start());
        let r = region(&clock, "us-east-1");
        let name = r.functions()[0].info.name.clone();
        let out = r
            .invoke(&InvokeRequest {
                function: name,
                qualifier: None,
                payload: br#"{"a":1}"#.to_vec(),
                asynchronous: false,
            })
            .await
            .unwrap();
        assert_eq!(out.payload, br#"{"a":1}"#);
        let report =
            crate::ops::invoke::parse_report(out.log_tail.as_deref().unwrap_or_default()).unwrap();
        assert!(report.duration_ms.is_some());
    }

    #[tokio::test]
    async fn same_time_gives_the_same_numbers() {
        let clock = SimClock::fixed(start() + TimeDelta::seconds(30));
        let a = stats(&region(&clock, "us-east-1"), "orders-api").await;
        let b = stats(&region(&clock, "us-east-1"), "orders-api").await;
        assert_eq!(a, b);
        assert!(a.invocations > 0.0);
    }
}
