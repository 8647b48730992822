//! One set of background tasks per region: inventory (rarely, or on demand), alarms, and
//! metrics (every tick, only for what the screen wants). They own their source, send owned
//! snapshots tagged with a sequence number, skip when busy (each loop awaits its own call),
//! back off on failure, and never touch UI state.

use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::Duration;

use chrono::{DateTime, Utc};
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::timed;
use crate::provider::{
    FunctionRef, Inventory, MetricsRequest, ProviderError, RegionSource, TimeWindow,
};
use crate::state::Msg;

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    /// Metrics are fetched once per this period, aligned to the clock (`[refresh] metrics_secs`).
    pub metrics: Duration,
    pub inventory: Duration,
    pub alarms: Duration,
    /// An alarms or metrics fetch gives up after this long (the inventory has no deadline).
    pub deadline: Duration,
    /// Fetching for a new set of visible rows waits at least this long after the last fetch.
    pub min_gap: Duration,
}

impl Timing {
    pub fn from_settings(s: &crate::config::Settings) -> Self {
        Timing {
            metrics: Duration::from_secs(s.refresh.metrics_secs),
            inventory: Duration::from_secs(s.refresh.inventory_secs),
            alarms: Duration::from_secs(s.refresh.alarms_secs),
            deadline: s.timeouts.region(),
            min_gap: Duration::from_secs(2),
        }
    }
}

struct RegionPoller {
    wanted: watch::Sender<Vec<FunctionRef>>,
    refresh: Arc<Notify>,
    /// Reads the alarms again now (a loop of its own: one notify wakes one waiter).
    refresh_alarms: Arc<Notify>,
    /// Fetches every wanted function's metrics again now.
    refresh_metrics: Arc<Notify>,
    tasks: Vec<JoinHandle<()>>,
}

/// The pollers of every region. Dropping it stops them.
pub struct Pollers {
    regions: Vec<RegionPoller>,
}

impl Drop for Pollers {
    fn drop(&mut self) {
        for r in &self.regions {
            for t in &r.tasks {
                t.abort();
            }
        }
    }
}

impl Pollers {
    /// Sets the functions region `region`'s metrics poller fetches from now on.
    pub fn want(&self, region: usize, functions: Vec<FunctionRef>) {
        if let Some(r) = self.regions.get(region) {
            r.wanted.send_replace(functions);
        }
    }

    /// Re-reads inventory and alarms everywhere now, and with `metrics` every wanted
    /// function's numbers too (`r`; an action's own refresh leaves the metrics to their minute).
    pub fn refresh(&self, metrics: bool) {
        for r in &self.regions {
            r.refresh.notify_one();
            r.refresh_alarms.notify_one();
            if metrics {
                r.refresh_metrics.notify_one();
            }
        }
    }
}

/// `read`, with a panic inside it (a bug, in lops or the SDK) turned into the read's error: the
/// loop then goes on, backing off, and the region says what failed rather than loading forever.
async fn caught<T>(
    read: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    use futures::FutureExt;
    std::panic::AssertUnwindSafe(read)
        .catch_unwind()
        .await
        .unwrap_or_else(|panic| {
            let what = panic
                .downcast_ref::<String>()
                .map(String::as_str)
                .or_else(|| panic.downcast_ref::<&str>().copied())
                .unwrap_or("no message");
            Err(ProviderError::Service(format!(
                "internal error (a bug: please report it, with the log): {what}"
            )))
        })
}

/// Exponential backoff after `failures` failures in a row, capped by `cap`.
fn backoff(failures: u32, cap: Duration) -> Duration {
    let secs = 2u64.saturating_pow(failures.min(6));
    Duration::from_secs(secs).min(cap)
}

/// How long the alarms loop waits before its next read: the interval (give or take), and after
/// failures in a row never less, growing from the fifth.
fn alarms_wait(failures: u32, interval: Duration, region: usize, seq: u64) -> Duration {
    if failures == 0 {
        jitter(interval, region, seq)
    } else {
        backoff(failures, interval * 6).max(interval)
    }
}

/// ±10 % so regions do not all ask at the same instant.
fn jitter(d: Duration, region: usize, seq: u64) -> Duration {
    let spread = ((region as u64 * 7 + seq * 13) % 21) as f64 / 100.0 - 0.1;
    d.mul_f64(1.0 + spread)
}

