//! `lops status` against a seeded fleet in moto, through the fault proxy.

use std::time::{Duration, Instant};

use serde_json::Value;

use crate::support::cli::{Lops, function_doc as function, region_doc as region};
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy};
use crate::support::seed::{SeededFunction, Seeder};

const FAST_TIMEOUTS: &str =
    "[timeouts]\nconnect_secs = 1\noperation_secs = 2\nmax_attempts = 2\nregion_secs = 20\n";

fn assert_function(region: &Value, seeded: &SeededFunction) {
    let f = function(region, &seeded.name);
    let minutes = seeded.seeded_minutes as f64;
    let m60 = &f["metrics"]["60m"];
    assert_eq!(
        m60["invocations"],
        seeded.invocations_per_minute * minutes,
        "{}",
        seeded.name
    );
    assert_eq!(
        m60["errors"],
        seeded.errors_per_minute * minutes,
        "{}",
        seeded.name
    );
    assert_eq!(f["state"], "Active");
    assert_eq!(f["tags"]["team"], "payments");
    assert_eq!(
        f["concurrency"]["reserved"],
        serde_json::json!(seeded.reserved)
    );
    match seeded.alias_weight {
        Some(w) => {
            let alias = &f["aliases"][0];
            assert_eq!(alias["name"], "live");
            assert_eq!(alias["function_version"], "1");
            assert_eq!(alias["weights"][0]["version"], "1");
            assert_eq!(alias["weights"][1]["version"], "2");
            assert_eq!(alias["weights"][1]["share"], w);
            assert_eq!(f["versions"], serde_json::json!(["1", "2"]));
            // Observed split from ExecutedVersion: 8 vs 2 per minute over 10 minutes.
            assert_eq!(alias["observed_15m"][0]["invocations"], 80.0);
            assert_eq!(alias["observed_15m"][1]["invocations"], 20.0);
            assert_eq!(alias["observed_15m"][1]["share"], 0.2);
        }
        // Without a published version its aliases could only point at $LATEST: not read
        // (null, and named in not_read), never shown as "none".
        None => {
            assert_eq!(f["aliases"], serde_json::Value::Null);
            assert!(
                f["not_read"]
                    .as_array()
                    .is_some_and(|n| n.contains(&serde_json::json!("aliases"))),
                "{f}"
            );
        }
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn seeded_fleet_in_three_regions_is_reported_in_full() {
    let regions = ["ca-central-1", "eu-north-1", "ap-south-1"];
    let proxy = FaultProxy::start(moto::url());
    let prefix = moto::unique("st");
    let mut fleets = Vec::new();
    for (i, r) in regions.iter().enumerate() {
        let seeder = Seeder::new(moto::url(), r).await;
        fleets.push(seeder.fleet(&format!("{prefix}r{i}"), 7).await);
    }

    let lops = Lops::new(&proxy.url);
    let run = lops.run(&[
        "status",
        "--json",
        "--stats",
        "--regions",
        &regions.join(","),
    ]);
    run.assert_exit(0);
    let doc = run.json();
    assert_eq!(doc["complete"], true);
    for (r, fleet) in regions.iter().zip(&fleets) {
        let region = region(&doc, r);
        assert_eq!(region["health"]["status"], "ok");
        assert_eq!(
            region["functions"].as_array().map(Vec::len),
            Some(fleet.len())
        );
        // moto does not serve GetAccountSettings: the limit is unknown, not an error.
        assert_eq!(region["account_concurrency_limit"], Value::Null);
        assert_eq!(region["percentiles_supported"], false);
        for seeded in fleet {
            assert_function(region, seeded);
        }
        let first = function(region, &fleet[0].name);
        assert_eq!(first["alarms"][0]["state"], "ALARM");
        assert_eq!(
            first["alarms"][0]["reason"],
            "Threshold Crossed: seeded by the test"
        );
        assert_eq!(function(region, &fleet[1].name)["alarms"][0]["state"], "OK");
        assert_eq!(
            function(region, &fleet[2].name)["alarms"],
            serde_json::json!([])
        );
        // Percentiles are unsupported in moto: shown as missing, other numbers intact.
        assert_eq!(first["metrics"]["5m"]["duration_p99_ms"], Value::Null);
        assert_eq!(first["metrics"]["60m"]["duration_max_ms"], 100.0);

        // Design minimum: ceil(queries / 500) calls for the numbers and as many for the
        // aliases' split (a request of its own, so that its failure costs only the split), plus
        // one single-attempt percentile batch.
        let aliased = fleet.iter().filter(|f| f.alias_weight.is_some()).count();
        // Per aliased function: its two versions and the alias's own total.
        let (numbers, split) = (6 * fleet.len(), 3 * aliased);
        let queries = numbers + split;
        let expected = (numbers.div_ceil(500) + split.div_ceil(500)) as u64 + 1;
        assert_eq!(
            proxy.calls(r, "monitoring", "GetMetricData"),
            expected,
            "{:#?}",
            proxy.all_calls()
        );
        assert_eq!(proxy.calls(r, "monitoring", "DescribeAlarms"), 1);
        assert_eq!(proxy.calls(r, "lambda", "ListFunctions"), 1);
        // What CloudWatch bills: every query it answered. The percentile batch's first
        // request (the 5- and 15-minute windows × p50/p99 per function) is tried once; moto
        // refuses it (not billed), so the hour's request is not sent.
        assert_eq!(region["metrics_requested"], queries as u64);
    }
    let requested: u64 = regions
        .iter()
        .map(|r| region(&doc, r)["metrics_requested"].as_u64().unwrap_or(0))
        .sum();
    assert_eq!(doc["cloudwatch"]["metrics_requested"], requested);
    let usd = doc["cloudwatch"]["estimated_usd"].as_f64().expect("usd");
    assert!(
        (usd - requested as f64 * 0.01 / 1000.0).abs() < 1e-12,
        "{usd}"
    );
    // --stats reports what lops itself counted, which must agree with the proxy.
    let counted: u64 = doc["api_calls"]
        .as_array()
        .expect("api_calls")
        .iter()
        .filter(|c| c["operation"] == "GetMetricData")
        .map(|c| c["calls"].as_u64().unwrap_or(0))
        .sum();
    let seen: u64 = regions
        .iter()
        .map(|r| proxy.calls(r, "monitoring", "GetMetricData"))
        .sum();
    assert_eq!(counted, seen);

    let table = lops.run(&[
        "status",
        "--stats",
        "--regions",
        &regions.join(","),
        "--window",
        "60m",
    ]);
    table.assert_exit(0);
    // The table shows one window: the longest duration, not one of its columns, is not asked
    // (one metric per function fewer than the JSON document's every window).
    let table_saves: u64 = fleets.iter().map(|f| f.len() as u64).sum();
    // Shown with --nocapture: the numbers docs/PERFORMANCE.md records.
    println!("{}", table.stdout);
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains(&fleets[0][0].name))
        .expect("row for the first function");
    assert!(row.contains("ALARM"), "{row}");
    assert!(row.contains("450"), "{row}");
    // An alias splitting its calls gets a line under its function: set against seen.
    let under = |name: &str| {
        table
            .stdout
            .lines()
            .skip_while(|l| !l.contains(name))
            .nth(1)
            .unwrap_or_default()
            .to_string()
    };
    assert!(
        under(&fleets[0][0].name)
            .trim_start()
            .starts_with("alias live (seen over 15m): v1 set 80% seen 80%, v2 set 20% seen 20%"),
        "{}",
        table.stdout
    );
    assert!(
        !under(&fleets[0][1].name).contains("alias"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains("ca-central-1: ok, 7 functions"),
        "{}",
        table.stdout
    );
    assert!(
        table.stdout.contains(&format!(
            "CloudWatch: {} metrics requested, ≈ $",
            requested - table_saves
        )),
        "{}",
        table.stdout
    );
    // A JSON document of one window: only that window's figures, every one of them (the longest
    // duration too), read as the table reads it, at what the table's read bills plus the
    // longest duration.
    let before: Vec<u64> = regions
        .iter()
        .map(|r| proxy.calls(r, "monitoring", "GetMetricData"))
        .collect();
    let one = lops.run(&[
        "status",
        "--json",
        "--stats",
        "--regions",
        &regions.join(","),
        "--window",
        "60m",
    ]);
    one.assert_exit(0);
    let one = one.json();
    assert_eq!(one["complete"], true);
    assert_eq!(one["cloudwatch"]["metrics_requested"], requested);
    for ((r, fleet), before) in regions.iter().zip(&fleets).zip(before) {
        let got = region(&one, r);
        let windows = |v: &Value| v.as_object().map(|o| o.keys().cloned().collect::<Vec<_>>());
        assert_eq!(windows(&got["totals"]), Some(vec!["60m".to_string()]));
        for seeded in fleet {
            assert_function(got, seeded);
            let metrics = &function(got, &seeded.name)["metrics"];
            assert_eq!(windows(metrics), Some(vec!["60m".to_string()]));
        }
        let first = function(got, &fleet[0].name);
        assert_eq!(first["metrics"]["60m"]["duration_max_ms"], 100.0);
        assert_eq!(
            first["metrics"]["60m"]["invocations"],
            function(region(&doc, r), &fleet[0].name)["metrics"]["60m"]["invocations"]
        );
        // The numbers over the hour, the versions over 15 minutes, the percentiles (refused
        // by moto, once).
        assert_eq!(proxy.calls(r, "monitoring", "GetMetricData") - before, 3);
    }
    // A terminal that takes ASCII only (a locale that is not UTF-8, or --ascii) gets ASCII;
    // JSON stays UTF-8 for its reader.
    let args = ["status", "--stats", "--regions", regions[0]];
    for run in [
        lops.run_with_env(&args, &[("LC_ALL", "C")]),
        lops.run(&[&args[..], &["--ascii"]].concat()),
    ] {
        run.assert_exit(0);
        assert!(run.stdout.is_ascii(), "{}", run.stdout);
        assert!(
            run.stdout.contains("metrics requested, ~ $"),
            "{}",
            run.stdout
        );
    }
    // A preview on stderr is text whatever stdout is: ASCII also with --json, whose document
    // stays UTF-8; so is clap's help.
    let f = &fleets[0][1].name;
    let run = lops.run_with_env(
        &["kill", f, "--regions", regions[0], "--dry-run", "--json"],
        &[("LC_ALL", "C")],
    );
    run.assert_exit(0);
    assert!(run.stderr.is_ascii(), "{}", run.stderr);
    assert!(
        run.stderr.contains(" -> reserved concurrency 0"),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["dry_run"], true);
    // As a real run's document: whether every target would be sent.
    assert_eq!(run.json()["complete"], true);
    let help = lops.run_with_env(&["traffic", "plan", "--help"], &[("LC_ALL", "C")]);
    assert!(
        help.stdout.is_ascii() && help.stdout.contains("..."),
        "{}",
        help.stdout
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_and_hanging_regions_are_named_while_the_healthy_one_is_complete() {
    let (ok, failing, hanging) = ("eu-west-3", "sa-east-1", "ap-northeast-3");
    let proxy = FaultProxy::start(moto::url());
    let prefix = moto::unique("dead");
    let fleet = Seeder::new(moto::url(), ok).await.fleet(&prefix, 3).await;
    proxy.fail_region(failing, Fault::Status(503));
    proxy.fail_region(hanging, Fault::Hang);

    let lops = Lops::new(&proxy.url);
    let config = lops.config(FAST_TIMEOUTS);
    let started = Instant::now();
    let run = lops.run(&[
        "status",
        "--json",
        "--config",
        config.to_str().unwrap(),
        "--regions",
        &[ok, failing, hanging].join(","),
    ]);
    let elapsed = started.elapsed();
    run.assert_exit(3);
    let doc = run.json();
    assert_eq!(doc["complete"], false);
    let healthy = region(&doc, ok);
    assert_eq!(healthy["health"]["status"], "ok");
    for seeded in &fleet {
        assert_function(healthy, seeded);
    }
    let dead = region(&doc, failing);
    assert_eq!(dead["health"]["status"], "unreachable");
    // Unknown, not none: a script counting functions does not read an outage as zero.
    assert!(dead["functions"].is_null(), "{dead:#}");
    assert!(dead["totals"].is_null(), "{dead:#}");
    assert!(healthy["functions"].is_array());
    assert!(
        dead["health"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("503"),
        "{dead:#}"
    );
    let hung = region(&doc, hanging);
    assert_eq!(hung["health"]["status"], "unreachable");
    assert!(
        hung["health"]["error"]
            .as_str()
            .unwrap_or_default()
            .contains("timed out"),
        "{hung:#}"
    );
    assert!(
        run.stderr
            .contains(&format!("region {failing} unreachable")),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains(&format!("region {hanging} unreachable")),
        "{}",
        run.stderr
    );
    // Bounded by the 2 s operation timeout, not by the hour-long hang.
    assert!(elapsed < Duration::from_secs(15), "took {elapsed:?}");
    // The retry cap holds: 503 is retried, but at most max_attempts times per call.
    assert!(
        proxy.calls(failing, "lambda", "ListFunctions") <= 2,
        "{:#?}",
        proxy.all_calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn throttled_region_is_reported_as_throttled() {
    let region_name = "eu-south-1";
    let proxy = FaultProxy::start(moto::url());
    proxy.fail_region(region_name, Fault::Throttle);
    let lops = Lops::new(&proxy.url);
    let config = lops.config(FAST_TIMEOUTS);
    let run = lops.run(&[
        "status",
        "--json",
        "--config",
        config.to_str().unwrap(),
        "--regions",
        region_name,
    ]);
    // Its only region answered nothing: a failure, not a partial read.
    run.assert_exit(1);
    let doc = run.json();
    let error = region(&doc, region_name)["health"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(error.contains("throttled"), "{error}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn expired_credentials_say_to_refresh_them_and_a_slow_region_still_answers() {
    let (expired, slow) = ("eu-central-2", "ap-southeast-3");
    let proxy = FaultProxy::start(moto::url());
    let prefix = moto::unique("slow");
    let fleet = Seeder::new(moto::url(), slow).await.fleet(&prefix, 1).await;
    proxy.fail_region(expired, Fault::Expired);
    proxy.fail_region(slow, Fault::Delay(Duration::from_millis(300)));
    let lops = Lops::new(&proxy.url);
    let config = lops.config(FAST_TIMEOUTS);
    let run = lops.run(&[
        "status",
        "--json",
        "--config",
        config.to_str().unwrap(),
        "--regions",
        &[expired, slow].join(","),
    ]);
    run.assert_exit(3);
    let doc = run.json();
    let error = region(&doc, expired)["health"]["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("credentials refused")
            && error.contains("xpired")
            && error.contains("refresh those of the profile it ran under")
            && !error.contains("iam-policy"),
        "{error}"
    );
    // 403 is not retried: one request and done.
    assert_eq!(proxy.calls(expired, "lambda", "ListFunctions"), 1);
    let slow_region = region(&doc, slow);
    assert_eq!(slow_region["health"]["status"], "ok");
    assert_function(slow_region, &fleet[0]);
}

/// Regions shared with other tests by unique names: assertions look only at this test's
/// functions, through this test's own proxy.
const SHARED: [&str; 2] = ["ap-east-2", "ap-southeast-6"];

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_cloudwatch_leaves_the_functions_listed_and_names_the_read() {
    let prefix = moto::unique("cwdown");
    let mut fleets = Vec::new();
    for (i, r) in SHARED.iter().enumerate() {
        fleets.push(
            Seeder::new(moto::url(), r)
                .await
                .fleet(&format!("{prefix}r{i}"), 3)
                .await,
        );
    }
    let proxy = FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: SHARED[0].into(),
        service: Some("monitoring".into()),
        operation: None,
        fault: Fault::Status(503),
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&["status", "--json", "--regions", &SHARED.join(",")]);
    run.assert_exit(3);
    let doc = run.json();
    assert_eq!(doc["complete"], false);
    let down = region(&doc, SHARED[0]);
    assert_eq!(down["health"]["status"], "partial", "{down:#}");
    assert_eq!(down["reads"]["inventory"]["status"], "ok");
    assert_eq!(down["reads"]["metrics"]["status"], "failed");
    assert_eq!(down["reads"]["alarms"]["status"], "failed");
    let failures = down["health"]["failures"].to_string();
    assert!(failures.contains("metrics: GetMetricData"), "{failures}");
    for seeded in &fleets[0] {
        let f = function(down, &seeded.name);
        assert_eq!(f["state"], "Active");
        assert_eq!(f["metrics"], Value::Null, "numbers not read are not zeros");
        assert_eq!(f["alarms"], Value::Null, "alarms not read are not 'none'");
        // Each null named, as the inventory's are.
        let unread = f["not_read"].to_string();
        assert!(
            unread.contains("\"metrics\"") && unread.contains("\"alarms\""),
            "{f:#}"
        );
        for alias in f["aliases"].as_array().into_iter().flatten() {
            assert_eq!(alias["observed_15m"], Value::Null, "{alias}");
        }
    }
    assert!(down.get("totals").is_some_and(Value::is_null), "{down:#}");
    assert!(
        down.get("percentiles_supported")
            .is_some_and(Value::is_null),
        "{down:#}"
    );
    assert_eq!(down["other_alarms"], Value::Null);
    // Refused requests are not billed: none counted (the answering region's are).
    assert_eq!(down["metrics_requested"], 0, "{down:#}");
    let up = region(&doc, SHARED[1]);
    assert!(up["metrics_requested"].as_u64() > Some(0), "{up:#}");
    assert_eq!(up["reads"]["metrics"]["status"], "ok");
    for seeded in &fleets[1] {
        assert_function(up, seeded);
    }
    // The table says the same: the rows are there, their numbers are –.
    let table = lops.run(&["status", "--regions", SHARED[0]]);
    table.assert_exit(3);
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains(&fleets[0][0].name))
        .unwrap_or_default();
    assert!(
        row.contains("Active") && row.trim_end().ends_with('?'),
        "the ALARM column is ? (not read), as in the dashboard: {}",
        table.stdout
    );
    // Where the alarms were read, a function with none says `-`, never a blank cell.
    let read = lops.run(&["status", "--regions", SHARED[1]]);
    for seeded in &fleets[1] {
        let row = read
            .stdout
            .lines()
            .find(|l| l.contains(&seeded.name))
            .unwrap_or_default()
            .trim_end()
            .to_string();
        assert!(
            row.ends_with(" -") || row.ends_with(" ok") || row.contains("ALARM"),
            "{row:?} in {}",
            read.stdout
        );
    }
    assert!(
        table.stdout.contains(&format!("{}: PARTIAL", SHARED[0])),
        "{}",
        table.stdout
    );
    // The peak is unknown, the reservation Lambda said is not: `–/50r`.
    let reserved = fleets[0]
        .iter()
        .find(|f| f.reserved.is_some())
        .expect("a reserved function");
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains(&reserved.name))
        .unwrap_or_default();
    assert!(
        row.contains(&format!("–/{}r", reserved.reserved.unwrap_or_default())),
        "{}",
        table.stdout
    );
}

/// GetAccountSettings refused in one region: its functions are all there, the limit is not
/// read and said so with why (exit 3); the region where it answered shows its limit. An
/// endpoint that does not serve it (moto) is no failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_refused_account_settings_read_is_said_not_hidden() {
    let prefix = moto::unique("settings");
    for region_name in [SHARED[0], SHARED[1]] {
        Seeder::new(moto::url(), region_name)
            .await
            .fleet(&prefix, 1)
            .await;
    }
    let proxy = FaultProxy::start(moto::url());
    proxy.reply(
        SHARED[1],
        "GetAccountSettings",
        200,
        r#"{"AccountLimit":{"ConcurrentExecutions":1000,"UnreservedConcurrentExecutions":900},"AccountUsage":{"FunctionCount":1}}"#,
    );
    proxy.add(crate::support::proxy::Rule::lambda(
        SHARED[0],
        "GetAccountSettings",
        Fault::Code(403, "AccessDeniedException"),
        None,
    ));
    let lops = Lops::new(&proxy.url);
    let regions = format!("{},{}", SHARED[0], SHARED[1]);
    let run = lops.run(&["status", "--json", "--regions", &regions]);
    run.assert_exit(3);
    let doc = run.json();
    let denied = region(&doc, SHARED[0]);
    assert_eq!(
        denied["account_concurrency_limit"],
        Value::Null,
        "{denied:#}"
    );
    assert_eq!(
        denied["reads"]["inventory"]["status"], "partial",
        "{denied:#}"
    );
    let said = denied["health"]["failures"].to_string();
    assert!(
        said.contains("account settings: GetAccountSettings access denied"),
        "{said}"
    );
    assert!(
        !denied["functions"].as_array().is_none_or(Vec::is_empty),
        "{denied:#}"
    );
    let answered = region(&doc, SHARED[1]);
    assert_eq!(answered["account_concurrency_limit"], 1000, "{answered:#}");
    assert_eq!(answered["health"]["status"], "ok", "{answered:#}");
    // The table says it on the region's line too.
    let table = lops.run(&["status", "--regions", &regions]);
    table.assert_exit(3);
    assert!(
        table.stderr.contains("GetAccountSettings access denied"),
        "{}{}",
        table.stdout,
        table.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_functions_failed_read_marks_only_that_function() {
    let prefix = moto::unique("denied");
    let fleet = Seeder::new(moto::url(), SHARED[0])
        .await
        .fleet(&prefix, 3)
        .await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: SHARED[0].into(),
        service: Some("lambda".into()),
        operation: Some("GetFunction".into()),
        fault: Fault::Status(403),
        remaining: Some(1),
    });
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&["status", "--json", "--regions", SHARED[0]]);
    run.assert_exit(3);
    let doc = run.json();
    let r = region(&doc, SHARED[0]);
    assert_eq!(r["health"]["status"], "partial", "{r:#}");
    // The inventory read is not said whole: a function's details are missing.
    assert_eq!(r["reads"]["inventory"]["status"], "partial", "{r:#}");
    assert!(
        r["reads"]["inventory"]["error"]
            .to_string()
            .contains("not read whole"),
        "{r:#}"
    );
    // The region line names the function and why.
    let failures = r["health"]["failures"].to_string();
    assert!(
        failures.contains("not read whole (marked): details: GetFunction access denied"),
        "{failures}"
    );
    let functions = r["functions"].as_array().expect("functions");
    let marked: Vec<&Value> = functions
        .iter()
        .filter(|f| f.get("detail_error").is_some())
        .collect();
    assert_eq!(marked.len(), 1, "exactly the denied one: {marked:#?}");
    // What its details would have said is unknown (null, named), not "no tags".
    assert_eq!(marked[0]["tags"], Value::Null, "{:#}", marked[0]);
    assert!(
        marked[0]["not_read"].to_string().contains("details"),
        "{:#}",
        marked[0]
    );
    assert!(
        marked[0]["detail_error"].to_string().contains("403")
            || marked[0]["detail_error"].to_string().contains("denied")
    );
    for seeded in &fleet {
        let f = function(r, &seeded.name);
        assert_eq!(f["state"], "Active");
        if f.get("detail_error").is_none() {
            assert_function(r, seeded);
        }
    }

    // Only its ListAliases fails: what GetFunction answered (tags, reservation) is kept, only
    // the aliases are unread, and the failure names the call.
    proxy.add(crate::support::proxy::Rule {
        region: SHARED[0].into(),
        service: Some("lambda".into()),
        operation: Some("ListAliases".into()),
        fault: Fault::Status(403),
        remaining: Some(1),
    });
    let run = lops.run(&["status", "--json", "--regions", SHARED[0]]);
    run.assert_exit(3);
    let doc = run.json();
    let r = region(&doc, SHARED[0]);
    let marked: Vec<&Value> = r["functions"]
        .as_array()
        .expect("functions")
        .iter()
        .filter(|f| f.get("detail_error").is_some())
        .collect();
    assert_eq!(marked.len(), 1, "{marked:#?}");
    let unread = marked[0]["not_read"].to_string();
    assert!(
        unread.contains("aliases") && !unread.contains("details"),
        "{:#}",
        marked[0]
    );
    assert!(marked[0]["tags"].is_object(), "{:#}", marked[0]);
    assert!(
        marked[0]["detail_error"]
            .to_string()
            .contains("aliases: ListAliases access denied"),
        "{:#}",
        marked[0]
    );
}

/// Alarms answer apart from Lambda: with ListFunctions failing, the firing alarms are still
/// said (table and JSON), as is a firing alarm no listed function carries.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn firing_alarms_are_said_when_the_inventory_fails_or_no_row_carries_them() {
    let place = "ap-south-2";
    let seeder = Seeder::new(moto::url(), place).await;
    let f = moto::unique("alarmed");
    seeder.create_function(&f).await;
    let ghost = moto::unique("ghost-errors");
    seeder
        .put_error_alarm(
            &ghost,
            "no-such-function",
            Some(aws_sdk_cloudwatch::types::StateValue::Alarm),
        )
        .await;
    let lops = Lops::new(moto::url());
    let run = lops.run(&["status", "--regions", place]);
    assert!(
        run.stdout
            .contains(&format!("ALARM {ghost} (function no-such-function)")),
        "{}",
        run.stdout
    );

    // A bare 500 (no error code, no body), as a load balancer in front may answer.
    let proxy = FaultProxy::start(moto::url());
    proxy.reply(place, "ListFunctions", 500, "");
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&["status", "--regions", place]);
    run.assert_exit(3);
    assert!(
        run.stdout
            .contains("HTTP 500 from the server, with no error code")
            && !run.stdout.contains("HTTP 500 from the server: HTTP 500"),
        "{}",
        run.stdout
    );
    assert!(
        run.stdout.contains(&format!("ALARM {ghost}")),
        "{}",
        run.stdout
    );
    let run = lops.run(&["status", "--json", "--regions", place]);
    let doc = run.json();
    let others = region(&doc, place)["other_alarms"].to_string();
    assert!(others.contains(&ghost), "{others}");
}

/// Three regions behind one endpoint (as on an emulator), CloudWatch's GetMetricData hanging in
/// two of them: the healthy one's numbers are whole, with the default configuration — each of
/// its requests waits its turn behind the hung ones 10 s at most (before, each hung request held
/// the endpoint 15 s in turn: six of them kept the healthy region's requests past the 90 s
/// region deadline, and its numbers were thrown away, blamed on its own GetMetricData). Its
/// listing is held back a little so that its requests queue behind the hung ones.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn metrics_hanging_in_two_regions_of_one_endpoint_leave_the_third_whole() {
    let (ok, hung) = ("eu-south-1", ["eu-south-2", "il-central-1"]);
    let prefix = moto::unique("turns");
    let fleet = Seeder::new(moto::url(), ok).await.fleet(&prefix, 3).await;
    for region in hung {
        Seeder::new(moto::url(), region)
            .await
            .fleet(&prefix, 3)
            .await;
    }
    let proxy = FaultProxy::start(moto::url());
    for region in hung {
        proxy.add(crate::support::proxy::Rule {
            region: region.into(),
            service: Some("monitoring".into()),
            operation: Some("GetMetricData".into()),
            fault: Fault::Hang,
            remaining: None,
        });
    }
    proxy.add(crate::support::proxy::Rule::lambda(
        ok,
        "ListFunctions",
        Fault::Delay(Duration::from_secs(3)),
        None,
    ));
    let lops = Lops::new(&proxy.url);
    // One window, as the table reads it: the series, an alias's versions and the percentiles
    // each a request of their own (three per hung region).
    let run = lops.run(&[
        "status",
        "--json",
        "--window",
        "5m",
        "--regions",
        &[ok, hung[0], hung[1]].join(","),
    ]);
    run.assert_exit(3);
    let doc = run.json();
    let healthy = region(&doc, ok);
    assert_eq!(healthy["health"]["status"], "ok", "{healthy:#}");
    // Its requests waited 10 s at most behind the hung ones (about 25 s here, with its
    // listing held 3 s); before, 90 s — at the region deadline's edge.
    let elapsed = healthy["elapsed_ms"].as_u64().unwrap_or(u64::MAX);
    assert!(elapsed < 50_000, "{elapsed} ms");
    for seeded in &fleet {
        let f = function(healthy, &seeded.name);
        assert!(
            f["metrics"]["5m"]["invocations"].is_number(),
            "{}: {f:#}",
            seeded.name
        );
    }
    for r in hung {
        let failed = region(&doc, r);
        assert_eq!(failed["reads"]["metrics"]["status"], "failed", "{failed:#}");
        // Listed all the same (the region may hold other tests' functions too).
        let listed = failed["functions"].as_array().cloned().unwrap_or_default();
        let ours = listed
            .iter()
            .filter(|f| f["name"].as_str().is_some_and(|n| n.starts_with(&prefix)))
            .count();
        assert_eq!(ours, 3, "{failed:#}");
    }
}

/// A hanging DescribeAlarms does not hold the metrics back: they are asked for as soon as the
/// functions are listed, not once the alarms gave up (10 s by default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hanging_alarms_do_not_hold_the_metrics_back() {
    let place = "ap-south-2";
    let seeder = Seeder::new(moto::url(), place).await;
    seeder.create_function(&moto::unique("waiting")).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: place.into(),
        service: Some("monitoring".into()),
        operation: Some("DescribeAlarms".into()),
        fault: Fault::Hang,
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let started = Instant::now();
    let child = lops.spawn(&["status", "--json", "--regions", place]);
    while proxy.calls(place, "monitoring", "GetMetricData") == 0 {
        assert!(
            started.elapsed() < Duration::from_secs(8),
            "the metrics waited for the alarms"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    let (code, stderr) = crate::support::cli::finish(child, 60);
    assert_eq!(code, 3, "{stderr}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_metrics_batch_that_times_out_is_split_and_the_numbers_are_complete() {
    // A region of its own (cn-northwest-1 holds only log groups of another test): the halves
    // hold this test's functions only, so each answers within the short budget even on a busy
    // machine, and the count of requests is exact.
    const SPLIT: &str = "cn-northwest-1";
    let prefix = moto::unique("split");
    let fleet = Seeder::new(moto::url(), SPLIT)
        .await
        .fleet(&prefix, 4)
        .await;
    // The first three GetMetricData requests (the numbers', the split's and the
    // percentiles', sent together) answer after the budget; a small budget keeps the test
    // short (it is about the split, not the default).
    let proxy = first_three_metrics_reads_late(SPLIT, 3);
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\nmetrics_secs = 2\n");
    let run = lops.run(&[
        "status",
        "--json",
        "--regions",
        SPLIT,
        "--config",
        &config.display().to_string(),
    ]);
    // The percentiles' request timed out too: said, and only it (exit 3).
    run.assert_exit(3);
    let doc = run.json();
    let r = region(&doc, SPLIT);
    for seeded in &fleet {
        assert_function(r, seeded);
    }
    only_the_percentiles_failed(r);
    // Three slow requests; then the numbers in two halves and the split (too small to halve)
    // once more; the optional percentiles are not asked again.
    assert_eq!(
        proxy.calls(SPLIT, "monitoring", "GetMetricData"),
        6,
        "{:#?}",
        proxy.all_calls()
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_the_default_configuration_a_batch_over_the_budget_is_split_and_completes() {
    let prefix = moto::unique("dflt");
    let fleet = Seeder::new(moto::url(), SHARED[0])
        .await
        .fleet(&prefix, 3)
        .await;
    // The first three GetMetricData requests (the numbers', the split's and the percentiles',
    // sent together) answer only after the default 60 s budget: the numbers are asked in
    // halves, the split once more, and every number is read; the percentiles (asked once) are
    // said not read.
    let proxy = first_three_metrics_reads_late(SHARED[0], 62);
    let lops = Lops::new(&proxy.url);
    let started = Instant::now();
    let run = lops.run(&["status", "--json", "--regions", SHARED[0]]);
    run.assert_exit(3);
    let doc = run.json();
    let r = region(&doc, SHARED[0]);
    for seeded in &fleet {
        assert_function(r, seeded);
    }
    only_the_percentiles_failed(r);
    // Three slow; the numbers in two halves; the split asked once more, or in two halves when
    // other tests' aliases in this shared region make it more than 8 queries.
    let calls = proxy.calls(SHARED[0], "monitoring", "GetMetricData");
    assert!(
        calls == 6 || calls == 7,
        "{calls}: {:#?}",
        proxy.all_calls()
    );
    // Bounded by the budget (and one split), not by the region deadline.
    assert!(
        started.elapsed() < Duration::from_secs(85),
        "{:?}",
        started.elapsed()
    );
}

/// A region whose only failure is its percentiles' request (timed out): named as such, every
/// number read.
fn only_the_percentiles_failed(r: &Value) {
    let failures = r["health"]["failures"]
        .as_array()
        .cloned()
        .unwrap_or_default();
    assert_eq!(failures.len(), 1, "{failures:?}");
    let said = failures[0].as_str().unwrap_or_default();
    assert!(
        said.starts_with("metrics: duration percentiles not read: GetMetricData timed out"),
        "{said}"
    );
}

/// A proxy whose first three GetMetricData requests in `region` (the numbers', the aliases'
/// split's and the percentiles', sent together) answer only after `secs`.
fn first_three_metrics_reads_late(region: &str, secs: u64) -> FaultProxy {
    let proxy = FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: region.into(),
        service: Some("monitoring".into()),
        operation: Some("GetMetricData".into()),
        fault: Fault::Delay(Duration::from_secs(secs)),
        remaining: Some(3),
    });
    proxy
}

/// One part of the numbers' request hangs (it holds one function): the halves of a split are
/// asked side by side (a shared endpoint's gate makes the other wait its turn at most 10 s),
/// so the half without it is kept before the read's deadline. One after the other, the hanging
/// half went first and the deadline came before the other was sent: the whole region's numbers
/// were lost to one function's part (as with the default 60 s budget in a 90 s read).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hanging_part_of_the_numbers_does_not_cost_the_whole_region() {
    let region_name = "me-south-1";
    let prefix = moto::unique("halves");
    let fleet = Seeder::new(moto::url(), region_name)
        .await
        .fleet(&prefix, 4)
        .await;
    let proxy = FaultProxy::start(moto::url());
    let hung = format!("{prefix}-fn0");
    proxy.fail_when(region_name, "GetMetricData", &hung, Fault::Hang);
    let lops = Lops::new(&proxy.url);
    // The default's proportions, shorter: a budget, then the gate's wait (10 s at most) and
    // the other half's answer fit in the deadline; two budgets and a third do not.
    let config = lops.config("[timeouts]\nmetrics_secs = 8\nregion_secs = 20\n");
    let run = lops.run(&[
        "status",
        "--json",
        "--regions",
        region_name,
        "--config",
        &config.display().to_string(),
    ]);
    run.assert_exit(3);
    let doc = run.json();
    let r = region(&doc, region_name);
    let functions = r["functions"].as_array().expect("functions");
    let read = functions.iter().filter(|f| !f["metrics"].is_null()).count();
    assert!(
        read * 3 >= functions.len() && read < functions.len(),
        "{read} of {} read: {}",
        functions.len(),
        r["reads"]
    );
    assert!(function(r, &hung)["metrics"].is_null(), "{r}");
    assert_eq!(fleet.len(), 4);
}

/// Right after a promote the alias routes all traffic to the new version, yet over 15 minutes
/// most of it still ran the old one: the observed split says so instead of "100 % as set".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_just_promoted_shows_what_its_old_version_still_ran() {
    use aws_sdk_cloudwatch::types::StandardUnit;
    let region_name = "eu-west-3";
    let seeder = Seeder::new(moto::url(), region_name).await;
    let name = format!("{}-api", moto::unique("moved"));
    seeder.create_function(&name).await;
    let v1 = seeder.publish_version(&name, "one").await;
    let v2 = seeder.publish_version(&name, "two").await;
    seeder.create_alias(&name, "live", &v2, None).await;
    let resource = format!("{name}:live");
    for (v, n, minutes) in [(&v1, 40.0, 7..=11), (&v2, 10.0, 3..=7)] {
        let dims = [
            ("FunctionName", name.as_str()),
            ("Resource", resource.as_str()),
            ("ExecutedVersion", v.as_str()),
        ];
        seeder
            .put_metric(&dims, "Invocations", n, StandardUnit::Count, minutes)
            .await;
    }
    let lops = Lops::new(moto::url());
    let run = lops.run(&["status", "--json", "--regions", region_name]);
    run.assert_exit(0);
    let doc = run.json();
    let f = function(region(&doc, region_name), &name);
    let alias = &f["aliases"][0];
    // Configured: all on v2, as set.
    assert_eq!(
        alias["weights"],
        serde_json::json!([{"version": v2, "share": 1.0}])
    );
    // Observed: 50 on v2, 200 on v1 through the alias over 15 minutes.
    let observed = &alias["observed_15m"];
    assert_eq!(observed[0]["version"], v2.as_str(), "{alias}");
    assert_eq!(observed[0]["invocations"], 50.0, "{alias}");
    assert_eq!(observed[0]["share"], 0.2, "{alias}");
    assert_eq!(observed[1]["version"], v1.as_str(), "{alias}");
    assert_eq!(observed[1]["invocations"], 200.0, "{alias}");
    assert_eq!(observed[1]["share"], 0.8, "{alias}");

    // Only the request for the split fails (one window reads it apart, over the minutes the
    // split is judged on): the function's other numbers stand (they were all `–`), the split
    // is unknown (never "no traffic") and said, exit 3.
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    proxy.fail_when(
        region_name,
        "GetMetricData",
        "ExecutedVersion",
        crate::support::proxy::Fault::Status(503),
    );
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&[
        "status",
        "--json",
        "--window",
        "5m",
        "--regions",
        region_name,
    ]);
    run.assert_exit(3);
    let doc = run.json();
    let r = region(&doc, region_name);
    let f = function(r, &name);
    assert!(f["metrics"].is_object(), "{f}");
    assert_eq!(f["aliases"][0]["observed_15m"], Value::Null, "{f}");
    assert_eq!(
        f["not_read"],
        serde_json::json!(["provisioned", "alias_split"]),
        "{f}"
    );
    let said = r["reads"]["metrics"].to_string();
    assert!(said.contains("the alias split of"), "{said}");
    assert!(said.contains("\"partial\""), "{said}");
    assert!(!said.contains("numbers missing"), "{said}");
    let table = lops.run(&["status", "--regions", region_name]);
    table.assert_exit(3);
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains(&name))
        .unwrap_or_default();
    // Its invocations are read (0), not `–`.
    assert_eq!(row.split_whitespace().nth(3), Some("0"), "{}", table.stdout);
    assert!(
        table.stderr.contains("alias split"),
        "{}{}",
        table.stdout,
        table.stderr
    );
    // Over 15 minutes the numbers span the split's minutes: its request is still its own (they
    // rode together, and every number of the function was `–`).
    let table = lops.run(&["status", "--window", "15m", "--regions", region_name]);
    table.assert_exit(3);
    let row = table
        .stdout
        .lines()
        .find(|l| l.contains(&name))
        .unwrap_or_default();
    assert_eq!(row.split_whitespace().nth(3), Some("0"), "{}", table.stdout);
    assert!(table.stderr.contains("alias split"), "{}", table.stderr);
}

