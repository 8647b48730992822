//! One function reached through two profiles of one account: acted on once, through the
//! strictest of them (see [`once_per_function`]).

use super::OpsError;
use super::batch::Item;
use crate::provider::{RegionActions, Scope};

/// What a change's target is called in these messages: a trigger (a rule, a mapping — also
/// when an undo sets it back) is not a function.
fn noun(change: &super::plan::Change) -> &'static str {
    match change {
        super::plan::Change::Trigger { .. } => "trigger",
        _ => "function",
    }
}

/// Whether `message` says a target was left out as one another profile acts on (not a skip).
pub(super) fn acted_on_elsewhere(message: &str) -> bool {
    ["function", "trigger"]
        .iter()
        .any(|n| message.starts_with(&format!("the same {n} as in")))
}

/// Two profiles of one account name the same function in a region: it is acted on once, the
/// others skipped and said — never changed twice after one confirmation. Which profile acts is
/// never a matter of the order they were given in: the strictest (a production one first, then
/// the lower tier), so widening a production row to the other profiles keeps its typed
/// confirmation; and where one of them refused it (its tier), the function is refused in all.
/// The account is STS's (asked once per scope) and only when the batch spans several profiles.
pub(super) async fn once_per_function(accounts: &[Option<String>], items: &mut [Item]) {
    let profiles: std::collections::BTreeSet<&str> = items
        .iter()
        .map(|i| match i {
            Item::Ready { plan, .. } => plan.scope.profile.as_str(),
            Item::Skipped { scope, .. } => scope.profile.as_str(),
        })
        .collect();
    if profiles.len() < 2 {
        return;
    }
    // Each item's function: (account as STS says, or None when it did not answer; region,
    // target).
    let mut keys: Vec<(Option<String>, String, String)> = Vec::with_capacity(items.len());
    for item in items.iter() {
        let (scope, target) = match item {
            Item::Ready { plan, .. } => (&plan.scope, &plan.target),
            Item::Skipped { scope, target, .. } => (scope, target),
        };
        let account = accounts.get(item.source()).cloned().flatten();
        keys.push((account, scope.region.clone(), target.clone()));
    }
    // The same function: the same region and target, in one account — or in a profile whose
    // account is not known (STS did not say), taken as the same rather than acted on twice.
    let same = |i: usize, j: usize| {
        let (a, b) = (&keys[i], &keys[j]);
        a.1 == b.1 && a.2 == b.2 && (a.0.is_none() || b.0.is_none() || a.0 == b.0)
    };
    let strictness = |scope: &Scope| (!scope.access.production, scope.access.tier);
    let scope_of = |item: &Item| match item {
        Item::Ready { plan, .. } => plan.scope.clone(),
        Item::Skipped { scope, .. } => scope.clone(),
    };
    let mut grouped = vec![false; items.len()];
    for i in 0..items.len() {
        if grouped[i] {
            continue;
        }
        // Each member the same as every other: two profiles STS placed in different accounts
        // are never merged through a third whose account is not known.
        let mut group: Vec<usize> = vec![i];
        for (j, done) in grouped.iter().enumerate().skip(i + 1) {
            if !done && group.iter().all(|k| same(*k, j)) {
                group.push(j);
            }
        }
        for j in &group {
            grouped[*j] = true;
        }
        let scopes: Vec<Scope> = group.iter().map(|j| scope_of(&items[*j])).collect();
        let profiles: std::collections::BTreeSet<&str> =
            scopes.iter().map(|s| s.profile.as_str()).collect();
        if profiles.len() < 2 {
            continue;
        }
        let account = group
            .iter()
            .find_map(|j| keys[*j].0.clone())
            .map_or("not known: STS did not say".to_string(), |a| a);
        let unknown: Vec<&str> = group
            .iter()
            .filter(|j| keys[**j].0.is_none())
            .map(|j| {
                scopes[group.iter().position(|g| g == j).unwrap_or(0)]
                    .profile
                    .as_str()
            })
            .collect();
        let refused = group.iter().find_map(|j| match &items[*j] {
            Item::Skipped {
                scope,
                error: OpsError::Refused(why),
                ..
            } => Some(format!("{scope}: {why}")),
            _ => None,
        });
        // The strictest protection of any of them holds for the one that acts: a production
        // profile's typed confirmation even when it cannot act itself (no kill recorded there).
        let production = scopes.iter().any(|s| s.access.production);
        // A profile whose account STS did not say is the one left out (it may be another
        // account's function): one whose account is known acts, the strictest of them.
        let keeper = group
            .iter()
            .filter_map(|j| match &items[*j] {
                Item::Ready { plan, .. } => {
                    Some((*j, (keys[*j].0.is_none(), strictness(&plan.scope))))
                }
                Item::Skipped { .. } => None,
            })
            .min_by_key(|(_, strict)| *strict)
            .map(|(j, _)| j);
        let Some(keeper) = keeper else {
            continue;
        };
        let there = items[keeper]
            .plan()
            .map(|p| p.scope.to_string())
            .unwrap_or_default();
        let taken = if unknown.is_empty() {
            format!("account {account}")
        } else {
            format!(
                "account of {} not known: STS did not say",
                unknown.join(", ")
            )
        };
        // Known to be the same: said as such (not a skip). Not known: left out and said, a
        // skip (exit 3), for it may be another account's function.
        // Known to be the keeper's account: the same function, said as such; not known (this
        // profile's or the keeper's): it may be, left out.
        let keeper_known = keys[keeper].0.clone();
        let noun = items[keeper].plan().map_or("function", |p| noun(&p.change));
        let other = |j: usize| {
            if unknown.is_empty() {
                OpsError::Invalid(format!(
                    "the same {noun} as in {there} ({taken}): acted on once"
                ))
            } else if let (Some(mine), Some(theirs)) = (&keys[j].0, &keeper_known)
                && mine == theirs
            {
                OpsError::Invalid(format!(
                    "the same {noun} as in {there} (account {mine}): acted on once"
                ))
            } else {
                OpsError::Invalid(format!(
                    "may be the same {noun} as in {there} ({taken}): left out — act on it \
                     through this profile alone if it is another account's"
                ))
            }
        };
        let refusal = |why: &str| {
            OpsError::Refused(format!(
                "the same {noun} is refused under another profile ({taken}; {why}): not \
                 changed through this one"
            ))
        };
        for j in group {
            match &mut items[j] {
                Item::Ready { source, plan } => {
                    let error = match &refused {
                        Some(why) => refusal(why),
                        None if j == keeper => {
                            plan.scope.access.production |= production;
                            continue;
                        }
                        None => other(j),
                    };
                    items[j] = Item::Skipped {
                        source: *source,
                        scope: plan.scope.clone(),
                        target: plan.target.clone(),
                        error,
                    };
                }
                // Left out for a reason of its own (no kill recorded under it, say) while the
                // same function is acted on through another: said as that.
                Item::Skipped { error, .. }
                    if refused.is_none() && !matches!(error, OpsError::Refused(_)) =>
                {
                    *error = other(j);
                }
                // A row left out as acted on through another that is refused now: refused
                // too (it said "acted on once" beside the refusal, nothing acted).
                Item::Skipped { error, .. } if acted_on_elsewhere(&error.to_string()) => {
                    if let Some(why) = &refused {
                        *error = refusal(why);
                    }
                }
                Item::Skipped { .. } => {}
            }
        }
    }
}

