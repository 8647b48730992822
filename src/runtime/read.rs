//! One complete read of a region: inventory, alarms and metrics, each of which answers or fails
//! on its own. Used by `lops status`. A region is unreachable only when nothing about it
//! answered; otherwise what answered is shown and what failed is named.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::StreamExt;
use futures::future::join_all;

use crate::provider::{
    Alarm, FunctionRef, Inventory, MetricsRequest, MetricsSnapshot, ProviderError, RegionSource,
    Scope, TimeWindow, explain,
};

#[derive(Debug, Clone)]
pub struct RegionReport {
    pub scope: Scope,
    /// Functions from Lambda.
    pub inventory: Result<Inventory, ProviderError>,
    /// Alarm states from CloudWatch.
    pub alarms: Result<Vec<Alarm>, ProviderError>,
    /// Numbers from CloudWatch; not read when the inventory failed (nothing to ask for).
    pub metrics: Result<MetricsSnapshot, ReadError>,
    pub elapsed: Duration,
    /// CloudWatch metrics this read requested (what GetMetricData bills).
    pub metrics_requested: u64,
}

/// Told each time a region's inventory lands a page or fills in.
pub type OnProgress<'a> = &'a (dyn Fn(&Scope, &Inventory) + Send + Sync);

/// What a read of a region includes beyond the inventory's own calls.
#[derive(Clone, Copy, Default)]
pub struct ReadOptions<'a> {
    /// Also read what the inventory leaves for on demand (every alias, provisioned
    /// concurrency): one or two more calls per function.
    pub extras: bool,
    pub progress: Option<OnProgress<'a>>,
    /// Only this window's figures are shown: read just them ([`MetricsRequest::only`]).
    pub only: Option<crate::provider::MetricWindow>,
    /// With `only`: its every figure ([`MetricsRequest::every_figure`]).
    pub every_figure: bool,
}

/// Why a read has no answer.
#[derive(Debug, Clone, PartialEq)]
pub enum ReadError {
    Failed(ProviderError),
    /// It depends on a read that failed.
    NotRead,
}

impl RegionReport {
    /// Nothing about the region answered.
    pub fn unreachable(&self) -> bool {
        self.inventory.is_err() && self.alarms.is_err()
    }

    /// Every read answered whole.
    pub fn complete(&self) -> bool {
        self.failures().is_empty()
    }

    /// What failed, one line each, naming the call and the setting that would help.
    pub fn failures(&self) -> Vec<String> {
        let mut out = Vec::new();
        // The inventory and the alarms failing alike (no credentials, no connection): said
        // once, not the same long message twice.
        let alike = matches!((&self.inventory, &self.alarms), (Err(a), Err(b)) if a == b);
        match &self.inventory {
            Err(e) if alike => out.push(explain(
                "inventory and alarms",
                "ListFunctions and DescribeAlarms",
                e,
            )),
            Err(e) => out.push(explain("inventory", "ListFunctions", e)),
            Ok(_) => {}
        }
        if let Ok(Inventory {
            incomplete: Some(why),
            ..
        }) = &self.inventory
        {
            // What the CLI shows of it: those listed, and no others.
            out.push(format!("{why} (those are shown)"));
        }
        if let Ok(inventory) = &self.inventory {
            // Named with why (the first few): the one to look at, and the permission missing.
            out.extend(crate::provider::details_failure(&inventory.functions));
            out.extend(inventory.account_settings_error.clone());
        }
        if let Err(e) = &self.alarms
            && !alike
        {
            out.push(explain("alarms", "DescribeAlarms", e));
        }
        match &self.metrics {
            Err(ReadError::Failed(e)) => out.push(explain("metrics", "GetMetricData", e)),
            Ok(m) => {
                if let Some(why) = &m.incomplete {
                    out.push(format!("metrics: {why}"));
                }
            }
            Err(ReadError::NotRead) => {}
        }
        out
    }
}

/// `work` within the region deadline (alarms, metrics); past it, the read says which setting
/// bounds it. The inventory has none: it takes what its size needs, each call bounded by its
/// own timeout, and keeps every page that answered.
async fn within<T>(
    deadline: Duration,
    work: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    super::timed(deadline, work).await
}

