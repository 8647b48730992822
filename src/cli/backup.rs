//! `lops backup run|list|verify|prune`: parse, show progress, print; the work is in
//! `ops::backup` and `backup` (`lops restore` is in `cli::restore`).

use std::io::{IsTerminal, Write};

use clap::{Args, Subcommand};
use indicatif::{ProgressBar, ProgressStyle};
use serde_json::json;

use super::GlobalArgs;
use super::common::{ActFlags, early_check};
use crate::backup::store::parse_storage_class;
use crate::backup::{S3Uri, list};
use crate::exit::{Exit, Failure};
use crate::format;
use crate::ops::Kind;
use crate::ops::audit::AuditLog;
use crate::ops::backup::{BackupRequest, Progress, Selection, run_backup, verify_snapshot};
use crate::ops::prune::{Retention, execute_prune, prepare_prune};
use crate::provider::RegionSource;
use crate::session::Session;

#[derive(Debug, Subcommand)]
pub enum BackupCommand {
    /// Snapshot functions (code, configuration, versions, aliases, concurrency, tags, triggers)
    /// and copy S3 data, into s3://BUCKET/PREFIX.
    Run(RunArgs),
    /// Every complete snapshot under a prefix, newest first.
    List {
        /// The backup location, s3://BUCKET/PREFIX.
        #[arg(long)]
        to: String,
        /// Only this function's snapshots.
        #[arg(long = "fn")]
        function: Option<String>,
        #[arg(long)]
        json: bool,
    },
    /// Re-read and re-hash every object a snapshot needs; exit 1 naming each bad one.
    Verify {
        /// A snapshot manifest's URI, as `backup list` prints it.
        snapshot: String,
        #[arg(long)]
        json: bool,
    },
    /// Delete old snapshots, then the blobs and data copies no snapshot needs any more.
    Prune(PruneArgs),
    /// Rehearse a recovery: restore the snapshot under a temporary name in --region, compare
    /// the copy with the snapshot, delete it, and report how long it took and what differs
    /// (exit 0 only when the copy is complete).
    Drill(super::drill::DrillArgs),
}

#[derive(Debug, Args)]
pub struct RunArgs {
    /// A function to back up (repeatable, or comma separated).
    #[arg(long = "fn", value_delimiter = ',', conflicts_with = "all")]
    pub functions: Vec<String>,
    /// Every function in the region(s).
    #[arg(long)]
    pub all: bool,
    /// With --all: only names matching this (`*` wildcards, else a substring).
    #[arg(long, requires = "all")]
    pub filter: Option<String>,
    /// Where to store it: s3://BUCKET/PREFIX.
    #[arg(long)]
    pub to: String,
    /// S3 data to copy server-side with it: s3://BUCKET/PREFIX (repeatable).
    #[arg(long = "data")]
    pub data: Vec<String>,
    /// STANDARD, STANDARD_IA, GLACIER_IR, GLACIER or DEEP_ARCHIVE (the last two must be
    /// restored from the archive before a restore can read them).
    #[arg(long, default_value = "STANDARD")]
    pub storage_class: String,
    /// Also store the content of the layers the functions use.
    #[arg(long)]
    pub with_layers: bool,
    /// `--yes` confirms (needed without a terminal, as from cron), `--dry-run` previews only,
    /// `--json` prints a summary on stdout and no progress bar.
    #[command(flatten)]
    pub flags: ActFlags,
}

#[derive(Debug, Args)]
pub struct PruneArgs {
    #[arg(long)]
    pub to: String,
    /// Keep the newest N snapshots of each function.
    #[arg(long, allow_hyphen_values = true, value_parser = super::common::count_arg)]
    pub keep_last: usize,
    /// Also keep the newest snapshot of each of the last D days that have one.
    #[arg(long, default_value_t = 0, allow_hyphen_values = true, value_parser = super::common::count_arg)]
    pub keep_daily: usize,
    /// Keep the newest N safety snapshots (taken by restores) of each function; they never
    /// count as backups.
    #[arg(long, default_value_t = crate::backup::KEEP_SAFETY, allow_hyphen_values = true, value_parser = super::common::count_arg)]
    pub keep_safety: usize,
    /// Delete unreferenced blobs only once they are this old: a younger one may belong to a
    /// backup still running.
    #[arg(long, default_value = "1h")]
    pub grace: String,
    #[command(flatten)]
    pub flags: ActFlags,
}

pub(super) fn uri(text: &str) -> Result<S3Uri, Failure> {
    S3Uri::parse(text).map_err(Failure::usage)
}

