//! Every page of a list the SDK paginates, each page's request behind a limiter token, its
//! error classified like any other call's.

use aws_smithy_async::future::pagination_stream::PaginationStream;
use aws_smithy_runtime_api::client::orchestrator::HttpResponse;
use aws_smithy_runtime_api::client::result::SdkError;
use aws_smithy_types::error::metadata::ProvideErrorMetadata;

use super::classify;
use crate::provider::ProviderError;
use crate::provider::limiter::RateLimiter;

/// Reads `pages` to the end, taking a token from `bucket` before each page, handing each page
/// to `each`. `more` says whether a page names a next one: the read stops there rather than
/// spend a token on a page that will not come.
pub async fn every_page<P, E>(
    bucket: &RateLimiter,
    timeout_secs: f64,
    mut pages: PaginationStream<Result<P, SdkError<E, HttpResponse>>>,
    more: impl Fn(&P) -> bool,
    mut each: impl FnMut(P),
) -> Result<(), ProviderError>
where
    E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
{
    loop {
        bucket.acquire_first().await;
        let Some(page) = pages.next().await else {
            return Ok(());
        };
        let page = page.map_err(|e| classify(e, timeout_secs))?;
        let last = !more(&page);
        each(page);
        if last {
            return Ok(());
        }
    }
}
