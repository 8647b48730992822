//! The audit log: append-only JSON lines at `$XDG_STATE_HOME/lops/audit.jsonl`, created with
//! owner-only permissions. One record per executed (or failed) action.

use std::fs::OpenOptions;
use std::io::{BufRead, BufReader, Write};
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

/// The result of a record written before a change of many steps begins (`restore.begin`); the
/// record written when it ends says how it ended.
pub const STARTED: &str = "started";
/// The start of the result of a write that got no answer (timed out): it may have landed.
pub const UNKNOWN: &str = "outcome unknown: ";

/// The start of the result undo writes over an outcome unknown it found never landed.
pub const NOT_LANDED: &str = "not landed: ";

/// Whether a record's change may or may not have landed: started with no result (its lops
/// stopped), or sent with no answer. Undo reads the target to find out.
pub fn outcome_unknown(result: &str) -> bool {
    result == STARTED || result.starts_with(UNKNOWN)
}
/// Why an action is refused when there is no audit log to write to.
pub const NO_LOG: &str = "no audit log: there is no state directory to keep it in (set \
     XDG_STATE_HOME or HOME): nothing was sent — no audit, no change";
/// The start of an invoke's result when the function ran and failed (`Unhandled`, `Handled`).
pub const FUNCTION_ERROR: &str = "function error: ";
/// The start of an invoke's result when Lambda refused it before the function ran (throttled,
/// denied, not found): no event reached the function, so a retry is no duplicate.
pub const NOT_RUN: &str = "refused by Lambda, not run: ";
static RECORDED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// The start of a result that says the target changed since the preview (nothing was sent).
pub const CONFLICT: &str = "changed since the preview, nothing sent: ";

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Record {
    pub id: String,
    pub time: String,
    /// The caller ARN from STS.
    pub who: String,
    pub profile: String,
    pub region: String,
    pub action: String,
    pub target: String,
    pub before: serde_json::Value,
    pub after: serde_json::Value,
    /// "ok", or the error.
    pub result: String,
    /// Set on an undo: the id of the record it reverted.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub undoes: Option<String>,
    /// SHA-256 of an invoke's payload, for the duplicate guard.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub payload_sha256: Option<String>,
    /// The batch this action was one target of: a batch is confirmed, listed and undone as one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub batch: Option<String>,
    /// Confirmed as destructive (by typed name): a kill, a reservation of 0, a restore over a
    /// function or over S3 objects that differ from the snapshot, a service change forced past
    /// its guard (`--force`).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub destructive: bool,
    /// Confirmed by the typed target name (a destructive change, a production profile, a
    /// repeated payload), at a terminal or by `--yes` standing for it.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub typed: bool,
    /// Why a change no key or command asked for was made: a rollout's guard rolling back, an
    /// abort, a step.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reason: Option<String>,
    /// What a change that did not land was to make (refused at the write, changed since the
    /// preview, failed): its `after` is the state it left, as `before`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub asked: Option<serde_json::Value>,
    /// When a write that got no answer was given up on (its `time` is when it began): what
    /// may still land is counted from here.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ended: Option<String>,
}

#[derive(Debug, Clone)]
pub struct AuditLog {
    path: PathBuf,
    /// The same payload to the same target within this many seconds is a repeat to ask about.
    duplicate_window_secs: u64,
    /// A dry run's: read as any, never written to (a dry run records nothing).
    dry: bool,
}

impl Record {
    /// The record of `plan` made by `who`, as started: its result is written under the same id.
    pub fn started(plan: &super::plan::Plan, who: String) -> Record {
        Record {
            id: super::execute::new_id(),
            time: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            who,
            profile: plan.scope.profile.clone(),
            region: plan.scope.region.clone(),
            action: plan.action.to_string(),
            target: plan.target.clone(),
            before: plan.before.clone(),
            after: plan.after.clone(),
            result: STARTED.to_string(),
            undoes: plan.undoes.clone(),
            reason: plan.reason.clone(),
            asked: None,
            ended: None,
            payload_sha256: match &plan.change {
                super::plan::Change::Invoke(r) => Some(super::payload::payload_sha256(&r.payload)),
                _ => None,
            },
            batch: plan.batch.clone(),
            destructive: plan.destructive,
            typed: matches!(plan.confirmation(), super::Confirmation::Typed(_)),
        }
    }

