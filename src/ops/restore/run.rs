//! A restore's run once confirmed: the comparison and the safety snapshot before its first
//! change, then the steps (stopped by Ctrl-C the safe way) and the data, recorded.

use serde_json::json;

use super::super::audit::AuditLog;
use super::super::backup::{BackupRegion, Progress, append};
use super::data;
use super::{DataCopied, RestoreOutcome, RestorePreview, restore_record};
use crate::backup::capture::{CaptureOptions, capture};
use crate::backup::manifest::Manifest;
use crate::backup::restore::{Runner, Step, read_current};
use crate::backup::{BackupError, S3Uri};
use crate::provider::ProviderError;

/// Compares the target (and the data destinations) with the preview again and takes the
/// safety snapshot of an existing target: changes nothing.
pub(super) async fn before_first_change(
    region: &impl BackupRegion,
    preview: &RestorePreview,
    audit: Option<&AuditLog>,
    account: &str,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<Option<(Manifest, String)>, BackupError> {
    let function = &preview.difference.function;
    // A rollout started since the preview drives an alias it would change: refused as then.
    super::held_aliases(region, audit, &preview.difference).await?;
    same_as_previewed(region, preview).await?;
    // What the data copy writes over was confirmed as previewed: objects written there since
    // would be lost unannounced.
    if let Some(changed) = data::changed_since_preview(&preview.manifest, &preview.data).await? {
        return Err(BackupError::Conflict(format!(
            "the data at {changed} changed since the preview: nothing was restored; run the \
             restore again to see what it would write over"
        )));
    }
    // The safety snapshot keeps the function it changes: none when no step changes it (the
    // data copy alone leaves it as it is).
    if !preview.difference.exists || preview.difference.steps.is_empty() {
        return Ok(None);
    }
    let options = CaptureOptions {
        storage_class: "STANDARD".into(),
        with_layers: false,
        safety: true,
    };
    let c = capture(
        region.reads(),
        &region.scope().region,
        &preview.store,
        function,
        &options,
        account,
        &[],
    )
    .await
    .map_err(|e| {
        BackupError::Refused(format!(
            "could not take a safety snapshot of {function} before changing it ({e}): \
             nothing was restored"
        ))
    })?;
    let uri = S3Uri::parse(&c.snapshot).map_err(BackupError::Invalid)?;
    let m = crate::backup::load_manifest(&preview.store, &uri).await?;
    // The snapshot of a large package takes a while: a change made meanwhile (an alias
    // shifted, a deploy) is found right before the first write, not written over.
    same_as_previewed(region, preview)
        .await
        .map_err(|e| match e {
            BackupError::Conflict(why) => {
                BackupError::Conflict(format!("{why} (while its safety snapshot {uri} was taken)"))
            }
            other => other,
        })?;
    progress(Progress::Note(format!(
        "safety snapshot of {function}: {}",
        c.snapshot
    )));
    Ok(Some((m, c.snapshot)))
}

/// The target as the preview read it, else refused: nothing was restored.
async fn same_as_previewed(
    region: &impl BackupRegion,
    preview: &RestorePreview,
) -> Result<(), BackupError> {
    let function = &preview.difference.function;
    let now = read_current(region.reads(), function).await?;
    if now != preview.current {
        return Err(BackupError::Conflict(format!(
            "{function} changed since the preview: nothing was restored; run the restore again \
             to see the new difference"
        )));
    }
    Ok(())
}

pub(super) async fn restore_under_lease(
    region: &impl BackupRegion,
    preview: &RestorePreview,
    audit: Option<&AuditLog>,
    progress: &(dyn Fn(Progress) + Sync),
    who: &str,
    safety: Option<(Manifest, String)>,
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Result<RestoreOutcome, BackupError> {
    // No audit, no change: a record that the restore begins, before its first write, so that
    // one stopped half-way (a killed process) still says what it touched. The record at the
    // end says how it ended; a `restore.begin` without one means: run the restore again.
    let mut begin = restore_record(
        region,
        preview,
        who,
        "restore.begin",
        json!({"existed": preview.difference.exists, "safety_snapshot": safety.as_ref().map(|(_, u)| u)}),
        Err(crate::ops::audit::STARTED.to_string()),
    );
    // The process making it: one killed on this machine is known gone (a drill deletes its
    // copy at once instead of waiting to be sure it is not still running).
    begin.after["process"] =
        json!({"host": crate::process::host_name(), "pid": std::process::id()});
    if let Some(log) = audit.filter(|_| preview.changes_anything()) {
        log.append(&begin).map_err(|e| {
            BackupError::Refused(format!(
                "the audit log {} cannot be written ({e}): nothing was restored",
                log.path().display()
            ))
        })?;
    }
    let on_step = |s: &Step| progress(Progress::Step(s.describe()));
    let runner = Runner {
        target: region.reads(),
        region: &region.scope().region,
        store: &preview.store,
        before: safety.as_ref().map(|(m, _)| (m, &preview.store)),
        safety_uri: safety.as_ref().map(|(_, u)| u.as_str()),
        on_step: &on_step,
        stop,
    };
    let result = runner.run(&preview.difference).await;
    let mut copied = DataCopied::default();
    let stopped = || stop.is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst));
    // From here a stop leaves the function restored: said before anything else is read.
    if result.is_ok() && !preview.data.is_empty() {
        progress(Progress::DataBegins);
    }
    let result = match result {
        Ok(_) if stopped() && !preview.data.is_empty() => Err(BackupError::Refused(format!(
            "stopped by Ctrl-C after {} was restored, before its data was copied back: run \
             the restore again to copy the data",
            preview.difference.function
        ))),
        Ok(restored) => {
            let (done, r) =
                data::copy_back(&preview.manifest, &preview.data, progress, &stopped).await;
            copied = done;
            // The function stays restored: where what it replaced is kept, said with it.
            r.map(|()| restored).map_err(|e| match (e, &safety) {
                (BackupError::Provider(ProviderError::Service(why)), Some((_, uri))) => {
                    BackupError::Provider(ProviderError::Service(format!(
                        "{why} (the function as it was before is in the safety snapshot {uri})"
                    )))
                }
                (e, _) => e,
            })
        }
        Err(e) => Err(e),
    };
    let mut rec = restore_record(
        region,
        preview,
        who,
        "restore",
        json!({"existed": preview.difference.exists, "safety_snapshot": safety.as_ref().map(|(_, u)| u)}),
        result.as_ref().map(|_| ()).map_err(|e| e.to_string()),
    );
    rec.after["data_objects"] = json!(copied.objects);
    rec.after["data_overwritten"] = json!(copied.overwritten);
    append(audit, &rec, progress);
    result.map(|restored| RestoreOutcome {
        restored,
        safety_snapshot: safety.map(|(_, u)| u),
        data_objects: copied.objects,
        data_overwritten: copied.overwritten,
    })
}

