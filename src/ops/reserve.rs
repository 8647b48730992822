//! A reservation's plan: the function's concurrency now → the value asked, checked against what
//! the account must keep unreserved (AWS refuses a reservation that leaves less than 100; the
//! preview says so instead of the write failing after the confirmation).

use serde_json::json;

use super::OpsError;
use super::plan::{Change, Plan, not_found};
use crate::provider::RegionActions;

/// What AWS keeps unreserved in every account and region.
const KEPT_UNRESERVED: i64 = 100;

pub(super) async fn reserve_plan<S: RegionActions>(
    source: &S,
    plan: impl Fn(String, serde_json::Value, serde_json::Value, Change, bool) -> Plan,
    function: &str,
    value: Option<i32>,
    destructive: bool,
) -> Result<Plan, OpsError> {
    let current = source
        .reserved_concurrency(function)
        .await
        .map_err(|e| not_found(e, format!("function {function}")))?;
    // Only a reservation that grows takes from the unreserved pool (asked only then).
    let more = i64::from(value.unwrap_or(0)) - i64::from(current.unwrap_or(0));
    let grows = value.is_some() && more > 0;
    let unreserved = match grows {
        true => source.unreserved_concurrency().await,
        false => None,
    };
    if let Some(unreserved) = unreserved
        && more > unreserved - KEPT_UNRESERVED
    {
        let most = i64::from(current.unwrap_or(0)) + (unreserved - KEPT_UNRESERVED).max(0);
        // A guard on the account's state (the value itself is valid): refused, exit 4.
        return Err(OpsError::Refused(format!(
            "a reservation of {} for {function} in {} takes {more} of the {unreserved} the \
             account leaves unreserved, and AWS keeps at least {KEPT_UNRESERVED} for the \
             functions without one: at most {most} here (raise the account's concurrency \
             quota, or lower another reservation)",
            value.unwrap_or(0),
            source.scope(),
        )));
    }
    let change = if current == value {
        Change::Nothing
    } else {
        Change::Reserve {
            function: function.into(),
            value,
            expected: current,
        }
    };
    let mut plan = plan(
        function.to_string(),
        json!({"reserved": current}),
        json!({"reserved": value}),
        change,
        destructive,
    );
    // The account's settings could not be read (denied, say): the preview says it is unchecked.
    if grows && unreserved.is_none() {
        plan.note = Some(
            "not checked against what the account leaves unreserved: its settings could not be \
             read — AWS refuses the write if too little is left"
                .into(),
        );
    }
    Ok(plan)
}

/// A batch's reservations that grow in one region take from one unreserved pool: together
/// they must leave AWS its 100, as each alone was checked to. When they would not, each is
/// skipped with the sum (none of them sent, so the batch never lands half of them); the rest of
/// the batch goes on.
pub(super) async fn pooled<S: RegionActions>(sources: &[&S], items: &mut [super::batch::Item]) {
    use super::batch::Item;
    let mut grows: std::collections::BTreeMap<usize, Vec<(usize, i64)>> = Default::default();
    for (i, item) in items.iter().enumerate() {
        if let Item::Ready { source, plan } = item
            && let Change::Reserve {
                value: Some(value),
                expected,
                ..
            } = &plan.change
        {
            let more = i64::from(*value) - i64::from(expected.unwrap_or(0));
            if more > 0 {
                grows.entry(*source).or_default().push((i, more));
            }
        }
    }
    for (source, list) in grows.into_iter().filter(|(_, l)| l.len() > 1) {
        let Some(region) = sources.get(source) else {
            continue;
        };
        let Some(unreserved) = region.unreserved_concurrency().await else {
            continue;
        };
        let total: i64 = list.iter().map(|(_, more)| more).sum();
        let room = (unreserved - KEPT_UNRESERVED).max(0);
        if total <= room {
            continue;
        }
        for (i, _) in &list {
            let Some(plan) = items[*i].plan() else {
                continue;
            };
            let error = OpsError::Refused(format!(
                "together the {} reservations growing in {} take {total} of the {unreserved} \
                 the account leaves unreserved, and AWS keeps at least {KEPT_UNRESERVED}: at \
                 most {room} more in all here (lower some, or set them apart)",
                list.len(),
                plan.scope,
            ));
            items[*i] = Item::Skipped {
                source,
                scope: plan.scope.clone(),
                target: plan.target.clone(),
                error,
            };
        }
    }
}
