//! One GetMetricData at a time to an endpoint that several regions share.
//!
//! AWS's regions are each their own CloudWatch endpoint, and lops asks them side by side. A
//! configured endpoint (`AWS_ENDPOINT_URL`: an emulator, a proxy) is one server behind every
//! region lops reads, and a heavy metrics request takes the same work however many are in
//! flight: sent together they only slow each other (on moto, three 500-query requests at once
//! answered in 6.2 s where one after the other took 4.6 s, and a whole `lops status` of 3 x 120
//! functions went from 24 s to 15 s). So requests to a configured endpoint wait their turn.
//!
//! A request in flight longer than [`STUCK_AFTER`] no longer holds the others back: a region
//! whose reads hang (or one very large request) delays another region's numbers by that much
//! at most, never hides them.

use std::collections::HashMap;
use std::future::Future;
use std::sync::{Arc, Mutex, OnceLock};
use std::time::Duration;

use tokio::sync::{OwnedSemaphorePermit, Semaphore};

/// How long a request may hold its endpoint's turn before the next one goes anyway.
pub const STUCK_AFTER: Duration = Duration::from_secs(15);

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

/// A turn held past [`STUCK_AFTER`]: another was let go in its place, so this one is not
/// given back when it ends (the endpoint keeps one turn), also when the request is dropped.
struct Overdue(Option<OwnedSemaphorePermit>);

impl Drop for Overdue {
    fn drop(&mut self) {
        if let Some(permit) = self.0.take() {
            permit.forget();
        }
    }
}

impl Gate {
    /// Runs `work` in its turn (after the requests before it, or [`STUCK_AFTER`] into the one
    /// in flight).
    pub async fn run<T>(&self, work: impl Future<Output = T>) -> T {
        self.run_with(STUCK_AFTER, work).await
    }

    async fn run_with<T>(&self, stuck_after: Duration, work: impl Future<Output = T>) -> T {
        // The semaphore is never closed; without a permit the work goes anyway.
        let permit = self.turn.clone().acquire_owned().await.ok();
        tokio::pin!(work);
        tokio::select! {
            out = &mut work => return out,
            () = tokio::time::sleep(stuck_after) => {}
        }
        let overdue = Overdue(permit);
        if overdue.0.is_some() {
            self.turn.add_permits(1);
        }
        let out = work.await;
        drop(overdue);
        out
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
    }

    #[tokio::test(start_paused = true)]
    async fn a_request_in_flight_too_long_lets_the_next_go_and_the_endpoint_keeps_one_turn() {
        let (gate, flight) = (gate(), Flight::default());
        let started = tokio::time::Instant::now();
        let hung = gate.run_with(Duration::from_secs(5), async {
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        let next = async {
            tokio::time::sleep(Duration::from_millis(1)).await;
            gate.run(flight.request(Duration::from_secs(1))).await;
            started.elapsed()
        };
        let ((), answered_at) = tokio::join!(hung, next);
        assert_eq!(answered_at, Duration::from_secs(6), "waited 5 s, not 60");
        // Both ended: one turn again, not two.
        let after = futures::future::join_all([
            gate.run(flight.request(Duration::from_secs(1))),
            gate.run(flight.request(Duration::from_secs(1))),
        ]);
        after.await;
        assert_eq!(flight.most.load(Ordering::SeqCst), 1);
        assert_eq!(gate.turn.available_permits(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn an_overdue_request_dropped_half_way_gives_back_no_extra_turn() {
        let gate = gate();
        let hung = gate.run_with(Duration::from_secs(5), async {
            tokio::time::sleep(Duration::from_secs(60)).await;
        });
        // Dropped after it was taken as stuck (a region's deadline ends the read).
        assert!(
            tokio::time::timeout(Duration::from_secs(10), hung)
                .await
                .is_err()
        );
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
