//! Backups through the ops layer: tier checks, previews, and audit records for `backup run`,
//! `backup prune` and `restore`. The engine is in [`crate::backup`].
//!
//! Tiers: taking a backup reads the fleet and only adds new objects to the backup bucket, so
//! the read tier may do it (cron on a read-only role); pruning deletes backups and restoring
//! changes functions, so both need the change tier.

use std::collections::BTreeMap;
use std::sync::Mutex;

use futures::StreamExt;
use serde_json::json;

use super::audit::{AuditLog, Record};
use super::{Kind, authorize};
use crate::backup::capture::{CaptureOptions, Captured, capture};
use crate::backup::lease::Lease;
use crate::backup::manifest::{DataCopy, Manifest, layout};
use crate::backup::restore::{Current, RestorePlan, Restored, Runner, Step, plan, read_current};
use crate::backup::{BackupError, S3Uri, Store, Verified, data, root_of, verify};
use crate::provider::aws::AwsRegion;
use crate::provider::{RegionActions, RegionSource};

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
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct DataSummary {
    pub source: String,
    pub copy: String,
    pub objects: usize,
    pub bytes: u64,
}

/// Matches a function name against `--filter`.
pub fn matches(name: &str, pattern: &str) -> bool {
    if !pattern.contains('*') {
        return name.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
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
        payload_sha256: None,
    }
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
    if let Some(log) = audit {
        log.ready().map_err(|e| {
            BackupError::Refused(format!(
                "the audit log {} cannot be written ({e}): nothing was sent. Fix its permissions \
                 or set XDG_STATE_HOME to a writable directory.",
                log.path().display()
            ))
        })?;
    }
    Ok(())
}

/// The one tier check for a scope, from the access the session gave it.
pub(super) fn allowed(scope: &crate::provider::Scope, kind: Kind) -> Result<(), BackupError> {
    authorize(
        scope.access.tier,
        kind.needs(),
        &format!("{} in {scope}", kind.title()),
    )?;
    Ok(())
}

pub(super) async fn caller(region: &AwsRegion) -> (String, String) {
    match region.caller().await {
        Ok(arn) => {
            let account = arn.split(':').nth(4).unwrap_or_default().to_string();
            (arn, account)
        }
        Err(e) => (format!("unknown ({e})"), String::new()),
    }
}

/// Takes snapshots of the selected functions in every region, and copies the data prefixes.
pub async fn run_backup(
    regions: &[AwsRegion],
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
    if let Selection::Named(names) = &request.selection
        && names.is_empty()
    {
        return Err(BackupError::Invalid(
            "no function named: pass --fn NAME (repeatable) or --all".into(),
        ));
    }
    let store = Store::open(&first.clients, request.to.clone()).await?;
    // Held while blobs may be reused, so that a prune running now keeps them.
    let lease = Lease::take(&store).await?;
    let result = backup_into(first, regions, &store, request, audit, progress).await;
    lease.release(&store).await;
    result
}

/// The backup run itself, under the lease `run_backup` holds.
async fn backup_into(
    first: &AwsRegion,
    regions: &[AwsRegion],
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
    // at once rather than one region after another.
    let mut per_region: Vec<Vec<(&AwsRegion, String)>> = Vec::new();
    for r in regions {
        let mut work = Vec::new();
        match &request.selection {
            Selection::Named(names) => {
                work.extend(names.iter().map(|n| (r, n.clone())));
            }
            Selection::All { filter } => {
                let inventory = r.clients.function_names().await?;
                work.extend(
                    inventory
                        .into_iter()
                        .filter(|n| filter.as_deref().is_none_or(|p| matches(n, p)))
                        .map(|n| (r, n)),
                );
            }
        }
        per_region.push(work);
    }
    let longest = per_region.iter().map(Vec::len).max().unwrap_or(0);
    let mut work: Vec<(&AwsRegion, String)> = Vec::new();
    for i in 0..longest {
        for list in &per_region {
            if let Some(item) = list.get(i) {
                work.push(item.clone());
            }
        }
    }
    if work.is_empty() {
        return Err(BackupError::Invalid(
            "no function matches: check --filter, or list functions with `lops status`".into(),
        ));
    }
    progress(Progress::Total(work.len() as u64));

    // Data first: every manifest of this run lists the copies.
    let stamp = layout::stamp(chrono::Utc::now());
    let mut copies: Vec<DataCopy> = Vec::new();
    for source in &request.data {
        let source_store = Store::open(&first.clients, source.clone()).await?;
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
                let r = capture(&region.clients, store, &function, options, &account, copies).await;
                progress(Progress::Function {
                    region: region.scope().region.clone(),
                    function: function.clone(),
                    ok: r.is_ok(),
                });
                let rec = record(
                    region.scope(),
                    &who,
                    "backup.run",
                    &function,
                    serde_json::Value::Null,
                    match &r {
                        Ok(c) => json!({"snapshot": c.snapshot, "uploaded_blobs": c.uploaded_blobs, "uploaded_bytes": c.uploaded_bytes}),
                        Err(_) => serde_json::Value::Null,
                    },
                    &r.as_ref().map(|_| ()).map_err(|e| e.to_string()),
                );
                append(audit, &rec, progress);
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
                error: e.to_string(),
            }),
        }
    }
    Ok(report)
}

