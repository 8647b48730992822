//! Executing a confirmed plan: compared again right before the write, written, read back, and
//! audited (the audit log made ready first: no audit, no change).

use serde_json::Value;
use serde_json::json;

use super::audit::{AuditLog, Record};
use super::plan::{
    Change, Plan, alias_state, describe, not_found, routed, same_routing, trigger_state,
};
use super::{Changed, OpsError, authorize};
use crate::loglines::{Report, parse_report};
use crate::provider::{InvokeOutcome, ProviderError, RegionActions};

/// What executing a plan did.
#[derive(Debug, Clone, PartialEq)]
pub struct Outcome {
    /// The state read back after the write (verification), or the invoke result.
    pub after: Value,
    pub invoke: Option<(InvokeOutcome, Option<Report>)>,
    pub record: Option<Record>,
}

impl Outcome {
    /// Done, and what came back is a failure a script must see: the function invoked failed
    /// (Unhandled, Handled), or a service's read-back finds no region taking traffic (unless
    /// forced past the guard to that end).
    pub fn ended_badly(&self) -> bool {
        self.function_failed()
            || (self.after.get("serving").and_then(Value::as_bool) == Some(false)
                && self.after.get("forced").and_then(Value::as_bool) != Some(true))
    }

    /// An invoke sent, whose function failed: no change that worked.
    pub fn function_failed(&self) -> bool {
        self.invoke
            .as_ref()
            .is_some_and(|(i, _)| i.function_error.is_some())
    }
}

/// A record id: the time, the process, and a counter, so that the targets of a batch written
/// in the same millisecond never share one.
pub(crate) fn new_id() -> String {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let now = chrono::Utc::now();
    format!(
        "{}-{:04x}-{}",
        now.format("%Y%m%dT%H%M%S%.3fZ"),
        std::process::id() & 0xffff,
        NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed)
    )
}

