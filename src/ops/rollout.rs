//! Traffic plans: move an alias to a new version in steps (CodeDeploy's canary and linear
//! presets, or a custom list), watch a guard between steps, and roll back to 100 % on the old
//! version the moment it trips. Every step is an ops-layer action (validated, RevisionId-guarded,
//! audited); the plan's progress is saved after each step, so a killed lops can resume or roll
//! back on restart.

use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::{Deserialize, Serialize};

use super::audit::AuditLog;
use super::{Confirmation, Kind, OpsError, Request, authorize, confirmation, execute, prepare};
use crate::provider::{AlarmState, AliasInfo, GuardSignals, RegionActions, Scope};

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

impl Guard {
    /// The guard `[guards]` in the config file describes, with extra alarms (the dashboard adds
    /// the function's own; the CLI its --guard-alarm flags). Both faces start from here.
    pub fn from_config(guards: &crate::config::Guards, alarms: Vec<String>) -> Guard {
        let mut all = guards.alarms.clone();
        for a in alarms {
            if !all.contains(&a) {
                all.push(a);
            }
        }
        Guard {
            max_error_rate: guards.max_error_rate,
            alarms: all,
            interval_secs: guards.interval_secs,
        }
    }

    /// "error rate ≤ 5% (checked every 10s)".
    pub fn describe(&self) -> String {
        let mut parts = Vec::new();
        if let Some(max) = self.max_error_rate {
            parts.push(format!(
                "error rate ≤ {}",
                crate::format::percent(Some(max))
            ));
        }
        for a in &self.alarms {
            parts.push(format!("alarm {a} not in ALARM"));
        }
        if parts.is_empty() {
            "none".into()
        } else {
            format!(
                "{} (checked every {}s)",
                parts.join(", "),
                self.interval_secs
            )
        }
    }
}

