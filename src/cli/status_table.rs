//! `lops status`'s table: a row per function, a line per alias that splits its calls (its
//! configured weights against the split it ran), each region's health, and with `--stats` the
//! calls and the CloudWatch cost.

use std::io::Write;

use super::status::{CloudWatchCost, Data, other_alarms};
use crate::format;
use crate::provider::aws::CallCount;
use crate::provider::{AlarmState, MetricWindow};
use crate::runtime::read::RegionReport;

/// A column after the scope and the name, in the order drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    State,
    Inv,
    Err,
    Thr,
    Avg,
    P99,
    Conc,
    Alarm,
}

impl Col {
    const DRAWN: [Col; 8] = [
        Col::State,
        Col::Inv,
        Col::Err,
        Col::Thr,
        Col::Avg,
        Col::P99,
        Col::Conc,
        Col::Alarm,
    ];
    /// Which stay on a narrow terminal: the last here goes first, the dashboard's order with
    /// the state and the average after it.
    const KEPT_FIRST: [Col; 8] = [
        Col::Inv,
        Col::Err,
        Col::Conc,
        Col::P99,
        Col::Thr,
        Col::Alarm,
        Col::State,
        Col::Avg,
    ];

    /// The room it takes before the separator; the alarm column's is its least (it is last
    /// and takes the rest of the line).
    fn width(self) -> usize {
        match self {
            Col::State => 8,
            Col::Inv => 9,
            Col::Err => 6,
            Col::Thr => 5,
            Col::Avg | Col::P99 => 7,
            Col::Conc => 10,
            Col::Alarm => 18,
        }
    }
}

/// The name column never narrower than this to make room for a number column.
const NAME_NARROW: usize = 24;
const NAME_WIDE: usize = 32;

/// How the table is laid out in `width` columns (all of them when `None`: piped, cron): the
/// scope column as wide as its longest, the name as its longest up to 32, then the columns
/// that fit, kept in [`Col::KEPT_FIRST`] order until one does not fit. A left-out alarm or
/// state is not lost: a firing alarm and a state that is not `Active` go on a line under the
/// row.
struct Layout {
    scope: usize,
    name: usize,
    cols: Vec<Col>,
    /// The room left for the alarm column's text, when the line has an end.
    alarm: Option<usize>,
}

impl Layout {
    fn new(width: Option<usize>, scope: usize, longest_name: usize) -> Layout {
        let scope = scope.max("REGION".len());
        let natural = longest_name.clamp("FUNCTION".len(), NAME_WIDE);
        let fit = |name: usize| {
            let mut used = scope + 1 + name;
            let mut kept = Vec::new();
            for col in Col::KEPT_FIRST {
                let needs = col.width() + if col == Col::Alarm { 2 } else { 1 };
                // The rest go too: what is left out stays in the documented order (a wider
                // terminal never shows fewer columns). A left-out alarm has its line under the row.
                if width.is_some_and(|w| used + needs > w) {
                    break;
                }
                used += needs;
                kept.push(col);
            }
            (kept, used)
        };
        let (mut cols, mut used) = fit(natural);
        let mut name = natural;
        if cols.len() < Col::KEPT_FIRST.len() && natural > NAME_NARROW {
            name = NAME_NARROW;
            (cols, used) = fit(name);
        }
        // What the other columns leave of the line (the alarm's least counted in `used`).
        let alarm = width
            .filter(|_| cols.contains(&Col::Alarm))
            .map(|w| w.saturating_add(Col::Alarm.width()).saturating_sub(used));
        cols.sort_by_key(|c| Col::DRAWN.iter().position(|d| d == c));
        Layout {
            scope,
            name,
            cols,
            alarm,
        }
    }

    fn has(&self, col: Col) -> bool {
        self.cols.contains(&col)
    }

    /// One line of the table: the scope, the name, then each kept column's text.
    fn line(&self, scope: &str, name: &str, text: impl Fn(Col) -> String) -> String {
        let mut line = format!("{scope:<w$} {name:<n$}", w = self.scope, n = self.name);
        for &col in &self.cols {
            let t = text(col);
            match col {
                Col::State => line.push_str(&format!(" {t:<8}")),
                Col::Alarm => {
                    let t = match self.alarm {
                        Some(room) => super::cell(&t, room),
                        None => t,
                    };
                    line.push_str(&format!("  {t}"));
                }
                _ => line.push_str(&format!(" {t:>w$}", w = col.width())),
            }
        }
        line.trim_end().to_string()
    }
}

