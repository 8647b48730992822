//! A day of per-minute invocation counts per function, kept compact (f32, NaN for no data).

use std::collections::VecDeque;

use chrono::{DateTime, Utc};

use crate::provider::Series;

/// Minutes of history kept per function.
pub const HISTORY_MINUTES: usize = 24 * 60;

#[derive(Debug, Clone, Default, PartialEq)]
pub struct History {
    /// Minute number (Unix minutes) just after the newest value.
    end: i64,
    values: VecDeque<f32>,
}

fn minute(t: DateTime<Utc>) -> i64 {
    t.timestamp().div_euclid(60)
}

impl History {
    /// Merges a series whose last slot is the minute before `window_end`.
    pub fn merge(&mut self, series: &Series, window_end: DateTime<Utc>) {
        let end = minute(window_end);
        if self.values.is_empty() || end - self.end > HISTORY_MINUTES as i64 {
            // Exactly a day's room, so a large fleet does not pay for doubling growth.
            self.values = VecDeque::with_capacity(HISTORY_MINUTES);
            self.end = end;
        }
        while self.end < end {
            self.values.push_back(f32::NAN);
            self.end += 1;
        }
        let first = end - series.len() as i64;
        for (i, v) in series.iter().enumerate() {
            let m = first + i as i64;
            let back = (self.end - m) as usize;
            if back == 0 || back > HISTORY_MINUTES {
                continue;
            }
            while self.values.len() < back {
                self.values.push_front(f32::NAN);
            }
            let idx = self.values.len() - back;
            self.values[idx] = v.map(|x| x as f32).unwrap_or(f32::NAN);
        }
        while self.values.len() > HISTORY_MINUTES {
            self.values.pop_front();
        }
    }

    pub fn len(&self) -> usize {
        self.values.len()
    }

    pub fn is_empty(&self) -> bool {
        self.values.is_empty()
    }

    /// Values oldest first; missing minutes as 0.
    pub fn values(&self) -> impl Iterator<Item = f64> + '_ {
        self.values
            .iter()
            .map(|v| if v.is_nan() { 0.0 } else { f64::from(*v) })
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use chrono::{TimeDelta, TimeZone};

    #[test]
    fn merging_overlapping_windows_keeps_one_value_per_minute() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 25, 10, 0, 0)
            .single()
            .unwrap_or_default();
        let mut h = History::default();
        let series = Series::from_values((0..60).map(|i| Some(f64::from(i))));
        h.merge(&series, t0);
        assert_eq!(h.len(), 60);
        let later = Series::from_values((0..60).map(|i| Some(f64::from(i + 1))));
        h.merge(&later, t0 + TimeDelta::minutes(1));
        assert_eq!(h.len(), 61);
        let v: Vec<f64> = h.values().collect();
        assert_eq!(v[0], 0.0);
        assert_eq!(v[60], 60.0);
    }

    #[test]
    fn history_is_capped_at_a_day() {
        let t0 = Utc
            .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
            .single()
            .unwrap_or_default();
        let mut h = History::default();
        let series = Series::from_values(vec![Some(1.0); 60]);
        for hour in 0..30 {
            h.merge(&series, t0 + TimeDelta::hours(hour));
        }
        assert_eq!(h.len(), HISTORY_MINUTES);
    }
}
