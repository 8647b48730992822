//! Traffic plans against moto: steps to the end, a guard that trips (alarm, error rate) and
//! rolls back within one interval, and a plan killed mid-way that resumes or rolls back.

use std::time::Duration;

use aws_sdk_cloudwatch::types::{StandardUnit, StateValue};
use serde_json::Value;

use crate::support::cli::{Lops, finish, plan_args, set_live_weight};
use crate::support::moto;
use crate::support::seed::{Seeder, canary, killed_after_first_step};

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_steps_to_the_new_version() {
    let region = "us-east-1";
    let (seeder, f) = canary(region, "plan").await;
    let lops = Lops::new(moto::url());
    let run = lops.run(&[
        "traffic",
        "plan",
        "live",
        "--fn",
        &f,
        "--to",
        "2",
        "--steps",
        "20:1s,60:1s",
        "--guard-interval",
        "1",
        "--max-error-rate",
        "0.5",
        "--regions",
        region,
        "--yes",
    ]);
    run.assert_exit(0);
    assert!(
        run.stderr.contains("done: all traffic on the new version"),
        "{}",
        run.stderr
    );
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
    let audit = lops.run(&["audit", "--json"]).json();
    let actions: Vec<&str> = audit
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(actions, ["traffic.set", "traffic.set", "traffic.promote"]);
    // A finished rollout is undone whole: back to where it started (not one step, half-way).
    let undo = lops.run(&["undo", "--dry-run"]);
    undo.assert_exit(0);
    assert!(
        undo.stderr
            .contains(&format!("undo {f}:live in {region}: v2 100% → v1 100%"))
            && undo.stderr.contains(&format!(
                "the rollout of {f}:live, whole: back to where it started"
            )),
        "{}",
        undo.stderr
    );
    let plans = lops.run(&["traffic", "plans", "--json"]);
    assert_eq!(
        standings(&plans.json()),
        ["finished"],
        "a finished plan is not running"
    );
    // --profile and --regions narrow the list, as they narrow `audit`.
    let here = lops.run(&["traffic", "plans", "--json", "--regions", region]);
    assert_eq!(standings(&here.json()), ["finished"]);
    // A profile no one knows and nothing was saved under is a typo (exit 2, as everywhere).
    let typo = lops.run(&["traffic", "plans", "--profile", "other"]);
    typo.assert_exit(2);
    assert!(typo.stderr.contains("'other'"), "{}", typo.stderr);
    lops.aws_files(
        "[default]\nregion = us-east-1\n[profile other]\nregion = us-east-1\n",
        None,
    );
    for narrowed in [
        vec!["traffic", "plans", "--regions", "eu-west-3"],
        vec!["traffic", "plans", "--profile", "other"],
    ] {
        let run = lops.run(&narrowed);
        run.assert_exit(0);
        assert!(
            !run.stdout.contains(&f)
                && run
                    .stderr
                    .contains("none of the 1 rollout(s) saved is under the profiles and regions")
                && run
                    .stderr
                    .contains(&format!("they are under default/{region}")),
            "{narrowed:?}: {}{}",
            run.stdout,
            run.stderr
        );
    }
    lops.run(&["traffic", "plans", "--regions", "nowhere-1"])
        .assert_exit(2);
}

/// A canary alias in `region` under a plan (20% held a minute) guarded by an alarm checked
/// every second, running once the 20% is applied: (seeder, function, alarm, lops, the plan).
async fn alarm_guarded_plan(
    region: &str,
    prefix: &str,
) -> (Seeder, String, String, Lops, std::process::Child) {
    alarm_guarded_plan_through(region, prefix, moto::url()).await
}

/// [`alarm_guarded_plan`] with lops reaching AWS through `endpoint` (a fault proxy).
async fn alarm_guarded_plan_through(
    region: &str,
    prefix: &str,
    endpoint: &str,
) -> (Seeder, String, String, Lops, std::process::Child) {
    let (seeder, f) = canary(region, prefix).await;
    let alarm = format!("{f}-errors");
    seeder
        .put_error_alarm(&alarm, &f, Some(StateValue::Ok))
        .await;
    let lops = Lops::new(endpoint);
    let child = lops.spawn(&[
        "traffic",
        "plan",
        "live",
        "--fn",
        &f,
        "--to",
        "2",
        "--steps",
        "20:60s",
        "--guard-alarm",
        &alarm,
        "--guard-interval",
        "1s",
        "--regions",
        region,
        "--yes",
    ]);
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    (seeder, f, alarm, lops, child)
}

