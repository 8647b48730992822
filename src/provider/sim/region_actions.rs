//! The simulated fleet's write side, log events and guard signals: the demo's actions change
//! the simulation as they would change AWS.

use super::*;

/// The revision an alias gets when it changes (AWS gives a new one on every change).
pub(super) fn next_revision(seed: u64, previous: Option<&str>) -> String {
    let next = fleet::hash(seed, fleet::key_of(previous.unwrap_or_default()));
    format!("{:08x}", next as u32)
}

impl SimRegion {
    pub(super) fn with_function<T>(
        &self,
        name: &str,
        f: impl FnOnce(&mut SimFunction) -> Result<T, ProviderError>,
    ) -> Result<T, ProviderError> {
        let mut all = self.write();
        let function = all
            .iter_mut()
            .find(|x| x.info.name == name)
            .ok_or_else(|| ProviderError::NotFound(format!("Function not found: {name}")))?;
        f(function)
    }
}

impl SimRegion {
    /// A reservation, refused as AWS refuses one that leaves the account fewer than 100
    /// unreserved (every write of it: a change's, a restore's).
    pub(super) fn reserve(&self, function: &str, value: Option<i32>) -> Result<(), ProviderError> {
        let unreserved = self.unreserved();
        self.with_function(function, |f| {
            let more =
                i64::from(value.unwrap_or(0)) - i64::from(f.info.reserved_concurrency.unwrap_or(0));
            if more > 0 && unreserved - more < 100 {
                return Err(ProviderError::Service(format!(
                    "InvalidParameterValueException: Specified ReservedConcurrentExecutions for \
                     function decreases account's UnreservedConcurrentExecution below its \
                     minimum value of [100]. ({unreserved} unreserved)"
                )));
            }
            f.info.reserved_concurrency = value;
            Ok(())
        })
    }
}

fn find_alias<'a>(f: &'a mut SimFunction, alias: &str) -> Result<&'a mut AliasInfo, ProviderError> {
    let name = f.info.name.clone();
    f.info
        .aliases
        .iter_mut()
        .find(|a| a.name == alias)
        .ok_or_else(|| ProviderError::NotFound(format!("Alias not found: {name}:{alias}")))
}

impl crate::provider::LogSource for SimRegion {
    /// One invocation every 15 s per function: START, a line of its own, END and REPORT, a
    /// cold start now and then, and failures while the error spike plays.
    async fn log_events(
        &self,
        function: &str,
        start_ms: i64,
        end_ms: i64,
        filter: Option<&str>,
    ) -> Result<Vec<crate::loglines::LogLine>, ProviderError> {
        self.answer(14).await?;
        self.log_lines(function, start_ms, end_ms, filter)
    }

    /// A Live Tail session: each invocation's lines as its time comes, until the region goes
    /// down (the session drops) or nobody listens.
    async fn tail(
        &self,
        functions: &[String],
        filter: Option<&str>,
        tx: &tokio::sync::mpsc::Sender<crate::provider::TailEvent>,
    ) -> Result<(), ProviderError> {
        use crate::provider::TailEvent;
        self.answer(15).await?;
        if tx.send(TailEvent::Started).await.is_err() {
            return Ok(());
        }
        let mut last = chrono::Utc::now().timestamp_millis();
        loop {
            tokio::time::sleep(Duration::from_secs(1)).await;
            if self.down() {
                return Err(ProviderError::Service(
                    "Live Tail stream: connection lost".into(),
                ));
            }
            let now = chrono::Utc::now().timestamp_millis();
            let mut lines = Vec::new();
            for f in functions {
                lines.extend(self.log_lines(f, last, now, filter)?);
            }
            last = now;
            lines.iter_mut().for_each(|l| l.event_id.clear());
            if !lines.is_empty() && tx.send(TailEvent::Lines(lines)).await.is_err() {
                return Ok(());
            }
            if tx.is_closed() {
                return Ok(());
            }
        }
    }
}

