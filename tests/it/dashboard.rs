//! The dashboard's event loop fed by the real AWS provider against moto: what it shows, and
//! that a hung region never delays the keys.

use std::sync::Arc;
use std::time::{Duration, Instant};

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use lops::config::{Access, Settings};
use lops::provider::aws::{AwsRegion, CallCounter, Clients};
use lops::provider::{RegionSource, Scope};
use lops::runtime::poller::Timing;
use lops::state::{Keymap, RegionHealth, ScreenOptions, State};
use lops::tui::event_loop;
use lops::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

use crate::support::moto;
use crate::support::proxy::{Fault, FaultProxy};
use crate::support::seed::{Seeder, canary, sdk_config};

const MONO: Theme = Theme {
    color: false,
    ascii: false,
};

fn timing() -> Timing {
    Timing {
        metrics: Duration::from_secs(1),
        inventory: Duration::from_secs(60),
        alarms: Duration::from_secs(5),
        deadline: Duration::from_secs(30),
        min_gap: Duration::from_millis(200),
    }
}

async fn regions(endpoint: &str, names: &[&str]) -> Vec<Arc<AwsRegion>> {
    let settings = Settings::default();
    let counter = CallCounter::default();
    let mut out = Vec::new();
    for name in names {
        let scope = Scope::new("default", *name, Access::default());
        let config = sdk_config(endpoint, name).await;
        out.push(Arc::new(AwsRegion::new(Clients::from_sdk_config(
            scope, &config, &settings, &counter,
        ))));
    }
    out
}

fn press(keys: &UnboundedSender<std::io::Result<Event>>, code: KeyCode) {
    keys.unbounded_send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))))
        .expect("send key");
}

/// A dashboard over `sources` (120x30) with an audit log of its own, filtered to `function`:
/// the keys' sender, the loop (it ends with the popup as it was when the keys are dropped),
/// and the directory the log is in (kept while the loop runs).
type Dashboard = (
    UnboundedSender<std::io::Result<Event>>,
    tokio::task::JoinHandle<std::io::Result<State>>,
    tempfile::TempDir,
);

fn dashboard_filtered(sources: Vec<Arc<AwsRegion>>, function: &str) -> Dashboard {
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, events) = unbounded();
    let state = new_state(&sources);
    let run = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).expect("terminal");
        event_loop(
            &mut terminal,
            events,
            sources,
            state,
            &MONO,
            timing(),
            Some(audit),
        )
        .await
    });
    press(&keys, KeyCode::Char('/'));
    for c in function.chars() {
        press(&keys, KeyCode::Char(c));
    }
    press(&keys, KeyCode::Enter);
    (keys, run, dir)
}

/// Opens the load view, stops the dashboard and returns its state.
async fn stopped_on_the_load_view(
    keys: UnboundedSender<std::io::Result<Event>>,
    run: tokio::task::JoinHandle<std::io::Result<State>>,
) -> State {
    press(&keys, KeyCode::Char('3'));
    tokio::time::sleep(Duration::from_millis(300)).await;
    drop(keys);
    run.await.expect("join").expect("loop")
}

/// The dashboard's entry of `name` in its first region.
fn entry<'a>(state: &'a State, name: &str) -> &'a lops::state::FunctionEntry {
    state.regions[0]
        .functions
        .iter()
        .find(|f| f.info.name == name)
        .expect("the function is listed")
}

/// `state` drawn at `width` x `height`, its cells' text in order (no line breaks).
fn drawn(state: &mut State, width: u16, height: u16) -> String {
    let mut terminal = Terminal::new(TestBackend::new(width, height)).expect("terminal");
    state.size = (width, height);
    terminal.draw(|f| render(state, &MONO, f)).expect("draw");
    terminal
        .backend()
        .buffer()
        .content()
        .iter()
        .map(|c| c.symbol())
        .collect()
}

