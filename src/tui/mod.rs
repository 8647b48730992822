//! The interactive dashboard.

use crate::cli::GlobalArgs;
use crate::exit::{Exit, Failure};

pub async fn run(global: &GlobalArgs) -> Result<Exit, Failure> {
    let _ = global;
    Err(Failure::usage(
        "the live dashboard (and --demo) is not built yet; use `lops status` for now",
    ))
}
