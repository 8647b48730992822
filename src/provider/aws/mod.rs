//! The real AWS provider: one [`AwsRegion`] per profile × region.

mod blob;
mod call;
mod clients;
mod cloudwatch;
mod dns;
mod download;
mod endpoint;
mod error;
mod function;
mod function_config;
mod function_writes;
mod gate;
mod guard;
mod lambda;
mod live_tail;
mod log_events;
mod metric_queries;
mod region_actions;
mod triggers;

use std::sync::Mutex;
use std::time::{Duration, Instant};

pub use call::every_page;
pub use clients::{
    CODE_DOWNLOAD_BASE_ENV, CallCount, CallCounter, CallKey, Clients, assume_role, aws_profiles,
    env_keys, has_own_credentials, load_sdk_config,
};
pub use cloudwatch::QUERIES_PER_CALL;
pub use endpoint::check_endpoints;
pub use error::{NO_CREDENTIALS, chain as error_chain, classify};
pub use metric_queries::QueryBatches;

use super::{
    Alarm, FunctionExtras, Inventory, MetricsRequest, MetricsSnapshot, NotRead, ProviderError,
    RegionSource, Scope,
};

/// How long lops believes an endpoint that rejected percentile statistics before asking again.
const PERCENTILE_RETRY_AFTER: Duration = Duration::from_secs(15 * 60);

#[derive(Debug)]
pub struct AwsRegion {
    pub clients: Clients,
    percentiles_unsupported_until: Mutex<Option<Instant>>,
    /// Log group per function, read once.
    log_groups: Mutex<std::collections::HashMap<String, String>>,
    /// Who lops acts as here (GetCallerIdentity), read once.
    caller: tokio::sync::OnceCell<String>,
}

impl AwsRegion {
    pub fn new(clients: Clients) -> Self {
        AwsRegion {
            clients,
            percentiles_unsupported_until: Mutex::new(None),
            log_groups: Mutex::default(),
            caller: tokio::sync::OnceCell::new(),
        }
    }

    fn percentiles_wanted(&self) -> bool {
        self.percentiles_unsupported_until
            .lock()
            .map(|until| until.is_none_or(|t| Instant::now() >= t))
            .unwrap_or(true)
    }

    fn percentiles_failed(&self) {
        if let Ok(mut until) = self.percentiles_unsupported_until.lock() {
            *until = Some(Instant::now() + PERCENTILE_RETRY_AFTER);
        }
    }
}

impl RegionSource for AwsRegion {
    fn scope(&self) -> &Scope {
        &self.clients.scope
    }

    async fn inventory_with(
        &self,
        progress: &(dyn Fn(Inventory) + Send + Sync),
    ) -> Result<Inventory, ProviderError> {
        self.clients.inventory_with(progress).await
    }

    async fn extras(&self, function: &str, want: NotRead) -> Result<FunctionExtras, ProviderError> {
        self.clients.extras(function, want).await
    }

    fn metrics_requested(&self) -> u64 {
        self.clients
            .metrics_requested
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    async fn metrics(&self, request: &MetricsRequest) -> Result<MetricsSnapshot, ProviderError> {
        let with_percentiles = self.percentiles_wanted();
        let plan = QueryBatches::new(request, with_percentiles);
        let fetched = self.clients.fetch_metrics(request, &plan).await?;
        let percentiles_supported = with_percentiles && fetched.percentiles.is_ok();
        if let Err(e) = fetched.percentiles {
            tracing::info!(scope = %self.clients.scope, error = %e, "percentile statistics unavailable; will ask again later");
            self.percentiles_failed();
        }
        Ok(MetricsSnapshot {
            window_end: Some(request.window.end),
            functions: fetched.functions,
            percentiles_supported,
            region_totals: fetched.region,
            incomplete: fetched.incomplete,
            numbers_missing: fetched.numbers_missing,
            partly_read: fetched.partly_read,
        })
    }

    async fn alarms(&self) -> Result<Vec<Alarm>, ProviderError> {
        self.clients.describe_alarms().await
    }

    fn calls(&self) -> u64 {
        self.clients.counter.total_for(&self.clients.scope)
    }

    fn metrics_group(&self) -> usize {
        // About seven queries a function (six series and its alias versions).
        let batch = self
            .clients
            .metric_batch
            .load(std::sync::atomic::Ordering::Relaxed);
        (batch / 7).max(1)
    }
}
