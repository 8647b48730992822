//! The CLI's face of the one confirmation model: it shows the preview the ops layer built and
//! asks what [`Confirmation`] says to ask; it decides nothing itself.

use std::io::{BufRead, IsTerminal, Write};

use crate::exit::Failure;
use crate::ops::{Confirmation, OpsError};

/// Asks for `confirmation` after the preview lines (already printed), unless `--yes` was given.
pub fn ask(confirmation: &Confirmation, yes: bool, note: Option<&str>) -> Result<(), Failure> {
    let typed = match confirmation {
        Confirmation::None => return Ok(()),
        _ if yes => return Ok(()),
        Confirmation::Yes => None,
        Confirmation::Typed(name) => Some(name.as_str()),
    };
    let stdin = std::io::stdin();
    if !stdin.is_terminal() {
        return Err(OpsError::Refused(
            "confirmation needed and this is not an interactive terminal: pass --yes to confirm"
                .into(),
        )
        .into());
    }
    let mut err = super::stderr();
    if let Some(note) = note {
        let _ = writeln!(err, "{note}");
    }
    let _ = match typed {
        // Quoted: a batch's name is its count (`3 targets`), typed whole.
        Some(name) => write!(err, "type \"{name}\" to confirm: "),
        None => write!(err, "apply? [y/N] "),
    };
    let _ = err.flush();
    let mut answer = String::new();
    stdin
        .lock()
        .read_line(&mut answer)
        .map_err(|e| Failure::failed(format!("cannot read the answer: {e}")))?;
    let confirmed = match typed {
        Some(name) => crate::ops::Confirmation::Typed(name.to_string()).accepts_name(&answer),
        None => matches!(answer.trim(), "y" | "Y" | "yes"),
    };
    match (confirmed, typed) {
        (true, _) => Ok(()),
        (false, Some(name)) if !answer.trim().is_empty() => Err(OpsError::Refused(format!(
            "not confirmed: \"{}\" is not \"{name}\"; nothing changed",
            answer.trim()
        ))
        .into()),
        _ => Err(OpsError::Refused("not confirmed: nothing changed".into()).into()),
    }
}

/// Why a typed confirmation is asked, for the line above the prompt.
pub fn why_typed(production: bool, warning: Option<&str>) -> Option<String> {
    match (production, warning) {
        (_, Some(w)) => Some(format!("warning: {w}")),
        (true, None) => Some("production profile".into()),
        (false, None) => None,
    }
}
