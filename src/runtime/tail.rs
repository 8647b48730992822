//! Following logs, for `lops logs --follow` and the dashboard's log pane alike: CloudWatch Logs
//! Live Tail where it is served (groups in sessions of 10, at most 15 sessions per region; each
//! session is opened first, then what was written while none was open is read back, 10 s more
//! for late events; a session that ends is reopened), polling FilterLogEvents where it is not
//! (refused, over the account's session limit, an endpoint that does not know it). A refusal
//! may pass (a token renewed, a session freed, a permission granted): Live Tail is asked for
//! again after 15 minutes, then less and less often.

use std::collections::{BTreeMap, BTreeSet};
use std::time::Duration;

use tokio::sync::mpsc;
use tokio::time::Instant;

use crate::loglines::Source;
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
/// Sessions in a row that end as soon as they open (an endpoint that closes each one at once)
/// before following polls instead: reopened after a growing pause, events would come that
/// much later (half a minute) under a title that says Live Tail.
const ENDS_AT_ONCE: u32 = 5;
/// How long a shard that fell back to polling polls before it asks for Live Tail again (a
/// refusal may pass: a session limit freed, a token renewed, a permission granted); each
/// refusal in a row doubles it, up to [`LIVE_TAIL_RETRY_MAX`] (a refused call is logged in
/// CloudTrail: no alarm on unauthorized calls should ring every few minutes for this).
pub const LIVE_TAIL_RETRY: Duration = Duration::from_secs(15 * 60);
pub const LIVE_TAIL_RETRY_MAX: Duration = Duration::from_secs(4 * 60 * 60);

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
    match e {
        ProviderError::AccessDenied(_) | ProviderError::Unsupported(_) => true,
        // The account's sessions are all taken (not a passing throttle).
        ProviderError::Throttled(m) => m.starts_with("LimitExceededException"),
        _ => false,
    }
}

/// How often functions without a log group are looked for again.
pub const MISSING_EVERY: Duration = Duration::from_secs(60);

/// What following owes each function: a read of everything written from this time (Unix ms)
/// on, because no session was open then or the read that would have covered it failed.
type Owed = BTreeMap<String, i64>;

/// Follows `functions` of one region from `since_ms` until `tx` closes: Live Tail sessions,
/// each opened before the read of what was written while none was open, falling back to
/// polling where Live Tail is not available (said once per shard and fallback) and asking for
/// it again from time to time.
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
        let mut follower = Follower::new(source, rest, filter, since_ms, &tx);
        work.push(futures::future::Either::Right(async move {
            follower.poll(None).await
        }));
    }
    futures::future::join_all(work).await;
}

async fn follow_shard<S: LogSource>(
    source: &S,
    shard: Vec<String>,
    filter: Option<&str>,
    since_ms: i64,
    tx: &mpsc::Sender<Update>,
) {
    Follower::new(source, shard, filter, since_ms, tx)
        .tail()
        .await
}

/// The functions of one shard and what is owed to each.
struct Follower<'a, S> {
    source: &'a S,
    functions: Vec<String>,
    filter: Option<&'a str>,
    tx: &'a mpsc::Sender<Update>,
    owed: Owed,
    /// Functions whose log group does not exist (yet).
    missing: BTreeSet<String>,
    /// When missing groups are looked for next (every minute, across sessions).
    missing_check: Instant,
}

/// What one round of reads found.
#[derive(Default)]
struct Round {
    /// A function whose group was missing has one now.
    appeared: bool,
    /// A read failed (not for a missing group): the first such failure.
    failed: Option<ProviderError>,
}

fn now_ms() -> i64 {
    chrono::Utc::now().timestamp_millis()
}

impl<'a, S: LogSource> Follower<'a, S> {
    fn new(
        source: &'a S,
        functions: Vec<String>,
        filter: Option<&'a str>,
        since_ms: i64,
        tx: &'a mpsc::Sender<Update>,
    ) -> Self {
        let owed = functions
            .iter()
            .map(|f| (f.clone(), since_ms - OVERLAP_MS))
            .collect();
        Follower {
            source,
            functions,
            filter,
            tx,
            owed,
            missing: BTreeSet::new(),
            missing_check: Instant::now() + MISSING_EVERY,
        }
    }

