//! Services behind Route 53: each member of a record set mapped to a region, its health check,
//! and the plans that drain a region, restore it to its recorded weight, or set the weights —
//! previewed, guarded (never the last healthy region without `--force`), compared again right
//! before one atomic change batch, and undone from the audit record.

use std::collections::BTreeMap;

use serde_json::{Value, json};

mod change;
mod drains;
mod lock;
mod record;
mod sync;

pub use change::{Planned, parse_weight, parse_weights, plan, write};
pub use record::{
    describe_change, member_differences, member_routing, regions_changed, same_members,
    same_written, settings_of, written,
};

use super::OpsError;
use crate::config::{KNOWN_REGIONS, ServiceSettings};
pub use crate::provider::dns::{DnsRecord, Health};
use crate::provider::{ProviderError, RegionActions};

/// The most a weighted record can carry.
pub const MAX_WEIGHT: i64 = 255;

/// What to do to a service's weights.
#[derive(Debug, Clone, PartialEq)]
pub enum ServiceChange {
    /// Weight 0 for every member in the region.
    Drain(String),
    /// The region back to the weight its last recorded drain found.
    Restore(String),
    /// These regions to these weights; the others stay.
    Weights(Vec<(String, i64)>),
    /// Members by set identifier to this routing (what undo puts back), and whether that gives
    /// a drained region back (the undo of a drain: never refused by the guard).
    Members(Vec<(String, Routing)>, bool),
}

/// What lops writes of a member: its weight, or its failover role.
#[derive(Debug, Clone, PartialEq)]
pub enum Routing {
    Weight(i64),
    /// PRIMARY or SECONDARY.
    Failover(String),
}

/// One member of the record set, where it sends traffic and how healthy that is.
#[derive(Debug, Clone, PartialEq)]
pub struct Member {
    /// `None`: neither the config, the record nor its target names a region.
    pub region: Option<String>,
    pub record: DnsRecord,
    pub health: Health,
}

/// A service as Route 53 has it now.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceView {
    pub settings: ServiceSettings,
    pub members: Vec<Member>,
}

/// The region a target host names (`abc.execute-api.eu-west-1.amazonaws.com`,
/// `x.lambda-url.us-east-1.on.aws`, `name-1.us-east-2.elb.amazonaws.com`,
/// `s3-website-us-east-1.amazonaws.com`).
pub fn region_in_target(target: &str) -> Option<String> {
    let host = target.trim_end_matches('.').to_ascii_lowercase();
    // Right to left: the AWS-assigned suffix wins over a name that merely contains a region.
    host.split('.').rev().find_map(|label| {
        KNOWN_REGIONS
            .iter()
            .find(|r| label == **r || label.ends_with(&format!("-{r}")))
            .map(|r| r.to_string())
    })
}

/// The member's region: the config's map by set identifier, else the record's own (latency),
/// else what its target names.
pub fn region_of(record: &DnsRecord, map: &BTreeMap<String, String>) -> Option<String> {
    record
        .set_id
        .as_ref()
        .and_then(|id| map.get(id).cloned())
        .or_else(|| record.region.clone())
        .or_else(|| region_in_target(&record.target()))
}

impl ServiceView {
    /// The configured weight per region (members of one region add up).
    pub fn weights(&self) -> BTreeMap<String, i64> {
        let mut out = BTreeMap::new();
        for m in &self.members {
            if let (Some(region), Some(w)) = (&m.region, m.record.weight) {
                *out.entry(region.clone()).or_insert(0) += w;
            }
        }
        out
    }

    pub fn regions(&self) -> Vec<String> {
        let mut out: Vec<String> = self
            .members
            .iter()
            .filter_map(|m| m.region.clone())
            .collect();
        out.sort();
        out.dedup();
        out
    }

    /// Whether the set routes by failover (a primary and a secondary) rather than weight.
    pub fn failover(&self) -> bool {
        self.members.iter().any(|m| m.record.failover.is_some())
    }

    /// The failover role per region.
    pub fn roles(&self) -> BTreeMap<String, String> {
        self.members
            .iter()
            .filter_map(|m| Some((m.region.clone()?, m.record.failover.clone()?)))
            .collect()
    }

