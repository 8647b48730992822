//! Restore: compare a snapshot with the target function, plan the steps that make them equal,
//! and apply them with a journal of compensating steps, so that a failure half-way puts the
//! target back as it was. Rerunning a finished restore finds nothing to do.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    AliasRoutingConfiguration, Architecture, DeadLetterConfig, Environment, EphemeralStorage,
    EventSourcePosition, FunctionCode, PackageType, Runtime, TracingConfig, TracingMode, VpcConfig,
};

use super::BackupError;
use super::capture::config_of;
use super::manifest::{AliasSnapshot, Code, FunctionConfig, Manifest, VersionSnapshot};
use super::store::Store;
use crate::provider::ProviderError;
use crate::provider::aws::{Clients, classify};

/// Lambda takes packages up to this size inline; larger ones go by S3 reference.
const INLINE_LIMIT: u64 = 50 * 1024 * 1024;

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
}

/// Reads the target; `None` when it does not exist.
pub async fn read_current(
    clients: &Clients,
    function: &str,
) -> Result<Option<Current>, BackupError> {
    let t = clients.operation_timeout.as_secs_f64();
    let lambda = &clients.lambda;
    clients.lambda_limit.acquire().await;
    let got = match lambda.get_function().function_name(function).send().await {
        Ok(g) => g,
        Err(e) => {
            return match classify(e, t) {
                ProviderError::NotFound(_) => Ok(None),
                other => Err(BackupError::Provider(other)),
            };
        }
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
    current.versions = super::capture::published(clients, function)
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
    current.aliases = super::capture::aliases_of(clients, function).await?;
    clients.lambda_limit.acquire().await;
    if let Ok(out) = lambda
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
    {
        current.mapping_sources = out
            .event_source_mappings()
            .iter()
            .filter_map(|m| m.event_source_arn().map(str::to_string))
            .collect();
    }
    Ok(Some(current))
}

/// One step of a restore.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    Create {
        config: FunctionConfig,
        code: Code,
    },
    UpdateCode {
        code: Code,
    },
    UpdateConfig {
        config: FunctionConfig,
        changes: Vec<String>,
    },
    /// Publishes `$LATEST` as the snapshot's version `of`.
    Publish {
        of: String,
    },
    /// Alias to snapshot versions (mapped to the target's numbers when run).
    Alias {
        alias: AliasSnapshot,
        create: bool,
    },
    Reserve {
        value: Option<i32>,
    },
    Tags {
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    Mapping {
        source_arn: String,
        batch_size: Option<i32>,
        starting_position: Option<String>,
        enabled: bool,
    },
}

impl Step {
    pub fn describe(&self) -> String {
        match self {
            Step::Create { config, code } => format!(
                "create the function ({}, {} MB, code {})",
                config.runtime.as_deref().unwrap_or("image"),
                config.memory_size.unwrap_or_default(),
                short_hash(code.lambda_sha256())
            ),
            Step::UpdateCode { code } => {
                format!("update code to {}", short_hash(code.lambda_sha256()))
            }
            Step::UpdateConfig { changes, .. } => {
                format!("update configuration: {}", changes.join("; "))
            }
            Step::Publish { of } => format!("publish a version as the snapshot's v{of}"),
            Step::Alias { alias, create } => format!(
                "{} alias {} → v{}{}",
                if *create { "create" } else { "update" },
                alias.name,
                alias.function_version,
                alias
                    .weights
                    .iter()
                    .map(|(v, w)| format!(" + v{v} {:.0}%", w * 100.0))
                    .collect::<String>()
            ),
            Step::Reserve { value: Some(n) } => format!("reserved concurrency {n}"),
            Step::Reserve { value: None } => "remove reserved concurrency".into(),
            Step::Tags { set, remove } => format!(
                "tags: set {}{}",
                set.iter()
                    .map(|(k, v)| format!("{k}={v}"))
                    .collect::<Vec<_>>()
                    .join(", "),
                if remove.is_empty() {
                    String::new()
                } else {
                    format!("; remove {}", remove.join(", "))
                }
            ),
            Step::Mapping {
                source_arn,
                enabled,
                ..
            } => format!(
                "event source mapping from {source_arn} ({})",
                if *enabled { "enabled" } else { "disabled" }
            ),
        }
    }
}

