//! The `NetworkRuntime` trait: creating networks, attaching containers to them, listing and
//! removing them, and the values it trades (`NetworkSpec` in, `NetworkDetails` out).

use std::collections::BTreeMap;
use std::fmt::Debug;
use std::net::Ipv4Addr;
use std::sync::Arc;

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use crate::error::Result;
use crate::resource::{ContainerId, LabelFilter, NetworkId};

/// Everything a network is created with.
///
/// `#[non_exhaustive]`: made with [`NetworkSpec::new`] and the builder methods.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[non_exhaustive]
pub struct NetworkSpec {
    /// The network's name.
    pub name: String,
    /// The driver; `None`: the daemon's default (`bridge`).
    pub driver: Option<String>,
    /// The IPv4 subnet (CIDR, `10.213.4.0/24`); `None`: the daemon picks one.
    pub subnet: Option<String>,
    /// The gateway, inside the subnet; `None`: the daemon picks (the first address).
    pub gateway: Option<Ipv4Addr>,
    /// Whether the network is cut off from the outside (containers reach only each other).
    pub internal: bool,
    /// Labels.
    pub labels: BTreeMap<String, String>,
}

impl NetworkSpec {
    /// A network `name` with the default driver, a subnet the daemon picks, not internal.
    pub fn new(name: impl Into<String>) -> Self {
        NetworkSpec {
            name: name.into(),
            driver: None,
            subnet: None,
            gateway: None,
            internal: false,
            labels: BTreeMap::new(),
        }
    }

    /// Uses the driver `driver`.
    pub fn driver(mut self, driver: impl Into<String>) -> Self {
        self.driver = Some(driver.into());
        self
    }

    /// Uses the subnet `cidr`.
    pub fn subnet(mut self, cidr: impl Into<String>) -> Self {
        self.subnet = Some(cidr.into());
        self
    }

    /// Uses the gateway `address`.
    pub fn gateway(mut self, address: Ipv4Addr) -> Self {
        self.gateway = Some(address);
        self
    }

    /// Cuts the network off from the outside (or not).
    pub fn internal(mut self, internal: bool) -> Self {
        self.internal = internal;
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
}

/// What the engine knows about one network.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct NetworkDetails {
    /// Its id.
    pub id: NetworkId,
    /// Its name.
    pub name: String,
    /// Its driver (`bridge`, `host`, `null`, …).
    pub driver: String,
    /// Its subnets (CIDR), IPv6 ones included.
    pub subnets: Vec<String>,
    /// Its gateways, in the order of the subnets that have one.
    pub gateways: Vec<String>,
    /// Whether it is cut off from the outside.
    pub internal: bool,
    /// Its labels.
    pub labels: BTreeMap<String, String>,
    /// The containers attached to it.
    pub containers: Vec<ContainerId>,
}

/// What [`NetworkRuntime::remove_network`] did.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum NetworkRemoval {
    /// The network was there and is gone.
    Removed,
    /// There was no such network (nothing to do).
    NotFound,
    /// Containers are still attached; the network stays.
    InUse,
}

/// An engine that manages networks.
///
/// Object safe: upper layers hold an `Arc<dyn NetworkRuntime>`. An absent network is
/// [`Error::NetworkNotFound`](crate::Error::NetworkNotFound) except where the answer says
/// otherwise (`inspect_network`: `None`, `remove_network`: [`NetworkRemoval::NotFound`]); an
/// engine that cannot be reached is [`Error::Unreachable`](crate::Error::Unreachable).
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait NetworkRuntime: Send + Sync + Debug + 'static {
    /// Creates a network. Fails with
    /// [`Error::NetworkNameConflict`](crate::Error::NetworkNameConflict) when the name is taken
    /// and [`Error::PoolOverlap`](crate::Error::PoolOverlap) when the subnet overlaps one in use.
    async fn create_network(&self, spec: NetworkSpec) -> Result<NetworkId>;

    /// Attaches a container to a network, answering to `aliases` there too, at `ipv4` when given
    /// (the network needs a subnet of its own for that).
    async fn connect(
        &self,
        network: &NetworkId,
        container: &ContainerId,
        aliases: Vec<String>,
        ipv4: Option<Ipv4Addr>,
    ) -> Result<()>;

    /// Detaches a container from a network; `force` also when the container is not running.
    async fn disconnect(
        &self,
        network: &NetworkId,
        container: &ContainerId,
        force: bool,
    ) -> Result<()>;

    /// Looks a network up by name or id; `Ok(None)` when there is no such network.
    async fn inspect_network(&self, name_or_id: &str) -> Result<Option<NetworkDetails>>;

    /// Every network whose labels match `filter`: with the empty filter, every network of the
    /// engine, those kiln did not create included.
    async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkDetails>>;

    /// Removes a network, unless containers are attached to it.
    async fn remove_network(&self, id: &NetworkId) -> Result<NetworkRemoval>;
}

/// A shared network runtime handle.
pub type DynNetworkRuntime = Arc<dyn NetworkRuntime>;

/// Forwards every method to the runtime behind a pointer (`Arc<R>`, `Box<R>`, either of
/// `dyn NetworkRuntime`), so that a shared or boxed runtime is a runtime.
macro_rules! forward_network_runtime {
    ($pointer:ident) => {
        #[async_trait]
        impl<R: NetworkRuntime + ?Sized> NetworkRuntime for $pointer<R> {
            async fn create_network(&self, spec: NetworkSpec) -> Result<NetworkId> {
                (**self).create_network(spec).await
            }

            async fn connect(
                &self,
                network: &NetworkId,
                container: &ContainerId,
                aliases: Vec<String>,
                ipv4: Option<Ipv4Addr>,
            ) -> Result<()> {
                (**self).connect(network, container, aliases, ipv4).await
            }

            async fn disconnect(
                &self,
                network: &NetworkId,
                container: &ContainerId,
                force: bool,
            ) -> Result<()> {
                (**self).disconnect(network, container, force).await
            }

            async fn inspect_network(&self, name_or_id: &str) -> Result<Option<NetworkDetails>> {
                (**self).inspect_network(name_or_id).await
            }

            async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkDetails>> {
                (**self).list_networks(filter).await
            }

            async fn remove_network(&self, id: &NetworkId) -> Result<NetworkRemoval> {
                (**self).remove_network(id).await
            }
        }
    };
}

forward_network_runtime!(Arc);
forward_network_runtime!(Box);
