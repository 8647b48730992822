//! `lops service` against moto's Route 53: a weighted service read across three regions,
//! drained and restored (weights read back through the SDK), audited and undone, the guard
//! that keeps a healthy region, a concurrent edit refused, tiers, one change batch per change,
//! bad input.

use aws_sdk_route53::types::{
    Change, ChangeAction, ChangeBatch, HealthCheckConfig, HealthCheckType, ResourceRecord,
    ResourceRecordSet, RrType,
};

use crate::support::cli::Lops;
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy, Rule};
use crate::support::seed::sdk_config;

const REGIONS: [(&str, &str, i64); 3] = [
    ("blue", "us-east-1", 100),
    ("green", "eu-west-1", 100),
    ("red", "ap-southeast-2", 50),
];

/// One change of a weighted CNAME member of `record`.
fn member(
    action: ChangeAction,
    record: &str,
    id: &str,
    weight: i64,
    value: &str,
    check: Option<&str>,
) -> Change {
    Change::builder()
        .action(action)
        .resource_record_set(
            ResourceRecordSet::builder()
                .name(record)
                .r#type(RrType::Cname)
                .set_identifier(id)
                .weight(weight)
                .ttl(60)
                .set_health_check_id(check.map(str::to_string))
                .resource_records(
                    ResourceRecord::builder()
                        .value(value)
                        .build()
                        .expect("value"),
                )
                .build()
                .expect("record"),
        )
        .build()
        .expect("change")
}

struct Service {
    zone: String,
    record: String,
    client: aws_sdk_route53::Client,
    checks: Vec<String>,
}

impl Service {
    /// A hosted zone with a weighted CNAME per region, each with a health check; its
    /// targets name their regions (API Gateway endpoints).
    async fn seed(label: &str) -> Service {
        let client = aws_sdk_route53::Client::new(&sdk_config(moto::url(), "us-east-1").await);
        let domain = format!("{}.example.com", moto::unique(label));
        let zone = client
            .create_hosted_zone()
            .name(&domain)
            .caller_reference(moto::unique("ref"))
            .send()
            .await
            .expect("zone")
            .hosted_zone()
            .expect("zone")
            .id()
            .trim_start_matches("/hostedzone/")
            .to_string();
        let record = format!("api.{domain}");
        let mut checks = Vec::new();
        let mut changes = Vec::new();
        for (id, region, weight) in REGIONS {
            let check = client
                .create_health_check()
                .caller_reference(moto::unique("hc"))
                .health_check_config(
                    HealthCheckConfig::builder()
                        .r#type(HealthCheckType::Https)
                        .fully_qualified_domain_name(format!("api.{region}.example.com"))
                        .build()
                        .expect("check"),
                )
                .send()
                .await
                .expect("health check")
                .health_check()
                .expect("check")
                .id()
                .to_string();
            changes.push(member(
                ChangeAction::Create,
                &record,
                id,
                weight,
                &format!("abc.execute-api.{region}.amazonaws.com"),
                Some(&check),
            ));
            checks.push(check);
        }
        client
            .change_resource_record_sets()
            .hosted_zone_id(&zone)
            .change_batch(
                ChangeBatch::builder()
                    .set_changes(Some(changes))
                    .build()
                    .expect("batch"),
            )
            .send()
            .await
            .expect("records");
        Service {
            zone,
            record,
            client,
            checks,
        }
    }

    /// Applies one change to the zone, apart from lops (someone else's edit).
    async fn apply(&self, change: Change) {
        self.client
            .change_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .change_batch(
                ChangeBatch::builder()
                    .changes(change)
                    .build()
                    .expect("batch"),
            )
            .send()
            .await
            .expect("change");
    }

    /// The weight of each set identifier, as Route 53 has it (read apart from lops).
    async fn weights(&self) -> Vec<(String, i64)> {
        let out = self
            .client
            .list_resource_record_sets()
            .hosted_zone_id(&self.zone)
            .send()
            .await
            .expect("list");
        let mut w: Vec<(String, i64)> = out
            .resource_record_sets()
            .iter()
            .filter(|r| r.name().trim_end_matches('.') == self.record)
            .filter_map(|r| Some((r.set_identifier()?.to_string(), r.weight()?)))
            .collect();
        w.sort();
        w
    }

    fn config(&self, lops: &Lops, extra: &str) -> String {
        lops.config(&format!(
            "regions = [\"us-east-1\"]\n{extra}\n[[service]]\nname = \"checkout\"\nzone = \"{}\"\nrecord = \"{}\"\ntype = \"CNAME\"\n",
            self.zone, self.record
        ))
        .display()
        .to_string()
    }
}

impl Service {
    /// This service as a `[[service]]` entry named checkout, read with `profile` (else the
    /// session's first).
    fn settings(&self, profile: Option<&str>) -> lops::config::ServiceSettings {
        lops::config::ServiceSettings {
            name: "checkout".into(),
            zone: self.zone.clone(),
            record: self.record.clone(),
            kind: "CNAME".into(),
            profile: profile.map(str::to_string),
            regions: Default::default(),
            functions: Default::default(),
        }
    }
}

/// A us-east-1 scope of `profile` with `tier`, reaching moto through `endpoint`.
async fn scope_source(
    endpoint: &str,
    profile: &str,
    tier: lops::ops::Tier,
) -> std::sync::Arc<lops::provider::aws::AwsRegion> {
    use lops::provider::aws::{AwsRegion, CallCounter, Clients};
    let config = sdk_config(endpoint, "us-east-1").await;
    std::sync::Arc::new(AwsRegion::new(Clients::from_sdk_config(
        lops::provider::Scope::new(profile, "us-east-1", lops::config::Access::new(tier, false)),
        &config,
        &lops::config::Settings::default(),
        &CallCounter::default(),
    )))
}

/// `lops service ARGS --config CONFIG` (ARGS split at spaces).
fn service(lops: &Lops, config: &str, args: &str) -> crate::support::cli::Run {
    let mut all = vec!["service"];
    all.extend(args.split_whitespace());
    all.extend(["--config", config]);
    lops.run(&all)
}

