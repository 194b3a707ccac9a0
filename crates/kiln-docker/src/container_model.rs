//! Translating containers between kiln-core's values and the Docker Engine API's models: a
//! `ContainerSpec` into a create request, inspect and list answers into details and summaries.

use std::collections::{BTreeMap, HashMap};
use std::net::Ipv4Addr;

use bollard::models::{
    ContainerCreateBody, ContainerInspectResponse, ContainerStateStatusEnum,
    ContainerSummary as DockerSummary, ContainerSummaryStateEnum, EndpointIpamConfig,
    EndpointSettings, HostConfig, Mount as DockerMount, MountType, NetworkingConfig, PortBinding,
    PortMap,
};
use kiln_core::{
    ContainerDetails, ContainerId, ContainerSpec, ContainerState, ContainerSummary, Error, ImageId,
    NetworkAttachment, Protocol, PublishedPort, Result,
};

/// The request body that creates `spec`'s container.
pub(crate) fn create_body(spec: &ContainerSpec) -> ContainerCreateBody {
    let port_key = |container: u16, protocol: Protocol| format!("{container}/{protocol}");
    let exposed: Vec<String> = spec
        .ports
        .iter()
        .map(|port| port_key(port.container, port.protocol))
        .collect();
    let bindings: PortMap = spec
        .ports
        .iter()
        .map(|port| {
            let binding = PortBinding {
                host_ip: None,
                host_port: Some(port.host.map(|host| host.to_string()).unwrap_or_default()),
            };
            (port_key(port.container, port.protocol), Some(vec![binding]))
        })
        .collect();
    let mounts: Vec<DockerMount> = spec
        .mounts
        .iter()
        .map(|mount| DockerMount {
            target: Some(mount.target.clone()),
            source: Some(mount.source.to_string_lossy().into_owned()),
            typ: Some(MountType::BIND),
            read_only: Some(mount.read_only),
            ..DockerMount::default()
        })
        .collect();
    let memory = spec
        .memory_bytes
        .map(|bytes| i64::try_from(bytes).unwrap_or(i64::MAX));
    let host_config = HostConfig {
        memory,
        // Swap limited to the memory limit: exceeding it is an OOM kill, not swapping.
        memory_swap: memory,
        mounts: (!mounts.is_empty()).then_some(mounts),
        port_bindings: (!bindings.is_empty()).then_some(bindings),
        network_mode: spec.network.as_ref().map(|a| a.network.clone()),
        ..HostConfig::default()
    };
    ContainerCreateBody {
        image: Some(spec.image.clone()),
        cmd: (!spec.command.is_empty()).then(|| spec.command.clone()),
        entrypoint: spec.entrypoint.clone(),
        env: Some(spec.env.iter().map(|(k, v)| format!("{k}={v}")).collect()),
        labels: Some(spec.labels.clone().into_iter().collect()),
        tty: Some(spec.tty),
        working_dir: spec.working_dir.clone(),
        exposed_ports: (!exposed.is_empty()).then_some(exposed),
        host_config: Some(host_config),
        networking_config: spec.network.as_ref().map(networking_config),
        ..ContainerCreateBody::default()
    }
}

/// The endpoint settings of an attachment (or of a later connect).
pub(crate) fn endpoint_settings(aliases: &[String], ipv4: Option<Ipv4Addr>) -> EndpointSettings {
    EndpointSettings {
        aliases: (!aliases.is_empty()).then(|| aliases.to_vec()),
        ipam_config: ipv4.map(|address| EndpointIpamConfig {
            ipv4_address: Some(address.to_string()),
            ..EndpointIpamConfig::default()
        }),
        ..EndpointSettings::default()
    }
}

fn networking_config(attachment: &NetworkAttachment) -> NetworkingConfig {
    let settings = endpoint_settings(&attachment.aliases, attachment.ipv4);
    NetworkingConfig {
        endpoints_config: Some(HashMap::from([(attachment.network.clone(), settings)])),
    }
}

/// A container id the daemon sent, checked.
pub(crate) fn container_id(operation: &str, id: &str) -> Result<ContainerId> {
    ContainerId::parse(id).map_err(|error| Error::engine(operation, error.to_string()))
}

/// The daemon's "never" (`0001-01-01T00:00:00Z`) as `None`.
fn time(value: Option<String>) -> Option<String> {
    value.filter(|time| !time.is_empty() && !time.starts_with("0001-"))
}

