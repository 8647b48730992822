//! Render functions of `&State` into a ratatui frame. No I/O, no awaits; large tables build
//! only the visible rows.

mod batch;
mod detail;
mod fleet;
mod footer;
mod load;
mod logpane;
mod plans;
mod popup;
mod regions;
mod services;
pub mod theme;
pub mod widgets;

use ratatui::Frame;
use ratatui::layout::{Alignment, Constraint, Layout, Rect};
use ratatui::text::{Line, Span};
use ratatui::widgets::{Paragraph, Wrap};

use crate::format;
use crate::state::{Action, Input, MIN_HEIGHT, MIN_WIDTH, RegionHealth, State, View};
pub use theme::Theme;

pub fn render(state: &State, theme: &Theme, frame: &mut Frame) {
    draw(state, theme, frame);
    // ASCII only: every glyph the views drew (arrows, dashes, dots, marks) said in ASCII, and
    // anything else (a name in another script) as `?`, rather than bytes the terminal garbles.
    if theme.ascii {
        for cell in frame.buffer_mut().content.iter_mut() {
            if !cell.symbol().is_ascii() {
                let c = cell
                    .symbol()
                    .chars()
                    .next()
                    .map_or('?', crate::format::ascii_for);
                cell.set_char(c);
            }
        }
    }
}

fn draw(state: &State, theme: &Theme, frame: &mut Frame) {
    let area = frame.area();
    if state.too_small() || area.width < MIN_WIDTH || area.height < MIN_HEIGHT {
        too_small(state, area, theme, frame);
        return;
    }
    let plan_rows = u16::from(!state.rollouts.is_empty() || state.backup.is_some());
    let [header, body, plans, footer] = Layout::vertical([
        Constraint::Length(1),
        Constraint::Min(1),
        Constraint::Length(plan_rows),
        Constraint::Length(2),
    ])
    .areas(area);
    render_header(state, theme, frame, header);
    match &state.view {
        View::Fleet => fleet::render(state, theme, frame, body),
        View::Regions => regions::render(state, theme, frame, body),
        View::Load => load::render(state, theme, frame, body),
        View::Services => services::render(state, theme, frame, body),
        View::Detail { region, function } => {
            detail::render(state, theme, frame, body, *region, function)
        }
        View::Logs { region, function } => {
            logpane::render(state, theme, frame, body, *region, function)
        }
    }
    plans::render(state, theme, frame, plans);
    render_footer(state, theme, frame, footer);
    popup::render(state, theme, frame, area);
}

fn too_small(state: &State, area: Rect, theme: &Theme, frame: &mut Frame) {
    // An open question (a quit that asks first, a confirmation) cannot be read here: said, so
    // that a `q` that seems to do nothing is understood.
    let waiting = state.popup.is_some() || state.input.is_some();
    // The quit key as bound (`[keymap] quit`); with an input open it is typed text there, so
    // ctrl-c is what quits.
    let quit = match state.input.is_some() {
        true => "ctrl-c".to_string(),
        false => state.keymap.first_key(crate::state::Action::Quit),
    };
    // Short lines on a very small screen, so that what to do still shows.
    let text = if area.width >= 40 {
        vec![
            Line::styled("terminal too small", theme.bad()),
            Line::from(format!(
                "{}x{} — lops needs at least {MIN_WIDTH}x{MIN_HEIGHT}",
                area.width, area.height
            )),
            Line::from(match &state.popup {
                Some(crate::state::Popup::Confirm(_)) => {
                    "a question is open: enlarge the window to answer it".to_string()
                }
                Some(crate::state::Popup::Help) => {
                    "help is open: enlarge the window to read it".to_string()
                }
                Some(_) => "a message is open: enlarge the window to read it".to_string(),
                None if state.input.is_some() => {
                    format!("an input is open: enlarge the window to finish it, or {quit} to quit")
                }
                None => format!("enlarge the window, or press {quit} to quit"),
            }),
        ]
    } else {
        vec![
            Line::styled(
                format!("too small {}x{}", area.width, area.height),
                theme.bad(),
            ),
            Line::from(format!("needs {MIN_WIDTH}x{MIN_HEIGHT}")),
            Line::from(if waiting {
                "enlarge to read it".to_string()
            } else {
                format!("{quit} quits")
            }),
        ]
    };
    let top = area.height.saturating_sub(3) / 2;
    let area = Rect {
        y: area.y + top,
        height: area.height.saturating_sub(top),
        ..area
    };
    frame.render_widget(
        Paragraph::new(text)
            .alignment(Alignment::Center)
            .wrap(Wrap { trim: true }),
        area,
    );
}

