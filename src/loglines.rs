//! Log lines: `--since` parsing, merging streams in time order without duplicates, and the
//! Lambda platform lines (START, END, REPORT, timeouts).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

/// One log event, labelled with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    pub time: DateTime<Utc>,
    pub region: String,
    pub function: String,
    pub stream: String,
    pub message: String,
    #[serde(skip)]
    pub event_id: String,
    /// Parsed fields of a REPORT line.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report: Option<Report>,
    /// "timeout" or "runtime_error" for the platform's failure lines.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub failure: Option<&'static str>,
}

impl LogLine {
    /// What makes an event the same event whichever read brought it: a Live Tail session (no
    /// event id) or FilterLogEvents (an overlap read, a poll). Two events written in the same
    /// millisecond to the same stream with the same text share a key: [`Seen`] counts them.
    pub fn key(&self) -> u64 {
        use std::hash::{Hash, Hasher};
        let mut h = std::hash::DefaultHasher::new();
        (
            &self.region,
            &self.function,
            &self.stream,
            self.time.timestamp_millis(),
            &self.message,
        )
            .hash(&mut h);
        h.finish()
    }
}

/// How a batch of events was read, which decides what "already shown" means for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Source {
    /// A read of a time range (FilterLogEvents): it brings every event of that range, so an
    /// event it brings twice was written twice, and one an earlier read brought is not new.
    Read,
    /// Live Tail session number N: it sends each event once, as it is written. (A session
    /// that sends what an earlier one sent is counted the same way as a second read.)
    Streamed(u64),
}

/// What was shown of one key: the most copies one read brought, the most one session sent,
/// and the session counted last with its copies so far.
#[derive(Debug, Clone, Copy, Default, PartialEq)]
struct Shown {
    read: u32,
    streamed: u32,
    session: u64,
    in_session: u32,
}

impl Shown {
    fn most(&self) -> u32 {
        self.read.max(self.streamed)
    }
}

/// The events already shown, so overlapping reads and reopened sessions show each one once
/// while two real events that look alike (same stream, millisecond and text) both show: an
/// event is new when it raises the most copies any one read or session brought of its key.
/// Remembers the last `cap` keys (hashes, not text).
#[derive(Debug, Clone, Default, PartialEq)]
pub struct Seen {
    shown: std::collections::HashMap<u64, Shown>,
    order: std::collections::VecDeque<u64>,
    cap: usize,
}

impl Seen {
    pub fn new(cap: usize) -> Self {
        Seen {
            cap: cap.max(1),
            ..Default::default()
        }
    }

    /// The events of `lines` not shown yet, in the order given.
    pub fn admit(&mut self, lines: Vec<LogLine>, source: Source) -> Vec<LogLine> {
        let mut in_batch: std::collections::HashMap<u64, u32> = std::collections::HashMap::new();
        let mut fresh = Vec::new();
        for line in lines {
            let key = line.key();
            if !self.shown.contains_key(&key) {
                self.order.push_back(key);
            }
            let shown = self.shown.entry(key).or_default();
            let before = shown.most();
            match source {
                Source::Read => {
                    let n = in_batch.entry(key).or_default();
                    *n += 1;
                    shown.read = shown.read.max(*n);
                }
                Source::Streamed(session) => {
                    if shown.session != session {
                        shown.session = session;
                        shown.in_session = 0;
                    }
                    shown.in_session += 1;
                    shown.streamed = shown.streamed.max(shown.in_session);
                }
            }
            if shown.most() > before {
                fresh.push(line);
            }
        }
        while self.order.len() > self.cap {
            if let Some(old) = self.order.pop_front() {
                self.shown.remove(&old);
            }
        }
        fresh
    }
}

/// `15m`, `1h`, `2d`, `90s`, or an RFC 3339 time (`2026-11-25T10:00:00Z`).
pub fn parse_since(text: &str, now: DateTime<Utc>) -> Result<DateTime<Utc>, String> {
    let hint = "use a duration such as 15m, 1h, 2d, or a time such as 2026-11-25T10:00:00Z";
    if let Ok(t) = DateTime::parse_from_rfc3339(text) {
        let t = t.with_timezone(&Utc);
        // A time ahead (a typo in the year, say) would read nothing, in silence; one before
        // 1970 is not a time CloudWatch Logs takes.
        if t > now {
            return Err(format!(
                "'{text}' is in the future (now is {}): {hint}",
                now.format("%Y-%m-%dT%H:%M:%SZ")
            ));
        }
        if t.timestamp_millis() < 0 {
            return Err(format!("'{text}' is before 1970: {hint}"));
        }
        return Ok(t);
    }
    let split = text
        .find(|c: char| !c.is_ascii_digit())
        .unwrap_or(text.len());
    let (number, unit) = text.split_at(split);
    let n: i64 = number
        .parse()
        .map_err(|_| format!("'{text}' is not a time: {hint}"))?;
    let delta = match unit {
        "s" => TimeDelta::try_seconds(n),
        "m" => TimeDelta::try_minutes(n),
        "h" => TimeDelta::try_hours(n),
        "d" => TimeDelta::try_days(n),
        "" => return Err(format!("'{text}' has no unit: {n}s, {n}m, {n}h or {n}d")),
        _ => return Err(format!("'{text}' is not a time: {hint}")),
    };
    // As far back as a time may be (1970), whichever way it is written.
    match delta.and_then(|d| now.checked_sub_signed(d)) {
        Some(t) if t.timestamp_millis() >= 0 => Ok(t),
        _ => Err(format!("'{text}' reaches back before 1970: {hint}")),
    }
}

