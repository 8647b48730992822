//! The fleet table's rows: filtered and sorted once per change, never per frame.

use std::cmp::Ordering;

use super::{FunctionEntry, RegionState};
use crate::provider::{AlarmState, MetricWindow, WindowStats};

/// A row: (region index, function index).
pub type RowRef = (usize, usize);

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Column {
    Health,
    Region,
    Function,
    Invocations,
    ErrorRate,
    Throttles,
    P99,
    Concurrency,
}

impl Column {
    pub const ALL: [Column; 8] = [
        Column::Health,
        Column::Region,
        Column::Function,
        Column::Invocations,
        Column::ErrorRate,
        Column::Throttles,
        Column::P99,
        Column::Concurrency,
    ];

    pub fn label(self) -> &'static str {
        match self {
            Column::Health => "health",
            Column::Region => "region",
            Column::Function => "function",
            Column::Invocations => "invocations",
            Column::ErrorRate => "error %",
            Column::Throttles => "throttles",
            Column::P99 => "p99",
            Column::Concurrency => "concurrency",
        }
    }

    /// Numbers read best largest first, names A→Z.
    pub fn natural_descending(self) -> bool {
        !matches!(self, Column::Region | Column::Function)
    }

    pub fn next(self) -> Column {
        let i = Column::ALL.iter().position(|c| *c == self).unwrap_or(0);
        Column::ALL[(i + 1) % Column::ALL.len()]
    }
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Sort {
    pub column: Column,
    /// Largest (or unhealthiest, or last alphabetically) first.
    pub descending: bool,
}

impl Default for Sort {
    fn default() -> Self {
        Sort {
            column: Column::Health,
            descending: true,
        }
    }
}

/// How unhealthy a function looks: 3 alarm firing, 2 not active, killed (reserved
/// concurrency 0: every call throttled) or failed update, 1 errors over 5 % or throttling,
/// 0 fine.
pub fn health_score(f: &FunctionEntry, window: MetricWindow) -> u8 {
    if f.alarm == Some(AlarmState::Alarm) {
        return 3;
    }
    if f.info.state != "Active"
        || f.info.last_update_status.as_deref() == Some("Failed")
        || f.info.reserved_concurrency == Some(0)
    {
        return 2;
    }
    let stats = f.stats(window);
    if stats.error_rate.is_some_and(|r| r > 0.05) || stats.throttles > 0.0 {
        return 1;
    }
    0
}

/// Whether a function matches every whitespace-separated term of the filter: `key=value`
/// matches a tag; `alarm` a firing alarm, `killed` a reservation of 0; anything else a part of
/// the name, region or state (case-insensitive).
pub fn matches(filter: &str, region: &RegionState, f: &FunctionEntry) -> bool {
    filter.split_whitespace().all(|term| {
        let term = term.to_lowercase();
        if let Some((k, v)) = term.split_once('=') {
            return f
                .info
                .tags
                .iter()
                .any(|(tk, tv)| tk.to_lowercase() == k && tv.to_lowercase().contains(v));
        }
        // The states the health column marks, found by the word the screens use for them.
        let marked = match term.as_str() {
            "alarm" => f.alarm == Some(AlarmState::Alarm),
            "killed" => f.info.reserved_concurrency == Some(0),
            _ => false,
        };
        marked
            || f.info.name.to_lowercase().contains(&term)
            || region.scope.region.contains(&term)
            || f.info.state.to_lowercase() == term
    })
}

/// What a row is sorted by, computed once per rebuild rather than once per comparison.
struct RowKey<'a> {
    row: RowRef,
    region: &'a str,
    name: &'a str,
    health: u8,
    stats: WindowStats,
}

fn compare(a: &RowKey, b: &RowKey, sort: Sort) -> Ordering {
    let num = |x: Option<f64>, y: Option<f64>| x.unwrap_or(-1.0).total_cmp(&y.unwrap_or(-1.0));
    let (sa, sb) = (&a.stats, &b.stats);
    let primary = match sort.column {
        Column::Health => a
            .health
            .cmp(&b.health)
            .then(num(sa.error_rate, sb.error_rate))
            .then(sa.invocations.total_cmp(&sb.invocations)),
        Column::Region => a.region.cmp(b.region),
        Column::Function => a.name.cmp(b.name),
        Column::Invocations => sa.invocations.total_cmp(&sb.invocations),
        Column::ErrorRate => num(sa.error_rate, sb.error_rate),
        Column::Throttles => sa.throttles.total_cmp(&sb.throttles),
        Column::P99 => num(sa.duration_p99_ms, sb.duration_p99_ms),
        Column::Concurrency => num(sa.concurrency_max, sb.concurrency_max),
    };
    let ordered = if sort.descending {
        primary.reverse()
    } else {
        primary
    };
    ordered
        .then_with(|| a.name.cmp(b.name))
        .then_with(|| a.region.cmp(b.region))
}

pub fn build(
    regions: &[RegionState],
    filter: &str,
    sort: Sort,
    window: MetricWindow,
) -> Vec<RowRef> {
    let mut keys: Vec<RowKey> = regions
        .iter()
        .enumerate()
        .flat_map(|(ri, r)| {
            r.functions
                .iter()
                .enumerate()
                .filter(|(_, f)| matches(filter, r, f))
                .map(move |(fi, f)| RowKey {
                    row: (ri, fi),
                    region: &r.scope.region,
                    name: &f.info.name,
                    health: health_score(f, window),
                    stats: f.stats(window),
                })
        })
        .collect();
    keys.sort_by(|a, b| compare(a, b, sort));
    keys.into_iter().map(|k| k.row).collect()
}

impl super::State {
    pub(super) fn rebuild_rows(&mut self) {
        // The highlight follows its function (scope and name) when rows move under it, so a
        // key never acts on a function the user did not choose.
        // A choice a filter hid comes first: the row highlighted meanwhile was not chosen.
        let keep = self.hidden_choice.take().or_else(|| {
            (self.chosen || self.selected > 0)
                .then(|| {
                    self.selected_row()
                        .map(|(r, f)| (r.scope.clone(), f.info.name.clone()))
                })
                .flatten()
        });
        self.rows = build(&self.regions, &self.filter, self.sort, self.window);
        if let Some((scope, name)) = keep {
            match self.rows.iter().position(|(r, f)| {
                self.regions[*r].scope == scope && self.regions[*r].functions[*f].info.name == name
            }) {
                Some(i) => self.selected = i,
                // Hidden (by a filter, say): remembered until it shows again.
                None => self.hidden_choice = Some((scope, name)),
            }
        }
        self.clamp();
    }

    pub(super) fn clamp(&mut self) {
        let n = self.rows.len();
        self.selected = self.selected.min(n.saturating_sub(1));
        let height = self.table_rows();
        if self.selected < self.offset {
            self.offset = self.selected;
        } else if self.selected >= self.offset + height {
            self.offset = self.selected + 1 - height;
        }
        self.offset = self.offset.min(n.saturating_sub(height));
    }
}
