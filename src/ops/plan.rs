//! Typed plans: a request is validated against what the region holds now, previewed as
//! before → after, and executed only if the target still looks as it did in the preview.

use serde_json::{Value, json};

use super::audit::AuditLog;
use super::history::History;
pub use super::request::Request;
use super::request::{check_version, check_weight};
use super::{Confirmation, OpsError, Tier, authorize, confirmation};
use crate::provider::{AliasInfo, InvokeRequest, ProviderError, RegionActions, Scope, TriggerKind};

/// The write a plan performs, with what the target must still look like.
#[derive(Debug, Clone, PartialEq)]
pub enum Change {
    Route {
        function: String,
        alias: String,
        main: String,
        extra: Option<(String, f64)>,
        expected: AliasInfo,
    },
    Reserve {
        function: String,
        value: Option<i32>,
        expected: Option<i32>,
    },
    Invoke(InvokeRequest),
    Trigger {
        kind: TriggerKind,
        id: String,
        enabled: bool,
        expected: bool,
    },
    /// A service's Route 53 members, written in one batch after comparing `expected` again.
    Dns {
        service: Box<crate::config::ServiceSettings>,
        expected: Vec<crate::provider::dns::DnsRecord>,
        records: Vec<crate::provider::dns::DnsRecord>,
        /// A restore or the undo of a drain: the guard never refuses it.
        gives_back: bool,
    },
    /// Already as asked: nothing to write.
    Nothing,
}

#[derive(Debug, Clone, PartialEq)]
pub struct Plan {
    /// Where it acts, with the access the session gave that scope.
    pub scope: Scope,
    pub action: &'static str,
    pub target: String,
    pub needs: Tier,
    /// Asks for the typed target name, not just yes.
    pub destructive: bool,
    /// Something to ask about again (the same payload sent moments ago); makes the
    /// confirmation a typed one.
    pub warning: Option<String>,
    pub before: Value,
    pub after: Value,
    pub change: Change,
    /// The audit record this plan undoes.
    pub undoes: Option<String>,
    /// The batch this plan is one target of (its audit record carries it).
    pub batch: Option<String>,
    /// Why it is made, when not a person's key or command: a rollout's step, its guard's
    /// rollback, an abort (its audit record carries it).
    pub reason: Option<String>,
    /// Said with the preview: what could not be checked (never part of the state compared).
    pub note: Option<String>,
}

impl Plan {
    /// Where the change happens, as both faces say it after its target: `in default/eu-west-1`,
    /// or `(Route 53, profile default)` for a service's record set (not the home region its
    /// call goes through).
    pub fn place(&self) -> String {
        if self.action.starts_with("service.") || matches!(self.change, Change::Dns { .. }) {
            format!("(Route 53, profile {})", self.scope.profile)
        } else {
            format!("in {}", self.scope)
        }
    }

    /// What the user must answer before this plan runs (the one rule, in `ops`).
    pub fn confirmation(&self) -> Confirmation {
        if self.change == Change::Nothing {
            return Confirmation::None;
        }
        confirmation(
            &self.target,
            &self.scope,
            self.destructive,
            self.warning.is_some(),
        )
    }

    /// One line: what changes where, before → after.
    pub fn preview(&self) -> String {
        let text = self.preview_change();
        match &self.note {
            Some(note) => format!("{text} ({note})"),
            None => text,
        }
    }

