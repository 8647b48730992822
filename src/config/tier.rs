//! Permission tiers: plain data the config file, the session and the ops layer share.

use serde::{Deserialize, Serialize};

/// What a scope may do. Invoking is not reading: a call can charge a card or send mail.
#[derive(
    Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize, Default,
)]
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

    /// The dashboard's header badge for a scope of this tier.
    pub fn badge(self) -> Option<&'static str> {
        match self {
            Tier::Read => Some("READ-ONLY"),
            Tier::Invoke => Some("INVOKE-ONLY"),
            Tier::Change => None,
        }
    }
}

/// What the session decided a scope (profile × region) may do, resolved once and carried by
/// the scope itself, so no face can apply another profile's tier by mistake.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Default)]
pub struct Access {
    pub tier: Tier,
    /// `production = true` on the profile: every change asks for the typed target name.
    pub production: bool,
}

impl Access {
    pub const fn new(tier: Tier, production: bool) -> Self {
        Access { tier, production }
    }
}
