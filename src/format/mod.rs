//! One formatter per unit, shared by the CLI and the TUI.

/// "–" stands for a number the endpoint did not give.
pub const MISSING: &str = "–";

/// Counts: 0, 999, 1.2k, 45k, 1.3M, 2.5B, 14T — at most 5 characters below a quadrillion
/// (`>999T` above). Never "-0"; a number that is not one (infinite, NaN) is `–`.
pub fn count(v: f64) -> String {
    if !v.is_finite() {
        return MISSING.to_string();
    }
    let v = if v == 0.0 { 0.0 } else { v };
    let abs = v.abs();
    let scaled = |unit: f64, suffix: &str| {
        let x = v / unit;
        if x.abs() < 10.0 {
            format!("{x:.1}{suffix}")
        } else {
            format!("{x:.0}{suffix}")
        }
    };
    if abs < 1_000.0 {
        format!("{}", v.round())
    } else if abs < 999_500.0 {
        scaled(1e3, "k")
    } else if abs < 999_500_000.0 {
        scaled(1e6, "M")
    } else if abs < 999_500_000_000.0 {
        scaled(1e9, "B")
    } else if abs < 999_500_000_000_000.0 {
        scaled(1e12, "T")
    } else {
        format!("{}999T", if v < 0.0 { "<-" } else { ">" })
    }
}

/// A 0..1 rate as a percentage: 0%, 0.4%, 12%.
pub fn percent(rate: Option<f64>) -> String {
    match rate {
        // Not a number (an overflowing sum): unknown, as in the JSON.
        Some(r) if !r.is_finite() => MISSING.to_string(),
        None => MISSING.to_string(),
        Some(0.0) => "0%".to_string(),
        Some(r) if r < 0.1 => format!("{:.1}%", r * 100.0),
        Some(r) => format!("{:.0}%", r * 100.0),
    }
}

/// Milliseconds: 3.2ms, 45ms, 1.2s.
pub fn millis(ms: Option<f64>) -> String {
    match ms {
        Some(v) if !v.is_finite() => MISSING.to_string(),
        None => MISSING.to_string(),
        Some(v) if v < 10.0 => format!("{v:.1}ms"),
        Some(v) if v < 1_000.0 => format!("{v:.0}ms"),
        Some(v) => format!("{:.1}s", v / 1_000.0),
    }
}

/// An age in seconds: 4s, 3m, 2h, 5d.
pub fn age(secs: u64) -> String {
    match secs {
        s if s < 60 => format!("{s}s"),
        s if s < 3_600 => format!("{}m", s / 60),
        s if s < 86_400 => format!("{}h", s / 3_600),
        s => format!("{}d", s / 86_400),
    }
}

/// A duration as it will run, exactly: 90s, 5m, 1h1m, 1d. (`age` rounds down; a plan's holds
/// must not.)
pub fn span(secs: u64) -> String {
    if secs == 0 {
        return "0s".into();
    }
    let mut out = String::new();
    let mut left = secs;
    for (unit, size) in [("d", 86_400), ("h", 3_600), ("m", 60), ("s", 1)] {
        if left >= size {
            out.push_str(&format!("{}{unit}", left / size));
            left %= size;
        }
    }
    out
}

/// A configured 0..1 weight as a percentage with the digits it holds (a percent typed is kept as
/// typed): 90%, 12.5%, 0.07%, 0.125%. One finer than that is shown to the hundredth, and one
/// there that rounds to none or to all says so (`<0.01%`, `>99.99%`), so a preview never shows
/// a split as whole.
pub fn weight(w: f64) -> String {
    let pct = w * 100.0;
    for places in 0..=4 {
        let scale = 10f64.powi(places);
        let shown = (pct * scale).round() / scale;
        // Within a rounding error of what it shows, and not none or all when it is neither.
        let whole = (shown == 0.0 && pct > 0.0) || (shown == 100.0 && pct < 100.0);
        if (shown - pct).abs() < 1e-9 && !whole {
            return format!("{pct:.*}%", places as usize);
        }
    }
    if pct > 0.0 && pct < 0.005 {
        return "<0.01%".into();
    }
    if pct < 100.0 && pct > 99.995 {
        return ">99.99%".into();
    }
    format!("{pct:.2}%")
}

