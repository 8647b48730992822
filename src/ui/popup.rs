//! Popups drawn over the view: help (generated from the keymap in force) and notices.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::theme::Theme;
use crate::ops::Confirmation;
use crate::state::{Popup, State};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    if let Some(crate::state::Input::Payload(text)) = &state.input {
        payload_editor(state, text, theme, frame, area);
        return;
    }
    match &state.popup {
        None => {}
        Some(Popup::Help) => help(state, theme, frame, area),
        Some(Popup::Notice(text)) => {
            // A long notice (a batch with nothing to change) keeps what fits.
            let room = usize::from(area.height.saturating_sub(5)).max(2);
            let inner = usize::from(area.width.saturating_sub(6)).max(1);
            let all: Vec<String> = text.lines().map(str::to_string).collect();
            let mut lines: Vec<Line> = fitted(&all, room, inner)
                .into_iter()
                .map(Line::raw)
                .collect();
            lines.push(Line::styled("enter or esc closes", theme.dim()));
            boxed(frame, theme, area, " notice ", lines);
        }
        Some(Popup::Working(text)) => {
            // Its keys line too: esc hides it, the action goes on and its result shows.
            let lines = vec![
                Line::raw(text.clone()),
                Line::styled("working… · esc hides this (it goes on)", theme.dim()),
            ];
            boxed(frame, theme, area, " running ", lines);
        }
        Some(Popup::Batch) => super::batch::render(state, theme, frame, area),
        Some(Popup::Confirm(pending)) => {
            let mut lines: Vec<Line> = Vec::new();
            // A long batch keeps its headline and shows its targets a screenful at a time.
            if let Some(head) = pending.lines.first() {
                lines.push(Line::styled(head.clone(), theme.header()));
            }
            let body = pending.lines.get(1..).unwrap_or_default();
            let (start, end) = pending.window((area.width, area.height));
            if start > 0 {
                lines.push(Line::styled(
                    format!("{start} more above (Up or PgUp)"),
                    theme.dim(),
                ));
            }
            lines.extend(body[start..end].iter().map(|l| Line::raw(l.clone())));
            if end < body.len() {
                lines.push(Line::styled(
                    format!("{} more below (Down or PgDn)", body.len() - end),
                    theme.dim(),
                ));
            }
            if pending.production {
                lines.push(Line::styled("production profile", theme.bad()));
            }
            if let Some(w) = &pending.warning {
                lines.push(Line::styled(w.clone(), theme.bad()));
            }
            lines.push(Line::raw(""));
            let unseen = pending.unseen();
            if unseen > 0 && pending.confirmation != Confirmation::None {
                // Not "more below": lines seen on a taller screen are below now too. Confirmed
                // too early: said that it waits for them (the key seemed to do nothing).
                let (text, style) = match pending.early {
                    true => (
                        format!(
                            "not confirmed: {unseen} not yet shown — see them (Down or PgDn), \
                             then confirm"
                        ),
                        theme.bad(),
                    ),
                    false => (
                        format!(
                            "{unseen} not yet shown: see them before confirming (Down or PgDn)"
                        ),
                        theme.warn(),
                    ),
                };
                lines.push(Line::styled(text, style));
            }
            match &pending.confirmation {
                Confirmation::Typed(name) => {
                    // Quoted, as the CLI asks: "type 2 targets" read as "type 2".
                    lines.push(Line::raw(format!("type \"{name}\" and press enter:")));
                    lines.push(Line::styled(format!("> {}_", pending.typed), theme.title()));
                    if pending.mismatch {
                        lines.push(Line::styled(
                            format!("'{}' is not \"{name}\": nothing done", pending.typed),
                            theme.bad(),
                        ));
                    }
                    lines.push(Line::styled("esc cancels", theme.dim()));
                }
                Confirmation::None => lines.push(Line::styled("enter or esc closes", theme.dim())),
                Confirmation::Yes => {
                    lines.push(Line::styled("y confirms · esc or n cancels", theme.dim()))
                }
            }
            if crate::state::widens(state, pending) {
                lines.push(Line::styled(
                    "tab: the same in every region with this function",
                    theme.dim(),
                ));
            }
            // Already as asked: nothing to confirm, said so in the title too.
            let title = match pending.confirmation {
                Confirmation::None => " nothing to do ",
                _ => " confirm ",
            };
            boxed(frame, theme, area, title, lines);
        }
    }
}

