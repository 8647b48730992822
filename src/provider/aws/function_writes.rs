//! The writes a restore makes, over the Lambda (and ECR) SDK: one request each, each through
//! the one call path.

use std::collections::BTreeMap;

use aws_sdk_lambda::primitives::Blob;
use aws_sdk_lambda::types::{
    AliasRoutingConfiguration, Cors, DeadLetterConfig, DestinationConfig, Environment,
    EphemeralStorage, EventSourcePosition, FunctionUrlAuthType, ImageConfig, InvokeMode,
    LayerVersionContentInput, OnFailure, OnSuccess, PackageType, Runtime, SnapStart,
    SnapStartApplyOn, TracingConfig, TracingMode, VpcConfig,
};

use super::function::{alias_snapshot, layer_and_number};
use super::function_config::{architectures, config_fields, conflict, file_systems, logging};
use super::{Clients, classify};
use crate::provider::ProviderError;
use crate::provider::function::{
    AliasSnapshot, CodeInput, FunctionConfig, FunctionWrites, NewLayerVersion, NewMapping,
    Permission, UpdateState,
};

impl FunctionWrites for Clients {
    async fn create_function(
        &self,
        name: &str,
        config: &FunctionConfig,
        code: CodeInput,
    ) -> Result<bool, ProviderError> {
        let call = self
            .lambda
            .create_function()
            .function_name(name)
            .publish(false);
        let mut call = config_fields!(call, config);
        call = match code {
            CodeInput::Zip(bytes) => call.code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .zip_file(Blob::new(bytes))
                    .build(),
            ),
            CodeInput::S3 { bucket, key } => call.code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .s3_bucket(bucket)
                    .s3_key(key)
                    .build(),
            ),
            CodeInput::Image(uri) => call.code(
                aws_sdk_lambda::types::FunctionCode::builder()
                    .image_uri(uri)
                    .build(),
            ),
        };
        if let Some(p) = &config.package_type {
            call = call.package_type(PackageType::from(p.as_str()));
        }
        call = call.set_logging_config(logging(config, None));
        call = call.set_architectures(architectures(&config.architectures));
        // The raw error is needed here (its code), so the token is taken by hand.
        self.lambda_limit.acquire_first().await;
        match call.send().await {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(classify(e, self.operation_timeout.as_secs_f64())),
        }
    }

    async fn update_code(
        &self,
        name: &str,
        code: CodeInput,
        architectures_: &[String],
    ) -> Result<(), ProviderError> {
        let call = self
            .lambda
            .update_function_code()
            .function_name(name)
            .set_architectures(architectures(architectures_));
        let call = match code {
            CodeInput::Zip(bytes) => call.zip_file(Blob::new(bytes)),
            CodeInput::S3 { bucket, key } => call.s3_bucket(bucket).s3_key(key),
            CodeInput::Image(uri) => call.image_uri(uri),
        };
        self.lambda_call(call.send()).await.map(|_| ())
    }

    async fn update_config(
        &self,
        name: &str,
        c: &FunctionConfig,
        changed: Option<&[String]>,
    ) -> Result<(), ProviderError> {
        // Settings newer than the rest are only sent back to their default where they differ
        // (the fewer defaults an update restates, the fewer a runtime may refuse).
        let differs = |field: &str| changed.is_none_or(|f| f.iter().any(|x| x == field));
        let call = self
            .lambda
            .update_function_configuration()
            .function_name(name);
        let mut call = config_fields!(call, c);
        // What the snapshot has not got is taken away: Lambda keeps what an update leaves out.
        if c.subnet_ids.is_empty() && c.security_group_ids.is_empty() {
            call = call.vpc_config(
                VpcConfig::builder()
                    .set_subnet_ids(Some(Vec::new()))
                    .set_security_group_ids(Some(Vec::new()))
                    .build(),
            );
        }
        if c.dead_letter_target.is_none() {
            call = call.dead_letter_config(DeadLetterConfig::builder().target_arn("").build());
        }
        if c.kms_key_arn.is_none() {
            call = call.kms_key_arn("");
        }
        if c.tracing_mode.is_none() {
            call = call.tracing_config(
                TracingConfig::builder()
                    .mode(TracingMode::PassThrough)
                    .build(),
            );
        }
        // Logging back to the function's own group (in text) where the snapshot sets none.
        let log_fields = [
            "log_group",
            "log_format",
            "application_log_level",
            "system_log_level",
        ];
        if log_fields.iter().any(|f| differs(f)) {
            call = call.set_logging_config(logging(c, Some(format!("/aws/lambda/{name}"))));
        }
        if c.file_systems.is_empty() && differs("file_systems") {
            call = call.set_file_system_configs(Some(Vec::new()));
        }
        // An image's overrides taken away: empty ones (Lambda keeps what an update leaves out).
        let image = c.package_type.as_deref() == Some("Image");
        if image && c.image_config.is_none() && differs("image_config") {
            call = call.image_config(
                ImageConfig::builder()
                    .set_entry_point(Some(Vec::new()))
                    .set_command(Some(Vec::new()))
                    .working_directory("")
                    .build(),
            );
        }
        if c.snap_start.is_none() && differs("snap_start") {
            call = call.snap_start(
                SnapStart::builder()
                    .apply_on(SnapStartApplyOn::None)
                    .build(),
            );
        }
        self.lambda_call(call.send()).await.map(|_| ())
    }

    async fn update_state(&self, name: &str) -> Result<UpdateState, ProviderError> {
        let request = self
            .lambda
            .get_function_configuration()
            .function_name(name)
            .send();
        let c = self.lambda_call(request).await?;
        let state = c.state().map(|s| s.as_str());
        let update = c.last_update_status().map(|s| s.as_str());
        Ok(if state == Some("Failed") || update == Some("Failed") {
            UpdateState::Failed(
                c.last_update_status_reason()
                    .or(c.state_reason())
                    .unwrap_or("no reason given")
                    .to_string(),
            )
        } else if state == Some("Pending") || update == Some("InProgress") {
            UpdateState::Busy
        } else {
            UpdateState::Ready
        })
    }

    async fn publish_version(&self, name: &str) -> Result<String, ProviderError> {
        let request = self.lambda.publish_version().function_name(name).send();
        let out = self.lambda_call(request).await?;
        Ok(out.version().unwrap_or_default().to_string())
    }

    async fn delete_function(
        &self,
        name: &str,
        qualifier: Option<&str>,
    ) -> Result<(), ProviderError> {
        let request = self
            .lambda
            .delete_function()
            .function_name(name)
            .set_qualifier(qualifier.map(str::to_string))
            .send();
        self.lambda_call(request).await.map(|_| ())
    }

    async fn alias_route(&self, name: &str, alias: &str) -> Result<AliasSnapshot, ProviderError> {
        let request = self
            .lambda
            .get_alias()
            .function_name(name)
            .name(alias)
            .send();
        let a = self.lambda_call(request).await?;
        Ok(alias_snapshot!(&a))
    }

    async fn create_alias(&self, name: &str, alias: &AliasSnapshot) -> Result<bool, ProviderError> {
        let routing = AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(alias.weights.clone().into_iter().collect()))
            .build();
        // The raw error is needed here (its code), so the token is taken by hand.
        self.lambda_limit.acquire_first().await;
        let created = self
            .lambda
            .create_alias()
            .function_name(name)
            .name(&alias.name)
            .function_version(&alias.function_version)
            .set_description(alias.description.clone())
            .routing_config(routing)
            .send()
            .await;
        match created {
            Ok(_) => Ok(true),
            Err(e) if conflict(&e) => Ok(false),
            Err(e) => Err(classify(e, self.operation_timeout.as_secs_f64())),
        }
    }

    async fn update_alias(&self, name: &str, alias: &AliasSnapshot) -> Result<(), ProviderError> {
        let routing = AliasRoutingConfiguration::builder()
            .set_additional_version_weights(Some(alias.weights.clone().into_iter().collect()))
            .build();
        let request = self
            .lambda
            .update_alias()
            .function_name(name)
            .name(&alias.name)
            .function_version(&alias.function_version)
            .routing_config(routing)
            .send();
        self.lambda_call(request).await.map(|_| ())
    }

    async fn delete_alias(&self, name: &str, alias: &str) -> Result<(), ProviderError> {
        let request = self
            .lambda
            .delete_alias()
            .function_name(name)
            .name(alias)
            .send();
        self.lambda_call(request).await.map(|_| ())
    }

    async fn set_reserved(&self, name: &str, value: Option<i32>) -> Result<(), ProviderError> {
        let lambda = &self.lambda;
        match value {
            Some(n) => {
                let request = lambda
                    .put_function_concurrency()
                    .function_name(name)
                    .reserved_concurrent_executions(n)
                    .send();
                self.lambda_call(request).await.map(|_| ())
            }
            None => {
                let request = lambda
                    .delete_function_concurrency()
                    .function_name(name)
                    .send();
                self.lambda_call(request).await.map(|_| ())
            }
        }
    }

    async fn tag(
        &self,
        arn: &str,
        set: &BTreeMap<String, String>,
        remove: &[String],
    ) -> Result<(), ProviderError> {
        if !set.is_empty() {
            let tags = Some(set.clone().into_iter().collect());
            let request = self
                .lambda
                .tag_resource()
                .resource(arn)
                .set_tags(tags)
                .send();
            self.lambda_call(request).await?;
        }
        if !remove.is_empty() {
            let keys = Some(remove.to_vec());
            let request = self
                .lambda
                .untag_resource()
                .resource(arn)
                .set_tag_keys(keys)
                .send();
            self.lambda_call(request).await?;
        }
        Ok(())
    }

    async fn create_mapping(&self, m: &NewMapping) -> Result<String, ProviderError> {
        let request = self
            .lambda
            .create_event_source_mapping()
            .function_name(&m.target)
            .event_source_arn(&m.source_arn)
            .set_batch_size(m.batch_size)
            .set_maximum_batching_window_in_seconds(m.batching_window)
            .set_starting_position(
                m.starting_position
                    .as_deref()
                    .map(EventSourcePosition::from),
            )
            .enabled(m.enabled)
            .send();
        let out = self.lambda_call(request).await.map_err(|e| match e {
            // Lambda's words for a source that is not there: which one, and what to do.
            ProviderError::NotFound(m2) | ProviderError::Service(m2)
                if m2.contains("EventSourceArn") =>
            {
                // A source of this region is the snapshot's own (or one --map-sources moved
                // here): recreated, or restored elsewhere; --map-sources only moves others.
                let here = m.source_arn.split(':').nth(3) == Some(self.scope.region.as_str());
                ProviderError::NotFound(match here {
                    true => format!(
                        "the event source {} is not there ({m2}): create it in {} first, or \
                         restore into a region where it is (a mapping --map-sources moved here: \
                         restore without it, the mapping then left out and named)",
                        m.source_arn, self.scope.region
                    ),
                    false => format!(
                        "the event source {} is not there ({m2}): create it in {} first, or \
                         restore without --map-sources (mappings to another region's source \
                         are then left out, and named)",
                        m.source_arn, self.scope.region
                    ),
                })
            }
            other => other,
        })?;
        Ok(out.uuid().unwrap_or_default().to_string())
    }

    async fn delete_mapping(&self, uuid: &str) -> Result<(), ProviderError> {
        let request = self.lambda.delete_event_source_mapping().uuid(uuid).send();
        self.lambda_call(request).await.map(|_| ())
    }

    async fn set_url(
        &self,
        name: &str,
        config: Option<&serde_json::Value>,
        create: bool,
    ) -> Result<(), ProviderError> {
        let lambda = &self.lambda;
        let Some(config) = config else {
            let request = lambda
                .delete_function_url_config()
                .function_name(name)
                .send();
            return self.lambda_call(request).await.map(|_| ());
        };
        let strings = |v: &serde_json::Value| -> Option<Vec<String>> {
            v.as_array().map(|a| {
                a.iter()
                    .filter_map(|x| x.as_str().map(str::to_string))
                    .collect()
            })
        };
        let cors = config["cors"].as_object().map(|c| {
            Cors::builder()
                .set_allow_origins(c.get("allow_origins").and_then(strings))
                .set_allow_methods(c.get("allow_methods").and_then(strings))
                .set_allow_headers(c.get("allow_headers").and_then(strings))
                .set_allow_credentials(c.get("allow_credentials").and_then(|v| v.as_bool()))
                .set_max_age(c.get("max_age").and_then(|v| v.as_i64()).map(|n| n as i32))
                .build()
        });
        let auth = FunctionUrlAuthType::from(config["auth_type"].as_str().unwrap_or("AWS_IAM"));
        let mode = config["invoke_mode"].as_str().map(InvokeMode::from);
        // Create and update take the same fields through different builders.
        macro_rules! url_fields {
            ($call:expr) => {
                $call
                    .function_name(name)
                    .auth_type(auth)
                    .set_invoke_mode(mode)
                    .set_cors(cors)
                    .send()
            };
        }
        if create {
            let request = url_fields!(lambda.create_function_url_config());
            self.lambda_call(request).await.map(|_| ())
        } else {
            let request = url_fields!(lambda.update_function_url_config());
            self.lambda_call(request).await.map(|_| ())
        }
    }

    async fn set_async_invoke(
        &self,
        name: &str,
        config: Option<&serde_json::Value>,
    ) -> Result<(), ProviderError> {
        let lambda = &self.lambda;
        let Some(config) = config else {
            let request = lambda
                .delete_function_event_invoke_config()
                .function_name(name)
                .send();
            return self.lambda_call(request).await.map(|_| ());
        };
        let on_success = config["on_success"].as_str();
        let on_failure = config["on_failure"].as_str();
        let destinations = (on_success.is_some() || on_failure.is_some()).then(|| {
            DestinationConfig::builder()
                .set_on_success(on_success.map(|d| OnSuccess::builder().destination(d).build()))
                .set_on_failure(on_failure.map(|d| OnFailure::builder().destination(d).build()))
                .build()
        });
        let number = |k: &str| config[k].as_i64().map(|n| n as i32);
        let request = lambda
            .put_function_event_invoke_config()
            .function_name(name)
            .set_maximum_retry_attempts(number("maximum_retry_attempts"))
            .set_maximum_event_age_in_seconds(number("maximum_event_age_in_seconds"))
            .set_destination_config(destinations)
            .send();
        self.lambda_call(request).await.map(|_| ())
    }

    async fn add_permission(&self, name: &str, p: &Permission) -> Result<(), ProviderError> {
        let request = self
            .lambda
            .add_permission()
            .function_name(name)
            .statement_id(&p.sid)
            .action(&p.action)
            .principal(&p.principal)
            .set_source_arn(p.source_arn.clone())
            .set_source_account(p.source_account.clone())
            .set_function_url_auth_type(p.url_auth_type.as_deref().map(FunctionUrlAuthType::from))
            .set_principal_org_id(p.org_id.clone())
            .set_event_source_token(p.event_source_token.clone())
            .set_qualifier(p.qualifier.clone())
            .send();
        self.lambda_call(request).await.map(|_| ())
    }

    async fn remove_permission(
        &self,
        name: &str,
        sid: &str,
        qualifier: Option<&str>,
    ) -> Result<(), ProviderError> {
        let request = self
            .lambda
            .remove_permission()
            .function_name(name)
            .statement_id(sid)
            .set_qualifier(qualifier.map(str::to_string))
            .send();
        self.lambda_call(request).await.map(|_| ())
    }

    async fn set_provisioned(
        &self,
        name: &str,
        qualifier: &str,
        value: Option<i32>,
    ) -> Result<(), ProviderError> {
        let lambda = &self.lambda;
        let done = match value {
            Some(n) => {
                let request = lambda
                    .put_provisioned_concurrency_config()
                    .function_name(name)
                    .qualifier(qualifier)
                    .provisioned_concurrent_executions(n)
                    .send();
                self.lambda_call(request).await.map(|_| ())
            }
            None => {
                let request = lambda
                    .delete_provisioned_concurrency_config()
                    .function_name(name)
                    .qualifier(qualifier)
                    .send();
                self.lambda_call(request).await.map(|_| ())
            }
        };
        match done {
            // Nothing to remove is what removing wanted.
            Err(ProviderError::NotFound(_)) if value.is_none() => Ok(()),
            other => other,
        }
    }

    async fn publish_layer_version(
        &self,
        layer: &NewLayerVersion,
    ) -> Result<String, ProviderError> {
        let content = LayerVersionContentInput::builder();
        let content = match &layer.content {
            CodeInput::Zip(bytes) => content.zip_file(Blob::new(bytes.clone())),
            CodeInput::S3 { bucket, key } => content.s3_bucket(bucket).s3_key(key),
            CodeInput::Image(_) => {
                return Err(ProviderError::Service(
                    "a layer's content is a zip, not an image".into(),
                ));
            }
        };
        let runtimes = &layer.compatible_runtimes;
        let request = self
            .lambda
            .publish_layer_version()
            .layer_name(&layer.name)
            .description(&layer.description)
            .content(content.build())
            .set_compatible_runtimes(
                (!runtimes.is_empty())
                    .then(|| runtimes.iter().map(|r| Runtime::from(r.as_str())).collect()),
            )
            .send();
        let out = self.lambda_call(request).await?;
        Ok(out.layer_version_arn().unwrap_or_default().to_string())
    }

    async fn delete_layer_version(&self, arn: &str) -> Result<(), ProviderError> {
        let (layer, number) = layer_and_number(arn)?;
        let request = self
            .lambda
            .delete_layer_version()
            .layer_name(layer)
            .version_number(number)
            .send();
        self.lambda_call(request).await.map(|_| ())
    }

    /// One call per image, before a restore: Lambda's pace is ample for it.
    async fn image_exists(
        &self,
        registry: &str,
        repository: &str,
        digest: &str,
    ) -> Result<bool, ProviderError> {
        let request = self
            .ecr
            .describe_images()
            .registry_id(registry)
            .repository_name(repository)
            .image_ids(
                aws_sdk_ecr::types::ImageIdentifier::builder()
                    .image_digest(digest)
                    .build(),
            )
            .send();
        match self.call(&self.lambda_limit, request).await {
            Ok(out) => Ok(!out.image_details().is_empty()),
            Err(ProviderError::NotFound(_)) => Ok(false),
            Err(e) => Err(e),
        }
    }
}
