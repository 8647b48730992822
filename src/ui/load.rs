//! Load distribution: share of invocations per region; for the selected function, its split
//! across regions and, per alias, configured weights against the observed split.

use ratatui::Frame;
use ratatui::layout::{Constraint, Layout, Rect};
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;
use super::widgets::bar;
use crate::format;
use crate::state::State;

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let regions_height = (state.regions.len() as u16 + 2).min(area.height / 2);
    let [top, bottom] =
        Layout::vertical([Constraint::Length(regions_height), Constraint::Min(3)]).areas(area);
    let bar_width = usize::from(area.width).saturating_sub(40).clamp(8, 50);
    let block = |title: String| {
        Block::bordered()
            .border_set(theme.border())
            .title(Span::styled(title, theme.title()))
    };

    // A region whose metrics read is failing shows its last numbers, said to be old; one
    // whose read never answered has none to show, and says it fails.
    let label = |r: &crate::state::RegionState| {
        use crate::state::Read::Metrics;
        match (r.read_failing(Metrics), r.ever_read(Metrics)) {
            (true, true) => format!("{} (stale)", r.scope),
            (true, false) => format!("{} (failing)", r.scope),
            (false, _) => r.scope.to_string(),
        }
    };
    // Regions whose metrics never answered are `–`, not 0 % of the load.
    let totals: Vec<(String, Option<f64>)> = state
        .regions
        .iter()
        .map(|r| {
            let n = r.known_totals(state.window).map(|t| t.invocations);
            (label(r), n)
        })
        .collect();
    let rows = usize::from(top.height.saturating_sub(2));
    let unread = partial_note(&totals, theme);
    let lines = share_lines(totals, rows, bar_width, theme);
    frame.render_widget(
        Paragraph::new(lines).block(block(format!(
            " invocations by region {} {}{unread} ",
            theme.sep(),
            state.window.label()
        ))),
        top,
    );

    let Some((focus_region, focus)) = state.focus() else {
        frame.render_widget(
            Paragraph::new(Line::styled(
                "select a function in the fleet view to see its split",
                theme.dim(),
            ))
            .block(block(" function ".into())),
            bottom,
        );
        return;
    };
    let name = focus.info.name.clone();
    // Marked (space): said in words, as the fleet's `*` column does.
    let marked = if crate::state::batch::is_marked(state, focus_region, &name) {
        format!(
            " {} * marked in {}",
            theme.sep(),
            state.regions[focus_region].scope
        )
    } else {
        String::new()
    };
    let mut lines = vec![Line::styled(
        format!("{name} across regions{marked}"),
        theme.header(),
    )];
    // A region whose numbers for it were never read (off screen in the fleet, say) is `–`; so
    // is one whose functions were never listed (it may run there too).
    let per_region: Vec<(String, Option<f64>)> = state
        .regions
        .iter()
        .filter_map(|r| {
            if !r.ever_read(crate::state::Read::Inventory) {
                return Some((label(r), None));
            }
            let f = r.function(&name)?;
            Some((
                label(r),
                f.metrics
                    .as_ref()
                    .map(|_| f.stats(state.window).invocations),
            ))
        })
        .collect();
    // At most half the pane, so that its aliases show below.
    let rows = usize::from(bottom.height.saturating_sub(2) / 2).max(2);
    if let Some(first) = lines.first_mut() {
        first.push_span(Span::styled(partial_note(&per_region, theme), theme.warn()));
    }
    lines.extend(share_lines(per_region, rows, bar_width, theme));
    let region = &state.regions[focus_region];
    // Two bars side by side with their labels and a drift note: 20 + 14 + 14 columns of text.
    let alias_bar = usize::from(area.width).saturating_sub(2 + 20 + 14 + 14) / 2;
    // Aliases whose traffic drifts from their weights first: they are what a short screen
    // must show.
    let drifts = |alias: &crate::provider::AliasInfo| {
        alias.split(focus.split_read(), 15).iter().any(|s| {
            s.observed
                .is_some_and(|o| crate::provider::drifts(s.configured, o))
        })
    };
    let mut aliases: Vec<&crate::provider::AliasInfo> = focus.info.aliases.iter().collect();
    aliases.sort_by_key(|a| !drifts(a));
    let room = usize::from(bottom.height.saturating_sub(2));
    let inner = usize::from(bottom.width.saturating_sub(2));
    let mut shown = 0;
    for (n, alias) in aliases.iter().copied().enumerate() {
        // A line is kept to count those left out, unless this is the last.
        let keep = usize::from(n + 1 < aliases.len());
        // Each alias takes a blank line, its title and a line per version; one row is kept to
        // say how many did not fit.
        let needs = 2 + alias.split(focus.split_read(), 15).len();
        if lines.len() + needs >= room {
            // No room for its bars: one line with its weights and what drifts, while a line
            // is left (then counted below), never a block cut off by the pane's edge.
            if lines.len() + keep < room {
                shown += 1;
                lines.push(Line::styled(
                    super::widgets::fit(&alias_line(alias, focus.split_read()), inner, theme),
                    if drifts(alias) {
                        theme.bad()
                    } else {
                        Style::new()
                    },
                ));
                continue;
            }
            break;
        }
        shown += 1;
        lines.push(Line::raw(""));
        // The request for the split failed while the other numbers answered: said, not shown
        // as no traffic.
        let unread = focus.split_read().is_some_and(|m| m.split_unread);
        let last = focus
            .metrics
            .as_ref()
            .is_some_and(|m| m.alias_versions.iter().any(|v| v.alias == alias.name));
        lines.push(Line::styled(
            format!(
                "alias {} in {} {} configured vs observed (15m){}",
                alias.name,
                label(region),
                theme.sep(),
                match (unread, last) {
                    (true, true) => ": split not read, shown as last read",
                    (true, false) => ": split not read",
                    _ => "",
                }
            ),
            theme.header(),
        ));
        for split in alias.split(focus.split_read(), 15) {
            let (version, weight, seen) = (&split.version, &split.configured, split.observed);
            let drift = seen.is_some_and(|s| crate::provider::drifts(*weight, s));
            let style = if drift { theme.bad() } else { Style::new() };
            let mut spans = vec![
                // `v7`, `$LATEST`: never run into the next column.
                Span::raw(format!("  {:<8}", format::version(version))),
                Span::raw(format!("set {:>6} ", format::weight(*weight))),
                Span::styled(bar(*weight, alias_bar, theme), theme.dim()),
                Span::raw(format!(
                    "  seen {:>6} ",
                    seen.map(format::share)
                        .unwrap_or_else(|| format::MISSING.into())
                )),
                Span::styled(bar(seen.unwrap_or(0.0), alias_bar, theme), style),
            ];
            if drift {
                let d = seen.unwrap_or(0.0) - weight;
                spans.push(Span::styled(
                    format!(" drift {}", format::drift(d, crate::provider::DRIFT)),
                    theme.bad(),
                ));
            }
            lines.push(Line::from(spans));
        }
    }
    if shown < aliases.len() {
        lines.push(Line::styled(
            format!(
                "… {} more alias{} (drifting ones first)",
                aliases.len() - shown,
                if aliases.len() - shown == 1 { "" } else { "es" }
            ),
            theme.dim(),
        ));
    }
    if focus.info.aliases.is_empty() {
        lines.push(Line::raw(""));
        // Not read is not none: the detail view (enter) reads them. The function is the
        // box's title: the line says the rest, so that it is not cut to "are no" at 80 columns.
        let text = if focus.info.not_read.aliases || focus.info.not_read.details {
            format!(
                "aliases in {} not read yet ({} reads them)",
                region.scope,
                state.keymap.first_key(crate::state::Action::Open)
            )
        } else {
            format!("no aliases in {}", region.scope)
        };
        lines.push(Line::styled(text, theme.dim()));
    }
    frame.render_widget(
        Paragraph::new(lines)
            .block(block(format!(" {name} ")))
            .wrap(ratatui::widgets::Wrap { trim: false }),
        bottom,
    );
}