    /// The share of traffic each region is configured to take: weight over the sum, or all
    /// of it for a failover primary.
    pub fn shares(&self) -> BTreeMap<String, f64> {
        if self.failover() {
            return self
                .roles()
                .into_iter()
                .map(|(r, role)| (r, if role == "PRIMARY" { 1.0 } else { 0.0 }))
                .collect();
        }
        // Over every weighted member, mapped to a region or not: Route 53 splits by all of them.
        let total: i64 = self.members.iter().filter_map(|m| m.record.weight).sum();
        let count = self
            .members
            .iter()
            .filter(|m| m.record.weight.is_some())
            .count();
        let per_member = |w: i64| {
            if total == 0 {
                1.0 / count.max(1) as f64
            } else {
                w as f64 / total as f64
            }
        };
        let mut out = BTreeMap::new();
        for m in &self.members {
            if let (Some(region), Some(w)) = (&m.region, m.record.weight) {
                *out.entry(region.clone()).or_insert(0.0) += per_member(w);
            }
        }
        out
    }

    /// The longest TTL of the set: how long resolvers may keep an old answer.
    pub fn ttl(&self) -> Option<i64> {
        self.members.iter().filter_map(|m| m.record.ttl).max()
    }

    /// What the audit log keeps as before and after: every member's weight.
    pub fn state(&self) -> Value {
        let members: Vec<Value> = self
            .members
            .iter()
            .map(|m| {
                json!({
                    "set_id": m.record.set_id,
                    "region": m.region,
                    "weight": m.record.weight,
                    "failover": m.record.failover,
                    "routing": m.record.routing(),
                    // The whole record: a target, health check or TTL changed since a preview
                    // is a change too.
                    "record": m.record,
                })
            })
            .collect();
        json!({
            "service": self.settings.name,
            "zone": self.settings.zone_id(),
            "record": self.settings.record,
            "type": self.settings.kind,
            "weights": self.weights(),
            "roles": self.roles(),
            "members": members,
            "ttl": self.ttl(),
        })
    }
}

/// Reads the record set and the health of every member's check (each check on its own: one
/// that cannot be read is `unknown`, not a failed service).
pub async fn read<S: RegionActions>(
    source: &S,
    settings: &ServiceSettings,
) -> Result<ServiceView, OpsError> {
    let records = source
        .dns_records(settings.zone_id(), &settings.record, &settings.kind)
        .await
        .map_err(|e| match e {
            ProviderError::NotFound(m) => OpsError::Invalid(format!(
                "service '{}': {m} (check zone in its [[service]] entry)",
                settings.name
            )),
            other => OpsError::Provider(other),
        })?;
    if records.is_empty() {
        return Err(OpsError::Invalid(format!(
            "service '{}': zone {} has no {} record named {} (check record and type in its [[service]] entry)",
            settings.name,
            settings.zone_id(),
            settings.kind,
            settings.record
        )));
    }
    let checks = records.iter().map(|r| async move {
        match &r.health_check {
            None => Health::None,
            Some(id) => source
                .health_check(id)
                .await
                .unwrap_or_else(|e| Health::Unread(e.to_string())),
        }
    });
    let health = futures::future::join_all(checks).await;
    let members = records
        .into_iter()
        .zip(health)
        .map(|(record, health)| Member {
            region: region_of(&record, &settings.regions),
            record,
            health,
        })
        .collect();
    Ok(ServiceView {
        settings: settings.clone(),
        members,
    })
}

/// The share each region would take: weight over the sum (all 0: equal shares).
pub fn shares(weights: &BTreeMap<String, i64>) -> BTreeMap<String, f64> {
    let total: i64 = weights.values().sum();
    weights
        .iter()
        .map(|(r, w)| {
            let share = if total == 0 {
                1.0 / weights.len().max(1) as f64
            } else {
                *w as f64 / total as f64
            };
            (r.clone(), share)
        })
        .collect()
}

