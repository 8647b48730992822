//! The demo's buckets, in memory and shared by every region: a bucket exists once it is named
//! (there is no account to create it in), and lives in the region that named it first.

use base64::Engine as _;
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};

use futures::FutureExt;
use futures::future::BoxFuture;
use sha2::{Digest, Sha256};

use super::SimRegion;
use crate::provider::ProviderError;
use crate::provider::blob::{BlobError, Bucket, Buckets, Head, Object, Put};

#[derive(Debug, Clone)]
struct Stored {
    bytes: Arc<Vec<u8>>,
    etag: String,
    at: chrono::DateTime<chrono::Utc>,
}

/// Every simulated bucket: its region, and its objects by key.
#[derive(Debug, Default)]
pub struct SimBuckets {
    regions: BTreeMap<String, String>,
    objects: BTreeMap<(String, String), Stored>,
}

#[derive(Debug)]
struct SimBucket {
    name: String,
    region: String,
    all: Arc<Mutex<SimBuckets>>,
    clock: super::SimClock,
}

impl SimBucket {
    fn with<T>(&self, f: impl FnOnce(&mut SimBuckets) -> T) -> T {
        let mut all = self.all.lock().unwrap_or_else(|p| p.into_inner());
        f(&mut all)
    }

    fn store(&self, bucket: &str, key: &str, bytes: Arc<Vec<u8>>) -> String {
        // Like S3's ETag of a single-part object: a quoted hex digest (here half a SHA-256).
        let digest = Sha256::digest(bytes.as_slice());
        let hex: String = digest[..16].iter().map(|b| format!("{b:02x}")).collect();
        let etag = format!("\"{hex}\"");
        let at = self.clock.now();
        self.with(|all| {
            all.objects.insert(
                (bucket.to_string(), key.to_string()),
                Stored {
                    bytes,
                    etag: etag.clone(),
                    at,
                },
            )
        });
        etag
    }
}

fn ready<'a, T: Send + 'a>(value: T) -> BoxFuture<'a, T> {
    futures::future::ready(value).boxed()
}

impl Bucket for SimBucket {
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
        let found = self.with(|all| {
            all.objects
                .get(&(bucket.to_string(), key.to_string()))
                .map(|o| Head {
                    size: o.bytes.len() as u64,
                    etag: o.etag.clone(),
                    checksum_sha256: Some(
                        base64::engine::general_purpose::STANDARD
                            .encode(<sha2::Sha256 as sha2::Digest>::digest(o.bytes.as_slice())),
                    ),
                    archived: false,
                    archive_class: false,
                })
        });
        ready(Ok(found))
    }

    fn put<'a>(
        &'a self,
        key: &'a str,
        bytes: Vec<u8>,
        _how: Put,
    ) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.store(&self.name, key, Arc::new(bytes));
        ready(Ok(()))
    }

    fn get<'a>(&'a self, key: &'a str) -> BoxFuture<'a, Result<Vec<u8>, BlobError>> {
        let found = self.with(|all| {
            all.objects
                .get(&(self.name.clone(), key.to_string()))
                .map(|o| o.bytes.as_ref().clone())
        });
        ready(found.ok_or_else(|| BlobError::Missing(format!("s3://{}/{key}", self.name))))
    }

    fn list<'a>(&'a self, prefix: &'a str) -> BoxFuture<'a, Result<Vec<Object>, ProviderError>> {
        let listed = self.with(|all| {
            all.objects
                .range((self.name.clone(), prefix.to_string())..)
                .take_while(|((b, k), _)| *b == self.name && k.starts_with(prefix))
                .map(|((_, key), o)| Object {
                    key: key.clone(),
                    size: o.bytes.len() as u64,
                    last_modified: Some(o.at),
                })
                .collect()
        });
        ready(Ok(listed))
    }

    fn delete<'a>(&'a self, keys: &'a [String]) -> BoxFuture<'a, Result<(), ProviderError>> {
        self.with(|all| {
            for key in keys {
                all.objects.remove(&(self.name.clone(), key.clone()));
            }
        });
        ready(Ok(()))
    }

    fn copy<'a>(
        &'a self,
        from: (&'a str, &'a str),
        to: (&'a str, &'a str),
        _size: u64,
        _storage_class: Option<&'a str>,
        _if_match: Option<&'a str>,
    ) -> BoxFuture<'a, Result<String, ProviderError>> {
        let source = self.with(|all| {
            all.objects
                .get(&(from.0.to_string(), from.1.to_string()))
                .map(|o| o.bytes.clone())
        });
        let result = match source {
            Some(bytes) => Ok(self.store(to.0, to.1, bytes)),
            None => Err(ProviderError::NotFound(format!(
                "s3://{}/{}",
                from.0, from.1
            ))),
        };
        ready(result)
    }
}

impl SimRegion {
    /// An object of the demo's buckets, as Lambda reads a package from S3.
    pub(super) fn object(&self, bucket: &str, key: &str) -> Option<Vec<u8>> {
        let all = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
        all.objects
            .get(&(bucket.to_string(), key.to_string()))
            .map(|o| o.bytes.as_ref().clone())
    }
}

impl Buckets for SimRegion {
    fn bucket<'a>(&'a self, bucket: &'a str) -> BoxFuture<'a, Result<Arc<dyn Bucket>, BlobError>> {
        let region = {
            let mut all = self.buckets.lock().unwrap_or_else(|p| p.into_inner());
            all.regions
                .entry(bucket.to_string())
                .or_insert_with(|| self.scope.region.clone())
                .clone()
        };
        let opened: Arc<dyn Bucket> = Arc::new(SimBucket {
            name: bucket.to_string(),
            region,
            all: self.buckets.clone(),
            clock: self.clock.clone(),
        });
        ready(Ok(opened))
    }
}
