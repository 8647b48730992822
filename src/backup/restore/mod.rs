//! Restore: compare a snapshot with the target function, plan the steps that make them equal,
//! and apply them with a journal of compensating steps, so that a failure half-way puts the
//! target back as it was. Rerunning a finished restore finds nothing to do.

mod apply;
pub mod image;
mod layers;
mod plan;
pub mod policy;
mod step;
mod undo;
mod writes;

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    AliasRoutingConfiguration, Architecture, DeadLetterConfig, Environment, EphemeralStorage,
    EventSourcePosition, FunctionCode, PackageType, Runtime, TracingConfig, TracingMode, VpcConfig,
};

use super::BackupError;
use super::manifest::{AliasSnapshot, Code, FunctionConfig, Manifest, VersionSnapshot};
use super::read::config_of;
use super::store::Store;
use crate::provider::ProviderError;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;

use crate::provider::aws::{Clients, classify, every_page};

pub use apply::{Restored, Runner};
pub use plan::{RestorePlan, plan, plan_among};
pub use step::Step;
use writes::*;

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
    pub arn: String,
    /// Its function URL's configuration, and its asynchronous invoke configuration (as a
    /// snapshot keeps them).
    pub url: Option<serde_json::Value>,
    pub async_invoke: Option<serde_json::Value>,
    /// Its resource policy's statements, as permissions.
    pub permissions: Vec<policy::Permission>,
    /// The ids of all its statements, also those AddPermission cannot write.
    pub statement_ids: BTreeSet<String>,
    /// The layer versions its configurations use → their content's Lambda hash.
    pub layers: BTreeMap<String, String>,
    /// Provisioned concurrency per alias or version.
    pub provisioned: BTreeMap<String, i32>,
}

