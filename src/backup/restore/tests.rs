//! The restore's difference against targets in every state.

use super::difference::*;
use super::*;
use crate::backup::manifest::{BlobRef, FORMAT};

fn version(n: &str, env: &str, sha: &str) -> VersionSnapshot {
    VersionSnapshot {
        version: n.into(),
        config: FunctionConfig {
            role: "arn:aws:iam::1:role/r".into(),
            memory_size: Some(256),
            environment: [("RELEASE".to_string(), env.to_string())].into(),
            ..Default::default()
        },
        code: Code::Zip {
            sha256: "a".repeat(64),
            size: 10,
            lambda_sha256: sha.into(),
        },
    }
}

/// An enabled mapping from `source` with AWS's defaults.
fn enabled_mapping(source: &str) -> crate::backup::manifest::EventSourceMapping {
    crate::backup::manifest::EventSourceMapping {
        uuid: "u".into(),
        source_arn: Some(source.into()),
        state: Some("Enabled".into()),
        batch_size: None,
        starting_position: None,
        maximum_batching_window: None,
        qualifier: None,
    }
}

fn manifest() -> Manifest {
    Manifest {
        format: FORMAT.into(),
        function: "orders".into(),
        region: "eu-west-1".into(),
        account: "1".into(),
        taken_at: String::new(),
        lops_version: String::new(),
        storage_class: "STANDARD".into(),
        blobs: vec![BlobRef {
            sha256: "a".repeat(64),
            size: 10,
            role: "code".into(),
        }],
        latest: version("$LATEST", "two", "X"),
        versions: vec![version("1", "one", "X"), version("2", "two", "X")],
        aliases: vec![AliasSnapshot {
            name: "live".into(),
            function_version: "1".into(),
            description: None,
            weights: [("2".to_string(), 0.2)].into(),
        }],
        reserved_concurrency: Some(7),
        tags: [("team".to_string(), "payments".to_string())].into(),
        provisioned_concurrency: None,
        event_source_mappings: None,
        function_url: None,
        policy: None,
        async_invoke: None,
        layers: vec![],
        absent: BTreeMap::new(),
        data: vec![],
    }
}

#[test]
fn a_new_function_is_created_versions_republished_then_the_rest() {
    let p = difference(&manifest(), None, "orders", "eu-west-1", None, false);
    let kinds: Vec<String> = p.steps.iter().map(|s| s.describe()).collect();
    assert!(matches!(p.steps[0], Step::Create { .. }), "{kinds:?}");
    assert!(
        matches!(p.steps[1], Step::Publish { ref of } if of == "1"),
        "{kinds:?}"
    );
    assert!(matches!(p.steps[2], Step::UpdateConfig { .. }), "{kinds:?}");
    assert!(
        matches!(p.steps[3], Step::Publish { ref of } if of == "2"),
        "{kinds:?}"
    );
    assert!(
        matches!(p.steps[4], Step::Alias { create: true, .. }),
        "{kinds:?}"
    );
    assert!(
        matches!(p.steps[5], Step::Reserve { value: Some(7), .. }),
        "{kinds:?}"
    );
    assert!(matches!(p.steps[6], Step::Tags { .. }), "{kinds:?}");
    assert_eq!(p.steps.len(), 7, "{kinds:?}");
}

/// A target that holds exactly what `manifest()` holds.
fn matching(m: &Manifest) -> Current {
    Current {
        latest: Some((m.latest.config.clone(), "X".into())),
        versions: vec![
            ("1".into(), m.versions[0].config.clone(), "X".into()),
            ("2".into(), m.versions[1].config.clone(), "X".into()),
        ],
        aliases: m.aliases.clone(),
        reserved: Some(7),
        tags: m.tags.clone(),
        ..Default::default()
    }
}

#[test]
fn a_preview_says_what_the_target_has_now_and_nothing_empty() {
    let mut m = manifest();
    m.async_invoke = Some(serde_json::json!({"maximum_retry_attempts": null}));
    let mut current = Current {
        arn: "arn".into(),
        reserved: None,
        ..matching(&m)
    };
    current.aliases[0].function_version = "2".into();
    current.aliases[0].weights.clear();
    current.tags.insert("extra".into(), "1".into());
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    let said: Vec<String> = p.steps.iter().map(Step::describe).collect();
    let has = |text: &str| said.iter().any(|s| s.contains(text));
    assert!(
        has("update alias live (v2 100% now) → the snapshot's v1 + v2 20%"),
        "{said:?}"
    );
    assert!(
        has("no reserved concurrency → reserved concurrency 7"),
        "{said:?}"
    );
    assert!(
        said.iter()
            .all(|s| !s.contains("null") && !s.contains("set ;")),
        "{said:?}"
    );
    assert!(has("the default 2 retries"), "{said:?}");
}

