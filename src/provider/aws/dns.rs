//! Route 53 on AWS: a service's record set read to its last member, one atomic change batch,
//! the change's propagation, and health check status.

use aws_sdk_route53::types::{
    AliasTarget as SdkAlias, Change, ChangeAction, ChangeBatch, ResourceRecord, ResourceRecordSet,
    ResourceRecordSetFailover, RrType,
};

use super::AwsRegion;
use super::error::classify_for;
use crate::provider::ProviderError;
use crate::provider::dns::{AliasTarget, DnsRecord, Health};

/// Route 53 names end with a dot and write `*` as `\052`; lops compares them without both.
fn bare(name: &str) -> String {
    name.trim_end_matches('.')
        .replace("\\052", "*")
        .to_ascii_lowercase()
}

fn from_sdk(r: &ResourceRecordSet) -> DnsRecord {
    let other = if r.geo_location().is_some() {
        Some("geolocation")
    } else if r.multi_value_answer().is_some() {
        Some("multivalue")
    } else if r.cidr_routing_config().is_some() {
        Some("cidr")
    } else if r.geo_proximity_location().is_some() {
        Some("geoproximity")
    } else if r.traffic_policy_instance_id().is_some() {
        Some("traffic policy")
    } else {
        None
    };
    DnsRecord {
        name: bare(r.name()),
        kind: r.r#type().as_str().to_string(),
        set_id: r.set_identifier().map(str::to_string),
        weight: r.weight(),
        failover: r.failover().map(|f| f.as_str().to_string()),
        region: r.region().map(|g| g.as_str().to_string()),
        ttl: r.ttl(),
        values: r
            .resource_records()
            .iter()
            .map(|v| v.value().to_string())
            .collect(),
        alias: r.alias_target().map(|a| AliasTarget {
            zone: a.hosted_zone_id().to_string(),
            dns_name: a.dns_name().to_string(),
            evaluate_health: a.evaluate_target_health(),
        }),
        health_check: r.health_check_id().map(str::to_string),
        other_routing: other.map(str::to_string),
    }
}

fn to_sdk(r: &DnsRecord) -> Result<ResourceRecordSet, ProviderError> {
    let invalid = |e: aws_sdk_route53::error::BuildError| {
        ProviderError::Service(format!("record {} cannot be written: {e}", r.name))
    };
    let mut b = ResourceRecordSet::builder()
        .name(&r.name)
        .r#type(RrType::from(r.kind.as_str()))
        .set_set_identifier(r.set_id.clone())
        .set_weight(r.weight)
        .set_failover(r.failover.as_deref().map(ResourceRecordSetFailover::from))
        .set_region(
            r.region
                .as_deref()
                .map(aws_sdk_route53::types::ResourceRecordSetRegion::from),
        )
        .set_ttl(r.ttl)
        .set_health_check_id(r.health_check.clone());
    for v in &r.values {
        b = b.resource_records(
            ResourceRecord::builder()
                .value(v)
                .build()
                .map_err(invalid)?,
        );
    }
    if let Some(a) = &r.alias {
        b = b.alias_target(
            SdkAlias::builder()
                .hosted_zone_id(&a.zone)
                .dns_name(&a.dns_name)
                .evaluate_target_health(a.evaluate_health)
                .build()
                .map_err(invalid)?,
        );
    }
    b.build().map_err(invalid)
}

