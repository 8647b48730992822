//! The longer jobs the dashboard's effects start: one backup run over functions in several
//! regions, the preview of undoing the last action, and a rollout driven in the background.

use std::sync::Arc;

use tokio::sync::mpsc;

use super::effects::Source;
use crate::ops::audit::AuditLog;
use crate::ops::backup::Progress;
use crate::ops::batch;
use crate::ops::rollout::{self, Rollout, RolloutStore, Status};
use crate::state::Msg;
use crate::state::actions::BackupEvent;

/// One backup run over functions in several regions (one region after the other), with one
/// progress gauge across all of them: the snapshot URIs, or every function that failed.
pub(super) async fn backup_run<S: Source>(
    sources: &[Arc<S>],
    targets: Vec<(usize, Vec<String>)>,
    to: crate::ops::backup::S3Uri,
    class: String,
    audit: Option<AuditLog>,
    tx: mpsc::Sender<Msg>,
) -> BackupEvent {
    use std::sync::atomic::{AtomicU64, Ordering::Relaxed};
    // Two profiles of one account naming one function (marked on both rows): backed up once,
    // as the CLI does it.
    let pairs: Vec<(&S, &str)> = targets
        .iter()
        .filter_map(|(i, fs)| Some((sources.get(*i)?, fs)))
        .flat_map(|(s, fs)| fs.iter().map(move |f| (&**s, f.as_str())))
        .collect();
    let twice = crate::ops::backup::same_function_twice(&pairs).await;
    let mut notes = Vec::new();
    // Left out as the same function as another row: marked again with it if it fails.
    let mut same_as: Vec<(usize, String)> = Vec::new();
    let mut at = 0;
    let targets: Vec<(usize, Vec<String>)> = targets
        .into_iter()
        .map(|(i, fs)| {
            if sources.get(i).is_none() {
                return (i, fs);
            }
            let kept = fs
                .into_iter()
                .filter(|f| {
                    let same = twice.get(at).cloned().flatten();
                    at += 1;
                    match same {
                        Some(note) => {
                            notes.push(note);
                            same_as.push((i, f.clone()));
                            false
                        }
                        None => true,
                    }
                })
                .collect();
            (i, kept)
        })
        .filter(|(_, fs): &(usize, Vec<String>)| !fs.is_empty())
        .collect();
    for note in notes {
        let _ = tx.try_send(Msg::Backup(BackupEvent::Progress {
            done: 0,
            total: 1,
            label: note,
        }));
    }
    let done = Arc::new(AtomicU64::new(0));
    let total = Arc::new(AtomicU64::new(
        targets.iter().map(|(_, f)| f.len() as u64).sum(),
    ));
    let mut snapshots = Vec::new();
    let mut failed = Vec::new();
    let mut remark: Vec<(usize, String)> = Vec::new();
    for (region, functions) in targets {
        let asked = functions.clone();
        let Some(source) = sources.get(region).cloned() else {
            failed.push(format!(
                "{}: not backed up (its region is not read by this session)",
                asked.join(", ")
            ));
            remark.extend(asked.into_iter().map(|f| (region, f)));
            continue;
        };
        let (done, total, progress_tx) = (done.clone(), total.clone(), tx.clone());
        let progress = Arc::new(move |p: Progress| {
            let label = match p {
                // The gauge counts the functions asked for; a run's own total is not added.
                Progress::Total(_) | Progress::DataBegins => "reading".to_string(),
                Progress::Function { function, ok, .. } => {
                    done.fetch_add(1, Relaxed);
                    format!("{function} {}", if ok { "done" } else { "failed" })
                }
                Progress::DataObject { key, .. } => key,
                Progress::Step(s) | Progress::Note(s) | Progress::Warning(s) => s,
            };
            let _ = progress_tx.try_send(Msg::Backup(BackupEvent::Progress {
                done: done.load(Relaxed),
                total: total.load(Relaxed).max(1),
                label,
            }));
        });
        let scope = source.scope().to_string();
        match source
            .backup(
                functions,
                to.clone(),
                class.clone(),
                audit.clone(),
                progress,
            )
            .await
        {
            Ok(r) => {
                snapshots.extend(r.snapshots.iter().map(|s| s.snapshot.clone()));
                failed.extend(
                    r.failed
                        .iter()
                        .map(|f| format!("{} in {scope}: {}", f.function, f.error)),
                );
                remark.extend(r.failed.iter().map(|f| (region, f.function.clone())));
            }
            Err(e) => {
                failed.push(format!("{scope}: {e}"));
                remark.extend(asked.iter().map(|f| (region, f.clone())));
            }
        }
    }
    // The same function is the same name in the same region (of one account, another
    // profile): a failure of that name elsewhere is not its.
    let region_of = |i: usize| sources.get(i).map(|s| s.scope().region.clone());
    let again: Vec<(usize, String)> = same_as
        .into_iter()
        .filter(|(i, f)| (remark.iter()).any(|(j, r)| r == f && region_of(*j) == region_of(*i)))
        .collect();
    remark.extend(again);
    BackupEvent::Done {
        snapshots,
        failed,
        remark,
    }
}

