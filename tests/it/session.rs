//! One session, one confirmation: the tier and production flag of every scope are resolved
//! once, whichever way the profile was chosen, and both faces keep them. Every request is
//! counted at the fault proxy, so "refused" means nothing was sent.

use std::sync::Arc;
use std::time::Duration;

use crossterm::event::KeyCode;
use lops::config::{Access, ConfigFile, Settings};
use lops::provider::Scope;
use lops::provider::aws::{AwsRegion, CallCounter, Clients};
use lops::session;

use crate::support::cli::{Lops, Run};
use crate::support::moto;
use crate::support::proxy::FaultProxy;
use crate::support::seed::{Seeder, canary, sdk_config};
use crate::support::tui::{self, Screen};

const REGION: &str = "ap-southeast-6";

const CONFIG: &str = r#"
[profile.ro]
mode = "read"
[profile.inv]
mode = "invoke"
[profile.prod]
mode = "read"
production = true
[profile.ops]
mode = "change"
production = true
"#;

/// Lambda requests that change or call something.
fn writes(proxy: &FaultProxy) -> u64 {
    proxy.calls_where(REGION, "lambda", |op| {
        [
            "UpdateAlias",
            "PutFunctionConcurrency",
            "DeleteFunctionConcurrency",
            "Invoke",
        ]
        .contains(&op)
    })
}

/// The ways a profile is chosen: `--profile`, `profiles = [...]`, `AWS_PROFILE`.
#[derive(Debug, Clone, Copy)]
enum Choice {
    Flag,
    ConfigList,
    AwsProfile,
}

fn lops_for(proxy: &FaultProxy, profile: &str, choice: Choice) -> (Lops, Vec<String>) {
    let mut lops = Lops::new(&proxy.url);
    let mut config = CONFIG.to_string();
    let mut args = vec!["--regions".to_string(), REGION.to_string()];
    match choice {
        Choice::Flag => args.extend(["--profile".to_string(), profile.to_string()]),
        Choice::ConfigList => config = format!("profiles = [\"{profile}\"]\n{config}"),
        Choice::AwsProfile => lops = lops.env("AWS_PROFILE", profile),
    }
    let path = lops.config(&config);
    args.extend(["--config".to_string(), path.display().to_string()]);
    (lops, args)
}

fn run(lops: &Lops, common: &[String], args: &[&str]) -> Run {
    let mut all: Vec<&str> = args.to_vec();
    all.extend(common.iter().map(String::as_str));
    lops.run(&all)
}

fn actions(f: &str) -> Vec<(&'static str, Vec<String>)> {
    let s = |v: &[&str]| v.iter().map(|x| x.to_string()).collect::<Vec<_>>();
    vec![
        ("invoke", s(&["invoke", f, "--payload", "{}", "--yes"])),
        (
            "traffic set",
            s(&[
                "traffic",
                "set",
                "live",
                "--fn",
                f,
                "--version",
                "2",
                "--weight",
                "0.6",
                "--yes",
            ]),
        ),
        (
            "concurrency set",
            s(&["concurrency", "set", f, "3", "--yes"]),
        ),
        ("kill", s(&["kill", f, "--yes"])),
    ]
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_cli_keeps_each_profiles_tier_however_the_profile_is_chosen() {
    let (seeder, f) = canary(REGION, "tier").await;
    for choice in [Choice::Flag, Choice::ConfigList, Choice::AwsProfile] {
        // (profile, which actions it may take)
        for (profile, allowed) in [("ro", &[][..]), ("prod", &[][..]), ("inv", &["invoke"][..])] {
            let proxy = FaultProxy::start(moto::url());
            let (lops, common) = lops_for(&proxy, profile, choice);
            for (name, args) in actions(&f) {
                let args: Vec<&str> = args.iter().map(String::as_str).collect();
                let before = writes(&proxy);
                let out = run(&lops, &common, &args);
                if allowed.contains(&name) {
                    out.assert_exit(0);
                    assert_eq!(writes(&proxy), before + 1, "{choice:?} {profile} {name}");
                } else {
                    out.assert_exit(4);
                    assert!(
                        out.stderr.contains(&format!("mode {}", tier_of(profile))),
                        "{choice:?} {profile} {name}: {}",
                        out.stderr
                    );
                    assert_eq!(writes(&proxy), before, "{choice:?} {profile} {name} sent");
                }
            }
        }
    }
    // Nothing changed the alias.
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
}

/// The tier CONFIG gives a profile.
fn tier_of(profile: &str) -> &'static str {
    match profile {
        "inv" => "invoke",
        "ops" => "change",
        _ => "read",
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_change_is_audited_under_the_profile_aws_profile_chose() {
    let (seeder, f) = canary(REGION, "awsprof").await;
    let proxy = FaultProxy::start(moto::url());
    let (lops, common) = lops_for(&proxy, "ops", Choice::AwsProfile);
    let out = run(
        &lops,
        &common,
        &[
            "traffic",
            "set",
            "live",
            "--fn",
            &f,
            "--version",
            "2",
            "--weight",
            "0.6",
            "--yes",
        ],
    );
    out.assert_exit(0);
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.6)])
    );
    let audit = lops.run(&["audit", "--json"]);
    audit.assert_exit(0);
    let records = audit.json();
    let last = records
        .as_array()
        .and_then(|r| r.last())
        .cloned()
        .unwrap_or_default();
    assert_eq!(last["profile"], "ops", "{last}");
    assert_eq!(last["action"], "traffic.set");
    // Without --yes and without a terminal, the production profile's change is refused.
    let out = run(&lops, &common, &["traffic", "rollback", "live", "--fn", &f]);
    out.assert_exit(4);
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.6)])
    );
}

