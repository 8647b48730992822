//! A function's resource policy as restore writes it back: one permission per statement
//! (AddPermission's shape), with the snapshot's region and account rewritten to the target's
//! where a statement names them.

use serde_json::Value;

pub use crate::provider::function::Permission;

/// The conditions AddPermission can express: (operator, key) → which field holds it.
const EXPRESSIBLE: &[(&str, &str)] = &[
    ("ArnLike", "AWS:SourceArn"),
    ("ArnEquals", "AWS:SourceArn"),
    ("StringEquals", "AWS:SourceAccount"),
    ("StringEquals", "lambda:FunctionUrlAuthType"),
    ("StringEquals", "aws:PrincipalOrgID"),
    ("StringEquals", "lambda:EventSourceToken"),
];

impl Permission {
    pub fn describe(&self) -> String {
        let mut text = format!("{} may {} ({})", self.principal, self.action, self.sid);
        if let Some(q) = &self.qualifier {
            text.push_str(&format!(" on {q}"));
        }
        if let Some(arn) = &self.source_arn {
            text.push_str(&format!(" from {arn}"));
        }
        if let Some(account) = &self.source_account {
            text.push_str(&format!(" of account {account}"));
        }
        text
    }

    /// The same permission with the snapshot's region and account replaced by the target's
    /// where its source names them.
    pub fn rewritten(&self, from: (&str, &str), to: (&str, &str)) -> Permission {
        let mut p = self.clone();
        if let Some(arn) = &p.source_arn {
            let mut parts: Vec<String> = arn.split(':').map(str::to_string).collect();
            if parts.len() > 4 {
                if parts[3] == from.0 {
                    parts[3] = to.0.to_string();
                }
                if parts[4] == from.1 && !to.1.is_empty() {
                    parts[4] = to.1.to_string();
                }
            }
            p.source_arn = Some(parts.join(":"));
        }
        if p.source_account.as_deref() == Some(from.1) && !to.1.is_empty() {
            p.source_account = Some(to.1.to_string());
        }
        if p.principal == from.1 && !to.1.is_empty() {
            p.principal = to.1.to_string();
        }
        p
    }
}

/// The ids of every statement of a policy document, whether lops can write it back or not,
/// with the alias or version it is on (the same id may be on the function and on an alias).
pub fn sids(policy: &str) -> std::collections::BTreeSet<(String, Option<String>)> {
    let doc: Value = serde_json::from_str(policy).unwrap_or_default();
    let statements = crate::provider::function::policy_statements(&doc);
    statements
        .iter()
        .filter_map(|s| Some((s["Sid"].as_str()?.to_string(), qualifier_of(s))))
        .collect()
}

/// `arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER`: the alias or version a statement is
/// on.
fn qualifier_of(statement: &Value) -> Option<String> {
    statement["Resource"]
        .as_str()
        .and_then(|r| r.split(':').nth(7))
        .filter(|q| !q.is_empty())
        .map(str::to_string)
}

