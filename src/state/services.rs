//! The services view: each service's Route 53 members per region — configured weight and
//! share against the share of invocations the region really took, health check — and the
//! levers on the selected region (drain, restore, set its weight), each handed to the ops
//! layer as a request in the scope that owns the service's zone.

use chrono::{DateTime, Utc};

use super::{Action, Effect, Input, Popup, State};
use crate::config::ServiceSettings;
use crate::ops::service::{ServiceChange, ServiceView};
use crate::ops::{Request, authorize};
use crate::provider::Scope;

/// What the view knows of every configured service.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct ServicePane {
    pub services: Vec<ServiceSettings>,
    /// The scope (index) that reads and changes each service's zone, or why there is none. A
    /// service's own profile that the fleet does not read has a scope past the fleet's regions.
    pub homes: Vec<Result<usize, String>>,
    /// Every scope a home may name (the fleet's, then those only services use).
    pub scopes: Vec<Scope>,
    /// How many of `scopes` are the fleet's.
    pub fleet: usize,
    /// The last read of each service (`None`: not read yet). A read that fails after one
    /// that answered keeps the rows it gave, with why in `stale`.
    pub views: Vec<Option<Result<ServiceView, String>>>,
    /// Why each service's rows are from an earlier read (its last read failed), and since when.
    pub stale: Vec<Option<(String, DateTime<Utc>)>>,
    /// When a read last answered (a failed one does not make the rows newer).
    pub read_at: Option<DateTime<Utc>>,
    /// When the services were last asked for: read again every [`READ_EVERY`] while the view
    /// is open.
    pub asked_at: Option<DateTime<Utc>>,
    pub reading: usize,
    pub selected: usize,
    /// A row was chosen (moved to): the highlight then stays on it as reads land; until
    /// then it stays on the top row.
    pub chosen: bool,
}

impl ServicePane {
    /// `fleet`: how many of `scopes` (the first) the dashboard reads functions through; the
    /// rest are there only for services' own profiles.
    pub fn new(services: Vec<ServiceSettings>, scopes: &[Scope], fleet: usize) -> Self {
        let homes = services
            .iter()
            .map(|s| crate::ops::service::home(scopes, fleet, s).map_err(|e| e.to_string()))
            .collect();
        ServicePane {
            views: vec![None; services.len()],
            stale: vec![None; services.len()],
            services,
            homes,
            scopes: scopes.to_vec(),
            fleet,
            ..Default::default()
        }
    }
}

/// One row of the view: one region of one service.
#[derive(Debug, Clone, PartialEq)]
pub struct ServiceRow {
    pub service: usize,
    pub region: String,
    pub set_ids: Vec<String>,
    pub weight: Option<i64>,
    pub share: Option<f64>,
    /// The share of the invocations the service's regions took that this region took
    /// (`None`: its numbers are not read here).
    pub observed: Option<f64>,
    pub health: &'static str,
    pub routing: String,
    /// A failover member's role (PRIMARY, SECONDARY), where it has one.
    pub role: Option<String>,
    /// How fresh the dashboard's own numbers of the region are: `stale 3m`, `unreachable`,
    /// `not read` (no scope here reads it), or empty when fresh.
    pub freshness: String,
}

/// The freshness of the dashboard's numbers for `region` (empty: fresh).
fn freshness(state: &State, service: usize, region: &str) -> String {
    use super::RegionHealth as H;
    let Some(r) = scope_of(state, service, region) else {
        return "not read".into();
    };
    match r.health(state.now, state.stale_after_secs()) {
        H::Fresh { .. } => String::new(),
        H::Loading => "loading".into(),
        H::Stale { age_secs, .. } => format!("stale {}", crate::format::age(age_secs)),
        H::Unreachable { .. } => "unreachable".into(),
    }
}

