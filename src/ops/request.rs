//! What a face asks the ops layer for, and what can be checked of it without asking AWS.

use super::audit::Record;
use super::{Kind, OpsError, Tier};
use crate::provider::{InvokeRequest, TriggerKind};

/// What the user asked for.
#[derive(Debug, Clone, PartialEq)]
pub enum Request {
    Invoke(InvokeRequest),
    /// Give `version` the share `weight` of the alias, its main version the rest.
    SetWeight {
        function: String,
        alias: String,
        version: String,
        weight: f64,
    },
    /// All traffic to the alias's second version.
    Promote {
        function: String,
        alias: String,
    },
    /// All traffic back to the alias's main version.
    Rollback {
        function: String,
        alias: String,
    },
    /// All traffic to a given published version (a plan's last step).
    PromoteTo {
        function: String,
        alias: String,
        version: String,
    },
    /// The alias back to exactly this routing (what a traffic plan found when it started).
    RouteTo {
        function: String,
        alias: String,
        main: String,
        extra: Option<(String, f64)>,
    },
    /// All traffic to the alias's last known good version: the version it served in full
    /// before the most recent recorded traffic change (none recorded: refused, never guessed).
    Pin {
        function: String,
        alias: String,
    },
    /// Reserved concurrency: a number, or `None` to remove the reservation.
    SetConcurrency {
        function: String,
        value: Option<i32>,
    },
    /// Reserved concurrency 0: the function stops taking traffic.
    Kill {
        function: String,
    },
    /// Back to what the last kill recorded.
    Revive {
        function: String,
    },
    /// Pause or resume a trigger: an EventBridge rule or an event source mapping.
    SetTrigger {
        kind: TriggerKind,
        id: String,
        enabled: bool,
    },
    /// A service's Route 53 weights: drain a region, restore it, set weights, or put members
    /// back as recorded.
    Service {
        service: Box<crate::config::ServiceSettings>,
        change: super::service::ServiceChange,
        /// Past the last-healthy-region guard (a typed confirmation).
        force: bool,
    },
    /// Revert an audited action to its recorded "before".
    Undo {
        record: Box<Record>,
    },
}

impl Request {
    /// What this request is, for the one table of what each kind of action needs.
    pub fn kind(&self) -> Kind {
        match self {
            Request::Invoke(_) => Kind::Invoke,
            Request::SetWeight { .. } => Kind::TrafficSet,
            Request::Promote { .. } | Request::PromoteTo { .. } => Kind::TrafficPromote,
            Request::Rollback { .. } => Kind::TrafficRollback,
            Request::RouteTo { .. } => Kind::TrafficRestore,
            Request::Pin { .. } => Kind::TrafficPin,
            Request::SetConcurrency { .. } => Kind::Concurrency,
            Request::Kill { .. } => Kind::Kill,
            Request::Revive { .. } => Kind::Revive,
            Request::SetTrigger { .. } => Kind::Trigger,
            Request::Service { change, .. } => match change {
                super::service::ServiceChange::Drain(_) => Kind::ServiceDrain,
                super::service::ServiceChange::Restore(_) => Kind::ServiceRestore,
                _ => Kind::ServiceWeights,
            },
            Request::Undo { .. } => Kind::Undo,
        }
    }

    pub fn needs(&self) -> Tier {
        self.kind().needs()
    }

    /// Checks what can be checked without asking AWS.
    pub fn validate(&self) -> Result<(), OpsError> {
        if let Some(function) = self.function() {
            if matches!(self, Request::Invoke(_)) && function.is_empty() {
                return Err(OpsError::Invalid(
                    "no function named: lops invoke FUNCTION[:QUALIFIER]".into(),
                ));
            }
            check_function(function)?;
        }
        if let Some(alias) = self.alias() {
            check_alias(alias)?;
        }
        match self {
            Request::SetWeight {
                weight, version, ..
            } => {
                check_weight(*weight)?;
                check_version(version)
            }
            Request::SetConcurrency { value: Some(n), .. } if *n < 0 => Err(OpsError::Invalid(
                format!("reserved concurrency {n} is negative: give 0 or more"),
            )),
            Request::Invoke(r) => {
                super::payload::check_payload_size(r.payload.len() as u64, r.asynchronous)
                    .map_err(OpsError::Invalid)
            }
            _ => Ok(()),
        }
    }

