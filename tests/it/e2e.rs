//! The lops binary with `--demo` in a real terminal (tmux at 80x24): start-up, live
//! updates, help, a resize to a tiny window and back, and a clean exit that restores the
//! terminal.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::{Duration, Instant};

struct Tmux {
    session: String,
}

impl Tmux {
    /// A session of its own at 80x24 running `script` under `sh -c`.
    fn start(name: &str, script: &str) -> Tmux {
        let tmux = Tmux {
            session: format!("lops-e2e-{name}-{}", std::process::id()),
        };
        tmux.run(&[
            "new-session",
            "-d",
            "-s",
            &tmux.session,
            "-x",
            "80",
            "-y",
            "24",
            "sh",
            "-c",
            script,
        ]);
        tmux
    }

    fn run(&self, args: &[&str]) -> String {
        let out = Command::new("tmux")
            .args(args)
            .output()
            .expect("tmux (scripts/test installs it)");
        String::from_utf8_lossy(&out.stdout).into_owned()
    }

    fn capture(&self) -> String {
        self.run(&["capture-pane", "-p", "-t", &self.session])
    }

    fn keys(&self, keys: &str) {
        self.run(&["send-keys", "-t", &self.session, keys]);
    }

    /// Waits up to `secs` for the screen to satisfy `ok`; returns the last capture.
    fn wait_for(&self, secs: u64, what: &str, ok: impl Fn(&str) -> bool) -> String {
        let deadline = Instant::now() + Duration::from_secs(secs);
        loop {
            let screen = self.capture();
            if ok(&screen) {
                return screen;
            }
            assert!(
                Instant::now() < deadline,
                "timed out waiting for {what}; screen:\n{screen}"
            );
            std::thread::sleep(Duration::from_millis(100));
        }
    }
}

impl Drop for Tmux {
    fn drop(&mut self) {
        let _ = Command::new("tmux")
            .args(["kill-session", "-t", &self.session])
            .output();
    }
}

/// The binary this test run built (what a terminal needs to see does not depend on the
/// optimisation level); `LOPS_E2E_BIN` points the test at another build, e.g. the shipped
/// release binary: `LOPS_E2E_BIN=target/release/lops ./scripts/test e2e`.
fn lops_binary() -> PathBuf {
    let path = std::env::var("LOPS_E2E_BIN").unwrap_or_else(|_| env!("CARGO_BIN_EXE_lops").into());
    assert!(Path::new(&path).exists(), "{path} does not exist");
    PathBuf::from(path)
}

fn table(screen: &str) -> String {
    // Everything but the header line, whose clock changes every second.
    screen.lines().skip(1).collect::<Vec<_>>().join("\n")
}

/// The demo started in a tmux session of its own at 80x24, on screen: the session, its home,
/// and the path whose `.code` and `.stty` files say how it exited.
fn start_demo(name: &str) -> (Tmux, tempfile::TempDir, PathBuf, String) {
    let bin = lops_binary();
    let home = tempfile::tempdir().expect("tempdir");
    let config = home.path().join("config.toml");
    std::fs::write(&config, "[refresh]\nmetrics_secs = 2\n").expect("config");
    let done = home.path().join("done");
    let script = format!(
        "cd {home} && HOME={home} XDG_STATE_HOME={home}/state LANG=C.UTF-8 {bin} --demo --config {config}; \
         echo $? > {done}.code; stty -a > {done}.stty; sleep 30",
        home = home.path().display(),
        bin = bin.display(),
        config = config.display(),
        done = done.display(),
    );
    let tmux = Tmux::start(name, &script);

    // A harness wait, not a promise of the demo's start-up time (a few hundred ms alone): the
    // whole suite shares two cores with it, and the first frame once took over 15 s there.
    let first = tmux.wait_for(40, "the fleet with several regions", |s| {
        s.contains("functions 150/150")
            && ["us-east-1", "eu-west-1", "ap-southeast-2", "us-west-2"]
                .iter()
                .all(|r| s.contains(r))
    });
    assert!(first.contains("DEMO"), "{first}");
    (tmux, home, done, first)
}

