//! One function: configuration, versions, aliases and weights, alarms, and 60-minute charts.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph, Sparkline};

use super::theme::Theme;
use crate::format;
use crate::provider::{AlarmState, FunctionInfo, FunctionMetrics, Series, WindowStats};
use crate::state::State;

/// Title, series, how to format its values, where to draw it.
type Chart<'a> = (&'a str, &'a Series, fn(Option<f64>) -> String, Rect);

pub fn render(
    state: &State,
    theme: &Theme,
    frame: &mut Frame,
    area: Rect,
    region: usize,
    name: &str,
) {
    let block = |title: String| bordered(theme, title);
    let Some(r) = state.regions.get(region) else {
        return;
    };
    let Some(f) = r.function(name) else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!("{name} is no longer in {}", r.scope),
                theme.dim(),
            ))
            .block(block(format!(" {name} "))),
            area,
        );
        return;
    };
    // Too short for the charts (each needs a row inside its frame): the configuration and
    // its side get the room, and one line says where the charts went.
    let charts_fit = area.height >= 10 + CHARTS_MIN_ROWS;
    let [info_area, charts_area] = if charts_fit {
        Layout::vertical([Constraint::Length(10), Constraint::Min(4)]).areas(area)
    } else {
        Layout::vertical([Constraint::Min(4), Constraint::Length(1)]).areas(area)
    };
    let [left, right] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)])
            .areas(info_area);
    let s = f.stats(state.window);
    let i = &f.info;
    // What the inventory left for on demand: being read, or why it could not be.
    let extras = state
        .trigger_pane
        .as_ref()
        .filter(|p| p.region == region && p.function == name)
        .map(|p| p.extras.clone());
    let unread = match &extras {
        Some(Some(Err(_))) => "not read".to_string(),
        Some(None) => "reading…".to_string(),
        _ => "not read yet".to_string(),
    };
    let inner = usize::from(left.width.saturating_sub(2));
    let config: Vec<Line> = config_lines(state, r, i, (&s, f.metrics.is_some()), &unread, theme)
        .into_iter()
        .map(|l| Line::from(super::cut_at_words(l.spans, inner, theme)).style(l.style))
        .collect();
    // Cut in the middle, as the fleet's rows are: two long names that differ at their end
    // (`…-v2-primary`, `…-v2-replica`) stay told apart.
    let title = super::widgets::fit_middle(name, usize::from(left.width.saturating_sub(4)), theme);
    frame.render_widget(
        Paragraph::new(config).block(block(format!(" {title} "))),
        left,
    );

    let (side, failures) = side_lines(state, r, i, name, &extras, &unread, theme);
    let side = fit_side(
        side,
        &failures,
        usize::from(right.width.saturating_sub(2)),
        usize::from(right.height.saturating_sub(2)),
        theme,
    );
    frame.render_widget(
        // Wrapped: a failed read's reason (the permission missing) is at the end of its line.
        Paragraph::new(side)
            .wrap(ratatui::widgets::Wrap { trim: false })
            .block(block(" aliases · alarms · triggers ".into())),
        right,
    );

    if !charts_fit {
        frame.render_widget(
            Paragraph::new(Line::styled(
                format!(
                    "charts left out: {} more rows show them",
                    10 + CHARTS_MIN_ROWS - area.height
                ),
                theme.dim(),
            )),
            charts_area,
        );
        return;
    }
    let Some(m) = &f.metrics else {
        // A metrics read that fails is said with why (its call, the setting that would help),
        // not as a wait that never ends.
        let line = match r.read_error(crate::state::Read::Metrics) {
            // Said as the regions view says it: `metrics: GetMetricData timed out … — raise …`.
            Some(why) => Line::styled(why.to_string(), theme.warn()),
            None => Line::styled("waiting for metrics…", theme.dim()),
        };
        frame.render_widget(
            Paragraph::new(line)
                .wrap(ratatui::widgets::Wrap { trim: false })
                .block(block(" last 60 minutes ".into())),
            charts_area,
        );
        return;
    };
    // Numbers kept from an earlier read while the read fails: said, with why, above them.
    let stale = r
        .read_error(crate::state::Read::Metrics)
        .filter(|_| !r.numbers_current(f));
    let charts_area = match stale {
        Some(why) => {
            let [note, rest] =
                Layout::vertical([Constraint::Length(2), Constraint::Min(0)]).areas(charts_area);
            // Two rows: a longer note is cut in its middle, marked (its end was cut off).
            let text = format!("as last read (stale): {why}");
            let rows = super::widgets::in_rows(&text, note.width.into(), 2, theme);
            let lines = rows.into_iter().map(|l| Line::styled(l, theme.warn()));
            frame.render_widget(Paragraph::new(lines.collect::<Vec<_>>()), note);
            rest
        }
        None => charts_area,
    };
    charts(frame, theme, m, charts_area);
}

