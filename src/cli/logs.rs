//! `lops logs`: the logs of several functions in several regions, merged in time order.

use std::io::Write;

use clap::Args;

use super::GlobalArgs;
use crate::exit::{Exit, Failure};
use crate::format;
use crate::loglines::{merge, parse_since, stats};
use crate::provider::{ProviderError, RegionSource};
use crate::session::Session;

#[path = "logs_follow.rs"]
mod following;
use following::follow;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Functions, comma separated.
    #[arg(value_delimiter = ',', required = true)]
    pub functions: Vec<String>,
    /// How far back: 90s, 15m, 1h, 2d, or an RFC 3339 time.
    #[arg(long, default_value = "15m", allow_hyphen_values = true, value_parser = super::common::since_arg)]
    pub since: String,
    /// A CloudWatch Logs filter pattern.
    #[arg(long)]
    pub filter: Option<String>,
    /// One JSON object per event (ndjson), then one per function with its cold-start stats.
    #[arg(long)]
    pub json: bool,
    /// On exit, print to stderr the AWS calls made, per service and operation (what following
    /// cost).
    #[arg(long)]
    pub stats: bool,
    /// Keep following new events until Ctrl-C: CloudWatch Logs Live Tail where it is served,
    /// else polling every 2 s.
    #[arg(long)]
    pub follow: bool,
}

