//! The one layer every action that changes or calls anything goes through.
//!
//! This first part holds the permission tiers; actions arrive with the operations issue.

use serde::{Deserialize, Serialize};

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
}