    /// The alias it acts on, where it acts on one.
    pub fn alias(&self) -> Option<&str> {
        match self {
            Request::SetWeight { alias, .. }
            | Request::Promote { alias, .. }
            | Request::Rollback { alias, .. }
            | Request::PromoteTo { alias, .. }
            | Request::RouteTo { alias, .. }
            | Request::Pin { alias, .. } => Some(alias),
            _ => None,
        }
    }

    /// The function it acts on, where it acts on one.
    pub fn function(&self) -> Option<&str> {
        match self {
            Request::Invoke(r) => Some(&r.function),
            Request::SetWeight { function, .. }
            | Request::Promote { function, .. }
            | Request::Rollback { function, .. }
            | Request::PromoteTo { function, .. }
            | Request::RouteTo { function, .. }
            | Request::Pin { function, .. }
            | Request::SetConcurrency { function, .. }
            | Request::Kill { function }
            | Request::Revive { function } => Some(function),
            Request::SetTrigger { .. } | Request::Service { .. } | Request::Undo { .. } => None,
        }
    }

    /// What it acts on, as previews and the audit log name it: `orders-api:live`,
    /// `orders-api`, `rule/nightly`.
    pub fn target(&self) -> String {
        match self {
            Request::Invoke(r) => match &r.qualifier {
                Some(q) => format!("{}:{q}", r.function),
                None => r.function.clone(),
            },
            Request::SetWeight {
                function, alias, ..
            }
            | Request::Promote { function, alias }
            | Request::Rollback { function, alias }
            | Request::PromoteTo {
                function, alias, ..
            }
            | Request::RouteTo {
                function, alias, ..
            }
            | Request::Pin { function, alias } => format!("{function}:{alias}"),
            Request::SetConcurrency { function, .. }
            | Request::Kill { function }
            | Request::Revive { function } => function.clone(),
            Request::SetTrigger { kind, id, .. } => format!("{}/{id}", kind.as_str()),
            Request::Service { service, .. } => service.name.clone(),
            Request::Undo { record } => record.target.clone(),
        }
    }

    /// The audit record's action name.
    pub fn name(&self) -> &'static str {
        match self {
            Request::SetTrigger { enabled: true, .. } => "trigger.enable",
            Request::SetTrigger { enabled: false, .. } => "trigger.disable",
            other => other.kind().name(),
        }
    }
}

/// A reserved concurrency as typed in either face: a whole number 0 or more, or `none` (no
/// reservation). Nothing typed is not `none`: removing a reservation (a killed function's 0
/// included) is asked for by name.
pub fn parse_concurrency(text: &str) -> Result<Option<i32>, OpsError> {
    let text = text.trim();
    if text.eq_ignore_ascii_case("none") {
        return Ok(None);
    }
    if text.is_empty() {
        return Err(OpsError::Invalid(
            "no concurrency given: give a whole number ≥ 0, or none (no reservation)".into(),
        ));
    }
    match text.parse::<i64>() {
        Ok(n) if n < 0 => Err(OpsError::Invalid(format!(
            "reserved concurrency {n} is negative: give 0 or more, or none"
        ))),
        Ok(n) => i32::try_from(n).map(Some).map_err(|_| {
            OpsError::Invalid(format!(
                "reserved concurrency {n} is too large: no account allows that many concurrent \
                 executions"
            ))
        }),
        Err(_) if text.chars().all(|c| c.is_ascii_digit()) => Err(OpsError::Invalid(format!(
            "reserved concurrency {text} is too large: no account allows that many concurrent \
             executions"
        ))),
        // What was typed, cut: a pasted page pushed what to do off the screen.
        Err(_) => Err(OpsError::Invalid(format!(
            "'{}' is not a concurrency: give a whole number ≥ 0, or none",
            crate::format::truncate(text, TYPED_SHOWN)
        ))),
    }
}

