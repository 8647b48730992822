use super::*;
use crate::provider::{MetricWindow, Series, VersionInvocations, WindowStats, empty_series};

fn series(values: &[(usize, f64)]) -> Series {
    let mut s = empty_series();
    for (i, v) in values {
        s.set(*i, *v);
    }
    s
}

#[test]
fn window_sums_only_the_last_minutes() {
    let m = FunctionMetrics {
        invocations: series(&[(0, 100.0), (57, 10.0), (59, 30.0)]),
        errors: series(&[(59, 3.0)]),
        ..Default::default()
    };
    let w5 = m.window(MetricWindow::M5);
    assert_eq!(w5.invocations, 40.0);
    assert_eq!(w5.error_rate, Some(3.0 / 40.0));
    assert_eq!(m.window(MetricWindow::M60).invocations, 140.0);
}

#[test]
fn empty_window_is_positive_zero_and_no_rate() {
    let w = FunctionMetrics::default().window(MetricWindow::M15);
    assert!(w.invocations.is_sign_positive());
    assert_eq!(format!("{}", w.invocations), "0");
    assert_eq!(w.error_rate, None);
    assert_eq!(w.duration_avg_ms, None);
}

#[test]
fn duration_average_is_weighted_by_invocations() {
    let m = FunctionMetrics {
        invocations: series(&[(58, 1.0), (59, 3.0)]),
        duration_avg: series(&[(58, 100.0), (59, 20.0)]),
        ..Default::default()
    };
    assert_eq!(m.window(MetricWindow::M5).duration_avg_ms, Some(40.0));
}

#[test]
fn configured_weights_give_the_main_version_the_rest() {
    let a = AliasInfo {
        name: "live".into(),
        function_version: "1".into(),
        additional_weights: vec![("2".into(), 0.25)],
        revision_id: None,
    };
    assert_eq!(
        a.configured_weights(),
        vec![("1".to_string(), 0.75), ("2".to_string(), 0.25)]
    );
}

fn alias(main: &str, extra: Option<(&str, f64)>) -> AliasInfo {
    AliasInfo {
        name: "live".into(),
        function_version: main.into(),
        additional_weights: extra.map(|(v, w)| (v.to_string(), w)).into_iter().collect(),
        revision_id: None,
    }
}

fn published(versions: &[&str]) -> Vec<String> {
    versions.iter().map(|v| v.to_string()).collect()
}

#[test]
fn an_alias_watches_the_versions_it_routed_to_a_moment_ago() {
    // After a promote to 3 (2 just below), a rollback to 2 (3 just above), a pin back from
    // the newest (5).
    let all = published(&["1", "2", "3", "4", "5", "10"]);
    assert_eq!(
        alias("3", None).watched_versions(&all),
        ["3", "2", "4", "10"]
    );
    assert_eq!(
        alias("2", Some(("3", 0.1))).watched_versions(&all),
        ["2", "3", "1", "10"]
    );
    assert_eq!(alias("10", None).watched_versions(&all), ["10", "5"]);
    // $LATEST has no neighbours; one published version is all there is.
    assert_eq!(alias("$LATEST", None).watched_versions(&all), ["$LATEST"]);
    assert_eq!(alias("1", None).watched_versions(&published(&["1"])), ["1"]);
}

#[test]
fn a_version_the_alias_no_longer_routes_to_still_shows_what_it_ran() {
    // Promoted to 3 a few minutes ago: over 15 minutes 2 still ran 80 %.
    let metrics = FunctionMetrics {
        alias_versions: vec![
            VersionInvocations {
                alias: "live".into(),
                version: "2".into(),
                invocations: series(&[(50, 200.0)]),
            },
            VersionInvocations {
                alias: "live".into(),
                version: "3".into(),
                invocations: series(&[(58, 50.0)]),
            },
            // Watched but idle: not listed.
            VersionInvocations {
                alias: "live".into(),
                version: "4".into(),
                invocations: series(&[]),
            },
        ],
        ..Default::default()
    };
    let split = alias("3", None).split(Some(&metrics), 15);
    let seen: Vec<(&str, f64, Option<f64>)> = split
        .iter()
        .map(|s| (s.version.as_str(), s.configured, s.observed))
        .collect();
    assert_eq!(seen, [("3", 1.0, Some(0.2)), ("2", 0.0, Some(0.8))]);
    // Over the last 5 minutes only 3 ran.
    let split = alias("3", None).split(Some(&metrics), 5);
    assert_eq!(split.len(), 1);
    assert_eq!(split[0].observed, Some(1.0));
}