/// The request for an alias's split hangs: it is asked once more (too small to halve), and
/// the read ends at its deadline with the numbers that answered, the split said unread. The
/// read ran into the deadline, and the numbers already read went with it. A short deadline
/// keeps the test short: it is about the deadline (two budgets pass it, as 60 s twice pass
/// the default 90 s).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_hung_split_request_ends_at_the_deadline_keeping_the_numbers() {
    use aws_sdk_cloudwatch::types::StandardUnit;
    // A region of its own: the split's request holds this test's function only (too small to
    // halve), and the count of requests is exact.
    let region_name = "eu-central-2";
    let (seeder, name) = crate::support::seed::canary(region_name, "splithung").await;
    seeder
        .put_metric(
            &[("FunctionName", name.as_str())],
            "Invocations",
            10.0,
            StandardUnit::Count,
            1..=4,
        )
        .await;
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    proxy.fail_when(
        region_name,
        "GetMetricData",
        "ExecutedVersion",
        crate::support::proxy::Fault::Hang,
    );
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\nmetrics_secs = 12\nregion_secs = 20\n");
    let started = Instant::now();
    let run = lops.run(&[
        "status",
        "--json",
        "--window",
        "5m",
        "--regions",
        region_name,
        "--config",
        &config.display().to_string(),
    ]);
    run.assert_exit(3);
    assert!(
        started.elapsed() < Duration::from_secs(30),
        "{:?}",
        started.elapsed()
    );
    let doc = run.json();
    let r = region(&doc, region_name);
    let f = function(r, &name);
    assert_eq!(f["metrics"]["5m"]["invocations"], 40.0, "{f}");
    assert!(f["not_read"].to_string().contains("alias_split"), "{f}");
    let said = r["reads"]["metrics"].to_string();
    assert!(said.contains("\"partial\""), "{said}");
    assert!(said.contains("the alias split of 1 of 1 "), "{said}");
    assert!(said.contains("region_secs"), "{said}");
    // The numbers, the split twice (the second cut at the deadline), the p99 once.
    assert_eq!(
        proxy.calls(region_name, "monitoring", "GetMetricData"),
        4,
        "{:#?}",
        proxy.all_calls()
    );
}

