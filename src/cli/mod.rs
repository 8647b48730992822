//! The headless face: clap commands over the same providers and ops as the TUI.

/// A line on stdout. A reader of a pipe that went away loses the line, never panics: the
/// command's exit code still says what happened. Any other failure to write is remembered and
/// makes the command exit 1 saying its output was lost ([`stdout`]).
macro_rules! out {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::stdout(), $($arg)*);
    }};
}

/// A line on stderr, likewise.
macro_rules! err {
    ($($arg:tt)*) => {{
        use std::io::Write as _;
        let _ = writeln!($crate::cli::stderr(), $($arg)*);
    }};
}

mod act;
mod act_output;
mod audit;
mod backup;
mod common;
mod confirm;
mod drill;
mod logs;
mod restore;
mod rollout;
mod service;
mod show;
mod status;
mod status_table;
mod triggers;

use std::path::PathBuf;

use clap::{Args, Parser, Subcommand};

use crate::exit::{Exit, Failure};
use crate::ops::Tier;

#[derive(Debug, Parser)]
#[command(
    name = "lops",
    version,
    about = "A terminal console for running AWS Lambda fleets across regions",
    long_about = "lops shows the health and load of Lambda functions in several regions at once, \
and offers the levers an on-call engineer needs. Run it without a command for the live \
dashboard, or with --demo to try it on a simulated fleet.",
    after_help = "Exit codes: 0 done, 1 failure, 2 bad usage or input, 3 partial (a region failed), 4 refused."
)]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalArgs,
    #[command(subcommand)]
    pub command: Option<Command>,
}

/// One name of a comma list: an empty one (`a,,b`, `a,`) is a typo, refused as the function
/// lists refuse it.
fn listed(text: &str) -> Result<String, String> {
    match text.trim() {
        // (clap names the flag before it: `--regions` or `--profile`.)
        "" => Err(
            "an empty name: name at least one, separated by single commas (a,b), without a \
             trailing comma"
                .into(),
        ),
        _ => Ok(text.to_string()),
    }
}

#[derive(Debug, Args, Clone, Default)]
pub struct GlobalArgs {
    /// Regions to read, comma separated (default: the config file's `regions`, then the profile's own `regions` there, then AWS_REGION, then the profile's region).
    #[arg(
        long = "regions",
        visible_alias = "region",
        value_delimiter = ',',
        value_parser = listed,
        global = true
    )]
    pub regions: Option<Vec<String>>,
    /// AWS profiles to read, repeatable or comma separated (default: the config file's `profiles`, then AWS_PROFILE, then `default`).
    #[arg(long = "profile", value_delimiter = ',', value_parser = listed, global = true)]
    pub profiles: Vec<String>,
    /// Config file (default: $XDG_CONFIG_HOME/lops/config.toml).
    #[arg(long, global = true, value_name = "PATH")]
    pub config: Option<PathBuf>,
    /// Run the dashboard on the built-in simulated fleet (no AWS account needed; refused with a command, which acts on AWS).
    #[arg(long, global = true)]
    pub demo: bool,
    /// Look only: refuse every action that calls or changes anything (same as --mode read).
    #[arg(long, global = true, conflicts_with = "mode")]
    pub read_only: bool,
    /// Permission tier: read, invoke or change.
    #[arg(long, global = true, value_enum)]
    pub mode: Option<TierArg>,
    /// No colours (also when NO_COLOR is set).
    #[arg(long, global = true)]
    pub no_color: bool,
    /// ASCII borders and glyphs only (automatic when the locale is not UTF-8).
    #[arg(long, global = true)]
    pub ascii: bool,
    /// Log level for the log file ($XDG_STATE_HOME/lops/lops.log).
    #[arg(
        long,
        global = true,
        default_value = "info",
        value_name = "LEVEL",
        value_parser = ["error", "warn", "info", "debug", "trace"]
    )]
    pub log_level: String,
}

#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum TierArg {
    Read,
    Invoke,
    Change,
}

