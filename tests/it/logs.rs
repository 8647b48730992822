//! `lops logs` against moto's CloudWatch Logs: merged in time order, nothing lost or doubled,
//! platform lines parsed, bad input refused.

use aws_sdk_cloudwatchlogs::types::InputLogEvent;
use chrono::{TimeDelta, Utc};
use serde_json::Value;

use crate::support::cli::Lops;
use crate::support::moto;
use crate::support::seed::sdk_config;

/// Puts `messages` (offset in seconds from 10 minutes ago, text) into one stream of the
/// function's log group, creating both as needed.
pub(crate) async fn put_logs(
    region: &str,
    function: &str,
    stream: &str,
    messages: &[(i64, String)],
) {
    put_group_logs(region, &format!("/aws/lambda/{function}"), stream, messages).await;
}

/// [`put_logs`] into any log group (a LoggingConfig group several functions share).
pub(crate) async fn put_group_logs(
    region: &str,
    group: &str,
    stream: &str,
    messages: &[(i64, String)],
) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config(moto::url(), region).await);
    let _ = logs.create_log_group().log_group_name(group).send().await;
    logs.create_log_stream()
        .log_group_name(group)
        .log_stream_name(stream)
        .send()
        .await
        .expect("stream");
    let base = Utc::now() - TimeDelta::minutes(10);
    let events: Vec<InputLogEvent> = messages
        .iter()
        .map(|(offset, m)| {
            InputLogEvent::builder()
                .timestamp((base + TimeDelta::seconds(*offset)).timestamp_millis())
                .message(m)
                .build()
                .expect("event")
        })
        .collect();
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("put");
}

/// A running `lops logs --follow`: its stdout lines as they come and what it said on stderr.
/// The child is killed when the test ends, also when an assertion fails first.
struct Followed {
    child: std::process::Child,
    lines: std::sync::mpsc::Receiver<String>,
    said: std::sync::Arc<std::sync::Mutex<String>>,
    /// The `{"not_read": …}` records of stdout, kept apart from the events.
    not_read: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Followed {
    /// Ctrl-C (SIGINT), then its exit status.
    fn interrupt(&mut self) -> std::process::ExitStatus {
        std::process::Command::new("kill")
            .args(["-INT", &self.child.id().to_string()])
            .status()
            .expect("kill -INT");
        self.child.wait().expect("wait")
    }

    /// `lops logs F --regions R --since 30m --follow --json`, started.
    fn json(lops: &Lops, f: &str, regions: &str) -> Self {
        Self::start(
            lops,
            &[
                "logs",
                f,
                "--regions",
                regions,
                "--since",
                "30m",
                "--follow",
                "--json",
            ],
        )
    }

    fn start(lops: &Lops, args: &[&str]) -> Self {
        use std::io::{BufRead, BufReader};
        let mut child = lops
            .command(args)
            .stdout(std::process::Stdio::piped())
            .stderr(std::process::Stdio::piped())
            .spawn()
            .expect("spawn");
        let stdout = child.stdout.take().expect("stdout");
        let stderr = child.stderr.take().expect("stderr");
        let said = std::sync::Arc::new(std::sync::Mutex::new(String::new()));
        let said_by = said.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stderr).lines().map_while(Result::ok) {
                if let Ok(mut s) = said_by.lock() {
                    s.push_str(&line);
                    s.push('\n');
                }
            }
        });
        let (tx, lines) = std::sync::mpsc::channel::<String>();
        let not_read = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
        let unread = not_read.clone();
        std::thread::spawn(move || {
            for line in BufReader::new(stdout).lines().map_while(Result::ok) {
                if line.starts_with("{\"not_read\"") {
                    if let Ok(mut u) = unread.lock() {
                        u.push(line);
                    }
                    continue;
                }
                let _ = tx.send(line);
            }
        });
        Followed {
            child,
            lines,
            said,
            not_read,
        }
    }

    /// The next line on stdout (20 s at most).
    fn next(&self, what: &str) -> String {
        self.lines
            .recv_timeout(std::time::Duration::from_secs(20))
            .unwrap_or_else(|_| panic!("no {what}; stderr: {}", self.said()))
    }

    /// Nothing more on stdout for `secs` seconds.
    fn quiet_for(&self, secs: u64) {
        std::thread::sleep(std::time::Duration::from_secs(secs));
        if let Ok(line) = self.lines.try_recv() {
            panic!("an event came twice: {line}");
        }
    }

    fn said(&self) -> String {
        self.said.lock().map(|s| s.clone()).unwrap_or_default()
    }

    fn not_read(&self) -> Vec<String> {
        self.not_read.lock().map(|s| s.clone()).unwrap_or_default()
    }
}

