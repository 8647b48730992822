//! Metrics (GetMetricData, batched) and alarms (DescribeAlarms) from CloudWatch.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
use chrono::{DateTime, TimeZone, Utc};

use super::clients::Clients;
use super::error::classify;
use crate::provider::{
    Alarm, AlarmState, FunctionMetrics, MetricWindow, MetricsRequest, Percentiles, ProviderError,
    Series, TimeWindow, VersionInvocations, empty_series,
};

/// GetMetricData's limit of queries per request.
pub const QUERIES_PER_CALL: usize = 500;

/// One query's meaning, so results can be put back where they belong.
#[derive(Debug, Clone)]
enum Slot {
    Region {
        kind: SeriesKind,
    },
    Series {
        function: usize,
        kind: SeriesKind,
    },
    Version {
        function: usize,
        alias: String,
        version: String,
    },
    Percentile {
        function: usize,
        window: MetricWindow,
        p99: bool,
    },
}

#[derive(Debug, Clone, Copy)]
enum SeriesKind {
    Invocations,
    Errors,
    Throttles,
    DurationAvg,
    DurationMax,
    Concurrency,
}

impl SeriesKind {
    const ALL: [SeriesKind; 6] = [
        SeriesKind::Invocations,
        SeriesKind::Errors,
        SeriesKind::Throttles,
        SeriesKind::DurationAvg,
        SeriesKind::DurationMax,
        SeriesKind::Concurrency,
    ];

    /// Account-level metrics AWS publishes without a FunctionName dimension.
    const REGION: [SeriesKind; 4] = [
        SeriesKind::Invocations,
        SeriesKind::Errors,
        SeriesKind::Throttles,
        SeriesKind::Concurrency,
    ];

    fn metric_and_stat(self) -> (&'static str, &'static str) {
        match self {
            SeriesKind::Invocations => ("Invocations", "Sum"),
            SeriesKind::Errors => ("Errors", "Sum"),
            SeriesKind::Throttles => ("Throttles", "Sum"),
            SeriesKind::DurationAvg => ("Duration", "Average"),
            SeriesKind::DurationMax => ("Duration", "Maximum"),
            SeriesKind::Concurrency => ("ConcurrentExecutions", "Maximum"),
        }
    }

    fn series(self, m: &mut FunctionMetrics) -> &mut Series {
        match self {
            SeriesKind::Invocations => &mut m.invocations,
            SeriesKind::Errors => &mut m.errors,
            SeriesKind::Throttles => &mut m.throttles,
            SeriesKind::DurationAvg => &mut m.duration_avg,
            SeriesKind::DurationMax => &mut m.duration_max,
            SeriesKind::Concurrency => &mut m.concurrency_max,
        }
    }
}

/// The queries for one refresh: the per-minute batch, and the percentile batch kept apart
/// because some endpoints reject the whole request when it holds a percentile statistic.
pub struct QueryPlan {
    main: Vec<(MetricDataQuery, Slot)>,
    percentiles: Vec<(MetricDataQuery, Slot)>,
}

fn dim(name: &str, value: &str) -> Dimension {
    Dimension::builder().name(name).value(value).build()
}

pub(super) fn query(
    id: String,
    metric: &str,
    dims: Vec<Dimension>,
    stat: &str,
    period: i32,
) -> MetricDataQuery {
    MetricDataQuery::builder()
        .id(id)
        .metric_stat(
            MetricStat::builder()
                .metric(
                    Metric::builder()
                        .namespace("AWS/Lambda")
                        .metric_name(metric)
                        .set_dimensions(Some(dims))
                        .build(),
                )
                .period(period)
                .stat(stat)
                .build(),
        )
        .return_data(true)
        .build()
}