/// Only the request for the numbers fails (503): the function is listed with its numbers
/// unknown (`metrics` null, `–`), and the split its own request read is still given, in the
/// document and in the table's alias line, as the percentiles would be. The function was left
/// out whole, its split with its numbers; and the region's totals, a sum over the functions
/// read, said 0 where they are unknown.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_numbers_request_keeps_the_split_that_answered() {
    let region_name = "us-west-1";
    let (seeder, name) = crate::support::seed::canary(region_name, "numbersgone").await;
    // Routed all to v1; v1 ran 30 and v2 10 through the alias.
    seeder.version_ran(&name, "1", 30.0, 0.0).await;
    seeder.version_ran(&name, "2", 10.0, 0.0).await;
    let proxy = FaultProxy::start(moto::url());
    // Throttles are asked with the numbers only (not with the split, nor the percentiles).
    proxy.fail_when(
        region_name,
        "GetMetricData",
        "Throttles",
        Fault::Status(503),
    );
    let lops = Lops::new(&proxy.url);
    for window in [None, Some("15m")] {
        let mut args = vec!["status", "--json", "--regions", region_name];
        args.extend(window.iter().flat_map(|w| ["--window", *w]));
        let run = lops.run(&args);
        run.assert_exit(3);
        let doc = run.json();
        let r = region(&doc, region_name);
        let f = function(r, &name);
        assert_eq!(f["metrics"], Value::Null, "{window:?} {f}");
        let not_read = f["not_read"].to_string();
        assert!(not_read.contains("\"metrics\""), "{not_read}");
        assert!(!not_read.contains("alias_split"), "{not_read}");
        let observed = &f["aliases"][0]["observed_15m"];
        assert_eq!(observed[0]["version"], "1", "{window:?} {f}");
        assert_eq!(observed[0]["invocations"], 30.0, "{f}");
        assert_eq!(observed[0]["share"], 0.75, "{f}");
        assert_eq!(observed[1]["version"], "2", "{f}");
        assert_eq!(observed[1]["invocations"], 10.0, "{f}");
        assert_eq!(r["totals"], Value::Null, "{window:?} {}", r["totals"]);
        let said = r["reads"]["metrics"].to_string();
        assert!(said.contains("\"partial\""), "{said}");
        assert!(
            said.contains("functions' numbers missing (the alias split of"),
            "{said}"
        );
    }
    let table = lops.run(&["status", "--regions", region_name]);
    table.assert_exit(3);
    let out = &table.stdout;
    let row = out.lines().find(|l| l.contains(&name)).unwrap_or_default();
    assert_eq!(row.split_whitespace().nth(3), Some("–"), "{out}");
    let alias = out
        .lines()
        .skip_while(|l| !l.contains(&name))
        .find(|l| l.contains("alias live"))
        .unwrap_or_default();
    assert!(alias.contains("seen 75%"), "{out}");
    // Nothing to keep: the read failed, as before.
    proxy.fail_when(region_name, "GetMetricData", "", Fault::Status(503));
    let run = lops.run(&["status", "--json", "--regions", region_name]);
    run.assert_exit(3);
    let doc = run.json();
    let said = region(&doc, region_name)["reads"]["metrics"].to_string();
    assert!(said.contains("\"failed\""), "{said}");
}

