//! Rollouts at the seams, with real lops processes against moto: two processes on one rollout,
//! a manual change mid-way, a guard that cannot read its signals, a guard alarm that does not
//! exist, an abort that returns a split alias to its split.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cli::{Lops, Run, finish, plan_args, set_live_weight};
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy, Rule};
use crate::support::seed::{canary, killed_after_first_step};

/// `lops traffic VERB live --fn F --regions R --yes` (abort, resume).
fn traffic(lops: &Lops, verb: &str, f: &str, region: &str) -> Run {
    lops.run(&[
        "traffic",
        verb,
        "live",
        "--fn",
        f,
        "--regions",
        region,
        "--yes",
    ])
}

fn standing(lops: &Lops, f: &str) -> String {
    let plans = lops.run(&["traffic", "plans", "--json"]);
    plans.assert_exit(0);
    plans
        .json()
        .as_array()
        .and_then(|a| a.iter().find(|p| p["function"] == f).cloned())
        .map(|p| p["standing"].as_str().unwrap_or_default().to_string())
        .unwrap_or_default()
}

/// Gives `lops` a second profile name, `other`, for the same account (moto: one account).
fn with_other_profile(lops: &Lops, region: &str) {
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile other]\nregion = {region}\n"),
    )
    .expect("aws config");
}

/// Refused (exit 4) as a change of the alias a live rollout drives, naming `abort`.
fn held_by_the_rollout(run: &Run, abort: &str) {
    run.assert_exit(4);
    assert!(
        run.stderr.contains("would halt it at its next step") && run.stderr.contains(abort),
        "{}",
        run.stderr
    );
}

/// The dashboard on `region` sharing `lops`'s state directory and audit log, filtered to
/// `function` and loaded: its screen, keys and loop.
async fn dashboard_of(
    lops: &Lops,
    region: &str,
    function: &str,
) -> (
    crate::support::tui::Screen,
    crate::support::tui::Keys,
    tokio::task::JoinHandle<std::io::Result<lops::state::State>>,
) {
    use crate::support::tui::{self, Screen};
    let sources = vec![std::sync::Arc::new(lops::provider::aws::AwsRegion::new(
        tui::clients(moto::url(), region).await,
    ))];
    let audit = lops::ops::audit::AuditLog::at(lops.home.path().join("state/lops/audit.jsonl"));
    let screen = Screen::new(120, 30);
    let (keys, run) = tui::start_on(&screen, sources.clone(), tui::state(&sources), Some(audit));
    tui::filter(&keys, function);
    screen.wait_loaded(30, "Active").await;
    (screen, keys, run)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_from_a_second_lops_stops_the_first_and_nothing_is_promoted() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "owner").await;
    let lops = Lops::new(moto::url());
    let first = lops.spawn(&plan_args(&f, region, "10:8s,50:8s"));
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    assert_eq!(standing(&lops, &f), "running");
    // Resuming a rollout another lops drives is refused.
    let resume = traffic(&lops, "resume", &f, region);
    resume.assert_exit(4);
    assert!(
        resume.stderr.contains("running in lops pid"),
        "{}",
        resume.stderr
    );
    // So is any other lever on the alias it drives: it would halt the rollout and leave its
    // guard unable to roll back.
    for lever in ["promote", "rollback"] {
        let run = traffic(&lops, lever, &f, region);
        run.assert_exit(4);
        assert!(
            run.stderr.contains("would halt it at its next step")
                && run
                    .stderr
                    .contains(&format!("lops traffic abort live --fn {f}")),
            "{lever}: {}",
            run.stderr
        );
    }
    // Also through another profile name of the same account (moto: one account).
    with_other_profile(&lops, region);
    let run = lops.run(&[
        "traffic",
        "promote",
        "live",
        "--fn",
        &f,
        "--regions",
        region,
        "--profile",
        "other",
        "--yes",
    ]);
    held_by_the_rollout(
        &run,
        &format!("lops traffic abort live --fn {f} --profile default"),
    );
    // The dashboard's `A` acts on the row of the rollout's own profile: that row is named.
    assert!(
        run.stderr
            .contains("`A` on its default row in the dashboard"),
        "{}",
        run.stderr
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.1)])
    );
    // Abort asks the owner, which rolls back and stops.
    let abort = traffic(&lops, "abort", &f, region);
    abort.assert_exit(0);
    assert!(
        abort
            .stderr
            .contains("is now v1 100% (rolled back by the lops that ran it)"),
        "{}",
        abort.stderr
    );
    // The plan did not finish: its exit says so (a script's `plan && next` stops here).
    let (code, stderr) = finish(first, 20);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("aborted on request"), "{stderr}");
    // Past the step that would have gone to 50 %: nothing more was written.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    assert_eq!(standing(&lops, &f), "finished");
}

