//! Batches: the same kind of change on several targets (a function in several regions, marked
//! rows, the records of an earlier batch to undo). One preview lists every target with
//! before → after and every target skipped with why; one confirmation covers them; they run
//! side by side, a failure stopping none of the others; their audit records share one batch id,
//! so the batch is listed and undone as one. The CLI's multi-region commands and the
//! dashboard's marks and "everywhere" both go through here.

use futures::StreamExt;
use futures::stream::FuturesUnordered;

use super::audit::AuditLog;
use super::execute::new_id;
use super::plan::{Change, Plan, prepare as prepare_one};
use super::{Confirmation, OpsError, Outcome, Request};
use crate::provider::{ProviderError, RegionActions, Scope};

/// One target of a batch, after the ops layer looked at it.
#[derive(Debug, Clone, PartialEq)]
pub enum Item {
    /// Previewed: `source` is the index of the region (scope) it runs in.
    Ready { source: usize, plan: Box<Plan> },
    /// Left out, with why: outside the scope's tier, missing there, not readable. Nothing is
    /// sent to it.
    Skipped {
        source: usize,
        scope: Scope,
        target: String,
        error: OpsError,
    },
}

impl Item {
    pub fn source(&self) -> usize {
        match self {
            Item::Ready { source, .. } | Item::Skipped { source, .. } => *source,
        }
    }

    pub fn plan(&self) -> Option<&Plan> {
        match self {
            Item::Ready { plan, .. } => Some(plan),
            Item::Skipped { .. } => None,
        }
    }
}

/// A preview whose read failed, as both faces say it: the action, its target and scope first
/// (an AWS error names none of them), then the setting or step that would help.
pub fn unreadable(
    action: &str,
    target: &str,
    scope: &impl std::fmt::Display,
    e: &ProviderError,
) -> String {
    format!(
        "{action} of {target} in {scope}: cannot read it for the preview: {e}{}",
        crate::provider::hint(e)
    )
}

/// What a batch asks of one region (by index): a request, or a target the face already knows
/// cannot take it (no such alias there), with why.
#[derive(Debug, Clone, PartialEq)]
pub enum Target {
    Ask(usize, Request),
    Skip(usize, String, OpsError),
    /// A target in a scope the caller has no region for (an audit record of another profile
    /// or region than the dashboard shows).
    Elsewhere(Scope, String, OpsError),
}

#[derive(Debug, Clone, PartialEq)]
pub struct Batch {
    /// Shared by the audit records of its targets.
    pub id: String,
    /// The audit name of what it does ("traffic.rollback"), for its headline.
    pub action: String,
    pub items: Vec<Item>,
}

/// The result of one target, as it lands.
pub type Landed = (usize, Result<Outcome, OpsError>);

impl Batch {
    /// The plans that will write something.
    pub fn changes(&self) -> impl Iterator<Item = &Plan> {
        self.items
            .iter()
            .filter_map(Item::plan)
            .filter(|p| p.change != Change::Nothing)
    }

    /// Targets left out for a reason (a function another profile of the same account already
    /// names is not one: it is acted on, once).
    pub fn skipped(&self) -> impl Iterator<Item = &Item> {
        self.items.iter().filter(|i| match i {
            Item::Skipped { error, .. } => {
                !matches!(error, OpsError::Invalid(m) if super::same_function::acted_on_elsewhere(m))
            }
            Item::Ready { .. } => false,
        })
    }

    /// Whether it takes back an earlier action (whole or not at all).
    pub fn is_undo(&self) -> bool {
        self.action == super::Kind::Undo.name()
    }

    /// An undo takes a batch back whole or not at all: a target it cannot take back (changed
    /// since, not readable, refused) holds back every other, each saying which and why.
    fn whole_or_none(&mut self) {
        let Some(Item::Skipped { scope, target, .. }) = self.skipped().next() else {
            return;
        };
        let why = format!("held back: a batch is undone whole, and {target} in {scope} cannot be");
        // Every other target, one already back included: nothing of it is sent or counted.
        for item in &mut self.items {
            if let Item::Ready { source, plan } = item {
                *item = Item::Skipped {
                    source: *source,
                    scope: plan.scope.clone(),
                    target: plan.target.clone(),
                    error: OpsError::Refused(why.clone()),
                };
            }
        }
    }

    /// One confirmation for every target: typed when any of them needs it, and then the one
    /// target's name, or "N targets" when there are several.
    pub fn confirmation(&self) -> Confirmation {
        let all = Confirmation::all(self.changes().map(Plan::confirmation));
        let mut targets: Vec<&str> = self.changes().map(|p| p.target.as_str()).collect();
        targets.sort_unstable();
        targets.dedup();
        match all {
            Confirmation::Typed(_) if targets.len() > 1 => {
                Confirmation::Typed(format!("{} targets", self.changes().count()))
            }
            other => other,
        }
    }

