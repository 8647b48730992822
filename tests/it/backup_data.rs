//! S3 data backups where the data does not hold still: an object rewritten between its HEAD and
//! its copy (S3 answers the copy's if-match with 412), folder markers. Through the fault proxy
//! in front of moto (moto ignores x-amz-copy-source-if-match: what S3 does with it is the rule's).
//!
//! Regions: ap-southeast-5, and mx-central-1 for a restore over live data (shared with backup.rs
//! by unique bucket and function names).

use aws_sdk_s3::primitives::ByteStream;

use crate::backup::{
    DR, Fixture, HOME, PROXIED, create_bucket, listed_entry, s3_client, snapshot_of,
};
use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy, Rule};

async fn put(fx: &Fixture, bucket: &str, key: &str, body: &[u8]) -> String {
    fx.s3
        .put_object()
        .bucket(bucket)
        .key(key)
        .body(ByteStream::from(body.to_vec()))
        .send()
        .await
        .unwrap_or_else(|e| panic!("put {key}: {e:?}"))
        .e_tag()
        .unwrap_or_default()
        .to_string()
}

/// A fixture in `region` (named by `tag`), a plain function (its name from `name`) and an
/// empty source bucket for its data (`src-{tag}-…`): (fixture, function, bucket).
async fn function_and_source(region: &str, tag: &str, name: &str) -> (Fixture, String, String) {
    let fx = Fixture::new(region, tag).await;
    let name = moto::unique(name);
    fx.plain_function(&name).await;
    let source = moto::unique(&format!("src-{tag}-"));
    create_bucket(&fx.s3, &source, region).await;
    (fx, name, source)
}

fn backup(
    fx: &Fixture,
    proxy: &FaultProxy,
    function: &str,
    data: &str,
) -> crate::support::cli::Run {
    fx.lops(&proxy.url).run(&[
        "backup",
        "run",
        "--yes",
        "--fn",
        function,
        "--region",
        PROXIED,
        "--to",
        &fx.to(),
        "--data",
        data,
        "--json",
    ])
}

/// A copy refused because the object changed since its HEAD (412) is made again of the version
/// read again, so the snapshot records the size of what it holds and verifies; an object that
/// keeps changing fails the backup naming it, never a snapshot that cannot be restored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_object_rewritten_during_the_copy_is_read_again_and_never_recorded_half() {
    let fx = Fixture::new(PROXIED, "churn").await;
    let name = moto::unique("churn");
    fx.function(&name).await;
    let source = moto::unique("src-churn-");
    create_bucket(&fx.s3, &source, PROXIED).await;
    let etag = put(&fx, &source, "exports/a.json", br#"{"n": 1}"#).await;
    put(&fx, &source, "exports/folder/", b"").await;
    let proxy = FaultProxy::start(moto::url());
    let copy_to_store = format!("PUT /{}/lops/data/*", fx.bucket);
    proxy.add(Rule {
        region: PROXIED.into(),
        service: Some("s3".into()),
        operation: Some(copy_to_store.clone()),
        fault: Fault::Code(412, "PreconditionFailed"),
        remaining: Some(1),
    });
    let data = format!("s3://{source}/exports");
    let run = backup(&fx, &proxy, &name, &data);
    let snapshot = snapshot_of(&run);
    // Every copy named the ETag its HEAD saw; the refused one was read (HEAD) again.
    let conditions = proxy.copy_conditions();
    let of = |key: &str| -> Vec<&String> {
        conditions
            .iter()
            .filter(|(_, from, _)| from.ends_with(key))
            .map(|(_, _, want)| want)
            .collect()
    };
    assert_eq!(of("exports/a.json"), [&etag, &etag], "{conditions:?}");
    assert_eq!(of("exports/folder/").len(), 1, "{conditions:?}");
    assert_eq!(
        conditions.len(),
        3,
        "two objects, one copied twice: {conditions:?}"
    );
    let heads = proxy.calls_where(PROXIED, "s3", |op| {
        op.starts_with(&format!("HEAD /{source}/exports/"))
    });
    assert_eq!(heads, 3, "one HEAD per copy");
    // The folder marker is kept like any object.
    assert_eq!(run.json()["data"][0]["objects"], 2, "{}", run.stdout);
    let verify = fx
        .lops(moto::url())
        .run(&["backup", "verify", &snapshot, "--json"]);
    verify.assert_exit(0);
    assert_eq!(verify.json()["data_objects_checked"], 2);

    // Changing at every attempt: the function's backup fails, naming the object.
    proxy.add(Rule::s3(
        PROXIED,
        copy_to_store.to_string(),
        Fault::Code(412, "PreconditionFailed"),
    ));
    let run = backup(&fx, &proxy, &name, &data);
    assert_ne!(run.code, 0, "{}", run.stdout);
    let text = format!("{}{}", run.stdout, run.stderr);
    assert!(
        text.contains("changed 3 times while it was being copied"),
        "{text}"
    );
    assert!(text.contains("exports/"), "{text}");
}

