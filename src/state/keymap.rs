//! One keymap: named actions with default keys, the user's config on top. Help and the
//! footer's hints are generated from it, so they cannot drift from the real bindings.

use std::collections::BTreeMap;

use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub enum Action {
    Quit,
    Help,
    Back,
    Filter,
    Palette,
    Up,
    Down,
    PageUp,
    PageDown,
    Top,
    Bottom,
    Open,
    Refresh,
    SortNext,
    SortReverse,
    Window,
    Fleet,
    Regions,
    Load,
    Services,
    Drain,
    RestoreRegion,
    Invoke,
    Shift,
    Promote,
    Rollback,
    Kill,
    Revive,
    Rollout,
    AbortRollout,
    ResumeRollout,
    Pin,
    Alias,
    Concurrency,
    Backup,
    Trigger,
    Logs,
    Pause,
    Mark,
    MarkAll,
    Undo,
}

impl Action {
    pub const ALL: [Action; 41] = [
        Action::Up,
        Action::Down,
        Action::PageUp,
        Action::PageDown,
        Action::Top,
        Action::Bottom,
        Action::Open,
        Action::Back,
        Action::Filter,
        Action::Palette,
        Action::SortNext,
        Action::SortReverse,
        Action::Window,
        Action::Refresh,
        Action::Fleet,
        Action::Regions,
        Action::Load,
        Action::Services,
        Action::Mark,
        Action::MarkAll,
        Action::Invoke,
        Action::Shift,
        Action::Promote,
        Action::Rollback,
        Action::Kill,
        Action::Revive,
        Action::Rollout,
        Action::AbortRollout,
        Action::ResumeRollout,
        Action::Pin,
        Action::Alias,
        Action::Concurrency,
        Action::Backup,
        Action::Trigger,
        Action::Drain,
        Action::RestoreRegion,
        Action::Undo,
        Action::Logs,
        Action::Pause,
        Action::Help,
        Action::Quit,
    ];

