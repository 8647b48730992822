//! Marks and batches: the dashboard's event loop on moto through the fault proxy, three regions
//! (eu-central-1, ap-northeast-2, us-west-1: shared with tests that look only at their own
//! functions, by unique names). Marked rows or "every region" become one
//! batch: one preview, one confirmation, one audit batch id, one undo; a failing target stops
//! none of the others; a scope whose tier does not allow the change is skipped with nothing sent.

use std::sync::Arc;

use crossterm::event::KeyCode;
use lops::config::{Access, Settings};
use lops::ops::Tier;
use lops::provider::Scope;
use lops::provider::aws::{AwsRegion, CallCounter, Clients};

use crate::support::cli::Lops;
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy, Rule};
use crate::support::seed::{Seeder, sdk_config};
use crate::support::tui::{self, Screen};

const REGIONS: [&str; 3] = ["eu-central-1", "ap-northeast-2", "us-west-1"];

/// Two functions in each region, each with versions 1 and 2 and `live` on v1 with v2 at 20 %.
async fn seed(prefix: &str) -> (Vec<Seeder>, [String; 2]) {
    let base = moto::unique(prefix);
    let names = [format!("{base}-a"), format!("{base}-b")];
    let mut seeders = Vec::new();
    for region in REGIONS {
        let seeder = Seeder::new(moto::url(), region).await;
        for name in &names {
            seeder.create_function(name).await;
            seeder.publish_version(name, "one").await;
            seeder.publish_version(name, "two").await;
            seeder
                .create_alias(name, "live", "1", Some(("2", 0.2)))
                .await;
        }
        seeders.push(seeder);
    }
    (seeders, names)
}

/// A dashboard source per region through the proxy, each scope with the access given.
async fn sources(proxy: &FaultProxy, access: &[Access]) -> Vec<Arc<AwsRegion>> {
    let counter = CallCounter::default();
    let mut out = Vec::new();
    for (region, access) in REGIONS.iter().zip(access) {
        let scope = Scope::new("default", *region, *access);
        let config = sdk_config(&proxy.url, region).await;
        out.push(Arc::new(AwsRegion::new(Clients::from_sdk_config(
            scope,
            &config,
            &Settings::default(),
            &counter,
        ))));
    }
    out
}

/// A function's reserved concurrency, as Lambda has it (read apart from lops).
async fn reserved_of(seeder: &Seeder, function: &str) -> Option<i32> {
    seeder.reserved(function).await
}

fn update_alias_calls(proxy: &FaultProxy, region: &str) -> u64 {
    proxy.calls(region, "lambda", "UpdateAlias")
}

const CHANGE: Access = Access::new(Tier::Change, false);
const SEEDED: (&str, f64) = ("2", 0.2);

async fn routing_everywhere(
    seeders: &[Seeder],
    names: &[String],
) -> Vec<(String, Vec<(String, f64)>)> {
    let mut out = Vec::new();
    for s in seeders {
        for n in names {
            out.push(s.routing(n).await);
        }
    }
    out
}