impl Drop for Followed {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Waits until the proxy has seen a Live Tail attempt in `region`.
fn await_live_tail(proxy: &crate::support::proxy::FaultProxy, region: &str) {
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while proxy.calls(region, "logs", "StartLiveTail") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no Live Tail session: {:#?}",
            proxy.all_calls()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
}

fn events(run: &crate::support::cli::Run) -> Vec<Value> {
    run.stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .filter(|v: &Value| v.get("message").is_some())
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn forty_events_in_two_streams_come_back_in_order_once_each() {
    let region = "ap-east-1";
    let f = format!("{}-fn", moto::unique("logs"));
    // Stream a holds even seconds, stream b odd ones: only a merge puts them in order.
    let a: Vec<(i64, String)> = (0..20)
        .map(|i| (i * 2, format!("event {:02}", i * 2)))
        .collect();
    let b: Vec<(i64, String)> = (0..20)
        .map(|i| (i * 2 + 1, format!("event {:02}", i * 2 + 1)))
        .collect();
    put_logs(region, &f, "2026/11/25/[$LATEST]a", &a).await;
    put_logs(region, &f, "2026/11/25/[$LATEST]b", &b).await;
    let run =
        Lops::new(moto::url()).run(&["logs", &f, "--regions", region, "--since", "30m", "--json"]);
    run.assert_exit(0);
    let messages: Vec<String> = events(&run)
        .iter()
        .map(|e| e["message"].as_str().unwrap_or_default().to_string())
        .collect();
    let expected: Vec<String> = (0..40).map(|i| format!("event {i:02}")).collect();
    assert_eq!(messages, expected);
    assert!(
        events(&run)
            .iter()
            .all(|e| e["region"] == region && e["function"] == f.as_str())
    );
    // Two real events alike (same stream, millisecond and text: a retry logging the same
    // line) are both shown.
    put_logs(
        region,
        &f,
        "2026/11/25/[$LATEST]c",
        &[(50, "retrying".into()), (50, "retrying".into())],
    )
    .await;
    let run =
        Lops::new(moto::url()).run(&["logs", &f, "--regions", region, "--since", "30m", "--json"]);
    let twins = events(&run)
        .iter()
        .filter(|e| e["message"] == "retrying")
        .count();
    assert_eq!(twins, 2, "{}", run.stdout);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn two_functions_in_two_regions_merge_and_report_lines_are_parsed() {
    let (r1, r2) = ("me-south-1", "ap-east-1");
    let f1 = format!("{}-one", moto::unique("merge"));
    let f2 = format!("{}-two", moto::unique("merge"));
    let report = "REPORT RequestId: 8f5\tDuration: 102.25 ms\tBilled Duration: 103 ms\tMemory Size: 128 MB\tMax Memory Used: 71 MB\tInit Duration: 245.87 ms\t";
    put_logs(
        r1,
        &f1,
        "s",
        &[
            (1, "START RequestId: 8f5 Version: $LATEST".into()),
            (3, report.into()),
        ],
    )
    .await;
    put_logs(
        r2,
        &f2,
        "s",
        &[
            (2, "hello from two".into()),
            (4, "Task timed out after 3.00 seconds".into()),
        ],
    )
    .await;
    let lops = Lops::new(moto::url());
    let run = lops.run(&[
        "logs",
        &format!("{f1},{f2}"),
        "--regions",
        &format!("{r1},{r2}"),
        "--since",
        "1h",
        "--json",
    ]);
    // Each function exists in one region only: the other two reads find no log group.
    run.assert_exit(3);
    let evs = events(&run);
    let order: Vec<(&str, &str)> = evs
        .iter()
        .map(|e| {
            (
                e["region"].as_str().unwrap_or_default(),
                e["function"].as_str().unwrap_or_default(),
            )
        })
        .collect();
    assert_eq!(
        order,
        [
            (r1, f1.as_str()),
            (r2, f2.as_str()),
            (r1, f1.as_str()),
            (r2, f2.as_str())
        ]
    );
    assert_eq!(evs[2]["report"]["init_duration_ms"], 245.87);
    assert_eq!(evs[2]["report"]["max_memory_used_mb"], 71.0);
    assert_eq!(evs[3]["failure"], "timeout");
    let stats: Vec<Value> = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("stats").cloned())
        .collect();
    assert_eq!(stats.len(), 1);
    assert_eq!(stats[0]["cold_start_rate"], 1.0);
    let text = lops.run(&["logs", &f1, "--regions", r1, "--since", "1h"]);
    text.assert_exit(0);
    assert!(text.stdout.contains("cold starts 100%"), "{}", text.stdout);
    assert!(
        text.stdout.contains("[cold start] REPORT RequestId: 8f5"),
        "{}",
        text.stdout
    );
    // A timeout is marked in words in text too (a pipe, NO_COLOR, a grep).
    let text = lops.run(&["logs", &f2, "--regions", r2, "--since", "1h"]);
    text.assert_exit(0);
    assert!(
        text.stdout
            .contains("[TIMEOUT] Task timed out after 3.00 seconds"),
        "{}",
        text.stdout
    );
    assert!(!text.stdout.contains("] hello from two"), "{}", text.stdout);
}

/// Lambda failing to say a function's log group (GetFunctionConfiguration 500 in one region):
/// that region's logs of it are not read, said, naming the call and why no group was read in
/// its place (it may log to one of its own: the default group's lines would pass for its own);
/// the other region's are printed, exit 3. It read the default group and said nothing.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_group_lambda_cannot_name_is_not_guessed() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let (r1, r2) = ("me-south-1", "ap-east-1");
    let f = format!("{}-grp", moto::unique("group"));
    put_logs(r1, &f, "s", &[(1, "default group in one".into())]).await;
    put_logs(r2, &f, "s", &[(2, "default group in two".into())]).await;
    let proxy = FaultProxy::start(moto::url());
    let failing = Rule::lambda(r1, "GetFunctionConfiguration", Fault::Status(500), None);
    proxy.add(failing);
    let lops = Lops::new(&proxy.url);
    let regions = format!("{r1},{r2}");
    let run = lops.run(&["logs", &f, "--regions", &regions, "--since", "1h", "--json"]);
    run.assert_exit(3);
    let evs = events(&run);
    let read: Vec<&str> = evs.iter().filter_map(|e| e["message"].as_str()).collect();
    assert_eq!(read, ["default group in two"], "{}", run.stdout);
    let said = format!("{}{}", run.stdout, run.stderr);
    assert!(
        said.contains(&format!("the log group of {f} in"))
            && said.contains("GetFunctionConfiguration")
            && said.contains("no group was read in its place"),
        "{said}"
    );
}

/// Two functions logging to one LoggingConfig group (moto keeps no LoggingConfig: the proxy
/// adds it to GetFunctionConfiguration's answer): each event is its stream's function's, once
/// — Lambda names the function in each stream of such a group. Every event was printed under
/// both, one function's errors counted as the other's.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_shared_log_groups_events_go_to_the_function_that_wrote_them() {
    let region = "af-south-1";
    let seeder = crate::support::seed::Seeder::new(moto::url(), region).await;
    let (one, two) = (moto::unique("shareone"), moto::unique("sharetwo"));
    seeder.create_function(&one).await;
    seeder.create_function(&two).await;
    let group = format!("/shared/{}", moto::unique("app"));
    let day = (Utc::now() - TimeDelta::minutes(10)).format("%Y/%m/%d");
    put_group_logs(
        region,
        &group,
        &format!("{day}/{one}[$LATEST]a1"),
        &[(1, "from one".into())],
    )
    .await;
    let error = r#"{"level":"ERROR","message":"from two"}"#.to_string();
    put_group_logs(
        region,
        &group,
        &format!("{day}/{two}[$LATEST]b2"),
        &[(2, error)],
    )
    .await;
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    let configured = group.clone();
    proxy.rewrite(region, "GetFunctionConfiguration", move |_, body| {
        body.replacen(
            '{',
            &format!("{{\"LoggingConfig\":{{\"LogGroup\":\"{configured}\"}},"),
            1,
        )
    });
    let lops = Lops::new(&proxy.url);
    let both = format!("{one},{two}");
    let run = lops.run(&[
        "logs",
        &both,
        "--regions",
        region,
        "--since",
        "1h",
        "--json",
    ]);
    run.assert_exit(0);
    let got: Vec<(String, String)> = events(&run)
        .iter()
        .map(|e| {
            let field = |k: &str| e[k].as_str().unwrap_or_default().to_string();
            (field("function"), field("message"))
        })
        .collect();
    assert_eq!(
        got,
        [
            (one.clone(), "from one".to_string()),
            (
                two.clone(),
                r#"{"level":"ERROR","message":"from two"}"#.to_string()
            )
        ],
        "{}",
        run.stdout
    );
}

/// A function logging in Lambda's JSON format: its `platform.report` lines are read as the text
/// REPORT lines are (cold start, numbers, a timeout's status), its ERROR lines as failures.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_json_log_format_is_read_as_the_text_one() {
    let region = "me-south-1";
    let f = format!("{}-jsonfmt", moto::unique("logs"));
    let report = |id: &str, extra: &str, status: &str| {
        format!(
            "{{\"time\":\"2026-11-25T12:00:01.000Z\",\"type\":\"platform.report\",\"record\":{{\"requestId\":\"{id}\",\"metrics\":{{\"durationMs\":5.0,\"billedDurationMs\":5,\"memorySizeMB\":128,\"maxMemoryUsedMB\":70{extra}}},\"status\":\"{status}\"}}}}"
        )
    };
    put_logs(
        region,
        &f,
        "s",
        &[
            (1, report("r1", ",\"initDurationMs\":200.0", "success")),
            (
                2,
                "{\"timestamp\":\"2026-11-25T12:00:02Z\",\"level\":\"ERROR\",\"message\":\"boom\"}"
                    .into(),
            ),
            (3, report("r2", "", "timeout")),
        ],
    )
    .await;
    let lops = Lops::new(moto::url());
    let run = lops.run(&["logs", &f, "--regions", region, "--since", "1h", "--json"]);
    run.assert_exit(0);
    let evs = events(&run);
    assert_eq!(evs.len(), 3, "{}", run.stdout);
    assert_eq!(evs[0]["report"]["init_duration_ms"], 200.0);
    assert_eq!(evs[0]["report"]["request_id"], "r1");
    assert_eq!(evs[1]["failure"], "runtime_error");
    assert_eq!(evs[2]["failure"], "timeout");
    assert_eq!(evs[2]["report"]["status"], "timeout");
    let stats: Vec<Value> = run
        .stdout
        .lines()
        .filter_map(|l| serde_json::from_str::<Value>(l).ok())
        .filter_map(|v| v.get("stats").cloned())
        .collect();
    assert_eq!(stats.len(), 1, "{}", run.stdout);
    assert_eq!(stats[0]["cold_start_rate"], 0.5);
    assert_eq!(stats[0]["timeouts"], 1);
    let text = lops.run(&["logs", &f, "--regions", region, "--since", "1h"]);
    text.assert_exit(0);
    for mark in ["[cold start] {", "[RUNTIME ERROR] {", "[TIMEOUT] {"] {
        assert!(text.stdout.contains(mark), "{mark}: {}", text.stdout);
    }
}

