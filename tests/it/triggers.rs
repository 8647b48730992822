//! `lops triggers` against moto: a schedule rule, an SQS event source mapping and a resource
//! policy are listed; disabling and enabling round-trip through the ops layer, audited and
//! undoable; read-only refuses; bad input is named.
//!
//! Region: ap-east-2 (names unique per test).

use aws_sdk_eventbridge::types::{RuleState, Target};

use crate::support::cli::Lops;
use crate::support::moto;
use crate::support::seed::{Seeder, sdk_config};

const REGION: &str = "ap-east-2";

struct Seeded {
    seeder: Seeder,
    events: aws_sdk_eventbridge::Client,
    function: String,
    rule: String,
    mapping: String,
    queue_arn: String,
}

fn create_queue(name: &str) -> String {
    moto::create_queue(REGION, name)
}

/// `lops triggers disable KIND ID --regions REGION FLAG`.
fn disable(lops: &Lops, kind: &str, id: &str, flag: &str) -> crate::support::cli::Run {
    lops.run(&["triggers", "disable", kind, id, "--regions", REGION, flag])
}

/// A profile `ro` of the same account (moto has one), read-only in lops's config: the config
/// file's path.
fn read_only_profile(lops: &Lops) -> std::path::PathBuf {
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile ro]\nregion = {REGION}\n"),
    )
    .expect("aws config");
    lops.config("[profile.ro]\nmode = \"read\"\n")
}

/// Refused (4) through a profile of the same account, said as the same trigger (a rule is not a
/// function).
fn refused_as_the_same_trigger(run: &crate::support::cli::Run) {
    run.assert_exit(4);
    assert!(
        run.stderr
            .contains("the same trigger is refused under another profile")
            && !run.stderr.contains("same function"),
        "{}",
        run.stderr
    );
}

/// Creates a function and answers its ARN.
async fn created(seeder: &Seeder, name: &str) -> String {
    seeder.create_function(name).await;
    seeder
        .lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .expect("get")
        .configuration()
        .and_then(|c| c.function_arn())
        .expect("arn")
        .to_string()
}

