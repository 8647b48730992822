//! `lops traffic plan | resume | abort | plans`: stepwise traffic moves with a guard.

use std::io::Write;

use super::act::{ActFlags, PlanArgs, confirm_text, early_check};
use super::{Context, GlobalArgs};
use crate::exit::{Exit, Failure};
use crate::ops::Tier;
use crate::ops::audit::AuditLog;
use crate::ops::rollout::{self, Guard, PlanStore, Rollout, Status};
use crate::provider::RegionSource;
use crate::provider::aws::AwsRegion;

fn store() -> Result<PlanStore, Failure> {
    PlanStore::default_location()
        .ok_or_else(|| Failure::usage("no state directory: set XDG_STATE_HOME or HOME"))
}

fn one_region(ctx: &Context) -> Result<&AwsRegion, Failure> {
    match ctx.regions.as_slice() {
        [one] => Ok(one),
        _ => Err(Failure::usage(
            "a traffic plan runs in one region at a time: give a single --region",
        )),
    }
}

fn exit_for(status: &Status) -> Exit {
    match status {
        Status::Done => Exit::Done,
        // The guard refused the new version.
        Status::RolledBack { .. } => Exit::Refused,
        Status::Aborted | Status::Running => Exit::Done,
    }
}

fn reporter(json: bool) -> impl FnMut(&Rollout, &str) {
    move |r: &Rollout, event: &str| {
        let mut err = std::io::stderr().lock();
        if json {
            let line = serde_json::json!({"time": r.updated, "target": r.target(), "region": r.region, "step": r.step, "status": r.status, "event": event});
            let _ = writeln!(std::io::stdout().lock(), "{line}");
        } else {
            let _ = writeln!(err, "{} {} in {}: {event}", r.updated, r.target(), r.region);
        }
    }
}

pub async fn plan(global: &GlobalArgs, args: PlanArgs) -> Result<Exit, Failure> {
    early_check(global, Tier::Change, "traffic plan")?;
    let steps = match (&args.preset, &args.steps) {
        (Some(p), _) => rollout::preset(p).ok_or_else(|| {
            Failure::usage(format!(
                "unknown preset '{p}': use one of {}, or --steps",
                rollout::PRESETS.join(", ")
            ))
        })?,
        (None, Some(s)) => rollout::parse_steps(s).map_err(Failure::usage)?,
        (None, None) => return Err(Failure::usage("give --preset NAME or --steps 10:5m,50:10m")),
    };
    let guard = Guard {
        max_error_rate: args.max_error_rate,
        alarms: args.guard_alarms.clone(),
        interval_secs: args.guard_interval,
    };
    let ctx = Context::connect(global).await?;
    let source = one_region(&ctx)?;
    let tier = ctx.settings.tier_for(&source.scope().profile);
    let store = store()?;
    let spec = rollout::PlanSpec {
        function: args.function.clone(),
        alias: args.alias.clone(),
        to: args.to.clone(),
        steps,
        guard,
    };
    let mut r = rollout::start(source, tier, spec, &store).await?;
    let steps: Vec<String> = r
        .steps
        .iter()
        .map(|s| format!("{}% for {}s", (s.weight * 100.0).round(), s.hold_secs))
        .collect();
    let preview = format!(
        "plan {} in {}: v{} → v{} in {} steps ({}); guard: {}",
        r.target(),
        r.region,
        r.from,
        r.to,
        r.steps.len(),
        steps.join(", "),
        describe_guard(&r.guard)
    );
    if args.flags.dry_run {
        eprintln!("{preview}\ndry run: nothing changed");
        return Ok(Exit::Done);
    }
    if !args.flags.yes {
        let production = ctx.settings.is_production(&source.scope().profile);
        confirm_text(&preview, production.then_some(r.target().as_str()))?;
    } else {
        eprintln!("{preview}");
    }
    store
        .save(&r)
        .map_err(|e| Failure::failed(format!("cannot save the plan: {e}")))?;
    let audit = AuditLog::default_location();
    let status = rollout::run(
        source,
        &mut r,
        tier,
        audit.as_ref(),
        &store,
        reporter(args.flags.json),
    )
    .await?;
    Ok(exit_for(&status))
}

fn describe_guard(g: &Guard) -> String {
    let mut parts = Vec::new();
    if let Some(max) = g.max_error_rate {
        parts.push(format!(
            "error rate ≤ {}",
            crate::format::percent(Some(max))
        ));
    }
    for a in &g.alarms {
        parts.push(format!("alarm {a} not in ALARM"));
    }
    if parts.is_empty() {
        "none".into()
    } else {
        format!("{} (checked every {}s)", parts.join(", "), g.interval_secs)
    }
}

pub async fn resume(
    global: &GlobalArgs,
    function: &str,
    alias: &str,
    flags: &ActFlags,
    abort: bool,
) -> Result<Exit, Failure> {
    early_check(
        global,
        Tier::Change,
        if abort {
            "traffic abort"
        } else {
            "traffic resume"
        },
    )?;
    let ctx = Context::connect(global).await?;
    let source = one_region(&ctx)?;
    let tier = ctx.settings.tier_for(&source.scope().profile);
    let store = store()?;
    let mut r = store
        .load(source.scope(), function, alias)
        .filter(|r| r.status == Status::Running)
        .ok_or_else(|| {
            Failure::usage(format!(
                "no running plan for {function}:{alias} in {}: see `lops traffic plans`",
                source.scope()
            ))
        })?;
    let audit = AuditLog::default_location();
    let what = if abort {
        format!(
            "abort the plan for {} in {} ({}): all traffic back to v{}",
            r.target(),
            r.region,
            r.progress(),
            r.from
        )
    } else {
        format!(
            "resume the plan for {} in {} at {}",
            r.target(),
            r.region,
            r.progress()
        )
    };
    if !flags.yes {
        confirm_text(&what, None)?;
    }
    if abort {
        rollout::roll_back(
            source,
            &mut r,
            tier,
            audit.as_ref(),
            &store,
            Status::Aborted,
        )
        .await?;
        reporter(flags.json)(&r, &format!("aborted: all traffic on v{}", r.from));
        return Ok(Exit::Done);
    }
    let status = rollout::run(
        source,
        &mut r,
        tier,
        audit.as_ref(),
        &store,
        reporter(flags.json),
    )
    .await?;
    Ok(exit_for(&status))
}

pub fn list(json: bool) -> Result<Exit, Failure> {
    let store = store()?;
    let running = store.running();
    if json {
        println!(
            "{}",
            serde_json::to_string_pretty(&running).unwrap_or_default()
        );
    } else if running.is_empty() {
        println!("no running plans in {}", store.dir().display());
    } else {
        for r in &running {
            println!(
                "{:<14} {:<32} v{} → v{}  {}  (updated {})",
                r.region,
                r.target(),
                r.from,
                r.to,
                r.progress(),
                r.updated
            );
        }
    }
    Ok(Exit::Done)
}
