//! The fleet model: owned snapshots that providers produce and the state and CLI consume.

use std::collections::BTreeMap;

use super::metrics::{FunctionMetrics, sum_last};

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct Inventory {
    pub functions: Vec<FunctionInfo>,
    /// The account's concurrent-execution limit in this region; `None` when the endpoint
    /// does not say (shown as "unknown").
    pub account_concurrency_limit: Option<i64>,
    /// GetAccountSettings failed (denied, throttled, timed out): why, as a person needs it. An
    /// endpoint that does not serve it (an emulator) is no failure: the limit is unknown.
    #[serde(skip)]
    pub account_settings_error: Option<String>,
    /// Set on the snapshots sent while the read is still going; `None` once it is whole.
    #[serde(skip)]
    pub progress: Option<InventoryProgress>,
    /// The listing stopped after some pages had answered: what they held is kept, and why it
    /// stopped.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub incomplete: Option<String>,
}

/// How far an inventory read has come.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct InventoryProgress {
    /// Every ListFunctions page has answered.
    pub listed: bool,
    /// Functions whose own reads (GetFunction, ListAliases) have answered or failed.
    pub read: usize,
}

/// What one function's row needs beyond ListFunctions, read only when someone looks; `None`
/// where it was not asked for.
#[derive(Debug, Clone, Default, PartialEq)]
pub struct FunctionExtras {
    pub aliases: Option<Vec<AliasInfo>>,
    pub provisioned: Option<Vec<ProvisionedConcurrency>>,
}

/// The parts of a function the inventory has not read (yet): shown as "not read yet", never as
/// "none".
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq, serde::Serialize)]
pub struct NotRead {
    /// Reserved concurrency and tags (GetFunction): only while an inventory is filling in.
    pub details: bool,
    /// Aliases of a function without a published version (they can only point at $LATEST).
    pub aliases: bool,
    /// Provisioned concurrency: read when the function's detail view opens.
    pub provisioned: bool,
}

impl NotRead {
    pub fn any(&self) -> bool {
        self.details || self.aliases || self.provisioned
    }

    /// The parts not read, by name.
    pub fn names(&self) -> Vec<&'static str> {
        [
            (self.details, "details"),
            (self.aliases, "aliases"),
            (self.provisioned, "provisioned"),
        ]
        .into_iter()
        .filter_map(|(unread, name)| unread.then_some(name))
        .collect()
    }
}

