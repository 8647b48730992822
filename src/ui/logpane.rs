//! The log pane: one function's log lines, newest at the bottom, platform lines dimmed and
//! failures marked.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;
use crate::state::State;

pub fn render(
    state: &State,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    region: usize,
    function: &str,
) {
    let scope = state
        .regions
        .get(region)
        .map(|r| r.scope.to_string())
        .unwrap_or_default();
    let Some(pane) = state.log_pane.as_ref() else {
        return;
    };
    // While its reads fail it is not following anything: said as retrying (the line under
    // the title says why).
    let failing = pane.error.is_some();
    let mode = if pane.paused {
        "PAUSED"
    } else if pane.scrolled > 0 {
        "scrolled"
    } else if failing {
        "retrying"
    } else {
        "following"
    };
    let mut title = vec![
        // Its name, fitted below to the room the rest leaves.
        Span::styled(String::new(), theme.title()),
        Span::raw(format!("{} {scope} {} ", theme.sep(), theme.sep())),
        Span::styled(
            format!("{mode} "),
            if pane.paused || failing {
                theme.warn()
            } else {
                theme.ok()
            },
        ),
    ];
    // How it follows: Live Tail (no polling), or polling where Live Tail is not available.
    match &pane.follow {
        crate::state::logpane::Follow::On {
            polling: None,
            live: false,
            ..
        } => title.push(Span::styled(
            format!("{} connecting to Live Tail ", theme.sep()),
            theme.dim(),
        )),
        // Nothing to tail until the function's log group is there.
        _ if pane.waiting.is_some() => title.push(Span::styled(
            format!("{} waiting for its log group ", theme.sep()),
            theme.dim(),
        )),
        crate::state::logpane::Follow::On {
            polling: None,
            sampled,
            live: true,
        } => {
            title.push(Span::raw(format!("{} live tail ", theme.sep())));
            if *sampled {
                title.push(Span::styled("sampled ", theme.warn()));
            }
        }
        crate::state::logpane::Follow::On {
            polling: Some(_), ..
        } => title.push(Span::styled(
            format!("{} polling (no Live Tail) ", theme.sep()),
            theme.warn(),
        )),
        crate::state::logpane::Follow::Off => {}
    }
    // Older lines let go (the pane keeps the last ones): said, never in silence.
    if pane.dropped > 0 {
        title.push(Span::styled(
            format!(
                "{} {} older left out (lops logs has them) ",
                theme.sep(),
                pane.dropped
            ),
            theme.warn(),
        ));
    }
    if !pane.filter.is_empty() {
        // A text match on the lines read, not a CloudWatch Logs pattern (`lops logs --filter`).
        title.push(Span::raw(format!(
            "{} text filter: {} ",
            theme.sep(),
            super::widgets::fit_middle(&pane.filter, 24, theme)
        )));
    }
    // A long name gives way (cut in its middle, marked) before the state and the region do.
    let rest: usize = title.iter().map(Span::width).sum();
    let room = usize::from(area.width.saturating_sub(2))
        .saturating_sub(rest + " logs  ".len())
        .max(12);
    title[0].content = format!(
        " logs {} ",
        super::widgets::fit_middle(function, room, theme)
    )
    .into();
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Line::from(title));
    let height = usize::from(area.height.saturating_sub(2));
    let visible = pane.visible();
    let mut lines: Vec<Line> = Vec::new();
    if let Some(e) = &pane.error {
        // Whole, over as many lines as it takes: the missing permission is at its end.
        let text = format!("read failed (retrying): {e}");
        let width = usize::from(area.width.saturating_sub(2)).max(1);
        for row in super::widgets::wrap_words(&text, width)
            .into_iter()
            .take(height.saturating_sub(1).max(1))
        {
            lines.push(Line::styled(row, theme.warn()));
        }
    }
    if let Some(w) = pane.waiting.as_ref().filter(|_| pane.error.is_none()) {
        // Whole: when it looks again is at its end.
        let width = usize::from(area.width.saturating_sub(2)).max(1);
        for row in super::widgets::wrap_words(w, width) {
            lines.push(Line::styled(row, theme.dim()));
        }
    }
    // Nothing to show because the read failed is not "no events".
    if visible.is_empty() && pane.error.is_none() && pane.waiting.is_none() {
        lines.push(Line::styled(
            if pane.last_read.is_none() || pane.in_flight && pane.lines.is_empty() {
                "reading the last 15 minutes…"
            } else if pane.filter.is_empty() {
                "no log events in the last 15 minutes"
            } else {
                "no line matches the filter"
            },
            theme.dim(),
        ));
    }
    let room = height.saturating_sub(lines.len());
    let width = usize::from(area.width.saturating_sub(2));
    // Scrolled past what the filter leaves: the oldest page, never an empty pane. That page
    // ends at the first event whose rows (a traceback takes several) fill the pane from the
    // oldest: counting one row per event stopped the scroll short of the oldest events.
    let mut filled = 0;
    let oldest_page = visible
        .iter()
        .position(|l| {
            filled += entry_rows(l, theme, width).len();
            filled >= room
        })
        .map_or(visible.len(), |i| i + 1);
    let end = visible
        .len()
        .saturating_sub(pane.scrolled)
        .max(oldest_page.min(visible.len()));
    // Rows from the newest up: a message of several lines (a traceback) takes a row for
    // each, so the newest line is never pushed off the bottom.
    let mut rows: Vec<Line> = Vec::new();
    for l in visible[..end].iter().rev() {
        if rows.len() >= room {
            break;
        }
        let mut entry = entry_rows(l, theme, width);
        let avail = room - rows.len();
        // The oldest event shown does not fit whole: its first rows and a row saying how many
        // are left out (it was cut with no mark, read as the whole event).
        if entry.len() > avail {
            let plural = |n: usize| if n == 1 { "" } else { "s" };
            if avail == 1 {
                // One row: the event's first, saying the rest is left out.
                let left = entry.len() - 1;
                entry.truncate(1);
                if let Some(first) = entry.first_mut() {
                    first.spans.push(Span::styled(
                        format!(" … +{left} row{}", plural(left)),
                        theme.dim(),
                    ));
                }
            } else {
                let left = entry.len() - (avail - 1);
                entry.truncate(avail - 1);
                entry.push(Line::styled(
                    format!(
                        "{}… {left} more row{} of this event",
                        " ".repeat(13),
                        plural(left)
                    ),
                    theme.dim(),
                ));
            }
        }
        rows.extend(entry.into_iter().rev());
    }
    lines.extend(rows.into_iter().rev());
    frame.render_widget(Paragraph::new(lines).block(block), area);
}

