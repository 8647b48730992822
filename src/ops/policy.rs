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
    // Following logs streams them (Live Tail); without it lops polls FilterLogEvents.
    ("StartLiveTail", "logs:StartLiveTail", Tier::Read),
    // Backups read every piece of a function…
    (
        "ListEventSourceMappings",
        "lambda:ListEventSourceMappings",
        Tier::Read,
    ),
    (
        "GetFunctionUrlConfig",
        "lambda:GetFunctionUrlConfig",
        Tier::Read,
    ),
    ("GetPolicy", "lambda:GetPolicy", Tier::Read),
    (
        "GetFunctionEventInvokeConfig",
        "lambda:GetFunctionEventInvokeConfig",
        Tier::Read,
    ),
    ("GetLayerVersion", "lambda:GetLayerVersion", Tier::Read),
    // Whether a container image is in the target region's registry (before a restore).
    ("DescribeImages", "ecr:DescribeImages", Tier::Read),
    (
        "GetFunctionConfiguration",
        "lambda:GetFunctionConfiguration",
        Tier::Read,
    ),
    // Services behind Route 53: their records and health checks; a change writes one batch
    // and waits for it to be everywhere.
    (
        "ListResourceRecordSets",
        "route53:ListResourceRecordSets",
        Tier::Read,
    ),
    (
        "GetHealthCheckStatus",
        "route53:GetHealthCheckStatus",
        Tier::Read,
    ),
    ("GetHealthCheck", "route53:GetHealthCheck", Tier::Read),
    (
        "ChangeResourceRecordSets",
        "route53:ChangeResourceRecordSets",
        Tier::Change,
    ),
    ("GetChange", "route53:GetChange", Tier::Change),
    // Triggers.
    (
        "ListRuleNamesByTarget",
        "events:ListRuleNamesByTarget",
        Tier::Read,
    ),
    ("DescribeRule", "events:DescribeRule", Tier::Read),
    // Who else a rule invokes (named before pausing it), and a layer copy already published.
    ("ListTargetsByRule", "events:ListTargetsByRule", Tier::Read),
    ("ListLayerVersions", "lambda:ListLayerVersions", Tier::Read),
    (
        "GetEventSourceMapping",
        "lambda:GetEventSourceMapping",
        Tier::Read,
    ),
    // …and the backup bucket (the writes only add objects: see BACKUP_WRITES).
    ("HeadBucket", "s3:ListBucket", Tier::Read),
    ("ListObjectsV2", "s3:ListBucket", Tier::Read),
    ("HeadObject", "s3:GetObject", Tier::Read),
    ("GetObject", "s3:GetObject", Tier::Read),
    ("PutObject", "s3:PutObject", Tier::Read),
    ("CopyObject", "s3:PutObject", Tier::Read),
    ("CreateMultipartUpload", "s3:PutObject", Tier::Read),
    ("UploadPartCopy", "s3:PutObject", Tier::Read),
    ("CompleteMultipartUpload", "s3:PutObject", Tier::Read),
    (
        "AbortMultipartUpload",
        "s3:AbortMultipartUpload",
        Tier::Read,
    ),
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
    // Restore and prune.
    ("CreateFunction", "lambda:CreateFunction", Tier::Change),
    (
        "UpdateFunctionCode",
        "lambda:UpdateFunctionCode",
        Tier::Change,
    ),
    (
        "UpdateFunctionConfiguration",
        "lambda:UpdateFunctionConfiguration",
        Tier::Change,
    ),
    ("PublishVersion", "lambda:PublishVersion", Tier::Change),
    ("CreateAlias", "lambda:CreateAlias", Tier::Change),
    ("DeleteAlias", "lambda:DeleteAlias", Tier::Change),
    ("DeleteFunction", "lambda:DeleteFunction", Tier::Change),
    ("TagResource", "lambda:TagResource", Tier::Change),
    ("UntagResource", "lambda:UntagResource", Tier::Change),
    (
        "CreateEventSourceMapping",
        "lambda:CreateEventSourceMapping",
        Tier::Change,
    ),
    (
        "DeleteEventSourceMapping",
        "lambda:DeleteEventSourceMapping",
        Tier::Change,
    ),
    (
        "PublishLayerVersion",
        "lambda:PublishLayerVersion",
        Tier::Change,
    ),
    (
        "DeleteLayerVersion",
        "lambda:DeleteLayerVersion",
        Tier::Change,
    ),
    (
        "PutProvisionedConcurrencyConfig",
        "lambda:PutProvisionedConcurrencyConfig",
        Tier::Change,
    ),
    (
        "DeleteProvisionedConcurrencyConfig",
        "lambda:DeleteProvisionedConcurrencyConfig",
        Tier::Change,
    ),
    (
        "CreateFunctionUrlConfig",
        "lambda:CreateFunctionUrlConfig",
        Tier::Change,
    ),
    (
        "UpdateFunctionUrlConfig",
        "lambda:UpdateFunctionUrlConfig",
        Tier::Change,
    ),
    (
        "DeleteFunctionUrlConfig",
        "lambda:DeleteFunctionUrlConfig",
        Tier::Change,
    ),
    (
        "PutFunctionEventInvokeConfig",
        "lambda:PutFunctionEventInvokeConfig",
        Tier::Change,
    ),
    (
        "DeleteFunctionEventInvokeConfig",
        "lambda:DeleteFunctionEventInvokeConfig",
        Tier::Change,
    ),
    ("AddPermission", "lambda:AddPermission", Tier::Change),
    ("RemovePermission", "lambda:RemovePermission", Tier::Change),
    ("AssumeRole", "sts:AssumeRole", Tier::Change),
    ("DeleteObjects", "s3:DeleteObject", Tier::Change),
    ("EnableRule", "events:EnableRule", Tier::Change),
    ("DisableRule", "events:DisableRule", Tier::Change),
    (
        "UpdateEventSourceMapping",
        "lambda:UpdateEventSourceMapping",
        Tier::Change,
    ),
];

