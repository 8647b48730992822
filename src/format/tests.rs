//! The words and numbers as the faces print them.

use super::*;
use proptest::prelude::*;

#[test]
fn a_drift_just_past_its_threshold_is_written_finer() {
    assert_eq!(super::drift(0.0504, 0.05), "+5.04%");
    assert_eq!(super::drift(-0.06, 0.05), "-6%");
    assert_eq!(super::drift(0.123, 0.05), "+12.3%");
}

#[test]
fn ascii_text_says_each_glyph_in_ascii_and_anything_else_as_a_question_mark() {
    assert_eq!(
        super::ascii_text("v1 → v2 – ≈ 3 … ✗ é ≤ ≥"),
        "v1 -> v2 - ~ 3 ... X ? <= >="
    );
    assert!(matches!(
        super::ascii_text("plain"),
        std::borrow::Cow::Borrowed("plain")
    ));
}

proptest! {
    /// Whatever the text, nothing that drives a terminal is left in it.
    #[test]
    fn printable_leaves_no_control(
        text in "[a-z\\x1b\\[\\]\\\\()0-9;PX^_\\x07\\x08\\r\\n\\u{9b}é]{0,40}"
    ) {
        let clean = printable(&text, true);
        prop_assert!(!clean.chars().any(|c| c.is_control() && c != '\n' && c != '\t'));
    }

    /// Text with no escape in it loses nothing: each control character becomes one `�`.
    #[test]
    fn printable_without_escapes_keeps_every_character(text in "[a-z\\x07\\x08\\x0b\\u{9b}é ]{0,40}") {
        let clean = printable(&text, true);
        prop_assert_eq!(clean.chars().count(), text.chars().count());
    }
}

