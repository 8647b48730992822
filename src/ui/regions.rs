//! Per-region totals and health: freshness, errors, alarms and what the region costs in calls.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Cell, Paragraph, Row, Table};

use super::theme::Theme;
use super::widgets::{fit, fit_middle};
use super::{health_label, health_mark};
use crate::format;
use crate::state::{RegionHealth, State};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    // What the open dashboard costs in CloudWatch metrics, at its pace of the last minutes.
    let per_hour: Option<f64> = state
        .regions
        .iter()
        .filter_map(|r| r.metrics_per_hour())
        .reduce(|a, b| a + b);
    let cost = match per_hour {
        Some(n) => format!(
            "CloudWatch {} metrics/h {} ${:.2}/h ",
            format::count(n),
            if theme.ascii { "~" } else { "≈" },
            crate::provider::metrics_cost_usd(n.round() as u64)
        ),
        None => "CloudWatch cost: measuring ".to_string(),
    };
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(
            format!(
                " regions {} {} {} {cost}",
                theme.sep(),
                state.window.label(),
                theme.sep()
            ),
            theme.title(),
        ));
    let stale_after = state.stale_after_secs();
    // As wide as the longest scope within reason; a longer one is cut in the middle so
    // `staging/us-east-1` and `staging/us-east-2` still read apart.
    let longest = super::widgets::scope_width(state, 6, 24);
    let (shown, scope_cells) = columns(usize::from(area.width.saturating_sub(2)), longest);
    // What the columns before it leave (each read's failure names the setting that helps; a
    // cut one is said whole under the table).
    let used: usize = COLUMNS[..9]
        .iter()
        .zip(shown)
        .filter(|(_, on)| *on)
        .map(|(c, _)| c.width.unwrap_or(scope_cells) + 1)
        .sum();
    // No error column: each error is said under the table.
    let error_width = match shown[9] {
        true => usize::from(area.width.saturating_sub(2))
            .saturating_sub(used)
            .max(4),
        false => 0,
    };
    // Errors the column cuts: said whole under the table (the failing call and the setting
    // that would help are at their end).
    let mut cut: Vec<Cut> = Vec::new();
    let rows: Vec<Row> = state
        .regions
        .iter()
        .map(|r| {
            let h = r.health(state.now, stale_after);
            // Never read: – (a region whose CloudWatch never answered has no 0 to show).
            let t = r.known_totals(state.window);
            let missing = || format::MISSING.to_string();
            let mut error = match &h {
                RegionHealth::Stale { error: Some(e), .. }
                | RegionHealth::Unreachable { error: e } => e.clone(),
                _ => String::new(),
            };
            // Functions whose own reads failed, as `lops status` says them.
            let details = crate::provider::details_failure(r.functions.iter().map(|f| &f.info));
            let notes = details.iter().chain(&r.account_limit_error);
            for said in notes.chain(&r.metrics_partial) {
                if !error.is_empty() {
                    error.push_str("; ");
                }
                error.push_str(said);
            }
            if !error.is_empty() && error.chars().count() > error_width {
                let rank = match h {
                    RegionHealth::Unreachable { .. } => 0,
                    RegionHealth::Stale { .. } => 1,
                    _ => 2,
                };
                match cut.iter_mut().find(|c| c.error == error) {
                    Some(same) => {
                        same.scopes.push(r.scope.to_string());
                        same.rank = same.rank.min(rank);
                    }
                    None => cut.push(Cut {
                        rank,
                        scopes: vec![r.scope.to_string()],
                        error: error.clone(),
                    }),
                }
            }
            let alarms = r.known_firing_alarms();
            Row::new(masked(
                shown,
                vec![
                    Cell::from(health_mark(&h, theme)),
                    Cell::from(fit_middle(&r.scope.to_string(), scope_cells, theme)),
                    // While its inventory fills in: "412/1000" read, or "250…" listed.
                    Cell::from(
                        r.inventory_progress
                            .map(|(p, listed)| {
                                if p.listed {
                                    format!("{}/{listed}", p.read)
                                } else {
                                    format!("{listed}…")
                                }
                            })
                            // Reads that never answered have no age: "not read", as the
                            // footer says it (not "stale 8s", the time it has been failing).
                            .unwrap_or_else(|| {
                                match matches!(h, RegionHealth::Stale { .. })
                                    && r.failing_never_read()
                                {
                                    true => "not read".to_string(),
                                    false => health_label(&h),
                                }
                            }),
                    ),
                    // An inventory that never answered counts nothing: unknown, not 0.
                    Cell::from(
                        Line::from(match r.inventory_loaded {
                            true => r.functions.len().to_string(),
                            false => missing(),
                        })
                        .right_aligned(),
                    ),
                    Cell::from(
                        Line::from(
                            t.as_ref()
                                .map_or_else(missing, |t| format::count(t.invocations)),
                        )
                        .right_aligned(),
                    ),
                    Cell::from(
                        Line::from(
                            t.as_ref()
                                .map_or_else(missing, |t| format::percent(t.error_rate)),
                        )
                        .right_aligned(),
                    ),
                    Cell::from(
                        Line::styled(
                            t.as_ref()
                                .map_or_else(missing, |t| format::count(t.throttles)),
                            if t.as_ref().is_some_and(|t| t.throttles > 0.0) {
                                theme.bad()
                            } else {
                                Style::new()
                            },
                        )
                        .right_aligned(),
                    ),
                    Cell::from(
                        Line::styled(
                            alarms.map_or_else(missing, |n| n.to_string()),
                            if alarms.is_some_and(|n| n > 0) {
                                theme.bad()
                            } else {
                                Style::new()
                            },
                        )
                        .right_aligned(),
                    ),
                    Cell::from(
                        Line::from(
                            r.calls_per_minute()
                                .map(format::count)
                                .unwrap_or_else(|| format::MISSING.into()),
                        )
                        .right_aligned(),
                    ),
                    Cell::from(Span::styled(fit(&error, error_width, theme), theme.bad())),
                ],
            ))
        })
        .collect();
    let header = Row::new(masked(
        shown,
        COLUMNS.iter().map(|c| Cell::from(c.title)).collect(),
    ))
    .style(theme.header());
    // The error gives way first: the scope column never loses the end of its name.
    let widths: Vec<Constraint> = COLUMNS
        .iter()
        .zip(shown)
        .filter(|(_, on)| *on)
        .map(|(c, _)| match (c.title, c.width) {
            ("LAST ERROR", _) => Constraint::Min(0),
            (_, Some(w)) => Constraint::Length(w as u16),
            (_, None) => Constraint::Length(scope_cells as u16),
        })
        .collect();
    let inner = block.inner(area);
    frame.render_widget(block, area);
    // More regions than lines: as many as fit (the header and a count line kept), the rest
    // counted, never dropped without a word.
    let room = usize::from(inner.height).saturating_sub(2);
    let mut rows = rows;
    let hidden = rows.len().saturating_sub(room.max(1));
    if hidden > 0 && rows.len() + 1 > usize::from(inner.height) {
        rows.truncate(rows.len() - hidden);
    }
    let hidden = state.regions.len() - rows.len();
    let table_rows = (rows.len() + 1) as u16;
    let [table_area, notes_area] =
        Layout::vertical([Constraint::Length(table_rows), Constraint::Min(0)]).areas(inner);
    frame.render_widget(
        Table::new(rows, widths).header(header).column_spacing(1),
        table_area,
    );
    if hidden > 0 {
        let text = format!(
            "… {hidden} more region{}: a taller screen shows them, `lops status` says each",
            if hidden == 1 { "" } else { "s" }
        );
        frame.render_widget(
            Paragraph::new(Line::styled(
                fit(&text, usize::from(notes_area.width), theme),
                theme.header(),
            )),
            notes_area,
        );
        return;
    }
    if !cut.is_empty() && notes_area.height > 1 {
        let [_, notes] =
            Layout::vertical([Constraint::Length(1), Constraint::Min(0)]).areas(notes_area);
        let lines = error_notes(
            cut,
            usize::from(notes.width),
            usize::from(notes.height),
            theme,
        );
        frame.render_widget(Paragraph::new(lines), notes);
    }
}