#[test]
fn a_target_that_matches_needs_nothing() {
    let m = manifest();
    let current = Current {
        arn: "arn".into(),
        ..matching(&m)
    };
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    // A URL that differs only by its address (each region's own) is the same URL.
    let mut with_url = m.clone();
    with_url.function_url = Some(
        serde_json::json!({"url": "https://a.lambda-url.us-east-1.on.aws/", "auth_type": "NONE", "cors": null, "invoke_mode": null}),
    );
    let mut here = current.clone();
    here.url = Some(
        serde_json::json!({"url": "https://b.lambda-url.eu-west-1.on.aws/", "auth_type": "NONE", "cors": null, "invoke_mode": null}),
    );
    assert!(
        difference(&with_url, Some(&here), "orders", "eu-west-1", None, false)
            .steps
            .is_empty()
    );
    here.url = None;
    let p = difference(&with_url, Some(&here), "orders", "eu-west-1", None, false);
    assert!(
        matches!(p.steps[..], [Step::Url { create: true, .. }]),
        "{:?}",
        p.steps
    );
    assert_eq!(p.matched.get("2").map(String::as_str), Some("2"));
    // A role override makes every version differ.
    let p = difference(
        &m,
        Some(&current),
        "orders",
        "eu-west-1",
        Some("arn:aws:iam::2:role/dr"),
        false,
    );
    assert!(p.steps.iter().any(|s| matches!(s, Step::Publish { .. })));
}

/// AWS's own tags (a stack's) are neither set nor removed by a restore — TagResource refuses
/// the prefix, and the restore failed at that step — and are named in a note when missing.
#[test]
fn aws_own_tags_are_left_to_aws() {
    let mut m = manifest();
    m.tags
        .insert("aws:cloudformation:stack-name".into(), "orders".into());
    let mut current = Current {
        arn: "arn".into(),
        ..matching(&m)
    };
    current.tags.remove("aws:cloudformation:stack-name");
    current
        .tags
        .insert("aws:cloudformation:logical-id".into(), "Fn".into());
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert!(
        !p.steps.iter().any(|s| matches!(s, Step::Tags { .. })),
        "{:?}",
        p.steps
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("aws:cloudformation:stack-name is AWS's own")),
        "{:?}",
        p.notes
    );
}

/// The manifest with one layer (stored or not) on every configuration.
fn layered(stored: bool) -> (Manifest, String) {
    let mut m = manifest();
    let arn = "arn:aws:lambda:eu-west-1:1:layer:deps:3".to_string();
    for v in std::iter::once(&mut m.latest).chain(m.versions.iter_mut()) {
        v.config.layers = vec![arn.clone()];
    }
    m.layers = vec![crate::backup::manifest::LayerRef {
        arn: arn.clone(),
        code_size: 10,
        blob: stored.then(|| "b".repeat(64)),
        compatible_runtimes: vec!["python3.12".into()],
    }];
    (m, arn)
}

#[test]
fn layers_are_used_where_they_are_usable_published_where_stored_else_refused() {
    let (m, arn) = layered(true);
    // Its own region and account: used as it is.
    let p = difference(&m, None, "orders", "eu-west-1", None, false);
    assert_eq!(p.layers.get(&arn), Some(&arn));
    assert!(!p.steps.iter().any(|s| matches!(s, Step::Layer { .. })));
    // Another region: published first, from the stored content.
    let p = difference(&m, None, "orders", "us-west-2", None, false);
    assert!(
        matches!(&p.steps[0], Step::Layer { arn: a, blob, .. } if a == &arn && blob == &"b".repeat(64)),
        "{:?}",
        p.steps
    );
    assert_eq!(
        p.steps
            .iter()
            .filter(|s| matches!(s, Step::Layer { .. }))
            .count(),
        1
    );
    assert!(p.refused.is_empty());
    // The same region in another account (the role given is there): its own copy is needed.
    let p = difference(
        &m,
        None,
        "orders",
        "eu-west-1",
        Some("arn:aws:iam::2:role/r"),
        false,
    );
    assert!(matches!(&p.steps[0], Step::Layer { .. }), "{:?}", p.steps);
    // Not stored: refused, naming the layer and the way out.
    let (bare, arn) = layered(false);
    let p = difference(&bare, None, "orders", "us-west-2", None, false);
    assert_eq!(p.refused.len(), 1);
    assert!(p.refused[0].contains(&arn) && p.refused[0].contains("--with-layers"));
    // A third party's layer in the target region stays usable in another account.
    let mut public = bare.clone();
    let shared = "arn:aws:lambda:eu-west-1:999:layer:insights:38".to_string();
    public.latest.config.layers = vec![shared.clone()];
    for v in public.versions.iter_mut() {
        v.config.layers = vec![shared.clone()];
    }
    let p = difference(
        &public,
        None,
        "orders",
        "eu-west-1",
        Some("arn:aws:iam::2:role/r"),
        false,
    );
    assert!(p.refused.is_empty(), "{:?}", p.refused);
}

