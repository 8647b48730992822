//! Actions through the ops layer against moto: round trips with audit and undo, bad input that
//! changes nothing, permission tiers, concurrent edits, and the IAM policy.

use lops::config::{Access, Settings};
use lops::ops::audit::AuditLog;
use lops::ops::policy::{iam_action, policy};
use lops::ops::{OpsError, Request, Tier, execute, prepare};
use lops::provider::aws::{AwsRegion, CallCounter, Clients};
use lops::provider::{
    FunctionRef, InvokeRequest, MetricsRequest, RegionActions, RegionSource, Scope, TimeWindow,
};
use serde_json::Value;

use crate::support::cli::{Lops, Run, set_live_weight};
use crate::support::moto;
use crate::support::seed::{Seeder, canary, sdk_config};

async fn reserved(seeder: &Seeder, function: &str) -> Option<i32> {
    seeder.reserved(function).await
}

fn audit(lops: &Lops) -> Vec<Value> {
    let run = lops.run(&["audit", "--json"]);
    run.assert_exit(0);
    run.json().as_array().cloned().unwrap_or_default()
}

fn act(lops: &Lops, region: &str, args: &[&str]) -> Run {
    let mut all = args.to_vec();
    all.extend(["--regions", region]);
    lops.run(&all)
}

/// `lops traffic ARGS live --fn F --yes --regions R`.
fn traffic_live(lops: &Lops, region: &str, f: &str, args: &[&str]) -> Run {
    let mut all = vec!["traffic"];
    all.extend_from_slice(args);
    all.extend(["live", "--fn", f, "--yes"]);
    act(lops, region, &all)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn traffic_set_promote_rollback_are_audited_and_undone() {
    let region = "us-west-2";
    let (seeder, f) = canary(region, "tr").await;
    let lops = Lops::new(moto::url());

    let run = act(
        &lops,
        region,
        &[
            "traffic",
            "set",
            "live",
            "--fn",
            &f,
            "--version",
            "2",
            "--weight",
            "0.1",
            "--yes",
            "--json",
        ],
    );
    run.assert_exit(0);
    assert_eq!(run.json()["results"][0]["after"]["weights"]["2"], 0.1);
    assert!(
        run.stderr.contains("v1 100% → v1 90% / v2 10%"),
        "{}",
        run.stderr
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.1)])
    );

    let records = audit(&lops);
    let last = records.last().expect("an audit record");
    assert_eq!(last["action"], "traffic.set");
    assert_eq!(last["target"], format!("{f}:live"));
    assert_eq!(last["region"], region);
    assert_eq!(last["result"], "ok");
    assert_eq!(last["before"]["function_version"], "1");
    assert!(
        last["who"]
            .as_str()
            .unwrap_or_default()
            .starts_with("arn:aws:"),
        "{last}"
    );

    let run = lops.run(&["undo", "--yes"]);
    run.assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    assert_eq!(
        audit(&lops).last().expect("undo record")["undoes"],
        last["id"]
    );
    // Nothing left to undo: the undo is not undone again, the set is already undone.
    lops.run(&["undo", "--yes"]).assert_exit(2);
    // The log in words says what each changed, not only that it did.
    let text = lops.run(&["audit"]);
    text.assert_exit(0);
    assert!(
        text.stdout.contains("\n    v1 100% → v1 90% / v2 10%\n")
            && text.stdout.contains("\n    v1 90% / v2 10% → v1 100%\n"),
        "{}",
        text.stdout
    );
    // On an 80-column terminal each record's lines fit: how it ended and who on a line of
    // their own (the terminal wrapped them mid-word).
    let narrow = lops.run_with_env(&["audit"], &[("COLUMNS", "80")]);
    narrow.assert_exit(0);
    let over = narrow.stdout.lines().find(|l| l.chars().count() > 80);
    assert!(over.is_none(), "{over:?}\n{}", narrow.stdout);
    assert!(
        narrow.stdout.contains("\n    ok  arn:aws:"),
        "{}",
        narrow.stdout
    );
    // Narrowed to the function and the last hour: the same two; another function: none,
    // said as such (exit 0), and a time that is not one refused (2).
    let mine = lops.run(&["audit", "--fn", &f, "--since", "1h", "--json"]);
    mine.assert_exit(0);
    assert_eq!(
        mine.json().as_array().map(Vec::len),
        Some(2),
        "{}",
        mine.stdout
    );
    let other = lops.run(&["audit", "--fn", "nothing-here"]);
    other.assert_exit(0);
    assert!(
        other
            .stderr
            .contains("none of the 2 record(s) matches the filter (--fn nothing-here)"),
        "{}",
        other.stderr
    );
    lops.run(&["audit", "--since", "yesterday"]).assert_exit(2);

    set_live_weight(&lops, region, &f, "0.5").assert_exit(0);
    let back = act(
        &lops,
        region,
        &["traffic", "rollback", "live", "--fn", &f, "--yes"],
    );
    back.assert_exit(0);
    // The result line names the action as it is typed.
    assert!(
        back.stdout.starts_with(&format!(
            "traffic rollback {f}:live in {region}: done, now "
        )),
        "{}",
        back.stdout
    );
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    set_live_weight(&lops, region, &f, "0.5").assert_exit(0);
    act(
        &lops,
        region,
        &["traffic", "promote", "live", "--fn", &f, "--yes"],
    )
    .assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
    // Again: already on one version, nothing to change (exit 0, as a rollback with nothing to
    // roll back), and nothing written.
    let again = act(
        &lops,
        region,
        &["traffic", "promote", "live", "--fn", &f, "--yes"],
    );
    again.assert_exit(0);
    assert!(
        again.stderr.contains("already v2 100%, nothing to do"),
        "{}",
        again.stderr
    );
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
    // A rollback after a promote has nothing split to take back: it says how to go back.
    let back = act(
        &lops,
        region,
        &["traffic", "rollback", "live", "--fn", &f, "--yes"],
    );
    back.assert_exit(0);
    assert!(
        back.stderr.contains("nothing to do")
            && back.stderr.contains(&format!(
                "pin to 1 (`L`, `lops pin live --fn {f} --region {region}`)"
            ))
            && back.stderr.contains("`lops undo`"),
        "{}",
        back.stderr
    );
    let show = act(&lops, region, &["traffic", "show", &f, "--json"]);
    show.assert_exit(0);
    assert_eq!(show.json()["aliases"][0]["function_version"], "2");
    // With a region where the function is missing, the others are shown (exit 3), the JSON
    // keeps them and names the one that failed.
    let partly = lops.run(&[
        "traffic",
        "show",
        &f,
        "--json",
        "--regions",
        &format!("{region},ca-west-1"),
    ]);
    partly.assert_exit(3);
    let doc = partly.json();
    assert_eq!(doc["aliases"][0]["function_version"], "2", "{doc}");
    assert_eq!(doc["complete"], false);
    assert!(doc["errors"].to_string().contains("ca-west-1"), "{doc}");
    // Missing in every region read, with --json: the error document names each region's
    // reason (it said "each named above", on stderr only).
    let nowhere = lops.run(&[
        "traffic",
        "show",
        &format!("{f}-nope"),
        "--json",
        "--regions",
        &format!("{region},ca-west-1"),
    ]);
    nowhere.assert_exit(2);
    let error = nowhere.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains(&format!("{region}: function {f}-nope does not exist"))
            && error.contains("ca-west-1: function")
            && !error.contains("named above"),
        "{error}"
    );
    // Missing everywhere read: said once, as the actions say it (exit 2).
    let nope = act(&lops, region, &["traffic", "show", &format!("{f}-nope")]);
    nope.assert_exit(2);
    assert_eq!(
        nope.stderr.trim(),
        format!("lops: function {f}-nope does not exist (check the name and the region)"),
    );
    // Undo of the promote puts the 50/50 split back.
    lops.run(&["undo", "--yes"]).assert_exit(0);
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.5)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrency_kill_and_revive_round_trip() {
    let region = "eu-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-worker", moto::unique("kill"));
    seeder.create_function(&f).await;
    let lops = Lops::new(moto::url());

    act(&lops, region, &["concurrency", "set", &f, "7", "--yes"]).assert_exit(0);
    assert_eq!(reserved(&seeder, &f).await, Some(7));
    let kill = act(&lops, region, &["kill", &f, "--yes"]);
    kill.assert_exit(0);
    assert!(
        kill.stderr
            .contains("reserved concurrency 7 → reserved concurrency 0"),
        "{}",
        kill.stderr
    );
    assert_eq!(reserved(&seeder, &f).await, Some(0));
    act(&lops, region, &["revive", &f, "--yes"]).assert_exit(0);
    assert_eq!(reserved(&seeder, &f).await, Some(7));
    // A function that is not there says so (not that no kill of it is recorded).
    let gone = act(&lops, region, &["revive", &format!("{f}-gone"), "--yes"]);
    gone.assert_exit(2);
    assert!(
        gone.stderr.contains("does not exist") && !gone.stderr.contains("no kill of"),
        "{}",
        gone.stderr
    );
    act(&lops, region, &["concurrency", "set", &f, "none", "--yes"]).assert_exit(0);
    assert_eq!(reserved(&seeder, &f).await, None);
    lops.run(&["undo", "--yes"]).assert_exit(0);
    assert_eq!(reserved(&seeder, &f).await, Some(7));
    let actions: Vec<String> = audit(&lops)
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        actions,
        [
            "concurrency.set",
            "kill",
            "revive",
            "concurrency.set",
            "undo"
        ]
    );
    // --regions and --profile narrow the log as they narrow every command.
    let count = |args: &[&str]| {
        let mut all = vec!["audit", "--json"];
        all.extend_from_slice(args);
        lops.run(&all).json().as_array().map(Vec::len)
    };
    assert_eq!(count(&["--regions", region]), Some(5));
    assert_eq!(count(&["--regions", "us-east-1"]), Some(0));
    assert_eq!(count(&["--profile", "default"]), Some(5));
    // A profile no one knows and nothing was recorded under is a typo: refused as every
    // command refuses it (it read as "nothing done under it", exit 0).
    let typo = lops.run(&["audit", "--profile", "prdo"]);
    typo.assert_exit(2);
    assert!(typo.stderr.contains("'prdo'"), "{}", typo.stderr);
    // A filter matching nothing says what the log holds; a region that cannot be is refused.
    lops.aws_files(
        "[default]\nregion = us-east-1\n[profile ops]\nregion = us-east-1\n",
        None,
    );
    let none = lops.run(&["audit", "--profile", "ops"]);
    none.assert_exit(0);
    assert!(
        none.stderr.contains("none of the 5 record(s) matches")
            && none.stderr.contains("profiles default"),
        "{}",
        none.stderr
    );
    lops.run(&["audit", "--regions", "us-east-9"])
        .assert_exit(2);
    // In the file each action is recorded as started before it is sent, then its result under
    // the same id; `lops audit` shows the result only.
    let raw = std::fs::read_to_string(lops.home.path().join("state/lops/audit.jsonl"))
        .expect("audit file");
    let lines: Vec<Value> = raw
        .lines()
        .map(|l| serde_json::from_str(l).expect("json line"))
        .collect();
    assert_eq!(lines.len(), 10, "{raw}");
    for pair in lines.chunks(2) {
        assert_eq!(pair[0]["id"], pair[1]["id"], "{raw}");
        assert_eq!(
            (&pair[0]["result"], &pair[1]["result"]),
            (&"started".into(), &"ok".into())
        );
    }
}

