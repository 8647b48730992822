//! Drives the dashboard's event loop without a terminal: a TestBackend, keys sent by the test,
//! the final state returned when it quits.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::{Event, KeyCode, KeyEvent, KeyModifiers};
use futures::channel::mpsc::{UnboundedSender, unbounded};
use lops::config::{Access, Settings};
use lops::provider::Scope;
use lops::provider::aws::{AwsRegion, CallCounter, Clients};
use lops::runtime::poller::Timing;
use lops::state::{Display, Keymap, State};
use ratatui::Terminal;
use ratatui::backend::TestBackend;
use tokio::task::JoinHandle;

pub type Keys = UnboundedSender<std::io::Result<Event>>;

/// Clients for one region of moto (or a proxy in front of it).
pub async fn clients(endpoint: &str, region: &str) -> Clients {
    let config = super::seed::sdk_config(endpoint, region).await;
    Clients::from_sdk_config(
        Scope::new("default", region, Access::default()),
        &config,
        &Settings::default(),
        &CallCounter::default(),
    )
}

/// A fresh dashboard state over these regions (metrics every 5 s).
pub fn state(sources: &[Arc<AwsRegion>]) -> State {
    State::new(
        sources
            .iter()
            .map(|s| lops::provider::RegionSource::scope(&**s).clone())
            .collect(),
        Keymap::default(),
        Display {
            metrics_secs: 5,
            ..Default::default()
        },
        chrono::Utc::now(),
    )
}

/// Starts the event loop at 120x30; returns the key sender and the loop's handle.
pub fn start(
    sources: Vec<Arc<AwsRegion>>,
    state: State,
) -> (Keys, JoinHandle<std::io::Result<State>>) {
    let (keys, events) = unbounded();
    let run = tokio::spawn(async move {
        let mut terminal = Terminal::new(TestBackend::new(120, 30)).expect("terminal");
        let timing = Timing {
            metrics: Duration::from_secs(5),
            inventory: Duration::from_secs(60),
            alarms: Duration::from_secs(30),
            deadline: Duration::from_secs(30),
            min_gap: Duration::from_millis(200),
        };
        let theme = lops::ui::Theme {
            color: false,
            ascii: false,
        };
        lops::tui::event_loop(&mut terminal, events, sources, state, &theme, timing, None).await
    });
    (keys, run)
}

/// Sends a key (ignored if the loop already ended).
pub fn press(keys: &Keys, code: KeyCode) {
    let _ = keys.unbounded_send(Ok(Event::Key(KeyEvent::new(code, KeyModifiers::NONE))));
}

/// Types `/TEXT` then enter: the fleet filtered to one function.
pub fn filter(keys: &Keys, text: &str) {
    press(keys, KeyCode::Char('/'));
    for c in text.chars() {
        press(keys, KeyCode::Char(c));
    }
    press(keys, KeyCode::Enter);
}
