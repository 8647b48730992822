//! `lops audit`, `lops undo` and `lops iam-policy`: what was done, reverting it, and the least
//! privilege each tier needs.

use std::io::Write;

use unicode_width::UnicodeWidthStr;

use super::GlobalArgs;
use super::act::{Repeat, run_batch};
use super::common::{ActFlags, early_check};
use crate::exit::{Exit, Failure};
use crate::ops::Kind;
use crate::ops::audit::AuditLog;

/// The audit log of actions taken, oldest first; `--regions` and `--profile` narrow it to
/// those scopes (without them: every record, whatever the config's regions).
#[derive(clap::Args, Debug)]
pub struct AuditArgs {
    /// One JSON document on stdout: the records, oldest first.
    #[arg(long)]
    pub json: bool,
    /// Only what was done to these functions (a,b): their aliases, reservations, invokes and
    /// restores, and the triggers that invoke them.
    #[arg(long = "fn", value_parser = super::common::since_arg)]
    pub function: Option<String>,
    /// Only what was done since then: 30m, 2h, 1d, or a time such as 2026-11-25T10:00:00Z.
    #[arg(long, allow_hyphen_values = true, value_parser = super::common::since_arg)]
    pub since: Option<String>,
}

pub async fn audit(global: &GlobalArgs, args: AuditArgs) -> Result<Exit, Failure> {
    let json_out = args.json;
    // Checked before the log is read: a typo says so whatever the log holds.
    let functions = match &args.function {
        Some(list) => super::common::functions(list)?,
        None => Vec::new(),
    };
    let since = match &args.since {
        Some(text) => Some(
            crate::loglines::parse_since(text, chrono::Utc::now())
                .map_err(|e| Failure::usage(format!("--since: {e}")))?,
        ),
        None => None,
    };
    let log = AuditLog::default_location()
        .ok_or_else(|| Failure::usage("no state directory: set XDG_STATE_HOME or HOME"))?;
    let (mut records, bad) = log
        .read()
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", log.path().display())))?;
    // --regions and --profile narrow the log to those scopes (as they narrow every command);
    // a region name that cannot be, or a config that does not read, is refused as everywhere
    // else (a bad config said by `audit` too, not first by the next command that acts).
    let (settings, _) = crate::session::settings(&global.flags())?;
    let kept: Vec<&str> = records.iter().map(|r| r.profile.as_str()).collect();
    crate::session::check_named_profiles(&global.profiles, &kept, &settings).await?;
    let (profiles_seen, regions_seen) = crate::ops::batch::scopes_of(&records);
    let before = records.len();
    if let Some(regions) = &global.regions {
        // A service change (Route 53) is found under the regions it moved too, not only the
        // region its call went through (`service weights` over several is recorded in one).
        records.retain(|r| {
            let moved = match is_dns(r) {
                // What it moved, or was to move when it did not land.
                true => crate::ops::service::regions_changed(
                    &r.before,
                    r.asked.as_ref().unwrap_or(&r.after),
                ),
                false => Vec::new(),
            };
            regions
                .iter()
                .any(|g| g.trim() == r.region || moved.iter().any(|m| m == g.trim()))
        });
    }
    if !global.profiles.is_empty() {
        records.retain(|r| global.profiles.iter().any(|p| p.trim() == r.profile));
    }
    if !functions.is_empty() {
        records.retain(|r| functions.iter().any(|f| names_function(r, f)));
    }
    if let Some(since) = since {
        // A record whose time cannot be read is kept: a filter never hides what it cannot tell.
        records
            .retain(|r| chrono::DateTime::parse_from_rfc3339(&r.time).map_or(true, |t| t >= since));
    }
    if records.is_empty() && before > 0 {
        // A filter that matches nothing is said as such, not as an empty log.
        let mut named = Vec::new();
        if let Some(f) = &args.function {
            named.push(format!("--fn {f}"));
        }
        if let Some(s) = &args.since {
            named.push(format!("--since {s}"));
        }
        let also = match named.is_empty() {
            true => String::new(),
            false => format!(" ({})", named.join(", ")),
        };
        err!(
            "lops: none of the {before} record(s) matches the filter{also}; the log has regions \
             {regions_seen} and profiles {profiles_seen}"
        );
    }
    let mut out = super::stdout();
    if json_out {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&records).unwrap_or_default()
        );
    } else if records.is_empty() && before == 0 {
        let _ = writeln!(out, "no actions recorded in {}", log.path().display());
    } else {
        let width = super::status_table::table_width();
        for r in &records {
            // A service change happened in Route 53 and moved the regions it names, not in
            // the home region its call went through.
            let dns = is_dns(r);
            let (place, target) = if dns {
                // What it moved, or — not sent, or failed — what it was to move (its `after`
                // then is the state found, someone else's change).
                let moved = crate::ops::service::regions_changed(
                    &r.before,
                    r.asked.as_ref().unwrap_or(&r.after),
                );
                let target = match moved.is_empty() {
                    true => r.target.clone(),
                    false => format!("{} ({})", r.target, moved.join(",")),
                };
                (format!("{}/route53", r.profile), target)
            } else {
                (format!("{}/{}", r.profile, r.region), r.target.clone())
            };
            let what = format!("{}  {:<16} {:<24} {:<28}", r.time, r.action, place, target);
            let outcome = format!(
                "{}{}  {}{}",
                result_label(&r.result),
                if r.destructive { " (destructive)" } else { "" },
                r.who,
                // One target of a batch: confirmed, listed and undone with the others.
                r.batch
                    .as_ref()
                    .map(|b| format!("  batch {b}"))
                    .unwrap_or_default()
            );
            // Narrower than the line (80 columns): what and where, then how it ended and who,
            // each on its own line, never wrapped mid-word by the terminal.
            let fits = width.is_none_or(|w| what.width() + 1 + outcome.width() <= w);
            let _ = match fits {
                true => writeln!(out, "{what} {outcome}"),
                false => writeln!(
                    out,
                    "{}  {} {} {}\n    {outcome}",
                    r.time, r.action, place, target
                ),
            };
            // What it changed, or was to change, in words (an alias's routing, a trigger, a
            // reservation, a service's weights).
            if let Some(change) = change_line(r) {
                let _ = writeln!(out, "    {}", crate::format::printable(&change, false));
            }
            // Why a change no key asked for was made (a rollout's step, rollback or abort).
            if let Some(reason) = &r.reason {
                let _ = writeln!(out, "    {}", crate::format::printable(reason, false));
            }
        }
    }
    if bad > 0 {
        err!(
            "lops: {bad} unreadable line(s) in {} were skipped",
            log.path().display()
        );
    }
    Ok(Exit::Done)
}