/// A revive puts back what the kill took, and only over the kill's 0: a reservation someone set
/// since is theirs, and revive refuses rather than overwrite it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn revive_never_overwrites_a_reservation_set_since_the_kill() {
    let region = "eu-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-worker", moto::unique("revive"));
    seeder.create_function(&f).await;
    let lops = Lops::new(moto::url());
    act(&lops, region, &["kill", &f, "--yes"]).assert_exit(0);
    seeder
        .lambda
        .put_function_concurrency()
        .function_name(&f)
        .reserved_concurrent_executions(20)
        .send()
        .await
        .expect("set by hand");
    let run = act(&lops, region, &["revive", &f, "--yes"]);
    run.assert_exit(4);
    assert!(run.stderr.contains("is not killed now"), "{}", run.stderr);
    assert_eq!(reserved(&seeder, &f).await, Some(20));
    // Back at 0 by a recorded change since the kill: still not the kill's to undo.
    act(&lops, region, &["concurrency", "set", &f, "0", "--yes"]).assert_exit(0);
    let run = act(&lops, region, &["revive", &f, "--yes"]);
    run.assert_exit(4);
    assert!(
        run.stderr
            .contains("was changed after its kill (concurrency.set"),
        "{}",
        run.stderr
    );
    assert_eq!(reserved(&seeder, &f).await, Some(0));
    // What an undo took back does not count: kill, revive, undo (killed again), revive.
    let g = format!("{}-other", moto::unique("revive"));
    seeder.create_function(&g).await;
    act(&lops, region, &["concurrency", "set", &g, "4", "--yes"]).assert_exit(0);
    act(&lops, region, &["kill", &g, "--yes"]).assert_exit(0);
    act(&lops, region, &["revive", &g, "--yes"]).assert_exit(0);
    lops.run(&["undo", "--yes"]).assert_exit(0);
    assert_eq!(reserved(&seeder, &g).await, Some(0));
    act(&lops, region, &["revive", &g, "--yes"]).assert_exit(0);
    assert_eq!(reserved(&seeder, &g).await, Some(4));
    // Revived already: said so (not "changed after its kill", as if someone else had).
    let again = act(&lops, region, &["revive", &g, "--yes"]);
    again.assert_exit(2);
    assert!(
        again.stderr.contains("was already revived") && !again.stderr.contains("changed after"),
        "{}",
        again.stderr
    );
    // Back at 0 by hand since that revive: not "already revived" (it is killed now); the
    // revive after the kill is newer than what the kill recorded, so refused as before.
    seeder
        .lambda
        .put_function_concurrency()
        .function_name(&g)
        .reserved_concurrent_executions(0)
        .send()
        .await
        .expect("0 by hand");
    let zero = act(&lops, region, &["revive", &g, "--yes"]);
    zero.assert_exit(4);
    assert!(
        zero.stderr
            .contains("was changed after its kill (revive at")
            && !zero.stderr.contains("already revived"),
        "{}",
        zero.stderr
    );
    // A kill undone: said so (not "no kill recorded").
    let h = format!("{}-undone", moto::unique("revive"));
    seeder.create_function(&h).await;
    act(&lops, region, &["kill", &h, "--yes"]).assert_exit(0);
    lops.run(&["undo", "--yes"]).assert_exit(0);
    let undone = act(&lops, region, &["revive", &h, "--yes"]);
    undone.assert_exit(2);
    assert!(
        undone.stderr.contains(&format!("the last kill of {h}"))
            && undone.stderr.contains("was undone: nothing to revive"),
        "{}",
        undone.stderr
    );
}

/// Two lops on one machine changing one reservation at once: the second waits for the first's
/// write (held up here on its way to Lambda), reads what it wrote, and its compare refuses —
/// never both "done" with the kill's record naming a reservation that was no longer there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lops_changing_one_reservation_at_once_never_both_write() {
    use crate::support::cli::finish;
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "eu-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-worker", moto::unique("twowrite"));
    seeder.create_function(&f).await;
    seeder.reserve(&f, 20).await;
    let proxy = FaultProxy::start(moto::url());
    // The first reservation written reaches Lambda three seconds after it is sent.
    proxy.add(Rule {
        region: region.into(),
        service: Some("lambda".into()),
        operation: Some("PutFunctionConcurrency".into()),
        fault: Fault::Delay(std::time::Duration::from_secs(3)),
        remaining: Some(1),
    });
    let lops = Lops::new(&proxy.url);
    let set = lops.spawn(&["concurrency", "set", &f, "30", "--regions", region, "--yes"]);
    let kill = lops.spawn(&["kill", &f, "--regions", region, "--yes"]);
    let (set, kill) = (finish(set, 60), finish(kill, 60));
    let codes = [set.0, kill.0];
    assert!(
        codes.contains(&0) && codes.iter().any(|c| *c != 0),
        "set: {set:?}\nkill: {kill:?}"
    );
    let (loser, winner) = if set.0 == 0 { (&kill, 30) } else { (&set, 0) };
    assert!(loser.1.contains("changed since"), "{loser:?}");
    assert_eq!(reserved(&seeder, &f).await, Some(winner));
    assert_eq!(
        proxy.calls(region, "lambda", "PutFunctionConcurrency"),
        1,
        "one write"
    );
}

/// No audit, no change: with no state directory to keep the log in (HOME unset, a relative
/// XDG_STATE_HOME, which the XDG spec says to ignore), an action is refused with nothing sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_a_place_for_the_audit_log_nothing_is_changed() {
    let region = "eu-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-worker", moto::unique("nolog"));
    seeder.create_function(&f).await;
    let lops = Lops::new(moto::url())
        .env("HOME", "")
        .env("XDG_STATE_HOME", "relative/state");
    let run = act(&lops, region, &["kill", &f, "--yes"]);
    run.assert_exit(4);
    assert!(run.stderr.contains("no audit log"), "{}", run.stderr);
    assert_eq!(reserved(&seeder, &f).await, None);
}

