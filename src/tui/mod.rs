//! The interactive dashboard: one event loop over keys, ticks and poller messages.
//! Event → update → effects → draw; no AWS call or await in the draw path.

use std::io::{IsTerminal, Write};
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{Event, EventStream};
use futures::{FutureExt, Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::exit::{Exit, Failure};
use crate::ops::audit::AuditLog;
use crate::provider::sim::{SimClock, demo_regions};
use crate::runtime::effects::{Executor, Source};
use crate::runtime::poller::Timing;
use crate::session::{self, Flags, Session};
use crate::state::{Keymap, Msg, ScreenOptions, State, update};
use crate::ui::{self, Theme};

/// Seed of the demo fleet: the same fleet on every machine.
pub const DEMO_SEED: u64 = 7;

pub async fn run(flags: &Flags, demo: bool) -> Result<Exit, Failure> {
    let (settings, _) = session::settings(flags)?;
    // Checked when the config file was read; this cannot fail after that.
    let keymap = Keymap::with_overrides(&settings.keymap).map_err(Failure::usage)?;
    let theme = Theme::detect(settings.theme.no_color, settings.theme.ascii);
    if !std::io::stdout().is_terminal() {
        return Err(Failure::usage(
            "the dashboard needs a terminal; for scripts use `lops status` (with --json)",
        ));
    }
    // A terminal that says it cannot move its cursor (an editor's shell, some serial
    // consoles) would show the screen's codes as text.
    if std::env::var("TERM").is_ok_and(|t| t.trim() == "dumb") {
        return Err(Failure::usage(
            "the dashboard needs a terminal that can move its cursor, and TERM=dumb says this \
             one cannot: run it in a full terminal (or set TERM, e.g. TERM=xterm, if this one \
             can), or use `lops status` here",
        ));
    }
    let window = settings.guards.duplicate_invoke_secs;
    if demo {
        // The simulated fleet gets the access the session gives its first profile, so
        // `--demo --read-only` shows what a read-only profile can do.
        let profile = session::profiles(&settings).swap_remove(0);
        let access = session::access(&settings, &profile);
        let regions = demo_regions(DEMO_SEED, &SimClock::live(), access);
        let display = display(&settings, true, flags);
        // The demo's actions are audited apart, so they never mix with real ones.
        let audit = crate::config::state_dir()
            .map(|d| AuditLog::at(d.join("demo-audit.jsonl")).with_duplicate_window(window));
        let fleet = regions.len();
        run_terminal(regions, fleet, &settings, keymap, theme, display, audit).await
    } else {
        let ctx = connect_saying_so(flags, &settings).await?;
        let display = display(&ctx.settings, false, flags);
        let audit = AuditLog::default_location().map(|a| a.with_duplicate_window(window));
        let mut sources = ctx.regions;
        let fleet = sources.len();
        sources.extend(service_homes(flags, &settings, &sources).await);
        run_terminal(sources, fleet, &settings, keymap, theme, display, audit).await
    }
}

/// The session, its profiles' credentials checked before the screen is taken: a check that
/// takes long (a hung `credential_process`, SSO, STS) is said on the terminal while it waits,
/// with how long it may take, rather than a blank wait.
async fn connect_saying_so(flags: &Flags, settings: &Settings) -> Result<Session, Failure> {
    let connecting = Session::connect(flags);
    tokio::pin!(connecting);
    tokio::select! {
        ctx = &mut connecting => ctx,
        () = tokio::time::sleep(std::time::Duration::from_millis(700)) => {
            let wait = session::credentials_wait(settings);
            eprintln!(
                "lops: checking credentials (up to {} s, [timeouts] operation_secs)…",
                wait.as_secs()
            );
            connecting.await
        }
    }
}

/// A scope for each service whose own profile (`profile = …` in its `[[service]]`) the fleet
/// does not read: Route 53 is global, so one, in the fleet's first region. A profile that cannot
/// be reached here leaves its service saying so (as before: read with that profile).
async fn service_homes(
    flags: &Flags,
    settings: &Settings,
    fleet: &[crate::provider::aws::AwsRegion],
) -> Vec<crate::provider::aws::AwsRegion> {
    let mut homes = Vec::new();
    use crate::provider::RegionSource;
    let Some(region) = fleet.first().map(|s| s.scope().region.clone()) else {
        return homes;
    };
    let mut wanted: Vec<&String> = settings
        .services
        .iter()
        .filter_map(|s| s.profile.as_ref())
        .filter(|p| !fleet.iter().any(|s| s.scope().profile == **p))
        .collect();
    wanted.sort();
    wanted.dedup();
    for profile in wanted {
        let flags = Flags {
            profiles: vec![profile.clone()],
            regions: Some(vec![region.clone()]),
            ..flags.clone()
        };
        match Session::connect(&flags).await {
            Ok(ctx) => homes.extend(ctx.regions),
            Err(e) => tracing::warn!(%profile, error = %e.message, "a service's profile"),
        }
    }
    homes
}

fn display(settings: &Settings, demo: bool, flags: &Flags) -> ScreenOptions {
    ScreenOptions {
        demo,
        metrics_secs: settings.refresh.metrics_secs,
        // `--profile` or `--regions` chose what it shows: `u` undoes within them, as `lops undo`
        // with them does.
        narrowed: !flags.profiles.is_empty() || flags.regions.is_some(),
    }
}

async fn run_terminal<S: Source>(
    sources: Vec<S>,
    fleet: usize,
    settings: &Settings,
    keymap: Keymap,
    theme: Theme,
    display: ScreenOptions,
    audit: Option<AuditLog>,
) -> Result<Exit, Failure> {
    // Raw mode, alternate screen, and a panic hook that puts the terminal back.
    let display_demo = display.demo;
    let mut terminal = ratatui::init();
    keep_terminal_on_task_panics();
    // A paste arrives as one event, never as keys: a pasted newline is not enter.
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::EnableBracketedPaste);
    // The fleet's scopes, then those only services use (their own profiles).
    let scopes: Vec<_> = sources.iter().map(|s| s.scope().clone()).collect();
    let (services, said) = services_shown(&settings.services, display_demo);
    let pane = crate::state::services::ServicePane::new(services, &scopes, fleet);
    let fleet_scopes = scopes[..fleet.min(scopes.len())].to_vec();
    let mut state = State::new(fleet_scopes, keymap, display, Utc::now());
    state.services = pane;
    state.notices.extend(said);
    state.guards = settings.guards.clone();
    state.backup_target = settings
        .backup
        .to
        .as_deref()
        .and_then(|t| crate::backup::S3Uri::parse(t).ok())
        .map(|to| {
            let class = settings
                .backup
                .storage_class
                .clone()
                .unwrap_or_else(|| "STANDARD".into())
                .to_ascii_uppercase();
            (to, class)
        });
    if state.backup_target.is_none()
        && state.display.demo
        && let Ok(to) = crate::backup::S3Uri::parse("s3://demo-backups/lops")
    {
        // The demo's backups run through the same engine into in-memory buckets: nothing
        // leaves the machine.
        state.backup_target = Some((to, "STANDARD".into()));
    }
    let mut timing = Timing::from_settings(settings);
    if display_demo {
        // The simulated fleet costs nothing to ask: keep its numbers moving.
        timing.metrics = timing.metrics.min(std::time::Duration::from_secs(5));
    }
    let result = event_loop(
        &mut terminal,
        EventStream::new(),
        sources.into_iter().map(Arc::new).collect(),
        state,
        &theme,
        timing,
        audit,
    )
    .await;
    let _ = crossterm::execute!(std::io::stdout(), crossterm::event::DisableBracketedPaste);
    ratatui::restore();
    if let Some(panic) = TASK_PANIC.lock().ok().and_then(|mut p| p.take()) {
        let _ = writeln!(
            std::io::stderr(),
            "lops: a background task stopped on an internal error (a bug: please report it, \
             with the log): {panic}"
        );
    }
    let state = result.map_err(|e| Failure::failed(format!("terminal error: {e}")))?;
    for line in unfinished(&state, display_demo) {
        let _ = writeln!(std::io::stderr(), "{line}");
    }
    Ok(Exit::Done)
}