async fn trip(seeder: &Seeder, alarm: &str) {
    seeder
        .cloudwatch
        .set_alarm_state()
        .alarm_name(alarm)
        .state_value(StateValue::Alarm)
        .state_reason("errors")
        .send()
        .await
        .expect("set alarm");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn alarm_guard_rolls_back_within_one_interval() {
    let (seeder, f, alarm, lops, child) = alarm_guarded_plan("eu-west-1", "alarm").await;
    trip(&seeder, &alarm).await;
    let took = seeder.wait_for_routing(&f, ("1", None), 10).await;
    assert!(
        took < Duration::from_secs(3),
        "rollback took {took:?} with a 1 s guard interval"
    );
    let (code, stderr) = finish(child, 120);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!("alarm {alarm} is in ALARM")),
        "{stderr}"
    );
    // The audit says why the traffic went back: the guard, and what it saw (a person's abort
    // reads otherwise); each step says which it was.
    let audit = lops.run(&["audit"]);
    audit.assert_exit(0);
    assert!(
        audit.stdout.contains(&format!(
            "rollout rolled back: guard tripped: alarm {alarm} is in ALARM"
        )) && audit.stdout.contains("rollout step 1/2 (20% on v2)"),
        "{}",
        audit.stdout
    );
}

/// A guard alarm deleted while the rollout runs would read as never firing: the guard trips
/// and rolls back, saying why, instead of promoting blind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_alarm_deleted_while_the_rollout_runs_trips_it() {
    let (seeder, f, alarm, _lops, child) = alarm_guarded_plan("eu-west-1", "gone").await;
    seeder
        .cloudwatch
        .delete_alarms()
        .alarm_names(&alarm)
        .send()
        .await
        .expect("delete the alarm");
    seeder.wait_for_routing(&f, ("1", None), 10).await;
    let (code, stderr) = finish(child, 120);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!("guard alarm {alarm} no longer exists")),
        "{stderr}"
    );
}

/// Someone else sets the alias while a step holds; then the guard trips. The rollback would
/// overwrite their weights: the rollout halts instead, writes nothing and says so (exit 4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_trip_never_overwrites_someone_elses_change() {
    let (seeder, f, alarm, lops, child) = alarm_guarded_plan("eu-west-1", "theirs").await;
    seeder.set_extra_weight(&f, "2", 0.5).await;
    trip(&seeder, &alarm).await;
    let (code, stderr) = finish(child, 120);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!("alarm {alarm} is in ALARM"))
            && stderr.contains("someone else changed it")
            && stderr.contains("Nothing was written"),
        "{stderr}"
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.5)])
    );
    let plans = lops.run(&["traffic", "plans", "--json"]);
    assert!(plans.stdout.contains("halted"), "{}", plans.stdout);
}

/// A rollout only moves traffic toward the new version: a first step below the share it
/// already has is refused before anything is written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_first_step_below_the_new_versions_share_is_refused() {
    let region = "eu-west-1";
    let (seeder, f) = canary(region, "lower").await;
    seeder.set_extra_weight(&f, "2", 0.3).await;
    let lops = Lops::new(moto::url());
    let run = lops.run(&plan_args(&f, region, "10:1m"));
    run.assert_exit(2);
    assert!(run.stderr.contains("already takes 30%"), "{}", run.stderr);
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn error_rate_guard_rolls_back() {
    let region = "ca-west-1";
    let (seeder, f) = canary(region, "errs").await;
    let lops = Lops::new(moto::url());
    let child = lops.spawn(&[
        "traffic",
        "plan",
        "live",
        "--fn",
        &f,
        "--to",
        "2",
        "--steps",
        "20:60s",
        "--max-error-rate",
        "0.1",
        "--guard-interval",
        "1",
        "--regions",
        region,
        "--yes",
    ]);
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    let resource = format!("{f}:live");
    let dims = [
        ("FunctionName", f.as_str()),
        ("Resource", resource.as_str()),
        ("ExecutedVersion", "2"),
    ];
    seeder
        .put_metric(&dims, "Invocations", 10.0, StandardUnit::Count, 0..=0)
        .await;
    seeder
        .put_metric(&dims, "Errors", 5.0, StandardUnit::Count, 0..=0)
        .await;
    seeder.wait_for_routing(&f, ("1", None), 10).await;
    let (code, stderr) = finish(child, 120);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("error rate 50% over the last 5 minutes is above 10%"),
        "{stderr}"
    );
}