/// The window's numbers in one line the pane holds at 80 columns (38): shorter words where
/// the numbers are long, never a number cut off.
fn numbers_line(window: &str, inv: &str, err: &str, thr: &str) -> String {
    let full = format!("{window}: {inv} inv  {err} errors  {thr} throttled");
    match full.chars().count() > 38 {
        true => format!("{window}: {inv} inv  {err} errors  {thr} thr"),
        false => full,
    }
}

/// The function's configuration and its numbers in the chosen window.
fn config_lines(
    state: &State,
    r: &crate::state::RegionState,
    i: &FunctionInfo,
    (s, metrics_read): (&WindowStats, bool),
    unread: &str,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let opt = |v: Option<String>| v.unwrap_or_else(|| format::MISSING.to_string());
    // Metrics never read for it: unknown, shown as –, never as 0.
    let number = |v: String| {
        if metrics_read {
            v
        } else {
            format::MISSING.to_string()
        }
    };
    vec![
        Line::from(format!("region   {}", r.scope)),
        Line::from(format!(
            "runtime  {} {} {} MB {} s",
            opt(i.runtime.clone()),
            i.package_type,
            opt(i.memory_mb.map(|m| m.to_string())),
            opt(i.timeout_s.map(|t| t.to_string()))
        )),
        Line::from(vec![
            Span::raw("state    "),
            Span::styled(
                i.state.clone(),
                if i.state == "Active" {
                    theme.ok()
                } else {
                    theme.bad()
                },
            ),
            Span::raw(format!("  update {}", opt(i.last_update_status.clone()))),
        ]),
        Line::from(format!(
            "reserved {}  account limit {}",
            if i.not_read.details && i.detail_error.is_some() {
                // Its GetFunction failed: nothing reads it again before the next inventory.
                "not read".to_string()
            } else if i.not_read.details {
                unread.to_string()
            } else {
                opt(i.reserved_concurrency.map(|c| c.to_string()))
            },
            match (&r.account_limit, &r.account_limit_error) {
                (Some(l), _) => l.to_string(),
                // Its read failed (the regions view says why): not "unknown".
                (None, Some(_)) => "not read".into(),
                (None, None) => "unknown".into(),
            }
        )),
        Line::from(format!(
            "provisioned {}",
            if i.not_read.provisioned {
                unread.to_string()
            } else if i.provisioned.is_empty() {
                "none".to_string()
            } else {
                i.provisioned
                    .iter()
                    .map(|p| {
                        format!(
                            "{} {}/{}",
                            p.qualifier,
                            opt(p.allocated.map(|n| n.to_string())),
                            opt(p.requested.map(|n| n.to_string()))
                        )
                    })
                    .collect::<Vec<_>>()
                    .join(", ")
            }
        )),
        {
            let (inv, err, thr) = (
                number(format::count(s.invocations)),
                number(format::percent(s.error_rate)),
                number(format::count(s.throttles)),
            );
            Line::from(numbers_line(state.window.label(), &inv, &err, &thr))
        },
        Line::from(format!(
            "duration {} p50 {} p99 {}",
            number(format::millis(s.duration_avg_ms)),
            number(format::millis(s.duration_p50_ms)),
            number(format::millis(s.duration_p99_ms))
        )),
        Line::from(format!(
            "versions {}",
            if i.versions.is_empty() {
                "none published".into()
            } else {
                i.versions.join(", ")
            }
        )),
    ]
}

