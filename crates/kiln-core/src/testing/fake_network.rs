//! The networks of [`FakeRuntime`]: IPv4 subnets that refuse to overlap as the daemon's do,
//! addresses handed out in order, names resolved between containers of a network.

use std::collections::BTreeMap;
use std::net::Ipv4Addr;

use async_trait::async_trait;
use sha2::{Digest as _, Sha256};

use crate::container::ContainerState;
use crate::error::{Error, Result};
use crate::network::{NetworkDetails, NetworkRemoval, NetworkRuntime, NetworkSpec};
use crate::resource::{ContainerId, LabelFilter, NetworkId};
use crate::testing::fake_state::{Endpoint, RuntimeState};
use crate::testing::runtime::FakeRuntime;

/// The daemon's answer to an overlapping subnet.
pub const POOL_OVERLAP_MESSAGE: &str = "Pool overlaps with other one on this address space";

/// An IPv4 subnet.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Cidr {
    base: u32,
    prefix: u8,
}

impl Cidr {
    /// Parses `a.b.c.d/n`; the host bits are cleared.
    pub(crate) fn parse(text: &str) -> Option<Cidr> {
        let (address, prefix) = text.split_once('/')?;
        let address: Ipv4Addr = address.parse().ok()?;
        let prefix: u8 = prefix.parse().ok().filter(|prefix| *prefix <= 32)?;
        Some(Cidr {
            base: u32::from(address) & Self::mask(prefix),
            prefix,
        })
    }

    fn mask(prefix: u8) -> u32 {
        u32::MAX.checked_shl(32 - u32::from(prefix)).unwrap_or(0)
    }

    fn last(self) -> u32 {
        self.base | !Self::mask(self.prefix)
    }

    pub(crate) fn overlaps(self, other: Cidr) -> bool {
        self.base <= other.last() && other.base <= self.last()
    }

    pub(crate) fn contains(self, address: Ipv4Addr) -> bool {
        u32::from(address) & Self::mask(self.prefix) == self.base
    }

    /// The first address after the network's own: the default gateway.
    fn first_host(self) -> Ipv4Addr {
        Ipv4Addr::from(self.base.saturating_add(1))
    }

    /// The usable addresses (neither the network's nor the broadcast address).
    fn hosts(self) -> impl Iterator<Item = Ipv4Addr> {
        (self.base.saturating_add(1)..self.last()).map(Ipv4Addr::from)
    }
}

impl std::fmt::Display for Cidr {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}/{}", Ipv4Addr::from(self.base), self.prefix)
    }
}

/// A fake network.
#[derive(Debug, Clone)]
pub(crate) struct FakeNetwork {
    pub(crate) id: NetworkId,
    pub(crate) name: String,
    driver: String,
    subnet: Option<Cidr>,
    gateway: Option<Ipv4Addr>,
    internal: bool,
    labels: BTreeMap<String, String>,
}

impl FakeNetwork {
    fn new(id: NetworkId, spec: NetworkSpec, subnet: Option<Cidr>) -> Self {
        FakeNetwork {
            id,
            gateway: spec.gateway.or_else(|| subnet.map(Cidr::first_host)),
            name: spec.name,
            driver: spec.driver.unwrap_or_else(|| "bridge".to_owned()),
            subnet,
            internal: spec.internal,
            labels: spec.labels,
        }
    }
}

/// The daemon's predefined networks: `bridge` (172.17.0.0/16), `host` and `none`.
pub(crate) fn default_networks() -> Vec<FakeNetwork> {
    let id = |name: &str| NetworkId::parse(&hex::encode(Sha256::digest(name))).ok();
    let bridge = NetworkSpec::new("bridge");
    let host = NetworkSpec::new("host").driver("host");
    let none = NetworkSpec::new("none").driver("null");
    [
        (bridge, Cidr::parse("172.17.0.0/16")),
        (host, None),
        (none, None),
    ]
    .into_iter()
    .filter_map(|(spec, subnet)| Some(FakeNetwork::new(id(&spec.name)?, spec, subnet)))
    .collect()
}

/// Where the daemon picks subnets from: 172.18–31.0.0/16, then 192.168.0–240.0/20.
fn daemon_pool() -> impl Iterator<Item = Cidr> {
    let wide = (18..=31).map(|b| Cidr {
        base: u32::from(Ipv4Addr::new(172, b, 0, 0)),
        prefix: 16,
    });
    let narrow = (0..16).map(|c| Cidr {
        base: u32::from(Ipv4Addr::new(192, 168, c * 16, 0)),
        prefix: 20,
    });
    wide.chain(narrow)
}