/// No audit, no change: a write that never comes back (the process killed while it waits)
/// still left its record, as started, with the change it was to make.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_action_is_recorded_before_it_is_sent() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "eu-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-worker", moto::unique("started"));
    seeder.create_function(&f).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::lambda(
        region,
        "PutFunctionConcurrency",
        Fault::Hang,
        Some(1),
    ));
    let lops = Lops::new(&proxy.url);
    let mut child = lops.spawn(&["concurrency", "set", &f, "5", "--yes", "--regions", region]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.calls(region, "lambda", "PutFunctionConcurrency") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "the write was never sent"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let records = audit(&lops);
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0]["result"], "started");
    assert_eq!(records[0]["action"], "concurrency.set");
    assert_eq!(records[0]["after"]["reserved"], 5, "{records:?}");
    assert_eq!(reserved(&seeder, &f).await, None);

    // Its outcome is unknown: undo looks. It never landed here, and undo says so, naming it.
    // Moments after, its request may still be on its way: undo does not judge it yet.
    let early = act(&lops, region, &["undo", "--yes"]);
    assert_eq!(early.code, 4, "a guard, not a failure: {}", early.stderr);
    assert!(early.stderr.contains("may still land"), "{}", early.stderr);
    // Recorded ten minutes ago: undo finds it never landed.
    lops.audit_written_minutes_ago(10);
    // A dry run says what it finds and records nothing (it wrote the record a real undo does).
    let dry = act(&lops, region, &["undo", "--dry-run"]);
    assert_ne!(dry.code, 0, "{}", dry.stderr);
    assert!(dry.stderr.contains("never landed"), "{}", dry.stderr);
    assert!(
        dry.stderr.contains("a real undo records so"),
        "{}",
        dry.stderr
    );
    assert_eq!(audit(&lops)[0]["result"], "started");
    let undo = act(&lops, region, &["undo", "--yes"]);
    assert_ne!(undo.code, 0, "{}", undo.stderr);
    assert!(undo.stderr.contains("never landed"), "{}", undo.stderr);
    assert_eq!(reserved(&seeder, &f).await, None);
    // Recorded so: the next undo does not stop on it again (here nothing is left).
    let records = audit(&lops);
    assert!(
        records[0]["result"]
            .as_str()
            .is_some_and(|r| r.starts_with("not landed")),
        "{records:?}"
    );
    // The state it left, and what it was to make (a reservation of 5).
    assert_eq!(records[0]["after"], records[0]["before"], "{records:?}");
    assert_eq!(records[0]["asked"]["reserved"], 5, "{records:?}");
    let again = act(&lops, region, &["undo", "--yes"]);
    again.assert_exit(2);
    assert!(again.stderr.contains("nothing to undo"), "{}", again.stderr);
}

/// A write that got no answer in time may have landed: said as such, recorded with what it was
/// to make (not as a failure that changed nothing), and undo takes it back. The timeout is
/// lowered (2 s): the test is about an answer that comes too late, not about the default.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_write_with_no_answer_is_recorded_as_unknown_and_undone() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "eu-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-worker", moto::unique("late"));
    seeder.create_function(&f).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::lambda(
        region,
        "PutFunctionConcurrency",
        Fault::LateAnswer(std::time::Duration::from_secs(4)),
        Some(1),
    ));
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\noperation_secs = 2\nmax_attempts = 1\n");
    let config = config.to_str().unwrap_or_default();
    let run = act(
        &lops,
        region,
        &["concurrency", "set", &f, "5", "--yes", "--config", config],
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("may have changed"), "{}", run.stderr);
    let records = audit(&lops);
    assert!(
        records[0]["result"]
            .as_str()
            .is_some_and(|r| r.starts_with("outcome unknown")),
        "{records:?}"
    );
    assert_eq!(records[0]["after"]["reserved"], 5, "{records:?}");
    // It landed (moto answered late). Moments after, a retry of it may still be on its way and
    // land again over an undo: undo does not take it back yet (a guard, exit 4).
    assert_eq!(reserved(&seeder, &f).await, Some(5));
    let early = act(&lops, region, &["undo", "--yes", "--config", config]);
    assert_eq!(early.code, 4, "{}", early.stderr);
    assert!(
        early.stderr.contains("a retry of it too, over an undo"),
        "{}",
        early.stderr
    );
    assert_eq!(reserved(&seeder, &f).await, Some(5));
    // A minute on, nothing of it can be on its way: undo finds it and takes it back.
    lops.audit_written_minutes_ago(2);
    act(&lops, region, &["undo", "--yes", "--config", config]).assert_exit(0);
    assert_eq!(reserved(&seeder, &f).await, None);
}

/// A read right before the write that gets no answer means nothing was sent: said so, and not
/// recorded as an outcome unknown (undo would stop on it). The timeout is lowered (2 s) as
/// above: the test is about the read that stalls.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stalled_read_before_the_write_sends_nothing_and_says_so() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "eu-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-worker", moto::unique("stall"));
    seeder.create_function(&f).await;
    let proxy = FaultProxy::start(moto::url());
    // The preview's read answers; the one right before the write hangs.
    proxy.add_after(
        1,
        Rule::lambda(region, "GetFunctionConcurrency", Fault::Hang, None),
    );
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\noperation_secs = 2\nmax_attempts = 1\n");
    let run = act(
        &lops,
        region,
        &[
            "concurrency",
            "set",
            &f,
            "5",
            "--yes",
            "--config",
            config.to_str().unwrap_or_default(),
        ],
    );
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("nothing was sent"), "{}", run.stderr);
    assert!(!run.stderr.contains("may have changed"), "{}", run.stderr);
    assert_eq!(proxy.calls(region, "lambda", "PutFunctionConcurrency"), 0);
    let records = audit(&lops);
    assert!(
        records[0]["result"]
            .as_str()
            .is_some_and(|r| !r.starts_with("outcome unknown")),
        "{records:?}"
    );
}

/// An invoke reads what it would run first: an unknown function or qualifier is refused with
/// nothing sent, the preview names the version. A function that fails (X-Amz-Function-Error)
/// is exit 1 and recorded as a function error — and it counts for the duplicate guard, as does
/// an invoke that was sent and never answered.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoke_is_checked_first_and_a_failing_function_is_not_ok() {
    use crate::support::proxy::FaultProxy;
    let region = "ap-southeast-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-fails", moto::unique("inv"));
    seeder.create_function(&f).await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let run = act(&lops, region, &["invoke", "no-such-function", "--yes"]);
    run.assert_exit(2);
    assert!(run.stderr.contains("does not exist"), "{}", run.stderr);
    // The function is there, its alias is not: that is what is said.
    let run = act(&lops, region, &["invoke", &format!("{f}:nosuch"), "--yes"]);
    run.assert_exit(2);
    let said = format!("function {f} exists in {region}, but has no alias or version 'nosuch'");
    assert!(run.stderr.contains(&said), "{}", run.stderr);
    assert!(run.stderr.contains("lops traffic show"), "{}", run.stderr);
    let run = act(&lops, region, &["invoke", &format!("{f}:"), "--yes"]);
    run.assert_exit(2);
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 0);
    assert!(audit(&lops).is_empty());

    proxy.add_header(region, "Invoke", "X-Amz-Function-Error", "Unhandled");
    let run = act(&lops, region, &["invoke", &f, "--yes", "--json"]);
    run.assert_exit(1);
    assert!(
        run.stderr.contains("($LATEST, Active, timeout 30s)"),
        "{}",
        run.stderr
    );
    assert_eq!(
        run.json()["results"][0]["invoke"]["function_error"],
        "Unhandled"
    );
    // Not an invoke that worked, as the text's "invoked 0 of 1" says.
    assert_eq!(run.json()["results"][0]["changed"], false);
    let record = audit(&lops).last().cloned().expect("record");
    assert_eq!(record["result"], "function error: Unhandled");
    assert_eq!(record["before"]["version"], "$LATEST");
    // It ran: the same payload again is a duplicate to confirm by name.
    act(&lops, region, &["invoke", &f, "--yes"]).assert_exit(4);
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 1);
    // In text the failed function is said on stderr too (exit 1 alike for a failed call).
    let run = act(
        &lops,
        region,
        &["invoke", &f, "--payload", "{\"n\": 2}", "--yes"],
    );
    run.assert_exit(1);
    assert!(
        run.stderr.contains("the function failed in 1 of 1 (it ran"),
        "{}",
        run.stderr
    );
    // Throttled by Lambda: the function never ran, so the same payload again is no duplicate
    // (it was refused as "the same payload went to" the function).
    proxy.heal();
    proxy.add(crate::support::proxy::Rule::lambda(
        region,
        "Invoke",
        crate::support::proxy::Fault::Throttle,
        Some(1),
    ));
    let retried = ["invoke", &f, "--payload", "{\"n\": 3}", "--yes"];
    let run = act(&lops, region, &retried);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(run.stderr.contains("throttled"), "{}", run.stderr);
    let record = audit(&lops).last().cloned().expect("record");
    assert!(
        record["result"]
            .as_str()
            .is_some_and(|r| r.starts_with("refused by Lambda, not run: throttled")),
        "{record}"
    );
    act(&lops, region, &retried).assert_exit(0);
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 4);
    // `lops audit` says what it was.
    let listed = act(&lops, region, &["audit"]);
    assert!(
        listed.stdout.contains("refused by Lambda"),
        "{}",
        listed.stdout
    );
}

