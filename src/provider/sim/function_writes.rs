//! What a restore writes, on the simulated fleet: a created function joins its region (quiet: no
//! traffic until something invokes it), versions keep the configuration and package they were
//! published with, aliases, reservations, tags, mappings and provisioned concurrency change as
//! on AWS. The demo has no URLs, policies, async configurations, layers or registries: those
//! writes are refused as an endpoint without them would refuse them.

use super::function::version_of;
use super::region_actions::next_revision;
use super::*;
use crate::provider::function::{
    AliasSnapshot, CodeInput, FunctionConfig, FunctionWrites, NewLayerVersion, NewMapping,
    Permission, UpdateState,
};
use crate::provider::{FunctionInfo, ProvisionedConcurrency, Trigger, TriggerKind};

fn unsupported(what: &str) -> ProviderError {
    ProviderError::Unsupported(format!("the demo fleet has no {what}"))
}

impl SimRegion {
    /// The bytes behind a package: inline, or read from the demo's buckets.
    fn package_bytes(&self, code: CodeInput) -> Result<Vec<u8>, ProviderError> {
        match code {
            CodeInput::Zip(bytes) => Ok(bytes),
            CodeInput::Image(uri) => Ok(uri.into_bytes()),
            CodeInput::S3 { bucket, key } => self.object(&bucket, &key).ok_or_else(|| {
                ProviderError::NotFound(format!("s3://{bucket}/{key} does not exist"))
            }),
        }
    }

    fn sets_latest(f: &mut SimFunction, config: FunctionConfig, bytes: Vec<u8>) {
        // Published versions never change: a seeded one keeps what it had before `info`
        // (which seeded versions are read from) follows the new `$LATEST`.
        let seeded: Vec<String> = f
            .info
            .versions
            .iter()
            .filter(|v| !f.code.contains_key(*v))
            .cloned()
            .collect();
        for v in seeded {
            let kept = version_of(f, &v);
            f.code.insert(v, kept);
        }
        f.info.runtime = config.runtime.clone();
        f.info.memory_mb = config.memory_size;
        f.info.timeout_s = config.timeout;
        f.info.last_modified = Some(Utc::now().format("%Y-%m-%dT%H:%M:%S%.3f+0000").to_string());
        f.code.insert("$LATEST".into(), (config, bytes));
    }
}

impl FunctionWrites for SimRegion {
    async fn create_function(
        &self,
        name: &str,
        config: &FunctionConfig,
        code: CodeInput,
    ) -> Result<bool, ProviderError> {
        self.answer(21).await?;
        let bytes = self.package_bytes(code)?;
        let mut all = self.write();
        if all.iter().any(|f| f.info.name == name) {
            return Ok(false);
        }
        let region = &self.scope.region;
        let mut function = SimFunction {
            info: FunctionInfo {
                name: name.to_string(),
                arn: format!("arn:aws:lambda:{region}:000000000000:function:{name}"),
                package_type: config.package_type.clone().unwrap_or_else(|| "Zip".into()),
                state: "Active".into(),
                last_update_status: Some("Successful".into()),
                ..FunctionInfo::default()
            },
            peak_rate: 0.0,
            error_rate: 0.0,
            duration_ms: 100.0,
            drift: 0.0,
            scenario: None,
            triggers: Vec::new(),
            code: BTreeMap::new(),
        };
        Self::sets_latest(&mut function, config.clone(), bytes);
        all.push(function);
        Ok(true)
    }

    async fn update_code(
        &self,
        name: &str,
        code: CodeInput,
        architectures: &[String],
    ) -> Result<(), ProviderError> {
        self.answer(22).await?;
        let bytes = self.package_bytes(code)?;
        self.with_function(name, |f| {
            let (mut config, _) = version_of(f, "$LATEST");
            if !architectures.is_empty() {
                config.architectures = architectures.to_vec();
            }
            Self::sets_latest(f, config, bytes);
            Ok(())
        })
    }

    async fn update_config(
        &self,
        name: &str,
        config: &FunctionConfig,
        _changed: Option<&[String]>,
    ) -> Result<(), ProviderError> {
        self.answer(23).await?;
        self.with_function(name, |f| {
            let (was, bytes) = version_of(f, "$LATEST");
            // The package type and architectures go with the code, not the configuration.
            let config = FunctionConfig {
                package_type: was.package_type,
                architectures: was.architectures,
                ..config.clone()
            };
            Self::sets_latest(f, config, bytes);
            Ok(())
        })
    }