    /// Something to ask about again (a repeated payload), from every target that has one:
    /// each named, so a refusal says every region it held back.
    pub fn warning(&self) -> Option<String> {
        let mut warnings: Vec<String> = Vec::new();
        for w in self
            .items
            .iter()
            .filter_map(Item::plan)
            .filter_map(|p| p.warning.clone())
        {
            if !warnings.contains(&w) {
                warnings.push(w);
            }
        }
        (!warnings.is_empty()).then(|| warnings.join("; "))
    }

    /// Some target is in a production scope.
    pub fn production(&self) -> bool {
        self.changes().any(|p| p.scope.access.production)
    }

    /// The first line of the preview: "traffic rollback: 6 targets in 3 regions, 1 skipped".
    pub fn headline(&self) -> String {
        let kind = self.action.replace('.', " ");
        let mut scopes: Vec<String> = self
            .changes()
            .map(|p| p.scope.to_string())
            .collect::<Vec<_>>();
        scopes.sort();
        scopes.dedup();
        let changes = self.changes().count();
        let mut line = if changes == 0 {
            format!("{kind}: nothing to change")
        } else {
            format!(
                "{kind}: {changes} {}{} in {} scope{}",
                if self.action == "invoke" {
                    "invoke"
                } else {
                    "change"
                },
                plural(changes),
                scopes.len(),
                plural(scopes.len())
            )
        };
        let same = self.items.iter().filter_map(Item::plan).count() - changes;
        if same > 0 {
            line.push_str(&format!(", {same} already so"));
        }
        let skipped = self.skipped().count();
        if skipped > 0 {
            line.push_str(&format!(", {skipped} skipped"));
        }
        line
    }

    /// Every line of the preview, the headline first, then each target: the changes, then
    /// those already as asked, then those skipped — a few changes among many already so are
    /// not looked for page by page. Targets skipped in one scope for one reason (a read-only
    /// profile's marks) are one line naming them all, the reason said once.
    pub fn lines(&self) -> Vec<String> {
        let mut lines = vec![self.headline()];
        // The same note on every change (the account's unreserved pool not read, say): said
        // once, not on each target.
        let notes: Vec<Option<&String>> = (self.items.iter())
            .filter_map(Item::plan)
            .filter(|p| p.change != Change::Nothing)
            .map(|p| p.note.as_ref())
            .collect();
        let shared = match notes.first() {
            Some(Some(first)) if notes.len() > 1 && notes.iter().all(|n| *n == Some(*first)) => {
                lines.push(format!("for each of the {}: {first}", notes.len()));
                true
            }
            _ => false,
        };
        let ready = |nothing: bool| {
            self.items
                .iter()
                .filter(move |i| {
                    i.plan()
                        .is_some_and(|p| (p.change == Change::Nothing) == nothing)
                })
                .map(move |i| i.short_with(!shared))
        };
        lines.extend(ready(false));
        lines.extend(ready(true));
        // Every target left out is listed, one another profile names too included.
        let mut skipped: Vec<(String, String, Vec<&str>)> = Vec::new();
        for item in &self.items {
            let Item::Skipped {
                scope,
                target,
                error,
                ..
            } = item
            else {
                continue;
            };
            let (scope, reason) = (scope.to_string(), skip_reason(error));
            match skipped
                .iter_mut()
                .find(|(s, r, _)| *s == scope && *r == reason)
            {
                Some((_, _, targets)) => targets.push(target),
                None => skipped.push((scope, reason, vec![target])),
            }
        }
        lines.extend(skipped.into_iter().map(|(scope, reason, targets)| {
            format!("skip {} in {scope}: {reason}", targets.join(", "))
        }));
        lines
    }

    /// What the whole batch did, in one line: "changed 5 of 6; failed: … ; skipped 1".
    pub fn summary(&self, landed: &[Landed]) -> Summary {
        let mut summary = Summary::default();
        for (index, result) in landed {
            let Some(plan) = self.items.get(*index).and_then(Item::plan) else {
                continue;
            };
            match result {
                Ok(_) if plan.change == Change::Nothing => {}
                // Sent, and the function failed: not a change that worked.
                Ok(o) if o.function_failed() => summary.failed.push(format!(
                    "{} in {}: the function failed ({})",
                    plan.target,
                    plan.scope,
                    o.invoke
                        .as_ref()
                        .and_then(|(i, _)| i.function_error.as_deref())
                        .unwrap_or_default()
                )),
                Ok(_) => summary
                    .changed
                    .push(format!("{} {}", plan.target, plan.place())),
                // Refused at the write (changed since the preview, a guard): nothing sent.
                Err(e @ (OpsError::Conflict(_) | OpsError::Refused(_))) => summary
                    .not_sent
                    .push(format!("{} {}: {e}", plan.target, plan.place())),
                Err(e) => summary
                    .failed
                    .push(format!("{} {}: {e}", plan.target, plan.place())),
            }
        }
        summary.asked = self.changes().count();
        summary.already = (self.items.iter().filter_map(Item::plan))
            .filter(|p| p.change == Change::Nothing)
            .count();
        summary.skipped = self.skipped().map(Item::line).collect();
        summary.invoked = self.action == "invoke";
        summary
    }
}