/// A stdout closed before lops starts (`>&-`) is the null device to it (the runtime opens it
/// there first), as a stdout a caller sends to the null device read-write on purpose (Python's
/// `subprocess.DEVNULL`, Node's `stdio: 'ignore'`): neither is refused, the change is made and
/// audited, its outcome in the exit code.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_stdout_closed_or_sent_to_the_null_device_still_acts_and_audits() {
    use crate::support::proxy::FaultProxy;
    let region = "ap-southeast-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-closed", moto::unique("inv"));
    seeder.create_function(&f).await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let invoke = |n: u32| format!("invoke {f} --yes --regions {region} --payload '{{\"n\":{n}}}'");
    for (n, target) in [(1, "&-"), (2, "/dev/null 1<>/dev/null")] {
        let stderr = lops.run_with_stdout_to(&invoke(n), target);
        assert!(stderr.contains("exit=0"), "{target}: {stderr}");
    }
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 2);
    assert_eq!(
        audit(&lops).iter().filter(|r| r["result"] == "ok").count(),
        2
    );
}

/// An invoke in several regions labels each answer with its region, and a function that
/// failed in one is counted as failed there (exit 3), not as changed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_multi_region_invoke_names_each_answer_and_counts_a_failed_function() {
    use crate::support::proxy::FaultProxy;
    let (good, bad) = ("ap-southeast-1", "eu-central-1");
    let f = format!("{}-both", moto::unique("inv"));
    for region in [good, bad] {
        Seeder::new(moto::url(), region)
            .await
            .create_function(&f)
            .await;
    }
    let proxy = FaultProxy::start(moto::url());
    proxy.add_header(bad, "Invoke", "X-Amz-Function-Error", "Unhandled");
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&[
        "invoke",
        &f,
        "--regions",
        &format!("{good},{bad}"),
        "--payload",
        "{\"n\": 1}",
        "--yes",
    ]);
    run.assert_exit(3);
    for region in [good, bad] {
        assert!(
            run.stdout.contains(&format!("── {f} in {region}")),
            "{}",
            run.stdout
        );
    }
    assert!(
        run.stderr.contains("invoked 1 of 2; failed: ")
            && run.stderr.contains("the function failed (Unhandled)"),
        "{}",
        run.stderr
    );
}

/// Invoking an alias that splits its traffic previews the split, not only its main version.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoke_of_a_split_alias_previews_the_split() {
    let region = "ap-southeast-1";
    let (_seeder, f) = canary(region, "split").await;
    let lops = Lops::new(moto::url());
    set_live_weight(&lops, region, &f, "0.2").assert_exit(0);
    let run = act(
        &lops,
        region,
        &["invoke", &format!("{f}:live"), "--dry-run"],
    );
    run.assert_exit(0);
    assert!(run.stderr.contains("(v1 80% / v2 20%, "), "{}", run.stderr);
}

/// A synchronous invoke waits as long as its function may run (its timeout, plus a margin),
/// not the scope's operation timeout — here lowered to 1 s to show it is not the one that
/// counts; one that gets no answer says the function may still be running.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoke_waits_for_its_function_and_says_when_no_answer_came() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "ap-southeast-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-slow", moto::unique("inv"));
    seeder.create_function(&f).await;
    seeder
        .lambda
        .update_function_configuration()
        .function_name(&f)
        .timeout(1)
        .send()
        .await
        .expect("timeout 1 s");
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\noperation_secs = 1\n");
    let config = config.to_str().unwrap_or_default();
    proxy.add(Rule::lambda(
        region,
        "Invoke",
        Fault::Delay(std::time::Duration::from_secs(3)),
        Some(1),
    ));
    let run = act(&lops, region, &["--config", config, "invoke", &f, "--yes"]);
    run.assert_exit(0);
    proxy.add(Rule::lambda(region, "Invoke", Fault::Hang, None));
    let run = act(
        &lops,
        region,
        &[
            "--config",
            config,
            "invoke",
            &f,
            "--payload",
            "{\"n\": 2}",
            "--yes",
        ],
    );
    run.assert_exit(1);
    assert!(
        run.stderr.contains("no answer within 16s")
            && run.stderr.contains("may still be running")
            // Its logs where it ran (the hint read the default region), under the profile
            // it ran under (the hint read the default profile's account).
            && run.stderr.contains(&format!("`lops logs {f} --profile default --region ")),
        "{}",
        run.stderr
    );
    // Its record says the outcome is unknown (it may have run), not that it failed.
    let audit = lops.run(&["audit"]);
    audit.assert_exit(0);
    let last = audit.stdout.lines().rev().find(|l| l.contains(" invoke "));
    assert!(
        last.is_some_and(|l| l.contains("outcome unknown") && !l.contains("FAILED")),
        "{}",
        audit.stdout
    );
}

/// An invoke is compared again right before it is sent: the alias moved to another version (or
/// the timeout the wait is made of changed) since the preview is refused, nothing invoked, and
/// recorded as not sent.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_invoke_whose_target_changed_since_the_preview_is_not_sent() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "ap-southeast-1";
    let (seeder, f) = canary(region, "irace").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    // The preview's read answers at once; the one before the send waits a moment, in which
    // someone points the alias at version 2.
    proxy.add_after(
        1,
        Rule::lambda(
            region,
            "GetFunctionConfiguration",
            Fault::Delay(std::time::Duration::from_secs(3)),
            Some(1),
        ),
    );
    let child = lops.spawn(&[
        "invoke",
        &format!("{f}:live"),
        "--payload",
        "{\"race\": 1}",
        "--yes",
        "--regions",
        region,
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.calls(region, "lambda", "GetFunctionConfiguration") < 2 {
        assert!(
            std::time::Instant::now() < deadline,
            "no read before the send"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    seeder
        .lambda
        .update_alias()
        .function_name(&f)
        .name("live")
        .function_version("2")
        .send()
        .await
        .expect("point live at 2");
    let (code, stderr) = crate::support::cli::finish(child, 60);
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains("changed since the preview") && stderr.contains("nothing was invoked"),
        "{stderr}"
    );
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 0);
    let audit = lops.run(&["audit"]);
    assert!(
        audit.stdout.contains("not sent (changed)"),
        "{}",
        audit.stdout
    );
    // The read before the send fails: nothing sent, said so; the retry is no duplicate.
    let invoke = || {
        lops.run(&[
            "invoke",
            &format!("{f}:live"),
            "--payload",
            "{\"race\": 2}",
            "--yes",
            "--regions",
            region,
        ])
    };
    // The preview's read answers; the one before the send is refused.
    proxy.add_after(
        1,
        Rule::lambda(
            region,
            "GetFunctionConfiguration",
            Fault::Code(403, "AccessDeniedException"),
            Some(1),
        ),
    );
    let failed = invoke();
    assert_ne!(failed.code, 0, "{}", failed.stderr);
    assert!(
        failed.stderr.contains("nothing was sent"),
        "{}",
        failed.stderr
    );
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 0);
    invoke().assert_exit(0);
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 1);
    // A role that may not read the alias (lambda:GetAlias) still invokes it: the split is
    // not told, and not compared.
    proxy.add(Rule::lambda(
        region,
        "GetAlias",
        Fault::Code(403, "AccessDeniedException"),
        None,
    ));
    let run = lops.run(&[
        "invoke",
        &format!("{f}:live"),
        "--payload",
        "{\"race\": 3}",
        "--yes",
        "--regions",
        region,
    ]);
    run.assert_exit(0);
    assert_eq!(proxy.calls(region, "lambda", "Invoke"), 2);
}

