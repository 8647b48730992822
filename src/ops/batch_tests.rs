//! Tests of `batch.rs`: undo targets and nothing-to-undo messages.
use super::*;
use crate::ops::audit::Record;
use serde_json::json;

pub(crate) fn record(id: &str, batch: Option<&str>, undoes: Option<&str>) -> Record {
    Record {
        id: id.into(),
        time: "2026-11-26T10:00:00Z".into(),
        who: "arn:aws:iam::123456789012:user/oncall".into(),
        profile: "default".into(),
        region: "us-east-1".into(),
        action: "traffic.rollback".into(),
        target: "orders-api:live".into(),
        before: json!({"function_version": "1", "weights": {"2": 0.1}}),
        after: json!({"function_version": "1", "weights": {}}),
        result: "ok".into(),
        undoes: undoes.map(str::to_string),
        reason: None,
        asked: None,
        ended: None,
        payload_sha256: None,
        batch: batch.map(str::to_string),
        destructive: false,
        typed: false,
    }
}

#[test]
fn nothing_to_undo_after_a_restore_names_its_safety_snapshot() {
    let mut restore = record("r1", None, None);
    restore.action = "restore.begin".into();
    restore.before = json!({"existed": true, "safety_snapshot": "s3://b/lops/snapshots/x.json"});
    // A drill after it restores into a copy it makes (nothing replaced, no safety snapshot):
    // the hint still names the snapshot of the function the restore replaced.
    let mut drill_copy = record("d1", None, None);
    drill_copy.action = "restore".into();
    drill_copy.target = "x-drill-101010000".into();
    drill_copy.before = json!({"existed": false, "safety_snapshot": null});
    let records = vec![restore, drill_copy];
    assert!(undo_targets(&records).is_empty());
    let said = nothing_to_undo(&records);
    assert!(
        said.contains("lops restore s3://b/lops/snapshots/x.json"),
        "{said}"
    );
    assert_eq!(
        nothing_to_undo(&[]),
        "nothing to undo: no reversible action is recorded"
    );
}

#[test]
fn undo_takes_the_whole_last_batch_and_nothing_already_undone() {
    let records = vec![
        record("a", None, None),
        record("b1", Some("B"), None),
        record("b2", Some("B"), None),
        record("b3", Some("B"), None),
    ];
    let ids: Vec<String> = undo_targets(&records).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["b1", "b2", "b3"]);

    // The batch undone (one of its undos failed): what is left of it comes next, then "a".
    let mut after = records.clone();
    after.push(record("u1", Some("U"), Some("b1")));
    after.push(record("u3", Some("U"), Some("b3")));
    let ids: Vec<String> = undo_targets(&after).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["b2"]);
    after.push(record("u2", None, Some("b2")));
    let ids: Vec<String> = undo_targets(&after).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["a"]);
}

#[test]
fn targets_whose_undo_failed_are_offered_again() {
    let mut records = vec![record("b1", Some("B"), None), record("b2", Some("B"), None)];
    records.push(record("u1", Some("U"), Some("b1")));
    let mut failed = record("u2", Some("U"), Some("b2"));
    failed.result = "timed out after 10.0s".into();
    records.push(failed);
    let ids: Vec<String> = undo_targets(&records).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["b2"]);
}

#[test]
fn a_failed_target_is_not_undone() {
    let mut failed = record("b2", Some("B"), None);
    failed.result = "service unavailable".into();
    let records = vec![record("b1", Some("B"), None), failed];
    let ids: Vec<String> = undo_targets(&records).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["b1"]);
}

