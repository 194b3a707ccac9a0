//! The labels and names kiln puts on every container and network it creates, so that any kiln
//! process can find them again (`dev.kiln.*`, `kiln-<experiment>-<test>-<service>`).
//!
//! Experiment labels go on containers and networks only, never on images: they would change
//! the images' fingerprints.

use std::collections::BTreeMap;

use crate::error::{Error, Result};
use crate::resource::LabelFilter;

/// `true` on everything kiln created.
pub const MANAGED: &str = "dev.kiln.managed";
/// The experiment's id.
pub const EXPERIMENT: &str = "dev.kiln.experiment";
/// The test's name.
pub const TEST: &str = "dev.kiln.test";
/// The service's name (containers only).
pub const SERVICE: &str = "dev.kiln.service";
/// The owning process: `<host>:<pid>:<process start time>`.
pub const OWNER: &str = "dev.kiln.owner";
/// When the resource was created (RFC 3339).
pub const CREATED: &str = "dev.kiln.created";
/// The kiln version that created it.
pub const VERSION: &str = "dev.kiln.version";
/// A network's subnet (CIDR), as kiln asked for it.
pub const SUBNET: &str = "dev.kiln.subnet";
/// `true` on resources `--keep` leaves in place; garbage collection respects it.
pub const KEEP: &str = "dev.kiln.keep";

/// Everything kiln created.
pub fn managed_filter() -> LabelFilter {
    LabelFilter::any().equals(MANAGED, "true")
}

/// Everything kiln created for `experiment`.
pub fn experiment_filter(experiment: &str) -> LabelFilter {
    managed_filter().equals(EXPERIMENT, experiment)
}

/// The labels every resource of one experiment carries.
///
/// `#[non_exhaustive]`: made with [`ResourceLabels::new`] and the builder methods.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ResourceLabels {
    /// The experiment's id.
    pub experiment: String,
    /// The test, if the resource belongs to one.
    pub test: Option<String>,
    /// The service, for a container.
    pub service: Option<String>,
    /// The owning process: `<host>:<pid>:<process start time>`.
    pub owner: String,
    /// The creation time (RFC 3339).
    pub created: String,
}

impl ResourceLabels {
    /// The labels of `experiment`, owned by `owner`, created at `created`.
    pub fn new(
        experiment: impl Into<String>,
        owner: impl Into<String>,
        created: impl Into<String>,
    ) -> Self {
        ResourceLabels {
            experiment: experiment.into(),
            test: None,
            service: None,
            owner: owner.into(),
            created: created.into(),
        }
    }

    /// For the test `test`.
    pub fn test(mut self, test: impl Into<String>) -> Self {
        self.test = Some(test.into());
        self
    }

    /// For the service `service`.
    pub fn service(mut self, service: impl Into<String>) -> Self {
        self.service = Some(service.into());
        self
    }

    /// The labels: managed, experiment, test and service (when set), owner, created, version.
    pub fn to_map(&self) -> BTreeMap<String, String> {
        let mut labels = BTreeMap::from([
            (MANAGED.to_owned(), "true".to_owned()),
            (EXPERIMENT.to_owned(), self.experiment.clone()),
            (OWNER.to_owned(), self.owner.clone()),
            (CREATED.to_owned(), self.created.clone()),
            (VERSION.to_owned(), env!("CARGO_PKG_VERSION").to_owned()),
        ]);
        if let Some(test) = &self.test {
            labels.insert(TEST.to_owned(), test.clone());
        }
        if let Some(service) = &self.service {
            labels.insert(SERVICE.to_owned(), service.clone());
        }
        labels
    }
}

/// `kiln-<experiment>-<test>-<service>`: a container's name, unique to its experiment.
///
/// # Errors
///
/// [`Error::InvalidInput`] naming the part that is empty or holds a character outside
/// `[a-zA-Z0-9_.-]`.
pub fn container_name(experiment: &str, test: &str, service: &str) -> Result<String> {
    check_part("experiment id", experiment)?;
    check_part("test name", test)?;
    check_part("service name", service)?;
    Ok(format!("kiln-{experiment}-{test}-{service}"))
}

/// `kiln-<experiment>-<test>`: the name of a test's network.
///
/// # Errors
///
/// As [`container_name`].
pub fn network_name(experiment: &str, test: &str) -> Result<String> {
    check_part("experiment id", experiment)?;
    check_part("test name", test)?;
    Ok(format!("kiln-{experiment}-{test}"))
}

/// Whether `value` may be part of a container name: Docker accepts `[a-zA-Z0-9][a-zA-Z0-9_.-]+`.
fn check_part(what: &'static str, value: &str) -> Result<()> {
    let valid = !value.is_empty()
        && value
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '-'));
    if valid {
        Ok(())
    } else {
        Err(Error::invalid_input(
            what,
            value,
            "letters, digits, '_', '.' or '-' (it becomes part of a container name)",
        ))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_carry_the_experiment() {
        assert_eq!(
            container_name("20260101-a1b2", "handshake", "server").unwrap(),
            "kiln-20260101-a1b2-handshake-server"
        );
        assert_eq!(
            network_name("e1", "handshake").unwrap(),
            "kiln-e1-handshake"
        );
        let error = container_name("e1", "hand shake", "server").unwrap_err();
        assert_eq!(error.kind(), crate::ErrorKind::InvalidInput);
        assert!(
            error.to_string().contains("test name \"hand shake\""),
            "{error}"
        );
        assert!(network_name("", "t").is_err());
    }

    #[test]
    fn labels_mark_the_resource_and_select_it() {
        let labels = ResourceLabels::new("e1", "host:42:1700000000", "2026-01-01T00:00:00Z")
            .test("handshake")
            .service("server")
            .to_map();
        assert_eq!(labels[MANAGED], "true");
        assert_eq!(labels[SERVICE], "server");
        assert_eq!(labels[VERSION], env!("CARGO_PKG_VERSION"));
        assert!(experiment_filter("e1").matches(&labels));
        assert!(!experiment_filter("e2").matches(&labels));
        let network = ResourceLabels::new("e1", "o", "c").to_map();
        assert!(!network.contains_key(TEST) && !network.contains_key(SERVICE));
        assert!(managed_filter().matches(&network));
    }
}
