//! What a function's configuration becomes in a CreateFunction or UpdateFunctionConfiguration
//! request: the fields both take (`config_fields!`, expanded where the request is built, so the
//! SDK types it names must be in scope there), logging, EFS mounts, architectures.

use aws_sdk_lambda::error::ProvideErrorMetadata;
use aws_sdk_lambda::types::{
    ApplicationLogLevel, Architecture, FileSystemConfig, LogFormat, LoggingConfig, SystemLogLevel,
};

use crate::provider::ProviderError;
use crate::provider::function::FunctionConfig;

/// Whether a create failed because something of that name is there already.
pub(super) fn conflict<E: ProvideErrorMetadata>(e: &E) -> bool {
    matches!(
        e.code(),
        Some("ResourceConflictException" | "ConflictException")
    )
}

pub(super) fn architectures(names: &[String]) -> Option<Vec<Architecture>> {
    (!names.is_empty()).then(|| {
        names
            .iter()
            .map(|a| Architecture::from(a.as_str()))
            .collect()
    })
}

macro_rules! config_fields {
    ($call:expr, $c:expr) => {{
        let c = $c;
        let mut call = $call
            .role(&c.role)
            .set_handler(c.handler.clone())
            .set_description(Some(c.description.clone().unwrap_or_default()))
            .set_memory_size(c.memory_size)
            .set_timeout(c.timeout)
            .environment(
                Environment::builder()
                    .set_variables(Some(c.environment.clone().into_iter().collect()))
                    .build(),
            )
            .set_layers(Some(c.layers.clone()))
            .set_runtime(c.runtime.as_deref().map(Runtime::from))
            .set_kms_key_arn(c.kms_key_arn.clone());
        if let Some(Ok(storage)) = c
            .ephemeral_storage
            .map(|size| EphemeralStorage::builder().size(size).build())
        {
            call = call.ephemeral_storage(storage);
        }
        if !c.subnet_ids.is_empty() || !c.security_group_ids.is_empty() {
            call = call.vpc_config(
                VpcConfig::builder()
                    .set_subnet_ids(Some(c.subnet_ids.clone()))
                    .set_security_group_ids(Some(c.security_group_ids.clone()))
                    .build(),
            );
        }
        if let Some(dlq) = &c.dead_letter_target {
            call = call.dead_letter_config(DeadLetterConfig::builder().target_arn(dlq).build());
        }
        if let Some(mode) = &c.tracing_mode {
            call = call.tracing_config(
                TracingConfig::builder()
                    .mode(TracingMode::from(mode.as_str()))
                    .build(),
            );
        }
        if !c.file_systems.is_empty() {
            call = call.set_file_system_configs(Some(file_systems(c)?));
        }
        if let Some(image) = &c.image_config {
            call = call.image_config(
                ImageConfig::builder()
                    .set_entry_point(Some(image.entry_point.clone()))
                    .set_command(Some(image.command.clone()))
                    .set_working_directory(image.working_directory.clone())
                    .build(),
            );
        }
        if let Some(apply_on) = &c.snap_start {
            call = call.snap_start(
                SnapStart::builder()
                    .apply_on(SnapStartApplyOn::from(apply_on.as_str()))
                    .build(),
            );
        }
        call
    }};
}

/// The EFS mounts as Lambda takes them.
pub(super) fn file_systems(c: &FunctionConfig) -> Result<Vec<FileSystemConfig>, ProviderError> {
    c.file_systems
        .iter()
        .map(|f| {
            FileSystemConfig::builder()
                .arn(&f.arn)
                .local_mount_path(&f.local_mount_path)
                .build()
                .map_err(|e| ProviderError::Invalid(format!("file system {}: {e}", f.arn)))
        })
        .collect()
}

/// The logging a configuration asks for; `own_group` stands for an unset group (Lambda's
/// default, the function's own name's), `None` when nothing differs from the default.
pub(super) fn logging(c: &FunctionConfig, own_group: Option<String>) -> Option<LoggingConfig> {
    let group = c.log_group.clone().or(own_group);
    if group.is_none() && c.log_format.is_none() {
        return None;
    }
    let json = c.log_format.as_deref() == Some("JSON");
    Some(
        LoggingConfig::builder()
            .log_format(if json {
                LogFormat::Json
            } else {
                LogFormat::Text
            })
            .set_log_group(group)
            .set_application_log_level(
                c.application_log_level
                    .as_deref()
                    .filter(|_| json)
                    .map(ApplicationLogLevel::from),
            )
            .set_system_log_level(
                c.system_log_level
                    .as_deref()
                    .filter(|_| json)
                    .map(SystemLogLevel::from),
            )
            .build(),
    )
}
pub(super) use config_fields;
