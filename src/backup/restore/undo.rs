//! Undoing a restore: what each step did, and the steps that put it back, newest first.

use super::*;
use crate::provider::function::changed_field;

/// What a step did, so that it can be undone.
#[derive(Debug, Clone)]
pub(super) enum Undo {
    DeleteFunction,
    DeleteVersion(String),
    Latest {
        config: Box<FunctionConfig>,
        code: Code,
    },
    DeleteAlias(String),
    Alias(AliasSnapshot),
    /// Make again an alias `--exact` removed.
    CreateAlias(AliasSnapshot),
    /// Make again a mapping `--exact` removed (it starts from its source's position then).
    CreateMapping(NewMapping),
    Reserve(Option<i32>),
    Tags {
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    DeleteMapping(String),
    /// The function URL back to this configuration (`None`: there was none).
    Url(Option<serde_json::Value>),
    /// Make again a function URL `--exact` removed, with this configuration.
    CreateUrl(serde_json::Value),
    /// The asynchronous invoke configuration back to this (`None`: there was none).
    AsyncInvoke(Option<serde_json::Value>),
    /// Delete a layer version the restore published (by its ARN).
    DeleteLayerVersion(String),
    /// Provisioned concurrency on a qualifier back to this (`None`: none).
    Provisioned {
        qualifier: String,
        put_back: Option<i32>,
    },
    /// Put back a statement `--exact` removed (removed again first, if there: as it was).
    PutBackPermission(super::policy::Permission),
    /// Remove the statement the restore added, and put back the one it replaced.
    Permission {
        sid: String,
        qualifier: Option<String>,
        put_back: Option<super::policy::Permission>,
    },
}

impl Undo {
    fn describe(&self) -> String {
        match self {
            Undo::DeleteFunction => "delete the created function".into(),
            Undo::DeleteVersion(n) => format!("delete published version {n}"),
            Undo::Latest { .. } => "put back $LATEST's code and configuration".into(),
            Undo::DeleteAlias(a) => format!("delete created alias {a}"),
            Undo::Alias(a) => format!("put back alias {}", a.name),
            Undo::CreateAlias(a) => format!("make removed alias {} again", a.name),
            Undo::CreateMapping(m) => {
                format!(
                    "make the removed event source mapping from {} again",
                    m.source_arn
                )
            }
            Undo::Reserve(_) => "put back reserved concurrency".into(),
            Undo::Tags { .. } => "put back tags".into(),
            Undo::DeleteMapping(u) => format!("delete created event source mapping {u}"),
            Undo::Url(None) => "delete the created function URL".into(),
            Undo::Url(Some(_)) => "put back the function URL".into(),
            Undo::CreateUrl(_) => "make the removed function URL again".into(),
            Undo::AsyncInvoke(None) => "delete the asynchronous invoke configuration".into(),
            Undo::AsyncInvoke(Some(_)) => "put back the asynchronous invoke configuration".into(),
            Undo::DeleteLayerVersion(arn) => format!("delete published layer version {arn}"),
            Undo::Provisioned { qualifier, .. } => {
                format!("put back provisioned concurrency on {qualifier}")
            }
            Undo::PutBackPermission(p) => format!("put back removed permission {}", p.sid),
            Undo::Permission { sid, .. } => {
                format!("remove permission {sid} (and put back the one it replaced)")
            }
        }
    }
}

impl<W: FunctionWrites> Runner<'_, W> {
    /// Takes back every journaled step, newest first. Returns what was made again as new
    /// rather than as it was (a removed mapping, alias or URL made anew: said, never "as it was").
    pub(super) async fn undo(
        &self,
        function: &str,
        journal: Vec<Undo>,
    ) -> Result<Vec<String>, BackupError> {
        let target = self.target;
        // Every step is attempted, whatever failed before it; each failure is reported.
        let mut failures: Vec<String> = Vec::new();
        let mut anew: Vec<String> = Vec::new();
        for undo in journal.into_iter().rev() {
            let what = undo.describe();
            let r: Result<(), BackupError> = async {
                match undo {
                    // Gone already (a create or an alias whose answer was lost and that never
                    // landed, journaled first): nothing to delete.
                    Undo::DeleteFunction => {
                        gone_is_done(target.delete_function(function, None).await)?
                    }
                    Undo::DeleteVersion(n) => target.delete_function(function, Some(&n)).await?,
                    Undo::Latest { config, code } => {
                        let store = self.before.map(|(_, s)| s).unwrap_or(self.store);
                        let input = self.code_input(store, &code).await?;
                        target
                            .update_code(function, input, &config.architectures)
                            .await?;
                        self.settle(function).await?;
                        // Only what differs from what is there now goes back to a default
                        // (all of it when that cannot be read).
                        let now = target.function(function, None).await.ok();
                        let changed: Option<Vec<String>> = now.map(|n| {
                            let changes = config.differences(&n.config);
                            changes
                                .iter()
                                .map(|c| changed_field(c).to_string())
                                .collect()
                        });
                        target
                            .update_config(function, &config, changed.as_deref())
                            .await?;
                        self.settle(function).await?;
                    }
                    Undo::DeleteAlias(name) => {
                        gone_is_done(target.delete_alias(function, &name).await)?
                    }
                    Undo::Alias(a) => target.update_alias(function, &a).await?,
                    // What `--exact` removed is made only where it is not there: a removal
                    // that never landed (or a making asked twice) leaves it as it is, once.
                    // A making whose first try landed unanswered and whose retry was refused
                    // as a conflict is there: read back, done.
                    Undo::CreateAlias(a) => {
                        let there = |all: &[AliasSnapshot]| all.iter().any(|x| x.name == a.name);
                        if !there(&target.alias_routes(function).await?) {
                            if let Err(e) = target.create_alias(function, &a).await
                                && !there(&target.alias_routes(function).await.unwrap_or_default())
                            {
                                return Err(e.into());
                            }
                            // What was on the alias alone went with it (lops reads none of it).
                            anew.push(format!(
                                "alias {} (a function URL, asynchronous invoke configuration or \
                                 permissions of its own went with it and are not made again)",
                                a.name
                            ));
                        }
                    }
                    Undo::CreateMapping(m) => {
                        let there = |all: &[crate::provider::function::EventSourceMapping]| {
                            (all.iter())
                                .any(|x| x.source_arn.as_deref() == Some(m.source_arn.as_str()))
                        };
                        if !there(&target.mappings(&m.target).await?) {
                            if let Err(e) = target.create_mapping(&m).await
                                && !there(&target.mappings(&m.target).await.unwrap_or_default())
                            {
                                return Err(e.into());
                            }
                            anew.push(format!(
                                "the event source mapping from {} (a new one: it reads from the \
                                 source's position now, without filters, destinations or retry \
                                 settings it may have had)",
                                m.source_arn
                            ));
                        }
                    }
                    Undo::PutBackPermission(p) => {
                        match (target.remove_permission(function, &p.sid, p.qualifier.as_deref()))
                            .await
                        {
                            Ok(()) | Err(ProviderError::NotFound(_)) => {}
                            Err(e) => return Err(e.into()),
                        }
                        target.add_permission(function, &p).await?;
                    }
                    Undo::Reserve(value) => target.set_reserved(function, value).await?,
                    Undo::Tags { set, remove } => {
                        let arn = target.function(function, None).await?.arn;
                        target.tag(&arn, &set, &remove).await?;
                    }
                    Undo::DeleteMapping(uuid) => target.delete_mapping(&uuid).await?,
                    // A delete of one never made (its create journaled first, unanswered and
                    // not landed) finds nothing: done.
                    Undo::Url(before) => {
                        gone_is_done(target.set_url(function, before.as_ref(), false).await)?
                    }
                    Undo::CreateUrl(config) => match target.url_config(function).await {
                        Err(ProviderError::NotFound(_)) => {
                            if let Err(e) = target.set_url(function, Some(&config), true).await
                                && target.url_config(function).await.is_err()
                            {
                                return Err(e.into());
                            }
                            anew.push(
                                "the function URL (made anew: its address may differ)".into(),
                            );
                        }
                        // There (the removal never landed): as it was.
                        Ok(_) => {}
                        Err(e) => return Err(e.into()),
                    },
                    Undo::AsyncInvoke(before) => {
                        gone_is_done(target.set_async_invoke(function, before.as_ref()).await)?;
                    }
                    Undo::DeleteLayerVersion(arn) => target.delete_layer_version(&arn).await?,
                    Undo::Provisioned {
                        qualifier,
                        put_back,
                    } => {
                        target
                            .set_provisioned(function, &qualifier, put_back)
                            .await?;
                    }
                    Undo::Permission {
                        sid,
                        qualifier,
                        put_back,
                    } => {
                        // Gone already when the add itself failed: nothing to remove.
                        match target
                            .remove_permission(function, &sid, qualifier.as_deref())
                            .await
                        {
                            Ok(()) | Err(ProviderError::NotFound(_)) => {}
                            Err(e) => return Err(e.into()),
                        }
                        if let Some(old) = put_back {
                            target.add_permission(function, &old).await?;
                        }
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
            Ok(anew)
        } else {
            Err(BackupError::Provider(ProviderError::Service(format!(
                "{} undo step(s) failed: {}",
                failures.len(),
                failures.join("; ")
            ))))
        }
    }
}

/// A delete of what is not there: done.
fn gone_is_done(result: Result<(), ProviderError>) -> Result<(), ProviderError> {
    match result {
        Err(ProviderError::NotFound(_)) => Ok(()),
        other => other,
    }
}
