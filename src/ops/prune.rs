//! `backup prune` through the ops layer: a preview of what the retention policy deletes, then a
//! deletion that never takes a blob a backup may still need (see [`crate::backup::lease`]).

use std::collections::{BTreeMap, BTreeSet};

use serde_json::json;

use super::Kind;
use super::audit::AuditLog;
use super::backup::BackupRegion;
use super::backup::{allowed, audit_ready, begin, caller, record};
use crate::backup::lease::PruneLock;
use crate::backup::manifest::{Manifest, layout};
use crate::backup::{BackupError, S3Uri, Store, select_to_prune};

/// What a prune deletes, as previewed.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct PruneSelection {
    pub to: String,
    pub manifests: Vec<String>,
    pub blobs: Vec<String>,
    pub data_objects: Vec<String>,
    pub bytes: u64,
    pub kept: usize,
    pub notes: Vec<String>,
    /// Every manifest the preview saw: one written since is read again before deleting.
    #[serde(skip)]
    pub seen: BTreeSet<String>,
}

impl PruneSelection {
    /// Deleting snapshots outside the retention asks like any change (typed on production).
    pub fn confirmation(&self, scope: &crate::provider::Scope) -> super::Confirmation {
        super::confirmation(&self.to, scope, false, false)
    }
}

/// How long snapshots are kept.
#[derive(Debug, Clone, Copy, PartialEq)]
pub struct Retention {
    /// The newest N backups of each function.
    pub keep_last: usize,
    /// The newest backup of each of the last D days that have one.
    pub keep_daily: usize,
    /// The newest N safety snapshots (taken by restores) of each function.
    pub keep_safety: usize,
}

/// Blobs and data copies the manifests at `rels` reference; `None` when one cannot be read.
/// What a snapshot uses: its blobs, the roots of its data copies, the account it was taken in,
/// and every object it needs with its size (blobs by sha, data copies by address) — to tell
/// one whose pieces are gone from the store.
type Uses = (BTreeSet<String>, Vec<String>, String, Vec<(String, u64)>);

async fn referenced(
    store: &Store,
    rels: impl Iterator<Item = &String>,
) -> Result<Option<Uses>, BackupError> {
    let mut blobs = BTreeSet::new();
    let mut data = Vec::new();
    let mut needs = Vec::new();
    // The account the (last) manifest was taken in.
    let mut account = String::new();
    for rel in rels {
        match store
            .get(&store.root.child(rel))
            .await
            .map(|b| Manifest::from_json(&b))
        {
            // One verify rejects (impossible values, under another function's key) cannot be
            // restored either: it counts as unreadable, never in the place of a good one.
            Ok(Ok(m)) if !m.problems(rel).is_empty() => return Ok(None),
            Ok(Ok(m)) => {
                account.clone_from(&m.account);
                blobs.extend(m.blobs.iter().map(|b| b.sha256.clone()));
                needs.extend(m.blobs.iter().map(|b| (b.sha256.clone(), b.size)));
                // Where the copy is in this store (a replica holds it under its own root, as
                // verify and restore read it), never the address first written.
                for d in &m.data {
                    let root = d
                        .copy_in(&store.root)
                        .map_or_else(|_| d.copy.clone(), |u| u.to_string());
                    needs.extend(
                        d.objects
                            .iter()
                            .map(|o| (format!("{root}/{}", o.key), o.size)),
                    );
                    data.push(root);
                }
            }
            _ => return Ok(None),
        }
    }
    Ok(Some((blobs, data, account, needs)))
}

fn manifests(listed: &[crate::backup::store::Listed]) -> Vec<(String, String, String, String)> {
    listed
        .iter()
        .filter_map(|o| layout::parse_manifest(&o.rel).map(|(r, f, s)| (o.rel.clone(), r, f, s)))
        .collect()
}

