//! The shared moto server started by `scripts/test`, prepared once per test process.

use std::io::{Read, Write};
use std::net::TcpStream;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU32, Ordering};

pub const ROLE_ARN: &str = "arn:aws:iam::123456789012:role/lops-test-role";

/// The execution role in `region`'s partition.
pub fn role_arn(region: &str) -> String {
    if region.starts_with("us-gov-") {
        ROLE_ARN.replacen("arn:aws:", "arn:aws-us-gov:", 1)
    } else if region.starts_with("cn-") {
        ROLE_ARN.replacen("arn:aws:", "arn:aws-cn:", 1)
    } else {
        ROLE_ARN.to_string()
    }
}

/// Base URL of the moto server (`http://127.0.0.1:PORT`), prepared for Lambda without Docker
/// and with the execution role every test function uses.
pub fn url() -> &'static str {
    static URL: OnceLock<String> = OnceLock::new();
    URL.get_or_init(|| {
        let url = std::env::var("LOPS_TEST_MOTO_URL").unwrap_or_else(|_| {
            panic!("LOPS_TEST_MOTO_URL is not set: run the suite with ./scripts/test, which starts moto")
        });
        let (status, _) = post(&url, "/moto-api/config", "application/json", r#"{"lambda": {"use_docker": false}}"#);
        assert!((200..300).contains(&status), "moto refused the lambda config: {status}");
        let role = "Action=CreateRole&Version=2010-05-08&RoleName=lops-test-role&AssumeRolePolicyDocument=%7B%7D";
        // moto routes by the credential scope: without one the form would reach S3.
        // Once per partition: the GovCloud and China regions hold tests that need a region of their
        // own.
        for region in ["us-east-1", "us-gov-west-1", "cn-north-1"] {
            let auth = format!("application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/iam/aws4_request, SignedHeaders=host, Signature=0");
            let (status, body) = post(&url, "/", &auth, role);
            assert!(status == 200 || status == 409 || body.contains("EntityAlreadyExists"), "CreateRole: {status} {body}");
        }
        url
    })
}

/// A name prefix no other test in this run uses.
pub fn unique(prefix: &str) -> String {
    static N: AtomicU32 = AtomicU32::new(0);
    format!(
        "{prefix}{}x{}",
        std::process::id() % 100_000,
        N.fetch_add(1, Ordering::Relaxed)
    )
}

/// A bare HTTP/1.1 POST; returns (status, body).
pub fn post(base: &str, path: &str, content_type: &str, body: &str) -> (u16, String) {
    let authority = base.trim_start_matches("http://").trim_end_matches('/');
    let mut stream =
        TcpStream::connect(authority).unwrap_or_else(|e| panic!("connect {authority}: {e}"));
    let request = format!(
        "POST {path} HTTP/1.1\r\nHost: {authority}\r\nContent-Type: {content_type}\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    stream
        .write_all(request.as_bytes())
        .unwrap_or_else(|e| panic!("write: {e}"));
    let mut response = String::new();
    stream
        .read_to_string(&mut response)
        .unwrap_or_else(|e| panic!("read: {e}"));
    let status = response
        .split_whitespace()
        .nth(1)
        .and_then(|s| s.parse().ok())
        .unwrap_or(0);
    let body = response
        .split("\r\n\r\n")
        .nth(1)
        .unwrap_or_default()
        .to_string();
    (status, body)
}

/// An SQS queue in `region` through moto's query API (no SQS SDK in the tree for one call);
/// its ARN.
pub fn create_queue(region: &str, name: &str) -> String {
    let auth = format!(
        "application/x-www-form-urlencoded\r\nAuthorization: AWS4-HMAC-SHA256 Credential=testing/20260101/{region}/sqs/aws4_request, SignedHeaders=host, Signature=0"
    );
    let (status, body) = post(
        url(),
        "/",
        &auth,
        &format!("Action=CreateQueue&QueueName={name}&Version=2012-11-05"),
    );
    assert_eq!(status, 200, "CreateQueue: {body}");
    format!("arn:aws:sqs:{region}:123456789012:{name}")
}