pub async fn run(global: &GlobalArgs, args: LogsArgs) -> Result<Exit, Failure> {
    let now = chrono::Utc::now();
    let since =
        parse_since(&args.since, now).map_err(|e| Failure::usage(format!("--since: {e}")))?;
    if args.functions.iter().any(|f| f.trim().is_empty()) {
        return Err(Failure::usage(
            if args.functions.iter().any(|f| !f.trim().is_empty()) {
                "an empty function name in the list (a stray comma?): lops logs FN[,FN2] --region R"
            } else {
                "name the functions: lops logs FN[,FN2] --region R"
            },
        ));
    }
    for f in &args.functions {
        crate::ops::request::check_function(f.trim())?;
    }
    let ctx = Session::connect(&global.flags()).await?;
    let mut lines = Vec::new();
    let mut failures: Vec<ProviderError> = Vec::new();
    let mut reads = Vec::new();
    let filter = args.filter.as_deref();
    for region in &ctx.regions {
        for f in &args.functions {
            let index = reads.len();
            reads.push(async move {
                (
                    index,
                    (
                        region.scope().clone(),
                        f.trim(),
                        region
                            .read_log_events(
                                f.trim(),
                                since.timestamp_millis(),
                                now.timestamp_millis(),
                                filter,
                            )
                            .await,
                    ),
                )
            });
        }
    }
    let mut failing = std::collections::HashSet::new();
    // Each read that failed, for `--json`'s stdout once it is known that some answered (when
    // none did, the error document says so).
    let mut unread: Vec<(String, &str, String)> = Vec::new();
    // What was said already: following says it again only if it still fails minutes later.
    let mut said_failures = Vec::new();
    let scopes: Vec<String> = reads_scopes(&ctx, args.functions.len());
    let (results, waiting, stopped) = first_reads(reads, args.follow).await;
    // Stopped before anything answered: a failure (1, as `status` when no region answered),
    // each region named. With some answered, what they gave is printed below (3).
    if stopped && results.is_empty() {
        let mut names: Vec<&String> = waiting.iter().map(|i| &scopes[*i]).collect();
        names.dedup();
        let names: Vec<&str> = names.iter().map(|s| s.as_str()).collect();
        return Err(Failure::failed(format!(
            "stopped before the first read answered ({} had not answered): nothing printed",
            names.join(", ")
        )));
    }
    // Following, a region still waiting is not what holds the others back: it is followed
    // from --since once it answers (its history not lost), said now.
    // (scope, function) whose window the first read did not bring: following owes them it.
    let functions_of = |i: usize| args.functions[i % args.functions.len().max(1)].trim();
    let mut owed: std::collections::HashSet<(String, String)> = waiting
        .iter()
        .map(|i| (scopes[*i].clone(), functions_of(*i).to_string()))
        .collect();
    let waiting: std::collections::BTreeSet<&String> =
        waiting.iter().map(|i| &scopes[*i]).collect();
    for scope in &waiting {
        if !stopped {
            err!(
                "lops: {scope}: no answer yet; its logs since {} are shown once it answers",
                since.format("%Y-%m-%dT%H:%M:%SZ")
            );
        }
        failing.insert(scope.to_string());
    }
    for (scope, function, result) in results {
        match result {
            Ok(found) => lines.extend(found),
            // Following names a missing group itself, once, and looks for it every minute.
            Err(ProviderError::NotFound(_)) if args.follow => {}
            // A refused filter is said once below, not once per function and region.
            Err(e @ ProviderError::Invalid(_)) if !crate::provider::no_credentials(&e) => {
                failures.push(e)
            }
            Err(e) => {
                // Which function's read, and the setting that would help (a timeout, a
                // throttle).
                err!(
                    "lops: {scope}: {function}'s logs not read: {e}{}",
                    crate::provider::hint(&e)
                );
                unread.push((scope.to_string(), function, crate::provider::with_hint(&e)));
                owed.insert((scope.to_string(), function.to_string()));
                failing.insert(scope.to_string());
                said_failures.push(format!("{scope} {}", crate::provider::with_hint(&e)));
                failures.push(e);
            }
        }
    }
    let total = ctx.regions.len() * args.functions.len();
    // A refused filter is the same everywhere: said once, exit 2, never followed.
    if let Some(ProviderError::Invalid(why)) = failures
        .iter()
        .find(|e| matches!(e, ProviderError::Invalid(_)) && !crate::provider::no_credentials(e))
    {
        return Err(Failure::usage(format!("--filter: {why}")));
    }
    // Nothing read anywhere: the command failed (with --json, its error document). Bad input
    // (no such log group, refused credentials) only when every read says so; whatever the
    // order of the profiles and regions, the same code and the failure named first.
    if !failures.is_empty() && failures.len() == total {
        let usage = |e: &ProviderError| {
            matches!(
                e,
                ProviderError::NotFound(_) | ProviderError::Credentials(_)
            ) || crate::provider::no_credentials(e)
        };
        let exit = if failures.iter().all(usage) {
            Exit::Usage
        } else {
            Exit::Failure
        };
        let first = failures.iter().find(|e| !usage(e)).unwrap_or(&failures[0]);
        // Following reads again while it runs: a Logs outage at the start (not bad input) is
        // waited out, as the dashboard's pane does, each failure said above.
        if args.follow && exit == Exit::Failure {
            err!(
                "lops: no logs read yet; following goes on and reads the window again once Logs answers (Ctrl-C stops)"
            );
        } else {
            if args.stats {
                print_calls(&ctx, std::time::Duration::ZERO);
            }
            return Err(Failure {
                exit,
                message: format!("no logs read: {first}{}", crate::provider::hint(first)),
            });
        }
    }
    for (scope, function, error) in &unread {
        not_read(args.json, scope, Some(function), error);
    }
    let lines = merge(lines);
    // Nothing read is not "no events" (each failure was said above).
    let none_read = !failures.is_empty() && failures.len() == total;
    if lines.is_empty() && !args.json && !none_read {
        err!(
            "lops: no log events since {}{}",
            since.format("%Y-%m-%dT%H:%M:%SZ"),
            match filter {
                Some(f) => format!(" matching {f:?}"),
                None => String::new(),
            }
        );
    }
    let printed = print_lines(&lines, args.json);
    // A reader that went away (`| head -1`) is not followed further.
    let gone = super::reader_gone(&printed);
    super::written(printed)?;
    if stopped {
        // Stopped while some regions had not answered: what the others gave is printed above.
        let names: Vec<&str> = waiting.iter().map(|s| s.as_str()).collect();
        err!("lops: stopped before {} answered", names.join(", "));
        for scope in &names {
            not_read(args.json, scope, None, "stopped before it answered");
        }
        if args.stats {
            print_calls(&ctx, std::time::Duration::ZERO);
        }
        return Ok(Exit::Partial);
    }
    if args.follow && !gone {
        let started = std::time::Instant::now();
        let exit = follow(
            &ctx,
            &args,
            lines,
            (since.timestamp_millis(), now.timestamp_millis()),
            failing,
            owed,
            said_failures,
        )
        .await;
        if args.stats {
            print_calls(&ctx, started.elapsed());
        }
        return exit;
    }
    if args.stats {
        print_calls(&ctx, std::time::Duration::ZERO);
    }
    let mut out = super::stdout();
    let written: std::io::Result<()> = (|| {
        for s in stats(&lines).iter().filter(|s| s.invocations > 0) {
            if args.json {
                writeln!(out, "{}", serde_json::json!({ "stats": s }))?;
            } else {
                writeln!(
                    out,
                    "-- {} {}: {} invocation{}, cold starts {} (cold {} vs warm {}), memory {}/{} MB, {} timeout{}",
                    s.region,
                    s.function,
                    s.invocations,
                    if s.invocations == 1 { "" } else { "s" },
                    format::percent(s.cold_start_rate),
                    format::millis(s.cold_duration_ms),
                    format::millis(s.warm_duration_ms),
                    s.max_memory_used_mb
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format::MISSING.into()),
                    s.memory_size_mb
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format::MISSING.into()),
                    s.timeouts,
                    if s.timeouts == 1 { "" } else { "s" }
                )?;
            }
        }
        Ok(())
    })();
    super::written(written)?;
    Ok(if failures.is_empty() {
        Exit::Done
    } else {
        Exit::Partial
    })
}