fn all(main: &str, extra: Option<(&str, f64)>, n: usize) -> Vec<(String, Vec<(String, f64)>)> {
    vec![
        (
            main.to_string(),
            extra
                .map(|(v, w)| vec![(v.to_string(), w)])
                .unwrap_or_default()
        );
        n
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn marked_rows_in_three_regions_roll_back_in_one_confirmed_step_and_undo_as_one() {
    let (seeders, names) = seed("mark").await;
    let prefix = names[0].trim_end_matches("-a").to_string();
    let proxy = FaultProxy::start(moto::url());
    let sources = sources(&proxy, &[CHANGE; 3]).await;
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
    tui::filter(&keys, &prefix);
    screen
        .wait_until(30, "six rows", |t| t.matches("Active").count() == 6)
        .await;
    screen.wait_loaded(30, "Active").await;

    // `*` marks the six rows the filter shows; the header counts them.
    tui::press(&keys, KeyCode::Char('*'));
    screen.wait_for(5, "6 marked").await;
    tui::press(&keys, KeyCode::Char('B'));
    let preview = screen
        .wait_for(20, "traffic rollback: 6 changes in 3 scopes")
        .await;
    assert!(preview.contains("v1 80% / v2 20% → v1 100%"), "{preview}");
    assert_eq!(
        update_alias_calls(&proxy, REGIONS[0]),
        0,
        "a preview writes nothing"
    );
    // One confirmation for all six.
    tui::press(&keys, KeyCode::Char('y'));
    let done = screen.wait_for(30, "done: changed 6 of 6").await;
    assert!(!done.contains("failed"), "{done}");
    assert_eq!(
        routing_everywhere(&seeders, &names).await,
        all("1", None, 6)
    );
    for region in REGIONS {
        assert_eq!(update_alias_calls(&proxy, region), 2, "{region}");
    }
    let (records, _) = audit.read().expect("audit");
    assert_eq!(records.len(), 6, "{records:#?}");
    let batch = records[0].batch.clone().expect("a batch id");
    assert!(
        records
            .iter()
            .all(|r| r.batch.as_deref() == Some(batch.as_str())
                && r.action == "traffic.rollback"
                && r.result == "ok"),
        "{records:#?}"
    );
    // The batch is done: its marks are cleared.
    tui::press(&keys, KeyCode::Enter);
    screen
        .wait_until(5, "marks cleared", |t| !t.contains("marked"))
        .await;

    // A dashboard showing one of the three regions refuses to undo part of the batch (as
    // `lops undo --regions` does), naming the command that takes it all back. (Before, it
    // undid its region's part and skipped the others.)
    let one = self::sources(&proxy, &[CHANGE]).await;
    let narrow = Screen::new(120, 30);
    let (narrow_keys, narrow_run) =
        tui::start_on(&narrow, one.clone(), tui::state(&one), Some(audit.clone()));
    narrow.wait_loaded(30, "Active").await;
    tui::press(&narrow_keys, KeyCode::Char('u'));
    // The notice's rows joined (it wraps between words wherever the names put the breaks).
    let joined = |screen: &str| {
        screen
            .lines()
            .map(|l| l.trim_matches(|c| c == '│' || c == ' '))
            .collect::<Vec<_>>()
            .join(" ")
    };
    // Which refusal depends on which target's record came last (the one shown here or not):
    // either way it names the command that undoes the whole batch.
    let refused = narrow
        .wait_until(20, "the refusal", |t| {
            joined(t).contains("`lops undo --profile default --regions")
        })
        .await;
    let said = joined(&refused);
    assert!(
        said.contains("not made within profile default and region")
            || said.contains("a batch is undone whole"),
        "{refused}"
    );
    assert_eq!(audit.read().expect("audit").0.len(), 6, "nothing undone");
    tui::press(&narrow_keys, KeyCode::Enter);
    tui::press(&narrow_keys, KeyCode::Char('q'));
    narrow_run.await.expect("join").expect("loop");

    // One target changed by hand since: `u` takes back none of the batch, saying why.
    seeders[2].set_extra_weight(&names[1], "2", 0.25).await;
    tui::press(&keys, KeyCode::Char('u'));
    let held = screen
        .wait_for(20, "held back: a batch is undone whole")
        .await;
    assert!(!held.contains("y confirms"), "{held}");
    tui::press(&keys, KeyCode::Enter);
    seeders[2].clear_routing(&names[1]).await;
    // Changed between the undo's preview and its `y`: held back whole at the write too.
    tui::press(&keys, KeyCode::Char('u'));
    // The confirmation itself (the batch popup just closed has the same headline: a screen
    // not yet drawn again would match it, and the `y` would land on the wait).
    screen
        .wait_until(20, "the undo's confirmation", |t| {
            t.contains("undo: 6 changes in 3 scopes") && t.contains("y confirms")
        })
        .await;
    seeders[0].set_extra_weight(&names[0], "2", 0.25).await;
    tui::press(&keys, KeyCode::Char('y'));
    let held = screen.wait_for(30, "done: changed 0 of 6").await;
    assert!(held.contains("held back"), "{held}");
    let mut expected = all("1", None, 6);
    expected[0] = ("1".to_string(), vec![("2".to_string(), 0.25)]);
    assert_eq!(routing_everywhere(&seeders, &names).await, expected);
    // Nothing sent, and each target recorded as not sent (it was not recorded at all).
    let (records, _) = audit.read().expect("audit");
    assert_eq!(records.len(), 12, "{records:#?}");
    assert!(
        records[6..]
            .iter()
            .all(|r| r.undoes.is_some() && r.result.starts_with(lops::ops::audit::CONFLICT)),
        "{records:#?}"
    );
    tui::press(&keys, KeyCode::Enter);
    seeders[0].clear_routing(&names[0]).await;
    // `u` undoes the whole batch, previewed and confirmed once.
    tui::press(&keys, KeyCode::Char('u'));
    // The confirmation itself (the batch popup just closed has the same headline: a screen
    // not yet drawn again would match it, and the `y` would land on the wait).
    screen
        .wait_until(20, "the undo's confirmation", |t| {
            t.contains("undo: 6 changes in 3 scopes") && t.contains("y confirms")
        })
        .await;
    tui::press(&keys, KeyCode::Char('y'));
    screen.wait_for(30, "done: changed 6 of 6").await;
    assert_eq!(
        routing_everywhere(&seeders, &names).await,
        all("1", Some(SEEDED), 6)
    );
    let (records, _) = audit.read().expect("audit");
    assert_eq!(records.len(), 18);
    let undo_batch = records[12].batch.clone().expect("the undo is a batch too");
    assert!(
        records[12..]
            .iter()
            .all(|r| r.undoes.is_some() && r.batch.as_deref() == Some(undo_batch.as_str()))
    );
    tui::press(&keys, KeyCode::Enter);
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
}

/// The incident path from the selected function: `B`, `tab`, `y` rolls its alias back in every
/// region where it exists.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn tab_in_a_confirmation_rolls_the_alias_back_in_every_region() {
    let (seeders, names) = seed("every").await;
    let proxy = FaultProxy::start(moto::url());
    let sources = sources(&proxy, &[CHANGE; 3]).await;
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
    tui::filter(&keys, &names[0]);
    screen
        .wait_until(30, "three rows", |t| t.matches("Active").count() == 3)
        .await;
    screen.wait_loaded(30, "Active").await;
    let mut pressed = 0;
    for key in [KeyCode::Char('B'), KeyCode::Tab, KeyCode::Char('y')] {
        tui::press(&keys, key);
        pressed += 1;
        let wait_for = match key {
            KeyCode::Char('B') => "y confirms · esc or n cancels",
            KeyCode::Tab => "traffic rollback: 3 changes in 3 scopes",
            _ => "done: changed 3 of 3",
        };
        screen.wait_for(30, wait_for).await;
    }
    assert_eq!(pressed, 3);
    let mut routing = Vec::new();
    for s in &seeders {
        routing.push(s.routing(&names[0]).await);
        // The other function was not touched.
        assert_eq!(s.routing(&names[1]).await, all("1", Some(SEEDED), 1)[0]);
    }
    assert_eq!(routing, all("1", None, 3));
    tui::press(&keys, KeyCode::Enter);
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_failing_the_write_leaves_the_other_targets_changed_and_is_named() {
    let (seeders, names) = seed("part").await;
    let prefix = names[0].trim_end_matches("-a").to_string();
    let proxy = FaultProxy::start(moto::url());
    let failing = REGIONS[1];
    proxy.add(Rule {
        region: failing.into(),
        service: Some("lambda".into()),
        operation: Some("UpdateAlias".into()),
        fault: Fault::Status(503),
        remaining: None,
    });
    let sources = sources(&proxy, &[CHANGE; 3]).await;
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
    tui::filter(&keys, &prefix);
    screen
        .wait_until(30, "six rows", |t| t.matches("Active").count() == 6)
        .await;
    screen.wait_loaded(30, "Active").await;
    tui::press(&keys, KeyCode::Char('*'));
    tui::press(&keys, KeyCode::Char('B'));
    screen.wait_for(20, "6 changes in 3 scopes").await;
    tui::press(&keys, KeyCode::Char('y'));
    let done = screen.wait_for(60, "done: changed 4 of 6, 2 failed").await;
    assert!(done.contains(&format!("in {failing}:")), "{done}");
    for (s, region) in seeders.iter().zip(REGIONS) {
        for n in &names {
            let want = if region == failing {
                all("1", Some(SEEDED), 1)
            } else {
                all("1", None, 1)
            };
            assert_eq!(s.routing(n).await, want[0], "{region} {n}");
        }
    }
    // The two that failed stay marked (the four that landed do not): once the region answers,
    // the same key retries them alone.
    assert!(
        done.contains("the 2 not known to have landed stay marked"),
        "{done}"
    );
    tui::press(&keys, KeyCode::Enter);
    proxy.heal();
    tui::press(&keys, KeyCode::Char('B'));
    let again = screen.wait_for(20, "2 changes in 1 scope").await;
    assert!(again.contains(failing), "{again}");
    tui::press(&keys, KeyCode::Char('y'));
    screen.wait_for(60, "done: changed 2 of 2").await;
    for s in &seeders {
        for n in &names {
            assert_eq!(s.routing(n).await, all("1", None, 1)[0]);
        }
    }
    tui::press(&keys, KeyCode::Enter);
    screen
        .wait_until(5, "marks cleared", |t| !t.contains("marked"))
        .await;
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");

    // The CLI's multi-region command runs the same batch: the failing region is named, the
    // exit says partial.
    proxy.add(Rule {
        region: failing.into(),
        service: Some("lambda".into()),
        operation: Some("UpdateAlias".into()),
        fault: Fault::Status(503),
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&[
        "traffic",
        "set",
        "live",
        "--fn",
        &names[1],
        "--version",
        "2",
        "--weight",
        "0.5",
        "--regions",
        &REGIONS.join(","),
        "--yes",
    ]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(
        run.stderr.contains("changed 2 of 3")
            && run
                .stderr
                .contains(&format!("{}:live in {failing}", names[1])),
        "{}",
        run.stderr
    );
    for (s, region) in seeders.iter().zip(REGIONS) {
        let (_, weights) = s.routing(&names[1]).await;
        // The failing region keeps what the dashboard's retry left: v1 alone.
        let want = if region == failing {
            vec![]
        } else {
            vec![("2".to_string(), 0.5)]
        };
        assert_eq!(weights, want, "{region}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_tier_targets_are_listed_as_skipped_and_nothing_is_sent_there() {
    let (seeders, names) = seed("tier").await;
    let prefix = names[0].trim_end_matches("-a").to_string();
    let proxy = FaultProxy::start(moto::url());
    let read_only = REGIONS[2];
    let access = [CHANGE, CHANGE, Access::new(Tier::Read, false)];
    let sources = sources(&proxy, &access).await;
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
    tui::filter(&keys, &prefix);
    screen
        .wait_until(30, "six rows", |t| t.matches("Active").count() == 6)
        .await;
    screen.wait_loaded(30, "Active").await;
    tui::press(&keys, KeyCode::Char('*'));
    tui::press(&keys, KeyCode::Char('K'));
    let preview = screen
        .wait_for(20, "kill: 4 changes in 2 scopes, 2 skipped")
        .await;
    assert!(
        preview.contains(&format!(
            "skip {}, {} in {read_only}: tier",
            names[0], names[1]
        )),
        "{preview}"
    );
    // Kills ask for the typed confirmation: several targets, so their count.
    assert!(preview.contains("type \"4 targets\""), "{preview}");
    tui::type_text(&keys, "4 targets");
    tui::press(&keys, KeyCode::Enter);
    screen.wait_for(30, "done: changed 4 of 6, 2 skipped").await;
    tui::press(&keys, KeyCode::Enter);
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
    // The batch wrote nothing in the read-only scope (the poller's reads went on); its one
    // read there per target asks whether the function is there (one that is not is said
    // missing, not refused for the tier).
    let sent = proxy.calls_where(read_only, "lambda", |op| {
        op.contains("FunctionConcurrency") && op != "GetFunctionConcurrency"
            || op == "GetAlias"
            || op == "UpdateAlias"
    });
    assert_eq!(sent, 0, "{:#?}", proxy.all_calls());
    assert_eq!(
        proxy.calls(read_only, "lambda", "GetFunctionConcurrency"),
        2,
        "{:#?}",
        proxy.all_calls()
    );
    assert_eq!(
        proxy.calls_where(REGIONS[0], "lambda", |op| op == "PutFunctionConcurrency"),
        2
    );
    for (s, region) in seeders.iter().zip(REGIONS) {
        for n in &names {
            let reserved = reserved_of(s, n).await;
            let want = if region == read_only { None } else { Some(0) };
            assert_eq!(reserved, want, "{region} {n}");
        }
    }
    let (records, _) = audit.read().expect("audit");
    assert_eq!(records.len(), 4);
}

/// A schedule rule that invokes `function` in the seeder's region; returns its name.
async fn schedule(
    seeder: &Seeder,
    region: &str,
    function: &str,
) -> (aws_sdk_eventbridge::Client, String) {
    let arn = seeder
        .lambda
        .get_function()
        .function_name(function)
        .send()
        .await
        .expect("get")
        .configuration()
        .and_then(|c| c.function_arn())
        .expect("arn")
        .to_string();
    let events = aws_sdk_eventbridge::Client::new(&sdk_config(moto::url(), region).await);
    let rule = format!("{function}-nightly");
    events
        .put_rule()
        .name(&rule)
        .schedule_expression("cron(0 3 * * ? *)")
        .state(aws_sdk_eventbridge::types::RuleState::Enabled)
        .send()
        .await
        .expect("put rule");
    events
        .put_targets()
        .rule(&rule)
        .targets(
            aws_sdk_eventbridge::types::Target::builder()
                .id("fn")
                .arn(&arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("put targets");
    (events, rule)
}

async fn rule_state(events: &aws_sdk_eventbridge::Client, rule: &str) -> String {
    events
        .describe_rule()
        .name(rule)
        .send()
        .await
        .expect("describe rule")
        .state()
        .map(|s| s.as_str().to_string())
        .unwrap_or_default()
}

/// `p` with marks pauses every trigger of the marked functions in one batch; `u` resumes them.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn p_on_marks_pauses_every_trigger_of_the_marked_functions_and_u_resumes_them() {
    let name = moto::unique("ptrig");
    let mut rules = Vec::new();
    for region in REGIONS {
        let seeder = Seeder::new(moto::url(), region).await;
        seeder.create_function(&name).await;
        rules.push(schedule(&seeder, region, &name).await);
    }
    // Marked too, with no trigger: listed as skipped, with why.
    let bare = format!("{name}-bare");
    Seeder::new(moto::url(), REGIONS[0])
        .await
        .create_function(&bare)
        .await;
    let proxy = FaultProxy::start(moto::url());
    let sources = sources(&proxy, &[CHANGE; 3]).await;
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
    tui::filter(&keys, &name);
    screen
        .wait_until(30, "four rows", |t| t.matches("Active").count() == 4)
        .await;
    tui::press(&keys, KeyCode::Char('*'));
    tui::press(&keys, KeyCode::Char('p'));
    let preview = screen
        .wait_for(20, "trigger disable: 3 changes in 3 scopes")
        .await;
    assert!(
        preview.contains(&bare) && preview.contains("nothing to pause"),
        "{preview}"
    );
    assert!(
        preview.contains(&format!(
            "rule/{name}-nightly in {}: rule enabled → rule disabled",
            REGIONS[0]
        )),
        "{preview}"
    );
    tui::press(&keys, KeyCode::Char('y'));
    // Of the four marked, the one with nothing to pause is counted and said skipped.
    screen.wait_for(30, "done: changed 3 of 4, 1 skipped").await;
    for (events, rule) in &rules {
        assert_eq!(rule_state(events, rule).await, "DISABLED");
    }
    tui::press(&keys, KeyCode::Enter);
    tui::press(&keys, KeyCode::Char('u'));
    screen.wait_for(20, "undo: 3 changes in 3 scopes").await;
    tui::press(&keys, KeyCode::Char('y'));
    screen.wait_for(30, "done: changed 3 of 3").await;
    for (events, rule) in &rules {
        assert_eq!(rule_state(events, rule).await, "ENABLED");
    }
    tui::press(&keys, KeyCode::Enter);
    // One region's EventBridge failing: its marked function stays marked (its rule names no
    // function: the region's marks stay), and the same key, once it answers, does the rest.
    proxy.add(Rule {
        region: REGIONS[1].into(),
        service: Some("events".into()),
        operation: Some("DisableRule".into()),
        fault: Fault::Status(503),
        remaining: None,
    });
    tui::press(&keys, KeyCode::Char('*'));
    tui::press(&keys, KeyCode::Char('p'));
    screen
        .wait_until(20, "the pause's confirmation", |t| {
            t.contains("trigger disable: 3 changes in 3 scopes") && t.contains("y confirms")
        })
        .await;
    tui::press(&keys, KeyCode::Char('y'));
    let done = screen.wait_for(60, "done: changed 2 of 4, 1 failed").await;
    assert!(
        done.contains("the 1 not known to have landed stays marked"),
        "{done}"
    );
    tui::press(&keys, KeyCode::Enter);
    proxy.heal();
    tui::press(&keys, KeyCode::Char('p'));
    screen
        .wait_until(20, "the retry's confirmation", |t| {
            t.contains("trigger disable: 1 change in 1 scope") && t.contains("y confirms")
        })
        .await;
    tui::press(&keys, KeyCode::Char('y'));
    screen.wait_for(30, "done: changed 1 of 1").await;
    for (events, rule) in &rules {
        assert_eq!(rule_state(events, rule).await, "DISABLED");
    }
    tui::press(&keys, KeyCode::Enter);
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
}

/// The CLI's multi-region command is one batch too: `lops undo` reverts every region it changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn lops_undo_reverts_a_multi_region_command_in_every_region() {
    let (seeders, names) = seed("cliun").await;
    let lops = Lops::new(moto::url());
    let regions = REGIONS.join(",");
    let run = lops.run(&[
        "traffic",
        "rollback",
        "live",
        "--fn",
        &names[0],
        "--regions",
        &regions,
        "--yes",
    ]);
    run.assert_exit(0);
    assert!(
        run.stderr
            .contains("traffic rollback: 3 changes in 3 scopes")
            && run.stderr.contains("changed 3 of 3"),
        "{}",
        run.stderr
    );
    let mut routing = Vec::new();
    for s in &seeders {
        routing.push(s.routing(&names[0]).await);
    }
    assert_eq!(routing, all("1", None, 3));
    // `lops audit` names the batch on each of its three lines, one id for all.
    let text = lops.run(&["audit"]);
    let ids: Vec<&str> = text
        .stdout
        .lines()
        .filter(|l| l.contains("traffic.rollback"))
        .filter_map(|l| l.split("  batch ").nth(1))
        .collect();
    assert_eq!(ids.len(), 3, "{}", text.stdout);
    assert!(ids.iter().all(|id| *id == ids[0]), "{}", text.stdout);
    let json = lops.run(&["audit", "--json"]).json();
    assert_eq!(json[0]["batch"], ids[0], "{json}");
    // Changed by hand in one region since: the undo takes back none of it (a batch is undone
    // whole), saying which part cannot be and why; the dashboard's `u` decides alike (core).
    seeders[1].set_extra_weight(&names[0], "2", 0.25).await;
    let run = lops.run(&["undo", "--yes"]);
    run.assert_exit(4);
    assert!(
        run.stderr.contains("held back: a batch is undone whole")
            && run
                .stderr
                .contains(&format!("{}:live in {} cannot be", names[0], REGIONS[1])),
        "{}",
        run.stderr
    );
    assert_eq!(seeders[0].routing(&names[0]).await, all("1", None, 1)[0]);
    assert_eq!(seeders[2].routing(&names[0]).await, all("1", None, 1)[0]);
    // Set back as the batch left it: the undo goes through whole.
    seeders[1].clear_routing(&names[0]).await;
    let run = lops.run(&["undo", "--yes"]);
    run.assert_exit(0);
    assert!(
        run.stderr.contains("undo: 3 changes in 3 scopes"),
        "{}",
        run.stderr
    );
    let mut routing = Vec::new();
    for s in &seeders {
        routing.push(s.routing(&names[0]).await);
    }
    assert_eq!(routing, all("1", Some(SEEDED), 3));
    // Nothing reversible is left: a second undo says so.
    let run = lops.run(&["undo", "--yes"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("nothing to undo"), "{}", run.stderr);
}

/// Several functions on the command line are one batch, as marked rows are in the dashboard:
/// each function in each region previewed, one confirmation (the count typed, for a kill of
/// several names), a function missing in a region skipped with why, one undo for all of it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_functions_on_the_command_line_are_one_batch_undone_as_one() {
    let (seeders, names) = seed("clifns").await;
    // Not there in the last region: skipped there, the others go ahead.
    let missing = moto::unique("clifns-gone");
    for s in &seeders[..2] {
        s.create_function(&missing).await;
    }
    let lops = Lops::new(moto::url());
    let regions = REGIONS.join(",");
    let list = format!("{},{},{missing}", names[0], names[1]);
    let dry = lops.run(&["kill", &list, "--regions", &regions, "--dry-run"]);
    assert_eq!(dry.code, 3, "{}", dry.stderr);
    assert!(
        dry.stderr.contains("kill: 8 changes in 3 scopes")
            && dry
                .stderr
                .contains(&format!("skip {missing} in {}: function", REGIONS[2]))
            && dry
                .stderr
                .contains("a real run asks for the typed name: \"8 targets\""),
        "{}",
        dry.stderr
    );
    for s in &seeders {
        for n in &names {
            assert_eq!(reserved_of(s, n).await, None, "a dry run changes nothing");
        }
    }
    // A kill of several names asks the count typed; --yes stands for it.
    let run = lops.run(&["kill", &list, "--regions", &regions, "--yes", "--json"]);
    assert_eq!(run.code, 3, "{}", run.stderr);
    assert!(run.stderr.contains("changed 8 of 9"), "{}", run.stderr);
    for s in &seeders {
        for n in &names {
            assert_eq!(reserved_of(s, n).await, Some(0));
        }
    }
    assert_eq!(reserved_of(&seeders[0], &missing).await, Some(0));
    let records = lops.run(&["audit", "--json"]).json();
    let kills: Vec<&serde_json::Value> = records
        .as_array()
        .map(|a| a.iter().filter(|r| r["action"] == "kill").collect())
        .unwrap_or_default();
    assert_eq!(kills.len(), 8, "{records}");
    assert!(
        kills
            .iter()
            .all(|r| r["batch"] == kills[0]["batch"] && r["typed"] == true),
        "{records}"
    );
    // One undo takes all eight back.
    let undo = lops.run(&["undo", "--yes"]);
    undo.assert_exit(0);
    assert!(
        undo.stderr.contains("undo: 8 changes in 3 scopes"),
        "{}",
        undo.stderr
    );
    for s in &seeders {
        for n in &names {
            assert_eq!(reserved_of(s, n).await, None);
        }
    }
    // A list with an empty name is refused before anything is read.
    let bad = lops.run(&["kill", &format!("{},,{}", names[0], names[1]), "--yes"]);
    assert_eq!(bad.code, 2, "{}", bad.stderr);
    assert!(bad.stderr.contains("empty function name"), "{}", bad.stderr);
    // Traffic over several functions: --fn a,b.
    let run = lops.run(&[
        "traffic",
        "rollback",
        "live",
        "--fn",
        &format!("{},{}", names[0], names[1]),
        "--regions",
        REGIONS[0],
        "--yes",
    ]);
    run.assert_exit(0);
    assert!(run.stderr.contains("changed 2 of 2"), "{}", run.stderr);
    for n in &names {
        assert_eq!(seeders[0].routing(n).await, all("1", None, 1)[0]);
    }
}

/// Two profile names of one account (moto has one) name the same function: one confirmation
/// changes it once, the other is said as the same function, and the run is complete (exit 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_profiles_of_one_account_change_a_function_once() {
    let (seeders, names) = seed("twoprof").await;
    let lops = Lops::new(moto::url());
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile ops]\nregion = {}\n", REGIONS[0]),
    )
    .expect("aws config");
    let run = lops.run(&[
        "concurrency",
        "set",
        &names[0],
        "7",
        "--profile",
        "default,ops",
        "--regions",
        REGIONS[0],
        "--yes",
    ]);
    run.assert_exit(0);
    assert!(
        run.stderr.contains("the same function as in"),
        "{}",
        run.stderr
    );
    let sets: Vec<serde_json::Value> = lops
        .run(&["audit", "--json"])
        .json()
        .as_array()
        .cloned()
        .unwrap_or_default()
        .into_iter()
        .filter(|r| r["action"] == "concurrency.set")
        .collect();
    assert_eq!(sets.len(), 1, "{sets:?}");
    let reserved = reserved_of(&seeders[0], &names[0]).await;
    assert_eq!(reserved, Some(7));

    // Which profile acts does not depend on their order: a production one keeps its typed
    // confirmation (refused without a terminal, not asked as a plain yes), and one whose tier
    // refuses the change refuses it through the other profile too.
    // Reservation 9 under `profiles` with `config`, and `flag` (--dry-run or --yes).
    let set_nine = |profiles: &str, config: &str, flag: &str| {
        lops.run(&[
            "concurrency",
            "set",
            &names[0],
            "9",
            "--profile",
            profiles,
            "--regions",
            REGIONS[0],
            "--config",
            config,
            flag,
        ])
    };
    let config = lops.config("[profile.ops]\nproduction = true\n");
    let config = config.display().to_string();
    for profiles in ["default,ops", "ops,default"] {
        let run = set_nine(profiles, &config, "--dry-run");
        run.assert_exit(0);
        assert!(
            run.stderr.contains(&format!("ops/{}", REGIONS[0]))
                && run
                    .stderr
                    .contains(&format!("the same function as in ops/{}", REGIONS[0])),
            "{profiles}: {}",
            run.stderr
        );
    }
    let config = lops.config("[profile.ops]\nmode = \"read\"\n");
    let config = config.display().to_string();
    for profiles in ["default,ops", "ops,default"] {
        let run = set_nine(profiles, &config, "--yes");
        run.assert_exit(4);
        // A refusal everywhere is said as one, not as "nothing to do".
        assert!(
            run.stderr.contains("refused in every region:")
                && run.stderr.contains("refused under another profile"),
            "{profiles}: {}",
            run.stderr
        );
    }

    // Three of one account, a production one and a read-only one among them: nothing acts,
    // and no row is said as "acted on once" beside the refusal (one was, by which preview
    // answered first).
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!(
            "[profile ops]\nregion = {0}\n[profile prod]\nregion = {0}\n",
            REGIONS[0]
        ),
    )
    .expect("aws config");
    let three = lops.config("[profile.ops]\nmode = \"read\"\n[profile.prod]\nproduction = true\n");
    let run = set_nine(
        "default,prod,ops",
        &three.display().to_string(),
        "--dry-run",
    );
    run.assert_exit(4);
    assert!(
        !run.stderr.contains("acted on once")
            && run.stderr.contains("refused under another profile"),
        "{}",
        run.stderr
    );
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile ops]\nregion = {}\n", REGIONS[0]),
    )
    .expect("aws config");

    // A function neither profile has is said not to be there through both (bad input, 2),
    // not refused for the read profile's tier: it does not have it either.
    let missing = format!("{}-nosuch", names[0]);
    let run = lops.run(&[
        "kill",
        &missing,
        "--profile",
        "default,ops",
        "--regions",
        REGIONS[0],
        "--config",
        &config,
        "--yes",
    ]);
    run.assert_exit(2);
    assert!(
        run.stderr
            .matches(&format!("function {missing} does not exist"))
            .count()
            == 2
            && !run.stderr.contains("may only look"),
        "{}",
        run.stderr
    );

    let reserved = reserved_of(&seeders[0], &names[0]).await;
    assert_eq!(reserved, Some(7), "the refused change changed nothing");

    // STS not answering for one of the profiles: its account is not known, so the two are
    // taken as the same function (acted on once), never as two; the one left out is said.
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: REGIONS[0].into(),
        service: Some("sts".into()),
        operation: None,
        fault: crate::support::proxy::Fault::Status(403),
        remaining: Some(1),
    });
    let through = Lops::new(&proxy.url);
    std::fs::write(
        through.home.path().join("aws-config"),
        format!("[profile ops]\nregion = {}\n", REGIONS[0]),
    )
    .expect("aws config");
    let run = through.run(&[
        "concurrency",
        "set",
        &names[0],
        "8",
        "--profile",
        "default,ops",
        "--regions",
        REGIONS[0],
        "--yes",
    ]);
    // Left out and said (exit 3): it may be another account's function.
    run.assert_exit(3);
    assert!(
        run.stderr.contains("not known: STS did not say") && run.stderr.contains("left out"),
        "{}",
        run.stderr
    );
    assert_eq!(
        proxy.calls(REGIONS[0], "lambda", "PutFunctionConcurrency"),
        1,
        "{}",
        run.stderr
    );
    // The profile whose account is not known is the one left out, even when it is the
    // strictest (production): the change goes through the known one, asking what the
    // production profile asks. STS is asked in the order the profiles are given.
    proxy.add(crate::support::proxy::Rule {
        region: REGIONS[0].into(),
        service: Some("sts".into()),
        operation: None,
        fault: crate::support::proxy::Fault::Status(403),
        remaining: Some(1),
    });
    let production = through.config("[profile.ops]\nproduction = true\n");
    let run = through.run(&[
        "concurrency",
        "set",
        &names[0],
        "6",
        "--profile",
        "ops,default",
        "--regions",
        REGIONS[0],
        "--config",
        &production.display().to_string(),
        "--yes",
    ]);
    run.assert_exit(3);
    let last = through
        .run(&["audit", "--json"])
        .json()
        .as_array()
        .and_then(|r| r.last().cloned())
        .unwrap_or_default();
    assert_eq!(last["profile"], "default", "{}", run.stderr);
    assert_eq!(last["typed"], true, "{last}");
    assert!(
        run.stderr.contains(&format!("skip {} in ops/", names[0]))
            && run.stderr.contains("left out"),
        "{}",
        run.stderr
    );

    // A production profile that cannot act itself (no kill of it recorded there) still has its
    // typed confirmation asked of the profile that acts for the same function.
    lops.run(&[
        "kill",
        &names[0],
        "--profile",
        "default",
        "--regions",
        REGIONS[0],
        "--yes",
    ])
    .assert_exit(0);
    let config = lops.config("[profile.ops]\nproduction = true\n");
    let config = config.display().to_string();
    let run = lops.run(&[
        "revive",
        &names[0],
        "--profile",
        "ops,default",
        "--regions",
        REGIONS[0],
        "--config",
        &config,
        "--dry-run",
    ]);
    assert!(
        run.stderr.contains("a real run asks for the typed name"),
        "{}",
        run.stderr
    );
    // The profile that cannot act is listed as the same function, not as a skip of its own.
    assert!(
        run.stderr.contains("skip") && run.stderr.contains("the same function as in"),
        "{}",
        run.stderr
    );
    run.assert_exit(0);

    // The undo of that kill, made under `default`, is a change of the same function: the
    // other profile's rules hold for it too, whichever profile recorded it.
    let undo = |config: &str, flag: &str| {
        lops.run(&[
            "undo",
            "--profile",
            "default,ops",
            "--regions",
            REGIONS[0],
            "--config",
            config,
            flag,
        ])
    };
    let run = undo(&config, "--dry-run");
    run.assert_exit(0);
    assert!(
        run.stderr.contains("a real run asks for the typed name"),
        "{}",
        run.stderr
    );
    let read = lops.config("[profile.ops]\nmode = \"read\"\n");
    let run = undo(&read.display().to_string(), "--yes");
    run.assert_exit(4);
    assert!(
        run.stderr.contains("refused under another profile"),
        "{}",
        run.stderr
    );
    assert_eq!(reserved_of(&seeders[0], &names[0]).await, Some(0));
}

