//! Quitting the dashboard: at once, or asked first while something it started runs (a change
//! being written, a backup, a batch, a rollout) — they stop with lops.

use super::confirm::{Pending, Proposal};
use super::{Popup, State};

/// `q`: asks first while a rollout runs (it stops with lops).
pub fn quit(state: &mut State) {
    // A change sent, its result not back: its write and audit record may not land.
    if state.writing > 0 || state.backup.is_some() {
        let mut lines = Vec::new();
        if state.writing > 0 {
            lines.push(format!(
                "quit while {} change(s) are being written: their result (and its audit record) \
                 would not be seen here — wait for it unless you must",
                state.writing
            ));
        }
        if let Some(b) = &state.backup {
            lines.push(format!(
                "quit while a backup runs ({}, {} of {}): it stops where it is — a snapshot \
                 without its manifest is never listed, and a rerun completes it",
                b.label, b.done, b.total
            ));
        }
        state.popup = Some(Popup::Confirm(Pending::new(
            state,
            0,
            Proposal::Quit,
            lines,
        )));
        return;
    }
    if let Some(run) = state.batch_run.as_ref().filter(|r| !r.done()) {
        let lines = vec![
            format!(
                "quit while a batch runs ({}: {} of {} answered)",
                run.batch.action.replace('.', " "),
                run.landed.len(),
                run.batch
                    .items
                    .iter()
                    .filter(|i| i.plan().is_some())
                    .count()
            ),
            "a target written but not yet recorded would be missing from the audit log: \
             wait for the batch (esc shows it again with the batch popup) unless you must"
                .into(),
        ];
        let region = run.batch.items.first().map(|i| i.source()).unwrap_or(0);
        state.popup = Some(Popup::Confirm(Pending::new(
            state,
            region,
            Proposal::Quit,
            lines,
        )));
        return;
    }
    let running: Vec<String> = state
        .rollouts
        .iter()
        .filter(|p| p.running)
        .map(|p| format!("{} @ {}", p.rollout.target(), p.rollout.scope_label()))
        .collect();
    if running.is_empty() {
        state.quit = true;
        return;
    }
    let lines = vec![
        format!(
            "quit while {} rollout(s) run: {}",
            running.len(),
            running.join(", ")
        ),
        "they stop where they are (the alias keeps its current weights); resume or abort them \
         with the next lops"
            .into(),
    ];
    let region = state.rollouts[0].region;
    state.popup = Some(Popup::Confirm(Pending::new(
        state,
        region,
        Proposal::Quit,
        lines,
    )));
}
