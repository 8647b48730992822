//! Traffic plans: move an alias to a new version in steps (CodeDeploy's canary and linear
//! presets, or a custom list), watch a guard between steps, and roll back to 100 % on the old
//! version the moment it trips. Every step is an ops-layer action (validated, RevisionId-guarded,
//! audited); the plan's progress is saved after each step, so a killed lops can resume or roll
//! back on restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::audit::AuditLog;
use super::{OpsError, Request, Tier, execute, prepare};
use crate::provider::{AlarmState, GuardSignals, RegionActions, Scope};

/// One step: the new version's share, held for a while before the next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub weight: f64,
    pub hold_secs: u64,
}

/// CodeDeploy's Lambda presets, by name.
pub fn preset(name: &str) -> Option<Vec<Step>> {
    let canary = |minutes: u64| {
        vec![
            Step {
                weight: 0.1,
                hold_secs: minutes * 60,
            },
            Step {
                weight: 1.0,
                hold_secs: 0,
            },
        ]
    };
    let linear = |minutes: u64| {
        let mut steps: Vec<Step> = (1..10)
            .map(|i| Step {
                weight: f64::from(i) / 10.0,
                hold_secs: minutes * 60,
            })
            .collect();
        steps.push(Step {
            weight: 1.0,
            hold_secs: 0,
        });
        steps
    };
    Some(match name {
        "Canary10Percent5Minutes" => canary(5),
        "Canary10Percent10Minutes" => canary(10),
        "Canary10Percent15Minutes" => canary(15),
        "Canary10Percent30Minutes" => canary(30),
        "Linear10PercentEvery1Minute" => linear(1),
        "Linear10PercentEvery2Minutes" => linear(2),
        "Linear10PercentEvery3Minutes" => linear(3),
        "Linear10PercentEvery10Minutes" => linear(10),
        "AllAtOnce" => vec![Step {
            weight: 1.0,
            hold_secs: 0,
        }],
        _ => return None,
    })
}

pub const PRESETS: [&str; 9] = [
    "Canary10Percent5Minutes",
    "Canary10Percent10Minutes",
    "Canary10Percent15Minutes",
    "Canary10Percent30Minutes",
    "Linear10PercentEvery1Minute",
    "Linear10PercentEvery2Minutes",
    "Linear10PercentEvery3Minutes",
    "Linear10PercentEvery10Minutes",
    "AllAtOnce",
];

fn parse_duration(text: &str) -> Option<u64> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "m" => Some(n * 60),
        "h" => Some(n * 3600),
        _ => None,
    }
}

/// A custom step list: `10:5m,50:10m,100` (percent, then how long to hold it).
pub fn parse_steps(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in text.split(',').map(str::trim) {
        let (pct, hold) = part.split_once(':').unwrap_or((part, "0"));
        let pct: f64 = pct
            .trim_end_matches('%')
            .parse()
            .map_err(|_| format!("'{part}': the weight must be a percentage, e.g. 10:5m"))?;
        if !(pct > 0.0 && pct <= 100.0) {
            return Err(format!(
                "'{part}': the percentage must be above 0 and at most 100"
            ));
        }
        let hold_secs = parse_duration(hold)
            .ok_or_else(|| format!("'{part}': '{hold}' is not a duration (30s, 5m, 1h)"))?;
        steps.push(Step {
            weight: pct / 100.0,
            hold_secs,
        });
    }
    if steps.windows(2).any(|w| w[1].weight <= w[0].weight) {
        return Err("steps must rise: each percentage above the one before".into());
    }
    if steps.last().is_none_or(|s| s.weight < 1.0) {
        steps.push(Step {
            weight: 1.0,
            hold_secs: 0,
        });
    }
    Ok(steps)
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Guard {
    /// Roll back when the new version's error rate goes over this (0..1).
    pub max_error_rate: Option<f64>,
    /// Roll back when any of these alarms is in ALARM.
    pub alarms: Vec<String>,
    pub interval_secs: u64,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(tag = "state", rename_all = "snake_case")]
pub enum Status {
    Running,
    Done,
    RolledBack { reason: String },
    Aborted,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub profile: String,
    pub region: String,
    pub function: String,
    pub alias: String,
    /// The version the alias served before the plan: what a rollback returns to.
    pub from: String,
    pub to: String,
    pub steps: Vec<Step>,
    pub guard: Guard,
    /// The step under way (or next to apply).
    pub step: usize,
    pub status: Status,
    pub updated: String,
}

impl Rollout {
    pub fn target(&self) -> String {
        format!("{}:{}", self.function, self.alias)
    }

    pub fn progress(&self) -> String {
        let weight = self.steps.get(self.step).map(|s| s.weight).unwrap_or(1.0);
        format!(
            "step {}/{} ({} on v{})",
            (self.step + 1).min(self.steps.len()),
            self.steps.len(),
            crate::format::weight(weight),
            self.to
        )
    }
}

/// Where plans are saved: `$XDG_STATE_HOME/lops/plans/`.
#[derive(Debug, Clone)]
pub struct PlanStore {
    dir: PathBuf,
}

impl PlanStore {
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        PlanStore { dir: dir.into() }
    }

    pub fn default_location() -> Option<Self> {
        crate::config::state_dir().map(|d| PlanStore::at(d.join("plans")))
    }

    fn path(&self, scope: &Scope, function: &str, alias: &str) -> PathBuf {
        self.dir.join(format!(
            "{}_{}_{function}_{alias}.json",
            scope.profile, scope.region
        ))
    }

    /// Written whole to a temporary file and renamed, so a kill never leaves half a plan.
    pub fn save(&self, r: &Rollout) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let scope = Scope {
            profile: r.profile.clone(),
            region: r.region.clone(),
        };
        let path = self.path(&scope, &r.function, &r.alias);
        let tmp = path.with_extension("json.tmp");
        std::fs::write(
            &tmp,
            serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)
    }

    pub fn load(&self, scope: &Scope, function: &str, alias: &str) -> Option<Rollout> {
        let text = std::fs::read(self.path(scope, function, alias)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    /// Every saved plan still running.
    pub fn running(&self) -> Vec<Rollout> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice::<Rollout>(&std::fs::read(e.path()).ok()?).ok())
            .filter(|r| r.status == Status::Running)
            .collect()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// What a plan is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct PlanSpec {
    pub function: String,
    pub alias: String,
    pub to: String,
    pub steps: Vec<Step>,
    pub guard: Guard,
}

