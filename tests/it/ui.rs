//! Render tests: every screen drawn into ratatui's TestBackend from the simulated fleet at a
//! fixed time, at 80x24 and wide, without colour; plus the empty, loading, stale and error states.

use chrono::{DateTime, TimeDelta, TimeZone, Utc};
use crossterm::event::{KeyCode, KeyEvent, KeyModifiers};
use lops::config::Access;
use lops::ops::Tier;
use lops::provider::sim::{SimClock, demo_regions};
use lops::provider::{FunctionRef, MetricsRequest, RegionActions, RegionSource, TimeWindow};
use lops::state::{Keymap, Msg, ScreenOptions, State, update};
use lops::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use ratatui::style::Color;

const MONO: Theme = Theme {
    color: false,
    ascii: false,
};

fn start() -> DateTime<Utc> {
    Utc.with_ymd_and_hms(2026, 11, 25, 12, 0, 0)
        .single()
        .expect("time")
}

/// Reads every demo region at `start + secs` into `state`, as the pollers would.
async fn load(state: &mut State, clock: &SimClock, secs: i64, seq: u64) {
    let at = start() + TimeDelta::seconds(secs);
    clock.set(at);
    update(state, Msg::Tick(at));
    for (i, region) in demo_regions(7, clock, Access::default()).iter().enumerate() {
        let result = region.inventory().await;
        let alarms = region.alarms().await;
        update(
            state,
            Msg::Alarms {
                region: i,
                seq,
                at,
                result: alarms,
            },
        );
        let functions: Vec<FunctionRef> = result
            .as_ref()
            .map(|inv| inv.functions.iter().map(FunctionRef::from_info).collect())
            .unwrap_or_default();
        update(
            state,
            Msg::Inventory {
                region: i,
                seq,
                at,
                result,
            },
        );
        let request = MetricsRequest {
            functions,
            window: TimeWindow::ending_at(at),
            region_totals: true,
            period_minutes: 1,
            only: None,
            every_figure: false,
        };
        let metrics = region.metrics(&request).await;
        update(
            state,
            Msg::Metrics {
                region: i,
                seq,
                at,
                result: metrics,
            },
        );
    }
}

/// `region`'s metrics answered (the `seq`th read) for one function, `name`, with nothing in them.
fn numbers_read(state: &mut State, region: usize, name: &str, seq: u64) {
    let mut snapshot = lops::provider::MetricsSnapshot {
        window_end: Some(start()),
        ..Default::default()
    };
    snapshot
        .functions
        .insert(name.into(), lops::provider::FunctionMetrics::default());
    update(
        state,
        Msg::Metrics {
            region,
            seq,
            at: start(),
            result: Ok(snapshot),
        },
    );
}

/// `region`'s inventory answered with one Active function, `name`.
fn listed(state: &mut State, region: usize, name: &str) {
    update(
        state,
        Msg::Inventory {
            region,
            seq: 1,
            at: start(),
            result: Ok(lops::provider::Inventory {
                functions: vec![lops::provider::FunctionInfo {
                    name: name.into(),
                    state: "Active".into(),
                    ..Default::default()
                }],
                ..Default::default()
            }),
        },
    );
}

fn new_state(clock: &SimClock) -> State {
    let scopes = demo_regions(7, clock, Access::default())
        .iter()
        .map(|r| r.scope().clone())
        .collect();
    State::new(
        scopes,
        Keymap::default(),
        ScreenOptions {
            demo: true,
            metrics_secs: 10,
            narrowed: false,
        },
        start(),
    )
}

/// The demo fleet seen at 190 s: the error spike and throttling under way, us-west-2 down
/// since its last good read at 0 s.
async fn incident() -> State {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    load(&mut state, &clock, 0, 1).await;
    load(&mut state, &clock, 190, 2).await;
    state
}

fn draw(state: &mut State, theme: &Theme, width: u16, height: u16) -> Terminal<TestBackend> {
    update(state, Msg::Resize(width, height));
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    terminal.draw(|f| render(state, theme, f)).expect("draw");
    terminal
}

fn text(terminal: &Terminal<TestBackend>) -> String {
    let buffer = terminal.backend().buffer();
    let width = usize::from(buffer.area.width);
    buffer
        .content()
        .chunks(width)
        .map(|row| {
            row.iter()
                .map(|c| c.symbol())
                .collect::<String>()
                .trim_end()
                .to_string()
        })
        .collect::<Vec<_>>()
        .join("\n")
}

fn screen(state: &mut State, theme: &Theme, width: u16, height: u16) -> String {
    text(&draw(state, theme, width, height))
}

fn key(state: &mut State, c: char) {
    update(
        state,
        Msg::Key(KeyEvent::new(KeyCode::Char(c), KeyModifiers::NONE)),
    );
}

/// `l` on the highlighted row: the log pane's (region, function).
fn open_log_pane(state: &mut State) -> (usize, String) {
    key(state, 'l');
    match &state.view {
        lops::state::View::Logs { region, function } => (*region, function.clone()),
        other => panic!("not in the log pane: {other:?}"),
    }
}

#[tokio::test]
async fn fleet_at_80x24_puts_the_incident_first() {
    let mut state = incident().await;
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("fleet_80x24", out);
    let first_row = out.lines().nth(3).unwrap_or_default();
    assert!(first_row.contains("ALARM"), "{out}");
    assert!(out.contains("us-west-2 stale 3m"), "{out}");
}

#[tokio::test]
async fn fleet_wide_shows_sparklines_state_and_alarm_names() {
    let mut state = incident().await;
    let out = screen(&mut state, &MONO, 200, 50);
    insta::assert_snapshot!("fleet_200x50", out);
    assert!(out.contains("INVOCATIONS 60m"));
    assert!(out.contains("ALARM checkout-consumer-errors"), "{out}");
    // A function killed (reserved concurrency 0) says so where the state is, and its
    // concurrency is told from the account's limit by its `r`.
    let f = state
        .regions
        .iter_mut()
        .filter(|r| r.scope.region == "eu-west-1")
        .flat_map(|r| r.functions.iter_mut())
        .find(|f| f.info.name == "checkout-consumer")
        .expect("checkout-consumer in eu-west-1");
    f.info.reserved_concurrency = Some(0);
    let out = screen(&mut state, &MONO, 200, 50);
    let row = out
        .lines()
        .find(|l| l.contains(" checkout-consumer ") && l.contains("eu-west-1"))
        .unwrap_or_default();
    assert!(
        row.contains("Killed") && row.contains("/0r"),
        "{row}\n{out}"
    );
}

#[tokio::test]
async fn regions_view_shows_totals_and_the_stale_region_error() {
    let mut state = incident().await;
    key(&mut state, '2');
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("regions_80x24", out);
    let wide = screen(&mut state, &MONO, 160, 30);
    insta::assert_snapshot!("regions_160x30", wide);
    assert!(
        wide.contains("inventory: ListFunctions timed out after 2 s — raise [timeouts]"),
        "{wide}"
    );
}

#[tokio::test]
async fn regions_view_shows_what_the_open_dashboard_costs_in_cloudwatch_metrics() {
    let mut state = incident().await;
    key(&mut state, '2');
    let t0 = state.now;
    // Two regions' pollers: 1,000 and 500 metrics requested over two minutes.
    for (minute, counts) in [(0, [0, 0]), (2, [1_000, 500])] {
        update(
            &mut state,
            Msg::Tick(t0 + chrono::TimeDelta::minutes(minute)),
        );
        for (region, metrics) in counts.into_iter().enumerate() {
            update(
                &mut state,
                Msg::Calls {
                    region,
                    total: 0,
                    metrics,
                },
            );
        }
    }
    let out = screen(&mut state, &MONO, 100, 24);
    // 1,500 in two minutes: 45,000 an hour at $0.01 per 1,000.
    assert!(out.contains("CloudWatch 45k metrics/h ≈ $0.45/h"), "{out}");
}

/// The footer's API meter says nothing until a rate is measured (it said `api 0/min` while
/// the first reads went out), and a sum missing some regions' rates is said as at least.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_api_meter_is_not_zero_before_it_is_measured() {
    let mut state = incident().await;
    let t0 = state.now;
    let calls = |state: &mut State, region: usize, total: u64| {
        update(
            state,
            Msg::Calls {
                region,
                total,
                metrics: 0,
            },
        );
    };
    let meter = |out: &str| {
        out.lines()
            .last()
            .and_then(|l| l.split("api ").nth(1))
            .map(|m| m.trim().to_string())
    };
    let out = screen(&mut state, &MONO, 130, 24);
    assert_eq!(meter(&out), None, "{out}");
    // One region measured over 30 s (60 calls: 120/min), the others not yet.
    calls(&mut state, 0, 0);
    update(&mut state, Msg::Tick(t0 + chrono::TimeDelta::seconds(30)));
    calls(&mut state, 0, 60);
    let out = screen(&mut state, &MONO, 130, 24);
    assert_eq!(meter(&out).as_deref(), Some("≥120/min"), "{out}");
    let ascii = screen(
        &mut state,
        &Theme {
            ascii: true,
            ..MONO
        },
        130,
        24,
    );
    assert_eq!(meter(&ascii).as_deref(), Some(">=120/min"), "{ascii}");
    // Every region measured: the sum as it is.
    for region in 1..state.regions.len() {
        calls(&mut state, region, 0);
    }
    update(&mut state, Msg::Tick(t0 + chrono::TimeDelta::seconds(40)));
    for region in 1..state.regions.len() {
        calls(&mut state, region, 10);
    }
    let out = screen(&mut state, &MONO, 130, 24);
    let n = state.regions.len() - 1;
    // Region 0: 60 calls in 30 s, no new sample (still 120/min); the others 10 in 10 s.
    assert_eq!(meter(&out), Some(format!("{}/min", 120 + 60 * n)), "{out}");
}

/// A function whose aliases are not read yet says so whole at 80 columns (the line was cut to
/// "… are no", which reads as "none"): the function is the box's title, the line the rest.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn load_view_says_aliases_not_read_whole_at_80_columns() {
    let mut state = incident().await;
    let long = "a-very-long-function-name-for-testing-widths-xyz";
    let f = &mut state.regions[0].functions[0];
    f.info.name = long.to_string();
    f.info.aliases.clear();
    f.info.not_read.aliases = true;
    key(&mut state, '/');
    for c in long.chars() {
        key(&mut state, c);
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    key(&mut state, '3');
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("not read yet (enter reads them)") && !out.contains("are no"),
        "{out}"
    );
}

#[tokio::test]
async fn load_view_compares_configured_weights_with_the_observed_split() {
    let mut state = incident().await;
    // A function mid-canary: an alias with an extra weighted version.
    let canary = state
        .regions
        .iter()
        .flat_map(|r| &r.functions)
        .find(|f| {
            f.info
                .aliases
                .iter()
                .any(|a| !a.additional_weights.is_empty())
        })
        .map(|f| f.info.name.clone())
        .expect("the demo fleet has a canary");
    key(&mut state, '/');
    for c in canary.chars() {
        key(&mut state, c);
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    key(&mut state, '3');
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("load_80x24", out);
    let wide = screen(&mut state, &MONO, 160, 40);
    insta::assert_snapshot!("load_160x40", wide);
    assert!(out.contains("invocations by region"));
    assert!(out.contains("across regions"));
    // The region whose reads fail shows its last numbers, said to be old.
    assert!(out.contains("us-west-2 (stale)"), "{out}");
    // Only the request for the split failed: said on the alias, not shown as no traffic.
    for r in &mut state.regions {
        for f in r.functions.iter_mut().filter(|f| f.info.name == canary) {
            if let Some(m) = f.metrics.as_mut() {
                m.split_unread = true;
                m.alias_versions.clear();
            }
        }
    }
    let unread = screen(&mut state, &MONO, 160, 40);
    assert!(
        unread.contains("configured vs observed (15m): split not read"),
        "{unread}"
    );
}

/// Numbers and alarms never read show as unknown in the detail view, as in the fleet: `–`,
/// never 0, and "reading alarms…" rather than no alarm.
#[tokio::test]
async fn the_detail_view_never_shows_an_unread_number_as_zero() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    let at = start();
    update(&mut state, Msg::Tick(at));
    let result = demo_regions(7, &clock, Access::default())[0]
        .inventory()
        .await;
    update(
        &mut state,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at,
            result,
        },
    );
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let out = screen(&mut state, &MONO, 100, 30);
    assert!(out.contains("– inv  – errors  – throttled"), "{out}");
    assert!(out.contains("duration – p50 – p99 –"), "{out}");
    assert!(out.contains("reading alarms…"), "{out}");
    assert!(
        !out.contains("no alarms") && !out.contains("alarms or"),
        "{out}"
    );
    assert!(!out.contains("0 inv"), "{out}");
}

/// With several aliases, the detail marks the one the traffic keys act on; `a` moves the mark.
#[tokio::test]
async fn the_detail_marks_the_alias_the_traffic_keys_act_on() {
    let mut state = incident().await;
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let (region, function) = match &state.view {
        lops::state::View::Detail { region, function } => (*region, function.clone()),
        other => panic!("not in detail: {other:?}"),
    };
    let f = state.regions[region]
        .functions
        .iter_mut()
        .find(|f| f.info.name == function)
        .expect("the function");
    f.info.versions = vec!["1".into(), "2".into()];
    f.info.aliases = ["live", "beta"]
        .iter()
        .map(|name| lops::provider::AliasInfo {
            name: name.to_string(),
            function_version: "1".into(),
            additional_weights: Vec::new(),
            revision_id: None,
        })
        .collect();
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("│▸alias live: v1 100%") && out.contains("│alias beta: v1 100%"),
        "{out}"
    );
    key(&mut state, 'a');
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("│alias live: v1 100%") && out.contains("│▸alias beta: v1 100%"),
        "{out}"
    );
}

