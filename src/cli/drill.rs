//! `lops backup drill`: the CLI's face of a recovery rehearsal (the drill itself is
//! `ops::drill`): asks, runs, reports the recovery time and every difference; exit 0 only when
//! the copy is complete.

use super::GlobalArgs;
use super::common::early_check;
use crate::exit::{Exit, Failure};
use crate::ops::Kind;
use crate::ops::audit::AuditLog;
use crate::ops::backup::Progress;
use crate::provider::RegionSource;
use crate::session::Session;

use super::backup::{in_region, region_of, uri};

pub async fn run(
    global: &GlobalArgs,
    snapshot: &str,
    yes: bool,
    json: bool,
    role: Option<(&str, Option<&str>)>,
) -> Result<Exit, Failure> {
    early_check(global, Kind::Restore)?;
    let snapshot = uri(snapshot)?;
    crate::backup::root_of(&snapshot)?;
    if global.regions.as_ref().is_some_and(|r| r.len() != 1) {
        return Err(Failure::usage(
            "a drill runs in one region: pass one --region",
        ));
    }
    let ctx = Session::connect(&in_region(global, region_of(&snapshot)).flags()).await?;
    let assumed = match role {
        Some((role, external_id)) => ctx.assumed(role, external_id).await,
        None => None,
    };
    let Some(region) = assumed.as_ref().or(ctx.regions.first()) else {
        return Err(Failure::usage("no region: pass --region"));
    };
    err!(
        "drill of {snapshot} in {}: restore it under a temporary name, compare, then delete the copy",
        region.scope()
    );
    let production = region.scope().access.production;
    let ask = if production {
        crate::ops::Confirmation::Typed("drill".into())
    } else {
        crate::ops::Confirmation::Yes
    };
    super::confirm::ask(
        &ask,
        yes,
        super::confirm::why_typed(production, None).as_deref(),
    )?;
    let progress = |p: Progress| {
        if let Progress::Warning(w) = p {
            err!("lops: {w}");
        }
    };
    let report = crate::ops::drill::drill(
        region,
        snapshot,
        AuditLog::default_location().as_ref(),
        &progress,
    )
    .await
    .map_err(Failure::from)?;
    if json {
        out!(
            "{}",
            serde_json::to_string_pretty(&report).unwrap_or_default()
        );
    } else {
        err!(
            "{} in {}: copy {} restored in {:.1} s ({} step(s)), then deleted",
            report.function,
            report.region,
            report.copy,
            report.recovery_secs,
            report.steps
        );
        for d in &report.differences {
            err!("  differs: {d}");
        }
        for f in &report.cleanup_failures {
            err!("  not deleted (delete it by hand): {f}");
        }
        err!(
            "{}",
            if report.complete {
                "complete: the snapshot restores whole".to_string()
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