impl SimRegion {
    /// One invocation every 15 s per function between `start_ms` and `end_ms`.
    fn log_lines(
        &self,
        function: &str,
        start_ms: i64,
        end_ms: i64,
        filter: Option<&str>,
    ) -> Result<Vec<crate::loglines::LogLine>, ProviderError> {
        let (spiking, memory, duration) = self.with_function(function, |f| {
            Ok((
                f.scenario == Some(Scenario::ErrorSpike),
                f.info.memory_mb.unwrap_or(128),
                f.duration_ms,
            ))
        })?;
        const EVERY_MS: i64 = 15_000;
        let first = start_ms.div_euclid(EVERY_MS) + 1;
        let last = end_ms.div_euclid(EVERY_MS);
        let mut out = Vec::new();
        // At most the last 200 invocations of a long range.
        for n in first.max(last - 200)..=last {
            let at = n * EVERY_MS;
            let Some(time) = chrono::DateTime::from_timestamp_millis(at) else {
                continue;
            };
            let u = unit(
                self.seed ^ crate::provider::sim::fleet::key_of(function),
                n as u64,
            );
            let cold = u < 0.08;
            let failed = spiking && self.clock.active(time, ERROR_SPIKE_PHASE) && u > 0.6;
            let request = format!(
                "{:08x}-{:04x}-4{:03x}-8000-{:012x}",
                n as u32,
                (n >> 8) as u16,
                n % 4096,
                crate::provider::sim::fleet::key_of(function) & 0xffff_ffff_ffff
            );
            let stream = format!("2026/11/25/[$LATEST]{:08x}", (n / 40) as u32);
            let took = duration * (0.6 + u * 0.8);
            let mut messages = vec![format!("START RequestId: {request} Version: $LATEST")];
            if failed {
                messages.push(format!(
                    "[ERROR] Runtime.HandlerError: upstream returned 503\tRequestId: {request}"
                ));
            } else {
                messages.push(format!("processed request {request}"));
            }
            messages.push(format!("END RequestId: {request}"));
            messages.push(format!(
                "REPORT RequestId: {request}\tDuration: {took:.2} ms\tBilled Duration: {} ms\tMemory Size: {memory} MB\tMax Memory Used: {} MB{}",
                took.ceil() as i64,
                (f64::from(memory) * (0.3 + u * 0.4)) as i64,
                if cold { format!("\tInit Duration: {:.2} ms", 180.0 + u * 300.0) } else { String::new() }
            ));
            for (k, message) in messages.into_iter().enumerate() {
                if filter.is_some_and(|p| !message.contains(p)) {
                    continue;
                }
                let mut line = crate::loglines::LogLine {
                    time: time
                        + chrono::TimeDelta::milliseconds(k as i64 * (took as i64 / 3).max(1)),
                    region: self.scope.region.clone(),
                    function: function.to_string(),
                    stream: stream.clone(),
                    message,
                    event_id: format!("{n}-{k}"),
                    report: None,
                    failure: None,
                };
                crate::loglines::annotate(&mut line);
                out.push(line);
            }
        }
        Ok(out)
    }

    fn find_trigger<T>(
        &self,
        kind: crate::provider::TriggerKind,
        id: &str,
        f: impl FnOnce(&mut crate::provider::Trigger) -> T,
    ) -> Result<T, ProviderError> {
        let mut all = self.write();
        all.iter_mut()
            .flat_map(|x| x.triggers.iter_mut())
            .find(|t| t.kind == kind && t.id == id)
            .map(f)
            .ok_or_else(|| ProviderError::NotFound(format!("{} {id} not found", kind.as_str())))
    }
}

impl RegionActions for SimRegion {
    async fn dns_records(
        &self,
        zone: &str,
        name: &str,
        kind: &str,
    ) -> Result<Vec<crate::provider::dns::DnsRecord>, ProviderError> {
        self.sim_dns_records(zone, name, kind).await
    }

    async fn change_dns(
        &self,
        zone: &str,
        records: &[crate::provider::dns::DnsRecord],
    ) -> Result<String, ProviderError> {
        self.sim_change_dns(zone, records).await
    }

    async fn dns_change_synced(&self, _change: &str) -> Result<bool, ProviderError> {
        self.answer(24).await?;
        Ok(true)
    }

    async fn health_check(&self, id: &str) -> Result<crate::provider::dns::Health, ProviderError> {
        self.sim_health(id).await
    }

