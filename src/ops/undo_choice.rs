//! Which records an undo takes back in the scopes chosen, and what it says when it takes
//! none: the one decision both faces show.

use super::*;

/// A change of a Route 53 record set: global, so reached (and taken back) through any scope of
/// its profile; its record names the region it moved, not the one it was reached from.
pub fn reached_anywhere(record: &Record) -> bool {
    record.action.starts_with("service.")
}

/// Whether `scope` can take `record` back: where it was made, or, for a Route 53 change, from
/// any region of its profile.
pub fn reachable_from(record: &Record, scope: &crate::provider::Scope) -> bool {
    record.profile == scope.profile && (record.region == scope.region || reached_anywhere(record))
}

/// Where an undo reaches: the profiles chosen in the regions named (every region when none
/// are: `lops undo`), or the exact profile × region scopes a dashboard reads. A Route 53 change
/// is reached from any region of its profile, in both.
#[derive(Debug, Clone)]
pub enum Reach<'a> {
    Named {
        profiles: &'a [String],
        regions: Option<&'a [String]>,
    },
    Scopes(&'a [&'a crate::provider::Scope]),
}

impl Reach<'_> {
    /// Whether an undo here may take `record` back.
    pub fn takes(&self, record: &Record) -> bool {
        match self {
            Reach::Named { profiles, regions } => {
                profiles.iter().any(|p| p.trim() == record.profile)
                    && (reached_anywhere(record)
                        || regions.is_none_or(|g| g.iter().any(|g| g.trim() == record.region)))
            }
            Reach::Scopes(scopes) => scopes.iter().any(|s| reachable_from(record, s)),
        }
    }

    /// The profiles and (when narrowed) the regions, sorted, as said in a refusal.
    fn names(&self) -> (Vec<String>, Option<Vec<String>>) {
        match self {
            Reach::Named { profiles, regions } => (profiles.to_vec(), regions.map(<[_]>::to_vec)),
            Reach::Scopes(scopes) => {
                let names = |of: fn(&crate::provider::Scope) -> &String| {
                    let mut names: Vec<String> = scopes.iter().map(|s| of(s).clone()).collect();
                    names.sort();
                    names.dedup();
                    names
                };
                (names(|s| &s.profile), Some(names(|s| &s.region)))
            }
        }
    }
}

/// The last change a rollout made, when the last undoable change is one (its target).
fn rollout_step(records: &[Record]) -> Option<(&Record, &str)> {
    let step = last_reversible(records)?;
    let target = step.batch.as_deref()?.strip_prefix(ROLLOUT_BATCH)?;
    Some((step, target))
}

/// Whether undo finds something but refuses it (a rollout's step) rather than nothing.
pub fn undo_refused(records: &[Record]) -> bool {
    rollout_step(records).is_some()
}

