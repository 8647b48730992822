//! The config file (TOML at `$XDG_CONFIG_HOME/lops/config.toml` or `--config PATH`) and the
//! settings resolved from it and the command line.

mod plain;
mod read;
mod regions;
mod services;
mod tier;

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use serde::Deserialize;

use plain::{plain_types, with_range};

pub use regions::{KNOWN_REGIONS, check_region, names_close};
pub use services::{ServiceSettings, record_key};
pub use tier::{Access, Tier};

#[derive(Debug, Clone, thiserror::Error, PartialEq)]
pub enum ConfigError {
    #[error("config file {path}: {message}")]
    Invalid { path: String, message: String },
    #[error("config file {path} cannot be read: {message}")]
    Unreadable { path: String, message: String },
    #[error("{0}")]
    Usage(String),
}

#[derive(Debug, Clone, Default, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ConfigFile {
    pub regions: Option<Vec<String>>,
    pub profiles: Option<Vec<String>>,
    #[serde(default)]
    pub extra_regions: Vec<String>,
    pub read_only: Option<bool>,
    pub mode: Option<Tier>,
    #[serde(default)]
    pub refresh: Refresh,
    #[serde(default)]
    pub timeouts: Timeouts,
    #[serde(default)]
    pub rate_limits: RateLimits,
    /// Per-profile settings: `[profile.NAME]`.
    #[serde(default)]
    pub profile: BTreeMap<String, ProfileSettings>,
    /// Key bindings: action name → key (`"refresh" = "r"`).
    #[serde(default)]
    pub keymap: BTreeMap<String, String>,
    #[serde(default)]
    pub theme: Theme,
    #[serde(default)]
    pub guards: Guards,
    #[serde(default)]
    pub backup: BackupSettings,
    /// Services behind Route 53 records: `[[service]]`.
    #[serde(default, rename = "service")]
    pub services: Vec<ServiceSettings>,
}

/// `[backup]`: where the dashboard's backup key writes.
#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct BackupSettings {
    /// s3://BUCKET/PREFIX
    pub to: Option<String>,
    pub storage_class: Option<String>,
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Guards {
    /// The same function, qualifier and payload invoked again within this many seconds asks
    /// again (TUI) or needs --allow-duplicate (CLI).
    pub duplicate_invoke_secs: u64,
    /// A rollout rolls back when the new version's error rate goes over this (0.05 = 5 %).
    pub max_error_rate: Option<f64>,
    /// Seconds between a rollout's guard checks.
    pub interval_secs: u64,
    /// Alarms every rollout watches.
    pub alarms: Vec<String>,
    /// A rollout also watches the function's own alarms (those with its FunctionName).
    pub function_alarms: bool,
    /// A rollout whose guard cannot read its signals rolls back (true) or waits (false).
    pub trip_on_read_error: bool,
}