/// The functions of an inventory whose own reads failed, as both faces say it: by reason
/// (the call that failed and the setting or permission that would help), each with the first
/// function it names and how many more — a second reason (one 503, another access denied) is
/// never hidden behind the first.
pub fn details_failure<'a>(
    functions: impl IntoIterator<Item = &'a FunctionInfo>,
) -> Option<String> {
    // (why, first name, how many), in the order first met.
    let mut reasons: Vec<(&String, &String, usize)> = Vec::new();
    for f in functions {
        let Some(why) = f.detail_error.as_ref() else {
            continue;
        };
        match reasons.iter_mut().find(|(w, _, _)| *w == why) {
            Some((_, _, n)) => *n += 1,
            None => reasons.push((why, &f.name, 1)),
        }
    }
    let named = |(why, name, n): &(&String, &String, usize)| match n {
        1 => format!("{name}: {why}"),
        n => format!("{name} and {} more: {why}", n - 1),
    };
    let (why, name, n) = reasons.first()?;
    let others = match n {
        1 => String::new(),
        n => format!(" and {} more", n - 1),
    };
    let mut text = format!("inventory: {name}{others} not read whole (marked): {why}");
    for reason in reasons.iter().skip(1).take(2) {
        text.push_str(&format!("; also {}", named(reason)));
    }
    if reasons.len() > 3 {
        text.push_str(&format!(
            "; and {} other reasons (`lops status --json` names each function's)",
            reasons.len() - 3
        ));
    }
    Some(text)
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct FunctionInfo {
    pub name: String,
    pub arn: String,
    pub runtime: Option<String>,
    pub package_type: String,
    pub state: String,
    pub last_update_status: Option<String>,
    pub memory_mb: Option<i32>,
    pub timeout_s: Option<i32>,
    pub last_modified: Option<String>,
    /// Published versions, `$LATEST` excluded, oldest first.
    pub versions: Vec<String>,
    pub aliases: Vec<AliasInfo>,
    pub reserved_concurrency: Option<i32>,
    pub provisioned: Vec<ProvisionedConcurrency>,
    pub tags: BTreeMap<String, String>,
    /// This function's own reads (versions, aliases, concurrency, tags) failed: it is listed
    /// with what ListFunctions said, and these fields are not read.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub detail_error: Option<String>,
    /// What the inventory did not read for this function.
    #[serde(skip_serializing_if = "is_all_read")]
    pub not_read: NotRead,
}

fn is_all_read(n: &NotRead) -> bool {
    !n.any()
}

impl FunctionInfo {
    /// What an on-demand read should ask for this function: its aliases when asked (or not
    /// read), provisioned concurrency only where it can exist (on a published version).
    /// Why no traffic action can act on this function when it has no published version: its
    /// aliases could only point at `$LATEST`, which takes no weights (known from the listing,
    /// without reading them).
    pub fn unpublished(&self) -> Option<&'static str> {
        self.versions.is_empty().then_some(
            "no published version: traffic moves between published versions (publish one \
             first: aws lambda publish-version)",
        )
    }

    pub fn extras_wanted(&self, aliases: bool) -> NotRead {
        NotRead {
            details: false,
            aliases: aliases || self.not_read.aliases,
            provisioned: self.not_read.provisioned && !self.versions.is_empty(),
        }
    }

    /// Fills in what an on-demand read returned. Without a published version there can be no
    /// provisioned concurrency: known without asking.
    pub fn add_extras(&mut self, extras: FunctionExtras) {
        if let Some(aliases) = extras.aliases {
            self.aliases = aliases;
            self.not_read.aliases = false;
        }
        match extras.provisioned {
            Some(provisioned) => {
                self.provisioned = provisioned;
                self.not_read.provisioned = false;
            }
            None if self.versions.is_empty() => {
                self.provisioned.clear();
                self.not_read.provisioned = false;
            }
            None => {}
        }
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct AliasInfo {
    pub name: String,
    /// The version that takes whatever the additional weights leave.
    pub function_version: String,
    /// Extra versions and their share (0..1); AWS allows at most one.
    pub additional_weights: Vec<(String, f64)>,
    pub revision_id: Option<String>,
}

impl AliasInfo {
    /// Every version this alias routes to, main version first.
    pub fn versions(&self) -> impl Iterator<Item = &str> {
        std::iter::once(self.function_version.as_str())
            .chain(self.additional_weights.iter().map(|(v, _)| v.as_str()))
    }

    /// The versions whose invocations through this alias are asked for: those it routes to,
    /// and those it most likely routed to a moment ago — the published versions just below and
    /// just above its main one (a promote, a rollback) and the newest (a pin back from it).
    /// Traffic that still ran another version over the window is then seen, not hidden.
    pub fn watched_versions(&self, published: &[String]) -> Vec<String> {
        let mut out: Vec<String> = self.versions().map(str::to_string).collect();
        let number = |v: &str| v.parse::<u64>().ok();
        let mut numbered: Vec<u64> = published.iter().filter_map(|v| number(v)).collect();
        numbered.sort_unstable();
        let near = match number(&self.function_version) {
            Some(main) => [
                numbered.iter().rev().find(|v| **v < main).copied(),
                numbered.iter().find(|v| **v > main).copied(),
                numbered.last().copied(),
            ],
            None => [None, None, None],
        };
        for v in near.into_iter().flatten().map(|v| v.to_string()) {
            if !out.contains(&v) {
                out.push(v);
            }
        }
        out
    }

    /// Configured share of traffic per version, main version first; sums to 1.
    pub fn configured_weights(&self) -> Vec<(String, f64)> {
        let extra: f64 = self.additional_weights.iter().map(|(_, w)| w).sum();
        std::iter::once((self.function_version.clone(), (1.0 - extra).max(0.0)))
            .chain(self.additional_weights.iter().cloned())
            .collect()
    }
}

/// The invocations of an alias over every version it ran (FunctionName and Resource only), kept
/// beside its versions' in [`FunctionMetrics::alias_versions`].
pub const ALL_VERSIONS: &str = "*";

/// The share of an alias's invocations no version asked for accounts for (a version it routed
/// to before, farther away than those watched): a line of its own in the split.
pub const OTHER_VERSIONS: &str = "other";

/// Observed share further than this from the configured share is drift (5 points).
pub const DRIFT: f64 = 0.05;

/// More than [`DRIFT`] apart, by a margin float arithmetic cannot fake: exactly 5 points is
/// drift on neither side of a split (85/15 against 90/10 computes as 5.000…04 and 4.999…96).
pub fn drifts(configured: f64, observed: f64) -> bool {
    (observed - configured).abs() > DRIFT + 1e-9
}

/// One version of an alias: its configured share against the share of invocations it took.
#[derive(Debug, Clone, PartialEq)]
pub struct VersionSplit {
    pub version: String,
    /// Configured share, 0..1.
    pub configured: f64,
    /// Invocations it ran over the window (ExecutedVersion).
    pub invocations: f64,
    /// Its share of the alias's invocations over the window; `None` without any.
    pub observed: Option<f64>,
}

impl AliasInfo {
    /// Configured weights against the split observed over the last `minutes`, main version
    /// first, then any version it is not configured to route to that still ran invocations
    /// through it over the window (configured 0): the load view and `lops status` both show
    /// this.
    pub fn split(&self, metrics: Option<&FunctionMetrics>, minutes: usize) -> Vec<VersionSplit> {
        // A split that could not be read is unknown: the configured shares alone, or the split
        // last read where one is kept (the dashboard says it is).
        let metrics = metrics.filter(|m| !m.split_unread || !m.alias_versions.is_empty());
        let seen = |version: &str| {
            metrics
                .and_then(|m| {
                    m.alias_versions
                        .iter()
                        .find(|x| x.alias == self.name && x.version == version)
                })
                .map(|x| sum_last(&x.invocations, minutes))
                .unwrap_or(0.0)
        };
        let mut counts: Vec<(String, f64, f64)> = self
            .configured_weights()
            .into_iter()
            .map(|(version, configured)| {
                let n = seen(&version);
                (version, configured, n)
            })
            .collect();
        let others = metrics
            .into_iter()
            .flat_map(|m| &m.alias_versions)
            .filter(|x| x.alias == self.name && x.version != ALL_VERSIONS)
            .filter(|x| !self.versions().any(|v| v == x.version));
        for x in others {
            let n = sum_last(&x.invocations, minutes);
            if n > 0.0 && !counts.iter().any(|(v, _, _)| *v == x.version) {
                counts.push((x.version.clone(), 0.0, n));
            }
        }
        // What the alias ran in all that the versions asked do not account for.
        let listed: f64 = counts.iter().map(|(_, _, n)| n).sum();
        let whole = metrics
            .into_iter()
            .flat_map(|m| &m.alias_versions)
            .find(|x| x.alias == self.name && x.version == ALL_VERSIONS)
            .map(|x| sum_last(&x.invocations, minutes));
        if let Some(whole) = whole
            && whole - listed >= 0.5
        {
            counts.push((OTHER_VERSIONS.to_string(), 0.0, whole - listed));
        }
        let total: f64 = counts.iter().map(|(_, _, n)| n).sum();
        counts
            .into_iter()
            .map(|(version, configured, invocations)| VersionSplit {
                version,
                configured,
                invocations,
                observed: (total > 0.0).then(|| invocations / total),
            })
            .collect()
    }
}

#[derive(Debug, Clone, Default, PartialEq, serde::Serialize)]
pub struct ProvisionedConcurrency {
    pub qualifier: String,
    pub requested: Option<i32>,
    pub allocated: Option<i32>,
    pub status: Option<String>,
}

#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Alarm {
    pub name: String,
    pub state: AlarmState,
    pub reason: Option<String>,
    pub metric: Option<String>,
    /// The function named by the alarm's `FunctionName` dimension.
    pub function: Option<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Serialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AlarmState {
    Alarm,
    InsufficientData,
    Ok,
}

impl AlarmState {
    pub fn parse(s: &str) -> Self {
        match s {
            "ALARM" => AlarmState::Alarm,
            "OK" => AlarmState::Ok,
            _ => AlarmState::InsufficientData,
        }
    }
}

#[cfg(test)]
#[path = "model_tests.rs"]
mod tests;
