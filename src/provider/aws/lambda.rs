//! Inventory from the Lambda control plane: functions, versions, aliases, concurrency, tags.

use std::collections::{BTreeMap, HashMap};
use std::time::Duration;

use aws_sdk_lambda::operation::list_functions::ListFunctionsOutput;
use aws_sdk_lambda::operation::list_provisioned_concurrency_configs::ListProvisionedConcurrencyConfigsOutput;
use aws_sdk_lambda::operation::list_versions_by_function::ListVersionsByFunctionOutput;
use aws_sdk_lambda::types::{AliasConfiguration, FunctionConfiguration, FunctionVersion};
use futures::StreamExt;

use super::call::every_page;
use super::clients::Clients;
use crate::provider::{
    AliasInfo, FunctionExtras, FunctionInfo, Inventory, InventoryProgress, NotRead, ProviderError,
    ProvisionedConcurrency, explain,
};

/// How often a filling inventory sends what it has.
const PROGRESS_EVERY: Duration = Duration::from_millis(250);

impl Clients {
    fn provisioned_supported(&self) -> bool {
        !self
            .provisioned_unsupported
            .load(std::sync::atomic::Ordering::Relaxed)
    }

    fn timeout_secs(&self) -> f64 {
        self.operation_timeout.as_secs_f64()
    }

    /// The region's functions within Lambda's quotas: ListFunctions with every version (one call
    /// per 50 functions and versions), then per function GetFunction (its own bucket) and,
    /// only where a published version exists, ListAliases. Provisioned concurrency, and aliases
    /// of functions without a published version, are read on demand ([`Clients::extras`]).
    /// Every page and detail that answered is kept: a later page failing marks the inventory
    /// incomplete instead of throwing the rest away.
    pub async fn inventory_with(
        &self,
        progress: &(dyn Fn(Inventory) + Send + Sync),
    ) -> Result<Inventory, ProviderError> {
        let (listed, limit) = tokio::join!(self.list_all(progress), self.account_limit());
        let mut inventory = listed?;
        match limit {
            Ok(limit) => inventory.account_concurrency_limit = limit,
            Err(e) => {
                inventory.account_settings_error = Some(crate::provider::explain(
                    "account settings",
                    "GetAccountSettings",
                    &e,
                ))
            }
        }
        let todo: Vec<(usize, String, bool)> = inventory
            .functions
            .iter()
            .enumerate()
            .map(|(i, f)| (i, f.name.clone(), !f.versions.is_empty()))
            .collect();
        let mut details = futures::stream::iter(todo)
            .map(|(i, name, published)| async move { (i, self.details(&name, published).await) })
            .buffer_unordered(self.parallelism);
        let mut read = 0;
        let mut sent = std::time::Instant::now();
        while let Some((i, (function, aliases))) = details.next().await {
            let f = &mut inventory.functions[i];
            // Each read on its own: what one answered is kept when the other failed; what
            // failed stays unread (never "none") and is named with its call.
            let mut failed = Vec::new();
            match function {
                Ok((reserved, tags)) => {
                    f.not_read.details = false;
                    f.reserved_concurrency = reserved;
                    f.tags = tags;
                }
                Err(e) => failed.push(explain("details", "GetFunction", &e)),
            }
            match aliases {
                Some(Ok(aliases)) => {
                    f.aliases = aliases;
                    f.not_read.aliases = false;
                }
                Some(Err(e)) => failed.push(explain("aliases", "ListAliases", &e)),
                None => {}
            }
            if !failed.is_empty() {
                let why = failed.join("; ");
                tracing::info!(scope = %self.scope, function = %f.name, error = %why, "function details failed");
                f.detail_error = Some(why);
            }
            read += 1;
            if sent.elapsed() >= PROGRESS_EVERY {
                sent = std::time::Instant::now();
                progress(Inventory {
                    progress: Some(InventoryProgress { listed: true, read }),
                    ..inventory.clone()
                });
            }
        }
        Ok(inventory)
    }