/// An observed 0..1 share (of invocations, of load) as a whole or tenth percentage: 75%,
/// 40.8%; one there that rounds to none or to all says so (`<0.1%`, `>99.9%`).
pub fn share(w: f64) -> String {
    let pct = w * 100.0;
    if pct > 0.0 && pct < 0.05 {
        return "<0.1%".into();
    }
    if pct < 100.0 && pct > 99.95 {
        return ">99.9%".into();
    }
    if (pct - pct.round()).abs() < 0.05 {
        format!("{pct:.0}%")
    } else {
        format!("{pct:.1}%")
    }
}

/// A drift between two shares (`observed - configured`, 0..1) with its sign: `+6%`, `-12%`.
/// A drift flagged for passing `threshold` by less than the display rounds away is written
/// finer (`+5.04%`, never a flagged `+5%` beside an unflagged exact 5).
pub fn drift(d: f64, threshold: f64) -> String {
    let sign = if d > 0.0 { "+" } else { "-" };
    let pct = d.abs() * 100.0;
    if pct > threshold * 100.0 && pct < threshold * 100.0 + 0.05 {
        return format!("{sign}{pct:.2}%");
    }
    format!("{sign}{}", share(d.abs()))
}

/// Text lops did not write (log lines, a function's answer, a server's message) made safe for
/// a terminal: escape sequences (colours, cursor moves, titles) removed, and every other
/// control character — a carriage return that would overwrite the line's start, C1 codes —
/// shown as `�`. Newlines are kept when `lines` (each caller labels them), else shown as `⏎`.
pub fn printable(text: &str, lines: bool) -> std::borrow::Cow<'_, str> {
    if !needs_cleaning(text, lines) {
        return std::borrow::Cow::Borrowed(text);
    }
    let stripped = strip_escapes(text).replace("\r\n", "\n");
    let chars: Vec<char> = stripped.chars().collect();
    std::borrow::Cow::Owned(
        (0..chars.len())
            .map(|i| match chars[i] {
                '\n' if !lines => '⏎',
                '\n' | '\t' => chars[i],
                // Joining what is written with them: an emoji family, a Persian or Indic word.
                c @ ('\u{200c}' | '\u{200d}') if joins(&chars, i) => c,
                c if c.is_control() || reorders(c) => '\u{fffd}',
                c => c,
            })
            .collect(),
    )
}

/// Every character kept in its place, what a terminal would obey (a control character, each
/// one of an escape sequence's introducer, a bidi override) drawn as `�`: text being typed, where
/// a column a refusal names must be the column on screen ([`printable`] removes a whole
/// sequence).
pub fn one_for_one(text: &str) -> String {
    text.chars()
        .map(|c| match c {
            c if c.is_control() || reorders(c) => '\u{fffd}',
            c => c,
        })
        .collect()
}

/// Whether the joiner at `i` stands between two letters or symbols beyond ASCII (where scripts
/// and emoji need it); between ASCII ones it would only make a name pass for another.
fn joins(chars: &[char], i: usize) -> bool {
    let shaped = |c: Option<&char>| {
        c.is_some_and(|c| !c.is_ascii() && !c.is_whitespace() && !c.is_control() && !reorders(*c))
    };
    i > 0 && shaped(chars.get(i - 1)) && shaped(chars.get(i + 1))
}

/// Removes each complete escape sequence (CSI, OSC, DCS/SOS/PM/APC strings, two-byte escapes).
/// An escape that starts no complete sequence is shown as `�` and what follows it is kept: a
/// terminal would swallow that text, and the person reading must not lose it.
fn strip_escapes(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    let mut rest = text;
    while let Some(i) = rest.find('\x1b') {
        out.push_str(&rest[..i]);
        let after = &rest[i + 1..];
        match sequence_len(after.as_bytes()) {
            Some(n) => rest = &after[n..],
            None => {
                out.push('\u{fffd}');
                rest = after;
            }
        }
    }
    out.push_str(rest);
    out
}

