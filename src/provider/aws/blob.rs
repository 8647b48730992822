//! Buckets over S3: one client in the bucket's own region, S3's pace, every error classified.
//! Copies are server-side (CopyObject, or UploadPartCopy for large objects).

use std::sync::Arc;

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{
    CompletedMultipartUpload, CompletedPart, Delete, ObjectIdentifier, StorageClass,
};
use futures::FutureExt;
use futures::future::BoxFuture;

use super::{AwsRegion, classify, every_page};
use crate::provider::ProviderError;
use crate::provider::blob::{BlobError, Bucket, Buckets, Head, Object, Put};
use crate::provider::limiter::RateLimiter;

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

/// A bucket seen through a client made for its region.
#[derive(Debug)]
pub struct S3Bucket {
    client: aws_sdk_s3::Client,
    /// S3's pace (`[rate_limits] s3_per_sec`).
    limit: Arc<RateLimiter>,
    name: String,
    region: String,
    timeout: f64,
}

impl S3Bucket {
    async fn s3(&self) -> &aws_sdk_s3::Client {
        self.limit.acquire_first().await;
        &self.client
    }

    async fn head_object(
        &self,
        bucket: &str,
        key: &str,
        checksum: bool,
    ) -> Result<Option<Head>, ProviderError> {
        let mut call = self.s3().await.head_object().bucket(bucket).key(key);
        if checksum {
            call = call.checksum_mode(aws_sdk_s3::types::ChecksumMode::Enabled);
        }
        match call.send().await {
            Ok(out) => Ok(Some(Head {
                size: out.content_length().unwrap_or_default().max(0) as u64,
                etag: out.e_tag().unwrap_or_default().to_string(),
                checksum_sha256: out.checksum_sha256().map(str::to_string),
                // A thawed copy is said by `x-amz-restore: ongoing-request="false", …`.
                archived: out
                    .storage_class()
                    .is_some_and(|c| crate::provider::blob::needs_thaw(c.as_str()))
                    && !out
                        .restore()
                        .is_some_and(|r| r.contains("ongoing-request=\"false\"")),
                archive_class: out
                    .storage_class()
                    .is_some_and(|c| crate::provider::blob::needs_thaw(c.as_str())),
            })),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(None),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(None),
            Err(e) => Err(classify(e, self.timeout)),
        }
    }

    async fn put_object(&self, key: &str, bytes: Vec<u8>, how: Put) -> Result<(), ProviderError> {
        let mut call = self
            .s3()
            .await
            .put_object()
            .bucket(&self.name)
            .key(key)
            .body(ByteStream::from(bytes));
        if let Some(class) = &how.storage_class {
            call = call.storage_class(StorageClass::from(class.as_str()));
        }
        if let Some(kind) = how.content_type {
            call = call.content_type(kind);
        }
        if let Some(sum) = how.checksum_sha256 {
            // Named as the algorithm too: the SDK would otherwise add a CRC32 of its own, and
            // the object would be stored (and read back by HEAD) with that one only.
            call = call
                .checksum_algorithm(aws_sdk_s3::types::ChecksumAlgorithm::Sha256)
                .checksum_sha256(sum);
        }
        call.send()
            .await
            .map(|_| ())
            .map_err(|e| classify(e, self.timeout))
    }

