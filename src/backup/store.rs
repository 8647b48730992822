//! The backup bucket: content-addressed blobs, manifests, and listing, over the S3 SDK.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use aws_sdk_s3::error::ProvideErrorMetadata;
use aws_sdk_s3::operation::list_objects_v2::ListObjectsV2Output;
use aws_sdk_s3::primitives::ByteStream;
use aws_sdk_s3::types::{Delete, ObjectIdentifier, StorageClass};
use base64::Engine;
use sha2::{Digest, Sha256};

use super::BackupError;
use super::manifest::layout;
use super::uri::S3Uri;
use crate::provider::ProviderError;
use crate::provider::aws::{Clients, classify, every_page};

/// Storage classes a backup may be written in.
pub const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
];

/// Classes whose objects must be restored (thawed) before they can be read.
pub fn needs_thaw(class: &str) -> bool {
    matches!(class, "GLACIER" | "DEEP_ARCHIVE")
}

pub fn parse_storage_class(text: &str) -> Result<String, BackupError> {
    let upper = text.trim().to_ascii_uppercase();
    if STORAGE_CLASSES.contains(&upper.as_str()) {
        Ok(upper)
    } else {
        Err(BackupError::Invalid(format!(
            "storage class '{text}' is not one of {}",
            STORAGE_CLASSES.join(", ")
        )))
    }
}

/// An object under the prefix, as listed.
#[derive(Debug, Clone, PartialEq)]
pub struct Listed {
    /// Key relative to the prefix.
    pub rel: String,
    pub size: u64,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

#[derive(Debug, Clone)]
pub struct Store {
    client: aws_sdk_s3::Client,
    /// S3's pace (`[rate_limits] s3_per_sec`).
    limit: Arc<crate::provider::limiter::RateLimiter>,
    pub root: S3Uri,
    pub region: String,
    timeout: f64,
    /// Blobs this run wrote or found, so that no other function asks again.
    known: Arc<Mutex<HashSet<String>>>,
    /// One upload per blob at a time.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

fn provider<E>(
    err: aws_sdk_s3::error::SdkError<E, aws_smithy_runtime_api::client::orchestrator::HttpResponse>,
    timeout: f64,
) -> ProviderError
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    classify(err, timeout)
}

impl Store {
    /// Finds the bucket's region (it may differ from the functions'), and checks it exists.
    pub async fn open(clients: &Clients, root: S3Uri) -> Result<Store, BackupError> {
        let timeout = clients.operation_timeout.as_secs_f64();
        // HeadBucket answers with the bucket's region, also (as a 301) when asked from
        // another region, so the store's client can be made for the right one.
        clients.s3_limit.acquire_first().await;
        let region = match clients.s3.head_bucket().bucket(&root.bucket).send().await {
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
                match (named, status) {
                    (Some(region), Some(301)) => region,
                    (_, Some(404)) => {
                        return Err(BackupError::Invalid(format!(
                            "bucket '{}' does not exist (or is not visible to profile '{}'): \
                             create it first, e.g. `aws s3 mb s3://{}`",
                            root.bucket, clients.scope.profile, root.bucket
                        )));
                    }
                    (_, Some(403)) => {
                        return Err(BackupError::Provider(ProviderError::AccessDenied(format!(
                            "bucket '{}' exists but profile '{}' may not read it (s3:ListBucket)",
                            root.bucket, clients.scope.profile
                        ))));
                    }
                    _ => return Err(BackupError::Provider(provider(e, timeout))),
                }
            }
        };
        Ok(Store {
            client: clients.s3_in(&region),
            limit: clients.s3_limit.clone(),
            root,
            region,
            timeout,
            known: Arc::default(),
            locks: Arc::default(),
        })
    }

    /// The store's S3 client, once S3's pace allows another request.
    pub async fn s3(&self) -> &aws_sdk_s3::Client {
        self.limit.acquire_first().await;
        &self.client
    }

    /// Held while a blob is checked and uploaded.
    pub async fn blob_lock(&self, sha256: &str) -> tokio::sync::OwnedMutexGuard<()> {
        let lock = self
            .locks
            .lock()
            .map(|mut l| l.entry(sha256.to_string()).or_default().clone())
            .unwrap_or_default();
        lock.lock_owned().await
    }

