//! Backups: snapshots of functions (code, configuration, versions, aliases, concurrency, tags,
//! triggers) and of S3 data, stored content-addressed in S3; verify, list, prune and restore.
//!
//! Layout under `s3://BUCKET/PREFIX`:
//! - `blobs/sha256/<hex>`: code packages, uploaded once whatever the number of snapshots;
//! - `snapshots/<region>/<function>/<UTC stamp>.json`: the manifest, written last;
//! - `data/<UTC stamp>/<source bucket>/<key>`: server-side copies of S3 data.
//!
//! The entry points that change anything are in the ops layer (`ops::backup`), which checks the tier,
//! previews, confirms and audits.

pub mod capture;
pub mod data;
pub mod lease;
pub mod manifest;
pub mod restore;
pub mod store;
pub mod uri;

use std::collections::{BTreeMap, BTreeSet};

pub use manifest::Manifest;
pub use store::Store;
pub use uri::S3Uri;

use crate::exit::{Exit, Failure};
use crate::provider::ProviderError;

#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum BackupError {
    /// Bad input: nothing was done.
    #[error("{0}")]
    Invalid(String),
    /// An object the snapshot needs is not there.
    #[error("missing: {0}")]
    Missing(String),
    /// An object is there but its bytes are not what the manifest says.
    #[error("corrupt: {0}")]
    Corrupt(String),
    /// A manifest a newer lops wrote: this one cannot read it (not broken: upgrade).
    #[error("{0}")]
    Newer(String),
    /// An object is there but in an archive storage class: it must be thawed before it is read.
    #[error("{0}")]
    Archived(String),
    #[error("{0}")]
    Refused(String),
    /// The target changed between the preview and the write: nothing was done.
    #[error("{0}")]
    Conflict(String),
    #[error("{0}")]
    Provider(ProviderError),
}

impl From<ProviderError> for BackupError {
    /// A provider's refusal of bad input is bad input here too.
    fn from(e: ProviderError) -> Self {
        match e {
            ProviderError::Invalid(m) => BackupError::Invalid(m),
            other => BackupError::Provider(other),
        }
    }
}

impl From<BackupError> for Failure {
    fn from(e: BackupError) -> Self {
        let exit = match &e {
            BackupError::Invalid(_) => Exit::Usage,
            // A target changed since its preview is a guard: nothing was sent.
            BackupError::Refused(_) | BackupError::Conflict(_) => Exit::Refused,
            BackupError::Provider(ProviderError::NotFound(_)) => Exit::Usage,
            _ => Exit::Failure,
        };
        Failure {
            exit,
            message: e.to_string(),
        }
    }
}

/// One complete snapshot, as `backup list` shows it.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Listed {
    pub snapshot: String,
    pub function: String,
    pub region: String,
    /// The account it was taken in (`None` when the manifest could not be read): two
    /// accounts' functions of one name share a key path.
    pub account: Option<String>,
    /// "backup", or "safety" for one a restore took of the target before changing it.
    pub kind: &'static str,
    /// `None` when the manifest could not be read.
    pub taken_at: Option<String>,
    pub size: Option<u64>,
    /// Set when the manifest could not be read.
    pub problem: Option<String>,
    /// A problem that takes a new backup (or an older snapshot) to get past: false for one
    /// written by a newer lops, or whose manifest could not be read now (archived, throttled,
    /// denied) — nothing known broken, only not readable here or now (upgrade lops, thaw it,
    /// try again) — and for one without a problem.
    pub broken: bool,
}

