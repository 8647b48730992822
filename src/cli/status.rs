//! `lops status`: one complete read of the fleet, as a table or one JSON document.

use std::collections::BTreeMap;
use std::io::Write;

use clap::Args;
use serde::Serialize;

use super::GlobalArgs;
use crate::exit::{Exit, Failure};
use crate::format;
use crate::provider::aws::CallCount;
use crate::provider::{
    Alarm, AlarmState, AliasInfo, FunctionInfo, FunctionMetrics, MetricWindow,
    ProvisionedConcurrency, WindowStats,
};
use crate::runtime::read::{RegionData, RegionReport, read_all};
use crate::session::Session;

#[derive(Debug, Args)]
pub struct StatusArgs {
    /// One JSON document on stdout instead of the table.
    #[arg(long)]
    pub json: bool,
    /// Add the AWS API calls this read cost, per service, operation and region.
    #[arg(long)]
    pub stats: bool,
    /// Window of the table's numbers: 5m, 15m or 60m.
    #[arg(long, default_value = "5m", value_parser = parse_window)]
    pub window: MetricWindow,
}

fn parse_window(s: &str) -> Result<MetricWindow, String> {
    MetricWindow::parse(s).ok_or_else(|| format!("'{s}' is not a window: use 5m, 15m or 60m"))
}

pub async fn run(global: &GlobalArgs, args: StatusArgs) -> Result<Exit, Failure> {
    let ctx = Session::connect(&global.flags()).await?;
    let reports = read_all(&ctx.regions, ctx.settings.timeouts.region()).await;
    let calls = ctx.counter.snapshot();
    let failed = reports.iter().filter(|r| r.result.is_err()).count();
    let mut out = std::io::stdout().lock();
    let written = if args.json {
        let doc = StatusDoc::new(&reports, args.stats.then_some(calls));
        serde_json::to_writer_pretty(&mut out, &doc)
            .map_err(std::io::Error::from)
            .and_then(|()| writeln!(out))
    } else {
        write_table(
            &mut out,
            &reports,
            args.window,
            args.stats.then_some(&calls),
        )
    };
    written.map_err(|e| Failure::failed(format!("cannot write output: {e}")))?;
    for report in &reports {
        if let Err(e) = &report.result {
            err!("lops: region {} unreachable: {e}", report.scope);
        }
    }
    Ok(if failed > 0 {
        Exit::Partial
    } else {
        Exit::Done
    })
}

#[derive(Serialize)]
struct StatusDoc<'a> {
    generated_at: String,
    complete: bool,
    regions: Vec<RegionDoc<'a>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    api_calls: Option<Vec<CallCount>>,
}

#[derive(Serialize)]
struct RegionDoc<'a> {
    profile: &'a str,
    region: &'a str,
    health: Health,
    elapsed_ms: u128,
    #[serde(skip_serializing_if = "Option::is_none")]
    account_concurrency_limit: Option<Option<i64>>,
    #[serde(skip_serializing_if = "Option::is_none")]
    percentiles_supported: Option<bool>,
    #[serde(skip_serializing_if = "Option::is_none")]
    totals: Option<BTreeMap<MetricWindow, WindowStats>>,
    functions: Vec<FunctionDoc<'a>>,
    /// Alarms not tied to any function of this region.
    other_alarms: Vec<&'a Alarm>,
}

#[derive(Serialize)]
#[serde(tag = "status", rename_all = "lowercase")]
enum Health {
    Ok,
    Unreachable { error: String },
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
    aliases: Vec<AliasDoc<'a>>,
    concurrency: ConcurrencyDoc<'a>,
    tags: &'a BTreeMap<String, String>,
    metrics: BTreeMap<MetricWindow, WindowStats>,
    alarms: Vec<&'a Alarm>,
}

#[derive(Serialize)]
struct AliasDoc<'a> {
    name: &'a str,
    function_version: &'a str,
    /// Configured share per version, main version first.
    weights: Vec<VersionShare>,
    /// Observed share of invocations per version over 15 minutes (ExecutedVersion).
    observed_15m: Vec<VersionShare>,
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
    provisioned: &'a [ProvisionedConcurrency],
}