fn new_state(sources: &[Arc<AwsRegion>]) -> State {
    let scopes = sources.iter().map(|s| s.scope().clone()).collect();
    State::new(
        scopes,
        Keymap::default(),
        ScreenOptions {
            metrics_secs: 1,
            ..Default::default()
        },
        chrono::Utc::now(),
    )
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn dashboard_on_aws_shows_the_seeded_functions_and_numbers() {
    let region = "us-east-2";
    let prefix = moto::unique("tui");
    let fleet = Seeder::new(moto::url(), region)
        .await
        .fleet(&prefix, 4)
        .await;
    let sources = regions(moto::url(), &[region]).await;
    let (keys, events) = unbounded();
    let state = new_state(&sources);
    let run = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(200, 50)).expect("terminal");
        event_loop(&mut terminal, events, sources, state, &MONO, timing(), None).await
    });
    // 60-minute window: the seeded 45 minutes are all inside it.
    press(&keys, KeyCode::Char('w'));
    press(&keys, KeyCode::Char('w'));
    // Filter to this test's functions, as an engineer would.
    press(&keys, KeyCode::Char('/'));
    for c in prefix.chars() {
        press(&keys, KeyCode::Char(c));
    }
    press(&keys, KeyCode::Enter);
    // Inventory, then a metrics fetch for the visible rows, then one more tick for good measure.
    tokio::time::sleep(Duration::from_secs(4)).await;
    press(&keys, KeyCode::Char('q'));
    let mut state = run.await.expect("join").expect("loop");

    assert_eq!(state.rows.len(), fleet.len());
    let screen = drawn(&mut state, 200, 50);
    for f in &fleet {
        assert!(screen.contains(&f.name), "{} missing", f.name);
    }
    // fn0: 10 per minute for 45 minutes, and its alarm firing, on the first row.
    let first = state
        .selected_row()
        .map(|(_, f)| f.info.name.clone())
        .unwrap_or_default();
    assert_eq!(first, fleet[0].name);
    assert!(
        screen.contains(&format!("ALARM {prefix}-errors-{}", fleet[0].name)),
        "alarm name missing"
    );
    assert!(screen.contains(" 450 "), "60m invocations of fn0 missing");
    assert!(matches!(
        state.regions[0].health(state.now, 30),
        RegionHealth::Fresh { .. }
    ));
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn hung_region_does_not_delay_the_keys() {
    let (healthy, hung) = ("eu-west-2", "ap-northeast-1");
    let prefix = moto::unique("keys");
    Seeder::new(moto::url(), healthy)
        .await
        .fleet(&prefix, 2)
        .await;
    let proxy = FaultProxy::start(moto::url());
    proxy.fail_region(hung, Fault::Hang);
    let sources = regions(&proxy.url, &[healthy, hung]).await;
    let (keys, events) = unbounded();
    let state = new_state(&sources);
    let run = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
        event_loop(&mut terminal, events, sources, state, &MONO, timing(), None).await
    });
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The hung region's first calls are still waiting (its timeout is 10 s).
    assert!(proxy.calls(hung, "lambda", "ListFunctions") >= 1);
    for code in [
        KeyCode::Char('2'),
        KeyCode::Char('?'),
        KeyCode::Esc,
        KeyCode::Char('1'),
        KeyCode::Char('j'),
    ] {
        press(&keys, code);
    }
    let sent = Instant::now();
    press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    let took = sent.elapsed();
    assert!(
        took < Duration::from_millis(100),
        "quit took {took:?} while a region hangs"
    );
    assert_eq!(
        state.regions[1].health(state.now, 30),
        RegionHealth::Loading
    );
    assert!(
        state.regions[0].inventory_loaded,
        "the healthy region loaded meanwhile"
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn plan_started_from_the_dashboard_moves_the_alias_and_is_audited() {
    let region = "ap-southeast-4";
    let (seeder, f) = canary(region, "tuiplan").await;
    let sources = regions(moto::url(), &[region]).await;
    let (keys, run, dir) = dashboard_filtered(sources, &f);
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    // Wait for the inventory so the row (and its alias) is there.
    tokio::time::sleep(Duration::from_secs(2)).await;
    press(&keys, KeyCode::Char('C'));
    for _ in 0.."Canary10Percent5Minutes".len() {
        press(&keys, KeyCode::Backspace);
    }
    for c in "AllAtOnce".chars() {
        press(&keys, KeyCode::Char(c));
    }
    press(&keys, KeyCode::Enter);
    // Nothing is written before the preview is confirmed.
    tokio::time::sleep(Duration::from_secs(1)).await;
    let a = seeder
        .lambda
        .get_alias()
        .function_name(&f)
        .name("live")
        .send()
        .await
        .expect("alias");
    assert_eq!(
        a.function_version.as_deref(),
        Some("1"),
        "changed before the yes"
    );
    press(&keys, KeyCode::Char('y'));
    let deadline = Instant::now() + Duration::from_secs(15);
    loop {
        let a = seeder
            .lambda
            .get_alias()
            .function_name(&f)
            .name("live")
            .send()
            .await
            .expect("alias");
        if a.function_version.as_deref() == Some("2") {
            break;
        }
        assert!(Instant::now() < deadline, "the plan did not promote v2");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    press(&keys, KeyCode::Esc);
    press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    assert!(
        state.rollouts.is_empty(),
        "a finished plan leaves the plan bar"
    );
    let (records, _) = audit.read().expect("audit");
    assert_eq!(
        records.last().map(|r| r.action.as_str()),
        Some("traffic.promote")
    );
}

/// A lever on an alias a rollout drives is refused in the dashboard too (one rule, in `ops`):
/// the promote would leave the rollout's guard unable to roll back.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_lever_on_an_alias_the_dashboards_rollout_drives_is_refused() {
    let region = "ap-southeast-4";
    let (seeder, f) = canary(region, "tuilever").await;
    let sources = regions(moto::url(), &[region]).await;
    let (keys, run, _dir) = dashboard_filtered(sources, &f);
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The default preset: 10 % for five minutes, longer than the test.
    press(&keys, KeyCode::Char('C'));
    press(&keys, KeyCode::Enter);
    tokio::time::sleep(Duration::from_secs(1)).await;
    press(&keys, KeyCode::Char('y'));
    seeder.wait_for_routing(&f, ("1", Some(0.1)), 20).await;
    press(&keys, KeyCode::Char('P'));
    tokio::time::sleep(Duration::from_secs(1)).await;
    press(&keys, KeyCode::Char('y'));
    tokio::time::sleep(Duration::from_secs(2)).await;
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.1)]),
        "the promote was written under the rollout"
    );
    // What the screen said (the loop's end leaves the rollout interrupted, in the test's own
    // directory).
    drop(keys);
    let mut state = run.await.expect("join").expect("loop");
    let screen = drawn(&mut state, 120, 30);
    let screen = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    // Said when `P` is pressed, with the way out (the ops layer refuses it too).
    assert!(
        screen.contains("is moved by its rollout") && screen.contains("A aborts it"),
        "{screen}"
    );
}

