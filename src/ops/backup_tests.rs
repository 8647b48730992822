//! Filter patterns; the demo's backups run through the same engine as AWS's: real manifests and blobs in the
//! simulated fleet's buckets, verified, listed, deduplicated.

use super::*;
use crate::config::Access;
use crate::provider::RegionSource;
use crate::provider::sim::{OUTAGE_PHASE, OUTAGE_REGION, SimClock, SimRegion, demo_regions};
use chrono::TimeZone;

#[test]
fn filter_patterns() {
    assert!(matches("orders-api", "orders"));
    assert!(matches("orders-api", "orders-*"));
    assert!(matches("orders-api", "*-api"));
    assert!(matches("orders-api", "o*s-a*"));
    assert!(!matches("orders-api", "pay*"));
    assert!(!matches("orders-api", "*-web"));
    assert!(matches("x", "*"));
}

fn start() -> chrono::DateTime<chrono::Utc> {
    chrono::Utc
        .with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .unwrap_or_default()
}

fn region(regions: &[SimRegion], name: &str) -> SimRegion {
    regions
        .iter()
        .find(|r| r.scope().region == name)
        .cloned()
        .expect("a demo region")
}

/// A demo function whose alias splits its traffic between two versions.
fn weighted(region: &SimRegion) -> crate::provider::sim::SimFunction {
    region
        .functions()
        .into_iter()
        .find(|f| {
            f.info
                .aliases
                .iter()
                .any(|a| !a.additional_weights.is_empty())
        })
        .expect("a demo function with a weighted alias")
}

fn named(functions: &[&str]) -> BackupRequest {
    BackupRequest {
        selection: Selection::Named(functions.iter().map(|f| f.to_string()).collect()),
        to: S3Uri::parse("s3://demo-backups/lops").expect("uri"),
        data: Vec::new(),
        storage_class: "STANDARD".into(),
        with_layers: false,
    }
}

#[tokio::test]
async fn a_demo_backup_writes_snapshots_that_verify_list_and_deduplicate() {
    let regions = demo_regions(7, &SimClock::fixed(start()), Access::default());
    let east = region(&regions, "us-east-1");
    let functions = east.functions();
    // One with a weighted alias, and another.
    let versioned = &weighted(&east);
    let plain = functions
        .iter()
        .find(|f| f.info.name != versioned.info.name)
        .expect("another demo function");
    let names = [versioned.info.name.as_str(), plain.info.name.as_str()];
    let report = run_backup(
        std::slice::from_ref(&east),
        &named(&names),
        Some(&test_log()),
        &|_| {},
    )
    .await
    .expect("backup");
    assert!(report.failed.is_empty(), "{:?}", report.failed);
    assert_eq!(report.snapshots.len(), 2);
    assert!(report.uploaded_blobs >= 2, "{report:?}");

    for captured in &report.snapshots {
        let uri = S3Uri::parse(&captured.snapshot).expect("snapshot uri");
        let (manifest, verified) = verify_snapshot(&east, &uri).await.expect("verify");
        assert!(verified.problems.is_empty(), "{:?}", verified.problems);
        assert_eq!(verified.blobs_checked, manifest.blobs.len());
        assert!(verified.blobs_checked >= 1);
        let source = functions
            .iter()
            .find(|f| f.info.name == manifest.function)
            .expect("the function backed up");
        let versions: Vec<&str> = manifest
            .versions
            .iter()
            .map(|v| v.version.as_str())
            .collect();
        assert_eq!(
            versions,
            source
                .info
                .versions
                .iter()
                .map(String::as_str)
                .collect::<Vec<_>>()
        );
        let aliases: Vec<(&str, &str)> = manifest
            .aliases
            .iter()
            .map(|a| (a.name.as_str(), a.function_version.as_str()))
            .collect();
        let mut expected: Vec<(&str, &str)> = source
            .info
            .aliases
            .iter()
            .map(|a| (a.name.as_str(), a.function_version.as_str()))
            .collect();
        expected.sort();
        assert_eq!(aliases, expected);
        let weighted: Vec<_> = manifest.aliases.iter().map(|a| a.weights.len()).collect();
        let configured: Vec<_> = {
            let mut all: Vec<_> = source.info.aliases.iter().collect();
            all.sort_by(|a, b| a.name.cmp(&b.name));
            all.iter().map(|a| a.additional_weights.len()).collect()
        };
        assert_eq!(weighted, configured);
        assert_eq!(
            manifest.reserved_concurrency,
            source.info.reserved_concurrency
        );
        assert_eq!(manifest.latest.config.memory_size, source.info.memory_mb);
    }

    // Another region's handle sees the same buckets; the listing shows both snapshots.
    let store = open_snapshot(
        &region(&regions, "eu-west-1"),
        &S3Uri::parse(&report.snapshots[0].snapshot).expect("uri"),
    )
    .await
    .expect("open");
    let listed = crate::backup::list(&store, None).await.expect("list");
    assert_eq!(listed.len(), 2, "{listed:?}");

    // Nothing changed: the second run stores no package again.
    let again = run_backup(
        std::slice::from_ref(&east),
        &named(&names),
        Some(&test_log()),
        &|_| {},
    )
    .await
    .expect("second backup");
    assert_eq!(again.snapshots.len(), 2);
    assert_eq!(again.uploaded_blobs, 0, "{again:?}");
}