fn render_header(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let sep = Span::styled(format!(" {} ", theme.sep()), theme.dim());
    let mut spans = vec![Span::styled(" lops", theme.title()), sep.clone()];
    // The filter first: what it hides matters more than the tabs, and a narrow header is cut
    // from its end.
    if !state.filter.is_empty() {
        spans.push(Span::styled(format!("/{}", state.filter), theme.warn()));
        spans.push(sep.clone());
    }
    // The services tab shows where services are configured.
    let tabs: &[View] = if state.services.services.is_empty() {
        &[View::Fleet, View::Regions, View::Load]
    } else {
        &[View::Fleet, View::Regions, View::Load, View::Services]
    };
    // Each tab as its key and title; where they do not all fit, the others by their key alone.
    let tab_spans = |compact: bool| {
        let mut spans = Vec::new();
        for view in tabs.iter() {
            let active = std::mem::discriminant(&state.view) == std::mem::discriminant(view);
            let style = if active {
                theme.selected()
            } else {
                theme.dim()
            };
            // The key in force for the view (a keymap may move it).
            let action = match view {
                View::Regions => Action::Regions,
                View::Load => Action::Load,
                View::Services => Action::Services,
                _ => Action::Fleet,
            };
            let key = state.keymap.first_key(action);
            let text = match compact && !active {
                true => key.to_string(),
                false => format!("{key}:{}", view.title()),
            };
            spans.push(Span::styled(text, style));
            spans.push(Span::raw(" "));
        }
        spans
    };
    let at_tabs = spans.len();
    spans.extend(tab_spans(false));
    if let View::Detail { function, .. } | View::Logs { function, .. } = &state.view {
        // Its end kept too (the title bar cuts the rest from the end).
        let function = widgets::fit_middle(function, 32, theme);
        spans.push(Span::styled(
            format!("{}:{function}", state.view.title()),
            theme.selected(),
        ));
        spans.push(Span::raw(" "));
    }
    spans.push(sep.clone());
    spans.push(Span::raw(format!(
        "{} {} {}",
        state.window.label(),
        state.sort.column.label(),
        theme.arrow(state.sort.descending)
    )));
    let mut badges = Vec::new();
    // Marks are what the next action key acts on: always said, like the badges.
    let marked = crate::state::batch::marked(state).len();
    if marked > 0 {
        badges.push(Span::styled(format!("{marked} marked"), theme.title()));
    }
    if state.display.demo {
        badges.push(Span::styled(" DEMO ", theme.badge()));
    }
    // The selected row's scope decides; MIXED says the others differ.
    let access = state.access();
    if state.mixed_access() {
        badges.push(Span::styled(" MIXED ", theme.badge()));
    }
    if let Some(badge) = access.tier.badge() {
        badges.push(Span::styled(format!(" {badge} "), theme.badge()));
    }
    if access.production {
        badges.push(Span::styled(" PRODUCTION ", theme.danger_badge()));
    }
    let clock = state.now.format("%H:%M:%SZ").to_string();
    let badge_width: usize = badges.iter().map(|s| s.width() + 1).sum();
    // The marks, the badges (PRODUCTION above all) and the clock always show: what is left of
    // the tabs, the window and the filter is cut, marked, to the room they leave.
    // One cell apart from the badges and the clock, and the last cell of the line left free.
    let left = usize::from(area.width).saturating_sub(badge_width + clock.len() + 2);
    if spans.iter().map(|s| s.width()).sum::<usize>() > left {
        let full = tab_spans(false).len();
        spans.splice(at_tabs..at_tabs + full, tab_spans(true));
    }
    let mut spans = cut_spans(spans, left, theme);
    let used: usize = spans.iter().map(|s| s.width()).sum();
    let room = usize::from(area.width).saturating_sub(used + badge_width + clock.len() + 1);
    spans.push(Span::raw(" ".repeat(room)));
    for b in badges {
        spans.push(b);
        spans.push(Span::raw(" "));
    }
    spans.push(Span::styled(clock, theme.dim()));
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}

