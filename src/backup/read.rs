//! What a snapshot and a restore read of a function: its configuration as the manifest keeps
//! it, its published versions, its aliases.

use aws_sdk_lambda::types::FunctionConfiguration;

use super::manifest::{AliasSnapshot, FunctionConfig};
use crate::provider::ProviderError;
use aws_sdk_lambda::operation::list_aliases::ListAliasesOutput;
use aws_sdk_lambda::operation::list_provisioned_concurrency_configs::ListProvisionedConcurrencyConfigsOutput;
use aws_sdk_lambda::operation::list_versions_by_function::ListVersionsByFunctionOutput;

use crate::provider::aws::{Clients, every_page};

pub fn config_of(c: &FunctionConfiguration) -> FunctionConfig {
    FunctionConfig {
        runtime: c.runtime().map(|r| r.as_str().to_string()),
        handler: c.handler().map(str::to_string),
        role: c.role().unwrap_or_default().to_string(),
        description: c
            .description()
            .filter(|d| !d.is_empty())
            .map(str::to_string),
        memory_size: c.memory_size(),
        timeout: c.timeout(),
        environment: c
            .environment()
            .and_then(|e| e.variables())
            .map(|v| v.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        layers: c
            .layers()
            .iter()
            .filter_map(|l| l.arn().map(str::to_string))
            .collect(),
        subnet_ids: c
            .vpc_config()
            .map(|v| v.subnet_ids().to_vec())
            .unwrap_or_default(),
        security_group_ids: c
            .vpc_config()
            .map(|v| v.security_group_ids().to_vec())
            .unwrap_or_default(),
        architectures: c
            .architectures()
            .iter()
            .map(|a| a.as_str().to_string())
            .collect(),
        ephemeral_storage: c.ephemeral_storage().map(|e| e.size()),
        dead_letter_target: c
            .dead_letter_config()
            .and_then(|d| d.target_arn())
            .map(str::to_string),
        tracing_mode: c
            .tracing_config()
            .and_then(|t| t.mode())
            .map(|m| m.as_str().to_string())
            .filter(|m| m != "PassThrough"),
        kms_key_arn: c
            .kms_key_arn()
            .filter(|k| !k.is_empty())
            .map(str::to_string),
        package_type: c.package_type().map(|p| p.as_str().to_string()),
    }
}

/// A function's published versions (not `$LATEST`), oldest first, paginated to the end.
pub async fn published(
    clients: &Clients,
    function: &str,
) -> Result<Vec<FunctionConfiguration>, ProviderError> {
    let mut all = Vec::new();
    let pages = clients
        .lambda
        .list_versions_by_function()
        .function_name(function)
        .into_paginator()
        .send();
    let more = |p: &ListVersionsByFunctionOutput| p.next_marker().is_some_and(|m| !m.is_empty());
    every_page(
        &clients.lambda_limit,
        timeout(clients),
        pages,
        more,
        |page| {
            all.extend(
                page.versions()
                    .iter()
                    .filter(|v| v.version().is_some_and(|n| n != "$LATEST" && !n.is_empty()))
                    .cloned(),
            );
        },
    )
    .await?;
    all.sort_by_key(|v| {
        v.version()
            .and_then(|n| n.parse::<u64>().ok())
            .unwrap_or(u64::MAX)
    });
    Ok(all)
}

/// A function's aliases with their routing, by name, paginated to the end.
pub async fn aliases_of(
    clients: &Clients,
    function: &str,
) -> Result<Vec<AliasSnapshot>, ProviderError> {
    let mut aliases = Vec::new();
    let pages = clients
        .lambda
        .list_aliases()
        .function_name(function)
        .into_paginator()
        .send();
    let more = |p: &ListAliasesOutput| p.next_marker().is_some_and(|m| !m.is_empty());
    every_page(
        &clients.lambda_limit,
        timeout(clients),
        pages,
        more,
        |page| {
            aliases.extend(page.aliases().iter().map(|a| {
                AliasSnapshot {
                    name: a.name().unwrap_or_default().to_string(),
                    function_version: a.function_version().unwrap_or_default().to_string(),
                    description: a
                        .description()
                        .filter(|d| !d.is_empty())
                        .map(str::to_string),
                    weights: a
                        .routing_config()
                        .and_then(|r| r.additional_version_weights())
                        .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
                        .unwrap_or_default(),
                }
            }));
        },
    )
    .await?;
    aliases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(aliases)
}

/// The function URL's configuration as a snapshot keeps it (`NotFound`: it has none).
pub async fn url_config(
    clients: &Clients,
    function: &str,
) -> Result<serde_json::Value, ProviderError> {
    let lambda = &clients.lambda;
    let out = clients
        .lambda_call(
            lambda
                .get_function_url_config()
                .function_name(function)
                .send(),
        )
        .await?;
    Ok(serde_json::json!({
        "url": out.function_url(),
        "auth_type": out.auth_type().as_str(),
        "invoke_mode": out.invoke_mode().map(|m| m.as_str()),
        "cors": out.cors().map(|c| serde_json::json!({
            "allow_origins": c.allow_origins(),
            "allow_methods": c.allow_methods(),
            "allow_headers": c.allow_headers(),
            "allow_credentials": c.allow_credentials(),
            "max_age": c.max_age(),
        })),
    }))
}

/// The asynchronous invoke configuration as a snapshot keeps it (`NotFound`: none set).
pub async fn async_config(
    clients: &Clients,
    function: &str,
) -> Result<serde_json::Value, ProviderError> {
    let lambda = &clients.lambda;
    let out = clients
        .lambda_call(
            lambda
                .get_function_event_invoke_config()
                .function_name(function)
                .send(),
        )
        .await?;
    Ok(serde_json::json!({
        "maximum_retry_attempts": out.maximum_retry_attempts(),
        "maximum_event_age_in_seconds": out.maximum_event_age_in_seconds(),
        "on_success": out.destination_config().and_then(|d| d.on_success()).and_then(|d| d.destination()),
        "on_failure": out.destination_config().and_then(|d| d.on_failure()).and_then(|d| d.destination()),
    }))
}

/// A layer version as a restore needs it: its content's Lambda hash (base64 SHA-256), where the
/// content can be downloaded, its size and runtimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersion {
    pub code_sha256: String,
    pub location: Option<String>,
    pub code_size: i64,
    pub compatible_runtimes: Vec<String>,
}

