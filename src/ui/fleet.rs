//! The fleet table: every function in every region, unhealthy first.

use ratatui::Frame;
use ratatui::layout::{Constraint, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::theme::Theme;
use super::widgets::{fit_middle, sparkline};
use crate::format;
use crate::provider::AlarmState;
use crate::state::rows::health_score;
use crate::state::{FunctionEntry, RegionHealth, RegionState, State};

/// Wide enough for the sparkline and state columns.
const WIDE: u16 = 110;

/// The number columns, in the order they are drawn.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Col {
    Inv,
    Err,
    Thr,
    P99,
    Conc,
    Alarm,
}

impl Col {
    const DRAWN: [Col; 6] = [
        Col::Inv,
        Col::Err,
        Col::Thr,
        Col::P99,
        Col::Conc,
        Col::Alarm,
    ];
    /// Which go first when the screen is narrow: the last in this list.
    const KEPT_FIRST: [Col; 6] = [
        Col::Inv,
        Col::Err,
        Col::Conc,
        Col::P99,
        Col::Thr,
        Col::Alarm,
    ];

    fn header(self) -> &'static str {
        match self {
            Col::Inv => "INV",
            Col::Err => "ERR%",
            Col::Thr => "THR",
            Col::P99 => "P99",
            Col::Conc => "CONC",
            Col::Alarm => "ALARM",
        }
    }

    fn width(self, wide: bool) -> u16 {
        match self {
            Col::Inv | Col::Err => 6,
            Col::Thr => 5,
            Col::P99 => 7,
            Col::Conc => 9,
            Col::Alarm if wide => 24,
            Col::Alarm => 5,
        }
    }
}

/// The number columns that fit beside the mark, region and name columns, with their widths:
/// kept in [`Col::KEPT_FIRST`] order until one does not fit (the rest go too, so the order of
/// what is left out stays the documented one), each left out whole rather than cut, so a
/// number is never shown without its first digits (the detail view has them all). On a wide
/// screen the alarm column takes its narrow width when its wide one does not fit.
fn columns(inner: u16, fixed: u16, wide: bool) -> Vec<(Col, u16)> {
    let mut used = fixed;
    let mut kept = Vec::new();
    for col in Col::KEPT_FIRST {
        let width = [col.width(wide), col.width(false)]
            .into_iter()
            .find(|w| used + w < inner);
        let Some(width) = width else {
            break;
        };
        used += width + 1;
        kept.push((col, width));
    }
    Col::DRAWN
        .into_iter()
        .filter_map(|c| kept.iter().find(|(k, _)| *k == c).copied())
        .collect()
}

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let total: usize = state.regions.iter().map(|r| r.functions.len()).sum();
    let title = format!(
        " functions {}/{} {} {} ",
        state.rows.len(),
        total,
        theme.sep(),
        state.window.label()
    );
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(title, theme.title()));
    if state.rows.is_empty() {
        let loading = state
            .regions
            .iter()
            .any(|r| !r.inventory_loaded && r.failing().is_empty());
        let text = if loading {
            "loading functions…".to_string()
        } else if !state.filter.is_empty() {
            format!(
                "no function matches '{}' ({} clears the filter)",
                // Cut so that what clears it stays on the line.
                super::widgets::fit_middle(&state.filter, 32, theme),
                state.keymap.first_key(crate::state::Action::Back)
            )
        } else if state
            .regions
            .iter()
            .all(|r| r.read_failing(crate::state::Read::Inventory))
        {
            // Every inventory failed (not only some other read): nothing listed anywhere.
            "no region answered: see the footer for each region's error".to_string()
        } else {
            "no functions in these regions".to_string()
        };
        frame.render_widget(
            Paragraph::new(Line::styled(text, theme.dim())).block(block),
            area,
        );
        return;
    }
    // The mark column shows while anything is marked: `*` reads without colour.
    let marking = !state.marks.is_empty();
    // The region column as wide as the longest scope shown (profile/region), within reason.
    let region_width = super::widgets::scope_width(state, 6, 20) as u16;
    let fixed = |wide: bool| {
        u16::from(marking) + 2 + region_width + 1 + if wide { 24 + 8 + 1 + 16 + 1 } else { 12 }
    };
    let inner = area.width.saturating_sub(2);
    // The wide layout (state, sparkline, a long name) only where every number still fits
    // beside it: numbers come before pictures.
    let wide_cols = columns(inner, fixed(true), true);
    let wide = area.width >= WIDE && wide_cols.len() == Col::DRAWN.len();
    let cols = if wide {
        wide_cols
    } else {
        columns(inner, fixed(false), false)
    };
    let mut header = vec!["", "REGION", "FUNCTION"];
    if wide {
        header.extend(["STATE", "INVOCATIONS 60m"]);
    }
    header.extend(cols.iter().map(|(c, _)| c.header()));
    // Wide: the name takes up to 36 cells of what the numbers leave (at least 24); the alarm
    // column takes the rest.
    let name_width = if wide {
        let numbers: u16 = cols.iter().map(|(_, w)| w + 1).sum();
        let room = inner.saturating_sub(fixed(true) - 24 + numbers);
        Constraint::Length(room.clamp(24, 36))
    } else {
        Constraint::Min(12)
    };
    // The mark shares the health cell (`*●`): two cells fewer taken from the name.
    let mut widths = vec![
        Constraint::Length(1 + u16::from(marking)),
        Constraint::Length(region_width),
        name_width,
    ];
    if wide {
        widths.extend([Constraint::Length(8), Constraint::Length(16)]);
    }
    widths.extend(cols.iter().map(|(c, w)| match c {
        Col::Alarm if wide && *w == c.width(true) => Constraint::Min(*w),
        _ => Constraint::Length(*w),
    }));
    // The cells the name gets, so a cut name says it is cut (two names cut alike would read
    // as one): wide, its length; else what the other columns and the spacing leave.
    let name_at = 2;
    let name_cells = match widths[name_at] {
        Constraint::Length(n) => n,
        _ => {
            let others: u16 = widths
                .iter()
                .enumerate()
                .filter(|(i, _)| *i != name_at)
                .map(|(_, c)| match c {
                    Constraint::Length(n) | Constraint::Min(n) => *n,
                    _ => 0,
                })
                .sum();
            inner
                .saturating_sub(others + widths.len().saturating_sub(1) as u16)
                .max(12)
        }
    } as usize;
    let names_alarms = cols
        .iter()
        .any(|(c, w)| *c == Col::Alarm && wide && *w == c.width(true));
    let cols: Vec<Col> = cols.into_iter().map(|(c, _)| c).collect();
    let height = state.table_rows();
    let end = (state.offset + height).min(state.rows.len());
    let stale_after = state.stale_after_secs();
    let rows: Vec<Row> = state.rows[state.offset.min(end)..end]
        .iter()
        .enumerate()
        .map(|(i, (r, f))| {
            let region = &state.regions[*r];
            let health = region.health(state.now, stale_after);
            let row = row(
                state,
                theme,
                (*r, region),
                &region.functions[*f],
                (wide, names_alarms, &cols),
                (usize::from(region_width), name_cells),
                &health,
            );
            if state.offset + i == state.selected {
                row.style(theme.selected())
            } else {
                row
            }
        })
        .collect();
    let table = Table::new(rows, widths)
        .header(Row::new(header).style(theme.header()))
        .column_spacing(1)
        .block(block);
    frame.render_widget(table, area);
}