#[tokio::test]
async fn detail_view_shows_configuration_alarms_and_charts() {
    let mut state = incident().await;
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let reading = screen(&mut state, &MONO, 80, 24);
    assert!(reading.contains("triggers: reading"), "{reading}");
    // The runner reads the triggers (here straight from the simulated region).
    let (region, function) = match &state.view {
        lops::state::View::Detail { region, function } => (*region, function.clone()),
        other => panic!("not in detail: {other:?}"),
    };
    assert!(reading.contains("provisioned reading…"), "{reading}");
    let clock = SimClock::fixed(start());
    let sim = &demo_regions(7, &clock, Access::default())[region];
    let result = sim.triggers(&function).await;
    update(
        &mut state,
        Msg::Triggers {
            region,
            function: function.clone(),
            result,
        },
    );
    // What the inventory left for on demand arrives on its own.
    let want = state
        .regions
        .get(region)
        .and_then(|r| r.function(&function))
        .map(|f| f.info.extras_wanted(true))
        .unwrap_or_default();
    let result = lops::provider::RegionSource::extras(sim, &function, want).await;
    update(
        &mut state,
        Msg::Extras {
            region,
            function,
            result,
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("detail_80x24", out);
    assert!(out.contains("provisioned "), "{out}");
    assert!(!out.contains("reading…"), "{out}");
    assert!(out.contains("ALARM checkout-consumer-errors"), "{out}");
    assert!(out.contains("mapping on  checkout-queue"), "{out}");
    // At the smallest screen the charts, which have no room, are said left out; the
    // configuration gets the rows.
    let small = screen(&mut state, &MONO, 60, 15);
    assert!(small.contains("charts left out"), "{small}");
    assert!(small.contains("provisioned none"), "{small}");
    let wide = screen(&mut state, &MONO, 200, 50);
    insta::assert_snapshot!("detail_200x50", wide);
    assert!(wide.contains("invocations 60m"));
}

#[tokio::test]
async fn help_lists_the_keymap_in_force() {
    let clock = SimClock::fixed(start());
    let overrides = [("refresh".to_string(), "f5".to_string())].into();
    let keymap = Keymap::with_overrides(&overrides).expect("keymap");
    let scopes = demo_regions(7, &clock, Access::default())
        .iter()
        .map(|r| r.scope().clone())
        .collect();
    let mut state = State::new(scopes, keymap, ScreenOptions::default(), start());
    load(&mut state, &clock, 0, 1).await;
    key(&mut state, '?');
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("help_80x24", out);
    assert!(out.contains("f5  re-read inventory"), "{out}");
    // At 80x24 it pages, whole lines (none cut), and says what is below; PgDn shows the end.
    assert!(out.contains(" above · "), "{out}");
    assert!(!out.contains("open the function's detai "), "{out}");
    let page_down = || Msg::Key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE));
    update(&mut state, page_down());
    update(&mut state, page_down());
    let end = screen(&mut state, &MONO, 80, 24);
    assert!(end.contains("confirm (enter never does)"), "{end}");
    assert!(end.contains(" · 0 below"), "{end}");
    // Still open: paging keys do not close it; another key does, and does nothing else.
    assert!(matches!(state.popup, Some(lops::state::Popup::Help)));
    key(&mut state, 'x');
    assert!(state.popup.is_none());
    // At the smallest screen every entry is reachable the same way.
    update(&mut state, Msg::Resize(60, 15));
    key(&mut state, '?');
    for _ in 0..10 {
        update(&mut state, page_down());
    }
    let small = screen(&mut state, &MONO, 60, 15);
    // The last page is full, not one entry and blank rows.
    assert!(!small.contains("│                                                          │\n│                                                          │\n│"), "{small}");
    assert!(small.contains(" · 0 below"), "{small}");
    // Wrapped, never cut: the last entry's words are all there, the rest on its own line.
    assert!(
        small.contains("confirm (enter never does); n or esc")
            && small.contains("│               cancels"),
        "{small}"
    );
    // Paging stops at the last entry: ↑ moves at once.
    let above = |s: &str| {
        s.lines()
            .find_map(|l| {
                l.split(" above")
                    .next()?
                    .rsplit('│')
                    .next()?
                    .trim()
                    .parse::<usize>()
                    .ok()
            })
            .unwrap_or(usize::MAX)
    };
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
    );
    let up = screen(&mut state, &MONO, 60, 15);
    assert_eq!(above(&up) + 1, above(&small), "{small}\n{up}");
}

#[tokio::test]
async fn loading_empty_and_unreachable_states_say_what_is_going_on() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    let loading = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("loading_80x24", loading);
    assert!(loading.contains("loading functions"));
    // Not known yet is not stale: without colour, the footer's mark tells them apart.
    assert!(
        loading.contains("○ loading: ") && !loading.contains("▲"),
        "{loading}"
    );

    for region in 0..state.regions.len() {
        let result = Err(lops::provider::ProviderError::Service(
            "HTTP 503 from the server: ServiceUnavailable".into(),
        ));
        update(
            &mut state,
            Msg::Inventory {
                region,
                seq: 1,
                at: start(),
                result,
            },
        );
    }
    let down = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("unreachable_80x24", down);
    assert!(down.contains("no region answered"), "{down}");
    // The footer says "unreachable" as the regions view does, for every region, in one entry;
    // narrower, it keeps whole names and counts the ones it left out.
    let footer = |s: &str| s.lines().rev().nth(1).unwrap_or_default().to_string();
    assert!(
        footer(&down).contains("unreachable (inv): ap-southeast-2 eu-west-1 us-east-1 us-west-2"),
        "{down}"
    );
    let narrow = footer(&screen(&mut state, &MONO, 60, 15));
    assert_eq!(
        narrow.trim(),
        "✗ unreachable (inv): ap-southeast-2 eu-west-1 us-east-1 +1",
        "{narrow}"
    );

    let mut empty = new_state(&clock);
    for region in 0..empty.regions.len() {
        let result = Ok(lops::provider::Inventory::default());
        update(
            &mut empty,
            Msg::Inventory {
                region,
                seq: 1,
                at: start(),
                result,
            },
        );
    }
    assert!(screen(&mut empty, &MONO, 80, 24).contains("no functions in these regions"));
}

/// Names too long for their column are cut in the middle, marked: two that differ only at
/// their end still read apart, at 80 columns and wide.
#[tokio::test]
async fn long_names_are_cut_in_the_middle_and_still_read_apart() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    let names = [
        "payments-settlement-reconciler-primary",
        "payments-settlement-reconciler-primary-canary",
    ];
    let functions = names
        .iter()
        .map(|n| lops::provider::FunctionInfo {
            name: n.to_string(),
            state: "Active".into(),
            ..Default::default()
        })
        .collect();
    update(
        &mut state,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: start(),
            result: Ok(lops::provider::Inventory {
                functions,
                ..Default::default()
            }),
        },
    );
    for width in [80, 130] {
        let out = screen(&mut state, &MONO, width, 24);
        let rows: Vec<&str> = out.lines().filter(|l| l.contains("payments")).collect();
        assert_eq!(rows.len(), 2, "{out}");
        let shown: Vec<&str> = rows
            .iter()
            .filter_map(|l| l.split_whitespace().find(|w| w.starts_with("payments")))
            .collect();
        assert_ne!(shown[0], shown[1], "{out}");
        if width == 80 {
            assert!(shown.iter().all(|n| n.contains('…')), "{out}");
            assert!(shown.iter().any(|n| n.ends_with("canary")), "{out}");
        }
    }
}

/// A long function name gives way in the log pane's title: its region and its state
/// (following, PAUSED) stay in view at 80 columns.
#[tokio::test]
async fn a_long_name_leaves_the_log_panes_state_and_region_in_its_title() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    let name = "payments-settlement-reconciler-primary-with-a-very-long-suffix-canary";
    listed(&mut state, 0, name);
    key(&mut state, 'l');
    key(&mut state, ' ');
    let out = screen(&mut state, &MONO, 80, 24);
    let title = out.lines().find(|l| l.contains("╭")).unwrap_or_default();
    assert!(title.contains("PAUSED"), "{out}");
    assert!(title.contains(&state.regions[0].scope.to_string()), "{out}");
    // Cut in its middle, marked: its start and its end still read.
    assert!(title.contains("logs payments-"), "{out}");
    assert!(title.contains("…"), "{out}");
    assert!(title.contains("canary"), "{out}");
}

/// GetAccountSettings refused: the detail view says the account limit is not read (not
/// "unknown", as an emulator's), and the regions view says why.
#[tokio::test]
async fn a_refused_account_settings_read_is_said_in_the_detail_and_regions_views() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    update(
        &mut state,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at: start(),
            result: Ok(lops::provider::Inventory {
                functions: vec![lops::provider::FunctionInfo {
                    name: "orders-api".into(),
                    state: "Active".into(),
                    ..Default::default()
                }],
                account_settings_error: Some(
                    "account settings: GetAccountSettings access denied: not allowed".into(),
                ),
                ..Default::default()
            }),
        },
    );
    key(&mut state, '2');
    let regions = screen(&mut state, &MONO, 120, 30);
    assert!(
        regions.contains("GetAccountSettings access denied"),
        "{regions}"
    );
    key(&mut state, '1');
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let detail = screen(&mut state, &MONO, 120, 30);
    assert!(detail.contains("account limit not read"), "{detail}");
}

/// Numbers never read are `–` in the load view too, never a share of 0.
#[tokio::test]
async fn the_load_view_shows_unread_numbers_as_unknown() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    let functions = vec![lops::provider::FunctionInfo {
        name: "orders-api".into(),
        state: "Active".into(),
        ..Default::default()
    }];
    for region in 0..state.regions.len() {
        update(
            &mut state,
            Msg::Inventory {
                region,
                seq: 1,
                at: start(),
                result: Ok(lops::provider::Inventory {
                    functions: functions.clone(),
                    ..Default::default()
                }),
            },
        );
    }
    key(&mut state, '3');
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(!out.contains(" 0% "), "{out}");
    assert!(
        out.contains("invocations by region │ 5m │ none read yet"),
        "{out}"
    );
    let unknown = out
        .lines()
        .filter(|l| l.trim_end_matches(['│', ' ']).ends_with("–       –"))
        .count();
    assert!(unknown >= 2 * state.regions.len(), "{out}");
}

/// One region's metrics read while another's never answered: the one read is not all the load.
/// Its share is of the regions read, said as at most (`≤100%`), and the title says how many
/// were not read — in the regions' totals and in the function's split.
#[tokio::test]
async fn the_load_view_says_shares_are_at_most_while_a_region_is_not_read() {
    // ap-south-1's functions were never listed: `api` may run there too.
    let scopes: Vec<lops::provider::Scope> = ["us-east-1", "eu-west-1", "ap-south-1"]
        .iter()
        .map(|r| lops::provider::Scope::new("default", *r, Access::default()))
        .collect();
    let mut state = fleet_taking(scopes, &[vec![("api", 50.0)]]);
    listed(&mut state, 1, "api");
    key(&mut state, '3');
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("invocations by region │ 5m │ 2 not read: shares ≤"),
        "{out}"
    );
    assert!(
        out.contains("api across regions │ 2 not read: shares ≤"),
        "{out}"
    );
    let shown = |region: &str| -> Vec<String> {
        out.lines()
            .filter(|l| l.contains(&format!("│{region}")))
            .map(str::to_string)
            .collect()
    };
    assert!(
        shown("us-east-1").iter().all(|l| l.contains("≤100%")) && shown("us-east-1").len() == 2,
        "{out}"
    );
    assert!(!out.contains(" 100% "), "{out}");
    for unread in ["eu-west-1", "ap-south-1"] {
        assert!(
            shown(unread).len() == 2 && shown(unread).iter().all(|l| l.contains("–")),
            "{unread}: {out}"
        );
    }
    // Its read failing, never answered: it has no numbers to call stale — it says it fails.
    update(
        &mut state,
        Msg::Metrics {
            region: 1,
            seq: 1,
            at: start(),
            result: Err(lops::provider::ProviderError::Timeout(60.0)),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("│eu-west-1 (failing)") && !out.contains("eu-west-1 (stale)"),
        "{out}"
    );
}

