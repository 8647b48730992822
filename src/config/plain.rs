//! The TOML parser's words said as a person needs them: a number's type as its range, a
//! table's internal name as a table, a mode's words.

/// The parser's words for a number's type said as a person needs them (`expected u32` is
/// "a whole number from 0 to 4294967295").
pub(super) fn plain_types(message: &str) -> String {
    let mut out = message.to_string();
    for (rust, plain) in [
        ("u8", "a whole number from 0 to 255"),
        ("u16", "a whole number from 0 to 65535"),
        ("u32", "a whole number from 0 to 4294967295"),
        ("u64", "a whole number, 0 or more"),
        ("usize", "a whole number, 0 or more"),
        ("i32", "a whole number from -2147483648 to 2147483647"),
        ("i64", "a whole number"),
        ("f64", "a number"),
    ] {
        out = out.replace(&format!("expected {rust}"), &format!("expected {plain}"));
        out = out.replace(&format!(" as {rust},"), ",");
    }
    out = out.replace(" as i128,", ",");
    // A table key given a value (`refresh = 5`): "expected struct Refresh" named an internal
    // type; a table is what it takes.
    while let Some(at) = out.find("expected struct ") {
        let end = (out[at + 16..].find(|c: char| !c.is_alphanumeric()))
            .map_or(out.len(), |n| at + 16 + n);
        out.replace_range(at..end, "expected a table of keys ([section] in the file)");
    }
    out
}

/// A whole-number key's range where TOML's type error names the type's (`max_attempts = -1`:
/// "from 0 to 4294967295", where 1 to 10 is allowed), found by the key on the error's line.
pub(super) fn with_range(message: &str) -> String {
    const RANGES: [(&str, &str); 8] = [
        ("max_attempts", "a whole number from 1 to 10"),
        ("metrics_secs", "a whole number of seconds from 1 to 86400"),
        (
            "inventory_secs",
            "a whole number of seconds from 1 to 86400",
        ),
        ("alarms_secs", "a whole number of seconds from 1 to 86400"),
        (
            "duplicate_invoke_secs",
            "a whole number of seconds from 0 to 86400",
        ),
        ("interval_secs", "a whole number of seconds from 1 to 3600"),
        ("burst", "a whole number from 1 to 10000"),
        ("parallel_calls", "a whole number from 1 to 1000"),
    ];
    let key = message.lines().find_map(|l| {
        let (_, text) = l.split_once(" | ")?;
        let (key, _) = text.split_once('=')?;
        Some(key.trim())
    });
    // A mode not given as one of its words (`mode = 3`): "wanted string or table" offered a
    // table, which it never takes.
    if key == Some("mode") {
        return message.replace(
            "wanted string or table",
            "expected one of \"read\", \"invoke\", \"change\" (in quotes)",
        );
    }
    let Some((_, range)) = key.and_then(|k| RANGES.iter().find(|(name, _)| *name == k)) else {
        return message.to_string();
    };
    let mut out = message.to_string();
    for plain in [
        "a whole number from 0 to 255",
        "a whole number from 0 to 65535",
        "a whole number from 0 to 4294967295",
        "a whole number, 0 or more",
    ] {
        out = out.replace(&format!("expected {plain}"), &format!("expected {range}"));
    }
    out
}
