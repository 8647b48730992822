//! Work that happens off the screen: reading regions, pacing requests, pollers.

pub mod limiter;
pub mod poller;
pub mod read;
