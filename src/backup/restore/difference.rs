//! The difference a restore makes: what the snapshot holds against what the target holds, as
//! steps (worked out without a request; `apply` runs them).

use super::layers::{region_account, steps_for_layers};
use super::wiring::{steps_for_mappings, steps_for_policy, steps_for_url_and_async};
use super::*;

pub(super) fn short_hash(h: &str) -> String {
    h.chars().take(12).collect()
}

/// The steps that make the target equal to the snapshot, and notes on what is not restored.
#[derive(Debug, Clone, PartialEq, Default)]
pub struct Difference {
    pub function: String,
    pub region: String,
    pub exists: bool,
    pub steps: Vec<Step>,
    /// Snapshot version → the target's version that already matches it.
    pub matched: BTreeMap<String, String>,
    /// The snapshot's layer version ARNs → the ones the target uses instead (the same ARN
    /// where it is usable there). A layer published by a `Layer` step is mapped when run.
    pub layers: BTreeMap<String, String>,
    pub notes: Vec<String>,
    /// What the function depends on that no snapshot holds (the EventBridge rules its policy
    /// lets in): named in the preview, not a gap a drill counts.
    pub outside: Vec<Outside>,
    /// Why it cannot be restored at all (checked before anything changes).
    pub refused: Vec<String>,
    /// The target's published versions before the restore: a publish that answers with one
    /// of them (nothing changed since it) made nothing to undo.
    pub existing_versions: BTreeSet<String>,
}

/// Something a restored function depends on that no snapshot holds: an EventBridge rule its
/// resource policy lets invoke it. Said in words in the preview, and whole in `--json`.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
pub struct Outside {
    /// The rule's ARN, or the pattern the statement names (`None`: any rule).
    pub rule: Option<String>,
    /// Whose target it was: the function, or its alias or version (`orders:live`).
    pub target: String,
    pub note: String,
}

pub(super) const LATEST: &str = "$LATEST";

impl Difference {
    /// Versions the snapshot's aliases route to that the restore would neither find nor
    /// publish: such a restore would fail half-way, so the preview refuses it first.
    pub fn unroutable(&self, manifest: &Manifest) -> Vec<String> {
        let published: BTreeSet<&str> = self
            .steps
            .iter()
            .filter_map(|s| match s {
                Step::Publish { of } => Some(of.as_str()),
                _ => None,
            })
            .collect();
        let mut missing = Vec::new();
        let routable = |v: &str| self.matched.contains_key(v) || published.contains(v);
        for a in &manifest.aliases {
            for v in std::iter::once(&a.function_version).chain(a.weights.keys()) {
                if !routable(v) {
                    missing.push(format!("alias {} routes to version {v}", a.name));
                }
            }
        }
        for s in &self.steps {
            if let Step::Mapping {
                qualifier: Some(q),
                source_arn,
                ..
            } = s
                && q.chars().all(|c| c.is_ascii_digit())
                && !routable(q)
            {
                missing.push(format!("the mapping from {source_arn} invokes version {q}"));
            }
        }
        missing
    }
}

pub(super) fn same_version(config: &FunctionConfig, sha: &str, v: &VersionSnapshot) -> bool {
    sha == v.code.lambda_sha256() && config.differences(&v.config).is_empty()
}

/// Plans a restore of `manifest` into `function` in `region` (pure: no AWS calls).
pub fn difference(
    manifest: &Manifest,
    current: Option<&Current>,
    function: &str,
    region: &str,
    role: Option<&str>,
    map_sources: bool,
) -> Difference {
    difference_among(
        manifest,
        current,
        &BTreeMap::new(),
        &Target {
            function,
            region,
            account: None,
            role,
            map_sources,
            exact: false,
        },
    )
}

/// Where a restore goes: the function's name, region and account there, and how.
#[derive(Debug, Clone, Copy, Default)]
pub struct Target<'a> {
    pub function: &'a str,
    pub region: &'a str,
    /// The account lops acts in there (STS), when known.
    pub account: Option<&'a str>,
    /// The execution role given for the target.
    pub role: Option<&'a str>,
    /// Event sources in another region or account are mapped to the same source here.
    pub map_sources: bool,
    /// What the target has and the snapshot has not is removed (`--exact`), not left.
    pub exact: bool,
}