/// Reads the target; `None` when it does not exist.
pub async fn read_current(
    clients: &Clients,
    function: &str,
) -> Result<Option<Current>, BackupError> {
    let t = clients.operation_timeout.as_secs_f64();
    let lambda = &clients.lambda;
    let request = lambda.get_function().function_name(function).send();
    let got = match clients.call(&clients.get_function_limit, request).await {
        Ok(g) => g,
        Err(ProviderError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let mut current = head_of(&got);
    let config = got
        .configuration()
        .cloned()
        .unwrap_or_else(|| aws_sdk_lambda::types::FunctionConfiguration::builder().build());
    current.latest = Some((
        config_of(&config),
        config.code_sha256().unwrap_or_default().into(),
    ));
    current.versions = super::read::published(clients, function)
        .await?
        .iter()
        .map(|v| {
            (
                v.version().unwrap_or_default().to_string(),
                config_of(v),
                v.code_sha256().unwrap_or_default().to_string(),
            )
        })
        .collect();
    current.aliases = super::read::aliases_of(clients, function).await?;
    // Every page: a mapping missed here would be created twice.
    let pages = lambda
        .list_event_source_mappings()
        .function_name(function)
        .into_paginator()
        .send();
    let more = |p: &ListEventSourceMappingsOutput| p.next_marker().is_some_and(|m| !m.is_empty());
    let mut sources = BTreeSet::new();
    let read = every_page(&clients.lambda_limit, t, pages, more, |page| {
        let arns = page.event_source_mappings().iter();
        sources.extend(arns.filter_map(|m| m.event_source_arn().map(str::to_string)));
    });
    match read.await {
        Ok(()) | Err(ProviderError::NotFound(_) | ProviderError::Unsupported(_)) => {}
        Err(e) => return Err(e.into()),
    }
    current.mapping_sources = sources;
    // What it has not got reads as NotFound; an endpoint that does not serve a piece has none.
    let absent_ok = |r: Result<serde_json::Value, ProviderError>| match r {
        Ok(v) => Ok(Some(v)),
        Err(ProviderError::NotFound(_) | ProviderError::Unsupported(_)) => Ok(None),
        Err(e) => Err(BackupError::Provider(e)),
    };
    current.url = absent_ok(super::read::url_config(clients, function).await)?;
    current.async_invoke = absent_ok(super::read::async_config(clients, function).await)?;
    let request = lambda.get_policy().function_name(function).send();
    let document = match clients.lambda_call(request).await {
        Ok(out) => out.policy().unwrap_or_default().to_string(),
        Err(ProviderError::NotFound(_) | ProviderError::Unsupported(_)) => String::new(),
        Err(e) => return Err(e.into()),
    };
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
    let (region, account) = (&clients.scope.region, current.arn.split(':').nth(4));
    for arn in used {
        let mut parts = arn.split(':').skip(3);
        if parts.next() != Some(region.as_str()) || parts.next() != account {
            continue;
        }
        match super::read::layer_version(clients, &arn).await {
            Ok(layer) => {
                current.layers.insert(arn, layer.code_sha256);
            }
            Err(ProviderError::NotFound(_)) => {}
            Err(e) => return Err(BackupError::Provider(e)),
        }
    }
    current.provisioned = match super::read::provisioned(clients, function).await {
        Ok(all) => all
            .into_iter()
            .map(|p| (p.qualifier, p.requested))
            .collect(),
        Err(ProviderError::NotFound(_) | ProviderError::Unsupported(_)) => BTreeMap::new(),
        Err(e) => return Err(BackupError::Provider(e)),
    };
    Ok(Some(current))
}

/// The newest version of each layer the snapshot stored, by the same name in `clients`' region
/// and account (ARN → Lambda's hash of its content): copies an earlier restore published.
pub async fn layer_copies(
    clients: &Clients,
    manifest: &Manifest,
) -> Result<BTreeMap<String, String>, BackupError> {
    let t = clients.operation_timeout.as_secs_f64();
    let mut copies = BTreeMap::new();
    let names: BTreeSet<&str> = manifest
        .layers
        .iter()
        .filter(|l| l.blob.is_some())
        .map(|l| layers::layer_name(&l.arn))
        .collect();
    for name in names {
        clients.lambda_limit.acquire_first().await;
        let newest = match clients
            .lambda
            .list_layer_versions()
            .layer_name(name)
            .max_items(1)
            .send()
            .await
        {
            Ok(out) => out
                .layer_versions()
                .first()
                .and_then(|v| v.layer_version_arn())
                .map(str::to_string),
            Err(e) => match classify(e, t) {
                ProviderError::NotFound(_) => None,
                other => return Err(BackupError::Provider(other)),
            },
        };
        if let Some(arn) = newest {
            match super::read::layer_version(clients, &arn).await {
                Ok(layer) => {
                    copies.insert(arn, layer.code_sha256);
                }
                Err(ProviderError::NotFound(_)) => {}
                Err(e) => return Err(BackupError::Provider(e)),
            }
        }
    }
    Ok(copies)
}

/// Deletes a function, its event source mappings and the layer versions published for it (what
/// a drill made), each failure named.
pub async fn remove_function(clients: &Clients, function: &str, layers: &[String]) -> Vec<String> {
    let t = clients.operation_timeout.as_secs_f64();
    let mut failures = Vec::new();
    clients.lambda_limit.acquire_first().await;
    match clients
        .lambda
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => {
            for uuid in out.event_source_mappings().iter().filter_map(|m| m.uuid()) {
                clients.lambda_limit.acquire_first().await;
                if let Err(e) = clients
                    .lambda
                    .delete_event_source_mapping()
                    .uuid(uuid)
                    .send()
                    .await
                {
                    failures.push(format!("mapping {uuid}: {}", classify(e, t)));
                }
            }
        }
        Err(e) => failures.push(format!("its mappings: {}", classify(e, t))),
    }
    clients.lambda_limit.acquire_first().await;
    if let Err(e) = clients
        .lambda
        .delete_function()
        .function_name(function)
        .send()
        .await
    {
        match classify(e, t) {
            ProviderError::NotFound(_) => {}
            other => failures.push(format!("{function}: {other}")),
        }
    }
    for arn in layers {
        if let Err(e) = delete_layer_version(clients, arn).await {
            failures.push(format!("layer version {arn}: {e}"));
        }
    }
    failures
}

#[cfg(test)]
mod tests;
