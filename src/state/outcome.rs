//! What comes back from the runtime: rollout progress, action results, backups, and the panes
//! that show them.

use super::{Effect, Popup, State};
use crate::ops::rollout::Rollout;
use crate::ops::{OpsError, Outcome};

/// How the runtime says a rollout it was asked to drive (a start, a resume) did not run here.
pub const NOT_DRIVEN: &str = "not driven here: ";

/// A rollout moved on (or stopped): keep the latest of each, drop finished ones after showing
/// them, and show the weights it wrote on the alias at once.
pub fn rollout_update(
    state: &mut State,
    region: usize,
    rollout: Rollout,
    event: String,
    running: bool,
) {
    state.rollouts.retain(|p| {
        !(p.region == region
            && p.rollout.function == rollout.function
            && p.rollout.alias == rollout.alias)
    });
    let written = match &rollout.status {
        crate::ops::rollout::Status::RolledBack { .. } | crate::ops::rollout::Status::Aborted => {
            Some((rollout.from.clone(), rollout.start_extra.clone()))
        }
        // Interrupted plans found at start have written nothing this run; a halted one may
        // not have written its step (the alias is read again as it is).
        crate::ops::rollout::Status::Running if !running && event.starts_with("interrupted") => {
            None
        }
        crate::ops::rollout::Status::Halted { .. } => None,
        _ => Some(rollout.step_routing()),
    };
    if let Some((main, extra)) = written {
        set_alias(
            state,
            region,
            &rollout.function,
            &rollout.alias,
            main,
            extra,
        );
    }
    // Halted is not finished: it waits for a person to resume or abort it, here as in the CLI.
    let finished = !rollout.unfinished();
    // Its own wait (the rollout confirmed here) closes; another wait (a batch's preview, an
    // action under way) stays: keys typed ahead must not act on the screen underneath.
    if matches!(&state.popup, Some(Popup::Working(t)) if t.contains(&rollout.target())) {
        state.popup = None;
    }
    let halted = matches!(rollout.status, crate::ops::rollout::Status::Halted { .. });
    // This dashboard could not drive it (refused: another lops runs it; its file not saved):
    // said whole, not only on its line above the footer, cut at 80 columns.
    // (Queued: never over an open confirmation.)
    if !running && !finished && !halted && event.starts_with(NOT_DRIVEN) {
        state.notices.push(format!(
            "rollout {} @ {}: {event}",
            rollout.target(),
            rollout.scope_label()
        ));
    }
    if finished || halted {
        state.popup = Some(Popup::Notice(format!(
            "rollout {} @ {}: {event}{}",
            rollout.target(),
            rollout.scope_label(),
            if halted { " (U resumes, A aborts)" } else { "" }
        )));
    }
    if !finished {
        state.rollouts.push(RolloutView {
            region,
            rollout,
            event,
            running,
            acted_here: false,
        });
    }
}

/// The alias as lops just wrote it, until the next inventory read confirms it.
pub(super) fn set_alias(
    state: &mut State,
    region: usize,
    function: &str,
    alias: &str,
    main: String,
    extra: Option<(String, f64)>,
) {
    let Some(f) = state
        .regions
        .get_mut(region)
        .and_then(|r| r.functions.iter_mut().find(|f| f.info.name == function))
    else {
        return;
    };
    if let Some(a) = f.info.aliases.iter_mut().find(|a| a.name == alias) {
        a.function_version = main;
        a.additional_weights = extra.into_iter().filter(|(_, w)| *w > 0.0).collect();
    }
}

/// The detail view's triggers.
#[derive(Debug, Clone, PartialEq)]
pub struct TriggerPane {
    pub region: usize,
    pub function: String,
    /// `None` while loading.
    pub result: Option<Result<Vec<crate::provider::Trigger>, String>>,
    /// What the last read could not read (its call and why): the list is short of it.
    pub unread: Vec<String>,
    pub selected: usize,
    /// Read again (after a trigger action).
    pub reload: bool,
    /// The on-demand read of aliases and provisioned concurrency: `None` while reading.
    pub extras: Option<Result<(), String>>,
    /// When one of the two reads last failed: both are made again a while later (the view
    /// does not keep saying "not read" once the region answers again).
    pub failed_at: Option<chrono::DateTime<chrono::Utc>>,
}

