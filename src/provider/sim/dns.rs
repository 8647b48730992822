//! The demo's Route 53: two services over the demo regions, one zone each, shared by every
//! region's handle (Route 53 is global). The outage region's health checks fail while its
//! outage plays, so draining it is what the guard allows and draining the rest is not.

use std::collections::BTreeMap;

use super::{OUTAGE_PHASE, OUTAGE_REGION, SimRegion};
use crate::config::ServiceSettings;
use crate::provider::ProviderError;
use crate::provider::dns::{DnsRecord, Health};

/// Zone id → its records.
pub type SimZones = BTreeMap<String, Vec<DnsRecord>>;

/// A member of a demo record set: set identifier, region, weight.
type DemoMember = (&'static str, &'static str, i64);

/// (service, zone, record, members).
const SERVICES: [(&str, &str, &str, [DemoMember; 3]); 2] = [
    (
        "checkout",
        "ZDEMOCHECKOUT",
        "api.checkout.example.com",
        [
            ("use1", "us-east-1", 100),
            ("euw1", "eu-west-1", 100),
            ("usw2", "us-west-2", 50),
        ],
    ),
    (
        "search",
        "ZDEMOSEARCH",
        "search.example.com",
        [
            ("use1", "us-east-1", 60),
            ("apse2", "ap-southeast-2", 40),
            ("usw2", "us-west-2", 0),
        ],
    ),
];

/// The services the demo shows when the config names none.
pub fn demo_services() -> Vec<ServiceSettings> {
    SERVICES
        .iter()
        .map(|(name, zone, record, _)| ServiceSettings {
            name: name.to_string(),
            zone: zone.to_string(),
            record: record.to_string(),
            kind: "CNAME".into(),
            profile: None,
            regions: BTreeMap::new(),
            functions: BTreeMap::new(),
        })
        .collect()
}

pub fn demo_zones() -> SimZones {
    SERVICES
        .iter()
        .map(|(_, zone, record, members)| {
            let records = members
                .iter()
                .map(|(id, region, weight)| DnsRecord {
                    name: record.to_string(),
                    kind: "CNAME".into(),
                    set_id: Some(id.to_string()),
                    weight: Some(*weight),
                    failover: None,
                    region: None,
                    ttl: Some(60),
                    values: vec![format!("d-{id}.execute-api.{region}.amazonaws.com")],
                    alias: None,
                    health_check: Some(format!("hc-{region}")),
                    other_routing: None,
                })
                .collect();
            (zone.to_string(), records)
        })
        .collect()
}

impl SimRegion {
    pub(super) async fn sim_dns_records(
        &self,
        zone: &str,
        name: &str,
        kind: &str,
    ) -> Result<Vec<DnsRecord>, ProviderError> {
        self.answer(21).await?;
        let zones = self.dns.read().map_err(|_| poisoned())?;
        let records = zones
            .get(zone)
            .ok_or_else(|| ProviderError::NotFound(format!("NoSuchHostedZone: {zone}")))?;
        Ok(records
            .iter()
            .filter(|r| r.name == name && r.kind == kind)
            .cloned()
            .collect())
    }

    pub(super) async fn sim_change_dns(
        &self,
        zone: &str,
        records: &[DnsRecord],
    ) -> Result<String, ProviderError> {
        self.answer(22).await?;
        let mut zones = self.dns.write().map_err(|_| poisoned())?;
        let set = zones
            .get_mut(zone)
            .ok_or_else(|| ProviderError::NotFound(format!("NoSuchHostedZone: {zone}")))?;
        for r in records {
            match set
                .iter_mut()
                .find(|x| x.set_id == r.set_id && x.name == r.name)
            {
                Some(x) => *x = r.clone(),
                None => set.push(r.clone()),
            }
        }
        Ok(format!("/change/C{}", self.clock.now().timestamp()))
    }

    pub(super) async fn sim_health(&self, id: &str) -> Result<Health, ProviderError> {
        self.answer(23).await?;
        let outage = id == format!("hc-{OUTAGE_REGION}")
            && self.clock.active(self.clock.now(), OUTAGE_PHASE);
        Ok(if outage {
            Health::Unhealthy("Failure: Connection timed out".into())
        } else {
            Health::Healthy
        })
    }
}

fn poisoned() -> ProviderError {
    ProviderError::Service("the simulated Route 53 is unavailable".into())
}