/// Promoted over versions never routed to (1 → 4, past 2 and 3): the old version is not among
/// those asked, yet the alias's own total says what they do not account for — shown as other
/// versions, never hidden.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn what_an_alias_ran_on_versions_not_asked_is_other_versions() {
    use aws_sdk_cloudwatch::types::StandardUnit;
    let region_name = "eu-west-3";
    let seeder = Seeder::new(moto::url(), region_name).await;
    let name = format!("{}-api", moto::unique("skipped"));
    seeder.create_function(&name).await;
    let mut versions = Vec::new();
    for marker in ["one", "two", "three", "four"] {
        versions.push(seeder.publish_version(&name, marker).await);
    }
    seeder.create_alias(&name, "live", &versions[3], None).await;
    let resource = format!("{name}:live");
    let by_version = |v: &str| {
        [
            ("FunctionName", name.clone()),
            ("Resource", resource.clone()),
            ("ExecutedVersion", v.to_string()),
        ]
    };
    for (dims, n, minutes) in [
        (by_version(&versions[0]), 40.0, 7..=11),
        (by_version(&versions[3]), 10.0, 3..=7),
    ] {
        let dims: Vec<(&str, &str)> = dims.iter().map(|(k, v)| (*k, v.as_str())).collect();
        seeder
            .put_metric(&dims, "Invocations", n, StandardUnit::Count, minutes)
            .await;
    }
    // The alias's own total: 200 on v1 and 50 on v4.
    let total = [
        ("FunctionName", name.as_str()),
        ("Resource", resource.as_str()),
    ];
    seeder
        .put_metric(&total, "Invocations", 40.0, StandardUnit::Count, 8..=11)
        .await;
    seeder
        .put_metric(&total, "Invocations", 50.0, StandardUnit::Count, 7..=7)
        .await;
    seeder
        .put_metric(&total, "Invocations", 10.0, StandardUnit::Count, 3..=6)
        .await;
    let lops = Lops::new(moto::url());
    let run = lops.run(&["status", "--json", "--regions", region_name]);
    run.assert_exit(0);
    let doc = run.json();
    let f = function(region(&doc, region_name), &name);
    let observed = &f["aliases"][0]["observed_15m"];
    assert_eq!(observed[0]["version"], versions[3].as_str(), "{observed}");
    assert_eq!(observed[0]["invocations"], 50.0, "{observed}");
    assert_eq!(observed[0]["share"], 0.2, "{observed}");
    assert_eq!(observed[1]["version"], "other", "{observed}");
    assert_eq!(observed[1]["invocations"], 200.0, "{observed}");
    assert_eq!(observed[1]["share"], 0.8, "{observed}");
}

