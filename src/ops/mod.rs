//! The one layer every action that changes or calls anything goes through, for the TUI and
//! the CLI alike: validate → preview (before → after) → confirm → execute → verify → audit.
//! The permission tier is enforced here and nowhere else.

pub mod audit;
pub mod backup;
mod backup_request;
pub mod batch;
pub(crate) mod describe;
pub mod drill;
pub mod execute;
mod history;
mod invoke;
mod lock;
pub mod payload;
pub mod plan;
pub mod policy;
pub mod prune;
pub mod request;
mod reserve;
pub mod restore;
pub mod rollout;
pub mod same_function;
pub mod service;
pub mod trigger_plan;
pub mod undo;

pub use crate::config::{Access, Tier};
pub use describe::{invoke_summary, routing_of};
pub use execute::{Outcome, execute};
pub use plan::{Change, Plan, prepare};
pub use request::Request;

use crate::exit::{Exit, Failure};
use crate::provider::ProviderError;

/// Every kind of action lops can take, and the one table of the tier each needs. Refusals,
/// the dashboard's key hints and help, and the CLI's early checks all read it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Kind {
    Invoke,
    TrafficSet,
    TrafficPromote,
    TrafficRollback,
    /// An alias back to the exact routing a rollout started from.
    TrafficRestore,
    TrafficPin,
    RolloutStart,
    RolloutResume,
    RolloutAbort,
    Concurrency,
    Kill,
    Revive,
    Trigger,
    Backup,
    Restore,
    Prune,
    ServiceDrain,
    ServiceRestore,
    ServiceWeights,
    Undo,
}

impl Kind {
    pub fn needs(self) -> Tier {
        match self {
            Kind::Invoke => Tier::Invoke,
            // A backup only adds objects to the backup bucket: the read tier may take one.
            Kind::Backup => Tier::Read,
            _ => Tier::Change,
        }
    }

    /// The audit log's name for it.
    pub fn name(self) -> &'static str {
        match self {
            Kind::Invoke => "invoke",
            Kind::TrafficSet => "traffic.set",
            Kind::TrafficPromote => "traffic.promote",
            Kind::TrafficRollback => "traffic.rollback",
            Kind::TrafficRestore => "traffic.restore",
            Kind::TrafficPin => "traffic.pin",
            Kind::RolloutStart => "rollout.start",
            Kind::RolloutResume => "rollout.resume",
            Kind::RolloutAbort => "rollout.abort",
            Kind::Concurrency => "concurrency.set",
            Kind::Kill => "kill",
            Kind::Revive => "revive",
            Kind::Trigger => "trigger",
            Kind::Backup => "backup",
            Kind::Restore => "restore",
            Kind::Prune => "prune",
            Kind::ServiceDrain => "service.drain",
            Kind::ServiceRestore => "service.restore",
            Kind::ServiceWeights => "service.weights",
            Kind::Undo => "undo",
        }
    }

    /// As a person says it: "traffic set", "rollout start".
    pub fn title(self) -> String {
        self.name().replace('.', " ")
    }

    /// The tier check of this kind of action in `scope`, from the access the session gave it.
    pub fn allowed_in(self, scope: &crate::provider::Scope) -> Result<(), OpsError> {
        authorize(
            scope.access.tier,
            self.needs(),
            &format!("{} in {scope}", self.title()),
        )
    }
}

/// How a refusal names a service change: `service drain of checkout (Route 53, profile ro)`.
pub fn service_subject(kind: Kind, service: &str, profile: &str) -> String {
    format!(
        "{} of {service} (Route 53, profile {profile})",
        kind.title()
    )
}

/// What the user must answer before a change runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Confirmation {
    /// Nothing will change: nothing to ask.
    None,
    /// y / enter (or --yes).
    Yes,
    /// The target's name, typed (or --yes).
    Typed(String),
}

impl Confirmation {
    /// Whether `typed` is the name a typed confirmation asks for: in both faces the name
    /// itself, with the spaces around it (a paste, a terminal's) dropped.
    pub fn accepts_name(&self, typed: &str) -> bool {
        matches!(self, Confirmation::Typed(name) if name == typed.trim())
    }

