//! Work that happens off the screen: pollers, one whole read of a region, and the executor of
//! the dashboard's effects.

pub mod effects;
pub mod poller;
pub mod read;
mod runs;
pub mod tail;

use std::time::Duration;

use crate::provider::ProviderError;

/// `work`, or a timeout error after `deadline`.
pub(crate) async fn timed<T>(
    deadline: Duration,
    work: impl Future<Output = Result<T, ProviderError>>,
) -> Result<T, ProviderError> {
    tokio::time::timeout(deadline, work)
        .await
        .unwrap_or_else(|_| Err(ProviderError::Timeout(deadline.as_secs_f64())))
}