#[test]
fn bad_since_and_missing_log_group_are_explained() {
    let lops = Lops::new(moto::url());
    let run = lops.run(&[
        "logs",
        "f",
        "--regions",
        "ap-east-1",
        "--since",
        "yesterday",
    ]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("--since") && run.stderr.contains("15m"),
        "{}",
        run.stderr
    );
    // A stray comma is said as such.
    let run = lops.run(&["logs", "orders-api,", "--regions", "ap-east-1"]);
    run.assert_exit(2);
    assert!(run.stderr.contains("a stray comma"), "{}", run.stderr);
    let run = lops.run(&["logs", "no-such-function-here", "--regions", "ap-east-1"]);
    run.assert_exit(2);
    assert!(
        run.stderr
            .contains("no log group /aws/lambda/no-such-function-here"),
        "{}",
        run.stderr
    );
    // With --json, a logs command that read nothing says so on stdout too.
    let run = lops.run(&[
        "logs",
        "no-such-function-here",
        "--regions",
        "ap-east-1",
        "--json",
    ]);
    run.assert_exit(2);
    // One line: `logs --json` is ndjson, read a line at a time.
    assert_eq!(run.stdout.trim_end().lines().count(), 1, "{}", run.stdout);
    let doc = run.json();
    assert_eq!(doc["exit"], 2, "{}", run.stdout);
    assert!(
        doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("no log group")
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_log_line_cannot_drive_the_terminal_or_pass_for_another_functions() {
    let region = "ap-east-1";
    let f = format!("{}-fn", moto::unique("inject"));
    put_logs(
        region,
        &f,
        "2026/11/25/[$LATEST]x",
        &[
            (
                1,
                "title \x1b]0;PWNED\x07 cursor \x1b[2J\x1b[5A c1 \u{9b}31m bs \x08 cr \r!".into(),
            ),
            (
                2,
                "first\n2026-11-25T00:00:00.000Z eu-west-1 other-fn forged".into(),
            ),
            (3, "bidi \u{202e}desrever\u{202c} c1 \u{9b}2J".into()),
        ],
    )
    .await;
    let run = Lops::new(moto::url()).run(&["logs", &f, "--regions", region, "--since", "30m"]);
    run.assert_exit(0);
    assert!(
        !run.stdout
            .chars()
            .any(|c| { (c.is_control() && c != '\n') || ('\u{202a}'..='\u{202e}').contains(&c) }),
        "{:?}",
        run.stdout
    );
    assert!(
        run.stdout.contains("title") && run.stdout.contains("cr"),
        "{}",
        run.stdout
    );
    // Each line of a message carries its own event's label.
    let forged = run
        .stdout
        .lines()
        .find(|l| l.contains("forged"))
        .unwrap_or_default();
    assert!(forged.contains(&f) && forged.contains(region), "{forged}");
    // The JSON keeps the message as it was (escaped by JSON itself).
    let run =
        Lops::new(moto::url()).run(&["logs", &f, "--regions", region, "--since", "30m", "--json"]);
    // C1 codes and bidi overrides are \u escapes there, not raw characters.
    assert!(
        !run.stdout.contains('\u{9b}') && !run.stdout.contains('\u{202e}'),
        "{:?}",
        run.stdout
    );
    assert!(events(&run).iter().any(|e| {
        e["message"]
            .as_str()
            .unwrap_or_default()
            .contains("\x1b]0;PWNED")
    }));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_filter_pattern_aws_refuses_is_bad_input_and_never_followed() {
    let region = "ap-east-1";
    let f = format!("{}-fn", moto::unique("filter"));
    put_logs(region, &f, "2026/11/25/[$LATEST]x", &[(1, "hello".into())]).await;
    let g = format!("{f}-two");
    put_logs(region, &g, "2026/11/25/[$LATEST]x", &[(1, "hello".into())]).await;
    let both = format!("{f},{g}");
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: region.into(),
        service: Some("logs".into()),
        operation: Some("FilterLogEvents".into()),
        fault: crate::support::proxy::Fault::Code(400, "InvalidParameterException"),
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    for follow in [false, true] {
        let mut args = vec!["logs", &both, "--regions", region, "--filter", "{bad"];
        if follow {
            args.push("--follow");
        }
        let child = lops.spawn(&args);
        let (code, stderr) = crate::support::cli::finish(child, 20);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains("--filter") && stderr.contains("{bad"),
            "{stderr}"
        );
        // Said once, not once per function and region.
        let said = stderr
            .lines()
            .filter(|l| l.contains("InvalidParameter"))
            .count();
        assert_eq!(said, 1, "{stderr}");
    }
}

/// Nothing read anywhere: one region has no log group, the other cannot be reached. The exit
/// code and the failure named do not depend on the order the regions are given in (it was the
/// first read's), and a refusal AWS pins on the log group is not blamed on the filter.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_nothing_is_read_the_exit_does_not_depend_on_the_order() {
    let (missing, down) = ("ap-east-1", "me-central-1");
    let f = format!("{}-none", moto::unique("order"));
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    proxy.fail_region(down, crate::support::proxy::Fault::Status(503));
    let lops = Lops::new(&proxy.url);
    for regions in [format!("{missing},{down}"), format!("{down},{missing}")] {
        let run = lops.run(&["logs", &f, "--regions", &regions, "--json", "--stats"]);
        run.assert_exit(1);
        let doc = run.json();
        assert_eq!(doc["exit"], 1, "{regions}: {doc}");
        assert!(
            doc["error"].as_str().is_some_and(|e| e.contains("503")),
            "{regions}: {doc}"
        );
        assert!(run.stderr.contains("lops: calls"), "{}", run.stderr);
    }
    // Every read says the group is missing: bad input.
    let run = lops.run(&["logs", &f, "--regions", missing]);
    run.assert_exit(2);

    proxy.reply(
        missing,
        "FilterLogEvents",
        400,
        r#"{"__type":"InvalidParameterException","message":"1 validation error detected: Value 'x:y' at 'logGroupName' failed to satisfy constraint"}"#,
    );
    let run = lops.run(&["logs", &f, "--regions", missing, "--filter", "ERROR"]);
    assert!(!run.stderr.contains("--filter"), "{}", run.stderr);
    assert!(run.stderr.contains("logGroupName"), "{}", run.stderr);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_prints_new_events_once_and_stops_on_ctrl_c() {
    let region = "me-south-1";
    let f = format!("{}-tail", moto::unique("follow"));
    put_logs(region, &f, "first", &[(1, "before follow".into())]).await;
    let lops = Lops::new(moto::url());
    let mut followed = Followed::json(&lops, &f, region);
    assert!(followed.next("first event").contains("before follow"));
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config(moto::url(), region).await);
    let group = format!("/aws/lambda/{f}");
    logs.create_log_stream()
        .log_group_name(&group)
        .log_stream_name("second")
        .send()
        .await
        .expect("stream");
    let event = InputLogEvent::builder()
        .timestamp(Utc::now().timestamp_millis())
        .message("while following")
        .build()
        .expect("event");
    logs.put_log_events()
        .log_group_name(group)
        .log_stream_name("second")
        .log_events(event)
        .send()
        .await
        .expect("put");
    assert!(followed.next("followed event").contains("while following"));
    // Several more polls pass: nothing is printed twice.
    followed.quiet_for(5);
    let status = followed.interrupt();
    assert_eq!(status.code(), Some(0));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboards_log_pane_reads_the_functions_log_group_on_aws() {
    use crate::support::tui;
    use crossterm::event::KeyCode;
    use std::time::Duration;

    let region = "ap-east-1";
    let f = format!("{}-pane", moto::unique("logs"));
    crate::support::seed::Seeder::new(moto::url(), region)
        .await
        .create_function(&f)
        .await;
    let messages: Vec<(i64, String)> = (0..12)
        .map(|i| (i * 5, format!("pane line {i:02}")))
        .collect();
    put_logs(region, &f, "2026/11/25/[$LATEST]pane", &messages).await;

    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    let source = lops::provider::aws::AwsRegion::new(tui::clients(&proxy.url, region).await);
    let sources = vec![std::sync::Arc::new(source)];
    let state = tui::state(&sources);
    let screen = tui::Screen::new(120, 30);
    let (keys, run) = tui::start_on(&screen, sources, state, None);
    tui::filter(&keys, &f);
    tokio::time::sleep(Duration::from_secs(2)).await;
    tui::press(&keys, KeyCode::Char('l'));
    // After its first read the pane follows with Live Tail (the title says so), not by
    // polling: a few seconds later FilterLogEvents was sent only for the first read and the
    // catch-up reads around sessions (moto ends each session at once; they are reopened after
    // a growing pause).
    screen.wait_for(10, "live tail").await;
    let deadline = std::time::Instant::now() + Duration::from_secs(10);
    while proxy.calls(region, "logs", "StartLiveTail") == 0 {
        assert!(
            std::time::Instant::now() < deadline,
            "no Live Tail: {:#?}",
            proxy.all_calls()
        );
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_secs(4)).await;
    let sessions = proxy.calls(region, "logs", "StartLiveTail");
    let reads = proxy.calls(region, "logs", "FilterLogEvents");
    assert!(
        reads <= 1 + sessions,
        "{reads} reads for {sessions} sessions: {:#?}",
        proxy.all_calls()
    );
    tui::press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    let pane = state.log_pane.expect("the log pane is open");
    assert_eq!(pane.function, f);
    let got: Vec<&str> = pane.lines.iter().map(|l| l.message.as_str()).collect();
    let want: Vec<String> = messages.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(got, want, "every event once, in order");
    assert!(pane.error.is_none());
}

/// Follows with Live Tail through the real SDK and the fault proxy (a custom endpoint: the SDK's
/// `streaming-` host prefix must not be applied). moto's session sends the events it holds and
/// ends; lops reopens it. With FilterLogEvents failing after the first reads, an event written
/// while following can only come through Live Tail: it is printed once, after the earlier ones.
/// The region (cn-northwest-1) holds this test's log group only: moto's Live Tail answers with
/// a region's last log group whatever is asked.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_uses_live_tail_through_a_custom_endpoint_and_shows_each_event_once() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "cn-northwest-1";
    let f = format!("{}-live", moto::unique("tail"));
    put_logs(region, &f, "a", &[(1, "one".into()), (2, "two".into())]).await;
    // Older than --since: moto's sessions replay the whole group; it is never printed.
    put_logs(region, &f, "old", &[(-3600, "ancient".into())]).await;
    let proxy = FaultProxy::start(moto::url());
    // The initial read and the first catch-up read answer; every later one fails.
    proxy.add_after(
        2,
        Rule {
            region: region.into(),
            service: Some("logs".into()),
            operation: Some("FilterLogEvents".into()),
            fault: Fault::Status(503),
            remaining: None,
        },
    );
    let lops = Lops::new(&proxy.url);
    let followed = Followed::json(&lops, &f, region);
    assert!(followed.next("first").contains("\"one\""));
    assert!(followed.next("second").contains("\"two\""));
    // Wait for a session to have opened (and ended: moto ends it after one update).
    await_live_tail(&proxy, region);
    put_logs(region, &f, "b", &[(3, "three".into())]).await;
    let third = followed.next("event written while following");
    assert!(third.contains("\"three\""), "{third}");
    // Reopened sessions send one, two and three again: none is printed twice.
    followed.quiet_for(4);
    assert!(proxy.calls(region, "logs", "StartLiveTail") >= 2);
    // The failing reads are said once, not at every reopened session.
    let said = followed.said();
    assert_eq!(said.matches("still trying").count(), 1, "{said}");
}

/// Two functions followed together, one of which has never logged (no log group): the other
/// is followed all the same, the missing group is said once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_goes_on_for_the_others_when_one_function_has_no_log_group() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let region = "me-south-1";
    let f = format!("{}-here", moto::unique("nogroup"));
    let quiet = format!("{}-never-invoked", moto::unique("nogroup"));
    put_logs(region, &f, "a", &[(1, "one".into())]).await;
    let proxy = FaultProxy::start(moto::url());
    // AWS refuses a session over a group that does not exist; moto answers with another
    // group's events instead, so the first session is refused here as AWS would.
    proxy.add(Rule {
        region: region.into(),
        service: Some("logs".into()),
        operation: Some("StartLiveTail".into()),
        fault: Fault::Code(400, "ResourceNotFoundException"),
        remaining: Some(1),
    });
    let lops = Lops::new(&proxy.url);
    let functions = format!("{f},{quiet}");
    let followed = Followed::start(
        &lops,
        &[
            "logs",
            &functions,
            "--regions",
            region,
            "--since",
            "30m",
            "--follow",
            "--json",
        ],
    );
    assert!(followed.next("first").contains("\"one\""));
    await_live_tail(&proxy, region);
    // Written now (moto's sessions here may stream another group: the read after each
    // session brings it).
    put_logs(region, &f, "b", &[(599, "two".into())]).await;
    assert!(
        followed
            .next("event written while following")
            .contains("\"two\"")
    );
    followed.quiet_for(4);
    let said = followed.said();
    assert_eq!(
        said.matches(&format!("no log group yet for {quiet}"))
            .count(),
        1,
        "{said}"
    );
}

