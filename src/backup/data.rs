//! S3 data: prefixes copied server-side by the provider, so the bytes never flow through the
//! machine lops runs on.

use super::BackupError;
use super::manifest::{DataCopy, DataObject};
use super::store::Store;
use super::uri::S3Uri;

/// Size and ETag of an object seen from the store's bucket region, or `None` if it is not
/// there.
pub async fn head(
    store: &Store,
    bucket: &str,
    key: &str,
) -> Result<Option<(u64, String)>, BackupError> {
    Ok(store
        .bucket()
        .head(bucket, key)
        .await?
        .map(|h| (h.size, h.etag)))
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
        if o.rel.ends_with('/') {
            continue;
        }
        let source_key = source.root.child(&o.rel);
        let Some((size, etag)) = head(source, &source.root.bucket, &source_key).await? else {
            continue;
        };
        let dest_key = dest_root.child(&o.rel);
        let copy_etag = dest
            .bucket()
            .copy(
                (&source.root.bucket, &source_key),
                (&dest_root.bucket, &dest_key),
                size,
                Some(storage_class),
            )
            .await?;
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
