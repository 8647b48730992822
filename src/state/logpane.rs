//! The dashboard's log pane: one function's log events, read every few seconds with an overlap
//! and kept once each, followed at the bottom unless paused or scrolled, filtered as typed.

use std::collections::VecDeque;

use chrono::{DateTime, TimeDelta, Utc};

use crate::loglines::LogLine;
use crate::provider::ProviderError;

/// Lines kept in memory per pane.
pub const KEEP: usize = 2_000;
/// How far back the pane starts.
const FIRST_READ: TimeDelta = TimeDelta::minutes(15);
/// How often it reads while following.
const EVERY: TimeDelta = TimeDelta::seconds(3);

#[derive(Debug, Clone, PartialEq)]
pub struct LogPane {
    pub region: usize,
    pub function: String,
    pub lines: VecDeque<LogLine>,
    seen: crate::loglines::Seen,
    pub paused: bool,
    pub filter: String,
    /// Lines scrolled up from the bottom (0: following the newest).
    pub scrolled: usize,
    pub error: Option<String>,
    /// Not a failure: what the pane waits for (a log group not there yet).
    pub waiting: Option<String>,
    /// Read up to here (Unix ms).
    pub until_ms: i64,
    pub in_flight: bool,
    pub last_read: Option<DateTime<Utc>>,
    /// A first read answered: from then on the runtime follows (`Effect::TailLogs`).
    read_ok: bool,
    /// The first read failed: the runtime follows all the same (its session opens first, then
    /// its own read reaches back over what this one was to read), as `lops logs --follow`.
    read_failed: bool,
    /// How the pane follows once its first read answered.
    pub follow: Follow,
    /// Older lines let go to keep the last [`KEEP`] (said on screen: `lops logs` has them).
    pub dropped: usize,
}

/// Following the pane's function after its first read.
#[derive(Debug, Clone, PartialEq, Default)]
pub enum Follow {
    /// Not (yet, or paused).
    #[default]
    Off,
    On {
        /// Live Tail is not available: polled instead, and why.
        polling: Option<String>,
        /// Live Tail samples: not every event is shown.
        sampled: bool,
        /// A session is open now (until then, and after one failed, it is connecting).
        live: bool,
    },
}

impl LogPane {
    pub fn new(region: usize, function: String, now: DateTime<Utc>) -> Self {
        LogPane {
            region,
            function,
            lines: VecDeque::new(),
            seen: crate::loglines::Seen::new(4 * KEEP),
            paused: false,
            filter: String::new(),
            scrolled: 0,
            error: None,
            waiting: None,
            until_ms: (now - FIRST_READ).timestamp_millis(),
            in_flight: false,
            last_read: None,
            read_ok: false,
            read_failed: false,
            follow: Follow::Off,
            dropped: 0,
        }
    }

    /// The range to read now, if a read is due: not paused, none under way, and the last one
    /// `EVERY` ago.
    pub fn due(&mut self, now: DateTime<Utc>) -> Option<(i64, i64)> {
        // After the first read the runtime follows (also once it failed: following reads back
        // itself, and says its failures); until then it is tried every 3 s.
        if self.read_ok
            || self.following()
            || self.paused
            || self.in_flight
            || self.last_read.is_some_and(|t| now - t < EVERY)
        {
            return None;
        }
        self.in_flight = true;
        self.last_read = Some(now);
        let end = now.timestamp_millis();
        Some((self.until_ms.min(end), end))
    }

    /// The pane follows (Live Tail, or polling where it is not served) once its first read
    /// answered or failed (a failing FilterLogEvents must not keep the live events away), and
    /// while it is not paused: `Some(true)` to start, `Some(false)` to stop.
    pub fn follow_change(&mut self) -> Option<bool> {
        match (&self.follow, self.paused) {
            (Follow::Off, false) if self.read_ok || self.read_failed => {
                self.follow = Follow::On {
                    polling: None,
                    sampled: false,
                    live: false,
                };
                Some(true)
            }
            (Follow::On { .. }, true) => {
                self.follow = Follow::Off;
                Some(false)
            }
            _ => None,
        }
    }

    pub fn following(&self) -> bool {
        matches!(self.follow, Follow::On { .. })
    }

