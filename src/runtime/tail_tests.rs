//! Sharding, and how following behaves around sessions, failed reads and missing groups
//! (a scripted source: the AWS path is tested on moto in tests/it/logs.rs).

use super::*;

#[test]
fn twenty_five_groups_make_three_sessions() {
    let functions: Vec<String> = (0..25).map(|i| format!("f{i}")).collect();
    let (sessions, rest) = shards(&functions);
    assert_eq!(
        sessions.iter().map(Vec::len).collect::<Vec<_>>(),
        [10, 10, 5]
    );
    assert_eq!(sessions.concat(), functions);
    assert!(rest.is_empty());
}

#[test]
fn beyond_fifteen_sessions_the_rest_is_polled() {
    let functions: Vec<String> = (0..163).map(|i| format!("f{i}")).collect();
    let (sessions, rest) = shards(&functions);
    assert_eq!(sessions.len(), SESSIONS_PER_REGION);
    assert_eq!(rest.len(), 13);
    assert_eq!(rest[0], "f150");
}

/// A log source that records what it was asked and answers from a script: which groups
/// exist, how many reads fail first, whether Live Tail is served.
#[derive(Default)]
struct Scripted {
    calls: std::sync::Mutex<Vec<Call>>,
    groups: std::sync::Mutex<BTreeSet<String>>,
    failing_reads: std::sync::Mutex<u32>,
    no_live_tail: std::sync::atomic::AtomicBool,
    /// Every session fails to open (a 500), as in a Live Tail outage.
    failing_tail: bool,
    /// The endpoint does not know Live Tail.
    unknown_tail: bool,
    /// Sessions end right after their first update (as moto's do).
    short_sessions: bool,
}

#[derive(Debug, Clone, PartialEq)]
enum Call {
    Tail(Vec<String>),
    Read(String, i64),
}

fn line(function: &str, message: &str) -> crate::loglines::LogLine {
    crate::loglines::LogLine {
        time: chrono::Utc::now(),
        region: "r".into(),
        function: function.into(),
        stream: "s".into(),
        message: message.into(),
        event_id: String::new(),
        report: None,
        failure: None,
    }
}

impl Scripted {
    fn with_groups(groups: &[&str]) -> Self {
        let s = Scripted::default();
        s.groups
            .lock()
            .unwrap()
            .extend(groups.iter().map(|g| g.to_string()));
        s
    }
    fn calls(&self) -> Vec<Call> {
        self.calls.lock().unwrap().clone()
    }
}

impl LogSource for Scripted {
    async fn log_events(
        &self,
        function: &str,
        start_ms: i64,
        _end_ms: i64,
        _filter: Option<&str>,
    ) -> Result<Vec<crate::loglines::LogLine>, ProviderError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Read(function.into(), start_ms));
        if !self.groups.lock().unwrap().contains(function) {
            return Err(ProviderError::NotFound(format!("no group for {function}")));
        }
        {
            let mut failing = self.failing_reads.lock().unwrap();
            if *failing > 0 {
                *failing -= 1;
                return Err(ProviderError::Service("HTTP 500".into()));
            }
        }
        Ok(vec![line(function, "stored")])
    }

    async fn tail(
        &self,
        functions: &[String],
        _filter: Option<&str>,
        tx: &mpsc::Sender<TailEvent>,
    ) -> Result<(), ProviderError> {
        self.calls
            .lock()
            .unwrap()
            .push(Call::Tail(functions.to_vec()));
        if self.no_live_tail.load(std::sync::atomic::Ordering::Relaxed) {
            return Err(ProviderError::AccessDenied("logs:StartLiveTail".into()));
        }
        if self.unknown_tail {
            return Err(ProviderError::Unsupported("StartLiveTail".into()));
        }
        if self.failing_tail {
            return Err(ProviderError::Service("HTTP 500 from the server".into()));
        }
        if functions
            .iter()
            .any(|f| !self.groups.lock().unwrap().contains(f))
        {
            return Err(ProviderError::NotFound("a log group".into()));
        }
        let _ = tx.send(TailEvent::Started).await;
        let lines = functions.iter().map(|f| line(f, "live")).collect();
        let _ = tx.send(TailEvent::Lines(lines)).await;
        if self.short_sessions {
            return Ok(());
        }
        // An open session: it runs until it is stopped.
        std::future::pending::<()>().await;
        Ok(())
    }
}