/// What the dashboard's backup key needs of a region: the AWS regions take real snapshots, the
/// simulated fleet pretends (and says so).
pub trait Backups {
    fn backup(
        &self,
        functions: Vec<String>,
        to: S3Uri,
        storage_class: String,
        audit: Option<AuditLog>,
        progress: std::sync::Arc<dyn Fn(Progress) + Send + Sync>,
    ) -> impl Future<Output = Result<RunReport, BackupError>> + Send;
}

impl Backups for AwsRegion {
    async fn backup(
        &self,
        functions: Vec<String>,
        to: S3Uri,
        storage_class: String,
        audit: Option<AuditLog>,
        progress: std::sync::Arc<dyn Fn(Progress) + Send + Sync>,
    ) -> Result<RunReport, BackupError> {
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

impl Backups for crate::provider::sim::SimRegion {
    async fn backup(
        &self,
        functions: Vec<String>,
        to: S3Uri,
        _storage_class: String,
        _audit: Option<AuditLog>,
        progress: std::sync::Arc<dyn Fn(Progress) + Send + Sync>,
    ) -> Result<RunReport, BackupError> {
        allowed(self.scope(), Kind::Backup)?;
        progress(Progress::Total(functions.len() as u64));
        let mut report = RunReport {
            to: to.to_string(),
            ..Default::default()
        };
        for function in functions {
            tokio::time::sleep(std::time::Duration::from_millis(400)).await;
            progress(Progress::Function {
                region: self.scope().region.clone(),
                function: function.clone(),
                ok: true,
            });
            report.snapshots.push(Captured {
                snapshot: format!(
                    "{to}/snapshots/{}/{function}/(demo: nothing written)",
                    self.scope().region
                ),
                function,
                region: self.scope().region.clone(),
                blobs: 0,
                uploaded_blobs: 0,
                uploaded_bytes: 0,
                size: 0,
                absent: BTreeMap::new(),
            });
        }
        Ok(report)
    }
}

/// What a backup from the dashboard asks: it only adds objects, so a yes (the typed names on a
/// production scope, like every change there).
pub fn backup_confirmation(
    functions: &[String],
    scope: &crate::provider::Scope,
) -> super::Confirmation {
    super::confirmation(&functions.join(","), scope, false, false)
}

/// Opens the store a snapshot lives in.
pub async fn open_snapshot(region: &AwsRegion, snapshot: &S3Uri) -> Result<Store, BackupError> {
    let root = root_of(snapshot)?;
    Store::open(&region.clients, root).await
}

pub async fn verify_snapshot(
    region: &AwsRegion,
    snapshot: &S3Uri,
) -> Result<(Manifest, Verified), BackupError> {
    let store = open_snapshot(region, snapshot).await?;
    verify(&store, snapshot).await
}

#[derive(Debug, Clone)]
pub struct RestoreRequest {
    pub snapshot: S3Uri,
    /// Another name for the restored function.
    pub name: Option<String>,
    /// Another execution role (another account needs its own).
    pub role: Option<String>,
    /// Copy S3 data back here instead of to where it came from.
    pub data_to: Option<S3Uri>,
    pub skip_data: bool,
}

/// A checked restore: the snapshot verified, the target read, the steps planned.
#[derive(Debug, Clone)]
pub struct RestorePreview {
    pub store: Store,
    pub manifest: Manifest,
    pub verified: Verified,
    pub current: Option<Current>,
    pub plan: RestorePlan,
    /// (copy root, destination root, objects, bytes) of S3 data to copy back.
    pub data: Vec<(S3Uri, S3Uri, usize, u64)>,
}

impl RestorePreview {
    /// Restoring over an existing function is destructive: its name is typed.
    pub fn confirmation(&self, scope: &crate::provider::Scope) -> super::Confirmation {
        super::confirmation(&self.plan.function, scope, self.plan.exists, false)
    }

    pub fn lines(&self) -> Vec<String> {
        let mut out = vec![format!(
            "restore {} ({} taken {}) into {} in {}{}",
            self.manifest.function,
            self.manifest.region,
            self.manifest.taken_at,
            self.plan.function,
            self.plan.region,
            if self.plan.exists {
                " — it exists: a safety snapshot is taken first"
            } else {
                " — new function"
            }
        )];
        out.push(format!(
            "verified: {} blobs, {} bytes, {} data objects",
            self.verified.blobs_checked,
            self.verified.bytes_checked,
            self.verified.data_objects_checked
        ));
        if self.plan.steps.is_empty() {
            out.push("function: already as in the snapshot, nothing to change".into());
        }
        out.extend(
            self.plan
                .steps
                .iter()
                .map(|s| format!("  + {}", s.describe())),
        );
        for (from, to, n, bytes) in &self.data {
            out.push(format!(
                "  + copy {n} objects ({bytes} bytes) from {from} to {to}"
            ));
        }
        out.extend(self.plan.notes.iter().map(|n| format!("  note: {n}")));
        out
    }

    pub fn changes_anything(&self) -> bool {
        !self.plan.steps.is_empty() || !self.data.is_empty()
    }
}

fn check_function_name(name: &str) -> Result<(), BackupError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        Ok(())
    } else {
        Err(BackupError::Invalid(format!(
            "'{name}' is not a valid function name: 1 to 64 letters, digits, '-' or '_'"
        )))
    }
}

