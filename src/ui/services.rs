//! The services view: per service and region, the Route 53 weight and share against the share
//! of invocations the region really took, and the health check; drift marked in words too.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::style::Style;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Paragraph};

use super::theme::Theme;
use super::widgets::fit;
use crate::format;
use crate::state::State;
use crate::state::services::rows;

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    let pane = &state.services;
    let age = pane
        .read_at
        .map(|t| {
            format!(
                "read {} ago",
                format::age((state.now - t).num_seconds().max(0) as u64)
            )
        })
        .unwrap_or_else(|| {
            // Nothing to read: not "reading…" forever.
            if pane.services.is_empty() {
                "none configured".into()
            } else if pane.reading == 0 && pane.views.iter().any(Option::is_some) {
                // Every read failed (each row says why): not "reading", not "read 4s ago".
                "not read".into()
            } else {
                "reading…".into()
            }
        });
    let block = Block::bordered()
        .border_set(theme.border())
        .title(Span::styled(
            format!(
                " services {} {} {} {age} ",
                theme.sep(),
                state.window.label(),
                theme.sep()
            ),
            theme.title(),
        ));
    if pane.services.is_empty() {
        frame.render_widget(
            Paragraph::new(vec![
                Line::from("no service is configured."),
                Line::styled(
                    "add a [[service]] (name, zone, record) to the config file: see README, \
                     Services",
                    theme.dim(),
                ),
            ])
            .wrap(ratatui::widgets::Wrap { trim: true })
            .block(block),
            area,
        );
        return;
    }
    let all = rows(state);
    let pct = |v: Option<f64>| {
        v.map_or(format::MISSING.to_string(), |s| {
            format!("{:.0}%", s * 100.0)
        })
    };
    let width = usize::from(area.width).saturating_sub(2);
    // The region column as wide as its longest name (indented one), the record's set ids
    // giving way down to 4 so that the health ("unhealthy") always fits.
    let region_w = all
        .iter()
        .map(|r| r.region.chars().count() + 1)
        .max()
        .unwrap_or(0)
        .clamp("REGION".len(), 16);
    let record_w = width
        .saturating_sub(1 + region_w + 1 + 1 + 6 + 1 + 5 + 1 + 5 + 1 + 6 + "unhealthy".len())
        .clamp(4, 10);
    let columns =
        |mark: &str, region: &str, record: &str, weight: &str, share: &str, taken: &str| {
            format!(
                "{mark}{region:<region_w$} {record:<record_w$} {weight:>6} {share:>5} {taken:>5} "
            )
        };
    let mut lines: Vec<Line> = vec![Line::styled(
        fit(
            &format!(
                "{}{:<5} HEALTH",
                columns(" ", "REGION", "RECORD", "WEIGHT", "SHARE", "TAKEN"),
                "DRIFT"
            ),
            width,
            theme,
        ),
        theme.header(),
    )];
    let mut selected_line = 0;
    // Services whose read failed first, their errors whole (wrapped): they have no rows to
    // scroll to, so below the others they were out of reach on a small screen.
    let failed = |i: &usize| matches!(pane.views.get(*i), Some(Some(Err(_))));
    let order: Vec<usize> = (0..pane.services.len())
        .filter(|i| failed(i))
        .chain((0..pane.services.len()).filter(|i| !failed(i)))
        .collect();
    for i in order {
        let service = &pane.services[i];
        let mut head = vec![Span::styled(format!(" {} ", service.name), theme.header())];
        match pane.views.get(i).and_then(Option::as_ref) {
            None => head.push(Span::styled("reading…", theme.dim())),
            Some(Err(e)) => {
                let room = width.saturating_sub(service.name.len() + 2).max(10);
                // Broken at spaces, not inside a word.
                let mut parts = format::wrap(&format!("✗ {e}"), room).into_iter();
                head.push(Span::styled(parts.next().unwrap_or_default(), theme.bad()));
                lines.push(Line::from(std::mem::take(&mut head)));
                for part in parts {
                    lines.push(Line::styled(
                        format!("{}{part}", " ".repeat(service.name.len() + 2)),
                        theme.bad(),
                    ));
                }
            }
            Some(Ok(view)) => head.push(Span::styled(
                fit(
                    &format!(
                        "{} {}{}",
                        service.record,
                        service.kind,
                        view.ttl()
                            .map(|t| format!(", TTL {t}s"))
                            .unwrap_or_default()
                    ),
                    width.saturating_sub(service.name.len() + 2),
                    theme,
                ),
                theme.dim(),
            )),
        }
        if !head.is_empty() {
            lines.push(Line::from(head));
        }
        // Rows from an earlier read: said above them, with why (also without colour).
        if let Some(Some((why, since))) = pane.stale.get(i) {
            let age = format::age((state.now - *since).num_seconds().max(0) as u64);
            let text = format!("▲ stale {age}: not read again: {why}");
            for part in format::wrap(&text, width.saturating_sub(2).max(10)) {
                lines.push(Line::styled(format!("  {part}"), theme.warn()));
            }
        }
        for (n, row) in all.iter().enumerate().filter(|(_, r)| r.service == i) {
            let chosen = n == pane.selected;
            if chosen {
                selected_line = lines.len();
            }
            let drift = crate::ops::service::drift(row.share, row.observed).unwrap_or("");
            let health_style = match row.health {
                "healthy" => theme.ok(),
                "unhealthy" => theme.bad(),
                _ => theme.warn(),
            };
            // A failover member's role where a weight would be.
            let weight = match (row.weight, &row.role) {
                (Some(w), _) => w.to_string(),
                (None, Some(role)) if role == "PRIMARY" => "prim".into(),
                (None, Some(_)) => "second".into(),
                (None, None) => row.routing.clone(),
            };
            let text = columns(
                if chosen { ">" } else { " " },
                &format!(" {}", row.region),
                &fit(&row.set_ids.join(","), record_w, theme),
                &weight,
                &pct(row.share),
                &pct(row.observed),
            );
            let line = Line::from(vec![
                Span::raw(text),
                Span::styled(
                    format!("{drift:<5} "),
                    if drift.is_empty() {
                        Style::new()
                    } else {
                        theme.warn()
                    },
                ),
                Span::styled(row.health, health_style),
                Span::styled(
                    if row.freshness.is_empty() {
                        String::new()
                    } else {
                        format!(" · {}", row.freshness)
                    },
                    theme.dim(),
                ),
            ]);
            lines.push(if chosen {
                line.style(theme.selected())
            } else {
                line
            });
        }
        // Members whose region is not known have no row (nothing to drain there): said, with
        // their weight, so that the shares above are not read as the whole.
        if let Some(Ok(view)) = pane.views.get(i).and_then(Option::as_ref) {
            let unmapped: Vec<String> = view
                .members
                .iter()
                .filter(|m| m.region.is_none())
                .map(|m| {
                    format!(
                        "{} (weight {})",
                        m.record.set_id.as_deref().unwrap_or("-"),
                        m.record
                            .weight
                            .map_or(format::MISSING.to_string(), |w| w.to_string())
                    )
                })
                .collect();
            if !unmapped.is_empty() {
                lines.push(Line::styled(
                    fit(
                        &format!(
                            "  no region for {}: map it with `regions` in the service's config \
                             (TAKEN needs every member's load)",
                            unmapped.join(", ")
                        ),
                        width,
                        theme,
                    ),
                    theme.warn(),
                ));
            }
        }
    }
    // Keep the selected row on screen.
    let visible = usize::from(area.height).saturating_sub(2).max(1);
    let skip = selected_line.saturating_sub(visible.saturating_sub(1));
    // The column header stays; the rows scroll under it.
    let mut lines = lines.into_iter();
    let mut shown: Vec<Line> = lines.next().into_iter().collect();
    shown.extend(lines.skip(skip));
    let lines = shown;
    frame.render_widget(Paragraph::new(lines).block(block), area);
}
