//! One set of background tasks per region: inventory (rarely, or on demand), alarms, and
//! metrics (every tick, only for what the screen wants). They own their source, send owned
//! snapshots tagged with a sequence number, skip when busy (each loop awaits its own call),
//! back off on failure, and never touch UI state.

use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use tokio::sync::{Notify, mpsc, watch};
use tokio::task::JoinHandle;
use tokio::time::Instant;

use super::timed;
use crate::provider::{FunctionRef, MetricsRequest, RegionSource, TimeWindow};
use crate::state::Msg;

#[derive(Debug, Clone, Copy)]
pub struct Timing {
    pub metrics: Duration,
    pub inventory: Duration,
    pub alarms: Duration,
    /// A whole inventory or metrics fetch gives up after this long.
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

    /// Re-reads inventory and alarms everywhere now.
    pub fn refresh(&self) {
        for r in &self.regions {
            r.refresh.notify_one();
        }
    }
}

/// Exponential backoff after `failures` failures in a row, capped by `cap`.
fn backoff(failures: u32, cap: Duration) -> Duration {
    let secs = 2u64.saturating_pow(failures.min(6));
    Duration::from_secs(secs).min(cap)
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
            let tasks = vec![
                tokio::spawn(inventory_loop(
                    i,
                    source.clone(),
                    tx.clone(),
                    timing,
                    refresh.clone(),
                )),
                tokio::spawn(alarms_loop(i, source.clone(), tx.clone(), timing)),
                tokio::spawn(metrics_loop(
                    i,
                    source.clone(),
                    tx.clone(),
                    timing,
                    wanted_rx,
                )),
            ];
            RegionPoller {
                wanted,
                refresh,
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
        // Lambda alone: a CloudWatch outage must not fail the inventory.
        let result = timed(timing.deadline, source.inventory()).await;
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
) {
    let mut seq = 0;
    loop {
        // At once, then every interval.
        if seq > 0 {
            tokio::time::sleep(jitter(timing.alarms, region, seq)).await;
        }
        seq += 1;
        let result = timed(timing.deadline, source.alarms()).await;
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

async fn metrics_loop<S: RegionSource>(
    region: usize,
    source: Arc<S>,
    tx: mpsc::Sender<Msg>,
    timing: Timing,
    mut wanted: watch::Receiver<Vec<FunctionRef>>,
) {
    let mut seq = 0;
    let mut failures = 0;
    let mut last_fetch: Option<Instant> = None;
    loop {
        let functions = wanted.borrow_and_update().clone();
        if functions.is_empty() {
            if wanted.changed().await.is_err() {
                return;
            }
            continue;
        }
        if let Some(last) = last_fetch {
            tokio::time::sleep_until(last + timing.min_gap).await;
        }
        last_fetch = Some(Instant::now());
        // In groups the endpoint can answer in time: each lands on screen as it comes.
        let window = TimeWindow::ending_at(Utc::now());
        let mut failed = false;
        for (i, group) in functions.chunks(source.metrics_group().max(1)).enumerate() {
            seq += 1;
            let request = MetricsRequest {
                functions: group.to_vec(),
                window,
                region_totals: i == 0,
                // The charts show minutes.
                period_minutes: 1,
            };
            let result = timed(timing.deadline, source.metrics(&request)).await;
            failed |= result.is_err();
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
        let wait = if failures == 0 {
            timing.metrics
        } else {
            backoff(failures, timing.metrics * 6)
        };
        tokio::select! {
            _ = tokio::time::sleep(jitter(wait, region, seq)) => {}
            changed = wanted.changed() => if changed.is_err() { return },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn backoff_doubles_up_to_the_cap() {
        let cap = Duration::from_secs(60);
        assert_eq!(backoff(1, cap), Duration::from_secs(2));
        assert_eq!(backoff(3, cap), Duration::from_secs(8));
        assert_eq!(backoff(30, cap), Duration::from_secs(60));
    }

    #[test]
    fn jitter_stays_within_ten_percent() {
        let d = Duration::from_secs(10);
        for region in 0..5 {
            for seq in 0..30 {
                let j = jitter(d, region, seq).as_secs_f64();
                assert!((9.0..=11.0).contains(&j), "{j}");
            }
        }
    }
}