/// A column of the table: its title and width (`None`: the scope's, as long as its longest).
struct Column {
    title: &'static str,
    width: Option<usize>,
}

const COLUMNS: [Column; 10] = [
    Column {
        title: "",
        width: Some(1),
    },
    Column {
        title: "REGION",
        width: None,
    },
    Column {
        title: "DATA",
        width: Some(11),
    },
    Column {
        title: "FNS",
        width: Some(4),
    },
    Column {
        title: "INV",
        width: Some(6),
    },
    Column {
        title: "ERR%",
        width: Some(6),
    },
    Column {
        title: "THR",
        width: Some(5),
    },
    Column {
        title: "ALARM",
        width: Some(5),
    },
    Column {
        title: "API/MIN",
        width: Some(7),
    },
    Column {
        title: "LAST ERROR",
        width: Some(4),
    },
];

/// Left out first where `width` cannot hold every column with the scope whole: the calls a
/// region costs, the error (then said whole under the table), its function count, the
/// throttles.
const DROPPED_FIRST: [usize; 4] = [8, 9, 3, 6];

/// Which columns `width` holds, and the scope column's width: every column with the longest
/// scope whole where they fit; else the columns in [`DROPPED_FIRST`] left out one by one, then
/// the scope cut in the middle (to no fewer than 9), never cut by the table's edge.
fn columns(width: usize, longest: usize) -> ([bool; 10], usize) {
    let mut shown = [true; 10];
    let need = |shown: &[bool; 10], scope: usize| -> usize {
        COLUMNS
            .iter()
            .zip(shown)
            .filter(|(_, on)| **on)
            .map(|(c, _)| c.width.unwrap_or(scope) + 1)
            .sum::<usize>()
            - 1
    };
    for drop in DROPPED_FIRST {
        if need(&shown, longest) <= width {
            return (shown, longest);
        }
        shown[drop] = false;
    }
    let over = need(&shown, longest).saturating_sub(width);
    (shown, longest.saturating_sub(over).max(9.min(longest)))
}

