//! A change of a service's weights: validated against the record set, guarded, previewed as
//! state before → after, and written — compared again, one batch, awaited, read back.

use std::collections::BTreeMap;

use serde_json::{Value, json};

use super::drains::{drained_still, recorded};
use super::{Health, MAX_WEIGHT, Member, Routing, ServiceChange, ServiceView, read};
use crate::config::ServiceSettings;
use crate::ops::OpsError;
use crate::ops::audit::AuditLog;
use crate::provider::dns::DnsRecord;
use crate::provider::{ProviderError, RegionActions};

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
    /// Said in the preview, before its confirmation: it leaves no healthy region taking
    /// traffic (forced past the guard).
    pub warning: Option<String>,
    /// A restore, or the undo of a drain: it gives a region back, and the guard never refuses
    /// that (a failover primary given back while its check fails leaves Route 53 answering
    /// with the secondary, as it does now).
    pub gives_back: bool,
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
        if m.record.weight.is_none() && m.record.failover.is_none() {
            return Err(super::routes_otherwise(name, m));
        }
    }
    let failover = view.failover();
    let mut new: BTreeMap<usize, Routing> = BTreeMap::new();
    // A failover drain that puts back a region drained still, asked with --force.
    let mut past_drain: Option<String> = None;
    // A region's weight is the sum of its members': spread over them as they share it now
    // (evenly when they all weigh 0), the total exactly as asked.
    let by_region = |region: &str, weight: i64, new: &mut BTreeMap<usize, Routing>| {
        let members: Vec<(usize, i64)> = view
            .members
            .iter()
            .enumerate()
            .filter(|(_, m)| m.region.as_deref() == Some(region))
            .map(|(i, m)| (i, m.record.weight.unwrap_or(0)))
            .collect();
        let now: Vec<i64> = members.iter().map(|(_, w)| *w).collect();
        for ((i, _), share) in members.iter().zip(super::record::spread(weight, &now)) {
            new.insert(*i, Routing::Weight(share));
        }
    };
    // Failover: a region is drained by making it the secondary and the other the primary.
    let swap_from = |region: &str, new: &mut BTreeMap<usize, Routing>| {
        let primary_here = view.members.iter().any(|m| {
            m.region.as_deref() == Some(region) && m.record.failover.as_deref() == Some("PRIMARY")
        });
        if primary_here {
            for (i, m) in view.members.iter().enumerate() {
                let role = if m.region.as_deref() == Some(region) {
                    "SECONDARY"
                } else {
                    "PRIMARY"
                };
                new.insert(i, Routing::Failover(role.into()));
            }
        }
    };
    let by_id = |id: &str| {
        view.members
            .iter()
            .position(|m| m.record.set_id.as_deref() == Some(id))
            .ok_or_else(|| {
                OpsError::Conflict(
                    format!("record {id} of service {name} is gone: nothing changed").into(),
                )
            })
    };
    match change {
        ServiceChange::Drain(region) if failover => {
            known(region)?;
            swap_from(region, &mut new);
            // Draining the primary makes the other region the primary: one this machine
            // drained and never restored comes back by it. Said, and done only when asked.
            if let Some((other, when)) = drained_still(audit, &view, region)
                && !new.is_empty()
            {
                if !force {
                    return Err(OpsError::Refused(format!(
                        "draining {region} would make {other} the primary of service {name} \
                         again, and {other} is drained (by this machine's change of {when}): a failover \
                         pair always has one primary. To give {other} its traffic back, restore \
                         it (`lops service restore {name} --region {other}`); to drain {region} \
                         anyway, run `lops service drain {name} --region {region} --force` \
                         (typed confirmation)"
                    )));
                }
                past_drain = Some(format!(
                    "forced past the guard: {other}, drained by this machine's change of {when}, \
                     becomes the primary again"
                ));
            }
        }
        ServiceChange::Drain(region) => {
            known(region)?;
            by_region(region, 0, &mut new);
        }
        ServiceChange::Restore(region) => {
            known(region)?;
            let back = recorded(audit, settings, region, failover)?;
            // A region that takes traffic again at another weight (someone set it since the
            // drain) is not drained: putting back what the drain found would take traffic
            // from it. Already as the drain found it: nothing to do, said as such.
            let now: i64 = view
                .members
                .iter()
                .filter(|m| m.region.as_deref() == Some(region.as_str()))
                .filter_map(|m| m.record.weight)
                .sum();
            let wanted: i64 = back
                .iter()
                .filter_map(|(_, r)| match r {
                    Routing::Weight(w) => Some(*w),
                    Routing::Failover(_) => None,
                })
                .sum();
            // A refusal, not bad input: the weight someone set since is kept (exit 4).
            if !failover && now > 0 && now != wanted {
                return Err(OpsError::Refused(format!(
                    "{region} of service {name} is not drained (weight {now} now; its last \
                     drain found {wanted}): nothing to restore; set its weight with `lops \
                     service weights {name} {region}=N`"
                )));
            }
            for (id, routing) in back {
                new.insert(by_id(&id)?, routing);
            }
        }
        ServiceChange::Weights(_) if failover => return Err(super::no_weights(name)),
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
        ServiceChange::Members(list, _) => {
            for (id, routing) in list {
                if let Routing::Weight(w) = routing {
                    check_weight(*w)?;
                }
                new.insert(by_id(id)?, routing.clone());
            }
        }
    }
    let mut after_view = view.clone();
    let mut expected = Vec::new();
    let mut records = Vec::new();
    for (i, routing) in &new {
        let member = &mut after_view.members[*i];
        let same = match routing {
            Routing::Weight(w) => member.record.weight == Some(*w),
            Routing::Failover(role) => member.record.failover.as_deref() == Some(role.as_str()),
        };
        if same {
            continue;
        }
        if let Some(o) = &member.record.other_routing {
            return Err(OpsError::Invalid(format!(
                "service {name}: record {} also routes by {o}, which lops does not write: change it in Route 53",
                member.record.set_id.as_deref().unwrap_or_default()
            )));
        }
        expected.push(member.record.clone());
        match routing {
            Routing::Weight(w) => member.record.weight = Some(*w),
            Routing::Failover(role) => member.record.failover = Some(role.clone()),
        }
        records.push(member.record.clone());
    }
    let gives_back = matches!(
        change,
        ServiceChange::Restore(_) | ServiceChange::Members(_, true)
    );
    let forced = (guard(&after_view, &expected, &records, force || gives_back)?
        || past_drain.is_some())
        && !gives_back;
    // Past the guard (--force): said in the preview, before its typed confirmation, not only
    // after the write.
    let warning = leaves_none(&after_view, &expected, &records)
        .filter(|_| !gives_back)
        .map(|why| {
            format!(
                "forced past the guard: after this no healthy region of service {name} takes \
                 traffic ({why})"
            )
        })
        .or(past_drain);
    Ok(Planned {
        warning,
        target: name.clone(),
        before: view.state(),
        after: after_view.state(),
        expected,
        records,
        forced,
        gives_back,
    })
}

