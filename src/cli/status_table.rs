//! `lops status`'s table: a row per function, a line per alias that splits its calls (its
//! configured weights against the split it ran), each region's health, and with `--stats` the
//! calls and the CloudWatch cost.

use std::io::Write;

use super::status::{CloudWatchCost, Data, other_alarms};
use crate::format;
use crate::provider::aws::CallCount;
use crate::provider::{AlarmState, MetricWindow};
use crate::runtime::read::RegionReport;

pub(super) fn write_table(
    out: &mut impl Write,
    reports: &[RegionReport],
    window: MetricWindow,
    calls: Option<&Vec<CallCount>>,
) -> std::io::Result<()> {
    let w = window.label();
    // The scope column as wide as its longest (`prod-eu/ap-southeast-2`): never into the names.
    let scope_w = reports
        .iter()
        .map(|r| r.scope.to_string().chars().count())
        .max()
        .unwrap_or(0)
        .max(14);
    writeln!(
        out,
        "{:<scope_w$} {:<32} {:<8} {:>9} {:>6} {:>5} {:>7} {:>7} {:>10}  ALARM",
        "REGION",
        "FUNCTION",
        "STATE",
        format!("INV {w}"),
        "ERR%",
        "THR",
        "AVG",
        "P99",
        "CONC"
    )?;
    for report in reports {
        let Some(data) = Data::of(report) else {
            continue;
        };
        for f in &data.inventory.functions {
            // Numbers that could not be read show as –, never as 0.
            let stats = data.metrics_of(&f.name).map(|m| m.window(window));
            let missing = crate::format::MISSING.to_string();
            let num = |v: Option<String>| v.unwrap_or_else(|| missing.clone());
            let alarm = match data.alarms_of(&f.name) {
                // Not read: unknown, not "no alarm".
                None => missing.clone(),
                Some(alarms) => alarms
                    .into_iter()
                    .min_by_key(|a| a.state)
                    .map(|a| match a.state {
                        AlarmState::Alarm => format!("ALARM {}", a.name),
                        AlarmState::InsufficientData => "no data".to_string(),
                        AlarmState::Ok => "ok".to_string(),
                    })
                    .unwrap_or_default(),
            };
            let name = if f.detail_error.is_some() {
                format!("{}!", super::cell(&f.name, 31))
            } else {
                super::cell(&f.name, 32)
            };
            writeln!(
                out,
                "{:<scope_w$} {:<32} {:<8} {:>9} {:>6} {:>5} {:>7} {:>7} {:>10}  {}",
                report.scope.to_string(),
                name,
                super::cell(&f.state, 8),
                num(stats.as_ref().map(|s| format::count(s.invocations))),
                num(stats.as_ref().map(|s| format::percent(s.error_rate))),
                num(stats.as_ref().map(|s| format::count(s.throttles))),
                num(stats.as_ref().map(|s| format::millis(s.duration_avg_ms))),
                num(stats.as_ref().map(|s| format::millis(s.duration_p99_ms))),
                // Metrics unread: the peak unknown, the limit Lambda said still shown.
                match stats.as_ref() {
                    Some(s) => format::concurrency(
                        s.concurrency_max,
                        f.reserved_concurrency,
                        f.not_read.details,
                        data.inventory.account_concurrency_limit,
                    ),
                    None => format::concurrency_unread(
                        f.reserved_concurrency,
                        f.not_read.details,
                        data.inventory.account_concurrency_limit,
                    ),
                },
                alarm
            )?;
            for alias in &f.aliases {
                if let Some(line) = alias_line(alias, data.metrics_of(&f.name)) {
                    writeln!(out, "{:<scope_w$} {line}", "")?;
                }
            }
        }
    }
    writeln!(out)?;
    for report in reports {
        let failures = report.failures();
        match &report.inventory {
            _ if report.unreachable() => writeln!(
                out,
                "{}: UNREACHABLE: {}",
                report.scope,
                failures.join("; ")
            )?,
            Ok(inventory) if failures.is_empty() => writeln!(
                out,
                "{}: ok, {} functions, read in {:.1}s",
                report.scope,
                inventory.functions.len(),
                report.elapsed.as_secs_f64()
            )?,
            Ok(inventory) => writeln!(
                out,
                "{}: PARTIAL, {} functions, read in {:.1}s; {}",
                report.scope,
                inventory.functions.len(),
                report.elapsed.as_secs_f64(),
                failures.join("; ")
            )?,
            Err(_) => writeln!(out, "{}: PARTIAL: {}", report.scope, failures.join("; "))?,
        }
        // Firing alarms no row shows (region-wide, or the inventory failed) are still said.
        for a in other_alarms(report).unwrap_or_default() {
            if a.state == AlarmState::Alarm {
                writeln!(
                    out,
                    "  ALARM {}{}",
                    a.name,
                    a.function
                        .as_ref()
                        .map(|f| format!(" (function {f})"))
                        .unwrap_or_default()
                )?;
            }
        }
    }
    if let Some(calls) = calls {
        writeln!(out, "\nAPI calls:")?;
        for c in calls {
            writeln!(
                out,
                "  {:<14} {:<12} {:<36} {:>5}",
                format!(
                    "{}",
                    crate::provider::Scope::new(
                        c.key.profile.clone(),
                        c.key.region.clone(),
                        Default::default()
                    )
                ),
                c.key.service,
                c.key.operation,
                c.calls
            )?;
        }
        writeln!(
            out,
            "  total {}",
            calls.iter().map(|c| c.calls).sum::<u64>()
        )?;
        let cost = CloudWatchCost::of(reports);
        writeln!(
            out,
            "\nCloudWatch: {} metrics requested, ≈ ${:.4} (GetMetricData, $0.01 per 1,000)",
            cost.metrics_requested, cost.estimated_usd
        )?;
    }
    Ok(())
}

/// The line under a function for an alias that splits its calls, or ran versions it is not
/// set to, or drifts: each version's configured share against the share it ran over the last
/// 15 minutes (`–` where nothing was read). An alias wholly on one version that ran only it
/// says nothing the row does not.
fn alias_line(
    alias: &crate::provider::AliasInfo,
    metrics: Option<&crate::provider::FunctionMetrics>,
) -> Option<String> {
    let split = alias.split(metrics, 15);
    let routed = split.iter().filter(|v| v.configured > 0.0).count();
    let drifting = |v: &crate::provider::VersionSplit| {
        v.observed
            .is_some_and(|o| crate::provider::drifts(v.configured, o))
    };
    if routed < 2 && !split.iter().any(drifting) {
        return None;
    }
    let versions: Vec<String> = split
        .iter()
        .map(|v| {
            let seen = v
                .observed
                .map(format::weight)
                .unwrap_or_else(|| format::MISSING.to_string());
            let drift = match (drifting(v), v.observed) {
                (true, Some(o)) => format!(
                    " (drift {})",
                    format::drift(o - v.configured, crate::provider::DRIFT)
                ),
                _ => String::new(),
            };
            format!(
                "{} set {} seen {seen}{drift}",
                format::version(&v.version),
                format::weight(v.configured)
            )
        })
        .collect();
    Some(format!(
        "alias {} (seen over 15m): {}",
        alias.name,
        versions.join(", ")
    ))
}
