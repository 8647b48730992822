//! The simulated fleet's scenarios, ops on it, and its determinism.

use super::*;
use crate::provider::{FunctionRef, TimeWindow};
use chrono::TimeZone;

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn region(clock: &SimClock, name: &str) -> SimRegion {
    demo_regions(7, clock, crate::config::Access::default())
        .into_iter()
        .find(|r| r.scope.region == name)
        .unwrap_or_else(|| demo_regions(7, clock, crate::config::Access::default()).remove(0))
}

async fn stats(r: &SimRegion, function: &str) -> crate::provider::WindowStats {
    let req = MetricsRequest {
        functions: vec![FunctionRef {
            name: function.into(),
            aliases: vec![],
            percentiles: true,
        }],
        window: TimeWindow::ending_at(r.clock.now()),
        region_totals: false,
        period_minutes: 1,
        only: None,
        every_figure: false,
    };
    let snap = r.metrics(&req).await.unwrap_or_default();
    snap.functions
        .get(function)
        .map(|m| m.window(MetricWindow::M5))
        .unwrap_or_default()
}

#[tokio::test]
async fn error_spike_raises_errors_and_an_alarm_then_recovers() {
    let clock = SimClock::fixed(start());
    let r = region(&clock, ERROR_SPIKE.0);
    let f = name(ERROR_SPIKE.1);
    let calm = stats(&r, &f).await;
    clock.set(start() + TimeDelta::seconds(190));
    let spiking = stats(&r, &f).await;
    // Two of the last five minutes are inside the spike.
    assert!(spiking.error_rate > Some(0.05), "{spiking:?}");
    assert!(calm.error_rate < Some(0.04), "{calm:?}");
    let alarms = r.alarms().await.unwrap_or_default();
    assert!(
        alarms
            .iter()
            .any(|a| a.state == AlarmState::Alarm && a.function.as_deref() == Some(f.as_str()))
    );
    clock.set(start() + TimeDelta::seconds(CYCLE_SECS - 1));
    let alarms = r.alarms().await.unwrap_or_default();
    assert!(alarms.iter().all(|a| a.state == AlarmState::Ok));
}

#[tokio::test]
async fn throttling_caps_concurrency_at_the_reserved_limit() {
    let clock = SimClock::fixed(start());
    clock.set(start() + TimeDelta::seconds(290));
    let r = region(&clock, THROTTLING.0);
    let s = stats(&r, &name(THROTTLING.1)).await;
    assert!(s.throttles > 0.0, "{s:?}");
    assert_eq!(s.concurrency_max, Some(100.0));
}

#[tokio::test]
async fn outage_region_drops_out_and_comes_back() {
    let clock = SimClock::fixed(start());
    clock.set(start() + TimeDelta::seconds(200));
    let r = region(&clock, OUTAGE_REGION);
    assert!(matches!(
        r.inventory().await,
        Err(ProviderError::Timeout(_))
    ));
    clock.set(start() + TimeDelta::seconds(300));
    assert_eq!(
        r.inventory().await.map(|i| i.functions.len()).ok(),
        Some(36)
    );
}