/// How long a failed read of the detail view waits before it is made again.
pub const DETAIL_RETRY_SECS: i64 = 30;

impl TriggerPane {
    pub fn triggers(&self) -> &[crate::provider::Trigger] {
        match &self.result {
            Some(Ok(t)) => t,
            _ => &[],
        }
    }
}

/// A backup running in the background, for the progress gauge.
#[derive(Debug, Clone, PartialEq)]
pub struct BackupView {
    pub label: String,
    pub done: u64,
    pub total: u64,
    /// Of marked functions: those not backed up are marked again when it ends.
    pub of_marks: bool,
}

/// A backup moved on or finished.
pub fn backup_update(state: &mut State, event: BackupEvent) {
    match event {
        BackupEvent::Progress { done, total, label } => {
            let of_marks = state.backup.as_ref().is_some_and(|b| b.of_marks);
            state.backup = Some(BackupView {
                label,
                done,
                total,
                of_marks,
            });
        }
        BackupEvent::Done {
            snapshots,
            failed,
            mut remark,
        } => {
            // One function's backup (no marks) leaves no mark behind: its retry is the same key
            // on the same row.
            if !state.backup.take().is_some_and(|b| b.of_marks) {
                remark.clear();
            }
            let kept = match remark.len() {
                0 => String::new(),
                n => format!(
                    "\nthe {n} not backed up are marked again: {} retries them",
                    state.keymap.first_key(super::keymap::Action::Backup)
                ),
            };
            state.marks.extend(remark);
            // The demo's buckets are in memory: its URIs must not read as real S3 objects.
            let demo = match state.display.demo {
                true => " (the demo keeps its snapshots in memory, until it quits)",
                false => "",
            };
            let said = match (snapshots.is_empty(), failed.is_empty()) {
                (_, true) => format!("backup done{demo}\n{}", snapshots.join("\n")),
                (true, false) => format!("backup failed: {}{kept}", failed.join("\n")),
                // Some done, some not: both said (those done were left out).
                (false, false) => format!(
                    "backup done for {} of them{demo}, not for the rest\n{}\nnot backed up:\n{}{kept}",
                    snapshots.len(),
                    snapshots.join("\n"),
                    failed.join("\n")
                ),
            };
            // Quitting asked while it ran: lops quits if nothing else runs (saying it after),
            // else shows it.
            super::quit::show_result(state, said);
        }
    }
}

/// What the runtime reports about a backup.
#[derive(Debug, Clone, PartialEq)]
pub enum BackupEvent {
    Progress {
        done: u64,
        total: u64,
        label: String,
    },
    /// The snapshot URIs (or what went wrong), and the functions that were not backed up (by
    /// region): marked again, so that the same key retries them.
    Done {
        /// The snapshots taken.
        snapshots: Vec<String>,
        /// What was not backed up, and why: one line each.
        failed: Vec<String>,
        remark: Vec<(usize, String)>,
    },
}

