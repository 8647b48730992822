//! Inventory within Lambda's quotas: the call formula counted at the proxy, every page read
//! (the proxy pages moto's single answer, as AWS would), rows on screen page by page while
//! details fill in, and a failed page that keeps what answered.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::KeyCode;
use serde_json::Value;

use crate::support::cli::{Lops, function_doc as named, region_doc};
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy, Rule};
use crate::support::seed::Seeder;
use crate::support::tui::{self, Screen};

/// Lambda's shared control-plane bucket: every Lambda call but GetFunction (own bucket) and
/// Invoke (data plane).
fn shared_bucket_calls(proxy: &FaultProxy, region: &str) -> u64 {
    proxy.calls_where(region, "lambda", |op| op != "GetFunction" && op != "Invoke")
}

/// `count` functions named `{prefix}-fn{i}`; every third has two published versions and a
/// `live` alias over them. Returns (names, how many have a published version).
async fn functions(seeder: &Seeder, prefix: &str, count: usize) -> (Vec<String>, usize) {
    let mut names = Vec::new();
    let mut published = 0;
    for i in 0..count {
        let name = format!("{prefix}-fn{i:02}");
        seeder.create_function(&name).await;
        if i % 3 == 0 {
            let v1 = seeder.publish_version(&name, "one").await;
            let v2 = seeder.publish_version(&name, "two").await;
            seeder
                .create_alias(&name, "live", &v1, Some((&v2, 0.1)))
                .await;
            published += 1;
        }
        names.push(name);
    }
    (names, published)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn one_inventory_costs_the_formula_and_reads_every_page() {
    // A region no other test lists, so every function in it is this test's.
    let region = "us-gov-west-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let prefix = moto::unique("scale");
    let (names, published) = functions(&seeder, &prefix, 30).await;
    let versions = 2 * published;
    let proxy = FaultProxy::start(moto::url());
    // AWS pages ListFunctions by 50; 7 here makes eight pages of this fleet.
    let page = 7;
    proxy.paginate(region, "ListFunctions", "Functions", page);

    let lops = Lops::new(&proxy.url);
    let run = lops.run(&["status", "--json", "--stats", "--regions", region]);
    run.assert_exit(0);
    let doc = run.json();
    let r = region_doc(&doc, region);
    let listed = r["functions"].as_array().map(Vec::len);
    assert_eq!(listed, Some(names.len()), "every page is read: {r:#}");

    let pages = (names.len() + versions).div_ceil(page) as u64;
    assert_eq!(proxy.calls(region, "lambda", "ListFunctions"), pages);
    assert_eq!(proxy.calls(region, "lambda", "ListVersionsByFunction"), 0);
    assert_eq!(
        proxy.calls(region, "lambda", "ListAliases"),
        published as u64
    );
    assert_eq!(
        proxy.calls(region, "lambda", "ListProvisionedConcurrencyConfigs"),
        0
    );
    assert_eq!(
        proxy.calls(region, "lambda", "GetFunction"),
        names.len() as u64
    );
    let formula = pages + published as u64 + 5;
    let shared = shared_bucket_calls(&proxy, region);
    assert!(
        shared <= formula,
        "{shared} shared-bucket calls over the formula {formula}: {:#?}",
        proxy.all_calls()
    );

    // Versions come from the list itself; aliases where a version is published.
    let first = named(r, &names[0]);
    assert_eq!(first["versions"], serde_json::json!(["1", "2"]));
    assert_eq!(first["aliases"][0]["name"], "live");
    assert_eq!(first["aliases"][0]["weights"][1]["share"], 0.1);
    // What was not read is null and named, never "none".
    let plain = named(r, &names[1]);
    assert_eq!(plain["versions"], serde_json::json!([]));
    assert_eq!(plain["aliases"], Value::Null);
    assert_eq!(plain["concurrency"]["provisioned"], Value::Null);
    assert_eq!(
        plain["not_read"],
        serde_json::json!(["aliases", "provisioned"])
    );
    assert_eq!(first["not_read"], serde_json::json!(["provisioned"]));

    // --full reads the rest: every function's aliases and provisioned concurrency.
    let before = proxy.calls(region, "lambda", "ListAliases");
    let run = lops.run(&[
        "status",
        "--json",
        "--full",
        "--progress",
        "--regions",
        region,
    ]);
    run.assert_exit(0);
    // --progress says how far each page and the details have come, on stderr.
    assert!(
        run.stderr.contains(&format!("{region}: 4 listed"))
            && run.stderr.contains(&format!("{region}: 29 listed"))
            && run.stderr.contains(&format!("{region}: 0/30 read"))
            && run.stderr.contains(&format!("{region}: 30/30 read, done")),
        "{}",
        run.stderr
    );
    let doc = run.json();
    let r = region_doc(&doc, region);
    let plain = named(r, &names[1]);
    assert_eq!(plain["aliases"], serde_json::json!([]));
    assert!(plain.get("not_read").is_none(), "{plain:#}");
    assert_eq!(
        proxy.calls(region, "lambda", "ListAliases") - before,
        published as u64 + (names.len() - published) as u64,
        "the inventory's ListAliases, then one for each function it did not read"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_page_that_fails_keeps_the_pages_before_and_says_so() {
    let region = "cn-north-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let prefix = moto::unique("pagefail");
    functions(&seeder, &prefix, 6).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.paginate(region, "ListFunctions", "Functions", 5);
    // The first page answers; every later one fails (retries included).
    proxy.add_after(
        1,
        Rule {
            region: region.into(),
            service: Some("lambda".into()),
            operation: Some("ListFunctions".into()),
            fault: Fault::Status(500),
            remaining: None,
        },
    );
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&["status", "--json", "--regions", region]);
    run.assert_exit(3);
    let doc = run.json();
    let r = region_doc(&doc, region);
    assert_eq!(r["health"]["status"], "partial", "{r:#}");
    let listed = r["functions"].as_array().map(Vec::len).unwrap_or(0);
    assert!(
        (1..=5).contains(&listed),
        "the first page's functions are kept: {listed}"
    );
    let failures = r["health"]["failures"].to_string();
    assert!(
        failures.contains("ListFunctions")
            && failures.contains("were listed before it stopped (those are shown)"),
        "{failures}"
    );
    assert!(run.stderr.contains("ListFunctions"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn rows_land_page_by_page_and_details_fill_in_behind_them() {
    let region = "us-gov-east-1";
    let seeder = Seeder::new(moto::url(), region).await;
    // Short names: the row shows them whole at 120 columns (a name from `moto::unique` grows
    // with the tests run before it and may be cut). This region is this test's alone.
    let prefix = format!("r{}", std::process::id() % 1000);
    let (names, _) = functions(&seeder, &prefix, 12).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.paginate(region, "ListFunctions", "Functions", 10);
    // The second page and every function's own read are slow.
    proxy.add_after(
        1,
        Rule {
            region: region.into(),
            service: Some("lambda".into()),
            operation: Some("ListFunctions".into()),
            fault: Fault::Delay(Duration::from_millis(1500)),
            remaining: None,
        },
    );
    for op in ["GetFunction", "ListAliases"] {
        proxy.add(Rule {
            region: region.into(),
            service: Some("lambda".into()),
            operation: Some(op.into()),
            fault: Fault::Delay(Duration::from_millis(1200)),
            remaining: None,
        });
    }
    let sources = vec![Arc::new(lops::provider::aws::AwsRegion::new(
        tui::clients(&proxy.url, region).await,
    ))];
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let started = Instant::now();
    let (keys, run) = tui::start_on(&screen, sources, state, None);

    // The first page's rows, while the listing goes on.
    let first = screen.wait_for(5, " listed").await;
    assert!(
        started.elapsed() < Duration::from_millis(1500),
        "rows waited for the second page"
    );
    // Ten entries on the first page: six functions and the versions of two of them.
    assert!(first.contains("6 listed"), "{first}");
    assert!(
        first.contains(&names[0]) && !first.contains(&names[11]),
        "{first}"
    );
    // Every row once listed, their details still coming in.
    let listed = screen.wait_for(10, "/12 read").await;
    assert!(listed.contains("functions 12/12"), "{listed}");
    // Then every detail: the progress leaves the footer.
    screen.wait_loaded(20, "functions 12/12").await;
    tui::press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    let r = &state.regions[0];
    assert!(r.inventory_loaded && r.inventory_progress.is_none());
    let f = r.function(&names[0]).expect("first function");
    assert_eq!(
        f.info.aliases.first().map(|a| a.name.as_str()),
        Some("live")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_detail_view_reads_what_the_inventory_left_for_on_demand() {
    let region = "cn-north-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-plain", moto::unique("od"));
    seeder.create_function(&f).await;
    let proxy = FaultProxy::start(moto::url());
    let sources = vec![Arc::new(lops::provider::aws::AwsRegion::new(
        tui::clients(&proxy.url, region).await,
    ))];
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let (keys, run) = tui::start_on(&screen, sources, state, None);
    tui::filter(&keys, &f);
    screen.wait_loaded(15, "Active").await;
    let aliases_before = proxy.calls(region, "lambda", "ListAliases");
    assert_eq!(
        proxy.calls(region, "lambda", "ListProvisionedConcurrencyConfigs"),
        0,
        "the inventory leaves provisioned concurrency for on demand"
    );

    tui::press(&keys, KeyCode::Enter);
    let detail = screen.wait_for(10, "provisioned none").await;
    assert!(!detail.contains("not read"), "{detail}");
    assert!(proxy.calls(region, "lambda", "ListAliases") > aliases_before);
    // Without a published version there can be none: known without asking.
    assert_eq!(
        proxy.calls(region, "lambda", "ListProvisionedConcurrencyConfigs"),
        0
    );
    tui::press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    let entry = state.regions[0].function(&f).expect("function");
    assert!(!entry.info.not_read.aliases && !entry.info.not_read.provisioned);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn every_list_follows_its_marker_to_the_last_page() {
    let region = "cn-north-1";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-aliased", moto::unique("pg"));
    seeder.create_function(&f).await;
    let v1 = seeder.publish_version(&f, "one").await;
    let v2 = seeder.publish_version(&f, "two").await;
    for alias in ["blue", "green", "live"] {
        seeder.create_alias(&f, alias, &v1, Some((&v2, 0.5))).await;
    }
    let proxy = FaultProxy::start(moto::url());
    // One item per page: every list needs as many calls as it has items.
    proxy.paginate(region, "ListFunctions", "Functions", 1);
    proxy.paginate(region, "ListAliases", "Aliases", 1);
    let lops = Lops::new(&proxy.url);
    let run = lops.run(&["status", "--json", "--regions", region]);
    run.assert_exit(0);
    let doc = run.json();
    let aliased = named(region_doc(&doc, region), &f);
    let names: Vec<&str> = aliased["aliases"]
        .as_array()
        .map(|a| a.iter().filter_map(|x| x["name"].as_str()).collect())
        .unwrap_or_default();
    assert_eq!(names, ["blue", "green", "live"], "{aliased:#}");
    assert_eq!(aliased["versions"], serde_json::json!(["1", "2"]));
    assert!(
        proxy.calls(region, "lambda", "ListAliases") >= 3,
        "{:#?}",
        proxy.all_calls()
    );
}