    /// The demo's functions settle at once (its seeded "Pending" ones are a picture of a
    /// state, not a step on the way to another).
    async fn update_state(&self, name: &str) -> Result<UpdateState, ProviderError> {
        self.answer(24).await?;
        self.with_function(name, |_| Ok(UpdateState::Ready))
    }

    async fn publish_version(&self, name: &str) -> Result<String, ProviderError> {
        self.answer(25).await?;
        self.with_function(name, |f| {
            let latest = version_of(f, "$LATEST");
            // Nothing changed since the last version: Lambda answers with that one.
            if let Some(last) = f.info.versions.last()
                && version_of(f, last) == latest
            {
                return Ok(last.clone());
            }
            let next = f
                .info
                .versions
                .iter()
                .filter_map(|v| v.parse::<u32>().ok())
                .max()
                .unwrap_or(0)
                + 1;
            let number = next.to_string();
            f.info.versions.push(number.clone());
            f.code.insert(number.clone(), latest);
            Ok(number)
        })
    }

    async fn delete_function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(), ProviderError> {
        self.answer(26).await?;
        match qualifier {
            None => {
                let mut all = self.write();
                let before = all.len();
                all.retain(|f| f.info.name != name);
                if all.len() == before {
                    return Err(ProviderError::NotFound(format!(
                        "Function not found: {name}"
                    )));
                }
                Ok(())
            }
            Some(v) => self.with_function(name, |f| {
                if !f.info.versions.iter().any(|x| x == v) {
                    return Err(ProviderError::NotFound(format!(
                        "Function not found: {name}:{v}"
                    )));
                }
                if f.info.aliases.iter().any(|a| a.versions().any(|x| x == v)) {
                    return Err(ProviderError::Service(format!(
                        "version {v} of {name} is routed to by an alias"
                    )));
                }
                f.info.versions.retain(|x| x != v);
                f.info.provisioned.retain(|p| p.qualifier != v);
                f.code.remove(v);
                Ok(())
            }),
        }
    }

    async fn alias_route(&self, name: &str, alias: &str) -> Result<AliasSnapshot, ProviderError> {
        self.answer(27).await?;
        self.with_function(name, |f| {
            let a = f
                .info
                .aliases
                .iter()
                .find(|a| a.name == alias)
                .ok_or_else(|| {
                    ProviderError::NotFound(format!("Alias not found: {name}:{alias}"))
                })?;
            Ok(AliasSnapshot {
                name: a.name.clone(),
                function_version: a.function_version.clone(),
                description: None,
                weights: a.additional_weights.iter().cloned().collect(),
            })
        })
    }

    async fn create_alias(&self, name: &str, alias: &AliasSnapshot) -> Result<bool, ProviderError> {
        self.answer(28).await?;
        self.with_function(name, |f| {
            if f.info.aliases.iter().any(|a| a.name == alias.name) {
                return Ok(false);
            }
            routes_to_versions(f, alias)?;
            f.info.aliases.push(AliasInfo {
                name: alias.name.clone(),
                function_version: alias.function_version.clone(),
                additional_weights: alias.weights.clone().into_iter().collect(),
                revision_id: Some(next_revision(
                    self.seed,
                    Some(&format!("{}{}", alias.name, Utc::now().timestamp_micros())),
                )),
            });
            Ok(true)
        })
    }

    async fn update_alias(&self, name: &str, alias: &AliasSnapshot) -> Result<(), ProviderError> {
        self.answer(29).await?;
        self.with_function(name, |f| {
            routes_to_versions(f, alias)?;
            let a = f
                .info
                .aliases
                .iter_mut()
                .find(|a| a.name == alias.name)
                .ok_or_else(|| {
                    ProviderError::NotFound(format!("Alias not found: {name}:{}", alias.name))
                })?;
            a.function_version = alias.function_version.clone();
            a.additional_weights = alias.weights.clone().into_iter().collect();
            a.revision_id = Some(next_revision(self.seed, a.revision_id.as_deref()));
            Ok(())
        })
    }