    pub fn is_known(&self, sha256: &str) -> bool {
        self.known.lock().is_ok_and(|k| k.contains(sha256))
    }

    pub fn mark_known(&self, sha256: &str) {
        if let Ok(mut k) = self.known.lock() {
            k.insert(sha256.to_string());
        }
    }

    pub fn uri(&self, rel: &str) -> S3Uri {
        self.root.with_key(self.root.child(rel))
    }

    pub async fn exists(&self, rel: &str) -> Result<bool, BackupError> {
        match self
            .s3()
            .await
            .head_object()
            .bucket(&self.root.bucket)
            .key(self.root.child(rel))
            .send()
            .await
        {
            Ok(_) => Ok(true),
            Err(e) if e.as_service_error().is_some_and(|s| s.is_not_found()) => Ok(false),
            Err(e) if e.raw_response().is_some_and(|r| r.status().as_u16() == 404) => Ok(false),
            Err(e) => Err(BackupError::Provider(provider(e, self.timeout))),
        }
    }

    /// Uploads a blob under its SHA-256 unless it is already there. Returns whether it
    /// uploaded (false: deduplicated).
    pub async fn put_blob(
        &self,
        sha256: &str,
        bytes: Vec<u8>,
        storage_class: &str,
    ) -> Result<bool, BackupError> {
        if self.exists(&layout::blob(sha256)).await? {
            return Ok(false);
        }
        self.upload_blob(sha256, bytes, storage_class).await?;
        Ok(true)
    }

