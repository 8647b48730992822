//! A GetMetricData batch asked in parts: a request that times out or is throttled is halved
//! (between two functions' queries) and its halves asked side by side, keeping every part that
//! answered.

use chrono::{DateTime, Utc};

use super::{BatchResult, Clients, MIN_SPLIT, QUERIES_PER_CALL, Query, Slot, Span, Until};
use crate::provider::ProviderError;

/// Where to halve `part`: the boundary between two functions' queries nearest its middle, so
/// that a function whose queries make a request hang is in one half only (cut at the middle
/// query, both halves held its queries and both hung); the middle when one function fills it.
fn between_functions(part: &[Query]) -> usize {
    let owner = |q: &Query| match &q.1 {
        Slot::Region { .. } => None,
        Slot::Series { function, .. }
        | Slot::Version { function, .. }
        | Slot::Percentile { function, .. } => Some(*function),
    };
    let mid = part.len() / 2;
    (0..part.len())
        .filter(|i| *i > 0 && owner(&part[i - 1]) != owner(&part[*i]))
        .min_by_key(|i| i.abs_diff(mid))
        .unwrap_or(mid)
}

/// A part of a batch to ask: its query range, whether it was halved after a throttle, and
/// whether it is a second try (or a half of a request that failed).
#[derive(Clone, Copy)]
struct Part {
    range: (usize, usize),
    throttled: bool,
    again: bool,
}

/// A part's range, what it answered, and the timeout that split it (or asked it again).
type PartAnswer = (
    (usize, usize),
    Result<Vec<Vec<(DateTime<Utc>, f64)>>, ProviderError>,
    Option<ProviderError>,
);

impl Clients {
    /// Runs a batch in requests of the size that last worked; with `split`, a request that
    /// times out or is throttled is split in halves and the halves asked side by side, down to
    /// [`MIN_SPLIT`] queries (one that small timed out is asked once more). Every part that
    /// answered is kept.
    pub(super) async fn run_batch(
        &self,
        batch: &[Query],
        span: Span,
        until: Until,
        split: bool,
    ) -> BatchResult {
        use std::sync::atomic::Ordering::Relaxed;
        let mut result = BatchResult {
            points: vec![Vec::new(); batch.len()],
            failed: vec![false; batch.len()],
            error: None,
        };
        let size = self
            .metric_batch
            .load(Relaxed)
            .clamp(MIN_SPLIT, QUERIES_PER_CALL);
        // The timeout that split a batch: what to say when its parts then ran out of time at the
        // read's deadline (raising the budget helps; the deadline only bounds the read).
        let mut timed_out = None;
        for start in (0..batch.len()).step_by(size) {
            let end = (start + size).min(batch.len());
            let part = Part {
                range: (start, end),
                throttled: false,
                again: false,
            };
            for (range, answer, slow) in self.run_part(batch, part, span, until, split).await {
                if let Some(slow) = slow {
                    timed_out.get_or_insert(slow);
                }
                match answer {
                    Ok(points) => {
                        for (i, p) in points.into_iter().enumerate() {
                            result.points[range.0 + i] = p;
                        }
                    }
                    Err(e) => {
                        for f in &mut result.failed[range.0..range.1] {
                            *f = true;
                        }
                        result.error.get_or_insert(e);
                    }
                }
            }
        }
        // Timed out, then cut at the deadline: a larger budget helps a slow endpoint, nothing
        // helps one that does not answer; both said (the deadline alone named the wrong one).
        if let (Some(ProviderError::Timeout(secs)), Some(e)) = (&timed_out, &result.error)
            && e.is_past_deadline()
        {
            result.error = Some(ProviderError::Service(format!(
                "timed out after {secs:.0} s, and the read's deadline ({:.0} s, [timeouts] \
                 region_secs) came before the rest answered — raise [timeouts] metrics_secs if \
                 the endpoint is slow; it does not help one that does not answer",
                self.metrics_deadline.as_secs_f64()
            )));
        }
        result
    }