    async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), ProviderError> {
        self.answer(30).await?;
        self.with_function(name, |f| {
            f.info.aliases.retain(|a| a.name != alias);
            f.info.provisioned.retain(|p| p.qualifier != alias);
            Ok(())
        })
    }

    async fn set_reserved(&self, name: &str, value: Option<i32>) -> Result<(), ProviderError> {
        self.answer(31).await?;
        self.reserve(name, value)
    }

    async fn tag(
        &self,
        arn: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        self.answer(32).await?;
        let mut all = self.write();
        let f = all
            .iter_mut()
            .find(|f| f.info.arn == arn)
            .ok_or_else(|| ProviderError::NotFound(format!("Function not found: {arn}")))?;
        f.info.tags.extend(set.clone());
        for k in remove {
            f.info.tags.remove(k);
        }
        Ok(())
    }

    async fn create_mapping(&self, m: &NewMapping) -> Result<String, ProviderError> {
        self.answer(33).await?;
        let name = m.target.split(':').next().unwrap_or_default();
        let uuid = format!(
            "{:08x}-0000-4000-8000-{:012x}",
            key_of(&m.target) as u32,
            key_of(&m.source_arn) & 0xffff_ffff_ffff
        );
        self.with_function(name, |f| {
            // One mapping per source and function, as Lambda allows.
            if f.triggers.iter().any(|t| t.id == uuid) {
                return Err(ProviderError::Service(format!(
                    "ResourceConflictException: {} already maps {} to {}",
                    uuid, m.source_arn, m.target
                )));
            }
            f.triggers.push(Trigger {
                kind: TriggerKind::Mapping,
                id: uuid.clone(),
                source: m.source_arn.clone(),
                state: if m.enabled { "Enabled" } else { "Disabled" }.into(),
                enabled: m.enabled,
                detail: format!("batch {}", m.batch_size.unwrap_or(10)),
            });
            Ok(uuid.clone())
        })
    }

    async fn delete_mapping(&self, uuid: &str) -> Result<(), ProviderError> {
        self.answer(34).await?;
        let mut all = self.write();
        let found = all
            .iter_mut()
            .find(|f| f.triggers.iter().any(|t| t.id == uuid))
            .ok_or_else(|| ProviderError::NotFound(format!("mapping {uuid} not found")))?;
        found.triggers.retain(|t| t.id != uuid);
        Ok(())
    }

    async fn set_url(
        &self,
        _name: &str,
        _config: Option<&serde_json::Value>,
        _create: bool,
    ) -> Result<(), ProviderError> {
        Err(unsupported("function URLs"))
    }

    async fn set_async_invoke(
        &self,
        _name: &str,
        _config: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        Err(unsupported("async invoke configurations"))
    }

    async fn add_permission(&self, _name: &str, _p: &Permission) -> Result<(), ProviderError> {
        Err(unsupported("resource policies"))
    }

    async fn remove_permission(
        &self,
        _name: &str,
        _sid: &str,
        _qualifier: Option<&str>,
    ) -> Result<(), ProviderError> {
        Err(unsupported("resource policies"))
    }

    async fn set_provisioned(
        &self,
        name: &str,
        qualifier: &str,
        value: Option<i32>,
    ) -> Result<(), ProviderError> {
        self.answer(35).await?;
        self.with_function(name, |f| {
            f.info.provisioned.retain(|p| p.qualifier != qualifier);
            if let Some(n) = value {
                f.info.provisioned.push(ProvisionedConcurrency {
                    qualifier: qualifier.to_string(),
                    requested: Some(n),
                    allocated: Some(n),
                    status: Some("READY".into()),
                });
            }
            Ok(())
        })
    }

    async fn publish_layer_version(
        &self,
        _layer: &NewLayerVersion,
    ) -> Result<String, ProviderError> {
        Err(unsupported("layers"))
    }

    async fn delete_layer_version(&self, _arn: &str) -> Result<(), ProviderError> {
        Err(unsupported("layers"))
    }

    async fn image_exists(
        &self,
        _registry: &str,
        _repository: &str,
        _digest: &str,
    ) -> Result<bool, ProviderError> {
        Ok(false)
    }
}

/// An alias may only route to published versions of its function.
fn routes_to_versions(f: &SimFunction, alias: &AliasSnapshot) -> Result<(), ProviderError> {
    let versions = std::iter::once(&alias.function_version).chain(alias.weights.keys());
    for v in versions {
        if v != "$LATEST" && !f.info.versions.contains(v) {
            return Err(ProviderError::Service(format!(
                "alias {} cannot route to version {v} of {}: it is not published",
                alias.name, f.info.name
            )));
        }
    }
    Ok(())
}
