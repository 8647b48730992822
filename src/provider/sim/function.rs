//! The simulated fleet read whole, as a backup reads a function: each version's configuration
//! and a small package of its own (downloaded from a `sim://` address), aliases, provisioned
//! concurrency, queue mappings. The demo has no URLs, policies, async configurations or layers.
//! `function_writes` is the other half: what a restore writes.

use base64::Engine;
use sha2::{Digest, Sha256};

use super::*;
use crate::provider::function::{
    AliasSnapshot, CodeLocation, EventSourceMapping, FunctionConfig, FunctionRead, FunctionReads,
    LayerVersion, Provisioned, PublishedVersion,
};
use crate::provider::{Trigger, TriggerKind};

const ACCOUNT: &str = "000000000000";

/// What a seeded function's `version` holds. Its `$LATEST` holds what was last published (the
/// demo's code does not change between deploys it did not make).
fn package(function: &str, version: &str) -> Vec<u8> {
    format!("demo package of {function}, version {version}\n").into_bytes()
}

/// `qualifier`'s (`$LATEST` or a number) configuration and package: what a restore put there,
/// else the seeded one.
pub(super) fn version_of(f: &SimFunction, qualifier: &str) -> (FunctionConfig, Vec<u8>) {
    match f.code.get(qualifier) {
        Some((config, bytes)) => (config.clone(), bytes.clone()),
        None => (
            config_of(f),
            package(&f.info.name, &code_version(f, Some(qualifier))),
        ),
    }
}

fn location(region: &str, function: &str, version: &str) -> String {
    format!("sim://{region}/{function}/{version}")
}

fn lambda_sha256(bytes: &[u8]) -> String {
    base64::engine::general_purpose::STANDARD.encode(Sha256::digest(bytes))
}

fn config_of(f: &SimFunction) -> FunctionConfig {
    FunctionConfig {
        runtime: f.info.runtime.clone(),
        handler: Some("index.handler".into()),
        role: format!("arn:aws:iam::{ACCOUNT}:role/{}-role", f.info.name),
        memory_size: f.info.memory_mb,
        timeout: f.info.timeout_s,
        architectures: vec!["x86_64".into()],
        package_type: Some(f.info.package_type.clone()),
        ..FunctionConfig::default()
    }
}

/// The version whose package `$LATEST` holds.
fn code_version(f: &SimFunction, qualifier: Option<&str>) -> String {
    match qualifier {
        Some(v) if v != "$LATEST" => v.to_string(),
        _ => f
            .info
            .versions
            .last()
            .cloned()
            .unwrap_or_else(|| "1".into()),
    }
}

/// A mapping as ListEventSourceMappings lists it: on the function itself (no qualifier).
fn mapping(t: &Trigger) -> Option<EventSourceMapping> {
    (t.kind == TriggerKind::Mapping).then(|| EventSourceMapping {
        uuid: t.id.clone(),
        source_arn: Some(t.source.clone()),
        state: Some(t.state.clone()),
        batch_size: Some(10),
        starting_position: None,
        maximum_batching_window: Some(0),
        qualifier: None,
    })
}

impl SimRegion {
    /// A read of one function, answered as the region answers (slow, or down in its outage).
    async fn read_function<T>(
        &self,
        name: &str,
        read: impl FnOnce(&SimFunction) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        self.answer(11).await?;
        self.with_function(name, |f| read(f))
    }
}

impl FunctionReads for SimRegion {
    async fn function_names(&self) -> Result<Vec<String>, ProviderError> {
        self.answer(12).await?;
        Ok(self.read().iter().map(|f| f.info.name.clone()).collect())
    }

    async fn function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionRead, ProviderError> {
        let region = self.scope.region.clone();
        self.read_function(name, |f| {
            if let Some(v) = qualifier.filter(|q| *q != "$LATEST")
                && !f.info.versions.iter().any(|x| x == v)
            {
                return Err(ProviderError::NotFound(format!(
                    "Function not found: {name}:{v}"
                )));
            }
            let version = qualifier.unwrap_or("$LATEST");
            let (config, bytes) = version_of(f, version);
            Ok(FunctionRead {
                arn: f.info.arn.clone(),
                config,
                code_sha256: lambda_sha256(&bytes),
                code_size: bytes.len() as u64,
                code: CodeLocation::Zip(Some(location(&region, name, version))),
                layer_sizes: Default::default(),
                reserved_concurrency: f.info.reserved_concurrency,
                tags: f.info.tags.clone(),
            })
        })
        .await
    }

    async fn published(&self, name: &str) -> Result<Vec<PublishedVersion>, ProviderError> {
        self.read_function(name, |f| {
            Ok(f.info
                .versions
                .iter()
                .map(|v| {
                    let (config, bytes) = version_of(f, v);
                    PublishedVersion {
                        version: v.clone(),
                        config,
                        code_sha256: lambda_sha256(&bytes),
                    }
                })
                .collect())
        })
        .await
    }

    async fn alias_routes(&self, name: &str) -> Result<Vec<AliasSnapshot>, ProviderError> {
        self.read_function(name, |f| {
            let mut all: Vec<AliasSnapshot> = f
                .info
                .aliases
                .iter()
                .map(|a| AliasSnapshot {
                    name: a.name.clone(),
                    function_version: a.function_version.clone(),
                    description: None,
                    weights: a.additional_weights.iter().cloned().collect(),
                })
                .collect();
            all.sort_by(|a, b| a.name.cmp(&b.name));
            Ok(all)
        })
        .await
    }

    async fn provisioned(&self, name: &str) -> Result<Vec<Provisioned>, ProviderError> {
        self.read_function(name, |f| {
            Ok(f.info
                .provisioned
                .iter()
                .map(|p| Provisioned {
                    qualifier: p.qualifier.clone(),
                    requested: p.requested.unwrap_or_default(),
                })
                .collect())
        })
        .await
    }

    async fn mappings(&self, name: &str) -> Result<Vec<EventSourceMapping>, ProviderError> {
        self.read_function(name, |f| {
            Ok(f.triggers.iter().filter_map(mapping).collect())
        })
        .await
    }

    async fn url_config(&self, name: &str) -> Result<serde_json::Value, ProviderError> {
        self.read_function(name, |_| Err(none("function URL", name)))
            .await
    }

    async fn policy(
        &self,
        name: &str,
        _qualifier: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        self.read_function(name, |_| Err(none("resource policy", name)))
            .await
    }

    async fn async_config(&self, name: &str) -> Result<serde_json::Value, ProviderError> {
        self.read_function(name, |_| Err(none("async invoke configuration", name)))
            .await
    }

    async fn layer_version(&self, arn: &str) -> Result<LayerVersion, ProviderError> {
        Err(ProviderError::NotFound(format!(
            "the demo has no layers: {arn}"
        )))
    }

    async fn newest_layer_version(&self, _layer: &str) -> Result<Option<String>, ProviderError> {
        Ok(None)
    }

    async fn download(&self, address: &str) -> Result<Vec<u8>, ProviderError> {
        let bad = || ProviderError::Service(format!("not a demo code address: {address}"));
        let rest = address.strip_prefix("sim://").ok_or_else(bad)?;
        let mut parts = rest.splitn(3, '/');
        let (Some(_region), Some(function), Some(version)) =
            (parts.next(), parts.next(), parts.next())
        else {
            return Err(bad());
        };
        self.read_function(function, |f| Ok(version_of(f, version).1))
            .await
    }
}

fn none(what: &str, function: &str) -> ProviderError {
    ProviderError::NotFound(format!("{function} has no {what}"))
}
