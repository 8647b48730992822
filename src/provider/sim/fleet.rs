//! The simulated fleet's shape: which functions live where, with what traffic and settings.

use std::collections::BTreeMap;

use crate::provider::{AliasInfo, FunctionInfo, ProvisionedConcurrency};

/// Deterministic pseudo-random numbers from a seed and a key (splitmix64).
pub fn hash(seed: u64, key: u64) -> u64 {
    let mut z = seed ^ key.wrapping_mul(0x9E37_79B9_7F4A_7C15);
    z = (z ^ (z >> 30)).wrapping_mul(0xBF58_476D_1CE4_E5B9);
    z = (z ^ (z >> 27)).wrapping_mul(0x94D0_49BB_1331_11EB);
    z ^ (z >> 31)
}

/// A number in 0..1 from a seed and a key.
pub fn unit(seed: u64, key: u64) -> f64 {
    (hash(seed, key) >> 11) as f64 / (1u64 << 53) as f64
}

pub fn key_of(text: &str) -> u64 {
    text.bytes().fold(0xcbf2_9ce4_8422_2325, |h, b| {
        (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
    })
}

/// What the simulation knows about one function beyond its configuration.
#[derive(Debug, Clone)]
pub struct SimFunction {
    pub info: FunctionInfo,
    /// Invocations per minute at the daily peak.
    pub peak_rate: f64,
    /// Normal share of failing invocations.
    pub error_rate: f64,
    pub duration_ms: f64,
    /// Observed share per alias version differs from the configured one by this much.
    pub drift: f64,
    pub scenario: Option<Scenario>,
    /// Rules and mappings that start it (by its role: a cron has a schedule, a consumer a queue).
    pub triggers: Vec<crate::provider::Trigger>,
    /// What restores put in place, per version (`$LATEST` included): its configuration and
    /// package. The seeded fleet's come from `info` and its name.
    pub code: BTreeMap<String, (crate::provider::function::FunctionConfig, Vec<u8>)>,
}

/// Incidents that play out over the demo's cycle.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Scenario {
    /// Errors jump and an alarm fires, then recover.
    ErrorSpike,
    /// Demand runs into reserved concurrency and throttles.
    Throttling,
}

pub const DEMO_REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"];

const SERVICES: [&str; 15] = [
    "orders",
    "payments",
    "checkout",
    "auth",
    "search",
    "image",
    "email",
    "notify",
    "inventory",
    "billing",
    "reports",
    "ingest",
    "webhook",
    "session",
    "profile",
];
const ROLES: [&str; 10] = [
    "api",
    "worker",
    "consumer",
    "cron",
    "resize",
    "sync",
    "export",
    "processor",
    "handler",
    "stream",
];
const RUNTIMES: [&str; 5] = [
    "python3.12",
    "nodejs20.x",
    "java21",
    "provided.al2023",
    "nodejs22.x",
];

/// The demo fleet: 30 functions deployed in every region plus regional ones, about 150 in all.
pub fn demo_fleet(seed: u64) -> BTreeMap<String, Vec<SimFunction>> {
    let mut fleet = BTreeMap::new();
    let global: Vec<usize> = (0..30).collect();
    let regional = [10usize, 8, 6, 6];
    let mut next = 30;
    for (r, region) in DEMO_REGIONS.iter().enumerate() {
        let mut indexes = global.clone();
        indexes.extend(next..next + regional[r]);
        next += regional[r];
        let functions = indexes
            .into_iter()
            .map(|i| function(seed, region, i))
            .collect();
        fleet.insert(region.to_string(), functions);
    }
    fleet
}

fn sim_triggers(region: &str, name: &str) -> Vec<crate::provider::Trigger> {
    use crate::provider::{Trigger, TriggerKind};
    let mut out = Vec::new();
    if name.ends_with("-cron") || name.ends_with("-export") || name.ends_with("-sync") {
        out.push(Trigger {
            kind: TriggerKind::Rule,
            id: format!("{name}-schedule"),
            source: "rate(5 minutes)".into(),
            state: "ENABLED".into(),
            enabled: true,
            detail: "bus default".into(),
        });
    }
    if name.ends_with("-consumer") || name.ends_with("-worker") || name.ends_with("-resize") {
        let queue = name
            .trim_end_matches("-consumer")
            .trim_end_matches("-worker");
        out.push(Trigger {
            kind: TriggerKind::Mapping,
            id: format!(
                "{:08x}-0000-4000-8000-{:012x}",
                key_of(name) as u32,
                key_of(region) & 0xffff_ffff_ffff
            ),
            source: format!("arn:aws:sqs:{region}:000000000000:{queue}-queue"),
            state: "Enabled".into(),
            enabled: true,
            detail: "batch 10, last result OK".into(),
        });
    }
    out
}

/// Distinct names for indexes below 150: each wrap of the services shifts the roles by one.
pub fn name(i: usize) -> String {
    let service = SERVICES[i % SERVICES.len()];
    let role = ROLES[(i / SERVICES.len() + i % SERVICES.len()) % ROLES.len()];
    format!("{service}-{role}")
}

/// The functions the scenarios happen to: index 2 in eu-west-1, index 5 in ap-southeast-2.
pub const ERROR_SPIKE: (&str, usize) = ("eu-west-1", 2);
pub const THROTTLING: (&str, usize) = ("ap-southeast-2", 5);

