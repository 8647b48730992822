//! Driving a rollout: run its steps with the guard between them, and return the alias to
//! where it started (checking and previewing one: `begin.rs`; aborting one: `abort.rs`).

use std::time::Duration;

use super::abort::roll_back;
use super::heartbeat::{Heartbeat, interrupted};
use super::{Owner, Rollout, RolloutStore, Routing, Status};
use crate::ops::audit::AuditLog;
use crate::ops::plan::prepare_unchecked as prepare;
use crate::ops::{Kind, OpsError, Request, execute};
use crate::provider::{AlarmState, GuardSignals, ProviderError, RegionActions};

pub(super) fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// How often a running rollout writes its heartbeat and looks for an abort request.
pub(super) const TICK: Duration = Duration::from_secs(1);

/// What the guard saw: `Ok(Some(reason))` when it trips.
async fn signals<S: GuardSignals>(
    source: &S,
    r: &Rollout,
) -> Result<Option<String>, ProviderError> {
    let alarms = source.alarm_states(&r.guard.alarms).await?;
    if let Some((name, _)) = alarms.iter().find(|(_, s)| *s == AlarmState::Alarm) {
        return Ok(Some(format!("alarm {name} is in ALARM")));
    }
    // An alarm deleted while the rollout runs would read as never firing: the guard would go
    // on blind to it and promote. It trips instead (the start and a resume refuse it too).
    let missing: Vec<&str> = (r.guard.alarms.iter())
        .filter(|a| !alarms.iter().any(|(name, _)| name == *a))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() {
        return Ok(Some(format!(
            "guard alarm {} no longer exists (deleted while the rollout ran): the guard \
             cannot watch it",
            missing.join(", ")
        )));
    }
    if let Some(max) = r.guard.max_error_rate {
        let (invocations, errors) = source
            .version_errors(&r.function, &r.alias, &r.to, 5)
            .await?;
        if invocations > 0.0 && errors / invocations > max {
            return Ok(Some(format!(
                "v{} error rate {} over the last 5 minutes is above {}",
                r.to,
                crate::format::percent(Some(errors / invocations)),
                crate::format::percent(Some(max))
            )));
        }
    }
    Ok(None)
}

/// Prepares and executes `request`, writing only over one of `ours` (routings the rollout left or means): the plan's
/// own read of the alias is checked too, so a change landing between the rollout's look and
/// the preview is never taken as the "before" and written over.
pub(super) async fn act_over<S: RegionActions>(
    source: &S,
    audit: Option<&AuditLog>,
    request: Request,
    ours: Option<&[Routing]>,
    reason: String,
    production_elsewhere: bool,
) -> Result<(), OpsError> {
    let mut plan = prepare(source, request, audit).await?;
    plan.reason = Some(reason);
    // Started with the typed name another profile of its account asked (production): its
    // records say so, as a rollout under that profile's own says it.
    plan.scope.access.production |= production_elsewhere;
    // Its records say they are a rollout's: `undo` does not take a rollout back one step.
    plan.batch = Some(format!(
        "{}{}",
        crate::ops::batch::ROLLOUT_BATCH,
        plan.target
    ));
    if let (Some(ours), crate::ops::Change::Route { expected, .. }) = (ours, &mut plan.change)
        && let Some(allowed) = ours.first()
        && !ours.contains(&Routing::of(expected))
    {
        // Not one it may write over: sent to the ops layer expecting what it may, whose
        // compare right before the write then refuses it — recorded as not sent (it was
        // refused here, with no record of it).
        expected.function_version = allowed.main.clone();
        expected.additional_weights = allowed.extra.iter().cloned().collect();
        expected.revision_id = None;
    }
    execute(source, &plan, audit).await.map(|_| ())
}

impl Rollout {
    /// The change a step of `weight` on the new version asks of the ops layer.
    pub(super) fn step_request(&self, weight: f64) -> Request {
        let (function, alias, version) =
            (self.function.clone(), self.alias.clone(), self.to.clone());
        match weight >= 1.0 {
            true => Request::PromoteTo {
                function,
                alias,
                version,
            },
            false => Request::SetWeight {
                function,
                alias,
                version,
                weight,
            },
        }
    }
}

pub(super) fn save(store: &RolloutStore, r: &Rollout) -> Result<(), OpsError> {
    store
        .save(r)
        .map_err(|e| OpsError::Invalid(format!("cannot save the rollout: {e}")))
}

/// What the saved copy asks of the running owner.
#[derive(Debug)]
pub(super) enum Control {
    Go,
    /// Another lops asked for an abort (with the alias as its preview showed it).
    Abort(Option<super::Routing>),
    /// Another lops took it over (or finished it): stop without writing.
    Gone(Box<Rollout>),
    /// This process was asked to stop: leave the alias as it is.
    Interrupted,
}