/// Invocations over the window in `region`: of the functions the service lists there, else of
/// the whole region; `None` when no scope of the dashboard reads that region's metrics.
fn invocations(
    state: &State,
    index: usize,
    service: &ServiceSettings,
    region: &str,
) -> Option<f64> {
    let r = scope_of(state, index, region)?;
    match service.functions.get(region) {
        Some(names) if !names.is_empty() => {
            let found: Vec<_> = names.iter().filter_map(|n| r.function(n)).collect();
            // Unread while a function it lists waits for its numbers, or the inventory itself;
            // none of them there once the region is read: it took nothing (as `service show`).
            if found.iter().any(|f| f.metrics.is_none())
                || (found.is_empty() && !r.inventory_loaded)
            {
                return None;
            }
            Some(
                found
                    .iter()
                    .map(|f| f.stats(state.window).invocations)
                    .sum(),
            )
        }
        _ => r
            .totals
            .as_ref()
            .map(|_| r.totals_stats(state.window).invocations),
    }
}

/// Every service's regions, in the order shown.
pub fn rows(state: &State) -> Vec<ServiceRow> {
    let pane = &state.services;
    let mut out = Vec::new();
    for (i, view) in pane.views.iter().enumerate() {
        let Some(Ok(view)) = view else {
            continue;
        };
        let weights = view.weights();
        let configured = view.shares();
        let regions = view.regions();
        let taken: Vec<(String, Option<f64>)> = regions
            .iter()
            .map(|r| (r.clone(), invocations(state, i, &pane.services[i], r)))
            .collect();
        let taken = crate::ops::service::observed_shares(view, &taken);
        for region in &regions {
            let members: Vec<_> = view
                .members
                .iter()
                .filter(|m| m.region.as_deref() == Some(region.as_str()))
                .collect();
            let health = if members.iter().all(|m| m.record.health_check.is_none()) {
                "no check"
            } else if members.iter().any(|m| m.health.word() == "unhealthy") {
                "unhealthy"
            } else if members
                .iter()
                .all(|m| m.record.health_check.is_none() || m.health.word() == "healthy")
            {
                // A member without a check counts as healthy, as the guard counts it; only a
                // check that could not be read is unknown.
                "healthy"
            } else if members.iter().any(|m| m.health.word() == "unread") {
                // Its read failed: said as `service show` says it, not as a checker's unknown.
                "unread"
            } else {
                "unknown"
            };
            out.push(ServiceRow {
                service: i,
                region: region.clone(),
                set_ids: members
                    .iter()
                    .filter_map(|m| m.record.set_id.clone())
                    .collect(),
                weight: weights.get(region).copied(),
                share: configured.get(region).copied(),
                observed: taken.get(region).copied().flatten(),
                health,
                routing: members
                    .first()
                    .map(|m| m.record.routing())
                    .unwrap_or_default(),
                freshness: freshness(state, i, region),
                role: members.iter().find_map(|m| m.record.failover.clone()),
            });
        }
    }
    out
}

/// The access of the scope a services-view lever acts in (the selected service's home), or
/// `None` when the key is not a services-view lever here.
pub fn access(state: &State, action: Action) -> Option<crate::config::Access> {
    if state.view != super::View::Services
        || !matches!(
            action,
            Action::Drain | Action::RestoreRegion | Action::Shift
        )
    {
        return None;
    }
    home_access(state)
}

/// The access of the selected service's home scope (the header's badges in the services view).
pub fn home_access(state: &State) -> Option<crate::config::Access> {
    let row = rows(state).get(state.services.selected).cloned();
    let service = row.map_or(0, |r| r.service);
    home_scope(state, service).map(|s| s.access)
}

/// The scope that reads and changes `service`'s zone.
fn home_scope(state: &State, service: usize) -> Option<&Scope> {
    let home = state.services.homes.get(service)?.as_ref().ok()?;
    state.services.scopes.get(*home)
}

