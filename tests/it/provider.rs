//! The AWS provider used as a library, as the TUI's pollers use it.

use lops::config::Settings;
use lops::provider::aws::{AwsRegion, CallCounter, Clients};
use lops::provider::{FunctionRef, MetricWindow, MetricsRequest, RegionSource, Scope, TimeWindow};

use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy, Rule};
use crate::support::seed::Seeder;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentile_batch_is_not_retried_once_the_endpoint_rejected_it() {
    let region = "us-west-1";
    let proxy = FaultProxy::start(moto::url());
    let prefix = moto::unique("pct");
    let fleet = Seeder::new(moto::url(), region)
        .await
        .fleet(&prefix, 3)
        .await;
    let source = aws_region(&proxy.url, region).await;
    let request = request_for(&source, &prefix, 1).await;
    assert_eq!(request.functions.len(), fleet.len());

    proxy.watch(region, "GetMetricData");
    let first = source.metrics(&request).await.expect("metrics");
    assert!(!first.percentiles_supported);
    assert_eq!(
        proxy.calls(region, "monitoring", "GetMetricData"),
        3,
        "the numbers, the aliases' split (a request of its own), one percentile attempt"
    );
    // Until the endpoint has answered percentiles, a few are asked before the rest: the
    // refusal came for 8 of the 12 (p50 and p99 of two windows, three functions), not for all.
    let mut asked: Vec<usize> = proxy
        .requests(region, "GetMetricData")
        .iter()
        .map(|(_, body)| queries_in(body))
        .collect();
    asked.sort_unstable();
    let aliased = fleet.iter().filter(|f| f.alias_weight.is_some()).count();
    assert_eq!(aliased, 1);
    assert_eq!(asked, vec![3 * aliased, 8, 6 * fleet.len()]);
    let second = source.metrics(&request).await.expect("metrics");
    assert_eq!(
        proxy.calls(region, "monitoring", "GetMetricData"),
        5,
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

/// Regions behind one configured endpoint are one server: their GetMetricData requests go one
/// at a time (a heavy request computed beside another only slows both), and none waits for its
/// turn over 10 s — one stuck in flight delays the others that much at most, their numbers
/// come, whole.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_sharing_an_endpoint_ask_metrics_in_turn_and_wait_10_s_at_most_behind_a_stuck_one()
{
    let (a, b) = ("us-west-1", "us-west-2");
    let proxy = FaultProxy::start(moto::url());
    let prefix = moto::unique("turn");
    Seeder::new(moto::url(), a).await.fleet(&prefix, 1).await;
    let seeded_b = Seeder::new(moto::url(), b).await.fleet(&prefix, 1).await;
    let (source_a, source_b) = (
        aws_region(&proxy.url, a).await,
        aws_region(&proxy.url, b).await,
    );
    let request_a = request_for(&source_a, &prefix, 5).await;
    let request_b = request_for(&source_b, &prefix, 5).await;
    proxy.add(Rule {
        region: a.into(),
        service: Some("monitoring".into()),
        operation: Some("GetMetricData".into()),
        fault: Fault::HoldUntil("turn-a"),
        remaining: Some(1),
    });
    let started = std::time::Instant::now();
    let read_a = tokio::spawn(async move { source_a.metrics(&request_a).await });
    proxy.wait_for_call(a, "monitoring", "GetMetricData", 10);
    let read_b = source_b.metrics(&request_b);
    tokio::pin!(read_b);
    // b waits its turn while a's request is in flight.
    let early = tokio::time::timeout(std::time::Duration::from_secs(3), &mut read_b).await;
    assert!(early.is_err(), "b went beside a's request");
    assert_eq!(proxy.calls(b, "monitoring", "GetMetricData"), 0);
    // a's is stuck: b goes 10 s into its wait, and its numbers are whole.
    let snapshot_b = read_b.await.expect("b's metrics");
    let waited = started.elapsed();
    assert!(
        waited >= std::time::Duration::from_secs(10) && waited < std::time::Duration::from_secs(35),
        "{waited:?}"
    );
    assert_eq!(snapshot_b.incomplete, None);
    let name = &seeded_b[0].name;
    assert_eq!(
        lops::provider::sum_last(&snapshot_b.functions[name].invocations, 60),
        seeded_b[0].invocations_per_minute * seeded_b[0].seeded_minutes as f64
    );
    proxy.release("turn-a");
    let snapshot_a = read_a.await.expect("a's read").expect("a's metrics");
    assert_eq!(snapshot_a.incomplete, None);
    assert_eq!(snapshot_a.functions.len(), 1);
}

/// moto cannot answer percentiles; the proxy answers for it as CloudWatch does, one point per
/// period from StartTime to EndTime, each value saying which it is (see [`percentile_value`]).
/// A percentile is one number per window: each request spans only the minutes its windows need
/// (15 for the 5- and 15-minute figures, 60 for the hour's), the figure is the window's last
/// period, and the other numbers still come from the main batch over the hour.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn percentiles_are_read_over_the_minutes_each_window_needs() {
    let region = "us-west-1";
    let proxy = FaultProxy::start(moto::url());
    proxy.answer(region, "GetMetricData", answer_percentiles);
    let prefix = moto::unique("pctspan");
    let fleet = Seeder::new(moto::url(), region)
        .await
        .fleet(&prefix, 3)
        .await;
    let source = aws_region(&proxy.url, region).await;
    let request = request_for(&source, &prefix, 5).await;
    let window = request.window;
    assert_eq!(request.functions.len(), fleet.len());

    let snapshot = source.metrics(&request).await.expect("metrics");
    assert!(snapshot.percentiles_supported);
    for seeded in &fleet {
        let metrics = &snapshot.functions[&seeded.name];
        for (window, periods) in [
            (MetricWindow::M5, 3),
            (MetricWindow::M15, 1),
            (MetricWindow::M60, 1),
        ] {
            let p = metrics.percentiles[&window];
            let last = periods - 1;
            assert_eq!(
                p.p50,
                Some(percentile_value(window.minutes(), false, last)),
                "{window:?}"
            );
            assert_eq!(
                p.p99,
                Some(percentile_value(window.minutes(), true, last)),
                "{window:?}"
            );
        }
        assert_eq!(
            lops::provider::sum_last(&metrics.invocations, 60),
            seeded.invocations_per_minute * seeded.seeded_minutes as f64
        );
    }
    // The numbers and the split (moto, apart) and the percentile requests (the proxy),
    // spanning 15 and 60 minutes and ending where the window ends; the endpoint not yet known
    // to serve percentiles, the first 8 of the 15 minutes' 12 are asked alone, then the rest.
    assert_eq!(proxy.calls(region, "monitoring", "GetMetricData"), 5);
    let spans: Vec<(i64, i64)> = proxy
        .requests(region, "GetMetricData")
        .iter()
        .map(|(_, body)| {
            let form = form_of(body);
            let time = |key: &str| {
                chrono::DateTime::parse_from_rfc3339(&form[key])
                    .map(|t| t.timestamp())
                    .unwrap_or_else(|e| panic!("{key}: {e}"))
            };
            let (start, end) = (time("StartTime"), time("EndTime"));
            ((end - start) / 60, end)
        })
        .collect();
    let end = window.end.timestamp();
    assert_eq!(spans, vec![(15, end), (15, end), (60, end)]);
    let sizes: Vec<usize> = proxy
        .requests(region, "GetMetricData")
        .iter()
        .map(|(_, body)| queries_in(body))
        .collect();
    assert_eq!(sizes, vec![8, 4, 6]);
    // Every metric requested once: 6 series and, per function, p50 and p99 for three windows.
    // Per aliased function: its two versions and the alias's own total.
    let queries = 6 * fleet.len() + 3 * fleet.iter().filter(|f| f.alias_weight.is_some()).count();
    assert_eq!(
        source.metrics_requested(),
        (queries + 6 * fleet.len()) as u64
    );
    // Known to serve them now: the next read asks each span whole.
    let before = proxy.calls(region, "monitoring", "GetMetricData");
    source.metrics(&request).await.expect("metrics");
    assert_eq!(
        proxy.calls(region, "monitoring", "GetMetricData") - before,
        4
    );
}

/// `lops status`'s table shows one window: each number is asked as one point over it, in a
/// request spanning that window; an alias's versions over the 15 minutes its split is judged
/// on, in a request spanning those; only that window's p99 — and every figure shown is the one
/// the full read over the hour gives. A JSON document of one window (`every_figure`) also
/// asks that window's p50 and longest duration, read the same way.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_window_is_read_as_one_point_over_it_with_the_same_figures() {
    let region = "us-west-1";
    let proxy = FaultProxy::start(moto::url());
    proxy.answer(region, "GetMetricData", answer_percentiles);
    proxy.watch(region, "GetMetricData");
    let prefix = moto::unique("onewin");
    let fleet = Seeder::new(moto::url(), region)
        .await
        .fleet(&prefix, 4)
        .await;
    let aliased = fleet.iter().filter(|f| f.alias_weight.is_some()).count();
    assert!(aliased > 0);
    let source = aws_region(&proxy.url, region).await;
    let full_request = request_for(&source, &prefix, 5).await;
    let full = source.metrics(&full_request).await.expect("metrics");
    let end = full_request.window.end.timestamp();
    let every = MetricWindow::ALL
        .into_iter()
        .flat_map(|w| [(w, false), (w, true)]);
    for (window, every_figure) in every {
        let before = (
            proxy.requests(region, "GetMetricData").len(),
            source.metrics_requested(),
        );
        let request = MetricsRequest {
            only: Some(window),
            every_figure,
            ..full_request.clone()
        };
        let one = source.metrics(&request).await.expect("metrics");
        for seeded in &fleet {
            let (a, b) = (&full.functions[&seeded.name], &one.functions[&seeded.name]);
            let (wa, wb) = (a.window(window), b.window(window));
            assert_eq!(wa.invocations, wb.invocations, "{window:?}");
            assert!(wb.invocations > 0.0, "{window:?}");
            assert_eq!(wa.errors, wb.errors, "{window:?}");
            assert_eq!(wa.throttles, wb.throttles, "{window:?}");
            assert_eq!(wa.duration_avg_ms, wb.duration_avg_ms, "{window:?}");
            assert!(wa.duration_max_ms.is_some(), "{window:?}");
            if every_figure {
                // A JSON document of this one window: the longest duration is one of its figures.
                assert_eq!(wa.duration_max_ms, wb.duration_max_ms, "{window:?}");
            } else {
                assert_eq!(wb.duration_max_ms, None, "{window:?}: not shown, not asked");
            }
            assert_eq!(wa.concurrency_max, wb.concurrency_max, "{window:?}");
            assert_eq!(
                wb.duration_p99_ms,
                Some(percentile_value(window.minutes(), true, 0)),
                "{window:?}"
            );
            if every_figure {
                assert_eq!(
                    wb.duration_p50_ms,
                    Some(percentile_value(window.minutes(), false, 0)),
                    "{window:?}"
                );
            } else {
                assert_eq!(wb.duration_p50_ms, None, "{window:?}: not shown, not asked");
            }
            // The split an alias ran over 15 minutes, version by version.
            let split = |m: &lops::provider::FunctionMetrics| -> Vec<(String, f64)> {
                m.alias_versions
                    .iter()
                    .map(|v| {
                        (
                            v.version.clone(),
                            lops::provider::sum_last(&v.invocations, 15),
                        )
                    })
                    .collect()
            };
            assert_eq!(split(a), split(b), "{window:?}");
        }
        // Each request spans only what it reads; each number asked once, the p99 once per
        // function.
        // (An answered request is recorded as watched and as answered: once each here.)
        let mut bodies: Vec<String> = proxy.requests(region, "GetMetricData")[before.0..]
            .iter()
            .map(|(_, body)| body.clone())
            .collect();
        bodies.dedup();
        let mut spans: Vec<(i64, i64, Vec<i64>)> = bodies
            .iter()
            .map(|body| {
                let form = form_of(body);
                let time = |key: &str| {
                    chrono::DateTime::parse_from_rfc3339(&form[key])
                        .map(|t| t.timestamp())
                        .unwrap_or_else(|e| panic!("{key}: {e}"))
                };
                let mut periods: Vec<i64> = form
                    .iter()
                    .filter(|(k, _)| k.ends_with(".MetricStat.Period"))
                    .filter_map(|(_, v)| v.parse().ok())
                    .collect();
                periods.sort();
                periods.dedup();
                (
                    (time("EndTime") - time("StartTime")) / 60,
                    time("EndTime"),
                    periods,
                )
            })
            .collect();
        spans.sort();
        let w = window.minutes() as i64;
        // The numbers at one period over the window, an alias's versions at 15 minutes over
        // 15 minutes (a request of its own, also where the window is 15 minutes), the p99 over
        // the window.
        let mut expected = vec![
            (w, end, vec![w * 60]),
            (w, end, vec![w * 60]),
            (15, end, vec![900]),
        ];
        expected.sort();
        assert_eq!(spans, expected, "{window:?}");
        // Five numbers per function (not the longest duration), an aliased function's two
        // versions and its alias's total, one p99; every figure: the longest duration and the
        // p50 too.
        let (numbers, percentiles) = if every_figure { (6, 2) } else { (5, 1) };
        let queries = numbers * fleet.len() + 3 * aliased;
        assert_eq!(
            source.metrics_requested() - before.1,
            (queries + percentiles * fleet.len()) as u64,
            "{window:?} {every_figure}"
        );
    }
}