/// The spans cut to `max` cells at a space, the cut marked (`…`, `~` in ASCII): a number is
/// never left showing only its first digits ("30 s" cut to "3").
pub(crate) fn cut_at_words(
    spans: Vec<Span<'static>>,
    max: usize,
    theme: &Theme,
) -> Vec<Span<'static>> {
    let width = |spans: &[Span]| spans.iter().map(|s| s.width()).sum::<usize>();
    if width(&spans) <= max {
        return spans;
    }
    let original = spans.clone();
    let mut spans = spans;
    // Room for " …" after the last word kept.
    while !spans.is_empty() && width(&spans) + 2 > max {
        let Some(last) = spans.pop() else {
            break;
        };
        let text = last.content.trim_end();
        if let Some(at) = text.rfind(' ') {
            let kept = text[..at].trim_end().to_string();
            if !kept.is_empty() {
                spans.push(Span::styled(kept, last.style));
            }
        }
    }
    if spans.is_empty() {
        // Not one word fits: cut by cells, marked.
        return cut_spans(original, max, theme);
    }
    spans.push(Span::raw(if theme.ascii { " ~" } else { " …" }));
    spans
}

/// The spans cut to `max` cells, the cut marked.
fn cut_spans(spans: Vec<Span<'static>>, max: usize, theme: &Theme) -> Vec<Span<'static>> {
    let total: usize = spans.iter().map(|s| s.width()).sum();
    if total <= max {
        return spans;
    }
    let mut out = Vec::new();
    let mut used = 0;
    for span in spans {
        let w = span.width();
        if used + w < max {
            used += w;
            out.push(span);
            continue;
        }
        // Cut here (what follows is dropped too): the mark says so even when this span would
        // have fit whole.
        // Counted in cells, as the room is (a wide character takes two).
        let keep = max.saturating_sub(used);
        if keep > 0 {
            let mark = if theme.ascii { "~" } else { "…" };
            let mut text = String::new();
            let mut cells = 0;
            for c in span.content.chars() {
                let w = Span::raw(c.to_string()).width();
                if cells + w > keep - 1 {
                    break;
                }
                cells += w;
                text.push(c);
            }
            out.push(Span::styled(format!("{text}{mark}"), span.style));
        }
        break;
    }
    out
}

/// "3s", "stale 40s", "unreachable", "loading": the short freshness of a region.
pub fn health_label(h: &RegionHealth) -> String {
    match h {
        RegionHealth::Loading => "loading".into(),
        RegionHealth::Fresh { age_secs } => format::age(*age_secs),
        RegionHealth::Stale { age_secs, .. } => format!("stale {}", format::age(*age_secs)),
        RegionHealth::Unreachable { .. } => "unreachable".into(),
    }
}

pub fn health_mark(h: &RegionHealth, theme: &Theme) -> Span<'static> {
    let [ok, warn, bad] = theme.marks();
    match h {
        RegionHealth::Fresh { .. } => Span::styled(ok, theme.ok()),
        // Not known yet: the mark of a row not read (`▲` is stale; without colour they were one).
        RegionHealth::Loading => Span::styled(theme.unknown_mark(), theme.dim()),
        RegionHealth::Stale { .. } => Span::styled(warn, theme.warn()),
        RegionHealth::Unreachable { .. } => Span::styled(bad, theme.bad()),
    }
}

fn render_footer(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let [regions_line, keys_line] =
        Layout::vertical([Constraint::Length(1), Constraint::Length(1)]).areas(area);
    let spans = footer::regions(state, theme, usize::from(area.width));
    // A typed value that was refused: why, on a line of its own above the prompt, where the
    // prompt's length cannot push it off a narrow screen. Its remedy is at its end: a longer
    // one takes the rows above too (up to four, over the table's last rows).
    let width = usize::from(area.width).max(1);
    let refused = state
        .input
        .as_ref()
        .and(state.input_error.as_ref())
        .map(|e| widgets::wrap_words(&format!(" ! {e}"), width));
    let Some(mut rows) = refused else {
        frame.render_widget(Paragraph::new(Line::from(spans)), regions_line);
        return render_keys_line(state, theme, frame, keys_line);
    };
    let fits = usize::from(regions_line.y).min(3) + 1;
    if rows.len() > fits {
        // Cut between words and marked, never mid-number.
        rows.truncate(fits);
        let last = rows.pop().unwrap_or_default();
        let mark = if theme.ascii { "~" } else { "…" };
        let cut = cut_at_words(
            vec![Span::raw(format!("{last} {mark}"))],
            width.saturating_sub(1),
            theme,
        );
        rows.push(Line::from(cut).to_string());
    }
    let above = u16::try_from(rows.len() - 1).unwrap_or(0);
    let rect = Rect {
        y: regions_line.y - above,
        height: above + 1,
        ..regions_line
    };
    let lines: Vec<Line> = rows
        .into_iter()
        .map(|r| Line::styled(r, theme.bad()))
        .collect();
    frame.render_widget(ratatui::widgets::Clear, rect);
    frame.render_widget(Paragraph::new(lines), rect);
    render_keys_line(state, theme, frame, keys_line);
}

