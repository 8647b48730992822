//! Backups against moto through the real SDK: round trip, cross-region restore under a new
//! name, blob de-duplication, corruption, interrupted backups, a restore failing half-way,
//! S3 data with a multipart-size object, retention, and bad input.
//!
//! Regions: mx-central-1 (functions backed up), ap-southeast-7 (cross-region restores),
//! ap-southeast-5 (runs through the fault proxy). Buckets and function names are unique per test.

use std::collections::BTreeMap;
use std::time::{Duration, Instant};

use aws_sdk_lambda::types::FunctionCode;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{BucketLocationConstraint, CreateBucketConfiguration};
use serde_json::Value;
use sha2::{Digest, Sha256};

use crate::support::cli::{Lops, Run};
use crate::support::moto::{self, ROLE_ARN};
use crate::support::proxy::{Fault, FaultProxy, Rule};
use crate::support::seed::{Seeder, code_zip, sdk_config};

pub(crate) const HOME: &str = "mx-central-1";
pub(crate) const DR: &str = "ap-southeast-7";
pub(crate) const PROXIED: &str = "ap-southeast-5";

pub(crate) struct Fixture {
    /// Serves code packages the way S3 serves a pre-signed URL (moto needs a credential scope).
    pub(crate) code_host: FaultProxy,
    pub(crate) seeder: Seeder,
    pub(crate) s3: aws_sdk_s3::Client,
    pub(crate) bucket: String,
}

pub async fn s3_client(region: &str) -> aws_sdk_s3::Client {
    let config = sdk_config(moto::url(), region).await;
    aws_sdk_s3::Client::from_conf(
        aws_sdk_s3::config::Builder::from(&config)
            .force_path_style(true)
            .build(),
    )
}

pub async fn create_bucket(s3: &aws_sdk_s3::Client, bucket: &str, region: &str) {
    s3.create_bucket()
        .bucket(bucket)
        .create_bucket_configuration(
            CreateBucketConfiguration::builder()
                .location_constraint(BucketLocationConstraint::from(region))
                .build(),
        )
        .send()
        .await
        .unwrap_or_else(|e| panic!("create bucket {bucket}: {e:?}"));
}

impl Fixture {
    /// Deletes `name` (a restore will create it again) and returns a proxy in front of moto
    /// that holds that creation for three seconds: time for another actor to act meanwhile.
    pub(crate) async fn lost_with_slow_recreate(&self, name: &str) -> FaultProxy {
        self.seeder
            .lambda
            .delete_function()
            .function_name(name)
            .send()
            .await
            .expect("delete function");
        let proxy = FaultProxy::start(moto::url());
        proxy.add(Rule::lambda(
            PROXIED,
            "CreateFunction",
            Fault::Delay(std::time::Duration::from_secs(3)),
            Some(1),
        ));
        proxy
    }

    pub(crate) async fn new(region: &str, tag: &str) -> Fixture {
        let seeder = Seeder::new(moto::url(), region).await;
        let s3 = s3_client(region).await;
        let bucket = moto::unique(&format!("bk-{tag}-"));
        create_bucket(&s3, &bucket, region).await;
        Fixture {
            code_host: FaultProxy::start(moto::url()),
            seeder,
            s3,
            bucket,
        }
    }

    pub(crate) fn to(&self) -> String {
        format!("s3://{}/lops", self.bucket)
    }

    /// lops whose code downloads reach moto's S3 (code is uploaded from this bucket).
    pub(crate) fn lops(&self, endpoint: &str) -> Lops {
        Lops::new(endpoint).env(
            "LOPS_CODE_DOWNLOAD_BASE",
            &format!("{}/{}", self.code_host.url, self.bucket),
        )
    }

    /// `lops backup list --json` of this fixture's location.
    pub(crate) fn list(&self, lops: &Lops, region: &str) -> Run {
        lops.run(&[
            "backup",
            "list",
            "--to",
            &self.to(),
            "--region",
            region,
            "--json",
        ])
    }

    pub(crate) async fn put(&self, key: &str, bytes: Vec<u8>) {
        self.s3
            .put_object()
            .bucket(&self.bucket)
            .key(key)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .unwrap_or_else(|e| panic!("put {key}: {e:?}"));
    }

    /// Moves `key` of `bucket` to an archive storage class in place (as a lifecycle rule would).
    pub(crate) async fn archive(&self, bucket: &str, key: &str, class: &str) {
        self.s3
            .copy_object()
            .bucket(bucket)
            .key(key)
            .copy_source(format!("{bucket}/{key}"))
            .storage_class(aws_sdk_s3::types::StorageClass::from(class))
            .send()
            .await
            .unwrap_or_else(|e| panic!("archive {key}: {e:?}"));
    }

    pub(crate) async fn get(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let out = self
            .s3
            .get_object()
            .bucket(bucket)
            .key(key)
            .send()
            .await
            .ok()?;
        Some(out.body.collect().await.ok()?.into_bytes().to_vec())
    }

    /// A function whose code lives in the bucket (so that moto's code location is downloadable),
    /// with env, two versions, `live` at v1 + 30 % v2, reserved concurrency 7 and tags.
    pub(crate) async fn function(&self, name: &str) {
        self.plain_function(name).await;
        self.seeder.publish_version(name, "one").await;
        self.seeder.publish_version(name, "two").await;
        self.seeder
            .create_alias(name, "live", "1", Some(("2", 0.3)))
            .await;
        self.seeder.reserve(name, 7).await;
    }

    /// Only `$LATEST`, code from the bucket, tags.
    /// A queue `NAME-jobs` in the fixture's region mapped to `name` (batches of 5): its ARN.
    pub(crate) async fn queue_mapping(&self, name: &str) -> String {
        let queue = moto::create_queue(self.seeder.region(), &format!("{name}-jobs"));
        self.seeder
            .lambda
            .create_event_source_mapping()
            .function_name(name)
            .event_source_arn(&queue)
            .batch_size(5)
            .send()
            .await
            .expect("mapping");
        queue
    }

    pub(crate) async fn plain_function(&self, name: &str) {
        let key = format!("seed/{name}.zip");
        self.put(&key, code_zip(name)).await;
        self.seeder
            .lambda
            .create_function()
            .function_name(name)
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role(ROLE_ARN)
            .handler("handler.handler")
            .memory_size(256)
            .timeout(30)
            .description("orders API")
            .code(
                FunctionCode::builder()
                    .s3_bucket(&self.bucket)
                    .s3_key(&key)
                    .build(),
            )
            .tags("team", "payments")
            .tags("tier", "1")
            .send()
            .await
            .unwrap_or_else(|e| panic!("create {name}: {e:?}"));
    }
}

/// Everything the round trip compares, read straight from moto.
#[derive(Debug, PartialEq)]
pub(crate) struct State {
    code_sha256: String,
    runtime: String,
    handler: String,
    memory: i32,
    timeout: i32,
    description: String,
    env: BTreeMap<String, String>,
    /// (version, env RELEASE, code hash)
    versions: Vec<(String, String, String)>,
    alias: (String, Vec<(String, f64)>),
    reserved: Option<i32>,
    tags: BTreeMap<String, String>,
}

impl State {
    pub(crate) fn code_sha256(&self) -> &str {
        &self.code_sha256
    }
}

pub(crate) async fn state(lambda: &aws_sdk_lambda::Client, name: &str) -> Option<State> {
    let got = lambda
        .get_function()
        .function_name(name)
        .send()
        .await
        .ok()?;
    let c = got.configuration()?.clone();
    let env: BTreeMap<String, String> = c
        .environment()
        .and_then(|e| e.variables())
        .map(|v| v.clone().into_iter().collect())
        .unwrap_or_default();
    let versions = lambda
        .list_versions_by_function()
        .function_name(name)
        .send()
        .await
        .ok()?
        .versions()
        .iter()
        .filter(|v| v.version() != Some("$LATEST"))
        .map(|v| {
            (
                v.version().unwrap_or_default().to_string(),
                v.environment()
                    .and_then(|e| e.variables())
                    .and_then(|m| m.get("RELEASE").cloned())
                    .unwrap_or_default(),
                v.code_sha256().unwrap_or_default().to_string(),
            )
        })
        .collect();
    let alias = match lambda
        .get_alias()
        .function_name(name)
        .name("live")
        .send()
        .await
    {
        Ok(a) => {
            let mut w: Vec<(String, f64)> = a
                .routing_config()
                .and_then(|r| r.additional_version_weights())
                .map(|m| m.clone().into_iter().collect())
                .unwrap_or_default();
            w.sort_by(|a, b| a.0.cmp(&b.0));
            (a.function_version().unwrap_or_default().to_string(), w)
        }
        Err(_) => (String::new(), Vec::new()),
    };
    Some(State {
        code_sha256: c.code_sha256().unwrap_or_default().to_string(),
        runtime: c
            .runtime()
            .map(|r| r.as_str().to_string())
            .unwrap_or_default(),
        handler: c.handler().unwrap_or_default().to_string(),
        memory: c.memory_size().unwrap_or_default(),
        timeout: c.timeout().unwrap_or_default(),
        description: c.description().unwrap_or_default().to_string(),
        env,
        versions,
        alias,
        reserved: got
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        tags: got
            .tags()
            .map(|t| t.clone().into_iter().collect())
            .unwrap_or_default(),
    })
}

pub(crate) fn backup(lops: &Lops, region: &str, function: &str, to: &str) -> Run {
    lops.run(&[
        "backup", "run", "--yes", "--fn", function, "--region", region, "--to", to, "--json",
    ])
}

/// [`backup`] started, not waited for: its output piped.
pub(crate) fn spawn_backup(
    lops: &Lops,
    region: &str,
    function: &str,
    to: &str,
) -> std::process::Child {
    lops.command(&[
        "backup", "run", "--yes", "--fn", function, "--region", region, "--to", to, "--json",
    ])
    .stdout(std::process::Stdio::piped())
    .stderr(std::process::Stdio::piped())
    .spawn()
    .expect("spawn backup")
}

pub(crate) fn snapshot_of(run: &Run) -> String {
    run.assert_exit(0);
    let doc = run.json();
    doc["snapshots"][0]["snapshot"]
        .as_str()
        .unwrap_or_else(|| panic!("no snapshot in {doc}"))
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn round_trip_after_delete_restores_everything_and_a_rerun_converges() {
    let fx = Fixture::new(HOME, "rt").await;
    let name = moto::unique("orders");
    fx.function(&name).await;
    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    assert_eq!(before.versions.len(), 2);
    let lops = fx.lops(moto::url());

    let run = backup(&lops, HOME, &name, &fx.to());
    let snapshot = snapshot_of(&run);
    assert!(
        snapshot.starts_with(&format!("{}/snapshots/{HOME}/{name}/", fx.to())),
        "{snapshot}"
    );
    assert_eq!(run.json()["uploaded_blobs"], 1, "{}", run.stdout);
    // moto does not serve provisioned-concurrency configs: recorded as absent, with why.
    let key = snapshot.trim_start_matches(&format!("s3://{}/", fx.bucket));
    let manifest: Value =
        serde_json::from_slice(&fx.get(&fx.bucket, key).await.expect("manifest")).expect("json");
    assert!(
        manifest["absent"]["provisioned_concurrency"]
            .as_str()
            .unwrap_or("")
            .contains("not supported"),
        "{}",
        manifest["absent"]
    );
    assert_eq!(manifest["versions"].as_array().map(Vec::len), Some(2));
    assert_eq!(manifest["aliases"][0]["weights"]["2"], 0.3);

    let listed = fx.list(&lops, HOME);
    listed.assert_exit(0);
    let listed = listed.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(1), "{listed}");
    assert_eq!(listed[0]["function"], name.as_str());
    assert_eq!(listed[0]["snapshot"], snapshot.as_str());
    assert!(listed[0]["size"].as_u64().unwrap_or(0) > 0);

    let verify = lops.run(&["backup", "verify", &snapshot]);
    verify.assert_exit(0);
    assert!(verify.stdout.contains("1 blob ("), "{}", verify.stdout);

    fx.seeder
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("delete");
    assert!(state(&fx.seeder.lambda, &name).await.is_none());

    let dry = lops.run(&["restore", &snapshot, "--dry-run"]);
    dry.assert_exit(0);
    assert!(dry.stderr.contains("create the function"), "{}", dry.stderr);
    assert!(
        state(&fx.seeder.lambda, &name).await.is_none(),
        "dry run changed something"
    );

    let restored = lops.run(&["restore", &snapshot, "--yes", "--json"]);
    restored.assert_exit(0);
    let after = state(&fx.seeder.lambda, &name).await.expect("restored");
    assert_eq!(after, before);

    // A rerun finds nothing to do and changes nothing.
    let again = lops.run(&["restore", &snapshot, "--yes", "--json"]);
    again.assert_exit(0);
    assert!(again.stderr.contains("already matches"), "{}", again.stderr);
    assert_eq!(
        state(&fx.seeder.lambda, &name).await.expect("state"),
        before
    );

    let audit = lops.run(&["audit", "--json"]);
    audit.assert_exit(0);
    let actions: Vec<String> = audit
        .json()
        .as_array()
        .expect("records")
        .iter()
        .map(|r| {
            format!(
                "{} {} {}",
                r["action"].as_str().unwrap_or(""),
                r["target"].as_str().unwrap_or(""),
                r["result"].as_str().unwrap_or("")
            )
        })
        .collect();
    assert!(
        actions.contains(&format!("backup.run {name} ok")),
        "{actions:?}"
    );
    assert!(
        actions.contains(&format!("restore {name} ok")),
        "{actions:?}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn cross_region_restore_under_a_new_name() {
    let fx = Fixture::new(HOME, "dr").await;
    let name = moto::unique("billing");
    fx.function(&name).await;
    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));

    let new_name = format!("{name}-dr");
    let run = lops.run(&[
        "restore", &snapshot, "--region", DR, "--name", &new_name, "--yes",
    ]);
    run.assert_exit(0);
    let dr = Seeder::new(moto::url(), DR).await;
    let after = state(&dr.lambda, &new_name)
        .await
        .expect("restored in the DR region");
    assert_eq!(after, before);
    // The original is untouched and the DR region has no function under the old name.
    assert_eq!(
        state(&fx.seeder.lambda, &name).await.expect("original"),
        before
    );
    assert!(state(&dr.lambda, &name).await.is_none());
}