/// Each region's share of what the service's regions took (`taken`: each region's
/// invocations, `None` where unread). While any region's load is unread there are no shares
/// at all: a share of part of the load, set against shares of the whole record set, would
/// flag drift that is not there (the same rule in both faces). A member of `view` no region is
/// known for takes load no read sees: it leaves the shares unread too.
pub fn observed_shares(
    view: &ServiceView,
    taken: &[(String, Option<f64>)],
) -> BTreeMap<String, Option<f64>> {
    let complete =
        taken.iter().all(|(_, n)| n.is_some()) && view.members.iter().all(|m| m.region.is_some());
    let total: f64 = taken.iter().filter_map(|(_, n)| *n).sum();
    taken
        .iter()
        .map(|(region, n)| {
            let share = n.filter(|_| complete && total > 0.0).map(|n| n / total);
            (region.clone(), share)
        })
        .collect()
}

/// `over` / `under` when the share a region really took is more than 5 points from the share
/// it is configured to take (the same rule in both faces).
pub fn drift(configured: Option<f64>, observed: Option<f64>) -> Option<&'static str> {
    match (configured, observed) {
        (Some(c), Some(o)) if crate::provider::drifts(c, o) => {
            Some(if o > c { "over" } else { "under" })
        }
        _ => None,
    }
}

/// The service the config names `name`.
pub fn find<'a>(
    services: &'a [ServiceSettings],
    name: &str,
) -> Result<&'a ServiceSettings, OpsError> {
    if services.is_empty() {
        return Err(OpsError::Invalid(
            "no service is configured: add a [[service]] entry (name, zone, record) to the config file".into(),
        ));
    }
    services.iter().find(|s| s.name == name).ok_or_else(|| {
        OpsError::Invalid(format!(
            "unknown service '{name}': the config file names {}",
            services
                .iter()
                .map(|s| s.name.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ))
    })
}

/// The scope that reads and changes a service's zone (Route 53 is global): the first of the
/// session's scopes with the service's profile; without one, the first scope of the strictest
/// profile (the lowest tier, then a production one), whatever the order profiles were
/// given in — `--profile default,ro` and `--profile ro,default` change a service alike. Its
/// tier and production flag govern every change of the service.
pub fn home<'a>(
    scopes: impl IntoIterator<Item = &'a crate::provider::Scope>,
    fleet: usize,
    settings: &ServiceSettings,
) -> Result<usize, OpsError> {
    let mut scopes = scopes.into_iter().peekable();
    match &settings.profile {
        // Among the profiles the session reads functions through (the first `fleet` scopes),
        // never those only another service's own profile brought in.
        None => scopes
            .take(fleet)
            .enumerate()
            .min_by_key(|(i, s)| (s.access.tier, !s.access.production, *i))
            .map(|(i, _)| i)
            .ok_or_else(|| OpsError::Invalid("no scope in this session".into())),
        Some(p) => scopes.position(|s| s.profile == *p).ok_or_else(|| {
            OpsError::Invalid(format!(
                "service {} is read with profile {p}, which this session could not use \
                 (`lops --profile {p} status` says why: an unknown name, or no credentials); \
                 if the name is wrong, mend the `profile` of its [[service]] in the config file",
                settings.name
            ))
        }),
    }
}

/// The scope a change of `settings` goes through: for a drain or a restore, the home profile's
/// scope in the region it moves, where the session has one — its result, audit record and
/// undo then name that region, not the first one read (Route 53 is reached from any);
/// otherwise the home.
pub fn home_for<'a>(
    scopes: impl IntoIterator<Item = &'a crate::provider::Scope>,
    fleet: usize,
    settings: &ServiceSettings,
    change: &ServiceChange,
) -> Result<usize, OpsError> {
    let scopes: Vec<&crate::provider::Scope> = scopes.into_iter().collect();
    let home = home(scopes.iter().copied(), fleet, settings)?;
    let region = match change {
        ServiceChange::Drain(r) | ServiceChange::Restore(r) => r,
        _ => return Ok(home),
    };
    let profile = &scopes[home].profile;
    Ok(scopes
        .iter()
        .position(|s| s.profile == *profile && s.region == *region)
        .unwrap_or(home))
}