async fn seed() -> Seeded {
    let seeder = Seeder::new(moto::url(), REGION).await;
    let function = moto::unique("trig");
    let arn = created(&seeder, &function).await;
    let events = aws_sdk_eventbridge::Client::new(&sdk_config(moto::url(), REGION).await);
    let rule = format!("{function}-nightly");
    let rule_arn = events
        .put_rule()
        .name(&rule)
        .schedule_expression("cron(0 3 * * ? *)")
        .state(RuleState::Enabled)
        .send()
        .await
        .expect("put rule")
        .rule_arn()
        .unwrap_or_default()
        .to_string();
    events
        .put_targets()
        .rule(&rule)
        .targets(
            Target::builder()
                .id("fn")
                .arn(&arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("put targets");
    seeder
        .lambda
        .add_permission()
        .function_name(&function)
        .statement_id("nightly")
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .source_arn(&rule_arn)
        .send()
        .await
        .expect("permission");
    let queue_arn = create_queue(&format!("{function}-jobs"));
    let mapping = seeder
        .lambda
        .create_event_source_mapping()
        .function_name(&function)
        .event_source_arn(&queue_arn)
        .batch_size(10)
        .send()
        .await
        .expect("mapping")
        .uuid()
        .unwrap_or_default()
        .to_string();
    Seeded {
        seeder,
        events,
        function,
        rule,
        mapping,
        queue_arn,
    }
}

async fn rule_state(s: &Seeded) -> String {
    s.events
        .describe_rule()
        .name(&s.rule)
        .send()
        .await
        .expect("describe")
        .state()
        .map(|x| x.as_str().to_string())
        .unwrap_or_default()
}

async fn mapping_state(s: &Seeded) -> String {
    s.seeder
        .lambda
        .get_event_source_mapping()
        .uuid(&s.mapping)
        .send()
        .await
        .expect("get mapping")
        .state()
        .unwrap_or_default()
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn triggers_are_listed_and_a_rule_and_a_mapping_pause_and_resume_audited() {
    let s = seed().await;
    let lops = Lops::new(moto::url());

    let listed = lops.run(&["triggers", &s.function, "--region", REGION, "--json"]);
    listed.assert_exit(0);
    let doc = listed.json();
    let t = &doc[0];
    let triggers = t["triggers"].as_array().expect("triggers");
    let rule = triggers
        .iter()
        .find(|x| x["kind"] == "rule")
        .unwrap_or_else(|| panic!("no rule in {doc}"));
    assert_eq!(rule["id"], s.rule.as_str());
    assert_eq!(rule["source"], "cron(0 3 * * ? *)");
    assert_eq!(rule["enabled"], true);
    let mapping = triggers
        .iter()
        .find(|x| x["kind"] == "mapping")
        .unwrap_or_else(|| panic!("no mapping in {doc}"));
    assert_eq!(mapping["id"], s.mapping.as_str());
    assert_eq!(mapping["source"], s.queue_arn.as_str());
    assert!(
        mapping["detail"]
            .as_str()
            .unwrap_or("")
            .contains("batch 10"),
        "{mapping}"
    );
    let principals = t["principals"].to_string();
    assert!(
        principals.contains("events.amazonaws.com") && principals.contains(&s.rule),
        "{principals}"
    );
    let human = lops.run(&["triggers", &s.function, "--region", REGION]);
    human.assert_exit(0);
    assert!(
        human.stdout.contains(&s.rule) && human.stdout.contains(&s.mapping),
        "{}",
        human.stdout
    );

    // Rule: disable, enable, and undo the enable.
    let off = lops.run(&[
        "triggers", "disable", "--rule", &s.rule, "--region", REGION, "--yes",
    ]);
    off.assert_exit(0);
    assert!(
        off.stderr.contains("rule enabled → rule disabled"),
        "{}",
        off.stderr
    );
    assert_eq!(rule_state(&s).await, "DISABLED");
    // Disabling again changes nothing.
    let again = lops.run(&[
        "triggers", "disable", "--rule", &s.rule, "--region", REGION, "--yes",
    ]);
    again.assert_exit(0);
    // Named by its action, like every preview.
    assert!(
        again.stderr.contains("trigger disable ") && again.stderr.contains("nothing to do"),
        "{}",
        again.stderr
    );
    lops.run(&[
        "triggers", "enable", "--rule", &s.rule, "--region", REGION, "--yes",
    ])
    .assert_exit(0);
    assert_eq!(rule_state(&s).await, "ENABLED");
    lops.run(&["undo", "--region", REGION, "--yes"])
        .assert_exit(0);
    assert_eq!(
        rule_state(&s).await,
        "DISABLED",
        "undo of the enable disables it again"
    );

    // Mapping: disable and enable; the preview names what it connects, not only its UUID.
    let off = lops.run(&[
        "triggers",
        "disable",
        "--mapping",
        &s.mapping,
        "--region",
        REGION,
        "--yes",
    ]);
    off.assert_exit(0);
    assert!(
        off.stderr
            .contains(&format!("— {}-jobs → {}", s.function, s.function)),
        "{}",
        off.stderr
    );
    assert_eq!(mapping_state(&s).await, "Disabled");
    lops.run(&[
        "triggers",
        "enable",
        "--mapping",
        &s.mapping,
        "--region",
        REGION,
        "--yes",
    ])
    .assert_exit(0);
    assert_eq!(mapping_state(&s).await, "Enabled");

    let audit = lops.run(&["audit", "--json"]).json();
    let seen: Vec<String> = audit
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["action"].as_str().unwrap_or(""),
                r["target"].as_str().unwrap_or(""),
                r["result"].as_str().unwrap_or("")
            )
        })
        .collect();
    for want in [
        format!("trigger.disable rule/{} ok", s.rule),
        format!("trigger.enable rule/{} ok", s.rule),
        format!("trigger.disable mapping/{} ok", s.mapping),
        format!("trigger.enable mapping/{} ok", s.mapping),
    ] {
        assert!(seen.contains(&want), "{want} missing from {seen:?}");
    }
    // Narrowed to a function: the mapping's records are its function's (what it connects is
    // kept on the result too), not every function's.
    let mappings = |f: &str| -> usize {
        let run = lops.run(&["audit", "--fn", f, "--json"]);
        run.json()
            .as_array()
            .map(|a| {
                a.iter()
                    .filter(|r| r["target"] == format!("mapping/{}", s.mapping))
                    .count()
            })
            .unwrap_or(0)
    };
    assert_eq!(mappings(&s.function), 2);
    assert_eq!(mappings(&format!("{}-other", s.function)), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_and_bad_input_is_named() {
    let s = seed().await;
    let lops = Lops::new(moto::url());
    let ro = lops.run(&[
        "--read-only",
        "triggers",
        "disable",
        "--rule",
        &s.rule,
        "--region",
        REGION,
        "--yes",
    ]);
    ro.assert_exit(4);
    assert!(ro.stderr.contains("--mode change"), "{}", ro.stderr);
    let ro = lops.run(&[
        "--mode",
        "invoke",
        "triggers",
        "disable",
        "--mapping",
        &s.mapping,
        "--region",
        REGION,
        "--yes",
    ]);
    ro.assert_exit(4);
    // A read-only profile of the same account beside one that may: the rule is refused
    // through both, said as the same trigger (not "the same function").
    let config = read_only_profile(&lops);
    let both = lops.run(&[
        "triggers",
        "disable",
        "--rule",
        &s.rule,
        "--region",
        REGION,
        "--profile",
        "default,ro",
        "--config",
        &config.display().to_string(),
        "--yes",
    ]);
    refused_as_the_same_trigger(&both);
    assert_eq!(rule_state(&s).await, "ENABLED");
    assert_eq!(mapping_state(&s).await, "Enabled");
    // Listing is reading: allowed.
    lops.run(&["--read-only", "triggers", &s.function, "--region", REGION])
        .assert_exit(0);

    let unknown = lops.run(&["triggers", "no-such-function", "--region", REGION]);
    unknown.assert_exit(2);
    assert!(
        unknown.stderr.contains("does not exist"),
        "{}",
        unknown.stderr
    );
    let rule = lops.run(&[
        "triggers",
        "disable",
        "--rule",
        "no-such-rule",
        "--region",
        REGION,
        "--yes",
    ]);
    rule.assert_exit(2);
    assert!(rule.stderr.contains("no-such-rule"), "{}", rule.stderr);
    let neither = lops.run(&["triggers", "disable", "--region", REGION, "--yes"]);
    neither.assert_exit(2);
    let both = lops.run(&[
        "triggers",
        "disable",
        "--rule",
        "a",
        "--mapping",
        "b",
        "--region",
        REGION,
    ]);
    both.assert_exit(2);
    assert!(
        lops.run(&["audit", "--json"])
            .json()
            .as_array()
            .is_none_or(|a| a.is_empty())
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rule_shared_with_another_function_says_so_and_states_lops_cannot_restore_are_refused() {
    let s = seed().await;
    // A second function on the same rule: pausing the rule for one pauses both.
    let other = moto::unique("trig-other");
    let other_arn = created(&s.seeder, &other).await;
    s.events
        .put_targets()
        .rule(&s.rule)
        .targets(
            Target::builder()
                .id("other")
                .arn(&other_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("second target");
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let run = disable(&lops, "--rule", &s.rule, "--dry-run");
    run.assert_exit(0);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains("for every target it invokes") && said.contains(&other),
        "{said}"
    );
    // A target added between the preview and the write was never shown: refused.
    let third = moto::unique("trig-third");
    s.seeder.create_function(&third).await;
    proxy.add_after(
        1,
        crate::support::proxy::Rule {
            region: REGION.into(),
            service: Some("events".into()),
            operation: Some("ListTargetsByRule".into()),
            // Held until the target added below has landed (a delay was outlasted by moto busy
            // with the rest of the suite).
            fault: crate::support::proxy::Fault::HoldUntil("third"),
            remaining: Some(1),
        },
    );
    // Reads so far (the dry run's above): the child's preview read comes next, then its held
    // read right before the write.
    let before = proxy.calls(REGION, "events", "ListTargetsByRule");
    let child = lops.spawn(&[
        "triggers",
        "disable",
        "--rule",
        &s.rule,
        "--regions",
        REGION,
        "--yes",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while proxy.calls(REGION, "events", "ListTargetsByRule") < before + 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no read before the write"
        );
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    let third_arn = format!("arn:aws:lambda:{REGION}:123456789012:function:{third}");
    s.events
        .put_targets()
        .rule(&s.rule)
        .targets(
            Target::builder()
                .id("third")
                .arn(&third_arn)
                .build()
                .expect("target"),
        )
        .send()
        .await
        .expect("third target");
    proxy.release("third");
    let (code, stderr) = crate::support::cli::finish(child, 30);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("targets changed since the preview"),
        "{stderr}"
    );
    assert_eq!(rule_state(&s).await, "ENABLED");
    // Paused for real: the audit record names what it paused with it.
    let run = disable(&lops, "--rule", &s.rule, "--yes");
    run.assert_exit(0);
    let audit =
        std::fs::read_to_string(lops.home.path().join("state/lops/audit.jsonl")).expect("audit");
    let last = audit.lines().last().unwrap_or_default();
    assert!(last.contains("invokes") && last.contains(&third), "{last}");
    // A rule that also delivers CloudTrail management events would come back plain ENABLED:
    // refused, nothing written.
    let disables = proxy.calls(REGION, "events", "DisableRule");
    let ct = format!("{}-ct", s.function);
    s.events
        .put_rule()
        .name(&ct)
        .schedule_expression("rate(1 day)")
        .state(RuleState::from(
            "ENABLED_WITH_ALL_CLOUDTRAIL_MANAGEMENT_EVENTS",
        ))
        .send()
        .await
        .expect("put rule");
    let run = disable(&lops, "--rule", &ct, "--yes");
    // Refused, as a guard refuses (exit 4): nothing failed.
    run.assert_exit(4);
    assert!(run.stderr.contains("cannot put back"), "{}", run.stderr);
    assert_eq!(proxy.calls(REGION, "events", "DisableRule"), disables);
    // A mapping between states (AWS says Updating while an edit settles) is not guessed at.
    proxy.rewrite(REGION, "GetEventSourceMapping", |_, body| {
        body.replace("\"State\": \"Disabled\"", "\"State\": \"Updating\"")
            .replace("\"State\":\"Disabled\"", "\"State\":\"Updating\"")
            .replace("\"State\": \"Enabled\"", "\"State\": \"Updating\"")
            .replace("\"State\":\"Enabled\"", "\"State\":\"Updating\"")
    });
    let run = disable(&lops, "--mapping", &s.mapping, "--yes");
    run.assert_exit(4);
    assert!(run.stderr.contains("Updating"), "{}", run.stderr);
    assert_eq!(mapping_state(&s).await, "Enabled");
    assert_eq!(proxy.calls(REGION, "lambda", "UpdateEventSourceMapping"), 0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_without_the_function_is_an_entry_in_the_json_and_nowhere_is_bad_input() {
    let s = seed().await;
    let lops = Lops::new(moto::url());
    let regions = format!("{REGION},ap-east-1");
    let run = lops.run(&["triggers", &s.function, "--regions", &regions, "--json"]);
    run.assert_exit(3);
    let doc = run.json();
    let entries = doc.as_array().cloned().unwrap_or_default();
    assert_eq!(entries.len(), 2, "{doc:#}");
    assert!(
        entries
            .iter()
            .any(|e| e["region"] == "ap-east-1" && e["error"].as_str().is_some()),
        "{doc:#}"
    );
    let run = lops.run(&[
        "triggers",
        "no-such-fn-anywhere",
        "--regions",
        &regions,
        "--json",
    ]);
    run.assert_exit(2);
    assert_eq!(run.json()["exit"], 2, "{}", run.stdout);
}

/// A mapping bound to one of the function's aliases is listed only under the alias's ARN: it
/// is the function's trigger too, listed once and saying which alias it goes through.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_mapping_bound_to_an_alias_is_listed_with_the_function() {
    let seeder = Seeder::new(moto::url(), REGION).await;
    let function = moto::unique("trigalias");
    created(&seeder, &function).await;
    let v1 = seeder.publish_version(&function, "one").await;
    seeder.create_alias(&function, "live", &v1, None).await;
    let alias_arn = seeder
        .lambda
        .get_alias()
        .function_name(&function)
        .name("live")
        .send()
        .await
        .expect("alias")
        .alias_arn()
        .expect("alias arn")
        .to_string();
    let queue_arn = create_queue(&format!("{function}-live-jobs"));
    let uuid = seeder
        .lambda
        .create_event_source_mapping()
        .function_name(&alias_arn)
        .event_source_arn(&queue_arn)
        .batch_size(5)
        .send()
        .await
        .expect("mapping")
        .uuid()
        .unwrap_or_default()
        .to_string();
    let lops = Lops::new(moto::url());
    let listed = lops.run(&["triggers", &function, "--region", REGION, "--json"]);
    listed.assert_exit(0);
    let doc = listed.json();
    let mappings: Vec<&serde_json::Value> = doc[0]["triggers"]
        .as_array()
        .expect("triggers")
        .iter()
        .filter(|t| t["kind"] == "mapping")
        .collect();
    assert_eq!(mappings.len(), 1, "{doc}");
    assert_eq!(mappings[0]["id"], uuid.as_str());
    assert!(
        mappings[0]["detail"]
            .as_str()
            .is_some_and(|d| d.contains("through live")),
        "{doc}"
    );
}

/// The undo of a trigger change, asked through a read-only profile of the same account beside
/// the one that changed it: refused through both, said as the same trigger (an undo's action
/// is "undo", its target still a rule), the rule left as the change set it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_of_a_trigger_refused_through_another_profile_names_the_trigger() {
    let s = seed().await;
    let lops = Lops::new(moto::url());
    lops.run(&[
        "triggers", "disable", "--rule", &s.rule, "--region", REGION, "--yes",
    ])
    .assert_exit(0);
    assert_eq!(rule_state(&s).await, "DISABLED");
    let config = read_only_profile(&lops);
    let undo = lops.run(&[
        "undo",
        "--profile",
        "default,ro",
        "--config",
        &config.display().to_string(),
        "--yes",
    ]);
    refused_as_the_same_trigger(&undo);
    assert_eq!(rule_state(&s).await, "DISABLED");
}

/// ListEventSourceMappings failing: the rule that was read is listed, and the mappings are
/// said not read with their call, in both faces — exit 3 from `lops triggers`, a line in the
/// dashboard's detail view. The CLI exited 0 with a note naming no call; the dashboard showed
/// the rule alone, and "no rules or event source mappings" for a function without rules.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mappings_that_cannot_be_read_are_said_not_read_in_both_faces() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    use crate::support::tui;
    use crossterm::event::KeyCode;
    let s = seed().await;
    let proxy = FaultProxy::start(moto::url());
    let failing = Rule::lambda(REGION, "ListEventSourceMappings", Fault::Status(500), None);
    proxy.add(failing);
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&["triggers", &s.function, "--region", REGION]);
    run.assert_exit(3);
    assert!(
        run.stdout.contains(&s.rule)
            && run
                .stdout
                .contains("not read: event source mappings: ListEventSourceMappings")
            && !run.stdout.contains(&s.mapping)
            && !run.stdout.contains("no rules or event source mappings"),
        "{}",
        run.stdout
    );
    let json = lops.run(&["triggers", &s.function, "--region", REGION, "--json"]);
    json.assert_exit(3);
    let notes = json.json()[0]["notes"].to_string();
    assert!(notes.contains("ListEventSourceMappings"), "{notes}");

    let source = lops::provider::aws::AwsRegion::new(tui::clients(&proxy.url, REGION).await);
    let sources = vec![std::sync::Arc::new(source)];
    let state = tui::state(&sources);
    let screen = tui::Screen::new(120, 30);
    let (keys, run) = tui::start_on(&screen, sources, state, None);
    tui::filter(&keys, &s.function);
    // Its row (the filter's text names it from the first frame).
    screen.wait_for(15, "functions 1/").await;
    tui::press(&keys, KeyCode::Enter);
    let shown = screen.wait_for(15, "not read: event source mappings").await;
    assert!(shown.contains(&s.rule), "{shown}");
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
}