impl RuntimeState {
    /// The network named `name_or_id` (its name, its id, or a unique prefix of its id).
    pub(crate) fn find_network(&self, name_or_id: &str) -> Result<NetworkId> {
        let not_found = || Error::NetworkNotFound {
            network: name_or_id.to_owned(),
        };
        if name_or_id.is_empty() {
            return Err(not_found());
        }
        if let Some(network) = self.networks.values().find(|n| n.name == name_or_id) {
            return Ok(network.id.clone());
        }
        let mut matching = self
            .networks
            .keys()
            .filter(|id| id.as_str().starts_with(name_or_id));
        match (matching.next(), matching.next()) {
            (Some(id), None) => Ok(id.clone()),
            _ => Err(not_found()),
        }
    }

    /// `wanted` when it is free on `network`, else the first free address (none when the
    /// network has no subnet).
    pub(crate) fn assign_address(
        &self,
        network: &NetworkId,
        wanted: Option<Ipv4Addr>,
    ) -> Result<Option<Ipv4Addr>> {
        let Some(fake) = self.networks.get(network) else {
            return Err(Error::NetworkNotFound {
                network: network.to_string(),
            });
        };
        let Some(subnet) = fake.subnet else {
            return match wanted {
                Some(address) => Err(Error::invalid_input(
                    "container address",
                    address.to_string(),
                    format!(
                        "an address on a network with a subnet; {} has none",
                        fake.name
                    ),
                )),
                None => Ok(None),
            };
        };
        let taken: Vec<Ipv4Addr> = self
            .containers
            .values()
            .filter_map(|c| c.endpoints.get(network)?.ipv4)
            .chain(fake.gateway)
            .collect();
        match wanted {
            Some(address) if !subnet.contains(address) => Err(Error::invalid_input(
                "container address",
                address.to_string(),
                format!("an address in {subnet}, the subnet of {}", fake.name),
            )),
            Some(address) if taken.contains(&address) => Err(Error::engine(
                format!("attach a container to {}", fake.name),
                format!("Address already in use: {address}"),
            )),
            Some(address) => Ok(Some(address)),
            None => Ok(subnet.hosts().find(|address| !taken.contains(address))),
        }
    }

    /// Whether `name` is a running container or one of its aliases on a user-defined network
    /// of `endpoints` (the default bridge has no name resolution).
    pub(crate) fn resolves(&self, endpoints: &BTreeMap<NetworkId, Endpoint>, name: &str) -> bool {
        endpoints.keys().any(|network| {
            let user_defined = self
                .networks
                .get(network)
                .is_some_and(|n| !["bridge", "host", "none"].contains(&n.name.as_str()));
            user_defined
                && self.containers.values().any(|other| {
                    other.state == ContainerState::Running
                        && other.endpoints.get(network).is_some_and(|endpoint| {
                            other.spec.name == name || endpoint.aliases.iter().any(|a| a == name)
                        })
                })
        })
    }

    fn network_details(&self, network: &FakeNetwork) -> NetworkDetails {
        NetworkDetails {
            id: network.id.clone(),
            name: network.name.clone(),
            driver: network.driver.clone(),
            subnets: network.subnet.iter().map(ToString::to_string).collect(),
            gateways: network.gateway.iter().map(ToString::to_string).collect(),
            internal: network.internal,
            labels: network.labels.clone(),
            // As on the daemon, only running containers have an endpoint.
            containers: self
                .containers
                .values()
                .filter(|c| {
                    c.state == ContainerState::Running && c.endpoints.contains_key(&network.id)
                })
                .map(|c| c.id.clone())
                .collect(),
        }
    }

    fn pick_subnet(&self, spec: &NetworkSpec) -> Result<Option<Cidr>> {
        let in_use: Vec<Cidr> = self.networks.values().filter_map(|n| n.subnet).collect();
        let Some(text) = &spec.subnet else {
            if spec.driver.as_deref().is_some_and(|d| d != "bridge") {
                return Ok(None);
            }
            return daemon_pool()
                .find(|candidate| !in_use.iter().any(|used| used.overlaps(*candidate)))
                .map(Some)
                .ok_or_else(|| Error::PoolOverlap {
                    subnet: String::new(),
                    message: "could not find an available, non-overlapping IPv4 address pool"
                        .into(),
                });
        };
        let subnet = Cidr::parse(text).ok_or_else(|| {
            Error::invalid_input("subnet", text.clone(), "an IPv4 CIDR such as 10.0.0.0/24")
        })?;
        if in_use.iter().any(|used| used.overlaps(subnet)) {
            return Err(Error::PoolOverlap {
                subnet: text.clone(),
                message: POOL_OVERLAP_MESSAGE.into(),
            });
        }
        Ok(Some(subnet))
    }
}

