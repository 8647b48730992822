//! Backups through the ops layer: tier checks, progress and audit records for `backup run`
//! (prune and restore are in their own modules). The engine is in [`crate::backup`].
//!
//! Tiers: taking a backup reads the fleet and only adds new objects to the backup bucket, so
//! the read tier may do it (cron on a read-only role); pruning deletes backups and restoring
//! changes functions, so both need the change tier.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::StreamExt;
use serde_json::json;

use super::Kind;
use super::audit::{AuditLog, Record};
pub use super::backup_request::matches;
pub use crate::backup::S3Uri;
use crate::backup::capture::{CaptureOptions, Captured, capture};
use crate::backup::lease::Lease;
use crate::backup::manifest::{DataCopy, Manifest, layout};
use crate::backup::{BackupError, Store, Verified, data, root_of, verify};
use crate::provider::RegionActions;
use crate::provider::aws::AwsRegion;
use crate::provider::blob::Buckets;
use crate::provider::function::{FunctionReads, FunctionWrites};

pub use super::restore::{
    RestoreOutcome, RestorePreview, RestoreRequest, execute_restore, prepare_restore,
};

/// Which functions a backup covers.
#[derive(Debug, Clone, PartialEq)]
pub enum Selection {
    Named(Vec<String>),
    /// Every function, or those whose name matches the pattern (`*` wildcards, else substring).
    All {
        filter: Option<String>,
    },
}

#[derive(Debug, Clone)]
pub struct BackupRequest {
    pub selection: Selection,
    pub to: S3Uri,
    pub data: Vec<S3Uri>,
    pub storage_class: String,
    pub with_layers: bool,
}