/// Works out what `prune` would delete: manifests outside the retention, then blobs and data
/// copies no kept manifest references. Only objects written before `unreferenced_before` go:
/// a younger blob may belong to a backup still running (its manifest not yet written).
pub async fn prepare_prune(
    region: &impl BackupRegion,
    to: &S3Uri,
    retention: Retention,
    unreferenced_before: chrono::DateTime<chrono::Utc>,
) -> Result<(Store, PruneSelection), BackupError> {
    allowed(region.scope(), Kind::Prune)?;
    if retention.keep_last == 0 {
        return Err(BackupError::Invalid(
            "--keep-last 0 would delete every snapshot: keep at least 1".into(),
        ));
    }
    let store = Store::open(region, to.clone()).await?;
    let all = manifests(&store.list("snapshots/").await?);
    // Every manifest is read first: the retention counts the snapshots that can be read (one
    // that cannot — torn, edited, not a manifest — never takes the place of a good one), and
    // one that cannot is never deleted, wherever it falls, but left for a person to look at.
    let mut unreadable: BTreeSet<String> = BTreeSet::new();
    let mut blobs: BTreeSet<String> = BTreeSet::new();
    let mut data_roots: Vec<String> = Vec::new();
    let mut uses: BTreeMap<String, (BTreeSet<String>, Vec<String>)> = BTreeMap::new();
    let mut accounts: BTreeMap<String, String> = BTreeMap::new();
    // What the store holds (listed once, as the deletion below needs it): a snapshot whose
    // blob or data copy is gone or cut short cannot be restored, so it counts as unreadable —
    // never kept in the place of a whole one that would go.
    let stored_blobs = store.list("blobs/sha256/").await?;
    let stored_data = store.list("data/").await?;
    let held: BTreeMap<String, u64> = stored_blobs
        .iter()
        .map(|o| {
            (
                o.rel.rsplit('/').next().unwrap_or_default().to_string(),
                o.size,
            )
        })
        .chain(
            stored_data
                .iter()
                .map(|o| (store.uri(&o.rel).to_string(), o.size)),
        )
        .collect();
    let data_root = store.uri("data/").to_string();
    let mut broken: BTreeMap<String, usize> = BTreeMap::new();
    for (rel, ..) in &all {
        match referenced(&store, std::iter::once(rel)).await? {
            Some((blobs, data, account, needs)) => {
                // Only what lives in this store is checked here (a copy elsewhere is verify's).
                let gone = needs
                    .iter()
                    .filter(|(key, _)| !key.contains("://") || key.starts_with(&data_root))
                    .filter(|(key, size)| held.get(key) != Some(size))
                    .count();
                if gone > 0 {
                    broken.insert(rel.clone(), gone);
                    unreadable.insert(rel.clone());
                    continue;
                }
                uses.insert(rel.clone(), (blobs, data));
                accounts.insert(rel.clone(), account);
            }
            None => {
                unreadable.insert(rel.clone());
            }
        }
    }
    // Kept per account too: two accounts' functions of one name back up under one key path,
    // and one's newest must never count as the other's.
    let account_of = |rel: &String| accounts.get(rel).cloned().unwrap_or_default();
    let readable: Vec<_> = all
        .iter()
        .filter(|(rel, ..)| !unreadable.contains(rel))
        .map(|(rel, region, function, stamp)| {
            let function = format!("{function}\u{0}{}", account_of(rel));
            (rel.clone(), region.clone(), function, stamp.clone())
        })
        .collect();
    let prune: BTreeSet<String> = select_to_prune(
        &readable,
        retention.keep_last,
        retention.keep_daily,
        retention.keep_safety,
    )
    .into_iter()
    .collect();
    for (rel, (b, d)) in &uses {
        if !prune.contains(rel) {
            blobs.extend(b.iter().cloned());
            data_roots.extend(d.iter().cloned());
        }
    }
    let mut plan = PruneSelection {
        to: to.to_string(),
        manifests: prune.iter().cloned().collect(),
        kept: all.len() - prune.len(),
        seen: all.iter().map(|(rel, ..)| rel.clone()).collect(),
        ..Default::default()
    };
    plan.notes
        .push("deleted snapshots, blobs and data are gone for good: prune cannot be undone".into());
    // A function's last snapshot with a copy of its S3 data going while snapshots without one
    // stay (a backup from the dashboard, or without --data, copies none): said, not found out
    // at restore time.
    let with_data = |rel: &String| uses.get(rel).is_some_and(|(_, d)| !d.is_empty());
    for (rel, region, function, _) in all.iter().filter(|(rel, ..)| prune.contains(rel)) {
        let same = |(r, g, f, _): &&(String, String, String, String)| {
            g == region && f == function && r != rel && account_of(r) == account_of(rel)
        };
        let kept_data = all
            .iter()
            .filter(same)
            .any(|(r, ..)| !prune.contains(r) && with_data(r));
        let newer_pruned = all
            .iter()
            .filter(same)
            .any(|(r, ..)| prune.contains(r) && with_data(r) && r > rel);
        if with_data(rel) && !kept_data && !newer_pruned {
            plan.notes.push(format!(
                "the last snapshot of {function} in {region} with a copy of its S3 data goes ({}): \
                 the snapshots kept have none (a backup from the dashboard or without --data \
                 copies none); keep more (--keep-last) or back it up with --data first",
                store.uri(rel)
            ));
        }
    }
    for (rel, gone) in &broken {
        plan.notes.push(format!(
            "{} is missing {gone} of its pieces (a blob or a data object gone or cut short): it \
             is kept and not counted, so the retention keeps whole snapshots in its place \
             (`lops backup verify` names them)",
            store.uri(rel)
        ));
    }
    for rel in unreadable.iter().filter(|rel| !broken.contains_key(*rel)) {
        plan.notes.push(format!(
            "{} cannot be read or is invalid: it is kept and not counted, so the retention \
             keeps good snapshots in its place (`lops backup verify` says why: one archived is \
             whole — thaw it; one a newer lops wrote is whole — prune with that lops; only a \
             broken one can be deleted once looked at)",
            store.uri(rel)
        ));
    }
    let running = crate::backup::lease::running(&store).await?;
    if running > 0 {
        plan.notes.push(format!(
            "{running} backup(s), restore(s) or drill(s) hold a lease on this store (running, or killed within {} hours): \
             blobs and data are not deleted while they do; snapshots are",
            crate::backup::lease::STALE.num_hours()
        ));
        return Ok((store, plan));
    }
    if !unreadable.is_empty() {
        plan.notes.push(
            "no blobs or data are deleted while a snapshot cannot be read or misses pieces \
             (what it uses is left as it is until a person has looked)"
                .into(),
        );
        return Ok((store, plan));
    }
    let old =
        |o: &crate::backup::store::Listed| o.last_modified.is_none_or(|t| t <= unreferenced_before);
    for o in stored_blobs {
        let sha = o.rel.rsplit('/').next().unwrap_or_default();
        if !blobs.contains(sha) && old(&o) {
            plan.bytes += o.size;
            plan.blobs.push(o.rel.clone());
        }
    }
    for o in stored_data {
        if !in_copies(&store, &o.rel, &data_roots) && old(&o) {
            plan.bytes += o.size;
            plan.data_objects.push(o.rel.clone());
        }
    }
    Ok((store, plan))
}

