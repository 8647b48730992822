//! One step of a restore, and how the preview names it.

use super::difference::short_hash;
use super::layers::layer_name;
use super::*;

/// One step of a restore.
#[derive(Debug, Clone, PartialEq)]
pub enum Step {
    /// Publishes a layer's stored content in the target (its ARN there is not usable), under
    /// the layer's own name; the configuration then names the new version.
    Layer {
        /// The layer version ARN the snapshot's configuration names.
        arn: String,
        /// Other layer version ARNs of the same layer with the same content: one copy serves
        /// them all.
        also: Vec<String>,
        /// Its content's blob (hex SHA-256) and size.
        blob: String,
        size: u64,
        compatible_runtimes: Vec<String>,
    },
    Create {
        config: FunctionConfig,
        code: Code,
    },
    UpdateCode {
        code: Code,
        /// Architectures go with the code (UpdateFunctionConfiguration cannot change them).
        architectures: Vec<String>,
    },
    UpdateConfig {
        config: FunctionConfig,
        changes: Vec<String>,
    },
    /// Publishes `$LATEST` as the snapshot's version `of`.
    Publish {
        of: String,
    },
    /// Alias to snapshot versions (mapped to the target's numbers when run).
    Alias {
        alias: AliasSnapshot,
        create: bool,
        /// The target's routing now, in its own numbers (`None`: no such alias there).
        now: Option<String>,
    },
    Reserve {
        value: Option<i32>,
        /// The target's reservation now (`None`: the function is created).
        now: Option<Option<i32>>,
    },
    Tags {
        set: BTreeMap<String, String>,
        remove: Vec<String>,
    },
    Mapping {
        source_arn: String,
        batch_size: Option<i32>,
        starting_position: Option<String>,
        batching_window: Option<i32>,
        /// The alias or snapshot version it invokes (`None`: the function itself).
        qualifier: Option<String>,
        enabled: bool,
    },
    /// The function URL as the snapshot has it (auth type, invoke mode, CORS); the address
    /// itself is the target's own.
    Url {
        config: serde_json::Value,
        create: bool,
    },
    /// Retries, event age and destinations of asynchronous invokes.
    AsyncInvoke {
        config: serde_json::Value,
    },
    /// One resource-policy statement (who may invoke it), replacing the target's statement of
    /// the same id when that differs.
    Permission {
        permission: super::policy::Permission,
        replaces: Option<super::policy::Permission>,
    },
    /// Provisioned concurrency on an alias, or on a snapshot version (mapped to the target's
    /// number when run).
    Provisioned {
        qualifier: String,
        requested: i32,
        /// What the target has there now (`None`: nothing).
        replaces: Option<i32>,
    },
    /// What the target has and the snapshot has not (`--exact`).
    Remove(super::removal::Removal),
}

impl Step {
    pub fn describe(&self) -> String {
        match self {
            Step::Remove(r) => r.describe(),
            Step::Layer { arn, size, .. } => format!(
                "publish layer {} from the backup ({}), for {arn}",
                layer_name(arn),
                crate::format::bytes(*size)
            ),
            Step::Provisioned {
                qualifier,
                requested,
                replaces,
            } => format!(
                "provisioned concurrency {requested} on {}{}",
                if qualifier.chars().all(|c| c.is_ascii_digit()) {
                    format!("the snapshot's v{qualifier}")
                } else {
                    qualifier.clone()
                },
                replaces.map(|n| format!(" (now {n})")).unwrap_or_default()
            ),
            Step::Create { config, code } => format!(
                "create the function ({}, {} MB, code {})",
                config.runtime.as_deref().unwrap_or("image"),
                config.memory_size.unwrap_or_default(),
                short_hash(code.lambda_sha256())
            ),
            Step::UpdateCode { code, .. } => {
                format!("update code to {}", short_hash(code.lambda_sha256()))
            }
            Step::UpdateConfig { changes, .. } => {
                format!("update configuration: {}", changes.join("; "))
            }
            Step::Publish { of } => format!("publish a version as the snapshot's v{of}"),
            Step::Alias { alias, create, now } => format!(
                "{} alias {}{} → the snapshot's {}{}{}",
                if *create { "create" } else { "update" },
                alias.name,
                now.as_ref()
                    .map(|n| format!(" ({n} now)"))
                    .unwrap_or_default(),
                crate::format::version(&alias.function_version),
                alias
                    .weights
                    .iter()
                    .map(|(v, w)| format!(" + v{v} {}", crate::format::weight(*w)))
                    .collect::<String>(),
                if alias.function_version.starts_with('$') {
                    ""
                } else {
                    " (versions numbered as they are published here)"
                }
            ),
            Step::Url { config, create } => format!(
                "{} the function URL (auth {}{})",
                if *create { "create" } else { "update" },
                config["auth_type"].as_str().unwrap_or("?"),
                if config["cors"].is_object() {
                    ", CORS"
                } else {
                    ""
                }
            ),
            Step::AsyncInvoke { config } => format!(
                "asynchronous invokes: {} retries, events up to {} old{}",
                config["maximum_retry_attempts"]
                    .as_i64()
                    .map_or("the default 2".to_string(), |n| n.to_string()),
                config["maximum_event_age_in_seconds"]
                    .as_i64()
                    .map_or("the default 6 hours".to_string(), |n| format!("{n} s")),
                if config["on_success"].is_string() || config["on_failure"].is_string() {
                    ", with destinations"
                } else {
                    ""
                }
            ),
            Step::Permission {
                permission,
                replaces,
            } => format!(
                "{} permission: {}",
                if replaces.is_some() { "replace" } else { "add" },
                permission.describe()
            ),
            Step::Reserve { value, now } => {
                let said = |v: &Option<i32>| match v {
                    Some(n) => format!("reserved concurrency {n}"),
                    None => "no reserved concurrency".to_string(),
                };
                match now {
                    Some(now) => format!("{} → {}", said(now), said(value)),
                    None => said(value),
                }
            }
            Step::Tags { set, remove } => {
                let mut parts = Vec::new();
                if !set.is_empty() {
                    parts.push(format!(
                        "set {}",
                        set.iter()
                            .map(|(k, v)| format!("{k}={v}"))
                            .collect::<Vec<_>>()
                            .join(", ")
                    ));
                }
                if !remove.is_empty() {
                    parts.push(format!("remove {}", remove.join(", ")));
                }
                format!("tags: {}", parts.join("; "))
            }
            Step::Mapping {
                source_arn,
                enabled,
                qualifier,
                ..
            } => format!(
                "event source mapping from {source_arn}{} ({})",
                qualifier
                    .as_ref()
                    .map(|q| format!(" to {q}"))
                    .unwrap_or_default(),
                if *enabled { "enabled" } else { "disabled" }
            ),
        }
    }
}
