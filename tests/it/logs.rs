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
async fn put_logs(region: &str, function: &str, stream: &str, messages: &[(i64, String)]) {
    let logs = aws_sdk_cloudwatchlogs::Client::new(&sdk_config(moto::url(), region).await);
    let group = format!("/aws/lambda/{function}");
    let _ = logs.create_log_group().log_group_name(&group).send().await;
    logs.create_log_stream()
        .log_group_name(&group)
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
        .log_group_name(&group)
        .log_stream_name(stream)
        .set_log_events(Some(events))
        .send()
        .await
        .expect("put");
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
    let run = lops.run(&["logs", "no-such-function-here", "--regions", "ap-east-1"]);
    run.assert_exit(2);
    assert!(
        run.stderr
            .contains("no log group /aws/lambda/no-such-function-here"),
        "{}",
        run.stderr
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn follow_prints_new_events_once_and_stops_on_ctrl_c() {
    use std::io::{BufRead, BufReader};
    let region = "me-south-1";
    let f = format!("{}-tail", moto::unique("follow"));
    put_logs(region, &f, "first", &[(1, "before follow".into())]).await;
    let lops = Lops::new(moto::url());
    let mut child = lops
        .command(&[
            "logs",
            &f,
            "--regions",
            region,
            "--since",
            "30m",
            "--follow",
            "--json",
        ])
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .expect("spawn");
    let stdout = child.stdout.take().expect("stdout");
    let (tx, rx) = std::sync::mpsc::channel();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = tx.send(line);
        }
    });
    let next = |what: &str| {
        rx.recv_timeout(std::time::Duration::from_secs(15))
            .unwrap_or_else(|_| panic!("no {what}"))
    };
    assert!(next("first event").contains("before follow"));
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
        .log_group_name(&group)
        .log_stream_name("second")
        .log_events(event)
        .send()
        .await
        .expect("put");
    assert!(next("followed event").contains("while following"));
    // Several more polls pass: nothing is printed twice.
    std::thread::sleep(std::time::Duration::from_secs(5));
    assert!(rx.try_recv().is_err(), "an event was printed twice");
    std::process::Command::new("kill")
        .args(["-INT", &child.id().to_string()])
        .status()
        .expect("kill -INT");
    let status = child.wait().expect("wait");
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

    let source = lops::provider::aws::AwsRegion::new(tui::clients(moto::url(), region).await);
    let sources = vec![std::sync::Arc::new(source)];
    let state = tui::state(&sources);
    let (keys, run) = tui::start(sources, state);
    tui::filter(&keys, &f);
    tokio::time::sleep(Duration::from_secs(2)).await;
    tui::press(&keys, KeyCode::Char('l'));
    // The first read happens on the next message; ticks come every second.
    tokio::time::sleep(Duration::from_secs(3)).await;
    tui::press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    let pane = state.log_pane.expect("the log pane is open");
    assert_eq!(pane.function, f);
    let got: Vec<&str> = pane.lines.iter().map(|l| l.message.as_str()).collect();
    let want: Vec<String> = messages.iter().map(|(_, m)| m.clone()).collect();
    assert_eq!(got, want, "every event once, in order");
    assert!(pane.error.is_none());
}