fn short_hash(h: &str) -> String {
    h.chars().take(12).collect()
}

/// The steps that make the target equal to the snapshot, and notes on what is not restored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct RestorePlan {
    pub function: String,
    pub region: String,
    pub exists: bool,
    pub steps: Vec<Step>,
    /// Snapshot version → the target's version that already matches it.
    pub matched: BTreeMap<String, String>,
    pub notes: Vec<String>,
}

const LATEST: &str = "$LATEST";

impl RestorePlan {
    /// Versions the snapshot's aliases route to that the restore would neither find nor
    /// publish: such a restore would fail half-way, so the preview refuses it first.
    pub fn unroutable(&self, manifest: &Manifest) -> Vec<String> {
        let published: BTreeSet<&str> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Publish { of } => Some(of.as_str()),
                _ => None,
            })
            .collect();
        let mut missing = Vec::new();
        for a in &manifest.aliases {
            for v in std::iter::once(&a.function_version).chain(a.weights.keys()) {
                if !self.matched.contains_key(v) && !published.contains(v.as_str()) {
                    missing.push(format!("alias {} routes to version {v}", a.name));
                }
            }
        }
        missing
    }
}

fn same_version(config: &FunctionConfig, sha: &str, v: &VersionSnapshot) -> bool {
    sha == v.code.lambda_sha256() && config.differences(&v.config).is_empty()
}

