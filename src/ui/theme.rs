//! Colours and glyphs, with NO_COLOR (monochrome: bold and reverse only) and ASCII fallbacks.

use ratatui::style::{Color, Modifier, Style};
use ratatui::symbols;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Theme {
    pub color: bool,
    pub ascii: bool,
}

impl Default for Theme {
    fn default() -> Self {
        Theme {
            color: true,
            ascii: false,
        }
    }
}

const ASCII_BORDER: symbols::border::Set = symbols::border::Set {
    top_left: "+",
    top_right: "+",
    bottom_left: "+",
    bottom_right: "+",
    vertical_left: "|",
    vertical_right: "|",
    horizontal_top: "-",
    horizontal_bottom: "-",
};

const ASCII_BARS: symbols::bar::Set = symbols::bar::Set {
    full: "#",
    seven_eighths: "#",
    three_quarters: "=",
    five_eighths: "=",
    half: "-",
    three_eighths: "-",
    one_quarter: ".",
    one_eighth: ".",
    empty: " ",
};

impl Theme {
    /// From the flags and the environment: NO_COLOR set (to anything) turns colour off; a
    /// locale that is not UTF-8 turns on ASCII.
    pub fn detect(no_color: bool, ascii: bool) -> Theme {
        let env_no_color = std::env::var_os("NO_COLOR").is_some_and(|v| !v.is_empty());
        Theme {
            color: !(no_color || env_no_color),
            ascii: ascii || !crate::format::utf8_locale(),
        }
    }

    fn fg(&self, color: Color) -> Style {
        if self.color {
            Style::new().fg(color)
        } else {
            Style::new()
        }
    }

    pub fn ok(&self) -> Style {
        self.fg(Color::Green)
    }

    pub fn warn(&self) -> Style {
        self.fg(Color::Yellow)
    }

    /// Danger: red in colour, bold without.
    pub fn bad(&self) -> Style {
        self.fg(Color::Red).add_modifier(Modifier::BOLD)
    }

    pub fn dim(&self) -> Style {
        if self.color {
            Style::new().fg(Color::DarkGray)
        } else {
            Style::new()
        }
    }

    pub fn title(&self) -> Style {
        self.fg(Color::Cyan).add_modifier(Modifier::BOLD)
    }

    pub fn header(&self) -> Style {
        Style::new().add_modifier(Modifier::BOLD)
    }

    pub fn selected(&self) -> Style {
        Style::new().add_modifier(Modifier::REVERSED)
    }

    pub fn badge(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::Black)
                .bg(Color::Yellow)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn danger_badge(&self) -> Style {
        if self.color {
            Style::new()
                .fg(Color::White)
                .bg(Color::Red)
                .add_modifier(Modifier::BOLD)
        } else {
            Style::new().add_modifier(Modifier::REVERSED | Modifier::BOLD)
        }
    }

    pub fn border(&self) -> symbols::border::Set<'static> {
        if self.ascii {
            ASCII_BORDER
        } else {
            symbols::border::ROUNDED
        }
    }

    pub fn bars(&self) -> symbols::bar::Set<'static> {
        if self.ascii {
            ASCII_BARS
        } else {
            symbols::bar::NINE_LEVELS
        }
    }

    /// Glyphs for fine / warning / failing.
    pub fn marks(&self) -> [&'static str; 3] {
        if self.ascii {
            [".", "^", "X"]
        } else {
            ["●", "▲", "✗"]
        }
    }

    /// A row not known yet (its numbers not given by CloudWatch): told apart from `●` well,
    /// also in ASCII (where `.` is well).
    pub fn unknown_mark(&self) -> &'static str {
        if self.ascii { "?" } else { "○" }
    }

    pub fn sep(&self) -> &'static str {
        if self.ascii { "|" } else { "│" }
    }

    pub fn arrow(&self, descending: bool) -> &'static str {
        match (self.ascii, descending) {
            (true, true) => "v",
            (true, false) => "^",
            (false, true) => "↓",
            (false, false) => "↑",
        }
    }

    /// Fill and empty characters for horizontal bars.
    pub fn bar_cells(&self) -> (&'static str, &'static str) {
        if self.ascii {
            ("#", ".")
        } else {
            ("█", "░")
        }
    }

    /// Eight-level sparkline glyphs, lowest first.
    pub fn spark(&self) -> [char; 8] {
        if self.ascii {
            ['_', '.', '-', '-', '=', '=', '#', '#']
        } else {
            ['▁', '▂', '▃', '▄', '▅', '▆', '▇', '█']
        }
    }
}
