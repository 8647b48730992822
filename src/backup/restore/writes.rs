//! The Lambda writes a restore makes, one call (and its limiter token) each.

use super::*;

/// ARN, reserved concurrency and tags of an existing function: one GetFunction.
pub(super) async fn head(clients: &Clients, f: &str) -> Result<Current, BackupError> {
    let request = clients.lambda.get_function().function_name(f).send();
    let got = clients.call(&clients.get_function_limit, request).await?;
    Ok(head_of(&got))
}

/// The ARN, reservation and tags a GetFunction answer holds.
pub(super) fn head_of(got: &aws_sdk_lambda::operation::get_function::GetFunctionOutput) -> Current {
    Current {
        arn: got
            .configuration()
            .and_then(|c| c.function_arn())
            .unwrap_or_default()
            .to_string(),
        reserved: got
            .concurrency()
            .and_then(|c| c.reserved_concurrent_executions()),
        tags: got
            .tags()
            .map(|t| t.iter().map(|(k, v)| (k.clone(), v.clone())).collect())
            .unwrap_or_default(),
        ..Default::default()
    }
}

/// UpdateFunctionCode with the same package a CreateFunction would take.
pub(super) fn update_code(
    lambda: &aws_sdk_lambda::Client,
    function: &str,
    input: FunctionCode,
    architectures: &[String],
) -> aws_sdk_lambda::operation::update_function_code::builders::UpdateFunctionCodeFluentBuilder {
    let call = lambda
        .update_function_code()
        .function_name(function)
        .set_architectures((!architectures.is_empty()).then(|| {
            architectures
                .iter()
                .map(|a| Architecture::from(a.as_str()))
                .collect()
        }));
    match (
        input.zip_file,
        input.s3_bucket,
        input.s3_key,
        input.image_uri,
    ) {
        (Some(zip), _, _, _) => call.zip_file(zip),
        (None, Some(b), Some(k), _) => call.s3_bucket(b).s3_key(k),
        (_, _, _, Some(image)) => call.image_uri(image),
        _ => call,
    }
}

pub(super) async fn set_reserved(
    clients: &Clients,
    f: &str,
    value: Option<i32>,
) -> Result<(), BackupError> {
    match value {
        Some(n) => clients
            .lambda_call(
                clients
                    .lambda
                    .put_function_concurrency()
                    .function_name(f)
                    .reserved_concurrent_executions(n)
                    .send(),
            )
            .await
            .map(|_| ())
            .map_err(BackupError::Provider),
        None => clients
            .lambda_call(
                clients
                    .lambda
                    .delete_function_concurrency()
                    .function_name(f)
                    .send(),
            )
            .await
            .map(|_| ())
            .map_err(BackupError::Provider),
    }
}

pub(super) async fn set_tags(
    clients: &Clients,
    arn: &str,
    set: &BTreeMap<String, String>,
    remove: &[String],
) -> Result<(), BackupError> {
    let lambda = &clients.lambda;
    if !set.is_empty() {
        let tags = Some(set.clone().into_iter().collect());
        clients
            .lambda_call(lambda.tag_resource().resource(arn).set_tags(tags).send())
            .await?;
    }
    if !remove.is_empty() {
        let keys = Some(remove.to_vec());
        clients
            .lambda_call(
                lambda
                    .untag_resource()
                    .resource(arn)
                    .set_tag_keys(keys)
                    .send(),
            )
            .await?;
    }
    Ok(())
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
        call
    }};
}

pub(super) fn with_config_create(
    call: aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder,
    c: &FunctionConfig,
) -> aws_sdk_lambda::operation::create_function::builders::CreateFunctionFluentBuilder {
    let mut call = config_fields!(call, c);
    if let Some(p) = &c.package_type {
        call = call.package_type(PackageType::from(p.as_str()));
    }
    if !c.architectures.is_empty() {
        call = call.set_architectures(Some(
            c.architectures
                .iter()
                .map(|a| Architecture::from(a.as_str()))
                .collect(),
        ));
    }
    call
}

pub(super) fn with_config_update(
    call: aws_sdk_lambda::operation::update_function_configuration::builders::UpdateFunctionConfigurationFluentBuilder,
    c: &FunctionConfig,
) -> aws_sdk_lambda::operation::update_function_configuration::builders::UpdateFunctionConfigurationFluentBuilder{
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
    call
}