/// The scope whose numbers stand for `region`: the one of the service's home profile there,
/// else any (a dev scope's invocations are not a prod service's).
fn scope_of<'a>(state: &'a State, service: usize, region: &str) -> Option<&'a super::RegionState> {
    let profile = home_scope(state, service).map(|s| s.profile.clone());
    state
        .regions
        .iter()
        .find(|r| r.scope.region == region && Some(&r.scope.profile) == profile.as_ref())
}

/// How often an open services view reads its record sets again: weights another engineer
/// or lops changed show, and a refusal is never judged against rows minutes old on screen.
pub const READ_EVERY_SECS: i64 = 30;

/// The view is open and its last read was asked for [`READ_EVERY_SECS`] ago: read again.
pub fn due(state: &mut State, effects: &mut Vec<Effect>) {
    let open = matches!(state.view, super::View::Services);
    let now = state.now;
    let stale = state
        .services
        .asked_at
        .is_none_or(|t| (now - t).num_seconds() >= READ_EVERY_SECS);
    if open && stale && state.services.asked_at.is_some() {
        read(state, effects);
    }
}

/// Opens the view (or reads again): one read per service, in its home scope.
pub fn read(state: &mut State, effects: &mut Vec<Effect>) {
    let now = state.now;
    let pane = &mut state.services;
    if pane.services.is_empty() || pane.reading > 0 {
        return;
    }
    pane.asked_at = Some(now);
    for (index, home) in pane.homes.iter().enumerate() {
        match home {
            Ok(region) => {
                pane.reading += 1;
                effects.push(Effect::ReadService {
                    region: *region,
                    index,
                    service: Box::new(pane.services[index].clone()),
                });
            }
            Err(e) => pane.views[index] = Some(Err(e.clone())),
        }
    }
}

/// A service's read landed.
pub fn landed(state: &mut State, index: usize, result: Result<ServiceView, String>) {
    // The highlight stays on the service and region chosen, not on a row number: a service
    // landing above it (read slower, or again) must not move a `D` onto another region.
    let chosen = rows(state)
        .get(state.services.selected)
        .filter(|_| state.services.chosen)
        .map(|r| (r.service, r.region.clone()));
    let pane = &mut state.services;
    pane.reading = pane.reading.saturating_sub(1);
    if pane.stale.len() < pane.views.len() {
        pane.stale.resize(pane.views.len(), None);
    }
    if let Some(slot) = pane.views.get_mut(index) {
        match (result, &slot) {
            // During an outage the weights last read are what the operator needs most: kept,
            // marked stale with why (the levers read again before any change).
            (Err(e), Some(Ok(_))) => {
                let since = pane.stale[index].as_ref().map_or(state.now, |(_, t)| *t);
                pane.stale[index] = Some((e, since));
            }
            (result, _) => {
                *slot = Some(result);
                pane.stale[index] = None;
            }
        }
    }
    if pane
        .views
        .get(index)
        .is_some_and(|v| matches!(v, Some(Ok(_))))
        && pane.stale.get(index).is_none_or(Option::is_none)
    {
        pane.read_at = Some(state.now);
    }
    let now = rows(state);
    let kept = chosen.and_then(|(service, region)| {
        now.iter()
            .position(|r| r.service == service && r.region == region)
    });
    state.services.selected =
        kept.unwrap_or_else(|| state.services.selected.min(now.len().saturating_sub(1)));
}

pub fn move_by(state: &mut State, delta: i64) {
    let n = rows(state).len() as i64;
    let pane = &mut state.services;
    pane.selected = (pane.selected as i64 + delta).clamp(0, (n - 1).max(0)) as usize;
    pane.chosen = true;
}

