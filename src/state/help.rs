//! The help popup's content and layout: the keys of every action the scope allows, and how
//! they page on the screen.

use super::keymap::Action;
use super::{State, actions};

/// What the help lists: the keys of every action this scope allows, then the keymap's others.
pub fn help_entries(state: &State) -> Vec<(String, String)> {
    let mut entries: Vec<(String, String)> = Action::ALL
        .iter()
        .copied()
        .filter(|a| actions::allowed(state, *a))
        // The services view and its levers only where a service is configured (the header
        // leaves its tab out alike).
        .filter(|a| {
            !state.services.services.is_empty()
                || !matches!(a, Action::Services | Action::Drain | Action::RestoreRegion)
        })
        .map(|a| (state.keymap.keys_of(a), a.describe().to_string()))
        .collect();
    for (keys, what) in [
        (
            "tab",
            "in a confirmation: the same action in every region with the function",
        ),
        (
            "ctrl-u ctrl-w",
            "in an input: clear it / take its last word away",
        ),
        ("y", "confirm (enter never does); n or esc cancels"),
        (
            "↑ ↓ PgUp PgDn",
            "a long confirmation: each target shows before y",
        ),
        ("esc", "on the fleet: clear the marks, then the filter"),
    ] {
        entries.push((keys.to_string(), what.to_string()));
    }
    entries
}

/// The widest key of the help's entries, and its longest line (key, two spaces, text).
pub fn help_widths(entries: &[(String, String)]) -> (usize, usize) {
    let key_width = entries
        .iter()
        .map(|(k, _)| k.chars().count())
        .max()
        .unwrap_or(1);
    let longest = entries
        .iter()
        .map(|(_, w)| w.chars().count())
        .max()
        .unwrap_or(0)
        + key_width
        + 2;
    (key_width, longest)
}

/// The help as one paging column on this screen: (key column width, description width, rows
/// for entries) — the one layout the drawing and the paging keys share.
pub fn help_layout(state: &State) -> (usize, usize, usize) {
    let (key_width, longest) = help_widths(&help_entries(state));
    let inner_width = (longest + 2)
        .min(usize::from(state.size.0))
        .saturating_sub(2);
    let text_width = inner_width.saturating_sub(key_width + 2).max(8);
    // Borders, and one row saying what is above and below.
    let room = usize::from(state.size.1).saturating_sub(3).max(1);
    (key_width, text_width, room)
}

/// Where paging the help stops: the first entry of its last full page, so the end fills the
/// page and ↑ moves at once from there.
pub fn help_last_start(state: &State) -> usize {
    let entries = help_entries(state);
    let (_, text_width, room) = help_layout(state);
    let mut rows = 0;
    let mut start = entries.len();
    while start > 0 {
        let r = crate::format::wrap(&entries[start - 1].1, text_width).len();
        if rows + r > room {
            break;
        }
        rows += r;
        start -= 1;
    }
    start.min(entries.len().saturating_sub(1))
}