fn function(seed: u64, region: &str, index: usize) -> SimFunction {
    let name = &name(index);
    let k = key_of(name);
    let rk = key_of(region);
    let u = |n: u64| unit(seed, k ^ n);
    let region_weight = match region {
        "us-east-1" => 1.0,
        "eu-west-1" => 0.7,
        "ap-southeast-2" => 0.35,
        _ => 0.5,
    };
    let peak_rate =
        (20.0 + 4_000.0 * u(1).powi(3)) * region_weight * (0.8 + 0.4 * unit(seed, rk ^ k));
    let versions: Vec<String> = (1..=(1 + (u(2) * 4.0) as u32))
        .map(|v| v.to_string())
        .collect();
    let latest = versions.last().cloned().unwrap_or_else(|| "1".into());
    let canary = u(3) < 0.12 && versions.len() >= 2;
    let mut aliases = Vec::new();
    if versions.len() >= 2 || u(4) < 0.5 {
        let main = if canary {
            versions[versions.len() - 2].clone()
        } else {
            latest.clone()
        };
        aliases.push(AliasInfo {
            name: "live".into(),
            function_version: main,
            additional_weights: if canary {
                vec![(latest, 0.1)]
            } else {
                Vec::new()
            },
            revision_id: Some(format!("{:08x}", hash(seed, k ^ rk) as u32)),
        });
    }
    let scenario = if (region, index) == ERROR_SPIKE {
        Some(Scenario::ErrorSpike)
    } else if (region, index) == THROTTLING {
        Some(Scenario::Throttling)
    } else {
        None
    };
    let throttling = scenario == Some(Scenario::Throttling);
    let reserved = if throttling {
        Some(100)
    } else if u(5) < 0.2 {
        Some([10, 25, 50, 100, 200][(u(6) * 5.0) as usize % 5])
    } else {
        None
    };
    let mut tags = BTreeMap::new();
    tags.insert(
        "team".to_string(),
        ["payments", "growth", "platform", "media"][(u(7) * 4.0) as usize % 4].to_string(),
    );
    tags.insert("env".to_string(), "prod".to_string());
    let state = if u(8) < 0.02 { "Pending" } else { "Active" };
    let triggers = sim_triggers(region, name);
    // Warm instances on the live alias of about one function in five that has one.
    let provisioned = aliases
        .iter()
        .filter(|_| u(14) < 0.2)
        .map(|a| ProvisionedConcurrency {
            qualifier: a.name.clone(),
            requested: Some(5),
            allocated: Some(5),
            status: Some("READY".into()),
        })
        .collect();
    SimFunction {
        triggers,
        code: BTreeMap::new(),
        info: FunctionInfo {
            name: name.to_string(),
            arn: format!("arn:aws:lambda:{region}:000000000000:function:{name}"),
            runtime: Some(RUNTIMES[(u(9) * 5.0) as usize % 5].to_string()),
            package_type: "Zip".into(),
            state: state.into(),
            last_update_status: Some("Successful".into()),
            memory_mb: Some([128, 256, 512, 1024, 2048][(u(10) * 5.0) as usize % 5]),
            timeout_s: Some([3, 10, 30, 60, 900][(u(11) * 5.0) as usize % 5]),
            last_modified: Some("2026-11-20T09:12:44.000+0000".into()),
            versions,
            aliases,
            reserved_concurrency: reserved,
            provisioned,
            tags,
            detail_error: None,
            not_read: Default::default(),
        },
        // Busy enough to sit near its reserved concurrency, and over it when demand triples.
        peak_rate: if throttling { 6_000.0 } else { peak_rate },
        error_rate: if u(12) < 0.15 {
            0.002 + u(13) * 0.03
        } else {
            u(13) * 0.002
        },
        duration_ms: if throttling {
            900.0
        } else {
            20.0 + 800.0 * u(14).powi(2)
        },
        drift: if canary && u(15) < 0.5 { 0.15 } else { 0.0 },
        scenario,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_fleet_is_deterministic_and_about_150_functions() {
        let a = demo_fleet(7);
        let b = demo_fleet(7);
        let total: usize = a.values().map(Vec::len).sum();
        assert_eq!(total, 150);
        assert_eq!(a.len(), 4);
        let names = |f: &BTreeMap<String, Vec<SimFunction>>| {
            f.values()
                .flatten()
                .map(|x| (x.info.name.clone(), x.peak_rate.to_bits()))
                .collect::<Vec<_>>()
        };
        assert_eq!(names(&a), names(&b));
        let all: std::collections::BTreeSet<String> = (0..150).map(name).collect();
        assert_eq!(all.len(), 150, "names are distinct");
        let canaries = a
            .values()
            .flatten()
            .filter(|f| {
                f.info
                    .aliases
                    .iter()
                    .any(|a| !a.additional_weights.is_empty())
            })
            .count();
        assert!(canaries >= 4, "{canaries} aliases mid-canary");
        assert!(
            a["eu-west-1"]
                .iter()
                .any(|f| f.scenario == Some(Scenario::ErrorSpike))
        );
        assert!(
            a["ap-southeast-2"]
                .iter()
                .any(|f| f.scenario == Some(Scenario::Throttling))
        );
    }
}
