//! Tests of `undo.rs`: a finished rollout taken back whole.
use super::*;
use crate::ops::audit::Record;
use crate::ops::batch::tests::record;
use serde_json::json;

/// A step of a rollout's run at `k/n` to `main` + `extra` (from the record's `before`).
fn step(id: &str, k: u32, n: u32, before: serde_json::Value) -> Record {
    let mut r = record(id, Some("rollout:orders-api:live"), None);
    r.action = "traffic.set".into();
    r.reason = Some(format!("rollout step {k}/{n} (x% on v2)"));
    r.before = before;
    r
}

/// A finished rollout is taken back whole to where its run began — which ends at a change of
/// the alias made otherwise, or another run, even when its step 1 wrote nothing (the alias
/// already had that split): never two rollouts back. Once undone, its steps are undone with it
/// and the next undo is the change before the run.
#[test]
fn a_finished_rollout_is_undone_back_to_its_own_start_only() {
    let v = |main: &str, w: Option<f64>| match w {
        Some(w) => json!({"function_version": main, "weights": {"2": w}}),
        None => json!({"function_version": main, "weights": {}}),
    };
    // Rollout A (v0 → v1, three steps), a `traffic set` of v2 at 10 %, rollout B (v1 → v2)
    // whose step 1 (10 %) found the alias as asked.
    let mut set = record("set", None, None);
    set.action = "traffic.set".into();
    set.before = v("1", None);
    let mut records = vec![
        step("a1", 1, 3, v("0", None)),
        step("a2", 2, 3, v("0", Some(0.1))),
        step("a3", 3, 3, v("0", Some(0.5))),
        set,
        step("b2", 2, 3, v("1", Some(0.1))),
        step("b3", 3, 3, v("1", Some(0.5))),
    ];
    let targets = undo_targets(&records);
    assert_eq!(targets.len(), 1, "{targets:?}");
    assert_eq!(targets[0].id, "b3");
    assert_eq!(targets[0].before, v("1", Some(0.1)), "B's start, not A's");
    assert!(targets[0].batch.is_none());
    // Undone: B's steps with it; next is the `traffic set`, not a step of A or B.
    let mut undo = record("u1", None, Some("b3"));
    undo.action = "traffic.set".into();
    records.push(undo);
    let next: Vec<String> = undo_targets(&records).into_iter().map(|r| r.id).collect();
    assert_eq!(next, ["set"]);
    // A run whose last record is not its last step is not finished: not taken back whole.
    let unfinished = vec![
        step("c1", 1, 3, v("1", None)),
        step("c2", 2, 3, v("1", Some(0.1))),
    ];
    assert!(undo_targets(&unfinished).is_empty());
}

/// The last step written, then halted in its hold (its function killed, its guard's rollback
/// failing): not finished, so not taken back whole under it — refused, naming its abort.
#[test]
fn a_rollout_halted_after_its_last_step_is_its_aborts_not_undos() {
    use crate::ops::rollout::{Rollout, RolloutStore, Status};
    let dir = std::env::temp_dir().join(format!("lops-halted-undo-{}", std::process::id()));
    let audit = crate::ops::audit::AuditLog::at(dir.join("audit.jsonl"));
    let store = RolloutStore::beside(&audit).expect("store");
    let clock = crate::provider::sim::SimClock::fixed(chrono::Utc::now());
    let regions = crate::provider::sim::demo_regions(7, &clock, crate::config::Access::default());
    let region = &regions[0];
    let scope = crate::provider::RegionSource::scope(region).clone();
    let halted = Rollout {
        profile: scope.profile.clone(),
        region: scope.region.clone(),
        function: "orders-api".into(),
        step: 1,
        status: Status::Halted {
            reason: "orders-api is killed".into(),
        },
        ..crate::ops::rollout::tests::sample()
    };
    store.save(&halted).expect("saved");
    let refused =
        unfinished_rollout(region, Some(&audit), "orders-api", "live").expect_err("refused");
    assert!(
        refused.to_string().contains("has not finished")
            && refused
                .to_string()
                .contains("lops traffic abort live --fn orders-api"),
        "{refused}"
    );
    let mut done = halted;
    done.status = Status::Done;
    store.save(&done).expect("saved");
    assert!(unfinished_rollout(region, Some(&audit), "orders-api", "live").is_ok());
    let _ = std::fs::remove_dir_all(dir);
}

/// A restore killed half-way, then run again to its end: undo names the first run's safety
/// snapshot (the function before either), not the second's (the function half-restored).
#[test]
fn nothing_to_undo_after_a_restore_run_again_names_the_first_runs_snapshot() {
    let run = |id: &str, action: &str, result: &str, safety: &str| {
        let mut r = record(id, None, None);
        r.action = action.into();
        r.target = "orders".into();
        r.result = result.into();
        r.before = json!({"existed": true, "safety_snapshot": safety});
        r
    };
    let records = vec![
        run("a", "restore.begin", "started", "s3://b/old-safety.json"),
        run("b", "restore", "ok", "s3://b/old-safety.json"),
        run("c", "restore.begin", "started", "s3://b/first-safety.json"),
        run("d", "restore.begin", "started", "s3://b/second-safety.json"),
        run("e", "restore", "ok", "s3://b/second-safety.json"),
    ];
    let said = crate::ops::batch::nothing_to_undo(&records);
    assert!(
        said.contains("lops restore s3://b/first-safety.json"),
        "{said}"
    );
    // A run that began and ended, with nothing left half-made before it: its own.
    let said = crate::ops::batch::nothing_to_undo(&records[..2]);
    assert!(
        said.contains("lops restore s3://b/old-safety.json"),
        "{said}"
    );
}