/// Aliases with their weights, the function's alarms, tags, and its triggers.
fn side_lines(
    state: &State,
    r: &crate::state::RegionState,
    i: &FunctionInfo,
    name: &str,
    extras: &Option<Option<Result<(), String>>>,
    unread: &str,
    theme: &Theme,
) -> (Vec<Line<'static>>, Vec<usize>) {
    let mut side = Vec::new();
    // Failures say their call, their reason and what to do: long, they give way first (see
    // `fit_side`).
    let mut failures = Vec::new();
    // Its own reads failed in the last inventory: which call, and why.
    if let Some(why) = &i.detail_error {
        failures.push(side.len());
        side.push(Line::styled(format!("not read: {why}"), theme.warn()));
    }
    if i.not_read.aliases {
        side.push(Line::styled(format!("aliases {unread}"), theme.dim()));
    }
    if i.not_read.details {
        let unread = if i.detail_error.is_some() {
            "not read"
        } else {
            unread
        };
        side.push(Line::styled(format!("tags {unread}"), theme.dim()));
    }
    if let Some(Some(Err(e))) = &extras {
        failures.push(side.len());
        side.push(Line::styled(e.clone(), theme.warn()));
    }
    // A few aliases, so that the alarms, tags and triggers below (which `p` acts on) stay on
    // screen; the load view (3) shows every alias's split.
    const ALIASES_SHOWN: usize = 4;
    // With several, the one the traffic keys act on is marked (`a` picks another).
    let acted_on = crate::state::alias_choice::chosen(state, &i.aliases, &i.name)
        .ok()
        .flatten()
        .filter(|_| i.aliases.len() > 1)
        .map(|a| a.name.clone());
    for a in i.aliases.iter().take(ALIASES_SHOWN) {
        let weights: Vec<String> = a
            .configured_weights()
            .iter()
            .map(|(v, w)| format!("{} {}", format::version(v), format::weight(*w)))
            .collect();
        let mark = match acted_on.as_deref() == Some(a.name.as_str()) {
            true => "▸",
            false => "",
        };
        side.push(Line::from(format!(
            "{mark}alias {}: {}",
            a.name,
            weights.join(" / ")
        )));
    }
    if i.aliases.len() > ALIASES_SHOWN {
        side.push(Line::styled(
            format!(
                "… {} more aliases (the load view, 3, shows them)",
                i.aliases.len() - ALIASES_SHOWN
            ),
            theme.dim(),
        ));
    }
    // Unknown, not "no alarm"; failing, said with why; old, said as old.
    let alarms_failing = r.read_error(crate::state::Read::Alarms);
    if alarms_failing.is_some() {
        failures.push(side.len());
    }
    match (r.ever_read(crate::state::Read::Alarms), alarms_failing) {
        (false, None) => side.push(Line::styled("reading alarms…", theme.dim())),
        (false, Some(why)) => side.push(Line::styled(format!("not read: {why}"), theme.warn())),
        (true, Some(why)) => side.push(Line::styled(
            format!("as last read (stale): {why}"),
            theme.warn(),
        )),
        (true, None) => {}
    }
    for alarm in r
        .alarms
        .iter()
        .filter(|a| a.function.as_deref() == Some(name))
    {
        let style = match alarm.state {
            AlarmState::Alarm => theme.bad(),
            AlarmState::Ok => theme.ok(),
            AlarmState::InsufficientData => theme.dim(),
        };
        let word = match alarm.state {
            AlarmState::Alarm => "ALARM ",
            AlarmState::Ok => "OK ",
            // CloudWatch's INSUFFICIENT_DATA, as `lops status` says it (one line with its name).
            AlarmState::InsufficientData => "NO DATA ",
        };
        side.push(Line::from(vec![
            Span::styled(word, style),
            Span::raw(format::printable(&alarm.name, false).into_owned()),
        ]));
    }
    if !i.tags.is_empty() {
        // Tag values are anyone's text: shown, never run by the terminal.
        let tags: Vec<String> = i
            .tags
            .iter()
            .map(|(k, v)| {
                format!(
                    "{}={}",
                    format::printable(k, false),
                    format::printable(v, false)
                )
            })
            .collect();
        side.push(Line::styled(
            format!("tags {}", tags.join(" ")),
            theme.dim(),
        ));
    }
    // What was read and is not there, said (not left out, which reads like "not read").
    let mut none = Vec::new();
    if i.aliases.is_empty() && !i.not_read.aliases {
        none.push("aliases");
    }
    let alarms = r.alarms.iter().any(|a| a.function.as_deref() == Some(name));
    if !alarms && r.ever_read(crate::state::Read::Alarms) {
        none.push("alarms");
    }
    if i.tags.is_empty() && !i.not_read.details {
        none.push("tags");
    }
    if !none.is_empty() {
        let list = match none.as_slice() {
            [one] => one.to_string(),
            [rest @ .., last] => format!("{} or {last}", rest.join(", ")),
            [] => String::new(),
        };
        side.push(Line::styled(format!("no {list}"), theme.dim()));
    }
    let unread_triggers: &[String] = state.trigger_pane.as_ref().map_or(&[], |p| &p.unread);
    match state.trigger_pane.as_ref().map(|p| (&p.result, p.selected)) {
        None | Some((None, _)) => side.push(Line::styled("triggers: reading…", theme.dim())),
        Some((Some(Err(e)), _)) => {
            failures.push(side.len());
            side.push(Line::styled(
                format!(
                    "triggers: {e} (read again in {} s)",
                    crate::state::DETAIL_RETRY_SECS
                ),
                theme.warn(),
            ))
        }
        // Nothing listed while a part was not read: not "none".
        Some((Some(Ok(t)), _)) if t.is_empty() && !unread_triggers.is_empty() => {}
        Some((Some(Ok(t)), _)) if t.is_empty() => side.push(Line::styled(
            "no rules or event source mappings",
            theme.dim(),
        )),
        Some((Some(Ok(t)), selected)) => {
            for (n, tr) in t.iter().enumerate() {
                let cursor = match (n == selected, theme.ascii) {
                    (true, true) => ">",
                    (true, false) => "›",
                    _ => " ",
                };
                let name = match tr.kind {
                    crate::provider::TriggerKind::Rule => tr.id.clone(),
                    crate::provider::TriggerKind::Mapping => {
                        tr.source.rsplit(':').next().unwrap_or(&tr.id).to_string()
                    }
                };
                // A mapping being created or updated says so: neither on nor off yet.
                let (word, style) = match tr.known_enabled() {
                    Some(true) => ("on ".to_string(), theme.ok()),
                    Some(false) => ("OFF".to_string(), theme.warn()),
                    None => (tr.state.clone(), theme.dim()),
                };
                side.push(Line::from(vec![
                    Span::raw(format!("{cursor}{} ", tr.kind.as_str())),
                    Span::styled(word, style),
                    Span::raw(format!(
                        " {name} {}",
                        if tr.kind == crate::provider::TriggerKind::Rule {
                            tr.source.as_str()
                        } else {
                            // Bound to an alias: pausing it stops only that alias's traffic.
                            tr.detail
                                .split(", ")
                                .find(|p| p.starts_with("through "))
                                .unwrap_or("")
                        }
                    )),
                ]));
            }
        }
    }
    // What the read could not read, each with its call: the list above is short of it.
    if matches!(
        state.trigger_pane.as_ref().map(|p| &p.result),
        Some(Some(Ok(_)))
    ) {
        for why in unread_triggers {
            failures.push(side.len());
            side.push(Line::styled(format!("not read: {why}"), theme.warn()));
        }
    }
    (side, failures)
}