/// A saved rollout whose file no longer reads (cut short, edited) may be one still running:
/// it is named in the list (exit 3), and nothing changes its alias — a set, a new rollout, a
/// resume, an abort are refused saying which file and what to do — until someone looks.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_whose_file_does_not_read_holds_its_alias() {
    let region = "il-central-1";
    let (seeder, f) = canary(region, "damaged").await;
    let lops = Lops::new(moto::url());
    killed_after_first_step(&lops, &seeder, &f, region, "20:30s", 0.2).await;
    let dir = lops.home.path().join("state/lops/plans");
    let file = std::fs::read_dir(&dir)
        .expect("plans")
        .flatten()
        .map(|e| e.path())
        .find(|p| p.extension().is_some_and(|x| x == "json"))
        .expect("the rollout's file");
    let text = std::fs::read_to_string(&file).expect("read");
    std::fs::write(&file, &text[..text.len() / 2]).expect("cut it short");
    let plans = lops.run(&["traffic", "plans"]);
    plans.assert_exit(3);
    assert!(
        plans.stdout.contains("unreadable") && plans.stdout.contains(&*file.to_string_lossy()),
        "{}",
        plans.stdout
    );
    let listed = lops.run(&["traffic", "plans", "--json"]);
    listed.assert_exit(3);
    assert_eq!(standings(&listed.json()), ["unreadable"]);
    let refused = |run: crate::support::cli::Run| {
        run.assert_exit(4);
        assert!(
            run.stderr.contains("cannot be read") && run.stderr.contains("move the file away"),
            "{}",
            run.stderr
        );
    };
    let run = crate::support::cli::set_live_weight(&lops, region, &f, "0.5");
    // The command it offers to look with works as written.
    let named = (run.stderr.split('`'))
        .find(|s| s.starts_with("lops traffic show"))
        .unwrap_or_else(|| panic!("{}", run.stderr))
        .to_string();
    let args: Vec<&str> = named.split_whitespace().skip(1).collect();
    lops.run(&args).assert_exit(0);
    refused(run);
    refused(lops.run(&plan_args(&f, region, "50:30s")));
    for verb in ["resume", "abort"] {
        refused(lops.run(&[
            "traffic",
            verb,
            "live",
            "--fn",
            &f,
            "--regions",
            region,
            "--yes",
        ]));
    }
    // Through another profile too (of the same account, or one the file cannot say): a
    // change of the alias there would halt the rollout as surely (it went through).
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile other]\nregion = {region}\n"),
    )
    .expect("aws config");
    let other = |mut args: Vec<&str>| {
        let yes = args.iter().position(|a| *a == "--yes").expect("--yes");
        args.splice(yes..yes, ["--profile", "other"]);
        lops.run(&args)
    };
    refused(other(vec![
        "traffic",
        "set",
        "live",
        "--fn",
        &f,
        "--version",
        "2",
        "--weight",
        "0.5",
        "--regions",
        region,
        "--yes",
    ]));
    refused(other(plan_args(&f, region, "50:30s")));
    for verb in ["resume", "abort"] {
        refused(other(vec![
            "traffic",
            verb,
            "live",
            "--fn",
            &f,
            "--regions",
            region,
            "--yes",
        ]));
    }
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.2)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn killed_plan_resumes_or_rolls_back() {
    let region = "il-central-1";
    let (seeder, resumed) = canary(region, "resume").await;
    let (_, aborted) = canary(region, "abort").await;
    let lops = Lops::new(moto::url());
    let mut children = Vec::new();
    for f in [&resumed, &aborted] {
        let mut child = lops.spawn(&[
            "traffic",
            "plan",
            "live",
            "--fn",
            f,
            "--to",
            "2",
            "--steps",
            "20:3s",
            "--guard-interval",
            "1",
            "--regions",
            region,
            "--yes",
        ]);
        seeder.wait_for_routing(f, ("1", Some(0.2)), 20).await;
        child.kill().expect("kill -9");
        // Not reaped yet: a zombie with its /proc entry drives nothing either.
        children.push(child);
    }
    let plans = lops.run(&["traffic", "plans", "--json"]);
    plans.assert_exit(0);
    let listed: Vec<String> = plans
        .json()
        .as_array()
        .expect("plans")
        .iter()
        .map(|p| p["function"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        listed.contains(&resumed) && listed.contains(&aborted),
        "{listed:?}"
    );
    // Their lops was killed: both are interrupted, not running.
    assert_eq!(standings(&plans.json()), ["interrupted", "interrupted"]);
    // The step they are on is counted from 1, as the plan's own events count it.
    for p in plans.json().as_array().expect("plans") {
        assert_eq!(p["step"], 1, "{p}");
    }
    for mut child in children {
        let _ = child.wait();
    }

    let run = lops.run(&[
        "traffic",
        "resume",
        "live",
        "--fn",
        &resumed,
        "--regions",
        region,
        "--yes",
    ]);
    run.assert_exit(0);
    assert_eq!(seeder.routing(&resumed).await, ("2".to_string(), vec![]));

    let run = lops.run(&[
        "traffic",
        "abort",
        "live",
        "--fn",
        &aborted,
        "--regions",
        region,
        "--yes",
    ]);
    run.assert_exit(0);
    assert_eq!(seeder.routing(&aborted).await, ("1".to_string(), vec![]));
    assert_eq!(
        standings(&lops.run(&["traffic", "plans", "--json"]).json()),
        ["finished", "finished"]
    );
    // Resuming what is no longer running says so.
    lops.run(&[
        "traffic",
        "resume",
        "live",
        "--fn",
        &aborted,
        "--regions",
        region,
        "--yes",
    ])
    .assert_exit(2);
}

#[test]
fn plan_input_is_checked_before_anything_runs() {
    let lops = Lops::new("http://127.0.0.1:9");
    let run = lops.run(&[
        "traffic",
        "plan",
        "live",
        "--fn",
        "f",
        "--to",
        "2",
        "--preset",
        "Canary99",
        "--regions",
        "us-east-1",
        "--yes",
    ]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("unknown preset 'Canary99'")
            && run.stderr.contains("Canary10Percent5Minutes"),
        "{}",
        run.stderr
    );
    // Falling steps; a step short of all traffic held for no time (it would never be watched).
    for (steps, says) in [("50:1m,10:1m", "rise"), ("10", "how long to hold")] {
        let run = lops.run(&[
            "traffic",
            "plan",
            "live",
            "--fn",
            "f",
            "--to",
            "2",
            "--steps",
            steps,
            "--regions",
            "us-east-1",
            "--yes",
        ]);
        run.assert_exit(2);
        assert!(run.stderr.contains(says), "{steps}: {}", run.stderr);
    }
    // `$LATEST` is a version, not an alias: refused here, before any request.
    for args in [
        vec![
            "traffic",
            "plan",
            "$LATEST",
            "--fn",
            "f",
            "--to",
            "2",
            "--preset",
            "AllAtOnce",
        ],
        vec![
            "traffic",
            "set",
            "$LATEST",
            "--fn",
            "f",
            "--version",
            "2",
            "--weight",
            "0.1",
        ],
    ] {
        let mut args = args;
        args.extend(["--regions", "us-east-1", "--yes"]);
        let run = lops.run(&args);
        run.assert_exit(2);
        assert!(
            run.stderr.contains("'$LATEST' is not an alias name"),
            "{args:?}: {}",
            run.stderr
        );
    }
    let run = lops.run(&[
        "--read-only",
        "traffic",
        "plan",
        "live",
        "--fn",
        "f",
        "--to",
        "2",
        "--preset",
        "AllAtOnce",
        "--regions",
        "us-east-1",
        "--yes",
    ]);
    run.assert_exit(4);
}

/// The standing of every saved rollout, as `traffic plans --json` lists them.
fn standings(plans: &Value) -> Vec<String> {
    plans
        .as_array()
        .map(|a| {
            a.iter()
                .map(|p| p["standing"].as_str().unwrap_or_default().to_string())
                .collect()
        })
        .unwrap_or_default()
}

/// `--dry-run --json` of a plan: one JSON line on stdout saying what it would do, and nothing
/// written (before, stdout was empty).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dry_run_with_json_prints_its_preview_as_one_line() {
    let region = "il-central-1";
    let (seeder, f) = canary(region, "dryjson").await;
    let lops = Lops::new(moto::url());
    let mut args = plan_args(&f, region, "20:60s");
    args.retain(|a| *a != "--yes");
    args.extend(["--dry-run", "--json"]);
    let run = lops.run(&args);
    run.assert_exit(0);
    let doc = run.json();
    assert_eq!(doc["dry_run"], true, "{doc}");
    assert_eq!(doc["target"], format!("{f}:live"), "{doc}");
    assert_eq!(doc["region"], region, "{doc}");
    assert!(
        doc["preview"].as_str().is_some_and(|p| p.contains("20%")),
        "{doc}"
    );
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    assert!(standings(&lops.run(&["traffic", "plans", "--json"]).json()).is_empty());
    // On a production profile the dry run says what a real run asks, as every dry run does.
    let config = lops.config("[profile.default]\nproduction = true\n");
    args.extend(["--config", config.to_str().expect("utf-8 path")]);
    let prod = lops.run(&args);
    prod.assert_exit(0);
    assert!(
        prod.stderr
            .contains(&format!("a real run asks for the typed name: \"{f}:live\"")),
        "{}",
        prod.stderr
    );
}

