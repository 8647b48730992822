//! An invoke's payload: inline JSON, @file or a saved name, checked against Lambda's size limits
//! before anything is sent, and its hash for the repeated-invoke guard.

use std::path::Path;

use sha2::{Digest, Sha256};

/// The largest request payload Lambda takes for a synchronous invoke.
pub const SYNC_PAYLOAD_LIMIT: u64 = 6 * 1024 * 1024;
/// The largest request payload Lambda takes for an asynchronous (Event) invoke.
pub const ASYNC_PAYLOAD_LIMIT: u64 = 1024 * 1024;

/// The payload limit for a kind of invoke, with its name for messages.
pub fn payload_limit(asynchronous: bool) -> (u64, &'static str) {
    if asynchronous {
        (ASYNC_PAYLOAD_LIMIT, "1 MB for an asynchronous invoke")
    } else {
        (SYNC_PAYLOAD_LIMIT, "6 MB for a synchronous invoke")
    }
}

/// Checks a payload's size against what Lambda takes, before anything is sent.
pub fn check_payload_size(len: u64, asynchronous: bool) -> Result<(), String> {
    let (limit, what) = payload_limit(asynchronous);
    if len > limit {
        return Err(format!(
            "the payload is {} and Lambda takes at most {what}: send a smaller event (or a \
             reference to the data, e.g. an S3 key)",
            crate::format::bytes(len)
        ));
    }
    Ok(())
}

/// Reads at most `limit` bytes of a file: a larger one (or a device that never ends) is refused
/// without reading it all.
fn read_limited(path: &Path, limit: u64, what: &str) -> Result<String, String> {
    use std::io::Read;
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    let mut bytes = Vec::new();
    file.take(limit + 1)
        .read_to_end(&mut bytes)
        .map_err(|e| e.to_string())?;
    if bytes.len() as u64 > limit {
        return Err(format!(
            "it is larger than Lambda takes ({what}): send a smaller event, or a reference to \
             the data"
        ));
    }
    String::from_utf8(bytes).map_err(|_| "it is not UTF-8 text".to_string())
}

/// Where the saved payload `name` lives (`payloads/NAME.json` beside the config file).
pub fn saved_path(name: &str) -> Result<std::path::PathBuf, String> {
    if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
        return Err(format!(
            "'{name}' is not a payload name (letters, digits, - and _)"
        ));
    }
    let dir = crate::config::default_path()
        .and_then(|p| p.parent().map(Path::to_path_buf))
        .ok_or("no config directory: set XDG_CONFIG_HOME or HOME")?;
    Ok(dir.join("payloads").join(format!("{name}.json")))
}

/// No payload saved as `name`: the file it would be, and the names saved beside it.
fn no_saved_payload(name: &str, path: &Path) -> String {
    let dir = path.parent().unwrap_or(Path::new("."));
    let mut names: Vec<String> = std::fs::read_dir(dir)
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| {
            let file = e.file_name().to_string_lossy().into_owned();
            file.strip_suffix(".json").map(str::to_string)
        })
        .collect();
    names.sort();
    format!(
        "no saved payload '{name}': a saved payload is a JSON file {} ({}); write one there, \
         or give --payload JSON|@FILE",
        path.display(),
        match names.is_empty() {
            true => format!("none is saved in {}", dir.display()),
            false => format!("saved: {}", names.join(", ")),
        }
    )
}

