//! Metrics (GetMetricData, batched) and alarms (DescribeAlarms) from CloudWatch.

use std::collections::BTreeMap;

use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
use chrono::{DateTime, TimeDelta, TimeZone, Utc};

use super::clients::Clients;
use super::error::classify_for;
use super::metric_queries::{Query, QueryBatches, Slot};
use crate::provider::{
    Alarm, AlarmState, FunctionMetrics, MetricsRequest, Percentiles, ProviderError, Series,
    TimeWindow, VersionInvocations, empty_series,
};

/// GetMetricData's limit of queries per request.
pub const QUERIES_PER_CALL: usize = 500;

/// The start and end of one GetMetricData request.
type Span = (DateTime<Utc>, DateTime<Utc>);

/// When a metrics read's requests must have ended: a little before the read's own deadline, so
/// that what answered is handed back rather than lost with the read.
type Until = tokio::time::Instant;

fn aws_time(t: DateTime<Utc>) -> AwsTime {
    AwsTime::from_secs(t.timestamp())
}

fn chrono_time(t: &AwsTime) -> Option<DateTime<Utc>> {
    Utc.timestamp_opt(t.secs(), 0).single()
}

#[path = "metric_parts.rs"]
mod parts;

/// The smallest batch a slow GetMetricData is split down to; one this small that still fails
/// is given up (its functions' numbers are missing, the rest are kept). A batch this small
/// from the start is asked a second time when it timed out, as the halves of a larger one are.
const MIN_SPLIT: usize = 8;

/// Points per query index of a batch, and which queries got none because their request failed.
struct BatchResult {
    points: Vec<Vec<(DateTime<Utc>, f64)>>,
    failed: Vec<bool>,
    error: Option<ProviderError>,
}

