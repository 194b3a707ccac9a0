//! `ContainerSpec`: everything a container is created with — image, command, environment,
//! labels, network, mounts, memory limit, terminal, ports.

use std::collections::BTreeMap;
use std::fmt::{self, Debug};
use std::net::Ipv4Addr;
use std::path::PathBuf;

use serde::{Deserialize, Serialize};

/// A transport protocol of a published port.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, Hash, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Protocol {
    /// TCP.
    Tcp,
    /// UDP.
    Udp,
}

impl Protocol {
    /// `tcp` or `udp`, as Docker writes it after a port (`4443/udp`).
    pub fn as_str(self) -> &'static str {
        match self {
            Protocol::Tcp => "tcp",
            Protocol::Udp => "udp",
        }
    }
}

impl fmt::Display for Protocol {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.as_str())
    }
}

/// A container port to publish on the host (made with [`PortSpec::tcp`] or [`PortSpec::udp`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct PortSpec {
    /// The port inside the container.
    pub container: u16,
    /// Its protocol.
    pub protocol: Protocol,
    /// The host port; `None` lets the daemon pick a free one (read it back with
    /// [`ContainerDetails::host_port`](crate::ContainerDetails::host_port) once it runs).
    pub host: Option<u16>,
}

impl PortSpec {
    /// A TCP port published on an ephemeral host port.
    pub fn tcp(container: u16) -> Self {
        PortSpec {
            container,
            protocol: Protocol::Tcp,
            host: None,
        }
    }

    /// A UDP port published on an ephemeral host port.
    pub fn udp(container: u16) -> Self {
        PortSpec {
            protocol: Protocol::Udp,
            ..PortSpec::tcp(container)
        }
    }

    /// Publishes on the fixed host port `host` instead.
    pub fn on_host(mut self, host: u16) -> Self {
        self.host = Some(host);
        self
    }
}

/// A host directory or file bind-mounted into the container (made with [`Mount::bind`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct Mount {
    /// The host path (absolute).
    pub source: PathBuf,
    /// The path inside the container.
    pub target: String,
    /// Whether the container may only read it.
    pub read_only: bool,
}

impl Mount {
    /// Mounts `source` at `target`, writable.
    pub fn bind(source: impl Into<PathBuf>, target: impl Into<String>) -> Self {
        Mount {
            source: source.into(),
            target: target.into(),
            read_only: false,
        }
    }

    /// Makes the mount read-only (or not).
    pub fn read_only(mut self, read_only: bool) -> Self {
        self.read_only = read_only;
        self
    }
}

/// The network a container joins when it is created (made with [`NetworkAttachment::new`]).
#[derive(Debug, Clone, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkAttachment {
    /// The network's name or id.
    pub network: String,
    /// Further names the container answers to on that network.
    pub aliases: Vec<String>,
    /// A fixed address (the network needs a subnet of its own); `None`: the daemon picks.
    pub ipv4: Option<Ipv4Addr>,
}

impl NetworkAttachment {
    /// Joins `network` without aliases, at an address the daemon picks.
    pub fn new(network: impl Into<String>) -> Self {
        NetworkAttachment {
            network: network.into(),
            aliases: Vec::new(),
            ipv4: None,
        }
    }

    /// Adds an alias.
    pub fn alias(mut self, alias: impl Into<String>) -> Self {
        self.aliases.push(alias.into());
        self
    }

    /// Fixes the container's address.
    pub fn ipv4(mut self, address: Ipv4Addr) -> Self {
        self.ipv4 = Some(address);
        self
    }
}

