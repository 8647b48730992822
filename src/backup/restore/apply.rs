//! Applying a restore plan with its journal: each step records how to undo it, and a failure
//! undoes every step done, newest first.

use super::*;

use super::layers::layer_name;
use super::plan::*;
use super::undo::Undo;

/// Runs a restore. `before` is the safety snapshot of an existing target (for putting back its
/// code). On failure, every step done is undone in reverse order.
pub struct Runner<'a> {
    pub clients: &'a Clients,
    /// The snapshot's store (its blobs).
    pub store: &'a Store,
    /// The safety snapshot of the target as it was, with the store holding its blobs.
    pub before: Option<(&'a Manifest, &'a Store)>,
    pub on_step: &'a (dyn Fn(&Step) + Sync),
}

/// What the steps run so far stand for in the target: snapshot versions → its version numbers,
/// snapshot layer versions → the ARNs it uses.
struct Mapped {
    versions: BTreeMap<String, String>,
    layers: BTreeMap<String, String>,
}

impl Mapped {
    fn with_layers(&self, config: &FunctionConfig) -> FunctionConfig {
        let mut config = config.clone();
        for l in config.layers.iter_mut() {
            if let Some(to) = self.layers.get(l) {
                *l = to.clone();
            }
        }
        config
    }
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Restored {
    pub function: String,
    pub region: String,
    pub steps: usize,
    /// Snapshot version → target version.
    pub versions: BTreeMap<String, String>,
    /// Layer versions it published (snapshot's ARN → the new one).
    pub published_layers: BTreeMap<String, String>,
}

impl Runner<'_> {
    pub(super) fn t(&self) -> f64 {
        self.clients.operation_timeout.as_secs_f64()
    }

    pub async fn run(&self, plan: &RestorePlan) -> Result<Restored, BackupError> {
        let mut journal: Vec<Undo> = Vec::new();
        let mut mapped = Mapped {
            versions: plan.matched.clone(),
            layers: plan.layers.clone(),
        };
        let mut result = Ok(());
        for step in &plan.steps {
            (self.on_step)(step);
            if let Err(e) = self.apply(plan, step, &mut mapped, &mut journal).await {
                result = Err(e);
                break;
            }
        }
        match result {
            Ok(()) => Ok(Restored {
                function: plan.function.clone(),
                region: plan.region.clone(),
                steps: plan.steps.len(),
                published_layers: mapped
                    .layers
                    .into_iter()
                    .filter(|(from, to)| plan.layers.get(from) != Some(to))
                    .collect(),
                versions: mapped.versions,
            }),
            Err(e) => {
                let undone = self.undo(&plan.function, journal).await;
                Err(BackupError::Provider(ProviderError::Service(
                    match undone {
                        Ok(()) => format!(
                            "restore of {} failed ({e}); every change was undone: the target is as it was",
                            plan.function
                        ),
                        Err(u) => format!(
                            "restore of {} failed ({e}), and putting it back failed too ({u}): {}",
                            plan.function,
                            if self.before.is_some() {
                                "restore the safety snapshot printed above to put it back by hand"
                            } else {
                                "it did not exist before: delete what was created by hand"
                            }
                        ),
                    },
                )))
            }
        }
    }

    pub(super) async fn code_input(
        &self,
        store: &Store,
        code: &Code,
    ) -> Result<FunctionCode, BackupError> {
        match code {
            Code::Image { image_uri, .. } => {
                // The very image, from the target region's registry (checked before the restore).
                let uri = super::image::target_image(code, &self.clients.scope.region)
                    .map(|t| t.uri)
                    .unwrap_or(image_uri.clone());
                Ok(FunctionCode::builder().image_uri(uri).build())
            }
            Code::Zip { sha256, size, .. } => {
                if *size > INLINE_LIMIT {
                    if store.region != self.clients.scope.region {
                        return Err(BackupError::Invalid(format!(
                            "the package is {} MB: Lambda takes at most 50 MB inline and reads larger \
                             ones only from a bucket in its own region ({}); the backup bucket is in {}",
                            size / (1024 * 1024),
                            self.clients.scope.region,
                            store.region
                        )));
                    }
                    return Ok(FunctionCode::builder()
                        .s3_bucket(&store.root.bucket)
                        .s3_key(
                            store
                                .root
                                .child(&crate::backup::manifest::layout::blob(sha256)),
                        )
                        .build());
                }
                let bytes = store.get_blob(sha256, *size).await?;
                Ok(FunctionCode::builder().zip_file(Blob::new(bytes)).build())
            }
        }
    }