/// A command that acts through one scope of its region (a restore, a drill, a prune) while
/// the session has several profiles there: it acts once, through the strictest of them (the
/// lowest tier, then a production one), whatever the order they were given in — so a
/// read-only profile among them refuses, and a production one of the same tier asks its typed
/// name. Profiles that reach different accounts,
/// or one whose account STS did not say, are refused: which account was meant is not lops's
/// guess. The index in `sources` of the one that acts.
pub async fn one_acting<S: RegionActions>(sources: &[&S], what: &str) -> Result<usize, OpsError> {
    if sources.len() < 2 {
        return Ok(0);
    }
    let mut accounts = Vec::with_capacity(sources.len());
    for s in sources {
        accounts.push(account(*s).await);
    }
    let known: std::collections::BTreeSet<&String> = accounts.iter().flatten().collect();
    if known.len() != 1 || accounts.iter().any(Option::is_none) {
        let each: Vec<String> = sources
            .iter()
            .zip(&accounts)
            .map(|(s, a)| match a {
                Some(a) => format!("{} in account {a}", s.scope().profile),
                None => format!(
                    "{} in an account not known (STS did not say)",
                    s.scope().profile
                ),
            })
            .collect();
        return Err(OpsError::Invalid(format!(
            "{what} acts through one profile, and these may reach different accounts ({}): \
             pass the one meant with --profile",
            each.join(", ")
        )));
    }
    // The lowest tier first (one that may not make the change refuses it through all of
    // them), then a production one among those of that tier (its typed name holds).
    let strictness = |s: &Scope| (s.access.tier, !s.access.production);
    Ok((0..sources.len())
        .min_by_key(|i| strictness(sources[*i].scope()))
        .unwrap_or(0))
}

