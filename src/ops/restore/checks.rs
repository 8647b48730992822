//! What a restore's names are checked for before anything is asked.

use crate::backup::BackupError;

pub(super) fn check_function_name(name: &str) -> Result<(), BackupError> {
    crate::ops::request::check_function(name).map_err(|e| BackupError::Invalid(e.to_string()))
}

pub(super) fn check_role(role: &str) -> Result<(), BackupError> {
    check_role_arn("--role", role)
}

/// `flag`'s value is an IAM role's ARN (`arn:aws:iam::ACCOUNT:role/NAME`), checked before
/// anything is asked.
pub fn check_role_arn(flag: &str, role: &str) -> Result<(), BackupError> {
    let parts: Vec<&str> = role.split(':').collect();
    let account_ok = parts
        .get(4)
        .is_some_and(|a| a.len() == 12 && a.chars().all(|c| c.is_ascii_digit()));
    if parts.len() == 6
        && parts[0] == "arn"
        && parts[2] == "iam"
        && account_ok
        && parts[5].len() > "role/".len()
        && parts[5].starts_with("role/")
    {
        Ok(())
    } else {
        Err(BackupError::Invalid(format!(
            "{flag} '{role}' is not an IAM role ARN (arn:aws:iam::ACCOUNT:role/NAME)"
        )))
    }
}
