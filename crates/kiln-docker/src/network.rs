//! `DockerEngine` as a [`NetworkRuntime`]: networks created, joined, left, inspected, listed and
//! removed through the Docker Engine API.

use std::net::Ipv4Addr;

use async_trait::async_trait;
use bollard::errors::Error as BollardError;
use bollard::models::{
    Ipam, IpamConfig, NetworkConnectRequest, NetworkCreateRequest, NetworkDisconnectRequest,
    NetworkInspect,
};
use bollard::query_parameters::ListNetworksOptionsBuilder;
use kiln_core::{
    ContainerId, Error, LabelFilter, NetworkDetails, NetworkId, NetworkRemoval, NetworkRuntime,
    NetworkSpec, Result,
};

use crate::container_model::endpoint_settings;
use crate::engine::DockerEngine;
use crate::runtime_errors::{About, Answer, answer_of};

/// A network id the daemon sent, checked.
fn network_id(operation: &str, id: &str) -> Result<NetworkId> {
    NetworkId::parse(id).map_err(|error| Error::engine(operation, error.to_string()))
}

/// The details of an inspected network.
fn details_from(inspect: NetworkInspect) -> Result<NetworkDetails> {
    let id = network_id("inspect a network", &inspect.id.unwrap_or_default())?;
    let configs = inspect
        .ipam
        .and_then(|ipam| ipam.config)
        .unwrap_or_default();
    let mut containers = inspect
        .containers
        .unwrap_or_default()
        .into_keys()
        // Load-balancer and service endpoints (`lb-…`, swarm) are not containers.
        .filter_map(|key| ContainerId::parse(&key).ok())
        .collect::<Vec<_>>();
    containers.sort();
    Ok(NetworkDetails {
        id,
        name: inspect.name.unwrap_or_default(),
        driver: inspect.driver.unwrap_or_default(),
        subnets: configs.iter().filter_map(|c| c.subnet.clone()).collect(),
        gateways: configs.iter().filter_map(|c| c.gateway.clone()).collect(),
        internal: inspect.internal.unwrap_or(false),
        labels: inspect.labels.unwrap_or_default().into_iter().collect(),
        containers,
    })
}

/// The request that creates `spec`'s network.
fn create_request(spec: &NetworkSpec) -> NetworkCreateRequest {
    let ipam = (spec.subnet.is_some() || spec.gateway.is_some()).then(|| Ipam {
        config: Some(vec![IpamConfig {
            subnet: spec.subnet.clone(),
            gateway: spec.gateway.map(|gateway| gateway.to_string()),
            ..IpamConfig::default()
        }]),
        ..Ipam::default()
    });
    NetworkCreateRequest {
        name: spec.name.clone(),
        driver: spec.driver.clone(),
        internal: Some(spec.internal),
        ipam,
        labels: Some(spec.labels.clone().into_iter().collect()),
        ..NetworkCreateRequest::default()
    }
}

#[async_trait]
impl NetworkRuntime for DockerEngine {
    async fn create_network(&self, spec: NetworkSpec) -> Result<NetworkId> {
        tracing::trace!(name = %spec.name, subnet = ?spec.subnet, "POST /networks/create");
        let docker = self.client().await?;
        let about = About::network(&spec.name).and_subnet(spec.subnet.as_deref());
        let created = docker
            .create_network(create_request(&spec))
            .await
            .map_err(|error| self.runtime_error("create", about, error))?;
        let id = network_id(&format!("create network {}", spec.name), &created.id)?;
        // Daemons before API 1.44 create a second network of the same name, with a warning
        // ("Network with name … already exists"): undo it, as later daemons refuse it.
        if created.warning.contains("already exists") {
            let _ = docker.remove_network(id.as_str()).await;
            return Err(Error::NetworkNameConflict { name: spec.name });
        }
        Ok(id)
    }

    async fn connect(
        &self,
        network: &NetworkId,
        container: &ContainerId,
        aliases: Vec<String>,
        ipv4: Option<Ipv4Addr>,
    ) -> Result<()> {
        tracing::trace!(network = %network.short(), container = %container.short(), "POST /networks/{{id}}/connect");
        // Daemons before API 1.44 attach a container that is not running to any network id,
        // existing or not: ask first.
        if self.inspect_network(network.as_str()).await?.is_none() {
            return Err(Error::NetworkNotFound {
                network: network.to_string(),
            });
        }
        let docker = self.client().await?;
        let request = NetworkConnectRequest {
            container: container.to_string(),
            endpoint_config: Some(endpoint_settings(&aliases, ipv4)),
        };
        let about = About::container(container.as_str()).and_network(Some(network.as_str()));
        docker
            .connect_network(network.as_str(), request)
            .await
            .map_err(|error| self.runtime_error("connect", about, error))
    }

