//! The interactive dashboard: one event loop over keys, ticks and poller messages.
//! Event → update → effects → draw; no AWS call or await in the draw path.

use std::io::IsTerminal;
use std::sync::Arc;
use std::time::Duration;

use chrono::Utc;
use crossterm::event::{Event, EventStream};
use futures::{Stream, StreamExt};
use ratatui::Terminal;
use ratatui::backend::Backend;
use tokio::sync::mpsc;

use crate::config::Settings;
use crate::exit::{Exit, Failure};
use crate::ops::audit::AuditLog;
use crate::ops::backup::Progress;
use crate::ops::rollout::{self, PlanStore, Rollout, Status};
use crate::provider::sim::{SimClock, demo_regions};
use crate::provider::{GuardSignals, RegionActions};
use crate::runtime::poller::{self, Pollers, Timing};
use crate::session::{self, Flags, Session};
use crate::state::actions::BackupEvent;
use crate::state::{Display, Effect, Keymap, Msg, State, update};
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
    let window = settings.guards.duplicate_invoke_secs;
    if demo {
        // The simulated fleet gets the access the session gives its first profile, so
        // `--demo --read-only` shows what a read-only profile can do.
        let profile = session::profiles(&settings).swap_remove(0);
        let access = session::access(&settings, &profile);
        let regions = demo_regions(DEMO_SEED, &SimClock::live(), access);
        let display = display(&settings, true);
        // The demo's actions are audited apart, so they never mix with real ones.
        let audit = crate::config::state_dir()
            .map(|d| AuditLog::at(d.join("demo-audit.jsonl")).with_duplicate_window(window));
        run_terminal(regions, &settings, keymap, theme, display, audit).await
    } else {
        let ctx = Session::connect(flags).await?;
        let display = display(&ctx.settings, false);
        let audit = AuditLog::default_location().map(|a| a.with_duplicate_window(window));
        run_terminal(ctx.regions, &settings, keymap, theme, display, audit).await
    }
}

fn display(settings: &Settings, demo: bool) -> Display {
    Display {
        demo,
        metrics_secs: settings.refresh.metrics_secs,
    }
}

async fn run_terminal<
    S: RegionActions + GuardSignals + crate::ops::backup::Backups + crate::provider::LogSource,