    /// The process that made a change of many steps (a restore's `restore.begin` names its host
    /// and pid): whether it is known gone, or may still run, is asked of it.
    pub fn process(&self) -> Option<(&str, u32)> {
        let process = self.after.get("process")?;
        let host = process.get("host")?.as_str()?;
        let pid = u32::try_from(process.get("pid")?.as_u64()?).ok()?;
        Some((host, pid))
    }
}

impl AuditLog {
    pub fn at(path: impl Into<PathBuf>) -> Self {
        AuditLog {
            path: path.into(),
            duplicate_window_secs: crate::config::Guards::default().duplicate_invoke_secs,
            dry: false,
        }
    }

    /// The log as a dry run sees it: read as any, and every append refused.
    pub fn dry_run(self) -> Self {
        AuditLog { dry: true, ..self }
    }

    /// A dry run's log (nothing is written to it).
    pub fn is_dry(&self) -> bool {
        self.dry
    }

    /// `[guards] duplicate_invoke_secs` from the config file.
    pub fn with_duplicate_window(mut self, secs: u64) -> Self {
        self.duplicate_window_secs = secs;
        self
    }

    pub fn duplicate_window_secs(&self) -> u64 {
        self.duplicate_window_secs
    }

    /// No audit, no change: the log a change is to be recorded in, ready to take a record, or
    /// why the change is refused (no log at all, or one that cannot be written).
    pub fn for_change(audit: Option<&AuditLog>) -> Result<&AuditLog, String> {
        let log = audit.ok_or_else(|| NO_LOG.to_string())?;
        log.ready().map_err(|e| log.unwritable(&e))?;
        Ok(log)
    }

    /// Why nothing is sent when this log cannot take a record, and what to do.
    pub fn unwritable(&self, e: &std::io::Error) -> String {
        format!(
            "the audit log {} cannot be written ({e}): nothing was sent. Fix its permissions, \
             free space, or set XDG_STATE_HOME to a writable directory.",
            self.path().display()
        )
    }

