//! The backup bucket: content-addressed blobs, manifests, and listing, over the provider's
//! buckets.

use std::collections::{HashMap, HashSet};
use std::sync::{Arc, Mutex};

use base64::Engine;
use sha2::{Digest, Sha256};

use super::BackupError;
use super::manifest::layout;
use super::uri::S3Uri;
use crate::provider::ProviderError;
use crate::provider::blob::{BlobError, Bucket, Buckets, Put};

/// Storage classes a backup may be written in.
pub const STORAGE_CLASSES: &[&str] = &[
    "STANDARD",
    "STANDARD_IA",
    "GLACIER_IR",
    "GLACIER",
    "DEEP_ARCHIVE",
];

pub use crate::provider::blob::needs_thaw;

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
    bucket: Arc<dyn Bucket>,
    pub root: S3Uri,
    pub region: String,
    /// Blobs this run wrote or found, so that no other function asks again.
    known: Arc<Mutex<HashSet<String>>>,
    /// One upload per blob at a time.
    locks: Arc<Mutex<HashMap<String, Arc<tokio::sync::Mutex<()>>>>>,
}

impl From<BlobError> for BackupError {
    fn from(e: BlobError) -> Self {
        match e {
            BlobError::NoBucket(m) => BackupError::Invalid(m),
            BlobError::Missing(m) => BackupError::Missing(m),
            BlobError::Archived(m) => BackupError::Archived(format!(
                "{m} is in an archive storage class: restore it first \
                 (aws s3api restore-object), wait until it is available, then retry"
            )),
            BlobError::Provider(e) => e.into(),
        }
    }
}

impl Store {
    /// Opens the bucket of `root` from `region` (the bucket's own region may differ), and
    /// checks it exists.
    pub async fn open(region: &(impl Buckets + ?Sized), root: S3Uri) -> Result<Store, BackupError> {
        let bucket = region.bucket(&root.bucket).await?;
        Ok(Store {
            region: bucket.region().to_string(),
            bucket,
            root,
            known: Arc::default(),
            locks: Arc::default(),
        })
    }

    /// The bucket, for copies and reads outside the store's root.
    pub fn bucket(&self) -> &dyn Bucket {
        self.bucket.as_ref()
    }

    /// The store's bucket client, shared.
    pub fn bucket_arc(&self) -> Arc<dyn Bucket> {
        self.bucket.clone()
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
        Ok(self
            .bucket
            .head(&self.root.bucket, &self.root.child(rel))
            .await?
            .is_some())
    }

    /// The stored size of the blob under `sha256` when it is there whole: stored with that
    /// SHA-256. One damaged or replaced since (another or no SHA-256: lops stores every blob
    /// with its own) is not, so that the next backup puts it back instead of pointing at it
    /// again. (Blobs stored before lops named SHA-256 as their checksum carry a CRC32 only:
    /// each is uploaded once more.)
    pub async fn blob_intact(
        &self,
        sha256: &str,
        storage_class: &str,
    ) -> Result<Option<u64>, BackupError> {
        let head = self
            .bucket
            .head_with_checksum(&self.root.bucket, &self.root.child(&layout::blob(sha256)))
            .await?;
        let Some(head) = head else {
            return Ok(None);
        };
        // In an archive class (an earlier backup's, a lifecycle rule's) while this one asks for
        // a class read at once: reused, the new snapshot could not be restored without a thaw
        // (a thawed copy expires).
        if head.archive_class && !needs_thaw(storage_class) {
            tracing::info!(
                blob = sha256,
                "stored blob is archived: uploading it again in {storage_class}"
            );
            return Ok(None);
        }
        if head.checksum_sha256.is_some() && head.checksum_sha256 == hex_to_base64(sha256) {
            return Ok(Some(head.size));
        }
        tracing::warn!(
            blob = sha256,
            "stored blob carries another or no SHA-256: uploading it again"
        );
        Ok(None)
    }

    /// Uploads a blob under its SHA-256 unless it is already there whole. Returns whether it
    /// uploaded (false: deduplicated).
    pub async fn put_blob(
        &self,
        sha256: &str,
        bytes: Vec<u8>,
        storage_class: &str,
    ) -> Result<bool, BackupError> {
        if self.blob_intact(sha256, storage_class).await?.is_some() {
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
        let how = Put {
            storage_class: Some(storage_class.to_string()),
            content_type: None,
            checksum_sha256: Some(base64::engine::general_purpose::STANDARD.encode(digest)),
        };
        self.bucket.put(&self.root.child(&rel), bytes, how).await?;
        Ok(())
    }

    /// Writes a small object in STANDARD (manifests stay readable whatever the blobs' class).
    pub async fn put_small(&self, rel: &str, bytes: Vec<u8>) -> Result<(), BackupError> {
        let how = Put {
            content_type: Some("application/json"),
            ..Put::default()
        };
        self.bucket.put(&self.root.child(rel), bytes, how).await?;
        Ok(())
    }

    /// Reads an object whole.
    pub async fn get(&self, key: &str) -> Result<Vec<u8>, BackupError> {
        Ok(self.bucket.get(key).await?)
    }

    /// Reads a blob and checks its SHA-256 and size.
    pub async fn get_blob(&self, sha256: &str, size: u64) -> Result<Vec<u8>, BackupError> {
        let rel = layout::blob(sha256);
        // Which object, and what would let it be read (a bare "HTTP 403" named neither).
        let bytes = (self.get(&self.root.child(&rel)).await).map_err(|e| match e {
            BackupError::Provider(ProviderError::AccessDenied(m)) => {
                BackupError::Provider(ProviderError::AccessDenied(format!(
                    "{}: {m} — the profile reading the snapshot needs s3:GetObject on it",
                    self.uri(&rel)
                )))
            }
            BackupError::Provider(ProviderError::Service(m)) => {
                BackupError::Provider(ProviderError::Service(format!("{}: {m}", self.uri(&rel))))
            }
            other => other,
        })?;
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
        let strip = if self.root.key.is_empty() {
            String::new()
        } else {
            format!("{}/", self.root.key)
        };
        let objects = self.bucket.list(&self.root.child(rel_prefix)).await?;
        Ok(objects
            .into_iter()
            .map(|o| Listed {
                rel: o.key.strip_prefix(&strip).unwrap_or(&o.key).to_string(),
                size: o.size,
                last_modified: o.last_modified,
            })
            .collect())
    }

    /// Deletes objects (relative keys).
    pub async fn delete(&self, rels: &[String]) -> Result<(), BackupError> {
        let keys: Vec<String> = rels.iter().map(|rel| self.root.child(rel)).collect();
        self.bucket.delete(&keys).await?;
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

/// A hex SHA-256 as S3 carries it: base64 of the digest (`None` if it is not hex).
fn hex_to_base64(hex: &str) -> Option<String> {
    use base64::Engine as _;
    if !hex.len().is_multiple_of(2) {
        return None;
    }
    let bytes: Option<Vec<u8>> = (0..hex.len())
        .step_by(2)
        .map(|i| u8::from_str_radix(hex.get(i..i + 2)?, 16).ok())
        .collect();
    Some(base64::engine::general_purpose::STANDARD.encode(bytes?))
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