fn row<'a>(
    state: &State,
    theme: &Theme,
    (index, region): (usize, &RegionState),
    f: &'a FunctionEntry,
    (wide, names_alarms, cols): (bool, bool, &[Col]),
    (scope_cells, name_cells): (usize, usize),
    health: &RegionHealth,
) -> Row<'a> {
    let s = f.stats(state.window);
    let [ok, warn, bad] = theme.marks();
    // A row's mark says what is known of it: its region unreachable (✗) or its data old or
    // partly failing (▲) — in glyphs, so it reads without colour too — else its own health.
    let score = health_score(f, state.window);
    // Its own numbers read since the region's began failing in part: not in doubt.
    let stale = region.rows_in_doubt(health) && !region.numbers_current(f);
    // The region's state first: without colour a ✗ must mean unreachable there, not an alarm
    // (the alarm and error columns say those).
    // Its numbers not read yet (CloudWatch has not answered): not known to be well.
    let unknown = f.metrics.is_none();
    let mark = match (health, score) {
        (RegionHealth::Unreachable { .. }, _) => Span::styled(bad, theme.bad()),
        _ if stale => Span::styled(warn, theme.warn()),
        (_, 3 | 2) => Span::styled(bad, theme.bad()),
        (_, 1) => Span::styled(warn, theme.warn()),
        _ if unknown => Span::styled(theme.unknown_mark(), theme.dim()),
        _ => Span::styled(ok, theme.ok()),
    };
    let err_style = match s.error_rate {
        Some(r) if r > 0.05 => theme.bad(),
        Some(r) if r > 0.01 => theme.warn(),
        _ => Style::new(),
    };
    let limit = f
        .info
        .reserved_concurrency
        .map(i64::from)
        .or(region.account_limit);
    // A reservation its failed GetFunction left unread may be there: the account's limit would
    // mislead (`?r`, as `lops status` says it).
    let reserved_unknown = f.info.not_read.details && f.info.detail_error.is_some();
    // Numbers read, no ConcurrentExecutions point: nothing ran, a peak of 0 (as `lops status`
    // says it); never read: `–`.
    let peak = s.concurrency_max.or(f.metrics.as_ref().map(|_| 0.0));
    // A reservation is told from the account's limit by its `r` (`1/25r`, as `lops status`).
    let r = if f.info.reserved_concurrency.is_some() {
        "r"
    } else {
        ""
    };
    let conc_text = match (peak, limit) {
        (Some(c), _) if reserved_unknown => format!("{}/?r", format::count(c)),
        (None, _) if reserved_unknown => "?r".to_string(),
        (Some(c), Some(l)) => format!("{}/{}{r}", format::count(c), format::count(l as f64)),
        (Some(c), None) => format::count(c),
        // The peak unread, the limit known: still said (`–/25r`).
        (None, Some(l)) => format!("{}/{}{r}", format::MISSING, format::count(l as f64)),
        (None, None) => format::MISSING.to_string(),
    };
    let near_limit = matches!((s.concurrency_max, f.info.reserved_concurrency), (Some(c), Some(l)) if c >= 0.9 * f64::from(l));
    let alarm = match f.alarm {
        Some(AlarmState::Alarm) => {
            let name = region
                .alarms
                .iter()
                .find(|a| {
                    a.state == AlarmState::Alarm && a.function.as_deref() == Some(&f.info.name)
                })
                .map(|a| a.name.as_str())
                .unwrap_or("ALARM");
            Span::styled(
                if names_alarms {
                    format!("ALARM {name}")
                } else {
                    "ALARM".into()
                },
                theme.bad(),
            )
        }
        Some(AlarmState::Ok) => Span::styled("ok", theme.ok()),
        // CloudWatch's INSUFFICIENT_DATA, as `lops status` and the detail view say it.
        Some(AlarmState::InsufficientData) => {
            Span::styled(if wide { "no data" } else { "data?" }, theme.dim())
        }
        // Alarms never read here: unknown (`?`, as a reservation not read is `?r`), not "no
        // alarm" (`-`, which `–` would look like, and be in ASCII).
        None if !region.ever_read(crate::state::Read::Alarms) => Span::styled("?", theme.dim()),
        None => Span::styled("-", theme.dim()),
    };
    let region_style = if stale { theme.warn() } else { Style::new() };
    let mut cells = Vec::new();
    let mark = match state.marks.is_empty() {
        true => Line::from(mark),
        false => {
            let marked = crate::state::batch::is_marked(state, index, &f.info.name);
            Line::from(vec![
                Span::styled(if marked { "*" } else { " " }, theme.title()),
                mark,
            ])
        }
    };
    cells.extend([
        Cell::from(mark),
        Cell::from(Span::styled(
            fit_middle(&region.scope.to_string(), scope_cells, theme),
            region_style,
        )),
        // Its own reads failed (reservation, tags, aliases unknown): marked as `lops status`
        // marks it, the regions view says why.
        Cell::from(if f.info.detail_error.is_some() {
            format!(
                "{}!",
                fit_middle(&f.info.name, name_cells.saturating_sub(1), theme)
            )
        } else {
            fit_middle(&f.info.name, name_cells, theme)
        }),
    ]);
    if wide {
        let state_style = if f.info.state == "Active" {
            theme.dim()
        } else {
            theme.bad()
        };
        let values: Vec<f64> = f
            .metrics
            .as_ref()
            .map(|m| m.invocations.iter().map(|v| v.unwrap_or(0.0)).collect())
            .unwrap_or_default();
        // Killed (reserved concurrency 0: every call throttled) is said where the state is.
        let (state, state_style) = match f.info.reserved_concurrency {
            Some(0) if f.info.state == "Active" => ("Killed".to_string(), theme.bad()),
            _ => (f.info.state.clone(), state_style),
        };
        cells.push(Cell::from(Span::styled(state, state_style)));
        cells.push(Cell::from(Span::styled(
            sparkline(&values, 16, theme),
            theme.ok(),
        )));
    }
    let missing = f.metrics.is_none();
    let number = |v: String| {
        if missing {
            format::MISSING.to_string()
        } else {
            v
        }
    };
    for col in cols {
        cells.push(match col {
            Col::Inv => {
                Cell::from(Line::from(number(format::count(s.invocations))).right_aligned())
            }
            Col::Err => Cell::from(
                Line::styled(number(format::percent(s.error_rate)), err_style).right_aligned(),
            ),
            Col::Thr => Cell::from(
                Line::styled(
                    number(format::count(s.throttles)),
                    if s.throttles > 0.0 {
                        theme.bad()
                    } else {
                        Style::new()
                    },
                )
                .right_aligned(),
            ),
            Col::P99 => Cell::from(Line::from(format::millis(s.duration_p99_ms)).right_aligned()),
            Col::Conc => Cell::from(
                Line::styled(
                    conc_text.clone(),
                    if near_limit {
                        theme.warn()
                    } else {
                        Style::new()
                    },
                )
                .right_aligned(),
            ),
            Col::Alarm => Cell::from(alarm.clone()),
        });
    }
    Row::new(cells)
}
