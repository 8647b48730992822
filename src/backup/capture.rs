//! Reads one function — code, configuration, versions, aliases, concurrency, tags, triggers,
//! URL, policy, async config, layers — through the provider, and stores it as blobs plus a
//! manifest (written last).

use std::collections::BTreeMap;

use sha2::{Digest, Sha256};

use super::BackupError;
use super::manifest::{BlobRef, Code, FORMAT, LayerRef, Manifest, VersionSnapshot, layout};
use super::store::{Store, hex, lambda_sha_to_hex};
use crate::provider::ProviderError;
use crate::provider::function::{CodeLocation, FunctionRead, FunctionReads};

/// How a backup run is asked for.
#[derive(Debug, Clone)]
pub struct CaptureOptions {
    pub storage_class: String,
    pub with_layers: bool,
    /// A safety snapshot taken before a restore changes the function.
    pub safety: bool,
}

/// What one function's backup did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Captured {
    pub function: String,
    pub region: String,
    pub snapshot: String,
    pub blobs: usize,
    pub uploaded_blobs: usize,
    pub uploaded_bytes: u64,
    pub size: u64,
    pub absent: BTreeMap<String, String>,
}

/// Collects blobs while a snapshot is taken: each distinct package is fetched and uploaded
/// once, and not at all when the bucket already holds it.
struct Blobs<'a, R> {
    reads: &'a R,
    store: &'a Store,
    storage_class: String,
    refs: BTreeMap<String, BlobRef>,
    uploaded: usize,
    uploaded_bytes: u64,
}

impl<R: FunctionReads> Blobs<'_, R> {
    /// Stores the package behind `location` whose Lambda hash is `lambda_sha256`.
    async fn package(
        &mut self,
        location: &str,
        lambda_sha256: &str,
        known_size: u64,
        role: &str,
    ) -> Result<(String, u64), BackupError> {
        let expected = lambda_sha_to_hex(lambda_sha256);
        // Functions backed up side by side often share a package (the same code in every
        // region): one of them fetches and uploads it, the others wait and find it there.
        let _one_at_a_time = match &expected {
            Some(sha) => Some(self.store.blob_lock(sha).await),
            None => None,
        };
        // Set once the bucket was asked and the blob is not there: no need to ask again.
        let mut not_stored = false;
        if let Some(sha) = &expected {
            if let Some(r) = self.refs.get(sha) {
                return Ok((sha.clone(), r.size));
            }
            let stored = if known_size == 0 {
                None
            } else if self.store.is_known(sha) {
                Some(known_size)
            } else {
                // Its SHA-256 proves the content; the size is the stored object's.
                self.store.blob_intact(sha, &self.storage_class).await?
            };
            if let Some(size) = stored {
                self.store.mark_known(sha);
                self.refs.insert(
                    sha.clone(),
                    BlobRef {
                        sha256: sha.clone(),
                        size,
                        role: role.to_string(),
                    },
                );
                return Ok((sha.clone(), size));
            }
            not_stored = known_size > 0 && !self.store.is_known(sha);
        }
        let bytes = self.reads.download(location).await?;
        let sha = hex(&Sha256::digest(&bytes));
        if let Some(expected) = expected.filter(|e| *e != sha) {
            return Err(BackupError::Corrupt(format!(
                "the downloaded {role} package has SHA-256 {sha}, but Lambda says {expected}: \
                 the download was damaged; run the backup again"
            )));
        }
        let size = bytes.len() as u64;
        let uploaded = if not_stored {
            self.store
                .upload_blob(&sha, bytes, &self.storage_class)
                .await?;
            true
        } else {
            self.store
                .put_blob(&sha, bytes, &self.storage_class)
                .await?
        };
        if uploaded {
            self.uploaded += 1;
            self.uploaded_bytes += size;
        }
        self.store.mark_known(&sha);
        self.refs.insert(
            sha.clone(),
            BlobRef {
                sha256: sha.clone(),
                size,
                role: role.to_string(),
            },
        );
        Ok((sha, size))
    }
}

/// Takes a snapshot of `function` in `region` (where `reads` reads) into `store`. A function
/// that changed while it was read (a version published and an alias moved onto it between the
/// reads) is read again, up to three times: a snapshot is stored only when it holds every
/// version its aliases route to (verify and restore refuse one that does not).
pub async fn capture(
    reads: &impl FunctionReads,
    region: &str,
    store: &Store,
    function: &str,
    options: &CaptureOptions,
    account: &str,
    data: &[super::manifest::DataCopy],
) -> Result<Captured, BackupError> {
    // What every try uploaded (a try read again keeps what it sent, and the summary says it).
    let mut sent = (0, 0);
    let mut tries = 0;
    loop {
        tries += 1;
        match capture_once(
            reads,
            region,
            store,
            function,
            options,
            (account, data),
            &mut sent,
        )
        .await
        {
            Err(BackupError::Conflict(_)) if tries < 3 => continue,
            other => return other,
        }
    }
}