/// In ASCII (a C locale) on a 120-column terminal a name cut to its column ends in `...`, cut that much earlier: the
/// columns after it stay in line with the other rows (they moved two to the right).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_ascii_table_keeps_its_columns_in_line_past_a_cut_name() {
    // Not a region whose every function another test counts (the seeded fleet's).
    let region = "il-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let prefix = moto::unique("cols");
    let long = format!("{prefix}-billing-worker-with-a-rather-long-name");
    let short = format!("{prefix}-img");
    seeder.create_function(&long).await;
    seeder.create_function(&short).await;
    let lops = Lops::new(moto::url());
    let run = lops.run_with_env(
        &["status", "--regions", region],
        // A width where the long name is cut (piped with no width, it is whole).
        &[("LANG", "C"), ("LC_ALL", "C"), ("COLUMNS", "120")],
    );
    let state_at = |name: &str| {
        let row = run
            .stdout
            .lines()
            .find(|l| l.contains(&name[..name.len().min(20)]))
            .unwrap_or_else(|| panic!("no row for {name}: {}", run.stdout));
        assert!(row.is_ascii(), "{row}");
        row.find("Active").unwrap_or_else(|| panic!("{row}"))
    };
    assert!(run.stdout.contains("..."), "{}", run.stdout);
    assert_eq!(state_at(&long), state_at(&short), "{}", run.stdout);
}