/// A record's change in words: `before → after` when it landed (or may have: started, outcome
/// unknown); the state it left and what it was to make when it did not; the state found when
/// its target had changed since the preview. `None` for what has no such state (an invoke, a
/// backup, a restore: their JSON is in `--json`).
/// A record's outcome in a word or two.
fn result_label(result: &str) -> &'static str {
    use crate::ops::audit::{CONFLICT, FUNCTION_ERROR, NOT_LANDED, NOT_RUN, STARTED, UNKNOWN};
    let stopped = result.contains("stopped by Ctrl-C");
    match result {
        "ok" => "ok",
        STARTED => "started",
        r if r.starts_with(UNKNOWN) => "outcome unknown",
        r if r.starts_with(NOT_LANDED) => "not landed",
        r if r.starts_with(CONFLICT) => "not sent (changed)",
        r if r.starts_with(FUNCTION_ERROR) => "function error",
        r if r.starts_with(NOT_RUN) => "refused by Lambda",
        // Stopped on purpose, then putting it back failed: half-restored, a failure.
        r if stopped && r.contains("putting it back failed") => "FAILED",
        // Stopped once the function was restored: its data not all copied back (run again).
        r if stopped && r.contains("was restored") => "stopped (Ctrl-C), data not all copied",
        _ if stopped => "stopped (Ctrl-C), undone",
        // Refused at the write (a lock another lops held, a guard): nothing sent.
        r if r.starts_with("refused") => "refused",
        _ => "FAILED",
    }
}

