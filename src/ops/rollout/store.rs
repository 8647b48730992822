//! Where rollouts are saved, and who owns a running one.
//!
//! A running rollout names its owner (host, process id, start time) and the owner writes a
//! heartbeat while it runs. Another lops resumes it only when the owner is gone, and aborts it by
//! asking the owner (a flag in the file the owner reads every second), taking over only a
//! rollout whose owner is gone or does not answer.

use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use super::{Rollout, Status};
use crate::provider::Scope;

/// The process driving a rollout.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
pub struct Owner {
    pub host: String,
    pub pid: u32,
    pub started: String,
}

impl Owner {
    /// This process.
    pub fn me() -> Owner {
        use std::sync::OnceLock;
        static STARTED: OnceLock<String> = OnceLock::new();
        Owner {
            host: crate::process::host_name(),
            pid: std::process::id(),
            started: STARTED.get_or_init(super::drive::now).clone(),
        }
    }

    pub fn is_me(&self) -> bool {
        *self == Owner::me()
    }
}

/// A heartbeat older than this means the owner is gone (it writes one every second).
pub const HEARTBEAT_STALE_SECS: i64 = 15;

/// Where a saved rollout stands, as `lops traffic plans` and the dashboard say it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize)]
#[serde(rename_all = "snake_case")]
pub enum Standing {
    /// Running, its owner alive.
    Running,
    /// Saved as running, its owner gone: resume or abort it.
    Interrupted,
    /// Done, rolled back, aborted or halted.
    Finished,
}

impl Standing {
    pub fn as_str(self) -> &'static str {
        match self {
            Standing::Running => "running",
            Standing::Interrupted => "interrupted",
            Standing::Finished => "finished",
        }
    }
}

impl Rollout {
    /// Whether a live process other than this one drives it.
    pub fn owned_elsewhere(&self) -> bool {
        self.owner_alive() && !self.owner.as_ref().is_some_and(Owner::is_me)
    }

    /// Whether its owner is alive: a fresh heartbeat, and on this host a process with its id.
    pub fn owner_alive(&self) -> bool {
        let Some(owner) = &self.owner else {
            return false;
        };
        let fresh = self
            .heartbeat
            .as_deref()
            .and_then(|t| chrono::DateTime::parse_from_rfc3339(t).ok())
            .is_some_and(|t| {
                (chrono::Utc::now() - t.with_timezone(&chrono::Utc)).num_seconds()
                    <= HEARTBEAT_STALE_SECS
            });
        let proc_dir = Path::new("/proc");
        let process = owner.host != crate::process::host_name()
            || !proc_dir.exists()
            || crate::process::lives(&proc_dir.join(owner.pid.to_string()));
        fresh && process
    }

    /// Why a new rollout of its alias cannot start while this one is unfinished, and what to do:
    /// a live owner's is let finish or aborted (resume would be refused), another resumed or
    /// aborted.
    pub fn in_the_way(&self) -> String {
        match (self.standing(), &self.owner) {
            (Standing::Running, Some(o)) => format!(
                "a rollout of {} in {} is running in lops pid {} on {} ({}): let it finish, or \
                 abort it",
                self.target(),
                self.scope_label(),
                o.pid,
                o.host,
                self.progress()
            ),
            (standing, _) => format!(
                "a rollout of {} in {} is {} ({}): resume or abort it first",
                self.target(),
                self.scope_label(),
                standing.as_str(),
                self.progress()
            ),
        }
    }

    /// Where it stands, in words: its step while running, else how it ended.
    pub fn status_said(&self) -> String {
        match &self.status {
            Status::Running => self.progress(),
            Status::Done => "done".into(),
            Status::Aborted => "aborted".into(),
            Status::RolledBack { reason } => format!("rolled back: {reason}"),
            Status::Halted { reason } => format!("halted: {reason}"),
        }
    }

    /// Running (owned or interrupted) or halted: resume or abort applies.
    pub fn unfinished(&self) -> bool {
        matches!(self.status, Status::Running | Status::Halted { .. })
    }

