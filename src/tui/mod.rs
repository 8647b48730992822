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

use crate::cli::{Context, GlobalArgs, resolve_settings};
use crate::config::Settings;
use crate::exit::{Exit, Failure};
use crate::ops::audit::AuditLog;
use crate::ops::backup::Progress;
use crate::ops::rollout::{self, PlanStore, Rollout, Status};
use crate::provider::sim::{SimClock, demo_regions};
use crate::provider::{GuardSignals, RegionActions};
use crate::runtime::poller::{self, Pollers, Timing};
use crate::state::actions::BackupEvent;
use crate::state::{Display, Effect, Keymap, Msg, State, update};
use crate::ui::{self, Theme};

/// Seed of the demo fleet: the same fleet on every machine.
pub const DEMO_SEED: u64 = 7;

pub async fn run(global: &GlobalArgs) -> Result<Exit, Failure> {
    let (settings, _) = resolve_settings(global)?;
    // Checked when the config file was read; this cannot fail after that.
    let keymap = Keymap::with_overrides(&settings.keymap).map_err(Failure::usage)?;
    let theme = Theme::detect(settings.theme.no_color, settings.theme.ascii);
    if !std::io::stdout().is_terminal() {
        return Err(Failure::usage(
            "the dashboard needs a terminal; for scripts use `lops status` (with --json)",
        ));
    }
    if global.demo {
        let regions = demo_regions(DEMO_SEED, &SimClock::live());
        let display = display(&settings, true);
        // The demo's actions are audited apart, so they never mix with real ones.
        let audit = crate::config::state_dir().map(|d| AuditLog::at(d.join("demo-audit.jsonl")));
        run_terminal(regions, &settings, keymap, theme, display, audit).await
    } else {
        let ctx = Context::connect(global).await?;
        let display = display(&ctx.settings, false);
        run_terminal(
            ctx.regions,
            &settings,
            keymap,
            theme,
            display,
            AuditLog::default_location(),
        )
        .await
    }
}

