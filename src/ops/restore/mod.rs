//! `restore` through the ops layer: the tier check, a verified snapshot, the preview of every
//! step, a safety snapshot of an existing target, the steps with their undo journal, S3 data,
//! and the audit record — all under a backup lease, so a prune running meanwhile keeps the
//! blobs they read.

use serde_json::json;

use super::Kind;
use super::audit::AuditLog;
use super::backup::BackupRegion;
use super::backup::{Progress, allowed, append, audit_ready, caller, open_snapshot, record};
use crate::backup::lease::Lease;
use crate::backup::manifest::Manifest;
use crate::backup::restore::{
    Current, Difference, Restored, Step, difference_among, layer_copies, read_current,
};
use crate::backup::{BackupError, S3Uri, Store, Verified, verify};

mod checks;
mod data;
mod run;
pub use checks::check_role_arn;
use checks::{check_function_name, check_role};
pub use data::{DataCopied, DataRestore};
use run::{before_first_change, restore_under_lease};

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
    /// Map event source mappings whose source is in another region to the same source in the
    /// target region.
    pub map_sources: bool,
    /// Remove what the target has and the snapshot has not (`--exact`).
    pub exact: bool,
    /// Create event source mappings disabled (a drill's copy must not take real messages).
    pub mappings_disabled: bool,
    /// The snapshot must verify whole, its S3 data copy too, even when the data is not copied
    /// back (a drill checks the snapshot; a `--no-data` restore does not need the data).
    pub whole_snapshot: bool,
    /// The role assumed to reach the target (`--assume-role`), recorded: what puts back what
    /// the restore replaced must act there too, not in the profile's own account.
    pub assume_role: Option<String>,
}

/// A checked restore: the snapshot verified, the target read, the steps worked out.
#[derive(Debug, Clone)]
pub struct RestorePreview {
    pub store: Store,
    pub manifest: Manifest,
    pub verified: Verified,
    pub current: Option<Current>,
    pub difference: Difference,
    /// S3 data to copy back, one per prefix the snapshot holds, with what is there now.
    pub data: Vec<DataRestore>,
    /// The account it restores into, as STS says (empty: STS did not say).
    pub account: String,
    /// See [`RestoreRequest::assume_role`].
    pub assume_role: Option<String>,
}

impl RestorePreview {
    /// Changing an existing function, or writing over S3 objects that differ from the
    /// snapshot (S3 keeps nothing of them), is destructive; a function already as the snapshot
    /// has it is not changed.
    pub fn destructive(&self) -> bool {
        (self.difference.exists && !self.difference.steps.is_empty()) || self.overwrites() > 0
    }

    /// Existing S3 objects the data copy writes over.
    pub fn overwrites(&self) -> usize {
        self.data.iter().map(DataRestore::overwrites).sum()
    }

    /// A destructive restore asks for the function's name typed.
    pub fn confirmation(&self, scope: &crate::provider::Scope) -> super::Confirmation {
        super::confirmation(&self.difference.function, scope, self.destructive(), false)
    }

    pub fn lines(&self) -> Vec<String> {
        // Both accounts named: a restore into another account reads like one into this one
        // otherwise.
        let into = if self.account.is_empty() {
            "account not known: STS did not say".to_string()
        } else {
            format!("account {}", self.account)
        };
        let mut out = vec![format!(
            "restore {} ({} account {} taken {}) into {} in {} ({into}){}",
            self.manifest.function,
            self.manifest.region,
            self.manifest.account,
            self.manifest.taken_at,
            self.difference.function,
            self.difference.region,
            match (self.difference.exists, !self.difference.steps.is_empty()) {
                (true, true) => " — it exists: a safety snapshot is taken first",
                (true, false) => " — it exists",
                (false, _) => " — new function",
            }
        )];
        out.push(format!(
            "verified: {}, {}, {}",
            crate::format::items(self.verified.blobs_checked as u64, "blob", "blobs"),
            crate::format::items(self.verified.bytes_checked, "byte", "bytes"),
            crate::format::items(
                self.verified.data_objects_checked as u64,
                "data object",
                "data objects"
            )
        ));
        // Only reached without the data (`--no-data`): said, not hidden.
        if !self.verified.data_problems.is_empty() {
            out.push(format!(
                "the snapshot's S3 data copy {} ({}), and not restored (--no-data)",
                self.verified.data_state(),
                self.verified.data_problems.join("; ")
            ));
        }
        if self.difference.steps.is_empty() {
            out.push("function: already as in the snapshot, nothing to change".into());
        }
        out.extend(
            self.difference
                .steps
                .iter()
                .map(|s| format!("  + {}", s.describe())),
        );
        out.extend(data::lines(&self.data));
        let outside = self.difference.outside.iter().map(|o| &o.note);
        let notes = self.difference.notes.iter().chain(outside);
        out.extend(notes.map(|n| format!("  note: {n}")));
        out
    }