#[test]
fn the_summary_says_exactly_what_changed() {
    let summary = Summary {
        asked: 3,
        changed: vec![
            "a in default/us-east-1".into(),
            "a in default/eu-west-1".into(),
        ],
        failed: vec!["a in default/ap-south-1: throttled".into()],
        not_sent: vec![],
        skipped: vec![],
        already: 0,
        invoked: false,
    };
    assert!(!summary.complete());
    assert_eq!(
        summary.line(),
        "changed 2 of 3; failed: a in default/ap-south-1: throttled"
    );
    // Targets already as asked count among those named, and are said.
    let already = Summary {
        asked: 1,
        changed: vec!["a in default/us-east-1".into()],
        already: 2,
        ..Default::default()
    };
    assert!(already.complete());
    assert_eq!(already.line(), "changed 1 of 3; 2 already so");
    // An invoke changes nothing: its targets are said invoked.
    let invoked = Summary {
        asked: 2,
        changed: vec!["a in default/us-east-1".into()],
        failed: vec!["a in default/eu-west-1: the function failed (Unhandled)".into()],
        invoked: true,
        ..Default::default()
    };
    assert_eq!(
        invoked.line(),
        "invoked 1 of 2; failed: a in default/eu-west-1: the function failed (Unhandled)"
    );
}

/// Undo chooses within the scopes named; a batch only partly there is refused whole, an
/// action made elsewhere is named, and a write with no answer counts (and its undo too).
#[test]
fn undo_within_scopes_never_takes_half_a_batch() {
    let mut a = record("a", None, None);
    a.profile = "ops".into();
    let mut b1 = record("b1", Some("B"), None);
    b1.profile = "ops".into();
    let mut b2 = record("b2", Some("B"), None);
    b2.profile = "prod".into();
    b2.region = "eu-west-1".into();
    b2.target = "billing:live".into();
    let all = vec![a, b1, b2];
    let ops = in_scope(&all, &["ops".to_string()], None);
    let targets = undo_targets(&ops);
    let why = partial_batch(&all, &targets).expect("refused");
    assert!(
        why.contains("--profile ops,prod --regions eu-west-1,us-east-1"),
        "{why}"
    );
    // Every target of the batch is named, not one of them (as if it were a single change).
    assert!(
        why.contains("traffic.rollback billing:live, orders-api:live, was one batch"),
        "{why}"
    );
    // Part of the batch is here: not "made elsewhere" but one batch, undone whole — the same
    // answer whichever of its records the scopes hold (as the dashboard's `u` and the CLI).
    assert!(elsewhere(&all, &ops).is_none());
    let prod = in_scope(&all, &["prod".to_string()], None);
    assert!(elsewhere(&all, &prod).is_none());
    for (scopes, anywhere) in [(["ops"], true), (["ops"], false), (["prod"], true)] {
        let scopes: Vec<String> = scopes.iter().map(|s| s.to_string()).collect();
        let refused = choose(&all, &scopes, None, anywhere).expect_err("refused");
        assert!(refused.refused, "{refused:?}");
        assert!(
            refused.message.contains("was one batch over ops,prod"),
            "{refused:?}"
        );
    }
    // Nothing in the scopes chosen, something elsewhere: refused (4), naming where.
    let none = choose(&all, &["qa".to_string()], None, false).expect_err("nothing");
    assert!(none.refused, "{none:?}");
    assert!(elsewhere(&all, &[]).is_some());
    assert!(partial_batch(&all, &undo_targets(&all)).is_none());
    // A batch over two functions names both, not only its last.
    let mut k1 = record("k1", Some("K"), None);
    k1.action = "kill".into();
    k1.target = "ingest-cron".into();
    let mut k2 = record("k2", Some("K"), None);
    k2.action = "kill".into();
    k2.target = "notify-sender".into();
    k2.region = "eu-west-1".into();
    let there = elsewhere(&[k1, k2], &[]).expect("elsewhere");
    assert!(
        there.contains("kill ingest-cron, notify-sender in default/eu-west-1,us-east-1"),
        "{there}"
    );

    // An outcome unknown is a candidate; an undo of it with no answer counts as done.
    let mut late = record("late", None, None);
    late.result = format!("{}timed out after 10 s", crate::ops::audit::UNKNOWN);
    let mut with_late = all.clone();
    with_late.push(late);
    let ids: Vec<String> = undo_targets(&with_late).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["late"]);
    let mut undo = record("u", None, Some("late"));
    undo.result = format!("{}timed out after 10 s", crate::ops::audit::UNKNOWN);
    with_late.push(undo);
    let ids: Vec<String> = undo_targets(&with_late).into_iter().map(|r| r.id).collect();
    assert_eq!(ids, ["b1", "b2"]);
}