/// Sources for the dashboard built the way the session builds them: each scope carries the
/// access the session resolved for its profile from the config file.
async fn dashboard_sources(proxy: &FaultProxy, profiles: &[&str]) -> Vec<Arc<AwsRegion>> {
    let file = ConfigFile::parse(CONFIG, std::path::Path::new("config.toml")).expect("config");
    let settings = Settings::from_file(file, None);
    let counter = CallCounter::default();
    let mut out = Vec::new();
    for profile in profiles {
        let scope = Scope::new(*profile, REGION, session::access(&settings, profile));
        let config = sdk_config(&proxy.url, REGION).await;
        out.push(Arc::new(AwsRegion::new(Clients::from_sdk_config(
            scope,
            &config,
            &Settings::default(),
            &counter,
        ))));
    }
    out
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_refuses_in_a_read_only_production_scope_and_sends_nothing() {
    let (seeder, f) = canary(REGION, "tuiro").await;
    let proxy = FaultProxy::start(moto::url());
    let sources = dashboard_sources(&proxy, &["prod"]).await;
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
    tui::filter(&keys, &f);
    let shown = screen.wait_loaded(15, "Active").await;
    let header = shown.lines().next().unwrap_or_default().to_string();
    assert!(
        header.contains("READ-ONLY") && header.contains("PRODUCTION"),
        "{header}"
    );
    let footer = shown.lines().last().unwrap_or_default().to_string();
    assert!(
        !footer.contains("shift") && !footer.contains("kill") && !footer.contains("invoke"),
        "keys the scope may not use are offered: {footer}"
    );
    for key in ['t', 'K', 'C', 'i', 'P', 'B', 'N'] {
        tui::press(&keys, KeyCode::Char(key));
        let text = screen.wait_for(5, "refused").await;
        assert!(text.contains("mode read"), "{key}: {text}");
        tui::press(&keys, KeyCode::Esc);
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
    assert_eq!(writes(&proxy), 0, "{:#?}", proxy.all_calls());
    assert_eq!(seeder.routing(&f).await, ("1".to_string(), vec![]));
    assert!(audit.read().expect("audit").0.is_empty());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn the_dashboard_previews_and_asks_for_the_typed_name_on_a_production_scope() {
    let (seeder, f) = canary(REGION, "tuiprod").await;
    let proxy = FaultProxy::start(moto::url());
    let sources = dashboard_sources(&proxy, &["ops"]).await;
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let dir = tempfile::tempdir().expect("dir");
    let audit = lops::ops::audit::AuditLog::at(dir.path().join("audit.jsonl"));
    let (keys, run) = tui::start_on(&screen, sources, state, Some(audit.clone()));
    tui::filter(&keys, &f);
    screen.wait_loaded(15, "Active").await;

    // The weight prompt names the target and its weights now.
    tui::press(&keys, KeyCode::Char('t'));
    let prompt = screen.wait_for(5, "weight of v2").await;
    assert!(
        prompt.contains(&format!("{f}:live @ ops/{REGION} v1 100%")),
        "{prompt}"
    );
    for _ in 0..3 {
        tui::press(&keys, KeyCode::Backspace);
    }
    tui::type_text(&keys, "0.6");
    tui::press(&keys, KeyCode::Enter);
    // The preview shows before → after and asks for the name, not a yes.
    let confirm = screen.wait_for(10, "type ").await;
    assert!(
        confirm.contains("v1 100% → v1 40% / v2 60%") && confirm.contains("production profile"),
        "{confirm}"
    );
    tui::press(&keys, KeyCode::Char('y'));
    tui::press(&keys, KeyCode::Enter);
    tokio::time::sleep(Duration::from_millis(500)).await;
    assert_eq!(writes(&proxy), 0, "a yes is not the name");
    tui::press(&keys, KeyCode::Backspace);
    tui::type_text(&keys, &format!("{f}:live"));
    tui::press(&keys, KeyCode::Enter);
    screen.wait_for(10, "is now v1 40% / v2 60%").await;
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.6)])
    );
    tui::press(&keys, KeyCode::Enter);

    // A rollout asks first too, and names the newer version, the steps and the guard.
    tui::press(&keys, KeyCode::Char('C'));
    screen.wait_for(5, "preset:").await;
    for _ in 0.."Canary10Percent5Minutes".len() {
        tui::press(&keys, KeyCode::Backspace);
    }
    tui::type_text(&keys, "AllAtOnce");
    tui::press(&keys, KeyCode::Enter);
    let preview = screen.wait_for(10, "rollout ").await;
    assert!(
        preview.contains("now v1 40% / v2 60% → v2") && preview.contains("guard: error rate"),
        "{preview}"
    );
    tui::press(&keys, KeyCode::Esc);
    tokio::time::sleep(Duration::from_millis(300)).await;
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
    // One write: the confirmed shift; the cancelled rollout sent nothing.
    assert_eq!(writes(&proxy), 1, "{:#?}", proxy.all_calls());
    let (records, _) = audit.read().expect("audit");
    assert_eq!(records.len(), 1);
    assert_eq!(records[0].profile, "ops");
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn mixed_tiers_of_one_account_offer_the_strictest_keys_on_both_rows() {
    let name = moto::unique("mixed");
    let seeder = Seeder::new(moto::url(), REGION).await;
    seeder.create_function(&name).await;
    let proxy = FaultProxy::start(moto::url());
    // The same region read through a read-only and a change profile.
    let sources = dashboard_sources(&proxy, &["ro", "default"]).await;
    let screen = Screen::new(120, 30);
    let state = tui::state(&sources);
    let (keys, run) = tui::start_on(&screen, sources, state, None);
    tui::filter(&keys, &name);
    let first = screen
        .wait_until(15, "both rows", |t| t.matches("Active").count() == 2)
        .await;
    assert!(
        first.lines().next().unwrap_or_default().contains("MIXED"),
        "{first}"
    );
    // Move through both rows: one offers kill, the other does not.
    let mut offered = Vec::new();
    for _ in 0..2 {
        tokio::time::sleep(Duration::from_millis(300)).await;
        let text = screen.text();
        let header = text.lines().next().unwrap_or_default().to_string();
        let footer = text.lines().last().unwrap_or_default().to_string();
        offered.push((header.contains("READ-ONLY"), footer.contains("kill")));
        tui::press(&keys, KeyCode::Down);
    }
    // moto is one account: the change profile's row keeps the read-only one's rules (the ops
    // layer refuses a change of the same function through it), so neither offers kill; rows
    // of other accounts keep their own (`state::tests::a_read_profile_of_the_same_account…`).
    assert_eq!(offered, [(true, false), (true, false)], "{offered:?}");
    tui::press(&keys, KeyCode::Char('q'));
    run.await.expect("join").expect("loop");
}

