//! A test network on a pool subnet: under a host-wide lock, every network on the daemon (not
//! only kiln's) is scanned, the first free block taken, and a block the daemon still says
//! overlaps (a network made between the scan and the create) is marked taken and the next one
//! tried. A full pool is an error naming who holds it and whether their owners live.

use std::fs::File;
use std::path::{Path, PathBuf};

use ipnet::Ipv4Net;
use kiln_core::managed::{EXPERIMENT, OWNER, SUBNET};
use kiln_core::{
    Error, LabelFilter, NetworkDetails, NetworkId, NetworkRuntime, NetworkSpec, Result,
};

use super::subnet::{SubnetPool, overlaps};

/// How many overlaps the daemon may answer before the allocation gives up.
const ATTEMPTS: usize = 16;

/// The host-wide lock file of pool allocations under the cache directory.
pub fn pool_lock_path(cache_dir: &Path) -> PathBuf {
    cache_dir.join("locks").join("subnet-pool.lock")
}

/// Creates the network `spec` on a free block of `pool`, searching from `seed`; returns its
/// id and subnet. `owner_alive` tells, for an experiment id, whether its owner runs (`None`:
/// unknown), for the exhausted pool's error.
///
/// # Errors
///
/// [`Error::PoolExhausted`] naming the networks that hold the pool; the daemon's errors.
pub async fn create_on_pool(
    networks: &dyn NetworkRuntime,
    pool: &SubnetPool,
    lock_path: &Path,
    spec: NetworkSpec,
    seed: &str,
    owner_alive: &(dyn Fn(&str) -> Option<bool> + Sync),
) -> Result<(NetworkId, Ipv4Net)> {
    let _lock = host_lock(lock_path).await?;
    let mut refused: Vec<Ipv4Net> = Vec::new();
    for _ in 0..ATTEMPTS {
        let existing = networks.list_networks(&LabelFilter::any()).await?;
        let mut taken: Vec<Ipv4Net> = existing.iter().flat_map(subnets_of).collect();
        taken.extend(refused.iter().copied());
        let Some(block) = pool.pick(&taken, seed) else {
            return Err(exhausted(pool, &existing, owner_alive));
        };
        let attempt = spec
            .clone()
            .subnet(block.to_string())
            .label(SUBNET, block.to_string());
        match networks.create_network(attempt).await {
            Ok(id) => return Ok((id, block)),
            Err(Error::PoolOverlap { .. }) => {
                tracing::debug!(%block, "the daemon answered an overlap; trying the next block");
                refused.push(block);
            }
            Err(error) => return Err(error),
        }
    }
    Err(Error::PoolExhausted {
        pool: pool.range().to_string(),
        holders: vec![format!(
            "the daemon refused {ATTEMPTS} blocks as overlapping although no network listed \
             holds them"
        )],
    })
}

/// The IPv4 subnets a network holds.
fn subnets_of(network: &NetworkDetails) -> Vec<Ipv4Net> {
    network
        .subnets
        .iter()
        .filter_map(|subnet| subnet.parse::<Ipv4Net>().ok())
        .collect()
}

/// The error of a full pool: each network holding part of it, its experiment and whether
/// that experiment's owner lives.
fn exhausted(
    pool: &SubnetPool,
    existing: &[NetworkDetails],
    owner_alive: &(dyn Fn(&str) -> Option<bool> + Sync),
) -> Error {
    let holders = existing
        .iter()
        .filter(|network| {
            subnets_of(network)
                .iter()
                .any(|subnet| overlaps(subnet, &pool.range()))
        })
        .map(|network| describe_holder(network, owner_alive))
        .collect();
    Error::PoolExhausted {
        pool: pool.range().to_string(),
        holders,
    }
}

/// A network holding addresses: its name and subnets, its experiment and whether that
/// experiment's owner lives (or that it is not kiln's).
pub fn describe_holder(
    network: &NetworkDetails,
    owner_alive: &(dyn Fn(&str) -> Option<bool> + Sync),
) -> String {
    let subnet = network.subnets.join(",");
    match network.labels.get(EXPERIMENT) {
        Some(experiment) => {
            let owner = network.labels.get(OWNER).map_or("?", String::as_str);
            let state = match owner_alive(experiment) {
                Some(true) => "owner alive",
                Some(false) => "owner dead: `kiln experiment gc` frees it",
                None => "owner unknown (another host?)",
            };
            format!(
                "{} {subnet} (experiment {experiment}, {owner}, {state})",
                network.name
            )
        }
        None => format!("{} {subnet} (not kiln's)", network.name),
    }
}