/// Said after a title when some counts were not read: the shares are of the counts read, so
/// each is at most what it shows (`≤`) — a region alone answering is not all the load.
fn partial_note(counts: &[(String, Option<f64>)], theme: &Theme) -> String {
    let unread = counts.iter().filter(|(_, n)| n.is_none()).count();
    match unread {
        0 => String::new(),
        // None read: no shares to qualify.
        n if n == counts.len() => format!(" {} none read yet", theme.sep()),
        n => format!(" {} {n} not read: shares {}", theme.sep(), at_most(theme)),
    }
}

fn at_most(theme: &Theme) -> &'static str {
    if theme.ascii { "<=" } else { "≤" }
}

/// Each labelled count's share of their sum, the largest first, within `rows` lines: what does
/// not fit is counted on the last line with its share, never cut away in silence. When some
/// were not read, the shares are of those read: each said as at most (`≤`).
fn share_lines(
    mut counts: Vec<(String, Option<f64>)>,
    rows: usize,
    width: usize,
    theme: &Theme,
) -> Vec<Line<'static>> {
    let sum: f64 = counts.iter().filter_map(|(_, n)| *n).sum();
    let at_most = match counts.iter().any(|(_, n)| n.is_none()) {
        true => at_most(theme),
        false => "",
    };
    // Unread (`–`) last; the same load in label order.
    counts.sort_by(|(a, x), (b, y)| {
        let (x, y) = (x.unwrap_or(-1.0), y.unwrap_or(-1.0));
        y.total_cmp(&x).then_with(|| a.cmp(b))
    });
    let room = match counts.len() > rows {
        true => rows.saturating_sub(1).max(1),
        false => counts.len(),
    };
    // Labels as wide as the longest (`prod-eu/ap-southeast-2`), the bar giving up what they
    // take beyond 16 columns: a label never runs into its bar.
    let label = counts
        .iter()
        .map(|(l, _)| l.chars().count() + 1)
        .max()
        .unwrap_or(16)
        .clamp(16, 32);
    let width = width.saturating_sub(label - 16).max(4);
    let mut lines: Vec<Line> = counts
        .iter()
        .take(room)
        .map(|(name, n)| {
            let name = format!("{:<label$}", format::truncate(name, label - 1));
            share_line(&name, *n, (sum, at_most), width, theme)
        })
        .collect();
    let rest = &counts[room.min(counts.len())..];
    if !rest.is_empty() {
        let n: f64 = rest.iter().filter_map(|(_, n)| *n).sum();
        let unread = rest.iter().filter(|(_, n)| n.is_none()).count();
        // Their share only when all of them were read (an unread one's load is unknown).
        let share = match (sum > 0.0, unread) {
            (true, 0) => format!(", {}{} of the load", at_most, format::share(n / sum)),
            (_, 0) => String::new(),
            (_, u) => format!(" ({u} not read)"),
        };
        // Short enough for the smallest screen (the largest are shown above).
        lines.push(Line::styled(
            // In ASCII `…` would be one `.`, which reads as the fresh mark: three dots.
            format!(
                "{} {} more regions{share}",
                if theme.ascii { "..." } else { "…" },
                rest.len()
            ),
            theme.dim(),
        ));
    }
    lines
}

