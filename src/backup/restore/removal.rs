//! `--exact`: what the target has and the snapshot has not is removed, each removal a step of
//! the restore with its undo journaled (so a failure puts it back), where a restore otherwise
//! leaves it as it is and says so. Restoring a safety snapshot this way puts the function back
//! as it was before the restore that took it: what that restore added goes.

use super::undo::Undo;
use super::*;
use crate::provider::function::{EventSourceMapping, Permission};

/// One piece of the target the snapshot has not.
#[derive(Debug, Clone, PartialEq)]
pub enum Removal {
    /// An event source mapping from a source the snapshot does not map (it stops delivering).
    Mapping(EventSourceMapping),
    Permission(Permission),
    Url(serde_json::Value),
    AsyncInvoke(serde_json::Value),
    Provisioned {
        qualifier: String,
        value: i32,
    },
    Alias(AliasSnapshot),
}

impl Removal {
    /// The alias it removes, or one its piece is on (a rollout driving it holds the restore).
    pub fn alias(&self) -> Option<&str> {
        fn on(q: Option<&str>) -> Option<&str> {
            q.filter(|q| !q.chars().all(|c| c.is_ascii_digit()))
        }
        match self {
            Removal::Alias(a) => Some(&a.name),
            Removal::Mapping(m) => on(m.qualifier.as_deref()),
            Removal::Permission(p) => on(p.qualifier.as_deref()),
            Removal::Provisioned { qualifier, .. } => on(Some(qualifier)),
            Removal::Url(_) | Removal::AsyncInvoke(_) => None,
        }
    }

    pub fn describe(&self) -> String {
        match self {
            Removal::Mapping(m) => format!(
                "remove event source mapping {} from {}{} ({}; a mapping made again starts \
                 from its source's position then)",
                m.uuid,
                m.source_arn.as_deref().unwrap_or("?"),
                m.qualifier
                    .as_ref()
                    .map(|q| format!(" on {q}"))
                    .unwrap_or_default(),
                m.state.as_deref().unwrap_or("state not known")
            ),
            Removal::Permission(p) => format!("remove permission {}", p.describe()),
            Removal::Url(config) => format!(
                "remove the function URL (auth {})",
                config["auth_type"].as_str().unwrap_or("?")
            ),
            Removal::AsyncInvoke(_) => "remove the asynchronous invoke configuration".into(),
            Removal::Provisioned { qualifier, value } => {
                format!("remove provisioned concurrency {value} on {qualifier}")
            }
            Removal::Alias(a) => format!(
                "remove alias {} ({}{})",
                a.name,
                crate::format::version(&a.function_version),
                a.weights
                    .iter()
                    .map(|(v, w)| format!(" + v{v} {}", crate::format::weight(*w)))
                    .collect::<String>()
            ),
        }
    }
}

/// What the target has and the snapshot has not is left as it is, and said.
pub(super) fn note_what_is_left(
    out: &mut Difference,
    manifest: &Manifest,
    current: Option<&Current>,
) {
    if let Some(c) = current {
        let mut extra = Vec::new();
        // A piece the snapshot could not read is not one it has not: not compared.
        let read = |piece| manifest.unread(piece).is_none();
        if c.url.is_some() && manifest.function_url.is_none() && read("function_url") {
            extra.push("its function URL".to_string());
        }
        if c.async_invoke.is_some() && manifest.async_invoke.is_none() && read("async_invoke") {
            extra.push("its asynchronous invoke configuration".to_string());
        }
        let (kept, _) = manifest
            .policy
            .as_deref()
            .map(policy::parse)
            .unwrap_or_default();
        let statements = c.statement_ids.iter().filter(|_| read("policy"));
        for (sid, qualifier) in statements {
            if !kept
                .iter()
                .any(|k| &k.sid == sid && &k.qualifier == qualifier)
            {
                extra.push(match qualifier {
                    Some(q) => format!("permission {sid} on {q}"),
                    None => format!("permission {sid}"),
                });
            }
        }
        // A mapping the snapshot has not keeps reading its source into the restored function.
        let snapshot_sources: Vec<&str> = manifest
            .event_source_mappings
            .iter()
            .flatten()
            .filter_map(|m| m.source_arn.as_deref())
            .collect();
        for m in c.mappings.iter().filter(|_| read("event_source_mappings")) {
            let Some(source) = m.source_arn.as_deref() else {
                continue;
            };
            if !snapshot_sources
                .iter()
                .any(|s| super::difference::same_source(s, source))
            {
                let state = m.state.as_deref().unwrap_or("state not known");
                extra.push(format!(
                    "event source mapping from {source} ({state}: it goes on delivering to it)"
                ));
            }
        }
        let provisioned = manifest.provisioned_concurrency.iter().flatten();
        let provisioned: Vec<&str> = provisioned.map(|p| p.qualifier.as_str()).collect();
        for q in c
            .provisioned
            .keys()
            .filter(|_| read("provisioned_concurrency"))
        {
            if !provisioned.contains(&q.as_str()) {
                extra.push(format!("provisioned concurrency on {q}"));
            }
        }
        if !extra.is_empty() {
            out.notes.push(format!(
                "the target has what the snapshot has not, left as it is (--exact removes it): \
                 {}",
                extra.join(", ")
            ));
        }
    }
}

