//! Waiting for a Route 53 change to reach every name server (INSYNC), as far as it can be read.

use crate::provider::{ProviderError, RegionActions};

/// Asks GetChange every 2 s for up to `wait`: whether `change` is in sync, and why that could
/// not be read (denied, throttled) when its last ask failed — said with the change, never as
/// slow propagation. A denied GetChange is not asked again: it will not be allowed either.
pub(super) async fn wait<S: RegionActions>(
    source: &S,
    change: &str,
    wait: std::time::Duration,
) -> (bool, Option<String>) {
    let started = std::time::Instant::now();
    let mut unread = None;
    while !change.is_empty() {
        match source.dns_change_synced(change).await {
            Ok(true) => return (true, None),
            Ok(false) => unread = None,
            Err(e) => {
                tracing::debug!(error = %e, "GetChange");
                let denied = matches!(
                    e,
                    ProviderError::AccessDenied(_) | ProviderError::Credentials(_)
                );
                unread = Some(format!("GetChange {}", crate::provider::with_hint(&e)));
                if denied {
                    break;
                }
            }
        }
        if started.elapsed() >= wait {
            break;
        }
        tokio::time::sleep(std::time::Duration::from_secs(2)).await;
    }
    (false, unread)
}