/// Executes a confirmed plan: checks the target still matches the preview, writes, reads back,
/// and appends an audit record whatever the result. The audit log is made ready first: a change
/// that could not be recorded is not made.
pub async fn execute<S: RegionActions>(
    source: &S,
    plan: &Plan,
    audit: Option<&AuditLog>,
) -> Result<Outcome, OpsError> {
    let scope = source.scope();
    authorize(
        scope.access.tier,
        plan.needs,
        &format!("{} in {scope}", plan.action),
    )?;
    if plan.change == Change::Nothing {
        return Ok(Outcome {
            after: plan.after.clone(),
            invoke: None,
            record: None,
        });
    }
    let who = source
        .caller()
        .await
        .unwrap_or_else(|e| format!("unknown ({e})"));
    let mut record = Record::started(plan, who);
    // No audit, no change: the action is recorded as started before anything is sent (a full
    // disk or a read-only file refuses it here), and its result under the same id after. No
    // log at all (no state directory) refuses it too.
    let Some(log) = audit else {
        return Err(OpsError::Refused(super::audit::NO_LOG.into()));
    };
    // Held from the read just before the write until the write is read back: a second lops on
    // this machine changing the same thing waits, then reads what this one wrote and its
    // compare refuses it (Lambda's writes of a reservation or a trigger are not conditional).
    let _held = hold(source.scope(), &record.who, plan).await?;
    log.ready()
        .and_then(|()| log.append(&record))
        .map_err(|e| OpsError::Refused(log.unwritable(&e)))?;
    let result = write(source, plan).await;
    // A change sent with no answer may have landed: recorded with what it was to make, so undo
    // can look and take it back, and said as such (not as a failure that changed nothing).
    let unknown = result.as_ref().err().is_some_and(sent_unanswered);
    let invoke = matches!(plan.change, Change::Invoke(_));
    record.after = match &result {
        Ok(o) => o.after.clone(),
        Err(_) if unknown => plan.after.clone(),
        // Changed since the preview by someone else: left as found.
        Err(OpsError::Conflict(Changed {
            found: Some(found), ..
        })) => found.clone(),
        Err(_) => plan.before.clone(),
    };
    if matches!(plan.change, Change::Trigger { .. }) {
        super::trigger_plan::keep_ends(&mut record.after, &plan.after);
    }
    // Not landed: the record keeps what it was to make beside the state it left.
    if result.is_err() && !unknown && !invoke && plan.after != plan.before {
        record.asked = Some(plan.after.clone());
    }
    if result.is_err() && unknown {
        record.ended = Some(chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true));
    }
    record.result = match &result {
        // The function ran and failed: the invoke was made, its result is the function's.
        Ok(Outcome {
            invoke: Some((out, _)),
            ..
        }) if out.function_error.is_some() => format!(
            "{}{}",
            super::audit::FUNCTION_ERROR,
            out.function_error.as_deref().unwrap_or_default()
        ),
        Ok(_) => "ok".to_string(),
        // Nothing was changed: recorded so that the start above is closed, never undone.
        Err(OpsError::Conflict(e)) => format!("{}{e}", super::audit::CONFLICT),
        Err(e) if unknown => format!("{}{e}", super::audit::UNKNOWN),
        Err(OpsError::Provider(
            e @ (ProviderError::Throttled(_)
            | ProviderError::AccessDenied(_)
            | ProviderError::Credentials(_)
            | ProviderError::NotFound(_)),
        )) if invoke => format!("{}{e}", super::audit::NOT_RUN),
        Err(e) => e.to_string(),
    };
    if let Some(log) = audit
        && let Err(e) = log.append(&record)
    {
        tracing::error!(error = %e, path = %log.path().display(), "cannot write the audit log");
        if result.is_ok() {
            return Err(OpsError::Provider(ProviderError::Service(format!(
                "the change was made but its result could not be written to the audit log {} \
                 ({e}): the log records it as started, with the change it was to make",
                log.path().display()
            ))));
        }
    }
    let result = match result {
        // An invoke says so itself (the function may still be running: read its logs).
        Err(e) if unknown && !invoke => Err(OpsError::Provider(ProviderError::Service(format!(
            "{} may have changed: the change was sent and no clear answer came ({e}). Look \
             before acting again{}",
            plan.target,
            if plan.undoes.is_some() {
                " (this undo may have landed: the action it undoes is taken as undone)"
            } else {
                "; `lops undo` takes it back if it did"
            }
        )))),
        other => other,
    };
    let mut outcome = result?;
    outcome.record = Some(record);
    Ok(outcome)
}

/// The lock of what `plan` writes (none for an invoke: nothing is compared; a service change
/// takes its record set's own).
async fn hold(
    scope: &crate::provider::Scope,
    who: &str,
    plan: &Plan,
) -> Result<Option<super::lock::FileLock>, OpsError> {
    let Some(name) = lock_name(scope, who, &plan.change) else {
        return Ok(None);
    };
    let wait = std::time::Duration::from_secs(30);
    match super::lock::hold(&name, wait).await {
        Ok(held) => Ok(Some(held)),
        Err(super::lock::LockError::Busy(wait)) => Err(OpsError::Refused(format!(
            "another lops of yours on this machine has been changing {} in {scope} for {} s: \
             nothing was sent; run again once it is done",
            plan.target,
            wait.as_secs()
        ))),
        // No lock to take (its directory not writable): the compare before the write still
        // refuses what changed since the preview.
        Err(super::lock::LockError::Io(path, e)) => {
            tracing::warn!(path = %path.display(), error = %e, "no lock for this change");
            Ok(None)
        }
    }
}