fn weight(list: &[(String, i64)], id: &str) -> i64 {
    list.iter()
        .find(|(i, _)| i == id)
        .map(|(_, w)| *w)
        .unwrap_or(-1)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_maps_each_record_to_its_region_with_weight_share_and_health() {
    let svc = Service::seed("show").await;
    let lops = Lops::new(moto::url());
    // The functions serving it per region, and the invocations each took (per minute).
    let fname = moto::unique("svcfn");
    for (region, per_minute) in [("us-east-1", 30.0), ("eu-west-1", 10.0)] {
        crate::support::seed::Seeder::new(moto::url(), region)
            .await
            .put_metric(
                &[("FunctionName", &fname)],
                "Invocations",
                per_minute,
                aws_sdk_cloudwatch::types::StandardUnit::Count,
                2..=6,
            )
            .await;
    }
    // In ap-southeast-2 it exists and took nothing (a function that took nothing is asked
    // whether it exists: one that does not is no load of 0).
    crate::support::seed::Seeder::new(moto::url(), "ap-southeast-2")
        .await
        .create_function(&fname)
        .await;
    // The service, with the function named for ap-southeast-2 (the others are `fname`).
    let config_with = |in_sydney: &str| {
        lops.config(&format!(
            "regions = [\"us-east-1\"]\n[[service]]\nname = \"checkout\"\nzone = \"{}\"\nrecord = \"{}\"\ntype = \"CNAME\"\nfunctions = {{ \"us-east-1\" = [\"{fname}\"], \"eu-west-1\" = [\"{fname}\"], \"ap-southeast-2\" = [\"{in_sydney}\"] }}\n",
            svc.zone, svc.record
        ))
        .display()
        .to_string()
    };
    let config = config_with(&fname);
    let run = service(
        &lops,
        &config,
        "show checkout --regions us-east-1,eu-west-1,ap-southeast-2 --json",
    );
    run.assert_exit(0);
    let doc = run.json();
    let members = doc["members"].as_array().expect("members");
    assert_eq!(members.len(), 3, "{doc}");
    for (id, region, w) in REGIONS {
        let m = members
            .iter()
            .find(|m| m["set_id"] == id)
            .unwrap_or_else(|| panic!("{id}: {doc}"));
        assert_eq!(m["region"], region);
        assert_eq!(m["weight"], w);
        assert_eq!(m["health"]["status"], "healthy", "{m}");
    }
    let share = |id: &str| {
        members.iter().find(|m| m["set_id"] == id).expect("m")["share"]
            .as_f64()
            .unwrap_or(-1.0)
    };
    assert!((share("blue") - 0.4).abs() < 1e-9 && (share("red") - 0.2).abs() < 1e-9);
    // Configured 40 / 40 / 20 against what the regions really took: 75 / 25 / 0.
    let observed = |id: &str| {
        members.iter().find(|m| m["set_id"] == id).expect("m")["observed_share"]
            .as_f64()
            .unwrap_or(-1.0)
    };
    assert_eq!(
        (observed("blue"), observed("green"), observed("red")),
        (0.75, 0.25, 0.0),
        "{doc}"
    );
    assert_eq!(doc["complete"], true);
    assert_eq!(doc["ttl"], 60);
    // On an 80-column terminal every line fits (the targets under their members); wide, one
    // line each.
    let show = |columns: &str| {
        let run = lops.run_with_env(
            &[
                "service",
                "show",
                "checkout",
                "--regions",
                "us-east-1,eu-west-1,ap-southeast-2",
                "--config",
                &config,
            ],
            &[("COLUMNS", columns)],
        );
        run.assert_exit(0);
        run.stdout
    };
    let narrow = show("80");
    let wide_line = narrow.lines().find(|l| l.chars().count() > 80);
    assert!(wide_line.is_none(), "{wide_line:?}\n{narrow}");
    assert!(narrow.contains("    target "), "{narrow}");
    let wide = show("200");
    assert!(
        !wide.contains("    target ") && wide.contains(" TARGET"),
        "{wide}"
    );
    // A name in `functions` that is no function there: that region's load is unknown, said
    // with the name, exit 3 — not a region under its share.
    let typo = config_with(&format!("{fname}-typo"));
    let run = service(
        &lops,
        &typo,
        "show checkout --regions us-east-1,eu-west-1,ap-southeast-2 --json",
    );
    run.assert_exit(3);
    let doc = run.json();
    let red = doc["members"]
        .as_array()
        .expect("members")
        .iter()
        .find(|m| m["set_id"] == "red")
        .cloned()
        .expect("red");
    assert_eq!(red["invocations_15m"], serde_json::Value::Null, "{red}");
    assert!(
        red.to_string().contains(&format!("function {fname}-typo")),
        "{red}"
    );
    let config = config_with(&fname);
    // The text face says the same.
    let run = lops.run(&[
        "service",
        "show",
        "checkout",
        "--config",
        &config,
        "--regions",
        "us-east-1,eu-west-1,ap-southeast-2",
    ]);
    run.assert_exit(0);
    assert!(
        run.stdout.contains("eu-west-1")
            && run.stdout.contains("40%")
            && run.stdout.contains("75%"),
        "{}",
        run.stdout
    );
    // Drift in words, as the JSON and the dashboard say it: blue took 75% of 40%, green 25%
    // of 40%, red 0% of 20%.
    let line = |id: &str| {
        run.stdout
            .lines()
            .find(|l| l.split_whitespace().nth(1) == Some(id))
            .unwrap_or_default()
            .to_string()
    };
    assert!(line("blue").contains(" over "), "{}", run.stdout);
    assert!(line("red").contains(" under "), "{}", run.stdout);
    assert!(line("green").contains(" under "), "{}", run.stdout);
    // With two regions' load unread (the config reads us-east-1 only), no region gets a share
    // of a part of the load, nor a drift: said, exit 3.
    let run = lops.run(&["service", "show", "checkout", "--config", &config]);
    run.assert_exit(3);
    assert!(
        run.stdout
            .contains("OBSERVED needs every region's load: ap-southeast-2, eu-west-1 not read")
            && !run.stdout.contains("75%"),
        "{}",
        run.stdout
    );
    let run = service(&lops, &config, "show checkout --json");
    run.assert_exit(3);
    let doc = run.json();
    assert_eq!(doc["complete"], false);
    for m in doc["members"].as_array().expect("members") {
        assert_eq!(m["observed_share"], serde_json::Value::Null, "{m}");
        assert_eq!(m["drift"], serde_json::Value::Null, "{m}");
    }
    // A member whose target names no region (and the config maps none) takes load no read
    // sees: every region read, still no share, and what to map is said.
    svc.apply(member(
        ChangeAction::Create,
        &svc.record,
        "onprem",
        100,
        "dc1.example.org",
        None,
    ))
    .await;
    let all = "show checkout --regions us-east-1,eu-west-1,ap-southeast-2";
    let run = service(&lops, &config, all);
    run.assert_exit(3);
    assert!(
        run.stdout.contains("onprem map(s) to none") && !run.stdout.contains("75%"),
        "{}",
        run.stdout
    );
    let run = service(&lops, &config, &format!("{all} --json"));
    run.assert_exit(3);
    for m in run.json()["members"].as_array().expect("members") {
        assert_eq!(m["observed_share"], serde_json::Value::Null, "{m}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn drain_and_restore_round_trip_in_one_batch_each_audited_and_undone() {
    let svc = Service::seed("drain").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let config = svc.config(&lops, "");
    let batches = || proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets");
    // Preview only: nothing changes.
    let run = service(
        &lops,
        &config,
        "drain checkout --region us-east-1 --dry-run",
    );
    run.assert_exit(0);
    assert!(
        run.stderr.contains("us-east-1 100 → 0 (40% → 0%)"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("eu-west-1 100 (40% → 67%)"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("TTL"), "{}", run.stderr);
    assert_eq!(batches(), 0);
    assert_eq!(weight(&svc.weights().await, "blue"), 100);

    let run = service(
        &lops,
        &config,
        "drain checkout --region us-east-1 --yes --json",
    );
    run.assert_exit(0);
    let after = svc.weights().await;
    assert_eq!(
        (
            weight(&after, "blue"),
            weight(&after, "green"),
            weight(&after, "red")
        ),
        (0, 100, 50)
    );
    assert_eq!(batches(), 1, "one atomic batch per change");
    let doc = run.json();
    assert_eq!(doc["results"][0]["after"]["insync"], true, "{doc}");

    // Restore puts back the weight the drain found.
    let run = service(&lops, &config, "restore checkout --region us-east-1 --yes");
    run.assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "blue"), 100);
    assert_eq!(batches(), 2);

    // Drain again, then undo it: the audit log has both, undo reverts the last.
    service(&lops, &config, "drain checkout --region us-east-1 --yes").assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "blue"), 0);
    let audit = lops.run(&["audit", "--json"]);
    let actions: Vec<String> = audit
        .json()
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        actions,
        ["service.drain", "service.restore", "service.drain"]
    );
    let run = lops.run(&["undo", "--config", &config, "--yes"]);
    run.assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "blue"), 100, "{}", run.stderr);
    assert_eq!(batches(), 4);

    // A drain of another region than the home its Route 53 call goes through names the service
    // and that region, never the home: in its result and in the audit.
    let run = service(&lops, &config, "drain checkout --region eu-west-1 --yes");
    run.assert_exit(0);
    assert!(
        run.stdout
            .contains("service drain checkout (Route 53, profile default): done")
            && !run.stdout.contains("in us-east-1"),
        "{}",
        run.stdout
    );
    let audit = lops.run(&["audit"]);
    let mut lines = audit.stdout.lines().rev();
    let (change, last) = (
        lines.next().unwrap_or_default(),
        lines.next().unwrap_or_default(),
    );
    assert!(
        last.contains("default/route53") && last.contains("checkout (eu-west-1)"),
        "{}",
        audit.stdout
    );
    // Below it, what it moved in words.
    assert!(
        change.starts_with("    ") && change.contains("eu-west-1 100 → 0 ("),
        "{}",
        audit.stdout
    );
    // Recorded in the region it drained: `audit --regions` finds it there; its undo says
    // Route 53 too.
    let audit = lops.run(&["audit", "--regions", "eu-west-1", "--json"]);
    assert!(audit.stdout.contains("service.drain"), "{}", audit.stdout);
    let run = lops.run(&["undo", "--config", &config, "--yes"]);
    run.assert_exit(0);
    assert!(
        run.stdout.contains("(Route 53, profile default)"),
        "{}",
        run.stdout
    );
    service(&lops, &config, "drain checkout --region eu-west-1 --yes").assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "green"), 0);
    // `--regions` other than the one drained reaches it too (Route 53 is global; the
    // dashboard's `u` decides alike).
    let run = lops.run(&[
        "undo",
        "--config",
        &config,
        "--regions",
        "us-east-1",
        "--yes",
    ]);
    run.assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "green"), 100, "{}", run.stderr);
    service(&lops, &config, "drain checkout --region eu-west-1 --yes").assert_exit(0);
    // Set to take traffic again since the drain: a restore would take traffic from it, and
    // is refused as nothing to restore.
    service(&lops, &config, "weights checkout eu-west-1=70 --yes").assert_exit(0);
    // A weights change goes through the home region, and is found under the region it moved
    // too.
    let audit = lops
        .run(&["audit", "--regions", "eu-west-1", "--json"])
        .json();
    assert!(
        audit.as_array().is_some_and(|a| a
            .iter()
            .any(|r| r["action"] == "service.weights" && r["region"] != "eu-west-1")),
        "{audit}"
    );
    // Refused (4), the weight set since kept, as any refusal that keeps someone's change.
    let run = service(&lops, &config, "restore checkout --region eu-west-1 --yes");
    run.assert_exit(4);
    assert!(run.stderr.contains("is not drained"), "{}", run.stderr);
    assert_eq!(weight(&svc.weights().await, "green"), 70);
}

