//! Moving between views: the number keys and the palette switch between siblings, `esc`
//! goes back, `enter` opens a function's detail.

use super::{State, View};

/// The views the number keys and the palette switch between: siblings, not a path. Going to
/// one forgets the way there, so `esc` never walks back through every tab visited.
fn top_level(view: &View) -> bool {
    matches!(
        view,
        View::Fleet | View::Regions | View::Load | View::Services
    )
}

pub(super) fn switch_view(state: &mut State, view: View) {
    if state.view == view {
        return;
    }
    let previous = std::mem::replace(&mut state.view, view);
    if top_level(&state.view) {
        state.back.clear();
    } else {
        state.back.push(previous);
        // The oldest goes first.
        if state.back.len() > 16 {
            state.back.remove(0);
        }
    }
}

pub(super) fn go_back(state: &mut State) {
    if let Some(previous) = state.back.pop() {
        state.view = previous;
    } else if state.view != View::Fleet {
        // A tab other than the fleet: back to the fleet, where the marks and the filter are.
        state.view = View::Fleet;
    } else if !state.marks.is_empty() {
        state.marks.clear();
    } else if !state.filter.is_empty() {
        state.filter.clear();
        state.rebuild_rows();
    }
}

pub(super) fn open_detail(state: &mut State) {
    if let Some((region, f)) = state.focus() {
        let view = View::Detail {
            region,
            function: f.info.name.clone(),
        };
        switch_view(state, view);
    }
}