/// The networks on the daemon whose subnets overlap `subnet`.
pub async fn holders_of(
    networks: &dyn NetworkRuntime,
    subnet: &Ipv4Net,
) -> Result<Vec<NetworkDetails>> {
    Ok(networks
        .list_networks(&LabelFilter::any())
        .await?
        .into_iter()
        .filter(|network| {
            subnets_of(network)
                .iter()
                .any(|held| overlaps(held, subnet))
        })
        .collect())
}

/// Takes the host-wide pool lock, waiting for other processes that hold it.
async fn host_lock(path: &Path) -> Result<File> {
    let path = path.to_owned();
    tokio::task::spawn_blocking(move || {
        if let Some(dir) = path.parent() {
            kiln_cache::dir::create_private_dir(dir)?;
        }
        let file = File::create(&path).map_err(|error| lock_error(&path, error))?;
        file.lock().map_err(|error| lock_error(&path, error))?;
        Ok(file)
    })
    .await
    .map_err(|error| Error::internal_from("take the subnet pool lock", error))?
}

fn lock_error(path: &Path, error: std::io::Error) -> Error {
    Error::Cache {
        operation: "lock the subnet pool",
        path: path.to_owned(),
        source: kiln_core::ErrorSource::boxed(error),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use kiln_core::MockNetworkRuntime;
    use std::collections::BTreeMap;
    use std::sync::{Arc, Mutex};

    fn network(name: &str, subnet: &str, experiment: Option<&str>) -> NetworkDetails {
        let mut labels = BTreeMap::new();
        if let Some(experiment) = experiment {
            labels.insert(EXPERIMENT.to_owned(), experiment.to_owned());
            labels.insert(OWNER.to_owned(), "host:1:2".to_owned());
        }
        NetworkDetails {
            id: NetworkId::parse(&"ab".repeat(32)).unwrap(),
            name: name.to_owned(),
            driver: "bridge".to_owned(),
            subnets: vec![subnet.to_owned()],
            gateways: Vec::new(),
            internal: false,
            labels,
            containers: Vec::new(),
        }
    }

    #[tokio::test]
    async fn an_overlap_between_the_scan_and_the_create_is_retried_elsewhere() {
        let pool = SubnetPool::new("10.213.0.0/23", 24).unwrap();
        let mut runtime = MockNetworkRuntime::new();
        runtime
            .expect_list_networks()
            .returning(|_| Ok(vec![network("bridge", "172.17.0.0/16", None)]));
        let asked: Arc<Mutex<Vec<String>>> = Arc::default();
        let seen = Arc::clone(&asked);
        runtime.expect_create_network().returning(move |spec| {
            let subnet = spec.subnet.clone().unwrap_or_default();
            let mut seen = seen.lock().unwrap();
            seen.push(subnet.clone());
            if seen.len() == 1 {
                return Err(Error::PoolOverlap {
                    subnet,
                    message: "Pool overlaps with other one on this address space".to_owned(),
                });
            }
            Ok(NetworkId::parse(&"cd".repeat(32)).unwrap())
        });
        let lock = tempfile::tempdir().unwrap();
        let (_, block) = create_on_pool(
            &runtime,
            &pool,
            &pool_lock_path(lock.path()),
            NetworkSpec::new("kiln-x-t"),
            "x/t",
            &|_| None,
        )
        .await
        .unwrap();
        let asked = asked.lock().unwrap();
        assert_eq!(asked.len(), 2, "retried once: {asked:?}");
        assert_ne!(asked[0], asked[1]);
        assert_eq!(block.to_string(), asked[1]);
    }

    #[tokio::test]
    async fn a_full_pool_names_its_holders_and_their_owners() {
        let pool = SubnetPool::new("10.213.0.0/23", 24).unwrap();
        let mut runtime = MockNetworkRuntime::new();
        runtime.expect_list_networks().returning(|_| {
            Ok(vec![
                network("kiln-dead-t", "10.213.0.0/24", Some("dead")),
                network("squatter", "10.213.1.0/24", None),
            ])
        });
        runtime.expect_create_network().never();
        let lock = tempfile::tempdir().unwrap();
        let error = create_on_pool(
            &runtime,
            &pool,
            &pool_lock_path(lock.path()),
            NetworkSpec::new("kiln-x-t"),
            "x/t",
            &|experiment| Some(experiment != "dead"),
        )
        .await
        .unwrap_err();
        let text = error.to_string();
        assert!(text.contains("10.213.0.0/23"), "{text}");
        assert!(
            text.contains("kiln-dead-t") && text.contains("owner dead"),
            "{text}"
        );
        assert!(
            text.contains("squatter") && text.contains("not kiln's"),
            "{text}"
        );
    }
}