pub(super) fn control(store: &RolloutStore, r: &Rollout) -> Control {
    // Taken over (or finished) first: a lops woken after another took it over (a stopped
    // process continued, a laptop's lid opened) writes nothing, its stop included — its copy
    // would put "interrupted" and stale weights over the other's.
    let saved = store.reload(r);
    if let Some(saved) = &saved
        && (saved.owner != r.owner || saved.status != Status::Running)
    {
        return Control::Gone(Box::new(saved.clone()));
    }
    if interrupted(store) {
        return Control::Interrupted;
    }
    let Some(saved) = saved else {
        return Control::Go;
    };
    if saved.abort_requested {
        return Control::Abort(saved.abort_previewed.clone());
    }
    Control::Go
}

/// Runs (or resumes) a rollout to its end: each step applied, held while the guard is checked
/// every interval, the alias returned to its starting weights at once when the guard trips.
/// This process owns the rollout while it runs; a step finds the alias as the rollout last
/// wrote it or stops without writing. `report` hears each event.
pub async fn run<S: RegionActions + GuardSignals>(
    source: &S,
    r: &mut Rollout,
    audit: Option<&AuditLog>,
    store: &RolloutStore,
    mut report: impl FnMut(&Rollout, &str),
) -> Result<Status, OpsError> {
    let scope = source.scope().clone();
    Kind::RolloutResume.allowed_in(&scope)?;
    // No audit, no change: a log that cannot take a record refuses the rollout before its
    // first step, not as a step that failed (said as rolled back, with nothing sent).
    AuditLog::for_change(audit).map_err(OpsError::Refused)?;
    if let Some(saved) = store.reload(r) {
        if saved.owned_elsewhere() {
            return Err(OpsError::Refused(owned_message(&saved)));
        }
        // Finished (aborted by another lops, say) since it was read: nothing to drive.
        if !saved.unfinished() {
            *r = saved;
            return Err(OpsError::Conflict(
                format!(
                    "the rollout of {} is no longer running: see `lops traffic plans`",
                    r.target()
                )
                .into(),
            ));
        }
    }
    // A halted rollout resumes from its step once the alias is back as it left it.
    r.status = Status::Running;
    r.owner = Some(Owner::me());
    r.heartbeat = Some(now());
    r.abort_requested = false;
    r.abort_previewed = None;
    save(store, r)?;
    let _heartbeat = Heartbeat::start(store, r);
    while r.status == Status::Running && r.step < r.steps.len() {
        if let Some(status) = obey(source, r, audit, store, &mut report).await? {
            return Ok(status);
        }
        if let Some(status) = halt_if_killed(source, r, store, &mut report).await? {
            return Ok(status);
        }
        let step = r.steps[r.step].clone();
        let target = if step.weight >= 1.0 {
            Routing {
                main: r.to.clone(),
                extra: None,
            }
        } else {
            Routing {
                main: r.from.clone(),
                extra: Some((r.to.clone(), step.weight)),
            }
        };
        let found = match source.alias(&r.function, &r.alias).await {
            Ok(a) => Routing::of(&a),
            Err(crate::provider::ProviderError::NotFound(_)) => {
                return alias_gone(r, store, &mut report);
            }
            Err(e) => return Err(e.into()),
        };
        if found != target && found != r.expected_routing() {
            let reason = format!(
                "{} is {} but the rollout last left it at {}: someone else changed it. Nothing \
                 was written; look, then resume or abort",
                r.target(),
                found.describe(),
                r.expected_routing().describe()
            );
            r.status = Status::Halted {
                reason: reason.clone(),
            };
            r.updated = now();
            save(store, r)?;
            report(r, &format!("halted: {reason}"));
            return Ok(r.status.clone());
        }
        let request = r.step_request(step.weight);
        // A resumed rollout may find its step already applied: the ops layer has nothing to do.
        let ours = [target.clone(), r.expected_routing()];
        let why = format!("rollout {}", r.progress());
        let elsewhere = r.production_elsewhere;
        if let Err(e) = act_over(source, audit, request, Some(&ours), why, elsewhere).await {
            // Someone else edited the alias right around the write: theirs is not overwritten
            // by a rollback either; the rollout halts as when it finds the alias changed.
            let read = source
                .alias(&r.function, &r.alias)
                .await
                .map(|a| Routing::of(&a));
            // Deleted while it ran: nothing to write or roll back; halted, said (it ended with
            // AWS's "Cannot find alias arn", its step counted as written).
            if let Err(crate::provider::ProviderError::NotFound(_)) = &read {
                return alias_gone(r, store, &mut report);
            }
            if let Ok(found) = read
                && found != target
                && found != r.expected_routing()
            {
                let reason = format!(
                    "{} is {} while the rollout wrote {} ({e}): someone else changed it. \
                     Nothing more was written; look, then resume or abort",
                    r.target(),
                    found.describe(),
                    target.describe()
                );
                r.status = Status::Halted {
                    reason: reason.clone(),
                };
                r.updated = now();
                save(store, r)?;
                report(r, &format!("halted: {reason}"));
                return Ok(r.status.clone());
            }
            let reason = format!("step failed: {e}");
            return rolled_back(source, r, audit, store, reason, &mut report).await;
        }
        r.last_written = Some(target);
        r.updated = now();
        r.heartbeat = Some(now());
        save(store, r)?;
        report(r, &format!("{} applied", r.progress()));
        // Held while the guard watches; on all traffic only when a hold was given (a bake time).
        if (step.weight < 1.0 || step.hold_secs > 0)
            && let Some(status) = hold(source, r, audit, store, step.hold_secs, &mut report).await?
        {
            return Ok(status);
        }
        r.step += 1;
        if r.step == r.steps.len() {
            r.status = Status::Done;
        }
        r.updated = now();
        save(store, r)?;
    }
    report(
        r,
        match &r.status {
            Status::Done => "done: all traffic on the new version",
            _ => "stopped",
        },
    );
    Ok(r.status.clone())
}