    /// Uploads a blob the caller knows is not there yet.
    pub async fn upload_blob(
        &self,
        sha256: &str,
        bytes: Vec<u8>,
        storage_class: &str,
    ) -> Result<(), BackupError> {
        let rel = layout::blob(sha256);
        let digest = Sha256::digest(&bytes);
        let checksum = base64::engine::general_purpose::STANDARD.encode(digest);
        self.s3()
            .await
            .put_object()
            .bucket(&self.root.bucket)
            .key(self.root.child(&rel))
            .storage_class(StorageClass::from(storage_class))
            .checksum_sha256(checksum)
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| BackupError::Provider(provider(e, self.timeout)))?;
        Ok(())
    }

    /// Writes a small object in STANDARD (manifests stay readable whatever the blobs' class).
    pub async fn put_small(&self, rel: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        self.s3()
            .await
            .put_object()
            .bucket(&self.root.bucket)
            .key(self.root.child(rel))
            .content_type("application/json")
            .body(ByteStream::from(bytes))
            .send()
            .await
            .map_err(|e| BackupError::Provider(provider(e, self.timeout)))?;
        Ok(())
    }

    /// Reads an object whole.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, BackupError> {
        let out = self
            .s3()
            .await
            .get_object()
            .bucket(&self.root.bucket)
            .key(key)
            .send()
            .await
            .map_err(|e| {
                if e.code() == Some("InvalidObjectState") {
                    return BackupError::Invalid(format!(
                        "s3://{}/{key} is in an archive storage class: restore it first \
                         (aws s3api restore-object), wait until it is available, then retry",
                        self.root.bucket
                    ));
                }
                let not_found = e.code() == Some("NoSuchKey")
                    || e.raw_response().is_some_and(|r| r.status().as_u16() == 404);
                match provider(e, self.timeout) {
                    _ if not_found => {
                        BackupError::Missing(format!("s3://{}/{key}", self.root.bucket))
                    }
                    other => BackupError::Provider(other),
                }
            })?;
        let body = out.body.collect().await.map_err(|e| {
            BackupError::Provider(ProviderError::Service(format!(
                "reading s3://{}/{key}: {e}",
                self.root.bucket
            )))
        })?;
        Ok(body.into_bytes().to_vec())
    }

    /// Reads a blob and checks its SHA-256 and size.
    pub async fn get_blob(&self, sha256: &str, size: u64) -> Result<Vec<u8>, BackupError> {
        let rel = layout::blob(sha256);
        let bytes = self.get(&self.root.child(&rel)).await?;
        let actual = hex(&Sha256::digest(&bytes));
        if actual != sha256 || bytes.len() as u64 != size {
            return Err(BackupError::Corrupt(format!(
                "{} (expected {size} bytes with SHA-256 {sha256}, found {} bytes with {actual})",
                self.uri(&rel),
                bytes.len()
            )));
        }
        Ok(bytes)
    }

    /// Every object under `rel_prefix` (relative to the root), paginated to the end.
    pub async fn list(&self, rel_prefix: &str) -> Result<Vec<Listed>, BackupError> {
        let prefix = self.root.child(rel_prefix);
        let strip = if self.root.key.is_empty() {
            String::new()
        } else {
            format!("{}/", self.root.key)
        };
        let mut out = Vec::new();
        let pages = self
            .client
            .list_objects_v2()
            .bucket(&self.root.bucket)
            .prefix(prefix)
            .into_paginator()
            .send();
        let more = |p: &ListObjectsV2Output| p.is_truncated().unwrap_or(false);
        every_page(&self.limit, self.timeout, pages, more, |page| {
            for o in page.contents() {
                let Some(key) = o.key() else { continue };
                let rel = key.strip_prefix(&strip).unwrap_or(key).to_string();
                out.push(Listed {
                    rel,
                    size: o.size().unwrap_or_default().max(0) as u64,
                    last_modified: o
                        .last_modified()
                        .and_then(|t| chrono::DateTime::from_timestamp(t.secs(), t.subsec_nanos())),
                });
            }
        })
        .await
        .map_err(BackupError::Provider)?;
        Ok(out)
    }

    /// Deletes objects (relative keys), 1000 per request.
    pub async fn delete(&self, rels: &[String]) -> Result<(), BackupError> {
        for chunk in rels.chunks(1000) {
            let ids = chunk
                .iter()
                .map(|rel| {
                    ObjectIdentifier::builder()
                        .key(self.root.child(rel))
                        .build()
                        .map_err(|e| BackupError::Invalid(e.to_string()))
                })
                .collect::<Result<Vec<_>, _>>()?;
            let delete = Delete::builder()
                .set_objects(Some(ids))
                .quiet(true)
                .build()
                .map_err(|e| BackupError::Invalid(e.to_string()))?;
            let out = self
                .s3()
                .await
                .delete_objects()
                .bucket(&self.root.bucket)
                .delete(delete)
                .send()
                .await
                .map_err(|e| BackupError::Provider(provider(e, self.timeout)))?;
            if let Some(e) = out.errors().first() {
                return Err(BackupError::Provider(ProviderError::Service(format!(
                    "could not delete s3://{}/{}: {}",
                    self.root.bucket,
                    e.key().unwrap_or_default(),
                    e.message().unwrap_or_default()
                ))));
            }
        }
        Ok(())
    }
}

pub fn hex(bytes: &[u8]) -> String {
    use std::fmt::Write;
    bytes.iter().fold(String::new(), |mut s, b| {
        let _ = write!(s, "{b:02x}");
        s
    })
}

/// Lambda's CodeSha256 (base64 of the package's SHA-256) as hex, if it is one.
pub fn lambda_sha_to_hex(b64: &str) -> Option<String> {
    let raw = base64::engine::general_purpose::STANDARD.decode(b64).ok()?;
    (raw.len() == 32).then(|| hex(&raw))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lambda_hash_converts_to_hex() {
        let digest = Sha256::digest(b"zip");
        let b64 = base64::engine::general_purpose::STANDARD.encode(digest);
        assert_eq!(lambda_sha_to_hex(&b64), Some(hex(&digest)));
        assert_eq!(lambda_sha_to_hex("not base64!"), None);
        assert_eq!(lambda_sha_to_hex("YWJj"), None);
    }

    #[test]
    fn storage_classes_are_checked() {
        assert_eq!(parse_storage_class("glacier_ir").unwrap(), "GLACIER_IR");
        assert!(parse_storage_class("FAST").is_err());
        assert!(needs_thaw("DEEP_ARCHIVE") && !needs_thaw("GLACIER_IR"));
    }
}
