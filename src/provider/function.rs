//! A function as a snapshot reads it — configuration, published versions, aliases, provisioned
//! concurrency, event source mappings, URL, policy, asynchronous invoke configuration, layers,
//! code — and the writes a restore makes to put one in place, whichever provider answers. Plain
//! data: the backup manifest keeps these types as they are, so they serialize in the manifest's
//! format.

use std::collections::BTreeMap;
use std::future::Future;

use serde::{Deserialize, Serialize};

use super::ProviderError;

/// The configuration lops restores (what UpdateFunctionConfiguration takes).
#[derive(Debug, Clone, PartialEq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FunctionConfig {
    pub runtime: Option<String>,
    pub handler: Option<String>,
    pub role: String,
    pub description: Option<String>,
    pub memory_size: Option<i32>,
    pub timeout: Option<i32>,
    pub environment: BTreeMap<String, String>,
    pub layers: Vec<String>,
    pub subnet_ids: Vec<String>,
    pub security_group_ids: Vec<String>,
    pub architectures: Vec<String>,
    pub ephemeral_storage: Option<i32>,
    pub dead_letter_target: Option<String>,
    pub tracing_mode: Option<String>,
    pub kms_key_arn: Option<String>,
    pub package_type: Option<String>,
    /// Where its logs go when not to `/aws/lambda/NAME` (a name a restore under another name
    /// must not carry over).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_group: Option<String>,
    /// "JSON" when not the default text, with its application and system log levels.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_format: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub application_log_level: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub system_log_level: Option<String>,
    /// EFS access points it mounts.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub file_systems: Vec<FileSystem>,
    /// A container image's entry point, command and working directory, where overridden.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub image_config: Option<ImageConfig>,
    /// SnapStart ("PublishedVersions") when on.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snap_start: Option<String>,
}

/// An EFS access point mounted into the function.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileSystem {
    pub arn: String,
    pub local_mount_path: String,
}

/// A container image's overrides.
#[derive(Debug, Clone, PartialEq, Eq, Default, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageConfig {
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub entry_point: Vec<String>,
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub command: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub working_directory: Option<String>,
}

impl FunctionConfig {
    /// The fields that make two versions "the same" for restore's convergence check: each
    /// field either side sets (one left out reads as unset).
    pub fn differences(&self, other: &FunctionConfig) -> Vec<String> {
        let a = serde_json::to_value(self).unwrap_or_default();
        let b = serde_json::to_value(other).unwrap_or_default();
        let (Some(a), Some(b)) = (a.as_object(), b.as_object()) else {
            return Vec::new();
        };
        let keys: std::collections::BTreeSet<&String> = a.keys().chain(b.keys()).collect();
        let null = serde_json::Value::Null;
        keys.into_iter()
            .filter_map(|k| {
                let (mine, theirs) = (a.get(k).unwrap_or(&null), b.get(k).unwrap_or(&null));
                (mine != theirs).then(|| match k.as_str() {
                    // Variables often hold secrets: which changed, never their values (a
                    // preview goes to cron logs and terminals shared in an incident).
                    "environment" => format!("{k}: {}", variables_changed(theirs, mine)),
                    _ => format!("{k}: {} → {}", short(theirs), short(mine)),
                })
            })
            .collect()
    }
}

/// The variables `after` adds, changes and removes against `before`, by name only.
fn variables_changed(before: &serde_json::Value, after: &serde_json::Value) -> String {
    let empty = serde_json::Map::new();
    let (b, a) = (
        before.as_object().unwrap_or(&empty),
        after.as_object().unwrap_or(&empty),
    );
    let names = |keys: Vec<&String>| {
        keys.iter()
            .map(|k| k.as_str())
            .collect::<Vec<_>>()
            .join(", ")
    };
    let mut parts = Vec::new();
    let added: Vec<&String> = a.keys().filter(|k| !b.contains_key(*k)).collect();
    let changed: Vec<&String> = a
        .iter()
        .filter(|(k, v)| b.get(*k).is_some_and(|old| old != *v))
        .map(|(k, _)| k)
        .collect();
    let removed: Vec<&String> = b.keys().filter(|k| !a.contains_key(*k)).collect();
    for (what, keys) in [("set", added), ("changed", changed), ("removed", removed)] {
        if !keys.is_empty() {
            parts.push(format!("{what} {}", names(keys)));
        }
    }
    format!("{} (values not shown)", parts.join("; "))
}