/// Where Live Tail is refused (access denied, the account's session limit), following falls
/// back to polling, says so once, and new events still arrive.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_falls_back_to_polling_when_live_tail_is_refused_and_says_so_once() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    for (label, code) in [
        ("denied", "AccessDeniedException"),
        ("limit", "LimitExceededException"),
        ("unknown", "UnknownOperationException"),
    ] {
        let region = "me-south-1";
        let f = format!("{}-poll", moto::unique(label));
        put_logs(region, &f, "a", &[(1, "one".into())]).await;
        let proxy = FaultProxy::start(moto::url());
        proxy.add(Rule {
            region: region.into(),
            service: Some("logs".into()),
            operation: Some("StartLiveTail".into()),
            fault: Fault::Code(400, code),
            remaining: None,
        });
        let lops = Lops::new(&proxy.url);
        let followed = Followed::start(
            &lops,
            &[
                "logs",
                &f,
                "--regions",
                region,
                "--since",
                "30m",
                "--follow",
            ],
        );
        assert!(followed.next("first").contains("one"), "{label}");
        await_live_tail(&proxy, region);
        // Written now: polling reads from where its last read ended (less 10 s).
        put_logs(region, &f, "b", &[(599, "two".into())]).await;
        assert!(followed.next("polled event").contains("two"), "{label}");
        // A few polls later: still one attempt at Live Tail, and one notice.
        followed.quiet_for(5);
        assert_eq!(proxy.calls(region, "logs", "StartLiveTail"), 1, "{label}");
        assert!(
            proxy.calls(region, "logs", "FilterLogEvents") >= 3,
            "{label}"
        );
        let said = followed.said();
        assert_eq!(
            said.matches("Live Tail is not available").count(),
            1,
            "{label}: {said}"
        );
        assert!(said.contains("polling"), "{label}: {said}");
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn following_with_a_region_that_never_answered_ends_partial() {
    let (ok, denied) = ("me-south-1", "me-central-1");
    let f = format!("{}-tail", moto::unique("partial"));
    put_logs(
        ok,
        &f,
        "first",
        &[(1, "from the region that answers".into())],
    )
    .await;
    put_logs(denied, &f, "first", &[(1, "never read".into())]).await;
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: denied.into(),
        service: Some("logs".into()),
        operation: None,
        fault: crate::support::proxy::Fault::Code(403, "AccessDeniedException"),
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let regions = format!("{ok},{denied}");
    let mut followed = Followed::json(&lops, &f, &regions);
    assert!(
        followed
            .next("first event")
            .contains("from the region that answers")
    );
    followed.quiet_for(2);
    // SIGTERM (a supervisor, `timeout`) ends a follow as Ctrl-C does: with its own exit code,
    // not killed by the signal (143).
    std::process::Command::new("kill")
        .args(["-TERM", &followed.child.id().to_string()])
        .status()
        .expect("kill -TERM");
    let status = followed.child.wait().expect("wait");
    assert_eq!(status.code(), Some(3));
}

/// Following two regions, one whose Logs hangs: the other's logs are printed at once (not when
/// the hung call times out, 10 s and its retry later), the hung one said to come once it
/// answers; Ctrl-C before then prints what answered and names the region that did not (3).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_whose_logs_hang_does_not_hold_back_another_while_following() {
    use crate::support::proxy::Fault;
    let (good, hung) = ("me-south-1", "ap-southeast-3");
    let f = format!("{}-held", moto::unique("tail"));
    put_logs(good, &f, "a", &[(1, "from the region that answers".into())]).await;
    let proxy = logs_failing(hung, Fault::Hang);
    let lops = Lops::new(&proxy.url);
    let regions = format!("{good},{hung}");
    let started = std::time::Instant::now();
    let followed = Followed::json(&lops, &f, &regions);
    assert!(
        followed
            .next("the answering region's event")
            .contains("from the region that answers")
    );
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !followed
        .said()
        .contains(&format!("{hung}: no answer yet; its logs since"))
    {
        assert!(std::time::Instant::now() < deadline, "{}", followed.said());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    drop(followed);

    // Stopped while waiting on the hung region: what answered is printed, and which did not.
    let mut followed = Followed::json(&lops, &f, &regions);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while proxy.calls(hung, "logs", "FilterLogEvents") == 0
        || proxy.calls(good, "logs", "FilterLogEvents") == 0
    {
        assert!(std::time::Instant::now() < deadline, "{}", followed.said());
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(700));
    let status = followed.interrupt();
    assert!(
        followed
            .next("what answered before Ctrl-C")
            .contains("from the region that answers")
    );
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(5);
    while !followed.said().contains("stopped before") && std::time::Instant::now() < deadline {
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    let said = followed.said();
    assert_eq!(status.code(), Some(3), "{said}");
    assert!(
        said.contains(&format!("stopped before {hung} answered")),
        "{said}"
    );
}

/// A region whose logs cannot be read at all while another follows: its failure is said once
/// — by the first read — not again by the follow that keeps trying.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_failing_from_the_start_is_said_once_while_following() {
    use crate::support::proxy::Fault;
    let (good, bad) = ("cn-north-1", "il-central-1");
    let f = format!("{}-once", moto::unique("tail"));
    put_logs(good, &f, "a", &[(1, "one".into())]).await;
    let proxy = logs_failing(bad, Fault::Status(503));
    let lops = Lops::new(&proxy.url);
    let followed = Followed::start(
        &lops,
        &[
            "logs",
            &f,
            "--regions",
            &format!("{good},{bad}"),
            "--since",
            "30m",
            "--follow",
            "--json",
        ],
    );
    assert!(followed.next("the good region's event").contains("\"one\""));
    // The follow has tried the failing region again since the first read.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while proxy.calls(bad, "logs", "StartLiveTail") + proxy.calls(bad, "logs", "FilterLogEvents")
        < 3
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}",
            proxy.all_calls()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_secs(1));
    let said = followed.said();
    assert_eq!(said.matches(bad).count(), 1, "{said}");
    // And once on stdout, as a record of its own (`--json`).
    let unread = followed.not_read();
    assert_eq!(
        unread.iter().filter(|l| l.contains(bad)).count(),
        1,
        "{unread:?}"
    );
}

