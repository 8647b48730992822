//! Guard signals for traffic plans from CloudWatch: a version's error rate, named alarms.

use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, MetricDataQuery};
use chrono::{DurationRound, TimeDelta, Utc};

use super::AwsRegion;
use crate::provider::{AlarmState, GuardSignals, ProviderError};

fn query(id: &str, metric: &str, dims: &[(&str, String)]) -> MetricDataQuery {
    let dimensions = dims
        .iter()
        .map(|(n, v)| Dimension::builder().name(*n).value(v).build())
        .collect();
    super::metric_queries::query(id.to_string(), metric, dimensions, "Sum", 60)
}

impl GuardSignals for AwsRegion {
    async fn version_errors(
        &self,
        function: &str,
        alias: &str,
        version: &str,
        minutes: u32,
    ) -> Result<(f64, f64), ProviderError> {
        let now = Utc::now();
        let end = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now) + TimeDelta::minutes(1);
        let start = end - TimeDelta::minutes(i64::from(minutes) + 1);
        let dims = [
            ("FunctionName", function.to_string()),
            ("Resource", format!("{function}:{alias}")),
            ("ExecutedVersion", version.to_string()),
        ];
        let request = self
            .clients
            .cloudwatch
            .get_metric_data()
            .metric_data_queries(query("inv", "Invocations", &dims))
            .metric_data_queries(query("err", "Errors", &dims))
            .start_time(AwsTime::from_secs(start.timestamp()))
            .end_time(AwsTime::from_secs(end.timestamp()))
            .send();
        let clients = &self.clients;
        let out = clients.call(&clients.cloudwatch_limit, request).await?;
        // Answered: billed (a failed request is not).
        clients
            .metrics_requested
            .fetch_add(2, std::sync::atomic::Ordering::Relaxed);
        let mut invocations = 0.0;
        let mut errors = 0.0;
        for r in out.metric_data_results.unwrap_or_default() {
            let sum: f64 = r.values.unwrap_or_default().iter().sum();
            match r.id.as_deref() {
                Some("inv") => invocations += sum,
                Some("err") => errors += sum,
                _ => {}
            }
        }
        Ok((invocations, errors))
    }

    async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, AlarmState)>, ProviderError> {
        if names.is_empty() {
            return Ok(Vec::new());
        }
        // Every page, in requests of at most 100 names (DescribeAlarms's limit): an alarm
        // past the first 50 answered is not taken as deleted.
        let clients = &self.clients;
        let mut found = Vec::new();
        for chunk in names.chunks(100) {
            let mut next_token = None;
            loop {
                let request = clients
                    .cloudwatch
                    .describe_alarms()
                    .set_alarm_names(Some(chunk.to_vec()))
                    .set_next_token(next_token)
                    .send();
                let out = clients.call(&clients.cloudwatch_limit, request).await?;
                found.extend(out.metric_alarms.unwrap_or_default().into_iter().map(|a| {
                    let state =
                        AlarmState::parse(a.state_value.as_ref().map(|s| s.as_str()).unwrap_or(""));
                    (a.alarm_name.unwrap_or_default(), state)
                }));
                next_token = out.next_token.filter(|t| !t.is_empty());
                if next_token.is_none() {
                    break;
                }
            }
        }
        Ok(found)
    }
}
