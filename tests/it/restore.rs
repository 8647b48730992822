//! The rest of a complete restore against moto, through the fault proxy: layers republished
//! from the backup's content (and refused without it), provisioned concurrency (moto does not
//! serve it: the proxy answers as AWS does and records what was asked), container images
//! checked in the target's registry, the drill's invoke, and another account reached through
//! `--assume-role` or a profile that assumes a role.
//!
//! Regions: the backup fixture's HOME, DR and PROXIED (unique names), and the account
//! 222222222222 that moto keeps apart for credentials of a role assumed there.

use aws_config::{BehaviorVersion, Region};
use aws_credential_types::Credentials;
use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{LayerVersionContentInput, Runtime};
use serde_json::Value;

use crate::backup::{DR, Fixture, HOME, PROXIED, backup, snapshot_of, state};
use crate::support::moto::{self, ROLE_ARN};
use crate::support::proxy::{Fault, FaultProxy, Rule};
use crate::support::seed::{Seeder, code_zip};

const OTHER_ACCOUNT: &str = "222222222222";

/// A Lambda client acting in `OTHER_ACCOUNT` (moto maps an assumed role's keys to it), and the
/// execution role there (moto's Lambda checks that it exists).
async fn other_account(region: &str) -> (aws_sdk_lambda::Client, String) {
    let base = crate::support::seed::sdk_config(moto::url(), region).await;
    let sts = aws_sdk_sts::Client::new(&base);
    let c = sts
        .assume_role()
        .role_arn(format!("arn:aws:iam::{OTHER_ACCOUNT}:role/test-reader"))
        .role_session_name("lops-tests")
        .send()
        .await
        .expect("assume role");
    let c = c.credentials().expect("credentials");
    let auth = format!(
        "application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential={}/20260101/us-east-1/iam/aws4_request, SignedHeaders=host, Signature=0\r\nX-Amz-Security-Token: {}",
        c.access_key_id(),
        c.session_token()
    );
    let (status, body) = moto::post(
        moto::url(),
        "/",
        &auth,
        "Action=CreateRole&Version=2010-05-08&RoleName=lops-test-role&AssumeRolePolicyDocument=%7B%7D",
    );
    assert!(
        status == 200 || body.contains("EntityAlreadyExists"),
        "CreateRole: {status} {body}"
    );
    let config = aws_config::defaults(BehaviorVersion::latest())
        .endpoint_url(moto::url())
        .region(Region::new(region.to_string()))
        .credentials_provider(Credentials::new(
            c.access_key_id(),
            c.secret_access_key(),
            Some(c.session_token().to_string()),
            None,
            "lops-tests",
        ))
        .load()
        .await;
    (
        aws_sdk_lambda::Client::new(&config),
        format!("arn:aws:iam::{OTHER_ACCOUNT}:role/lops-test-role"),
    )
}

/// Publishes a layer in the fixture's region; its content is also put in the fixture's bucket at
/// `layers/NAME-N.zip`, where the proxy's rewritten `Content.Location` sends the download
/// (moto answers `s3://`, which cannot be fetched).
async fn layer(fx: &Fixture, name: &str) -> (String, String) {
    let zip = code_zip(name);
    let out = fx
        .seeder
        .lambda
        .publish_layer_version()
        .layer_name(name)
        .content(
            LayerVersionContentInput::builder()
                .zip_file(Blob::new(zip.clone()))
                .build(),
        )
        .compatible_runtimes(Runtime::Python312)
        .send()
        .await
        .expect("layer");
    fx.put(&format!("layers/{name}-{}.zip", out.version()), zip)
        .await;
    (
        out.layer_version_arn().unwrap_or_default().to_string(),
        out.content()
            .and_then(|c| c.code_sha256())
            .unwrap_or_default()
            .to_string(),
    )
}

/// A snapshot of `name` in HOME with its layers' content; its URI.
fn backup_with_layers(lops: &crate::support::cli::Lops, fx: &Fixture, name: &str) -> String {
    let to = fx.to();
    let args = [
        "backup", "run", "--yes", "--fn", name, "--region", HOME, "--to", &to,
    ];
    let mut args = args.to_vec();
    args.extend(["--with-layers", "--json"]);
    snapshot_of(&lops.run(&args))
}

/// GetLayerVersion answers carry a downloadable location, as on AWS.
fn serve_layer_content(proxy: &FaultProxy, region: &str) {
    proxy.rewrite(region, "GetLayerVersion", |path, body| {
        let parts: Vec<&str> = path.split('?').next().unwrap_or_default().split('/').collect();
        // /2018-10-31/layers/NAME-OR-ARN/versions/N
        let name = parts[3].replace("%3A", ":");
        let (name, n) = (name.rsplit(':').next().unwrap_or_default(), parts[5]);
        body.replace(
            "\"s3://\"",
            &format!("\"https://awslambda-layers.s3.amazonaws.com/layers/{name}-{n}.zip?X-Amz-Signature=x\""),
        )
    });
}

/// Layer ARNs of a function's `$LATEST`.
async fn layers_of(lambda: &aws_sdk_lambda::Client, function: &str) -> Vec<String> {
    lambda
        .get_function_configuration()
        .function_name(function)
        .send()
        .await
        .expect("configuration")
        .layers()
        .iter()
        .filter_map(|l| l.arn().map(str::to_string))
        .collect()
}

async fn layer_sha(lambda: &aws_sdk_lambda::Client, arn: &str) -> String {
    let (name, n) = arn.rsplit_once(':').expect("version");
    lambda
        .get_layer_version()
        .layer_name(name)
        .version_number(n.parse().expect("number"))
        .send()
        .await
        .expect("layer version")
        .content()
        .and_then(|c| c.code_sha256())
        .unwrap_or_default()
        .to_string()
}

