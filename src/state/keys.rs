//! Keys: what each one does in the view, input or popup at hand.

use crossterm::event::{KeyCode, KeyEvent};

use super::{Action, Effect, Input, Popup, Sort, State, View, actions};
use crate::provider::MetricWindow;

pub(super) fn on_key(state: &mut State, key: KeyEvent, effects: &mut Vec<Effect>) {
    // Nothing is on screen but "too small": only quitting works (a key must never act on
    // what cannot be seen — a confirmation least of all).
    if state.too_small() {
        let quit = state.keymap.action_in(&key, false) == Some(Action::Quit);
        if is_ctrl_c(&key) || (quit && state.input.is_none()) {
            // Its question (something runs) cannot be seen here: asked again, it is a yes.
            let asked = matches!(&state.popup, Some(Popup::Confirm(p)) if matches!(p.proposal, super::confirm::Proposal::Quit));
            state.popup = None;
            match asked {
                true => state.quit = true,
                false => super::confirm::quit(state),
            }
        }
        return;
    }
    if let Some(input) = state.input.take() {
        on_input_key(state, input, key, effects);
        return;
    }
    // A value input this key opens shows the value now; the first key typed replaces it.
    state.input_touched = false;
    if quits_from_popup(state, &key) {
        // Closed as esc closes it (a confirmation declined: nothing was sent); quitting still
        // asks first while a rollout or a batch runs.
        state.popup = None;
        actions::quit(state);
        return;
    }
    if matches!(state.popup, Some(Popup::Confirm(_)))
        && let Some(Popup::Confirm(pending)) = state.popup.take()
    {
        actions::confirm_key(state, pending, key, effects);
        return;
    }
    match &state.popup {
        // An action or a batch under way: esc hides it (it goes on; its result shows when it
        // lands), other keys do nothing. A finished batch closes on enter or esc.
        Some(Popup::Working(_) | Popup::Batch) => {
            let running = matches!(state.popup, Some(Popup::Working(_)))
                || state.batch_run.as_ref().is_some_and(|r| !r.done());
            if super::batch::scrolled(state, &key) {
                return;
            }
            if key.code == KeyCode::Esc || (!running && key.code == KeyCode::Enter) {
                state.popup = None;
            } else if !running
                && matches!(state.popup, Some(Popup::Batch))
                && state.keymap.action(&key) == Some(Action::Undo)
                && state
                    .batch_run
                    .as_ref()
                    .is_some_and(|r| r.batch.action != "undo")
            {
                // What the finished batch offers: undo it at once — that batch, not whatever
                // is last by then (another lops may have undone it meanwhile).
                // Its records: those it landed, and (several targets) every one of its batch
                // id, an outcome not known included.
                let only = state.batch_run.as_ref().map(|r| {
                    let mut ids: Vec<String> = r
                        .landed
                        .iter()
                        .filter_map(|(_, l)| Some(l.as_ref().ok()?.record.as_ref()?.id.clone()))
                        .collect();
                    ids.push(format!("{}{}", crate::ops::batch::BATCH_MARK, r.batch.id));
                    ids
                });
                state.popup = None;
                super::batch::undo(state, only, effects);
            }
            return;
        }
        // A notice closes on esc or enter only, and the key does nothing else.
        Some(Popup::Notice(_)) => {
            if matches!(key.code, KeyCode::Esc | KeyCode::Enter) {
                state.popup = None;
            }
            return;
        }
        // Help pages with ↑ ↓ PgUp PgDn (on a small screen it does not fit); any other key
        // closes it, and does nothing else.
        Some(Popup::Help) => {
            let page = usize::from(state.size.1.saturating_sub(4)).max(1);
            let last = super::help::help_last_start(state);
            match key.code {
                KeyCode::Down => state.help_scroll = (state.help_scroll + 1).min(last),
                KeyCode::PageDown => state.help_scroll = (state.help_scroll + page).min(last),
                KeyCode::Up => state.help_scroll = state.help_scroll.saturating_sub(1),
                KeyCode::PageUp => state.help_scroll = state.help_scroll.saturating_sub(page),
                _ => state.popup = None,
            }
            return;
        }
        Some(_) => {
            state.popup = None;
            return;
        }
        None => {}
    }
    let logs = matches!(state.view, View::Logs { .. });
    let Some(action) = state.keymap.action_in(&key, logs) else {
        return;
    };
    let page = state.table_rows();
    // Acting on the highlighted row chooses it, as moving to it does: the next key acts on
    // the same function, not on whatever a re-sort moved under the highlight meanwhile.
    if matches!(state.view, View::Fleet | View::Load) && acts_on_the_row(action) {
        state.chosen = true;
        // Over one a filter hid: the row acted on is the choice now (`*` acts on every row
        // shown, on none in particular).
        if !state.rows.is_empty() && action != Action::MarkAll {
            state.hidden_choice = None;
        }
    }
    match action {
        // The log pane shows no rows: marks, the sort and the window are the fleet's (`*`
        // marked the whole fleet behind the pane, unseen, for the next action key).
        Action::Mark
        | Action::MarkAll
        | Action::SortNext
        | Action::SortReverse
        | Action::Window
            if logs =>
        {
            state.popup = Some(Popup::Notice(format!(
                "marks, the sort and the window are the fleet's rows': {} back to the fleet",
                state.keymap.first_key(Action::Back)
            )));
        }
        Action::Quit => actions::quit(state),
        Action::Help => {
            state.help_scroll = 0;
            state.popup = Some(Popup::Help);
        }
        Action::Back => go_back(state),
        Action::Filter => {
            let current = match &state.log_pane {
                Some(pane) if matches!(state.view, View::Logs { .. }) => pane.filter.clone(),
                _ => state.filter.clone(),
            };
            state.input = Some(Input::Filter(current));
        }
        Action::Palette => state.input = Some(Input::Palette(String::new())),
        Action::Up => move_by(state, -1),
        Action::Down => move_by(state, 1),
        Action::PageUp => move_by(state, -(page as i64)),
        Action::PageDown => move_by(state, page as i64),
        Action::Top => move_by(state, i64::MIN / 2),
        Action::Bottom => move_by(state, i64::MAX / 2),
        Action::Open if !matches!(state.view, View::Regions | View::Services) => open_detail(state),
        Action::Refresh => {
            effects.push(Effect::RefreshAll);
            // In the detail view `r` reads its triggers again too.
            if let Some(pane) = state.trigger_pane.as_mut() {
                pane.reload = true;
            }
            if state.view == View::Services {
                super::services::read(state, effects);
            }
        }
        Action::SortNext => {
            state.chosen = true;
            let column = state.sort.column.next();
            state.sort = Sort {
                column,
                descending: column.natural_descending(),
            };
            state.rebuild_rows();
        }
        Action::SortReverse => {
            state.chosen = true;
            state.sort.descending = !state.sort.descending;
            state.rebuild_rows();
        }
        Action::Window => {
            state.chosen = true;
            state.window = match state.window {
                MetricWindow::M5 => MetricWindow::M15,
                MetricWindow::M15 => MetricWindow::M60,
                MetricWindow::M60 => MetricWindow::M5,
            };
            state.rebuild_rows();
        }
        Action::Shift | Action::Drain | Action::RestoreRegion if state.view == View::Services => {
            super::services::act(state, action, effects)
        }
        Action::Drain | Action::RestoreRegion => {
            state.popup = Some(Popup::Notice(format!(
                "drain and restore act on a service's region: open the services view ({})",
                state.keymap.first_key(Action::Services)
            )))
        }
        Action::Services => {
            switch_view(state, View::Services);
            super::services::read(state, effects);
        }
        action
            if acts_on_the_row(action) && matches!(state.view, View::Regions | View::Services) =>
        {
            no_function_here(state);
        }
        Action::Alias => super::alias_choice::next(state, effects),
        Action::Mark => super::batch::toggle(state),
        Action::MarkAll => super::batch::mark_all(state),
        Action::Logs => {
            if let Some((region, f)) = state.focus() {
                let view = View::Logs {
                    region,
                    function: f.info.name.clone(),
                };
                switch_view(state, view);
            }
        }
        Action::Pause => {
            if let Some(pane) = state.log_pane.as_mut() {
                pane.paused = !pane.paused;
            }
        }
        Action::Fleet => switch_view(state, View::Fleet),
        Action::Regions => switch_view(state, View::Regions),
        Action::Load => switch_view(state, View::Load),
        // Invoke, the levers, rollouts, triggers, backup and undo: through the ops layer.
        _ => actions::start(state, action, effects),
    }
}