pub fn nothing_to_undo(records: &[Record]) -> String {
    // The last change was a rollout's (a step, its rollback or its abort).
    if let Some((step, target)) = rollout_step(records) {
        // `orders:live`: the abort names the alias, its function, and where the rollout runs.
        let abort = match target.split_once(':') {
            Some((function, alias)) => format!(
                "`lops traffic abort {alias} --fn {function} --profile {} --regions {}`",
                step.profile, step.region
            ),
            None => "`lops traffic abort`".to_string(),
        };
        // A finished rollout reached from here is undone whole: found here, it was made where
        // this undo does not reach (another profile, another region) — undone there.
        if super::finished_step(step) {
            return format!(
                "the last change was the rollout of {target} under profile {} in {} ({} at {}), \
                 finished: undo takes it back whole there: `lops undo --profile {} --regions {}`",
                step.profile, step.region, step.action, step.time, step.profile, step.region
            );
        }
        // Its abort or rollback was the last change: the rollout is over, nothing to abort.
        // (One whose outcome is unknown may not have landed: the rollout may be mid-way.)
        let ending = step.reason.as_deref().is_some_and(|r| {
            r.starts_with("rollout aborted") || r.starts_with("rollout rolled back")
        });
        // Its rollback or abort got no answer: whether the alias is back is for a read to say
        // (the rollout's file says it ended; an abort of it finds nothing to abort).
        if ending && crate::ops::audit::outcome_unknown(&step.result) {
            let (function, alias) = target.split_once(':').unwrap_or((target, ""));
            return format!(
                "the last change was the end of the rollout of {target} ({}, {} at {}), whose \
                 answer did not come: read the alias (`lops traffic show {function} --profile {} \
                 --regions {}`). Back where the rollout started: nothing is left to undo; if \
                 not, and the rollout still runs, {abort} returns it, or set it as you want it \
                 with `lops traffic set {alias} --fn {function}` (`t` in the dashboard)",
                step.reason.as_deref().unwrap_or_default(),
                step.action,
                step.time,
                step.profile,
                step.region
            );
        }
        return format!(
            "the last change was made by the rollout of {target} ({} at {}), which has not \
             finished: undo would take it back one step only. {abort} returns it to where it \
             started (`A` in the dashboard); a finished rollout is undone whole",
            step.action, step.time
        );
    }
    // Nothing before it either: the rollout's end is said (the alias is back where it started).
    if let Some(step) = records.iter().rev().find(|r| {
        r.batch
            .as_deref()
            .is_some_and(|b| b.starts_with(ROLLOUT_BATCH))
            && (r.result == "ok" || crate::ops::audit::outcome_unknown(&r.result))
    }) && super::ends_rollout(step)
        && step.result == "ok"
    {
        return format!(
            "the last change ended the rollout of {} ({}, {} at {}): the alias is back where \
             the rollout started, and nothing before it is left to undo. Set it as you want \
             it with `lops traffic set` (`t` in the dashboard), or `lops pin` (`L`)",
            step.target,
            step.reason.as_deref().unwrap_or_default(),
            step.action,
            step.time
        );
    }
    let mut text = "nothing to undo: no reversible action is recorded".to_string();
    let safety_of = |r: &Record| {
        r.before
            .get("safety_snapshot")?
            .as_str()
            .map(str::to_string)
    };
    // Restores that failed and were undone whole replaced nothing: their records (the begin
    // and the end, one safety snapshot) are passed over.
    let undone_whole: Vec<String> = (records.iter())
        .filter(|r| r.result.contains(crate::backup::restore::UNDONE_WHOLE))
        .filter_map(safety_of)
        .collect();
    let safety = records
        .iter()
        .rev()
        // A restore refused before its first change (not sent) replaced nothing.
        .filter(|r| {
            !r.result.starts_with(crate::ops::audit::CONFLICT) && !r.result.starts_with("refused")
        })
        // Nor one that failed and was undone whole: the restore before it is the last that
        // replaced the function (its safety snapshot holds what that one replaced).
        .filter(|r| safety_of(r).is_none_or(|u| !undone_whole.contains(&u)))
        // The last restore that replaced a function (one that made a new function, a drill's
        // copy say, replaced nothing and has no safety snapshot to name).
        .filter(|r| r.action.starts_with("restore"))
        .find_map(|r| {
            let mut uri = r.before.get("safety_snapshot")?.as_str()?.to_string();
            // Restores of it that began before this one and never ended: the first one's
            // snapshot holds the function as it was before any of them (this one's, as one
            // of them left it, half-made).
            if let Some(first) = before_unfinished(records, r) {
                uri = first;
            }
            let overwritten = r.after.get("data_overwritten").and_then(|n| n.as_u64());
            // Where it was restored: the profile, and the role assumed into another account
            // (without it the command would act in the profile's own account).
            let text = |key: &str| r.after.get(key).and_then(|v| v.as_str());
            // Exact: what the restore added (an alias, a URL, a mapping) goes too.
            let mut command = format!("lops restore {uri} --exact --profile {}", r.profile);
            if let Some(role) = text("assume_role") {
                command.push_str(&format!(" --assume-role {role}"));
            }
            if let Some(account) = text("account") {
                command.push_str(&format!("` (in account {account})"));
            } else {
                command.push('`');
            }
            Some((command, overwritten.unwrap_or(0)))
        });
    if let Some((command, overwritten)) = safety {
        // The safety snapshot holds the function, never the data a copy wrote over.
        let data = match overwritten {
            0 => String::new(),
            n => format!(
                "; the {n} S3 object(s) it wrote over are not in it: without bucket versioning \
                 they cannot be put back"
            ),
        };
        text.push_str(&format!(
            " (a restore is not undone by undo: `{command} puts back the function the last \
             restore replaced{data})"
        ));
    }
    text
}