    /// Reads what is owed to `which`. A function an open session covers (`covered`) is owed
    /// nothing more; any other is owed what comes after this read (less the overlap), as no
    /// session streams it. A missing group is remembered and said once.
    async fn read(&mut self, which: &[String], covered: &[String]) -> Round {
        let now = now_ms();
        let wanted: Vec<(String, i64)> = which
            .iter()
            .filter_map(|f| self.owed.get(f).map(|from| (f.clone(), *from)))
            .collect();
        let reads = wanted.iter().map(|(f, from)| {
            self.source
                .log_events(f, (*from).min(now), now, self.filter)
        });
        let results = futures::future::join_all(reads).await;
        let mut round = Round::default();
        let mut lines = Vec::new();
        let mut newly_missing = Vec::new();
        let mut answered = false;
        let mut read = Vec::new();
        for ((f, from), result) in wanted.into_iter().zip(results) {
            match result {
                Ok(found) => {
                    answered = true;
                    read.push(f.clone());
                    if self.missing.remove(&f) {
                        round.appeared = true;
                    }
                    if covered.contains(&f) {
                        self.owed.remove(&f);
                    } else {
                        // The next read reaches back 10 s before this one ended: an event that
                        // arrives a little late is still found, and a quiet function's range
                        // does not grow.
                        self.owed.insert(f, from.max(now - OVERLAP_MS));
                    }
                    lines.extend(found);
                }
                Err(ProviderError::NotFound(_)) => {
                    if self.missing.insert(f.clone()) {
                        newly_missing.push(f);
                    }
                }
                Err(e) => {
                    round.failed.get_or_insert(e);
                }
            }
        }
        // Read whole, even with nothing new: said (an empty batch), so that a region that was
        // failing or late is known to answer again.
        if !lines.is_empty() || (answered && round.failed.is_none()) {
            let _ = self.tx.send(Update::Lines(lines, Source::Read)).await;
        }
        if !newly_missing.is_empty() {
            let _ = self.tx.send(Update::NoLogGroup(newly_missing)).await;
        }
        // Which functions are read up to now, apart: one answering says nothing of another.
        if !read.is_empty() {
            let _ = self.tx.send(Update::Read(read)).await;
        }
        round
    }