impl Default for Guards {
    fn default() -> Self {
        Guards {
            duplicate_invoke_secs: 300,
            max_error_rate: Some(0.05),
            interval_secs: 10,
            alarms: Vec::new(),
            function_alarms: true,
            trip_on_read_error: true,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Refresh {
    /// Metrics for visible and alarmed rows, once per this many seconds (aligned to the clock).
    /// Lambda's metrics have one-minute resolution: a shorter period asks, and pays, again for
    /// the same minute. Rows that scroll into view are fetched at once.
    pub metrics_secs: u64,
    /// Functions, aliases, concurrency and alarms, every this many seconds (and on `r`).
    pub inventory_secs: u64,
    /// Alarm states alone, in between inventory reads.
    pub alarms_secs: u64,
}

impl Default for Refresh {
    fn default() -> Self {
        Refresh {
            metrics_secs: 60,
            inventory_secs: 300,
            alarms_secs: 30,
        }
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Timeouts {
    pub connect_secs: f64,
    /// The whole call, retries included.
    pub operation_secs: f64,
    /// Attempts per call (1 = no retry).
    pub max_attempts: u32,
    /// A whole region read (inventory, alarms, metrics) gives up after this long.
    pub region_secs: f64,
    /// One GetMetricData request (a slower batch is split in halves and asked again).
    pub metrics_secs: f64,
}

impl Default for Timeouts {
    fn default() -> Self {
        Timeouts {
            connect_secs: 3.0,
            operation_secs: 10.0,
            max_attempts: 3,
            region_secs: 90.0,
            // A ceiling, not a wait: CloudWatch answers a full batch in a second or two. Slow
            // endpoints (an emulator reading every stored point for every period) need room
            // before a batch is split, as splitting adds requests to an endpoint already busy.
            metrics_secs: 60.0,
        }
    }
}

impl Timeouts {
    pub fn connect(&self) -> Duration {
        Duration::from_secs_f64(self.connect_secs)
    }
    pub fn operation(&self) -> Duration {
        Duration::from_secs_f64(self.operation_secs)
    }
    /// Each attempt may use its share of the operation time, so a hang on the first attempt
    /// still leaves room for a retry.
    pub fn region(&self) -> Duration {
        Duration::from_secs_f64(self.region_secs)
    }
    pub fn metrics(&self) -> Duration {
        Duration::from_secs_f64(self.metrics_secs)
    }
    pub fn attempt(&self) -> Duration {
        Duration::from_secs_f64(self.operation_secs / f64::from(self.max_attempts.max(1)))
    }
}

#[derive(Debug, Clone, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct RateLimits {
    /// Lambda control-plane requests per second per region (AWS allows about 15, shared).
    pub lambda_per_sec: f64,
    /// GetFunction per second per region (AWS gives it a bucket of its own, 100 a second).
    pub get_function_per_sec: f64,
    /// CloudWatch requests per second per region (GetMetricData allows about 50).
    pub cloudwatch_per_sec: f64,
    /// S3 requests per second (backups and data copies).
    pub s3_per_sec: f64,
    /// EventBridge requests per second per region (rules that trigger functions).
    pub eventbridge_per_sec: f64,
    pub burst: u32,
    /// Control-plane calls in flight at once per region.
    pub parallel_calls: usize,
}

impl Default for RateLimits {
    fn default() -> Self {
        RateLimits {
            lambda_per_sec: 10.0,
            get_function_per_sec: 50.0,
            cloudwatch_per_sec: 20.0,
            s3_per_sec: 100.0,
            eventbridge_per_sec: 10.0,
            burst: 10,
            parallel_calls: 8,
        }
    }
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ProfileSettings {
    pub mode: Option<Tier>,
    #[serde(default)]
    pub production: bool,
    pub regions: Option<Vec<String>>,
}

#[derive(Debug, Clone, Default, Deserialize, PartialEq)]
#[serde(deny_unknown_fields, default)]
pub struct Theme {
    pub no_color: bool,
    pub ascii: bool,
}

/// Where the config file lives when `--config` is not given.
pub fn default_path() -> Option<PathBuf> {
    let base = std::env::var_os("XDG_CONFIG_HOME")
        .map(PathBuf::from)
        .filter(|v| v.is_absolute())
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".config")))?;
    Some(base.join("lops").join("config.toml"))
}

/// Where lops keeps its state (audit log, plans, log file).
pub fn state_dir() -> Option<PathBuf> {
    // A relative XDG path is ignored, as the XDG spec says (it would follow the current
    // directory: one audit log per place lops was started from).
    let base = std::env::var_os("XDG_STATE_HOME")
        .map(PathBuf::from)
        .filter(|v| v.is_absolute())
        .or_else(|| {
            std::env::var_os("HOME")
                .map(PathBuf::from)
                .filter(|h| h.is_absolute())
                .map(|h| h.join(".local").join("state"))
        })?;
    Some(base.join("lops"))
}

impl ConfigFile {
    pub fn parse(text: &str, path: &Path) -> Result<Self, ConfigError> {
        let file: ConfigFile = toml::from_str(text).map_err(|e| {
            let mut message = with_range(&plain_types(e.to_string().trim_end()));
            // `[profile.acme.prod]` is a table `prod` inside profile `acme` to TOML.
            if let Some(dotted) = text.lines().map(str::trim).find(|l| {
                l.strip_prefix("[profile.")
                    .and_then(|rest| rest.split(']').next())
                    .is_some_and(|name| name.contains('.') && !name.contains('"'))
            }) {
                message.push_str(&format!(
                    "\n{dotted}: a profile name with a dot is quoted, as in [profile.\"acme.prod\"]"
                ));
            }
            ConfigError::Invalid {
                path: path.display().to_string(),
                message,
            }
        })?;
        file.validate(path)?;
        Ok(file)
    }

    fn validate(&self, path: &Path) -> Result<(), ConfigError> {
        let invalid = |message: String| ConfigError::Invalid {
            path: path.display().to_string(),
            message,
        };
        // Two keys saying what the session may do, and not the same: which was meant is not
        // for lops to guess (the command line refuses --read-only with --mode alike).
        if self.read_only == Some(true) && self.mode.is_some_and(|m| m != Tier::Read) {
            return Err(invalid(
                "keys `read_only = true` and `mode` say different things: give one of them \
                 (`mode = \"read\"` is the same as read_only)"
                    .into(),
            ));
        }
        let t = &self.timeouts;
        // Upper bounds keep every number a Duration and a clock can hold, and catch typos;
        // lower ones catch a timeout no call could meet (every read would fail at once).
        for (key, v, min, max) in [
            ("timeouts.connect_secs", t.connect_secs, 0.1, 300.0),
            ("timeouts.operation_secs", t.operation_secs, 0.5, 3_600.0),
            ("timeouts.region_secs", t.region_secs, 1.0, 86_400.0),
            ("timeouts.metrics_secs", t.metrics_secs, 1.0, 3_600.0),
        ] {
            if !(v.is_finite() && (min..=max).contains(&v)) {
                return Err(invalid(format!(
                    "{key} = {v}: give a number of seconds from {min} to {max}"
                )));
            }
        }
        let g = &self.guards;
        if g.duplicate_invoke_secs > 86_400 {
            return Err(invalid(format!(
                "guards.duplicate_invoke_secs = {}: give 0 to 86400 seconds",
                g.duplicate_invoke_secs
            )));
        }
        if let Some(r) = g.max_error_rate.filter(|r| !(0.0..=1.0).contains(r)) {
            return Err(invalid(format!(
                "guards.max_error_rate = {r}: give a rate between 0 and 1 (0.05 is 5 %)"
            )));
        }
        if g.alarms.iter().any(|a| a.trim().is_empty()) {
            return Err(invalid(
                "guards.alarms holds an empty name: give CloudWatch alarm names, or remove it"
                    .into(),
            ));
        }
        if !(1..=3_600).contains(&g.interval_secs) {
            return Err(invalid(format!(
                "guards.interval_secs = {}: give 1 to 3600 seconds",
                g.interval_secs
            )));
        }
        for (key, v) in [
            ("refresh.metrics_secs", self.refresh.metrics_secs),
            ("refresh.inventory_secs", self.refresh.inventory_secs),
            ("refresh.alarms_secs", self.refresh.alarms_secs),
        ] {
            if v > 86_400 {
                return Err(invalid(format!("{key} = {v}: give at most 86400 seconds")));
            }
        }
        if t.max_attempts == 0 || t.max_attempts > 10 {
            return Err(invalid("timeouts.max_attempts must be 1 to 10".into()));
        }
        let r = &self.rate_limits;
        for (key, v) in [
            ("lambda_per_sec", r.lambda_per_sec),
            ("get_function_per_sec", r.get_function_per_sec),
            ("cloudwatch_per_sec", r.cloudwatch_per_sec),
            ("s3_per_sec", r.s3_per_sec),
            ("eventbridge_per_sec", r.eventbridge_per_sec),
        ] {
            // Below one request every ten seconds an action would wait minutes, silently.
            if !(v.is_finite() && (0.1..=10_000.0).contains(&v)) {
                return Err(invalid(format!(
                    "rate_limits.{key} = {v}: give requests per second from 0.1 to 10000"
                )));
            }
        }
        for (key, v, max) in [
            ("rate_limits.burst", u64::from(r.burst), 10_000),
            ("rate_limits.parallel_calls", r.parallel_calls as u64, 1_000),
        ] {
            if v == 0 || v > max {
                return Err(invalid(format!("{key} = {v}: give 1 to {max}")));
            }
        }
        for (key, v) in [
            ("refresh.metrics_secs", self.refresh.metrics_secs),
            ("refresh.inventory_secs", self.refresh.inventory_secs),
            ("refresh.alarms_secs", self.refresh.alarms_secs),
        ] {
            if v == 0 {
                return Err(invalid(format!("{key} = 0: give at least 1 second")));
            }
        }
        // A name AWS could never hold (blank, or with spaces or controls around or in it) would
        // be refused later as an unknown profile without saying why.
        let names = self
            .profiles
            .iter()
            .flatten()
            .map(|p| ("profiles", p))
            .chain(self.profile.keys().map(|p| ("[profile.…] section", p)));
        for (key, name) in names {
            let joined: String = name.split_whitespace().collect();
            if joined.is_empty() {
                return Err(invalid(format!("{key}: a profile name is empty")));
            }
            if name.chars().any(|c| c.is_whitespace() || c.is_control()) {
                return Err(invalid(format!(
                    "{key}: {name:?} is not a profile name: profile names have no spaces or \
                     control characters (did you mean \"{joined}\"?)"
                )));
            }
        }
        if let Some(bad) = self.extra_regions.iter().find(|r| !is_region_name(r)) {
            return Err(invalid(format!(
                "key `extra_regions`: '{bad}' is not a region name: regions look like \
                 'us-east-1' (lowercase letters, digits and dashes)"
            )));
        }
        let lists = self
            .regions
            .iter()
            .map(|list| ("regions".to_string(), list))
            .chain(self.profile.iter().filter_map(|(name, p)| {
                let key = match name.contains('.') {
                    true => format!("profile.\"{name}\".regions"),
                    false => format!("profile.{name}.regions"),
                };
                p.regions.as_ref().map(|list| (key, list))
            }));
        // An empty list is as if the key were absent (the next place regions come from).
        for (key, list) in lists {
            for region in list {
                check_region(region, &self.extra_regions)
                    .map_err(|e| invalid(format!("key `{key}`: {e}")))?;
            }
        }
        services::check_services(&self.services, &self.extra_regions).map_err(invalid)?;
        Ok(())
    }

    /// Reads the file at `path`; a missing default file is an empty config, a missing
    /// explicit one is an error.
    pub fn load(path: Option<&Path>) -> Result<(Self, Option<PathBuf>), ConfigError> {
        let (path, explicit) = match path {
            Some(p) => (p.to_path_buf(), true),
            None => match default_path() {
                Some(p) => (p, false),
                None => return Ok((ConfigFile::default(), None)),
            },
        };
        match read::read_text(&path, explicit) {
            Ok(text) => Ok((Self::parse(&text, &path)?, Some(path))),
            Err(read::ReadError::Refused(message)) => Err(ConfigError::Unreadable {
                path: path.display().to_string(),
                message,
            }),
            Err(read::ReadError::Io(e)) => Self::missing(e, &path, explicit),
        }
    }

    /// A default file that is not there is an empty config; anything else is said.
    fn missing(
        e: std::io::Error,
        path: &Path,
        explicit: bool,
    ) -> Result<(Self, Option<PathBuf>), ConfigError> {
        // A link to nowhere is a config someone meant to have (its protections with it), not
        // the absence of one.
        if e.kind() == std::io::ErrorKind::NotFound
            && !explicit
            && std::fs::symlink_metadata(path).is_err()
        {
            return Ok((ConfigFile::default(), None));
        }
        Err(ConfigError::Unreadable {
            path: path.display().to_string(),
            message: match std::fs::read_link(path) {
                Ok(target) if e.kind() == std::io::ErrorKind::NotFound => format!(
                    "it is a link to {}, which is not there: restore that file or remove the link",
                    target.display()
                ),
                // Named on purpose (--config): a typo, most likely.
                _ if e.kind() == std::io::ErrorKind::NotFound => format!(
                    "{e}: check the path given, or leave --config out to use the default file"
                ),
                // Its protections (modes, production flags) are in it: never read around.
                _ if e.kind() == std::io::ErrorKind::PermissionDenied => format!(
                    "{e}: give the user running lops read access to it (`ls -l` shows its \
                     owner and mode), or point --config at a copy it can read"
                ),
                // A file where a directory of its path should be (`~/.config/lops`).
                _ if e.kind() == std::io::ErrorKind::NotADirectory => format!(
                    "{e}: {} is a file, not a directory — move it away (the config file goes \
                     inside it), or point --config at the file to use",
                    path.ancestors()
                        .skip(1)
                        .find(|a| a.is_file())
                        .unwrap_or(path)
                        .display()
                ),
                _ => e.to_string(),
            },
        })
    }
}

/// A name a region could have: lowercase letters, digits and dashes, starting with a letter.
fn is_region_name(name: &str) -> bool {
    name.starts_with(|c: char| c.is_ascii_lowercase())
        && name
            .chars()
            .all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '-')
}

/// Everything a run needs, resolved from the command line over the config file.
#[derive(Debug, Clone)]
pub struct Settings {
    pub regions: Vec<String>,
    pub profiles: Vec<String>,
    pub refresh: Refresh,
    pub timeouts: Timeouts,
    pub rate_limits: RateLimits,
    pub profile_settings: BTreeMap<String, ProfileSettings>,
    pub tier: Tier,
    /// Set when --read-only or --mode chose the tier: it then wins over per-profile modes.
    pub tier_from_cli: bool,
    pub guards: Guards,
    pub keymap: BTreeMap<String, String>,
    pub theme: Theme,
    pub backup: BackupSettings,
    pub services: Vec<ServiceSettings>,
    pub config_path: Option<PathBuf>,
}

impl Default for Settings {
    fn default() -> Self {
        Settings::from_file(ConfigFile::default(), None)
    }
}

impl Settings {
    pub fn from_file(file: ConfigFile, config_path: Option<PathBuf>) -> Self {
        let tier = if file.read_only == Some(true) {
            Tier::Read
        } else {
            file.mode.unwrap_or(Tier::Change)
        };
        Settings {
            regions: file.regions.unwrap_or_default(),
            profiles: file.profiles.unwrap_or_default(),
            refresh: file.refresh,
            timeouts: file.timeouts,
            rate_limits: file.rate_limits,
            profile_settings: file.profile,
            tier,
            tier_from_cli: false,
            guards: file.guards,
            keymap: file.keymap,
            theme: file.theme,
            backup: file.backup,
            services: file.services,
            config_path,
        }
    }
}

#[cfg(test)]
mod tests;