#[async_trait]
impl NetworkRuntime for FakeRuntime {
    async fn create_network(&self, spec: NetworkSpec) -> Result<NetworkId> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        if let Some(left) = state.faults.overlap_in {
            state.faults.overlap_in = left.checked_sub(1).filter(|left| *left > 0);
            if left == 1 {
                return Err(Error::PoolOverlap {
                    subnet: spec.subnet.unwrap_or_default(),
                    message: POOL_OVERLAP_MESSAGE.into(),
                });
            }
        }
        if state.networks.values().any(|n| n.name == spec.name) {
            return Err(Error::NetworkNameConflict { name: spec.name });
        }
        let subnet = state.pick_subnet(&spec)?;
        if let (Some(gateway), Some(subnet)) = (spec.gateway, subnet)
            && !subnet.contains(gateway)
        {
            return Err(Error::invalid_input(
                "gateway",
                gateway.to_string(),
                format!("an address in the subnet {subnet}"),
            ));
        }
        let id = NetworkId::parse(&state.new_id(&spec.name))?;
        let network = FakeNetwork::new(id.clone(), spec, subnet);
        state.networks.insert(id.clone(), network);
        Ok(id)
    }

    async fn connect(
        &self,
        network: &NetworkId,
        container: &ContainerId,
        aliases: Vec<String>,
        ipv4: Option<Ipv4Addr>,
    ) -> Result<()> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        let name = match state.networks.get(network) {
            Some(fake) => fake.name.clone(),
            None => {
                return Err(Error::NetworkNotFound {
                    network: network.to_string(),
                });
            }
        };
        if state.container(container)?.endpoints.contains_key(network) {
            return Err(Error::engine(
                format!("connect {container} to {name}"),
                format!("endpoint with name {container} already exists in network {name}"),
            ));
        }
        let ipv4 = state.assign_address(network, ipv4)?;
        state
            .container(container)?
            .endpoints
            .insert(network.clone(), Endpoint { aliases, ipv4 });
        self.shared.notify(&mut state);
        Ok(())
    }

    async fn disconnect(
        &self,
        network: &NetworkId,
        container: &ContainerId,
        _force: bool,
    ) -> Result<()> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        if !state.networks.contains_key(network) {
            return Err(Error::NetworkNotFound {
                network: network.to_string(),
            });
        }
        if state
            .container(container)?
            .endpoints
            .remove(network)
            .is_none()
        {
            return Err(Error::engine(
                format!("disconnect {container} from {network}"),
                format!("container {container} is not connected to network {network}"),
            ));
        }
        self.shared.notify(&mut state);
        Ok(())
    }

    async fn inspect_network(&self, name_or_id: &str) -> Result<Option<NetworkDetails>> {
        let state = self.shared.lock();
        state.check_reachable()?;
        Ok(state
            .find_network(name_or_id)
            .ok()
            .and_then(|id| state.networks.get(&id))
            .map(|network| state.network_details(network)))
    }

    async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkDetails>> {
        let state = self.shared.lock();
        state.check_reachable()?;
        Ok(state
            .networks
            .values()
            .filter(|network| filter.matches(&network.labels))
            .map(|network| state.network_details(network))
            .collect())
    }

    async fn remove_network(&self, id: &NetworkId) -> Result<NetworkRemoval> {
        let mut state = self.shared.lock();
        state.check_reachable()?;
        let Some(network) = state.networks.get(id) else {
            return Ok(NetworkRemoval::NotFound);
        };
        if !state.network_details(network).containers.is_empty() {
            return Ok(NetworkRemoval::InUse);
        }
        state.networks.remove(id);
        for container in state.containers.values_mut() {
            container.endpoints.remove(id);
        }
        self.shared.notify(&mut state);
        Ok(NetworkRemoval::Removed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn subnets_overlap_when_they_share_an_address() {
        let cidr = |text| Cidr::parse(text).unwrap();
        assert!(cidr("10.0.0.0/16").overlaps(cidr("10.0.5.0/24")));
        assert!(cidr("10.0.5.0/24").overlaps(cidr("10.0.0.0/16")));
        assert!(!cidr("10.0.4.0/24").overlaps(cidr("10.0.5.0/24")));
        assert!(cidr("0.0.0.0/0").overlaps(cidr("192.168.1.0/24")));
        assert_eq!(cidr("10.0.5.7/24").to_string(), "10.0.5.0/24");
        assert!(cidr("10.0.5.0/24").contains(Ipv4Addr::new(10, 0, 5, 200)));
        assert_eq!(Cidr::parse("10.0.0.0/33"), None);
        assert_eq!(Cidr::parse("10.0.0/24"), None);
        assert_eq!(cidr("10.0.5.0/30").hosts().count(), 2);
    }
}