    pub fn standing(&self) -> Standing {
        match self.status {
            Status::Running if self.owner_alive() => Standing::Running,
            Status::Running | Status::Halted { .. } => Standing::Interrupted,
            _ => Standing::Finished,
        }
    }
}

/// Why there is nothing to resume or abort: no plan saved for the alias in this scope, or
/// one that ended since it was shown (a rollout another lops finished). Both faces say it.
pub fn none_unfinished(
    scope: &Scope,
    function: &str,
    alias: &str,
    found: Option<&Rollout>,
) -> String {
    let ended = found.map_or(String::new(), |r| {
        format!(" (it ended: {})", r.status_said())
    });
    format!("no unfinished rollout for {function}:{alias} in {scope}{ended}")
}

/// Where plans are saved: `$XDG_STATE_HOME/lops/plans/`.
#[derive(Debug, Clone)]
pub struct RolloutStore {
    dir: PathBuf,
    /// Held while a file is written: the heartbeat (written beside the driving loop, see
    /// [`RolloutStore::beat`]) never interleaves with a save of the same process.
    writing: std::sync::Arc<std::sync::Mutex<()>>,
}

impl RolloutStore {
    pub fn at(dir: impl Into<PathBuf>) -> Self {
        RolloutStore {
            dir: dir.into(),
            writing: Default::default(),
        }
    }

    /// The plans kept beside `audit`, the log their changes are written to (`audit.jsonl`:
    /// `plans/`; the demo's apart from real ones, as its audit log is).
    pub fn beside(audit: &crate::ops::audit::AuditLog) -> Option<Self> {
        let path = audit.path();
        let stem = path
            .file_stem()?
            .to_string_lossy()
            .replace("audit", "plans");
        path.parent().map(|d| RolloutStore::at(d.join(stem)))
    }

    pub fn default_location() -> Option<Self> {
        crate::config::state_dir().map(|d| RolloutStore::at(d.join("plans")))
    }

    fn path(&self, profile: &str, region: &str, function: &str, alias: &str) -> PathBuf {
        // '@' never comes out of `clean`, so two rollouts never share a file.
        self.dir.join(format!(
            "{}{}",
            clean(profile),
            Self::suffix(region, function, alias)
        ))
    }

    /// The end of the file name of every profile's rollout of this alias in `region`.
    fn suffix(region: &str, function: &str, alias: &str) -> String {
        format!(
            "@{}@{}@{}.json",
            clean(region),
            clean(function),
            clean(alias)
        )
    }

    /// Written whole to a temporary file and renamed, so a kill never leaves half a plan (and a
    /// reader never sees half of one).
    pub fn save(&self, r: &Rollout) -> std::io::Result<()> {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        self.write(r)
    }

    /// Refreshes the heartbeat of a rollout `owner` drives, as saved, and nothing else; `false`
    /// once it is no longer running there (finished, interrupted, taken over). Written every
    /// second while the owner waits on AWS (a slow rollback, a slow guard read), so no other
    /// lops takes a live owner for gone.
    pub fn beat(&self, r: &Rollout, owner: &Owner) -> bool {
        let _writing = self.writing.lock().unwrap_or_else(|e| e.into_inner());
        match self.reload(r) {
            Some(mut saved)
                if saved.owner.as_ref() == Some(owner)
                    && saved.status == Status::Running
                    && saved.heartbeat.is_some() =>
            {
                saved.heartbeat = Some(super::drive::now());
                self.write(&saved).is_ok()
            }
            _ => false,
        }
    }