/// The dashboard sharing a state directory with the lops that runs a rollout refuses `U` as the
/// CLI does (one core check), before any confirmation; `A` is what it offers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_another_lops_runs_is_not_resumed_from_the_dashboard() {
    use crate::support::tui;
    use crossterm::event::KeyCode;
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "dashu").await;
    let lops = Lops::new(moto::url());
    let first = lops.spawn(&plan_args(&f, region, "10:60s,50:8s"));
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    let (screen, keys, run) = dashboard_of(&lops, region, &f).await;
    // Its line offers the abort only.
    let line = screen.wait_for(20, "running in lops pid").await;
    assert!(
        line.contains("  A abort") && !line.contains("U resume"),
        "{line}"
    );
    tui::press(&keys, KeyCode::Char('U'));
    let said = screen.wait_for(20, "refused: the rollout of").await;
    assert!(said.contains("abort it, or let it finish"), "{said}");
    assert!(!said.contains("y confirms"), "{said}");
    tui::press(&keys, KeyCode::Enter);
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
    // Aborted from the CLI, the first lops rolls back and ends.
    traffic(&lops, "abort", &f, region).assert_exit(0);
    let (code, stderr) = finish(first, 20);
    assert_eq!(code, 4, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_change_mid_rollout_halts_it_without_writing() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "manual").await;
    let lops = Lops::new(moto::url());
    let run = lops.spawn(&plan_args(&f, region, "10:3s,50:3s"));
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    seeder.set_extra_weight(&f, "2", 0.3).await;
    let (code, stderr) = finish(run, 30);
    assert_eq!(code, 4, "{stderr}");
    // Found before the next step, or (when the edit lands between the write and its read-back)
    // right after the write: either way named, and the hand edit kept.
    assert!(
        stderr.contains("v1 70% / v2 30% but the rollout last left it at v1 90% / v2 10%")
            || stderr.contains("v1 70% / v2 30% while the rollout wrote v1 90% / v2 10%"),
        "{stderr}"
    );
    assert!(stderr.contains("someone else changed it"), "{stderr}");
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
    // A halted rollout is still the alias's: a new one is refused until it is aborted, and the
    // abort returns the alias to where the rollout started.
    let again = lops.run(&plan_args(&f, region, "10:3s"));
    again.assert_exit(4);
    assert!(
        again.stderr.contains("resume or abort it first"),
        "{}",
        again.stderr
    );
    let abort = traffic(&lops, "abort", &f, region);
    abort.assert_exit(0);
    assert!(
        abort.stderr.contains("now v1 70% / v2 30% → v1 100%"),
        "{}",
        abort.stderr
    );
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    // Absurd hold times and guard intervals are refused before anything is written.
    for (flag, value) in [
        ("--guard-interval", "99999999999"),
        ("--steps", "10:99999999999999h"),
    ] {
        let mut args = vec![
            "traffic",
            "plan",
            "live",
            "--fn",
            &f,
            "--to",
            "2",
            "--regions",
            region,
            "--yes",
        ];
        if flag == "--steps" {
            args.extend([flag, value]);
        } else {
            args.extend(["--steps", "10:1m", flag, value]);
        }
        let out = lops.run(&args);
        out.assert_exit(2);
    }
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_guard_that_cannot_read_rolls_back_and_a_missing_alarm_is_refused() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "blind").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    // A guard alarm that does not exist: refused before anything is written.
    let mut args = plan_args(&f, region, "10:5s");
    args.extend(["--guard-alarm", "no-such-alarm"]);
    let refused = lops.run(&args);
    refused.assert_exit(2);
    assert!(
        refused.stderr.contains("no-such-alarm does not exist"),
        "{}",
        refused.stderr
    );
    assert_eq!(proxy.calls(region, "lambda", "UpdateAlias"), 0);
    // CloudWatch answers 503 from now on: the first guard check trips.
    proxy.add(Rule {
        region: region.into(),
        service: Some("monitoring".into()),
        operation: None,
        fault: Fault::Status(503),
        remaining: None,
    });
    // The function's own alarms cannot be read for the guard: not started.
    let run = lops.run(&plan_args(&f, region, "10:5s"));
    run.assert_exit(4);
    assert!(
        run.stderr.contains("cannot read the alarms of")
            && run.stderr.contains("--no-function-alarms"),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.calls(region, "lambda", "UpdateAlias"), 0);
    // Started without them (its guard the error rate alone), CloudWatch still failing: the
    // start cannot read the error rate either, and does not start.
    let mut args = plan_args(&f, region, "10:5s");
    args.push("--no-function-alarms");
    let run = lops.run(&args);
    run.assert_exit(4);
    assert!(
        run.stderr.contains("cannot read v2's errors")
            && run.stderr.contains("does not start without its guard"),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.calls(region, "lambda", "UpdateAlias"), 0);
    // CloudWatch answers the start's read, then fails: the first check trips.
    proxy.heal();
    proxy.add_after(
        1,
        Rule {
            region: region.into(),
            service: Some("monitoring".into()),
            operation: None,
            fault: Fault::Status(503),
            remaining: None,
        },
    );
    let run = lops.run(&args);
    run.assert_exit(4);
    assert!(
        run.stderr.contains("could not read its signals"),
        "{}",
        run.stderr
    );
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    assert_eq!(standing(&lops, &f), "finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_returns_a_split_alias_to_its_split() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "split").await;
    seeder.set_extra_weight(&f, "2", 0.3).await;
    let lops = Lops::new(moto::url());
    let run = lops.spawn(&plan_args(&f, region, "50:20s"));
    seeder.wait_for_routing(&f, ("1", Some(0.5)), 20).await;
    let abort = traffic(&lops, "abort", &f, region);
    abort.assert_exit(0);
    let (code, _) = finish(run, 20);
    assert_eq!(code, 4, "aborted, not finished");
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
    let audit = lops.run(&["audit", "--json"]).json();
    let last: &Value = audit
        .as_array()
        .and_then(|a| a.last())
        .expect("an audit record");
    assert_eq!(last["action"], "traffic.restore");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn no_audit_no_change_and_state_files_are_the_owners_alone() {
    use std::os::unix::fs::PermissionsExt;
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "audit").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let state = lops.home.path().join("state/lops");
    // The audit log cannot be written (a directory stands where the file should be).
    std::fs::create_dir_all(state.join("audit.jsonl")).expect("dir");
    let refused = lops.run(&["concurrency", "set", &f, "3", "--regions", region, "--yes"]);
    refused.assert_exit(4);
    assert!(refused.stderr.contains("audit log"), "{}", refused.stderr);
    assert_eq!(proxy.calls(region, "lambda", "PutFunctionConcurrency"), 0);
    std::fs::remove_dir(state.join("audit.jsonl")).expect("rmdir");
    // An audit log left world-writable is made the owner's alone by the next change.
    std::fs::write(state.join("audit.jsonl"), "").expect("audit");
    std::fs::set_permissions(
        state.join("audit.jsonl"),
        std::fs::Permissions::from_mode(0o666),
    )
    .expect("chmod");
    lops.run(&["concurrency", "set", &f, "3", "--regions", region, "--yes"])
        .assert_exit(0);
    let mode = |p: &std::path::Path| {
        std::fs::metadata(p)
            .map(|m| m.permissions().mode() & 0o777)
            .unwrap_or_default()
    };
    assert_eq!(mode(&state.join("audit.jsonl")), 0o600);
    assert_eq!(mode(&state.join("lops.log")), 0o600);
    // A rollout's file: owner-only, in an owner-only directory, named safely whatever the
    // profile is called (a profile lops knows: an unknown one is refused before anything).
    let config = lops.config("[profile.\"../../evil\"]\nmode = \"change\"\n");
    let config = config.display().to_string();
    let run = lops.run(&[
        "--config",
        &config,
        "traffic",
        "plan",
        "live",
        "--fn",
        &f,
        "--to",
        "2",
        "--preset",
        "AllAtOnce",
        "--profile",
        "../../evil",
        "--regions",
        region,
        "--yes",
    ]);
    run.assert_exit(0);
    let plans = state.join("plans");
    assert_eq!(mode(&plans), 0o700);
    let files: Vec<_> = std::fs::read_dir(&plans)
        .expect("plans")
        .flatten()
        .map(|e| e.path())
        .collect();
    assert_eq!(files.len(), 1, "{files:?}");
    assert_eq!(mode(&files[0]), 0o600);
    assert!(files[0].starts_with(&plans));
    assert!(!lops.home.path().join("evil").exists());
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn huge_payloads_and_a_closed_stdout_after_a_change_are_handled() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "pipe").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let started = Instant::now();
    let zero = lops.run(&[
        "invoke",
        &f,
        "--payload",
        "@/dev/zero",
        "--regions",
        region,
        "--yes",
    ]);
    zero.assert_exit(2);
    assert!(
        zero.stderr.contains("6 MB for a synchronous invoke"),
        "{}",
        zero.stderr
    );
    assert!(started.elapsed() < Duration::from_secs(10));
    let big = lops.home.path().join("big.json");
    std::fs::write(&big, format!("{{\"a\": \"{}\"}}", "x".repeat(1100 * 1024))).expect("big");
    let refused = lops.run(&[
        "invoke",
        &f,
        "--async",
        "--payload",
        &format!("@{}", big.display()),
        "--regions",
        region,
        "--yes",
    ]);
    refused.assert_exit(2);
    assert!(
        refused.stderr.contains("1 MB for an asynchronous invoke"),
        "{}",
        refused.stderr
    );
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 0);
    // The change is made, then its JSON meets a closed pipe: exit 0, no panic.
    let stderr = lops.run_into_closed_pipe(&format!(
        "traffic set live --fn {f} --version 2 --weight 0.2 --regions {region} --yes --json"
    ));
    assert!(
        stderr.contains("exit=0") && !stderr.contains("panicked"),
        "{stderr}"
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.2)])
    );
    // A read's output meeting a closed pipe (`| head -1`) keeps the read's exit code.
    for args in ["status", "status --json", "status --full"] {
        let stderr = lops.run_into_closed_pipe(&format!("{args} --regions {region}"));
        assert!(
            stderr.contains("exit=0") && !stderr.contains("cannot write output"),
            "{args}: {stderr}"
        );
    }
    // A stdout that cannot be written (a full disk): the change is made, its answer is lost,
    // and that is said with exit 1 rather than a silent 0.
    let stderr = lops.run_with_stdout_to(
        &format!("traffic set live --fn {f} --version 2 --weight 0.3 --regions {region} --yes"),
        "/dev/full",
    );
    assert!(
        stderr.contains("exit=1")
            && stderr.contains("cannot write output")
            && stderr.contains("lops audit"),
        "{stderr}"
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
}