/// Follows `functions` on `source` and hands every update to `until` until it says stop.
async fn follow_until(
    source: std::sync::Arc<Scripted>,
    functions: &[&str],
    since_ms: i64,
    mut until: impl FnMut(&Update, &Scripted) -> bool,
) -> Vec<Update> {
    let (tx, mut rx) = mpsc::channel(64);
    let functions: Vec<String> = functions.iter().map(|f| f.to_string()).collect();
    let run = {
        let source = source.clone();
        tokio::spawn(async move { follow(&*source, functions, None, since_ms, tx).await })
    };
    let mut seen = Vec::new();
    while let Some(update) = rx.recv().await {
        let done = until(&update, &source);
        seen.push(update);
        if done {
            break;
        }
    }
    drop(rx);
    tokio::time::timeout(Duration::from_secs(5), run)
        .await
        .expect("following stops when its receiver goes")
        .unwrap();
    seen
}

/// (function, message, "read" or "streamed") of every line the updates brought.
fn messages(updates: &[Update]) -> Vec<(String, String, &'static str)> {
    updates
        .iter()
        .flat_map(|u| match u {
            Update::Lines(lines, source) => lines
                .iter()
                .map(|l| {
                    let how = match source {
                        Source::Read => "read",
                        Source::Streamed(_) => "streamed",
                    };
                    (l.function.clone(), l.message.clone(), how)
                })
                .collect(),
            _ => Vec::new(),
        })
        .collect()
}