/// The safety snapshot of the first of the restores of `end`'s target that began before it
/// (in its scope) and never ended, if any: a run again completes what a killed one left.
fn before_unfinished(records: &[Record], end: &Record) -> Option<String> {
    let same = |x: &&Record| {
        x.target == end.target
            && x.profile == end.profile
            && x.region == end.region
            && (x.action == "restore.begin" || x.action == "restore")
    };
    let at = records.iter().position(|x| std::ptr::eq(x, end))?;
    let mut earlier = records[..at].iter().rev().filter(same);
    // Its own begin (when `end` is the end of a run), then each one before it that never
    // ended: the records of its run are a begin, then an end.
    if end.action == "restore" {
        earlier.next();
    }
    let mut first = None;
    for x in earlier {
        if x.action != "restore.begin" || x.result != crate::ops::audit::STARTED {
            break;
        }
        first = x
            .before
            .get("safety_snapshot")
            .and_then(|v| v.as_str())
            .map(str::to_string)
            .or(first);
    }
    first
}

/// What undo says when the profiles and regions chosen (`chosen`: their records) hold nothing
/// to undo: why, and where the last change of the whole log is when it lies beyond them —
/// with the command that undoes it there, or why undo does not (a rollout's step).
pub fn nothing_here(
    all: &[Record],
    chosen: &[Record],
    profiles: &[String],
    regions: Option<&[String]>,
) -> String {
    let within = format!(
        "profile {}{}",
        profiles.join(","),
        regions
            .map(|r| format!(" in {}", r.join(",")))
            .unwrap_or_default()
    );
    match elsewhere(all, chosen) {
        Some(there) => format!("{} under {within}; {there}", nothing_to_undo(chosen)),
        // Nothing was done under them at all: what the log's last change is.
        None if chosen.is_empty() && rollout_step(all).is_some() => format!(
            "nothing to undo: nothing was done under {within}; elsewhere, {}",
            nothing_to_undo(all)
        ),
        None if chosen.is_empty() => nothing_to_undo(all),
        None => nothing_to_undo(chosen),
    }
}

/// Why an undo in the scopes chosen takes nothing back: what to say, and whether it is a
/// refusal (there is something to undo, not here or not so: exit 4) or nothing at all.
#[derive(Debug, Clone, PartialEq)]
pub struct NotUndone {
    pub message: String,
    pub refused: bool,
}

/// What an undo takes back in `profiles` (and `regions`, when named): the one decision both
/// faces show. `anywhere`: the scopes were not narrowed on purpose, so the last action of the
/// whole log is what undo means — one made beyond them is named, never passed over for an
/// older one here. A batch reaching beyond them is refused whole.
pub fn choose(
    all: &[Record],
    profiles: &[String],
    regions: Option<&[String]>,
    anywhere: bool,
) -> Result<Vec<Record>, NotUndone> {
    choose_in(all, &Reach::Named { profiles, regions }, anywhere)
}

/// [`choose`] over where an undo reaches (a dashboard's scopes, or the profiles and regions
/// named).
pub fn choose_in(all: &[Record], reach: &Reach, anywhere: bool) -> Result<Vec<Record>, NotUndone> {
    let (profiles, regions) = reach.names();
    let (profiles, regions) = (profiles.as_slice(), regions.as_deref());
    let chosen: Vec<Record> = all.iter().filter(|r| reach.takes(r)).cloned().collect();
    // The last change anywhere a rollout's step made beyond the scopes: not passed over for an
    // older one here either (undo refuses a step wherever it is; its abort is named).
    if anywhere
        && let Some((step, _)) = rollout_step(all)
        && !chosen.iter().any(|r| r.id == step.id)
    {
        return Err(NotUndone {
            message: not_here(profiles, regions, &nothing_to_undo(all)),
            refused: true,
        });
    }
    let there = elsewhere(all, &chosen);
    if anywhere && let Some(there) = &there {
        return Err(NotUndone {
            message: not_here(profiles, regions, there),
            refused: true,
        });
    }
    let targets = undo_targets(&chosen);
    if let Some(why) = partial_batch(all, &targets) {
        return Err(NotUndone {
            message: why,
            refused: true,
        });
    }
    if targets.is_empty() {
        return Err(NotUndone {
            message: nothing_here(all, &chosen, profiles, regions),
            // Something to undo elsewhere, or a rollout's step (here, or the last change when
            // nothing was done here): refused, not bad input.
            refused: undo_refused(&chosen)
                || there.is_some()
                || (chosen.is_empty() && rollout_step(all).is_some()),
        });
    }
    Ok(targets)
}

