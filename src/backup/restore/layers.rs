//! Where each layer a restored function uses comes from in the target: the same ARN, a copy
//! already there, or one published from the content the backup stored.

use super::difference::*;
use super::*;

/// A layer version ARN's layer name (`arn:…:layer:NAME:N` → NAME).
pub(super) fn layer_name(arn: &str) -> &str {
    arn.split(':').nth(6).unwrap_or(arn)
}

/// (region, account) of an ARN.
pub(super) fn region_account(arn: &str) -> (&str, &str) {
    let mut parts = arn.split(':').skip(3);
    (
        parts.next().unwrap_or_default(),
        parts.next().unwrap_or_default(),
    )
}

/// Decides where each layer version the snapshot's configurations name comes from in the
/// target: the same ARN where it is usable there (same region, and not the snapshot account's
/// own layer restored into another account), a copy the target already uses (same name, same
/// content), else published from the content the backup stored — or, without it, refused.
pub(super) fn steps_for_layers(
    out: &mut Difference,
    manifest: &Manifest,
    current: Option<&Current>,
    copies: &BTreeMap<String, String>,
    region: &str,
    account: &str,
) {
    let used: BTreeSet<&String> = std::iter::once(&manifest.latest)
        .chain(&manifest.versions)
        .flat_map(|v| v.config.layers.iter())
        .collect();
    let mut publish = Vec::new();
    for arn in used {
        let (layer_region, layer_account) = region_account(arn);
        let usable = layer_region == region
            && (layer_account == account || layer_account != manifest.account);
        if usable {
            out.layers.insert(arn.clone(), arn.clone());
            continue;
        }
        let stored = manifest.layers.iter().find(|l| &l.arn == arn);
        let blob = stored.and_then(|l| l.blob.as_ref());
        let held = current.into_iter().flat_map(|c| c.layers.iter());
        let mut held = held.chain(copies);
        let copy = blob.and_then(|blob| {
            held.find(|(have, sha)| {
                layer_name(have) == layer_name(arn)
                    && region_account(have) == (region, account)
                    && crate::backup::store::lambda_sha_to_hex(sha).as_ref() == Some(blob)
            })
        });
        match (copy, blob, stored) {
            (Some((have, _)), _, _) => {
                out.layers.insert(arn.clone(), have.clone());
            }
            (None, Some(blob), Some(l)) => {
                let same = publish.iter_mut().find_map(|step| match step {
                    Step::Layer {
                        arn: first,
                        also,
                        blob: b,
                        ..
                    } if b == blob && layer_name(first) == layer_name(arn) => Some(also),
                    _ => None,
                });
                match same {
                    Some(also) => also.push(arn.clone()),
                    None => publish.push(Step::Layer {
                        arn: arn.clone(),
                        also: Vec::new(),
                        blob: blob.clone(),
                        size: l.code_size.max(0) as u64,
                        compatible_runtimes: l.compatible_runtimes.clone(),
                    }),
                }
            }
            _ => {
                // Asked for at the backup and not stored: a new backup would miss it again.
                let why_absent = [format!("layer content {arn}"), format!("layer {arn}")]
                    .iter()
                    .find_map(|k| manifest.absent.get(k).cloned());
                let remedy = match why_absent {
                    Some(why) => format!(
                        "the backup could not store it ({why}): restore into {layer_region} \
                         (account {layer_account}), where the layer is, or back up again once \
                         its content can be read"
                    ),
                    None => "back the function up with `lops backup run --with-layers` and \
                             restore from that snapshot"
                        .to_string(),
                };
                out.refused.push(format!(
                    "layer {arn} is not usable in {region} (account {account}) and its content \
                     is not in the snapshot, so no copy here can be checked against it: {remedy}"
                ))
            }
        }
    }
    // Published before the function that names them.
    out.steps.splice(0..0, publish);
}
