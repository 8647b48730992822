//! What triggers a function: EventBridge rules that target it (or its aliases), event source
//! mappings, its function URL, and the principals its resource policy lets invoke it.

use serde_json::Value;

use super::clients::Clients;
use super::error::classify;
use crate::provider::{ProviderError, Trigger, TriggerKind, Triggers};

impl Clients {
    fn t(&self) -> f64 {
        self.operation_timeout.as_secs_f64()
    }

    pub async fn triggers(&self, function: &str) -> Result<Triggers, ProviderError> {
        self.lambda_limit.acquire_first().await;
        let config = self
            .lambda
            .get_function_configuration()
            .function_name(function)
            .send()
            .await
            .map_err(|e| classify(e, self.t()))?;
        let arn = config.function_arn().unwrap_or_default().to_string();
        let mut out = Triggers {
            function: function.to_string(),
            ..Default::default()
        };

        // Rules may target the function or any of its aliases.
        let mut targets = vec![arn.clone()];
        self.lambda_limit.acquire_first().await;
        match self
            .lambda
            .list_aliases()
            .function_name(function)
            .send()
            .await
        {
            Ok(a) => targets.extend(
                a.aliases()
                    .iter()
                    .filter_map(|a| a.alias_arn().map(str::to_string)),
            ),
            Err(e) => out
                .notes
                .push(format!("aliases: {}", classify(e, self.t()))),
        }
        let mut names = Vec::new();
        for target in &targets {
            let mut next = None;
            loop {
                self.events_limit.acquire_first().await;
                let page = match self
                    .events
                    .list_rule_names_by_target()
                    .target_arn(target)
                    .set_next_token(next)
                    .send()
                    .await
                {
                    Ok(p) => p,
                    Err(e) => {
                        out.notes
                            .push(format!("EventBridge rules: {}", classify(e, self.t())));
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
            self.events_limit.acquire_first().await;
            match self.events.describe_rule().name(&name).send().await {
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
                Err(e) => out
                    .notes
                    .push(format!("rule {name}: {}", classify(e, self.t()))),
            }
        }

        let mut marker = None;
        loop {
            self.lambda_limit.acquire_first().await;
            let page = match self
                .lambda
                .list_event_source_mappings()
                .function_name(function)
                .set_marker(marker)
                .send()
                .await
            {
                Ok(p) => p,
                Err(e) => {
                    out.notes
                        .push(format!("event source mappings: {}", classify(e, self.t())));
                    break;
                }
            };
            for m in page.event_source_mappings() {
                let state = m.state().unwrap_or_default().to_string();
                out.triggers.push(Trigger {
                    kind: TriggerKind::Mapping,
                    id: m.uuid().unwrap_or_default().to_string(),
                    source: m.event_source_arn().unwrap_or_default().to_string(),
                    enabled: mapping_enabled(&state),
                    state,
                    detail: format!(
                        "batch {}{}",
                        m.batch_size().map_or("–".to_string(), |b| b.to_string()),
                        m.last_processing_result()
                            .map(|r| format!(", last result {r}"))
                            .unwrap_or_default()
                    ),
                });
            }
            marker = page
                .next_marker()
                .filter(|m| !m.is_empty())
                .map(str::to_string);
            if marker.is_none() {
                break;
            }
        }

        self.lambda_limit.acquire_first().await;
        match self
            .lambda
            .get_function_url_config()
            .function_name(function)
            .send()
            .await
        {
            Ok(u) => {
                out.url = Some(u.function_url().to_string());
                out.url_auth = Some(u.auth_type().as_str().to_string());
            }
            Err(e) => match classify(e, self.t()) {
                ProviderError::NotFound(_) => {}
                other => out.notes.push(format!("function URL: {other}")),
            },
        }

        self.lambda_limit.acquire_first().await;
        match self
            .lambda
            .get_policy()
            .function_name(function)
            .send()
            .await
        {
            Ok(p) => out.principals = principals(p.policy().unwrap_or_default()),
            Err(e) => match classify(e, self.t()) {
                ProviderError::NotFound(_) => {}
                other => out.notes.push(format!("resource policy: {other}")),
            },
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
                self.events_limit.acquire_first().await;
                let r = self
                    .events
                    .describe_rule()
                    .name(id)
                    .send()
                    .await
                    .map_err(|e| classify(e, self.t()))?;
                Ok(r.state().is_some_and(|s| s.as_str().starts_with("ENABLED")))
            }
            TriggerKind::Mapping => {
                self.lambda_limit.acquire_first().await;
                let m = self
                    .lambda
                    .get_event_source_mapping()
                    .uuid(id)
                    .send()
                    .await
                    .map_err(|e| classify(e, self.t()))?;
                Ok(mapping_enabled(m.state().unwrap_or_default()))
            }
        }
    }

    pub async fn set_trigger_enabled(
        &self,
        kind: TriggerKind,
        id: &str,
        enabled: bool,
    ) -> Result<(), ProviderError> {
        if kind == TriggerKind::Rule {
            self.events_limit.acquire_first().await;
        }
        match (kind, enabled) {
            (TriggerKind::Rule, true) => self
                .events
                .enable_rule()
                .name(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, self.t())),
            (TriggerKind::Rule, false) => self
                .events
                .disable_rule()
                .name(id)
                .send()
                .await
                .map(|_| ())
                .map_err(|e| classify(e, self.t())),
            (TriggerKind::Mapping, enabled) => {
                self.lambda_limit.acquire_first().await;
                self.lambda
                    .update_event_source_mapping()
                    .uuid(id)
                    .enabled(enabled)
                    .send()
                    .await
                    .map(|_| ())
                    .map_err(|e| classify(e, self.t()))
            }
        }
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
    let statements = match &doc["Statement"] {
        Value::Array(a) => a.clone(),
        Value::Object(_) => vec![doc["Statement"].clone()],
        _ => Vec::new(),
    };
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
    }
}