fn change_line(r: &crate::ops::audit::Record) -> Option<String> {
    use crate::ops::audit::{CONFLICT, FUNCTION_ERROR, STARTED, UNKNOWN};
    use crate::ops::plan::describe_known as known;
    // Started with no result, or sent with no answer: its `after` is what was asked, never
    // read back.
    let maybe = r.result == STARTED || r.result.starts_with(UNKNOWN);
    let landed = maybe || r.result == "ok" || r.result.starts_with(FUNCTION_ERROR);
    let tail = match maybe {
        true => " (may not have landed)",
        false => "",
    };
    // A service's weights: each region's weight and share, as its preview said them.
    if is_dns(r) && r.before.get("weights").is_some() {
        let change = |to| crate::ops::service::describe_change(&r.before, to);
        return match (landed, &r.asked) {
            (true, _) => Some(format!("{}{tail}", change(&r.after))),
            (false, Some(asked)) => Some(format!("not made: {}", change(asked))),
            (false, None) => None,
        };
    }
    let before = known(&r.before)?;
    let after = known(&r.after);
    let asked = r.asked.as_ref().and_then(known);
    Some(match (landed, after, asked) {
        (true, Some(after), _) if after == before => format!("{before} (unchanged)"),
        (true, Some(after), _) => format!("{before} → {after}{tail}"),
        (true, None, _) => before,
        // Someone else's change since the preview: found so, left so.
        (false, Some(found), asked) if r.result.starts_with(CONFLICT) && found != before => {
            format!(
                "previewed {before}, found {found}{}",
                asked
                    .map(|a| format!(" (asked {a}: not sent)"))
                    .unwrap_or_default()
            )
        }
        // Changed in what the words do not say (a rule's targets): named by what differs.
        (false, _, asked) if r.result.starts_with(CONFLICT) && r.after != r.before => {
            let differs: Vec<&str> = ["targets", "connects", "function_version", "weights"]
                .into_iter()
                .filter(|k| r.before.get(*k) != r.after.get(*k))
                .collect();
            format!(
                "previewed {before}, found its {} changed{}",
                if differs.is_empty() {
                    "state".to_string()
                } else {
                    differs.join(", ")
                },
                asked
                    .map(|a| format!(" (asked {a}: not sent)"))
                    .unwrap_or_default()
            )
        }
        (false, _, Some(asked)) => format!("{before}, left as it was (asked {asked})"),
        (false, _, None) => format!("{before}, left as it was"),
    })
}

/// Whether `r` was done to function `f`: its alias, reservation, invoke or restore (the target
/// is the function, or `function:alias`), or a trigger that invokes it (a rule's targets, a
/// mapping's ends).
fn names_function(r: &crate::ops::audit::Record, f: &str) -> bool {
    if r.target == f || r.target.starts_with(&format!("{f}:")) {
        return true;
    }
    // A trigger whose ends were not read (its targets unread, a mapping's ends unknown) may
    // invoke it: kept, as a filter never hides what it cannot tell.
    let trigger = r.target.starts_with("rule/") || r.target.starts_with("mapping/");
    let states = [Some(&r.before), Some(&r.after), r.asked.as_ref()];
    match crate::ops::trigger_plan::invokes(states.into_iter().flatten(), f) {
        Some(yes) => yes,
        None => trigger,
    }
}

/// A service change (or its undo): it happened in Route 53, and moved the regions it names.
fn is_dns(r: &crate::ops::audit::Record) -> bool {
    r.action.starts_with("service.") || (r.action == "undo" && r.before.get("service").is_some())
}