/// What of `lines` fits in `room` rows of `width` columns (long lines wrap): all of them, or
/// the first and the last with "… N more here" between (see [`ends`]).
fn fitted(lines: &[String], room: usize, width: usize) -> Vec<String> {
    let rows = |l: &String| {
        unicode_width::UnicodeWidthStr::width(l.as_str())
            .max(1)
            .div_ceil(width.max(1))
    };
    if lines.iter().map(rows).sum::<usize>() <= room {
        return lines.to_vec();
    }
    // One row for the line that says what is left out.
    let (start, end) = ends(lines, rows, room.saturating_sub(1));
    let mut shown = lines[..start].to_vec();
    shown.push(left_out(end - start));
    shown.extend(lines[end..].iter().cloned());
    shown
}

/// Which lines stay when they take more than `budget` rows: the first `start` and those from
/// `end` on. The middle gives way: the first lines say what happened, the last ones how it
/// ended (a failed invoke's log tail ends with its error). The last get two thirds of the
/// rows, the first line always stays.
fn ends<T>(lines: &[T], rows: impl Fn(&T) -> usize, budget: usize) -> (usize, usize) {
    let mut end = lines.len();
    let mut used = 0;
    // The last line stays whenever it fits beside the first (a long last line — a one-line
    // stack trace — is how it ended), the others within two thirds of the rows.
    let first = lines.first().map_or(0, &rows);
    while end > 1 {
        let r = rows(&lines[end - 1]);
        let room = match end == lines.len() {
            true => budget.saturating_sub(first),
            false => budget * 2 / 3,
        };
        if used + r > room {
            break;
        }
        used += r;
        end -= 1;
    }
    let mut start = 0;
    while start < end && used + rows(&lines[start]) <= budget {
        used += rows(&lines[start]);
        start += 1;
    }
    (start, end)
}

/// The line said where `n` lines are left out.
fn left_out(n: usize) -> String {
    format!("… {n} more line{} here", if n == 1 { "" } else { "s" })
}

/// The invoke payload being typed, with its JSON checked as it is typed.
fn payload_editor(state: &State, text: &str, theme: &Theme, frame: &mut Frame, area: Rect) {
    let prompt =
        crate::state::actions::input_prompt(state, &crate::state::Input::Payload(String::new()));
    let mut lines = vec![Line::styled(
        prompt.trim().replace(" · payload (JSON):", " with:"),
        theme.header(),
    )];
    // The end of the payload (where the cursor is) stays on screen with the keys line: a
    // longer one (a pasted document) shows how many lines are above.
    // Each line on one row: a long one is cut (its end, where the cursor is, for the last).
    let payload: Vec<&str> = text.split('\n').collect();
    let room = usize::from(area.height.saturating_sub(7)).max(1);
    let width = usize::from(area.width.saturating_sub(8)).max(10);
    let shown = if payload.len() > room {
        let shown = room.saturating_sub(1).max(1);
        lines.push(Line::styled(
            format!("… {} lines above", payload.len() - shown),
            theme.dim(),
        ));
        &payload[payload.len() - shown..]
    } else {
        &payload[..]
    };
    for (n, l) in shown.iter().enumerate() {
        // As pasted, never run by the terminal: a control character is `�`, a tab `→`
        // (drawn, so the column a refusal names can be found).
        let tab = if theme.ascii { ">" } else { "→" };
        let l = crate::format::one_for_one(&l.replace('\t', tab));
        lines.push(Line::raw(if n + 1 == shown.len() {
            super::widgets::fit_end(&l, width.saturating_sub(1), theme)
        } else {
            super::widgets::fit(&l, width, theme)
        }));
    }
    if let Some(last) = lines.last_mut() {
        last.spans.push(Span::styled("_", theme.title()));
    }
    lines.push(Line::raw(""));
    // Checked as enter will check it (one rule in the core): a number no double holds is said
    // as such, not as JSON still being typed.
    // Too large for Lambda (the dashboard invokes synchronously) is said before enter too.
    let size = crate::ops::payload::check_payload_size(text.len() as u64, false);
    match size.and_then(|()| crate::ops::payload::check_json(text, "the payload", "")) {
        Ok(()) => lines.push(Line::styled(
            "valid JSON · enter previews · tab: alias/version · esc cancels",
            theme.ok(),
        )),
        Err(e) if !e.starts_with("the payload is not valid JSON") => {
            lines.push(Line::styled(e, theme.warn()))
        }
        Err(e) => lines.push(Line::styled(
            format!(
                "not JSON yet: {}",
                e.trim_start_matches("the payload is not valid JSON: ")
            ),
            theme.warn(),
        )),
    }
    boxed(frame, theme, area, " payload ", lines);
}

