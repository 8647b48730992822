//! The line above the footer: a running backup's gauge, or the traffic plans' progress.

use ratatui::Frame;
use ratatui::layout::Rect;
use ratatui::text::{Line, Span};
use ratatui::widgets::Paragraph;

use super::theme::Theme;
use super::{cut_at_words, widgets};
use crate::state::{Action, State};

/// One line for the traffic plans: progress bar, last event, and the keys that act on them.
pub(super) fn render(state: &State, theme: &Theme, frame: &mut Frame, area: Rect) {
    if let Some(b) = &state.backup {
        let line = Line::from(vec![
            Span::styled(" backup ", theme.title()),
            Span::styled(
                widgets::bar(b.done as f64 / b.total.max(1) as f64, 10, theme),
                theme.ok(),
            ),
            Span::raw(format!(" {}/{} · {}", b.done, b.total, b.label)),
        ]);
        frame.render_widget(Paragraph::new(line), area);
        return;
    }
    // The selected row's rollout when it has one (the one `A` and `U` act on), else the first.
    let Some(p) = crate::state::rollouts::rollout_of_focus(state).or(state.rollouts.first()) else {
        return;
    };
    let r = &p.rollout;
    let done = r.step as f64 / r.steps.len().max(1) as f64;
    // Driven here or by another lops: only abort is offered (the core refuses a resume).
    let keys = if p.running || r.owned_elsewhere() {
        format!("{} abort", state.keymap.first_key(Action::AbortRollout))
    } else {
        format!(
            "{} resume · {} abort",
            state.keymap.first_key(Action::ResumeRollout),
            state.keymap.first_key(Action::AbortRollout)
        )
    };
    // Said in the head, which is never cut (at the event's end it was, at 80 columns).
    let more = if state.rollouts.len() > 1 {
        format!("(+{} more) ", state.rollouts.len() - 1)
    } else {
        String::new()
    };
    // Where it stands, before anything that may be cut: a halted or interrupted rollout whose
    // word was cut off at 80 columns read as one still running.
    use crate::ops::rollout::{Standing, Status};
    let word = match (&r.status, r.standing()) {
        (Status::Halted { .. }, _) => Some("halted"),
        (Status::RolledBack { .. }, _) => Some("rolled back"),
        (Status::Aborted, _) => Some("aborted"),
        (_, Standing::Interrupted) if !p.running => Some("interrupted"),
        _ => None,
    };
    // A long target gives way (cut in its middle, marked) before its state and keys do.
    let keys = Span::styled(format!("  {keys}"), theme.dim());
    let target = r.target();
    let fixed = format!(" rollout  @ {} {more}", r.scope_label())
        .chars()
        .count()
        + 10
        + word.map_or(0, |w| w.len() + 1)
        + keys.width();
    let target = widgets::fit_middle(
        &target,
        usize::from(area.width).saturating_sub(fixed).max(12),
        theme,
    );
    let mut head = vec![
        // Where it runs: a function in several regions has a rollout in one.
        Span::styled(
            format!(" rollout {target} @ {} {more}", r.scope_label()),
            theme.title(),
        ),
        Span::styled(
            widgets::bar(done, 10, theme),
            if p.running { theme.ok() } else { theme.warn() },
        ),
    ];
    if let Some(word) = word {
        head.push(Span::styled(format!(" {word}"), theme.warn()));
    }
    // Said once: the event's own "halted: " gives way to the word before it.
    let said = word
        .and_then(|w| p.event.strip_prefix(&format!("{w}: ")))
        .unwrap_or(&p.event);
    // The event often says the step already ("step 1/2 (10% on v2) applied").
    let event = Span::raw(if said.starts_with(&r.progress()) {
        format!(" {said}")
    } else {
        format!(" {} · {said}", r.progress())
    });
    // The keys stay on the line; the event gives way, cut between words and marked (a pid
    // cut by a digit read as another process).
    let room = usize::from(area.width)
        .saturating_sub(head.iter().map(Span::width).sum::<usize>() + keys.width());
    let mut spans = head;
    spans.extend(cut_at_words(vec![event], room, theme));
    spans.push(keys);
    frame.render_widget(Paragraph::new(Line::from(spans)), area);
}
