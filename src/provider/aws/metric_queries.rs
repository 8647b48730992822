//! What one metrics read asks CloudWatch: its GetMetricData queries, grouped into requests by
//! the minutes each spans, and what each query's answer means.

use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};

use crate::provider::{FunctionMetrics, MetricWindow, MetricsRequest, Series};

/// One query's meaning, so results can be put back where they belong.
#[derive(Debug, Clone)]
pub(super) enum Slot {
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
pub(super) enum SeriesKind {
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

    pub(super) fn series(self, m: &mut FunctionMetrics) -> &mut Series {
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

/// The queries for one refresh, in requests by the minutes each spans (ending at the window's
/// end). The percentile requests are kept apart because some endpoints reject a whole request
/// that holds a percentile statistic.
pub struct QueryBatches {
    /// Minutes per point of a function's (or the region's) series, and of an alias's versions.
    pub(super) series_minutes: usize,
    pub(super) version_minutes: usize,
    /// Series and versions: (minutes the request spans, its queries), always apart. Every
    /// window: both over the hour. One window: its series over that window and the versions
    /// over the minutes the split is judged on — CloudWatch's work grows with the points a
    /// request spans, and the bill does not change.
    pub(super) main: Vec<(usize, Vec<Query>)>,
    /// Percentile batches, shortest span first: (minutes the request spans, its queries).
    pub(super) percentiles: Vec<(usize, Vec<Query>)>,
}

/// A query and what its answer means.
pub(super) type Query = (MetricDataQuery, Slot);

/// The minutes a percentile request for `window` spans. A percentile is one number per window,
/// not a sum of smaller ones, so its request need not cover the hour: the 5- and 15-minute
/// figures share a request over the last 15 minutes (3 points at 5-minute periods, the last
/// being the 5-minute figure, and 1 at 15), the hour's is 1 point over the hour — 5 points a
/// statistic where one request over the hour returned 17, for the same metrics requested.
fn percentile_span(window: MetricWindow) -> usize {
    match window {
        MetricWindow::M5 | MetricWindow::M15 => 15,
        MetricWindow::M60 => 60,
    }
}

/// The minutes an alias's observed split is judged on (the versions' invocations).
const SPLIT_MINUTES: usize = 15;

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

impl QueryBatches {
    pub fn new(request: &MetricsRequest, with_percentiles: bool) -> Self {
        let every = request.period_minutes.max(1) as usize;
        // One window shown: one point for it, 15 minutes for an alias's split, its p99 only (its
        // p50 too for every figure).
        let (series_minutes, version_minutes) = match request.only {
            Some(w) => (w.minutes(), SPLIT_MINUTES),
            None => (every, every),
        };
        // Every window: one request over the hour; one window: each over its own minutes.
        let (series_span, version_span) = match request.only {
            Some(_) => (series_minutes, version_minutes),
            None => (crate::provider::MINUTES, crate::provider::MINUTES),
        };
        let period = (series_minutes * 60) as i32;
        let version_period = (version_minutes * 60) as i32;
        let windows = request.only.map_or(MetricWindow::ALL.to_vec(), |w| vec![w]);
        let span_of = |w: MetricWindow| match request.only {
            Some(_) => w.minutes(),
            None => percentile_span(w),
        };
        let stats: &[bool] = if request.only.is_some() && !request.every_figure {
            &[true]
        } else {
            &[false, true]
        };
        let mut series: Vec<Query> = Vec::new();
        let mut splits: Vec<Query> = Vec::new();
        // Ids are unique over the read, whichever request a query goes in.
        let next_id =
            |series: &Vec<Query>, splits: &Vec<Query>| format!("q{}", series.len() + splits.len());
        let mut spans: Vec<usize> = windows.iter().map(|w| span_of(*w)).collect();
        spans.sort_unstable();
        spans.dedup();
        let mut percentiles: Vec<(usize, Vec<Query>)> =
            spans.iter().map(|span| (*span, Vec::new())).collect();
        let mut percentile_ids = 0;
        if request.region_totals {
            for kind in SeriesKind::REGION {
                let (metric, stat) = kind.metric_and_stat();
                let id = next_id(&series, &splits);
                series.push((
                    query(id, metric, Vec::new(), stat, period),
                    Slot::Region { kind },
                ));
            }
        }
        for (i, f) in request.functions.iter().enumerate() {
            let by_name = || vec![dim("FunctionName", &f.name)];
            // One window shown (a table): its longest duration is not one of its columns.
            let shown = |kind: &SeriesKind| {
                request.only.is_none()
                    || request.every_figure
                    || !matches!(kind, SeriesKind::DurationMax)
            };
            for kind in SeriesKind::ALL.iter().copied().filter(shown) {
                let (metric, stat) = kind.metric_and_stat();
                let id = next_id(&series, &splits);
                series.push((
                    query(id, metric, by_name(), stat, period),
                    Slot::Series { function: i, kind },
                ));
            }
            for (alias, versions) in &f.aliases {
                // The alias's own total (every version it ran): what the versions asked do not
                // account for is said as other versions, never hidden.
                let dims = vec![
                    dim("FunctionName", &f.name),
                    dim("Resource", &format!("{}:{}", f.name, alias)),
                ];
                let id = next_id(&series, &splits);
                splits.push((
                    query(id, "Invocations", dims, "Sum", version_period),
                    Slot::Version {
                        function: i,
                        alias: alias.clone(),
                        version: crate::provider::ALL_VERSIONS.to_string(),
                    },
                ));
                for version in versions {
                    let dims = vec![
                        dim("FunctionName", &f.name),
                        dim("Resource", &format!("{}:{}", f.name, alias)),
                        dim("ExecutedVersion", version),
                    ];
                    let id = next_id(&series, &splits);
                    splits.push((
                        query(id, "Invocations", dims, "Sum", version_period),
                        Slot::Version {
                            function: i,
                            alias: alias.clone(),
                            version: version.clone(),
                        },
                    ));
                }
            }
            if with_percentiles && f.percentiles {
                for window in windows.iter().copied() {
                    let span = span_of(window);
                    let at = spans.iter().position(|m| *m == span).unwrap_or(0);
                    for p99 in stats.iter().copied() {
                        let id = format!("p{percentile_ids}");
                        percentile_ids += 1;
                        let stat = if p99 { "p99" } else { "p50" };
                        let period = (window.minutes() * 60) as i32;
                        percentiles[at].1.push((
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
        percentiles.retain(|(_, batch)| !batch.is_empty());
        // The split always in a request of its own, even over the same minutes: a request that
        // fails costs only what it held, and the split is worth less than the numbers.
        let mut main = vec![(series_span, series), (version_span, splits)];
        main.retain(|(_, batch)| !batch.is_empty());
        QueryBatches {
            series_minutes,
            version_minutes,
            main,
            percentiles,
        }
    }

    pub fn main_queries(&self) -> usize {
        self.main.iter().map(|(_, batch)| batch.len()).sum()
    }

    pub fn percentile_queries(&self) -> usize {
        self.percentiles.iter().map(|(_, batch)| batch.len()).sum()
    }
}
