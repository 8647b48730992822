//! What the audit log says about a target's past, as a pin or a revive needs it: the records
//! of changes made in the same region of the same account, through any of its profiles (the
//! caller's account from STS; a record or a caller without one is matched by profile).

use serde_json::Value;

use super::OpsError;
use super::audit::{AuditLog, Record};
use crate::provider::Scope;

pub(super) struct History<'a> {
    scope: &'a Scope,
    /// The caller's account, when STS named it.
    account: Option<String>,
}

impl<'a> History<'a> {
    pub(super) fn new(scope: &'a Scope, who: Option<&str>) -> Self {
        History {
            scope,
            account: who.and_then(super::payload::account_of).map(str::to_string),
        }
    }

    /// A record of a change in this scope's region of this account (any of its profiles).
    fn made_here(&self, r: &Record) -> bool {
        r.region == self.scope.region
            && match (&self.account, super::payload::account_of(&r.who)) {
                (Some(mine), Some(theirs)) => mine == theirs,
                _ => r.profile == self.scope.profile,
            }
    }

    /// The main version of the alias's last recorded routing that sent everything to one version:
    /// where a pin puts it back.
    pub(super) fn last_good_version(
        &self,
        audit: Option<&AuditLog>,
        function: &str,
        alias: &str,
    ) -> Result<Option<String>, OpsError> {
        let target = format!("{function}:{alias}");
        let log = audit.ok_or_else(|| {
            OpsError::Invalid("pin needs the audit log, which is not available".into())
        })?;
        let (records, _) = log
            .read()
            .map_err(|e| OpsError::Invalid(format!("pin cannot read the audit log: {e}")))?;
        Ok(records
            .iter()
            .rev()
            .filter(|r| r.target == target && self.made_here(r) && r.result == "ok")
            .filter(|r| r.action.starts_with("traffic."))
            .filter_map(|r| super::describe::routing_of(&r.before))
            .find(|(_, extra)| extra.is_none())
            .map(|(main, _)| main))
    }

    /// The reserved concurrency `function` had before its last recorded kill in `scope`.
    /// `killed_now`: the function's reservation is 0 as read now (a revive since then cannot
    /// be "already done").
    pub(super) fn reserved_before_kill(
        &self,
        audit: Option<&AuditLog>,
        function: &str,
        killed_now: bool,
    ) -> Result<Option<i32>, OpsError> {
        let log = audit.ok_or_else(|| {
            OpsError::Invalid("revive needs the audit log, which is not available".into())
        })?;
        let (records, _) = log
            .read()
            .map_err(|e| OpsError::Invalid(format!("cannot read the audit log: {e}")))?;
        // What an undo reverted since is as if it had not been done (kill, revive, undo, revive).
        // Only undos known to have worked: revive reads the reservation and compares anyway, so a
        // kill an unanswered undo may have taken back is still found (and refused if it did).
        let undone: Vec<&str> = records
            .iter()
            .filter(|r| r.result == "ok")
            .filter_map(|r| r.undoes.as_deref())
            .collect();
        // A kill whose outcome is unknown (no answer came) may have landed: revive reads and
        // compares anyway.
        let here = |r: &&super::audit::Record| {
            (r.result == "ok" || super::audit::outcome_unknown(&r.result))
                && r.target == function
                && self.made_here(r)
                && !undone.contains(&r.id.as_str())
        };
        let at = records
        .iter()
        .rposition(|r| r.action == "kill" && here(&r))
        .ok_or_else(|| {
            // A kill there is, but undone: said so, not "none recorded".
            let undone_kill = records.iter().rev().find(|r| {
                r.action == "kill"
                    && r.target == function
                    && self.made_here(r)
                    && undone.contains(&r.id.as_str())
            });
            match undone_kill {
                Some(k) => OpsError::Invalid(format!(
                    "the last kill of {function} in {} ({}) was undone: nothing to revive (set a \
                     value with `lops concurrency set {function} N`)",
                    self.scope, k.time
                )),
                None => OpsError::Invalid(format!(
                    "no kill of {function} in {} is recorded: set a value with `lops concurrency set {function} N`",
                    self.scope
                )),
            }
        })?;
        let kill = &records[at];
        // Revived since (by lops, and known to have landed) and not at 0 now: already done,
        // not someone else's change.
        if let Some(revived) = records[at + 1..]
            .iter()
            .rev()
            .filter(|_| !killed_now)
            .find(|r| here(r) && r.undoes.is_none() && r.action == "revive" && r.result == "ok")
            .filter(|_| {
                !records[at + 1..]
                    .iter()
                    .any(|r| here(&r) && r.undoes.is_none() && r.action == "concurrency.set")
            })
        {
            return Err(OpsError::Invalid(format!(
                "{function} in {} was already revived ({}): nothing to revive",
                self.scope, revived.time
            )));
        }
        // A reservation set (or revived, or undone) since the kill is newer than what the kill
        // recorded: reviving would put a week-old value over it.
        if let Some(later) = records[at + 1..].iter().find(|r| {
            here(r)
                && r.undoes.is_none()
                && matches!(r.action.as_str(), "concurrency.set" | "revive")
        }) {
            return Err(OpsError::Conflict(format!(
                "{function}'s reservation was changed after its kill ({} at {}): revive would put \
             the value from before the kill over that; nothing changed (set it with `lops \
             concurrency set`)",
                later.action, later.time
            ).into()));
        }
        Ok(kill
            .before
            .get("reserved")
            .and_then(Value::as_i64)
            .map(|n| n as i32))
    }
}
