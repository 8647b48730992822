//! Tests of the config file: parsing, checks, and what settings it gives.
use super::*;

fn parse(text: &str) -> Result<ConfigFile, ConfigError> {
    ConfigFile::parse(text, Path::new("/etc/lops.toml"))
}

#[test]
fn full_config_parses() {
    let file = parse(
        r#"
regions = ["us-east-1", "eu-west-1"]
profiles = ["ops"]
mode = "invoke"
[refresh]
metrics_secs = 15
[timeouts]
operation_secs = 4
[profile.prod]
production = true
mode = "read"
"#,
    );
    let settings = Settings::from_file(file.unwrap_or_default(), None);
    assert_eq!(settings.regions, ["us-east-1", "eu-west-1"]);
    assert_eq!(settings.tier, Tier::Invoke);
    assert_eq!(settings.refresh.metrics_secs, 15);
    assert_eq!(settings.refresh.inventory_secs, 300);
    assert_eq!(settings.timeouts.operation_secs, 4.0);
    assert!(settings.profile_settings["prod"].production);
}

/// A whole number of the wrong type or sign says the key's own range, not its Rust type's.
#[test]
fn a_wrong_whole_number_says_the_keys_range() {
    for (text, range) in [
        (
            "[timeouts]\nmax_attempts = -1\n",
            "expected a whole number from 1 to 10",
        ),
        (
            "[refresh]\nmetrics_secs = 1e12\n",
            "expected a whole number of seconds from 1 to 86400",
        ),
        (
            "[rate_limits]\nburst = -3\n",
            "expected a whole number from 1 to 10000",
        ),
    ] {
        let e = parse(text).expect_err(text).to_string();
        assert!(e.contains(range), "{text}: {e}");
        assert!(!e.contains("4294967295") && !e.contains("0 or more"), "{e}");
    }
    // A float key's type error is left as it is.
    let e = parse("[timeouts]\nmetrics_secs = \"abc\"\n")
        .expect_err("abc")
        .to_string();
    assert!(e.contains("expected a number"), "{e}");
}

/// A mode or a table given a value of the wrong kind is said in the file's words: a mode's
/// words (it offered "string or table"), a table (it named an internal type, `struct Refresh`).
#[test]
fn a_wrong_kind_of_value_is_said_in_the_files_words() {
    for (text, says, never) in [
        (
            "mode = 3\n",
            "expected one of \"read\", \"invoke\", \"change\"",
            "table",
        ),
        (
            "[profile.prod]\nmode = true\n",
            "expected one of \"read\", \"invoke\", \"change\"",
            "table",
        ),
        ("refresh = 5\n", "expected a table of keys", "struct"),
    ] {
        let e = parse(text).expect_err(text).to_string();
        assert!(e.contains(says) && !e.contains(never), "{text}: {e}");
    }
}

#[test]
fn unknown_key_names_file_line_and_key() {
    let err = parse("regions = [\"us-east-1\"]\nregoins = 3\n").err();
    let text = err.map(|e| e.to_string()).unwrap_or_default();
    assert!(text.contains("/etc/lops.toml"), "{text}");
    assert!(text.contains("line 2"), "{text}");
    assert!(text.contains("regoins"), "{text}");
}

#[test]
fn wrong_type_names_the_key() {
    let text = parse("[timeouts]\nconnect_secs = \"soon\"\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(
        text.contains("line 2") && text.contains("connect_secs"),
        "{text}"
    );
}

#[test]
fn unknown_region_in_file_is_rejected() {
    let text = parse("regions = [\"us-east-9\"]\n")
        .err()
        .map(|e| e.to_string())
        .unwrap_or_default();
    assert!(text.contains("unknown region 'us-east-9'"), "{text}");
}

