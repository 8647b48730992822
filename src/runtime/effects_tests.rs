//! The dashboard's effects executor, driven as the dashboard drives it.

use super::*;
use crate::ops::rollout::{Guard, Rollout, Status, parse_steps};
use crate::provider::sim::{SimClock, demo_regions};

/// Reads that do not come again during a test (once an hour).
fn quiet() -> Timing {
    Timing {
        metrics: Duration::from_secs(3600),
        inventory: Duration::from_secs(3600),
        alarms: Duration::from_secs(3600),
        deadline: Duration::from_secs(10),
        min_gap: Duration::from_secs(1),
    }
}

/// The first message `pick` takes within 5 s (a preview's answer unwrapped from its ticket).
async fn answer<T>(rx: &mut mpsc::Receiver<Msg>, pick: impl Fn(Msg) -> Option<T>) -> Option<T> {
    let until = tokio::time::Instant::now() + Duration::from_secs(5);
    while let Ok(Some(msg)) = tokio::time::timeout_at(until, rx.recv()).await {
        let msg = match msg {
            Msg::Preview { msg, .. } => *msg,
            other => other,
        };
        if let Some(found) = pick(msg) {
            return Some(found);
        }
    }
    None
}

/// The demo's regions, the first one's scope and first function, and an audit log in a
/// directory of its own (`name` and this process).
fn demo_with_audit(
    name: &str,
) -> (
    Vec<Arc<crate::provider::sim::SimRegion>>,
    crate::provider::Scope,
    String,
    std::path::PathBuf,
    crate::ops::audit::AuditLog,
) {
    use crate::provider::RegionSource;
    let sources: Vec<_> = demo_regions(7, &SimClock::live(), Default::default())
        .into_iter()
        .map(Arc::new)
        .collect();
    let scope = sources[0].scope().clone();
    let function = sources[0].functions()[0].info.name.clone();
    let dir = std::env::temp_dir().join(format!("{name}-{}", std::process::id()));
    let audit = crate::ops::audit::AuditLog::at(dir.join("audit.jsonl"));
    (sources, scope, function, dir, audit)
}

/// A rollout of `function:live` in `scope`, halted before its first step, its guard watching
/// `alarms`.
fn halted(scope: &crate::provider::Scope, function: &str, alarms: &[&str]) -> Rollout {
    Rollout {
        profile: scope.profile.clone(),
        account: None,
        region: scope.region.clone(),
        function: function.into(),
        alias: "live".into(),
        from: "1".into(),
        start_extra: None,
        to: "2".into(),
        steps: parse_steps("10:1m").expect("steps"),
        guard: Guard {
            max_error_rate: Some(0.05),
            alarms: alarms.iter().map(|a| a.to_string()).collect(),
            interval_secs: 10,
            trip_on_read_error: true,
        },
        step: 0,
        status: Status::Halted {
            reason: "interrupted".into(),
        },
        updated: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        owner: None,
        heartbeat: None,
        abort_requested: false,
        abort_previewed: None,
        last_written: None,
        production_elsewhere: false,
    }
}

#[tokio::test]
async fn a_read_asked_again_replaces_the_one_in_flight() {
    let sources: Vec<_> = demo_regions(7, &SimClock::live(), Default::default())
        .into_iter()
        .map(Arc::new)
        .collect();
    let function = sources[0].functions()[0].info.name.clone();
    let (tx, mut rx) = mpsc::channel(1024);
    let timing = quiet();
    let executor = Executor::start(sources.clone(), sources.len(), tx, timing, None);
    // The simulated region answers after 40–200 ms: the second ask lands while the first
    // is in flight.
    for _ in 0..2 {
        executor.run(Effect::Triggers {
            region: 0,
            function: function.clone(),
        });
    }
    let mut answers = 0;
    let until = tokio::time::Instant::now() + Duration::from_millis(800);
    while let Ok(Some(msg)) = tokio::time::timeout_at(until, rx.recv()).await {
        if matches!(msg, Msg::Triggers { .. }) {
            answers += 1;
        }
    }
    assert_eq!(answers, 1, "the first read was replaced by the second");
}

