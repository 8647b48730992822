//! The session: from the command line, the config file and the environment, every scope
//! (profile × region) lops talks to, with its credentials, permission tier and production flag.
//! Resolved once, here, below both faces: the dashboard and the CLI only show what it decided,
//! and the ops layer enforces the tier each scope carries.

mod checks;
mod known;
#[cfg(test)]
mod tests;

pub use checks::check_file;
use checks::unreadable_env;
use known::check_profile_known;
pub use known::{check_named_profiles, check_profiles_known};

use std::path::PathBuf;
use std::time::Duration;

use aws_credential_types::provider::{ProvideCredentials, error::CredentialsError};

use crate::config::{Access, ConfigFile, Settings, Tier, check_region};
use crate::exit::Failure;
use crate::provider::Scope;
use crate::provider::aws::{AwsRegion, CallCounter, Clients, load_sdk_config};

/// What the command line says about the session (both faces take the same flags).
#[derive(Debug, Clone, Default)]
pub struct Flags {
    pub regions: Option<Vec<String>>,
    pub profiles: Vec<String>,
    pub config: Option<PathBuf>,
    pub read_only: bool,
    pub mode: Option<Tier>,
    pub no_color: bool,
    pub ascii: bool,
}

/// Settings from the config file with the command line on top.
pub fn settings(flags: &Flags) -> Result<(Settings, Vec<String>), Failure> {
    if let Some(key) = unreadable_env() {
        return Err(Failure::usage(format!(
            "{key} is not valid UTF-8, so it cannot be read: set it to a UTF-8 value (or unset \
             it)"
        )));
    }
    let (file, path) = ConfigFile::load(flags.config.as_deref())?;
    check_file(&file, path.as_deref())?;
    let extra = file.extra_regions.clone();
    let mut settings = Settings::from_file(file, path);
    if let Some(regions) = &flags.regions {
        let regions: Vec<String> = regions
            .iter()
            .map(|r| r.trim().to_string())
            .filter(|r| !r.is_empty())
            .collect();
        if regions.is_empty() {
            return Err(Failure::usage(
                "--regions is empty: name at least one region, e.g. --regions us-east-1,eu-west-1",
            ));
        }
        settings.regions = regions;
    }
    for region in &settings.regions {
        check_region(region, &extra).map_err(Failure::usage)?;
    }
    if !flags.profiles.is_empty() {
        let profiles: Vec<String> = flags
            .profiles
            .iter()
            .map(|p| p.trim().to_string())
            .filter(|p| !p.is_empty())
            .collect();
        if profiles.is_empty() {
            return Err(Failure::usage(
                "--profile is empty: name a profile from ~/.aws/config",
            ));
        }
        settings.profiles = profiles;
    }
    // Also split around the subcommand (`lops --read-only status --mode change`), where clap
    // does not see the two together.
    if flags.read_only && flags.mode.is_some() {
        return Err(Failure::usage(
            "--read-only and --mode say two things: give one of them",
        ));
    }
    if flags.read_only {
        settings.tier = Tier::Read;
        settings.tier_from_cli = true;
    } else if let Some(mode) = flags.mode {
        settings.tier = mode;
        settings.tier_from_cli = true;
    }
    settings.theme.no_color |= flags.no_color;
    settings.theme.ascii |= flags.ascii;
    // A region or profile named twice is one scope: otherwise one confirmation would act on
    // the same function twice (and slip past the duplicate-invoke guard).
    dedup(&mut settings.regions);
    dedup(&mut settings.profiles);
    for p in settings.profile_settings.values_mut() {
        if let Some(regions) = p.regions.as_mut() {
            dedup(regions);
        }
    }
    if flags.profiles.is_empty() {
        env_profile_heard(&settings, std::env::var("AWS_PROFILE").ok().as_deref())?;
    }
    Ok((settings, extra))
}

/// Keeps the first of each name, in order.
fn dedup(names: &mut Vec<String>) {
    let mut seen = std::collections::HashSet::new();
    names.retain(|n| seen.insert(n.clone()));
}