/// Logs failing from the very start (503) in the only region: `--follow` does not give up at
/// its first read (as the dashboard's pane does not): it says so and, once Logs answers, reads
/// the whole window `--since` asked (not only from the failed read on: its history is not lost
/// to the outage) and prints what was written.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_whose_first_read_fails_goes_on_and_reads_the_window_again() {
    use crate::support::proxy::Fault;
    let region = "ap-southeast-3";
    let f = format!("{}-late", moto::unique("tail"));
    put_logs(region, &f, "a", &[(1, "written before".into())]).await;
    let written = (Utc::now() - TimeDelta::minutes(9)).timestamp_millis();
    let proxy = logs_failing(region, Fault::Status(503));
    proxy.watch(region, "FilterLogEvents");
    let lops = Lops::new(&proxy.url);
    let followed = Followed::json(&lops, &f, region);
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while !followed.said().contains("following goes on") {
        assert!(std::time::Instant::now() < deadline, "{}", followed.said());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    assert!(
        !followed.said().contains("no log events"),
        "{}",
        followed.said()
    );
    let failed = proxy.requests(region, "FilterLogEvents").len();
    proxy.heal();
    assert!(
        followed
            .next("the event once Logs answers")
            .contains("written before")
    );
    // Read from where --since (15 minutes) began, not from the failed read's end (moto's Live
    // Tail replays the group, so the line alone does not tell): the read of what the session
    // does not stream comes once it opened.
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while proxy.requests(region, "FilterLogEvents").len() == failed
        && std::time::Instant::now() < deadline
    {
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let starts: Vec<i64> = proxy.requests(region, "FilterLogEvents")[failed..]
        .iter()
        .filter_map(|(_, body)| {
            serde_json::from_str::<serde_json::Value>(body).ok()?["startTime"].as_i64()
        })
        .collect();
    assert!(
        starts.iter().any(|t| *t < written),
        "{starts:?} against {written}"
    );
}

/// Ctrl-C while the first read waits on a Logs that does not answer: lops stops at once, not
/// when the call times out.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_while_a_read_hangs_stops_at_once() {
    use crate::support::proxy::Fault;
    let region = "ap-southeast-3";
    let f = format!("{}-hung", moto::unique("tail"));
    let proxy = logs_failing(region, Fault::Hang);
    let lops = Lops::new(&proxy.url);
    let started = std::time::Instant::now();
    let (code, stderr) =
        crate::restore::interrupted(&lops, &["logs", &f, "--regions", region], || {
            proxy.calls(region, "logs", "FilterLogEvents") >= 1
        });
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "stopped before the first read answered ({region} had not answered): nothing printed"
        )),
        "{stderr}"
    );
    // The default operation timeout is 10 s: well before it.
    assert!(
        started.elapsed() < std::time::Duration::from_secs(8),
        "{:?}",
        started.elapsed()
    );
    // Following, nothing having answered: not "all well" (0) — a failure, the region named.
    let before = proxy.calls(region, "logs", "FilterLogEvents");
    let (code, stderr) = crate::restore::interrupted(
        &lops,
        &["logs", &f, "--regions", region, "--follow"],
        || proxy.calls(region, "logs", "FilterLogEvents") > before,
    );
    assert_eq!(code, 1, "{stderr}");
    assert!(
        stderr.contains(&format!(
            "stopped before the first read answered ({region} had not answered)"
        )),
        "{stderr}"
    );
}

