//! `lops restore`: a snapshot back into a region or account, previewed and confirmed; the
//! work is in `ops::restore` through `ops::backup`.

use clap::Args;
use serde_json::json;

use super::GlobalArgs;
use super::backup::{bar, in_region, region_of, uri};
use super::common::{ActFlags, early_check};
use crate::backup::BackupError;
use crate::exit::{Exit, Failure};
use crate::ops::Kind;
use crate::ops::audit::AuditLog;
use crate::ops::backup::{Progress, RestoreRequest, execute_restore, prepare_restore};
use crate::provider::RegionSource;
use crate::session::Session;

#[derive(Debug, Args)]
pub struct RestoreArgs {
    /// The snapshot manifest's URI, as `lops backup list` prints it.
    pub snapshot: String,
    /// Restore under another name.
    #[arg(long)]
    pub name: Option<String>,
    /// Execution role for the restored function (needed in another account).
    #[arg(long)]
    pub role: Option<String>,
    /// Copy the snapshot's S3 data here instead of back where it came from.
    #[arg(long)]
    pub data_to: Option<String>,
    /// Do not copy S3 data back.
    #[arg(long, conflicts_with = "data_to")]
    pub no_data: bool,
    /// Map event source mappings whose source is in the snapshot's region to the same source
    /// in the target region (previewed).
    #[arg(long)]
    pub map_sources: bool,
    /// Also remove what the target has and the snapshot has not (aliases, function URL,
    /// permissions, event source mappings, asynchronous invoke configuration, provisioned
    /// concurrency; published versions stay), each removal previewed and undone on a failure:
    /// restoring a safety snapshot this way puts the function back as it was.
    #[arg(long)]
    pub exact: bool,
    /// Act in the target account as this role (STS AssumeRole from the profile's credentials).
    #[arg(long, value_name = "ROLE_ARN")]
    pub assume_role: Option<String>,
    /// The external id the role's trust policy asks for.
    #[arg(long, requires = "assume_role")]
    pub external_id: Option<String>,
    #[command(flatten)]
    pub flags: ActFlags,
}

