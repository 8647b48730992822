//! `lops service`: a service's Route 53 weights per region next to the load its regions really
//! took, and the levers — drain a region, restore it, set weights — through the ops layer.

use std::io::Write;

use unicode_width::UnicodeWidthStr;

use clap::Subcommand;
use serde_json::json;

use super::GlobalArgs;
use super::act::{Repeat, run_batch};
use super::common::{ActFlags, early_check};
use crate::exit::{Exit, Failure};
use crate::ops::batch::Target;
use crate::ops::service::{self, ServiceChange};
use crate::ops::{Kind, Request};
use crate::provider::RegionSource;
use crate::session::Session;

#[derive(Debug, Subcommand)]
pub enum ServiceCommand {
    /// Each region's configured weight, health check and the share of invocations it took
    /// over the last 15 minutes (of the regions this session reads).
    Show {
        name: String,
        #[arg(long)]
        json: bool,
    },
    /// Weight 0 for the region given with --region: its share goes to the others.
    Drain {
        name: String,
        /// Past the guard that keeps one healthy region with weight (typed confirmation).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// The region given with --region back to the weight its last drain found.
    Restore {
        name: String,
        #[command(flatten)]
        flags: ActFlags,
    },
    /// Set weights: REGION=N[,REGION=N] (whole numbers 0 to 255); other regions keep theirs.
    Weights {
        name: String,
        weights: String,
        /// Past the guard that keeps one healthy region with weight (typed confirmation).
        #[arg(long)]
        force: bool,
        #[command(flatten)]
        flags: ActFlags,
    },
}

pub async fn run(global: &GlobalArgs, command: ServiceCommand) -> Result<Exit, Failure> {
    let (settings, _) = crate::session::settings(&global.flags())?;
    let (name, change, force, flags, kind) = match command {
        ServiceCommand::Show { name, json } => return show(global, &name, json).await,
        ServiceCommand::Drain { name, force, flags } => {
            let region = one_region(global, "drain")?;
            (
                name,
                ServiceChange::Drain(region),
                force,
                flags,
                Kind::ServiceDrain,
            )
        }
        ServiceCommand::Restore { name, flags } => {
            let region = one_region(global, "restore")?;
            (
                name,
                ServiceChange::Restore(region),
                false,
                flags,
                Kind::ServiceRestore,
            )
        }
        ServiceCommand::Weights {
            name,
            weights,
            force,
            flags,
        } => {
            let weights = service::parse_weights(&weights).map_err(Failure::from)?;
            (
                name,
                ServiceChange::Weights(weights),
                force,
                flags,
                Kind::ServiceWeights,
            )
        }
    };
    let found = service::find(&settings.services, &name)
        .map_err(Failure::from)?
        .clone();
    // A drain or a restore goes through the region it moves (Route 53 is reached from any):
    // its result, audit record and undo name that region.
    let mut global = global.clone();
    if let Some(p) = &found.profile {
        global.profiles = vec![p.clone()];
    }
    // The tier of the service's own profile decides (checked again in the ops layer), named as
    // the ops layer and the dashboard name it.
    let (settings, _) = crate::session::settings(&global.flags())?;
    match crate::session::profiles(&settings).as_slice() {
        [profile] => crate::ops::authorize(
            crate::session::access(&settings, profile).tier,
            kind.needs(),
            &crate::ops::service_subject(kind, &found.name, profile),
        )
        .map_err(Failure::from)?,
        // Several: the one whose scope holds the zone is known once connected.
        _ => early_check(&global, kind)?,
    }
    let ctx = connect_for(&global, &found).await?;
    let home = service::home_for(
        ctx.regions.iter().map(|r| r.scope()),
        ctx.regions.len(),
        &found,
        &change,
    )
    .map_err(Failure::from)?;
    let request = Request::Service {
        service: Box::new(found),
        change,
        force,
    };
    run_batch(
        &ctx,
        &flags,
        Repeat::Refused,
        vec![Target::Ask(home, request)],
    )
    .await
}

/// The session a service is read and changed in: one whose own profile cannot be used says
/// which service names it, and where to mend it.
async fn connect_for(
    global: &GlobalArgs,
    found: &crate::config::ServiceSettings,
) -> Result<Session, Failure> {
    Session::connect(&global.flags())
        .await
        .map_err(|f| match &found.profile {
            // Only a failure of that profile (a bad --regions is the command line's).
            Some(p) if f.message.contains(&format!("'{p}'")) => Failure {
                message: format!(
                    "service {} is read with profile {p} (the `profile` of its [[service]] in the \
                 config file): {}",
                    found.name, f.message
                ),
                ..f
            },
            _ => f,
        })
}

/// The one region `--region` names, for drain and restore.
fn one_region(global: &GlobalArgs, what: &str) -> Result<String, Failure> {
    let (_, extra) = crate::session::settings(&global.flags())?;
    match global.regions.as_deref() {
        Some([region]) => {
            crate::config::check_region(region, &extra).map_err(Failure::usage)?;
            Ok(region.clone())
        }
        _ => Err(Failure::usage(format!(
            "name the one region to {what}: lops service {what} NAME --region REGION"
        ))),
    }
}

async fn show(global: &GlobalArgs, name: &str, as_json: bool) -> Result<Exit, Failure> {
    let (settings, _) = crate::session::settings(&global.flags())?;
    let found = service::find(&settings.services, name)
        .map_err(Failure::from)?
        .clone();
    let mut global = global.clone();
    if let Some(p) = &found.profile {
        global.profiles = vec![p.clone()];
    }
    let ctx = connect_for(&global, &found).await?;
    let home = service::home(
        ctx.regions.iter().map(|r| r.scope()),
        ctx.regions.len(),
        &found,
    )
    .map_err(Failure::from)?;
    let view = service::read(&ctx.regions[home], &found)
        .await
        .map_err(|e| {
            // Which read failed and what would help (a bare "HTTP 503 from the server" named
            // neither the service nor Route 53).
            let hint = match &e {
                crate::ops::OpsError::Provider(p) => crate::provider::hint(p),
                _ => "",
            };
            let mut failure = Failure::from(e);
            failure.message = format!(
                "service {}: its Route 53 record set not read: {}{hint}",
                found.name, failure.message
            );
            failure
        })?;
    // The load each region really took, read where this session reaches (each on its own).
    let regions = view.regions();
    let reads = ctx
        .regions
        .iter()
        .filter(|r| regions.contains(&r.scope().region))
        .map(|r| async {
            (
                r.scope().region.clone(),
                service::observed(r, &found, 15).await,
            )
        });
    let observed: Vec<(String, Result<f64, crate::provider::ProviderError>)> =
        futures::future::join_all(reads).await;
    let taken: Vec<(String, Option<f64>)> = regions
        .iter()
        .map(|r| {
            let n = observed.iter().find(|(o, _)| o == r);
            (r.clone(), n.and_then(|(_, n)| n.as_ref().ok().copied()))
        })
        .collect();
    let taken_shares = service::observed_shares(&view, &taken);
    let unmapped: Vec<&str> = view
        .members
        .iter()
        .filter(|m| m.region.is_none())
        .map(|m| m.record.set_id.as_deref().unwrap_or("-"))
        .collect();
    let unread: Vec<&str> = taken
        .iter()
        .filter(|(_, n)| n.is_none())
        .map(|(r, _)| r.as_str())
        .collect();
    let shares = view.shares();
    let mut rows = Vec::new();
    let mut partial = false;
    for m in &view.members {
        let region = m.region.clone();
        let seen = region
            .as_ref()
            .and_then(|r| observed.iter().find(|(o, _)| o == r))
            .map(|(_, r)| r);
        let taken = region
            .as_ref()
            .and_then(|r| taken_shares.get(r).copied())
            .flatten();
        let (invocations, note) = match seen {
            Some(Ok(n)) => (Some(*n), None),
            Some(Err(e)) => {
                partial = true;
                (None, Some(e.to_string()))
            }
            None if region.is_none() => {
                partial = true;
                (
                    None,
                    Some(
                        "no region: map its set identifier in the service's `regions` in the \
                         config"
                            .to_string(),
                    ),
                )
            }
            None => {
                partial = true;
                (
                    None,
                    Some("not read (add the region with --regions)".to_string()),
                )
            }
        };
        // A check attached whose read failed: the member's health is not known (exit 3).
        if matches!(m.health, crate::provider::dns::Health::Unread(_)) {
            partial = true;
        }
        rows.push(json!({
            "region": region,
            "set_id": m.record.set_id,
            "routing": m.record.routing(),
            "weight": m.record.weight,
            "share": member_share(&view, m).or_else(|| region.as_ref().and_then(|r| shares.get(r)).copied()),
            "invocations_15m": invocations,
            "observed_share": taken,
            "drift": service::drift(region.as_ref().and_then(|r| shares.get(r)).copied(), taken),
            "observed_error": note,
            "health": m.health,
            "health_check": m.record.health_check,
            "target": m.record.target(),
        }));
    }
    // What was not read is named on stderr, with --json too (its document says it as null
    // or `unread`; the why is here).
    for (region, r) in &observed {
        if let Err(e) = r {
            err!("lops: {region}: invocations not read: {e}");
        }
    }
    for m in &view.members {
        if let crate::provider::dns::Health::Unread(why) = &m.health {
            err!(
                "lops: {} ({}): health check {} not read: {why}",
                m.record.set_id.as_deref().unwrap_or("-"),
                m.region.as_deref().unwrap_or("no region"),
                m.record.health_check.as_deref().unwrap_or("-"),
            );
        }
    }
    if as_json {
        super::print_json(&json!({
            "service": found.name,
            "zone": found.zone_id(),
            "record": found.record,
            "type": found.kind,
            "ttl": view.ttl(),
            "members": rows,
            "complete": !partial,
        }));
    } else {
        let mut out = super::stdout();
        let pct = |v: Option<f64>| {
            v.map_or(crate::format::MISSING.to_string(), |s| {
                format!("{:.0}%", s * 100.0)
            })
        };
        let width = super::status_table::table_width();
        let (what, place) = (
            format!("service {} — {} {}", found.name, found.record, found.kind),
            format!(
                "in zone {}, TTL {}",
                found.zone_id(),
                view.ttl()
                    .map_or(crate::format::MISSING.to_string(), |t| format!("{t} s"))
            ),
        );
        let _ = match width.is_some_and(|w| what.width() + 1 + place.width() > w) {
            true => writeln!(out, "{what}\n  {place}"),
            false => writeln!(out, "{what} {place}"),
        };
        // What a region took is the region's: Lambda cannot tell which of its records a
        // caller resolved. Said once per region (its other members say `"`).
        let mut said: Vec<&str> = Vec::new();
        let mut shared = false;
        let mut table: Vec<[String; 8]> = Vec::new();
        for (m, row) in view.members.iter().zip(&rows) {
            // Over or under what its weights give it (more than 5 points), as the dashboard's
            // DRIFT column says it.
            let drift = row["drift"].as_str().unwrap_or_default();
            let (observed, drift) = match m.region.as_deref() {
                Some(r) if said.contains(&r) => {
                    shared = true;
                    ("\"".to_string(), "")
                }
                Some(r) => {
                    said.push(r);
                    (pct(row["observed_share"].as_f64()), drift)
                }
                None => (pct(row["observed_share"].as_f64()), drift),
            };
            table.push([
                m.region.as_deref().unwrap_or("? (unmapped)").to_string(),
                m.record.set_id.as_deref().unwrap_or("-").to_string(),
                m.record.routing(),
                pct(row["share"].as_f64()),
                observed,
                drift.to_string(),
                match m.record.health_check {
                    None => "no check".to_string(),
                    Some(_) => m.health.word().to_string(),
                },
                m.record.target(),
            ]);
        }
        write_members(&mut out, &table, width);
        if shared {
            let _ = writeln!(
                out,
                "OBSERVED is the share of invocations the region took, all its records together"
            );
        }
        // A region asked whose read failed (said above) is not one to add to --regions.
        let (failed, absent): (Vec<&str>, Vec<&str>) = unread
            .iter()
            .partition(|r| observed.iter().any(|(o, _)| o == *r));
        if !failed.is_empty() {
            let _ = writeln!(
                out,
                "OBSERVED needs every region's load: {} could not be read (above); run again",
                failed.join(", ")
            );
        }
        if !absent.is_empty() {
            let _ = writeln!(
                out,
                "OBSERVED needs every region's load: {} not read (read with --regions)",
                absent.join(", ")
            );
        }
        if !unmapped.is_empty() {
            let _ = writeln!(
                out,
                "OBSERVED needs every member's region: {} map(s) to none (set `regions = {{ \
                 {} = \"REGION\" }}` in the service's config)",
                unmapped.join(", "),
                unmapped[0]
            );
        }
    }
    Ok(if partial { Exit::Partial } else { Exit::Done })
}

/// The members' table, each column as wide as its widest cell; the target (an address, often
/// long) goes on a line of its own under its member where the line would not fit the width.
fn write_members(out: &mut impl Write, rows: &[[String; 8]], width: Option<usize>) {
    const HEAD: [&str; 8] = [
        "REGION", "RECORD", "ROUTING", "SHARE", "OBSERVED", "DRIFT", "HEALTH", "TARGET",
    ];
    // Terminal columns (a wide character takes two).
    let len = unicode_width::UnicodeWidthStr::width;
    let mut widths = HEAD.map(len);
    for row in rows {
        for (w, cell) in widths.iter_mut().zip(row) {
            *w = (*w).max(len(cell));
        }
    }
    // Numbers right-aligned; two spaces before HEALTH, as the dashboard's columns.
    let cells = |row: [&str; 7]| {
        let mut line = String::new();
        for (i, (cell, w)) in row.iter().zip(widths).enumerate() {
            let pad = " ".repeat(w.saturating_sub(len(cell)));
            line.push_str(match i {
                0 => "",
                6 => "  ",
                _ => " ",
            });
            match i {
                3 | 4 => line.push_str(&format!("{pad}{cell}")),
                _ => line.push_str(&format!("{cell}{pad}")),
            }
        }
        line
    };
    let head = cells([
        HEAD[0], HEAD[1], HEAD[2], HEAD[3], HEAD[4], HEAD[5], HEAD[6],
    ]);
    let whole = len(&head) + 1 + widths[7];
    let apart = width.is_some_and(|w| whole > w);
    let _ = match apart {
        true => writeln!(out, "{}", head.trim_end()),
        false => writeln!(out, "{head} {}", HEAD[7]),
    };
    for row in rows {
        let line = cells([
            &row[0], &row[1], &row[2], &row[3], &row[4], &row[5], &row[6],
        ]);
        let _ = match apart {
            true => writeln!(out, "{}\n    target {}", line.trim_end(), row[7]),
            false => writeln!(out, "{line} {}", row[7]),
        };
    }
}

/// A weighted member's own share of the record set (every weighted member counted, mapped
/// or not; all 0: equal shares), as Route 53 splits it.
fn member_share(view: &service::ServiceView, m: &service::Member) -> Option<f64> {
    let w = m.record.weight?;
    let weights: Vec<i64> = view
        .members
        .iter()
        .filter_map(|x| x.record.weight)
        .collect();
    let total: i64 = weights.iter().sum();
    Some(if total == 0 {
        1.0 / weights.len().max(1) as f64
    } else {
        w as f64 / total as f64
    })
}
