//! Restore planning against targets in every state.

use super::plan::*;
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
    let p = plan(&manifest(), None, "orders", "eu-west-1", None, false);
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
        matches!(p.steps[5], Step::Reserve { value: Some(7) }),
        "{kinds:?}"
    );
    assert!(matches!(p.steps[6], Step::Tags { .. }), "{kinds:?}");
    assert_eq!(p.steps.len(), 7, "{kinds:?}");
}

#[test]
fn a_target_that_matches_needs_nothing() {
    let m = manifest();
    let current = Current {
        latest: Some((m.latest.config.clone(), "X".into())),
        versions: vec![
            ("1".into(), m.versions[0].config.clone(), "X".into()),
            ("2".into(), m.versions[1].config.clone(), "X".into()),
        ],
        aliases: m.aliases.clone(),
        reserved: Some(7),
        tags: m.tags.clone(),
        mapping_sources: BTreeSet::new(),
        arn: "arn".into(),
        url: None,
        async_invoke: None,
        permissions: Vec::new(),
    };
    let p = plan(&m, Some(&current), "orders", "eu-west-1", None, false);
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
        plan(&with_url, Some(&here), "orders", "eu-west-1", None, false)
            .steps
            .is_empty()
    );
    here.url = None;
    let p = plan(&with_url, Some(&here), "orders", "eu-west-1", None, false);
    assert!(
        matches!(p.steps[..], [Step::Url { create: true, .. }]),
        "{:?}",
        p.steps
    );
    assert_eq!(p.matched.get("2").map(String::as_str), Some("2"));
    // A role override makes every version differ.
    let p = plan(
        &m,
        Some(&current),
        "orders",
        "eu-west-1",
        Some("arn:aws:iam::2:role/dr"),
        false,
    );
    assert!(p.steps.iter().any(|s| matches!(s, Step::Publish { .. })));
}