/// Undo acts only where the session points: the profiles it reads (`--profile`, `AWS_PROFILE`)
/// and the regions named. Before, `lops --profile ro undo` undid a change made under another
/// profile, and `--regions` was ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn undo_takes_back_only_what_was_done_in_the_profiles_and_regions_chosen() {
    let (east, f_east) = canary("us-east-2", "undoscope").await;
    let (west, f_west) = canary("us-west-1", "undoscope").await;
    let lops = Lops::new(moto::url());
    std::fs::write(
        lops.home.path().join("aws-config"),
        "[profile ro]\nregion = us-east-2\n",
    )
    .expect("aws config");
    for (f, region) in [(&f_west, "us-west-1"), (&f_east, "us-east-2")] {
        set_live_weight(&lops, region, f, "0.3").assert_exit(0);
    }
    // Under another profile: nothing of its own, and where the last one is — refused (4)
    // however the profile was chosen (--profile, or AWS_PROFILE), naming the command.
    for (run, exit) in [
        (lops.run(&["undo", "--profile", "ro", "--yes"]), 4),
        (
            lops.run_with_env(&["undo", "--yes"], &[("AWS_PROFILE", "ro")]),
            4,
        ),
    ] {
        run.assert_exit(exit);
        assert!(
            run.stderr.contains("profile ro")
                && run
                    .stderr
                    .contains("lops undo --profile default --regions us-east-2"),
            "{}",
            run.stderr
        );
    }
    // AWS_PROFILE naming a profile the config file's `profiles` leave out would be ignored,
    // acting through `default` with more rights: refused (2) before anything is read, naming
    // how to choose, in both faces (the dashboard connects the same way); --profile settles it.
    let config = lops.config("profiles = [\"default\"]\n");
    let config = config.to_str().unwrap_or_default();
    for args in [
        vec!["--config", config, "undo", "--yes"],
        vec!["--config", config, "status", "--regions", "us-east-2"],
    ] {
        let run = lops.run_with_env(&args, &[("AWS_PROFILE", "ro")]);
        run.assert_exit(2);
        assert!(
            run.stderr.contains("AWS_PROFILE names 'ro'")
                && run.stderr.contains("pass --profile ro"),
            "{args:?}: {}",
            run.stderr
        );
    }
    assert_eq!(
        east.routing(&f_east).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
    lops.run_with_env(
        &[
            "--config",
            config,
            "--profile",
            "ro",
            "status",
            "--regions",
            "us-east-2",
        ],
        &[("AWS_PROFILE", "ro")],
    )
    .assert_exit(0);
    // The region named, not the last one written.
    lops.run(&["undo", "--regions", "us-west-1", "--yes"])
        .assert_exit(0);
    assert_eq!(west.routing(&f_west).await, ("1".to_string(), vec![]));
    assert_eq!(
        east.routing(&f_east).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
}

/// An undo under another profile of an alias a rollout now drives is refused as the rollout's
/// (exit 4, naming the abort with the rollout's own profile), not as "changed since" (exit 1):
/// the rollout's steps are what changed it since the undone set.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_of_an_alias_a_rollout_drives_names_the_rollout_not_a_change() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "undolever").await;
    let lops = Lops::new(moto::url());
    with_other_profile(&lops, region);
    let set = |profile: &str, weight: &str| {
        lops.run(&[
            "traffic",
            "set",
            "live",
            "--fn",
            &f,
            "--version",
            "2",
            "--weight",
            weight,
            "--regions",
            region,
            "--profile",
            profile,
            "--yes",
        ])
    };
    set("other", "0.05").assert_exit(0);
    let first = lops.spawn(&plan_args(&f, region, "10:8s,50:8s"));
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    let run = lops.run(&["undo", "--profile", "other", "--yes"]);
    held_by_the_rollout(
        &run,
        &format!("lops traffic abort live --fn {f} --profile default --regions {region}"),
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.1)])
    );
    traffic(&lops, "abort", &f, region).assert_exit(0);
    let (code, stderr) = finish(first, 20);
    assert_eq!(code, 4, "{stderr}");
}