/// `--regions X` chosen on purpose means the same to both faces: `lops undo --regions X` and a
/// dashboard started with it take the last change made in X, though a newer batch was made in
/// other regions; a dashboard whose regions were not chosen refuses and names that batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn regions_chosen_on_purpose_narrow_undo_alike_in_both_faces() {
    let (_seeders, names) = seed("narrow").await;
    let lops = Lops::new(moto::url());
    let rollback = |function: &str, regions: &str| {
        lops.run(&[
            "traffic",
            "rollback",
            "live",
            "--fn",
            function,
            "--regions",
            regions,
            "--yes",
        ])
        .assert_exit(0);
    };
    rollback(&names[0], REGIONS[0]);
    rollback(&names[1], &format!("{},{}", REGIONS[1], REGIONS[2]));
    let cli = lops.run(&["undo", "--regions", REGIONS[0], "--dry-run"]);
    cli.assert_exit(0);
    assert!(
        cli.stderr
            .contains(&format!("undo {}:live in {}", names[0], REGIONS[0])),
        "{}",
        cli.stderr
    );
    let proxy = FaultProxy::start(moto::url());
    let audit = lops::ops::audit::AuditLog::at(lops.home.path().join("state/lops/audit.jsonl"));
    for narrowed in [true, false] {
        let one = sources(&proxy, &[CHANGE]).await;
        let mut state = tui::state(&one);
        state.display.narrowed = narrowed;
        let screen = Screen::new(120, 30);
        let (keys, run) = tui::start_on(&screen, one.clone(), state, Some(audit.clone()));
        screen.wait_loaded(30, "Active").await;
        tui::press(&keys, KeyCode::Char('u'));
        if narrowed {
            let preview = screen.wait_for(20, "y confirms").await;
            assert!(
                preview.contains("undo: 1 change in 1 scope")
                    && preview.contains(&format!("{}:live in {}", names[0], REGIONS[0])),
                "{preview}"
            );
        } else {
            let refused = screen.wait_for(20, "not made within profile default").await;
            assert!(refused.contains(&names[1]), "{refused}");
        }
        tui::press(&keys, KeyCode::Esc);
        tui::press(&keys, KeyCode::Char('q'));
        run.await.expect("join").expect("loop");
    }
    assert_eq!(
        lops.run(&["audit", "--json"])
            .json()
            .as_array()
            .map(Vec::len),
        Some(3)
    );
}