#[test]
fn absurd_numbers_are_refused_with_the_key_named() {
    for (text, key) in [
        (
            "[timeouts]\noperation_secs = 18446744073709551615\n",
            "operation_secs",
        ),
        ("[timeouts]\nconnect_secs = inf\n", "connect_secs"),
        ("[timeouts]\noperation_secs = 1e-300\n", "from 0.5"),
        ("[rate_limits]\nlambda_per_sec = 1e-300\n", "from 0.1"),
        ("[guards]\nalarms = [\"\"]\n", "guards.alarms"),
        (
            "[profile.acme.prod]\nproduction = true\n",
            "[profile.\"acme.prod\"]",
        ),
        (
            "[guards]\nduplicate_invoke_secs = 18446744073709551615\n",
            "duplicate_invoke_secs",
        ),
        ("[guards]\nmax_error_rate = 1.7\n", "max_error_rate"),
        ("[guards]\ninterval_secs = 0\n", "interval_secs"),
        ("[refresh]\nmetrics_secs = 99999999\n", "metrics_secs"),
        ("[rate_limits]\nburst = 0\n", "burst"),
        ("[refresh]\nalarms_secs = 0\n", "alarms_secs"),
        (
            "extra_regions = [\"\"]\nregions = [\"\"]\n",
            "extra_regions",
        ),
        ("extra_regions = [\"Mars 1\"]\n", "extra_regions"),
        (
            "profiles = [\" prod\"]\n",
            "\" prod\" is not a profile name",
        ),
        ("profiles = [\"\"]\n", "profiles"),
        ("[profile.\"prod \"]\nmode = \"read\"\n", "\"prod \""),
    ] {
        let e = parse(text).err().map(|e| e.to_string()).unwrap_or_default();
        assert!(e.contains(key), "{text}: {e}");
    }
    let ok =
        parse("[guards]\nmax_error_rate = 0.1\ninterval_secs = 5\nalarms = [\"a\"]\n").unwrap();
    assert_eq!(ok.guards.max_error_rate, Some(0.1));
    assert_eq!(ok.guards.alarms, ["a"]);
}

/// `read_only = true` beside a `mode` that says otherwise: refused (which was meant is not
/// lops's to guess), as `--read-only --mode change` is; beside `mode = "read"`, the same thing.
#[test]
fn read_only_and_a_wider_mode_are_refused_together() {
    for mode in ["change", "invoke"] {
        let e = parse(&format!("read_only = true\nmode = \"{mode}\"\n")).unwrap_err();
        assert!(e.to_string().contains("give one of them"), "{e}");
    }
    let file = parse("read_only = true\nmode = \"read\"\n").expect("the same thing");
    assert_eq!(Settings::from_file(file, None).tier, Tier::Read);
    let file = parse("read_only = true\n").expect("alone");
    assert_eq!(Settings::from_file(file, None).tier, Tier::Read);
}

mod properties {
    use super::*;
    use proptest::prelude::*;

    proptest! {
        /// Any text as a config file: a value or an error naming the file, never a panic.
        #[test]
        fn config_text_never_panics(text in "\\PC{0,300}") {
            match ConfigFile::parse(&text, Path::new("/etc/lops.toml")) {
                Ok(_) => {}
                Err(e) => prop_assert!(e.to_string().contains("/etc/lops.toml")),
            }
        }

        /// Keys from the real vocabulary with arbitrary values: never a panic either.
        #[test]
        fn known_keys_with_any_values(key in prop::sample::select(vec!["regions", "mode", "read_only", "[refresh]\nmetrics_secs", "[timeouts]\nmax_attempts", "[keymap]\nquit", "[backup]\nto", "[profile.prod]\nproduction"]), value in "\\PC{0,30}") {
            let text = format!("{key} = {value}\n");
            let _ = ConfigFile::parse(&text, Path::new("/etc/lops.toml"));
        }
    }
}

#[test]
fn a_number_of_the_wrong_kind_is_said_in_plain_words() {
    for (text, said) in [
        (
            "[rate_limits]\nburst = 99999999999999999999\n",
            "a whole number from 1 to 10000",
        ),
        (
            "[guards]\nduplicate_invoke_secs = -1\n",
            "a whole number of seconds from 0 to 86400",
        ),
        (
            "[guards]\ninterval_secs = inf\n",
            "a whole number of seconds from 1 to 3600",
        ),
    ] {
        let e = ConfigFile::parse(text, std::path::Path::new("c.toml"))
            .expect_err(text)
            .to_string();
        assert!(e.contains(said), "{text}: {e}");
        assert!(
            !e.contains("u32") && !e.contains("u64") && !e.contains("i128"),
            "{e}"
        );
    }
}

/// A bad region list names its own key (a profile's, not the top-level one); an empty one is
/// as if absent (regions then come from the next place, `--regions` or AWS_REGION).
#[test]
fn a_bad_region_list_names_its_key() {
    let e = parse("[profile.a]\nregions = [\"us-east-9\"]\n")
        .expect_err("unknown region")
        .to_string();
    assert!(
        e.contains("key `profile.a.regions`: unknown region 'us-east-9'"),
        "{e}"
    );
    for text in ["regions = []\n", "[profile.a]\nregions = []\n"] {
        assert!(parse(text).is_ok(), "{text}");
    }
}
