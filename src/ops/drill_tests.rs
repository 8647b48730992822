//! Tests of `drill.rs`: the copies a drill leaves, and what it names.
use super::*;

#[test]
fn only_a_drill_copys_unfinished_restore_is_a_leftover() {
    let dir = tempfile::tempdir().expect("dir");
    let log = AuditLog::at(dir.path().join("audit.jsonl"));
    let scope = crate::provider::Scope::new("default", "us-east-1", Default::default());
    let snap =
        |f: &str| json!({"snapshot": format!("s3://backups/lops/snapshots/us-east-1/{f}/1.json")});
    let at = |action: &str, target: &str, region: &str, time: &str, after: serde_json::Value| {
        let mut r = record(&scope, "me", action, target, json!({}), after, &Ok(()));
        r.region = region.into();
        r.time = time.into();
        log.append(&r).expect("append");
    };
    let long_ago = "2020-01-01T00:00:00Z";
    let rec = |action: &str, target: &str, region: &str| {
        at(action, target, region, long_ago, snap("orders"));
    };
    rec("restore.begin", "orders-drill-101010123", "us-east-1");
    rec("restore.begin", "orders-drill-202020123", "us-east-1");
    rec("drill", "orders-drill-202020123", "us-east-1");
    rec("restore.begin", "orders-drill-eu", "us-east-1");
    rec("restore.begin", "orders-drill-303030123", "eu-west-1");
    rec("restore.begin", "orders-api-drill-404040123", "us-east-1");
    // A drill that may still be running (it began just now) is not a leftover yet: named,
    // not deleted.
    let now = chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
    at(
        "restore.begin",
        "orders-drill-505050123",
        "us-east-1",
        &now,
        snap("orders"),
    );
    // A copy of another function's snapshot (long names share the shortened prefix).
    at(
        "restore.begin",
        "orders-drill-606060123",
        "us-east-1",
        long_ago,
        snap("orders2"),
    );
    // Begun just now by a process of this machine that is gone (killed): a leftover at
    // once; by one that runs (this one), or another machine's, not yet.
    let mut child = std::process::Command::new("true").spawn().expect("spawn");
    let dead = child.id();
    child.wait().expect("wait");
    let by = |host: &str, pid: u32| {
        let mut after = snap("orders");
        after["process"] = json!({"host": host, "pid": pid});
        after
    };
    let here = crate::process::host_name();
    at(
        "restore.begin",
        "orders-drill-707070123",
        "us-east-1",
        &now,
        by(&here, dead),
    );
    at(
        "restore.begin",
        "orders-drill-808080123",
        "us-east-1",
        &now,
        by(&here, std::process::id()),
    );
    at(
        "restore.begin",
        "orders-drill-909090123",
        "us-east-1",
        &now,
        by("another-machine", dead),
    );
    assert_eq!(
        leftover_copies(Some(&log), &scope, "orders"),
        [
            ("orders-drill-101010123".to_string(), true),
            ("orders-drill-505050123".to_string(), false),
            ("orders-drill-707070123".to_string(), true),
            ("orders-drill-808080123".to_string(), false),
            ("orders-drill-909090123".to_string(), false),
        ]
    );
}

#[test]
fn copies_have_short_dated_names() {
    let now = chrono::DateTime::from_timestamp(1_700_000_000, 0).unwrap_or_default();
    assert_eq!(copy_name("orders", now), "orders-drill-221320000");
    assert_eq!(copy_name(&"x".repeat(80), now).len(), 64);
    let uri =
        S3Uri::parse("s3://acme-backups/lops/snapshots/us-east-1/orders/20261125T104502.123Z.json")
            .expect("uri");
    assert_eq!(function_of(&uri).ok().as_deref(), Some("orders"));
}