    async fn triggers(&self, function: &str) -> Result<crate::provider::Triggers, ProviderError> {
        self.answer(11).await?;
        self.with_function(function, |f| {
            Ok(crate::provider::Triggers {
                function: function.to_string(),
                triggers: f.triggers.clone(),
                url: None,
                url_auth: None,
                principals: f
                    .triggers
                    .iter()
                    .filter(|t| t.kind == crate::provider::TriggerKind::Rule)
                    .map(|t| {
                        format!(
                            "events.amazonaws.com (from arn:aws:events:{}:000000000000:rule/{})",
                            self.scope.region, t.id
                        )
                    })
                    .collect(),
                notes: Vec::new(),
            })
        })
    }

    async fn trigger_enabled(
        &self,
        kind: crate::provider::TriggerKind,
        id: &str,
    ) -> Result<bool, ProviderError> {
        self.answer(12).await?;
        self.find_trigger(kind, id, |t| t.enabled)
    }

    async fn set_trigger_enabled(
        &self,
        kind: crate::provider::TriggerKind,
        id: &str,
        enabled: bool,
    ) -> Result<(), ProviderError> {
        self.answer(13).await?;
        self.find_trigger(kind, id, |t| {
            t.enabled = enabled;
            t.state = match (kind, enabled) {
                (crate::provider::TriggerKind::Rule, true) => "ENABLED",
                (crate::provider::TriggerKind::Rule, false) => "DISABLED",
                (_, true) => "Enabled",
                (_, false) => "Disabled",
            }
            .into();
        })
    }

    async fn mapping_ends(&self, id: &str) -> Option<(String, String)> {
        let all = self.write();
        all.iter().find_map(|x| {
            x.triggers
                .iter()
                .find(|t| t.kind == crate::provider::TriggerKind::Mapping && t.id == id)
                .map(|t| (x.info.name.clone(), t.source.clone()))
        })
    }

    async fn rule_targets(&self, _name: &str) -> Result<Vec<String>, ProviderError> {
        // The demo's rules each invoke the one function that lists them.
        Ok(Vec::new())
    }

    async fn caller(&self) -> Result<String, ProviderError> {
        Ok("arn:aws:iam::000000000000:user/demo".into())
    }

    async fn alias(&self, function: &str, alias: &str) -> Result<AliasInfo, ProviderError> {
        self.answer(4).await?;
        self.with_function(function, |f| find_alias(f, alias).map(|a| a.clone()))
    }

    async fn aliases(&self, function: &str) -> Result<Vec<AliasInfo>, ProviderError> {
        self.answer(5).await?;
        self.with_function(function, |f| Ok(f.info.aliases.clone()))
    }

    async fn published_versions(&self, function: &str) -> Result<Vec<String>, ProviderError> {
        self.answer(6).await?;
        self.with_function(function, |f| Ok(f.info.versions.clone()))
    }

    async fn route_alias(
        &self,
        function: &str,
        alias: &str,
        main: &str,
        extra: Option<(String, f64)>,
        revision: Option<String>,
    ) -> Result<AliasInfo, ProviderError> {
        self.answer(7).await?;
        let seed = self.seed;
        self.with_function(function, |f| {
            let a = find_alias(f, alias)?;
            if revision.is_some() && a.revision_id != revision {
                return Err(ProviderError::Service(
                    "PreconditionFailedException: the alias changed since it was read".into(),
                ));
            }
            a.function_version = main.to_string();
            a.additional_weights = extra.into_iter().collect();
            a.revision_id = Some(next_revision(seed, a.revision_id.as_deref()));
            Ok(a.clone())
        })
    }

    async fn reserved_concurrency(&self, function: &str) -> Result<Option<i32>, ProviderError> {
        self.answer(8).await?;
        self.with_function(function, |f| Ok(f.info.reserved_concurrency))
    }

    async fn set_reserved_concurrency(
        &self,
        function: &str,
        value: Option<i32>,
    ) -> Result<(), ProviderError> {
        self.answer(9).await?;
        self.reserve(function, value)
    }

    async fn unreserved_concurrency(&self) -> Option<i64> {
        self.answer(8).await.ok()?;
        Some(self.unreserved())
    }

