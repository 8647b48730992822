//! Rollouts (traffic plans): move an alias to a new version in steps (CodeDeploy's canary and
//! linear presets, or a custom list), watch a guard between steps, and return the alias to the
//! weights it started from the moment the guard trips. Every step is an ops-layer action
//! (validated, RevisionId-guarded, audited); the rollout's progress is saved after each step, so
//! a killed lops can resume or roll back on restart. One process owns a running rollout (see
//! [`store`]); another asks it to stop rather than racing it.

mod abort;
mod begin;
mod drive;
mod heartbeat;
pub mod store;

use serde::{Deserialize, Serialize};

pub use abort::{AbortOutcome, abort, roll_back, rolling_back};
pub use begin::start;
pub use begin::{compare_again, driving, ready_to_start, resume_again};
pub use drive::run;
pub use heartbeat::{interrupt, interrupt_in};
pub use store::{Owner, RolloutStore, Standing, none_unfinished};

use super::{Confirmation, confirmation};
use crate::provider::{AliasInfo, Scope};

/// One step: the new version's share, held for a while before the next step.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Step {
    pub weight: f64,
    pub hold_secs: u64,
}

impl Step {
    /// `10% for 5m`, or `100%` without a hold.
    pub fn describe(&self) -> String {
        let weight = crate::format::weight(self.weight);
        match self.hold_secs {
            0 => weight,
            secs => format!("{weight} for {}", crate::format::span(secs)),
        }
    }
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

/// `90`, `90s`, `5m`, `1h`, `2d` in seconds (a step's hold, the guard's interval).
pub fn parse_duration(text: &str) -> Option<u64> {
    let (number, unit) = text.split_at(
        text.find(|c: char| !c.is_ascii_digit())
            .unwrap_or(text.len()),
    );
    let n: u64 = number.parse().ok()?;
    match unit {
        "" | "s" => Some(n),
        "m" => n.checked_mul(60),
        "h" => n.checked_mul(3600),
        "d" => n.checked_mul(86_400),
        _ => None,
    }
}

/// `:HOLD` as a step wrote it (nothing when it gave none).
fn hold_suffix(hold: &str) -> String {
    match hold {
        "0" => String::new(),
        h => format!(":{h}"),
    }
}

/// A custom step list: `10:5m,50:10m,100` (percent, then how long to hold it).
pub fn parse_steps(text: &str) -> Result<Vec<Step>, String> {
    let mut steps = Vec::new();
    for part in text.split(',').map(str::trim) {
        let (pct, hold) = part.split_once(':').unwrap_or((part, "0"));
        let marked = pct.ends_with('%');
        let pct = pct.trim_end_matches('%');
        let pct_text = pct;
        // Digits and one point only: `1e1` or `inf` is a typo, not a percentage.
        let plain = !pct.is_empty()
            && pct.chars().all(|c| c.is_ascii_digit() || c == '.')
            && pct.matches('.').count() <= 1;
        let pct: f64 = pct
            .parse()
            .ok()
            .filter(|_| plain)
            .ok_or_else(|| format!("'{part}': the weight must be a percentage, e.g. 10:5m"))?;
        // Steps are percentages, weights (`--weight 0.1`) fractions: a step under 1 is one
        // of them mistaken for the other unless its % says it is meant.
        if pct > 0.0 && pct < 1.0 && !marked {
            // As a fraction (what `--weight` takes), it would have been this percentage.
            let meant = crate::format::weight(pct);
            let meant = meant.trim_end_matches('%');
            let hold = hold_suffix(hold);
            // Below 0.1% a step is refused anyway: only the other reading is offered.
            let as_written = match pct >= 0.1 {
                true => format!("write {pct_text}%{hold} to mean it, or "),
                false => String::new(),
            };
            return Err(format!(
                "'{part}': steps are percentages, so {pct_text} is {pct_text}% of the traffic — \
                 {as_written}{meant}{hold} for {meant}%"
            ));
        }
        if pct > 0.0 && pct < 0.1 {
            return Err(format!(
                "'{part}': a step below 0.1% sends almost nothing: give at least 0.1"
            ));
        }
        if !(pct > 0.0 && pct <= 100.0) {
            return Err(format!(
                "'{part}': the percentage must be above 0 and at most 100"
            ));
        }
        let hold_secs = parse_duration(hold)
            .ok_or_else(|| format!("'{part}': '{hold}' is not a duration (30s, 5m, 1h, 1d)"))?;
        // A step short of all traffic is there to be watched: held for no time, the guard
        // would never look at it. (All traffic may be held or not: a hold there is a bake
        // time, watched by the guard like any other.)
        if pct < 100.0 && hold_secs == 0 {
            return Err(format!(
                "'{part}': give how long to hold {pct}% while the guard watches it, e.g. \
                 {pct}:5m (a step held for no time is never checked)"
            ));
        }
        steps.push(Step {
            weight: crate::ops::request::hundredth(pct_text, pct),
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
    /// A guard that cannot read its signals counts as tripped (as CodeDeploy does): a rollout
    /// never goes on blind. `[guards] trip_on_read_error = false` lets it wait instead.
    #[serde(default = "yes")]
    pub trip_on_read_error: bool,
}

fn yes() -> bool {
    true
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
            trip_on_read_error: guards.trip_on_read_error,
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
    RolledBack {
        reason: String,
    },
    Aborted,
    /// Stopped without writing: the alias was changed by someone else.
    Halted {
        reason: String,
    },
}

/// An alias's routing: its main version and a second one with its weight.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Routing {
    pub main: String,
    pub extra: Option<(String, f64)>,
}

impl Routing {
    pub fn of(alias: &AliasInfo) -> Routing {
        Routing {
            main: alias.function_version.clone(),
            extra: alias
                .additional_weights
                .first()
                .cloned()
                .filter(|(_, w)| *w > 0.0),
        }
    }

    pub fn describe(&self) -> String {
        super::plan::describe_routing(&self.main, self.extra.as_ref())
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Rollout {
    pub profile: String,
    /// The AWS account it runs in (from STS at its start): two profile names on one account
    /// are one alias.
    #[serde(default)]
    pub account: Option<String>,
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
    /// The process driving it (absent on a rollout saved by an older lops).
    #[serde(default)]
    pub owner: Option<Owner>,
    /// Written by the owner every second or so while it runs.
    #[serde(default)]
    pub heartbeat: Option<String>,
    /// Another lops asked the owner to abort.
    #[serde(default)]
    pub abort_requested: bool,
    /// The alias as the asking lops's confirmed preview showed it: the owner's rollback writes
    /// only over that (or its own weights), as one taken over does.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub abort_previewed: Option<Routing>,
    /// What the rollout last wrote to the alias: a step finds anything else and stops.
    #[serde(default)]
    pub last_written: Option<Routing>,
    /// Another profile of the session names the same function and is production: starting
    /// it asks for the typed name, as that profile would (never saved: decided per session).
    #[serde(skip)]
    pub production_elsewhere: bool,
}

impl Rollout {
    pub fn target(&self) -> String {
        format!("{}:{}", self.function, self.alias)
    }

    /// The alias's routing when the plan started, as a person reads it.
    pub fn start_weights(&self) -> String {
        self.start_routing().describe()
    }

    pub fn start_routing(&self) -> Routing {
        Routing {
            main: self.from.clone(),
            extra: self.start_extra.clone(),
        }
    }

    /// What the alias should look like now: what the rollout last wrote, else where it started.
    pub fn expected_routing(&self) -> Routing {
        self.last_written
            .clone()
            .unwrap_or_else(|| self.start_routing())
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
        let steps: Vec<String> = self.steps.iter().map(Step::describe).collect();
        // A second version other than the target loses its share at the first step: said.
        let dropped = match &self.start_extra {
            Some((v, w)) if *v != self.to && *w > 0.0 => format!(
                "; v{v}'s {} goes back to v{} at the first step",
                crate::format::weight(*w),
                self.from
            ),
            _ => String::new(),
        };
        format!(
            "rollout {} @ {}: now {} → v{} in {} step{} ({}){dropped}\nguard: {}; abort returns to {}",
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
        // Halted before it wrote the step it is on (someone changed the alias first): said,
        // not shown as if that step were on the alias.
        let (main, extra) = self.step_routing();
        let written =
            (self.last_written.as_ref()).is_some_and(|w| w.main == main && w.extra == extra);
        let before = matches!(self.status, Status::Halted { .. }) && !written;
        format!(
            "{}step {}/{} ({} on v{})",
            if before { "before " } else { "" },
            (self.step + 1).min(self.steps.len()),
            self.steps.len(),
            crate::format::weight(weight),
            self.to
        )
    }
}

impl Rollout {
    /// Starting, resuming or aborting a rollout asks like any change to its alias.
    pub fn confirmation(&self, scope: &Scope) -> Confirmation {
        let mut scope = scope.clone();
        scope.access.production |= self.production_elsewhere;
        confirmation(&self.target(), &scope, false, false)
    }
}

/// What a plan is asked to do.
#[derive(Debug, Clone, PartialEq)]
pub struct RolloutSpec {
    pub function: String,
    pub alias: String,
    pub to: String,
    pub steps: Vec<Step>,
    pub guard: Guard,
    /// The guard also watches the function's own alarms, read as it starts (`[guards]
    /// function_alarms`, `--no-function-alarms`).
    pub function_alarms: bool,
}

#[cfg(test)]
pub(crate) mod tests;
