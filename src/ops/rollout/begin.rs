//! A rollout's beginning, and where it meets other changes: it is checked and previewed, a
//! confirmed rollout's start reads its alias again right before it is saved (as every change
//! compares its target again before its write), and a change of an alias a rollout drives is
//! told so.

use super::drive::now;
use super::{Rollout, RolloutSpec, RolloutStore, Routing, Standing, Status};
use crate::ops::plan::prepare_unchecked as prepare;
use crate::ops::{Kind, OpsError, Request};
use crate::provider::{AlarmState, GuardSignals, RegionActions, RegionSource, Scope};

/// What a confirmed rollout must pass before it is saved, in both faces: an audit log that
/// takes records (no audit, no change: refused before the first step, not said as a step that
/// failed and rolled back with nothing sent), and its alias as the preview read it.
pub async fn ready_to_start<S: RegionActions + GuardSignals>(
    source: &S,
    r: &Rollout,
    audit: Option<&crate::ops::audit::AuditLog>,
) -> Result<(), OpsError> {
    crate::ops::audit::AuditLog::for_change(audit).map_err(OpsError::Refused)?;
    let compared = compare_again(source, r).await;
    if let (Err(e @ OpsError::Conflict(_)), Some(step)) = (&compared, r.steps.first())
        && let Ok(mut plan) = prepare(source, r.step_request(step.weight), audit).await
    {
        // Recorded as not sent, as a step the compare refuses is (it was not recorded).
        plan.reason = Some(format!("rollout {} (its start)", r.progress()));
        plan.batch = Some(format!(
            "{}{}",
            crate::ops::batch::ROLLOUT_BATCH,
            plan.target
        ));
        plan.scope.access.production |= r.production_elsewhere;
        // Said as every change the compare holds back: what the preview read, what was found,
        // what it asked (it recorded the state found as both, the previewed one nowhere).
        let start = r.start_routing();
        let previewed = crate::provider::AliasInfo {
            name: r.alias.clone(),
            function_version: start.main,
            additional_weights: start.extra.into_iter().filter(|(_, w)| *w > 0.0).collect(),
            revision_id: None,
        };
        let previewed = crate::ops::describe::alias_state(&previewed);
        let found = std::mem::replace(&mut plan.before, previewed);
        let held = OpsError::Conflict(crate::ops::Changed::found(e.to_string(), found));
        crate::ops::audit::not_sent(source, &plan, audit, held).await;
    }
    compared
}

/// Refuses a confirmed rollout whose alias changed since its preview read it: its first step
/// would find another's weights and halt, leaving a rollout that never wrote anything (whose
/// abort would then write over their change). Nothing is saved or written.
pub async fn compare_again<S: RegionActions + GuardSignals>(
    source: &S,
    r: &Rollout,
) -> Result<(), OpsError> {
    let found = source
        .alias(&r.function, &r.alias)
        .await
        .map(|a| Routing::of(&a))?;
    let mut start = r.start_routing();
    start.extra = start.extra.filter(|(_, w)| *w > 0.0);
    if found == start {
        // A guard alarm that went to ALARM while the question was open: the first step would
        // send traffic to the new version while it fires.
        return check_alarms(source, source.scope(), &r.guard.alarms, "start").await;
    }
    Err(OpsError::Conflict(
        format!(
            "{} changed since the preview: it is {} where the preview read {}; nothing was started \
         or written (preview it again)",
            r.target(),
            found.describe(),
            start.describe()
        )
        .into(),
    ))
}

/// A confirmed resume, right before it is driven: its guard's alarms read again (as a start's
/// are by [`compare_again`]) — one that went to ALARM while the question was open refuses it,
/// nothing written. Both faces call it, whatever step the rollout stopped at.
pub async fn resume_again<S: RegionActions + GuardSignals>(
    source: &S,
    r: &Rollout,
) -> Result<(), OpsError> {
    r.check_guard_alarms(source).await
}

/// The rollout a live lops drives now on `function:alias` in `source`'s region: under its
/// profile, or under another profile name of the same account (or one whose account is not
/// known: the same alias, possibly). STS is asked only when another profile's rollout is there.
pub async fn driving<S: RegionActions>(
    source: &S,
    store: &RolloutStore,
    function: &str,
    alias: &str,
) -> Option<Rollout> {
    let scope = source.scope();
    let live: Vec<Rollout> = store
        .running()
        .into_iter()
        .filter(|r| r.region == scope.region && r.function == function && r.alias == alias)
        .filter(|r| r.standing() == Standing::Running)
        .collect();
    if let Some(own) = live.iter().find(|r| r.profile == scope.profile) {
        return Some(own.clone());
    }
    if live.is_empty() {
        return None;
    }
    let account = crate::ops::same_function::account(source).await;
    live.into_iter()
        .find(|r| r.account.is_none() || account.is_none() || r.account == account)
}