/// `--data` that overlaps the backup location is refused before anything is written (it would
/// copy the store into itself, growing each run); a source with no objects (a mistyped prefix)
/// is said, and the run is not complete for a script (exit 3) though its snapshot stands.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_that_overlaps_the_store_is_refused_and_an_empty_source_is_said() {
    let fx = Fixture::new(PROXIED, "overlap").await;
    let name = moto::unique("overlap");
    fx.function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    for data in [
        format!("s3://{}", fx.bucket),
        fx.to(),
        format!("{}/data", fx.to()),
    ] {
        let run = backup(&fx, &proxy, &name, &data);
        run.assert_exit(2);
        assert!(
            run.stderr.contains("overlaps the backup location"),
            "{}",
            run.stderr
        );
    }
    assert_eq!(
        proxy.calls_where(PROXIED, "s3", |op| op.starts_with("PUT ")),
        0,
        "nothing written"
    );
    let source = moto::unique("src-empty-");
    create_bucket(&fx.s3, &source, PROXIED).await;
    put(&fx, &source, "exports/a.json", b"{}").await;
    let run = backup(&fx, &proxy, &name, &format!("s3://{source}/exprots"));
    run.assert_exit(3);
    assert!(
        run.stderr
            .contains(&format!("s3://{source}/exprots holds no objects")),
        "{}",
        run.stderr
    );
    assert_eq!(run.json()["snapshots"].as_array().map(Vec::len), Some(1));
}

/// Keys as S3 holds them, an empty segment included (`exports//x`), are copied as themselves
/// (never folded into `exports/x`); one deleted between its HEAD and its copy (404 NoSuchKey on
/// the copy) is left out like one deleted before, and the run goes on.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn keys_are_copied_exactly_and_one_deleted_mid_copy_is_left_out() {
    let fx = Fixture::new(PROXIED, "exact").await;
    let name = moto::unique("exact");
    fx.function(&name).await;
    let source = moto::unique("src-exact-");
    create_bucket(&fx.s3, &source, PROXIED).await;
    put(&fx, &source, "exports//double.txt", b"double").await;
    put(&fx, &source, "exports/double.txt", b"single").await;
    put(&fx, &source, "exports/zz-gone.txt", b"gone").await;
    let proxy = FaultProxy::start(moto::url());
    // The copies go in key order: the third (zz-gone.txt) finds its source deleted.
    proxy.add_after(
        2,
        Rule {
            region: PROXIED.into(),
            service: Some("s3".into()),
            operation: Some(format!("PUT /{}/lops/data/*", fx.bucket)),
            fault: Fault::Code(404, "NoSuchKey"),
            remaining: Some(1),
        },
    );
    let run = backup(&fx, &proxy, &name, &format!("s3://{source}/exports"));
    let snapshot = snapshot_of(&run);
    assert_eq!(run.json()["data"][0]["objects"], 2, "{}", run.stdout);
    let copy = run.json()["data"][0]["copy"]
        .as_str()
        .expect("copy")
        .to_string();
    let root = copy
        .strip_prefix(&format!("s3://{}/", fx.bucket))
        .expect("copy in the store")
        .to_string();
    assert_eq!(
        fx.get(&fx.bucket, &format!("{root}//double.txt"))
            .await
            .as_deref(),
        Some(&b"double"[..])
    );
    assert_eq!(
        fx.get(&fx.bucket, &format!("{root}/double.txt"))
            .await
            .as_deref(),
        Some(&b"single"[..])
    );
    fx.lops(moto::url())
        .run(&["backup", "verify", &snapshot])
        .assert_exit(0);
}

