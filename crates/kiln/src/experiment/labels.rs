//! The labels on every container and network kiln creates (`dev.kiln.*`), so that any later
//! kiln process — `gc` after a crash included — finds them, their experiment and their owner.

use std::collections::BTreeMap;
use std::time::SystemTime;

/// `dev.kiln.managed=true` on everything kiln creates.
pub const MANAGED: &str = "dev.kiln.managed";
/// The experiment's id.
pub const EXPERIMENT: &str = "dev.kiln.experiment";
/// The test's name.
pub const TEST: &str = "dev.kiln.test";
/// The service's name (containers).
pub const SERVICE: &str = "dev.kiln.service";
/// `<host>:<pid>:<process start>` of the process that owns it.
pub const OWNER: &str = "dev.kiln.owner";
/// When it was created (RFC 3339, UTC).
pub const CREATED: &str = "dev.kiln.created";
/// The kiln version that created it.
pub const VERSION: &str = "dev.kiln.version";
/// A network's subnet (CIDR), when kiln chose it.
pub const SUBNET: &str = "dev.kiln.subnet";
/// `true` when `--keep` asked to leave it in place (`gc` respects it).
pub const KEEP: &str = "dev.kiln.keep";

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

/// The labels of a resource of `experiment` (for `test` and `service`, when given).
pub fn labels(
    experiment: &str,
    test: Option<&str>,
    service: Option<&str>,
    owner: &Owner,
    created: SystemTime,
) -> BTreeMap<String, String> {
    let mut labels = BTreeMap::from([
        (MANAGED.to_owned(), "true".to_owned()),
        (EXPERIMENT.to_owned(), experiment.to_owned()),
        (OWNER.to_owned(), owner.label()),
        (CREATED.to_owned(), rfc3339(created)),
        (VERSION.to_owned(), crate::VERSION.to_owned()),
    ]);
    if let Some(test) = test {
        labels.insert(TEST.to_owned(), test.to_owned());
    }
    if let Some(service) = service {
        labels.insert(SERVICE.to_owned(), service.to_owned());
    }
    labels
}

/// `time` as RFC 3339 in UTC, to the second (`2026-12-06T21:33:00Z`).
pub fn rfc3339(time: SystemTime) -> String {
    let seconds = time
        .duration_since(SystemTime::UNIX_EPOCH)
        .map_or(0, |elapsed| elapsed.as_secs());
    let at = time::OffsetDateTime::from_unix_timestamp(i64::try_from(seconds).unwrap_or(0))
        .unwrap_or(time::OffsetDateTime::UNIX_EPOCH);
    at.format(&time::format_description::well_known::Rfc3339)
        .unwrap_or_else(|_| seconds.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;
    use std::time::Duration;

    #[test]
    fn every_label_is_there() {
        let owner = Owner {
            host: "ci-7".to_owned(),
            pid: 42,
            started: 1_700_000_000,
        };
        let created = SystemTime::UNIX_EPOCH + Duration::from_secs(1_796_600_000);
        let labels = labels(
            "20261206T213300Z-interop-a1b2",
            Some("handshake"),
            Some("server"),
            &owner,
            created,
        );
        assert_eq!(labels[MANAGED], "true");
        assert_eq!(labels[EXPERIMENT], "20261206T213300Z-interop-a1b2");
        assert_eq!(labels[TEST], "handshake");
        assert_eq!(labels[SERVICE], "server");
        assert_eq!(labels[OWNER], "ci-7:42:1700000000");
        assert_eq!(labels[CREATED], "2026-12-06T23:33:20Z");
        assert_eq!(labels[VERSION], crate::VERSION);
    }
}