/// The records an undo may take back: those made under the profiles the session reads (the
/// core resolves them: `--profile`, the config's `profiles`, `AWS_PROFILE`, `default`), and in
/// the regions named, when regions were named (a Route 53 change from any of them). An undo
/// never acts in a scope nobody chose.
pub fn in_scope(
    records: &[Record],
    profiles: &[String],
    regions: Option<&[String]>,
) -> Vec<Record> {
    let reach = Reach::Named { profiles, regions };
    records.iter().filter(|r| reach.takes(r)).cloned().collect()
}

/// The profiles and the regions `records` were made in, each sorted, once, comma-joined (as
/// `--profile` and `--regions` take them).
pub fn scopes_of(records: &[Record]) -> (String, String) {
    let names = |of: fn(&Record) -> &str| {
        let mut names: Vec<&str> = records.iter().map(of).collect();
        names.sort();
        names.dedup();
        names.join(",")
    };
    (names(|r| &r.profile), names(|r| &r.region))
}

/// Said when the last reversible action of the whole log is not among those of the scopes
/// chosen: where it is, and how to undo it there.
pub fn elsewhere(all: &[Record], chosen: &[Record]) -> Option<String> {
    let batch = undo_targets(all);
    let last = batch.last()?;
    // Part of its batch is here: [`partial_batch`] says why it is undone whole.
    if batch.iter().any(|b| chosen.iter().any(|r| r.id == b.id)) {
        return None;
    }
    // Every scope of its batch: the command undoes all of it, as one.
    let (profiles, regions) = scopes_of(&batch);
    Some(format!(
        "the last reversible action is {} {} in {profiles}/{regions} at {}: undo it with `lops \
         undo --profile {profiles} --regions {regions}`",
        last.action,
        targets_of(&batch),
        last.time
    ))
}

/// A batch names its targets, not only one of them (`kill a, b`).
fn targets_of(batch: &[Record]) -> String {
    let mut targets: Vec<&str> = batch.iter().map(|r| r.target.as_str()).collect();
    targets.sort();
    targets.dedup();
    targets.join(", ")
}

/// The refusal when the last reversible action lies (wholly or in part) outside the profiles
/// and regions chosen: `there` is what [`elsewhere`] said.
pub fn not_here(profiles: &[String], regions: Option<&[String]>, there: &str) -> String {
    let plural = |n: usize, one: &'static str, many: &'static str| match n {
        1 => one,
        _ => many,
    };
    format!(
        "the last reversible action was not made within {} {}{}: {there}",
        plural(profiles.len(), "profile", "profiles"),
        profiles.join(","),
        regions
            .map(|r| format!(
                " and {} {}",
                plural(r.len(), "region", "regions"),
                r.join(",")
            ))
            .unwrap_or_default()
    )
}

/// Said when `targets` (what the chosen scopes would undo) are only part of their batch: the
/// rest was made under other profiles or regions, and a batch is undone whole or not at all.
pub fn partial_batch(all: &[Record], targets: &[Record]) -> Option<String> {
    let batch = targets.first()?.batch.clone()?;
    // The batch's records, and the undos that may have taken some back.
    let related: Vec<Record> = all
        .iter()
        .filter(|r| r.batch.as_deref() == Some(batch.as_str()) || r.undoes.is_some())
        .cloned()
        .collect();
    let whole = undo_targets(&related);
    if whole.len() <= targets.len() {
        return None;
    }
    let (profiles, regions) = scopes_of(&whole);
    // The command names the batch's scopes; if something was done there after it, that comes
    // first (said, so the command is not taken for this batch's undo).
    let split = |names: String| names.split(',').map(str::to_string).collect::<Vec<_>>();
    let there = in_scope(all, &split(profiles.clone()), Some(&split(regions.clone())));
    let first = undo_targets(&there);
    let later = if first.iter().any(|r| r.id == whole[0].id) {
        String::new()
    } else {
        format!(
            " (after {} {}, done there since, which that command undoes first)",
            first.first().map_or("", |r| r.action.as_str()),
            targets_of(&first)
        )
    };
    Some(format!(
        "the last reversible action, {} {}, was one batch over {profiles}/{regions}: a batch is \
         undone whole — `lops undo --profile {profiles} --regions {regions}`{later}",
        whole[0].action,
        targets_of(&whole)
    ))
}