#[tokio::test]
async fn a_demo_backup_names_an_unknown_function_and_the_region_in_its_outage() {
    let clock = SimClock::fixed(start());
    let regions = demo_regions(7, &clock, Access::default());
    let east = region(&regions, "us-east-1");
    let report = run_backup(
        std::slice::from_ref(&east),
        &named(&["no-such-fn"]),
        Some(&test_log()),
        &|_| {},
    )
    .await
    .expect("a run");
    assert_eq!(report.failed.len(), 1);
    assert!(report.failed[0].invalid);
    assert!(
        report.failed[0].error.contains("does not exist"),
        "{:?}",
        report.failed
    );

    let flaky = region(&regions, OUTAGE_REGION);
    let name = flaky.functions()[0].info.name.clone();
    clock.set(start() + chrono::TimeDelta::seconds(OUTAGE_PHASE.0 + 1));
    let report = run_backup(
        std::slice::from_ref(&flaky),
        &named(&[&name]),
        Some(&test_log()),
        &|_| {},
    )
    .await
    .expect("a run");
    assert!(report.snapshots.is_empty());
    assert!(
        report.failed[0].error.contains("timed out"),
        "{:?}",
        report.failed
    );
}

/// A restore run into eu-west-1 from `store`, of a target that did not exist.
fn into_west<'a>(
    west: &'a SimRegion,
    store: &'a Store,
) -> crate::backup::restore::Runner<'a, SimRegion> {
    crate::backup::restore::Runner {
        target: west,
        region: "eu-west-1",
        store,
        before: None,
        safety_uri: None,
        on_step: &|_| {},
        stop: None,
    }
}

/// Backs up `function` of us-east-1 and reads its manifest back, with the store holding it.
async fn snapshot_of(east: &SimRegion, function: &str) -> (Manifest, Store) {
    let report = run_backup(
        std::slice::from_ref(east),
        &named(&[function]),
        Some(&test_log()),
        &|_| {},
    )
    .await
    .expect("backup");
    let uri = S3Uri::parse(&report.snapshots[0].snapshot).expect("uri");
    let store = open_snapshot(east, &uri).await.expect("open");
    let manifest = crate::backup::load_manifest(&store, &uri)
        .await
        .expect("manifest");
    (manifest, store)
}

async fn restore_difference(
    target: &SimRegion,
    manifest: &Manifest,
    name: &str,
) -> crate::backup::restore::Difference {
    use crate::backup::restore::{difference_among, layer_copies, read_current};
    let current = read_current(target, name).await.expect("read the target");
    let copies = layer_copies(target, manifest).await.expect("layer copies");
    difference_among(
        manifest,
        current.as_ref(),
        &copies,
        &crate::backup::restore::Target {
            function: name,
            region: &target.scope().region,
            ..Default::default()
        },
    )
}

fn restore_request(snapshot: &str, name: Option<&str>) -> RestoreRequest {
    RestoreRequest {
        snapshot: S3Uri::parse(snapshot).expect("uri"),
        name: name.map(str::to_string),
        role: None,
        data_to: None,
        skip_data: false,
        map_sources: false,
        exact: false,
        mappings_disabled: false,
        whole_snapshot: false,
        assume_role: None,
    }
}

