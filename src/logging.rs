//! Logs go to `$XDG_STATE_HOME/lops/lops.log`, never to the terminal the TUI draws on.

use std::fs::OpenOptions;
use std::sync::Mutex;

use tracing_subscriber::EnvFilter;

/// Starts file logging at `level`; returns false (and logs nowhere) when the file cannot be
/// opened, which must never stop lops from working.
pub fn init(level: &str) -> bool {
    let Some(dir) = crate::config::state_dir() else {
        return false;
    };
    if std::fs::create_dir_all(&dir).is_err() {
        return false;
    }
    let Ok(file) = OpenOptions::new()
        .create(true)
        .append(true)
        .open(dir.join("lops.log"))
    else {
        return false;
    };
    // Our own messages at the chosen level; the SDK's (which can be chatty) at warn.
    let filter = EnvFilter::try_new(format!("warn,lops={level}"))
        .unwrap_or_else(|_| EnvFilter::new("warn,lops=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        .try_init()
        .is_ok()
}