async fn layer_versions(lambda: &aws_sdk_lambda::Client, name: &str) -> usize {
    lambda
        .list_layer_versions()
        .layer_name(name)
        .send()
        .await
        .map(|o| o.layer_versions().len())
        .unwrap_or(0)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn layers_stored_with_the_backup_are_published_in_another_region_and_account() {
    let fx = Fixture::new(HOME, "lay").await;
    let name = moto::unique("layered");
    let (deps, deps_sha) = layer(&fx, &format!("{name}-deps")).await;
    let (tools, tools_sha) = layer(&fx, &format!("{name}-tools")).await;
    fx.plain_function(&name).await;
    fx.seeder
        .lambda
        .update_function_configuration()
        .function_name(&name)
        .layers(&deps)
        .layers(&tools)
        .send()
        .await
        .expect("attach layers");
    let proxy = FaultProxy::start(moto::url());
    serve_layer_content(&proxy, HOME);
    let lops = fx.lops(&proxy.url);
    let snapshot = backup_with_layers(&lops, &fx, &name);
    let key = snapshot.trim_start_matches(&format!("s3://{}/", fx.bucket));
    let manifest: Value =
        serde_json::from_slice(&fx.get(&fx.bucket, key).await.expect("manifest")).expect("json");
    assert!(
        manifest["layers"]
            .as_array()
            .expect("layers")
            .iter()
            .all(|l| l["blob"].is_string()),
        "{manifest}"
    );

    // Into DR in another account, as a role there.
    let (lambda, role) = other_account(DR).await;
    let restore = |extra: &[&str]| {
        let mut args = vec![
            "restore",
            &snapshot,
            "--region",
            DR,
            "--assume-role",
            "arn:aws:iam::222222222222:role/dr-restore",
            "--role",
            &role,
        ];
        args.extend_from_slice(extra);
        lops.run(&args)
    };
    let run = restore(&["--dry-run"]);
    run.assert_exit(0);
    assert!(
        run.stderr.contains(&format!("publish layer {name}-deps")),
        "{}",
        run.stderr
    );
    // The preview names both accounts: into another one reads apart from into this one.
    assert!(
        run.stderr.contains("account 123456789012 taken")
            && run
                .stderr
                .contains(&format!("in {DR} (account {OTHER_ACCOUNT})")),
        "{}",
        run.stderr
    );
    let run = restore(&["--yes"]);
    run.assert_exit(0);
    let restored = layers_of(&lambda, &name).await;
    assert_eq!(restored.len(), 2, "{restored:?}");
    for (arn, (source, sha)) in restored
        .iter()
        .zip([(&deps, &deps_sha), (&tools, &tools_sha)])
    {
        let source_name = source.split(':').nth(6).expect("name");
        assert!(
            arn.starts_with(&format!(
                "arn:aws:lambda:{DR}:{OTHER_ACCOUNT}:layer:{source_name}:"
            )),
            "{arn}"
        );
        assert_eq!(&layer_sha(&lambda, arn).await, sha, "{arn}");
    }
    // The account the snapshot came from got nothing.
    let dr = Seeder::new(moto::url(), DR).await;
    assert!(state(&dr.lambda, &name).await.is_none());
    assert_eq!(layer_versions(&dr.lambda, &format!("{name}-deps")).await, 0);

    // Again: nothing to do, nothing published.
    let published = proxy.calls(DR, "lambda", "PublishLayerVersion");
    assert_eq!(published, 2);
    let run = restore(&["--yes"]);
    run.assert_exit(0);
    assert!(run.stderr.contains("nothing to change"), "{}", run.stderr);
    assert_eq!(proxy.calls(DR, "lambda", "PublishLayerVersion"), published);

    // A failure after the layers were published takes them back.
    proxy.add(Rule {
        region: DR.to_string(),
        service: Some("lambda".into()),
        operation: Some("CreateFunction".into()),
        fault: Fault::Code(400, "InvalidParameterValueException"),
        remaining: None,
    });
    let run = lops.run(&[
        "restore",
        &snapshot,
        "--region",
        DR,
        "--name",
        &format!("{name}-again"),
        "--yes",
    ]);
    assert_ne!(run.code, 0, "{}", run.stderr);
    assert!(
        run.stderr.contains("every change was undone"),
        "{}",
        run.stderr
    );
    assert_eq!(
        layer_versions(&dr.lambda, &format!("{name}-deps")).await,
        0,
        "the published layer is deleted again"
    );
    assert_eq!(proxy.calls(DR, "lambda", "DeleteLayerVersion"), 2);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_layer_whose_content_was_not_stored_is_refused_before_anything_changes() {
    let fx = Fixture::new(HOME, "nolay").await;
    let name = moto::unique("bare");
    let (deps, _) = layer(&fx, &format!("{name}-deps")).await;
    fx.plain_function(&name).await;
    fx.seeder
        .lambda
        .update_function_configuration()
        .function_name(&name)
        .layers(&deps)
        .send()
        .await
        .expect("attach layer");
    let lops = fx.lops(moto::url());
    // Without --with-layers.
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    let through = fx.lops(&proxy.url);
    let run = through.run(&["restore", &snapshot, "--region", DR, "--yes"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains(&deps), "{}", run.stderr);
    assert!(run.stderr.contains("--with-layers"), "{}", run.stderr);
    assert!(run.stderr.contains("nothing was changed"), "{}", run.stderr);
    let writes: u64 = proxy
        .all_calls()
        .iter()
        .filter(|((r, s, op), _)| {
            r == DR
                && s == "lambda"
                && ["Create", "Publish", "Update", "Put", "Add"]
                    .iter()
                    .any(|w| op.starts_with(w))
        })
        .map(|(_, n)| n)
        .sum();
    assert_eq!(writes, 0, "{:#?}", proxy.all_calls());
    // In its own region and account the layer is usable as it is.
    let copy = format!("{name}-copy");
    through
        .run(&[
            "restore", &snapshot, "--region", HOME, "--name", &copy, "--yes",
        ])
        .assert_exit(0);
    assert_eq!(layers_of(&fx.seeder.lambda, &copy).await, vec![deps]);
}

/// AWS's answer to ListProvisionedConcurrencyConfigs for `function`'s alias `live`.
fn provisioned_list(region: &str, function: &str, requested: Option<i32>) -> String {
    let items = match requested {
        Some(n) => format!(
            r#"[{{"FunctionArn":"arn:aws:lambda:{region}:123456789012:function:{function}:live","RequestedProvisionedConcurrentExecutions":{n},"AvailableProvisionedConcurrentExecutions":{n},"AllocatedProvisionedConcurrentExecutions":{n},"Status":"READY","LastModified":"2026-11-20T10:00:00+0000"}}]"#
        ),
        None => "[]".into(),
    };
    format!(r#"{{"ProvisionedConcurrencyConfigs":{items}}}"#)
}

const PUT_ANSWER: &str = r#"{"RequestedProvisionedConcurrentExecutions":5,"AvailableProvisionedConcurrentExecutions":0,"AllocatedProvisionedConcurrentExecutions":0,"Status":"IN_PROGRESS","LastModified":"2026-11-27T10:00:00+0000"}"#;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn provisioned_concurrency_is_restored_on_its_alias_and_undone_with_the_rest() {
    let fx = Fixture::new(HOME, "prov").await;
    let name = moto::unique("warm");
    fx.function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.reply(
        HOME,
        "ListProvisionedConcurrencyConfigs",
        200,
        &provisioned_list(HOME, &name, Some(5)),
    );
    let lops = fx.lops(&proxy.url);
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let key = snapshot.trim_start_matches(&format!("s3://{}/", fx.bucket));
    let manifest: Value =
        serde_json::from_slice(&fx.get(&fx.bucket, key).await.expect("manifest")).expect("json");
    assert_eq!(
        manifest["provisioned_concurrency"],
        serde_json::json!([{"qualifier": "live", "requested": 5}])
    );

    // The target has none; AWS takes the request.
    proxy.reply(
        DR,
        "ListProvisionedConcurrencyConfigs",
        200,
        &provisioned_list(DR, &name, None),
    );
    proxy.reply(DR, "PutProvisionedConcurrencyConfig", 202, PUT_ANSWER);
    let run = lops.run(&["restore", &snapshot, "--region", DR, "--dry-run"]);
    assert!(
        run.stderr.contains("provisioned concurrency 5 on live"),
        "{}",
        run.stderr
    );
    lops.run(&["restore", &snapshot, "--region", DR, "--yes"])
        .assert_exit(0);
    let asked = proxy.requests(DR, "PutProvisionedConcurrencyConfig");
    assert_eq!(asked.len(), 1, "{asked:?}");
    assert!(asked[0].0.contains("Qualifier=live"), "{asked:?}");
    let body: Value = serde_json::from_str(&asked[0].1).expect("json body");
    assert_eq!(body["ProvisionedConcurrentExecutions"], 5);
    // Once it is there, a rerun leaves it.
    proxy.reply(
        DR,
        "ListProvisionedConcurrencyConfigs",
        200,
        &provisioned_list(DR, &name, Some(5)),
    );
    let run = lops.run(&["restore", &snapshot, "--region", DR, "--yes"]);
    run.assert_exit(0);
    assert!(run.stderr.contains("nothing to change"), "{}", run.stderr);
    assert_eq!(
        proxy.requests(DR, "PutProvisionedConcurrencyConfig").len(),
        1
    );

    // Refused (as AWS refuses more than the account's unreserved concurrency): every step
    // before it is undone and the new function is gone.
    proxy.add(Rule {
        region: DR.to_string(),
        service: Some("lambda".into()),
        operation: Some("PutProvisionedConcurrencyConfig".into()),
        fault: Fault::Code(400, "InvalidParameterValueException"),
        remaining: None,
    });
    let other = format!("{name}-b");
    let run = lops.run(&[
        "restore", &snapshot, "--region", DR, "--name", &other, "--yes",
    ]);
    assert_ne!(run.code, 0);
    assert!(
        run.stderr.contains("every change was undone"),
        "{}",
        run.stderr
    );
    let dr = Seeder::new(moto::url(), DR).await;
    assert!(state(&dr.lambda, &other).await.is_none());
}

/// An image in `region`'s registry; returns its digest.
async fn push_image(region: &str, repository: &str) -> String {
    let config = crate::support::seed::sdk_config(moto::url(), region).await;
    let ecr = aws_sdk_ecr::Client::new(&config);
    let _ = ecr
        .create_repository()
        .repository_name(repository)
        .send()
        .await;
    let manifest = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.docker.distribution.manifest.v2+json",
        "config": {"digest": format!("sha256:{}", "a".repeat(64)), "size": 1,
                   "mediaType": "application/vnd.docker.container.image.v1+json"},
        "layers": [],
    });
    ecr.put_image()
        .repository_name(repository)
        .image_manifest(manifest.to_string())
        .image_tag("v1")
        .send()
        .await
        .expect("put image")
        .image()
        .and_then(|i| i.image_id())
        .and_then(|i| i.image_digest())
        .expect("digest")
        .to_string()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_image_function_restores_only_where_its_image_is() {
    let fx = Fixture::new(HOME, "img").await;
    let name = moto::unique("boxed");
    let repository = format!("{name}-repo");
    let digest = push_image(HOME, &repository).await;
    fx.seeder
        .lambda
        .create_function()
        .function_name(&name)
        .package_type(aws_sdk_lambda::types::PackageType::Image)
        .role(ROLE_ARN)
        .code(
            aws_sdk_lambda::types::FunctionCode::builder()
                .image_uri(format!(
                    "123456789012.dkr.ecr.{HOME}.amazonaws.com/{repository}@{digest}"
                ))
                .build(),
        )
        .send()
        .await
        .expect("image function");
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    let through = fx.lops(&proxy.url);
    let run = through.run(&["restore", &snapshot, "--region", DR, "--yes"]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains(&digest), "{}", run.stderr);
    assert!(run.stderr.contains("replicate it there"), "{}", run.stderr);
    assert_eq!(proxy.calls(DR, "ecr", "DescribeImages"), 1);
    assert_eq!(proxy.calls(DR, "lambda", "CreateFunction"), 0);
    // Replicated: the same image (same digest) in DR's registry.
    assert_eq!(push_image(DR, &repository).await, digest);
    through
        .run(&["restore", &snapshot, "--region", DR, "--yes"])
        .assert_exit(0);
    let dr = Seeder::new(moto::url(), DR).await;
    let got = dr
        .lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .expect("restored");
    assert_eq!(
        got.code().and_then(|c| c.image_uri()),
        Some(format!("123456789012.dkr.ecr.{DR}.amazonaws.com/{repository}@{digest}").as_str())
    );
    // The target has an entry point override the snapshot has not (moto keeps none: its
    // answers carry one, as AWS's would): the restore takes it away with empty overrides.
    let target = name.clone();
    proxy.rewrite(DR, "GetFunction", move |path, body| {
        let mut doc: Value = serde_json::from_str(body).unwrap_or_default();
        if !path.contains(&target) || doc.get("Configuration").is_none() {
            return body.to_string();
        }
        doc["Configuration"]["ImageConfigResponse"] =
            serde_json::json!({"ImageConfig": {"EntryPoint": ["/bin/debug"]}});
        doc.to_string()
    });
    proxy.watch(DR, "UpdateFunctionConfiguration");
    through
        .run(&["restore", &snapshot, "--region", DR, "--yes"])
        .assert_exit(0);
    let updated = proxy.requests(DR, "UpdateFunctionConfiguration");
    assert_eq!(updated.len(), 1, "{updated:?}");
    let sent: Value = serde_json::from_str(&updated[0].1).expect("a JSON request");
    assert_eq!(
        sent["ImageConfig"],
        serde_json::json!({"EntryPoint": [], "Command": [], "WorkingDirectory": ""}),
        "{sent}"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_invokes_its_copy_once_and_counts_a_failed_invoke() {
    let fx = Fixture::new(HOME, "dinv").await;
    let name = moto::unique("drinv");
    fx.plain_function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    let lops = fx.lops(&proxy.url);
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let drill = |extra: &[&str]| {
        let mut args = vec![
            "backup", "drill", &snapshot, "--region", DR, "--yes", "--json",
        ];
        args.extend_from_slice(extra);
        lops.run(&args)
    };
    // moto without Docker answers with the event it was given.
    let run = drill(&["--payload", r#"{"ping": 7}"#]);
    run.assert_exit(0);
    let report = run.json();
    assert_eq!(report["invoked"]["status"], 200, "{report}");
    assert!(
        report["invoked"]["response"]
            .as_str()
            .unwrap_or_default()
            .contains("ping"),
        "{report}"
    );
    assert_eq!(proxy.calls(DR, "lambda", "Invoke"), 1);
    // Not invoked when asked not to.
    let run = drill(&["--no-invoke"]);
    run.assert_exit(0);
    assert_eq!(run.json()["invoked"], Value::Null);
    assert_eq!(proxy.calls(DR, "lambda", "Invoke"), 1);
    // An invoke that fails makes the drill incomplete, and the copy is still deleted.
    proxy.add(Rule {
        region: DR.to_string(),
        service: Some("lambda".into()),
        operation: Some("Invoke".into()),
        fault: Fault::Code(400, "InvalidRuntimeException"),
        remaining: None,
    });
    let run = drill(&[]);
    run.assert_exit(3);
    let report = run.json();
    let differences = report["differences"].to_string();
    assert!(differences.contains("invoke failed"), "{report}");
    let copy = report["copy"].as_str().expect("copy");
    let dr = Seeder::new(moto::url(), DR).await;
    assert!(state(&dr.lambda, copy).await.is_none());
    // A payload that is not JSON is refused before anything is restored.
    let run = drill(&["--payload", "{nope"]);
    assert_eq!(run.code, 2, "{}", run.stderr);
    assert!(run.stderr.contains("not valid JSON"), "{}", run.stderr);
}

/// A restore, a drill and a prune act through one profile: given several of one account, the
/// strictest acts whatever their order (a read-only one among them refuses, exit 4, nothing
/// changed); given profiles of different accounts, lops does not guess which was meant (exit
/// 2, naming both accounts). Before, the first profile given acted and the others were
/// ignored.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn several_profiles_restore_drill_and_prune_through_the_strictest_of_one_account() {
    let fx = Fixture::new(HOME, "strict").await;
    let name = moto::unique("strictest");
    fx.plain_function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    // Changed since the backup: a restore would have something to do.
    fx.seeder
        .lambda
        .update_function_configuration()
        .function_name(&name)
        .memory_size(512)
        .send()
        .await
        .expect("change");
    lops.aws_files(
        &format!(
            "[profile ro]\nregion = {HOME}\n[profile prod]\nregion = {HOME}\n[profile dr]\nrole_arn = arn:aws:iam::{OTHER_ACCOUNT}:role/dr-restore\nsource_profile = default\nregion = {HOME}\n"
        ),
        Some("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"),
    );
    let config = lops.config("[profile.ro]\nmode = \"read\"\n[profile.prod]\nproduction = true\n");
    let config = config.to_str().unwrap_or_default();
    let to = fx.to();
    // A production profile beside the read-only one does not lift its refusal.
    for profiles in ["default,ro", "ro,default", "prod,ro", "ro,prod"] {
        let common = ["--config", config, "--profile", profiles, "--region", HOME];
        let restore = [&common[..], &["restore", &snapshot, "--no-data", "--yes"]].concat();
        let drill = [
            &common[..],
            &["backup", "drill", &snapshot, "--no-invoke", "--yes"],
        ]
        .concat();
        let prune = [
            &common[..],
            &["backup", "prune", "--to", &to, "--keep-last", "1", "--yes"],
        ]
        .concat();
        for args in [restore, drill, prune] {
            let run = lops.run(&args);
            run.assert_exit(4);
            assert!(
                run.stderr.contains("profile ro") || run.stderr.contains("ro/"),
                "{profiles} {args:?}: {}",
                run.stderr
            );
        }
    }
    let memory = fx
        .seeder
        .lambda
        .get_function_configuration()
        .function_name(&name)
        .send()
        .await
        .expect("read")
        .memory_size();
    assert_eq!(memory, Some(512), "nothing restored");
    // Two accounts: refused before any change, both named.
    let run = lops.run(&[
        "--config",
        config,
        "--profile",
        "default,dr",
        "--region",
        HOME,
        "restore",
        &snapshot,
        "--no-data",
        "--yes",
    ]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("default in account 123456789012")
            && run
                .stderr
                .contains(&format!("dr in account {OTHER_ACCOUNT}"))
            && run.stderr.contains("--profile"),
        "{}",
        run.stderr
    );
}

/// `--profile` names a profile that assumes a role in the target account: the restore lands
/// there, signed with the role's keys, and the account the snapshot came from is untouched.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_that_assumes_a_role_restores_into_its_own_account() {
    let fx = Fixture::new(HOME, "prof").await;
    let name = moto::unique("viaprofile");
    fx.plain_function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let (lambda, role) = other_account(DR).await;
    let proxy = FaultProxy::start(moto::url());
    let through = fx.lops(&proxy.url);
    through.aws_files(
        &format!(
            "[profile dr]\nrole_arn = arn:aws:iam::{OTHER_ACCOUNT}:role/dr-restore\nsource_profile = base\nregion = {DR}\n"
        ),
        Some("[base]\naws_access_key_id = testing\naws_secret_access_key = testing\n"),
    );
    let mut cmd = through.command(&[
        "restore",
        &snapshot,
        "--profile",
        "dr",
        "--region",
        DR,
        "--role",
        &role,
        "--yes",
    ]);
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = cmd.output().expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let assumed: u64 = proxy
        .all_calls()
        .iter()
        .filter(|((_, s, op), _)| s == "sts" && op == "AssumeRole")
        .map(|(_, n)| n)
        .sum();
    assert!(assumed >= 1, "{:#?}", proxy.all_calls());
    let got = lambda
        .get_function()
        .function_name(&name)
        .send()
        .await
        .expect("restored in the other account");
    assert!(
        got.configuration()
            .and_then(|c| c.function_arn())
            .is_some_and(|a| a.contains(OTHER_ACCOUNT)),
        "{got:?}"
    );
    let dr = Seeder::new(moto::url(), DR).await;
    assert!(state(&dr.lambda, &name).await.is_none());
}

/// Everything a function holds, restored into another region of another account (as a role
/// there) and read back piece by piece; then a failure injected at each step a complete
/// restore added undoes what was done before it; then a drill of the same snapshot there.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_whole_function_comes_back_in_another_account_and_each_new_step_undoes_on_failure() {
    use aws_sdk_lambda::types::{Cors, FunctionUrlAuthType};
    let fx = Fixture::new(HOME, "whole").await;
    let name = moto::unique("whole");
    let (deps, deps_sha) = layer(&fx, &format!("{name}-deps")).await;
    let (tools, tools_sha) = layer(&fx, &format!("{name}-tools")).await;
    fx.function(&name).await;
    let lambda = &fx.seeder.lambda;
    lambda
        .update_function_configuration()
        .function_name(&name)
        .layers(&deps)
        .layers(&tools)
        .send()
        .await
        .expect("attach layers");
    lambda
        .create_function_url_config()
        .function_name(&name)
        .auth_type(FunctionUrlAuthType::AwsIam)
        .cors(
            Cors::builder()
                .allow_origins("https://shop.example.com")
                .max_age(120)
                .build(),
        )
        .send()
        .await
        .expect("url");
    lambda
        .put_function_event_invoke_config()
        .function_name(&name)
        .maximum_retry_attempts(0)
        .maximum_event_age_in_seconds(900)
        .send()
        .await
        .expect("async config");
    lambda
        .add_permission()
        .function_name(&name)
        .statement_id("nightly")
        .action("lambda:InvokeFunction")
        .principal("events.amazonaws.com")
        .source_arn(format!("arn:aws:events:{HOME}:123456789012:rule/nightly"))
        .send()
        .await
        .expect("permission");
    let proxy = FaultProxy::start(moto::url());
    serve_layer_content(&proxy, HOME);
    proxy.reply(
        HOME,
        "ListProvisionedConcurrencyConfigs",
        200,
        &provisioned_list(HOME, &name, Some(5)),
    );
    proxy.reply(
        DR,
        "ListProvisionedConcurrencyConfigs",
        200,
        &provisioned_list(DR, &name, None),
    );
    proxy.reply(DR, "PutProvisionedConcurrencyConfig", 202, PUT_ANSWER);
    proxy.reply(DR, "DeleteProvisionedConcurrencyConfig", 204, "");
    let lops = fx.lops(&proxy.url);
    let snapshot = backup_with_layers(&lops, &fx, &name);
    let (target, role) = other_account(DR).await;
    let restore = |new_name: &str| {
        lops.run(&[
            "restore",
            &snapshot,
            "--region",
            DR,
            "--name",
            new_name,
            "--assume-role",
            &format!("arn:aws:iam::{OTHER_ACCOUNT}:role/dr-restore"),
            "--role",
            &role,
            "--yes",
        ])
    };
    // First a failure at each step a complete restore added: everything before it is undone.
    for (i, operation) in [
        "PublishLayerVersion",
        "CreateFunctionUrlConfig",
        "PutFunctionEventInvokeConfig",
        "AddPermission",
        "PutProvisionedConcurrencyConfig",
    ]
    .into_iter()
    .enumerate()
    {
        // The second layer fails, after the first was published.
        let pass = u32::from(operation == "PublishLayerVersion");
        proxy.add_after(
            pass,
            Rule {
                region: DR.to_string(),
                service: Some("lambda".into()),
                operation: Some(operation.into()),
                fault: Fault::Code(400, "InvalidParameterValueException"),
                remaining: Some(1),
            },
        );
        let other = format!("{name}-f{i}");
        let run = restore(&other);
        assert_ne!(run.code, 0, "{operation}: {}", run.stderr);
        assert!(
            run.stderr.contains("every change was undone"),
            "{operation}: {}",
            run.stderr
        );
        assert!(
            target
                .get_function()
                .function_name(&other)
                .send()
                .await
                .is_err(),
            "{operation}: the function is still there"
        );
        // The layer versions it published are gone again.
        assert_eq!(
            layer_versions(&target, &format!("{name}-deps")).await,
            0,
            "{operation}"
        );
        assert_eq!(layer_versions(&target, &format!("{name}-tools")).await, 0);
    }

    let put_before = proxy.requests(DR, "PutProvisionedConcurrencyConfig").len();
    let run = restore(&name);
    run.assert_exit(0);
    // Its record says where it acted: the account and the role assumed to get there (what
    // puts back what a restore replaced names them).
    let audit = lops.run(&["audit", "--json"]);
    audit.assert_exit(0);
    let doc = audit.json();
    let last = doc
        .as_array()
        .and_then(|all| all.iter().rev().find(|r| r["action"] == "restore"))
        .expect("the restore's record");
    assert_eq!(last["action"], "restore", "{last}");
    assert_eq!(last["after"]["account"], OTHER_ACCOUNT, "{last}");
    assert_eq!(
        last["after"]["assume_role"],
        format!("arn:aws:iam::{OTHER_ACCOUNT}:role/dr-restore"),
        "{last}"
    );
    // Nothing left out but the rule its permission names (rules are not in a snapshot).
    let notes: Vec<&str> = run.stderr.lines().filter(|l| l.contains("note:")).collect();
    assert_eq!(notes.len(), 1, "{}", run.stderr);
    assert!(
        notes[0].contains(&format!(
            "EventBridge rule arn:aws:events:{DR}:{OTHER_ACCOUNT}:rule/nightly"
        )) && notes[0].contains("none is restored"),
        "{}",
        run.stderr
    );

    // Read back, piece by piece, in the other account.
    let got = target
        .get_function()
        .function_name(&name)
        .send()
        .await
        .expect("function");
    let config = got.configuration().expect("configuration");
    assert!(
        config
            .function_arn()
            .is_some_and(|a| a.contains(&format!(":{DR}:{OTHER_ACCOUNT}:"))),
        "{config:?}"
    );
    assert_eq!(config.role(), Some(role.as_str()));
    assert_eq!(config.memory_size(), Some(256));
    let layers = layers_of(&target, &name).await;
    assert_eq!(layers.len(), 2);
    assert_eq!(layer_sha(&target, &layers[0]).await, deps_sha);
    assert_eq!(layer_sha(&target, &layers[1]).await, tools_sha);
    assert_eq!(
        got.concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        Some(7)
    );
    assert_eq!(
        got.tags().and_then(|t| t.get("team")).map(String::as_str),
        Some("payments")
    );
    let alias = target
        .get_alias()
        .function_name(&name)
        .name("live")
        .send()
        .await
        .expect("alias");
    let weights = alias
        .routing_config()
        .and_then(|r| r.additional_version_weights())
        .cloned()
        .unwrap_or_default();
    assert_eq!(alias.function_version(), Some("1"));
    assert_eq!(weights.get("2"), Some(&0.3));
    let url = target
        .get_function_url_config()
        .function_name(&name)
        .send()
        .await
        .expect("url");
    assert_eq!(url.auth_type(), &FunctionUrlAuthType::AwsIam);
    assert_eq!(
        url.cors().map(|c| c.allow_origins().to_vec()),
        Some(vec!["https://shop.example.com".to_string()])
    );
    let invoke = target
        .get_function_event_invoke_config()
        .function_name(&name)
        .send()
        .await
        .expect("async config");
    assert_eq!(invoke.maximum_retry_attempts(), Some(0));
    assert_eq!(invoke.maximum_event_age_in_seconds(), Some(900));
    let policy = target
        .get_policy()
        .function_name(&name)
        .send()
        .await
        .expect("policy");
    let text = policy.policy().unwrap_or_default();
    // The rule's region and account are the target's.
    assert!(
        text.contains(&format!("arn:aws:events:{DR}:{OTHER_ACCOUNT}:rule/nightly")),
        "{text}"
    );
    let asked = proxy.requests(DR, "PutProvisionedConcurrencyConfig");
    assert_eq!(asked.len(), put_before + 1);
    assert!(asked[put_before].0.contains("Qualifier=live"), "{asked:?}");

    // Again under another name: the layers it published are used, not published again.
    let published = proxy.calls(DR, "lambda", "PublishLayerVersion");
    restore(&format!("{name}-twin")).assert_exit(0);
    assert_eq!(proxy.calls(DR, "lambda", "PublishLayerVersion"), published);
    assert_eq!(layers_of(&target, &format!("{name}-twin")).await, layers);

    // A drill there: complete, and nothing of it left behind.
    proxy.reply(
        DR,
        "ListProvisionedConcurrencyConfigs",
        200,
        &provisioned_list(DR, &name, Some(5)),
    );
    let run = lops.run(&[
        "backup",
        "drill",
        &snapshot,
        "--region",
        DR,
        "--assume-role",
        &format!("arn:aws:iam::{OTHER_ACCOUNT}:role/dr-drill"),
        "--role",
        &role,
        "--no-invoke",
        "--yes",
        "--json",
    ]);
    let report = run.json();
    assert_eq!(report["complete"], true, "{report}");
    run.assert_exit(0);
    let copy = report["copy"].as_str().expect("copy");
    assert!(
        target
            .get_function()
            .function_name(copy)
            .send()
            .await
            .is_err()
    );
    assert_eq!(layer_versions(&target, &format!("{name}-deps")).await, 1);
}

/// A drill's copy must not take a real queue's messages: its mappings are created disabled, on
/// the alias they invoked, with their batching window.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drills_copy_gets_its_mappings_disabled() {
    let fx = Fixture::new(HOME, "dmap").await;
    let name = moto::unique("consumer");
    fx.plain_function(&name).await;
    let queue = moto::create_queue(HOME, &format!("{name}-jobs"));
    fx.seeder
        .lambda
        .create_event_source_mapping()
        .function_name(&name)
        .event_source_arn(&queue)
        .batch_size(5)
        .maximum_batching_window_in_seconds(7)
        .send()
        .await
        .expect("mapping");
    let proxy = FaultProxy::start(moto::url());
    proxy.watch(HOME, "CreateEventSourceMapping");
    let lops = fx.lops(&proxy.url);
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let run = lops.run(&[
        "backup",
        "drill",
        &snapshot,
        "--region",
        HOME,
        "--no-invoke",
        "--yes",
        "--json",
    ]);
    run.assert_exit(0);
    let asked = proxy.requests(HOME, "CreateEventSourceMapping");
    assert_eq!(asked.len(), 1, "{asked:?}");
    let body: Value = serde_json::from_str(&asked[0].1).expect("json");
    assert_eq!(body["Enabled"], false, "{body}");
    assert_eq!(body["MaximumBatchingWindowInSeconds"], 7, "{body}");
    // The function's own mapping is still the only one on the queue.
    let left = fx
        .seeder
        .lambda
        .list_event_source_mappings()
        .event_source_arn(&queue)
        .send()
        .await
        .expect("mappings");
    assert_eq!(left.event_source_mappings().len(), 1);
    // In another region the drill names the mapping it left out (incomplete, 3); with
    // --map-sources the copy reads the queue of the same name there, disabled, and is whole.
    proxy.watch(DR, "CreateEventSourceMapping");
    let elsewhere = |extra: &[&str]| {
        let mut args = vec![
            "backup",
            "drill",
            &snapshot,
            "--region",
            DR,
            "--no-invoke",
            "--yes",
            "--json",
        ];
        args.extend_from_slice(extra);
        lops.run(&args)
    };
    let run = elsewhere(&[]);
    run.assert_exit(3);
    assert!(run.stdout.contains("--map-sources"), "{}", run.stdout);
    let dr_queue = moto::create_queue(DR, &format!("{name}-jobs"));
    let run = elsewhere(&["--map-sources"]);
    run.assert_exit(0);
    let asked = proxy.requests(DR, "CreateEventSourceMapping");
    assert_eq!(asked.len(), 1, "{asked:?}");
    let body: Value = serde_json::from_str(&asked[0].1).expect("json");
    assert_eq!(body["EventSourceArn"], dr_queue.as_str(), "{body}");
    assert_eq!(body["Enabled"], false, "{body}");
}

/// What moto does not keep (it accepts and drops them), put into its GetFunction answers as AWS
/// gives them: JSON logging to a shared group, an EFS mount, SnapStart.
fn serve_logging_and_mounts(proxy: &FaultProxy, region: &str, name: &str) {
    let name = name.to_string();
    proxy.rewrite(region, "GetFunction", move |path, body| {
        let mut doc: Value = serde_json::from_str(body).unwrap_or_default();
        if !path.contains(&name) || doc.get("Configuration").is_none() {
            return body.to_string();
        }
        let config = &mut doc["Configuration"];
        config["LoggingConfig"] = serde_json::json!({
            "LogFormat": "JSON", "ApplicationLogLevel": "WARN", "SystemLogLevel": "INFO",
            "LogGroup": "/shared/orders",
        });
        config["FileSystemConfigs"] = serde_json::json!([{
            "Arn": "arn:aws:elasticfilesystem:mx-central-1:123456789012:access-point/fsap-0abc",
            "LocalMountPath": "/mnt/orders",
        }]);
        config["SnapStart"] =
            serde_json::json!({"ApplyOn": "PublishedVersions", "OptimizationStatus": "On"});
        doc.to_string()
    });
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn logging_mounts_and_snapstart_go_with_the_snapshot_to_the_restored_function() {
    let fx = Fixture::new(HOME, "logcfg").await;
    let name = moto::unique("orders");
    fx.plain_function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    serve_logging_and_mounts(&proxy, HOME, &name);
    let lops = fx.lops(&proxy.url);
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));

    let key = snapshot
        .strip_prefix(&format!("s3://{}/", fx.bucket))
        .expect("in the bucket");
    let manifest: Value =
        serde_json::from_slice(&fx.get(&fx.bucket, key).await.expect("manifest")).expect("json");
    let latest = &manifest["latest"]["config"];
    assert_eq!(latest["log_group"], "/shared/orders", "{latest}");
    assert_eq!(latest["log_format"], "JSON");
    assert_eq!(latest["application_log_level"], "WARN");
    assert_eq!(latest["system_log_level"], "INFO");
    assert_eq!(latest["file_systems"][0]["local_mount_path"], "/mnt/orders");
    assert_eq!(latest["snap_start"], "PublishedVersions");

    // Into another region: its EFS access point cannot be mounted there, refused first.
    let copy = format!("{name}-copy");
    let run = lops.run(&[
        "restore", &snapshot, "--region", DR, "--name", &copy, "--yes",
    ]);
    assert_eq!(run.code, 4, "{}", run.stderr);
    assert!(run.stderr.contains("fsap-0abc"), "{}", run.stderr);
    assert_eq!(proxy.calls(DR, "lambda", "CreateFunction"), 0);
    // Under another name in its own region: every piece is asked for.
    proxy.watch(HOME, "CreateFunction");
    let run = lops.run(&[
        "restore", &snapshot, "--region", HOME, "--name", &copy, "--yes",
    ]);
    run.assert_exit(0);
    let created = proxy.requests(HOME, "CreateFunction");
    assert_eq!(created.len(), 1, "{created:?}");
    let sent: Value = serde_json::from_str(&created[0].1).expect("a JSON request");
    assert_eq!(sent["LoggingConfig"]["LogFormat"], "JSON", "{sent}");
    assert_eq!(sent["LoggingConfig"]["LogGroup"], "/shared/orders");
    assert_eq!(sent["LoggingConfig"]["ApplicationLogLevel"], "WARN");
    assert_eq!(sent["LoggingConfig"]["SystemLogLevel"], "INFO");
    assert_eq!(
        sent["FileSystemConfigs"][0]["LocalMountPath"],
        "/mnt/orders"
    );
    assert_eq!(sent["SnapStart"]["ApplyOn"], "PublishedVersions");

    // Over itself, with only its memory changed since: the update restates no logging.
    fx.seeder
        .lambda
        .update_function_configuration()
        .function_name(&name)
        .memory_size(1024)
        .send()
        .await
        .expect("memory changed");
    proxy.watch(HOME, "UpdateFunctionConfiguration");
    let run = lops.run(&["restore", &snapshot, "--region", HOME, "--yes"]);
    run.assert_exit(0);
    let updated = proxy.requests(HOME, "UpdateFunctionConfiguration");
    assert_eq!(updated.len(), 1, "{updated:?}");
    let sent: Value = serde_json::from_str(&updated[0].1).expect("a JSON request");
    assert_eq!(sent["MemorySize"], 256, "{sent}");
    assert!(sent.get("LoggingConfig").is_none(), "{sent}");
}

/// The drill's copies of `name` in `region` that exist.
async fn drill_copies(region: &str, name: &str) -> Vec<String> {
    let lambda = Seeder::new(moto::url(), region).await.lambda;
    let mut found = Vec::new();
    let mut marker = None;
    loop {
        let page = lambda
            .list_functions()
            .set_marker(marker)
            .send()
            .await
            .expect("list");
        found.extend(
            page.functions()
                .iter()
                .filter_map(|f| f.function_name())
                .filter(|n| n.starts_with(&format!("{name}-drill-")))
                .map(str::to_string),
        );
        marker = page.next_marker().map(str::to_string);
        if marker.is_none() {
            return found;
        }
    }
}

/// A restore killed half-way (no end recorded) is named by the next restore of the same target
/// in its preview: what it left is what the next one compares against and completes.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_killed_half_way_is_named_by_the_next_one() {
    let fx = Fixture::new(HOME, "rkill").await;
    let name = moto::unique("rkill");
    fx.function(&name).await;
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, HOME, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: DR.to_string(),
        service: Some("lambda".into()),
        operation: Some("PublishVersion".into()),
        fault: Fault::Delay(std::time::Duration::from_secs(2)),
        remaining: None,
    });
    let slow = fx.lops(&proxy.url);
    let args = ["restore", &snapshot, "--region", DR, "--yes"];
    crate::backup::kill_backup_when(&slow, &args, &proxy, |p| {
        p.calls(DR, "lambda", "PublishVersion") >= 1
    });
    proxy.heal();
    let dry = slow.run(&["restore", &snapshot, "--region", DR, "--dry-run"]);
    dry.assert_exit(0);
    assert!(
        dry.stderr
            .contains(&format!("note: a restore of {name} here began at "))
            && dry.stderr.contains("never recorded its end"),
        "{}",
        dry.stderr
    );
    slow.run(&args).assert_exit(0);
    // Done since: the next preview has nothing of it to say.
    let again = slow.run(&["restore", &snapshot, "--region", DR, "--dry-run"]);
    again.assert_exit(0);
    assert!(
        !again.stderr.contains("never recorded its end"),
        "{}",
        again.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_stopped_or_killed_leaves_no_copy_behind() {
    let fx = Fixture::new(HOME, "dstop").await;
    let name = moto::unique("dstop");
    fx.function(&name).await;
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, HOME, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: DR.to_string(),
        service: Some("lambda".into()),
        operation: Some("PublishVersion".into()),
        fault: Fault::Delay(std::time::Duration::from_secs(2)),
        remaining: None,
    });
    let slow = fx.lops(&proxy.url);
    let args = [
        "backup",
        "drill",
        &snapshot,
        "--region",
        DR,
        "--yes",
        "--no-invoke",
    ];
    // Ctrl-C half-way: the restore ends, the copy is deleted, the drill says it stopped (3).
    let (code, stderr) = interrupted(&slow, &args, || {
        proxy.calls(DR, "lambda", "PublishVersion") >= 1
    });
    assert_eq!(code, 3, "{stderr}");
    assert!(stderr.contains("stopping the drill"), "{stderr}");
    assert!(stderr.contains("stopped (Ctrl-C)"), "{stderr}");
    assert!(
        stderr.contains("STOPPED (Ctrl-C) before the drill was done: 0 left behind"),
        "{stderr}"
    );
    assert!(drill_copies(DR, &name).await.is_empty());
    // Killed outright half-way: the copy stays, and the next drill deletes it first.
    crate::backup::kill_backup_when(&slow, &args, &proxy, |p| {
        p.calls(DR, "lambda", "PublishVersion") >= 3
    });
    let left = drill_copies(DR, &name).await;
    assert_eq!(left.len(), 1, "{left:?}");
    // Killed on another machine a moment ago, it could be a drill still running there: left
    // alone, and named.
    let path = slow.home.path().join("state/lops/audit.jsonl");
    let audit = std::fs::read_to_string(&path).expect("audit");
    let elsewhere: Vec<String> = audit
        .lines()
        .map(|l| {
            if l.contains(&left[0]) && l.contains(r#""action":"restore.begin""#) {
                let mut r: Value = serde_json::from_str(l).expect("record");
                assert!(r["after"]["process"]["pid"].is_u64(), "{r}");
                r["after"]["process"]["host"] = Value::from("another-bastion");
                r.to_string()
            } else {
                l.to_string()
            }
        })
        .collect();
    std::fs::write(&path, elsewhere.join("\n") + "\n").expect("move the record");
    let drill = [
        "backup",
        "drill",
        &snapshot,
        "--region",
        DR,
        "--yes",
        "--no-invoke",
        "--json",
    ];
    let run = slow.run(&drill);
    run.assert_exit(0);
    assert_eq!(drill_copies(DR, &name).await, left);
    assert_eq!(
        run.json()["leftovers_waiting"][0],
        left[0].as_str(),
        "{}",
        run.stdout
    );
    // Said before the question too, as left alone.
    assert!(
        run.stderr.contains(&format!(
            "{} began recently and may be another drill still running: left as it is",
            left[0]
        )),
        "{}",
        run.stderr
    );
    // Killed on this machine (the record as it was written): its process is known gone, so the
    // next drill deletes the copy at once — no half hour of a copy holding concurrency.
    let now = std::fs::read_to_string(&path).expect("audit");
    let here: String = now
        .lines()
        .filter(|l| !elsewhere.contains(&l.to_string()))
        .map(|l| format!("{l}\n"))
        .collect();
    std::fs::write(&path, audit + &here).expect("put the record back");
    let run = slow.run(&drill);
    run.assert_exit(0);
    assert_eq!(
        run.json()["leftovers_removed"][0],
        left[0].as_str(),
        "{}",
        run.stdout
    );
    // The preview named it before the question (it said only "restore, compare, delete").
    assert!(
        run.stderr.contains(&format!(
            "delete {} (left by an interrupted drill, with its triggers), restore it",
            left[0]
        )),
        "{}",
        run.stderr
    );
    assert!(drill_copies(DR, &name).await.is_empty());
    // No audit, no change: the drill recorded what it was about to delete, make and invoke
    // before its first change (the copy's restore records only its own start).
    let records: Vec<Value> = std::fs::read_to_string(&path)
        .expect("audit")
        .lines()
        .filter_map(|l| serde_json::from_str(l).ok())
        .collect();
    let copy = run.json()["copy"].as_str().expect("copy").to_string();
    let at = |action: &str| {
        records
            .iter()
            .position(|r| r["action"] == action && r["target"] == copy.as_str())
            .unwrap_or_else(|| panic!("no {action} of {copy}"))
    };
    let begin = &records[at("drill.begin")];
    assert_eq!(begin["result"], "started", "{begin}");
    assert_eq!(begin["after"]["removes"][0], left[0].as_str(), "{begin}");
    assert_eq!(begin["after"]["invokes"], false, "{begin}");
    assert!(at("drill.begin") < at("restore.begin") && at("restore.begin") < at("drill"));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_permission_on_an_alias_comes_back_on_the_alias() {
    let fx = Fixture::new(HOME, "aliasperm").await;
    let name = moto::unique("aliasperm");
    fx.function(&name).await;
    let topic = format!("arn:aws:sns:{HOME}:123456789012:orders");
    fx.seeder
        .lambda
        .add_permission()
        .function_name(&name)
        .qualifier("live")
        .statement_id("live-sns")
        .action("lambda:InvokeFunction")
        .principal("sns.amazonaws.com")
        .source_arn(&topic)
        .send()
        .await
        .expect("permission on the alias");
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    let target = format!("{name}-dr");
    let dry = lops.run(&[
        "restore",
        &snapshot,
        "--region",
        DR,
        "--name",
        &target,
        "--dry-run",
    ]);
    dry.assert_exit(0);
    assert!(dry.stderr.contains("(live-sns) on live"), "{}", dry.stderr);
    lops.run(&[
        "restore", &snapshot, "--region", DR, "--name", &target, "--yes",
    ])
    .assert_exit(0);
    let dr = Seeder::new(moto::url(), DR).await;
    let policy = dr
        .lambda
        .get_policy()
        .function_name(&target)
        .qualifier("live")
        .send()
        .await
        .expect("the alias's policy");
    let doc: Value = serde_json::from_str(policy.policy().unwrap_or_default()).expect("json");
    let statements = doc["Statement"].as_array().cloned().unwrap_or_default();
    let live = statements
        .iter()
        .find(|s| s["Sid"] == "live-sns")
        .expect("the alias's statement");
    assert!(
        live["Resource"]
            .as_str()
            .unwrap_or_default()
            .ends_with(&format!("{target}:live")),
        "{live}"
    );
    // A second restore finds nothing to do.
    let again = lops.run(&[
        "restore",
        &snapshot,
        "--region",
        DR,
        "--name",
        &target,
        "--dry-run",
    ]);
    again.assert_exit(0);
    assert!(!again.stderr.contains("live-sns"), "{}", again.stderr);
}

