//! Seeds a fleet into moto through the real SDK clients: functions, versions, weighted
//! aliases, reserved concurrency, per-minute metrics and alarms.

use std::io::Write;

use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_credential_types::Credentials;
use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{
    ComparisonOperator, Dimension, MetricDatum, StandardUnit, StateValue, Statistic,
};
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, Environment, FunctionCode, Runtime};
use chrono::{DurationRound, TimeDelta, Utc};

use super::moto::role_arn;

pub async fn sdk_config(endpoint: &str, region: &str) -> SdkConfig {
    aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(endpoint)
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            "testing",
            "testing",
            None,
            None,
            "lops-tests",
        ))
        .load()
        .await
}

pub struct Seeder {
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    region: String,
}

/// A zip holding a one-line handler; `marker` makes each package's bytes (and hash) distinct.
pub fn code_zip(marker: &str) -> Vec<u8> {
    let mut buf = std::io::Cursor::new(Vec::new());
    {
        let mut zip = zip::ZipWriter::new(&mut buf);
        let options = zip::write::SimpleFileOptions::default()
            .compression_method(zip::CompressionMethod::Stored);
        zip.start_file("handler.py", options).expect("zip entry");
        writeln!(
            zip,
            "def handler(event, context):\n    return {{'marker': '{marker}'}}"
        )
        .expect("zip write");
        zip.finish().expect("zip finish");
    }
    buf.into_inner()
}

/// What one seeded function has, for assertions.
#[derive(Debug, Clone, Default)]
pub struct SeededFunction {
    pub name: String,
    pub invocations_per_minute: f64,
    pub errors_per_minute: f64,
    pub seeded_minutes: usize,
    pub alias_weight: Option<f64>,
    pub reserved: Option<i32>,
}

impl Seeder {
    /// A function's reserved concurrency, as Lambda has it (read apart from lops).
    pub async fn reserved(&self, function: &str) -> Option<i32> {
        self.lambda
            .get_function_concurrency()
            .function_name(function)
            .send()
            .await
            .expect("get concurrency")
            .reserved_concurrent_executions
    }

    pub fn region(&self) -> &str {
        &self.region
    }

    pub async fn new(endpoint: &str, region: &str) -> Seeder {
        let config = sdk_config(endpoint, region).await;
        Seeder {
            lambda: aws_sdk_lambda::Client::new(&config),
            cloudwatch: aws_sdk_cloudwatch::Client::new(&config),
            region: region.to_string(),
        }
    }

    pub async fn create_function(&self, name: &str) {
        self.lambda
            .create_function()
            .function_name(name)
            .runtime(Runtime::Python312)
            .role(role_arn(&self.region))
            .handler("handler.handler")
            .memory_size(256)
            .timeout(30)
            .code(
                FunctionCode::builder()
                    .zip_file(Blob::new(code_zip(name)))
                    .build(),
            )
            .tags("team", "payments")
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    }

    /// Publishes a new version whose configuration differs (moto keeps one code object).
    pub async fn publish_version(&self, name: &str, marker: &str) -> String {
        self.lambda
            .update_function_configuration()
            .function_name(name)
            .environment(Environment::builder().variables("RELEASE", marker).build())
            .send()
            .await
            .unwrap_or_else(|e| panic!("update {name}: {e:?}"));
        self.lambda
            .publish_version()
            .function_name(name)
            .send()
            .await
            .unwrap_or_else(|e| panic!("publish {name}: {e:?}"))
            .version
            .unwrap_or_default()
    }

    pub async fn create_alias(
        &self,
        name: &str,
        alias: &str,
        main: &str,
        extra: Option<(&str, f64)>,
    ) {
        let mut call = self
            .lambda
            .create_alias()
            .function_name(name)
            .name(alias)
            .function_version(main);
        if let Some((v, w)) = extra {
            call = call.routing_config(
                AliasRoutingConfiguration::builder()
                    .additional_version_weights(v, w)
                    .build(),
            );
        }
        call.send()
            .await
            .unwrap_or_else(|e| panic!("alias {name}:{alias}: {e:?}"));
    }

    pub async fn reserve(&self, name: &str, n: i32) {
        self.lambda
            .put_function_concurrency()
            .function_name(name)
            .reserved_concurrent_executions(n)
            .send()
            .await
            .unwrap_or_else(|e| panic!("concurrency {name}: {e:?}"));
    }

