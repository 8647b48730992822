//! Whether a profile named on the command line, in `AWS_PROFILE` or in the config file is
//! one AWS or lops knows (a typo never acts under a name that carries no protection).

use super::{aws_files, profiles};
use crate::config::Settings;
use crate::exit::Failure;

/// Profiles named to narrow what lops kept (the audit log, saved rollouts): one something was
/// kept under (a profile since removed from the AWS files still names it), or one AWS or lops
/// knows; any other is a typo, refused as every command refuses it (it read as "nothing
/// under it", exit 0).
pub async fn check_named_profiles(
    named: &[String],
    kept: &[&str],
    settings: &Settings,
) -> Result<(), Failure> {
    for profile in named.iter().map(|p| p.trim()) {
        if !kept.contains(&profile) {
            check_profile_known(profile, settings).await?;
        }
    }
    Ok(())
}

/// [`check_profile_known`] for every profile, for a command that chooses before it connects.
pub async fn check_profiles_known(settings: &Settings) -> Result<(), Failure> {
    for profile in profiles(settings) {
        check_profile_known(&profile, settings).await?;
    }
    Ok(())
}

/// A profile chosen by `--profile`, `AWS_PROFILE` or `profiles = [...]` must be one AWS or
/// lops knows: otherwise a typo (`prdo` for `prod`) would act with the environment's keys
/// under a name that carries none of `prod`'s protections. For the same reason a lops section
/// that names no AWS profile but nearly this one (`[profile.Prod]`, `[profile.prdo]` for
/// `prod`) is refused rather than silently protecting nothing. `default` is always known; AWS
/// files that cannot be read cannot tell, so they are refused too.
pub(super) async fn check_profile_known(profile: &str, settings: &Settings) -> Result<(), Failure> {
    // Files that cannot be parsed cannot say whose credentials sign (the environment's would,
    // under this profile's tier): refused for any profile but `default`.
    let set = match crate::provider::aws::aws_profiles().await {
        Ok(set) => set,
        Err(_) if profile == "default" => return Ok(()),
        Err(e) => {
            return Err(Failure::usage(format!(
                "the AWS config files cannot be read, so profile '{profile}' cannot be \
                 checked: {}; fix them (`aws configure list-profiles` shows the same error)",
                crate::provider::aws::error_chain(&e)
            )));
        }
    };
    if settings.profile_settings.contains_key(profile) {
        return Ok(());
    }
    let aws_knows = |name: &str| set.get_profile(name).is_some();
    if profile == "default" || aws_knows(profile) {
        return match settings
            .profile_settings
            .keys()
            .find(|s| !aws_knows(s) && crate::config::names_close(s, profile))
        {
            Some(near) => Err(Failure::usage(format!(
                "profile '{profile}' has no [profile.{profile}] section in lops's config, and \
                 [profile.{near}] names no AWS profile: if that section is meant for \
                 '{profile}', rename it (profile names are case-sensitive); if not, give \
                 '{profile}' a section of its own ([profile.{profile}], even empty)"
            ))),
            None => Ok(()),
        };
    }
    let mut known: Vec<&str> = set
        .profiles()
        .chain(settings.profile_settings.keys().map(String::as_str))
        .collect();
    known.sort_unstable();
    known.dedup();
    let (config_file, credentials_file) = aws_files();
    Err(Failure::usage(format!(
        "unknown profile '{profile}': it is in neither {config_file}, {credentials_file} nor \
         lops's config file ({}); check the name, or add it with `aws configure --profile \
         {profile}`",
        if known.is_empty() {
            "no profiles there".to_string()
        } else {
            format!("known: {}", known.join(", "))
        }
    )))
}
