//! What a backup run is asked to do, checked, previewed and confirmed as both faces show it.

use super::backup::{BackupRequest, Selection};
use crate::backup::{BackupError, S3Uri};

impl BackupRequest {
    /// What can be checked without asking AWS: the names, and data sources apart from the store.
    pub fn validate(&self) -> Result<(), BackupError> {
        if let Selection::Named(names) = &self.selection {
            if names.is_empty() {
                return Err(BackupError::Invalid(
                    "no function named: pass --fn NAME (repeatable) or --all".into(),
                ));
            }
            for name in names {
                super::request::check_function(name)
                    .map_err(|e| BackupError::Invalid(e.to_string()))?;
            }
        }
        // A source that holds the backup location (or lies inside it) would copy the store into
        // itself, and each run the copies of the last.
        if let Some(source) = self.data.iter().find(|d| d.overlaps(&self.to)) {
            return Err(BackupError::Invalid(format!(
                "--data {source} overlaps the backup location {}: a backup would copy its own \
                 store; give a data prefix beside it, or back up to another prefix or bucket",
                self.to
            )));
        }
        Ok(())
    }
}

/// The functions a run backs up, per region (`--fn`'s names, or every one listed that
/// `--filter` matches), and the regions whose functions could not be listed, as failures: one
/// region's listing failing costs that region's backup, not the others'.
pub(super) async fn selected<'r, R: super::backup::BackupRegion>(
    regions: &'r [R],
    selection: &Selection,
) -> (Vec<Vec<(&'r R, String)>>, Vec<super::backup::Failed>) {
    use crate::provider::function::FunctionReads;
    let mut per_region = Vec::new();
    let mut unlisted = Vec::new();
    for r in regions {
        let work = match selection {
            Selection::Named(names) => names.iter().map(|n| (r, n.clone())).collect(),
            Selection::All { filter } => match r.reads().function_names().await {
                Ok(listed) => listed
                    .into_iter()
                    .filter(|n| filter.as_deref().is_none_or(|p| matches(n, p)))
                    .map(|n| (r, n))
                    .collect(),
                Err(e) => {
                    unlisted.push(super::backup::Failed {
                        region: r.scope().region.clone(),
                        function: "every function".into(),
                        error: format!(
                            "not listed, so none backed up (run again once ListFunctions \
                             answers): {e}"
                        ),
                        invalid: false,
                        refused: false,
                    });
                    Vec::new()
                }
            },
        };
        per_region.push(work);
    }
    (per_region, unlisted)
}

/// What a backup asks, in both faces: it only adds objects, so a yes — the typed target when
/// any of its scopes is a production one, like every change there: the function's name, or
/// `backup` for several (or every function, with `--all`).
pub fn backup_confirmation<'a>(
    functions: &[String],
    all: bool,
    scopes: impl IntoIterator<Item = &'a crate::provider::Scope>,
) -> super::Confirmation {
    let mut names: Vec<&str> = functions.iter().map(String::as_str).collect();
    names.sort_unstable();
    names.dedup();
    let target = match names.as_slice() {
        [one] if !all => one,
        _ => "backup",
    };
    super::Confirmation::all(
        scopes
            .into_iter()
            .map(|scope| super::confirmation(target, scope, false, false)),
    )
}

/// What a backup in `storage_class` must say before it runs (both faces): objects in an
/// archive class cannot be read until thawed.
pub fn thaw_note(storage_class: &str) -> Option<String> {
    crate::backup::store::needs_thaw(storage_class).then(|| {
        format!(
            "note: {storage_class} objects must be restored from the archive (hours) before a \
             restore or a verify can read them; manifests stay in STANDARD"
        )
    })
}

/// One scope's line of a backup's preview.
pub fn backup_line(
    what: &str,
    scope: &crate::provider::Scope,
    to: &S3Uri,
    storage_class: &str,
) -> String {
    format!("back up {what} @ {scope} to {to} ({storage_class})")
}

/// The preview of a backup run, one line per scope (and one per data source): what is backed
/// up where, to which store.
pub fn backup_preview<'a>(
    request: &BackupRequest,
    scopes: impl IntoIterator<Item = &'a crate::provider::Scope>,
) -> Vec<String> {
    let what = match &request.selection {
        Selection::Named(names) => names.join(", "),
        Selection::All { filter: None } => "every function".into(),
        Selection::All { filter: Some(f) } => format!("every function matching {f:?}"),
    };
    let mut lines: Vec<String> = scopes
        .into_iter()
        .map(|scope| backup_line(&what, scope, &request.to, &request.storage_class))
        .collect();
    lines.extend(
        request
            .data
            .iter()
            .map(|d| format!("copy data {d} to {}", request.to)),
    );
    lines
}

/// The functions `--fn` names, as a list: spaces around a comma are the list's (as `lops logs`
/// takes it); an empty entry is a slip said as one; a name given twice is one function,
/// backed up once.
pub fn named(given: &[String]) -> Result<Vec<String>, BackupError> {
    let nothing = "name what to back up: --fn NAME (repeatable) or --all [--filter PATTERN]";
    if given.iter().all(|f| f.trim().is_empty()) {
        return Err(BackupError::Invalid(nothing.into()));
    }
    let mut names: Vec<String> = Vec::new();
    for f in given.iter().map(|f| f.trim()) {
        if f.is_empty() {
            return Err(BackupError::Invalid(
                "an empty function name in --fn (a stray comma?): --fn NAME[,NAME2]".into(),
            ));
        }
        if !names.iter().any(|n| n == f) {
            names.push(f.to_string());
        }
    }
    Ok(names)
}

/// Matches a function name against `--filter`.
pub fn matches(name: &str, pattern: &str) -> bool {
    if !pattern.contains('*') {
        return name.contains(pattern);
    }
    let parts: Vec<&str> = pattern.split('*').collect();
    let mut rest = name;
    for (i, part) in parts.iter().enumerate() {
        if part.is_empty() {
            continue;
        }
        if i == 0 {
            match rest.strip_prefix(part) {
                Some(r) => rest = r,
                None => return false,
            }
        } else if i == parts.len() - 1 {
            return rest.ends_with(part);
        } else {
            match rest.find(part) {
                Some(at) => rest = &rest[at + part.len()..],
                None => return false,
            }
        }
    }
    true
}
