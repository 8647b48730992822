//! Poller snapshots into the fleet: inventory (page by page while it fills in), alarms,
//! metrics and the detail view's on-demand reads, each read keeping its own health.

use chrono::{DateTime, Utc};

use super::{FunctionEntry, Read, State};
use crate::provider::{Alarm, AlarmState, Inventory, MetricsSnapshot, ProviderError};

pub(super) fn on_inventory(
    state: &mut State,
    region: usize,
    seq: u64,
    at: DateTime<Utc>,
    result: Result<Inventory, ProviderError>,
) {
    let Some(r) = state.regions.get_mut(region) else {
        return;
    };
    // Snapshots of one read share its sequence number, until its last; an older read never
    // overwrites.
    let open = seq == r.inventory_seq && r.inventory_progress.is_some();
    if seq < r.inventory_seq || (seq == r.inventory_seq && !open) {
        return;
    }
    r.inventory_seq = seq;
    match result {
        Err(e) => {
            r.inventory_progress = None;
            r.failed(&e, at, Read::Inventory)
        }
        Ok(inventory) => {
            let partial = inventory.progress;
            if let Some(p) = partial {
                r.inventory_progress = Some((p, inventory.functions.len()));
                // A later read fills in behind the rows already shown; only the first one
                // shows its rows as they land.
                if r.inventory_loaded {
                    return;
                }
            } else {
                r.inventory_progress = None;
            }
            let mut old: std::collections::HashMap<String, FunctionEntry> = r
                .functions
                .drain(..)
                .map(|f| (f.info.name.clone(), f))
                .collect();
            r.functions = inventory
                .functions
                .into_iter()
                .map(|mut info| {
                    let previous = old.remove(&info.name);
                    if let Some(p) = &previous {
                        keep_on_demand_reads(&mut info, &p.info);
                    }
                    let alarm = worst_alarm(&r.alarms, &info.name);
                    FunctionEntry {
                        metrics: previous.as_ref().and_then(|p| p.metrics.clone()),
                        partly: previous.as_ref().and_then(|p| p.partly.clone()),
                        numbers_at: previous.as_ref().and_then(|p| p.numbers_at),
                        numbers_missed_at: previous.as_ref().and_then(|p| p.numbers_missed_at),
                        history: previous.map(|p| p.history).unwrap_or_default(),
                        info,
                        alarm,
                    }
                })
                .collect();
            // A listing that stopped short (or is still going) says nothing of the functions
            // it did not reach: their rows stay as they were.
            let mut kept = 0;
            if inventory.incomplete.is_some() || partial.is_some() {
                let mut left: Vec<FunctionEntry> = old.into_values().collect();
                left.sort_by(|a, b| a.info.name.cmp(&b.info.name));
                kept = left.len();
                r.functions.extend(left);
            }
            r.account_limit = match partial {
                // GetAccountSettings may answer after the first pages.
                Some(_) => inventory.account_concurrency_limit.or(r.account_limit),
                None => inventory.account_concurrency_limit,
            };
            if partial.is_none() {
                r.account_limit_error = inventory.account_settings_error.clone();
            }
            if partial.is_none() {
                r.inventory_loaded = true;
                match inventory.incomplete {
                    // Said as shown here: those listed, and the others as last read.
                    Some(why) => {
                        let shown = match kept {
                            0 => format!("{why} (those are shown)"),
                            n => format!("{why} (those are shown, and {n} others as last read)"),
                        };
                        r.partly_answered(at, Read::Inventory, shown)
                    }
                    None => {
                        r.answered(at, Read::Inventory);
                        // A whole listing without a marked function: it is gone, and so is
                        // its mark (a function made later under its name was never marked).
                        let names: std::collections::HashSet<String> =
                            r.functions.iter().map(|f| f.info.name.clone()).collect();
                        state
                            .marks
                            .retain(|(i, name)| *i != region || names.contains(name));
                    }
                }
            }
        }
    }
    state.rebuild_rows();
}

