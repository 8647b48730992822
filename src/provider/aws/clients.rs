//! One set of SDK clients per profile × region, with timeouts, a capped standard retry,
//! rate limits, and a counter of every request lops sends.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use aws_config::retry::RetryConfig;
use aws_config::timeout::TimeoutConfig;
use aws_config::{BehaviorVersion, Region, SdkConfig};
use aws_smithy_runtime_api::box_error::BoxError;
use aws_smithy_runtime_api::client::interceptors::Intercept;
use aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextRef;
use aws_smithy_runtime_api::client::orchestrator::Metadata;
use aws_smithy_runtime_api::client::runtime_components::RuntimeComponents;
use aws_smithy_types::config_bag::ConfigBag;

use crate::config::Settings;
use crate::provider::Scope;
use crate::provider::limiter::RateLimiter;

/// The environment variable that points code downloads at an emulator.
pub const CODE_DOWNLOAD_BASE_ENV: &str = "LOPS_CODE_DOWNLOAD_BASE";

/// Requests sent, per (profile, region, service, operation). Retries count: each costs.
#[derive(Debug, Clone, Default)]
pub struct CallCounter {
    counts: Arc<Mutex<BTreeMap<CallKey, u64>>>,
}

#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash, serde::Serialize)]
pub struct CallKey {
    pub profile: String,
    pub region: String,
    pub service: String,
    pub operation: String,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct CallCount {
    #[serde(flatten)]
    pub key: CallKey,
    pub calls: u64,
}

impl CallCounter {
    fn record(&self, scope: &Scope, service: &str, operation: &str) {
        if let Ok(mut counts) = self.counts.lock() {
            let key = CallKey {
                profile: scope.profile.clone(),
                region: scope.region.clone(),
                service: service.to_string(),
                operation: operation.to_string(),
            };
            *counts.entry(key).or_default() += 1;
        }
    }

    pub fn snapshot(&self) -> Vec<CallCount> {
        self.counts
            .lock()
            .map(|counts| {
                counts
                    .iter()
                    .map(|(key, calls)| CallCount {
                        key: key.clone(),
                        calls: *calls,
                    })
                    .collect()
            })
            .unwrap_or_default()
    }

    pub fn total_for(&self, scope: &Scope) -> u64 {
        self.counts
            .lock()
            .map(|c| {
                c.iter()
                    .filter(|(k, _)| k.profile == scope.profile && k.region == scope.region)
                    .map(|(_, n)| n)
                    .sum()
            })
            .unwrap_or_default()
    }

    pub fn total(&self) -> u64 {
        self.counts
            .lock()
            .map(|c| c.values().sum())
            .unwrap_or_default()
    }
}

#[derive(Debug)]
struct CountingInterceptor {
    scope: Scope,
    counter: CallCounter,
}

impl Intercept for CountingInterceptor {
    fn name(&self) -> &'static str {
        "lops-call-counter"
    }

    fn read_before_transmit(
        &self,
        _context: &BeforeTransmitInterceptorContextRef<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if let Some(meta) = cfg.load::<Metadata>() {
            self.counter
                .record(&self.scope, meta.service(), meta.name());
        }
        Ok(())
    }
}

/// Keeps a configured endpoint's host for CloudWatch Logs' streaming operations. The SDK puts
/// `streaming-` in front of the host for StartLiveTail, which is right for AWS's endpoints and
/// wrong for a custom one (`AWS_ENDPOINT_URL`: an emulator, a proxy, a VPC endpoint's name):
/// with an endpoint URL configured, the prefix is dropped before the endpoint is applied.
#[derive(Debug)]
pub(crate) struct KeepCustomHost;

impl Intercept for KeepCustomHost {
    fn name(&self) -> &'static str {
        "lops-keep-custom-host"
    }

    fn modify_before_retry_loop(
        &self,
        _context: &mut aws_smithy_runtime_api::client::interceptors::context::BeforeTransmitInterceptorContextMut<'_>,
        _runtime_components: &RuntimeComponents,
        cfg: &mut ConfigBag,
    ) -> Result<(), BoxError> {
        if cfg
            .load::<aws_types::endpoint_config::EndpointUrl>()
            .is_some()
            && cfg
                .load::<aws_smithy_runtime_api::client::endpoint::EndpointPrefix>()
                .is_some()
        {
            cfg.interceptor_state()
                .unset::<aws_smithy_runtime_api::client::endpoint::EndpointPrefix>();
        }
        Ok(())
    }
}

