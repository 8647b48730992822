//! A token bucket per region and API, so lops stays under AWS's request-rate limits
//! however many pollers and actions share a region.
//!
//! Two kinds of callers share a bucket: background reads (pollers, inventories) and user
//! actions. An action takes the next token as soon as one can exist; background reads wait
//! while an action is waiting, so a keypress never queues behind a thousand-function inventory.

use std::sync::Mutex;
use std::time::Duration;

use tokio::time::Instant;

#[derive(Debug)]
pub struct RateLimiter {
    per_second: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    /// Below zero while actions hold tokens that have not been refilled yet.
    tokens: f64,
    last: Instant,
    /// Actions waiting for their token: background reads hold back meanwhile.
    actions_waiting: usize,
}

impl Bucket {
    fn refill(&mut self, per_second: f64, burst: f64) {
        let now = Instant::now();
        let refill = (now - self.last).as_secs_f64() * per_second;
        self.tokens = (self.tokens + refill).min(burst);
        self.last = now;
    }
}

/// Lets background reads go again once a waiting action has its token (or was dropped).
struct Waiting<'a>(&'a RateLimiter);

impl Drop for Waiting<'_> {
    fn drop(&mut self) {
        if let Ok(mut b) = self.0.state.lock() {
            b.actions_waiting = b.actions_waiting.saturating_sub(1);
        }
    }
}

impl RateLimiter {
    /// `per_second` requests on average, up to `burst` at once after a quiet spell.
    pub fn new(per_second: f64, burst: u32) -> Self {
        let burst = f64::from(burst.max(1));
        RateLimiter {
            per_second: per_second.max(0.001),
            burst,
            state: Mutex::new(Bucket {
                tokens: burst,
                last: Instant::now(),
                actions_waiting: 0,
            }),
        }
    }

    /// A background read's token: waits for a whole token, and for every waiting action.
    pub async fn acquire(&self) {
        loop {
            let wait = {
                let Ok(mut b) = self.state.lock() else {
                    return;
                };
                b.refill(self.per_second, self.burst);
                if b.actions_waiting == 0 && b.tokens >= 1.0 {
                    b.tokens -= 1.0;
                    return;
                }
                Duration::from_secs_f64((1.0 - b.tokens).max(1.0) / self.per_second)
                    .min(Duration::from_secs(1))
                    .max(Duration::from_millis(1))
            };
            tokio::time::sleep(wait).await;
        }
    }

    /// A user action's token: ahead of every background read, behind earlier actions only.
    pub async fn acquire_first(&self) {
        let wait = {
            let Ok(mut b) = self.state.lock() else {
                return;
            };
            b.refill(self.per_second, self.burst);
            b.tokens -= 1.0;
            if b.tokens >= 0.0 {
                return;
            }
            b.actions_waiting += 1;
            Duration::from_secs_f64(-b.tokens / self.per_second)
        };
        let _waiting = Waiting(self);
        tokio::time::sleep(wait).await;
    }
}

#[cfg(test)]
mod tests {
    use std::sync::Arc;

    use super::*;

    #[tokio::test(start_paused = true)]
    async fn burst_goes_at_once_then_requests_are_spaced_by_the_rate() {
        let limiter = RateLimiter::new(10.0, 3);
        let start = Instant::now();
        for _ in 0..3 {
            limiter.acquire().await;
        }
        assert_eq!(start.elapsed(), Duration::ZERO);
        for _ in 0..5 {
            limiter.acquire().await;
        }
        let waited = start.elapsed().as_secs_f64();
        assert!((waited - 0.5).abs() < 0.01, "waited {waited}s");
    }

    #[tokio::test(start_paused = true)]
    async fn quiet_spell_refills_up_to_the_burst_only() {
        let limiter = RateLimiter::new(1.0, 2);
        tokio::time::sleep(Duration::from_secs(60)).await;
        let start = Instant::now();
        limiter.acquire().await;
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::ZERO);
        limiter.acquire().await;
        assert_eq!(start.elapsed(), Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn many_readers_share_the_rate() {
        let limiter = Arc::new(RateLimiter::new(10.0, 1));
        let start = Instant::now();
        let tasks: Vec<_> = (0..8)
            .map(|_| {
                let l = limiter.clone();
                tokio::spawn(async move {
                    for _ in 0..5 {
                        l.acquire().await;
                    }
                })
            })
            .collect();
        for t in tasks {
            t.await.unwrap_or_else(|e| panic!("{e}"));
        }
        // 40 tokens, one at once, 39 at 10 a second.
        let waited = start.elapsed().as_secs_f64();
        assert!((3.8..=4.1).contains(&waited), "waited {waited}s");
    }

    #[tokio::test(start_paused = true)]
    async fn an_action_goes_ahead_of_a_queue_of_background_reads() {
        let limiter = Arc::new(RateLimiter::new(10.0, 1));
        // A background inventory with 100 reads queued: 10 s of work.
        let background = {
            let l = limiter.clone();
            tokio::spawn(async move {
                for _ in 0..100 {
                    l.acquire().await;
                }
            })
        };
        tokio::time::sleep(Duration::from_secs(2)).await;
        let start = Instant::now();
        limiter.acquire_first().await;
        let waited = start.elapsed();
        assert!(waited <= Duration::from_millis(100), "waited {waited:?}");
        assert!(!background.is_finished());
        background.abort();
    }
}