impl QueryPlan {
    pub fn new(request: &MetricsRequest, with_percentiles: bool) -> Self {
        let mut main = Vec::new();
        let mut percentiles = Vec::new();
        if request.region_totals {
            for kind in SeriesKind::REGION {
                let (metric, stat) = kind.metric_and_stat();
                let id = format!("q{}", main.len());
                main.push((
                    query(id, metric, Vec::new(), stat, 60),
                    Slot::Region { kind },
                ));
            }
        }
        for (i, f) in request.functions.iter().enumerate() {
            let by_name = || vec![dim("FunctionName", &f.name)];
            for kind in SeriesKind::ALL {
                let (metric, stat) = kind.metric_and_stat();
                let id = format!("q{}", main.len());
                main.push((
                    query(id, metric, by_name(), stat, 60),
                    Slot::Series { function: i, kind },
                ));
            }
            for (alias, versions) in &f.aliases {
                for version in versions {
                    let dims = vec![
                        dim("FunctionName", &f.name),
                        dim("Resource", &format!("{}:{}", f.name, alias)),
                        dim("ExecutedVersion", version),
                    ];
                    let id = format!("q{}", main.len());
                    main.push((
                        query(id, "Invocations", dims, "Sum", 60),
                        Slot::Version {
                            function: i,
                            alias: alias.clone(),
                            version: version.clone(),
                        },
                    ));
                }
            }
            if with_percentiles {
                for window in MetricWindow::ALL {
                    for p99 in [false, true] {
                        let id = format!("p{}", percentiles.len());
                        let stat = if p99 { "p99" } else { "p50" };
                        let period = (window.minutes() * 60) as i32;
                        percentiles.push((
                            query(id, "Duration", by_name(), stat, period),
                            Slot::Percentile {
                                function: i,
                                window,
                                p99,
                            },
                        ));
                    }
                }
            }
        }
        QueryPlan { main, percentiles }
    }

    pub fn main_queries(&self) -> usize {
        self.main.len()
    }

    pub fn percentile_queries(&self) -> usize {
        self.percentiles.len()
    }
}

fn aws_time(t: DateTime<Utc>) -> AwsTime {
    AwsTime::from_secs(t.timestamp())
}

fn chrono_time(t: &AwsTime) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(t.secs(), 0).single()
}

impl Clients {
    /// Runs one batch (at most [`QUERIES_PER_CALL`] queries per request, following NextToken)
    /// and returns (timestamp, value) pairs per query index.
    async fn run_batch(
        &self,
        batch: &[(MetricDataQuery, Slot)],
        window: TimeWindow,
        single_attempt: bool,
    ) -> Result<Vec<Vec<(DateTime<Utc>, f64)>>, ProviderError> {
        let mut points: Vec<Vec<(DateTime<Utc>, f64)>> = vec![Vec::new(); batch.len()];
        for (chunk_no, chunk) in batch.chunks(QUERIES_PER_CALL).enumerate() {
            let base = chunk_no * QUERIES_PER_CALL;
            let index: BTreeMap<&str, usize> = chunk
                .iter()
                .enumerate()
                .filter_map(|(i, (q, _))| Some((q.id()?, base + i)))
                .collect();
            let mut next_token = None;
            loop {
                self.cloudwatch_limit.acquire().await;
                let mut call = self
                    .cloudwatch
                    .get_metric_data()
                    .set_metric_data_queries(Some(chunk.iter().map(|(q, _)| q.clone()).collect()))
                    .start_time(aws_time(window.start()))
                    .end_time(aws_time(window.end))
                    .set_next_token(next_token)
                    .customize();
                if single_attempt {
                    call = call.config_override(
                        aws_sdk_cloudwatch::config::Builder::default()
                            .retry_config(aws_config::retry::RetryConfig::disabled()),
                    );
                }
                let out = call
                    .send()
                    .await
                    .map_err(|e| classify(e, self.operation_timeout.as_secs_f64()))?;
                for result in out.metric_data_results.unwrap_or_default() {
                    let Some(&i) = result.id.as_deref().and_then(|id| index.get(id)) else {
                        continue;
                    };
                    let times = result.timestamps.unwrap_or_default();
                    let values = result.values.unwrap_or_default();
                    points[i].extend(
                        times
                            .iter()
                            .zip(values)
                            .filter_map(|(t, v)| Some((chrono_time(t)?, v))),
                    );
                }
                next_token = out.next_token.filter(|t| !t.is_empty());
                if next_token.is_none() {
                    break;
                }
            }
        }
        Ok(points)
    }

