//! A function read whole through the SDK — what a backup takes and a restore compares — each
//! request through the one call path.

use aws_sdk_lambda::operation::get_function::GetFunctionOutput;
use aws_sdk_lambda::operation::list_aliases::ListAliasesOutput;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;
use aws_sdk_lambda::operation::list_provisioned_concurrency_configs::ListProvisionedConcurrencyConfigsOutput;
use aws_sdk_lambda::operation::list_versions_by_function::ListVersionsByFunctionOutput;
use aws_sdk_lambda::types::FunctionConfiguration;

use super::{Clients, download, every_page};

/// An alias as a snapshot keeps it, from ListAliases' entries and GetAlias' answer alike (two
/// SDK types with the same accessors).
macro_rules! alias_snapshot {
    ($a:expr) => {{
        let a = $a;
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
    }};
}
use crate::provider::ProviderError;
use crate::provider::function::{
    AliasSnapshot, CodeLocation, EventSourceMapping, FileSystem, FunctionConfig, FunctionRead,
    FunctionReads, ImageConfig, LayerVersion, Provisioned, PublishedVersion,
};
pub(super) use alias_snapshot;

impl FunctionReads for Clients {
    async fn function_names(&self) -> Result<Vec<String>, ProviderError> {
        Clients::function_names(self).await
    }

    async fn function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<FunctionRead, ProviderError> {
        let request = self
            .lambda
            .get_function()
            .function_name(name)
            .set_qualifier(qualifier.map(str::to_string))
            .send();
        let got = self.call(&self.get_function_limit, request).await?;
        Ok(function_read(&got))
    }

    async fn published(&self, name: &str) -> Result<Vec<PublishedVersion>, ProviderError> {
        Ok(published(self, name)
            .await?
            .iter()
            .map(|v| PublishedVersion {
                version: v.version().unwrap_or_default().to_string(),
                config: config_of(v),
                code_sha256: v.code_sha256().unwrap_or_default().to_string(),
            })
            .collect())
    }

    async fn alias_routes(&self, name: &str) -> Result<Vec<AliasSnapshot>, ProviderError> {
        aliases_of(self, name).await
    }

    /// An endpoint that answered "unsupported" once is not asked again.
    async fn provisioned(&self, name: &str) -> Result<Vec<Provisioned>, ProviderError> {
        use std::sync::atomic::Ordering::Relaxed;
        if self.provisioned_unsupported.load(Relaxed) {
            return Err(ProviderError::Unsupported(
                "ListProvisionedConcurrencyConfigs".into(),
            ));
        }
        let read = provisioned(self, name).await;
        if let Err(ProviderError::Unsupported(_)) = &read {
            self.provisioned_unsupported.store(true, Relaxed);
        }
        read
    }

    async fn mappings(&self, name: &str) -> Result<Vec<EventSourceMapping>, ProviderError> {
        let pages = self
            .lambda
            .list_event_source_mappings()
            .function_name(name)
            .into_paginator()
            .send();
        let more =
            |p: &ListEventSourceMappingsOutput| p.next_marker().is_some_and(|m| !m.is_empty());
        let mut all = Vec::new();
        every_page(&self.lambda_limit, timeout(self), pages, more, |page| {
            all.extend(page.event_source_mappings().iter().map(|m| {
                EventSourceMapping {
                    uuid: m.uuid().unwrap_or_default().to_string(),
                    source_arn: m.event_source_arn().map(str::to_string),
                    state: m.state().map(str::to_string),
                    batch_size: m.batch_size(),
                    starting_position: m.starting_position().map(|p| p.as_str().to_string()),
                    maximum_batching_window: m.maximum_batching_window_in_seconds(),
                    qualifier: m
                        .function_arn()
                        .and_then(|a| a.split(':').nth(7))
                        .map(str::to_string),
                }
            }));
        })
        .await?;
        Ok(all)
    }

    async fn url_config(&self, name: &str) -> Result<serde_json::Value, ProviderError> {
        url_config(self, name).await
    }

