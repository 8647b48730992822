//! The provider's own small helpers: costs and failure hints.

use super::*;

#[test]
fn the_cost_of_metrics_prints_as_written() {
    assert_eq!(metrics_cost_usd(60).to_string(), "0.0006");
    assert_eq!(metrics_cost_usd(846).to_string(), "0.00846");
    assert_eq!(metrics_cost_usd(0), 0.0);
}

#[test]
fn a_server_failure_says_what_to_do_too() {
    let e = ProviderError::Service("HTTP 503 from the server: ServiceUnavailable".into());
    assert_eq!(
        explain("metrics", "GetMetricData", &e),
        "metrics: GetMetricData HTTP 503 from the server: ServiceUnavailable — a failure on \
         the service's side: try again shortly"
    );
    // Not every service error is the server's.
    assert_eq!(hint(&ProviderError::Service("bad request".into())), "");
}

/// A function's own read that timed out names its own timeout, not the region's deadline.
#[test]
fn a_functions_read_that_timed_out_names_only_its_own_timeout() {
    let said = explain("details", "GetFunction", &ProviderError::Timeout(6.0));
    assert!(said.contains("raise [timeouts] operation_secs"), "{said}");
    assert!(!said.contains("region_secs"), "{said}");
    let alarms = explain("alarms", "DescribeAlarms", &ProviderError::Timeout(6.0));
    assert!(alarms.contains("region_secs"), "{alarms}");
}
