//! The popup of a batch running or done: each target as it answers, then what the whole batch
//! did; a list longer than the screen pages (↑ ↓ PgUp PgDn), never cut for good.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::Line;

use super::popup::boxed;
use super::theme::Theme;
use crate::state::{Action, State};

/// A batch running: each target as it answers, then what the whole batch did.
pub(super) fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let Some(run) = &state.batch_run else {
        return;
    };
    let (ok, failed) = if theme.ascii {
        ("ok", "X")
    } else {
        ("✓", "✗")
    };
    let not_sent = theme.marks()[1];
    let mut lines = vec![Line::styled(run.batch.headline(), theme.header())];
    // Each row with its rank: what went wrong first when not every row has room.
    let mut rows: Vec<(u8, Line)> = Vec::new();
    for (index, item) in run.batch.items.iter().enumerate() {
        let Some(plan) = item.plan() else { continue };
        let what = format!("{} {}", plan.target, plan.place());
        let landed = run.landed.iter().find(|(i, _)| *i == index);
        let rank = match landed {
            Some((
                _,
                Err(crate::ops::OpsError::Conflict(_) | crate::ops::OpsError::Refused(_)),
            )) => 1,
            Some((_, Err(_))) => 0,
            None => 2,
            Some((_, Ok(_))) => 3,
        };
        rows.push((
            rank,
            match landed {
                None => Line::styled(format!("… {what}"), theme.dim()),
                // An invoke changed nothing: what it answered.
                Some((
                    _,
                    Ok(crate::ops::Outcome {
                        invoke: Some((inv, report)),
                        ..
                    }),
                )) => {
                    let mut fields: Vec<String> = crate::ops::invoke_summary(inv, report.as_ref())
                        .into_iter()
                        .map(|(label, value)| format!("{label} {value}"))
                        .collect();
                    // What it answered, as one invoke's notice says it (cut shorter here: one
                    // line of a list; `lops invoke` prints it whole).
                    // Only its start is shown: cut before it is cleaned, not every frame over
                    // the whole answer (up to 6 MB a region).
                    let body = String::from_utf8_lossy(&inv.payload[..inv.payload.len().min(1024)]);
                    let body = crate::format::printable(&body, false).replace('\t', " ");
                    fields.push(format!(
                        "response {}",
                        super::widgets::fit(&body, 120, theme)
                    ));
                    // The function's own error is a failed invoke (as the summary counts it
                    // and the CLI says it), also without colour.
                    let (mark, style) = if inv.function_error.is_some() {
                        (failed, theme.bad())
                    } else {
                        (ok, theme.ok())
                    };
                    Line::styled(format!("{mark} {what}: {}", fields.join(", ")), style)
                }
                Some((_, Ok(o))) if plan.change == crate::ops::Change::Nothing => {
                    Line::raw(format!(
                        "{ok} {what}: already {}",
                        crate::ops::plan::describe_state(&o.after)
                    ))
                }
                Some((_, Ok(o))) => Line::styled(
                    format!(
                        "{ok} {what}: now {}",
                        crate::ops::plan::describe_state(&o.after)
                    ),
                    theme.ok(),
                ),
                // Refused at its write: nothing sent there, not a failed write.
                Some((
                    _,
                    Err(e @ (crate::ops::OpsError::Conflict(_) | crate::ops::OpsError::Refused(_))),
                )) => Line::styled(format!("{not_sent} {what}: not sent: {e}"), theme.warn()),
                Some((_, Err(e))) => Line::styled(format!("{failed} {what}: {e}"), theme.bad()),
            },
        ));
    }
    rows.extend(
        run.batch
            .skipped()
            .map(|i| (4, Line::styled(i.short(), theme.dim()))),
    );
    let room = usize::from(area.height.saturating_sub(8)).max(2);
    let inner = usize::from(area.width.saturating_sub(6)).max(1);
    let cost = |l: &Line| l.width().max(1).div_ceil(inner);
    if rows.iter().map(|(_, l)| cost(l)).sum::<usize>() > room {
        // Failed, then not sent, then waiting, then done, then skipped: a failure at the end
        // of a long batch is never only a count under the popup's edge.
        rows.sort_by_key(|(rank, _)| *rank);
    }
    let rows: Vec<Line> = rows.into_iter().map(|(_, l)| l).collect();
    lines.extend(window(rows, run.scroll, room, cost, theme));
    lines.push(Line::raw(""));
    if run.done() {
        let summary = run.batch.summary(&run.landed);
        let style = if summary.complete() {
            theme.ok()
        } else {
            theme.warn()
        };
        // An invoke changes nothing: said as invoked, as the CLI's summary says it.
        let verb = if summary.invoked {
            "invoked"
        } else {
            "changed"
        };
        let mut line = format!(
            "done: {verb} {} of {}",
            summary.changed.len(),
            summary.targets()
        );
        if !summary.failed.is_empty() {
            line.push_str(&format!(", {} failed", summary.failed.len()));
        }
        if !summary.not_sent.is_empty() {
            line.push_str(&format!(
                ", {} not sent (changed since the preview, or refused)",
                summary.not_sent.len()
            ));
        }
        if !summary.skipped.is_empty() {
            line.push_str(&format!(", {} skipped", summary.skipped.len()));
        }
        if summary.already > 0 {
            line.push_str(&format!(", {} already so", summary.already));
        }
        lines.push(Line::styled(line, style));
        // Only a batch asked of the marks retries them with its key (an undo's targets are
        // its records, whatever is marked).
        let same = |a: usize, b: usize| state.same_account(a, b);
        let kept = state.marks.iter().filter(|m| run.keeps(m, &same)).count();
        if kept > 0 && !run.marked.is_empty() {
            lines.push(Line::styled(
                format!(
                    "the {kept} not known to have landed {} marked: the same key previews {} \
                     again, as {} now, and retries",
                    if kept == 1 { "stays" } else { "stay" },
                    if kept == 1 { "it" } else { "them" },
                    if kept == 1 { "it is" } else { "they are" }
                ),
                theme.warn(),
            ));
        }
        // An undo is not undone in turn, nor is a batch that changed nothing: only the close
        // keys then.
        lines.push(Line::styled(
            if !crate::ops::undo::UNDOABLE.contains(&run.batch.action.as_str())
                || summary.changed.is_empty()
            {
                "enter or esc closes".to_string()
            } else {
                format!(
                    "{} undoes it · enter or esc closes",
                    state.keymap.first_key(Action::Undo)
                )
            },
            theme.dim(),
        ));
    } else {
        lines.push(Line::styled(
            format!(
                "running: {} of {} answered…",
                run.landed.len(),
                run.batch
                    .items
                    .iter()
                    .filter(|i| i.plan().is_some())
                    .count()
            ),
            theme.dim(),
        ));
    }
    boxed(frame, theme, area, " batch ", lines);
}