/// On an 80-column terminal (`COLUMNS`) the table fits: columns are left out in the
/// dashboard's order, a firing alarm goes on a line under its row; piped, every column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn on_80_columns_the_table_fits_and_a_firing_alarm_is_still_said() {
    let region = "il-central-1";
    let seeder = Seeder::new(moto::url(), region).await;
    // Short enough never to be cut (at 80 columns a long name is cut to 24).
    let f = moto::unique("narrow");
    seeder.create_function(&f).await;
    // Longer than a line: its line under the row is cut, never wider than the terminal.
    let alarm = moto::unique(
        "narrow-errors-of-the-checkout-service-in-production-paging-the-on-call-engineer-now",
    );
    seeder
        .put_error_alarm(
            &alarm,
            &f,
            Some(aws_sdk_cloudwatch::types::StateValue::Alarm),
        )
        .await;
    let lops = Lops::new(moto::url());
    let narrow = lops.run_with_env(&["status", "--regions", region], &[("COLUMNS", "80")]);
    narrow.assert_exit(0);
    let table: Vec<&str> = narrow
        .stdout
        .lines()
        .take_while(|l| !l.is_empty())
        .collect();
    for line in &table {
        assert!(line.chars().count() <= 80, "{line:?}\n{}", narrow.stdout);
    }
    // Left out in the dashboard's order, the rest with the first that does not fit: the
    // alarm, then the state and the average after it.
    assert!(
        table[0].contains("INV")
            && table[0].contains("CONC")
            && !table[0].contains("ALARM")
            && !table[0].contains("STATE")
            && !table[0].contains("AVG"),
        "{}",
        narrow.stdout
    );
    let row = table.iter().position(|l| l.contains(&f)).expect("its row");
    assert!(
        table[row + 1]
            .trim()
            .starts_with("ALARM narrow-errors-of-the-checkout")
            && table[row + 1].ends_with('…'),
        "{}",
        narrow.stdout
    );

    let piped = lops.run(&["status", "--regions", region]);
    let row = piped
        .stdout
        .lines()
        .find(|l| l.contains(&f))
        .expect("its row");
    assert!(
        row.contains("Active") && row.ends_with(&format!("ALARM {alarm}")),
        "{}",
        piped.stdout
    );
}

