//! Reads one function — code, configuration, versions, aliases, concurrency, tags, triggers,
//! URL, policy, async config, layers — and stores it as blobs plus a manifest (written last).

use std::collections::BTreeMap;

use aws_sdk_lambda::types::FunctionConfiguration;
use sha2::{Digest, Sha256};

use super::BackupError;
use super::download;
use super::manifest::{
    BlobRef, Code, EventSourceMapping, FORMAT, LayerRef, Manifest, VersionSnapshot, layout,
};
use super::read::{aliases_of, config_of, published};
use super::store::{Store, hex, lambda_sha_to_hex};
use crate::provider::ProviderError;
use crate::provider::aws::{Clients, classify};

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
struct Blobs<'a> {
    store: &'a Store,
    storage_class: String,
    refs: BTreeMap<String, BlobRef>,
    uploaded: usize,
    uploaded_bytes: u64,
    timeout: std::time::Duration,
    download_base: Option<String>,
}

impl Blobs<'_> {
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
            if known_size > 0
                && (self.store.is_known(sha) || self.store.exists(&layout::blob(sha)).await?)
            {
                self.store.mark_known(sha);
                self.refs.insert(
                    sha.clone(),
                    BlobRef {
                        sha256: sha.clone(),
                        size: known_size,
                        role: role.to_string(),
                    },
                );
                return Ok((sha.clone(), known_size));
            }
            not_stored = known_size > 0 && !self.store.is_known(sha);
        }
        let bytes = download::fetch(location, self.download_base.as_deref(), self.timeout).await?;
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

