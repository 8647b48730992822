//! What a service change's audit record says: the change in words, the regions it moved, the
//! settings and members it names, and whether two recorded states hold the same members.

use std::collections::BTreeMap;

use serde_json::Value;

use super::{Routing, shares};
use crate::config::ServiceSettings;
use crate::provider::dns::DnsRecord;

/// `us-east-1 100 → 0 (50% → 0%), eu-west-1 100 (50% → 100%)`, or for failover
/// `us-east-1 PRIMARY → SECONDARY, eu-west-1 SECONDARY → PRIMARY`.
pub fn describe_change(before: &Value, after: &Value) -> String {
    let map = |v: &Value, key: &str| -> BTreeMap<String, Value> {
        v.get(key)
            .and_then(|w| serde_json::from_value(w.clone()).ok())
            .unwrap_or_default()
    };
    // Read back after the write, a region another change moved meanwhile is said as such: the
    // record names the members this one wrote (an audit line read as this drain's doing).
    let mine = written(after).map(|_| regions_changed(before, after));
    let theirs = |r: &str| match &mine {
        Some(mine) if !mine.iter().any(|m| m == r) => " by another change",
        _ => "",
    };
    let (rb, ra) = (map(before, "roles"), map(after, "roles"));
    if !rb.is_empty() {
        return rb
            .iter()
            .map(|(r, b)| {
                let b = b.as_str().unwrap_or_default();
                match ra.get(r).and_then(Value::as_str) {
                    Some(a) if a != b => format!("{r} {b} → {a}{}", theirs(r)),
                    _ => format!("{r} {b}"),
                }
            })
            .collect::<Vec<_>>()
            .join(", ");
    }
    let weights = |v: &Value| -> BTreeMap<String, i64> {
        map(v, "weights")
            .into_iter()
            .filter_map(|(k, w)| Some((k, w.as_i64()?)))
            .collect()
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
                format!("{wb} → {wa}{}", theirs(r))
            };
            format!(
                "{r} {weight} ({} → {}){}",
                pct(sb.get(r).copied().unwrap_or(0.0)),
                pct(sa.get(r).copied().unwrap_or(0.0)),
                members_moved(before, after, r)
            )
        })
        .collect::<Vec<_>>()
        .join(", ")
}

/// A region of several members whose weights change: how its members share it before → after
/// (` [blue-1 100 → 1, blue-2 50 → 0]`), which the region's sum alone does not say.
fn members_moved(before: &Value, after: &Value, region: &str) -> String {
    let of = |state: &Value| -> Vec<(String, i64)> {
        members_of(state)
            .filter(|m| m.get("region").and_then(Value::as_str) == Some(region))
            .filter_map(|m| {
                let id = m.get("set_id")?.as_str()?.to_string();
                Some((id, m.get("weight")?.as_i64()?))
            })
            .collect()
    };
    let (was, now) = (of(before), of(after));
    if was.len() < 2 || was == now {
        return String::new();
    }
    let each: Vec<String> = was
        .iter()
        .map(|(id, w)| match now.iter().find(|(n, _)| n == id) {
            Some((_, n)) if n != w => format!("{id} {w} → {n}"),
            _ => format!("{id} {w}"),
        })
        .collect();
    format!(" [{}]", each.join(", "))
}