    /// Live Tail sessions over the shard's functions that have a log group, one after another
    /// until `tx` closes; polling after a refusal (said once per fallback), asking for Live
    /// Tail again after [`LIVE_TAIL_RETRY`], doubling while it is refused; an endpoint that
    /// does not know Live Tail is polled for good.
    async fn tail(mut self) {
        let mut pause = Duration::ZERO;
        // Polling instead of Live Tail, and said so; when Live Tail is asked for next.
        let mut polling = false;
        let mut retry_in = LIVE_TAIL_RETRY;
        // Sessions in a row that opened and ended at once.
        let mut short_runs = 0;
        loop {
            if self.tx.is_closed() {
                return;
            }
            let present: Vec<String> = self
                .functions
                .iter()
                .filter(|f| !self.missing.contains(*f))
                .cloned()
                .collect();
            if present.is_empty() {
                // Nothing to tail until a group appears.
                tokio::select! {
                    _ = tokio::time::sleep_until(self.missing_check) => {}
                    _ = self.tx.closed() => return,
                }
                self.missing_check = Instant::now() + MISSING_EVERY;
                let missing: Vec<String> = self.missing.iter().cloned().collect();
                self.read(&missing, &[]).await;
                continue;
            }
            let opened = Instant::now();
            let (started, result) = self.session(&present).await;
            tracing::debug!(functions = ?present, lasted_ms = opened.elapsed().as_millis() as u64, result = ?result, "live tail session ended");
            if started {
                // However it ended (an error at once counts: a connection reset as it opened).
                let at_once = opened.elapsed() < SHORT_SESSION;
                short_runs = if at_once { short_runs + 1 } else { 0 };
            }
            let ends_at_once = short_runs >= ENDS_AT_ONCE;
            if started {
                // Live (again): a later refusal is said again, and retried from the start —
                // unless it ended at once again (still polling, said once, asked ever less).
                if !ends_at_once {
                    polling = false;
                    retry_in = LIVE_TAIL_RETRY;
                }
                // Owed from now: what is written until the next session opens.
                let ended = now_ms() - OVERLAP_MS;
                for f in &present {
                    self.owed.entry(f.clone()).or_insert(ended);
                }
            }
            let result = match result {
                Ok(()) if ends_at_once => Err(ProviderError::Service(format!(
                    "each Live Tail session ended as soon as it opened ({short_runs} in a row)"
                ))),
                other => other,
            };
            match result {
                // Refused, sessions that end at once, or asked for again while polling and not
                // there yet (a passing failure then does not end polling).
                Err(e) if unavailable(&e) || ends_at_once || (polling && !started) => {
                    if !polling {
                        polling = true;
                        let _ = self
                            .tx
                            .send(Update::Polling {
                                functions: self.functions.clone(),
                                why: e.to_string(),
                            })
                            .await;
                    }
                    let until = match e {
                        ProviderError::Unsupported(_) => None,
                        _ => Some(Instant::now() + retry_in),
                    };
                    if unavailable(&e) || ends_at_once {
                        retry_in = (retry_in * 2).min(LIVE_TAIL_RETRY_MAX);
                    }
                    self.poll(until).await;
                    continue;
                }
                // A group asked for does not exist: the reads say which.
                Err(ProviderError::NotFound(e)) if !started => {
                    let before = self.missing.len();
                    let round = self.read(&present, &[]).await;
                    if self.missing.len() == before {
                        let why = round.failed.map_or(e, |f| crate::provider::with_hint(&f));
                        let _ = self.tx.send(Update::Failed(why)).await;
                    } else {
                        continue;
                    }
                }
                Err(e) => {
                    let _ = self
                        .tx
                        .send(Update::Reconnecting(crate::provider::with_hint(&e)))
                        .await;
                    if !started {
                        // Live Tail keeps failing: read between attempts, so events still
                        // arrive (at the pace of the retries) while it does.
                        self.read(&present, &[]).await;
                    }
                }
                Ok(()) => {}
            }
            if self.tx.is_closed() {
                return;
            }
            // Missing groups are looked for between sessions too (short sessions never reach
            // the check inside one).
            if !self.missing.is_empty() && Instant::now() >= self.missing_check {
                self.missing_check = Instant::now() + MISSING_EVERY;
                let missing: Vec<String> = self.missing.iter().cloned().collect();
                self.read(&missing, &[]).await;
            }
            // A session that ended at once is reopened after a growing pause; one that ran a
            // while (the 3-hour cap, a dropped connection) at once.
            pause = if opened.elapsed() >= SHORT_SESSION {
                Duration::ZERO
            } else if pause.is_zero() {
                Duration::from_secs(1)
            } else {
                (pause * 2).min(Duration::from_secs(30))
            };
            tokio::select! {
                _ = tokio::time::sleep(pause) => {}
                _ = self.tx.closed() => return,
            }
        }
    }

