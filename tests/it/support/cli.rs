//! Runs the `lops` binary the way a user or cron would: its own config, state and env.

use std::path::PathBuf;
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

pub struct Lops {
    pub home: tempfile::TempDir,
    endpoint: Option<String>,
    credentials: bool,
    env: Vec<(String, String)>,
}

pub struct Run {
    pub code: i32,
    pub stdout: String,
    pub stderr: String,
}

impl Run {
    pub fn json(&self) -> serde_json::Value {
        serde_json::from_str(&self.stdout).unwrap_or_else(|e| {
            panic!(
                "stdout is not JSON ({e}):\n{}\nstderr:\n{}",
                self.stdout, self.stderr
            )
        })
    }

    /// Exit code `code`, and nothing that looks like a panic.
    pub fn assert_exit(&self, code: i32) {
        assert_eq!(
            self.code, code,
            "exit code\nstdout:\n{}\nstderr:\n{}",
            self.stdout, self.stderr
        );
        assert!(!self.stderr.contains("panicked"), "panic:\n{}", self.stderr);
    }
}

impl Lops {
    /// Every record of its audit log dated `minutes` ago (undo and restore judge a change that
    /// got no answer by its age).
    pub fn audit_written_minutes_ago(&self, minutes: i64) {
        let log = self.home.path().join("state/lops/audit.jsonl");
        let ago = (chrono::Utc::now() - chrono::TimeDelta::minutes(minutes))
            .to_rfc3339_opts(chrono::SecondsFormat::Secs, true);
        let text = std::fs::read_to_string(&log).expect("audit log");
        let older: Vec<String> = text
            .lines()
            .map(|l| {
                let mut v: serde_json::Value = serde_json::from_str(l).expect("record");
                v["time"] = serde_json::Value::String(ago.clone());
                if v.get("ended").is_some() {
                    v["ended"] = serde_json::Value::String(ago.clone());
                }
                v.to_string()
            })
            .collect();
        std::fs::write(&log, older.join("\n") + "\n").expect("audit log");
    }

    /// lops pointed at `endpoint` (moto or a proxy) with test credentials.
    pub fn new(endpoint: &str) -> Lops {
        Lops {
            home: tempfile::tempdir().expect("tempdir"),
            endpoint: Some(endpoint.to_string()),
            credentials: true,
            env: Vec::new(),
        }
    }

    /// lops with no endpoint override and no credentials anywhere.
    pub fn without_credentials() -> Lops {
        Lops {
            home: tempfile::tempdir().expect("tempdir"),
            endpoint: None,
            credentials: false,
            env: Vec::new(),
        }
    }

    /// lops pointed at `endpoint` with two profiles: `default` with the test keys and
    /// `nocreds` with none anywhere.
    pub fn with_a_profile_without_credentials(endpoint: &str) -> Lops {
        let lops = Lops::without_credentials().env("AWS_ENDPOINT_URL", endpoint);
        lops.aws_files(
            "[default]\nregion = us-east-1\n[profile nocreds]\nregion = us-east-1\n",
            Some("[default]\naws_access_key_id = testing\naws_secret_access_key = testing\n"),
        );
        lops
    }

    /// Sets an environment variable for every run.
    pub fn env(mut self, key: &str, value: &str) -> Lops {
        self.env.push((key.to_string(), value.to_string()));
        self
    }

    /// Writes `text` as the config file and returns its path.
    pub fn config(&self, text: &str) -> PathBuf {
        let path = self.home.path().join("config.toml");
        std::fs::write(&path, text).expect("write config");
        path
    }

    /// Writes AWS's own files in this home: `config` as its config file, `credentials` (when
    /// given) as its shared credentials file.
    pub fn aws_files(&self, config: &str, credentials: Option<&str>) {
        std::fs::write(self.home.path().join("aws-config"), config).expect("aws config");
        if let Some(credentials) = credentials {
            std::fs::write(self.home.path().join("aws-credentials"), credentials)
                .expect("aws credentials");
        }
    }

