//! `lops backup drill`: a timed recovery rehearsal. A snapshot is restored under a temporary
//! name, the copy is compared with the manifest (what a second restore would still change, and
//! what the restore leaves undone), then everything the drill made is deleted. Audited; runs
//! in the change tier.

use serde::Serialize;
use serde_json::json;

use super::Kind;
use super::audit::AuditLog;
use super::backup::BackupRegion;
use super::backup::{Progress, audit_ready, caller, record};
use super::restore::{RestorePreview, RestoreRequest, execute_restore, prepare_restore};
use crate::backup::restore::{difference, read_current, remove_function};
use crate::backup::{BackupError, S3Uri};

/// What a drill found.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillReport {
    pub snapshot: String,
    pub function: String,
    pub region: String,
    /// The temporary name the copy had.
    pub copy: String,
    /// Whether the restore brought the copy up (a failed one undid itself).
    pub restored: bool,
    /// From the start of the restore to a copy in place.
    pub recovery_secs: f64,
    pub steps: usize,
    /// What the copy lacks: steps a second restore would still take, pieces not restored, a
    /// failed restore.
    pub differences: Vec<String>,
    /// The copy's answer to one invoke (`None`: not invoked, as asked).
    pub invoked: Option<DrillInvoke>,
    /// What could not be deleted afterwards (to delete by hand).
    pub cleanup_failures: Vec<String>,
    /// Copies earlier drills of this function left (interrupted, killed), deleted now.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftovers_removed: Vec<String>,
    /// Copies of drills that never ended, began less than 30 minutes ago and whose process is
    /// not known gone (another machine's, or one still running here) — left alone, and named.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub leftovers_waiting: Vec<String>,
    /// Stopped on request (Ctrl-C) before the comparison: the copy was deleted all the same.
    #[serde(skip_serializing_if = "std::ops::Not::not")]
    pub stopped: bool,
    /// The audit log could not take the drill's result (its start is recorded): the drill is
    /// not complete, though the snapshot may restore whole.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub unrecorded: Option<String>,
    /// Complete: no difference, everything cleaned up.
    pub complete: bool,
}

/// What to rehearse, and how.
#[derive(Debug, Clone)]
pub struct DrillRequest {
    pub snapshot: S3Uri,
    /// Invoke the restored copy once with this and count a failure as a difference (`None`:
    /// do not invoke, for functions whose calls have effects elsewhere).
    pub payload: Option<Vec<u8>>,
    /// The copy's execution role (another account needs its own).
    pub role: Option<String>,
    /// Set (by Ctrl-C) to stop: nothing is restored if the restore has not begun; otherwise
    /// the restore ends, the comparison and invoke are skipped, and the copy is deleted.
    pub stop: Option<std::sync::Arc<std::sync::atomic::AtomicBool>>,
    /// Event sources in another region or account are mapped to the same source here (the
    /// copy's mappings are created disabled all the same).
    pub map_sources: bool,
    /// The leftover copies its preview named as deleted ([`leftovers`]): only those are (one
    /// that became old enough while the question was open is left, and said). `None`: those
    /// it finds.
    pub removes: Option<Vec<String>>,
}

/// How the copy answered its invoke.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct DrillInvoke {
    /// HTTP status of the invoke; 0 when the call itself failed.
    pub status: i32,
    /// The function's own error (`Unhandled`, `Handled`), or why the call failed.
    pub error: Option<String>,
    /// The start of what it returned.
    pub response: String,
    pub millis: u64,
}

/// The copy's temporary name: the function's, shortened to fit, with a time stamp.
pub fn copy_name(function: &str, now: chrono::DateTime<chrono::Utc>) -> String {
    // To the millisecond: two drills of one function do not share a copy.
    let stamp = now.format("%H%M%S%3f").to_string();
    let room = 64 - "-drill-".len() - stamp.len();
    let base: String = function.chars().take(room).collect();
    format!("{base}-drill-{stamp}")
}

/// The function a snapshot URI names (`…/snapshots/REGION/FUNCTION/STAMP.json`).
pub fn function_of(snapshot: &S3Uri) -> Result<String, BackupError> {
    let parts: Vec<&str> = snapshot.key.trim_end_matches('/').split('/').collect();
    match parts.as_slice() {
        [.., function, _] if !function.is_empty() => Ok(function.to_string()),
        _ => Err(BackupError::Invalid(format!(
            "{snapshot} does not name a function's snapshot: use a URI `lops backup list` prints"
        ))),
    }
}

/// How a refusal names a drill: its change is its restore into a copy.
pub const DRILL: &str = "backup drill (a restore into a copy)";