/// Creates or updates the function URL to a snapshot's configuration (`None`: deletes it).
pub(super) async fn set_url(
    clients: &Clients,
    f: &str,
    config: Option<&serde_json::Value>,
    create: bool,
) -> Result<(), BackupError> {
    use aws_sdk_lambda::types::{Cors, FunctionUrlAuthType, InvokeMode};
    let Some(config) = config else {
        return clients
            .lambda_call(
                clients
                    .lambda
                    .delete_function_url_config()
                    .function_name(f)
                    .send(),
            )
            .await
            .map(|_| ())
            .map_err(BackupError::Provider);
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
    if create {
        clients
            .lambda_call(
                clients
                    .lambda
                    .create_function_url_config()
                    .function_name(f)
                    .auth_type(auth)
                    .set_invoke_mode(mode)
                    .set_cors(cors)
                    .send(),
            )
            .await
            .map(|_| ())
            .map_err(BackupError::Provider)
    } else {
        clients
            .lambda_call(
                clients
                    .lambda
                    .update_function_url_config()
                    .function_name(f)
                    .auth_type(auth)
                    .set_invoke_mode(mode)
                    .set_cors(cors)
                    .send(),
            )
            .await
            .map(|_| ())
            .map_err(BackupError::Provider)
    }
}

/// Puts a snapshot's asynchronous invoke configuration (`None`: deletes it).
pub(super) async fn set_async_invoke(
    clients: &Clients,
    f: &str,
    config: Option<&serde_json::Value>,
) -> Result<(), BackupError> {
    use aws_sdk_lambda::types::{DestinationConfig, OnFailure, OnSuccess};
    let Some(config) = config else {
        return clients
            .lambda_call(
                clients
                    .lambda
                    .delete_function_event_invoke_config()
                    .function_name(f)
                    .send(),
            )
            .await
            .map(|_| ())
            .map_err(BackupError::Provider);
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
    clients
        .lambda_call(
            clients
                .lambda
                .put_function_event_invoke_config()
                .function_name(f)
                .set_maximum_retry_attempts(number("maximum_retry_attempts"))
                .set_maximum_event_age_in_seconds(number("maximum_event_age_in_seconds"))
                .set_destination_config(destinations)
                .send(),
        )
        .await
        .map(|_| ())
        .map_err(BackupError::Provider)
}

/// AddPermission for one resource-policy statement.
pub(super) async fn add_permission(
    clients: &Clients,
    f: &str,
    p: &super::policy::Permission,
) -> Result<(), BackupError> {
    let request = clients
        .lambda
        .add_permission()
        .function_name(f)
        .statement_id(&p.sid)
        .action(&p.action)
        .principal(&p.principal)
        .set_source_arn(p.source_arn.clone())
        .set_source_account(p.source_account.clone())
        .set_function_url_auth_type(
            p.url_auth_type
                .as_deref()
                .map(aws_sdk_lambda::types::FunctionUrlAuthType::from),
        )
        .set_principal_org_id(p.org_id.clone())
        .set_event_source_token(p.event_source_token.clone());
    clients.lambda_call(request.send()).await?;
    Ok(())
}

/// RemovePermission of one statement.
pub(super) async fn remove_permission(
    clients: &Clients,
    f: &str,
    sid: &str,
) -> Result<(), BackupError> {
    clients
        .lambda_call(
            clients
                .lambda
                .remove_permission()
                .function_name(f)
                .statement_id(sid)
                .send(),
        )
        .await
        .map(|_| ())
        .map_err(BackupError::Provider)
}

/// Provisioned concurrency on `qualifier` (an alias or a version number): `None` removes it.
pub(super) async fn set_provisioned(
    clients: &Clients,
    f: &str,
    qualifier: &str,
    value: Option<i32>,
) -> Result<(), BackupError> {
    let lambda = &clients.lambda;
    let done = match value {
        Some(n) => clients
            .lambda_call(
                lambda
                    .put_provisioned_concurrency_config()
                    .function_name(f)
                    .qualifier(qualifier)
                    .provisioned_concurrent_executions(n)
                    .send(),
            )
            .await
            .map(|_| ()),
        None => clients
            .lambda_call(
                lambda
                    .delete_provisioned_concurrency_config()
                    .function_name(f)
                    .qualifier(qualifier)
                    .send(),
            )
            .await
            .map(|_| ()),
    };
    match done {
        // Nothing to remove is what removing wanted.
        Err(ProviderError::NotFound(_)) if value.is_none() => Ok(()),
        other => Ok(other?),
    }
}

/// Deletes a layer version by its ARN (`arn:…:layer:NAME:N`).
pub(super) async fn delete_layer_version(clients: &Clients, arn: &str) -> Result<(), BackupError> {
    let (layer, number) = arn
        .rsplit_once(':')
        .and_then(|(l, n)| Some((l, n.parse::<i64>().ok()?)))
        .ok_or_else(|| BackupError::Invalid(format!("'{arn}' is not a layer version ARN")))?;
    clients
        .lambda_call(
            clients
                .lambda
                .delete_layer_version()
                .layer_name(layer)
                .version_number(number)
                .send(),
        )
        .await
        .map(|_| ())
        .map_err(BackupError::Provider)
}
