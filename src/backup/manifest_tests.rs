//! The manifest's format, its checks and its layout.

use super::*;
use proptest::prelude::*;

#[test]
fn a_data_copy_is_read_under_the_root_its_manifest_was_read_from() {
    use crate::backup::uri::S3Uri;
    let copy = |source: &str, copy: &str| DataCopy {
        source: source.into(),
        copy: copy.into(),
        objects: vec![],
    };
    let replica = S3Uri::parse("s3://bkp-replica/lops/prod").unwrap();
    let c = copy(
        "s3://orders-data/exports",
        "s3://bkp/lops/prod/data/20261125T100000.000Z/orders-data/exports",
    );
    assert_eq!(
        c.copy_in(&replica).unwrap().to_string(),
        "s3://bkp-replica/lops/prod/data/20261125T100000.000Z/orders-data/exports"
    );
    // A store at a bucket's root, moved under a prefix; a whole source bucket.
    let c = copy(
        "s3://orders-data",
        "s3://bkp/data/20261125T100000.000Z/orders-data",
    );
    let moved = S3Uri::parse("s3://other/dr").unwrap();
    assert_eq!(
        c.copy_in(&moved).unwrap().to_string(),
        "s3://other/dr/data/20261125T100000.000Z/orders-data"
    );
    // A store whose own prefix ends in `data`.
    let c = copy(
        "s3://orders-data/exports",
        "s3://bkp/x/data/data/20261125T100000.000Z/orders-data/exports",
    );
    let replica = S3Uri::parse("s3://bkp-replica/x/data").unwrap();
    assert_eq!(
        c.copy_in(&replica).unwrap().to_string(),
        "s3://bkp-replica/x/data/data/20261125T100000.000Z/orders-data/exports"
    );
    let c = copy(
        "s3://orders-data",
        "s3://bkp/data/20261125T100000.000Z/orders-data",
    );
    // Read where it was written: the same store.
    let same = S3Uri::parse("s3://bkp").unwrap();
    assert_eq!(c.copy_in(&same).unwrap().to_string(), c.copy);
    // Not the layout lops writes: read where it says.
    let odd = copy("s3://orders-data/exports", "s3://bkp/elsewhere/exports");
    assert_eq!(odd.copy_in(&replica).unwrap().to_string(), odd.copy);
    assert!(
        copy("s3://orders-data", "not an address")
            .copy_in(&replica)
            .is_err()
    );
}

pub fn sample() -> Manifest {
    let sha = "a".repeat(64);
    let code = Code::Zip {
        sha256: sha.clone(),
        size: 10,
        // Lambda's hash of the same package (32 bytes of 0xaa).
        lambda_sha256: "qqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqqo=".into(),
    };
    Manifest {
        format: FORMAT.into(),
        function: "orders".into(),
        region: "eu-west-1".into(),
        account: "123456789012".into(),
        taken_at: "2026-11-25T10:00:00Z".into(),
        lops_version: "0.1.0".into(),
        storage_class: "STANDARD".into(),
        blobs: vec![BlobRef {
            sha256: sha,
            size: 10,
            role: "code".into(),
        }],
        latest: VersionSnapshot {
            version: "$LATEST".into(),
            config: FunctionConfig::default(),
            code,
        },
        versions: vec![],
        aliases: vec![],
        reserved_concurrency: Some(5),
        tags: BTreeMap::new(),
        provisioned_concurrency: None,
        event_source_mappings: Some(vec![]),
        function_url: None,
        policy: None,
        async_invoke: None,
        layers: vec![],
        absent: BTreeMap::new(),
        data: vec![],
    }
}

#[test]
fn round_trips_and_checks_blobs() {
    let m = sample();
    assert_eq!(Manifest::from_json(&m.to_json()).unwrap(), m);
    let mut missing = sample();
    missing.blobs.clear();
    assert!(
        Manifest::from_json(&missing.to_json())
            .unwrap_err()
            .to_string()
            .contains("does not list")
    );
    assert!(Manifest::from_json(b"{\"format\": 1}").is_err());
    let mut other = sample();
    other.format = "lops-snapshot/x".into();
    let broken = Manifest::from_json(&other.to_json()).unwrap_err();
    assert!(
        matches!(&broken, Unreadable::Broken(m) if m.contains("lops-snapshot/x")),
        "{broken:?}"
    );
    // A later format, with a field this lops does not know: newer, not broken.
    let mut json: serde_json::Value = serde_json::from_slice(&sample().to_json()).unwrap();
    json["format"] = "lops-snapshot/9".into();
    json["later"] = 1.into();
    let newer = Manifest::from_json(&serde_json::to_vec(&json).unwrap()).unwrap_err();
    assert!(
        matches!(&newer, Unreadable::Newer(m) if m.contains("'lops-snapshot/9'") && m.contains("upgrade lops")),
        "{newer:?}"
    );
}