/// The source that acts on a change previewed through `sources[index]` (`plan`): the
/// strictest (a production profile, then the lower tier) of the fleet's profiles of the same
/// account in that region that has the same target, previewed there with `prepare`. The row's
/// own when no other is stricter, or the accounts are not known (STS did not say).
pub(super) async fn strictest_of_account<'a, S, F, Fut>(
    sources: &[&'a S],
    accounts: &[Option<String>],
    fleet: usize,
    index: usize,
    plan: super::Plan,
    prepare: F,
) -> Result<(usize, super::Plan), OpsError>
where
    S: RegionActions,
    F: Fn(&'a S) -> Fut,
    Fut: std::future::Future<Output = Result<super::Plan, OpsError>>,
{
    // A service's record set is changed through the service's own profile (its config says
    // which), an undo where its record was made: neither moves.
    if matches!(plan.change, super::plan::Change::Dns { .. }) || plan.undoes.is_some() {
        return Ok((index, plan));
    }
    for i in stricter(sources, accounts, fleet, index) {
        // The same target there (a function another profile cannot see is not its to act on);
        // any other failure there is this change's (it acted through the lesser profile when
        // the stricter one's read was throttled).
        match prepare(sources[i]).await {
            Ok(there) if there.target == plan.target => return Ok((i, there)),
            Ok(_) => {}
            Err(e) if left_to_the_row(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((index, plan))
}

/// Whether a preview through a stricter profile failed for a reason the row's own preview
/// then says in full: its target is not there (that profile cannot see it), or that profile
/// refuses the change (`other_profiles_rule` refuses it through the row's, naming it).
fn left_to_the_row(e: &OpsError) -> bool {
    match e {
        OpsError::Refused(_) => true,
        OpsError::Provider(crate::provider::ProviderError::NotFound(_)) => true,
        OpsError::Invalid(m) => m.contains("does not exist"),
        _ => false,
    }
}

/// The fleet's other profiles of `sources[index]`'s account in its region that are stricter
/// than its own (a production one, then the lower tier), strictest first: those that act on a
/// change named through it, where they have the same target. Empty where the account is not
/// known (STS did not say, or the session has one profile).
fn stricter<S: RegionActions>(
    sources: &[&S],
    accounts: &[Option<String>],
    fleet: usize,
    index: usize,
) -> Vec<usize> {
    let strictness = |scope: &Scope| (!scope.access.production, scope.access.tier);
    let fleet = &sources[..fleet.min(sources.len())];
    let (Some(here), Some(mine)) = (sources.get(index), accounts.get(index).cloned().flatten())
    else {
        return Vec::new();
    };
    let here = here.scope();
    let mut out: Vec<usize> = (0..fleet.len())
        .filter(|i| {
            let scope = fleet[*i].scope();
            scope.region == here.region
                && scope.profile != here.profile
                && strictness(scope) < strictness(here)
                && accounts.get(*i).cloned().flatten().as_deref() == Some(mine.as_str())
        })
        .collect();
    out.sort_by_key(|i| (strictness(fleet[*i].scope()), *i));
    out
}

/// The source that starts a rollout named through `sources[index]`, and its preview: as
/// [`strictest_of_account`] chooses for a change (a rollout is a change of its alias), the
/// strictest profile of the account in that region that has the same alias, else the row's
/// own. `start` previews it through a source.
pub async fn rollout_acting<'a, S, F, Fut, T>(
    sources: &[&'a S],
    fleet: usize,
    index: usize,
    start: F,
) -> Result<(usize, T), OpsError>
where
    S: RegionActions,
    F: Fn(&'a S) -> Fut,
    Fut: std::future::Future<Output = Result<T, OpsError>>,
{
    let source = sources
        .get(index)
        .copied()
        .ok_or_else(|| OpsError::Invalid("no such region".into()))?;
    let own = start(source).await?;
    let accounts = accounts(&sources[..fleet.min(sources.len())]).await;
    for i in stricter(sources, &accounts, fleet, index) {
        match start(sources[i]).await {
            Ok(there) => return Ok((i, there)),
            Err(e) if left_to_the_row(&e) => {}
            Err(e) => return Err(e),
        }
    }
    Ok((index, own))
}

/// Each source's account as STS says it, asked once each in the order the profiles were given
/// (the previews ask side by side: which answer was missing then depended on timing); all
/// `None` (nothing asked) with one profile, where no function is reached twice.
pub(super) async fn accounts<S: RegionActions>(sources: &[&S]) -> Vec<Option<String>> {
    let profiles: std::collections::BTreeSet<&str> =
        sources.iter().map(|s| s.scope().profile.as_str()).collect();
    let mut out = Vec::with_capacity(sources.len());
    for s in sources {
        out.push(match profiles.len() > 1 {
            true => account(*s).await,
            false => None,
        });
    }
    out
}

/// The account in a scope's caller ARN, as STS says it (asked once per scope); `None` when STS
/// did not answer.
pub(crate) async fn account<S: RegionActions>(region: &S) -> Option<String> {
    let arn = region.caller().await.ok()?;
    super::payload::account_of(&arn).map(str::to_string)
}

/// The session's other profiles reach a target too: one function of one account, whichever
/// row (or command) names it. For a change in `sources[index]`, every other profile the
/// session has in that region whose account STS names as the same is one more view of that
/// function, although the change does not act through it: its tier refusing the change
/// refuses it here (as `--profile a,b` refuses it through both), and a production one makes
/// the change ask for the typed name (`Ok(true)`). Only `fleet` (the first sources: the
/// profiles the session shows functions of) count. A profile whose account is not known (STS
/// did not answer, for it or for this one) may be the same account: its rules hold too, as
/// `--profile a,b` keeps them (the strictest of them all).
/// `skip`: sources that name the target themselves (a batch's own targets).
pub async fn other_profiles_rule<S: RegionActions>(
    sources: &[&S],
    fleet: usize,
    index: usize,
    needs: crate::config::Tier,
    (action, noun): (&str, &str),
    skip: &(dyn Fn(usize) -> bool + Sync),
) -> Result<bool, OpsError> {
    let fleet = &sources[..fleet.min(sources.len())];
    let Some(here) = sources.get(index) else {
        return Ok(false);
    };
    let scope = here.scope();
    let others: Vec<usize> = fleet
        .iter()
        .enumerate()
        .filter(|(c, s)| {
            s.scope().region == scope.region && s.scope().profile != scope.profile && !skip(*c)
        })
        .map(|(c, _)| c)
        .collect();
    if others.is_empty() {
        return Ok(false);
    }
    // Asked in the order the profiles were given (which answer is missing does not depend on
    // timing).
    let mine = account(*here).await;
    let mut production = false;
    for c in others {
        let account = account(fleet[c]).await;
        // Another account: its own function. Not known (either side): it may be this one.
        let other = fleet[c].scope();
        let (taken, otherwise) = match (&mine, &account) {
            (Some(mine), Some(theirs)) if mine != theirs => continue,
            (Some(mine), Some(_)) => (
                format!("the same {noun} is refused under another profile (account {mine}"),
                String::new(),
            ),
            // The one whose STS did not say.
            (_, None) | (None, Some(_)) => (
                format!(
                    "the {noun} may be the same under another profile (account of {} not \
                     known: STS did not say",
                    match account {
                        None => &other.profile,
                        Some(_) => &scope.profile,
                    }
                ),
                format!(
                    " — if it is another account's, act on it in a session without profile {}",
                    other.profile
                ),
            ),
        };
        let what = format!("{} in {other}", action.replace('.', " "));
        if let Err(OpsError::Refused(why)) = super::authorize(other.access.tier, needs, &what) {
            return Err(OpsError::Refused(format!(
                "{taken}; {other}: {why}): not changed through this one{otherwise}"
            )));
        }
        production |= other.access.production;
    }
    Ok(production)
}

/// [`other_profiles_rule`] for each change a batch makes (a service's change is not a
/// function's: its own profile rule holds there).
pub(super) async fn other_profiles<S: RegionActions>(
    sources: &[&S],
    fleet: usize,
    items: &mut [Item],
) {
    let named: Vec<(usize, String)> = items
        .iter()
        .map(|i| match i {
            Item::Ready { source, plan } => (*source, plan.target.clone()),
            Item::Skipped { source, target, .. } => (*source, target.clone()),
        })
        .collect();
    for item in items.iter_mut() {
        let Item::Ready { source, plan } = item else {
            continue;
        };
        // A Route 53 change, or its undo.
        let dns = matches!(plan.change, super::Change::Dns { .. });
        if dns || plan.change == super::Change::Nothing {
            continue;
        }
        let target = plan.target.clone();
        let skip = |c: usize| named.iter().any(|(n, t)| *n == c && *t == target);
        let named_as = (plan.action, noun(&plan.change));
        match other_profiles_rule(sources, fleet, *source, plan.needs, named_as, &skip).await {
            Ok(production) => plan.scope.access.production |= production,
            Err(error) => {
                *item = Item::Skipped {
                    source: *source,
                    scope: plan.scope.clone(),
                    target,
                    error,
                };
            }
        }
    }
}