/// Invocations over the last `minutes` in one region: of the functions the service lists
/// there, else of the whole region.
pub async fn observed<S: crate::provider::RegionActions>(
    source: &S,
    settings: &ServiceSettings,
    minutes: usize,
) -> Result<f64, ProviderError> {
    use crate::provider::{FunctionRef, MetricsRequest, TimeWindow, sum_last};
    let region = &source.scope().region;
    let functions: Vec<FunctionRef> = settings
        .functions
        .get(region)
        .into_iter()
        .flatten()
        .map(|name| FunctionRef {
            name: name.clone(),
            aliases: Vec::new(),
            percentiles: false,
        })
        .collect();
    let whole = functions.is_empty();
    let snapshot = source
        .metrics(&MetricsRequest {
            functions,
            window: TimeWindow::ending_at(chrono::Utc::now()),
            region_totals: whole,
            period_minutes: 1,
            only: None,
            every_figure: false,
        })
        .await?;
    // A load summed over part of what was asked is not the region's: unknown, said so.
    if snapshot.numbers_missing {
        return Err(ProviderError::Service(format!(
            "its load is unknown: GetMetricData answered in part ({})",
            snapshot.incomplete.as_deref().unwrap_or("numbers missing")
        )));
    }
    if whole {
        return Ok(snapshot
            .region_totals
            .map_or(0.0, |t| sum_last(&t.invocations, minutes)));
    }
    // A function that took nothing may not exist there (a typo in `functions`): its load would
    // read as 0, a region under its share that is not. Asked only of those that took nothing.
    let mut total = 0.0;
    for name in settings.functions.get(region).into_iter().flatten() {
        let took = snapshot
            .functions
            .get(name)
            .map_or(0.0, |m| sum_last(&m.invocations, minutes));
        if took == 0.0
            && let Err(ProviderError::NotFound(_)) = source.reserved_concurrency(name).await
        {
            return Err(ProviderError::NotFound(format!(
                "function {name}, listed for {region} in the `functions` of [[service]] {}, \
                 does not exist there: its load is unknown; fix the name in the config file",
                settings.name
            )));
        }
        total += took;
    }
    Ok(total)
}

/// A weight asked of a failover pair: refused, with what it takes instead (both faces say it
/// before a value is typed).
pub fn no_weights(name: &str) -> OpsError {
    OpsError::Invalid(format!(
        "service {name} routes by failover: it has no weights; drain or restore a region (its \
         primary and secondary swap)"
    ))
}

/// A member lops cannot change: it routes neither by weight nor by failover.
pub(super) fn routes_otherwise(name: &str, m: &Member) -> OpsError {
    let id = m.record.set_id.as_deref().unwrap_or("(no set identifier)");
    OpsError::Invalid(format!(
        "service {name}: record {id} routes by {}: lops changes weighted and failover records \
         only (change {} routing in Route 53)",
        m.record.routing(),
        m.record.routing()
    ))
}