/// [`difference`], where `copies` are layer versions the target account holds in `region` (ARN →
/// Lambda's hash of their content): a layer the snapshot stored is used from such a copy
/// rather than published again.
pub fn difference_among(
    manifest: &Manifest,
    current: Option<&Current>,
    copies: &BTreeMap<String, String>,
    target: &Target,
) -> Difference {
    let Target {
        function,
        region,
        role,
        map_sources,
        ..
    } = *target;
    let mut out = Difference {
        function: function.to_string(),
        region: region.to_string(),
        exists: current.is_some(),
        ..Default::default()
    };
    // The target's account: its own ARN's, else the one lops acts in there, else the role
    // given for it, else the snapshot's.
    let account = current
        .map(|c| region_account(&c.arn).1.to_string())
        .filter(|a| !a.is_empty())
        .or_else(|| target.account.map(str::to_string))
        .filter(|a| !a.is_empty())
        .or_else(|| role.map(|r| region_account(r).1.to_string()))
        .filter(|a| !a.is_empty())
        .unwrap_or_else(|| manifest.account.clone());
    // The snapshot's execution role lives in its account: another account needs its own.
    if account != manifest.account && role.is_none() {
        let (_, role_account) = region_account(&manifest.latest.config.role);
        if role_account == manifest.account {
            out.refused.push(format!(
                "the snapshot's execution role {} is in account {}, and the target is account \
                 {account}: pass --role with a role in {account}",
                manifest.latest.config.role, manifest.account
            ));
        }
    }
    steps_for_layers(&mut out, manifest, current, copies, region, &account);
    out.existing_versions = current
        .map(|c| c.versions.iter().map(|(n, _, _)| n.clone()).collect())
        .unwrap_or_default();
    let layers = out.layers.clone();
    // Subnets and security groups exist in their own region and account only: elsewhere the
    // function comes back without them (said below) rather than the restore failing half-way.
    let foreign_vpc = region != manifest.region || account != manifest.account;
    // The target's own VPC (one attached after an earlier restore, say) is left as it is.
    let here = current
        .and_then(|c| c.latest.as_ref())
        .map(|(c, _)| (c.subnet_ids.clone(), c.security_group_ids.clone()))
        .unwrap_or_default();
    let adapt = |c: &FunctionConfig| {
        let mut c = adapted(c, role, &layers, function);
        if foreign_vpc {
            (c.subnet_ids, c.security_group_ids) = here.clone();
        }
        c
    };
    steps_for_versions(&mut out, manifest, current, &adapt);
    steps_for_aliases(&mut out, manifest, current);
    // Removals (`--exact`) before the concurrency steps: provisioned concurrency the target
    // has beyond the snapshot's must be gone before the snapshot's fits under its reservation.
    // The target as the mappings' steps find it: a mapping removed first no longer holds its
    // source (the snapshot's own from it is made after).
    let mut after_removals = current.cloned();
    match current.filter(|_| target.exact) {
        Some(c) => {
            let (removals, notes) = super::removal::removals(manifest, c, &out.matched);
            for step in &removals {
                if let (Step::Remove(super::Removal::Mapping(m)), Some(a)) =
                    (step, after_removals.as_mut())
                {
                    a.mappings.retain(|x| x.uuid != m.uuid);
                    if let Some(source) = &m.source_arn
                        && !a
                            .mappings
                            .iter()
                            .any(|x| x.source_arn.as_ref() == Some(source))
                    {
                        a.mapping_sources.remove(source);
                    }
                }
            }
            out.steps.extend(removals);
            out.notes
                .retain(|n| !n.contains("is not in the snapshot: left as it is"));
            out.notes.extend(notes);
        }
        None => super::removal::note_what_is_left(&mut out, manifest, current),
    }
    steps_for_concurrency(&mut out, manifest, current);
    steps_for_tags(&mut out, manifest, current);
    steps_for_mappings(
        &mut out,
        manifest,
        after_removals.as_ref(),
        map_sources,
        &account,
    );
    steps_for_url_and_async(&mut out, manifest, current, &account);
    steps_for_policy(&mut out, manifest, current, &account);
    let configs = std::iter::once(&manifest.latest).chain(&manifest.versions);
    let attached_here = !here.0.is_empty() || !here.1.is_empty();
    if foreign_vpc
        && !attached_here
        && configs
            .map(|v| &v.config)
            .any(|c| !c.subnet_ids.is_empty() || !c.security_group_ids.is_empty())
    {
        out.notes.push(format!(
            "the VPC subnets and security groups belong to the snapshot's region and account \
             ({}, {}): the function comes back without a VPC here — attach this region's \
             subnets and security groups after the restore if it needs them",
            manifest.region, manifest.account
        ));
    }
    refuse_foreign_mounts(&mut out, manifest, region, &account);
    out
}

