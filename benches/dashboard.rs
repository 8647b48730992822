//! Dashboard benchmarks: render time of the fleet view and memory with a large fleet.
//! Run with `cargo bench --bench dashboard`; results are recorded in docs/PERFORMANCE.md.
//! It measures and prints; it does not pass or fail on times.

use std::time::Instant;

use chrono::{TimeDelta, TimeZone, Utc};
use lops::provider::{
    FunctionInfo, FunctionMetrics, Inventory, MetricsSnapshot, Scope, TimeWindow,
};
use lops::state::{Keymap, Msg, ScreenOptions, State, update};
use lops::ui::{Theme, render};
use ratatui::Terminal;
use ratatui::backend::TestBackend;

const FUNCTIONS: usize = 10_000;
const REGIONS: [&str; 4] = ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"];

fn rss_mb() -> f64 {
    std::fs::read_to_string("/proc/self/status")
        .ok()
        .and_then(|s| {
            s.lines().find(|l| l.starts_with("VmRSS:")).and_then(|l| {
                l.split_whitespace()
                    .nth(1)
                    .and_then(|kb| kb.parse::<f64>().ok())
            })
        })
        .map(|kb| kb / 1024.0)
        .unwrap_or(f64::NAN)
}

fn metrics(seed: usize, hour: usize) -> FunctionMetrics {
    let mut m = FunctionMetrics::default();
    for i in 0..60 {
        let v = ((seed * 31 + hour * 7 + i * 13) % 997) as f64;
        m.invocations.set(i, v);
        m.errors.set(i, (v / 50.0).floor());
        m.throttles.set(i, 0.0);
        m.duration_avg.set(i, 20.0 + v / 10.0);
        m.duration_max.set(i, 40.0 + v / 5.0);
        m.concurrency_max.set(i, (v / 100.0).ceil());
    }
    m
}

fn main() {
    let before = rss_mb();
    let start = Utc
        .with_ymd_and_hms(2026, 11, 25, 0, 0, 0)
        .single()
        .unwrap_or_default();
    let scopes: Vec<Scope> = REGIONS
        .iter()
        .map(|r| Scope::new("default", *r, Default::default()))
        .collect();
    let mut state = State::new(
        scopes,
        Keymap::default(),
        ScreenOptions {
            metrics_secs: 10,
            ..Default::default()
        },
        start,
    );
    update(&mut state, Msg::Resize(200, 60));
    let per_region = FUNCTIONS / REGIONS.len();
    for (r, _) in REGIONS.iter().enumerate() {
        let functions = (0..per_region)
            .map(|i| FunctionInfo {
                name: format!("service-{r}-{i:05}"),
                state: "Active".into(),
                package_type: "Zip".into(),
                runtime: Some("python3.12".into()),
                ..Default::default()
            })
            .collect();
        let inventory = Inventory {
            functions,
            account_concurrency_limit: Some(1000),
            ..Default::default()
        };
        update(
            &mut state,
            Msg::Inventory {
                region: r,
                seq: 1,
                at: start,
                result: Ok(inventory),
            },
        );
    }
    // 24 hours of per-minute points: one hour-long snapshot per hour, as a day of polling leaves.
    let loading = Instant::now();
    for hour in 0..24 {
        let end = TimeWindow::ending_at(start + TimeDelta::hours(hour as i64 + 1)).end;
        for r in 0..REGIONS.len() {
            let functions = (0..per_region)
                .map(|i| (format!("service-{r}-{i:05}"), metrics(i, hour)))
                .collect();
            let snapshot = MetricsSnapshot {
                window_end: Some(end),
                functions,
                ..Default::default()
            };
            update(
                &mut state,
                Msg::Metrics {
                    region: r,
                    seq: hour as u64 + 1,
                    at: end,
                    result: Ok(snapshot),
                },
            );
        }
    }
    let load_secs = loading.elapsed().as_secs_f64();
    let history: usize = state
        .regions
        .iter()
        .flat_map(|r| &r.functions)
        .map(|f| f.history.len())
        .sum();
    let after = rss_mb();

    let theme = Theme::default();
    let mut terminal = match Terminal::new(TestBackend::new(200, 60)) {
        Ok(t) => t,
        Err(e) => {
            eprintln!("cannot create the test terminal: {e}");
            return;
        }
    };
    let frames = 2_000;
    for _ in 0..50 {
        let _ = terminal.draw(|f| render(&state, &theme, f));
    }
    let t = Instant::now();
    for i in 0..frames {
        // Move the cursor so frames differ, as they do when an engineer scrolls.
        if i % 2 == 0 {
            update(
                &mut state,
                Msg::Key(crossterm::event::KeyEvent::new(
                    crossterm::event::KeyCode::Down,
                    crossterm::event::KeyModifiers::NONE,
                )),
            );
        }
        let _ = terminal.draw(|f| render(&state, &theme, f));
    }
    let per_frame_ms = t.elapsed().as_secs_f64() * 1_000.0 / frames as f64;

    // The same frames through the crossterm backend into a sink: what a real terminal costs
    // lops, escape sequences included, minus the terminal's own drawing.
    let area = ratatui::layout::Rect::new(0, 0, 200, 60);
    let options = ratatui::TerminalOptions {
        viewport: ratatui::Viewport::Fixed(area),
    };
    let crossterm_ms = match Terminal::with_options(
        ratatui::backend::CrosstermBackend::new(std::io::sink()),
        options,
    ) {
        Ok(mut sink) => {
            let t = Instant::now();
            for i in 0..frames {
                if i % 2 == 0 {
                    update(
                        &mut state,
                        Msg::Key(crossterm::event::KeyEvent::new(
                            crossterm::event::KeyCode::Up,
                            crossterm::event::KeyModifiers::NONE,
                        )),
                    );
                }
                let _ = sink.draw(|f| render(&state, &theme, f));
            }
            t.elapsed().as_secs_f64() * 1_000.0 / frames as f64
        }
        Err(_) => f64::NAN,
    };

    let t = Instant::now();
    let sorts = 20;
    for _ in 0..sorts {
        update(
            &mut state,
            Msg::Key(crossterm::event::KeyEvent::new(
                crossterm::event::KeyCode::Char('s'),
                crossterm::event::KeyModifiers::NONE,
            )),
        );
    }
    let sort_ms = t.elapsed().as_secs_f64() * 1_000.0 / sorts as f64;

    println!("functions                 {FUNCTIONS}");
    println!(
        "per-minute points kept    {history} ({} per function)",
        history / FUNCTIONS
    );
    println!("fleet view 200x60 render  {per_frame_ms:.3} ms per frame ({frames} frames)");
    println!("same, crossterm to a sink {crossterm_ms:.3} ms per frame");
    println!("re-sort of all rows       {sort_ms:.2} ms");
    println!("24 h of snapshots merged  {load_secs:.2} s");
    println!("RSS                       {after:.1} MB (process start {before:.1} MB)");
}