/// What quitting left unfinished, and how to go on with it, said once the terminal is back (the
/// demo's are simulated: no command of lops's would reach them).
pub fn unfinished(state: &crate::state::State, demo: bool) -> Vec<String> {
    if demo {
        return Vec::new();
    }
    let mut out: Vec<String> = state.exit_notes.clone();
    out.extend(state.rollouts.iter().filter(|p| p.running).map(|p| {
        let r = &p.rollout;
        format!(
            "lops: the rollout of {} in {} stopped at {}: `lops traffic resume {} --fn {} \
                 --region {} --profile {}` goes on, `lops traffic abort …` (same arguments) \
                 returns it",
            r.target(),
            r.scope_label(),
            r.progress(),
            r.alias,
            r.function,
            r.region,
            r.profile
        )
    }));
    if state.writing > 0 {
        out.push(format!(
            "lops: quit while {} change(s) were being written: whether each landed is in `lops \
             audit` (its record says so, or that it may not have landed)",
            state.writing
        ));
    }
    if let Some(b) = &state.backup {
        out.push(format!(
            "lops: the backup ({}) stopped at {} of {}: its snapshot has no manifest, so it is \
             not listed; `lops backup run` again completes it",
            b.label, b.done, b.total
        ));
    }
    out
}

/// The first panic of a task the dashboard spawned, said once the terminal is back.
static TASK_PANIC: std::sync::Mutex<Option<String>> = std::sync::Mutex::new(None);

