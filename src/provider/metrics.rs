//! The numbers CloudWatch answers: per-minute series, a function's metrics, the summary
//! of a window, and what one metrics read returns.

use std::collections::BTreeMap;

use super::window::{MINUTES, MetricWindow};

/// One value per minute of the window, oldest first. Stored as f32 with NaN for "no
/// datapoint": a fleet of 10,000 functions keeps six of these each, so width matters.
#[derive(Clone)]
pub struct Series(Vec<f32>);

impl Series {
    /// A window of [`MINUTES`] minutes without data.
    pub fn empty() -> Self {
        Series(vec![f32::NAN; MINUTES])
    }

    pub fn from_values(values: impl IntoIterator<Item = Option<f64>>) -> Self {
        Series(
            values
                .into_iter()
                .map(|v| v.map_or(f32::NAN, |x| x as f32))
                .collect(),
        )
    }

    pub fn len(&self) -> usize {
        self.0.len()
    }

    pub fn is_empty(&self) -> bool {
        self.0.is_empty()
    }

    pub fn get(&self, i: usize) -> Option<f64> {
        self.0.get(i).filter(|v| !v.is_nan()).map(|v| f64::from(*v))
    }

    pub fn set(&mut self, i: usize, value: f64) {
        if let Some(slot) = self.0.get_mut(i) {
            *slot = value as f32;
        }
    }

    pub fn iter(&self) -> impl DoubleEndedIterator<Item = Option<f64>> + ExactSizeIterator + '_ {
        self.0
            .iter()
            .map(|v| (!v.is_nan()).then_some(f64::from(*v)))
    }

    /// The last `minutes` values.
    pub fn tail(&self, minutes: usize) -> impl Iterator<Item = Option<f64>> + '_ {
        self.iter().skip(self.len().saturating_sub(minutes))
    }
}

impl Default for Series {
    fn default() -> Self {
        Series::empty()
    }
}

impl PartialEq for Series {
    /// Equal when every minute is equal, missing minutes included.
    fn eq(&self, other: &Self) -> bool {
        self.0.len() == other.0.len()
            && self
                .0
                .iter()
                .zip(&other.0)
                .all(|(a, b)| a.to_bits() == b.to_bits())
    }
}

impl std::fmt::Debug for Series {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_list().entries(self.iter()).finish()
    }
}

pub fn empty_series() -> Series {
    Series::empty()
}

#[derive(Debug, Clone, PartialEq)]
pub struct FunctionMetrics {
    pub invocations: Series,
    pub errors: Series,
    pub throttles: Series,
    pub duration_avg: Series,
    pub duration_max: Series,
    pub concurrency_max: Series,
    /// Duration percentiles (p50, p99) per summary window; empty when the endpoint does not
    /// support percentile statistics.
    pub percentiles: BTreeMap<MetricWindow, Percentiles>,
    /// Invocations per (alias, executed version).
    pub alias_versions: Vec<VersionInvocations>,
    /// The request for `alias_versions` failed while the rest answered: the split is unknown
    /// (never "no traffic"), the other numbers stand.
    pub split_unread: bool,
}

impl Default for FunctionMetrics {
    fn default() -> Self {
        FunctionMetrics {
            invocations: empty_series(),
            errors: empty_series(),
            throttles: empty_series(),
            duration_avg: empty_series(),
            duration_max: empty_series(),
            concurrency_max: empty_series(),
            percentiles: BTreeMap::new(),
            alias_versions: Vec::new(),
            split_unread: false,
        }
    }
}

#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct Percentiles {
    pub p50: Option<f64>,
    pub p99: Option<f64>,
}

#[derive(Debug, Clone, PartialEq)]
pub struct VersionInvocations {
    pub alias: String,
    pub version: String,
    pub invocations: Series,
}

/// Numbers for one summary window, derived from the per-minute series.
#[derive(Debug, Clone, Copy, Default, PartialEq, serde::Serialize)]
pub struct WindowStats {
    pub invocations: f64,
    pub errors: f64,
    pub throttles: f64,
    /// errors / invocations, 0..1; `None` without invocations.
    pub error_rate: Option<f64>,
    pub duration_avg_ms: Option<f64>,
    pub duration_max_ms: Option<f64>,
    pub duration_p50_ms: Option<f64>,
    pub duration_p99_ms: Option<f64>,
    pub concurrency_max: Option<f64>,
}