    fn write(&self, r: &Rollout) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        #[cfg(unix)]
        {
            use std::os::unix::fs::PermissionsExt;
            std::fs::set_permissions(&self.dir, std::fs::Permissions::from_mode(0o700))?;
        }
        let path = self.path(&r.profile, &r.region, &r.function, &r.alias);
        let tmp = path.with_extension(format!("json.{}.tmp", std::process::id()));
        let mut options = std::fs::OpenOptions::new();
        options.create(true).write(true).truncate(true);
        #[cfg(unix)]
        {
            use std::os::unix::fs::OpenOptionsExt;
            options.mode(0o600);
        }
        std::io::Write::write_all(
            &mut options.open(&tmp)?,
            &serde_json::to_vec_pretty(r).map_err(std::io::Error::other)?,
        )?;
        std::fs::rename(tmp, path)
    }

    /// The rollout of this alias, checked field by field (a file saved under an older name is
    /// found too).
    pub fn load(&self, scope: &Scope, function: &str, alias: &str) -> Option<Rollout> {
        let matches = |r: &Rollout| {
            r.profile == scope.profile
                && r.region == scope.region
                && r.function == function
                && r.alias == alias
        };
        std::fs::read(self.path(&scope.profile, &scope.region, function, alias))
            .ok()
            .and_then(|text| serde_json::from_slice::<Rollout>(&text).ok())
            .filter(matches)
            .or_else(|| self.all().into_iter().rev().find(matches))
    }

    /// Why the saved rollout of this alias cannot be read, when its file is there and does not
    /// read (cut short, edited, written by another version of lops). Never taken as "no
    /// rollout": it may be one still running or unfinished, so nothing changes the alias until
    /// someone looks.
    pub fn damaged(&self, scope: &Scope, function: &str, alias: &str) -> Option<String> {
        let path = self.path(&scope.profile, &scope.region, function, alias);
        let why = match std::fs::read(&path) {
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return None,
            Err(e) => e.to_string(),
            Ok(text) => serde_json::from_slice::<Rollout>(&text).err()?.to_string(),
        };
        Some(format!(
            "the saved rollout of {function}:{alias} in {scope} cannot be read ({}: {why}): it \
             may be one still running or unfinished, so nothing changes this alias until it is \
             looked at. Check the alias (`lops traffic show {function} --profile {} --regions {}`), \
             then move the file away",
            path.display(),
            scope.profile,
            scope.region
        ))
    }

    /// [`Self::damaged`] for the rollouts of this alias saved under any profile: a change of
    /// the alias through another profile (of the same account, or one lops cannot tell
    /// apart: the file does not say) would halt it as surely.
    pub fn damaged_under_any_profile(
        &self,
        scope: &Scope,
        function: &str,
        alias: &str,
    ) -> Option<String> {
        if let Some(why) = self.damaged(scope, function, alias) {
            return Some(why);
        }
        let suffix = Self::suffix(&scope.region, function, alias);
        let mut others: Vec<String> = std::fs::read_dir(&self.dir)
            .ok()?
            .flatten()
            .filter_map(|e| e.file_name().into_string().ok())
            .filter_map(|name| name.strip_suffix(&suffix).map(str::to_string))
            .filter(|profile| !profile.is_empty() && !profile.contains('@'))
            .collect();
        others.sort();
        others.into_iter().find_map(|profile| {
            let theirs = Scope::new(profile, scope.region.clone(), Default::default());
            self.damaged(&theirs, function, alias)
        })
    }

    /// The saved rollouts that cannot be read: (file, why).
    pub fn unreadable(&self) -> Vec<(PathBuf, String)> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut bad: Vec<(PathBuf, String)> = entries
            .flatten()
            .map(|e| e.path())
            .filter(|p| p.extension().is_some_and(|x| x == "json"))
            .filter_map(|p| {
                let why = match std::fs::read(&p) {
                    Err(e) => e.to_string(),
                    Ok(text) => serde_json::from_slice::<Rollout>(&text).err()?.to_string(),
                };
                Some((p, why))
            })
            .collect();
        bad.sort();
        bad
    }

    /// Saves a rollout about to start, refusing when one for the same alias is unfinished —
    /// under this profile, or another of the same account (or one whose account is not known).
    /// A lock file taken with create-new makes two lops starting at once see each other, also
    /// under two profile names (its name has no profile: both ran, the loser's rollback
    /// writing over the winner's end).
    pub fn create(&self, r: &Rollout) -> std::io::Result<()> {
        std::fs::create_dir_all(&self.dir)?;
        let lock = (self.dir).join(format!(
            "start{}.lock",
            Self::suffix(&r.region, &r.function, &r.alias)
        ));
        let taken = std::fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .open(&lock);
        if let Err(e) = taken {
            // A lock older than a minute was left by a killed start.
            let stale = std::fs::metadata(&lock)
                .and_then(|m| m.modified())
                .is_ok_and(|t| t.elapsed().is_ok_and(|age| age.as_secs() > 60));
            if !stale {
                return Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!("another lops is starting a rollout of {} ({e})", r.target()),
                ));
            }
        }
        let scope = Scope::new(r.profile.clone(), r.region.clone(), Default::default());
        let damaged = self.damaged(&scope, &r.function, &r.alias);
        let result = match self.load(&scope, &r.function, &r.alias) {
            _ if damaged.is_some() => Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                damaged.unwrap_or_default(),
            )),
            Some(existing) if existing.unfinished() => Err(std::io::Error::new(
                std::io::ErrorKind::AlreadyExists,
                existing.in_the_way(),
            )),
            _ => match self.same_alias_elsewhere(r) {
                Some(other) => Err(std::io::Error::new(
                    std::io::ErrorKind::AlreadyExists,
                    format!(
                        "a rollout of {} in {} is {} under profile {} ({}), on the same \
                         account: nothing was started",
                        r.target(),
                        r.region,
                        other.standing().as_str(),
                        other.profile,
                        other.progress()
                    ),
                )),
                None => self.save(r),
            },
        };
        let _ = std::fs::remove_file(&lock);
        result
    }

    /// An unfinished rollout of `r`'s alias under another profile of its account (or one whose
    /// account is not known): the same alias.
    fn same_alias_elsewhere(&self, r: &Rollout) -> Option<Rollout> {
        self.running().into_iter().find(|o| {
            o.profile != r.profile
                && o.region == r.region
                && o.function == r.function
                && o.alias == r.alias
                && (o.account.is_none() || r.account.is_none() || o.account == r.account)
        })
    }

    /// An unfinished rollout of `function:alias` in `scope`'s region under another profile:
    /// what an abort or resume under this one is pointed to (it is acted on there).
    pub fn elsewhere(&self, scope: &Scope, function: &str, alias: &str) -> Option<Rollout> {
        self.running().into_iter().rev().find(|r| {
            r.profile != scope.profile
                && r.region == scope.region
                && r.function == function
                && r.alias == alias
        })
    }

    /// Every saved rollout not finished: running, interrupted or halted.
    pub fn running(&self) -> Vec<Rollout> {
        self.all().into_iter().filter(Rollout::unfinished).collect()
    }

    /// Every saved plan, finished ones included, oldest update first.
    pub fn all(&self) -> Vec<Rollout> {
        let Ok(entries) = std::fs::read_dir(&self.dir) else {
            return Vec::new();
        };
        let mut all: Vec<Rollout> = entries
            .flatten()
            .filter(|e| e.path().extension().is_some_and(|x| x == "json"))
            .filter_map(|e| serde_json::from_slice::<Rollout>(&std::fs::read(e.path()).ok()?).ok())
            .collect();
        all.sort_by(|a, b| a.updated.cmp(&b.updated));
        all
    }

    /// The saved copy of `r` (what other processes see and may have asked of it).
    pub fn reload(&self, r: &Rollout) -> Option<Rollout> {
        let text = std::fs::read(self.path(&r.profile, &r.region, &r.function, &r.alias)).ok()?;
        serde_json::from_slice(&text).ok()
    }

    pub fn dir(&self) -> &Path {
        &self.dir
    }
}

/// A name from the command line or AWS kept to one plain file name's part.
fn clean(s: &str) -> String {
    s.chars()
        .map(|c| {
            if c.is_ascii_alphanumeric() || "-.".contains(c) {
                c
            } else {
                '_'
            }
        })
        .collect::<String>()
        .trim_start_matches('.')
        .to_string()
}