/// Every complete snapshot under the prefix (a manifest exists), newest first; `function`
/// filters. Each manifest is read for its time and size.
pub async fn list(store: &Store, function: Option<&str>) -> Result<Vec<Listed>, BackupError> {
    let objects = store.list("snapshots/").await?;
    let mut out = Vec::new();
    for o in objects {
        let Some((region, name, stamp)) = manifest::layout::parse_manifest(&o.rel) else {
            continue;
        };
        if function.is_some_and(|f| f != name) {
            continue;
        }
        let uri = store.uri(&o.rel).to_string();
        let mut account = None;
        let mut not_broken = false;
        let (taken_at, size, problem) = match store.get(&store.root.child(&o.rel)).await {
            Ok(bytes) => match Manifest::from_json(&bytes) {
                Ok(m) => {
                    account = Some(m.account.clone()).filter(|a| !a.is_empty());
                    // A time that is none is not passed on as one (scripts sort by it).
                    let time = chrono::DateTime::parse_from_rfc3339(&m.taken_at).is_ok();
                    // What restore and prune refuse it for is said here too (one list).
                    let problems = m.problems(&o.rel);
                    (
                        time.then(|| m.taken_at.clone()),
                        Some(m.total_size()),
                        (!problems.is_empty()).then(|| problems.join("; ")),
                    )
                }
                Err(e) => {
                    not_broken = matches!(e, manifest::Unreadable::Newer(_));
                    (None, None, Some(e.to_string()))
                }
            },
            // Not read (archived, throttled, denied, gone since it was listed): nothing is
            // known broken in it.
            Err(e) => {
                not_broken = true;
                (None, None, Some(e.to_string()))
            }
        };
        out.push(Listed {
            snapshot: uri,
            function: name,
            region,
            account,
            kind: if manifest::layout::is_safety(&stamp) {
                "safety"
            } else {
                "backup"
            },
            taken_at,
            size,
            broken: problem.is_some() && !not_broken,
            problem,
        });
    }
    out.sort_by(|a, b| b.snapshot.cmp(&a.snapshot));
    Ok(out)
}

/// Reads a manifest by its URI; the URI must be one under `snapshots/…/*.json`.
pub async fn load_manifest(store: &Store, uri: &S3Uri) -> Result<Manifest, BackupError> {
    let rel = relative(store, uri)?;
    manifest::layout::parse_manifest(&rel).ok_or_else(|| not_a_manifest(uri))?;
    let bytes = store.get(&uri.key).await.map_err(|e| match e {
        BackupError::Missing(_) => BackupError::Invalid(format!(
            "{uri} does not exist: list snapshots with `lops backup list --to s3://{}/{}`",
            uri.bucket, store.root.key
        )),
        other => other,
    })?;
    Manifest::from_json(&bytes).map_err(|e| {
        if let manifest::Unreadable::Newer(m) = e {
            return BackupError::Newer(format!("{uri}: {m}"));
        }
        let remedy = remedy_for(store, uri)
            .map(|r| format!(": {r}"))
            .unwrap_or_default();
        BackupError::Corrupt(format!("{uri}: {e}{remedy}"))
    })
}

fn not_a_manifest(uri: &S3Uri) -> BackupError {
    BackupError::Invalid(format!(
        "{uri} is not a snapshot manifest: give the URI `lops backup list` prints \
         (…/snapshots/REGION/FUNCTION/TIME.json)"
    ))
}

fn relative(store: &Store, uri: &S3Uri) -> Result<String, BackupError> {
    if store.root.key.is_empty() {
        return Ok(uri.key.clone());
    }
    uri.key
        .strip_prefix(&format!("{}/", store.root.key))
        .map(str::to_string)
        .ok_or_else(|| not_a_manifest(uri))
}

/// The backup root of a manifest URI: everything before `/snapshots/`.
pub fn root_of(uri: &S3Uri) -> Result<S3Uri, BackupError> {
    let key = &uri.key;
    let root = if key.starts_with("snapshots/") {
        String::new()
    } else {
        match key.rfind("/snapshots/") {
            Some(i) => key[..i].to_string(),
            None => return Err(not_a_manifest(uri)),
        }
    };
    let root = uri.with_key(root);
    let rel = if root.key.is_empty() {
        key.clone()
    } else {
        key[root.key.len() + 1..].to_string()
    };
    manifest::layout::parse_manifest(&rel).ok_or_else(|| not_a_manifest(uri))?;
    Ok(root)
}