/// Reads a layer version by its ARN (`arn:…:layer:NAME:N`) with GetLayerVersion, which takes
/// the layer's ARN as its name (also for another account's layer).
pub async fn layer_version(clients: &Clients, arn: &str) -> Result<LayerVersion, ProviderError> {
    let (layer, number) = arn
        .rsplit_once(':')
        .and_then(|(l, n)| Some((l, n.parse::<i64>().ok()?)))
        .ok_or_else(|| ProviderError::Service(format!("'{arn}' is not a layer version ARN")))?;
    let lambda = &clients.lambda;
    let out = clients
        .lambda_call(
            lambda
                .get_layer_version()
                .layer_name(layer)
                .version_number(number)
                .send(),
        )
        .await?;
    let content = out.content();
    Ok(LayerVersion {
        code_sha256: content
            .and_then(|c| c.code_sha256())
            .unwrap_or_default()
            .to_string(),
        location: content
            .and_then(|c| c.location())
            .filter(|l| l.starts_with("http"))
            .map(str::to_string),
        code_size: content.map(|c| c.code_size()).unwrap_or_default(),
        compatible_runtimes: out
            .compatible_runtimes()
            .iter()
            .map(|r| r.as_str().to_string())
            .collect(),
    })
}

/// A function's provisioned concurrency, per alias or version.
pub async fn provisioned(
    clients: &Clients,
    function: &str,
) -> Result<Vec<super::manifest::Provisioned>, ProviderError> {
    let mut all = Vec::new();
    let pages = clients
        .lambda
        .list_provisioned_concurrency_configs()
        .function_name(function)
        .into_paginator()
        .send();
    let more = |p: &ListProvisionedConcurrencyConfigsOutput| {
        p.next_marker().is_some_and(|m| !m.is_empty())
    };
    every_page(
        &clients.lambda_limit,
        timeout(clients),
        pages,
        more,
        |page| {
            all.extend(page.provisioned_concurrency_configs().iter().map(|p| {
                super::manifest::Provisioned {
                    qualifier: p
                        .function_arn()
                        .and_then(|a| a.rsplit(':').next())
                        .unwrap_or_default()
                        .to_string(),
                    requested: p.requested_provisioned_concurrent_executions().unwrap_or(0),
                }
            }));
        },
    )
    .await?;
    all.sort_by(|a, b| a.qualifier.cmp(&b.qualifier));
    Ok(all)
}

fn timeout(clients: &Clients) -> f64 {
    clients.operation_timeout.as_secs_f64()
}
