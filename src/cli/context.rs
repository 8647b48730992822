//! Resolving where to look (profiles × regions), and connecting to AWS there.

use std::time::Duration;

use aws_credential_types::provider::ProvideCredentials;
use aws_credential_types::provider::error::CredentialsError;

use super::GlobalArgs;
use crate::config::{ConfigFile, Settings, check_region};
use crate::exit::Failure;
use crate::provider::Scope;
use crate::provider::aws::{AwsRegion, CallCounter, Clients, load_sdk_config};

/// Settings from the config file with the command line on top.
pub fn resolve_settings(global: &GlobalArgs) -> Result<(Settings, Vec<String>), Failure> {
    let (file, path) = ConfigFile::load(global.config.as_deref())?;
    let extra = file.extra_regions.clone();
    let mut settings = Settings::from_file(file, path);
    if let Some(regions) = &global.regions {
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
    if !global.profiles.is_empty() {
        let profiles: Vec<String> = global
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
    if global.read_only {
        settings.tier = crate::ops::Tier::Read;
        settings.tier_from_cli = true;
    } else if let Some(mode) = global.mode {
        settings.tier = mode.into();
        settings.tier_from_cli = true;
    }
    settings.theme.no_color |= global.no_color;
    settings.theme.ascii |= global.ascii;
    Ok((settings, extra))
}

/// Everything a CLI command needs to talk to AWS.
pub struct Context {
    pub settings: Settings,
    pub regions: Vec<AwsRegion>,
    pub counter: CallCounter,
}

impl Context {
    /// Resolves scopes, checks that every profile has credentials, and builds clients.
    pub async fn connect(global: &GlobalArgs) -> Result<Context, Failure> {
        let (settings, extra) = resolve_settings(global)?;
        let profiles = if settings.profiles.is_empty() {
            vec!["default".to_string()]
        } else {
            settings.profiles.clone()
        };
        let counter = CallCounter::default();
        let mut regions = Vec::new();
        for profile in &profiles {
            let region_names = regions_for(profile, &settings, &extra).await?;
            let first = Scope {
                profile: profile.clone(),
                region: region_names[0].clone(),
            };
            check_credentials(&first, &settings).await?;
            for region in region_names {
                let scope = Scope {
                    profile: profile.clone(),
                    region,
                };
                regions.push(AwsRegion::new(
                    Clients::new(scope, &settings, &counter).await,
                ));
            }
        }
        Ok(Context {
            settings,
            regions,
            counter,
        })
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
    let mut chain = aws_config::default_provider::region::DefaultRegionChain::builder();
    if profile != "default" {
        chain = chain.profile_name(profile);
    }
    match chain.build().region().await {
        Some(region) => {
            let region = region.to_string();
            check_region(&region, extra).map_err(Failure::usage)?;
            Ok(vec![region])
        }
        None => Err(Failure::usage(format!(
            "no region for profile '{profile}': pass --regions us-east-1,eu-west-1, set \
             `regions` in the config file, or set AWS_REGION"
        ))),
    }
}

async fn check_credentials(scope: &Scope, settings: &Settings) -> Result<(), Failure> {
    let config = load_sdk_config(scope, settings).await;
    let how = "set AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY, name a profile from \
               ~/.aws/config with --profile (for SSO, run `aws sso login --profile NAME` first), \
               or run where an instance or task role is available";
    let Some(provider) = config.credentials_provider() else {
        return Err(Failure::usage(format!(
            "no AWS credentials for profile '{}': {how}",
            scope.profile
        )));
    };
    let wait = settings.timeouts.operation().max(Duration::from_secs(5));
    match tokio::time::timeout(wait, provider.provide_credentials()).await {
        Ok(Ok(_)) => Ok(()),
        Ok(Err(CredentialsError::CredentialsNotLoaded(_))) => Err(Failure::usage(format!(
            "no AWS credentials for profile '{}': {how}",
            scope.profile
        ))),
        Ok(Err(e)) => Err(Failure::usage(format!(
            "cannot load AWS credentials for profile '{}' ({}): {how}",
            scope.profile,
            aws_smithy_types::error::display::DisplayErrorContext(&e)
        ))),
        Err(_) => Err(Failure::usage(format!(
            "no AWS credentials for profile '{}' after {}s: {how}",
            scope.profile,
            wait.as_secs()
        ))),
    }
}