/// What `verify` found.
#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Verified {
    pub snapshot: String,
    /// Blobs read and hashed, a corrupt one included (a missing one is not).
    pub blobs_checked: usize,
    pub bytes_checked: u64,
    pub data_objects_checked: usize,
    /// Each missing or corrupt object, named.
    pub problems: Vec<String>,
    /// Which of `problems` are of the S3 data copies (a restore without the data can go on).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub data_problems: Vec<String>,
    /// With problems: what to do instead of restoring this snapshot.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub remedy: Option<String>,
}

impl Verified {
    /// What verify found of the data copies: damaged (missing, corrupt), or only not read
    /// (denied).
    pub fn data_state(&self) -> &'static str {
        let unread = |p: &String| p.starts_with("not read: ");
        let archived = |p: &String| p.starts_with("archived: ");
        if self.data_problems.iter().all(archived) {
            "is archived"
        } else if self.data_problems.iter().all(|p| unread(p) || archived(p)) {
            "could not be read"
        } else {
            "is damaged"
        }
    }
}

/// What to do about a snapshot of `function` in `region` that cannot be restored: take a new
/// backup, or restore an older snapshot (`backup list` names them) when `others` may exist.
pub fn remedy(store: &Store, region: &str, function: &str, others: bool) -> String {
    let root = &store.root;
    let backup = format!(
        "take a new backup (`lops backup run --fn {function} --region {region} --to {root}`)"
    );
    match others {
        true => format!(
            "{backup}, or restore an older snapshot (`lops backup list --to {root} --region \
             {region} --fn {function}` lists them)"
        ),
        false => format!("{backup}: no other snapshot of it can be restored"),
    }
}

/// [`remedy`] for the snapshot whose manifest is `uri` (its key names region and function).
fn remedy_for(store: &Store, uri: &S3Uri) -> Option<String> {
    let rel = relative(store, uri).ok()?;
    let (region, function, _) = manifest::layout::parse_manifest(&rel)?;
    Some(remedy(store, &region, &function, true))
}

/// Re-reads and re-hashes every blob, and checks every data copy's size and ETag.
pub async fn verify(store: &Store, uri: &S3Uri) -> Result<(Manifest, Verified), BackupError> {
    let manifest = load_manifest(store, uri).await?;
    let mut report = Verified {
        snapshot: uri.to_string(),
        problems: manifest.problems(&uri.key),
        ..Default::default()
    };
    for b in &manifest.blobs {
        match store.get_blob(&b.sha256, b.size).await {
            Ok(_) => {
                report.blobs_checked += 1;
                report.bytes_checked += b.size;
            }
            Err(e @ BackupError::Missing(_)) => report.problems.push(e.to_string()),
            Err(BackupError::Archived(m)) => report.problems.push(format!("archived: {m}")),
            // Read and hashed: checked, and a problem.
            Err(BackupError::Corrupt(m)) => {
                report.blobs_checked += 1;
                report.bytes_checked += b.size;
                report.problems.push(format!("corrupt: {m}"));
            }
            // One the profile may not read is a problem named with it (as a data copy's is),
            // not the end of the check with a bare "HTTP 403".
            Err(e @ BackupError::Provider(ProviderError::AccessDenied(_))) => {
                report.problems.push(format!("not read: {e}"))
            }
            Err(e) => return Err(e),
        }
    }
    for copy in &manifest.data {
        let root = copy.copy_in(&store.root).map_err(BackupError::Corrupt)?;
        for o in &copy.objects {
            let key = root.exact_child(&o.key);
            // A data copy this role may not read is a problem of the data copy, named, not the
            // end of the check: a restore without the data can go on. Anything else (expired
            // credentials, a timeout, throttling) would only repeat per object: it ends it.
            let found = match data::head(store, &root.bucket, &key).await {
                Ok(found) => found,
                Err(e @ BackupError::Provider(ProviderError::AccessDenied(_))) => {
                    report
                        .data_problems
                        .push(format!("not read: s3://{}/{key} ({e})", root.bucket));
                    continue;
                }
                Err(BackupError::Provider(e)) => {
                    let at = format!(
                        "verify stopped reading the data copy at s3://{}/{key}",
                        root.bucket
                    );
                    return Err(BackupError::Provider(match e {
                        // New credentials are what helps: said as such, kind kept.
                        ProviderError::Credentials(m) => {
                            ProviderError::Credentials(format!("{at}: {m}"))
                        }
                        e => ProviderError::Service(format!(
                            "{at}: {e} — nothing is known broken; verify again once S3 answers"
                        )),
                    }));
                }
                Err(e) => return Err(e),
            };
            match found.map(|h| (h.size, h.etag, h.archived)) {
                None => report
                    .data_problems
                    .push(format!("missing: s3://{}/{key}", root.bucket)),
                // There, but a restore could not copy it back until it is thawed.
                // Not read (as an archived blob is not): not counted as checked.
                Some((_, _, true)) => {
                    report.data_problems.push(format!(
                        "archived: s3://{}/{key} is in an archive storage class: restore it \
                         first (aws s3api restore-object), wait until it is available, then retry",
                        root.bucket
                    ));
                }
                Some((size, etag, _)) if size != o.size || etag != o.copy_etag => {
                    report.data_objects_checked += 1;
                    report.data_problems.push(format!(
                        "corrupt: s3://{}/{key} (expected {} bytes ETag {}, found {size} bytes ETag {etag})",
                        root.bucket, o.size, o.copy_etag
                    ))
                }
                Some(_) => report.data_objects_checked += 1,
            }
        }
    }
    report.problems.extend(report.data_problems.iter().cloned());
    report.remedy = remedy_of(store, uri, &report.problems, &report.data_problems);
    Ok((manifest, report))
}

