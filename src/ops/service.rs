//! Services behind Route 53: each member of a record set mapped to a region, its health check,
//! and the plans that drain a region, restore it to its recorded weight, or set the weights —
//! previewed, guarded (never the last healthy region without `--force`), compared again right
//! before one atomic change batch, and undone from the audit record.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::OpsError;
use super::audit::AuditLog;
use crate::config::{KNOWN_REGIONS, ServiceSettings};
use crate::provider::dns::{DnsRecord, Health};
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
    /// Members by set identifier to these weights (what undo puts back).
    Members(Vec<(String, i64)>),
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
    host.split('.').find_map(|label| {
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
                    "routing": m.record.routing(),
                })
            })
            .collect();
        json!({
            "service": self.settings.name,
            "zone": self.settings.zone_id(),
            "record": self.settings.record,
            "type": self.settings.kind,
            "weights": self.weights(),
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
            None => Health::Unknown("no health check".into()),
            Some(id) => source
                .health_check(id)
                .await
                .unwrap_or_else(|e| Health::Unknown(e.to_string())),
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

/// Each member's weight in `region` before the last recorded drain of it (by set identifier).
fn recorded_weights(
    audit: Option<&AuditLog>,
    service: &str,
    region: &str,
) -> Result<Vec<(String, i64)>, OpsError> {
    let hint = format!("set its weight with `lops service weights {service} {region}=N`");
    let log = audit.ok_or_else(|| {
        OpsError::Invalid(format!(
            "restore needs the audit log, which is not available: {hint}"
        ))
    })?;
    let (records, _) = log
        .read()
        .map_err(|e| OpsError::Invalid(format!("cannot read the audit log: {e}")))?;
    let weight_in = |state: &Value| state.get("weights")?.get(region)?.as_i64();
    records
        .iter()
        .rev()
        .filter(|r| r.action == "service.drain" && r.result == "ok" && r.target == service)
        .find(|r| weight_in(&r.before).is_some_and(|w| w > 0) && weight_in(&r.after) == Some(0))
        .map(|r| {
            r.before
                .get("members")
                .and_then(Value::as_array)
                .into_iter()
                .flatten()
                .filter(|m| m.get("region").and_then(Value::as_str) == Some(region))
                .filter_map(|m| {
                    Some((
                        m.get("set_id")?.as_str()?.to_string(),
                        m.get("weight")?.as_i64()?,
                    ))
                })
                .collect::<Vec<_>>()
        })
        .filter(|members| !members.is_empty())
        .ok_or_else(|| {
            OpsError::Invalid(format!(
                "no drain of {region} for service {service} is recorded: {hint}"
            ))
        })
}

/// What a change of a service's weights comes to: the records to write (members whose
/// weight changes), the state before and after, whether it is forced past the guard.
#[derive(Debug, Clone, PartialEq)]
pub struct Planned {
    pub target: String,
    pub before: Value,
    pub after: Value,
    pub expected: Vec<DnsRecord>,
    pub records: Vec<DnsRecord>,
    pub forced: bool,
}

/// Validates and previews a change of the service's weights.
pub async fn plan<S: RegionActions>(
    source: &S,
    settings: &ServiceSettings,
    change: &ServiceChange,
    force: bool,
    audit: Option<&AuditLog>,
) -> Result<Planned, OpsError> {
    let view = read(source, settings).await?;
    let name = &settings.name;
    let regions = view.regions();
    let known = |region: &str| -> Result<(), OpsError> {
        if regions.iter().any(|r| r == region) {
            Ok(())
        } else {
            Err(OpsError::Invalid(format!(
                "region {region} does not serve service {name}: its regions are {}",
                regions.join(", ")
            )))
        }
    };
    // Every member must have a region and weighted routing before anything is changed.
    for m in &view.members {
        let id = m.record.set_id.as_deref().unwrap_or("(no set identifier)");
        if m.region.is_none() {
            return Err(OpsError::Invalid(format!(
                "service {name}: record {id} ({}) names no region: map it in its [[service]] entry, regions = {{ \"{id}\" = \"REGION\" }}",
                m.record.target()
            )));
        }
        if m.record.weight.is_none() {
            return Err(OpsError::Invalid(format!(
                "service {name}: record {id} routes by {}: lops changes weighted records only (change {} routing in Route 53)",
                m.record.routing(),
                m.record.routing()
            )));
        }
    }
    let mut new: BTreeMap<usize, i64> = BTreeMap::new();
    let by_region = |region: &str, weight: i64, new: &mut BTreeMap<usize, i64>| {
        for (i, m) in view.members.iter().enumerate() {
            if m.region.as_deref() == Some(region) {
                new.insert(i, weight);
            }
        }
    };
    let by_id = |id: &str| {
        view.members
            .iter()
            .position(|m| m.record.set_id.as_deref() == Some(id))
            .ok_or_else(|| {
                OpsError::Conflict(format!(
                    "record {id} of service {name} is gone: nothing changed"
                ))
            })
    };
    match change {
        ServiceChange::Drain(region) => {
            known(region)?;
            by_region(region, 0, &mut new);
        }
        ServiceChange::Restore(region) => {
            known(region)?;
            for (id, weight) in recorded_weights(audit, name, region)? {
                new.insert(by_id(&id)?, weight);
            }
        }
        ServiceChange::Weights(list) => {
            if list.is_empty() {
                return Err(OpsError::Invalid(format!(
                    "give weights: lops service weights {name} REGION=N[,REGION=N]"
                )));
            }
            for (region, weight) in list {
                known(region)?;
                check_weight(*weight)?;
                by_region(region, *weight, &mut new);
            }
        }
        ServiceChange::Members(list) => {
            for (id, weight) in list {
                check_weight(*weight)?;
                new.insert(by_id(id)?, *weight);
            }
        }
    }
    let mut after_view = view.clone();
    let mut expected = Vec::new();
    let mut records = Vec::new();
    for (i, weight) in &new {
        let member = &mut after_view.members[*i];
        if member.record.weight == Some(*weight) {
            continue;
        }
        if let Some(o) = &member.record.other_routing {
            return Err(OpsError::Invalid(format!(
                "service {name}: record {} also routes by {o}, which lops does not write: change it in Route 53",
                member.record.set_id.as_deref().unwrap_or_default()
            )));
        }
        expected.push(member.record.clone());
        member.record.weight = Some(*weight);
        records.push(member.record.clone());
    }
    // The guard: some region must still take traffic, with a health check that says healthy
    // (or none: Route 53 then counts it healthy). All weights 0 would spread traffic evenly
    // over every member, drained ones included.
    let serving: Vec<&Member> = after_view
        .members
        .iter()
        .filter(|m| m.record.weight.unwrap_or(0) > 0)
        .filter(|m| m.record.health_check.is_none() || m.health == Health::Healthy)
        .collect();
    let forced = !records.is_empty() && serving.is_empty();
    if forced && !force {
        let why = after_view
            .members
            .iter()
            .filter(|m| m.record.weight.unwrap_or(0) > 0)
            .map(|m| {
                format!(
                    "{} {}",
                    m.region.as_deref().unwrap_or("?"),
                    match &m.health {
                        Health::Unhealthy(d) | Health::Unknown(d) =>
                            format!("{} ({d})", m.health.word()),
                        Health::Healthy => "healthy".into(),
                    }
                )
            })
            .collect::<Vec<_>>();
        return Err(OpsError::Refused(format!(
            "this would leave service {name} no healthy region with weight ({}): pass --force to do it anyway (typed confirmation)",
            if why.is_empty() {
                "every weight would be 0, and Route 53 then spreads traffic over every member"
                    .to_string()
            } else {
                why.join(", ")
            }
        )));
    }
    Ok(Planned {
        target: name.clone(),
        before: view.state(),
        after: after_view.state(),
        expected,
        records,
        forced,
    })
}

fn check_weight(weight: i64) -> Result<(), OpsError> {
    if !(0..=MAX_WEIGHT).contains(&weight) {
        return Err(OpsError::Invalid(format!(
            "weight {weight} is out of range: Route 53 weights are whole numbers 0 to {MAX_WEIGHT}"
        )));
    }
    Ok(())
}

/// Parses `us-east-1=0,eu-west-1=100`.
pub fn parse_weights(text: &str) -> Result<Vec<(String, i64)>, OpsError> {
    let bad = |part: &str| {
        OpsError::Invalid(format!(
            "'{part}' is not REGION=WEIGHT: give e.g. us-east-1=0,eu-west-1=100 (whole numbers 0 to {MAX_WEIGHT})"
        ))
    };
    text.split(',')
        .map(str::trim)
        .filter(|p| !p.is_empty())
        .map(|part| {
            let (region, weight) = part.split_once('=').ok_or_else(|| bad(part))?;
            let weight: i64 = weight.trim().parse().map_err(|_| bad(part))?;
            check_weight(weight)?;
            Ok((region.trim().to_string(), weight))
        })
        .collect()
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

/// `us-east-1 100 → 0 (50% → 0%), eu-west-1 100 (50% → 100%)`.
pub fn describe_change(before: &Value, after: &Value) -> String {
    let weights = |v: &Value| -> BTreeMap<String, i64> {
        v.get("weights")
            .and_then(|w| serde_json::from_value(w.clone()).ok())
            .unwrap_or_default()
    };
    let (b, a) = (weights(before), weights(after));
    let (sb, sa) = (shares(&b), shares(&a));
    let pct = |s: f64| format!("{:.0}%", s * 100.0);
    b.keys()
        .map(|r| {
            let (wb, wa) = (b[r], a.get(r).copied().unwrap_or(b[r]));
            let weight = if wb == wa {
                format!("{wb}")
            } else {
                format!("{wb} → {wa}")
            };
            format!(
                "{r} {weight} ({} → {})",
                pct(sb.get(r).copied().unwrap_or(0.0)),
                pct(sa.get(r).copied().unwrap_or(0.0))
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// Compares the records again right before the write, writes them in one batch, waits up to
/// `wait` for Route 53 to have them everywhere, and reads the service back.
pub async fn write<S: RegionActions>(
    source: &S,
    settings: &ServiceSettings,
    expected: &[DnsRecord],
    records: &[DnsRecord],
    wait: std::time::Duration,
) -> Result<Value, OpsError> {
    let now = read(source, settings).await?;
    for want in expected {
        let current = now
            .members
            .iter()
            .find(|m| m.record.set_id == want.set_id)
            .map(|m| &m.record);
        if current != Some(want) {
            return Err(OpsError::Conflict(format!(
                "service {}: record {} changed since the preview (now {}): nothing changed; run again to see the new state",
                settings.name,
                want.set_id.as_deref().unwrap_or_default(),
                current.map_or("gone".to_string(), DnsRecord::routing)
            )));
        }
    }
    let change = source.change_dns(settings.zone_id(), records).await?;
    let started = std::time::Instant::now();
    let mut synced = false;
    while !change.is_empty() {
        match source.dns_change_synced(&change).await {
            Ok(true) => {
                synced = true;
                break;
            }
            Ok(false) => {}
            Err(e) => tracing::debug!(error = %e, "GetChange"),
        }
        if started.elapsed() >= wait {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    let back = read(source, settings).await?;
    for want in records {
        let got = back
            .members
            .iter()
            .find(|m| m.record.set_id == want.set_id)
            .and_then(|m| m.record.weight);
        if got != want.weight {
            return Err(OpsError::Provider(ProviderError::Service(format!(
                "service {}: record {} reads back weight {} after the write, not {}",
                settings.name,
                want.set_id.as_deref().unwrap_or_default(),
                got.map_or("none".into(), |w| w.to_string()),
                want.weight.unwrap_or_default()
            ))));
        }
    }
    let mut after = back.state();
    after["change"] = json!(change);
    after["insync"] = json!(synced);
    Ok(after)
}

/// The service settings an audit record names (for undo: the zone, record and type it wrote).
pub fn settings_of(before: &Value) -> Option<ServiceSettings> {
    let text = |k: &str| before.get(k).and_then(Value::as_str).map(str::to_string);
    let mut regions = BTreeMap::new();
    for m in before.get("members")?.as_array()? {
        if let (Some(id), Some(region)) = (
            m.get("set_id").and_then(Value::as_str),
            m.get("region").and_then(Value::as_str),
        ) {
            regions.insert(id.to_string(), region.to_string());
        }
    }
    Some(ServiceSettings {
        name: text("service")?,
        zone: text("zone")?,
        record: text("record")?,
        kind: text("type")?,
        profile: None,
        regions,
        functions: BTreeMap::new(),
    })
}

/// Set identifier → weight of every member in a recorded state.
pub fn member_weights(state: &Value) -> Vec<(String, i64)> {
    state
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|m| {
            Some((
                m.get("set_id")?.as_str()?.to_string(),
                m.get("weight")?.as_i64()?,
            ))
        })
        .collect()
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
/// session's scopes with the service's profile, or the first scope. Its tier and production
/// flag govern every change of the service.
pub fn home<S: crate::provider::RegionSource>(
    scopes: &[S],
    settings: &ServiceSettings,
) -> Result<usize, OpsError> {
    match &settings.profile {
        None if !scopes.is_empty() => Ok(0),
        None => Err(OpsError::Invalid("no scope in this session".into())),
        Some(p) => scopes
            .iter()
            .position(|s| s.scope().profile == *p)
            .ok_or_else(|| {
                OpsError::Invalid(format!(
                    "service {} is read with profile {p}: run with --profile {p}",
                    settings.name
                ))
            }),
    }
}

/// Invocations over the last `minutes` in one region: of the functions the service lists
/// there, else of the whole region.
pub async fn observed<S: crate::provider::RegionSource>(
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
        })
        .await?;
    if whole {
        return Ok(snapshot
            .region_totals
            .map_or(0.0, |t| sum_last(&t.invocations, minutes)));
    }
    Ok(snapshot
        .functions
        .values()
        .map(|m| sum_last(&m.invocations, minutes))
        .sum())
}

#[cfg(test)]
mod tests {
    use super::*;

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
    fn weights_parse_or_say_how_to_write_them() {
        assert_eq!(
            parse_weights("us-east-1=0, eu-west-1=100").unwrap(),
            [("us-east-1".into(), 0), ("eu-west-1".into(), 100)]
        );
        for bad in [
            "us-east-1",
            "us-east-1=1.7",
            "us-east-1=-1",
            "us-east-1=256",
            "=x",
        ] {
            let e = parse_weights(bad).unwrap_err().to_string();
            assert!(
                e.contains("0 to 255") || e.contains("out of range"),
                "{bad}: {e}"
            );
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
    }
}