impl WindowStats {
    /// Many functions together (a region's total when the account-level metrics are not
    /// read): invocations, errors and throttles added, the average duration weighted by
    /// invocations and the longest duration — what adds up exactly. Percentiles and the peak
    /// concurrency of a whole are not the sum of their parts: `None`.
    pub fn sum(all: impl IntoIterator<Item = WindowStats>) -> WindowStats {
        let mut total = WindowStats::default();
        let (mut weighted, mut weight) = (0.0_f64, 0.0_f64);
        for s in all {
            total.invocations += s.invocations;
            total.errors += s.errors;
            total.throttles += s.throttles;
            if let Some(avg) = s.duration_avg_ms.filter(|_| s.invocations > 0.0) {
                weighted += avg * s.invocations;
                weight += s.invocations;
            }
            total.duration_max_ms = match (total.duration_max_ms, s.duration_max_ms) {
                (Some(a), Some(b)) => Some(a.max(b)),
                (a, b) => a.or(b),
            };
        }
        total.duration_avg_ms = (weight > 0.0)
            .then(|| weighted / weight)
            .filter(|v| v.is_finite());
        total.error_rate = (total.invocations > 0.0)
            .then(|| total.errors / total.invocations)
            .filter(|r| r.is_finite() && total.invocations.is_finite());
        total
    }
}

/// Sum of the last `minutes` values. Written so an empty sum is +0, never -0.
pub fn sum_last(series: &Series, minutes: usize) -> f64 {
    series.tail(minutes).flatten().fold(0.0, |a, v| a + v)
}

pub fn max_last(series: &Series, minutes: usize) -> Option<f64> {
    series.tail(minutes).flatten().reduce(f64::max)
}

impl FunctionMetrics {
    pub fn window(&self, w: MetricWindow) -> WindowStats {
        let m = w.minutes();
        let invocations = sum_last(&self.invocations, m);
        let errors = sum_last(&self.errors, m);
        // Average of per-minute averages weighted by that minute's invocations: the exact
        // window average, since each minute's average is its sum over its count.
        let (mut weighted, mut weight) = (0.0_f64, 0.0_f64);
        for (avg, count) in self.duration_avg.tail(m).zip(self.invocations.tail(m)) {
            if let Some(avg) = avg {
                let count = count.unwrap_or(0.0).max(1.0);
                weighted += avg * count;
                weight += count;
            }
        }
        let pct = self.percentiles.get(&w).copied().unwrap_or_default();
        WindowStats {
            invocations,
            errors,
            throttles: sum_last(&self.throttles, m),
            // A sum that overflowed has no rate (4 errors over infinite calls is not 0 %).
            error_rate: (invocations > 0.0)
                .then(|| errors / invocations)
                .filter(|r| r.is_finite() && invocations.is_finite()),
            // Stored values are f32: round to microseconds so outputs read cleanly.
            duration_avg_ms: (weight > 0.0).then(|| (weighted / weight * 1e3).round() / 1e3),
            duration_max_ms: max_last(&self.duration_max, m).map(|v| (v * 1e3).round() / 1e3),
            duration_p50_ms: pct.p50,
            duration_p99_ms: pct.p99,
            concurrency_max: max_last(&self.concurrency_max, m),
        }
    }
}

/// What one metrics fetch returns for a region.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct MetricsSnapshot {
    pub window_end: Option<chrono::DateTime<chrono::Utc>>,
    pub functions: BTreeMap<String, FunctionMetrics>,
    /// Whether percentile statistics were available this time.
    pub percentiles_supported: bool,
    /// Account-level totals of the region (invocations, errors, throttles, concurrency), when
    /// asked for.
    pub region_totals: Option<FunctionMetrics>,
    /// Part of the batch did not answer (the functions it held are left out), and why.
    pub incomplete: Option<String>,
    /// Some numbers asked were not read (functions left out, the region's totals): the read
    /// failed in part, not only an alias's split or the percentiles.
    pub numbers_missing: bool,
    /// Functions whose numbers were not read (none of them is in `functions`), with what was
    /// read of them: their aliases' split (unless `split_unread`) and their duration
    /// percentiles. Their series are empty: never a number to show or add up.
    pub partly_read: BTreeMap<String, FunctionMetrics>,
}

impl MetricsSnapshot {
    /// What was read of a function's aliases' split and its percentiles: from its whole read,
    /// or from a read that missed its numbers. Not for its numbers: those are `functions`'.
    pub fn split_and_percentiles_of(&self, name: &str) -> Option<&FunctionMetrics> {
        self.functions
            .get(name)
            .or_else(|| self.partly_read.get(name))
    }
}