/// How many bytes after an ESC a complete escape sequence takes, if it is one (every end is an
/// ASCII byte, so the length is a character boundary).
fn sequence_len(b: &[u8]) -> Option<usize> {
    let run = |from: usize, range: std::ops::RangeInclusive<u8>| {
        from + b[from.min(b.len())..]
            .iter()
            .take_while(|c| range.contains(c))
            .count()
    };
    let ends_at = |i: usize, range: std::ops::RangeInclusive<u8>| {
        b.get(i).is_some_and(|c| range.contains(c)).then_some(i + 1)
    };
    match *b.first()? {
        // CSI: parameters, intermediates, a final byte.
        b'[' => ends_at(run(run(1, 0x30..=0x3f), 0x20..=0x2f), 0x40..=0x7e),
        // A string, to ST (ESC \) — or BEL, for OSC.
        first @ (b']' | b'P' | b'X' | b'^' | b'_') => {
            for i in 1..b.len() {
                if first == b']' && b[i] == 0x07 {
                    return Some(i + 1);
                }
                if b[i] == 0x1b {
                    return (b.get(i + 1) == Some(&b'\\')).then_some(i + 2);
                }
            }
            None
        }
        // Intermediates, then a final byte (ESC ( B).
        0x20..=0x2f => ends_at(run(1, 0x20..=0x2f), 0x30..=0x7e),
        // Two bytes (ESC 7, ESC c, ESC =).
        0x30..=0x7e => Some(1),
        _ => None,
    }
}

fn needs_cleaning(text: &str, lines: bool) -> bool {
    text.chars()
        .any(|c| (c.is_control() && c != '\t' && (c != '\n' || !lines)) || reorders(c))
}

/// Characters that reorder or break the text around them on screen (bidirectional overrides
/// and isolates, line and paragraph separators), and invisible ones that take no column but
/// join or split what is around them (zero-width space and joiners, word joiner, invisible
/// operators, byte order mark): a line could pass for another with them, and a terminal and
/// the screen lops draws would disagree on where text ends (leaving pieces on other rows).
fn reorders(c: char) -> bool {
    matches!(
        c,
        '\u{061c}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{2028}'
            | '\u{2029}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{2069}'
            | '\u{feff}'
    )
}

/// JSON lops writes made safe for a terminal, losing nothing: C1 control codes and the
/// characters of [`reorders`] (which JSON writers leave as they are) written as `\uXXXX`
/// escapes — in serialized JSON they occur only inside strings, where the escape means the same.
pub fn json_safe(json: String) -> String {
    let unsafe_char = |c: char| ('\u{80}'..='\u{9f}').contains(&c) || reorders(c);
    if !json.chars().any(unsafe_char) {
        return json;
    }
    let mut out = String::with_capacity(json.len() + 16);
    for c in json.chars() {
        if unsafe_char(c) {
            out.push_str(&format!("\\u{:04x}", c as u32));
        } else {
            out.push(c);
        }
    }
    out
}

/// Whether the locale says the terminal takes UTF-8 (the first of `LC_ALL`, `LC_CTYPE` and
/// `LANG` that is set); a terminal that does not is written ASCII only.
pub fn utf8_locale() -> bool {
    let locale = ["LC_ALL", "LC_CTYPE", "LANG"]
        .iter()
        .find_map(|k| std::env::var(k).ok().filter(|v| !v.is_empty()))
        .unwrap_or_default()
        .to_lowercase();
    locale.contains("utf-8") || locale.contains("utf8")
}

