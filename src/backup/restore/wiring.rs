//! The steps for what reaches a function from outside it — event source mappings, the URL,
//! asynchronous invoke destinations and the resource policy — rewritten to the target's region
//! and account, or named when they cannot be.

use super::difference::Difference;
use super::layers::region_account;
use super::*;
use crate::provider::function::EventSourceMapping;

/// A mapping the target has from the same source, with other settings than the snapshot's:
/// left as it is (never recreated, which would lose its position in the stream), and named
/// with what differs. `source`: the snapshot's source, or the same source here it was mapped to.
fn note_drift(
    out: &mut Difference,
    m: &EventSourceMapping,
    current: Option<&Current>,
    source: &str,
) {
    let Some(now) = current
        .into_iter()
        .flat_map(|c| &c.mappings)
        .find(|c| c.source_arn.as_deref() == Some(source))
    else {
        return;
    };
    let enabled = |s: &Option<String>| {
        s.as_deref()
            .map(|s| matches!(s, "Enabled" | "Enabling" | "Creating" | "Updating"))
    };
    let mut differs = Vec::new();
    if m.batch_size.is_some() && now.batch_size != m.batch_size {
        differs.push(format!(
            "batch size {} (snapshot {})",
            now.batch_size.unwrap_or_default(),
            m.batch_size.unwrap_or_default()
        ));
    }
    if m.maximum_batching_window.is_some()
        && now.maximum_batching_window != m.maximum_batching_window
    {
        differs.push(format!(
            "batching window {} s (snapshot {} s)",
            now.maximum_batching_window.unwrap_or_default(),
            m.maximum_batching_window.unwrap_or_default()
        ));
    }
    if let (Some(a), Some(b)) = (enabled(&now.state), enabled(&m.state))
        && a != b
    {
        let word = |e: bool| if e { "enabled" } else { "disabled" };
        differs.push(format!("{} (snapshot {})", word(a), word(b)));
    }
    if !differs.is_empty() {
        out.notes.push(format!(
            "event source mapping from {source} is {}: left as it is (`lops triggers` enables \
             or disables it)",
            differs.join(", ")
        ));
    }
}

/// Mappings whose source the target lacks; a source in another region only with
/// `map_sources` (the same source in the target's region).
pub(super) fn steps_for_mappings(
    out: &mut Difference,
    manifest: &Manifest,
    current: Option<&Current>,
    map_sources: bool,
    account: &str,
) {
    let region = out.region.clone();
    let region = region.as_str();
    for m in manifest.event_source_mappings.iter().flatten() {
        let Some(source) = &m.source_arn else {
            continue;
        };
        if current.is_some_and(|c| c.mapping_sources.contains(source)) {
            note_drift(out, m, current, source);
            continue;
        }
        let (source_region, source_account) = region_account(source);
        // Elsewhere: another region, or the snapshot's own account when the target is another
        // (a copy reading production's queue would take its messages). A third account's
        // source, shared on purpose, stays as it is.
        let other_region = !source_region.is_empty() && source_region != region;
        let other_account = source_account == manifest.account && account != manifest.account;
        let mut source = source.clone();
        if other_region || other_account {
            if !map_sources {
                let place = match (other_region, other_account) {
                    (true, false) => format!("{source_region}, not {region}"),
                    (false, _) => format!("account {source_account}, not account {account}"),
                    (true, true) => format!(
                        "{source_region} (account {source_account}), not {region} (account {account})"
                    ),
                };
                out.notes.push(format!(
                    "event source mapping from {source} is not restored: its source is in {place} (--map-sources maps it to the same source here)"
                ));
                continue;
            }
            // The same source in the target region and account (a queue or stream of the
            // same name).
            let mut parts: Vec<&str> = source.split(':').collect();
            if parts.len() > 4 {
                parts[3] = region;
                if other_account {
                    parts[4] = account;
                }
            }
            let mapped = parts.join(":");
            if current.is_some_and(|c| c.mapping_sources.contains(&mapped)) {
                note_drift(out, m, current, &mapped);
                continue;
            }
            source = mapped;
        }
        out.steps.push(Step::Mapping {
            source_arn: source.clone(),
            batch_size: m.batch_size,
            starting_position: m.starting_position.clone(),
            batching_window: m.maximum_batching_window,
            qualifier: m.qualifier.clone(),
            enabled: m
                .state
                .as_deref()
                .is_none_or(|s| s == "Enabled" || s == "Enabling"),
        });
    }
}

