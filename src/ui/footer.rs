//! The footer's line of regions: each region's freshness and the reads that fail, fitted to
//! the width without cutting a name or a count.

use ratatui::text::Span;

use super::theme::Theme;
use super::{health_label, health_mark};
use crate::state::{RegionHealth, State};

/// One entry of the footer's line of regions: the regions that say the same thing.
struct FooterEntry {
    severity: u8,
    mark: Span<'static>,
    scopes: Vec<String>,
    says: String,
    /// What it says without its age: regions alike but for how old their data is group on it.
    alike: String,
}

impl FooterEntry {
    /// "✗ us-west-2 unreachable", or "✗ unreachable (inv): eu-west-1 us-east-1" for several.
    fn spans(&self, gap: &str) -> [Span<'static>; 2] {
        let text = match self.scopes.as_slice() {
            [one] => format!(" {one} {}{gap}", self.says),
            many => format!(" {}: {}{gap}", self.says, many.join(" ")),
        };
        [self.mark.clone(), Span::raw(text)]
    }
}

/// The footer's line of regions: each region's mark, scope and freshness (with the reads that
/// fail). A line too narrow for all of them keeps those in trouble first, worst first, groups
/// regions that say the same thing, counts the fresh ones, and ends in `+N` for the regions it
/// could not show (`+4 stale`, or `+4` continuing the list before it): it never cuts a region's name or a count in half.
pub(super) fn regions(state: &State, theme: &Theme, width: usize) -> Vec<Span<'static>> {
    let stale_after = state.stale_after_secs();
    let mut entries: Vec<FooterEntry> = Vec::new();
    for r in &state.regions {
        let h = r.health(state.now, stale_after);
        let severity = match h {
            RegionHealth::Unreachable { .. } => 3,
            RegionHealth::Stale { .. } => 2,
            RegionHealth::Loading => 1,
            RegionHealth::Fresh { .. } => 0,
        };
        // Which read fails, so "stale" says why; the regions view (2) has the whole message.
        let failing = r.failing_reads();
        let why = match failing.len() {
            0 => String::new(),
            3 => " (all reads)".to_string(),
            _ => format!(" ({})", failing.join(",")),
        };
        let progress = r
            .progress_label()
            .map(|p| format!(" {p}"))
            .unwrap_or_default();
        // Reads that never answered have no age to give: "not read", not "stale 6s" (which
        // reads as numbers six seconds old).
        let never = matches!(h, RegionHealth::Stale { .. }) && r.failing_never_read();
        let (label, kind) = match &h {
            _ if never => ("not read".to_string(), "not read".to_string()),
            RegionHealth::Stale { .. } => (health_label(&h), "stale".to_string()),
            other => (health_label(other), health_label(other)),
        };
        entries.push(FooterEntry {
            severity,
            mark: health_mark(&h, theme),
            scopes: vec![r.scope.to_string()],
            says: format!("{label}{progress}{why}"),
            alike: format!("{kind}{progress}{why}"),
        });
    }
    let width_of = |spans: &[Span]| spans.iter().map(|s| s.width()).sum::<usize>();
    let [ok, _, _] = theme.marks();
    // The line of these entries, then "+N" regions left out and the fresh ones counted.
    // Those left out say what they are when they are alike (`+4 stale`), else only how many.
    let line_of = |entries: &[FooterEntry], gap: &str, left_out: &[u8], fresh: usize| {
        let mut out = vec![Span::raw(" ")];
        for entry in entries {
            out.extend(entry.spans(gap));
        }
        if let Some(first) = left_out.first() {
            // Alike and of the last entry's kind, they continue its list: `+N` says it.
            let alike = left_out.iter().all(|s| s == first);
            if alike && entries.last().is_some_and(|e| e.severity == *first) {
                out.push(Span::raw(format!("+{} ", left_out.len())));
            } else {
                for (severity, kind) in [(3, "unreachable"), (2, "stale"), (1, "loading")] {
                    let n = left_out.iter().filter(|s| **s == severity).count();
                    if n > 0 {
                        out.push(Span::raw(format!("+{n} {kind} ")));
                    }
                }
            }
        }
        if fresh > 0 {
            out.push(Span::styled(ok, theme.ok()));
            out.push(Span::raw(format!(" {fresh} fresh")));
        }
        out
    };
    let spans = line_of(&entries, "  ", &[], 0);
    if width_of(&spans) <= width {
        return spans;
    }
    // Squeezed: one space between regions, the reads' names shortened.
    for entry in entries.iter_mut() {
        for text in [&mut entry.says, &mut entry.alike] {
            *text = text.replace("all reads", "all").replace("inventory", "inv");
        }
    }
    let spans = line_of(&entries, " ", &[], 0);
    if width_of(&spans) <= width {
        return spans;
    }
    // The regions in trouble first, worst first; the fresh ones counted at the end.
    let fresh = entries.iter().filter(|e| e.severity == 0).count();
    entries.retain(|e| e.severity > 0);
    entries.sort_by_key(|e| std::cmp::Reverse(e.severity));
    let spans = line_of(&entries, " ", &[], fresh);
    if width_of(&spans) <= width {
        return spans;
    }
    // Regions that say the same thing on one entry — the same but for their age too (the
    // regions view says each one's): `▲ stale (metrics,alarms): eu-west-1 us-west-2`.
    let mut grouped: Vec<FooterEntry> = Vec::new();
    for entry in entries {
        match grouped
            .iter_mut()
            .find(|g| g.severity == entry.severity && g.alike == entry.alike)
        {
            Some(g) => {
                g.scopes.extend(entry.scopes);
                g.says = g.alike.clone();
            }
            None => grouped.push(entry),
        }
    }
    // Still too wide: as many whole entries as fit, then how many regions were left out.
    let mut left_out: Vec<u8> = Vec::new();
    loop {
        let spans = line_of(&grouped, " ", &left_out, fresh);
        if width_of(&spans) <= width {
            return spans;
        }
        let Some(last) = grouped.last_mut() else {
            // Not even the counts fit with the fresh ones: the regions left out alone.
            return line_of(&[], " ", &left_out, 0);
        };
        left_out.push(last.severity);
        if last.scopes.len() > 1 {
            last.scopes.pop();
        } else {
            grouped.pop();
        }
    }
}