    /// Puts per-minute datapoints for minutes `first..=last` ago (whole minutes, counted back
    /// from the current one). Minutes well inside the hour keep 60-minute sums stable even if
    /// a test crosses a minute boundary.
    pub async fn put_metric(
        &self,
        dims: &[(&str, &str)],
        metric: &str,
        value: f64,
        unit: StandardUnit,
        minutes_ago: std::ops::RangeInclusive<i64>,
    ) {
        let now = Utc::now()
            .duration_trunc(TimeDelta::minutes(1))
            .expect("trunc");
        let dimensions: Vec<Dimension> = dims
            .iter()
            .map(|(n, v)| Dimension::builder().name(*n).value(*v).build())
            .collect();
        let data: Vec<MetricDatum> = minutes_ago
            .map(|m| {
                let t = now - TimeDelta::minutes(m) + TimeDelta::seconds(10);
                MetricDatum::builder()
                    .metric_name(metric)
                    .set_dimensions(Some(dimensions.clone()))
                    .timestamp(AwsTime::from_secs(t.timestamp()))
                    .value(value)
                    .unit(unit.clone())
                    .build()
            })
            .collect();
        for chunk in data.chunks(500) {
            self.cloudwatch
                .put_metric_data()
                .namespace("AWS/Lambda")
                .set_metric_data(Some(chunk.to_vec()))
                .send()
                .await
                .unwrap_or_else(|e| panic!("put {metric}: {e:?}"));
        }
    }

    pub async fn put_error_alarm(&self, alarm: &str, function: &str, state: Option<StateValue>) {
        self.cloudwatch
            .put_metric_alarm()
            .alarm_name(alarm)
            .namespace("AWS/Lambda")
            .metric_name("Errors")
            .dimensions(
                Dimension::builder()
                    .name("FunctionName")
                    .value(function)
                    .build(),
            )
            .statistic(Statistic::Sum)
            .period(60)
            .evaluation_periods(1)
            .threshold(5.0)
            .comparison_operator(ComparisonOperator::GreaterThanThreshold)
            .send()
            .await
            .unwrap_or_else(|e| panic!("alarm {alarm}: {e:?}"));
        if let Some(state) = state {
            self.cloudwatch
                .set_alarm_state()
                .alarm_name(alarm)
                .state_value(state)
                .state_reason("Threshold Crossed: seeded by the test")
                .send()
                .await
                .unwrap_or_else(|e| panic!("set state {alarm}: {e:?}"));
        }
    }

    /// A fleet of `count` functions named `{prefix}-fn{i}`: every third has two versions and a
    /// `live` alias at 80/20, every fourth has reserved concurrency, all have 45 minutes of
    /// per-minute metrics; one alarm in ALARM on the first function, one OK alarm on the second.
    pub async fn fleet(&self, prefix: &str, count: usize) -> Vec<SeededFunction> {
        let mut seeded = Vec::new();
        for i in 0..count {
            let name = format!("{prefix}-fn{i}");
            self.create_function(&name).await;
            let mut f = SeededFunction {
                name: name.clone(),
                invocations_per_minute: (10 * (i + 1)) as f64,
                errors_per_minute: (i % 3) as f64,
                seeded_minutes: 45,
                ..Default::default()
            };
            let by_name = [("FunctionName", name.as_str())];
            let minutes = 3..=47;
            self.put_metric(
                &by_name,
                "Invocations",
                f.invocations_per_minute,
                StandardUnit::Count,
                minutes.clone(),
            )
            .await;
            self.put_metric(
                &by_name,
                "Errors",
                f.errors_per_minute,
                StandardUnit::Count,
                minutes.clone(),
            )
            .await;
            self.put_metric(
                &by_name,
                "Duration",
                100.0 + i as f64,
                StandardUnit::Milliseconds,
                minutes.clone(),
            )
            .await;
            self.put_metric(
                &by_name,
                "ConcurrentExecutions",
                (i + 2) as f64,
                StandardUnit::Count,
                minutes.clone(),
            )
            .await;
            if i % 3 == 0 {
                let v1 = self.publish_version(&name, "one").await;
                let v2 = self.publish_version(&name, "two").await;
                self.create_alias(&name, "live", &v1, Some((&v2, 0.2)))
                    .await;
                f.alias_weight = Some(0.2);
                let resource = format!("{name}:live");
                for (v, n) in [(&v1, 8.0), (&v2, 2.0)] {
                    let dims = [
                        ("FunctionName", name.as_str()),
                        ("Resource", resource.as_str()),
                        ("ExecutedVersion", v.as_str()),
                    ];
                    self.put_metric(&dims, "Invocations", n, StandardUnit::Count, 3..=12)
                        .await;
                }
            }
            if i % 4 == 1 {
                self.reserve(&name, 50).await;
                f.reserved = Some(50);
            }
            seeded.push(f);
        }
        if let Some(first) = seeded.first() {
            self.put_error_alarm(
                &format!("{prefix}-errors-{}", first.name),
                &first.name,
                Some(StateValue::Alarm),
            )
            .await;
        }
        if let Some(second) = seeded.get(1) {
            self.put_error_alarm(
                &format!("{prefix}-errors-{}", second.name),
                &second.name,
                Some(StateValue::Ok),
            )
            .await;
        }
        seeded
    }
}