/// An EFS access point serves functions of its own region and account only: a restore that
/// mounts one from elsewhere would fail half-way, so it is refused first, naming it.
fn refuse_foreign_mounts(out: &mut Difference, manifest: &Manifest, region: &str, account: &str) {
    let configs = std::iter::once(&manifest.latest).chain(&manifest.versions);
    let mut seen = BTreeSet::new();
    for fs in configs.flat_map(|v| &v.config.file_systems) {
        let (r, a) = region_account(&fs.arn);
        if (r, a) != (region, account) && seen.insert(fs.arn.clone()) {
            out.refused.push(format!(
                "the function mounts EFS access point {} ({r}, account {a}) at {}, which a function \
                 in {region} (account {account}) cannot mount: restore into {r}, or remove the \
                 mount from the source and back it up again",
                fs.arn, fs.local_mount_path
            ));
        }
    }
}

/// A snapshot configuration as the target gets it: its role (when given), its layers; a log
/// group that is the target's own default is no setting (Lambda reads it back as none).
fn adapted(
    c: &FunctionConfig,
    role: Option<&str>,
    layers: &BTreeMap<String, String>,
    function: &str,
) -> FunctionConfig {
    let mut c = c.clone();
    if c.log_group.as_deref() == Some(&format!("/aws/lambda/{function}")) {
        c.log_group = None;
    }
    if let Some(role) = role {
        c.role = role.to_string();
    }
    for l in c.layers.iter_mut() {
        if let Some(to) = layers.get(l) {
            *l = to.clone();
        }
    }
    c
}