/// `L` with no version recorded serving the alias in full refuses as `lops pin` does (one
/// rule, in `ops`), rather than "pinning" to whatever its main version is now.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn pin_with_no_known_good_version_is_refused_in_the_dashboard_too() {
    let region = "ap-southeast-4";
    let (seeder, f) = canary(region, "tuipin").await;
    seeder.set_extra_weight(&f, "2", 0.1).await;
    let sources = regions(moto::url(), &[region]).await;
    let (keys, run, _dir) = dashboard_filtered(sources, &f);
    tokio::time::sleep(Duration::from_secs(2)).await;
    press(&keys, KeyCode::Char('L'));
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(keys);
    let mut state = run.await.expect("join").expect("loop");
    let screen = drawn(&mut state, 120, 30);
    let screen = screen.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(screen.contains("no known good version"), "{screen}");
    // Split 90/10: a rollback to v1 is offered, in the dashboard's key too.
    assert!(screen.contains("a rollback (`B`,"), "{screen}");
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.1)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn steady_state_refresh_costs_no_lambda_calls_and_two_metrics_calls_per_tick() {
    let region = "me-central-1";
    let prefix = moto::unique("tick");
    Seeder::new(moto::url(), region)
        .await
        .fleet(&prefix, 3)
        .await;
    let proxy = FaultProxy::start(moto::url());
    let sources = regions(&proxy.url, &[region]).await;
    let (keys, events) = unbounded();
    let state = new_state(&sources);
    let run = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
        event_loop(&mut terminal, events, sources, state, &MONO, timing(), None).await
    });
    tokio::time::sleep(Duration::from_secs(5)).await;
    press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    let ticks = state.regions[0].metrics_seq;
    assert!(
        ticks >= 3,
        "only {ticks} metrics refreshes in 5 s at a 1 s tick"
    );
    // Inventory once at start; every later refresh is CloudWatch only.
    assert_eq!(
        proxy.calls(region, "lambda", "ListFunctions"),
        1,
        "{:#?}",
        proxy.all_calls()
    );
    // One inventory: the list (every version in it), account settings, GetFunction per
    // function, ListAliases for the one function with a published version. Provisioned
    // concurrency is read when a detail view opens, not here.
    let lambda_calls = proxy.service_calls(region, "lambda");
    assert_eq!(
        lambda_calls,
        1 + 1 + 3 + 1,
        "one inventory: list, account settings, GetFunction per function, ListAliases once: {:#?}",
        proxy.all_calls()
    );
    assert_eq!(proxy.calls(region, "lambda", "ListVersionsByFunction"), 0);
    assert_eq!(proxy.calls(region, "lambda", "ListAliases"), 1);
    // 3 functions × 6 and 4 region totals fit one call per tick, the aliases' split one of its
    // own; the percentile batch is tried once, rejected by moto, and not asked again. The first
    // tick may come before the functions are listed (the region's totals alone: one call), and
    // a tick's two calls may still be in flight when q is pressed (sent, their answers never
    // taken in).
    let calls = proxy.calls(region, "monitoring", "GetMetricData");
    assert!(
        (2 * ticks..=2 * ticks + 3).contains(&calls),
        "{calls} GetMetricData for {ticks} ticks: {:#?}",
        proxy.all_calls()
    );
}

