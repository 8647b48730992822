//! lops: a terminal console for running AWS Lambda fleets across regions.

pub mod backup;
pub mod cli;
pub mod config;
pub mod exit;
pub mod format;
pub mod logging;
pub mod logs;
pub mod ops;
pub mod provider;
pub mod runtime;
pub mod session;
pub mod state;
pub mod tui;
pub mod ui;
