//! Aborting a rollout another process may own: ask its owner, or take over one whose owner is
//! gone, and say what the alias is afterwards.

use std::time::Duration;

use super::drive::{act_over, now, save};
use super::{Owner, Rollout, RolloutStore, Routing, Status};
use crate::ops::audit::AuditLog;
use crate::ops::{Kind, OpsError, Request};
use crate::provider::RegionActions;

/// What an abort did, read back from the alias.
#[derive(Debug, Clone, PartialEq)]
pub struct AbortOutcome {
    pub rollout: Rollout,
    /// The alias as read after the abort.
    pub now: Routing,
    /// The owning process rolled it back on request (else this process did).
    pub by_owner: bool,
}

impl AbortOutcome {
    pub fn describe(&self) -> String {
        let how = match (&self.rollout.status, self.by_owner) {
            (Status::Aborted, true) => " (rolled back by the lops that ran it)".to_string(),
            (Status::RolledBack { reason }, true) => {
                format!(" (its guard had rolled it back: {reason})")
            }
            (Status::Done, true) => " (the rollout had finished: nothing was rolled back)".into(),
            _ => String::new(),
        };
        format!(
            "{} @ {} is now {}{how}",
            self.rollout.target(),
            self.rollout.scope_label(),
            self.now.describe()
        )
    }
}

/// How a rollout halted by an abort whose preview no longer held begins its reason.
const ABORT_HALTED: &str = "aborted on request, but";