/// No audit, no change, for a prune too: its record (with what it is to delete) is written
/// before the first delete, so one killed half-way still says what it was doing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_is_recorded_before_it_deletes() {
    let fx = Fixture::new(PROXIED, "prunerec").await;
    let name = moto::unique("prunerec");
    fx.function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    let lops = fx.lops(&proxy.url);
    for _ in 0..2 {
        let run = lops.run(&[
            "backup",
            "run",
            "--yes",
            "--fn",
            &name,
            "--region",
            PROXIED,
            "--to",
            &fx.to(),
            "--json",
        ]);
        snapshot_of(&run);
    }
    // The delete never comes back.
    proxy.add(Rule::s3(
        PROXIED,
        format!("POST /{}*", fx.bucket),
        Fault::Hang,
    ));
    let posts = || proxy.calls_where(PROXIED, "s3", |op| op.starts_with("POST "));
    let before = posts();
    let mut child = lops.spawn(&[
        "backup",
        "prune",
        "--to",
        &fx.to(),
        "--region",
        PROXIED,
        "--keep-last",
        "1",
        "--yes",
    ]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while posts() == before {
        assert!(std::time::Instant::now() < deadline, "no delete was sent");
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let _ = child.kill();
    let _ = child.wait();
    let audit = lops.run(&["audit", "--json"]).json();
    let prune = audit
        .as_array()
        .and_then(|a| a.iter().find(|r| r["action"] == "backup.prune"))
        .cloned()
        .expect("a prune record");
    assert_eq!(prune["result"], "started", "{prune}");
    assert_eq!(
        prune["after"]["deleting_manifests"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{prune}"
    );
}

/// Data is copied before the functions are read: with no named function anywhere, nothing is
/// copied (the copies would only wait for a prune), and the run says which name it missed.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_is_not_copied_for_a_function_that_does_not_exist() {
    let fx = Fixture::new(PROXIED, "nofn").await;
    let source = moto::unique("src-nofn-");
    create_bucket(&fx.s3, &source, PROXIED).await;
    put(&fx, &source, "exports/a.json", b"{}").await;
    let proxy = FaultProxy::start(moto::url());
    let missing = moto::unique("no-such-fn");
    let run = backup(&fx, &proxy, &missing, &format!("s3://{source}/exports"));
    run.assert_exit(2);
    assert!(
        run.stderr.contains(&format!("no function named {missing}")),
        "{}",
        run.stderr
    );
    let copied = fx
        .s3
        .list_objects_v2()
        .bucket(&fx.bucket)
        .prefix("lops/data/")
        .send()
        .await
        .expect("list")
        .key_count()
        .unwrap_or(0);
    assert_eq!(copied, 0, "orphan data copies");
}

/// Data restored over the live bucket it came from writes over objects changed since the
/// backup, and S3 keeps nothing of them: the preview counts and names them and says it cannot
/// be undone, the restore asks for the typed name (also for a function that no longer exists),
/// the result says how many it overwrote, and the audit record carries the count.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_restored_over_changed_live_objects_is_announced_and_typed() {
    let (fx, name, source) = function_and_source(HOME, "overw", "overw").await;
    put(&fx, &source, "exports/a.json", b"as backed up").await;
    put(&fx, &source, "exports/b.json", b"b").await;
    put(&fx, &source, "exports/c.json", b"c").await;
    let lops = fx.lops(moto::url());
    let snapshot = backed_up_with_data(&lops, &fx, &name, HOME, &source);
    // Since the backup: one object edited, one deleted, the function lost.
    put(&fx, &source, "exports/a.json", b"edited live").await;
    fx.s3
        .delete_object()
        .bucket(&source)
        .key("exports/b.json")
        .send()
        .await
        .expect("delete");
    fx.seeder
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("delete function");

    let dry = lops.run(&["restore", &snapshot, "--dry-run"]);
    dry.assert_exit(0);
    let to = format!("s3://{source}/exports");
    assert!(dry.stderr.contains("+ copy 2 objects"), "{}", dry.stderr);
    assert!(
        dry.stderr.contains(&format!(
            "overwrites 1 existing object(s) at {to} that differ from the snapshot (a.json)"
        )) && dry.stderr.contains("cannot be undone"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr.contains(&format!("1 object(s) already at {to}")),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr
            .contains(&format!("a real run asks for the typed name: \"{name}\"")),
        "{}",
        dry.stderr
    );

    let done = lops.run(&["restore", &snapshot, "--yes"]);
    done.assert_exit(0);
    assert!(
        done.stderr
            .contains("2 object(s) copied back, 1 of them over existing objects that differed"),
        "{}",
        done.stderr
    );
    assert_eq!(
        fx.get(&source, "exports/a.json").await.as_deref(),
        Some(&b"as backed up"[..])
    );
    let audit = lops.run(&["audit", "--json"]).json();
    let begin = audit
        .as_array()
        .and_then(|a| a.iter().find(|r| r["action"] == "restore.begin"))
        .cloned()
        .expect("a restore.begin record");
    assert_eq!(begin["after"]["data_overwrites"], 1, "{begin}");
}

/// An object written at the destination while the function is being restored (after the
/// comparison before the first change) is never replaced unannounced: the destination is read
/// again right before the data copy, and the change stops it. The function was restored by
/// then: a failure (1), not "refused, nothing sent" (4).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn data_written_while_the_function_is_restored_is_not_copied_over() {
    let (fx, name, source) = function_and_source(PROXIED, "midw", "midw").await;
    put(&fx, &source, "exports/a.json", b"as backed up").await;
    let lops = fx.lops(moto::url());
    let snapshot = backed_up_with_data(&lops, &fx, &name, PROXIED, &source);
    fx.s3
        .delete_object()
        .bucket(&source)
        .key("exports/a.json")
        .send()
        .await
        .expect("delete");
    // The function's creation takes a while; meanwhile someone writes the object back.
    let proxy = fx.lost_with_slow_recreate(&name).await;
    let lops = fx.lops(&proxy.url);
    let child = lops.spawn(&["restore", &snapshot, "--yes"]);
    proxy.wait_for_call(PROXIED, "lambda", "CreateFunction", 60);
    put(&fx, &source, "exports/a.json", b"written meanwhile").await;
    let (code, stderr) = crate::support::cli::finish(child, 60);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains("the function was restored, but the data")
            && stderr.contains("changed since the preview")
            && stderr.contains("none after"),
        "{stderr}"
    );
    assert_eq!(
        fx.get(&source, "exports/a.json").await.as_deref(),
        Some(&b"written meanwhile"[..])
    );
}