/// The pollers' side of the fault matrix: one region's GetMetricData answers 503 or throttles; that
/// region is marked within a refresh and keeps its inventory, the other stays fresh, retries stay
/// under the cap, and keys answer at once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn failing_or_throttled_metrics_mark_the_region_and_leave_the_other_fresh() {
    let (healthy, failing) = ("ap-southeast-6", "ap-east-2");
    let prefix = moto::unique("pollfault");
    for region in [healthy, failing] {
        Seeder::new(moto::url(), region)
            .await
            .fleet(&prefix, 2)
            .await;
    }
    for fault in [Fault::Status(503), Fault::Throttle] {
        let proxy = FaultProxy::start(moto::url());
        proxy.add(crate::support::proxy::Rule {
            region: failing.into(),
            service: Some("monitoring".into()),
            operation: Some("GetMetricData".into()),
            fault,
            remaining: None,
        });
        let sources = regions(&proxy.url, &[healthy, failing]).await;
        let (keys, events) = unbounded();
        let state = new_state(&sources);
        let run = tokio::spawn(async move {
            let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
            event_loop(&mut terminal, events, sources, state, &MONO, timing(), None).await
        });
        // This test's functions on screen, so that both regions' metrics are wanted.
        press(&keys, KeyCode::Char('/'));
        for c in prefix.chars() {
            press(&keys, KeyCode::Char(c));
        }
        press(&keys, KeyCode::Enter);
        // Until the failing region's metrics have failed a few times (one try per read, a
        // throttled batch split in halves, backing off between reads).
        let deadline = Instant::now() + Duration::from_secs(40);
        while proxy.calls(failing, "monitoring", "GetMetricData") < 4
            || proxy.calls(healthy, "monitoring", "GetMetricData") < 1
        {
            assert!(
                Instant::now() < deadline,
                "{fault:?}: metrics never asked for"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let asked = Instant::now();
        tokio::time::sleep(Duration::from_millis(1500)).await;
        let sent = Instant::now();
        press(&keys, KeyCode::Char('q'));
        let state = run.await.expect("join").expect("loop");
        assert!(
            sent.elapsed() < Duration::from_millis(100),
            "{fault:?}: quit took {:?}",
            sent.elapsed()
        );
        assert!(
            matches!(
                state.regions[0].health(state.now, 30),
                RegionHealth::Fresh { .. }
            ),
            "{fault:?}: the healthy region is not fresh"
        );
        let marked = state.regions[1].health(state.now, 30);
        assert!(
            matches!(
                marked,
                RegionHealth::Stale { error: Some(_), .. } | RegionHealth::Unreachable { .. }
            ),
            "{fault:?}: the failing region is {marked:?}"
        );
        assert!(
            state.regions[1].inventory_loaded,
            "{fault:?}: the failing region lost its inventory"
        );
        // At most max_attempts (3) tries per metrics read, one read per second or slower
        // (with backoff while failing), in the ~2 s since the first two tries.
        let tries = proxy.calls(failing, "monitoring", "GetMetricData");
        let secs = asked.elapsed().as_secs() + 1;
        assert!(
            tries <= 4 + 3 * secs,
            "{fault:?}: {tries} GetMetricData tries"
        );
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_cloudwatch_outage_keeps_the_rows_and_marks_them_without_colour() {
    let (healthy, failing) = ("ap-southeast-6", "ap-east-2");
    let prefix = moto::unique("cwout");
    for region in [healthy, failing] {
        Seeder::new(moto::url(), region)
            .await
            .fleet(&prefix, 2)
            .await;
    }
    let proxy = FaultProxy::start(moto::url());
    // All of CloudWatch (metrics and alarms) answers 503 in one region; Lambda answers.
    proxy.add(crate::support::proxy::Rule {
        region: failing.into(),
        service: Some("monitoring".into()),
        operation: None,
        fault: Fault::Status(503),
        remaining: None,
    });
    let sources = regions(&proxy.url, &[healthy, failing]).await;
    let screen = crate::support::tui::Screen::new(100, 24);
    let state = crate::support::tui::state(&sources);
    let (keys, run) = crate::support::tui::start_on(&screen, sources, state, None);
    crate::support::tui::filter(&keys, &prefix);
    let shown = screen
        .wait_until(30, "both regions' rows, the failing one marked", |t| {
            t.matches(&prefix[..5]).count() >= 4 && t.contains("(metrics,alarms)")
        })
        .await;
    for line in shown.lines().filter(|l| l.contains(&prefix[..5])) {
        if line.contains(failing) {
            assert!(
                line.contains('▲'),
                "a row of the failing region is not marked: {line}"
            );
        } else if line.contains(healthy) {
            assert!(!line.contains('▲'), "a healthy row is marked: {line}");
        }
    }
    press(&keys, KeyCode::Char('2'));
    // The regions view names the failing call (the whole message, setting included, where
    // the screen is wide enough).
    screen.wait_for(5, "metrics: GetMetricData H").await;
    press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_endpoint_that_needs_small_batches_gets_the_screen_in_groups_that_all_land() {
    let region = "ap-east-2";
    let prefix = moto::unique("groups");
    let fleet = Seeder::new(moto::url(), region)
        .await
        .fleet(&prefix, 4)
        .await;
    let proxy = FaultProxy::start(moto::url());
    let sources = regions(&proxy.url, &[region]).await;
    // As if a batch of 14 queries was the largest that answered in time: two functions a read.
    sources[0]
        .clients
        .metric_batch
        .store(14, std::sync::atomic::Ordering::Relaxed);
    let screen = crate::support::tui::Screen::new(120, 30);
    let state = crate::support::tui::state(&sources);
    let (keys, run) = crate::support::tui::start_on(&screen, sources, state, None);
    crate::support::tui::filter(&keys, &prefix);
    // The 60-minute window: every seeded minute counts.
    press(&keys, KeyCode::Char('w'));
    press(&keys, KeyCode::Char('w'));
    let expected: Vec<(String, String)> = fleet
        .iter()
        .map(|f| {
            (
                f.name.clone(),
                lops::format::count(f.invocations_per_minute * f.seeded_minutes as f64),
            )
        })
        .collect();
    screen
        .wait_until(40, "every function's numbers", |t| {
            expected.iter().all(|(name, inv)| {
                t.lines().any(|l| {
                    l.contains(&name[..name.len().min(14)]) && l.contains(&format!(" {inv} "))
                })
            })
        })
        .await;
    press(&keys, KeyCode::Char('q'));
    let state = run.await.expect("join").expect("loop");
    // More than one metrics message per refresh: the groups landed one by one.
    assert!(
        state.regions[0].metrics_seq >= 2,
        "{}",
        state.regions[0].metrics_seq
    );
}

/// The dashboard over two profiles of one account (moto has one) in `region`: `default`
/// (change tier) and `ops` with `other`'s access. Filters to `function`, presses `keys` on the
/// default profile's row, and answers the screen as it was left (flattened to one line).
async fn two_profiles_pressing(
    region: &str,
    function: &str,
    other: Access,
    keys_pressed: &[KeyCode],
) -> String {
    let settings = Settings::default();
    let counter = CallCounter::default();
    let config = sdk_config(moto::url(), region).await;
    let sources: Vec<Arc<AwsRegion>> = [("default", Access::default()), ("ops", other)]
        .into_iter()
        .map(|(profile, access)| {
            let scope = Scope::new(profile, region, access);
            let clients = Clients::from_sdk_config(scope, &config, &settings, &counter);
            Arc::new(AwsRegion::new(clients))
        })
        .collect();
    let (keys, run, _dir) = dashboard_filtered(sources, function);
    tokio::time::sleep(Duration::from_secs(2)).await;
    for key in keys_pressed {
        press(&keys, *key);
    }
    tokio::time::sleep(Duration::from_secs(2)).await;
    // The keys end (as a closed terminal's do): the loop stops with the popup as it was.
    drop(keys);
    let mut state = run.await.expect("join").expect("loop");
    // The row acted on is the default profile's, whose own tier allows the change.
    let profile = state.selected_row().map(|(r, _)| r.scope.profile.clone());
    assert_eq!(profile.as_deref(), Some("default"));
    drawn(&mut state, 120, 30)
        .split_whitespace()
        .collect::<Vec<_>>()
        .join(" ")
}

/// Two profiles of one account show the same function on two rows. A change through one row
/// keeps the other profile's rules, as `--profile a,b` does in the CLI: a read-only profile
/// refuses it, a production one asks for the typed name.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_row_of_one_profile_keeps_the_other_profiles_rules_for_the_same_function() {
    use lops::ops::Tier;
    let region = "ap-northeast-3";
    let seeder = Seeder::new(moto::url(), region).await;
    let f = format!("{}-api", moto::unique("tworows"));
    seeder.create_function(&f).await;
    let cases = [
        (
            Access::new(Tier::Read, false),
            "refused under another profile",
        ),
        (Access::new(Tier::Change, true), "and press enter"),
    ];
    let keys = [KeyCode::Char('N'), KeyCode::Char('3'), KeyCode::Enter];
    for (other, expected) in cases {
        // Refused at the key, before its input opens (as the ops layer refuses it after).
        let pressed = match other.tier {
            Tier::Read => &keys[..1],
            _ => &keys[..],
        };
        let screen = two_profiles_pressing(region, &f, other, pressed).await;
        assert!(screen.contains(expected), "{expected}: {screen}");
    }
    assert_eq!(seeder.reserved(&f).await, None, "nothing was changed");
}

/// A rollout started from one profile's row keeps the other profiles' rules for the same
/// function too: refused where one may only look, the typed name where one is production —
/// and starts through the production one (its credentials, its audit), as a row's change does.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_rollout_from_one_profiles_row_keeps_the_other_profiles_rules() {
    use lops::ops::Tier;
    let region = "ap-northeast-3";
    let (seeder, f) = crate::support::seed::canary(region, "tworollout").await;
    let through = format!("@ ops/{region}");
    let cases = [
        (
            Access::new(Tier::Read, false),
            vec!["refused under another profile"],
        ),
        (
            Access::new(Tier::Change, true),
            vec!["and press enter", through.as_str()],
        ),
    ];
    let keys = [KeyCode::Char('C'), KeyCode::Enter];
    for (other, expected) in cases {
        let pressed = match other.tier {
            Tier::Read => &keys[..1],
            _ => &keys[..],
        };
        let screen = two_profiles_pressing(region, &f, other, pressed).await;
        for expected in expected {
            assert!(screen.contains(expected), "{expected}: {screen}");
        }
    }
    // Nothing was started: the alias is as seeded.
    let routing = seeder.routing(&f).await;
    assert_eq!(routing.0, "1", "{routing:?}");
}

/// FilterLogEvents throttled (as in an incident) while Live Tail answers: the log pane opens
/// its Live Tail session all the same, as `lops logs --follow` does. It waited for a read that
/// never answered, and showed nothing live.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_log_read_does_not_keep_the_log_pane_from_live_tail() {
    let region = "sa-east-1";
    let prefix = moto::unique("paneread");
    let fleet = Seeder::new(moto::url(), region)
        .await
        .fleet(&prefix, 1)
        .await;
    let name = fleet[0].name.clone();
    crate::logs::put_logs(
        region,
        &name,
        "2026/11/29/[$LATEST]a",
        &[(0, "START".into())],
    )
    .await;
    let proxy = FaultProxy::start(moto::url());
    proxy.add(crate::support::proxy::Rule {
        region: region.into(),
        service: Some("logs".into()),
        operation: Some("FilterLogEvents".into()),
        fault: Fault::Throttle,
        remaining: None,
    });
    let sources = regions(&proxy.url, &[region]).await;
    let (keys, events) = unbounded();
    let state = new_state(&sources);
    let run = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(80, 24)).expect("terminal");
        event_loop(&mut terminal, events, sources, state, &MONO, timing(), None).await
    });
    press(&keys, KeyCode::Char('/'));
    for c in name.chars() {
        press(&keys, KeyCode::Char(c));
    }
    press(&keys, KeyCode::Enter);
    let deadline = Instant::now() + Duration::from_secs(20);
    while !run.is_finished() && Instant::now() < deadline {
        // The row is there once the inventory answered: its log pane, then Live Tail.
        press(&keys, KeyCode::Char('l'));
        if proxy.calls(region, "logs", "StartLiveTail") > 0 {
            break;
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let tailed = proxy.calls(region, "logs", "StartLiveTail");
    let read = proxy.calls(region, "logs", "FilterLogEvents");
    press(&keys, KeyCode::Char('q'));
    let mut state = run.await.expect("join").expect("loop");
    assert!(
        tailed > 0,
        "no Live Tail while the read fails: {:#?}",
        proxy.all_calls()
    );
    assert!(read > 0, "{:#?}", proxy.all_calls());
    // The failing read is still said.
    let screen = drawn(&mut state, 80, 24);
    assert!(screen.contains("throttled"), "{screen}");
}

/// Only the GetMetricData request for an alias's split fails (503): the function's numbers
/// stand on screen and the load view says the split is not read. The split rode in the
/// numbers' request, and its failure left every number of the function `–`.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_split_request_leaves_the_functions_numbers_on_screen() {
    use aws_sdk_cloudwatch::types::StandardUnit;
    let region = "ap-southeast-4";
    let (seeder, name) = canary(region, "splitgone").await;
    seeder
        .put_metric(
            &[("FunctionName", name.as_str())],
            "Invocations",
            10.0,
            StandardUnit::Count,
            3..=7,
        )
        .await;
    // What ran through the alias: all on v1 (its own total the same).
    let resource = format!("{name}:live");
    for dims in [
        vec![
            ("FunctionName", name.as_str()),
            ("Resource", resource.as_str()),
        ],
        vec![
            ("FunctionName", name.as_str()),
            ("Resource", resource.as_str()),
            ("ExecutedVersion", "1"),
        ],
    ] {
        seeder
            .put_metric(&dims, "Invocations", 10.0, StandardUnit::Count, 3..=7)
            .await;
    }
    let proxy = FaultProxy::start(moto::url());
    let sources = regions(&proxy.url, &[region]).await;
    let (keys, run, _dir) = dashboard_filtered(sources, &name);
    let calls = || proxy.calls(region, "monitoring", "GetMetricData");
    let deadline = Instant::now() + Duration::from_secs(20);
    // A whole read first (the numbers, the split, the percentiles), then the split's request
    // fails in the reads after it.
    while calls() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.fail_when(
        region,
        "GetMetricData",
        "ExecutedVersion",
        Fault::Status(503),
    );
    let failing = calls();
    while calls() < failing + 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut state = stopped_on_the_load_view(keys, run).await;
    let f = entry(&state, &name);
    let m = f.metrics.as_ref().expect("its numbers were read");
    assert!(m.split_unread, "the split is said unread");
    // The split last read stays, said as such.
    assert!(!m.alias_versions.is_empty(), "the last split is kept");
    assert_eq!(lops::provider::sum_last(&m.invocations, 15), 50.0);
    let screen = drawn(&mut state, 120, 30);
    assert!(
        screen.contains("split not read, shown as last read"),
        "{screen}"
    );
    // Shown: what v1 ran, not `–`.
    assert!(screen.contains("seen   100%"), "{screen}");
    // The region's metrics read names what it left out, as `lops status` does; its rows are
    // not in doubt for it (the numbers were just read).
    let said = state.regions[0].metrics_partial.clone().unwrap_or_default();
    assert!(said.contains("the alias split of 1 of 1"), "{said}");
    let health = state.regions[0].health(state.now, 30);
    assert!(!state.regions[0].rows_in_doubt(&health), "{health:?}");
    state.view = lops::state::View::Regions;
    let regions_view = drawn(&mut state, 120, 30);
    assert!(
        regions_view.contains("alias split of 1 of 1"),
        "{regions_view}"
    );
}