#[test]
fn exactly_five_points_is_drift_on_neither_side() {
    // 85/15 seen against 90/10 set.
    assert!(!drifts(0.9, 17.0 / 20.0));
    assert!(!drifts(0.1, 3.0 / 20.0));
    assert!(drifts(0.9, 0.84));
    assert!(drifts(0.1, 0.16));
    assert!(!drifts(0.5, 0.5));
}

#[test]
fn what_the_versions_asked_do_not_account_for_is_other_versions() {
    // Promoted 5 → 7 over 6: 5 is not asked, yet the alias's total says 80 % ran elsewhere.
    let metrics = FunctionMetrics {
        alias_versions: vec![
            VersionInvocations {
                alias: "live".into(),
                version: "7".into(),
                invocations: series(&[(58, 200.0)]),
            },
            VersionInvocations {
                alias: "live".into(),
                version: ALL_VERSIONS.into(),
                invocations: series(&[(50, 800.0), (58, 200.0)]),
            },
        ],
        ..Default::default()
    };
    let split = alias("7", None).split(Some(&metrics), 15);
    let seen: Vec<(&str, Option<f64>)> = split
        .iter()
        .map(|s| (s.version.as_str(), s.observed))
        .collect();
    assert_eq!(seen, [("7", Some(0.2)), (OTHER_VERSIONS, Some(0.8))]);
    // Accounted for: no line of its own.
    let split = alias("7", None).split(Some(&metrics), 5);
    assert_eq!(split.len(), 1);
}

/// A region's total from its functions: counts added, the average weighted by invocations,
/// the longest duration kept; what does not add up (percentiles, the peak) stays unknown.
#[test]
fn a_sum_of_functions_keeps_what_adds_up_exactly() {
    let busy = WindowStats {
        invocations: 300.0,
        errors: 3.0,
        duration_avg_ms: Some(100.0),
        duration_max_ms: Some(900.0),
        duration_p99_ms: Some(800.0),
        concurrency_max: Some(7.0),
        ..Default::default()
    };
    let quiet = WindowStats {
        invocations: 100.0,
        duration_avg_ms: Some(500.0),
        duration_max_ms: Some(2000.0),
        ..Default::default()
    };
    let idle = WindowStats {
        duration_avg_ms: Some(9999.0),
        ..Default::default()
    };
    let total = WindowStats::sum([busy, quiet, idle]);
    assert_eq!(total.invocations, 400.0);
    assert_eq!(total.error_rate, Some(3.0 / 400.0));
    assert_eq!(total.duration_avg_ms, Some(200.0));
    assert_eq!(total.duration_max_ms, Some(2000.0));
    assert_eq!(total.duration_p99_ms, None);
    assert_eq!(total.concurrency_max, None);
    assert_eq!(WindowStats::sum([]).duration_avg_ms, None);
}

/// Functions whose own reads failed for different reasons: each reason is said with the first
/// function it names (one access denied is not hidden behind a 503); the rest counted.
#[test]
fn details_failures_are_said_by_reason() {
    let f = |name: &str, why: Option<&str>| FunctionInfo {
        name: name.into(),
        detail_error: why.map(str::to_string),
        ..Default::default()
    };
    assert_eq!(details_failure(&[f("a", None)]), None);
    let said = details_failure(&[
        f("a", Some("aliases: ListAliases HTTP 503")),
        f("b", None),
        f("c", Some("aliases: ListAliases HTTP 503")),
        f("d", Some("details: GetFunction access denied")),
    ])
    .expect("said");
    assert_eq!(
        said,
        "inventory: a and 1 more not read whole (marked): aliases: ListAliases HTTP 503; \
         also d: details: GetFunction access denied"
    );
    let many: Vec<FunctionInfo> = (0..5)
        .map(|i| f(&format!("f{i}"), Some(&format!("reason {i}"))))
        .collect();
    let said = details_failure(&many).expect("said");
    assert!(
        said.contains("also f1: reason 1; also f2: reason 2; and 2 other reasons"),
        "{said}"
    );
}
