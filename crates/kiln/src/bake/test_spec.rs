//! The tests a bake file declares (`[[test]]`): services run as containers on a network of
//! their own, in dependency order, until the verdict services exit.

use std::collections::BTreeMap;
use std::time::Duration;

use super::model::CellId;

/// One `[[test]]`.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct TestSpec {
    /// Its name, unique in the file.
    pub name: String,
    /// How long its verdict services may run before the test fails as timed out.
    pub timeout: Duration,
    /// Where its network's subnet comes from.
    pub subnet: SubnetChoice,
    /// Its services, each after those it depends on.
    pub services: Vec<ServiceSpec>,
}

impl TestSpec {
    /// The bake cells its services run (built or reused before it runs).
    pub fn cells(&self) -> Vec<&CellId> {
        self.services
            .iter()
            .filter_map(|service| match &service.image {
                ServiceImage::Cell(cell) => Some(cell),
                ServiceImage::Reference(_) => None,
            })
            .collect()
    }
}

/// How a test's network gets its subnet.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum SubnetChoice {
    /// The daemon chooses (the default).
    Daemon,
    /// A free block of kiln's pool, chosen under a host-wide lock.
    Pool,
    /// This subnet (CIDR).
    Fixed(String),
}

/// What a service runs.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ServiceImage {
    /// A cell of the file, built or reused first.
    Cell(CellId),
    /// Any image reference, used as it is (pulled only when missing).
    Reference(String),
}

/// When a service counts as ready for those that depend on it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Readiness {
    /// As soon as it started.
    Started,
    /// When a line of its output contains this text.
    Log(String),
    /// When this command, run in it, exits 0.
    Command(Vec<String>),
}

/// A container port published on the host: on an ephemeral port unless `host` fixes one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServicePort {
    /// The port in the container.
    pub container: u16,
    /// The host port; ephemeral when `None`.
    pub host: Option<u16>,
}

/// One service of a test.
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct ServiceSpec {
    /// Its name, unique in the test; other services reach it by this name on the network.
    pub name: String,
    /// What it runs.
    pub image: ServiceImage,
    /// Its argv; the image's default when empty.
    pub command: Vec<String>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// The services started (and ready) before it.
    pub depends_on: Vec<String>,
    /// When it is ready.
    pub ready: Readiness,
    /// Whether its exit decides the test.
    pub verdict: bool,
    /// Container ports published on the host.
    pub ports: Vec<ServicePort>,
    /// A terminal: one console log instead of stdout and stderr.
    pub tty: bool,
    /// A memory limit in bytes.
    pub memory_bytes: Option<u64>,
}