/// A drill checked before its question: the snapshot verified whole and the copy's restore
/// planned, so that a snapshot that cannot be drilled says so before anyone is asked.
pub struct Prepared {
    request: DrillRequest,
    function: String,
    copy: String,
    preview: RestorePreview,
    /// How long the check took: part of the time a recovery takes (the question is not).
    checked_in: std::time::Duration,
}

/// Checks a drill of `snapshot` in `region` (tier, audit log, the snapshot verified, no copy
/// of that name): what [`drill`] then runs.
pub async fn prepare(
    region: &impl BackupRegion,
    request: DrillRequest,
    audit: Option<&AuditLog>,
) -> Result<Prepared, BackupError> {
    authorized(region)?;
    audit_ready(audit)?;
    let function = function_of(&request.snapshot)?;
    let copy = copy_name(&function, chrono::Utc::now());
    let started = std::time::Instant::now();
    let restore = RestoreRequest {
        snapshot: request.snapshot.clone(),
        name: Some(copy.clone()),
        role: request.role.clone(),
        data_to: None,
        skip_data: true,
        map_sources: request.map_sources,
        exact: false,
        // The copy must not take the real queue's messages while it exists.
        mappings_disabled: true,
        whole_snapshot: true,
        assume_role: None,
    };
    let preview = prepare_restore(region, &restore, audit).await?;
    if preview.difference.exists {
        return Err(BackupError::Refused(format!(
            "a function named {copy} already exists in {}: nothing was changed; run the drill again in a second",
            region.scope()
        )));
    }
    Ok(Prepared {
        request,
        function,
        copy,
        preview,
        checked_in: started.elapsed(),
    })
}

/// Named as what was asked: a drill (its restore into a copy is the change it makes).
fn authorized(region: &impl BackupRegion) -> Result<(), BackupError> {
    let scope = region.scope();
    let what = format!("{DRILL} in {scope}");
    crate::ops::authorize(scope.access.tier, Kind::Restore.needs(), &what)?;
    Ok(())
}