/// Waits for the demo to exit; checks it exited 0 and gave the terminal back (raw mode off,
/// the alternate screen gone).
fn assert_exited_cleanly(tmux: &Tmux, done: &Path, how: &str) {
    let code_file = done.with_extension("code");
    let deadline = Instant::now() + Duration::from_secs(10);
    while !code_file.exists() {
        assert!(
            Instant::now() < deadline,
            "lops did not exit on {how}:\n{}",
            tmux.capture()
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    std::thread::sleep(Duration::from_millis(200));
    let code = std::fs::read_to_string(&code_file).expect("exit code");
    assert_eq!(code.trim(), "0", "{how}");
    // Raw mode is off again (canonical input and echo back on) and the alternate screen is gone.
    let stty = std::fs::read_to_string(done.with_extension("stty")).expect("stty");
    assert!(
        stty.contains(" icanon") && stty.contains(" echo"),
        "{how}: {stty}"
    );
    let after = tmux.capture();
    assert!(
        !after.contains("functions 150/150"),
        "{how}: dashboard still on screen:\n{after}"
    );
}

#[test]
fn demo_runs_in_a_real_terminal_and_exits_cleanly() {
    let (tmux, _home, done, first) = start_demo("q");
    tmux.wait_for(15, "the numbers to move", |s| table(s) != table(&first));

    // Help pages at 80x24: PgDn reaches its end.
    tmux.keys("?");
    tmux.wait_for(5, "help", |s| s.contains("keys (") && s.contains("0 above"));
    tmux.keys("NPage");
    tmux.keys("NPage");
    tmux.wait_for(5, "help's end", |s| {
        s.contains("enter never does") && s.contains("0 below")
    });
    tmux.keys("Escape");
    tmux.wait_for(5, "help to close", |s| !s.contains("keys ("));

    tmux.run(&["resize-window", "-t", &tmux.session, "-x", "30", "-y", "8"]);
    tmux.wait_for(5, "the too-small message", |s| {
        s.contains("too small 30x8") && s.contains("q quits")
    });
    tmux.run(&["resize-window", "-t", &tmux.session, "-x", "80", "-y", "24"]);
    tmux.wait_for(5, "the fleet again", |s| s.contains("functions 150/150"));

    tmux.keys("q");
    assert_exited_cleanly(&tmux, &done, "q");
}

/// SIGTERM (a shutdown, `kill`) quits as `q` does: the terminal is given back, not left raw
/// on the alternate screen.
#[test]
fn sigterm_gives_the_terminal_back() {
    let (tmux, home, done, _) = start_demo("term");
    let config = home.path().join("config.toml");
    // The process whose command line names this test's config, and is lops (not its shell).
    let found = Command::new("pgrep")
        .args(["-f", "--", &format!("--config {}", config.display())])
        .output()
        .expect("pgrep");
    let pid = String::from_utf8_lossy(&found.stdout)
        .lines()
        .map(str::trim)
        .find(|pid| {
            std::fs::read_to_string(format!("/proc/{pid}/comm"))
                .is_ok_and(|comm| comm.trim() == "lops")
        })
        .map(str::to_string)
        .expect("the lops process");
    let sent = Command::new("kill")
        .args(["-TERM", &pid])
        .status()
        .expect("kill");
    assert!(sent.success());
    assert_exited_cleanly(&tmux, &done, "SIGTERM");
}

/// `--payload @-` typed at a terminal waits for the payload: it says so, and how to end it,
/// rather than looking hung.
#[test]
fn a_payload_read_from_a_terminal_says_how_to_end_it() {
    let bin = lops_binary();
    let home = tempfile::tempdir().expect("tempdir");
    let script = format!(
        "HOME={home} XDG_STATE_HOME={home}/state LANG=C.UTF-8 {bin} invoke orders --region \
         us-east-1 --payload @-; sleep 30",
        home = home.path().display(),
        bin = bin.display(),
    );
    let tmux = Tmux::start("stdin", &script);
    tmux.wait_for(15, "the stdin hint", |s| {
        s.contains("reading the payload from standard input: end it with Ctrl-D")
    });
}

/// A terminal that says it cannot move its cursor (`TERM=dumb`) gets a message saying what to
/// do, not a screen of escape codes; exit 2.
#[test]
fn a_dumb_terminal_is_told_what_to_do() {
    let bin = lops_binary();
    let home = tempfile::tempdir().expect("tempdir");
    let script = format!(
        "HOME={home} XDG_STATE_HOME={home}/state LANG=C.UTF-8 TERM=dumb {bin} --demo; \
         echo \"exit=$?\"; sleep 30",
        home = home.path().display(),
        bin = bin.display(),
    );
    let tmux = Tmux::start("dumb", &script);
    let screen = tmux.wait_for(15, "the refusal", |s| s.contains("exit="));
    // The message wraps anywhere at 80 columns: compared without whitespace.
    let compact = |t: &str| t.split_whitespace().collect::<String>();
    assert!(
        compact(&screen).contains(&compact(
            "TERM=dumb says this one cannot: run it in a full terminal"
        )) && screen.contains("exit=2"),
        "{screen}"
    );
}