    fn preview_change(&self) -> String {
        match &self.change {
            Change::Nothing if self.action.starts_with("service.") => format!(
                "service {}: already {}, nothing to do",
                self.target,
                super::service::describe_change(&self.before, &self.after)
            ),
            Change::Dns { .. } => format!(
                "{} {} (Route 53, profile {}): {}{}",
                self.action,
                self.target,
                self.scope.profile,
                super::service::describe_change(&self.before, &self.after),
                self.after
                    .get("ttl")
                    .and_then(Value::as_i64)
                    .map(|t| match t {
                        0 => "; resolvers keep no old answer (TTL 0)".to_string(),
                        t => format!("; resolvers may keep the old answer up to {t} s (TTL)"),
                    })
                    .unwrap_or_default()
            ),
            // Named by its action: a rollback and a pin that find the same state read apart.
            Change::Nothing => format!(
                "{} {} in {}: already {}, nothing to do",
                self.action.replace('.', " "),
                self.target,
                self.scope,
                describe(&self.after)
            ),
            Change::Invoke(r) => format!(
                "invoke {} in {} ({}) with {}{}",
                self.target,
                self.scope,
                super::invoke::invoke_target_text(&self.before),
                super::payload::said(&r.payload),
                if r.asynchronous {
                    " (asynchronous)"
                } else {
                    ""
                }
            ),
            _ => format!(
                "{} {} in {}: {} → {}",
                self.action,
                self.target,
                self.scope,
                describe(&self.before),
                describe(&self.after)
            ),
        }
    }
}

pub(super) use super::describe::{alias_state, describe, routed, same_routing};
pub use super::describe::{describe_known, describe_routing, describe_state};

pub fn not_found(e: ProviderError, what: String) -> OpsError {
    match e {
        ProviderError::NotFound(_) => OpsError::Invalid(format!(
            "{what} does not exist (check the name and the region)"
        )),
        other => OpsError::Provider(other),
    }
}

async fn alias_of<S: RegionActions>(
    source: &S,
    function: &str,
    alias: &str,
) -> Result<AliasInfo, OpsError> {
    source.alias(function, alias).await.map_err(|e| {
        // AWS says which is missing: the function itself, or only its alias.
        let what = match &e {
            ProviderError::NotFound(m) if m.contains("Function not found") => {
                format!("function {function}")
            }
            _ => format!("alias {function}:{alias}"),
        };
        not_found(e, what)
    })
}

/// Validates `request` against the region and builds its plan. Refuses first, reading nothing,
/// what the source's scope may not do; refuses a change of an alias a rollout drives now,
/// whichever face asks (the rollout would halt at its next step, its guard no longer able to
/// roll back). One that stopped (interrupted, halted) guards nothing: its alias is anyone's.
pub async fn prepare<S: RegionActions>(
    source: &S,
    request: Request,
    audit: Option<&AuditLog>,
) -> Result<Plan, OpsError> {
    let plan = prepare_unchecked(source, request, audit).await?;
    if let Change::Route {
        function, alias, ..
    } = &plan.change
    {
        held_by_rollout(source, audit, function, alias).await?;
    }
    Ok(plan)
}

/// Refuses a change of `function:alias` while a live rollout drives it (see [`prepare`]),
/// naming the abort that gives it back. Undo asks this before it compares the alias with its
/// record: the rollout's own steps are what changed it.
pub(super) async fn held_by_rollout<S: RegionActions>(
    source: &S,
    audit: Option<&AuditLog>,
    function: &str,
    alias: &str,
) -> Result<(), OpsError> {
    let Some(store) = audit.and_then(super::rollout::RolloutStore::beside) else {
        return Ok(());
    };
    if let Some(why) = store.damaged_under_any_profile(source.scope(), function, alias) {
        return Err(OpsError::Refused(why));
    }
    let Some(rollout) = super::rollout::driving(source, &store, function, alias).await else {
        return Ok(());
    };
    // `A` acts on the rollout of the row's own profile: under another, its row is named.
    let key = match rollout.profile == source.scope().profile {
        true => "`A` in the dashboard".to_string(),
        false => format!("`A` on its {} row in the dashboard", rollout.profile),
    };
    Err(OpsError::Refused(format!(
        "{}: a change of the alias under it would halt it at its next step, its guard no \
         longer able to roll back. Aborting it ({key}, `lops traffic abort {alias} --fn \
         {function} --profile {} --regions {}`) returns the weights it started from",
        rollout.in_the_way(),
        rollout.profile,
        rollout.region
    )))
}

