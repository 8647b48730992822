//! Container images: a restored function needs its image in an ECR registry of the target's
//! region. The snapshot keeps the image by reference; before anything changes, the restore
//! checks (DescribeImages by digest) that the very image is there, and says what to replicate
//! when it is not.

use super::*;

/// Where a snapshot's image is looked for in `region`: the same registry account and
/// repository, pinned by digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TargetImage {
    pub registry: String,
    pub repository: String,
    pub digest: String,
    /// The URI the restored function is given.
    pub uri: String,
}

/// `ACCOUNT.dkr.ecr.REGION.amazonaws.com/REPO[:TAG|@DIGEST]` of `code` as it is found in
/// `region`; `None` for zip packages or an image that is not in ECR.
pub fn target_image(code: &Code, region: &str) -> Option<TargetImage> {
    let Code::Image {
        image_uri,
        resolved_image_uri,
        lambda_sha256,
    } = code
    else {
        return None;
    };
    let (host, path) = image_uri.split_once('/')?;
    let mut labels = host.split('.');
    let registry = labels.next()?.to_string();
    if labels.next() != Some("dkr") || labels.next() != Some("ecr") {
        return None;
    }
    let domain: Vec<&str> = labels.skip(1).collect();
    let digest_of = |uri: &str| {
        uri.rsplit_once('@')
            .map(|(_, d)| d.to_string())
            .filter(|d| d.starts_with("sha256:") && d.len() == 71)
    };
    let digest = digest_of(image_uri)
        .or_else(|| resolved_image_uri.as_deref().and_then(digest_of))
        .unwrap_or_else(|| format!("sha256:{lambda_sha256}"));
    let repository = path
        .split('@')
        .next()
        .map(|r| match r.rsplit_once(':') {
            Some((repo, _tag)) => repo,
            None => r,
        })?
        .to_string();
    Some(TargetImage {
        uri: format!(
            "{registry}.dkr.ecr.{region}.{}/{repository}@{digest}",
            domain.join(".")
        ),
        registry,
        repository,
        digest,
    })
}

/// The snapshot's images that are not in `region` (where `target` is), each with what to do
/// about it.
pub async fn missing_images(
    target: &impl FunctionWrites,
    region: &str,
    manifest: &Manifest,
) -> Vec<String> {
    let mut seen = BTreeSet::new();
    let mut missing = Vec::new();
    let codes = std::iter::once(&manifest.latest)
        .chain(&manifest.versions)
        .map(|v| &v.code);
    for image in codes.filter_map(|c| target_image(c, region)) {
        if !seen.insert(image.uri.clone()) {
            continue;
        }
        let found = target
            .image_exists(&image.registry, &image.repository, &image.digest)
            .await;
        let why = match found {
            Ok(true) => continue,
            Ok(false) => "not found".to_string(),
            Err(e) => format!("could not be checked: {e}"),
        };
        missing.push(format!(
            "image {}@{} is {why} in ECR in {region} (registry {}): replicate it there first \
             (an ECR replication rule to {region}, or pull it and push it to {}) and run the \
             restore again",
            image.repository, image.digest, image.registry, image.uri
        ));
    }
    missing
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn images_are_looked_for_in_the_target_region_by_digest() {
        let digest = format!("sha256:{}", "ab".repeat(32));
        let code = Code::Image {
            image_uri: "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app:v7".into(),
            resolved_image_uri: Some(format!(
                "123456789012.dkr.ecr.eu-west-1.amazonaws.com/team/app@{digest}"
            )),
            lambda_sha256: "ab".repeat(32),
        };
        let t = target_image(&code, "us-west-2").expect("an ECR image");
        assert_eq!(t.registry, "123456789012");
        assert_eq!(t.repository, "team/app");
        assert_eq!(t.digest, digest);
        assert_eq!(
            t.uri,
            format!("123456789012.dkr.ecr.us-west-2.amazonaws.com/team/app@{digest}")
        );
        // China's registries keep their domain.
        let cn = Code::Image {
            image_uri: format!("123456789012.dkr.ecr.cn-north-1.amazonaws.com.cn/app@{digest}"),
            resolved_image_uri: None,
            lambda_sha256: String::new(),
        };
        assert_eq!(
            target_image(&cn, "cn-northwest-1").map(|t| t.uri),
            Some(format!(
                "123456789012.dkr.ecr.cn-northwest-1.amazonaws.com.cn/app@{digest}"
            ))
        );
        let zip = Code::Zip {
            sha256: String::new(),
            size: 1,
            lambda_sha256: String::new(),
        };
        assert_eq!(target_image(&zip, "us-west-2"), None);
        let elsewhere = Code::Image {
            image_uri: "public.ecr.aws/lambda/python:3.12".into(),
            resolved_image_uri: None,
            lambda_sha256: String::new(),
        };
        assert_eq!(target_image(&elsewhere, "us-west-2"), None);
    }
}
