//! `lops traffic plan | resume | abort | plans`: stepwise traffic moves with a guard.

use std::io::Write;

use super::GlobalArgs;
use super::common::{ActFlags, RolloutArgs, audit_log, early_check};
use crate::exit::{Exit, Failure};
use crate::ops::Kind;
use crate::ops::rollout::{self, Guard, Rollout, RolloutStore, Status};
use crate::provider::RegionSource;
use crate::provider::aws::AwsRegion;
use crate::session::Session;

fn store() -> Result<RolloutStore, Failure> {
    RolloutStore::default_location()
        .ok_or_else(|| Failure::usage("no state directory: set XDG_STATE_HOME or HOME"))
}

fn one_region(ctx: &Session) -> Result<&AwsRegion, Failure> {
    match ctx.regions.as_slice() {
        [one] => Ok(one),
        many => {
            let profiles: std::collections::BTreeSet<&str> =
                many.iter().map(|r| r.scope().profile.as_str()).collect();
            Err(Failure::usage(if profiles.len() > 1 {
                "a rollout runs in one scope at a time: give a single --profile and --region"
            } else {
                "a rollout runs in one region at a time: give a single --region"
            }))
        }
    }
}

fn exit_for(status: &Status) -> Exit {
    match status {
        Status::Done => Exit::Done,
        // The guard refused the new version.
        // Stopped before the end: by its guard, someone else's change, or an abort asked for
        // elsewhere — a script must not go on as if it had finished.
        Status::RolledBack { .. } | Status::Halted { .. } | Status::Aborted => Exit::Refused,
        // Interrupted (ctrl-c, SIGTERM, a closed terminal): left where it was, unfinished.
        Status::Running => Exit::Failure,
    }
}

/// While this process drives a rollout, ctrl-c, SIGTERM and SIGHUP (a dropped SSH link) stop
/// it at its next safe point and save it as interrupted; a second signal quits at once.
fn stop_on_signal() {
    tokio::spawn(async {
        if crate::runtime::stop_requested(true).await.is_err() {
            return;
        }
        rollout::interrupt();
        let _ = writeln!(
            super::stderr(),
            "{}",
            if rollout::rolling_back() {
                "the rollout is rolling back: lops stops once that is written"
            } else {
                "stopping the rollout where it is (within a second); a second signal (ctrl-c) \
                 quits at once"
            }
        );
        while crate::runtime::stop_requested(true).await.is_ok() {
            if !rollout::rolling_back() {
                std::process::exit(Exit::Failure as i32);
            }
            // Quitting now would leave the alias half-way back: said, and the next one quits.
            let _ = writeln!(
                super::stderr(),
                "the rollout is rolling back: lops quits when it is done (again to quit now, \
                 leaving the alias where the rollback got to)"
            );
            if crate::runtime::stop_requested(true).await.is_ok() {
                std::process::exit(Exit::Failure as i32);
            }
        }
    });
}

/// While `traffic abort` runs: a signal before its rollback quits at once (this abort wrote
/// nothing yet); during the rollback it is said and lops quits when the rollback and its record
/// are written — a further signal quits at once, leaving the alias where the rollback got to.
fn finish_abort_on_signal() {
    tokio::spawn(async {
        if crate::runtime::stop_requested(true).await.is_err() {
            return;
        }
        if !rollout::rolling_back() {
            let _ = writeln!(
                super::stderr(),
                "abort stopped before it wrote anything itself; if it had already asked the lops \
                 running the rollout to abort, that one still rolls back (see `lops traffic plans`)"
            );
            std::process::exit(Exit::Failure as i32);
        }
        let _ = writeln!(
            super::stderr(),
            "the abort is rolling back: lops quits when it is done (again to quit now, leaving \
             the alias where the rollback got to)"
        );
        if crate::runtime::stop_requested(true).await.is_ok() {
            std::process::exit(Exit::Failure as i32);
        }
    });
}

/// A preview only: said on stderr, and with `--json` one line on stdout (as every event); on a
/// production scope, that a real run asks for the typed name, as every dry run says.
fn dry_run(
    r: &Rollout,
    scope: &crate::provider::Scope,
    preview: &str,
    json: bool,
) -> Result<Exit, Failure> {
    if let crate::ops::Confirmation::Typed(name) = r.confirmation(scope) {
        err!("a real run asks for the typed name: \"{name}\"");
    }
    if json {
        let line = serde_json::json!({"dry_run": true, "target": r.target(), "profile": r.profile, "region": r.region, "from": r.from, "to": r.to, "steps": r.steps, "preview": preview});
        out!("{line}");
    }
    err!("dry run: nothing changed");
    Ok(Exit::Done)
}