/// A function with versions 1 and 2 and an alias `live` on version 1, in its own region.
pub async fn canary(region: &str, prefix: &str) -> (Seeder, String) {
    let seeder = Seeder::new(super::moto::url(), region).await;
    let name = format!("{}-api", super::moto::unique(prefix));
    seeder.create_function(&name).await;
    seeder.publish_version(&name, "one").await;
    seeder.publish_version(&name, "two").await;
    seeder.create_alias(&name, "live", "1", None).await;
    (seeder, name)
}

impl Seeder {
    /// `invocations` and `errors` of `version` through `function`'s `live` alias a minute ago,
    /// as CloudWatch counts them (`ExecutedVersion`).
    pub async fn version_ran(&self, function: &str, version: &str, invocations: f64, errors: f64) {
        let resource = format!("{function}:live");
        let dims = [
            ("FunctionName", function),
            ("Resource", resource.as_str()),
            ("ExecutedVersion", version),
        ];
        for (metric, n) in [("Invocations", invocations), ("Errors", errors)] {
            self.put_metric(&dims, metric, n, StandardUnit::Count, 1..=1)
                .await;
        }
    }

    /// Polls until the `live` alias routes as `want` (main, extra weight) or `secs` pass;
    /// returns how long it took.
    pub async fn wait_for_routing(
        &self,
        function: &str,
        want: (&str, Option<f64>),
        secs: u64,
    ) -> std::time::Duration {
        let started = std::time::Instant::now();
        loop {
            let (main, weights) = self.routing(function).await;
            let extra = weights.first().map(|(_, w)| *w);
            if main == want.0 && extra == want.1 {
                return started.elapsed();
            }
            assert!(
                started.elapsed() < std::time::Duration::from_secs(secs),
                "alias is {main} {weights:?}, waiting for {want:?}"
            );
            tokio::time::sleep(std::time::Duration::from_millis(100)).await;
        }
    }

    /// Gives `version` the share `weight` of the `live` alias, as someone editing it by hand.
    /// The `live` alias on its main version alone (no second version), behind lops's back.
    pub async fn clear_routing(&self, function: &str) {
        self.lambda
            .update_alias()
            .function_name(function)
            .name("live")
            .routing_config(AliasRoutingConfiguration::builder().build())
            .send()
            .await
            .expect("update alias");
    }

    pub async fn set_extra_weight(&self, function: &str, version: &str, weight: f64) {
        self.lambda
            .update_alias()
            .function_name(function)
            .name("live")
            .routing_config(
                AliasRoutingConfiguration::builder()
                    .additional_version_weights(version, weight)
                    .build(),
            )
            .send()
            .await
            .expect("update alias");
    }

    /// The `live` alias's main version and extra weights, read straight from the emulator.
    pub async fn routing(&self, function: &str) -> (String, Vec<(String, f64)>) {
        let a = self
            .lambda
            .get_alias()
            .function_name(function)
            .name("live")
            .send()
            .await
            .expect("get alias");
        let mut weights: Vec<(String, f64)> = a
            .routing_config
            .and_then(|r| r.additional_version_weights)
            .unwrap_or_default()
            .into_iter()
            .collect();
        weights.sort_by(|a, b| a.0.cmp(&b.0));
        (a.function_version.unwrap_or_default(), weights)
    }
}

/// A rollout of `f` in `region` (`plan_args` with `steps`, its first step `first` on v2), run
/// by `lops` and killed with -9 once that share is on the alias: saved as running, owned by
/// no one alive.
pub async fn killed_after_first_step(
    lops: &crate::support::cli::Lops,
    seeder: &Seeder,
    f: &str,
    region: &str,
    steps: &str,
    first: f64,
) {
    let mut child = lops.spawn(&crate::support::cli::plan_args(f, region, steps));
    seeder.wait_for_routing(f, ("1", Some(first)), 20).await;
    child.kill().expect("kill -9");
    let _ = child.wait();
}