    /// One request of a batch; one that times out or is throttled is split (see
    /// [`Self::run_batch`]) and its halves asked at once, so that a half that hangs never
    /// keeps the other from being asked before the read's deadline (they were asked one after
    /// the other, the hanging one first: nothing of the batch was kept). Each part's range,
    /// what it answered, and the timeout that split it.
    fn run_part<'a>(
        &'a self,
        batch: &'a [Query],
        part: Part,
        span: Span,
        until: Until,
        split: bool,
    ) -> futures::future::BoxFuture<'a, Vec<PartAnswer>> {
        use std::sync::atomic::Ordering::Relaxed;
        Box::pin(async move {
            let Part {
                range: (start, end),
                throttled,
                again,
            } = part;
            // A throttled request is halved once, a slow one down to MIN_SPLIT: halving again
            // under throttling would only add requests.
            let splittable = |e: &ProviderError| match e {
                ProviderError::Timeout(_) => true,
                ProviderError::Throttled(_) => !throttled,
                _ => false,
            };
            match self.get_metric_data(&batch[start..end], span, until).await {
                Ok(points) => vec![((start, end), Ok(points), None)],
                Err(e) if split && end - start > MIN_SPLIT && splittable(&e) => {
                    let mid = between_functions(&batch[start..end]) + start;
                    let halved = throttled || matches!(e, ProviderError::Throttled(_));
                    tracing::info!(scope = %self.scope, queries = end - start, error = %e, "GetMetricData too slow: splitting the batch");
                    let slow = matches!(e, ProviderError::Timeout(_)).then(|| e.clone());
                    if slow.is_some() {
                        self.metric_batch.fetch_min(mid - start, Relaxed);
                    }
                    let half = |range| Part {
                        range,
                        throttled: halved,
                        again: true,
                    };
                    let (mut first, second) = tokio::join!(
                        self.run_part(batch, half((start, mid)), span, until, split),
                        self.run_part(batch, half((mid, end)), span, until, split),
                    );
                    first.extend(second);
                    if let (Some(slow), Some(answer)) = (slow, first.first_mut()) {
                        answer.2.get_or_insert(slow);
                    }
                    first
                }
                Err(e @ ProviderError::Timeout(_)) if split && !again => {
                    tracing::info!(scope = %self.scope, queries = end - start, "GetMetricData too slow: asking once more");
                    let once_more = Part {
                        range: (start, end),
                        throttled,
                        again: true,
                    };
                    let mut answers = self.run_part(batch, once_more, span, until, split).await;
                    if let Some(answer) = answers.first_mut() {
                        answer.2.get_or_insert(e);
                    }
                    answers
                }
                Err(e) => vec![((start, end), Err(e), None)],
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use super::super::super::metric_queries::SeriesKind;
    use super::*;
    use aws_sdk_cloudwatch::types::MetricDataQuery;

    fn queries(owners: &[Option<usize>]) -> Vec<Query> {
        owners
            .iter()
            .map(|o| {
                let q = MetricDataQuery::builder().id("q").build();
                let slot = match o {
                    Some(function) => Slot::Series {
                        function: *function,
                        kind: SeriesKind::Invocations,
                    },
                    None => Slot::Region {
                        kind: SeriesKind::Invocations,
                    },
                };
                (q, slot)
            })
            .collect()
    }

    /// Halved between two functions' queries, the boundary nearest the middle: a function
    /// whose queries hang is in one half only (cut at the middle query, both halves hung).
    #[test]
    fn a_batch_is_halved_between_two_functions() {
        // Five queries each for three functions: the middle (7) is inside the second.
        let three: Vec<Option<usize>> = (0..3).flat_map(|f| [Some(f); 5]).collect();
        assert_eq!(between_functions(&queries(&three)), 5);
        // The region's totals first, then two functions: between the two.
        let mut two = vec![None; 4];
        two.extend([Some(0); 5]);
        two.extend([Some(1); 5]);
        assert_eq!(between_functions(&queries(&two)), 9);
        // One function's queries only: the middle.
        assert_eq!(between_functions(&queries(&[Some(4); 10])), 5);
    }
}
