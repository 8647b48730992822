//! Where a rollout meets other changes: a confirmed rollout's start reads its alias again right
//! before it is saved (as every change compares its target again before its write), and a
//! change of an alias a rollout drives is told so.

use super::{Rollout, RolloutStore, Routing, Standing};
use crate::ops::OpsError;
use crate::provider::RegionActions;

/// Refuses a confirmed rollout whose alias changed since its preview read it: its first step
/// would find another's weights and halt, leaving a rollout that never wrote anything (whose
/// abort would then write over their change). Nothing is saved or written.
pub async fn compare_again<S: RegionActions>(source: &S, r: &Rollout) -> Result<(), OpsError> {
    let found = source
        .alias(&r.function, &r.alias)
        .await
        .map(|a| Routing::of(&a))?;
    let mut start = r.start_routing();
    start.extra = start.extra.filter(|(_, w)| *w > 0.0);
    if found == start {
        return Ok(());
    }
    Err(OpsError::Conflict(format!(
        "{} changed since the preview: it is {} where the preview read {}; nothing was started \
         or written (preview it again)",
        r.target(),
        found.describe(),
        start.describe()
    )))
}

/// The rollout a live lops drives now on `function:alias` in `source`'s region: under its
/// profile, or under another profile name of the same account (or one whose account is not
/// known: the same alias, possibly). STS is asked only when another profile's rollout is there.
pub async fn driving<S: RegionActions>(
    source: &S,
    store: &RolloutStore,
    function: &str,
    alias: &str,
) -> Option<Rollout> {
    let scope = source.scope();
    let live: Vec<Rollout> = store
        .running()
        .into_iter()
        .filter(|r| r.region == scope.region && r.function == function && r.alias == alias)
        .filter(|r| r.standing() == Standing::Running)
        .collect();
    if let Some(own) = live.iter().find(|r| r.profile == scope.profile) {
        return Some(own.clone());
    }
    if live.is_empty() {
        return None;
    }
    let account = crate::ops::same_function::account(source).await;
    live.into_iter()
        .find(|r| r.account.is_none() || account.is_none() || r.account == account)
}
