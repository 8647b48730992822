//! `lops status`: one complete read of the fleet, as a table or one JSON document.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use super::status_table::write_table;
use crate::exit::{Exit, Failure};
use crate::provider::aws::CallCount;
use crate::provider::{
    Alarm, AliasInfo, FunctionInfo, FunctionMetrics, MetricWindow, ProvisionedConcurrency,
    WindowStats,
};
use crate::provider::{Inventory, MetricsSnapshot};
use crate::runtime::read::{ReadError, ReadOptions, RegionReport, read_all};
use crate::session::Session;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Add the AWS API calls this read cost, per service, operation and region.
    #[arg(long)]
    pub stats: bool,
    /// Also read what the inventory leaves for on demand: every alias (also of functions
    /// without a published version) and provisioned concurrency — one or two more Lambda
    /// calls per function.
    #[arg(long)]
    pub full: bool,
    /// Report each region's inventory on stderr as it lands (`us-east-1: 50 listed`,
    /// `us-east-1: 120/1000 read`): a large region takes what its size needs.
    #[arg(long)]
    pub progress: bool,
    /// Window of the numbers: 5m, 15m or 60m (the table's default: 5m). With --json, the
    /// document gives only this window, read as one point over it (without it, every window).
    #[arg(long, value_parser = parse_window)]
    pub window: Option<MetricWindow>,
}

fn parse_window(s: &str) -> Result<MetricWindow, String> {
    MetricWindow::parse(s).ok_or_else(|| format!("'{s}' is not a window: use 5m, 15m or 60m"))
}

pub async fn run(global: &GlobalArgs, args: StatusArgs) -> Result<Exit, Failure> {
    let ctx = Session::connect(&global.flags()).await?;
    let tell = |scope: &crate::provider::Scope, partial: &Inventory| {
        if let Some(p) = partial.progress {
            let listed = partial.functions.len();
            if p.listed {
                err!("lops: {scope}: {}/{listed} read", p.read);
            } else {
                err!("lops: {scope}: {listed} listed");
            }
        }
    };
    let options = ReadOptions {
        extras: args.full,
        progress: args.progress.then_some(&tell as _),
        // The table shows one window; the JSON document every window, or the one asked.
        only: match (args.json, args.window) {
            (false, w) => Some(w.unwrap_or(MetricWindow::M5)),
            (true, w) => w,
        },
        every_figure: args.json,
    };
    let reports = read_all(&ctx.regions, ctx.settings.timeouts.region(), options).await;
    // Each region's last word: its inventory read whole, or not.
    if args.progress {
        for r in &reports {
            match &r.inventory {
                Ok(inv) if inv.incomplete.is_none() => {
                    let n = inv.functions.len();
                    err!("lops: {}: {n}/{n} read, done", r.scope);
                }
                Ok(inv) => err!(
                    "lops: {}: {} read, stopped short",
                    r.scope,
                    inv.functions.len()
                ),
                Err(e) => err!("lops: {}: not read: {e}", r.scope),
            }
        }
    }
    let calls = ctx.counter.snapshot();
    let incomplete = reports.iter().filter(|r| !r.complete()).count();
    let mut out = super::stdout();
    let written = if args.json {
        let windows = args.window.map_or(MetricWindow::ALL.to_vec(), |w| vec![w]);
        let doc = StatusDoc::new(&reports, &windows, args.stats.then_some(calls));
        serde_json::to_string_pretty(&doc)
            .map_err(std::io::Error::from)
            .and_then(|text| writeln!(out, "{}", crate::format::json_safe(text)))
    } else {
        write_table(
            &mut out,
            &reports,
            args.window.unwrap_or(MetricWindow::M5),
            args.stats.then_some(&calls),
        )
    };
    super::written(written)?;
    for report in &reports {
        let failures = report.failures();
        if report.unreachable() {
            err!(
                "lops: region {} unreachable: {}",
                report.scope,
                failures.join("; ")
            );
        } else {
            for failure in failures {
                err!("lops: {}: {failure}", report.scope);
            }
        }
    }
    Ok(
        if !reports.is_empty() && reports.iter().all(RegionReport::unreachable) {
            // Nothing answered anywhere: not a partial read but none (a dark fleet, bad keys).
            Exit::Failure
        } else if incomplete > 0 {
            Exit::Partial
        } else {
            Exit::Done
        },
    )
}

