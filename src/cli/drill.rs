//! `lops backup drill`: the CLI's face of a recovery rehearsal (the drill itself is
//! `ops::drill`): asks, runs, reports the recovery time and every difference; exit 0 only when
//! the copy is complete.

use super::GlobalArgs;
use crate::exit::{Exit, Failure};
use crate::ops::Kind;
use crate::ops::audit::AuditLog;
use crate::ops::backup::Progress;
use crate::ops::drill::DRILL;
use crate::provider::RegionSource;
use crate::session::Session;

use super::backup::{in_region, region_of, snapshot_uri};

#[derive(Debug, clap::Args)]
pub struct DrillArgs {
    /// A snapshot manifest's URI, as `backup list` prints it.
    pub snapshot: String,
    /// Confirm without asking (for cron).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    /// Rehearse in another account as this role (STS AssumeRole).
    #[arg(long, value_name = "ROLE_ARN")]
    pub assume_role: Option<String>,
    /// The external id the role's trust policy asks for.
    #[arg(long, requires = "assume_role")]
    pub external_id: Option<String>,
    /// The copy's execution role (another account needs its own).
    #[arg(long, value_name = "ROLE_ARN")]
    pub role: Option<String>,
    /// The event the copy is invoked with: JSON, or @file (default: the saved payload named
    /// after the function, else {}).
    #[arg(long, conflicts_with_all = ["payload_name", "no_invoke"])]
    pub payload: Option<String>,
    /// A saved payload ($XDG_CONFIG_HOME/lops/payloads/NAME.json) to invoke the copy with.
    #[arg(long, conflicts_with = "no_invoke")]
    pub payload_name: Option<String>,
    /// Do not invoke the copy (for functions whose calls change things elsewhere).
    #[arg(long)]
    pub no_invoke: bool,
    /// Map event sources in another region or account to the same source (queue or stream
    /// of the same name) where the drill runs; the copy's mappings stay disabled.
    #[arg(long)]
    pub map_sources: bool,
}

/// The event the copy is invoked with: as given, else the function's saved payload, else {}.
fn drill_payload(args: &DrillArgs, function: &str) -> Result<Option<(Vec<u8>, String)>, Failure> {
    if args.no_invoke {
        return Ok(None);
    }
    let load = |inline: Option<&str>, name: Option<&str>| {
        crate::ops::payload::load_payload(inline, name, false).map_err(Failure::usage)
    };
    Ok(Some(match (&args.payload, &args.payload_name) {
        (Some(p), _) => (load(Some(p), None)?, "the given payload".to_string()),
        (None, Some(n)) => (load(None, Some(n))?, format!("saved payload {n}")),
        (None, None) => {
            let saved = crate::ops::payload::saved_path(function).is_ok_and(|p| p.exists());
            if saved {
                (
                    load(None, Some(function))?,
                    format!("saved payload {function}"),
                )
            } else {
                (b"{}".to_vec(), "{}".to_string())
            }
        }
    }))
}