/// A restore whose target changes between its preview and the write restores nothing, and is
/// in the audit log as not sent (changed), as every change refused that way is; `lops audit`
/// says so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_refused_because_its_target_changed_is_recorded_as_not_sent() {
    let fx = Fixture::new(PROXIED, "rrace").await;
    let name = moto::unique("rrace");
    fx.function(&name).await;
    let snapshot = snapshot_of(&backup(&fx.lops(moto::url()), PROXIED, &name, &fx.to()));
    fx.seeder.reserve(&name, 3).await;
    // Data asked of a snapshot that holds none is refused, not ignored, before anything.
    let data = fx.lops(moto::url()).run(&[
        "restore",
        &snapshot,
        "--data-to",
        "s3://anywhere/x",
        "--yes",
    ]);
    data.assert_exit(2);
    assert!(
        data.stderr.contains("holds no S3 data") && data.stderr.contains("without --data-to"),
        "{}",
        data.stderr
    );
    let proxy = FaultProxy::start(moto::url());
    let lops = fx.lops(&proxy.url);
    // One preview's reads of the function; the next one is the comparison before the write.
    lops.run(&["restore", &snapshot, "--dry-run"])
        .assert_exit(0);
    let preview_reads = proxy.calls(PROXIED, "lambda", "GetFunction");
    assert!(preview_reads > 0);
    proxy.add_after(
        preview_reads as u32,
        Rule::lambda(
            PROXIED,
            "GetFunction",
            Fault::Delay(std::time::Duration::from_secs(3)),
            Some(1),
        ),
    );
    let child = lops.spawn(&["restore", &snapshot, "--yes"]);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while proxy.calls(PROXIED, "lambda", "GetFunction") <= 2 * preview_reads {
        assert!(
            std::time::Instant::now() < deadline,
            "no read before the write"
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    // Someone else changes it while the restore compares.
    fx.seeder.reserve(&name, 5).await;
    let (code, stderr) = crate::support::cli::finish(child, 60);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("changed since the preview"), "{stderr}");
    let got = fx
        .seeder
        .lambda
        .get_function_concurrency()
        .function_name(&name)
        .send()
        .await
        .expect("concurrency")
        .reserved_concurrent_executions();
    assert_eq!(got, Some(5), "nothing restored");
    let audit = lops.run(&["audit", "--json"]).json();
    let restores: Vec<&Value> = audit
        .as_array()
        .map(|a| {
            a.iter()
                .filter(|r| {
                    r["action"]
                        .as_str()
                        .unwrap_or_default()
                        .starts_with("restore")
                })
                .collect()
        })
        .unwrap_or_default();
    assert_eq!(restores.len(), 1, "{audit:#}");
    assert_eq!(restores[0]["action"], "restore");
    assert_eq!(restores[0]["target"], name.as_str());
    assert!(
        restores[0]["result"]
            .as_str()
            .unwrap_or_default()
            .starts_with("changed since the preview, nothing sent: "),
        "{audit:#}"
    );
    let text = lops.run(&["audit"]);
    assert!(
        text.stdout.contains("not sent (changed)"),
        "{}",
        text.stdout
    );
}

