//! The snapshot manifest: everything needed to rebuild one function, and the list of
//! content-addressed blobs (with SHA-256 and size) it depends on. Written last, so a manifest
//! that exists names a complete snapshot.

use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

pub use crate::provider::function::{
    AliasSnapshot, EventSourceMapping, FunctionConfig, Provisioned,
};

pub const FORMAT: &str = "lops-snapshot/2";
/// The first format: its configurations do not record logging, EFS mounts, image overrides or
/// SnapStart (read, with those taken as the target has them).
pub const FORMAT_1: &str = "lops-snapshot/1";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Manifest {
    pub format: String,
    pub function: String,
    pub region: String,
    pub account: String,
    /// UTC, RFC 3339.
    pub taken_at: String,
    pub lops_version: String,
    pub storage_class: String,
    /// Every blob the snapshot needs.
    pub blobs: Vec<BlobRef>,
    /// `$LATEST`: configuration and code.
    pub latest: VersionSnapshot,
    /// Published versions, oldest first.
    pub versions: Vec<VersionSnapshot>,
    pub aliases: Vec<AliasSnapshot>,
    pub reserved_concurrency: Option<i32>,
    pub tags: BTreeMap<String, String>,
    /// Pieces that are recorded (may be `None` = absent, with the reason in `absent`).
    pub provisioned_concurrency: Option<Vec<Provisioned>>,
    pub event_source_mappings: Option<Vec<EventSourceMapping>>,
    pub function_url: Option<serde_json::Value>,
    /// The resource policy document, as AWS returns it.
    pub policy: Option<String>,
    pub async_invoke: Option<serde_json::Value>,
    pub layers: Vec<LayerRef>,
    /// Piece → why it is not in the snapshot ("not configured", "not supported by the endpoint").
    pub absent: BTreeMap<String, String>,
    /// S3 data copied server-side with this snapshot.
    pub data: Vec<DataCopy>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct BlobRef {
    pub sha256: String,
    pub size: u64,
    /// What it holds: "code", "layer:ARN".
    pub role: String,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VersionSnapshot {
    /// "$LATEST" or the published number.
    pub version: String,
    pub config: FunctionConfig,
    pub code: Code,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase", deny_unknown_fields)]
pub enum Code {
    /// A zip package, stored as a blob.
    Zip {
        /// SHA-256 (hex) of the zip: the blob's address.
        sha256: String,
        size: u64,
        /// Lambda's CodeSha256 (base64), to compare with a live function.
        lambda_sha256: String,
    },
    /// A container image: restored by reference (the registry keeps the image).
    Image {
        image_uri: String,
        resolved_image_uri: Option<String>,
        lambda_sha256: String,
    },
}

impl Code {
    pub fn lambda_sha256(&self) -> &str {
        match self {
            Code::Zip { lambda_sha256, .. } | Code::Image { lambda_sha256, .. } => lambda_sha256,
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LayerRef {
    pub arn: String,
    pub code_size: i64,
    /// Set with `--with-layers`: the layer's content blob (hex SHA-256).
    pub blob: Option<String>,
    pub compatible_runtimes: Vec<String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataCopy {
    /// Where the data came from.
    pub source: String,
    /// Where its copy lives (under the backup prefix).
    pub copy: String,
    pub objects: Vec<DataObject>,
}

impl DataCopy {
    /// Where the copy is read from a store at `root`: the manifest records the address it was
    /// written to (`OLD_ROOT/data/STAMP/BUCKET[/PREFIX]`), and a store copied elsewhere — a
    /// replica bucket in another region, a prefix moved — holds it at the same place under its
    /// own root, as it holds the blobs. Read there, never from the store it was copied from
    /// (which may be the one that is down). A copy not in that layout is read where it says.
    pub fn copy_in(
        &self,
        root: &crate::backup::uri::S3Uri,
    ) -> Result<crate::backup::uri::S3Uri, String> {
        use crate::backup::uri::S3Uri;
        let copy = S3Uri::parse(&self.copy)?;
        let moved = || -> Option<String> {
            let source = S3Uri::parse(&self.source).ok()?;
            let tail = if source.key.is_empty() {
                source.bucket.clone()
            } else {
                format!("{}/{}", source.bucket, source.key)
            };
            let before = copy.key.strip_suffix(&tail)?.strip_suffix('/')?;
            let (data, stamp) = before.rsplit_once('/')?;
            chrono::NaiveDateTime::parse_from_str(stamp, "%Y%m%dT%H%M%S%.3fZ").ok()?;
            let old_root = if data == "data" {
                ""
            } else {
                data.strip_suffix("/data")?
            };
            let rel = copy.key[old_root.len()..].trim_start_matches('/');
            Some(root.exact_child(rel))
        };
        Ok(match moved() {
            Some(key) => root.with_key(key),
            None => copy,
        })
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DataObject {
    /// Key relative to the source prefix.
    pub key: String,
    pub size: u64,
    pub etag: String,
    /// The copy's ETag (differs from the source's for multipart copies).
    pub copy_etag: String,
}

/// Why a manifest could not be read.
#[derive(Debug, Clone, PartialEq, thiserror::Error)]
pub enum Unreadable {
    /// Written by a newer lops, in a format this one does not know.
    #[error("{0}")]
    Newer(String),
    /// Not a manifest, or one with values no manifest can hold.
    #[error("{0}")]
    Broken(String),
}

impl From<String> for Unreadable {
    fn from(m: String) -> Self {
        Unreadable::Broken(m)
    }
}

/// Says so when `bytes` name a format of a later number than this lops writes.
fn newer_format(bytes: &[u8]) -> Option<String> {
    #[derive(Deserialize)]
    struct Head {
        format: String,
        #[serde(default)]
        lops_version: String,
    }
    let head: Head = serde_json::from_slice(bytes).ok()?;
    let number = |f: &str| f.strip_prefix("lops-snapshot/")?.parse::<u64>().ok();
    let ours = number(FORMAT)?;
    (number(&head.format)? > ours).then(|| {
        // Its version only when it says more than "this one" (a hand-edited format).
        let by = if head.lops_version.is_empty() || head.lops_version == env!("CARGO_PKG_VERSION") {
            String::new()
        } else {
            format!(" {}", head.lops_version)
        };
        format!(
            "written by a newer lops{by} (format '{}'; this lops {} reads up to '{FORMAT}'): \
             upgrade lops to read it",
            head.format,
            env!("CARGO_PKG_VERSION")
        )
    })
}

impl Manifest {
    /// Why `piece` (`policy`, `function_url`, `event_source_mappings`, `async_invoke`,
    /// `provisioned_concurrency`) is not in the snapshot when it is not known to have none:
    /// its read failed, or the endpoint does not serve it. The function may have had it.
    pub fn unread(&self, piece: &str) -> Option<&str> {
        self.absent
            .get(piece)
            .map(String::as_str)
            .filter(|why| *why != "not configured")
    }

    /// Whether its configurations record logging, EFS mounts, image overrides and SnapStart
    /// (a snapshot taken before they were says nothing of them).
    pub fn records_logging_and_mounts(&self) -> bool {
        self.format != FORMAT_1
    }

    /// Parses and checks a manifest; the message says what is wrong. One a newer lops wrote is
    /// told apart from a broken one (it may hold fields this one does not know): upgrade.
    pub fn from_json(bytes: &[u8]) -> Result<Manifest, Unreadable> {
        if let Some(newer) = newer_format(bytes) {
            return Err(Unreadable::Newer(newer));
        }
        Ok(Self::parse(bytes)?)
    }

    fn parse(bytes: &[u8]) -> Result<Manifest, String> {
        let m: Manifest = serde_json::from_slice(bytes)
            .map_err(|e| format!("not a lops snapshot manifest ({e})"))?;
        if m.format != FORMAT && m.format != FORMAT_1 {
            return Err(format!(
                "manifest format '{}' is not one this lops reads ({FORMAT})",
                m.format
            ));
        }
        for b in &m.blobs {
            if !is_sha256_hex(&b.sha256) {
                return Err(format!(
                    "manifest lists a blob with a malformed SHA-256 '{}'",
                    b.sha256
                ));
            }
        }
        for v in std::iter::once(&m.latest).chain(&m.versions) {
            if let Code::Zip { sha256, .. } = &v.code
                && !m.blobs.iter().any(|b| &b.sha256 == sha256)
            {
                return Err(format!(
                    "manifest's version {} needs blob {sha256}, which it does not list",
                    v.version
                ));
            }
        }
        Ok(m)
    }

    pub fn to_json(&self) -> Vec<u8> {
        serde_json::to_vec_pretty(self).unwrap_or_default()
    }

    /// Bytes it holds (saturating: an edited size must not overflow a listing).
    pub fn total_size(&self) -> u64 {
        self.blobs
            .iter()
            .map(|b| b.size)
            .chain(self.data.iter().flat_map(|d| &d.objects).map(|o| o.size))
            .fold(0u64, u64::saturating_add)
    }

    /// Values no function can have, or that contradict where the manifest lies (`key`: its
    /// S3 key, `…/snapshots/REGION/FUNCTION/STAMP.json`): each is a problem verify names and a
    /// restore refuses, before anything is written.
    pub fn problems(&self, key: &str) -> Vec<String> {
        let mut out = Vec::new();
        let mut out_incomplete = Vec::new();
        let mut bad = |what: String| out.push(format!("invalid: {what}"));
        let name_ok = !self.function.is_empty()
            && self.function.len() <= 64
            && self
                .function
                .chars()
                .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
        if !name_ok {
            bad(format!("function name '{}'", self.function));
        }
        let mut parts = key.rsplit('/');
        let (_, function, region) = (parts.next(), parts.next(), parts.next());
        if parts.next().is_some_and(|s| s == "snapshots") {
            if function != Some(self.function.as_str()) {
                bad(format!(
                    "it names function {} but lies under {}",
                    self.function,
                    function.unwrap_or_default()
                ));
            }
            if region != Some(self.region.as_str()) {
                bad(format!(
                    "it names region {} but lies under {}",
                    self.region,
                    region.unwrap_or_default()
                ));
            }
        }
        if chrono::DateTime::parse_from_rfc3339(&self.taken_at).is_err() {
            bad(format!("taken_at '{}' is not a time", self.taken_at));
        }
        if self.reserved_concurrency.is_some_and(|n| n < 0) {
            bad(format!(
                "reserved concurrency {}",
                self.reserved_concurrency.unwrap_or_default()
            ));
        }
        let mut seen = std::collections::BTreeSet::new();
        for v in std::iter::once(&self.latest).chain(&self.versions) {
            if !seen.insert(v.version.as_str()) {
                bad(format!("version {} is listed twice", v.version));
            }
            let c = &v.config;
            if c.memory_size.is_some_and(|m| !(128..=10_240).contains(&m)) {
                bad(format!(
                    "version {}: memory {} MB (Lambda takes 128 to 10240)",
                    v.version,
                    c.memory_size.unwrap_or_default()
                ));
            }
            if c.timeout.is_some_and(|t| !(1..=900).contains(&t)) {
                bad(format!(
                    "version {}: timeout {} s (Lambda takes 1 to 900)",
                    v.version,
                    c.timeout.unwrap_or_default()
                ));
            }
            if c.ephemeral_storage
                .is_some_and(|e| !(512..=10_240).contains(&e))
            {
                bad(format!(
                    "version {}: ephemeral storage {} MB (Lambda takes 512 to 10240)",
                    v.version,
                    c.ephemeral_storage.unwrap_or_default()
                ));
            }
            // Names Lambda keeps for itself: a function can have none of them set.
            const RESERVED: [&str; 5] = [
                "AWS_REGION",
                "AWS_DEFAULT_REGION",
                "AWS_ACCESS_KEY_ID",
                "AWS_SECRET_ACCESS_KEY",
                "AWS_SESSION_TOKEN",
            ];
            if let Some(key) = c
                .environment
                .keys()
                .find(|k| RESERVED.contains(&k.as_str()))
            {
                bad(format!(
                    "version {}: environment variable {key} (Lambda sets it itself)",
                    v.version
                ));
            }
            // The package's address is Lambda's own hash of it: the two say the same, or the
            // manifest was edited (or pieced together from another's), and a restore would
            // upload other code than its preview names.
            if let Code::Zip {
                sha256,
                lambda_sha256,
                ..
            } = &v.code
                && super::store::lambda_sha_to_hex(lambda_sha256).is_none_or(|h| h != *sha256)
            {
                bad(format!(
                    "version {}: its package {} is not the code Lambda hashed ({lambda_sha256})",
                    v.version,
                    sha256.get(..12).unwrap_or(sha256)
                ));
            }
        }
        let mut names = std::collections::BTreeSet::new();
        for a in &self.aliases {
            if !names.insert(a.name.as_str()) {
                bad(format!("alias {} is listed twice", a.name));
            }
            // Every alias must route to a version the snapshot holds (or $LATEST), or a restore
            // would stop half-way.
            for v in std::iter::once(&a.function_version).chain(a.weights.keys()) {
                if v != "$LATEST" && !self.versions.iter().any(|x| &x.version == v) {
                    out_incomplete.push(format!(
                        "incomplete: alias {} routes to version {v}, which the snapshot does not \
                         hold",
                        a.name
                    ));
                }
            }
            // Lambda splits traffic between the alias's version and one other.
            if a.weights.len() > 1 || a.weights.contains_key(&a.function_version) {
                bad(format!(
                    "alias {} routes to {} with weights {:?} (Lambda takes one other version)",
                    a.name, a.function_version, a.weights
                ));
            }
            // Lambda splits traffic only between published versions.
            if !a.weights.is_empty()
                && (a.function_version == "$LATEST" || a.weights.contains_key("$LATEST"))
            {
                bad(format!(
                    "alias {} splits traffic with $LATEST (Lambda weights only published versions)",
                    a.name
                ));
            }
            for (version, w) in &a.weights {
                if !(0.0..1.0).contains(w) {
                    bad(format!(
                        "alias {} gives version {version} a weight of {w} (0 ≤ W < 1)",
                        a.name
                    ));
                }
            }
        }
        out.extend(out_incomplete);
        out
    }
}

pub fn is_sha256_hex(s: &str) -> bool {
    s.len() == 64
        && s.bytes()
            .all(|b| b.is_ascii_hexdigit() && !b.is_ascii_uppercase())
}

/// Key layout under the backup prefix.
pub mod layout {
    pub fn blob(sha256: &str) -> String {
        format!("blobs/sha256/{sha256}")
    }

    pub fn manifest(region: &str, function: &str, stamp: &str) -> String {
        format!("snapshots/{region}/{function}/{stamp}.json")
    }

    /// What marks a safety snapshot's stamp (taken by a restore of the target it changes): it
    /// is listed as such and has its own retention.
    pub const SAFETY: &str = "-safety";

    pub fn is_safety(stamp: &str) -> bool {
        stamp.ends_with(SAFETY)
    }

    /// Where a backup run holds its lease while it may reuse blobs (see `Store::lease`).
    pub fn lease(id: &str) -> String {
        format!("leases/{id}.json")
    }

    /// Where prunes hold their locks while they delete blobs (`leases/prune-ID.lock`).
    pub const PRUNE_LOCK_PREFIX: &str = "leases/prune-";

    /// `20261125T104502Z`: sorts in time order and is safe in a key.
    pub fn stamp(time: chrono::DateTime<chrono::Utc>) -> String {
        time.format("%Y%m%dT%H%M%S%.3fZ").to_string()
    }

    /// (region, function, stamp) of a manifest key relative to the prefix.
    pub fn parse_manifest(rel: &str) -> Option<(String, String, String)> {
        let rest = rel.strip_prefix("snapshots/")?;
        let mut parts = rest.split('/');
        let region = parts.next()?;
        let function = parts.next()?;
        let file = parts.next()?;
        if parts.next().is_some() || region.is_empty() || function.is_empty() {
            return None;
        }
        let stamp = file.strip_suffix(".json")?;
        Some((region.into(), function.into(), stamp.into()))
    }

    pub fn data(stamp: &str, bucket: &str) -> String {
        format!("data/{stamp}/{bucket}")
    }
}

#[cfg(test)]
#[path = "manifest_tests.rs"]
mod tests;