/// A backup store replicated to a bucket in another region (S3 replication) is read whole from
/// the replica — its data copies as well as its blobs — never from the primary its manifests
/// were written to (the one that may be down): verify checks the replica's copies and a restore
/// copies from there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_replicated_store_reads_its_data_from_the_replica_not_the_primary() {
    let (fx, name, source) = function_and_source(HOME, "repl", "repl").await;
    put(&fx, &source, "exports/a.json", b"a as backed up").await;
    put(&fx, &source, "exports/b.json", b"b").await;
    let lops = fx.lops(moto::url());
    let snapshot = backed_up_with_data(&lops, &fx, &name, HOME, &source);

    // The store replicated object by object to the DR region; then the primary's data lost.
    let replica = moto::unique("bk-replica-");
    let dr = s3_client(DR).await;
    create_bucket(&dr, &replica, DR).await;
    let listed = fx
        .s3
        .list_objects_v2()
        .bucket(&fx.bucket)
        .prefix("lops/")
        .send()
        .await
        .expect("list the store");
    let mut data_keys = Vec::new();
    for o in listed.contents() {
        let key = o.key().expect("a key");
        dr.copy_object()
            .bucket(&replica)
            .key(key)
            .copy_source(format!("{}/{key}", fx.bucket))
            .send()
            .await
            .unwrap_or_else(|e| panic!("replicate {key}: {e:?}"));
        if key.starts_with("lops/data/") {
            data_keys.push(key.to_string());
        }
    }
    assert_eq!(data_keys.len(), 2, "{data_keys:?}");
    for key in &data_keys {
        fx.s3
            .delete_object()
            .bucket(&fx.bucket)
            .key(key)
            .send()
            .await
            .expect("delete from the primary");
    }
    let at_replica = snapshot.replacen(
        &format!("s3://{}/", fx.bucket),
        &format!("s3://{replica}/"),
        1,
    );
    assert_ne!(at_replica, snapshot);

    let verified = lops.run(&["backup", "verify", &at_replica, "--json"]);
    verified.assert_exit(0);
    let report = verified.json();
    assert_eq!(report["data_objects_checked"], 2, "{report}");
    assert_eq!(report["problems"], serde_json::json!([]), "{report}");
    // A prune of the replica keeps the data copies of the snapshot it keeps (they are under
    // the replica's root, not at the address the manifest recorded).
    let prune = lops.run(&[
        "backup",
        "prune",
        "--to",
        &format!("s3://{replica}/lops"),
        "--region",
        HOME,
        "--keep-last",
        "1",
        "--grace",
        "0s",
        "--yes",
        "--json",
    ]);
    prune.assert_exit(0);
    let verified = lops.run(&["backup", "verify", &at_replica, "--json"]);
    verified.assert_exit(0);
    assert_eq!(
        verified.json()["data_objects_checked"],
        2,
        "{}",
        prune.stdout
    );

    // The live object lost too: the restore copies it back from the replica.
    fx.s3
        .delete_object()
        .bucket(&source)
        .key("exports/a.json")
        .send()
        .await
        .expect("delete");
    let dry = lops.run(&["restore", &at_replica, "--dry-run"]);
    dry.assert_exit(0);
    assert!(
        dry.stderr.contains(&format!(
            "+ copy 1 object (14 bytes) from s3://{replica}/lops/data/"
        )),
        "{}",
        dry.stderr
    );
    // Through the proxy, which reads each request's region from its signature: the copy and
    // the destination's reads go to the destination bucket's region (HOME), not the
    // replica's (DR), where S3 would answer with a redirect.
    let proxy = FaultProxy::start(moto::url());
    let done = fx.lops(&proxy.url).run(&["restore", &at_replica, "--yes"]);
    done.assert_exit(0);
    assert_eq!(
        fx.get(&source, "exports/a.json").await.as_deref(),
        Some(&b"a as backed up"[..])
    );
    let to_source = |region: &str, method: &str| {
        proxy.calls_where(region, "s3", |op| {
            op.starts_with(&format!("{method} /{source}/exports/"))
        })
    };
    assert_eq!(to_source(HOME, "PUT"), 1, "{:?}", proxy.all_calls());
    assert_eq!(
        to_source(DR, "PUT") + to_source(DR, "HEAD"),
        0,
        "{:?}",
        proxy.all_calls()
    );
    assert!(to_source(HOME, "HEAD") >= 2, "{:?}", proxy.all_calls());

    // A profile that may write objects there but not list the bucket: HeadBucket answers 403
    // naming its region, and the copy still goes there (not through the replica's client).
    fx.s3
        .delete_object()
        .bucket(&source)
        .key("exports/a.json")
        .send()
        .await
        .expect("delete");
    proxy.add(Rule::s3(
        HOME,
        format!("HEAD /{source}/"),
        Fault::BucketDenied(HOME),
    ));
    let done = fx.lops(&proxy.url).run(&["restore", &at_replica, "--yes"]);
    done.assert_exit(0);
    assert_eq!(
        fx.get(&source, "exports/a.json").await.as_deref(),
        Some(&b"a as backed up"[..])
    );
    assert!(
        proxy.calls_where(HOME, "s3", |op| op == format!("HEAD /{source}/")) >= 1,
        "{:?}",
        proxy.all_calls()
    );
    assert_eq!(to_source(HOME, "PUT"), 2, "{:?}", proxy.all_calls());
    assert_eq!(
        to_source(DR, "PUT") + to_source(DR, "HEAD"),
        0,
        "{:?}",
        proxy.all_calls()
    );
}

