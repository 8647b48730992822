//! Processes of this machine: its name, and whether a process that left a mark (a lease, a
//! rollout's owner) still runs.

use std::path::Path;

/// This machine's name, as a lease or a rollout's owner records it.
pub fn host_name() -> String {
    std::fs::read_to_string("/proc/sys/kernel/hostname")
        .or_else(|_| std::fs::read_to_string("/etc/hostname"))
        .map(|h| h.trim().to_string())
        .ok()
        .filter(|h| !h.is_empty())
        .or_else(|| std::env::var("HOSTNAME").ok())
        .unwrap_or_else(|| "unknown".into())
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