/// The profiles a session reads: `--profile`, else the config file's `profiles`, else the one
/// `AWS_PROFILE` names (the profile the AWS SDK would sign with), else `default`.
pub fn profiles(settings: &Settings) -> Vec<String> {
    profiles_with_env(settings, std::env::var("AWS_PROFILE").ok().as_deref())
}

fn profiles_with_env(settings: &Settings, aws_profile: Option<&str>) -> Vec<String> {
    if !settings.profiles.is_empty() {
        return settings.profiles.clone();
    }
    match aws_profile.map(str::trim).filter(|p| !p.is_empty()) {
        Some(p) => vec![p.to_string()],
        None => vec!["default".to_string()],
    }
}

/// A profile `AWS_PROFILE` names that the config file's `profiles` leave out would be ignored
/// without a word: someone who exported a read-only or production profile for safety would act
/// through another with more rights. Refused, saying how to choose (`--profile` settles it).
fn env_profile_heard(settings: &Settings, aws_profile: Option<&str>) -> Result<(), Failure> {
    let Some(named) = aws_profile.map(str::trim).filter(|p| !p.is_empty()) else {
        return Ok(());
    };
    if settings.profiles.is_empty() || settings.profiles.iter().any(|p| p == named) {
        return Ok(());
    }
    Err(Failure::usage(format!(
        "AWS_PROFILE names '{named}', but the config file's `profiles = [{}]` choose the \
         profiles lops uses, so '{named}' would be ignored: pass --profile {named} (or --profile \
         {}) to say which, or unset AWS_PROFILE",
        settings
            .profiles
            .iter()
            .map(|p| format!("\"{p}\""))
            .collect::<Vec<_>>()
            .join(", "),
        settings.profiles.join(",")
    )))
}

/// The one rule for what a profile may do: `--read-only`/`--mode` when given, else the
/// profile's own `mode`, else the file's top-level `mode`/`read_only`, else change (as with the
/// AWS CLI). Production comes from the profile's `production = true`.
pub fn access(settings: &Settings, profile: &str) -> Access {
    let own = settings.profile_settings.get(profile);
    let tier = if settings.tier_from_cli {
        settings.tier
    } else {
        own.and_then(|p| p.mode).unwrap_or(settings.tier)
    };
    Access::new(tier, own.is_some_and(|p| p.production))
}

/// The most a session may do anywhere: what `lops iam-policy` prints a policy for.
pub fn widest_tier(settings: &Settings) -> Tier {
    profiles(settings)
        .iter()
        .map(|p| access(settings, p).tier)
        .max()
        .unwrap_or(settings.tier)
}

/// Refuses before connecting anywhere when no scope of the session may do `needed`.
pub fn check_any(settings: &Settings, needed: Tier, what: &str) -> Result<(), Failure> {
    let names = profiles(settings);
    let tiers: Vec<Tier> = names.iter().map(|p| access(settings, p).tier).collect();
    if tiers.iter().any(|t| t.allows(needed)) {
        return Ok(());
    }
    let tier = tiers.into_iter().max().unwrap_or(Tier::Read);
    // Where it was refused, as the dashboard says it (`kill in ro/eu-west-1`).
    let what = match (names.as_slice(), settings.regions.as_slice()) {
        ([profile], [region]) => format!("{what} in {profile}/{region}"),
        ([profile], _) => format!("{what} under profile {profile}"),
        (many, _) => format!("{what} under profiles {}", many.join(", ")),
    };
    let what = what.as_str();
    Err(crate::ops::authorize(tier, needed, what)
        .err()
        .map(Failure::from)
        .unwrap_or_else(|| Failure::usage(what.to_string())))
}

/// Everything a command needs to talk to AWS: one source per scope, each carrying its access.
pub struct Session {
    pub settings: Settings,
    pub regions: Vec<AwsRegion>,
    pub counter: CallCounter,
}

impl Session {
    /// The scope a restore, a drill or a prune acts through in the first region: of several
    /// profiles, the strictest of one account ([`crate::ops::same_function::one_acting`]).
    pub async fn acting(&self, what: &str) -> Result<&AwsRegion, Failure> {
        let first = self.regions.first().map(|r| &r.clients.scope.region);
        let here: Vec<&AwsRegion> = (self.regions.iter())
            .filter(|r| Some(&r.clients.scope.region) == first)
            .collect();
        let none = || Failure::usage("no region: pass --region");
        let i = crate::ops::same_function::one_acting(&here, what).await?;
        here.get(i).copied().ok_or_else(none)
    }