/// Whether a member is set to take traffic: weighted above 0, or the primary.
fn takes_traffic(m: &Member) -> bool {
    m.record.weight.unwrap_or(0) > 0 || m.record.failover.as_deref() == Some("PRIMARY")
}

/// Whether some member takes traffic and is healthy (or has no health check).
fn serves(view: &ServiceView) -> bool {
    view.members
        .iter()
        .filter(|m| takes_traffic(m))
        .any(|m| m.record.health_check.is_none() || m.health == Health::Healthy)
}

/// Whether no member takes traffic: none weighted above 0 (or primary), or every such one
/// known unhealthy. A health check that could not be read is not "dark" (the guard counts it
/// as not healthy, to be safe; a read-back does not claim an outage it did not see).
fn dark(view: &ServiceView) -> bool {
    !view
        .members
        .iter()
        .filter(|m| takes_traffic(m))
        .any(|m| m.record.health_check.is_none() || !matches!(m.health, Health::Unhealthy(_)))
}

/// The guard, one rule for the preview and the write: some region must still take traffic
/// with a health check that says healthy (or none: Route 53 then counts it healthy). All
/// weights 0 would spread traffic evenly over every member, drained ones included; an
/// unhealthy primary sends it all to the secondary, the drained region. Only a change that
/// takes traffic from somewhere is refused — a restore or an undo that gives it back never is.
/// Returns whether the change goes past it (`force`), which makes its confirmation typed.
fn guard(
    after: &ServiceView,
    expected: &[DnsRecord],
    records: &[DnsRecord],
    force: bool,
) -> Result<bool, OpsError> {
    let Some(why) = leaves_none(after, expected, records) else {
        return Ok(false);
    };
    if force {
        return Ok(true);
    }
    let name = &after.settings.name;
    // A failover pair has no weights to set: only its drain goes past the guard.
    let command = if after.members.iter().any(|m| m.record.failover.is_some()) {
        "`lops service drain` with --force"
    } else {
        "`lops service drain` or `lops service weights` with --force"
    };
    Err(OpsError::Refused(format!(
        "this would leave service {name} no healthy region taking traffic ({why}): to do it anyway, run {command} (typed confirmation)"
    )))
}

