//! The endpoint URLs the SDK would be handed for a profile, checked before any client is
//! built. aws-config passes `AWS_ENDPOINT_URL` (and its service-specific forms, and a profile's
//! `endpoint_url`) to every client as it finds it: an empty value panics inside the SDK on the
//! first request, and one that is no URL fails each request with the SDK's internal dump. The
//! SDKs' reference guide gives no meaning to an empty value (default none; valid: a URL with
//! scheme and host), so lops refuses both and names the setting.

use aws_types::os_shim_internal::{Env, Fs};

const ENV_KEY: &str = "AWS_ENDPOINT_URL";
const PROFILE_KEY: &str = "endpoint_url";

/// The service ids of the SDK clients lops builds (as each client asks its service config).
const SERVICES: [&str; 8] = [
    "Lambda",
    "CloudWatch",
    "STS",
    "CloudWatch Logs",
    "S3",
    "EventBridge",
    "Route 53",
    "ECR",
];

/// Every endpoint URL `profile`'s clients would use, in the SDK's order (the service's own
/// variable, `AWS_ENDPOINT_URL`, the service's entry in the profile's `services` section, the
/// profile's `endpoint_url`): the first that is not a URL, named, with what to do.
/// (`LOPS_CODE_DOWNLOAD_BASE` is lops's own and checked where a download uses it: only a
/// backup needs it.)
pub async fn check_endpoints(profile: &str) -> Result<(), String> {
    let env = |key: &str| std::env::var(key).ok();
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let set = aws_config::profile::parser::load(
        &Fs::real(),
        &Env::real(),
        &files,
        Some(profile.to_string().into()),
    )
    .await
    .ok();
    let ignored = |v: Option<&str>| v.is_some_and(|v| v.trim().eq_ignore_ascii_case("true"));
    if ignored(env("AWS_IGNORE_CONFIGURED_ENDPOINT_URLS").as_deref())
        || ignored(
            set.as_ref()
                .and_then(|s| s.get("ignore_configured_endpoint_urls")),
        )
    {
        return Ok(());
    }
    let config_file = env("AWS_CONFIG_FILE").unwrap_or_else(|| "~/.aws/config".into());
    for service in SERVICES {
        let own_var = format!("{ENV_KEY}_{}", service.to_uppercase().replace(' ', "_"));
        let in_profile = set.as_ref().and_then(|s| {
            let section = s.get("services")?;
            let key = aws_runtime::env_config::property::PropertiesKey::builder()
                .section_key("services")
                .section_name(section)
                .property_name(service.to_lowercase().replace(' ', "-"))
                .sub_property_name(PROFILE_KEY)
                .build()
                .ok()?;
            let value = s.other_sections().get(&key)?.to_string();
            Some((
                format!(
                    "`{PROFILE_KEY}` under `{}` in [services {section}] (profile '{profile}', \
                     {config_file})",
                    service.to_lowercase().replace(' ', "-")
                ),
                value,
            ))
        });
        let found = env(&own_var)
            .map(|v| (own_var.clone(), v))
            .or_else(|| env(ENV_KEY).map(|v| (ENV_KEY.to_string(), v)))
            .or(in_profile)
            .or_else(|| {
                let value = set.as_ref()?.get(PROFILE_KEY)?.to_string();
                Some((
                    format!("`{PROFILE_KEY}` of profile '{profile}' in {config_file}"),
                    value,
                ))
            });
        if let Some((name, value)) = found {
            check_url(&name, &value)?;
        }
    }
    Ok(())
}

/// An endpoint is a URL with an http(s) scheme and a host.
fn check_url(name: &str, value: &str) -> Result<(), String> {
    let unset = if name.starts_with(ENV_KEY) {
        format!("unset {name}")
    } else {
        "remove it".to_string()
    };
    if value.trim().is_empty() {
        return Err(format!(
            "{name} is set but empty: {unset} to use AWS's own endpoints, or give a URL such as \
             http://localhost:4566"
        ));
    }
    // Whole, as the SDK takes it: a space or tab around it makes no URI there.
    let url_ok = value.trim() == value
        && url::Url::parse(value)
            .is_ok_and(|u| matches!(u.scheme(), "http" | "https") && u.host_str().is_some());
    if !url_ok && value.trim() != value {
        return Err(format!(
            "{name} = '{value}' has a space or tab around it, which the SDK does not take: \
             write it as '{}'",
            value.trim()
        ));
    }
    if !url_ok {
        return Err(format!(
            "{name} = '{value}' is not an endpoint URL: write it as http(s)://host[:port][/path], \
             or {unset} to use AWS's own endpoints"
        ));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::check_url;

    #[test]
    fn an_endpoint_is_an_http_url_with_a_host() {
        for good in [
            "http://127.0.0.1:5000",
            "https://vpce-1.lambda.us-east-1.vpce.amazonaws.com/x",
        ] {
            assert_eq!(check_url("AWS_ENDPOINT_URL", good), Ok(()), "{good}");
        }
        let empty = check_url("AWS_ENDPOINT_URL", " ").unwrap_err();
        assert!(empty.contains("AWS_ENDPOINT_URL is set but empty: unset AWS_ENDPOINT_URL"));
        for padded in [
            " http://127.0.0.1:5148",
            "http://127.0.0.1:5148 ",
            "\thttp://h",
        ] {
            let e = check_url("AWS_ENDPOINT_URL", padded).unwrap_err();
            assert!(e.contains("has a space or tab around it"), "{e}");
        }
        for bad in ["not a url", "localhost:4566", "ftp://host", "http://"] {
            let e = check_url("`endpoint_url` of profile 'p'", bad).unwrap_err();
            assert!(
                e.contains("is not an endpoint URL") && e.contains("remove it"),
                "{e}"
            );
        }
    }
}