/// A restore that failed and was undone whole replaced nothing: the safety snapshot named is
/// that of the restore before it (it named the failed one's, which holds the function as the
/// first restore left it: restoring it changed nothing).
#[test]
fn a_restore_undone_whole_is_not_the_one_whose_snapshot_is_named() {
    let restore = |id: &str, safety: &str, result: String| {
        let mut r = record(id, None, None);
        r.action = "restore".into();
        r.before = json!({"existed": true, "safety_snapshot": safety});
        r.result = result;
        r
    };
    let first = restore("r1", "s3://b/lops/first-safety.json", "ok".into());
    let failed = restore(
        "r2",
        "s3://b/lops/second-safety.json",
        format!(
            "restore of orders failed (timed out); {}",
            crate::backup::restore::UNDONE_WHOLE
        ),
    );
    // Each with its begin record (the same safety snapshot, result `started`).
    let began = |r: &Record| {
        let mut b = r.clone();
        b.action = "restore.begin".into();
        b.result = crate::ops::audit::STARTED.into();
        b
    };
    let said = nothing_to_undo(&[began(&first), first, began(&failed), failed]);
    assert!(said.contains("first-safety.json"), "{said}");
    assert!(!said.contains("second-safety.json"), "{said}");
}

/// A write that waited long for its answer (a raised operation timeout) is held a minute from
/// when it was given up on, not from when it began: its request may still be on its way then.
/// A time far ahead (an edit, a clock set back) holds nothing for good.
#[test]
fn a_write_with_no_answer_is_held_a_minute_from_when_it_was_given_up() {
    let at = |secs: i64| {
        (chrono::Utc::now() + chrono::TimeDelta::seconds(secs))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
    };
    let mut r = record("late", None, None);
    r.result = format!("{}timed out after 120.0s", crate::ops::audit::UNKNOWN);
    r.time = at(-130);
    assert_eq!(
        in_flight(&r),
        None,
        "no end recorded: counted from its start"
    );
    r.ended = Some(at(-10));
    assert!(in_flight(&r).is_some_and(|age| (9..=11).contains(&age)));
    r.ended = Some(at(-70));
    assert_eq!(in_flight(&r), None);
    r.ended = None;
    r.time = at(30 * 24 * 3600);
    assert_eq!(in_flight(&r), None, "a month ahead");
    r.result = "ok".into();
    r.time = at(-1);
    assert_eq!(in_flight(&r), None, "answered");
}

/// A rollout its abort or its guard's rollback ended (answered) left nothing to undo: undo
/// passes over the run (its steps and its end) to the change before it, here another
/// function's set. It refused, naming the ended rollout, for good.
#[test]
fn an_ended_rollout_is_passed_over_for_the_change_before_it() {
    for why in [
        "rollout aborted on request",
        "rollout rolled back: guard tripped",
    ] {
        let other = other_set();
        let first = step("s1", 1, 2, json!({"function_version": "1", "weights": {}}));
        let mut end = record("end", Some("rollout:orders-api:live"), None);
        end.action = "traffic.set".into();
        end.reason = Some(why.into());
        let all = vec![other, first, end.clone()];
        let ids: Vec<String> = undo_targets(&all).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["fa"], "{why}");
        assert!(!undo_refused(&all), "{why}");
        // An end whose answer did not come may not have landed: still said, not passed over.
        let mut unknown = end.clone();
        unknown.result = format!("{}timed out", crate::ops::audit::UNKNOWN);
        let all = vec![all[0].clone(), all[1].clone(), unknown];
        assert!(undo_targets(&all).is_empty(), "{why}");
        assert!(undo_refused(&all), "{why}");
        // Nothing before it: the end is said, with nothing left to undo.
        let start = json!({"function_version": "1", "weights": {}});
        let alone = vec![step("s1", 1, 2, start.clone()), end.clone()];
        assert!(undo_targets(&alone).is_empty());
        let said = nothing_to_undo(&alone);
        assert!(
            said.starts_with("the last change ended the rollout of orders-api:live")
                && said.contains("nothing before it is left to undo"),
            "{said}"
        );
        // A rollback written again after its first try got no answer: both tries are the end.
        let mut lost = end.clone();
        lost.id = "lost".into();
        lost.result = format!("{}timed out", crate::ops::audit::UNKNOWN);
        let retried = vec![
            other_set(),
            step("s1", 1, 2, start.clone()),
            lost,
            end.clone(),
        ];
        let ids: Vec<String> = undo_targets(&retried).into_iter().map(|r| r.id).collect();
        assert_eq!(ids, ["fa"], "{why}");
        // An earlier rollout of the alias that finished (v1 → v2), then one whose end put the
        // alias back to v2 before any step of its own was written: the finished one is not
        // this end's to pass over — undo takes it back whole, not the change before it.
        let v2 = json!({"function_version": "2", "weights": {}});
        let mut a2 = step(
            "a2",
            2,
            2,
            json!({"function_version": "1", "weights": {"2": 0.5}}),
        );
        a2.after = v2.clone();
        let mut b_end = end.clone();
        b_end.after = v2;
        let earlier = vec![other_set(), step("a1", 1, 2, start.clone()), a2, b_end];
        let back = undo_targets(&earlier);
        assert_eq!(back.len(), 1, "{why}");
        assert_eq!(back[0].id, "a2", "{why}");
        assert_eq!(back[0].before, start, "{why}");
    }
}

fn other_set() -> Record {
    let mut other = record("fa", None, None);
    other.action = "traffic.set".into();
    other.target = "billing:live".into();
    other
}
