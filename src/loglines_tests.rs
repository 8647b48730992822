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

#[test]
fn the_json_log_format_reports_and_failures_are_read_as_the_text_ones() {
    let report = |id: &str, init: &str, status: &str| {
        format!(
            "{{\"time\":\"2026-11-25T12:00:01.000Z\",\"type\":\"platform.report\",\"record\":{{\"requestId\":\"{id}\",\"metrics\":{{\"durationMs\":5.5,\"billedDurationMs\":6,\"memorySizeMB\":128,\"maxMemoryUsedMB\":70{init}}},\"status\":\"{status}\"}}}}"
        )
    };
    let mut lines = vec![
        line(
            1,
            "1",
            &report("r1", ",\"initDurationMs\":200.0", "success"),
        ),
        line(2, "2", &report("r2", "", "timeout")),
        line(
            3,
            "3",
            "{\"timestamp\":\"2026-11-25T12:00:03Z\",\"level\":\"ERROR\",\"message\":\"boom\",\"requestId\":\"r3\"}",
        ),
        line(
            4,
            "4",
            "{\"timestamp\":\"2026-11-25T12:00:04Z\",\"level\":\"INFO\",\"message\":\"platform.report is a word\"}",
        ),
    ];
    lines.iter_mut().for_each(annotate);
    let first = lines[0].report.as_ref().expect("a report");
    assert_eq!(first.request_id.as_deref(), Some("r1"));
    assert_eq!(
        (
            first.duration_ms,
            first.max_memory_used_mb,
            first.memory_size_mb
        ),
        (Some(5.5), Some(70.0), Some(128.0))
    );
    assert!(first.cold_start());
    assert_eq!(lines[0].failure, None);
    assert_eq!(lines[1].failure, Some("timeout"));
    assert_eq!(lines[2].failure, Some("runtime_error"));
    assert_eq!((lines[3].failure, lines[3].report.is_some()), (None, false));
    let s = &stats(&lines)[0];
    assert_eq!((s.invocations, s.cold_starts, s.timeouts), (2, 1, 1));
    // An invoke's log tail in the JSON format gives its report too.
    let tail = format!("{}\n{}\n", lines[2].message, report("r9", "", "success"));
    assert_eq!(
        parse_report(&tail).and_then(|r| r.request_id),
        Some("r9".to_string())
    );
}

#[test]
fn a_timeout_said_twice_for_one_request_is_one_timeout() {
    let mut lines = vec![
        line(
            1,
            "1",
            "2026-11-25T12:00:03.120Z 8f5a Task timed out after 3.00 seconds",
        ),
        line(
            2,
            "2",
            "REPORT RequestId: 8f5a\tDuration: 3000.00 ms\tBilled Duration: 3000 ms\tMemory Size: 128 MB\tMax Memory Used: 60 MB\tStatus: timeout",
        ),
    ];
    lines.iter_mut().for_each(annotate);
    assert_eq!(lines[1].failure, Some("timeout"));
    assert_eq!(
        lines[1].report.as_ref().and_then(|r| r.status.as_deref()),
        Some("timeout")
    );
    assert_eq!(stats(&lines)[0].timeouts, 1);
}

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

/// A line on a whole second keeps its milliseconds in JSON (`….000Z`), so a stream of them
/// sorts as text and reads at fixed width.
#[test]
fn json_times_always_carry_milliseconds() {
    let whole = line(0, "a", "x");
    let json = serde_json::to_value(&whole).unwrap_or_default();
    let time = json["time"].as_str().unwrap_or_default().to_string();
    assert!(time.ends_with(".000Z"), "{time}");
    let mut later = line(0, "b", "y");
    later.time += TimeDelta::milliseconds(1);
    let next = serde_json::to_value(&later).unwrap_or_default();
    assert!(next["time"].as_str().unwrap_or_default() > time.as_str());
}

#[test]
fn a_shared_groups_events_are_told_apart_by_the_stream_lambda_names() {
    assert!(of_function("custom", "2026/11/30/custom[$LATEST]ab12"));
    assert!(!of_function("custom", "2026/11/30/other[$LATEST]ab12"));
    assert!(!of_function("custom", "2026/11/30/custom-v2[3]ab12"));
    // Its own default group: its streams name no function; another function pointed at it
    // names itself.
    assert!(of_function("custom", "2026/11/30/[$LATEST]ab12"));
    assert!(!of_function("custom", "2026/11/30/other[1]x"));
    // Not Lambda's form: kept, as nothing says whose it is.
    assert!(of_function("custom", "app/worker-1"));
    assert!(of_function("custom", "2026/11/30/[$LATEST]ab12"));
    assert!(of_function("custom", "2026/1é/30/other[1]x"));
    assert!(of_function("custom", "é"));
}

#[test]
fn a_report_line_with_no_figure_in_it_is_not_read_as_one() {
    let r = parse_report("REPORT RequestId: a3\tDuration: NaN ms\tBilled Duration: -4 ms\tMax Memory Used: inf MB\tMemory Size: 128 MB\t")
        .expect("a report");
    assert_eq!(
        (
            r.duration_ms,
            r.billed_ms,
            r.max_memory_used_mb,
            r.memory_size_mb
        ),
        (None, None, None, Some(128.0))
    );
}