/// Classifies a message: REPORT fields, or a timeout / runtime error line.
pub fn annotate(line: &mut LogLine) {
    let m = line.message.trim_start();
    if m.starts_with("REPORT ") {
        line.report = parse_report(m);
    } else if m.contains("Task timed out after") {
        line.failure = Some("timeout");
    } else if m.contains("Runtime.") || m.starts_with("[ERROR]") || m.contains("\tERROR\t") {
        line.failure = Some("runtime_error");
    }
}

/// Sorts by time (then stream, then id) and drops an event two reads both brought (same id).
pub fn merge(mut lines: Vec<LogLine>) -> Vec<LogLine> {
    lines.sort_by(|a, b| {
        a.time
            .cmp(&b.time)
            .then_with(|| a.region.cmp(&b.region))
            .then_with(|| a.function.cmp(&b.function))
            .then_with(|| a.stream.cmp(&b.stream))
            .then_with(|| a.event_id.cmp(&b.event_id))
    });
    lines.dedup_by(|a, b| {
        !a.event_id.is_empty()
            && a.event_id == b.event_id
            && a.region == b.region
            && a.function == b.function
    });
    lines
}

/// Cold starts and memory from the REPORT lines of one function.
#[derive(Debug, Clone, Default, PartialEq, Serialize)]
pub struct FunctionLogStats {
    pub region: String,
    pub function: String,
    pub invocations: usize,
    pub cold_starts: usize,
    pub cold_start_rate: Option<f64>,
    pub cold_duration_ms: Option<f64>,
    pub warm_duration_ms: Option<f64>,
    pub max_memory_used_mb: Option<f64>,
    pub memory_size_mb: Option<f64>,
    pub timeouts: usize,
}

