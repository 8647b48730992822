//! `lops audit`, `lops undo` and `lops iam-policy`: what was done, reverting it, and the least
//! privilege each tier needs.

use std::io::Write;

use super::GlobalArgs;
use super::act::run;
use super::common::{ActFlags, early_check};
use crate::exit::{Exit, Failure};
use crate::ops::audit::AuditLog;
use crate::ops::{Kind, Request};

pub async fn audit(json_out: bool) -> Result<Exit, Failure> {
    let log = AuditLog::default_location()
        .ok_or_else(|| Failure::usage("no state directory: set XDG_STATE_HOME or HOME"))?;
    let (records, bad) = log
        .read()
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", log.path().display())))?;
    let mut out = std::io::stdout().lock();
    if json_out {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&records).unwrap_or_default()
        );
    } else if records.is_empty() {
        let _ = writeln!(out, "no actions recorded in {}", log.path().display());
    } else {
        for r in &records {
            let _ = writeln!(
                out,
                "{}  {:<16} {:<14} {:<28} {}  {}",
                r.time,
                r.action,
                r.region,
                r.target,
                if r.result == "ok" { "ok" } else { "FAILED" },
                r.who
            );
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

pub async fn undo(global: &GlobalArgs, flags: ActFlags) -> Result<Exit, Failure> {
    early_check(global, Kind::Undo)?;
    let log = AuditLog::default_location()
        .ok_or_else(|| Failure::usage("no state directory: set XDG_STATE_HOME or HOME"))?;
    let (records, _) = log
        .read()
        .map_err(|e| Failure::failed(format!("cannot read {}: {e}", log.path().display())))?;
    let undone: Vec<&str> = records.iter().filter_map(|r| r.undoes.as_deref()).collect();
    let last = records
        .iter()
        .rev()
        .find(|r| {
            r.result == "ok"
                && r.undoes.is_none()
                && crate::ops::undo::UNDOABLE.contains(&r.action.as_str())
                && !undone.contains(&r.id.as_str())
        })
        .cloned()
        .ok_or_else(|| Failure::usage("nothing to undo: no reversible action is recorded"))?;
    let mut global = global.clone();
    global.regions = Some(vec![last.region.clone()]);
    global.profiles = vec![last.profile.clone()];
    run(&global, &flags, |_| Request::Undo {
        record: Box::new(last.clone()),
    })
    .await
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