/// The kill switch pulled while a rollout runs: nothing runs, so the guard would read no
/// errors as healthy and promote a version nothing checked. The rollout halts instead, the
/// alias left where it was, and says how to go on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_kill_during_a_rollout_halts_it_where_it_is() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "killmid").await;
    let lops = Lops::new(moto::url());
    let first = lops.spawn(&plan_args(&f, region, "10:4s,50:4s"));
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    lops.run(&["kill", &f, "--regions", region, "--yes"])
        .assert_exit(0);
    let (code, stderr) = finish(first, 30);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("is killed (reserved concurrency 0)") && stderr.contains("lops revive"),
        "{stderr}"
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.1)])
    );
    // Stopped, resumable: revived, it goes on from its step.
    assert_eq!(standing(&lops, &f), "interrupted");
    // Resumed still killed: its preview says it halts at once (it said only "as the rollout
    // left it", and halted after the confirmation).
    let resume = traffic(&lops, "resume", &f, region);
    resume.assert_exit(4);
    assert!(
        resume
            .stderr
            .contains("is killed (reserved concurrency 0): resuming halts at once"),
        "{}",
        resume.stderr
    );
}

/// Deletes `f`'s `live` alias behind lops's back.
async fn delete_live(seeder: &crate::support::seed::Seeder, f: &str) {
    seeder
        .lambda
        .delete_alias()
        .function_name(f)
        .name("live")
        .send()
        .await
        .expect("delete the alias");
}

