//! A failure talking to one region, as both faces say it: what failed, the call, and the
//! setting or step that would help; and whether a write that failed may have landed.

/// A failure talking to one region, kept short enough to show on one line.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ProviderError {
    #[error("timed out after {0:.1}s")]
    Timeout(f64),
    #[error("throttled by AWS: {0}")]
    Throttled(String),
    #[error("access denied: {0}")]
    AccessDenied(String),
    /// The credentials themselves were refused (expired, unknown, wrongly signed): no
    /// permission would help; new credentials do.
    #[error(
        "credentials refused: {0} — refresh those of the profile it ran under (`aws sso login \
         --profile NAME`, assume the role again, or new keys where that profile takes them: \
         its credentials file, or the environment) and run again"
    )]
    Credentials(String),
    #[error("{0}")]
    Service(String),
    #[error("not supported by this endpoint: {0}")]
    Unsupported(String),
    #[error("not found: {0}")]
    NotFound(String),
    /// A condition on the object's version failed (S3's 412): it changed since it was read.
    #[error("changed since it was read: {0}")]
    Changed(String),
    /// A setting or an input that cannot work (a malformed address, say): nothing was asked;
    /// the message says what to change.
    #[error("{0}")]
    Invalid(String),
}

impl ProviderError {
    /// The same failure, its message begun with what was being read (a timeout, which has no
    /// message, said as one with the setting that helps).
    pub fn prefixed(self, what: &str) -> Self {
        use ProviderError::*;
        match self {
            Timeout(secs) => Service(format!("{what}: timed out after {secs:.1}s{TIMEOUT_HINT}")),
            Throttled(m) => Throttled(format!("{what}: {m}")),
            AccessDenied(m) => AccessDenied(format!("{what}: {m}")),
            Credentials(m) => Credentials(format!("{what}: {m}")),
            Service(m) => Service(format!("{what}: {m}")),
            Unsupported(m) => Unsupported(format!("{what}: {m}")),
            NotFound(m) => NotFound(format!("{what}: {m}")),
            Changed(m) => Changed(format!("{what}: {m}")),
            Invalid(m) => Invalid(format!("{what}: {m}")),
        }
    }

    /// Whether this is [`ProviderError::past_deadline`]'s.
    pub fn is_past_deadline(&self) -> bool {
        matches!(self, ProviderError::Service(m) if m.starts_with("not finished within"))
    }

    /// A whole read (a region's metrics, its alarms) not finished by its deadline: the
    /// setting to raise is the deadline's, not a call's timeout.
    pub fn past_deadline(deadline: std::time::Duration) -> Self {
        ProviderError::Service(format!(
            "not finished within {:.0} s ([timeouts] region_secs) — raise it if the endpoint is \
             slow; it does not help one that does not answer",
            deadline.as_secs_f64()
        ))
    }
}

/// A read's failure as a person needs it: what failed and which setting would help.
pub fn explain(read: &str, call: &str, e: &ProviderError) -> String {
    let hint = match (read, e) {
        ("metrics", ProviderError::Timeout(_)) => " — raise [timeouts] metrics_secs",
        // The inventory and its own reads have no deadline of the region: the call's own.
        ("inventory" | "details" | "aliases" | "account settings", ProviderError::Timeout(_)) => {
            TIMEOUT_HINT
        }
        (_, ProviderError::Timeout(_)) => {
            " — raise [timeouts] operation_secs (a try gets operation_secs / max_attempts) or \
             region_secs"
        }
        _ => hint(e),
    };
    let what = match e {
        ProviderError::Timeout(secs) => format!("timed out after {secs:.0} s"),
        other => other.to_string(),
    };
    format!("{read}: {call} {what}{hint}")
}

/// What helps a call that timed out: its time is shared among its tries (a call that takes
/// 5 s never answers in the 3.3 s a try gets of the default 10 s over 3 tries).
const TIMEOUT_HINT: &str =
    " — raise [timeouts] operation_secs (a try gets operation_secs / max_attempts)";

/// `e` with the setting or step that would help ([`hint`]), as a failing read says it.
pub fn with_hint(e: &ProviderError) -> String {
    format!("{e}{}", hint(e))
}

/// The setting or step that would help a call that failed with `e` (empty when none would):
/// said after the error by both faces.
pub fn hint(e: &ProviderError) -> &'static str {
    match e {
        ProviderError::Timeout(_) => TIMEOUT_HINT,
        ProviderError::Throttled(_) => " — lower [rate_limits] or try again shortly",
        ProviderError::AccessDenied(_) => " — check the role's permissions (lops iam-policy)",
        // The service's own failure (5xx): nothing to set; it is read again.
        ProviderError::Service(m) if m.starts_with("HTTP 5") => {
            " — a failure on the service's side: try again shortly"
        }
        _ => "",
    }
}

/// Said of an invoke that was sent and got no answer in time (the function may still run):
/// its outcome is unknown, not failed.
pub const INVOKE_UNANSWERED: &str = "the invoke was sent and";

/// A write answered with an error that read back as carried out: its outcome is said as not
/// known (recorded with what it was to make, so undo can take it back), never as "not made".
pub const WRITTEN_DESPITE: &str = "read back as written, although the answer was";

/// Whether `e` says its profile has no credentials: that profile's reads fail on their own
/// (not bad input of the command, as a refused filter pattern is).
pub fn no_credentials(e: &ProviderError) -> bool {
    matches!(e, ProviderError::Invalid(m) if super::aws::NO_CREDENTIALS.iter().any(|p| m.starts_with(p)))
}

/// Whether a write that failed with `e` may have reached AWS and landed: it got no answer in
/// time, or the connection closed once the request was on its way.
pub fn may_have_landed(e: &ProviderError) -> bool {
    match e {
        ProviderError::Timeout(_) => true,
        // PreconditionFailed: the SDK's retry of a revision-checked write whose first try got
        // no answer finds the revision moved — by that first try, it may well be.
        ProviderError::Service(m) => [
            "connection closed before message completed",
            "connection reset",
            "broken pipe",
            "IncompleteMessage",
            "PreconditionFailed",
            INVOKE_UNANSWERED,
            WRITTEN_DESPITE,
        ]
        .iter()
        .any(|s| m.contains(s)),
        _ => false,
    }
}