pub(super) fn steps_for_url_and_async(
    out: &mut Difference,
    manifest: &Manifest,
    current: Option<&Current>,
    account: &str,
) {
    // The URL's address is the target's own: everything else is compared.
    let without_address = |v: &serde_json::Value| {
        let mut v = v.clone();
        if let Some(o) = v.as_object_mut() {
            o.remove("url");
        }
        v
    };
    if let Some(url) = &manifest.function_url {
        let have = current.and_then(|c| c.url.as_ref());
        if have.map(without_address) != Some(without_address(url)) {
            out.steps.push(Step::Url {
                config: url.clone(),
                create: have.is_none(),
            });
        }
    }
    if let Some(config) = &manifest.async_invoke {
        // Destinations are kept as they are: said when they are elsewhere.
        let region = out.region.clone();
        let mut elsewhere: Vec<String> = Vec::new();
        collect_arns(config, &mut elsewhere);
        elsewhere.retain(|arn| {
            let (r, a) = region_account(arn);
            (!r.is_empty() && r != region) || (a == manifest.account && account != manifest.account)
        });
        for arn in elsewhere {
            out.notes.push(format!(
                "asynchronous invokes still go to {arn}, in another region or account: set the \
                 destination for {region} after the restore if that is not meant"
            ));
        }
    }
    if let Some(config) = &manifest.async_invoke
        && current.and_then(|c| c.async_invoke.as_ref()) != Some(config)
    {
        out.steps.push(Step::AsyncInvoke {
            config: config.clone(),
        });
    }
}

/// Every string in `v` that is an ARN.
fn collect_arns(v: &serde_json::Value, out: &mut Vec<String>) {
    match v {
        serde_json::Value::String(s) if s.starts_with("arn:") => out.push(s.clone()),
        serde_json::Value::Array(a) => a.iter().for_each(|x| collect_arns(x, out)),
        serde_json::Value::Object(o) => o.values().for_each(|x| collect_arns(x, out)),
        _ => {}
    }
}

/// Each statement the target lacks or holds otherwise, rewritten to its region and account.
pub(super) fn steps_for_policy(
    out: &mut Difference,
    manifest: &Manifest,
    current: Option<&Current>,
    account: &str,
) {
    let region = out.region.clone();
    if let Some(document) = &manifest.policy {
        let (permissions, notes) = super::policy::parse(document);
        out.notes.extend(notes);
        let mut rules = std::collections::BTreeSet::new();
        for p in permissions {
            let p = p.rewritten((&manifest.region, &manifest.account), (&region, account));
            // The permission lets a rule invoke the function; the rule is not the function's
            // and not in a snapshot.
            if p.principal == "events.amazonaws.com"
                && rules.insert(p.source_arn.clone().unwrap_or_default())
            {
                // What to recreate, and as whose target: the alias or version the statement
                // is on, else the function.
                let target = match &p.qualifier {
                    Some(q) => format!("{}:{q}", out.function),
                    None => out.function.clone(),
                };
                let which = match p.source_arn.as_deref() {
                    None => "any EventBridge rule (the statement names none)".to_string(),
                    Some(rule) if rule.contains('*') || rule.contains('?') => {
                        format!("the EventBridge rules matching {rule}")
                    }
                    Some(rule) if !rule.contains(&format!(":{account}:")) => {
                        format!("EventBridge rule {rule}, of another account")
                    }
                    Some(rule) => format!("EventBridge rule {rule}"),
                };
                let note = format!(
                    "the resource policy lets {which} invoke {target}, but EventBridge rules \
                     are not in a snapshot: none is restored (where one is missing, recreate \
                     it with {target} as its target)"
                );
                out.outside.push(super::difference::Outside {
                    rule: p.source_arn.clone(),
                    target,
                    note,
                });
            }
            let have = current.and_then(|c| {
                c.permissions
                    .iter()
                    .find(|x| x.sid == p.sid && x.qualifier == p.qualifier)
            });
            // A statement of that id lops cannot write back is not replaced: nothing could
            // put it back.
            let unwritable = have.is_none()
                && current.is_some_and(|c| {
                    c.statement_ids
                        .contains(&(p.sid.clone(), p.qualifier.clone()))
                });
            if unwritable {
                out.notes.push(format!(
                    "the target's resource policy statement '{}' has conditions AddPermission cannot write: left as it is, not replaced by the snapshot's",
                    p.sid
                ));
                continue;
            }
            if have != Some(&p) {
                out.steps.push(Step::Permission {
                    permission: p,
                    replaces: have.cloned(),
                });
            }
        }
    }
}