pub(super) fn boxed(frame: &mut Frame, theme: &Theme, area: Rect, title: &str, lines: Vec<Line>) {
    // In ASCII, what one character would misread (`≤` is not `<`) is spelled out before the
    // box is measured (the screen's own mapping can only swap one cell for one).
    let lines: Vec<Line> = if theme.ascii {
        lines
            .into_iter()
            .map(|l| {
                let spans: Vec<Span> = l
                    .spans
                    .iter()
                    .map(|s| {
                        Span::styled(crate::format::ascii_text(&s.content).into_owned(), s.style)
                    })
                    .collect();
                Line::from(spans).style(l.style)
            })
            .collect()
    } else {
        lines
    };
    let longest = lines.iter().map(Line::width).max().unwrap_or(20) as u16;
    let width = (longest + 4).clamp(24, area.width.saturating_sub(4).max(24));
    // Lines longer than the box wrap between words: count the rows they take that way (by
    // cells alone, a wrapped line took more rows than counted and the last one — the keys to
    // answer with — fell off the box).
    let inner = usize::from(width.saturating_sub(2)).max(1);
    let rows_of = |l: &Line| {
        let text: String = l.spans.iter().map(|s| s.content.as_ref()).collect();
        crate::format::wrap(&text, inner).len().max(1)
    };
    let mut lines = lines;
    let mut rows: usize = lines.iter().map(rows_of).sum();
    // More than the screen holds: the last line (the keys to answer with) stays, and what is
    // left out is said, never cut in silence. The middle gives way: the first lines say what
    // happened, the last ones how it ended (a failed invoke's log tail ends with its error).
    let room = usize::from(area.height.saturating_sub(2));
    if rows > room && lines.len() > 2 {
        let last = lines.pop().unwrap_or_default();
        let budget = room.saturating_sub(rows_of(&last) + 1);
        let (start, end) = ends(&lines, rows_of, budget);
        let mut kept: Vec<Line> = lines[..start].to_vec();
        kept.push(Line::styled(left_out(end - start), theme.dim()));
        kept.extend(lines[end..].iter().cloned());
        kept.push(last);
        lines = kept;
        rows = lines.iter().map(rows_of).sum();
    }
    let rect = centered(area, width, rows as u16 + 2);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).wrap(Wrap { trim: false }).block(
            Block::bordered()
                .border_set(theme.border())
                .title(Span::styled(title.to_string(), theme.title())),
        ),
        rect,
    );
}

fn centered(area: Rect, width: u16, height: u16) -> Rect {
    let width = width.min(area.width);
    let height = height.min(area.height);
    Rect {
        x: area.x + (area.width - width) / 2,
        y: area.y + (area.height - height) / 2,
        width,
        height,
    }
}

fn help(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let entries = crate::state::help_entries(state);
    let (key_width, longest) = crate::state::help_widths(&entries);
    let rows_free = usize::from(area.height.saturating_sub(2)).max(1);
    // Two columns where both fit whole; else one, each description wrapped under itself (never
    // cut), paging by entry with ↑ ↓ PgUp PgDn.
    if entries.len() <= rows_free * 2 && usize::from(area.width) >= 2 * longest + 4 {
        let columns = if entries.len() <= rows_free { 1 } else { 2 };
        let per_column = entries.len().div_ceil(columns);
        let width = if columns == 1 {
            (longest as u16 + 2).min(area.width)
        } else {
            area.width
        };
        let rect = centered(area, width, (per_column as u16 + 2).min(area.height));
        frame.render_widget(Clear, rect);
        let block = Block::bordered()
            .border_set(theme.border())
            .title(Span::styled(" keys (any key closes) ", theme.title()));
        let inner = block.inner(rect);
        frame.render_widget(block, rect);
        let halves = ratatui::layout::Layout::horizontal(vec![
            ratatui::layout::Constraint::Ratio(
                1,
                columns as u32
            );
            columns
        ])
        .split(inner);
        for (c, column) in halves.iter().enumerate() {
            let lines: Vec<Line> = entries
                [(c * per_column).min(entries.len())..((c + 1) * per_column).min(entries.len())]
                .iter()
                .map(|(keys, what)| {
                    Line::from(vec![
                        Span::styled(format!("{keys:>key_width$}  "), theme.title()),
                        Span::raw(what.clone()),
                    ])
                })
                .collect();
            frame.render_widget(Paragraph::new(lines), *column);
        }
        return;
    }
    let width = (longest as u16 + 2).min(area.width);
    let rect = centered(area, width, area.height);
    frame.render_widget(Clear, rect);
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(
            " keys (Up Down PgUp PgDn page · any other key closes) ",
            theme.title(),
        ));
    let inner = block.inner(rect);
    frame.render_widget(block, rect);
    let (_, text_width, room) = crate::state::help_layout(state);
    let start = state.help_scroll.min(crate::state::help_last_start(state));
    let mut lines: Vec<Line> = Vec::new();
    let mut end = start;
    for (keys, what) in &entries[start..] {
        let wrapped = crate::format::wrap(what, text_width);
        if !lines.is_empty() && lines.len() + wrapped.len() > room {
            break;
        }
        for (i, part) in wrapped.into_iter().enumerate() {
            let key = if i == 0 { keys.as_str() } else { "" };
            lines.push(Line::from(vec![
                Span::styled(format!("{key:>key_width$}  "), theme.title()),
                Span::raw(part),
            ]));
        }
        end += 1;
    }
    lines.truncate(room);
    lines.push(Line::styled(
        format!("{start} above · {} below", entries.len() - end),
        theme.dim(),
    ));
    frame.render_widget(Paragraph::new(lines), inner);
}