/// A snapshot's address (verify, restore, drill): its manifest's, as `backup list` prints it.
pub(super) fn snapshot_uri(text: &str) -> Result<S3Uri, Failure> {
    S3Uri::parse(text).map_err(|e| {
        let example = "s3://BUCKET/PREFIX/snapshots/REGION/FUNCTION/TIME.json, as `lops \
                       backup list --to s3://BUCKET/PREFIX` prints it";
        Failure::usage(match text.trim().starts_with("s3://") {
            true => format!("{e}; a snapshot is named by its manifest's address ({example})"),
            false => {
                format!("'{text}' is not a snapshot's address: give its manifest's, {example}")
            }
        })
    })
}

pub(super) fn bar(json: bool) -> ProgressBar {
    if json || !std::io::stderr().is_terminal() {
        return ProgressBar::hidden();
    }
    let bar = ProgressBar::new(0);
    if let Ok(style) =
        ProgressStyle::with_template("{spinner} [{elapsed_precise}] {bar:30} {pos}/{len} {msg}")
    {
        // indicatif draws its own glyphs: ASCII ones where the terminal takes nothing else.
        let style = match super::ascii_terminal() {
            true => style.progress_chars("#>-").tick_chars("|/-\\ "),
            false => style,
        };
        bar.set_style(style);
    }
    bar
}

fn report(bar: &ProgressBar) -> impl Fn(Progress) + Sync + '_ {
    move |p| match p {
        Progress::Total(n) => bar.inc_length(n),
        Progress::Function {
            region,
            function,
            ok,
        } => {
            bar.inc(1);
            bar.set_message(format!(
                "{}{function} ({region})",
                if ok { "" } else { "failed: " }
            ));
        }
        Progress::DataObject { key, size } => {
            bar.set_message(format!("data {key} ({})", format::bytes(size)));
        }
        Progress::Step(s) => bar.set_message(s),
        Progress::DataBegins => bar.set_message("copying data back"),
        Progress::Note(w) | Progress::Warning(w) => bar.suspend(|| err!("lops: {w}")),
    }
}

/// A copy of the global flags aimed at one region (restore and verify default to the
/// snapshot's own region).
pub(super) fn in_region(global: &GlobalArgs, region: Option<String>) -> GlobalArgs {
    let mut g = global.clone();
    if g.regions.is_none()
        && let Some(r) = region
    {
        g.regions = Some(vec![r]);
    }
    g
}

pub(super) fn region_of(snapshot: &S3Uri) -> Option<String> {
    let key = &snapshot.key;
    let at = key.rfind("snapshots/")?;
    key[at + "snapshots/".len()..]
        .split('/')
        .next()
        .map(str::to_string)
}

/// Names each snapshot whose manifest could not be read or is not valid (restore and prune
/// refuse it) and what to do: exit 3 when others were listed, 1 when none could be.
fn say_unreadable(store: &crate::backup::Store, all: &[crate::backup::Listed]) -> Exit {
    let unreadable: Vec<_> = all.iter().filter(|s| s.problem.is_some()).collect();
    // Another snapshot of the same function and region that can be restored (listed here).
    let restorable = |bad: &crate::backup::Listed| {
        all.iter()
            .any(|s| s.problem.is_none() && s.region == bad.region && s.function == bad.function)
    };
    for s in &unreadable {
        let problem = s.problem.as_deref().unwrap_or_default();
        if !s.broken {
            // A newer lops's, or archived: nothing to take again.
            err!(
                "lops: snapshot {} cannot be read here now: {problem}",
                s.snapshot
            );
            continue;
        }
        err!(
            "lops: snapshot {} cannot be restored ({problem}): {}",
            s.snapshot,
            crate::backup::remedy(store, &s.region, &s.function, restorable(s))
        );
    }
    match (unreadable.len(), all.len()) {
        (0, _) => Exit::Done,
        (bad, listed) if bad < listed => Exit::Partial,
        _ => Exit::Failure,
    }
}