/// A service change's undo is a change of that service now: made read-only since (its
/// `[[service]]` profile), the undo is refused through the profile the drain went through,
/// nothing changed, naming the profile that changes it. And a service without a profile of its
/// own is changed through the strictest profile given, whatever the order: `--profile
/// default,ro` and `ro,default` both refuse a drain (it was the first's to decide).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_service_change_is_undone_and_made_under_the_profile_that_changes_it_now() {
    let svc = Service::seed("undoprof").await;
    let lops = Lops::new(moto::url());
    lops.aws_files(
        "[profile ro]\nregion = us-east-1\n[profile prod]\nregion = us-east-1\n",
        None,
    );
    let config = svc.config(
        &lops,
        "[profile.ro]\nmode = \"read\"\n[profile.prod]\nproduction = true\n",
    );
    // A production profile beside the read-only one does not lift its refusal.
    for profiles in ["default,ro", "ro,default", "prod,ro", "ro,prod"] {
        let run = lops.run(&[
            "--profile",
            profiles,
            "service",
            "drain",
            "checkout",
            "--region",
            "us-east-1",
            "--config",
            &config,
            "--yes",
        ]);
        run.assert_exit(4);
        assert!(
            run.stderr.contains("profile ro"),
            "{profiles}: {}",
            run.stderr
        );
    }
    assert_eq!(weight(&svc.weights().await, "blue"), 100);
    service(&lops, &config, "drain checkout --region us-east-1 --yes").assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "blue"), 0);
    // The service is read-only from now on.
    let text = std::fs::read_to_string(&config).expect("config");
    std::fs::write(&config, format!("{text}profile = \"ro\"\n")).expect("config");
    let run = lops.run(&["undo", "--config", &config, "--yes"]);
    run.assert_exit(4);
    assert!(
        run.stderr.contains(
            "service checkout is changed through profile ro now (its [[service]] profile)"
        ),
        "{}",
        run.stderr
    );
    assert_eq!(weight(&svc.weights().await, "blue"), 0, "nothing changed");
    // Renamed in the config, the record set is the same, guarded by the profile its entry
    // names now (the undo went through the old profile under a new name).
    let text = std::fs::read_to_string(&config).expect("config");
    assert!(text.contains("name = \"checkout\""), "{text}");
    let renamed = text.replace("name = \"checkout\"", "name = \"renamed\"");
    std::fs::write(&config, renamed).expect("config");
    let run = lops.run(&["undo", "--config", &config, "--yes"]);
    run.assert_exit(4);
    assert!(
        run.stderr
            .contains("service renamed is changed through profile ro now"),
        "{}",
        run.stderr
    );
    assert_eq!(weight(&svc.weights().await, "blue"), 0, "nothing changed");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_last_healthy_region_is_not_drained_without_force() {
    let svc = Service::seed("guard").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let config = svc.config(&lops, "");
    // eu-west-1 and ap-southeast-2 weigh 0: us-east-1 is the only region serving.
    service(
        &lops,
        &config,
        "weights checkout eu-west-1=0,ap-southeast-2=0 --yes",
    )
    .assert_exit(0);
    let run = service(&lops, &config, "drain checkout --region us-east-1 --yes");
    run.assert_exit(4);
    assert!(
        run.stderr.contains("no healthy region taking traffic"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("--force"), "{}", run.stderr);
    assert_eq!(weight(&svc.weights().await, "blue"), 100);
    // A region whose health check cannot be read does not count as healthy either.
    service(&lops, &config, "weights checkout eu-west-1=100 --yes").assert_exit(0);
    proxy.add(Rule {
        region: "us-east-1".into(),
        service: Some("route53".into()),
        operation: Some("GetHealthCheckStatus".into()),
        fault: Fault::Status(503),
        remaining: None,
    });
    let run = service(&lops, &config, "drain checkout --region us-east-1 --yes");
    run.assert_exit(4);
    assert!(run.stderr.contains("eu-west-1 unread"), "{}", run.stderr);
    // `show` says which checks it could not read, apart from those none is attached to
    // (both said "unknown"): partial, exit 3.
    let shown = service(&lops, &config, "show checkout --json");
    shown.assert_exit(3);
    let statuses: Vec<String> = shown.json()["members"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|m| {
            m["health"]["status"]
                .as_str()
                .unwrap_or_default()
                .to_string()
        })
        .collect();
    assert!(statuses.iter().all(|s| s == "unread"), "{statuses:?}");
    // Why, on stderr with --json too (as the README says; only the table said it).
    assert!(
        shown.stderr.contains("health check ") && shown.stderr.contains(" not read: "),
        "{}",
        shown.stderr
    );
    let table = service(&lops, &config, "show checkout");
    table.assert_exit(3);
    assert!(
        table.stderr.contains("health check ") && table.stderr.contains(" not read: "),
        "{}",
        table.stderr
    );
    // Its record set not read: the service, Route 53 and what to do are named (a bare "HTTP
    // 503 from the server, with no error code" named none of them). Every try of the one read
    // (3 by default) fails.
    proxy.add(Rule {
        region: "us-east-1".into(),
        service: Some("route53".into()),
        operation: Some("ListResourceRecordSets".into()),
        fault: Fault::Status(503),
        remaining: Some(3),
    });
    let unread = service(&lops, &config, "show checkout --json");
    assert_ne!(unread.code, 0);
    let error = unread.json()["error"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    assert!(
        error.contains("service checkout: its Route 53 record set not read: HTTP 503")
            && error.contains("try again"),
        "{error}"
    );
    // --force goes past it, asking for the typed name: --yes is that answer in a script.
    let run = service(
        &lops,
        &config,
        "drain checkout --region us-east-1 --yes --force",
    );
    run.assert_exit(0);
    // Said in its preview, before the typed name is asked (only said after the write).
    assert!(
        run.stderr.contains(
            "(forced past the guard: after this no healthy region of service checkout takes \
             traffic (eu-west-1 unread"
        ),
        "{}",
        run.stderr
    );
    // eu-west-1 takes traffic, its health unread: not claimed to be an outage.
    assert!(!run.stdout.contains("NO REGION"), "{}", run.stdout);
    assert_eq!(weight(&svc.weights().await, "blue"), 0);
    // The audit says it went past the guard; the changes before it did not.
    let audit = lops.run(&["audit", "--json"]).json();
    let drains: Vec<bool> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "service.drain" || r["action"] == "service.weights")
        .map(|r| r["destructive"] == true)
        .collect();
    assert_eq!(drains, [false, false, true], "{audit:#}");
    // Forced past the guard, it was confirmed by the typed name (--yes standing for it).
    let typed: Vec<bool> = audit
        .as_array()
        .unwrap()
        .iter()
        .filter(|r| r["action"] == "service.drain" || r["action"] == "service.weights")
        .map(|r| r["typed"] == true)
        .collect();
    assert_eq!(typed, [false, false, true], "{audit:#}");
    // Giving the traffic back is never stopped by the guard, health unknown or not.
    service(&lops, &config, "restore checkout --region us-east-1 --yes").assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "blue"), 100);
    // Where the checkers cannot be read, Route 53's HealthCheckStatus metric (us-east-1)
    // decides: eu-west-1's says 1, so draining us-east-1 is allowed.
    let cloudwatch = aws_sdk_cloudwatch::Client::new(&sdk_config(moto::url(), "us-east-1").await);
    cloudwatch
        .put_metric_data()
        .namespace("AWS/Route53")
        .metric_data(
            aws_sdk_cloudwatch::types::MetricDatum::builder()
                .metric_name("HealthCheckStatus")
                .dimensions(
                    aws_sdk_cloudwatch::types::Dimension::builder()
                        .name("HealthCheckId")
                        .value(&svc.checks[1])
                        .build(),
                )
                .timestamp(aws_sdk_cloudwatch::primitives::DateTime::from_secs(
                    chrono::Utc::now().timestamp() - 90,
                ))
                .value(1.0)
                .build(),
        )
        .send()
        .await
        .expect("metric");
    let run = service(&lops, &config, "drain checkout --region us-east-1 --yes");
    run.assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "blue"), 0, "{}", run.stderr);
    assert_eq!(svc.checks.len(), 3);
}