/// An earlier restore of `function` in `scope` that began and never recorded its end (its
/// process killed or its machine gone): what it may have left half-made is what this restore
/// compares against, said in its preview. The newest such, from the audit log.
pub(super) fn unfinished(
    records: &[crate::ops::audit::Record],
    scope: &crate::provider::Scope,
    function: &str,
) -> Option<String> {
    let here = |r: &&crate::ops::audit::Record| {
        r.region == scope.region && r.profile == scope.profile && r.target == function
    };
    // The last record of a restore of it: a begin with nothing after it did not finish.
    let last = records
        .iter()
        .filter(here)
        .rfind(|r| r.action == "restore.begin" || r.action == "restore")?;
    if last.action != "restore.begin" || last.result != crate::ops::audit::STARTED {
        return None;
    }
    let safety = last
        .before
        .get("safety_snapshot")
        .and_then(serde_json::Value::as_str)
        .map(|u| {
            format!("; the safety snapshot it took first, {u}, holds the function as it was then")
        })
        .unwrap_or_default();
    // Its process, recorded with the begin: known gone on this machine, or maybe running.
    let how = match last.process() {
        Some((host, pid)) if !crate::process::gone_here(host, pid) => format!(
            "its lops, pid {pid} on {host}, was stopped or killed, or is still running: look \
             before going on"
        ),
        _ => "its lops was stopped or killed".to_string(),
    };
    Some(format!(
        "a restore of {function} here began at {} and never recorded its end ({how}): it may \
         have left it half-made, which is what this restore compares against and \
         completes{safety}",
        last.time
    ))
}