    /// What following brought: events, or how it follows now.
    pub fn tailed(&mut self, update: crate::provider::FollowUpdate, _now: DateTime<Utc>) {
        use crate::provider::FollowUpdate as U;
        match update {
            U::Lines(lines, source) => {
                let end = lines
                    .iter()
                    .map(|l| l.time.timestamp_millis())
                    .max()
                    .unwrap_or(self.until_ms);
                if self.read_ok {
                    self.error = None;
                }
                self.waiting = None;
                self.until_ms = self.until_ms.max(end);
                self.add(lines, source);
            }
            // Read whole: what the failed first read was to read is shown now.
            U::Read(_) => {
                self.read_ok = true;
                self.error = None;
            }
            U::Live(_) => {
                // A session open again: the failure that came before it is over — save the
                // first read's, whose window only a read brings (said until then).
                if self.read_ok {
                    self.error = None;
                }
                // Also after polling: Live Tail is asked for again, and came back.
                if let Follow::On { live, polling, .. } = &mut self.follow {
                    *live = true;
                    *polling = None;
                }
            }
            U::NoLogGroup(functions) => {
                self.waiting = Some(format!(
                    "no log group yet for {} (not invoked yet, or deleted): looking again every \
                     minute",
                    functions.join(", ")
                ));
            }
            U::Sampled => {
                if let Follow::On { sampled, .. } = &mut self.follow {
                    *sampled = true;
                }
            }
            U::Polling { why, .. } => {
                if let Follow::On { polling, .. } = &mut self.follow {
                    *polling = Some(why);
                }
            }
            U::Reconnecting(e) => {
                if let Follow::On { live, .. } = &mut self.follow {
                    *live = false;
                }
                self.error = Some(e);
            }
            U::Failed(e) => self.error = Some(e),
        }
    }

    pub fn received(
        &mut self,
        result: Result<Vec<LogLine>, ProviderError>,
        end_ms: i64,
        _now: DateTime<Utc>,
    ) {
        self.in_flight = false;
        match result {
            // No log group yet (never invoked): following takes over, names it and looks for
            // it every minute, rather than this read every 3 s.
            Err(ProviderError::NotFound(_)) => {
                self.read_ok = true;
                self.until_ms = self.until_ms.max(end_ms);
                self.error = None;
                self.waiting = Some(
                    "no log group yet (not invoked yet, or deleted): looking again every minute"
                        .into(),
                );
            }
            Err(e) => {
                self.error = Some(crate::provider::with_hint(&e));
                self.read_failed = true;
            }
            Ok(lines) => {
                self.error = None;
                self.waiting = None;
                self.read_ok = true;
                self.until_ms = self.until_ms.max(end_ms);
                self.add(lines, crate::loglines::Source::Read);
            }
        }
    }

    /// Adds events not seen yet, in time order, keeping the last `KEEP`.
    fn add(&mut self, lines: Vec<LogLine>, source: crate::loglines::Source) {
        let mut fresh = self.seen.admit(lines, source);
        fresh.sort_by_key(|l| l.time);
        let added = fresh.len();
        for l in fresh {
            // Late events go where their time puts them.
            let at = self
                .lines
                .iter()
                .rposition(|x| x.time <= l.time)
                .map_or(0, |i| i + 1);
            self.lines.insert(at, l);
        }
        // The oldest lines go; their keys stay in `seen` (capped), so an overlap read does
        // not bring them back.
        while self.lines.len() > KEEP {
            self.lines.pop_front();
            self.dropped += 1;
        }
        // Scrolled up: stay on the same lines while new ones arrive below.
        if self.scrolled > 0 {
            self.scrolled += added;
        }
    }

    /// The lines the filter lets through, oldest first.
    pub fn visible(&self) -> Vec<&LogLine> {
        let needle = self.filter.to_lowercase();
        self.lines
            .iter()
            // What is shown is matched: an escape sequence's payload (a title) is not. Cleaned
            // only while a filter is typed (this runs on every draw).
            .filter(|l| {
                needle.is_empty()
                    || crate::format::printable(&l.message, true)
                        .to_lowercase()
                        .contains(&needle)
            })
            .collect()
    }

