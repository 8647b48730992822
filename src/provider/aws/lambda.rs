//! Inventory from the Lambda control plane: functions, versions, aliases, concurrency, tags.

use std::collections::BTreeMap;

use aws_sdk_lambda::types::{AliasConfiguration, FunctionConfiguration};
use futures::{StreamExt, TryStreamExt};

use super::clients::Clients;
use super::error::classify;
use crate::provider::{AliasInfo, FunctionInfo, Inventory, ProviderError, ProvisionedConcurrency};

impl Clients {
    fn provisioned_supported(&self) -> bool {
        !self
            .provisioned_unsupported
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn timeout_secs(&self) -> f64 {
        self.operation_timeout.as_secs_f64()
    }

    pub async fn inventory(&self) -> Result<Inventory, ProviderError> {
        let (functions, limit) = tokio::join!(self.list_functions(), self.account_limit());
        let functions = functions?;
        let functions = futures::stream::iter(functions)
            .map(|f| self.function_details(f))
            .buffered(self.parallelism)
            .try_collect()
            .await?;
        Ok(Inventory {
            functions,
            account_concurrency_limit: limit,
        })
    }

    /// Every function's name in the region (ListFunctions, paginated).
    pub async fn function_names(&self) -> Result<Vec<String>, ProviderError> {
        Ok(self
            .list_functions()
            .await?
            .into_iter()
            .filter_map(|f| f.function_name)
            .collect())
    }

    async fn list_functions(&self) -> Result<Vec<FunctionConfiguration>, ProviderError> {
        let mut all = Vec::new();
        let mut marker = None;
        loop {
            self.lambda_limit.acquire().await;
            let page = self
                .lambda
                .list_functions()
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| classify(e, self.timeout_secs()))?;
            all.extend(page.functions.unwrap_or_default());
            marker = page.next_marker.filter(|m| !m.is_empty());
            if marker.is_none() {
                return Ok(all);
            }
        }
    }

    /// The account limit, or `None` where the endpoint does not answer (emulators).
    async fn account_limit(&self) -> Option<i64> {
        self.lambda_limit.acquire().await;
        match self.lambda.get_account_settings().send().await {
            Ok(out) => out
                .account_limit
                .map(|l| i64::from(l.concurrent_executions)),
            Err(e) => {
                tracing::info!(scope = %self.scope, error = %classify(e, self.timeout_secs()), "account settings unavailable");
                None
            }
        }
    }

    /// A function with its own reads; when they fail it is still listed, marked with why.
    async fn function_details(
        &self,
        f: FunctionConfiguration,
    ) -> Result<FunctionInfo, ProviderError> {
        let name = f.function_name.clone().unwrap_or_default();
        let details = self.details(&name).await;
        let (versions, aliases, reserved, tags, provisioned, detail_error) = match details {
            Ok((v, a, r, t, p)) => (v, a, r, t, p, None),
            Err(e) => {
                tracing::info!(scope = %self.scope, function = %name, error = %e, "function details failed");
                (
                    Vec::new(),
                    Vec::new(),
                    None,
                    BTreeMap::new(),
                    Vec::new(),
                    Some(e.to_string()),
                )
            }
        };
        Ok(FunctionInfo {
            arn: f.function_arn.unwrap_or_default(),
            runtime: f.runtime.map(|r| r.as_str().to_string()),
            package_type: f
                .package_type
                .map(|p| p.as_str().to_string())
                .unwrap_or_else(|| "Zip".to_string()),
            state: f
                .state
                .map(|s| s.as_str().to_string())
                .unwrap_or_else(|| "Active".to_string()),
            last_update_status: f.last_update_status.map(|s| s.as_str().to_string()),
            memory_mb: f.memory_size,
            timeout_s: f.timeout,
            last_modified: f.last_modified,
            name,
            versions,
            aliases,
            reserved_concurrency: reserved,
            provisioned,
            tags,
            detail_error,
        })
    }

