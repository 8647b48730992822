//! States as a person reads them: "v1 90% / v2 10%", "reserved concurrency 5", and the
//! alias routing a plan compares and writes.

use serde_json::{Value, json};

use crate::format;
use crate::provider::AliasInfo;

/// An alias's routing as a person reads it: "v1 70% / v2 30%".
pub fn describe_routing(main: &str, extra: Option<&(String, f64)>) -> String {
    match extra {
        Some((v, w)) if *w > 0.0 => format!(
            "{} {} / {} {}",
            format::version(main),
            format::weight(1.0 - w),
            format::version(v),
            format::weight(*w)
        ),
        _ => format!("{} 100%", format::version(main)),
    }
}

/// A state value as a person reads it: "v1 90% / v2 10%", "reserved concurrency 5".
pub fn describe_state(v: &Value) -> String {
    describe(v)
}

pub(crate) fn describe(v: &Value) -> String {
    describe_known(v).unwrap_or_else(|| v.to_string())
}

/// A state in words when it is one of the kinds a change is made to (an alias's routing, a
/// trigger, a reservation, a service's weights); `None` for any other.
pub fn describe_known(v: &Value) -> Option<String> {
    if let Some(main) = v.get("function_version").and_then(Value::as_str) {
        // Every recorded weight, a zero one included (a preview shows what will be written).
        let extra = v.get("weights").and_then(Value::as_object);
        let extra_share: f64 = extra
            .map(|m| m.values().filter_map(Value::as_f64).sum())
            .unwrap_or(0.0);
        let mut parts = vec![format!(
            "{} {}",
            format::version(main),
            format::weight(1.0 - extra_share)
        )];
        for (version, w) in extra.into_iter().flatten() {
            parts.push(format!(
                "{} {}",
                format::version(version),
                format::weight(w.as_f64().unwrap_or(0.0))
            ));
        }
        return Some(parts.join(" / "));
    }
    if let (Some(kind), Some(enabled)) = (
        v.get("kind").and_then(Value::as_str),
        v.get("enabled").and_then(Value::as_bool),
    ) {
        let mut text = format!("{kind} {}", if enabled { "enabled" } else { "disabled" });
        if let Some(all) = v.get("invokes").and_then(Value::as_array) {
            let names: Vec<&str> = all.iter().filter_map(Value::as_str).collect();
            text.push_str(&format!(
                " — for every target it invokes: {}",
                names.join(", ")
            ));
        }
        if let Some(ends) = v.get("connects").and_then(Value::as_str) {
            text.push_str(&format!(" — {ends}"));
        }
        if v.get("invokes_unread").is_some() {
            text.push_str(" — what else it invokes could not be read");
        }
        return Some(text);
    }
    if let Some(r) = v.get("reserved") {
        return Some(match r.as_i64() {
            Some(n) => format!("reserved concurrency {n}"),
            None => "no reserved concurrency".into(),
        });
    }
    if let (Some(service), Some(weights)) = (
        v.get("service").and_then(Value::as_str),
        v.get("weights").and_then(Value::as_object),
    ) {
        let roles = v.get("roles").and_then(Value::as_object);
        let parts: Vec<String> = match roles.filter(|r| !r.is_empty()) {
            Some(roles) => roles
                .iter()
                .map(|(region, role)| format!("{region} {}", role.as_str().unwrap_or_default()))
                .collect(),
            None => weights
                .iter()
                .map(|(region, w)| format!("{region} {}", w.as_i64().unwrap_or_default()))
                .collect(),
        };
        let unread = v.get("insync_unread").and_then(Value::as_str);
        let synced = match (v.get("insync").and_then(Value::as_bool), unread) {
            (Some(true), _) => ", in sync on every Route 53 server".to_string(),
            // Its status could not be read: not said as propagating.
            (_, Some(why)) => format!(", whether every Route 53 server has it is not known: {why}"),
            (Some(false), None) => {
                ", still propagating (Route 53 has not reported INSYNC yet)".to_string()
            }
            (None, None) => String::new(),
        };
        let what = if roles.is_some_and(|r| !r.is_empty()) {
            "failover"
        } else {
            "weights"
        };
        // Written, but the read-back failed: what it shows is what was asked, not what was read.
        let unverified = v
            .get("not_verified")
            .and_then(Value::as_str)
            .map(|e| format!(" (as written: not read back, {e}; `lops service show` to look)"))
            .unwrap_or_default();
        // No member takes traffic any more (another change at the same time): Route 53 then
        // answers with all of them.
        let dark = v.get("serving").and_then(Value::as_bool) == Some(false);
        let serving = match (dark, v.get("forced").and_then(Value::as_bool) == Some(true)) {
            (false, _) => "",
            (true, true) => {
                " — NO REGION TAKES TRAFFIC NOW, as forced past the guard: Route 53 answers \
                 with every member, the drained ones too; `lops undo` puts it back"
            }
            (true, false) => {
                " — NO REGION TAKES TRAFFIC NOW: with every weight at 0 (or every weighted \
                 member unhealthy) Route 53 answers with every member, the drained ones too; \
                 another change landed at the same time? `lops service show` and set the weights"
            }
        };
        return Some(format!(
            "{service} {what} {}{synced}{unverified}{serving}",
            parts.join(", ")
        ));
    }
    None
}