    /// Notes an earlier restore of the same target here that began and never ended (read
    /// from the audit log), so the preview says what it may have left.
    pub fn note_unfinished(&mut self, audit: Option<&AuditLog>, scope: &crate::provider::Scope) {
        // Already as in the snapshot: whatever it left is complete.
        if !self.changes_anything() {
            return;
        }
        let Some(Ok((records, _))) = audit.map(AuditLog::read) else {
            return;
        };
        if let Some(note) = run::unfinished(&records, scope, &self.difference.function) {
            self.difference.notes.insert(0, note);
        }
    }

    pub fn changes_anything(&self) -> bool {
        !self.difference.steps.is_empty() || self.data.iter().any(|d| d.objects > 0)
    }
}

/// Checks the tier, verifies the snapshot, reads the target and works out the steps. Changes
/// nothing.
pub async fn prepare_restore(
    region: &impl BackupRegion,
    request: &RestoreRequest,
    audit: Option<&AuditLog>,
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
    // Without its data (`--no-data`) a restore does not need the data copies whole.
    let data_optional = request.skip_data && !request.whole_snapshot;
    let blocking: Vec<String> = (verified.problems.iter())
        .filter(|p| !(data_optional && verified.data_problems.contains(p)))
        .cloned()
        .collect();
    if !blocking.is_empty() {
        let data_only = blocking.len() == verified.data_problems.len()
            && blocking.iter().all(|p| verified.data_problems.contains(p));
        // Archived (or not readable by this role), nothing known broken: not called corrupt.
        let unreadable = blocking
            .iter()
            .all(|p| p.starts_with("archived: ") || p.starts_with("not read: "));
        let error = match unreadable {
            true => BackupError::Archived,
            false => BackupError::Corrupt,
        };
        return Err(error(format!(
            "{} {}, so nothing was restored:\n  {}{}{}",
            request.snapshot,
            match unreadable {
                true => "cannot be read whole yet",
                false => "failed verification",
            },
            blocking.join("\n  "),
            match data_only && !request.whole_snapshot {
                true => format!(
                    "\nOnly its S3 data copy {}: `--no-data` restores the function.",
                    verified.data_state()
                ),
                false => String::new(),
            },
            // For what blocks it (without its data, the data copy's problems do not).
            crate::backup::remedy_of(
                &store,
                &request.snapshot,
                &blocking,
                &verified.data_problems,
            )
            .map(|r| format!("\nWhat to do: {r}"))
            .unwrap_or_default()
        )));
    }
    let function = request
        .name
        .clone()
        .unwrap_or_else(|| manifest.function.clone());
    let current = read_current(region.reads(), &function).await?;
    let copies = layer_copies(region.reads(), &manifest).await?;
    // The account lops acts in there, as STS says (not guessed from ARNs).
    let (_, account) = super::backup::caller(region).await;
    let difference = difference_among(
        &manifest,
        current.as_ref(),
        &copies,
        &crate::backup::restore::Target {
            function: &function,
            region: &region.scope().region,
            account: Some(account.as_str()).filter(|a| !a.is_empty()),
            role: request.role.as_deref(),
            map_sources: request.map_sources,
            exact: request.exact,
        },
    );
    let unroutable = difference.unroutable(&manifest);
    if !unroutable.is_empty() {
        return Err(BackupError::Corrupt(format!(
            "{} cannot be restored whole, so nothing was changed: {} — a version the snapshot \
             does not hold",
            request.snapshot,
            unroutable.join(", ")
        )));
    }
    let mut difference = difference;
    if request.mappings_disabled {
        for step in difference.steps.iter_mut() {
            if let Step::Mapping { enabled, .. } = step {
                *enabled = false;
            }
        }
    }
    held_aliases(region, audit, &difference).await?;
    let mut refused = difference.refused.clone();
    // The image is needed only by a step that puts code in place.
    let needs_code = difference
        .steps
        .iter()
        .any(|s| matches!(s, Step::Create { .. } | Step::UpdateCode { .. }));
    // A package over Lambda's inline limit is read from the backup bucket, which must then be
    // in the target region: said now rather than half-way.
    let limit = crate::backup::restore::INLINE_LIMIT;
    let large = difference
        .steps
        .iter()
        .filter_map(|s| match s {
            Step::Create { code, .. } | Step::UpdateCode { code, .. } => match code {
                crate::backup::manifest::Code::Zip { size, .. } => Some(*size),
                crate::backup::manifest::Code::Image { .. } => None,
            },
            Step::Layer { size, .. } => Some(*size),
            _ => None,
        })
        .filter(|size| *size > limit)
        .max();
    if let Some(size) = large.filter(|_| store.region != region.scope().region) {
        refused.push(format!(
            "the package is {} MB: Lambda takes at most 50 MB inline and reads larger ones only \
             from a bucket in its own region ({}); the backup bucket is in {}: copy the backup \
             to a bucket there and restore from it",
            size / (1024 * 1024),
            region.scope().region,
            store.region
        ));
    }
    if needs_code {
        let missing = crate::backup::restore::image::missing_images(
            region.reads(),
            &region.scope().region,
            &manifest,
        );
        refused.extend(missing.await);
    }
    if !refused.is_empty() {
        return Err(BackupError::Refused(format!(
            "{} cannot be restored into {} {}, so nothing was changed:\n  {}",
            request.snapshot,
            function,
            region.scope(),
            refused.join("\n  ")
        )));
    }
    let elsewhere = (region.scope().region != manifest.region
        || function != manifest.function
        || (!account.is_empty() && !manifest.account.is_empty() && account != manifest.account))
        .then(|| {
            format!(
                "{function} in {}{}, not where the snapshot was taken ({} in {})",
                region.scope(),
                if account.is_empty() {
                    String::new()
                } else {
                    format!(" (account {account})")
                },
                manifest.function,
                manifest.region,
            )
        });
    let data = data::plan(region, &store, &manifest, request, elsewhere).await?;
    Ok(RestorePreview {
        store,
        manifest,
        verified,
        current,
        difference,
        data,
        account,
        assume_role: request.assume_role.clone(),
    })
}