/// `D`, `R` and `t` on the selected region: a request for the ops layer, in the scope that
/// owns the zone (whose tier refuses here first, as it would there).
pub fn act(state: &mut State, action: Action, effects: &mut Vec<Effect>) {
    let Some(row) = rows(state).get(state.services.selected).cloned() else {
        // Configured, but no read gave a region to act on: why, not "configure one".
        let failed: Vec<String> = state
            .services
            .services
            .iter()
            .zip(&state.services.views)
            .filter_map(|(s, v)| match v {
                Some(Err(e)) => Some(format!("{}: {e}", s.name)),
                _ => None,
            })
            .collect();
        state.popup = Some(Popup::Notice(match failed.is_empty() {
            true => "no service region to act on: services are [[service]] entries in the \
                     config file"
                .into(),
            false => format!("no service region to act on: {}", failed.join("; ")),
        }));
        return;
    };
    let change = match action {
        Action::Drain => ServiceChange::Drain(row.region.clone()),
        Action::RestoreRegion => ServiceChange::Restore(row.region.clone()),
        Action::Shift => {
            // A failover pair, or a record routed otherwise (latency, simple), has no
            // weights: said before a value is typed, in the core's words.
            if let Some(Some(Ok(view))) = state.services.views.get(row.service)
                && let Some(why) = crate::ops::service::weights_refused(view)
            {
                state.popup = Some(Popup::Notice(why.to_string()));
                return;
            }
            // Refused before anything is asked, as the other levers are.
            if authorized(state, row.service, crate::ops::Kind::ServiceWeights) {
                state.input = Some(Input::ServiceWeight(
                    row.weight.map_or(String::new(), |w| w.to_string()),
                ));
            }
            return;
        }
        _ => return,
    };
    propose(state, row.service, change, effects);
}

/// The weight typed for the selected region.
pub fn submit_weight(state: &mut State, text: String, effects: &mut Vec<Effect>) {
    let Some(row) = rows(state).get(state.services.selected).cloned() else {
        return;
    };
    match crate::ops::service::parse_weight(&text) {
        Ok(weight) => {
            state.input_error = None;
            let weights = vec![(row.region.clone(), weight)];
            propose(state, row.service, ServiceChange::Weights(weights), effects);
        }
        Err(e) => {
            state.input_error = Some(e.to_string());
            state.input = Some(Input::ServiceWeight(text));
        }
    }
}

/// The prompt of the weight input.
pub fn weight_prompt(state: &State) -> String {
    match rows(state).get(state.services.selected) {
        Some(row) => format!(
            " {} @ {} weight {} · new weight (0 to 255): ",
            state.services.services[row.service].name,
            row.region,
            row.weight.map_or("none".into(), |w| w.to_string())
        ),
        None => String::new(),
    }
}

/// Whether the tier of the service's home scope allows `kind`; if not, says so in a notice.
fn authorized(state: &mut State, service: usize, kind: crate::ops::Kind) -> bool {
    let home = match state.services.homes.get(service).cloned() {
        Some(Ok(home)) => home,
        Some(Err(why)) => {
            state.popup = Some(Popup::Notice(why));
            return false;
        }
        None => return false,
    };
    let Some(scope) = state.services.scopes.get(home) else {
        return false;
    };
    let name = &state.services.services[service].name;
    match authorize(
        scope.access.tier,
        kind.needs(),
        &crate::ops::service_subject(kind, name, &scope.profile),
    ) {
        Ok(()) => true,
        Err(e) => {
            state.popup = Some(Popup::Notice(e.to_string()));
            false
        }
    }
}

fn propose(state: &mut State, service: usize, change: ServiceChange, effects: &mut Vec<Effect>) {
    let pane = &state.services;
    let Some(Ok(home)) = pane.homes.get(service).cloned() else {
        return;
    };
    // A drain or a restore goes through the home profile's scope in the region it moves,
    // where the dashboard has one (the rule `lops service` follows).
    let home = crate::ops::service::home_for(
        pane.scopes.iter(),
        pane.fleet,
        &pane.services[service],
        &change,
    )
    .unwrap_or(home);
    let request = Request::Service {
        service: Box::new(pane.services[service].clone()),
        change,
        force: false,
    };
    if !authorized(state, service, request.kind()) {
        return;
    }
    effects.push(Effect::Prepare {
        region: home,
        request: Box::new(request),
    });
}

#[cfg(test)]
#[path = "services_tests.rs"]
mod tests;
