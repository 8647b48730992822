//! Aborting a rollout another process may own: ask its owner, or take over one whose owner is
//! gone, and say what the alias is afterwards.

use std::time::Duration;

use super::drive::{now, roll_back, save};
use super::{Owner, Rollout, RolloutStore, Routing, Status};
use crate::ops::audit::AuditLog;
use crate::ops::{Kind, OpsError};
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
            (Status::Halted { .. }, true) => " (it had halted: nothing was rolled back)".into(),
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
) -> Result<AbortOutcome, OpsError> {
    let scope = source.scope().clone();
    Kind::RolloutAbort.allowed_in(&scope)?;
    let mut r = store
        .load(&scope, function, alias)
        .filter(Rollout::unfinished)
        .ok_or_else(|| {
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
                save(store, &saved)?;
            }
            tokio::time::sleep(Duration::from_millis(250)).await;
        }
    }
    if r.unfinished() {
        r.status = Status::Running;
        r.owner = Some(Owner::me());
        r.heartbeat = Some(now());
        save(store, &r)?;
        roll_back(source, &mut r, audit, store, Status::Aborted).await?;
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
