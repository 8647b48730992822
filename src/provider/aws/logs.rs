//! CloudWatch Logs: every event of a log group in a time range, paginated to the end.

use chrono::{TimeZone, Utc};

use super::AwsRegion;
use super::error::classify;
use crate::logs::LogLine;
use crate::provider::ProviderError;

impl AwsRegion {
    /// Events of `/aws/lambda/FUNCTION` between `start_ms` and `end_ms`, matching `filter`.
    pub async fn log_events(
        &self,
        function: &str,
        start_ms: i64,
        end_ms: i64,
        filter: Option<&str>,
    ) -> Result<Vec<LogLine>, ProviderError> {
        let group = format!("/aws/lambda/{function}");
        let mut lines = Vec::new();
        let mut token = None;
        loop {
            self.clients.logs_limit.acquire().await;
            let page = self
                .clients
                .logs
                .filter_log_events()
                .log_group_name(&group)
                .start_time(start_ms)
                .end_time(end_ms)
                .set_filter_pattern(filter.map(str::to_string))
                .set_next_token(token)
                .send()
                .await
                .map_err(|e| match classify(e, self.clients.operation_timeout.as_secs_f64()) {
                    ProviderError::NotFound(_) => ProviderError::NotFound(format!(
                        "no log group {group} in {}: the function does not exist there or has not logged yet",
                        self.clients.scope
                    )),
                    other => other,
                })?;
            for e in page.events.unwrap_or_default() {
                let Some(time) = e
                    .timestamp
                    .and_then(|t| Utc.timestamp_millis_opt(t).single())
                else {
                    continue;
                };
                let mut line = LogLine {
                    time,
                    region: self.clients.scope.region.clone(),
                    function: function.to_string(),
                    stream: e.log_stream_name.unwrap_or_default(),
                    message: e.message.unwrap_or_default().trim_end().to_string(),
                    event_id: e.event_id.unwrap_or_default(),
                    report: None,
                    failure: None,
                };
                crate::logs::annotate(&mut line);
                lines.push(line);
            }
            token = page.next_token.filter(|t| !t.is_empty());
            if token.is_none() {
                return Ok(lines);
            }
        }
    }
}