/// A halted rollout resumed from the dashboard while an alarm its guard watches is gone (or in
/// ALARM): refused once confirmed, and said — as a start's refusal is — where before the
/// dashboard's "working" stayed up and nothing was said; the rollout is left as it was.
#[tokio::test]
async fn a_resume_refused_once_confirmed_is_said_and_leaves_the_rollout_halted() {
    use crate::ops::rollout::RolloutStore;
    let (sources, scope, function, dir, audit) = demo_with_audit("lops-resume");
    let store = RolloutStore::beside(&audit).expect("store");
    let halted = halted(&scope, &function, &["no-such-alarm"]);
    store.save(&halted).expect("save");
    let (tx, mut rx) = mpsc::channel(1024);
    let timing = quiet();
    let executor = Executor::start(sources.clone(), sources.len(), tx, timing, Some(audit));
    executor.run(Effect::ResumeRollout {
        region: 0,
        function: function.clone(),
        alias: "live".into(),
    });
    let said = answer(&mut rx, |m| match m {
        Msg::Executed { result: Err(e), .. } => Some(e.to_string()),
        _ => None,
    })
    .await
    .expect("the refusal is said");
    assert!(said.contains("no-such-alarm"), "{said}");
    let kept = store.load(&scope, &function, "live").expect("kept");
    assert_eq!(kept.status, halted.status);
    let _ = std::fs::remove_dir_all(dir);
}

/// `U` confirmed on a rollout that another lops finished since it was shown (the dashboard
/// saw it interrupted for a poll): refused and said, where the popup stayed at "working…" for
/// good; and as plainly when no plan is saved at all.
#[tokio::test]
async fn a_resume_of_a_rollout_finished_meanwhile_is_said() {
    use crate::ops::rollout::RolloutStore;
    let (sources, scope, function, dir, audit) = demo_with_audit("lops-resume-done");
    let store = RolloutStore::beside(&audit).expect("store");
    let (tx, mut rx) = mpsc::channel(1024);
    let executor = Executor::start(sources.clone(), sources.len(), tx, quiet(), Some(audit));
    let mut done = halted(&scope, &function, &[]);
    done.status = Status::Done;
    for saved in [None, Some(&done)] {
        if let Some(r) = saved {
            store.save(r).expect("save");
        }
        executor.run(Effect::ResumeRollout {
            region: 0,
            function: function.clone(),
            alias: "live".into(),
        });
        let said = answer(&mut rx, |m| match m {
            Msg::Executed { result: Err(e), .. } => Some(e.to_string()),
            _ => None,
        })
        .await
        .expect("the refusal is said");
        assert!(said.contains("no unfinished rollout"), "{said}");
        assert_eq!(said.contains("it ended: done"), saved.is_some(), "{said}");
    }
    let kept = store.load(&scope, &function, "live").expect("kept");
    assert_eq!(kept.status, Status::Done);
    let _ = std::fs::remove_dir_all(dir);
}