    /// Up (negative) scrolls back in time; down towards the newest (where it follows again).
    pub fn scroll(&mut self, delta: i64) {
        let max = self.visible().len().saturating_sub(1) as i64;
        self.scrolled = (self.scrolled as i64 - delta).clamp(0, max) as usize;
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn line(secs: i64, id: &str, message: &str) -> LogLine {
        LogLine {
            time: DateTime::from_timestamp(1_700_000_000 + secs, 0).unwrap(),
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
    fn the_first_read_then_following_keeps_each_event_once_in_order_and_pauses() {
        use crate::provider::FollowUpdate as U;
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut p = LogPane::new(0, "f".into(), now);
        assert_eq!(
            p.follow_change(),
            None,
            "nothing to follow before the first read"
        );
        let (start, end) = p.due(now).unwrap();
        assert_eq!(end - start, FIRST_READ.num_milliseconds());
        assert!(p.due(now).is_none(), "one read at a time");
        p.received(Ok(vec![line(2, "b", "two"), line(1, "a", "one")]), end, now);
        // From now on the runtime follows: no more reads from the pane.
        assert_eq!(p.follow_change(), Some(true));
        assert_eq!(p.follow_change(), None);
        assert!(p.due(now + TimeDelta::seconds(30)).is_none());
        // A session brings "two" again (no event id: Live Tail) and a late "late".
        let mut again = line(2, "", "two");
        again.event_id.clear();
        p.tailed(
            U::Lines(
                vec![again, line(1, "", "late")],
                crate::loglines::Source::Streamed(1),
            ),
            now,
        );
        let messages: Vec<&str> = p.lines.iter().map(|l| l.message.as_str()).collect();
        assert_eq!(messages, ["one", "late", "two"]);
        p.tailed(
            U::Polling {
                functions: vec!["f".into()],
                why: "AccessDenied".into(),
            },
            now,
        );
        assert!(matches!(&p.follow, Follow::On { polling: Some(w), .. } if w == "AccessDenied"));
        // Live Tail asked for again and granted: live, no longer polling.
        p.tailed(U::Live(vec!["f".into()]), now);
        assert!(matches!(
            &p.follow,
            Follow::On {
                polling: None,
                live: true,
                ..
            }
        ));
        // Pausing stops following; going on starts again from where it was.
        p.paused = true;
        assert_eq!(p.follow_change(), Some(false));
        assert!(p.due(now + TimeDelta::seconds(10)).is_none());
        p.paused = false;
        assert_eq!(p.follow_change(), Some(true));
        p.filter = "LATE".into();
        assert_eq!(p.visible().len(), 1);
    }

    /// The first read failing (FilterLogEvents throttled or denied, as in an incident) does not
    /// keep Live Tail away: following starts, from the start of what that read was to read
    /// (following reads it back itself), and the pane stops reading on its own.
    #[test]
    fn a_failed_first_read_still_follows_from_what_it_was_to_read() {
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut p = LogPane::new(0, "f".into(), now);
        let (start, _) = p.due(now).unwrap();
        p.received(
            Err(ProviderError::Throttled("Rate exceeded".into())),
            now.timestamp_millis(),
            now,
        );
        assert!(p.error.is_some());
        assert_eq!(p.follow_change(), Some(true));
        assert_eq!(
            p.until_ms, start,
            "following reaches back over the failed read"
        );
        assert!(p.due(now + TimeDelta::seconds(10)).is_none());
        // A session opens and streams: the window before it is still not read, and said.
        p.tailed(crate::provider::FollowUpdate::Live(vec!["f".into()]), now);
        p.tailed(
            crate::provider::FollowUpdate::Lines(
                vec![line(200, "", "live")],
                crate::loglines::Source::Streamed(1),
            ),
            now,
        );
        assert!(p.error.is_some(), "the unread window is still said");
        // Following's own read answers: said no more.
        p.tailed(crate::provider::FollowUpdate::Read(vec!["f".into()]), now);
        assert!(p.error.is_none());
    }

    #[test]
    fn errors_are_kept_until_the_next_good_read_and_memory_is_bounded() {
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut p = LogPane::new(0, "f".into(), now);
        p.due(now);
        p.received(Err(ProviderError::Timeout(2.0)), 0, now);
        assert!(p.error.is_some());
        assert!(!p.in_flight);
        let many: Vec<LogLine> = (0..KEEP as i64 + 10)
            .map(|i| line(i, &format!("e{i}"), "x"))
            .collect();
        p.due(now + TimeDelta::seconds(5));
        p.received(Ok(many), now.timestamp_millis(), now);
        assert!(p.error.is_none());
        assert_eq!(p.lines.len(), KEEP);
        assert_eq!(p.lines.front().map(|l| l.event_id.as_str()), Some("e10"));
        assert_eq!(p.dropped, 10, "said on screen");
        // The filter matches what is shown, not an escape sequence's hidden payload.
        p.received(
            Ok(vec![line(
                KEEP as i64 + 20,
                "t",
                "C1 \u{1b}]0;PWNTITLE\u{7}RED end",
            )]),
            now.timestamp_millis(),
            now,
        );
        p.filter = "pwntitle".into();
        assert!(p.visible().is_empty());
        p.filter = "red end".into();
        assert_eq!(p.visible().len(), 1);
    }

    #[test]
    fn scrolling_up_holds_the_view_while_lines_arrive() {
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut p = LogPane::new(0, "f".into(), now);
        p.due(now);
        p.received(
            Ok((0..10).map(|i| line(i, &format!("e{i}"), "x")).collect()),
            now.timestamp_millis(),
            now,
        );
        p.scroll(-3);
        assert_eq!(p.scrolled, 3);
        p.tailed(
            crate::provider::FollowUpdate::Lines(
                vec![line(20, "new", "x")],
                crate::loglines::Source::Streamed(1),
            ),
            now,
        );
        assert_eq!(p.scrolled, 4);
        p.scroll(100);
        assert_eq!(p.scrolled, 0, "down to the bottom follows again");
    }

    /// A session open again ends the failure shown before it (it stayed pinned above the
    /// lines after an outage with nothing new written).
    #[test]
    fn a_session_open_again_ends_the_failure_shown() {
        use crate::provider::FollowUpdate as U;
        let now = DateTime::from_timestamp(1_700_000_100, 0).unwrap();
        let mut p = LogPane::new(0, "f".into(), now);
        let (_, end) = p.due(now).unwrap();
        p.received(Ok(vec![line(1, "a", "one")]), end, now);
        p.tailed(U::Reconnecting("timed out after 10.0s".into()), now);
        assert!(p.error.is_some());
        p.tailed(U::Live(vec!["f".into()]), now);
        assert_eq!(p.error, None);
    }
}