/// Each record of an undo, to the scope of `scopes` that takes it back: where it was made,
/// else (a Route 53 change) any scope of its profile; a record no scope holds is left, with
/// `elsewhere`'s words. A service's change is taken back as a change of that service now:
/// through the profile that changes it today (its `[[service]]` `profile`, or the session's
/// strictest: [`crate::ops::service::home`]) — one made through another profile is refused,
/// nothing changed, so that a service made read-only (or production) since keeps that rule for
/// its undo too. Both faces build their undo from it.
pub fn targets_for(
    records: Vec<Record>,
    scopes: &[&crate::provider::Scope],
    fleet: usize,
    services: &[crate::config::ServiceSettings],
    elsewhere: &dyn Fn(&Record) -> String,
) -> Vec<super::super::batch::Target> {
    use super::super::batch::Target;
    records
        .into_iter()
        .map(|record| {
            let scope_of = |r: &Record| {
                crate::provider::Scope::new(
                    r.profile.clone(),
                    r.region.clone(),
                    crate::config::Access::default(),
                )
            };
            if let Some(why) = service_moved(&record, scopes, fleet, services) {
                return Target::Elsewhere(
                    scope_of(&record),
                    record.target.clone(),
                    OpsError::Refused(why),
                );
            }
            let exact = scopes
                .iter()
                .position(|s| s.region == record.region && s.profile == record.profile);
            match exact.or_else(|| scopes.iter().position(|s| reachable_from(&record, s))) {
                Some(i) => Target::Ask(
                    i,
                    super::super::Request::Undo {
                        record: Box::new(record),
                    },
                ),
                None => {
                    let why = elsewhere(&record);
                    Target::Elsewhere(
                        scope_of(&record),
                        record.target.clone(),
                        OpsError::Invalid(why),
                    )
                }
            }
        })
        .collect()
}

/// Why a service change's undo is refused: the service is changed through another profile now
/// than the one its change went through (or through none this session can use).
fn service_moved(
    record: &Record,
    scopes: &[&crate::provider::Scope],
    fleet: usize,
    services: &[crate::config::ServiceSettings],
) -> Option<String> {
    if !reached_anywhere(record) {
        return None;
    }
    let then = crate::ops::service::settings_of(&record.before)?;
    // Its record set under whatever name the config gives it now (a service renamed is the
    // same records, guarded by the profile its entry names now). No longer configured: taken
    // back as it was recorded.
    let now = services.iter().find(|s| s.same_record_set(&then))?;
    let name = &now.name;
    let (profile, how) = match &now.profile {
        Some(p) => (p.clone(), "its [[service]] profile"),
        None => {
            let i = crate::ops::service::home(scopes.iter().copied(), fleet, now).ok()?;
            // One as strict as the home (the same tier and production flag) is the home's
            // equal, whichever came first: the change may have gone through it.
            let rules = |s: &crate::provider::Scope| (s.access.tier, s.access.production);
            let as_strict = scopes
                .iter()
                .take(fleet)
                .any(|s| s.profile == record.profile && rules(s) == rules(scopes[i]));
            if as_strict {
                return None;
            }
            (scopes[i].profile.clone(), "the strictest of this session's")
        }
    };
    if profile == record.profile {
        return None;
    }
    let why = format!(
        "service {name} is changed through profile {profile} now ({how}), not {} its change \
         went through",
        record.profile
    );
    Some(format!(
        "{why}: its undo keeps that profile's rules, so it is not taken back through {}, nothing \
         changed; set its weights through that profile (`lops service weights {name} …`), or \
         name {} in its [[service]] again",
        record.profile, record.profile
    ))
}

/// Marks a batch id among the record ids a finished batch's undo names.
pub const BATCH_MARK: &str = "batch:";

/// Said when the batch a finished batch's popup offered to undo is no longer the last change
/// (undone meanwhile, by another lops say, or followed by another): nothing is undone.
pub fn not_that_batch() -> String {
    "that batch is no longer the last change (undone already, or another change came after \
     it): nothing undone — `u` outside this popup previews what undo would take back now"
        .into()
}
