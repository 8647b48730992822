//! Invoke's inputs and outputs: payloads (inline JSON, @file, saved name), the REPORT line.

use std::path::Path;

use serde::Serialize;
use sha2::{Digest, Sha256};

/// The largest request payload Lambda takes for a synchronous invoke.
pub const SYNC_PAYLOAD_LIMIT: u64 = 6 * 1024 * 1024;
/// The largest request payload Lambda takes for an asynchronous (Event) invoke.
pub const ASYNC_PAYLOAD_LIMIT: u64 = 256 * 1024;

/// The payload limit for a kind of invoke, with its name for messages.
pub fn payload_limit(asynchronous: bool) -> (u64, &'static str) {
    if asynchronous {
        (ASYNC_PAYLOAD_LIMIT, "256 KB for an asynchronous invoke")
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

/// Reads a payload: inline JSON, `@path` to a file, or a saved payload's name; checks it is
/// JSON and no larger than Lambda takes for this kind of invoke.
pub fn load_payload(
    inline: Option<&str>,
    saved_name: Option<&str>,
    asynchronous: bool,
) -> Result<Vec<u8>, String> {
    let (limit, what) = payload_limit(asynchronous);
    let (text, source) = match (inline, saved_name) {
        (Some(_), Some(_)) => return Err("give --payload or --payload-name, not both".into()),
        (Some(p), None) => match p.strip_prefix('@') {
            Some(path) => (
                read_limited(Path::new(path), limit, what)
                    .map_err(|e| format!("cannot read payload file {path}: {e}"))?,
                format!("payload file {path}"),
            ),
            None => (p.to_string(), "--payload".to_string()),
        },
        (None, Some(name)) => {
            if name.is_empty() || name.contains(['/', '\\']) || name.starts_with('.') {
                return Err(format!(
                    "'{name}' is not a payload name (letters, digits, - and _)"
                ));
            }
            let dir = crate::config::default_path()
                .and_then(|p| p.parent().map(Path::to_path_buf))
                .ok_or("no config directory: set XDG_CONFIG_HOME or HOME")?;
            let path = dir.join("payloads").join(format!("{name}.json"));
            (
                read_limited(&path, limit, what)
                    .map_err(|e| format!("cannot read saved payload {}: {e}", path.display()))?,
                format!("saved payload {}", path.display()),
            )
        }
        (None, None) => ("{}".to_string(), String::new()),
    };
    check_payload_size(text.len() as u64, asynchronous)?;
    serde_json::from_str::<serde_json::Value>(&text).map_err(|e| {
        format!("{source} is not valid JSON: {e}. Quote it for the shell, e.g. --payload '{{\"id\": 1}}'")
    })?;
    Ok(text.into_bytes())
}

pub fn sha256_hex(bytes: &[u8]) -> String {
    Sha256::digest(bytes)
        .iter()
        .map(|b| format!("{b:02x}"))
        .collect()
}

/// The last successful invoke of `target` with the same payload within `window_secs`, if any.
pub fn recent_duplicate(
    log: &super::audit::AuditLog,
    target: &str,
    payload_sha256: &str,
    window_secs: u64,
) -> Option<super::audit::Record> {
    let (records, _) = log.read().ok()?;
    let now = chrono::Utc::now();
    records.into_iter().rev().find(|r| {
        r.action == "invoke"
            && r.result == "ok"
            && r.target == target
            && r.payload_sha256.as_deref() == Some(payload_sha256)
            && chrono::DateTime::parse_from_rfc3339(&r.time).is_ok_and(|t| {
                (now - t.with_timezone(&chrono::Utc)).num_seconds() <= window_secs as i64
            })
    })
}

/// The fields of a Lambda `REPORT RequestId: …` platform line.
#[derive(Debug, Clone, PartialEq, Default, Serialize)]
pub struct Report {
    pub request_id: Option<String>,
    pub duration_ms: Option<f64>,
    pub billed_ms: Option<f64>,
    pub memory_size_mb: Option<f64>,
    pub max_memory_used_mb: Option<f64>,
    /// Present on a cold start.
    pub init_duration_ms: Option<f64>,
}

impl Report {
    pub fn cold_start(&self) -> bool {
        self.init_duration_ms.is_some()
    }
}

/// Parses the REPORT line in a log tail, if there is one.
pub fn parse_report(log: &str) -> Option<Report> {
    let line = log
        .lines()
        .find(|l| l.trim_start().starts_with("REPORT "))?;
    let mut report = Report::default();
    for field in line.trim_start().trim_start_matches("REPORT ").split('\t') {
        let Some((key, value)) = field.split_once(':') else {
            continue;
        };
        let value = value.trim();
        let number = || {
            value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
        };
        match key.trim() {
            "RequestId" => report.request_id = Some(value.to_string()),
            "Duration" => report.duration_ms = number(),
            "Billed Duration" => report.billed_ms = number(),
            "Memory Size" => report.memory_size_mb = number(),
            "Max Memory Used" => report.max_memory_used_mb = number(),
            "Init Duration" => report.init_duration_ms = number(),
            _ => {}
        }
    }
    Some(report)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn report_line_fields_are_parsed() {
        let log = "START RequestId: 8f5 Version: $LATEST\nhello\nEND RequestId: 8f5\nREPORT RequestId: 8f5\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 128 MB\tMax Memory Used: 71 MB\tInit Duration: 245.87 ms\t\n";
        let r = parse_report(log).unwrap();
        assert_eq!(r.request_id.as_deref(), Some("8f5"));
        assert_eq!(r.duration_ms, Some(102.25));
        assert_eq!(r.billed_ms, Some(103.0));
        assert_eq!(r.memory_size_mb, Some(128.0));
        assert_eq!(r.max_memory_used_mb, Some(71.0));
        assert_eq!(r.init_duration_ms, Some(245.87));
        assert!(r.cold_start());
        assert_eq!(parse_report("no report here"), None);
    }

    #[test]
    fn malformed_payload_is_refused_with_a_hint() {
        let err = load_payload(Some("{id: 1"), None, false).unwrap_err();
        assert!(
            err.contains("not valid JSON") && err.contains("--payload '"),
            "{err}"
        );
        assert_eq!(load_payload(None, None, false).unwrap(), b"{}");
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
        let big = format!("{{\"a\": \"{}\"}}", "x".repeat(300 * 1024));
        assert!(load_payload(Some(&big), None, false).is_ok());
        let err = load_payload(Some(&big), None, true).unwrap_err();
        assert!(err.contains("256 KB for an asynchronous invoke"), "{err}");
        assert!(check_payload_size(SYNC_PAYLOAD_LIMIT, false).is_ok());
        assert!(check_payload_size(SYNC_PAYLOAD_LIMIT + 1, false).is_err());
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Whatever a log tail holds, parsing it never panics.
        #[test]
        fn report_parsing_never_panics(text in "\\PC{0,300}") {
            let _ = parse_report(&text);
            let _ = parse_report(&format!("REPORT {text}"));
        }

        /// A REPORT line as Lambda writes it comes back with its numbers.
        #[test]
        fn report_fields_round_trip(
            duration in 0.0f64..900_000.0,
            memory in 128u32..10_240,
            used in 1u32..10_240,
            init in proptest::option::of(0.0f64..10_000.0),
        ) {
            let line = format!(
                "REPORT RequestId: 6f1c\tDuration: {duration:.2} ms\tBilled Duration: {} ms\tMemory Size: {memory} MB\tMax Memory Used: {used} MB{}",
                duration.ceil(),
                init.map(|i| format!("\tInit Duration: {i:.2} ms")).unwrap_or_default()
            );
            let r = parse_report(&format!("START x\n{line}\n")).unwrap();
            prop_assert!((r.duration_ms.unwrap() - duration).abs() < 0.01);
            prop_assert_eq!(r.memory_size_mb, Some(f64::from(memory)));
            prop_assert_eq!(r.max_memory_used_mb, Some(f64::from(used)));
            prop_assert_eq!(r.cold_start(), init.is_some());
        }

        /// Payload text is accepted exactly when it is JSON, and never panics.
        #[test]
        fn payloads_are_json_or_refused(text in "\\PC{0,200}") {
            let is_json = serde_json::from_str::<serde_json::Value>(&text).is_ok();
            // '@' would read a file: not what this property is about.
            prop_assume!(!text.starts_with('@'));
            match load_payload(Some(&text), None, false) {
                Ok(bytes) => prop_assert!(is_json && bytes == text.as_bytes()),
                Err(e) => prop_assert!(!is_json && e.contains("not valid JSON")),
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
