use std::io::Write;
use std::process::ExitCode;

use clap::Parser;
use lops::cli::{self, Cli};
use lops::exit::Exit;

fn main() -> ExitCode {
    let cli = match Cli::try_parse() {
        Ok(cli) => cli,
        Err(e) => {
            // Help and version go to stdout, usage errors to stderr (in ASCII where the
            // terminal takes nothing else).
            if let Err(w) = print_clap(&e)
                && w.kind() != std::io::ErrorKind::BrokenPipe
            {
                let _ = writeln!(std::io::stderr(), "lops: cannot write output: {w}");
                return Exit::Failure.into();
            }
            let code = u8::try_from(e.exit_code()).unwrap_or(2);
            // With --json, a command line lops could not read is a JSON document too (as any
            // failure before a command's own output).
            if code != 0 && lops::cli::given("--json") {
                // The message up to the usage line (a missing argument is named on the lines
                // after the first).
                let text = e.to_string();
                let error = text
                    .lines()
                    .take_while(|l| !l.starts_with("Usage:"))
                    .map(str::trim)
                    .filter(|l| {
                        !l.is_empty()
                            && !l.starts_with("tip:")
                            && !l.starts_with("For more information")
                    })
                    .collect::<Vec<_>>()
                    .join(" ");
                let error = error.trim_start_matches("error: ");
                let doc = serde_json::json!({ "error": error, "exit": code });
                if let Err(w) = writeln!(std::io::stdout(), "{doc}")
                    && w.kind() != std::io::ErrorKind::BrokenPipe
                {
                    let _ = writeln!(
                        std::io::stderr(),
                        "(cannot write output: {w}: the JSON document on stdout is lost)"
                    );
                }
            }
            return ExitCode::from(code);
        }
    };
    let _log = lops::logging::init(&cli.global.log_level);
    let runtime = match tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
    {
        Ok(rt) => rt,
        Err(e) => {
            let _ = writeln!(
                std::io::stderr(),
                "lops: cannot start the async runtime: {e}"
            );
            return Exit::Failure.into();
        }
    };
    // Each face's future is boxed: its layout is then computed in the library, not again here
    // through every await it nests (a fresh build ran out of rustc's query depth otherwise).
    let result = runtime.block_on(async {
        match cli.command {
            Some(command) => Box::pin(cli::run(&cli.global, command)).await,
            None => Box::pin(lops::tui::run(&cli.global.flags(), cli.global.demo)).await,
        }
    });
    match result {
        Ok(exit) => exit.into(),
        Err(failure) => {
            let _ = writeln!(cli::stderr(), "lops: {}", failure.message);
            failure.exit.into()
        }
    }
}

/// clap's help, version or usage error, as clap prints it, or as plain ASCII text where the
/// terminal takes nothing else (`--ascii`, a locale that is not UTF-8).
fn print_clap(e: &clap::Error) -> std::io::Result<()> {
    if !cli::ascii_terminal() {
        return e.print();
    }
    let text = e.render().to_string();
    let text = lops::format::ascii_text(&text);
    if e.use_stderr() {
        std::io::stderr().write_all(text.as_bytes())
    } else {
        let mut out = std::io::stdout();
        out.write_all(text.as_bytes())?;
        out.flush()
    }
}
