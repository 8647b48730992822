//! S3 data: prefixes copied server-side by the provider, so the bytes never flow through the
//! machine lops runs on.

use super::BackupError;
use super::manifest::{DataCopy, DataObject};
use super::store::Store;
use super::uri::S3Uri;
use crate::provider::ProviderError;

/// Copies of an object that keeps changing under the backup, before it is given up.
const COPY_ATTEMPTS: usize = 3;

/// Size and ETag of an object seen from the store's bucket region, or `None` if it is not
/// there.
pub async fn head(
    store: &Store,
    bucket: &str,
    key: &str,
) -> Result<Option<crate::provider::blob::Head>, BackupError> {
    Ok(store.bucket().head(bucket, key).await?)
}

/// Size and ETag of an object through `client` (a bucket's client, made for its region), or
/// `None` if it is not there.
pub async fn head_in(
    client: &dyn crate::provider::blob::Bucket,
    bucket: &str,
    key: &str,
) -> Result<Option<(u64, String)>, BackupError> {
    Ok(client.head(bucket, key).await?.map(|h| (h.size, h.etag)))
}

/// What the destination of a data restore holds of a snapshot's objects: a restore copies only
/// those not there as the snapshot holds them, and says which of those it writes over.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Destination {
    /// Keys already there as the snapshot holds them (same size, and the ETag of the original
    /// or of its copy): not copied again.
    pub same: std::collections::BTreeSet<String>,
    /// Keys there with other content, with the size and ETag seen: a copy writes over them,
    /// and S3 keeps no copy of what it replaces unless the bucket keeps versions.
    pub differ: std::collections::BTreeMap<String, (u64, String)>,
}

/// Reads (HEAD) where each of `objects` would be restored to under `to`, through `client`
/// (the destination bucket's, made for its region).
pub async fn destination(
    client: &dyn crate::provider::blob::Bucket,
    to: &S3Uri,
    objects: &[super::manifest::DataObject],
) -> Result<Destination, BackupError> {
    use futures::StreamExt;
    let heads: Vec<_> = futures::stream::iter(objects)
        .map(|o| async move {
            let found = head_in(client, &to.bucket, &to.exact_child(&o.key)).await?;
            Ok::<_, BackupError>((o, found))
        })
        .buffer_unordered(16)
        .collect()
        .await;
    let mut out = Destination::default();
    for h in heads {
        let (o, found) = h?;
        match found {
            Some((size, etag)) if size == o.size && (etag == o.etag || etag == o.copy_etag) => {
                out.same.insert(o.key.clone());
            }
            Some(seen) => {
                out.differ.insert(o.key.clone(), seen);
            }
            None => {}
        }
    }
    Ok(out)
}

/// Copies every object under `source` (a store opened on the source bucket, for listing) to
/// `dest` in the backup store's bucket; `on_object` is told of each one copied.
pub async fn copy_prefix(
    source: &Store,
    dest: &Store,
    dest_root: &S3Uri,
    storage_class: &str,
    mut on_object: impl FnMut(&DataObject),
) -> Result<DataCopy, BackupError> {
    let listed = source.list("").await?;
    let mut objects = Vec::new();
    for o in listed {
        // The prefix's own folder marker is the copy's root; markers below it ("folders" a
        // console made, some readers list by them) are objects like any other.
        if o.rel.is_empty() {
            continue;
        }
        let source_key = source.root.exact_child(&o.rel);
        let dest_key = dest_root.exact_child(&o.rel);
        // The size recorded is the size of the version copied: the copy is made only of the
        // version the HEAD saw (if-match on its ETag), read again when it changed in between.
        let mut attempt = 0;
        let (size, etag, copy_etag) = loop {
            attempt += 1;
            let Some(crate::provider::blob::Head {
                size,
                etag,
                archived,
                ..
            }) = head(source, &source.root.bucket, &source_key).await?
            else {
                break (0, String::new(), None);
            };
            // S3 copies no object that is not thawed (whatever its size): said before asking.
            if archived {
                return Err(BackupError::Provider(ProviderError::Service(format!(
                    "s3://{}/{source_key} is in an archive storage class: restore it first (aws \
                     s3api restore-object) and wait until it is available, or leave it out",
                    source.root.bucket
                ))));
            }
            match dest
                .bucket()
                .copy(
                    (&source.root.bucket, &source_key),
                    (&dest_root.bucket, &dest_key),
                    size,
                    Some(storage_class),
                    Some(&etag),
                )
                .await
            {
                Ok(copy_etag) => break (size, etag, Some(copy_etag)),
                // Deleted between its HEAD and its copy: gone, as one gone before the HEAD.
                // (The key, not a bucket: a bucket gone is a failure, never "nothing there".)
                Err(ProviderError::NotFound(m)) if m.contains("NoSuchKey") => {
                    break (0, String::new(), None);
                }
                Err(ProviderError::Changed(_)) if attempt < COPY_ATTEMPTS => continue,
                Err(ProviderError::Changed(what)) => {
                    return Err(BackupError::Provider(ProviderError::Service(format!(
                        "{what} changed {COPY_ATTEMPTS} times while it was being copied: back \
                         it up when it is written less often (or exclude it)"
                    ))));
                }
                Err(e) => return Err(e.into()),
            }
        };
        // Deleted since it was listed: not part of this backup.
        let Some(copy_etag) = copy_etag else {
            continue;
        };
        let object = DataObject {
            key: o.rel.clone(),
            size,
            etag,
            copy_etag,
        };
        on_object(&object);
        objects.push(object);
    }
    Ok(DataCopy {
        source: source.root.to_string(),
        copy: dest_root.to_string(),
        objects,
    })
}
