//! Applying a restore difference with its journal: each step records how to undo it, and a failure
//! undoes every step done, newest first.

use super::*;

use super::difference::*;
use super::layers::layer_name;
use super::undo::Undo;

/// Runs a restore. `before` is the safety snapshot of an existing target (for putting back its
/// code). On failure, every step done is undone in reverse order.
pub struct Runner<'a, W> {
    /// The target region's functions.
    pub target: &'a W,
    /// The target's region.
    pub region: &'a str,
    /// The snapshot's store (its blobs).
    pub store: &'a Store,
    /// The safety snapshot of the target as it was, with the store holding its blobs.
    pub before: Option<(&'a Manifest, &'a Store)>,
    /// Where that safety snapshot is, for a failure that leaves the target to put back by hand.
    pub safety_uri: Option<&'a str>,
    pub on_step: &'a (dyn Fn(&Step) + Sync),
    /// Set (by Ctrl-C) to stop: the step under way ends, then every change is undone, as
    /// after a failed step.
    pub stop: Option<&'a std::sync::atomic::AtomicBool>,
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

impl<W: FunctionWrites> Runner<'_, W> {
    pub async fn run(&self, difference: &Difference) -> Result<Restored, BackupError> {
        let mut journal: Vec<Undo> = Vec::new();
        let mut mapped = Mapped {
            versions: difference.matched.clone(),
            layers: difference.layers.clone(),
        };
        let mut result = Ok(());
        let mut stopped = None;
        // A step that got no answer, whose write may have landed with nothing in the journal
        // to take it back (a version published, a mapping made): said, never "as it was".
        let mut unsure = None;
        for step in &difference.steps {
            if self
                .stop
                .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
            {
                stopped = Some(step.describe());
                result = Err(BackupError::Refused("stopped".into()));
                break;
            }
            (self.on_step)(step);
            let journaled = journal.len();
            if let Err(e) = self
                .apply(difference, step, &mut mapped, &mut journal)
                .await
            {
                let covered = journal.len() > journaled || covered(step, &journal);
                if may_have_landed(&e) && !covered && writes_unseen(step) {
                    unsure = Some(step.describe());
                }
                result = Err(e);
                break;
            }
        }
        // Stopped while the last step ran: undone as well, as the stop said.
        if result.is_ok()
            && self
                .stop
                .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
        {
            stopped = Some("the end of the restore".into());
            result = Err(BackupError::Refused("stopped".into()));
        }
        match result {
            Ok(()) => Ok(Restored {
                function: difference.function.clone(),
                region: difference.region.clone(),
                steps: difference.steps.len(),
                published_layers: mapped
                    .layers
                    .into_iter()
                    .filter(|(from, to)| difference.layers.get(from) != Some(to))
                    .collect(),
                versions: mapped.versions,
            }),
            Err(e) => {
                let undone = self.undo(&difference.function, journal).await;
                let e = match stopped {
                    Some(next) => format!("stopped by Ctrl-C before: {next}"),
                    None => e.to_string(),
                };
                Err(BackupError::Provider(ProviderError::Service(
                    match undone {
                        Ok(anew) if unsure.is_some() => format!(
                            "restore of {} failed ({e}); every change it knows of was undone{}, \
                             but whether this step landed is not known (no answer came): {} — \
                             look at {} in {} and run the restore again to compare with it",
                            difference.function,
                            made_anew(&anew),
                            unsure.unwrap_or_default(),
                            difference.function,
                            self.region
                        ),
                        Ok(anew) if anew.is_empty() => format!(
                            "restore of {} failed ({e}); {UNDONE_WHOLE}",
                            difference.function
                        ),
                        // Made again, not as it was: said, never "as it was".
                        Ok(anew) => format!(
                            "restore of {} failed ({e}); every change was undone{}",
                            difference.function,
                            made_anew(&anew)
                        ),
                        Err(u) => format!(
                            "restore of {} failed ({e}), and putting it back failed too ({u}): {}",
                            difference.function,
                            match (self.before.is_some(), self.safety_uri) {
                                (true, Some(uri)) => format!(
                                    "restore the safety snapshot {uri} to put it back by hand"
                                ),
                                (true, None) => "restore the safety snapshot printed above to put \
                                                 it back by hand"
                                    .into(),
                                (false, _) => {
                                    "it did not exist before: delete what was created by hand"
                                        .into()
                                }
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
    ) -> Result<CodeInput, BackupError> {
        match code {
            Code::Image { image_uri, .. } => {
                // The very image, from the target region's registry (checked before the restore).
                let uri = super::image::target_image(code, self.region)
                    .map(|t| t.uri)
                    .unwrap_or(image_uri.clone());
                Ok(CodeInput::Image(uri))
            }
            Code::Zip { sha256, size, .. } => {
                if *size > INLINE_LIMIT {
                    if store.region != self.region {
                        return Err(BackupError::Invalid(format!(
                            "the package is {} MB: Lambda takes at most 50 MB inline and reads larger \
                             ones only from a bucket in its own region ({}); the backup bucket is in {}",
                            size / (1024 * 1024),
                            self.region,
                            store.region
                        )));
                    }
                    return Ok(CodeInput::S3 {
                        bucket: store.root.bucket.clone(),
                        key: store
                            .root
                            .child(&crate::backup::manifest::layout::blob(sha256)),
                    });
                }
                Ok(CodeInput::Zip(store.get_blob(sha256, *size).await?))
            }
        }
    }

    /// Waits until the function has finished its last update (Lambda refuses the next one
    /// until then).
    pub(super) async fn settle(&self, function: &str) -> Result<(), BackupError> {
        let deadline = tokio::time::Instant::now() + Duration::from_secs(300);
        loop {
            match self.target.update_state(function).await? {
                UpdateState::Ready => return Ok(()),
                UpdateState::Failed(why) => {
                    return Err(BackupError::Provider(ProviderError::Service(format!(
                        "{function} failed to update: {why}"
                    ))));
                }
                UpdateState::Busy => {}
            }
            if tokio::time::Instant::now() > deadline {
                return Err(BackupError::Provider(ProviderError::Timeout(300.0)));
            }
            tokio::time::sleep(Duration::from_secs(1)).await;
        }
    }

    async fn apply(
        &self,
        difference: &Difference,
        step: &Step,
        mapped: &mut Mapped,
        journal: &mut Vec<Undo>,
    ) -> Result<(), BackupError> {
        let f = difference.function.as_str();
        let target = self.target;
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
                let layer = NewLayerVersion {
                    name: layer_name(arn).to_string(),
                    description: format!("restored by lops from {arn}"),
                    content: self.code_input(self.store, &package).await?,
                    compatible_runtimes: compatible_runtimes.clone(),
                };
                let published = target.publish_layer_version(&layer).await?;
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
                let on = versions
                    .get(qualifier)
                    .cloned()
                    .unwrap_or(qualifier.clone());
                let undo = Undo::Provisioned {
                    qualifier: on.clone(),
                    put_back: *replaces,
                };
                journaled(
                    journal,
                    Some(undo),
                    target.set_provisioned(f, &on, Some(*requested)),
                )
                .await
            }
            Step::Create { config, code } => {
                let config = &mapped.with_layers(config);
                let input = self.code_input(self.store, code).await?;
                let made = match target.create_function(f, config, input).await {
                    Ok(made) => made,
                    // No answer: it may be there, ours — deleted with the rest when it is.
                    Err(e) if crate::provider::may_have_landed(&e) => {
                        if let Ok(t) = target.function(f, None).await
                            && t.code_sha256 == code.lambda_sha256()
                            && t.config.differences(config).is_empty()
                        {
                            journal.push(Undo::DeleteFunction);
                        }
                        return Err(e.into());
                    }
                    Err(e) => return Err(e.into()),
                };
                if !made {
                    // A retry after an attempt that timed out but was made finds the function
                    // there: it is ours when it holds exactly this code and configuration.
                    let there = target.function(f, None).await;
                    let ours = there.is_ok_and(|t| {
                        t.code_sha256 == code.lambda_sha256()
                            && t.config.differences(config).is_empty()
                    });
                    if !ours {
                        return Err(BackupError::Provider(ProviderError::Service(format!(
                            "a function named {f} appeared in {} while restoring: \
                             run the restore again to compare with it",
                            self.region
                        ))));
                    }
                }
                journal.push(Undo::DeleteFunction);
                self.settle(f).await
            }
            Step::UpdateCode {
                code,
                architectures,
            } => {
                // Journaled first: a write with no answer may have landed.
                let input = self.code_input(self.store, code).await?;
                let undo = self.latest_undo(journal);
                journaled(journal, undo, target.update_code(f, input, architectures)).await?;
                self.settle(f).await
            }
            Step::UpdateConfig { config, changes } => {
                let config = &mapped.with_layers(config);
                let fields: Vec<String> = changes
                    .iter()
                    .map(|c| crate::provider::function::changed_field(c).to_string())
                    .collect();
                let undo = self.latest_undo(journal);
                journaled(
                    journal,
                    undo,
                    target.update_config(f, config, Some(&fields)),
                )
                .await?;
                self.settle(f).await
            }
            Step::Publish { of } => {
                let n = target.publish_version(f).await?;
                // Lambda answers with the last version when nothing changed since it: that one
                // was there before (or this restore already journaled it).
                let new = !difference.existing_versions.contains(&n)
                    && !versions.values().any(|v| v == &n);
                if new {
                    journal.push(Undo::DeleteVersion(n.clone()));
                }
                versions.insert(of.clone(), n);
                Ok(())
            }
            Step::Alias { alias, create, .. } => {
                let map = |v: &str| -> Result<String, BackupError> {
                    versions.get(v).cloned().ok_or_else(|| {
                        BackupError::Corrupt(format!(
                            "alias {} routes to version {v}, which the snapshot does not hold",
                            alias.name
                        ))
                    })
                };
                let mut wanted = AliasSnapshot {
                    function_version: map(&alias.function_version)?,
                    weights: BTreeMap::new(),
                    ..alias.clone()
                };
                for (v, w) in &alias.weights {
                    wanted.weights.insert(map(v)?, *w);
                }
                // Routing exactly as asked: a create this restore made (its answer lost).
                let ours = |there: Result<AliasSnapshot, ProviderError>| {
                    there.is_ok_and(|a| {
                        a.function_version == wanted.function_version && a.weights == wanted.weights
                    })
                };
                if *create {
                    let made = match target.create_alias(f, &wanted).await {
                        Ok(made) => made,
                        Err(e) if crate::provider::may_have_landed(&e) => {
                            if ours(target.alias_route(f, &alias.name).await) {
                                journal.push(Undo::DeleteAlias(alias.name.clone()));
                            }
                            return Err(e.into());
                        }
                        Err(e) => return Err(e.into()),
                    };
                    if !made {
                        // A retry after an attempt that timed out but was made finds the alias
                        // there: it is ours when it routes exactly as asked.
                        if !ours(target.alias_route(f, &alias.name).await) {
                            return Err(BackupError::Provider(ProviderError::Service(format!(
                                "alias {f}:{} appeared while restoring: run the restore again \
                                 to compare with it",
                                alias.name
                            ))));
                        }
                    }
                    journal.push(Undo::DeleteAlias(alias.name.clone()));
                } else {
                    let before = target.alias_route(f, &alias.name).await?;
                    let undo = Undo::Alias(AliasSnapshot {
                        description: None,
                        ..before
                    });
                    journaled(journal, Some(undo), target.update_alias(f, &wanted)).await?;
                }
                Ok(())
            }
            Step::Reserve { value, .. } => {
                // A function this restore created has no reservation yet.
                let before = if difference.exists {
                    target.function(f, None).await?.reserved_concurrency
                } else {
                    None
                };
                let undo = Some(Undo::Reserve(before));
                journaled(journal, undo, target.set_reserved(f, *value)).await?;
                Ok(())
            }
            Step::Tags { set, remove } => {
                let current = target.function(f, None).await?;
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
                // Kept whatever the write says: a tag write is two calls (tag, then untag), the
                // first of which may have landed when the second is refused.
                journal.push(Undo::Tags {
                    set: undo_set,
                    remove: undo_remove,
                });
                Ok(target.tag(&current.arn, set, remove).await?)
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
                let mapping = NewMapping {
                    target: match qualifier {
                        Some(q) => format!("{f}:{}", versions.get(q).unwrap_or(q)),
                        None => f.to_string(),
                    },
                    source_arn: source_arn.clone(),
                    batch_size: *batch_size,
                    starting_position: starting_position.clone(),
                    batching_window: *batching_window,
                    enabled: *enabled,
                };
                let uuid = target.create_mapping(&mapping).await?;
                journal.push(Undo::DeleteMapping(uuid));
                Ok(())
            }
            Step::Url { config, create } => {
                // What was there, for the journal (a created function has none).
                let before = match target.url_config(f).await {
                    Ok(v) => Some(v),
                    Err(ProviderError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                };
                let create = *create && before.is_none();
                let undo = Some(Undo::Url(before));
                journaled(journal, undo, target.set_url(f, Some(config), create)).await
            }
            Step::Permission {
                permission,
                replaces,
            } => {
                let undo = Undo::Permission {
                    sid: permission.sid.clone(),
                    qualifier: permission.qualifier.clone(),
                    put_back: replaces.clone(),
                };
                if let Some(old) = replaces {
                    // Removed: from here the undo puts the old one back, whatever the add does.
                    target
                        .remove_permission(f, &old.sid, old.qualifier.as_deref())
                        .await?;
                    journal.push(undo);
                    return Ok(target.add_permission(f, permission).await?);
                }
                // Added only: nothing to undo when the add itself fails (say, an id taken),
                // unless it got no answer (it may be there).
                match target.add_permission(f, permission).await {
                    Err(e) if !crate::provider::may_have_landed(&e) => Err(e.into()),
                    result => {
                        journal.push(undo);
                        Ok(result?)
                    }
                }
            }
            Step::Remove(r) => self.remove(f, r, journal).await,
            Step::AsyncInvoke { config } => {
                let before = match target.async_config(f).await {
                    Ok(v) => Some(v),
                    Err(ProviderError::NotFound(_)) => None,
                    Err(e) => return Err(e.into()),
                };
                let undo = Some(Undo::AsyncInvoke(before));
                journaled(journal, undo, target.set_async_invoke(f, Some(config))).await
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

/// `write`, its undo journaled first: a write that got no answer may have landed, and is put
/// back with the rest. One refused outright changed nothing: its undo goes again (putting back
/// what was never changed could fail for the same reason, and say so).
pub(super) async fn journaled<T>(
    journal: &mut Vec<Undo>,
    undo: Option<Undo>,
    write: impl std::future::Future<Output = Result<T, ProviderError>>,
) -> Result<(), BackupError> {
    let added = undo.is_some();
    journal.extend(undo);
    match write.await {
        Ok(_) => Ok(()),
        Err(e) => {
            if added && !crate::provider::may_have_landed(&e) {
                journal.pop();
            }
            Err(e.into())
        }
    }
}

/// Whether a restore's failure may have left its step's write landed (no answer came).
fn may_have_landed(e: &BackupError) -> bool {
    matches!(e, BackupError::Provider(p) if crate::provider::may_have_landed(p))
}

/// Whether `step` writes something the journal can only name once it is answered (a version's
/// number, a mapping's id, a function or alias created): the other steps journal their undo
/// before their write, so a failure that left the journal as it was came before the write (a
/// read that timed out), and nothing was sent.
fn writes_unseen(step: &Step) -> bool {
    match step {
        Step::Layer { .. } | Step::Mapping { .. } | Step::Publish { .. } | Step::Create { .. } => {
            true
        }
        Step::Alias { create, .. } => *create,
        _ => false,
    }
}

/// Whether what `step` may have written is taken back by the journal already: a change of
/// `$LATEST` by putting it back (an earlier change of it journaled), and all but a layer or a
/// mapping by deleting the function this restore created.
fn covered(step: &Step, journal: &[Undo]) -> bool {
    let created = journal.iter().any(|u| matches!(u, Undo::DeleteFunction));
    match step {
        Step::Layer { .. } | Step::Mapping { .. } => false,
        Step::UpdateCode { .. } | Step::UpdateConfig { .. } => {
            created || journal.iter().any(|u| matches!(u, Undo::Latest { .. }))
        }
        _ => created,
    }
}

/// What a failed restore's undo made again as new, said after "every change was undone".
fn made_anew(anew: &[String]) -> String {
    match anew.is_empty() {
        true => String::new(),
        false => format!(
            ", but what --exact removed was made again as new: {}",
            anew.join("; ")
        ),
    }
}