/// The CloudWatch endpoint configured for these clients (the service's own setting first, as
/// the SDK takes it), if any.
fn cloudwatch_endpoint(sdk_config: &SdkConfig) -> Option<String> {
    let key = aws_types::service_config::ServiceConfigKey::builder()
        .service_id("CloudWatch")
        .env("AWS_ENDPOINT_URL")
        .profile("endpoint_url")
        .build()
        .ok()?;
    sdk_config
        .service_config()
        .and_then(|c| c.load_config(key))
        .or_else(|| sdk_config.endpoint_url().map(str::to_string))
}

/// The SDK clients and limits for one scope.
#[derive(Debug, Clone)]
pub struct Clients {
    pub scope: Scope,
    pub lambda: aws_sdk_lambda::Client,
    pub cloudwatch: aws_sdk_cloudwatch::Client,
    pub sts: aws_sdk_sts::Client,
    pub logs: aws_sdk_cloudwatchlogs::Client,
    /// Backups and S3 data copies. Path-style addressing when an endpoint override is set
    /// (emulators and S3-compatible stores do not serve bucket subdomains).
    pub s3: aws_sdk_s3::Client,
    /// EventBridge rules that trigger functions.
    pub events: aws_sdk_eventbridge::Client,
    /// Route 53 (global): the record sets of services.
    pub route53: aws_sdk_route53::Client,
    /// CloudWatch in us-east-1, where Route 53 publishes its health checks' metrics.
    pub route53_metrics: aws_sdk_cloudwatch::Client,
    /// ECR: whether a container image a restore needs is in this region.
    pub ecr: aws_sdk_ecr::Client,
    pub sdk_config: SdkConfig,
    /// Lambda's shared control-plane bucket (every List*, Get* but GetFunction, and writes).
    pub lambda_limit: Arc<RateLimiter>,
    /// GetFunction's own bucket.
    pub get_function_limit: Arc<RateLimiter>,
    pub s3_limit: Arc<RateLimiter>,
    pub events_limit: Arc<RateLimiter>,
    pub cloudwatch_limit: Arc<RateLimiter>,
    /// CloudWatch Logs allows FilterLogEvents about 5 times a second per region.
    pub logs_limit: Arc<RateLimiter>,
    /// Route 53 calls from this scope's handle (Route 53 allows 5 a second per account; the
    /// dashboard reads a service through one scope, its home).
    pub dns_limit: Arc<RateLimiter>,
    /// In-flight control-plane calls at once in this region.
    pub parallelism: usize,
    pub operation_timeout: Duration,
    /// GetMetricData's own budget per request (`[timeouts] metrics_secs`).
    pub metrics_timeout: Duration,
    /// A whole metrics read's deadline (`[timeouts] region_secs`): its requests end by then,
    /// so that what answered is kept rather than lost with the read.
    pub metrics_deadline: Duration,
    /// The most queries one GetMetricData request carried that answered in time: a batch that
    /// timed out was split, and the next refresh starts from the size that worked.
    pub metric_batch: Arc<std::sync::atomic::AtomicUsize>,
    /// A configured CloudWatch endpoint's turn ([`super::gate`]): one GetMetricData at a time
    /// to a server every region shares. None for AWS's own regional endpoints.
    pub metrics_gate: Option<super::gate::Gate>,
    /// Set once this endpoint answered a request for percentiles: the first one is asked with
    /// a few queries before the rest (an endpoint that refuses them is not asked for all).
    pub percentiles_served: Arc<std::sync::atomic::AtomicBool>,
    /// Set once the endpoint answered that it does not serve provisioned-concurrency configs
    /// (emulators), so the per-function call is not repeated.
    pub provisioned_unsupported: Arc<std::sync::atomic::AtomicBool>,
    pub counter: CallCounter,
    /// Metrics requested from CloudWatch (each query of a GetMetricData request is billed).
    pub metrics_requested: Arc<std::sync::atomic::AtomicU64>,
    /// `LOPS_CODE_DOWNLOAD_BASE`, read once: where code packages are fetched from behind an
    /// emulator.
    pub code_download_base: Option<String>,
}

