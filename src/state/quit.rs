//! Quitting the dashboard: at once, or asked first while something it started runs (a change
//! being written, a backup, a batch, a rollout) — they stop with lops.

use super::confirm::{Pending, Proposal};
use super::{Popup, State};

/// What quitting now would stop, a line each (with what to do about it); empty: nothing runs.
fn what_runs(state: &State) -> (Vec<String>, usize) {
    let mut lines = Vec::new();
    // The region the question is asked in (a batch's or a rollout's, else the first).
    let mut region = 0;
    // A change sent, its result not back: its write and audit record may not land.
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
    if let Some(run) = state.batch_run.as_ref().filter(|r| !r.done()) {
        region = run.batch.items.first().map(|i| i.source()).unwrap_or(0);
        lines.push(format!(
            "quit while a batch runs ({}: {} of {} answered)",
            run.batch.action.replace('.', " "),
            run.landed.len(),
            run.batch
                .items
                .iter()
                .filter(|i| i.plan().is_some())
                .count()
        ));
        lines.push(
            "a target still waiting for its answer stays recorded as started, its outcome not \
             known (undo reads it to find out): wait for the batch (esc shows it again with the \
             batch popup) unless you must"
                .into(),
        );
    }
    let running: Vec<&super::actions::RolloutView> =
        state.rollouts.iter().filter(|p| p.running).collect();
    if let Some(first) = running.first() {
        region = first.region;
        let named: Vec<String> = running
            .iter()
            .map(|p| format!("{} @ {}", p.rollout.target(), p.rollout.scope_label()))
            .collect();
        lines.push(format!(
            "quit while {} rollout(s) run: {}",
            running.len(),
            named.join(", ")
        ));
        lines.push(
            "they stop where they are (the alias keeps its current weights); resume or abort \
             them with the next lops"
                .into(),
        );
    }
    (lines, region)
}

/// `q`: quits, or asks first — one question naming everything that would stop.
pub fn quit(state: &mut State) {
    let (lines, region) = what_runs(state);
    if lines.is_empty() {
        state.quit = true;
        return;
    }
    state.popup = Some(Popup::Confirm(Pending::new(
        state,
        region,
        Proposal::Quit,
        lines,
    )));
}

/// Whether the question "quit while … runs?" is open.
pub fn asking(state: &State) -> bool {
    matches!(&state.popup, Some(Popup::Confirm(p)) if matches!(p.proposal, Proposal::Quit))
}

/// A result (a change's, a backup's) that lands while quitting is asked: once nothing runs any
/// more, lops quits and says it once the terminal is back; while something still runs, the
/// result is shown (the question is asked again by the next `q`). Otherwise, shown.
pub fn show_result(state: &mut State, said: String) {
    if asking(state) && what_runs(state).0.is_empty() {
        state.popup = None;
        state
            .exit_notes
            .push(format!("lops: {}", said.replace('\n', "; ")));
        state.quit = true;
        return;
    }
    state.popup = Some(Popup::Notice(said));
}
