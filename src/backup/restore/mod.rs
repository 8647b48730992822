//! Restore: compare a snapshot with the target function, work out the steps that make them equal,
//! and apply them with a journal of compensating steps, so that a failure half-way puts the
//! target back as it was. Rerunning a finished restore finds nothing to do.

mod apply;
mod difference;
pub mod image;
mod layers;
pub mod policy;
mod removal;
mod step;
mod undo;
mod wiring;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use super::BackupError;
use super::manifest::{AliasSnapshot, Code, FunctionConfig, Manifest, VersionSnapshot};
use super::store::Store;
use crate::provider::ProviderError;
use crate::provider::function::{
    CodeInput, FunctionReads, FunctionWrites, NewLayerVersion, NewMapping, UpdateState,
    whole_mappings,
};

pub use apply::{Restored, Runner};
pub use difference::{Difference, Target, difference, difference_among};
pub use removal::Removal;
pub use step::Step;

/// How a restore that failed and was undone whole ends its message (and its audit record):
/// it replaced nothing.
pub const UNDONE_WHOLE: &str = "every change was undone: the target is as it was";

/// Lambda takes packages up to this size inline; larger ones go by S3 reference.
pub const INLINE_LIMIT: u64 = 50 * 1024 * 1024;

/// What the target holds now.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Current {
    pub latest: Option<(FunctionConfig, String)>,
    /// Published versions: (number, configuration, Lambda code hash).
    pub versions: Vec<(String, FunctionConfig, String)>,
    pub aliases: Vec<AliasSnapshot>,
    pub reserved: Option<i32>,
    pub tags: BTreeMap<String, String>,
    /// Source ARNs of its event source mappings.
    pub mapping_sources: BTreeSet<String>,
    /// Its event source mappings, with their settings (compared with the snapshot's).
    pub mappings: Vec<crate::provider::function::EventSourceMapping>,
    pub arn: String,
    /// Its function URL's configuration, and its asynchronous invoke configuration (as a
    /// snapshot keeps them).
    pub url: Option<serde_json::Value>,
    pub async_invoke: Option<serde_json::Value>,
    /// Its resource policy's statements, as permissions.
    pub permissions: Vec<policy::Permission>,
    /// The ids of all its statements, also those AddPermission cannot write.
    pub statement_ids: BTreeSet<(String, Option<String>)>,
    /// The layer versions its configurations use → their content's Lambda hash.
    pub layers: BTreeMap<String, String>,
    /// Provisioned concurrency per alias or version.
    pub provisioned: BTreeMap<String, i32>,
}

