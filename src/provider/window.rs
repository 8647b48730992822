//! Time windows: whole-minute aligned, so every provider and every refresh agree on buckets.

use chrono::{DateTime, DurationRound, TimeDelta, Utc};

/// Minutes of per-minute history a metrics fetch covers (the longest window).
pub const MINUTES: usize = 60;

/// The hour of whole minutes ending at `end` (exclusive), oldest minute first.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimeWindow {
    pub end: DateTime<Utc>,
}

impl TimeWindow {
    /// The window ending at the start of the current minute: the current minute is still filling.
    pub fn ending_at(now: DateTime<Utc>) -> Self {
        let end = now.duration_trunc(TimeDelta::minutes(1)).unwrap_or(now);
        TimeWindow { end }
    }

    pub fn start(&self) -> DateTime<Utc> {
        self.end - TimeDelta::minutes(MINUTES as i64)
    }

    /// Index of the minute bucket that starts at `t`, if inside the window.
    pub fn slot(&self, t: DateTime<Utc>) -> Option<usize> {
        let offset = (t - self.start()).num_seconds();
        if offset < 0 {
            return None;
        }
        let slot = (offset / 60) as usize;
        (slot < MINUTES).then_some(slot)
    }
}

/// The summary windows shown in tables and `lops status`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize)]
pub enum MetricWindow {
    #[serde(rename = "5m")]
    M5,
    #[serde(rename = "15m")]
    M15,
    #[serde(rename = "60m")]
    M60,
}

impl MetricWindow {
    pub const ALL: [MetricWindow; 3] = [MetricWindow::M5, MetricWindow::M15, MetricWindow::M60];

    pub fn minutes(self) -> usize {
        match self {
            MetricWindow::M5 => 5,
            MetricWindow::M15 => 15,
            MetricWindow::M60 => 60,
        }
    }

    pub fn label(self) -> &'static str {
        match self {
            MetricWindow::M5 => "5m",
            MetricWindow::M15 => "15m",
            MetricWindow::M60 => "60m",
        }
    }

    pub fn parse(s: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|w| w.label() == s)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::TimeZone;

    #[test]
    fn window_is_aligned_to_whole_minutes() {
        let now = Utc.with_ymd_and_hms(2026, 11, 25, 10, 17, 42).single();
        let w = TimeWindow::ending_at(now.unwrap_or_default());
        assert_eq!(w.end.format("%H:%M:%S").to_string(), "10:17:00");
        assert_eq!(w.start().format("%H:%M:%S").to_string(), "09:17:00");
        assert_eq!(w.slot(w.start()), Some(0));
        assert_eq!(w.slot(w.end - TimeDelta::seconds(1)), Some(59));
        assert_eq!(w.slot(w.end), None);
    }
}