/// What to do about `problems` of the snapshot `uri` (all verify found, or those a restore is
/// blocked by). Only reads that were denied, or objects archived: nothing is known broken, so
/// nothing to take again — thaw them, try again (with the access to read them), or restore
/// without the data. Anything broken: a new backup, or an older snapshot.
pub fn remedy_of(
    store: &Store,
    uri: &S3Uri,
    problems: &[String],
    data_problems: &[String],
) -> Option<String> {
    let unread = |p: &String| p.starts_with("not read: ");
    let archived = |p: &String| p.starts_with("archived: ");
    if problems.is_empty() {
        None
    } else if problems.iter().all(|p| unread(p) || archived(p)) && problems.iter().any(archived) {
        let mut text = "nothing is known broken: restore the archived objects from the archive \
                        (`aws s3api restore-object`, hours for GLACIER and DEEP_ARCHIVE), then \
                        verify again"
            .to_string();
        if problems.iter().any(unread) {
            text.push_str(" (with read access to what could not be read)");
        }
        // Only the data copy: the function can be restored without it now.
        if problems.iter().all(|p| data_problems.contains(p)) {
            text.push_str("; or restore the function alone now with `--no-data`");
        }
        Some(text)
    } else if problems.iter().all(unread) {
        Some(
            "some of its S3 data copy could not be read: verify again (with read access to \
             it), or restore the function alone with `--no-data`"
                .into(),
        )
    } else {
        remedy_for(store, uri)
    }
}

/// How many safety snapshots (taken by restores) prune keeps per function by default.
pub const KEEP_SAFETY: usize = 2;