    /// One session over `present`. Once it is open, what is owed is read (again, with a
    /// growing pause, until it answers) and missing groups are looked for every minute; one
    /// that appears ends the session so that the next one includes it. Returns whether the
    /// session opened, and how it ended.
    async fn session(&mut self, present: &[String]) -> (bool, Result<(), ProviderError>) {
        static SESSIONS: std::sync::atomic::AtomicU64 = std::sync::atomic::AtomicU64::new(1);
        let number = SESSIONS.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
        let (events, mut received) = mpsc::channel::<TailEvent>(64);
        let (stop, stopped) = tokio::sync::oneshot::channel::<()>();
        let (source, filter) = (self.source, self.filter);
        let names = present.to_vec();
        let session = async move {
            let result = tokio::select! {
                result = source.tail(&names, filter, &events) => result,
                _ = stopped => Ok(()),
            };
            drop(events);
            result
        };
        let tx = self.tx;
        let driver = async {
            let mut stop = Some(stop);
            let mut started = false;
            let mut owed_read: Option<Instant> = None;
            let mut wait = Duration::from_secs(1);
            loop {
                let owed_here: Vec<String> = present
                    .iter()
                    .filter(|f| self.owed.contains_key(*f) && !self.missing.contains(*f))
                    .cloned()
                    .collect();
                let missing_check = self.missing_check;
                let due = match (
                    owed_read.filter(|_| !owed_here.is_empty()),
                    self.missing.is_empty(),
                ) {
                    (Some(t), true) => Some(t),
                    (Some(t), false) => Some(t.min(missing_check)),
                    (None, false) if started => Some(missing_check),
                    _ => None,
                };
                let timer = async {
                    match due {
                        Some(t) => tokio::time::sleep_until(t).await,
                        None => std::future::pending().await,
                    }
                };
                tokio::select! {
                    event = received.recv() => {
                        let update = match event {
                            None => break,
                            Some(TailEvent::Started) => {
                                started = true;
                                owed_read = Some(Instant::now());
                                Update::Live(present.to_vec())
                            }
                            Some(TailEvent::Lines(lines)) => Update::Lines(lines, Source::Streamed(number)),
                            Some(TailEvent::Sampled) => Update::Sampled,
                        };
                        if tx.send(update).await.is_err() {
                            stop.take().map(|s| s.send(()));
                        }
                    }
                    _ = tx.closed(), if stop.is_some() => {
                        stop.take().map(|s| s.send(()));
                        // Whatever the session still sends is not wanted.
                        received.close();
                    }
                    _ = timer => {
                        let now = Instant::now();
                        let mut which = Vec::new();
                        if owed_read.is_some_and(|t| t <= now) {
                            which.extend(owed_here.iter().cloned());
                        }
                        if now >= missing_check {
                            which.extend(self.missing.iter().cloned());
                            self.missing_check = now + MISSING_EVERY;
                        }
                        // The session covers the functions it was opened with; a group that
                        // appeared is read up to now and stays owed until a session has it.
                        let covered: Vec<String> = present
                            .iter()
                            .filter(|f| !self.missing.contains(*f))
                            .cloned()
                            .collect();
                        let round = self.read(&which, &covered).await;
                        match round.failed {
                            Some(e) => {
                                let _ = tx.send(Update::Failed(crate::provider::with_hint(&e))).await;
                                owed_read = Some(Instant::now() + wait);
                                wait = (wait * 2).min(Duration::from_secs(30));
                            }
                            None => wait = Duration::from_secs(1),
                        }
                        if round.appeared {
                            stop.take().map(|s| s.send(()));
                        }
                    }
                }
            }
            // A session that ended before its read was made (one that ends at once, as some
            // endpoints' do) still reads what is owed, or no session would ever read it.
            if started && owed_read.is_some_and(|t| t <= Instant::now()) && !tx.is_closed() {
                let owed_here: Vec<String> = present
                    .iter()
                    .filter(|f| self.owed.contains_key(*f) && !self.missing.contains(*f))
                    .cloned()
                    .collect();
                if let Some(e) = self.read(&owed_here, &owed_here).await.failed {
                    let _ = tx
                        .send(Update::Failed(crate::provider::with_hint(&e)))
                        .await;
                }
            }
            started
        };
        let (result, started) = futures::future::join(session, driver).await;
        (started, result)
    }

    /// Polls every 2 s (backing off while reads fail), missing groups every minute, until
    /// `tx` closes or until `until` (then Live Tail is asked for again).
    async fn poll(&mut self, until: Option<Instant>) {
        let mut wait = POLL_EVERY;
        let mut missing_check = Instant::now();
        // Everything is owed from where it was: polling reads each function every time.
        for f in &self.functions {
            self.owed.entry(f.clone()).or_insert(now_ms() - OVERLAP_MS);
        }
        loop {
            if self.tx.is_closed() || until.is_some_and(|t| Instant::now() >= t) {
                return;
            }
            let now = Instant::now();
            let which: Vec<String> = self
                .functions
                .iter()
                .filter(|f| now >= missing_check || !self.missing.contains(*f))
                .cloned()
                .collect();
            if now >= missing_check {
                missing_check = now + MISSING_EVERY;
            }
            let round = self.read(&which, &[]).await;
            match round.failed {
                Some(e) => {
                    let _ = self
                        .tx
                        .send(Update::Failed(crate::provider::with_hint(&e)))
                        .await;
                    wait = (wait * 2).min(Duration::from_secs(30));
                }
                None => wait = POLL_EVERY,
            }
            tokio::select! {
                _ = tokio::time::sleep(wait) => {}
                _ = self.tx.closed() => return,
            }
        }
    }
}

#[cfg(test)]
#[path = "tail_tests.rs"]
mod tests;