    async fn policy(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<Option<String>, ProviderError> {
        let request = self
            .lambda
            .get_policy()
            .function_name(name)
            .set_qualifier(qualifier.map(str::to_string))
            .send();
        let out = self.lambda_call(request).await?;
        Ok(out.policy().map(str::to_string))
    }

    async fn async_config(&self, name: &str) -> Result<serde_json::Value, ProviderError> {
        async_config(self, name).await
    }

    async fn layer_version(&self, arn: &str) -> Result<LayerVersion, ProviderError> {
        layer_version(self, arn).await
    }

    async fn newest_layer_version(&self, layer: &str) -> Result<Option<String>, ProviderError> {
        let request = self
            .lambda
            .list_layer_versions()
            .layer_name(layer)
            .max_items(1)
            .send();
        match self.lambda_call(request).await {
            Ok(out) => Ok(out
                .layer_versions()
                .first()
                .and_then(|v| v.layer_version_arn())
                .map(str::to_string)),
            Err(ProviderError::NotFound(_)) => Ok(None),
            Err(e) => Err(e),
        }
    }

    /// Packages can be large: at least two minutes, whatever the operation budget.
    async fn download(&self, location: &str) -> Result<Vec<u8>, ProviderError> {
        let budget = self
            .operation_timeout
            .max(std::time::Duration::from_secs(120));
        download::fetch(location, self.code_download_base.as_deref(), budget).await
    }
}

/// `arn:…:layer:NAME:N` → (`arn:…:layer:NAME`, N).
pub(super) fn layer_and_number(arn: &str) -> Result<(&str, i64), ProviderError> {
    arn.rsplit_once(':')
        .and_then(|(l, n)| Some((l, n.parse::<i64>().ok()?)))
        .ok_or_else(|| ProviderError::Service(format!("'{arn}' is not a layer version ARN")))
}

/// What one GetFunction answer says of a version.
fn function_read(got: &GetFunctionOutput) -> FunctionRead {
    let empty = FunctionConfiguration::builder().build();
    let c = got.configuration().unwrap_or(&empty);
    let location = got.code();
    let image = location.and_then(|l| l.image_uri());
    let code = if c.package_type().map(|p| p.as_str()) == Some("Image") || image.is_some() {
        CodeLocation::Image {
            image_uri: image.unwrap_or_default().to_string(),
            resolved_image_uri: location
                .and_then(|l| l.resolved_image_uri())
                .map(str::to_string),
        }
    } else {
        CodeLocation::Zip(location.and_then(|l| l.location()).map(str::to_string))
    };
    FunctionRead {
        arn: c.function_arn().unwrap_or_default().to_string(),
        config: config_of(c),
        code_sha256: c.code_sha256().unwrap_or_default().to_string(),
        code_size: c.code_size().max(0) as u64,
        code,
        layer_sizes: c
            .layers()
            .iter()
            .filter_map(|l| Some((l.arn()?.to_string(), l.code_size())))
            .collect(),
        reserved_concurrency: got
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        tags: got
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
    }
}

fn config_of(c: &FunctionConfiguration) -> FunctionConfig {
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
        ..logging_and_more(c)
    }
}

/// Logging, file systems, image overrides and SnapStart, each only where it is not Lambda's
/// default (the default log group is the function's own name's: not carried to another name).
fn logging_and_more(c: &FunctionConfiguration) -> FunctionConfig {
    let logging = c.logging_config();
    let own_group = format!("/aws/lambda/{}", c.function_name().unwrap_or_default());
    let json = logging
        .and_then(|l| l.log_format())
        .is_some_and(|f| f.as_str() == "JSON");
    let image = c.image_config_response().and_then(|r| r.image_config());
    let image = image.map(|i| ImageConfig {
        entry_point: i.entry_point().to_vec(),
        command: i.command().to_vec(),
        working_directory: i.working_directory().map(str::to_string),
    });
    FunctionConfig {
        log_group: logging
            .and_then(|l| l.log_group())
            .filter(|g| *g != own_group)
            .map(str::to_string),
        log_format: json.then(|| "JSON".to_string()),
        application_log_level: logging
            .and_then(|l| l.application_log_level())
            .filter(|_| json)
            .map(|l| l.as_str().to_string()),
        system_log_level: logging
            .and_then(|l| l.system_log_level())
            .filter(|_| json)
            .map(|l| l.as_str().to_string()),
        file_systems: c
            .file_system_configs()
            .iter()
            .map(|f| FileSystem {
                arn: f.arn().to_string(),
                local_mount_path: f.local_mount_path().to_string(),
            })
            .collect(),
        image_config: image.filter(|i| *i != ImageConfig::default()),
        snap_start: c
            .snap_start()
            .and_then(|s| s.apply_on())
            .map(|a| a.as_str().to_string())
            .filter(|a| a != "None"),
        ..FunctionConfig::default()
    }
}

/// A function's published versions (not `$LATEST`), oldest first, paginated to the end.
async fn published(
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
async fn aliases_of(
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
            aliases.extend(page.aliases().iter().map(|a| alias_snapshot!(a)));
        },
    )
    .await?;
    aliases.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(aliases)
}

/// The function URL's configuration as a snapshot keeps it (`NotFound`: it has none).
async fn url_config(clients: &Clients, function: &str) -> Result<serde_json::Value, ProviderError> {
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
async fn async_config(
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

/// Reads a layer version by its ARN (`arn:…:layer:NAME:N`) with GetLayerVersion, which takes
/// the layer's ARN as its name (also for another account's layer).
async fn layer_version(clients: &Clients, arn: &str) -> Result<LayerVersion, ProviderError> {
    let (layer, number) = layer_and_number(arn)?;
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
async fn provisioned(clients: &Clients, function: &str) -> Result<Vec<Provisioned>, ProviderError> {
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
                Provisioned {
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

#[cfg(test)]
mod tests {
    use super::*;
    use aws_sdk_lambda::types::{LogFormat, LoggingConfig, SnapStartApplyOn, SnapStartResponse};

    fn with_logging(group: &str, format: LogFormat) -> FunctionConfiguration {
        FunctionConfiguration::builder()
            .function_name("orders")
            .logging_config(
                LoggingConfig::builder()
                    .log_format(format)
                    .log_group(group)
                    .build(),
            )
            .snap_start(
                SnapStartResponse::builder()
                    .apply_on(SnapStartApplyOn::None)
                    .build(),
            )
            .build()
    }

    #[test]
    fn lambdas_defaults_are_not_kept_and_a_group_of_its_own_choosing_is() {
        // The default group is the function's own name's: another name gets its own.
        let default = config_of(&with_logging("/aws/lambda/orders", LogFormat::Text));
        assert_eq!(default, FunctionConfig::default());
        let custom = config_of(&with_logging("/shared/orders", LogFormat::Json));
        assert_eq!(custom.log_group.as_deref(), Some("/shared/orders"));
        assert_eq!(custom.log_format.as_deref(), Some("JSON"));
        assert_eq!(custom.snap_start, None);
    }
}