/// Plans a restore of `manifest` into `function` in `region` (pure: no AWS calls).
pub fn plan(
    manifest: &Manifest,
    current: Option<&Current>,
    function: &str,
    region: &str,
    role: Option<&str>,
) -> RestorePlan {
    let adapt = |c: &FunctionConfig| {
        let mut c = c.clone();
        if let Some(role) = role {
            c.role = role.to_string();
        }
        c
    };
    let mut out = RestorePlan {
        function: function.to_string(),
        region: region.to_string(),
        exists: current.is_some(),
        ..Default::default()
    };
    // Where $LATEST stands as the steps run.
    let mut latest: Option<(FunctionConfig, String)> = current.and_then(|c| c.latest.clone());
    let mut used = BTreeSet::new();
    let move_latest = |out: &mut RestorePlan,
                       latest: &mut Option<(FunctionConfig, String)>,
                       v: &VersionSnapshot| {
        let config = adapt(&v.config);
        match latest {
            None => out.steps.push(Step::Create {
                config: config.clone(),
                code: v.code.clone(),
            }),
            Some((c, sha)) => {
                if sha != v.code.lambda_sha256() {
                    out.steps.push(Step::UpdateCode {
                        code: v.code.clone(),
                    });
                }
                let changes = config.differences(c);
                if !changes.is_empty() {
                    out.steps.push(Step::UpdateConfig {
                        config: config.clone(),
                        changes,
                    });
                }
            }
        }
        *latest = Some((config, v.code.lambda_sha256().to_string()));
    };
    for v in &manifest.versions {
        let wanted = VersionSnapshot {
            config: adapt(&v.config),
            ..v.clone()
        };
        let found = current.and_then(|c| {
            c.versions
                .iter()
                .find(|(n, cfg, sha)| !used.contains(n) && same_version(cfg, sha, &wanted))
        });
        if let Some((n, _, _)) = found {
            used.insert(n.clone());
            out.matched.insert(v.version.clone(), n.clone());
            continue;
        }
        move_latest(&mut out, &mut latest, v);
        out.steps.push(Step::Publish {
            of: v.version.clone(),
        });
    }
    move_latest(&mut out, &mut latest, &manifest.latest);
    // An alias on $LATEST stays on the restored function's $LATEST.
    out.matched.insert(LATEST.into(), LATEST.into());

    let republished: BTreeSet<String> = out
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Publish { of } => Some(of.clone()),
            _ => None,
        })
        .collect();
    for a in &manifest.aliases {
        let existing = current.and_then(|c| c.aliases.iter().find(|x| x.name == a.name));
        let same = existing.is_some_and(|e| {
            let map = |v: &str| out.matched.get(v).cloned();
            !republished.contains(&a.function_version)
                && map(&a.function_version).as_deref() == Some(e.function_version.as_str())
                && a.weights.len() == e.weights.len()
                && a.weights.iter().all(|(v, w)| {
                    map(v).is_some_and(|t| e.weights.get(&t).is_some_and(|x| (x - w).abs() < 1e-9))
                })
        });
        if !same {
            out.steps.push(Step::Alias {
                alias: a.clone(),
                create: existing.is_none(),
            });
        }
    }
    if let Some(c) = current {
        for a in &c.aliases {
            if !manifest.aliases.iter().any(|x| x.name == a.name) {
                out.notes.push(format!(
                    "alias {} is not in the snapshot: left as it is",
                    a.name
                ));
            }
        }
    }
    if current.map(|c| c.reserved) != Some(manifest.reserved_concurrency)
        && !(current.is_none() && manifest.reserved_concurrency.is_none())
    {
        out.steps.push(Step::Reserve {
            value: manifest.reserved_concurrency,
        });
    }
    let empty = BTreeMap::new();
    let have = current.map(|c| &c.tags).unwrap_or(&empty);
    let set: BTreeMap<String, String> = manifest
        .tags
        .iter()
        .filter(|(k, v)| have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = have
        .keys()
        .filter(|k| !manifest.tags.contains_key(*k))
        .cloned()
        .collect();
    if !set.is_empty() || !remove.is_empty() {
        out.steps.push(Step::Tags { set, remove });
    }
    for m in manifest.event_source_mappings.iter().flatten() {
        let Some(source) = &m.source_arn else {
            continue;
        };
        if current.is_some_and(|c| c.mapping_sources.contains(source)) {
            continue;
        }
        let source_region = source.split(':').nth(3).unwrap_or_default();
        if !source_region.is_empty() && source_region != region {
            out.notes.push(format!(
                "event source mapping from {source} is not restored: its source is in {source_region}, not {region}"
            ));
            continue;
        }
        out.steps.push(Step::Mapping {
            source_arn: source.clone(),
            batch_size: m.batch_size,
            starting_position: m.starting_position.clone(),
            enabled: m
                .state
                .as_deref()
                .is_none_or(|s| s == "Enabled" || s == "Enabling"),
        });
    }
    if region != manifest.region {
        let c = &manifest.latest.config;
        if !c.layers.is_empty() {
            out.notes.push(format!(
                "layers are referenced by ARN in {}: publish them in {region} first if they are not there",
                manifest.region
            ));
        }
        if !c.subnet_ids.is_empty() {
            out.notes.push("the VPC subnets and security groups belong to the snapshot's region: pass a configuration for this region after the restore".into());
        }
    }
    for (piece, present) in [
        ("function URL", manifest.function_url.is_some()),
        ("resource policy", manifest.policy.is_some()),
        (
            "async invoke configuration",
            manifest.async_invoke.is_some(),
        ),
        (
            "provisioned concurrency",
            manifest
                .provisioned_concurrency
                .as_ref()
                .is_some_and(|p| !p.is_empty()),
        ),
    ] {
        if present {
            out.notes.push(format!(
                "the {piece} is recorded in the snapshot but not restored: apply it from the manifest by hand"
            ));
        }
    }
    out
}

/// What a step did, so that it can be undone.
#[derive(Debug, Clone)]
enum Undo {
    DeleteFunction,
    DeleteVersion(String),
    Latest {
        config: Box<FunctionConfig>,
        code: Code,
    },
    DeleteAlias(String),
    Alias(AliasSnapshot),
    Reserve(Option<i32>),
    Tags {
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    DeleteMapping(String),
}

impl Undo {
    fn describe(&self) -> String {
        match self {
            Undo::DeleteFunction => "delete the created function".into(),
            Undo::DeleteVersion(n) => format!("delete published version {n}"),
            Undo::Latest { .. } => "put back $LATEST's code and configuration".into(),
            Undo::DeleteAlias(a) => format!("delete created alias {a}"),
            Undo::Alias(a) => format!("put back alias {}", a.name),
            Undo::Reserve(_) => "put back reserved concurrency".into(),
            Undo::Tags { .. } => "put back tags".into(),
            Undo::DeleteMapping(u) => format!("delete created event source mapping {u}"),
        }
    }
}

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

/// What a restore did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Restored {
    pub function: String,
    pub region: String,
    pub steps: usize,
    /// Snapshot version → target version.
    pub versions: BTreeMap<String, String>,
}