/// The detail view of a function whose region's metrics read fails says so, with the call and
/// the setting, not "waiting for metrics…" for ever.
#[tokio::test]
async fn the_detail_view_says_why_metrics_are_missing() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    listed(&mut state, 0, "orders-api");
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("waiting for metrics…"), "{out}");
    update(
        &mut state,
        Msg::Metrics {
            region: 0,
            seq: 1,
            at: start(),
            result: Err(lops::provider::ProviderError::Timeout(60.0)),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(!out.contains("waiting for metrics"), "{out}");
    assert!(
        out.contains("metrics: GetMetricData timed out after 60 s"),
        "{out}"
    );
    assert!(out.contains("metrics_secs"), "{out}");

    // Read once, then failing: the numbers kept are said to be as last read, with why; the
    // alarms that never answered say why too.
    numbers_read(&mut state, 0, "orders-api", 2);
    let out = screen(&mut state, &MONO, 120, 30);
    assert!(!out.contains("stale"), "{out}");
    let (seq, result) = (3, "HTTP 503 from the server: ServiceUnavailable");
    update(
        &mut state,
        Msg::Metrics {
            region: 0,
            seq,
            at: start(),
            result: Err(lops::provider::ProviderError::Service(result.into())),
        },
    );
    update(
        &mut state,
        Msg::Alarms {
            region: 0,
            seq,
            at: start(),
            result: Err(lops::provider::ProviderError::Service(result.into())),
        },
    );
    let out = screen(&mut state, &MONO, 120, 30);
    assert!(
        out.contains("as last read (stale): metrics: GetMetricData HTTP 503"),
        "{out}"
    );
    assert!(
        out.contains("not read: alarms: DescribeAlarms HTTP 503"),
        "{out}"
    );
}

/// A failing read's long message (its call, its reason, what to do) gives way in the detail
/// view's side pane at 80x24: the tags and triggers read below it stay on screen (the
/// message filled every row), cut and marked; the regions view says it whole.
#[tokio::test]
async fn a_long_failure_in_the_detail_view_leaves_room_for_what_was_read() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    listed(&mut state, 0, "orders-api");
    if let Some(f) = state.regions[0]
        .functions
        .iter_mut()
        .find(|f| f.info.name == "orders-api")
    {
        f.info.tags.insert("team".into(), "core".into());
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let why = "dispatch failure: io error: error trying to connect: tcp connect error: \
               Connection refused (os error 111) — check the endpoint and the network, then \
               raise [timeouts] operation_secs if it is only slow";
    update(
        &mut state,
        Msg::Alarms {
            region: 0,
            seq: 1,
            at: start(),
            result: Err(lops::provider::ProviderError::Service(why.into())),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("not read: alarms: DescribeAlarms"), "{out}");
    assert!(out.contains("tags team=core"), "{out}");
    assert!(out.contains("triggers: reading…"), "{out}");
    // Cut in the middle, marked: what to do, at its end, is kept.
    assert!(out.contains("only slow"), "{out}");
    assert!(!out.contains("Connection refused (os error 111)"), "{out}");
    // Wide enough, it is said whole.
    let wide = screen(&mut state, &MONO, 200, 40);
    assert!(wide.contains("operation_secs if it is only slow"), "{wide}");
}

/// A region whose failing reads never answered says "not read" in the footer, not "stale 6s"
/// (which reads as numbers six seconds old); once they answered and fail again, stale with age.
#[tokio::test]
async fn the_footer_says_not_read_for_reads_that_never_answered() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    listed(&mut state, 0, "orders-api");
    let fail = |state: &mut State, seq: u64| {
        let e = || lops::provider::ProviderError::Service("HTTP 503 from the server".into());
        update(
            state,
            Msg::Metrics {
                region: 0,
                seq,
                at: start(),
                result: Err(e()),
            },
        );
        update(
            state,
            Msg::Alarms {
                region: 0,
                seq,
                at: start(),
                result: Err(e()),
            },
        );
    };
    fail(&mut state, 1);
    update(
        &mut state,
        Msg::Tick(start() + chrono::TimeDelta::seconds(6)),
    );
    let out = screen(&mut state, &MONO, 200, 30);
    let footer = out.lines().rev().nth(1).unwrap_or_default();
    assert!(footer.contains("not read (metrics,alarms)"), "{footer}");
    assert!(!footer.contains("stale"), "{footer}");
    // The regions view says it alike (it said "stale 6s": the time it has been failing).
    key(&mut state, '2');
    let regions = screen(&mut state, &MONO, 200, 30);
    let row = regions
        .lines()
        .find(|l| l.contains(" ap-southeast-2 "))
        .unwrap_or_default();
    assert!(
        row.contains("not read") && !row.contains("stale"),
        "{regions}"
    );
    key(&mut state, '1');
    // Read once, failing since: stale, with its age.
    numbers_read(&mut state, 0, "orders-api", 2);
    fail(&mut state, 3);
    let out = screen(&mut state, &MONO, 200, 30);
    let footer = out.lines().rev().nth(1).unwrap_or_default();
    assert!(footer.contains("stale"), "{footer}");
    key(&mut state, '2');
    let regions = screen(&mut state, &MONO, 200, 30);
    let row = regions
        .lines()
        .find(|l| l.contains(" ap-southeast-2 "))
        .unwrap_or_default();
    assert!(row.contains("stale"), "{regions}");
}

/// Before CloudWatch answers, a row is not said to be well: its mark is `○` (`?` in ASCII), its
/// alarm `?` (no alarm is `-`, which `–` would look like); once read, `●` and `-`.
#[tokio::test]
async fn rows_whose_numbers_and_alarms_are_not_read_yet_are_not_marked_well() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    listed(&mut state, 0, "orders-api");
    let row = |state: &mut State, theme: &Theme| {
        screen(state, theme, 80, 24)
            .lines()
            .find(|l| l.contains("orders-api"))
            .expect("row")
            .to_string()
    };
    let ascii = Theme {
        color: false,
        ascii: true,
    };
    let unread = row(&mut state, &MONO);
    assert!(unread.starts_with("│○ "), "{unread}");
    assert!(
        unread.trim_end_matches(['│', ' ']).ends_with('?'),
        "{unread}"
    );
    let unread = row(&mut state, &ascii);
    assert!(unread.starts_with("|? "), "{unread}");
    assert!(
        unread.trim_end_matches(['|', ' ']).ends_with('?'),
        "{unread}"
    );
    numbers_read(&mut state, 0, "orders-api", 1);
    update(
        &mut state,
        Msg::Alarms {
            region: 0,
            seq: 1,
            at: start(),
            result: Ok(Vec::new()),
        },
    );
    let read = row(&mut state, &MONO);
    assert!(read.starts_with("│● "), "{read}");
    assert!(read.trim_end_matches(['│', ' ']).ends_with('-'), "{read}");
}

/// On a narrow screen the footer keeps the regions in trouble whole and counts the fresh ones.
#[tokio::test]
async fn a_narrow_footer_keeps_the_failing_region_and_counts_the_rest() {
    let mut state = incident().await;
    let out = screen(&mut state, &MONO, 60, 15);
    let footer = out.lines().rev().nth(1).unwrap_or_default();
    assert!(footer.contains("us-west-2"), "{footer}");
    assert!(footer.contains("3 fresh"), "{footer}");
}

/// Regions left out of a footer too narrow for them say what they are when that is not what
/// the entry before them says: `+4 stale` after the unreachable ones, never a bare `+4`.
#[tokio::test]
async fn a_footer_says_what_the_regions_it_left_out_are() {
    let scopes = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
    ]
    .iter()
    .map(|r| lops::provider::Scope::new("production-account", *r, Access::default()))
    .collect();
    let mut state = fleet_taking(
        scopes,
        &[
            vec![("api", 1.0)],
            vec![("api", 1.0)],
            vec![("api", 1.0)],
            vec![("api", 1.0)],
        ],
    );
    for region in 0..4 {
        update(
            &mut state,
            Msg::Alarms {
                region,
                seq: 1,
                at: start(),
                result: Err(lops::provider::ProviderError::Service("HTTP 503".into())),
            },
        );
    }
    for region in 4..6 {
        fail_inventory(
            &mut state,
            region,
            "HTTP 503 from the server: ServiceUnavailable",
        );
    }
    let out = screen(&mut state, &MONO, 80, 24);
    let footer = out.lines().rev().nth(1).unwrap_or_default().to_string();
    assert!(
        footer.contains("unreachable") && footer.contains(" stale"),
        "{footer}"
    );
    assert!(
        !footer.trim_end().ends_with(|c: char| c.is_ascii_digit()),
        "{footer}"
    );
}

#[tokio::test]
async fn tiny_terminal_gets_a_clear_message() {
    let mut state = incident().await;
    let out = screen(&mut state, &MONO, 40, 10);
    assert!(out.contains("terminal too small"), "{out}");
    assert!(out.contains("40x10"), "{out}");
    // Smaller still: what to do still shows.
    let out = screen(&mut state, &MONO, 20, 5);
    assert!(
        out.contains("20x5") && out.contains("60x15") && out.contains("q quits"),
        "{out}"
    );
    // Something open is said as what it is: a `q` here answers nothing.
    state.popup = Some(lops::state::Popup::Notice(
        "rollout of orders-api:live halted".into(),
    ));
    let out = screen(&mut state, &MONO, 59, 14);
    assert!(out.contains("a message is open: enlarge"), "{out}");
    state.popup = Some(lops::state::Popup::Help);
    let out = screen(&mut state, &MONO, 59, 14);
    assert!(out.contains("help is open: enlarge"), "{out}");
    // An input open: `q` would be text there; ctrl-c is what quits, and it says so (it said
    // "press q to quit", and q did nothing).
    state.popup = None;
    state.input = Some(lops::state::Input::Filter(String::new()));
    let out = screen(&mut state, &MONO, 59, 14);
    assert!(
        out.contains("an input is open") && out.contains("ctrl-c to quit"),
        "{out}"
    );
}

/// Between the smallest screen and 80 columns the number columns that do not fit are left
/// out whole, never cut from the left (`/1.0k` for `5/1.0k`).
#[tokio::test]
async fn a_narrow_fleet_table_leaves_columns_out_rather_than_cutting_numbers() {
    let mut state = incident().await;
    let wide = screen(&mut state, &MONO, 80, 24);
    assert!(wide.contains("CONC") && wide.contains("ALARM"), "{wide}");
    for width in [60, 64, 69, 75] {
        let out = screen(&mut state, &MONO, width, 15);
        assert!(
            out.contains("INV") && out.contains("ERR%") && out.contains("CONC"),
            "{width}: {out}"
        );
        assert!(out.contains("ap-southeast-2"), "{width}: {out}");
        for line in out.lines().filter(|l| l.contains("/2.0k")) {
            let cut = line
                .split_whitespace()
                .any(|word| word.starts_with("/2.0k"));
            assert!(!cut, "{width}: a number lost its first digits: {line}");
        }
        assert!(out.contains("/2.0k"), "{width}: {out}");
        // Left out in the documented order: alarm, then throttles, then p99.
        let header = out
            .lines()
            .find(|l| l.contains("FUNCTION"))
            .unwrap_or_default();
        assert!(
            !header.contains("THR") || header.contains("P99"),
            "{width}: {header}"
        );
        assert!(
            !header.contains("ALARM") || header.contains("THR"),
            "{width}: {header}"
        );
    }
    // Wider never shows fewer: on a wide screen the alarm column takes its narrow width when
    // its wide one does not fit.
    for width in [109, 110, 120, 140] {
        let out = screen(&mut state, &MONO, width, 24);
        let header = out
            .lines()
            .find(|l| l.contains("FUNCTION"))
            .unwrap_or_default();
        for column in ["INV", "ERR%", "THR", "P99", "CONC", "ALARM"] {
            assert!(header.contains(column), "{width}: {column}: {header}");
        }
    }
}

/// A typed value that is refused says why on the line above the prompt: at 80 columns the
/// prompt is long enough to push a message on its own line off the screen.
#[tokio::test]
async fn a_refused_typed_value_says_why_at_80_columns() {
    let mut state = incident().await;
    key(&mut state, 'N');
    for _ in 0..4 {
        update(
            &mut state,
            Msg::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE)),
        );
    }
    for c in "99999999999999999999".chars() {
        key(&mut state, c);
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("is too large"), "{out}");
    // What was typed stays in view, with the cursor.
    assert!(out.contains("99999999999999999999_"), "{out}");
}

#[tokio::test]
async fn a_filter_longer_than_the_line_keeps_what_is_typed_last_in_view() {
    let mut state = incident().await;
    key(&mut state, '/');
    let typed = format!("{}checkout-tail", "x".repeat(90));
    for c in typed.chars() {
        key(&mut state, c);
    }
    let out = screen(&mut state, &MONO, 80, 24);
    let last = out.lines().last().unwrap_or_default();
    // The end of what is typed and the cursor, its start marked as cut.
    assert!(last.contains("filter:"), "{out}");
    assert!(last.contains("…xxxx"), "{out}");
    // The empty table still says what clears the filter.
    assert!(out.contains("clears the filter"), "{out}");
    assert!(last.contains("checkout-tail_"), "{out}");
    // The same for the command line.
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    key(&mut state, ':');
    for c in typed.chars() {
        key(&mut state, c);
    }
    let out = screen(&mut state, &MONO, 80, 24);
    let last = out.lines().last().unwrap_or_default();
    assert!(last.contains("checkout-tail_"), "{out}");
}

#[tokio::test]
async fn ascii_mode_draws_no_box_drawing_characters() {
    let mut state = incident().await;
    let ascii = Theme {
        color: false,
        ascii: true,
    };
    let out = screen(&mut state, &ascii, 80, 24);
    insta::assert_snapshot!("fleet_ascii_80x24", out);
    assert!(out.is_ascii(), "{out}");
}

#[tokio::test]
async fn danger_is_red_in_colour_and_bold_without() {
    let mut state = incident().await;
    let colour = draw(
        &mut state,
        &Theme {
            color: true,
            ascii: false,
        },
        80,
        24,
    );
    let buffer = colour.backend().buffer();
    let row = 3u16; // first table row: the firing alarm
    let alarm_x = (0..80u16)
        .find(|x| buffer[(*x, row)].symbol() == "A" && buffer[(*x + 1, row)].symbol() == "L")
        .expect("ALARM cell");
    assert_eq!(buffer[(alarm_x, row)].fg, Color::Red);
    let mono = draw(&mut state, &MONO, 80, 24);
    let cell = &mono.backend().buffer()[(alarm_x, row)];
    assert_eq!(cell.fg, Color::Reset);
    assert!(cell.modifier.contains(ratatui::style::Modifier::BOLD));
}

#[tokio::test]
async fn read_only_and_production_badges_show_in_the_header() {
    let clock = SimClock::fixed(start());
    let scopes = demo_regions(7, &clock, Access::new(Tier::Read, true))
        .iter()
        .map(|r| r.scope().clone())
        .collect();
    let mut state = State::new(scopes, Keymap::default(), ScreenOptions::default(), start());
    let out = screen(&mut state, &MONO, 100, 24);
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.contains("READ-ONLY") && header.contains("PRODUCTION"),
        "{header}"
    );
    // Narrow, with a long filter taking the line: the badges and the clock still show whole;
    // the rest is cut, marked.
    state.filter = "payments-settlement-reconciler-primary-canary".into();
    let out = screen(&mut state, &MONO, 60, 15);
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.contains(" PRODUCTION ") && header.contains("READ-ONLY") && header.ends_with('Z'),
        "{header}"
    );
    assert!(header.contains('…'), "{header}");
    // Wide characters take two cells each: the badges still show whole.
    state.filter = "函数".repeat(12);
    for width in [60, 100, 108] {
        let out = screen(&mut state, &MONO, width, 15);
        let header = out.lines().next().unwrap_or_default();
        assert!(
            header.contains(" PRODUCTION ") && header.ends_with('Z'),
            "{width}: {header}"
        );
    }
}

/// The demo's first row's kill previewed by the core and its confirmation open (the function
/// killed first when `killed`): the state and the function's name.
async fn kill_planned(killed: bool) -> (State, String) {
    use lops::provider::RegionActions;
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    load(&mut state, &clock, 0, 1).await;
    let regions = demo_regions(7, &clock, Access::default());
    let (region, function) = state
        .focus()
        .map(|(r, f)| (r, f.info.name.clone()))
        .expect("a row");
    if killed {
        regions[region]
            .set_reserved_concurrency(&function, Some(0))
            .await
            .expect("killed");
    }
    let request = lops::ops::Request::Kill {
        function: function.clone(),
    };
    let plan = lops::ops::prepare(&regions[region], request.clone(), None)
        .await
        .expect("plan");
    update(
        &mut state,
        Msg::Planned {
            region,
            request: Box::new(request),
            result: Ok(plan),
        },
    );
    (state, function)
}

