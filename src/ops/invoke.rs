//! Invoke's preview: what it would run (read now), the payload's hash, and the duplicate
//! guard's warning.

use serde_json::{Value, json};

use super::OpsError;
use super::audit::AuditLog;
use super::plan::{Change, Plan, not_found};
use crate::provider::{InvokeRequest, ProviderError, RegionActions, Scope};

/// An invoke names its target and the payload's hash, and warns when the same payload went to
/// the same target a moment ago (a double submit during an incident).
pub(super) async fn invoke_plan<S: RegionActions>(
    source: &S,
    plan: impl Fn(String, Value, Value, Change, bool) -> Plan,
    scope: &Scope,
    r: &InvokeRequest,
    audit: Option<&AuditLog>,
) -> Result<Plan, OpsError> {
    if r.function.trim().is_empty() || r.qualifier.as_deref().is_some_and(|q| q.trim().is_empty()) {
        return Err(OpsError::Invalid(
            "no function named: lops invoke FUNCTION[:QUALIFIER] (a qualifier is an alias, a \
             version number or $LATEST)"
                .into(),
        ));
    }
    let target = match &r.qualifier {
        Some(q) => format!("{}:{q}", r.function),
        None => r.function.clone(),
    };
    // What it would run, read now: an unknown function or qualifier is refused before anything
    // is asked, and the preview says which version answers.
    let (before, timeout_secs) = match what_runs(source, r, None).await {
        Ok(found) => found,
        Err(e) => return Err(missing_target(source, scope, r, &target, e).await),
    };
    let hash = super::payload::payload_sha256(&r.payload);
    let mut request = r.clone();
    request.wait_secs = timeout_secs
        .and_then(|t| u32::try_from(t).ok())
        .filter(|t| *t > 0);
    let mut p = plan(
        target.clone(),
        before,
        json!({"payload_sha256": hash}),
        Change::Invoke(request),
        false,
    );
    // Who invokes (asked once per region handle; the audit record needs it anyway): another
    // profile of the same account reaches the same function.
    let caller = match audit {
        Some(_) => source.caller().await.ok(),
        None => None,
    };
    p.warning = audit.and_then(|log| {
        let window = log.duplicate_window_secs();
        let runs = super::payload::invoked_code(&target, &p.before);
        super::payload::recent_duplicate(log, scope, caller.as_deref(), &runs, &hash, window).map(
            |d| {
                let through = match d.profile == scope.profile {
                    true => String::new(),
                    false => format!(" through profile {}", d.profile),
                };
                // Named as it was then: `orders-api:live` then, `orders-api:3` (where it points) now.
                let same = match d.target == target {
                    true => String::new(),
                    false => format!(" (the same code as {target})"),
                };
                format!(
                    "the same payload went to {}{same} in {}{through} at {} (within {window}s)",
                    d.target, d.region, d.time,
                )
            },
        )
    });
    Ok(p)
}

/// What an invoke of `r` runs, read now — its version (an alias's split where it sends calls to
/// two), state and timeout — as the preview shows it and the write compares it again; and the
/// timeout, which the invoke waits for.
///
/// An alias's split is told where it can be read: `routing` is left out when the preview could
/// not read it (a role without lambda:GetAlias still invokes), and `compared` (the read before
/// the send, against `before`) then leaves it out too.
pub(super) async fn what_runs<S: RegionActions>(
    source: &S,
    r: &InvokeRequest,
    compared: Option<&Value>,
) -> Result<(Value, Option<i32>), ProviderError> {
    let found = source
        .invoke_target(&r.function, r.qualifier.as_deref())
        .await?;
    // An alias with a second version sends some calls there: the preview says the split (its
    // main version alone would misname what one call in five runs).
    let wanted = compared.is_none_or(|before| before.get("routing").is_some());
    let routing = match r.qualifier.as_deref() {
        Some(q) if wanted && q != "$LATEST" && !q.chars().all(|c| c.is_ascii_digit()) => {
            match source.alias(&r.function, q).await {
                // A second version at 0 % takes no calls: the alias runs its main version alone.
                Ok(alias) => Some(
                    (alias.additional_weights.iter().any(|(_, w)| *w > 0.0)).then(|| {
                        super::describe::describe_routing(
                            &alias.function_version,
                            alias.additional_weights.first(),
                        )
                    }),
                ),
                Err(e) if compared.is_some() => return Err(e),
                Err(e) => {
                    tracing::info!(function = %r.function, error = %e, "alias split not read for the invoke preview");
                    None
                }
            }
        }
        _ if wanted => Some(None),
        _ => None,
    };
    let mut what =
        json!({"version": found.version, "state": found.state, "timeout_secs": found.timeout_secs});
    if let Some(routing) = routing {
        what["routing"] = json!(routing);
    }
    Ok((what, found.timeout_secs))
}

/// Why an invoke's target was not found: AWS says "Function not found" for a missing alias or
/// version too, so with a qualifier the function alone is asked before saying which is missing.
async fn missing_target<S: RegionActions>(
    source: &S,
    scope: &Scope,
    r: &InvokeRequest,
    target: &str,
    e: ProviderError,
) -> OpsError {
    if let (ProviderError::NotFound(_), Some(q)) = (&e, r.qualifier.as_deref())
        && source.invoke_target(&r.function, None).await.is_ok()
    {
        return OpsError::Invalid(format!(
            "function {} exists in {}, but has no alias or version '{q}': `lops traffic show {} \
             --region {}` lists its aliases",
            r.function, scope.region, r.function, scope.region
        ));
    }
    not_found(e, format!("function {target}"))
}

/// "v3, Active, timeout 30s" of an invoke's target as its preview read it.
pub(super) fn invoke_target_text(before: &Value) -> String {
    let mut parts = Vec::new();
    if let Some(split) = before.get("routing").and_then(Value::as_str) {
        parts.push(split.to_string());
    } else if let Some(v) = before.get("version").and_then(Value::as_str) {
        parts.push(crate::format::version(v));
    }
    if let Some(state) = before.get("state").and_then(Value::as_str) {
        parts.push(crate::format::printable(state, false).into_owned());
    }
    if let Some(t) = before.get("timeout_secs").and_then(Value::as_i64) {
        parts.push(format!("timeout {t}s"));
    }
    parts.join(", ")
}