/// Drains `region` while the read right before the write (the `nth` ListResourceRecordSets
/// of this proxy) is held 3 s, and applies `edit` in between, after the preview was made and
/// confirmed; lops's exit code and stderr.
async fn drain_with_an_edit_between(
    svc: &Service,
    proxy: &FaultProxy,
    lops: &Lops,
    config: &str,
    region: &str,
    nth: u64,
    edit: Change,
) -> (i32, String) {
    // A drain goes through the region it drains: its Route 53 calls are that scope's. Its
    // read right before the write is held until the edit has landed (one gate per edit).
    let gate: &'static str = Box::leak(format!("edit-{region}-{nth}").into_boxed_str());
    proxy.add_after(
        1,
        Rule {
            region: region.into(),
            service: Some("route53".into()),
            operation: Some("ListResourceRecordSets".into()),
            fault: Fault::HoldUntil(gate),
            remaining: Some(1),
        },
    );
    let child = lops.spawn(&[
        "service", "drain", "checkout", "--region", region, "--config", config, "--yes",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while proxy.calls(region, "route53", "ListResourceRecordSets") < nth {
        assert!(
            std::time::Instant::now() < deadline,
            "no read before the write"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    svc.apply(edit).await;
    proxy.release(gate);
    crate::support::cli::finish(child, 30)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_edit_between_preview_and_write_is_refused_and_nothing_changes() {
    let svc = Service::seed("race").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let config = svc.config(&lops, "");
    // The member being written is edited.
    let (code, stderr) = drain_with_an_edit_between(
        &svc,
        &proxy,
        &lops,
        &config,
        "us-east-1",
        2,
        member(
            ChangeAction::Upsert,
            &svc.record,
            "blue",
            70,
            "abc.execute-api.us-east-1.amazonaws.com",
            Some(&svc.checks[0]),
        ),
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("changed since the preview"), "{stderr}");
    // A member the change does not write is edited: refused the same way (the preview's shares
    // and guard held only for the record set it saw).
    let (code, stderr) = drain_with_an_edit_between(
        &svc,
        &proxy,
        &lops,
        &config,
        "eu-west-1",
        2,
        member(
            ChangeAction::Upsert,
            &svc.record,
            "red",
            0,
            "abc.execute-api.ap-southeast-2.amazonaws.com",
            Some(&svc.checks[2]),
        ),
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    assert_eq!(weight(&svc.weights().await, "green"), 100);
    assert!(stderr.contains("changed since the preview"), "{stderr}");
    assert_eq!(weight(&svc.weights().await, "blue"), 70);
    // The log names the region it was to drain, not the one someone else changed.
    let audit = lops.run(&["audit"]);
    let last = audit
        .stdout
        .lines()
        .rfind(|l| l.contains("service.drain"))
        .unwrap_or_default();
    assert!(
        last.contains("checkout (eu-west-1)") && last.contains("not sent (changed)"),
        "{}",
        audit.stdout
    );
    // A member not written points elsewhere now, its weight the same: the shares the preview
    // showed no longer mean what they said, so refused too — naming what changed (the weights
    // alone look as the preview showed them).
    let (code, stderr) = drain_with_an_edit_between(
        &svc,
        &proxy,
        &lops,
        &config,
        "eu-west-1",
        4,
        member(
            ChangeAction::Upsert,
            &svc.record,
            "red",
            0,
            "abc.execute-api.us-east-1.amazonaws.com",
            Some(&svc.checks[2]),
        ),
    )
    .await;
    assert_eq!(code, 4, "{stderr}");
    assert!(
        stderr.contains(
            "changed since the preview (red target abc.execute-api.ap-southeast-2.amazonaws.com \
             → abc.execute-api.us-east-1.amazonaws.com; now"
        ),
        "{stderr}"
    );
    assert_eq!(weight(&svc.weights().await, "green"), 100);
    assert_eq!(
        proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets"),
        0
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn read_and_invoke_tiers_refuse_and_bad_input_is_explained() {
    let svc = Service::seed("tiers").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let config = svc.config(&lops, "");
    for mode in ["read", "invoke"] {
        let run = lops.run(&[
            "service",
            "drain",
            "checkout",
            "--region",
            "us-east-1",
            "--config",
            &config,
            "--mode",
            mode,
            "--yes",
        ]);
        run.assert_exit(4);
        assert!(
            run.stderr.contains("--mode change"),
            "{mode}: {}",
            run.stderr
        );
        // Named as the dashboard's services view names it.
        assert!(
            run.stderr
                .contains("service drain of checkout (Route 53, profile default)"),
            "{mode}: {}",
            run.stderr
        );
    }
    // A profile's mode in the config refuses the same way.
    let read_only = svc.config(&lops, "mode = \"read\"");
    lops.run(&[
        "service",
        "weights",
        "checkout",
        "eu-west-1=1",
        "--config",
        &read_only,
        "--yes",
    ])
    .assert_exit(4);
    let config = svc.config(&lops, "");
    for (args, says) in [
        (vec!["service", "show", "nope"], "unknown service 'nope'"),
        (
            vec![
                "service",
                "restore",
                "checkout",
                "--region",
                "us-east-1",
                "--yes",
            ],
            "no drain of us-east-1",
        ),
        (
            vec![
                "service",
                "drain",
                "checkout",
                "--region",
                "eu-central-1",
                "--yes",
            ],
            "does not serve service checkout",
        ),
        (
            vec!["service", "weights", "checkout", "eu-west-1=1.7", "--yes"],
            "REGION=WEIGHT",
        ),
        (
            vec!["service", "weights", "checkout", "eu-west-1=300", "--yes"],
            "0 to 255",
        ),
        (
            vec!["service", "drain", "checkout", "--yes"],
            "name the one region",
        ),
    ] {
        let mut full = args.clone();
        full.extend(["--config", config.as_str()]);
        let run = lops.run(&full);
        run.assert_exit(2);
        assert!(run.stderr.contains(says), "{args:?}: {}", run.stderr);
    }
    // A service read with a profile no one knows: which service names it, and where to mend it.
    let ghost = lops
        .config(&format!(
            "regions = [\"us-east-1\"]\n[[service]]\nname = \"checkout\"\nzone = \"{}\"\n\
             record = \"{}\"\ntype = \"CNAME\"\nprofile = \"ghost\"\n",
            svc.zone, svc.record
        ))
        .display()
        .to_string();
    for verb in ["show checkout", "drain checkout --region us-east-1 --yes"] {
        let mut args = vec!["service"];
        args.extend(verb.split(' '));
        args.extend(["--config", ghost.as_str()]);
        let run = lops.run(&args);
        run.assert_exit(2);
        assert!(
            run.stderr.contains(
                "service checkout is read with profile ghost (the `profile` of its [[service]] \
                 in the config file): unknown profile 'ghost'"
            ),
            "{verb}: {}",
            run.stderr
        );
    }
    // (One config file per home: written back as it was.)
    let config = svc.config(&lops, "");
    assert_eq!(
        proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets"),
        0
    );
    // A region of two members: its weight is their sum, and a new one is spread as they
    // share it now.
    svc.apply(member(
        ChangeAction::Create,
        &svc.record,
        "blue2",
        300 - 200,
        "def.execute-api.us-east-1.amazonaws.com",
        Some(&svc.checks[0]),
    ))
    .await;
    let run = service(&lops, &config, "weights checkout us-east-1=100 --yes");
    run.assert_exit(0);
    let after = svc.weights().await;
    assert_eq!(
        (weight(&after, "blue"), weight(&after, "blue2")),
        (50, 50),
        "{}",
        run.stderr
    );
    // What the region took is the region's, said once (its second record says `"`).
    let show = service(&lops, &config, "show checkout --regions us-east-1");
    let rows: Vec<&str> = show
        .stdout
        .lines()
        .filter(|l| l.starts_with("us-east-1"))
        .collect();
    assert_eq!(rows.len(), 2, "{}", show.stdout);
    assert!(rows[1].contains(" \" "), "{}", show.stdout);
    assert!(
        show.stdout.contains("all its records together"),
        "{}",
        show.stdout
    );
    // A record whose target names no region, and no mapping in the config.
    svc.apply(member(
        ChangeAction::Create,
        &svc.record,
        "onprem",
        10,
        "origin.example.net",
        None,
    ))
    .await;
    let run = service(&lops, &config, "drain checkout --region us-east-1 --yes");
    run.assert_exit(2);
    assert!(
        run.stderr.contains("onprem") && run.stderr.contains("regions = {"),
        "{}",
        run.stderr
    );
    // Mapped in the config, it works.
    let mapped = lops.config(&format!(
        "regions = [\"us-east-1\"]\n[[service]]\nname = \"checkout\"\nzone = \"{}\"\nrecord = \"{}\"\ntype = \"CNAME\"\nregions = {{ onprem = \"eu-central-1\" }}\n",
        svc.zone, svc.record
    ));
    let run = lops.run(&[
        "service",
        "drain",
        "checkout",
        "--region",
        "eu-central-1",
        "--config",
        &mapped.display().to_string(),
        "--yes",
    ]);
    run.assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "onprem"), 0);
}

/// The dashboard's services view on moto: `4`, the first region selected, `D`, the preview,
/// `y`: the region drained through the same ops path the CLI takes; a read-only scope refuses
/// the same key before anything is read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_drains_a_region_through_the_same_ops_path() {
    use crate::support::tui::{self, Screen};
    use crossterm::event::KeyCode;
    use lops::ops::Tier;
    use lops::provider::{RegionSource, Scope};
    let svc = Service::seed("tui").await;
    let settings = svc.settings(None);
    for (tier, drained) in [(Tier::Read, false), (Tier::Change, true)] {
        let proxy = FaultProxy::start(moto::url());
        let sources = vec![scope_source(&proxy.url, "default", tier).await];
        let scopes: Vec<Scope> = sources.iter().map(|s| s.scope().clone()).collect();
        let mut state = tui::state(&sources);
        state.services =
            lops::state::services::ServicePane::new(vec![settings.clone()], &scopes, scopes.len());
        let screen = Screen::new(100, 30);
        let dir = tempfile::tempdir().expect("dir");
        let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
        let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
        tui::press(&keys, KeyCode::Char('4'));
        screen.wait_for(20, "green").await;
        // Rows go by region: ap-southeast-2 (red, weight 50) is selected first.
        tui::press(&keys, KeyCode::Char('D'));
        if drained {
            let preview = screen.wait_for(20, "y confirms · esc or n cancels").await;
            assert!(preview.contains("ap-southeast-2 50 → 0"), "{preview}");
            assert_eq!(
                proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets"),
                0
            );
            tui::press(&keys, KeyCode::Char('y'));
            screen.wait_for(30, "in sync on every").await;
            assert_eq!(weight(&svc.weights().await, "red"), 0);
            assert_eq!(
                proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets"),
                1
            );
            let (records, _) = audit.read().expect("audit");
            assert_eq!(records.len(), 1);
            assert_eq!(records[0].action, "service.drain");
            // Recorded in the region it drained, which this dashboard reads no functions of
            // (its Route 53 call went through us-east-1): as `lops service drain` records it.
            assert_eq!(records[0].region, "ap-southeast-2");
        } else {
            let refused = screen.wait_for(20, "--mode change").await;
            assert!(refused.contains("refused"), "{refused}");
            assert_eq!(weight(&svc.weights().await, "red"), 50);
            assert_eq!(
                proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets"),
                0
            );
        }
        tui::press(&keys, KeyCode::Enter);
        tui::press(&keys, KeyCode::Char('q'));
        run.await.expect("join").expect("loop");
    }
}

/// A service read and changed with its own profile, one the fleet does not read: the dashboard
/// reaches it through a scope of its own (as the CLI does), polls no fleet there, and that
/// profile's tier decides — here change, while the fleet's profile may only read.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_reaches_a_service_through_its_own_profile() {
    use crate::support::tui::{self, Screen};
    use crossterm::event::KeyCode;
    use lops::ops::Tier;
    use lops::provider::{RegionSource, Scope};
    let svc = Service::seed("ownprof").await;
    let settings = svc.settings(Some("svc"));
    let proxy = FaultProxy::start(moto::url());
    let sources = vec![
        scope_source(&proxy.url, "default", Tier::Read).await,
        scope_source(&proxy.url, "svc", Tier::Change).await,
    ];
    let scopes: Vec<Scope> = sources.iter().map(|s| s.scope().clone()).collect();
    // The fleet is the first scope only; the second is the service's.
    let mut state = tui::state(&sources[..1]);
    state.services = lops::state::services::ServicePane::new(vec![settings], &scopes, scopes.len());
    let screen = Screen::new(100, 30);
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
    tui::press(&keys, KeyCode::Char('4'));
    screen.wait_for(20, "green").await;
    tui::press(&keys, KeyCode::Char('D'));
    let preview = screen.wait_for(20, "y confirms · esc or n cancels").await;
    assert!(preview.contains("ap-southeast-2 50 → 0"), "{preview}");
    assert!(preview.contains("profile svc"), "{preview}");
    tui::press(&keys, KeyCode::Char('y'));
    screen.wait_for(30, "in sync on every").await;
    assert_eq!(weight(&svc.weights().await, "red"), 0);
    let (records, _) = audit.read().expect("audit");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].profile, "svc");
    tui::press(&keys, KeyCode::Enter);
    // `u` takes it back through the same scope, although the record names ap-southeast-2 (the
    // region drained), which this dashboard reads nothing of: Route 53 is reached from any.
    tui::press(&keys, KeyCode::Char('u'));
    let preview = screen.wait_for(20, "y confirms · esc or n cancels").await;
    assert!(
        preview.contains("undo checkout (Route 53, profile svc)"),
        "{preview}"
    );
    assert!(preview.contains("ap-southeast-2 0 → 50"), "{preview}");
    tui::press(&keys, KeyCode::Char('y'));
    let done = screen.wait_for(30, "done: changed 1 of 1").await;
    // The result names Route 53, as the preview did, not the home scope its call went through.
    assert!(
        done.contains("checkout (Route 53, profile svc)") && !done.contains("checkout in "),
        "{done}"
    );
    assert_eq!(weight(&svc.weights().await, "red"), 50);
    let (records, _) = audit.read().expect("audit");
    assert_eq!(records.len(), 2, "{records:?}");
    assert_eq!(records[1].undoes.as_deref(), Some(records[0].id.as_str()));
    assert_eq!(
        (records[1].profile.as_str(), records[1].region.as_str()),
        ("svc", "ap-southeast-2")
    );
    tui::press(&keys, KeyCode::Enter);
    tui::press(&keys, KeyCode::Char('1'));
    let fleet = screen.wait_for(10, "functions").await;
    assert!(
        !fleet.contains("svc/"),
        "the service's scope is no fleet region: {fleet}"
    );
    tui::press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    assert_eq!(state.regions.len(), 1);
}

/// A failover pair on `svc`'s zone: `main` in us-east-1 the primary, `standby` in eu-west-1
/// the secondary, each with its health check. Returns its record name.
async fn seed_failover(svc: &Service) -> String {
    use aws_sdk_route53::types::ResourceRecordSetFailover;
    let record = format!("fo.{}", svc.record.trim_start_matches("api."));
    let mut changes = Vec::new();
    for (id, region, role, check) in [
        (
            "main",
            "us-east-1",
            ResourceRecordSetFailover::Primary,
            &svc.checks[0],
        ),
        (
            "standby",
            "eu-west-1",
            ResourceRecordSetFailover::Secondary,
            &svc.checks[1],
        ),
    ] {
        changes.push(
            Change::builder()
                .action(ChangeAction::Create)
                .resource_record_set(
                    ResourceRecordSet::builder()
                        .name(&record)
                        .r#type(RrType::Cname)
                        .set_identifier(id)
                        .failover(role)
                        .ttl(30)
                        .health_check_id(check)
                        .resource_records(
                            ResourceRecord::builder()
                                .value(format!("abc.execute-api.{region}.amazonaws.com"))
                                .build()
                                .expect("value"),
                        )
                        .build()
                        .expect("record"),
                )
                .build()
                .expect("change"),
        );
    }
    svc.client
        .change_resource_record_sets()
        .hosted_zone_id(&svc.zone)
        .change_batch(
            ChangeBatch::builder()
                .set_changes(Some(changes))
                .build()
                .expect("batch"),
        )
        .send()
        .await
        .expect("failover records");
    record
}

/// (set identifier, failover role) of every member of `record`, sorted.
async fn roles_of(svc: &Service, record: &str) -> Vec<(String, String)> {
    let out = svc
        .client
        .list_resource_record_sets()
        .hosted_zone_id(&svc.zone)
        .send()
        .await
        .expect("list");
    let mut r: Vec<(String, String)> = out
        .resource_record_sets()
        .iter()
        .filter(|r| r.name().trim_end_matches('.') == record)
        .filter_map(|r| {
            Some((
                r.set_identifier()?.to_string(),
                r.failover()?.as_str().to_string(),
            ))
        })
        .collect();
    r.sort();
    r
}

/// A failover service: draining its primary region makes it the secondary (and the other the
/// primary) in one batch; restore and undo swap them back; weights are refused.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_service_is_drained_by_swapping_primary_and_secondary() {
    let svc = Service::seed("failover").await;
    let record = seed_failover(&svc).await;
    let roles = || roles_of(&svc, &record);
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let config = lops
        .config(&format!(
            "regions = [\"us-east-1\"]\n[[service]]\nname = \"checkout\"\nzone = \"{}\"\nrecord = \"{record}\"\ntype = \"CNAME\"\n",
            svc.zone
        ))
        .display()
        .to_string();
    let drain = [
        "service",
        "drain",
        "checkout",
        "--region",
        "us-east-1",
        "--config",
        &config,
        "--yes",
    ];
    let run = lops.run(&drain);
    run.assert_exit(0);
    assert!(
        run.stderr.contains("us-east-1 PRIMARY → SECONDARY")
            && run.stderr.contains("eu-west-1 SECONDARY → PRIMARY"),
        "{}",
        run.stderr
    );
    let swapped = vec![
        ("main".to_string(), "SECONDARY".to_string()),
        ("standby".to_string(), "PRIMARY".to_string()),
    ];
    let seeded = vec![
        ("main".to_string(), "PRIMARY".to_string()),
        ("standby".to_string(), "SECONDARY".to_string()),
    ];
    assert_eq!(roles().await, swapped);
    assert_eq!(
        proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets"),
        1
    );
    // Draining it again changes nothing.
    lops.run(&drain).assert_exit(0);
    assert_eq!(
        proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets"),
        1
    );
    service(&lops, &config, "restore checkout --region us-east-1 --yes").assert_exit(0);
    assert_eq!(roles().await, seeded);
    lops.run(&drain).assert_exit(0);
    assert_eq!(roles().await, swapped);
    lops.run(&["undo", "--config", &config, "--yes"])
        .assert_exit(0);
    assert_eq!(roles().await, seeded);
    let run = service(&lops, &config, "weights checkout us-east-1=10 --yes");
    run.assert_exit(2);
    assert!(run.stderr.contains("routes by failover"), "{}", run.stderr);
    // A restore with no drain of that region recorded points to what a failover pair takes
    // (draining the other region), not to the weights command refused just above.
    let run = service(&lops, &config, "restore checkout --region eu-west-1 --yes");
    run.assert_exit(2);
    assert!(
        run.stderr.contains("a failover pair has no weights")
            && run
                .stderr
                .contains("lops service drain checkout --region OTHER")
            && !run.stderr.contains("service weights"),
        "{}",
        run.stderr
    );

    lops.run(&drain).assert_exit(0);
    // Draining the other region now would make us-east-1, drained and not restored, the
    // primary again: refused, naming it and the two ways on; forced, it is done.
    let run = service(&lops, &config, "drain checkout --region eu-west-1 --yes");
    run.assert_exit(4);
    assert!(
        run.stderr
            .contains("would make us-east-1 the primary of service checkout again")
            && run
                .stderr
                .contains("lops service restore checkout --region us-east-1")
            && run.stderr.contains("--force"),
        "{}",
        run.stderr
    );
    assert_eq!(roles().await, swapped);
    let forced = service(
        &lops,
        &config,
        "drain checkout --region eu-west-1 --yes --force",
    );
    forced.assert_exit(0);
    // Why the name is typed is said in the preview.
    assert!(
        forced
            .stderr
            .contains("(forced past the guard: us-east-1, drained by this machine's change of"),
        "{}",
        forced.stderr
    );
    assert_eq!(roles().await, seeded);
    // Drained since by that forced drain: us-east-1 is not made secondary without a word either.
    let run = lops.run(&drain);
    run.assert_exit(4);
    assert!(
        run.stderr.contains("would make eu-west-1 the primary"),
        "{}",
        run.stderr
    );
    // Undoing that forced drain puts us-east-1's drain back in force: refused again.
    lops.run(&["undo", "--config", &config, "--yes"])
        .assert_exit(0);
    assert_eq!(roles().await, swapped);
    let run = service(&lops, &config, "drain checkout --region eu-west-1 --yes");
    run.assert_exit(4);
    assert!(
        run.stderr.contains("would make us-east-1 the primary"),
        "{}",
        run.stderr
    );
    service(&lops, &config, "restore checkout --region us-east-1 --yes").assert_exit(0);
    assert_eq!(roles().await, seeded);

    // Drained, and then its check fails (inverted: moto's checkers always succeed). Giving it
    // back is never refused — Route 53 answers with the secondary while the primary's check
    // fails — by restore, or by undoing the drain.
    lops.run(&drain).assert_exit(0);
    svc.client
        .update_health_check()
        .health_check_id(&svc.checks[0])
        .inverted(true)
        .send()
        .await
        .expect("fail the check");
    let run = service(&lops, &config, "restore checkout --region us-east-1 --yes");
    run.assert_exit(0);
    assert_eq!(roles().await, seeded, "{}", run.stderr);
    lops.run(&["undo", "--config", &config, "--yes"])
        .assert_exit(0);
    assert_eq!(roles().await, swapped);
    let run = lops.run(&["undo", "--config", &config, "--yes"]);
    run.assert_exit(0);
    assert_eq!(
        roles().await,
        seeded,
        "the undo of the drain gives it back: {}",
        run.stderr
    );
    // The secondary's check fails too: draining the primary would make an unhealthy region
    // the primary. Refused, naming the one way past the guard a failover pair has (it has no
    // weights to set).
    svc.client
        .update_health_check()
        .health_check_id(&svc.checks[1])
        .inverted(true)
        .send()
        .await
        .expect("fail the standby's check");
    let run = lops.run(&drain);
    run.assert_exit(4);
    assert!(
        run.stderr.contains("`lops service drain` with --force")
            && !run.stderr.contains("service weights"),
        "{}",
        run.stderr
    );
    assert_eq!(roles().await, seeded);
}

/// A failover drain whose answer was lost (it landed): it counts as a drain all the same —
/// draining the other region is refused as after a drain answered, and its restore waits the
/// minute a retry of it may still land in, then puts it back. Only drains answered counted:
/// the other region's drain made it the primary again, and restore found no drain.
/// The timeout is lowered (2 s, one try): the test is about an answer that comes too late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failover_drain_whose_answer_was_lost_counts_as_a_drain() {
    let svc = Service::seed("folost").await;
    let record = seed_failover(&svc).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: "us-east-1".into(),
        service: Some("route53".into()),
        operation: Some("ChangeResourceRecordSets".into()),
        fault: crate::support::proxy::Fault::LateAnswer(std::time::Duration::from_secs(4)),
        remaining: Some(1),
    });
    let lops = Lops::new(&proxy.url);
    let config = lops
        .config(&format!(
            "regions = [\"us-east-1\"]\n[timeouts]\noperation_secs = 2\nmax_attempts = 1\n[[service]]\nname = \"checkout\"\nzone = \"{}\"\nrecord = \"{record}\"\ntype = \"CNAME\"\n",
            svc.zone
        ))
        .display()
        .to_string();
    let run = service(&lops, &config, "drain checkout --region us-east-1 --yes");
    assert_ne!(run.code, 0, "{}", run.stderr);
    let swapped = vec![
        ("main".to_string(), "SECONDARY".to_string()),
        ("standby".to_string(), "PRIMARY".to_string()),
    ];
    // Landed, its answer lost.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while roles_of(&svc, &record).await != swapped {
        assert!(std::time::Instant::now() < deadline, "{}", run.stderr);
        tokio::time::sleep(std::time::Duration::from_millis(200)).await;
    }
    let other = service(&lops, &config, "drain checkout --region eu-west-1 --yes");
    other.assert_exit(4);
    assert!(
        other.stderr.contains("would make us-east-1 the primary"),
        "{}",
        other.stderr
    );
    let early = service(&lops, &config, "restore checkout --region us-east-1 --yes");
    early.assert_exit(4);
    assert!(early.stderr.contains("may still land"), "{}", early.stderr);
    assert_eq!(roles_of(&svc, &record).await, swapped);
    lops.audit_written_minutes_ago(2);
    service(&lops, &config, "restore checkout --region us-east-1 --yes").assert_exit(0);
    assert_eq!(
        roles_of(&svc, &record).await,
        [
            ("main".to_string(), "PRIMARY".to_string()),
            ("standby".to_string(), "SECONDARY".to_string())
        ]
    );
}

