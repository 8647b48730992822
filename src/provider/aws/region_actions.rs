//! `RegionActions` against AWS (the write side the ops layer drives): alias routing, reserved
//! concurrency, invoke, triggers, caller identity. Not to be confused with `state::actions`, the
//! dashboard's action keys.

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{AliasRoutingConfiguration, InvocationType, LogType};
use base64::Engine;

use super::AwsRegion;
use super::error::classify_for;
use crate::provider::function::FunctionWrites;
use crate::provider::{
    AliasInfo, InvokeOutcome, InvokeRequest, InvokeTarget, ProviderError, RegionActions,
};

impl RegionActions for AwsRegion {
    async fn dns_records(
        &self,
        zone: &str,
        name: &str,
        kind: &str,
    ) -> Result<Vec<crate::provider::dns::DnsRecord>, ProviderError> {
        self.route53_records(zone, name, kind).await
    }

    async fn change_dns(
        &self,
        zone: &str,
        records: &[crate::provider::dns::DnsRecord],
    ) -> Result<String, ProviderError> {
        self.route53_change(zone, records).await
    }

    async fn dns_change_synced(&self, change: &str) -> Result<bool, ProviderError> {
        self.route53_synced(change).await
    }

    async fn health_check(&self, id: &str) -> Result<crate::provider::dns::Health, ProviderError> {
        self.route53_health(id).await
    }

    async fn triggers(&self, function: &str) -> Result<crate::provider::Triggers, ProviderError> {
        self.clients.triggers(function).await
    }

    async fn trigger_enabled(
        &self,
        kind: crate::provider::TriggerKind,
        id: &str,
    ) -> Result<bool, ProviderError> {
        self.clients.trigger_enabled(kind, id).await
    }

    async fn set_trigger_enabled(
        &self,
        kind: crate::provider::TriggerKind,
        id: &str,
        enabled: bool,
    ) -> Result<(), ProviderError> {
        self.clients.set_trigger_enabled(kind, id, enabled).await
    }

    async fn mapping_ends(&self, id: &str) -> Option<(String, String)> {
        let request = self
            .clients
            .lambda
            .get_event_source_mapping()
            .uuid(id)
            .send();
        let m = self.clients.lambda_call(request).await.ok()?;
        // `orders-worker` or `orders-worker:live` (bound to an alias), from its ARN.
        let function = m
            .function_arn()?
            .split_once(":function:")
            .map(|(_, f)| f.to_string())?;
        Some((
            function,
            m.event_source_arn().unwrap_or_default().to_string(),
        ))
    }

    async fn rule_targets(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        self.clients.rule_targets(name).await
    }

    /// Asked once per region handle (STS answers the same for its whole life); a failure is
    /// asked again next time.
    async fn caller(&self) -> Result<String, ProviderError> {
        let ask = || async {
            let out = self
                .clients
                .sts
                .get_caller_identity()
                .send()
                .await
                .map_err(|e| {
                    classify_for(e, self.clients.operation_timeout.as_secs_f64(), "STS")
                })?;
            Ok(out.arn.unwrap_or_else(|| "unknown".into()))
        };
        self.caller.get_or_try_init(ask).await.cloned()
    }

    async fn alias(&self, function: &str, alias: &str) -> Result<AliasInfo, ProviderError> {
        let request = self.clients.lambda.get_alias().function_name(function);
        let out = self.clients.lambda_call(request.name(alias).send()).await?;
        let mut additional_weights: Vec<(String, f64)> = out
            .routing_config
            .and_then(|r| r.additional_version_weights)
            .unwrap_or_default()
            .into_iter()
            .collect();
        additional_weights.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(AliasInfo {
            name: out.name.unwrap_or_default(),
            function_version: out.function_version.unwrap_or_default(),
            additional_weights,
            revision_id: out.revision_id,
        })
    }

    async fn aliases(&self, function: &str) -> Result<Vec<AliasInfo>, ProviderError> {
        self.clients.list_aliases_now(function).await
    }

    async fn published_versions(&self, function: &str) -> Result<Vec<String>, ProviderError> {
        self.clients.list_versions(function).await
    }