/// Which undo the dashboard asked for.
pub(super) struct UndoOf<'a> {
    /// The last action anywhere, not only in the scopes shown.
    pub anywhere: bool,
    /// The configured services (their profile now governs a service change's undo).
    pub services: &'a [crate::config::ServiceSettings],
    /// Only these records (a finished batch's, whose popup offered to undo it).
    pub only: Option<&'a [String]>,
}

/// The undo of the last action recorded (a batch as a whole), previewed through the ops layer:
/// each record goes to the region of this dashboard that holds its scope.
pub(super) async fn undo_batch<S: Source>(
    sources: &[Arc<S>],
    fleet: usize,
    audit: Option<AuditLog>,
    how: UndoOf<'_>,
) -> Result<batch::Batch, String> {
    let UndoOf {
        anywhere,
        services,
        only,
    } = how;
    let log = audit.ok_or("undo needs the audit log, which is not available")?;
    let path = log.path().display().to_string();
    let records = {
        let log = log.clone();
        tokio::task::spawn_blocking(move || log.read())
            .await
            .map_err(|e| e.to_string())?
            .map_err(|e| format!("cannot read the audit log {path}: {e}"))?
            .0
    };
    // Only what was done in the scopes this dashboard reads (a Route 53 change from any
    // region of its profile): a batch reaching beyond them is refused whole. Unless they were
    // chosen (`--profile`, `--regions`), the last action anywhere is what `u` means (as a bare
    // `lops undo`); the same decision as the CLI's, in the core.
    let scopes: Vec<&crate::provider::Scope> = sources.iter().map(|s| s.scope()).collect();
    let records = batch::choose_in(&records, &batch::Reach::Scopes(&scopes), anywhere)
        .map_err(|n| n.message)?;
    // Its records, by id or (a batch of several) by the batch id they carry.
    let of_it = |r: &crate::ops::audit::Record, ids: &[String]| {
        ids.contains(&r.id)
            || r.batch
                .as_ref()
                .is_some_and(|b| ids.contains(&format!("{}{b}", batch::BATCH_MARK)))
    };
    if let Some(ids) = only
        && records.iter().any(|r| !of_it(r, ids))
    {
        return Err(batch::not_that_batch());
    }
    let targets = batch::targets_for(records, &scopes, fleet, services, &|record| {
        format!(
            "this dashboard does not show that region: run `lops undo --profile {} --regions {}`",
            record.profile, record.region
        )
    });
    let refs: Vec<&S> = sources.iter().map(|s| &**s).collect();
    Ok(batch::prepare_in(&refs, fleet, targets, Some(&log)).await)
}

/// A rollout's preview named through `sources[region]`, and the index of the source that
/// starts it: the strictest profile of the account there that has the alias (as a row's change
/// acts, `ops::same_function`); the session's other profiles naming the same function keep
/// their rules here too (a rollout is a change of its alias).
pub(super) async fn prepare_rollout<S: Source>(
    sources: &[Arc<S>],
    fleet: usize,
    region: usize,
    spec: crate::ops::rollout::RolloutSpec,
    store: &crate::ops::rollout::RolloutStore,
) -> (
    usize,
    Result<crate::ops::rollout::Rollout, crate::ops::OpsError>,
) {
    let refs: Vec<&S> = sources.iter().map(|s| &**s).collect();
    let acting = crate::ops::same_function::rollout_acting(&refs, fleet, region, |s| {
        crate::ops::rollout::start(s, spec.clone(), store)
    })
    .await;
    let (region, mut r) = match acting {
        Ok(found) => found,
        Err(e) => return (region, Err(e)),
    };
    let needs = crate::ops::Kind::RolloutStart.needs();
    let elsewhere = crate::ops::same_function::other_profiles_rule(
        &refs,
        fleet,
        region,
        needs,
        ("rollout.start", "function"),
        &|_| false,
    )
    .await;
    match elsewhere {
        Ok(elsewhere) => {
            r.production_elsewhere = elsewhere;
            (region, Ok(r))
        }
        Err(e) => (region, Err(e)),
    }
}

/// A resume or an abort of the rollout in `sources[region]`: the session's other profiles of
/// its account keep their rules (as [`prepare_rollout`] keeps them for a start) — refused where
/// one may not change it, `Ok(true)` where one is production (the typed name is asked).
pub(super) async fn rollout_elsewhere<S: Source>(
    sources: &[Arc<S>],
    fleet: usize,
    region: usize,
    abort: bool,
) -> Result<bool, crate::ops::OpsError> {
    let refs: Vec<&S> = sources.iter().map(|s| &**s).collect();
    let kind = if abort {
        crate::ops::Kind::RolloutAbort
    } else {
        crate::ops::Kind::RolloutResume
    };
    crate::ops::same_function::other_profiles_rule(
        &refs,
        fleet,
        region,
        kind.needs(),
        (kind.name(), "function"),
        &|_| false,
    )
    .await
}