fn state_of(status: Option<ContainerStateStatusEnum>) -> ContainerState {
    match status {
        Some(ContainerStateStatusEnum::CREATED) => ContainerState::Created,
        Some(ContainerStateStatusEnum::RUNNING) => ContainerState::Running,
        Some(ContainerStateStatusEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerStateStatusEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerStateStatusEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerStateStatusEnum::EXITED) => ContainerState::Exited,
        Some(ContainerStateStatusEnum::DEAD) => ContainerState::Dead,
        _ => ContainerState::Unknown,
    }
}

fn summary_state_of(status: Option<ContainerSummaryStateEnum>) -> ContainerState {
    match status {
        Some(ContainerSummaryStateEnum::CREATED) => ContainerState::Created,
        Some(ContainerSummaryStateEnum::RUNNING) => ContainerState::Running,
        Some(ContainerSummaryStateEnum::PAUSED) => ContainerState::Paused,
        Some(ContainerSummaryStateEnum::RESTARTING) => ContainerState::Restarting,
        Some(ContainerSummaryStateEnum::REMOVING) => ContainerState::Removing,
        Some(ContainerSummaryStateEnum::EXITED) => ContainerState::Exited,
        Some(ContainerSummaryStateEnum::DEAD) => ContainerState::Dead,
        _ => ContainerState::Unknown,
    }
}

/// The published ports of `ports` (`"8080/tcp" → [{HostPort: "32768"}, …]`), one per port.
fn published(ports: Option<PortMap>) -> Vec<PublishedPort> {
    let mut published: Vec<PublishedPort> = ports
        .unwrap_or_default()
        .into_iter()
        .filter_map(|(key, bindings)| {
            let (port, protocol) = key.split_once('/')?;
            let protocol = match protocol {
                "tcp" => Protocol::Tcp,
                "udp" => Protocol::Udp,
                _ => return None,
            };
            let container = port.parse().ok()?;
            let host = bindings?
                .into_iter()
                .find_map(|binding| binding.host_port?.parse().ok())?;
            Some(PublishedPort {
                container,
                protocol,
                host,
            })
        })
        .collect();
    published.sort_by_key(|port| (port.container, port.protocol));
    published
}

/// The details of an inspected container; `raw` is the daemon's answer as bollard read it.
pub(crate) fn details_from(inspect: ContainerInspectResponse) -> Result<ContainerDetails> {
    let raw = serde_json::to_value(&inspect).unwrap_or_default();
    let id = container_id("inspect a container", &inspect.id.unwrap_or_default())?;
    let image = inspect.image.unwrap_or_default();
    let image_id = ImageId::parse(&image)
        .map_err(|error| Error::engine(format!("inspect {id}"), error.to_string()))?;
    let state = inspect.state.unwrap_or_default();
    let status = state_of(state.status);
    let ended = matches!(status, ContainerState::Exited | ContainerState::Dead);
    let settings = inspect.network_settings.unwrap_or_default();
    let networks = settings
        .networks
        .unwrap_or_default()
        .into_iter()
        .map(|(name, endpoint)| {
            let address = endpoint.ip_address.and_then(|ip| ip.parse().ok());
            (name, address)
        })
        .collect();
    let labels = inspect
        .config
        .and_then(|config| config.labels)
        .unwrap_or_default()
        .into_iter()
        .collect();
    Ok(ContainerDetails {
        id,
        name: inspect
            .name
            .unwrap_or_default()
            .trim_start_matches('/')
            .to_owned(),
        image_id,
        state: status,
        exit_code: if ended { state.exit_code } else { None },
        oom_killed: state.oom_killed.unwrap_or(false),
        started_at: time(state.started_at),
        finished_at: time(state.finished_at),
        host_ports: published(settings.ports),
        labels,
        networks,
        raw,
    })
}