    pub fn command(&self, args: &[&str]) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_lops"));
        cmd.args(args)
            .env_clear()
            .env("PATH", std::env::var("PATH").unwrap_or_default())
            // A UTF-8 terminal, as most are (a test of ASCII output sets LC_ALL=C).
            .env("LANG", "C.UTF-8")
            .env("HOME", self.home.path())
            .env("XDG_CONFIG_HOME", self.home.path().join("config"))
            .env("XDG_STATE_HOME", self.home.path().join("state"))
            .env("AWS_EC2_METADATA_DISABLED", "true")
            .env("AWS_CONFIG_FILE", self.home.path().join("aws-config"))
            .env(
                "AWS_SHARED_CREDENTIALS_FILE",
                self.home.path().join("aws-credentials"),
            );
        if let Some(endpoint) = &self.endpoint {
            cmd.env("AWS_ENDPOINT_URL", endpoint);
        }
        for (k, v) in &self.env {
            cmd.env(k, v);
        }
        if self.credentials {
            cmd.env("AWS_ACCESS_KEY_ID", "testing")
                .env("AWS_SECRET_ACCESS_KEY", "testing");
        }
        cmd
    }

    /// Starts lops in the background, its output captured.
    pub fn spawn(&self, args: &[&str]) -> Child {
        self.command(args)
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .expect("spawn lops")
    }

    /// Runs `lops ARGS | (exit 0)` in bash: the reader of stdout is gone before lops writes.
    /// Returns lops's stderr followed by a line `exit=CODE`.
    pub fn run_into_closed_pipe(&self, args: &str) -> String {
        self.run_in_bash(&format!(
            "{} {args} | (exit 0); echo \"exit=${{PIPESTATUS[0]}}\" >&2",
            env!("CARGO_BIN_EXE_lops")
        ))
    }

    /// Runs `lops ARGS >TARGET` in bash (`/dev/full`: every write fails). Returns lops's
    /// stderr followed by a line `exit=CODE`.
    pub fn run_with_stdout_to(&self, args: &str, target: &str) -> String {
        self.run_in_bash(&format!(
            "{} {args} >{target}; echo \"exit=$?\" >&2",
            env!("CARGO_BIN_EXE_lops")
        ))
    }

    fn run_in_bash(&self, script: &str) -> String {
        let template = self.command(&[]);
        let mut cmd = Command::new("bash");
        cmd.env_clear();
        for (k, v) in template.get_envs() {
            if let Some(v) = v {
                cmd.env(k, v);
            }
        }
        let out = cmd.args(["-c", script]).output().expect("bash");
        String::from_utf8_lossy(&out.stderr).into_owned()
    }

    pub fn run(&self, args: &[&str]) -> Run {
        self.run_with_env(args, &[])
    }

    /// `run` with more environment variables (`AWS_PROFILE`, say) for this run only.
    pub fn run_with_env(&self, args: &[&str], env: &[(&str, &str)]) -> Run {
        let Output {
            status,
            stdout,
            stderr,
        } = self
            .command(args)
            .envs(env.iter().copied())
            .output()
            .expect("run lops");
        Run {
            code: status.code().unwrap_or(-1),
            stdout: String::from_utf8_lossy(&stdout).into_owned(),
            stderr: String::from_utf8_lossy(&stderr).into_owned(),
        }
    }
}

/// Waits (up to `secs`) for a spawned lops to exit; its exit code and stderr.
pub fn finish(mut child: Child, secs: u64) -> (i32, String) {
    let deadline = Instant::now() + Duration::from_secs(secs);
    while child.try_wait().ok().flatten().is_none() {
        if Instant::now() > deadline {
            let _ = child.kill();
            panic!("lops did not exit within {secs}s");
        }
        std::thread::sleep(Duration::from_millis(100));
    }
    let out = child.wait_with_output().expect("wait");
    (
        out.status.code().unwrap_or(-1),
        String::from_utf8_lossy(&out.stderr).into_owned(),
    )
}

/// The region `name` of a `lops status --json` document.
pub fn region_doc<'a>(doc: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    doc["regions"]
        .as_array()
        .and_then(|rs| rs.iter().find(|r| r["region"] == name))
        .unwrap_or_else(|| panic!("region {name} missing from {doc:#}"))
}

/// The function `name` of a region of a `lops status --json` document.
pub fn function_doc<'a>(region: &'a serde_json::Value, name: &str) -> &'a serde_json::Value {
    region["functions"]
        .as_array()
        .and_then(|fs| fs.iter().find(|f| f["name"] == name))
        .unwrap_or_else(|| panic!("function {name} missing from {region:#}"))
}

/// `lops traffic plan live --fn F --to 2 --steps STEPS --guard-interval 1 --regions R --yes`.
pub fn plan_args<'a>(f: &'a str, region: &'a str, steps: &'a str) -> Vec<&'a str> {
    vec![
        "traffic",
        "plan",
        "live",
        "--fn",
        f,
        "--to",
        "2",
        "--steps",
        steps,
        "--guard-interval",
        "1",
        "--regions",
        region,
        "--yes",
    ]
}

/// `lops traffic set live --fn F --version 2 --weight W --regions R --yes`.
pub fn set_live_weight(lops: &Lops, region: &str, f: &str, weight: &str) -> Run {
    lops.run(&[
        "traffic",
        "set",
        "live",
        "--fn",
        f,
        "--version",
        "2",
        "--weight",
        weight,
        "--regions",
        region,
        "--yes",
    ])
}