/// The field a line of [`FunctionConfig::differences`] is about ("field: before → after").
pub fn changed_field(change: &str) -> &str {
    change.split(':').next().unwrap_or(change)
}

fn short(v: &serde_json::Value) -> String {
    let s = v.to_string();
    if s.chars().count() > 60 {
        format!("{}…", s.chars().take(59).collect::<String>())
    } else {
        s
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct AliasSnapshot {
    pub name: String,
    pub function_version: String,
    pub description: Option<String>,
    /// Extra version → weight.
    pub weights: BTreeMap<String, f64>,
}

/// Provisioned concurrency requested on one alias or version.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Provisioned {
    pub qualifier: String,
    pub requested: i32,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EventSourceMapping {
    pub uuid: String,
    pub source_arn: Option<String>,
    pub state: Option<String>,
    pub batch_size: Option<i32>,
    pub starting_position: Option<String>,
    pub maximum_batching_window: Option<i32>,
    /// "FUNCTION" or "FUNCTION:QUALIFIER" as the mapping targets it.
    pub qualifier: Option<String>,
}

/// Where a function's code is, as GetFunction says.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeLocation {
    /// A zip package behind a short-lived download address (`None`: the endpoint gave none).
    Zip(Option<String>),
    Image {
        image_uri: String,
        resolved_image_uri: Option<String>,
    },
}

/// One version of a function (`$LATEST` or published) as GetFunction answers.
#[derive(Debug, Clone, PartialEq)]
pub struct FunctionRead {
    pub arn: String,
    pub config: FunctionConfig,
    /// Lambda's CodeSha256 (base64).
    pub code_sha256: String,
    pub code_size: u64,
    pub code: CodeLocation,
    /// Layer ARN → its size, as the configuration lists them.
    pub layer_sizes: BTreeMap<String, i64>,
    pub reserved_concurrency: Option<i32>,
    pub tags: BTreeMap<String, String>,
}

/// A published version as ListVersionsByFunction lists it.
#[derive(Debug, Clone, PartialEq)]
pub struct PublishedVersion {
    pub version: String,
    pub config: FunctionConfig,
    pub code_sha256: String,
}

/// A layer version as a backup and a restore need it: its content's Lambda hash (base64
/// SHA-256), where the content can be downloaded, its size and runtimes.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct LayerVersion {
    pub code_sha256: String,
    pub location: Option<String>,
    pub code_size: i64,
    pub compatible_runtimes: Vec<String>,
}