/// An alarm's name is AWS's text, not lops's: an escape sequence, a C1 code or a
/// bidirectional override in it reaches the terminal as `�` (the dashboard draws it so), in
/// the table and in the lines on stderr alike.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alarm_name_cannot_drive_the_terminal() {
    let region = "af-south-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = moto::unique("hostile");
    seeder.create_function(&f).await;
    // (No ESC: CloudWatch's XML cannot carry it; the C1 CSI is the same command to a terminal.)
    let alarm = format!("{}\u{9b}31m\u{202e}evil\u{200b}", moto::unique("err"));
    seeder
        .put_error_alarm(
            &alarm,
            &f,
            Some(aws_sdk_cloudwatch::types::StateValue::Alarm),
        )
        .await;
    let lops = Lops::new(moto::url());
    let run = lops.run_with_env(&["status", "--regions", region], &[("COLUMNS", "200")]);
    run.assert_exit(0);
    let row = run
        .stdout
        .lines()
        .find(|l| l.contains(&f))
        .expect("its row");
    assert!(row.contains("\u{fffd}31m\u{fffd}evil\u{fffd}"), "{row:?}");
    for (what, text) in [("stdout", &run.stdout), ("stderr", &run.stderr)] {
        assert!(
            !text.contains(['\u{9b}', '\u{202e}', '\u{200b}']),
            "{what}: {text:?}"
        );
    }
    // In JSON it is escaped, not replaced: a reader gets the name CloudWatch holds.
    let json = lops.run(&["status", "--json", "--regions", region]);
    json.assert_exit(0);
    assert!(
        !json.stdout.contains(['\u{9b}', '\u{202e}', '\u{200b}']),
        "{:?}",
        json.stdout
    );
    let doc = json.json();
    let names: Vec<String> = doc["regions"][0]["functions"]
        .as_array()
        .into_iter()
        .flatten()
        .flat_map(|f| f["alarms"].as_array().cloned().unwrap_or_default())
        .filter_map(|a| a["name"].as_str().map(str::to_string))
        .collect();
    assert!(names.contains(&alarm), "{names:?}");
}

