//! S3 data in a restore: where each prefix goes, what is there already, what a copy writes over
//! (S3 keeps nothing of it: no undo), the comparison again before the restore begins, and the
//! copy back.

use super::RestoreRequest;
use crate::backup::data::{Destination, destination};
use crate::backup::manifest::Manifest;
use crate::backup::{BackupError, S3Uri, Store};
use crate::ops::backup::Progress;

/// One data prefix of the snapshot, and where it goes back to.
#[derive(Debug, Clone)]
pub struct DataRestore {
    /// The copy in the backup store.
    pub from: S3Uri,
    pub to: S3Uri,
    /// Objects to copy (those not already there as the snapshot holds them), and their bytes.
    pub objects: usize,
    pub bytes: u64,
    /// What `to` held in the preview.
    pub destination: Destination,
    /// The destination bucket's client, made for its region: the copy is sent there and its
    /// objects read there (S3 answers a request for another region's bucket with a redirect).
    pub target: std::sync::Arc<dyn crate::provider::blob::Bucket>,
}

impl DataRestore {
    /// Objects the copy writes over: there, with other content than the snapshot's.
    pub fn overwrites(&self) -> usize {
        self.destination.differ.len()
    }
}

/// How many objects a copy back wrote, and how many of them replaced other content.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct DataCopied {
    pub objects: usize,
    pub overwritten: usize,
}