impl GlobalArgs {
    /// What the command line says about the session, for the session layer to resolve.
    pub fn flags(&self) -> crate::session::Flags {
        crate::session::Flags {
            regions: self.regions.clone(),
            profiles: self.profiles.clone(),
            config: self.config.clone(),
            read_only: self.read_only,
            mode: self.mode.map(Tier::from),
            no_color: self.no_color,
            ascii: self.ascii,
        }
    }
}

impl From<TierArg> for Tier {
    fn from(t: TierArg) -> Self {
        match t {
            TierArg::Read => Tier::Read,
            TierArg::Invoke => Tier::Invoke,
            TierArg::Change => Tier::Change,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// One complete read of the fleet: health, load, latency, concurrency and alarms.
    Status(status::StatusArgs),
    /// Logs of functions across regions, merged in time order, with cold-start stats.
    Logs(logs::LogsArgs),
    /// Call a function with a payload; show the result, log tail and REPORT line.
    Invoke(act::InvokeArgs),
    /// Alias traffic: show, set a weight, promote, roll back.
    #[command(subcommand)]
    Traffic(act::TrafficCommand),
    /// Reserved concurrency.
    #[command(subcommand)]
    Concurrency(act::ConcurrencyCommand),
    /// Emergency brake: reserved concurrency 0 (the previous value is recorded).
    Kill(act::FunctionArgs),
    /// Undo a kill: restore the reserved concurrency recorded before it.
    Revive(act::FunctionArgs),
    /// All of ALIAS's traffic to its last known good version (the one it served in full before
    /// the latest recorded traffic change; refused when none is recorded).
    Pin {
        /// The alias (`live`, `prod`, …).
        alias: String,
        /// The function whose alias it is; several separated by commas (a,b): one batch.
        #[arg(long = "fn")]
        function: String,
        #[command(flatten)]
        flags: act::ActFlags,
    },
    /// What triggers a function (rules, event source mappings, URL, policy), and pausing one.
    Triggers(triggers::TriggersArgs),
    /// Services behind Route 53 records: show weights against real load, drain a region,
    /// restore it, set weights.
    #[command(subcommand)]
    Service(service::ServiceCommand),
    /// Backups of functions and S3 data: run, list, verify, prune.
    #[command(subcommand)]
    Backup(backup::BackupCommand),
    /// Restore a function (and its S3 data) from a snapshot, here or in another region.
    Restore(restore::RestoreArgs),
    /// The audit log of actions taken (every region's, unless --regions or --profile narrow it).
    Audit(audit::AuditArgs),
    /// Revert the last reversible action from its recorded "before" (the last anywhere, unless
    /// --regions or --profile narrow it).
    Undo(act::ActFlags),
    /// Print the least-privilege IAM policy for the tier given with --mode (default change).
    IamPolicy,
}

/// The first failure to write stdout other than a reader that went away.
static STDOUT_FAILED: std::sync::OnceLock<String> = std::sync::OnceLock::new();
/// Whether anything was written to stdout.
static STDOUT_WRITTEN: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);

/// Stdout for the commands' output: a failure to write it (a full disk, an I/O error) is
/// remembered, so that the command exits 1 and says its output was lost, even where the line
/// itself ignores the result. A reader that went away (`| head -1`) is not a failure.
pub(crate) fn stdout() -> Out {
    Out(std::io::stdout().lock())
}

/// Stderr for the commands' messages, previews and questions: ASCII only where stdout's text
/// is (`--ascii`, or a locale that is not UTF-8).
pub fn stderr() -> ErrOut {
    ErrOut(std::io::stderr().lock())
}

/// Whether the text lops prints is ASCII only, on stderr and on stdout: set once per command
/// from `--ascii` and the locale. Stdout stays UTF-8 under `--json`, whose reader takes it
/// whatever the terminal.
static ASCII_TEXT: std::sync::OnceLock<(bool, bool)> = std::sync::OnceLock::new();

/// Whether stdout carries a JSON document (`--json`): set once per command.
static JSON_OUT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();

/// Whether the terminal takes ASCII only: `--ascii` on the command line, or a locale that is
/// not UTF-8.
pub fn ascii_terminal() -> bool {
    given("--ascii") || !crate::format::utf8_locale()
}

/// Whether `flag` is on the command line before any `--`. Read from the arguments as the OS
/// gives them: one that is not UTF-8 is clap's to refuse, not a reason to stop here.
pub fn given(flag: &str) -> bool {
    std::env::args_os()
        .take_while(|a| a != "--")
        .any(|a| a == flag)
}

/// `text` cut to a table column of `width` characters as it will be printed: in ASCII the cut
/// mark is `...`, two more than `…`, so the cut is that much earlier (the columns after it
/// stay in line).
pub(crate) fn cell(text: &str, width: usize) -> String {
    let ascii_stdout = ASCII_TEXT.get().is_some_and(|(_, out)| *out);
    if ascii_stdout && text.chars().count() > width {
        // Spelled out here, before the column pads it (padding counted `…` as one).
        let cut = crate::format::truncate(text, width.saturating_sub(2).max(1));
        crate::format::ascii_text(&cut).into_owned()
    } else {
        crate::format::truncate(text, width)
    }
}

/// Writes `buf` to `out`, as ASCII where the terminal takes nothing else. Each piece a
/// formatted line is written in is whole UTF-8; anything else goes as it is.
fn write_shown(out: &mut impl std::io::Write, buf: &[u8], stdout: bool) -> std::io::Result<usize> {
    let (err, out_too) = ASCII_TEXT.get().copied().unwrap_or_default();
    let Ok(text) = std::str::from_utf8(buf) else {
        return out.write(buf);
    };
    // A JSON document keeps AWS's text as AWS holds it: what a terminal would obey is escaped
    // (`\u009b`, which a JSON reader reads back as it was), never replaced. Such characters
    // can only stand inside its strings, so escaping a piece of it is escaping the whole.
    if stdout && JSON_OUT.get().copied().unwrap_or(false) {
        let safe = crate::format::json_safe(text.to_string());
        out.write_all(safe.as_bytes())?;
        return Ok(buf.len());
    }
    // What AWS names (an alarm, a tag, an error's message) reaches the terminal as text: an
    // escape sequence, a C1 code or a bidirectional override in it is not the terminal's to
    // obey (the dashboard draws them as `�` too). Newlines and tabs are lops's own.
    let clean = crate::format::printable(text, true);
    let ascii = if stdout { out_too } else { err };
    match clean {
        std::borrow::Cow::Borrowed(_) if !ascii || text.is_ascii() => out.write(buf),
        clean => {
            let shown = match ascii {
                true => std::borrow::Cow::Owned(crate::format::ascii_text(&clean).into_owned()),
                false => clean,
            };
            out.write_all(shown.as_bytes())?;
            Ok(buf.len())
        }
    }
}

pub struct ErrOut(std::io::StderrLock<'static>);

impl std::io::Write for ErrOut {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        write_shown(&mut self.0, buf, false)
    }

    fn flush(&mut self) -> std::io::Result<()> {
        self.0.flush()
    }
}

pub(crate) struct Out(std::io::StdoutLock<'static>);

impl Out {
    fn noted<T>(result: std::io::Result<T>) -> std::io::Result<T> {
        if let Err(e) = &result
            && e.kind() != std::io::ErrorKind::BrokenPipe
        {
            let _ = STDOUT_FAILED.set(e.to_string());
        }
        result
    }
}

impl std::io::Write for Out {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        STDOUT_WRITTEN.store(true, std::sync::atomic::Ordering::Relaxed);
        Out::noted(write_shown(&mut self.0, buf, true))
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Out::noted(self.0.flush())
    }
}

/// Whether a write failed because its reader went away (`| head -1`).
pub(crate) fn reader_gone<T>(result: &std::io::Result<T>) -> bool {
    matches!(result, Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe)
}

/// What a command's failed write to stdout means: a reader that went away ends the output and
/// leaves the command's exit code alone; any other failure (a full disk) fails the command,
/// saying its output was lost.
pub(crate) fn written(result: std::io::Result<()>) -> Result<(), Failure> {
    match result {
        Err(e) if e.kind() != std::io::ErrorKind::BrokenPipe => Err(lost(&e)),
        _ => Ok(()),
    }
}

/// Output that could not be written, said one way by every command.
fn lost(e: &dyn std::fmt::Display) -> Failure {
    Failure::failed(format!(
        "cannot write output: {e}: what this command printed is lost{}",
        match crate::ops::audit::AuditLog::recorded_any() {
            true => " (what it did is in `lops audit`)",
            false => "",
        }
    ))
}

/// One JSON document on stdout.
pub(crate) fn print_json(doc: &impl serde::Serialize) {
    out!(
        "{}",
        crate::format::json_safe(serde_json::to_string_pretty(doc).unwrap_or_default())
    );
}

/// Runs a CLI command; the TUI is started by `main` when no command is given. A command whose
/// output could not be written fails, whatever it did (what it changed is in the audit log).
pub async fn run(global: &GlobalArgs, command: Command) -> Result<Exit, Failure> {
    let json = given("--json");
    let ascii = global.ascii || !crate::format::utf8_locale();
    let _ = ASCII_TEXT.set((ascii, ascii && !json));
    let _ = JSON_OUT.set(json);
    let result = dispatch(global, command).await;
    // With --json, stdout is one JSON document also when the command failed before it printed
    // its own (a cron job reads `error` and `exit` instead of an empty document).
    if let Err(failure) = &result
        && json
        && !STDOUT_WRITTEN.load(std::sync::atomic::Ordering::Relaxed)
    {
        // On one line: a whole document for a reader of JSON, and a record for a reader of
        // ndjson (`logs --json`, `traffic plan --json`).
        let doc = serde_json::json!({"error": failure.message, "exit": failure.exit as u8});
        out!("{}", crate::format::json_safe(doc.to_string()));
    }
    let _ = std::io::Write::flush(&mut stdout());
    match (STDOUT_FAILED.get(), result) {
        (Some(e), Ok(_)) => Err(lost(e)),
        // The failure stands (its exit code too); that its document never reached stdout is
        // said with it, so a cron job's log explains the empty output.
        (Some(e), Err(mut failure)) if !failure.message.starts_with("cannot write output") => {
            failure.message = format!(
                "{}\n(cannot write output: {e}: the {} on stdout is lost)",
                failure.message,
                if json { "JSON document" } else { "output" }
            );
            Err(failure)
        }
        (_, result) => result,
    }
}

async fn dispatch(global: &GlobalArgs, command: Command) -> Result<Exit, Failure> {
    // The simulated fleet is the dashboard's alone: a command given --demo would read and
    // change the AWS account it finds, believing it acts on nothing.
    if global.demo {
        return Err(Failure::usage(
            "--demo runs the dashboard on the simulated fleet (`lops --demo`, with no command); \
             commands act on AWS: run this one without --demo (nothing was read or changed)",
        ));
    }
    match command {
        Command::Status(args) => status::run(global, args).await,
        Command::Invoke(args) => act::invoke(global, args).await,
        Command::Logs(args) => logs::run(global, args).await,
        Command::Service(command) => service::run(global, command).await,
        Command::Traffic(c) => act::traffic(global, c).await,
        Command::Concurrency(c) => act::concurrency(global, c).await,
        Command::Kill(args) => act::kill(global, args).await,
        Command::Revive(args) => act::revive(global, args).await,
        Command::Pin {
            alias,
            function,
            flags,
        } => act::pin(global, alias, function, flags).await,
        Command::Triggers(args) => triggers::triggers(global, args).await,
        Command::Backup(c) => backup::backup(global, c).await,
        Command::Restore(args) => restore::restore(global, args).await,
        Command::Audit(args) => audit::audit(global, args).await,
        Command::Undo(flags) => audit::undo(global, flags).await,
        Command::IamPolicy => audit::iam_policy(global),
    }
}