fn display(settings: &Settings, demo: bool) -> Display {
    Display {
        tier: settings.tier,
        production: settings.profiles.iter().any(|p| settings.is_production(p)),
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
    let mut terminal = ratatui::init();
    let scopes = sources.iter().map(|s| s.scope().clone()).collect();
    let mut state = State::new(scopes, keymap, display, Utc::now());
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
    let result = event_loop(
        &mut terminal,
        EventStream::new(),
        sources.into_iter().map(Arc::new).collect(),
        state,
        &theme,
        Timing::from_settings(settings),
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
        // Plans are saved beside the audit log they write to.
        store: audit
            .as_ref()
            .and_then(|a| a.path().parent().map(|d| PlanStore::at(d.join("plans")))),
        audit,
        duplicate_window_secs: timing.duplicate_window_secs,
        running: std::sync::Mutex::new(Vec::new()),
    };
    // Plans a killed lops left running: offer to resume or roll back.
    if let Some(store) = &runner.store {
        for r in store.running() {
            if let Some(region) = sources
                .iter()
                .position(|s| s.scope().region == r.region && s.scope().profile == r.profile)
            {
                let event = "interrupted: resume or abort".to_string();
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
                    apply(&mut state, &runner, Msg::Calls { region, total: source.calls() });
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

/// The dashboard's duplicate guard: the same payload to the same target moments ago is asked
/// about again (with the typed name) rather than refused.
fn duplicate_warning(
    r: &crate::provider::InvokeRequest,
    log: &AuditLog,
    window: u64,
) -> Option<String> {
    let target = match &r.qualifier {
        Some(q) => format!("{}:{q}", r.function),
        None => r.function.clone(),
    };
    let hash = crate::ops::invoke::sha256_hex(&r.payload);
    crate::ops::invoke::recent_duplicate(log, &target, &hash, window).map(|d| {
        format!(
            "the same payload went to {target} at {}: send it again?",
            d.time
        )
    })
}

/// A plan is known by (region, function, alias).
type PlanKey = (usize, String, String);

/// Executes effects: poller requests directly, actions as tasks that report back as messages.
struct Runner<S> {
    pollers: Pollers,
    sources: Vec<Arc<S>>,
    tx: mpsc::Sender<Msg>,
    audit: Option<AuditLog>,
    store: Option<PlanStore>,
    duplicate_window_secs: u64,
    /// Background plan tasks by (region, function, alias), to abort them.
    running: std::sync::Mutex<Vec<(PlanKey, tokio::task::AbortHandle)>>,
}

impl<S: RegionActions + GuardSignals + crate::ops::backup::Backups + crate::provider::LogSource>
    Runner<S>
{
    fn track(&self, key: PlanKey, handle: tokio::task::AbortHandle) {
        if let Ok(mut running) = self.running.lock() {
            running.retain(|(k, h)| k != &key && !h.is_finished());
            running.push((key, handle));
        }
    }

    fn stop(&self, key: &PlanKey) {
        if let Ok(mut running) = self.running.lock() {
            for (_, h) in running.iter().filter(|(k, _)| k == key) {
                h.abort();
            }
            running.retain(|(k, _)| k != key);
        }
    }

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
    fn drive(&self, region: usize, source: Arc<S>, tier: crate::ops::Tier, mut r: Rollout) {
        let (tx, audit, store) = (self.tx.clone(), self.audit.clone(), self.store.clone());
        let key = (region, r.function.clone(), r.alias.clone());
        let handle = tokio::spawn(async move {
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
            if let Err(e) =
                rollout::run(&*source, &mut r, tier, audit.as_ref(), &store, report).await
            {
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
        self.track(key, handle.abort_handle());
    }
}

fn apply<
    S: RegionActions + GuardSignals + crate::ops::backup::Backups + crate::provider::LogSource,
>(
    state: &mut State,
    runner: &Runner<S>,
    msg: Msg,
) {
    let tier = state.display.tier;
    for effect in update(state, msg) {
        match effect {
            Effect::RefreshInventory => runner.pollers.refresh(),
            Effect::Want { region, functions } => runner.pollers.want(region, functions),
            Effect::Prepare { region, request } => {
                let Some(source) = runner.sources.get(region).cloned() else {
                    continue;
                };
                let (tx, audit) = (runner.tx.clone(), runner.audit.clone());
                let window = runner.duplicate_window_secs;
                tokio::spawn(async move {
                    let warning = match (&*request, &audit) {
                        (crate::ops::Request::Invoke(r), Some(log)) => {
                            duplicate_warning(r, log, window)
                        }
                        _ => None,
                    };
                    let result =
                        crate::ops::prepare(&*source, tier, *request, audit.as_ref()).await;
                    let _ = tx
                        .send(Msg::Planned {
                            region,
                            result,
                            warning,
                        })
                        .await;
                });
            }
            Effect::StartPlan { region, spec } => {
                let (Some(source), Some(store)) =
                    (runner.sources.get(region).cloned(), runner.store.clone())
                else {
                    continue;
                };
                let tx = runner.tx.clone();
                // Validate and save it here; the state then asks for it to be driven.
                tokio::spawn(async move {
                    let started = async {
                        let r = rollout::start(&*source, tier, *spec, &store).await?;
                        store.save(&r).map_err(|e| {
                            crate::ops::OpsError::Invalid(format!("cannot save the plan: {e}"))
                        })?;
                        Ok::<Rollout, crate::ops::OpsError>(r)
                    };
                    let msg = match started.await {
                        Ok(r) => Msg::PlanStarted {
                            region,
                            rollout: Box::new(r),
                        },
                        Err(e) => Msg::Executed {
                            region,
                            result: Err(e),
                        },
                    };
                    let _ = tx.send(msg).await;
                });
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
                    .filter(|r| r.status == Status::Running)
                {
                    runner.drive(region, source, tier, r);
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
                runner.stop(&(region, function.clone(), alias.clone()));
                let (tx, audit) = (runner.tx.clone(), runner.audit.clone());
                tokio::spawn(async move {
                    let Some(mut r) = store.load(source.scope(), &function, &alias) else {
                        return;
                    };
                    let event = match rollout::roll_back(
                        &*source,
                        &mut r,
                        tier,
                        audit.as_ref(),
                        &store,
                        Status::Aborted,
                    )
                    .await
                    {
                        Ok(()) => format!("aborted: all traffic on v{}", r.from),
                        Err(e) => format!("abort failed: {e}"),
                    };
                    let _ = tx
                        .send(Msg::PlanUpdate {
                            region,
                            rollout: Box::new(r),
                            event,
                            running: false,
                        })
                        .await;
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
                            Progress::Step(s) => s,
                        };
                        let _ = progress_tx.try_send(Msg::Backup(BackupEvent::Progress {
                            done: done.load(Relaxed),
                            total: total.load(Relaxed).max(1),
                            label,
                        }));
                    });
                    let result = source
                        .backup(functions, to, class, tier, audit, progress)
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
                    let result = crate::ops::execute(&*source, &plan, tier, audit.as_ref()).await;
                    Msg::Executed { region, result }
                })
            }
        }
    }
}