pub(crate) fn alias_state(a: &AliasInfo) -> Value {
    let weights: serde_json::Map<String, Value> = a
        .additional_weights
        .iter()
        .map(|(v, w)| (v.clone(), json!(w)))
        .collect();
    json!({"function_version": a.function_version, "weights": weights})
}

pub(crate) fn routed(a: &AliasInfo, main: &str, extra: &Option<(String, f64)>) -> AliasInfo {
    AliasInfo {
        name: a.name.clone(),
        function_version: main.to_string(),
        additional_weights: extra.iter().cloned().collect(),
        revision_id: None,
    }
}

pub(crate) fn same_routing(a: &AliasInfo, b: &AliasInfo) -> bool {
    a.function_version == b.function_version && a.additional_weights == b.additional_weights
}

/// An invoke's result as both faces show it: (label, value) lines, the response and log tail
/// left to the face (they differ in length).
pub fn invoke_summary(
    inv: &crate::provider::InvokeOutcome,
    report: Option<&crate::loglines::Report>,
) -> Vec<(&'static str, String)> {
    let mut lines = vec![
        ("status", inv.status.to_string()),
        (
            "error",
            inv.function_error.as_deref().unwrap_or("none").to_string(),
        ),
        (
            "version",
            inv.executed_version
                .as_deref()
                .unwrap_or(format::MISSING)
                .to_string(),
        ),
    ];
    if let Some(r) = report {
        lines.push((
            "report",
            format!(
                "{} ms (billed {} ms), memory {}/{} MB{}",
                r.duration_ms.unwrap_or(0.0),
                r.billed_ms.unwrap_or(0.0),
                r.max_memory_used_mb.unwrap_or(0.0),
                r.memory_size_mb.unwrap_or(0.0),
                r.init_duration_ms
                    .map(|i| format!(", cold start {i} ms"))
                    .unwrap_or_default()
            ),
        ));
    }
    lines
}

/// An alias's routing read back from a recorded state (`{"function_version", "weights"}`):
/// its main version and its extra (version, weight), if any.
pub fn routing_of(state: &Value) -> Option<(String, Option<(String, f64)>)> {
    let main = state.get("function_version")?.as_str()?.to_string();
    let extra = state
        .get("weights")
        .and_then(Value::as_object)
        .and_then(|m| m.iter().next())
        .map(|(v, w)| (v.clone(), w.as_f64().unwrap_or(0.0)));
    Some((main, extra))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn previews_read_as_before_and_after() {
        let before = json!({"function_version": "1", "weights": {}});
        let after = json!({"function_version": "1", "weights": {"2": 0.1}});
        assert_eq!(describe(&before), "v1 100%");
        assert_eq!(describe(&after), "v1 90% / v2 10%");
        assert_eq!(
            describe(&json!({"reserved": null})),
            "no reserved concurrency"
        );
        assert_eq!(describe(&json!({"reserved": 0})), "reserved concurrency 0");
        // A service change written but not read back says so.
        let unread = json!({"service": "checkout", "weights": {"eu-west-1": 0},
            "insync": false, "not_verified": "HTTP 500"});
        assert!(
            describe(&unread).contains("not read back, HTTP 500"),
            "{}",
            describe(&unread)
        );
    }
}
