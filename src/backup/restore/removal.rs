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
    pub fn describe(&self) -> String {
        match self {
            Removal::Mapping(m) => format!(
                "remove event source mapping {} from {} ({}; a mapping made again starts \
                 from its source's position then)",
                m.uuid,
                m.source_arn.as_deref().unwrap_or("?"),
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

/// The removals that make the target hold no more than the snapshot, in an order Lambda takes
/// (what is on an alias before the alias), and what stays although the snapshot has it not.
pub(super) fn removals(manifest: &Manifest, current: &Current) -> (Vec<Step>, Vec<String>) {
    let mut steps = Vec::new();
    let mut stays = Vec::new();
    let snapshot_sources: Vec<&str> = (manifest.event_source_mappings.iter().flatten())
        .filter_map(|m| m.source_arn.as_deref())
        .collect();
    for m in &current.mappings {
        let source = m.source_arn.as_deref().unwrap_or_default();
        if !snapshot_sources
            .iter()
            .any(|s| super::difference::same_source(s, source))
        {
            steps.push(Removal::Mapping(m.clone()));
        }
    }
    let (kept, _) = (manifest.policy.as_deref())
        .map(policy::parse)
        .unwrap_or_default();
    for (sid, qualifier) in &current.statement_ids {
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
    if let (Some(url), None) = (&current.url, &manifest.function_url) {
        steps.push(Removal::Url(url.clone()));
    }
    if let (Some(config), None) = (&current.async_invoke, &manifest.async_invoke) {
        steps.push(Removal::AsyncInvoke(config.clone()));
    }
    let provisioned: Vec<&str> = (manifest.provisioned_concurrency.iter().flatten())
        .map(|p| p.qualifier.as_str())
        .collect();
    for (qualifier, value) in &current.provisioned {
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
    let published: Vec<&str> = (current.versions.iter())
        .map(|(n, _, _)| n.as_str())
        .filter(|n| !manifest.versions.iter().any(|v| v.version == *n))
        .collect();
    if !published.is_empty() {
        stays.push(format!(
            "published version(s) {} (versions are not deleted; no alias the snapshot has \
             routes to them)",
            published.join(", ")
        ));
    }
    (steps.into_iter().map(Step::Remove).collect(), stays)
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
                    target: m.qualifier.clone().unwrap_or_else(|| f.to_string()),
                    source_arn: m.source_arn.clone().unwrap_or_default(),
                    batch_size: m.batch_size,
                    starting_position: m.starting_position.clone(),
                    batching_window: m.maximum_batching_window,
                    enabled: m.state.as_deref() != Some("Disabled"),
                });
                super::apply::journaled(journal, Some(undo), target.delete_mapping(&m.uuid)).await
            }
            Removal::Permission(p) => {
                let undo = Undo::Permission {
                    sid: p.sid.clone(),
                    qualifier: p.qualifier.clone(),
                    put_back: Some(p.clone()),
                };
                let write = target.remove_permission(f, &p.sid, p.qualifier.as_deref());
                super::apply::journaled(journal, Some(undo), write).await
            }
            Removal::Url(config) => {
                let undo = Undo::Url(Some(config.clone()));
                let write = target.set_url(f, None, false);
                super::apply::journaled(journal, Some(undo), write).await
            }
            Removal::AsyncInvoke(config) => {
                let undo = Undo::AsyncInvoke(Some(config.clone()));
                let write = target.set_async_invoke(f, None);
                super::apply::journaled(journal, Some(undo), write).await
            }
            Removal::Provisioned { qualifier, value } => {
                let undo = Undo::Provisioned {
                    qualifier: qualifier.clone(),
                    put_back: Some(*value),
                };
                let write = target.set_provisioned(f, qualifier, None);
                super::apply::journaled(journal, Some(undo), write).await
            }
            Removal::Alias(a) => {
                let undo = Undo::CreateAlias(a.clone());
                let write = target.delete_alias(f, &a.name);
                super::apply::journaled(journal, Some(undo), write).await
            }
        }
    }
}