/// enter previews; only `y` in the confirmation that follows acts.
const PREVIEW_HINT: &str = "   enter previews · esc cancels";

/// The footer's last line: what is being typed, or the keys of this view and the API meter.
fn render_keys_line(state: &State, theme: &Theme, frame: &mut Frame, keys_line: Rect) {
    let area = keys_line;

    let line = match &state.input {
        // A long filter or command keeps its end (where the cursor is) in view.
        Some(Input::Filter(text)) => input_line(
            " filter: ",
            text,
            usize::from(area.width),
            "   enter keep · esc clear",
            theme,
        ),
        Some(Input::Palette(text)) => input_line(
            " :",
            text,
            usize::from(area.width),
            &format!("   {}", crate::state::COMMANDS.join(" ")),
            theme,
        ),
        // The payload is edited in its popup (several lines, with its keys): not again here.
        Some(Input::Payload(_)) => Line::styled(
            " editing the payload above · enter previews · esc cancels",
            theme.dim(),
        ),
        Some(
            input @ (Input::Weight(text)
            | Input::Preset(text)
            | Input::Concurrency(text)
            | Input::ServiceWeight(text)),
        ) => {
            let width = usize::from(area.width);
            let label = crate::state::actions::input_prompt(state, input);
            // An alias's prompts name the selected function first (a service's names its own).
            let label = match input {
                Input::Weight(_) | Input::Preset(_) => name_gives_way(state, label, width, theme),
                _ => label,
            };
            // Too long for one line with what is typed: the prompt whole on the line above
            // (the target and its weights now are what the value is judged by), unless an
            // error of the input is said there.
            let above = label.chars().count() + text.chars().count() + 2 > width
                && area.y > 0
                && state.input_error.is_none();
            if above {
                let rect = Rect {
                    y: area.y - 1,
                    height: 1,
                    ..area
                };
                frame.render_widget(ratatui::widgets::Clear, rect);
                frame.render_widget(
                    Paragraph::new(Line::styled(
                        widgets::fit_middle(label.trim_end(), width, theme),
                        theme.title(),
                    )),
                    rect,
                );
                input_line(" > ", text, width, PREVIEW_HINT, theme)
            } else {
                input_line(&label, text, width, PREVIEW_HINT, theme)
            }
        }
        None => {
            let mut line = hints(state, theme);
            // Measured after a few seconds of a region's calls: until then none is shown (it
            // said `0/min` while the first reads were sent), and a sum without some regions'
            // is at least that.
            let rates: Vec<Option<f64>> =
                state.regions.iter().map(|r| r.calls_per_minute()).collect();
            let calls: f64 = rates.iter().flatten().sum();
            let meter = match (rates.iter().flatten().count(), rates.len()) {
                (0, _) => String::new(),
                (known, all) if known < all => format!("api ≥{}/min ", format::count(calls)),
                _ => format!("api {}/min ", format::count(calls)),
            };
            let meter = if theme.ascii {
                meter.replace('≥', ">=")
            } else {
                meter
            };
            let room = usize::from(area.width).saturating_sub(line.width() + meter.chars().count());
            if room > 0 && !meter.is_empty() {
                line.spans.push(Span::raw(" ".repeat(room)));
                line.spans.push(Span::styled(meter, theme.dim()));
            }
            line
        }
    };
    frame.render_widget(Paragraph::new(line), keys_line);
}