    async fn disconnect(
        &self,
        network: &NetworkId,
        container: &ContainerId,
        force: bool,
    ) -> Result<()> {
        tracing::trace!(network = %network.short(), container = %container.short(), "POST /networks/{{id}}/disconnect");
        let docker = self.client().await?;
        let request = NetworkDisconnectRequest {
            container: container.to_string(),
            force: Some(force),
        };
        let about = About::container(container.as_str()).and_network(Some(network.as_str()));
        docker
            .disconnect_network(network.as_str(), request)
            .await
            .map_err(|error| self.runtime_error("disconnect", about, error))
    }

    async fn inspect_network(&self, name_or_id: &str) -> Result<Option<NetworkDetails>> {
        tracing::trace!(network = name_or_id, "GET /networks/{{id}}");
        let docker = self.client().await?;
        match docker.inspect_network(name_or_id, None).await {
            Ok(inspect) => details_from(inspect).map(Some),
            Err(BollardError::DockerResponseServerError {
                status_code: 404, ..
            }) => Ok(None),
            Err(error) => Err(self.runtime_error("inspect", About::network(name_or_id), error)),
        }
    }

    async fn list_networks(&self, filter: &LabelFilter) -> Result<Vec<NetworkDetails>> {
        tracing::trace!(%filter, "GET /networks");
        let docker = self.client().await?;
        let options = ListNetworksOptionsBuilder::default()
            .filters(&Self::label_filters(filter))
            .build();
        let listed = docker
            .list_networks(Some(options))
            .await
            .map_err(|error| self.runtime_error("list", About::network("networks"), error))?;
        // The list leaves out the attached containers: ask each network (one that went away
        // in between is left out).
        let mut networks = Vec::with_capacity(listed.len());
        for network in listed {
            let Some(id) = network.id else { continue };
            if let Some(details) = self.inspect_network(&id).await? {
                networks.push(details);
            }
        }
        Ok(networks)
    }

    async fn remove_network(&self, id: &NetworkId) -> Result<NetworkRemoval> {
        tracing::trace!(network = %id.short(), "DELETE /networks/{{id}}");
        let docker = self.client().await?;
        match docker.remove_network(id.as_str()).await {
            Ok(()) => Ok(NetworkRemoval::Removed),
            Err(error) => match answer_of(&error) {
                Some(Answer::NoSuchNetwork) => Ok(NetworkRemoval::NotFound),
                Some(Answer::ActiveEndpoints) => Ok(NetworkRemoval::InUse),
                _ if matches!(
                    error,
                    BollardError::DockerResponseServerError {
                        status_code: 404,
                        ..
                    }
                ) =>
                {
                    Ok(NetworkRemoval::NotFound)
                }
                _ => Err(self.runtime_error("remove", About::network(id.as_str()), error)),
            },
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_becomes_a_create_request() {
        let spec = NetworkSpec::new("kiln-e-t")
            .subnet("10.213.4.0/24")
            .gateway(Ipv4Addr::new(10, 213, 4, 1))
            .internal(true)
            .label("dev.kiln.subnet", "10.213.4.0/24");
        let json = serde_json::to_value(create_request(&spec)).unwrap();
        assert_eq!(json["Name"], "kiln-e-t");
        assert_eq!(json["Internal"], true);
        assert_eq!(json["IPAM"]["Config"][0]["Subnet"], "10.213.4.0/24");
        assert_eq!(json["IPAM"]["Config"][0]["Gateway"], "10.213.4.1");
        assert_eq!(json["Labels"]["dev.kiln.subnet"], "10.213.4.0/24");
        let plain = serde_json::to_value(create_request(&NetworkSpec::new("n"))).unwrap();
        assert!(plain.get("IPAM").is_none(), "{plain}");
    }

    #[test]
    fn an_inspect_answer_becomes_details() {
        let container = "c".repeat(64);
        let answer = serde_json::json!({
            "Name": "kiln-e-t", "Id": "d".repeat(64), "Driver": "bridge", "Internal": true,
            "IPAM": { "Driver": "default",
                      "Config": [{ "Subnet": "10.213.4.0/24", "Gateway": "10.213.4.1" }] },
            "Containers": { container.clone(): { "Name": "kiln-e-t-server",
                                                 "IPv4Address": "10.213.4.2/24" } },
            "Labels": { "dev.kiln.managed": "true" }
        });
        let details = details_from(serde_json::from_value(answer).unwrap()).unwrap();
        assert_eq!(details.subnets, ["10.213.4.0/24"]);
        assert_eq!(details.gateways, ["10.213.4.1"]);
        assert!(details.internal);
        assert_eq!(
            details.containers,
            [ContainerId::parse(&container).unwrap()]
        );
        assert_eq!(details.labels["dev.kiln.managed"], "true");
    }
}