pub fn spawn<S: RegionSource>(
    sources: &[Arc<S>],
    tx: mpsc::Sender<Msg>,
    timing: Timing,
) -> Pollers {
    let regions = sources
        .iter()
        .enumerate()
        .map(|(i, source)| {
            let (wanted, wanted_rx) = watch::channel(Vec::new());
            let refresh = Arc::new(Notify::new());
            let refresh_alarms = Arc::new(Notify::new());
            let refresh_metrics = Arc::new(Notify::new());
            let tasks = vec![
                tokio::spawn(inventory_loop(
                    i,
                    source.clone(),
                    tx.clone(),
                    timing,
                    refresh.clone(),
                )),
                tokio::spawn(alarms_loop(
                    i,
                    source.clone(),
                    tx.clone(),
                    timing,
                    refresh_alarms.clone(),
                )),
                tokio::spawn(metrics_loop(
                    i,
                    source.clone(),
                    tx.clone(),
                    timing,
                    wanted_rx,
                    refresh_metrics.clone(),
                )),
            ];
            RegionPoller {
                wanted,
                refresh,
                refresh_alarms,
                refresh_metrics,
                tasks,
            }
        })
        .collect();
    Pollers { regions }
}

async fn inventory_loop<S: RegionSource>(
    region: usize,
    source: Arc<S>,
    tx: mpsc::Sender<Msg>,
    timing: Timing,
    refresh: Arc<Notify>,
) {
    let mut seq = 0;
    let mut failures = 0;
    loop {
        seq += 1;
        // Lambda alone: a CloudWatch outage must not fail the inventory. No deadline: a large
        // region takes what its size needs (each call has its own timeout), and its rows land
        // page by page. A snapshot the loop cannot take now is skipped; the next one follows.
        let progress_tx = tx.clone();
        let progress = move |inventory: Inventory| {
            let _ = progress_tx.try_send(Msg::Inventory {
                region,
                seq,
                at: Utc::now(),
                result: Ok(inventory),
            });
        };
        let result = caught(source.inventory_with(&progress)).await;
        failures = if result.is_ok() { 0 } else { failures + 1 };
        let msg = Msg::Inventory {
            region,
            seq,
            at: Utc::now(),
            result,
        };
        if tx.send(msg).await.is_err() {
            return;
        }
        let wait = if failures == 0 {
            timing.inventory
        } else {
            backoff(failures, timing.inventory)
        };
        tokio::select! {
            _ = tokio::time::sleep(jitter(wait, region, seq)) => {}
            _ = refresh.notified() => {}
        }
    }
}

async fn alarms_loop<S: RegionSource>(
    region: usize,
    source: Arc<S>,
    tx: mpsc::Sender<Msg>,
    timing: Timing,
    refresh: Arc<Notify>,
) {
    let mut seq = 0;
    let mut failures = 0;
    loop {
        // At once, then every interval; after failures in a row, further apart (a failing
        // region is not asked as often as a healthy one). `r` asks now.
        if seq > 0 {
            tokio::select! {
                _ = tokio::time::sleep(alarms_wait(failures, timing.alarms, region, seq)) => {}
                _ = refresh.notified() => {}
            }
        }
        seq += 1;
        let result = timed(timing.deadline, caught(source.alarms())).await;
        failures = if result.is_ok() { 0 } else { failures + 1 };
        if tx
            .send(Msg::Alarms {
                region,
                seq,
                at: Utc::now(),
                result,
            })
            .await
            .is_err()
        {
            return;
        }
    }
}

/// How often the percentile batch is asked for a function: p50/p99 over 5 to 60 minutes move
/// slowly, and each costs as much as a per-minute series.
pub const PERCENTILES_EVERY: Duration = Duration::from_secs(5 * 60);

/// The period (of `every`, aligned to the clock) `at` falls in.
fn period_of(at: chrono::DateTime<Utc>, every: Duration) -> i64 {
    at.timestamp().div_euclid(every.as_secs().max(1) as i64)
}

/// When the period after `at`'s begins, plus a few seconds per region so regions do not ask at
/// the same instant (and CloudWatch has the minute that just ended).
fn next_period(at: chrono::DateTime<Utc>, every: Duration, region: usize) -> Duration {
    let secs = every.as_secs().max(1) as i64;
    let next_ms = (period_of(at, every) + 1) * secs * 1000;
    let offset_ms = ((2 + (region as i64 * 3) % 7) * 1000).min(secs * 100);
    let wait_ms = next_ms + offset_ms - at.timestamp_millis();
    Duration::from_millis(wait_ms.max(0) as u64)
}