/// The version a rollout moves an alias to: the version it already shifts traffic to, else the
/// newest published version above its main one. Never an older version: with nothing newer
/// published, there is nothing to roll out.
pub fn next_version(alias: &AliasInfo, published: &[String]) -> Result<String, String> {
    if let Some((v, _)) = alias.additional_weights.first() {
        return Ok(v.clone());
    }
    let main: u64 = alias.function_version.parse().unwrap_or(0);
    published
        .iter()
        .filter_map(|v| v.parse::<u64>().ok().map(|n| (n, v)))
        .filter(|(n, _)| *n > main)
        .max_by_key(|(n, _)| *n)
        .map(|(_, v)| v.clone())
        .ok_or_else(|| {
            format!(
                "no version newer than v{} is published: publish one first",
                alias.function_version
            )
        })
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
    /// A second version and its weight the alias had when the plan started (a rollback
    /// returns to exactly that split).
    #[serde(default)]
    pub start_extra: Option<(String, f64)>,
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

    /// The alias's routing when the plan started, as a person reads it.
    pub fn start_weights(&self) -> String {
        super::plan::describe_routing(&self.from, self.start_extra.as_ref())
    }

    /// The routing the plan's current step writes.
    pub fn step_routing(&self) -> (String, Option<(String, f64)>) {
        match self
            .steps
            .get(self.step.min(self.steps.len().saturating_sub(1)))
        {
            Some(s) if s.weight < 1.0 => (self.from.clone(), Some((self.to.clone(), s.weight))),
            Some(_) => (self.to.clone(), None),
            None => (self.from.clone(), self.start_extra.clone()),
        }
    }

    pub fn scope_label(&self) -> String {
        if self.profile == "default" {
            self.region.clone()
        } else {
            format!("{}/{}", self.profile, self.region)
        }
    }

    /// What starting it will do, on two lines: target, current weights, every step and the
    /// target version; then the guard and what an abort returns to.
    pub fn preview(&self) -> String {
        let steps: Vec<String> = self
            .steps
            .iter()
            .map(|s| {
                if s.hold_secs > 0 {
                    format!(
                        "{} for {}",
                        crate::format::weight(s.weight),
                        crate::format::age(s.hold_secs)
                    )
                } else {
                    crate::format::weight(s.weight)
                }
            })
            .collect();
        format!(
            "rollout {} @ {}: now {} → v{} in {} step{} ({})\nguard: {}; abort returns to {}",
            self.target(),
            self.scope_label(),
            self.start_weights(),
            self.to,
            self.steps.len(),
            if self.steps.len() == 1 { "" } else { "s" },
            steps.join(", "),
            self.guard.describe(),
            self.start_weights()
        )
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

    fn path(&self, profile: &str, region: &str, function: &str, alias: &str) -> PathBuf {
        // Names come from the command line and AWS; keep them to one plain file name.
        let clean = |s: &str| -> String {
            s.chars()
                .map(|c| {
                    if c.is_ascii_alphanumeric() || "-.".contains(c) {
                        c
                    } else {
                        '_'
                    }
                })
                .collect::<String>()
                .trim_start_matches('.')
                .to_string()
        };
        self.dir.join(format!(
            "{}_{}_{}_{}.json",
            clean(profile),
            clean(region),
            clean(function),
            clean(alias)
        ))
    }

    /// Written whole to a temporary file and renamed, so a kill never leaves half a plan.
    pub fn save(&self, r: &Rollout) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let path = self.path(&r.profile, &r.region, &r.function, &r.alias);
        let tmp = path.with_extension("json.tmp");
        let mut options = std::fs::OpenOptions::new();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        std::io::Write::write_all(
            &mut options.open(&tmp)?,
            &serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)
    }

    pub fn load(&self, scope: &Scope, function: &str, alias: &str) -> Option<Rollout> {
        let text = std::fs::read(self.path(&scope.profile, &scope.region, function, alias)).ok()?;
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

/// Prepares a plan: checks the alias and versions through the ops layer's rules, refuses when a
/// plan for the same alias is already running, and records the weights it starts from. Nothing
/// is written or saved: show [`Rollout::preview`], ask [`Rollout::confirmation`], then save and
/// [`run`] it.
pub async fn start<S: RegionActions>(
    source: &S,
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
    let scope = source.scope().clone();
    authorize(
        scope.access.tier,
        Kind::RolloutStart.needs(),
        &format!("{} in {scope}", Kind::RolloutStart.title()),
    )?;
    if guard
        .max_error_rate
        .is_some_and(|r| !(0.0..=1.0).contains(&r) || r.is_nan())
    {
        return Err(OpsError::Invalid(
            "--max-error-rate must be between 0 and 1 (0.05 is 5 %)".into(),
        ));
    }
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
    let start_extra = check.before["weights"]
        .as_object()
        .and_then(|m| m.iter().next())
        .map(|(v, w)| (v.clone(), w.as_f64().unwrap_or(0.0)));
    Ok(Rollout {
        profile: scope.profile,
        region: scope.region,
        function: function.into(),
        alias: alias.into(),
        from,
        start_extra,
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
    audit: Option<&AuditLog>,
    request: Request,
) -> Result<(), OpsError> {
    let plan = prepare(source, request, audit).await?;
    execute(source, &plan, audit).await.map(|_| ())
}

impl Rollout {
    /// Starting, resuming or aborting a rollout asks like any change to its alias.
    pub fn confirmation(&self, scope: &Scope) -> Confirmation {
        confirmation(&self.target(), scope, false, false)
    }
}

/// Returns the alias to the weights it had when the plan started.
pub async fn roll_back<S: RegionActions>(
    source: &S,
    r: &mut Rollout,
    audit: Option<&AuditLog>,
    store: &PlanStore,
    status: Status,
) -> Result<(), OpsError> {
    act(
        source,
        audit,
        Request::RouteTo {
            function: r.function.clone(),
            alias: r.alias.clone(),
            main: r.from.clone(),
            extra: r.start_extra.clone(),
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
        if let Err(e) = act(source, audit, request).await {
            report(r, &format!("step failed: {e}; rolling back"));
            let reason = format!("step failed: {e}");
            roll_back(source, r, audit, store, Status::RolledBack { reason }).await?;
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
                    &format!(
                        "guard tripped: {reason}; rolling back to {}",
                        r.start_weights()
                    ),
                );
                roll_back(source, r, audit, store, Status::RolledBack { reason }).await?;
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
            start_extra: None,
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
        let scope = Scope::new("default", "us-east-1", crate::config::Access::default());
        assert_eq!(
            store.load(&scope, "f", "live").map(|x| x.status),
            Some(Status::Done)
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}
