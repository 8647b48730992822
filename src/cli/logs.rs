//! `lops logs`: the logs of several functions in several regions, merged in time order.

use std::io::Write;

use clap::Args;

use super::GlobalArgs;
use crate::exit::{Exit, Failure};
use crate::format;
use crate::loglines::{merge, parse_since, stats};
use crate::provider::{ProviderError, RegionSource};
use crate::session::Session;

#[derive(Debug, Args)]
pub struct LogsArgs {
    /// Functions, comma separated.
    #[arg(value_delimiter = ',', required = true)]
    pub functions: Vec<String>,
    /// How far back: 15m, 1h, 2d, or an RFC 3339 time.
    #[arg(long, default_value = "15m")]
    pub since: String,
    /// A CloudWatch Logs filter pattern.
    #[arg(long)]
    pub filter: Option<String>,
    /// One JSON object per event (ndjson), then one per function with its cold-start stats.
    #[arg(long)]
    pub json: bool,
    /// Keep polling for new events until Ctrl-C (every 2 s, backing off on errors).
    #[arg(long)]
    pub follow: bool,
}

pub async fn run(global: &GlobalArgs, args: LogsArgs) -> Result<Exit, Failure> {
    let now = chrono::Utc::now();
    let since =
        parse_since(&args.since, now).map_err(|e| Failure::usage(format!("--since: {e}")))?;
    if args.functions.iter().any(|f| f.trim().is_empty()) {
        return Err(Failure::usage(
            "name the functions: lops logs FN[,FN2] --region R",
        ));
    }
    let ctx = Session::connect(&global.flags()).await?;
    let mut lines = Vec::new();
    let mut failures: Vec<ProviderError> = Vec::new();
    let mut reads = Vec::new();
    let filter = args.filter.as_deref();
    for region in &ctx.regions {
        for f in &args.functions {
            reads.push(async move {
                (
                    region.scope().clone(),
                    region
                        .read_log_events(
                            f.trim(),
                            since.timestamp_millis(),
                            now.timestamp_millis(),
                            filter,
                        )
                        .await,
                )
            });
        }
    }
    for (scope, result) in futures::future::join_all(reads).await {
        match result {
            Ok(found) => lines.extend(found),
            Err(e) => {
                err!("lops: {scope}: {e}");
                failures.push(e);
            }
        }
    }
    let lines = merge(lines);
    print_lines(&lines, args.json)
        .map_err(|e| Failure::failed(format!("cannot write output: {e}")))?;
    if args.follow {
        return follow(&ctx, &args, lines).await;
    }
    let mut out = std::io::stdout().lock();
    let written: std::io::Result<()> = (|| {
        for s in stats(&lines).iter().filter(|s| s.invocations > 0) {
            if args.json {
                writeln!(out, "{}", serde_json::json!({ "stats": s }))?;
            } else {
                writeln!(
                    out,
                    "-- {} {}: {} invocations, cold starts {} (cold {} vs warm {}), memory {}/{} MB, {} timeouts",
                    s.region,
                    s.function,
                    s.invocations,
                    format::percent(s.cold_start_rate),
                    format::millis(s.cold_duration_ms),
                    format::millis(s.warm_duration_ms),
                    s.max_memory_used_mb
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format::MISSING.into()),
                    s.memory_size_mb
                        .map(|m| m.to_string())
                        .unwrap_or_else(|| format::MISSING.into()),
                    s.timeouts
                )?;
            }
        }
        Ok(())
    })();
    written.map_err(|e| Failure::failed(format!("cannot write output: {e}")))?;
    let total = ctx.regions.len() * args.functions.len();
    Ok(match failures.as_slice() {
        [] => Exit::Done,
        [first, ..] if failures.len() == total => match first {
            ProviderError::NotFound(_) => Exit::Usage,
            _ => Exit::Failure,
        },
        _ => Exit::Partial,
    })
}

fn print_lines(lines: &[crate::loglines::LogLine], json: bool) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    for l in lines {
        if json {
            writeln!(
                out,
                "{}",
                serde_json::to_string(l).map_err(std::io::Error::other)?
            )?;
        } else {
            writeln!(
                out,
                "{} {:<14} {:<24} {}",
                l.time.format("%Y-%m-%dT%H:%M:%S%.3fZ"),
                l.region,
                l.function,
                l.message
            )?;
        }
    }
    out.flush()
}

/// Polls every region and function for events newer than the last seen, with a small overlap
/// (events can arrive late) de-duplicated by id, until Ctrl-C. A region that fails is reported
/// once per failure streak and polled again later; the others keep streaming.
async fn follow(
    ctx: &Session,
    args: &LogsArgs,
    first: Vec<crate::loglines::LogLine>,
) -> Result<Exit, Failure> {
    use std::collections::{HashSet, VecDeque};
    use std::time::Duration;
    const OVERLAP_MS: i64 = 10_000;
    const REMEMBER: usize = 50_000;
    let mut seen: HashSet<String> = HashSet::new();
    let mut order: VecDeque<String> = VecDeque::new();
    let mut remember = |id: String, seen: &mut HashSet<String>| {
        if seen.insert(id.clone()) {
            order.push_back(id);
            if order.len() > REMEMBER
                && let Some(old) = order.pop_front()
            {
                seen.remove(&old);
            }
            true
        } else {
            false
        }
    };
    let key = |l: &crate::loglines::LogLine| format!("{}/{}/{}", l.region, l.function, l.event_id);
    let mut since_ms = first
        .last()
        .map_or(chrono::Utc::now().timestamp_millis(), |l| {
            l.time.timestamp_millis()
        });
    for l in &first {
        remember(key(l), &mut seen);
    }
    let mut failing: HashSet<String> = HashSet::new();
    let mut wait = Duration::from_secs(2);
    let filter = args.filter.as_deref();
    loop {
        tokio::select! {
            _ = tokio::signal::ctrl_c() => return Ok(Exit::Done),
            _ = tokio::time::sleep(wait) => {}
        }
        let now = chrono::Utc::now().timestamp_millis();
        let mut reads = Vec::new();
        for region in &ctx.regions {
            for f in &args.functions {
                reads.push(async move {
                    (
                        format!("{} {}", region.scope(), f),
                        region
                            .read_log_events(f.trim(), since_ms - OVERLAP_MS, now, filter)
                            .await,
                    )
                });
            }
        }
        let mut fresh = Vec::new();
        let mut errors = 0;
        for (what, result) in futures::future::join_all(reads).await {
            match result {
                Ok(lines) => {
                    failing.remove(&what);
                    fresh.extend(lines);
                }
                Err(e) => {
                    errors += 1;
                    if failing.insert(what.clone()) {
                        err!("lops: {what}: {e} (still trying)");
                    }
                }
            }
        }
        let fresh: Vec<_> = merge(fresh)
            .into_iter()
            .filter(|l| remember(key(l), &mut seen))
            .collect();
        if let Some(last) = fresh.last() {
            since_ms = since_ms.max(last.time.timestamp_millis());
        }
        print_lines(&fresh, args.json)
            .map_err(|e| Failure::failed(format!("cannot write output: {e}")))?;
        // Back off while everything fails; poll at the normal pace otherwise.
        wait = if errors > 0 && errors == ctx.regions.len() * args.functions.len() {
            (wait * 2).min(Duration::from_secs(30))
        } else {
            Duration::from_secs(2)
        };
    }
}