/// Why no weight can be set on this service, if none can (a failover pair, or a member routed
/// otherwise): said by both faces before a value is typed, as the change refuses it.
pub fn weights_refused(view: &ServiceView) -> Option<OpsError> {
    if view.failover() {
        return Some(no_weights(&view.settings.name));
    }
    view.members
        .iter()
        .find(|m| m.record.weight.is_none() && m.record.failover.is_none())
        .map(|m| routes_otherwise(&view.settings.name, m))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A service of members all mapped to regions (their load is what `taken` says).
    fn view() -> ServiceView {
        ServiceView {
            settings: ServiceSettings {
                name: "checkout".into(),
                zone: "Z1".into(),
                record: "api.example.com".into(),
                kind: "CNAME".into(),
                profile: None,
                regions: BTreeMap::new(),
                functions: BTreeMap::new(),
            },
            members: Vec::new(),
        }
    }

    #[test]
    fn a_service_without_a_profile_is_changed_through_the_strictest_whatever_the_order() {
        use crate::config::{Access, Tier};
        use crate::provider::Scope;
        let scope =
            |p: &str, tier, production| Scope::new(p, "us-east-1", Access::new(tier, production));
        let default = scope("default", Tier::Change, false);
        let ro = scope("ro", Tier::Read, false);
        let prod = scope("prod", Tier::Change, true);
        let settings = view().settings;
        let home_of_fleet = |scopes: &[&Scope], fleet: usize| {
            let i = home(scopes.iter().copied(), fleet, &settings).expect("home");
            scopes[i].profile.clone()
        };
        let home_of = |scopes: &[&Scope]| {
            let i = home(scopes.iter().copied(), scopes.len(), &settings).expect("home");
            scopes[i].profile.clone()
        };
        assert_eq!(home_of(&[&default, &ro]), "ro");
        assert_eq!(home_of(&[&ro, &default]), "ro");
        // A read-only one refuses even beside a production one; among those that may change
        // it, the production one (its typed name).
        assert_eq!(home_of(&[&default, &prod, &ro]), "ro");
        assert_eq!(home_of(&[&prod, &ro]), "ro");
        assert_eq!(home_of(&[&default, &prod]), "prod");
        assert_eq!(home_of(&[&default]), "default");
        // Its own profile, when it names one.
        let mut named = settings.clone();
        named.profile = Some("default".into());
        let scopes = [&ro, &default];
        assert_eq!(home(scopes.iter().copied(), 2, &named).expect("home"), 1);
        // Another service's own profile, past the fleet's scopes: never this one's home.
        assert_eq!(home_of_fleet(&[&default, &prod], 1), "default");
    }

    #[test]
    fn shares_need_every_regions_load() {
        let read = |a: Option<f64>| {
            vec![
                ("us-east-1".to_string(), Some(15.0)),
                ("eu-west-1".to_string(), Some(45.0)),
                ("ap-southeast-2".to_string(), a),
            ]
        };
        let all = observed_shares(&view(), &read(Some(40.0)));
        assert_eq!(all["eu-west-1"], Some(0.45));
        // One region unread: no share anywhere, so no drift flagged on a part of the load.
        let part = observed_shares(&view(), &read(None));
        assert!(part.values().all(Option::is_none), "{part:?}");
        // Nothing taken anywhere: no share to compare.
        let none = observed_shares(&view(), &[("us-east-1".to_string(), Some(0.0))]);
        assert_eq!(none["us-east-1"], None);
    }

    #[test]
    fn targets_name_their_region() {
        for (target, region) in [
            (
                "abc123.execute-api.eu-west-1.amazonaws.com",
                Some("eu-west-1"),
            ),
            ("xyz.lambda-url.us-east-1.on.aws.", Some("us-east-1")),
            (
                "dualstack.my-lb-1.us-east-2.elb.amazonaws.com",
                Some("us-east-2"),
            ),
            (
                "s3-website-ap-southeast-2.amazonaws.com",
                Some("ap-southeast-2"),
            ),
            ("origin.example.com", None),
        ] {
            assert_eq!(region_in_target(target).as_deref(), region, "{target}");
        }
    }

    #[test]
    fn shares_follow_weights_and_all_zero_is_even() {
        let w: BTreeMap<String, i64> = [("a".into(), 0), ("b".into(), 100)].into();
        assert_eq!(shares(&w)["b"], 1.0);
        let zero: BTreeMap<String, i64> = [("a".into(), 0), ("b".into(), 0)].into();
        assert_eq!(shares(&zero)["a"], 0.5);
        let before = json!({"weights": {"us-east-1": 100, "eu-west-1": 100}});
        let after = json!({"weights": {"us-east-1": 0, "eu-west-1": 100}});
        assert_eq!(
            describe_change(&before, &after),
            "eu-west-1 100 (50% → 100%), us-east-1 100 → 0 (50% → 0%)"
        );
        // A region of two members: how they share it is said (its sum alone hid one going 0).
        let member =
            |id: &str, region: &str, w: i64| json!({"set_id": id, "region": region, "weight": w});
        let before = json!({"weights": {"us-east-1": 150, "eu-west-1": 100}, "members": [
            member("b1", "us-east-1", 100), member("b2", "us-east-1", 50), member("g", "eu-west-1", 100)]});
        let after = json!({"weights": {"us-east-1": 1, "eu-west-1": 100}, "members": [
            member("b1", "us-east-1", 1), member("b2", "us-east-1", 0), member("g", "eu-west-1", 100)]});
        let said = describe_change(&before, &after);
        assert!(
            said.ends_with("us-east-1 150 → 1 (60% → 1%) [b1 100 → 1, b2 50 → 0]"),
            "{said}"
        );
        assert!(said.starts_with("eu-west-1 100 (40% → 99%), "), "{said}");
    }
}