/// [`prepare`] for a rollout's own steps and its rollback, which write the alias it drives.
pub(crate) async fn prepare_unchecked<S: RegionActions>(
    source: &S,
    request: Request,
    audit: Option<&AuditLog>,
) -> Result<Plan, OpsError> {
    let scope = source.scope();
    // A Route 53 change is named by its service and profile (its record set is no region's),
    // as the dashboard's services view names it.
    let what = match &request {
        Request::Service { service, .. } => {
            super::service_subject(request.kind(), &service.name, &scope.profile)
        }
        _ => format!("{} in {scope}", request.kind().title()),
    };
    if let Err(refused) = authorize(scope.access.tier, request.needs(), &what) {
        // Not there is said as not there, whatever the tier (a read any tier may make): a
        // read-only profile of another account is not "refused" a function it does not have.
        if let Some(function) = request.function()
            && let Err(e @ ProviderError::NotFound(_)) = source.reserved_concurrency(function).await
        {
            return Err(not_found(e, format!("function {function}")));
        }
        return Err(refused);
    }
    request.validate()?;
    let scope = scope.clone();
    let action = request.name();
    let plan =
        |target: String, before: Value, after: Value, change: Change, destructive: bool| Plan {
            scope: scope.clone(),
            action,
            target,
            needs: request.needs(),
            destructive,
            warning: None,
            before,
            after,
            change,
            undoes: None,
            reason: None,
            batch: None,
            note: None,
        };
    match &request {
        Request::Invoke(r) => super::invoke::invoke_plan(source, plan, &scope, r, audit).await,
        Request::SetWeight {
            function,
            alias,
            version,
            weight,
        } => weight_plan(source, plan, function, alias, version, *weight).await,
        Request::Promote { function, alias } => {
            let current = alias_of(source, function, alias).await?;
            // Routing only to one version already: nothing to change (as a rollback with
            // nothing to roll back), so a promote run again after a partial one is done.
            let Some((next, _)) = current.additional_weights.first().cloned() else {
                let main = current.function_version.clone();
                return route_plan(plan, function, alias, current, main, None);
            };
            check_routable(source, function, &current, &next, None).await?;
            route_plan(plan, function, alias, current, next, None)
        }
        Request::PromoteTo {
            function,
            alias,
            version,
        } => {
            check_version(version)?;
            let current = alias_of(source, function, alias).await?;
            check_published(source, function, version).await?;
            route_plan(plan, function, alias, current, version.clone(), None)
        }
        Request::Rollback { function, alias } => {
            let current = alias_of(source, function, alias).await?;
            let main = current.function_version.clone();
            let current_main = main.clone();
            let mut p = route_plan(plan, function, alias, current, main, None)?;
            // Nothing split to take back (a promote done, say): the way to an earlier version.
            if p.change == Change::Nothing {
                // Pin named only when it has a version to go to (else it would refuse).
                let who = source.caller().await.ok();
                let good = History::new(&scope, who.as_deref())
                    .last_good_version(audit, function, alias)
                    .ok()
                    .flatten()
                    .filter(|v| *v != current_main);
                p.note = Some(match good {
                    Some(v) => format!(
                        "a rollback takes back a split only; to serve an earlier version: pin \
                         to {v} (`L`, `lops pin {alias} --fn {function} --region {}`), or undo \
                         the promote (`u`, `lops undo`)",
                        p.scope.region
                    ),
                    None => format!(
                        "a rollback takes back a split only; to serve an earlier version: undo \
                         the promote (`u`, `lops undo`), or send traffic to it (`t`, `lops \
                         traffic set {alias} --fn {function} --version N --weight W --region {}`) \
                         then promote it (`P`)",
                        p.scope.region
                    ),
                });
            }
            Ok(p)
        }
        Request::RouteTo {
            function,
            alias,
            main,
            extra,
        } => {
            if let Some((v, w)) = extra {
                check_version(main)?;
                check_version(v)?;
                check_weight(*w)?;
            }
            let current = alias_of(source, function, alias).await?;
            check_routable(source, function, &current, main, extra.as_ref()).await?;
            route_plan(plan, function, alias, current, main.clone(), extra.clone())
        }
        Request::Pin { function, alias } => {
            let current = alias_of(source, function, alias).await?;
            // Never guessed: with no version recorded serving it in full, "pin" to whatever is
            // its main version now would say "nothing to do" right after a bad promote.
            let who = source.caller().await.ok();
            let mine = History::new(&scope, who.as_deref());
            let good = mine
                .last_good_version(audit, function, alias)?
                .ok_or_else(|| {
                    // A rollback helps only while the alias splits its traffic.
                    let rollback = match current.additional_weights.is_empty() {
                        true => String::new(),
                        false => format!(
                            ", a rollback (`B`, `lops traffic rollback`) sends all traffic to its \
                         main version ({})",
                            current.function_version
                        ),
                    };
                    OpsError::Invalid(format!(
                        "no version of {function}:{alias} is recorded serving all its traffic \
                     before a traffic change lops made in {scope}, so pin has no known good \
                     version; nothing was sent. Send traffic to the version it should serve \
                     (`t`, `lops traffic set --version N --weight W`), then promote it (`P`, \
                     `lops traffic promote`), or undo (`u`, `lops undo`: its preview names the \
                     change it takes back){rollback}"
                    ))
                })?;
            check_routable(source, function, &current, &good, None).await?;
            route_plan(plan, function, alias, current, good, None)
        }
        Request::SetConcurrency { function, value } => {
            if let Some(n) = value
                && *n < 0
            {
                return Err(OpsError::Invalid(format!(
                    "reserved concurrency {n} is negative: give 0 or more"
                )));
            }
            reserve_plan(source, plan, function, *value, value == &Some(0)).await
        }
        Request::Kill { function } => reserve_plan(source, plan, function, Some(0), true).await,
        Request::Revive { function } => {
            // Read first: a function that is not there says so, not that no kill is recorded.
            let now = source
                .reserved_concurrency(function)
                .await
                .map_err(|e| not_found(e, format!("function {function}")))?;
            let who = source.caller().await.ok();
            let value = History::new(&scope, who.as_deref()).reserved_before_kill(
                audit,
                function,
                now == Some(0),
            )?;
            // A revive puts back what the kill took: over a reservation someone set since, it
            // would undo their change instead.
            if now != Some(0) {
                return Err(OpsError::Conflict(
                    format!(
                        "{function} is not killed now ({}): its reservation was changed since the \
                     kill, so revive would overwrite that; nothing changed (set it with `lops \
                     concurrency set`)",
                        describe(&json!({"reserved": now}))
                    )
                    .into(),
                ));
            }
            reserve_plan(source, plan, function, value, false).await
        }
        Request::SetTrigger { kind, id, enabled } => {
            trigger_plan(source, plan, *kind, id, *enabled).await
        }
        Request::Service {
            service,
            change,
            force,
        } => {
            // A drain or a restore is the region it moves: recorded there (and undone there),
            // whichever scope reaches Route 53 — the same in both faces, also where the
            // dashboard reads no functions in that region.
            let moves = match change {
                super::service::ServiceChange::Drain(r)
                | super::service::ServiceChange::Restore(r) => Some(r.clone()),
                _ => None,
            };
            let planned = super::service::plan(source, service, change, *force, audit).await?;
            let change = if planned.records.is_empty() {
                Change::Nothing
            } else {
                Change::Dns {
                    service: service.clone(),
                    expected: planned.expected,
                    records: planned.records,
                    gives_back: planned.gives_back,
                }
            };
            let mut p = plan(
                planned.target,
                planned.before,
                planned.after,
                change,
                planned.forced,
            );
            if let Some(region) = moves {
                p.scope.region = region;
            }
            // Forced past the guard: said in the preview, before its typed confirmation.
            p.note = planned.warning;
            Ok(p)
        }
        Request::Undo { record } => {
            let mut p = super::undo::undo_plan(source, plan, record, audit).await?;
            // A Route 53 change's undo moves the region its change moved: recorded there.
            if super::undo::reached_anywhere(record) {
                p.scope.region = record.region.clone();
            }
            Ok(p)
        }
    }
}