/// Ctrl-C while a restore copies its data back: the copy under way ends whole, the rest is not
/// sent, the function stays restored (its data copy is not undone), and both the message at
/// the key press and the result say so (exit 1); running again copies the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_the_data_copy_stops_it_and_says_the_function_stays_restored() {
    let (fx, name, source) = function_and_source(PROXIED, "cpstop", "cpstop").await;
    for key in ["a", "b", "c"] {
        put(&fx, &source, &format!("exports/{key}.json"), key.as_bytes()).await;
    }
    let lops = fx.lops(moto::url());
    let snapshot = backed_up_with_data(&lops, &fx, &name, PROXIED, &source);
    // The function lost, and its data: the restore makes it, then copies three objects back,
    // each taking a while.
    for key in ["a", "b", "c"] {
        fx.s3
            .delete_object()
            .bucket(&source)
            .key(format!("exports/{key}.json"))
            .send()
            .await
            .expect("delete");
    }
    fx.seeder
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("delete function");
    let proxy = FaultProxy::start(moto::url());
    let copy = format!("PUT /{source}/exports/");
    proxy.add(Rule::s3(
        PROXIED,
        format!("{copy}*"),
        Fault::Delay(std::time::Duration::from_secs(2)),
    ));
    let slow = fx.lops(&proxy.url);
    let copies = || proxy.calls_where(PROXIED, "s3", |op| op.starts_with(&copy));
    let (code, stderr) =
        crate::restore::interrupted(&slow, &["restore", &snapshot, "--yes"], || copies() >= 1);
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "stopping the data copy: the object under way ends, the function stays restored"
        ),
        "{stderr}"
    );
    assert!(
        stderr.contains("stopped by Ctrl-C while copying data back: the function was restored and 1 of 3 objects copied back"),
        "{stderr}"
    );
    assert_eq!(copies(), 1);
    let mut present = 0;
    for key in ["a", "b", "c"] {
        present += usize::from(
            fx.get(&source, &format!("exports/{key}.json"))
                .await
                .is_some(),
        );
    }
    assert_eq!(present, 1);
    fx.seeder
        .lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .expect("the function stays restored");
    // The log says it was stopped, not that it failed.
    let audit = slow.run(&["audit"]);
    assert!(
        audit
            .stdout
            .lines()
            .any(|l| l.contains(" restore ")
                && l.contains("stopped (Ctrl-C), data not all copied")),
        "{}",
        audit.stdout
    );
    // Run again: the rest is copied.
    proxy.heal();
    slow.run(&["restore", &snapshot, "--yes"]).assert_exit(0);
    for key in ["a", "b", "c"] {
        assert_eq!(
            fx.get(&source, &format!("exports/{key}.json"))
                .await
                .as_deref(),
            Some(key.as_bytes())
        );
    }
    // Lost again, and stopped once the function's steps are done but before the first object
    // (while the destination is read again): the data copy's stop, said as such — the
    // function stays restored, none of the objects copied.
    for key in ["a", "b", "c"] {
        fx.s3
            .delete_object()
            .bucket(&source)
            .key(format!("exports/{key}.json"))
            .send()
            .await
            .expect("delete");
    }
    fx.seeder
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("delete function");
    // The destination's objects are read again (HEAD) before the copy: after the preview's.
    let head = format!("HEAD /{source}/exports/");
    let lists = || proxy.calls_where(PROXIED, "s3", |op| op.starts_with(&head));
    let start = lists();
    slow.run(&["restore", &snapshot, "--dry-run"])
        .assert_exit(0);
    assert!(lists() > start, "{:#?}", proxy.all_calls());
    proxy.add(Rule::s3(
        PROXIED,
        format!("{head}*"),
        Fault::Delay(std::time::Duration::from_secs(2)),
    ));
    // Once the function is made, the next read of the destination is the copy's own.
    let copied = copies();
    let creates = proxy.calls(PROXIED, "lambda", "CreateFunction");
    let at_create = std::sync::Mutex::new(None);
    let (code, stderr) =
        crate::restore::interrupted(&slow, &["restore", &snapshot, "--yes"], || {
            let mut at = at_create.lock().unwrap_or_else(|p| p.into_inner());
            if at.is_none() && proxy.calls(PROXIED, "lambda", "CreateFunction") > creates {
                *at = Some(lists());
            }
            at.is_some_and(|n| lists() > n)
        });
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(
            "stopping the data copy: the object under way ends, the function stays restored"
        ) && stderr.contains("the function was restored and 0 of 3 objects copied back"),
        "{stderr}"
    );
    assert_eq!(copies(), copied);
    fx.seeder
        .lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .expect("the function stays restored");
}