/// The hint for a batch only partly in the chosen scopes says when something done in its
/// scopes since would be undone first by the command it names.
#[test]
fn a_partial_batch_hint_says_what_its_command_undoes_first() {
    let mut b1 = record("b1", Some("B"), None);
    b1.region = "us-west-2".into();
    let b2 = record("b2", Some("B"), None);
    let mut later = record("t", None, None);
    later.action = "traffic.set".into();
    let all = vec![b1, b2, later];
    let chosen = in_scope(
        &all,
        &["default".to_string()],
        Some(&["us-west-2".to_string()]),
    );
    let why = partial_batch(&all, &undo_targets(&chosen)).expect("refused");
    assert!(why.contains("after traffic.set orders-api:live"), "{why}");
}

/// A Route 53 change in a batch's list (the dashboard's undo, say) is said as the CLI says it:
/// every region's share before → after and the TTL, named by its service, not by a region.
#[test]
fn a_dns_change_in_a_batch_shows_its_shares_and_ttl() {
    let plan = Plan {
        scope: crate::provider::Scope::new(
            "default".to_string(),
            "us-east-1".to_string(),
            crate::config::Access::default(),
        ),
        action: "undo",
        target: "checkout".into(),
        needs: crate::ops::Tier::Change,
        destructive: false,
        warning: None,
        before: json!({"service": "checkout", "weights": {"eu-west-1": 100, "us-east-1": 20}}),
        after: json!({"service": "checkout", "weights": {"eu-west-1": 100, "us-east-1": 0},
            "ttl": 60}),
        change: Change::Dns {
            gives_back: false,
            service: Box::new(crate::config::ServiceSettings {
                name: "checkout".into(),
                zone: "Z1".into(),
                record: "api.example.com".into(),
                kind: "CNAME".into(),
                profile: None,
                regions: Default::default(),
                functions: Default::default(),
            }),
            expected: Vec::new(),
            records: Vec::new(),
        },
        undoes: None,
        reason: None,
        batch: None,
        note: None,
    };
    let mut no_ttl = plan.clone();
    let line = Item::Ready {
        source: 0,
        plan: Box::new(plan),
    }
    .short();
    assert!(
        line.contains("(83% → 100%)") && line.contains("60 s (TTL)"),
        "{line}"
    );
    assert!(!line.contains("in us-east-1"), "{line}");
    // A TTL of 0: no resolver keeps the old answer (not "up to 0 s").
    no_ttl.after["ttl"] = json!(0);
    let line = no_ttl.preview();
    assert!(
        line.contains("resolvers keep no old answer (TTL 0)") && !line.contains("up to 0 s"),
        "{line}"
    );
}

#[test]
fn nothing_done_under_the_profiles_chosen_names_the_last_change_elsewhere() {
    let set = record("a", None, None);
    let mut step = record("s", Some(&format!("{ROLLOUT_BATCH}orders-api:live")), None);
    step.action = "traffic.set".into();
    let all = vec![set, step];
    let ro = ["ro".to_string()];
    let chosen = in_scope(&all, &ro, None);
    // The last change is a rollout's step: said, with what to do instead of undo.
    let said = nothing_here(&all, &chosen, &ro, None);
    assert!(
        said.starts_with("nothing to undo: nothing was done under profile ro; elsewhere, the last change was made by the rollout of orders-api:live"),
        "{said}"
    );
    // As `lops --profile ro undo` says it: refused (exit 4), as the same step named without
    // `--profile` is, not bad input.
    let refused = choose(&all, &ro, None, false).expect_err("nothing to undo under ro");
    assert_eq!(refused.message, said);
    assert!(refused.refused);
    // The last change is reversible: where it is and the command that undoes it there.
    let all = vec![record("a", None, None)];
    let said = nothing_here(&all, &chosen, &ro, Some(&["eu-west-1".to_string()]));
    assert!(
        said.contains("under profile ro in eu-west-1;")
            && said.contains("`lops undo --profile default --regions us-east-1`"),
        "{said}"
    );
    assert_eq!(
        nothing_here(&[], &[], &ro, None),
        "nothing to undo: no reversible action is recorded"
    );
}