/// The versions the target lacks, each published from `$LATEST` once its code and
/// configuration are in place, then `$LATEST` itself.
fn steps_for_versions(
    out: &mut Difference,
    manifest: &Manifest,
    current: Option<&Current>,
    adapt: &dyn Fn(&FunctionConfig) -> FunctionConfig,
) {
    // Where $LATEST stands as the steps run.
    let mut latest: Option<(FunctionConfig, String)> = current.and_then(|c| c.latest.clone());
    let mut used = BTreeSet::new();
    let recorded = manifest.records_logging_and_mounts();
    // What an older snapshot does not record is taken as the target has it (left as it is).
    let as_recorded = |wanted: FunctionConfig, target: &FunctionConfig| {
        if recorded {
            wanted
        } else {
            with_unrecorded_of(wanted, target)
        }
    };
    let move_latest = |out: &mut Difference,
                       latest: &mut Option<(FunctionConfig, String)>,
                       v: &VersionSnapshot| {
        let config = match latest {
            Some((c, _)) => as_recorded(adapt(&v.config), c),
            None => adapt(&v.config),
        };
        match latest {
            None => out.steps.push(Step::Create {
                config: config.clone(),
                code: v.code.clone(),
            }),
            Some((c, sha)) => {
                let other_architectures =
                    !config.architectures.is_empty() && config.architectures != c.architectures;
                if sha != v.code.lambda_sha256() || other_architectures {
                    out.steps.push(Step::UpdateCode {
                        code: v.code.clone(),
                        architectures: config.architectures.clone(),
                    });
                }
                let changes: Vec<String> = config
                    .differences(c)
                    .into_iter()
                    .filter(|d| !d.starts_with("architectures:"))
                    .collect();
                if !changes.is_empty() {
                    out.steps.push(Step::UpdateConfig {
                        config: config.clone(),
                        changes,
                    });
                }
            }
        }
        *latest = Some((config, v.code.lambda_sha256().to_string()));
    };
    for v in &manifest.versions {
        let wanted = VersionSnapshot {
            config: adapt(&v.config),
            ..v.clone()
        };
        let found = current.and_then(|c| {
            c.versions.iter().find(|(n, cfg, sha)| {
                let wanted = VersionSnapshot {
                    config: as_recorded(wanted.config.clone(), cfg),
                    ..wanted.clone()
                };
                !used.contains(n) && same_version(cfg, sha, &wanted)
            })
        });
        if let Some((n, _, _)) = found {
            used.insert(n.clone());
            out.matched.insert(v.version.clone(), n.clone());
            continue;
        }
        // The same code and configuration as an earlier snapshot version (Lambda publishes no
        // new version when nothing changed): the target's version of that one.
        let twin = manifest
            .versions
            .iter()
            .take_while(|e| e.version != v.version)
            .last()
            .filter(|e| {
                e.code.lambda_sha256() == wanted.code.lambda_sha256()
                    && adapt(&e.config).differences(&wanted.config).is_empty()
            })
            .and_then(|e| out.matched.get(&e.version).cloned());
        if let Some(n) = twin {
            out.matched.insert(v.version.clone(), n);
            continue;
        }
        move_latest(out, &mut latest, v);
        out.steps.push(Step::Publish {
            of: v.version.clone(),
        });
    }
    move_latest(out, &mut latest, &manifest.latest);
    // An alias on $LATEST stays on the restored function's $LATEST.
    out.matched.insert(LATEST.into(), LATEST.into());
    if !recorded && current.is_some() {
        out.notes.push(
            "this snapshot was taken before lops recorded logging, EFS mounts, image overrides \
             and SnapStart: the target's are left as they are"
                .into(),
        );
    }
}

/// `wanted` with the settings a first-format snapshot does not record taken from `target`.
fn with_unrecorded_of(wanted: FunctionConfig, target: &FunctionConfig) -> FunctionConfig {
    FunctionConfig {
        log_group: target.log_group.clone(),
        log_format: target.log_format.clone(),
        application_log_level: target.application_log_level.clone(),
        system_log_level: target.system_log_level.clone(),
        file_systems: target.file_systems.clone(),
        image_config: target.image_config.clone(),
        snap_start: target.snap_start.clone(),
        ..wanted
    }
}

/// Each alias the target lacks or routes otherwise.
fn steps_for_aliases(out: &mut Difference, manifest: &Manifest, current: Option<&Current>) {
    let republished = republished(out);
    for a in &manifest.aliases {
        let existing = current.and_then(|c| c.aliases.iter().find(|x| x.name == a.name));
        let same = existing.is_some_and(|e| {
            let map = |v: &str| out.matched.get(v).cloned();
            !republished.contains(&a.function_version)
                && map(&a.function_version).as_deref() == Some(e.function_version.as_str())
                && a.weights.len() == e.weights.len()
                && a.weights.iter().all(|(v, w)| {
                    map(v).is_some_and(|t| e.weights.get(&t).is_some_and(|x| (x - w).abs() < 1e-9))
                })
        });
        if !same {
            out.steps.push(Step::Alias {
                alias: a.clone(),
                create: existing.is_none(),
                now: existing.map(|e| {
                    let extra: f64 = e.weights.values().sum();
                    std::iter::once(format!(
                        "{} {}",
                        crate::format::version(&e.function_version),
                        crate::format::weight(1.0 - extra)
                    ))
                    .chain(e.weights.iter().map(|(v, w)| {
                        format!(
                            "{} {}",
                            crate::format::version(v),
                            crate::format::weight(*w)
                        )
                    }))
                    .collect::<Vec<_>>()
                    .join(" / ")
                }),
            });
        }
    }
    if let Some(c) = current {
        for a in &c.aliases {
            if !manifest.aliases.iter().any(|x| x.name == a.name) {
                out.notes.push(format!(
                    "alias {} is not in the snapshot: left as it is (--exact removes it)",
                    a.name
                ));
            }
        }
    }
}