#[tokio::test(start_paused = true)]
async fn the_session_opens_before_the_read_of_what_came_before_it() {
    let source = std::sync::Arc::new(Scripted::with_groups(&["a"]));
    let since = now_ms() - 60_000;
    let mut batches = 0;
    let updates = follow_until(source.clone(), &["a"], since, |u, _| {
        batches += usize::from(matches!(u, Update::Lines(..)));
        batches == 2
    })
    .await;
    // Nothing written between the read and the session can be lost: the session is open
    // (Started) before the read of everything since the start is made.
    assert_eq!(
        source.calls(),
        [
            Call::Tail(vec!["a".into()]),
            Call::Read("a".into(), since - OVERLAP_MS)
        ]
    );
    assert_eq!(updates[0], Update::Live(vec!["a".into()]));
    let mut got = messages(&updates);
    got.sort_by_key(|(_, m, _)| m.clone());
    assert_eq!(
        got,
        [
            ("a".into(), "live".into(), "streamed"),
            ("a".into(), "stored".into(), "read")
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn a_failed_read_of_the_gap_is_made_again_while_the_session_runs() {
    let source = std::sync::Arc::new(Scripted::with_groups(&["a"]));
    *source.failing_reads.lock().unwrap() = 2;
    let since = now_ms() - 60_000;
    let updates = follow_until(source.clone(), &["a"], since, |u, _| {
        matches!(u, Update::Lines(_, Source::Read))
    })
    .await;
    let failed = updates
        .iter()
        .filter(|u| matches!(u, Update::Failed(_)))
        .count();
    assert_eq!(failed, 2, "{updates:?}");
    // The same range each time, in the one session that stayed open.
    assert_eq!(
        source.calls(),
        [
            Call::Tail(vec!["a".into()]),
            Call::Read("a".into(), since - OVERLAP_MS),
            Call::Read("a".into(), since - OVERLAP_MS),
            Call::Read("a".into(), since - OVERLAP_MS),
        ]
    );
    assert!(messages(&updates).contains(&("a".into(), "stored".into(), "read")));
}

#[tokio::test(start_paused = true)]
async fn a_function_without_a_log_group_does_not_stop_the_others_and_joins_when_it_appears() {
    let source = std::sync::Arc::new(Scripted::with_groups(&["a"]));
    let since = now_ms() - 60_000;
    let mut appeared = false;
    let updates = follow_until(source.clone(), &["a", "b"], since, |u, s| {
        if matches!(u, Update::Live(f) if f == &["a".to_string()]) && !appeared {
            // b is invoked for the first time: its group appears.
            s.groups.lock().unwrap().insert("b".into());
            appeared = true;
        }
        messages(std::slice::from_ref(u))
            .iter()
            .any(|(f, m, _)| f == "b" && m == "live")
    })
    .await;
    assert!(updates.contains(&Update::NoLogGroup(vec!["b".into()])));
    let calls = source.calls();
    let tails: Vec<&Call> = calls
        .iter()
        .filter(|c| matches!(c, Call::Tail(_)))
        .collect();
    assert_eq!(
        tails,
        [
            &Call::Tail(vec!["a".into(), "b".into()]),
            &Call::Tail(vec!["a".into()]),
            &Call::Tail(vec!["a".into(), "b".into()]),
        ]
    );
    // b's read when it appeared reaches back to the start: nothing it wrote is lost.
    assert!(calls.contains(&Call::Read("b".into(), since - OVERLAP_MS)));
    let got = messages(&updates);
    assert!(got.contains(&("a".into(), "live".into(), "streamed")));
    assert!(got.contains(&("b".into(), "stored".into(), "read")));
}

#[tokio::test(start_paused = true)]
async fn polling_moves_each_function_on_by_itself() {
    let source = std::sync::Arc::new(Scripted {
        no_live_tail: true.into(),
        ..Scripted::with_groups(&["a"])
    });
    let since = now_ms() - 3_600_000;
    let mut polls = 0;
    let updates = follow_until(source.clone(), &["a", "b"], since, |u, _| {
        if matches!(u, Update::Lines(..)) {
            polls += 1;
        }
        polls == 4
    })
    .await;
    assert_eq!(
        updates
            .iter()
            .filter(|u| matches!(u, Update::Polling { .. }))
            .count(),
        1
    );
    let reads_of = |f: &str| -> Vec<i64> {
        source
            .calls()
            .iter()
            .filter_map(|c| match c {
                Call::Read(g, from) if g == f => Some(*from),
                _ => None,
            })
            .collect()
    };
    let a = reads_of("a");
    assert_eq!(a.len(), 4);
    assert_eq!(a[0], since - OVERLAP_MS);
    // b has no group: a's reads move on all the same, and b is looked for once a minute.
    assert!(a[1..].iter().all(|from| *from > since + 3_000_000), "{a:?}");
    assert_eq!(reads_of("b").len(), 1);
}

#[tokio::test(start_paused = true)]
async fn a_live_tail_that_keeps_failing_still_brings_events_by_reading_between_attempts() {
    let source = std::sync::Arc::new(Scripted {
        failing_tail: true,
        ..Scripted::with_groups(&["a"])
    });
    let since = now_ms() - 60_000;
    let mut reads = 0;
    let updates = follow_until(source.clone(), &["a"], since, |u, _| {
        reads += usize::from(matches!(u, Update::Lines(_, Source::Read)));
        reads == 3
    })
    .await;
    assert!(updates.iter().any(|u| matches!(u, Update::Reconnecting(_))));
    let froms: Vec<i64> = source
        .calls()
        .iter()
        .filter_map(|c| match c {
            Call::Read(_, from) => Some(*from),
            _ => None,
        })
        .collect();
    // The first read reaches back to the start; the next ones from where the last ended.
    assert_eq!(froms[0], since - OVERLAP_MS);
    assert!(froms[1..].iter().all(|f| *f > since), "{froms:?}");
}

#[tokio::test(start_paused = true)]
async fn with_sessions_that_end_at_once_a_group_that_appears_is_still_found() {
    let source = std::sync::Arc::new(Scripted {
        short_sessions: true,
        ..Scripted::with_groups(&["a"])
    });
    let since = now_ms() - 60_000;
    let updates = follow_until(source.clone(), &["a", "b"], since, |u, s| {
        if matches!(u, Update::NoLogGroup(_)) {
            s.groups.lock().unwrap().insert("b".into());
        }
        messages(std::slice::from_ref(u))
            .iter()
            .any(|(f, m, _)| f == "b" && m == "stored")
    })
    .await;
    assert!(updates.contains(&Update::NoLogGroup(vec!["b".into()])));
    // Found by reading from the start: nothing it wrote before is lost.
    assert!(
        source
            .calls()
            .contains(&Call::Read("b".into(), since - OVERLAP_MS))
    );
}

#[tokio::test(start_paused = true)]
async fn a_refused_live_tail_is_asked_for_again_while_polling_and_taken_when_it_comes() {
    let source = std::sync::Arc::new(Scripted {
        no_live_tail: true.into(),
        ..Scripted::with_groups(&["a"])
    });
    let since = now_ms() - 60_000;
    let started = tokio::time::Instant::now();
    let updates = follow_until(source.clone(), &["a"], since, |u, s| {
        if matches!(u, Update::Polling { .. }) {
            // The refusal passes (a permission granted, a session freed).
            s.no_live_tail
                .store(false, std::sync::atomic::Ordering::Relaxed);
        }
        matches!(u, Update::Lines(lines, _) if lines.iter().any(|l| l.message == "live"))
    })
    .await;
    let tails = source
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Tail(_)))
        .count();
    assert_eq!(tails, 2, "{:?}", source.calls());
    assert!(started.elapsed() >= LIVE_TAIL_RETRY);
    // Polled meanwhile, and the fallback said once.
    assert!(
        source
            .calls()
            .iter()
            .filter(|c| matches!(c, Call::Read(..)))
            .count()
            > 10
    );
    assert_eq!(
        updates
            .iter()
            .filter(|u| matches!(u, Update::Polling { .. }))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn a_refusal_after_live_tail_came_back_is_said_again() {
    let source = std::sync::Arc::new(Scripted {
        no_live_tail: true.into(),
        short_sessions: true,
        ..Scripted::with_groups(&["a"])
    });
    let since = now_ms() - 60_000;
    let mut polling = 0;
    let updates = follow_until(source.clone(), &["a"], since, |u, s| {
        use std::sync::atomic::Ordering::Relaxed;
        match u {
            Update::Polling { .. } => {
                polling += 1;
                s.no_live_tail.store(false, Relaxed);
            }
            // Live again: then refused again when the session is reopened.
            Update::Live(_) => s.no_live_tail.store(true, Relaxed),
            _ => {}
        }
        polling == 2
    })
    .await;
    assert_eq!(
        updates
            .iter()
            .filter(|u| matches!(u, Update::Live(_)))
            .count(),
        1
    );
}

#[tokio::test(start_paused = true)]
async fn an_endpoint_without_live_tail_is_polled_for_good_and_asked_once() {
    let source = std::sync::Arc::new(Scripted {
        unknown_tail: true,
        ..Scripted::with_groups(&["a"])
    });
    let started = tokio::time::Instant::now();
    follow_until(source.clone(), &["a"], now_ms(), |_, _| {
        started.elapsed() > LIVE_TAIL_RETRY * 3
    })
    .await;
    let tails = source
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Tail(_)))
        .count();
    assert_eq!(tails, 1);
}

/// Sessions that each end as soon as they open (moto's do): after a few in a row following
/// polls, said once with why, instead of reopening them after a pause that grows to half a
/// minute (events came that much later under a title that said Live Tail).
#[tokio::test(start_paused = true)]
async fn sessions_that_keep_ending_at_once_give_way_to_polling_said_once() {
    let source = std::sync::Arc::new(Scripted {
        short_sessions: true,
        ..Scripted::with_groups(&["a"])
    });
    let since = now_ms() - 60_000;
    let mut polled_since = None;
    let updates = follow_until(source.clone(), &["a"], since, |u, s| {
        let reads = || {
            s.calls()
                .iter()
                .filter(|c| matches!(c, Call::Read(..)))
                .count()
        };
        if matches!(u, Update::Polling { .. }) && polled_since.is_none() {
            polled_since = Some(reads());
        }
        // Past the first retry of Live Tail (it ends at once again), polling still: said
        // once, not again at each retry.
        polled_since.is_some_and(|n| reads() >= n + 1000)
    })
    .await;
    let why: Vec<&String> = updates
        .iter()
        .filter_map(|u| match u {
            Update::Polling { why, .. } => Some(why),
            _ => None,
        })
        .collect();
    assert_eq!(why.len(), 1, "{updates:?}");
    assert!(
        why[0].contains("ended as soon as it opened (5 in a row)"),
        "{why:?}"
    );
    let tails = source
        .calls()
        .iter()
        .filter(|c| matches!(c, Call::Tail(_)))
        .count();
    assert!(tails > ENDS_AT_ONCE as usize, "asked for again: {tails}");
}