/// Pasted text goes into the open input as typed text (newlines kept in a payload, spaces
/// elsewhere); with no input open it does nothing — a paste never presses a key, and a
/// confirmation's name is typed, not pasted.
pub(super) fn on_paste(state: &mut State, text: &str) {
    if state.too_small() {
        return;
    }
    // A name pasted into a typed-name confirmation is typed (its newline never confirms: enter
    // still has to be pressed, with the whole name on screen).
    if state.input.is_none()
        && let Some(super::Popup::Confirm(pending)) = state.popup.as_mut()
        && matches!(pending.confirmation, crate::ops::Confirmation::Typed(_))
    {
        pending.type_in(text);
        return;
    }
    let Some(mut input) = state.input.take() else {
        return;
    };
    let payload = matches!(input, Input::Payload(_));
    let clean: String = text
        .replace("\r\n", "\n")
        .chars()
        .map(|c| match c {
            '\n' | '\r' | '\t' if payload => {
                if c == '\r' {
                    '\n'
                } else {
                    c
                }
            }
            // Kept in a payload as pasted: its check refuses one inside a string, as the
            // CLI's does (a space would send another payload than the one pasted); the editor
            // shows it as `�`.
            c if c.is_control() && !payload => ' ',
            c => c,
        })
        .collect();
    let replace = !state.input_touched;
    match &mut input {
        Input::Filter(t) | Input::Palette(t) => t.push_str(&clean),
        Input::Payload(t) => {
            if replace {
                t.clear();
            }
            t.push_str(&clean);
        }
        Input::Weight(t) | Input::Preset(t) | Input::Concurrency(t) | Input::ServiceWeight(t) => {
            if replace {
                t.clear();
            }
            t.push_str(clean.trim());
        }
    }
    (state.input_touched, state.input_error) = (true, None);
    if let Input::Filter(t) = &input {
        set_filter(state, t.clone());
    }
    state.input = Some(input);
}