/// A traffic plan the dashboard shows: running here, or interrupted (found saved at start).
/// The unfinished rollouts this dashboard does not run, as saved now: they replace the ones
/// read before (one finished elsewhere leaves the list; one started elsewhere joins it). What
/// another lops's rollout wrote is read again at once (a step it took, or its end: finished,
/// rolled back by its guard, aborted — said, as its last weights are not saved where this
/// dashboard reads them), not left to the next inventory read minutes later.
pub fn saved_rollouts(
    state: &mut State,
    saved: Vec<(usize, Rollout, String)>,
    effects: &mut Vec<Effect>,
) {
    let same = |a: &Rollout, region: usize, b: &Rollout, there: usize| {
        region == there && a.function == b.function && a.alias == b.alias
    };
    // Those that ended (lately) say how; only the unfinished are offered.
    let (saved, finished): (Vec<_>, Vec<_>) =
        saved.into_iter().partition(|(_, r, _)| r.unfinished());
    let mut ended = Vec::new();
    // The functions whose aliases to read again (one ListAliases each, not the whole fleet).
    let mut read: Vec<(usize, String)> = Vec::new();
    // What this dashboard resumed or aborted it reports itself: not "ended elsewhere".
    for old in state
        .rollouts
        .iter()
        .filter(|v| !v.running && !v.acted_here)
    {
        match saved
            .iter()
            .find(|(region, r, _)| same(&old.rollout, old.region, r, *region))
        {
            None => {
                let how = finished
                    .iter()
                    .find(|(region, r, _)| same(&old.rollout, old.region, r, *region))
                    .map(|(_, _, event)| event.clone());
                ended.push((old.rollout.target(), how));
                read.push((old.region, old.rollout.function.clone()));
            }
            Some((_, now, _))
                if now.step != old.rollout.step || now.status != old.rollout.status =>
            {
                read.push((old.region, old.rollout.function.clone()));
            }
            Some(_) => {}
        }
    }
    // One started by another lops since (running there) has written its first step: its
    // alias is read now, not at the next inventory read.
    for (region, r, _) in &saved {
        let known = state
            .rollouts
            .iter()
            .any(|v| same(&v.rollout, v.region, r, *region));
        if !known && r.owned_elsewhere() {
            read.push((*region, r.function.clone()));
        }
    }
    read.sort();
    read.dedup();
    for (region, function) in read {
        effects.push(Effect::Extras {
            region,
            function,
            want: crate::provider::NotRead {
                aliases: true,
                ..Default::default()
            },
        });
    }
    // Said when nothing else is open (never dropped): how each ended, where its file says.
    for (target, how) in ended {
        state.notices.push(match how {
            Some(how) => {
                format!("rollout {target} in another lops: {how}; its alias is read again")
            }
            None => format!(
                "rollout {target} ended in another lops (finished, rolled back or aborted: `lops \
                 audit` says which); its alias is read again"
            ),
        });
    }
    let acted: Vec<(usize, String, String)> = state
        .rollouts
        .iter()
        .filter(|v| v.acted_here)
        .map(|v| {
            (
                v.region,
                v.rollout.function.clone(),
                v.rollout.alias.clone(),
            )
        })
        .collect();
    state.rollouts.retain(|v| v.running);
    for (region, rollout, event) in saved {
        let ours = state
            .rollouts
            .iter()
            .any(|v| same(&v.rollout, v.region, &rollout, region));
        if !ours {
            let acted_here = acted
                .iter()
                .any(|(r, f, a)| *r == region && *f == rollout.function && *a == rollout.alias);
            state.rollouts.push(RolloutView {
                region,
                rollout,
                event,
                running: false,
                acted_here,
            });
        }
    }
}

#[derive(Debug, Clone, PartialEq)]
pub struct RolloutView {
    pub region: usize,
    pub rollout: crate::ops::rollout::Rollout,
    pub event: String,
    pub running: bool,
    /// Resumed or aborted from this dashboard: its own run reports how it ends.
    pub acted_here: bool,
}

