//! The resolution table: which tier and production flag a profile gets, from where.

use std::path::Path;

use super::*;
use crate::config::ConfigFile;

const CONFIG: &str = r#"
mode = "invoke"
[profile.prod]
mode = "read"
production = true
[profile.ops]
mode = "change"
[profile.stage]
production = true
"#;

fn resolved(cli_profiles: &[&str], read_only: bool, mode: Option<Tier>, config: &str) -> Settings {
    let file = ConfigFile::parse(config, Path::new("/etc/lops.toml")).unwrap_or_default();
    let mut settings = Settings::from_file(file, None);
    if !cli_profiles.is_empty() {
        settings.profiles = cli_profiles.iter().map(|p| p.to_string()).collect();
    }
    if read_only {
        settings.tier = Tier::Read;
        settings.tier_from_cli = true;
    } else if let Some(m) = mode {
        settings.tier = m;
        settings.tier_from_cli = true;
    }
    settings
}

#[test]
fn profile_comes_from_flag_then_config_then_aws_profile_then_default() {
    let none = resolved(&[], false, None, "");
    assert_eq!(profiles_with_env(&none, None), ["default"]);
    assert_eq!(profiles_with_env(&none, Some("ro")), ["ro"]);
    assert_eq!(profiles_with_env(&none, Some("  ")), ["default"]);
    let listed = resolved(&[], false, None, "profiles = [\"a\", \"b\"]\n");
    assert_eq!(profiles_with_env(&listed, Some("ro")), ["a", "b"]);
    let flagged = resolved(&["c"], false, None, "profiles = [\"a\"]\n");
    assert_eq!(profiles_with_env(&flagged, Some("ro")), ["c"]);
}

#[test]
fn tier_and_production_per_profile() {
    let s = resolved(&[], false, None, CONFIG);
    // (profile, tier, production)
    let table = [
        ("prod", Tier::Read, true),
        ("ops", Tier::Change, false),
        ("stage", Tier::Invoke, true),
        ("default", Tier::Invoke, false),
        ("unknown", Tier::Invoke, false),
    ];
    for (profile, tier, production) in table {
        assert_eq!(
            access(&s, profile),
            Access::new(tier, production),
            "{profile}"
        );
    }
}

#[test]
fn the_command_line_wins_over_the_profile_and_the_file() {
    let ro = resolved(&[], true, None, CONFIG);
    assert_eq!(access(&ro, "ops").tier, Tier::Read);
    let change = resolved(&[], false, Some(Tier::Change), CONFIG);
    assert_eq!(access(&change, "prod"), Access::new(Tier::Change, true));
    let file_ro = resolved(&[], false, None, "read_only = true\n");
    assert_eq!(access(&file_ro, "default").tier, Tier::Read);
    assert_eq!(access(&Settings::default(), "default").tier, Tier::Change);
}

#[test]
fn a_refusal_before_connecting_needs_every_scope_to_refuse() {
    let s = resolved(&["prod", "ops"], false, None, CONFIG);
    assert!(check_any(&s, Tier::Change, "kill").is_ok());
    assert_eq!(widest_tier(&s), Tier::Change);
    let s = resolved(&["prod"], false, None, CONFIG);
    let e = check_any(&s, Tier::Invoke, "invoke").unwrap_err();
    assert_eq!(e.exit, crate::exit::Exit::Refused);
    assert!(e.message.contains("mode read"), "{}", e.message);
}

#[test]
fn backup_location_class_and_keys_are_checked_at_load() {
    let path = Path::new("/etc/lops.toml");
    let check = |text: &str| {
        let file = ConfigFile::parse(text, path).unwrap_or_else(|e| panic!("{e}"));
        check_file(&file, Some(path))
    };
    assert!(
        check("[backup]\nto = \"s3://acme-backups/lops\"\nstorage_class = \"glacier_ir\"\n")
            .is_ok()
    );
    let e = check("[backup]\nto = \"acme-backups\"\n").unwrap_err();
    assert!(
        e.to_string().contains("backup.to") && e.to_string().contains("/etc/lops.toml"),
        "{e}"
    );
    let e = check("[backup]\nstorage_class = \"FAST\"\n").unwrap_err();
    assert!(e.to_string().contains("backup.storage_class"), "{e}");
    let e = check("[keymap]\nquit = \"ctrl+alt+nope\"\n").unwrap_err();
    assert!(e.to_string().contains("/etc/lops.toml"), "{e}");
    let e = ConfigFile::parse("[backup]\nbucket = \"x\"\n", path).unwrap_err();
    assert!(e.to_string().contains("bucket"), "{e}");
}