/// What the metrics loop has fetched of each function: the period, the period its
/// percentiles were last asked in, and the aliases it was asked with (new aliases are asked at
/// once).
#[derive(Default)]
struct Fetched {
    functions: std::collections::HashMap<String, FetchedFunction>,
    totals: Option<i64>,
}

struct FetchedFunction {
    period: i64,
    percentiles: Option<i64>,
    aliases: Vec<(String, Vec<String>)>,
}

/// Periods between two percentile batches of a function: [`PERCENTILES_EVERY`] in periods of
/// `every`, at least one.
fn percentile_periods(every: Duration) -> i64 {
    (PERCENTILES_EVERY.as_secs().div_ceil(every.as_secs().max(1)) as i64).max(1)
}

impl Fetched {
    /// The wanted functions whose numbers for `period` are not fetched yet (or whose aliases
    /// changed), each marked with whether its percentiles are due: every `pct_periods`
    /// periods, counted in periods so that a request's own latency never delays them.
    fn due(&self, wanted: &[FunctionRef], period: i64, pct_periods: i64) -> Vec<FunctionRef> {
        wanted
            .iter()
            .filter_map(|f| {
                let before = self.functions.get(&f.name);
                let fresh = before.is_some_and(|b| b.period >= period && b.aliases == f.aliases);
                (!fresh).then(|| FunctionRef {
                    percentiles: before
                        .and_then(|b| b.percentiles)
                        .is_none_or(|p| period - p >= pct_periods),
                    ..f.clone()
                })
            })
            .collect()
    }

    fn done(&mut self, group: &[FunctionRef], period: i64) {
        for f in group {
            let entry = self
                .functions
                .entry(f.name.clone())
                .or_insert(FetchedFunction {
                    period,
                    percentiles: None,
                    aliases: Vec::new(),
                });
            entry.period = period;
            entry.aliases = f.aliases.clone();
            if f.percentiles {
                entry.percentiles = Some(period);
            }
        }
    }
}