/// How much of a value typed is quoted back in its refusal (the rest is cut, marked `…`).
const TYPED_SHOWN: usize = 40;

/// A weight as typed in either face, checked: 0 ≤ weight < 1.
pub fn parse_weight(text: &str) -> Result<f64, OpsError> {
    let text = text.trim();
    // A share as the screens show it (`10%`) is that fraction.
    let (number, percent) = match text.strip_suffix('%') {
        Some(n) => (n.trim_end(), true),
        None => (text, false),
    };
    let weight: f64 = number.parse().map_err(|_| {
        OpsError::Invalid(format!(
            "'{}' is not a number: give 0 ≤ weight < 1, or a percent (0.1 or 10%)",
            crate::format::truncate(text, TYPED_SHOWN)
        ))
    })?;
    let weight = if percent {
        hundredth(number, weight)
    } else {
        weight
    };
    if !weight.is_finite() {
        // Said as typed: `1e309` reads as infinity, which the user never wrote.
        return Err(OpsError::Invalid(format!(
            "weight '{text}' is out of range: give 0 ≤ weight < 1, or a percent (0.1 or 10%)"
        )));
    }
    // A share too small for a number to hold (`1e-400`) reads as 0, which would take the new
    // version's traffic away: refused, as typed.
    let mantissa = number.split(['e', 'E']).next().unwrap_or("");
    if weight == 0.0 && mantissa.chars().any(|c| ('1'..='9').contains(&c)) {
        if mantissa.trim_start().starts_with('-') {
            return Err(OpsError::Invalid(format!(
                "weight '{}' is negative: give 0 ≤ weight < 1 (the share of the new version; 0 \
                 sends it nothing)",
                crate::format::truncate(text, TYPED_SHOWN)
            )));
        }
        return Err(OpsError::Invalid(format!(
            "weight '{}' is too small to write: it would be 0 (no traffic to the new version); \
             give 0 for none, or a share such as 0.001 or 0.1%",
            crate::format::truncate(text, TYPED_SHOWN)
        )));
    }
    if !percent && weight == 1.0 {
        return Err(OpsError::Invalid(
            "weight 1 is out of range: give 0 ≤ weight < 1 — all traffic to the new version is \
             a promote (`P`, `lops traffic promote`); for 1 percent, 0.01 or 1%"
                .into(),
        ));
    }
    if !percent && weight == 100.0 {
        // 100 percent is no weight either (its advice offered 1 and 100%, both refused).
        return Err(OpsError::Invalid(
            "weight 100 is out of range: give 0 ≤ weight < 1 — all traffic to the new version \
             is a promote (`P`, `lops traffic promote`)"
                .into(),
        ));
    }
    if !percent && (1.0..100.0).contains(&weight) && weight.is_finite() {
        // "25" is most likely 25 %: said, not guessed.
        return Err(OpsError::Invalid(format!(
            "weight {weight} is out of range: give 0 ≤ weight < 1 — for {weight} percent, \
             {} or {weight}%",
            weight / 100.0
        )));
    }
    check_weight(weight)?;
    Ok(weight)
}

/// `number` percent as the fraction its decimal digits say: 14.3 % is 0.143, not
/// 14.3 / 100 = 0.14300000000000002 (which would be written to the alias as typed).
pub fn hundredth(number: &str, value: f64) -> f64 {
    format!("{}e-2", number.trim())
        .parse()
        .unwrap_or(value / 100.0)
}