/// The side pane's lines in `width` x `height` rows: when they do not fit, the failures (at
/// `failures`) give way first — to two rows, then one, cut in the middle and marked, keeping
/// the read they name and what to do at their end — so that what was read below them (tags,
/// triggers) stays on screen. A wider terminal shows them whole.
fn fit_side(
    lines: Vec<Line<'static>>,
    failures: &[usize],
    width: usize,
    height: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let width = width.max(1);
    let rows = |l: &Line| {
        super::widgets::wrap_words(&l.to_string(), width)
            .len()
            .max(1)
    };
    if lines.iter().map(rows).sum::<usize>() <= height {
        return lines;
    }
    let cut = |lines: &[Line<'static>], most: usize| -> Vec<Line<'static>> {
        let mut out = Vec::new();
        for (n, l) in lines.iter().enumerate() {
            if !failures.contains(&n) || rows(l) <= most {
                out.push(l.clone());
                continue;
            }
            let style = l
                .style
                .patch(l.spans.first().map(|s| s.style).unwrap_or_default());
            // Cut in the middle: its start names the read, its end what to do.
            let kept = super::widgets::fit_middle(&l.to_string(), most * width, theme);
            out.extend(
                super::widgets::split_columns(&kept, width)
                    .into_iter()
                    .map(|row| Line::styled(row, style)),
            );
        }
        out
    };
    let two = cut(&lines, 2);
    if two.iter().map(rows).sum::<usize>() <= height {
        return two;
    }
    cut(&lines, 1)
}

/// Rows the four charts need at least: two rows of two, each a frame around one line.
const CHARTS_MIN_ROWS: u16 = 6;

/// The last hour's invocations, errors, duration and concurrency, each from its minimum up.
fn charts(frame: &mut Frame, theme: &Theme, m: &FunctionMetrics, area: Rect) {
    let charts_area = area;
    let block = |title: String| bordered(theme, title);
    let [top, bottom] = Layout::vertical([Constraint::Percentage(50), Constraint::Percentage(50)])
        .areas(charts_area);
    let [a, b] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(top);
    let [c, d] =
        Layout::horizontal([Constraint::Percentage(50), Constraint::Percentage(50)]).areas(bottom);
    let charts: [Chart; 4] = [
        (
            "invocations",
            &m.invocations,
            |v| format::count(v.unwrap_or(0.0)),
            a,
        ),
        ("errors", &m.errors, |v| format::count(v.unwrap_or(0.0)), b),
        ("duration avg", &m.duration_avg, format::millis, c),
        (
            "concurrency",
            &m.concurrency_max,
            |v| format::count(v.unwrap_or(0.0)),
            d,
        ),
    ];
    for (title, series, fmt, area) in charts {
        // As many of the last minutes as the chart is wide: its title says how many it shows
        // (a narrow one said 60m over its last 36) and their range, not the hour's.
        let width = usize::from(area.width.saturating_sub(2));
        let series: Vec<Option<f64>> = series.tail(width).collect();
        let span = match series.len() {
            n if n >= 60 || n == 0 => "60m".to_string(),
            n => format!("last {n}m"),
        };
        // Drawn from the minimum up, so movement shows; the title gives the range.
        let low = series.iter().flatten().copied().reduce(f64::min);
        let peak = series.iter().flatten().copied().reduce(f64::max);
        let floor = low.unwrap_or(0.0) * 0.9;
        let shown: Vec<u64> = series
            .iter()
            .map(|v| ((v.unwrap_or(floor) - floor).max(0.0) * 100.0).round() as u64)
            .collect();
        frame.render_widget(
            Sparkline::default()
                .data(&shown)
                .bar_set(theme.bars())
                .style(if title == "errors" {
                    theme.bad()
                } else {
                    theme.ok()
                })
                .block(block(format!(
                    " {title} {span} {} {}..{} ",
                    theme.sep(),
                    fmt(low),
                    fmt(peak)
                ))),
            area,
        );
    }
}

fn bordered(theme: &Theme, title: String) -> Block<'static> {
    Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(title, theme.title()))
}

#[cfg(test)]
mod tests {
    use super::numbers_line;

    #[test]
    fn the_numbers_line_fits_the_pane_at_80_columns() {
        assert_eq!(
            numbers_line("5m", "852", "0%", "0"),
            "5m: 852 inv  0% errors  0 throttled"
        );
        let long = numbers_line("15m", "123k", "12.3%", "1.2k");
        assert_eq!(long, "15m: 123k inv  12.3% errors  1.2k thr");
        assert!(long.chars().count() <= 38);
    }
}