pub async fn undo(global: &GlobalArgs, flags: ActFlags) -> Result<Exit, Failure> {
    // The tier that counts is that of the scopes the undo acts in (the records'), checked
    // below once they are known; --read-only / --mode still apply there.
    let log = AuditLog::default_location()
        .ok_or_else(|| Failure::usage("no state directory: set XDG_STATE_HOME or HOME"))?;
    let (all, _) = log
        .read()
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", log.path().display())))?;
    // Only what was done under the profiles this session reads, in the regions named if any.
    let (settings, _) = crate::session::settings(&global.flags())?;
    // A mistyped profile is said as one (exit 2), not as nothing done under it.
    crate::session::check_profiles_known(&settings).await?;
    let profiles = crate::session::profiles(&settings);
    // Not narrowed on purpose (no --profile, no --regions): the last action anywhere is what
    // `undo` means (the core decides, as for the dashboard's `u`).
    let named = !global.profiles.is_empty() || global.regions.is_some();
    let targets = crate::ops::batch::choose(&all, &profiles, global.regions.as_deref(), !named)
        .map_err(|n| match n.refused {
            true => Failure::refused(n.message),
            false => Failure::usage(n.message),
        })?;
    let records = targets;
    // Every scope the batch touched, and each record to the region that holds it.
    let mut global = global.clone();
    let mut regions: Vec<String> = records.iter().map(|r| r.region.clone()).collect();
    // The profiles named keep theirs too: one of the same account as the record's names the
    // same function, and its rules (a read tier, production) hold for the undo as for any
    // change through `--profile a,b`.
    let mut profiles: Vec<String> = records.iter().map(|r| r.profile.clone()).collect();
    profiles.extend(global.profiles.iter().cloned());
    regions.sort();
    regions.dedup();
    profiles.sort();
    profiles.dedup();
    global.regions = Some(regions);
    global.profiles = profiles;
    early_check(&global, Kind::Undo)?;
    let ctx = crate::session::Session::connect(&global.flags()).await?;
    let scopes: Vec<&crate::provider::Scope> = ctx
        .regions
        .iter()
        .map(crate::provider::RegionSource::scope)
        .collect();
    let fleet = scopes.len();
    let targets =
        crate::ops::batch::targets_for(records, &scopes, fleet, &ctx.settings.services, &|_| {
            "that profile and region could not be reached in this session".into()
        });
    run_batch(&ctx, &flags, Repeat::Refused, targets).await
}

/// The policy for the widest tier any scope of the session has (`--mode` chooses it directly).
pub fn iam_policy(global: &GlobalArgs) -> Result<Exit, Failure> {
    let (settings, _) = crate::session::settings(&global.flags())?;
    let policy = crate::ops::policy::policy(crate::session::widest_tier(&settings));
    out!(
        "{}",
        serde_json::to_string_pretty(&policy).unwrap_or_default()
    );
    Ok(Exit::Done)
}

#[cfg(test)]
mod tests {
    use super::{change_line, result_label};
    use crate::ops::audit::{CONFLICT, Record};
    use serde_json::json;

    fn set(result: &str) -> Record {
        Record {
            id: "a1".into(),
            time: "2026-11-28T10:00:00Z".into(),
            who: "arn:aws:iam::123456789012:user/oncall".into(),
            profile: "prod".into(),
            region: "us-east-1".into(),
            action: "traffic.set".into(),
            target: "orders:live".into(),
            before: json!({"function_version": "1", "weights": {}}),
            after: json!({"function_version": "1", "weights": {"2": 0.1}}),
            result: result.into(),
            undoes: None,
            reason: None,
            asked: None,
            ended: None,
            payload_sha256: None,
            batch: None,
            destructive: false,
            typed: false,
        }
    }

    #[test]
    fn a_landed_change_reads_before_and_after() {
        assert_eq!(
            change_line(&set("ok")).as_deref(),
            Some("v1 100% → v1 90% / v2 10%")
        );
        // No answer came: what was asked, not what was read.
        let unknown = set(&format!("{}timed out", crate::ops::audit::UNKNOWN));
        assert_eq!(
            change_line(&unknown).as_deref(),
            Some("v1 100% → v1 90% / v2 10% (may not have landed)")
        );
        let mut kill = set("ok");
        kill.before = json!({"reserved": null});
        kill.after = json!({"reserved": 0});
        assert_eq!(
            change_line(&kill).as_deref(),
            Some("no reserved concurrency → reserved concurrency 0")
        );
    }

    #[test]
    fn a_change_that_did_not_land_says_what_it_left_and_what_was_asked() {
        let mut failed = set("AccessDenied: not allowed");
        failed.asked = Some(failed.after.clone());
        failed.after = failed.before.clone();
        assert_eq!(
            change_line(&failed).as_deref(),
            Some("v1 100%, left as it was (asked v1 90% / v2 10%)")
        );
        // Changed since the preview: the state found (someone else's) beside the preview's.
        let mut changed = set(&format!("{CONFLICT}orders:live changed since the preview"));
        changed.asked = Some(changed.after.clone());
        changed.after = json!({"function_version": "1", "weights": {"2": 0.4}});
        assert_eq!(
            change_line(&changed).as_deref(),
            Some("previewed v1 100%, found v1 60% / v2 40% (asked v1 90% / v2 10%: not sent)")
        );
    }

