//! Buckets of objects: where backups are kept and what S3 data copies read and write. The AWS
//! provider answers with S3; the simulated fleet keeps its buckets in memory.

use futures::future::BoxFuture;

use super::ProviderError;

/// An object as a listing shows it.
#[derive(Debug, Clone, PartialEq)]
pub struct Object {
    /// The whole key.
    pub key: String,
    pub size: u64,
    pub last_modified: Option<chrono::DateTime<chrono::Utc>>,
}

/// What a bucket says about one object.
#[derive(Debug, Clone, PartialEq)]
pub struct Head {
    pub size: u64,
    pub etag: String,
    /// The SHA-256 the object was stored with (base64), when it was stored with one.
    pub checksum_sha256: Option<String>,
    /// In an archive storage class (GLACIER, DEEP_ARCHIVE) and not thawed: it cannot be read
    /// or copied until restored from the archive.
    pub archived: bool,
    /// In an archive storage class, thawed for now or not (a thawed copy expires).
    pub archive_class: bool,
}

/// Classes whose objects must be restored (thawed) before they can be read.
pub fn needs_thaw(class: &str) -> bool {
    matches!(class, "GLACIER" | "DEEP_ARCHIVE")
}

/// How an object is written.
#[derive(Debug, Clone, Default)]
pub struct Put {
    /// The storage class (`None`: the bucket's default, STANDARD).
    pub storage_class: Option<String>,
    pub content_type: Option<&'static str>,
    /// The SHA-256 of the bytes, base64: the bucket refuses an object that arrives damaged.
    pub checksum_sha256: Option<String>,
}

/// Why a bucket or an object could not be used.
#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum BlobError {
    /// The bucket does not exist or cannot be seen; the message says what to do.
    #[error("{0}")]
    NoBucket(String),
    /// No object under the key (`s3://bucket/key`).
    #[error("{0} does not exist")]
    Missing(String),
    /// The object is in an archive storage class and must be thawed first (`s3://bucket/key`).
    #[error("{0} is in an archive storage class")]
    Archived(String),
    #[error(transparent)]
    Provider(#[from] ProviderError),
}

/// One bucket, reached from the region it lives in.
pub trait Bucket: Send + Sync + std::fmt::Debug {
    fn name(&self) -> &str;
    /// The region the bucket lives in (it may differ from the functions').
    fn region(&self) -> &str;
    /// Size and ETag of `key` in `bucket` (this one, or another seen from here), or `None`.
    fn head<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Head>, ProviderError>>;
    /// As [`Bucket::head`], with the SHA-256 the object was stored with. Asked for only where
    /// it is needed (a blob's check): for an object under an SSE-KMS key it takes kms:Decrypt.
    fn head_with_checksum<'a>(
        &'a self,
        bucket: &'a str,
        key: &'a str,
    ) -> BoxFuture<'a, Result<Option<Head>, ProviderError>> {
        self.head(bucket, key)
    }
    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        how: Put,
    ) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// The whole object.
    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, BlobError>>;
    /// Every object whose key starts with `prefix`, to the end of the listing.
    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Object>, ProviderError>>;
    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), ProviderError>>;
    /// Copies `from` (bucket, key) to `to` (bucket, key) inside the provider, the bytes never
    /// passing through lops; `size` is the source's. Returns the copy's ETag.
    /// `if_match`: the source's ETag as read; a source that no longer has it is not copied
    /// (`ProviderError::Changed`), so a copy never mixes the size read with another version.
    fn copy<'a>(
        &'a self,
        from: (&'a str, &'a str),
        to: (&'a str, &'a str),
        size: u64,
        storage_class: Option<&'a str>,
        if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ProviderError>>;
}

/// Where a region finds buckets.
pub trait Buckets: Send + Sync {
    /// Opens `bucket`: finds its region, and checks it exists and may be read.
    fn bucket<'a>(
        &'a self,
        bucket: &'a str,
    ) -> BoxFuture<'a, Result<std::sync::Arc<dyn Bucket>, BlobError>>;

    /// Opens `bucket` to write objects in: as `bucket`, and a bucket this profile may not
    /// list (403) is opened in the region S3 names for it, where it names one.
    fn bucket_to_write<'a>(
        &'a self,
        bucket: &'a str,
    ) -> BoxFuture<'a, Result<std::sync::Arc<dyn Bucket>, BlobError>> {
        self.bucket(bucket)
    }
}
