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
use lops::state::{Keymap, ScreenOptions, State};
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
        ScreenOptions {
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
    start_on(&Screen::new(120, 30), sources, state, Some(temp_audit()))
}

/// An audit log of the test's own (an action needs one: no audit, no change).
pub fn temp_audit() -> lops::ops::audit::AuditLog {
    static NEXT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);
    let n = NEXT.fetch_add(1, std::sync::atomic::Ordering::Relaxed);
    lops::ops::audit::AuditLog::at(std::env::temp_dir().join(format!(
        "lops-tui-tests-{}-{n}/audit.jsonl",
        std::process::id()
    )))
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

/// A test terminal whose screen the test can read while the event loop draws on it.
#[derive(Clone)]
pub struct Screen(Arc<std::sync::Mutex<TestBackend>>);

impl Screen {
    pub fn new(width: u16, height: u16) -> Screen {
        Screen(Arc::new(std::sync::Mutex::new(TestBackend::new(
            width, height,
        ))))
    }

    /// The screen as text, one line per row.
    pub fn text(&self) -> String {
        let backend = self.0.lock().unwrap_or_else(|p| p.into_inner());
        let buffer = backend.buffer();
        let area = buffer.area;
        (0..area.height)
            .map(|y| {
                (0..area.width)
                    .map(|x| buffer[(x, y)].symbol().to_string())
                    .collect::<String>()
            })
            .collect::<Vec<_>>()
            .join("\n")
    }

    /// Waits up to `secs` for the screen to hold `needle`; returns the screen.
    pub async fn wait_for(&self, secs: u64, needle: &str) -> String {
        self.wait_until(secs, needle, |t| t.contains(needle)).await
    }

    /// Waits up to `secs` for the screen to hold `needle` once every region's inventory has
    /// filled in (rows land before their aliases; the footer shows "12/20 read" meanwhile).
    pub async fn wait_loaded(&self, secs: u64, needle: &str) -> String {
        self.wait_until(secs, &format!("{needle} with every inventory read"), |t| {
            t.contains(needle) && !filling_in(t)
        })
        .await
    }

    /// Waits up to `secs` for the screen to satisfy `ok`; returns the screen.
    pub async fn wait_until(&self, secs: u64, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = std::time::Instant::now() + Duration::from_secs(secs);
        loop {
            let text = self.text();
            if ok(&text) {
                return text;
            }
            assert!(
                std::time::Instant::now() < deadline,
                "the screen never showed {what}:\n{text}"
            );
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
    }
}

/// Whether the footer shows an inventory still filling in ("40 listed", "12/20 read").
fn filling_in(text: &str) -> bool {
    [" listed", " read"].iter().any(|word| {
        text.match_indices(word).any(|(i, _)| {
            text[..i].ends_with(|c: char| c.is_ascii_digit())
                && text[i + word.len()..]
                    .chars()
                    .next()
                    .is_none_or(|c| !c.is_alphanumeric() && c != '-')
        })
    })
}

impl ratatui::backend::Backend for Screen {
    type Error = std::convert::Infallible;

    fn draw<'a, I>(&mut self, content: I) -> Result<(), Self::Error>
    where
        I: Iterator<Item = (u16, u16, &'a ratatui::buffer::Cell)>,
    {
        self.lock().draw(content)
    }
    fn hide_cursor(&mut self) -> Result<(), Self::Error> {
        self.lock().hide_cursor()
    }
    fn show_cursor(&mut self) -> Result<(), Self::Error> {
        self.lock().show_cursor()
    }
    fn get_cursor_position(&mut self) -> Result<ratatui::layout::Position, Self::Error> {
        self.lock().get_cursor_position()
    }
    fn set_cursor_position<P: Into<ratatui::layout::Position>>(
        &mut self,
        position: P,
    ) -> Result<(), Self::Error> {
        self.lock().set_cursor_position(position)
    }
    fn clear(&mut self) -> Result<(), Self::Error> {
        self.lock().clear()
    }
    fn clear_region(&mut self, clear_type: ratatui::backend::ClearType) -> Result<(), Self::Error> {
        self.lock().clear_region(clear_type)
    }
    fn size(&self) -> Result<ratatui::layout::Size, Self::Error> {
        self.0.lock().unwrap_or_else(|p| p.into_inner()).size()
    }
    fn window_size(&mut self) -> Result<ratatui::backend::WindowSize, Self::Error> {
        self.lock().window_size()
    }
    fn flush(&mut self) -> Result<(), Self::Error> {
        self.lock().flush()
    }
}

impl Screen {
    fn lock(&self) -> std::sync::MutexGuard<'_, TestBackend> {
        self.0.lock().unwrap_or_else(|p| p.into_inner())
    }
}

/// Starts the event loop on `screen` with `audit`; returns the key sender and the loop's handle.
pub fn start_on(
    screen: &Screen,
    sources: Vec<Arc<AwsRegion>>,
    state: State,
    audit: Option<lops::ops::audit::AuditLog>,
) -> (Keys, JoinHandle<std::io::Result<State>>) {
    let (keys, events) = unbounded();
    let backend = screen.clone();
    let run = tokio::spawn(async move {
        let mut terminal = Terminal::new(backend).expect("terminal");
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
        lops::tui::event_loop(&mut terminal, events, sources, state, &theme, timing, audit).await
    });
    (keys, run)
}

/// Types each character of `text`.
pub fn type_text(keys: &Keys, text: &str) {
    for c in text.chars() {
        press(keys, KeyCode::Char(c));
    }
}