/// Starts a plan: checks the alias and versions through the ops layer's rules, refuses when a
/// plan for the same alias is already running.
pub async fn start<S: RegionActions>(
    source: &S,
    tier: Tier,
    spec: PlanSpec,
    store: &PlanStore,
) -> Result<Rollout, OpsError> {
    let PlanSpec {
        function,
        alias,
        to,
        steps,
        guard,
    } = spec;
    let (function, alias, to) = (function.as_str(), alias.as_str(), to.as_str());
    super::authorize(tier, Tier::Change, "traffic plan")?;
    if guard
        .max_error_rate
        .is_some_and(|r| !(0.0..=1.0).contains(&r) || r.is_nan())
    {
        return Err(OpsError::Invalid(
            "--max-error-rate must be between 0 and 1 (0.05 is 5 %)".into(),
        ));
    }
    let scope = source.scope().clone();
    if let Some(existing) = store.load(&scope, function, alias)
        && existing.status == Status::Running
    {
        return Err(OpsError::Refused(format!(
            "a plan for {function}:{alias} in {scope} is already running ({}): resume or abort it first",
            existing.progress()
        )));
    }
    // Validates the version the way a single shift would; its preview already read the alias.
    let first = steps.first().map(|s| s.weight.min(0.99)).unwrap_or(0.1);
    let check = prepare(
        source,
        tier,
        Request::SetWeight {
            function: function.into(),
            alias: alias.into(),
            version: to.into(),
            weight: first,
        },
        None,
    )
    .await?;
    let from = check.before["function_version"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    Ok(Rollout {
        profile: scope.profile,
        region: scope.region,
        function: function.into(),
        alias: alias.into(),
        from,
        to: to.into(),
        steps,
        guard,
        step: 0,
        status: Status::Running,
        updated: now(),
    })
}

fn now() -> String {
    chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true)
}

/// What the guard saw, or `None` when all is well.
async fn tripped<S: GuardSignals>(source: &S, r: &Rollout) -> Result<Option<String>, OpsError> {
    let alarms = source.alarm_states(&r.guard.alarms).await?;
    if let Some((name, _)) = alarms.iter().find(|(_, s)| *s == AlarmState::Alarm) {
        return Ok(Some(format!("alarm {name} is in ALARM")));
    }
    if let Some(max) = r.guard.max_error_rate {
        let (invocations, errors) = source
            .version_errors(&r.function, &r.alias, &r.to, 5)
            .await?;
        if invocations > 0.0 && errors / invocations > max {
            return Ok(Some(format!(
                "v{} error rate {} over the last 5 minutes is above {}",
                r.to,
                crate::format::percent(Some(errors / invocations)),
                crate::format::percent(Some(max))
            )));
        }
    }
    Ok(None)
}

async fn act<S: RegionActions>(
    source: &S,
    tier: Tier,
    audit: Option<&AuditLog>,
    request: Request,
) -> Result<(), OpsError> {
    let plan = prepare(source, tier, request, audit).await?;
    execute(source, &plan, tier, audit).await.map(|_| ())
}

/// Rolls the alias back to 100 % on the version it served before the plan.
pub async fn roll_back<S: RegionActions>(
    source: &S,
    r: &mut Rollout,
    tier: Tier,
    audit: Option<&AuditLog>,
    store: &PlanStore,
    status: Status,
) -> Result<(), OpsError> {
    act(
        source,
        tier,
        audit,
        Request::Rollback {
            function: r.function.clone(),
            alias: r.alias.clone(),
        },
    )
    .await?;
    r.status = status;
    r.updated = now();
    store
        .save(r)
        .map_err(|e| OpsError::Invalid(format!("cannot save the plan: {e}")))
}