/// A script reading `--json` learns from the last line that the rollout was interrupted:
/// `standing` says it (`status` stays `running`, the step it was at).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_interrupted_rollouts_last_json_line_says_interrupted() {
    let region = "il-central-1";
    let (seeder, f) = canary(region, "sigjson").await;
    let lops = Lops::new(moto::url());
    let mut args = plan_args(&f, region, "20:60s");
    args.push("--json");
    let child = lops.spawn(&args);
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    let sent = std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    assert!(sent.success());
    let out = child.wait_with_output().expect("lops ends");
    assert_eq!(out.status.code(), Some(1));
    let stdout = String::from_utf8_lossy(&out.stdout);
    let lines: Vec<Value> = stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    assert_eq!(
        lines.first().map(|l| l["standing"].clone()),
        Some("running".into()),
        "{stdout}"
    );
    let last = lines.last().expect("a line");
    assert_eq!(last["standing"], "interrupted", "{stdout}");
    assert!(
        last["event"]
            .as_str()
            .is_some_and(|e| e.starts_with("interrupted at step 1/2")),
        "{stdout}"
    );
}

/// ctrl-c, SIGTERM or a closed terminal stop a rollout where it is, at once and on the record:
/// the alias keeps its step, the plan reads interrupted (resume or abort), lops exits 1.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_stops_a_rollout_where_it_is_and_leaves_it_interrupted() {
    let region = "il-central-1";
    let (seeder, f) = canary(region, "sigterm").await;
    let lops = Lops::new(moto::url());
    let child = lops.spawn(&plan_args(&f, region, "20:60s"));
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    let pid = child.id().to_string();
    let sent = std::process::Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill -TERM");
    assert!(sent.success());
    let out = child.wait_with_output().expect("lops ends");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains("interrupted at step 1/2") && stderr.contains("lops traffic resume live"),
        "{stderr}"
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.2)])
    );
    assert_eq!(
        standings(&lops.run(&["traffic", "plans", "--json"]).json()),
        ["interrupted"]
    );
    // Every write it began has its result on record.
    let audit = lops.run(&["audit", "--json"]);
    audit.assert_exit(0);
    assert!(!audit.stdout.contains("\"started\""), "{}", audit.stdout);
    // An alarm of the function the guard does not watch fires: both faces' previews say so,
    // read as the preview is made.
    let other = format!("{f}-firing");
    seeder
        .put_error_alarm(&other, &f, Some(StateValue::Alarm))
        .await;
    let unwatched =
        format!("warning: alarm {other} of {f} is in ALARM, and this rollout's guard does not");
    // Resumable at once: no lops holds it.
    let preview = || {
        lops.run(&[
            "traffic",
            "resume",
            "live",
            "--fn",
            &f,
            "--regions",
            region,
            "--dry-run",
        ])
    };
    let resume = preview();
    resume.assert_exit(0);
    assert!(
        resume.stderr.contains("resume the rollout of")
            && resume.stderr.contains("steps left: 20% for 1m, 100%")
            && !resume.stderr.contains("halts at once")
            && resume.stderr.contains(&unwatched),
        "{}",
        resume.stderr
    );
    // Changed by hand since: the preview says the resume would halt at once.
    seeder.set_extra_weight(&f, "2", 0.3).await;
    let resume = preview();
    assert!(
        resume.stderr.contains("resuming halts at once"),
        "{}",
        resume.stderr
    );
    // The dashboard previews from the same read: its abort said the alias was as the rollout
    // left it (v2 20%), an abort that looked like no change.
    use crate::support::tui::{self, Screen};
    use crossterm::event::KeyCode;
    let sources = vec![std::sync::Arc::new(lops::provider::aws::AwsRegion::new(
        tui::clients(moto::url(), region).await,
    ))];
    let state = tui::state(&sources);
    let audit = lops::ops::audit::AuditLog::at(lops.home.path().join("state/lops/audit.jsonl"));
    let screen = Screen::new(160, 30);
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit));
    tui::filter(&keys, &f);
    screen.wait_for(20, "resume or abort").await;
    for (key, said) in [
        ('U', "resuming halts at once"),
        ('A', "now v1 70% / v2 30% → v1 100%"),
    ] {
        tui::press(&keys, KeyCode::Char(key));
        let shown = screen.wait_for(20, "y confirms").await;
        assert!(shown.contains(said), "{key}: {shown}");
        // Said before a resume, not an abort (which sends traffic back).
        assert_eq!(shown.contains(&unwatched), key == 'U', "{key}: {shown}");
        tui::press(&keys, KeyCode::Esc);
        screen
            .wait_until(10, "the preview closed", |t| !t.contains("y confirms"))
            .await;
    }
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
}

