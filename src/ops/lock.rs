//! One change of one thing at a time on this machine: a file lock under the state directory,
//! held from the read just before a write until the write is done, so that a second lops (a
//! second engineer on the same bastion) reads what the first wrote and its compare refuses it.
//! An OS lock: a killed lops lets go of it with its last breath.

use std::fs::{File, OpenOptions, TryLockError};
use std::path::PathBuf;
use std::time::{Duration, Instant};

/// Held while it lives.
pub(crate) struct FileLock {
    _held: Option<File>,
}

/// Why a lock was not taken.
pub(crate) enum LockError {
    /// Another lops held it for the whole wait.
    Busy(Duration),
    /// The lock file could not be made or locked.
    Io(PathBuf, std::io::Error),
}

/// Takes the lock named `name` (made of anything: kept to a plain file name), waiting up to
/// `wait` while another lops holds it. Without a state directory (no HOME) there is no audit
/// log either, and the change is refused there: nothing to lock.
pub(crate) async fn hold(name: &str, wait: Duration) -> Result<FileLock, LockError> {
    let Some(dir) = crate::config::state_dir() else {
        return Ok(FileLock { _held: None });
    };
    let name: String = name
        .chars()
        .map(
            |c| match c.is_ascii_alphanumeric() || c == '-' || c == '.' {
                true => c.to_ascii_lowercase(),
                false => '_',
            },
        )
        .collect();
    let path = dir.join("locks").join(format!("{name}.lock"));
    let taken = tokio::task::spawn_blocking(move || {
        let cannot = |e: std::io::Error| LockError::Io(path.clone(), e);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).map_err(cannot)?;
        }
        let file = OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(false)
            .open(&path)
            .map_err(cannot)?;
        let deadline = Instant::now() + wait;
        loop {
            match file.try_lock() {
                Ok(()) => return Ok(file),
                Err(TryLockError::WouldBlock) if Instant::now() < deadline => {
                    std::thread::sleep(Duration::from_millis(100));
                }
                Err(TryLockError::WouldBlock) => return Err(LockError::Busy(wait)),
                Err(TryLockError::Error(e)) => return Err(cannot(e)),
            }
        }
    })
    .await
    .map_err(|e| LockError::Io(PathBuf::new(), std::io::Error::other(e.to_string())))??;
    Ok(FileLock { _held: Some(taken) })
}