/// What the proxy answers for the `index`th period (from StartTime) of a `period`-minute
/// percentile: distinct for every window, statistic and period.
fn percentile_value(period_minutes: usize, p99: bool, index: usize) -> f64 {
    (period_minutes * 1000 + if p99 { 100 } else { 0 } + index) as f64
}

/// A GetMetricData request's form fields, decoded.
/// The queries one GetMetricData request carries.
fn queries_in(body: &str) -> usize {
    form_of(body)
        .keys()
        .filter(|k| k.starts_with("MetricDataQueries.member.") && k.ends_with(".Id"))
        .count()
}

fn form_of(body: &str) -> std::collections::BTreeMap<String, String> {
    fn decode(s: &str) -> String {
        let bytes = s.as_bytes();
        let mut out = Vec::with_capacity(bytes.len());
        let mut i = 0;
        while i < bytes.len() {
            match bytes[i] {
                b'+' => out.push(b' '),
                b'%' if i + 2 < bytes.len() => {
                    let hex = std::str::from_utf8(&bytes[i + 1..i + 3]).unwrap_or("");
                    out.push(u8::from_str_radix(hex, 16).unwrap_or(b'?'));
                    i += 2;
                }
                b => out.push(b),
            }
            i += 1;
        }
        String::from_utf8_lossy(&out).into_owned()
    }
    body.split('&')
        .filter_map(|kv| kv.split_once('='))
        .map(|(k, v)| (decode(k), decode(v)))
        .collect()
}