/// The removals that make the target hold no more than the snapshot, in an order Lambda takes
/// (what is on an alias before the alias), and a note of what stays although the snapshot has
/// it not. A mapping removed from a source the snapshot maps is made as the snapshot has it
/// by the mappings' steps, after.
pub(super) fn removals(
    manifest: &Manifest,
    current: &Current,
    matched: &BTreeMap<String, String>,
) -> (Vec<Step>, Vec<String>) {
    let (mut steps, mut stays) = (Vec::new(), Vec::new());
    // A piece the snapshot could not read (its read failed, or the endpoint did not serve it)
    // is not one it has not: the target's are left as they are, said — never removed.
    let mut unread = Vec::new();
    let mut read = |piece: &str| match manifest.unread(piece) {
        Some(why) => {
            unread.push(format!("{} ({why})", piece.replace('_', " ")));
            false
        }
        None => true,
    };
    let (mappings_read, policy_read) = (read("event_source_mappings"), read("policy"));
    let (url_read, async_read) = (read("function_url"), read("async_invoke"));
    let provisioned_read = read("provisioned_concurrency");
    let snapshot_sources: Vec<&str> = (manifest.event_source_mappings.iter().flatten())
        .filter_map(|m| m.source_arn.as_deref())
        .collect();
    // The aliases that go: what is on them goes first.
    let removed: Vec<&str> = (current.aliases.iter())
        .filter(|a| !manifest.aliases.iter().any(|x| x.name == a.name))
        .map(|a| a.name.as_str())
        .collect();
    for m in &current.mappings {
        let Some(source) = m.source_arn.as_deref() else {
            // No source ARN (a self-managed Kafka cluster, say): not compared, and not one
            // that could be made again.
            stays.push(format!("event source mapping {}", m.uuid));
            continue;
        };
        let on_removed = m.qualifier.as_deref().is_some_and(|q| removed.contains(&q));
        let in_snapshot =
            (snapshot_sources.iter()).any(|s| super::difference::same_source(s, source));
        // One on an alias that goes cannot be the snapshot's: its alias is not.
        if on_removed || (!in_snapshot && mappings_read) {
            steps.push(Removal::Mapping(m.clone()));
        }
    }
    let (kept, _) = (manifest.policy.as_deref())
        .map(policy::parse)
        .unwrap_or_default();
    for (sid, qualifier) in current.statement_ids.iter().filter(|_| policy_read) {
        if kept
            .iter()
            .any(|k| &k.sid == sid && &k.qualifier == qualifier)
        {
            continue;
        }
        match (current.permissions.iter()).find(|p| &p.sid == sid && &p.qualifier == qualifier) {
            Some(p) => steps.push(Removal::Permission(p.clone())),
            // Removed, it could not be written back (by a failed restore's undo, or a
            // restore of this safety snapshot): left, said.
            None => stays.push(format!(
                "permission {sid} (AddPermission cannot write it back)"
            )),
        }
    }
    if let (Some(url), None, true) = (&current.url, &manifest.function_url, url_read) {
        steps.push(Removal::Url(url.clone()));
    }
    if let (Some(config), None, true) = (&current.async_invoke, &manifest.async_invoke, async_read)
    {
        steps.push(Removal::AsyncInvoke(config.clone()));
    }
    // The snapshot's, on an alias or on the target's number of a snapshot version.
    let provisioned: Vec<&str> = (manifest.provisioned_concurrency.iter().flatten())
        .map(|p| matched.get(&p.qualifier).unwrap_or(&p.qualifier).as_str())
        .collect();
    for (qualifier, value) in current.provisioned.iter().filter(|_| provisioned_read) {
        if !provisioned.contains(&qualifier.as_str()) {
            steps.push(Removal::Provisioned {
                qualifier: qualifier.clone(),
                value: *value,
            });
        }
    }
    for a in &current.aliases {
        if !manifest.aliases.iter().any(|x| x.name == a.name) {
            steps.push(Removal::Alias(a.clone()));
        }
    }
    // Those the snapshot's versions are not matched to (its aliases route to those).
    let published: Vec<&str> = (current.versions.iter())
        .map(|(n, _, _)| n.as_str())
        .filter(|n| !matched.values().any(|m| m == n))
        .collect();
    if !published.is_empty() {
        stays.push(format!(
            "published version(s) {} (versions are not deleted; no alias the snapshot has \
             routes to them)",
            published.join(", ")
        ));
    }
    let mut notes = Vec::new();
    if !unread.is_empty() {
        notes.push(format!(
            "the snapshot could not read the function's {}: the target's are left as they are \
             (--exact removes only what the snapshot is known not to have)",
            unread.join(", ")
        ));
    }
    if !stays.is_empty() {
        notes.push(format!(
            "the target has what the snapshot has not, left as it is: {}",
            stays.join(", ")
        ));
    }
    (steps.into_iter().map(Step::Remove).collect(), notes)
}

