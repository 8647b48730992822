//! `lops logs --follow`: after the first read, each region followed (Live Tail, or polling),
//! each event printed once, and what was never read named at the end.

use super::{LogsArgs, merge, not_read, print_lines};
use crate::exit::{Exit, Failure};
use crate::provider::RegionSource;
use crate::session::Session;

/// Follows every function in every region until Ctrl-C: CloudWatch Logs Live Tail where it is
/// served, polling where it is not (`runtime::tail`, shared with the dashboard's log pane).
/// Each event is printed once, in time order per batch; what a region says about its sessions
/// (sampling, falling back to polling, a failure streak) is said once on stderr.
pub(super) async fn follow(
    ctx: &Session,
    args: &LogsArgs,
    first: Vec<crate::loglines::LogLine>,
    // What --since asked for, and where the first read ended.
    (asked_ms, read_until_ms): (i64, i64),
    // Scopes whose last word was a failure: the follow ends partial (3) while any is.
    mut failing: std::collections::HashSet<String>,
    // (scope, function) whose window the first read did not bring (it failed, or had not
    // answered): the follow ends partial (3) until a read brings it, and names it.
    mut owed: std::collections::HashSet<(String, String)>,
    // "scope error" of the failures the first read said.
    said_failures: Vec<String>,
) -> Result<Exit, Failure> {
    use crate::loglines::Source;
    use crate::runtime::tail::{self, Update};
    use std::collections::{HashMap, HashSet};
    // From where the first read ended (it may have taken a while): nothing written meanwhile
    // is skipped. A scope whose first read failed reads the whole window --since asked, once
    // it answers: its history is not lost to an outage at the start.
    let first_failed = &failing.clone();
    let mut seen = crate::loglines::Seen::new(50_000);
    seen.admit(first, Source::Read);
    let functions: Vec<String> = args
        .functions
        .iter()
        .map(|f| f.trim().to_string())
        .collect();
    let (tx, mut rx) = tokio::sync::mpsc::channel::<(String, Update)>(256);
    let follows: Vec<_> = ctx
        .regions
        .iter()
        .map(|region| {
            let (functions, filter, tx) = (functions.clone(), args.filter.clone(), tx.clone());
            async move {
                let scope = region.scope().to_string();
                let since_ms = if first_failed.contains(&scope) {
                    asked_ms
                } else {
                    read_until_ms
                };
                let (utx, mut urx) = tokio::sync::mpsc::channel::<Update>(64);
                let run = tail::follow(region, functions, filter, since_ms, utx);
                let relay = async {
                    while let Some(u) = urx.recv().await {
                        if tx.send((scope.clone(), u)).await.is_err() {
                            break;
                        }
                    }
                };
                futures::future::join(run, relay).await;
            }
        })
        .collect();
    drop(tx);
    let all = futures::future::join_all(follows);
    tokio::pin!(all);
    // One listener for the whole follow (Ctrl-C, SIGTERM, a dropped link): a new one per
    // event would miss a signal that came while an event was printed.
    let ctrl_c = crate::runtime::stop_requested(true);
    tokio::pin!(ctrl_c);
    let mut said: HashSet<String> = HashSet::new();
    // Functions polled because Live Tail was refused, per scope: said when it comes back.
    let mut fallen_back: Vec<(String, Vec<String>)> = Vec::new();
    // A failure is said once, and again only if it still happens minutes later: a session
    // that keeps failing is reopened every 30 s and must not fill the screen.
    let mut failures: HashMap<String, std::time::Instant> = said_failures
        .into_iter()
        .map(|key| (key, std::time::Instant::now()))
        .collect();
    const SAY_AGAIN: std::time::Duration = std::time::Duration::from_secs(300);
    // `owed` is settled only by a read (a session streaming since is not it); functions with
    // no log group yet: the follow ends partial (3) while any is, each named (and a
    // `not_read` record with --json).
    let mut missing: HashSet<(String, String)> = HashSet::new();
    let since = chrono::DateTime::from_timestamp_millis(asked_ms).unwrap_or_default();
    let json = args.json;
    let ended = |failing: &HashSet<String>,
                 owed: &HashSet<(String, String)>,
                 missing: &HashSet<(String, String)>| {
        let mut owed: Vec<&(String, String)> = owed.iter().collect();
        owed.sort();
        for (scope, function) in &owed {
            let why = format!(
                "its logs since {} were never read",
                since.format("%Y-%m-%dT%H:%M:%SZ")
            );
            err!("lops: {scope}: {function}: {why}");
            not_read(json, scope, Some(function), &why);
        }
        Ok(
            if failing.is_empty() && missing.is_empty() && owed.is_empty() {
                Exit::Done
            } else {
                Exit::Partial
            },
        )
    };
    loop {
        let (scope, update) = tokio::select! {
            _ = &mut ctrl_c => return ended(&failing, &owed, &missing),
            _ = &mut all => return ended(&failing, &owed, &missing),
            next = rx.recv() => match next {
                Some(u) => u,
                None => return ended(&failing, &owed, &missing),
            },
        };
        let settled = |owed: &HashSet<(String, String)>| !owed.iter().any(|(s, _)| *s == scope);
        match &update {
            Update::Failed(_) | Update::Reconnecting(_) => {
                failing.insert(scope.clone());
            }
            // Streaming again: no longer failing — save a window never read, which only a
            // read settles.
            Update::Lines(lines, _) => {
                if settled(&owed) {
                    failing.remove(&scope);
                }
                for l in lines {
                    missing.remove(&(scope.clone(), l.function.clone()));
                }
            }
            Update::Live(live) => {
                if settled(&owed) {
                    failing.remove(&scope);
                }
                missing.retain(|(s, f)| *s != scope || !live.contains(f));
            }
            // Read whole for these: what was owed them is read, and their group is there.
            Update::Read(read) => {
                owed.retain(|(s, f)| *s != scope || !read.contains(f));
                missing.retain(|(s, f)| *s != scope || !read.contains(f));
                if settled(&owed) {
                    failing.remove(&scope);
                }
            }
            Update::NoLogGroup(functions) => {
                missing.extend(functions.iter().map(|f| (scope.clone(), f.clone())));
            }
            _ => {}
        }
        match update {
            Update::Lines(mut lines, source) => {
                // A session may hand over older events (some endpoints replay the group):
                // nothing from before what --since asked.
                lines.retain(|l| l.time.timestamp_millis() >= asked_ms);
                let fresh = seen.admit(merge(lines), source);
                let printed = print_lines(&fresh, args.json);
                if crate::cli::reader_gone(&printed) {
                    return ended(&failing, &owed, &missing);
                }
                crate::cli::written(printed)?;
            }
            Update::Live(live) => {
                let back = fallen_back
                    .iter()
                    .position(|(s, fs)| *s == scope && fs.iter().any(|f| live.contains(f)));
                if let Some(i) = back {
                    fallen_back.remove(i);
                    err!("lops: {scope}: Live Tail again: events stream as they are written");
                }
            }
            Update::Sampled => {
                if said.insert(format!("{scope} sampled")) {
                    err!(
                        "lops: {scope}: Live Tail is sampling: not every event is shown (narrow it with --filter)"
                    );
                }
            }
            Update::Polling { functions, why } => {
                let beyond_sessions = why.starts_with("more than");
                let first_time = if beyond_sessions {
                    said.insert(format!("{scope} polling {why}"))
                } else {
                    // Said once per fallback: again if Live Tail came back in between.
                    let known = fallen_back
                        .iter()
                        .any(|(s, fs)| *s == scope && fs.iter().any(|f| functions.contains(f)));
                    if !known {
                        fallen_back.push((scope.clone(), functions.clone()));
                    }
                    !known
                };
                if first_time && beyond_sessions {
                    // Beyond Live Tail's sessions: the rest is polled, the others are live.
                    err!(
                        "lops: {scope}: {why}: {} functions polled every {} s ({}…)",
                        functions.len(),
                        tail::POLL_EVERY.as_secs(),
                        functions.first().cloned().unwrap_or_default()
                    );
                } else if first_time {
                    // A refusal may pass; an endpoint without the operation will not have it.
                    let again = if why.starts_with("not supported") {
                        ""
                    } else {
                        ", asking for it again in 15 minutes"
                    };
                    err!(
                        "lops: {scope}: Live Tail is not available ({why}): polling every {} s instead{again}",
                        tail::POLL_EVERY.as_secs()
                    );
                }
            }
            Update::Read(_) => {}
            Update::NoLogGroup(functions) => {
                let new: Vec<String> = functions
                    .into_iter()
                    .filter(|f| said.insert(format!("{scope} no group {f}")))
                    .collect();
                if !new.is_empty() {
                    err!(
                        "lops: {scope}: no log group yet for {} (not invoked yet, or deleted): looking again every minute",
                        new.join(", ")
                    );
                }
                for f in &new {
                    let why = "no log group yet (not invoked yet, or deleted): looking again every minute";
                    not_read(args.json, &scope, Some(f), why);
                }
            }
            Update::Failed(e) | Update::Reconnecting(e) => {
                let key = format!("{scope} {e}");
                let due = failures
                    .get(&key)
                    .is_none_or(|at| at.elapsed() >= SAY_AGAIN);
                if due {
                    failures.insert(key, std::time::Instant::now());
                    err!("lops: {scope}: {e} (still trying)");
                    not_read(args.json, &scope, None, &format!("{e} (still trying)"));
                }
            }
        }
    }
}