/// At most this many rows for one event: a longer message ends with how much more there is.
const EVENT_ROWS: usize = 6;

/// One log event's rows: its time, then its message cleaned for the terminal as `lops logs`
/// cleans it (escape sequences removed, other controls shown as `�`), each line of it on rows
/// of its own under the first, wrapped to `width` — never cut in silence: past
/// [`EVENT_ROWS`] the last row says how many characters are left out.
fn entry_rows(l: &crate::loglines::LogLine, theme: &Theme, width: usize) -> Vec<Line<'static>> {
    let style = if l.failure.is_some() {
        theme.bad()
    } else if l.report.is_some() || l.message.starts_with("START ") || l.message.starts_with("END ")
    {
        theme.dim()
    } else {
        ratatui::style::Style::default()
    };
    let time = format!("{} ", l.time.format("%H:%M:%S%.3f"));
    let indent = " ".repeat(time.chars().count());
    let text = compact(l);
    let message = crate::format::printable(&text, true);
    let room = width.saturating_sub(indent.chars().count()).max(10);
    // What the first row says before the message: a cold start, a failure in words (as `lops
    // logs` marks it: colour alone is lost under NO_COLOR). Wrapped with the message, so that
    // the first row is not longer than the others (its end was clipped).
    let cold = l
        .report
        .as_ref()
        .is_some_and(|r| r.init_duration_ms.is_some());
    let failure = match l.failure {
        Some("timeout") => "TIMEOUT ",
        Some(_) => "ERROR ",
        None => "",
    };
    let marks = format!("{}{failure}", if cold { "cold " } else { "" });
    let mut parts: Vec<String> = Vec::new();
    for (i, line) in message.trim_end_matches('\n').split('\n').enumerate() {
        let mut line = line.replace('\t', "  ");
        if i == 0 {
            line.insert_str(0, &marks);
        }
        // By columns: a row of wide characters (CJK, emoji) is twice as wide as its count.
        parts.extend(super::widgets::split_columns(&line, room));
    }
    let cut = parts.len() > EVENT_ROWS;
    if cut {
        let left: usize = parts[EVENT_ROWS - 1..]
            .iter()
            .map(|p| p.chars().count())
            .sum();
        parts.truncate(EVENT_ROWS - 1);
        parts.push(format!(
            "… {left} more characters (`lops logs` prints the whole line)"
        ));
    }
    let last = parts.len().saturating_sub(1);
    let mut out = Vec::new();
    for (n, part) in parts.into_iter().enumerate() {
        let mut spans = vec![Span::styled(
            if n == 0 { time.clone() } else { indent.clone() },
            theme.dim(),
        )];
        let mut part = part;
        if n == 0 && !marks.is_empty() && part.starts_with(&marks) {
            part.drain(..marks.len());
            if cold {
                spans.push(Span::styled("cold ", theme.warn()));
            }
            if !failure.is_empty() {
                spans.push(Span::styled(failure, theme.bad()));
            }
        }
        let said = cut && n == last;
        spans.push(Span::styled(part, if said { theme.dim() } else { style }));
        out.push(Line::from(spans));
    }
    out
}

/// Platform lines shortened to what matters on a narrow screen: the request id's first block,
/// and REPORT's numbers.
fn compact(l: &crate::loglines::LogLine) -> String {
    let short_id = |m: &str| {
        m.split("RequestId: ")
            .nth(1)
            .and_then(|rest| rest.split(['-', ' ', '\t']).next())
            .unwrap_or("")
            .to_string()
    };
    let m = l.message.as_str();
    if let Some(r) = &l.report {
        let num = |v: Option<f64>| v.map_or("?".to_string(), |x| format!("{x:.0}"));
        // The JSON log format's report carries its id as a field, not in its text.
        let id = match &r.request_id {
            Some(id) => id.split(['-', ' ', '\t']).next().unwrap_or("").to_string(),
            None => short_id(m),
        };
        let mut text = format!(
            "REPORT {id} {} ms, {}/{} MB",
            num(r.duration_ms),
            num(r.max_memory_used_mb),
            num(r.memory_size_mb)
        );
        if let Some(init) = r.init_duration_ms {
            text.push_str(&format!(", init {init:.0} ms"));
        }
        return text;
    }
    if m.starts_with("START ") {
        return format!("START {}", short_id(m));
    }
    if m.starts_with("END ") {
        return format!("END {}", short_id(m));
    }
    m.to_string()
}
