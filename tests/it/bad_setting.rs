//! Settings lops is handed from outside (endpoint URLs, the config file's path) that it cannot
//! use: a message naming the setting and what to do, exit 2, never a panic or a hang.

use crate::support::cli::{Lops, finish};

/// `status --json` refuses at once: exit 2, one JSON document, the message naming `setting`.
fn assert_refused(lops: &Lops, setting: &str) {
    let run = lops.run(&["status", "--regions", "us-east-1", "--json"]);
    run.assert_exit(2);
    let doc = run.json();
    assert_eq!(doc["exit"], 2, "{doc}");
    let error = doc["error"].as_str().unwrap_or_default();
    assert!(error.contains(setting), "{error}");
    assert!(!run.stderr.contains("Request {"), "{}", run.stderr);
}

#[test]
fn an_empty_endpoint_url_is_refused_naming_the_variable() {
    let lops = Lops::new("");
    assert_refused(
        &lops,
        "AWS_ENDPOINT_URL is set but empty: unset AWS_ENDPOINT_URL",
    );
    // A service's own variable is what that service's client would take.
    let lops = Lops::new("http://127.0.0.1:9").env("AWS_ENDPOINT_URL_LAMBDA", "");
    assert_refused(&lops, "AWS_ENDPOINT_URL_LAMBDA is set but empty");
}

#[test]
fn an_endpoint_url_that_is_no_url_is_refused_without_the_sdk_dump() {
    let lops = Lops::new("not a url");
    assert_refused(
        &lops,
        "AWS_ENDPOINT_URL = 'not a url' is not an endpoint URL",
    );
}

#[test]
fn a_profile_endpoint_url_that_is_empty_names_the_profile() {
    let lops = Lops::without_credentials()
        .env("AWS_ACCESS_KEY_ID", "testing")
        .env("AWS_SECRET_ACCESS_KEY", "testing");
    let aws_config = lops.home.path().join("aws-config");
    std::fs::write(&aws_config, "[default]\nendpoint_url =\n").expect("aws config");
    assert_refused(&lops, "`endpoint_url` of profile 'default'");
    // In the profile's `services` section too.
    std::fs::write(
        &aws_config,
        "[default]\nservices = local\n[services local]\ns3 =\n  endpoint_url = nope\n",
    )
    .expect("aws config");
    assert_refused(&lops, "`endpoint_url` under `s3` in [services local]");
}

#[test]
fn a_config_path_that_is_a_fifo_or_a_device_is_refused_at_once() {
    let lops = Lops::new("http://127.0.0.1:9");
    let fifo = lops.home.path().join("config.fifo");
    let made = std::process::Command::new("mkfifo").arg(&fifo).status();
    assert!(made.is_ok_and(|s| s.success()), "mkfifo");
    for (path, what) in [
        (fifo.to_str().unwrap_or_default(), "a named pipe (FIFO)"),
        ("/dev/zero", "a character device"),
    ] {
        let (code, stderr) = finish(lops.spawn(&["status", "--config", path]), 10);
        assert_eq!(code, 2, "{stderr}");
        assert!(
            stderr.contains(&format!("it is {what}, not a file")),
            "{stderr}"
        );
        assert!(
            stderr.contains("--config the path of a TOML file"),
            "{stderr}"
        );
    }
}