/// Everything a container is created with.
///
/// `#[non_exhaustive]`: made with [`ContainerSpec::new`] and the builder methods. `Debug` leaves
/// the environment's values out: some may be secrets.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct ContainerSpec {
    /// The container's name (`[a-zA-Z0-9][a-zA-Z0-9_.-]+`).
    pub name: String,
    /// The image: a reference or an image id.
    pub image: String,
    /// The argv; empty: the image's default command.
    pub command: Vec<String>,
    /// Replaces the image's entrypoint when set (`Some(vec![])` clears it).
    pub entrypoint: Option<Vec<String>>,
    /// Environment variables.
    pub env: BTreeMap<String, String>,
    /// Labels.
    pub labels: BTreeMap<String, String>,
    /// The network joined at creation; `None`: the daemon's default network.
    pub network: Option<NetworkAttachment>,
    /// Bind mounts.
    pub mounts: Vec<Mount>,
    /// The memory limit in bytes; swap is limited to the same, so exceeding it is an OOM kill.
    pub memory_bytes: Option<u64>,
    /// Whether the container gets a terminal (its output is then one console stream).
    pub tty: bool,
    /// Ports published on the host.
    pub ports: Vec<PortSpec>,
    /// The working directory; `None`: the image's.
    pub working_dir: Option<String>,
}

impl ContainerSpec {
    /// A container `name` of `image`, running the image's default command, nothing else set.
    pub fn new(name: impl Into<String>, image: impl Into<String>) -> Self {
        ContainerSpec {
            name: name.into(),
            image: image.into(),
            command: Vec::new(),
            entrypoint: None,
            env: BTreeMap::new(),
            labels: BTreeMap::new(),
            network: None,
            mounts: Vec::new(),
            memory_bytes: None,
            tty: false,
            ports: Vec::new(),
            working_dir: None,
        }
    }

    /// Runs `argv` instead of the image's command.
    pub fn command<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.command = argv.into_iter().map(Into::into).collect();
        self
    }

    /// Replaces the image's entrypoint.
    pub fn entrypoint<S: Into<String>>(mut self, argv: impl IntoIterator<Item = S>) -> Self {
        self.entrypoint = Some(argv.into_iter().map(Into::into).collect());
        self
    }

    /// Sets the environment variable `key`.
    pub fn env(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.env.insert(key.into(), value.into());
        self
    }

    /// Sets the label `key`.
    pub fn label(mut self, key: impl Into<String>, value: impl Into<String>) -> Self {
        self.labels.insert(key.into(), value.into());
        self
    }

    /// Sets every label of `labels`.
    pub fn labels(mut self, labels: BTreeMap<String, String>) -> Self {
        self.labels.extend(labels);
        self
    }

    /// Joins `attachment`'s network at creation.
    pub fn network(mut self, attachment: NetworkAttachment) -> Self {
        self.network = Some(attachment);
        self
    }

    /// Adds a bind mount.
    pub fn mount(mut self, mount: Mount) -> Self {
        self.mounts.push(mount);
        self
    }

    /// Limits memory (and swap) to `bytes`.
    pub fn memory_bytes(mut self, bytes: u64) -> Self {
        self.memory_bytes = Some(bytes);
        self
    }

    /// Gives the container a terminal (or not).
    pub fn tty(mut self, tty: bool) -> Self {
        self.tty = tty;
        self
    }

    /// Publishes a port.
    pub fn port(mut self, port: PortSpec) -> Self {
        self.ports.push(port);
        self
    }

    /// Runs in `dir`.
    pub fn working_dir(mut self, dir: impl Into<String>) -> Self {
        self.working_dir = Some(dir.into());
        self
    }
}

impl Debug for ContainerSpec {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ContainerSpec")
            .field("name", &self.name)
            .field("image", &self.image)
            .field("command", &self.command)
            .field("entrypoint", &self.entrypoint)
            .field("env", &self.env.keys().collect::<Vec<_>>())
            .field("labels", &self.labels)
            .field("network", &self.network)
            .field("mounts", &self.mounts)
            .field("memory_bytes", &self.memory_bytes)
            .field("tty", &self.tty)
            .field("ports", &self.ports)
            .field("working_dir", &self.working_dir)
            .finish()
    }
}