/// Why a change that takes traffic from somewhere leaves no healthy region taking it: each
/// member still set to take traffic with its health (`None`: some healthy one does, or the
/// change takes nothing away).
fn leaves_none(
    after: &ServiceView,
    expected: &[DnsRecord],
    records: &[DnsRecord],
) -> Option<String> {
    let takes_away = expected.iter().zip(records).any(|(was, will)| {
        will.weight.unwrap_or(0) < was.weight.unwrap_or(0)
            || (was.failover.as_deref() == Some("PRIMARY")
                && will.failover.as_deref() != Some("PRIMARY"))
    });
    if !takes_away || serves(after) {
        return None;
    }
    let why = after
        .members
        .iter()
        .filter(|m| takes_traffic(m))
        .map(|m| {
            format!(
                "{} {}",
                m.region.as_deref().unwrap_or("?"),
                match &m.health {
                    Health::Unhealthy(d) | Health::Unknown(d) | Health::Unread(d) =>
                        format!("{} ({d})", m.health.word()),
                    Health::Healthy | Health::None => m.health.word().into(),
                }
            )
        })
        .collect::<Vec<_>>();
    Some(match why.is_empty() {
        true => "every weight would be 0, and Route 53 then spreads traffic over every member"
            .to_string(),
        false => why.join(", "),
    })
}

/// The view with `records` written over its members (by set identifier).
fn with_records(view: &ServiceView, records: &[DnsRecord]) -> ServiceView {
    let mut out = view.clone();
    for m in &mut out.members {
        if let Some(r) = records.iter().find(|r| r.set_id == m.record.set_id) {
            m.record = r.clone();
        }
    }
    out
}

fn check_weight(weight: i64) -> Result<(), OpsError> {
    if !(0..=MAX_WEIGHT).contains(&weight) {
        return Err(OpsError::Invalid(format!(
            "weight {weight} is out of range: Route 53 weights are whole numbers 0 to {MAX_WEIGHT}"
        )));
    }
    Ok(())
}

/// Parses one Route 53 weight typed on its own (the dashboard's input for one region).
pub fn parse_weight(text: &str) -> Result<i64, OpsError> {
    let text = text.trim();
    if let Some(e) = signed(text) {
        return Err(e);
    }
    let weight = whole_weight(text).ok_or_else(|| {
        OpsError::Invalid(format!(
            "'{text}' is not a weight: give a whole number 0 to {MAX_WEIGHT}"
        ))
    })?;
    check_weight(weight)?;
    Ok(weight)
}

/// A weight as written: digits only. A sign is refused rather than read: `+5` may mean "5
/// more" (it set 5, nearly draining a region at 100), and `-0` is no weight.
fn whole_weight(text: &str) -> Option<i64> {
    (!text.is_empty() && text.bytes().all(|b| b.is_ascii_digit()))
        .then(|| text.parse().ok())
        .flatten()
}

/// Said of a weight written with a sign.
fn signed(text: &str) -> Option<OpsError> {
    text.trim().starts_with(['+', '-']).then(|| {
        OpsError::Invalid(format!(
            "'{}' has a sign: a weight is what the region gets, not a change of it — give a \
             whole number 0 to {MAX_WEIGHT}",
            text.trim()
        ))
    })
}

/// Parses `us-east-1=0,eu-west-1=100`.
pub fn parse_weights(text: &str) -> Result<Vec<(String, i64)>, OpsError> {
    let bad = |part: &str| {
        OpsError::Invalid(format!(
            "'{part}' is not REGION=WEIGHT: give e.g. us-east-1=0,eu-west-1=100 (whole numbers 0 to {MAX_WEIGHT})"
        ))
    };
    // Nothing given: the plan says how to give weights.
    if text.trim().is_empty() {
        return Ok(Vec::new());
    }
    let parsed: Vec<(String, i64)> = text
        .split(',')
        .map(str::trim)
        .map(|part| {
            // `a=1,` or `a=1,,b=2`: a typo, refused as the region lists refuse it.
            if part.is_empty() {
                return Err(OpsError::Invalid(format!(
                    "an empty pair in '{text}': separate REGION=WEIGHT pairs by single commas, \
                     without a trailing comma"
                )));
            }
            let (region, weight) = part.split_once('=').ok_or_else(|| bad(part))?;
            if region.trim().is_empty() {
                return Err(bad(part));
            }
            if let Some(e) = signed(weight) {
                return Err(e);
            }
            let weight = whole_weight(weight.trim()).ok_or_else(|| bad(part))?;
            check_weight(weight)?;
            Ok((region.trim().to_string(), weight))
        })
        .collect::<Result<_, _>>()?;
    // A region named twice is ambiguous: which weight was meant is not for lops to guess.
    for (i, (region, _)) in parsed.iter().enumerate() {
        if parsed[..i].iter().any(|(r, _)| r == region) {
            return Err(OpsError::Invalid(format!(
                "{region} is given twice: give each region one weight"
            )));
        }
    }
    Ok(parsed)
}