#[test]
fn a_copy_the_target_already_uses_is_not_published_again() {
    let (m, arn) = layered(true);
    let copy = "arn:aws:lambda:us-west-2:1:layer:deps:1".to_string();
    let mut config = m.latest.config.clone();
    config.layers = vec![copy.clone()];
    let versions = ["1", "2"]
        .iter()
        .zip(&m.versions)
        .map(|(n, v)| {
            let mut c = v.config.clone();
            c.layers = vec![copy.clone()];
            (n.to_string(), c, "X".to_string())
        })
        .collect();
    // Lambda's hash of the content the snapshot stored (hex "bb…" as base64).
    let lambda_sha = {
        use base64::Engine;
        base64::engine::general_purpose::STANDARD.encode([0xbb_u8; 32])
    };
    let current = Current {
        latest: Some((config, "X".into())),
        versions,
        aliases: m.aliases.clone(),
        reserved: Some(7),
        tags: m.tags.clone(),
        arn: "arn:aws:lambda:us-west-2:1:function:orders".into(),
        layers: [(copy.clone(), lambda_sha)].into(),
        ..Default::default()
    };
    let p = difference(&m, Some(&current), "orders", "us-west-2", None, false);
    assert_eq!(p.layers.get(&arn), Some(&copy));
    assert!(p.steps.is_empty(), "{:?}", p.steps);
}

#[test]
fn provisioned_concurrency_follows_the_alias_and_stops_when_it_is_there() {
    let mut m = manifest();
    m.provisioned_concurrency = Some(vec![crate::backup::manifest::Provisioned {
        qualifier: "live".into(),
        requested: 5,
    }]);
    let p = difference(&m, None, "orders", "us-west-2", None, false);
    let at = |p: &Difference, f: fn(&Step) -> bool| p.steps.iter().position(f);
    let provisioned = at(&p, |s| matches!(s, Step::Provisioned { .. })).expect("a step");
    // After the alias it is set on and the reservation it must fit in.
    assert!(provisioned > at(&p, |s| matches!(s, Step::Alias { .. })).unwrap_or(usize::MAX));
    assert!(provisioned > at(&p, |s| matches!(s, Step::Reserve { .. })).unwrap_or(usize::MAX));
    assert!(p.notes.iter().all(|n| !n.contains("provisioned")));
    let current = Current {
        provisioned: [("live".to_string(), 5)].into(),
        ..matching(&m)
    };
    assert!(
        difference(&m, Some(&current), "orders", "us-west-2", None, false)
            .steps
            .is_empty()
    );
    let mut less = current.clone();
    less.provisioned = [("live".to_string(), 2)].into();
    let p = difference(&m, Some(&less), "orders", "us-west-2", None, false);
    assert_eq!(
        p.steps,
        vec![Step::Provisioned {
            qualifier: "live".into(),
            requested: 5,
            replaces: Some(2)
        }]
    );
}

#[test]
fn versions_alike_in_the_snapshot_share_the_targets_version_and_a_rerun_finds_nothing() {
    let mut m = manifest();
    // v2 was published with nothing changed since v1: Lambda gave the same code and settings.
    m.versions = vec![version("1", "one", "X"), version("2", "one", "X")];
    m.latest = version("$LATEST", "one", "X");
    m.aliases[0].weights = [("2".to_string(), 0.2)].into();
    let current = Current {
        latest: Some((m.latest.config.clone(), "X".into())),
        versions: vec![("1".into(), m.versions[0].config.clone(), "X".into())],
        aliases: vec![AliasSnapshot {
            name: "live".into(),
            function_version: "1".into(),
            description: None,
            weights: [("1".to_string(), 0.2)].into(),
        }],
        reserved: Some(7),
        tags: m.tags.clone(),
        ..Default::default()
    };
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert_eq!(p.matched.get("2").map(String::as_str), Some("1"));
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert!(p.existing_versions.contains("1"));
}