#[test]
fn text_from_elsewhere_cannot_drive_the_terminal() {
    let hostile = "a\x1b]0;TITLE\x07b\x1b[2J\x1b[5Ac\rd\x08e\u{9b}31mf\x00";
    let clean = printable(hostile, false);
    assert!(!clean.chars().any(char::is_control), "{clean:?}");
    assert!(clean.starts_with("ab") && clean.contains('c'), "{clean:?}");
    // An escape that starts no complete sequence hides nothing after it; other control
    // characters are shown, not dropped.
    assert_eq!(printable("lone \x1bX after", true), "lone \u{fffd}X after");
    assert_eq!(printable("trailing \x1b", true), "trailing \u{fffd}");
    assert_eq!(
        printable("open \x1b]0;title", true),
        "open \u{fffd}]0;title"
    );
    assert_eq!(printable("a\x1b[1;31mred\x1b[0m b", true), "ared b");
    assert_eq!(printable("x\x1b(By", true), "xy");
    assert_eq!(
        printable("ab\x08\x08c\x07", true),
        "ab\u{fffd}\u{fffd}c\u{fffd}"
    );
    assert_eq!(printable("v\x0b\x0cw", true), "v\u{fffd}\u{fffd}w");
    assert_eq!(printable("one\ntwo", false), "one⏎two");
    assert_eq!(printable("one\r\ntwo\tx", true), "one\ntwo\tx");
    assert_eq!(printable("plain", true), "plain");
    assert_eq!(
        printable("a\u{202e}b\u{2066}c", true),
        "a\u{fffd}b\u{fffd}c"
    );
    assert_eq!(
        printable("a\u{200d}b\u{200b}c\u{feff}", true),
        "a\u{fffd}b\u{fffd}c\u{fffd}"
    );
    // Between letters or emoji beyond ASCII the joiners are kept: a family is one emoji,
    // a Persian word keeps its shape; at an edge or beside a space they are not.
    let family = "👩\u{200d}👩\u{200d}👧";
    assert_eq!(printable(family, true), family);
    assert_eq!(printable("می\u{200c}خواهم", true), "می\u{200c}خواهم");
    assert_eq!(
        printable("\u{200d}👩 \u{200c}x👩\u{200d}", true),
        "\u{fffd}👩 \u{fffd}x👩\u{fffd}"
    );
    let json =
        serde_json::to_string(&serde_json::json!({"m": "x\u{9b}31m\u{202e}y"})).unwrap_or_default();
    let safe = json_safe(json);
    assert_eq!(safe, r#"{"m":"x\u009b31m\u202ey"}"#);
    let back: serde_json::Value = serde_json::from_str(&safe).unwrap_or_default();
    assert_eq!(back["m"], "x\u{9b}31m\u{202e}y");
}

#[test]
fn latest_is_not_a_numbered_version() {
    assert_eq!(version("7"), "v7");
    assert_eq!(version("$LATEST"), "$LATEST");
    assert_eq!(
        crate::ops::describe::describe_routing("$LATEST", Some(&("3".into(), 0.25))),
        "$LATEST 75% / v3 25%"
    );
}

#[test]
fn counts_are_short_and_never_negative_zero() {
    assert_eq!(count(-0.0), "0");
    assert_eq!(count(999.0), "999");
    assert_eq!(count(1234.0), "1.2k");
    assert_eq!(count(45_600.0), "46k");
    assert_eq!(count(1_300_000.0), "1.3M");
    assert_eq!(count(45_000_000.0), "45M");
    assert_eq!(count(2.5e9), "2.5B");
    assert_eq!(count(1.4e10), "14B");
    assert_eq!(count(999_999.0), "1.0M");
    assert_eq!(count(3e14), "300T");
    assert_eq!(count(1e300), ">999T");
    assert_eq!(count(f64::INFINITY), MISSING);
    assert_eq!(count(f64::NAN), MISSING);
    assert_eq!(percent(Some(f64::NAN)), MISSING);
    assert_eq!(percent(Some(f64::INFINITY)), MISSING);
    assert_eq!(millis(Some(f64::NAN)), MISSING);
    let stats = crate::provider::WindowStats::sum([crate::provider::WindowStats {
        invocations: f64::INFINITY,
        errors: 4.0,
        ..Default::default()
    }]);
    assert_eq!(stats.error_rate, None);
}

#[test]
fn rates_durations_ages_weights() {
    assert_eq!(percent(None), "–");
    assert_eq!(percent(Some(0.0)), "0%");
    assert_eq!(percent(Some(0.004)), "0.4%");
    assert_eq!(percent(Some(0.12)), "12%");
    assert_eq!(millis(Some(3.21)), "3.2ms");
    assert_eq!(millis(Some(1234.0)), "1.2s");
    assert_eq!(age(61), "1m");
    assert_eq!(weight(0.9), "90%");
    assert_eq!(weight(0.125), "12.5%");
    assert_eq!(weight(1e-9), "<0.01%");
    // However small or near whole, a weight that is neither never shows as 0% or 100%.
    assert_eq!(weight(1e-300), "<0.01%");
    assert_eq!(weight(1e-12), "<0.01%");
    assert_eq!(weight(1.0 - 1e-12), ">99.99%");
    assert_eq!(weight(0.9999999), ">99.99%");
    assert_eq!(weight(0.00125), "0.125%");
    // A split never reads as whole, nor as more than 100% together.
    assert_eq!(weight(0.00005), "0.005%");
    assert_eq!(weight(1.0 - 0.00005), "99.995%");
    assert_eq!(weight(1.0 - 0.00075), "99.925%");
    assert_eq!(weight(1.0 / 3.0), "33.33%");
    // A percent typed to the hundredth is shown as typed, and so is the rest.
    assert_eq!(weight(0.0007), "0.07%");
    assert_eq!(weight(1.0 - 0.0007), "99.93%");
    assert_eq!(weight(0.143), "14.3%");
    assert_eq!(weight(0.1), "10%");
    assert_eq!(share(0.7498), "75%");
    assert_eq!(share(0.4084), "40.8%");
    assert_eq!(share(1e-9), "<0.1%");
    assert_eq!(weight(0.0), "0%");
    assert_eq!(weight(1.0), "100%");
}