/// Metrics for the functions the screen wants, once per period (a minute by default: the
/// resolution of Lambda's metrics, so asking more often pays again for the same data).
/// Functions that scroll into view are fetched at once, only they; the percentile batch is
/// asked every [`PERCENTILES_EVERY`]; `r` (`force`) fetches everything again now.
async fn metrics_loop<S: RegionSource>(
    region: usize,
    source: Arc<S>,
    tx: mpsc::Sender<Msg>,
    timing: Timing,
    mut wanted: watch::Receiver<Vec<FunctionRef>>,
    force: Arc<Notify>,
) {
    let mut seq = 0;
    let mut failures = 0;
    let mut last_fetch: Option<Instant> = None;
    let mut fetched = Fetched::default();
    let mut asked = false;
    // Functions whose numbers a read failed to bring, since when, and the last failure's
    // words: said by every group's answer until they are read (a later round's groups that
    // answer whole do not make them fresh), while they are still wanted.
    // Asked again until they answer, on screen or not (a view that no longer shows one does
    // not make the region's numbers whole; one deleted since answers empty, and goes).
    let mut unread: BTreeMap<String, (DateTime<Utc>, FunctionRef)> = BTreeMap::new();
    let mut unread_why = String::new();
    loop {
        let mut functions = wanted.borrow_and_update().clone();
        for (name, (_, f)) in &unread {
            if !functions.iter().any(|w| &w.name == name) {
                functions.push(f.clone());
            }
        }
        let now = Utc::now();
        let period = period_of(now, timing.metrics);
        let due = fetched.due(&functions, period, percentile_periods(timing.metrics));
        // With nothing wanted (no function left, none on screen) a region read before keeps
        // its totals and its metrics health current: an old failure is never left standing
        // because no function asks again.
        let totals_only = due.is_empty() && fetched.totals.is_none_or(|p| p < period) && asked;
        if due.is_empty() && !totals_only {
            let wait = if functions.is_empty() && !asked {
                Duration::from_secs(3600)
            } else {
                next_period(now, timing.metrics, region)
            };
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                changed = wanted.changed() => if changed.is_err() { return },
                _ = force.notified() => fetched = Fetched::default(),
            }
            continue;
        }
        if let Some(last) = last_fetch {
            tokio::time::sleep_until(last + timing.min_gap).await;
        }
        last_fetch = Some(Instant::now());
        // Read once (`r` forgets what was fetched, not that): the totals keep being read.
        asked = true;
        // In groups the endpoint can answer in time: each lands on screen as it comes.
        let window = TimeWindow::ending_at(now);
        let mut failed = false;
        // What this round's groups left out so far: each group's answer carries it, so that a
        // later group answering whole does not make an earlier one's gap unsaid.
        let (mut left_out, mut numbers_missing) = (Vec::<String>::new(), false);
        let groups: Vec<&[FunctionRef]> = match totals_only {
            true => vec![&[]],
            false => due.chunks(source.metrics_group().max(1)).collect(),
        };
        for group in groups {
            seq += 1;
            let totals = fetched.totals.is_none_or(|p| p < period);
            let request = MetricsRequest {
                functions: group.to_vec(),
                window,
                region_totals: totals,
                // The charts show minutes.
                period_minutes: 1,
                only: None,
                every_figure: false,
            };
            let mut result = timed(timing.deadline, caught(source.metrics(&request))).await;
            let asked_at = Utc::now();
            for f in group {
                match &result {
                    Ok(snapshot) if snapshot.functions.contains_key(&f.name) => {
                        unread.remove(&f.name);
                    }
                    Ok(snapshot) if !snapshot.numbers_missing => {}
                    _ => {
                        unread
                            .entry(f.name.clone())
                            .or_insert((asked_at, f.clone()));
                    }
                }
            }
            match result.as_mut() {
                Ok(snapshot) => {
                    if let Some(why) = snapshot.incomplete.take()
                        && !left_out.contains(&why)
                    {
                        left_out.push(why);
                    }
                    numbers_missing |= snapshot.numbers_missing;
                    snapshot.numbers_missing = numbers_missing;
                    snapshot.incomplete = (!left_out.is_empty()).then(|| left_out.join("; "));
                }
                Err(e) => {
                    numbers_missing = true;
                    // With the call and the setting that would help, as a whole read's failure.
                    let said = crate::provider::explain("metrics", "GetMetricData", e);
                    left_out.push(format!(
                        "the numbers of {} function{} not read: {}",
                        group.len(),
                        if group.len() == 1 { "" } else { "s" },
                        said.trim_start_matches("metrics: ")
                    ))
                }
            }
            if numbers_missing && let Some(why) = left_out.last() {
                unread_why = why.clone();
            }
            // Left unread by an earlier round and not asked again yet in this one: still said
            // (beside a split or percentiles this answer left out, which leave numbers whole).
            let since = unread.values().map(|(t, _)| *t).min();
            if let (Ok(snapshot), Some(since)) = (result.as_mut(), since)
                && !numbers_missing
            {
                snapshot.numbers_missing = true;
                let note = format!(
                    "the numbers of {} function{} not read since {} ({unread_why})",
                    unread.len(),
                    if unread.len() == 1 { "" } else { "s" },
                    since.format("%H:%M:%SZ")
                );
                snapshot.incomplete = Some(match snapshot.incomplete.take() {
                    Some(other) => format!("{note}; {other}"),
                    None => note,
                });
            }
            match &result {
                Ok(snapshot) => {
                    if totals {
                        fetched.totals = Some(period);
                    }
                    // What a split batch left out is asked again next time.
                    let answered: Vec<FunctionRef> = group
                        .iter()
                        .filter(|f| snapshot.functions.contains_key(&f.name))
                        .cloned()
                        .collect();
                    fetched.done(&answered, period);
                    failed |= answered.len() < group.len() && snapshot.incomplete.is_some();
                }
                Err(_) => failed = true,
            }
            if tx
                .send(Msg::Metrics {
                    region,
                    seq,
                    at: Utc::now(),
                    result,
                })
                .await
                .is_err()
            {
                return;
            }
        }
        failures = if failed { failures + 1 } else { 0 };
        if failures > 0 {
            let wait = backoff(failures, timing.metrics * 6);
            tokio::select! {
                _ = tokio::time::sleep(jitter(wait, region, seq)) => {}
                _ = force.notified() => fetched = Fetched::default(),
            }
        }
    }
}

#[cfg(test)]
#[path = "poller_tests.rs"]
mod tests;
