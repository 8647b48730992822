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
/// scope column as wide as its longest, the name as its longest (up to 32 where that leaves
/// out a column), then the columns
/// that fit, kept in [`Col::KEPT_FIRST`] order until one does not fit. A left-out alarm or
/// state is not lost: a firing alarm and a state that is not `Active` go on a line under the
/// row.
struct Layout {
    scope: usize,
    name: usize,
    cols: Vec<Col>,
    /// The room left for the alarm column's text, when the line has an end.
    alarm: Option<usize>,
    /// The line's width, when known (a terminal, `COLUMNS`).
    width: Option<usize>,
}

impl Layout {
    fn new(width: Option<usize>, scope: usize, longest_name: usize) -> Layout {
        let scope = scope.max("REGION".len());
        // Whole where the line has room for it and every column (always when piped); else up
        // to 32, then 24 if a column would otherwise be left out.
        let columns: usize = Col::KEPT_FIRST
            .iter()
            .map(|&c| c.width() + if c == Col::Alarm { 2 } else { 1 })
            .sum();
        let room = width.map_or(usize::MAX, |w| w.saturating_sub(scope + 1 + columns));
        let natural = longest_name.max("FUNCTION".len()).min(room.max(NAME_WIDE));
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
            width,
        }
    }

    /// Lines under a row, after the scope column: `parts` joined by spaces, wrapped to the
    /// width between parts (the next lines two further in), a part longer than a line cut.
    /// Unwrapped when the width is not known (piped).
    fn under_row(&self, parts: &[String]) -> Vec<String> {
        let indent = " ".repeat(self.scope + 1);
        let Some(width) = self.width else {
            return vec![format!("{indent}{}", parts.join(" "))];
        };
        let mut lines: Vec<String> = Vec::new();
        let mut line = indent.clone();
        for part in parts {
            let start = line.trim_end().is_empty();
            let room = width.saturating_sub(line.chars().count() + usize::from(!start));
            if !start && part.chars().count() > room {
                lines.push(std::mem::replace(&mut line, format!("{indent}  ")));
            }
            let start = line.trim_end().is_empty();
            let room = width
                .saturating_sub(line.chars().count() + usize::from(!start))
                .max(1);
            if !start {
                line.push(' ');
            }
            line.push_str(&super::cell(part, room));
        }
        lines.push(line);
        lines
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
pub(super) fn table_width() -> Option<usize> {
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
            // The p99 is read apart: shown also when the other numbers were not.
            let p99 = data
                .split_and_percentiles_of(&f.name)
                .and_then(|m| m.window(window).duration_p99_ms);
            let missing = crate::format::MISSING.to_string();
            let num = |v: Option<String>| v.unwrap_or_else(|| missing.clone());
            let alarms = data.alarms_of(&f.name);
            // As the dashboard's column says it: `?` not read (unknown, not "no alarm"), `-`
            // none.
            let alarm = match &alarms {
                None => "?".to_string(),
                Some(alarms) => alarms
                    .iter()
                    .min_by_key(|a| a.state)
                    .map(|a| match a.state {
                        AlarmState::Alarm => format!("ALARM {}", a.name),
                        AlarmState::InsufficientData => "no data".to_string(),
                        AlarmState::Ok => "ok".to_string(),
                    })
                    .unwrap_or_else(|| "-".to_string()),
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
                Col::P99 => match (&stats, p99) {
                    (None, None) => missing.clone(),
                    _ => format::millis(p99),
                },
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
                for line in layout.under_row(&listed(notes)) {
                    writeln!(out, "{line}")?;
                }
            }
            for alias in &f.aliases {
                if let Some(parts) = alias_line(alias, data.split_and_percentiles_of(&f.name)) {
                    for line in layout.under_row(&parts) {
                        writeln!(out, "{line}")?;
                    }
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

/// The line under a function (in pieces that wrap) for an alias that splits its calls, or ran versions it is not
/// set to, or drifts: each version's configured share against the share it ran over the last
/// 15 minutes (`–` where nothing was read). An alias wholly on one version that ran only it
/// says nothing the row does not.
fn alias_line(
    alias: &crate::provider::AliasInfo,
    metrics: Option<&crate::provider::FunctionMetrics>,
) -> Option<Vec<String>> {
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
                .map(format::share)
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
    // Its split's request failed: `–` is not read, not no traffic (both read `seen –`).
    let unread = metrics.is_some_and(|m| m.split_unread);
    let mut parts = vec![format!(
        "alias {} ({}):",
        alias.name,
        match unread {
            true => "split not read",
            false => "seen over 15m",
        }
    )];
    parts.extend(listed(versions));
    Some(parts)
}

/// Each but the last with its comma: the pieces of a list as [`Layout::under_row`] wraps them.
fn listed(items: Vec<String>) -> Vec<String> {
    let last = items.len().saturating_sub(1);
    items
        .into_iter()
        .enumerate()
        .map(|(i, v)| match i == last {
            true => v,
            false => format!("{v},"),
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// An alias line under a row wraps between its versions to the terminal's width, the next
    /// lines two further in; piped, it stays one line.
    #[test]
    fn lines_under_a_row_wrap_to_the_width() {
        let parts = listed(vec![
            "v1 set 80% seen 50% (drift -30%)".to_string(),
            "v2 set 20% seen 50% (drift +30%)".to_string(),
        ]);
        let mut all = vec!["alias live (seen over 15m):".to_string()];
        all.extend(parts);
        let narrow = Layout::new(Some(60), 9, 10);
        let lines = narrow.under_row(&all);
        assert_eq!(
            lines,
            [
                "          alias live (seen over 15m):",
                "            v1 set 80% seen 50% (drift -30%),",
                "            v2 set 20% seen 50% (drift +30%)",
            ]
        );
        let piped = Layout::new(None, 9, 10);
        assert_eq!(piped.under_row(&all).len(), 1);
        // A part longer than a line is cut to it.
        let long = narrow.under_row(&["ALARM ".repeat(20)]);
        assert!(long.iter().all(|l| l.chars().count() <= 60), "{long:?}");
    }

    /// A split whose request failed says so: its `–` is not read, not no traffic.
    #[test]
    fn an_alias_line_says_its_split_was_not_read() {
        let alias = crate::provider::AliasInfo {
            name: "live".into(),
            function_version: "1".into(),
            additional_weights: vec![("2".into(), 0.2)],
            revision_id: None,
        };
        let unread = crate::provider::FunctionMetrics {
            split_unread: true,
            ..Default::default()
        };
        let parts = alias_line(&alias, Some(&unread)).expect("a split alias");
        assert_eq!(parts[0], "alias live (split not read):");
        let none = alias_line(&alias, Some(&Default::default())).expect("a split alias");
        assert_eq!(none[0], "alias live (seen over 15m):");
    }

    /// A name is cut only where the line has no room for it: piped (cron, a file) and on a
    /// wide terminal it is whole, so two long names that differ at the end stay two.
    #[test]
    fn a_name_is_whole_where_the_line_has_room() {
        let long = "payments-reconciliation-worker-production".len();
        assert_eq!(Layout::new(None, 9, long).name, long);
        let wide = Layout::new(Some(300), 9, long);
        assert_eq!((wide.name, wide.cols.len()), (long, Col::KEPT_FIRST.len()));
        // As much as the line leaves; where that is under 32, 32 if every column still fits,
        // else 24.
        assert_eq!(Layout::new(Some(125), 9, long).name, 36);
        assert_eq!(Layout::new(Some(121), 9, long).name, NAME_WIDE);
        assert_eq!(Layout::new(Some(120), 9, long).name, NAME_NARROW);
        assert_eq!(Layout::new(Some(80), 9, long).name, NAME_NARROW);
        assert_eq!(Layout::new(Some(80), 9, 5).name, "FUNCTION".len());
    }
}