/// A second ctrl-c while the guard's rollback is being written does not leave the alias
/// half-way back: lops says it finishes the rollback first, then exits (4, the guard tripped).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_ctrl_c_waits_for_the_rollback() {
    use crate::support::proxy::FaultProxy;
    let region = "il-central-1";
    let (seeder, f) = canary(region, "sigrollback").await;
    let alarm = format!("{f}-errors");
    seeder
        .put_error_alarm(&alarm, &f, Some(StateValue::Ok))
        .await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let mut args = plan_args(&f, region, "20:60s");
    args.extend(["--guard-alarm", &alarm]);
    let child = lops.spawn(&args);
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    let writes = hold_alias_writes(&proxy, region);
    trip(&seeder, &alarm).await;
    wait_for_a_write(&proxy, region, writes);
    let pid = child.id().to_string();
    for _ in 0..2 {
        std::process::Command::new("kill")
            .args(["-INT", &pid])
            .status()
            .expect("kill -INT");
        std::thread::sleep(Duration::from_millis(200));
    }
    let (code, stderr) = finish(child, 60);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("lops quits when it is done"), "{stderr}");
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
}

/// A signal while `traffic abort` writes its rollback does not kill it half-way: lops says so,
/// finishes the rollback and its record, and the plan reads aborted (before, one SIGTERM left
/// the audit at `started` and the plan `interrupted` with the alias already back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_signal_during_an_aborts_rollback_waits_for_it() {
    use crate::support::proxy::FaultProxy;
    let region = "il-central-1";
    let (seeder, f) = canary(region, "sigabort").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let mut owner = lops.spawn(&plan_args(&f, region, "20:60s"));
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    // The owner's step is recorded before it is killed: what is asserted below is the abort's
    // records (a kill between a write and its record leaves that one `started`, by design).
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while lops
        .run(&["audit", "--json"])
        .stdout
        .contains("\"started\"")
    {
        assert!(
            std::time::Instant::now() < deadline,
            "the step was never recorded"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let _ = owner.kill();
    let _ = owner.wait();
    let writes = hold_alias_writes(&proxy, region);
    let child = lops.spawn(&[
        "traffic",
        "abort",
        "live",
        "--fn",
        &f,
        "--regions",
        region,
        "--yes",
    ]);
    wait_for_a_write(&proxy, region, writes);
    std::process::Command::new("kill")
        .args(["-TERM", &child.id().to_string()])
        .status()
        .expect("kill -TERM");
    let (code, stderr) = finish(child, 60);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("lops quits when it is done"), "{stderr}");
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    let audit = lops.run(&["audit", "--json"]);
    assert!(!audit.stdout.contains("\"started\""), "{}", audit.stdout);
    assert_eq!(
        standings(&lops.run(&["traffic", "plans", "--json"]).json()),
        ["finished"],
        "nothing left to resume or abort"
    );
}