async fn capture_once(
    reads: &impl FunctionReads,
    region: &str,
    store: &Store,
    function: &str,
    options: &CaptureOptions,
    (account, data): (&str, &[super::manifest::DataCopy]),
    sent: &mut (usize, u64),
) -> Result<Captured, BackupError> {
    let fail = |e: ProviderError| match e {
        ProviderError::NotFound(_) => BackupError::Invalid(format!(
            "function '{function}' does not exist in {region}: check the name with `lops status`"
        )),
        other => other.into(),
    };
    let got = reads.function(function, None).await.map_err(fail)?;
    // Found, then not: deleted while it is read.
    let fail = |e: ProviderError| match e {
        ProviderError::NotFound(m) => BackupError::Provider(ProviderError::NotFound(format!(
            "{function} was deleted while it was backed up ({m}): nothing was stored"
        ))),
        other => other.into(),
    };
    let mut blobs = Blobs {
        reads,
        store,
        storage_class: options.storage_class.clone(),
        refs: BTreeMap::new(),
        uploaded: 0,
        uploaded_bytes: 0,
    };
    let mut absent = BTreeMap::new();

    let latest = VersionSnapshot {
        version: "$LATEST".into(),
        config: got.config.clone(),
        code: code_of(&mut blobs, &got, "code").await?,
    };

    // Published versions, each with its configuration and package.
    let mut versions = Vec::new();
    for v in reads.published(function).await.map_err(fail)? {
        let code = if v.code_sha256 == got.code_sha256 {
            latest.code.clone()
        } else {
            let read = reads
                .function(function, Some(&v.version))
                .await
                .map_err(fail)?;
            let role = format!("code of version {}", v.version);
            code_of(&mut blobs, &read, &role).await?
        };
        versions.push(VersionSnapshot {
            version: v.version,
            config: v.config,
            code,
        });
    }
    let aliases = reads.alias_routes(function).await.map_err(fail)?;

    // The optional pieces: what is missing is recorded with the reason, never fatal (but the
    // function found gone midway).
    // Provisioned concurrency needs a version or alias: a function with neither has none.
    let provisioned = if versions.is_empty() && aliases.is_empty() {
        Some(Vec::new())
    } else {
        optional(
            reads.provisioned(function).await,
            (function, "provisioned_concurrency"),
            &mut absent,
        )?
    };
    let alias_names: Vec<String> = aliases.iter().map(|a| a.name.clone()).collect();
    let mappings = optional(
        crate::provider::function::whole_mappings(reads, function, &alias_names).await,
        (function, "event_source_mappings"),
        &mut absent,
    )?;
    let function_url = optional(
        reads.url_config(function).await,
        (function, "function_url"),
        &mut absent,
    )?;
    let policy = optional(
        crate::provider::function::whole_policy(reads, function, &alias_names).await,
        (function, "policy"),
        &mut absent,
    )?
    .flatten();
    let async_invoke = optional(
        reads.async_config(function).await,
        (function, "async_invoke"),
        &mut absent,
    )?;

    let layers = capture_layers(
        &mut blobs,
        options.with_layers,
        std::iter::once(&latest).chain(&versions),
        &got.layer_sizes,
        &mut absent,
    )
    .await;

    let now = chrono::Utc::now();
    let manifest = Manifest {
        format: FORMAT.into(),
        function: function.to_string(),
        region: region.to_string(),
        account: account.to_string(),
        taken_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        lops_version: env!("CARGO_PKG_VERSION").into(),
        storage_class: options.storage_class.clone(),
        blobs: blobs.refs.values().cloned().collect(),
        latest,
        versions,
        aliases,
        reserved_concurrency: got.reserved_concurrency,
        tags: got.tags.clone(),
        provisioned_concurrency: provisioned,
        event_source_mappings: mappings,
        function_url,
        policy,
        async_invoke,
        layers,
        absent: absent.clone(),
        data: data.to_vec(),
    };
    let mut stamp = layout::stamp(now);
    if options.safety {
        stamp.push_str(layout::SAFETY);
    }
    let rel = layout::manifest(region, function, &stamp);
    sent.0 += blobs.uploaded;
    sent.1 += blobs.uploaded_bytes;
    // Read while it changed: an alias onto a version published after the versions were read.
    let moved: Vec<String> = (manifest.problems(&rel).into_iter())
        .filter(|p| p.starts_with("incomplete: alias"))
        .map(|p| p.trim_start_matches("incomplete: ").to_string())
        .collect();
    if !moved.is_empty() {
        return Err(BackupError::Conflict(format!(
            "{function} in {region} changed while it was backed up ({}): nothing was stored — \
             run the backup again once it is not being published to",
            moved.join("; ")
        )));
    }
    // Last: only now is the snapshot complete, and only now can it be listed.
    store.put_small(&rel, manifest.to_json()).await?;
    Ok(Captured {
        function: function.to_string(),
        region: region.to_string(),
        snapshot: store.uri(&rel).to_string(),
        blobs: manifest.blobs.len(),
        uploaded_blobs: sent.0,
        uploaded_bytes: sent.1,
        size: manifest.total_size(),
        absent,
    })
}