#[tokio::test]
async fn ops_shift_traffic_and_kill_in_the_simulation() {
    use crate::ops::{Request, Tier, execute, prepare};
    let clock = SimClock::fixed(start());
    let r = region(&clock, "us-east-1");
    let f = r
        .functions()
        .into_iter()
        .find(|f| {
            f.info.versions.len() >= 2
                && f.info
                    .aliases
                    .iter()
                    .any(|a| a.additional_weights.is_empty())
        })
        .unwrap();
    let alias = f.info.aliases[0].clone();
    let other = f
        .info
        .versions
        .iter()
        .find(|v| **v != alias.function_version)
        .unwrap()
        .clone();
    let request = Request::SetWeight {
        function: f.info.name.clone(),
        alias: alias.name.clone(),
        version: other.clone(),
        weight: 0.3,
    };
    let log = crate::ops::audit::AuditLog::at(
        std::env::temp_dir().join(format!("lops-sim-tests-{}/audit.jsonl", std::process::id())),
    );
    let plan = prepare(&r, request, None).await.unwrap();
    execute(&r, &plan, Some(&log)).await.unwrap();
    let now = r.alias(&f.info.name, &alias.name).await.unwrap();
    assert_eq!(now.additional_weights, vec![(other, 0.3)]);
    assert_ne!(now.revision_id, alias.revision_id);

    let kill = prepare(
        &r,
        Request::Kill {
            function: f.info.name.clone(),
        },
        None,
    )
    .await
    .unwrap();
    execute(&r, &kill, Some(&log)).await.unwrap();
    let invoke = InvokeRequest {
        function: f.info.name.clone(),
        qualifier: None,
        payload: b"{}".to_vec(),
        asynchronous: false,
        wait_secs: None,
    };
    assert!(matches!(
        r.invoke(&invoke).await,
        Err(ProviderError::Throttled(_))
    ));
    let mut read_only = r.clone();
    read_only.scope.access = crate::config::Access::new(Tier::Read, false);
    let refused = prepare(
        &read_only,
        Request::Kill {
            function: f.info.name.clone(),
        },
        None,
    )
    .await;
    assert!(refused.is_err());
}