impl Runner<'_> {
    fn t(&self) -> f64 {
        self.clients.operation_timeout.as_secs_f64()
    }

    pub async fn run(&self, plan: &RestorePlan) -> Result<Restored, BackupError> {
        let mut journal: Vec<Undo> = Vec::new();
        let mut versions = plan.matched.clone();
        let mut result = Ok(());
        for step in &plan.steps {
            (self.on_step)(step);
            if let Err(e) = self.apply(plan, step, &mut versions, &mut journal).await {
                result = Err(e);
                break;
            }
        }
        match result {
            Ok(()) => Ok(Restored {
                function: plan.function.clone(),
                region: plan.region.clone(),
                steps: plan.steps.len(),
                versions,
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

    async fn code_input(&self, store: &Store, code: &Code) -> Result<FunctionCode, BackupError> {
        match code {
            Code::Image { image_uri, .. } => {
                Ok(FunctionCode::builder().image_uri(image_uri).build())
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
                        .s3_key(store.root.child(&super::manifest::layout::blob(sha256)))
                        .build());
                }
                let bytes = store.get_blob(sha256, *size).await?;
                Ok(FunctionCode::builder().zip_file(Blob::new(bytes)).build())
            }
        }
    }

    /// Waits until the function has finished its last update (Lambda refuses the next one
    /// until then).
    async fn settle(&self, function: &str) -> Result<(), BackupError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            self.clients.lambda_limit.acquire().await;
            let c = self
                .clients
                .lambda
                .get_function_configuration()
                .function_name(function)
                .send()
                .await
                .map_err(|e| BackupError::Provider(classify(e, self.t())))?;
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
        versions: &mut BTreeMap<String, String>,
        journal: &mut Vec<Undo>,
    ) -> Result<(), BackupError> {
        let f = plan.function.as_str();
        let lambda = &self.clients.lambda;
        let sdk = |e: ProviderError| BackupError::Provider(e);
        self.clients.lambda_limit.acquire().await;
        match step {
            Step::Create { config, code } => {
                let code_input = self.code_input(self.store, code).await?;
                let mut call = lambda
                    .create_function()
                    .function_name(f)
                    .role(&config.role)
                    .code(code_input)
                    .publish(false);
                call = with_config_create(call, config);
                call.send().await.map_err(|e| sdk(classify(e, self.t())))?;
                journal.push(Undo::DeleteFunction);
                self.settle(f).await
            }
            Step::UpdateCode { code } => {
                let before = self.latest_undo(journal);
                let input = self.code_input(self.store, code).await?;
                update_code(lambda, f, input)
                    .send()
                    .await
                    .map_err(|e| sdk(classify(e, self.t())))?;
                journal.extend(before);
                self.settle(f).await
            }
            Step::UpdateConfig { config, .. } => {
                let before = self.latest_undo(journal);
                let call = with_config_update(
                    lambda.update_function_configuration().function_name(f),
                    config,
                );
                call.send().await.map_err(|e| sdk(classify(e, self.t())))?;
                journal.extend(before);
                self.settle(f).await
            }
            Step::Publish { of } => {
                let out = lambda
                    .publish_version()
                    .function_name(f)
                    .send()
                    .await
                    .map_err(|e| sdk(classify(e, self.t())))?;
                let n = out.version().unwrap_or_default().to_string();
                journal.push(Undo::DeleteVersion(n.clone()));
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
                    .set_additional_version_weights(Some(weights))
                    .build();
                if *create {
                    lambda
                        .create_alias()
                        .function_name(f)
                        .name(&alias.name)
                        .function_version(&main)
                        .set_description(alias.description.clone())
                        .routing_config(routing)
                        .send()
                        .await
                        .map_err(|e| sdk(classify(e, self.t())))?;
                    journal.push(Undo::DeleteAlias(alias.name.clone()));
                } else {
                    let before = lambda
                        .get_alias()
                        .function_name(f)
                        .name(&alias.name)
                        .send()
                        .await
                        .map_err(|e| sdk(classify(e, self.t())))?;
                    lambda
                        .update_alias()
                        .function_name(f)
                        .name(&alias.name)
                        .function_version(&main)
                        .routing_config(routing)
                        .send()
                        .await
                        .map_err(|e| sdk(classify(e, self.t())))?;
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
                enabled,
            } => {
                let out = lambda
                    .create_event_source_mapping()
                    .function_name(f)
                    .event_source_arn(source_arn)
                    .set_batch_size(*batch_size)
                    .set_starting_position(
                        starting_position.as_deref().map(EventSourcePosition::from),
                    )
                    .enabled(*enabled)
                    .send()
                    .await
                    .map_err(|e| sdk(classify(e, self.t())))?;
                journal.push(Undo::DeleteMapping(
                    out.uuid().unwrap_or_default().to_string(),
                ));
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

    async fn undo(&self, function: &str, journal: Vec<Undo>) -> Result<(), BackupError> {
        let lambda = &self.clients.lambda;
        let sdk = |e: ProviderError| BackupError::Provider(e);
        // Every step is attempted, whatever failed before it; each failure is reported.
        let mut failures: Vec<String> = Vec::new();
        for undo in journal.into_iter().rev() {
            let what = undo.describe();
            self.clients.lambda_limit.acquire().await;
            let r: Result<(), BackupError> = async {
                match undo {
                    Undo::DeleteFunction => {
                        lambda
                            .delete_function()
                            .function_name(function)
                            .send()
                            .await
                            .map_err(|e| sdk(classify(e, self.t())))?;
                    }
                    Undo::DeleteVersion(n) => {
                        lambda
                            .delete_function()
                            .function_name(function)
                            .qualifier(n)
                            .send()
                            .await
                            .map_err(|e| sdk(classify(e, self.t())))?;
                    }
                    Undo::Latest { config, code } => {
                        let store = self.before.map(|(_, s)| s).unwrap_or(self.store);
                        let input = self.code_input(store, &code).await?;
                        update_code(lambda, function, input)
                            .send()
                            .await
                            .map_err(|e| sdk(classify(e, self.t())))?;
                        self.settle(function).await?;
                        with_config_update(
                            lambda
                                .update_function_configuration()
                                .function_name(function),
                            &config,
                        )
                        .send()
                        .await
                        .map_err(|e| sdk(classify(e, self.t())))?;
                        self.settle(function).await?;
                    }
                    Undo::DeleteAlias(name) => {
                        lambda
                            .delete_alias()
                            .function_name(function)
                            .name(name)
                            .send()
                            .await
                            .map_err(|e| sdk(classify(e, self.t())))?;
                    }
                    Undo::Alias(a) => {
                        let routing = AliasRoutingConfiguration::builder()
                            .set_additional_version_weights(Some(a.weights.into_iter().collect()))
                            .build();
                        lambda
                            .update_alias()
                            .function_name(function)
                            .name(a.name)
                            .function_version(a.function_version)
                            .routing_config(routing)
                            .send()
                            .await
                            .map_err(|e| sdk(classify(e, self.t())))?;
                    }
                    Undo::Reserve(value) => set_reserved(self.clients, function, value).await?,
                    Undo::Tags { set, remove } => {
                        let arn = head(self.clients, function).await?.arn;
                        set_tags(self.clients, &arn, &set, &remove).await?;
                    }
                    Undo::DeleteMapping(uuid) => {
                        lambda
                            .delete_event_source_mapping()
                            .uuid(uuid)
                            .send()
                            .await
                            .map_err(|e| sdk(classify(e, self.t())))?;
                    }
                }
                Ok(())
            }
            .await;
            if let Err(e) = r {
                tracing::warn!(error = %e, step = %what, "undoing a restore step failed");
                failures.push(format!("{what}: {e}"));
            }
        }
        if failures.is_empty() {
            Ok(())
        } else {
            Err(BackupError::Provider(ProviderError::Service(format!(
                "{} undo step(s) failed: {}",
                failures.len(),
                failures.join("; ")
            ))))
        }
    }
}

/// ARN, reserved concurrency and tags of an existing function: one GetFunction.
async fn head(clients: &Clients, f: &str) -> Result<Current, BackupError> {
    clients.lambda_limit.acquire().await;
    let got = clients
        .lambda
        .get_function()
        .function_name(f)
        .send()
        .await
        .map_err(|e| BackupError::Provider(classify(e, clients.operation_timeout.as_secs_f64())))?;
    Ok(head_of(&got))
}

/// The ARN, reservation and tags a GetFunction answer holds.
fn head_of(got: &aws_sdk_lambda::operation::get_function::GetFunctionOutput) -> Current {
    Current {
        arn: got
            .configuration()
            .and_then(|c| c.function_arn())
            .unwrap_or_default()
            .to_string(),
        reserved: got
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        tags: got
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// UpdateFunctionCode with the same package a CreateFunction would take.
fn update_code(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    input: FunctionCode,
) -> aws_sdk_lambda::operation::update_function_code::builders::UpdateFunctionCodeFluentBuilder {
    let call = lambda.update_function_code().function_name(function);
    match (
        input.zip_file,
        input.s3_bucket,
        input.s3_key,
        input.image_uri,
    ) {
        (Some(zip), _, _, _) => call.zip_file(zip),
        (None, Some(b), Some(k), _) => call.s3_bucket(b).s3_key(k),
        (_, _, _, Some(image)) => call.image_uri(image),
        _ => call,
    }
}

async fn set_reserved(clients: &Clients, f: &str, value: Option<i32>) -> Result<(), BackupError> {
    let t = clients.operation_timeout.as_secs_f64();
    match value {
        Some(n) => clients
            .lambda
            .put_function_concurrency()
            .function_name(f)
            .reserved_concurrent_executions(n)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| BackupError::Provider(classify(e, t))),
        None => clients
            .lambda
            .delete_function_concurrency()
            .function_name(f)
            .send()
            .await
            .map(|_| ())
            .map_err(|e| BackupError::Provider(classify(e, t))),
    }
}

async fn set_tags(
    clients: &Clients,
    arn: &str,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> Result<(), BackupError> {
    let t = clients.operation_timeout.as_secs_f64();
    if !set.is_empty() {
        clients
            .lambda
            .tag_resource()
            .resource(arn)
            .set_tags(Some(set.clone().into_iter().collect()))
            .send()
            .await
            .map_err(|e| BackupError::Provider(classify(e, t)))?;
    }
    if !remove.is_empty() {
        clients
            .lambda
            .untag_resource()
            .resource(arn)
            .set_tag_keys(Some(remove.to_vec()))
            .send()
            .await
            .map_err(|e| BackupError::Provider(classify(e, t)))?;
    }
    Ok(())
}

macro_rules! config_fields {
    ($call:expr, $c:expr) => {{
        let c = $c;
        let mut call = $call
            .role(&c.role)
            .set_handler(c.handler.clone())
            .set_description(Some(c.description.clone().unwrap_or_default()))
            .set_memory_size(c.memory_size)
            .set_timeout(c.timeout)
            .environment(
                Environment::builder()
                    .set_variables(Some(c.environment.clone().into_iter().collect()))
                    .build(),
            )
            .set_layers(Some(c.layers.clone()))
            .set_runtime(c.runtime.as_deref().map(Runtime::from))
            .set_kms_key_arn(c.kms_key_arn.clone());
        if let Some(Ok(storage)) = c
            .ephemeral_storage
            .map(|size| EphemeralStorage::builder().size(size).build())
        {
            call = call.ephemeral_storage(storage);
        }
        if !c.subnet_ids.is_empty() || !c.security_group_ids.is_empty() {
            call = call.vpc_config(
                VpcConfig::builder()
                    .set_subnet_ids(Some(c.subnet_ids.clone()))
                    .set_security_group_ids(Some(c.security_group_ids.clone()))
                    .build(),
            );
        }
        if let Some(dlq) = &c.dead_letter_target {
            call = call.dead_letter_config(DeadLetterConfig::builder().target_arn(dlq).build());
        }
        if let Some(mode) = &c.tracing_mode {
            call = call.tracing_config(
                TracingConfig::builder()
                    .mode(TracingMode::from(mode.as_str()))
                    .build(),
            );
        }
        call
    }};
}

fn with_config_create(
    call: aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
    c: &FunctionConfig,
) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder {
    let mut call = config_fields!(call, c);
    if let Some(p) = &c.package_type {
        call = call.package_type(PackageType::from(p.as_str()));
    }
    if !c.architectures.is_empty() {
        call = call.set_architectures(Some(
            c.architectures
                .iter()
                .map(|a| Architecture::from(a.as_str()))
                .collect(),
        ));
    }
    call
}

fn with_config_update(
    call: aws_sdk_lambda::operation::update_function_configuration::builders::UpdateFunctionConfigurationFluentBuilder,
    c: &FunctionConfig,
) -> aws_sdk_lambda::operation::update_function_configuration::builders::UpdateFunctionConfigurationFluentBuilder{
    config_fields!(call, c)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::backup::manifest::{BlobRef, FORMAT};

    fn version(n: &str, env: &str, sha: &str) -> VersionSnapshot {
        VersionSnapshot {
            version: n.into(),
            config: FunctionConfig {
                role: "arn:aws:iam::1:role/r".into(),
                memory_size: Some(256),
                environment: [("RELEASE".to_string(), env.to_string())].into(),
                ..Default::default()
            },
            code: Code::Zip {
                sha256: "a".repeat(64),
                size: 10,
                lambda_sha256: sha.into(),
            },
        }
    }

    fn manifest() -> Manifest {
        Manifest {
            format: FORMAT.into(),
            function: "orders".into(),
            region: "eu-west-1".into(),
            account: "1".into(),
            taken_at: String::new(),
            lops_version: String::new(),
            storage_class: "STANDARD".into(),
            blobs: vec![BlobRef {
                sha256: "a".repeat(64),
                size: 10,
                role: "code".into(),
            }],
            latest: version("$LATEST", "two", "X"),
            versions: vec![version("1", "one", "X"), version("2", "two", "X")],
            aliases: vec![AliasSnapshot {
                name: "live".into(),
                function_version: "1".into(),
                description: None,
                weights: [("2".to_string(), 0.2)].into(),
            }],
            reserved_concurrency: Some(7),
            tags: [("team".to_string(), "payments".to_string())].into(),
            provisioned_concurrency: None,
            event_source_mappings: None,
            function_url: None,
            policy: None,
            async_invoke: None,
            layers: vec![],
            absent: BTreeMap::new(),
            data: vec![],
        }
    }

    #[test]
    fn a_new_function_is_created_versions_republished_then_the_rest() {
        let p = plan(&manifest(), None, "orders", "eu-west-1", None);
        let kinds: Vec<String> = p.steps.iter().map(|s| s.describe()).collect();
        assert!(matches!(p.steps[0], Step::Create { .. }), "{kinds:?}");
        assert!(
            matches!(p.steps[1], Step::Publish { ref of } if of == "1"),
            "{kinds:?}"
        );
        assert!(matches!(p.steps[2], Step::UpdateConfig { .. }), "{kinds:?}");
        assert!(
            matches!(p.steps[3], Step::Publish { ref of } if of == "2"),
            "{kinds:?}"
        );
        assert!(
            matches!(p.steps[4], Step::Alias { create: true, .. }),
            "{kinds:?}"
        );
        assert!(
            matches!(p.steps[5], Step::Reserve { value: Some(7) }),
            "{kinds:?}"
        );
        assert!(matches!(p.steps[6], Step::Tags { .. }), "{kinds:?}");
        assert_eq!(p.steps.len(), 7, "{kinds:?}");
    }

    #[test]
    fn a_target_that_matches_needs_nothing() {
        let m = manifest();
        let current = Current {
            latest: Some((m.latest.config.clone(), "X".into())),
            versions: vec![
                ("1".into(), m.versions[0].config.clone(), "X".into()),
                ("2".into(), m.versions[1].config.clone(), "X".into()),
            ],
            aliases: m.aliases.clone(),
            reserved: Some(7),
            tags: m.tags.clone(),
            mapping_sources: BTreeSet::new(),
            arn: "arn".into(),
        };
        let p = plan(&m, Some(&current), "orders", "eu-west-1", None);
        assert!(p.steps.is_empty(), "{:?}", p.steps);
        assert_eq!(p.matched.get("2").map(String::as_str), Some("2"));
        // A role override makes every version differ.
        let p = plan(
            &m,
            Some(&current),
            "orders",
            "eu-west-1",
            Some("arn:aws:iam::2:role/dr"),
        );
        assert!(p.steps.iter().any(|s| matches!(s, Step::Publish { .. })));
    }
}
