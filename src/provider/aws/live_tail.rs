//! CloudWatch Logs Live Tail: one session over up to 10 log groups, its events handed over as
//! they arrive. The session's limits and what to do when it ends live in `runtime::tail`.

use chrono::{TimeZone, Utc};
use tokio::sync::mpsc;

use super::AwsRegion;
use super::error::classify_for;
use crate::loglines::LogLine;
use crate::provider::{ProviderError, TailEvent};

/// The ARN Live Tail wants for a log group, from the caller's ARN (partition and account).
pub fn group_arn(caller: &str, region: &str, group: &str) -> Option<String> {
    let mut parts = caller.split(':');
    let (_, partition, _, _, account) = (
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
        parts.next()?,
    );
    if partition.is_empty() || account.is_empty() {
        return None;
    }
    Some(format!(
        "arn:{partition}:logs:{region}:{account}:log-group:{group}"
    ))
}

/// The log group name in a Live Tail group identifier (an ARN, possibly ending in `:*`).
pub fn group_of_identifier(identifier: &str) -> &str {
    let name = identifier
        .split_once(":log-group:")
        .map_or(identifier, |(_, name)| name);
    name.strip_suffix(":*").unwrap_or(name)
}

impl AwsRegion {
    /// One Live Tail session over these functions' log groups (at most 10), until it ends.
    /// Events go to `tx` as they arrive, labelled with the function whose group they came from.
    /// Refusals that polling would not meet (access denied, the account's session limit, an
    /// endpoint that does not serve Live Tail) come back as `AccessDenied` or `Unsupported`.
    pub async fn tail_session(
        &self,
        functions: &[String],
        filter: Option<&str>,
        tx: &mpsc::Sender<TailEvent>,
    ) -> Result<(), ProviderError> {
        let caller = crate::provider::RegionActions::caller(self).await?;
        let region = self.clients.scope.region.clone();
        // A group several functions write to (a shared LoggingConfig group) is tailed once, each
        // event shown under the function its stream names, as reading each function's would.
        // A function whose group Lambda cannot name is left out (its reads say why): the others
        // are tailed all the same. None named: the session fails as a read does — not as Live
        // Tail refused, which it was not.
        let mut groups: Vec<(String, Vec<String>)> = Vec::new();
        let mut unnamed = None;
        for f in functions {
            let group = match self.log_group(f).await {
                Ok(group) => group,
                Err(e) => {
                    tracing::debug!(function = %f, error = %e, "left out of the Live Tail session");
                    unnamed.get_or_insert(e);
                    continue;
                }
            };
            match groups.iter_mut().find(|(g, _)| *g == group) {
                Some((_, names)) => names.push(f.clone()),
                None => groups.push((group, vec![f.clone()])),
            }
        }
        if groups.is_empty()
            && let Some(e) = unnamed
        {
            return Err(ProviderError::Service(e.to_string()));
        }
        let arns = groups
            .iter()
            .map(|(g, _)| {
                group_arn(&caller, &region, g).ok_or_else(|| {
                    ProviderError::Unsupported(format!(
                        "no account in the caller ARN '{caller}' to name log groups by"
                    ))
                })
            })
            .collect::<Result<Vec<_>, _>>()?;
        let secs = self.clients.operation_timeout.as_secs_f64();
        self.clients.logs_limit.acquire().await;
        let out = self
            .clients
            .logs
            .start_live_tail()
            .set_log_group_identifiers(Some(arns))
            .set_log_event_filter_pattern(filter.map(str::to_string))
            .customize()
            .config_override(
                aws_sdk_cloudwatchlogs::config::Builder::default()
                    .retry_config(aws_config::retry::RetryConfig::disabled()),
            )
            .send()
            .await
            .map_err(|e| {
                let code = aws_sdk_cloudwatchlogs::error::ProvideErrorMetadata::code(&e)
                    .unwrap_or_default()
                    .to_string();
                match classify_for(e, secs, "CloudWatch Logs") {
                    // The account's 15 sessions are taken: polling still works.
                    _ if code == "LimitExceededException" => ProviderError::Throttled(
                        "LimitExceededException: the account's Live Tail sessions are all in use"
                            .into(),
                    ),
                    // An endpoint that does not know the operation.
                    _ if matches!(
                        code.as_str(),
                        "UnknownOperationException" | "InvalidAction" | "NotImplemented"
                    ) =>
                    {
                        ProviderError::Unsupported(format!(
                            "{code}: this endpoint does not serve Live Tail"
                        ))
                    }
                    other => other,
                }
            })?;
        let mut stream = out.response_stream;
        loop {
            let next = match stream.recv().await {
                Ok(next) => next,
                // The 3-hour cap: the session ends as sessions do.
                Err(e)
                    if e.as_service_error()
                        .is_some_and(|s| s.is_session_timeout_exception()) =>
                {
                    return Ok(());
                }
                Err(e) => {
                    return Err(ProviderError::Service(format!(
                        "Live Tail stream: {}",
                        crate::provider::aws::error_chain(&e)
                    )));
                }
            };
            let Some(event) = next else {
                return Ok(());
            };
            use aws_sdk_cloudwatchlogs::types::StartLiveTailResponseStream as Stream;
            let update = match event {
                Stream::SessionStart(_) => {
                    if tx.send(TailEvent::Started).await.is_err() {
                        return Ok(());
                    }
                    continue;
                }
                Stream::SessionUpdate(update) => update,
                _ => continue,
            };
            tracing::debug!(
                events = update.session_results().len(),
                groups = ?update.session_results().iter().map(|e| e.log_group_identifier().unwrap_or_default()).collect::<std::collections::BTreeSet<_>>(),
                "live tail update"
            );
            if update.session_metadata().is_some_and(|m| m.sampled)
                && tx.send(TailEvent::Sampled).await.is_err()
            {
                return Ok(());
            }
            let mut lines: Vec<LogLine> = Vec::new();
            for e in update.session_results() {
                let Some(time) = e
                    .timestamp
                    .and_then(|t| Utc.timestamp_millis_opt(t).single())
                else {
                    continue;
                };
                // Only the groups asked for (an event of another group is not ours to show).
                let group = group_of_identifier(e.log_group_identifier().unwrap_or_default());
                let Some((_, names)) = groups.iter().find(|(g, _)| g == group) else {
                    continue;
                };
                let stream = e.log_stream_name().unwrap_or_default();
                // A group several of them share: each event under the function whose stream
                // it is (under each, when its stream names none).
                let names = names
                    .iter()
                    .filter(|f| crate::loglines::of_function(f, stream));
                for function in names {
                    let mut line = LogLine {
                        time,
                        region: region.clone(),
                        function: function.clone(),
                        stream: stream.to_string(),
                        message: e.message().unwrap_or_default().trim_end().to_string(),
                        event_id: String::new(),
                        report: None,
                        failure: None,
                    };
                    crate::loglines::annotate(&mut line);
                    lines.push(line);
                }
            }
            if !lines.is_empty() && tx.send(TailEvent::Lines(lines)).await.is_err() {
                return Ok(());
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn group_arns_come_from_the_callers_partition_and_account() {
        assert_eq!(
            group_arn(
                "arn:aws:sts::123456789012:assumed-role/oncall/me",
                "eu-west-1",
                "/aws/lambda/orders"
            )
            .as_deref(),
            Some("arn:aws:logs:eu-west-1:123456789012:log-group:/aws/lambda/orders")
        );
        assert_eq!(
            group_arn("arn:aws-cn:iam::999:user/x", "cn-north-1", "g").as_deref(),
            Some("arn:aws-cn:logs:cn-north-1:999:log-group:g")
        );
        assert_eq!(group_arn("unknown", "eu-west-1", "g"), None);
        assert_eq!(
            group_of_identifier("arn:aws:logs:eu-west-1:1:log-group:/aws/lambda/a:*"),
            "/aws/lambda/a"
        );
        assert_eq!(group_of_identifier("/aws/lambda/a"), "/aws/lambda/a");
    }
}