    async fn invoke_target(
        &self,
        function: &str,
        qualifier: Option<&str>,
    ) -> Result<InvokeTarget, ProviderError> {
        self.answer(5).await?;
        self.with_function(function, |f| {
            let version = match qualifier {
                None | Some("$LATEST") => "$LATEST".to_string(),
                Some(q) if f.info.versions.iter().any(|v| v == q) => q.to_string(),
                Some(q) => f
                    .info
                    .aliases
                    .iter()
                    .find(|a| a.name == q)
                    .map(|a| a.function_version.clone())
                    .ok_or_else(|| {
                        ProviderError::NotFound(format!("Function not found: {function}:{q}"))
                    })?,
            };
            Ok(InvokeTarget {
                version,
                state: Some(f.info.state.clone()),
                timeout_secs: f.info.timeout_s,
            })
        })
    }

    async fn invoke(&self, request: &InvokeRequest) -> Result<InvokeOutcome, ProviderError> {
        self.answer(10).await?;
        let now = self.clock.now();
        let (duration, memory, spiking, version) = self.with_function(&request.function, |f| {
            if f.info.reserved_concurrency == Some(0) {
                return Err(ProviderError::Throttled(
                    "TooManyRequestsException: Rate Exceeded (reserved concurrency is 0)".into(),
                ));
            }
            let version = match &request.qualifier {
                Some(q) if q.chars().all(|c| c.is_ascii_digit()) => q.clone(),
                Some(q) => f
                    .info
                    .aliases
                    .iter()
                    .find(|a| a.name == *q)
                    .map(|a| a.function_version.clone())
                    .unwrap_or_else(|| "$LATEST".into()),
                None => "$LATEST".into(),
            };
            let spiking = f.scenario == Some(Scenario::ErrorSpike)
                && self.clock.active(now, ERROR_SPIKE_PHASE);
            Ok((
                f.duration_ms,
                f.info.memory_mb.unwrap_or(128),
                spiking,
                version,
            ))
        })?;
        let cold = unit(self.seed, now.timestamp() as u64) < 0.2;
        let request_id = format!(
            "{:08x}-sim",
            fleet::hash(self.seed, now.timestamp_millis() as u64) as u32
        );
        let mut log = format!("START RequestId: {request_id} Version: {version}\n");
        let (payload, function_error) = if spiking {
            log.push_str("ERROR Invoke Error {\"errorType\":\"DownstreamTimeout\"}\n");
            (
                br#"{"errorMessage":"downstream timed out","errorType":"DownstreamTimeout"}"#
                    .to_vec(),
                Some("Unhandled".to_string()),
            )
        } else {
            (request.payload.clone(), None)
        };
        log.push_str(&format!(
            "END RequestId: {request_id}\nREPORT RequestId: {request_id}\tDuration: {duration:.2} ms\tBilled Duration: {:.0} ms\tMemory Size: {memory} MB\tMax Memory Used: {} MB\t{}\n",
            duration.ceil(),
            memory / 2,
            if cold { "Init Duration: 312.40 ms\t" } else { "" }
        ));
        Ok(InvokeOutcome {
            status: if request.asynchronous { 202 } else { 200 },
            function_error,
            executed_version: Some(version),
            payload: if request.asynchronous {
                Vec::new()
            } else {
                payload
            },
            log_tail: Some(log),
        })
    }
}

impl crate::provider::GuardSignals for SimRegion {
    async fn version_errors(
        &self,
        function: &str,
        _alias: &str,
        _version: &str,
        minutes: u32,
    ) -> Result<(f64, f64), ProviderError> {
        self.answer(11).await?;
        let now = self.clock.now();
        let f = self
            .read()
            .iter()
            .find(|f| f.info.name == function)
            .cloned()
            .ok_or_else(|| ProviderError::NotFound(format!("Function not found: {function}")))?;
        let mut totals = (0.0, 0.0);
        for m in 0..minutes.max(1) {
            let s = self.sample(&f, now - TimeDelta::minutes(i64::from(m)));
            totals.0 += s.invocations;
            totals.1 += s.errors;
        }
        Ok(totals)
    }

    async fn alarm_states(
        &self,
        names: &[String],
    ) -> Result<Vec<(String, AlarmState)>, ProviderError> {
        let alarms = self.alarms().await?;
        Ok(alarms
            .into_iter()
            .filter(|a| names.contains(&a.name))
            .map(|a| (a.name, a.state))
            .collect())
    }
}