/// A prune that would delete a function's last snapshot with a copy of its S3 data, while
/// newer snapshots without one are kept, says so in its preview; one that keeps a copy does not.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_names_the_last_snapshot_with_data_it_deletes() {
    let (fx, name, source) = function_and_source(HOME, "prdata", "prdata").await;
    put(&fx, &source, "exports/a.json", b"a").await;
    let lops = fx.lops(moto::url());
    let data = format!("s3://{source}/exports");
    let to = fx.to();
    let backup = |with_data: bool| {
        let mut args = vec![
            "backup", "run", "--yes", "--fn", &name, "--region", HOME, "--to", &to, "--json",
        ];
        if with_data {
            args.extend(["--data", &data]);
        }
        snapshot_of(&lops.run(&args));
        // Snapshots are named by the millisecond: one after the other.
        std::thread::sleep(std::time::Duration::from_millis(20));
    };
    let prune = || {
        let run = lops.run(&[
            "backup",
            "prune",
            "--to",
            &to,
            "--region",
            HOME,
            "--keep-last",
            "1",
            "--dry-run",
        ]);
        run.assert_exit(0);
        run.stderr
    };
    let said = format!("the last snapshot of {name} in {HOME} with a copy of its S3 data goes");
    backup(true);
    backup(false);
    let preview = prune();
    assert!(preview.contains(&said), "{preview}");
    // A newer one with data kept: nothing to say.
    backup(true);
    let preview = prune();
    assert!(
        !preview.contains("with a copy of its S3 data goes"),
        "{preview}"
    );
}