/// What reading a whole function takes. Each read fails on its own: a piece a function has not
/// got is `NotFound`, one the endpoint does not serve `Unsupported`.
pub trait FunctionReads: Send + Sync {
    /// Every function's name, to the end of the listing.
    fn function_names(&self) -> impl Future<Output = Result<Vec<String>, ProviderError>> + Send;
    /// `$LATEST` (`qualifier` `None`) or one published version.
    fn function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> impl Future<Output = Result<FunctionRead, ProviderError>> + Send;
    /// Published versions (not `$LATEST`), oldest first, to the end of the listing.
    fn published(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<PublishedVersion>, ProviderError>> + Send;
    /// Aliases with their routing, by name.
    fn alias_routes(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<AliasSnapshot>, ProviderError>> + Send;
    /// Provisioned concurrency per alias or version, by qualifier.
    fn provisioned(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<Provisioned>, ProviderError>> + Send;
    /// Event source mappings, to the end of the listing.
    fn mappings(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<Vec<EventSourceMapping>, ProviderError>> + Send;
    /// The function URL's configuration as a snapshot keeps it.
    fn url_config(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<serde_json::Value, ProviderError>> + Send;
    /// The resource policy document of the function, or of one of its aliases or versions
    /// (`None`: the answer held none).
    fn policy(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> impl Future<Output = Result<Option<String>, ProviderError>> + Send;
    /// The asynchronous invoke configuration as a snapshot keeps it.
    fn async_config(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<serde_json::Value, ProviderError>> + Send;
    /// A layer version by its ARN (also another account's).
    fn layer_version(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<LayerVersion, ProviderError>> + Send;
    /// The ARN of the newest version of a layer of this account and region, if it has one.
    fn newest_layer_version(
        &self,
        layer: &str,
    ) -> impl Future<Output = Result<Option<String>, ProviderError>> + Send;
    /// The bytes behind a code or layer location.
    fn download(
        &self,
        location: &str,
    ) -> impl Future<Output = Result<Vec<u8>, ProviderError>> + Send;
}

/// A package to put in place.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum CodeInput {
    /// The zip itself (Lambda takes up to 50 MB inline).
    Zip(Vec<u8>),
    /// A zip in a bucket of the function's own region.
    S3 { bucket: String, key: String },
    /// A container image by URI.
    Image(String),
}

/// Where a function is after its last change.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum UpdateState {
    /// Still being created or updated: the next change must wait.
    Busy,
    Ready,
    Failed(String),
}

/// An event source mapping to create.
#[derive(Debug, Clone, PartialEq)]
pub struct NewMapping {
    /// `FUNCTION` or `FUNCTION:QUALIFIER`.
    pub target: String,
    pub source_arn: String,
    pub batch_size: Option<i32>,
    pub starting_position: Option<String>,
    pub batching_window: Option<i32>,
    pub enabled: bool,
}

/// A layer version to publish.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewLayerVersion {
    pub name: String,
    pub description: String,
    pub content: CodeInput,
    pub compatible_runtimes: Vec<String>,
}

/// The function's event source mappings with its aliases' (Lambda lists a mapping on an alias
/// only under the alias's name), each once.
pub async fn whole_mappings<R: FunctionReads + Sync>(
    reads: &R,
    function: &str,
    aliases: &[String],
) -> Result<Vec<EventSourceMapping>, ProviderError> {
    let mut all = reads.mappings(function).await?;
    for alias in aliases {
        let theirs = match reads.mappings(&format!("{function}:{alias}")).await {
            Ok(m) => m,
            Err(ProviderError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        for mut m in theirs {
            // On the alias it was listed under (an emulator may name the alias's version in
            // the mapping's ARN).
            m.qualifier = Some(alias.clone());
            match all.iter_mut().find(|x| x.uuid == m.uuid) {
                Some(x) => x.qualifier = m.qualifier,
                None => all.push(m),
            }
        }
    }
    Ok(all)
}

/// The function's resource policy with its aliases' own: one document holding every statement
/// once (an alias's policy is apart from the function's on AWS; an emulator may answer both
/// with one). With none anywhere, the function's own answer (NotFound).
pub async fn whole_policy<R: FunctionReads + Sync>(
    reads: &R,
    function: &str,
    aliases: &[String],
) -> Result<Option<String>, ProviderError> {
    // None anywhere reads as the function's own answer (NotFound: not configured).
    let (own, missing) = match reads.policy(function, None).await {
        Ok(p) => (p, None),
        Err(e @ ProviderError::NotFound(_)) => (None, Some(e)),
        Err(e) => return Err(e),
    };
    let mut statements: Vec<serde_json::Value> = own
        .as_deref()
        .and_then(|d| serde_json::from_str(d).ok())
        .map(|d| policy_statements(&d))
        .unwrap_or_default();
    let mut added = false;
    for alias in aliases {
        let theirs = match reads.policy(function, Some(alias)).await {
            Ok(Some(p)) => p,
            Ok(None) | Err(ProviderError::NotFound(_)) => continue,
            Err(e) => return Err(e),
        };
        let doc: serde_json::Value = serde_json::from_str(&theirs).unwrap_or_default();
        for s in policy_statements(&doc) {
            let same =
                |x: &serde_json::Value| x["Sid"] == s["Sid"] && x["Resource"] == s["Resource"];
            if !statements.iter().any(same) {
                statements.push(s);
                added = true;
            }
        }
    }
    if !added {
        return match missing {
            Some(e) => Err(e),
            None => Ok(own),
        };
    }
    Ok(Some(
        serde_json::json!({"Version": "2012-10-17", "Statement": statements}).to_string(),
    ))
}

/// The statements of a resource-policy document (`Statement` may be one object or a list).
pub fn policy_statements(doc: &serde_json::Value) -> Vec<serde_json::Value> {
    match &doc["Statement"] {
        serde_json::Value::Array(a) => a.clone(),
        serde_json::Value::Object(_) => vec![doc["Statement"].clone()],
        _ => Vec::new(),
    }
}

/// One resource-policy statement, as AddPermission takes it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord)]
pub struct Permission {
    pub sid: String,
    pub action: String,
    /// A service principal, an account id, an ARN, or `*`.
    pub principal: String,
    pub source_arn: Option<String>,
    pub source_account: Option<String>,
    pub url_auth_type: Option<String>,
    pub org_id: Option<String>,
    /// Alexa's event source token.
    pub event_source_token: Option<String>,
    /// The alias (or version) the statement is on: its own policy, not the function's.
    pub qualifier: Option<String>,
}

/// The writes a restore makes, one request each. `create_*` answer `false` when something of
/// that name is there already (a retry after an attempt that timed out but was made).
pub trait FunctionWrites: FunctionReads {
    fn create_function(
        &self,
        name: &str,
        config: &FunctionConfig,
        code: CodeInput,
    ) -> impl Future<Output = Result<bool, ProviderError>> + Send;
    /// The new package; the architectures go with it.
    fn update_code(
        &self,
        name: &str,
        code: CodeInput,
        architectures: &[String],
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// The whole configuration: what it has not got is taken away (VPC, dead-letter target,
    /// KMS key, tracing; logging, mounts and SnapStart where `changed` — the fields that
    /// differ, `None`: any — names them), as Lambda keeps what an update leaves out.
    fn update_config(
        &self,
        name: &str,
        config: &FunctionConfig,
        changed: Option<&[String]>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    fn update_state(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<UpdateState, ProviderError>> + Send;
    /// Publishes `$LATEST`; the version's number.
    fn publish_version(
        &self,
        name: &str,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;
    /// The function, or one of its versions.
    fn delete_function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    fn alias_route(
        &self,
        name: &str,
        alias: &str,
    ) -> impl Future<Output = Result<AliasSnapshot, ProviderError>> + Send;
    fn create_alias(
        &self,
        name: &str,
        alias: &AliasSnapshot,
    ) -> impl Future<Output = Result<bool, ProviderError>> + Send;
    /// Its version and weights (its description stays).
    fn update_alias(
        &self,
        name: &str,
        alias: &AliasSnapshot,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    fn delete_alias(
        &self,
        name: &str,
        alias: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Reserved concurrency (`None`: none reserved).
    fn set_reserved(
        &self,
        name: &str,
        value: Option<i32>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    fn tag(
        &self,
        arn: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Its UUID.
    fn create_mapping(
        &self,
        mapping: &NewMapping,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;
    fn delete_mapping(&self, uuid: &str) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Creates or updates the function URL to a snapshot's configuration (`None`: deletes it).
    fn set_url(
        &self,
        name: &str,
        config: Option<&serde_json::Value>,
        create: bool,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Puts a snapshot's asynchronous invoke configuration (`None`: deletes it).
    fn set_async_invoke(
        &self,
        name: &str,
        config: Option<&serde_json::Value>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    fn add_permission(
        &self,
        name: &str,
        permission: &Permission,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    fn remove_permission(
        &self,
        name: &str,
        sid: &str,
        qualifier: Option<&str>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Provisioned concurrency on an alias or a version (`None`: removed; nothing to remove is
    /// what removing wanted).
    fn set_provisioned(
        &self,
        name: &str,
        qualifier: &str,
        value: Option<i32>,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Its ARN.
    fn publish_layer_version(
        &self,
        layer: &NewLayerVersion,
    ) -> impl Future<Output = Result<String, ProviderError>> + Send;
    fn delete_layer_version(
        &self,
        arn: &str,
    ) -> impl Future<Output = Result<(), ProviderError>> + Send;
    /// Whether the registry `registry` holds `repository@digest` (the function's region's).
    fn image_exists(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
    ) -> impl Future<Output = Result<bool, ProviderError>> + Send;
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_setting_only_the_target_has_is_a_difference() {
        let snapshot = FunctionConfig::default();
        let target = FunctionConfig {
            log_group: Some("/shared/orders".into()),
            ..FunctionConfig::default()
        };
        assert_eq!(
            snapshot.differences(&target),
            vec!["log_group: \"/shared/orders\" → null".to_string()]
        );
        assert!(target.differences(&target).is_empty());
    }
}