#[test]
fn a_mapping_keeps_its_alias_and_batching_window() {
    let mut m = manifest();
    m.event_source_mappings = Some(vec![crate::backup::manifest::EventSourceMapping {
        batch_size: Some(10),
        maximum_batching_window: Some(5),
        qualifier: Some("live".into()),
        ..enabled_mapping("arn:aws:sqs:eu-west-1:1:jobs")
    }]);
    let p = difference(&m, None, "orders", "eu-west-1", None, false);
    let mapping = p
        .steps
        .iter()
        .find(|s| matches!(s, Step::Mapping { .. }))
        .expect("a mapping");
    assert!(
        matches!(mapping, Step::Mapping { qualifier: Some(q), batching_window: Some(5), .. } if q == "live"),
        "{mapping:?}"
    );
    assert!(mapping.describe().contains("to live"));
}

#[test]
fn another_account_reads_no_source_of_the_snapshots_and_needs_its_own_role() {
    let mut m = manifest();
    m.event_source_mappings = Some(vec![crate::backup::manifest::EventSourceMapping {
        batch_size: Some(10),
        ..enabled_mapping("arn:aws:sqs:eu-west-1:1:jobs")
    }]);
    m.async_invoke = Some(serde_json::json!({
        "destination_config": {"on_failure": {"destination": "arn:aws:sqs:eu-west-1:1:dlq"}}
    }));
    let target = |role, map_sources| Target {
        function: "orders",
        region: "eu-west-1",
        account: Some("2"),
        role,
        map_sources,
        exact: false,
    };
    // Same region, account 2: the mapping would read account 1's queue, enabled.
    let p = difference_among(&m, None, &BTreeMap::new(), &target(None, false));
    assert!(
        !p.steps.iter().any(|s| matches!(s, Step::Mapping { .. })),
        "{:?}",
        p.steps
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("not restored") && n.contains("account 1")),
        "{:?}",
        p.notes
    );
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("arn:aws:sqs:eu-west-1:1:dlq")),
        "{:?}",
        p.notes
    );
    // The snapshot's role is account 1's: refused before anything is written.
    assert!(
        p.refused.iter().any(|r| r.contains("--role")),
        "{:?}",
        p.refused
    );
    // With a role of its own, and sources mapped: the same queue name in account 2.
    let p = difference_among(
        &m,
        None,
        &BTreeMap::new(),
        &target(Some("arn:aws:iam::2:role/r"), true),
    );
    assert!(p.refused.is_empty(), "{:?}", p.refused);
    assert!(
        p.steps
            .iter()
            .any(|s| matches!(s, Step::Mapping { source_arn, .. }
            if source_arn == "arn:aws:sqs:eu-west-1:2:jobs")),
        "{:?}",
        p.steps
    );
}