/// Compares the records again right before the write, writes them in one batch, waits up to
/// `wait` for Route 53 to have them everywhere, and reads the service back.
#[allow(clippy::too_many_arguments)]
pub async fn write<S: RegionActions>(
    source: &S,
    settings: &ServiceSettings,
    before: &Value,
    planned_after: &Value,
    expected: &[DnsRecord],
    records: &[DnsRecord],
    forced: bool,
    wait: std::time::Duration,
) -> Result<Value, OpsError> {
    // One change of this record set at a time on this machine, from the read below until
    // Route 53 has taken the change: a second lops then reads what this one wrote.
    let lock = super::lock::hold(settings).await?;
    // A read here that stalls sent nothing: never an unknown outcome.
    let now = read(source, settings).await.map_err(|e| match e {
        OpsError::Provider(p) => crate::ops::execute::unsent(p),
        other => other,
    })?;
    // Every member as the preview saw it — not only those written: the guard and the shares
    // the preview showed hold only for that record set.
    let changed = || {
        OpsError::Conflict(format!(
            "service {}: the record set changed since the preview ({}; now {}): nothing changed; run again to see the new state",
            settings.name,
            super::member_differences(before, &now.state(), None).join(", "),
            crate::ops::describe::describe(&now.state())
        ).into())
    };
    if !super::same_members(&now.state(), before) {
        return Err(changed());
    }
    for want in expected {
        let current = now
            .members
            .iter()
            .find(|m| m.record.set_id == want.set_id)
            .map(|m| &m.record);
        if current != Some(want) {
            return Err(changed());
        }
    }
    // The guard again, on the health read just now: a region that turned unhealthy since the
    // preview stops a drain that was safe then.
    guard(&with_records(&now, records), expected, records, forced)?;
    let change = match source.change_dns(settings.zone_id(), records).await {
        Ok(change) => change,
        // A server error may come after Route 53 carried the change out: read back, and one
        // found written is a change whose answer is not known (recorded with what it was to
        // make, undo takes it back), never "not made".
        Err(e @ ProviderError::Service(_)) if !crate::provider::may_have_landed(&e) => {
            let back = read(source, settings).await;
            let written = back.is_ok_and(|b| {
                (records.iter()).all(|want| b.members.iter().any(|m| m.record == *want))
            });
            return Err(OpsError::Provider(match written {
                true => ProviderError::Service(format!("{} {e}", crate::provider::WRITTEN_DESPITE)),
                false => e,
            }));
        }
        Err(e) => return Err(e.into()),
    };
    drop(lock);
    // The members this change wrote: what its undo puts back, and nothing another change
    // (another machine's, at the same time) wrote in the read-back below.
    let written: Vec<&str> = records.iter().filter_map(|r| r.set_id.as_deref()).collect();
    let (synced, sync_unread) = super::sync::wait(source, &change, wait).await;
    let back = match read(source, settings).await {
        Ok(back) => back,
        // Written, but not read back: the change stands (and is audited as made, as the
        // preview's after), and says it was not verified.
        Err(e) => {
            let mut after = planned_after.clone();
            after["written"] = json!(written);
            after["change"] = json!(change);
            after["insync"] = json!(synced);
            if let Some(why) = &sync_unread {
                after["insync_unread"] = json!(why);
            }
            after["not_verified"] = json!(e.to_string());
            return Ok(after);
        }
    };
    for want in records {
        let got = back
            .members
            .iter()
            .find(|m| m.record.set_id == want.set_id)
            .map(|m| &m.record);
        if got.map(|r| (r.weight, &r.failover)) != Some((want.weight, &want.failover)) {
            return Err(OpsError::Provider(ProviderError::Service(format!(
                "service {}: record {} reads back {} after the write, not {}",
                settings.name,
                want.set_id.as_deref().unwrap_or_default(),
                got.map_or("nothing".into(), DnsRecord::routing),
                want.routing()
            ))));
        }
    }
    let mut after = back.state();
    after["written"] = json!(written);
    after["change"] = json!(change);
    after["insync"] = json!(synced);
    if let Some(why) = &sync_unread {
        after["insync_unread"] = json!(why);
    }
    // Read back with no member taking traffic (two drains at once, each safe on its own
    // read): Route 53 then answers with every member, the drained ones too. Said, not hidden
    // (and a failure to a script, unless forced past the guard: see `Outcome::ended_badly`).
    let weighted = back.members.iter().all(|m| m.record.weight.is_some());
    if weighted && dark(&back) {
        after["serving"] = json!(false);
    }
    Ok(after)
}

#[cfg(test)]
#[path = "change_tests.rs"]
mod tests;