#[derive(Serialize)]
struct StatusDoc<'a> {
    generated_at: String,
    complete: bool,
    regions: Vec<RegionDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_calls: Option<Vec<CallCount>>,
    /// With `--stats`: CloudWatch metrics requested and their estimated cost.
    #[serde(skip_serializing_if = "Option::is_none")]
    cloudwatch: Option<CloudWatchCost>,
}

#[derive(Serialize)]
pub(super) struct CloudWatchCost {
    pub(super) metrics_requested: u64,
    pub(super) estimated_usd: f64,
}

impl CloudWatchCost {
    pub(super) fn of(reports: &[RegionReport]) -> Self {
        let metrics_requested = reports.iter().map(|r| r.metrics_requested).sum();
        CloudWatchCost {
            metrics_requested,
            estimated_usd: crate::provider::metrics_cost_usd(metrics_requested),
        }
    }
}

#[derive(Serialize)]
struct RegionDoc<'a> {
    profile: &'a str,
    region: &'a str,
    health: Health,
    /// Each read's own outcome.
    reads: BTreeMap<&'static str, ReadDoc>,
    elapsed_ms: u128,
    /// CloudWatch metrics this read requested (GetMetricData bills each).
    metrics_requested: u64,
    /// `null` when not read (the region unreachable, or the endpoint does not say it): every
    /// region's document has the same keys.
    account_concurrency_limit: Option<i64>,
    /// `null` when the region's metrics could not be read.
    percentiles_supported: Option<bool>,
    /// `null` when the region's metrics could not be read, or some functions' numbers were not:
    /// the sum of those read is not the region's.
    totals: Option<BTreeMap<MetricWindow, WindowStats>>,
    /// `null` when the inventory could not be read (unknown, not none).
    functions: Option<Vec<FunctionDoc<'a>>>,
    /// Alarms not tied to any function of this region (`null`: the alarms could not be read).
    other_alarms: Option<Vec<&'a Alarm>>,
}

#[derive(Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Health {
    Ok,
    /// Some reads failed: what answered is here, `failures` names the rest.
    Partial {
        failures: Vec<String>,
    },
    /// Nothing about the region answered.
    Unreachable {
        error: String,
    },
}

#[derive(Serialize)]
#[serde(tag = "status", rename_all = "snake_case")]
enum ReadDoc {
    Ok,
    /// It answered in part: what it gave is in the document, `error` names what it did not.
    Partial {
        error: String,
    },
    Failed {
        error: String,
    },
    NotRead,
}

impl ReadDoc {
    fn of<T>(r: &Result<T, crate::provider::ProviderError>) -> ReadDoc {
        match r {
            Ok(_) => ReadDoc::Ok,
            Err(e) => ReadDoc::Failed {
                error: e.to_string(),
            },
        }
    }
}

#[derive(Serialize)]
struct FunctionDoc<'a> {
    name: &'a str,
    arn: &'a str,
    runtime: Option<&'a str>,
    package_type: &'a str,
    state: &'a str,
    last_update_status: Option<&'a str>,
    memory_mb: Option<i32>,
    timeout_s: Option<i32>,
    versions: &'a [String],
    /// `null` when not read: a function without a published version has its aliases read
    /// on demand (`--full`).
    aliases: Option<Vec<AliasDoc<'a>>>,
    concurrency: ConcurrencyDoc<'a>,
    /// `null` when its details (GetFunction) could not be read.
    tags: Option<&'a BTreeMap<String, String>>,
    /// `null` when its numbers could not be read.
    metrics: Option<BTreeMap<MetricWindow, WindowStats>>,
    /// Only when its numbers could not be read (`metrics` null) but its duration percentiles
    /// were: each window's p50 and p99, in milliseconds.
    #[serde(skip_serializing_if = "Option::is_none")]
    percentiles: Option<BTreeMap<MetricWindow, crate::provider::Percentiles>>,
    /// `null` when the region's alarms could not be read (not "none").
    alarms: Option<Vec<&'a Alarm>>,
    /// Its own reads failed: listed with what ListFunctions said.
    #[serde(skip_serializing_if = "Option::is_none")]
    detail_error: Option<&'a str>,
    /// What was not read (shown as `null` above, never as none): `--full` reads it.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    not_read: Vec<&'static str>,
}

#[derive(Serialize)]
struct AliasDoc<'a> {
    name: &'a str,
    function_version: &'a str,
    /// Configured share per version, main version first.
    weights: Vec<VersionShare>,
    /// Observed share of invocations per version over 15 minutes (ExecutedVersion), the
    /// configured versions first, then any other that still ran through the alias; `null` when
    /// the function's numbers could not be read.
    observed_15m: Option<Vec<VersionShare>>,
}