fn reporter(json: bool) -> impl FnMut(&Rollout, &str) {
    move |r: &Rollout, event: &str| {
        let mut err = super::stderr();
        if json {
            // `step` is the step under way or just applied, counted from 1, of `steps`;
            // `standing` as `traffic plans` says it (`status` stays `running` for a rollout
            // interrupted where it was, which `standing` says).
            let line = serde_json::json!({"time": r.updated, "target": r.target(), "region": r.region, "step": (r.step + 1).min(r.steps.len()), "steps": r.steps.len(), "status": r.status, "standing": r.standing(), "event": event});
            let _ = writeln!(super::stdout(), "{line}");
        } else {
            let _ = writeln!(err, "{} {} in {}: {event}", r.updated, r.target(), r.region);
        }
    }
}

pub async fn plan(global: &GlobalArgs, args: RolloutArgs) -> Result<Exit, Failure> {
    crate::ops::request::check_function(&args.function)?;
    crate::ops::request::check_alias(&args.alias)?;
    early_check(global, Kind::RolloutStart)?;
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
    if args.guard_alarms.iter().any(|a| a.trim().is_empty()) {
        return Err(Failure::usage(
            "--guard-alarm is empty: give a CloudWatch alarm name, or leave the flag out",
        ));
    }
    let ctx = Session::connect(&global.flags()).await?;
    // The config's [guards] with the command line on top: the dashboard starts from the same.
    let mut guard = Guard::from_config(&ctx.settings.guards, args.guard_alarms.clone());
    if let Some(rate) = args.max_error_rate {
        guard.max_error_rate = Some(rate);
    }
    if let Some(secs) = args.guard_interval {
        guard.interval_secs = secs;
    }
    let source = one_region(&ctx)?;
    let store = store()?;
    let spec = rollout::RolloutSpec {
        function: args.function.clone(),
        alias: args.alias.clone(),
        to: args.to.clone(),
        steps,
        guard,
        function_alarms: ctx.settings.guards.function_alarms && !args.no_function_alarms,
    };
    let mut r = rollout::start(source, spec, &store).await?;
    let preview = r.preview();
    err!("{preview}");
    if args.flags.dry_run {
        return dry_run(&r, source.scope(), &preview, args.flags.json);
    }
    let production = source.scope().access.production;
    super::confirm::ask(
        &r.confirmation(source.scope()),
        args.flags.yes,
        super::confirm::why_typed(production, None).as_deref(),
    )?;
    let audit = audit_log(&ctx);
    rollout::ready_to_start(source, &r, audit.as_ref()).await?;
    store.create(&r).map_err(|e| match e.kind() {
        std::io::ErrorKind::AlreadyExists => crate::ops::OpsError::Refused(e.to_string()).into(),
        _ => Failure::failed(format!("cannot save the rollout: {e}")),
    })?;
    stop_on_signal();
    let status = rollout::run(
        source,
        &mut r,
        audit.as_ref(),
        &store,
        reporter(args.flags.json),
    )
    .await?;
    Ok(exit_for(&status))
}

pub async fn resume(
    global: &GlobalArgs,
    function: &str,
    alias: &str,
    flags: &ActFlags,
    abort: bool,
) -> Result<Exit, Failure> {
    crate::ops::request::check_function(function)?;
    crate::ops::request::check_alias(alias)?;
    early_check(
        global,
        if abort {
            Kind::RolloutAbort
        } else {
            Kind::RolloutResume
        },
    )?;
    let ctx = Session::connect(&global.flags()).await?;
    let source = one_region(&ctx)?;
    let store = store()?;
    let verb = if abort { "abort" } else { "resume" };
    if let Some(why) = store.damaged_under_any_profile(source.scope(), function, alias) {
        return Err(Failure::refused(why));
    }
    let loaded = store.load(source.scope(), function, alias);
    let mut r = loaded.clone().filter(Rollout::unfinished).ok_or_else(|| {
        match store.elsewhere(source.scope(), function, alias) {
            // Under another profile: acted on there, with that profile's tier and credentials.
            Some(other) => Failure::usage(format!(
                "the rollout of {function}:{alias} in {} is {} under profile {}: `lops traffic \
                 {verb} {alias} --fn {function} --profile {} --regions {}`",
                other.region,
                other.standing().as_str(),
                other.profile,
                other.profile,
                other.region
            )),
            None => Failure::usage(format!(
                "{}: see `lops traffic plans`",
                rollout::none_unfinished(source.scope(), function, alias, loaded.as_ref())
            )),
        }
    })?;
    let audit = audit_log(&ctx);
    let (what, previewed) = r.act_preview_now(source, abort).await?;
    err!("{what}");
    if flags.dry_run {
        return dry_run(&r, source.scope(), &what, flags.json);
    }
    let production = source.scope().access.production;
    super::confirm::ask(
        &r.confirmation(source.scope()),
        flags.yes,
        super::confirm::why_typed(production, None).as_deref(),
    )?;
    if abort {
        finish_abort_on_signal();
        let outcome = rollout::abort(
            source,
            &store,
            function,
            alias,
            audit.as_ref(),
            ABORT_WAIT,
            Some(&previewed),
        )
        .await?;
        reporter(flags.json)(
            &outcome.rollout,
            &format!("aborted: {}", outcome.describe()),
        );
        return Ok(if outcome.now == outcome.rollout.start_routing() {
            Exit::Done
        } else {
            Exit::Failure
        });
    }
    rollout::resume_again(source, &r).await?;
    stop_on_signal();
    let status = rollout::run(source, &mut r, audit.as_ref(), &store, reporter(flags.json)).await?;
    Ok(exit_for(&status))
}