/// A preview whose read times out says of what, where and what would help, as the dashboard
/// says it (the CLI said only "timed out after 1.0s"); in a batch, each scope's line says it.
/// `operation_secs = 1` keeps the hang short: the test is about the message, not the budget.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_preview_read_that_times_out_names_its_target_and_the_setting() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "eu-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-slowread", moto::unique("tmo"));
    seeder.create_function(&f).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::lambda(
        region,
        "GetFunctionConcurrency",
        Fault::Hang,
        None,
    ));
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\noperation_secs = 1\n");
    let config = config.to_str().unwrap_or_default();
    let run = act(&lops, region, &["--config", config, "kill", &f, "--yes"]);
    run.assert_exit(1);
    assert!(
        run.stderr.contains(&format!(
            "kill of {f} in {region}: cannot read it for the preview: timed out after"
        )) && run.stderr.contains("— raise [timeouts] operation_secs"),
        "{}",
        run.stderr
    );
    assert_eq!(reserved(&seeder, &f).await, None);
}

/// A version deleted since (nothing routed to it any more) is refused when pin, promote or undo
/// would route to it — at the preview, exit 2, not by a failing write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn routing_to_a_version_deleted_since_is_refused_at_the_preview() {
    let region = "ap-southeast-1";
    let (seeder, f) = canary(region, "gone").await;
    let lops = Lops::new(moto::url());
    let traffic = |args: &[&str]| traffic_live(&lops, region, &f, args);
    traffic(&["set", "--version", "2", "--weight", "0.5"]).assert_exit(0);
    traffic(&["promote"]).assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
    seeder
        .lambda
        .delete_function()
        .function_name(&f)
        .qualifier("1")
        .send()
        .await
        .expect("delete v1");
    for run in [
        act(&lops, region, &["pin", "live", "--fn", &f, "--yes"]),
        lops.run(&["undo", "--yes"]),
    ] {
        run.assert_exit(2);
        assert!(run.stderr.contains("version 1 of"), "{}", run.stderr);
        assert!(run.stderr.contains("is not published"), "{}", run.stderr);
    }
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
}

/// Pin goes back to a version recorded serving all the alias's traffic. With none recorded
/// (the alias was split before lops's first change), it refuses, naming what would: never
/// "already v2 100%, nothing changed" right after a promote to v2.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_with_no_known_good_version_refuses_instead_of_guessing() {
    let region = "ap-southeast-1";
    let (seeder, f) = canary(region, "pinless").await;
    seeder.set_extra_weight(&f, "2", 0.1).await;
    let lops = Lops::new(moto::url());
    let traffic = |args: &[&str]| traffic_live(&lops, region, &f, args);
    traffic(&["set", "--version", "2", "--weight", "0.2"]).assert_exit(0);
    traffic(&["promote"]).assert_exit(0);
    let run = act(&lops, region, &["pin", "live", "--fn", &f, "--yes"]);
    run.assert_exit(2);
    assert!(
        run.stderr
            .contains("so pin has no known good version; nothing was sent")
            && run.stderr.contains("`lops undo`")
            // A way that works: a set weighs a version below 1, a promote moves it all.
            && run.stderr.contains("`lops traffic set --version N --weight W`), then promote"),
        "{}",
        run.stderr
    );
    // All on v2 already: a rollback would change nothing, so it is not offered.
    assert!(!run.stderr.contains("rollback"), "{}", run.stderr);
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
    // Nor does a rollback's "nothing to do" send the user to that pin.
    let back = act(
        &lops,
        region,
        &["traffic", "rollback", "live", "--fn", &f, "--yes"],
    );
    back.assert_exit(0);
    assert!(
        back.stderr.contains("nothing to do")
            && !back.stderr.contains("lops pin")
            && back.stderr.contains("`lops undo`")
            && back.stderr.contains("then promote it"),
        "{}",
        back.stderr
    );
    // Once a version served it all before a change lops made, pin goes back to it.
    traffic(&["set", "--version", "1", "--weight", "0.5"]).assert_exit(0);
    act(&lops, region, &["pin", "live", "--fn", &f, "--yes"]).assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("2".to_string(), vec![]));
}

/// Pin and revive read what lops recorded in the region of the same account, through any of
/// its profiles (moto has one account): a change made as `default` is found through `ops`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_and_revive_find_a_change_made_through_another_profile_of_the_account() {
    let region = "ap-southeast-1";
    let (seeder, f) = canary(region, "twoprofpin").await;
    let lops = Lops::new(moto::url());
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile ops]\nregion = {region}\n"),
    )
    .expect("aws config");
    traffic_live(
        &lops,
        region,
        &f,
        &["set", "--version", "2", "--weight", "0.3"],
    )
    .assert_exit(0);
    act(&lops, region, &["concurrency", "set", &f, "5", "--yes"]).assert_exit(0);
    act(&lops, region, &["kill", &f, "--yes"]).assert_exit(0);
    let run = act(
        &lops,
        region,
        &["--profile", "ops", "pin", "live", "--fn", &f, "--yes"],
    );
    run.assert_exit(0);
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    act(&lops, region, &["--profile", "ops", "revive", &f, "--yes"]).assert_exit(0);
    assert_eq!(reserved(&seeder, &f).await, Some(5));
}

