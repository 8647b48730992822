//! Log lines: `--since` parsing, merging streams in time order without duplicates, and the
//! Lambda platform lines (START, END, REPORT, timeouts).

use chrono::{DateTime, TimeDelta, Utc};
use serde::Serialize;

fn millis<S: serde::Serializer>(t: &DateTime<Utc>, s: S) -> Result<S::Ok, S::Error> {
    s.serialize_str(&t.to_rfc3339_opts(chrono::SecondsFormat::Millis, true))
}

/// One log event, labelled with where it came from.
#[derive(Debug, Clone, PartialEq, Serialize)]
pub struct LogLine {
    /// Always with milliseconds (`…20.000Z`): the lines sort as strings, and fixed-width
    /// readers read every one alike.
    #[serde(serialize_with = "millis")]
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

/// Whether an event of `stream` is `function`'s, whatever its group. In a group several functions share
/// (a LoggingConfig group, or one's default group another is pointed at), Lambda names each
/// stream of a configured group `YYYY/MM/DD/NAME[VERSION]ID`: one naming another function is not
/// this one's; a stream of another form (a default group's own, not Lambda's) is kept.
pub fn of_function(function: &str, stream: &str) -> bool {
    // Its own streams there name no function (`YYYY/MM/DD/[VERSION]ID`): kept below; another
    // function pointed at this one's default group names itself.
    let (Some(date), Some(rest)) = (stream.get(..11), stream.get(11..)) else {
        return true;
    };
    let dated = date.char_indices().all(|(i, c)| match i {
        4 | 7 | 10 => c == '/',
        _ => c.is_ascii_digit(),
    });
    match rest.split_once('[') {
        Some((name, _)) if dated && !name.is_empty() => name == function,
        _ => true,
    }
}

/// Classifies a message: a REPORT (text, or the JSON log format's `platform.report`) with its
/// fields and status, or a timeout / runtime error line (either format).
pub fn annotate(line: &mut LogLine) {
    let m = line.message.trim_start();
    if let Some(report) = report_of(m) {
        line.failure = match report.status.as_deref() {
            Some("timeout") => Some("timeout"),
            Some("error" | "failure") => Some("runtime_error"),
            _ => None,
        };
        line.report = Some(report);
    } else if m.contains("Task timed out after") {
        line.failure = Some("timeout");
    } else if m.contains("Runtime.")
        || m.starts_with("[ERROR]")
        || m.contains("\tERROR\t")
        || (m.starts_with('{') && json_level(m).as_deref() == Some("ERROR"))
    {
        line.failure = Some("runtime_error");
    }
}

/// The `level` of a JSON-format application log line.
fn json_level(m: &str) -> Option<String> {
    if !m.contains("\"level\"") {
        return None;
    }
    let v: serde_json::Value = serde_json::from_str(m).ok()?;
    Some(v.get("level")?.as_str()?.to_ascii_uppercase())
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
                timeouts: timed_out(&lines),
                region,
                function,
            }
        })
        .collect()
}

/// The requests that timed out: a runtime says it in a line of its own and in its REPORT's
/// status, both for one request (counted once).
fn timed_out(lines: &[&LogLine]) -> usize {
    lines
        .iter()
        .filter(|l| l.failure == Some("timeout"))
        .map(|l| match &l.report {
            Some(r) => r.request_id.clone().unwrap_or_else(|| l.key().to_string()),
            // "2026-11-25T12:00:03.120Z 8f5… Task timed out after 3.00 seconds".
            None => match l.message.split_whitespace().collect::<Vec<_>>()[..] {
                [_, id, "Task", ..] => id.to_string(),
                _ => l.key().to_string(),
            },
        })
        .collect::<std::collections::BTreeSet<_>>()
        .len()
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
    /// How the invocation ended where the line says it: "success", "timeout", "error".
    #[serde(skip_serializing_if = "Option::is_none")]
    pub status: Option<String>,
}

impl Report {
    pub fn cold_start(&self) -> bool {
        self.init_duration_ms.is_some()
    }
}

/// Parses the REPORT line in a log tail, if there is one (text or JSON log format).
pub fn parse_report(log: &str) -> Option<Report> {
    log.lines().find_map(|l| report_of(l.trim_start()))
}

/// The report a line is: a text `REPORT RequestId: …`, or the JSON log format's
/// `{"type":"platform.report","record":{…}}`.
fn report_of(line: &str) -> Option<Report> {
    if line.starts_with("REPORT ") {
        Some(text_report(line))
    } else if line.starts_with('{') && line.contains("platform.report") {
        json_report(line)
    } else {
        None
    }
}

fn json_report(line: &str) -> Option<Report> {
    let v: serde_json::Value = serde_json::from_str(line).ok()?;
    if v.get("type")?.as_str()? != "platform.report" {
        return None;
    }
    let record = v.get("record")?;
    let text = |key: &str| record.get(key)?.as_str().map(str::to_string);
    let number = |key: &str| record.get("metrics")?.get(key)?.as_f64();
    Some(Report {
        request_id: text("requestId"),
        duration_ms: number("durationMs"),
        billed_ms: number("billedDurationMs"),
        memory_size_mb: number("memorySizeMB"),
        max_memory_used_mb: number("maxMemoryUsedMB"),
        init_duration_ms: number("initDurationMs"),
        status: text("status"),
    })
}

fn text_report(line: &str) -> Report {
    let mut report = Report::default();
    for field in line.trim_start().trim_start_matches("REPORT ").split('\t') {
        let Some((key, value)) = field.split_once(':') else {
            continue;
        };
        let value = value.trim();
        // A number as Lambda writes one: `NaN`, `inf` or a negative (a function can print any
        // line) is no figure, and leaves the summary's others as they are.
        let number = || {
            value
                .split_whitespace()
                .next()
                .and_then(|n| n.parse::<f64>().ok())
                .filter(|n| n.is_finite() && *n >= 0.0)
        };
        match key.trim() {
            "RequestId" => report.request_id = Some(value.to_string()),
            "Duration" => report.duration_ms = number(),
            "Billed Duration" => report.billed_ms = number(),
            "Memory Size" => report.memory_size_mb = number(),
            "Max Memory Used" => report.max_memory_used_mb = number(),
            "Init Duration" => report.init_duration_ms = number(),
            "Status" => report.status = Some(value.to_string()),
            _ => {}
        }
    }
    report
}

#[cfg(test)]
#[path = "loglines_tests.rs"]
mod tests;