fn plural(n: usize) -> &'static str {
    if n == 1 { "" } else { "s" }
}

/// Previews every target side by side. A target the scope's tier refuses is skipped before
/// anything is read there; one that is missing or cannot be read is skipped with why; none of
/// them stops the others.
pub async fn prepare<S: RegionActions>(
    sources: &[&S],
    targets: Vec<Target>,
    audit: Option<&AuditLog>,
) -> Batch {
    prepare_in(sources, sources.len(), targets, audit).await
}

/// [`prepare`] where only the first `fleet` sources are profiles the session shows functions
/// of (the dashboard's others only reach services' zones under a service's own profile).
pub async fn prepare_in<S: RegionActions>(
    sources: &[&S],
    fleet: usize,
    targets: Vec<Target>,
    audit: Option<&AuditLog>,
) -> Batch {
    let id = new_id();
    let several = targets.len() > 1;
    let action = targets
        .iter()
        .find_map(|t| match t {
            Target::Ask(_, r) => Some(r.name().to_string()),
            Target::Skip(..) | Target::Elsewhere(..) => None,
        })
        .unwrap_or_else(|| "batch".into());
    let accounts = &super::same_function::accounts(sources).await;
    // Each (source, target) that acts, once: two rows of one function through the profile
    // that acts for both.
    let taken: std::sync::Mutex<std::collections::HashSet<(usize, String)>> = Default::default();
    let taken = &taken;
    let previews = targets.into_iter().map(|target| {
        let id = id.clone();
        async move {
            let (source, request, target) = match target {
                Target::Ask(source, r) => (source, Ok(r.clone()), r.target()),
                Target::Skip(source, target, e) => (source, Err(e), target),
                Target::Elsewhere(scope, target, error) => {
                    return Some(Item::Skipped {
                        source: usize::MAX,
                        scope,
                        target,
                        error,
                    });
                }
            };
            let region = sources.get(source)?;
            let scope = region.scope().clone();
            let prepared = match request {
                // Through the strictest profile of the account that has it there, as one
                // row's change is (a marked row of a lesser profile acted, and was audited,
                // through that one).
                Ok(r) => match prepare_one(*region, r.clone(), audit).await {
                    Ok(plan) => {
                        super::same_function::strictest_of_account(
                            sources,
                            accounts,
                            fleet,
                            source,
                            plan,
                            |s| prepare_one(s, r.clone(), audit),
                        )
                        .await
                    }
                    Err(e) => Err(e),
                },
                Err(e) => Err(e),
            };
            Some(match prepared {
                // Another marked row of the same function already acts through that profile:
                // acted on once, said under this row's own scope.
                Ok((acts, plan))
                    if taken
                        .lock()
                        .is_ok_and(|mut t| !t.insert((acts, plan.target.clone()))) =>
                {
                    Item::Skipped {
                        source,
                        scope,
                        target,
                        error: OpsError::Invalid(format!(
                            "the same function as in {}: acted on once",
                            plan.scope
                        )),
                    }
                }
                Ok((source, mut plan)) => {
                    if several {
                        plan.batch = Some(id);
                    }
                    Item::Ready {
                        source,
                        plan: Box::new(plan),
                    }
                }
                Err(error) => Item::Skipped {
                    source,
                    scope,
                    target,
                    error,
                },
            })
        }
    });
    let mut items: Vec<Item> = futures::future::join_all(previews)
        .await
        .into_iter()
        .flatten()
        .collect();
    super::same_function::once_per_function(accounts, &mut items).await;
    super::same_function::other_profiles(sources, fleet, &mut items).await;
    super::reserve::pooled(sources, &mut items).await;
    let mut batch = Batch { id, action, items };
    if batch.is_undo() {
        batch.whole_or_none();
    }
    batch
}

