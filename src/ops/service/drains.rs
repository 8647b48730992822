//! The drains this machine's audit log holds for a service's record set: what a restore puts
//! back, and whether a failover pair's region is drained still (so draining the other one,
//! which makes it the primary again, is not done without a word).

use serde_json::Value;

use super::{Routing, ServiceView, member_routing};
use crate::config::ServiceSettings;
use crate::ops::OpsError;
use crate::ops::audit::{AuditLog, Record};

/// The changes of this service's record set that landed or may have, newest first — by its record set,
/// whatever name the service had in the config then: drains, restores, weights and undos.
fn changes_of<'a>(
    records: &'a [Record],
    settings: &'a ServiceSettings,
) -> impl Iterator<Item = &'a Record> + 'a {
    let zone = settings.zone_id();
    records
        .iter()
        .rev()
        // Landed, or may have (no answer came, or its lops stopped while it ran): a drain whose
        // answer was lost is a drain all the same when its change is there.
        .filter(|r| r.result == "ok" || crate::ops::audit::outcome_unknown(&r.result))
        .filter(move |r| {
            // However the zone and record were written in either config (`/hostedzone/`, a
            // final dot, capitals): the record set DNS knows.
            r.before
                .get("zone")
                .and_then(Value::as_str)
                .map(|z| z.trim_start_matches("/hostedzone/"))
                == Some(zone)
                && r.before
                    .get("record")
                    .and_then(Value::as_str)
                    .map(crate::config::record_key)
                    == Some(settings.record_key())
                // An A and an AAAA set may share a name: the type is the set's too.
                && r.before
                    .get("type")
                    .and_then(Value::as_str)
                    .is_some_and(|t| t.eq_ignore_ascii_case(&settings.kind))
        })
}

fn role_in(state: &Value, region: &str) -> Option<String> {
    state
        .get("roles")?
        .get(region)?
        .as_str()
        .map(str::to_string)
}

/// What the last recorded drain of `region` changed, back as it was before it: the region's
/// members' weights, or every member's failover role (the drain swapped them).
pub(super) fn recorded(
    audit: Option<&AuditLog>,
    settings: &ServiceSettings,
    region: &str,
    failover: bool,
) -> Result<Vec<(String, Routing)>, OpsError> {
    let service = settings.name.as_str();
    // A failover pair has no weights: its regions swap back by draining the other one.
    let hint = match failover {
        true => format!(
            "a failover pair has no weights: make {region} the primary again by draining the \
             region that is (`lops service drain {service} --region OTHER`)"
        ),
        false => format!("set its weight with `lops service weights {service} {region}=N`"),
    };
    let log = audit.ok_or_else(|| {
        OpsError::Invalid(format!(
            "restore needs the audit log, which is not available: {hint}"
        ))
    })?;
    let (records, _) = log
        .read()
        .map_err(|e| OpsError::Invalid(format!("cannot read the audit log: {e}")))?;
    let weight_in = |state: &Value| state.get("weights")?.get(region)?.as_i64();
    let in_region = |state: &Value, set_id: &str| {
        state
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .any(|m| {
                m.get("set_id").and_then(Value::as_str) == Some(set_id)
                    && m.get("region").and_then(Value::as_str) == Some(region)
            })
    };
    changes_of(&records, settings)
        .filter(|r| r.action == "service.drain")
        .find_map(|r| {
            let members = member_routing(&r.before);
            // Only a drain that wrote this region's members (another machine's drain of it at
            // the same time is in this record's read-back, not its doing).
            let wrote = |id: &str| super::written(&r.after).is_none_or(|ids| ids.contains(&id));
            if weight_in(&r.before).is_some_and(|w| w > 0) && weight_in(&r.after) == Some(0) {
                let mine: Vec<_> = members
                    .into_iter()
                    .filter(|(id, _)| in_region(&r.before, id) && wrote(id))
                    .collect();
                return (!mine.is_empty()).then_some((r, mine));
            }
            let swapped = role_in(&r.before, region).as_deref() == Some("PRIMARY")
                && role_in(&r.after, region).as_deref() == Some("SECONDARY");
            swapped.then_some((r, members))
        })
        .ok_or_else(|| {
            OpsError::Invalid(format!(
                "no drain of {region} for service {service} is recorded in this machine's \
                 audit log (a drain made from another machine is in its own): {hint}"
            ))
        })
        .and_then(|(r, members)| {
            // A drain that got no answer may still land (a retry of it too) over the restore.
            match crate::ops::undo::in_flight(r) {
                Some(age) => Err(OpsError::Refused(format!(
                    "the drain of {region} got no answer {age} s ago and may still land (a \
                     retry of it too, over a restore): look again in a minute"
                ))),
                None => Ok(members),
            }
        })
}

/// A region of a failover pair, other than `region`, drained by this machine and drained
/// still: secondary now, and the last recorded change of its role was its own (a drain, or the
/// undo of its restore) and took it from the primary — an undo counting as the state before the
/// change it undid. Draining `region` would make it the primary again. Its region and that
/// change's time; none when the audit log cannot be read (the change's own record is what
/// "no audit, no change" guards).
pub(super) fn drained_still(
    audit: Option<&AuditLog>,
    view: &ServiceView,
    region: &str,
) -> Option<(String, String)> {
    let (records, _) = audit?.read().ok()?;
    let changes: Vec<&Record> = changes_of(&records, &view.settings).collect();
    view.roles()
        .into_iter()
        .filter(|(r, role)| r != region && role == "SECONDARY")
        .find_map(|(other, _)| {
            let drain = drain_in_force(&changes, &other)?;
            Some((other, drain.time.clone()))
        })
}

/// The change (newest first in `changes`) that drained `region` and stands: the last change
/// of its role was its own and took it from the primary. One of the other region's (its
/// restore, its drain) puts it back as it was; an undo stands for the state before the change
/// it undid (undoing a forced drain of the other region puts this one's drain back).
fn drain_in_force<'a>(changes: &[&'a Record], region: &str) -> Option<&'a Record> {
    let mut i = 0;
    while let Some(c) = changes.get(i) {
        i += 1;
        if role_in(&c.before, region) == role_in(&c.after, region) {
            continue;
        }
        let undone = (c.action == "undo")
            .then_some(c.undoes.as_ref())
            .flatten()
            .and_then(|id| changes.iter().position(|r| &r.id == id));
        if let Some(at) = undone.filter(|at| *at >= i) {
            i = at + 1;
            continue;
        }
        return (c.region == region
            && role_in(&c.before, region).as_deref() == Some("PRIMARY")
            && role_in(&c.after, region).as_deref() == Some("SECONDARY"))
        .then_some(*c);
    }
    None
}