/// The action ran (or failed): say what happened, show a written alias at once, and re-read
/// the inventory.
pub fn executed(
    state: &mut State,
    region: usize,
    result: Result<Outcome, OpsError>,
    effects: &mut Vec<Effect>,
) {
    if let Ok(Outcome {
        record: Some(r),
        after,
        ..
    }) = &result
        && let (Some((function, alias)), Some((main, extra))) =
            (r.target.split_once(':'), crate::ops::routing_of(after))
    {
        let (function, alias) = (function.to_string(), alias.to_string());
        set_alias(state, region, &function, &alias, main, extra);
    }
    // Named: which function (from the record) and where; the popup may be read later.
    let scope = state
        .regions
        .get(region)
        .map(|r| r.scope.to_string())
        .unwrap_or_default();
    let record = result.as_ref().ok().and_then(|o| o.record.as_ref());
    // A Route 53 change is the service's, not its home region's: named by the service alone.
    let dns = record.is_some_and(|r| r.action.starts_with("service."));
    let target = record
        .map(|r| {
            if dns {
                r.target.clone()
            } else {
                format!("{} in ", r.target)
            }
        })
        .unwrap_or_default();
    let scope = if dns { String::new() } else { scope };
    let text = match result {
        // A service's home under its own profile is no fleet region: the error names the
        // service.
        // Refused (a guard, the target changed since the preview): nothing sent, not a
        // failure — as the CLI's exit 4 and the audit's `not sent (changed)` say.
        Err(e @ (crate::ops::OpsError::Conflict(_) | crate::ops::OpsError::Refused(_)))
            if scope.is_empty() =>
        {
            format!("not done: {e}")
        }
        Err(e @ (crate::ops::OpsError::Conflict(_) | crate::ops::OpsError::Refused(_))) => {
            format!("not done in {scope}: {e}")
        }
        Err(e) if scope.is_empty() => format!("failed: {e}"),
        Err(e) => format!("failed in {scope}: {e}"),
        Ok(outcome) => match &outcome.invoke {
            Some((inv, report)) => {
                // What the function wrote reaches the screen as text, never as a command
                // (as `lops invoke` prints it), on the notice's one line.
                let body = String::from_utf8_lossy(&inv.payload);
                // A tab would be dropped by the terminal widget: a space says it.
                let body = crate::format::printable(&body, false).replace('\t', " ");
                let mut lines: Vec<String> = crate::ops::invoke_summary(inv, report.as_ref())
                    .into_iter()
                    .map(|(label, value)| format!("{label} {value}"))
                    .collect();
                // A function that failed says so first (it ran: not a lops failure).
                lines.insert(
                    0,
                    match &inv.function_error {
                        Some(e) => format!("invoked {target}{scope}: the function failed ({e})"),
                        None => format!("invoked {target}{scope}"),
                    },
                );
                // A long answer is cut, and says so (`lops invoke` prints it whole).
                const SHOWN: usize = 600;
                let cut = body.chars().count() > SHOWN;
                lines.push(format!(
                    "response {}{}",
                    body.chars().take(SHOWN).collect::<String>(),
                    if cut {
                        format!(
                            " … ({} bytes in all: `lops invoke` prints it whole)",
                            inv.payload.len()
                        )
                    } else {
                        String::new()
                    }
                ));
                // Why it failed is in its log tail, as `lops invoke` prints it.
                if let (Some(_), Some(tail)) = (&inv.function_error, &inv.log_tail) {
                    let tail: Vec<&str> = tail.lines().filter(|l| !l.trim().is_empty()).collect();
                    // A tail with nothing in it is not announced (an empty "log tail:" line).
                    if !tail.is_empty() {
                        lines.push("log tail:".into());
                    }
                    lines.extend(
                        tail[tail.len().saturating_sub(8)..]
                            .iter()
                            .map(|l| crate::format::printable(l, false).replace('\t', " ")),
                    );
                }
                lines.join("\n")
            }
            // A service's state names the service itself.
            None if dns => format!("done: {}", crate::ops::plan::describe_state(&outcome.after)),
            None => format!(
                "done: {target}{scope} is now {}",
                crate::ops::plan::describe_state(&outcome.after)
            ),
        },
    };
    // Quitting asked while it was written: lops quits if nothing else runs, else shows it.
    super::quit::show_result(state, text);
    effects.push(Effect::RefreshInventory);
    // A trigger may have changed: the detail view reads them again.
    if let Some(pane) = state.trigger_pane.as_mut() {
        pane.reload = true;
    }
}