#[tokio::test]
async fn kill_confirmation_asks_for_the_typed_name() {
    let (mut state, function) = kill_planned(false).await;
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("confirm_kill_80x24", out);
    assert!(
        out.contains(&format!("type \"{function}\" and press enter")),
        "{out}"
    );
    assert!(
        out.contains("no reserved concurrency →") && out.contains("concurrency 0"),
        "{out}"
    );
}

/// A change already as asked has nothing to confirm: its box says so in the title too (it was
/// titled "confirm" over "enter or esc closes").
#[tokio::test]
async fn a_change_already_made_is_titled_as_nothing_to_do() {
    let (mut state, _) = kill_planned(true).await;
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains(" nothing to do ") && out.contains("enter or esc closes"),
        "{out}"
    );
    assert!(!out.contains(" confirm "), "{out}");
}

#[tokio::test]
async fn payload_editor_checks_json_as_it_is_typed() {
    let mut state = incident().await;
    key(&mut state, 'i');
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains(" payload ") && out.contains("valid JSON"),
        "{out}"
    );
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Backspace, KeyModifiers::NONE)),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("payload_editor_80x24", out);
    assert!(out.contains("not JSON yet"), "{out}");

    // A pasted document longer than the screen: its end and the keys line stay on screen,
    // with how many lines are above; the footer does not repeat it on one line.
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    let long: Vec<String> = (0..40).map(|i| format!("  \"key{i}\": {i},")).collect();
    let doc = format!(
        "{{\n{}\n  \"last\": {}\n}}",
        long.join("\n"),
        "x".repeat(200)
    );
    update(
        &mut state,
        Msg::Paste(doc.replace("x".repeat(200).as_str(), "1")),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("valid JSON · enter previews"), "{out}");
    assert!(out.contains("lines above"), "{out}");
    assert!(out.contains("\"last\": 1"), "{out}");
    let footer = out.lines().last().unwrap_or_default();
    assert!(footer.contains("editing the payload above"), "{out}");

    // A pasted payload larger than Lambda takes is said so while it is edited, as enter says
    // it (it read "valid JSON" until enter refused it).
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    update(
        &mut state,
        Msg::Paste(format!("{{\"blob\": \"{}\"}}", "x".repeat(7 * 1024 * 1024))),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(!out.contains("valid JSON · enter previews"), "{out}");
    assert!(out.contains("Lambda takes at most"), "{out}");

    // Control characters pasted into a string are kept and refused, as the CLI refuses them
    // (they were turned into spaces: another payload, said valid); shown as `�`, a tab as `→`.
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    update(
        &mut state,
        Msg::Paste("{\"ctl\":\"x\u{1b}y\u{7}z\",\t\"t\": 1}".into()),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("not JSON yet") && out.contains("control character"),
        "{out}"
    );
    assert!(out.contains("\"x\u{fffd}") && out.contains("→"), "{out}");
    assert!(!out.contains('\u{1b}'), "{out}");

    // A complete escape sequence is shown one for one (it was removed whole: `"red"` on screen
    // while the refusal named the column of its ESC).
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Char('u'), KeyModifiers::CONTROL)),
    );
    update(&mut state, Msg::Paste("\"\u{1b}[31mred\"".into()));
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("\"\u{fffd}[31mred\""), "{out}");
    assert!(!out.contains('\u{1b}'), "{out}");
}

#[tokio::test]
async fn a_running_backup_shows_a_gauge_above_the_footer() {
    let mut state = incident().await;
    state.backup = Some(lops::state::actions::BackupView {
        label: "checkout-api done".into(),
        done: 1,
        total: 3,
        of_marks: false,
    });
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("backup"), "{out}");
    assert!(out.contains("1/3 · checkout-api done"), "{out}");
    insta::assert_snapshot!("backup_gauge_80x24", out);
}

/// A function logging in Lambda's JSON format: its report line is shortened as a text REPORT
/// is (its id, duration, memory, init), the cold start marked.
#[tokio::test]
async fn log_pane_shortens_the_json_formats_report_as_the_text_one() {
    let mut state = incident().await;
    let (region, function) = open_log_pane(&mut state);
    let at = start() + TimeDelta::seconds(190);
    let mut line = lops::loglines::LogLine {
        time: at,
        region: "us-east-1".into(),
        function: function.clone(),
        stream: "s".into(),
        message: "{\"time\":\"2026-11-25T12:00:01.000Z\",\"type\":\"platform.report\",\"record\":{\"requestId\":\"5a1b2c3d-0000\",\"metrics\":{\"durationMs\":12.0,\"billedDurationMs\":12,\"memorySizeMB\":256,\"maxMemoryUsedMB\":90,\"initDurationMs\":310.0},\"status\":\"success\"}}".into(),
        event_id: "e1".into(),
        report: None,
        failure: None,
    };
    lops::loglines::annotate(&mut line);
    update(
        &mut state,
        Msg::LogLines {
            region,
            function: function.clone(),
            end_ms: at.timestamp_millis(),
            result: Ok(vec![line]),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("cold REPORT 5a1b2c3d 12 ms, 90/256 MB, init 310 ms"),
        "{out}"
    );
    // A timed-out request and a runtime error are said in words, as `lops logs` says them
    // (colour alone is lost under NO_COLOR).
    let failed = |id: &str, message: &str| {
        let mut l = lops::loglines::LogLine {
            time: at + TimeDelta::seconds(1),
            region: "us-east-1".into(),
            function: function.clone(),
            stream: "s".into(),
            message: message.into(),
            event_id: id.into(),
            report: None,
            failure: None,
        };
        lops::loglines::annotate(&mut l);
        l
    };
    let lines = vec![
        failed(
            "e2",
            "2026-11-25T12:00:02.000Z 5a1b2c3d-0001 Task timed out after 3.00 seconds",
        ),
        failed("e3", "{\"level\":\"ERROR\",\"message\":\"boom\"}"),
        // Long: its word goes before it on a first row no longer than the others (the end of
        // that row was clipped).
        failed(
            "e4",
            &format!(
                "{{\"level\":\"ERROR\",\"message\":\"{}\"}}",
                (0..40)
                    .map(|i| format!("w{i:02}"))
                    .collect::<Vec<_>>()
                    .join(" ")
            ),
        ),
    ];
    assert!(lines.iter().all(|l| l.failure.is_some()), "{lines:?}");
    update(
        &mut state,
        Msg::LogLines {
            region,
            function: function.clone(),
            end_ms: (at + TimeDelta::seconds(2)).timestamp_millis(),
            result: Ok(lines),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("TIMEOUT "), "{out}");
    assert!(out.contains("ERROR {"), "{out}");
    // Every word of the long one is on screen, none cut at the pane's edge.
    let cut: Vec<String> = (0..40)
        .map(|i| format!("w{i:02}"))
        .filter(|w| !out.contains(w.as_str()))
        .collect();
    assert!(cut.is_empty(), "cut: {cut:?}\n{out}");
}

#[tokio::test]
async fn log_pane_shows_the_functions_lines_newest_at_the_bottom_and_pauses() {
    use lops::provider::LogSource;
    let mut state = incident().await;
    let (region, function) = open_log_pane(&mut state);
    let at = start() + TimeDelta::seconds(190);
    let clock = SimClock::fixed(at);
    let end_ms = at.timestamp_millis();
    let result = demo_regions(7, &clock, Access::default())[region]
        .log_events(&function, end_ms - 15 * 60_000, end_ms, None)
        .await;
    update(
        &mut state,
        Msg::LogLines {
            region,
            function: function.clone(),
            end_ms,
            result,
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains(&format!("logs {function}")), "{out}");
    assert!(out.contains("following"), "{out}");
    assert!(out.contains("REPORT 0722964c"), "{out}");
    assert!(out.contains("MB"), "{out}");
    insta::assert_snapshot!("logs_80x24", out);
    key(&mut state, ' ');
    let paused = screen(&mut state, &MONO, 80, 24);
    assert!(paused.contains("PAUSED"), "{paused}");
    // Its space resumes it, and the footer says so.
    let footer = paused.lines().last().unwrap_or_default();
    assert!(footer.contains("space resume"), "{footer}");
}

/// A function with no log group yet: the pane says so whole at 80 columns (when it looks
/// again is at the end) and its title does not claim a live tail of nothing.
#[tokio::test]
async fn log_pane_waiting_for_a_log_group_says_it_whole() {
    let mut state = incident().await;
    let (region, function) = open_log_pane(&mut state);
    update(
        &mut state,
        Msg::LogTail {
            region,
            function: function.clone(),
            update: lops::provider::FollowUpdate::Live(vec![function.clone()]),
        },
    );
    update(
        &mut state,
        Msg::LogTail {
            region,
            function: function.clone(),
            update: lops::provider::FollowUpdate::NoLogGroup(vec![function.clone()]),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("every minute"), "{out}");
    assert!(out.contains("waiting for its log group"), "{out}");
    assert!(!out.contains("live tail"), "{out}");
}

/// Moves down the fleet until `k` on the selected row opens the input `wanted` is true of.
fn first_row_taking(state: &mut State, k: char, wanted: impl Fn(&lops::state::Input) -> bool) {
    for _ in 0..30 {
        key(state, k);
        if state.input.as_ref().is_some_and(&wanted) {
            return;
        }
        update(
            state,
            Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
        );
        key(state, 'j');
    }
    panic!("no row takes {k}: {:?}", state.popup);
}

/// A refused typed value says why whole at 80 columns: its remedy is at its end (it was cut
/// there), over the rows above the prompt, the prompt kept.
#[tokio::test]
async fn a_long_input_refusal_keeps_its_remedy_at_80_columns() {
    let mut state = incident().await;
    // The first row with an alias whose second version a weight can go to.
    first_row_taking(&mut state, 't', |i| {
        matches!(i, lops::state::Input::Weight(_))
    });
    key(&mut state, '1');
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let error = state.input_error.clone().unwrap_or_default();
    assert!(error.len() > 80, "{error}");
    let out = screen(&mut state, &MONO, 80, 24);
    let rows: Vec<&str> = out.lines().collect();
    let joined = rows[rows.len() - 3..rows.len() - 1].join(" ");
    let joined = joined.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(joined.contains("! weight 1 is out of range"), "{out}");
    assert!(joined.ends_with("for 1 percent, 0.01 or 1%"), "{out}");
    assert!(rows[rows.len() - 1].contains("weight of v"), "{out}");
}

/// The rollout prompt at 80 columns is too long for one line with its preset: the prompt goes
/// whole on the line above (target, region, weights now, `preset:`; it was cut in its middle,
/// `eu-west-…0%`), what is typed on the last line.
#[tokio::test]
async fn the_rollout_prompt_keeps_its_label_whole_at_80_columns() {
    let mut state = incident().await;
    first_row_taking(&mut state, 'C', |i| {
        matches!(i, lops::state::Input::Preset(_))
    });
    let out = screen(&mut state, &MONO, 80, 24);
    let lines: Vec<&str> = out.lines().collect();
    let (label, typed) = (lines[lines.len() - 2], lines[lines.len() - 1]);
    assert!(label.trim_end().ends_with("· preset:"), "{out}");
    assert!(label.contains(" @ ") && !label.contains('…'), "{out}");
    assert!(typed.contains("> Canary10Percent5Minutes_"), "{out}");
}

/// The region and function of the open log pane.
fn log_pane_of(state: &State) -> (usize, String) {
    match &state.view {
        lops::state::View::Logs { region, function } => (*region, function.clone()),
        other => panic!("not in the log pane: {other:?}"),
    }
}

/// Opens the log pane of the selected function: its clock, and a maker of its log lines
/// (seconds after the clock, event id, message).
fn log_pane_line_maker(
    state: &mut State,
) -> (
    chrono::DateTime<chrono::Utc>,
    impl Fn(i64, &str, &str) -> lops::loglines::LogLine + use<>,
) {
    key(state, 'l');
    let (_, function) = log_pane_of(state);
    let at = start() + TimeDelta::seconds(190);
    let line = move |secs: i64, id: &str, message: &str| lops::loglines::LogLine {
        time: at + TimeDelta::seconds(secs),
        region: "us-east-1".into(),
        function: function.clone(),
        stream: "s".into(),
        message: message.into(),
        event_id: id.into(),
        report: None,
        failure: None,
    };
    (at, line)
}

/// Opens the log pane of the selected function with these events read.
fn log_lines_in_pane(state: &mut State, events: &[(i64, &str, &str)]) {
    let (at, line) = log_pane_line_maker(state);
    let lines = events.iter().map(|(s, id, m)| line(*s, id, m)).collect();
    let (region, function) = log_pane_of(state);
    update(
        state,
        Msg::LogLines {
            region,
            function,
            end_ms: at.timestamp_millis(),
            result: Ok(lines),
        },
    );
}

/// Wide text (CJK, emoji) wraps by the columns it takes, every character shown; invisible
/// joiners and zero-width spaces are shown as `�`, so the screen and the terminal agree on where
/// each row ends (pieces of one event were left on the rows of others).
#[tokio::test]
async fn log_pane_wraps_wide_text_by_columns_and_shows_invisible_characters() {
    let mut state = incident().await;
    let wide = format!("WIDE {}", "日本".repeat(50));
    log_lines_in_pane(
        &mut state,
        &[
            (1, "wide", &wide),
            (2, "zwj", "ZWJ a\u{200d}b \u{200b}gap\u{feff} end"),
        ],
    );
    let out = screen(&mut state, &MONO, 80, 24);
    // 100 wide characters: 200 columns over the pane's rows, none cut at its border.
    assert_eq!(out.matches('日').count(), 50, "{out}");
    assert_eq!(out.matches('本').count(), 50, "{out}");
    assert!(
        out.contains("ZWJ a\u{fffd}b \u{fffd}gap\u{fffd} end"),
        "{out}"
    );
    // The pane's border closes every row the wide line takes (the text spans the cell after
    // each wide character: 80 cells a row, the last the border).
    let rows: Vec<&str> = out.lines().filter(|r| r.contains('日')).collect();
    assert_eq!(rows.len(), 4, "{out}");
    for row in rows {
        assert!(row.ends_with('│'), "{row:?}");
    }
}

/// Scrolled all the way up, the pane shows the oldest event, also when each event takes several
/// rows (a traceback): the scroll stopped short of the oldest dozen, counting a row an event.
#[tokio::test]
async fn log_pane_scrolls_back_to_the_oldest_event_of_several_rows() {
    let mut state = incident().await;
    let events: Vec<(i64, String, String)> = (0..40)
        .map(|i| {
            (
                -100 + i,
                format!("e{i}"),
                format!("EVENT-{i:02} Traceback\n  File \"x.py\", line {i}\nValueError: boom"),
            )
        })
        .collect();
    let refs: Vec<(i64, &str, &str)> = events
        .iter()
        .map(|(s, id, m)| (*s, id.as_str(), m.as_str()))
        .collect();
    log_lines_in_pane(&mut state, &refs);
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("EVENT-39"), "{out}");
    // The oldest event shown, when it does not fit whole, says what it leaves out: every
    // traceback begun on screen ends there or is marked (it was cut with no mark).
    let begun = out.matches("Traceback").count();
    let ended = out.matches("ValueError: boom").count();
    let marked = out.matches(" of this event").count() + out.matches(" … +").count();
    assert!(marked <= 1 && begun == ended + marked, "{out}");
    for _ in 0..60 {
        update(
            &mut state,
            Msg::Key(KeyEvent::new(KeyCode::Up, KeyModifiers::NONE)),
        );
    }
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("EVENT-00"), "{out}");
    assert!(!out.contains("EVENT-39"), "{out}");
}

/// The pane cleans what functions log as `lops logs` does: escape sequences removed (no
/// leftovers of them), each line of a traceback on its own row, the newest at the bottom; a
/// filter while scrolled back shows its matches, not an empty pane.
#[tokio::test]
async fn log_pane_cleans_messages_and_gives_each_line_of_one_a_row() {
    let mut state = incident().await;
    let (at, line) = log_pane_line_maker(&mut state);
    let mut lines: Vec<_> = (0..40)
        .map(|i| line(-100 + i, &format!("e{i}"), &format!("routine line {i}")))
        .collect();
    lines.push(line(
        1,
        "esc",
        "\u{1b}[31mred error\u{1b}[0m \u{1b}]0;pwned\u{7} done",
    ));
    lines.push(line(
        2,
        "tb",
        "Traceback (most recent call last):\n  File \"x.py\", line 1\nValueError: boom\n",
    ));
    let long = format!("LONG {} TAIL", "x".repeat(2000));
    lines.push(line(3, "long", &long));
    let (region, function) = log_pane_of(&state);
    update(
        &mut state,
        Msg::LogLines {
            region,
            function,
            end_ms: at.timestamp_millis(),
            result: Ok(lines),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("red error  done"), "{out}");
    assert!(!out.contains("[31m") && !out.contains("pwned"), "{out}");
    let rows: Vec<&str> = out.lines().collect();
    let at_row = |needle: &str| rows.iter().position(|r| r.contains(needle));
    let (first, last) = (at_row("Traceback (most"), at_row("ValueError: boom"));
    assert!(
        first.is_some() && last == first.map(|f| f + 2),
        "each line of the traceback on a row of its own: {out}"
    );
    // A line longer than the pane wraps, and what is left out past a few rows is said.
    let long_rows = rows.iter().filter(|r| r.contains("xxxxxxxxxx")).count();
    assert_eq!(long_rows, 5, "{out}");
    assert!(
        out.contains("more characters (`lops logs` prints the whole line)"),
        "{out}"
    );
    assert!(!out.contains("TAIL"), "{out}");
    // Scrolled back past what a filter then leaves: its matches show.
    for _ in 0..3 {
        update(
            &mut state,
            Msg::Key(KeyEvent::new(KeyCode::PageUp, KeyModifiers::NONE)),
        );
    }
    key(&mut state, '/');
    for c in "red error".chars() {
        key(&mut state, c);
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let filtered = screen(&mut state, &MONO, 80, 24);
    assert!(filtered.contains("red error  done"), "{filtered}");
}

#[tokio::test]
async fn a_log_read_that_failed_is_said_whole_and_not_as_no_events() {
    let mut state = incident().await;
    let (region, function) = open_log_pane(&mut state);
    let denied = "AccessDeniedException: User arn:aws:sts::123456789012:assumed-role/oncall/me \
                  is not authorized to perform: logs:FilterLogEvents";
    update(
        &mut state,
        Msg::LogLines {
            region,
            function: function.clone(),
            end_ms: (start() + TimeDelta::seconds(190)).timestamp_millis(),
            result: Err(lops::provider::ProviderError::AccessDenied(denied.into())),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("read failed (retrying)"), "{out}");
    assert!(out.contains("logs:FilterLogEvents"), "{out}");
    assert!(!out.contains("no log events"), "{out}");
    // Not "following" while nothing is read: its title says it retries.
    let title = out
        .lines()
        .find(|l| l.contains(&format!(" logs {function} ")))
        .unwrap_or_default();
    assert!(
        title.contains("retrying") && !title.contains("following"),
        "{out}"
    );
    // With what would help, as the CLI says it: the permission, the timeout's setting.
    assert!(out.contains("lops iam-policy"), "{out}");
    let function_again = state
        .log_pane
        .as_ref()
        .map(|p| p.function.clone())
        .expect("pane");
    update(
        &mut state,
        Msg::LogLines {
            region,
            function: function_again,
            end_ms: (start() + TimeDelta::seconds(200)).timestamp_millis(),
            result: Err(lops::provider::ProviderError::Timeout(10.0)),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("timed out after 10.0s — raise [timeouts]"),
        "{out}"
    );
}

/// Marks in the fleet (a `*` column, the count in the header), then the kill switch on them: the
/// batch preview at 80x24 lists every target with before → after and one confirmation.
#[tokio::test]
async fn batch_preview_on_marks_fits_80x24() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    load(&mut state, &clock, 0, 1).await;
    // Mark the first three rows.
    for _ in 0..3 {
        key(&mut state, ' ');
    }
    key(&mut state, 'g');
    let fleet = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("fleet_marked_80x24", fleet);
    // The mark shares the health cell: a 16-letter name still reads whole beside it.
    assert!(fleet.contains("*● us-east-1"), "{fleet}");
    assert!(fleet.contains(" notify-processor "), "{fleet}");
    assert!(
        fleet
            .lines()
            .next()
            .unwrap_or_default()
            .contains("3 marked"),
        "{fleet}"
    );
    // A long filter on a narrow screen never cuts the count of what the next key acts on.
    state.filter = "a filter long enough to fill the header".into();
    let narrow = screen(&mut state, &MONO, 60, 15);
    assert!(
        narrow
            .lines()
            .next()
            .unwrap_or_default()
            .contains("3 marked"),
        "{narrow}"
    );
    state.filter.clear();
    assert!(
        fleet.lines().filter(|l| l.starts_with("│*")).count() == 3,
        "{fleet}"
    );

    // The kill switch on the marks: one preview, one typed confirmation for all three.
    let effects = update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Char('K'), KeyModifiers::NONE)),
    );
    let targets = effects
        .into_iter()
        .find_map(|e| match e {
            lops::state::Effect::PrepareBatch { targets } => Some(targets),
            _ => None,
        })
        .expect("a batch");
    let regions = demo_regions(7, &clock, Access::default());
    let refs: Vec<&lops::provider::sim::SimRegion> = regions.iter().collect();
    let batch = lops::ops::batch::prepare(&refs, targets, None).await;
    update(&mut state, Msg::BatchPrepared(Ok(batch)));
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("batch_preview_80x24", out);
    assert!(out.contains("kill: 3 changes in 2 scopes"), "{out}");
    assert!(out.contains("type \"3 targets\" and press enter"), "{out}");
}

/// The services view over the demo's Route 53 at 190 s (us-west-2's outage under way): each
/// service's regions with weight, share, the share they really took, drift and health.
async fn services_at_incident() -> State {
    let clock = SimClock::fixed(start());
    let mut state = incident().await;
    clock.set(start() + TimeDelta::seconds(190));
    let regions = demo_regions(7, &clock, Access::default());
    let scopes: Vec<_> = regions.iter().map(|r| r.scope().clone()).collect();
    state.services = lops::state::services::ServicePane::new(
        lops::provider::sim::demo_services(),
        &scopes,
        scopes.len(),
    );
    let effects = update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Char('4'), KeyModifiers::NONE)),
    );
    let mut reads = 0;
    for effect in effects {
        if let lops::state::Effect::ReadService {
            region,
            index,
            service,
        } = effect
        {
            reads += 1;
            let result = lops::ops::service::read(&regions[region], &service)
                .await
                .map_err(|e| e.to_string());
            update(&mut state, Msg::Service { index, result });
        }
    }
    assert_eq!(reads, 2, "one read per service");
    state
}