/// Refuses a restore that would change an alias a rollout drives now, as a traffic change of
/// it is refused: the rollout would halt at its next step, its guard no longer able to roll
/// back. Asked at the preview and again right before the first change.
pub(super) async fn held_aliases(
    region: &impl BackupRegion,
    audit: Option<&AuditLog>,
    difference: &crate::backup::restore::Difference,
) -> Result<(), BackupError> {
    for step in &difference.steps {
        // An alias changed, removed (`--exact`), or losing what is on it.
        let alias = match step {
            Step::Alias {
                alias,
                now: Some(_),
                ..
            } => Some(alias.name.as_str()),
            Step::Remove(r) => r.alias(),
            _ => None,
        };
        if let Some(alias) = alias {
            super::plan::held_by_rollout(region, audit, &difference.function, alias)
                .await
                .map_err(|e| match e {
                    super::OpsError::Refused(why) => {
                        BackupError::Refused(format!("{why}; nothing was restored"))
                    }
                    other => other.into(),
                })?;
        }
    }
    Ok(())
}

/// What a restore did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct RestoreOutcome {
    pub restored: Restored,
    pub safety_snapshot: Option<String>,
    /// S3 objects copied back, and how many of them replaced other content (no undo).
    pub data_objects: usize,
    pub data_overwritten: usize,
}

impl RestoreOutcome {
    /// The result line: what was restored, and the S3 data copied back over what.
    pub fn summary(&self) -> String {
        let versions = self
            .restored
            .versions
            .iter()
            .map(|(a, b)| {
                format!(
                    "{}→{}",
                    crate::format::version(a),
                    crate::format::version(b)
                )
            })
            .collect::<Vec<_>>()
            .join(", ");
        let data = match (self.data_objects, self.data_overwritten) {
            (0, _) => String::new(),
            (n, 0) => format!("; data: {n} object(s) copied back"),
            (n, o) => format!(
                "; data: {n} object(s) copied back, {o} of them over existing objects that \
                 differed (not recoverable without bucket versioning)"
            ),
        };
        format!(
            "restored {} in {} ({} step(s); versions {versions}){data}",
            self.restored.function, self.restored.region, self.restored.steps
        )
    }
}