    /// The name used in the config file's `[keymap]` table.
    pub fn name(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "help",
            Action::Back => "back",
            Action::Filter => "filter",
            Action::Palette => "palette",
            Action::Up => "up",
            Action::Down => "down",
            Action::PageUp => "page_up",
            Action::PageDown => "page_down",
            Action::Top => "top",
            Action::Bottom => "bottom",
            Action::Open => "open",
            Action::Refresh => "refresh",
            Action::SortNext => "sort",
            Action::SortReverse => "sort_reverse",
            Action::Window => "window",
            Action::Fleet => "fleet",
            Action::Regions => "regions",
            Action::Load => "load",
            Action::Services => "services",
            Action::Drain => "drain",
            Action::RestoreRegion => "restore_region",
            Action::Invoke => "invoke",
            Action::Shift => "shift",
            Action::Promote => "promote",
            Action::Rollback => "rollback",
            Action::Kill => "kill",
            Action::Revive => "revive",
            Action::Rollout => "rollout",
            Action::AbortRollout => "abort_rollout",
            Action::ResumeRollout => "resume_rollout",
            Action::Pin => "pin",
            Action::Alias => "alias",
            Action::Concurrency => "concurrency",
            Action::Backup => "backup",
            Action::Trigger => "trigger",
            Action::Logs => "logs",
            Action::Pause => "pause",
            Action::Mark => "mark",
            Action::MarkAll => "mark_all",
            Action::Undo => "undo",
        }
    }

    pub fn describe(self) -> &'static str {
        match self {
            Action::Quit => "quit",
            Action::Help => "this help",
            Action::Back => "back / close",
            Action::Filter => "filter by name, region, tag=value or state (alarm, killed too)",
            Action::Palette => {
                "command palette (fleet, regions, load, services, detail, help, quit)"
            }
            Action::Up => "move up",
            Action::Down => "move down",
            Action::PageUp => "page up",
            Action::PageDown => "page down",
            Action::Top => "first row",
            Action::Bottom => "last row",
            Action::Open => "open the function's detail",
            Action::Refresh => "re-read inventory and alarms now",
            Action::SortNext => "sort by the next column",
            Action::SortReverse => "reverse the sort",
            Action::Window => "cycle the metrics window (5m, 15m, 60m)",
            Action::Fleet => "fleet view",
            Action::Regions => "regions view",
            Action::Load => "load distribution view",
            Action::Services => "services view: Route 53 weights and health against real load",
            Action::Drain => "services view: drain the selected region (weight 0)",
            Action::RestoreRegion => {
                "services view: restore the region to the weight its drain found"
            }
            Action::Invoke => "invoke the function with a JSON payload",
            Action::Shift => {
                "set the weight of the alias's second version (services view: the region's \
                 Route 53 weight)"
            }
            Action::Promote => "all alias traffic to its second version",
            Action::Rollback => "all alias traffic back to its main version",
            Action::Kill => "kill switch: reserved concurrency 0",
            Action::Revive => "undo the kill switch",
            Action::Rollout => "rollout to the alias's second version (preset, with guard)",
            Action::AbortRollout => "abort the rollout: all traffic back to where it started",
            Action::ResumeRollout => "resume an interrupted rollout",
            Action::Pin => "all alias traffic to its last known good version",
            Action::Alias => "the alias t P B L C A U act on: the function's next alias",
            Action::Concurrency => "set reserved concurrency (a number, or none)",
            Action::Backup => "back up the function to the [backup] location",
            Action::Trigger => {
                "pause / resume a trigger (detail: Up/Down picks it; marks: all theirs)"
            }
            Action::Logs => "log pane of the function: follows live (/ filters)",
            Action::Pause => "log pane: pause / follow",
            Action::Mark => "mark / unmark the row (actions then act on every marked row)",
            Action::MarkAll => "mark every row the filter shows (again: unmark them)",
            Action::Undo => "undo the last action (a batch as a whole), previewed first",
        }
    }

    fn default_keys(self) -> &'static [&'static str] {
        match self {
            Action::Quit => &["q", "ctrl-c"],
            Action::Help => &["?"],
            Action::Back => &["esc"],
            Action::Filter => &["/"],
            Action::Palette => &[":"],
            Action::Up => &["up", "k"],
            Action::Down => &["down", "j"],
            Action::PageUp => &["pgup", "ctrl-b"],
            Action::PageDown => &["pgdn", "ctrl-f"],
            Action::Top => &["home", "g"],
            Action::Bottom => &["end", "G"],
            Action::Open => &["enter"],
            Action::Refresh => &["r"],
            Action::SortNext => &["s"],
            Action::SortReverse => &["S"],
            Action::Window => &["w"],
            Action::Fleet => &["1"],
            Action::Regions => &["2"],
            Action::Load => &["3"],
            Action::Services => &["4"],
            Action::Drain => &["D"],
            Action::RestoreRegion => &["R"],
            Action::Invoke => &["i"],
            Action::Shift => &["t"],
            Action::Promote => &["P"],
            Action::Rollback => &["B"],
            Action::Kill => &["K"],
            Action::Revive => &["V"],
            Action::Rollout => &["C"],
            Action::AbortRollout => &["A"],
            Action::ResumeRollout => &["U"],
            Action::Pin => &["L"],
            Action::Alias => &["a"],
            Action::Concurrency => &["N"],
            Action::Backup => &["b"],
            Action::Trigger => &["p"],
            Action::Logs => &["l"],
            Action::Pause => &["space"],
            Action::Mark => &["space"],
            Action::MarkAll => &["*"],
            Action::Undo => &["u"],
        }
    }

    pub fn by_name(name: &str) -> Option<Action> {
        // The names rollouts had when they were called plans still work in config files.
        let name = match name {
            "plan" => "rollout",
            "abort_plan" => "abort_rollout",
            "resume_plan" => "resume_rollout",
            other => other,
        };
        Action::ALL.into_iter().find(|a| a.name() == name)
    }
}

/// Whether the user bound this action themselves (then a clash is theirs to resolve).
fn overridden(overrides: &BTreeMap<String, String>, action: Option<Action>) -> bool {
    action.is_some_and(|a| overrides.keys().any(|n| Action::by_name(n) == Some(a)))
}