/// Ctrl-C during a restore stops it the safe way: the step under way ends, then every change
/// is undone (as after a failed step), and lops says so: the function is as it was, never a
/// mix of the snapshot's settings and its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_during_a_restore_undoes_what_it_changed() {
    let fx = Fixture::new(HOME, "rstop").await;
    let name = moto::unique("rstop");
    fx.function(&name).await;
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, HOME, &name, &fx.to()));
    // Changed since the snapshot in two ways: two steps to restore.
    fx.seeder.reserve(&name, 3).await;
    fx.seeder
        .lambda
        .update_function_configuration()
        .function_name(&name)
        .memory_size(512)
        .send()
        .await
        .expect("memory");
    let proxy = FaultProxy::start(moto::url());
    for operation in [
        "UpdateFunctionConfiguration",
        "PutFunctionConcurrency",
        "DeleteFunctionConcurrency",
    ] {
        proxy.add(Rule {
            region: HOME.to_string(),
            service: Some("lambda".into()),
            operation: Some(operation.into()),
            fault: Fault::Delay(std::time::Duration::from_secs(2)),
            remaining: None,
        });
    }
    let slow = fx.lops(&proxy.url);
    let writes = || {
        [
            "UpdateFunctionConfiguration",
            "PutFunctionConcurrency",
            "DeleteFunctionConcurrency",
        ]
        .iter()
        .map(|op| proxy.calls(HOME, "lambda", op))
        .sum::<u64>()
    };
    let (code, stderr) = interrupted(&slow, &["restore", &snapshot, "--no-data", "--yes"], || {
        writes() >= 1
    });
    assert_eq!(code, 1, "{stderr}");
    assert!(stderr.contains("stopping the restore"), "{stderr}");
    assert!(
        stderr.contains("stopped by Ctrl-C before")
            && stderr.contains("every change was undone: the target is as it was"),
        "{stderr}"
    );
    // As it was before the restore: its own memory and reservation.
    let config = fx
        .seeder
        .lambda
        .get_function_configuration()
        .function_name(&name)
        .send()
        .await
        .expect("config");
    assert_eq!(config.memory_size, Some(512));
    let reserved = fx
        .seeder
        .lambda
        .get_function_concurrency()
        .function_name(&name)
        .send()
        .await
        .expect("concurrency")
        .reserved_concurrent_executions;
    assert_eq!(reserved, Some(3));
    // And recorded as a restore that did not complete.
    let audit = slow.run(&["audit", "--json"]).json();
    let ended = audit
        .as_array()
        .into_iter()
        .flatten()
        .find(|r| r["target"] == name.as_str() && r["action"] == "restore")
        .unwrap_or_else(|| panic!("{audit:#}"));
    assert!(
        ended["result"]
            .as_str()
            .is_some_and(|r| r.contains("stopped by Ctrl-C")),
        "{ended:#}"
    );
    // In words: stopped, and put back.
    let text = slow.run(&["audit"]);
    assert!(
        text.stdout
            .lines()
            .any(|l| l.contains(" restore ") && l.contains("stopped (Ctrl-C), undone")),
        "{}",
        text.stdout
    );
}

