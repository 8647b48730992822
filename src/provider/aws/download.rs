//! Fetches a code package from the pre-signed URL Lambda hands out (GetFunction's
//! `Code.Location`, GetLayerVersion's `Content.Location`).

use std::time::Duration;

use http_body_util::{BodyExt, Empty, Limited};
use hyper::body::Bytes;
use hyper_util::client::legacy::Client;
use hyper_util::rt::TokioExecutor;

use crate::provider::ProviderError;

/// Lambda packages are at most 250 MB unzipped; a zip larger than this is not one.
const MAX_PACKAGE: usize = 512 * 1024 * 1024;

use super::CODE_DOWNLOAD_BASE_ENV as BASE_ENV;

/// `url` with its scheme and host replaced by `base`'s; `base`'s own path (if any) goes in
/// front of the URL's path, and the query is kept.
pub fn rewrite(url: &str, base: Option<&str>) -> Result<String, ProviderError> {
    let Some(base) = base.map(str::trim).filter(|b| !b.is_empty()) else {
        return Ok(url.to_string());
    };
    let bad_base = || {
        ProviderError::Invalid(format!(
            "{BASE_ENV}='{base}' is not a base URL: write it as http://host:port[/path]"
        ))
    };
    let (scheme, rest) = base.split_once("://").ok_or_else(bad_base)?;
    if !matches!(scheme, "http" | "https") || rest.is_empty() {
        return Err(bad_base());
    }
    let (authority, base_path) = rest.split_once('/').unwrap_or((rest, ""));
    if authority.is_empty() {
        return Err(bad_base());
    }
    let after_scheme = url.split_once("://").map(|(_, r)| r).unwrap_or(url);
    let path_and_query = after_scheme
        .find('/')
        .map(|i| &after_scheme[i..])
        .unwrap_or("/");
    let base_path = base_path.trim_matches('/');
    Ok(if base_path.is_empty() {
        format!("{scheme}://{authority}{path_and_query}")
    } else {
        format!("{scheme}://{authority}/{base_path}{path_and_query}")
    })
}

/// GETs `url` (after [`rewrite`] with `base`, from `LOPS_CODE_DOWNLOAD_BASE`) into memory.
pub async fn fetch(
    url: &str,
    base: Option<&str>,
    timeout: Duration,
) -> Result<Vec<u8>, ProviderError> {
    let url = rewrite(url, base)?;
    let uri: hyper::Uri = url
        .parse()
        .map_err(|e| ProviderError::Invalid(format!("code location is not a URL ({e})")))?;
    let https = hyper_rustls::HttpsConnectorBuilder::new()
        .with_native_roots()
        .map_err(|e| ProviderError::Service(format!("TLS roots: {e}")))?
        .https_or_http()
        .enable_http1()
        .build();
    let client: Client<_, Empty<Bytes>> = Client::builder(TokioExecutor::new()).build(https);
    // Host and path, never the query (a presigned URL's signature).
    let shown = format!("{}{}", uri.host().unwrap_or_default(), uri.path());
    // Behind an emulator (an endpoint configured), its code URLs name a host lops may not
    // reach; on AWS itself the way to S3 is what to check.
    let emulator = ["AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_LAMBDA"]
        .iter()
        .any(|k| std::env::var_os(k).is_some());
    let emulated = match (base, emulator) {
        (None, true) => format!(" (behind an emulator, set {BASE_ENV})"),
        _ => String::new(),
    };
    let unreached = match (base, emulator) {
        (None, false) => " (check the way to S3 from here: a proxy, DNS, a VPC endpoint)".into(),
        _ => emulated.clone(),
    };
    let work = async {
        let resp = client
            .get(uri)
            .await
            .map_err(|e| service(format!("downloading code {shown}: {e}{unreached}")))?;
        let status = resp.status();
        if !status.is_success() {
            return Err(service(format!(
                "downloading code {shown}: HTTP {status}{emulated}"
            )));
        }
        let body = Limited::new(resp.into_body(), MAX_PACKAGE)
            .collect()
            .await
            .map_err(|e| service(format!("downloading code {shown}: {e}")))?;
        Ok(body.to_bytes().to_vec())
    };
    tokio::time::timeout(timeout, work)
        .await
        .map_err(|_| ProviderError::Timeout(timeout.as_secs_f64()))?
}

fn service(message: String) -> ProviderError {
    ProviderError::Service(message)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn rewrites_scheme_and_host_keeping_path_and_query() {
        let url = "https://awslambda-eu-west-1-tasks.s3.eu-west-1.amazonaws.com/snap/fn-1?X-Amz-Signature=abc";
        assert_eq!(rewrite(url, None).unwrap(), url);
        assert_eq!(
            rewrite(url, Some("http://127.0.0.1:5000")).unwrap(),
            "http://127.0.0.1:5000/snap/fn-1?X-Amz-Signature=abc"
        );
        assert_eq!(
            rewrite(url, Some("http://127.0.0.1:5000/code-bucket/")).unwrap(),
            "http://127.0.0.1:5000/code-bucket/snap/fn-1?X-Amz-Signature=abc"
        );
        assert!(rewrite(url, Some("localhost:5000")).is_err());
        assert!(rewrite(url, Some("ftp://x")).is_err());
    }
}
