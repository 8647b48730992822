//! `lops triggers`: what starts a function, and the lever to pause a trigger that floods it.

use std::io::Write;

use clap::{Args, Subcommand};

use super::GlobalArgs;
use super::act::{ActFlags, run_one};
use crate::exit::{Exit, Failure};
use crate::ops::{OpsError, Request};
use crate::provider::{RegionActions, RegionSource, TriggerKind};
use crate::session::Session;

#[derive(Debug, Args)]
#[command(args_conflicts_with_subcommands = true)]
pub struct TriggersArgs {
    /// The function whose triggers to list.
    pub function: Option<String>,
    /// One JSON document on stdout.
    #[arg(long)]
    pub json: bool,
    #[command(subcommand)]
    pub action: Option<TriggerAction>,
}

#[derive(Debug, Subcommand)]
pub enum TriggerAction {
    /// Pause a rule or an event source mapping.
    Disable(Which),
    /// Resume a rule or an event source mapping.
    Enable(Which),
}

#[derive(Debug, Args)]
#[group(id = "which", required = true, multiple = false, args = ["rule", "mapping"])]
pub struct Which {
    /// An EventBridge rule (default event bus).
    #[arg(long)]
    pub rule: Option<String>,
    /// An event source mapping's UUID.
    #[arg(long)]
    pub mapping: Option<String>,
    #[command(flatten)]
    pub flags: ActFlags,
}

pub async fn triggers(global: &GlobalArgs, args: TriggersArgs) -> Result<Exit, Failure> {
    match args.action {
        Some(TriggerAction::Disable(which)) => set(global, which, false).await,
        Some(TriggerAction::Enable(which)) => set(global, which, true).await,
        None => {
            let Some(function) = args.function else {
                return Err(Failure::usage(
                    "name a function: lops triggers FUNCTION --region R (or `triggers disable --rule NAME`)",
                ));
            };
            list(global, &function, args.json).await
        }
    }
}

async fn set(global: &GlobalArgs, which: Which, enabled: bool) -> Result<Exit, Failure> {
    let (kind, id) = match (which.rule, which.mapping) {
        (Some(rule), _) => (TriggerKind::Rule, rule),
        (None, Some(uuid)) => (TriggerKind::Mapping, uuid),
        (None, None) => return Err(Failure::usage("give --rule NAME or --mapping UUID")),
    };
    run_one(global, &which.flags, |_| Request::SetTrigger {
        kind,
        id: id.clone(),
        enabled,
    })
    .await
}

async fn list(global: &GlobalArgs, function: &str, json: bool) -> Result<Exit, Failure> {
    crate::ops::request::check_function(function)?;
    let ctx = Session::connect(&global.flags()).await?;
    let mut docs = Vec::new();
    let mut failed = 0;
    let mut partial = false;
    let mut first_error: Option<OpsError> = None;
    let mut said: Vec<String> = Vec::new();
    let mut out = super::stdout();
    for region in &ctx.regions {
        let name = &region.scope().region;
        match region.triggers(function).await {
            Ok(t) => {
                if !json {
                    let _ = writeln!(out, "{function} in {name}");
                    // Nothing found while a part was not read: not "none".
                    if t.triggers.is_empty() && t.notes.is_empty() {
                        let _ = writeln!(out, "  no rules or event source mappings");
                    }
                    for tr in &t.triggers {
                        let _ = writeln!(
                            out,
                            "  {:<8} {:<38} {:<9} {}  ({})",
                            tr.kind.as_str(),
                            tr.id,
                            tr.state,
                            tr.source,
                            tr.detail
                        );
                    }
                    if let Some(url) = &t.url {
                        let _ = writeln!(
                            out,
                            "  url      {url} (auth {})",
                            t.url_auth.as_deref().unwrap_or("?")
                        );
                    }
                    for p in &t.principals {
                        let _ = writeln!(out, "  may invoke: {p}");
                    }
                    for n in &t.notes {
                        let _ = writeln!(out, "  not read: {n}");
                    }
                }
                // A part not read: the list is short of it (exit 3, as a region failing).
                partial |= !t.notes.is_empty();
                let mut doc = serde_json::to_value(&t).unwrap_or_default();
                doc["region"] = serde_json::Value::String(name.clone());
                // A mapping being created or updated is neither enabled nor disabled yet.
                for (i, tr) in t.triggers.iter().enumerate() {
                    if tr.known_enabled().is_none() {
                        doc["triggers"][i]["enabled"] = serde_json::Value::Null;
                    }
                }
                docs.push(doc);
            }
            Err(e) => {
                failed += 1;
                // (A timeout's is said by `prefixed`, with it.)
                let hint = match e {
                    crate::provider::ProviderError::Timeout(_) => "",
                    _ => crate::provider::hint(&e),
                };
                let e = match e {
                    crate::provider::ProviderError::NotFound(_) => OpsError::Invalid(format!(
                        "function {function} does not exist in {name}: check the name with `lops status`"
                    )),
                    // Which region and which call (and, said with it, what would help).
                    other => OpsError::Provider(
                        other.prefixed(&format!("{name}: GetFunctionConfiguration")),
                    ),
                };
                // Said after the others: when no region answers, the first is the command's
                // own error (said once, by it).
                said.push(format!("{e}{hint}"));
                // In the JSON too: a region that failed is an entry, not a gap.
                docs.push(serde_json::json!({"region": name, "error": format!("{e}{hint}")}));
                first_error.get_or_insert(e);
            }
        }
    }
    // Every region failed: the command failed as the first did (2 for a function that is
    // nowhere), with --json its error document.
    let nowhere = docs.len() == failed;
    for line in said.iter().skip(usize::from(nowhere)) {
        err!("lops: {line}");
    }
    if nowhere && let Some(e) = first_error {
        return Err(e.into());
    }
    if json {
        let _ = writeln!(
            out,
            "{}",
            crate::format::json_safe(serde_json::to_string_pretty(&docs).unwrap_or_default())
        );
    }
    Ok(if failed == 0 && !partial {
        Exit::Done
    } else {
        Exit::Partial
    })
}