#[test]
fn a_third_accounts_source_and_an_alias_statement_of_a_known_id_come_back_as_they_were() {
    let mut m = manifest();
    m.event_source_mappings = Some(vec![enabled_mapping("arn:aws:sqs:eu-west-1:3:shared")]);
    let statement = |resource: &str| {
        serde_json::json!({"Sid": "apigw", "Effect": "Allow",
            "Principal": {"Service": "apigateway.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": resource})
    };
    m.policy = Some(
        serde_json::json!({"Statement": [
            statement("arn:aws:lambda:eu-west-1:1:function:orders"),
            statement("arn:aws:lambda:eu-west-1:1:function:orders:live"),
        ]})
        .to_string(),
    );
    for account in ["1", "2"] {
        let target = Target {
            function: "orders",
            region: "eu-west-1",
            account: Some(account),
            role: Some("arn:aws:iam::2:role/r"),
            map_sources: false,
            exact: false,
        };
        let p = difference_among(&m, None, &BTreeMap::new(), &target);
        assert!(
            p.steps
                .iter()
                .any(|s| matches!(s, Step::Mapping { source_arn, .. }
                if source_arn == "arn:aws:sqs:eu-west-1:3:shared")),
            "{account}: {:?}",
            p.steps
        );
    }
    // The target has the function's `apigw` only: the alias's comes back, not skipped as one
    // it holds already.
    let (permissions, _) = super::policy::parse(m.policy.as_deref().unwrap_or_default());
    let current = Current {
        arn: "arn".into(),
        permissions: vec![permissions[0].clone()],
        statement_ids: [("apigw".to_string(), None)].into(),
        ..matching(&m)
    };
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert!(
        p.steps
            .iter()
            .any(|s| matches!(s, Step::Permission { permission, .. }
            if permission.qualifier.as_deref() == Some("live"))),
        "{:?}",
        p.steps
    );
}

#[test]
fn what_the_target_has_beyond_the_snapshot_is_named() {
    let m = manifest();
    let extra = "arn:aws:sqs:eu-west-1:1:extra";
    let current = Current {
        url: Some(serde_json::json!({"auth_type": "NONE"})),
        provisioned: [("live".to_string(), 3)].into(),
        mapping_sources: [extra.to_string()].into(),
        mappings: vec![enabled_mapping(extra)],
        ..matching(&m)
    };
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    let note = p
        .notes
        .iter()
        .find(|n| n.contains("left as it is"))
        .expect("a note");
    assert!(
        note.contains("function URL") && note.contains("provisioned concurrency on live"),
        "{note}"
    );
    // A mapping the snapshot has not goes on delivering its source's messages: named.
    assert!(
        note.contains(&format!("event source mapping from {extra} (Enabled")),
        "{note}"
    );
}

#[test]
fn another_architecture_goes_with_the_code() {
    let mut m = manifest();
    m.versions.clear();
    m.aliases.clear();
    m.latest.config.architectures = vec!["arm64".into()];
    let mut here = m.latest.config.clone();
    here.architectures = vec!["x86_64".into()];
    let current = Current {
        latest: Some((here, "X".into())),
        reserved: Some(7),
        tags: m.tags.clone(),
        ..Default::default()
    };
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert_eq!(
        p.steps,
        vec![Step::UpdateCode {
            code: m.latest.code.clone(),
            architectures: vec!["arm64".into()],
        }]
    );
}

#[test]
fn a_target_statement_lops_cannot_write_back_is_never_replaced() {
    let mut m = manifest();
    m.policy = Some(
        r#"{"Statement":[{"Sid":"s3","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},
            "Action":"lambda:InvokeFunction"}]}"#
            .into(),
    );
    let current = Current {
        // Its "s3" statement has a condition AddPermission cannot write: not among permissions.
        statement_ids: [("s3".to_string(), None)].into(),
        ..matching(&m)
    };
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert!(p.notes.iter().any(|n| n.contains("'s3'")), "{:?}", p.notes);
}

#[test]
fn only_the_version_right_before_can_be_a_twin() {
    let mut m = manifest();
    // v3 is like v1, but v2 came between: Lambda published it as a version of its own.
    m.versions = vec![
        version("1", "one", "X"),
        version("2", "two", "X"),
        version("3", "one", "X"),
    ];
    m.aliases.clear();
    let current = Current {
        latest: Some((m.latest.config.clone(), "X".into())),
        versions: vec![
            ("1".into(), m.versions[0].config.clone(), "X".into()),
            ("2".into(), m.versions[1].config.clone(), "X".into()),
        ],
        reserved: Some(7),
        tags: m.tags.clone(),
        ..Default::default()
    };
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert!(
        p.steps.contains(&Step::Publish { of: "3".into() }),
        "{:?}",
        p.steps
    );
}

#[test]
fn a_mapping_on_a_version_the_snapshot_has_not_is_unroutable() {
    let mut m = manifest();
    m.event_source_mappings = Some(vec![crate::backup::manifest::EventSourceMapping {
        qualifier: Some("9".into()),
        ..enabled_mapping("arn:aws:sqs:eu-west-1:1:jobs")
    }]);
    let p = difference(&m, None, "orders", "eu-west-1", None, false);
    let missing = p.unroutable(&m);
    assert_eq!(missing.len(), 1, "{missing:?}");
    assert!(missing[0].contains("invokes version 9"));
}

