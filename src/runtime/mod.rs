//! Work that happens off the screen: pollers, one whole read of a region, and the executor of
//! the dashboard's effects.

pub mod effects;
pub mod poller;
pub mod read;
mod runs;
pub mod tail;

use std::time::Duration;

use crate::provider::ProviderError;

/// `work`, or, after `deadline`, an error naming the deadline and its setting.
pub(crate) async fn timed<T>(
    deadline: Duration,
    work: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| Err(ProviderError::past_deadline(deadline)))
}

/// The next request to stop this process: SIGTERM, SIGHUP (a closed terminal, a dropped SSH
/// link) and, with `ctrl_c`, SIGINT (the dashboard reads ctrl-c as a key in raw mode).
pub async fn stop_requested(ctrl_c: bool) -> std::io::Result<()> {
    #[cfg(unix)]
    {
        use tokio::signal::unix::{SignalKind, signal};
        let mut term = signal(SignalKind::terminate())?;
        let mut hup = signal(SignalKind::hangup())?;
        let interrupt = async {
            if ctrl_c {
                tokio::signal::ctrl_c().await
            } else {
                std::future::pending().await
            }
        };
        tokio::select! {
            r = interrupt => r,
            _ = term.recv() => Ok(()),
            _ = hup.recv() => Ok(()),
        }
    }
    #[cfg(not(unix))]
    {
        if ctrl_c {
            tokio::signal::ctrl_c().await
        } else {
            std::future::pending().await
        }
    }
}

#[cfg(test)]
mod timed_tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn a_read_past_its_deadline_names_the_setting_and_when_it_helps() {
        let hung = timed(
            Duration::from_secs(90),
            std::future::pending::<Result<(), _>>(),
        );
        let said = hung.await.expect_err("past the deadline").to_string();
        assert!(
            said.starts_with("not finished within 90 s ([timeouts] region_secs)")
                && said.contains("does not help one that does not answer"),
            "{said}"
        );
        let done = timed(Duration::from_secs(1), async { Ok::<_, ProviderError>(7) });
        assert_eq!(done.await.expect("in time"), 7);
    }
}