fn check_role(role: &str) -> Result<(), BackupError> {
    let parts: Vec<&str> = role.split(':').collect();
    if parts.len() == 6 && parts[0] == "arn" && parts[2] == "iam" && parts[5].starts_with("role/") {
        Ok(())
    } else {
        Err(BackupError::Invalid(format!(
            "--role '{role}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )))
    }
}

/// Checks the tier, verifies the snapshot, reads the target and plans the restore. Changes
/// nothing.
pub async fn prepare_restore(
    region: &AwsRegion,
    request: &RestoreRequest,
) -> Result<RestorePreview, BackupError> {
    allowed(region.scope(), Kind::Restore)?;
    if let Some(name) = &request.name {
        check_function_name(name)?;
    }
    if let Some(role) = &request.role {
        check_role(role)?;
    }
    let store = open_snapshot(region, &request.snapshot).await?;
    let (manifest, verified) = verify(&store, &request.snapshot).await?;
    if !verified.problems.is_empty() {
        return Err(BackupError::Corrupt(format!(
            "{} failed verification, so nothing was restored:\n  {}",
            request.snapshot,
            verified.problems.join("\n  ")
        )));
    }
    let function = request
        .name
        .clone()
        .unwrap_or_else(|| manifest.function.clone());
    let current = read_current(&region.clients, &function).await?;
    let plan = plan(
        &manifest,
        current.as_ref(),
        &function,
        &region.scope().region,
        request.role.as_deref(),
    );
    let unroutable = plan.unroutable(&manifest);
    if !unroutable.is_empty() {
        return Err(BackupError::Corrupt(format!(
            "{} cannot be restored whole, so nothing was changed: {} — a version the snapshot \
             does not hold",
            request.snapshot,
            unroutable.join(", ")
        )));
    }
    let mut data_plan = Vec::new();
    if !request.skip_data {
        if request.data_to.is_some() && manifest.data.len() > 1 {
            return Err(BackupError::Invalid(format!(
                "the snapshot holds {} data prefixes: --data-to takes one; restore without it \
                 (to where they came from) or pass --no-data",
                manifest.data.len()
            )));
        }
        for copy in &manifest.data {
            let from = S3Uri::parse(&copy.copy).map_err(BackupError::Corrupt)?;
            let to = match &request.data_to {
                Some(t) => t.clone(),
                None => S3Uri::parse(&copy.source).map_err(BackupError::Corrupt)?,
            };
            data_plan.push((
                from,
                to,
                copy.objects.len(),
                copy.objects.iter().map(|o| o.size).sum(),
            ));
        }
    }
    Ok(RestorePreview {
        store,
        manifest,
        verified,
        current,
        plan,
        data: data_plan,
    })
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RestoreOutcome {
    pub restored: Restored,
    pub safety_snapshot: Option<String>,
    pub data_objects: usize,
}

/// Runs a confirmed restore: re-reads the target and refuses if it changed since the preview,
/// takes a safety snapshot of an existing target, applies the steps (undoing them all if one
/// fails), copies data back, and audits.
pub async fn execute_restore(
    region: &AwsRegion,
    preview: &RestorePreview,
    audit: Option<&AuditLog>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RestoreOutcome, BackupError> {
    allowed(region.scope(), Kind::Restore)?;
    audit_ready(audit)?;
    // The safety snapshot may reuse blobs, and the restore reads the snapshot's: a prune
    // running now must keep them.
    let lease = Lease::take(&preview.store).await?;
    let result = restore_under_lease(region, preview, audit, progress).await;
    lease.release(&preview.store).await;
    result
}

async fn restore_under_lease(
    region: &AwsRegion,
    preview: &RestorePreview,
    audit: Option<&AuditLog>,
    progress: &(dyn Fn(Progress) + Sync),
) -> Result<RestoreOutcome, BackupError> {
    let function = &preview.plan.function;
    let now = read_current(&region.clients, function).await?;
    if now != preview.current {
        return Err(BackupError::Invalid(format!(
            "{function} changed since the preview: nothing was restored; run the restore again \
             to see the new difference"
        )));
    }
    let (who, account) = caller(region).await;
    let mut safety: Option<(Manifest, String)> = None;
    if preview.plan.exists && preview.changes_anything() {
        let options = CaptureOptions {
            storage_class: "STANDARD".into(),
            with_layers: false,
            safety: true,
        };
        let c = capture(
            &region.clients,
            &preview.store,
            function,
            &options,
            &account,
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
        progress(Progress::Note(format!(
            "safety snapshot of {function}: {}",
            c.snapshot
        )));
        safety = Some((m, c.snapshot));
    }
    let on_step = |s: &Step| progress(Progress::Step(s.describe()));
    let runner = Runner {
        clients: &region.clients,
        store: &preview.store,
        before: safety.as_ref().map(|(m, _)| (m, &preview.store)),
        on_step: &on_step,
    };
    let result = runner.run(&preview.plan).await;
    let mut data_objects = 0;
    let result = match result {
        Ok(restored) => {
            let mut data_result = Ok(());
            'copies: for ((from, to, _, _), copy) in preview.data.iter().zip(&preview.manifest.data)
            {
                for o in &copy.objects {
                    progress(Progress::DataObject {
                        key: o.key.clone(),
                        size: o.size,
                    });
                    let r = data::copy_object(
                        &preview.store.s3,
                        (&from.bucket, &from.child(&o.key)),
                        (&to.bucket, &to.child(&o.key)),
                        o.size,
                        None,
                    )
                    .await;
                    if let Err(e) = r {
                        data_result = Err(BackupError::Provider(
                            crate::provider::ProviderError::Service(format!(
                                "the function was restored, but copying data back stopped after {data_objects} objects ({e}); rerun to finish"
                            )),
                        ));
                        break 'copies;
                    }
                    data_objects += 1;
                }
            }
            data_result.map(|()| restored)
        }
        Err(e) => Err(e),
    };
    let rec = record(
        region.scope(),
        &who,
        "restore",
        function,
        json!({"existed": preview.plan.exists, "safety_snapshot": safety.as_ref().map(|(_, u)| u)}),
        json!({"snapshot": preview.verified.snapshot, "steps": preview.plan.steps.len(), "data_objects": data_objects}),
        &result.as_ref().map(|_| ()).map_err(|e| e.to_string()),
    );
    append(audit, &rec, progress);
    result.map(|restored| RestoreOutcome {
        restored,
        safety_snapshot: safety.map(|(_, u)| u),
        data_objects,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn filter_patterns() {
        assert!(matches("orders-api", "orders"));
        assert!(matches("orders-api", "orders-*"));
        assert!(matches("orders-api", "*-api"));
        assert!(matches("orders-api", "o*s-a*"));
        assert!(!matches("orders-api", "pay*"));
        assert!(!matches("orders-api", "*-web"));
        assert!(matches("x", "*"));
    }

    #[test]
    fn names_and_roles_are_checked() {
        assert!(check_function_name("orders-api_2").is_ok());
        assert!(check_function_name("orders:api").is_err());
        assert!(check_function_name(&"a".repeat(65)).is_err());
        assert!(check_role("arn:aws:iam::123456789012:role/lambda-dr").is_ok());
        assert!(check_role("lambda-dr").is_err());
    }
}
