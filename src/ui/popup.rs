//! Popups drawn over the view: help (generated from the keymap in force) and notices.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::{Block, Clear, Paragraph, Wrap};

use super::theme::Theme;
use crate::state::{Action, Popup, State};

pub fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    match &state.popup {
        None => {}
        Some(Popup::Help) => help(state, theme, frame, area),
        Some(Popup::Notice(text)) => {
            let width = (text.len() as u16 + 4)
                .min(area.width.saturating_sub(4))
                .max(20);
            let rect = centered(area, width, 5);
            frame.render_widget(Clear, rect);
            frame.render_widget(
                Paragraph::new(vec![
                    Line::raw(text.clone()),
                    Line::styled("any key closes", theme.dim()),
                ])
                .wrap(Wrap { trim: true })
                .block(
                    Block::bordered()
                        .border_set(theme.border())
                        .title(Span::styled(" notice ", theme.title())),
                ),
                rect,
            );
        }
    }
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
    let lines: Vec<Line> = Action::ALL
        .iter()
        .map(|a| {
            Line::from(vec![
                Span::styled(format!("{:>14}  ", state.keymap.keys_of(*a)), theme.title()),
                Span::raw(a.describe()),
            ])
        })
        .collect();
    let height = (lines.len() as u16 + 2).min(area.height);
    let rect = centered(area, 76, height);
    frame.render_widget(Clear, rect);
    frame.render_widget(
        Paragraph::new(lines).block(
            Block::bordered()
                .border_set(theme.border())
                .title(Span::styled(" keys (any key closes) ", theme.title())),
        ),
        rect,
    );
}