/// Why a terminal never sends this key apart from another, if it does not: ctrl-m is enter,
/// ctrl-i tab, ctrl-[ esc, ctrl-h backspace in many terminals; a control key is one letter
/// whatever the shift.
fn undeliverable(key: &Key) -> Option<&'static str> {
    if !key.ctrl {
        // y answers yes to every question: the action's own key pressed twice would confirm
        // the change it asked about.
        return matches!(key.code, KeyCode::Char('y' | 'Y')).then_some(
            "y answers yes to every question lops asks (pressed twice, it would confirm what \
             it opened): choose another key",
        );
    }
    match key.code {
        KeyCode::Char('m') => Some("terminals send ctrl-m as enter: choose another key"),
        KeyCode::Char('i') => Some("terminals send ctrl-i as tab: choose another key"),
        KeyCode::Char('[') => Some("terminals send ctrl-[ as esc: choose another key"),
        KeyCode::Char('h') => Some("many terminals send ctrl-h as backspace: choose another key"),
        KeyCode::Char(c) if c.is_ascii_uppercase() => {
            Some("a control key is the same with or without shift: write it in lowercase")
        }
        KeyCode::Char(c) if c.is_ascii_lowercase() => None,
        // ctrl-\ arrives as ctrl-4, ctrl-] as ctrl-5 and so on: never as written.
        KeyCode::Char(_) => Some(
            "only letters take ctrl- (ctrl-r): a terminal sends ctrl with a digit or symbol as another key",
        ),
        _ => Some("only letters and symbols take ctrl- (ctrl-r, not ctrl-f5)"),
    }
}

/// Actions that may share a key because they never apply on the same screen.
fn shares_key(a: Action, b: Action) -> bool {
    matches!(
        (a, b),
        (Action::Pause, Action::Mark) | (Action::Mark, Action::Pause)
    )
}

/// A key as written in the config file: `q`, `G`, `?`, `ctrl-c`, `enter`, `esc`, `f1`, `pgdn`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key {
    pub code: KeyCode,
    pub ctrl: bool,
}

impl Key {
    pub fn parse(text: &str) -> Option<Key> {
        let (ctrl, rest) = match text.strip_prefix("ctrl-") {
            Some(rest) if !rest.is_empty() => (true, rest),
            _ => (false, text),
        };
        let code = match rest {
            "enter" => KeyCode::Enter,
            "esc" => KeyCode::Esc,
            "tab" => KeyCode::Tab,
            "backspace" => KeyCode::Backspace,
            "up" => KeyCode::Up,
            "down" => KeyCode::Down,
            "left" => KeyCode::Left,
            "right" => KeyCode::Right,
            "pgup" => KeyCode::PageUp,
            "pgdn" => KeyCode::PageDown,
            "home" => KeyCode::Home,
            "end" => KeyCode::End,
            "space" => KeyCode::Char(' '),
            f if f.len() > 1 && f.starts_with('f') => {
                KeyCode::F(f[1..].parse().ok().filter(|n| (1..=12).contains(n))?)
            }
            c => {
                let mut chars = c.chars();
                let ch = chars.next()?;
                if chars.next().is_some() {
                    return None;
                }
                KeyCode::Char(ch)
            }
        };
        Some(Key { code, ctrl })
    }

    pub fn from_event(e: &KeyEvent) -> Key {
        Key {
            code: e.code,
            ctrl: e.modifiers.contains(KeyModifiers::CONTROL),
        }
    }

    pub fn label(&self) -> String {
        let base = match self.code {
            KeyCode::Enter => "enter".to_string(),
            KeyCode::Esc => "esc".to_string(),
            KeyCode::Tab => "tab".to_string(),
            KeyCode::Backspace => "backspace".to_string(),
            // Words, not arrows: in ASCII an arrow would read as `^` or `v`, a key of its own.
            KeyCode::Up => "Up".to_string(),
            KeyCode::Down => "Down".to_string(),
            KeyCode::Left => "Left".to_string(),
            KeyCode::Right => "Right".to_string(),
            KeyCode::PageUp => "pgup".to_string(),
            KeyCode::PageDown => "pgdn".to_string(),
            KeyCode::Home => "home".to_string(),
            KeyCode::End => "end".to_string(),
            KeyCode::F(n) => format!("f{n}"),
            KeyCode::Char(' ') => "space".to_string(),
            KeyCode::Char(c) => c.to_string(),
            _ => "?".to_string(),
        };
        if self.ctrl {
            format!("ctrl-{base}")
        } else {
            base
        }
    }
}

#[derive(Debug, Clone)]
pub struct Keymap {
    /// In the order they were bound, so help lists the defaults first.
    bindings: Vec<(Key, Action)>,
}

