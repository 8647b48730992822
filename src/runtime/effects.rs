//! Runs the dashboard's effects: poller requests at once, everything else as a task that
//! reports back as a message. One helper spawns (`answer`); a read the user asked for again
//! (triggers, on-demand details, log lines of one function) replaces the one in flight; files
//! (rollout records) are read and written off the loop thread.

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use tokio::sync::mpsc;

use super::poller::{self, Pollers, Timing};
use crate::ops::audit::AuditLog;
use crate::ops::batch;
use crate::ops::rollout::{self, RolloutStore};
use crate::provider::{GuardSignals, RegionActions};
use crate::state::{Effect, Msg};
use futures::StreamExt;

/// What a region must offer the dashboard's effects.
pub trait Source:
    RegionActions + GuardSignals + crate::ops::backup::BackupRegion + crate::provider::LogSource
{
}

impl<
    T: RegionActions + GuardSignals + crate::ops::backup::BackupRegion + crate::provider::LogSource,
> Source for T
{
}

/// Executes effects: poller requests directly, actions as tasks that report back as messages.
pub struct Executor<S> {
    pollers: Pollers,
    sources: Vec<Arc<S>>,
    /// The first `fleet` sources are the profiles whose functions the dashboard shows.
    fleet: usize,
    tx: mpsc::Sender<Msg>,
    audit: Option<AuditLog>,
    store: Option<RolloutStore>,
    /// The read in flight per (kind, region, function): a newer request replaces it.
    latest: Mutex<HashMap<JobKey, tokio::task::AbortHandle>>,
    /// Previews asked so far, counted as the model counts them (`Msg::Preview`).
    previews: std::sync::atomic::AtomicU64,
}