    #[test]
    fn a_function_is_found_by_its_target_and_by_the_triggers_that_invoke_it() {
        use super::names_function;
        let alias = set("ok");
        assert!(names_function(&alias, "orders"));
        // A prefix of another name is not that name.
        assert!(!names_function(&alias, "order"));
        let mut rule = set("ok");
        rule.target = "rule/nightly".into();
        rule.after = json!({"kind": "rule", "enabled": false,
            "targets": ["arn:aws:lambda:us-east-1:123456789012:function:orders:live"]});
        assert!(names_function(&rule, "orders"));
        assert!(!names_function(&rule, "nightly"));
        let mut mapping = set("ok");
        mapping.target = "mapping/4f1c".into();
        mapping.after = json!({"kind": "mapping", "enabled": false, "connects": "jobs → billing"});
        assert!(names_function(&mapping, "billing"));
        assert!(!names_function(&mapping, "jobs"));
        // A mapping to an alias.
        mapping.after["connects"] = json!("jobs → billing:live");
        assert!(names_function(&mapping, "billing"));
        assert!(!names_function(&mapping, "bill"));
        // Ends not read (a rule's targets unread): it may invoke it, so it stays.
        let mut unread = set("ok");
        unread.target = "rule/nightly".into();
        unread.before = json!({"kind": "rule", "enabled": true});
        unread.after = json!({"kind": "rule", "enabled": false, "invokes_unread": "denied"});
        assert!(names_function(&unread, "orders"));
    }

    /// A rule whose targets changed since the preview: the words for a rule are the same, so
    /// what changed is named (not "left as it was").
    #[test]
    fn a_conflict_in_what_the_words_do_not_say_names_it() {
        let mut rule = set(&format!("{CONFLICT}rule/nightly changed since the preview"));
        rule.target = "rule/nightly".into();
        rule.before = json!({"kind": "rule", "enabled": true, "targets": ["arn:a"]});
        rule.asked = Some(json!({"kind": "rule", "enabled": false, "targets": ["arn:a"]}));
        rule.after = json!({"kind": "rule", "enabled": true, "targets": ["arn:a", "arn:b"]});
        let line = change_line(&rule).unwrap_or_default();
        assert!(line.contains("found its targets changed"), "{line}");
        assert!(line.ends_with(": not sent)"), "{line}");
    }

    #[test]
    fn what_has_no_state_in_words_has_no_line() {
        let mut invoke = set("ok");
        invoke.action = "invoke".into();
        invoke.before = json!({"runs": "orders:live", "version": "2"});
        invoke.after = json!({"status": 200});
        assert_eq!(change_line(&invoke), None);
    }

    /// A restore stopped by Ctrl-C ends one of three ways, each said as what it left: put back,
    /// restored with its data not all copied, or half-restored (the undo failed too: FAILED).
    #[test]
    fn a_stopped_restore_is_labelled_by_what_it_left() {
        let undone = "restore of f failed (stopped by Ctrl-C before: update code); every change \
                      was undone: the target is as it was";
        let half = "restore of f failed (stopped by Ctrl-C before: update code), and putting it \
                    back failed too (throttled): restore the safety snapshot printed above";
        let data = "stopped by Ctrl-C while copying data back: the function was restored and 1 \
                    of 3 objects copied back; run the restore again to copy the rest";
        let before_data = "stopped by Ctrl-C after f was restored, before its data was copied \
                           back: run the restore again to copy the data";
        assert_eq!(result_label(undone), "stopped (Ctrl-C), undone");
        assert_eq!(result_label(half), "FAILED");
        assert_eq!(result_label(data), "stopped (Ctrl-C), data not all copied");
        assert_eq!(
            result_label(before_data),
            "stopped (Ctrl-C), data not all copied"
        );
        assert_eq!(result_label("ok"), "ok");
        assert_eq!(result_label("refused: held by another lops"), "refused");
    }
}