    async fn route_alias(
        &self,
        function: &str,
        alias: &str,
        main: &str,
        extra: Option<(String, f64)>,
        revision: Option<String>,
    ) -> Result<AliasInfo, ProviderError> {
        let routing = AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(extra.into_iter().collect()))
            .build();
        let request = self
            .clients
            .lambda
            .update_alias()
            .function_name(function)
            .name(alias)
            .function_version(main)
            .routing_config(routing)
            .set_revision_id(revision)
            .send();
        self.clients.lambda_call(request).await?;
        self.alias(function, alias).await
    }

    async fn reserved_concurrency(&self, function: &str) -> Result<Option<i32>, ProviderError> {
        let request = self.clients.lambda.get_function_concurrency();
        let out = self
            .clients
            .lambda_call(request.function_name(function).send())
            .await?;
        Ok(out.reserved_concurrent_executions)
    }

    async fn unreserved_concurrency(&self) -> Option<i64> {
        let request = self.clients.lambda.get_account_settings().send();
        match self.clients.lambda_call(request).await {
            Ok(out) => out
                .account_limit
                .and_then(|l| l.unreserved_concurrent_executions)
                .map(i64::from),
            Err(e) => {
                tracing::info!(error = %e, "account settings unavailable");
                None
            }
        }
    }

    async fn set_reserved_concurrency(
        &self,
        function: &str,
        value: Option<i32>,
    ) -> Result<(), ProviderError> {
        self.clients.set_reserved(function, value).await
    }

    async fn invoke_target(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<InvokeTarget, ProviderError> {
        let request = self
            .clients
            .lambda
            .get_function_configuration()
            .function_name(function)
            .set_qualifier(qualifier.map(str::to_string))
            .send();
        let out = self.clients.lambda_call(request).await?;
        Ok(InvokeTarget {
            version: out.version.unwrap_or_else(|| "$LATEST".into()),
            state: out.state.map(|s| s.as_str().to_string()),
            timeout_secs: out.timeout,
        })
    }

    async fn invoke(&self, request: &InvokeRequest) -> Result<InvokeOutcome, ProviderError> {
        let kind = if request.asynchronous {
            InvocationType::Event
        } else {
            InvocationType::RequestResponse
        };
        // The answer is awaited as long as the function may run (its own timeout, read by the
        // preview), with a margin for the network; the scope's operation timeout otherwise.
        let seconds = request
            .wait_secs
            .map_or(self.clients.operation_timeout.as_secs_f64(), |w| {
                f64::from(w) + 15.0
            });
        let wait = aws_smithy_types::timeout::TimeoutConfig::builder()
            .operation_timeout(std::time::Duration::from_secs_f64(seconds))
            .operation_attempt_timeout(std::time::Duration::from_secs_f64(seconds))
            .build();
        // One attempt only: a retried invoke can run the function twice.
        let call = self
            .clients
            .lambda
            .invoke()
            .function_name(&request.function)
            .set_qualifier(request.qualifier.clone())
            .payload(Blob::new(request.payload.clone()))
            .invocation_type(kind)
            .log_type(LogType::Tail)
            .customize()
            .config_override(
                aws_sdk_lambda::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled())
                    .timeout_config(wait.clone()),
            )
            .send();
        self.clients.lambda_limit.acquire_first().await;
        let out = call.await.map_err(|e| {
            match classify_for(e, seconds, "Lambda") {
                // Sent, and no answer in time: the function may well be running still.
                ProviderError::Timeout(_) => ProviderError::Service(format!(
                    "no answer within {seconds:.0}s: {} {} may still be running — read its \
                     logs (`lops logs {} --profile {} --region {}`, `l` in the dashboard) \
                     before invoking again",
                    crate::provider::INVOKE_UNANSWERED,
                    request.function,
                    request.function,
                    self.clients.scope.profile,
                    self.clients.scope.region
                )),
                e => e,
            }
        })?;
        let log_tail = out.log_result.as_deref().and_then(|b64| {
            base64::engine::general_purpose::STANDARD
                .decode(b64)
                .ok()
                .map(|bytes| String::from_utf8_lossy(&bytes).into_owned())
        });
        Ok(InvokeOutcome {
            status: out.status_code,
            function_error: out.function_error,
            executed_version: out.executed_version,
            payload: out.payload.map(|p| p.into_inner()).unwrap_or_default(),
            log_tail,
        })
    }
}