pub async fn restore(global: &GlobalArgs, args: RestoreArgs) -> Result<Exit, Failure> {
    early_check(global, Kind::Restore)?;
    let snapshot = super::backup::snapshot_uri(&args.snapshot)?;
    crate::backup::root_of(&snapshot)?;
    let data_to = args.data_to.as_deref().map(uri).transpose()?;
    if global.regions.as_ref().is_some_and(|r| r.len() != 1) {
        return Err(Failure::usage(
            "restore goes into one region: pass one --region",
        ));
    }
    if let Some(role) = &args.assume_role {
        crate::ops::restore::check_role_arn("--assume-role", role).map_err(Failure::from)?;
    }
    let ctx = Session::connect(&in_region(global, region_of(&snapshot)).flags()).await?;
    let acting = ctx.acting("a restore").await?;
    let assumed = match &args.assume_role {
        Some(role) => Some(ctx.assumed(acting, role, args.external_id.as_deref()).await),
        None => None,
    };
    let region = assumed.as_ref().unwrap_or(acting);
    let request = RestoreRequest {
        snapshot,
        name: args.name.clone(),
        role: args.role.clone(),
        data_to,
        skip_data: args.no_data,
        map_sources: args.map_sources,
        exact: args.exact,
        mappings_disabled: false,
        whole_snapshot: false,
        assume_role: args.assume_role.clone(),
    };
    let audit = AuditLog::default_location();
    let mut preview = prepare_restore(region, &request, audit.as_ref()).await?;
    preview.note_unfinished(audit.as_ref(), region.scope());
    for line in preview.lines() {
        err!("{line}");
    }
    let doc = |outcome: Option<serde_json::Value>| {
        json!({
            "snapshot": preview.verified.snapshot,
            "function": preview.difference.function,
            "region": preview.difference.region,
            "exists": preview.difference.exists,
            "steps": preview.difference.steps.iter().map(|s| s.describe()).collect::<Vec<_>>(),
            "notes": preview.difference.notes,
            "not_in_snapshot": preview.difference.outside,
            "data_overwrites": preview.overwrites(),
            // Only with --no-data: the damaged data copy it goes on without.
            "data_problems": preview.verified.data_problems,
            "dry_run": args.flags.dry_run,
            "result": outcome,
        })
    };
    if args.flags.dry_run || !preview.changes_anything() {
        if let crate::ops::Confirmation::Typed(name) = preview.confirmation(region.scope())
            && args.flags.dry_run
            && preview.changes_anything()
        {
            err!("a real run asks for the typed name: \"{name}\"");
        }
        if args.flags.json {
            out!(
                "{}",
                serde_json::to_string_pretty(&doc(None)).unwrap_or_default()
            );
        }
        err!(
            "{}",
            if args.flags.dry_run {
                "dry run: nothing changed"
            } else {
                "nothing to restore: the target already matches the snapshot"
            }
        );
        return Ok(Exit::Done);
    }
    let production = region.scope().access.production;
    super::confirm::ask(
        &preview.confirmation(region.scope()),
        args.flags.yes,
        super::confirm::why_typed(production, None).as_deref(),
    )?;
    let bar = bar(args.flags.json);
    // Its steps, then each data object to copy back.
    let objects: usize = preview.data.iter().map(|d| d.objects).sum();
    bar.inc_length((preview.difference.steps.len() + objects) as u64);
    // Once the function's steps are done (the core says when the data copy begins), Ctrl-C
    // stops the copy and leaves the function restored.
    let copying = std::sync::atomic::AtomicBool::new(false);
    let progress = |p: Progress| match p {
        Progress::DataBegins => copying.store(true, std::sync::atomic::Ordering::SeqCst),
        Progress::Step(s) => {
            bar.inc(1);
            bar.set_message(s);
        }
        Progress::DataObject { key, size } => {
            bar.inc(1);
            bar.set_message(format!("data {key} ({})", crate::format::bytes(size)));
        }
        Progress::Note(n) => bar.suspend(|| err!("lops: {n}")),
        Progress::Warning(w) => bar.suspend(|| err!("lops: {w}")),
        _ => {}
    };
    let stop = std::sync::atomic::AtomicBool::new(false);
    let restoring = execute_restore(region, &preview, audit.as_ref(), &progress, Some(&stop));
    tokio::pin!(restoring);
    // Ctrl-C stops the restore the safe way: the step under way ends, then every change is
    // undone (as after a failed step). A second one leaves the function as it is then.
    let result = loop {
        tokio::select! {
            result = &mut restoring => break result,
            _ = tokio::signal::ctrl_c() => {
                let copying = copying.load(std::sync::atomic::Ordering::SeqCst);
                if stop.swap(true, std::sync::atomic::Ordering::SeqCst) {
                    bar.finish_and_clear();
                    if copying {
                        return Err(Failure::failed(format!(
                            "restore interrupted while copying data back: {} in {} is \
                             restored, its data not all copied back; run the restore again to \
                             copy the rest",
                            preview.difference.function,
                            region.scope(),
                        )));
                    }
                    return Err(Failure {
                        exit: Exit::Failure,
                        message: format!(
                            "restore interrupted: {} in {} may be half-restored if its steps \
                             had begun (`lops audit` shows restore.begin then); {}",
                            preview.difference.function,
                            region.scope(),
                            if preview.difference.exists {
                                "the safety snapshot named above, if one was, puts it back \
                                 (`lops restore --exact` it)"
                            } else {
                                "it did not exist before: delete it"
                            }
                        ),
                    });
                }
                match copying {
                    true => bar.suspend(|| err!(
                        "lops: stopping the data copy: the object under way ends, the function \
                         stays restored (run the restore again to copy the rest; Ctrl-C again \
                         quits at once)"
                    )),
                    false => bar.suspend(|| err!(
                        "lops: stopping the restore: the step under way ends, then every change \
                         to the function is undone (Ctrl-C again leaves it as it is)"
                    )),
                }
            }
        }
    };
    bar.finish_and_clear();
    let outcome = result.map_err(|e: BackupError| Failure::from(e))?;
    if args.flags.json {
        out!(
            "{}",
            serde_json::to_string_pretty(&doc(serde_json::to_value(&outcome).ok()))
                .unwrap_or_default()
        );
    } else {
        err!("{}", outcome.summary());
    }
    Ok(Exit::Done)
}
