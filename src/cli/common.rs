//! What every action command shares: its flags, the rollout arguments, the tier check before
//! any request, and the audit log.

use clap::Args;

use super::GlobalArgs;
use crate::exit::Failure;
use crate::ops::Kind;
use crate::ops::audit::AuditLog;
use crate::session::Session;

/// Flags every action shares.
#[derive(Debug, Args, Clone, Default)]
pub struct ActFlags {
    /// Show what would change, change nothing.
    #[arg(long)]
    pub dry_run: bool,
    /// Confirm without asking (for scripts).
    #[arg(long, short = 'y')]
    pub yes: bool,
    /// JSON on stdout: one document (`traffic plan` and `traffic resume`: one line per event).
    #[arg(long)]
    pub json: bool,
}

#[derive(Debug, Args)]
pub struct RolloutArgs {
    /// The alias (`live`, `prod`, …).
    pub alias: String,
    /// The function whose alias it is.
    #[arg(long = "fn")]
    pub function: String,
    /// The version to move traffic to.
    #[arg(long)]
    pub to: String,
    /// A CodeDeploy preset: Canary10Percent5Minutes, Linear10PercentEvery1Minute, AllAtOnce, …
    #[arg(long, conflicts_with = "steps")]
    pub preset: Option<String>,
    /// Custom steps: percent:hold, e.g. 10:5m,50:10m (100 is added at the end).
    #[arg(long)]
    pub steps: Option<String>,
    /// Roll back when this alarm goes to ALARM (repeatable; added to `[guards] alarms`).
    #[arg(long = "guard-alarm")]
    pub guard_alarms: Vec<String>,
    /// Do not add the function's own alarms (those with its FunctionName) to the guard
    /// (default: `[guards] function_alarms`, true).
    #[arg(long)]
    pub no_function_alarms: bool,
    /// Roll back when the new version's error rate goes over this (0.05 = 5 %; default
    /// `[guards] max_error_rate`, 0.05).
    #[arg(long, allow_hyphen_values = true, value_parser = error_rate)]
    pub max_error_rate: Option<f64>,
    /// Time between guard checks: seconds, or 30s, 2m (default `[guards] interval_secs`, 10).
    #[arg(long, allow_hyphen_values = true, value_parser = guard_interval)]
    pub guard_interval: Option<u64>,
    #[command(flatten)]
    pub flags: ActFlags,
}

/// Refuses before connecting anywhere when no scope of the session may do `kind`.
pub fn early_check(global: &GlobalArgs, kind: Kind) -> Result<(), Failure> {
    let (settings, _) = crate::session::settings(&global.flags())?;
    crate::session::check_any(&settings, kind.needs(), &kind.title())
}

/// The audit log, with the config's window for repeated invokes.
pub fn audit_log(ctx: &Session) -> Option<AuditLog> {
    AuditLog::default_location()
        .map(|log| log.with_duplicate_window(ctx.settings.guards.duplicate_invoke_secs))
}

/// A value that takes `-1` also takes the next flag when the value was left out
/// (`--keep-last --dry-run`): said as such, not as a bad number.
pub(super) fn not_a_flag(text: &str) -> Result<&str, String> {
    match text.trim() {
        t if t.starts_with("--") => Err(format!(
            "'{text}' is the next flag, not a value: give the value first"
        )),
        t => Ok(t),
    }
}

/// `--since`: any text but a flag (read as a time later, where its errors are said).
pub(super) fn since_arg(text: &str) -> Result<String, String> {
    not_a_flag(text).map(str::to_string)
}

/// `--guard-interval`, read as a step's hold is (`10`, `30s`, `2m`).
fn guard_interval(text: &str) -> Result<u64, String> {
    crate::ops::rollout::parse_duration(not_a_flag(text)?)
        .ok_or_else(|| format!("'{text}' is not a time: give seconds, or 30s, 2m"))
}

/// `--max-error-rate`: a fraction from 0 to 1 (0.05 = 5%).
fn error_rate(text: &str) -> Result<f64, String> {
    let t = not_a_flag(text)?;
    let (number, percent) = match t.strip_suffix('%') {
        Some(n) => (n.trim(), true),
        None => (t, false),
    };
    number
        .parse::<f64>()
        .ok()
        .map(|v| match percent {
            true => crate::ops::request::hundredth(number, v),
            false => v,
        })
        .filter(|v| (0.0..=1.0).contains(v))
        .ok_or_else(|| format!("'{text}' is not an error rate: give 0 to 1, such as 0.05 or 5%"))
}

/// A count on the command line (`--keep-last 7`): a whole number from 0, named as such when
/// it is not one (`-1`, `abc`, too many digits).
pub(super) fn count_arg(text: &str) -> Result<usize, String> {
    let t = not_a_flag(text)?;
    match t.parse::<usize>() {
        Ok(n) if n <= 1_000_000 => Ok(n),
        _ if t.starts_with('-') => Err(format!(
            "'{text}' is negative: give a whole number, such as 7"
        )),
        _ if !t.is_empty() && t.chars().all(|c| c.is_ascii_digit()) => {
            Err(format!("'{text}' is too large: give at most 1000000"))
        }
        _ => Err(format!(
            "'{text}' is not a whole number: give one such as 7"
        )),
    }
}

/// The functions a command names: one, or several separated by commas (`orders,payments`),
/// acted on in one batch as marked rows are in the dashboard. Each name is checked; one named
/// twice counts once.
pub(super) fn functions(arg: &str) -> Result<Vec<String>, Failure> {
    let mut out: Vec<String> = Vec::new();
    for name in arg.split(',').map(str::trim) {
        if name.is_empty() && arg.contains(',') {
            return Err(Failure::usage(format!(
                "'{arg}' has an empty function name: separate names with single commas \
                 (orders,payments)"
            )));
        }
        crate::ops::request::check_function(name).map_err(Failure::from)?;
        if !out.iter().any(|n| n == name) {
            out.push(name.to_string());
        }
    }
    Ok(out)
}
