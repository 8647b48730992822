//! `lops iam-policy`: the least-privilege IAM policy for exactly the calls lops makes in a tier.

use serde_json::{Value, json};

use super::Tier;

/// (SDK operation name as counted by lops, IAM action, lowest tier that makes the call).
pub const OPERATIONS: &[(&str, &str, Tier)] = &[
    ("ListFunctions", "lambda:ListFunctions", Tier::Read),
    (
        "GetAccountSettings",
        "lambda:GetAccountSettings",
        Tier::Read,
    ),
    (
        "ListVersionsByFunction",
        "lambda:ListVersionsByFunction",
        Tier::Read,
    ),
    ("ListAliases", "lambda:ListAliases", Tier::Read),
    ("GetAlias", "lambda:GetAlias", Tier::Read),
    ("GetFunction", "lambda:GetFunction", Tier::Read),
    (
        "GetFunctionConcurrency",
        "lambda:GetFunctionConcurrency",
        Tier::Read,
    ),
    (
        "ListProvisionedConcurrencyConfigs",
        "lambda:ListProvisionedConcurrencyConfigs",
        Tier::Read,
    ),
    ("GetMetricData", "cloudwatch:GetMetricData", Tier::Read),
    ("DescribeAlarms", "cloudwatch:DescribeAlarms", Tier::Read),
    ("GetCallerIdentity", "sts:GetCallerIdentity", Tier::Read),
    // AWS's managed ReadOnlyAccess lacks this one; `lops logs` needs it.
    ("FilterLogEvents", "logs:FilterLogEvents", Tier::Read),
    ("Invoke", "lambda:InvokeFunction", Tier::Invoke),
    ("UpdateAlias", "lambda:UpdateAlias", Tier::Change),
    (
        "PutFunctionConcurrency",
        "lambda:PutFunctionConcurrency",
        Tier::Change,
    ),
    (
        "DeleteFunctionConcurrency",
        "lambda:DeleteFunctionConcurrency",
        Tier::Change,
    ),
];

/// The IAM action for an SDK operation lops calls, if it is one lops knows.
pub fn iam_action(operation: &str) -> Option<(&'static str, Tier)> {
    OPERATIONS
        .iter()
        .find(|(op, _, _)| *op == operation)
        .map(|(_, action, tier)| (*action, *tier))
}

pub fn policy(tier: Tier) -> Value {
    let mut actions: Vec<&str> = OPERATIONS
        .iter()
        .filter(|(_, _, needed)| tier.allows(*needed))
        .map(|(_, action, _)| *action)
        .collect();
    actions.sort_unstable();
    actions.dedup();
    json!({
        "Version": "2012-10-17",
        "Statement": [{
            "Sid": format!("Lops{}", match tier { Tier::Read => "Read", Tier::Invoke => "Invoke", Tier::Change => "Change" }),
            "Effect": "Allow",
            "Action": actions,
            "Resource": "*",
        }],
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tiers_only_add_actions() {
        let actions = |t| {
            policy(t)["Statement"][0]["Action"]
                .as_array()
                .map(Vec::len)
                .unwrap_or(0)
        };
        assert!(actions(Tier::Read) < actions(Tier::Invoke));
        assert!(actions(Tier::Invoke) < actions(Tier::Change));
        let read = policy(Tier::Read).to_string();
        assert!(!read.contains("InvokeFunction") && !read.contains("UpdateAlias"));
        assert!(read.contains("cloudwatch:GetMetricData"));
    }
}