fn is_ctrl_c(key: &KeyEvent) -> bool {
    key.code == KeyCode::Char('c')
        && key
            .modifiers
            .contains(crossterm::event::KeyModifiers::CONTROL)
}

/// Whether `key` quits from the popup open, as ctrl-c does from an input and a confirmation
/// (which answers it itself; none open: the keymap's quit does): ctrl-c, or a quit key bound
/// with ctrl. Quitting asks first while anything is being written or runs
/// ([`super::confirm::quit`]).
fn quits_from_popup(state: &State, key: &KeyEvent) -> bool {
    let quit_key = is_ctrl_c(key)
        || (key
            .modifiers
            .contains(crossterm::event::KeyModifiers::CONTROL)
            && state.keymap.action(key) == Some(Action::Quit));
    // Not from an action under way (a rollout's start or abort included): its write and audit
    // record land first; esc hides it, then quitting asks.
    quit_key
        && !matches!(
            state.popup,
            None | Some(Popup::Confirm(_) | Popup::Working(_))
        )
}

pub(super) fn on_input_key(
    state: &mut State,
    input: Input,
    key: KeyEvent,
    effects: &mut Vec<Effect>,
) {
    // Control keys are never typed: ctrl-c quits (asking first while something runs), ctrl-u
    // clears the line, ctrl-w takes its last word away; the others do nothing.
    if key
        .modifiers
        .contains(crossterm::event::KeyModifiers::CONTROL)
    {
        let mut input = input;
        let text = match &mut input {
            Input::Filter(t)
            | Input::Palette(t)
            | Input::Payload(t)
            | Input::Weight(t)
            | Input::Preset(t)
            | Input::Concurrency(t)
            | Input::ServiceWeight(t) => t,
        };
        match key.code {
            KeyCode::Char('c') => {
                state.input_error = None;
                super::confirm::quit(state);
                return;
            }
            KeyCode::Char('u') => {
                text.clear();
                state.input_touched = true;
            }
            KeyCode::Char('w') => {
                let kept = text.trim_end().rfind(' ').map_or(0, |i| i + 1);
                text.truncate(kept);
                state.input_touched = true;
            }
            _ => {}
        }
        if let Input::Filter(t) = &input {
            set_filter(state, t.clone());
        }
        state.input = Some(input);
        return;
    }
    if matches!(
        input,
        Input::Payload(_)
            | Input::Weight(_)
            | Input::Preset(_)
            | Input::Concurrency(_)
            | Input::ServiceWeight(_)
    ) {
        match key.code {
            KeyCode::Esc => state.input_error = None,
            KeyCode::Enter => actions::submit(state, input, effects),
            KeyCode::Tab if matches!(input, Input::Payload(_)) => {
                actions::next_qualifier(state);
                state.input = Some(input);
            }
            KeyCode::Backspace => {
                state.input_touched = true;
                let mut input = input;
                if let Input::Payload(t)
                | Input::Weight(t)
                | Input::Preset(t)
                | Input::Concurrency(t)
                | Input::ServiceWeight(t) = &mut input
                {
                    t.pop();
                }
                state.input = Some(input);
            }
            KeyCode::Char(c) => {
                let mut input = input;
                match &mut input {
                    Input::Payload(t)
                    | Input::Weight(t)
                    | Input::Preset(t)
                    | Input::Concurrency(t)
                    | Input::ServiceWeight(t) => {
                        // The value shown when it opened is replaced by what is typed, not
                        // appended to (`100` then `5` is 5, not 1005; `{}` then `{` is `{`).
                        if !state.input_touched {
                            t.clear();
                        }
                        t.push(c);
                    }
                    _ => {}
                }
                state.input_touched = true;
                state.input = Some(input);
            }
            _ => state.input = Some(input),
        }
        return;
    }
    match (input, key.code) {
        (Input::Filter(_), KeyCode::Esc) => set_filter(state, String::new()),
        (Input::Palette(_), KeyCode::Esc) => {}
        (Input::Filter(_), KeyCode::Enter) => {}
        (Input::Palette(text), KeyCode::Enter) => run_command(state, text.trim(), effects),
        (Input::Filter(mut text), KeyCode::Backspace) => {
            text.pop();
            set_filter(state, text.clone());
            state.input = Some(Input::Filter(text));
        }
        (Input::Palette(mut text), KeyCode::Backspace) => {
            text.pop();
            state.input = Some(Input::Palette(text));
        }
        (Input::Filter(mut text), KeyCode::Char(c)) => {
            text.push(c);
            set_filter(state, text.clone());
            state.input = Some(Input::Filter(text));
        }
        (Input::Palette(mut text), KeyCode::Char(c)) => {
            text.push(c);
            state.input = Some(Input::Palette(text));
        }
        (input, _) => state.input = Some(input),
    }
}