/// Answers a GetMetricData request holding percentile statistics as CloudWatch would (moto
/// cannot); other requests go to moto.
fn answer_percentiles(body: &str) -> Option<String> {
    let form = form_of(body);
    let stat = |n: usize| form.get(&format!("MetricDataQueries.member.{n}.MetricStat.Stat"));
    if !stat(1).is_some_and(|s| s.starts_with('p')) {
        return None;
    }
    let time = |key: &str| chrono::DateTime::parse_from_rfc3339(form.get(key)?).ok();
    let (start, end) = (time("StartTime")?, time("EndTime")?);
    let mut members = String::new();
    for n in 1.. {
        let Some(stat) = stat(n) else { break };
        let field = |name: &str| form.get(&format!("MetricDataQueries.member.{n}.{name}"));
        let id = field("Id")?;
        let period: i64 = field("MetricStat.Period")?.parse().ok()?;
        let (mut times, mut values) = (String::new(), String::new());
        let mut at = start;
        let mut index = 0;
        while at < end {
            let value = percentile_value((period / 60) as usize, stat == "p99", index);
            times.push_str(&format!(
                "<member>{}</member>",
                at.format("%Y-%m-%dT%H:%M:%SZ")
            ));
            values.push_str(&format!("<member>{value}</member>"));
            at += chrono::TimeDelta::seconds(period);
            index += 1;
        }
        members.push_str(&format!(
            "<member><Id>{id}</Id><Label>{id}</Label><Timestamps>{times}</Timestamps><Values>{values}</Values><StatusCode>Complete</StatusCode></member>"
        ));
    }
    Some(format!(
        "<GetMetricDataResponse xmlns=\"http://monitoring.amazonaws.com/doc/2010-08-01/\"><GetMetricDataResult><MetricDataResults>{members}</MetricDataResults><Messages/></GetMetricDataResult><ResponseMetadata><RequestId>lops-test</RequestId></ResponseMetadata></GetMetricDataResponse>"
    ))
}

/// A metrics request for the functions named `prefix…` in the region's inventory, for the
/// hour ending now.
async fn request_for(source: &AwsRegion, prefix: &str, period_minutes: u32) -> MetricsRequest {
    let inventory = source.inventory().await.expect("inventory");
    MetricsRequest {
        functions: inventory
            .functions
            .iter()
            .filter(|f| f.name.starts_with(prefix))
            .map(FunctionRef::from_info)
            .collect(),
        window: TimeWindow::ending_at(chrono::Utc::now()),
        region_totals: false,
        period_minutes,
        only: None,
        every_figure: false,
    }
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