/// A restore over an existing function is confirmed by its typed name (`--yes` standing for
/// it): both its records say so, `typed` and `destructive`, as README's audit section promises;
/// one that makes a new function was a plain yes, and its records carry neither.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_restore_over_a_function_is_recorded_as_typed_and_destructive() {
    let fx = Fixture::new(HOME, "rtyped").await;
    let name = moto::unique("rtyped");
    fx.function(&name).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &name, &fx.to()));
    fx.seeder.reserve(&name, 3).await;
    lops.run(&["restore", &snapshot, "--yes"]).assert_exit(0);
    let copy = format!("{name}-copy");
    lops.run(&["restore", &snapshot, "--name", &copy, "--yes"])
        .assert_exit(0);
    let audit = lops.run(&["audit", "--json"]).json();
    let flags = |target: &str| -> Vec<(String, bool, bool)> {
        audit
            .as_array()
            .into_iter()
            .flatten()
            .filter(|r| r["target"] == target)
            .filter(|r| {
                r["action"]
                    .as_str()
                    .unwrap_or_default()
                    .starts_with("restore")
            })
            .map(|r| {
                (
                    r["action"].as_str().unwrap_or_default().to_string(),
                    r["typed"] == true,
                    r["destructive"] == true,
                )
            })
            .collect()
    };
    let mut over = flags(&name);
    over.sort();
    assert_eq!(
        over,
        [
            ("restore".to_string(), true, true),
            ("restore.begin".to_string(), true, true)
        ],
        "{audit:#}"
    );
    let mut new = flags(&copy);
    new.sort();
    assert_eq!(
        new,
        [
            ("restore".to_string(), false, false),
            ("restore.begin".to_string(), false, false)
        ],
        "{audit:#}"
    );
    // Again, over a function already as the snapshot has it: nothing changes, so nothing is
    // asked, no safety snapshot is taken and nothing is recorded (a restore that copies data
    // but changes no function is neither typed nor destructive: tests/it/backup_data.rs).
    let again = lops.run(&["restore", &snapshot, "--yes"]);
    again.assert_exit(0);
    assert!(
        !again.stderr.contains("safety snapshot") && again.stderr.contains("nothing to"),
        "{}",
        again.stderr
    );
    let audit = lops.run(&["audit", "--json"]).json();
    let records: Vec<&serde_json::Value> = audit
        .as_array()
        .into_iter()
        .flatten()
        .filter(|r| r["target"] == name.as_str() && r["action"] == "restore")
        .collect();
    assert_eq!(records.len(), 1, "{audit:#}");
    assert!(records[0]["destructive"] == true, "{audit:#}");
}