pub fn check_weight(weight: f64) -> Result<(), OpsError> {
    // Below 0: no share is negative (a promote is the advice for 1 and above).
    if weight < 0.0 {
        return Err(OpsError::Invalid(format!(
            "weight {weight} is negative: give 0 ≤ weight < 1 (the share of the new version; \
             0 sends it nothing)"
        )));
    }
    if !weight.is_finite() || !(0.0..1.0).contains(&weight) {
        return Err(OpsError::Invalid(format!(
            "weight {weight} is out of range: give 0 ≤ weight < 1 (the share of the new version; \
             all traffic is a promote: `P`, `lops traffic promote`)"
        )));
    }
    Ok(())
}

/// An alias name as Lambda takes it: 1 to 128 letters, digits, `-` and `_`, not all digits
/// (that would be a version), so not `$LATEST` either.
/// A function's name as Lambda names it: 1 to 64 letters, digits, `-` or `_`. An ARN is
/// refused with the name and region it holds (lops acts on a name in the regions chosen, so an
/// ARN naming another region or account would mislead): the message says what to pass instead.
pub fn check_function(name: &str) -> Result<(), OpsError> {
    let ok = !name.is_empty()
        && name.len() <= 64
        && name
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_');
    if ok {
        return Ok(());
    }
    if name.trim().is_empty() {
        return Err(OpsError::Invalid(
            "no function named: give the function's name".into(),
        ));
    }
    let parts: Vec<&str> = name.split(':').collect();
    if let ["arn", _, "lambda", region, _, "function", function, ..] = parts.as_slice() {
        return Err(OpsError::Invalid(format!(
            "'{name}' is an ARN: give the function's name, {function}, and its region with \
             --region {region}"
        )));
    }
    let shown: String = name.chars().take(80).collect();
    Err(OpsError::Invalid(format!(
        "'{shown}' is not a function name: 1 to 64 letters, digits, '-' or '_' (a qualifier \
         goes after a colon only where a command takes one, as `lops invoke NAME:ALIAS`)"
    )))
}

pub fn check_alias(alias: &str) -> Result<(), OpsError> {
    let ok = !alias.is_empty()
        && alias.len() <= 128
        && alias
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_')
        && !alias.chars().all(|c| c.is_ascii_digit());
    if ok {
        return Ok(());
    }
    Err(OpsError::Invalid(format!(
        "'{alias}' is not an alias name (letters, digits, - and _, not only digits; $LATEST \
         and version numbers are versions): name the alias, e.g. live"
    )))
}