/// The name of the lock of `change` in `scope`'s region of the account `who` (the caller's
/// ARN) is in: two profiles of one account share it, two accounts' functions of one name do
/// not; a caller STS did not name keeps to its profile's.
fn lock_name(scope: &crate::provider::Scope, who: &str, change: &Change) -> Option<String> {
    let what = match change {
        Change::Route {
            function, alias, ..
        } => format!("alias-{function}-{alias}"),
        Change::Reserve { function, .. } => format!("concurrency-{function}"),
        Change::Trigger { id, .. } => format!("trigger-{id}"),
        Change::Invoke(_) | Change::Dns { .. } | Change::Nothing => return None,
    };
    let account = match super::payload::account_of(who) {
        Some(account) => account.to_string(),
        None => format!("profile-{}", scope.profile),
    };
    Some(format!("lambda-{account}-{}-{what}", scope.region))
}

pub(super) const UNSENT: &str = "nothing was sent: ";

/// A read right before the write failed: nothing was sent, so never an unknown outcome.
pub(crate) fn unsent(e: ProviderError) -> OpsError {
    let stalled =
        matches!(e, ProviderError::Timeout(_)) || sent_unanswered(&OpsError::Provider(e.clone()));
    if stalled {
        OpsError::Provider(ProviderError::Service(format!(
            "{UNSENT}reading it again before the write failed ({e})"
        )))
    } else {
        OpsError::Provider(e)
    }
}

/// A write that may have reached AWS with no answer back: it timed out, or the connection
/// closed once the request was on its way. Either way it may have landed.
fn sent_unanswered(e: &OpsError) -> bool {
    match e {
        OpsError::Provider(ProviderError::Service(m)) if m.starts_with(UNSENT) => false,
        OpsError::Provider(e) => crate::provider::may_have_landed(e),
        _ => false,
    }
}

/// Whether `plan`'s target still looks as it did in the preview, read again now (the alias read,
/// for a route: its revision goes with the write). Changed since: refused, nothing sent. A
/// service's change compares its record set itself; an invoke compares nothing.
pub(crate) async fn unchanged<S: RegionActions>(
    source: &S,
    plan: &Plan,
) -> Result<Option<crate::provider::AliasInfo>, OpsError> {
    match &plan.change {
        Change::Route {
            function,
            alias,
            expected,
            ..
        } => {
            let now = source.alias(function, alias).await.map_err(unsent)?;
            if !same_routing(&now, expected)
                || (expected.revision_id.is_some() && now.revision_id != expected.revision_id)
            {
                let found = found_as(plan, alias_state(&now));
                return Err(OpsError::Conflict(Changed::found(
                    format!(
                        "{function}:{alias} changed since the preview (now {}): nothing changed; \
                         run again to see the new state",
                        describe(&found)
                    ),
                    found,
                )));
            }
            Ok(Some(now))
        }
        Change::Reserve {
            function, expected, ..
        } => {
            let now = source
                .reserved_concurrency(function)
                .await
                .map_err(unsent)?;
            if now != *expected {
                let found = found_as(plan, json!({ "reserved": now }));
                return Err(OpsError::Conflict(Changed::found(
                    format!(
                        "{function}'s reserved concurrency changed since the preview (now {}): \
                         nothing changed",
                        describe(&found)
                    ),
                    found,
                )));
            }
            Ok(None)
        }
        Change::Trigger {
            kind, id, expected, ..
        } => {
            // Gone since the preview is a change by someone else too (refused, 4), not bad input.
            let now =
                match source.trigger_enabled(*kind, id).await {
                    Err(ProviderError::NotFound(_)) => {
                        return Err(OpsError::Conflict(format!(
                        "{} {id} no longer exists (deleted since the preview): nothing changed",
                        kind.as_str()
                    ).into()));
                    }
                    other => other.map_err(unsent)?,
                };
            if now != *expected {
                return Err(OpsError::Conflict(Changed::found(
                    format!(
                        "{} {id} changed since the preview (now {}): nothing changed",
                        kind.as_str(),
                        if now { "enabled" } else { "disabled" }
                    ),
                    found_as(plan, json!({ "enabled": now })),
                )));
            }
            // A rule pauses every target it has: one added since the preview was never shown.
            if let Some(previewed) = plan.after.get("targets") {
                let mut targets = source.rule_targets(id).await.map_err(unsent)?;
                targets.sort();
                if serde_json::json!(targets) != *previewed {
                    return Err(OpsError::Conflict(Changed::found(
                        format!(
                            "rule {id}'s targets changed since the preview (now {}): nothing \
                             changed",
                            targets.join(", ")
                        ),
                        found_as(plan, json!({ "targets": targets })),
                    )));
                }
            }
            Ok(None)
        }
        Change::Invoke(request) => {
            // What it runs now: another version behind the alias, a new timeout (which the
            // wait is made of), a function no longer Active — not what the preview showed.
            let (now, _) = super::invoke::what_runs(source, request, Some(&plan.before))
                .await
                .map_err(unsent)?;
            if now != plan.before {
                return Err(OpsError::Conflict(
                    format!(
                        "{} changed since the preview (now {}): nothing was invoked; run again to \
                     see what it runs now",
                        plan.target,
                        super::invoke::invoke_target_text(&now)
                    )
                    .into(),
                ));
            }
            Ok(None)
        }
        Change::Dns { .. } | Change::Nothing => Ok(None),
    }
}