/// Only the request for the numbers fails after a whole read: the rows keep their last
/// numbers, in doubt, and the split its own request read is fresh in the load view (not said
/// unread; what v2 ran since is seen). The split was lost with the numbers.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_failing_numbers_request_still_shows_the_split_that_answered() {
    let region = "ap-southeast-4";
    let (seeder, name) = canary(region, "numbersgone").await;
    seeder.version_ran(&name, "1", 30.0, 0.0).await;
    let proxy = FaultProxy::start(moto::url());
    let sources = regions(&proxy.url, &[region]).await;
    let (keys, run, _dir) = dashboard_filtered(sources, &name);
    let calls = || proxy.calls(region, "monitoring", "GetMetricData");
    let deadline = Instant::now() + Duration::from_secs(20);
    // A whole read first, then the numbers' request fails and v2 runs through the alias.
    while calls() < 3 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    proxy.fail_when(region, "GetMetricData", "Throttles", Fault::Status(503));
    seeder.version_ran(&name, "2", 10.0, 0.0).await;
    let failing = calls();
    while calls() < failing + 6 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    let mut state = stopped_on_the_load_view(keys, run).await;
    let f = entry(&state, &name);
    let m = f.metrics.as_ref().expect("its numbers were read once");
    assert!(!m.split_unread, "the split was read");
    let v2 = m
        .alias_versions
        .iter()
        .find(|x| x.version == "2")
        .map(|x| lops::provider::sum_last(&x.invocations, 15));
    assert_eq!(v2, Some(10.0), "the split read after the numbers failed");
    let health = state.regions[0].health(state.now, 30);
    assert!(state.regions[0].rows_in_doubt(&health), "{health:?}");
    let screen = drawn(&mut state, 120, 30);
    assert!(!screen.contains("split not read"), "{screen}");
    assert!(screen.contains("seen    25%"), "{screen}");
}