#[test]
fn a_closed_stdout_is_not_a_panic() {
    let lops = Lops::new("http://127.0.0.1:9");
    for args in [
        "iam-policy",
        "iam-policy --mode read",
        "traffic plans --json",
        "audit --json",
    ] {
        // The reader of the pipe exits at once; lops then writes into a closed pipe.
        let stderr = lops.run_into_closed_pipe(args);
        assert!(!stderr.contains("panicked"), "{args}: {stderr}");
        assert!(stderr.contains("exit=0"), "{args}: {stderr}");
    }
}

#[test]
fn guard_defaults_come_from_the_config_in_both_faces() {
    let file = ConfigFile::parse(
        "[guards]\nmax_error_rate = 0.02\ninterval_secs = 4\nalarms = [\"slo\"]\n",
        std::path::Path::new("c.toml"),
    )
    .expect("config");
    let guard = lops::ops::rollout::Guard::from_config(&file.guards, vec!["fn-errors".into()]);
    assert_eq!(guard.max_error_rate, Some(0.02));
    assert_eq!(guard.interval_secs, 4);
    assert_eq!(guard.alarms, ["slo", "fn-errors"]);
    let default = lops::ops::rollout::Guard::from_config(&Default::default(), vec![]);
    assert_eq!(default.max_error_rate, Some(0.05));
    assert_eq!(default.interval_secs, 10);
    let _ = Access::default();
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_explicit_profile_is_the_one_that_signs_whatever_aws_profile_says() {
    let (seeder, f) = canary(REGION, "signs").await;
    let proxy = FaultProxy::start(moto::url());
    // `prod` has keys of its own; `default` has the test keys. AWS_PROFILE names prod, the
    // command line says default: default's tier applies, so default's keys must sign.
    let lops = Lops::new(&proxy.url).env("AWS_PROFILE", "prod");
    std::fs::write(
        lops.home.path().join("aws-credentials"),
        "[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n\
         [prod]\naws_access_key_id = PRODKEY\naws_secret_access_key = prodsecret\n",
    )
    .expect("credentials");
    let config = lops.config(CONFIG);
    let mut cmd = lops.command(&[
        "traffic",
        "set",
        "live",
        "--fn",
        &f,
        "--version",
        "2",
        "--weight",
        "0.3",
        "--profile",
        "default",
        "--regions",
        REGION,
        "--yes",
        "--config",
    ]);
    cmd.arg(&config);
    // No keys in the environment: the profiles' files decide.
    cmd.env_remove("AWS_ACCESS_KEY_ID")
        .env_remove("AWS_SECRET_ACCESS_KEY");
    let out = cmd.output().expect("run");
    assert_eq!(
        out.status.code(),
        Some(0),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(proxy.signed_with("testing"), "{:?}", proxy.access_keys());
    assert!(!proxy.signed_with("PRODKEY"), "{:?}", proxy.access_keys());
    assert_eq!(
        seeder.routing(&f).await,
        ("1".to_string(), vec![("2".to_string(), 0.3)])
    );
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_scope_named_twice_is_acted_on_once() {
    let (_seeder, f) = canary(REGION, "twice").await;
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    let twice = format!("{REGION},{REGION}");
    let run = lops.run(&[
        "invoke",
        &f,
        "--payload",
        "{}",
        "--regions",
        &twice,
        "--yes",
    ]);
    run.assert_exit(0);
    assert_eq!(proxy.calls(REGION, "lambda", "Invoke"), 1);
    let run = lops.run(&[
        "kill",
        &f,
        "--regions",
        REGION,
        "--profile",
        "default,default",
        "--yes",
    ]);
    run.assert_exit(0);
    assert_eq!(proxy.calls(REGION, "lambda", "PutFunctionConcurrency"), 1);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_profile_named_on_purpose_signs_with_its_own_keys_not_the_environments() {
    let (_seeder, f) = canary(REGION, "ownkeys").await;
    let proxy = FaultProxy::start(moto::url());
    // The environment has the test keys; `ops` has keys of its own.
    let lops = Lops::new(&proxy.url);
    std::fs::write(
        lops.home.path().join("aws-credentials"),
        "[ops]\naws_access_key_id = OPSKEY\naws_secret_access_key = opssecret\n",
    )
    .expect("credentials");
    let config = lops.config(CONFIG);
    let config = config.display().to_string();
    let run = lops.run(&[
        "invoke",
        &f,
        "--payload",
        "{}",
        "--profile",
        "ops",
        "--regions",
        REGION,
        "--yes",
        "--config",
        &config,
    ]);
    run.assert_exit(0);
    assert!(proxy.signed_with("OPSKEY"), "{:?}", proxy.access_keys());
    assert!(!proxy.signed_with("testing"), "{:?}", proxy.access_keys());
    // Chosen by AWS_PROFILE, the SDK would sign with the environment's keys under ops's
    // tier: refused before anything is sent.
    let before = proxy.all_calls().values().sum::<u64>();
    let out = lops
        .command(&[
            "invoke",
            &f,
            "--payload",
            "{\"n\": 2}",
            "--regions",
            REGION,
            "--yes",
            "--config",
            &config,
        ])
        .env("AWS_PROFILE", "ops")
        .output()
        .expect("run");
    let stderr = String::from_utf8_lossy(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("AWS_PROFILE names 'ops'"), "{stderr}");
    assert_eq!(proxy.all_calls().values().sum::<u64>(), before);
}

/// A profile whose credential_process fails is told to mend that command, not to name a
/// profile (it was named): bad input, exit 2, nothing sent.
#[test]
fn a_failing_credential_process_says_to_mend_it() {
    let proxy = FaultProxy::start(moto::url());
    let lops = Lops::new(&proxy.url);
    std::fs::write(
        lops.home.path().join("aws-config"),
        format!("[profile broken]\nregion = {REGION}\ncredential_process = /bin/false\n"),
    )
    .expect("aws config");
    let run = lops.run(&["status", "--profile", "broken", "--regions", REGION]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("credential_process failed")
            && run.stderr.contains("run that command by hand"),
        "{}",
        run.stderr
    );
    assert_eq!(proxy.all_calls().values().sum::<u64>(), 0);
}