/// A create that timed out at the client but was made by the service: the SDK's retry finds
/// the function (or alias) there. The restore knows it as its own (same code, same routing)
/// and completes, instead of failing and leaving it behind.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_create_made_by_an_attempt_that_timed_out_is_taken_as_ours() {
    let fx = Fixture::new(HOME, "to").await;
    let name = moto::unique("retried");
    fx.function(&name).await;
    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    let snapshot = snapshot_of(&backup(&fx.lops(moto::url()), HOME, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    for op in ["CreateFunction", "CreateAlias"] {
        proxy.add(Rule {
            region: PROXIED.into(),
            service: Some("lambda".into()),
            operation: Some(op.into()),
            fault: Fault::LateAnswer(Duration::from_millis(2500)),
            remaining: Some(1),
        });
    }
    let lops = fx.lops(&proxy.url);
    // Each call gets 2 s (a short budget keeps the test short; it is about the retry).
    let config = lops.config("[timeouts]\noperation_secs = 2\nmax_attempts = 3\n");
    let copy = format!("{name}-copy");
    let run = lops.run(&[
        "--config",
        &config.display().to_string(),
        "restore",
        &snapshot,
        "--region",
        PROXIED,
        "--name",
        &copy,
        "--yes",
    ]);
    run.assert_exit(0);
    assert!(proxy.calls(PROXIED, "lambda", "CreateFunction") >= 2);
    assert!(proxy.calls(PROXIED, "lambda", "CreateAlias") >= 2);
    let dr = Seeder::new(moto::url(), PROXIED).await;
    assert_eq!(state(&dr.lambda, &copy).await.expect("restored"), before);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_second_backup_of_an_unchanged_function_uploads_no_code() {
    let fx = Fixture::new(PROXIED, "dd").await;
    let name = moto::unique("dedup");
    fx.function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    let lops = fx.lops(&proxy.url);
    let blob_puts = || {
        proxy.calls_where(PROXIED, "s3", |op| {
            op.starts_with(&format!("PUT /{}/lops/blobs/", fx.bucket))
        })
    };
    let manifest_puts = || {
        proxy.calls_where(PROXIED, "s3", |op| {
            op.starts_with(&format!("PUT /{}/lops/snapshots/", fx.bucket))
        })
    };
    let first = backup(&lops, PROXIED, &name, &fx.to());
    snapshot_of(&first);
    assert_eq!(blob_puts(), 1, "{:?}", proxy.all_calls());
    assert_eq!(manifest_puts(), 1);

    let second = backup(&lops, PROXIED, &name, &fx.to());
    snapshot_of(&second);
    assert_eq!(blob_puts(), 1, "the second backup uploaded code again");
    assert_eq!(manifest_puts(), 2);
    assert_eq!(second.json()["uploaded_bytes"], 0);
    assert_eq!(second.json()["uploaded_blobs"], 0);
}

/// `backup run` previews and asks as the dashboard's `b` does (the rule lives in ops): without
/// a terminal and `--yes` it is refused and nothing is stored or recorded; `--dry-run` only
/// previews; `--yes` goes, on a production profile too.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn backup_run_previews_and_asks_like_every_change() {
    let fx = Fixture::new(HOME, "ask").await;
    let name = moto::unique("ask");
    fx.function(&name).await;
    let lops = fx.lops(moto::url());
    let to = fx.to();
    let config = lops.config("[profile.default]\nproduction = true\n");
    let config = config.display().to_string();
    let run_with = |extra: &[&str]| {
        let mut args = vec![
            "backup", "run", "--fn", &name, "--region", HOME, "--to", &to,
        ];
        args.extend(extra);
        lops.run(&args)
    };
    let stored = |lops: &Lops| fx.list(lops, HOME).json().as_array().map_or(0, Vec::len);
    let preview = format!("back up {name} @ ");
    for extra in [&[][..], &["--config", &config][..]] {
        let run = run_with(extra);
        run.assert_exit(4);
        assert!(run.stderr.contains(&preview), "{}", run.stderr);
        assert!(run.stderr.contains("pass --yes"), "{}", run.stderr);
    }
    let run = run_with(&["--dry-run", "--json"]);
    run.assert_exit(0);
    assert!(run.stderr.contains(&preview), "{}", run.stderr);
    assert_eq!(run.json()["dry_run"], true, "{}", run.stdout);
    assert_eq!(stored(&lops), 0);
    let audit = lops.run(&["audit", "--json"]);
    assert!(!audit.stdout.contains("backup"), "{}", audit.stdout);

    let run = run_with(&["--config", &config, "--yes", "--json"]);
    snapshot_of(&run);
    assert_eq!(stored(&lops), 1);

    // Named twice (once with a space after the comma): one function, one snapshot more; a
    // stray comma is a slip, said, and nothing is stored.
    let twice = format!("{name}, {name}");
    let run = run_with(&["--fn", &twice, "--yes", "--json"]);
    run.assert_exit(0);
    assert_eq!(stored(&lops), 2, "{}", run.stderr);
    // Named through two profiles of one account (moto has one): one function, one snapshot,
    // the other said.
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile ops]\nregion = {HOME}\n"),
    )
    .expect("aws config");
    let run = run_with(&["--profile", "default,ops", "--yes", "--json"]);
    run.assert_exit(0);
    assert_eq!(stored(&lops), 3, "{}", run.stderr);
    assert!(run.stderr.contains("backed up once"), "{}", run.stderr);
    let stray = format!("{name},");
    let run = lops.run(&[
        "backup", "run", "--fn", &stray, "--region", HOME, "--to", &to, "--yes",
    ]);
    run.assert_exit(2);
    assert!(run.stderr.contains("stray comma"), "{}", run.stderr);
    assert_eq!(stored(&lops), 3);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_corrupt_blob_fails_verify_by_name_and_restore_changes_nothing() {
    let fx = Fixture::new(HOME, "cb").await;
    let name = moto::unique("corrupt");
    fx.function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let sha = hex(&Sha256::digest(code_zip(&name)));
    let blob_key = format!("lops/blobs/sha256/{sha}");
    assert!(
        fx.get(&fx.bucket, &blob_key).await.is_some(),
        "blob is stored under its SHA-256"
    );

    // Truncate it.
    let mut bytes = fx.get(&fx.bucket, &blob_key).await.expect("blob");
    bytes.truncate(bytes.len() / 2);
    fx.put(&blob_key, bytes).await;

    let verify = lops.run(&["backup", "verify", &snapshot]);
    verify.assert_exit(1);
    assert!(verify.stderr.contains(&sha), "{}", verify.stderr);
    assert!(verify.stderr.contains("corrupt"), "{}", verify.stderr);
    // Read and hashed: checked, and the one problem.
    assert!(
        verify.stdout.contains(": 1 blob (") && verify.stdout.contains("1 problem(s)"),
        "{}",
        verify.stdout
    );
    // And what to do about it: another backup, or an older snapshot.
    for says in [
        "take a new backup (`lops backup run --fn",
        "`lops backup list --to",
    ] {
        assert!(verify.stderr.contains(says), "{says}: {}", verify.stderr);
    }

    // Restore into a new name refuses and creates nothing; into the original changes nothing.
    let other = format!("{name}-copy");
    let r = lops.run(&["restore", &snapshot, "--name", &other, "--yes"]);
    r.assert_exit(1);
    assert!(r.stderr.contains(&sha), "{}", r.stderr);
    assert!(
        r.stderr.contains("What to do: take a new backup"),
        "{}",
        r.stderr
    );
    assert!(state(&fx.seeder.lambda, &other).await.is_none());
    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    lops.run(&["restore", &snapshot, "--yes"]).assert_exit(1);
    assert_eq!(
        state(&fx.seeder.lambda, &name).await.expect("state"),
        before
    );

    // The next backup puts the damaged blob back (it would point at it again otherwise): its
    // snapshot verifies, and the old one's blob is whole again too.
    let again = backup(&lops, HOME, &name, &fx.to());
    assert_eq!(again.json()["uploaded_blobs"], 1, "{}", again.stdout);
    lops.run(&["backup", "verify", &snapshot_of(&again)])
        .assert_exit(0);
    lops.run(&["backup", "verify", &snapshot]).assert_exit(0);
    // Damaged in place at the same size: put back as well.
    let mut bytes = fx.get(&fx.bucket, &blob_key).await.expect("blob");
    let last = bytes.len() - 1;
    bytes[last] ^= 0xff;
    fx.put(&blob_key, bytes).await;
    lops.run(&["backup", "verify", &snapshot]).assert_exit(1);
    let again = backup(&lops, HOME, &name, &fx.to());
    assert_eq!(again.json()["uploaded_blobs"], 1, "{}", again.stdout);
    lops.run(&["backup", "verify", &snapshot]).assert_exit(0);
    // Whole: the next one uploads nothing.
    let again = backup(&lops, HOME, &name, &fx.to());
    assert_eq!(again.json()["uploaded_blobs"], 0, "{}", again.stdout);

    // A missing blob is named too.
    fx.s3
        .delete_object()
        .bucket(&fx.bucket)
        .key(&blob_key)
        .send()
        .await
        .expect("delete");
    let verify = lops.run(&["backup", "verify", &snapshot, "--json"]);
    verify.assert_exit(1);
    let problems = verify.json()["problems"].to_string();
    assert!(
        problems.contains("missing") && problems.contains(&sha),
        "{problems}"
    );
}

/// A blob the profile may not read: verify names it among its problems (which object, and
/// what would let it be read) and a restore's failure names it — both said only "access
/// denied: HTTP 403 with no error code".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_blob_that_may_not_be_read_is_named_by_verify_and_restore() {
    let fx = Fixture::new(PROXIED, "denied").await;
    let name = moto::unique("denied");
    fx.function(&name).await;
    let snapshot = snapshot_of(&backup(&fx.lops(moto::url()), PROXIED, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::s3(
        PROXIED,
        format!("GET /{}/lops/blobs/*", fx.bucket),
        Fault::Status(403),
    ));
    let lops = fx.lops(&proxy.url);
    let verify = lops.run(&["backup", "verify", &snapshot, "--json"]);
    verify.assert_exit(1);
    let problems = verify.json()["problems"].to_string();
    assert!(
        problems.contains("not read")
            && problems.contains("lops/blobs/sha256/")
            && problems.contains("s3:GetObject"),
        "{problems}"
    );
    let restore = lops.run(&[
        "restore",
        &snapshot,
        "--name",
        &format!("{name}-x"),
        "--yes",
    ]);
    assert_ne!(restore.code, 0);
    assert!(
        restore.stderr.contains("lops/blobs/sha256/") && restore.stderr.contains("s3:GetObject"),
        "{}",
        restore.stderr
    );
}