#[tokio::test]
async fn a_demo_snapshot_restores_through_the_ops_layer_into_another_region_and_over_itself() {
    use crate::backup::restore::read_current;
    use crate::provider::function::FunctionWrites;
    let regions = demo_regions(7, &SimClock::fixed(start()), Access::default());
    let (east, west) = (region(&regions, "us-east-1"), region(&regions, "eu-west-1"));
    let source = weighted(&east);
    let report = run_backup(
        std::slice::from_ref(&east),
        &named(&[&source.info.name]),
        Some(&test_log()),
        &|_| {},
    )
    .await
    .expect("backup");
    let snapshot = report.snapshots[0].snapshot.clone();
    let manifest = snapshot_of(&east, &source.info.name).await.0;
    let dir = tempfile::tempdir().expect("a temporary directory");
    let audit = AuditLog::at(dir.path().join("audit.jsonl"));

    // Into another region, under another name: a new function.
    let request = restore_request(&snapshot, Some("restored-copy"));
    let preview = prepare_restore(&west, &request, None)
        .await
        .expect("preview");
    assert!(!preview.difference.exists);
    assert!(!preview.difference.steps.is_empty());
    let done = execute_restore(&west, &preview, Some(&audit), &|_| {}, None)
        .await
        .expect("restore");
    assert_eq!(done.restored.steps, preview.difference.steps.len());
    assert_eq!(done.safety_snapshot, None);
    let now = read_current(&west, "restored-copy")
        .await
        .expect("read back")
        .expect("the restored function");
    assert_eq!(now.versions.len(), manifest.versions.len());
    assert_eq!(now.reserved, manifest.reserved_concurrency);
    assert_eq!(now.tags, manifest.tags);
    assert_eq!(
        now.latest.as_ref().map(|(c, sha)| (c, sha.as_str())),
        Some((
            &manifest.latest.config,
            manifest.latest.code.lambda_sha256()
        ))
    );
    // The aliases route the same way, to the target's numbers of the same versions.
    let versions = &done.restored.versions;
    for alias in &manifest.aliases {
        let got = now
            .aliases
            .iter()
            .find(|a| a.name == alias.name)
            .expect("the alias");
        assert_eq!(got.function_version, versions[&alias.function_version]);
        let weights: BTreeMap<String, f64> = alias
            .weights
            .iter()
            .map(|(v, w)| (versions[v].clone(), *w))
            .collect();
        assert_eq!(got.weights, weights);
    }
    // The dashboard's fleet shows it in its new region; a rerun finds nothing to do.
    assert!(
        west.functions()
            .iter()
            .any(|f| f.info.name == "restored-copy")
    );
    let again = prepare_restore(&west, &request, None)
        .await
        .expect("second preview");
    assert!(
        again.difference.steps.is_empty(),
        "{:?}",
        again.difference.steps
    );

    // Over itself, after someone changed its reservation: a safety snapshot first.
    let changed = manifest
        .reserved_concurrency
        .map_or(Some(7), |n| Some(n + 1));
    east.set_reserved(&source.info.name, changed)
        .await
        .expect("change it");
    let preview = prepare_restore(&east, &restore_request(&snapshot, None), None)
        .await
        .expect("preview over itself");
    assert!(preview.difference.exists);
    let done = execute_restore(&east, &preview, Some(&audit), &|_| {}, None)
        .await
        .expect("restore over itself");
    assert!(done.safety_snapshot.is_some());
    let now = read_current(&east, &source.info.name)
        .await
        .expect("read back")
        .expect("the function");
    assert_eq!(now.reserved, manifest.reserved_concurrency);
    let records = std::fs::read_to_string(dir.path().join("audit.jsonl")).expect("audit");
    assert_eq!(
        records
            .lines()
            .filter(|l| l.contains(r#""action":"restore""#))
            .count(),
        2,
        "{records}"
    );
    // Each began with a record written before its first change.
    assert_eq!(
        records
            .lines()
            .filter(|l| l.contains(r#""action":"restore.begin""#))
            .count(),
        2,
        "{records}"
    );

    // Someone changes the target between the preview and the confirmation: nothing is
    // restored, and it is a conflict (exit 1), not bad input.
    east.set_reserved(&source.info.name, changed)
        .await
        .expect("change it");
    let preview = prepare_restore(&east, &restore_request(&snapshot, None), None)
        .await
        .expect("preview");
    east.set_reserved(&source.info.name, Some(3))
        .await
        .expect("someone else changes it");
    let conflict = execute_restore(&east, &preview, Some(&audit), &|_| {}, None).await;
    assert!(
        matches!(&conflict, Err(BackupError::Conflict(m)) if m.contains("changed since the preview")),
        "{conflict:?}"
    );
    assert_eq!(
        crate::exit::Failure::from(conflict.expect_err("conflict")).exit,
        crate::exit::Exit::Refused
    );
    let now = read_current(&east, &source.info.name)
        .await
        .expect("read back")
        .expect("the function");
    assert_eq!(now.reserved, Some(3));

    // A read-only scope may back up, not restore.
    let read_only = demo_regions(
        7,
        &SimClock::fixed(start()),
        Access::new(crate::config::Tier::Read, false),
    );
    let refused = prepare_restore(&region(&read_only, "eu-west-1"), &request, None).await;
    assert!(
        matches!(refused, Err(BackupError::Refused(_))),
        "{refused:?}"
    );
}

#[tokio::test]
async fn a_demo_restore_that_fails_half_way_is_undone_whole() {
    use crate::backup::restore::{Step, read_current};
    let regions = demo_regions(7, &SimClock::fixed(start()), Access::default());
    let (east, west) = (region(&regions, "us-east-1"), region(&regions, "eu-west-1"));
    let source = east.functions()[0].info.name.clone();
    let (mut manifest, store) = snapshot_of(&east, &source).await;
    // The demo has no function URLs: this step fails after the function, its versions and
    // aliases are in place.
    manifest.function_url = Some(serde_json::json!({"auth_type": "NONE"}));

    let difference = restore_difference(&west, &manifest, "half-way").await;
    assert!(
        difference
            .steps
            .iter()
            .any(|s| matches!(s, Step::Url { .. }))
    );
    assert!(
        difference
            .steps
            .iter()
            .any(|s| matches!(s, Step::Create { .. }))
    );
    assert!(
        difference
            .steps
            .iter()
            .any(|s| matches!(s, Step::Alias { .. }))
    );
    let runner = into_west(&west, &store);
    let failed = runner
        .run(&difference)
        .await
        .expect_err("the URL step fails");
    assert!(
        failed.to_string().contains("every change was undone"),
        "{failed}"
    );
    assert_eq!(read_current(&west, "half-way").await.expect("read"), None);
    assert!(!west.functions().iter().any(|f| f.info.name == "half-way"));
}

#[tokio::test]
async fn a_function_that_appears_under_the_restores_name_is_taken_only_when_it_is_the_same() {
    use crate::backup::restore::{Step, read_current};
    use crate::provider::function::{CodeInput, FunctionWrites};
    let regions = demo_regions(7, &SimClock::fixed(start()), Access::default());
    let (east, west) = (region(&regions, "us-east-1"), region(&regions, "eu-west-1"));
    let source = east.functions()[0].info.name.clone();
    let (manifest, store) = snapshot_of(&east, &source).await;

    for (name, memory, ours) in [("same-twin", None, true), ("other-twin", Some(4096), false)] {
        // Worked out while the name is free; then a function of that name appears with the
        // package the restore creates it with (a retry of a create that timed out, or
        // someone else's).
        let plan = restore_difference(&west, &manifest, name).await;
        let Some(Step::Create { config, code }) = plan.steps.first() else {
            panic!(
                "a restore under a free name creates first: {:?}",
                plan.steps
            );
        };
        let crate::backup::manifest::Code::Zip { sha256, size, .. } = code else {
            panic!("a demo package is a zip: {code:?}");
        };
        let package = store.get_blob(sha256, *size).await.expect("the package");
        let mut config = config.clone();
        if let Some(m) = memory {
            config.memory_size = Some(m);
        }
        let made = west
            .create_function(name, &config, CodeInput::Zip(package))
            .await
            .expect("create");
        assert!(made);
        let runner = into_west(&west, &store);
        let result = runner.run(&plan).await;
        let now = read_current(&west, name)
            .await
            .expect("read")
            .expect("there");
        if ours {
            assert!(result.is_ok(), "{result:?}");
            assert_eq!(now.versions.len(), manifest.versions.len());
        } else {
            let e = result.expect_err("someone else's function");
            assert!(e.to_string().contains("appeared"), "{e}");
            // Not ours: left as it was, nothing added to it.
            assert_eq!(now.latest.map(|(c, _)| c.memory_size), Some(Some(4096)));
            assert!(now.versions.is_empty());
        }
    }
}

/// An audit log of its own in the temporary directory (an action needs one: no audit, no
/// change).
fn test_log() -> AuditLog {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    AuditLog::at(std::env::temp_dir().join(format!(
        "lops-backup-tests-{}-{n}/audit.jsonl",
        std::process::id()
    )))
}

#[test]
fn a_backup_asks_a_yes_and_the_typed_target_on_production_only() {
    use crate::config::{Access, Tier};
    use crate::ops::Confirmation;
    use crate::provider::Scope;
    let scope = |production| Scope::new("p", "us-east-1", Access::new(Tier::Read, production));
    let (plain, prod) = (scope(false), scope(true));
    let one = ["orders".to_string()];
    let two = ["orders".to_string(), "billing".to_string()];
    let ask = |f: &[String], all, s: &[&Scope]| {
        crate::ops::backup::backup_confirmation(f, all, s.iter().copied())
    };
    assert_eq!(ask(&one, false, &[&plain]), Confirmation::Yes);
    assert_eq!(ask(&two, true, &[&plain, &plain]), Confirmation::Yes);
    assert_eq!(
        ask(&one, false, &[&plain, &prod]),
        Confirmation::Typed("orders".into())
    );
    // The same function in two regions is one name to type; several, or --all, type `backup`.
    let twice = ["orders".to_string(), "orders".to_string()];
    assert_eq!(
        ask(&twice, false, &[&prod]),
        Confirmation::Typed("orders".into())
    );
    assert_eq!(
        ask(&two, false, &[&prod]),
        Confirmation::Typed("backup".into())
    );
    assert_eq!(
        ask(&[], true, &[&prod]),
        Confirmation::Typed("backup".into())
    );
}