/// A rollout whose alias was deleted since: abort and resume say so and what to do (they said
/// AWS's "Cannot find alias arn"), writing nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_whose_alias_was_deleted_says_so() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "aliasgone").await;
    let lops = Lops::new(moto::url());
    killed_after_first_step(&lops, &seeder, &f, region, "10:60s,50:8s", 0.1).await;
    delete_live(&seeder, &f).await;
    for verb in ["abort", "resume"] {
        let run = traffic(&lops, verb, &f, region);
        run.assert_exit(2);
        assert!(
            run.stderr
                .contains(&format!("{f}:live no longer exists in {region}"))
                && run.stderr.contains("nothing was written")
                && !run.stderr.contains("Cannot find alias"),
            "{verb}: {}",
            run.stderr
        );
    }
}

/// The alias deleted while its rollout runs: the running lops halts at its next step, saying
/// so and where the file is (it ended with AWS's "Cannot find alias arn", exit 2, its step
/// listed as written), and `traffic plans` says where the saved ones are.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_running_rollout_whose_alias_is_deleted_halts_and_says_so() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "aliasgone2").await;
    let lops = Lops::new(moto::url());
    let first = lops.spawn(&plan_args(&f, region, "10:2s,50:2s"));
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    delete_live(&seeder, &f).await;
    let (code, stderr) = finish(first, 30);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "{f}:live no longer exists: nothing more was written"
        )) && !stderr.contains("Cannot find alias"),
        "{stderr}"
    );
    let plans = lops.run(&["traffic", "plans"]);
    assert!(
        plans.stdout.contains("halted: ")
            && plans.stdout.contains("no longer exists")
            && plans.stderr.contains("lops: saved in "),
        "{}\n{}",
        plans.stdout,
        plans.stderr
    );
}