/// Prepares a rollout: checks the alias, the versions and the guard's alarms through the ops
/// layer's rules, refuses when one for the same alias is saved as running, and records the
/// weights it starts from. Nothing is written or saved: show [`Rollout::preview`], ask
/// [`Rollout::confirmation`], then save and [`run`] it.
pub async fn start<S: RegionActions + GuardSignals>(
    source: &S,
    spec: RolloutSpec,
    store: &RolloutStore,
) -> Result<Rollout, OpsError> {
    let RolloutSpec {
        function,
        alias,
        to,
        steps,
        guard,
        function_alarms,
    } = spec;
    let (function, alias, to) = (function.as_str(), alias.as_str(), to.as_str());
    let scope = source.scope().clone();
    Kind::RolloutStart.allowed_in(&scope)?;
    crate::ops::request::check_alias(alias)?;
    if guard
        .max_error_rate
        .is_some_and(|r| !(0.0..=1.0).contains(&r) || r.is_nan())
    {
        return Err(OpsError::Invalid(
            "--max-error-rate must be between 0 and 1 (0.05 is 5 %)".into(),
        ));
    }
    if guard.interval_secs == 0 || guard.interval_secs > 3_600 {
        return Err(OpsError::Invalid(format!(
            "a guard interval of {} s is out of range: give 1 to 3600 seconds",
            guard.interval_secs
        )));
    }
    if let Some(s) = steps.iter().find(|s| s.hold_secs > 86_400) {
        return Err(OpsError::Invalid(format!(
            "a step holds for {} s: hold a step at most a day (86400 s, 24h)",
            s.hold_secs
        )));
    }
    if let Some(why) = store.damaged_under_any_profile(&scope, function, alias) {
        return Err(OpsError::Refused(why));
    }
    if let Some(existing) = store.load(&scope, function, alias)
        && existing.unfinished()
    {
        return Err(OpsError::Refused(existing.in_the_way()));
    }
    // The same alias under another profile name of the same account (or one whose account is
    // not known) is the same alias: one rollout at a time there too.
    let account = source
        .caller()
        .await
        .ok()
        .and_then(|arn| arn.split(':').nth(4).map(str::to_string))
        .filter(|a| !a.is_empty());
    if let Some(other) = store.running().into_iter().find(|r| {
        r.profile != scope.profile
            && r.region == scope.region
            && r.function == function
            && r.alias == alias
            && (r.account.is_none() || account.is_none() || r.account == account)
    }) {
        // A live one is not resumed: it runs (abort it, or let it finish).
        let what = match other.standing() {
            Standing::Running => "abort it there, or let it finish",
            _ => "resume or abort it there first",
        };
        return Err(OpsError::Refused(format!(
            "a rollout of {function}:{alias} in {} is {} under profile {} ({}), on the same \
             account: {what}",
            scope.region,
            other.standing().as_str(),
            other.profile,
            other.progress()
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
    // The guard watches the function's own alarms too, whichever face starts it (unless told
    // not to): read now, once the function and version are known good.
    let mut guard = guard;
    if function_alarms {
        let own = source.alarms().await.map_err(|e| {
            OpsError::Refused(format!(
                "cannot read the alarms of {function} in {scope} ({e}): a rollout does not \
                 start without its guard (or start it without the function's own alarms: \
                 --no-function-alarms, [guards] function_alarms = false)"
            ))
        })?;
        for alarm in own {
            if alarm.function.as_deref() == Some(function) && !guard.alarms.contains(&alarm.name) {
                guard.alarms.push(alarm.name);
            }
        }
    }
    check_alarms(source, &scope, &guard.alarms, "start").await?;
    // An error rate already over the guard's (the new version's errors through this alias in
    // the last 5 minutes: an earlier rollout's, say) would roll the first step back at once,
    // after sending it traffic: refused, as a firing alarm is.
    if let Some(max) = guard.max_error_rate {
        let (invocations, errors) = source
            .version_errors(function, alias, to, 5)
            .await
            .map_err(|e| {
                OpsError::Refused(format!(
                    "cannot read v{to}'s errors through {function}:{alias} in {scope} ({e}): a \
                     rollout does not start without its guard"
                ))
            })?;
        if invocations > 0.0 && errors / invocations > max {
            return Err(OpsError::Refused(format!(
                "v{to} already failed {} of its calls through {function}:{alias} over the last \
                 5 minutes, above the guard's {}: its first step would roll back at once. Start \
                 once those minutes hold fewer errors, or with a higher --max-error-rate \
                 ([guards] max_error_rate)",
                crate::format::percent(Some(errors / invocations)),
                crate::format::percent(Some(max))
            )));
        }
    }
    let from = check.before["function_version"]
        .as_str()
        .unwrap_or_default()
        .to_string();
    let start_extra = check.before["weights"]
        .as_object()
        .and_then(|m| m.iter().next())
        .map(|(v, w)| (v.clone(), w.as_f64().unwrap_or(0.0)));
    // A rollout moves traffic toward the new version: a first step below the share it has now
    // would take traffic away from it first.
    if let (Some((v, share)), Some(step)) = (&start_extra, steps.first())
        && v == to
        && step.weight < *share
    {
        return Err(OpsError::Invalid(format!(
            "v{to} already takes {} of {function}:{alias}, more than the first step's {}: \
             start above it (`lops traffic plan … --steps` with a higher first step, or the \
             preset AllAtOnce)",
            crate::format::weight(*share),
            crate::format::weight(step.weight)
        )));
    }
    Ok(Rollout {
        profile: scope.profile,
        account,
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
        owner: None,
        heartbeat: None,
        abort_requested: false,
        abort_previewed: None,
        last_written: None,
        production_elsewhere: false,
    })
}

/// A guard that names an alarm that does not exist would never trip, and one already in ALARM
/// would roll back at once: refused at the `verb` ("start", "resume").
async fn check_alarms<S: GuardSignals>(
    source: &S,
    scope: &Scope,
    alarms: &[String],
    verb: &str,
) -> Result<(), OpsError> {
    if alarms.is_empty() {
        return Ok(());
    }
    let found = source.alarm_states(alarms).await.map_err(|e| {
        OpsError::Refused(format!(
            "cannot read the guard's alarms in {scope} ({e}): a rollout does not {verb} without \
             its guard"
        ))
    })?;
    let missing: Vec<&str> = alarms
        .iter()
        .filter(|a| !found.iter().any(|(name, _)| name == *a))
        .map(String::as_str)
        .collect();
    if !missing.is_empty() && verb == "start" {
        return Err(OpsError::Invalid(format!(
            "guard alarm {} does not exist in {scope}: a guard that names a missing alarm never \
             trips. Check the name (aws cloudwatch describe-alarms) or leave it out",
            missing.join(", ")
        )));
    }
    // A saved rollout's guard cannot leave it out: put it back, or abort.
    if !missing.is_empty() {
        return Err(OpsError::Refused(format!(
            "guard alarm {} of this rollout no longer exists in {scope}: its guard could never \
             trip on it. Create the alarm again, or abort the rollout",
            missing.join(", ")
        )));
    }
    // A guard already tripped would roll the first step back at once, after sending traffic
    // to the new version while the alarm fires.
    let firing: Vec<&str> = found
        .iter()
        .filter(|(_, state)| *state == AlarmState::Alarm)
        .map(|(name, _)| name.as_str())
        .collect();
    if !firing.is_empty() {
        return Err(OpsError::Refused(format!(
            "guard alarm {} is in ALARM now in {scope}: the rollout would roll back at its first \
             check. {} it once the alarm is OK ({})",
            firing.join(", "),
            if verb == "start" { "Start" } else { "Resume" },
            if verb == "start" {
                "or leave it out: of --guard-alarm and [guards] alarms, or, for the \
                 function's own, --no-function-alarms or [guards] function_alarms = false"
            } else {
                "or abort it"
            }
        )));
    }
    Ok(())
}

impl Rollout {
    /// The preview of resuming (or aborting) this rollout, from its alias as `source` reads it
    /// now — the same read and words in both faces (the rollout's own record of the alias may
    /// be minutes old: someone may have moved it since).
    pub async fn act_preview<S: RegionActions + GuardSignals>(
        &self,
        source: &S,
        abort: bool,
    ) -> Result<String, OpsError> {
        self.act_preview_now(source, abort)
            .await
            .map(|(text, _)| text)
    }

    /// [`Self::act_preview`] with the alias as it read it: an abort confirmed on it passes it
    /// to [`super::abort`], which writes only over that (or what the rollout itself writes).
    pub async fn act_preview_now<S: RegionActions + GuardSignals>(
        &self,
        source: &S,
        abort: bool,
    ) -> Result<(String, Routing), OpsError> {
        // Another lops drives it: one driver at a time (an abort takes over from it).
        if !abort && self.owned_elsewhere() {
            // A halted one does not finish by itself: the lops holding it resumes it (`U`).
            let way = match self.status {
                Status::Halted { .. } => "abort it, or resume it in that lops (`U`)",
                _ => "abort it, or let it finish",
            };
            return Err(OpsError::Refused(format!(
                "the rollout of {} is {} in lops pid {}: {way}",
                self.target(),
                match self.status {
                    Status::Halted { .. } => "halted",
                    _ => self.standing().as_str(),
                },
                self.owner.as_ref().map_or(0, |o| o.pid)
            )));
        }
        let now = source
            .alias(&self.function, &self.alias)
            .await
            .map(|a| Routing::of(&a))
            .map_err(|e| match e {
                // Deleted since it started: nothing to return or go on with (it said AWS's
                // "Cannot find alias arn", and the rollout stayed listed with no way out).
                crate::provider::ProviderError::NotFound(_) => OpsError::Invalid(format!(
                    "{} no longer exists in {}: the rollout has no alias to {} — nothing was \
                     written. It stays listed until its file is removed (`lops traffic plans` \
                     says where the saved ones are)",
                    self.target(),
                    self.scope_label(),
                    if abort { "return" } else { "go on with" }
                )),
                e => OpsError::from(e),
            })?;
        let mut text = if abort {
            self.abort_preview(&now)
        } else {
            self.resume_preview(&now)
        };
        if let Status::Halted { reason } = &self.status {
            // Put back as it left it since: why it halted then is not why it stands now.
            match !abort && now == self.expected_routing() {
                true => text.push_str(&format!(
                    "\nhalted earlier: {reason} (the alias is as the rollout left it now)"
                )),
                false => text.push_str(&format!("\nhalted: {reason}")),
            }
        }
        if !abort {
            self.check_guard_alarms(source).await?;
            text.push_str(&self.unwatched_firing(source).await);
            // Killed: the resume halts at its first look, writing nothing (said now, not
            // after a confirmation for nothing).
            if let Ok(Some(0)) = source.reserved_concurrency(&self.function).await {
                text.push_str(&format!(
                    "\n{} is killed (reserved concurrency 0): resuming halts at once, writing \
                     nothing — revive it first (`lops revive {} --region {}`, or `V`)",
                    self.function, self.function, self.region
                ));
            }
        }
        Ok((text, now))
    }

    /// The function's alarms in ALARM that the guard does not watch (a plan started without
    /// them), read now: said before a resume sends more traffic, never a refusal (the guard
    /// decides what halts it). An unreadable list is said as such.
    async fn unwatched_firing<S: RegionSource>(&self, source: &S) -> String {
        let alarms = match source.alarms().await {
            Ok(alarms) => alarms,
            Err(e) => {
                return format!(
                    "\nnote: the alarms of {} could not be read ({e})",
                    self.function
                );
            }
        };
        let unwatched: Vec<&str> = alarms
            .iter()
            .filter(|a| a.state == AlarmState::Alarm)
            .filter(|a| a.function.as_deref() == Some(self.function.as_str()))
            .filter(|a| !self.guard.alarms.contains(&a.name))
            .map(|a| a.name.as_str())
            .collect();
        match unwatched.is_empty() {
            true => String::new(),
            false => format!(
                "\nwarning: alarm {} of {} is in ALARM, and this rollout's guard does not watch it",
                unwatched.join(", "),
                self.function
            ),
        }
    }

    /// A resume sends more traffic to the new version: refused, as a start is, while an alarm
    /// its guard watches is in ALARM or no longer exists (read by name, as the guard reads them).
    pub(super) async fn check_guard_alarms<S: RegionActions + GuardSignals>(
        &self,
        source: &S,
    ) -> Result<(), OpsError> {
        check_alarms(source, source.scope(), &self.guard.alarms, "resume").await
    }

    /// What an abort does: the alias as it is now → the weights the rollout started from.
    pub fn abort_preview(&self, now: &Routing) -> String {
        format!(
            "abort the rollout of {} @ {} ({}, {}): now {} → {} (the weights it started from)",
            self.target(),
            self.scope_label(),
            self.progress(),
            self.standing().as_str(),
            now.describe(),
            self.start_weights()
        )
    }

    /// What a resume does, as both faces preview it: where it goes on from, the steps left,
    /// the guard, and — when the alias is not as the rollout left it (`now`) — that it would
    /// halt at once.
    pub fn resume_preview(&self, now: &Routing) -> String {
        let left: Vec<String> = self
            .steps
            .iter()
            .skip(self.step)
            .map(super::Step::describe)
            .collect();
        let mut text = format!(
            "resume the rollout of {} @ {} {} (its hold starts again): now {}\nsteps left: \
             {}; guard: {}; abort returns to {}",
            self.target(),
            self.scope_label(),
            // "at step 2/3 …", or "before step 2/3 …" for one halted before writing it.
            match self.progress() {
                p if p.starts_with("before ") => p,
                p => format!("at {p}"),
            },
            now.describe(),
            left.join(", "),
            self.guard.describe(),
            self.start_weights()
        );
        let expected = self.expected_routing();
        if *now != expected {
            text.push_str(&format!(
                "\nthe alias is not as the rollout left it ({}): resuming halts at once, writing \
                 nothing — abort, or set it back first",
                expected.describe()
            ));
        }
        text
    }
}