>(
    sources: Vec<S>,
    settings: &Settings,
    keymap: Keymap,
    theme: Theme,
    display: Display,
    audit: Option<AuditLog>,
) -> Result<Exit, Failure> {
    // Raw mode, alternate screen, and a panic hook that puts the terminal back.
    let display_demo = display.demo;
    let mut terminal = ratatui::init();
    let scopes = sources.iter().map(|s| s.scope().clone()).collect();
    let mut state = State::new(scopes, keymap, display, Utc::now());
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
        // The demo writes nothing; it shows how a backup runs.
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
    ratatui::restore();
    result
        .map(|_| Exit::Done)
        .map_err(|e| Failure::failed(format!("terminal error: {e}")))
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
    S: RegionActions + GuardSignals + crate::ops::backup::Backups + crate::provider::LogSource,
{
    let io = |e: B::Error| std::io::Error::other(e.to_string());
    let size = terminal.size().map_err(io)?;
    state.size = (size.width, size.height);
    let (tx, mut rx) = mpsc::channel(256);
    let pollers = poller::spawn(&sources, tx.clone(), timing);
    let runner = Runner {
        pollers,
        sources: sources.clone(),
        tx,
        // Rollouts are saved beside the audit log they write to (the demo's apart from real
        // ones, as its audit log is).
        store: audit.as_ref().and_then(|a| {
            let stem = a
                .path()
                .file_stem()?
                .to_string_lossy()
                .replace("audit", "plans");
            a.path().parent().map(|d| PlanStore::at(d.join(stem)))
        }),
        audit,
    };
    // Rollouts saved as running: driven by another lops, or left by a killed one (resume or
    // abort them).
    if let Some(store) = &runner.store {
        for r in store.running() {
            if let Some(region) = sources
                .iter()
                .position(|s| s.scope().region == r.region && s.scope().profile == r.profile)
            {
                let event = match (r.standing(), &r.owner) {
                    (rollout::Standing::Running, Some(o)) => {
                        format!("running in lops pid {} on {}: abort asks it", o.pid, o.host)
                    }
                    _ => "interrupted: resume or abort".to_string(),
                };
                apply(
                    &mut state,
                    &runner,
                    Msg::PlanUpdate {
                        region,
                        rollout: Box::new(r),
                        event,
                        running: false,
                    },
                );
            }
        }
    }
    let mut ticker = tokio::time::interval(Duration::from_secs(1));
    ticker.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Skip);
    apply(&mut state, &runner, Msg::Tick(Utc::now()));
    loop {
        terminal
            .draw(|frame| ui::render(&state, theme, frame))
            .map_err(io)?;
        let msg = tokio::select! {
            event = events.next() => match event {
                Some(Ok(Event::Key(key))) => Msg::Key(key),
                Some(Ok(Event::Resize(w, h))) => Msg::Resize(w, h),
                Some(Ok(_)) => continue,
                Some(Err(e)) => return Err(e),
                None => break,
            },
            Some(msg) = rx.recv() => msg,
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
    Ok(state)
}

/// Executes effects: poller requests directly, actions as tasks that report back as messages.
struct Runner<S> {
    pollers: Pollers,
    sources: Vec<Arc<S>>,
    tx: mpsc::Sender<Msg>,
    audit: Option<AuditLog>,
    store: Option<PlanStore>,
}

impl<S: RegionActions + GuardSignals + crate::ops::backup::Backups + crate::provider::LogSource>
    Runner<S>
{
    /// Runs `work` on a region's source in the background and sends the message it makes.
    fn answer<F, Fut>(&self, region: usize, work: F)
    where
        F: FnOnce(Arc<S>) -> Fut,
        Fut: Future<Output = Msg> + Send + 'static,
    {
        let Some(source) = self.sources.get(region).cloned() else {
            return;
        };
        let tx = self.tx.clone();
        let reply = work(source);
        tokio::spawn(async move {
            let _ = tx.send(reply.await).await;
        });
    }

    /// Runs a plan in the background, reporting each step as a message.
    fn drive(&self, region: usize, source: Arc<S>, mut r: Rollout) {
        let (tx, audit, store) = (self.tx.clone(), self.audit.clone(), self.store.clone());
        // Not kept to be cancelled: an abort asks the rollout itself (see ops::rollout::abort).
        tokio::spawn(async move {
            let Some(store) = store else { return };
            let progress = tx.clone();
            let report = move |r: &Rollout, event: &str| {
                let running = r.status == Status::Running;
                let msg = Msg::PlanUpdate {
                    region,
                    rollout: Box::new(r.clone()),
                    event: event.to_string(),
                    running,
                };
                let _ = progress.try_send(msg);
            };
            if let Err(e) = rollout::run(&*source, &mut r, audit.as_ref(), &store, report).await {
                let event = format!("stopped: {e}");
                let _ = tx
                    .send(Msg::PlanUpdate {
                        region,
                        rollout: Box::new(r),
                        event,
                        running: false,
                    })
                    .await;
            }
        });
    }
}

fn apply<
    S: RegionActions + GuardSignals + crate::ops::backup::Backups + crate::provider::LogSource,
>(
    state: &mut State,
    runner: &Runner<S>,
    msg: Msg,
) {
    for effect in update(state, msg) {
        match effect {
            Effect::RefreshInventory => runner.pollers.refresh(),
            Effect::Want { region, functions } => runner.pollers.want(region, functions),
            Effect::Prepare { region, request } => {
                let audit = runner.audit.clone();
                runner.answer(region, move |source| async move {
                    let result = crate::ops::prepare(&*source, *request, audit.as_ref()).await;
                    Msg::Planned { region, result }
                })
            }
            Effect::PrepareRollout { region, spec } => {
                let Some(store) = runner.store.clone() else {
                    continue;
                };
                runner.answer(region, move |source| async move {
                    let result = rollout::start(&*source, *spec, &store).await;
                    Msg::RolloutPrepared { region, result }
                })
            }
            Effect::StartPlan { region, rollout } => {
                let (Some(source), Some(store)) =
                    (runner.sources.get(region).cloned(), runner.store.clone())
                else {
                    continue;
                };
                let r = *rollout;
                match store.create(&r) {
                    Ok(()) => {
                        let msg = Msg::PlanUpdate {
                            region,
                            rollout: Box::new(r.clone()),
                            event: "started".into(),
                            running: true,
                        };
                        let _ = runner.tx.try_send(msg);
                        runner.drive(region, source, r);
                    }
                    Err(e) => {
                        let result = Err(match e.kind() {
                            std::io::ErrorKind::AlreadyExists => {
                                crate::ops::OpsError::Refused(e.to_string())
                            }
                            _ => crate::ops::OpsError::Invalid(format!(
                                "cannot save the rollout in {}: {e}",
                                store.dir().display()
                            )),
                        });
                        let _ = runner.tx.try_send(Msg::Executed { region, result });
                    }
                }
            }
            Effect::ResumePlan {
                region,
                function,
                alias,
            } => {
                let (Some(source), Some(store)) =
                    (runner.sources.get(region).cloned(), runner.store.as_ref())
                else {
                    continue;
                };
                if let Some(r) = store
                    .load(source.scope(), &function, &alias)
                    .filter(Rollout::unfinished)
                {
                    runner.drive(region, source, r);
                }
            }
            Effect::AbortPlan {
                region,
                function,
                alias,
            } => {
                let (Some(source), Some(store)) =
                    (runner.sources.get(region).cloned(), runner.store.clone())
                else {
                    continue;
                };
                // A rollout this dashboard drives is asked to stop like any other (its task
                // rolls back and ends), never cut off between a write and its audit record.
                let (tx, audit) = (runner.tx.clone(), runner.audit.clone());
                tokio::spawn(async move {
                    let wait = Duration::from_secs(30);
                    let aborted =
                        rollout::abort(&*source, &store, &function, &alias, audit.as_ref(), wait)
                            .await;
                    let msg = match aborted {
                        Ok(outcome) => Msg::PlanUpdate {
                            region,
                            event: format!("aborted: {}", outcome.describe()),
                            rollout: Box::new(outcome.rollout),
                            running: false,
                        },
                        Err(e) => Msg::Executed {
                            region,
                            result: Err(e),
                        },
                    };
                    let _ = tx.send(msg).await;
                });
            }
            Effect::ReadLogs {
                region,
                function,
                start_ms,
                end_ms,
            } => runner.answer(region, move |source| async move {
                let result = source.log_events(&function, start_ms, end_ms, None).await;
                Msg::LogLines {
                    region,
                    function,
                    end_ms,
                    result,
                }
            }),
            Effect::Extras { region, function } => {
                runner.answer(region, move |source| async move {
                    let result = source.extras(&function).await;
                    Msg::Extras {
                        region,
                        function,
                        result,
                    }
                })
            }
            Effect::Triggers { region, function } => {
                runner.answer(region, move |source| async move {
                    let result = source.triggers(&function).await;
                    Msg::Triggers {
                        region,
                        function,
                        result,
                    }
                })
            }
            Effect::Backup {
                region,
                functions,
                to,
                storage_class: class,
            } => {
                let Some(source) = runner.sources.get(region).cloned() else {
                    continue;
                };
                let (tx, audit) = (runner.tx.clone(), runner.audit.clone());
                tokio::spawn(async move {
                    let done = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                    let total = std::sync::Arc::new(std::sync::atomic::AtomicU64::new(0));
                    let progress_tx = tx.clone();
                    let progress = std::sync::Arc::new(move |p: Progress| {
                        use std::sync::atomic::Ordering::Relaxed;
                        let label = match p {
                            Progress::Total(n) => {
                                total.fetch_add(n, Relaxed);
                                "reading".to_string()
                            }
                            Progress::Function { function, ok, .. } => {
                                done.fetch_add(1, Relaxed);
                                format!("{function} {}", if ok { "done" } else { "failed" })
                            }
                            Progress::DataObject { key, .. } => key,
                            Progress::Step(s) | Progress::Note(s) | Progress::Warning(s) => s,
                        };
                        let _ = progress_tx.try_send(Msg::Backup(BackupEvent::Progress {
                            done: done.load(Relaxed),
                            total: total.load(Relaxed).max(1),
                            label,
                        }));
                    });
                    let result = source
                        .backup(functions, to, class, audit, progress)
                        .await
                        .map_err(|e| e.to_string())
                        .and_then(|r| {
                            if r.failed.is_empty() {
                                Ok(r.snapshots.iter().map(|s| s.snapshot.clone()).collect())
                            } else {
                                Err(r
                                    .failed
                                    .iter()
                                    .map(|f| format!("{}: {}", f.function, f.error))
                                    .collect::<Vec<_>>()
                                    .join("; "))
                            }
                        });
                    let _ = tx.send(Msg::Backup(BackupEvent::Done(result))).await;
                });
            }
            Effect::Execute { region, plan } => {
                let audit = runner.audit.clone();
                runner.answer(region, move |source| async move {
                    let result = crate::ops::execute(&*source, &plan, audit.as_ref()).await;
                    Msg::Executed { region, result }
                })
            }
        }
    }
}