/// Ctrl-C while one region's read hangs and another's answered: what answered is printed, the
/// region that did not is named, exit 3 (it said "nothing printed", exit 1, and named none).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn ctrl_c_prints_what_answered_and_names_the_region_that_did_not() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let (good, hung) = ("me-south-1", "ap-southeast-3");
    let f = format!("{}-half", moto::unique("tail"));
    put_logs(good, &f, "a", &[(1, "from the region that answers".into())]).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: hung.into(),
        service: Some("logs".into()),
        operation: None,
        fault: Fault::Hang,
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let child = lops
        .command(&["logs", &f, "--regions", &format!("{good},{hung}")])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while proxy.calls(good, "logs", "FilterLogEvents") < 1
        || proxy.calls(hung, "logs", "FilterLogEvents") < 1
    {
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}",
            proxy.all_calls()
        );
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    let out = child.wait_with_output().expect("wait");
    let (stdout, stderr) = (
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr),
    );
    assert_eq!(out.status.code(), Some(3), "{stdout}\n{stderr}");
    assert!(stdout.contains("from the region that answers"), "{stdout}");
    assert!(
        stderr.contains(&format!("stopped before {hung}")),
        "{stderr}"
    );
}

/// A read that times out says which setting would help, as the status reads do. (A short
/// timeout on purpose: the test is about the message, not the default.)
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logs_read_that_times_out_names_the_setting() {
    use crate::support::proxy::Fault;
    let region = "ap-southeast-3";
    let f = format!("{}-slow", moto::unique("tail"));
    let proxy = logs_failing(region, Fault::Hang);
    let lops = Lops::new(&proxy.url);
    let config = lops.config("[timeouts]\noperation_secs = 1\nmax_attempts = 1\n");
    let run = lops.run(&[
        "logs",
        &f,
        "--regions",
        region,
        "--config",
        &config.display().to_string(),
    ]);
    run.assert_exit(1);
    assert!(
        run.stderr.contains("timed out") && run.stderr.contains("raise [timeouts] operation_secs"),
        "{}",
        run.stderr
    );
    // Which function's read it was (several may be read at once).
    assert!(
        run.stderr
            .contains(&format!("lops: {region}: {f}'s logs not read: timed out")),
        "{}",
        run.stderr
    );
}