/// What the detail view read on demand stays until it is read again: an inventory leaves it
/// unread.
fn keep_on_demand_reads(
    info: &mut crate::provider::FunctionInfo,
    previous: &crate::provider::FunctionInfo,
) {
    // A read that failed this time is not read (`?r`, `not read`), as `lops status` says it:
    // what it returned last time is not shown as what is there now.
    let failed = |read: &str| {
        info.detail_error
            .as_deref()
            .is_some_and(|e| e.contains(read))
    };
    let (aliases_failed, details_failed) = (
        failed("aliases: ListAliases"),
        failed("details: GetFunction"),
    );
    if info.not_read.aliases && !previous.not_read.aliases && !aliases_failed {
        info.aliases = previous.aliases.clone();
        info.not_read.aliases = false;
    }
    // Not read yet (a listing still filling in): what it returned last time stays.
    if info.not_read.details && !previous.not_read.details && !details_failed {
        info.reserved_concurrency = previous.reserved_concurrency;
        info.tags = previous.tags.clone();
        info.not_read.details = false;
    }
    if info.not_read.provisioned && !previous.not_read.provisioned {
        info.provisioned = previous.provisioned.clone();
        info.not_read.provisioned = false;
    }
}

/// The detail view's on-demand read of a function answered.
pub(super) fn on_extras(
    state: &mut State,
    region: usize,
    function: String,
    result: Result<crate::provider::FunctionExtras, ProviderError>,
) {
    let error = match result {
        Ok(extras) => {
            if let Some(f) = state
                .regions
                .get_mut(region)
                .and_then(|r| r.functions.iter_mut().find(|f| f.info.name == function))
            {
                f.info.add_extras(extras);
            }
            None
        }
        // What the read asks (the tags are the inventory's, GetFunction's): said as not read,
        // with the calls and the error's hint.
        Err(e) => Some(format!(
            "aliases and provisioned concurrency not read (ListAliases, \
             ListProvisionedConcurrencyConfigs): {e}{} (read again in {} s)",
            crate::provider::hint(&e),
            super::outcome::DETAIL_RETRY_SECS
        )),
    };
    if let Some(pane) = state.trigger_pane.as_mut()
        && pane.region == region
        && pane.function == function
    {
        if error.is_some() {
            pane.failed_at = Some(state.now);
        }
        pane.extras = Some(error.map_or(Ok(()), Err));
    }
    state.rebuild_rows();
}

pub(super) fn on_alarms(
    state: &mut State,
    region: usize,
    seq: u64,
    at: DateTime<Utc>,
    result: Result<Vec<Alarm>, ProviderError>,
) {
    let Some(r) = state.regions.get_mut(region) else {
        return;
    };
    if seq <= r.alarms_seq {
        return;
    }
    r.alarms_seq = seq;
    match result {
        Err(e) => r.failed(&e, at, Read::Alarms),
        Ok(alarms) => {
            for f in &mut r.functions {
                f.alarm = worst_alarm(&alarms, &f.info.name);
            }
            r.alarms = alarms;
            r.answered(at, Read::Alarms);
        }
    }
    state.rebuild_rows();
}

fn worst_alarm(alarms: &[Alarm], function: &str) -> Option<AlarmState> {
    alarms
        .iter()
        .filter(|a| a.function.as_deref() == Some(function))
        .map(|a| a.state)
        .min()
}

