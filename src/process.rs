//! Processes of this machine: its name, and whether a process that left a mark (a lease, a
//! rollout's owner) still runs.

use std::path::Path;

/// This machine's name, as a lease or a rollout's owner records it. Inside a container whose
/// processes are numbered apart (its own pid namespace) the namespace is part of it: two
/// containers sharing a state directory and a host name never take each other's pids for
/// their own (one would find the other's running drill gone).
pub fn host_name() -> String {
    let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into());
    match pid_namespace() {
        Some(ns) if ns != INIT_PID_NAMESPACE => format!("{host} (pid namespace {ns})"),
        _ => host,
    }
}

/// The inode Linux gives the first pid namespace (the machine's own).
const INIT_PID_NAMESPACE: u64 = 0xEFFF_FFFC;

/// This process's pid namespace (`/proc/self/ns/pid` links to `pid:[INODE]`).
fn pid_namespace() -> Option<u64> {
    let link = std::fs::read_link("/proc/self/ns/pid").ok()?;
    let text = link.to_str()?;
    text.strip_prefix("pid:[")?.strip_suffix(']')?.parse().ok()
}

/// Whether process `pid` of `host` is known gone: it ran on this machine and is not running
/// (never said of another machine's, nor where /proc cannot tell).
pub fn gone_here(host: &str, pid: u32) -> bool {
    let proc_dir = Path::new("/proc");
    host == host_name() && proc_dir.exists() && !lives(&proc_dir.join(pid.to_string()))
}

/// Whether the process at `/proc/PID` runs: a killed one its parent has not yet reaped (a
/// zombie, state `Z`, or `X` while it goes) still has its directory but drives nothing.
pub fn lives(dir: &Path) -> bool {
    match std::fs::read_to_string(dir.join("stat")) {
        // `PID (COMMAND) STATE …`: the command may hold spaces and parentheses.
        Ok(stat) => stat
            .rsplit_once(')')
            .and_then(|(_, rest)| rest.split_whitespace().next())
            .is_none_or(|state| !matches!(state, "Z" | "X" | "x")),
        Err(_) => dir.exists(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_pid_namespace_is_read_and_named_only_off_the_machines_own() {
        if !Path::new("/proc/self/ns/pid").exists() {
            return;
        }
        let ns = pid_namespace().expect("a pid namespace under /proc");
        assert!(ns > 0);
        assert_eq!(
            host_name().contains(&format!("(pid namespace {ns})")),
            ns != INIT_PID_NAMESPACE
        );
        // This process runs; a pid of this machine that is not running is gone.
        assert!(!gone_here(&host_name(), std::process::id()));
        assert!(!gone_here("another-machine", u32::MAX));
    }
}