/// A proxy to moto whose CloudWatch Logs in `region` answers with `fault` until healed.
fn logs_failing(
    region: &str,
    fault: crate::support::proxy::Fault,
) -> crate::support::proxy::FaultProxy {
    let proxy = crate::support::proxy::FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: region.into(),
        service: Some("logs".into()),
        operation: None,
        fault,
        remaining: None,
    });
    proxy
}

/// A region that answers only after the others were printed, and then has nothing new (polled:
/// Live Tail refused there): once it answers it is no longer counted as failing — a follow
/// stopped then ends 0, not 3 for a region that merely answered late.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_region_that_answers_late_and_has_nothing_new_ends_the_follow_well() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let (good, late) = ("me-south-1", "ap-southeast-3");
    let f = format!("{}-quiet", moto::unique("tail"));
    put_logs(good, &f, "a", &[(1, "from the region that answers".into())]).await;
    put_logs(late, &f, "a", &[(-3600, "long before the window".into())]).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: late.into(),
        service: Some("logs".into()),
        operation: Some("FilterLogEvents".into()),
        fault: Fault::HoldUntil("late"),
        remaining: Some(1),
    });
    proxy.add(Rule {
        region: late.into(),
        service: Some("logs".into()),
        operation: Some("StartLiveTail".into()),
        fault: Fault::Code(403, "AccessDeniedException"),
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let mut followed = Followed::json(&lops, &f, &format!("{good},{late}"));
    assert!(
        followed
            .next("the answering region's event")
            .contains("from the region that answers")
    );
    proxy.release("late");
    // Polled again since (answered, nothing in the window).
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(30);
    while proxy.calls(late, "logs", "FilterLogEvents") < 3 {
        assert!(
            std::time::Instant::now() < deadline,
            "{:#?}\n{}",
            proxy.all_calls(),
            followed.said()
        );
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    std::thread::sleep(std::time::Duration::from_millis(500));
    let status = followed.interrupt();
    assert_eq!(status.code(), Some(0), "{}", followed.said());
}

/// One profile of several without credentials fails on its own in `logs` too: the others'
/// events are printed, its read named with how to give it credentials, exit 3 (every read was
/// refused as a bad `--filter`, exit 2, nothing printed, no filter given).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_without_credentials_fails_alone_in_logs() {
    let region = "me-south-1";
    let f = format!("{}-keys", moto::unique("tail"));
    put_logs(
        region,
        &f,
        "a",
        &[(1, "read through the profile with keys".into())],
    )
    .await;
    let lops = Lops::with_a_profile_without_credentials(moto::url());
    let run = lops.run(&[
        "logs",
        &f,
        "--profile",
        "default,nocreds",
        "--regions",
        region,
        "--since",
        "30m",
    ]);
    run.assert_exit(3);
    assert!(
        run.stdout.contains("read through the profile with keys"),
        "{}\n{}",
        run.stdout,
        run.stderr
    );
    assert!(
        run.stderr
            .contains("no AWS credentials for profile 'nocreds'")
            && !run.stderr.contains("--filter"),
        "{}",
        run.stderr
    );
}

/// With `--json`, what was not read is on stdout too, one ndjson record each beside the
/// events (it was only on stderr: a script saw exit 3 and could not tell what was missing).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_read_that_failed_is_a_record_of_the_json_output() {
    let region = "me-south-1";
    let f = format!("{}-there", moto::unique("tail"));
    let missing = format!("{}-nogroup", moto::unique("tail"));
    put_logs(region, &f, "a", &[(1, "an event that was read".into())]).await;
    let lops = Lops::new(moto::url());
    let run = lops.run(&[
        "logs",
        &format!("{f},{missing}"),
        "--regions",
        region,
        "--since",
        "30m",
        "--json",
    ]);
    run.assert_exit(3);
    let records: Vec<Value> = run
        .stdout
        .lines()
        .map(|l| serde_json::from_str(l).expect("ndjson"))
        .collect();
    assert!(
        records
            .iter()
            .any(|r| r["message"] == "an event that was read"),
        "{}",
        run.stdout
    );
    let failed: Vec<&Value> = records.iter().filter_map(|r| r.get("not_read")).collect();
    assert_eq!(failed.len(), 1, "{}", run.stdout);
    assert_eq!(failed[0]["function"], missing.as_str());
    assert_eq!(failed[0]["scope"], region);
    assert!(
        failed[0]["error"]
            .as_str()
            .is_some_and(|e| e.contains("not found")),
        "{}",
        run.stdout
    );
}