/// IAM actions that write to the backup bucket. The read tier may take backups (they only add
/// objects), so these go in their own statement, limited to the backup bucket.
pub const BACKUP_WRITES: &[&str] = &["s3:PutObject", "s3:AbortMultipartUpload"];

/// Actions no SDK call of lops names but that its calls need: restore hands the function's
/// execution role to Lambda.
const IMPLIED: &[(&str, Tier)] = &[("iam:PassRole", Tier::Change)];

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
        .chain(
            IMPLIED
                .iter()
                .filter(|(_, needed)| tier.allows(*needed))
                .map(|(a, _)| *a),
        )
        .collect();
    actions.sort_unstable();
    actions.dedup();
    let (writes, rest): (Vec<&str>, Vec<&str>) = actions
        .into_iter()
        .partition(|a| BACKUP_WRITES.contains(a) && tier != Tier::Change);
    let mut statements = vec![json!({
        "Sid": format!("Lops{}", match tier { Tier::Read => "Read", Tier::Invoke => "Invoke", Tier::Change => "Change" }),
        "Effect": "Allow",
        "Action": rest,
        "Resource": "*",
    })];
    if !writes.is_empty() {
        statements.push(json!({
            "Sid": "LopsBackupWrites",
            "Effect": "Allow",
            "Action": writes,
            "Resource": "arn:aws:s3:::BACKUP-BUCKET/*",
        }));
        // A backup run removes the lease it wrote when it ends (left, it would hold every
        // prune's blob deletion off for hours): the only delete below the change tier.
        statements.push(json!({
            "Sid": "LopsBackupLeases",
            "Effect": "Allow",
            "Action": ["s3:DeleteObject"],
            "Resource": "arn:aws:s3:::BACKUP-BUCKET/PREFIX/leases/*",
        }));
    }
    json!({
        "Version": "2012-10-17",
        "Statement": statements,
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
        assert!(read.contains("logs:StartLiveTail") && read.contains("logs:FilterLogEvents"));
        // The read tier deletes only its own backup leases.
        let statements = policy(Tier::Read)["Statement"].clone();
        let deletes: Vec<&Value> = statements
            .as_array()
            .into_iter()
            .flatten()
            .filter(|s| s["Action"].to_string().contains("Delete"))
            .collect();
        assert_eq!(deletes.len(), 1, "{statements:#}");
        assert_eq!(
            deletes[0]["Resource"],
            "arn:aws:s3:::BACKUP-BUCKET/PREFIX/leases/*"
        );
    }

    /// Every SDK operation the AWS provider's source calls is in the table (so in some tier's
    /// policy): a call added without its IAM action would be denied under the generated policy.
    #[test]
    fn every_sdk_call_in_the_source_is_in_the_table() {
        const SOURCES: &[&str] = &[
            include_str!("../provider/aws/blob.rs"),
            include_str!("../provider/aws/call.rs"),
            include_str!("../provider/aws/clients.rs"),
            include_str!("../provider/aws/cloudwatch.rs"),
            include_str!("../provider/aws/dns.rs"),
            include_str!("../provider/aws/download.rs"),
            include_str!("../provider/aws/error.rs"),
            include_str!("../provider/aws/function.rs"),
            include_str!("../provider/aws/function_config.rs"),
            include_str!("../provider/aws/function_writes.rs"),
            include_str!("../provider/aws/guard.rs"),
            include_str!("../provider/aws/lambda.rs"),
            include_str!("../provider/aws/live_tail.rs"),
            include_str!("../provider/aws/log_events.rs"),
            include_str!("../provider/aws/mod.rs"),
            include_str!("../provider/aws/region_actions.rs"),
            include_str!("../provider/aws/triggers.rs"),
        ];
        const VERBS: &[&str] = &[
            "list", "get", "put", "delete", "update", "create", "describe", "start", "filter",
            "head", "copy", "upload", "complete", "abort", "publish", "invoke", "tag", "untag",
            "enable", "disable", "add", "remove", "assume", "change",
        ];
        // Builders' and answers' own methods that look like operations.
        const NOT_CALLS: &[&str] = &[
            "describe",
            "changes",
            "start_weights",
            "start_routing",
            "changes_anything",
            "change_info",
            "upload_id",
            "tags",
            "starting_position",
            "start",
            "invoke_mode",
            "headline",
            "headers",
            "disabled",
            "copy_part_result",
            "copy_object_result",
            "complete",
            "additional_version_weights",
        ];
        let mut missing = Vec::new();
        for text in SOURCES {
            for part in text.split('.').skip(1) {
                let Some(name) = part.strip_suffix("()").or_else(|| {
                    part.find("()")
                        .map(|i| &part[..i])
                        .filter(|n| n.chars().all(|c| c.is_ascii_lowercase() || c == '_'))
                }) else {
                    continue;
                };
                if name.is_empty()
                    || !name.chars().all(|c| c.is_ascii_lowercase() || c == '_')
                    || !VERBS
                        .iter()
                        .any(|v| name == *v || name.starts_with(&format!("{v}_")))
                    || NOT_CALLS.contains(&name)
                {
                    continue;
                }
                let camel: String = name
                    .split('_')
                    .map(|w| {
                        let mut c = w.chars();
                        c.next()
                            .map(|f| f.to_ascii_uppercase().to_string() + c.as_str())
                            .unwrap_or_default()
                    })
                    .collect();
                if iam_action(&camel).is_none() && !missing.contains(&camel) {
                    missing.push(camel);
                }
            }
        }
        assert!(
            missing.is_empty(),
            "called but not in the policy table: {missing:?}"
        );
    }
}