#[tokio::test]
async fn services_view_puts_route53_weights_next_to_the_load_each_region_took() {
    let mut state = services_at_incident().await;
    let out = screen(&mut state, &MONO, 80, 24);
    insta::assert_snapshot!("services_80x24", out);
    insta::assert_snapshot!("services_160x40", screen(&mut state, &MONO, 160, 40));
    assert!(out.contains("4:services"), "{out}");
    // Without colour, drift and health are words.
    let outage = out
        .lines()
        .find(|l| l.contains("us-west-2"))
        .expect("us-west-2 row");
    assert!(outage.contains("unhealthy"), "{outage}");
    assert!(out.contains("under") || out.contains("over"), "{out}");
    // At the smallest screen the set ids give way, the health is whole.
    let small = screen(&mut state, &MONO, 60, 15);
    let outage = small
        .lines()
        .find(|l| l.contains("us-west-2"))
        .expect("us-west-2 row");
    assert!(outage.contains(" unhealthy"), "{small}");
    // In colour, an unhealthy region is red.
    let colour = draw(
        &mut state,
        &Theme {
            color: true,
            ascii: false,
        },
        80,
        24,
    );
    let buffer = colour.backend().buffer();
    let y = out
        .lines()
        .position(|l| l.contains("us-west-2") && l.contains("unhealthy"))
        .expect("row") as u16;
    let x = out
        .lines()
        .nth(usize::from(y))
        .expect("line")
        .find("unhealthy")
        .expect("x");
    let x = out.lines().nth(usize::from(y)).expect("line")[..x]
        .chars()
        .count() as u16;
    assert_eq!(buffer[(x, y)].fg, Color::Red);
}

/// A batch with more targets than the screen holds: the preview pages through them, and the
/// typed confirmation acts only once every target has been shown.
#[tokio::test]
async fn a_batch_larger_than_the_screen_is_confirmed_only_after_every_target_is_seen() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    update(&mut state, Msg::Resize(80, 24));
    load(&mut state, &clock, 0, 1).await;
    key(&mut state, '*');
    let marked = state.marks.len();
    assert!(marked > 12, "{marked} marked");
    let effects = update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Char('K'), KeyModifiers::NONE)),
    );
    let targets = effects
        .into_iter()
        .find_map(|e| match e {
            lops::state::Effect::PrepareBatch { targets } => Some(targets),
            _ => None,
        })
        .expect("a batch");
    let regions = demo_regions(7, &clock, Access::default());
    let refs: Vec<&lops::provider::sim::SimRegion> = regions.iter().collect();
    let batch = lops::ops::batch::prepare(&refs, targets, None).await;
    update(&mut state, Msg::BatchPrepared(Ok(batch)));
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("more below"), "{out}");
    assert!(out.contains("before confirming"), "{out}");
    insta::assert_snapshot!("batch_preview_paged_80x24", out);
    let typed = format!("{marked} targets");
    let confirm = |state: &mut State| {
        for c in typed.chars() {
            key(state, c);
        }
        update(
            state,
            Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
        )
    };
    // Typed right, but targets unseen: nothing runs.
    let effects = confirm(&mut state);
    assert!(
        !effects
            .iter()
            .any(|e| matches!(e, lops::state::Effect::ExecuteBatch { .. })),
        "{effects:?}"
    );
    assert!(matches!(state.popup, Some(lops::state::Popup::Confirm(_))));
    // Said: the key is held until every target was shown (it seemed to do nothing).
    let held = screen(&mut state, &MONO, 80, 24);
    assert!(held.contains("not confirmed: "), "{held}");
    // Shrunk after a first page was seen: what is below counts lines already seen, what is
    // left to see does not — two numbers, each said as what it is (both said "more below").
    let small = screen(&mut state, &MONO, 60, 15);
    let number_before = |text: &str, words: &str| -> Option<usize> {
        let line = text.lines().find(|l| l.contains(words))?;
        let at = line.find(words)?;
        let before = &line[..at];
        let digits = before.len() - before.trim_end_matches(|c: char| c.is_ascii_digit()).len();
        before[before.len() - digits..].parse().ok()
    };
    let below = number_before(&small, " more below (Down");
    let unseen = number_before(&small, " not yet shown");
    assert!(
        matches!((below, unseen), (Some(b), Some(u)) if u <= b),
        "{below:?} {unseen:?}: {small}"
    );
    // A screen tall enough for every target: they count as seen, and the popup stops asking
    // to page (it said "see the N more below" after the resize).
    let tall = screen(&mut state, &MONO, 100, 200);
    assert!(!tall.contains("before confirming"), "{tall}");
    update(&mut state, Msg::Resize(80, 24));
    // End shows the last lines, Home the first again.
    let press = |state: &mut State, code: KeyCode| {
        update(state, Msg::Key(KeyEvent::new(code, KeyModifiers::NONE)));
    };
    press(&mut state, KeyCode::End);
    let end = screen(&mut state, &MONO, 80, 24);
    assert!(
        end.contains("more above") && !end.contains("more below"),
        "{end}"
    );
    // A page of them, not the last one alone.
    let last_two: Vec<String> = match &state.popup {
        Some(lops::state::Popup::Confirm(p)) => p.lines[p.lines.len() - 2..]
            .iter()
            .map(|l| l.split(':').next().unwrap_or_default().to_string())
            .collect(),
        other => panic!("no confirmation: {other:?}"),
    };
    assert!(
        last_two.iter().all(|t| end.contains(t.as_str())),
        "{last_two:?}: {end}"
    );
    press(&mut state, KeyCode::Home);
    let home = screen(&mut state, &MONO, 80, 24);
    assert!(
        !home.contains("more above") && home.contains("more below"),
        "{home}"
    );
    // Page to the end: the first page's lines go above, the last target shows — and every
    // target was on screen on the way (a page never skips lines that wrap).
    let targets: Vec<String> = match &state.popup {
        Some(lops::state::Popup::Confirm(p)) => p.lines[1..]
            .iter()
            .map(|l| l.split(':').next().unwrap_or_default().to_string())
            .collect(),
        other => panic!("no confirmation: {other:?}"),
    };
    let mut shown = screen(&mut state, &MONO, 80, 24);
    for _ in 0..marked {
        update(
            &mut state,
            Msg::Key(KeyEvent::new(KeyCode::PageDown, KeyModifiers::NONE)),
        );
        shown.push_str(&screen(&mut state, &MONO, 80, 24));
    }
    let never: Vec<&String> = targets
        .iter()
        .filter(|t| !shown.contains(t.as_str()))
        .collect();
    assert!(never.is_empty(), "never shown: {never:?}");
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(
        out.contains("more above") && !out.contains("more below"),
        "{out}"
    );
    assert!(!out.contains("before confirming"), "{out}");
    // The name typed before is still there; enter now acts.
    let effects = update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let batch = effects
        .into_iter()
        .find_map(|e| match e {
            lops::state::Effect::ExecuteBatch { batch } => Some(batch),
            _ => None,
        })
        .expect("the batch runs");
    // Nothing changes: every target but the last is not sent (changed since), the last fails.
    // The summary offers no undo (there is nothing to undo), and the failure, last in the
    // batch, is on screen at 80x24 (it was only counted under the popup's edge).
    let sent: Vec<usize> = batch
        .items
        .iter()
        .enumerate()
        .filter(|(_, item)| item.plan().is_some())
        .map(|(i, _)| i)
        .collect();
    let last = *sent.last().expect("targets");
    for &i in &sent {
        let result = match i == last {
            true => Err(lops::ops::OpsError::Provider(
                lops::provider::ProviderError::Timeout(10.0),
            )),
            false => Err(lops::ops::OpsError::Conflict(
                "changed since the preview".into(),
            )),
        };
        update(
            &mut state,
            Msg::BatchLanded {
                batch: batch.id.clone(),
                landed: (i, result),
            },
        );
    }
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("done: changed 0 of"), "{out}");
    assert!(!out.contains("undoes it"), "{out}");
    let failed = batch.items[last].plan().expect("plan").target.clone();
    assert!(
        out.contains("and") && out.contains("more"),
        "not cut: {out}"
    );
    assert!(
        out.lines()
            .any(|l| l.contains('✗') && l.contains(&failed) && l.contains("timed out")),
        "{out}"
    );
}

