//! S3 data: prefixes copied server-side (CopyObject, or multipart UploadPartCopy for large
//! objects), so the bytes never flow through the machine lops runs on.

use aws_sdk_s3::types::{CompletedMultipartUpload, CompletedPart, StorageClass};

use super::BackupError;
use super::manifest::{DataCopy, DataObject};
use super::store::Store;
use super::uri::S3Uri;
use crate::provider::aws::classify;

/// Objects larger than this are copied in parts (the AWS CLI's default threshold).
pub const MULTIPART_THRESHOLD: u64 = 8 * 1024 * 1024;
/// S3 allows at most 10,000 parts; parts grow for very large objects.
const MAX_PARTS: u64 = 10_000;

pub fn part_size(size: u64) -> u64 {
    MULTIPART_THRESHOLD.max(size.div_ceil(MAX_PARTS))
}

/// `bucket/key` for x-amz-copy-source, the key percent-encoded (slashes kept).
pub fn copy_source(bucket: &str, key: &str) -> String {
    let mut out = format!("{bucket}/");
    for b in key.bytes() {
        if b.is_ascii_alphanumeric() || matches!(b, b'-' | b'_' | b'.' | b'~' | b'/') {
            out.push(b as char);
        } else {
            out.push_str(&format!("%{b:02X}"));
        }
    }
    out
}

/// Size and ETag of an object in the store's bucket region, or `None` if it is not there.
pub async fn head(
    store: &Store,
    bucket: &str,
    key: &str,
) -> Result<Option<(u64, String)>, BackupError> {
    match store
        .s3()
        .await
        .head_object()
        .bucket(bucket)
        .key(key)
        .send()
        .await
    {
        Ok(out) => Ok(Some((
            out.content_length().unwrap_or_default().max(0) as u64,
            out.e_tag().unwrap_or_default().to_string(),
        ))),
        Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
        Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
        Err(e) => Err(BackupError::Provider(classify(e, 30.0))),
    }
}

/// Copies one object; returns the copy's ETag.
pub async fn copy_object(
    s3: &aws_sdk_s3::Client,
    from: (&str, &str),
    to: (&str, &str),
    size: u64,
    storage_class: Option<&str>,
) -> Result<String, BackupError> {
    let source = copy_source(from.0, from.1);
    let fail = |what: &str, e: String| {
        BackupError::Provider(crate::provider::ProviderError::Service(format!(
            "{what} s3://{}/{} → s3://{}/{}: {e}",
            from.0, from.1, to.0, to.1
        )))
    };
    if size <= MULTIPART_THRESHOLD {
        let mut call = s3.copy_object().copy_source(&source).bucket(to.0).key(to.1);
        if let Some(class) = storage_class {
            call = call.storage_class(StorageClass::from(class));
        }
        let out = call
            .send()
            .await
            .map_err(|e| fail("copying", classify(e, 60.0).to_string()))?;
        return Ok(out
            .copy_object_result()
            .and_then(|r| r.e_tag())
            .unwrap_or_default()
            .to_string());
    }
    let mut create = s3.create_multipart_upload().bucket(to.0).key(to.1);
    if let Some(class) = storage_class {
        create = create.storage_class(StorageClass::from(class));
    }
    let upload = create.send().await.map_err(|e| {
        fail(
            "starting a multipart copy of",
            classify(e, 60.0).to_string(),
        )
    })?;
    let upload_id = upload.upload_id().unwrap_or_default().to_string();
    let result = async {
        let part = part_size(size);
        let mut parts = Vec::new();
        let mut start = 0u64;
        let mut number = 1i32;
        while start < size {
            let end = (start + part).min(size) - 1;
            let out = s3
                .upload_part_copy()
                .bucket(to.0)
                .key(to.1)
                .upload_id(&upload_id)
                .part_number(number)
                .copy_source(&source)
                .copy_source_range(format!("bytes={start}-{end}"))
                .send()
                .await
                .map_err(|e| fail("copying a part of", classify(e, 60.0).to_string()))?;
            parts.push(
                CompletedPart::builder()
                    .part_number(number)
                    .set_e_tag(
                        out.copy_part_result()
                            .and_then(|r| r.e_tag())
                            .map(str::to_string),
                    )
                    .build(),
            );
            start = end + 1;
            number += 1;
        }
        let done = s3
            .complete_multipart_upload()
            .bucket(to.0)
            .key(to.1)
            .upload_id(&upload_id)
            .multipart_upload(
                CompletedMultipartUpload::builder()
                    .set_parts(Some(parts))
                    .build(),
            )
            .send()
            .await
            .map_err(|e| {
                fail(
                    "completing a multipart copy of",
                    classify(e, 60.0).to_string(),
                )
            })?;
        Ok(done.e_tag().unwrap_or_default().to_string())
    }
    .await;
    if result.is_err() {
        // Leave no half-copied parts behind (they would be billed until a lifecycle rule).
        let _ = s3
            .abort_multipart_upload()
            .bucket(to.0)
            .key(to.1)
            .upload_id(&upload_id)
            .send()
            .await;
    }
    result
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
        let copy_etag = copy_object(
            dest.s3().await,
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

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parts_stay_under_the_limit() {
        assert_eq!(part_size(9 * 1024 * 1024), MULTIPART_THRESHOLD);
        let huge = 200 * 1024 * 1024 * 1024u64;
        assert!(huge.div_ceil(part_size(huge)) <= MAX_PARTS);
    }

    #[test]
    fn copy_source_encodes_the_key() {
        assert_eq!(
            copy_source("b", "dir/a file+1.json"),
            "b/dir/a%20file%2B1.json"
        );
    }
}