/// A change asked on one profile's row acts through the strictest profile of the account that
/// has the function there — a production one — as `lops` with both profiles does: the same
/// credentials and the same audited profile whichever face (or row) named it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rows_change_acts_through_the_strictest_profile_of_its_account() {
    let (_, names) = seed("strictrow").await;
    let region = REGIONS[0];
    let counter = CallCounter::default();
    let config = sdk_config(moto::url(), region).await;
    let source = |profile: &str, access: Access| {
        AwsRegion::new(Clients::from_sdk_config(
            Scope::new(profile, region, access),
            &config,
            &Settings::default(),
            &counter,
        ))
    };
    let staging = source("staging", Access::new(Tier::Change, false));
    let prod = source("prod", Access::new(Tier::Change, true));
    let refs = [&staging, &prod];
    let request = lops::ops::Request::SetConcurrency {
        function: names[0].clone(),
        value: Some(7),
    };
    // Asked on staging's row (index 0): prod acts, its typed confirmation with it.
    let (acts, plan) = lops::ops::batch::prepare_one_in(&refs, 2, 0, request.clone(), None)
        .await
        .expect("plan");
    assert_eq!((acts, plan.scope.profile.as_str()), (1, "prod"));
    assert!(
        matches!(plan.confirmation(), lops::ops::Confirmation::Typed(_)),
        "{:?}",
        plan.confirmation()
    );
    // Asked on prod's row: prod still.
    let (acts, plan) = lops::ops::batch::prepare_one_in(&refs, 2, 1, request.clone(), None)
        .await
        .expect("plan");
    assert_eq!((acts, plan.scope.profile.as_str()), (1, "prod"));
    // Marked rows alike: staging's two act through prod; the same function marked under both
    // profiles acts once.
    use lops::ops::batch::{Item, Target};
    let other = lops::ops::Request::SetConcurrency {
        function: names[1].clone(),
        value: Some(7),
    };
    let batch = lops::ops::batch::prepare_in(
        &refs,
        2,
        vec![
            Target::Ask(0, request.clone()),
            Target::Ask(0, other),
            Target::Ask(1, request),
        ],
        None,
    )
    .await;
    let ready: Vec<(usize, String)> = batch
        .items
        .iter()
        .filter_map(|i| match i {
            Item::Ready { source, plan } => Some((*source, plan.target.clone())),
            Item::Skipped { .. } => None,
        })
        .collect();
    let mut ready = ready;
    ready.sort();
    assert_eq!(
        ready,
        [(1, names[0].clone()), (1, names[1].clone())],
        "{batch:#?}"
    );
    assert!(
        batch
            .items
            .iter()
            .any(|i| matches!(i, Item::Skipped { error, .. }
            if error.to_string().starts_with("the same function as in prod/"))),
        "{batch:#?}"
    );
}