/// Takes a snapshot of `function` in the clients' region into `store`.
pub async fn capture(
    clients: &Clients,
    store: &Store,
    function: &str,
    options: &CaptureOptions,
    account: &str,
    data: &[super::manifest::DataCopy],
) -> Result<Captured, BackupError> {
    let timeout = clients.operation_timeout.as_secs_f64();
    let lambda = &clients.lambda;
    let fail = |e: ProviderError| match e {
        ProviderError::NotFound(_) => BackupError::Invalid(format!(
            "function '{function}' does not exist in {}: check the name with `lops status`",
            clients.scope.region
        )),
        other => BackupError::Provider(other),
    };
    clients.get_function_limit.acquire_first().await;
    let got = lambda
        .get_function()
        .function_name(function)
        .send()
        .await
        .map_err(|e| fail(classify(e, timeout)))?;
    let config = got
        .configuration()
        .ok_or_else(|| BackupError::Invalid(format!("GetFunction {function}: no configuration")))?
        .clone();
    let mut blobs = Blobs {
        store,
        storage_class: options.storage_class.clone(),
        refs: BTreeMap::new(),
        uploaded: 0,
        uploaded_bytes: 0,
        timeout: clients
            .operation_timeout
            .max(std::time::Duration::from_secs(120)),
        download_base: clients.code_download_base.clone(),
    };
    let mut absent = BTreeMap::new();

    let latest_code = code_of(&mut blobs, &config, got.code(), "code").await?;
    let latest = VersionSnapshot {
        version: "$LATEST".into(),
        config: config_of(&config),
        code: latest_code,
    };

    // Published versions, each with its configuration and package.
    let mut versions = Vec::new();
    for v in published(clients, function).await.map_err(fail)? {
        let number = v.version().unwrap_or_default().to_string();
        let code = if v.code_sha256() == config.code_sha256() {
            latest.code.clone()
        } else {
            clients.get_function_limit.acquire_first().await;
            let got = lambda
                .get_function()
                .function_name(function)
                .qualifier(&number)
                .send()
                .await
                .map_err(|e| fail(classify(e, timeout)))?;
            code_of(
                &mut blobs,
                &v,
                got.code(),
                &format!("code of version {number}"),
            )
            .await?
        };
        versions.push(VersionSnapshot {
            version: number,
            config: config_of(&v),
            code,
        });
    }
    let aliases = aliases_of(clients, function).await.map_err(fail)?;

    let reserved_concurrency = got
        .concurrency()
        .and_then(|c| c.reserved_concurrent_executions());
    let tags: BTreeMap<String, String> = got
        .tags()
        .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
        .unwrap_or_default();

    // The optional pieces: what is missing is recorded with the reason, never fatal.
    // Provisioned concurrency needs a version or alias: a function with neither has none, and
    // an endpoint that answered "unsupported" once is not asked again (one call saved each).
    let unsupported = clients
        .provisioned_unsupported
        .load(std::sync::atomic::Ordering::Relaxed);
    let provisioned = if versions.is_empty() && aliases.is_empty() {
        Some(Vec::new())
    } else if unsupported {
        absent.insert(
            "provisioned_concurrency".into(),
            "not supported by the endpoint".into(),
        );
        None
    } else {
        match super::read::provisioned(clients, function).await {
            Ok(all) => Some(all),
            Err(e) => {
                if matches!(e, ProviderError::Unsupported(_)) {
                    clients
                        .provisioned_unsupported
                        .store(true, std::sync::atomic::Ordering::Relaxed);
                }
                absent.insert("provisioned_concurrency".into(), why(e));
                None
            }
        }
    };

    clients.lambda_limit.acquire_first().await;
    let mappings = match lambda
        .list_event_source_mappings()
        .function_name(function)
        .send()
        .await
    {
        Ok(out) => Some(
            out.event_source_mappings()
                .iter()
                .map(|m| EventSourceMapping {
                    uuid: m.uuid().unwrap_or_default().to_string(),
                    source_arn: m.event_source_arn().map(str::to_string),
                    state: m.state().map(str::to_string),
                    batch_size: m.batch_size(),
                    starting_position: m.starting_position().map(|p| p.as_str().to_string()),
                    maximum_batching_window: m.maximum_batching_window_in_seconds(),
                    qualifier: m
                        .function_arn()
                        .and_then(|a| a.split(':').nth(7))
                        .map(str::to_string),
                })
                .collect(),
        ),
        Err(e) => {
            absent.insert("event_source_mappings".into(), why(classify(e, timeout)));
            None
        }
    };

    let function_url = match super::read::url_config(clients, function).await {
        Ok(url) => Some(url),
        Err(e) => {
            absent.insert("function_url".into(), why(e));
            None
        }
    };

    clients.lambda_limit.acquire_first().await;
    let policy = match lambda.get_policy().function_name(function).send().await {
        Ok(out) => out.policy().map(str::to_string),
        Err(e) => {
            absent.insert("policy".into(), why(classify(e, timeout)));
            None
        }
    };

    let async_invoke = match super::read::async_config(clients, function).await {
        Ok(config) => Some(config),
        Err(e) => {
            absent.insert("async_invoke".into(), why(e));
            None
        }
    };

    let layers = capture_layers(
        clients,
        &mut blobs,
        options.with_layers,
        std::iter::once(&latest).chain(&versions),
        config.layers(),
        &mut absent,
    )
    .await;

    let now = chrono::Utc::now();
    let manifest = Manifest {
        format: FORMAT.into(),
        function: function.to_string(),
        region: clients.scope.region.clone(),
        account: account.to_string(),
        taken_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
        lops_version: env!("CARGO_PKG_VERSION").into(),
        storage_class: options.storage_class.clone(),
        blobs: blobs.refs.values().cloned().collect(),
        latest,
        versions,
        aliases,
        reserved_concurrency,
        tags,
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
    let rel = layout::manifest(&clients.scope.region, function, &stamp);
    // Last: only now is the snapshot complete, and only now can it be listed.
    store.put_small(&rel, manifest.to_json()).await?;
    Ok(Captured {
        function: function.to_string(),
        region: clients.scope.region.clone(),
        snapshot: store.uri(&rel).to_string(),
        blobs: manifest.blobs.len(),
        uploaded_blobs: blobs.uploaded,
        uploaded_bytes: blobs.uploaded_bytes,
        size: manifest.total_size(),
        absent,
    })
}

async fn code_of(
    blobs: &mut Blobs<'_>,
    config: &FunctionConfiguration,
    location: Option<&aws_sdk_lambda::types::FunctionCodeLocation>,
    role: &str,
) -> Result<Code, BackupError> {
    let lambda_sha256 = config.code_sha256().unwrap_or_default().to_string();
    if config.package_type().map(|p| p.as_str()) == Some("Image")
        || location.and_then(|l| l.image_uri()).is_some()
    {
        return Ok(Code::Image {
            image_uri: location
                .and_then(|l| l.image_uri())
                .unwrap_or_default()
                .to_string(),
            resolved_image_uri: location
                .and_then(|l| l.resolved_image_uri())
                .map(str::to_string),
            lambda_sha256,
        });
    }
    let url = location.and_then(|l| l.location()).ok_or_else(|| {
        BackupError::Provider(ProviderError::Unsupported(format!(
            "GetFunction returned no code location for the {role}"
        )))
    })?;
    let (sha256, size) = blobs
        .package(url, &lambda_sha256, config.code_size().max(0) as u64, role)
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
    clients: &Clients,
    blobs: &mut Blobs<'_>,
    with_layers: bool,
    snapshots: impl Iterator<Item = &'a VersionSnapshot>,
    sizes: &[aws_sdk_lambda::types::Layer],
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
            code_size: sizes
                .iter()
                .find(|l| l.arn() == Some(arn.as_str()))
                .map(|l| l.code_size())
                .unwrap_or_default(),
            blob: None,
            compatible_runtimes: Vec::new(),
        };
        if with_layers {
            match super::read::layer_version(clients, arn).await {
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