#[test]
fn a_config_path_that_is_not_there_says_what_to_do() {
    let lops = Lops::new("http://127.0.0.1:9");
    let path = lops.home.path().join("nope.toml");
    let run = lops.run(&["status", "--config", &path.display().to_string()]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("nope.toml cannot be read")
            && run
                .stderr
                .contains("check the path given, or leave --config out"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_config_file_over_a_mebibyte_or_not_utf8_says_so() {
    let lops = Lops::new("http://127.0.0.1:9");
    let path = lops.home.path().join("big.toml");
    std::fs::write(&path, "#".repeat(1024 * 1024 + 1)).expect("write");
    let run = lops.run(&["status", "--config", path.to_str().unwrap_or_default()]);
    run.assert_exit(2);
    assert!(run.stderr.contains("larger than 1 MiB"), "{}", run.stderr);
    let path = lops.home.path().join("latin1.toml");
    std::fs::write(&path, b"regions = [\"us-east-1\"]\n# caf\xe9\n").expect("write");
    let run = lops.run(&["status", "--config", path.to_str().unwrap_or_default()]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("line 2, column 6: not UTF-8 text"),
        "{}",
        run.stderr
    );
}

#[test]
fn a_credential_process_that_hangs_is_named() {
    let lops = Lops::without_credentials();
    std::fs::write(
        lops.home.path().join("aws-config"),
        // A duration no other process sleeps: the test looks for it after.
        "[profile hang]\nregion = us-east-1\ncredential_process = /bin/sleep 41.317\n",
    )
    .expect("aws config");
    let config = lops.config("[timeouts]\noperation_secs = 1\n");
    let args = ["status", "--profile", "hang", "--config"];
    let run = lops.run(&[&args[..], &[config.to_str().unwrap_or_default()]].concat());
    run.assert_exit(2);
    assert!(
        run.stderr
            .contains("the credential_process of profile 'hang' did not answer within 5s")
            && run.stderr.contains("run that command by hand"),
        "{}",
        run.stderr
    );
    // The SDK started it and would leave it running: lops ended it when it gave up.
    std::thread::sleep(std::time::Duration::from_millis(300));
    let left: Vec<String> = std::fs::read_dir("/proc")
        .into_iter()
        .flatten()
        .flatten()
        .filter_map(|e| std::fs::read(e.path().join("cmdline")).ok())
        .map(|c| String::from_utf8_lossy(&c).replace('\0', " "))
        .filter(|c| c.contains("41.317"))
        .collect();
    assert!(left.is_empty(), "{left:?}");
}

/// Two profiles whose credential_process hangs are asked at once: the session waits for the
/// timeout once (5 s), not once per profile (10 s) — a hung command held every profile after it.
#[test]
fn hung_credential_processes_of_two_profiles_are_waited_for_once() {
    let lops = Lops::without_credentials();
    std::fs::write(
        lops.home.path().join("aws-config"),
        "[profile one]\nregion = us-east-1\ncredential_process = /bin/sleep 41.318\n\
         [profile two]\nregion = us-east-1\ncredential_process = /bin/sleep 41.319\n",
    )
    .expect("aws config");
    let config = lops.config("[timeouts]\noperation_secs = 1\n");
    let args = ["status", "--profile", "one,two", "--config"];
    let started = std::time::Instant::now();
    let run = lops.run(&[&args[..], &[config.to_str().unwrap_or_default()]].concat());
    let took = started.elapsed();
    run.assert_exit(2);
    assert!(
        run.stderr.contains("did not answer within 5s"),
        "{}",
        run.stderr
    );
    assert!(took < std::time::Duration::from_millis(9500), "{took:?}");
}

/// A config that does not read is refused by every command, `audit` and `traffic plans`
/// included (they printed as if nothing were wrong, and the first command that acted said it);
/// the default file's path being a directory names that path, not `--config`.
#[test]
fn a_bad_config_is_refused_by_the_commands_that_only_read_records_too() {
    let lops = Lops::new("http://127.0.0.1:9");
    let dir = lops.home.path().join("config").join("lops");
    std::fs::create_dir_all(&dir).expect("config dir");
    std::fs::write(dir.join("config.toml"), "bogus = 1\n").expect("config");
    for args in [
        &["audit"][..],
        &["traffic", "plans"],
        &["traffic", "plans", "--json"],
    ] {
        let run = lops.run(args);
        run.assert_exit(2);
        assert!(run.stderr.contains("bogus"), "{args:?}: {}", run.stderr);
    }
    std::fs::remove_file(dir.join("config.toml")).expect("rm");
    std::fs::create_dir(dir.join("config.toml")).expect("a directory there");
    let run = lops.run(&["audit"]);
    run.assert_exit(2);
    assert!(
        run.stderr.contains("it is a directory, not a file")
            && run
                .stderr
                .contains("where lops reads its config by default")
            && !run.stderr.contains("give --config the path of a TOML file"),
        "{}",
        run.stderr
    );
}