fn in_copies(store: &Store, rel: &str, roots: &[String]) -> bool {
    let uri = store.uri(rel).to_string();
    roots
        .iter()
        .any(|root| uri.starts_with(&format!("{root}/")))
}

/// What a prune deleted, which can be less than its preview (a backup running, a manifest
/// written since).
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Pruned {
    pub manifests: usize,
    pub blobs: usize,
    pub data_objects: usize,
    pub notes: Vec<String>,
}

/// Deletes what the plan lists: manifests first (so no listed snapshot ever lacks a blob), then,
/// holding the prune lock, the blobs and data no backup may still need.
pub async fn execute_prune(
    region: &impl BackupRegion,
    store: &Store,
    plan: &PruneSelection,
    audit: Option<&AuditLog>,
) -> Result<Pruned, BackupError> {
    allowed(region.scope(), Kind::Prune)?;
    audit_ready(audit)?;
    // No audit, no change: the prune is recorded as started (with what it is to delete) before
    // anything is deleted, and its result under the same id after.
    let (who, _) = caller(region).await;
    let mut rec = record(
        region.scope(),
        &who,
        "backup.prune",
        &plan.to,
        json!({"manifests": plan.manifests.len() + plan.kept}),
        json!({"deleting_manifests": plan.manifests, "deleting_blobs": plan.blobs.len(), "deleting_data_objects": plan.data_objects.len()}),
        &Err(super::audit::STARTED.to_string()),
    );
    begin(audit, &rec)?;
    let mut done = Pruned::default();
    let result = async {
        store.delete(&plan.manifests).await?;
        done.manifests = plan.manifests.len();
        if plan.blobs.is_empty() && plan.data_objects.is_empty() {
            return Ok(());
        }
        let (lock, leases) = PruneLock::take(store).await?;
        let deleted = delete_unneeded(store, plan, leases, &mut done).await;
        lock.release(store).await;
        deleted
    }
    .await;
    // The manifests' delete that got no clear answer may have deleted some or all of them:
    // recorded as such, never as deleted.
    let (deleted, maybe): (&[String], &[String]) = match done.manifests == plan.manifests.len() {
        true => (&plan.manifests, &[]),
        false => (&[], &plan.manifests),
    };
    rec.after = json!({"deleted_manifests": deleted, "manifests_maybe_deleted": maybe, "deleted_blobs": done.blobs, "deleted_data_objects": done.data_objects, "notes": done.notes});
    rec.result = match &result {
        Ok(()) => "ok".into(),
        Err(e) => e.to_string(),
    };
    // Stopped part-way: what went, and that the same prune again finishes it.
    let result = result.map_err(|e| {
        if !matches!(e, BackupError::Provider(_)) {
            return e;
        }
        let manifests = match done.manifests == plan.manifests.len() {
            true => format!("{} snapshot(s) deleted", done.manifests),
            false => format!(
                "{} snapshot(s) may or may not be deleted",
                plan.manifests.len()
            ),
        };
        BackupError::Provider(crate::provider::ProviderError::Service(format!(
            "prune of {} stopped: {e}. So far {manifests}, {} blob(s) and {} data object(s); \
             the same prune again finishes it (what is left is found again)",
            plan.to, done.blobs, done.data_objects
        )))
    });
    // Done, and its result not written: said, and not a clean exit (the start is recorded).
    if let Some(log) = audit
        && let Err(e) = log.append(&rec)
        && result.is_ok()
    {
        return Err(BackupError::Provider(
            crate::provider::ProviderError::Service(format!(
                "pruned, but the result could not be written to the audit log {} ({e}): it records \
             the prune as started, with what it was to delete",
                log.path().display()
            )),
        ));
    }
    result.map(|()| done)
}