/// Runs a drill [`prepare`] checked.
pub async fn drill(
    region: &impl BackupRegion,
    prepared: Prepared,
    audit: Option<&AuditLog>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<DrillReport, BackupError> {
    authorized(region)?;
    audit_ready(audit)?;
    let Prepared {
        request:
            DrillRequest {
                snapshot,
                payload,
                role,
                stop,
                map_sources,
                removes,
            },
        function,
        copy,
        preview,
        checked_in,
    } = prepared;
    let stop_now = || {
        stop.as_ref()
            .is_some_and(|s| s.load(std::sync::atomic::Ordering::SeqCst))
    };
    let started = std::time::Instant::now();
    if stop_now() {
        return Err(BackupError::Refused(
            "the drill was stopped before it restored anything: nothing was changed".into(),
        ));
    }
    // Copies an interrupted drill left behind (it audited their restore's start, never the
    // drill's end, and that long ago) are deleted before this one's restore: they hold
    // concurrency and triggers of their own. Only once the drill itself goes ahead.
    let mut leftovers_removed = Vec::new();
    let mut leftovers_waiting = Vec::new();
    let mut cleanup_failures = Vec::new();
    let (mut to_remove, waiting) = leftovers(region, audit, &function).await;
    leftovers_waiting.extend(waiting);
    if let Some(named) = &removes {
        let (named_ones, unnamed): (Vec<String>, Vec<String>) =
            to_remove.into_iter().partition(|c| named.contains(c));
        to_remove = named_ones;
        leftovers_waiting.extend(unnamed);
    }
    // No audit, no change: what the drill is about to do (the copies it deletes, the copy it
    // makes and invokes) is recorded before its first change, else nothing is done.
    let (who, _) = caller(region).await;
    let begin = record(
        region.scope(),
        &who,
        "drill.begin",
        &copy,
        json!({"snapshot": snapshot.to_string()}),
        json!({"removes": to_remove, "invokes": payload.is_some(),
            "process": {"host": crate::process::host_name(), "pid": std::process::id()}}),
        &Err(super::audit::STARTED.to_string()),
    );
    if let Some(log) = audit {
        log.append(&begin).map_err(|e| {
            BackupError::Refused(format!(
                "the audit log {} cannot be written ({e}): nothing was changed",
                log.path().display()
            ))
        })?;
    }
    for left in to_remove {
        let failures = remove_function(region.reads(), &left, &[]).await;
        if failures.is_empty() {
            leftovers_removed.push(left);
        } else {
            cleanup_failures.extend(failures);
        }
    }
    progress(Progress::Note(format!(
        "restoring the copy as {copy} in {}",
        region.scope()
    )));
    // Ctrl-C lets the copy's restore run to its end: the copy is deleted after it either way.
    let restored = execute_restore(region, &preview, audit, progress, None).await;
    let recovery_secs = (checked_in + started.elapsed()).as_secs_f64();
    let mut differences: Vec<String> = Vec::new();
    let mut invoked = None;
    let stopped = stop_now();
    match &restored {
        Ok(_) if stopped => {
            differences.push("stopped (Ctrl-C) before the copy was compared".into());
        }
        Ok(_) => {
            if let Some(payload) = payload.filter(|_| !stop_now()) {
                let answer = invoke_copy(region, &copy, payload).await;
                if let Some(e) = &answer.error {
                    differences.push(format!("the copy's invoke failed: {e}"));
                }
                invoked = Some(answer);
            }
            // A copy that cannot be read back is a difference; it is deleted all the same.
            match read_current(region.reads(), &copy).await {
                Ok(now) => {
                    let again = difference(
                        &preview.manifest,
                        now.as_ref(),
                        &copy,
                        &region.scope().region,
                        role.as_deref(),
                        map_sources,
                    );
                    differences.extend(
                        again
                            .steps
                            .iter()
                            .map(|s| format!("still to do: {}", s.describe())),
                    );
                }
                Err(e) => differences.push(format!("the copy could not be read back: {e}")),
            }
        }
        // Asked to stop while it ran (a restore is not cut off mid-step): both said.
        Err(e) if stopped => differences.push(format!(
            "stopped (Ctrl-C) while the restore ran, which then failed: {e}"
        )),
        Err(e) => differences.push(format!("the restore failed: {e}")),
    }
    differences.extend(preview.difference.notes.iter().cloned());
    let published: Vec<String> = restored
        .as_ref()
        .map(|r| {
            let once: std::collections::BTreeSet<&String> =
                r.restored.published_layers.values().collect();
            once.into_iter().cloned().collect()
        })
        .unwrap_or_default();
    // Stopped after the restore, during the comparison or the invoke: said, not "complete".
    if !stopped && stop_now() {
        differences.push("stopped (Ctrl-C) before the drill was done".into());
    }
    let stopped = stopped || stop_now();
    cleanup_failures.extend(remove_function(region.reads(), &copy, &published).await);
    let complete = restored.is_ok() && differences.is_empty() && cleanup_failures.is_empty();
    let report = DrillReport {
        snapshot: snapshot.to_string(),
        function,
        region: region.scope().region.clone(),
        copy: copy.clone(),
        restored: restored.is_ok(),
        recovery_secs,
        steps: preview.difference.steps.len(),
        differences,
        invoked,
        cleanup_failures,
        leftovers_removed,
        leftovers_waiting,
        stopped,
        complete,
        unrecorded: None,
    };
    let rec = record(
        region.scope(),
        &who,
        "drill",
        &copy,
        json!({"snapshot": report.snapshot}),
        json!({"recovery_secs": report.recovery_secs, "differences": report.differences, "invoked": report.invoked, "cleanup_failures": report.cleanup_failures, "leftovers_removed": report.leftovers_removed}),
        &if report.complete {
            Ok(())
        } else {
            Err("incomplete".to_string())
        },
    );
    // Its end not recorded: said, and not complete (what it did is in `drill.begin` only).
    let mut report = report;
    if let Some(log) = audit
        && let Err(e) = log.append(&rec)
    {
        report.unrecorded = Some(format!(
            "the audit log {} could not take the drill's result ({e}): its start is recorded, \
             its end is not",
            log.path().display()
        ));
        report.complete = false;
    }
    Ok(report)
}

/// The copies interrupted drills of `function` left in this scope that are still there: those a
/// drill deletes before its restore, and those it leaves (their drill may be running still).
/// Said in the preview, and again looked for when the drill goes ahead.
pub async fn leftovers(
    region: &impl BackupRegion,
    audit: Option<&AuditLog>,
    function: &str,
) -> (Vec<String>, Vec<String>) {
    let (mut removes, mut waiting) = (Vec::new(), Vec::new());
    for (left, old) in leftover_copies(audit, region.scope(), function) {
        if !matches!(read_current(region.reads(), &left).await, Ok(Some(_))) {
            continue;
        }
        match old {
            true => removes.push(left),
            false => waiting.push(left),
        }
    }
    (removes, waiting)
}

/// How a drill is confirmed: typed (the word `drill`) in a production scope, else y/N.
pub fn confirmation(scope: &crate::provider::Scope) -> super::Confirmation {
    super::confirmation("drill", scope, false, false)
}

/// How long after its restore began a drill's copy that never ended counts as left behind.
const LEFTOVER_AFTER: chrono::TimeDelta = chrono::TimeDelta::minutes(30);

/// The copies of `function`'s drills in this scope whose restore began and whose drill never
/// ended (its process was interrupted or killed) or ended without deleting it, from the audit
/// log; each with whether it is taken for left behind: its drill ended, its process is known
/// gone (killed on this machine), or it began long enough ago (a younger one of another
/// machine may be running still).
fn leftover_copies(
    audit: Option<&AuditLog>,
    scope: &crate::provider::Scope,
    function: &str,
) -> Vec<(String, bool)> {
    let Some(Ok((records, _))) = audit.map(AuditLog::read) else {
        return Vec::new();
    };
    let prefix = copy_name(function, chrono::Utc::now());
    let prefix = &prefix[..prefix.len() - "HHMMSSmmm".len()];
    // Exactly a drill copy's name: the prefix and a nine-digit stamp (a function a person named
    // `orders-drill-eu` is never taken for one).
    let is_copy = |name: &str| {
        name.strip_prefix(prefix)
            .is_some_and(|stamp| stamp.len() == 9 && stamp.chars().all(|c| c.is_ascii_digit()))
    };
    let here = |r: &&super::audit::Record| {
        r.region == scope.region && r.profile == scope.profile && is_copy(&r.target)
    };
    // A drill still running (another terminal, a cron job) has not ended either: only a copy
    // whose restore began long before any drill takes is a leftover; and only a copy of this
    // function's snapshots (long names can share the shortened prefix).
    let old = |r: &&super::audit::Record| {
        chrono::DateTime::parse_from_rfc3339(&r.time)
            .is_ok_and(|t| chrono::Utc::now() - t.with_timezone(&chrono::Utc) >= LEFTOVER_AFTER)
    };
    // Its process known gone: killed on this machine (its record names host and pid).
    let gone = |r: &&super::audit::Record| {
        r.process()
            .is_some_and(|(host, pid)| crate::process::gone_here(host, pid))
    };
    let of_function = |r: &&super::audit::Record| {
        r.after
            .get("snapshot")
            .and_then(serde_json::Value::as_str)
            .and_then(|u| S3Uri::parse(u).ok())
            .and_then(|u| function_of(&u).ok())
            .is_some_and(|f| f == function)
    };
    // A drill that ended, its copy's deletion failed: left behind too, and its drill is done.
    let undeleted = |r: &super::audit::Record| {
        r.after
            .get("cleanup_failures")
            .and_then(serde_json::Value::as_array)
            .is_some_and(|f| !f.is_empty())
    };
    let (mut ended, mut done) = (
        std::collections::BTreeSet::new(),
        std::collections::BTreeSet::new(),
    );
    for r in records.iter().filter(here).filter(|r| r.action == "drill") {
        match undeleted(r) {
            true => done.insert(r.target.as_str()),
            false => ended.insert(r.target.as_str()),
        };
    }
    let mut left: Vec<(String, bool)> = records
        .iter()
        .filter(here)
        .filter(|r| r.action == "restore.begin" && !ended.contains(r.target.as_str()))
        .filter(of_function)
        .map(|r| {
            let gone = done.contains(r.target.as_str()) || old(&r) || gone(&r);
            (r.target.clone(), gone)
        })
        .collect();
    left.dedup();
    left
}

/// Invokes the copy's `$LATEST` once and waits for its answer.
async fn invoke_copy(region: &impl BackupRegion, copy: &str, payload: Vec<u8>) -> DrillInvoke {
    use crate::provider::InvokeRequest;
    let started = std::time::Instant::now();
    let answer = region
        .invoke(&InvokeRequest {
            function: copy.to_string(),
            qualifier: None,
            payload,
            asynchronous: false,
            wait_secs: None,
        })
        .await;
    let millis = started.elapsed().as_millis() as u64;
    match answer {
        Ok(out) => DrillInvoke {
            status: out.status,
            error: out.function_error.clone().map(|kind| {
                format!(
                    "{kind}: {}",
                    String::from_utf8_lossy(&out.payload)
                        .chars()
                        .take(200)
                        .collect::<String>()
                )
            }),
            response: String::from_utf8_lossy(&out.payload)
                .chars()
                .take(200)
                .collect(),
            millis,
        },
        Err(e) => DrillInvoke {
            status: 0,
            error: Some(e.to_string()),
            response: String::new(),
            millis,
        },
    }
}

#[cfg(test)]
#[path = "drill_tests.rs"]
mod tests;