    /// `region` acting as `role` (AssumeRole, with the external id when given) in another
    /// account: its tier and production flag stay its own; the audit names the role.
    pub async fn assumed(&self, region: &AwsRegion, role: &str, ext: Option<&str>) -> AwsRegion {
        let config = crate::provider::aws::assume_role(&region.clients.sdk_config, role, ext).await;
        AwsRegion::new(Clients::from_sdk_config(
            region.clients.scope.clone(),
            &config,
            &self.settings,
            &self.counter,
        ))
    }

    /// Resolves scopes, checks that every profile has credentials, and builds clients.
    pub async fn connect(flags: &Flags) -> Result<Session, Failure> {
        let (settings, extra) = settings(flags)?;
        let counter = CallCounter::default();
        let mut regions = Vec::new();
        let several = profiles(&settings).len() > 1;
        // Profiles without credentials, the first one's failure kept: when none has any, the
        // session fails as one profile without them does (exit 2), not as a dark fleet (1).
        let (mut without, mut first_failure) = (0, None);
        let mut checked = Vec::new();
        for profile in profiles(&settings) {
            let access = access(&settings, &profile);
            check_profile_known(&profile, &settings).await?;
            check_signer(&profile, &settings).await?;
            let region_names = regions_for(&profile, &settings, &extra).await?;
            // Before any client is built: the SDK panics on an empty endpoint URL.
            crate::provider::aws::check_endpoints(&profile)
                .await
                .map_err(Failure::usage)?;
            checked.push((profile, access, region_names));
        }
        // Every profile's credentials asked at once: one that hangs (a credential_process,
        // STS) costs its timeout once, not once per profile after it.
        let credentials = futures::future::join_all(checked.iter().map(|(profile, access, r)| {
            let first = Scope::new(profile.clone(), r[0].clone(), *access);
            let settings = &settings;
            async move { check_credentials(&first, settings).await }
        }))
        .await;
        for ((profile, access, region_names), credentials) in checked.into_iter().zip(credentials) {
            // One profile of several without credentials fails on its own: its scopes are
            // there, every read and change through them failing with why (the others go on).
            let missing = match credentials {
                Err(failure) if several => {
                    without += 1;
                    let message = failure.message.clone();
                    first_failure.get_or_insert(failure);
                    Some(message)
                }
                other => other.map(|()| None)?,
            };
            for region in region_names {
                let scope = Scope::new(profile.clone(), region, access);
                let clients = match &missing {
                    None => Clients::new(scope, &settings, &counter).await,
                    Some(why) => {
                        let config = load_sdk_config(&scope, &settings)
                            .await
                            .into_builder()
                            .credentials_provider(
                                aws_credential_types::provider::SharedCredentialsProvider::new(
                                    NoCredentials(why.clone()),
                                ),
                            )
                            .build();
                        Clients::from_sdk_config(scope, &config, &settings, &counter)
                    }
                };
                regions.push(AwsRegion::new(clients));
            }
        }
        if let Some(failure) = first_failure.filter(|_| without == profiles(&settings).len()) {
            return Err(failure);
        }
        Ok(Session {
            settings,
            regions,
            counter,
        })
    }
}

/// The credentials of a profile that has none: every call through it fails, saying why.
#[derive(Debug)]
struct NoCredentials(String);

impl ProvideCredentials for NoCredentials {
    fn provide_credentials<'a>(
        &'a self,
    ) -> aws_credential_types::provider::future::ProvideCredentials<'a>
    where
        Self: 'a,
    {
        aws_credential_types::provider::future::ProvideCredentials::ready(Err(
            CredentialsError::not_loaded(self.0.clone()),
        ))
    }
}