/// A region whose metrics and alarms have not answered yet shows – for its numbers and alarms,
/// never 0 (0 invocations and 0 alarms are things a region can truly have).
#[tokio::test]
async fn regions_view_shows_unknown_numbers_as_dashes_not_zeros() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    key(&mut state, '2');
    let out = screen(&mut state, &MONO, 120, 24);
    let row = out
        .lines()
        .find(|l| l.contains("us-east-1"))
        .unwrap_or_default()
        .to_string();
    // INV, ERR%, THR and ALARM.
    assert!(row.matches('–').count() >= 4, "{row}\n{out}");
    assert!(state.regions[0].known_totals(state.window).is_none());
    assert!(state.regions[0].known_firing_alarms().is_none());
}

/// Many aliases leave the alarms, tags and triggers on screen; a tag's value never drives the
/// terminal.
/// What was read and is not there is said in the detail view ("no aliases"), so that it does
/// not read like a line left out because it was not read ("alarms not read").
#[tokio::test]
async fn detail_says_none_where_nothing_is_there() {
    let mut state = incident().await;
    let (r, f) = state.rows[state.selected];
    let name = state.regions[r].functions[f].info.name.clone();
    {
        let info = &mut state.regions[r].functions[f].info;
        info.aliases.clear();
        info.tags.clear();
        info.not_read = Default::default();
    }
    state.regions[r]
        .alarms
        .retain(|a| a.function.as_deref() != Some(name.as_str()));
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("no aliases, alarms or tags"), "{out}");
    // Tags there, the rest not: only the rest is said to be absent.
    state.regions[r].functions[f]
        .info
        .tags
        .insert("team".into(), "core".into());
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("no aliases or alarms"), "{out}");
    assert!(out.contains("tags team=core"), "{out}");
}

/// An alarm with too little data reads the same in the fleet and the detail view as in
/// `lops status` ("no data", on one line with its name), and a function whose numbers are not
/// read still shows the reservation Lambda said (`–/25`).
#[tokio::test]
async fn insufficient_data_and_an_unread_peak_read_the_same_everywhere() {
    let mut state = incident().await;
    let (r, f) = state.rows[state.selected];
    let name = state.regions[r].functions[f].info.name.clone();
    {
        let region = &mut state.regions[r];
        region
            .alarms
            .retain(|a| a.function.as_deref() != Some(name.as_str()));
        region.alarms.push(lops::provider::Alarm {
            name: format!("{name}-errors"),
            state: lops::provider::AlarmState::InsufficientData,
            reason: None,
            metric: Some("Errors".into()),
            function: Some(name.clone()),
        });
        let entry = &mut region.functions[f];
        entry.alarm = Some(lops::provider::AlarmState::InsufficientData);
        entry.metrics = None;
        entry.info.reserved_concurrency = Some(25);
        entry.info.not_read = Default::default();
        entry.info.detail_error = None;
    }
    let wide = screen(&mut state, &MONO, 200, 30);
    let row = wide.lines().find(|l| l.contains(&name)).unwrap_or_default();
    assert!(row.contains("no data"), "{wide}");
    assert!(row.contains("–/25"), "{wide}");
    let narrow = screen(&mut state, &MONO, 80, 24);
    let row = narrow
        .lines()
        .find(|l| l.contains(&name[..10]))
        .unwrap_or_default();
    assert!(row.contains("data?") && !row.contains("n/a"), "{narrow}");
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let detail = screen(&mut state, &MONO, 80, 24);
    assert!(
        detail.contains(&format!("NO DATA {name}-errors")[..20]),
        "{detail}"
    );
    assert!(!detail.contains("INSUFFICIENT"), "{detail}");
}

/// A configuration line too long for its pane is cut between words and marked: a timeout of
/// 30 s never reads as "3".
#[tokio::test]
async fn detail_cuts_a_long_line_between_words_and_marks_it() {
    let mut state = incident().await;
    let (r, f) = state.rows[state.selected];
    {
        let info = &mut state.regions[r].functions[f].info;
        info.runtime = Some("provided.al2023".into());
        info.memory_mb = Some(10240);
        info.timeout_s = Some(30);
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    for (w, h) in [(80, 24), (60, 15)] {
        let out = screen(&mut state, &MONO, w, h);
        let line = out
            .lines()
            .find(|l| l.contains("runtime"))
            .unwrap_or_default();
        let left = line.split('│').nth(1).unwrap_or_default().trim_end();
        assert!(
            left.ends_with("30 s") || left.ends_with(" …"),
            "{w}x{h}: {line}\n{out}"
        );
    }
}

#[tokio::test]
async fn detail_keeps_room_for_triggers_and_shows_tags_as_text() {
    let mut state = incident().await;
    let (r, f) = state.rows[state.selected];
    {
        let info = &mut state.regions[r].functions[f].info;
        let alias = info
            .aliases
            .first()
            .cloned()
            .unwrap_or_else(|| lops::provider::AliasInfo {
                name: "live".into(),
                function_version: "1".into(),
                ..Default::default()
            });
        info.aliases = (0..20)
            .map(|n| lops::provider::AliasInfo {
                name: format!("alias{n:02}"),
                ..alias.clone()
            })
            .collect();
        info.tags
            .insert("note".into(), "a\u{1b}[5mblink\u{1b}]0;TITLE\u{7}b".into());
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("… 16 more aliases"), "{out}");
    assert!(out.contains("triggers"), "{out}");
    assert!(!out.contains("[5m") && !out.contains("]0;"), "{out}");
    // The load view says how many aliases did not fit.
    key(&mut state, '3');
    let load = screen(&mut state, &MONO, 80, 24);
    assert!(
        load.contains("more aliases (drifting ones first)"),
        "{load}"
    );
}

/// Without colour the row mark says the region's state first: every row of the stale region
/// carries ▲ (never ✗, which means unreachable), whatever its own alarms.
#[tokio::test]
async fn rows_of_a_stale_region_carry_its_mark_first() {
    let mut state = incident().await;
    for region in state
        .regions
        .iter_mut()
        .filter(|r| r.scope.region == "us-west-2")
    {
        for f in &mut region.functions {
            f.alarm = Some(lops::provider::AlarmState::Alarm);
        }
    }
    let out = screen(&mut state, &MONO, 160, 60);
    let rows: Vec<&str> = out.lines().filter(|l| l.contains("us-west-2")).collect();
    let table_rows: Vec<&&str> = rows.iter().filter(|l| l.starts_with('│')).collect();
    assert!(!table_rows.is_empty(), "{out}");
    assert!(
        table_rows.iter().all(|l| l.starts_with("│▲")),
        "{table_rows:#?}"
    );
}

/// With no service configured the services view says so, whole at 80 columns, and never
/// "reading…" (there is nothing to read).
#[tokio::test]
async fn the_services_view_without_services_says_how_to_add_one() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    load(&mut state, &clock, 0, 1).await;
    key(&mut state, '4');
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("none configured"), "{out}");
    assert!(!out.contains("reading…"), "{out}");
    assert!(out.contains("Services"), "{out}");
    // Nothing to act on: the keys that act on a service are not offered.
    let hints = out.lines().last().unwrap_or_default();
    assert!(
        hints.contains("help") && !hints.contains("drain") && !hints.contains("weight"),
        "{hints}"
    );
}

/// A popup whose lines wrap between words still shows its last line, the keys to answer with
/// (the rows were counted by cells, and wrapping took more).
#[tokio::test]
async fn a_wrapped_popup_keeps_its_keys_line() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    load(&mut state, &clock, 0, 1).await;
    // Words of nine letters: a row of the box (74 cells) holds seven, so 15 take three rows,
    // where their cells alone (148) would count two.
    let mut words = vec!["abcdefghi"; 14].join(" ");
    words.push_str(" abcdefgh");
    state.popup = Some(lops::state::Popup::Working(words));
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("working… · esc hides this"), "{out}");
}

/// A function whose own reads failed is marked in the fleet as `lops status` marks it (`!`),
/// and the regions view says which call failed for it; its detail view names the failure and
/// never shows the unread reservation as none.
#[tokio::test]
async fn a_function_whose_own_reads_failed_is_marked_and_said() {
    let mut state = incident().await;
    // One function, in every region it is in.
    let name = state.regions[0].functions[0].info.name.clone();
    for r in &mut state.regions {
        for f in r.functions.iter_mut().filter(|f| f.info.name == name) {
            f.info.detail_error =
                Some("details: GetFunction access denied: AccessDeniedException".into());
            f.info.not_read.details = true;
            f.info.tags.clear();
            f.info.reserved_concurrency = None;
        }
    }
    key(&mut state, '/');
    for c in name.chars() {
        key(&mut state, c);
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let fleet = screen(&mut state, &MONO, 80, 24);
    assert!(fleet.contains(&format!("{name}!")), "{fleet}");
    assert!(
        fleet.contains("/?r"),
        "its reservation is not known: {fleet}"
    );
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let detail = screen(&mut state, &MONO, 120, 30);
    assert!(
        detail.contains("not read: details: GetFunction access"),
        "{detail}"
    );
    assert!(
        detail.contains("AccessDeniedException"),
        "the reason whole: {detail}"
    );
    assert!(detail.contains("reserved not read"), "{detail}");
    assert!(detail.contains("tags not read"), "{detail}");
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Esc, KeyModifiers::NONE)),
    );
    key(&mut state, '2');
    let regions = screen(&mut state, &MONO, 120, 30);
    assert!(regions.contains("not read whole (marked)"), "{regions}");
}

/// A notice longer than the screen (an invoke's answer, a long batch result) keeps the keys to
/// close it and says how much it leaves out, rather than cutting in silence.
#[tokio::test]
async fn a_notice_longer_than_the_screen_says_what_it_leaves_out() {
    let mut state = incident().await;
    let text: Vec<String> = (0..40).map(|i| format!("line {i} of the answer")).collect();
    state.popup = Some(lops::state::Popup::Notice(text.join("\n")));
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("line 0 of the answer"), "{out}");
    assert!(out.contains("22 more lines here"), "{out}");
    assert!(out.contains("enter or esc closes"), "{out}");
    // The middle gives way: how it ended stays.
    assert!(out.contains("line 39 of"), "{out}");
    assert!(!out.contains("line 20 of"), "{out}");
}

/// With ASCII only (a C locale, `--ascii`), nothing but ASCII reaches the terminal: the glyphs
/// of confirmations and cells (→ · – …) are drawn in ASCII, anything else as `?`.
#[tokio::test]
async fn ascii_only_draws_nothing_but_ascii() {
    let mut state = incident().await;
    state.popup = Some(lops::state::Popup::Notice(
        "v1 90% → v2 100% · reserved – … ≥ 0 ✗ ● é".into(),
    ));
    let ascii = Theme {
        color: false,
        ascii: true,
    };
    let out = screen(&mut state, &ascii, 80, 24);
    assert!(out.is_ascii(), "{out}");
    // In a box, what one character would misread is spelled out: `≥` is `>=`, `→` `->`.
    assert!(
        out.contains("v1 90% -> v2 100% . reserved - ... >= 0 X * ?"),
        "{out}"
    );
}