/// The last change was a rollout's abort (or its guard's rollback): over, nothing to abort —
/// undo says so and how to set the alias, not to abort it.
#[test]
fn after_a_rollouts_abort_undo_says_it_is_over() {
    let mut abort = record("a", Some(&format!("{ROLLOUT_BATCH}orders-api:live")), None);
    abort.action = "traffic.set".into();
    abort.reason = Some("rollout aborted on request".into());
    let said = nothing_to_undo(&[abort]);
    assert!(
        said.starts_with(
            "the last change ended the rollout of orders-api:live (rollout aborted on request"
        ) && said.contains("`lops traffic set`")
            && !said.contains("traffic abort"),
        "{said}"
    );
    // An abort (or a guard's rollback) whose outcome is unknown may not have landed: the
    // alias is to be read first — back, nothing to undo; not, the abort if it still runs, or
    // a set (only the abort was named, which found nothing to abort once the rollout ended).
    for reason in [
        "rollout aborted on request",
        "rollout rolled back: error rate 9 %",
    ] {
        let mut unknown = record("a", Some(&format!("{ROLLOUT_BATCH}orders-api:live")), None);
        unknown.reason = Some(reason.into());
        unknown.result = format!("{}timed out", crate::ops::audit::UNKNOWN);
        let said = nothing_to_undo(&[unknown]);
        assert!(
            said.contains("whose answer did not come")
                && said.contains(
                    "`lops traffic show orders-api --profile default --regions us-east-1`"
                )
                && said.contains("traffic abort live")
                && said.contains("`lops traffic set live --fn orders-api`"),
            "{said}"
        );
    }
}

#[test]
fn a_rollouts_step_before_an_undone_change_is_still_the_last_change() {
    let mut step = record("s", Some(&format!("{ROLLOUT_BATCH}orders-api:live")), None);
    step.action = "traffic.set".into();
    let set = record("b", None, None);
    let undo = record("u", None, Some("b"));
    let all = vec![step, set, undo];
    assert!(undo_targets(&all).is_empty());
    assert!(undo_refused(&all));
    let said = nothing_to_undo(&all);
    assert!(
        said.starts_with("the last change was made by the rollout of orders-api:live"),
        "{said}"
    );
    // The abort named whole: the alias, its function and where the rollout ran.
    assert!(
        said.contains(
            "`lops traffic abort live --fn orders-api --profile default --regions us-east-1`"
        ),
        "{said}"
    );
    // Nothing under `ro`, and nothing reversible anywhere: said once.
    let ro = ["ro".to_string()];
    let only = vec![record("b", None, None), record("u", None, Some("b"))];
    assert_eq!(
        nothing_here(&only, &[], &ro, None),
        "nothing to undo: no reversible action is recorded"
    );
}