/// A newer snapshot whose data copy lost an object (verify fails it) is not counted by prune's
/// retention: the older whole one is kept in its place, not deleted (the only one a restore
/// could use), and the broken one is said and kept for a person to look at.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_never_keeps_a_broken_snapshot_in_the_place_of_a_whole_one() {
    let (fx, name, source) = function_and_source(HOME, "prbroken", "prbroken").await;
    put(&fx, &source, "exports/a.json", b"a").await;
    let lops = fx.lops(moto::url());
    let older = backed_up_with_data(&lops, &fx, &name, HOME, &source);
    std::thread::sleep(std::time::Duration::from_millis(20));
    let newer = backed_up_with_data(&lops, &fx, &name, HOME, &source);
    // The newer snapshot's copy of a.json is gone (copies are under their snapshot's time:
    // the newer sorts last).
    let copy = data_copies(&fx, "a.json")
        .await
        .into_iter()
        .filter(|k| k.contains(&source))
        .max()
        .expect("the newer copy");
    fx.s3
        .delete_object()
        .bucket(&fx.bucket)
        .key(&copy)
        .send()
        .await
        .expect("delete");
    let run = lops.run(&[
        "backup",
        "prune",
        "--to",
        &fx.to(),
        "--region",
        HOME,
        "--keep-last",
        "1",
        "--dry-run",
        "--json",
    ]);
    run.assert_exit(0);
    let doc = run.json();
    // Neither goes: the older is the one whole snapshot, the newer is broken.
    assert_eq!(doc["plan"]["manifests"], serde_json::json!([]), "{doc:#}");
    assert_eq!(doc["plan"]["kept"], 2, "{doc:#}");
    let notes = doc["plan"]["notes"].to_string();
    assert!(
        notes.contains(&format!("{newer} is missing 1 of its pieces")),
        "{notes}"
    );
    assert!(!notes.contains(&older), "{notes}");
}

/// The keys of the store's data copies whose name ends in `file`, in key order.
async fn data_copies(fx: &Fixture, file: &str) -> Vec<String> {
    let listed = fx
        .s3
        .list_objects_v2()
        .bucket(&fx.bucket)
        .prefix("lops/data/")
        .send()
        .await
        .expect("list");
    listed
        .contents()
        .iter()
        .filter_map(|o| o.key())
        .filter(|k| k.ends_with(file))
        .map(str::to_string)
        .collect()
}

/// `name` in `region` backed up with its data under `s3://{source}/exports`: the snapshot's
/// address.
fn backed_up_with_data(
    lops: &crate::support::cli::Lops,
    fx: &Fixture,
    name: &str,
    region: &str,
    source: &str,
) -> String {
    snapshot_of(&backup_with_data(lops, fx, name, region, source))
}

/// `lops backup run --fn NAME --region REGION --to … --data s3://{source}/exports --json`.
fn backup_with_data(
    lops: &crate::support::cli::Lops,
    fx: &Fixture,
    name: &str,
    region: &str,
    source: &str,
) -> crate::support::cli::Run {
    lops.run(&[
        "backup",
        "run",
        "--yes",
        "--fn",
        name,
        "--region",
        region,
        "--to",
        &fx.to(),
        "--data",
        &format!("s3://{source}/exports"),
        "--json",
    ])
}