/// Under the prune lock: with backups holding leases nothing goes; otherwise the manifests
/// written since the preview are read and what they reference is kept.
async fn delete_unneeded(
    store: &Store,
    plan: &PruneSelection,
    leases: usize,
    done: &mut Pruned,
) -> Result<(), BackupError> {
    if leases > 0 {
        done.notes.push(format!(
            "{leases} backup(s) are running in this store: no blob or data was deleted this \
             time (they may reuse them); prune again later"
        ));
        return Ok(());
    }
    let now = manifests(&store.list("snapshots/").await?);
    let new: Vec<String> = now
        .into_iter()
        .map(|(rel, ..)| rel)
        .filter(|rel| !plan.seen.contains(rel))
        .collect();
    let Some((blobs, data_roots, _, _)) = referenced(store, new.iter()).await? else {
        done.notes.push(
            "a manifest written since the preview could not be read: no blob or data was \
             deleted"
                .into(),
        );
        return Ok(());
    };
    let keep = |rel: &String| {
        let sha = rel.rsplit('/').next().unwrap_or_default();
        !blobs.contains(sha)
    };
    let gone: Vec<String> = plan.blobs.iter().filter(|r| keep(r)).cloned().collect();
    if gone.len() < plan.blobs.len() {
        done.notes.push(format!(
            "{} blob(s) are kept: a backup written since the preview uses them",
            plan.blobs.len() - gone.len()
        ));
    }
    store.delete(&gone).await?;
    done.blobs = gone.len();
    let data: Vec<String> = plan
        .data_objects
        .iter()
        .filter(|r| !in_copies(store, r, &data_roots))
        .cloned()
        .collect();
    store.delete(&data).await?;
    done.data_objects = data.len();
    Ok(())
}