#[test]
fn a_restores_safety_snapshot_is_said_to_hold_the_function_not_the_data_it_wrote_over() {
    let mut restore = record("r1", None, None);
    restore.action = "restore".into();
    restore.before = json!({"existed": true, "safety_snapshot": "s3://b/lops/x-safety.json"});
    restore.after = json!({"data_objects": 5, "data_overwritten": 3});
    let said = nothing_to_undo(&[restore]);
    assert!(
        said.contains(
            "`lops restore s3://b/lops/x-safety.json --exact --profile default` puts back the function"
        ) && said.contains("the 3 S3 object(s) it wrote over are not in it"),
        "{said}"
    );
    // Restored into another account through an assumed role: the command acts there too
    // (without the role it would put the DR account's function over the profile's own).
    let mut restore = record("r2", None, None);
    restore.action = "restore".into();
    restore.before = json!({"existed": true, "safety_snapshot": "s3://b/lops/x-safety.json"});
    restore.after = json!({
        "account": "222222222222",
        "assume_role": "arn:aws:iam::222222222222:role/dr-restore",
    });
    let said = nothing_to_undo(&[restore]);
    assert!(
        said.contains(
            "`lops restore s3://b/lops/x-safety.json --exact --profile default --assume-role \
             arn:aws:iam::222222222222:role/dr-restore` (in account 222222222222) puts back"
        ),
        "{said}"
    );
}

/// A target refused at its write (changed since the preview) is said as not sent, apart from
/// the failures: nothing was sent there.
#[test]
fn a_target_refused_at_the_write_is_not_sent_not_failed() {
    let summary = Summary {
        asked: 2,
        changed: vec!["a in default/us-east-1".into()],
        failed: vec![],
        not_sent: vec!["rule r in default/eu-west-1: changed since the preview".into()],
        skipped: vec![],
        already: 0,
        invoked: false,
    };
    assert!(!summary.complete());
    assert_eq!(
        summary.line(),
        "changed 1 of 2; not sent: rule r in default/eu-west-1: changed since the preview"
    );
}

/// A rollout's step made under another profile is the last change: a bare undo here refuses
/// (naming the rollout's abort), never reverting an older change of this profile instead.
#[test]
fn a_rollout_step_elsewhere_is_not_passed_over_for_an_older_change_here() {
    let mut here = record("here", None, None);
    here.profile = "dev".into();
    let mut step = record("step", Some("rollout:orders-api:live"), None);
    step.profile = "prod".into();
    step.action = "traffic.set".into();
    let all = vec![here, step];
    let refused = choose(&all, &["dev".to_string()], None, true).expect_err("refused");
    assert!(refused.refused, "{refused:?}");
    assert!(refused.message.contains("traffic abort"), "{refused:?}");
    // Named on purpose (--profile dev): its own last change is what undo means.
    let ids: Vec<String> = choose(&all, &["dev".to_string()], None, false)
        .expect("dev's own")
        .into_iter()
        .map(|r| r.id)
        .collect();
    assert_eq!(ids, ["here"]);
}

/// A dashboard's undo reaches its scopes (profile × region pairs, not every profile in every
/// region shown) and a Route 53 change from any region of its profile: a Route 53 record named
/// after another region never widens what else it takes, so a batch partly beyond the scopes is
/// refused whole — the CLI's `--regions` keeps the same rule.
#[test]
fn a_dashboard_undo_reaches_its_scopes_and_a_route53_change_from_any_of_them() {
    use crate::provider::Scope;
    let at = |id: &str, batch: Option<&str>, profile: &str, region: &str, action: &str| {
        let mut r = record(id, batch, None);
        (r.profile, r.region, r.action) = (profile.into(), region.into(), action.into());
        r
    };
    let drain = at("d", None, "ops", "eu-west-1", "service.drain");
    let kill = |id: &str, region: &str| at(id, Some("K"), "ops", region, "kill");
    let east = Scope::new("ops", "us-east-1", Default::default());
    let shown = [&east];
    let reach = Reach::Scopes(&shown);
    // The drain, recorded in the region it moved, is reached from us-east-1.
    let ids = |r: Result<Vec<Record>, NotUndone>| -> Vec<String> {
        r.expect("chosen").into_iter().map(|r| r.id).collect()
    };
    assert_eq!(
        ids(choose_in(std::slice::from_ref(&drain), &reach, true)),
        ["d"]
    );
    // A kill over us-east-1 and eu-west-1 after it: refused whole, never its us-east-1 part.
    let all = vec![
        drain.clone(),
        kill("k1", "us-east-1"),
        kill("k2", "eu-west-1"),
    ];
    let refused = choose_in(&all, &reach, true).expect_err("half a batch");
    assert!(refused.refused, "{refused:?}");
    assert!(
        refused
            .message
            .contains("`lops undo --profile ops --regions eu-west-1,us-east-1`"),
        "{refused:?}"
    );
    // The CLI naming us-east-1 decides the same, and takes the drain alone like the dashboard.
    let ops = ["ops".to_string()];
    let east_only = ["us-east-1".to_string()];
    let named = choose(&all, &ops, Some(&east_only), false).expect_err("half a batch");
    assert_eq!(named.message, refused.message);
    assert_eq!(ids(choose(&[drain], &ops, Some(&east_only), false)), ["d"]);
    // Pairs, not their product: ops in eu-west-1 is not reached by ops/us-east-1 and
    // qa/eu-west-1 together.
    let qa_west = Scope::new("qa", "eu-west-1", Default::default());
    let both = [&east, &qa_west];
    let lone = vec![at("w", None, "ops", "eu-west-1", "kill")];
    let beyond = choose_in(&lone, &Reach::Scopes(&both), true).expect_err("beyond");
    assert!(
        beyond
            .message
            .contains("`lops undo --profile ops --regions eu-west-1`"),
        "{beyond:?}"
    );
}

