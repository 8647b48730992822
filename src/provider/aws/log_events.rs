//! CloudWatch Logs: every event of a log group in a time range, paginated to the end.

use chrono::{TimeZone, Utc};

use super::AwsRegion;
use crate::loglines::LogLine;
use crate::provider::ProviderError;

/// The log group a function writes to: its configured one (LoggingConfig), else the default.
pub fn log_group_of(function: &str, configured: Option<&str>) -> String {
    match configured.map(str::trim).filter(|g| !g.is_empty()) {
        Some(group) => group.to_string(),
        None => format!("/aws/lambda/{function}"),
    }
}

impl crate::provider::LogSource for AwsRegion {
    async fn log_events(
        &self,
        function: &str,
        start_ms: i64,
        end_ms: i64,
        filter: Option<&str>,
    ) -> Result<Vec<LogLine>, ProviderError> {
        self.read_log_events(function, start_ms, end_ms, filter)
            .await
    }

    async fn tail(
        &self,
        functions: &[String],
        filter: Option<&str>,
        tx: &tokio::sync::mpsc::Sender<crate::provider::TailEvent>,
    ) -> Result<(), ProviderError> {
        self.tail_session(functions, filter, tx).await
    }
}

impl AwsRegion {
    /// The function's log group, read once per function (GetFunctionConfiguration). A function
    /// that no longer exists gets the default group: the logs of a deleted function are still
    /// worth reading. Any other failure of that read fails: the function may log to a group of
    /// its own (LoggingConfig), and reading the default one would show another group's lines
    /// (an older one's, say) as its own.
    pub async fn log_group(&self, function: &str) -> Result<String, ProviderError> {
        if let Some(group) = self
            .log_groups
            .lock()
            .ok()
            .and_then(|g| g.get(function).cloned())
        {
            return Ok(group);
        }
        let request = self.clients.lambda.get_function_configuration();
        let request = request.function_name(function).send();
        let configured = match self.clients.lambda_call(request).await {
            Ok(c) => c
                .logging_config()
                .and_then(|l| l.log_group())
                .map(str::to_string),
            Err(ProviderError::NotFound(e)) => {
                tracing::debug!(function, error = %e, "no such function; default log group");
                None
            }
            // Nothing was asked (no credentials, a setting that cannot work), or the credentials
            // were refused: the profile's failure, said as such by every read of it.
            Err(e @ (ProviderError::Invalid(_) | ProviderError::Credentials(_))) => return Err(e),
            Err(e) => {
                let grant = match e {
                    ProviderError::AccessDenied(_) => {
                        " (lops reads it with lambda:GetFunctionConfiguration)"
                    }
                    _ => "",
                };
                return Err(e.prefixed(&format!(
                    "the log group of {function} in {} could not be read{grant}: it may log to \
                     a group of its own (LoggingConfig), so no group was read in its place; \
                     GetFunctionConfiguration",
                    self.clients.scope
                )));
            }
        };
        let group = log_group_of(function, configured.as_deref());
        if let Ok(mut groups) = self.log_groups.lock() {
            groups.insert(function.to_string(), group.clone());
        }
        Ok(group)
    }

    /// Events of the function's log group between `start_ms` and `end_ms`, matching `filter`.
    pub async fn read_log_events(
        &self,
        function: &str,
        start_ms: i64,
        end_ms: i64,
        filter: Option<&str>,
    ) -> Result<Vec<LogLine>, ProviderError> {
        let group = self.log_group(function).await?;
        let mut lines = Vec::new();
        let mut token = None;
        loop {
            let request = self
                .clients
                .logs
                .filter_log_events()
                .log_group_name(&group)
                .start_time(start_ms)
                .end_time(end_ms)
                .set_filter_pattern(filter.map(str::to_string))
                .set_next_token(token)
                .send();
            let clients = &self.clients;
            let page = clients
                .background(&clients.logs_limit, request)
                .await
                .map_err(|e| match e {
                    ProviderError::NotFound(_) => ProviderError::NotFound(format!(
                        "no log group {group} in {}: the function does not exist there or has not logged yet",
                        self.clients.scope
                    )),
                    // A pattern CloudWatch Logs cannot parse is the caller's to fix, not a
                    // failure to retry.
                    // (Only when AWS names the pattern: a refused group name or time is
                    // not the filter's fault.)
                    ProviderError::Service(m)
                        if filter.is_some()
                            && m.starts_with("InvalidParameterException")
                            && !["logGroupName", "logGroupIdentifier", "startTime", "endTime"]
                                .iter()
                                .any(|p| m.contains(p)) =>
                    {
                        ProviderError::Invalid(format!(
                            "the filter pattern {:?} was refused ({m}): see CloudWatch Logs' \
                             filter pattern syntax, e.g. ERROR, \"Task timed out\" or \
                             {{ $.level = \"error\" }}",
                            filter.unwrap_or_default()
                        ))
                    }
                    other => other,
                })?;
            for e in page.events.unwrap_or_default() {
                let Some(time) = e
                    .timestamp
                    .and_then(|t| Utc.timestamp_millis_opt(t).single())
                else {
                    continue;
                };
                let stream = e.log_stream_name.unwrap_or_default();
                // A group shared with other functions: theirs are not this one's.
                if !crate::loglines::of_function(function, &stream) {
                    continue;
                }
                let mut line = LogLine {
                    time,
                    region: self.clients.scope.region.clone(),
                    function: function.to_string(),
                    stream,
                    message: e.message.unwrap_or_default().trim_end().to_string(),
                    event_id: e.event_id.unwrap_or_default(),
                    report: None,
                    failure: None,
                };
                crate::loglines::annotate(&mut line);
                lines.push(line);
            }
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(lines);
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn configured_log_group_wins_over_the_default() {
        assert_eq!(log_group_of("orders", None), "/aws/lambda/orders");
        assert_eq!(log_group_of("orders", Some(" ")), "/aws/lambda/orders");
        assert_eq!(log_group_of("orders", Some("/shared/api")), "/shared/api");
    }
}