pub async fn backup(global: &GlobalArgs, command: BackupCommand) -> Result<Exit, Failure> {
    match command {
        BackupCommand::Run(args) => run(global, args).await,
        BackupCommand::List { to, function, json } => {
            let to = uri(&to)?;
            let ctx = Session::connect(&global.flags()).await?;
            let Some(region) = ctx.regions.first() else {
                return Err(Failure::usage("no region: pass --region"));
            };
            let store = crate::backup::Store::open(region, to).await?;
            let all = list(&store, function.as_deref()).await?;
            if json {
                out!("{}", serde_json::to_string_pretty(&all).unwrap_or_default());
            } else if all.is_empty() {
                err!("no complete snapshots under {}", store.root);
            } else {
                let mut out = super::stdout();
                for s in &all {
                    let _ = writeln!(
                        out,
                        "{:<24} {:<14} {:<12} {:<24} {:<6} {:>9}  {}",
                        s.function,
                        s.region,
                        s.account.as_deref().unwrap_or("?"),
                        s.taken_at.as_deref().unwrap_or("?"),
                        s.kind,
                        s.size.map(format::bytes).unwrap_or_else(|| "?".into()),
                        match &s.problem {
                            Some(p) => format!("{}  ({p})", s.snapshot),
                            None => s.snapshot.clone(),
                        }
                    );
                }
            }
            Ok(say_unreadable(&store, &all))
        }
        BackupCommand::Verify { snapshot, json } => {
            let snapshot = snapshot_uri(&snapshot)?;
            crate::backup::root_of(&snapshot)?;
            let ctx = Session::connect(&in_region(global, region_of(&snapshot)).flags()).await?;
            let Some(region) = ctx.regions.first() else {
                return Err(Failure::usage("no region: pass --region"));
            };
            let (_, verified) = verify_snapshot(region, &snapshot).await?;
            if json {
                out!(
                    "{}",
                    serde_json::to_string_pretty(&verified).unwrap_or_default()
                );
            } else {
                for p in &verified.problems {
                    err!("lops: {p}");
                }
                if let Some(remedy) = &verified.remedy {
                    err!("lops: this snapshot cannot be restored now: {remedy}");
                }
                // The result is the command's output; each problem is also said on stderr.
                out!(
                    "{}: {} ({}) and {} checked, {} problem(s)",
                    verified.snapshot,
                    format::items(verified.blobs_checked as u64, "blob", "blobs"),
                    format::bytes(verified.bytes_checked),
                    format::items(
                        verified.data_objects_checked as u64,
                        "data object",
                        "data objects"
                    ),
                    verified.problems.len()
                );
            }
            Ok(if verified.problems.is_empty() {
                Exit::Done
            } else {
                Exit::Failure
            })
        }
        BackupCommand::Prune(args) => prune(global, args).await,
        BackupCommand::Drill(args) => super::drill::run(global, &args).await,
    }
}

async fn run(global: &GlobalArgs, args: RunArgs) -> Result<Exit, Failure> {
    early_check(global, Kind::Backup)?;
    let to = uri(&args.to)?;
    let data = args
        .data
        .iter()
        .map(|d| uri(d))
        .collect::<Result<Vec<_>, _>>()?;
    let storage_class = parse_storage_class(&args.storage_class)?;
    let selection = if args.all {
        Selection::All {
            filter: args.filter.clone(),
        }
    } else {
        let names = crate::ops::backup::named(&args.functions)
            .map_err(|e| Failure::usage(e.to_string()))?;
        Selection::Named(names)
    };
    let request = BackupRequest {
        selection,
        to,
        data,
        storage_class,
        with_layers: args.with_layers,
    };
    request.validate()?;
    let ctx = Session::connect(&global.flags()).await?;
    // The preview and the confirmation the ops layer decides, as the dashboard's `b` shows them.
    let scopes = || ctx.regions.iter().map(|r| r.scope());
    let preview = crate::ops::backup::backup_preview(&request, scopes());
    for line in &preview {
        err!("{line}");
    }
    if args.flags.dry_run {
        if args.flags.json {
            out!("{}", json!({"dry_run": true, "preview": preview}));
        }
        err!("dry run: nothing backed up");
        return Ok(Exit::Done);
    }
    let (named, all) = match &request.selection {
        Selection::Named(names) => (names.as_slice(), false),
        Selection::All { .. } => (&[][..], true),
    };
    let production = scopes().any(|s| s.access.production);
    super::confirm::ask(
        &crate::ops::backup::backup_confirmation(named, all, scopes()),
        args.flags.yes,
        super::confirm::why_typed(production, None).as_deref(),
    )?;
    let storage_class = &request.storage_class;
    if let Some(note) = crate::ops::backup::thaw_note(storage_class)
        && !args.flags.json
    {
        err!("{note}");
    }
    let audit = AuditLog::default_location();
    let bar = bar(args.flags.json);
    let progress = report(&bar);
    let result = run_backup(&ctx.regions, &request, audit.as_ref(), &progress).await;
    bar.finish_and_clear();
    let report = result?;
    if args.flags.json {
        // What the run cost, per service and operation (cron logs keep it).
        let mut doc = serde_json::to_value(&report).unwrap_or_default();
        doc["api_calls"] = serde_json::to_value(ctx.counter.snapshot()).unwrap_or_default();
        out!("{}", serde_json::to_string_pretty(&doc).unwrap_or_default());
    } else {
        let mut out = super::stdout();
        for s in &report.snapshots {
            let _ = writeln!(
                out,
                "{:<24} {:<14} {:>9} ({} new blob(s), {} uploaded)  {}",
                s.function,
                s.region,
                format::bytes(s.size),
                s.uploaded_blobs,
                format::bytes(s.uploaded_bytes),
                s.snapshot
            );
        }
        for d in &report.data {
            let _ = writeln!(
                out,
                "data {} → {}: {} objects, {}",
                d.source,
                d.copy,
                d.objects,
                format::bytes(d.bytes)
            );
        }
    }
    // Also with --json: a cron job's log of stderr says what failed, not only the document.
    for f in &report.failed {
        err!("lops: {} in {}: {}", f.function, f.region, f.error);
    }
    // A data source with nothing in it is most often a mistyped prefix: said, and not a
    // complete run for a script (`exit 3`), while the snapshots taken stand.
    let empty: Vec<&str> = report
        .data
        .iter()
        .filter(|d| d.objects == 0)
        .map(|d| d.source.as_str())
        .collect();
    for source in &empty {
        err!("lops: {source} holds no objects: check the prefix (nothing of it is in the backup)");
    }
    Ok(
        match (report.snapshots.is_empty(), report.failed.is_empty()) {
            (false, true) if !empty.is_empty() => Exit::Partial,
            (_, true) => Exit::Done,
            (true, false) if report.failed.iter().all(|f| f.invalid) => Exit::Usage,
            (true, false) if report.failed.iter().all(|f| f.refused) => Exit::Refused,
            (true, false) => Exit::Failure,
            (false, false) => Exit::Partial,
        },
    )
}

