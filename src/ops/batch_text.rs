//! How a batch's items are said: a preview's line, a list's short line, why one is skipped.

use super::{Change, Item, OpsError};
use crate::provider::ProviderError;

impl Item {
    /// A line of the preview: "traffic.rollback orders-api:live in us-east-1: v1 90% / v2 10% →
    /// v1 100%", or "skip orders-api:live in eu-west-1: alias … does not exist".
    pub fn line(&self) -> String {
        match self {
            Item::Ready { plan, .. } => plan.preview(),
            Item::Skipped {
                scope,
                target,
                error,
                ..
            } => format!("skip {target} in {scope}: {}", skip_reason(error)),
        }
    }

    /// A line of a batch's list, where the headline names the action: "orders-api:live in
    /// us-east-1: v1 90% / v2 10% → v1 100%".
    pub fn short(&self) -> String {
        self.short_with(true)
    }

    /// [`Item::short`], its preview's note left out when `note` is false (said once for the
    /// batch when every target has the same).
    pub(super) fn short_with(&self, note: bool) -> String {
        match self {
            // An invoke and a Route 53 change say it their own way (a DNS change: every
            // region's share before → after and the TTL; its record set is not a region's).
            Item::Ready { plan, .. }
                if matches!(plan.change, Change::Invoke(_) | Change::Dns { .. }) =>
            {
                plan.preview()
            }
            Item::Ready { plan, .. } if plan.change == Change::Nothing => format!(
                "{} in {}: already {}",
                plan.target,
                plan.scope,
                crate::ops::plan::describe_state(&plan.after)
            ),
            // What the preview could not check (the account's unreserved pool unread) stays
            // with its target, as on its own.
            Item::Ready { plan, .. } => format!(
                "{} in {}: {} → {}{}",
                plan.target,
                plan.scope,
                crate::ops::plan::describe_state(&plan.before),
                crate::ops::plan::describe_state(&plan.after),
                plan.note
                    .as_ref()
                    .filter(|_| note)
                    .map(|n| format!(" ({n})"))
                    .unwrap_or_default()
            ),
            Item::Skipped { .. } => self.line(),
        }
    }
}

/// Why a target is left out, in a few words first.
pub(super) fn skip_reason(error: &OpsError) -> String {
    match error {
        // The scope's tier, or a refusal of another kind (a guard, a trigger still settling,
        // the same function refused under another profile): named as what it is.
        OpsError::Refused(why) if why.contains("this scope may only") => {
            format!("tier — {why}")
        }
        OpsError::Refused(why) => format!("refused — {why}"),
        OpsError::Provider(ProviderError::NotFound(what)) => format!("missing — {what}"),
        OpsError::Provider(other) => {
            format!("not readable — {other}{}", crate::provider::hint(other))
        }
        other => other.to_string(),
    }
}