/// The rows from `scroll` on that fit in `room` rows (each `cost` rows high), saying how many
/// are above and below and the keys that show them. A scroll past the end shows the last page.
fn window<'a>(
    rows: Vec<Line<'a>>,
    scroll: usize,
    room: usize,
    cost: impl Fn(&Line) -> usize,
    theme: &Theme,
) -> Vec<Line<'a>> {
    if rows.iter().map(&cost).sum::<usize>() <= room {
        return rows;
    }
    // Two rows for the lines that say what is above and below.
    let page = room.saturating_sub(2).max(1);
    let fits_from = |start: usize| {
        let mut used = 0;
        rows[start..]
            .iter()
            .take_while(|l| {
                used += cost(l);
                used <= page
            })
            .count()
            .max(1)
    };
    // The first start whose page reaches the end: scrolling stops there.
    let last = (0..rows.len())
        .find(|&start| start + fits_from(start) >= rows.len())
        .unwrap_or(rows.len() - 1);
    let start = scroll.min(last);
    let end = (start + fits_from(start)).min(rows.len());
    let mut out = Vec::new();
    if start > 0 {
        out.push(Line::styled(
            format!("{start} more above (Up or PgUp)"),
            theme.dim(),
        ));
    }
    out.extend(rows[start..end].iter().cloned());
    if end < rows.len() {
        out.push(Line::styled(
            format!("{} more below (Down or PgDn)", rows.len() - end),
            theme.dim(),
        ));
    }
    out
}