async fn prune(global: &GlobalArgs, args: PruneArgs) -> Result<Exit, Failure> {
    early_check(global, Kind::Prune)?;
    let to = uri(&args.to)?;
    let ctx = Session::connect(&global.flags()).await?;
    let region = ctx.acting("a prune").await?;
    let cutoff = crate::loglines::parse_since(&args.grace, chrono::Utc::now())
        .map_err(|e| Failure::usage(format!("--grace: {e}")))?;
    let retention = Retention {
        keep_last: args.keep_last,
        keep_daily: args.keep_daily,
        keep_safety: args.keep_safety,
    };
    let (store, selection) = prepare_prune(region, &to, retention, cutoff).await?;
    err!(
        "prune {}: delete {} snapshot(s), {} blob(s) and {} data object(s) ({}); keep {} snapshot(s)",
        selection.to,
        selection.manifests.len(),
        selection.blobs.len(),
        selection.data_objects.len(),
        format::bytes(selection.bytes),
        selection.kept
    );
    for m in &selection.manifests {
        err!("  - {}", store.uri(m));
    }
    for n in &selection.notes {
        err!("  note: {n}");
    }
    let nothing = selection.manifests.is_empty()
        && selection.blobs.is_empty()
        && selection.data_objects.is_empty();
    if args.flags.dry_run || nothing {
        if args.flags.json {
            out!(
                "{}",
                serde_json::to_string_pretty(
                    &json!({"dry_run": args.flags.dry_run, "plan": selection})
                )
                .unwrap_or_default()
            );
        }
        err!(
            "{}",
            if nothing {
                "nothing to prune"
            } else {
                "dry run: nothing deleted"
            }
        );
        return Ok(Exit::Done);
    }
    let production = region.scope().access.production;
    super::confirm::ask(
        &selection.confirmation(region.scope()),
        args.flags.yes,
        super::confirm::why_typed(production, None).as_deref(),
    )?;
    let done = execute_prune(
        region,
        &store,
        &selection,
        AuditLog::default_location().as_ref(),
    )
    .await?;
    if args.flags.json {
        super::print_json(&json!({"pruned": done, "plan": selection}));
    } else {
        err!(
            "pruned: {} snapshot(s), {} blob(s), {} data object(s)",
            done.manifests,
            done.blobs,
            done.data_objects
        );
        for n in &done.notes {
            err!("  note: {n}");
        }
    }
    Ok(Exit::Done)
}