/// A weight for a published version beside the alias's main one.
async fn weight_plan<S: RegionActions>(
    source: &S,
    plan: impl Fn(String, Value, Value, Change, bool) -> Plan,
    function: &str,
    alias: &str,
    version: &str,
    weight: f64,
) -> Result<Plan, OpsError> {
    check_weight(weight)?;
    check_version(version)?;
    let current = alias_of(source, function, alias).await?;
    if current.function_version == "$LATEST" {
        return Err(OpsError::Invalid(format!(
            "{function}:{alias} routes to $LATEST, which cannot share traffic with \
             another version: publish one (aws lambda publish-version --function-name \
             {function}) and point the alias at it (aws lambda update-alias --function-name \
             {function} --name {alias} --function-version N) first"
        )));
    }
    check_published(source, function, version).await?;
    if version == current.function_version {
        return Err(OpsError::Invalid(format!(
            "v{version} is the main version of {alias}: give the other version a weight, or \
             promote (`P`, `lops traffic promote`) or roll back (`B`, `lops traffic rollback`)"
        )));
    }
    let extra = (weight > 0.0).then(|| (version.to_string(), weight));
    let main = current.function_version.clone();
    route_plan(plan, function, alias, current, main, extra)
}

/// Every version a new routing names that the alias does not route to now must still be
/// published: a version deleted since (nothing pointed at it) fails only at the write.
pub(super) async fn check_routable<S: RegionActions>(
    source: &S,
    function: &str,
    current: &AliasInfo,
    main: &str,
    extra: Option<&(String, f64)>,
) -> Result<(), OpsError> {
    let routed = |v: &str| {
        current.function_version == v || current.additional_weights.iter().any(|(x, _)| x == v)
    };
    for version in std::iter::once(main).chain(extra.map(|(v, _)| v.as_str())) {
        if !routed(version) {
            check_published(source, function, version).await?;
        }
    }
    Ok(())
}