#[cfg(test)]
mod tests {
    use super::fitted;

    #[test]
    fn a_long_notice_keeps_its_first_and_last_lines_and_says_how_many_between() {
        let lines: Vec<String> = (0..30)
            .map(|i| format!("target {i} {}", "x".repeat(i % 3 * 40)))
            .collect();
        let shown = fitted(&lines, 10, 50);
        let rows: usize = shown
            .iter()
            .map(|l| l.chars().count().max(1).div_ceil(50))
            .sum();
        assert!(rows <= 10, "{shown:?}");
        assert_eq!(shown[0], lines[0]);
        assert_eq!(shown.last(), lines.last());
        let said = shown
            .iter()
            .find(|l| l.starts_with('…'))
            .cloned()
            .unwrap_or_default();
        assert_eq!(
            said,
            format!("… {} more lines here", 30 - (shown.len() - 1))
        );
        assert_eq!(fitted(&lines[..2], 10, 50), lines[..2].to_vec());
    }

    /// A last line taller than two thirds of the rows (a one-line stack trace) still stays,
    /// with the first: how it ended and what happened.
    #[test]
    fn a_long_last_line_stays_with_the_first() {
        let mut lines: Vec<String> = (0..20).map(|i| format!("line {i}")).collect();
        lines.push(format!("Traceback {}", "x".repeat(300)));
        let shown = fitted(&lines, 10, 50);
        assert_eq!(shown.first(), lines.first(), "{shown:?}");
        assert_eq!(shown.last(), lines.last(), "{shown:?}");
        let rows: usize = shown
            .iter()
            .map(|l| l.chars().count().max(1).div_ceil(50))
            .sum();
        assert!(rows <= 10, "{shown:?}");
    }

    /// Any popup taller than the screen keeps its last line (the keys to answer with) and says
    /// what it leaves out.
    #[test]
    fn a_popup_taller_than_the_screen_keeps_its_keys_line() {
        use ratatui::text::Line;
        let theme = crate::ui::theme::Theme::detect(true, false);
        let mut terminal =
            ratatui::Terminal::new(ratatui::backend::TestBackend::new(60, 15)).expect("terminal");
        let mut lines: Vec<Line> = (0..30).map(|i| Line::raw(format!("row {i}"))).collect();
        lines.push(Line::raw("y confirms · esc cancels"));
        terminal
            .draw(|frame| {
                let area = frame.area();
                super::boxed(frame, &theme, area, " test ", lines.clone());
            })
            .expect("draw");
        let screen: String = terminal
            .backend()
            .buffer()
            .content()
            .chunks(60)
            .map(|row| row.iter().map(|c| c.symbol()).collect::<String>() + "\n")
            .collect();
        assert!(screen.contains("row 0"), "{screen}");
        assert!(screen.contains("y confirms · esc cancels"), "{screen}");
        assert!(screen.contains("more lines here"), "{screen}");
        // The middle gives way: the last lines stay (how it ended).
        assert!(screen.contains("row 29"), "{screen}");
        assert!(!screen.contains("row 15"), "{screen}");
    }
}
