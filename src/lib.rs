//! lops: a terminal console for running AWS Lambda fleets across regions.
//!
//! # Module map
//!
//! Imports run one way, down this list; a module imports only modules below it, and no face
//! imports another face. docs/ARCHITECTURE.md says what each arrow carries; the test
//! `layers::imports_follow_the_module_map` checks the code against the table there.
//!
//! ```text
//! cli ─────────────┐   tui (event loop, terminal) ── ui (drawing)
//!   headless faces │     │
//! session ─────────┤   runtime (pollers, one region read, effect executor)
//!   flags + config │     │
//!   → scopes, tier │   state (dashboard model: rows, Msg, Effect, keys, keymap)
//!                  └─────┤
//! ops        validate, preview, confirm, refuse, audit, execute, undo; rollouts; backup,
//!            restore and prune entry points
//! backup     manifests, capture, restore plan and journal, the S3 store, leases
//! provider   RegionSource / RegionActions / LogSource / GuardSignals; aws (SDK clients,
//!            limiter buckets, error classes), sim (the demo fleet)
//! exit       exit codes and failures            loglines  log lines, REPORT parsing
//! config     the file, tiers, regions (imports nothing of lops)      format   numbers, ages
//! ```

pub mod backup;
pub mod cli;
pub mod config;
pub mod exit;
pub mod format;
pub mod logging;
pub mod loglines;
pub mod ops;
pub mod process;
pub mod provider;
pub mod runtime;
pub mod session;
pub mod state;
pub mod tui;
pub mod ui;
