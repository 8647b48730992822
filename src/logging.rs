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
    let mut options = OpenOptions::new();
    options.create(true).append(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        options.mode(0o600);
    }
    let Ok(file) = options.open(dir.join("lops.log")) else {
        return false;
    };
    // The log names functions, accounts and errors: the owner's alone, also when an older lops
    // created it with wider permissions.
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let _ = file.set_permissions(std::fs::Permissions::from_mode(0o600));
    }
    // Our own messages at the chosen level; the SDK's (which can be chatty) at warn.
    let filter = EnvFilter::try_new(format!("warn,lops={level}"))
        .unwrap_or_else(|_| EnvFilter::new("warn,lops=info"));
    tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_writer(Mutex::new(file))
        .with_ansi(false)
        // A log that cannot be written (a full disk) is never said on the terminal: it would
        // be drawn over the dashboard, and mixed into what a script reads on stderr.
        .log_internal_errors(false)
        .try_init()
        .is_ok()
}