/// One region's CloudWatch failing does not hide the service: every member is shown, that
/// region's load is missing and named, the others are read, exit 3.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn show_names_a_region_whose_load_could_not_be_read_and_shows_the_rest() {
    let svc = Service::seed("partial").await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: "eu-west-1".into(),
        service: Some("monitoring".into()),
        operation: Some("GetMetricData".into()),
        fault: Fault::Status(503),
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let config = svc.config(&lops, "");
    let run = service(
        &lops,
        &config,
        "show checkout --regions us-east-1,eu-west-1,ap-southeast-2 --json",
    );
    run.assert_exit(3);
    let doc = run.json();
    assert_eq!(doc["complete"], false);
    let members = doc["members"].as_array().expect("members");
    assert_eq!(members.len(), 3);
    let of = |id: &str| members.iter().find(|m| m["set_id"] == id).expect("member");
    assert!(
        of("green")["observed_error"]
            .as_str()
            .is_some_and(|e| e.contains("503")),
        "{doc}"
    );
    assert!(of("green")["invocations_15m"].is_null());
    assert!(of("blue")["invocations_15m"].is_number(), "{doc}");
    assert!(of("red")["invocations_15m"].is_number(), "{doc}");
    assert_eq!(of("green")["weight"], 100);
    // In text, the region that failed is said as failed, not as one to add to --regions.
    let run = service(
        &lops,
        &config,
        "show checkout --regions us-east-1,eu-west-1,ap-southeast-2",
    );
    run.assert_exit(3);
    assert!(
        run.stdout
            .contains("eu-west-1 could not be read (above); run again"),
        "{}",
        run.stdout
    );
    assert!(
        !run.stdout.contains("read with --regions"),
        "{}",
        run.stdout
    );
}