/// Loads the shared AWS configuration of a profile in a region (credentials chain, endpoint
/// override from `AWS_ENDPOINT_URL`, timeouts and retry policy).
pub async fn load_sdk_config(scope: &Scope, settings: &Settings) -> SdkConfig {
    let timeouts = TimeoutConfig::builder()
        .connect_timeout(settings.timeouts.connect())
        .operation_timeout(settings.timeouts.operation())
        .operation_attempt_timeout(settings.timeouts.attempt())
        .build();
    let loader = aws_config::defaults(BehaviorVersion::latest())
        .region(Region::new(scope.region.clone()))
        .timeout_config(timeouts)
        .retry_config(
            RetryConfig::standard()
                .with_max_attempts(settings.timeouts.max_attempts)
                .with_initial_backoff(Duration::from_millis(200))
                .with_max_backoff(Duration::from_secs(2)),
        );
    // Always named, `default` included: otherwise the SDK would sign with the profile
    // AWS_PROFILE names while lops applied `default`'s tier and production flag.
    let loader = loader.profile_name(&scope.profile);
    // A profile named on purpose (`--profile`, `profiles = [...]`) signs with its own
    // credentials when it has some, as `--profile` does for the AWS CLI: otherwise keys in the
    // environment would sign while that profile's tier and production flag applied.
    if !settings.profiles.is_empty() && env_keys() && has_own_credentials(&scope.profile).await {
        let own = aws_config::profile::ProfileFileCredentialsProvider::builder()
            .profile_name(&scope.profile)
            .configure(
                &aws_config::provider_config::ProviderConfig::without_region()
                    .with_region(Some(Region::new(scope.region.clone()))),
            )
            .build();
        return loader.credentials_provider(own).load().await;
    }
    loader.load().await
}

/// Whether keys are set in the environment (they come first in the SDK's credentials chain).
pub fn env_keys() -> bool {
    std::env::var_os("AWS_ACCESS_KEY_ID").is_some_and(|k| !k.is_empty())
}

/// The profiles of `~/.aws/config` and `~/.aws/credentials` (or where AWS_CONFIG_FILE and
/// AWS_SHARED_CREDENTIALS_FILE point).
pub async fn aws_profiles()
-> Result<aws_config::profile::ProfileSet, aws_config::profile::ProfileFileLoadError> {
    let files = aws_runtime::env_config::file::EnvConfigFiles::default();
    let fs = aws_types::os_shim_internal::Fs::real();
    let env = aws_types::os_shim_internal::Env::real();
    aws_config::profile::parser::load(&fs, &env, &files, None).await
}

/// Whether the AWS files give `profile` credentials of its own (keys, a role, a process, SSO).
pub async fn has_own_credentials(profile: &str) -> bool {
    const KEYS: [&str; 6] = [
        "aws_access_key_id",
        "role_arn",
        "credential_process",
        "sso_session",
        "sso_start_url",
        "web_identity_token_file",
    ];
    aws_profiles().await.is_ok_and(|set| {
        set.get_profile(profile)
            .is_some_and(|p| KEYS.iter().any(|k| p.get(k).is_some()))
    })
}

/// The same configuration acting as `role` (STS AssumeRole from the scope's credentials, with
/// `external_id` when the role's trust policy asks for one): a restore into another account.
pub async fn assume_role(
    sdk_config: &SdkConfig,
    role: &str,
    external_id: Option<&str>,
) -> SdkConfig {
    let mut provider = aws_config::sts::AssumeRoleProvider::builder(role)
        .session_name("lops")
        .configure(sdk_config);
    if let Some(id) = external_id {
        provider = provider.external_id(id);
    }
    let provider = provider.build().await;
    sdk_config
        .to_builder()
        .credentials_provider(
            aws_credential_types::provider::SharedCredentialsProvider::new(provider),
        )
        .build()
}

