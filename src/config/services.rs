//! `[[service]]`: a service served from several regions behind Route 53 records, and how each
//! record maps to a region when neither the record nor its target says.

use std::collections::BTreeMap;

use serde::Deserialize;

use super::regions::check_region;

/// One service: the record set of `record` (of `type`) in the hosted zone `zone`.
#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ServiceSettings {
    pub name: String,
    /// The hosted zone's id (`Z…`; `/hostedzone/Z…` is accepted).
    pub zone: String,
    /// The record's name (`api.example.com`).
    pub record: String,
    /// The record's type: A (the default), AAAA or CNAME.
    #[serde(default = "default_type", rename = "type")]
    pub kind: String,
    /// The profile whose credentials read and change the zone (default: the session's first).
    pub profile: Option<String>,
    /// Set identifier → region, for records whose target does not name a region.
    #[serde(default)]
    pub regions: BTreeMap<String, String>,
    /// Region → the functions that serve the service there (their invocations are the region's
    /// real share; without them, the region's whole Lambda invocations are).
    #[serde(default)]
    pub functions: BTreeMap<String, Vec<String>>,
}

fn default_type() -> String {
    "A".into()
}

impl ServiceSettings {
    /// The zone id without its `/hostedzone/` prefix.
    pub fn zone_id(&self) -> &str {
        self.zone.trim_start_matches("/hostedzone/")
    }

    /// The record's name as DNS compares it: any case, with or without its final dot.
    pub fn record_key(&self) -> String {
        record_key(&self.record)
    }

    /// Whether `other` names the same record set (whatever its name in the config, and
    /// however its zone and record are written).
    pub fn same_record_set(&self, other: &ServiceSettings) -> bool {
        self.zone_id() == other.zone_id()
            && self.record_key() == other.record_key()
            && self.kind.eq_ignore_ascii_case(&other.kind)
    }
}

/// A record name as DNS compares it (`API.example.com.` is `api.example.com`).
pub fn record_key(name: &str) -> String {
    name.trim_end_matches('.').to_ascii_lowercase()
}

/// Checks every service: names unique and set, zone and record set, a known type, known regions.
pub fn check_services(services: &[ServiceSettings], extra: &[String]) -> Result<(), String> {
    let mut names = std::collections::BTreeSet::new();
    for s in services {
        let name = s.name.trim();
        if name.is_empty() {
            return Err("a [[service]] has no name: give it name = \"…\"".into());
        }
        if !names.insert(name) {
            return Err(format!(
                "two [[service]] entries are named '{name}': give each its own name"
            ));
        }
        if s.zone_id().trim().is_empty() || s.record.trim().is_empty() {
            return Err(format!(
                "service '{name}': give zone = \"Z…\" (the hosted zone id) and record = \"api.example.com\""
            ));
        }
        if !matches!(s.kind.as_str(), "A" | "AAAA" | "CNAME") {
            return Err(format!(
                "service '{name}': type = \"{}\" is not served: use A, AAAA or CNAME",
                s.kind
            ));
        }
        for region in s.regions.values().chain(s.functions.keys()) {
            check_region(region, extra).map_err(|e| format!("service '{name}': {e}"))?;
        }
    }
    // One record set under two names with two profiles: a read-only or production profile
    // would guard it under one name and not the other (the same records changed either way).
    for (i, a) in services.iter().enumerate() {
        let same = |b: &&ServiceSettings| b.same_record_set(a);
        if let Some(b) = services[i + 1..]
            .iter()
            .find(|b| same(b) && b.profile != a.profile)
        {
            let profile = |s: &ServiceSettings| match &s.profile {
                Some(p) => format!("profile {p}"),
                None => "the session's strictest profile".to_string(),
            };
            return Err(format!(
                "services '{}' ({}) and '{}' ({}) name the same record set {} in zone {}: its \
                 changes would be guarded by one profile's tier under one name and not the other \
                 — give them the same profile (or keep one of them)",
                a.name,
                profile(a),
                b.name,
                profile(b),
                a.record_key(),
                a.zone_id()
            ));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn service(name: &str) -> ServiceSettings {
        ServiceSettings {
            name: name.into(),
            zone: "/hostedzone/Z1".into(),
            record: "api.example.com".into(),
            kind: "A".into(),
            profile: None,
            regions: BTreeMap::new(),
            functions: BTreeMap::new(),
        }
    }

    #[test]
    fn services_are_checked_before_anything_is_read() {
        assert!(check_services(&[service("checkout")], &[]).is_ok());
        assert_eq!(service("x").zone_id(), "Z1");
        let twice = check_services(&[service("a"), service("a")], &[]).unwrap_err();
        assert!(twice.contains("two [[service]]"), "{twice}");
        // One record set under two names: with one profile, fine; with two, refused.
        let mut ro = service("checkout-ro");
        ro.record = "API.example.com.".into();
        assert!(check_services(&[service("checkout"), ro.clone()], &[]).is_ok());
        ro.profile = Some("ro".into());
        let shared = check_services(&[service("checkout"), ro], &[]).unwrap_err();
        assert!(
            shared.contains(
                "'checkout' (the session's strictest profile) and 'checkout-ro' (profile ro)"
            ) && shared.contains("same record set api.example.com in zone Z1"),
            "{shared}"
        );
        let mut bad = service("a");
        bad.kind = "MX".into();
        assert!(check_services(&[bad], &[]).unwrap_err().contains("MX"));
        let mut bad = service("a");
        bad.regions.insert("blue".into(), "us-east-9".into());
        assert!(
            check_services(&[bad], &[])
                .unwrap_err()
                .contains("us-east-9")
        );
    }
}
