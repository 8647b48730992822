//! The action commands: invoke, traffic, concurrency, kill, revive, audit, undo, iam-policy.
//! Each builds a request and hands it to the ops layer; this file only parses, prompts and prints.

use std::io::Write;

use clap::{Args, Subcommand};
use serde_json::json;

use super::GlobalArgs;
pub use super::common::{ActFlags, RolloutArgs};
use super::common::{audit_log, early_check};
use crate::exit::{Exit, Failure};
use crate::ops::payload::load_payload;
use crate::ops::{Confirmation, Kind, OpsError, Outcome, Plan, Request, execute, prepare};
use crate::provider::aws::AwsRegion;
use crate::provider::{InvokeRequest, RegionActions, RegionSource};
use crate::session::Session;

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// FUNCTION or FUNCTION:QUALIFIER (version or alias).
    pub target: String,
    /// The event: inline JSON, or @path to a JSON file.
    #[arg(long)]
    pub payload: Option<String>,
    /// A saved payload: $XDG_CONFIG_HOME/lops/payloads/NAME.json.
    #[arg(long)]
    pub payload_name: Option<String>,
    /// Do not wait for the result (InvocationType Event).
    #[arg(long = "async")]
    pub asynchronous: bool,
    /// Send it even if the same payload went to the same target moments ago.
    #[arg(long)]
    pub allow_duplicate: bool,
    #[command(flatten)]
    pub flags: ActFlags,
}