/// An id beyond what a double holds is sent, shown and compared as written: the answer is
/// printed as the function wrote it (text and `--json`), and a payload differing in its last
/// digit is another payload, not a duplicate.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_number_a_double_cannot_hold_is_shown_and_compared_as_written() {
    let region = "ap-southeast-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-bigid", moto::unique("inv"));
    seeder.create_function(&f).await;
    let lops = Lops::new(moto::url());
    let first = r#"{"id":123456789012345678901230}"#;
    let run = act(&lops, region, &["invoke", &f, "--payload", first, "--yes"]);
    run.assert_exit(0);
    // moto without Docker echoes the payload back.
    assert!(
        run.stdout.contains("123456789012345678901230"),
        "{}",
        run.stdout
    );
    let second = r#"{"id":123456789012345678901231}"#;
    let run = act(
        &lops,
        region,
        &["invoke", &f, "--payload", second, "--yes", "--json"],
    );
    run.assert_exit(0);
    assert_eq!(
        run.json()["results"][0]["invoke"]["response"],
        second,
        "{}",
        run.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn invoke_shows_the_response_and_guards_against_duplicates() {
    let region = "ap-southeast-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-echo", moto::unique("inv"));
    seeder.create_function(&f).await;
    let lops = Lops::new(moto::url());
    let payload = r#"{"order": 42}"#;

    let run = act(
        &lops,
        region,
        &["invoke", &f, "--payload", payload, "--yes", "--json"],
    );
    run.assert_exit(0);
    // One shape for scripts: `complete` also for a single region.
    assert_eq!(run.json()["complete"], true, "{}", run.stdout);
    let result = &run.json()["results"][0]["invoke"];
    assert_eq!(result["status"], 200);
    // moto without Docker echoes the payload back.
    assert_eq!(result["response"]["order"], 42);
    let record = audit(&lops).last().cloned().expect("record");
    assert_eq!(record["action"], "invoke");
    assert_eq!(record["payload_sha256"].as_str().map(str::len), Some(64));

    let again = act(
        &lops,
        region,
        &["invoke", &f, "--payload", payload, "--yes"],
    );
    again.assert_exit(4);
    assert!(
        again.stderr.contains("--allow-duplicate"),
        "{}",
        again.stderr
    );
    // A dry run says so with the same exit, and without --yes what a real run would ask.
    let dry = act(
        &lops,
        region,
        &["invoke", &f, "--payload", payload, "--yes", "--dry-run"],
    );
    dry.assert_exit(4);
    assert!(dry.stderr.contains("--allow-duplicate"), "{}", dry.stderr);
    let dry = act(
        &lops,
        region,
        &["invoke", &f, "--payload", payload, "--dry-run"],
    );
    dry.assert_exit(0);
    assert!(
        dry.stderr.contains("warning: ") && dry.stderr.contains("asks for the typed name"),
        "{}",
        dry.stderr
    );
    // The same JSON written another way is the same payload.
    act(
        &lops,
        region,
        &["invoke", &f, "--payload", r#"{ "order":42 }"#, "--yes"],
    )
    .assert_exit(4);
    // The same code named another way is the same target: `$LATEST` is what the bare name
    // runs, and an alias is the version it points at (unless it splits its calls).
    let latest = format!("{f}:$LATEST");
    let again = act(
        &lops,
        region,
        &["invoke", &latest, "--payload", payload, "--yes"],
    );
    again.assert_exit(4);
    assert!(
        again.stderr.contains(&format!(
            "the same payload went to {f} (the same code as {latest})"
        )),
        "{}",
        again.stderr
    );
    let v1 = seeder.publish_version(&f, "one").await;
    seeder.create_alias(&f, "live", &v1, None).await;
    let other_payload = r#"{"order": 44}"#;
    act(
        &lops,
        region,
        &[
            "invoke",
            &format!("{f}:live"),
            "--payload",
            other_payload,
            "--yes",
        ],
    )
    .assert_exit(0);
    act(
        &lops,
        region,
        &[
            "invoke",
            &format!("{f}:{v1}"),
            "--payload",
            other_payload,
            "--yes",
        ],
    )
    .assert_exit(4);
    // While the alias splits its calls, it runs other code than either version alone.
    let v2 = seeder.publish_version(&f, "two").await;
    seeder.set_extra_weight(&f, &v2, 0.5).await;
    let split = r#"{"order": 45}"#;
    act(
        &lops,
        region,
        &["invoke", &format!("{f}:{v1}"), "--payload", split, "--yes"],
    )
    .assert_exit(0);
    act(
        &lops,
        region,
        &["invoke", &format!("{f}:live"), "--payload", split, "--yes"],
    )
    .assert_exit(0);
    // The same name in another region is another function: not a duplicate.
    let other = "ap-south-2";
    Seeder::new(moto::url(), other)
        .await
        .create_function(&f)
        .await;
    act(&lops, other, &["invoke", &f, "--payload", payload, "--yes"]).assert_exit(0);
    // From a script, a duplicate in one region of several is left out and named; the others
    // are invoked (exit 3), not the whole batch refused.
    let fresh = r#"{"order": 43}"#;
    act(&lops, region, &["invoke", &f, "--payload", fresh, "--yes"]).assert_exit(0);
    let both = format!("{region},{other}");
    let in_both = || {
        lops.run(&[
            "invoke",
            &f,
            "--payload",
            fresh,
            "--yes",
            "--regions",
            &both,
        ])
    };
    let partly = in_both();
    partly.assert_exit(3);
    assert!(
        partly.stderr.contains("left out (pass --allow-duplicate"),
        "{}",
        partly.stderr
    );
    let invoked_other = audit(&lops)
        .iter()
        .filter(|r| r["action"] == "invoke" && r["region"] == other)
        .count();
    assert_eq!(invoked_other, 2);
    // Repeated in every region: refused, naming each region it held back.
    let all = in_both();
    all.assert_exit(4);
    assert!(
        all.stderr.contains(&format!("in {region} at"))
            && all.stderr.contains(&format!("in {other} at")),
        "{}",
        all.stderr
    );
    act(
        &lops,
        region,
        &[
            "invoke",
            &f,
            "--payload",
            payload,
            "--yes",
            "--allow-duplicate",
        ],
    )
    .assert_exit(0);

    let path = lops.home.path().join("event.json");
    std::fs::write(&path, r#"{"from": "file"}"#).expect("payload file");
    let from_file = act(
        &lops,
        region,
        &[
            "invoke",
            &f,
            "--payload",
            &format!("@{}", path.display()),
            "--yes",
        ],
    );
    from_file.assert_exit(0);
    assert!(
        from_file.stdout.contains("\"from\": \"file\""),
        "{}",
        from_file.stdout
    );
}

/// Two profiles of one account reach one function: the same payload sent through the other
/// profile a moment later is a repeat, asked about like any other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_repeat_through_another_profile_of_the_account_is_a_duplicate() {
    let region = "ap-southeast-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-echo", moto::unique("dup2"));
    seeder.create_function(&f).await;
    let lops = Lops::new(moto::url());
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile ops]\nregion = {region}\n"),
    )
    .expect("aws config");
    let payload = r#"{"order": 7}"#;
    // The same payload with `extra` flags.
    let invoke = |extra: &[&str]| {
        let mut args = vec!["invoke", f.as_str(), "--payload", payload, "--yes"];
        args.extend(extra);
        act(&lops, region, &args)
    };
    invoke(&[]).assert_exit(0);
    let again = invoke(&["--profile", "ops"]);
    again.assert_exit(4);
    assert!(
        again.stderr.contains("--allow-duplicate")
            && again.stderr.contains("through profile default"),
        "{}",
        again.stderr
    );
    invoke(&["--profile", "ops", "--allow-duplicate"]).assert_exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_changes_nothing() {
    let region = "ap-northeast-2";
    let (seeder, f) = canary(region, "bad").await;
    let lops = Lops::new(moto::url());
    let before = seeder.routing(&f).await;
    let cases: Vec<(Vec<&str>, &str)> = vec![
        (
            vec![
                "traffic",
                "set",
                "live",
                "--fn",
                &f,
                "--version",
                "2",
                "--weight",
                "1.7",
                "--yes",
            ],
            "out of range",
        ),
        (
            vec![
                "traffic",
                "set",
                "live",
                "--fn",
                &f,
                "--version",
                "2",
                "--weight",
                "-0.1",
                "--yes",
            ],
            "is negative",
        ),
        (
            vec![
                "traffic",
                "set",
                "live",
                "--fn",
                &f,
                "--version",
                "9",
                "--weight",
                "0.1",
                "--yes",
            ],
            "not published",
        ),
        (
            vec![
                "traffic",
                "set",
                "live",
                "--fn",
                &f,
                "--version",
                "$LATEST",
                "--weight",
                "0.1",
                "--yes",
            ],
            "publish a version",
        ),
        (
            vec![
                "traffic",
                "set",
                "live",
                "--fn",
                "no-such-function",
                "--version",
                "2",
                "--weight",
                "0.1",
                "--yes",
            ],
            // The function is what is missing, not only its alias.
            "function no-such-function does not exist",
        ),
        (
            vec!["invoke", &f, "--payload", "{not json", "--yes"],
            "not valid JSON",
        ),
        (vec!["concurrency", "set", &f, "-3", "--yes"], "negative"),
        (
            vec!["concurrency", "set", &f, "lots", "--yes"],
            "not a concurrency",
        ),
        (vec!["kill", "no-such-function", "--yes"], "does not exist"),
        (
            vec!["traffic", "promote", "ghost", "--fn", &f, "--yes"],
            "ghost",
        ),
        (vec!["revive", &f, "--yes"], "no kill"),
    ];
    for (args, says) in cases {
        let run = act(&lops, region, &args);
        assert_eq!(run.code, 2, "{args:?}\n{}", run.stderr);
        assert!(!run.stderr.contains("panicked"));
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    let unknown_region = lops.run(&["kill", &f, "--regions", "mars-east-1", "--yes"]);
    unknown_region.assert_exit(2);
    assert!(unknown_region.stderr.contains("unknown region"));
    assert_eq!(seeder.routing(&f).await, before);
    assert_eq!(reserved(&seeder, &f).await, None);
    assert!(audit(&lops).is_empty(), "bad input is not an action");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_only_refuses_every_action_and_invoke_mode_allows_only_invoke() {
    let region = "ap-south-2";
    let (seeder, f) = canary(region, "ro").await;
    let lops = Lops::new(moto::url());
    set_live_weight(&lops, region, &f, "0.2").assert_exit(0);
    let before = (seeder.routing(&f).await, reserved(&seeder, &f).await);
    let commands: Vec<Vec<&str>> = vec![
        vec!["invoke", &f, "--yes"],
        vec![
            "traffic",
            "set",
            "live",
            "--fn",
            &f,
            "--version",
            "2",
            "--weight",
            "0.3",
            "--yes",
        ],
        vec!["traffic", "promote", "live", "--fn", &f, "--yes"],
        vec!["traffic", "rollback", "live", "--fn", &f, "--yes"],
        vec!["concurrency", "set", &f, "3", "--yes"],
        vec!["kill", &f, "--yes"],
        vec!["revive", &f, "--yes"],
        vec!["undo", "--yes"],
        vec!["pin", "live", "--fn", &f, "--yes"],
        vec![
            "traffic",
            "plan",
            "live",
            "--fn",
            &f,
            "--to",
            "2",
            "--preset",
            "AllAtOnce",
            "--yes",
        ],
        vec!["traffic", "resume", "live", "--fn", &f, "--yes"],
        vec!["traffic", "abort", "live", "--fn", &f, "--yes"],
        vec!["triggers", "disable", "--rule", "nightly", "--yes"],
        vec!["triggers", "enable", "--mapping", "6f1c2a10", "--yes"],
        vec![
            "restore",
            "s3://lops-ro-check/lops/snapshots/ap-south-2/x/20261125T000000.000Z.json",
            "--yes",
        ],
        vec![
            "backup",
            "prune",
            "--to",
            "s3://lops-ro-check/lops",
            "--keep-last",
            "1",
            "--yes",
        ],
    ];
    for command in &commands {
        let mut args = vec!["--read-only"];
        args.extend(command);
        let run = act(&lops, region, &args);
        run.assert_exit(4);
        assert!(
            run.stderr.contains("refused") && run.stderr.contains("--mode"),
            "{command:?}: {}",
            run.stderr
        );
    }
    let config = lops.config("mode = \"read\"\n");
    let run = act(
        &lops,
        region,
        &["--config", config.to_str().unwrap(), "kill", &f, "--yes"],
    );
    run.assert_exit(4);
    // Where, as the dashboard says it.
    assert!(
        run.stderr.contains(&format!(
            "refused: kill in default/{region} changes the fleet"
        )),
        "{}",
        run.stderr
    );
    // Every command but invoke needs the change tier.
    for command in &commands[1..] {
        let mut args = vec!["--mode", "invoke"];
        args.extend(command);
        act(&lops, region, &args).assert_exit(4);
    }
    act(&lops, region, &["--mode", "invoke", "invoke", &f, "--yes"]).assert_exit(0);
    assert_eq!(
        (seeder.routing(&f).await, reserved(&seeder, &f).await),
        before
    );
    // Without --yes and without a terminal to ask on, a change is refused too.
    act(&lops, region, &["kill", &f]).assert_exit(4);
    assert_eq!(reserved(&seeder, &f).await, None);
}

async fn aws(region: &str, counter: &CallCounter) -> AwsRegion {
    aws_as(region, counter, Access::default()).await
}

/// A region whose scope the session gave `access`.
async fn aws_as(region: &str, counter: &CallCounter, access: Access) -> AwsRegion {
    let scope = Scope::new("default", region, access);
    let config = sdk_config(moto::url(), region).await;
    AwsRegion::new(Clients::from_sdk_config(
        scope,
        &config,
        &Settings::default(),
        counter,
    ))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn concurrent_alias_edit_between_preview_and_write_is_refused() {
    let region = "af-south-1";
    let (seeder, f) = canary(region, "race").await;
    let source = aws(region, &CallCounter::default()).await;
    let request = Request::SetWeight {
        function: f.clone(),
        alias: "live".into(),
        version: "2".into(),
        weight: 0.1,
    };
    let plan = prepare(&source, request, None).await.expect("plan");
    // Someone else shifts traffic while the engineer reads the preview.
    seeder
        .lambda
        .update_alias()
        .function_name(&f)
        .name("live")
        .routing_config(
            aws_sdk_lambda::types::AliasRoutingConfiguration::builder()
                .additional_version_weights("2", 0.4)
                .build(),
        )
        .send()
        .await
        .expect("concurrent edit");
    let dir = tempfile::tempdir().expect("dir");
    let log = AuditLog::at(dir.path().join("audit.jsonl"));
    match execute(&source, &plan, Some(&log)).await {
        Err(OpsError::Conflict(changed)) => {
            assert!(
                changed.why.contains("changed since the preview"),
                "{changed}"
            );
            // What was found right before the write, in the shape of the preview's before.
            let found = changed.found.expect("the state found");
            assert_eq!(found["function_version"], "1", "{found}");
            assert_eq!(found["weights"]["2"], 0.4, "{found}");
        }
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.4)])
    );
    // Recorded as not sent (closing its start): never something to undo.
    let records = log.read().expect("read").0;
    assert_eq!(records.len(), 1, "{records:?}");
    assert!(
        records[0].result.starts_with(lops::ops::audit::CONFLICT),
        "{records:?}"
    );
    // The state it left (as found: someone else's 40%) and what it was to make, both in the
    // record.
    assert_eq!(records[0].after["function_version"], "1", "{records:?}");
    assert_eq!(records[0].after["weights"]["2"], 0.4, "{records:?}");
    assert_eq!(records[0].asked.as_ref(), Some(&plan.after), "{records:?}");
    assert_ne!(plan.after, plan.before);
    assert!(lops::ops::batch::undo_targets(&records).is_empty());
}