impl<'a> StatusDoc<'a> {
    fn new(reports: &'a [RegionReport], api_calls: Option<Vec<CallCount>>) -> Self {
        StatusDoc {
            generated_at: chrono::Utc::now().to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
            complete: reports.iter().all(|r| r.result.is_ok()),
            regions: reports.iter().map(RegionDoc::new).collect(),
            api_calls,
        }
    }
}

impl<'a> RegionDoc<'a> {
    fn new(report: &'a RegionReport) -> Self {
        let mut doc = RegionDoc {
            profile: &report.scope.profile,
            region: &report.scope.region,
            health: Health::Ok,
            elapsed_ms: report.elapsed.as_millis(),
            account_concurrency_limit: None,
            percentiles_supported: None,
            totals: None,
            functions: Vec::new(),
            other_alarms: Vec::new(),
        };
        match &report.result {
            Err(e) => {
                doc.health = Health::Unreachable {
                    error: e.to_string(),
                }
            }
            Ok(data) => {
                doc.account_concurrency_limit = Some(data.inventory.account_concurrency_limit);
                doc.percentiles_supported = Some(data.metrics.percentiles_supported);
                doc.totals = Some(region_totals(data));
                doc.functions = data
                    .inventory
                    .functions
                    .iter()
                    .map(|f| FunctionDoc::new(f, data))
                    .collect();
                doc.other_alarms = data
                    .alarms
                    .iter()
                    .filter(|a| {
                        a.function
                            .as_ref()
                            .is_none_or(|f| !data.inventory.functions.iter().any(|x| &x.name == f))
                    })
                    .collect();
            }
        }
        doc
    }
}

fn metrics_of<'a>(data: &'a RegionData, name: &str) -> Option<&'a FunctionMetrics> {
    data.metrics.functions.get(name)
}

fn region_totals(data: &RegionData) -> BTreeMap<MetricWindow, WindowStats> {
    MetricWindow::ALL
        .into_iter()
        .map(|w| {
            let mut total = WindowStats::default();
            for m in data.metrics.functions.values() {
                let s = m.window(w);
                total.invocations += s.invocations;
                total.errors += s.errors;
                total.throttles += s.throttles;
            }
            total.error_rate = (total.invocations > 0.0).then(|| total.errors / total.invocations);
            (w, total)
        })
        .collect()
}

impl<'a> FunctionDoc<'a> {
    fn new(f: &'a FunctionInfo, data: &'a RegionData) -> Self {
        let metrics = metrics_of(data, &f.name);
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
            aliases: f.aliases.iter().map(|a| alias_doc(a, metrics)).collect(),
            concurrency: ConcurrencyDoc {
                reserved: f.reserved_concurrency,
                provisioned: &f.provisioned,
            },
            tags: &f.tags,
            metrics: MetricWindow::ALL
                .into_iter()
                .map(|w| (w, metrics.map(|m| m.window(w)).unwrap_or_default()))
                .collect(),
            alarms: alarms_of(data, &f.name).collect(),
        }
    }
}

fn alias_doc<'a>(a: &'a AliasInfo, metrics: Option<&FunctionMetrics>) -> AliasDoc<'a> {
    let observed: Vec<(String, f64)> = a
        .versions()
        .map(|v| {
            let n = metrics
                .and_then(|m| {
                    m.alias_versions
                        .iter()
                        .find(|x| x.alias == a.name && x.version == v)
                })
                .map(|x| crate::provider::sum_last(&x.invocations, 15))
                .unwrap_or(0.0);
            (v.to_string(), n)
        })
        .collect();
    let total: f64 = observed.iter().map(|(_, n)| n).sum();
    AliasDoc {
        name: &a.name,
        function_version: &a.function_version,
        weights: a
            .configured_weights()
            .into_iter()
            .map(|(version, w)| VersionShare {
                version,
                share: Some(w),
                invocations: None,
            })
            .collect(),
        observed_15m: observed
            .into_iter()
            .map(|(version, n)| VersionShare {
                version,
                share: (total > 0.0).then(|| n / total),
                invocations: Some(n),
            })
            .collect(),
    }
}