/// An inverted health check means the opposite of what its checkers say: moto's checkers
/// always report success, so an inverted check there reads unhealthy.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_inverted_health_check_reads_the_other_way() {
    let svc = Service::seed("inverted").await;
    let check = svc
        .client
        .create_health_check()
        .caller_reference(moto::unique("hc"))
        .health_check_config(
            HealthCheckConfig::builder()
                .r#type(HealthCheckType::Https)
                .fully_qualified_domain_name("api.us-east-1.example.com")
                .inverted(true)
                .build()
                .expect("check"),
        )
        .send()
        .await
        .expect("inverted check")
        .health_check()
        .expect("check")
        .id()
        .to_string();
    svc.apply(member(
        ChangeAction::Upsert,
        &svc.record,
        "blue",
        100,
        "abc.execute-api.us-east-1.amazonaws.com",
        Some(&check),
    ))
    .await;
    let lops = Lops::new(moto::url());
    let config = svc.config(&lops, "");
    let run = lops.run(&["service", "show", "checkout", "--config", &config, "--json"]);
    let doc = run.json();
    let members = doc["members"].as_array().expect("members");
    let health = |id: &str| {
        members.iter().find(|m| m["set_id"] == id).expect("member")["health"]["status"].clone()
    };
    assert_eq!(health("blue"), "unhealthy", "{doc}");
    assert_eq!(health("green"), "healthy", "{doc}");
}