/// A lops waiting on a slow AWS call (here the guard's CloudWatch read, 30 s: longer than the
/// 15 s after which a silent owner counts as gone — hence the raised timeout) still owns its
/// rollout: `plans` says running and another lops's resume is refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_owner_waiting_on_a_slow_call_keeps_its_rollout() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "il-central-1";
    let (seeder, f) = canary(region, "slowguard").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\noperation_secs = 30\nmax_attempts = 1\n");
    let mut args = plan_args(&f, region, "20:60s");
    args.extend(["--config", config.to_str().unwrap_or_default()]);
    let mut child = lops.spawn(&args);
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    proxy.add(Rule {
        region: region.into(),
        service: Some("monitoring".into()),
        operation: None,
        fault: Fault::Hang,
        remaining: None,
    });
    // Every guard read from now on hangs; past the staleness limit the owner still lives.
    tokio::time::sleep(std::time::Duration::from_secs(18)).await;
    let plans = lops.run(&["traffic", "plans", "--json"]);
    let resume = lops.run(&[
        "traffic",
        "resume",
        "live",
        "--fn",
        &f,
        "--regions",
        region,
        "--yes",
    ]);
    let _ = child.kill();
    let _ = child.wait();
    assert_eq!(standings(&plans.json()), ["running"], "{}", plans.stdout);
    resume.assert_exit(4);
}

/// One alias, one rollout: the same alias under another profile name of the same account is
/// refused while a rollout runs there (the two would write over each other's steps).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_profile_on_the_same_account_cannot_start_a_rollout_of_the_same_alias() {
    let region = "il-central-1";
    let (seeder, f) = canary(region, "twoprof").await;
    let lops = Lops::new(moto::url());
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile ops]\nregion = {region}\n"),
    )
    .expect("aws config");
    let mut child = lops.spawn(&plan_args(&f, region, "20:60s"));
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    let mut second = plan_args(&f, region, "20:60s");
    second.extend(["--profile", "ops"]);
    let run = lops.run(&second);
    let _ = child.kill();
    let _ = child.wait();
    run.assert_exit(4);
    // Running: resuming it would be refused, so only its abort is offered.
    assert!(
        run.stderr.contains("under profile default")
            && run.stderr.contains("abort it there, or let it finish"),
        "{}",
        run.stderr
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.2)])
    );
}

/// A guard already tripped is refused at the start: the first step would send traffic to the
/// new version while the alarm fires, only to roll back at the first check.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_whose_guard_is_already_tripped_does_not_start() {
    let region = "eu-west-1";
    let (seeder, f) = canary(region, "tripped").await;
    let alarm = format!("{f}-errors");
    seeder
        .put_error_alarm(&alarm, &f, Some(StateValue::Alarm))
        .await;
    let lops = Lops::new(moto::url());
    let mut args = plan_args(&f, region, "20:60s");
    args.extend(["--guard-alarm", &alarm]);
    let run = lops.run(&args);
    run.assert_exit(4);
    assert!(run.stderr.contains("is in ALARM now"), "{}", run.stderr);
    // Not named: the guard watches the function's own alarms anyway (the dashboard's `C`
    // starts the same way), so the start is refused alike.
    let run = lops.run(&plan_args(&f, region, "20:60s"));
    run.assert_exit(4);
    assert!(
        run.stderr
            .contains(&format!("guard alarm {alarm} is in ALARM now"))
            && run.stderr.contains("--no-function-alarms"),
        "{}",
        run.stderr
    );
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    // Left out on purpose (an alarm that says nothing of a new version): the plan previews.
    let mut args = plan_args(&f, region, "20:60s");
    args.extend(["--no-function-alarms", "--dry-run"]);
    let run = lops.run(&args);
    run.assert_exit(0);
    assert!(!run.stderr.contains(&alarm), "{}", run.stderr);
}