/// An abort under one profile of a rollout run under another names where it runs and the
/// command that reaches it (it said there was no rollout at all).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_under_another_profile_names_the_rollouts_own() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "abortother").await;
    let lops = Lops::new(moto::url());
    with_other_profile(&lops, region);
    let mut args = plan_args(&f, region, "10:8s,50:8s");
    args.extend(["--profile", "other"]);
    let first = lops.spawn(&args);
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    let run = traffic(&lops, "abort", &f, region);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("under profile other")
            && run.stderr.contains(&format!(
                "lops traffic abort live --fn {f} --profile other --regions {region}"
            )),
        "{}",
        run.stderr
    );
    let run = lops.run(&[
        "traffic",
        "abort",
        "live",
        "--fn",
        &f,
        "--regions",
        region,
        "--profile",
        "other",
        "--yes",
    ]);
    run.assert_exit(0);
    let (code, stderr) = finish(first, 20);
    assert_eq!(code, 4, "{stderr}");
}

/// One profile of several without credentials fails on its own: the others are read and
/// printed, its scopes are unreachable saying how to give it credentials, exit 3 (it used to
/// stop the whole run, exit 2, nothing printed). Alone, it is still refused at once (exit 2).
#[test]
fn a_profile_without_credentials_fails_alone_among_several() {
    let lops = Lops::with_a_profile_without_credentials(moto::url());
    let run = lops.run(&[
        "status",
        "--profile",
        "default,nocreds",
        "--regions",
        "ca-central-1",
        "--json",
    ]);
    run.assert_exit(3);
    let doc = run.json();
    let regions = doc["regions"].as_array().expect("regions");
    let of = |profile: &str| {
        regions
            .iter()
            .find(|r| r["profile"] == profile)
            .cloned()
            .unwrap_or_else(|| panic!("{doc:#}"))
    };
    assert_eq!(of("default")["health"]["status"], "ok", "{doc:#}");
    let broken = of("nocreds");
    assert_eq!(broken["health"]["status"], "unreachable", "{broken:#}");
    assert!(
        broken["health"]["error"]
            .as_str()
            .is_some_and(|e| e.contains("no AWS credentials for profile 'nocreds'")
                && !e.contains("could not connect")),
        "{broken:#}"
    );
    let alone = lops.run(&[
        "status",
        "--profile",
        "nocreds",
        "--regions",
        "ca-central-1",
    ]);
    alone.assert_exit(2);
    assert!(
        alone
            .stderr
            .contains("no AWS credentials for profile 'nocreds'"),
        "{}",
        alone.stderr
    );
    // Every one of several without credentials: refused as one alone is (exit 2, the error
    // document), not read as a dark fleet (1, a document of unreachable regions).
    let mut config = std::fs::read_to_string(lops.home.path().join("aws-config")).expect("cfg");
    config.push_str(
        "[profile nocreds2]
region = us-east-1
",
    );
    std::fs::write(lops.home.path().join("aws-config"), config).expect("aws config");
    let none = lops.run(&[
        "status",
        "--profile",
        "nocreds,nocreds2",
        "--regions",
        "ca-central-1",
        "--json",
    ]);
    none.assert_exit(2);
    assert_eq!(none.json()["exit"], 2, "{}", none.stdout);
    assert!(
        none.json()["error"]
            .as_str()
            .is_some_and(|e| e.contains("no AWS credentials for profile 'nocreds'")),
        "{}",
        none.stdout
    );
}