/// The request for the numbers fails from the first read while the split's answers: the load
/// view shows the split read (the rows' numbers `–`), as `lops status` keeps it. It was
/// dropped until a number had been read once.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_split_read_before_any_number_is_shown_in_the_load_view() {
    let region = "ap-southeast-4";
    let (seeder, name) = canary(region, "splitfirst").await;
    seeder.version_ran(&name, "1", 30.0, 0.0).await;
    seeder.version_ran(&name, "2", 10.0, 0.0).await;
    let proxy = FaultProxy::start(moto::url());
    proxy.fail_when(region, "GetMetricData", "Throttles", Fault::Status(503));
    let sources = regions(&proxy.url, &[region]).await;
    let (keys, run, _dir) = dashboard_filtered(sources, &name);
    let calls = || proxy.calls(region, "monitoring", "GetMetricData");
    let deadline = Instant::now() + Duration::from_secs(20);
    while calls() < 4 && Instant::now() < deadline {
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    tokio::time::sleep(Duration::from_millis(300)).await;
    let mut state = stopped_on_the_load_view(keys, run).await;
    let f = entry(&state, &name);
    assert!(f.metrics.is_none(), "no number was read");
    let split = f.split_read().expect("the split that answered is kept");
    let v2 = split
        .alias_versions
        .iter()
        .find(|x| x.version == "2")
        .map(|x| lops::provider::sum_last(&x.invocations, 15));
    assert_eq!(v2, Some(10.0));
    let screen = drawn(&mut state, 120, 30);
    assert!(screen.contains("seen    25%"), "{screen}");
    assert!(screen.contains("ap-southeast-4 (failing)"), "{screen}");
}