/// A service change's undo goes through the profile that changes the service now, in both
/// faces (they build their undo from `targets_for`): through the record's profile while that is
/// it; refused, nothing asked, once the service names another profile or a stricter one is in
/// the session.
#[test]
fn a_service_change_is_undone_only_through_the_profile_that_changes_it_now() {
    use crate::config::{Access, ServiceSettings, Tier};
    let mut drain = record("s1", None, None);
    drain.action = "service.drain".into();
    drain.target = "checkout".into();
    drain.before = json!({"service": "checkout", "zone": "Z1", "record": "api.example.com",
        "type": "CNAME", "members": [{"set_id": "blue", "region": "us-east-1", "weight": 100}]});
    let default = Scope::new("default", "us-east-1", Access::default());
    let ro = Scope::new("ro", "us-east-1", Access::new(Tier::Read, false));
    let service = |profile: Option<&str>| ServiceSettings {
        name: "checkout".into(),
        zone: "Z1".into(),
        record: "api.example.com".into(),
        kind: "CNAME".into(),
        profile: profile.map(str::to_string),
        regions: Default::default(),
        functions: Default::default(),
    };
    let none = |_: &Record| String::from("elsewhere");
    let asked = |targets: &[Target]| matches!(targets, [Target::Ask(0, _)]);
    // As made: its own profile, or none named and the session's only one.
    for services in [vec![service(Some("default"))], vec![service(None)], vec![]] {
        let targets = targets_for(vec![drain.clone()], &[&default], 1, &services, &none);
        assert!(asked(&targets), "{services:?}: {targets:?}");
    }
    // Another profile as strict given first (the CLI sorts them): its equal, taken back.
    let equal = Scope::new("another", "us-east-1", Access::default());
    let targets = targets_for(
        vec![drain.clone()],
        &[&equal, &default],
        2,
        &[service(None)],
        &none,
    );
    assert!(matches!(&targets[..], [Target::Ask(1, _)]), "{targets:?}");
    // Another profile named since, or a stricter one given beside: refused, naming it.
    for (scopes, services, says) in [
        (
            vec![&default],
            vec![service(Some("ro"))],
            "profile ro now (its [[service]] profile)",
        ),
        (
            vec![&default, &ro],
            vec![service(None)],
            "profile ro now (the strictest of this session's)",
        ),
    ] {
        let targets = targets_for(vec![drain.clone()], &scopes, scopes.len(), &services, &none);
        match &targets[..] {
            [Target::Elsewhere(_, _, OpsError::Refused(why))] => {
                assert!(why.contains(says), "{why}")
            }
            other => panic!("{other:?}"),
        }
    }
}