/// The cells of the columns shown.
fn masked(shown: [bool; 10], cells: Vec<Cell<'_>>) -> Vec<Cell<'_>> {
    cells
        .into_iter()
        .zip(shown)
        .filter(|(_, on)| *on)
        .map(|(c, _)| c)
        .collect()
}

/// An error the table's column cuts, and the regions that have it word for word.
struct Cut {
    /// Unreachable first, then stale, then a function's read: what on-call needs first.
    rank: u8,
    scopes: Vec<String>,
    error: String,
}

/// The errors the column cuts, whole where the room under the table holds them: one error
/// shared by several regions is said once, an unreachable region's before a stale one's, and
/// when they do not all fit each keeps its first lines (its cut marked) and a last line says
/// how many are not shown and where every one is said whole.
fn error_notes(
    mut cut: Vec<Cut>,
    width: usize,
    height: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    cut.sort_by_key(|c| c.rank);
    let wrapped: Vec<Vec<String>> = cut
        .iter()
        .map(|c| {
            super::widgets::wrap_words(&format!("{}: {}", c.scopes.join(", "), c.error), width)
        })
        .collect();
    let needed: usize = wrapped.iter().map(Vec::len).sum();
    // Every line it needs, or one each (as many as fit, the last line kept for the count),
    // then what is left to each in turn.
    let mut room: Vec<usize> = vec![0; wrapped.len()];
    let mut more = "";
    if needed <= height {
        room = wrapped.iter().map(Vec::len).collect();
    } else {
        let mut left = height.saturating_sub(1);
        for r in room.iter_mut().take(left) {
            *r = 1;
        }
        left = left.saturating_sub(wrapped.len());
        for (r, lines) in room.iter_mut().zip(&wrapped) {
            let extra = (lines.len() - 1).min(left);
            if *r > 0 {
                *r += extra;
                left -= extra;
            }
        }
        more = "`lops status` says every region's error whole";
    }
    let mark = if theme.ascii { "~" } else { "…" };
    let mut out = Vec::new();
    for ((lines, &r), c) in wrapped.iter().zip(&room).zip(&cut) {
        let scopes = c.scopes.join(", ").chars().count() + 2;
        for (i, line) in lines.iter().take(r).enumerate() {
            let mut text = line.clone();
            if i + 1 == r && r < lines.len() {
                text = super::widgets::fit(&format!("{text}{mark}"), width, theme);
            }
            // The first line's regions in the header style, the error in the bad one.
            let (head, rest) = match i {
                0 => {
                    let at = text
                        .char_indices()
                        .nth(scopes)
                        .map_or(text.len(), |(b, _)| b);
                    (text[..at].to_string(), text[at..].to_string())
                }
                _ => (String::new(), text),
            };
            out.push(Line::from(vec![
                Span::styled(head, theme.header()),
                Span::styled(rest, theme.bad()),
            ]));
        }
    }
    if !more.is_empty() {
        let hidden = room.iter().filter(|&&r| r == 0).count();
        let cut_short = room
            .iter()
            .zip(&wrapped)
            .filter(|(r, l)| **r > 0 && **r < l.len())
            .count();
        let what = match (hidden, cut_short) {
            (0, n) => format!("{n} cut short here"),
            (h, 0) => format!("{h} more not shown"),
            (h, n) => format!("{n} cut short, {h} more not shown"),
        };
        out.push(Line::from(Span::styled(
            super::widgets::fit(&format!("{mark} {what}: {more}"), width, theme),
            theme.header(),
        )));
    }
    out
}