#[test]
fn what_a_first_format_snapshot_does_not_record_is_left_as_the_target_has_it() {
    let m = manifest();
    // The target logs as JSON to a shared group and mounts EFS, in every version.
    let mut current = matching(&m);
    let logging = |c: &mut FunctionConfig| {
        c.log_group = Some("/shared/orders".into());
        c.log_format = Some("JSON".into());
        c.file_systems = vec![crate::provider::function::FileSystem {
            arn: "arn:aws:elasticfilesystem:eu-west-1:1:access-point/fsap-1".into(),
            local_mount_path: "/mnt/orders".into(),
        }];
    };
    if let Some((c, _)) = current.latest.as_mut() {
        logging(c);
    }
    for (_, c, _) in current.versions.iter_mut() {
        logging(c);
    }
    // A snapshot of this format records them: taking them away is a change.
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert!(
        p.steps
            .iter()
            .any(|s| matches!(s, Step::UpdateConfig { changes, .. }
            if changes.iter().any(|c| c.starts_with("log_group")))),
        "{:?}",
        p.steps
    );
    // One of the first format says nothing of them: nothing to do, and said.
    let old = Manifest {
        format: crate::backup::manifest::FORMAT_1.into(),
        ..m.clone()
    };
    let p = difference(&old, Some(&current), "orders", "eu-west-1", None, false);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("taken before lops recorded logging"))
    );
    // And a first-format manifest is still read.
    assert!(Manifest::from_json(&old.to_json()).is_ok());
}

#[test]
fn an_efs_mount_from_another_region_or_account_is_refused_first() {
    let mut m = manifest();
    m.latest.config.file_systems = vec![crate::provider::function::FileSystem {
        arn: "arn:aws:elasticfilesystem:eu-west-1:1:access-point/fsap-1".into(),
        local_mount_path: "/mnt/orders".into(),
    }];
    // Its own region and account: mounted.
    let here = difference(&m, None, "orders", "eu-west-1", None, false);
    assert!(here.refused.is_empty(), "{:?}", here.refused);
    // Another region: refused before anything changes, naming the access point.
    let there = difference(&m, None, "orders", "us-west-2", None, false);
    assert_eq!(there.refused.len(), 1, "{:?}", there.refused);
    assert!(there.refused[0].contains("fsap-1") && there.refused[0].contains("us-west-2"));
    // Another account (the role given for it): refused too.
    let role = "arn:aws:iam::2:role/r";
    let other = difference(&m, None, "orders", "eu-west-1", Some(role), false);
    assert_eq!(other.refused.len(), 1, "{:?}", other.refused);
}

#[test]
fn a_recorded_group_that_is_the_targets_own_default_is_no_setting() {
    // orders-v2 logged to /aws/lambda/orders (its own choice); restored as orders, that group
    // is the default Lambda reads back as none.
    let mut m = manifest();
    m.function = "orders-v2".into();
    for v in std::iter::once(&mut m.latest).chain(m.versions.iter_mut()) {
        v.config.log_group = Some("/aws/lambda/orders".into());
    }
    let current = Current {
        arn: "arn".into(),
        ..matching(&manifest())
    };
    let p = difference(&m, Some(&current), "orders", "eu-west-1", None, false);
    assert!(p.steps.is_empty(), "{:?}", p.steps);
}

/// Subnets and security groups exist in their own region and account: restored elsewhere the
/// function comes back without them, said in a note (sent as they were, the restore would fail
/// half-way on AWS); at home they are kept.
#[test]
fn a_vpc_from_another_region_or_account_is_left_out_and_said() {
    let mut m = manifest();
    for v in std::iter::once(&mut m.latest).chain(m.versions.iter_mut()) {
        v.config.subnet_ids = vec!["subnet-1".into()];
        v.config.security_group_ids = vec!["sg-1".into()];
    }
    for (region, account, foreign) in [
        ("eu-west-1", "1", false),
        ("us-west-2", "1", true),
        ("eu-west-1", "2", true),
    ] {
        let target = Target {
            function: "orders",
            region,
            account: Some(account),
            role: Some("arn:aws:iam::2:role/r"),
            map_sources: false,
            exact: false,
        };
        let p = difference_among(&m, None, &BTreeMap::new(), &target);
        let created = p.steps.iter().find_map(|s| match s {
            Step::Create { config, .. } => Some(config.subnet_ids.clone()),
            _ => None,
        });
        let noted = p.notes.iter().any(|n| n.contains("without a VPC"));
        assert_eq!(
            (created, noted),
            (
                Some(if foreign {
                    vec![]
                } else {
                    vec!["subnet-1".to_string()]
                }),
                foreign
            ),
            "{region} {account}: {:?}",
            p.notes
        );
    }
    // Run again after the operator attached that region's VPC: it is left as it is.
    let target = Target {
        function: "orders",
        region: "us-west-2",
        account: Some("1"),
        role: Some("arn:aws:iam::2:role/r"),
        map_sources: false,
        exact: false,
    };
    let mut current = matching(&m);
    for config in std::iter::once(current.latest.as_mut().map(|(c, _)| c))
        .flatten()
        .chain(current.versions.iter_mut().map(|(_, c, _)| c))
    {
        config.subnet_ids = vec!["subnet-here".into()];
        config.security_group_ids = vec!["sg-here".into()];
    }
    let p = difference_among(&m, Some(&current), &BTreeMap::new(), &target);
    assert!(
        !p.steps.iter().any(|s| s.describe().contains("subnet")),
        "{:?}",
        p.steps
    );
}