/// An optional piece: what could not be read goes in `absent`, named with why. Lambda saying
/// the function itself is not found (deleted while it was read) fails the backup: its pieces
/// are not "not configured", and a snapshot would bring back a function without them.
fn optional<T>(
    read: Result<T, ProviderError>,
    (function, piece): (&str, &str),
    absent: &mut BTreeMap<String, String>,
) -> Result<Option<T>, BackupError> {
    match read {
        Ok(t) => Ok(Some(t)),
        Err(ProviderError::NotFound(m)) if m.contains("Function not found") => {
            Err(BackupError::Provider(ProviderError::NotFound(format!(
                "{function} was deleted while it was backed up (its {piece}: {m}): nothing was \
                 stored"
            ))))
        }
        Err(e) => {
            absent.insert(piece.to_string(), why(e));
            Ok(None)
        }
    }
}

async fn code_of(
    blobs: &mut Blobs<'_, impl FunctionReads>,
    read: &FunctionRead,
    role: &str,
) -> Result<Code, BackupError> {
    let lambda_sha256 = read.code_sha256.clone();
    let url = match &read.code {
        CodeLocation::Image {
            image_uri,
            resolved_image_uri,
        } => {
            return Ok(Code::Image {
                image_uri: image_uri.clone(),
                resolved_image_uri: resolved_image_uri.clone(),
                lambda_sha256,
            });
        }
        CodeLocation::Zip(url) => url.as_deref().ok_or_else(|| {
            BackupError::Provider(ProviderError::Unsupported(format!(
                "GetFunction returned no code location for the {role}"
            )))
        })?,
    };
    let (sha256, size) = blobs
        .package(url, &lambda_sha256, read.code_size, role)
        .await?;
    Ok(Code::Zip {
        sha256,
        size,
        lambda_sha256,
    })
}

fn why(e: ProviderError) -> String {
    match e {
        ProviderError::NotFound(_) => "not configured".into(),
        ProviderError::Unsupported(m) => format!("not supported by the endpoint ({m})"),
        other => format!("could not be read: {other}"),
    }
}

/// Every layer version `$LATEST` or a published version uses, once; with `with_layers` its
/// content is stored as a blob too (a layer whose content cannot be fetched is recorded by ARN
/// only, the reason in `absent`).
async fn capture_layers<'a>(
    blobs: &mut Blobs<'_, impl FunctionReads>,
    with_layers: bool,
    snapshots: impl Iterator<Item = &'a VersionSnapshot>,
    sizes: &BTreeMap<String, i64>,
    absent: &mut BTreeMap<String, String>,
) -> Vec<LayerRef> {
    let mut layers: Vec<LayerRef> = Vec::new();
    let used: Vec<String> = snapshots
        .flat_map(|v| v.config.layers.iter().cloned())
        .collect();
    for arn in &used {
        if layers.iter().any(|l| &l.arn == arn) {
            continue;
        }
        let mut layer = LayerRef {
            arn: arn.clone(),
            code_size: sizes.get(arn).copied().unwrap_or_default(),
            blob: None,
            compatible_runtimes: Vec::new(),
        };
        if with_layers {
            match blobs.reads.layer_version(arn).await {
                Ok(found) => {
                    layer.compatible_runtimes = found.compatible_runtimes;
                    layer.code_size = found.code_size;
                    // A layer whose content cannot be fetched is recorded by ARN only.
                    let stored = match &found.location {
                        Some(location) => blobs
                            .package(
                                location,
                                &found.code_sha256,
                                found.code_size.max(0) as u64,
                                &format!("layer {arn}"),
                            )
                            .await
                            .map(|(sha, _)| sha)
                            .map_err(|e| e.to_string()),
                        None => Err("the endpoint gives no address to download it from".into()),
                    };
                    match stored {
                        Ok(sha) => layer.blob = Some(sha),
                        Err(e) => {
                            absent.insert(format!("layer content {arn}"), e);
                        }
                    }
                }
                Err(e) => {
                    absent.insert(format!("layer {arn}"), why(e));
                }
            }
        }
        layers.push(layer);
    }
    layers
}