/// A data copy moved to an archive storage class (a lifecycle rule) cannot be copied back until
/// it is thawed: verify names it as archived (exit 1) and says nothing is known broken — thaw,
/// not "take a new backup" — and a restore with the data is refused as unreadable, not corrupt.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_data_copy_is_named_by_verify_and_is_not_called_broken() {
    let (fx, name, source) = function_and_source(HOME, "arch", "archdata").await;
    put(&fx, &source, "exports/a.json", b"kept").await;
    let lops = fx.lops(moto::url());
    let snapshot = backed_up_with_data(&lops, &fx, &name, HOME, &source);
    let copy = data_copies(&fx, "a.json")
        .await
        .into_iter()
        .next()
        .expect("the data copy");
    fx.archive(&fx.bucket, &copy, "DEEP_ARCHIVE").await;

    let verify = lops.run(&["backup", "verify", &snapshot, "--json"]);
    verify.assert_exit(1);
    let doc = verify.json();
    let problems = doc["problems"].to_string();
    assert!(
        problems.contains("archived: ") && problems.contains("a.json"),
        "{doc}"
    );
    let remedy = doc["remedy"].as_str().unwrap_or_default();
    assert!(
        remedy.contains("nothing is known broken")
            && remedy.contains("or restore the function alone now with `--no-data`")
            && !remedy.contains("take a new backup"),
        "{doc}"
    );
    assert!(
        !verify.stderr.contains("take a new backup"),
        "{}",
        verify.stderr
    );

    let r = lops.run(&["restore", &snapshot, "--yes"]);
    r.assert_exit(1);
    assert!(
        r.stderr.contains("cannot be read whole yet")
            && r.stderr.contains("Only its S3 data copy is archived")
            && !r.stderr.contains("corrupt")
            && !r.stderr.contains("take a new backup"),
        "{}",
        r.stderr
    );

    // The data copy gone and the package archived: without its data, what blocks a restore is
    // the package alone, and what to do is said for it (thaw), not for the data copy.
    fx.s3
        .delete_object()
        .bucket(&fx.bucket)
        .key(&copy)
        .send()
        .await
        .expect("delete the copy");
    let blobs = fx
        .s3
        .list_objects_v2()
        .bucket(&fx.bucket)
        .prefix("lops/blobs/")
        .send()
        .await
        .expect("list");
    for key in blobs.contents().iter().filter_map(|o| o.key()) {
        fx.archive(&fx.bucket, key, "GLACIER").await;
    }
    let r = lops.run(&["restore", &snapshot, "--no-data", "--dry-run"]);
    r.assert_exit(1);
    assert!(
        r.stderr.contains("What to do: nothing is known broken")
            && !r.stderr.contains("take a new backup")
            && !r.stderr.contains("`--no-data`"),
        "{}",
        r.stderr
    );

    // The manifest itself archived: listed as not readable now, not as broken.
    let manifest = snapshot.trim_start_matches(&format!("s3://{}/", fx.bucket));
    fx.archive(&fx.bucket, manifest, "GLACIER").await;
    let listed = fx.list(&lops, HOME);
    let said = listed
        .stderr
        .lines()
        .find(|l| l.contains(&snapshot))
        .unwrap_or_default();
    assert!(
        said.contains("cannot be read here now")
            && said.contains("restore it first")
            && !said.contains("take a new backup"),
        "{}",
        listed.stderr
    ); // And in JSON: whole, not broken (a script would otherwise take a new backup for it).
    let entry = listed_entry(&listed, &snapshot);
    assert!(!entry["problem"].is_null(), "{entry}");
    assert_eq!(entry["broken"], false, "{entry}");
}

/// A source object in an archive class cannot be copied until it is thawed: the backup fails
/// naming it and what to do (thaw it, or leave it out), not as a permission missing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_source_object_is_named_as_archived_not_as_access_denied() {
    let (fx, name, source) = function_and_source(HOME, "archsrc", "archsrc").await;
    put(&fx, &source, "exports/a.json", b"cold").await;
    fx.archive(&source, "exports/a.json", "DEEP_ARCHIVE").await;
    let run = backup_with_data(&fx.lops(moto::url()), &fx, &name, HOME, &source);
    run.assert_exit(1);
    assert!(
        run.stderr.contains(&format!(
            "s3://{source}/exports/a.json is in an archive storage class: restore it first"
        )) && !run.stderr.contains("access denied"),
        "{}",
        run.stderr
    );
}

/// A restore whose function is already as the snapshot has it and whose data goes where
/// nothing is written over changes no function: no safety snapshot is taken of it, and it is
/// neither typed nor destructive (it took one, and asked for the typed name).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_of_the_data_alone_takes_no_safety_snapshot_and_is_not_destructive() {
    let (fx, name, source) = function_and_source(HOME, "dataonly", "dataonly").await;
    put(&fx, &source, "exports/a.json", b"{}").await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup_with_data(&lops, &fx, &name, HOME, &source));
    let elsewhere = moto::unique("dataonly-to-");
    create_bucket(&fx.s3, &elsewhere, HOME).await;
    let run = lops.run(&[
        "restore",
        &snapshot,
        "--data-to",
        &format!("s3://{elsewhere}/copy"),
        "--yes",
    ]);
    run.assert_exit(0);
    assert!(!run.stderr.contains("safety snapshot"), "{}", run.stderr);
    let audit = lops.run(&["audit", "--json"]).json();
    let restore = audit
        .as_array()
        .into_iter()
        .flatten()
        .rev()
        .find(|r| r["target"] == name.as_str() && r["action"] == "restore")
        .cloned()
        .expect("its record");
    assert!(
        restore["typed"] != true && restore["destructive"] != true,
        "{restore}"
    );
}