impl AwsRegion {
    pub(super) async fn route53_records(
        &self,
        zone: &str,
        name: &str,
        kind: &str,
    ) -> Result<Vec<DnsRecord>, ProviderError> {
        let wanted = bare(name);
        let mut out = Vec::new();
        let (mut start_name, mut start_type, mut start_id) =
            (Some(format!("{wanted}.")), Some(RrType::from(kind)), None);
        loop {
            let request = self
                .clients
                .route53
                .list_resource_record_sets()
                .hosted_zone_id(zone)
                .set_start_record_name(start_name.take())
                .set_start_record_type(start_type.take())
                .set_start_record_identifier(start_id.take())
                .send();
            let clients = &self.clients;
            let page = clients
                .background(&clients.dns_limit, request)
                .await
                .map_err(|e| match e {
                    ProviderError::Service(m) if m.contains("NoSuchHostedZone") => {
                        ProviderError::NotFound(format!("hosted zone {zone}: {m}"))
                    }
                    other => other,
                })?;
            let mut past = false;
            for r in page.resource_record_sets() {
                if bare(r.name()) != wanted || r.r#type().as_str() != kind {
                    // Listed in order from the start name: the first other name ends the set.
                    past = true;
                    break;
                }
                out.push(from_sdk(r));
            }
            if past || !page.is_truncated() {
                return Ok(out);
            }
            start_name = page.next_record_name().map(str::to_string);
            start_type = page.next_record_type().cloned();
            start_id = page.next_record_identifier().map(str::to_string);
            if start_name.is_none() {
                return Ok(out);
            }
        }
    }

    pub(super) async fn route53_change(
        &self,
        zone: &str,
        records: &[DnsRecord],
    ) -> Result<String, ProviderError> {
        let mut changes = Vec::new();
        for r in records {
            changes.push(
                Change::builder()
                    .action(ChangeAction::Upsert)
                    .resource_record_set(to_sdk(r)?)
                    .build()
                    .map_err(|e| ProviderError::Service(e.to_string()))?,
            );
        }
        let batch = ChangeBatch::builder()
            .comment("lops")
            .set_changes(Some(changes))
            .build()
            .map_err(|e| ProviderError::Service(e.to_string()))?;
        let request = self.clients.route53.change_resource_record_sets();
        let request = request.hosted_zone_id(zone).change_batch(batch).send();
        let clients = &self.clients;
        let out = clients.background(&clients.dns_limit, request).await?;
        Ok(out
            .change_info()
            .map(|c| c.id().to_string())
            .unwrap_or_default())
    }

    pub(super) async fn route53_synced(&self, change: &str) -> Result<bool, ProviderError> {
        let request = self.clients.route53.get_change();
        let request = request.id(change.trim_start_matches("/change/")).send();
        let clients = &self.clients;
        let out = clients.background(&clients.dns_limit, request).await?;
        Ok(out
            .change_info()
            .is_some_and(|c| c.status().as_str() == "INSYNC"))
    }

    /// A health check's status: what Route 53's checkers report (GetHealthCheckStatus), else
    /// — for a check with no checkers (calculated, alarm-based) or when that read fails — the
    /// `AWS/Route53 HealthCheckStatus` metric, where the endpoint has it.
    pub(super) async fn route53_health(&self, id: &str) -> Result<Health, ProviderError> {
        // A disabled check counts as healthy to Route 53; an inverted one means the opposite
        // of what its checkers report.
        let request = self.clients.route53.get_health_check().health_check_id(id);
        let clients = &self.clients;
        let (disabled, inverted) =
            match clients.background(&clients.dns_limit, request.send()).await {
                Ok(out) => out
                    .health_check()
                    .and_then(|h| h.health_check_config())
                    .map_or((false, false), |c| {
                        (c.disabled().unwrap_or(false), c.inverted().unwrap_or(false))
                    }),
                Err(_) => (false, false),
            };
        if disabled {
            return Ok(Health::Healthy);
        }
        let (health, final_status) = self.route53_checked(id).await?;
        // The metric is Route 53's own verdict (inversion applied); the checkers' is not.
        Ok(match (inverted && !final_status, health) {
            (true, Health::Healthy) => {
                Health::Unhealthy("inverted check: its endpoint answers".into())
            }
            (true, Health::Unhealthy(_)) => Health::Healthy,
            (_, other) => other,
        })
    }

    /// What the checkers report, else the metric (then `true`: Route 53's final verdict).
    async fn route53_checked(&self, id: &str) -> Result<(Health, bool), ProviderError> {
        let request = self.clients.route53.get_health_check_status();
        let request = request.health_check_id(id).send();
        let clients = &self.clients;
        let checkers = clients.background(&clients.dns_limit, request).await;
        let reports: Vec<String> = match &checkers {
            Ok(out) => out
                .health_check_observations()
                .iter()
                .filter_map(|o| o.status_report().and_then(|r| r.status()))
                .map(str::to_string)
                .collect(),
            Err(_) => Vec::new(),
        };
        if reports.is_empty() {
            return match self.route53_health_metric(id).await {
                Ok(Some(true)) => Ok((Health::Healthy, true)),
                Ok(Some(false)) => Ok((
                    Health::Unhealthy("the HealthCheckStatus metric is 0".into()),
                    true,
                )),
                Ok(None) | Err(_) => match checkers {
                    Err(e) => Err(e),
                    Ok(_) => Ok((Health::Unknown("no checker has reported yet".into()), false)),
                },
            };
        }
        // Route 53 calls an endpoint healthy when more than 18 % of its checkers do.
        let ok = reports.iter().filter(|s| s.starts_with("Success")).count();
        let health = if ok * 100 > reports.len() * 18 {
            Health::Healthy
        } else {
            Health::Unhealthy(
                reports
                    .iter()
                    .find(|s| !s.starts_with("Success"))
                    .cloned()
                    .unwrap_or_default(),
            )
        };
        Ok((health, false))
    }

    /// The newest minute of the check's `HealthCheckStatus` over the last ten (1 healthy),
    /// or `None` when there is none.
    async fn route53_health_metric(&self, id: &str) -> Result<Option<bool>, ProviderError> {
        use aws_sdk_cloudwatch::primitives::DateTime as AwsTime;
        use aws_sdk_cloudwatch::types::{Dimension, Metric, MetricDataQuery, MetricStat};
        let end = chrono::Utc::now();
        let start = end - chrono::TimeDelta::minutes(10);
        let query = MetricDataQuery::builder()
            .id("status")
            .metric_stat(
                MetricStat::builder()
                    .metric(
                        Metric::builder()
                            .namespace("AWS/Route53")
                            .metric_name("HealthCheckStatus")
                            .dimensions(
                                Dimension::builder().name("HealthCheckId").value(id).build(),
                            )
                            .build(),
                    )
                    .period(60)
                    .stat("Minimum")
                    .build(),
            )
            .return_data(true)
            .build();
        self.clients.cloudwatch_limit.acquire().await;
        let out = self
            .clients
            .route53_metrics
            .get_metric_data()
            .metric_data_queries(query)
            .start_time(AwsTime::from_secs(start.timestamp()))
            .end_time(AwsTime::from_secs(end.timestamp()))
            .send()
            .await
            .map_err(|e| {
                classify_for(
                    e,
                    self.clients.operation_timeout.as_secs_f64(),
                    "CloudWatch",
                )
            })?;
        // Answered: billed (a failed request is not).
        self.clients
            .metrics_requested
            .fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let newest = out
            .metric_data_results()
            .iter()
            .flat_map(|r| r.timestamps().iter().zip(r.values()))
            .max_by_key(|(t, _)| t.secs())
            .map(|(_, v)| *v >= 1.0);
        Ok(newest)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn records_go_back_as_they_came() {
        let record = DnsRecord {
            name: "api.example.com".into(),
            kind: "CNAME".into(),
            set_id: Some("us-east-1".into()),
            weight: Some(100),
            failover: None,
            region: None,
            ttl: Some(60),
            values: vec!["abc.execute-api.us-east-1.amazonaws.com".into()],
            alias: None,
            health_check: Some("hc-1".into()),
            other_routing: None,
        };
        let sdk = to_sdk(&record).unwrap();
        assert_eq!(from_sdk(&sdk), record);
        assert_eq!(bare("\\052.Example.com."), "*.example.com");
    }
}