/// Every UpdateAlias in `region` from now on is held 3 s; the writes sent so far.
fn hold_alias_writes(proxy: &crate::support::proxy::FaultProxy, region: &str) -> u64 {
    use crate::support::proxy::{Fault, Rule};
    let writes = proxy.calls(region, "lambda", "UpdateAlias");
    proxy.add(Rule {
        region: region.into(),
        service: Some("lambda".into()),
        operation: Some("UpdateAlias".into()),
        fault: Fault::Delay(Duration::from_secs(3)),
        remaining: None,
    });
    writes
}

/// Waits (up to 20 s) for an UpdateAlias in `region` past the `writes` sent before: a rollback
/// being written.
fn wait_for_a_write(proxy: &crate::support::proxy::FaultProxy, region: &str, writes: u64) {
    let deadline = std::time::Instant::now() + Duration::from_secs(20);
    while proxy.calls(region, "lambda", "UpdateAlias") == writes {
        assert!(
            std::time::Instant::now() < deadline,
            "no rollback was written"
        );
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// The guard trips and its rollback cannot be written (UpdateAlias failing): the rollout is
/// saved halted, saying where the alias is left and the abort that returns it — not left
/// "running" with no one driving it — and that abort works once AWS answers again.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollback_that_cannot_be_written_halts_the_rollout_with_its_abort() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "eu-west-1";
    let proxy = FaultProxy::start(moto::url());
    let (seeder, f, alarm, lops, child) =
        alarm_guarded_plan_through(region, "rbfail", &proxy.url).await;
    proxy.add(Rule::lambda(
        region,
        "UpdateAlias",
        Fault::Status(500),
        None,
    ));
    trip(&seeder, &alarm).await;
    let (code, stderr) = finish(child, 120);
    // Halted (4, as a rollout stopped before its end), not bad input.
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("the rollback failed") && stderr.contains("lops traffic abort live"),
        "{stderr}"
    );
    let plans = lops.run(&["traffic", "plans", "--json"]);
    assert_eq!(
        standings(&plans.json()),
        ["interrupted"],
        "{}",
        plans.stdout
    );
    assert!(
        plans.stdout.contains("the rollback failed"),
        "{}",
        plans.stdout
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.2)])
    );
    // AWS answers again (straight to moto): the abort returns the alias.
    let abort = lops.run_with_env(
        &[
            "traffic",
            "abort",
            "live",
            "--fn",
            &f,
            "--regions",
            region,
            "--yes",
        ],
        &[("AWS_ENDPOINT_URL", moto::url())],
    );
    abort.assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
}

/// A finished rollout that started from a split is undone whole, back to that split — neither
/// one step (half-way) nor refused with a pin that has no version to go to. The next undo goes
/// on to the change before the rollout, not to its earlier steps.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_finished_rollout_is_undone_whole_back_to_where_it_started() {
    let region = "ca-west-1";
    let (seeder, f) = canary(region, "undorun").await;
    let lops = Lops::new(moto::url());
    set_live_weight(&lops, region, &f, "0.25").assert_exit(0);
    lops.run(&plan_args(&f, region, "50:1s")).assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
    // Said in --json too (only stderr said it was the rollout whole).
    let preview = lops.run(&["undo", "--regions", region, "--dry-run", "--json"]);
    assert_eq!(
        preview.json()["plans"][0]["note"],
        format!("the rollout of {f}:live, whole: back to where it started").as_str(),
        "{}",
        preview.stdout
    );
    let undo = lops.run(&["undo", "--regions", region, "--yes"]);
    undo.assert_exit(0);
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.25)]),
        "{}\n{}",
        undo.stdout,
        undo.stderr
    );
    // Next: the set before the rollout (back to v1 100%), not a step of the rollout.
    let next = lops.run(&["undo", "--regions", region, "--yes"]);
    next.assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
}

/// A rollout killed after its first step, its alias then set back and changed outside lops,
/// then a second rollout whose first step found the alias as asked: undo takes the second back
/// to where it started, as its saved plan says — not to the killed one's start (the records of
/// the two runs share a batch, and changes outside lops leave none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_of_a_rollout_goes_back_to_its_own_start_not_an_earlier_ones() {
    let region = "ca-west-1";
    let (seeder, f) = canary(region, "undotwo").await;
    let lops = Lops::new(moto::url());
    killed_after_first_step(&lops, &seeder, &f, region, "10:60s", 0.1).await;
    // Set back by hand, the abort then finds nothing to write.
    seeder.clear_routing(&f).await;
    let abort = [
        "traffic",
        "abort",
        "live",
        "--fn",
        &f,
        "--regions",
        region,
        "--yes",
    ];
    lops.run(&abort).assert_exit(0);
    seeder.set_extra_weight(&f, "2", 0.3).await;
    lops.run(&plan_args(&f, region, "30:1s")).assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
    let undo = lops.run(&["undo", "--regions", region, "--yes"]);
    undo.assert_exit(0);
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)]),
        "{}",
        undo.stderr
    );
}