/// The width the table is laid out in: `COLUMNS` when set, else the terminal's when stdout is
/// one; piped, every column.
fn table_width() -> Option<usize> {
    use std::io::IsTerminal;
    if let Some(columns) = std::env::var("COLUMNS")
        .ok()
        .and_then(|c| c.trim().parse::<usize>().ok())
        .filter(|c| *c > 0)
    {
        return Some(columns.min(10_000));
    }
    if !std::io::stdout().is_terminal() {
        return None;
    }
    crossterm::terminal::size()
        .ok()
        .map(|(w, _)| usize::from(w))
        .filter(|w| *w > 0)
}

pub(super) fn write_table(
    out: &mut impl Write,
    reports: &[RegionReport],
    window: MetricWindow,
    calls: Option<&Vec<CallCount>>,
) -> std::io::Result<()> {
    let w = window.label();
    let functions = || {
        reports
            .iter()
            .filter_map(Data::of)
            .flat_map(|d| d.inventory.functions.iter())
    };
    // A name with a failed read of its own carries a `!`.
    let longest_name = functions()
        .map(|f| f.name.chars().count() + usize::from(f.detail_error.is_some()))
        .max()
        .unwrap_or(0);
    let longest_scope = reports
        .iter()
        .map(|r| r.scope.to_string().chars().count())
        .max()
        .unwrap_or(0);
    let layout = Layout::new(table_width(), longest_scope, longest_name);
    let inv_header = format!("INV {w}");
    writeln!(
        out,
        "{}",
        layout.line("REGION", "FUNCTION", |col| match col {
            Col::State => "STATE",
            Col::Inv => &inv_header,
            Col::Err => "ERR%",
            Col::Thr => "THR",
            Col::Avg => "AVG",
            Col::P99 => "P99",
            Col::Conc => "CONC",
            Col::Alarm => "ALARM",
        }
        .to_string())
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
            let alarms = data.alarms_of(&f.name);
            let alarm = match &alarms {
                // Not read: unknown, not "no alarm".
                None => missing.clone(),
                Some(alarms) => alarms
                    .iter()
                    .min_by_key(|a| a.state)
                    .map(|a| match a.state {
                        AlarmState::Alarm => format!("ALARM {}", a.name),
                        AlarmState::InsufficientData => "no data".to_string(),
                        AlarmState::Ok => "ok".to_string(),
                    })
                    .unwrap_or_default(),
            };
            let name = if f.detail_error.is_some() {
                format!("{}!", super::cell(&f.name, layout.name - 1))
            } else {
                super::cell(&f.name, layout.name)
            };
            let text = |col: Col| match col {
                Col::State => super::cell(&f.state, 8),
                Col::Inv => num(stats.as_ref().map(|s| format::count(s.invocations))),
                Col::Err => num(stats.as_ref().map(|s| format::percent(s.error_rate))),
                Col::Thr => num(stats.as_ref().map(|s| format::count(s.throttles))),
                Col::Avg => num(stats.as_ref().map(|s| format::millis(s.duration_avg_ms))),
                Col::P99 => num(stats.as_ref().map(|s| format::millis(s.duration_p99_ms))),
                // Metrics unread: the peak unknown, the limit Lambda said still shown.
                Col::Conc => match stats.as_ref() {
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
                Col::Alarm => alarm.clone(),
            };
            writeln!(
                out,
                "{}",
                layout.line(&report.scope.to_string(), &name, text)
            )?;
            // What a left-out column would have warned of, under the row.
            let mut notes = Vec::new();
            if !layout.has(Col::State) && f.state != "Active" {
                notes.push(format!("state {}", f.state));
            }
            if !layout.has(Col::Alarm) {
                for a in alarms.iter().flatten() {
                    if a.state == AlarmState::Alarm {
                        notes.push(format!("ALARM {}", a.name));
                    }
                }
            }
            if !notes.is_empty() {
                writeln!(out, "{:<w$} {}", "", notes.join(", "), w = layout.scope)?;
            }
            for alias in &f.aliases {
                if let Some(line) = alias_line(alias, data.metrics_of(&f.name)) {
                    writeln!(out, "{:<w$} {line}", "", w = layout.scope)?;
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