/// The reservation, then provisioned concurrency (after the aliases and the reservation it
/// must fit in).
fn steps_for_concurrency(out: &mut Difference, manifest: &Manifest, current: Option<&Current>) {
    let republished = republished(out);
    if current.map(|c| c.reserved) != Some(manifest.reserved_concurrency)
        && !(current.is_none() && manifest.reserved_concurrency.is_none())
    {
        out.steps.push(Step::Reserve {
            value: manifest.reserved_concurrency,
            now: current.map(|c| c.reserved),
        });
    }
    for p in manifest.provisioned_concurrency.iter().flatten() {
        let numbered = p.qualifier.chars().all(|c| c.is_ascii_digit());
        let target = if numbered {
            // A republished version is new: nothing is provisioned on it yet.
            (!republished.contains(&p.qualifier))
                .then(|| out.matched.get(&p.qualifier).cloned())
                .flatten()
        } else {
            Some(p.qualifier.clone())
        };
        let have = target
            .as_ref()
            .and_then(|q| current.and_then(|c| c.provisioned.get(q)).copied());
        if have != Some(p.requested) {
            out.steps.push(Step::Provisioned {
                qualifier: p.qualifier.clone(),
                requested: p.requested,
                replaces: have,
            });
        }
    }
}

fn steps_for_tags(out: &mut Difference, manifest: &Manifest, current: Option<&Current>) {
    let empty = BTreeMap::new();
    let have = current.map(|c| &c.tags).unwrap_or(&empty);
    // AWS's own tags (`aws:cloudformation:…` on a stack's function) are its to set: no one
    // else may set or remove them (TagResource refuses the prefix), so a restore leaves them.
    let aws = |k: &str| k.to_ascii_lowercase().starts_with("aws:");
    let set: BTreeMap<String, String> = manifest
        .tags
        .iter()
        .filter(|(k, v)| !aws(k) && have.get(*k) != Some(*v))
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    let remove: Vec<String> = have
        .keys()
        .filter(|k| !aws(k) && !manifest.tags.contains_key(*k))
        .cloned()
        .collect();
    let theirs: Vec<&String> = manifest.tags.keys().filter(|k| aws(k)).collect();
    if !theirs.is_empty() && current.is_none_or(|c| theirs.iter().any(|k| !c.tags.contains_key(*k)))
    {
        out.notes.push(format!(
            "tag {} is AWS's own (set by the service that made the function): not restored",
            theirs
                .iter()
                .map(|k| k.as_str())
                .collect::<Vec<_>>()
                .join(", ")
        ));
    }
    if !set.is_empty() || !remove.is_empty() {
        out.steps.push(Step::Tags { set, remove });
    }
}

/// One source, wherever it is: the same service and name (a queue or stream of that name in
/// another region or account is what `--map-sources` maps it to).
pub(super) fn same_source(a: &str, b: &str) -> bool {
    let parts = |arn: &str| -> Vec<String> {
        arn.split(':')
            .enumerate()
            .filter(|(i, _)| *i != 3 && *i != 4)
            .map(|(_, p)| p.to_string())
            .collect()
    };
    parts(a) == parts(b)
}

/// Snapshot versions the difference publishes anew.
fn republished(out: &Difference) -> BTreeSet<String> {
    out.steps
        .iter()
        .filter_map(|s| match s {
            Step::Publish { of } => Some(of.clone()),
            _ => None,
        })
        .collect()
}