/// Rollouts saved as unfinished, read again every few seconds: a rollout another lops (or the
/// CLI) starts, halts or finishes after this dashboard started is offered to `A` and `U` as the
/// CLI offers it; one that ended in the last minutes comes too, so that its end is said as it
/// was (done, rolled back and why, aborted). Ends when the dashboard does.
pub(super) async fn announce_saved(
    store: crate::ops::rollout::RolloutStore,
    scopes: Vec<crate::provider::Scope>,
    tx: mpsc::Sender<Msg>,
) {
    use crate::ops::rollout;
    loop {
        let store = store.clone();
        let Ok(all) = tokio::task::spawn_blocking(move || store.all()).await else {
            return;
        };
        let mine = std::process::id();
        let recent = |r: &rollout::Rollout| {
            chrono::DateTime::parse_from_rfc3339(&r.updated).is_ok_and(|t| {
                chrono::Utc::now() - t.with_timezone(&chrono::Utc) < chrono::TimeDelta::minutes(10)
            })
        };
        let saved: Vec<(usize, rollout::Rollout, String)> = all
            .into_iter()
            .filter(|r| r.unfinished() || recent(r))
            // Those this dashboard drives are its own to show (a halted one of its
            // own, no longer driven, is offered like any other).
            .filter(|r| {
                r.status != rollout::Status::Running
                    || r.owner.as_ref().is_none_or(|o| o.pid != mine)
            })
            .filter_map(|r| {
                let region = scopes
                    .iter()
                    .position(|s| s.region == r.region && s.profile == r.profile)?;
                let event = match (r.standing(), &r.owner, &r.status) {
                    (_, _, rollout::Status::Done) => "finished".to_string(),
                    (_, _, rollout::Status::Aborted) => "aborted".to_string(),
                    (_, _, rollout::Status::RolledBack { reason }) => {
                        format!("rolled back: {reason}")
                    }
                    (_, _, rollout::Status::Halted { reason }) => {
                        format!("halted: {reason} — resume or abort")
                    }
                    (rollout::Standing::Running, Some(o), _) => {
                        format!("running in lops pid {} on {}: abort asks it", o.pid, o.host)
                    }
                    _ => "interrupted: resume or abort".to_string(),
                };
                Some((region, r, event))
            })
            .collect();
        if tx.send(Msg::SavedRollouts(saved)).await.is_err() {
            return;
        }
        tokio::time::sleep(std::time::Duration::from_secs(5)).await;
    }
}

/// Where the answer to the `ticket`th preview goes: tagged on its way to the model, which shows
/// only the last one asked.
pub(super) fn ticketed(to: mpsc::Sender<Msg>, ticket: u64) -> mpsc::Sender<Msg> {
    let (tx, mut rx) = mpsc::channel(1);
    tokio::spawn(async move {
        while let Some(msg) = rx.recv().await {
            let msg = Msg::Preview {
                ticket,
                msg: Box::new(msg),
            };
            if to.send(msg).await.is_err() {
                break;
            }
        }
    });
    tx
}

/// Runs a plan in the background, reporting each step as a message.
pub(super) fn drive<S: Source>(
    tx: mpsc::Sender<Msg>,
    audit: Option<AuditLog>,
    store: Option<RolloutStore>,
    region: usize,
    source: Arc<S>,
    mut r: Rollout,
) {
    // Not kept to be cancelled: an abort asks the rollout itself (see ops::rollout::abort).
    tokio::spawn(async move {
        let Some(store) = store else { return };
        let progress = tx.clone();
        let report = move |r: &Rollout, event: &str| {
            let running = r.status == Status::Running;
            let msg = Msg::RolloutUpdate {
                region,
                rollout: Box::new(r.clone()),
                event: event.to_string(),
                running,
            };
            let _ = progress.try_send(msg);
        };
        if let Err(e) = rollout::run(&*source, &mut r, audit.as_ref(), &store, report).await {
            // A failed rollback halts the rollout and says so whole (its report): not again,
            // shorter, over it.
            if matches!(r.status, Status::Halted { .. } | Status::RolledBack { .. }) {
                return;
            }
            // Refused before it ran here (another lops drives it): not driven here. Anything
            // else stopped it on the way.
            let event = match e {
                crate::ops::OpsError::Refused(_) if r.status == Status::Running => {
                    format!("{}{e}", crate::state::NOT_DRIVEN)
                }
                e => format!("stopped: {e}"),
            };
            let _ = tx
                .send(Msg::RolloutUpdate {
                    region,
                    rollout: Box::new(r),
                    event,
                    running: false,
                })
                .await;
        }
    });
}