/// Two lops restoring one function on one machine take turns: the second compares with what
/// the first restored and is refused, not sent, rather than writing over it.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_restores_of_one_function_take_turns_and_the_second_is_refused() {
    let fx = Fixture::new(PROXIED, "rtwice").await;
    let name = moto::unique("rtwice");
    fx.function(&name).await;
    let snapshot = snapshot_of(&backup(&fx.lops(moto::url()), PROXIED, &name, &fx.to()));
    let proxy = fx.lost_with_slow_recreate(&name).await;
    let lops = fx.lops(&proxy.url);
    let first = lops.spawn(&["restore", &snapshot, "--yes"]);
    proxy.wait_for_call(PROXIED, "lambda", "CreateFunction", 60);
    // The second previews the function missing, as the first did, and waits its turn.
    let second = lops.spawn(&["restore", &snapshot, "--yes"]);
    let (code, stderr) = crate::support::cli::finish(first, 60);
    assert_eq!(code, 0, "{stderr}");
    let (code, stderr) = crate::support::cli::finish(second, 60);
    assert_eq!(code, 4, "{stderr}");
    assert!(stderr.contains("changed since the preview"), "{stderr}");
    assert_eq!(proxy.calls(PROXIED, "lambda", "CreateFunction"), 1);
}

/// Runs lops with `args`, sends it SIGINT once `began()` holds (within 60 s), and returns its
/// exit code and stderr.
pub(crate) fn interrupted(
    lops: &crate::support::cli::Lops,
    args: &[&str],
    began: impl Fn() -> bool,
) -> (i32, String) {
    let child = lops
        .command(args)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(60);
    while !began() {
        assert!(std::time::Instant::now() < deadline, "no restore began");
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    crate::support::cli::finish(child, 60)
}

/// A drill whose copy could not be deleted says so (not "then deleted"), and the next drill
/// deletes that copy first: it stayed, unmentioned, and was backed up as a function of its own.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_drill_copy_that_could_not_be_deleted_is_deleted_by_the_next_drill() {
    let fx = Fixture::new(HOME, "dundel").await;
    let name = moto::unique("dundel");
    fx.function(&name).await;
    let direct = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&direct, HOME, &name, &fx.to()));
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule::lambda(DR, "DeleteFunction", Fault::Status(500), None));
    let lops = fx.lops(&proxy.url);
    let args = [
        "backup",
        "drill",
        &snapshot,
        "--region",
        DR,
        "--yes",
        "--no-invoke",
    ];
    let first = lops.run(&args);
    first.assert_exit(3);
    assert!(!first.stderr.contains("then deleted"), "{}", first.stderr);
    assert!(
        first.stderr.contains("then not all deleted")
            && first
                .stderr
                .contains("a copy left is deleted by the next drill of this function"),
        "{}",
        first.stderr
    );
    let left = drill_copies(DR, &name).await;
    assert_eq!(left.len(), 1, "{left:?}");
    proxy.heal();
    let second = lops.run(&args);
    second.assert_exit(0);
    assert!(
        second.stderr.contains(&format!(
            "deleted {}, the copy an earlier drill left",
            left[0]
        )),
        "{}",
        second.stderr
    );
    assert!(drill_copies(DR, &name).await.is_empty());
}

