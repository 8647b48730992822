//! Small text widgets shared by the views: inline sparklines and share bars.

use super::theme::Theme;

/// The last `width` values as a one-line sparkline scaled to their own maximum.
pub fn sparkline(values: &[f64], width: usize, theme: &Theme) -> String {
    let glyphs = theme.spark();
    let tail = &values[values.len().saturating_sub(width)..];
    let max = tail.iter().copied().fold(0.0, f64::max);
    let mut out: String = tail
        .iter()
        .map(|v| {
            if max <= 0.0 {
                glyphs[0]
            } else {
                let level = ((v / max) * 7.0).round().clamp(0.0, 7.0) as usize;
                glyphs[level]
            }
        })
        .collect();
    while out.chars().count() < width {
        out.insert(0, ' ');
    }
    out
}

/// A bar `width` cells long, filled to `share` (0..1).
pub fn bar(share: f64, width: usize, theme: &Theme) -> String {
    let (full, empty) = theme.bar_cells();
    let filled = ((share.clamp(0.0, 1.0) * width as f64).round() as usize).min(width);
    format!("{}{}", full.repeat(filled), empty.repeat(width - filled))
}

/// The width of a column of scopes (`profile/region`): the longest shown, within `min..=max`.
pub fn scope_width(state: &crate::state::State, min: usize, max: usize) -> usize {
    state
        .regions
        .iter()
        .map(|r| r.scope.to_string().chars().count())
        .max()
        .unwrap_or(min)
        .clamp(min, max)
}

/// `text` in pieces of at most `room` terminal columns (a wide character takes two; one that
/// takes none stays with the character before it), none empty unless `text` is.
pub fn split_columns(text: &str, room: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthChar;
    let mut pieces = vec![String::new()];
    let mut used = 0;
    for c in text.chars() {
        let w = c.width().unwrap_or(0);
        if used + w > room.max(2) && used > 0 {
            pieces.push(String::new());
            used = 0;
        }
        pieces.last_mut().expect("one piece").push(c);
        used += w;
    }
    pieces
}

/// `text` in at most `rows` rows of `width` columns: broken between words when it fits so,
/// else cut in its middle, marked (its start names what, its end what to do).
pub fn in_rows(text: &str, width: usize, rows: usize, theme: &Theme) -> Vec<String> {
    let width = width.max(1);
    match wrap_words(text, width) {
        wrapped if wrapped.len() > rows => {
            split_columns(&fit_middle(text, rows * width, theme), width)
        }
        wrapped => wrapped,
    }
}

/// `text` in rows of at most `width` columns, broken between words where it can be.
pub fn wrap_words(text: &str, width: usize) -> Vec<String> {
    use unicode_width::UnicodeWidthStr;
    let mut rows = Vec::new();
    let mut row = String::new();
    for word in text.split(' ') {
        let used = row.width();
        if used > 0 && used + 1 + word.width() <= width {
            row.push(' ');
            row.push_str(word);
            continue;
        }
        if used > 0 {
            rows.push(std::mem::take(&mut row));
        }
        let mut pieces = split_columns(word, width);
        row = pieces.pop().unwrap_or_default();
        rows.extend(pieces);
    }
    if !row.is_empty() {
        rows.push(row);
    }
    rows
}

/// Truncates to `max` characters, marking the cut.
pub fn fit(text: &str, max: usize, theme: &Theme) -> String {
    if text.chars().count() <= max {
        return text.to_string();
    }
    let mark = if theme.ascii { "~" } else { "…" };
    let mut out: String = text.chars().take(max.saturating_sub(1)).collect();
    out.push_str(mark);
    out
}

/// Truncates to `max` characters cutting the middle (`payments-se…-canary`): names that
/// differ only at their end (`-canary`, `-us-east-2`) still read apart.
pub fn fit_middle(text: &str, max: usize, theme: &Theme) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    if max < 4 {
        return fit(text, max, theme);
    }
    let mark = if theme.ascii { "~" } else { "…" };
    let tail = (max - 1) / 2;
    let head = max - 1 - tail;
    let start: String = text.chars().take(head).collect();
    let end: String = text.chars().skip(count - tail).collect();
    format!("{start}{mark}{end}")
}

/// Truncates to `max` characters keeping the end (what is being typed), marking the cut.
pub fn fit_end(text: &str, max: usize, theme: &Theme) -> String {
    let count = text.chars().count();
    if count <= max {
        return text.to_string();
    }
    if max == 0 {
        return String::new();
    }
    let mark = if theme.ascii { "~" } else { "…" };
    let kept: String = text.chars().skip(count + 1 - max.max(1)).collect();
    format!("{mark}{kept}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sparkline_scales_to_its_maximum_and_pads() {
        let t = Theme::default();
        assert_eq!(sparkline(&[0.0, 5.0, 10.0], 5, &t), "  ▁▅█");
        let ascii = Theme {
            color: false,
            ascii: true,
        };
        assert_eq!(sparkline(&[0.0, 10.0], 2, &ascii), "_#");
        assert_eq!(sparkline(&[0.0, 0.0], 2, &t), "▁▁");
    }

    #[test]
    fn bars_fill_in_proportion() {
        let t = Theme {
            color: false,
            ascii: true,
        };
        assert_eq!(bar(0.5, 10, &t), "#####.....");
        assert_eq!(bar(1.7, 4, &t), "####");
        assert_eq!(fit("checkout-consumer", 8, &t), "checkou~");
        assert_eq!(fit_end("checkout-consumer", 8, &t), "~onsumer");
        assert_eq!(fit_end("short", 8, &t), "short");
    }

    /// A note kept to its rows: wrapped between words when it fits, else cut in its middle,
    /// marked, its end (what to do) kept.
    #[test]
    fn a_note_fits_its_rows_with_its_end_kept() {
        let t = Theme::default();
        assert_eq!(in_rows("as last read", 20, 2, &t), ["as last read"]);
        let long = format!(
            "metrics: {} — raise [timeouts] metrics_secs",
            "x ".repeat(40)
        );
        let rows = in_rows(&long, 30, 2, &t);
        assert_eq!(rows.len(), 2, "{rows:?}");
        assert!(rows.iter().all(|r| r.chars().count() <= 30), "{rows:?}");
        assert!(rows[0].starts_with("metrics: ") && rows[1].ends_with("metrics_secs"));
        assert!(rows.concat().contains('…'), "{rows:?}");
    }
}