/// `u` in a finished batch's popup names that batch's records: when the last change is another
/// by then (that batch undone meanwhile by another lops, say), nothing is undone and that is
/// said — where before the popup's `u` previewed whatever was last.
#[tokio::test]
async fn an_undo_of_a_batch_no_longer_last_is_refused() {
    let (sources, scope, function, dir, audit) = demo_with_audit("lops-undo-only");
    let later = crate::ops::audit::Record {
        id: "later".into(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        who: "arn:aws:iam::123456789012:user/oncall".into(),
        profile: scope.profile.clone(),
        region: scope.region.clone(),
        action: "traffic.set".into(),
        target: format!("{function}:live"),
        before: serde_json::json!({"function_version": "1", "weights": {}}),
        after: serde_json::json!({"function_version": "1", "weights": {"2": 0.1}}),
        result: "ok".into(),
        undoes: None,
        reason: None,
        asked: None,
        ended: None,
        payload_sha256: None,
        batch: None,
        destructive: false,
        typed: false,
    };
    audit.append(&later).expect("append");
    let (tx, mut rx) = mpsc::channel(1024);
    let timing = quiet();
    let executor = Executor::start(
        sources.clone(),
        sources.len(),
        tx,
        timing,
        Some(audit.clone()),
    );
    executor.run(Effect::Undo {
        anywhere: true,
        services: Vec::new(),
        only: Some(vec!["r1".into(), "r2".into()]),
    });
    let said = answer(&mut rx, |m| match m {
        Msg::BatchPrepared(result) => Some(result),
        _ => None,
    })
    .await;
    match said.expect("an answer") {
        Err(why) => assert!(why.contains("no longer the last change"), "{why}"),
        Ok(batch) => panic!("previewed another change: {batch:?}"),
    }
    // The batch's own record whose outcome is not known (no record landed in the popup for
    // it): found by the batch id it carries, and previewed.
    let unknown = crate::ops::audit::Record {
        id: "late".into(),
        result: "outcome unknown: no answer came".into(),
        batch: Some("B7".into()),
        ..later
    };
    audit.append(&unknown).expect("append");
    executor.run(Effect::Undo {
        anywhere: true,
        services: Vec::new(),
        only: Some(vec!["r1".into(), "batch:B7".into()]),
    });
    let said = answer(&mut rx, |m| match m {
        Msg::BatchPrepared(result) => Some(result),
        _ => None,
    })
    .await;
    assert!(said.expect("an answer").is_ok());
    let _ = std::fs::remove_dir_all(dir);
}

/// `U` on a rollout's row while the session has a read-only profile of the same account: the
/// resume's preview is refused, as a start's is (it asked `y` and resumed through the other).
#[tokio::test]
async fn a_resume_keeps_the_rules_of_the_sessions_other_profiles() {
    use crate::config::{Access, Tier};
    use crate::provider::RegionSource;
    let first = demo_regions(7, &SimClock::live(), Access::default())
        .into_iter()
        .next()
        .expect("a region");
    let ro = first.under_profile("ro", Access::new(Tier::Read, false));
    let sources = vec![Arc::new(first), Arc::new(ro)];
    let scope = sources[0].scope().clone();
    let function = sources[0].functions()[0].info.name.clone();
    let halted = halted(&scope, &function, &[]);
    let (tx, mut rx) = mpsc::channel(1024);
    let timing = quiet();
    let executor = Executor::start(sources.clone(), sources.len(), tx, timing, None);
    for abort in [false, true] {
        executor.run(Effect::PreviewRollout {
            region: 0,
            rollout: Box::new(halted.clone()),
            abort,
        });
        let said = answer(&mut rx, |m| match m {
            Msg::RolloutPreviewed { result, .. } => Some(result),
            _ => None,
        })
        .await;
        match said.expect("a preview") {
            Err(crate::ops::OpsError::Refused(why)) => {
                assert!(why.contains("ro/"), "{abort}: {why}")
            }
            other => panic!("{abort}: {other:?}"),
        }
    }
}

/// `A` on a rollout this dashboard drives previews it as saved now: its copy from the start
/// (the heartbeat of then) said "interrupted" once 15 s had passed, while it ran.
#[tokio::test]
async fn an_abort_previews_the_rollout_as_saved_not_as_first_seen() {
    use crate::ops::rollout::{Owner, RolloutStore};
    let (sources, scope, function, dir, audit) = demo_with_audit("lops-abortnow");
    let store = RolloutStore::beside(&audit).expect("store");
    let stamp = |ago: i64| {
        (chrono::Utc::now() - chrono::TimeDelta::seconds(ago))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut running = halted(&scope, &function, &[]);
    running.status = Status::Running;
    running.owner = Some(Owner::me());
    running.heartbeat = Some(stamp(0));
    store.save(&running).expect("save");
    let mut seen = running.clone();
    seen.heartbeat = Some(stamp(60));
    let (tx, mut rx) = mpsc::channel(1024);
    let executor = Executor::start(sources.clone(), sources.len(), tx, quiet(), Some(audit));
    executor.run(Effect::PreviewRollout {
        region: 0,
        rollout: Box::new(seen),
        abort: true,
    });
    let said = answer(&mut rx, |m| match m {
        Msg::RolloutPreviewed { result, .. } => Some(result),
        _ => None,
    })
    .await;
    match said.expect("a preview") {
        Ok((text, _)) => assert!(
            text.contains("running") && !text.contains("interrupted"),
            "{text}"
        ),
        other => panic!("{other:?}"),
    }
    let _ = std::fs::remove_dir_all(dir);
}