/// Where the snapshot's data goes back to, and what is there now. Refuses writing it over the
/// live bucket it came from when the restore goes elsewhere.
pub(super) async fn plan(
    region: &(impl crate::provider::blob::Buckets + ?Sized),
    store: &Store,
    manifest: &Manifest,
    request: &RestoreRequest,
    elsewhere: Option<String>,
) -> Result<Vec<DataRestore>, BackupError> {
    let mut out = Vec::new();
    // Asked for data the snapshot does not hold: said, not ignored (whoever typed it expects
    // objects there after the restore).
    if let (Some(to), true) = (&request.data_to, manifest.data.is_empty()) {
        return Err(BackupError::Invalid(format!(
            "this snapshot holds no S3 data (it was taken without --data), so --data-to {to} \
             has nothing to copy: run the restore again without --data-to"
        )));
    }
    if request.skip_data || manifest.data.is_empty() {
        return Ok(out);
    }
    // A restore elsewhere (another region, name or account: a drill, a recovery) must not
    // write the snapshot's data back over the live bucket it came from by default.
    if let Some(place) = elsewhere.filter(|_| request.data_to.is_none()) {
        return Err(BackupError::Invalid(format!(
            "this restore goes to {place}, and by default its S3 data would be copied back over \
             {}: give --data-to s3://BUCKET/PREFIX for a copy of it, or --no-data",
            manifest
                .data
                .iter()
                .map(|d| d.source.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        )));
    }
    if request.data_to.is_some() && manifest.data.len() > 1 {
        return Err(BackupError::Invalid(format!(
            "the snapshot holds {} data prefixes: --data-to takes one; restore without it \
             (to where they came from) or pass --no-data",
            manifest.data.len()
        )));
    }
    for copy in &manifest.data {
        let from = copy.copy_in(&store.root).map_err(BackupError::Corrupt)?;
        let to = match &request.data_to {
            Some(t) => t.clone(),
            None => S3Uri::parse(&copy.source).map_err(BackupError::Corrupt)?,
        };
        // Copied into the backup store, the data would sit among its snapshots and blobs:
        // its listing and its retention would read them as broken snapshots.
        if to.overlaps(&store.root) {
            return Err(BackupError::Invalid(format!(
                "the data would be copied to {to}, which overlaps the backup store {}: give \
                 --data-to a prefix apart from it, or --no-data",
                store.root
            )));
        }
        // A bucket that is not there would be found only after the function's steps ran.
        // (A role that may write objects there but not list the bucket gets a 403: the copy
        // needs no more than it did, so that is taken as there.)
        let target = match region.bucket_to_write(&to.bucket).await {
            Ok(target) => target,
            // May write objects there but not list the bucket, and S3 did not name its region:
            // the store's client is asked (as before this read).
            Err(crate::provider::blob::BlobError::Provider(
                crate::provider::ProviderError::AccessDenied(_),
            )) => store.bucket_arc(),
            Err(e) => {
                return Err(match e {
                    crate::provider::blob::BlobError::NoBucket(_) => BackupError::Invalid(format!(
                        "the data would be copied to {to}, but bucket '{}' does not exist (or this \
                     profile cannot see it): nothing was restored; make it first (`aws s3 mb \
                     s3://{}`), give --data-to another place, or pass --no-data",
                        to.bucket, to.bucket
                    )),
                    other => other.into(),
                });
            }
        };
        let destination = destination(target.as_ref(), &to, &copy.objects).await?;
        let missing = copy
            .objects
            .iter()
            .filter(|o| !destination.same.contains(&o.key));
        out.push(DataRestore {
            from,
            to,
            objects: missing.clone().count(),
            bytes: missing.map(|o| o.size).sum(),
            destination,
            target,
        });
    }
    Ok(out)
}

/// The preview's lines for the data: what is copied, what it writes over, what is already
/// there.
pub(super) fn lines(data: &[DataRestore]) -> Vec<String> {
    let mut out = Vec::new();
    for d in data {
        let to = &d.to;
        if d.objects > 0 {
            out.push(format!(
                "  + copy {} ({}) from {} to {to}",
                crate::format::items(d.objects as u64, "object", "objects"),
                crate::format::items(d.bytes, "byte", "bytes"),
                d.from
            ));
        }
        if d.overwrites() > 0 {
            let keys: Vec<&str> = d.destination.differ.keys().map(String::as_str).collect();
            let shown = keys.iter().take(5).copied().collect::<Vec<_>>().join(", ");
            out.push(format!(
                "  ! overwrites {} existing object(s) at {to} that differ from the snapshot \
                 ({shown}{}): this cannot be undone — S3 keeps no copy of what it replaces \
                 unless the bucket has versioning enabled",
                d.overwrites(),
                if keys.len() > 5 { ", …" } else { "" }
            ));
        }
        if !d.destination.same.is_empty() {
            out.push(format!(
                "  = {} object(s) already at {to} as in the snapshot: not copied again",
                d.destination.same.len()
            ));
        }
    }
    out
}

/// Reads the destinations again: what changed there since the preview (its overwrites and
/// skips would no longer be what was confirmed), or `None`.
pub(super) async fn changed_since_preview(
    manifest: &Manifest,
    data: &[DataRestore],
) -> Result<Option<String>, BackupError> {
    for (d, copy) in data.iter().zip(&manifest.data) {
        if let Some(changed) = changed_one(d, copy).await? {
            return Ok(Some(changed));
        }
    }
    Ok(None)
}

/// One prefix's destination read again: what changed there since the preview, or `None`.
async fn changed_one(
    d: &DataRestore,
    copy: &crate::backup::manifest::DataCopy,
) -> Result<Option<String>, BackupError> {
    let now = destination(d.target.as_ref(), &d.to, &copy.objects).await?;
    if now == d.destination {
        return Ok(None);
    }
    let changed: Vec<&str> = copy
        .objects
        .iter()
        .map(|o| o.key.as_str())
        .filter(|k| {
            now.same.contains(*k) != d.destination.same.contains(*k)
                || now.differ.get(*k) != d.destination.differ.get(*k)
        })
        .take(5)
        .collect();
    Ok(Some(format!("{} ({})", d.to, changed.join(", "))))
}

/// Copies the objects not already there back, server-side, each only as the version the
/// snapshot holds. Stops at the first failure, saying how far it got.
pub(super) async fn copy_back(
    manifest: &Manifest,
    data: &[DataRestore],
    progress: &(dyn Fn(Progress) + Sync),
    stopped: &(dyn Fn() -> bool + Sync),
) -> (DataCopied, Result<(), BackupError>) {
    let mut done = DataCopied::default();
    let total: usize = (data.iter().zip(&manifest.data))
        .map(|(d, copy)| {
            let same =
                |o: &&crate::backup::manifest::DataObject| d.destination.same.contains(&o.key);
            copy.objects.iter().filter(|o| !same(o)).count()
        })
        .sum();
    for (d, copy) in data.iter().zip(&manifest.data) {
        // Read again right before the copy (the function's restore may have taken minutes):
        // an object written there since would be replaced unannounced.
        match changed_one(d, copy).await {
            Ok(None) => {}
            Ok(Some(changed)) => {
                // Not a conflict (nothing sent, exit 4): the function was restored.
                let e = BackupError::Provider(crate::provider::ProviderError::Service(format!(
                    "the function was restored, but the data at {changed} changed since the \
                     preview: {} objects were copied back before it, none after; look at what \
                     is there, then run the restore again to see what it would write over",
                    done.objects
                )));
                return (done, Err(e));
            }
            Err(e) => return (done, Err(e)),
        }
        let objects = copy
            .objects
            .iter()
            .filter(|o| !d.destination.same.contains(&o.key));
        for o in objects {
            // Ctrl-C: the copy under way ended whole; the function stays restored (its data
            // is not undone), the rest is copied by running again.
            if stopped() {
                let e = BackupError::Provider(crate::provider::ProviderError::Service(format!(
                    "stopped by Ctrl-C while copying data back: the function was restored and \
                     {} of {total} objects copied back; run the restore again to copy the rest",
                    done.objects
                )));
                return (done, Err(e));
            }
            progress(Progress::DataObject {
                key: o.key.clone(),
                size: o.size,
            });
            // Sent to the destination bucket's region (S3 copies into the bucket it is asked
            // of, reading the source from wherever it is).
            let r = d
                .target
                .copy(
                    (&d.from.bucket, &d.from.exact_child(&o.key)),
                    (&d.to.bucket, &d.to.exact_child(&o.key)),
                    o.size,
                    None,
                    Some(&o.copy_etag),
                )
                .await;
            if let Err(e) = r {
                let e = BackupError::Provider(crate::provider::ProviderError::Service(format!(
                    "the function was restored, but copying data back stopped after {} objects \
                     ({e}); rerun to finish",
                    done.objects
                )));
                return (done, Err(e));
            }
            done.objects += 1;
            if d.destination.differ.contains_key(&o.key) {
                done.overwritten += 1;
            }
        }
    }
    (done, Ok(()))
}
