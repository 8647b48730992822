//! Turns SDK errors into short, actionable [`ProviderError`]s.

use aws_sdk_lambda::error::{ProvideErrorMetadata, SdkError};
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;

use crate::provider::ProviderError;

const THROTTLE_CODES: &[&str] = &[
    "ThrottlingException",
    "Throttling",
    "TooManyRequestsException",
    "RequestLimitExceeded",
    "SlowDown",
];

const DENIED_CODES: &[&str] = &["AccessDenied", "AccessDeniedException"];

/// The credentials refused, not the action: expired, unknown or wrongly signed.
const CREDENTIAL_CODES: &[&str] = &[
    "UnrecognizedClientException",
    "InvalidClientTokenId",
    "ExpiredToken",
    "ExpiredTokenException",
    "RequestExpired",
    "SignatureDoesNotMatch",
    "InvalidAccessKeyId",
    "InvalidToken",
];

/// How a request that never reached its service starts its message.
pub const NO_CONNECTION: &str = "could not connect: ";
/// Where a connection failure's hint names a service's own endpoint setting: the caller that
/// knows the service names its own (`AWS_ENDPOINT_URL_ROUTE_53`).
pub const SERVICE_ENDPOINT: &str = "a service's own such as AWS_ENDPOINT_URL_LAMBDA";

/// A connection failure said with the service it could not reach ("could not connect to
/// CloudWatch: …") and that service's own endpoint setting named in its hint.
pub fn of_service(e: ProviderError, service: &str) -> ProviderError {
    match e {
        ProviderError::Service(m) if m.starts_with(NO_CONNECTION) => {
            // The setting that points this service elsewhere, by its own name.
            let own = match service {
                "AWS" => SERVICE_ENDPOINT.to_string(),
                s => format!(
                    "{s}'s own, AWS_ENDPOINT_URL_{}",
                    s.to_uppercase().replace(' ', "_")
                ),
            };
            ProviderError::Service(format!(
                "could not connect to {service}: {}",
                m[NO_CONNECTION.len()..].replace(SERVICE_ENDPOINT, &own)
            ))
        }
        other => other,
    }
}

/// [`classify`], then [`of_service`].
pub fn classify_for<E>(
    err: SdkError<E, HttpResponse>,
    timeout_secs: f64,
    service: &str,
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    of_service(classify(err, timeout_secs), service)
}

pub fn classify<E>(err: SdkError<E, HttpResponse>, timeout_secs: f64) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    let status = err.raw_response().map(|r| r.status().as_u16());
    match &err {
        SdkError::TimeoutError(_) => return ProviderError::Timeout(timeout_secs),
        SdkError::DispatchFailure(failure) => {
            if failure.is_timeout() {
                return ProviderError::Timeout(timeout_secs);
            }
            // A profile without credentials (the session let its scopes fail on their own):
            // why, as the session said it, not a network failure.
            let text = chain(&err);
            if let Some(at) = NO_CREDENTIALS.iter().find_map(|m| text.find(m)) {
                return ProviderError::Invalid(text[at..].to_string());
            }
            return ProviderError::Service(format!(
                "{NO_CONNECTION}{} — check the network, the region, and the endpoint if one is set (AWS_ENDPOINT_URL, {SERVICE_ENDPOINT}, or the profile's endpoint_url)",
                chain(&err)
            ));
        }
        _ => {}
    }
    let code = err.code().unwrap_or_default().to_string();
    let message = err.message().unwrap_or_default().to_string();
    let brief = match (code.is_empty(), message.is_empty()) {
        (false, false) => format!("{code}: {message}"),
        (false, true) => code.clone(),
        (true, false) => message.clone(),
        (true, true) => match status {
            // A success status with an error: the answer itself could not be read.
            Some(s) if s < 400 => {
                format!("the answer (HTTP {s}) could not be read: {}", chain(&err))
            }
            Some(s) => format!("HTTP {s} with no error code"),
            None => chain(&err),
        },
    };
    if THROTTLE_CODES.contains(&code.as_str()) || status == Some(429) {
        ProviderError::Throttled(brief)
    } else if CREDENTIAL_CODES.contains(&code.as_str()) {
        ProviderError::Credentials(brief)
    } else if DENIED_CODES.contains(&code.as_str()) || status == Some(403) {
        ProviderError::AccessDenied(brief)
    } else if matches!(
        code.as_str(),
        "ResourceNotFoundException" | "NoSuchBucket" | "NoSuchKey"
    ) {
        ProviderError::NotFound(brief)
    } else if code.is_empty() && status == Some(404) {
        ProviderError::Unsupported(brief)
    } else if let Some(s) = status.filter(|s| *s >= 500) {
        if code.is_empty() && message.is_empty() {
            ProviderError::Service(format!("HTTP {s} from the server, with no error code"))
        } else {
            ProviderError::Service(format!("HTTP {s} from the server: {brief}"))
        }
    } else {
        ProviderError::Service(brief)
    }
}

/// An error and its causes, each said once, as a person reads them (`dispatch failure: io
/// error: … Connection refused (os error 111)`), without the debug dump after them.
pub fn chain(err: &dyn std::error::Error) -> String {
    let mut parts: Vec<String> = vec![err.to_string()];
    let mut cause = err.source();
    while let Some(e) = cause {
        let text = e.to_string();
        if !text.is_empty() && !parts.iter().any(|p| p.contains(&text)) {
            parts.push(text);
        }
        cause = e.source();
    }
    parts.join(": ")
}

/// How the session's refusal of a profile without credentials begins, found again in a
/// call's error.
pub const NO_CREDENTIALS: [&str; 2] = [
    "no AWS credentials for profile",
    "cannot load AWS credentials for profile",
];