/// Aborts a running rollout: asks its owner to stop and waits up to `wait` for it, or takes over
/// one whose owner is gone (or does not answer) and returns the alias to its starting weights.
/// Says what the alias is afterwards, read back.
pub async fn abort<S: RegionActions>(
    source: &S,
    store: &RolloutStore,
    function: &str,
    alias: &str,
    audit: Option<&AuditLog>,
    wait: Duration,
    previewed: Option<&Routing>,
) -> Result<AbortOutcome, OpsError> {
    let scope = source.scope().clone();
    Kind::RolloutAbort.allowed_in(&scope)?;
    if let Some(why) = store.damaged_under_any_profile(&scope, function, alias) {
        return Err(OpsError::Refused(why));
    }
    let saved = store.load(&scope, function, alias);
    // Ended on its own since the preview (its guard rolled it back, someone aborted it): what
    // was asked is done — said with the alias as it is now, not as "no rollout" (bad input).
    if let Some(ended) = saved.as_ref().filter(|r| {
        previewed.is_some() && matches!(r.status, Status::RolledBack { .. } | Status::Aborted)
    }) {
        let now = source
            .alias(function, alias)
            .await
            .map(|a| Routing::of(&a))?;
        return Ok(AbortOutcome {
            rollout: ended.clone(),
            now,
            by_owner: true,
        });
    }
    let mut r = saved.filter(Rollout::unfinished).ok_or_else(|| {
        OpsError::Invalid(format!(
            "no running rollout of {function}:{alias} in {scope}: see `lops traffic plans`"
        ))
    })?;
    let mut by_owner = false;
    // A live owner (this process included: the dashboard drives its rollouts in tasks) is asked,
    // so that it never writes a step after the rollback; only a gone one is taken over.
    if r.status == Status::Running && r.owner_alive() {
        let deadline = tokio::time::Instant::now() + wait;
        while let Some(mut saved) = store.reload(&r) {
            if saved.status != Status::Running {
                r = saved;
                by_owner = true;
                break;
            }
            if !saved.owner_alive() || tokio::time::Instant::now() >= deadline {
                r = saved;
                break;
            }
            if !saved.abort_requested {
                saved.abort_requested = true;
                saved.abort_previewed = previewed.cloned();
                save(store, &saved)?;
            } else if let (Some(mine), Some(theirs)) = (previewed, &saved.abort_previewed)
                && mine != theirs
            {
                // Another abort is asked on a preview that differs from this one's: the alias
                // changed between them. Its owner compares with the first; this one was
                // confirmed on something else, so it is refused, nothing written by it.
                return Err(OpsError::Conflict(
                    format!(
                        "another abort of {} was asked on a preview of {}, and this one's showed \
                         {}: the alias changed between them. Nothing was written by this abort; \
                         look again (`lops traffic plans`)",
                        saved.target(),
                        theirs.describe(),
                        mine.describe()
                    )
                    .into(),
                ));
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    // Its owner found the alias changed since this abort's preview: left, said as refused.
    // Halted for anything else (killed, its guard's rollback failed): taken over below.
    if let (true, Some(_), Status::Halted { reason }) = (by_owner, previewed, &r.status)
        && reason.starts_with(ABORT_HALTED)
    {
        return Err(OpsError::Conflict(reason.clone().into()));
    }
    if r.unfinished() {
        by_owner = false;
        r.status = Status::Running;
        r.owner = Some(Owner::me());
        r.heartbeat = Some(now());
        save(store, &r)?;
        roll_back(source, &mut r, audit, store, Status::Aborted, previewed).await?;
        // Changed by someone since the preview it was confirmed on: nothing written, said as
        // any change refused at its last compare is (exit 4), the rollout halted.
        if let (Some(_), Status::Halted { reason }) = (previewed, &r.status) {
            return Err(OpsError::Conflict(reason.clone().into()));
        }
    }
    let now = source
        .alias(function, alias)
        .await
        .map(|a| Routing::of(&a))?;
    Ok(AbortOutcome {
        rollout: r,
        now,
        by_owner,
    })
}

/// Returns the alias to the weights it had when the rollout started. A rollback is what stops
/// the damage: a failed write is tried again (three times in all) before giving up.
///
/// A rollback the rollout decides on itself (its guard tripped, a step failed) writes only over
/// a routing the rollout left: one someone else set since is theirs, and the rollout halts
/// without writing (`status` becomes `Halted`). An abort a person confirmed on a preview
/// (`previewed`) writes over what that preview showed or what the rollout itself writes, and
/// halts likewise on anything else; one without a preview (its owner asked to stop) goes back
/// to the starting weights whatever it finds.
pub async fn roll_back<S: RegionActions>(
    source: &S,
    r: &mut Rollout,
    audit: Option<&AuditLog>,
    store: &RolloutStore,
    status: Status,
    previewed: Option<&Routing>,
) -> Result<(), OpsError> {
    let _rolling_back = RollingBack::start();
    let start = r.start_routing();
    if let Status::RolledBack { reason } = &status {
        let (main, extra) = r.step_routing();
        let ours = [r.expected_routing(), start.clone(), Routing { main, extra }];
        // An unreadable alias does not hold the rollback up (on purpose: a tripped guard is
        // damage in progress, and the ops layer reads the alias again right before writing).
        if let Ok(found) = source
            .alias(&r.function, &r.alias)
            .await
            .map(|a| Routing::of(&a))
            && !ours.contains(&found)
        {
            r.status = Status::Halted {
                reason: format!(
                    "{reason}, but {} is {} where the rollout left {}: someone else changed \
                     it, and it is left as they set it. Nothing was written; look, then resume \
                     or abort",
                    r.target(),
                    found.describe(),
                    r.expected_routing().describe()
                ),
            };
            r.updated = now();
            return save(store, r);
        }
    }
    let request = Request::RouteTo {
        function: r.function.clone(),
        alias: r.alias.clone(),
        main: start.main.clone(),
        extra: start.extra.clone(),
    };
    // The guard's own rollback writes only over what it found just now (the check above);
    // a person's abort over what its preview showed, or what the rollout writes itself.
    let (main, extra) = r.step_routing();
    let own = vec![r.expected_routing(), start.clone(), Routing { main, extra }];
    let ours: Option<Vec<Routing>> = match (&status, previewed) {
        (Status::RolledBack { .. }, _) => Some(own),
        (_, Some(seen)) => Some([vec![seen.clone()], own].concat()),
        _ => None,
    };
    let mut tries = 0;
    loop {
        tries += 1;
        // Said in the audit: a guard's rollback (and why it tripped) or a person's abort.
        let why = match &status {
            Status::RolledBack { reason } => format!("rollout rolled back: {reason}"),
            Status::Aborted => "rollout aborted on request".to_string(),
            other => format!("rollout {other:?}"),
        };
        let elsewhere = r.production_elsewhere;
        match act_over(
            source,
            audit,
            request.clone(),
            ours.as_deref(),
            why,
            elsewhere,
        )
        .await
        {
            Ok(()) => break,
            Err(OpsError::Conflict(what)) if ours.is_some() => {
                let reason = match &status {
                    Status::RolledBack { reason } => format!("{reason}, but"),
                    _ => ABORT_HALTED.to_string(),
                };
                r.status = Status::Halted {
                    reason: format!(
                        "{reason} {what}: someone else changed it, and it is left as they set \
                         it. Nothing was written; look, then resume or abort"
                    ),
                };
                r.updated = now();
                return save(store, r);
            }
            Err(e @ OpsError::Provider(_)) if tries < 3 => {
                tracing::warn!(error = %e, target = %r.target(), "rollback failed; trying again");
                tokio::time::sleep(Duration::from_secs(tries)).await;
            }
            Err(e) => return Err(e),
        }
    }
    r.last_written = Some(start);
    r.status = status;
    r.updated = now();
    save(store, r)
}

/// How many rollbacks this process has under way: a signal to quit at once waits for them (an
/// alias left half-way back is worse than a second's wait).
static ROLLING_BACK: std::sync::atomic::AtomicUsize = std::sync::atomic::AtomicUsize::new(0);

/// Whether a rollback is under way in this process.
pub fn rolling_back() -> bool {
    ROLLING_BACK.load(std::sync::atomic::Ordering::SeqCst) > 0
}

struct RollingBack;

impl RollingBack {
    fn start() -> RollingBack {
        ROLLING_BACK.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        RollingBack
    }
}

impl Drop for RollingBack {
    fn drop(&mut self) {
        ROLLING_BACK.fetch_sub(1, std::sync::atomic::Ordering::SeqCst);
    }
}