/// One change of one target in `sources[index]`, previewed as [`prepare`] does a batch's:
/// the same rules, the session's other profiles naming the same function included. Acted on
/// through the strictest profile of the account that has it in that region, as a batch or a
/// command is (whichever row named it): the index of the source that acts, and its plan.
pub async fn prepare_one_in<S: RegionActions>(
    sources: &[&S],
    fleet: usize,
    index: usize,
    request: Request,
    audit: Option<&AuditLog>,
) -> Result<(usize, Plan), OpsError> {
    let region = sources
        .get(index)
        .ok_or_else(|| OpsError::Invalid("no such region".into()))?;
    let plan = prepare_one(*region, request.clone(), audit).await?;
    let accounts = super::same_function::accounts(&sources[..fleet.min(sources.len())]).await;
    let (index, plan) =
        super::same_function::strictest_of_account(sources, &accounts, fleet, index, plan, |s| {
            prepare_one(s, request.clone(), audit)
        })
        .await?;
    let mut items = [Item::Ready {
        source: index,
        plan: Box::new(plan),
    }];
    super::same_function::other_profiles(sources, fleet, &mut items).await;
    let [item] = items;
    match item {
        Item::Ready { plan, .. } => Ok((index, *plan)),
        Item::Skipped { error, .. } => Err(error),
    }
}

pub use super::trigger_plan::trigger_targets;

#[path = "batch_text.rs"]
mod text;
use text::skip_reason;

/// Executes every ready target side by side (each compared again, written, read back and
/// audited by `ops::execute`) and yields each result as it lands, with its item's index.
pub fn execute<'a, S: RegionActions>(
    sources: &'a [&'a S],
    batch: &'a Batch,
    audit: Option<&'a AuditLog>,
) -> impl futures::Stream<Item = Landed> + 'a {
    use futures::FutureExt;
    let ready: Vec<(usize, &S, &Plan)> = (batch.items.iter().enumerate())
        .filter_map(|(index, item)| match item {
            Item::Ready { source, plan } => Some((index, *source, &**plan)),
            Item::Skipped { .. } => None,
        })
        .filter_map(|(index, source, plan)| Some((index, *sources.get(source)?, plan)))
        .collect();
    // An undo is whole or nothing at its write too: every target is compared again first, and
    // one changed since the preview holds back the rest (nothing sent anywhere).
    let whole = batch.is_undo() && ready.len() > 1;
    let all = ready.clone();
    let check = async move {
        if !whole {
            return None;
        }
        let compared = all.iter().map(|(index, source, plan)| async move {
            (*index, super::execute::unchanged(*source, plan).await)
        });
        let changed = futures::future::join_all(compared).await.into_iter();
        changed
            .filter_map(|(index, r)| Some((index, r.err()?)))
            .next()
    }
    .boxed()
    .shared();
    ready
        .into_iter()
        .map(move |(index, source, plan)| {
            let check = check.clone();
            async move {
                let held = match check.await {
                    Some((at, e)) if at == index => e,
                    Some((at, e)) => {
                        let other = batch.items[at]
                            .plan()
                            .map_or(String::new(), |p| format!("{} in {}", p.target, p.scope));
                        match e {
                            OpsError::Conflict(_) => OpsError::Conflict(
                                format!(
                                    "held back: a batch is undone whole, and {other} changed \
                                     since the preview: nothing changed"
                                )
                                .into(),
                            ),
                            // Its read failed: not known to have changed, and not compared.
                            e => OpsError::Refused(format!(
                                "held back: a batch is undone whole, and {other} could not be \
                                 compared again ({e}): nothing changed"
                            )),
                        }
                    }
                    None => return (index, super::execute(source, plan, audit).await),
                };
                (
                    index,
                    Err(super::audit::not_sent(source, plan, audit, held).await),
                )
            }
        })
        .collect::<FuturesUnordered<_>>()
}

/// Executes a batch to the end and returns every result.
pub async fn execute_all<S: RegionActions>(
    sources: &[&S],
    batch: &Batch,
    audit: Option<&AuditLog>,
) -> Vec<Landed> {
    let mut landed: Vec<Landed> = execute(sources, batch, audit).collect().await;
    landed.sort_by_key(|(i, _)| *i);
    landed
}

/// Why `undo` has nothing to revert, and — when the newest change was a restore over a
/// function that existed — the safety snapshot that puts back what it replaced.
pub use super::undo::{
    BATCH_MARK, NotUndone, ROLLOUT_BATCH, Reach, choose, choose_in, elsewhere, in_scope, not_here,
    not_that_batch, nothing_here, nothing_to_undo, partial_batch, scopes_of, targets_for,
    undo_refused, undo_targets,
};

#[path = "batch_summary.rs"]
mod summary;
pub use summary::Summary;

#[cfg(test)]
#[path = "batch_tests.rs"]
pub(crate) mod tests;

#[cfg(test)]
#[path = "batch_preview_tests.rs"]
mod preview_tests;
