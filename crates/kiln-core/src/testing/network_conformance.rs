//! The network cases of the runtime suite (see
//! [`runtime_conformance`](super::runtime_conformance), whose macro runs them too).
//!
//! Subnets are /24s of 10.240.0.0/12 picked from the run's unique name; when one is taken (by a
//! concurrent run, or anything else on the daemon) the next is tried.

use std::net::Ipv4Addr;

use sha2::{Digest as _, Sha256};

use crate::container::{ContainerSpec, NetworkAttachment};
use crate::error::{Error, ErrorKind};
use crate::network::{NetworkRemoval, NetworkSpec};
use crate::resource::{LabelFilter, NetworkId};
use crate::testing::runtime_conformance::{LABEL, RuntimeTarget};
use crate::testing::script::Script;

/// How many /24s a case tries before it gives up.
const SUBNET_ATTEMPTS: u8 = 16;

/// A network of `case`, labelled, with the subnet `subnet` given to `customise`.
fn network_spec(target: &RuntimeTarget, case: &str) -> NetworkSpec {
    NetworkSpec::new(target.name(case, "net")).label(LABEL, target.unique.clone())
}

/// Creates `spec` on a free /24 (`customise` gets the subnet's first address and may set the
/// gateway); returns the network and that first address.
pub async fn create_on_free_subnet(
    target: &RuntimeTarget,
    spec: NetworkSpec,
    customise: impl Fn(NetworkSpec, Ipv4Addr) -> NetworkSpec,
) -> (NetworkId, Ipv4Addr) {
    let hash = Sha256::digest(target.unique.as_bytes());
    let second = 240 + hash[0] % 15;
    for attempt in 0..SUBNET_ATTEMPTS {
        let base = Ipv4Addr::new(10, second, hash[1].wrapping_add(attempt), 0);
        let candidate = customise(spec.clone().subnet(format!("{base}/24")), base);
        match target.networks.create_network(candidate).await {
            Ok(id) => return (id, base),
            Err(Error::PoolOverlap { .. }) => continue,
            Err(error) => panic!("create network {}: {error}", spec.name),
        }
    }
    panic!("no free /24 in 10.{second}.0.0/16 after {SUBNET_ATTEMPTS} attempts");
}

/// The address `host` of the /24 starting at `base`.
fn host(base: Ipv4Addr, host: u8) -> Ipv4Addr {
    let [a, b, c, _] = base.octets();
    Ipv4Addr::new(a, b, c, host)
}

/// A network keeps its driver, subnet, gateway, internal flag and labels, by name and by id.
pub async fn a_network_has_its_subnet_gateway_and_labels(target: &RuntimeTarget) {
    let spec = network_spec(target, "details")
        .internal(true)
        .label("role", "conf");
    let (id, base) =
        create_on_free_subnet(target, spec, |spec, base| spec.gateway(host(base, 1))).await;
    let by_name = target
        .networks
        .inspect_network(&target.name("details", "net"))
        .await;
    let details = by_name.expect("inspect").expect("found by name");
    assert_eq!(details.id, id);
    assert_eq!(details.driver, "bridge");
    assert_eq!(details.subnets, [format!("{base}/24")]);
    assert_eq!(details.gateways, [host(base, 1).to_string()]);
    assert!(details.internal);
    assert_eq!(details.labels.get("role").map(String::as_str), Some("conf"));
    assert!(details.containers.is_empty());
    let by_id = target
        .networks
        .inspect_network(id.as_str())
        .await
        .expect("inspect");
    assert_eq!(by_id.as_ref(), Some(&details));
    let listed = target
        .networks
        .list_networks(&target.filter())
        .await
        .expect("list");
    assert_eq!(listed, [details]);
    target.clean_up().await;
}

/// The empty filter lists every network, those of others included; a network without a
/// subnet gets one from the daemon.
pub async fn listing_networks_shows_foreign_ones(target: &RuntimeTarget) {
    let spec = network_spec(target, "foreign");
    let id = target.networks.create_network(spec).await.expect("create");
    let all = target
        .networks
        .list_networks(&LabelFilter::any())
        .await
        .expect("list");
    assert!(all.iter().any(|n| n.name == "bridge"), "{all:?}");
    let ours = all.iter().find(|n| n.id == id).expect("ours is listed");
    assert!(
        !ours.subnets.is_empty(),
        "the daemon picked a subnet: {ours:?}"
    );
    let labelled = target
        .networks
        .list_networks(&target.filter())
        .await
        .expect("list");
    assert_eq!(labelled.len(), 1);
    target.clean_up().await;
}

/// A network name already taken is `NetworkNameConflict`, and no second network is left.
pub async fn a_taken_network_name_is_a_conflict(target: &RuntimeTarget) {
    let spec = network_spec(target, "taken");
    target
        .networks
        .create_network(spec.clone())
        .await
        .expect("create");
    let error = target
        .networks
        .create_network(spec.clone())
        .await
        .expect_err("taken");
    assert!(
        matches!(&error, Error::NetworkNameConflict { name } if *name == spec.name),
        "{error:?}"
    );
    let listed = target
        .networks
        .list_networks(&target.filter())
        .await
        .expect("list");
    assert_eq!(listed.len(), 1, "{listed:?}");
    target.clean_up().await;
}