    /// Waits until the function has finished its last update (Lambda refuses the next one
    /// until then).
    pub(super) async fn settle(&self, function: &str) -> Result<(), BackupError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            let c = self
                .clients
                .lambda_call(
                    self.clients
                        .lambda
                        .get_function_configuration()
                        .function_name(function)
                        .send(),
                )
                .await?;
            let pending = c.state().is_some_and(|s| s.as_str() == "Pending")
                || c.last_update_status()
                    .is_some_and(|s| s.as_str() == "InProgress");
            if c.state().is_some_and(|s| s.as_str() == "Failed")
                || c.last_update_status()
                    .is_some_and(|s| s.as_str() == "Failed")
            {
                return Err(BackupError::Provider(ProviderError::Service(format!(
                    "{function} failed to update: {}",
                    c.last_update_status_reason()
                        .or(c.state_reason())
                        .unwrap_or("no reason given")
                ))));
            }
            if !pending {
                return Ok(());
            }
            if tokio::time::Instant::now() > deadline {
                return Err(BackupError::Provider(ProviderError::Timeout(300.0)));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn apply(
        &self,
        plan: &RestorePlan,
        step: &Step,
        mapped: &mut Mapped,
        journal: &mut Vec<Undo>,
    ) -> Result<(), BackupError> {
        let f = plan.function.as_str();
        let lambda = &self.clients.lambda;
        let sdk = |e: ProviderError| BackupError::Provider(e);
        let versions = &mut mapped.versions;
        match step {
            Step::Layer {
                arn,
                also,
                blob,
                size,
                compatible_runtimes,
            } => {
                let package = Code::Zip {
                    sha256: blob.clone(),
                    size: *size,
                    lambda_sha256: String::new(),
                };
                let input = self.code_input(self.store, &package).await?;
                let content = aws_sdk_lambda::types::LayerVersionContentInput::builder()
                    .set_zip_file(input.zip_file)
                    .set_s3_bucket(input.s3_bucket)
                    .set_s3_key(input.s3_key)
                    .build();
                let out = self
                    .clients
                    .lambda_call(
                        lambda
                            .publish_layer_version()
                            .layer_name(layer_name(arn))
                            .description(format!("restored by lops from {arn}"))
                            .content(content)
                            .set_compatible_runtimes((!compatible_runtimes.is_empty()).then(|| {
                                compatible_runtimes
                                    .iter()
                                    .map(|r| Runtime::from(r.as_str()))
                                    .collect()
                            }))
                            .send(),
                    )
                    .await?;
                let published = out.layer_version_arn().unwrap_or_default().to_string();
                journal.push(Undo::DeleteLayerVersion(published.clone()));
                for source in std::iter::once(arn).chain(also) {
                    mapped.layers.insert(source.clone(), published.clone());
                }
                Ok(())
            }
            Step::Provisioned {
                qualifier,
                requested,
                replaces,
            } => {
                let target = versions
                    .get(qualifier)
                    .cloned()
                    .unwrap_or(qualifier.clone());
                set_provisioned(self.clients, f, &target, Some(*requested)).await?;
                journal.push(Undo::Provisioned {
                    qualifier: target,
                    put_back: *replaces,
                });
                Ok(())
            }
            Step::Create { config, code } => {
                let config = &mapped.with_layers(config);
                let code_input = self.code_input(self.store, code).await?;
                let mut call = lambda
                    .create_function()
                    .function_name(f)
                    .role(&config.role)
                    .code(code_input)
                    .publish(false);
                call = with_config_create(call, config);
                // The raw error is needed here (its code), so the token is taken by hand.
                self.clients.lambda_limit.acquire_first().await;
                if let Err(e) = call.send().await {
                    // A retry after an attempt that timed out but was made finds the function
                    // there: it is ours when it holds exactly this code.
                    let conflict = matches!(
                        aws_sdk_lambda::error::ProvideErrorMetadata::code(&e),
                        Some("ResourceConflictException" | "ConflictException")
                    );
                    self.clients.get_function_limit.acquire_first().await;
                    let ours = conflict
                        && lambda
                            .get_function()
                            .function_name(f)
                            .send()
                            .await
                            .is_ok_and(|out| {
                                out.configuration().and_then(|c| c.code_sha256())
                                    == Some(code.lambda_sha256())
                            });
                    if !ours {
                        return Err(sdk(classify(e, self.t())));
                    }
                }
                journal.push(Undo::DeleteFunction);
                self.settle(f).await
            }
            Step::UpdateCode {
                code,
                architectures,
            } => {
                let before = self.latest_undo(journal);
                let input = self.code_input(self.store, code).await?;
                self.clients
                    .lambda_call(update_code(lambda, f, input, architectures).send())
                    .await?;
                journal.extend(before);
                self.settle(f).await
            }
            Step::UpdateConfig { config, .. } => {
                let config = &mapped.with_layers(config);
                let before = self.latest_undo(journal);
                let call = with_config_update(
                    lambda.update_function_configuration().function_name(f),
                    config,
                );
                self.clients.lambda_call(call.send()).await?;
                journal.extend(before);
                self.settle(f).await
            }
            Step::Publish { of } => {
                let out = self
                    .clients
                    .lambda_call(lambda.publish_version().function_name(f).send())
                    .await?;
                let n = out.version().unwrap_or_default().to_string();
                // Lambda answers with the last version when nothing changed since it: that one
                // was there before (or this restore already journaled it).
                let new =
                    !plan.existing_versions.contains(&n) && !versions.values().any(|v| v == &n);
                if new {
                    journal.push(Undo::DeleteVersion(n.clone()));
                }
                versions.insert(of.clone(), n);
                Ok(())
            }
            Step::Alias { alias, create } => {
                let map = |v: &str| -> Result<String, BackupError> {
                    versions.get(v).cloned().ok_or_else(|| {
                        BackupError::Corrupt(format!(
                            "alias {} routes to version {v}, which the snapshot does not hold",
                            alias.name
                        ))
                    })
                };
                let main = map(&alias.function_version)?;
                let mut weights = std::collections::HashMap::new();
                for (v, w) in &alias.weights {
                    weights.insert(map(v)?, *w);
                }
                let routing = AliasRoutingConfiguration::builder()
                    .set_additional_version_weights(Some(weights.clone()))
                    .build();
                if *create {
                    // The raw error is needed here (its code), so the token is taken by hand.
                    self.clients.lambda_limit.acquire_first().await;
                    let created = lambda
                        .create_alias()
                        .function_name(f)
                        .name(&alias.name)
                        .function_version(&main)
                        .set_description(alias.description.clone())
                        .routing_config(routing)
                        .send()
                        .await;
                    if let Err(e) = created {
                        // A retry after an attempt that timed out but was made finds the alias
                        // there: it is ours when it routes exactly as asked.
                        let conflict = matches!(
                            aws_sdk_lambda::error::ProvideErrorMetadata::code(&e),
                            Some("ResourceConflictException" | "ConflictException")
                        );
                        self.clients.lambda_limit.acquire_first().await;
                        let ours = conflict
                            && lambda
                                .get_alias()
                                .function_name(f)
                                .name(&alias.name)
                                .send()
                                .await
                                .is_ok_and(|a| {
                                    let got: std::collections::HashMap<String, f64> = a
                                        .routing_config()
                                        .and_then(|r| r.additional_version_weights())
                                        .cloned()
                                        .unwrap_or_default();
                                    a.function_version() == Some(main.as_str()) && got == weights
                                });
                        if !ours {
                            return Err(sdk(classify(e, self.t())));
                        }
                    }
                    journal.push(Undo::DeleteAlias(alias.name.clone()));
                } else {
                    let before = self
                        .clients
                        .lambda_call(lambda.get_alias().function_name(f).name(&alias.name).send())
                        .await?;
                    self.clients
                        .lambda_call(
                            lambda
                                .update_alias()
                                .function_name(f)
                                .name(&alias.name)
                                .function_version(&main)
                                .routing_config(routing)
                                .send(),
                        )
                        .await?;
                    journal.push(Undo::Alias(AliasSnapshot {
                        name: alias.name.clone(),
                        function_version: before.function_version().unwrap_or_default().to_string(),
                        description: None,
                        weights: before
                            .routing_config()
                            .and_then(|r| r.additional_version_weights())
                            .map(|w| w.iter().map(|(k, v)| (k.clone(), *v)).collect())
                            .unwrap_or_default(),
                    }));
                }
                Ok(())
            }
            Step::Reserve { value } => {
                // A function this restore created has no reservation yet.
                let before = if plan.exists {
                    head(self.clients, f).await?.reserved
                } else {
                    None
                };
                set_reserved(self.clients, f, *value).await?;
                journal.push(Undo::Reserve(before));
                Ok(())
            }
            Step::Tags { set, remove } => {
                let current = head(self.clients, f).await?;
                set_tags(self.clients, &current.arn, set, remove).await?;
                let undo_set: BTreeMap<String, String> = set
                    .keys()
                    .chain(remove.iter())
                    .filter_map(|k| current.tags.get(k).map(|v| (k.clone(), v.clone())))
                    .collect();
                let undo_remove = set
                    .keys()
                    .filter(|k| !current.tags.contains_key(*k))
                    .cloned()
                    .collect();
                journal.push(Undo::Tags {
                    set: undo_set,
                    remove: undo_remove,
                });
                Ok(())
            }
            Step::Mapping {
                source_arn,
                batch_size,
                starting_position,
                batching_window,
                qualifier,
                enabled,
            } => {
                // On the alias it invoked, or the target's number of the version.
                let target = match qualifier {
                    Some(q) => format!("{f}:{}", versions.get(q).unwrap_or(q)),
                    None => f.to_string(),
                };
                let out = self
                    .clients
                    .lambda_call(
                        lambda
                            .create_event_source_mapping()
                            .function_name(target)
                            .event_source_arn(source_arn)
                            .set_batch_size(*batch_size)
                            .set_maximum_batching_window_in_seconds(*batching_window)
                            .set_starting_position(
                                starting_position.as_deref().map(EventSourcePosition::from),
                            )
                            .enabled(*enabled)
                            .send(),
                    )
                    .await?;
                journal.push(Undo::DeleteMapping(
                    out.uuid().unwrap_or_default().to_string(),
                ));
                Ok(())
            }
            Step::Url { config, create } => {
                // What was there, for the journal (a created function has none).
                let before = match self.clients.url_config(f).await {
                    Ok(v) => Some(v),
                    Err(ProviderError::NotFound(_)) => None,
                    Err(e) => return Err(sdk(e)),
                };
                let create = *create && before.is_none();
                set_url(self.clients, f, Some(config), create).await?;
                journal.push(Undo::Url(before));
                Ok(())
            }
            Step::Permission {
                permission,
                replaces,
            } => {
                let undo = Undo::Permission {
                    sid: permission.sid.clone(),
                    put_back: replaces.clone(),
                };
                if replaces.is_some() {
                    // Removed: from here the undo puts the old one back, whatever the add does.
                    remove_permission(self.clients, f, &permission.sid).await?;
                    journal.push(undo);
                    return add_permission(self.clients, f, permission).await;
                }
                // Added only: nothing to undo when the add itself fails (say, an id taken).
                add_permission(self.clients, f, permission).await?;
                journal.push(undo);
                Ok(())
            }
            Step::AsyncInvoke { config } => {
                let before = match self.clients.async_config(f).await {
                    Ok(v) => Some(v),
                    Err(ProviderError::NotFound(_)) => None,
                    Err(e) => return Err(sdk(e)),
                };
                set_async_invoke(self.clients, f, Some(config)).await?;
                journal.push(Undo::AsyncInvoke(before));
                Ok(())
            }
        }
    }

    /// The undo for the first change of an existing target's `$LATEST`: back to the safety
    /// snapshot's code and configuration.
    fn latest_undo(&self, journal: &[Undo]) -> Option<Undo> {
        if journal
            .iter()
            .any(|u| matches!(u, Undo::Latest { .. } | Undo::DeleteFunction))
        {
            return None;
        }
        self.before.map(|(m, _)| Undo::Latest {
            config: Box::new(m.latest.config.clone()),
            code: m.latest.code.clone(),
        })
    }
}