/// ratatui's panic hook gives the terminal back and prints the panic: right for a panic of the
/// dashboard's own thread, which ends lops. A panic inside a spawned task (a read, an action)
/// is caught by tokio and the dashboard goes on — but it went on out of raw mode (`q` then
/// waited for enter) under the printed message. Such a panic is logged and said after quitting;
/// the reads turn it into their region's error (`runtime::poller`).
fn keep_terminal_on_task_panics() {
    let dashboard = std::thread::current().id();
    let restore_and_print = std::panic::take_hook();
    std::panic::set_hook(Box::new(move |info| {
        if std::thread::current().id() == dashboard {
            return restore_and_print(info);
        }
        tracing::error!(panic = %info, "a background task panicked");
        if let Ok(mut first) = TASK_PANIC.lock() {
            first.get_or_insert_with(|| info.to_string());
        }
    }));
}

/// Runs until the user quits; returns the final state. Generic over the terminal backend and
/// the event stream so tests can drive it without a terminal.
pub async fn event_loop<B, E, S>(
    terminal: &mut Terminal<B>,
    mut events: E,
    sources: Vec<Arc<S>>,
    mut state: State,
    theme: &Theme,
    timing: Timing,
    audit: Option<AuditLog>,
) -> std::io::Result<State>
where
    B: Backend,
    B::Error: std::fmt::Display,
    E: Stream<Item = std::io::Result<Event>> + Unpin,
    S: Source,
{
    let io = |e: B::Error| std::io::Error::other(e.to_string());
    let size = terminal.size().map_err(io)?;
    state.size = (size.width, size.height);
    let (tx, mut rx) = mpsc::channel(256);
    let runner = Executor::start(sources.clone(), state.regions.len(), tx, timing, audit);
    runner.announce_saved_rollouts();
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    apply(&mut state, &runner, Msg::Tick(Utc::now()));
    let mut confirming = false;
    // SIGTERM or a closed terminal: quit at once, rollouts stopped where they are (below).
    let stop = crate::runtime::stop_requested(false);
    tokio::pin!(stop);
    loop {
        // A confirmation about to be drawn for the first time: keys already typed (ahead,
        // while the screen lagged) were not meant for it, and are dropped before it shows.
        let now_confirming = matches!(state.popup, Some(crate::state::Popup::Confirm(_)));
        if now_confirming && !confirming {
            while let Some(Some(event)) = events.next().now_or_never() {
                match event {
                    Ok(Event::Resize(w, h)) => apply(&mut state, &runner, Msg::Resize(w, h)),
                    Ok(_) => {}
                    Err(e) => return Err(e),
                }
            }
        }
        confirming = now_confirming;
        terminal
            .draw(|frame| ui::render(&state, theme, frame))
            .map_err(io)?;
        let msg = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => Msg::Key(key),
                Some(Ok(Event::Paste(text))) => Msg::Paste(text),
                Some(Ok(Event::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(msg) = rx.recv() => msg,
            Ok(()) = &mut stop => break,
            _ = ticker.tick() => {
                for (region, source) in sources.iter().enumerate() {
                    let msg = Msg::Calls {
                        region,
                        total: source.calls(),
                        metrics: source.metrics_requested(),
                    };
                    apply(&mut state, &runner, msg);
                }
                Msg::Tick(Utc::now())
            }
        };
        apply(&mut state, &runner, msg);
        // Take whatever else is ready before drawing again.
        while let Ok(msg) = rx.try_recv() {
            apply(&mut state, &runner, msg);
        }
        if state.quit {
            break;
        }
    }
    // Rollouts this dashboard drives stop at their next safe point and are saved as interrupted
    // (not left looking alive until their heartbeat ages), before the runtime ends with lops.
    if state.rollouts.iter().any(|p| p.running) {
        runner.interrupt_rollouts();
        tokio::time::sleep(Duration::from_millis(1_500)).await;
    }
    Ok(state)
}

fn apply<S: Source>(state: &mut State, executor: &Executor<S>, msg: Msg) {
    for effect in update(state, msg) {
        executor.run(effect);
    }
}

/// The services the dashboard shows: the config's, or in the demo its own — the simulated fleet
/// has none of the config's hosted zones (read there, a real zone was said not to exist). Said
/// when the config's are left out.
fn services_shown(
    configured: &[crate::config::ServiceSettings],
    demo: bool,
) -> (Vec<crate::config::ServiceSettings>, Option<String>) {
    match (demo, configured.is_empty()) {
        (false, _) => (configured.to_vec(), None),
        (true, empty) => (
            crate::provider::sim::demo_services(),
            (!empty).then(|| {
                format!(
                    "the demo shows its own services: the config's ({}) are read on AWS, without \
                     --demo",
                    configured
                        .iter()
                        .map(|s| s.name.as_str())
                        .collect::<Vec<_>>()
                        .join(", ")
                )
            }),
        ),
    }
}

#[cfg(test)]
mod services_tests {
    /// The demo never reads the config's hosted zones in its simulated Route 53 (a real zone
    /// was said not to exist): its own services, the config's named as left out.
    #[test]
    fn the_demo_shows_its_own_services_and_says_the_configs_are_left_out() {
        let mine = crate::config::ServiceSettings {
            name: "checkout".into(),
            zone: "Z1".into(),
            record: "api.example.com".into(),
            kind: "CNAME".into(),
            profile: None,
            regions: Default::default(),
            functions: Default::default(),
        };
        let (shown, said) = super::services_shown(std::slice::from_ref(&mine), true);
        assert_eq!(shown, crate::provider::sim::demo_services());
        assert!(
            said.as_deref()
                .is_some_and(|s| s.contains("the config's (checkout) are read on AWS")),
            "{said:?}"
        );
        let (shown, said) = super::services_shown(std::slice::from_ref(&mine), false);
        assert_eq!((shown, said), (vec![mine], None));
        let (_, said) = super::services_shown(&[], true);
        assert!(said.is_none());
    }
}