/// A rollout confirmed after someone changed its alias is refused before it is saved: it
/// never becomes a halted rollout that wrote nothing (whose abort would write over them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_whose_alias_changed_since_its_preview_is_not_started() {
    use lops::ops::rollout::{
        Guard, RolloutSpec, RolloutStore, compare_again, parse_steps, ready_to_start, start,
    };
    let region = "af-south-1";
    let (seeder, f) = canary(region, "rollrace").await;
    let source = aws(region, &CallCounter::default()).await;
    let dir = tempfile::tempdir().expect("dir");
    let store = RolloutStore::at(dir.path());
    // A canary of live to v2, guarded as configured by default.
    let spec = || RolloutSpec {
        function: f.clone(),
        alias: "live".into(),
        to: "2".into(),
        steps: parse_steps("10:1m").expect("steps"),
        guard: Guard::from_config(&Default::default(), vec![]),
        function_alarms: true,
    };
    let r = start(&source, spec(), &store).await.expect("preview");
    // As it was previewed: goes ahead.
    compare_again(&source, &r).await.expect("unchanged");
    seeder.set_extra_weight(&f, "2", 0.3).await;
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    match ready_to_start(&source, &r, Some(&audit)).await {
        Err(OpsError::Conflict(message)) => assert!(
            message.why.contains(
                "changed since the preview: it is v1 70% / v2 30% where the \
                 preview read v1 100%"
            ),
            "{message}"
        ),
        other => panic!("expected a conflict, got {other:?}"),
    }
    assert!(store.all().is_empty());
    // Recorded as not sent, as a rollout's step refused by its compare is (it was not
    // recorded); nothing written.
    let (records, _) = audit.read().expect("audit");
    assert_eq!(records.len(), 1, "{records:#?}");
    assert!(
        records[0].result.starts_with(lops::ops::audit::CONFLICT),
        "{records:#?}"
    );
    assert!(
        records[0]
            .batch
            .as_deref()
            .is_some_and(|b| b.starts_with(lops::ops::batch::ROLLOUT_BATCH)),
        "{records:#?}"
    );
    // What the preview read, what was found, what it asked: the previewed state was lost
    // (the state found was recorded as both).
    assert_eq!(records[0].before["function_version"], "1");
    assert_eq!(records[0].before["weights"], serde_json::json!({}));
    assert_eq!(records[0].after["weights"]["2"], 0.3, "{records:#?}");
    assert_eq!(
        records[0].asked.as_ref().map(|a| a["weights"]["2"].clone()),
        Some(serde_json::json!(0.1)),
        "{records:#?}"
    );
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
    // The function's own alarm, OK at the preview, in ALARM by the confirmation: refused at
    // the compare right before the first write, nothing started.
    seeder.set_extra_weight(&f, "2", 0.0).await;
    let alarm = format!("{f}-errors");
    seeder
        .put_error_alarm(&alarm, &f, Some(aws_sdk_cloudwatch::types::StateValue::Ok))
        .await;
    let r = start(&source, spec(), &store).await.expect("preview");
    assert!(r.guard.alarms.contains(&alarm), "{:?}", r.guard.alarms);
    seeder
        .put_error_alarm(
            &alarm,
            &f,
            Some(aws_sdk_cloudwatch::types::StateValue::Alarm),
        )
        .await;
    match compare_again(&source, &r).await {
        Err(OpsError::Refused(why)) => {
            assert!(
                why.contains(&format!("guard alarm {alarm} is in ALARM now")),
                "{why}"
            )
        }
        other => panic!("expected a refusal, got {other:?}"),
    }
    assert!(store.all().is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn iam_policy_covers_every_call_each_tier_makes() {
    let region = "me-south-1";
    let (_seeder, f) = canary(region, "iam").await;
    let dir = tempfile::tempdir().expect("dir");
    let log = AuditLog::at(dir.path().join("audit.jsonl"));
    let mut seen = Vec::new();
    for tier in [Tier::Read, Tier::Invoke, Tier::Change] {
        let counter = CallCounter::default();
        let source = aws_as(region, &counter, Access::new(tier, false)).await;
        // What every tier does: read the region, its metrics and alarms, an alias, who we are.
        let inventory = source.inventory().await.expect("inventory");
        let functions = inventory
            .functions
            .iter()
            .map(FunctionRef::from_info)
            .collect();
        source
            .metrics(&MetricsRequest {
                functions,
                window: TimeWindow::ending_at(chrono::Utc::now()),
                region_totals: true,
                period_minutes: 1,
                only: None,
                every_figure: false,
            })
            .await
            .expect("metrics");
        source.alarms().await.expect("alarms");
        source.aliases(&f).await.expect("aliases");
        source.caller().await.expect("caller");
        let mut requests = Vec::new();
        if tier.allows(Tier::Invoke) {
            requests.push(Request::Invoke(InvokeRequest {
                function: f.clone(),
                qualifier: None,
                payload: b"{}".to_vec(),
                asynchronous: false,
                wait_secs: None,
            }));
        }
        if tier == Tier::Change {
            requests.push(Request::SetWeight {
                function: f.clone(),
                alias: "live".into(),
                version: "2".into(),
                weight: 0.2,
            });
            requests.push(Request::SetConcurrency {
                function: f.clone(),
                value: Some(2),
            });
            requests.push(Request::SetConcurrency {
                function: f.clone(),
                value: None,
            });
        }
        for request in requests {
            let plan = prepare(&source, request, Some(&log)).await.expect("plan");
            execute(&source, &plan, Some(&log)).await.expect("execute");
        }
        let allowed = policy(tier).to_string();
        let document: Value = serde_json::from_str(&allowed).expect("policy is JSON");
        assert_eq!(document["Version"], "2012-10-17");
        for call in counter.snapshot() {
            let (action, needed) = iam_action(&call.key.operation).unwrap_or_else(|| {
                panic!(
                    "{} is called but missing from the policy table",
                    call.key.operation
                )
            });
            assert!(
                tier.allows(needed),
                "{} needs {needed:?}, made in {tier:?}",
                call.key.operation
            );
            assert!(
                allowed.contains(&format!("\"{action}\"")),
                "{action} missing from the {tier:?} policy"
            );
            seen.push(call.key.operation.clone());
        }
    }
    for op in [
        "Invoke",
        "UpdateAlias",
        "PutFunctionConcurrency",
        "DeleteFunctionConcurrency",
        "GetMetricData",
        "GetCallerIdentity",
    ] {
        assert!(seen.iter().any(|s| s == op), "{op} was never exercised");
    }
}

/// Reservations growing together in one region (one batch) are checked against the account's
/// unreserved pool as a sum: over it, each is skipped with the sum and nothing is sent (AWS
/// would refuse the last writes after the confirmation); within it, all go. The note that the
/// pool could not be read stays with each target of a batch.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn reservations_growing_together_are_checked_as_a_sum() {
    use crate::support::proxy::FaultProxy;
    let region = "us-west-2";
    let seeder = Seeder::new(moto::url(), region).await;
    let base = moto::unique("pool");
    let (a, b) = (format!("{base}-a"), format!("{base}-b"));
    for f in [&a, &b] {
        seeder.create_function(f).await;
    }
    let proxy = FaultProxy::start(moto::url());
    proxy.reply(
        region,
        "GetAccountSettings",
        200,
        r#"{"AccountLimit":{"TotalCodeSize":80530636800,"CodeSizeUnzipped":262144000,"CodeSizeZipped":52428800,"ConcurrentExecutions":1000,"UnreservedConcurrentExecutions":850},"AccountUsage":{"TotalCodeSize":0,"FunctionCount":2}}"#,
    );
    let lops = Lops::new(&proxy.url);
    let both = format!("{a},{b}");
    // 500 each passes alone (500 <= 750), not together (1000 > 750).
    let run = act(
        &lops,
        region,
        &["concurrency", "set", &both, "500", "--yes"],
    );
    // Every target refused by the account's pool (a guard): nothing sent, exit 4.
    run.assert_exit(4);
    // One reason, said once for both targets.
    assert_eq!(
        run.stderr
            .matches("together the 2 reservations growing in us-west-2 take 1000 of the 850")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(&format!("skip {a}, {b} in us-west-2")),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.calls(region, "lambda", "PutFunctionConcurrency"), 0);
    let run = act(
        &lops,
        region,
        &["concurrency", "set", &both, "300", "--yes"],
    );
    run.assert_exit(0);
    assert_eq!(proxy.calls(region, "lambda", "PutFunctionConcurrency"), 2);
    // Not readable (denied): each target of the batch says it was not checked.
    let denied = FaultProxy::start(moto::url());
    denied.add(crate::support::proxy::Rule {
        region: region.into(),
        service: Some("lambda".into()),
        operation: Some("GetAccountSettings".into()),
        fault: crate::support::proxy::Fault::Code(403, "AccessDeniedException"),
        remaining: None,
    });
    let run = act(
        &Lops::new(&denied.url),
        region,
        &["concurrency", "set", &both, "400", "--dry-run"],
    );
    run.assert_exit(0);
    // Said of both targets, once (the same note on every change of a batch).
    assert_eq!(
        run.stderr
            .matches("not checked against what the account leaves unreserved")
            .count(),
        1,
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("for each of the 2: not checked against what the account leaves unreserved"),
        "{}",
        run.stderr
    );
}