/// The ASCII a glyph is drawn as when the terminal takes ASCII only (one cell each).
pub fn ascii_for(c: char) -> char {
    match c {
        '→' | '⇒' | '≥' | '›' | '»' => '>',
        '≈' => '~',
        '←' | '≤' | '‹' | '«' => '<',
        '↑' | '▲' | '△' => '^',
        '↓' | '▼' | '▽' => 'v',
        '·' | '…' | '⋯' => '.',
        '–' | '—' | '─' | '━' | '═' => '-',
        '│' | '┃' | '║' => '|',
        '╭' | '╮' | '╰' | '╯' | '┌' | '┐' | '└' | '┘' | '├' | '┤' | '┬' | '┴' | '┼' => {
            '+'
        }
        '●' | '•' | '◆' | '■' => '*',
        '○' | '◦' => 'o',
        '✗' | '✘' | '×' => 'X',
        '✓' | '✔' => 'v',
        '█' | '▇' | '▆' | '▅' => '#',
        '▄' | '▃' => '=',
        '▂' | '▁' => '_',
        '⏎' => '/',
        _ => '?',
    }
}

/// `text` for a terminal that takes ASCII only: each glyph lops draws as its ASCII
/// (`ascii_for`), anything else (a name in another script, `�`) as `?`.
pub fn ascii_text(text: &str) -> std::borrow::Cow<'_, str> {
    if text.is_ascii() {
        return text.into();
    }
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        // Where one character would change the meaning (`≤` is not `<`), several.
        match c {
            c if c.is_ascii() => out.push(c),
            '→' => out.push_str("->"),
            '←' => out.push_str("<-"),
            '⇒' => out.push_str("=>"),
            '≤' => out.push_str("<="),
            '≥' => out.push_str(">="),
            '…' | '⋯' => out.push_str("..."),
            c => out.push(ascii_for(c)),
        }
    }
    out.into()
}

/// A version as people read it: `v3`, and `$LATEST` as itself (never `v$LATEST`).
pub fn version(v: &str) -> String {
    // `$LATEST`, and the share no version asked accounts for (`other`: the provider's
    // OTHER_VERSIONS, written out here since format is a leaf).
    if v.starts_with('$') || v == "other" {
        v.to_string()
    } else {
        format!("v{v}")
    }
}

/// A byte count for people: 1.50 MiB.
/// `n` and its noun, singular for one: `1 blob`, `3 blobs`.
pub fn items(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
}

pub fn bytes(n: u64) -> String {
    indicatif::HumanBytes(n).to_string()
}

/// `text` in lines of at most `width` characters, broken at spaces where it can be.
pub fn wrap(text: &str, width: usize) -> Vec<String> {
    let mut lines = Vec::new();
    let mut line = String::new();
    for word in text.split(' ') {
        let fits =
            line.chars().count() + usize::from(!line.is_empty()) + word.chars().count() <= width;
        if !line.is_empty() && !fits {
            lines.push(std::mem::take(&mut line));
        }
        if !line.is_empty() {
            line.push(' ');
        }
        line.push_str(word);
        while line.chars().count() > width {
            let head: String = line.chars().take(width).collect();
            line = line.chars().skip(width).collect();
            lines.push(head);
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `lops status`'s CONC cell: "peak/limit", where the limit is the reserved concurrency (marked r) or the account's; a
/// reservation never read is `?r` (it may be there: the account's limit would mislead).
pub fn concurrency(
    peak: Option<f64>,
    reserved: Option<i32>,
    reserved_unread: bool,
    account: Option<i64>,
) -> String {
    let peak = peak.map(count).unwrap_or_else(|| "0".to_string());
    with_limit(peak, reserved, reserved_unread, account)
}

/// [`concurrency`] where the metrics could not be read: the peak unknown (`–`), the limit
/// Lambda said still shown (`–/25r`).
pub fn concurrency_unread(
    reserved: Option<i32>,
    reserved_unread: bool,
    account: Option<i64>,
) -> String {
    with_limit(MISSING.to_string(), reserved, reserved_unread, account)
}

fn with_limit(
    peak: String,
    reserved: Option<i32>,
    reserved_unread: bool,
    account: Option<i64>,
) -> String {
    match (reserved, account) {
        _ if reserved_unread => format!("{peak}/?r"),
        (Some(r), _) => format!("{peak}/{r}r"),
        (None, Some(a)) => format!("{peak}/{a}"),
        (None, None) => peak,
    }
}

/// `s` in at most `max` characters, the cut marked with `…`.
pub fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}

#[cfg(test)]
mod tests;