/// A restore over a function that had less (no alias, URL, asynchronous invoke configuration,
/// permission or mapping), then its safety snapshot restored with `--exact`, as `undo` says to:
/// each removal is previewed, what the restore added goes, and the function is as it was; its
/// published versions stay, said. Without `--exact` all of it was left, and the queue went on
/// delivering to the code the restore brought.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_safety_snapshot_restored_exactly_removes_what_the_restore_added() {
    let fx = Fixture::new(HOME, "exact").await;
    let (rich, bare) = (moto::unique("rich"), moto::unique("bare"));
    fx.function(&rich).await;
    fx.queue_mapping(&rich).await;
    let lambda = &fx.seeder.lambda;
    iam_url(lambda, &rich).await;
    lambda
        .put_function_event_invoke_config()
        .function_name(&rich)
        .maximum_retry_attempts(0)
        .send()
        .await
        .expect("async config");
    s3_may_invoke(lambda, &rich).await;
    fx.plain_function(&bare).await;
    let before = state(lambda, &bare).await.expect("bare");
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, HOME, &rich, &fx.to()));
    lops.run(&["restore", &snapshot, "--name", &bare, "--no-data", "--yes"])
        .assert_exit(0);
    assert_eq!(mappings_of(lambda, &bare).await, 1);
    // Undo names the safety snapshot and `--exact`.
    let undo = lops.run(&["undo", "--yes"]);
    let said = undo.stderr.clone();
    let safety = safety_named(&said);
    assert!(said.contains(&format!("{safety} --exact")), "{said}");
    // Without --exact: left, said, pointing to --exact.
    let plain = lops.run(&["restore", &safety, "--dry-run"]);
    plain.assert_exit(0);
    assert!(
        plain.stderr.contains("left as it is (--exact removes it)"),
        "{}",
        plain.stderr
    );
    let preview = lops.run(&["restore", &safety, "--exact", "--dry-run"]);
    preview.assert_exit(0);
    for removal in [
        "remove alias live",
        "remove the function URL",
        "remove the asynchronous invoke configuration",
        "remove permission",
        "remove event source mapping",
        "published version(s) 1, 2",
    ] {
        assert!(
            preview.stderr.contains(removal),
            "{removal}: {}",
            preview.stderr
        );
    }
    lops.run(&["restore", &safety, "--exact", "--yes"])
        .assert_exit(0);
    assert_eq!(mappings_of(lambda, &bare).await, 0);
    let aliases = lambda
        .list_aliases()
        .function_name(&bare)
        .send()
        .await
        .expect("aliases");
    assert!(aliases.aliases().is_empty(), "{aliases:?}");
    assert!(
        lambda
            .get_function_url_config()
            .function_name(&bare)
            .send()
            .await
            .is_err()
    );
    assert!(
        lambda
            .get_function_event_invoke_config()
            .function_name(&bare)
            .send()
            .await
            .is_err()
    );
    let policy = lambda.get_policy().function_name(&bare).send().await;
    assert!(
        policy.as_ref().map_or(true, |p| !p
            .policy()
            .unwrap_or_default()
            .contains("s3invoke")),
        "{policy:?}"
    );
    // Its code and configuration as before (the versions the restore published stay).
    let after = state(lambda, &bare).await.expect("bare");
    assert_eq!(after.code_sha256(), before.code_sha256());
    // Run again: nothing to do.
    let again = lops.run(&["restore", &safety, "--exact", "--dry-run"]);
    again.assert_exit(0);
    assert!(!again.stderr.contains("remove "), "{}", again.stderr);
}