/// The regions a service change moved (weight or failover role), as its record's before and
/// after say: the region it drained, not the home its Route 53 call went through.
pub fn regions_changed(before: &Value, after: &Value) -> Vec<String> {
    // The regions of the members it wrote, where its record says which (another machine's
    // change landing at the same time is in its read-back, not its doing).
    if let Some(ids) = written(after) {
        let out: Vec<String> = before
            .get("members")
            .and_then(Value::as_array)
            .into_iter()
            .flatten()
            .filter(|m| {
                m.get("set_id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| ids.contains(&id))
            })
            .filter_map(|m| m.get("region").and_then(Value::as_str).map(str::to_string))
            .fold(Vec::new(), |mut seen, region| {
                if !seen.contains(&region) {
                    seen.push(region);
                }
                seen
            });
        return out;
    }
    let map = |v: &Value, key: &str| -> BTreeMap<String, Value> {
        v.get(key)
            .and_then(|w| serde_json::from_value(w.clone()).ok())
            .unwrap_or_default()
    };
    let mut out = Vec::new();
    for key in ["weights", "roles"] {
        let (b, a) = (map(before, key), map(after, key));
        for (region, was) in &b {
            if a.get(region).is_some_and(|now| now != was) && !out.contains(region) {
                out.push(region.clone());
            }
        }
    }
    out
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

/// The members of a recorded state (none when it has no `members`).
fn members_of(state: &Value) -> impl Iterator<Item = &Value> {
    state
        .get("members")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
}

/// Set identifier → routing of every member in a recorded state.
pub fn member_routing(state: &Value) -> Vec<(String, Routing)> {
    members_of(state)
        .filter_map(|m| {
            let id = m.get("set_id")?.as_str()?.to_string();
            let routing = match (
                m.get("weight").and_then(Value::as_i64),
                m.get("failover").and_then(Value::as_str),
            ) {
                (Some(w), _) => Routing::Weight(w),
                (None, Some(role)) => Routing::Failover(role.to_string()),
                (None, None) => return None,
            };
            Some((id, routing))
        })
        .collect()
}

/// Whether two states hold the same members: whole records where both carry them (states
/// written by earlier lops carry only the routing, which is then compared).
pub fn same_members(a: &Value, b: &Value) -> bool {
    let records = |v: &Value| -> Option<Vec<Value>> {
        v.get("members")?
            .as_array()?
            .iter()
            .map(|m| m.get("record").cloned())
            .collect()
    };
    match (records(a), records(b)) {
        (Some(x), Some(y)) => x == y,
        _ => member_routing(a) == member_routing(b),
    }
}

/// The set identifiers a service change wrote, as its record's after says (`None`: a record
/// written by an earlier lops, which did not keep them).
pub fn written(after: &Value) -> Option<Vec<&str>> {
    after
        .get("written")
        .and_then(Value::as_array)
        .map(|ids| ids.iter().filter_map(Value::as_str).collect())
}

/// Whether the members `ids` names are the same in both states (what an undo compares: the
/// members its change wrote, not those another change wrote since).
pub fn same_written(a: &Value, b: &Value, ids: &[&str]) -> bool {
    let only = |state: &Value| {
        let mut out = state.clone();
        if let Some(members) = out.get_mut("members").and_then(Value::as_array_mut) {
            members.retain(|m| {
                m.get("set_id")
                    .and_then(Value::as_str)
                    .is_some_and(|id| ids.contains(&id))
            });
        }
        out
    };
    same_members(&only(a), &only(b))
}

/// What differs between two states of a record set, member by member (`ids`: only those),
/// each named by its set identifier: `red TTL 60 → 120`, `blue target a → b`, `+ member x`.
/// What a refusal shows, so the change that stopped it can be told from the weights.
pub fn member_differences(was: &Value, now: &Value, ids: Option<&[&str]>) -> Vec<String> {
    let members = |state: &Value| -> Vec<(String, DnsRecord)> {
        members_of(state)
            .filter_map(|m| {
                let record: DnsRecord = serde_json::from_value(m.get("record")?.clone()).ok()?;
                let id = record.set_id.clone().unwrap_or_else(|| record.name.clone());
                Some((id, record))
            })
            .filter(|(id, _)| ids.is_none_or(|ids| ids.contains(&id.as_str())))
            .collect()
    };
    let (was, now) = (members(was), members(now));
    let shown = |v: Option<String>| v.unwrap_or_else(|| "none".into());
    let mut out = Vec::new();
    for (id, before) in &was {
        let Some((_, after)) = now.iter().find(|(i, _)| i == id) else {
            out.push(format!("- member {id} (gone)"));
            continue;
        };
        let target = |r: &DnsRecord| match &r.alias {
            Some(a) => Some(a.dns_name.clone()),
            None => Some(r.values.join(",")),
        };
        let fields: [(&str, Option<String>, Option<String>); 5] = [
            (
                "weight",
                before.weight.map(|w| w.to_string()),
                after.weight.map(|w| w.to_string()),
            ),
            ("role", before.failover.clone(), after.failover.clone()),
            (
                "TTL",
                before.ttl.map(|t| t.to_string()),
                after.ttl.map(|t| t.to_string()),
            ),
            ("target", target(before), target(after)),
            (
                "health check",
                before.health_check.clone(),
                after.health_check.clone(),
            ),
        ];
        let said = out.len();
        for (what, b, a) in fields {
            if b != a {
                out.push(format!("{id} {what} {} → {}", shown(b), shown(a)));
            }
        }
        if out.len() == said && before != after {
            out.push(format!("{id} changed"));
        }
    }
    for (id, _) in &now {
        if !was.iter().any(|(i, _)| i == id) {
            out.push(format!("+ member {id} (new)"));
        }
    }
    out
}

/// `weight` spread over a region's members as they share it now (`current`), evenly when
/// they all weigh 0; whole numbers summing to `weight` exactly, each the nearest its share
/// allows (largest remainders first, earlier members on a tie). A member at 0 stays at 0 while
/// another weighs something: a drained member never takes the rounding.
pub fn spread(weight: i64, current: &[i64]) -> Vec<i64> {
    let n = current.len() as i64;
    if n == 0 {
        return Vec::new();
    }
    let total: i64 = current.iter().sum();
    let parts: Vec<i64> = match total > 0 {
        true => current.to_vec(),
        false => vec![1; current.len()],
    };
    let whole: i64 = parts.iter().sum();
    let mut out: Vec<i64> = parts.iter().map(|w| weight * w / whole).collect();
    let mut left = weight - out.iter().sum::<i64>();
    let mut order: Vec<usize> = (0..parts.len()).filter(|&i| parts[i] > 0).collect();
    // By the part each lost to rounding down, largest first (stable: earlier first on a tie).
    order.sort_by_key(|&i| std::cmp::Reverse(weight * parts[i] % whole));
    for i in order.into_iter().cycle() {
        if left <= 0 {
            break;
        }
        out[i] += 1;
        left -= 1;
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    fn state(members: &[(&str, i64, i64)]) -> Value {
        let members: Vec<Value> = members
            .iter()
            .map(|(id, weight, ttl)| {
                json!({"set_id": id, "record": {"name": "api.example.com", "type": "CNAME",
                    "set_id": id, "weight": weight, "ttl": ttl, "values": [format!("{id}.example.com")]}})
            })
            .collect();
        json!({ "members": members })
    }

    /// Read back after the write, a region another lops moved meanwhile is said as another
    /// change's, not this one's (an audit line blamed a drain for it).
    #[test]
    fn a_region_another_change_moved_is_said_as_theirs() {
        let member =
            |id: &str, region: &str, w: i64| json!({"set_id": id, "region": region, "weight": w});
        let before = json!({"weights": {"us-east-1": 100, "eu-west-1": 100}, "members": [
            member("blue", "us-east-1", 100), member("green", "eu-west-1", 100)]});
        let after = json!({"weights": {"us-east-1": 0, "eu-west-1": 0}, "written": ["blue"],
            "members": [member("blue", "us-east-1", 0), member("green", "eu-west-1", 0)]});
        assert_eq!(
            describe_change(&before, &after),
            "eu-west-1 100 → 0 by another change (50% → 50%), us-east-1 100 → 0 (50% → 50%)"
        );
        // A preview (nothing written yet) names no one.
        let mut asked = after.clone();
        asked.as_object_mut().map(|o| o.remove("written"));
        assert!(!describe_change(&before, &asked).contains("another"));
    }

    #[test]
    fn differences_name_the_member_and_what_changed_in_it() {
        let was = state(&[("blue", 100, 60), ("red", 50, 60)]);
        let now = state(&[("blue", 100, 60), ("red", 50, 120), ("green", 10, 60)]);
        assert_eq!(
            member_differences(&was, &now, None),
            ["red TTL 60 → 120", "+ member green (new)"]
        );
        // Only the members named: what an undo compares.
        assert!(member_differences(&was, &now, Some(&["blue"])).is_empty());
        let gone = state(&[("blue", 0, 60)]);
        assert_eq!(
            member_differences(&was, &gone, None),
            ["blue weight 100 → 0", "- member red (gone)"]
        );
    }

    #[test]
    fn a_regions_weight_is_spread_as_its_members_share_it_now() {
        // One member carrying 9 % of the region: the rounding goes to the one carrying most
        // (it all went to the last member listed).
        for (weight, want) in [(1, [1, 0]), (2, [2, 0]), (12, [11, 1]), (255, [232, 23])] {
            assert_eq!(spread(weight, &[100, 10]), want, "{weight}");
        }
        // A drained member listed last stays drained.
        assert_eq!(spread(51, &[100, 0]), [51, 0]);
        // All at 0: evenly, the rest to the first.
        assert_eq!(spread(10, &[0, 0, 0]), [4, 3, 3]);
        assert_eq!(spread(0, &[5, 5]), [0, 0]);
        for (weight, current) in [(255, vec![1, 1, 1]), (7, vec![3, 5, 0, 9])] {
            assert_eq!(spread(weight, &current).iter().sum::<i64>(), weight);
        }
    }
}