    /// Makes sure a record can be appended (directory, file, owner-only permissions, also on a
    /// file that existed with wider ones) before anything is changed.
    pub fn ready(&self) -> std::io::Result<()> {
        let file = self.open()?;
        // A device or a pipe (a link to /dev/null, say) would take records and keep none; and
        // its permissions are not lops's to change.
        if !file.metadata()?.is_file() {
            return Err(std::io::Error::other(
                "it is not a regular file (a link to a device or a pipe keeps no record)",
            ));
        }
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            if file.metadata()?.permissions().mode() & 0o777 != 0o600 {
                file.set_permissions(std::fs::Permissions::from_mode(0o600))?;
            }
        }
        drop(file);
        Ok(())
    }

    fn open(&self) -> std::io::Result<std::fs::File> {
        if let Some(dir) = self.path.parent() {
            std::fs::create_dir_all(dir)?;
        }
        let mut options = OpenOptions::new();
        options.create(true).append(true).read(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        options.open(&self.path)
    }

    /// The default place, under the state directory.
    pub fn default_location() -> Option<Self> {
        crate::config::state_dir().map(|d| AuditLog::at(d.join("audit.jsonl")))
    }

    pub fn path(&self) -> &Path {
        &self.path
    }

    pub fn append(&self, record: &Record) -> std::io::Result<()> {
        use std::io::{Read, Seek, SeekFrom};
        if self.dry {
            return Err(std::io::Error::other("a dry run records nothing"));
        }
        let mut file = self.open()?;
        let mut line = serde_json::to_string(record).map_err(std::io::Error::other)?;
        line.push('\n');
        // A record starts on a line of its own, also after one cut short (by a full disk, in
        // an older lops): it is never glued to a fragment and lost with it.
        let len = file.metadata()?.len();
        if len > 0 {
            let mut last = [0u8; 1];
            file.seek(SeekFrom::Start(len - 1))?;
            file.read_exact(&mut last)?;
            if last[0] != b'\n' {
                line.insert(0, '\n');
            }
        }
        // One write per record, so concurrent writers never interleave inside a line; one cut
        // short is taken back, so no fragment stays.
        if let Err(e) = file.write_all(line.as_bytes()) {
            let _ = file.set_len(len);
            return Err(e);
        }
        RECORDED.store(true, std::sync::atomic::Ordering::Relaxed);
        Ok(())
    }

    /// Whether this process has written a record (it acted): what a command that lost its
    /// output says about where the action is.
    pub fn recorded_any() -> bool {
        RECORDED.load(std::sync::atomic::Ordering::Relaxed)
    }

    /// Every record, oldest first; lines that do not parse are skipped (and counted).
    pub fn read(&self) -> std::io::Result<(Vec<Record>, usize)> {
        // A device or a pipe would be read forever (a link to /dev/zero) or block even to open
        // (a FIFO): looked at before it is opened.
        match std::fs::metadata(&self.path) {
            Ok(m) if !m.is_file() => {
                return Err(std::io::Error::other(
                    "it is not a regular file (a link to a device or a pipe): move it away",
                ));
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            _ => {}
        }
        let file = match std::fs::File::open(&self.path) {
            Ok(f) => f,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok((Vec::new(), 0)),
            Err(e) => return Err(e),
        };
        let mut records: Vec<Record> = Vec::new();
        let mut bad = 0;
        // Lines as bytes: one that is not UTF-8 (a torn write, a stray edit) is skipped and
        // counted like any other unreadable line, never hiding the rest.
        for line in BufReader::new(file).split(b'\n') {
            let line = line?;
            if line.trim_ascii().is_empty() {
                continue;
            }
            match serde_json::from_slice(&line) {
                Ok(r) => records.push(r),
                Err(_) => bad += 1,
            }
        }
        // A record is superseded by a later one of the same id: an action's start by its
        // result, an outcome unknown by what undo later found (it did not land). A start alone
        // stays: the process stopped while it ran, and the record says what it was to change.
        let mut last: std::collections::HashMap<String, usize> = Default::default();
        for (i, r) in records.iter().enumerate() {
            last.insert(r.id.clone(), i);
        }
        let records = records
            .into_iter()
            .enumerate()
            .filter(|(i, r)| last.get(&r.id) == Some(i))
            .map(|(_, r)| r)
            .collect();
        Ok((records, bad))
    }
}

/// A change held back before its write (it, or another target of its batch, changed since the
/// preview): nothing sent, recorded as not sent, as `ops::execute` records its own compare's
/// refusal. Returns `held`.
pub async fn not_sent<S: crate::provider::RegionActions>(
    source: &S,
    plan: &super::plan::Plan,
    audit: Option<&AuditLog>,
    held: super::OpsError,
) -> super::OpsError {
    let who = (source.caller().await).unwrap_or_else(|e| format!("unknown ({e})"));
    let mut record = Record::started(plan, who);
    record.result = match &held {
        super::OpsError::Conflict(e) => format!("{}{e}", CONFLICT),
        e => e.to_string(),
    };
    record.after = match &held {
        super::OpsError::Conflict(super::Changed {
            found: Some(found), ..
        }) => found.clone(),
        _ => plan.before.clone(),
    };
    record.asked = Some(plan.after.clone()).filter(|after| *after != plan.before);
    if let Some(log) = audit
        && let Err(e) = log.append(&record)
    {
        tracing::error!(error = %e, path = %log.path().display(), "cannot write the audit log");
    }
    held
}

#[cfg(test)]
mod tests {
    use super::*;

    fn record(id: &str) -> Record {
        Record {
            id: id.into(),
            time: "2026-11-25T10:00:00Z".into(),
            who: "arn:aws:iam::123456789012:user/oncall".into(),
            profile: "default".into(),
            region: "us-east-1".into(),
            action: "concurrency.set".into(),
            target: "orders-api".into(),
            before: serde_json::json!({"reserved": null}),
            after: serde_json::json!({"reserved": 5}),
            result: "ok".into(),
            undoes: None,
            reason: None,
            asked: None,
            ended: None,
            payload_sha256: None,
            batch: None,
            destructive: false,
            typed: false,
        }
    }

    #[test]
    fn appends_and_reads_back_with_owner_only_permissions() {
        let dir = tempfile_dir("appends");
        let log = AuditLog::at(dir.join("state/audit.jsonl"));
        log.append(&record("a")).unwrap();
        log.append(&record("b")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"not json\n\xff\xfe not utf-8\n")
            .unwrap();
        log.append(&record("c")).unwrap();
        let (records, bad) = log.read().unwrap();
        assert_eq!(
            records.iter().map(|r| r.id.as_str()).collect::<Vec<_>>(),
            ["a", "b", "c"]
        );
        assert_eq!(bad, 2);
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            let mode = std::fs::metadata(log.path()).unwrap().permissions().mode();
            assert_eq!(mode & 0o777, 0o600);
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A fragment left by an earlier cut-short write never swallows the next record; a log
    /// that is not a regular file is refused (and left as it is).
    #[test]
    fn a_record_never_joins_a_fragment_and_a_device_is_no_log() {
        let dir = tempfile_dir("fragment");
        let log = AuditLog::at(dir.join("audit.jsonl"));
        log.append(&record("a")).unwrap();
        std::fs::OpenOptions::new()
            .append(true)
            .open(log.path())
            .unwrap()
            .write_all(b"{\"id\": \"cut")
            .unwrap();
        log.append(&record("b")).unwrap();
        let (records, bad) = log.read().unwrap();
        let ids: Vec<&str> = records.iter().map(|r| r.id.as_str()).collect();
        assert_eq!((ids, bad), (vec!["a", "b"], 1));
        #[cfg(unix)]
        {
            let linked = AuditLog::at(dir.join("null.jsonl"));
            std::os::unix::fs::symlink("/dev/null", linked.path()).unwrap();
            let e = linked.ready().unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
            // Read, it would never end (/dev/zero) or block (a pipe): refused too.
            let zero = AuditLog::at(dir.join("zero.jsonl"));
            std::os::unix::fs::symlink("/dev/zero", zero.path()).unwrap();
            let e = zero.read().unwrap_err().to_string();
            assert!(e.contains("not a regular file"), "{e}");
        }
        let _ = std::fs::remove_dir_all(dir);
    }

    #[test]
    fn a_start_is_superseded_by_its_result_and_kept_when_alone() {
        let dir = tempfile_dir("superseded");
        let log = AuditLog::at(dir.join("audit.jsonl"));
        let started = |id: &str| Record {
            result: STARTED.into(),
            ..record(id)
        };
        for r in [started("a"), started("b"), record("a"), record("c")] {
            log.append(&r).unwrap();
        }
        let (records, _) = log.read().unwrap();
        let seen: Vec<(&str, &str)> = records
            .iter()
            .map(|r| (r.id.as_str(), r.result.as_str()))
            .collect();
        assert_eq!(seen, [("b", STARTED), ("a", "ok"), ("c", "ok")]);
        let _ = std::fs::remove_dir_all(dir);
    }

    /// A directory of its own per test: tests run at once, and one removing a shared parent
    /// took another's log away mid-test.
    fn tempfile_dir(name: &str) -> PathBuf {
        let dir = std::env::temp_dir().join(format!("lops-audit-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        dir
    }
}