    /// Every function and version (ListFunctions, `FunctionVersion=ALL`, to the last marker),
    /// sending the functions listed so far after each page.
    async fn list_all(
        &self,
        progress: &(dyn Fn(Inventory) + Send + Sync),
    ) -> Result<Inventory, ProviderError> {
        let mut inventory = Inventory::default();
        let mut index: HashMap<String, usize> = HashMap::new();
        // Versions listed before their function's $LATEST entry.
        let mut early: HashMap<String, Vec<String>> = HashMap::new();
        let mut marker = None;
        loop {
            let request = self
                .lambda
                .list_functions()
                .function_version(FunctionVersion::All)
                .set_marker(marker.clone())
                .send();
            let page = match self.background(&self.lambda_limit, request).await {
                Ok(page) => page,
                Err(e) => {
                    if inventory.functions.is_empty() {
                        return Err(e);
                    }
                    tracing::info!(scope = %self.scope, error = %e, "listing stopped");
                    inventory.incomplete = Some(format!(
                        "{} — {} functions were listed before it stopped",
                        explain("inventory", "ListFunctions", &e),
                        inventory.functions.len()
                    ));
                    break;
                }
            };
            for conf in page.functions.unwrap_or_default() {
                let name = conf.function_name.clone().unwrap_or_default();
                match conf.version.as_deref() {
                    None | Some("$LATEST") => {
                        let mut info = function_info(conf);
                        info.versions = early.remove(&name).unwrap_or_default();
                        index.insert(name, inventory.functions.len());
                        inventory.functions.push(info);
                    }
                    Some(version) => match index.get(&name) {
                        Some(&i) => inventory.functions[i].versions.push(version.to_string()),
                        None => early.entry(name).or_default().push(version.to_string()),
                    },
                }
            }
            let next = page.next_marker.filter(|m| !m.is_empty());
            // An endpoint that hands back the marker it was given would list forever.
            if next.is_some() && next == marker {
                inventory.incomplete = Some(format!(
                    "inventory: ListFunctions returned the same page marker twice — the {} functions listed are shown",
                    inventory.functions.len()
                ));
                break;
            }
            marker = next;
            if marker.is_none() {
                break;
            }
            progress(Inventory {
                progress: Some(InventoryProgress::default()),
                ..inventory.clone()
            });
        }
        for f in &mut inventory.functions {
            f.versions
                .sort_by_key(|v| v.parse::<u64>().unwrap_or(u64::MAX));
            f.versions.dedup();
        }
        progress(Inventory {
            progress: Some(InventoryProgress {
                listed: true,
                read: 0,
            }),
            ..inventory.clone()
        });
        Ok(inventory)
    }