/// Runs a confirmed restore: re-reads the target and refuses if it changed since the preview,
/// takes a safety snapshot of an existing target, applies the steps (undoing them all if one
/// fails), copies data back, and audits.
pub async fn execute_restore(
    region: &impl BackupRegion,
    preview: &RestorePreview,
    audit: Option<&AuditLog>,
    progress: &(dyn Fn(Progress) + Sync),
    stop: Option<&std::sync::atomic::AtomicBool>,
) -> Result<RestoreOutcome, BackupError> {
    allowed(region.scope(), Kind::Restore)?;
    audit_ready(audit)?;
    let (who, account) = caller(region).await;
    // Confirmed, then refused before its first change (the target changed since the preview,
    // no lease, no safety snapshot): recorded as not sent, so the log holds every restore
    // asked for.
    let not_sent = |e: BackupError| {
        let result = match &e {
            BackupError::Conflict(m) => format!("{}{m}", super::audit::CONFLICT),
            BackupError::Refused(m) => format!("refused: {m}"),
            other => other.to_string(),
        };
        let rec = restore_record(
            region,
            preview,
            &who,
            "restore",
            json!({"existed": preview.difference.exists}),
            Err(result),
        );
        append(audit, &rec, progress);
        e
    };
    // The safety snapshot may reuse blobs, and the restore reads the snapshot's: a prune
    // running now must keep them.
    let lease = Lease::take(&preview.store, "restore")
        .await
        .map_err(not_sent)?;
    // Two restores of one function on this machine take turns from the comparison to the end:
    // the second compares with what the first restored, and is refused (not sent) rather than
    // writing over it.
    let function = &preview.difference.function;
    let target = region.scope().region.clone();
    let lock = match super::lock::hold(
        &format!("restore-{account}-{target}-{function}"),
        std::time::Duration::from_secs(120),
    )
    .await
    {
        Ok(lock) => lock,
        Err(e) => {
            lease.release(&preview.store).await;
            return Err(not_sent(match e {
                super::lock::LockError::Busy(wait) => BackupError::Refused(format!(
                    "another lops on this machine has been restoring {function} in {target} \
                     for {} s: nothing was restored; run again once it is done",
                    wait.as_secs()
                )),
                super::lock::LockError::Io(path, e) => BackupError::Invalid(format!(
                    "cannot take the lock {} that keeps two restores of {function} apart: {e}",
                    path.display()
                )),
            }));
        }
    };
    let result = match before_first_change(region, preview, audit, &account, progress).await {
        Ok(safety) => {
            restore_under_lease(region, preview, audit, progress, &who, safety, stop).await
        }
        Err(e) => Err(not_sent(e)),
    };
    drop(lock);
    lease.release(&preview.store).await;
    result
}

/// A record of this restore, with what it was to do and how it was confirmed.
fn restore_record(
    region: &impl BackupRegion,
    preview: &RestorePreview,
    who: &str,
    action: &str,
    before: serde_json::Value,
    result: Result<(), String>,
) -> super::audit::Record {
    let after = json!({
        "snapshot": preview.verified.snapshot,
        "steps": preview.difference.steps.len(),
        "data_objects": preview.data.iter().map(|d| d.objects).sum::<usize>(),
        "data_overwrites": preview.overwrites(),
        "account": Some(preview.account.as_str()).filter(|a| !a.is_empty()),
        "assume_role": preview.assume_role,
    });
    let mut rec = record(
        region.scope(),
        who,
        action,
        &preview.difference.function,
        before,
        after,
        &result,
    );
    // How it was confirmed, from the same rule that asked.
    rec.destructive = preview.destructive();
    rec.typed = matches!(
        preview.confirmation(region.scope()),
        super::Confirmation::Typed(_)
    );
    rec
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_and_roles_are_checked() {
        assert!(check_function_name("orders-api_2").is_ok());
        assert!(check_function_name("orders:api").is_err());
        assert!(check_function_name(&"a".repeat(65)).is_err());
        assert!(check_role("arn:aws:iam::123456789012:role/lambda-dr").is_ok());
        assert!(check_role("lambda-dr").is_err());
    }

    #[test]
    fn a_begin_with_no_end_after_it_is_an_unfinished_restore() {
        use crate::provider::Scope;
        let scope = Scope::new("prod", "us-east-1", Default::default());
        let rec = |action: &str, target: &str, region: &str, result: &str| {
            let mut r = record(
                &Scope::new("prod", region, Default::default()),
                "arn:aws:iam::123456789012:user/oncall",
                action,
                target,
                json!({"existed": true, "safety_snapshot": "s3://b/lops/snapshots/x-safety.json"}),
                json!({}),
                &Ok(()),
            );
            r.result = result.into();
            r
        };
        let started = crate::ops::audit::STARTED;
        let killed = vec![rec("restore.begin", "orders", "us-east-1", started)];
        let note = run::unfinished(&killed, &scope, "orders").expect("unfinished");
        assert!(note.contains("never recorded its end"), "{note}");
        // Its process still running here (this test's own): said as maybe running.
        let mut running = killed.clone();
        running[0].after["process"] =
            json!({"host": crate::process::host_name(), "pid": std::process::id()});
        let note = run::unfinished(&running, &scope, "orders").expect("unfinished");
        assert!(
            note.contains("or is still running: look before going on"),
            "{note}"
        );
        assert!(
            note.contains("s3://b/lops/snapshots/x-safety.json"),
            "{note}"
        );
        // Ended since (a later restore of it), or another function or region: nothing to say.
        let mut ended = killed.clone();
        ended.push(rec("restore.begin", "orders", "us-east-1", started));
        ended.push(rec("restore", "orders", "us-east-1", "ok"));
        assert_eq!(run::unfinished(&ended, &scope, "orders"), None);
        assert_eq!(run::unfinished(&killed, &scope, "billing"), None);
        let elsewhere = vec![rec("restore.begin", "orders", "eu-west-1", started)];
        assert_eq!(run::unfinished(&elsewhere, &scope, "orders"), None);
    }
}