/// A container of a list answer.
pub(crate) fn summary_from(summary: DockerSummary) -> Result<ContainerSummary> {
    let id = container_id("list containers", &summary.id.unwrap_or_default())?;
    let name = summary
        .names
        .unwrap_or_default()
        .into_iter()
        .next()
        .unwrap_or_default();
    Ok(ContainerSummary {
        id,
        name: name.trim_start_matches('/').to_owned(),
        image: summary.image.unwrap_or_default(),
        state: summary_state_of(summary.state),
        labels: summary
            .labels
            .unwrap_or_default()
            .into_iter()
            .collect::<BTreeMap<_, _>>(),
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::{Mount, PortSpec};

    #[test]
    fn a_spec_becomes_a_create_request() {
        let spec = ContainerSpec::new("kiln-e-t-server", "app:1")
            .command(["serve"])
            .env("A", "1")
            .label("dev.kiln.managed", "true")
            .network(
                NetworkAttachment::new("kiln-e-t")
                    .alias("server")
                    .ipv4(Ipv4Addr::new(10, 1, 0, 5)),
            )
            .mount(Mount::bind("/srv/data", "/data").read_only(true))
            .memory_bytes(16 << 20)
            .port(PortSpec::udp(4443))
            .port(PortSpec::tcp(80).on_host(8080));
        let body = create_body(&spec);
        let json = serde_json::to_value(&body).unwrap();
        assert_eq!(json["Cmd"], serde_json::json!(["serve"]));
        assert_eq!(json["Env"], serde_json::json!(["A=1"]));
        assert_eq!(json["HostConfig"]["Memory"], 16 << 20);
        assert_eq!(json["HostConfig"]["MemorySwap"], 16 << 20);
        assert_eq!(json["HostConfig"]["NetworkMode"], "kiln-e-t");
        assert_eq!(json["HostConfig"]["Mounts"][0]["Type"], "bind");
        assert_eq!(json["HostConfig"]["Mounts"][0]["ReadOnly"], true);
        let bindings = &json["HostConfig"]["PortBindings"];
        assert_eq!(bindings["4443/udp"][0]["HostPort"], "");
        assert_eq!(bindings["80/tcp"][0]["HostPort"], "8080");
        assert!(json["ExposedPorts"]["4443/udp"].is_object(), "{json}");
        let endpoint = &json["NetworkingConfig"]["EndpointsConfig"]["kiln-e-t"];
        assert_eq!(endpoint["Aliases"], serde_json::json!(["server"]));
        assert_eq!(endpoint["IPAMConfig"]["IPv4Address"], "10.1.0.5");
        assert!(json.get("Entrypoint").is_none());
    }

    #[test]
    fn an_inspect_answer_becomes_details() {
        let id = "a".repeat(64);
        let answer = serde_json::json!({
            "Id": id,
            "Name": "/kiln-e-t-server",
            "Image": format!("sha256:{}", "b".repeat(64)),
            "State": {
                "Status": "exited", "Running": false, "OOMKilled": true, "ExitCode": 137,
                "StartedAt": "2026-01-01T00:00:00.1Z", "FinishedAt": "2026-01-01T00:00:01Z"
            },
            "Config": { "Labels": { "dev.kiln.managed": "true" } },
            "NetworkSettings": {
                "Ports": { "80/tcp": [{ "HostIp": "0.0.0.0", "HostPort": "32768" },
                                      { "HostIp": "::", "HostPort": "32768" }],
                           "53/udp": null },
                "Networks": { "kiln-e-t": { "IPAddress": "10.1.0.5" }, "none": { "IPAddress": "" } }
            }
        });
        let inspect: ContainerInspectResponse = serde_json::from_value(answer).unwrap();
        let details = details_from(inspect).unwrap();
        assert_eq!(details.name, "kiln-e-t-server");
        assert_eq!(details.state, ContainerState::Exited);
        assert_eq!(details.exit_code, Some(137));
        assert!(details.oom_killed);
        assert_eq!(details.host_port(80, Protocol::Tcp), Some(32768));
        assert_eq!(details.host_ports.len(), 1);
        assert_eq!(
            details.networks["kiln-e-t"],
            Some(Ipv4Addr::new(10, 1, 0, 5))
        );
        assert_eq!(details.networks["none"], None);
        assert_eq!(details.raw["Name"], "/kiln-e-t-server");
        let created: ContainerInspectResponse = serde_json::from_value(serde_json::json!({
            "Id": id, "Image": format!("sha256:{}", "b".repeat(64)),
            "State": { "Status": "created", "ExitCode": 0, "StartedAt": "0001-01-01T00:00:00Z" }
        }))
        .unwrap();
        let created = details_from(created).unwrap();
        assert_eq!((created.exit_code, created.started_at), (None, None));
    }
}
