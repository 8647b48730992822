//! The action commands: invoke, traffic, concurrency, kill, revive, audit, undo, iam-policy.
//! Each builds a request and hands it to the ops layer; this file only parses, prompts and prints.

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};
use serde_json::json;

use super::GlobalArgs;
use super::act_output::{item_json, plan_json, print_outcome};
pub use super::common::{ActFlags, RolloutArgs};
use super::common::{audit_log, early_check, functions};
use crate::exit::{Exit, Failure};
use crate::ops::batch::{self, Target};
use crate::ops::payload::load_payload;
use crate::ops::{Kind, OpsError, Outcome, Request};
use crate::provider::aws::AwsRegion;
use crate::provider::{InvokeRequest, ProviderError, RegionSource};
use crate::session::Session;

#[derive(Debug, Args)]
pub struct InvokeArgs {
    /// FUNCTION or FUNCTION:QUALIFIER (version or alias).
    pub target: String,
    /// The event: inline JSON, @path to a JSON file, or @- to read it from stdin (without
    /// --payload or --payload-name: `{}`, said in the preview).
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

/// `--weight`, read by the one parser both faces use (`0.1` or `10%`).
fn weight_arg(text: &str) -> Result<f64, String> {
    crate::ops::request::parse_weight(text).map_err(|e| e.to_string())
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
        /// The alias (`live`, `prod`, …).
        alias: String,
        /// The function whose alias it is; several separated by commas (a,b): one batch.
        #[arg(long = "fn")]
        function: String,
        /// The version to give WEIGHT: a published version (7), not the alias's main one.
        #[arg(long)]
        version: String,
        /// The share: 0.1, or as a percent, 10%.
        #[arg(long, allow_hyphen_values = true, value_parser = weight_arg)]
        weight: f64,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// All of ALIAS's traffic to its second version.
    Promote {
        /// The alias (`live`, `prod`, …).
        alias: String,
        /// The function whose alias it is; several separated by commas (a,b): one batch.
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// All of ALIAS's traffic back to its main version.
    Rollback {
        /// The alias (`live`, `prod`, …).
        alias: String,
        /// The function whose alias it is; several separated by commas (a,b): one batch.
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// Move ALIAS to version --to in steps, rolling back at once when the guard trips
    /// (--json: one JSON line per event).
    Plan(RolloutArgs),
    /// Continue a plan that was interrupted (lops killed, terminal closed; --json: one JSON
    /// line per event).
    Resume {
        /// The alias (`live`, `prod`, …).
        alias: String,
        /// The function whose alias it is.
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// Stop a plan and put all traffic back on the version it started from.
    Abort {
        /// The alias (`live`, `prod`, …).
        alias: String,
        /// The function whose alias it is.
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// Rollouts saved: running, interrupted (resume or abort them) and finished.
    Plans {
        /// One JSON document on stdout.
        #[arg(long)]
        json: bool,
    },
}

#[derive(Debug, Subcommand)]
pub enum ConcurrencyCommand {
    /// Reserve N concurrent executions for FUNCTION ("none" removes the reservation).
    Set {
        /// The function; several separated by commas (a,b): one batch.
        function: String,
        /// A whole number ≥ 0 (0 stops every invocation, as `kill` does), or none.
        #[arg(allow_hyphen_values = true)]
        value: String,
        #[command(flatten)]
        flags: ActFlags,
    },
}

#[derive(Debug, Args)]
pub struct FunctionArgs {
    /// The function; several separated by commas (a,b): one batch.
    pub function: String,
    #[command(flatten)]
    pub flags: ActFlags,
}

pub async fn invoke(global: &GlobalArgs, args: InvokeArgs) -> Result<Exit, Failure> {
    // An ARN (or a partial one) is not FUNCTION:QUALIFIER: said as such, before anything is sent.
    if args.target.starts_with("arn:") || args.target.matches(':').count() > 1 {
        crate::ops::request::check_function(&args.target)?;
    }
    let (function, qualifier) = match args.target.split_once(':') {
        Some((f, q)) => (f.to_string(), Some(q.to_string())),
        None => (args.target.clone(), None),
    };
    crate::ops::request::check_function(&function)?;
    if let Some(q) = &qualifier
        && q != "$LATEST"
        && (q.is_empty() || !q.chars().all(|c| c.is_ascii_digit()))
    {
        crate::ops::request::check_alias(q)?;
    }
    early_check(global, Kind::Invoke)?;
    // Typed at a terminal, `@-` waits for Ctrl-D: said, so it does not look hung.
    if args.payload.as_deref().map(str::trim) == Some("@-") && std::io::stdin().is_terminal() {
        err!("lops: reading the payload from standard input: end it with Ctrl-D");
    }
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
        wait_secs: None,
    };
    let repeat = if args.allow_duplicate {
        Repeat::Allowed
    } else {
        Repeat::Refused
    };
    run_with(global, &args.flags, repeat, |_| {
        vec![Request::Invoke(request.clone())]
    })
    .await
}

pub async fn traffic(global: &GlobalArgs, command: TrafficCommand) -> Result<Exit, Failure> {
    match command {
        TrafficCommand::Show { function, json } => super::show::show(global, &function, json).await,
        TrafficCommand::Set {
            alias,
            function,
            version,
            weight,
            flags,
        } => {
            run(global, &flags, &function, |function| Request::SetWeight {
                function,
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
            run(global, &flags, &function, |function| Request::Promote {
                function,
                alias: alias.clone(),
            })
            .await
        }
        TrafficCommand::Rollback {
            alias,
            function,
            flags,
        } => {
            run(global, &flags, &function, |function| Request::Rollback {
                function,
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
        TrafficCommand::Plans { json } => super::rollout::list(global, json).await,
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
    let value = crate::ops::request::parse_concurrency(&value)
        .map_err(|e| Failure::usage(e.to_string()))?;
    run(global, &flags, &function, |function| {
        Request::SetConcurrency { function, value }
    })
    .await
}

pub async fn kill(global: &GlobalArgs, args: FunctionArgs) -> Result<Exit, Failure> {
    run(global, &args.flags, &args.function, |function| {
        Request::Kill { function }
    })
    .await
}

pub async fn revive(global: &GlobalArgs, args: FunctionArgs) -> Result<Exit, Failure> {
    run(global, &args.flags, &args.function, |function| {
        Request::Revive { function }
    })
    .await
}

pub async fn pin(
    global: &GlobalArgs,
    alias: String,
    function: String,
    flags: ActFlags,
) -> Result<Exit, Failure> {
    run(global, &flags, &function, |function| Request::Pin {
        function,
        alias: alias.clone(),
    })
    .await
}

/// What to do when the ops layer warns that the same payload went out moments ago.
#[derive(Debug, Clone, Copy, PartialEq)]
pub(super) enum Repeat {
    /// `--allow-duplicate`: send it.
    Allowed,
    /// Ask for the typed name; with --yes (a script), refuse.
    Refused,
}

/// The shared flow: prepare per function and region → one preview → confirm → execute →
/// report. `function` is one name or several separated by commas: one batch either way.
pub(super) async fn run(
    global: &GlobalArgs,
    flags: &ActFlags,
    function: &str,
    request: impl Fn(String) -> Request,
) -> Result<Exit, Failure> {
    let names = functions(function)?;
    run_with(global, flags, Repeat::Refused, |_| {
        names.iter().map(|f| request(f.clone())).collect()
    })
    .await
}

/// The shared flow for one request that names no function (a trigger): in every region.
pub(super) async fn run_one(
    global: &GlobalArgs,
    flags: &ActFlags,
    request: impl Fn(&str) -> Request,
) -> Result<Exit, Failure> {
    run_with(global, flags, Repeat::Refused, |region| {
        vec![request(region)]
    })
    .await
}

async fn run_with(
    global: &GlobalArgs,
    flags: &ActFlags,
    repeat: Repeat,
    requests: impl Fn(&str) -> Vec<Request>,
) -> Result<Exit, Failure> {
    let first = requests("");
    let Some(one) = first.first() else {
        return Err(Failure::usage("no function named"));
    };
    early_check(global, one.kind())?;
    for r in &first {
        r.validate().map_err(Failure::from)?;
    }
    let ctx = Session::connect(&global.flags()).await?;
    // Function by function, each in every region of the session.
    let per_region: Vec<Vec<Request>> = ctx
        .regions
        .iter()
        .map(|r| requests(&r.scope().region))
        .collect();
    let targets = (0..first.len())
        .flat_map(|k| {
            per_region
                .iter()
                .enumerate()
                .filter_map(move |(i, rs)| Some(Target::Ask(i, rs.get(k)?.clone())))
        })
        .collect();
    run_batch(&ctx, flags, repeat, targets).await
}

/// The shared flow of every change the CLI makes, in one region or many: the ops layer's batch
/// previews each target (skipping, with why, what cannot take it), one confirmation, the
/// targets run side by side, each result printed.
pub(super) async fn run_batch(
    ctx: &Session,
    flags: &ActFlags,
    repeat: Repeat,
    targets: Vec<Target>,
) -> Result<Exit, Failure> {
    // A dry run reads the log as any (guards, rollouts) and writes nothing to it.
    let audit = audit_log(ctx).map(|log| match flags.dry_run {
        true => log.dry_run(),
        false => log,
    });
    let sources: Vec<&AwsRegion> = ctx.regions.iter().collect();
    let mut batch = batch::prepare(&sources, targets, audit.as_ref()).await;
    if repeat == Repeat::Allowed {
        for item in &mut batch.items {
            if let batch::Item::Ready { plan, .. } = item {
                plan.warning = None;
            }
        }
    }
    // From a script (--yes), a target that repeats what was just sent is left out and named;
    // the others go on (one duplicate used to refuse the whole batch).
    let warned = |i: &batch::Item| i.plan().is_some_and(|p| p.warning.is_some());
    if flags.yes
        && batch.items.iter().any(warned)
        && batch.items.iter().any(|i| i.plan().is_some() && !warned(i))
    {
        for item in &mut batch.items {
            if let batch::Item::Ready { source, plan } = item
                && let Some(w) = plan.warning.clone()
            {
                *item = batch::Item::Skipped {
                    source: *source,
                    scope: plan.scope.clone(),
                    target: plan.target.clone(),
                    error: OpsError::Invalid(format!(
                        "{w}: left out (pass --allow-duplicate if you mean it)"
                    )),
                };
            }
        }
    }
    let ready = batch.items.iter().filter(|i| i.plan().is_some()).count();
    if ready == 0 {
        let errors: Vec<OpsError> = batch
            .items
            .iter()
            .filter_map(|i| match i {
                batch::Item::Skipped { error, .. } => Some(error.clone()),
                batch::Item::Ready { .. } => None,
            })
            .collect();
        let Some(first) = errors.first().cloned() else {
            return Err(Failure::usage(
                "no region to act in: check --region and --profile",
            ));
        };
        if flags.json {
            let docs: Vec<_> = batch.items.iter().map(|i| item_json(i, None)).collect();
            super::print_json(&json!({"results": docs, "complete": false}));
        }
        if batch.items.len() == 1 {
            // A read that failed says what it was for and what would help, as the dashboard.
            if let (OpsError::Provider(e), batch::Item::Skipped { scope, target, .. }) =
                (&first, &batch.items[0])
                && !matches!(
                    e,
                    ProviderError::NotFound(_) | ProviderError::Credentials(_)
                )
            {
                return Err(Failure {
                    message: batch::unreadable(&batch.action.replace('.', " "), target, scope, e),
                    ..Failure::from(first)
                });
            }
            return Err(Failure::from(first));
        }
        // The same exit whatever the order of the regions: a failed read over a refusal over
        // bad input.
        let exit = errors
            .iter()
            .map(|e| Failure::from(e.clone()).exit)
            .max_by_key(|exit| match exit {
                Exit::Failure => 3,
                Exit::Refused => 2,
                _ => 1,
            })
            .unwrap_or(Exit::Usage);
        // Refused everywhere is a refusal, not "nothing to do".
        let head = match exit {
            Exit::Refused => "refused in every region",
            Exit::Failure => "not done in any region",
            _ => "nothing to do in any region",
        };
        return Err(Failure {
            exit,
            message: format!("{head}:\n  {}", batch.lines()[1..].join("\n  ")),
        });
    }
    let mut err = super::stderr();
    let lines = if batch.items.len() == 1 {
        batch.items.iter().map(batch::Item::line).collect()
    } else {
        batch.lines()
    };
    for line in &lines {
        let _ = writeln!(err, "{line}");
    }
    // A dry run says what the real one would ask, or refuse: the same warning, the same exit.
    if flags.dry_run {
        let warning = batch.warning();
        if let Some(w) = &warning {
            let _ = writeln!(err, "warning: {w}");
        }
        if let Some(w) = &warning
            && flags.yes
        {
            // (With --json, the refusal is the one-line error document, as for a real run.)
            return Err(Failure {
                exit: Exit::Refused,
                message: format!(
                    "dry run: nothing changed; with --yes it is refused: {w} (pass \
                     --allow-duplicate if you mean it)"
                ),
            });
        }
        if let crate::ops::Confirmation::Typed(name) = batch.confirmation() {
            let _ = writeln!(err, "a real run asks for the typed name: \"{name}\"");
        }
        if flags.json {
            let docs: Vec<_> = batch.items.iter().map(|i| item_json(i, None)).collect();
            // `complete` as a real run's: no target would be skipped (exit 0, else 3).
            let complete = batch.skipped().next().is_none();
            super::print_json(
                &json!({"dry_run": true, "complete": complete, "plans": docs, "warning": warning}),
            );
        }
        let _ = writeln!(err, "dry run: nothing changed");
        return Ok(if batch.skipped().next().is_some() {
            Exit::Partial
        } else {
            Exit::Done
        });
    }
    let warning = batch.warning();
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
    super::confirm::ask(
        &batch.confirmation(),
        flags.yes,
        super::confirm::why_typed(batch.production(), warning.as_deref()).as_deref(),
    )?;
    let landed = batch::execute_all(&sources, &batch, audit.as_ref()).await;
    let mut docs = Vec::new();
    for (index, result) in &landed {
        let Some(plan) = batch.items.get(*index).and_then(batch::Item::plan) else {
            continue;
        };
        match result {
            Ok(outcome) if flags.json => docs.push(plan_json(plan, Some(outcome))),
            Ok(outcome) => print_outcome(plan, outcome, batch.items.len() > 1),
            Err(e) => {
                let _ = writeln!(err, "lops: {} {}: {e}", plan.target, plan.place());
                docs.push(json!({"region": plan.scope.region, "target": plan.target, "action": plan.action, "error": e.to_string()}));
            }
        }
    }
    docs.extend(batch.skipped().map(|i| item_json(i, None)));
    let summary = batch.summary(&landed);
    if batch.items.len() > 1 {
        let _ = writeln!(err, "{}", summary.line());
    }
    if flags.json {
        // `complete` always (a script reads one shape); `batch` where there were several.
        let mut doc = json!({
            "results": docs,
            "complete": summary.complete()
                && !landed
                    .iter()
                    .any(|(_, r)| r.as_ref().is_ok_and(Outcome::ended_badly)),
        });
        if batch.items.len() > 1 {
            doc["batch"] = json!(batch.id);
        }
        super::print_json(&doc);
    }
    // An invoke whose function failed (Unhandled, Handled) ran, a drain that left no region
    // serving was written: recorded as such, and a script sees it in the exit code as it
    // would a failed call.
    let function_failed =
        |r: &Result<Outcome, crate::ops::OpsError>| r.as_ref().is_ok_and(Outcome::ended_badly);
    let ok = landed
        .iter()
        .filter(|(_, r)| r.is_ok() && !function_failed(r))
        .count();
    let failed = landed.iter().find_map(|(_, r)| r.as_ref().err());
    let errored = landed.iter().filter(|(_, r)| function_failed(r)).count();
    let functions_failed = (landed.iter())
        .filter(|(_, r)| r.as_ref().is_ok_and(Outcome::function_failed))
        .count();
    let skipped = batch.skipped().count();
    // Every target refused at its write (changed since the preview, a guard): nothing was
    // sent anywhere — refused, as one target's would be.
    let all_refused = landed.iter().all(|(_, r)| {
        matches!(
            r,
            Err(crate::ops::OpsError::Conflict(_) | crate::ops::OpsError::Refused(_))
        )
    });
    // A function that ran and failed exits 1 as a failed call does: said on stderr too, so
    // that a log of the run tells the two apart (`--json`: `function_error`).
    if functions_failed > 0 && !flags.json {
        let _ = writeln!(
            err,
            "lops: the function failed in {functions_failed} of {} (it ran: see its error and \
             log tail)",
            landed.len()
        );
    }
    Ok(match (ok, failed, skipped) {
        (_, None, 0) if errored == 0 => Exit::Done,
        (0, None, 0) => Exit::Failure,
        (0, Some(e), 0) if landed.len() == 1 => Failure::from(e.clone()).exit,
        (0, Some(_), _) if all_refused => Exit::Refused,
        (0, Some(_), _) => Exit::Failure,
        _ => Exit::Partial,
    })
}
