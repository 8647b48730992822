//! `lops traffic show`: each alias's weights in every region named, the regions that cannot
//! answer named beside them.

use std::io::Write;

use serde_json::json;

use super::GlobalArgs;
use crate::exit::{Exit, Failure};
use crate::provider::{RegionActions, RegionSource};
use crate::session::Session;

pub(super) async fn show(
    global: &GlobalArgs,
    function: &str,
    as_json: bool,
) -> Result<Exit, Failure> {
    crate::ops::request::check_function(function)?;
    let ctx = Session::connect(&global.flags()).await?;
    let mut docs = Vec::new();
    let mut failed: Vec<(String, Failure)> = Vec::new();
    let mut out = super::stdout();
    for region in &ctx.regions {
        // A region that cannot answer (the function missing there, say) is named; the others
        // are shown all the same.
        let inventory = match region.aliases(function).await {
            Ok(inventory) => inventory,
            Err(e) => {
                // Said as every action says a missing function.
                let what = format!("function {function}");
                let failure = Failure::from(crate::ops::plan::not_found(e, what));
                failed.push((region.scope().to_string(), failure));
                continue;
            }
        };
        for a in &inventory {
            let weights: Vec<_> = a
                .configured_weights()
                .into_iter()
                .map(|(v, w)| json!({"version": v, "weight": w}))
                .collect();
            docs.push(json!({"region": region.scope().region, "alias": a.name, "function_version": a.function_version, "weights": weights, "revision_id": a.revision_id}));
            if !as_json {
                let text: Vec<String> = a
                    .configured_weights()
                    .iter()
                    .map(|(v, w)| {
                        format!(
                            "{} {}",
                            crate::format::version(v),
                            crate::format::weight(*w)
                        )
                    })
                    .collect();
                let _ = writeln!(
                    out,
                    "{:<14} {function}:{:<12} {}",
                    region.scope().to_string(),
                    a.name,
                    text.join(" / ")
                );
            }
        }
        if inventory.is_empty() && !as_json {
            let _ = writeln!(
                out,
                "{:<14} {function} has no aliases",
                region.scope().to_string()
            );
        }
    }
    // One region that cannot answer is the error itself; several are each named.
    if failed.len() == 1 && ctx.regions.len() == 1 {
        return Err(failed.swap_remove(0).1);
    }
    for (scope, failure) in &failed {
        err!("lops: {scope}: {}", failure.message);
    }
    if failed.len() == ctx.regions.len() && !failed.is_empty() {
        // The error document is all a script reads: each region's reason in it too.
        let each = match as_json {
            true => (failed.iter())
                .map(|(scope, f)| format!("{scope}: {}", f.message))
                .collect::<Vec<_>>()
                .join("; "),
            false => "each named above".to_string(),
        };
        let first = failed.swap_remove(0).1;
        return Err(Failure {
            message: format!("{function}: shown in no region ({each})"),
            ..first
        });
    }
    if as_json {
        let errors: Vec<_> = failed
            .iter()
            .map(|(scope, f)| json!({"scope": scope, "error": f.message}))
            .collect();
        let doc = json!({"function": function, "aliases": docs, "errors": errors, "complete": failed.is_empty()});
        let _ = writeln!(
            out,
            "{}",
            serde_json::to_string_pretty(&doc).unwrap_or_default()
        );
    }
    Ok(if failed.is_empty() {
        Exit::Done
    } else {
        Exit::Partial
    })
}