/// Does what the saved copy asks: `Some(status)` when the rollout must stop here.
async fn obey<S: RegionActions>(
    source: &S,
    r: &mut Rollout,
    audit: Option<&AuditLog>,
    store: &RolloutStore,
    report: &mut impl FnMut(&Rollout, &str),
) -> Result<Option<Status>, OpsError> {
    match control(store, r) {
        Control::Go => {
            r.heartbeat = Some(now());
            save(store, r)?;
            Ok(None)
        }
        Control::Abort(previewed) => {
            roll_back(source, r, audit, store, Status::Aborted, previewed.as_ref()).await?;
            // Someone changed the alias since the asker's preview: left as they set it.
            if let Status::Halted { reason } = &r.status {
                report(r, &format!("halted: {reason}"));
                return Ok(Some(r.status.clone()));
            }
            report(
                r,
                &format!("aborted on request: traffic back to {}", r.start_weights()),
            );
            Ok(Some(r.status.clone()))
        }
        Control::Interrupted => {
            // No heartbeat: another lops sees it interrupted at once, not only once this
            // process is gone.
            r.heartbeat = None;
            r.updated = now();
            save(store, r)?;
            report(
                r,
                &format!(
                    "interrupted at {}: {} stays at {} and the guard no longer watches it. Go \
                     on with `lops traffic resume {} --fn {} --region {} --profile {}`, or \
                     return it with `lops traffic abort …` (same arguments)",
                    r.progress(),
                    r.target(),
                    r.expected_routing().describe(),
                    r.alias,
                    r.function,
                    r.region,
                    r.profile
                ),
            );
            Ok(Some(Status::Running))
        }
        Control::Gone(saved) => {
            let owner = saved
                .owner
                .as_ref()
                .map(|o| format!("lops pid {} on {}", o.pid, o.host))
                .unwrap_or_else(|| "another lops".into());
            *r = *saved;
            report(r, &format!("stopped: taken over by {owner}"));
            Err(OpsError::Conflict(format!(
                "the rollout of {} was taken over by {owner}: this lops stopped without writing",
                r.target()
            ).into()))
        }
    }
}

/// Holds a step for `secs`: heartbeat and abort requests every second, the guard every interval.
async fn hold<S: RegionActions + GuardSignals>(
    source: &S,
    r: &mut Rollout,
    audit: Option<&AuditLog>,
    store: &RolloutStore,
    secs: u64,
    report: &mut impl FnMut(&Rollout, &str),
) -> Result<Option<Status>, OpsError> {
    let interval = Duration::from_secs(r.guard.interval_secs.max(1));
    let deadline = tokio::time::Instant::now() + Duration::from_secs(secs);
    // The guard looks every interval and once more when the hold ends: a hold shorter than the
    // interval is still looked at.
    let mut next_guard = (tokio::time::Instant::now() + interval).min(deadline);
    while tokio::time::Instant::now() < deadline {
        tokio::time::sleep(TICK.min(deadline - tokio::time::Instant::now())).await;
        if let Some(status) = obey(source, r, audit, store, report).await? {
            return Ok(Some(status));
        }
        if tokio::time::Instant::now() < next_guard {
            continue;
        }
        next_guard = (tokio::time::Instant::now() + interval).min(deadline);
        if let Some(status) = halt_if_killed(source, r, store, report).await? {
            return Ok(Some(status));
        }
        let reason = match signals(source, r).await {
            Ok(reason) => reason,
            Err(e) if r.guard.trip_on_read_error => {
                Some(format!("the guard could not read its signals ({e})"))
            }
            Err(e) => {
                report(
                    r,
                    &format!("guard could not read its signals ({e}); waiting"),
                );
                None
            }
        };
        if let Some(reason) = reason {
            let reason = format!("guard tripped: {reason}");
            return rolled_back(source, r, audit, store, reason, report)
                .await
                .map(Some);
        }
    }
    Ok(None)
}