/// A region whose window `--since` asked never answers (FilterLogEvents hangs) while its Live
/// Tail session opens: the follow stopped then ends 3 and names it (the session streaming
/// cleared it: exit 0, the hour of history missing). A function with no log group, said by a
/// `not_read` record, ends it 3 too (it ended 0).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_follow_whose_window_was_never_read_ends_partial_and_says_so() {
    use crate::support::proxy::{Fault, FaultProxy, Rule};
    let (good, hung) = ("me-south-1", "af-south-1");
    let f = format!("{}-owed", moto::unique("tail"));
    put_logs(good, &f, "a", &[(1, "from the region that answers".into())]).await;
    put_logs(hung, &f, "a", &[(1, "never read".into())]).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(Rule {
        region: hung.into(),
        service: Some("logs".into()),
        operation: Some("FilterLogEvents".into()),
        fault: Fault::Hang,
        remaining: None,
    });
    let lops = Lops::new(&proxy.url);
    let mut followed = Followed::json(&lops, &f, &format!("{good},{hung}"));
    assert!(
        followed
            .next("the answering region's event")
            .contains("from the region that answers")
    );
    await_live_tail(&proxy, hung);
    std::thread::sleep(std::time::Duration::from_secs(1));
    let status = followed.interrupt();
    let said = followed.said();
    assert_eq!(status.code(), Some(3), "{said}");
    assert!(
        said.contains(&format!("{hung}: {f}: its logs since")) && said.contains("were never read"),
        "{said}"
    );

    let nosuch = format!("{}-typo", moto::unique("tail"));
    let lops = Lops::new(moto::url());
    let mut followed = Followed::json(&lops, &format!("{f},{nosuch}"), good);
    followed.next("the event of the function that has logs");
    let deadline = std::time::Instant::now() + std::time::Duration::from_secs(20);
    while followed.not_read().is_empty() {
        assert!(std::time::Instant::now() < deadline, "{}", followed.said());
        std::thread::sleep(std::time::Duration::from_millis(100));
    }
    let status = followed.interrupt();
    assert_eq!(status.code(), Some(3), "{}", followed.said());

    // Two functions of one region, one's window never read while the other's is: the other
    // answering settles only its own (it settled the region's).
    let slow = format!("{}-slow", moto::unique("tail"));
    put_logs(good, &slow, "a", &[(1, "slow one".into())]).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.fail_when(good, "FilterLogEvents", &slow, Fault::Hang);
    let lops = Lops::new(&proxy.url);
    let mut followed = Followed::json(&lops, &format!("{f},{slow}"), good);
    followed.next("the answering function's event");
    // Stopped before the slow read times out: only the slow one is owed (the other's first
    // read brought its window; it was named too).
    std::thread::sleep(std::time::Duration::from_secs(1));
    let status = followed.interrupt();
    let said = followed.said();
    assert_eq!(status.code(), Some(3), "{said}");
    assert!(said.contains(&format!("{slow}: its logs since")), "{said}");
    assert!(!said.contains(&format!("{f}: its logs since")), "{said}");
    let unread = followed.not_read();
    assert!(
        unread
            .iter()
            .any(|l| l.contains(&slow) && l.contains("never read")),
        "{unread:?}"
    );
}
