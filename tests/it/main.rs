//! Integration tests: lops against a real moto server through the real AWS SDK clients.
//! `scripts/test` starts moto and sets LOPS_TEST_MOTO_URL.
//!
//! Tests share one moto server. Each test owns its regions (moto keeps a separate backend per
//! region), so exact call counts and fleet contents are not disturbed by tests running beside it.
//! Regions in use: see each test; backup.rs, triggers.rs and dashboard.rs share ap-southeast-6 and
//! ap-east-2 by unique function names.
#![allow(clippy::panic, clippy::unwrap_used, clippy::expect_used)]

mod support;

mod backup;
mod backup_data;
mod bad_input;
mod bad_setting;
mod batch;
mod dashboard;
mod e2e;
mod layers;
mod logs;
mod ops;
mod provider;
mod restore;
mod rollout;
mod scale;
mod seams;
mod service;
mod session;
mod status;
mod triggers;
mod ui;