/// A read that a newer one of the same kind and target makes worthless.
type JobKey = (&'static str, usize, String);

impl<S: Source> Executor<S> {
    /// Runs `work` on a region's source in the background and sends the message it makes.
    fn answer<F, Fut>(&self, region: usize, work: F)
    where
        F: FnOnce(Arc<S>) -> Fut,
        Fut: Future<Output = Msg> + Send + 'static,
    {
        let Some(source) = self.sources.get(region).cloned() else {
            return;
        };
        let tx = self.tx.clone();
        let reply = work(source);
        tokio::spawn(async move {
            let _ = tx.send(reply.await).await;
        });
    }

    /// Starts the pollers of the first `fleet` of `sources` (the others only read and change
    /// services' zones, under a service's own profile) and an executor over them all; messages
    /// go to `tx`.
    pub fn start(
        sources: Vec<Arc<S>>,
        fleet: usize,
        tx: mpsc::Sender<Msg>,
        timing: Timing,
        audit: Option<AuditLog>,
    ) -> Self {
        let pollers = poller::spawn(&sources[..fleet.min(sources.len())], tx.clone(), timing);
        // Rollouts are saved beside the audit log they write to.
        let store = audit.as_ref().and_then(RolloutStore::beside);
        Executor {
            pollers,
            sources,
            fleet,
            tx,
            audit,
            store,
            latest: Mutex::default(),
            previews: Default::default(),
        }
    }

    /// Asks the rollouts this dashboard drives to stop at their next safe point (saved as
    /// interrupted).
    pub fn interrupt_rollouts(&self) {
        match &self.store {
            Some(store) => crate::ops::rollout::interrupt_in(store),
            None => crate::ops::rollout::interrupt(),
        }
    }

    /// Rollouts saved as running: driven by another lops, or left by a killed one (resume or
    /// abort them). Read off the loop thread; each arrives as a message.
    pub fn announce_saved_rollouts(&self) {
        let Some(store) = self.store.clone() else {
            return;
        };
        let scopes: Vec<_> = self.sources.iter().map(|s| s.scope().clone()).collect();
        tokio::spawn(super::runs::announce_saved(store, scopes, self.tx.clone()));
    }

    /// Like `answer`, for a read that a newer request of the same `key` makes worthless: the
    /// one in flight is dropped (reads only; a write is never cut off).
    fn answer_latest<F, Fut>(&self, key: JobKey, region: usize, work: F)
    where
        F: FnOnce(Arc<S>) -> Fut,
        Fut: Future<Output = Msg> + Send + 'static,
    {
        let Some(source) = self.sources.get(region).cloned() else {
            return;
        };
        let tx = self.tx.clone();
        let reply = work(source);
        let task = tokio::spawn(async move {
            let _ = tx.send(reply.await).await;
        });
        self.keep_latest(key, task.abort_handle());
    }

    /// Keeps `task` as the one job of `key`, stopping the one it replaces.
    fn keep_latest(&self, key: JobKey, task: tokio::task::AbortHandle) {
        if let Ok(mut latest) = self.latest.lock() {
            latest.retain(|_, h| !h.is_finished());
            if let Some(previous) = latest.insert(key, task) {
                previous.abort();
            }
        }
    }

    /// A region's source with the rollout store, for the effects that drive or stop rollouts.
    fn rollout_target(&self, region: usize) -> Option<(Arc<S>, RolloutStore)> {
        Some((self.sources.get(region).cloned()?, self.store.clone()?))
    }

    /// Saves a new rollout (off the loop thread), then drives it.
    fn start_rollout(&self, region: usize, r: crate::ops::rollout::Rollout) {
        let Some((source, store)) = self.rollout_target(region) else {
            return;
        };
        let (tx, audit) = (self.tx.clone(), self.audit.clone());
        // The rollout file is created off the loop thread, the drive only once it exists.
        tokio::spawn(async move {
            let ready = crate::ops::rollout::ready_to_start(&*source, &r, audit.as_ref());
            if let Err(e) = ready.await {
                return refused(&tx, region, e).await;
            }
            let created = {
                let (store, r) = (store.clone(), r.clone());
                tokio::task::spawn_blocking(move || store.create(&r)).await
            };
            match created {
                Ok(Ok(())) => {
                    let msg = Msg::RolloutUpdate {
                        region,
                        rollout: Box::new(r.clone()),
                        event: "started".into(),
                        running: true,
                    };
                    let _ = tx.send(msg).await;
                    super::runs::drive(tx, audit, Some(store), region, source, r);
                }
                Ok(Err(e)) => {
                    let result = Err(match e.kind() {
                        std::io::ErrorKind::AlreadyExists => {
                            crate::ops::OpsError::Refused(e.to_string())
                        }
                        _ => crate::ops::OpsError::Invalid(format!(
                            "cannot save the rollout in {}: {e}",
                            store.dir().display()
                        )),
                    });
                    let _ = tx.send(Msg::Executed { region, result }).await;
                }
                Err(e) => {
                    let result = Err(crate::ops::OpsError::Invalid(format!(
                        "cannot save the rollout: {e}"
                    )));
                    let _ = tx.send(Msg::Executed { region, result }).await;
                }
            }
        });
    }

    /// Drives a saved rollout this dashboard is not driving yet.
    fn resume_rollout(&self, region: usize, function: String, alias: String) {
        let Some((source, store)) = self.rollout_target(region) else {
            return;
        };
        let (tx, audit) = (self.tx.clone(), self.audit.clone());
        tokio::spawn(async move {
            let scope = source.scope().clone();
            let loaded = {
                let (store, function, alias) = (store.clone(), function.clone(), alias.clone());
                tokio::task::spawn_blocking(move || {
                    // A file that does not read holds its alias (as the CLI's resume says).
                    match store.damaged_under_any_profile(&scope, &function, &alias) {
                        Some(why) => Err(why),
                        None => Ok(store.load(&scope, &function, &alias)),
                    }
                })
                .await
            };
            match loaded {
                Ok(Ok(Some(r))) if r.unfinished() => {
                    // Refused once confirmed (a guard alarm fired meanwhile): said as a start's
                    // refusal is, nothing driven.
                    if let Err(e) = crate::ops::rollout::resume_again(&*source, &r).await {
                        return refused(&tx, region, e).await;
                    }
                    super::runs::drive(tx, audit, Some(store), region, source, r);
                }
                // Ended since it was shown (another lops finished it), or gone: said, never a
                // popup left waiting.
                Ok(Ok(found)) => {
                    let why =
                        rollout::none_unfinished(source.scope(), &function, &alias, found.as_ref());
                    refused(&tx, region, crate::ops::OpsError::Refused(why)).await;
                }
                Ok(Err(why)) => refused(&tx, region, crate::ops::OpsError::Refused(why)).await,
                Err(e) => refused(&tx, region, crate::ops::OpsError::Refused(e.to_string())).await,
            }
        });
    }

    /// Asks a running rollout to stop.
    fn abort_rollout(
        &self,
        region: usize,
        function: String,
        alias: String,
        previewed: Option<crate::ops::rollout::Routing>,
    ) {
        let Some((source, store)) = self.rollout_target(region) else {
            return;
        };
        // A rollout this dashboard drives is asked to stop like any other (its task
        // rolls back and ends), never cut off between a write and its audit record.
        let (tx, audit) = (self.tx.clone(), self.audit.clone());
        tokio::spawn(async move {
            let wait = Duration::from_secs(30);
            let aborted = rollout::abort(
                &*source,
                &store,
                &function,
                &alias,
                audit.as_ref(),
                wait,
                previewed.as_ref(),
            )
            .await;
            let msg = match aborted {
                Ok(outcome) => Msg::RolloutUpdate {
                    region,
                    event: format!("aborted: {}", outcome.describe()),
                    rollout: Box::new(outcome.rollout),
                    running: false,
                },
                Err(e) => Msg::Executed {
                    region,
                    result: Err(e),
                },
            };
            let _ = tx.send(msg).await;
        });
    }

    /// Follows a function's log events for the log pane; a newer follow of it replaces this one.
    fn tail_logs(&self, region: usize, function: String, since_ms: i64) {
        let Some(source) = self.sources.get(region).cloned() else {
            return;
        };
        let tx = self.tx.clone();
        let name = function.clone();
        let task = tokio::spawn(async move {
            let (utx, mut urx) = mpsc::channel(64);
            let follow = super::tail::follow(&*source, vec![name.clone()], None, since_ms, utx);
            let relay = async {
                while let Some(update) = urx.recv().await {
                    let msg = Msg::LogTail {
                        region,
                        function: name.clone(),
                        update,
                    };
                    if tx.send(msg).await.is_err() {
                        break;
                    }
                }
            };
            futures::future::join(follow, relay).await;
        });
        self.keep_latest(("tail", region, function), task.abort_handle());
    }

    /// Runs one effect.
    pub fn run(&self, effect: Effect) {
        let tx = match effect.is_preview() {
            true => {
                let ticket = self
                    .previews
                    .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
                super::runs::ticketed(self.tx.clone(), ticket + 1)
            }
            false => self.tx.clone(),
        };
        match effect {
            Effect::RefreshInventory => self.pollers.refresh(false),
            Effect::RefreshAll => self.pollers.refresh(true),
            Effect::Want { region, functions } => self.pollers.want(region, functions),
            Effect::Prepare { region, request } => {
                let (sources, tx, audit) = (self.sources.clone(), tx.clone(), self.audit.clone());
                let fleet = self.fleet;
                tokio::spawn(async move {
                    let refs: Vec<&S> = sources.iter().map(|s| &**s).collect();
                    let one = (*request).clone();
                    // Acted on through the strictest profile of its account there (its index).
                    let (region, result) = match batch::prepare_one_in(
                        &refs,
                        fleet,
                        region,
                        one,
                        audit.as_ref(),
                    )
                    .await
                    {
                        Ok((acts, plan)) => (acts, Ok(plan)),
                        Err(e) => (region, Err(e)),
                    };
                    let msg = Msg::Planned {
                        region,
                        request,
                        result,
                    };
                    let _ = tx.send(msg).await;
                });
            }
            Effect::PrepareBatch { targets } => {
                let (sources, tx, audit) = (self.sources.clone(), tx.clone(), self.audit.clone());
                let fleet = self.fleet;
                tokio::spawn(async move {
                    let refs: Vec<&S> = sources.iter().map(|s| &**s).collect();
                    let batch = batch::prepare_in(&refs, fleet, targets, audit.as_ref()).await;
                    let _ = tx.send(Msg::BatchPrepared(Ok(batch))).await;
                });
            }
            Effect::PrepareTriggerBatch { functions } => {
                let (sources, tx, audit) = (self.sources.clone(), tx.clone(), self.audit.clone());
                let fleet = self.fleet;
                tokio::spawn(async move {
                    let refs: Vec<&S> = sources.iter().map(|s| &**s).collect();
                    let targets = batch::trigger_targets(&refs, &functions, None).await;
                    let nothing = targets.iter().all(|t| {
                        matches!(t, batch::Target::Skip(_, _, crate::ops::OpsError::Invalid(m))
                            if m.starts_with("nothing to"))
                    });
                    let result = if targets.is_empty() || nothing {
                        Err("the marked functions have no rule or mapping to pause".to_string())
                    } else {
                        Ok(batch::prepare_in(&refs, fleet, targets, audit.as_ref()).await)
                    };
                    let _ = tx.send(Msg::BatchPrepared(result)).await;
                });
            }
            Effect::ExecuteBatch { batch } => {
                let (sources, tx, audit) = (self.sources.clone(), tx.clone(), self.audit.clone());
                tokio::spawn(async move {
                    let refs: Vec<&S> = sources.iter().map(|s| &**s).collect();
                    let mut landed = std::pin::pin!(batch::execute(&refs, &batch, audit.as_ref()));
                    while let Some(one) = landed.next().await {
                        let msg = Msg::BatchLanded {
                            batch: batch.id.clone(),
                            landed: one,
                        };
                        if tx.send(msg).await.is_err() {
                            return;
                        }
                    }
                });
            }
            Effect::Undo {
                anywhere,
                services,
                only,
            } => {
                let (sources, tx, audit) = (self.sources.clone(), tx.clone(), self.audit.clone());
                let fleet = self.fleet;
                tokio::spawn(async move {
                    let how = super::runs::UndoOf {
                        anywhere,
                        services: &services,
                        only: only.as_deref(),
                    };
                    let result = super::runs::undo_batch(&sources, fleet, audit, how).await;
                    let _ = tx.send(Msg::BatchPrepared(result)).await;
                });
            }
            Effect::PrepareRollout { region, spec } => {
                let Some(store) = self.store.clone() else {
                    // Said, as the CLI says it: a rollout is saved to be resumed or aborted.
                    tokio::spawn(async move {
                        let result = Err(crate::ops::OpsError::Refused(
                            "no state directory to save the rollout in: set XDG_STATE_HOME or \
                             HOME"
                                .into(),
                        ));
                        let _ = tx.send(Msg::RolloutPrepared { region, result }).await;
                    });
                    return;
                };
                let (sources, tx, fleet) = (self.sources.clone(), tx.clone(), self.fleet);
                tokio::spawn(async move {
                    // The region that starts it: the strictest profile of the account there.
                    let (region, result) =
                        super::runs::prepare_rollout(&sources, fleet, region, *spec, &store).await;
                    let _ = tx.send(Msg::RolloutPrepared { region, result }).await;
                });
            }
            Effect::StartRollout { region, rollout } => self.start_rollout(region, *rollout),
            Effect::PreviewRollout {
                region,
                rollout,
                abort,
            } => {
                let Some(source) = self.sources.get(region).cloned() else {
                    return;
                };
                let (sources, fleet, store) =
                    (self.sources.clone(), self.fleet, self.store.clone());
                tokio::spawn(async move {
                    // As saved now (its heartbeat, its step): the copy this dashboard holds is
                    // the one of its last event (a rollout it drives read as interrupted once
                    // its start's heartbeat was old).
                    let mut rollout = rollout;
                    if let Some(store) = store {
                        let (scope, f, a) = (
                            source.scope().clone(),
                            rollout.function.clone(),
                            rollout.alias.clone(),
                        );
                        let saved = tokio::task::spawn_blocking(move || store.load(&scope, &f, &a));
                        if let Ok(Some(saved)) = saved.await {
                            *rollout = saved;
                        }
                    }
                    // The session's other profiles of its account keep their rules, as for a
                    // start: refused where one may only look, typed where one is production.
                    let result = match super::runs::rollout_elsewhere(
                        &sources, fleet, region, abort,
                    )
                    .await
                    {
                        Ok(production) => {
                            rollout.production_elsewhere |= production;
                            rollout.act_preview_now(&*source, abort).await
                        }
                        Err(e) => Err(e),
                    };
                    let msg = Msg::RolloutPreviewed {
                        region,
                        rollout,
                        abort,
                        result,
                    };
                    let _ = tx.send(msg).await;
                });
            }
            Effect::ResumeRollout {
                region,
                function,
                alias,
            } => self.resume_rollout(region, function, alias),
            Effect::AbortRollout {
                region,
                function,
                alias,
                previewed,
            } => self.abort_rollout(region, function, alias, previewed),
            Effect::ReadLogs {
                region,
                function,
                start_ms,
                end_ms,
            } => self.answer_latest(
                ("logs", region, function.clone()),
                region,
                move |source| async move {
                    let result = source.log_events(&function, start_ms, end_ms, None).await;
                    Msg::LogLines {
                        region,
                        function,
                        end_ms,
                        result,
                    }
                },
            ),
            Effect::TailLogs {
                region,
                function,
                since_ms,
            } => self.tail_logs(region, function, since_ms),
            Effect::StopTail { region, function } => {
                if let Ok(mut latest) = self.latest.lock()
                    && let Some(task) = latest.remove(&("tail", region, function))
                {
                    task.abort();
                }
            }
            Effect::Extras {
                region,
                function,
                want,
            } => {
                let key = ("extras", region, function.clone());
                self.answer_latest(key, region, move |source| async move {
                    let result = source.extras(&function, want).await;
                    Msg::Extras {
                        region,
                        function,
                        result,
                    }
                })
            }
            Effect::ReadService {
                region,
                index,
                service,
            } => {
                let key = ("service", region, service.name.clone());
                self.answer_latest(key, region, move |source| async move {
                    let result = crate::ops::service::read(&*source, &service)
                        .await
                        .map_err(|e| e.to_string());
                    Msg::Service { index, result }
                })
            }
            Effect::Triggers { region, function } => {
                let key = ("triggers", region, function.clone());
                self.answer_latest(key, region, move |source| async move {
                    let result = source.triggers(&function).await;
                    Msg::Triggers {
                        region,
                        function,
                        result,
                    }
                })
            }
            Effect::Backup {
                targets,
                to,
                storage_class: class,
            } => {
                let (sources, tx, audit) =
                    (self.sources.clone(), self.tx.clone(), self.audit.clone());
                tokio::spawn(async move {
                    let done =
                        super::runs::backup_run(&sources, targets, to, class, audit, tx.clone())
                            .await;
                    let _ = tx.send(Msg::Backup(done)).await;
                });
            }
            Effect::Execute { region, plan } => {
                let audit = self.audit.clone();
                self.answer(region, move |source| async move {
                    let result = crate::ops::execute(&*source, &plan, audit.as_ref()).await;
                    Msg::Written { region, result }
                })
            }
        }
    }
}

/// A rollout refused once confirmed (changed since its preview, a guard alarm firing): said
/// as any change's refusal is, nothing driven.
async fn refused(tx: &mpsc::Sender<Msg>, region: usize, e: crate::ops::OpsError) {
    let _ = tx
        .send(Msg::Executed {
            region,
            result: Err(e),
        })
        .await;
}

#[cfg(test)]
#[path = "effects_tests.rs"]
mod tests;
