//! Bad input gets a clear message that says what to do, exit 2, and no panic.

use crate::support::cli::Lops;

#[test]
fn unknown_region_name_is_refused_with_a_suggestion() {
    let lops = Lops::new("http://127.0.0.1:9");
    let run = lops.run(&["status", "--regions", "us-east-1,eu-wset-1"]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("unknown region 'eu-wset-1'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains("Did you mean 'eu-west-1'?"),
        "{}",
        run.stderr
    );
    assert!(run.stdout.is_empty());
    // With --json, stdout is still one JSON document: the error and the exit code.
    let run = lops.run(&["status", "--json", "--regions", "us-east-1,eu-wset-1"]);
    run.assert_exit(2);
    let doc = run.json();
    assert_eq!(doc["exit"], 2);
    assert!(
        doc["error"]
            .as_str()
            .is_some_and(|e| e.contains("unknown region 'eu-wset-1'")),
        "{doc}"
    );
    // Also when the command line itself cannot be read.
    for args in [
        &["status", "--json", "--bogus"][..],
        &["restore", "s3://b/p", "--json", "--bogus"],
        &["logs", "--json"],
    ] {
        let run = lops.run(args);
        run.assert_exit(2);
        let doc = run.json();
        assert_eq!(doc["exit"], 2, "{args:?}");
        assert!(
            doc["error"]
                .as_str()
                .is_some_and(|e| e.contains("--bogus") || e.contains("<FUNCTIONS>")),
            "{doc}"
        );
    }
}

#[test]
fn empty_regions_flag_is_refused() {
    let run = Lops::new("http://127.0.0.1:9").run(&["status", "--regions", ""]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("an empty name: name at least one"),
        "{}",
        run.stderr
    );
}

#[test]
fn malformed_config_names_file_line_and_key() {
    let lops = Lops::new("http://127.0.0.1:9");
    let path = lops.config("regions = [\"us-east-1\"]\n[timeouts]\nconect_secs = 2\n");
    let run = lops.run(&["status", "--config", path.to_str().unwrap()]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains(path.to_str().unwrap()),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("line 3"), "{}", run.stderr);
    assert!(run.stderr.contains("conect_secs"), "{}", run.stderr);
}

#[test]
fn config_that_is_not_toml_is_refused() {
    let lops = Lops::new("http://127.0.0.1:9");
    let path = lops.config("regions = [\"us-east-1\"\nthis is not toml");
    let run = lops.run(&["status", "--config", path.to_str().unwrap()]);
    run.assert_exit(2);
    assert!(run.stderr.contains("line"), "{}", run.stderr);
}

#[test]
fn missing_config_file_is_named() {
    let run =
        Lops::new("http://127.0.0.1:9").run(&["status", "--config", "/nonexistent/lops.toml"]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("/nonexistent/lops.toml"),
        "{}",
        run.stderr
    );
}

#[test]
fn missing_credentials_say_how_to_provide_them() {
    let run = Lops::without_credentials().run(&["status", "--regions", "us-east-1"]);
    run.assert_exit(2);
    assert!(
        run.stderr
            .contains("no AWS credentials for profile 'default'"),
        "{}",
        run.stderr
    );
    assert!(run.stderr.contains("AWS_ACCESS_KEY_ID"), "{}", run.stderr);
    assert!(run.stderr.contains("--profile"), "{}", run.stderr);
    // A role profile whose source_profile names no profile: that is said, not only "none".
    let lops = Lops::without_credentials();
    std::fs::write(
        lops.home.path().join("aws-config"),
        "[profile dr]\nrole_arn = arn:aws:iam::123456789012:role/x\nsource_profile = nothere\n\
         region = us-east-1\n",
    )
    .expect("aws config");
    let run = lops.run(&["status", "--profile", "dr"]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("source profile nothere"),
        "{}",
        run.stderr
    );
    // The profile named is the one to mend, in the file AWS_CONFIG_FILE names (not a
    // `~/.aws/config` this run never read, nor "name a profile" to one who did).
    let file = lops.home.path().join("aws-config").display().to_string();
    assert!(
        run.stderr
            .contains(&format!("give profile 'dr' credentials in {file}")),
        "{}",
        run.stderr
    );
    assert!(!run.stderr.contains("~/.aws"), "{}", run.stderr);
}

#[test]
fn unknown_profile_is_refused() {
    let run = Lops::without_credentials().run(&[
        "status",
        "--regions",
        "us-east-1",
        "--profile",
        "nosuch",
    ]);
    run.assert_exit(2);
    assert!(run.stderr.contains("'nosuch'"), "{}", run.stderr);
    // Also with keys in the environment, by flag or by AWS_PROFILE: a mistyped profile would
    // otherwise act with those keys without the protections of the profile meant.
    let lops = Lops::new("http://127.0.0.1:9");
    let config = lops.config("[profile.prod]\nproduction = true\n");
    let config = config.display().to_string();
    // `undo` too, which picks what to take back from the log before it connects: a typo is
    // not "nothing to undo under prdo".
    for (flag, env, command) in [
        (Some("prdo"), None, "status"),
        (None, Some("prdo"), "status"),
        (Some("prdo"), None, "undo"),
        (None, Some("prdo"), "undo"),
    ] {
        let mut args = vec![command, "--regions", "us-east-1", "--config", &config];
        let mut lops = Lops::new("http://127.0.0.1:9");
        if let Some(p) = flag {
            args.extend(["--profile", p]);
        }
        if let Some(p) = env {
            lops = lops.env("AWS_PROFILE", p);
        }
        let run = lops.run(&args);
        run.assert_exit(2);
        assert!(
            run.stderr.contains("unknown profile 'prdo'") && run.stderr.contains("known: prod"),
            "{command}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_profile_lops_cannot_vouch_for_is_refused() {
    let lops = Lops::new("http://127.0.0.1:9");
    let config = lops.config("[profile.Prod]\nmode = \"read\"\nproduction = true\n");
    let config = config.display().to_string();
    let aws = lops.home.path().join("aws-config");
    // `[profile.Prod]` names no AWS profile and is one slip from `prod`: it protects nothing,
    // so acting as `prod` is refused rather than done with the change tier.
    std::fs::write(&aws, "[profile prod]\nregion = us-east-1\n").expect("aws config");
    let args = ["status", "--profile", "prod", "--config", &config];
    let run = lops.run(&args);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("[profile.Prod] names no AWS profile"),
        "{}",
        run.stderr
    );
    // One letter other, less or more is a slip too.
    for near in ["prid", "prd", "prodd"] {
        let config = lops.config(&format!("[profile.{near}]\nmode = \"read\"\n"));
        let config = config.display().to_string();
        let run = lops.run(&["status", "--profile", "prod", "--config", &config]);
        run.assert_exit(2);
        assert!(
            run.stderr
                .contains(&format!("[profile.{near}] names no AWS profile")),
            "{near}: {}",
            run.stderr
        );
    }
    lops.config("[profile.Prod]\nmode = \"read\"\nproduction = true\n");
    // AWS files that cannot be parsed cannot say a profile exists: refused, not waved through.
    // Also for a profile lops's config has: the environment's keys would sign under its tier.
    std::fs::write(&aws, "[profile broken\n").expect("aws config");
    for profile in ["prdo", "Prod"] {
        let run = lops.run(&["status", "--profile", profile, "--config", &config]);
        run.assert_exit(2);
        assert!(
            run.stderr.contains("AWS config files cannot be read"),
            "{profile}: {}",
            run.stderr
        );
    }
}

#[test]
fn a_config_link_to_nowhere_is_not_an_empty_config() {
    let lops = Lops::new("http://127.0.0.1:9");
    let dir = lops.home.path().join("config").join("lops");
    std::fs::create_dir_all(&dir).expect("dir");
    std::os::unix::fs::symlink(lops.home.path().join("gone.toml"), dir.join("config.toml"))
        .expect("link");
    let run = lops.run(&["status", "--regions", "us-east-1"]);
    run.assert_exit(2);
    assert!(run.stderr.contains("which is not there"), "{}", run.stderr);
}

/// A file where the config directory should be: named, with what to do (it said only "Not a
/// directory").
#[test]
fn a_file_where_the_config_directory_goes_is_named() {
    let lops = Lops::new("http://127.0.0.1:9");
    let config = lops.home.path().join("config");
    std::fs::create_dir_all(&config).expect("dir");
    std::fs::write(config.join("lops"), "x").expect("a file");
    let run = lops.run(&["status", "--regions", "us-east-1"]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains(&format!(
            "{} is a file, not a directory — move it away",
            config.join("lops").display()
        )),
        "{}",
        run.stderr
    );
}

#[test]
fn no_region_anywhere_says_where_to_set_one() {
    let run = Lops::new("http://127.0.0.1:9").run(&["status"]);
    run.assert_exit(2);
    assert!(run.stderr.contains("no region"), "{}", run.stderr);
    assert!(run.stderr.contains("--regions"), "{}", run.stderr);
}

#[test]
fn unknown_window_is_a_usage_error() {
    let run = Lops::new("http://127.0.0.1:9").run(&[
        "status",
        "--regions",
        "us-east-1",
        "--window",
        "7m",
    ]);
    run.assert_exit(2);
    assert!(run.stderr.contains("use 5m, 15m or 60m"), "{}", run.stderr);
}

#[test]
fn unknown_keymap_action_in_config_is_refused() {
    let lops = Lops::new("http://127.0.0.1:9");
    let path = lops.config("[keymap]\nexplode = \"x\"\n");
    let run = lops.run(&["--demo", "--config", path.to_str().unwrap()]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("unknown action 'explode'"),
        "{}",
        run.stderr
    );
    assert!(
        run.stderr.contains(path.to_str().unwrap()),
        "{}",
        run.stderr
    );
}

#[test]
fn output_that_cannot_be_written_fails_and_says_so() {
    let lops = Lops::new("http://127.0.0.1:9");
    for args in [
        "iam-policy --mode read",
        "audit",
        "audit --json",
        "--help",
        "--version",
    ] {
        let stderr = lops.run_with_stdout_to(args, "/dev/full");
        assert!(
            stderr.contains("exit=1") && stderr.contains("cannot write output"),
            "{args}: {stderr}"
        );
        // Said one way by every command (`audit` writes as it goes, `iam-policy` at its end).
        if !args.starts_with('-') {
            assert!(
                stderr.contains("what this command printed is lost"),
                "{args}: {stderr}"
            );
        }
        // They acted on nothing: no audit to point at.
        assert!(!stderr.contains("lops audit"), "{args}: {stderr}");
        assert!(!stderr.contains("panicked"), "{args}: {stderr}");
    }
    // Usage errors still go to stderr with their own code.
    let stderr = lops.run_with_stdout_to("status --window 7m", "/dev/full");
    assert!(stderr.contains("exit=2"), "{stderr}");
    // With --json the error is a document on stdout too: that it was lost is said beside it,
    // and the failure keeps its own code.
    // A command whose own write failed says it once.
    let stderr = lops.run_with_stdout_to("status --json --regions us-east-1", "/dev/full");
    assert_eq!(stderr.matches("cannot write output").count(), 1, "{stderr}");
    for (args, flag) in [
        ("status --json --window 7m", "--window"),
        ("invoke f --payload { --json", "--payload"),
    ] {
        let stderr = lops.run_with_stdout_to(args, "/dev/full");
        assert!(
            stderr.contains("exit=2")
                && stderr.contains(flag)
                && stderr.contains("the JSON document on stdout is lost"),
            "{args}: {stderr}"
        );
    }
}

#[test]
fn dashboard_without_a_terminal_points_to_status() {
    let run = Lops::new("http://127.0.0.1:9").run(&["--demo"]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("needs a terminal") && run.stderr.contains("lops status"),
        "{}",
        run.stderr
    );
}

/// `--demo` with a command, before or after it, is refused before anything is read or sent: a
/// command acts on AWS, and `--demo` said "no AWS account needed" (a kill under it changed the
/// account's function). The function and the audit log stay as they were.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn demo_with_a_command_is_refused_and_nothing_is_sent() {
    let region = "eu-south-2";
    let seeder = crate::support::seed::Seeder::new(crate::support::moto::url(), region).await;
    let f = format!("{}-fn", crate::support::moto::unique("demo"));
    seeder.create_function(&f).await;
    let lops = Lops::new(crate::support::moto::url());
    for args in [
        vec![
            "--demo",
            "concurrency",
            "set",
            &f,
            "3",
            "--regions",
            region,
            "--yes",
        ],
        vec!["kill", &f, "--regions", region, "--yes", "--demo", "--json"],
        vec!["status", "--demo", "--regions", region],
    ] {
        let run = lops.run(&args);
        run.assert_exit(2);
        let said = format!("{}{}", run.stdout, run.stderr);
        assert!(
            said.contains("--demo runs the dashboard on the simulated fleet")
                && said.contains("nothing was read or changed"),
            "{args:?}: {said}"
        );
    }
    assert_eq!(seeder.reserved(&f).await, None);
    assert!(!lops.home.path().join("state/lops/audit.jsonl").exists());
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn credentials_never_reach_the_log_or_the_audit_file() {
    let region = "eu-south-2";
    let prefix = crate::support::moto::unique("sec");
    let seeder = crate::support::seed::Seeder::new(crate::support::moto::url(), region).await;
    let f = format!("{prefix}-fn");
    seeder.create_function(&f).await;
    let lops = Lops::new(crate::support::moto::url());
    let secret = "lopsSecretKeyValue1234567890";
    let run = |args: &[&str]| {
        let out = lops
            .command(args)
            .env("AWS_SECRET_ACCESS_KEY", secret)
            .env("AWS_SESSION_TOKEN", "lopsSessionTokenValue")
            .output()
            .expect("run");
        assert!(
            out.status.success(),
            "{}",
            String::from_utf8_lossy(&out.stderr)
        );
    };
    run(&[
        "--log-level",
        "trace",
        "status",
        "--json",
        "--regions",
        region,
    ]);
    run(&[
        "--log-level",
        "trace",
        "kill",
        &f,
        "--regions",
        region,
        "--yes",
    ]);
    let state = lops.home.path().join("state").join("lops");
    let log = std::fs::read_to_string(state.join("lops.log")).expect("log file");
    let audit = std::fs::read_to_string(state.join("audit.jsonl")).expect("audit file");
    assert!(!log.is_empty() && !audit.is_empty());
    for text in [&log, &audit] {
        assert!(!text.contains(secret), "secret key leaked");
        assert!(
            !text.contains("lopsSessionTokenValue"),
            "session token leaked"
        );
        assert!(
            !text.to_lowercase().contains("authorization: aws4"),
            "Authorization header leaked"
        );
    }
    #[cfg(unix)]
    {
        use std::os::unix::fs::PermissionsExt;
        let mode = std::fs::metadata(state.join("audit.jsonl"))
            .expect("audit")
            .permissions()
            .mode();
        assert_eq!(mode & 0o777, 0o600);
    }
}

/// A function name Lambda cannot have (empty, a space, a slash) or an ARN is bad input in every
/// command that takes one, said before anything is asked (the endpoint here answers nothing).
#[test]
fn a_name_no_function_can_have_or_an_arn_is_refused_before_asking() {
    let lops = Lops::new("http://127.0.0.1:9");
    let arn = "arn:aws:lambda:eu-west-1:123456789012:function:orders-api";
    for name in ["", "a b", "a/b", arn] {
        let r = ["--region", "us-east-1"];
        let commands: Vec<Vec<&str>> = vec![
            vec!["kill", name, "--yes"],
            vec!["revive", name, "--yes"],
            vec!["concurrency", "set", name, "5", "--yes"],
            vec![
                "traffic",
                "set",
                "live",
                "--fn",
                name,
                "--version",
                "2",
                "--weight",
                "0.2",
                "--yes",
            ],
            vec!["traffic", "show", name],
            vec!["triggers", name],
            vec!["logs", name],
            vec![
                "backup",
                "run",
                "--fn",
                name,
                "--to",
                "s3://acme-backups/lops",
                "--yes",
            ],
        ];
        for mut args in commands {
            args.extend(r);
            let run = lops.run(&args);
            run.assert_exit(2);
            let said = if name == arn {
                "is an ARN: give the function's name, orders-api, and its region with --region eu-west-1"
            } else if name.is_empty() && args[0] == "logs" {
                "name the functions"
            } else if name.is_empty() && args[0] == "backup" {
                "name what to back up"
            } else if name.is_empty() {
                "no function named"
            } else {
                "is not a function name: 1 to 64 letters"
            };
            assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
            assert!(!run.stderr.contains("connect"), "{args:?}: {}", run.stderr);
        }
    }
}

#[test]
fn an_empty_guard_alarm_is_bad_input() {
    let lops = Lops::new("http://127.0.0.1:9");
    let run = lops.run(&[
        "traffic",
        "plan",
        "live",
        "--fn",
        "orders",
        "--to",
        "2",
        "--steps",
        "10:1m",
        "--guard-alarm",
        "",
        "--region",
        "us-east-1",
        "--yes",
    ]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("--guard-alarm is empty"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_rollout_naming_no_alias_or_a_role_that_is_no_arn_is_bad_input() {
    let lops = Lops::new("http://127.0.0.1:9");
    let run = lops.run(&[
        "traffic",
        "abort",
        "",
        "--fn",
        "orders",
        "--region",
        "us-east-1",
    ]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("is not an alias name"),
        "{}",
        run.stderr
    );
    let run = lops.run(&[
        "restore",
        "s3://acme-backups/lops/snapshots/us-east-1/orders/20261125T104502.123Z.json",
        "--assume-role",
        "garbage",
    ]);
    run.assert_exit(2);
    assert!(
        run.stderr
            .contains("--assume-role 'garbage' is not an IAM role ARN"),
        "{}",
        run.stderr
    );
    // With --json, a command line lops cannot read is one JSON line without clap's tip.
    let run = lops.run(&["status", "--json", "--bogus"]);
    run.assert_exit(2);
    let doc = run.json();
    assert!(
        !doc["error"]
            .as_str()
            .unwrap_or_default()
            .contains("For more information"),
        "{doc}"
    );
}

/// A count or a rate given as a negative, a word or too many digits is named as what it is,
/// with what to give (clap took `-1` for an unknown flag and said to write `-- -1`).
#[test]
fn negative_and_absurd_numbers_say_what_to_give() {
    let lops = Lops::new("http://127.0.0.1:9");
    let cases: [(&[&str], &str); 6] = [
        (
            &[
                "backup",
                "prune",
                "--to",
                "s3://lops-b/x",
                "--keep-last",
                "-1",
            ],
            "is negative",
        ),
        (
            &[
                "backup",
                "prune",
                "--to",
                "s3://lops-b/x",
                "--keep-last",
                "abc",
            ],
            "not a whole number",
        ),
        (
            &[
                "backup",
                "prune",
                "--to",
                "s3://lops-b/x",
                "--keep-last",
                "99999999999999999999",
            ],
            "too large",
        ),
        (
            &["logs", "f", "--region", "us-east-1", "--since", "-5m"],
            "is not a time",
        ),
        (
            &[
                "traffic",
                "plan",
                "f:live",
                "--to",
                "2",
                "--region",
                "us-east-1",
                "--guard-interval",
                "-1",
            ],
            "is not a time",
        ),
        (
            &[
                "traffic",
                "plan",
                "f:live",
                "--to",
                "2",
                "--region",
                "us-east-1",
                "--max-error-rate",
                "-0.1",
            ],
            "give 0 to 1",
        ),
    ];
    let left_out: [(&[&str], &str); 2] = [
        (
            &[
                "backup",
                "prune",
                "--to",
                "s3://lops-b/x",
                "--keep-last",
                "--dry-run",
            ],
            "is the next flag",
        ),
        (
            &["logs", "f", "--region", "us-east-1", "--since", "--follow"],
            "is the next flag",
        ),
    ];
    for (args, said) in cases.into_iter().chain(left_out) {
        let run = lops.run(args);
        run.assert_exit(2);
        assert!(run.stderr.contains(said), "{args:?}: {}", run.stderr);
        assert!(!run.stderr.contains("-- -1"), "{args:?}: {}", run.stderr);
    }
}

/// `--read-only` and `--mode` together say two things: refused, not one silently taken.
#[test]
fn read_only_and_mode_together_are_refused() {
    let run = Lops::new("http://127.0.0.1:9").run(&["--read-only", "--mode", "change", "status"]);
    run.assert_exit(2);
    assert!(
        run.stderr
            .contains("'--read-only' cannot be used with '--mode"),
        "{}",
        run.stderr
    );
    // Split around the subcommand, where clap does not see them together.
    let run = Lops::new("http://127.0.0.1:9").run(&["--read-only", "status", "--mode", "change"]);
    run.assert_exit(2);
    assert!(run.stderr.contains("give one of them"), "{}", run.stderr);
}

/// One service's endpoint that cannot be reached (Lambda's here, S3 and CloudWatch answering):
/// the failure names the service, not only "could not connect".
#[test]
fn an_endpoint_that_refuses_names_its_service() {
    let lops =
        Lops::new(crate::support::moto::url()).env("AWS_ENDPOINT_URL_LAMBDA", "http://127.0.0.1:9");
    let run = lops.run(&["status", "--regions", "us-east-1"]);
    run.assert_exit(3);
    assert!(
        run.stdout
            .contains("us-east-1: PARTIAL: inventory: ListFunctions could not connect to Lambda: "),
        "{}",
        run.stdout
    );
    // The setting that may be the cause is among those named.
    assert!(
        run.stdout.contains("Lambda's own, AWS_ENDPOINT_URL_LAMBDA"),
        "{}",
        run.stdout
    );
    // CloudWatch's: its own setting, not Lambda's.
    let lops = Lops::new(crate::support::moto::url())
        .env("AWS_ENDPOINT_URL_CLOUDWATCH", "http://127.0.0.1:9");
    let run = lops.run(&["status", "--regions", "us-east-1"]);
    run.assert_exit(3);
    assert!(
        run.stdout.contains("could not connect to CloudWatch: ")
            && run
                .stdout
                .contains("CloudWatch's own, AWS_ENDPOINT_URL_CLOUDWATCH")
            && !run.stdout.contains("AWS_ENDPOINT_URL_LAMBDA"),
        "{}",
        run.stdout
    );
}

/// An empty name in a region or profile list (a trailing comma, two in a row) is a typo: refused
/// as an empty function name is, not read as the regions around it.
#[test]
fn an_empty_name_in_a_region_or_profile_list_is_refused() {
    let lops = Lops::new(crate::support::moto::url());
    for args in [
        ["status", "--regions", "us-east-1,"],
        ["status", "--regions", "us-east-1,,eu-west-1"],
        ["status", "--profile", "default,"],
    ] {
        let run = lops.run(&args);
        run.assert_exit(2);
        assert!(
            run.stderr
                .contains("an empty name: name at least one, separated by single commas")
                && run.stderr.contains(args[1])
                && (args[1] == "--regions" || !run.stderr.contains("us-east-1,eu-west-1")),
            "{args:?}: {}",
            run.stderr
        );
    }
}

/// An argument or a variable that is not UTF-8 is bad input said as such (exit 2, the JSON
/// error document with `--json`): an argument panicked (101), and `AWS_PROFILE` or
/// `AWS_ENDPOINT_URL` were read as unset — acting under `default`, or on AWS itself.
#[cfg(unix)]
#[test]
fn text_that_is_not_utf8_is_refused_not_passed_over() {
    use std::ffi::OsStr;
    use std::os::unix::ffi::OsStrExt;
    let lops = Lops::new("http://127.0.0.1:9");
    let bad = OsStr::from_bytes(b"us-east-1\xff");
    for json in [false, true] {
        let mut cmd = lops.command(&[]);
        cmd.arg("status").arg("--regions").arg(bad);
        if json {
            cmd.arg("--json");
        }
        let out = cmd.output().expect("run lops");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{stderr}");
        assert!(
            stderr.contains("invalid UTF-8") && !stderr.contains("panicked"),
            "{stderr}"
        );
        if json {
            let doc: serde_json::Value = serde_json::from_slice(&out.stdout).expect("json");
            assert_eq!(doc["exit"], 2, "{doc}");
        }
    }
    for key in ["AWS_PROFILE", "AWS_ENDPOINT_URL"] {
        let out = lops
            .command(&["kill", "orders-api", "--region", "us-east-1", "--dry-run"])
            .env(key, OsStr::from_bytes(b"r\xffo"))
            .output()
            .expect("run lops");
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{key}: {stderr}");
        assert!(
            stderr.contains(&format!("{key} is not valid UTF-8")),
            "{key}: {stderr}"
        );
    }
}