/// Reads the target; `None` when it does not exist.
pub async fn read_current(
    reads: &impl FunctionReads,
    function: &str,
) -> Result<Option<Current>, BackupError> {
    let got = match reads.function(function, None).await {
        Ok(g) => g,
        Err(ProviderError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut current = Current {
        arn: got.arn.clone(),
        reserved: got.reserved_concurrency,
        tags: got.tags.clone(),
        latest: Some((got.config, got.code_sha256)),
        ..Default::default()
    };
    current.versions = reads
        .published(function)
        .await?
        .into_iter()
        .map(|v| (v.version, v.config, v.code_sha256))
        .collect();
    current.aliases = reads.alias_routes(function).await?;
    // Every page: a mapping missed here would be created twice.
    let alias_names: Vec<String> = current.aliases.iter().map(|a| a.name.clone()).collect();
    current.mappings = match whole_mappings(reads, function, &alias_names).await {
        Ok(all) => all,
        Err(ProviderError::NotFound(_) | ProviderError::Unsupported(_)) => Vec::new(),
        Err(e) => return Err(e.into()),
    };
    current.mapping_sources = current
        .mappings
        .iter()
        .filter_map(|m| m.source_arn.clone())
        .collect();
    // What it has not got reads as NotFound; an endpoint that does not serve a piece has none.
    fn absent_ok<T>(r: Result<T, ProviderError>) -> Result<Option<T>, BackupError> {
        match r {
            Ok(v) => Ok(Some(v)),
            Err(ProviderError::NotFound(_) | ProviderError::Unsupported(_)) => Ok(None),
            Err(e) => Err(e.into()),
        }
    }
    current.url = absent_ok(reads.url_config(function).await)?;
    current.async_invoke = absent_ok(reads.async_config(function).await)?;
    let alias_names: Vec<String> = current.aliases.iter().map(|a| a.name.clone()).collect();
    let document =
        absent_ok(crate::provider::function::whole_policy(reads, function, &alias_names).await)?
            .flatten()
            .unwrap_or_default();
    current.permissions = policy::parse(&document).0;
    current.statement_ids = policy::sids(&document);
    let used: BTreeSet<String> = current
        .latest
        .iter()
        .map(|(c, _)| c)
        .chain(current.versions.iter().map(|(_, c, _)| c))
        .flat_map(|c| c.layers.iter().cloned())
        .collect();
    // Only its own account's layers here can be copies a restore published.
    let mut home = current.arn.split(':').skip(3);
    let (region, account) = (home.next(), home.next());
    for arn in used {
        let mut parts = arn.split(':').skip(3);
        if parts.next() != region || parts.next() != account {
            continue;
        }
        match reads.layer_version(&arn).await {
            Ok(layer) => {
                current.layers.insert(arn, layer.code_sha256);
            }
            Err(ProviderError::NotFound(_)) => {}
            Err(e) => return Err(e.into()),
        }
    }
    current.provisioned = absent_ok(reads.provisioned(function).await)?
        .unwrap_or_default()
        .into_iter()
        .map(|p| (p.qualifier, p.requested))
        .collect();
    Ok(Some(current))
}

/// The newest version of each layer the snapshot stored, by the same name in the target's
/// region and account (ARN → Lambda's hash of its content): copies an earlier restore published.
pub async fn layer_copies(
    reads: &impl FunctionReads,
    manifest: &Manifest,
) -> Result<BTreeMap<String, String>, BackupError> {
    let mut copies = BTreeMap::new();
    let names: BTreeSet<&str> = manifest
        .layers
        .iter()
        .filter(|l| l.blob.is_some())
        .map(|l| layers::layer_name(&l.arn))
        .collect();
    for name in names {
        if let Some(arn) = reads.newest_layer_version(name).await? {
            match reads.layer_version(&arn).await {
                Ok(layer) => {
                    copies.insert(arn, layer.code_sha256);
                }
                Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(e.into()),
            }
        }
    }
    Ok(copies)
}

/// Deletes a function, its event source mappings and the layer versions published for it (what
/// a drill made), each failure named.
pub async fn remove_function(
    target: &impl FunctionWrites,
    function: &str,
    layers: &[String],
) -> Vec<String> {
    let mut failures = Vec::new();
    // Its aliases' too: Lambda lists a mapping on an alias only under the alias's name.
    let aliases: Vec<String> = match target.alias_routes(function).await {
        Ok(a) => a.into_iter().map(|a| a.name).collect(),
        Err(_) => Vec::new(),
    };
    match whole_mappings(target, function, &aliases).await {
        Ok(all) => {
            for m in all {
                if let Err(e) = target.delete_mapping(&m.uuid).await {
                    failures.push(format!("mapping {}: {e}", m.uuid));
                }
            }
        }
        Err(e) => failures.push(format!("its mappings: {e}")),
    }
    match target.delete_function(function, None).await {
        Ok(()) | Err(ProviderError::NotFound(_)) => {}
        Err(e) => failures.push(format!("{function}: {e}")),
    }
    for arn in layers {
        if let Err(e) = target.delete_layer_version(arn).await {
            failures.push(format!("layer version {arn}: {e}"));
        }
    }
    failures
}

#[cfg(test)]
mod tests;