/// A function that has not logged yet (no log group) is waited for, not a failed read.
#[tokio::test]
async fn a_missing_log_group_is_waited_for_not_a_failed_read() {
    let mut state = incident().await;
    let (region, function) = open_log_pane(&mut state);
    update(
        &mut state,
        Msg::LogLines {
            region,
            function,
            end_ms: start().timestamp_millis(),
            result: Err(lops::provider::ProviderError::NotFound(
                "no log group /aws/lambda/x".into(),
            )),
        },
    );
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("no log group yet"), "{out}");
    assert!(!out.contains("read failed"), "{out}");
}

/// A fleet over `scopes` whose region i lists the functions of `takes[i]`, each taking its
/// count of invocations a minute over the last five minutes (numbers read, no alarms).
fn fleet_taking(scopes: Vec<lops::provider::Scope>, takes: &[Vec<(&str, f64)>]) -> State {
    let mut state = State::new(
        scopes,
        Keymap::default(),
        ScreenOptions {
            demo: false,
            metrics_secs: 60,
            narrowed: false,
        },
        start(),
    );
    for (i, functions) in takes.iter().enumerate() {
        let infos = functions
            .iter()
            .map(|(n, _)| lops::provider::FunctionInfo {
                name: n.to_string(),
                state: "Active".into(),
                ..Default::default()
            })
            .collect();
        update(
            &mut state,
            Msg::Inventory {
                region: i,
                seq: 1,
                at: start(),
                result: Ok(lops::provider::Inventory {
                    functions: infos,
                    ..Default::default()
                }),
            },
        );
        let mut snapshot = lops::provider::MetricsSnapshot {
            window_end: Some(start()),
            ..Default::default()
        };
        for (name, n) in functions {
            let m = lops::provider::FunctionMetrics {
                invocations: lops::provider::Series::from_values(
                    (0..lops::provider::MINUTES).map(|m| Some(if m >= 55 { *n } else { 0.0 })),
                ),
                ..Default::default()
            };
            snapshot.functions.insert(name.to_string(), m);
        }
        update(
            &mut state,
            Msg::Metrics {
                region: i,
                seq: 1,
                at: start(),
                result: Ok(snapshot),
            },
        );
    }
    state
}

/// Ten regions at 80x24: the load view lists the largest shares first and counts the rest with
/// their share, never cuts them away in silence; a function with no invocations anywhere has
/// no share to show (`–`), not 0 % in every region.
#[tokio::test]
async fn the_load_view_ranks_regions_counts_what_does_not_fit_and_shows_no_traffic_as_no_share() {
    let names = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-central-1",
        "ap-southeast-1",
        "ap-southeast-2",
        "ap-northeast-1",
    ];
    let scopes = names
        .iter()
        .map(|r| lops::provider::Scope::new("default", *r, Access::default()))
        .collect();
    // Region i takes (i + 1) × 10 a minute of `api`; `quiet` took nothing.
    let takes: Vec<Vec<(&str, f64)>> = (0..names.len())
        .map(|i| vec![("api", (i + 1) as f64 * 10.0), ("quiet", 0.0)])
        .collect();
    let mut state = fleet_taking(scopes, &takes);
    key(&mut state, '3');
    let out = screen(&mut state, &MONO, 80, 24);
    // The two largest (ap-northeast-1 18 %, ap-southeast-2 16 %) first; the rest counted.
    let first = out.find("ap-northeast-1").expect("largest shown");
    let second = out.find("ap-southeast-2").expect("second shown");
    assert!(first < second, "{out}");
    assert!(out.contains("more regions,"), "{out}");
    assert!(out.contains("of the load"), "{out}");
    assert!(
        !out.contains("us-east-1  "),
        "the smallest is counted, not listed: {out}"
    );
    // Regions not read fall into that line: counted as not read, never a share of 0 %.
    let scopes = names
        .iter()
        .map(|r| lops::provider::Scope::new("default", *r, Access::default()))
        .collect();
    let mut partial = fleet_taking(scopes, &takes[..5]);
    key(&mut partial, '3');
    let out = screen(&mut partial, &MONO, 80, 24);
    let more = out
        .lines()
        .find(|l| l.contains("more regions"))
        .unwrap_or_default();
    assert!(
        more.contains("not read)") && !more.contains("of the load"),
        "{out}"
    );
    // In ASCII not a lone `.` (the fresh region's mark there): three dots.
    let ascii = Theme {
        color: false,
        ascii: true,
    };
    let out = screen(&mut partial, &ascii, 80, 24);
    assert!(out.contains("|... 3 more regions"), "{out}");

    // `quiet`: no share anywhere, its count 0.
    key(&mut state, '1');
    key(&mut state, '/');
    for c in "quiet".chars() {
        key(&mut state, c);
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    key(&mut state, '3');
    let out = screen(&mut state, &MONO, 80, 40);
    let after = &out[out.find("quiet across regions").expect("focus on quiet")..];
    assert!(!after.contains(" 0% "), "{out}");
    assert!(after.contains("–       0"), "{out}");
    // In the fleet, its numbers were read: no concurrency point is a peak of 0 (as `lops
    // status` says it), not `–` (never read).
    key(&mut state, '1');
    let out = screen(&mut state, &MONO, 80, 24);
    // REGION FUNCTION INV ERR% THR P99 CONC ALARM, after the mark.
    let row = out
        .lines()
        .find(|l| l.contains("quiet") && l.contains("ap-northeast-1"))
        .expect("quiet row");
    let cells: Vec<&str> = row.split_whitespace().collect();
    assert_eq!(cells.get(7).copied(), Some("0"), "{out}");
}

/// The regions view selects no function: its header shows the least any scope may do and,
/// where any scope is production, PRODUCTION too — the strictest protection on screen.
#[tokio::test]
async fn the_regions_view_header_keeps_production_beside_the_narrowest_tier() {
    let scopes = vec![
        lops::provider::Scope::new("prod", "us-east-1", Access::new(Tier::Change, true)),
        lops::provider::Scope::new("ro", "us-east-1", Access::new(Tier::Read, false)),
    ];
    let mut state = State::new(scopes, Keymap::default(), ScreenOptions::default(), start());
    key(&mut state, '2');
    let out = screen(&mut state, &MONO, 100, 24);
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.contains("READ-ONLY") && header.contains("PRODUCTION"),
        "{header}"
    );
}

/// The header's tabs name the keys in force: a keymap that moves a view's key moves its label.
#[tokio::test]
async fn the_header_tabs_name_the_keys_in_force() {
    let clock = SimClock::fixed(start());
    let scopes = demo_regions(7, &clock, Access::default())
        .iter()
        .map(|r| r.scope().clone())
        .collect();
    let overrides = std::collections::BTreeMap::from([("fleet".to_string(), "0".to_string())]);
    let keymap = Keymap::with_overrides(&overrides).expect("keymap");
    let mut state = State::new(scopes, keymap, ScreenOptions::default(), start());
    let out = screen(&mut state, &MONO, 100, 24);
    let header = out.lines().next().unwrap_or_default();
    assert!(
        header.contains("0:fleet") && header.contains("2:regions") && !header.contains("1:fleet"),
        "{header}"
    );
}

/// A mapping bound to an alias says so in the detail view: pausing it stops only that
/// alias's traffic.
#[tokio::test]
async fn the_detail_view_says_which_alias_a_mapping_goes_through() {
    let mut state = incident().await;
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    let lops::state::View::Detail { region, function } = state.view.clone() else {
        panic!("no detail view");
    };
    let mapping = lops::provider::Trigger {
        kind: lops::provider::TriggerKind::Mapping,
        id: "6f1c2a10".into(),
        source: "arn:aws:sqs:us-east-1:1:jobs".into(),
        state: "Enabled".into(),
        enabled: true,
        detail: "batch 5, through live".into(),
    };
    update(
        &mut state,
        Msg::Triggers {
            region,
            function: function.clone(),
            result: Ok(lops::provider::Triggers {
                function,
                triggers: vec![mapping],
                ..Default::default()
            }),
        },
    );
    let out = screen(&mut state, &MONO, 120, 40);
    assert!(out.contains("mapping on  jobs through live"), "{out}");
}

/// What an alias ran on versions no one asked for is shown as `other`, never as a version
/// named `vother`.
#[test]
fn the_other_versions_line_is_named_as_such() {
    assert_eq!(
        lops::format::version(lops::provider::OTHER_VERSIONS),
        lops::provider::OTHER_VERSIONS
    );
    assert_eq!(lops::format::version("7"), "v7");
}

/// A long scope label (`profile/region`) never runs into its bar: the label column is as wide
/// as the longest, the shares stay in one column.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_load_view_keeps_long_scope_labels_out_of_their_bars() {
    let scopes = vec![
        lops::provider::Scope::new("default", "us-east-1", Access::default()),
        lops::provider::Scope::new("prod-europe", "ap-southeast-2", Access::default()),
    ];
    let mut state = fleet_taking(scopes, &[vec![("api", 30.0)], vec![("api", 10.0)]]);
    key(&mut state, '3');
    let out = screen(&mut state, &MONO, 80, 24);
    let line = |label: &str| {
        out.lines()
            .find(|l| l.contains(label) && l.contains('%'))
            .unwrap_or_else(|| panic!("{label}: {out}"))
            .to_string()
    };
    let (short, long) = (line("│us-east-1 "), line("prod-europe/ap-southeast-2 "));
    assert_eq!(short.find('%'), long.find('%'), "{out}");
    assert!(long.contains("75%") || short.contains("75%"), "{out}");
}

/// A member no region is known for has no row: said under its service with its weight, and no
/// region's TAKEN or drift is shown (they would be shares of part of the load).
/// A service whose read failed has no rows to scroll to: it comes first, its error whole
/// (wrapped), so that at 80x24 it is not below the screen or cut before the advice.
#[tokio::test]
async fn a_service_whose_read_failed_is_shown_first_with_its_whole_error() {
    let mut state = services_at_incident().await;
    let failed = state.services.services[1].name.clone();
    let error = "hosted zone Z0NOSUCHZONE is not found (or this profile cannot see it): check \
                 `zone` in its [[service]] entry";
    state.services.views[1] = Some(Err(error.to_string()));
    let out = screen(&mut state, &MONO, 80, 24);
    let first_service = out
        .lines()
        .position(|l| l.contains(&failed))
        .unwrap_or_else(|| panic!("{out}"));
    let other = out
        .lines()
        .position(|l| l.contains(&state.services.services[0].name))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(first_service < other, "{out}");
    let joined: String = out
        .lines()
        .skip(first_service)
        .take(4)
        .map(|l| l.trim_matches(|c: char| c == '│' || c == ' '))
        .collect::<Vec<_>>()
        .join(" ");
    assert!(
        joined.contains("in its [[service]] entry"),
        "{joined}\n{out}"
    );
    // `D` with nothing to act on says why.
    state.services.views[0] = Some(Err("record api not found".into()));
    key(&mut state, 'D');
    let out = screen(&mut state, &MONO, 80, 24);
    assert!(out.contains("record api not found"), "{out}");
}

/// A read that fails after one that answered keeps the weights it showed (an outage is when
/// they are needed), marked stale with why — also without colour — until a read answers again.
#[tokio::test]
async fn a_failed_service_read_keeps_the_last_weights_marked_stale() {
    let mut state = services_at_incident().await;
    let before = lops::state::services::rows(&state);
    let name = state.services.services[1].name.clone();
    let mine = |rows: &[lops::state::services::ServiceRow]| -> Vec<(String, Option<i64>)> {
        rows.iter()
            .filter(|r| r.service == 1)
            .map(|r| (r.region.clone(), r.weight))
            .collect()
    };
    assert!(!mine(&before).is_empty());
    update(
        &mut state,
        Msg::Service {
            index: 1,
            result: Err("timed out after 10.0s".into()),
        },
    );
    let after = lops::state::services::rows(&state);
    assert_eq!(mine(&after), mine(&before));
    let out = screen(&mut state, &MONO, 80, 24);
    let at = out
        .lines()
        .position(|l| l.contains(&name))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(
        out.lines()
            .nth(at + 1)
            .is_some_and(|l| l.contains("▲ stale") && l.contains("timed out after 10.0s")),
        "{out}"
    );
    // Read again and answered: no longer stale.
    let view = lops::ops::service::ServiceView {
        settings: state.services.services[1].clone(),
        members: match &state.services.views[1] {
            Some(Ok(v)) => v.members.clone(),
            _ => panic!("kept"),
        },
    };
    update(
        &mut state,
        Msg::Service {
            index: 1,
            result: Ok(view),
        },
    );
    assert!(!screen(&mut state, &MONO, 80, 24).contains("▲ stale"));
}

#[tokio::test]
async fn the_services_view_names_a_member_without_a_region_and_shows_no_partial_shares() {
    let mut state = services_at_incident().await;
    let first = state.services.services[0].name.clone();
    // The first service's rows: the lines after its name that hold a share.
    let block = |out: &str| -> String {
        out.lines()
            .skip_while(|l| !l.contains(&first))
            .skip(1)
            .take_while(|l| l.contains('%') || l.contains('\u{2013}'))
            .collect::<Vec<_>>()
            .join("\n")
    };
    let before = screen(&mut state, &MONO, 160, 40);
    assert!(
        block(&before).contains("under") || block(&before).contains("over"),
        "{before}"
    );
    if let Some(Some(Ok(view))) = state.services.views.get_mut(0) {
        let mut onprem = view.members[0].clone();
        onprem.region = None;
        onprem.record.set_id = Some("onprem".into());
        view.members.push(onprem);
    }
    let out = screen(&mut state, &MONO, 160, 40);
    assert!(out.contains("no region for onprem (weight"), "{out}");
    let after = block(&out);
    assert!(
        !after.is_empty() && !after.contains("under") && !after.contains("over"),
        "{out}"
    );
}

/// At 80 columns the regions view keeps a `profile/region` scope whole: the error column gives
/// way (its text is said whole under the table).
#[tokio::test]
async fn the_regions_view_keeps_scopes_whole_at_80_columns() {
    let scopes = ["us-east-1", "us-east-2"]
        .iter()
        .map(|r| lops::provider::Scope::new("broken", *r, Access::default()))
        .collect();
    let mut state = fleet_taking(scopes, &[vec![("api", 3.0)], vec![("api", 1.0)]]);
    key(&mut state, '2');
    let out = screen(&mut state, &MONO, 80, 24);
    let rows: Vec<&str> = out.lines().filter(|l| l.starts_with("│●")).collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].contains("broken/us-east-1 ") && rows[1].contains("broken/us-east-2 "),
        "{out}"
    );
}