/// The dashboard's audit log cannot take a record: a confirmed plan is refused before it is
/// saved or sent, said as the audit log (it was said as a step that failed and rolled back).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_with_no_audit_log_is_refused_in_the_dashboard_before_it_starts() {
    let region = "ap-southeast-4";
    let (seeder, f) = canary(region, "tuinoaudit").await;
    let sources = regions(moto::url(), &[region]).await;
    let (keys, run, dir) = dashboard_filtered(sources, &f);
    std::fs::create_dir_all(dir.path().join("audit.jsonl"))
        .expect("a directory where the log goes");
    tokio::time::sleep(Duration::from_secs(2)).await;
    press(&keys, KeyCode::Char('C'));
    press(&keys, KeyCode::Enter);
    tokio::time::sleep(Duration::from_millis(500)).await;
    press(&keys, KeyCode::Char('y'));
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(keys);
    let mut state = run.await.expect("join").expect("loop");
    assert!(state.rollouts.is_empty(), "no rollout started");
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    let screen = drawn(&mut state, 120, 30);
    assert!(screen.contains("audit log"), "{screen}");
    assert!(!screen.contains("rolled back"), "{screen}");
}

/// The new version already failing above the guard's rate through the alias: the dashboard's
/// plan is refused at its preview, as the CLI's is (one rule, in `ops`).
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_plan_whose_guard_would_trip_at_once_is_refused_in_the_dashboard() {
    let region = "ap-southeast-4";
    let (seeder, f) = canary(region, "tuitripped").await;
    seeder.version_ran(&f, "2", 100.0, 20.0).await;
    let sources = regions(moto::url(), &[region]).await;
    let (keys, run, _dir) = dashboard_filtered(sources, &f);
    tokio::time::sleep(Duration::from_secs(2)).await;
    press(&keys, KeyCode::Char('C'));
    press(&keys, KeyCode::Enter);
    tokio::time::sleep(Duration::from_secs(2)).await;
    drop(keys);
    let mut state = run.await.expect("join").expect("loop");
    assert!(state.rollouts.is_empty(), "no rollout started");
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    let screen = drawn(&mut state, 120, 30);
    assert!(screen.contains("already failed 20%"), "{screen}");
}