#[test]
fn manifest_keys_parse_back() {
    let key = layout::manifest("eu-west-1", "orders", "20261125T100000.000Z");
    assert_eq!(
        layout::parse_manifest(&key),
        Some((
            "eu-west-1".into(),
            "orders".into(),
            "20261125T100000.000Z".into()
        ))
    );
    assert_eq!(layout::parse_manifest("snapshots/eu-west-1/x.json"), None);
    assert_eq!(layout::parse_manifest("blobs/sha256/aa"), None);
}

/// Values no function can have, and a manifest lying under another function's or region's
/// key, are problems; a sound one has none. Sizes never overflow a sum.
#[test]
fn impossible_values_and_a_misplaced_manifest_are_problems() {
    let key = layout::manifest("eu-west-1", "orders", "20261125T100000.000Z");
    assert_eq!(sample().problems(&key), Vec::<String>::new());
    let mut m = sample();
    m.reserved_concurrency = Some(-7);
    m.taken_at = "not a time".into();
    m.latest.config.memory_size = Some(-1);
    m.latest.config.timeout = Some(0);
    m.latest.config.ephemeral_storage = Some(999_999);
    m.latest
        .config
        .environment
        .insert("AWS_REGION".into(), "us-east-1".into());
    m.aliases = vec![
        AliasSnapshot {
            name: "live".into(),
            function_version: "$LATEST".into(),
            description: None,
            weights: [("2".to_string(), 7.5)].into(),
        };
        2
    ];
    let found = m
        .problems(&layout::manifest("us-east-1", "billing", "x"))
        .join("\n");
    for expected in [
        "reserved concurrency -7",
        "not a time",
        "memory -1 MB",
        "timeout 0 s",
        "ephemeral storage 999999 MB",
        "environment variable AWS_REGION (Lambda sets it itself)",
        "alias live is listed twice",
        "weight of 7.5",
        "names function orders but lies under billing",
        "names region eu-west-1 but lies under us-east-1",
        "alias live splits traffic with $LATEST",
    ] {
        assert!(found.contains(expected), "{expected}: {found}");
    }
    // A package that is not the code Lambda hashed (a manifest pieced together from
    // another's): the same hash is in it twice, once as Lambda writes it.
    let mut m = sample();
    let lambda = |hex: &str| {
        use base64::Engine as _;
        let raw: Vec<u8> = (0..hex.len())
            .step_by(2)
            .map(|i| u8::from_str_radix(&hex[i..i + 2], 16).unwrap_or_default())
            .collect();
        base64::engine::general_purpose::STANDARD.encode(raw)
    };
    m.latest.code = Code::Zip {
        sha256: "a".repeat(64),
        size: 10,
        lambda_sha256: lambda(&"a".repeat(64)),
    };
    assert_eq!(m.problems(&key), Vec::<String>::new());
    m.latest.code = Code::Zip {
        sha256: "a".repeat(64),
        size: 10,
        lambda_sha256: lambda(&"b".repeat(64)),
    };
    let found = m.problems(&key).join("\n");
    assert!(found.contains("is not the code Lambda hashed"), "{found}");
    // A hash that is no SHA-256 at all is no proof either.
    m.latest.code = Code::Zip {
        sha256: "a".repeat(64),
        size: 10,
        lambda_sha256: "x".into(),
    };
    assert!(
        m.problems(&key)
            .join("\n")
            .contains("is not the code Lambda hashed"),
        "{:?}",
        m.problems(&key)
    );
    // An alias gives weight to one version other than its own.
    let mut m = sample();
    m.versions = ["1", "2", "3"]
        .iter()
        .map(|v| VersionSnapshot {
            version: v.to_string(),
            ..m.latest.clone()
        })
        .collect();
    for weights in [vec![("1", 0.1)], vec![("2", 0.1), ("3", 0.2)]] {
        m.aliases = vec![AliasSnapshot {
            name: "live".into(),
            function_version: "1".into(),
            description: None,
            weights: weights.iter().map(|(v, w)| (v.to_string(), *w)).collect(),
        }];
        let found = m.problems(&key).join("\n");
        assert!(found.contains("Lambda takes one other version"), "{found}");
    }
    m.blobs = vec![
        BlobRef {
            sha256: "a".repeat(64),
            size: u64::MAX,
            role: "code".into(),
        };
        2
    ];
    assert_eq!(m.total_size(), u64::MAX);
}

proptest! {
    #[test]
    fn arbitrary_bytes_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..400)) {
        let _ = Manifest::from_json(&bytes);
    }

    #[test]
    fn truncated_manifests_are_refused(cut in 0usize..200) {
        let json = sample().to_json();
        let cut = cut.min(json.len() - 1);
        prop_assert!(Manifest::from_json(&json[..cut]).is_err());
    }
}