/// A mapping the target has from the snapshot's source, changed since (batch size, disabled),
/// is left as it is and named with what differs; one as in the snapshot is not mentioned.
#[test]
fn a_mapping_changed_since_the_snapshot_is_named_with_what_differs() {
    let mut m = manifest();
    let source = "arn:aws:sqs:eu-west-1:1:jobs";
    m.event_source_mappings = Some(vec![crate::backup::manifest::EventSourceMapping {
        batch_size: Some(9),
        ..enabled_mapping(source)
    }]);
    let target = Target {
        function: "orders",
        region: "eu-west-1",
        account: Some("1"),
        role: None,
        map_sources: false,
        exact: false,
    };
    let mut current = matching(&m);
    current.mapping_sources = [source.to_string()].into();
    current.mappings = vec![crate::backup::manifest::EventSourceMapping {
        batch_size: Some(3),
        state: Some("Disabled".into()),
        ..enabled_mapping(source)
    }];
    let p = difference_among(&m, Some(&current), &BTreeMap::new(), &target);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains("batch size 3 (snapshot 9)")
                && n.contains("disabled (snapshot enabled)")),
        "{:?}",
        p.notes
    );
    // Restored into another region with --map-sources: the same queue there, mapped with
    // other settings, is named too (it was passed over as "as in the snapshot").
    let here = "arn:aws:sqs:us-west-2:1:jobs";
    let mut there = current.clone();
    there.mapping_sources = [here.to_string()].into();
    there.mappings[0].source_arn = Some(here.into());
    let mapped = Target {
        region: "us-west-2",
        map_sources: true,
        ..target
    };
    let p = difference_among(&m, Some(&there), &BTreeMap::new(), &mapped);
    assert!(
        p.notes
            .iter()
            .any(|n| n.contains(&format!("from {here} is batch size 3 (snapshot 9)"))),
        "{:?}",
        p.notes
    );
    current.mappings[0] = m.event_source_mappings.clone().unwrap_or_default()[0].clone();
    let p = difference_among(&m, Some(&current), &BTreeMap::new(), &target);
    assert!(
        !p.notes.iter().any(|n| n.contains("event source mapping")),
        "{:?}",
        p.notes
    );
}

#[test]
fn each_eventbridge_grant_is_named_as_what_it_lets_in() {
    let mut m = manifest();
    let statement = |sid: &str, resource: &str, source: Option<&str>| {
        let mut s = serde_json::json!({"Sid": sid, "Effect": "Allow",
            "Principal": {"Service": "events.amazonaws.com"},
            "Action": "lambda:InvokeFunction", "Resource": resource});
        if let Some(arn) = source {
            s["Condition"] = serde_json::json!({"ArnLike": {"AWS:SourceArn": arn}});
        }
        s
    };
    m.policy = Some(
        serde_json::json!({"Statement": [
            statement("any", "arn:aws:lambda:eu-west-1:1:function:orders", None),
            statement("wild", "arn:aws:lambda:eu-west-1:1:function:orders",
                Some("arn:aws:events:eu-west-1:1:rule/orders-*")),
            statement("theirs", "arn:aws:lambda:eu-west-1:1:function:orders",
                Some("arn:aws:events:eu-west-1:9:rule/theirs")),
            statement("live", "arn:aws:lambda:eu-west-1:1:function:orders:live",
                Some("arn:aws:events:eu-west-1:1:rule/nightly")),
        ]})
        .to_string(),
    );
    let p = difference(&m, None, "orders", "eu-west-1", None, false);
    let said = p
        .outside
        .iter()
        .map(|o| o.note.as_str())
        .collect::<Vec<_>>()
        .join("\n");
    // Whole for a script too: the rule (none: any) and whose target it was.
    assert!(
        p.outside
            .iter()
            .any(|o| o.rule.is_none() && o.target == "orders"),
        "{:?}",
        p.outside
    );
    assert!(
        p.outside.iter().any(|o| o.target == "orders:live"
            && o.rule.as_deref() == Some("arn:aws:events:eu-west-1:1:rule/nightly")),
        "{:?}",
        p.outside
    );
    for want in [
        "lets any EventBridge rule (the statement names none) invoke orders,",
        "lets the EventBridge rules matching arn:aws:events:eu-west-1:1:rule/orders-* invoke",
        "lets EventBridge rule arn:aws:events:eu-west-1:9:rule/theirs, of another account",
        "lets EventBridge rule arn:aws:events:eu-west-1:1:rule/nightly invoke orders:live",
    ] {
        assert!(said.contains(want), "{want}: {said}");
    }
}

