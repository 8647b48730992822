//! The one layer every action that changes or calls anything goes through, for the TUI and
//! the CLI alike: validate → preview (before → after) → confirm → execute → verify → audit.
//! The permission tier is enforced here and nowhere else.

pub mod audit;
pub mod backup;
pub mod invoke;
pub mod plan;
pub mod policy;
pub mod rollout;

use serde::{Deserialize, Serialize};

pub use plan::{Change, Outcome, Plan, Request, execute, prepare};

use crate::exit::{Exit, Failure};
use crate::provider::ProviderError;

/// What a session may do. Invoking is not reading: a call can charge a card or send mail.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Serialize, Deserialize, Default)]
#[serde(rename_all = "lowercase")]
pub enum Tier {
    /// Look only.
    Read,
    /// Look and invoke.
    Invoke,
    /// Everything, as with the AWS CLI.
    #[default]
    Change,
}

impl Tier {
    pub fn as_str(self) -> &'static str {
        match self {
            Tier::Read => "read",
            Tier::Invoke => "invoke",
            Tier::Change => "change",
        }
    }

    pub fn allows(self, needed: Tier) -> bool {
        self >= needed
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
    Conflict(String),
    #[error("{0}")]
    Provider(#[from] ProviderError),
}

impl From<OpsError> for Failure {
    fn from(e: OpsError) -> Self {
        let exit = match &e {
            OpsError::Refused(_) => Exit::Refused,
            OpsError::Invalid(_) | OpsError::Provider(ProviderError::NotFound(_)) => Exit::Usage,
            OpsError::Conflict(_) | OpsError::Provider(_) => Exit::Failure,
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
        "{what} {why}, and this session may only {} (mode {}). Run with --mode {} (or set the \
         profile's mode in the config file) to allow it.",
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