impl<W: FunctionWrites> Runner<'_, W> {
    /// Removes one piece, its undo (making it again) journaled first.
    pub(super) async fn remove(
        &self,
        f: &str,
        removal: &Removal,
        journal: &mut Vec<Undo>,
    ) -> Result<(), BackupError> {
        let target = self.target;
        match removal {
            Removal::Mapping(m) => {
                let undo = Undo::CreateMapping(NewMapping {
                    target: match &m.qualifier {
                        Some(q) => format!("{f}:{q}"),
                        None => f.to_string(),
                    },
                    source_arn: m.source_arn.clone().unwrap_or_default(),
                    batch_size: m.batch_size,
                    starting_position: m.starting_position.clone(),
                    batching_window: m.maximum_batching_window,
                    // As a restore makes one: delivering only if it was (one being disabled
                    // is not made delivering again).
                    enabled: (m.state.as_deref()).is_none_or(|s| s == "Enabled" || s == "Enabling"),
                });
                let write = target.delete_mapping(&m.uuid);
                kept(journal, undo, gone(write)).await
            }
            Removal::Permission(p) => {
                let undo = Undo::PutBackPermission(p.clone());
                let write = target.remove_permission(f, &p.sid, p.qualifier.as_deref());
                kept(journal, undo, gone(write)).await
            }
            Removal::Url(config) => {
                let undo = Undo::CreateUrl(config.clone());
                let write = target.set_url(f, None, false);
                kept(journal, undo, gone(write)).await
            }
            Removal::AsyncInvoke(config) => {
                let undo = Undo::AsyncInvoke(Some(config.clone()));
                let write = target.set_async_invoke(f, None);
                kept(journal, undo, gone(write)).await
            }
            Removal::Provisioned { qualifier, value } => {
                let undo = Undo::Provisioned {
                    qualifier: qualifier.clone(),
                    put_back: Some(*value),
                };
                let write = target.set_provisioned(f, qualifier, None);
                kept(journal, undo, gone(write)).await
            }
            Removal::Alias(a) => {
                let undo = Undo::CreateAlias(a.clone());
                let write = target.delete_alias(f, &a.name);
                kept(journal, undo, gone(write)).await
            }
        }
    }
}

/// A removal, its undo journaled first and kept whatever the answer: a removal whose first try
/// landed unanswered and whose retry failed is gone all the same. Each undo of a removal makes
/// the piece only where it is not there (see `undo.rs`), so one that never landed is left.
async fn kept(
    journal: &mut Vec<Undo>,
    undo: Undo,
    write: impl std::future::Future<Output = Result<(), ProviderError>>,
) -> Result<(), BackupError> {
    journal.push(undo);
    write.await.map_err(Into::into)
}

/// A removal that finds nothing to remove is done: an earlier try whose answer was lost
/// landed (the SDK's retry then finds it gone). Its undo stays journaled.
async fn gone(
    write: impl std::future::Future<Output = Result<(), ProviderError>>,
) -> Result<(), ProviderError> {
    match write.await {
        Err(ProviderError::NotFound(_)) => Ok(()),
        other => other,
    }
}