/// The regions view says every error its column cuts under the table (an unreachable region's
/// before a stale one's), one shared word for word by several regions once, and when they do not all fit,
/// each keeps its first line, the cut marked, with a last line counting what is not shown
/// and naming where it is said whole.
#[tokio::test]
async fn the_regions_view_says_the_errors_it_cuts_a_shared_one_once() {
    let regions = [
        "us-east-1",
        "us-east-2",
        "us-west-1",
        "us-west-2",
        "eu-west-1",
        "eu-west-2",
        "eu-west-3",
        "eu-central-1",
    ];
    let scopes = regions
        .iter()
        .map(|r| lops::provider::Scope::new("a", *r, Access::default()))
        .collect();
    let takes: Vec<Vec<(&str, f64)>> = regions.iter().map(|_| vec![("api", 1.0)]).collect();
    let mut state = fleet_taking(scopes, &takes);
    let refused = "could not connect: dispatch failure: io error: Connection refused (os error \
                   111); check the endpoint and the network, or raise [timeouts] connect_secs";
    // Two regions with one error, five with one each naming their region.
    fail_inventory(&mut state, 0, refused);
    fail_inventory(&mut state, 1, refused);
    for (r, region) in regions.iter().enumerate().take(7).skip(2) {
        fail_inventory(
            &mut state,
            r,
            &format!(
                "the endpoint in {region} answered HTTP 503 ServiceUnavailable five times over \
                 a minute: the Lambda control plane of this region is failing"
            ),
        );
    }
    key(&mut state, '2');
    let wide = screen(&mut state, &MONO, 200, 40);
    assert!(
        wide.contains("a/us-east-1, a/us-east-2: inventory: ListFunctions could not connect"),
        "{wide}"
    );
    assert!(
        !wide.contains("not shown") && !wide.contains("cut short"),
        "{wide}"
    );
    let out = screen(&mut state, &MONO, 80, 24);
    let notes: Vec<&str> = out
        .lines()
        .skip_while(|l| !l.contains("eu-central-1"))
        .skip(1)
        .filter(|l| l.starts_with('│') && l.trim_matches(|c: char| c == '│' || c == ' ').len() > 1)
        .collect();
    let said = notes.join("\n");
    // Every failing region is named, the shared error once.
    for (i, region) in regions[..7].iter().enumerate() {
        let scope = format!("a/{region}");
        assert!(said.contains(&scope), "{i} {scope}\n{out}");
    }
    assert_eq!(said.matches("a/us-east-1").count(), 1, "{out}");
    assert!(said.contains("a/us-east-1, a/us-east-2: "), "{out}");
    let last = notes.last().expect("a last line");
    assert!(
        last.contains("cut short") && last.contains("`lops status`"),
        "{out}"
    );
    assert!(said.contains('…'), "{out}");
}

/// At the smallest screen (60x15) the regions view leaves whole columns out (the calls, the
/// error — then said under the table —, the function count) rather than cut a scope at the
/// table's edge: `staging/us-east-1` and `staging/us-east-2` still read apart.
#[tokio::test]
async fn the_regions_view_at_60_columns_leaves_columns_out_not_scopes_cut() {
    let scopes = ["us-east-1", "us-east-2"]
        .iter()
        .map(|r| lops::provider::Scope::new("staging", *r, Access::default()))
        .collect();
    let mut state = fleet_taking(scopes, &[vec![("api", 3.0)], vec![("api", 1.0)]]);
    fail_inventory(
        &mut state,
        1,
        "HTTP 503 from the server: ServiceUnavailable",
    );
    key(&mut state, '2');
    let out = screen(&mut state, &MONO, 60, 15);
    let rows: Vec<&str> = out
        .lines()
        .filter(|l| l.starts_with("│●") || l.starts_with("│▲"))
        .collect();
    assert_eq!(rows.len(), 2, "{out}");
    assert!(
        rows[0].contains("staging/us-east-1 ") && rows[1].contains("staging/us-east-2 "),
        "{out}"
    );
    let header = out.lines().find(|l| l.contains("REGION")).expect("header");
    for kept in ["DATA", "INV", "ERR%", "ALARM"] {
        assert!(header.contains(kept), "{header}");
    }
    assert!(
        !header.contains("API/MIN") && !header.contains("LAST ERROR"),
        "{header}"
    );
    assert!(
        out.contains("staging/us-east-2: inventory: ListFunctions HTTP 503"),
        "{out}"
    );
}

/// A region whose inventory never answered (its alarms did) counts its functions as unknown
/// (`–`), not 0, as `lops status --json` gives `functions: null`.
#[tokio::test]
async fn the_regions_view_counts_no_functions_where_the_inventory_never_answered() {
    let scopes = ["us-east-1", "us-east-2"]
        .iter()
        .map(|r| lops::provider::Scope::new("default", *r, Access::default()))
        .collect();
    let mut state = fleet_taking(scopes, &[vec![("api", 3.0)]]);
    fail_inventory(
        &mut state,
        1,
        "HTTP 503 from the server: ServiceUnavailable",
    );
    update(
        &mut state,
        Msg::Alarms {
            region: 1,
            seq: 1,
            at: start(),
            result: Ok(Vec::new()),
        },
    );
    key(&mut state, '2');
    let out = screen(&mut state, &MONO, 120, 30);
    let row = |scope: &str| {
        out.lines()
            .find(|l| l.contains(scope) && (l.contains('▲') || l.contains('●')))
            .unwrap_or_else(|| panic!("{scope}: {out}"))
            .to_string()
    };
    // The count follows the DATA column (`0s`, `stale 0s`, `not read`).
    let fns = |line: &str| {
        let words: Vec<&str> = line.split_whitespace().collect();
        let age = words
            .iter()
            .position(|w| {
                *w == "read" || (w.ends_with('s') && w.starts_with(|c: char| c.is_ascii_digit()))
            })
            .unwrap_or_else(|| panic!("{line}"));
        words[age + 1].to_string()
    };
    assert_eq!(fns(&row("us-east-2")), "–", "{out}");
    assert_eq!(fns(&row("us-east-1")), "1", "{out}");
}

/// At the smallest screen the load view has no room for an alias's bars: the alias is said in
/// one line (its weights against what ran), never a block cut off by the pane's edge.
#[tokio::test]
async fn the_load_view_at_60x15_says_an_alias_in_one_line() {
    let mut state = incident().await;
    let (r, f) = state.rows[state.selected];
    state.regions[r].functions[f].info.aliases = vec![lops::provider::AliasInfo {
        name: "live".into(),
        function_version: "1".into(),
        additional_weights: vec![("2".into(), 0.1)],
        ..Default::default()
    }];
    key(&mut state, '3');
    let out = screen(&mut state, &MONO, 60, 15);
    let line = out
        .lines()
        .find(|l| l.contains("alias live"))
        .unwrap_or_else(|| panic!("{out}"));
    assert!(line.contains("alias live: v1 90%→"), "{out}");
    assert!(!out.contains("configured vs observed"), "{out}");
}

/// More regions than the regions view has lines for: as many as fit, and the rest counted
/// with where each is said, never dropped without a word.
#[tokio::test]
async fn the_regions_view_counts_the_regions_it_has_no_room_for() {
    let names: Vec<String> = (1..=12).map(|i| format!("p{i:02}")).collect();
    let scopes = names
        .iter()
        .map(|p| lops::provider::Scope::new(p.as_str(), "us-east-1", Access::default()))
        .collect();
    let takes: Vec<Vec<(&str, f64)>> = names.iter().map(|_| vec![("api", 1.0)]).collect();
    let mut state = fleet_taking(scopes, &takes);
    key(&mut state, '2');
    let out = screen(&mut state, &MONO, 60, 15);
    let shown = out.lines().filter(|l| l.starts_with("│●")).count();
    assert!(shown >= 6, "{out}");
    let hidden = 12 - shown;
    assert!(
        out.contains(&format!(
            "… {hidden} more regions: a taller screen shows them"
        )),
        "{out}"
    );
    let tall = screen(&mut state, &MONO, 60, 30);
    assert!(!tall.contains("more region"), "{tall}");
}

/// Region `region`'s inventory read failing with `error`, after the one `fleet_taking` made.
fn fail_inventory(state: &mut State, region: usize, error: &str) {
    update(
        state,
        Msg::Inventory {
            region,
            seq: 2,
            at: start(),
            result: Err(lops::provider::ProviderError::Service(error.into())),
        },
    );
}

/// The pane keeps its last lines: the older ones it let go are said in its title, never cut
/// in silence.
#[tokio::test]
async fn the_log_pane_says_when_older_lines_were_left_out() {
    let mut state = incident().await;
    let keep = lops::state::logpane::KEEP as i64;
    let events: Vec<(i64, String, String)> = (0..keep + 5)
        .map(|i| (i - keep - 5, format!("e{i}"), format!("line {i}")))
        .collect();
    let events: Vec<(i64, &str, &str)> = (events.iter())
        .map(|(s, id, m)| (*s, id.as_str(), m.as_str()))
        .collect();
    log_lines_in_pane(&mut state, &events);
    let out = screen(&mut state, &MONO, 120, 30);
    assert!(
        out.contains("5 older left out (lops logs has them)"),
        "{out}"
    );
}

/// Quitting while a change is being written or a backup runs (asked first) leaves a line each
/// once the terminal is back: where to see whether the change landed, how to finish the backup.
/// The demo's are simulated: nothing is said of them.
#[tokio::test]
async fn quitting_mid_change_or_backup_says_what_was_left_and_where_to_look() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    assert!(lops::tui::unfinished(&state, false).is_empty());
    state.writing = 1;
    state.backup = Some(lops::state::actions::BackupView {
        label: "orders-api".into(),
        done: 1,
        total: 3,
        of_marks: false,
    });
    let said = lops::tui::unfinished(&state, false).join("\n");
    assert!(
        said.contains("quit while 1 change(s) were being written")
            && said.contains("`lops audit`")
            && said.contains("the backup (orders-api) stopped at 1 of 3")
            && said.contains("`lops backup run` again completes it"),
        "{said}"
    );
    assert!(lops::tui::unfinished(&state, true).is_empty());
}

/// Two regions failing the same reads since different moments say the same thing but for
/// their age: a footer too narrow for each whole groups them on one entry, never leaving one
/// out as `+1` while the grouped form fits.
#[tokio::test]
async fn regions_failing_alike_group_in_the_footer_whatever_their_ages() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    load(&mut state, &clock, 0, 1).await;
    let failing = [1usize, 2];
    // The second read its metrics and alarms once more at 40 s: its data is younger.
    let at = start() + TimeDelta::seconds(40);
    update(&mut state, Msg::Tick(at));
    update(
        &mut state,
        Msg::Metrics {
            region: failing[1],
            seq: 2,
            at,
            result: Ok(lops::provider::MetricsSnapshot {
                window_end: Some(at),
                ..Default::default()
            }),
        },
    );
    update(
        &mut state,
        Msg::Alarms {
            region: failing[1],
            seq: 2,
            at,
            result: Ok(Vec::new()),
        },
    );
    for (n, region) in failing.iter().enumerate() {
        let at = start() + TimeDelta::seconds(20 + 30 * n as i64);
        update(&mut state, Msg::Tick(at));
        let down = lops::provider::ProviderError::Service("HTTP 503".into());
        update(
            &mut state,
            Msg::Metrics {
                region: *region,
                seq: 3,
                at,
                result: Err(down.clone()),
            },
        );
        update(
            &mut state,
            Msg::Alarms {
                region: *region,
                seq: 3,
                at,
                result: Err(down),
            },
        );
    }
    update(&mut state, Msg::Tick(start() + TimeDelta::seconds(70)));
    let names: Vec<String> = failing
        .iter()
        .map(|i| state.regions[*i].scope.to_string())
        .collect();
    let out = screen(&mut state, &MONO, 100, 24);
    let footer = out.lines().rev().nth(1).unwrap_or_default().to_string();
    assert!(
        footer.contains(&format!(
            "stale (metrics,alarms): {} {}",
            names[0], names[1]
        )),
        "{footer}"
    );
    assert!(!footer.contains("+1"), "{footer}");
}

/// At 80 columns a function's long name gives way in the weight prompt: the alias, its scope
/// and its weights now stay whole (the middle of the whole prompt was cut, and with it the
/// alias and the scope the value is judged by).
#[tokio::test]
async fn the_weight_prompt_at_80_columns_keeps_the_alias_and_scope_of_a_long_name() {
    let clock = SimClock::fixed(start());
    let mut state = new_state(&clock);
    let at = start();
    update(&mut state, Msg::Tick(at));
    let mut result = demo_regions(7, &clock, Access::default())[0]
        .inventory()
        .await;
    let long = "payments-reconciliation-nightly-batch-processor-eu-central";
    let alias = {
        let inventory = result.as_mut().expect("the demo inventory");
        let f = inventory
            .functions
            .iter_mut()
            .find(|f| f.aliases.iter().any(|a| !a.additional_weights.is_empty()))
            .expect("the demo has a canary");
        f.name = long.to_string();
        f.aliases[0].name.clone()
    };
    update(
        &mut state,
        Msg::Inventory {
            region: 0,
            seq: 1,
            at,
            result,
        },
    );
    key(&mut state, '/');
    for c in long.chars() {
        key(&mut state, c);
    }
    update(
        &mut state,
        Msg::Key(KeyEvent::new(KeyCode::Enter, KeyModifiers::NONE)),
    );
    key(&mut state, 't');
    let out = screen(&mut state, &MONO, 80, 24);
    let prompt = out
        .lines()
        .find(|l| l.contains("weight of v"))
        .unwrap_or_default();
    let scope = state.regions[0].scope.to_string();
    assert!(
        prompt.contains(&format!(":{alias} @ {scope} v")) && prompt.starts_with(" paymen"),
        "{out}"
    );
}