#[derive(Serialize)]
struct VersionShare {
    version: String,
    share: Option<f64>,
    #[serde(skip_serializing_if = "Option::is_none")]
    invocations: Option<f64>,
}

#[derive(Serialize)]
struct ConcurrencyDoc<'a> {
    reserved: Option<i32>,
    /// `null` when not read (`--full` reads it).
    provisioned: Option<&'a [ProvisionedConcurrency]>,
}

impl<'a> StatusDoc<'a> {
    /// `windows`: those the document gives (every one, or the one `--window` asked).
    fn new(
        reports: &'a [RegionReport],
        windows: &[MetricWindow],
        api_calls: Option<Vec<CallCount>>,
    ) -> Self {
        StatusDoc {
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            complete: reports.iter().all(RegionReport::complete),
            regions: reports.iter().map(|r| RegionDoc::new(r, windows)).collect(),
            cloudwatch: api_calls.is_some().then(|| CloudWatchCost::of(reports)),
            api_calls,
        }
    }
}

/// What answered of a region: its functions, their numbers and the alarms.
pub(super) struct Data<'a> {
    pub(super) inventory: &'a Inventory,
    metrics: Option<&'a MetricsSnapshot>,
    /// `None` when the alarms could not be read.
    alarms: Option<&'a [Alarm]>,
}

impl<'a> Data<'a> {
    pub(super) fn of(report: &'a RegionReport) -> Option<Data<'a>> {
        Some(Data {
            inventory: report.inventory.as_ref().ok()?,
            metrics: report.metrics.as_ref().ok(),
            alarms: report.alarms.as_deref().ok(),
        })
    }

    /// The function's numbers, `None` when they could not be read.
    pub(super) fn metrics_of(&self, name: &str) -> Option<&'a FunctionMetrics> {
        self.metrics.and_then(|m| m.functions.get(name))
    }

    /// What was read of the function's aliases' split and its percentiles, also when its
    /// numbers were not: never for its numbers.
    pub(super) fn split_and_percentiles_of(&self, name: &str) -> Option<&'a FunctionMetrics> {
        self.metrics.and_then(|m| m.split_and_percentiles_of(name))
    }

    /// The function's alarms, `None` when the alarms could not be read.
    pub(super) fn alarms_of(&self, function: &'a str) -> Option<Vec<&'a Alarm>> {
        self.alarms.map(|all| {
            all.iter()
                .filter(|a| a.function.as_deref() == Some(function))
                .collect()
        })
    }
}

impl<'a> RegionDoc<'a> {
    fn new(report: &'a RegionReport, windows: &[MetricWindow]) -> Self {
        let failures = report.failures();
        let mut doc = RegionDoc {
            profile: &report.scope.profile,
            region: &report.scope.region,
            health: if report.unreachable() {
                Health::Unreachable {
                    error: failures.join("; "),
                }
            } else if failures.is_empty() {
                Health::Ok
            } else {
                Health::Partial { failures }
            },
            reads: [
                (
                    "inventory",
                    // Cut short, or functions listed without their details: not whole.
                    match &report.inventory {
                        Ok(inv) => {
                            let short = inv.incomplete.iter().cloned();
                            let details = crate::provider::details_failure(&inv.functions);
                            let settings = inv.account_settings_error.iter().cloned();
                            let missing: Vec<String> =
                                short.chain(details).chain(settings).collect();
                            match missing.is_empty() {
                                true => ReadDoc::Ok,
                                false => ReadDoc::Partial {
                                    error: missing.join("; "),
                                },
                            }
                        }
                        Err(_) => ReadDoc::of(&report.inventory),
                    },
                ),
                ("alarms", ReadDoc::of(&report.alarms)),
                (
                    "metrics",
                    match &report.metrics {
                        // Part of it did not answer: what did is in the document.
                        Ok(m) => match &m.incomplete {
                            Some(why) => ReadDoc::Partial { error: why.clone() },
                            None => ReadDoc::Ok,
                        },
                        Err(ReadError::Failed(e)) => ReadDoc::Failed {
                            error: e.to_string(),
                        },
                        Err(ReadError::NotRead) => ReadDoc::NotRead,
                    },
                ),
            ]
            .into_iter()
            .collect(),
            elapsed_ms: report.elapsed.as_millis(),
            metrics_requested: report.metrics_requested,
            account_concurrency_limit: None,
            percentiles_supported: None,
            totals: None,
            functions: None,
            other_alarms: None,
        };
        doc.other_alarms = other_alarms(report);
        let Some(data) = Data::of(report) else {
            return doc;
        };
        doc.account_concurrency_limit = data.inventory.account_concurrency_limit;
        doc.percentiles_supported = data.metrics.map(|m| m.percentiles_supported);
        // Totals of the functions read are not the region's when some were not: unknown.
        doc.totals = data
            .metrics
            .filter(|m| !m.numbers_missing)
            .map(|m| region_totals(m, windows));
        doc.functions = Some(
            data.inventory
                .functions
                .iter()
                .map(|f| FunctionDoc::new(f, &data, windows))
                .collect(),
        );
        doc
    }
}

