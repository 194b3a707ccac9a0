//! The owner of an experiment's resources (`dev.kiln.owner`, with the other `dev.kiln.*`
//! labels of `kiln_core::managed`): host, pid and start time, so that a reused pid is told apart.

use std::time::SystemTime;

/// The process that owns an experiment's resources.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Owner {
    /// The host's name.
    pub host: String,
    /// The process id.
    pub pid: u32,
    /// When the process started (seconds since the epoch), telling a reused pid apart.
    pub started: u64,
}

impl Owner {
    /// This process.
    pub fn this_process() -> Owner {
        let host = std::fs::read_to_string("/proc/sys/kernel/hostname")
            .map(|name| name.trim().to_owned())
            .unwrap_or_else(|_| "localhost".to_owned());
        let started = SystemTime::now()
            .duration_since(SystemTime::UNIX_EPOCH)
            .map_or(0, |elapsed| elapsed.as_secs());
        Owner {
            host,
            pid: std::process::id(),
            started,
        }
    }

    /// `host:pid:started`, the label's value.
    pub fn label(&self) -> String {
        format!("{}:{}:{}", self.host, self.pid, self.started)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_owner_label_tells_host_pid_and_start() {
        let owner = Owner {
            host: "ci-7".to_owned(),
            pid: 42,
            started: 1_700_000_000,
        };
        assert_eq!(owner.label(), "ci-7:42:1700000000");
        assert_eq!(Owner::this_process().pid, std::process::id());
    }
}