pub fn stats(lines: &[LogLine]) -> Vec<FunctionLogStats> {
    let mut by: std::collections::BTreeMap<(String, String), Vec<&LogLine>> = Default::default();
    for l in lines {
        by.entry((l.region.clone(), l.function.clone()))
            .or_default()
            .push(l);
    }
    by.into_iter()
        .map(|((region, function), lines)| {
            let reports: Vec<&Report> = lines.iter().filter_map(|l| l.report.as_ref()).collect();
            let avg =
                |xs: Vec<f64>| (!xs.is_empty()).then(|| xs.iter().sum::<f64>() / xs.len() as f64);
            let cold: Vec<f64> = reports
                .iter()
                .filter(|r| r.cold_start())
                .filter_map(|r| r.duration_ms)
                .collect();
            let warm: Vec<f64> = reports
                .iter()
                .filter(|r| !r.cold_start())
                .filter_map(|r| r.duration_ms)
                .collect();
            let cold_starts = reports.iter().filter(|r| r.cold_start()).count();
            FunctionLogStats {
                invocations: reports.len(),
                cold_starts,
                cold_start_rate: (!reports.is_empty())
                    .then(|| cold_starts as f64 / reports.len() as f64),
                cold_duration_ms: avg(cold),
                warm_duration_ms: avg(warm),
                max_memory_used_mb: reports
                    .iter()
                    .filter_map(|r| r.max_memory_used_mb)
                    .reduce(f64::max),
                memory_size_mb: reports
                    .iter()
                    .filter_map(|r| r.memory_size_mb)
                    .reduce(f64::max),
                timeouts: lines
                    .iter()
                    .filter(|l| l.failure == Some("timeout"))
                    .count(),
                region,
                function,
            }
        })
        .collect()
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
    use chrono::TimeZone;

    fn now() -> DateTime<Utc> {
        Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
            .single()
            .unwrap()
    }

    #[test]
    fn since_takes_durations_and_times() {
        assert_eq!(
            parse_since("15m", now()).unwrap(),
            now() - TimeDelta::minutes(15)
        );
        assert_eq!(
            parse_since("2d", now()).unwrap(),
            now() - TimeDelta::days(2)
        );
        assert_eq!(
            parse_since("2026-11-25T10:00:00Z", now()).unwrap(),
            now() - TimeDelta::hours(2)
        );
        // As far back one way as the other: a duration of more than a year is a time too.
        assert_eq!(
            parse_since("400d", now()).unwrap(),
            now() - TimeDelta::days(400)
        );
        assert!(parse_since("0", now()).unwrap_err().contains("0s"));
        for bad in [
            "2099-01-01T00:00:00Z",
            "0000-01-01T00:00:00Z",
            "yesterday",
            "15",
            "15w",
            "",
            "-5m",
            "999999999999999999m",
            "30000d",
        ] {
            assert!(
                parse_since(bad, now()).unwrap_err().contains("15m"),
                "{bad}"
            );
        }
    }

    fn line(secs: i64, id: &str, message: &str) -> LogLine {
        LogLine {
            time: now() + TimeDelta::seconds(secs),
            region: "us-east-1".into(),
            function: "f".into(),
            stream: "s".into(),
            message: message.into(),
            event_id: id.into(),
            report: None,
            failure: None,
        }
    }

    #[test]
    fn merge_orders_and_drops_duplicates() {
        let merged = merge(vec![
            line(2, "b", "two"),
            line(1, "a", "one"),
            line(2, "b", "two"),
        ]);
        assert_eq!(
            merged
                .iter()
                .map(|l| l.message.as_str())
                .collect::<Vec<_>>(),
            ["one", "two"]
        );
    }

    #[test]
    fn merge_keeps_two_real_events_that_look_alike() {
        let merged = merge(vec![line(1, "a", "retry"), line(1, "b", "retry")]);
        assert_eq!(merged.len(), 2);
    }

    #[test]
    fn seen_shows_each_event_once_and_twins_twice() {
        let messages =
            |lines: Vec<LogLine>| -> Vec<String> { lines.into_iter().map(|l| l.message).collect() };
        let mut seen = Seen::new(100);
        // A session streams "twin" once, then a read of that range brings it twice: it was
        // written twice, so one more shows.
        assert_eq!(
            messages(seen.admit(vec![line(1, "", "twin")], Source::Streamed(1))),
            ["twin"]
        );
        assert_eq!(
            messages(seen.admit(
                vec![
                    line(0, "x", "old"),
                    line(1, "a", "twin"),
                    line(1, "b", "twin")
                ],
                Source::Read
            )),
            ["old", "twin"]
        );
        // The second twin arrives from the session too, and an overlap read brings all again:
        // nothing new.
        assert!(
            seen.admit(vec![line(1, "", "twin")], Source::Streamed(1))
                .is_empty()
        );
        assert!(
            seen.admit(
                vec![
                    line(0, "x", "old"),
                    line(1, "a", "twin"),
                    line(1, "b", "twin")
                ],
                Source::Read
            )
            .is_empty()
        );
        // A third one written later in the same millisecond is new.
        assert_eq!(
            messages(seen.admit(vec![line(1, "", "twin")], Source::Streamed(1))),
            ["twin"]
        );
        // A later session that sends what the first one did brings nothing new.
        assert!(
            seen.admit(
                vec![line(0, "", "old"), line(1, "", "twin")],
                Source::Streamed(2)
            )
            .is_empty()
        );
        // The oldest keys go beyond the cap.
        let mut small = Seen::new(1);
        small.admit(vec![line(1, "a", "one")], Source::Read);
        small.admit(vec![line(2, "b", "two")], Source::Read);
        assert_eq!(
            small.admit(vec![line(1, "a", "one")], Source::Read).len(),
            1
        );
    }

    #[test]
    fn platform_lines_feed_the_stats() {
        let mut lines = vec![
            line(
                1,
                "1",
                "REPORT RequestId: a\tDuration: 100.0 ms\tBilled Duration: 100 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\tInit Duration: 200.0 ms\t",
            ),
            line(
                2,
                "2",
                "REPORT RequestId: b\tDuration: 20.0 ms\tBilled Duration: 20 ms\tMemory Size: 128 MB\tMax Memory Used: 70 MB\t",
            ),
            line(
                3,
                "3",
                "2026-11-25T12:00:03Z b Task timed out after 3.00 seconds",
            ),
        ];
        lines.iter_mut().for_each(annotate);
        let s = &stats(&lines)[0];
        assert_eq!((s.invocations, s.cold_starts, s.timeouts), (2, 1, 1));
        assert_eq!(s.cold_start_rate, Some(0.5));
        assert_eq!(
            (s.cold_duration_ms, s.warm_duration_ms),
            (Some(100.0), Some(20.0))
        );
        assert_eq!(
            (s.max_memory_used_mb, s.memory_size_mb),
            (Some(70.0), Some(128.0))
        );
    }
}

#[cfg(test)]
mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        #[test]
        fn since_never_panics(text in "\\PC{0,40}") {
            let now = Utc::now();
            if let Ok(t) = parse_since(&text, now) {
                // A duration never points into the future.
                if !text.contains('T') {
                    prop_assert!(t <= now);
                }
            }
        }

        #[test]
        fn durations_go_back_exactly(n in 0i64..300, unit in prop::sample::select(vec!["s", "m", "h", "d"])) {
            let now = Utc::now();
            let t = parse_since(&format!("{n}{unit}"), now).unwrap();
            let secs = match unit { "s" => n, "m" => n * 60, "h" => n * 3600, _ => n * 86_400 };
            prop_assert_eq!((now - t).num_seconds(), secs);
        }
    }
}

#[cfg(test)]
mod report_tests {
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
}

#[cfg(test)]
mod report_properties {
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
    }
}