/// The percentile request throttled (an outage, not an endpoint that does not serve them):
/// the p99 is unknown and the read names it, exit 3. It was taken for an endpoint without
/// percentiles: `ok`, exit 0, the p99 silently `–`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_throttled_percentile_request_is_named_not_taken_for_no_percentiles() {
    let region_name = "us-gov-west-1";
    let prefix = moto::unique("pctgone");
    let fleet = Seeder::new(moto::url(), region_name)
        .await
        .fleet(&prefix, 1)
        .await;
    let proxy = FaultProxy::start(moto::url());
    proxy.fail_when(region_name, "GetMetricData", "p99", Fault::Throttle);
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&["status", "--json", "--regions", region_name]);
    run.assert_exit(3);
    let doc = run.json();
    let r = region(&doc, region_name);
    let said = r["reads"]["metrics"].to_string();
    assert!(said.contains("\"partial\""), "{said}");
    assert!(
        said.contains("duration percentiles not read: GetMetricData throttled"),
        "{said}"
    );
    // The other numbers stand.
    assert_function(r, &fleet[0]);
    let f = function(r, &fleet[0].name);
    assert_eq!(f["metrics"]["5m"]["duration_p99_ms"], Value::Null, "{f}");
}

/// Every request for the numbers answers after the budget, second tries too: the read ends at
/// its deadline, and names the setting that helps a slow endpoint (the budget: the request
/// timed out), not only the deadline, which bounds the read. A short budget and deadline keep the
/// test short: it is about what is said.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn numbers_that_time_out_until_the_deadline_name_the_budget() {
    let region_name = "us-gov-west-1";
    let prefix = moto::unique("slowall");
    Seeder::new(moto::url(), region_name)
        .await
        .fleet(&prefix, 1)
        .await;
    let proxy = FaultProxy::start(moto::url());
    proxy.fail_when(
        region_name,
        "GetMetricData",
        "Errors",
        Fault::Delay(Duration::from_secs(5)),
    );
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\nmetrics_secs = 3\nregion_secs = 5\n");
    let run = lops.run(&[
        "status",
        "--json",
        "--regions",
        region_name,
        "--config",
        &config.display().to_string(),
    ]);
    run.assert_exit(3);
    let doc = run.json();
    let said = region(&doc, region_name)["health"]["failures"].to_string();
    // Timed out at 3 s, its second try cut at the deadline (4.5 s): both said, the budget as
    // what helps a slow endpoint (the deadline alone was named).
    assert!(
        said.contains("timed out after 3 s")
            && said.contains("raise [timeouts] metrics_secs if the endpoint is slow"),
        "{said}"
    );
}