    /// Versions, aliases, reserved concurrency, tags and provisioned concurrency of a function.
    #[allow(clippy::type_complexity)]
    async fn details(
        &self,
        name: &str,
    ) -> Result<
        (
            Vec<String>,
            Vec<AliasInfo>,
            Option<i32>,
            BTreeMap<String, String>,
            Vec<ProvisionedConcurrency>,
        ),
        ProviderError,
    > {
        let name = name.to_string();
        let versions = self.list_versions(&name).await?;
        let aliases = self.list_aliases(&name).await?;
        let (reserved, tags) = self.reserved_and_tags(&name).await?;
        // Provisioned concurrency needs a version or alias, so a function with neither has none:
        // skipping the call saves one request per such function.
        let provisioned = if versions.is_empty() && aliases.is_empty()
            || !self.provisioned_supported()
        {
            Vec::new()
        } else {
            match self.provisioned(&name).await {
                Err(ProviderError::Unsupported(e)) => {
                    tracing::info!(scope = %self.scope, error = %e, "provisioned concurrency not served here");
                    self.provisioned_unsupported
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    Vec::new()
                }
                other => other?,
            }
        };
        Ok((versions, aliases, reserved, tags, provisioned))
    }

    pub(crate) async fn list_versions(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let mut versions = Vec::new();
        let mut marker = None;
        loop {
            self.lambda_limit.acquire().await;
            let page = self
                .lambda
                .list_versions_by_function()
                .function_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| classify(e, self.timeout_secs()))?;
            versions.extend(
                page.versions
                    .unwrap_or_default()
                    .into_iter()
                    .filter_map(|v| v.version)
                    .filter(|v| v != "$LATEST"),
            );
            marker = page.next_marker.filter(|m| !m.is_empty());
            if marker.is_none() {
                versions.sort_by_key(|v| v.parse::<u64>().unwrap_or(u64::MAX));
                return Ok(versions);
            }
        }
    }

    pub(crate) async fn list_aliases(&self, name: &str) -> Result<Vec<AliasInfo>, ProviderError> {
        let mut aliases = Vec::new();
        let mut marker = None;
        loop {
            self.lambda_limit.acquire().await;
            let page = self
                .lambda
                .list_aliases()
                .function_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| classify(e, self.timeout_secs()))?;
            aliases.extend(page.aliases.unwrap_or_default().into_iter().map(alias_info));
            marker = page.next_marker.filter(|m| !m.is_empty());
            if marker.is_none() {
                aliases.sort_by(|a: &AliasInfo, b| a.name.cmp(&b.name));
                return Ok(aliases);
            }
        }
    }

    async fn reserved_and_tags(
        &self,
        name: &str,
    ) -> Result<(Option<i32>, BTreeMap<String, String>), ProviderError> {
        self.lambda_limit.acquire().await;
        let out = self
            .lambda
            .get_function()
            .function_name(name)
            .send()
            .await
            .map_err(|e| classify(e, self.timeout_secs()))?;
        let reserved = out
            .concurrency
            .and_then(|c| c.reserved_concurrent_executions);
        let tags = out.tags.unwrap_or_default().into_iter().collect();
        Ok((reserved, tags))
    }

    async fn provisioned(&self, name: &str) -> Result<Vec<ProvisionedConcurrency>, ProviderError> {
        let mut configs = Vec::new();
        let mut marker = None;
        loop {
            self.lambda_limit.acquire().await;
            let page = self
                .lambda
                .list_provisioned_concurrency_configs()
                .function_name(name)
                .set_marker(marker)
                .send()
                .await
                .map_err(|e| classify(e, self.timeout_secs()))?;
            configs.extend(
                page.provisioned_concurrency_configs
                    .unwrap_or_default()
                    .into_iter()
                    .map(|c| ProvisionedConcurrency {
                        qualifier: c
                            .function_arn
                            .as_deref()
                            .and_then(|arn| arn.rsplit(':').next())
                            .unwrap_or_default()
                            .to_string(),
                        requested: c.requested_provisioned_concurrent_executions,
                        allocated: c.allocated_provisioned_concurrent_executions,
                        status: c.status.map(|s| s.as_str().to_string()),
                    }),
            );
            marker = page.next_marker.filter(|m| !m.is_empty());
            if marker.is_none() {
                return Ok(configs);
            }
        }
    }
}

fn alias_info(a: AliasConfiguration) -> AliasInfo {
    let mut additional_weights: Vec<(String, f64)> = a
        .routing_config
        .and_then(|r| r.additional_version_weights)
        .unwrap_or_default()
        .into_iter()
        .collect();
    additional_weights.sort_by(|x, y| x.0.cmp(&y.0));
    AliasInfo {
        name: a.name.unwrap_or_default(),
        function_version: a.function_version.unwrap_or_default(),
        additional_weights,
        revision_id: a.revision_id,
    }
}