#[tokio::test]
async fn sim_invoke_echoes_and_reports() {
    let clock = SimClock::fixed(start());
    let r = region(&clock, "us-east-1");
    let name = r.functions()[0].info.name.clone();
    let out = r
        .invoke(&InvokeRequest {
            function: name,
            qualifier: None,
            payload: br#"{"a":1}"#.to_vec(),
            asynchronous: false,
            wait_secs: None,
        })
        .await
        .unwrap();
    assert_eq!(out.payload, br#"{"a":1}"#);
    let report =
        crate::loglines::parse_report(out.log_tail.as_deref().unwrap_or_default()).unwrap();
    assert!(report.duration_ms.is_some());
}

#[tokio::test]
async fn same_time_gives_the_same_numbers() {
    let clock = SimClock::fixed(start() + TimeDelta::seconds(30));
    let a = stats(&region(&clock, "us-east-1"), "orders-api").await;
    let b = stats(&region(&clock, "us-east-1"), "orders-api").await;
    assert_eq!(a, b);
    assert!(a.invocations > 0.0);
}

#[tokio::test]
async fn restore_writes_on_the_demo_behave_as_lambda_does() {
    use crate::provider::function::{FunctionReads, FunctionWrites, NewMapping};
    let r = region(&SimClock::fixed(start()), "us-east-1");
    let f = r
        .functions()
        .into_iter()
        .find(|f| f.info.versions.len() >= 2 && !f.info.aliases.is_empty())
        .expect("a function with versions and an alias");
    let name = f.info.name.clone();
    let before = r.published(&name).await.expect("versions");

    // A new $LATEST configuration leaves the published versions as they were.
    let mut config = r.function(&name, None).await.expect("latest").config;
    config.memory_size = Some(3008);
    r.update_config(&name, &config, None).await.expect("update");
    assert_eq!(r.published(&name).await.expect("versions"), before);
    assert_eq!(
        r.function(&name, None)
            .await
            .expect("latest")
            .config
            .memory_size,
        Some(3008)
    );
    // Publishing it makes a new version; publishing again with nothing changed does not.
    let n = r.publish_version(&name).await.expect("publish");
    assert_eq!(r.publish_version(&name).await.expect("again"), n);

    // Every alias change gives a new revision.
    let alias = f.info.aliases[0].name.clone();
    let revision = |r: &SimRegion| {
        r.functions()
            .into_iter()
            .find(|x| x.info.name == name)
            .and_then(|x| x.info.aliases.into_iter().find(|a| a.name == alias))
            .and_then(|a| a.revision_id)
    };
    let was = revision(&r);
    let mut route = r.alias_route(&name, &alias).await.expect("alias");
    route.function_version = n.clone();
    route.weights.clear();
    r.update_alias(&name, &route).await.expect("update alias");
    assert_ne!(revision(&r), was);

    // A version that is not there is not found; one an alias routes to is kept.
    assert!(matches!(
        r.delete_function(&name, Some("999")).await,
        Err(ProviderError::NotFound(_))
    ));
    assert!(r.delete_function(&name, Some(&n)).await.is_err());

    // One mapping per source and function.
    let mapping = NewMapping {
        target: name.clone(),
        source_arn: "arn:aws:sqs:us-east-1:000000000000:restored-queue".into(),
        batch_size: Some(10),
        starting_position: None,
        batching_window: None,
        enabled: true,
    };
    let uuid = r.create_mapping(&mapping).await.expect("mapping");
    assert!(r.create_mapping(&mapping).await.is_err());
    let listed = r.mappings(&name).await.expect("mappings");
    let made = listed.iter().find(|m| m.uuid == uuid).expect("listed");
    assert_eq!(made.qualifier, None);
}

/// A mapping's pause names what it connects (the queue and the function), not only its UUID:
/// the demo's preview as AWS's.
#[tokio::test]
async fn a_mapping_pause_preview_names_its_queue_and_function() {
    let clock = SimClock::fixed(start());
    let r = region(&clock, "eu-west-1");
    let found = r.write().iter().find_map(|x| {
        x.triggers
            .iter()
            .find(|t| t.kind == crate::provider::TriggerKind::Mapping)
            .map(|t| (x.info.name.clone(), t.id.clone()))
    });
    let Some((function, id)) = found else {
        panic!("the demo region has no mapping");
    };
    let request = crate::ops::Request::SetTrigger {
        kind: crate::provider::TriggerKind::Mapping,
        id,
        enabled: false,
    };
    let plan = crate::ops::prepare(&r, request, None).await.expect("plan");
    let said = plan.preview();
    let queue = function
        .trim_end_matches("-consumer")
        .trim_end_matches("-worker");
    assert!(
        said.contains(&format!("{queue}-queue → {function}")),
        "{said}"
    );
}

/// The demo's account has its limit (1,000, raised where its reservations need) and keeps 100 unreserved as AWS does: a preview
/// checks a reservation against what is left, and the write refuses one too large.
#[tokio::test]
async fn the_demo_account_keeps_its_unreserved_concurrency_as_aws_does() {
    use crate::ops::{OpsError, Request, prepare};
    let clock = SimClock::fixed(start());
    let r = region(&clock, "us-west-2");
    let f = r.functions()[0].info.name.clone();
    let left = r
        .unreserved_concurrency()
        .await
        .expect("the demo's settings");
    let reserved: i64 = r
        .functions()
        .iter()
        .filter_map(|f| f.info.reserved_concurrency)
        .map(i64::from)
        .sum();
    let limit = r
        .inventory_with(&|_| {})
        .await
        .unwrap()
        .account_concurrency_limit
        .expect("the demo's limit");
    assert_eq!(left, limit - reserved);
    assert!(left >= 500, "the demo leaves room to reserve: {left}");
    let asked = Request::SetConcurrency {
        function: f.clone(),
        value: Some(999_999),
    };
    match prepare(&r, asked, None).await {
        Err(OpsError::Refused(m)) => assert!(m.contains("at most"), "{m}"),
        other => panic!("not refused: {other:?}"),
    }
    // The write itself, past the preview, is refused as Lambda refuses it.
    let written = r.set_reserved_concurrency(&f, Some(999_999)).await;
    assert!(
        matches!(&written, Err(ProviderError::Service(m)) if m.contains("minimum value of [100]")),
        "{written:?}"
    );
    // Within what is left it lands, and what is left shrinks by it.
    let before = r.reserved_concurrency(&f).await.unwrap().unwrap_or(0);
    r.set_reserved_concurrency(&f, Some(before + 5))
        .await
        .unwrap();
    assert_eq!(r.unreserved_concurrency().await, Some(left - 5));
}