/// A region's alarms that no listed function's row shows: region-wide ones, those of
/// functions not listed, and all of them when the inventory failed (alarms answer apart from
/// Lambda). `None`: the alarms could not be read.
pub(super) fn other_alarms(report: &RegionReport) -> Option<Vec<&Alarm>> {
    let all = report.alarms.as_deref().ok()?;
    let listed = report.inventory.as_ref().ok();
    Some(
        all.iter()
            .filter(|a| {
                a.function.as_ref().is_none_or(|f| {
                    listed.is_none_or(|inv| !inv.functions.iter().any(|x| &x.name == f))
                })
            })
            .collect(),
    )
}

fn region_totals(
    metrics: &MetricsSnapshot,
    windows: &[MetricWindow],
) -> BTreeMap<MetricWindow, WindowStats> {
    windows
        .iter()
        .copied()
        .map(|w| {
            (
                w,
                WindowStats::sum(metrics.functions.values().map(|m| m.window(w))),
            )
        })
        .collect()
}

impl<'a> FunctionDoc<'a> {
    fn new(f: &'a FunctionInfo, data: &Data<'a>, windows: &[MetricWindow]) -> Self {
        let metrics = data.metrics_of(&f.name);
        let split = data.split_and_percentiles_of(&f.name);
        FunctionDoc {
            name: &f.name,
            arn: &f.arn,
            runtime: f.runtime.as_deref(),
            package_type: &f.package_type,
            state: &f.state,
            last_update_status: f.last_update_status.as_deref(),
            memory_mb: f.memory_mb,
            timeout_s: f.timeout_s,
            versions: &f.versions,
            aliases: (!f.not_read.aliases)
                .then(|| f.aliases.iter().map(|a| alias_doc(a, split)).collect()),
            concurrency: ConcurrencyDoc {
                reserved: f.reserved_concurrency,
                provisioned: (!f.not_read.provisioned).then_some(f.provisioned.as_slice()),
            },
            // Details whose read failed are unknown (null, named in not_read), not "none".
            tags: (!f.not_read.details).then_some(&f.tags),
            // Read with no ConcurrentExecutions point: nothing ran, a peak of 0 (as the
            // table and the dashboard say it); null stays "not read".
            metrics: metrics.map(|m| {
                windows
                    .iter()
                    .copied()
                    .map(|w| {
                        let mut stats = m.window(w);
                        stats.concurrency_max = stats.concurrency_max.or(Some(0.0));
                        (w, stats)
                    })
                    .collect()
            }),
            percentiles: split
                .filter(|_| metrics.is_none())
                .filter(|m| !m.percentiles.is_empty())
                .map(|m| m.percentiles.clone()),
            alarms: data.alarms_of(&f.name),
            detail_error: f.detail_error.as_deref(),
            // Every `null` above is named here: the region's reads too (`reads` says why).
            not_read: {
                let mut names = f.not_read.names();
                if metrics.is_none() {
                    names.push("metrics");
                }
                if split.is_some_and(|m| m.split_unread) {
                    names.push("alias_split");
                }
                if data.alarms.is_none() {
                    names.push("alarms");
                }
                names
            },
        }
    }
}

fn alias_doc<'a>(a: &'a AliasInfo, metrics: Option<&FunctionMetrics>) -> AliasDoc<'a> {
    let split = a.split(metrics, 15);
    AliasDoc {
        name: &a.name,
        function_version: &a.function_version,
        weights: a
            .configured_weights()
            .into_iter()
            .map(|(version, share)| VersionShare {
                version,
                share: Some(share),
                invocations: None,
            })
            .collect(),
        observed_15m: metrics.is_some_and(|m| !m.split_unread).then(|| {
            split
                .into_iter()
                .map(|v| VersionShare {
                    version: v.version,
                    share: v.observed,
                    invocations: Some(v.invocations),
                })
                .collect()
        }),
    }
}