fn alarms_of<'a>(data: &'a RegionData, function: &'a str) -> impl Iterator<Item = &'a Alarm> {
    data.alarms
        .iter()
        .filter(move |a| a.function.as_deref() == Some(function))
}

fn write_table(
    out: &mut impl Write,
    reports: &[RegionReport],
    window: MetricWindow,
    calls: Option<&Vec<CallCount>>,
) -> std::io::Result<()> {
    let w = window.label();
    writeln!(
        out,
        "{:<14} {:<32} {:<8} {:>9} {:>6} {:>5} {:>7} {:>7} {:>10}  ALARM",
        "REGION",
        "FUNCTION",
        "STATE",
        format!("INV {w}"),
        "ERR%",
        "THR",
        "AVG",
        "P99",
        "CONC"
    )?;
    for report in reports {
        let Ok(data) = &report.result else { continue };
        for f in &data.inventory.functions {
            let stats = metrics_of(data, &f.name)
                .map(|m| m.window(window))
                .unwrap_or_default();
            let alarm = alarms_of(data, &f.name)
                .min_by_key(|a| a.state)
                .map(|a| match a.state {
                    AlarmState::Alarm => format!("ALARM {}", a.name),
                    AlarmState::InsufficientData => "no data".to_string(),
                    AlarmState::Ok => "ok".to_string(),
                })
                .unwrap_or_default();
            writeln!(
                out,
                "{:<14} {:<32} {:<8} {:>9} {:>6} {:>5} {:>7} {:>7} {:>10}  {}",
                report.scope.to_string(),
                truncate(&f.name, 32),
                truncate(&f.state, 8),
                format::count(stats.invocations),
                format::percent(stats.error_rate),
                format::count(stats.throttles),
                format::millis(stats.duration_avg_ms),
                format::millis(stats.duration_p99_ms),
                concurrency(
                    stats.concurrency_max,
                    f.reserved_concurrency,
                    data.inventory.account_concurrency_limit
                ),
                alarm
            )?;
        }
    }
    writeln!(out)?;
    for report in reports {
        match &report.result {
            Ok(data) => writeln!(
                out,
                "{}: ok, {} functions, read in {:.1}s",
                report.scope,
                data.inventory.functions.len(),
                report.elapsed.as_secs_f64()
            )?,
            Err(e) => writeln!(out, "{}: UNREACHABLE: {e}", report.scope)?,
        }
    }
    if let Some(calls) = calls {
        writeln!(out, "\nAPI calls:")?;
        for c in calls {
            writeln!(
                out,
                "  {:<14} {:<12} {:<36} {:>5}",
                format!(
                    "{}",
                    crate::provider::Scope::new(
                        c.key.profile.clone(),
                        c.key.region.clone(),
                        Default::default()
                    )
                ),
                c.key.service,
                c.key.operation,
                c.calls
            )?;
        }
        writeln!(
            out,
            "  total {}",
            calls.iter().map(|c| c.calls).sum::<u64>()
        )?;
    }
    Ok(())
}

/// "peak/limit", where the limit is the reserved concurrency (marked r) or the account's.
fn concurrency(peak: Option<f64>, reserved: Option<i32>, account: Option<i64>) -> String {
    let peak = peak.map(format::count).unwrap_or_else(|| "0".to_string());
    match (reserved, account) {
        (Some(r), _) => format!("{peak}/{r}r"),
        (None, Some(a)) => format!("{peak}/{a}"),
        (None, None) => peak,
    }
}

fn truncate(s: &str, max: usize) -> String {
    if s.chars().count() <= max {
        s.to_string()
    } else {
        let mut t: String = s.chars().take(max - 1).collect();
        t.push('…');
        t
    }
}
