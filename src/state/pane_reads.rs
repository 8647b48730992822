//! The reads the open panes ask for as they come due: the log pane's, the detail view's
//! triggers'.

use super::{Effect, State, View, actions, logpane, outcome};

impl State {
    /// A log read when the log pane is open, following, and due.
    pub(super) fn log_effects(&mut self) -> Vec<Effect> {
        let mut effects = Vec::new();
        let open = match &self.view {
            View::Logs { region, function } => Some((*region, function.clone())),
            _ => None,
        };
        // A pane that closed, or shows another function now, stops following.
        if let Some(p) = self.log_pane.as_ref()
            && open.as_ref() != Some(&(p.region, p.function.clone()))
        {
            if p.following() {
                effects.push(Effect::StopTail {
                    region: p.region,
                    function: p.function.clone(),
                });
            }
            self.log_pane = None;
        }
        let Some((region, function)) = open else {
            return effects;
        };
        let now = self.now;
        let pane = self
            .log_pane
            .get_or_insert_with(|| logpane::LogPane::new(region, function.clone(), now));
        match pane.follow_change() {
            Some(true) => effects.push(Effect::TailLogs {
                region,
                function: function.clone(),
                since_ms: pane.until_ms,
            }),
            Some(false) => effects.push(Effect::StopTail {
                region,
                function: function.clone(),
            }),
            None => {}
        }
        effects.extend(pane.due(now).map(|(start_ms, end_ms)| Effect::ReadLogs {
            region,
            function,
            start_ms,
            end_ms,
        }));
        effects
    }

    /// A triggers read when the detail view shows a function whose triggers are not loaded.
    pub(super) fn trigger_effects(&mut self) -> Vec<Effect> {
        let View::Detail { region, function } = &self.view else {
            self.trigger_pane = None;
            return Vec::new();
        };
        let now = self.now;
        let stale = self.trigger_pane.as_ref().is_none_or(|p| {
            p.region != *region
                || p.function != *function
                || p.reload
                || p.failed_at
                    .is_some_and(|at| (now - at).num_seconds() >= outcome::DETAIL_RETRY_SECS)
        });
        if !stale {
            return Vec::new();
        }
        let keep = self
            .trigger_pane
            .as_ref()
            .filter(|p| p.region == *region && p.function == *function);
        self.trigger_pane = Some(actions::TriggerPane {
            region: *region,
            function: function.clone(),
            result: keep.and_then(|p| p.result.clone()),
            selected: keep.map_or(0, |p| p.selected),
            reload: false,
            extras: keep.and_then(|p| p.extras.clone()),
            failed_at: None,
            unread: Vec::new(),
        });
        // What the inventory leaves for on demand is read each time the view opens (aliases
        // too: they may have changed since the last inventory).
        let want = self
            .regions
            .get(*region)
            .and_then(|r| r.function(function))
            .map(|f| f.info.extras_wanted(true))
            .unwrap_or_default();
        vec![
            Effect::Triggers {
                region: *region,
                function: function.clone(),
            },
            Effect::Extras {
                region: *region,
                function: function.clone(),
                want,
            },
        ]
    }
}