/// Regions for one profile: the command line or config file, then the profile's own
/// setting, then the environment's default.
async fn regions_for(
    profile: &str,
    settings: &Settings,
    extra: &[String],
) -> Result<Vec<String>, Failure> {
    if !settings.regions.is_empty() {
        return Ok(settings.regions.clone());
    }
    if let Some(regions) = settings
        .profile_settings
        .get(profile)
        .and_then(|p| p.regions.clone())
        .filter(|r| !r.is_empty())
    {
        return Ok(regions);
    }
    let chain = aws_config::default_provider::region::DefaultRegionChain::builder()
        .profile_name(profile)
        .build();
    match chain.region().await {
        Some(region) if region.as_ref().trim().is_empty() => Err(Failure::usage(format!(
            "the region for profile '{profile}' is empty (AWS_REGION, AWS_DEFAULT_REGION or the \
             profile's `region`): unset it or name one, or pass --regions us-east-1"
        ))),
        Some(region) => {
            let region = region.to_string();
            check_region(&region, extra).map_err(|e| {
                Failure::usage(format!(
                    "{e} (from AWS_REGION, AWS_DEFAULT_REGION or profile '{profile}''s `region`)"
                ))
            })?;
            Ok(vec![region])
        }
        None => Err(Failure::usage(format!(
            "no region for profile '{profile}': pass --regions us-east-1,eu-west-1, set \
             `regions = [\"us-east-1\"]` in the config file (an empty list counts as none), or \
             set AWS_REGION"
        ))),
    }
}

/// A profile that AWS_PROFILE chose and that has credentials of its own, with keys in the
/// environment too: the SDK (as the AWS CLI) signs with the environment's keys, while lops
/// would apply that profile's tier and production flag — one identity under another's rules.
/// Refused; a profile named with `--profile` signs with its own credentials instead.
async fn check_signer(profile: &str, settings: &Settings) -> Result<(), Failure> {
    use crate::provider::aws::{env_keys, has_own_credentials};
    let from_env = std::env::var("AWS_PROFILE").is_ok_and(|p| p.trim() == profile);
    if settings.profiles.is_empty()
        && from_env
        && profile != "default"
        && env_keys()
        && has_own_credentials(profile).await
    {
        return Err(Failure::usage(format!(
            "AWS_PROFILE names '{profile}', which has credentials of its own, and \
             AWS_ACCESS_KEY_ID is set too: AWS would sign with the environment's keys while \
             lops applied the tier of profile '{profile}'. Unset one of them, or pass --profile {profile} \
             (then its own credentials sign)"
        )));
    }
    Ok(())
}

/// The AWS config and credentials files as the SDK reads them (`AWS_CONFIG_FILE`,
/// `AWS_SHARED_CREDENTIALS_FILE`, else the usual paths): named as such in what to mend.
fn aws_files() -> (String, String) {
    let file = |var: &str, usual: &str| {
        std::env::var(var)
            .ok()
            .filter(|v| !v.trim().is_empty())
            .unwrap_or_else(|| usual.to_string())
    };
    (
        file("AWS_CONFIG_FILE", "~/.aws/config"),
        file("AWS_SHARED_CREDENTIALS_FILE", "~/.aws/credentials"),
    )
}