/// Which manifests a retention policy keeps: per (region, function), the newest `keep_last`
/// backups, plus the newest of each of the last `keep_daily` days that have one; safety
/// snapshots apart, the newest `keep_safety` of them (they never count as backups, so a
/// restore that failed cannot push the last real backup out).
pub fn select_to_prune(
    manifests: &[(String, String, String, String)],
    keep_last: usize,
    keep_daily: usize,
    keep_safety: usize,
) -> Vec<String> {
    // (stamp, rel) grouped per (region, function, safety).
    type Group<'a> = Vec<(&'a str, &'a str)>;
    let mut groups: BTreeMap<(&str, &str, bool), Group> = BTreeMap::new();
    for (rel, region, function, stamp) in manifests {
        groups
            .entry((region, function, manifest::layout::is_safety(stamp)))
            .or_default()
            .push((stamp, rel));
    }
    let mut prune = Vec::new();
    for ((_, _, safety), mut list) in groups {
        list.sort_by(|a, b| b.0.cmp(a.0));
        if safety {
            prune.extend(list.iter().skip(keep_safety).map(|(_, r)| r.to_string()));
            continue;
        }
        let mut keep: BTreeSet<&str> = list.iter().take(keep_last).map(|(_, r)| *r).collect();
        let mut days = BTreeSet::new();
        for (stamp, rel) in &list {
            if days.len() >= keep_daily {
                break;
            }
            let day = stamp.get(..8).unwrap_or(stamp);
            if days.insert(day) {
                keep.insert(rel);
            }
        }
        prune.extend(
            list.iter()
                .filter(|(_, r)| !keep.contains(r))
                .map(|(_, r)| r.to_string()),
        );
    }
    prune.sort();
    prune
}

#[cfg(test)]
mod tests {
    use super::*;

    fn m(function: &str, stamp: &str) -> (String, String, String, String) {
        (
            manifest::layout::manifest("eu-west-1", function, stamp),
            "eu-west-1".into(),
            function.into(),
            stamp.into(),
        )
    }

    #[test]
    fn safety_snapshots_have_their_own_retention_and_never_push_out_a_backup() {
        let all = vec![
            m("a", "20261120T010000.000Z"),
            m("a", "20261121T010000.000Z-safety"),
            m("a", "20261122T010000.000Z-safety"),
            m("a", "20261123T010000.000Z-safety"),
        ];
        // keep-last 1 keeps the only real backup, although three safety snapshots are newer.
        let prune = select_to_prune(&all, 1, 0, 2);
        assert_eq!(prune, [all[1].0.clone()]);
        assert!(select_to_prune(&all, 1, 0, 3).is_empty());
    }

    #[test]
    fn retention_keeps_newest_and_one_per_day() {
        let all = vec![
            m("a", "20261120T010000.000Z"),
            m("a", "20261121T010000.000Z"),
            m("a", "20261121T020000.000Z"),
            m("a", "20261122T010000.000Z"),
            m("a", "20261123T010000.000Z"),
            m("b", "20261101T000000.000Z"),
        ];
        let prune = select_to_prune(&all, 2, 0, KEEP_SAFETY);
        assert_eq!(prune.len(), 3, "{prune:?}");
        assert!(prune.iter().all(|p| p.contains("/a/")));
        assert!(
            !prune
                .iter()
                .any(|p| p.contains("20261123") || p.contains("20261122"))
        );
        // Daily: the newest of 23, 22, 21 (02:00) kept; 21 01:00 and 20 go.
        let prune = select_to_prune(&all, 1, 3, KEEP_SAFETY);
        assert_eq!(prune, vec![all[0].0.clone(), all[1].0.clone(),]);
        assert!(select_to_prune(&all, 10, 0, KEEP_SAFETY).is_empty());
    }

    #[test]
    fn root_of_a_manifest_uri() {
        let u =
            S3Uri::parse("s3://bkp/lops/prod/snapshots/eu-west-1/orders/20261125T100000.000Z.json")
                .unwrap();
        assert_eq!(root_of(&u).unwrap().to_string(), "s3://bkp/lops/prod");
        let u = S3Uri::parse("s3://bkp/snapshots/eu-west-1/orders/x.json").unwrap();
        assert_eq!(root_of(&u).unwrap().to_string(), "s3://bkp");
        for bad in [
            "s3://bkp/lops/blobs/sha256/aa",
            "s3://bkp/lops/snapshots/eu-west-1/x.json",
            "s3://bkp/lops",
        ] {
            assert!(root_of(&S3Uri::parse(bad).unwrap()).is_err(), "{bad}");
        }
    }
}