/// Reads a payload: inline JSON, `@path` to a file, or a saved payload's name; checks it is
/// JSON and no larger than Lambda takes for this kind of invoke.
pub fn load_payload(
    inline: Option<&str>,
    saved_name: Option<&str>,
    asynchronous: bool,
) -> Result<Vec<u8>, String> {
    let (limit, what) = payload_limit(asynchronous);
    // Where the text came from, and how to mend it when it is not JSON: only an inline
    // payload has shell quoting to get wrong.
    let (text, source, hint) = match (inline, saved_name) {
        (Some(_), Some(_)) => return Err("give --payload or --payload-name, not both".into()),
        (Some(p), None) => match p.strip_prefix('@') {
            Some("") => {
                return Err(
                    "--payload @ names no file: write --payload @FILE (a JSON file), or @- to \
                     read standard input"
                        .into(),
                );
            }
            // `@-`: standard input, as curl reads it.
            Some("-") => (
                read_limited(Path::new("/dev/stdin"), limit, what)
                    .map_err(|e| format!("cannot read the payload from standard input: {e}"))?,
                "the payload on standard input".to_string(),
                "Send one JSON document, e.g. `jq -c . event.json | lops invoke … --payload @-`"
                    .to_string(),
            ),
            Some(path) => (
                read_limited(Path::new(path), limit, what).map_err(|e| {
                    format!(
                        "cannot read payload file {path}: {e}{}",
                        match Path::new(path).exists() {
                            true => "",
                            // Read from where lops runs, as a shell reads it.
                            false =>
                                ": check the path (a relative one is read from the \
                                      current directory)",
                        }
                    )
                })?,
                format!("payload file {path}"),
                format!("Mend the JSON in {path} (`jq . {path}` shows where it breaks)"),
            ),
            // A lone `-` is how many tools say "standard input"; lops says it as curl does.
            None if p.trim() == "-" => (
                p.to_string(),
                "--payload".to_string(),
                "To read the payload from standard input, write --payload @-".to_string(),
            ),
            None => (
                p.to_string(),
                "--payload".to_string(),
                "Quote it for the shell, e.g. --payload '{\"id\": 1}'".to_string(),
            ),
        },
        (None, Some(name)) => {
            let path = saved_path(name)?;
            (
                read_limited(&path, limit, what).map_err(|e| match path.exists() {
                    true => format!("cannot read saved payload {}: {e}", path.display()),
                    // Where saved payloads live, and which there are.
                    false => no_saved_payload(name, &path),
                })?,
                format!("saved payload {}", path.display()),
                format!("Mend the JSON in {}", path.display()),
            )
        }
        (None, None) => ("{}".to_string(), String::new(), String::new()),
    };
    // A byte-order mark some editors write is not JSON: dropped, not sent.
    let text = match text.strip_prefix('\u{feff}') {
        Some(rest) => rest.to_string(),
        None => text,
    };
    check_payload_size(text.len() as u64, asynchronous)?;
    check_json(&text, &source, &hint)?;
    Ok(text.into_bytes())
}