/// The service's own profile decides the tier, however the session's profile was chosen
/// (`--profile`, `AWS_PROFILE`, the default).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_services_profile_decides_however_the_session_profile_is_chosen() {
    let svc = Service::seed("profiles").await;
    let profiles = "[profile.ro]\nmode = \"read\"\n[profile.ops]\nmode = \"change\"\n";
    for (service_profile, code) in [("ro", 4), ("ops", 0)] {
        for (flag, env) in [
            (Some("--profile"), None),
            (None, Some("AWS_PROFILE")),
            (None, None),
        ] {
            let proxy = FaultProxy::start(moto::url());
            let other = if service_profile == "ro" { "ops" } else { "ro" };
            let mut lops = Lops::new(&proxy.url);
            if let Some(var) = env {
                lops = lops.env(var, other);
            }
            let config = lops
                .config(&format!(
                    "regions = [\"us-east-1\"]\n[[service]]\nname = \"checkout\"\nzone = \"{}\"\nrecord = \"{}\"\ntype = \"CNAME\"\nprofile = \"{service_profile}\"\n{profiles}",
                    svc.zone, svc.record
                ))
                .display()
                .to_string();
            let mut args = vec![
                "service",
                "weights",
                "checkout",
                "eu-west-1=90",
                "--config",
                &config,
                "--yes",
            ];
            if let Some(f) = flag {
                args.extend([f, other]);
            }
            let run = lops.run(&args);
            assert_eq!(
                run.code, code,
                "service profile {service_profile}, session {other} by {flag:?}/{env:?}: {}",
                run.stderr
            );
            if code == 4 {
                assert_eq!(
                    proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets"),
                    0
                );
            }
        }
    }
}

/// Two lops on one machine drain two regions of one service at once. Each alone is allowed;
/// both would be written on what each read before the other wrote. The second waits for the
/// first's change, reads it, and its compare refuses it: one write.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_lops_draining_one_service_at_once_never_both_write_on_one_read() {
    use std::time::{Duration, Instant};
    let svc = Service::seed("twodrains").await;
    let proxy = FaultProxy::start(moto::url());
    let writes = || proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets");
    // The first write reaches Route 53 three seconds after it is sent.
    proxy.add(Rule {
        region: "us-east-1".into(),
        service: Some("route53".into()),
        operation: Some("ChangeResourceRecordSets".into()),
        fault: Fault::Delay(Duration::from_secs(3)),
        remaining: Some(1),
    });
    let lops = Lops::new(&proxy.url);
    let config = svc.config(&lops, "");
    let drain = |region: &'static str| {
        [
            "service", "drain", "checkout", "--region", region, "--config", &config, "--yes",
        ]
        .map(str::to_string)
    };
    let args = drain("us-east-1");
    let args: Vec<&str> = args.iter().map(String::as_str).collect();
    let first = lops.spawn(&args);
    let deadline = Instant::now() + Duration::from_secs(20);
    while writes() == 0 {
        assert!(Instant::now() < deadline, "the first drain never wrote");
        std::thread::sleep(Duration::from_millis(20));
    }
    let second = service(&lops, &config, "drain checkout --region eu-west-1 --yes");
    let first = first.wait_with_output().expect("first lops");
    assert_eq!(
        first.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&first.stderr)
    );
    assert_ne!(second.code, 0, "{}", second.stderr);
    assert!(
        second.stderr.contains("changed since the preview"),
        "{}",
        second.stderr
    );
    assert_eq!(writes(), 1);
    let after = svc.weights().await;
    assert_eq!(
        (
            weight(&after, "blue"),
            weight(&after, "green"),
            weight(&after, "red")
        ),
        (0, 100, 50)
    );
}

/// Two machines (two state directories: two locks) drain two regions at once, each safe on
/// its own read: the one whose write lands last reads back no region taking traffic and says
/// so (exit 1), and its undo puts back only the member it wrote — not the other machine's
/// drain.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_machines_draining_at_once_are_told_and_each_undo_is_its_own() {
    use std::time::{Duration, Instant};
    let svc = Service::seed("twomachines").await;
    // Only blue (us-east-1) and green (eu-west-1) take traffic.
    svc.apply(member(
        ChangeAction::Upsert,
        &svc.record,
        "red",
        0,
        "abc.execute-api.ap-southeast-2.amazonaws.com",
        Some(&svc.checks[2]),
    ))
    .await;
    let proxy = FaultProxy::start(moto::url());
    let writes = || proxy.calls("us-east-1", "route53", "ChangeResourceRecordSets");
    // The first machine's write reaches Route 53 three seconds after it is sent.
    proxy.add(Rule {
        region: "us-east-1".into(),
        service: Some("route53".into()),
        operation: Some("ChangeResourceRecordSets".into()),
        fault: Fault::Delay(Duration::from_secs(3)),
        remaining: Some(1),
    });
    let (one, other) = (Lops::new(&proxy.url), Lops::new(&proxy.url));
    let (config_one, config_other) = (svc.config(&one, ""), svc.config(&other, ""));
    let first = one.spawn(&[
        "service",
        "drain",
        "checkout",
        "--region",
        "us-east-1",
        "--config",
        &config_one,
        "--yes",
    ]);
    let deadline = Instant::now() + Duration::from_secs(20);
    while writes() == 0 {
        assert!(Instant::now() < deadline, "the first drain never wrote");
        std::thread::sleep(Duration::from_millis(20));
    }
    // Its read-back may come after the first's write lands: then it is told too.
    let second = service(
        &other,
        &config_other,
        "drain checkout --region eu-west-1 --yes",
    );
    match second.code {
        0 => assert!(!second.stdout.contains("NO REGION"), "{}", second.stdout),
        _ => {
            second.assert_exit(1);
            assert!(
                second.stdout.contains("NO REGION TAKES TRAFFIC NOW"),
                "{}",
                second.stdout
            );
        }
    }
    let first = first.wait_with_output().expect("first lops");
    let said = String::from_utf8_lossy(&first.stdout);
    // Written, but the service is dark: a script sees a failure.
    assert_eq!(first.status.code(), Some(1), "{said}");
    assert!(said.contains("NO REGION TAKES TRAFFIC NOW"), "{said}");
    let all = svc.weights().await;
    assert_eq!(
        (
            weight(&all, "blue"),
            weight(&all, "green"),
            weight(&all, "red")
        ),
        (0, 0, 0)
    );
    // The first machine never drained eu-west-1: nothing of it to restore there (its drain's
    // read-back holds the other machine's).
    let run = service(
        &one,
        &config_one,
        "restore checkout --region eu-west-1 --dry-run",
    );
    run.assert_exit(2);
    assert!(
        run.stderr.contains("no drain of eu-west-1"),
        "{}",
        run.stderr
    );
    // The first machine's undo: blue back, green left as the other machine set it.
    let run = one.run(&["undo", "--config", &config_one, "--yes"]);
    run.assert_exit(0);
    let after = svc.weights().await;
    assert_eq!(
        (
            weight(&after, "blue"),
            weight(&after, "green"),
            weight(&after, "red")
        ),
        (100, 0, 0),
        "{}",
        run.stderr
    );
    // The other machine's undo is its own too: green back, though blue moved since its drain.
    let run = other.run(&["undo", "--config", &config_other, "--yes"]);
    run.assert_exit(0);
    let after = svc.weights().await;
    assert_eq!(
        (weight(&after, "blue"), weight(&after, "green")),
        (100, 100),
        "{}",
        run.stderr
    );
    // Each audit names the region its own drain moved.
    let audit = other.run(&["audit"]);
    assert!(
        audit.stdout.contains("checkout (eu-west-1)") && !audit.stdout.contains("(eu-west-1,"),
        "{}",
        audit.stdout
    );
}