impl Clients {
    /// One GetMetricData request for `queries` (following NextToken), within the metrics budget
    /// and the read's deadline, with one attempt: a slow or throttled batch is split by the
    /// caller, not repeated whole.
    async fn get_metric_data(
        &self,
        queries: &[Query],
        (start, end): Span,
        until: Until,
    ) -> Result<Vec<Vec<(DateTime<Utc>, f64)>>, ProviderError> {
        let mut points: Vec<Vec<(DateTime<Utc>, f64)>> = vec![Vec::new(); queries.len()];
        let index: BTreeMap<&str, usize> = queries
            .iter()
            .enumerate()
            .filter_map(|(i, (q, _))| Some((q.id()?, i)))
            .collect();
        let budget = self.metrics_timeout;
        let mut next_token = None;
        let past_deadline = || ProviderError::past_deadline(self.metrics_deadline);
        loop {
            if tokio::time::Instant::now() >= until {
                return Err(past_deadline());
            }
            // Not the shared call path: its own budget, one attempt (a batch that times out is
            // split by the caller, not sent again whole).
            self.cloudwatch_limit.acquire().await;
            if tokio::time::Instant::now() >= until {
                return Err(past_deadline());
            }
            let send = self
                .cloudwatch
                .get_metric_data()
                .set_metric_data_queries(Some(queries.iter().map(|(q, _)| q.clone()).collect()))
                .start_time(aws_time(start))
                .end_time(aws_time(end))
                .set_next_token(next_token)
                .customize()
                .config_override(
                    aws_sdk_cloudwatch::config::Builder::default()
                        .retry_config(aws_config::retry::RetryConfig::disabled())
                        .timeout_config(
                            aws_config::timeout::TimeoutConfig::builder()
                                .operation_timeout(budget)
                                .operation_attempt_timeout(budget)
                                .build(),
                        ),
                )
                .send();
            // Whether it went out (not still waiting for its turn at the gate).
            let sent = std::sync::atomic::AtomicBool::new(false);
            let send = async {
                sent.store(true, std::sync::atomic::Ordering::Relaxed);
                send.await
            };
            let out = match &self.metrics_gate {
                Some(gate) => tokio::time::timeout_at(until, gate.run(send)).await,
                None => tokio::time::timeout_at(until, send).await,
            };
            let Ok(out) = out else {
                // Cut at the read's deadline: billed if it went out, as a timeout is.
                if sent.load(std::sync::atomic::Ordering::Relaxed) {
                    self.metrics_requested
                        .fetch_add(queries.len() as u64, std::sync::atomic::Ordering::Relaxed);
                }
                return Err(past_deadline());
            };
            // What CloudWatch answered is what it bills, and a request whose answer timed out
            // was most likely delivered (a connection that failed or timed out is a dispatch
            // failure: never sent); one refused, throttled or never delivered (an outage)
            // costs nothing, and the meter says so.
            if matches!(
                out,
                Ok(_) | Err(aws_sdk_cloudwatch::error::SdkError::TimeoutError(_))
            ) {
                self.metrics_requested
                    .fetch_add(queries.len() as u64, std::sync::atomic::Ordering::Relaxed);
            }
            let out = out.map_err(|e| classify_for(e, budget.as_secs_f64(), "CloudWatch"))?;
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
                return Ok(points);
            }
        }
    }

    /// A percentile batch, one try. Until this endpoint has answered one, its first
    /// [`MIN_SPLIT`] queries are asked alone: an endpoint that refuses percentiles (an
    /// emulator) is then not asked, and made to work, for all of them. The answered part is
    /// kept either way.
    async fn percentile_batch(&self, batch: &[Query], span: Span, until: Until) -> BatchResult {
        use std::sync::atomic::Ordering::Relaxed;
        if self.percentiles_served.load(Relaxed) || batch.len() <= MIN_SPLIT {
            let r = self.run_batch(batch, span, until, false).await;
            if r.error.is_none() {
                self.percentiles_served.store(true, Relaxed);
            }
            return r;
        }
        let (first, rest) = batch.split_at(MIN_SPLIT);
        let mut r = self.run_batch(first, span, until, false).await;
        if r.error.is_some() {
            r.points.resize(batch.len(), Vec::new());
            r.failed.resize(batch.len(), true);
            return r;
        }
        self.percentiles_served.store(true, Relaxed);
        let more = self.run_batch(rest, span, until, false).await;
        r.points.extend(more.points);
        r.failed.extend(more.failed);
        // The endpoint serves percentiles: those the first part read are kept, the rest are
        // missing this time, and said.
        r.error = more.error;
        r
    }

    /// Fetches the plan; the percentile batch's failure is reported separately (`Err` in
    /// `percentiles`) and never costs the other numbers, and a part of the main batch that did
    /// not answer leaves out only the functions it held.
    pub async fn fetch_metrics(
        &self,
        request: &MetricsRequest,
        plan: &QueryBatches,
    ) -> Result<FetchedMetrics, ProviderError> {
        let window = request.window;
        let span = |minutes: usize| (window.end - TimeDelta::minutes(minutes as i64), window.end);
        // The read's deadline starts about now (the caller's clock started just before).
        let deadline = self.metrics_deadline;
        let until = tokio::time::Instant::now() + deadline
            - (deadline / 10).min(std::time::Duration::from_millis(500));
        let main = futures::future::join_all(
            plan.main
                .iter()
                .map(|(minutes, batch)| self.run_batch(batch, span(*minutes), until, true)),
        );
        let pct = async {
            let (mut answered, mut later) = (Vec::new(), None);
            for (minutes, batch) in &plan.percentiles {
                // Optional numbers: one try, never split (not worth the calls); one after the
                // other, so that an endpoint that refuses percentiles is asked once, not once
                // per span.
                let r = self.percentile_batch(batch, span(*minutes), until).await;
                let none_read = r.failed.iter().all(|f| *f);
                match r.error {
                    // The first refused whole: the endpoint may not serve percentiles at all.
                    Some(e) if answered.is_empty() && none_read => return Err(e),
                    // Some read: the figures read are kept, the rest are missing this time and
                    // said (the endpoint serves percentiles).
                    Some(e) => {
                        if !none_read {
                            answered.push(r.points);
                        }
                        later = Some(e);
                        break;
                    }
                    None => answered.push(r.points),
                }
            }
            Ok((answered, later))
        };
        let (main, pct) = tokio::join!(main, pct);
        // A refusal of percentiles (a 500, a 400) is an endpoint that does not serve them, or
        // not for every metric (moto answers those without data and refuses the rest), said
        // nowhere; an outage (throttled, timed out, unavailable) is a read that failed, named
        // with the others.
        let outage = |e: &ProviderError| {
            matches!(e, ProviderError::Timeout(_) | ProviderError::Throttled(_))
                || e.is_past_deadline()
                || matches!(e, ProviderError::Service(m)
                    if ["HTTP 502", "HTTP 503", "HTTP 504"].iter().any(|s| m.starts_with(s)))
        };
        let (pct, pct_missing) = match pct {
            Ok((answered, later)) => {
                let later = later.filter(|e| {
                    let said = outage(e);
                    if !said {
                        tracing::info!(scope = %self.scope, error = %e, "percentiles after the first not read");
                    }
                    said
                });
                (Ok(answered), later)
            }
            Err(e) if outage(&e) => (Ok(Vec::new()), Some(e)),
            Err(e) => (Err(e), None),
        };
        // The requests' answers in the plan's order, as one.
        let mut error = None;
        let (mut points, mut failed) = (Vec::new(), Vec::new());
        for part in main {
            points.extend(part.points);
            failed.extend(part.failed);
            error = error.or(part.error);
        }
        // Every number failed: the read failed, unless the split's request or the
        // percentiles' answered (what they read is kept, below).
        let numbers_failed = plan
            .main
            .iter()
            .flat_map(|(_, batch)| batch)
            .zip(&failed)
            .filter(|((_, slot), _)| !matches!(slot, Slot::Version { .. }))
            .all(|(_, failed)| *failed);
        let (period, version_period) = (plan.series_minutes, plan.version_minutes);
        let mut metrics: Vec<FunctionMetrics> =
            vec![FunctionMetrics::default(); request.functions.len()];
        let mut missing = vec![false; request.functions.len()];
        let mut region = request.region_totals.then(FunctionMetrics::default);
        let queries = plan.main.iter().flat_map(|(_, batch)| batch);
        for (((_, slot), points), failed) in queries.zip(points).zip(failed) {
            match slot {
                Slot::Series { function, kind } => {
                    missing[*function] |= failed;
                    fill(
                        kind.series(&mut metrics[*function]),
                        window,
                        &points,
                        period,
                    );
                }
                Slot::Version {
                    function,
                    alias,
                    version,
                } => {
                    // Only the split is unknown: the function's other numbers stand.
                    metrics[*function].split_unread |= failed;
                    let mut invocations = empty_series();
                    fill(&mut invocations, window, &points, version_period);
                    metrics[*function].alias_versions.push(VersionInvocations {
                        alias: alias.clone(),
                        version: version.clone(),
                        invocations,
                    });
                }
                Slot::Region { kind } => {
                    if failed {
                        region = None;
                    } else if let Some(region) = region.as_mut() {
                        fill(kind.series(region), window, &points, period);
                    }
                }
                Slot::Percentile { .. } => {}
            }
        }
        let pct_result = pct.map(|pct| {
            let queries = plan.percentiles.iter().flat_map(|(_, batch)| batch);
            for ((_, slot), points) in queries.zip(pct.into_iter().flatten()) {
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
        let left_out = missing.iter().filter(|m| **m).count();
        // Half a split is no split: a function's is all read, or none of it kept.
        let mut split_unread = 0;
        for (m, missing) in metrics.iter_mut().zip(&missing) {
            if m.split_unread {
                m.alias_versions.clear();
                split_unread += usize::from(!missing);
            }
        }
        // A function whose numbers did not answer is left out of them; what was read of it
        // (its split, its percentiles) is kept apart, never taken for numbers.
        let (mut by_name, mut partly_read) = (BTreeMap::new(), BTreeMap::new());
        for ((f, m), missing) in request.functions.iter().zip(metrics).zip(missing) {
            let split = !m.split_unread && !m.alias_versions.is_empty();
            let pct = m
                .percentiles
                .values()
                .any(|p| p.p50.is_some() || p.p99.is_some());
            match missing {
                false => {
                    by_name.insert(f.name.clone(), m);
                }
                true if split || pct => {
                    partly_read.insert(f.name.clone(), m);
                }
                true => {}
            }
        }
        if let Some(e) = &error
            && numbers_failed
            && partly_read.is_empty()
        {
            return Err(e.clone());
        }
        let split_kept = partly_read
            .values()
            .filter(|m| !m.split_unread && !m.alias_versions.is_empty())
            .count();
        let numbers_missing = left_out > 0 || (request.region_totals && region.is_none());
        Ok(FetchedMetrics {
            numbers_missing,
            functions: by_name,
            partly_read,
            region,
            percentiles: pct_result,
            incomplete: incomplete(
                error.map(|e| {
                    let all = request.functions.len();
                    let mut what = Vec::new();
                    if left_out > 0 {
                        let kept = match split_kept {
                            0 => String::new(),
                            n => format!(" (the alias split of {n} of them read)"),
                        };
                        what.push(format!(
                            "{left_out} of {all} functions' numbers missing{kept}"
                        ));
                    }
                    if split_unread > 0 {
                        what.push(format!(
                            "the alias split of {split_unread} of {all} functions not read \
                             (their other numbers are)"
                        ));
                    }
                    if what.is_empty() {
                        what.push("the region's totals missing".into());
                    }
                    (what.join("; "), e)
                }),
                pct_missing.map(|e| ("duration percentiles not read".to_string(), e)),
            ),
        })
    }

    pub async fn describe_alarms(&self) -> Result<Vec<Alarm>, ProviderError> {
        let mut alarms = Vec::new();
        let mut next_token = None;
        loop {
            let request = self.cloudwatch.describe_alarms().set_next_token(next_token);
            let page = self
                .background(&self.cloudwatch_limit, request.send())
                .await?;
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
    /// Some numbers asked were not read (functions left out, the region's totals).
    pub numbers_missing: bool,
    pub functions: BTreeMap<String, FunctionMetrics>,
    /// Functions whose numbers did not answer, with what was read of them (split, percentiles).
    pub partly_read: BTreeMap<String, FunctionMetrics>,
    pub region: Option<FunctionMetrics>,
    /// The percentile batch's own outcome; its failure never costs the other numbers.
    pub percentiles: Result<(), ProviderError>,
    /// Part of the main batch did not answer: which, and why.
    pub incomplete: Option<String>,
}

/// What a metrics read that answered in part left out, each part with its call, its error and
/// the setting that would help.
fn incomplete(
    numbers: Option<(String, ProviderError)>,
    percentiles: Option<(String, ProviderError)>,
) -> Option<String> {
    let said: Vec<String> = [numbers, percentiles]
        .into_iter()
        .flatten()
        .map(|(what, e)| {
            let hint = match &e {
                ProviderError::Timeout(_) => " — raise [timeouts] metrics_secs",
                e => crate::provider::hint(e),
            };
            format!("{what}: GetMetricData {e}{hint}")
        })
        .collect();
    (!said.is_empty()).then(|| said.join("; "))
}

/// Puts points into a per-minute series. A point of a `period`-minute bucket lands on the
/// bucket's last minute, so sums and maxima over the last 5, 15 or 60 minutes stay exact.
fn fill(series: &mut Series, window: TimeWindow, points: &[(DateTime<Utc>, f64)], period: usize) {
    for (t, v) in points {
        if let Some(slot) = window.slot(*t) {
            series.set((slot + period - 1).min(crate::provider::MINUTES - 1), *v);
        }
    }
}