/// Whether `text` is a JSON payload, for both faces: what is wrong, named by `source` (`--payload`,
/// a file, the dashboard's input), with `hint` (how to mend it there) when it is not JSON.
pub fn check_json(text: &str, source: &str, hint: &str) -> Result<(), String> {
    serde_json::from_str::<serde_json::Value>(text)
        .map(|_| ())
        .map_err(|e| {
            // Grammatical JSON whose number no double holds (1e309): not a quoting problem, and
            // most runtimes would read it as infinity.
            if e.to_string().starts_with("number out of range") {
                format!(
                    "{source} holds a number too large for a double ({e}): a function would \
                     read it as infinity; send it as a string (in quotes) or a smaller number"
                )
            } else if hint.is_empty() {
                format!("{source} is not valid JSON: {e}")
            } else {
                format!("{source} is not valid JSON: {e}. {hint}")
            }
        })
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// Whether every number of `v` (read from `text`) is written in `text` as it would be written
/// again: false when one was read as its nearest double (`123456789012345678901230`,
/// `1.0000000000000000000001`, or written another way, `1e2`), so that the text, not `v`, says
/// what was sent or answered.
pub fn numbers_kept(text: &[u8], v: &serde_json::Value) -> bool {
    let tokens = number_tokens(&String::from_utf8_lossy(text));
    fn walk(v: &serde_json::Value, tokens: &[String]) -> bool {
        match v {
            serde_json::Value::Number(n) if n.is_f64() => tokens.contains(&n.to_string()),
            serde_json::Value::Array(items) => items.iter().all(|i| walk(i, tokens)),
            serde_json::Value::Object(map) => map.values().all(|i| walk(i, tokens)),
            _ => true,
        }
    }
    walk(v, &tokens)
}

/// The number tokens of JSON `text`, as written (strings skipped).
fn number_tokens(text: &str) -> Vec<String> {
    let mut tokens = Vec::new();
    let mut chars = text.chars().peekable();
    while let Some(c) = chars.next() {
        match c {
            '"' => {
                while let Some(c) = chars.next() {
                    match c {
                        '\\' => {
                            chars.next();
                        }
                        '"' => break,
                        _ => {}
                    }
                }
            }
            '-' | '0'..='9' => {
                let mut token = c.to_string();
                while let Some(&d) = chars.peek() {
                    if !matches!(d, '0'..='9' | '.' | 'e' | 'E' | '+' | '-') {
                        break;
                    }
                    token.push(d);
                    chars.next();
                }
                tokens.push(token);
            }
            _ => {}
        }
    }
    tokens
}

/// JSON `text` written one way with its numbers as written: keys sorted, no spaces between
/// tokens, strings as JSON writes them again, each number token kept (a payload whose numbers a
/// double cannot hold is the same payload however it is spaced or its keys ordered, and never
/// the same as one differing in a digit). `None` for text that is not JSON.
fn sorted_as_written(text: &str) -> Option<String> {
    use serde_json::value::RawValue;
    let text = text.trim();
    match text.as_bytes().first()? {
        b'{' => {
            let map: std::collections::BTreeMap<String, &RawValue> =
                serde_json::from_str(text).ok()?;
            let mut out = String::from("{");
            for (i, (k, v)) in map.iter().enumerate() {
                if i > 0 {
                    out.push(',');
                }
                out.push_str(&serde_json::to_string(k).ok()?);
                out.push(':');
                out.push_str(&sorted_as_written(v.get())?);
            }
            out.push('}');
            Some(out)
        }
        b'[' => {
            let items: Vec<&RawValue> = serde_json::from_str(text).ok()?;
            let items: Option<Vec<String>> =
                items.iter().map(|v| sorted_as_written(v.get())).collect();
            Some(format!("[{}]", items?.join(",")))
        }
        b'-' | b'0'..=b'9' => Some(text.to_string()),
        _ => serde_json::from_str::<serde_json::Value>(text)
            .ok()
            .map(|v| v.to_string()),
    }
}

/// A payload's hash for the audit and the repeated-invoke guard: of its JSON written one way
/// (keys sorted, no spaces), so that `{"a": 1}` and `{"a":1}` are the same payload.
pub fn payload_sha256(payload: &[u8]) -> String {
    fn sorted(v: serde_json::Value) -> serde_json::Value {
        match v {
            serde_json::Value::Object(map) => {
                let mut entries: Vec<_> = map.into_iter().collect();
                entries.sort_by(|a, b| a.0.cmp(&b.0));
                serde_json::Value::Object(
                    entries.into_iter().map(|(k, v)| (k, sorted(v))).collect(),
                )
            }
            serde_json::Value::Array(items) => {
                serde_json::Value::Array(items.into_iter().map(sorted).collect())
            }
            // 1.0 and 1 are the same number.
            serde_json::Value::Number(n)
                if n.is_f64()
                    && n.as_f64()
                        .is_some_and(|f| f.fract() == 0.0 && f.abs() < 9_007_199_254_740_992.0) =>
            {
                serde_json::Value::from(n.as_f64().unwrap_or_default() as i64)
            }
            other => other,
        }
    }
    match serde_json::from_slice::<serde_json::Value>(payload) {
        // A number read as its nearest double would make two payloads one (ids beyond 2^53):
        // such a payload is hashed as it was written.
        Ok(v) if !numbers_kept(payload, &v) => {
            match sorted_as_written(&String::from_utf8_lossy(payload)) {
                Some(text) => sha256_hex(text.as_bytes()),
                None => sha256_hex(payload),
            }
        }
        Ok(v) => sha256_hex(sorted(v).to_string().as_bytes()),
        Err(_) => sha256_hex(payload),
    }
}

/// The account in a caller ARN (`arn:aws:sts::123456789012:assumed-role/…`), if it names one.
pub(crate) fn account_of(arn: &str) -> Option<&str> {
    let account = arn.split(':').nth(4)?;
    (!account.is_empty() && account.chars().all(|c| c.is_ascii_digit())).then_some(account)
}

/// What an invoke ran, to tell whether two invokes reached the same code: the function and the
/// version that answered (`orders-api` and `orders-api:$LATEST` are one, so are an alias and
/// the version it points at), or the alias itself while it splits its calls between two
/// versions. `before` is the invoke's preview (its audit record's `before`).
pub(crate) fn invoked_code(target: &str, before: &serde_json::Value) -> String {
    let function = target.split(':').next().unwrap_or(target);
    let routing = before.get("routing").and_then(serde_json::Value::as_str);
    match (
        routing,
        before.get("version").and_then(serde_json::Value::as_str),
    ) {
        (None, Some(version)) => format!("{function} {version}"),
        _ => target.to_string(),
    }
}

/// The last invoke of the code `runs` names (`invoked_code`) in `scope` with the same payload
/// within
/// `window_secs`, if any (the same function name in another region or account is another
/// function). `caller` is who invokes now (STS): an invoke made through another profile of the
/// same account reached the same function, and counts too.
pub fn recent_duplicate(
    log: &super::audit::AuditLog,
    scope: &crate::provider::Scope,
    caller: Option<&str>,
    runs: &str,
    payload_sha256: &str,
    window_secs: u64,
) -> Option<super::audit::Record> {
    let (records, _) = log.read().ok()?;
    let now = chrono::Utc::now();
    // Every invoke that may have run counts: answered, failed in the function, or sent with
    // no answer (timed out, or the process stopped while it waited). One Lambda refused
    // (throttled, denied) never ran.
    records.into_iter().rev().find(|r| {
        r.action == "invoke"
            && !r.result.starts_with(super::audit::CONFLICT)
            && !r.result.starts_with(super::audit::NOT_RUN)
            && !r.result.contains(super::execute::UNSENT)
            && invoked_code(&r.target, &r.before) == runs
            && r.region == scope.region
            && (r.profile == scope.profile
                || caller
                    .and_then(account_of)
                    .is_some_and(|a| account_of(&r.who) == Some(a)))
            && r.payload_sha256.as_deref() == Some(payload_sha256)
            && chrono::DateTime::parse_from_rfc3339(&r.time).is_ok_and(|t| {
                (now - t.with_timezone(&chrono::Utc)).num_seconds() <= window_secs as i64
            })
    })
}

/// An invoke's payload in its preview: a short one as it is (an empty `{}` sent because none
/// was given is seen), a longer one by its size.
pub fn said(payload: &[u8]) -> String {
    match std::str::from_utf8(payload) {
        Ok(text) if text.len() <= 40 && !text.chars().any(char::is_control) => {
            format!("payload {text}")
        }
        _ => format!("{} bytes of payload", payload.len()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Two ids beyond what a double holds are two payloads, not one; a number written as a
    /// double would write it is kept, so spacing and key order still make no difference.
    #[test]
    fn numbers_a_double_cannot_hold_keep_payloads_apart() {
        let a = br#"{"id":123456789012345678901230}"#;
        let b = br#"{"id":123456789012345678901231}"#;
        assert_ne!(payload_sha256(a), payload_sha256(b));
        assert_eq!(
            payload_sha256(br#"{"a": 1.5, "b": 2}"#),
            payload_sha256(br#"{"b":2,"a":1.5}"#)
        );
        let read = |t: &[u8]| serde_json::from_slice::<serde_json::Value>(t).unwrap();
        assert!(!numbers_kept(a, &read(a)));
        assert!(numbers_kept(
            br#"{"a": [0.1, 2, -3.25]}"#,
            &read(br#"{"a": [0.1, 2, -3.25]}"#)
        ));
        let long = br#"{"x": 0.12345678901234567890}"#;
        assert!(!numbers_kept(long, &read(long)));
        // A decimal whose double prints as a prefix of it is not taken for it.
        let (c, d) = (
            br#"{"id":1.0000000000000000000001}"#,
            br#"{"id":1.0000000000000000000002}"#,
        );
        assert!(!numbers_kept(c, &read(c)));
        assert_ne!(payload_sha256(c), payload_sha256(d));
        // Spacing still makes no difference, numbers in strings are not numbers.
        assert_eq!(
            payload_sha256(br#"{"id":123456789012345678901230}"#),
            payload_sha256(br#"{ "id" : 123456789012345678901230 }"#)
        );
        let s = br#"{"n": "1.5", "m": 1.5}"#;
        assert!(numbers_kept(s, &read(s)));
        // Nor does key order, at any depth, nor how a string is escaped.
        assert_eq!(
            payload_sha256(br#"{"id":123456789012345678901230,"k":{"b":[1,"\u0041"],"a":null}}"#),
            payload_sha256(
                br#"{ "k" : { "a" : null, "b" : [ 1, "A" ] }, "id" : 123456789012345678901230 }"#
            )
        );
        assert_ne!(
            payload_sha256(br#"{"id":123456789012345678901230,"k":[1,2]}"#),
            payload_sha256(br#"{"k":[2,1],"id":123456789012345678901230}"#)
        );
    }

    #[test]
    fn a_byte_order_mark_is_dropped_not_sent() {
        let path = std::env::temp_dir().join(format!("lops-bom-{}.json", std::process::id()));
        std::fs::write(&path, "\u{feff}{\"a\": 1}").unwrap();
        let arg = format!("@{}", path.display());
        assert_eq!(
            load_payload(Some(&arg), None, false).unwrap(),
            b"{\"a\": 1}"
        );
        let _ = std::fs::remove_file(path);
    }

    #[test]
    fn the_same_json_written_another_way_is_the_same_payload() {
        let a = payload_sha256(br#"{"b": [1, {"d": 2, "c": 3}], "a": "x"}"#);
        let b = payload_sha256(br#"{"a":"x","b":[1,{"c":3,"d":2}]}"#);
        assert_eq!(a, b);
        assert_ne!(a, payload_sha256(br#"{"a":"y","b":[1,{"c":3,"d":2}]}"#));
        assert_ne!(payload_sha256(b"[1,2]"), payload_sha256(b"[2,1]"));
        assert_eq!(
            payload_sha256(br#"{"n":1.0}"#),
            payload_sha256(br#"{"n":1}"#)
        );
        assert_ne!(
            payload_sha256(br#"{"n":1.5}"#),
            payload_sha256(br#"{"n":1}"#)
        );
    }

    #[test]
    fn malformed_payload_is_refused_with_a_hint() {
        let err = load_payload(Some("{id: 1"), None, false).unwrap_err();
        assert!(
            err.contains("not valid JSON") && err.contains("--payload '"),
            "{err}"
        );
        assert_eq!(load_payload(None, None, false).unwrap(), b"{}");
        // The preview shows a short payload as it is (the `{}` of none given is seen).
        assert_eq!(said(b"{}"), "payload {}");
        assert_eq!(said(&[b'x'; 41]), "41 bytes of payload");
        assert_eq!(said(b"{\"a\":\n1}"), "8 bytes of payload");
        // Shell quoting is the hint for inline text only.
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("bad.json");
        std::fs::write(&file, "{id: 1").unwrap();
        let err = load_payload(Some(&format!("@{}", file.display())), None, false).unwrap_err();
        assert!(
            err.contains("Mend the JSON in") && !err.contains("Quote it"),
            "{err}"
        );
        // Grammatical but beyond a double: said as such, not as a quoting problem.
        let err = load_payload(Some("{\"n\": 1e309}"), None, false).unwrap_err();
        assert!(
            err.contains("number too large for a double") && !err.contains("Quote it"),
            "{err}"
        );
        let err = load_payload(Some("-"), None, false).unwrap_err();
        assert!(
            err.contains("write --payload @-") && !err.contains("Quote it"),
            "{err}"
        );
        let err = load_payload(Some("@"), None, false).unwrap_err();
        assert!(
            err.starts_with("--payload @ names no file: write --payload @FILE"),
            "{err}"
        );
        assert!(load_payload(Some("{}"), Some("x"), false).is_err());
        assert!(load_payload(None, Some("../etc"), false).is_err());
    }

    #[test]
    fn payloads_over_lambdas_limits_are_refused_before_sending() {
        // A device that never ends is read only up to the limit.
        #[cfg(unix)]
        {
            let err = load_payload(Some("@/dev/zero"), None, false).unwrap_err();
            assert!(err.contains("6 MB for a synchronous invoke"), "{err}");
        }
        // 300 KB: taken both ways since Lambda raised the asynchronous limit to 1 MB.
        let mid = format!("{{\"a\": \"{}\"}}", "x".repeat(300 * 1024));
        assert!(load_payload(Some(&mid), None, true).is_ok());
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(1100 * 1024));
        assert!(load_payload(Some(&big), None, false).is_ok());
        let err = load_payload(Some(&big), None, true).unwrap_err();
        assert!(err.contains("1 MB for an asynchronous invoke"), "{err}");
        assert!(check_payload_size(SYNC_PAYLOAD_LIMIT, false).is_ok());
        assert!(check_payload_size(SYNC_PAYLOAD_LIMIT + 1, false).is_err());
    }

    /// A payload file or saved name that is not there says where to look, not only the OS's
    /// "No such file".
    #[test]
    fn a_missing_payload_says_where_payloads_are() {
        let e = load_payload(Some("@/nonexistent-lops/event.json"), None, false).unwrap_err();
        assert!(e.contains("check the path"), "{e}");
        let dir = std::env::temp_dir().join(format!("lops-payloads-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let e = no_saved_payload("refund", &dir.join("refund.json"));
        assert!(e.contains("none is saved in"), "{e}");
        std::fs::write(dir.join("b.json"), "{}").unwrap();
        std::fs::write(dir.join("a.json"), "{}").unwrap();
        let e = no_saved_payload("refund", &dir.join("refund.json"));
        assert!(
            e.starts_with("no saved payload 'refund': a saved payload is a JSON file")
                && e.contains("(saved: a, b)"),
            "{e}"
        );
        let _ = std::fs::remove_dir_all(dir);
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Payload text is accepted exactly when it is JSON, and never panics.
        #[test]
        fn payloads_are_json_or_refused(text in "\\PC{0,200}") {
            let is_json = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            // '@' would read a file: not what this property is about.
            prop_assume!(!text.starts_with('@'));
            match load_payload(Some(&text), None, false) {
                Ok(bytes) => prop_assert!(is_json && bytes == text.as_bytes()),
                Err(e) => prop_assert!(
                    !is_json && (e.contains("not valid JSON") || e.contains("too large for a double"))
                ),
            }
        }

        /// Payload files: any bytes, never a panic; JSON files pass.
        #[test]
        fn payload_files_never_panic(bytes in proptest::collection::vec(any::<u8>(), 0..200)) {
            let dir = tempfile::tempdir().unwrap();
            let path = dir.path().join("event.json");
            std::fs::write(&path, &bytes).unwrap();
            let r = load_payload(Some(&format!("@{}", path.display())), None, false);
            let ok = std::str::from_utf8(&bytes).ok().is_some_and(|t| serde_json::from_str::<serde_json::Value>(t).is_ok());
            prop_assert_eq!(r.is_ok(), ok);
        }
    }
}