impl Clients {
    /// An S3 client for a bucket in another region, counted under that region.
    pub fn s3_in(&self, region: &str) -> aws_sdk_s3::Client {
        if region == self.scope.region {
            return self.s3.clone();
        }
        aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&self.sdk_config)
                .region(Region::new(region.to_string()))
                .force_path_style(self.sdk_config.endpoint_url().is_some())
                .interceptor(CountingInterceptor {
                    scope: Scope::new(self.scope.profile.clone(), region, self.scope.access),
                    counter: self.counter.clone(),
                })
                .build(),
        )
    }

    pub async fn new(scope: Scope, settings: &Settings, counter: &CallCounter) -> Self {
        let sdk_config = load_sdk_config(&scope, settings).await;
        Self::from_sdk_config(scope, &sdk_config, settings, counter)
    }

    /// Clients over an already loaded configuration (tests pass their own endpoint and keys).
    pub fn from_sdk_config(
        scope: Scope,
        sdk_config: &SdkConfig,
        settings: &Settings,
        counter: &CallCounter,
    ) -> Self {
        let sdk_config = sdk_config.clone();
        let interceptor = || CountingInterceptor {
            scope: scope.clone(),
            counter: counter.clone(),
        };
        let lambda = aws_sdk_lambda::Client::from_conf(
            aws_sdk_lambda::config::Builder::from(&sdk_config)
                .interceptor(interceptor())
                .build(),
        );
        let cloudwatch = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&sdk_config)
                .interceptor(interceptor())
                .build(),
        );
        let sts = aws_sdk_sts::Client::from_conf(
            aws_sdk_sts::config::Builder::from(&sdk_config)
                .interceptor(interceptor())
                .build(),
        );
        let logs = aws_sdk_cloudwatchlogs::Client::from_conf(
            aws_sdk_cloudwatchlogs::config::Builder::from(&sdk_config)
                .interceptor(interceptor())
                .interceptor(KeepCustomHost)
                .build(),
        );
        let s3 = aws_sdk_s3::Client::from_conf(
            aws_sdk_s3::config::Builder::from(&sdk_config)
                .force_path_style(sdk_config.endpoint_url().is_some())
                .interceptor(interceptor())
                .build(),
        );
        let events = aws_sdk_eventbridge::Client::from_conf(
            aws_sdk_eventbridge::config::Builder::from(&sdk_config)
                .interceptor(interceptor())
                .build(),
        );
        let route53 = aws_sdk_route53::Client::from_conf(
            aws_sdk_route53::config::Builder::from(&sdk_config)
                .interceptor(interceptor())
                .build(),
        );
        let route53_metrics = aws_sdk_cloudwatch::Client::from_conf(
            aws_sdk_cloudwatch::config::Builder::from(&sdk_config)
                .region(aws_config::Region::new("us-east-1"))
                .interceptor(interceptor())
                .build(),
        );
        let ecr = aws_sdk_ecr::Client::from_conf(
            aws_sdk_ecr::config::Builder::from(&sdk_config)
                .interceptor(interceptor())
                .build(),
        );
        let limits = &settings.rate_limits;
        let metrics_gate =
            cloudwatch_endpoint(&sdk_config).map(|url| super::gate::for_endpoint(&url));
        Clients {
            scope,
            lambda,
            cloudwatch,
            sts,
            logs,
            s3,
            events,
            route53,
            route53_metrics,
            ecr,
            sdk_config,
            lambda_limit: Arc::new(RateLimiter::new(limits.lambda_per_sec, limits.burst)),
            get_function_limit: Arc::new(RateLimiter::new(
                limits.get_function_per_sec,
                limits.burst,
            )),
            s3_limit: Arc::new(RateLimiter::new(limits.s3_per_sec, limits.burst)),
            events_limit: Arc::new(RateLimiter::new(limits.eventbridge_per_sec, limits.burst)),
            cloudwatch_limit: Arc::new(RateLimiter::new(limits.cloudwatch_per_sec, limits.burst)),
            logs_limit: Arc::new(RateLimiter::new(4.0, 5)),
            // Route 53 answers 5 requests a second per account.
            dns_limit: Arc::new(RateLimiter::new(4.0, 5)),
            parallelism: limits.parallel_calls.max(1),
            operation_timeout: settings.timeouts.operation(),
            metrics_timeout: settings.timeouts.metrics(),
            metrics_deadline: settings.timeouts.region(),
            metric_batch: Arc::new(std::sync::atomic::AtomicUsize::new(
                super::cloudwatch::QUERIES_PER_CALL,
            )),
            metrics_gate,
            percentiles_served: Arc::default(),
            provisioned_unsupported: Arc::default(),
            counter: counter.clone(),
            metrics_requested: Arc::default(),
            code_download_base: std::env::var(CODE_DOWNLOAD_BASE_ENV)
                .ok()
                .filter(|b| !b.trim().is_empty()),
        }
    }
}