    async fn get_object(&self, key: &str) -> Result<Vec<u8>, BlobError> {
        let shown = format!("s3://{}/{key}", self.name);
        let out = self
            .s3()
            .await
            .get_object()
            .bucket(&self.name)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                if e.code() == Some("InvalidObjectState") {
                    return BlobError::Archived(shown.clone());
                }
                let not_found = e.code() == Some("NoSuchKey")
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                match classify(e, self.timeout) {
                    _ if not_found => BlobError::Missing(shown.clone()),
                    other => BlobError::Provider(other),
                }
            })?;
        let body = out.body.collect().await.map_err(|e| {
            BlobError::Provider(ProviderError::Service(format!("reading {shown}: {e}")))
        })?;
        Ok(body.into_bytes().to_vec())
    }

    async fn list_objects(&self, prefix: &str) -> Result<Vec<Object>, ProviderError> {
        let mut out = Vec::new();
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.name)
            .prefix(prefix)
            .into_paginator()
            .send();
        let more = |p: &ListObjectsV2Output| p.is_truncated().unwrap_or(false);
        every_page(&self.limit, self.timeout, pages, more, |page| {
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                out.push(Object {
                    key: key.to_string(),
                    size: o.size().unwrap_or_default().max(0) as u64,
                    last_modified: o
                        .last_modified()
                        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
                });
            }
        })
        .await?;
        Ok(out)
    }

    /// 1000 keys per request.
    async fn delete_objects(&self, keys: &[String]) -> Result<(), ProviderError> {
        let invalid = |e: aws_sdk_s3::error::BuildError| ProviderError::Service(e.to_string());
        for chunk in keys.chunks(1000) {
            let ids = chunk
                .iter()
                .map(|key| {
                    ObjectIdentifier::builder()
                        .key(key)
                        .build()
                        .map_err(invalid)
                })
                .collect::<Result<Vec<_>, _>>()?;
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(invalid)?;
            let out = self
                .s3()
                .await
                .delete_objects()
                .bucket(&self.name)
                .delete(delete)
                .send()
                .await
                .map_err(|e| classify(e, self.timeout))?;
            if let Some(e) = out.errors().first() {
                return Err(ProviderError::Service(format!(
                    "could not delete s3://{}/{}: {}",
                    self.name,
                    e.key().unwrap_or_default(),
                    e.message().unwrap_or_default()
                )));
            }
        }
        Ok(())
    }

    async fn copy_object(
        &self,
        from: (&str, &str),
        to: (&str, &str),
        size: u64,
        storage_class: Option<&str>,
        if_match: Option<&str>,
    ) -> Result<String, ProviderError> {
        let source = copy_source(from.0, from.1);
        // A source gone since it was read stays "not found" (a backup leaves it out, as one
        // gone before its HEAD); every other failure names both ends.
        let fail = |what: &str, e: ProviderError| match e {
            ProviderError::NotFound(m) => {
                ProviderError::NotFound(format!("s3://{}/{}: {m}", from.0, from.1))
            }
            e => ProviderError::Service(format!(
                "{what} s3://{}/{} → s3://{}/{}: {e}",
                from.0, from.1, to.0, to.1
            )),
        };
        // A failed x-amz-copy-source-if-match: the source is another version than the one read.
        let changed = |status: Option<u16>| {
            (status == Some(412)).then(|| {
                ProviderError::Changed(format!("s3://{}/{} (ETag {})", from.0, from.1, {
                    if_match.unwrap_or_default()
                }))
            })
        };
        let s3 = self.s3().await;
        if size <= MULTIPART_THRESHOLD {
            let mut call = s3
                .copy_object()
                .copy_source(&source)
                .set_copy_source_if_match(if_match.map(str::to_string))
                .bucket(to.0)
                .key(to.1);
            if let Some(class) = storage_class {
                call = call.storage_class(StorageClass::from(class));
            }
            let out = call.send().await.map_err(|e| {
                // S3 refuses to copy an object not thawed (403 InvalidObjectState; moto says
                // ObjectNotInActiveTierError): not a permission to add.
                if matches!(
                    e.code(),
                    Some("InvalidObjectState" | "ObjectNotInActiveTierError")
                ) {
                    return ProviderError::Service(format!(
                        "s3://{}/{} is in an archive storage class: restore it first (aws s3api \
                         restore-object) and wait until it is available, or leave it out",
                        from.0, from.1
                    ));
                }
                changed(e.raw_response().map(|r| r.status().as_u16()))
                    .unwrap_or_else(|| fail("copying", classify(e, 60.0)))
            })?;
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
        let upload = create
            .send()
            .await
            .map_err(|e| fail("starting a multipart copy of", classify(e, 60.0)))?;
        let upload_id = upload.upload_id().unwrap_or_default().to_string();
        let result = async {
            let part = part_size(size);
            let mut parts = Vec::new();
            let mut start = 0u64;
            let mut number = 1i32;
            while start < size {
                let end = (start + part).min(size) - 1;
                let out = self
                    .s3()
                    .await
                    .upload_part_copy()
                    .bucket(to.0)
                    .key(to.1)
                    .upload_id(&upload_id)
                    .part_number(number)
                    .copy_source(&source)
                    .set_copy_source_if_match(if_match.map(str::to_string))
                    .copy_source_range(format!("bytes={start}-{end}"))
                    .send()
                    .await
                    .map_err(|e| {
                        changed(e.raw_response().map(|r| r.status().as_u16()))
                            .unwrap_or_else(|| fail("copying a part of", classify(e, 60.0)))
                    })?;
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
            let done = self
                .s3()
                .await
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
                .map_err(|e| fail("completing a multipart copy of", classify(e, 60.0)))?;
            Ok(done.e_tag().unwrap_or_default().to_string())
        }
        .await;
        if result.is_err() {
            // Leave no half-copied parts behind (they would be billed until a lifecycle rule).
            let _ = self
                .s3()
                .await
                .abort_multipart_upload()
                .bucket(to.0)
                .key(to.1)
                .upload_id(&upload_id)
                .send()
                .await;
        }
        result
    }
}

impl Bucket for S3Bucket {
    fn name(&self) -> &str {
        &self.name
    }

    fn region(&self) -> &str {
        &self.region
    }

    fn head<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Head>, ProviderError>> {
        self.head_object(bucket, key, false).boxed()
    }

    fn head_with_checksum<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Head>, ProviderError>> {
        self.head_object(bucket, key, true).boxed()
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        how: Put,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.put_object(key, bytes, how).boxed()
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, BlobError>> {
        self.get_object(key).boxed()
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Object>, ProviderError>> {
        self.list_objects(prefix).boxed()
    }

    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.delete_objects(keys).boxed()
    }

    fn copy<'a>(
        &'a self,
        from: (&'a str, &'a str),
        to: (&'a str, &'a str),
        size: u64,
        storage_class: Option<&'a str>,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        self.copy_object(from, to, size, storage_class, if_match)
            .boxed()
    }
}

impl AwsRegion {
    /// HeadBucket answers with the bucket's region, also (as a 301) when asked from another
    /// region, so the bucket's client can be made for the right one. `unlisted`: a 403 that
    /// names the bucket's region (a caller that may write objects but not list the bucket)
    /// opens it there.
    async fn open_bucket(
        &self,
        bucket: &str,
        unlisted: bool,
    ) -> Result<Arc<dyn Bucket>, BlobError> {
        let clients = &self.clients;
        let timeout = clients.operation_timeout.as_secs_f64();
        clients.s3_limit.acquire_first().await;
        let region = match clients.s3.head_bucket().bucket(bucket).send().await {
            Ok(out) => out
                .bucket_region()
                .map(str::to_string)
                .unwrap_or_else(|| clients.scope.region.clone()),
            Err(e) => {
                let named = e
                    .raw_response()
                    .and_then(|r| r.headers().get("x-amz-bucket-region"))
                    .map(str::to_string);
                let status = e.raw_response().map(|r| r.status().as_u16());
                let profile = &clients.scope.profile;
                match (named, status) {
                    (Some(region), Some(301)) => region,
                    (Some(region), Some(403)) if unlisted => region,
                    (_, Some(404)) => {
                        return Err(BlobError::NoBucket(format!(
                            "bucket '{bucket}' does not exist (or is not visible to profile \
                             '{profile}'): check its name and the profile (`aws s3 ls \
                             --profile {profile}`); a bucket lops is to write into (a backup's, \
                             a restore's data) is made first (`aws s3 mb s3://{bucket}`), one it \
                             reads from cannot be new"
                        )));
                    }
                    (_, Some(403)) => {
                        return Err(BlobError::Provider(ProviderError::AccessDenied(format!(
                            "bucket '{bucket}' exists but profile '{profile}' may not read it \
                             (s3:ListBucket)"
                        ))));
                    }
                    _ => return Err(BlobError::Provider(classify(e, timeout))),
                }
            }
        };
        Ok(Arc::new(S3Bucket {
            client: clients.s3_in(&region),
            limit: clients.s3_limit.clone(),
            name: bucket.to_string(),
            region,
            timeout,
        }))
    }
}

impl Buckets for AwsRegion {
    fn bucket<'a>(&'a self, bucket: &'a str) -> BoxFuture<'a, Result<Arc<dyn Bucket>, BlobError>> {
        self.open_bucket(bucket, false).boxed()
    }

    fn bucket_to_write<'a>(
        &'a self,
        bucket: &'a str,
    ) -> BoxFuture<'a, Result<Arc<dyn Bucket>, BlobError>> {
        self.open_bucket(bucket, true).boxed()
    }
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