/// Reads one region: the inventory, then metrics for every function listed (five-minute
/// points: the 5, 15 and 60-minute figures need no more), with the alarms alongside. Alarms
/// and metrics each have their own `deadline` and neither waits for the other, so a slow one
/// costs only its own answer.
pub async fn read_region<S: RegionSource>(
    source: &S,
    deadline: Duration,
    options: ReadOptions<'_>,
) -> RegionReport {
    let started = Instant::now();
    let metrics_before = source.metrics_requested();
    let inventory_then_metrics = async {
        let inventory = read_inventory(source, options).await;
        let metrics = match &inventory {
            Err(_) => Err(ReadError::NotRead),
            Ok(inv) if inv.functions.is_empty() => Ok(MetricsSnapshot::default()),
            Ok(inv) => {
                let request = MetricsRequest {
                    functions: inv.functions.iter().map(FunctionRef::from_info).collect(),
                    window: TimeWindow::ending_at(Utc::now()),
                    // Status reads every function, so totals are their sum: no extra queries.
                    region_totals: false,
                    period_minutes: 5,
                    only: options.only,
                    every_figure: options.every_figure,
                };
                within(deadline, source.metrics(&request))
                    .await
                    .map_err(ReadError::Failed)
            }
        };
        (inventory, metrics)
    };
    let ((inventory, metrics), alarms) =
        tokio::join!(inventory_then_metrics, within(deadline, source.alarms()));
    RegionReport {
        scope: source.scope().clone(),
        inventory,
        alarms,
        metrics,
        elapsed: started.elapsed(),
        metrics_requested: source.metrics_requested().saturating_sub(metrics_before),
    }
}

/// The inventory, and with `options.extras` what it leaves for on demand; a function whose
/// extras fail is marked, not dropped.
async fn read_inventory<S: RegionSource>(
    source: &S,
    options: ReadOptions<'_>,
) -> Result<Inventory, ProviderError> {
    let progress = |partial: Inventory| {
        if let Some(tell) = options.progress {
            tell(source.scope(), &partial);
        }
    };
    let mut inventory = source.inventory_with(&progress).await?;
    if options.extras {
        // Only what is not read: aliases of functions without a published version,
        // provisioned concurrency of those with one (it cannot exist on the others).
        let mut wanted = Vec::new();
        for (i, f) in inventory.functions.iter_mut().enumerate() {
            let want = f.extras_wanted(false);
            if want.aliases || want.provisioned {
                wanted.push((i, f.name.clone(), want));
            } else {
                f.add_extras(crate::provider::FunctionExtras::default());
            }
        }
        let extras: Vec<_> = futures::stream::iter(wanted)
            .map(|(i, name, want)| async move { (i, source.extras(&name, want).await) })
            .buffer_unordered(8)
            .collect()
            .await;
        for (i, result) in extras {
            let f = &mut inventory.functions[i];
            match result {
                Ok(extras) => f.add_extras(extras),
                Err(e) => {
                    f.detail_error.get_or_insert_with(|| e.to_string());
                }
            }
        }
    }
    Ok(inventory)
}

/// Reads every region at once; the result keeps the order of `sources`.
pub async fn read_all<S: RegionSource>(
    sources: &[S],
    deadline: Duration,
    options: ReadOptions<'_>,
) -> Vec<RegionReport> {
    join_all(sources.iter().map(|s| read_region(s, deadline, options))).await
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The inventory and the alarms failing alike (no credentials, no connection) are said
    /// once; apart, each is said.
    #[test]
    fn reads_failing_alike_are_said_once() {
        let scope = Scope::new("a", "us-east-1", crate::config::Access::default());
        let e = ProviderError::Invalid("cannot load AWS credentials for profile 'a'".into());
        let mut report = RegionReport {
            scope,
            inventory: Err(e.clone()),
            alarms: Err(e),
            metrics: Err(ReadError::NotRead),
            elapsed: Duration::ZERO,
            metrics_requested: 0,
        };
        let failures = report.failures();
        assert_eq!(failures.len(), 1, "{failures:?}");
        assert!(
            failures[0].starts_with("inventory and alarms: ListFunctions and DescribeAlarms"),
            "{failures:?}"
        );
        report.alarms = Err(ProviderError::Timeout(10.0));
        let failures = report.failures();
        assert_eq!(failures.len(), 2, "{failures:?}");
        assert!(failures[1].starts_with("alarms: DescribeAlarms timed out"));
    }
}
