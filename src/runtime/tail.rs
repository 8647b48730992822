//! Following logs, for `lops logs --follow` and the dashboard's log pane alike: CloudWatch Logs
//! Live Tail where it is served (groups in sessions of 10, at most 15 sessions per region, each
//! reopened with a small overlap read when it ends), polling FilterLogEvents where it is not
//! (refused, over the account's session limit, an endpoint that does not serve it).

use std::time::{Duration, Instant};

use tokio::sync::mpsc;

use crate::provider::{LogSource, ProviderError, TailEvent};

/// Live Tail's limits: log groups per session, sessions per account and region.
pub const GROUPS_PER_SESSION: usize = 10;
pub const SESSIONS_PER_REGION: usize = 15;
/// How far back a read reaches for events that arrived late, or while no session was open.
pub const OVERLAP_MS: i64 = 10_000;
/// How often a function is polled where Live Tail is not available.
pub const POLL_EVERY: Duration = Duration::from_secs(2);
/// A session that lasted less than this is reopened after a growing pause (up to 30 s).
const SHORT_SESSION: Duration = Duration::from_secs(10);

pub use crate::provider::FollowUpdate as Update;

/// The functions in sessions of at most 10 groups, at most 15 sessions; what does not fit is
/// polled (second list).
pub fn shards(functions: &[String]) -> (Vec<Vec<String>>, Vec<String>) {
    let mut sessions: Vec<Vec<String>> = functions
        .chunks(GROUPS_PER_SESSION)
        .map(<[String]>::to_vec)
        .collect();
    let rest = if sessions.len() > SESSIONS_PER_REGION {
        sessions.split_off(SESSIONS_PER_REGION).concat()
    } else {
        Vec::new()
    };
    (sessions, rest)
}

/// Live Tail is not there to be had (as opposed to failing for a moment).
fn unavailable(e: &ProviderError) -> bool {
    matches!(
        e,
        ProviderError::AccessDenied(_) | ProviderError::Unsupported(_)
    )
}

/// Follows `functions` of one region from `since_ms` until `tx` closes: first a read of what
/// was written since `since_ms`, then Live Tail sessions, falling back to polling where Live
/// Tail is not available (said once per shard).
pub async fn follow<S: LogSource>(
    source: &S,
    functions: Vec<String>,
    filter: Option<String>,
    since_ms: i64,
    tx: mpsc::Sender<Update>,
) {
    let (sessions, rest) = shards(&functions);
    let filter = filter.as_deref();
    let mut work = Vec::new();
    for shard in sessions {
        work.push(futures::future::Either::Left(follow_shard(
            source, shard, filter, since_ms, &tx,
        )));
    }
    if !rest.is_empty() {
        let why = format!(
            "more than {} functions: {SESSIONS_PER_REGION} Live Tail sessions of {GROUPS_PER_SESSION} is the limit",
            SESSIONS_PER_REGION * GROUPS_PER_SESSION
        );
        let _ = tx
            .send(Update::Polling {
                functions: rest.clone(),
                why,
            })
            .await;
        work.push(futures::future::Either::Right(poll(
            source, rest, filter, since_ms, &tx,
        )));
    }
    futures::future::join_all(work).await;
}

/// Reads every function's events from `from_ms` to now; returns the newest time seen.
async fn read_since<S: LogSource>(
    source: &S,
    functions: &[String],
    filter: Option<&str>,
    from_ms: i64,
    tx: &mpsc::Sender<Update>,
) -> Result<i64, ProviderError> {
    let now = chrono::Utc::now().timestamp_millis();
    let reads = functions
        .iter()
        .map(|f| source.log_events(f, from_ms.min(now), now, filter));
    let mut newest = from_ms;
    let mut failed = None;
    let mut lines = Vec::new();
    for result in futures::future::join_all(reads).await {
        match result {
            Ok(found) => lines.extend(found),
            Err(e) => failed = Some(e),
        }
    }
    if let Some(t) = lines.iter().map(|l| l.time.timestamp_millis()).max() {
        newest = newest.max(t);
    }
    if !lines.is_empty() {
        let _ = tx.send(Update::Lines(lines)).await;
    }
    match failed {
        Some(e) => Err(e),
        None => Ok(newest),
    }
}

async fn follow_shard<S: LogSource>(
    source: &S,
    shard: Vec<String>,
    filter: Option<&str>,
    since_ms: i64,
    tx: &mpsc::Sender<Update>,
) {
    let mut last_ms = since_ms;
    let mut pause = Duration::from_secs(1);
    loop {
        // What was written while no session was open (at the start, after one ended).
        match read_since(source, &shard, filter, last_ms - OVERLAP_MS, tx).await {
            Ok(t) => last_ms = last_ms.max(t),
            Err(e) => {
                let _ = tx.send(Update::Failed(e.to_string())).await;
            }
        }
        if tx.is_closed() {
            return;
        }
        let _ = tx.send(Update::Live(shard.clone())).await;
        let (events, mut received) = mpsc::channel::<TailEvent>(64);
        let opened = Instant::now();
        let names = shard.clone();
        let session = async move {
            let result = source.tail(&names, filter, &events).await;
            drop(events);
            result
        };
        let forward = async {
            let mut newest = last_ms;
            while let Some(event) = received.recv().await {
                let update = match event {
                    TailEvent::Lines(lines) => {
                        if let Some(t) = lines.iter().map(|l| l.time.timestamp_millis()).max() {
                            newest = newest.max(t);
                        }
                        Update::Lines(lines)
                    }
                    TailEvent::Sampled => Update::Sampled,
                };
                if tx.send(update).await.is_err() {
                    break;
                }
            }
            newest
        };
        let (result, newest) = futures::future::join(session, forward).await;
        tracing::debug!(functions = ?shard, lasted_ms = opened.elapsed().as_millis() as u64, result = ?result, "live tail session ended");
        last_ms = last_ms.max(newest);
        match result {
            Err(e) if unavailable(&e) => {
                let _ = tx
                    .send(Update::Polling {
                        functions: shard.clone(),
                        why: e.to_string(),
                    })
                    .await;
                return poll(source, shard, filter, last_ms, tx).await;
            }
            Err(e) => {
                let _ = tx.send(Update::Failed(e.to_string())).await;
            }
            Ok(()) => {}
        }
        if tx.is_closed() {
            return;
        }
        // A session that ended at once is reopened after a growing pause; one that ran a while
        // (the 3-hour cap, a dropped connection) at once.
        pause = if opened.elapsed() < SHORT_SESSION {
            (pause * 2).min(Duration::from_secs(30))
        } else {
            Duration::from_secs(1)
        };
        tokio::time::sleep(pause).await;
    }
}

/// Polls the functions every 2 s (backing off while every read fails) until `tx` closes.
async fn poll<S: LogSource>(
    source: &S,
    functions: Vec<String>,
    filter: Option<&str>,
    since_ms: i64,
    tx: &mpsc::Sender<Update>,
) {
    let mut last_ms = since_ms;
    let mut wait = POLL_EVERY;
    loop {
        tokio::time::sleep(wait).await;
        if tx.is_closed() {
            return;
        }
        match read_since(source, &functions, filter, last_ms - OVERLAP_MS, tx).await {
            Ok(t) => {
                last_ms = last_ms.max(t);
                wait = POLL_EVERY;
            }
            Err(e) => {
                let _ = tx.send(Update::Failed(e.to_string())).await;
                wait = (wait * 2).min(Duration::from_secs(30));
            }
        }
    }
}

#[cfg(test)]
mod tests {
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
}
