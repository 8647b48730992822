//! Rollouts at the seams, with real lops processes against moto: two processes on one rollout,
//! a manual change mid-way, a guard that cannot read its signals, a guard alarm that does not
//! exist, an abort that returns a split alias to its split.

use std::process::{Child, Stdio};
use std::time::{Duration, Instant};

use aws_sdk_lambda::types::AliasRoutingConfiguration;
use serde_json::Value;

use crate::support::cli::Lops;
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy, Rule};
use crate::support::seed::{Seeder, canary};

/// Polls until the alias routes as `want` or the deadline passes.
async fn wait_for(seeder: &Seeder, function: &str, want: (&str, Option<f64>), secs: u64) {
    let started = Instant::now();
    loop {
        let (main, weights) = seeder.routing(function).await;
        let extra = weights.first().map(|(_, w)| *w);
        if main == want.0 && extra == want.1 {
            return;
        }
        assert!(
            started.elapsed() < Duration::from_secs(secs),
            "alias is {main} {weights:?}, waiting for {want:?}"
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

fn spawn(lops: &Lops, args: &[&str]) -> Child {
    lops.command(args)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("spawn lops")
}

/// Waits (up to `secs`) for the child to exit; its code and stderr.
fn finish(mut child: Child, secs: u64) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lops did not exit within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

fn plan_args<'a>(f: &'a str, region: &'a str, steps: &'a str) -> Vec<&'a str> {
    vec![
        "traffic",
        "plan",
        "live",
        "--fn",
        f,
        "--to",
        "2",
        "--steps",
        steps,
        "--guard-interval",
        "1",
        "--regions",
        region,
        "--yes",
    ]
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

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn abort_from_a_second_lops_stops_the_first_and_nothing_is_promoted() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "owner").await;
    let lops = Lops::new(moto::url());
    let first = spawn(&lops, &plan_args(&f, region, "10:8s,50:8s"));
    wait_for(&seeder, &f, ("1", Some(0.1)), 20).await;
    assert_eq!(standing(&lops, &f), "running");
    // Resuming a rollout another lops drives is refused.
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
    resume.assert_exit(4);
    assert!(
        resume.stderr.contains("running in lops pid"),
        "{}",
        resume.stderr
    );
    // Abort asks the owner, which rolls back and stops.
    let abort = lops.run(&[
        "traffic",
        "abort",
        "live",
        "--fn",
        &f,
        "--regions",
        region,
        "--yes",
    ]);
    abort.assert_exit(0);
    assert!(
        abort
            .stderr
            .contains("is now v1 100% (rolled back by the lops that ran it)"),
        "{}",
        abort.stderr
    );
    let (code, stderr) = finish(first, 20);
    assert_eq!(code, 0, "{stderr}");
    assert!(stderr.contains("aborted on request"), "{stderr}");
    // Past the step that would have gone to 50 %: nothing more was written.
    tokio::time::sleep(Duration::from_secs(9)).await;
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    assert_eq!(standing(&lops, &f), "finished");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manual_change_mid_rollout_halts_it_without_writing() {
    let region = "ap-east-2";
    let (seeder, f) = canary(region, "manual").await;
    let lops = Lops::new(moto::url());
    let run = spawn(&lops, &plan_args(&f, region, "10:3s,50:3s"));
    wait_for(&seeder, &f, ("1", Some(0.1)), 20).await;
    seeder
        .lambda
        .update_alias()
        .function_name(&f)
        .name("live")
        .routing_config(
            AliasRoutingConfiguration::builder()
                .additional_version_weights("2", 0.3)
                .build(),
        )
        .send()
        .await
        .expect("manual edit");
    let (code, stderr) = finish(run, 30);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("v1 70% / v2 30% but the rollout last left it at v1 90% / v2 10%"),
        "{stderr}"
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
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
    let run = lops.run(&plan_args(&f, region, "10:5s"));
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
    seeder
        .lambda
        .update_alias()
        .function_name(&f)
        .name("live")
        .routing_config(
            AliasRoutingConfiguration::builder()
                .additional_version_weights("2", 0.3)
                .build(),
        )
        .send()
        .await
        .expect("70/30");
    let lops = Lops::new(moto::url());
    let run = spawn(&lops, &plan_args(&f, region, "50:20s"));
    wait_for(&seeder, &f, ("1", Some(0.5)), 20).await;
    let abort = lops.run(&[
        "traffic",
        "abort",
        "live",
        "--fn",
        &f,
        "--regions",
        region,
        "--yes",
    ]);
    abort.assert_exit(0);
    let (code, _) = finish(run, 20);
    assert_eq!(code, 0);
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