/// A drain is found by its record set, whatever name the service has: restored through
/// another service entry over the same record (renamed, or a prod alias of it); a restore with
/// no drain on record says the record is this machine's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_is_restored_through_any_service_name_of_its_record_set() {
    let svc = Service::seed("renamed").await;
    let lops = Lops::new(moto::url());
    // Written another way: with the record's final dot, in capitals.
    let also = format!(
        "[[service]]\nname = \"checkout-prod\"\nzone = \"{}\"\nrecord = \"{}.\"\ntype = \"CNAME\"\n",
        svc.zone,
        svc.record.to_uppercase()
    );
    let config = svc.config(&lops, &also);
    let run = service(
        &lops,
        &config,
        "restore checkout-prod --region us-east-1 --yes",
    );
    run.assert_exit(2);
    assert!(
        run.stderr.contains("this machine's audit log"),
        "{}",
        run.stderr
    );
    service(&lops, &config, "drain checkout --region us-east-1 --yes").assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "blue"), 0);
    service(
        &lops,
        &config,
        "restore checkout-prod --region us-east-1 --yes",
    )
    .assert_exit(0);
    assert_eq!(weight(&svc.weights().await, "blue"), 100);
}

/// An undo refused because a member its change wrote was edited by hand names what changed
/// in that member (the weights alone read as the drain left them).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_undo_refused_names_what_changed_in_the_member_it_wrote() {
    let svc = Service::seed("undodiff").await;
    let lops = Lops::new(moto::url());
    let config = svc.config(&lops, "");
    service(&lops, &config, "drain checkout --region eu-west-1 --yes").assert_exit(0);
    // green (eu-west-1) now points elsewhere, its weight as the drain left it.
    svc.apply(member(
        ChangeAction::Upsert,
        &svc.record,
        "green",
        0,
        "elsewhere.example.com",
        Some(&svc.checks[1]),
    ))
    .await;
    let run = lops.run(&["undo", "--config", &config, "--yes"]);
    run.assert_exit(4);
    assert!(
        run.stderr.contains("green target ") && run.stderr.contains("→ elsewhere.example.com"),
        "{}",
        run.stderr
    );
    assert_eq!(weight(&svc.weights().await, "green"), 0);
}

/// Forced past the guard to drain the last region taking traffic: the result says no region
/// takes traffic, as asked — not as a race with another change — and it is not a failure.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_forced_drain_of_the_last_region_says_so_as_asked() {
    let svc = Service::seed("forcedark").await;
    let lops = Lops::new(moto::url());
    let config = svc.config(&lops, "");
    service(
        &lops,
        &config,
        "weights checkout eu-west-1=0,ap-southeast-2=0 --yes",
    )
    .assert_exit(0);
    let run = service(
        &lops,
        &config,
        "drain checkout --region us-east-1 --yes --force",
    );
    run.assert_exit(0);
    assert!(
        run.stdout
            .contains("NO REGION TAKES TRAFFIC NOW, as forced past the guard")
            && !run.stdout.contains("another change landed"),
        "{}",
        run.stdout
    );
    assert_eq!(weight(&svc.weights().await, "blue"), 0);
}

/// GetChange denied: the drain lands and says whether it is in sync is not known, naming the
/// call, at once (it waited a minute and said "still propagating").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_whose_sync_cannot_be_read_says_so() {
    let svc = Service::seed("syncdenied").await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: "us-east-1".into(),
        service: Some("route53".into()),
        operation: Some("GetChange".into()),
        fault: crate::support::proxy::Fault::Code(403, "AccessDenied"),
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let config = svc.config(&lops, "");
    let started = std::time::Instant::now();
    let run = service(&lops, &config, "drain checkout --region us-east-1 --yes");
    run.assert_exit(0);
    assert!(
        run.stdout
            .contains("whether every Route 53 server has it is not known: GetChange")
            && !run.stdout.contains("still propagating"),
        "{}",
        run.stdout
    );
    assert_eq!(proxy.calls("us-east-1", "route53", "GetChange"), 1);
    assert!(started.elapsed() < std::time::Duration::from_secs(30));
    assert_eq!(weight(&svc.weights().await, "blue"), 0);
}

/// Route 53 carries a drain out and answers 500: the drain, read back as written, is said and
/// recorded as a change whose outcome is not known (with what it was to make), and `undo`
/// takes it back. It was said failed, audited "not made", and undo offered an older change.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drain_answered_with_an_error_after_it_was_made_is_not_said_not_made() {
    let svc = Service::seed("lostanswer").await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: "us-east-1".into(),
        service: Some("route53".into()),
        operation: Some("ChangeResourceRecordSets".into()),
        // Every try (the SDK tries a 500 again) carried out, each answered 500.
        fault: crate::support::proxy::Fault::AnsweredWith(500),
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let config = svc.config(&lops, "");
    let run = service(&lops, &config, "drain checkout --region us-east-1 --yes");
    assert_ne!(run.code, 0, "{}{}", run.stdout, run.stderr);
    assert!(
        run.stderr.contains("may have changed") && run.stderr.contains("lops undo"),
        "{}",
        run.stderr
    );
    assert_eq!(weight(&svc.weights().await, "blue"), 0);
    let audit = lops.run(&["audit", "--json"]).json();
    let last = audit[0].clone();
    assert_eq!(last["action"], "service.drain", "{audit}");
    assert!(
        last["result"]
            .as_str()
            .unwrap_or_default()
            .starts_with(lops::ops::audit::UNKNOWN),
        "{last}"
    );
    // Undo takes it back (the drain is the last change, its outcome not known) — a minute on:
    // an earlier try of it may be held on its way while the later ones are answered.
    proxy.heal();
    let early = lops.run(&["undo", "--yes", "--config", &config]);
    early.assert_exit(4);
    assert!(early.stderr.contains("may still land"), "{}", early.stderr);
    lops.audit_written_minutes_ago(2);
    let undo = lops.run(&["undo", "--yes", "--config", &config]);
    undo.assert_exit(0);
    assert_ne!(weight(&svc.weights().await, "blue"), 0, "{}", undo.stderr);
}

/// One record set under two service names with two profiles is a config error (exit 2): a
/// read-only or production profile would guard its changes under one name and not the other.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_record_set_under_two_names_with_two_profiles_is_refused() {
    let svc = Service::seed("twoprofiles").await;
    let lops = Lops::new(moto::url());
    let also = format!(
        "[[service]]\nname = \"checkout-ro\"\nzone = \"{}\"\nrecord = \"{}\"\ntype = \"CNAME\"\nprofile = \"ro\"\n",
        svc.zone, svc.record
    );
    let config = svc.config(&lops, &also);
    let run = service(&lops, &config, "drain checkout --region us-east-1 --yes");
    run.assert_exit(2);
    assert!(
        run.stderr.contains("'checkout-ro' (profile ro)")
            && run
                .stderr
                .contains("'checkout' (the session's strictest profile)")
            && run.stderr.contains("name the same record set")
            && run.stderr.contains("give them the same profile"),
        "{}",
        run.stderr
    );
    assert_eq!(weight(&svc.weights().await, "blue"), 100);
}