#[derive(Debug, Subcommand)]
pub enum TrafficCommand {
    /// An alias's configured weights.
    Show {
        /// The function.
        function: String,
        #[arg(long)]
        json: bool,
    },
    /// Give VERSION the share WEIGHT (0 ≤ W < 1) of ALIAS; its main version keeps the rest.
    Set {
        alias: String,
        #[arg(long = "fn")]
        function: String,
        #[arg(long)]
        version: String,
        #[arg(long, allow_hyphen_values = true)]
        weight: f64,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// All of ALIAS's traffic to its second version.
    Promote {
        alias: String,
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// All of ALIAS's traffic back to its main version.
    Rollback {
        alias: String,
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// Move ALIAS to version --to in steps, rolling back at once when the guard trips.
    Plan(RolloutArgs),
    /// Continue a plan that was interrupted (lops killed, terminal closed).
    Resume {
        alias: String,
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// Stop a plan and put all traffic back on the version it started from.
    Abort {
        alias: String,
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// Plans saved as running (interrupted ones included).
    Plans {
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConcurrencyCommand {
    /// Reserve N concurrent executions for FUNCTION ("none" removes the reservation).
    Set {
        function: String,
        #[arg(allow_hyphen_values = true)]
        value: String,
        #[command(flatten)]
        flags: ActFlags,
    },
}

#[derive(Debug, Args)]
pub struct FunctionArgs {
    pub function: String,
    #[command(flatten)]
    pub flags: ActFlags,
}

pub async fn invoke(global: &GlobalArgs, args: InvokeArgs) -> Result<Exit, Failure> {
    let (function, qualifier) = match args.target.split_once(':') {
        Some((f, q)) => (f.to_string(), Some(q.to_string())),
        None => (args.target.clone(), None),
    };
    early_check(global, Kind::Invoke)?;
    let payload = load_payload(
        args.payload.as_deref(),
        args.payload_name.as_deref(),
        args.asynchronous,
    )
    .map_err(Failure::usage)?;
    let request = InvokeRequest {
        function,
        qualifier,
        payload,
        asynchronous: args.asynchronous,
    };
    let repeat = if args.allow_duplicate {
        Repeat::Allowed
    } else {
        Repeat::Refused
    };
    run_with(global, &args.flags, repeat, |_| {
        Request::Invoke(request.clone())
    })
    .await
}

pub async fn traffic(global: &GlobalArgs, command: TrafficCommand) -> Result<Exit, Failure> {
    match command {
        TrafficCommand::Show { function, json } => show(global, &function, json).await,
        TrafficCommand::Set {
            alias,
            function,
            version,
            weight,
            flags,
        } => {
            run(global, &flags, |_| Request::SetWeight {
                function: function.clone(),
                alias: alias.clone(),
                version: version.clone(),
                weight,
            })
            .await
        }
        TrafficCommand::Promote {
            alias,
            function,
            flags,
        } => {
            run(global, &flags, |_| Request::Promote {
                function: function.clone(),
                alias: alias.clone(),
            })
            .await
        }
        TrafficCommand::Rollback {
            alias,
            function,
            flags,
        } => {
            run(global, &flags, |_| Request::Rollback {
                function: function.clone(),
                alias: alias.clone(),
            })
            .await
        }
        TrafficCommand::Plan(args) => super::rollout::plan(global, args).await,
        TrafficCommand::Resume {
            alias,
            function,
            flags,
        } => super::rollout::resume(global, &function, &alias, &flags, false).await,
        TrafficCommand::Abort {
            alias,
            function,
            flags,
        } => super::rollout::resume(global, &function, &alias, &flags, true).await,
        TrafficCommand::Plans { json } => super::rollout::list(json),
    }
}

pub async fn concurrency(
    global: &GlobalArgs,
    command: ConcurrencyCommand,
) -> Result<Exit, Failure> {
    let ConcurrencyCommand::Set {
        function,
        value,
        flags,
    } = command;
    let value = match value.as_str() {
        "none" => None,
        n => Some(n.parse::<i32>().map_err(|_| {
            Failure::usage(format!(
                "'{n}' is not a concurrency: give a whole number ≥ 0, or none"
            ))
        })?),
    };
    run(global, &flags, |_| Request::SetConcurrency {
        function: function.clone(),
        value,
    })
    .await
}

pub async fn kill(global: &GlobalArgs, args: FunctionArgs) -> Result<Exit, Failure> {
    run(global, &args.flags, |_| Request::Kill {
        function: args.function.clone(),
    })
    .await
}

pub async fn revive(global: &GlobalArgs, args: FunctionArgs) -> Result<Exit, Failure> {
    run(global, &args.flags, |_| Request::Revive {
        function: args.function.clone(),
    })
    .await
}

pub async fn pin(
    global: &GlobalArgs,
    alias: String,
    function: String,
    flags: ActFlags,
) -> Result<Exit, Failure> {
    run(global, &flags, |_| Request::Pin {
        function: function.clone(),
        alias: alias.clone(),
    })
    .await
}

/// What to do when the ops layer warns that the same payload went out moments ago.
#[derive(Debug, Clone, Copy, PartialEq)]
enum Repeat {
    /// `--allow-duplicate`: send it.
    Allowed,
    /// Ask for the typed name; with --yes (a script), refuse.
    Refused,
}

async fn show(global: &GlobalArgs, function: &str, as_json: bool) -> Result<Exit, Failure> {
    let ctx = Session::connect(&global.flags()).await?;
    let mut docs = Vec::new();
    let mut out = std::io::stdout().lock();
    for region in &ctx.regions {
        let inventory = region.aliases(function).await.map_err(OpsError::from)?;
        for a in &inventory {
            let weights: Vec<_> = a
                .configured_weights()
                .into_iter()
                .map(|(v, w)| json!({"version": v, "weight": w}))
                .collect();
            docs.push(json!({"region": region.scope().region, "alias": a.name, "function_version": a.function_version, "weights": weights, "revision_id": a.revision_id}));
            if !as_json {
                let text: Vec<String> = a
                    .configured_weights()
                    .iter()
                    .map(|(v, w)| format!("v{v} {}", crate::format::weight(*w)))
                    .collect();
                let _ = writeln!(
                    out,
                    "{:<14} {function}:{:<12} {}",
                    region.scope().to_string(),
                    a.name,
                    text.join(" / ")
                );
            }
        }
        if inventory.is_empty() && !as_json {
            let _ = writeln!(
                out,
                "{:<14} {function} has no aliases",
                region.scope().to_string()
            );
        }
    }
    if as_json {
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&json!({"function": function, "aliases": docs}))
                .unwrap_or_default()
        );
    }
    Ok(Exit::Done)
}

/// The shared flow: prepare per region → preview → confirm → execute → report.
pub(super) async fn run(
    global: &GlobalArgs,
    flags: &ActFlags,
    request: impl Fn(&str) -> Request,
) -> Result<Exit, Failure> {
    run_with(global, flags, Repeat::Refused, request).await
}

async fn run_with(
    global: &GlobalArgs,
    flags: &ActFlags,
    repeat: Repeat,
    request: impl Fn(&str) -> Request,
) -> Result<Exit, Failure> {
    let first = request("");
    early_check(global, first.kind())?;
    first.validate().map_err(Failure::from)?;
    let ctx = Session::connect(&global.flags()).await?;
    let audit = audit_log(&ctx);
    let mut plans: Vec<(&AwsRegion, Plan)> = Vec::new();
    for region in &ctx.regions {
        let mut plan = prepare(region, request(&region.scope().region), audit.as_ref())
            .await
            .map_err(Failure::from)?;
        if repeat == Repeat::Allowed {
            plan.warning = None;
        }
        plans.push((region, plan));
    }
    let mut err = std::io::stderr().lock();
    for (_, plan) in &plans {
        let _ = writeln!(err, "{}", plan.preview());
    }
    if flags.dry_run {
        if flags.json {
            let docs: Vec<_> = plans.iter().map(|(_, p)| plan_json(p, None)).collect();
            super::print_json(&json!({"dry_run": true, "plans": docs}));
        }
        let _ = writeln!(err, "dry run: nothing changed");
        return Ok(Exit::Done);
    }
    let warning = plans.iter().find_map(|(_, p)| p.warning.clone());
    if let Some(w) = &warning
        && flags.yes
    {
        return Err(Failure {
            exit: Exit::Refused,
            message: format!(
                "refused: {w}. Replaying an event twice is a classic incident; pass \
                 --allow-duplicate if you mean it."
            ),
        });
    }
    let confirmation = Confirmation::all(plans.iter().map(|(_, p)| p.confirmation()));
    let production = plans.iter().any(|(r, _)| r.scope().access.production);
    super::confirm::ask(
        &confirmation,
        flags.yes,
        super::confirm::why_typed(production, warning.as_deref()).as_deref(),
    )?;
    let mut ok = 0;
    let mut failed = Vec::new();
    let mut docs = Vec::new();
    for (region, plan) in &plans {
        match execute(*region, plan, audit.as_ref()).await {
            Ok(outcome) => {
                ok += 1;
                if flags.json {
                    docs.push(plan_json(plan, Some(&outcome)));
                } else {
                    print_outcome(plan, &outcome);
                }
            }
            Err(e) => {
                let _ = writeln!(err, "lops: {} in {}: {e}", plan.target, plan.scope);
                docs.push(json!({"region": plan.scope.region, "target": plan.target, "action": plan.action, "error": e.to_string()}));
                failed.push(e);
            }
        }
    }
    if flags.json {
        super::print_json(&json!({"results": docs}));
    }
    Ok(match (ok, failed.first()) {
        (_, None) => Exit::Done,
        (0, Some(e)) if plans.len() == 1 => Failure::from(e.clone()).exit,
        (0, Some(_)) => Exit::Failure,
        _ => Exit::Partial,
    })
}

fn plan_json(plan: &Plan, outcome: Option<&Outcome>) -> serde_json::Value {
    let mut doc = json!({
        "region": plan.scope.region,
        "profile": plan.scope.profile,
        "action": plan.action,
        "target": plan.target,
        "before": plan.before,
        "after": outcome.map(|o| o.after.clone()).unwrap_or_else(|| plan.after.clone()),
        "changed": plan.change != crate::ops::Change::Nothing,
    });
    if let Some((inv, report)) = outcome.and_then(|o| o.invoke.as_ref()) {
        let body: serde_json::Value = serde_json::from_slice(&inv.payload)
            .unwrap_or_else(|_| json!(String::from_utf8_lossy(&inv.payload)));
        doc["invoke"] = json!({
            "status": inv.status,
            "function_error": inv.function_error,
            "executed_version": inv.executed_version,
            "response": body,
            "log_tail": inv.log_tail,
            "report": report,
        });
    }
    if let Some(r) = outcome.and_then(|o| o.record.as_ref()) {
        doc["audit_id"] = json!(r.id);
    }
    doc
}

fn print_outcome(plan: &Plan, outcome: &Outcome) {
    let mut out = std::io::stdout().lock();
    let Some((inv, report)) = &outcome.invoke else {
        let _ = writeln!(
            out,
            "{} {} in {}: done, now {}",
            plan.action,
            plan.target,
            plan.scope,
            crate::ops::plan::describe_state(&outcome.after)
        );
        return;
    };
    for (label, value) in crate::ops::invoke_summary(inv, report.as_ref()) {
        let _ = writeln!(out, "{label:<11} {value}");
    }
    let body = serde_json::from_slice::<serde_json::Value>(&inv.payload)
        .and_then(|v| serde_json::to_string_pretty(&v))
        .unwrap_or_else(|_| String::from_utf8_lossy(&inv.payload).into_owned());
    let _ = writeln!(out, "response\n{body}");
    if let Some(log) = &inv.log_tail {
        let _ = writeln!(out, "log tail\n{log}");
    }
}