/// Progress, for a bar or the TUI's gauge.
#[derive(Debug, Clone, PartialEq)]
pub enum Progress {
    /// This many units of work in all (functions + data objects as they are found).
    Total(u64),
    /// One function done (or failed).
    Function {
        region: String,
        function: String,
        ok: bool,
    },
    /// One data object copied.
    DataObject { key: String, size: u64 },
    /// One restore step about to run.
    Step(String),
    /// A restore's function steps are done and its data copy begins: a stop from here on
    /// leaves the function restored.
    DataBegins,
    /// A line the user should keep (a safety snapshot's location).
    Note(String),
    /// Something the user should know that did not stop the work (the face shows it).
    Warning(String),
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct RunReport {
    pub to: String,
    pub snapshots: Vec<Captured>,
    pub failed: Vec<Failed>,
    pub data: Vec<DataSummary>,
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Failed {
    pub region: String,
    pub function: String,
    pub error: String,
    /// Bad input (unknown function) rather than a failure of AWS.
    #[serde(skip)]
    pub invalid: bool,
    /// Refused before anything was written (the audit log took no record).
    #[serde(skip)]
    pub refused: bool,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DataSummary {
    pub source: String,
    pub copy: String,
    pub objects: usize,
    pub bytes: u64,
}

pub(super) fn record(
    scope: &crate::provider::Scope,
    who: &str,
    action: &str,
    target: &str,
    before: serde_json::Value,
    after: serde_json::Value,
    result: &Result<(), String>,
) -> Record {
    Record {
        id: super::execute::new_id(),
        time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
        who: who.to_string(),
        profile: scope.profile.clone(),
        region: scope.region.clone(),
        action: action.to_string(),
        target: target.to_string(),
        before,
        after,
        result: match result {
            Ok(()) => "ok".into(),
            Err(e) => e.clone(),
        },
        undoes: None,
        reason: None,
        asked: None,
        ended: None,
        payload_sha256: None,
        batch: None,
        destructive: false,
        typed: false,
    }
}

/// Writes `record` (its result `started`) before anything is done: refused, with nothing done,
/// when the log cannot take it.
pub(super) fn begin(audit: Option<&AuditLog>, record: &Record) -> Result<(), BackupError> {
    let Some(log) = audit else {
        return Err(BackupError::Refused(super::audit::NO_LOG.into()));
    };
    log.append(record).map_err(|e| {
        BackupError::Refused(format!(
            "the audit log {} cannot be written ({e}): nothing was done. Free space, fix its \
             permissions, or set XDG_STATE_HOME to a writable directory.",
            log.path().display()
        ))
    })
}

pub(super) fn append(
    audit: Option<&AuditLog>,
    record: &Record,
    progress: &(dyn Fn(Progress) + Sync),
) {
    if let Some(log) = audit
        && let Err(e) = log.append(record)
    {
        tracing::error!(error = %e, path = %log.path().display(), "cannot write the audit log");
        progress(Progress::Warning(format!(
            "cannot write the audit log {}: {e}",
            log.path().display()
        )));
    }
}

/// No audit, no change: the log must take a record before anything is sent.
pub(super) fn audit_ready(audit: Option<&AuditLog>) -> Result<(), BackupError> {
    AuditLog::for_change(audit)
        .map(|_| ())
        .map_err(BackupError::Refused)
}

/// The one tier check for a scope, from the access the session gave it.
pub(super) fn allowed(scope: &crate::provider::Scope, kind: Kind) -> Result<(), BackupError> {
    Ok(kind.allowed_in(scope)?)
}

pub(super) async fn caller(region: &impl RegionActions) -> (String, String) {
    match region.caller().await {
        Ok(arn) => {
            let account = arn.split(':').nth(4).unwrap_or_default().to_string();
            (arn, account)
        }
        Err(e) => (format!("unknown ({e})"), String::new()),
    }
}

/// For each (region handle, function), whether it names the same function as an earlier one:
/// another profile of the same account (as STS says it) in the same region. The same function
/// is backed up once, whichever profiles name it; a profile whose account STS does not say is
/// not taken for the same (backing up twice loses nothing). With the note to say for each.
pub async fn same_function_twice<R: RegionActions>(pairs: &[(&R, &str)]) -> Vec<Option<String>> {
    let mut accounts = Vec::with_capacity(pairs.len());
    for (region, _) in pairs {
        accounts.push(super::same_function::account(*region).await);
    }
    let mut out = Vec::with_capacity(pairs.len());
    for (i, (region, function)) in pairs.iter().enumerate() {
        let scope = region.scope();
        let earlier = pairs[..i].iter().zip(&accounts).find(|((r, f), a)| {
            r.scope().region == scope.region
                && r.scope().profile != scope.profile
                && f == function
                && a.is_some()
                && **a == accounts[i]
        });
        out.push(earlier.map(|((r, _), a)| {
            format!(
                "{function} in {scope} is the same function as in {} (account {}): backed up once",
                r.scope(),
                a.as_deref().unwrap_or_default()
            )
        }));
    }
    out
}

/// Takes snapshots of the selected functions in every region, and copies the data prefixes.
pub async fn run_backup<R: BackupRegion>(
    regions: &[R],
    request: &BackupRequest,
    audit: Option<&AuditLog>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunReport, BackupError> {
    let Some(first) = regions.first() else {
        return Err(BackupError::Invalid(
            "no region to back up: pass --region".into(),
        ));
    };
    for r in regions {
        allowed(r.scope(), Kind::Backup)?;
    }
    audit_ready(audit)?;
    request.validate()?;
    let store = Store::open(first, request.to.clone()).await?;
    // Held while blobs may be reused, so that a prune running now keeps them.
    let lease = Lease::take(&store, "backup").await?;
    let result = backup_into(first, regions, &store, request, audit, progress).await;
    lease.release(&store).await;
    result
}

/// The backup run itself, under the lease `run_backup` holds.
async fn backup_into<R: BackupRegion>(
    first: &R,
    regions: &[R],
    store: &Store,
    request: &BackupRequest,
    audit: Option<&AuditLog>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RunReport, BackupError> {
    let mut report = RunReport {
        to: request.to.to_string(),
        ..Default::default()
    };

    // Which functions, per region; then interleaved, so that every region's rate limit is used
    // at once rather than one region after another. A region whose functions could not be
    // listed is a failure of the run, not its end: the others are backed up.
    let (mut per_region, unlisted) =
        super::backup_request::selected(regions, &request.selection).await;
    report.failed.extend(unlisted);
    // Two profiles of one account naming one function: backed up once, the other said.
    if regions.len() > 1 {
        let flat: Vec<(&R, &str)> = per_region
            .iter()
            .flatten()
            .map(|(r, n)| (*r, n.as_str()))
            .collect();
        let twice = same_function_twice(&flat).await;
        let mut at = 0;
        for list in per_region.iter_mut() {
            let mut keep = Vec::with_capacity(list.len());
            for item in list.drain(..) {
                match &twice[at] {
                    Some(note) => progress(Progress::Note(note.clone())),
                    None => keep.push(item),
                }
                at += 1;
            }
            *list = keep;
        }
    }
    let longest = per_region.iter().map(Vec::len).max().unwrap_or(0);
    let mut work: Vec<(&R, String)> = Vec::new();
    for i in 0..longest {
        for list in &per_region {
            if let Some(item) = list.get(i) {
                work.push(item.clone());
            }
        }
    }
    if work.is_empty() && !report.failed.is_empty() {
        return Ok(report);
    }
    if work.is_empty() {
        return Err(BackupError::Invalid(
            "no function matches: check --filter, or list functions with `lops status`".into(),
        ));
    }
    // Data is copied before the functions are read: when none of the functions named exists
    // anywhere, nothing would use those copies (they would lie in the store until a prune).
    if let (false, Selection::Named(names)) = (request.data.is_empty(), &request.selection) {
        let mut any = false;
        for r in regions {
            match r.reads().function_names().await {
                Ok(listed) if !names.iter().any(|n| listed.contains(n)) => {}
                // Found, or the listing failed: the backup goes on and says what it finds.
                _ => {
                    any = true;
                    break;
                }
            }
        }
        if !any {
            return Err(BackupError::Invalid(format!(
                "no function named {} in {}: nothing was copied (list functions with `lops \
                 status`)",
                names.join(", "),
                regions
                    .iter()
                    .map(|r| r.scope().region.clone())
                    .collect::<Vec<_>>()
                    .join(", ")
            )));
        }
    }
    progress(Progress::Total(work.len() as u64));

    // Data first: every manifest of this run lists the copies.
    let stamp = layout::stamp(chrono::Utc::now());
    let mut copies: Vec<DataCopy> = Vec::new();
    for source in &request.data {
        let source_store = Store::open(first, source.clone()).await?;
        let dest = store.root.with_key(
            store
                .root
                .child(&format!(
                    "{}/{}",
                    layout::data(&stamp, &source.bucket),
                    source.key
                ))
                .trim_end_matches('/')
                .to_string(),
        );
        let copy = data::copy_prefix(&source_store, store, &dest, &request.storage_class, |o| {
            progress(Progress::DataObject {
                key: o.key.clone(),
                size: o.size,
            })
        })
        .await?;
        report.data.push(DataSummary {
            source: copy.source.clone(),
            copy: copy.copy.clone(),
            objects: copy.objects.len(),
            bytes: copy.objects.iter().map(|o| o.size).sum(),
        });
        copies.push(copy);
    }

    let options = CaptureOptions {
        storage_class: request.storage_class.clone(),
        with_layers: request.with_layers,
        safety: false,
    };
    let mut callers: BTreeMap<String, (String, String)> = BTreeMap::new();
    for r in regions {
        if !callers.contains_key(&r.scope().profile) {
            callers.insert(r.scope().profile.clone(), caller(r).await);
        }
    }
    let results = Mutex::new(Vec::new());
    futures::stream::iter(work)
        .for_each_concurrent(4 * regions.len(), |(region, function)| {
            let options = &options;
            let store = &store;
            let copies = &copies;
            let callers = &callers;
            let results = &results;
            async move {
                let (who, account) = callers
                    .get(&region.scope().profile)
                    .cloned()
                    .unwrap_or_default();
                // No audit, no change: the snapshot is recorded as started first; a log that
                // takes no record stops this function's backup before anything is written.
                let mut rec = record(
                    region.scope(),
                    &who,
                    "backup.run",
                    &function,
                    serde_json::Value::Null,
                    serde_json::Value::Null,
                    &Err(super::audit::STARTED.to_string()),
                );
                let r = match begin(audit, &rec) {
                    Err(e) => Err(e),
                    Ok(()) => {
                        capture(
                            region.reads(),
                            &region.scope().region,
                            store,
                            &function,
                            options,
                            &account,
                            copies,
                        )
                        .await
                    }
                };
                progress(Progress::Function {
                    region: region.scope().region.clone(),
                    function: function.clone(),
                    ok: r.is_ok(),
                });
                // Layer content asked for and not stored: the snapshot stands, but a restore
                // where the layer is not will be refused. Said now, not found out then.
                for (what, why) in r.iter().flat_map(|c| c.absent.iter()) {
                    if what.starts_with("layer ") {
                        progress(Progress::Warning(format!(
                            "{function} in {}: {what} not stored ({why}): a restore where \
                             the layer is not will be refused",
                            region.scope().region
                        )));
                    }
                }
                rec.after = match &r {
                    Ok(c) => json!({"snapshot": c.snapshot, "uploaded_blobs": c.uploaded_blobs, "uploaded_bytes": c.uploaded_bytes}),
                    Err(_) => serde_json::Value::Null,
                };
                rec.result = match &r {
                    Ok(_) => "ok".into(),
                    Err(e) => e.to_string(),
                };
                // Taken, and its result not written: the snapshot stands, the run is not
                // clean (the log holds it as started).
                let r = match (r, audit.map(|log| log.append(&rec))) {
                    (Ok(c), Some(Err(e))) => Err(BackupError::Provider(
                        crate::provider::ProviderError::Service(format!(
                            "snapshot {} taken, but its result could not be written to the \
                             audit log ({e}): the log holds it as started",
                            c.snapshot
                        )),
                    )),
                    (r, _) => r,
                };
                if let Ok(mut all) = results.lock() {
                    all.push((region.scope().region.clone(), function, r));
                }
            }
        })
        .await;
    let mut results = results.into_inner().unwrap_or_default();
    results.sort_by(|a, b| (&a.0, &a.1).cmp(&(&b.0, &b.1)));
    for (region, function, r) in results {
        match r {
            Ok(c) => {
                report.uploaded_blobs += c.uploaded_blobs;
                report.uploaded_bytes += c.uploaded_bytes;
                report.snapshots.push(c);
            }
            Err(e) => report.failed.push(Failed {
                region,
                function,
                invalid: matches!(e, BackupError::Invalid(_)),
                refused: matches!(e, BackupError::Refused(_)),
                error: e.to_string(),
            }),
        }
    }
    Ok(report)
}

/// What backups and restores need of a region: who is asking and what it may do (its scope),
/// where buckets are, and how its functions read and are written. The AWS regions and the simulated fleet both
/// answer, so the demo's backups are real snapshots in its in-memory buckets.
pub trait BackupRegion: RegionActions + Buckets {
    type Reads: FunctionWrites;
    fn reads(&self) -> &Self::Reads;

    /// The dashboard's backup key: the named functions into `to`.
    fn backup(
        &self,
        functions: Vec<String>,
        to: S3Uri,
        storage_class: String,
        audit: Option<AuditLog>,
        progress: std::sync::Arc<dyn Fn(Progress) + Send + Sync>,
    ) -> impl Future<Output = Result<RunReport, BackupError>> + Send
    where
        Self: Sized,
    {
        async move {
            let request = BackupRequest {
                selection: Selection::Named(functions),
                to,
                data: Vec::new(),
                storage_class,
                with_layers: false,
            };
            let report = |p: Progress| progress(p);
            run_backup(
                std::slice::from_ref(self),
                &request,
                audit.as_ref(),
                &report,
            )
            .await
        }
    }
}

impl BackupRegion for AwsRegion {
    type Reads = crate::provider::aws::Clients;
    fn reads(&self) -> &Self::Reads {
        &self.clients
    }
}

impl BackupRegion for crate::provider::sim::SimRegion {
    type Reads = Self;
    fn reads(&self) -> &Self {
        self
    }
}

pub use super::backup_request::{
    backup_confirmation, backup_line, backup_preview, named, thaw_note,
};

/// Opens the store a snapshot lives in.
pub async fn open_snapshot(region: &impl Buckets, snapshot: &S3Uri) -> Result<Store, BackupError> {
    let root = root_of(snapshot)?;
    Store::open(region, root).await
}

/// The snapshot's manifest is there and reads as one: what a drill checks before it says its
/// plan and asks (a typo'd address is bad input, said before anything else).
pub async fn snapshot_there(region: &impl Buckets, snapshot: &S3Uri) -> Result<(), BackupError> {
    let store = open_snapshot(region, snapshot).await?;
    crate::backup::load_manifest(&store, snapshot)
        .await
        .map(|_| ())
}

pub async fn verify_snapshot(
    region: &impl Buckets,
    snapshot: &S3Uri,
) -> Result<(Manifest, Verified), BackupError> {
    let store = open_snapshot(region, snapshot).await?;
    verify(&store, snapshot).await
}

/// An ops refusal or conflict met during a backup or restore, as the backup engine reports it.
impl From<super::OpsError> for crate::backup::BackupError {
    fn from(e: super::OpsError) -> Self {
        match e {
            super::OpsError::Refused(m) => crate::backup::BackupError::Refused(m),
            super::OpsError::Invalid(m) => crate::backup::BackupError::Invalid(m),
            super::OpsError::Conflict(m) => crate::backup::BackupError::Conflict(m.why),
            super::OpsError::Provider(p) => crate::backup::BackupError::Provider(p),
        }
    }
}

#[cfg(test)]
#[path = "backup_tests.rs"]
mod tests;