pub async fn run(global: &GlobalArgs, args: &DrillArgs) -> Result<Exit, Failure> {
    // Named as what was asked: a drill's change is its restore into a copy.
    let (settings, _) = crate::session::settings(&global.flags())?;
    crate::session::check_any(&settings, Kind::Restore.needs(), DRILL)?;
    let (yes, json) = (args.yes, args.json);
    let role = args
        .assume_role
        .as_deref()
        .map(|r| (r, args.external_id.as_deref()));
    let snapshot = snapshot_uri(&args.snapshot)?;
    crate::backup::root_of(&snapshot)?;
    if global.regions.as_ref().is_some_and(|r| r.len() != 1) {
        return Err(Failure::usage(
            "a drill runs in one region: pass one --region",
        ));
    }
    if let Some((role, _)) = role {
        crate::ops::restore::check_role_arn("--assume-role", role).map_err(Failure::from)?;
    }
    let ctx = Session::connect(&in_region(global, region_of(&snapshot)).flags()).await?;
    let acting = ctx.acting("a drill").await?;
    let assumed = match role {
        Some((role, external_id)) => Some(ctx.assumed(acting, role, external_id).await),
        None => None,
    };
    let region = assumed.as_ref().unwrap_or(acting);
    let function = crate::ops::drill::function_of(&snapshot).map_err(Failure::from)?;
    let payload = drill_payload(args, &function)?;
    // A snapshot that is not there says so before the plan and the question.
    crate::ops::backup::snapshot_there(region, &snapshot).await?;
    // What it deletes first is named before the question: copies interrupted drills left.
    let audit = AuditLog::default_location();
    let (removes, waiting) = crate::ops::drill::leftovers(region, audit.as_ref(), &function).await;
    let plan = format!(
        "drill of {snapshot} in {}: {}restore it under a temporary name, compare, {}then delete the copy",
        region.scope(),
        match removes.is_empty() {
            true => String::new(),
            false => format!(
                "delete {} (left by an interrupted drill, with its triggers), ",
                removes.join(", ")
            ),
        },
        match &payload {
            Some((_, source)) => format!("invoke it once with {source}, "),
            None => String::new(),
        }
    );
    let stop = std::sync::Arc::new(std::sync::atomic::AtomicBool::new(false));
    let request = crate::ops::drill::DrillRequest {
        snapshot,
        payload: payload.map(|(bytes, _)| bytes),
        role: args.role.clone(),
        stop: Some(stop.clone()),
        map_sources: args.map_sources,
        // Only what the preview named is deleted (the question may stay open a while).
        removes: Some(removes),
    };
    // A snapshot that fails verification says so before the question, as a restore's does.
    let prepared = crate::ops::drill::prepare(region, request, audit.as_ref())
        .await
        .map_err(Failure::from)?;
    err!("{plan}");
    if !waiting.is_empty() {
        err!(
            "lops: {} began recently and may be another drill still running: left as it is",
            waiting.join(", ")
        );
    }
    let production = region.scope().access.production;
    super::confirm::ask(
        &crate::ops::drill::confirmation(region.scope()),
        yes,
        super::confirm::why_typed(production, None).as_deref(),
    )?;
    let progress = |p: Progress| {
        if let Progress::Warning(w) | Progress::Note(w) = p {
            err!("lops: {w}");
        }
    };
    let drilled = crate::ops::drill::drill(region, prepared, audit.as_ref(), &progress);
    tokio::pin!(drilled);
    // Ctrl-C stops the drill the safe way: the copy is still deleted. A second one leaves it
    // (the next drill of this function deletes it).
    let mut asked = false;
    let report = loop {
        tokio::select! {
            report = &mut drilled => break report.map_err(Failure::from)?,
            _ = tokio::signal::ctrl_c() => {
                if asked {
                    return Err(Failure {
                        exit: Exit::Failure,
                        message: format!(
                            "drill interrupted: its copy of {function} (named above) may be left \
                             in {}: the next drill of {function} there from this machine \
                             deletes it (from another, 30 minutes from now), or delete it by hand",
                            region.scope()
                        ),
                    });
                }
                asked = true;
                stop.store(true, std::sync::atomic::Ordering::SeqCst);
                err!("lops: stopping the drill: its copy is deleted first (Ctrl-C again leaves it)");
            }
        }
    };
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        if report.restored {
            err!(
                "{} in {}: copy {} restored in {:.1} s ({} step(s)), then {}",
                report.function,
                report.region,
                report.copy,
                report.recovery_secs,
                report.steps,
                match report.cleanup_failures.is_empty() {
                    true => "deleted",
                    false => "not all deleted (below)",
                }
            );
        } else {
            err!(
                "{} in {}: the restore of copy {} failed after {:.1} s",
                report.function,
                report.region,
                report.copy,
                report.recovery_secs
            );
        }
        if let Some(i) = &report.invoked {
            err!(
                "  invoked the copy: {} in {} ms{}",
                if i.error.is_none() {
                    "answered"
                } else {
                    "FAILED"
                },
                i.millis,
                if i.response.is_empty() {
                    String::new()
                } else {
                    format!(": {}", i.response)
                }
            );
        }
        for d in &report.differences {
            err!("  differs: {d}");
        }
        for f in &report.cleanup_failures {
            err!(
                "  not deleted (delete it by hand; a copy left is deleted by the next drill of \
                 this function): {f}"
            );
        }
        if let Some(why) = &report.unrecorded {
            err!("  not recorded: {why}");
        }
        for c in &report.leftovers_removed {
            err!("  deleted {c}, the copy an earlier drill left");
        }
        for c in &report.leftovers_waiting {
            err!(
                "  {c} is still there: a drill another machine began less than 30 minutes ago, \
                 or one still running here, left it (or runs still); a drill after that \
                 deletes it, or delete it by hand"
            );
        }
        err!(
            "{}",
            if report.complete {
                "complete: the snapshot restores whole".to_string()
            } else if let Some(why) = report
                .unrecorded
                .as_ref()
                .filter(|_| report.differences.is_empty() && report.cleanup_failures.is_empty())
            {
                format!("INCOMPLETE: the snapshot restored whole, but {why}")
            } else if report.stopped {
                format!(
                    "STOPPED (Ctrl-C) before the drill was done: {} left behind",
                    report.cleanup_failures.len()
                )
            } else {
                format!(
                    "INCOMPLETE: {} difference(s), {} left behind",
                    report.differences.len(),
                    report.cleanup_failures.len()
                )
            }
        );
    }
    Ok(if report.complete {
        Exit::Done
    } else {
        Exit::Partial
    })
}