/// A container connected with an alias and a fixed address is reached by that alias from
/// another container of the network; once disconnected it is no longer attached.
pub async fn aliases_resolve_between_containers(target: &RuntimeTarget) {
    let spec = network_spec(target, "alias").internal(true);
    let (network, base) = create_on_free_subnet(target, spec, |spec, _| spec).await;
    let server_script = Script::new().on_term("", 0).run_until_stopped();
    let server = target
        .run(target.spec("alias", "server", &server_script))
        .await;
    let address = host(base, 10);
    target
        .networks
        .connect(&network, &server, vec!["srv-alias".into()], Some(address))
        .await
        .expect("connect");
    let details = target.containers.inspect(&server).await.expect("inspect");
    let networks = details.expect("the server exists").networks;
    assert_eq!(
        networks.get(&target.name("alias", "net")),
        Some(&Some(address))
    );
    let attached = target
        .networks
        .inspect_network(network.as_str())
        .await
        .expect("inspect");
    assert_eq!(
        attached.expect("the network exists").containers,
        std::slice::from_ref(&server)
    );
    let client = target.spec("alias", "client", &Script::new().resolve("srv-alias"));
    let client = client.network(NetworkAttachment::new(network.as_str()));
    let client = target.run(client).await;
    let status = target.containers.wait(&client).await.expect("wait");
    assert_eq!(status.code, 0, "the client resolved and reached srv-alias");
    target
        .networks
        .disconnect(&network, &server, false)
        .await
        .expect("disconnect");
    let detached = target
        .networks
        .inspect_network(network.as_str())
        .await
        .expect("inspect");
    assert!(detached.expect("the network exists").containers.is_empty());
    let details = target.containers.inspect(&server).await.expect("inspect");
    let networks = details.expect("the server exists").networks;
    assert!(
        !networks.contains_key(&target.name("alias", "net")),
        "{networks:?}"
    );
    target.clean_up().await;
}

/// A network with a running container is `InUse`; once it is gone `Removed`, then `NotFound`.
pub async fn a_network_in_use_is_not_removed(target: &RuntimeTarget) {
    let network = target
        .networks
        .create_network(network_spec(target, "inuse"))
        .await;
    let network = network.expect("create");
    let script = Script::new().on_term("", 0).run_until_stopped();
    let spec = target.spec("inuse", "c", &script);
    let container = target
        .run(spec.network(NetworkAttachment::new(target.name("inuse", "net"))))
        .await;
    let removal = target
        .networks
        .remove_network(&network)
        .await
        .expect("remove");
    assert_eq!(removal, NetworkRemoval::InUse);
    target
        .containers
        .remove(&container, true)
        .await
        .expect("remove container");
    let removal = target
        .networks
        .remove_network(&network)
        .await
        .expect("remove");
    assert_eq!(removal, NetworkRemoval::Removed);
    let again = target
        .networks
        .remove_network(&network)
        .await
        .expect("again");
    assert_eq!(again, NetworkRemoval::NotFound);
    target.clean_up().await;
}

/// A subnet overlapping one in use is `PoolOverlap`, naming the subnet asked for.
pub async fn an_overlapping_subnet_is_a_pool_overlap(target: &RuntimeTarget) {
    let spec = network_spec(target, "overlap");
    let (_, base) = create_on_free_subnet(target, spec, |spec, _| spec).await;
    let [a, b, _, _] = base.octets();
    for subnet in [format!("{base}/24"), format!("{a}.{b}.0.0/16")] {
        let second = NetworkSpec::new(target.name("overlap", "second"))
            .label(LABEL, target.unique.clone())
            .subnet(subnet.clone());
        let error = target
            .networks
            .create_network(second)
            .await
            .expect_err("overlaps");
        assert!(
            matches!(&error, Error::PoolOverlap { subnet: asked, .. } if *asked == subnet),
            "{error:?}"
        );
    }
    target.clean_up().await;
}

/// An absent network is `None` to inspect, `NotFound` to remove, and an error to join.
pub async fn an_absent_network_is_none(target: &RuntimeTarget) {
    let name = target.name("absent", "net");
    assert_eq!(
        target
            .networks
            .inspect_network(&name)
            .await
            .expect("inspect"),
        None
    );
    let absent = NetworkId::parse(&hex::encode(Sha256::digest(name.as_bytes())))
        .unwrap_or_else(|error| panic!("{error}"));
    let removal = target
        .networks
        .remove_network(&absent)
        .await
        .expect("remove");
    assert_eq!(removal, NetworkRemoval::NotFound);
    let spec = target.spec("absent", "c", &Script::new());
    let error = target
        .containers
        .create(spec.network(NetworkAttachment::new(name)))
        .await
        .expect_err("the network is absent");
    assert!(matches!(error, Error::NetworkNotFound { .. }), "{error:?}");
    let container = target.spec("absent", "d", &Script::new());
    let container = target.containers.create(container).await.expect("create");
    let error = target
        .networks
        .connect(&absent, &container, Vec::new(), None)
        .await
        .expect_err("the network is absent");
    assert!(matches!(error, Error::NetworkNotFound { .. }), "{error:?}");
    target.clean_up().await;
}

/// What the daemon refuses as invalid — a container name outside Docker's grammar, a subnet
/// that is no CIDR, a gateway outside the subnet — is `InvalidInput`.
pub async fn invalid_names_and_subnets_are_invalid_input(target: &RuntimeTarget) {
    let spec = target.spec("invalid", "c", &Script::new());
    let renamed = ContainerSpec {
        name: format!("{} bad", spec.name),
        ..spec
    };
    let error = target
        .containers
        .create(renamed)
        .await
        .expect_err("a bad name");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    let bad_subnet = network_spec(target, "invalid").subnet("10.0.0.0/40");
    let error = target
        .networks
        .create_network(bad_subnet)
        .await
        .expect_err("no CIDR");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    let outside = network_spec(target, "invalid")
        .subnet("10.77.0.0/24")
        .gateway(Ipv4Addr::new(10, 78, 0, 1));
    let error = target
        .networks
        .create_network(outside)
        .await
        .expect_err("outside");
    assert_eq!(error.kind(), ErrorKind::InvalidInput, "{error}");
    target.clean_up().await;
}
