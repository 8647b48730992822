//! What triggers a function: EventBridge rules that target it (or its aliases), event source
//! mappings, its function URL, and the principals its resource policy lets invoke it.

use serde_json::Value;

use aws_sdk_lambda::operation::list_aliases::ListAliasesOutput;
use aws_sdk_lambda::operation::list_event_source_mappings::ListEventSourceMappingsOutput;

use super::clients::Clients;
use super::every_page;
use crate::provider::{ProviderError, Trigger, TriggerKind, Triggers};

impl Clients {
    pub async fn triggers(&self, function: &str) -> Result<Triggers, ProviderError> {
        let lambda = &self.lambda;
        let request = lambda.get_function_configuration().function_name(function);
        let config = self.lambda_call(request.send()).await?;
        let arn = config.function_arn().unwrap_or_default().to_string();
        let mut out = Triggers {
            function: function.to_string(),
            ..Default::default()
        };

        // Rules may target the function or any of its aliases.
        let mut targets = vec![arn.clone()];
        let pages = lambda
            .list_aliases()
            .function_name(function)
            .into_paginator();
        let more = |p: &ListAliasesOutput| p.next_marker().is_some_and(|m| !m.is_empty());
        let read = every_page(&self.lambda_limit, self.t(), pages.send(), more, |page| {
            let arns = page.aliases().iter().filter_map(|a| a.alias_arn());
            targets.extend(arns.map(str::to_string));
        });
        if let Err(e) = read.await {
            out.note(crate::provider::explain("aliases", "ListAliases", &e));
        }
        let mut names = Vec::new();
        // The SDK has no paginator for this one: page by hand, a token each.
        for target in &targets {
            let mut next = None;
            loop {
                let request = self.events.list_rule_names_by_target().target_arn(target);
                let page = match self
                    .call(&self.events_limit, request.set_next_token(next).send())
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        out.note(crate::provider::explain(
                            "EventBridge rules",
                            "ListRuleNamesByTarget",
                            &e,
                        ));
                        break;
                    }
                };
                names.extend(page.rule_names().iter().cloned());
                next = page.next_token().map(str::to_string);
                if next.is_none() {
                    break;
                }
            }
        }
        names.sort();
        names.dedup();
        for name in names {
            let request = self.events.describe_rule().name(&name).send();
            match self.call(&self.events_limit, request).await {
                Ok(r) => {
                    let state = r
                        .state()
                        .map(|s| s.as_str().to_string())
                        .unwrap_or_default();
                    out.triggers.push(Trigger {
                        kind: TriggerKind::Rule,
                        id: name.clone(),
                        source: r
                            .schedule_expression()
                            .or(r.event_pattern())
                            .unwrap_or_default()
                            .to_string(),
                        enabled: state.starts_with("ENABLED"),
                        state,
                        detail: format!("bus {}", r.event_bus_name().unwrap_or("default")),
                    });
                }
                Err(e) => out.note(crate::provider::explain(
                    &format!("rule {name}"),
                    "DescribeRule",
                    &e,
                )),
            }
        }

        // Mappings bound to the function, and those bound to one of its aliases (listed only
        // under the alias's ARN): each once.
        let bound = std::iter::once(function.to_string()).chain(targets.iter().skip(1).cloned());
        for name in bound {
            let pages = lambda
                .list_event_source_mappings()
                .function_name(&name)
                .into_paginator();
            let more =
                |p: &ListEventSourceMappingsOutput| p.next_marker().is_some_and(|m| !m.is_empty());
            let read = every_page(&self.lambda_limit, self.t(), pages.send(), more, |page| {
                for m in page.event_source_mappings() {
                    let via = (name != function).then(|| name.rsplit(':').next().unwrap_or(""));
                    let found = mapping(m, via);
                    if !out.triggers.iter().any(|t| t.id == found.id) {
                        out.triggers.push(found);
                    }
                }
            });
            if let Err(e) = read.await {
                let whose = match name == function {
                    true => String::new(),
                    false => format!(" of {}", name.rsplit(':').next().unwrap_or(&name)),
                };
                out.note(crate::provider::explain(
                    &format!("event source mappings{whose}"),
                    "ListEventSourceMappings",
                    &e,
                ));
            }
        }

        let request = lambda.get_function_url_config().function_name(function);
        match self.lambda_call(request.send()).await {
            Ok(u) => {
                out.url = Some(u.function_url().to_string());
                out.url_auth = Some(u.auth_type().as_str().to_string());
            }
            Err(ProviderError::NotFound(_)) => {}
            Err(e) => out.note(crate::provider::explain(
                "function URL",
                "GetFunctionUrlConfig",
                &e,
            )),
        }

        let request = lambda.get_policy().function_name(function);
        match self.lambda_call(request.send()).await {
            Ok(p) => out.principals = principals(p.policy().unwrap_or_default()),
            Err(ProviderError::NotFound(_)) => {}
            Err(e) => out.note(crate::provider::explain("resource policy", "GetPolicy", &e)),
        }
        Ok(out)
    }

    pub async fn trigger_enabled(
        &self,
        kind: TriggerKind,
        id: &str,
    ) -> Result<bool, ProviderError> {
        match kind {
            TriggerKind::Rule => {
                let request = self.events.describe_rule().name(id).send();
                let r = self.call(&self.events_limit, request).await?;
                match r.state().map(|s| s.as_str()).unwrap_or_default() {
                    "ENABLED" => Ok(true),
                    "DISABLED" => Ok(false),
                    // EnableRule gives back ENABLED only: a pause of this one could not be
                    // undone as it was.
                    other => Err(ProviderError::Invalid(format!(
                        "rule {id} is {other}, which lops cannot put back once paused (it \
                         enables rules as ENABLED): pause it in EventBridge"
                    ))),
                }
            }
            TriggerKind::Mapping => {
                let request = self.lambda.get_event_source_mapping().uuid(id).send();
                let m = self.lambda_call(request).await?;
                match m.state().unwrap_or_default() {
                    "Enabled" | "Enabling" => Ok(true),
                    "Disabled" | "Disabling" => Ok(false),
                    // Creating, Updating, Deleting: its enabled state shows once it settles.
                    other => Err(ProviderError::Invalid(format!(
                        "mapping {id} is {other}: whether it is enabled shows once that is \
                         done; try again in a moment"
                    ))),
                }
            }
        }
    }

    pub async fn set_trigger_enabled(
        &self,
        kind: TriggerKind,
        id: &str,
        enabled: bool,
    ) -> Result<(), ProviderError> {
        let events = &self.events;
        match (kind, enabled) {
            (TriggerKind::Rule, true) => {
                let request = events.enable_rule().name(id).send();
                self.call(&self.events_limit, request).await.map(|_| ())
            }
            (TriggerKind::Rule, false) => {
                let request = events.disable_rule().name(id).send();
                self.call(&self.events_limit, request).await.map(|_| ())
            }
            (TriggerKind::Mapping, enabled) => {
                let request = self.lambda.update_event_source_mapping().uuid(id);
                let request = request.enabled(enabled).send();
                self.lambda_call(request).await.map(|_| ())
            }
        }
    }

    pub async fn rule_targets(&self, name: &str) -> Result<Vec<String>, ProviderError> {
        let mut arns = Vec::new();
        let mut next = None;
        loop {
            let request = self.events.list_targets_by_rule().rule(name);
            let page = self
                .call(&self.events_limit, request.set_next_token(next).send())
                .await?;
            arns.extend(page.targets().iter().map(|t| t.arn().to_string()));
            next = page.next_token().map(str::to_string);
            if next.is_none() {
                return Ok(arns);
            }
        }
    }

    fn t(&self) -> f64 {
        self.operation_timeout.as_secs_f64()
    }
}