async fn mappings_of(lambda: &aws_sdk_lambda::Client, function: &str) -> usize {
    lambda
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
        .expect("mappings")
        .event_source_mappings()
        .len()
}

/// `--exact` fails at its last removal (DeleteAlias answers 500): every removal before it is
/// made again — the function URL created again (an update of the URL it removed found none,
/// and was taken as done), the mapping on the alias made on `function:alias` (it was asked of
/// a function named as the alias) — and the function is as it was before, said so.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_restore_that_fails_makes_again_what_it_removed() {
    let fx = Fixture::new(PROXIED, "exactfail").await;
    let (rich, bare) = (moto::unique("rich"), moto::unique("bare"));
    fx.function(&rich).await;
    let lambda = &fx.seeder.lambda;
    let queue = moto::create_queue(PROXIED, &format!("{rich}-jobs"));
    lambda
        .create_event_source_mapping()
        .function_name(format!("{rich}:live"))
        .event_source_arn(&queue)
        .batch_size(5)
        .send()
        .await
        .expect("mapping on the alias");
    iam_url(lambda, &rich).await;
    fx.plain_function(&bare).await;
    let lops = fx.lops(moto::url());
    let snapshot = snapshot_of(&backup(&lops, PROXIED, &rich, &fx.to()));
    let restored = lops.run(&["restore", &snapshot, "--name", &bare, "--no-data", "--yes"]);
    restored.assert_exit(0);
    // A qualified mapping (moto names the alias's version in its ARN, AWS the alias).
    let from_queue = || async {
        let all = lambda
            .list_event_source_mappings()
            .event_source_arn(&queue)
            .send()
            .await
            .expect("mappings");
        all.event_source_mappings()
            .iter()
            .filter_map(|m| m.function_arn())
            .filter(|arn| arn.contains(&format!(":{bare}:")))
            .count()
    };
    assert_eq!(from_queue().await, 1, "{}", restored.stderr);
    let undo = lops.run(&["undo", "--yes"]);
    let safety = safety_named(&undo.stderr);
    // Each run fails and undoes every step it did, said so.
    let exact_failing = |rules: Vec<Rule>| {
        let proxy = FaultProxy::start(moto::url());
        for rule in rules {
            proxy.add(rule);
        }
        let run = fx
            .lops(&proxy.url)
            .run(&["restore", &safety, "--exact", "--yes"]);
        run.assert_exit(1);
        assert!(
            run.stderr.contains("every change was undone"),
            "{}",
            run.stderr
        );
        run
    };
    let url_there = || async {
        let url = lambda.get_function_url_config().function_name(&bare);
        url.send().await.is_ok()
    };
    let run = exact_failing(vec![Rule::lambda(
        PROXIED,
        "DeleteAlias",
        Fault::Status(500),
        None,
    )]);
    // Made again as new, said so: never "as it was" over a mapping without its settings.
    assert!(
        run.stderr
            .contains("what --exact removed was made again as new")
            && run.stderr.contains("the event source mapping from")
            && run.stderr.contains("the function URL (made anew")
            && !run.stderr.contains("the target is as it was"),
        "{}",
        run.stderr
    );
    assert!(url_there().await, "the URL is made again");
    assert_eq!(
        from_queue().await,
        1,
        "the mapping on the alias is made again"
    );
    // The URL's removal lands but its answer is lost, and the retries are refused (500): it
    // is gone all the same, and made again with the rest (its undo was dropped with the
    // failed answer, and "as it was" said over a function without its URL).
    let lost = exact_failing(vec![
        Rule::lambda(
            PROXIED,
            "DeleteFunctionUrlConfig",
            Fault::LateAnswer(std::time::Duration::from_secs(5)),
            Some(1),
        ),
        Rule::lambda(PROXIED, "DeleteFunctionUrlConfig", Fault::Status(500), None),
    ]);
    assert!(
        url_there().await,
        "the URL removed unanswered is made again: {}",
        lost.stderr
    );
}

/// A snapshot whose mappings and policy could not be read (ListEventSourceMappings and
/// GetPolicy denied while it was taken) is not one of a function without them: `--exact`
/// removes neither the target's mapping nor its permission, and says the snapshot could not
/// read them (the queue stopped delivering, and the permission went, as "not in the snapshot").
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_exact_restore_removes_nothing_the_snapshot_could_not_read() {
    let fx = Fixture::new(PROXIED, "exactunread").await;
    let rich = moto::unique("unread");
    fx.function(&rich).await;
    fx.queue_mapping(&rich).await;
    let lambda = &fx.seeder.lambda;
    s3_may_invoke(lambda, &rich).await;
    let proxy = FaultProxy::start(moto::url());
    for op in ["ListEventSourceMappings", "GetPolicy"] {
        let denied = Fault::Code(403, "AccessDeniedException");
        proxy.add(Rule::lambda(PROXIED, op, denied, None));
    }
    let snapshot = snapshot_of(&backup(&fx.lops(&proxy.url), PROXIED, &rich, &fx.to()));
    let lops = fx.lops(moto::url());
    let preview = lops.run(&["restore", &snapshot, "--exact", "--no-data", "--dry-run"]);
    preview.assert_exit(0);
    let said = &preview.stderr;
    assert!(
        !said.contains("remove event source mapping")
            && !said.contains("remove permission")
            && said.contains("could not read the function's event source mappings")
            && said.contains("policy (could not be read"),
        "{said}"
    );
    lops.run(&["restore", &snapshot, "--exact", "--no-data", "--yes"])
        .assert_exit(0);
    assert_eq!(mappings_of(lambda, &rich).await, 1);
    let policy = lambda.get_policy().function_name(&rich).send().await;
    assert!(
        policy
            .as_ref()
            .is_ok_and(|p| p.policy().unwrap_or_default().contains("s3invoke")),
        "{policy:?}"
    );
}

/// A permission (`s3invoke`) for S3 to invoke `function`.
async fn s3_may_invoke(lambda: &aws_sdk_lambda::Client, function: &str) {
    lambda
        .add_permission()
        .function_name(function)
        .statement_id("s3invoke")
        .action("lambda:InvokeFunction")
        .principal("s3.amazonaws.com")
        .send()
        .await
        .expect("permission");
}

/// A function URL with IAM auth on `function`.
async fn iam_url(lambda: &aws_sdk_lambda::Client, function: &str) {
    lambda
        .create_function_url_config()
        .function_name(function)
        .auth_type(aws_sdk_lambda::types::FunctionUrlAuthType::AwsIam)
        .send()
        .await
        .expect("url");
}

/// The safety snapshot `lops undo` names in `said` (after a restore).
fn safety_named(said: &str) -> String {
    said.split_whitespace()
        .find(|w| w.contains("-safety.json"))
        .map(|w| w.trim_matches('`').to_string())
        .unwrap_or_else(|| panic!("{said}"))
}