/// Runs (or resumes) a plan to its end: each step applied, held while the guard is checked
/// every interval, rolled back at once when it trips. `report` hears each event.
pub async fn run<S: RegionActions + GuardSignals>(
    source: &S,
    r: &mut Rollout,
    tier: Tier,
    audit: Option<&AuditLog>,
    store: &PlanStore,
    mut report: impl FnMut(&Rollout, &str),
) -> Result<Status, OpsError> {
    let save = |r: &Rollout| {
        store
            .save(r)
            .map_err(|e| OpsError::Invalid(format!("cannot save the plan: {e}")))
    };
    while r.status == Status::Running && r.step < r.steps.len() {
        let step = r.steps[r.step].clone();
        let request = if step.weight >= 1.0 {
            Request::PromoteTo {
                function: r.function.clone(),
                alias: r.alias.clone(),
                version: r.to.clone(),
            }
        } else {
            Request::SetWeight {
                function: r.function.clone(),
                alias: r.alias.clone(),
                version: r.to.clone(),
                weight: step.weight,
            }
        };
        // A resumed plan may find its step already applied: the ops layer then has nothing to do.
        if let Err(e) = act(source, tier, audit, request).await {
            report(r, &format!("step failed: {e}; rolling back"));
            let reason = format!("step failed: {e}");
            roll_back(source, r, tier, audit, store, Status::RolledBack { reason }).await?;
            return Ok(r.status.clone());
        }
        r.updated = now();
        save(r)?;
        report(r, &format!("{} applied", r.progress()));
        let interval = Duration::from_secs(r.guard.interval_secs.max(1));
        let deadline = tokio::time::Instant::now() + Duration::from_secs(step.hold_secs);
        while step.weight < 1.0 && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(interval.min(deadline - tokio::time::Instant::now())).await;
            if let Some(reason) = tripped(source, r).await? {
                report(
                    r,
                    &format!("guard tripped: {reason}; rolling back to v{}", r.from),
                );
                roll_back(source, r, tier, audit, store, Status::RolledBack { reason }).await?;
                return Ok(r.status.clone());
            }
        }
        r.step += 1;
        if r.step == r.steps.len() {
            r.status = Status::Done;
        }
        r.updated = now();
        save(r)?;
    }
    report(
        r,
        match &r.status {
            Status::Done => "done: all traffic on the new version",
            _ => "stopped",
        },
    );
    Ok(r.status.clone())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presets_follow_codedeploy() {
        let c = preset("Canary10Percent5Minutes").unwrap();
        assert_eq!(
            c,
            vec![
                Step {
                    weight: 0.1,
                    hold_secs: 300
                },
                Step {
                    weight: 1.0,
                    hold_secs: 0
                }
            ]
        );
        let l = preset("Linear10PercentEvery1Minute").unwrap();
        assert_eq!(l.len(), 10);
        assert_eq!(
            l[0],
            Step {
                weight: 0.1,
                hold_secs: 60
            }
        );
        assert_eq!(preset("AllAtOnce").unwrap().len(), 1);
        assert!(preset("Canary99").is_none());
        assert!(PRESETS.iter().all(|p| preset(p).is_some()));
    }

    #[test]
    fn custom_steps_parse_and_end_at_full_traffic() {
        let s = parse_steps("10:30s,50:2m").unwrap();
        assert_eq!(
            s,
            vec![
                Step {
                    weight: 0.1,
                    hold_secs: 30
                },
                Step {
                    weight: 0.5,
                    hold_secs: 120
                },
                Step {
                    weight: 1.0,
                    hold_secs: 0
                }
            ]
        );
        assert!(parse_steps("50:1m,10:1m").unwrap_err().contains("rise"));
        assert!(parse_steps("170").is_err());
        assert!(
            parse_steps("10:soon")
                .unwrap_err()
                .contains("not a duration")
        );
    }

    #[test]
    fn plans_are_saved_whole_and_listed_while_running() {
        let dir = std::env::temp_dir().join(format!("lops-plans-{}", std::process::id()));
        let store = PlanStore::at(&dir);
        let mut r = Rollout {
            profile: "default".into(),
            region: "us-east-1".into(),
            function: "f".into(),
            alias: "live".into(),
            from: "1".into(),
            to: "2".into(),
            steps: parse_steps("10:1m").unwrap(),
            guard: Guard {
                max_error_rate: Some(0.05),
                alarms: vec![],
                interval_secs: 10,
            },
            step: 1,
            status: Status::Running,
            updated: now(),
        };
        store.save(&r).unwrap();
        assert_eq!(store.running(), vec![r.clone()]);
        r.status = Status::Done;
        store.save(&r).unwrap();
        assert!(store.running().is_empty());
        let scope = Scope {
            profile: "default".into(),
            region: "us-east-1".into(),
        };
        assert_eq!(
            store.load(&scope, "f", "live").map(|x| x.status),
            Some(Status::Done)
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