/// An event source mapping as the trigger list shows it.
/// A mapping as a trigger; `via`: the alias it was listed under (bound to it).
fn mapping(
    m: &aws_sdk_lambda::types::EventSourceMappingConfiguration,
    via: Option<&str>,
) -> Trigger {
    let state = m.state().unwrap_or_default().to_string();
    Trigger {
        kind: TriggerKind::Mapping,
        id: m.uuid().unwrap_or_default().to_string(),
        source: m.event_source_arn().unwrap_or_default().to_string(),
        enabled: mapping_enabled(&state),
        state,
        detail: format!(
            "batch {}{}{}",
            m.batch_size().map_or("–".to_string(), |b| b.to_string()),
            // Bound to an alias (or a version): the alias it was listed under, else the ARN's
            // eighth part says which.
            via.or_else(|| m.function_arn().and_then(|a| a.split(':').nth(7)))
                .map(|q| format!(", through {q}"))
                .unwrap_or_default(),
            m.last_processing_result()
                .map(|r| format!(", last result {r}"))
                .unwrap_or_default()
        ),
    }
}

/// A mapping on its way to enabled counts as enabled; on its way to disabled, as disabled.
pub fn mapping_enabled(state: &str) -> bool {
    matches!(state, "Enabled" | "Enabling" | "Creating" | "Updating")
}

