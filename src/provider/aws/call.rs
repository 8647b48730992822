//! The one path of an SDK request: a limiter token first, then the call, its error classified;
//! and every page of a list the SDK paginates, each page behind its own token, its errors
//! classified the same way.

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

impl super::Clients {
    /// One SDK request: a token from `bucket` first, then the request (the SDK's `send()` does
    /// nothing until awaited), its error classified with the scope's operation timeout.
    pub async fn call<T, E>(
        &self,
        bucket: &RateLimiter,
        request: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, ProviderError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        bucket.acquire_first().await;
        self.classified(bucket, request.await)
    }

    /// [`Clients::call`] for a background read: its token waits behind every user action's.
    pub async fn background<T, E>(
        &self,
        bucket: &RateLimiter,
        request: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, ProviderError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        bucket.acquire().await;
        self.classified(bucket, request.await)
    }

    fn classified<T, E>(
        &self,
        bucket: &RateLimiter,
        answer: Result<T, SdkError<E, HttpResponse>>,
    ) -> Result<T, ProviderError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        // Which service could not be reached: one among several a command uses (a restore
        // reads S3 and writes Lambda) may be the only one down. (The region is the scope's,
        // named by whoever shows it; left out so regions failing alike are said once.)
        answer.map_err(|e| {
            super::error::classify_for(
                e,
                self.operation_timeout.as_secs_f64(),
                self.service_of(bucket),
            )
        })
    }

    /// The service whose rate `bucket` keeps.
    fn service_of(&self, bucket: &RateLimiter) -> &'static str {
        let is = |b: &std::sync::Arc<RateLimiter>| std::ptr::eq(std::sync::Arc::as_ptr(b), bucket);
        match () {
            _ if is(&self.lambda_limit) || is(&self.get_function_limit) => "Lambda",
            _ if is(&self.s3_limit) => "S3",
            _ if is(&self.events_limit) => "EventBridge",
            _ if is(&self.cloudwatch_limit) => "CloudWatch",
            _ if is(&self.logs_limit) => "CloudWatch Logs",
            _ if is(&self.dns_limit) => "Route 53",
            _ => "AWS",
        }
    }

    /// [`Clients::call`] in Lambda's shared control-plane bucket.
    pub async fn lambda_call<T, E>(
        &self,
        request: impl std::future::Future<Output = Result<T, SdkError<E, HttpResponse>>>,
    ) -> Result<T, ProviderError>
    where
        E: ProvideErrorMetadata + std::error::Error + Send + Sync + 'static,
    {
        self.call(&self.lambda_limit, request).await
    }
}