/// A rollout its abort ended is back where it started: undo passes over it to the change
/// before it, another function's set here (it refused, naming the ended rollout, for good).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn after_an_aborted_rollout_undo_reaches_the_change_before_it() {
    let region = "ca-west-1";
    let (seeder, set) = canary(region, "undoprev").await;
    let (_, rolled) = canary(region, "undoabort").await;
    let lops = Lops::new(moto::url());
    set_live_weight(&lops, region, &set, "0.25").assert_exit(0);
    killed_after_first_step(&lops, &seeder, &rolled, region, "10:60s", 0.1).await;
    let abort = [
        "traffic",
        "abort",
        "live",
        "--fn",
        &rolled,
        "--regions",
        region,
        "--yes",
    ];
    lops.run(&abort).assert_exit(0);
    assert_eq!(seeder.routing(&rolled).await, ("1".to_string(), vec![]));
    let undo = lops.run(&["undo", "--regions", region, "--yes"]);
    undo.assert_exit(0);
    assert_eq!(
        seeder.routing(&set).await,
        ("1".to_string(), vec![]),
        "{}",
        undo.stderr
    );
    assert_eq!(seeder.routing(&rolled).await, ("1".to_string(), vec![]));
}

/// A resume sends more traffic to the new version: refused, as a start is, while an alarm its
/// guard watches is in ALARM or no longer exists (a guard that cannot trip), nothing written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_resume_is_refused_while_its_guard_alarm_fires_or_is_gone() {
    let region = "il-central-1";
    let (seeder, f) = canary(region, "resguard").await;
    let guard = format!("{f}-guard");
    seeder
        .put_error_alarm(&guard, &f, Some(StateValue::Ok))
        .await;
    let lops = Lops::new(moto::url());
    let mut args = plan_args(&f, region, "20:3s");
    args.extend(["--guard-alarm", &guard]);
    let mut child = lops.spawn(&args);
    seeder.wait_for_routing(&f, ("1", Some(0.2)), 20).await;
    child.kill().expect("kill -9");
    let _ = child.wait();
    let resume = || {
        lops.run(&[
            "traffic",
            "resume",
            "live",
            "--fn",
            &f,
            "--regions",
            region,
            "--yes",
        ])
    };
    seeder
        .put_error_alarm(&guard, &f, Some(StateValue::Alarm))
        .await;
    let run = resume();
    run.assert_exit(4);
    assert!(
        run.stderr
            .contains(&format!("guard alarm {guard} is in ALARM now"))
            && run.stderr.contains("Resume it once the alarm is OK"),
        "{}",
        run.stderr
    );
    seeder
        .cloudwatch
        .delete_alarms()
        .alarm_names(&guard)
        .send()
        .await
        .expect("delete the alarm");
    let run = resume();
    run.assert_exit(4);
    assert!(
        run.stderr.contains(&format!(
            "guard alarm {guard} of this rollout no longer exists"
        )) && run
            .stderr
            .contains("Create the alarm again, or abort the rollout"),
        "{}",
        run.stderr
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.2)])
    );
}

/// An audit log that cannot take a record refuses a rollout before anything is saved or sent:
/// exit 4, said as the audit log, no plan left behind. It was said as a first step that failed
/// and "rolled back", and listed as rolled back, with nothing ever sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_with_no_audit_log_is_refused_before_it_starts() {
    let region = "il-central-1";
    let (seeder, f) = canary(region, "noaudit").await;
    let lops = Lops::new(moto::url());
    let state = lops.home.path().join("state/lops");
    std::fs::create_dir_all(state.join("audit.jsonl")).expect("a directory where the log goes");
    let run = lops.run(&plan_args(&f, region, "20:60s"));
    run.assert_exit(4);
    assert!(
        run.stderr.contains("audit log") && run.stderr.contains("nothing was sent"),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("rolled back"), "{}", run.stderr);
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    assert!(standings(&lops.run(&["traffic", "plans", "--json"]).json()).is_empty());
}

/// The new version already failing above the guard's rate through the alias (an earlier
/// rollout's errors, within the last 5 minutes): the start is refused, as for a firing alarm —
/// its first step rolled back at once, after sending it traffic.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_whose_guard_would_trip_at_once_is_refused_at_its_start() {
    let region = "il-central-1";
    let (seeder, f) = canary(region, "tripped").await;
    seeder.version_ran(&f, "2", 100.0, 20.0).await;
    let lops = Lops::new(moto::url());
    let run = lops.run(&plan_args(&f, region, "20:60s"));
    run.assert_exit(4);
    assert!(
        run.stderr.contains("v2 already failed 20% of its calls")
            && run
                .stderr
                .contains("its first step would roll back at once"),
        "{}",
        run.stderr
    );
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    assert!(standings(&lops.run(&["traffic", "plans", "--json"]).json()).is_empty());
}