/// "events.amazonaws.com (from arn:aws:events:…:rule/nightly)" per Allow statement.
pub fn principals(policy: &str) -> Vec<String> {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return Vec::new();
    };
    let statements = crate::provider::function::policy_statements(&doc);
    statements
        .iter()
        .filter(|s| s["Effect"] == "Allow")
        .map(|s| {
            let who = match &s["Principal"] {
                Value::String(p) => p.clone(),
                Value::Object(m) => m
                    .values()
                    .map(|v| match v {
                        Value::String(x) => x.clone(),
                        other => other.to_string(),
                    })
                    .collect::<Vec<_>>()
                    .join(", "),
                other => other.to_string(),
            };
            let source = s["Condition"]
                .as_object()
                .into_iter()
                .flat_map(|c| c.values())
                .filter_map(|v| v.as_object())
                .flat_map(|m| m.iter())
                .find(|(k, _)| k.eq_ignore_ascii_case("AWS:SourceArn"))
                .and_then(|(_, v)| v.as_str().map(str::to_string));
            match source {
                Some(arn) => format!("{who} (from {arn})"),
                None => who,
            }
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn principals_with_their_source() {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"a","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},"Action":"lambda:InvokeFunction","Resource":"x",
             "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:events:us-east-1:1:rule/nightly"}}},
            {"Sid":"b","Effect":"Allow","Principal":"*","Action":"lambda:InvokeFunctionUrl","Resource":"x"},
            {"Sid":"c","Effect":"Deny","Principal":"*","Action":"lambda:InvokeFunction","Resource":"x"}]}"#;
        assert_eq!(
            principals(policy),
            vec![
                "events.amazonaws.com (from arn:aws:events:us-east-1:1:rule/nightly)".to_string(),
                "*".to_string()
            ]
        );
        assert!(principals("not json").is_empty());
        assert!(mapping_enabled("Enabling") && !mapping_enabled("Disabling"));
        // Being created or updated: neither on nor off yet, as the faces say it.
        let with = |state: &str| Trigger {
            kind: crate::provider::TriggerKind::Mapping,
            id: "u".into(),
            source: String::new(),
            enabled: mapping_enabled(state),
            state: state.into(),
            detail: String::new(),
        };
        assert_eq!(with("Updating").known_enabled(), None);
        assert_eq!(with("Creating").known_enabled(), None);
        assert_eq!(with("Enabled").known_enabled(), Some(true));
        assert_eq!(with("Disabling").known_enabled(), Some(false));
    }
}