pub(super) fn on_metrics(
    state: &mut State,
    region: usize,
    seq: u64,
    at: DateTime<Utc>,
    result: Result<MetricsSnapshot, ProviderError>,
) {
    let Some(r) = state.regions.get_mut(region) else {
        return;
    };
    if seq <= r.metrics_seq {
        return;
    }
    r.metrics_seq = seq;
    // Which functions' numbers this read did not bring: a group's failure, or an answer that
    // left numbers out, says nothing of which it asked — every one not read is not vouched for.
    let missed = match &result {
        Err(_) => true,
        Ok(snapshot) => snapshot.numbers_missing,
    };
    let read = |name: &str| {
        result
            .as_ref()
            .is_ok_and(|s| s.functions.contains_key(name))
    };
    for f in r
        .functions
        .iter_mut()
        .filter(|f| missed && !read(&f.info.name))
    {
        f.numbers_missed_at = Some(at);
    }
    match result {
        Err(e) => {
            r.metrics_partial = None;
            r.failed(&e, at, Read::Metrics)
        }
        Ok(snapshot) => {
            // Not one number read (only a split or percentiles): the read failed; the numbers
            // shown are as old as they were.
            let no_numbers = snapshot.functions.is_empty() && snapshot.region_totals.is_none();
            for f in &mut r.functions {
                if let Some(m) = snapshot.functions.get(&f.info.name) {
                    if let Some(end) = snapshot.window_end {
                        f.history.merge(&m.invocations, end);
                    }
                    let mut m = m.clone();
                    // The percentile batch is asked less often: keep the last one meanwhile.
                    if m.percentiles.is_empty()
                        && let Some(previous) = &f.metrics
                    {
                        m.percentiles = previous.percentiles.clone();
                    }
                    // The split's request failed: the split last read stays, said as such
                    // (read with the numbers, or alone while they failed).
                    if m.split_unread
                        && let Some(previous) = f.split_read()
                    {
                        m.alias_versions = previous.alias_versions.clone();
                    }
                    f.metrics = Some(m);
                    f.partly = None;
                    f.numbers_at = Some(at);
                } else if let Some(read) = snapshot.partly_read.get(&f.info.name)
                    && f.metrics.is_none()
                {
                    // No number ever read: its split is shown alone (its numbers stay `–`);
                    // its split not read this time, the one shown is said as last read.
                    if !read.split_unread {
                        f.partly = Some(crate::provider::FunctionMetrics {
                            alias_versions: read.alias_versions.clone(),
                            ..Default::default()
                        });
                    } else if read.split_unread
                        && let Some(partly) = f.partly.as_mut()
                    {
                        partly.split_unread = true;
                    }
                } else if let Some(read) = snapshot.partly_read.get(&f.info.name)
                    && let Some(m) = f.metrics.as_mut()
                {
                    // Its numbers not read (the last ones stay, in doubt with the region's
                    // rows): what was read of it is fresh.
                    if !read.split_unread && !read.alias_versions.is_empty() {
                        m.alias_versions = read.alias_versions.clone();
                        m.split_unread = false;
                    }
                    if !read.percentiles.is_empty() {
                        m.percentiles = read.percentiles.clone();
                    }
                }
            }
            if snapshot.region_totals.is_some() {
                r.totals = snapshot.region_totals;
            }
            // A read that answered in part names what it left out, as `lops status` does: some
            // numbers not read, and the region's rows are in doubt (their last numbers shown,
            // stale); only an alias's split or the percentiles, and what it read is fresh, the
            // gap said in the regions view.
            match (snapshot.incomplete, snapshot.numbers_missing) {
                (Some(why), true) if no_numbers => {
                    r.metrics_partial = None;
                    r.failed_because(at, Read::Metrics, why);
                }
                (Some(why), true) => {
                    r.metrics_partial = None;
                    r.numbers_partly_read(at, why);
                }
                (why, _) => {
                    r.metrics_partial = why.map(|why| format!("metrics: {why}"));
                    r.answered(at, Read::Metrics);
                }
            }
        }
    }
    state.rebuild_rows();
}

/// The detail view's triggers read landed (the selection stays where it was, within the list).
pub(super) fn on_triggers(
    state: &mut State,
    region: usize,
    function: &str,
    result: Result<crate::provider::Triggers, ProviderError>,
) {
    if let Some(pane) = state.trigger_pane.as_mut()
        && pane.region == region
        && pane.function == function
    {
        let keep = pane.selected;
        // A part not read is a failure too: read again a while later.
        if result.as_ref().map_or(true, |t| !t.notes.is_empty()) {
            pane.failed_at = Some(state.now);
        }
        if let Ok(t) = &result {
            pane.unread = t.notes.clone();
        }
        pane.result = Some(result.map(|t| t.triggers).map_err(|e| e.to_string()));
        let n = pane.triggers().len();
        pane.selected = keep.min(n.saturating_sub(1));
    }
}

/// A region's API calls so far (all, and CloudWatch metrics requested): the footer's rates.
pub(super) fn on_calls(state: &mut State, region: usize, total: u64, metrics: u64) {
    let now = state.now;
    if let Some(r) = state.regions.get_mut(region) {
        r.metric_samples.push((now, metrics));
        r.metric_samples
            .retain(|(t, _)| (now - *t).num_seconds() <= super::fleet::METRIC_SAMPLE_SECS);
        r.call_samples.push((now, total));
        r.call_samples
            .retain(|(t, _)| (now - *t).num_seconds() <= 60);
    }
}