impl Default for Keymap {
    fn default() -> Self {
        let bindings = Action::ALL
            .into_iter()
            .flat_map(|a| {
                a.default_keys()
                    .iter()
                    .filter_map(move |k| Some((Key::parse(k)?, a)))
            })
            .collect();
        Keymap { bindings }
    }
}

impl Keymap {
    /// Defaults with the user's `[keymap]` on top: `action = "key"`, several keys in one string
    /// with spaces (`action = "k1 k2"`). A user binding replaces that action's defaults; the
    /// order of the lines never matters (every action bound is freed of its defaults first, so
    /// two keys swap). A key another action keeps by default is refused, not taken from it in
    /// silence (that action would lose it) — except the few added after people wrote their
    /// keymaps, which give way. A key no terminal sends apart (ctrl-m is enter) is refused.
    pub fn with_overrides(overrides: &BTreeMap<String, String>) -> Result<Keymap, String> {
        let mut map = Keymap::default();
        let mut wanted: Vec<(Action, &str, Vec<Key>)> = Vec::new();
        for (name, keys) in overrides {
            let action = Action::by_name(name).ok_or_else(|| {
                let names: Vec<&str> = Action::ALL.iter().map(|a| a.name()).collect();
                format!(
                    "keymap: unknown action '{name}'; actions are: {}",
                    names.join(", ")
                )
            })?;
            let parsed: Vec<Key> = keys
                .split_whitespace()
                .map(|k| {
                    let key = Key::parse(k).ok_or_else(|| {
                        format!(
                            "keymap: '{k}' for '{name}' is not a key (try q, ctrl-r, enter, f5)"
                        )
                    })?;
                    match undeliverable(&key) {
                        Some(why) => Err(format!("keymap: '{k}' for '{name}': {why}")),
                        None => Ok(key),
                    }
                })
                .collect::<Result<_, _>>()?;
            if parsed.is_empty() {
                return Err(format!("keymap: no key given for '{name}'"));
            }
            map.bindings.retain(|(_, a)| *a != action);
            wanted.push((action, name, parsed));
        }
        for (action, name, keys) in wanted {
            for key in keys {
                if let Some(other) = map
                    .get(&key)
                    .filter(|o| *o != action && !shares_key(*o, action))
                {
                    let whose = match overridden(overrides, Some(other)) {
                        true => String::new(),
                        false => {
                            format!(" (its default: bind '{}' to another key too)", other.name())
                        }
                    };
                    return Err(format!(
                        "keymap: '{}' is bound to both '{}' and '{name}'{whose}",
                        key.label(),
                        other.name()
                    ));
                }
                map.bindings.push((key, action));
            }
        }
        Ok(map)
    }

    fn get(&self, key: &Key) -> Option<Action> {
        self.bindings
            .iter()
            .find(|(k, _)| k == key)
            .map(|(_, a)| *a)
    }

    pub fn action(&self, event: &KeyEvent) -> Option<Action> {
        self.get(&Key::from_event(event))
    }

    /// The action of a key where one key serves two screens (`space`: pause in the log pane,
    /// mark elsewhere).
    pub fn action_in(&self, event: &KeyEvent, logs: bool) -> Option<Action> {
        let key = Key::from_event(event);
        let bound: Vec<Action> = self
            .bindings
            .iter()
            .filter(|(k, _)| *k == key)
            .map(|(_, a)| *a)
            .collect();
        if bound.contains(&Action::Pause) && bound.contains(&Action::Mark) {
            return Some(if logs { Action::Pause } else { Action::Mark });
        }
        bound.first().copied()
    }

    /// The keys of an action, for help and hints: "q, ctrl-c".
    pub fn keys_of(&self, action: Action) -> String {
        let keys: Vec<String> = self
            .bindings
            .iter()
            .filter(|(_, a)| *a == action)
            .map(|(k, _)| k.label())
            .collect();
        keys.join(", ")
    }

    /// The first key of an action, for the footer's short hints.
    pub fn first_key(&self, action: Action) -> String {
        self.bindings
            .iter()
            .find(|(_, a)| *a == action)
            .map(|(k, _)| k.label())
            .unwrap_or_default()
    }
}

#[cfg(test)]
#[path = "keymap_tests.rs"]
mod tests;