/// A blob moved to an archive storage class (a lifecycle rule, by hand) cannot be read until it is
/// thawed: verify names it among its problems and exits 1 like a missing one, and a restore
/// fails (1), naming it and what to do, changing nothing — neither is bad input (2).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_archived_blob_is_named_by_verify_and_restore_as_a_failure_not_bad_input() {
    let fx = Fixture::new(HOME, "ar").await;
    let name = moto::unique("archived");
    fx.function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let sha = hex(&Sha256::digest(code_zip(&name)));
    let blob_key = format!("lops/blobs/sha256/{sha}");
    fx.archive(&fx.bucket, &blob_key, "GLACIER").await;

    let verify = lops.run(&["backup", "verify", &snapshot, "--json"]);
    verify.assert_exit(1);
    let problems = verify.json()["problems"].to_string();
    assert!(
        problems.contains("archived") && problems.contains(&sha),
        "{problems}"
    );
    assert!(
        problems.contains("aws s3api restore-object"),
        "says what to do: {problems}"
    );
    // Nothing is broken: thaw it, not "take a new backup".
    assert!(
        !verify.stderr.contains("take a new backup")
            && !verify.json()["remedy"]
                .to_string()
                .contains("take a new backup"),
        "{}",
        verify.stderr
    );

    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    let r = lops.run(&["restore", &snapshot, "--yes"]);
    r.assert_exit(1);
    assert!(
        r.stderr.contains(&sha)
            && r.stderr.contains("restore it first")
            && !r.stderr.contains("corrupt")
            && !r.stderr.contains("take a new backup"),
        "{}",
        r.stderr
    );
    assert_eq!(
        state(&fx.seeder.lambda, &name).await.expect("state"),
        before
    );
    // Thawed for now (a thawed copy expires): verify reads it; a new backup in STANDARD still
    // does not reuse the archived package (its snapshot could not be restored once the thaw
    // expires): it uploads it again, and its snapshot verifies.
    fx.s3
        .restore_object()
        .bucket(&fx.bucket)
        .key(&blob_key)
        .restore_request(aws_sdk_s3::types::RestoreRequest::builder().days(1).build())
        .send()
        .await
        .expect("thaw");
    lops.run(&["backup", "verify", &snapshot]).assert_exit(0);
    let again = backup(&lops, HOME, &name, &fx.to());
    assert_eq!(again.json()["uploaded_blobs"], 1, "{}", again.stdout);
    lops.run(&["backup", "verify", &snapshot_of(&again)])
        .assert_exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_before_its_manifest_is_not_listed_and_a_rerun_completes() {
    let fx = Fixture::new(PROXIED, "kill").await;
    let name = moto::unique("killed");
    fx.function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    // The manifest write never answers: the backup is stuck after its blobs.
    proxy.add(Rule::s3(
        PROXIED,
        format!("PUT /{}/lops/snapshots/*", fx.bucket),
        Fault::Hang,
    ));
    let lops = fx.lops(&proxy.url);
    let mut child = lops
        .command(&[
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
        ])
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while proxy.calls_where(PROXIED, "s3", |op| op.contains("/lops/snapshots/")) == 0 {
        assert!(
            Instant::now() < deadline,
            "the backup never reached its manifest"
        );
        std::thread::sleep(Duration::from_millis(50));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
    let blobs = proxy.calls_where(PROXIED, "s3", |op| {
        op.contains("/lops/blobs/") && op.starts_with("PUT")
    });
    assert_eq!(blobs, 1, "the code blob was written before the kill");

    let direct = fx.lops(moto::url());
    let listed = fx.list(&direct, PROXIED);
    listed.assert_exit(0);
    assert_eq!(
        listed.json(),
        serde_json::json!([]),
        "an interrupted backup is listed"
    );

    let rerun = backup(&direct, PROXIED, &name, &fx.to());
    let snapshot = snapshot_of(&rerun);
    assert_eq!(
        rerun.json()["uploaded_blobs"],
        0,
        "the rerun re-uploaded the blob"
    );
    let listed = fx.list(&direct, PROXIED);
    assert_eq!(listed.json()[0]["snapshot"], snapshot.as_str());
    direct.run(&["backup", "verify", &snapshot]).assert_exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_failing_half_way_puts_the_target_back() {
    let fx = Fixture::new(PROXIED, "half").await;
    let name = moto::unique("half");
    fx.function(&name).await;
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, PROXIED, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    let lops = fx.lops(&proxy.url);

    // 1. A new function: creating the alias fails after the function and its versions exist.
    proxy.add(Rule {
        region: PROXIED.into(),
        service: Some("lambda".into()),
        operation: Some("CreateAlias".into()),
        fault: Fault::Status(500),
        remaining: None,
    });
    let fresh = format!("{name}-new");
    let r = lops.run(&["restore", &snapshot, "--name", &fresh, "--yes"]);
    r.assert_exit(1);
    assert!(r.stderr.contains("undone"), "{}", r.stderr);
    assert!(proxy.calls(PROXIED, "lambda", "CreateFunction") >= 1);
    assert!(proxy.calls(PROXIED, "lambda", "PublishVersion") >= 1);
    assert!(
        state(&fx.seeder.lambda, &fresh).await.is_none(),
        "the half-made function is still there"
    );

    // 2. An existing function that differs from the snapshot: the last step fails.
    fx.seeder
        .lambda
        .update_function_configuration()
        .function_name(&name)
        .memory_size(1024)
        .environment(
            aws_sdk_lambda::types::Environment::builder()
                .variables("RELEASE", "three")
                .build(),
        )
        .send()
        .await
        .expect("update");
    fx.seeder.publish_version(&name, "three").await;
    fx.seeder
        .lambda
        .update_alias()
        .function_name(&name)
        .name("live")
        .function_version("3")
        .routing_config(aws_sdk_lambda::types::AliasRoutingConfiguration::builder().build())
        .send()
        .await
        .expect("alias");
    fx.seeder.reserve(&name, 3).await;
    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    proxy.add(Rule {
        region: PROXIED.into(),
        service: Some("lambda".into()),
        operation: Some("PutFunctionConcurrency".into()),
        fault: Fault::Status(500),
        remaining: None,
    });
    let r = lops.run(&["restore", &snapshot, "--yes"]);
    r.assert_exit(1);
    assert!(r.stderr.contains("safety snapshot"), "{}", r.stderr);
    assert!(r.stderr.contains("undone"), "{}", r.stderr);
    assert!(proxy.calls(PROXIED, "lambda", "UpdateFunctionConfiguration") >= 1);
    assert_eq!(
        state(&fx.seeder.lambda, &name).await.expect("state"),
        before
    );

    // 3. ... and putting it back fails too: the error names the safety snapshot to restore by
    // hand, also in the --json document a cron job keeps (it said "printed above", and only
    // stderr had it).
    proxy.add_after(
        1,
        Rule {
            region: PROXIED.into(),
            service: Some("lambda".into()),
            operation: Some("UpdateFunctionConfiguration".into()),
            fault: Fault::Status(500),
            remaining: None,
        },
    );
    let r = lops.run(&["restore", &snapshot, "--yes", "--json"]);
    r.assert_exit(1);
    let doc = r.json();
    let error = doc["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("putting it back failed too")
            && error.contains("restore the safety snapshot s3://"),
        "{doc}"
    );
}

/// A restore's write that got no answer may have landed: a failure there puts it back with the
/// rest (an alias left as the snapshot had it was said "as it was"), a function created whose
/// answer was lost is deleted again, and a step that cannot be taken back unseen (an event
/// source mapping made) is said as not known — never "as it was".
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_write_whose_answer_is_lost_is_put_back_or_said_not_known() {
    let fx = Fixture::new(PROXIED, "lost").await;
    let name = moto::unique("lost");
    fx.function(&name).await;
    fx.queue_mapping(&name).await;
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, PROXIED, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    let lops = fx.lops(&proxy.url);
    // One try of 2 s per call (the test is about an answer lost, not the budget): each write
    // below lands and its answer comes after lops stopped waiting.
    let config = lops.config("[timeouts]\noperation_secs = 2\nmax_attempts = 1\n");
    let config = config.display().to_string();
    let late = |operation: &str| Rule {
        region: PROXIED.into(),
        service: Some("lambda".into()),
        operation: Some(operation.into()),
        fault: Fault::LateAnswer(Duration::from_secs(4)),
        remaining: Some(1),
    };
    let restore = |extra: &[&str]| {
        let mut args = vec!["--config", &config, "restore", &snapshot, "--yes"];
        args.extend_from_slice(extra);
        lops.run(&args)
    };

    // 1. The alias moved back to the snapshot's routing, its answer lost, then the next step
    // fails: the alias goes back with the rest.
    fx.seeder.reserve(&name, 3).await;
    fx.seeder.clear_routing(&name).await;
    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    proxy.add(late("UpdateAlias"));
    let r = restore(&[]);
    r.assert_exit(1);
    assert!(
        r.stderr
            .contains("every change was undone: the target is as it was"),
        "{}",
        r.stderr
    );
    assert_eq!(
        state(&fx.seeder.lambda, &name).await.expect("state"),
        before
    );

    // 1b. Tags: the tag call lands, the untag after it is refused outright — the tags set
    // are put back with the rest (the undo went with the refusal: "as it was", tags changed).
    let arn = format!("arn:aws:lambda:{PROXIED}:123456789012:function:{name}");
    fx.seeder
        .lambda
        .tag_resource()
        .resource(&arn)
        .tags("team", "other")
        .tags("extra", "x")
        .send()
        .await
        .expect("tags");
    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    proxy.add(Rule {
        region: PROXIED.into(),
        service: Some("lambda".into()),
        operation: Some("UntagResource".into()),
        fault: Fault::Code(403, "AccessDeniedException"),
        remaining: Some(1),
    });
    let r = restore(&[]);
    r.assert_exit(1);
    assert!(r.stderr.contains("every change was undone"), "{}", r.stderr);
    assert_eq!(
        state(&fx.seeder.lambda, &name).await.expect("state"),
        before
    );

    // 2. A new function whose create answered late: deleted again.
    let fresh = format!("{name}-new");
    proxy.add(late("CreateFunction"));
    let r = restore(&["--name", &fresh]);
    r.assert_exit(1);
    assert!(r.stderr.contains("every change was undone"), "{}", r.stderr);
    assert!(
        state(&fx.seeder.lambda, &fresh).await.is_none(),
        "the function whose create answered late is still there"
    );

    // 3. A mapping made with its answer lost: lops cannot know it to delete it, and says so.
    let other = format!("{name}-map");
    proxy.add(late("CreateEventSourceMapping"));
    let r = restore(&["--name", &other]);
    r.assert_exit(1);
    assert!(
        r.stderr.contains("whether this step landed is not known")
            && !r.stderr.contains("as it was"),
        "{}",
        r.stderr
    );
}

/// A function published to while it is backed up (a version published and its alias moved
/// onto it between the reads of its versions and of its aliases) is read again: the snapshot
/// holds the version the alias routes to and verifies (one was stored and audited ok that
/// verify and restore then refused as incomplete).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_changed_while_backed_up_is_read_again_into_a_whole_snapshot() {
    let fx = Fixture::new(PROXIED, "moving").await;
    let name = moto::unique("moving");
    fx.function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: PROXIED.into(),
        service: Some("lambda".into()),
        operation: Some("ListAliases".into()),
        fault: Fault::Delay(Duration::from_secs(2)),
        remaining: Some(1),
    });
    let lops = fx.lops(&proxy.url);
    let to = fx.to();
    let child = lops.spawn(&[
        "backup", "run", "--yes", "--fn", &name, "--region", PROXIED, "--to", &to, "--json",
    ]);
    // While its aliases' read waits: a version published and the alias moved onto it.
    let deadline = Instant::now() + Duration::from_secs(20);
    while proxy.calls(PROXIED, "lambda", "ListAliases") == 0 {
        assert!(Instant::now() < deadline, "{:?}", proxy.all_calls());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let three = fx.seeder.publish_version(&name, "three").await;
    fx.seeder
        .lambda
        .update_alias()
        .function_name(&name)
        .name("live")
        .function_version(&three)
        .routing_config(aws_sdk_lambda::types::AliasRoutingConfiguration::builder().build())
        .send()
        .await
        .expect("alias");
    let out = child.wait_with_output().expect("wait");
    let stdout = String::from_utf8_lossy(&out.stdout).into_owned();
    assert_eq!(out.status.code(), Some(0), "{stdout}");
    // Into a new bucket every blob of the snapshot was uploaded, by one try or the other: the
    // summary counts both (it counted the last try's only).
    let doc: serde_json::Value = serde_json::from_str(&stdout).expect("json");
    assert_eq!(
        doc["uploaded_blobs"], doc["snapshots"][0]["blobs"],
        "{stdout}"
    );
    let listed = fx.list(&lops, PROXIED);
    let snapshot = (listed.json().as_array().cloned().unwrap_or_default())
        .iter()
        .filter_map(|s| s["snapshot"].as_str().map(str::to_string))
        .find(|s| s.contains(&name))
        .unwrap_or_else(|| panic!("no snapshot listed: {}", listed.stdout));
    let verify = lops.run(&["backup", "verify", &snapshot]);
    verify.assert_exit(0);
    assert!(proxy.calls(PROXIED, "lambda", "ListAliases") >= 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn s3_data_is_copied_server_side_and_restored_multipart_object_included() {
    let fx = Fixture::new(HOME, "data").await;
    let name = moto::unique("assets");
    fx.function(&name).await;
    let source = moto::unique("src-");
    create_bucket(&fx.s3, &source, HOME).await;
    let small = br#"{"sku": 1}"#.to_vec();
    // Over the 8 MiB multipart threshold: copied in two parts.
    let big: Vec<u8> = (0..9 * 1024 * 1024 + 17).map(|i| (i % 251) as u8).collect();
    for (key, body) in [
        ("data/a.json", small.clone()),
        ("data/deep/big.bin", big.clone()),
    ] {
        fx.s3
            .put_object()
            .bucket(&source)
            .key(key)
            .body(ByteStream::from(body))
            .send()
            .await
            .expect("put");
    }
    let lops = fx.lops(moto::url());
    let data = format!("s3://{source}/data");
    let run = lops.run(&[
        "backup",
        "run",
        "--yes",
        "--fn",
        &name,
        "--region",
        HOME,
        "--to",
        &fx.to(),
        "--data",
        &data,
        "--json",
    ]);
    let snapshot = snapshot_of(&run);
    let summary = &run.json()["data"][0];
    assert_eq!(summary["objects"], 2, "{summary}");
    assert_eq!(summary["bytes"], (small.len() + big.len()) as u64);
    let verify = lops.run(&["backup", "verify", &snapshot, "--json"]);
    verify.assert_exit(0);
    assert_eq!(verify.json()["data_objects_checked"], 2);

    // The data is lost; restore copies it back (and the function already matches).
    for key in ["data/a.json", "data/deep/big.bin"] {
        fx.s3
            .delete_object()
            .bucket(&source)
            .key(key)
            .send()
            .await
            .expect("delete");
    }
    lops.run(&["restore", &snapshot, "--yes"]).assert_exit(0);
    assert_eq!(
        fx.get(&source, "data/a.json").await.as_deref(),
        Some(&small[..])
    );
    // Run again, it finds nothing to do: the objects are there as in the snapshot.
    let again = lops.run(&["restore", &snapshot, "--dry-run"]);
    again.assert_exit(0);
    assert!(
        again.stderr.contains("2 object(s) already at") && !again.stderr.contains("+ copy"),
        "{}",
        again.stderr
    );
    let got = fx
        .get(&source, "data/deep/big.bin")
        .await
        .expect("big object restored");
    assert_eq!(hex(&Sha256::digest(&got)), hex(&Sha256::digest(&big)));

    // Under another name (a drill, a recovery), the live data is not written over by default:
    // refused, saying what to give, with nothing copied.
    fx.s3
        .put_object()
        .bucket(&source)
        .key("data/a.json")
        .body(ByteStream::from(b"newer".to_vec()))
        .send()
        .await
        .expect("put");
    let elsewhere = lops.run(&[
        "restore",
        &snapshot,
        "--name",
        &format!("{name}-dr"),
        "--yes",
    ]);
    elsewhere.assert_exit(2);
    assert!(
        elsewhere.stderr.contains("--data-to") && elsewhere.stderr.contains("--no-data"),
        "{}",
        elsewhere.stderr
    );
    assert_eq!(
        fx.get(&source, "data/a.json").await.as_deref(),
        Some(&b"newer"[..])
    );

    // Never into the backup store: its listing and retention would read the copies as
    // broken snapshots. Refused before anything is copied.
    let into_store = lops.run(&[
        "restore",
        &snapshot,
        "--data-to",
        &format!("{}/snapshots/zz", fx.to()),
        "--yes",
    ]);
    into_store.assert_exit(2);
    assert!(
        into_store.stderr.contains("overlaps the backup store"),
        "{}",
        into_store.stderr
    );
    lops.run(&["backup", "list", "--to", &fx.to(), "--region", HOME])
        .assert_exit(0);

    // Into a bucket that is not there: refused at the preview, before the function is made
    // (it used to create it, then fail copying and say "rerun to finish").
    let gone = moto::unique("gone-");
    let nowhere = lops.run(&[
        "restore",
        &snapshot,
        "--name",
        &format!("{name}-nb"),
        "--data-to",
        &format!("s3://{gone}/copy"),
        "--yes",
    ]);
    nowhere.assert_exit(2);
    assert!(
        nowhere
            .stderr
            .contains(&format!("bucket '{gone}' does not exist"))
            && nowhere.stderr.contains("nothing was restored")
            && !nowhere.stderr.contains("to back up into"),
        "{}",
        nowhere.stderr
    );
    assert!(
        fx.seeder
            .lambda
            .get_function()
            .function_name(format!("{name}-nb"))
            .send()
            .await
            .is_err(),
        "the function was made"
    );

    // Or into another bucket.
    let other = moto::unique("other-");
    create_bucket(&fx.s3, &other, HOME).await;
    lops.run(&[
        "restore",
        &snapshot,
        "--data-to",
        &format!("s3://{other}/copy"),
        "--yes",
    ])
    .assert_exit(0);
    assert_eq!(
        fx.get(&other, "copy/a.json").await.as_deref(),
        Some(&small[..])
    );
    assert_eq!(
        fx.get(&other, "copy/deep/big.bin").await.map(|b| b.len()),
        Some(big.len())
    );

    // A data copy lost from the store: the snapshot fails verification, but a restore
    // without the data (`--no-data`) does not need it, and says what it leaves out.
    let copy = summary["copy"].as_str().expect("copy").to_string();
    let prefix = copy
        .strip_prefix(&format!("s3://{}/", fx.bucket))
        .unwrap_or_else(|| panic!("{copy}"));
    let listed = fx
        .s3
        .list_objects_v2()
        .bucket(&fx.bucket)
        .prefix(prefix)
        .send()
        .await
        .expect("list");
    let lost = listed.contents()[0].key().expect("key").to_string();
    fx.s3
        .delete_object()
        .bucket(&fx.bucket)
        .key(&lost)
        .send()
        .await
        .expect("delete");
    let whole = lops.run(&["restore", &snapshot, "--dry-run"]);
    whole.assert_exit(1);
    assert!(
        whole.stderr.contains("`--no-data` restores the function"),
        "{}",
        whole.stderr
    );
    let no_data = lops.run(&["restore", &snapshot, "--no-data", "--dry-run"]);
    no_data.assert_exit(0);
    assert!(
        no_data.stderr.contains("data copy is damaged") && no_data.stderr.contains(&lost),
        "{}",
        no_data.stderr
    );
    // A drill checks the snapshot whole (it copies no data, but the recovery would need it).
    let drill = lops.run(&["backup", "drill", &snapshot, "--region", HOME, "--yes"]);
    drill.assert_exit(1);
    assert!(
        drill.stderr.contains("failed verification") && drill.stderr.contains(&lost),
        "{}",
        drill.stderr
    );
    // Checked before the question, as a restore is: nobody is asked to confirm a drill that
    // cannot run (without --yes and no terminal, it asked first: exit 4).
    let unasked = lops.run(&["backup", "drill", &snapshot, "--region", HOME]);
    unasked.assert_exit(1);
    assert!(
        unasked.stderr.contains("failed verification")
            && !unasked.stderr.contains("confirmation needed"),
        "{}",
        unasked.stderr
    );
    // The data copy not readable at all (denied): verify names each object it could not read
    // and fails; a restore without the data goes on, its JSON naming what it goes on without
    // (a denial ended the whole check, and the restore with it).
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::s3(
        HOME,
        // The data copies' objects only (S3 is named by method and path here).
        format!("HEAD /{}/lops/data/*", fx.bucket),
        Fault::Status(403),
    ));
    let denied = fx.lops(&proxy.url);
    let verify = denied.run(&["backup", "verify", &snapshot]);
    verify.assert_exit(1);
    assert!(
        verify.stderr.contains("lops: not read: s3://"),
        "{}",
        verify.stderr
    );
    // Nothing is known broken there: try again, or go without the data (not a new backup).
    assert!(
        verify.stderr.contains("verify again") && !verify.stderr.contains("take a new backup"),
        "{}",
        verify.stderr
    );
    let no_data = denied.run(&["restore", &snapshot, "--no-data", "--dry-run"]);
    no_data.assert_exit(0);
    assert!(
        no_data
            .stderr
            .contains("data copy could not be read (not read: s3://")
            && !no_data.stderr.contains("damaged"),
        "{}",
        no_data.stderr
    );
    let no_data = denied.run(&["restore", &snapshot, "--no-data", "--dry-run", "--json"]);
    no_data.assert_exit(0);
    let doc = no_data.json();
    let problems = doc["data_problems"].as_array().cloned().unwrap_or_default();
    assert!(
        !problems.is_empty()
            && problems
                .iter()
                .all(|p| p.as_str().is_some_and(|p| p.starts_with("not read: s3://"))),
        "{doc}"
    );
    // Slowed down past its retries (S3 answers a HEAD 503, no body): not a problem of one object but of every read to come, so
    // the check ends at the first (not one failed read per object), and so does the restore.
    let proxy = FaultProxy::start(moto::url());
    let data_heads = format!("HEAD /{}/lops/data/", fx.bucket);
    proxy.add(Rule::s3(HOME, format!("{data_heads}*"), Fault::Status(503)));
    let throttled = fx.lops(&proxy.url);
    let verify = throttled.run(&["backup", "verify", &snapshot]);
    assert_ne!(verify.code, 0, "{}", verify.stderr);
    assert!(
        !verify.stderr.contains("not read: s3://"),
        "{}",
        verify.stderr
    );
    assert!(
        verify
            .stderr
            .contains("verify stopped reading the data copy at s3://")
            && verify.stderr.contains("verify again once S3 answers"),
        "{}",
        verify.stderr
    );
    let heads = || proxy.calls_where(HOME, "s3", |op| op.starts_with(&data_heads));
    let one_object = heads();
    assert!((1..=3).contains(&one_object), "{one_object}");
    let no_data = throttled.run(&["restore", &snapshot, "--no-data", "--dry-run"]);
    assert_ne!(no_data.code, 0, "{}", no_data.stderr);
    assert_eq!(heads(), 2 * one_object, "{}", no_data.stderr);
}

/// A snapshot whose manifest cannot be read is not counted by the retention (it would push
/// out the good ones) and is not deleted either; a store where backups hold leases is said to
/// keep its blobs in the preview, which then lists none.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_never_counts_a_snapshot_it_cannot_read() {
    let fx = Fixture::new(HOME, "prunebad").await;
    let name = moto::unique("pb");
    fx.plain_function(&name).await;
    let lops = fx.lops(moto::url());
    let key_of = |uri: &str| {
        uri.strip_prefix(&format!("s3://{}/", fx.bucket))
            .unwrap_or_else(|| panic!("{uri}"))
            .to_string()
    };
    let mut keys = Vec::new();
    for _ in 0..4 {
        let run = lops.run(&[
            "backup",
            "run",
            "--yes",
            "--fn",
            &name,
            "--region",
            HOME,
            "--to",
            &fx.to(),
            "--json",
        ]);
        keys.push(key_of(&snapshot_of(&run)));
    }
    // The newest manifest one verify rejects (a reservation no function can have), the
    // second newest torn in half, the oldest replaced by JSON that is no manifest.
    let newest = fx.get(&fx.bucket, &keys[3]).await.expect("manifest");
    let mut invalid: serde_json::Value = serde_json::from_slice(&newest).expect("json");
    invalid["reserved_concurrency"] = serde_json::json!(-1);
    fx.put(&keys[3], serde_json::to_vec(&invalid).expect("json"))
        .await;
    let torn = fx.get(&fx.bucket, &keys[2]).await.expect("manifest");
    fx.put(&keys[2], torn[..torn.len() / 2].to_vec()).await;
    fx.put(&keys[0], b"[]".to_vec()).await;
    let to = fx.to();
    let prune = |extra: &[&str]| {
        let mut args = vec![
            "backup",
            "prune",
            "--to",
            &to,
            "--region",
            HOME,
            "--keep-last",
            "1",
            "--grace",
            "0s",
            "--json",
        ];
        args.extend_from_slice(extra);
        lops.run(&args)
    };
    let run = prune(&["--yes"]);
    run.assert_exit(0);
    assert_eq!(
        run.stdout
            .matches("cannot be read or is invalid: it is kept")
            .count(),
        3,
        "{}",
        run.stdout
    );
    for (i, kept, why) in [
        (3, true, "the invalid one is left"),
        (2, true, "the torn one is left"),
        (1, true, "the only good one is kept"),
        (0, true, "an unreadable one is never deleted"),
    ] {
        assert_eq!(fx.get(&fx.bucket, &keys[i]).await.is_some(), kept, "{why}");
    }
    // With the bad ones removed and a backup holding a lease, the preview keeps blobs.
    for key in [&keys[3], &keys[2], &keys[0]] {
        fx.s3
            .delete_object()
            .bucket(&fx.bucket)
            .key(key)
            .send()
            .await
            .expect("delete");
    }
    fx.put("lops/leases/other-run.json", b"{}".to_vec()).await;
    let dry = prune(&["--dry-run"]);
    dry.assert_exit(0);
    let plan = &dry.json()["plan"];
    assert_eq!(plan["blobs"], serde_json::json!([]), "{plan}");
    assert!(plan.to_string().contains("hold a lease"), "{plan}");
    // A lease a killed lops of this machine left (its process gone) is removed by the next
    // backup, not left to hold prune back for hours; one of another machine, or one that does
    // not say whose, stays until it is stale.
    let mut gone = std::process::Command::new("true").spawn().expect("spawn");
    let pid = gone.id();
    gone.wait().expect("wait");
    let host = lops::process::host_name();
    let note = |host: &str| serde_json::json!({"host": host, "pid": pid}).to_string();
    fx.put("lops/leases/killed-here.json", note(&host).into_bytes())
        .await;
    fx.put(
        "lops/leases/elsewhere.json",
        note("another-machine").into_bytes(),
    )
    .await;
    lops.run(&[
        "backup",
        "run",
        "--yes",
        "--fn",
        &name,
        "--region",
        HOME,
        "--to",
        &fx.to(),
    ])
    .assert_exit(0);
    assert!(
        fx.get(&fx.bucket, "lops/leases/killed-here.json")
            .await
            .is_none()
    );
    for kept in ["lops/leases/elsewhere.json", "lops/leases/other-run.json"] {
        assert!(fx.get(&fx.bucket, kept).await.is_some(), "{kept}");
    }
    // A prune does not wait on it either (a dashboard quit mid-backup left one that held
    // prune back until another backup ran on this machine): not counted.
    for left in ["lops/leases/elsewhere.json", "lops/leases/other-run.json"] {
        fx.s3
            .delete_object()
            .bucket(&fx.bucket)
            .key(left)
            .send()
            .await
            .expect("delete");
    }
    fx.put("lops/leases/quit-here.json", note(&host).into_bytes())
        .await;
    let dry = prune(&["--dry-run"]);
    dry.assert_exit(0);
    let plan = &dry.json()["plan"];
    assert!(!plan.to_string().contains("hold a lease"), "{plan}");
    assert!(
        fx.get(&fx.bucket, "lops/leases/quit-here.json")
            .await
            .is_some()
    );
    prune(&["--yes"]).assert_exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_the_newest_and_deletes_what_nothing_references() {
    let fx = Fixture::new(HOME, "prune").await;
    let prefix = moto::unique("pr");
    let a = format!("{prefix}-a");
    let b = format!("{prefix}-b");
    fx.function(&a).await;
    fx.plain_function(&b).await;
    let lops = fx.lops(moto::url());
    let all = |lops: &Lops| {
        lops.run(&[
            "backup",
            "run",
            "--yes",
            "--all",
            "--filter",
            &format!("{prefix}-*"),
            "--region",
            HOME,
            "--to",
            &fx.to(),
            "--json",
        ])
    };
    let first = all(&lops);
    first.assert_exit(0);
    assert_eq!(
        first.json()["snapshots"].as_array().map(Vec::len),
        Some(2),
        "{}",
        first.stdout
    );
    // b's code changes: its old blob is referenced only by its first snapshot.
    let key = format!("seed/{b}-v2.zip");
    fx.put(&key, code_zip("b, second build")).await;
    fx.seeder
        .lambda
        .update_function_code()
        .function_name(&b)
        .s3_bucket(&fx.bucket)
        .s3_key(&key)
        .send()
        .await
        .expect("update code");
    all(&lops).assert_exit(0);
    let listed = fx.list(&lops, HOME);
    assert_eq!(listed.json().as_array().map(Vec::len), Some(4));

    let dry = lops.run(&[
        "backup",
        "prune",
        "--to",
        &fx.to(),
        "--region",
        HOME,
        "--keep-last",
        "1",
        "--grace",
        "0s",
        "--dry-run",
        "--json",
    ]);
    dry.assert_exit(0);
    let plan = &dry.json()["plan"];
    assert_eq!(
        plan["manifests"].as_array().map(Vec::len),
        Some(2),
        "{plan}"
    );
    assert_eq!(plan["blobs"].as_array().map(Vec::len), Some(1), "{plan}");
    let listed = fx.list(&lops, HOME);
    assert_eq!(
        listed.json().as_array().map(Vec::len),
        Some(4),
        "a dry run deleted something"
    );

    // Without a grace of 0, the fresh blob is protected (a backup might still be running).
    let graced = lops.run(&[
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
    assert_eq!(
        graced.json()["plan"]["blobs"].as_array().map(Vec::len),
        Some(0)
    );

    lops.run(&[
        "backup",
        "prune",
        "--to",
        &fx.to(),
        "--region",
        HOME,
        "--keep-last",
        "1",
        "--grace",
        "0s",
        "--yes",
    ])
    .assert_exit(0);
    let listed = fx.list(&lops, HOME);
    let listed = listed.json();
    assert_eq!(listed.as_array().map(Vec::len), Some(2), "{listed}");
    for s in listed.as_array().expect("list") {
        lops.run(&["backup", "verify", s["snapshot"].as_str().expect("uri")])
            .assert_exit(0);
    }
    let audit = lops.run(&["audit", "--json"]).json();
    assert!(
        audit
            .as_array()
            .expect("records")
            .iter()
            .any(|r| r["action"] == "backup.prune" && r["result"] == "ok")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn bad_input_is_refused_with_a_clear_message_and_changes_nothing() {
    let fx = Fixture::new(HOME, "bad").await;
    let name = moto::unique("badin");
    fx.function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));

    // A drill of a snapshot address with no manifest says so first: no plan, no question.
    let dir = snapshot
        .rsplit_once('/')
        .map(|(d, _)| d)
        .unwrap_or_default();
    let missing = format!("{dir}/20200101T000000.000Z.json");
    let drill = lops.run(&["backup", "drill", &missing, "--region", HOME]);
    drill.assert_exit(2);
    assert!(
        drill.stderr.contains("does not exist: list snapshots with")
            && !drill.stderr.contains("restore it under a temporary name"),
        "{}",
        drill.stderr
    );

    let cases: Vec<(Vec<String>, i32, &str)> = vec![
        (
            vec![
                "backup".into(),
                "run".into(),
                "--yes".into(),
                "--fn".into(),
                name.clone(),
                "--region".into(),
                HOME.into(),
                "--to".into(),
                format!("s3://{}-missing/x", fx.bucket),
            ],
            2,
            "does not exist",
        ),
        (
            vec![
                "backup".into(),
                "run".into(),
                "--yes".into(),
                "--fn".into(),
                name.clone(),
                "--region".into(),
                HOME.into(),
                "--to".into(),
                "my-bucket/x".into(),
            ],
            2,
            "not an S3 URI",
        ),
        // A snapshot's address is its manifest's (not a destination's example).
        (
            vec!["restore".into(), "notauri".into(), "--dry-run".into()],
            2,
            "'notauri' is not a snapshot's address: give its manifest's, s3://BUCKET/PREFIX/snapshots/",
        ),
        (
            vec!["backup".into(), "verify".into(), "snapshot.json".into()],
            2,
            "as `lops backup list --to s3://BUCKET/PREFIX` prints it",
        ),
        (
            vec![
                "backup".into(),
                "run".into(),
                "--yes".into(),
                "--fn".into(),
                name.clone(),
                "--region".into(),
                HOME.into(),
                "--to".into(),
                "s3://My_Bucket/x".into(),
            ],
            2,
            "lowercase",
        ),
        (
            vec![
                "backup".into(),
                "run".into(),
                "--yes".into(),
                "--fn".into(),
                "no-such-fn".into(),
                "--region".into(),
                HOME.into(),
                "--to".into(),
                fx.to(),
            ],
            2,
            "does not exist",
        ),
        (
            vec![
                "backup".into(),
                "run".into(),
                "--yes".into(),
                "--fn".into(),
                name.clone(),
                "--region".into(),
                HOME.into(),
                "--to".into(),
                fx.to(),
                "--storage-class".into(),
                "FAST".into(),
            ],
            2,
            "storage class",
        ),
        (
            vec![
                "backup".into(),
                "run".into(),
                "--yes".into(),
                "--region".into(),
                HOME.into(),
                "--to".into(),
                fx.to(),
            ],
            2,
            "--fn",
        ),
        (
            vec![
                "restore".into(),
                format!("{}/blobs/sha256/{}", fx.to(), "a".repeat(64)),
                "--yes".into(),
            ],
            2,
            "not a snapshot manifest",
        ),
        (
            vec![
                "restore".into(),
                format!(
                    "{}/snapshots/{HOME}/{name}/20200101T000000.000Z.json",
                    fx.to()
                ),
                "--yes".into(),
            ],
            2,
            "does not exist",
        ),
        (
            vec![
                "restore".into(),
                snapshot.clone(),
                "--name".into(),
                "bad:name".into(),
                "--yes".into(),
            ],
            2,
            "is not a function name",
        ),
        (
            vec![
                "restore".into(),
                snapshot.clone(),
                "--role".into(),
                "admin".into(),
                "--yes".into(),
            ],
            2,
            "IAM role ARN",
        ),
        (
            vec![
                "--read-only".into(),
                "restore".into(),
                snapshot.clone(),
                "--yes".into(),
            ],
            4,
            "--mode change",
        ),
        (
            vec![
                "--read-only".into(),
                "backup".into(),
                "drill".into(),
                snapshot.clone(),
                "--region".into(),
                HOME.into(),
                "--yes".into(),
            ],
            4,
            "refused: backup drill (a restore into a copy) in",
        ),
        (
            vec![
                "--read-only".into(),
                "backup".into(),
                "prune".into(),
                "--to".into(),
                fx.to(),
                "--region".into(),
                HOME.into(),
                "--keep-last".into(),
                "1".into(),
                "--yes".into(),
            ],
            4,
            "--mode change",
        ),
        (
            vec![
                "backup".into(),
                "prune".into(),
                "--to".into(),
                fx.to(),
                "--region".into(),
                HOME.into(),
                "--keep-last".into(),
                "0".into(),
                "--yes".into(),
            ],
            2,
            "keep at least 1",
        ),
    ];
    let before = state(&fx.seeder.lambda, &name).await;
    for (args, code, says) in &cases {
        let args: Vec<&str> = args.iter().map(String::as_str).collect();
        let run = lops.run(&args);
        run.assert_exit(*code);
        assert!(
            run.stderr.contains(says),
            "{args:?}: expected '{says}' in:\n{}",
            run.stderr
        );
    }
    assert_eq!(state(&fx.seeder.lambda, &name).await, before);
    let listed = fx.list(&lops, HOME);
    assert_eq!(
        listed.json().as_array().map(Vec::len),
        Some(1),
        "bad input touched the backups"
    );

    // A backup in read-only mode is allowed: it only adds objects to the backup bucket.
    let ro = lops.run(&[
        "--read-only",
        "backup",
        "run",
        "--yes",
        "--fn",
        &name,
        "--region",
        HOME,
        "--to",
        &fx.to(),
        "--json",
    ]);
    ro.assert_exit(0);

    // A manifest that is not JSON: verify and restore say so and change nothing.
    let key = snapshot
        .trim_start_matches(&format!("s3://{}/", fx.bucket))
        .to_string();
    fx.put(
        &key,
        b"{\"format\": \"lops-snapshot/1\", \"function\": ".to_vec(),
    )
    .await;
    let v = lops.run(&["backup", "verify", &snapshot]);
    v.assert_exit(1);
    assert!(
        v.stderr.contains("not a lops snapshot manifest"),
        "{}",
        v.stderr
    );
    lops.run(&["restore", &snapshot, "--yes"]).assert_exit(1);
    assert_eq!(state(&fx.seeder.lambda, &name).await, before);
    let listed = fx.list(&lops, HOME);
    // Listed with the others, named on stderr with what to do, and the listing is partial.
    listed.assert_exit(3);
    assert!(
        listed
            .stderr
            .contains(&format!("snapshot {snapshot} cannot be restored ("))
            && listed.stderr.contains("lops backup list --to"),
        "{}",
        listed.stderr
    );
    let problems: Vec<Value> = listed
        .json()
        .as_array()
        .expect("list")
        .iter()
        .filter(|s| !s["problem"].is_null())
        .cloned()
        .collect();
    assert_eq!(
        problems.len(),
        1,
        "the corrupt manifest is listed with its problem"
    );
    // Its time was not read: unknown, not an empty string.
    assert_eq!(problems[0]["taken_at"], Value::Null, "{}", problems[0]);

    // A manifest whose taken_at is no time: not passed on as one (a script sorts by it).
    let other = snapshot_of(&ro);
    let key = other
        .trim_start_matches(&format!("s3://{}/", fx.bucket))
        .to_string();
    let mut manifest: Value =
        serde_json::from_slice(&fx.get(&fx.bucket, &key).await.expect("manifest")).expect("json");
    manifest["taken_at"] = Value::from("yesterday-ish");
    fx.put(&key, serde_json::to_vec(&manifest).expect("json"))
        .await;
    let listed = fx.list(&lops, HOME);
    let entry = listed_entry(&listed, &other);
    assert_eq!(entry["taken_at"], Value::Null, "{entry}");
    assert!(
        entry["problem"]
            .as_str()
            .is_some_and(|p| p.contains("is not a time")),
        "{entry}"
    );

    // One naming another function than the one it lies under: restore and prune refuse it,
    // and the list says so (it listed it clean).
    manifest["taken_at"] = Value::from("2026-11-25T10:00:00Z");
    manifest["function"] = Value::from("someone-else");
    fx.put(&key, serde_json::to_vec(&manifest).expect("json"))
        .await;
    let listed = fx.list(&lops, HOME);
    // Both listed cannot be restored: nothing usable is listed (exit 1).
    listed.assert_exit(1);
    let entry = listed_entry(&listed, &other);
    assert_eq!(entry["taken_at"], "2026-11-25T10:00:00Z", "{entry}");
    assert!(
        entry["problem"]
            .as_str()
            .is_some_and(|p| p.contains("it names function someone-else but lies under")),
        "{entry}"
    );
    assert_eq!(entry["broken"], true, "{entry}");
    assert!(
        listed
            .stderr
            .contains(&format!("snapshot {other} cannot be restored (")),
        "{}",
        listed.stderr
    );
    // Nothing of it left to restore: only a new backup is offered, not the listing just read.
    assert!(
        listed
            .stderr
            .contains("no other snapshot of it can be restored")
            && !listed.stderr.contains("lists them)"),
        "{}",
        listed.stderr
    );

    // One a newer lops wrote (a later format, a field this lops does not know): not called
    // corrupt nor answered with "take a new backup" — upgrade; verify and restore exit 1.
    manifest["function"] = Value::from(name.as_str());
    manifest["format"] = Value::from("lops-snapshot/3");
    manifest["lops_version"] = Value::from("9.1.0");
    manifest["added_later"] = Value::from(true);
    fx.put(&key, serde_json::to_vec(&manifest).expect("json"))
        .await;
    for args in [
        vec!["backup", "verify", other.as_str()],
        vec!["restore", other.as_str(), "--yes"],
    ] {
        let r = lops.run(&args);
        r.assert_exit(1);
        assert!(
            r.stderr.contains("written by a newer lops 9.1.0")
                && r.stderr.contains("upgrade lops")
                && !r.stderr.contains("corrupt")
                && !r.stderr.contains("take a new backup"),
            "{args:?}: {}",
            r.stderr
        );
    }
    assert_eq!(state(&fx.seeder.lambda, &name).await, before);
    let listed = fx.list(&lops, HOME);
    let entry = listed_entry(&listed, &other);
    assert!(
        entry["problem"]
            .as_str()
            .is_some_and(|p| p.contains("upgrade lops")),
        "{entry}"
    );
    // A script tells it from a broken one: whole, only not readable by this lops.
    assert_eq!(entry["broken"], false, "{entry}");
    let said = listed
        .stderr
        .lines()
        .find(|l| l.contains(&other))
        .unwrap_or_default();
    assert!(
        said.contains("cannot be read here") && !said.contains("take a new backup"),
        "{}",
        listed.stderr
    );
}

/// The entry of `backup list --json` for `snapshot`.
pub(crate) fn listed_entry(listed: &Run, snapshot: &str) -> Value {
    listed
        .json()
        .as_array()
        .expect("list")
        .iter()
        .find(|s| s["snapshot"] == snapshot)
        .cloned()
        .expect("listed")
}

fn hex(bytes: &[u8]) -> String {
    bytes.iter().map(|b| format!("{b:02x}")).collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_backup_key_takes_a_snapshot_with_a_gauge() {
    use crate::support::tui;
    use crossterm::event::KeyCode;

    let fx = Fixture::new(DR, "tui").await;
    let name = moto::unique("tuibk");
    fx.plain_function(&name).await;
    let mut clients = tui::clients(moto::url(), DR).await;
    clients.code_download_base = Some(format!("{}/{}", fx.code_host.url, fx.bucket));
    let sources = vec![std::sync::Arc::new(lops::provider::aws::AwsRegion::new(
        clients,
    ))];
    let mut state = tui::state(&sources);
    state.backup_target = Some((
        lops::backup::S3Uri::parse(&fx.to()).expect("uri"),
        "STANDARD".into(),
    ));
    let (keys, run) = tui::start(sources, state);
    tui::filter(&keys, &name);
    let manifests = || async {
        fx.s3
            .list_objects_v2()
            .bucket(&fx.bucket)
            .prefix(format!("lops/snapshots/{DR}/{name}/"))
            .send()
            .await
            .map(|o| o.contents().len())
            .unwrap_or(0)
    };
    // Press b until the inventory shows the function and a backup has run (a press before
    // the inventory arrives finds nothing to back up; one on a notice closes it).
    let deadline = Instant::now() + Duration::from_secs(40);
    while manifests().await == 0 {
        assert!(Instant::now() < deadline, "no snapshot from the dashboard");
        // A notice from a press before the inventory came closes on enter (or esc, which
        // would also clear the filter when none is open); enter on the row opens its detail,
        // where `b` acts on the same function.
        tui::press(&keys, KeyCode::Enter);
        tui::press(&keys, KeyCode::Char('b'));
        // The preview asks first; y confirms.
        tokio::time::sleep(Duration::from_millis(300)).await;
        tui::press(&keys, KeyCode::Char('y'));
        tokio::time::sleep(Duration::from_millis(1200)).await;
    }
    // Let a backup still under way finish.
    tokio::time::sleep(Duration::from_secs(2)).await;
    // Esc closes the "backup done" notice (if it is up), q quits.
    for code in [KeyCode::Esc, KeyCode::Char('q')] {
        tui::press(&keys, code);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    let state = run.await.expect("join").expect("loop");
    assert!(
        state.backup.is_none(),
        "the gauge is gone when the backup is done"
    );
    assert_eq!(manifests().await, 1);
}

/// Marked functions in two regions: `b` asks once, listing each region's functions, and one run
/// backs them all up with one gauge; each function gets its snapshot.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_backup_key_on_marks_backs_up_every_marked_function_in_one_run() {
    use crate::support::tui::{self, Screen};
    use crossterm::event::KeyCode;

    let fixtures = [Fixture::new(DR, "mk").await, Fixture::new(HOME, "mk").await];
    let name = moto::unique("markbk");
    let mut sources = Vec::new();
    for fx in &fixtures {
        fx.plain_function(&name).await;
        let region = fx
            .seeder
            .lambda
            .config()
            .region()
            .map(|r| r.to_string())
            .unwrap_or_default();
        let mut clients = tui::clients(moto::url(), &region).await;
        clients.code_download_base = Some(format!("{}/{}", fx.code_host.url, fx.bucket));
        sources.push(std::sync::Arc::new(lops::provider::aws::AwsRegion::new(
            clients,
        )));
    }
    let to = &fixtures[0];
    let mut state = tui::state(&sources);
    state.backup_target = Some((
        lops::backup::S3Uri::parse(&to.to()).expect("uri"),
        "STANDARD".into(),
    ));
    let screen = Screen::new(120, 30);
    let (keys, run) = tui::start_on(&screen, sources, state, Some(tui::temp_audit()));
    tui::filter(&keys, &name);
    screen
        .wait_until(30, "both rows", |t| t.matches("Active").count() == 2)
        .await;
    tui::press(&keys, KeyCode::Char('*'));
    tui::press(&keys, KeyCode::Char('b'));
    let preview = screen.wait_for(10, "y confirms · esc or n cancels").await;
    for region in [DR, HOME] {
        assert!(
            preview.contains(&format!("back up {name} @ {region} to {}", to.to())),
            "{preview}"
        );
    }
    tui::press(&keys, KeyCode::Char('y'));
    let done = screen.wait_for(60, "backup done").await;
    for region in [DR, HOME] {
        assert!(
            done.contains(&format!("lops/snapshots/{region}/{name}/")),
            "{done}"
        );
        let manifests = to
            .s3
            .list_objects_v2()
            .bucket(&to.bucket)
            .prefix(format!("lops/snapshots/{region}/{name}/"))
            .send()
            .await
            .map(|o| o.contents().len())
            .unwrap_or(0);
        assert_eq!(manifests, 1, "{region}");
    }
    tui::press(&keys, KeyCode::Esc);
    // Marked again, and the function gone from one region before the run: the other is
    // backed up, the one not backed up is marked again and the notice says b retries it.
    screen
        .wait_until(10, "marks cleared", |t| !t.contains("marked"))
        .await;
    tui::press(&keys, KeyCode::Char('*'));
    screen.wait_for(10, "2 marked").await;
    fixtures[1]
        .seeder
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("delete");
    tui::press(&keys, KeyCode::Char('b'));
    screen.wait_for(10, "y confirms · esc or n cancels").await;
    tui::press(&keys, KeyCode::Char('y'));
    // One backed up, one not: both said (the one done was left out of a "backup failed").
    let failed = screen.wait_for(60, "not for the rest").await;
    let joined = failed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        joined.contains("backup done for 1 of them")
            && joined.contains("/snapshots/")
            && joined.contains("not backed up:")
            && joined.contains("the 1 not backed up are marked again: b retries them"),
        "{failed}"
    );
    tui::press(&keys, KeyCode::Esc);
    screen.wait_for(10, "1 marked").await;
    tui::press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    assert!(state.backup.is_none());
    assert_eq!(
        state.marks.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        [1],
        "{:?}",
        state.marks
    );
}

/// A function marked under two profiles of one account is backed up once; the row left out is
/// marked again only when its own region's backup fails, not when the same name fails in
/// another region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_left_out_as_the_same_function_is_marked_again_only_with_its_own_region() {
    use crate::support::tui::{self, Screen};
    use crossterm::event::KeyCode;
    use lops::config::Access;
    use lops::provider::Scope;
    use lops::provider::aws::{CallCounter, Clients};

    let fixtures = [Fixture::new(DR, "rm").await, Fixture::new(HOME, "rm").await];
    let name = moto::unique("remark");
    let mut sources = Vec::new();
    // default in both regions, then ops in HOME: the same account (moto's), so ops's row is
    // the same function as default's there.
    for (fx, profile) in [
        (&fixtures[0], "default"),
        (&fixtures[1], "default"),
        (&fixtures[1], "ops"),
    ] {
        if profile == "default" {
            fx.plain_function(&name).await;
        }
        let region = fx.seeder.lambda.config().region().map(|r| r.to_string());
        let region = region.unwrap_or_default();
        let config = sdk_config(moto::url(), &region).await;
        let mut clients = Clients::from_sdk_config(
            Scope::new(profile, &region, Access::default()),
            &config,
            &Default::default(),
            &CallCounter::default(),
        );
        clients.code_download_base = Some(format!("{}/{}", fx.code_host.url, fx.bucket));
        sources.push(std::sync::Arc::new(lops::provider::aws::AwsRegion::new(
            clients,
        )));
    }
    let mut state = tui::state(&sources);
    state.backup_target = Some((
        lops::backup::S3Uri::parse(&fixtures[0].to()).expect("uri"),
        "STANDARD".into(),
    ));
    let screen = Screen::new(120, 30);
    let (keys, run) = tui::start_on(&screen, sources, state, Some(tui::temp_audit()));
    tui::filter(&keys, &name);
    screen
        .wait_until(30, "three rows", |t| t.matches("Active").count() == 3)
        .await;
    tui::press(&keys, KeyCode::Char('*'));
    screen.wait_for(10, "3 marked").await;
    // Gone from DR before the run: DR fails, HOME is backed up (once, for both profiles).
    fixtures[0]
        .seeder
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("delete");
    tui::press(&keys, KeyCode::Char('b'));
    screen.wait_for(10, "y confirms · esc or n cancels").await;
    tui::press(&keys, KeyCode::Char('y'));
    // One backed up, one not: both said (the one done was left out of a "backup failed").
    let failed = screen.wait_for(60, "not for the rest").await;
    let joined = failed.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(
        joined.contains("backup done for 1 of them")
            && joined.contains("/snapshots/")
            && joined.contains("not backed up:")
            && joined.contains("the 1 not backed up are marked again: b retries them"),
        "{failed}"
    );
    tui::press(&keys, KeyCode::Esc);
    screen.wait_for(10, "1 marked").await;
    tui::press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    assert_eq!(
        state.marks.iter().map(|(r, _)| *r).collect::<Vec<_>>(),
        [0],
        "{:?}",
        state.marks
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn missing_pieces_are_recorded_as_absent_and_never_fail_the_snapshot() {
    let fx = Fixture::new(HOME, "abs").await;
    let name = moto::unique("layered");
    let layer = fx
        .seeder
        .lambda
        .publish_layer_version()
        .layer_name(format!("{name}-deps"))
        .content(
            aws_sdk_lambda::types::LayerVersionContentInput::builder()
                .zip_file(aws_sdk_lambda::primitives::Blob::new(code_zip("deps")))
                .build(),
        )
        .compatible_runtimes(aws_sdk_lambda::types::Runtime::Python312)
        .send()
        .await
        .expect("layer")
        .layer_version_arn()
        .unwrap_or_default()
        .to_string();
    fx.plain_function(&name).await;
    fx.seeder
        .lambda
        .update_function_configuration()
        .function_name(&name)
        .layers(&layer)
        .send()
        .await
        .expect("attach layer");
    let lops = fx.lops(moto::url());
    let run = lops.run(&[
        "backup",
        "run",
        "--yes",
        "--fn",
        &name,
        "--region",
        HOME,
        "--to",
        &fx.to(),
        "--with-layers",
        "--json",
    ]);
    let snapshot = snapshot_of(&run);
    let key = snapshot.trim_start_matches(&format!("s3://{}/", fx.bucket));
    let manifest: Value =
        serde_json::from_slice(&fx.get(&fx.bucket, key).await.expect("manifest")).expect("json");
    let absent = &manifest["absent"];
    // Not configured on this function.
    assert_eq!(absent["function_url"], "not configured", "{absent}");
    assert_eq!(absent["policy"], "not configured", "{absent}");
    // Without a version or alias there is no provisioned concurrency: recorded as none.
    assert_eq!(manifest["provisioned_concurrency"], serde_json::json!([]));
    // (moto answers GetLayerVersionByArn with HTTP 500; elsewhere the content may be unfetchable.)
    assert!(
        absent.get(format!("layer {layer}")).is_some()
            || absent.get(format!("layer content {layer}")).is_some(),
        "{absent}"
    );
    // What is there is recorded.
    assert_eq!(manifest["layers"][0]["arn"], layer.as_str());
    assert_eq!(manifest["event_source_mappings"], serde_json::json!([]));
    assert_eq!(manifest["latest"]["config"]["layers"][0], layer.as_str());
    lops.run(&["backup", "verify", &snapshot]).assert_exit(0);
    // Said at the backup, and the restore elsewhere says why it has no content: not to back
    // up with `--with-layers` again, which was done.
    assert!(
        run.stderr.contains(&format!("{layer} not stored")),
        "{}",
        run.stderr
    );
    let elsewhere = lops.run(&[
        "restore",
        &snapshot,
        "--region",
        "us-west-2",
        "--no-data",
        "--dry-run",
    ]);
    elsewhere.assert_exit(4);
    assert!(
        elsewhere.stderr.contains("the backup could not store it")
            && !elsewhere.stderr.contains("back the function up with"),
        "{}",
        elsewhere.stderr
    );
}

/// Runs a backup through `proxy`, kills it (SIGKILL) once `seen` holds, and returns.
pub(crate) fn kill_backup_when(
    lops: &Lops,
    args: &[&str],
    proxy: &FaultProxy,
    seen: impl Fn(&FaultProxy) -> bool,
) {
    let mut child = lops
        .command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .expect("spawn");
    let deadline = Instant::now() + Duration::from_secs(60);
    while !seen(proxy) {
        assert!(Instant::now() < deadline, "the run never got there");
        if let Ok(Some(status)) = child.try_wait() {
            panic!("the run ended before it got there: {status}");
        }
        std::thread::sleep(Duration::from_millis(20));
    }
    child.kill().expect("kill -9");
    let _ = child.wait();
}

async fn blob_count(fx: &Fixture) -> usize {
    fx.s3
        .list_objects_v2()
        .bucket(&fx.bucket)
        .prefix("lops/blobs/")
        .send()
        .await
        .map(|o| o.contents().len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_killed_before_or_between_its_blobs_is_never_listed_and_a_rerun_completes() {
    // (moto keeps one code object per function, so one function cannot have two packages
    // here: two functions make two blobs.)
    let fx = Fixture::new(PROXIED, "kb").await;
    let a = moto::unique("blobsa");
    let b = moto::unique("blobsb");
    fx.plain_function(&a).await;
    fx.plain_function(&b).await;
    let functions = format!("{a},{b}");
    let args = [
        "backup",
        "run",
        "--yes",
        "--fn",
        &functions,
        "--region",
        PROXIED,
        "--to",
        &fx.to(),
        "--json",
    ];
    let blob_puts = |p: &FaultProxy| {
        p.calls_where(PROXIED, "s3", |op| {
            op.starts_with("PUT ") && op.contains("/lops/blobs/")
        })
    };
    let direct = fx.lops(moto::url());
    let listed = |lops: &Lops| -> Vec<String> {
        fx.list(lops, PROXIED)
            .json()
            .as_array()
            .map(|a| {
                a.iter()
                    .map(|s| s["function"].as_str().unwrap_or_default().to_string())
                    .collect()
            })
            .unwrap_or_default()
    };

    // 1. Before any blob: every blob upload hangs.
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::s3(
        PROXIED,
        format!("PUT /{}/lops/blobs/*", fx.bucket),
        Fault::Hang,
    ));
    kill_backup_when(&fx.lops(&proxy.url), &args, &proxy, |p| blob_puts(p) >= 1);
    assert_eq!(blob_count(&fx).await, 0);
    assert!(listed(&direct).is_empty());

    // 2. Between blobs: b's blob hangs, a's lands.
    let b_sha = hex(&Sha256::digest(code_zip(&b)));
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::s3(
        PROXIED,
        format!("PUT /{}/lops/blobs/sha256/{b_sha}*", fx.bucket),
        Fault::Hang,
    ));
    let a_sha = hex(&Sha256::digest(code_zip(&a)));
    let landed = |p: &FaultProxy| {
        p.calls_where(PROXIED, "s3", |op| op.contains(&b_sha)) >= 1
            && p.calls_where(PROXIED, "s3", |op| {
                op.starts_with("PUT") && op.contains(&a_sha)
            }) >= 1
    };
    kill_backup_when(&fx.lops(&proxy.url), &args, &proxy, landed);
    // Give a's upload (in flight when b's hung) time to land.
    std::thread::sleep(Duration::from_millis(500));
    assert!(
        fx.get(&fx.bucket, &format!("lops/blobs/sha256/{a_sha}"))
            .await
            .is_some()
    );
    assert!(
        fx.get(&fx.bucket, &format!("lops/blobs/sha256/{b_sha}"))
            .await
            .is_none()
    );
    let now = listed(&direct);
    assert!(!now.contains(&b), "b is listed without its blob: {now:?}");

    // A rerun completes both, uploading only b's package.
    let rerun = direct.run(&args);
    rerun.assert_exit(0);
    assert_eq!(rerun.json()["uploaded_blobs"], 1, "{}", rerun.stdout);
    let mut now = listed(&direct);
    now.sort();
    now.dedup();
    assert_eq!(now.len(), 2, "{now:?}");
    for s in rerun.json()["snapshots"].as_array().expect("snapshots") {
        direct
            .run(&["backup", "verify", s["snapshot"].as_str().expect("uri")])
            .assert_exit(0);
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_killed_mid_way_converges_when_rerun() {
    let fx = Fixture::new(PROXIED, "kr").await;
    let name = moto::unique("killrestore");
    fx.function(&name).await;
    let before = state(&fx.seeder.lambda, &name).await.expect("state");
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, PROXIED, &name, &fx.to()));
    let target = format!("{name}-again");

    // Killed while publishing the second version: the function and version 1 exist.
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: PROXIED.into(),
        service: Some("lambda".into()),
        operation: Some("PublishVersion".into()),
        fault: Fault::Delay(Duration::from_secs(3)),
        remaining: None,
    });
    let killed = fx.lops(&proxy.url);
    kill_backup_when(
        &killed,
        &["restore", &snapshot, "--name", &target, "--yes"],
        &proxy,
        |p| p.calls(PROXIED, "lambda", "PublishVersion") >= 2,
    );
    let half = state(&fx.seeder.lambda, &target)
        .await
        .expect("half-made target");
    assert_eq!(half.versions.len(), 1, "{half:?}");
    // No audit, no change: the record that it began was written before its first change.
    let audit = std::fs::read_to_string(killed.home.path().join("state/lops/audit.jsonl"))
        .expect("the audit log");
    let begun: Vec<&str> = audit
        .lines()
        .filter(|l| l.contains(r#""action":"restore.begin""#) && l.contains(&target))
        .collect();
    assert_eq!(begun.len(), 1, "{audit}");

    let rerun = direct.run(&["restore", &snapshot, "--name", &target, "--yes"]);
    rerun.assert_exit(0);
    assert!(rerun.stderr.contains("safety snapshot"), "{}", rerun.stderr);
    assert_eq!(
        state(&fx.seeder.lambda, &target).await.expect("restored"),
        before
    );
    let again = direct.run(&["restore", &snapshot, "--name", &target, "--yes"]);
    again.assert_exit(0);
    assert!(again.stderr.contains("already matches"), "{}", again.stderr);
}

/// The fault matrix for actions and backups: one region answers with a fault, the other is
/// healthy. The healthy one is done in full, the failing one is named and left unchanged,
/// retries stop at the cap, and nothing hangs past the operation timeout.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn faults_in_one_region_leave_the_other_done_and_the_failing_one_unchanged() {
    const HEALTHY: &str = "ap-southeast-6";
    let healthy = Fixture::new(HEALTHY, "fh").await;
    let failing = Seeder::new(moto::url(), PROXIED).await;
    let s3_failing = s3_client(PROXIED).await;
    let name = moto::unique("faulty");
    // The same function in both regions, code from the healthy fixture's bucket.
    healthy.function(&name).await;
    let key = format!("seed/{name}.zip");
    failing
        .lambda
        .create_function()
        .function_name(&name)
        .runtime(aws_sdk_lambda::types::Runtime::Python312)
        .role(ROLE_ARN)
        .handler("handler.handler")
        .code(
            FunctionCode::builder()
                .s3_bucket(&healthy.bucket)
                .s3_key(&key)
                .build(),
        )
        .send()
        .await
        .expect("create");
    failing.publish_version(&name, "one").await;
    failing.publish_version(&name, "two").await;
    failing.create_alias(&name, "live", "1", None).await;
    drop(s3_failing);

    let cases = [
        ("503", Fault::Status(503), 3),
        ("throttled", Fault::Throttle, 3),
        ("hang", Fault::Hang, 3),
        ("slow", Fault::Delay(Duration::from_millis(300)), 0),
    ];
    let regions = format!("{HEALTHY},{PROXIED}");
    for (label, fault, code) in cases {
        let proxy = FaultProxy::start(moto::url());
        proxy.add(Rule {
            region: PROXIED.into(),
            service: Some("lambda".into()),
            operation: None,
            fault,
            remaining: None,
        });
        let lops = healthy.lops(&proxy.url);
        // Short budgets keep the hang short; the slow region's calls (300 ms more each, a
        // CreateFunction with its package on a moto busy with the rest of the suite) get
        // room, as this case is about a slow region finishing, not about the budget.
        let operation_secs = if code == 0 { 6 } else { 2 };
        let config = lops.config(&format!(
            "[timeouts]\nconnect_secs = 1\noperation_secs = {operation_secs}\nmax_attempts = 3\nregion_secs = 20\n"
        ));
        let config = config.to_str().expect("path").to_string();
        let weight = if code == 0 { "0.3" } else { "0.1" };
        let started = Instant::now();

        // Traffic: the healthy alias moves, the failing one does not.
        let run = lops.run(&[
            "--config",
            &config,
            "traffic",
            "set",
            "live",
            "--fn",
            &name,
            "--version",
            "2",
            "--weight",
            weight,
            "--regions",
            &regions,
            "--yes",
        ]);
        if code == 0 {
            run.assert_exit(0);
        } else {
            // The failing region cannot be previewed: it is skipped, named, and the other one
            // changes (exit 3: partial).
            assert_eq!(run.code, 3, "{label}: {}", run.stderr);
            assert!(
                run.stderr
                    .contains(&format!("skip {name}:live in {PROXIED}")),
                "{label}: {}",
                run.stderr
            );
        }
        // Nothing is written where the preview failed; a slow region just takes longer.
        let moved: Vec<(String, f64)> = if code == 0 {
            vec![("2".into(), 0.3)]
        } else {
            Vec::new()
        };
        assert_eq!(
            failing.routing(&name).await,
            ("1".to_string(), moved),
            "{label}"
        );
        let weight: f64 = weight.parse().expect("weight");
        assert_eq!(
            healthy.seeder.routing(&name).await,
            ("1".to_string(), vec![("2".to_string(), weight)]),
            "{label}"
        );
        // Retries stop at the cap: each call is tried at most max_attempts times.
        for ((region, service, op), n) in proxy.all_calls() {
            if region == PROXIED && service == "lambda" && code != 0 {
                assert!(n <= 3, "{label}: {op} sent {n} times");
            }
        }

        // Invoke: the healthy region answers, the failing one is reported (exit 3: partial).
        let run = lops.run(&[
            "--config",
            &config,
            "invoke",
            &name,
            "--regions",
            &regions,
            "--payload",
            &format!("{{\"case\": \"{label}\"}}"),
            "--yes",
            "--json",
        ]);
        run.assert_exit(code);
        let results = run.json()["results"].clone();
        let ok_regions: Vec<&str> = results
            .as_array()
            .expect("results")
            .iter()
            .filter(|r| r.get("error").is_none() && r.get("skipped").is_none())
            .filter_map(|r| r["region"].as_str())
            .collect();
        assert!(ok_regions.contains(&HEALTHY), "{label}: {results}");
        assert_eq!(
            ok_regions.contains(&PROXIED),
            code == 0,
            "{label}: {results}"
        );

        // Backup: the healthy region's snapshot completes, the failing one is named.
        let run = lops.run(&[
            "--config",
            &config,
            "backup",
            "run",
            "--yes",
            "--fn",
            &name,
            "--regions",
            &regions,
            "--to",
            &healthy.to(),
            "--json",
        ]);
        run.assert_exit(code);
        let doc = run.json();
        let done: Vec<&str> = doc["snapshots"]
            .as_array()
            .expect("snapshots")
            .iter()
            .filter_map(|s| s["region"].as_str())
            .collect();
        assert!(done.contains(&HEALTHY), "{label}: {doc}");
        if code != 0 {
            assert_eq!(doc["failed"][0]["region"], PROXIED, "{label}: {doc}");
        }

        // Restore into the failing region: refused before anything is written.
        let snapshot = doc["snapshots"]
            .as_array()
            .expect("snapshots")
            .iter()
            .find(|s| s["region"] == HEALTHY)
            .and_then(|s| s["snapshot"].as_str())
            .expect("healthy snapshot")
            .to_string();
        let copy = format!("{name}-{label}");
        let run = lops.run(&[
            "--config", &config, "restore", &snapshot, "--region", PROXIED, "--name", &copy,
            "--yes",
        ]);
        if code == 0 {
            run.assert_exit(0);
        } else {
            run.assert_exit(1);
            assert!(
                failing
                    .lambda
                    .get_function()
                    .function_name(&copy)
                    .send()
                    .await
                    .is_err(),
                "{label}: a restore into a failing region created the function"
            );
            let mut writes = 0;
            for ((region, service, op), n) in proxy.all_calls() {
                if region == PROXIED
                    && service == "lambda"
                    && !op.starts_with("Get")
                    && !op.starts_with("List")
                    && op != "Invoke"
                {
                    writes += n;
                }
            }
            assert_eq!(writes, 0, "{label}: writes were sent to the failing region");
        }
        // Nothing waits much past the operation timeout (2 s per call, 3 calls at most in a row).
        assert!(
            started.elapsed() < Duration::from_secs(90),
            "{label}: took {:?}",
            started.elapsed()
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_same_package_in_several_regions_is_uploaded_once_per_run() {
    let fx = Fixture::new(HOME, "same").await;
    let name = moto::unique("samecode");
    let key = format!("seed/{name}.zip");
    fx.put(&key, code_zip(&name)).await;
    for region in [HOME, DR] {
        Seeder::new(moto::url(), region)
            .await
            .lambda
            .create_function()
            .function_name(&name)
            .runtime(aws_sdk_lambda::types::Runtime::Python312)
            .role(ROLE_ARN)
            .handler("handler.handler")
            .code(
                FunctionCode::builder()
                    .s3_bucket(&fx.bucket)
                    .s3_key(&key)
                    .build(),
            )
            .send()
            .await
            .expect("create");
    }
    let lops = fx.lops(moto::url());
    let run = lops.run(&[
        "backup",
        "run",
        "--yes",
        "--fn",
        &name,
        "--regions",
        &format!("{HOME},{DR}"),
        "--to",
        &fx.to(),
        "--json",
    ]);
    run.assert_exit(0);
    let doc = run.json();
    assert_eq!(doc["snapshots"].as_array().map(Vec::len), Some(2), "{doc}");
    assert_eq!(doc["uploaded_blobs"], 1, "{doc}");
    assert_eq!(blob_count(&fx).await, 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_backup_costs_an_exact_number_of_calls() {
    let fx = Fixture::new(HOME, "cost").await;
    let name = moto::unique("cost");
    fx.plain_function(&name).await;
    let lops = fx.lops(moto::url());
    let calls = |run: &Run| -> BTreeMap<String, u64> {
        run.json()["api_calls"]
            .as_array()
            .expect("api_calls")
            .iter()
            .map(|c| {
                (
                    format!(
                        "{} {}",
                        c["service"].as_str().unwrap_or_default(),
                        c["operation"].as_str().unwrap_or_default()
                    ),
                    c["calls"].as_u64().unwrap_or_default(),
                )
            })
            .collect()
    };
    let lambda = [
        "GetFunction",
        "ListVersionsByFunction",
        "ListAliases",
        "ListEventSourceMappings",
        "GetFunctionUrlConfig",
        "GetPolicy",
        "GetFunctionEventInvokeConfig",
    ];
    let expected = |s3: &[(&str, u64)]| -> BTreeMap<String, u64> {
        lambda
            .iter()
            .map(|op| (format!("Lambda {op}"), 1))
            .chain(s3.iter().map(|(op, n)| (format!("S3 {op}"), *n)))
            .chain([("STS GetCallerIdentity".to_string(), 1)])
            .collect()
    };
    // First: the bucket's region, the blob is not there, blob and manifest written.
    let first = backup(&lops, HOME, &name, &fx.to());
    first.assert_exit(0);
    // The run's lease costs three S3 calls: written, a look for a prune lock, removed.
    let lease = [("ListObjectsV2", 1), ("DeleteObjects", 1)];
    let with_lease = |s3: &[(&'static str, u64)]| -> Vec<(&'static str, u64)> {
        s3.iter().chain(lease.iter()).copied().collect()
    };
    assert_eq!(
        calls(&first),
        expected(&with_lease(&[
            ("HeadBucket", 1),
            ("HeadObject", 1),
            ("PutObject", 3)
        ]))
    );
    // Again: the blob is found, only the manifest (and the lease) is written.
    let second = backup(&lops, HOME, &name, &fx.to());
    second.assert_exit(0);
    assert_eq!(
        calls(&second),
        expected(&with_lease(&[
            ("HeadBucket", 1),
            ("HeadObject", 1),
            ("PutObject", 2)
        ]))
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_alias_on_latest_round_trips_and_takes_no_weights() {
    let fx = Fixture::new(HOME, "latest").await;
    let name = moto::unique("cur");
    fx.plain_function(&name).await;
    fx.seeder.publish_version(&name, "one").await;
    fx.seeder.create_alias(&name, "cur", "$LATEST", None).await;
    let lops = fx.lops(moto::url());
    // A weight on an alias that routes to $LATEST is refused before anything is sent.
    let set = lops.run(&[
        "traffic",
        "set",
        "cur",
        "--fn",
        &name,
        "--version",
        "1",
        "--weight",
        "0.1",
        "--region",
        HOME,
        "--yes",
    ]);
    set.assert_exit(2);
    assert!(set.stderr.contains("routes to $LATEST"), "{}", set.stderr);

    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let verify = lops.run(&["backup", "verify", &snapshot]);
    verify.assert_exit(0);
    fx.seeder
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("delete");
    let restored = lops.run(&["restore", &snapshot, "--yes"]);
    restored.assert_exit(0);
    let alias = fx
        .seeder
        .lambda
        .get_alias()
        .function_name(&name)
        .name("cur")
        .send()
        .await
        .expect("alias back");
    assert_eq!(alias.function_version(), Some("$LATEST"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failed_restores_undo_tries_every_step_and_names_each_failure() {
    let fx = Fixture::new(PROXIED, "undo").await;
    let name = moto::unique("undo");
    fx.function(&name).await;
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, PROXIED, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    let lops = fx.lops(&proxy.url);
    // The alias fails, then the first undo (deleting a published version) fails too, all three
    // attempts of it: the other undo steps still run.
    for (operation, remaining) in [("CreateAlias", None), ("DeleteFunction", Some(3))] {
        proxy.add(Rule {
            region: PROXIED.into(),
            service: Some("lambda".into()),
            operation: Some(operation.into()),
            fault: Fault::Status(500),
            remaining,
        });
    }
    let fresh = format!("{name}-new");
    let r = lops.run(&["restore", &snapshot, "--name", &fresh, "--yes"]);
    r.assert_exit(1);
    assert!(
        r.stderr
            .contains("1 undo step(s) failed: delete published version 2"),
        "{}",
        r.stderr
    );
    // Version 1 and the function itself were still deleted after that failure.
    assert!(
        proxy.calls(PROXIED, "lambda", "DeleteFunction") >= 5,
        "{:#?}",
        proxy.all_calls()
    );
    // The function is gone; only the version whose delete failed would be left, and the
    // message says which.
    assert!(state(&fx.seeder.lambda, &fresh).await.is_none());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn prune_keeps_a_blob_that_a_running_backup_reuses() {
    let fx = Fixture::new(PROXIED, "race").await;
    let name = moto::unique("race");
    fx.plain_function(&name).await;
    let direct = fx.lops(moto::url());
    let first = snapshot_of(&backup(&direct, PROXIED, &name, &fx.to()));
    // Nothing references the package's blob any more: a prune may take it...
    let key = first.trim_start_matches(&format!("s3://{}/", fx.bucket));
    fx.s3
        .delete_object()
        .bucket(&fx.bucket)
        .key(key)
        .send()
        .await
        .expect("delete manifest");
    // ...while a backup that reuses it is under way (its Lambda reads held up).
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: PROXIED.into(),
        service: Some("lambda".into()),
        operation: Some("GetFunction".into()),
        // Under the default per-attempt timeout (10 s / 3 attempts).
        fault: Fault::Delay(Duration::from_secs(2)),
        remaining: Some(1),
    });
    let running = spawn_backup(&fx.lops(&proxy.url), PROXIED, &name, &fx.to());
    // Its lease is written before it checks any blob.
    let deadline = Instant::now() + Duration::from_secs(10);
    while proxy.calls(PROXIED, "lambda", "GetFunction") == 0 {
        assert!(Instant::now() < deadline, "the backup never started");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    let prune = direct.run(&[
        "backup",
        "prune",
        "--to",
        &fx.to(),
        "--region",
        PROXIED,
        "--keep-last",
        "1",
        "--grace",
        "0s",
        "--yes",
        "--json",
    ]);
    prune.assert_exit(0);
    let pruned = prune.json();
    // The preview sees the lease already: it lists no blob and says why (the deletion checks
    // the leases again under the prune lock, for a backup that starts after the preview).
    assert_eq!(pruned["plan"]["blobs"], serde_json::json!([]), "{pruned}");
    assert!(
        pruned["plan"]["notes"].to_string().contains("hold a lease"),
        "{pruned}"
    );
    assert_eq!(
        pruned["pruned"]["blobs"].as_u64().unwrap_or(0),
        0,
        "{pruned}"
    );
    let out = running.wait_with_output().expect("backup");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}{}",
        String::from_utf8_lossy(&out.stderr),
        String::from_utf8_lossy(&out.stdout)
    );
    let doc: Value = serde_json::from_slice(&out.stdout).expect("json");
    let second = doc["snapshots"][0]["snapshot"].as_str().expect("snapshot");
    assert_eq!(doc["uploaded_blobs"], 0, "the blob was reused");
    direct.run(&["backup", "verify", second]).assert_exit(0);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn safety_snapshots_are_listed_as_such_and_kept_apart() {
    let fx = Fixture::new(HOME, "safety").await;
    let name = moto::unique("safe");
    fx.function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    fx.seeder.reserve(&name, 2).await;
    // Restoring over the changed function takes a safety snapshot first.
    let restored = lops.run(&["restore", &snapshot, "--yes"]);
    restored.assert_exit(0);
    assert!(
        restored.stderr.contains("safety snapshot"),
        "{}",
        restored.stderr
    );
    let listed = fx.list(&lops, HOME).json();
    let kinds: Vec<&str> = listed
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["kind"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(kinds, ["safety", "backup"], "{listed}");
    // keep-last 1 keeps the real backup however many safety snapshots are newer.
    let prune = lops.run(&[
        "backup",
        "prune",
        "--to",
        &fx.to(),
        "--region",
        HOME,
        "--keep-last",
        "1",
        "--keep-safety",
        "0",
        "--yes",
        "--json",
    ]);
    prune.assert_exit(0);
    let left = fx.list(&lops, HOME).json();
    let left: Vec<&str> = left
        .as_array()
        .expect("list")
        .iter()
        .map(|s| s["snapshot"].as_str().unwrap_or_default())
        .collect();
    assert_eq!(left, [snapshot.as_str()]);
}

/// The function URL (auth type, CORS), the resource policy (its source rewritten to the target
/// region) and the asynchronous invoke configuration come back with the function, into another
/// region under a new name; a rerun finds nothing to do.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn url_policy_and_async_invoke_configuration_are_restored_and_a_rerun_changes_nothing() {
    use aws_sdk_lambda::types::{Cors, FunctionUrlAuthType};
    let fx = Fixture::new(HOME, "urlcfg").await;
    let name = moto::unique("public-api");
    fx.plain_function(&name).await;
    fx.seeder
        .lambda
        .create_function_url_config()
        .function_name(&name)
        .auth_type(FunctionUrlAuthType::None)
        .cors(
            Cors::builder()
                .allow_origins("https://shop.example.com")
                .allow_methods("GET")
                .max_age(300)
                .build(),
        )
        .send()
        .await
        .expect("url");
    fx.seeder
        .lambda
        .put_function_event_invoke_config()
        .function_name(&name)
        .maximum_retry_attempts(1)
        .maximum_event_age_in_seconds(600)
        .send()
        .await
        .expect("async config");
    // Who may invoke it: a rule of this region (rewritten to the target's on restore).
    let rule = format!("arn:aws:events:{HOME}:123456789012:rule/nightly");
    fx.seeder
        .lambda
        .add_permission()
        .function_name(&name)
        .statement_id("nightly")
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .source_arn(&rule)
        .send()
        .await
        .expect("permission");
    let moved = format!("arn:aws:events:{DR}:123456789012:rule/nightly");
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let new_name = format!("{name}-dr");
    let dry = lops.run(&[
        "restore",
        &snapshot,
        "--region",
        DR,
        "--name",
        &new_name,
        "--dry-run",
    ]);
    dry.assert_exit(0);
    assert!(
        dry.stderr
            .contains("create the function URL (auth NONE, CORS)"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr
            .contains("asynchronous invokes: 1 retries, events up to 600 s old"),
        "{}",
        dry.stderr
    );
    assert!(
        dry.stderr.contains(&format!(
            "add permission: events.amazonaws.com may lambda:InvokeFunction (nightly) from {moved}"
        )),
        "{}",
        dry.stderr
    );
    assert!(!dry.stderr.contains("by hand"), "{}", dry.stderr);
    // The permission comes back; the rule it names is not in a snapshot, and the preview says
    // so rather than let the permission read as the schedule restored.
    assert!(
        dry.stderr.contains(&format!(
            "note: the resource policy lets EventBridge rule {moved} invoke {new_name}, but \
             EventBridge rules are not in a snapshot: none is restored"
        )),
        "{}",
        dry.stderr
    );
    lops.run(&[
        "restore", &snapshot, "--region", DR, "--name", &new_name, "--yes",
    ])
    .assert_exit(0);
    let dr = Seeder::new(moto::url(), DR).await;
    let url = dr
        .lambda
        .get_function_url_config()
        .function_name(&new_name)
        .send()
        .await
        .expect("restored URL");
    assert_eq!(url.auth_type(), &FunctionUrlAuthType::None);
    let cors = url.cors().expect("CORS");
    assert_eq!(cors.allow_origins(), ["https://shop.example.com"]);
    assert_eq!(cors.max_age(), Some(300));
    let config = dr
        .lambda
        .get_function_event_invoke_config()
        .function_name(&new_name)
        .send()
        .await
        .expect("restored async config");
    assert_eq!(config.maximum_retry_attempts(), Some(1));
    assert_eq!(config.maximum_event_age_in_seconds(), Some(600));
    let policy = dr
        .lambda
        .get_policy()
        .function_name(&new_name)
        .send()
        .await
        .expect("restored policy");
    let text = policy.policy().unwrap_or_default();
    assert!(text.contains(&moved) && text.contains("nightly"), "{text}");
    let again = lops.run(&[
        "restore", &snapshot, "--region", DR, "--name", &new_name, "--yes",
    ]);
    again.assert_exit(0);
    assert!(again.stderr.contains("already matches"), "{}", again.stderr);
}

/// A mapping whose source is in the snapshot's region: left out (named) by default; with
/// `--map-sources` mapped to the queue of the same name in the target region.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn map_sources_maps_a_queue_to_the_same_queue_in_the_target_region() {
    let fx = Fixture::new(HOME, "mapsrc").await;
    let name = moto::unique("worker");
    fx.plain_function(&name).await;
    let queue = format!("{name}-jobs");
    let dr_queue = moto::create_queue(DR, &queue);
    fx.queue_mapping(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let new_name = format!("{name}-dr");
    let dry = lops.run(&[
        "restore",
        &snapshot,
        "--region",
        DR,
        "--name",
        &new_name,
        "--dry-run",
    ]);
    dry.assert_exit(0);
    assert!(dry.stderr.contains("--map-sources"), "{}", dry.stderr);
    lops.run(&[
        "restore",
        &snapshot,
        "--region",
        DR,
        "--name",
        &new_name,
        "--map-sources",
        "--yes",
    ])
    .assert_exit(0);
    let dr = Seeder::new(moto::url(), DR).await;
    let mappings = dr
        .lambda
        .list_event_source_mappings()
        .function_name(&new_name)
        .send()
        .await
        .expect("mappings");
    let sources: Vec<&str> = mappings
        .event_source_mappings()
        .iter()
        .filter_map(|m| m.event_source_arn())
        .collect();
    assert_eq!(sources, [dr_queue.as_str()]);
    // Run again: the mapped source is there, nothing to do.
    let again = lops.run(&[
        "restore",
        &snapshot,
        "--region",
        DR,
        "--name",
        &new_name,
        "--map-sources",
        "--yes",
    ]);
    again.assert_exit(0);
    assert!(again.stderr.contains("already matches"), "{}", again.stderr);
    // Into a region without the queue: the restore fails whole (undone) and names the queue
    // and what to do.
    let elsewhere = lops.run(&[
        "restore",
        &snapshot,
        "--region",
        "ap-east-1",
        "--name",
        &new_name,
        "--map-sources",
        "--yes",
    ]);
    assert_eq!(elsewhere.code, 1, "{}", elsewhere.stderr);
    assert!(
        elsewhere.stderr.contains(&format!("{queue} is not there"))
            && elsewhere.stderr.contains("create it in ap-east-1 first")
            // Moved here by --map-sources: the advice says so (it named the flag whether or
            // not it was given).
            && elsewhere
                .stderr
                .contains("a mapping --map-sources moved here: restore without it"),
        "{}",
        elsewhere.stderr
    );
}

/// A drill restores the snapshot under a temporary name, compares, deletes the copy, and says
/// how long the recovery took; a snapshot that does not restore whole (a mapping whose queue
/// is in another region) makes it incomplete, exit 3, with the difference named.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_times_a_whole_recovery_cleans_up_and_names_what_is_missing() {
    let fx = Fixture::new(HOME, "drill").await;
    let name = moto::unique("drilled");
    fx.function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let run = lops.run(&[
        "backup", "drill", &snapshot, "--region", DR, "--yes", "--json",
    ]);
    run.assert_exit(0);
    let report = run.json();
    assert_eq!(report["complete"], true, "{report}");
    assert!(report["recovery_secs"].as_f64().unwrap_or(0.0) > 0.0);
    assert!(report["steps"].as_u64().unwrap_or(0) >= 5, "{report}");
    let copy = report["copy"].as_str().expect("copy").to_string();
    assert!(copy.starts_with(&format!("{name}-drill-")), "{copy}");
    let dr = Seeder::new(moto::url(), DR).await;
    assert!(
        state(&dr.lambda, &copy).await.is_none(),
        "the copy is deleted"
    );
    let actions: Vec<String> = lops
        .run(&["audit", "--json"])
        .json()
        .as_array()
        .expect("records")
        .iter()
        .map(|r| r["action"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(
        actions.ends_with(&["restore".to_string(), "drill".to_string()]),
        "{actions:?}"
    );
    // The same drill as a role in the target account.
    let run = lops.run(&[
        "backup",
        "drill",
        &snapshot,
        "--region",
        DR,
        "--assume-role",
        "arn:aws:iam::123456789012:role/dr-drill",
        "--yes",
        "--json",
    ]);
    run.assert_exit(0);
    assert_eq!(run.json()["complete"], true);

    // A mapping whose queue is in the snapshot's region does not come back in DR.
    let worker = moto::unique("drillq");
    fx.plain_function(&worker).await;
    let queue = moto::create_queue(HOME, &format!("{worker}-jobs"));
    fx.seeder
        .lambda
        .create_event_source_mapping()
        .function_name(&worker)
        .event_source_arn(&queue)
        .send()
        .await
        .expect("mapping");
    let snapshot = snapshot_of(&backup(&lops, HOME, &worker, &fx.to()));
    let run = lops.run(&["backup", "drill", &snapshot, "--region", DR, "--yes"]);
    run.assert_exit(3);
    assert!(run.stderr.contains("INCOMPLETE"), "{}", run.stderr);
    assert!(
        run.stderr.contains("event source mapping"),
        "{}",
        run.stderr
    );
}

/// A restore into another account acts as a role there: STS AssumeRole (with the external id)
/// from the profile's credentials, and every write is signed with the role's keys.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_can_act_as_a_role_in_the_target_account() {
    let fx = Fixture::new(HOME, "assume").await;
    let name = moto::unique("xacct");
    fx.plain_function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    let through = fx.lops(&proxy.url);
    let new_name = format!("{name}-xacct");
    let run = through.run(&[
        "restore",
        &snapshot,
        "--region",
        DR,
        "--name",
        &new_name,
        "--assume-role",
        "arn:aws:iam::123456789012:role/dr-restore",
        "--external-id",
        "lops-dr",
        "--yes",
    ]);
    run.assert_exit(0);
    assert_eq!(
        proxy.calls(DR, "sts", "AssumeRole"),
        1,
        "{:#?}",
        proxy.all_calls()
    );
    let keys = proxy.access_keys();
    assert!(
        keys.iter().any(|k| k != "testing"),
        "no request signed with the role's keys: {keys:?}"
    );
    let dr = Seeder::new(moto::url(), DR).await;
    assert!(state(&dr.lambda, &new_name).await.is_some());
    // The audit log names the role lops acted as.
    let who: Vec<String> = through
        .run(&["audit", "--json"])
        .json()
        .as_array()
        .expect("records")
        .iter()
        .filter(|r| r["action"] == "restore")
        .map(|r| r["who"].as_str().unwrap_or_default().to_string())
        .collect();
    assert!(who.iter().any(|w| w.contains("dr-restore")), "{who:?}");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_malformed_code_download_base_is_bad_input_and_stores_nothing() {
    let fx = Fixture::new(HOME, "badbase").await;
    let name = moto::unique("orders");
    fx.function(&name).await;
    let lops = Lops::new(moto::url()).env("LOPS_CODE_DOWNLOAD_BASE", "localhost:5000");
    let run = backup(&lops, HOME, &name, &fx.to());
    run.assert_exit(2);
    let doc = run.json();
    let error = doc["failed"][0]["error"].as_str().unwrap_or_default();
    assert!(
        error.contains("LOPS_CODE_DOWNLOAD_BASE='localhost:5000' is not a base URL"),
        "{doc}"
    );
    // Said on stderr too, with --json: a cron log of stderr says what failed.
    assert!(
        run.stderr.contains(&format!("lops: {name} in {HOME}: "))
            && run.stderr.contains("is not a base URL"),
        "{}",
        run.stderr
    );
    let listed = fx.list(&fx.lops(moto::url()), HOME);
    listed.assert_exit(0);
    assert_eq!(
        listed.json().as_array().map(Vec::len),
        Some(0),
        "{}",
        listed.stdout
    );
}

/// Two accounts' functions of one name back up under one key path (`snapshots/REGION/NAME/`):
/// the retention counts each account's snapshots apart — the newest of one is never the other's
/// last — and `backup list` names each one's account.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_keeps_each_accounts_snapshots_of_a_shared_name_apart() {
    let fx = Fixture::new(HOME, "accts").await;
    let name = moto::unique("accts");
    fx.plain_function(&name).await;
    let lops = fx.lops(moto::url());
    let ours = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    // The other account's backup of its own function of that name, a moment later (its
    // manifest as that account's backup writes it: the same but for the account).
    let key = ours
        .strip_prefix(&format!("s3://{}/", fx.bucket))
        .expect("in the fixture's bucket")
        .to_string();
    let bytes = fx.get(&fx.bucket, &key).await.expect("manifest");
    let mut theirs: serde_json::Value = serde_json::from_slice(&bytes).expect("json");
    theirs["account"] = serde_json::json!("222222222222");
    let (dir, _) = key.rsplit_once('/').expect("a key");
    let later = format!("{dir}/29991231T235959.999Z.json");
    fx.put(&later, serde_json::to_vec(&theirs).expect("json"))
        .await;
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
    ]);
    run.assert_exit(0);
    assert!(!run.stderr.contains(&ours), "ours would go: {}", run.stderr);
    let listed = lops.run(&[
        "backup",
        "list",
        "--to",
        &fx.to(),
        "--region",
        HOME,
        "--fn",
        &name,
        "--json",
    ]);
    let accounts: Vec<String> = listed
        .json()
        .as_array()
        .expect("a list")
        .iter()
        .map(|s| s["account"].as_str().unwrap_or_default().to_string())
        .collect();
    assert_eq!(
        accounts,
        ["222222222222", "123456789012"],
        "{}",
        listed.stdout
    );
}

/// A package that cannot be downloaded says from where, and — with no download base set —
/// that an emulator's code URLs need one (a connection refused said only the path).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_package_that_cannot_be_downloaded_says_from_where_and_what_to_set() {
    let fx = Fixture::new(HOME, "nobase").await;
    let name = moto::unique("nobase");
    fx.function(&name).await;
    let lops = Lops::new(moto::url());
    let run = backup(&lops, HOME, &name, &fx.to());
    run.assert_exit(1);
    assert!(
        run.stderr.contains("downloading code ")
            && run
                .stderr
                .contains("behind an emulator, set LOPS_CODE_DOWNLOAD_BASE"),
        "{}",
        run.stderr
    );
}

/// A manifest whose read is refused (denied, throttled) is listed as not readable now, not as
/// broken: nothing is known wrong with it, and a script must not take a new backup for it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_manifest_that_cannot_be_read_now_is_not_called_broken() {
    let fx = Fixture::new(PROXIED, "deniedlist").await;
    let name = moto::unique("denied");
    fx.plain_function(&name).await;
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, PROXIED, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::s3(
        PROXIED,
        format!("GET /{}/lops/snapshots/*", fx.bucket),
        Fault::Code(403, "AccessDenied"),
    ));
    let lops = fx.lops(&proxy.url);
    let listed = lops.run(&[
        "backup",
        "list",
        "--to",
        &fx.to(),
        "--region",
        PROXIED,
        "--json",
    ]);
    listed.assert_exit(1);
    let entry = listed_entry(&listed, &snapshot);
    assert!(!entry["problem"].is_null(), "{entry}");
    assert_eq!(entry["broken"], false, "{entry}");
    assert!(
        listed.stderr.contains("cannot be read here now")
            && !listed.stderr.contains("take a new backup"),
        "{}",
        listed.stderr
    );
}

/// A prune whose delete of the manifests gets no answer says what stopped it, what may be gone
/// and that the same prune again finishes it (it said only "timed out after 2.0s"); its audit
/// record never says as deleted what it does not know was. The timeout is lowered (2 s, one
/// try): the test is about the answer that does not come.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_prune_stopped_part_way_says_what_is_known_and_how_to_finish() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let fx = Fixture::new(HOME, "prstop").await;
    let name = moto::unique("prs");
    fx.plain_function(&name).await;
    let lops = fx.lops(moto::url());
    backup(&lops, HOME, &name, &fx.to()).assert_exit(0);
    std::thread::sleep(std::time::Duration::from_millis(20));
    backup(&lops, HOME, &name, &fx.to()).assert_exit(0);
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::s3(
        HOME,
        // The store's DeleteObjects, as the proxy names an S3 request.
        format!("POST /{}/?delete", fx.bucket),
        Fault::Hang,
    ));
    let lops = fx.lops(&proxy.url);
    let config = lops.config("[timeouts]\noperation_secs = 2\nmax_attempts = 1\n");
    let run = lops.run(&[
        "backup",
        "prune",
        "--to",
        &fx.to(),
        "--region",
        HOME,
        "--keep-last",
        "1",
        "--yes",
        "--config",
        config.to_str().unwrap_or_default(),
    ]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("stopped") && run.stderr.contains("the same prune again finishes it"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr
            .contains("1 snapshot(s) may or may not be deleted"),
        "{}",
        run.stderr
    );
    let log = lops.home.path().join("state/lops/audit.jsonl");
    let text = std::fs::read_to_string(&log).expect("audit log");
    let prune = text
        .lines()
        .filter_map(|l| serde_json::from_str::<serde_json::Value>(l).ok())
        .rfind(|r| r["action"] == "backup.prune")
        .expect("the prune's record");
    assert_eq!(
        prune["after"]["deleted_manifests"],
        serde_json::json!([]),
        "{prune}"
    );
    assert_eq!(
        prune["after"]["manifests_maybe_deleted"]
            .as_array()
            .map(Vec::len),
        Some(1),
        "{prune}"
    );
}

/// `backup run --all` over two regions while one region's ListFunctions fails (500): the other
/// region is backed up, the failing one named as not listed, exit 3. The whole run ended with
/// exit 1 and no snapshot anywhere, its message naming no region — the nightly backup lost to
/// the outage it is for.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_whose_functions_cannot_be_listed_costs_only_its_own_backup() {
    let fx = Fixture::new(HOME, "unlisted").await;
    let prefix = moto::unique("unl");
    let name = format!("{prefix}-a");
    fx.function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::lambda(
        PROXIED,
        "ListFunctions",
        Fault::Status(500),
        None,
    ));
    let lops = fx.lops(&proxy.url);
    let run = lops.run(&[
        "backup",
        "run",
        "--yes",
        "--all",
        "--filter",
        &format!("{prefix}-*"),
        "--region",
        &format!("{HOME},{PROXIED}"),
        "--to",
        &fx.to(),
        "--json",
    ]);
    run.assert_exit(3);
    let doc = run.json();
    let snapshots = doc["snapshots"].as_array().cloned().unwrap_or_default();
    assert_eq!(snapshots.len(), 1, "{doc:#}");
    assert!(snapshots[0].to_string().contains(&name), "{doc:#}");
    let failed = &doc["failed"];
    assert_eq!(failed[0]["region"], PROXIED, "{doc:#}");
    assert_eq!(failed[0]["function"], "every function", "{doc:#}");
    assert!(
        run.stderr
            .contains(&format!("every function in {PROXIED}: not listed")),
        "{}",
        run.stderr
    );
    // The region that answered has its snapshot in the store.
    assert_eq!(
        fx.list(&lops, HOME).json().as_array().map(Vec::len),
        Some(1)
    );

    // Both regions unlisted: nothing backed up, said per region, exit 1 (not "no function
    // matches").
    proxy.add(Rule::lambda(
        HOME,
        "ListFunctions",
        Fault::Status(500),
        None,
    ));
    let none = lops.run(&[
        "backup",
        "run",
        "--yes",
        "--all",
        "--region",
        &format!("{HOME},{PROXIED}"),
        "--to",
        &fx.to(),
    ]);
    none.assert_exit(1);
    assert!(
        !none.stderr.contains("no function matches"),
        "{}",
        none.stderr
    );
    assert!(
        none.stderr
            .contains(&format!("every function in {HOME}: not listed")),
        "{}",
        none.stderr
    );
}

/// The function is deleted while it is backed up (after its versions and aliases are read,
/// before its policy is): nothing is stored and the run fails naming it. Lambda's "Function
/// not found" for the pieces read after was taken for "not configured", and a snapshot without
/// them was stored and verified as good.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_function_deleted_while_it_is_backed_up_is_not_stored() {
    let fx = Fixture::new(PROXIED, "midway").await;
    let name = moto::unique("midway");
    fx.plain_function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: PROXIED.into(),
        service: Some("lambda".into()),
        operation: Some("GetPolicy".into()),
        fault: Fault::HoldUntil("deleted"),
        remaining: Some(1),
    });
    let running = spawn_backup(&fx.lops(&proxy.url), PROXIED, &name, &fx.to());
    let deadline = Instant::now() + Duration::from_secs(30);
    while proxy.calls(PROXIED, "lambda", "GetPolicy") == 0 {
        assert!(Instant::now() < deadline, "{:?}", proxy.all_calls());
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    fx.seeder
        .lambda
        .delete_function()
        .function_name(&name)
        .send()
        .await
        .expect("delete");
    proxy.release("deleted");
    let out = running.wait_with_output().expect("backup");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_ne!(out.status.code(), Some(0), "{stderr}{stdout}");
    assert!(
        format!("{stdout}{stderr}").contains("deleted while it was backed up"),
        "{stderr}{stdout}"
    );
    let listed = fx.list(&fx.lops(moto::url()), PROXIED);
    assert!(!listed.stdout.contains(&name), "{}", listed.stdout);
}