/// A reservation AWS would refuse (it would leave less than 100 unreserved in the account) is
/// refused at the preview, saying the most this region allows — not after the confirmation by
/// the write. A reservation that shrinks asks nothing of the account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_reservation_over_what_the_account_keeps_unreserved_is_refused_at_the_preview() {
    use crate::support::proxy::FaultProxy;
    let region = "us-west-2";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-worker", moto::unique("unreserved"));
    seeder.create_function(&f).await;
    seeder.reserve(&f, 50).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.reply(
        region,
        "GetAccountSettings",
        200,
        r#"{"AccountLimit":{"TotalCodeSize":80530636800,"CodeSizeUnzipped":262144000,"CodeSizeZipped":52428800,"ConcurrentExecutions":1000,"UnreservedConcurrentExecutions":850},"AccountUsage":{"TotalCodeSize":0,"FunctionCount":1}}"#,
    );
    let lops = Lops::new(&proxy.url);
    let run = act(
        &lops,
        region,
        &["concurrency", "set", &f, "900", "--dry-run"],
    );
    // A guard (the account's pool), not bad input: refused, 4.
    run.assert_exit(4);
    assert!(
        run.stderr
            .contains("takes 850 of the 850 the account leaves unreserved")
            && run.stderr.contains("at most 800 here"),
        "{}",
        run.stderr
    );
    act(&lops, region, &["concurrency", "set", &f, "800", "--yes"]).assert_exit(0);
    let asked = proxy.calls(region, "lambda", "GetAccountSettings");
    act(&lops, region, &["concurrency", "set", &f, "10", "--yes"]).assert_exit(0);
    assert_eq!(proxy.calls(region, "lambda", "GetAccountSettings"), asked);
    // The account's settings not readable (denied): a growing reservation is previewed,
    // saying it was not checked, rather than passed as if it had been.
    let denied = FaultProxy::start(moto::url());
    denied.add(crate::support::proxy::Rule {
        region: region.into(),
        service: Some("lambda".into()),
        operation: Some("GetAccountSettings".into()),
        fault: crate::support::proxy::Fault::Code(403, "AccessDeniedException"),
        remaining: None,
    });
    let lops = Lops::new(&denied.url);
    let run = act(
        &lops,
        region,
        &["concurrency", "set", &f, "20", "--dry-run"],
    );
    run.assert_exit(0);
    assert!(
        run.stderr.contains(
            "reserved concurrency 20 (not checked against what the account leaves unreserved"
        ),
        "{}",
        run.stderr
    );
    // Said, not recorded as state: what undo compares is the reservation alone.
    let write = act(&lops, region, &["concurrency", "set", &f, "20", "--yes"]);
    write.assert_exit(0);
    let last = audit(&lops).last().cloned().expect("record");
    assert_eq!(last["after"], serde_json::json!({"reserved": 20}), "{last}");
}

/// A change refused at its write in every region (each target changed since the preview) sent
/// nothing anywhere: refused (exit 4), as one target's would be — not a failure (1).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_batch_refused_at_the_write_everywhere_exits_as_refused() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let regions = ["us-west-2", "eu-west-1"];
    let f = format!("{}-worker", moto::unique("allrefused"));
    let mut seeders = Vec::new();
    for region in regions {
        let seeder = Seeder::new(moto::url(), region).await;
        seeder.create_function(&f).await;
        seeder.reserve(&f, 10).await;
        seeders.push(seeder);
    }
    let proxy = FaultProxy::start(moto::url());
    for region in regions {
        // The preview's read passes; the read right before the write waits.
        proxy.add_after(
            1,
            Rule::lambda(
                region,
                "GetFunctionConcurrency",
                Fault::Delay(std::time::Duration::from_secs(3)),
                Some(1),
            ),
        );
    }
    let lops = Lops::new(&proxy.url);
    let child = lops.spawn(&[
        "concurrency",
        "set",
        &f,
        "20",
        "--regions",
        &regions.join(","),
        "--yes",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while regions
        .iter()
        .any(|r| proxy.calls(r, "lambda", "GetFunctionConcurrency") < 2)
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}",
            proxy.all_calls()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    for seeder in &seeders {
        seeder.reserve(&f, 30).await;
    }
    let (code, stderr) = crate::support::cli::finish(child, 30);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("not sent"), "{stderr}");
    for seeder in &seeders {
        assert_eq!(reserved(seeder, &f).await, Some(30));
    }
}