/// The regions and services views select no function: a function key (or the palette's
/// `detail`) there would act on, or open, the fleet's selection, which is not on screen.
fn no_function_here(state: &mut State) {
    state.popup = Some(Popup::Notice(format!(
        "the {} view selects no function: press {} for the fleet, select one there, then act",
        state.view.title(),
        state.keymap.first_key(Action::Fleet)
    )));
}

/// The palette's commands: a view name, `help`, `quit`, or any unique prefix of them.
pub const COMMANDS: [&str; 7] = [
    "fleet", "regions", "load", "services", "detail", "help", "quit",
];

pub(super) fn run_command(state: &mut State, text: &str, effects: &mut Vec<Effect>) {
    let text = text.to_lowercase();
    let found: Vec<&str> = COMMANDS
        .iter()
        .copied()
        .filter(|c| c.starts_with(&text))
        .collect();
    match (text.is_empty(), found.as_slice()) {
        (true, _) => {}
        (false, [command]) => match *command {
            "fleet" => switch_view(state, View::Fleet),
            "regions" => switch_view(state, View::Regions),
            "load" => switch_view(state, View::Load),
            "services" => {
                switch_view(state, View::Services);
                super::services::read(state, effects);
            }
            "detail" if matches!(state.view, View::Regions | View::Services) => {
                no_function_here(state)
            }
            "detail" => open_detail(state),
            "help" => state.popup = Some(Popup::Help),
            _ => actions::quit(state),
        },
        _ => {
            state.popup = Some(Popup::Notice(format!(
                "unknown command '{text}': try {}",
                COMMANDS.join(", ")
            )))
        }
    }
}

/// The filter being typed: the log pane's lines in the logs view, the fleet's rows elsewhere.
pub(super) fn set_filter(state: &mut State, text: String) {
    if matches!(state.view, View::Logs { .. })
        && let Some(pane) = state.log_pane.as_mut()
    {
        pane.filter = text;
        return;
    }
    state.filter = text;
    // A chosen row stays chosen through the filter (or comes back after it); otherwise the
    // highlight stays on the top row, the unhealthiest one.
    if !state.chosen {
        state.selected = 0;
    }
    state.rebuild_rows();
}

pub(super) use super::views::{go_back, open_detail, switch_view};

/// The keys that act on (or open) the highlighted function (`*`: the rows the filter shows).
fn acts_on_the_row(action: Action) -> bool {
    matches!(
        action,
        Action::Invoke
            | Action::Shift
            | Action::Promote
            | Action::Rollback
            | Action::Kill
            | Action::Revive
            | Action::Rollout
            | Action::AbortRollout
            | Action::ResumeRollout
            | Action::Pin
            | Action::Alias
            | Action::Concurrency
            | Action::Trigger
            | Action::Backup
            | Action::Mark
            | Action::MarkAll
            | Action::Open
            | Action::Logs
    )
}

pub(super) fn move_by(state: &mut State, delta: i64) {
    match state.view {
        View::Fleet | View::Load => {
            state.chosen = true;
            // A move chooses the row moved to, over one a filter hid.
            state.hidden_choice = None;
            let n = state.rows.len() as i64;
            state.selected = (state.selected as i64 + delta).clamp(0, (n - 1).max(0)) as usize;
            state.clamp();
        }
        View::Detail { .. } => {
            if let Some(pane) = state.trigger_pane.as_mut() {
                let n = pane.triggers().len() as i64;
                pane.selected = (pane.selected as i64 + delta).clamp(0, (n - 1).max(0)) as usize;
            }
        }
        View::Logs { .. } => {
            if let Some(pane) = state.log_pane.as_mut() {
                pane.scroll(delta);
            }
        }
        View::Services => super::services::move_by(state, delta),
        View::Regions => {}
    }
}