/// `--stats`: the calls made, per service and operation over every region.
fn print_calls(ctx: &Session, took: std::time::Duration) {
    let mut per_op: std::collections::BTreeMap<(String, String), u64> = Default::default();
    for c in ctx.counter.snapshot() {
        *per_op.entry((c.key.service, c.key.operation)).or_default() += c.calls;
    }
    let calls: Vec<String> = per_op
        .iter()
        .map(|((service, op), n)| format!("{service} {op} {n}"))
        .collect();
    let over = if took.is_zero() {
        String::new()
    } else {
        format!(" over {:.0} s", took.as_secs_f64())
    };
    err!("lops: calls{over}: {}", calls.join(", "));
}

/// With `--json`, a read that failed as one more ndjson record on stdout (`{"not_read": {scope,
/// function, error}}`), beside what stderr says: a script reading stdout sees exit 3 and which
/// region or function is missing. A reader gone is noticed at the next events' write.
fn not_read(json: bool, scope: &str, function: Option<&str>, error: &str) {
    if !json {
        return;
    }
    let record =
        serde_json::json!({"not_read": {"scope": scope, "function": function, "error": error}});
    let _ = writeln!(
        super::stdout(),
        "{}",
        crate::format::json_safe(record.to_string())
    );
}

fn print_lines(lines: &[crate::loglines::LogLine], json: bool) -> std::io::Result<()> {
    let mut out = super::stdout();
    for l in lines {
        if json {
            writeln!(
                out,
                "{}",
                crate::format::json_safe(serde_json::to_string(l).map_err(std::io::Error::other)?)
            )?;
        } else {
            // Each line of a message carries its event's label (a message cannot pass for
            // another function's line), and nothing in it reaches the terminal as a command.
            let message = crate::format::printable(&l.message, true);
            // Timeouts, runtime errors and cold starts marked in words (in a pipe, under
            // NO_COLOR, in a grep): `[TIMEOUT]`, `[RUNTIME ERROR]`, `[cold start]`.
            let mark = match (l.failure, &l.report) {
                (Some("timeout"), _) => "[TIMEOUT] ",
                (Some(_), _) => "[RUNTIME ERROR] ",
                (None, Some(r)) if r.cold_start() => "[cold start] ",
                _ => "",
            };
            for (n, line) in message.trim_end_matches('\n').split('\n').enumerate() {
                writeln!(
                    out,
                    "{} {:<14} {:<24} {}{line}",
                    l.time.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                    l.region,
                    l.function,
                    if n == 0 { mark } else { "" },
                )?;
            }
        }
    }
    out.flush()
}

/// Each read's scope, in the order `run` builds them (per region, per function).
fn reads_scopes(ctx: &Session, functions: usize) -> Vec<String> {
    ctx.regions
        .iter()
        .flat_map(|r| std::iter::repeat_n(r.scope().to_string(), functions))
        .collect()
}

/// How long, following, the first read waits for the other regions once one has answered.
const FOLLOW_GRACE: std::time::Duration = std::time::Duration::from_secs(3);

/// The first reads as they answer: (their results, the indexes of those still waiting,
/// whether it was stopped). Not following, every one is waited for (the output is one merged
/// time order). Following, those still waiting [`FOLLOW_GRACE`] after the first answered are
/// left to the follow: one region that hangs does not hold back the others' logs. Ctrl-C
/// (SIGTERM, a dropped link) stops at once, with what answered.
async fn first_reads<F, T>(reads: Vec<F>, follow: bool) -> (Vec<T>, Vec<usize>, bool)
where
    F: Future<Output = (usize, T)>,
{
    use futures::StreamExt;
    let count = reads.len();
    let mut pending: futures::stream::FuturesUnordered<F> = reads.into_iter().collect();
    let mut results = Vec::with_capacity(count);
    let mut answered = vec![false; count];
    let stop = crate::runtime::stop_requested(true);
    tokio::pin!(stop);
    let mut grace: Option<tokio::time::Instant> = None;
    let mut stopped = false;
    loop {
        let until = grace.unwrap_or_else(|| tokio::time::Instant::now() + FOLLOW_GRACE);
        tokio::select! {
            next = pending.next() => match next {
                Some((index, result)) => {
                    answered[index] = true;
                    results.push(result);
                    if follow && grace.is_none() {
                        grace = Some(tokio::time::Instant::now() + FOLLOW_GRACE);
                    }
                }
                None => break,
            },
            _ = tokio::time::sleep_until(until), if grace.is_some() => break,
            _ = &mut stop => {
                stopped = true;
                break;
            }
        }
    }
    let waiting = (0..count).filter(|i| !answered[*i]).collect();
    (results, waiting, stopped)
}