async fn check_credentials(scope: &Scope, settings: &Settings) -> Result<(), Failure> {
    let config = load_sdk_config(scope, settings).await;
    let (config_file, credentials_file) = aws_files();
    // A profile chosen on purpose is the one to give credentials; else name one that has some.
    let how = if settings.profiles.is_empty() && std::env::var("AWS_PROFILE").is_err() {
        format!(
            "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile from {config_file} \
             with --profile (for SSO, run `aws sso login --profile NAME` first), or run where \
             an instance or task role is available"
        )
    } else {
        format!(
            "give profile '{}' credentials in {config_file} or {credentials_file} (for SSO, \
             run `aws sso login --profile {}` first), or choose another profile",
            scope.profile, scope.profile
        )
    };
    let how = how.as_str();
    let Some(provider) = config.credentials_provider() else {
        return Err(Failure::usage(format!(
            "no AWS credentials for profile '{}': {how}",
            scope.profile
        )));
    };
    let wait = credentials_wait(settings);
    match tokio::time::timeout(wait, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        // What the SDK found missing (a `source_profile` that names no profile, say) is said.
        Ok(Err(e @ CredentialsError::CredentialsNotLoaded(_))) => {
            // Only the profile provider's own reason: the chain lists every provider tried.
            let chain = crate::provider::aws::error_chain(&e);
            let why = chain
                .lines()
                .find_map(|l| {
                    l.trim()
                        .strip_prefix("Profile: the credential provider was not enabled: ")
                })
                .unwrap_or_default();
            Err(Failure::usage(format!(
                "no AWS credentials for profile '{}'{}: {how}",
                scope.profile,
                if why.is_empty() {
                    String::new()
                } else {
                    format!(" ({why})")
                }
            )))
        }
        Ok(Err(e)) => {
            // One line: a credential_process's stderr ends with a newline of its own.
            let chain = crate::provider::aws::error_chain(&e)
                .split_whitespace()
                .collect::<Vec<_>>()
                .join(" ");
            // The profile's own way of getting credentials failed: that is what to mend.
            let fix = if chain.contains("external process") || chain.contains("credential_process")
            {
                format!(
                    "its credential_process failed: run that command by hand to see why, mend \
                     it (or what it needs: a login, a token) in the profile's section of \
                     {config_file}, or choose another profile"
                )
            } else {
                how.to_string()
            };
            Err(Failure::usage(format!(
                "cannot load AWS credentials for profile '{}' ({chain}): {fix}",
                scope.profile,
            )))
        }
        Err(_) if uses_credential_process(&scope.profile).await => {
            // The SDK started it and does not stop it: it would outlive lops.
            end_started_processes();
            Err(Failure::usage(format!(
                "the credential_process of profile '{}' did not answer within {}s: run that command \
             by hand to see what it waits for (a login, a prompt, the network), mend it in the \
             profile's section of {config_file}, or choose another profile",
                scope.profile,
                wait.as_secs()
            )))
        }
        Err(_) => Err(Failure::usage(format!(
            "no AWS credentials for profile '{}' after {}s: {how}",
            scope.profile,
            wait.as_secs()
        ))),
    }
}

/// Ends (SIGTERM) every process lops started and theirs, as Linux lists them under
/// `/proc/PID/task/TID/children`: what a credential_process that never answered left
/// running. Elsewhere nothing is listed, and nothing is ended.
fn end_started_processes() {
    let mut pending = vec![std::process::id()];
    let mut found: Vec<u32> = Vec::new();
    while let Some(pid) = pending.pop() {
        let Ok(tasks) = std::fs::read_dir(format!("/proc/{pid}/task")) else {
            continue;
        };
        for task in tasks.flatten() {
            let Ok(list) = std::fs::read_to_string(task.path().join("children")) else {
                continue;
            };
            for child in list
                .split_whitespace()
                .filter_map(|c| c.parse::<u32>().ok())
            {
                if !found.contains(&child) {
                    found.push(child);
                    pending.push(child);
                }
            }
        }
    }
    for pid in found {
        let Some(pid) = rustix::process::Pid::from_raw(pid as i32) else {
            continue;
        };
        if let Err(e) = rustix::process::kill_process(pid, rustix::process::Signal::TERM) {
            tracing::debug!(pid = pid.as_raw_nonzero().get(), error = %e, "cannot end a process lops started");
        }
    }
}

/// Whether `profile`'s credentials come from a `credential_process`, its own or that of a
/// `source_profile` it assumes a role from.
async fn uses_credential_process(profile: &str) -> bool {
    let Ok(set) = crate::provider::aws::aws_profiles().await else {
        return false;
    };
    let mut name = profile;
    // A chain of source profiles is short; a loop in one must not hang this.
    for _ in 0..8 {
        let Some(p) = set.get_profile(name) else {
            return false;
        };
        if p.get("credential_process").is_some() {
            return true;
        }
        match p.get("source_profile") {
            Some(next) if next != name => name = next,
            _ => return false,
        }
    }
    false
}

/// How long a profile's credentials may take to come (a `credential_process`, SSO, STS).
pub fn credentials_wait(settings: &Settings) -> Duration {
    settings.timeouts.operation().max(Duration::from_secs(5))
}
