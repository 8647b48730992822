//! What is checked before a session is resolved: the config file's entries only the layers
//! above it can check, and the environment's variables lops and the SDK read.

use crate::config::ConfigFile;

/// What the config file names that only the layers above it can check (the config module is a
/// leaf): key bindings, the backup location and its storage class. Reported like the file's
/// other errors, with the file and the key.
pub fn check_file(
    file: &ConfigFile,
    path: Option<&std::path::Path>,
) -> Result<(), crate::config::ConfigError> {
    let invalid = |message: String| crate::config::ConfigError::Invalid {
        path: path.map(|p| p.display().to_string()).unwrap_or_default(),
        message,
    };
    crate::state::Keymap::with_overrides(&file.keymap).map_err(invalid)?;
    if let Some(to) = &file.backup.to {
        crate::backup::S3Uri::parse(to).map_err(|e| invalid(format!("key `backup.to`: {e}")))?;
    }
    if let Some(class) = &file.backup.storage_class {
        crate::backup::store::parse_storage_class(class)
            .map_err(|e| invalid(format!("key `backup.storage_class`: {e}")))?;
    }
    Ok(())
}

/// A variable lops or the AWS SDK reads whose value is not UTF-8: refused, named. The SDK and
/// the standard library read such a value as unset, so a profile, endpoint or directory given
/// this way would be passed over without a word (acting under `default`, on AWS itself).
pub(super) fn unreadable_env() -> Option<String> {
    std::env::vars_os()
        .filter(|(_, v)| v.to_str().is_none())
        .filter_map(|(k, _)| k.into_string().ok())
        .find(|k| {
            k.starts_with("AWS_")
                || k.starts_with("LOPS_")
                || matches!(k.as_str(), "HOME" | "XDG_CONFIG_HOME" | "XDG_STATE_HOME")
        })
}