/// How long `abort` waits for the lops running a rollout to roll it back before taking over.
const ABORT_WAIT: std::time::Duration = std::time::Duration::from_secs(30);

pub async fn list(global: &GlobalArgs, json: bool) -> Result<Exit, Failure> {
    let store = store()?;
    let mut all = store.all();
    // --profile and --regions narrow the list, as they narrow `audit` (a profile since removed
    // from the AWS files still names its rollouts); a region that cannot be, a profile nothing
    // was saved under and no one knows, or a config that does not read, is refused.
    let (settings, _) = crate::session::settings(&global.flags())?;
    let kept: Vec<&str> = all.iter().map(|r| r.profile.as_str()).collect();
    crate::session::check_named_profiles(&global.profiles, &kept, &settings).await?;
    let before = all.len();
    let mut seen: Vec<String> = all
        .iter()
        .map(|r| format!("{}/{}", r.profile, r.region))
        .collect();
    seen.sort();
    seen.dedup();
    all.retain(|r| {
        let named = |list: &[String], value: &str| list.iter().any(|v| v.trim() == value);
        (global.profiles.is_empty() || named(&global.profiles, &r.profile))
            && global
                .regions
                .as_deref()
                .is_none_or(|regions| named(regions, &r.region))
    });
    if all.is_empty() && before > 0 {
        err!(
            "lops: none of the {before} rollout(s) saved is under the profiles and regions named; \
             they are under {}",
            seen.join(", ")
        );
    }
    // A file that does not read may be a rollout still running: named, never left out unsaid.
    let unreadable = store.unreadable();
    if json {
        let mut docs: Vec<serde_json::Value> = all
            .iter()
            .map(|r| {
                let mut doc = serde_json::to_value(r).unwrap_or_default();
                doc["standing"] = serde_json::json!(r.standing());
                // Counted as `traffic plan --json`'s events count it: the step it is on, from 1.
                doc["step"] = serde_json::json!((r.step + 1).min(r.steps.len()));
                doc
            })
            .collect();
        docs.extend(unreadable.iter().map(|(file, why)| {
            serde_json::json!({"standing": "unreadable", "file": file.display().to_string(), "error": why})
        }));
        super::print_json(&docs);
    } else if all.is_empty() && unreadable.is_empty() {
        out!("no rollouts in {}", store.dir().display());
    } else {
        for r in &all {
            let owner = match (r.standing(), &r.owner) {
                (rollout::Standing::Running, Some(o)) => {
                    format!(" (lops pid {} on {})", o.pid, o.host)
                }
                _ => String::new(),
            };
            out!(
                "{:<12} {:<20} {:<32} v{} → v{}  {}  (updated {}){owner}",
                r.standing().as_str(),
                // Profile and region: two profiles may each hold a rollout of one alias name.
                format!("{}/{}", r.profile, r.region),
                r.target(),
                r.from,
                r.to,
                r.status_said(),
                r.updated
            );
        }
        for (file, why) in &unreadable {
            out!(
                "{:<12} {}: {why} (it may be a rollout still running: check its alias, then move \
                 the file away)",
                "unreadable",
                file.display()
            );
        }
        // Where they are kept: one whose alias is gone is cleared by removing its file.
        err!("lops: saved in {}", store.dir().display());
    }
    Ok(if unreadable.is_empty() {
        Exit::Done
    } else {
        Exit::Partial
    })
}