pub(super) fn check_version(version: &str) -> Result<(), OpsError> {
    if version == "$LATEST" {
        return Err(OpsError::Invalid(
            "$LATEST cannot carry alias weights: publish a version first (aws lambda publish-version)".into(),
        ));
    }
    if version.is_empty() || !version.chars().all(|c| c.is_ascii_digit()) {
        // `v2` is how lops writes a version; the number alone is what Lambda takes.
        let number = version.trim().trim_start_matches(['v', 'V']);
        let hint = match !number.is_empty() && number.chars().all(|c| c.is_ascii_digit()) {
            true => format!(": give the number alone ({number})"),
            false => ": give its number, e.g. 2 (`lops traffic show FUNCTION` lists them)".into(),
        };
        return Err(OpsError::Invalid(format!(
            "'{version}' is not a published version number{hint}"
        )));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn alias_names_are_what_lambda_takes() {
        for ok in ["live", "blue-green_2", "v1"] {
            assert!(check_alias(ok).is_ok(), "{ok}");
        }
        for bad in ["$LATEST", "", "12", "a:b", &"a".repeat(129)] {
            assert!(check_alias(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn weights_outside_zero_to_one_are_refused() {
        for w in [1.7, 1.0, f64::NAN, f64::INFINITY] {
            let e = check_weight(w).unwrap_err();
            assert!(e.to_string().contains("out of range"), "{e}");
        }
        // Negative: said as such, not answered with a promote (advice for 1 and above).
        let e = check_weight(-0.1).unwrap_err().to_string();
        assert!(e.contains("is negative") && !e.contains("promote"), "{e}");
        assert!(check_weight(0.0).is_ok());
        assert!(check_weight(0.25).is_ok());
    }

    #[test]
    fn latest_and_non_numbers_are_not_versions() {
        assert!(
            check_version("$LATEST")
                .unwrap_err()
                .to_string()
                .contains("publish a version")
        );
        let e = check_version("v2").unwrap_err().to_string();
        assert!(e.ends_with("give the number alone (2)"), "{e}");
        assert!(check_version("12").is_ok());
    }

    /// One parser for both faces: what one refuses, the other does too.
    #[test]
    fn concurrency_and_weight_are_parsed_once() {
        assert_eq!(parse_concurrency(" 5 ").unwrap(), Some(5));
        assert_eq!(parse_concurrency("NONE").unwrap(), None);
        for (text, says) in [
            ("", "no concurrency given"),
            ("  ", "no concurrency given"),
            ("-1", "negative"),
            ("99999999999999999999", "too large"),
            ("3000000000", "too large"),
            ("0.5", "not a concurrency"),
            ("1e9", "not a concurrency"),
        ] {
            let e = parse_concurrency(text).unwrap_err().to_string();
            assert!(e.contains(says), "{text:?}: {e}");
        }
        assert_eq!(parse_weight(" 0.25").unwrap(), 0.25);
        // A share as the screens show it.
        assert_eq!(parse_weight("25%").unwrap(), 0.25);
        assert_eq!(parse_weight("10 %").unwrap(), 0.1);
        // The decimal typed, not a division's rounding (0.14300000000000002 written as typed).
        assert_eq!(parse_weight("14.3%").unwrap(), 0.143);
        assert_eq!(parse_weight("0.07%").unwrap(), 0.0007);
        for text in [
            "1", "1.7", "NaN", "inf", "-0.1", "", "x", "100%", "-5%", "%",
        ] {
            assert!(parse_weight(text).is_err(), "{text:?}");
        }
        // Too small for a number: not taken for 0 (which removes the new version's traffic).
        for text in ["1e-400", "5e-330%", "0.000001e-320"] {
            let e = parse_weight(text).unwrap_err().to_string();
            assert!(e.contains("too small"), "{text}: {e}");
        }
        let e = parse_weight("-1e-400").unwrap_err().to_string();
        assert!(e.contains("is negative"), "{e}");
        for text in ["0", "0.0", "0e5", "0%", "-0"] {
            assert_eq!(parse_weight(text).unwrap(), 0.0, "{text}");
        }
        // A page pasted in: quoted cut, what to do still said.
        let long = "x".repeat(400);
        let e = parse_weight(&long).unwrap_err().to_string();
        assert!(
            e.len() < 200 && e.contains("…") && e.contains("give 0 ≤ weight"),
            "{e}"
        );
        let e = parse_concurrency(&long).unwrap_err().to_string();
        assert!(
            e.len() < 200 && e.contains("…") && e.contains("whole number"),
            "{e}"
        );
        // "25" is said as the percent it most likely is.
        let e = parse_weight("25").unwrap_err().to_string();
        assert!(e.contains("0.25 or 25%"), "{e}");
        // "1" most likely means all traffic: promote is named first; "100" (and "1e2") too,
        // never "1 or 100%", which are refused.
        for text in ["1", "100", "1e2"] {
            let e = parse_weight(text).unwrap_err().to_string();
            assert!(
                e.contains("`lops traffic promote`") && !e.contains("100%"),
                "{e}"
            );
        }
        // Beyond a double: said as typed, not as the infinity it reads as.
        for text in ["1e309", "1e309%"] {
            let e = parse_weight(text).unwrap_err().to_string();
            assert!(
                e.contains(&format!("'{text}'")) && !e.contains("inf"),
                "{e}"
            );
        }
    }
}