/// A function killed (reserved concurrency 0) while its rollout runs: nothing runs, so the
/// guard would read no errors as healthy and the rollout would promote a version nothing
/// checked. It halts, the alias left as it is, saying how to go on. A reservation that cannot
/// be read halts nothing (the guard's own reads decide).
async fn halt_if_killed<S: RegionActions>(
    source: &S,
    r: &mut Rollout,
    store: &RolloutStore,
    report: &mut impl FnMut(&Rollout, &str),
) -> Result<Option<Status>, OpsError> {
    match source.reserved_concurrency(&r.function).await {
        Ok(Some(0)) => {}
        Ok(_) => return Ok(None),
        Err(e) => {
            tracing::debug!(error = %e, "rollout: reserved concurrency not read");
            return Ok(None);
        }
    }
    let reason = format!(
        "{} is killed (reserved concurrency 0): nothing runs, so the guard cannot judge v{}. \
         Nothing more was written; {} stays at {}. Revive it (`lops revive {} --region {} \
         --profile {}`, or set its concurrency) and resume, or abort",
        r.function,
        r.to,
        r.target(),
        r.expected_routing().describe(),
        r.function,
        r.region,
        r.profile
    );
    r.status = Status::Halted {
        reason: reason.clone(),
    };
    r.updated = now();
    save(store, r)?;
    report(r, &format!("halted: {reason}"));
    Ok(Some(r.status.clone()))
}

/// The rollout's own rollback for `reason`, said once it is done: rolled back, halted because
/// someone else changed the alias, or not done at all (and what to do then).
async fn rolled_back<S: RegionActions>(
    source: &S,
    r: &mut Rollout,
    audit: Option<&AuditLog>,
    store: &RolloutStore,
    reason: String,
    report: &mut impl FnMut(&Rollout, &str),
) -> Result<Status, OpsError> {
    let left = r.expected_routing().describe();
    let status = Status::RolledBack {
        reason: reason.clone(),
    };
    if let Err(e) = roll_back(source, r, audit, store, status, None).await {
        // Written back, only its record not saved: said as such, not as a failed rollback.
        if matches!(r.status, Status::RolledBack { .. }) {
            report(
                r,
                &format!(
                    "{reason}; rolled back to {}, but the plan could not be saved ({e})",
                    r.start_weights()
                ),
            );
            return Err(e);
        }
        let said = format!(
            "{reason}; the rollback failed ({e}): the rollout's last write that was answered \
             left {} at {left} (look before acting). Return it with `lops traffic abort {} --fn \
             {} --region {} --profile {}` once that is fixed",
            r.target(),
            r.alias,
            r.function,
            r.region,
            r.profile
        );
        // Saved as halted, not left "running" with no one driving it: every face shows it
        // (with its abort) until a person aborts or resumes it.
        r.status = Status::Halted {
            reason: said.clone(),
        };
        r.updated = now();
        if let Err(saved) = save(store, r) {
            tracing::warn!(error = %saved, target = %r.target(), "halted rollout not saved");
        }
        report(r, &format!("halted: {said}"));
        // Halted, as every face shows it (exit 4 in the CLI): the failure is in its reason.
        return Ok(r.status.clone());
    }
    match &r.status {
        Status::Halted { reason } => report(r, &format!("halted: {reason}")),
        _ => report(
            r,
            &format!("{reason}; rolled back to {}", r.start_weights()),
        ),
    }
    Ok(r.status.clone())
}

fn owned_message(r: &Rollout) -> String {
    let owner = r
        .owner
        .as_ref()
        .map(|o| format!("lops pid {} on {} (since {})", o.pid, o.host, o.started))
        .unwrap_or_else(|| "another lops".into());
    format!(
        "the rollout of {} in {} is running in {owner}: abort it with `lops traffic abort`, or \
         let it finish",
        r.target(),
        r.scope_label()
    )
}

/// The alias deleted while its rollout ran: nothing to write or roll back. Halted and said,
/// where its file is (it ended with AWS's "Cannot find alias arn", its step counted written).
fn alias_gone(
    r: &mut Rollout,
    store: &RolloutStore,
    report: &mut impl FnMut(&Rollout, &str),
) -> Result<Status, OpsError> {
    let reason = format!(
        "{} no longer exists: nothing more was written. It stays listed until its file in {} is \
         removed",
        r.target(),
        store.dir().display()
    );
    r.status = Status::Halted {
        reason: reason.clone(),
    };
    r.updated = now();
    save(store, r)?;
    report(r, &format!("halted: {reason}"));
    Ok(r.status.clone())
}
