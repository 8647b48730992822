//! The AWS provider used as a library, as the TUI's pollers use it.

use lops::config::Settings;
use lops::provider::aws::{AwsRegion, CallCounter, Clients};
use lops::provider::{FunctionRef, MetricsRequest, RegionSource, Scope, TimeWindow};

use crate::support::moto;
use crate::support::proxy::FaultProxy;
use crate::support::seed::Seeder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentile_batch_is_not_retried_once_the_endpoint_rejected_it() {
    let region = "us-west-1";
    let proxy = FaultProxy::start(moto::url());
    let prefix = moto::unique("pct");
    let fleet = Seeder::new(moto::url(), region)
        .await
        .fleet(&prefix, 2)
        .await;
    let source = aws_region(&proxy.url, region).await;
    let inventory = source.inventory().await.expect("inventory");
    let request = MetricsRequest {
        functions: inventory
            .functions
            .iter()
            .filter(|f| f.name.starts_with(&prefix))
            .map(FunctionRef::from_info)
            .collect(),
        window: TimeWindow::ending_at(chrono::Utc::now()),
        region_totals: false,
        period_minutes: 1,
    };
    assert_eq!(request.functions.len(), fleet.len());

    let first = source.metrics(&request).await.expect("metrics");
    assert!(!first.percentiles_supported);
    assert_eq!(
        proxy.calls(region, "monitoring", "GetMetricData"),
        2,
        "one main batch, one percentile attempt"
    );
    let second = source.metrics(&request).await.expect("metrics");
    assert_eq!(
        proxy.calls(region, "monitoring", "GetMetricData"),
        3,
        "the percentile batch is not asked again"
    );
    let name = &fleet[0].name;
    assert_eq!(
        first.functions[name].invocations,
        second.functions[name].invocations
    );
    assert_eq!(
        lops::provider::sum_last(&second.functions[name].invocations, 60),
        450.0
    );
}

async fn aws_region(endpoint: &str, region: &str) -> AwsRegion {
    let settings = Settings::default();
    let scope = Scope::new("default", region, lops::config::Access::default());
    let config = crate::support::seed::sdk_config(endpoint, region).await;
    AwsRegion::new(Clients::from_sdk_config(
        scope,
        &config,
        &settings,
        &CallCounter::default(),
    ))
}
