//! One GetMetricData at a time to an endpoint that several regions share, never waited on
//! for long.
//!
//! AWS's regions are each their own CloudWatch endpoint, and lops asks them side by side. A
//! configured endpoint (`AWS_ENDPOINT_URL`: an emulator, a proxy) is one server behind every
//! region lops reads, and a heavy metrics request takes the same work however many are in
//! flight: sent together they only slow each other (on moto, three 500-query requests at once
//! answered in 6.2 s where one after the other took 4.6 s, and a whole `lops status` of 3 x 120
//! functions went from 24 s to 15 s). So requests to a configured endpoint take turns.
//!
//! No request waits for its turn longer than [`MOST_WAIT`]: then it goes beside whatever is in
//! flight. A region whose reads hang, or an endpoint slow for everyone, delays another region's
//! request by that much at most, however many requests are queued ahead — never hides its
//! numbers behind a deadline.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::Semaphore;

/// The longest a request waits for its endpoint's turn before it goes anyway.
pub const MOST_WAIT: Duration = Duration::from_secs(10);

/// The turn of one endpoint; clones share it.
#[derive(Debug, Clone)]
pub struct Gate {
    turn: Arc<Semaphore>,
}

/// The gate of a configured endpoint, shared by every client of this process that uses it.
pub fn for_endpoint(url: &str) -> Gate {
    static GATES: OnceLock<Mutex<HashMap<String, Gate>>> = OnceLock::new();
    let gates = GATES.get_or_init(Mutex::default);
    let mut gates = gates.lock().unwrap_or_else(|e| e.into_inner());
    gates
        .entry(url.trim_end_matches('/').to_string())
        .or_insert_with(|| Gate {
            turn: Arc::new(Semaphore::new(1)),
        })
        .clone()
}

impl Gate {
    /// Runs `work` in its turn: after the requests before it, or [`MOST_WAIT`] into waiting.
    pub async fn run<T>(&self, work: impl Future<Output = T>) -> T {
        self.run_with(MOST_WAIT, work).await
    }

    async fn run_with<T>(&self, most_wait: Duration, work: impl Future<Output = T>) -> T {
        // Held while the work runs (given back when it ends or is dropped); none after the
        // longest wait: it goes beside the one in flight.
        let _turn = tokio::time::timeout(most_wait, self.turn.clone().acquire_owned())
            .await
            .ok()
            .and_then(Result::ok);
        work.await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::sync::atomic::{AtomicUsize, Ordering};

    fn gate() -> Gate {
        Gate {
            turn: Arc::new(Semaphore::new(1)),
        }
    }

    /// Counts requests in flight and remembers the most at once.
    #[derive(Default)]
    struct Flight {
        now: AtomicUsize,
        most: AtomicUsize,
    }

    impl Flight {
        async fn request(&self, takes: Duration) {
            let n = self.now.fetch_add(1, Ordering::SeqCst) + 1;
            self.most.fetch_max(n, Ordering::SeqCst);
            tokio::time::sleep(takes).await;
            self.now.fetch_sub(1, Ordering::SeqCst);
        }
    }

    #[tokio::test(start_paused = true)]
    async fn requests_to_one_endpoint_go_one_at_a_time() {
        let (gate, flight) = (gate(), Flight::default());
        let started = tokio::time::Instant::now();
        let one = || gate.run(flight.request(Duration::from_secs(2)));
        futures::future::join_all([one(), one(), one()]).await;
        assert_eq!(flight.most.load(Ordering::SeqCst), 1);
        assert_eq!(started.elapsed(), Duration::from_secs(6));
        assert_eq!(gate.turn.available_permits(), 1);
    }

    /// Three requests that hang ahead of a healthy one (a region whose CloudWatch does not
    /// answer): it waits the longest wait once, not once per request ahead.
    #[tokio::test(start_paused = true)]
    async fn requests_hanging_ahead_delay_the_next_by_the_longest_wait_once() {
        let (gate, flight) = (gate(), Flight::default());
        let started = tokio::time::Instant::now();
        let hung = || {
            gate.run(async {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            })
        };
        let healthy = async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            gate.run(flight.request(Duration::from_secs(1))).await;
            started.elapsed()
        };
        let answered = tokio::select! {
            _ = futures::future::join_all([hung(), hung(), hung()]) => unreachable!(),
            at = healthy => at,
        };
        assert_eq!(answered, MOST_WAIT + Duration::from_millis(1001));
    }

    /// Every request slow (20 s each): after the first, the others stop waiting and go side by
    /// side — four take about 30 s, not 80.
    #[tokio::test(start_paused = true)]
    async fn a_slow_endpoint_is_asked_side_by_side_after_the_longest_wait() {
        let (gate, flight) = (gate(), Flight::default());
        let started = tokio::time::Instant::now();
        let one = || gate.run(flight.request(Duration::from_secs(20)));
        futures::future::join_all([one(), one(), one(), one()]).await;
        assert_eq!(started.elapsed(), MOST_WAIT + Duration::from_secs(20));
        assert_eq!(flight.most.load(Ordering::SeqCst), 4);
        assert_eq!(gate.turn.available_permits(), 1);
    }

    #[test]
    fn one_gate_per_endpoint_whatever_its_trailing_slash() {
        let a = for_endpoint("http://127.0.0.1:1/");
        let b = for_endpoint("http://127.0.0.1:1");
        let c = for_endpoint("http://127.0.0.1:2");
        assert!(Arc::ptr_eq(&a.turn, &b.turn));
        assert!(!Arc::ptr_eq(&a.turn, &c.turn));
    }
}