/// The share column: 6 characters (`99.5%`, `<0.1%`), and the `≤` (`<=`) before them.
fn share_width(at_most: &str) -> usize {
    6 + at_most.chars().count()
}

/// A row's share of `sum` after its `label` (padded to its column); never read (`None`) is `–`, not a share of 0, and with no
/// invocations anywhere there is no share to show either (`–`, the count 0).
fn share_line(
    label: &str,
    n: Option<f64>,
    (sum, at_most): (f64, &str),
    width: usize,
    theme: &Theme,
) -> Line<'static> {
    let Some(n) = n else {
        return Line::from(vec![
            Span::raw(label.to_string()),
            Span::styled(
                format!(
                    "{:width$} {:>w$} {:>7}",
                    "",
                    format::MISSING,
                    format::MISSING,
                    w = share_width(at_most)
                ),
                theme.dim(),
            ),
        ]);
    };
    let share = (sum > 0.0).then(|| n / sum);
    let shown = share.map_or_else(
        || format::MISSING.to_string(),
        |w| match (at_most.is_empty(), format::share(w)) {
            (true, s) => s,
            // Already a bound (`<0.1%`); near all of what was read is at most all of it.
            (false, s) if s.starts_with('<') => s,
            (false, s) if s.starts_with('>') => format!("{at_most}100%"),
            (false, s) => format!("{at_most}{s}"),
        },
    );
    Line::from(vec![
        Span::raw(label.to_string()),
        Span::styled(bar(share.unwrap_or(0.0), width, theme), theme.ok()),
        Span::raw(format!(
            " {:>w$} {:>7}",
            shown,
            format::count(n),
            w = share_width(at_most)
        )),
    ])
}

/// An alias in one line, where its bars do not fit: each version's weight against the share it
/// ran (`alias live: v1 80%→50%, v2 20%→50% drift`).
fn alias_line(
    alias: &crate::provider::AliasInfo,
    metrics: Option<&crate::provider::FunctionMetrics>,
) -> String {
    let splits = alias.split(metrics, 15);
    let drift = splits.iter().any(|s| {
        s.observed
            .is_some_and(|o| crate::provider::drifts(s.configured, o))
    });
    let parts: Vec<String> = splits
        .iter()
        .map(|s| {
            format!(
                "{} {}→{}",
                format::version(&s.version),
                format::weight(s.configured),
                s.observed
                    .map(format::share)
                    .unwrap_or_else(|| format::MISSING.into())
            )
        })
        .collect();
    format!(
        "alias {}: {}{}",
        alias.name,
        parts.join(", "),
        if drift { " drift" } else { "" }
    )
}