    /// One confirmation for several changes: typed when any of them needs it.
    pub fn all(each: impl IntoIterator<Item = Confirmation>) -> Confirmation {
        each.into_iter()
            .fold(Confirmation::None, |acc, c| match (acc, c) {
                (t @ Confirmation::Typed(_), _) | (_, t @ Confirmation::Typed(_)) => t,
                (Confirmation::Yes, _) | (_, Confirmation::Yes) => Confirmation::Yes,
                _ => Confirmation::None,
            })
    }
}

/// The one rule for when a change needs the typed target name rather than a yes: it is
/// destructive (kill, reserved concurrency 0, restore over an existing function, a forced
/// drain), something warrants asking again (the same payload sent moments ago), or the scope is
/// a production profile.
pub fn confirmation(
    target: &str,
    scope: &crate::provider::Scope,
    destructive: bool,
    warning: bool,
) -> Confirmation {
    if destructive || warning || scope.access.production {
        Confirmation::Typed(target.to_string())
    } else {
        Confirmation::Yes
    }
}

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum OpsError {
    /// Outside the permission tier, declined, or stopped by a guard.
    #[error("refused: {0}")]
    Refused(String),
    /// Bad input: nothing was sent.
    #[error("{0}")]
    Invalid(String),
    /// The target changed between preview and write: nothing was changed.
    #[error("{0}")]
    Conflict(Changed),
    #[error("{0}")]
    Provider(#[from] ProviderError),
}

/// Why a change was not sent: its target changed since the preview (or, for an undo, since
/// the change it reverts), with the state found right before the write when it was read.
#[derive(Debug, Clone, PartialEq)]
pub struct Changed {
    pub why: String,
    /// What the target was found as (the same shape as a plan's `before`).
    pub found: Option<serde_json::Value>,
}

impl Changed {
    pub fn found(why: String, found: serde_json::Value) -> Self {
        Changed {
            why,
            found: Some(found),
        }
    }
}

impl std::fmt::Display for Changed {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(&self.why)
    }
}

impl From<String> for Changed {
    fn from(why: String) -> Self {
        Changed { why, found: None }
    }
}

impl From<&str> for Changed {
    fn from(why: &str) -> Self {
        why.to_string().into()
    }
}

impl From<OpsError> for Failure {
    fn from(e: OpsError) -> Self {
        let exit = match &e {
            // A target changed since its preview is a guard: nothing was sent.
            OpsError::Refused(_) | OpsError::Conflict(_) => Exit::Refused,
            // Refused credentials are missing ones for the README's exit codes: 2, fix and rerun.
            OpsError::Invalid(_)
            | OpsError::Provider(ProviderError::NotFound(_) | ProviderError::Credentials(_)) => {
                Exit::Usage
            }
            OpsError::Provider(_) => Exit::Failure,
        };
        Failure {
            exit,
            message: e.to_string(),
        }
    }
}

/// The one tier check: refuses, changing nothing, what `tier` does not allow.
pub fn authorize(tier: Tier, needed: Tier, what: &str) -> Result<(), OpsError> {
    if tier.allows(needed) {
        return Ok(());
    }
    let why = match needed {
        Tier::Invoke => "calls a function",
        _ => "changes the fleet",
    };
    Err(OpsError::Refused(format!(
        "{what} {why}, and this scope may only {} (mode {}). To allow it, set the profile's \
         mode in the config file, or run with --mode {} (for every profile of that run, in \
         place of --read-only or another --mode).",
        match tier {
            Tier::Read => "look",
            Tier::Invoke => "look and invoke",
            Tier::Change => "change",
        },
        tier.as_str(),
        needed.as_str()
    )))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_nest() {
        assert!(Tier::Change.allows(Tier::Invoke));
        assert!(Tier::Invoke.allows(Tier::Invoke));
        assert!(!Tier::Invoke.allows(Tier::Change));
        assert!(!Tier::Read.allows(Tier::Invoke));
    }

    #[test]
    fn refusal_says_how_to_allow_it() {
        let e = authorize(Tier::Read, Tier::Invoke, "invoke").unwrap_err();
        assert!(e.to_string().contains("--mode invoke"), "{e}");
        assert_eq!(Failure::from(e).exit, Exit::Refused);
        assert!(authorize(Tier::Change, Tier::Change, "kill").is_ok());
    }
}