    /// Every function's name in the region (ListFunctions, paginated).
    pub async fn function_names(&self) -> Result<Vec<String>, ProviderError> {
        let mut names = Vec::new();
        let pages = self.lambda.list_functions().into_paginator().send();
        let more = |p: &ListFunctionsOutput| p.next_marker().is_some_and(|m| !m.is_empty());
        every_page(
            &self.lambda_limit,
            self.timeout_secs(),
            pages,
            more,
            |page| {
                names.extend(
                    page.functions
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|f| f.function_name),
                );
            },
        )
        .await?;
        Ok(names)
    }

    /// The account limit, or `None` where the endpoint does not serve it (emulators); any
    /// other failure is the read's own, said beside the functions.
    async fn account_limit(&self) -> Result<Option<i64>, ProviderError> {
        let request = self.lambda.get_account_settings().send();
        match self.background(&self.lambda_limit, request).await {
            Ok(out) => Ok(out
                .account_limit
                .map(|l| i64::from(l.concurrent_executions))),
            Err(ProviderError::Unsupported(e)) => {
                tracing::info!(scope = %self.scope, error = %e, "account settings not served here");
                Ok(None)
            }
            Err(e) => {
                tracing::info!(scope = %self.scope, error = %e, "account settings not read");
                Err(e)
            }
        }
    }

    /// Reserved concurrency and tags (GetFunction), and the aliases where a published version
    /// exists (`None`: not read).
    /// A function's own reads, each answering (or failing) on its own: GetFunction (reserved
    /// concurrency and tags) and, with a published version, ListAliases.
    #[allow(clippy::type_complexity)]
    async fn details(
        &self,
        name: &str,
        published: bool,
    ) -> (
        Result<(Option<i32>, BTreeMap<String, String>), ProviderError>,
        Option<Result<Vec<AliasInfo>, ProviderError>>,
    ) {
        let aliases = async {
            if published {
                Some(self.list_aliases(name).await)
            } else {
                None
            }
        };
        tokio::join!(self.reserved_and_tags(name), aliases)
    }

    /// What the inventory leaves for on demand, as far as `want` asks: every alias,
    /// provisioned concurrency.
    pub async fn extras(&self, name: &str, want: NotRead) -> Result<FunctionExtras, ProviderError> {
        let aliases = match want.aliases {
            true => Some(self.list_aliases_now(name).await?),
            false => None,
        };
        let provisioned = if !want.provisioned {
            None
        } else if !self.provisioned_supported() {
            Some(Vec::new())
        } else {
            Some(match self.provisioned(name).await {
                Err(ProviderError::Unsupported(e)) => {
                    tracing::info!(scope = %self.scope, error = %e, "provisioned concurrency not served here");
                    self.provisioned_unsupported
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                    Vec::new()
                }
                other => other?,
            })
        };
        Ok(FunctionExtras {
            aliases,
            provisioned,
        })
    }

    pub(crate) async fn list_versions(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let mut versions = Vec::new();
        let pages = self
            .lambda
            .list_versions_by_function()
            .function_name(name)
            .into_paginator()
            .send();
        let more =
            |p: &ListVersionsByFunctionOutput| p.next_marker().is_some_and(|m| !m.is_empty());
        every_page(
            &self.lambda_limit,
            self.timeout_secs(),
            pages,
            more,
            |page| {
                versions.extend(
                    page.versions
                        .unwrap_or_default()
                        .into_iter()
                        .filter_map(|v| v.version)
                        .filter(|v| v != "$LATEST"),
                );
            },
        )
        .await?;
        versions.sort_by_key(|v| v.parse::<u64>().unwrap_or(u64::MAX));
        Ok(versions)
    }

    /// A function's aliases, for a background read.
    async fn list_aliases(&self, name: &str) -> Result<Vec<AliasInfo>, ProviderError> {
        self.aliases_paced(name, false).await
    }

    /// A function's aliases, for someone waiting: ahead of background reads.
    pub(crate) async fn list_aliases_now(
        &self,
        name: &str,
    ) -> Result<Vec<AliasInfo>, ProviderError> {
        self.aliases_paced(name, true).await
    }

    async fn aliases_paced(
        &self,
        name: &str,
        urgent: bool,
    ) -> Result<Vec<AliasInfo>, ProviderError> {
        let mut aliases = Vec::new();
        let mut marker = None;
        loop {
            let request = self.lambda.list_aliases().function_name(name);
            let request = request.set_marker(marker).send();
            let page = if urgent {
                self.call(&self.lambda_limit, request).await?
            } else {
                self.background(&self.lambda_limit, request).await?
            };
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
        let request = self.lambda.get_function().function_name(name).send();
        let out = self.background(&self.get_function_limit, request).await?;
        let reserved = out
            .concurrency
            .and_then(|c| c.reserved_concurrent_executions);
        let tags = out.tags.unwrap_or_default().into_iter().collect();
        Ok((reserved, tags))
    }

    async fn provisioned(&self, name: &str) -> Result<Vec<ProvisionedConcurrency>, ProviderError> {
        let mut configs = Vec::new();
        let pages = self
            .lambda
            .list_provisioned_concurrency_configs()
            .function_name(name)
            .into_paginator()
            .send();
        let more = |p: &ListProvisionedConcurrencyConfigsOutput| {
            p.next_marker().is_some_and(|m| !m.is_empty())
        };
        every_page(
            &self.lambda_limit,
            self.timeout_secs(),
            pages,
            more,
            |page| {
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
            },
        )
        .await?;
        Ok(configs)
    }
}

/// A function as ListFunctions describes it; its own reads are still to come.
fn function_info(f: FunctionConfiguration) -> FunctionInfo {
    let arn = f.function_arn.unwrap_or_default();
    FunctionInfo {
        arn: arn.strip_suffix(":$LATEST").unwrap_or(&arn).to_string(),
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
        name: f.function_name.unwrap_or_default(),
        not_read: NotRead {
            details: true,
            aliases: true,
            provisioned: true,
        },
        ..Default::default()
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