/// Refuses a version `function` has not published, naming those it has.
async fn check_published<S: RegionActions>(
    source: &S,
    function: &str,
    version: &str,
) -> Result<(), OpsError> {
    let versions = source
        .published_versions(function)
        .await
        .map_err(|e| not_found(e, format!("function {function}")))?;
    if versions.iter().any(|v| v == version) {
        return Ok(());
    }
    Err(OpsError::Invalid(format!(
        "version {version} of {function} is not published; published: {}",
        if versions.is_empty() {
            "none".to_string()
        } else {
            versions.join(", ")
        }
    )))
}

pub(super) use super::reserve::reserve_plan;
pub(super) use super::trigger_plan::{trigger_plan, trigger_state};

pub(super) fn route_plan(
    plan: impl Fn(String, Value, Value, Change, bool) -> Plan,
    function: &str,
    alias: &str,
    current: AliasInfo,
    main: String,
    extra: Option<(String, f64)>,
) -> Result<Plan, OpsError> {
    let target = routed(&current, &main, &extra);
    let change = if same_routing(&current, &target) {
        Change::Nothing
    } else {
        Change::Route {
            function: function.into(),
            alias: alias.into(),
            main,
            extra,
            expected: current.clone(),
        }
    };
    Ok(plan(
        format!("{function}:{alias}"),
        alias_state(&current),
        alias_state(&target),
        change,
        false,
    ))
}
