//! A confirmed rollout's start: the alias is read again right before the rollout is saved, as
//! every change compares its target again before its write.

use super::{Rollout, Routing};
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
