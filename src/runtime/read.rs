//! One complete read of a region: inventory and alarms, then metrics for every function.
//! Used by `lops status` and as the first load of the TUI.

use std::time::{Duration, Instant};

use chrono::Utc;
use futures::future::join_all;

use crate::provider::{
    Alarm, FunctionRef, Inventory, MetricsRequest, MetricsSnapshot, ProviderError, RegionSource,
    Scope, TimeWindow,
};

#[derive(Debug, Clone)]
pub struct RegionReport {
    pub scope: Scope,
    pub result: Result<RegionData, ProviderError>,
    pub elapsed: Duration,
}

#[derive(Debug, Clone, Default)]
pub struct RegionData {
    pub inventory: Inventory,
    pub metrics: MetricsSnapshot,
    pub alarms: Vec<Alarm>,
}

/// Reads one region completely, giving up after `deadline` so a hung region cannot hold
/// the others.
pub async fn read_region<S: RegionSource>(source: &S, deadline: Duration) -> RegionReport {
    let started = Instant::now();
    let work = async {
        let (inventory, alarms) = tokio::join!(source.inventory(), source.alarms());
        let inventory = inventory?;
        let alarms = alarms?;
        let request = MetricsRequest {
            functions: inventory
                .functions
                .iter()
                .map(FunctionRef::from_info)
                .collect(),
            window: TimeWindow::ending_at(Utc::now()),
            // Status reads every function, so totals are their sum: no extra queries.
            region_totals: false,
        };
        let metrics = if request.functions.is_empty() {
            MetricsSnapshot::default()
        } else {
            source.metrics(&request).await?
        };
        Ok(RegionData {
            inventory,
            metrics,
            alarms,
        })
    };
    let result = match tokio::time::timeout(deadline, work).await {
        Ok(r) => r,
        Err(_) => Err(ProviderError::Timeout(deadline.as_secs_f64())),
    };
    RegionReport {
        scope: source.scope().clone(),
        result,
        elapsed: started.elapsed(),
    }
}

/// Reads every region at once; the result keeps the order of `sources`.
pub async fn read_all<S: RegionSource>(sources: &[S], deadline: Duration) -> Vec<RegionReport> {
    join_all(sources.iter().map(|s| read_region(s, deadline))).await
}