/// A prompt too long for the line takes its room from the selected function's name (cut in its
/// middle, down to 12 characters): the alias, its scope and its weights now stay whole.
fn name_gives_way(state: &State, label: String, width: usize, theme: &Theme) -> String {
    let over = label.trim_end().chars().count().saturating_sub(width);
    let Some((_, f)) = state.focus() else {
        return label;
    };
    let name = f.info.name.as_str();
    if over == 0 || !label.contains(name) {
        return label;
    }
    let keep = name.chars().count().saturating_sub(over).max(12);
    label.replacen(name, &widgets::fit_middle(name, keep, theme), 1)
}

/// A prompt, what is typed and a cursor; when they do not fit in `width`, the end of what is
/// typed stays in view (its start gives way, marked), and the label keeps a third of the line.
fn input_line(label: &str, text: &str, width: usize, hint: &str, theme: &Theme) -> Line<'static> {
    let typed = format!("{text}_");
    let (label_len, typed_len) = (label.chars().count(), typed.chars().count());
    let label_room = label_len.min(width.saturating_sub(typed_len).max(width / 3));
    // Cut in the middle: its start names the target, its end what is being typed (`preset:`).
    let label = widgets::fit_middle(label, label_room, theme);
    let typed = widgets::fit_end(&typed, width.saturating_sub(label.chars().count()), theme);
    let room = width.saturating_sub(label.chars().count() + typed.chars().count());
    let mut spans = vec![Span::styled(label, theme.title()), Span::raw(typed)];
    if hint.chars().count() <= room {
        spans.push(Span::styled(hint.to_string(), theme.dim()));
    }
    Line::from(spans)
}

/// Key hints for the current view, from the keymap in force.
fn hints(state: &State, theme: &Theme) -> Line<'static> {
    let actions: &[(Action, &str)] = match state.view {
        View::Fleet => &[
            (Action::Help, "help"),
            (Action::Filter, "filter"),
            (Action::Open, "detail"),
            (Action::SortNext, "sort"),
            (Action::Invoke, "invoke"),
            (Action::Shift, "shift"),
            (Action::Kill, "kill"),
            (Action::Mark, "mark"),
            (Action::Palette, "views"),
            (Action::Quit, "quit"),
        ],
        View::Logs { .. } => &[
            (Action::Help, "help"),
            (Action::Back, "back"),
            (Action::Pause, "pause"),
            (Action::Filter, "filter"),
            (Action::Up, "scroll"),
            (Action::Quit, "quit"),
        ],
        View::Detail { .. } => &[
            (Action::Help, "help"),
            (Action::Back, "back"),
            (Action::Logs, "logs"),
            (Action::Trigger, "pause trigger"),
            (Action::Window, "window"),
            (Action::Quit, "quit"),
        ],
        View::Services => &[
            (Action::Help, "help"),
            (Action::Back, "back"),
            (Action::Drain, "drain"),
            (Action::RestoreRegion, "restore"),
            (Action::Shift, "weight"),
            (Action::Refresh, "read"),
            (Action::Quit, "quit"),
        ],
        _ => &[
            (Action::Help, "help"),
            (Action::Back, "back"),
            (Action::Window, "window"),
            (Action::Palette, "views"),
            (Action::Quit, "quit"),
        ],
    };
    let mut spans = vec![Span::raw(" ")];
    let width = usize::from(state.size.0);
    let quit = format!("{} quit  ", state.keymap.first_key(Action::Quit));
    // A paused log pane's space resumes it.
    let paused = state.log_pane.as_ref().is_some_and(|p| p.paused);
    for (action, label) in actions {
        let label = match action {
            Action::Pause if paused => &"resume",
            _ => label,
        };
        let key = state.keymap.first_key(*action);
        // Keys the tier does not allow are not offered.
        if key.is_empty() || !crate::state::actions::allowed(state, *action) {
            continue;
        }
        // Nothing to act on: no service is configured.
        let acts_on_a_service = matches!(
            action,
            Action::Drain | Action::RestoreRegion | Action::Shift | Action::Refresh
        );
        if state.view == View::Services && state.services.services.is_empty() && acts_on_a_service {
            continue;
        }
        let used: usize = spans.iter().map(|s| s.width()).sum();
        let item = key.chars().count() + label.len() + 3;
        // What does not fit is in the help; quit always shows.
        if *action != Action::Quit && used + item + quit.len() > width {
            continue;
        }
        spans.push(Span::styled(key, theme.title()));
        spans.push(Span::styled(format!(" {label}  "), theme.dim()));
    }
    Line::from(spans)
}