    /// Fetches the plan; the percentile batch's failure is reported separately (`Err` in the
    /// second element) and never costs the other numbers.
    pub async fn fetch_metrics(
        &self,
        request: &MetricsRequest,
        plan: &QueryPlan,
    ) -> Result<FetchedMetrics, ProviderError> {
        let window = request.window;
        let main = self.run_batch(&plan.main, window, false);
        let pct = async {
            if plan.percentiles.is_empty() {
                Ok(Vec::new())
            } else {
                self.run_batch(&plan.percentiles, window, true).await
            }
        };
        let (main, pct) = tokio::join!(main, pct);
        let main = main?;
        let mut metrics: Vec<FunctionMetrics> =
            vec![FunctionMetrics::default(); request.functions.len()];
        let mut region = request.region_totals.then(FunctionMetrics::default);
        for ((_, slot), points) in plan.main.iter().zip(main) {
            match slot {
                Slot::Series { function, kind } => {
                    fill(kind.series(&mut metrics[*function]), window, &points);
                }
                Slot::Version {
                    function,
                    alias,
                    version,
                } => {
                    let mut invocations = empty_series();
                    fill(&mut invocations, window, &points);
                    metrics[*function].alias_versions.push(VersionInvocations {
                        alias: alias.clone(),
                        version: version.clone(),
                        invocations,
                    });
                }
                Slot::Region { kind } => {
                    if let Some(region) = region.as_mut() {
                        fill(kind.series(region), window, &points);
                    }
                }
                Slot::Percentile { .. } => {}
            }
        }
        let pct_result = pct.map(|pct| {
            for ((_, slot), points) in plan.percentiles.iter().zip(pct) {
                if let Slot::Percentile {
                    function,
                    window: w,
                    p99,
                } = slot
                {
                    let wanted = window.end - chrono::TimeDelta::minutes(w.minutes() as i64);
                    let value = points.iter().find(|(t, _)| *t == wanted).map(|(_, v)| *v);
                    let entry: &mut Percentiles =
                        metrics[*function].percentiles.entry(*w).or_default();
                    if *p99 {
                        entry.p99 = value;
                    } else {
                        entry.p50 = value;
                    }
                }
            }
        });
        let by_name = request
            .functions
            .iter()
            .map(|f| f.name.clone())
            .zip(metrics)
            .collect();
        Ok(FetchedMetrics {
            functions: by_name,
            region,
            percentiles: pct_result,
        })
    }

    pub async fn describe_alarms(&self) -> Result<Vec<Alarm>, ProviderError> {
        let mut alarms = Vec::new();
        let mut next_token = None;
        loop {
            self.cloudwatch_limit.acquire().await;
            let page = self
                .cloudwatch
                .describe_alarms()
                .set_next_token(next_token)
                .send()
                .await
                .map_err(|e| classify(e, self.operation_timeout.as_secs_f64()))?;
            alarms.extend(page.metric_alarms.unwrap_or_default().into_iter().map(|a| {
                let function = a
                    .dimensions
                    .unwrap_or_default()
                    .into_iter()
                    .find(|d| d.name.as_deref() == Some("FunctionName"))
                    .and_then(|d| d.value);
                Alarm {
                    name: a.alarm_name.unwrap_or_default(),
                    state: AlarmState::parse(
                        a.state_value.as_ref().map(|s| s.as_str()).unwrap_or(""),
                    ),
                    reason: a.state_reason,
                    metric: a.metric_name,
                    function,
                }
            }));
            next_token = page.next_token.filter(|t| !t.is_empty());
            if next_token.is_none() {
                alarms.sort_by(|a, b| a.name.cmp(&b.name));
                return Ok(alarms);
            }
        }
    }
}

pub struct FetchedMetrics {
    pub functions: BTreeMap<String, FunctionMetrics>,
    pub region: Option<FunctionMetrics>,
    /// The percentile batch's own outcome; its failure never costs the other numbers.
    pub percentiles: Result<(), ProviderError>,
}

fn fill(series: &mut Series, window: TimeWindow, points: &[(DateTime<Utc>, f64)]) {
    for (t, v) in points {
        if let Some(slot) = window.slot(*t) {
            series.set(slot, *v);
        }
    }
}