/// The statements of a policy document lops can write back, and a note for each it cannot.
pub fn parse(policy: &str) -> (Vec<Permission>, Vec<String>) {
    let Ok(doc) = serde_json::from_str::<Value>(policy) else {
        return (
            Vec::new(),
            vec!["the resource policy in the snapshot is not JSON: not restored".into()],
        );
    };
    let statements = crate::provider::function::policy_statements(&doc);
    let mut out = Vec::new();
    let mut notes = Vec::new();
    for s in statements {
        let sid = s["Sid"].as_str().unwrap_or_default().to_string();
        let action = match &s["Action"] {
            Value::String(a) => a.clone(),
            Value::Array(a) if a.len() == 1 => a[0].as_str().unwrap_or_default().to_string(),
            _ => String::new(),
        };
        let principal = match &s["Principal"] {
            Value::String(p) => Some(p.clone()),
            Value::Object(o) => o
                .get("Service")
                .or_else(|| o.get("AWS"))
                .and_then(Value::as_str)
                .map(|p| {
                    // `arn:aws:iam::123456789012:root` is the account itself.
                    match p.strip_suffix(":root").and_then(|a| a.rsplit(':').next()) {
                        Some(account) if p.starts_with("arn:") => account.to_string(),
                        _ => p.to_string(),
                    }
                }),
            _ => None,
        };
        // Keys are matched without regard to case, as IAM matches them.
        let condition = |op: &str, key: &str| {
            s["Condition"][op]
                .as_object()?
                .iter()
                .find(|(k, _)| k.eq_ignore_ascii_case(key))
                .and_then(|(_, v)| v.as_str().map(str::to_string))
        };
        let (Some(principal), false, false) = (principal, sid.is_empty(), action.is_empty()) else {
            notes.push(format!(
                "resource policy statement '{sid}' has a shape AddPermission cannot write: apply it by hand"
            ));
            continue;
        };
        if s["Effect"].as_str() != Some("Allow") {
            notes.push(format!(
                "resource policy statement '{sid}' is not an Allow: apply it by hand"
            ));
            continue;
        }
        // A condition it cannot write back would make the restored statement wider than the
        // original: such a statement is left out, and said.
        let inexpressible: Vec<String> = s["Condition"]
            .as_object()
            .into_iter()
            .flat_map(|ops| ops.iter())
            .flat_map(|(op, keys)| {
                keys.as_object()
                    .into_iter()
                    .flat_map(|k| k.iter())
                    .filter(move |(key, value)| {
                        !value.is_string()
                            || !EXPRESSIBLE
                                .iter()
                                .any(|(o, k)| o == op && k.eq_ignore_ascii_case(key))
                    })
                    .map(move |(key, _)| format!("{op} {key}"))
            })
            .collect();
        if !inexpressible.is_empty() {
            notes.push(format!(
                "resource policy statement '{sid}' has conditions AddPermission cannot write \
                 ({}): not restored (it would allow more than the original); apply it by hand",
                inexpressible.join(", ")
            ));
            continue;
        }
        out.push(Permission {
            sid,
            action,
            principal,
            source_arn: condition("ArnLike", "AWS:SourceArn")
                .or_else(|| condition("ArnEquals", "AWS:SourceArn")),
            source_account: condition("StringEquals", "AWS:SourceAccount"),
            url_auth_type: condition("StringEquals", "lambda:FunctionUrlAuthType"),
            org_id: condition("StringEquals", "aws:PrincipalOrgID"),
            event_source_token: condition("StringEquals", "lambda:EventSourceToken"),
            // `arn:aws:lambda:REGION:ACCOUNT:function:NAME:QUALIFIER`: on an alias or version.
            qualifier: qualifier_of(&s),
        });
    }
    (out, notes)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn statements_become_permissions_and_sources_move_with_the_restore() {
        let policy = r#"{"Version":"2012-10-17","Statement":[
            {"Sid":"events","Effect":"Allow","Principal":{"Service":"events.amazonaws.com"},
             "Action":"lambda:InvokeFunction","Resource":"arn:aws:lambda:us-east-1:111:function:f",
             "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:events:us-east-1:111:rule/nightly"}}},
            {"Sid":"partner","Effect":"Allow","Principal":{"AWS":"arn:aws:iam::222:root"},
             "Action":"lambda:InvokeFunction","Resource":"*"},
            {"Sid":"deny","Effect":"Deny","Principal":"*","Action":"lambda:InvokeFunction"}]}"#;
        let (permissions, notes) = parse(policy);
        assert_eq!(permissions.len(), 2);
        assert_eq!(notes.len(), 1, "{notes:?}");
        assert_eq!(permissions[1].principal, "222");
        let moved = permissions[0].rewritten(("us-east-1", "111"), ("eu-west-1", "333"));
        assert_eq!(
            moved.source_arn.as_deref(),
            Some("arn:aws:events:eu-west-1:333:rule/nightly")
        );
        assert_eq!(
            permissions[1]
                .rewritten(("us-east-1", "111"), ("eu-west-1", "333"))
                .principal,
            "222"
        );
        assert!(parse("not json").0.is_empty());
    }

    #[test]
    fn a_statement_with_a_condition_addpermission_cannot_write_is_left_out_and_said() {
        let policy = r#"{"Statement":[
            {"Sid":"alexa","Effect":"Allow","Principal":{"Service":"alexa-appkit.amazon.com"},
             "Action":"lambda:InvokeFunction",
             "Condition":{"StringEquals":{"lambda:EventSourceToken":"amzn1.ask.skill.1"}}},
            {"Sid":"narrow","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},
             "Action":"lambda:InvokeFunction",
             "Condition":{"ArnLike":{"AWS:SourceArn":"arn:aws:s3:::b"},
                          "IpAddress":{"aws:SourceIp":"10.0.0.0/8"}}},
            {"Sid":"many","Effect":"Allow","Principal":{"Service":"s3.amazonaws.com"},
             "Action":"lambda:InvokeFunction",
             "Condition":{"StringEquals":{"AWS:SourceAccount":["1","2"]}}}]}"#;
        let (permissions, notes) = parse(policy);
        assert_eq!(permissions.len(), 1, "{permissions:?}");
        assert_eq!(
            permissions[0].event_source_token.as_deref(),
            Some("amzn1.ask.skill.1")
        );
        assert_eq!(notes.len(), 2, "{notes:?}");
        assert!(notes[0].contains("narrow") && notes[0].contains("IpAddress aws:SourceIp"));
        assert!(notes[1].contains("many"));
    }
}