/// Environment variables often hold secrets: a configuration change names the variables it
/// sets, changes and removes, never their values (the preview lands in logs).
#[test]
fn an_environment_change_names_variables_never_their_values() {
    let mut now = version("1", "old-secret", "x").config;
    now.environment.insert("GONE".into(), "g-value".into());
    let mut then = version("1", "new-secret", "x").config;
    then.environment.insert("TOKEN".into(), "t-value".into());
    let said = then.differences(&now).join("; ");
    assert_eq!(
        said,
        "environment: set TOKEN; changed RELEASE; removed GONE (values not shown)"
    );
    for secret in ["old-secret", "new-secret", "g-value", "t-value"] {
        assert!(!said.contains(secret), "{said}");
    }
}

/// `--exact`: what the target has beyond the snapshot is removed before the concurrency steps
/// (provisioned concurrency on an alias that goes must be gone before the snapshot's fits
/// under its reservation), what is on an alias before the alias, and a mapping on an alias
/// that goes, from a source the snapshot maps, is made again as the snapshot has it, after.
/// Without `--exact`, all of it is left and said.
#[test]
fn an_exact_restore_removes_first_what_the_snapshot_has_not() {
    let queue = "arn:aws:sqs:eu-west-1:1:jobs";
    let mut m = manifest();
    m.reserved_concurrency = Some(50);
    m.provisioned_concurrency = Some(vec![crate::backup::manifest::Provisioned {
        qualifier: "live".into(),
        requested: 30,
    }]);
    m.event_source_mappings = Some(vec![enabled_mapping(queue)]);
    let mut current = matching(&m);
    current.reserved = Some(100);
    current.aliases.push(AliasSnapshot {
        name: "canary".into(),
        function_version: "2".into(),
        description: None,
        weights: BTreeMap::new(),
    });
    current.provisioned = [("canary".to_string(), 40)].into();
    current.mappings = vec![crate::provider::function::EventSourceMapping {
        uuid: "m-canary".into(),
        qualifier: Some("canary".into()),
        ..enabled_mapping(queue)
    }];
    current.mapping_sources = [queue.to_string()].into();
    let exact = Target {
        function: "orders",
        region: "eu-west-1",
        exact: true,
        ..Default::default()
    };
    let p = difference_among(&m, Some(&current), &BTreeMap::new(), &exact);
    let at = |f: &dyn Fn(&Step) -> bool| p.steps.iter().position(f);
    let removed = |what: &dyn Fn(&Removal) -> bool| {
        at(&|s| matches!(s, Step::Remove(r) if what(r))).unwrap_or_else(|| panic!("{:#?}", p.steps))
    };
    let provisioned =
        removed(&|r| matches!(r, Removal::Provisioned { qualifier, .. } if qualifier == "canary"));
    let mapping = removed(&|r| matches!(r, Removal::Mapping(m) if m.uuid == "m-canary"));
    let alias = removed(&|r| matches!(r, Removal::Alias(a) if a.name == "canary"));
    let reserve = at(&|s| matches!(s, Step::Reserve { .. })).expect("reserve");
    let made = at(&|s| matches!(s, Step::Mapping { .. })).expect("the snapshot's mapping");
    assert!(
        provisioned < reserve && mapping < alias && provisioned < alias,
        "{:#?}",
        p.steps
    );
    assert!(mapping < made, "{:#?}", p.steps);
    assert!(
        p.notes.iter().all(|n| !n.contains("canary")),
        "{:?}",
        p.notes
    );
    // Without it: nothing removed, all said.
    let kept = difference_among(
        &m,
        Some(&current),
        &BTreeMap::new(),
        &Target {
            exact: false,
            ..exact
        },
    );
    assert!(!kept.steps.iter().any(|s| matches!(s, Step::Remove(_))));
    assert!(
        kept.notes.iter().any(|n| n.contains("--exact removes it")),
        "{:?}",
        kept.notes
    );
}