/// Another profile of the session in the same region whose account STS does not say may be
/// the same account: its rules hold for a row's change as they hold for `--profile a,b` —
/// a read-only one refuses it, a production one asks the typed name — and not only when STS
/// answers for both (a dashboard row changed what the CLI refused).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_whose_account_sts_does_not_say_keeps_its_rules_over_a_rows_change() {
    let (_, names) = seed("unknownacct").await;
    let region = REGIONS[0];
    let counter = CallCounter::default();
    // The other profile is read through a proxy where STS refuses every call.
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: region.into(),
        service: Some("sts".into()),
        operation: None,
        fault: Fault::Status(403),
        remaining: None,
    });
    let (direct, dark) = (
        sdk_config(moto::url(), region).await,
        sdk_config(&proxy.url, region).await,
    );
    let source = |profile: &str, access: Access, config: &aws_config::SdkConfig| {
        AwsRegion::new(Clients::from_sdk_config(
            Scope::new(profile, region, access),
            config,
            &Settings::default(),
            &counter,
        ))
    };
    let request = lops::ops::Request::SetConcurrency {
        function: names[0].clone(),
        value: Some(9),
    };
    let ops = source("ops", Access::new(Tier::Change, false), &direct);
    let ro = source("ro", Access::new(Tier::Read, false), &dark);
    let refs = [&ops, &ro];
    let refused = lops::ops::batch::prepare_one_in(&refs, 2, 0, request.clone(), None).await;
    match refused {
        Err(lops::ops::OpsError::Refused(why)) => assert!(
            why.contains("account of ro not known: STS did not say")
                && why.contains("not changed through this one"),
            "{why}"
        ),
        other => panic!("refused expected: {other:?}"),
    }
    // A batch of that one row (what an undo of one record or a marked row previews) alike.
    let batch = lops::ops::batch::prepare_in(
        &refs,
        2,
        vec![lops::ops::batch::Target::Ask(0, request.clone())],
        None,
    )
    .await;
    assert!(
        batch.items.iter().all(|i| matches!(
            i,
            lops::ops::batch::Item::Skipped {
                error: lops::ops::OpsError::Refused(_),
                ..
            }
        )),
        "{batch:#?}"
    );
    // A production one whose account is not known: the typed name is asked.
    let prod = source("prod", Access::new(Tier::Change, true), &dark);
    let refs = [&ops, &prod];
    let (acts, plan) = lops::ops::batch::prepare_one_in(&refs, 2, 0, request, None)
        .await
        .expect("plan");
    assert_eq!(acts, 0, "the known profile acts");
    assert!(
        matches!(plan.confirmation(), lops::ops::Confirmation::Typed(_)),
        "{:?}",
        plan.confirmation()
    );
}