/// The state found right before the write, in the shape of the plan's `before`: its fields
/// with those read again in their place.
fn found_as(plan: &Plan, read: serde_json::Value) -> serde_json::Value {
    let mut found = plan.before.clone();
    match (found.as_object_mut(), read) {
        (Some(found), serde_json::Value::Object(read)) => found.extend(read),
        (_, read) => return read,
    }
    found
}

async fn write<S: RegionActions>(source: &S, plan: &Plan) -> Result<Outcome, OpsError> {
    match &plan.change {
        Change::Dns {
            service,
            expected,
            records,
            gives_back,
        } => {
            let mut after = super::service::write(
                source,
                service,
                &plan.before,
                &plan.after,
                expected,
                records,
                plan.destructive || *gives_back,
                std::time::Duration::from_secs(60),
            )
            .await?;
            // Forced past the guard (the typed name): a dark service is what was asked, said as
            // such — not a surprise a script must see (a restore that finds one still is).
            if plan.destructive {
                after["forced"] = serde_json::json!(true);
            }
            Ok(Outcome {
                after,
                invoke: None,
                record: None,
            })
        }
        Change::Nothing => Ok(Outcome {
            after: plan.after.clone(),
            invoke: None,
            record: None,
        }),
        Change::Invoke(request) => {
            // The read before the send failing sent nothing: said so (and recorded so, for the
            // duplicate guard: a retry is not a second invoke).
            unchanged(source, plan).await.map_err(|e| match e {
                OpsError::Provider(ProviderError::Service(m)) if m.starts_with(UNSENT) => {
                    OpsError::Provider(ProviderError::Service(m))
                }
                OpsError::Provider(p) => {
                    OpsError::Provider(ProviderError::Service(format!("{UNSENT}{p}")))
                }
                other => other,
            })?;
            let out = source
                .invoke(request)
                .await
                .map_err(|e| not_found(e, format!("function {}", plan.target)))?;
            let report = out.log_tail.as_deref().and_then(parse_report);
            let after = json!({
                "status": out.status,
                "function_error": out.function_error,
                "executed_version": out.executed_version,
            });
            Ok(Outcome {
                after,
                invoke: Some((out, report)),
                record: None,
            })
        }
        Change::Route {
            function,
            alias,
            main,
            extra,
            expected,
        } => {
            // Compared again right before the write, and the revision passed along, so a
            // concurrent edit is refused instead of overwritten.
            let now = unchanged(source, plan)
                .await?
                .unwrap_or_else(|| expected.clone());
            let written = source
                .route_alias(
                    function,
                    alias,
                    main,
                    extra.clone(),
                    now.revision_id.clone(),
                )
                .await?;
            let want = routed(expected, main, extra);
            if !same_routing(&written, &want) {
                return Err(OpsError::Provider(ProviderError::Service(format!(
                    "{function}:{alias} reads back as {} after the write, not {}",
                    describe(&alias_state(&written)),
                    describe(&alias_state(&want))
                ))));
            }
            Ok(Outcome {
                after: alias_state(&written),
                invoke: None,
                record: None,
            })
        }
        Change::Reserve {
            function, value, ..
        } => {
            unchanged(source, plan).await?;
            source.set_reserved_concurrency(function, *value).await?;
            let read_back = source.reserved_concurrency(function).await?;
            if read_back != *value {
                return Err(OpsError::Provider(ProviderError::Service(format!(
                    "{function} reads back {} after the write",
                    describe(&json!({"reserved": read_back}))
                ))));
            }
            Ok(Outcome {
                after: json!({"reserved": read_back}),
                invoke: None,
                record: None,
            })
        }
        Change::Trigger {
            kind, id, enabled, ..
        } => {
            unchanged(source, plan).await?;
            source.set_trigger_enabled(*kind, id, *enabled).await?;
            let read_back = source.trigger_enabled(*kind, id).await?;
            if read_back != *enabled {
                return Err(OpsError::Provider(ProviderError::Service(format!(
                    "{} {id} reads back {} after the write",
                    kind.as_str(),
                    if read_back { "enabled" } else { "disabled" }
                ))));
            }
            // What it paused with it, as the preview said, stays in the record.
            let mut after = trigger_state(*kind, id, read_back);
            for key in ["invokes", "invokes_unread", "targets"] {
                if let Some(v) = plan.after.get(key) {
                    after[key] = v.clone();
                }
            }
            Ok(Outcome {
                after,
                invoke: None,
                record: None,
            })
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_write_cut_off_after_it_was_sent_may_have_landed() {
        let service = |m: &str| OpsError::Provider(ProviderError::Service(m.into()));
        assert!(sent_unanswered(&OpsError::Provider(
            ProviderError::Timeout(10.0)
        )));
        assert!(sent_unanswered(&service(
            "could not connect: dispatch failure: io error: connection closed before message \
             completed"
        )));
        // A read before the write that stalled: nothing was sent.
        assert!(!sent_unanswered(&unsent(ProviderError::Timeout(10.0))));
        // Refused before anything was sent, or answered with an error: known not landed.
        assert!(!sent_unanswered(&service(
            "could not connect: dispatch failure: Connection refused (os error 111)"
        )));
        assert!(!sent_unanswered(&OpsError::Conflict("changed".into())));
    }

    #[test]
    fn one_lock_per_function_of_one_account_whichever_profile_names_it() {
        let scope = |profile: &str| {
            crate::provider::Scope::new(profile, "eu-west-1", crate::config::Access::default())
        };
        let reserve = Change::Reserve {
            function: "orders".into(),
            value: Some(5),
            expected: None,
        };
        let a = "arn:aws:sts::111111111111:assumed-role/oncall/me";
        let b = "arn:aws:sts::222222222222:assumed-role/oncall/me";
        let name = |profile: &str, who: &str| lock_name(&scope(profile), who, &reserve);
        // Two profiles of one account: one function, one lock.
        assert_eq!(name("prod", a), name("prod-admin", a));
        assert_eq!(
            name("prod", a).as_deref(),
            Some("lambda-111111111111-eu-west-1-concurrency-orders")
        );
        // Two accounts with a function of one name: two functions, two locks.
        assert_ne!(name("prod", a), name("staging", b));
        // A caller STS did not name keeps to its profile.
        let unknown = "unknown (timed out)";
        assert_ne!(name("prod", unknown), name("staging", unknown));
        assert_ne!(name("prod", unknown), name("prod", a));
        assert_eq!(lock_name(&scope("prod"), a, &Change::Nothing), None);
    }
}
