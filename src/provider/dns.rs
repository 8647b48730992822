//! Route 53 records as lops reads and writes them: one record of a service's record set (a
//! weighted, latency or failover member), and the status of a health check.

use serde::{Deserialize, Serialize};

/// One member of a record set.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct DnsRecord {
    pub name: String,
    #[serde(rename = "type")]
    pub kind: String,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub set_id: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
    /// PRIMARY or SECONDARY.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failover: Option<String>,
    /// The region of a latency record.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ttl: Option<i64>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub values: Vec<String>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub alias: Option<AliasTarget>,
    #[serde(skip_serializing_if = "Option::is_none")]
    pub health_check: Option<String>,
    /// Routing lops does not write (geolocation, multivalue, CIDR, …): such a record is shown
    /// and never changed, so nothing it holds can be lost by a write.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub other_routing: Option<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct AliasTarget {
    pub zone: String,
    pub dns_name: String,
    pub evaluate_health: bool,
}

impl DnsRecord {
    /// Where the record sends resolvers: its alias target or its values.
    pub fn target(&self) -> String {
        match &self.alias {
            Some(a) => a.dns_name.trim_end_matches('.').to_string(),
            None => self.values.join(","),
        }
    }

    /// How it routes, as the preview says it: `weight 100`, `failover PRIMARY`, `latency`.
    pub fn routing(&self) -> String {
        if let Some(w) = self.weight {
            format!("weight {w}")
        } else if let Some(f) = &self.failover {
            format!("failover {f}")
        } else if self.region.is_some() {
            "latency".into()
        } else if let Some(o) = &self.other_routing {
            o.clone()
        } else {
            "simple".into()
        }
    }
}

/// A health check's status as Route 53's checkers see it.
#[derive(Debug, Clone, PartialEq, Serialize)]
#[serde(tag = "status", content = "detail", rename_all = "lowercase")]
pub enum Health {
    Healthy,
    Unhealthy(String),
    /// Read, and not known yet (no checker has reported).
    Unknown(String),
    /// Its read failed: why. The guard counts it as not healthy; `service show` says it.
    Unread(String),
    /// No health check is attached to the record.
    None,
}

impl Health {
    pub fn word(&self) -> &'static str {
        match self {
            Health::Healthy => "healthy",
            Health::Unhealthy(_) => "unhealthy",
            Health::Unknown(_) => "unknown",
            Health::Unread(_) => "unread",
            Health::None => "no check",
        }
    }
}