/// A restore that would set an alias a live rollout drives is refused as a traffic change of
/// it is (the rollout would halt at its next step, its guard unable to roll back), and
/// changes nothing of the function.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_an_alias_a_rollout_drives_is_refused_and_changes_nothing() {
    use crate::backup::{Fixture, HOME, backup, snapshot_of};
    let fx = Fixture::new(HOME, "heldrestore").await;
    let f = moto::unique("heldrestore");
    fx.function(&f).await;
    let lops = fx.lops(moto::url());
    // Taken with live at v1 and v2 30 %.
    let snapshot = snapshot_of(&backup(&lops, HOME, &f, &fx.to()));
    let first = lops.spawn(&plan_args(&f, HOME, "50:8s,80:8s"));
    fx.seeder.wait_for_routing(&f, ("1", Some(0.5)), 20).await;
    let before = fx.seeder.routing(&f).await;
    let restore = lops.run(&["restore", &snapshot, "--yes"]);
    held_by_the_rollout(
        &restore,
        &format!("lops traffic abort live --fn {f} --profile default --regions {HOME}"),
    );
    assert!(
        restore.stderr.contains("nothing was restored"),
        "{}",
        restore.stderr
    );
    assert_eq!(fx.seeder.routing(&f).await, before);
    traffic(&lops, "abort", &f, HOME).assert_exit(0);
    let (code, stderr) = finish(first, 20);
    assert_eq!(code, 4, "{stderr}");
    // The rollout gone, the same restore goes through: live as the snapshot has it.
    lops.run(&["restore", &snapshot, "--yes"]).assert_exit(0);
    assert_eq!(
        fx.seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
}

/// An abort confirmed on its preview writes only over what that preview showed (or what the
/// rollout itself writes): an alias someone set between the preview and the `y` is left as
/// they set it, nothing written, and said — it went back to the start weights over their change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_confirmed_on_a_preview_does_not_write_over_a_change_made_since() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "abortcmp").await;
    let lops = Lops::new(moto::url());
    killed_after_first_step(&lops, &seeder, &f, region, "10:60s,50:8s", 0.1).await;
    abort_over_a_change(&lops, &seeder, region, &f, "interrupted").await;
}

/// From the dashboard: `A` on `f`'s rollout (its line saying `standing`), the alias moved to
/// v2 30 % while the question is open, `y`: refused as changed, nothing written.
async fn abort_over_a_change(
    lops: &Lops,
    seeder: &crate::support::seed::Seeder,
    region: &str,
    f: &str,
    standing: &str,
) {
    use crate::support::tui;
    use crossterm::event::KeyCode;
    let (screen, keys, run) = dashboard_of(lops, region, f).await;
    screen.wait_for(20, standing).await;
    tui::press(&keys, KeyCode::Char('A'));
    screen.wait_for(20, "(the weights it started from)").await;
    // Someone moves the alias while the question is open.
    seeder.set_extra_weight(f, "2", 0.3).await;
    tui::press(&keys, KeyCode::Char('y'));
    let said = screen.wait_for(40, "someone else changed it").await;
    assert!(said.contains("Nothing was written"), "{said}");
    assert_eq!(
        seeder.routing(f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
    // Recorded as not sent, as any change refused at its last compare is (it left no record).
    let audit = lops.run(&["audit", "--json"]).json();
    assert!(
        audit.as_array().into_iter().flatten().any(|r| {
            r["target"] == format!("{f}:live").as_str()
                && r["result"]
                    .as_str()
                    .is_some_and(|x| x.starts_with("changed since the preview, nothing sent"))
        }),
        "{audit:#}"
    );
    tui::press(&keys, KeyCode::Enter);
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
}

/// The same through the lops that runs the rollout: asked to abort, it writes only over what the
/// asker's preview showed; an alias set since is left, and the asker says it was refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_abort_asked_of_a_running_rollout_does_not_write_over_a_change_made_since() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "abortown").await;
    let lops = Lops::new(moto::url());
    let first = lops.spawn(&plan_args(&f, region, "10:60s,50:8s"));
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    abort_over_a_change(&lops, &seeder, region, &f, "running in lops pid").await;
    // The lops that ran it halted without writing, and says so.
    let (code, stderr) = finish(first, 20);
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
}
